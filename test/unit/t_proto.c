/*
 * t_proto.c: the wire protocol's incremental decoder and its encoders.
 *
 * A stream of many frames is decoded whole, then again split into two
 * chunks at every byte position, then a byte at a time, through both
 * ev_decoder_feed and ev_decoder_space/commit; every run must give the same
 * frames, which are also compared with the list written out below.  Then
 * each protocol error on its own, the oversize-body path, and the encoders
 * round-tripped through the decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"
#include "feed.h"
#include "tap.h"

#define MAXLINE		EV_LINE_MAX
#define MAXBODY		64

/*
 * One frame as text: "VERB [arg]... {LEN:body}" or "<oversize LEN>".
 * Records end in '\n'; bodies may hold '\n' too, which is fine because the
 * records are only ever compared whole.
 */
static void
rec(struct ev_buf *t, const struct ev_decoder *d, const struct ev_frame *f,
    int *bad)
{
	int i;

	ev_buf_printf(t, "%s", f->verb);
	for (i = 0; i < f->argc; i++)
		ev_buf_printf(t, " [%s]", f->argv[i]);
	if (f->oversize) {
		ev_buf_printf(t, " <oversize %zu>", f->bodylen);
		if (f->body != NULL)
			(*bad)++;
	} else if (f->body != NULL) {
		ev_buf_printf(t, " {%zu:", f->bodylen);
		ev_buf_append(t, f->body, f->bodylen);
		ev_buf_putc(t, '}');
		/* The body lies in the input buffer, before a newline. */
		if (f->body < d->in.data ||
		    f->body + f->bodylen >= d->in.data + d->in.len ||
		    (f->body[f->bodylen] != '\n' &&
		    f->body[f->bodylen] != '\r') || f->bodylen > d->maxbody)
			(*bad)++;
	} else if (ev_proto_has_body(f->verb))
		(*bad)++;
	ev_buf_putc(t, '\n');
}

/*
 * Decode data given as a first chunk of first bytes, then chunks of step
 * bytes; append each frame to t, and "FAIL msg" on a protocol error, after
 * which the decoder must keep failing.  Returns the last answer (0 or -1).
 * *bad counts broken invariants.
 */
static int
decode(const char *data, size_t len, size_t first, size_t step,
    size_t maxline, size_t maxbody, bool space, struct ev_buf *t, int *bad)
{
	struct ev_decoder d;
	struct ev_frame f;
	struct ev_err err;
	size_t pos = 0, n;
	int r = 0;
	bool started = false;

	ev_decoder_init(&d, maxline, maxbody);
	while (pos < len) {
		n = started ? step : first;
		started = true;
		if (n > len - pos)
			n = len - pos;
		feed_decoder(&d, data + pos, n, space);
		pos += n;
		while ((r = ev_decoder_next(&d, &f, &err)) == 1)
			rec(t, &d, &f, bad);
		if (r == -1) {
			ev_buf_printf(t, "FAIL %s\n", err.msg);
			if (err.kind != EV_ERR_PROTO || !d.failed)
				(*bad)++;
			feed_decoder(&d, "PING\n", 5, space);
			if (ev_decoder_next(&d, &f, &err) != -1 ||
			    err.kind != EV_ERR_PROTO)
				(*bad)++;
			break;
		}
	}
	ev_decoder_free(&d);
	return r;
}

/* The frames of data decoded whole, as a string the caller frees. */
static char *
frames(const char *data, size_t len, size_t maxline, size_t maxbody, int *r)
{
	struct ev_buf t = { 0 };
	int bad = 0;

	*r = decode(data, len, len, len, maxline, maxbody, false, &t, &bad);
	if (bad)
		ev_buf_printf(&t, "BROKEN INVARIANT\n");
	ev_buf_putc(&t, '\0');
	return t.data;
}

#define S(lit)	lit, sizeof(lit) - 1

/* Append "HEAD LEN" EOL BODY EOL. */
static void
body(struct ev_buf *b, const char *head, const char *text, const char *eol)
{
	ev_buf_printf(b, "%s %zu%s%s%s", head, strlen(text), eol, text, eol);
}

static void
test_stream(void)
{
	static const char *const want[] = {
		"HELLO [1] [evfire]",
		"PUB {22:{\"name\":\"a.b\",\"x\":[1]}}",
		"PUB {32:{\"name\":\"a\"}\nPUB 3\nabc\nEVENT 1\n\n}",
		"EVENT [x] {36:{\"seq\":1,\"name\":\"a\",\"t\":\"PUB 2\\n{}\"}}",
		"ERR [data] [name 'a.*': contains '*'   and\tmore  words]",
		"PING",
		"SUB {2:{}}",
		"PUB {0:}",
		"PUB <oversize 70>",
		"PONG",
		"EVENT <oversize 65>",
		"ACK [42]",
		"PING",
		"HELLO [1] [0123456789abcdef] [42] [65536]",
		"ERR [proto]",
		"ACK [7]",
		"PUB {4:a\r\nb}",
		"OK",
		"PUB {64:" "0123456789012345678901234567890123456789"
		    "012345678901234567890123}",
		"QUIT",
	};
	struct ev_buf in = { 0 }, exp = { 0 }, t = { 0 };
	char *whole;
	size_t i, len, nsplit = 0, nsame = 0;
	int r, bad = 0;
	bool space;

	ev_buf_append(&in, S("HELLO 1 evfire\n"));
	ev_buf_append(&in, S("\n"));
	body(&in, "PUB", "{\"name\":\"a.b\",\"x\":[1]}", "\n");
	/* A body with newlines and frame text in it, CRLF around it. */
	body(&in, "PUB", "{\"name\":\"a\"}\nPUB 3\nabc\nEVENT 1\n\n", "\r\n");
	body(&in, "EVENT x", "{\"seq\":1,\"name\":\"a\",\"t\":\"PUB 2\\n{}\"}",
	    "\n");
	/* ERR: a code, then free text kept whole, inner blanks and all. */
	ev_buf_append(&in, S("ERR  data name 'a.*': contains '*'   and\tmore"
	    "  words\r\n"));
	ev_buf_append(&in, S("\r\n"));
	ev_buf_append(&in, S("PING\r\n"));
	ev_buf_append(&in, S(" \t  \n"));
	body(&in, "SUB", "{}", "\n");
	body(&in, "PUB", "", "\n");
	/* Oversize bodies, skipped unread whatever they hold. */
	body(&in, "PUB", "PING\nPUB 2\n{}\n"
	    "01234567890123456789012345678901234567890123456789012345", "\n");
	ev_buf_append(&in, S("PONG\n"));
	body(&in, "EVENT", "0123456789012345678901234567890123456789"
	    "0123456789012345678901234", "\r\n");
	ev_buf_append(&in, S("ACK 42\n"));
	ev_buf_append(&in, S("  PING  \n"));
	ev_buf_append(&in, S("HELLO 1 0123456789abcdef 42 65536\n"));
	ev_buf_append(&in, S("ERR proto\n"));
	ev_buf_append(&in, S("ACK\t7\n"));
	body(&in, "PUB", "a\r\nb", "\r\n");
	ev_buf_append(&in, S("OK\n\n\n"));
	body(&in, "PUB", "0123456789012345678901234567890123456789"
	    "012345678901234567890123", "\n");
	ev_buf_append(&in, S("QUIT\n"));
	len = in.len;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ev_buf_printf(&exp, "%s\n", want[i]);
	whole = frames(in.data, len, MAXLINE, MAXBODY, &r);
	is_int(r, 0, "stream: decoded whole without an error");
	is_str(whole, exp.data, "stream: the %zu frames expected",
	    sizeof(want) / sizeof(want[0]));

	for (space = false; ; space = true) {
		nsplit = nsame = 0;
		for (i = 0; i <= len; i++) {
			ev_buf_reset(&t);
			r = decode(in.data, len, i, len, MAXLINE, MAXBODY,
			    space, &t, &bad);
			nsplit++;
			if (r == 0 && strcmp(t.data != NULL ? t.data : "",
			    whole) == 0)
				nsame++;
			else if (nsplit - nsame == 1)
				printf("# split at %zu (%s) gave:\n%s", i,
				    space ? "space" : "feed", t.data);
		}
		is_int(nsame, nsplit, "stream: the same frames when split in "
		    "two at each of %zu positions (%s)", nsplit,
		    space ? "space/commit" : "feed");
		ev_buf_reset(&t);
		r = decode(in.data, len, 1, 1, MAXLINE, MAXBODY, space, &t,
		    &bad);
		ok(r == 0 && strcmp(t.data, whole) == 0,
		    "stream: the same frames a byte at a time (%s)",
		    space ? "space/commit" : "feed");
		ev_buf_reset(&t);
		r = decode(in.data, len, 7, 13, MAXLINE, MAXBODY, space, &t,
		    &bad);
		ok(r == 0 && strcmp(t.data, whole) == 0,
		    "stream: the same frames in chunks of 13 (%s)",
		    space ? "space/commit" : "feed");
		if (space)
			break;
	}
	is_int(bad, 0, "stream: bodies lie in the input buffer before their "
	    "newline, oversize frames have no body");
	free(whole);
	ev_buf_free(&in);
	ev_buf_free(&exp);
	ev_buf_free(&t);
}

/* Decode text whole and compare the transcript and the answer. */
static void
expect(const char *in, size_t maxline, size_t maxbody, const char *want,
    int wantr, const char *what)
{
	char *got;
	int r;

	got = frames(in, strlen(in), maxline, maxbody, &r);
	is_str(got, want, "%s", what);
	is_int(r, wantr, "%s: answer %d", what, wantr);
	free(got);
}

static void
test_line_limit(void)
{
	struct ev_decoder d;
	struct ev_frame f;
	struct ev_err err;
	char line[EV_LINE_MAX + 8];

	/* maxline 16: "ACK " and 12 digits is exactly 16 bytes. */
	expect("ACK 123456789012\n", 16, 64, "ACK [123456789012]\n", 0,
	    "line of exactly maxline bytes");
	expect("ACK 1234567890123\n", 16, 64, "FAIL line too long\n", -1,
	    "line of maxline+1 bytes");
	expect("PING\nACK 1234567890123\nPING\n", 16, 64,
	    "PING\nFAIL line too long\n", -1,
	    "line of maxline+1 bytes after a good one");
	/* With CRLF, the '\r' does not count against maxline. */
	expect("ACK 12345678901\r\n", 16, 64, "ACK [12345678901]\n", 0,
	    "CRLF line under maxline");
	expect("ACK 123456789012\r\n", 16, 64, "ACK [123456789012]\n", 0,
	    "CRLF line of maxline bytes");
	expect("ACK 1234567890123\r\n", 16, 64, "FAIL line too long\n", -1,
	    "CRLF line of maxline + 1 bytes is too long");

	/* The failure comes as soon as maxline+1 bytes lack a newline. */
	ev_decoder_init(&d, 16, 64);
	ev_decoder_feed(&d, "ACK 123456789012", 16);
	is_int(ev_decoder_next(&d, &f, &err), 0,
	    "maxline bytes without a newline: more needed");
	ev_decoder_feed(&d, "3", 1);
	is_int(ev_decoder_next(&d, &f, &err), -1,
	    "maxline+1 bytes without a newline: too long at once");
	is_int(err.kind, EV_ERR_PROTO, "line too long: EV_ERR_PROTO");
	ok(d.failed, "line too long: the decoder is failed");
	ev_decoder_free(&d);

	/* maxline above EV_LINE_MAX is clamped to it. */
	ev_decoder_init(&d, 5000, 64);
	is_int(d.maxline, EV_LINE_MAX, "maxline clamped to EV_LINE_MAX");
	memset(line, 'x', sizeof(line));
	memcpy(line, "ACK ", 4);
	line[EV_LINE_MAX] = '\n';
	ev_decoder_feed(&d, line, EV_LINE_MAX + 1);
	is_int(ev_decoder_next(&d, &f, &err), 1,
	    "a line of EV_LINE_MAX bytes decodes");
	is_int(strlen(f.argv[0]), EV_LINE_MAX - 4, "its word is whole");
	line[EV_LINE_MAX] = 'x';
	line[EV_LINE_MAX + 1] = '\n';
	ev_decoder_feed(&d, line, EV_LINE_MAX + 2);
	is_int(ev_decoder_next(&d, &f, &err), -1,
	    "a line of EV_LINE_MAX+1 bytes fails");
	ev_decoder_free(&d);
}

static void	test_lend_line(void);

static void
test_words(void)
{
	expect("A 1 2 3 4 5 6 7 8\n", MAXLINE, 64,
	    "A [1] [2] [3] [4] [5] [6] [7] [8]\n", 0,
	    "EV_ARGS_MAX words after the verb");
	expect("A 1 2 3 4 5 6 7 8 9\n", MAXLINE, 64,
	    "FAIL too many words\n", -1, "EV_ARGS_MAX+1 words fail");
	expect("A  1\t\t2   3 4 5 6 7 8  \n", MAXLINE, 64,
	    "A [1] [2] [3] [4] [5] [6] [7] [8]\n", 0,
	    "runs of blanks separate words and count once");
	expect("PUB 1 2 3 4 5 6 7 2\n{}\n", MAXLINE, 64,
	    "PUB [1] [2] [3] [4] [5] [6] [7] {2:{}}\n", 0,
	    "PUB: the byte count is the last word and not an argument");
	expect("ERR limit a b c d e f g h i j k l m n\n", MAXLINE, 64,
	    "ERR [limit] [a b c d e f g h i j k l m n]\n", 0,
	    "ERR: free text of many words is one argument");
	expect("ERR\n", MAXLINE, 64, "ERR\n", 0, "ERR alone");
	expect("ERR   state  \t  PUB before HELLO\n", MAXLINE, 64,
	    "ERR [state] [PUB before HELLO]\n", 0,
	    "ERR: blanks before the free text are dropped");
}

/*
 * Two decoders lent one line buffer, their frames taken in turn: each
 * frame's words are right while it is in hand; freeing leaves the
 * buffer alone (it is the lender's).
 */
static void
test_lend_line(void)
{
	struct ev_decoder a, b;
	struct ev_frame f;
	struct ev_err err;
	static char line[EV_LINE_MAX + 1];
	int good = 0;

	ev_decoder_init(&a, MAXLINE, 64);
	ev_decoder_init(&b, MAXLINE, 64);
	ev_decoder_lend_line(&a, line);
	ev_decoder_lend_line(&b, line);
	ev_decoder_feed(&a, "SUB 2\n{}\nPING\n", 14);
	ev_decoder_feed(&b, "HELLO 2 x\nQUIT\n", 15);
	good += ev_decoder_next(&a, &f, &err) == 1 &&
	    strcmp(f.verb, "SUB") == 0 && f.bodylen == 2;
	good += ev_decoder_next(&b, &f, &err) == 1 &&
	    strcmp(f.verb, "HELLO") == 0 && f.argc == 2 &&
	    strcmp(f.argv[1], "x") == 0;
	good += ev_decoder_next(&a, &f, &err) == 1 &&
	    strcmp(f.verb, "PING") == 0 && f.argc == 0;
	good += ev_decoder_next(&b, &f, &err) == 1 &&
	    strcmp(f.verb, "QUIT") == 0;
	is_int(good, 4, "two decoders lent one line buffer: frames in turn");
	ev_decoder_free(&a);
	ev_decoder_free(&b);
	ok(a.line == NULL && b.line == NULL && !a.lent,
	    "  freed: the lent buffer left to its owner");
}

static void
test_count(void)
{
	static const char *const bad[] = {
		"PUB\n{}\n", "PUB x\n", "PUB -1\n", "PUB +2\n", "PUB 1.5\n",
		"PUB 0x10\n", "PUB 2a\n", "PUB 99999999999999999999999\n",
		"EVENT\n", "SUB abc\n", "SUB\n",
	};
	char what[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(what, sizeof(what), "bad byte count: %.*s",
		    (int)strcspn(bad[i], "\n"), bad[i]);
		expect(bad[i], MAXLINE, 64, "FAIL byte count expected\n", -1,
		    what);
	}
	expect("PUB 02\n{}\n", MAXLINE, 64, "PUB {2:{}}\n", 0,
	    "a byte count with a leading zero");
	expect("PING\nPUB\nPING\n", MAXLINE, 64,
	    "PING\nFAIL byte count expected\n", -1,
	    "frames before a bad count come out, none after");
}

static void
test_body_end(void)
{
	expect("PUB 2\n{}X", MAXLINE, 64,
	    "FAIL body not followed by a newline\n", -1,
	    "body followed by another byte");
	expect("PUB 2\n{}\rX", MAXLINE, 64,
	    "FAIL body not followed by a newline\n", -1,
	    "body followed by \\r and another byte");
	expect("PUB 2\n{}}\nPING\n", MAXLINE, 64,
	    "FAIL body not followed by a newline\n", -1,
	    "body longer than its count");
	expect("PUB 2\n{}", MAXLINE, 64, "", 0,
	    "body without its newline yet: more needed");
	expect("PUB 2\n{}\r", MAXLINE, 64, "", 0,
	    "body and \\r: more needed");
	expect("PUB 2\n{}\r\n", MAXLINE, 64, "PUB {2:{}}\n", 0,
	    "body followed by \\r\\n");
}

static void
test_oversize(void)
{
	struct ev_decoder d;
	struct ev_frame f;
	struct ev_err err;
	int r;

	expect("PUB 8\n12345678\n", MAXLINE, 8, "PUB {8:12345678}\n", 0,
	    "body of exactly maxbody");
	expect("PUB 9\n123456789\nPING\n", MAXLINE, 8,
	    "PUB <oversize 9>\nPING\n", 0,
	    "oversize body arriving at once, then a frame");
	expect("PUB 9\n12\n\nPUB 1\nPING\n", MAXLINE, 8,
	    "PUB <oversize 9>\nPING\n", 0,
	    "oversize body holding frames is not decoded");
	expect("PUB x 9\n123456789\n", MAXLINE, 8, "PUB [x] <oversize 9>\n", 0,
	    "oversize frame keeps its other words");
	expect("PUB 18446744073709551615\nPING\n", MAXLINE, 8,
	    "FAIL byte count expected\n", -1,
	    "a count over SIZE_MAX/4 is a bad count");

	/* In pieces: the frame comes at once, its body is dropped. */
	ev_decoder_init(&d, MAXLINE, 8);
	ev_decoder_feed(&d, "PUB 20\n0123", 11);
	r = ev_decoder_next(&d, &f, &err);
	ok(r == 1 && strcmp(f.verb, "PUB") == 0 && f.oversize &&
	    f.body == NULL && f.bodylen == 20 && f.argc == 0,
	    "pieces: oversize frame before its body has arrived");
	is_int(ev_decoder_next(&d, &f, &err), 0, "pieces: more needed");
	ev_decoder_feed(&d, "456789\nPING\n", 12);
	is_int(ev_decoder_next(&d, &f, &err), 0,
	    "pieces: body bytes that look like a frame are dropped");
	ev_decoder_feed(&d, "0123", 4);
	is_int(ev_decoder_next(&d, &f, &err), 0, "pieces: still skipping");
	is_int(d.skip, 1, "pieces: the newline is still to drop");
	ev_decoder_feed(&d, "\nPING\nPUB 1\n", 12);
	r = ev_decoder_next(&d, &f, &err);
	ok(r == 1 && strcmp(f.verb, "PING") == 0 && !f.oversize,
	    "pieces: the next frame decodes");
	is_int(ev_decoder_next(&d, &f, &err), 0,
	    "pieces: a frame whose body is to come");
	ev_decoder_feed(&d, "x\n", 2);
	r = ev_decoder_next(&d, &f, &err);
	ok(r == 1 && f.body != NULL && f.bodylen == 1 && *f.body == 'x' &&
	    !f.oversize, "pieces: a good body after an oversize one");
	ev_decoder_free(&d);
}

static void
test_failed_forever(void)
{
	struct ev_decoder d;
	struct ev_frame f;
	struct ev_err err;
	int i, n = 0;

	ev_decoder_init(&d, MAXLINE, 64);
	ev_decoder_feed(&d, "PUB zz\nPING\n", 12);
	is_int(ev_decoder_next(&d, &f, &err), -1, "failure");
	for (i = 0; i < 5; i++) {
		ev_decoder_feed(&d, "PING\n", 5);
		memset(&err, 0, sizeof(err));
		if (ev_decoder_next(&d, &f, &err) == -1 &&
		    err.kind == EV_ERR_PROTO)
			n++;
	}
	is_int(n, 5, "-1 with EV_ERR_PROTO forever after a failure");
	ev_decoder_free(&d);
}

static void
test_space(void)
{
	struct ev_decoder d;
	struct ev_frame f;
	struct ev_err err;
	const char *in = "PING\nPUB 2\n{}\nACK 1";
	size_t avail;
	char *p;
	int i, good = 0;

	ev_decoder_init(&d, MAXLINE, 64);
	p = ev_decoder_space(&d, 100, &avail);
	ok(p != NULL && avail >= 100, "space: at least what was asked");
	memcpy(p, in, strlen(in));
	ev_decoder_commit(&d, strlen(in));
	ok(ev_decoder_next(&d, &f, &err) == 1 && strcmp(f.verb, "PING") == 0,
	    "space: first frame");
	ok(ev_decoder_next(&d, &f, &err) == 1 && f.bodylen == 2 &&
	    memcmp(f.body, "{}", 2) == 0, "space: body frame");
	is_int(ev_decoder_next(&d, &f, &err), 0, "space: partial line");
	/* Many rounds: the consumed prefix is reclaimed, the line kept. */
	for (i = 0; i < 2000; i++) {
		p = ev_decoder_space(&d, 2, &avail);
		memcpy(p, i == 0 ? "\n" : " 1\n", i == 0 ? 1 : 3);
		ev_decoder_commit(&d, i == 0 ? 1 : 3);
		if (ev_decoder_next(&d, &f, &err) == 1 &&
		    strcmp(f.verb, "ACK") == 0 && f.argc == 1 &&
		    strcmp(f.argv[0], "1") == 0 &&
		    ev_decoder_next(&d, &f, &err) == 0)
			good++;
		p = ev_decoder_space(&d, 2, &avail);
		memcpy(p, "ACK", 3);
		ev_decoder_commit(&d, 3);
		if (ev_decoder_next(&d, &f, &err) != 0)
			good = -10000;
	}
	is_int(good, 2000, "space: a line split over two commits, 2000 "
	    "times");
	ok(d.in.cap <= 4096, "space: the buffer stays small (%zu)", d.in.cap);
	ev_decoder_free(&d);
}

static void
test_encode(void)
{
	struct ev_buf b = { 0 }, all = { 0 };
	struct ev_decoder d;
	struct ev_frame f;
	struct ev_err err;
	char bin[256];
	size_t i;
	int r, good = 0;

	ev_proto_line(&b, "HELLO %d %s", EV_PROTO_VERSION, "me");
	is_str(b.data, "HELLO 2 me\n", "ev_proto_line");
	ev_buf_reset(&b);
	ev_proto_body(&b, "PUB", "{\"a\":1}", 7);
	is_str(b.data, "PUB 7\n{\"a\":1}\n", "ev_proto_body");
	ev_buf_reset(&b);
	ev_proto_body(&b, "EVENT", "", 0);
	is_str(b.data, "EVENT 0\n\n", "ev_proto_body, empty body");
	ev_buf_free(&b);

	ok(ev_proto_has_body("PUB") && ev_proto_has_body("SUB") &&
	    ev_proto_has_body("EVENT"), "PUB, SUB, EVENT carry a body");
	ok(!ev_proto_has_body("pub") && !ev_proto_has_body("PING") &&
	    !ev_proto_has_body("EVENTS") && !ev_proto_has_body("") &&
	    !ev_proto_has_body("ERR"), "other verbs do not");

	/* Bodies of every length 0..255 of every byte value, NUL too. */
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(255 - i);
	for (i = 0; i <= sizeof(bin); i++)
		ev_proto_body(&all, i % 2 ? "PUB" : "EVENT",
		    bin + sizeof(bin) - i, i);
	ev_proto_line(&all, "ERR %s %s", "data", "name: empty");
	ev_decoder_init(&d, MAXLINE, sizeof(bin));
	ev_decoder_feed(&d, all.data, all.len);
	for (i = 0; i <= sizeof(bin); i++) {
		r = ev_decoder_next(&d, &f, &err);
		if (r == 1 && strcmp(f.verb, i % 2 ? "PUB" : "EVENT") == 0 &&
		    f.argc == 0 && !f.oversize && f.bodylen == i &&
		    f.body != NULL &&
		    memcmp(f.body, bin + sizeof(bin) - i, i) == 0)
			good++;
	}
	is_int(good, sizeof(bin) + 1,
	    "ev_proto_body round-trips bodies of any bytes");
	r = ev_decoder_next(&d, &f, &err);
	ok(r == 1 && strcmp(f.verb, "ERR") == 0 && f.argc == 2 &&
	    strcmp(f.argv[0], "data") == 0 &&
	    strcmp(f.argv[1], "name: empty") == 0,
	    "ev_proto_line round-trips an ERR");
	is_int(ev_decoder_next(&d, &f, &err), 0, "nothing more");
	ev_decoder_free(&d);
	ev_buf_free(&all);
}

int
main(void)
{
	test_stream();
	test_line_limit();
	test_words();
	test_lend_line();
	test_count();
	test_body_end();
	test_oversize();
	test_failed_forever();
	test_space();
	test_encode();
	return tap_done();
}
