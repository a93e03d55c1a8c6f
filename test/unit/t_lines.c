/*
 * t_lines.c: ev_lines over a temporary file (whole reads) and over a
 * non-blocking pipe fed a byte at a time: lines of any length up to max,
 * max exactly, max+1 refused with EV_ERR_LIMIT under its own line number
 * and the following lines still delivered, a last line without newline,
 * empty lines, CRLF kept as is, and a very long line never held whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "feed.h"
#include "tap.h"

/* A temporary file holding n bytes of p, at offset 0; gone when closed. */
static int
tmpfile_with(const char *p, size_t n)
{
	char path[] = "/tmp/t_lines.XXXXXX";
	int fd;

	if ((fd = mkstemp(path)) == -1)
		abort();
	unlink(path);
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/*
 * Everything ev_lines gives as records "L<line>" or "E<lineno>", each
 * ending in '\n' (lines here hold no '\n'); *maxcap is the largest buffer.
 */
static void
drain(struct ev_lines *l, struct ev_buf *t)
{
	struct ev_err err;
	const char *line;
	size_t len;
	int r;

	while ((r = ev_lines_next(l, &line, &len, &err)) != 0) {
		if (r == 1) {
			ev_buf_putc(t, 'L');
			ev_buf_append(t, line, len);
		} else
			ev_buf_printf(t, "E%llu%s", (unsigned long long)
			    l->lineno, err.kind == EV_ERR_LIMIT ? "" : "?");
		ev_buf_putc(t, '\n');
	}
}

static char *
via_file(const char *p, size_t n, size_t max, size_t *maxcap)
{
	struct ev_lines l;
	struct ev_buf t = { 0 };
	struct ev_err err;
	ssize_t r;
	int fd = tmpfile_with(p, n);

	ev_lines_init(&l, fd, max);
	*maxcap = 0;
	do {
		if ((r = ev_lines_fill(&l, &err)) == -1)
			abort();
		if (l.buf.cap > *maxcap)
			*maxcap = l.buf.cap;
		drain(&l, &t);
	} while (r > 0);
	drain(&l, &t);
	ok(l.eof, "file: at eof");
	ev_lines_free(&l);
	close(fd);
	ev_buf_putc(&t, '\0');
	return t.data;
}

/* Through a non-blocking pipe, a byte (or chunk bytes) at a time. */
static char *
via_pipe(const char *p, size_t n, size_t max, size_t chunk)
{
	struct ev_lines l;
	struct ev_buf t = { 0 };
	struct ev_err err;
	size_t pos = 0;
	ssize_t r;
	int fds[2], again = 0;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1)
		abort();
	ev_lines_init(&l, fds[0], max);
	for (;;) {
		feed_pipe(fds, (const char *)p, n, &pos, chunk);
		if ((r = ev_lines_fill(&l, &err)) == -1 && errno != EAGAIN)
			abort();
		drain(&l, &t);
		if (r == -1) {
			if (++again > 1)	/* nothing to read twice: stuck */
				abort();
			continue;
		}
		again = 0;
		if (r == 0)
			break;
	}
	ev_lines_free(&l);
	close(fds[0]);
	ev_buf_putc(&t, '\0');
	return t.data;
}

static void
check(const char *in, size_t max, const char *want, const char *what)
{
	char *got;
	size_t cap;

	got = via_file(in, strlen(in), max, &cap);
	is_str(got, want, "%s (file)", what);
	free(got);
	got = via_pipe(in, strlen(in), max, 1);
	is_str(got, want, "%s (pipe, a byte at a time)", what);
	free(got);
	got = via_pipe(in, strlen(in), max, 3);
	is_str(got, want, "%s (pipe, 3 bytes at a time)", what);
	free(got);
}

static void
test_small(void)
{
	check("", 8, "", "no input");
	check("a\n", 8, "La\n", "one line");
	check("a", 8, "La\n", "one line without newline");
	check("\n", 8, "L\n", "one empty line");
	check("\n\n\na\n\n", 8, "L\nL\nL\nLa\nL\n", "empty lines");
	check("a\r\nb\r\n\r\n", 8, "La\r\nLb\r\nL\r\n", "CRLF kept");
	check("12345678\n", 8, "L12345678\n", "max exactly");
	check("12345678", 8, "L12345678\n", "max exactly, last, unended");
	check("123456789\n", 8, "E1\n", "max+1 refused");
	check("123456789", 8, "E1\n", "max+1 refused, last, unended");
	check("1234567\r\n", 8, "L1234567\r\n", "max with its \\r");
	check("12345678\r\n", 8, "E1\n", "max+1 with its \\r refused");
	check("a\n123456789\nb\n", 8, "La\nE2\nLb\n",
	    "max+1 in the middle: reported as line 2, the rest delivered");
	check("a\n123456789abcdefghijkl\n\nb", 8, "La\nE2\nL\nLb\n",
	    "a long line, an empty one, a last one");
	check("123456789\n123456789\n12345678\n", 8, "E1\nE2\nL12345678\n",
	    "two long lines in a row");
	check("x\n", 0, "E1\n", "max 0: only empty lines");
	check("\n\n", 0, "L\nL\n", "max 0: empty lines pass");
}

static void
test_numbers(void)
{
	struct ev_lines l;
	struct ev_err err;
	const char *line;
	size_t len;
	int fd, r;
	const char *in = "one\ntoo long line\nthree\n";

	fd = tmpfile_with(in, strlen(in));
	ev_lines_init(&l, fd, 5);
	ev_lines_fill(&l, &err);
	r = ev_lines_next(&l, &line, &len, &err);
	ok(r == 1 && len == 3 && memcmp(line, "one", 3) == 0 &&
	    l.lineno == 1, "line 1");
	memset(&err, 0, sizeof(err));
	r = ev_lines_next(&l, &line, &len, &err);
	ok(r == -1 && err.kind == EV_ERR_LIMIT && l.lineno == 2,
	    "line 2 too long: EV_ERR_LIMIT, lineno 2");
	ok(strstr(err.msg, "13") != NULL && strstr(err.msg, "5") != NULL,
	    "the message gives the length and the limit: %s", err.msg);
	r = ev_lines_next(&l, &line, &len, &err);
	ok(r == 1 && len == 5 && memcmp(line, "three", 5) == 0 &&
	    l.lineno == 3, "line 3 after it");
	is_int(ev_lines_next(&l, &line, &len, &err), 0, "then more needed");
	is_int(ev_lines_fill(&l, &err), 0, "end of input");
	is_int(ev_lines_next(&l, &line, &len, &err), 0, "nothing left");
	is_int(ev_lines_next(&l, &line, &len, &err), 0, "still nothing");
	ev_lines_free(&l);
	close(fd);
}

static void
test_long(void)
{
	struct ev_buf in = { 0 }, want = { 0 };
	size_t i, cap, len, max = 100000;
	char *got;

	/* Lines of every length around a few sizes, up to max and over. */
	for (len = 0; len < 300; len += 7) {
		for (i = 0; i < len; i++)
			ev_buf_putc(&in, 'a' + (int)(i % 26));
		ev_buf_putc(&in, '\n');
	}
	for (len = max - 2; len <= max + 2; len++) {
		for (i = 0; i < len; i++)
			ev_buf_putc(&in, 'A' + (int)(i % 26));
		ev_buf_putc(&in, '\n');
	}
	/* A line of 3 MiB, then one more. */
	for (i = 0; i < 3 * 1024 * 1024; i++)
		ev_buf_putc(&in, 'z');
	ev_buf_append(&in, "\nend", 4);

	for (len = 0; len < 300; len += 7) {
		ev_buf_putc(&want, 'L');
		for (i = 0; i < len; i++)
			ev_buf_putc(&want, 'a' + (int)(i % 26));
		ev_buf_putc(&want, '\n');
	}
	for (len = max - 2; len <= max; len++) {
		ev_buf_putc(&want, 'L');
		for (i = 0; i < len; i++)
			ev_buf_putc(&want, 'A' + (int)(i % 26));
		ev_buf_putc(&want, '\n');
	}
	ev_buf_printf(&want, "E%d\nE%d\nE%d\nLend\n", 43 + 3 + 1, 43 + 3 + 2,
	    43 + 3 + 3);

	got = via_file(in.data, in.len, max, &cap);
	ok(strcmp(got, want.data) == 0, "long lines around max %zu (file)",
	    max);
	ok(cap < 4 * max, "a 3 MiB line is never held whole (buffer %zu)",
	    cap);
	free(got);
	got = via_pipe(in.data, in.len, max, 4093);
	ok(strcmp(got, want.data) == 0, "long lines around max %zu (pipe)",
	    max);
	free(got);
	ev_buf_free(&in);
	ev_buf_free(&want);
}

int
main(void)
{
	test_small();
	test_numbers();
	test_long();
	return tap_done();
}
