/*
 * lines.c: newline-delimited input of any line length up to a bound.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

#define LINES_READ	(64 * 1024)

void
ev_lines_init(struct ev_lines *l, int fd, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->max = max;
}

void
ev_lines_free(struct ev_lines *l)
{
	ev_buf_free(&l->buf);
}

ssize_t
ev_lines_fill(struct ev_lines *l, struct ev_err *err)
{
	ssize_t n;

	if (ev_buf_reserve(&l->buf, LINES_READ) == -1)
		return ev_err_sys(err, "input buffer");
	while ((n = read(l->fd, l->buf.data + l->buf.len,
	    l->buf.cap - l->buf.len - 1)) == -1 && errno == EINTR)
		;
	if (n == -1)
		return errno == EAGAIN ? -1 : ev_err_sys(err, "read");
	if (n == 0)
		l->eof = true;
	l->buf.len += (size_t)n;
	l->buf.data[l->buf.len] = '\0';
	return n;
}

/*
 * A line too long: drop its bytes as they come, up to its newline, and
 * report it once, when its end is seen, under its own line number.
 */
int
ev_lines_next(struct ev_lines *l, const char **line, size_t *len,
    struct ev_err *err)
{
	const char *p, *nl;
	size_t avail;

	for (;;) {
		p = ev_buf_head(&l->buf);
		avail = ev_buf_unread(&l->buf);
		nl = avail > 0 ? memchr(p, '\n', avail) : NULL;
		if (l->skipping) {
			if (nl == NULL && !l->eof) {
				l->skipped += avail;
				ev_buf_consume(&l->buf, avail);
				return 0;
			}
			l->skipping = false;
			l->skipped += nl ? (size_t)(nl - p) : avail;
			ev_buf_consume(&l->buf, nl ? (size_t)(nl - p) + 1 :
			    avail);
			l->lineno++;
			return ev_err_set(err, EV_ERR_LIMIT, "line of %zu "
			    "bytes is longer than the limit of %zu",
			    l->skipped, l->max);
		}
		if (nl == NULL) {
			if (avail > l->max) {
				l->skipping = true;
				l->skipped = 0;
				continue;
			}
			if (!l->eof || avail == 0)
				return 0;
			nl = p + avail;		/* a last line, unended */
		}
		if ((size_t)(nl - p) > l->max) {
			l->skipping = true;
			l->skipped = 0;
			continue;
		}
		l->lineno++;
		*line = p;
		*len = (size_t)(nl - p);
		ev_buf_consume(&l->buf, nl < p + avail ? *len + 1 : *len);
		return 1;
	}
}
