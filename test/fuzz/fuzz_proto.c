/*
 * fuzz_proto.c: libFuzzer target for the incremental frame decoder.
 *
 * The first byte picks maxline and maxbody, the next two a split point;
 * the rest is a byte stream.  It is decoded whole, in two chunks split at
 * that point (through ev_decoder_feed, then through space/commit), and,
 * when short, a byte at a time.  Every run must give the same frames and
 * end the same way (more needed, or a protocol error after which the
 * decoder keeps failing).  Each frame must hold together: a verb of no
 * blanks, at most EV_ARGS_MAX arguments inside the line copy, a body inside
 * the input buffer before its newline and no larger than maxbody, no body
 * on an oversize frame.
 *
 *   sh mk/fuzz.sh test/fuzz/fuzz_proto.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"
#include "../unit/feed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const size_t maxlines[] = { 1, 8, 32, EV_LINE_MAX, 5000 };
static const size_t maxbodies[] = { 0, 4, 64, 1024 };

static const uint8_t *g_data;
static size_t g_size;

static void __attribute__((noreturn))
fail(const char *what)
{
	fprintf(stderr, "fuzz_proto: %s on %zu bytes: ", what, g_size);
	fwrite(g_data, 1, g_size, stderr);
	fputc('\n', stderr);
	abort();
}

static void
check_frame(const struct ev_decoder *d, const struct ev_frame *f)
{
	int i;

	if (f->verb == NULL || *f->verb == '\0' ||
	    strpbrk(f->verb, " \t") != NULL)
		fail("verb");
	if (f->verb < d->line || f->verb > d->line + EV_LINE_MAX)
		fail("verb outside the line");
	if (f->argc < 0 || f->argc > EV_ARGS_MAX)
		fail("argc");
	for (i = 0; i < f->argc; i++)
		if (f->argv[i] < d->line ||
		    f->argv[i] + strlen(f->argv[i]) > d->line + EV_LINE_MAX)
			fail("argument outside the line");
	if (f->oversize) {
		if (f->body != NULL || f->bodylen <= d->maxbody ||
		    !ev_proto_has_body(f->verb))
			fail("oversize frame");
	} else if (f->body != NULL) {
		if (!ev_proto_has_body(f->verb) || f->bodylen > d->maxbody ||
		    f->body < d->in.data ||
		    f->body + f->bodylen >= d->in.data + d->in.len ||
		    (f->body[f->bodylen] != '\n' &&
		    f->body[f->bodylen] != '\r'))
			fail("body out of bounds");
	} else if (ev_proto_has_body(f->verb) || f->bodylen != 0)
		fail("body frame without a body");
}

static void
rec(struct ev_buf *t, const struct ev_frame *f)
{
	int i;

	ev_buf_printf(t, "%s", f->verb);
	for (i = 0; i < f->argc; i++)
		ev_buf_printf(t, "\x1f%s", f->argv[i]);
	if (f->oversize)
		ev_buf_printf(t, "\x1eoversize %zu", f->bodylen);
	else if (f->body != NULL) {
		ev_buf_printf(t, "\x1e%zu:", f->bodylen);
		ev_buf_append(t, f->body, f->bodylen);
	}
	ev_buf_putc(t, '\0');
}

/* Decode p[0..n) in chunks: first, then step bytes at a time. */
static int
decode(const uint8_t *p, size_t n, size_t first, size_t step, size_t maxline,
    size_t maxbody, bool space, struct ev_buf *t)
{
	struct ev_decoder d;
	struct ev_frame f;
	struct ev_err err;
	size_t pos = 0, k;
	int r = 0;
	bool started = false;

	ev_decoder_init(&d, maxline, maxbody);
	while (pos < n || !started) {
		k = started ? step : first;
		started = true;
		if (k > n - pos)
			k = n - pos;
		feed_decoder(&d, p + pos, k, space);
		pos += k;
		while ((r = ev_decoder_next(&d, &f, &err)) == 1) {
			check_frame(&d, &f);
			rec(t, &f);
		}
		if (r == -1) {
			if (err.kind != EV_ERR_PROTO || !d.failed)
				fail("error kind");
			feed_decoder(&d, (const uint8_t *)"PING\n", 5, space);
			if (ev_decoder_next(&d, &f, &err) != -1)
				fail("a frame after a failure");
			break;
		}
	}
	ev_decoder_free(&d);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ev_buf a = { 0 }, b = { 0 };
	size_t maxline, maxbody, split;
	int ra, rb;

	if (size < 3)
		return 0;
	g_data = data;
	g_size = size;
	maxline = maxlines[(data[0] & 0x0f) % 5];
	maxbody = maxbodies[(data[0] >> 4) % 4];
	split = ((size_t)data[1] << 8 | data[2]) % (size - 3 + 1);
	data += 3;
	size -= 3;

	ra = decode(data, size, size, size, maxline, maxbody, false, &a);
	rb = decode(data, size, split, size, maxline, maxbody, false, &b);
	if (ra != rb || a.len != b.len ||
	    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
		fail("split (feed) gives other frames");
	ev_buf_reset(&b);
	rb = decode(data, size, split, size, maxline, maxbody, true, &b);
	if (ra != rb || a.len != b.len ||
	    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
		fail("split (space) gives other frames");
	if (size <= 512) {
		ev_buf_reset(&b);
		rb = decode(data, size, 1, 1, maxline, maxbody, split & 1, &b);
		if (ra != rb || a.len != b.len ||
		    (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
			fail("byte at a time gives other frames");
	}
	ev_buf_free(&a);
	ev_buf_free(&b);
	return 0;
}
