/*
 * proto.c: the wire protocol's frames, encoded and incrementally decoded.
 * See evbus(7) for the protocol itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

static const char *const body_verbs[] = { "PUB", "SUB", "EVENT", "INFO" };

bool
ev_proto_has_body(const char *verb)
{
	size_t i;

	for (i = 0; i < sizeof(body_verbs) / sizeof(body_verbs[0]); i++)
		if (strcmp(verb, body_verbs[i]) == 0)
			return true;
	return false;
}

void
ev_decoder_init(struct ev_decoder *d, size_t maxline, size_t maxbody)
{
	memset(d, 0, sizeof(*d));
	d->maxline = maxline > EV_LINE_MAX ? EV_LINE_MAX : maxline;
	d->maxbody = maxbody;
}

void
ev_decoder_lend_line(struct ev_decoder *d, char *buf)
{
	if (!d->lent)
		free(d->line);
	d->line = buf;
	d->lent = true;
}

void
ev_decoder_free(struct ev_decoder *d)
{
	ev_buf_free(&d->in);
	if (!d->lent)
		free(d->line);
	d->line = NULL;
	d->lent = false;
}

/*
 * Room for at least want bytes at the end of the input buffer, for read(2)
 * to fill directly; pointers from earlier frames become invalid.
 */
char *
ev_decoder_space(struct ev_decoder *d, size_t want, size_t *avail)
{
	if (ev_buf_reserve(&d->in, want) == -1)
		return NULL;
	*avail = d->in.cap - d->in.len - 1;
	return d->in.data + d->in.len;
}

void
ev_decoder_commit(struct ev_decoder *d, size_t n)
{
	d->in.len += n;
	d->in.data[d->in.len] = '\0';
}

int
ev_decoder_feed(struct ev_decoder *d, const void *p, size_t n)
{
	return ev_buf_append(&d->in, p, n);
}

static int
decoder_fail(struct ev_decoder *d, struct ev_err *err, const char *what)
{
	d->failed = true;
	return ev_err_set(err, EV_ERR_PROTO, "%s", what);
}

/*
 * Split the copied line into words; -1 when there are too many.  The
 * verb ERR has a code and then free text, kept whole as its last word.
 */
static int
decoder_words(struct ev_decoder *d, struct ev_frame *f)
{
	char *p = d->line, *w;

	f->verb = NULL;
	f->argc = 0;
	while (p != NULL) {
		if (f->argc == 1 && strcmp(f->verb, "ERR") == 0) {
			p += strspn(p, " \t");
			f->argv[f->argc++] = p;
			break;
		}
		w = strsep(&p, " \t");
		if (*w == '\0')
			continue;
		if (f->verb == NULL)
			f->verb = w;
		else if (f->argc == EV_ARGS_MAX)
			return -1;
		else
			f->argv[f->argc++] = w;
	}
	return 0;
}

int
ev_decoder_next(struct ev_decoder *d, struct ev_frame *f, struct ev_err *err)
{
	const char *p, *nl;
	size_t avail, linelen, scan, need;
	uint64_t n;

	if (d->failed)
		return ev_err_set(err, EV_ERR_PROTO, "stream already failed");
	for (;;) {
		if (d->skip > 0) {
			n = ev_buf_unread(&d->in) < d->skip ?
			    ev_buf_unread(&d->in) : d->skip;
			ev_buf_consume(&d->in, n);
			d->skip -= n;
			if (d->skip > 0)
				return 0;
		}
		p = ev_buf_head(&d->in);
		if ((avail = ev_buf_unread(&d->in)) == 0)
			return 0;
		/* A line of maxline bytes, then "\r\n" at most. */
		scan = avail < d->maxline + 2 ? avail : d->maxline + 2;
		if ((nl = memchr(p, '\n', scan)) == NULL) {
			if (avail > d->maxline + 1 || (avail == d->maxline + 1 &&
			    p[d->maxline] != '\r'))
				return decoder_fail(d, err, "line too long");
			return 0;
		}
		linelen = (size_t)(nl - p);
		if (linelen > 0 && p[linelen - 1] == '\r')
			linelen--;
		if (linelen > d->maxline)
			return decoder_fail(d, err, "line too long");
		if (d->line == NULL &&
		    (d->line = malloc(d->maxline + 1)) == NULL)
			return ev_err_sys(err, "decoder");
		memcpy(d->line, p, linelen);
		d->line[linelen] = '\0';
		if (decoder_words(d, f) == -1)
			return decoder_fail(d, err, "too many words");
		if (f->verb == NULL) {		/* an empty line */
			ev_buf_consume(&d->in, (size_t)(nl - p) + 1);
			continue;
		}
		break;
	}
	f->body = NULL;
	f->bodylen = 0;
	f->oversize = false;
	if (!ev_proto_has_body(f->verb)) {
		ev_buf_consume(&d->in, (size_t)(nl - p) + 1);
		return 1;
	}
	if (f->argc == 0 || ev_parse_u64(f->argv[f->argc - 1],
	    strlen(f->argv[f->argc - 1]), SIZE_MAX / 4, &n) == -1)
		return decoder_fail(d, err, "byte count expected");
	f->argc--;
	f->bodylen = (size_t)n;
	if (n > d->maxbody) {
		ev_buf_consume(&d->in, (size_t)(nl - p) + 1);
		d->skip = (size_t)n + 1;
		f->oversize = true;
		return 1;
	}
	need = (size_t)(nl - p) + 1 + (size_t)n + 1;
	if (avail < need)
		return 0;
	if (p[need - 1] == '\r') {
		if (avail < need + 1)
			return 0;
		if (p[need] != '\n')
			return decoder_fail(d, err,
			    "body not followed by a newline");
		need++;
	} else if (p[need - 1] != '\n')
		return decoder_fail(d, err, "body not followed by a newline");
	f->body = nl + 1;
	ev_buf_consume(&d->in, need);
	return 1;
}

int
ev_proto_line(struct ev_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ev_buf_vprintf(b, fmt, ap);
	va_end(ap);
	if (r == -1)
		return -1;
	return ev_buf_putc(b, '\n');
}

int
ev_proto_body(struct ev_buf *b, const char *verb, const char *body,
    size_t len)
{
	size_t vlen = strlen(verb);

	if (ev_buf_reserve(b, vlen + 22 + len + 1) == -1 ||
	    ev_buf_append(b, verb, vlen) == -1 || ev_buf_putc(b, ' ') == -1 ||
	    ev_buf_putu(b, len) == -1 || ev_buf_putc(b, '\n') == -1 ||
	    ev_buf_append(b, body, len) == -1)
		return -1;
	return ev_buf_putc(b, '\n');
}
