/* buf.c: a growable byte buffer with a consumed prefix. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

/*
 * Make room for n more bytes (plus the trailing NUL).  A consumed prefix is
 * reclaimed by moving the unread bytes down before growing, so a buffer
 * used as a queue stays as large as its largest backlog.  -1 with errno
 * ENOMEM; the buffer is unchanged then.
 */
int
ev_buf_reserve(struct ev_buf *b, size_t n)
{
	size_t need, ncap;
	char *p;

	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (n > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	if (b->off > 0 && need - b->off <= b->cap) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		b->data[b->len] = '\0';
		return 0;
	}
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	if ((p = realloc(b->data, ncap)) == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
ev_buf_append(struct ev_buf *b, const void *p, size_t n)
{
	if (ev_buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
ev_buf_putc(struct ev_buf *b, int c)
{
	char ch = (char)c;

	return ev_buf_append(b, &ch, 1);
}

int
ev_buf_vprintf(struct ev_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(b->data ? b->data + b->len : NULL,
	    b->data ? b->cap - b->len : 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (b->data == NULL || (size_t)n >= b->cap - b->len) {
		if (ev_buf_reserve(b, (size_t)n) == -1)
			return -1;
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
	return 0;
}

int
ev_buf_printf(struct ev_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ev_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * Append v in decimal.  The hot paths (frame headers, seq, acks) write
 * numbers this way instead of through printf, which costs several times
 * as much for a number.
 */
int
ev_buf_putu(struct ev_buf *b, uint64_t v)
{
	char tmp[20], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return ev_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/*
 * Drop n bytes from the front of the unread part.  The bytes stay where
 * they are until the next append, so a pointer to what was just consumed
 * (a line handed to a caller) remains valid until then.
 */
void
ev_buf_consume(struct ev_buf *b, size_t n)
{
	b->off += n;
	if (b->off > b->len)
		b->off = b->len;
}

/*
 * Append what fd has until its end, but no more than max + 1 bytes in all
 * (so that a caller sees that there was more than max): 0, or -1 with
 * errno (ENOMEM, or read's) and what was read so far kept.  Cost: one
 * read(2) per chunk, a copy only when the buffer grows.
 */
int
ev_buf_read(struct ev_buf *b, int fd, size_t max)
{
	size_t got = 0, want;
	ssize_t n;

	while (got <= max) {
		want = max + 1 - got < 65536 ? max + 1 - got : 65536;
		if (ev_buf_reserve(b, want) == -1)
			return -1;
		n = read(fd, b->data + b->len, want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
		got += (size_t)n;
	}
	return 0;
}

/*
 * Write the whole unread part to fd, which blocks, consuming what was
 * written: 0, or -1 with errno (EPIPE: the reader went away) and what was
 * not written still unread.  Cost: one write(2) per chunk the fd takes.
 */
int
ev_buf_write(struct ev_buf *b, int fd)
{
	ssize_t n;

	while (ev_buf_unread(b) > 0) {
		n = write(fd, ev_buf_head(b), ev_buf_unread(b));
		if (n > 0)
			ev_buf_consume(b, (size_t)n);
		else if (n == 0)
			errno = EIO;
		if (n <= 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

/*
 * Cut the unread part back to n bytes: undo appends made since
 * ev_buf_unread() was n.  (Not b->len: an append may move the unread part
 * down to reclaim the consumed prefix.)
 */
void
ev_buf_truncate(struct ev_buf *b, size_t n)
{
	if (n < ev_buf_unread(b)) {
		b->len = b->off + n;
		b->data[b->len] = '\0';
	}
}

void
ev_buf_reset(struct ev_buf *b)
{
	b->off = b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
ev_buf_free(struct ev_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
