/*
 * fuzz_lines.c: libFuzzer target for ev_lines (newline-delimited input).
 *
 * The first byte picks max, the second the size of the chunks written to
 * a pipe; the rest is the input.  It is read through a memfd (whole reads)
 * and through a non-blocking pipe fed chunk by chunk, and both must give
 * exactly what a simple model says: each line without its newline (the
 * last one even without one), a line longer than max reported as
 * EV_ERR_LIMIT under its own number, nothing lost or invented after it.
 *
 *   sh mk/fuzz.sh test/fuzz/fuzz_lines.c
 */
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "../unit/feed.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t *g_data;
static size_t g_size;

static void __attribute__((noreturn))
fail(const char *what)
{
	fprintf(stderr, "fuzz_lines: %s on %zu bytes: ", what, g_size);
	fwrite(g_data, 1, g_size, stderr);
	fputc('\n', stderr);
	abort();
}

/* What ev_lines must give: "L<line>\0" or "E<lineno>\0" records. */
static void
model(const uint8_t *p, size_t n, size_t max, struct ev_buf *t)
{
	size_t start = 0, i, lineno = 0;

	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != '\n')
			continue;
		if (i == n && start == n)
			break;
		lineno++;
		if (i - start > max)
			ev_buf_printf(t, "E%zu", lineno);
		else {
			ev_buf_putc(t, 'L');
			ev_buf_append(t, p + start, i - start);
		}
		ev_buf_putc(t, '\0');
		start = i + 1;
	}
}

/* Take every line ev_lines has now. */
static void
drain(struct ev_lines *l, struct ev_buf *t)
{
	struct ev_err err;
	const char *line;
	size_t len;
	int r;

	while ((r = ev_lines_next(l, &line, &len, &err)) != 0) {
		if (r == 1) {
			if (len > l->max)
				fail("a line longer than max");
			ev_buf_putc(t, 'L');
			ev_buf_append(t, line, len);
		} else {
			if (err.kind != EV_ERR_LIMIT)
				fail("error kind");
			ev_buf_printf(t, "E%llu", (unsigned long long)l->lineno);
		}
		ev_buf_putc(t, '\0');
	}
}

static void
via_memfd(const uint8_t *p, size_t n, size_t max, struct ev_buf *t)
{
	struct ev_lines l;
	struct ev_err err;
	ssize_t r;
	int fd;

	if ((fd = memfd_create("fuzz_lines", MFD_CLOEXEC)) == -1)
		abort();
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		abort();
	lseek(fd, 0, SEEK_SET);
	ev_lines_init(&l, fd, max);
	do {
		if ((r = ev_lines_fill(&l, &err)) == -1)
			abort();
		drain(&l, t);
	} while (r > 0);
	drain(&l, t);
	ev_lines_free(&l);
	close(fd);
}

static void
via_pipe(const uint8_t *p, size_t n, size_t max, size_t chunk,
    struct ev_buf *t)
{
	struct ev_lines l;
	struct ev_err err;
	size_t pos = 0;
	ssize_t r;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1)
		abort();
	ev_lines_init(&l, fds[0], max);
	for (;;) {
		feed_pipe(fds, (const char *)p, n, &pos, chunk);
		r = ev_lines_fill(&l, &err);
		if (r == -1 && errno != EAGAIN)
			abort();
		drain(&l, t);
		if (r == 0)
			break;
	}
	if (!l.eof)
		fail("no eof");
	ev_lines_free(&l);
	close(fds[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ev_buf want = { 0 }, got = { 0 };
	size_t max, chunk;

	if (size < 2 || size > 60000)
		return 0;
	g_data = data;
	g_size = size;
	max = data[0] < 250 ? data[0] % 64 : (size_t)65536 * (data[0] - 249);
	chunk = data[1] % 32 + 1;
	data += 2;
	size -= 2;

	model(data, size, max, &want);
	via_memfd(data, size, max, &got);
	if (want.len != got.len ||
	    (want.len > 0 && memcmp(want.data, got.data, want.len) != 0))
		fail("memfd lines differ from the model");
	ev_buf_reset(&got);
	via_pipe(data, size, max, chunk, &got);
	if (want.len != got.len ||
	    (want.len > 0 && memcmp(want.data, got.data, want.len) != 0))
		fail("pipe lines differ from the model");
	ev_buf_free(&want);
	ev_buf_free(&got);
	return 0;
}
