/*
 * publish.c: reliable publishing: a queue of events kept until the bus
 * acknowledges them, sent again after a reconnect in the same producer
 * session.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evbus.h"

#define PUB_MAXQ	(8 * 1024 * 1024)	/* bytes awaiting an ack */
#define PUB_MAXENT	EV_SESSION_WINDOW	/* events awaiting an ack */
#define PUB_CHUNK	(256 * 1024)		/* a chunk is full past this */
#define PUB_IOV		256			/* iovecs per sendmsg */
#define PUB_HEADMAX	64			/* "PUB n s=K dedup=id\n" */

static int	pub_grow_ents(struct ev_publisher *, struct ev_err *);
static size_t	pub_head(const struct ev_pubent *, char *);
static struct ev_pubent *pub_ent(const struct ev_publisher *, size_t);
#define PUB_RETRY_MS	10000
#define PUB_OPEN_MS	5000
#define PUB_RETRY_MAX	(24 * 86400000LL)	/* 24d: poll() takes an int */

/* HELLO's words for p's session. */
static const char *
pub_keys(const struct ev_publisher *p, char *buf, size_t len)
{
	snprintf(buf, len, "session=%s", p->session);
	return buf;
}

/*
 * Connect as ev_client_open does.  The reconnect window, retry_ms, is
 * EVBUS_RECONNECT_TIMEOUT when not empty (a duration: "250ms", "10s"), else
 * PUB_RETRY_MS; a value that is not a duration from 1ms to 24d is -1
 * with EV_ERR_DATA, before any connection is tried.
 */
int
ev_pub_open(struct ev_publisher *p, const char *path, const char *name,
    int flags, struct ev_err *err)
{
	const char *env;
	struct ev_err e;
	char keys[32];

	memset(p, 0, sizeof(*p));
	p->path = path;
	p->flags = flags;
	p->retry_ms = PUB_RETRY_MS;
	if ((env = getenv("EVBUS_RECONNECT_TIMEOUT")) != NULL && *env != '\0') {
		if (ev_duration_parse(env, &p->retry_ms, &e) == -1)
			return ev_err_set(err, EV_ERR_DATA,
			    "EVBUS_RECONNECT_TIMEOUT: %s", e.msg);
		if (p->retry_ms <= 0 || p->retry_ms > PUB_RETRY_MAX)
			return ev_err_set(err, EV_ERR_DATA,
			    "EVBUS_RECONNECT_TIMEOUT: '%s' is not between "
			    "1ms and 24d", env);
	}
	p->maxq = PUB_MAXQ;
	snprintf(p->name, sizeof(p->name), "%s", name);
	ev_session_new(p->session);
	p->nextk = 1;
	return ev_client_open_keys(&p->c, path, name, pub_keys(p, keys,
	    sizeof(keys)), flags, PUB_OPEN_MS, err);
}

void
ev_pub_close(struct ev_publisher *p)
{
	size_t i;

	ev_client_close(&p->c);
	for (i = 0; i < p->chunkcap; i++)
		ev_buf_free(&p->chunk[i].b);
	free(p->chunk);
	p->chunk = NULL;
	p->chunkcap = p->chunkhead = p->nchunk = p->qbytes = 0;
	free(p->ent);
	p->ent = NULL;
	p->entcap = p->nent = p->enthead = 0;
}

/* The i-th queued event (0: the oldest). */
static struct ev_pubent *
pub_ent(const struct ev_publisher *p, size_t i)
{
	return &p->ent[(p->enthead + i) & (p->entcap - 1)];
}

/* Double the ring of events (a power of two).  -1 with err. */
static int
pub_grow_ents(struct ev_publisher *p, struct ev_err *err)
{
	struct ev_pubent *ne;
	size_t ncap = p->entcap ? p->entcap * 2 : 256, i;

	if ((ne = calloc(ncap, sizeof(*ne))) == NULL)
		return ev_err_sys(err, "publish queue");
	for (i = 0; i < p->nent; i++)
		ne[i] = *pub_ent(p, i);
	free(p->ent);
	p->ent = ne;
	p->entcap = ncap;
	p->enthead = 0;
	return 0;
}

/*
 * The chunk being written: the newest, unless it is past PUB_CHUNK (then
 * a new one, reusing the memory of one already emptied).  The ring of
 * chunks doubles when full, moving only the small chunk structs.
 */
struct ev_buf *
ev_pub_space(struct ev_publisher *p, size_t *mark, struct ev_err *err)
{
	struct ev_pubchunk *nc, *c;
	size_t ncap, i;

	c = p->nchunk > 0 ? &p->chunk[(p->chunkhead + p->nchunk - 1) &
	    (p->chunkcap - 1)] : NULL;
	if (c == NULL || ev_buf_unread(&c->b) >= PUB_CHUNK) {
		if (p->nchunk == p->chunkcap) {
			ncap = p->chunkcap ? p->chunkcap * 2 : 8;
			if ((nc = calloc(ncap, sizeof(*nc))) == NULL) {
				ev_err_sys(err, "publish queue");
				return NULL;
			}
			for (i = 0; i < p->chunkcap; i++)
				nc[i] = p->chunk[(p->chunkhead + i) &
				    (p->chunkcap - 1)];
			/* Entries name chunks by ring index: renumber. */
			for (i = 0; i < p->nent; i++)
				pub_ent(p, i)->chunk = (pub_ent(p, i)->chunk -
				    p->chunkhead) & (p->chunkcap - 1);
			free(p->chunk);
			p->chunk = nc;
			p->chunkcap = ncap;
			p->chunkhead = 0;
		}
		c = &p->chunk[(p->chunkhead + p->nchunk++) &
		    (p->chunkcap - 1)];
		ev_buf_reset(&c->b);
		c->nent = 0;
	}
	*mark = ev_buf_unread(&c->b);
	return &c->b;
}

int
ev_pub_commit(struct ev_publisher *p, size_t mark, uint64_t tag,
    const char *id, int flags, struct ev_err *err)
{
	size_t ci = (p->chunkhead + p->nchunk - 1) & (p->chunkcap - 1), n;
	struct ev_pubchunk *c = &p->chunk[ci];
	struct ev_pubent *e;

	if (p->nent == p->entcap && pub_grow_ents(p, err) == -1) {
		ev_buf_truncate(&c->b, mark);
		return -1;
	}
	if (ev_buf_putc(&c->b, '\n') == -1) {
		ev_buf_truncate(&c->b, mark);
		return ev_err_sys(err, "publish queue");
	}
	e = pub_ent(p, p->nent);
	e->tag = tag;
	e->k = p->nextk++;
	e->chunk = ci;
	e->off = mark;
	e->len = ev_buf_unread(&c->b) - mark;
	e->ownid = (flags & EV_PUB_OWNID) != 0;
	n = id != NULL ? strlen(id) : 0;
	if (n > EV_ID_MAX)
		n = EV_ID_MAX;
	if (n > 0)
		memcpy(e->id, id, n);
	e->id[n] = '\0';
	c->nent++;
	p->qbytes += e->len;
	p->nent++;
	return 0;
}

int
ev_pub_queue(struct ev_publisher *p, const char *json, size_t len,
    uint64_t tag, const char *id, int flags, struct ev_err *err)
{
	struct ev_buf *b;
	size_t mark;

	if ((b = ev_pub_space(p, &mark, err)) == NULL)
		return -1;
	if (ev_buf_append(b, json, len) == -1) {
		ev_buf_truncate(b, mark);
		return ev_err_sys(err, "publish queue");
	}
	return ev_pub_commit(p, mark, tag, id, flags, err);
}

bool
ev_pub_full(const struct ev_publisher *p)
{
	return p->qbytes >= p->maxq || p->nent >= PUB_MAXENT;
}

void
ev_pub_pollfd(const struct ev_publisher *p, int *fd, short *events)
{
	*fd = p->c.fd;
	*events = POLLIN;
	if (p->sendi < p->nent)
		*events |= POLLOUT;
}

/* retry_ms for a message: in seconds when whole, else milliseconds. */
static long long
pub_span(const struct ev_publisher *p)
{
	return p->retry_ms % 1000 == 0 ? (long long)(p->retry_ms / 1000) :
	    (long long)p->retry_ms;
}

static const char *
pub_unit(const struct ev_publisher *p)
{
	return p->retry_ms % 1000 == 0 ? "s" : "ms";
}

/*
 * The oldest queued event got its answer: forget it; its chunk, once
 * empty and not the one being written, goes back to be reused.
 */
static uint64_t
pub_pop(struct ev_publisher *p)
{
	struct ev_pubent *e = pub_ent(p, 0);
	struct ev_pubchunk *c = &p->chunk[e->chunk];

	p->qbytes -= e->len;
	p->enthead = (p->enthead + 1) & (p->entcap - 1);
	p->nent--;
	if (p->sendi > 0)
		p->sendi--;
	else
		p->sendoff = 0;
	c->nent--;
	while (p->nchunk > 1 && (c = &p->chunk[p->chunkhead])->nent == 0) {
		ev_buf_reset(&c->b);
		p->chunkhead = (p->chunkhead + 1) & (p->chunkcap - 1);
		p->nchunk--;
	}
	return e->tag;
}

/*
 * The connection is gone: connect again within retry_ms, backing off from
 * 50 ms to 1 s between tries, and start sending the queue from its start.
 * A bus that restarted without history has a new epoch; the events it had
 * not acknowledged are sent to the new one.
 */
static int	pub_replies(struct ev_publisher *, struct ev_err *);

static int
pub_reconnect(struct ev_publisher *p, struct ev_err *err)
{
	int64_t deadline = ev_mono_ms() + p->retry_ms, wait = 50, left;
	struct ev_err e;
	char keys[32];
	ssize_t n;
	size_t i;

	/*
	 * The replies the bus sent before it went are still in the socket:
	 * take them, so that what it did acknowledge is not sent again.
	 */
	while ((n = ev_client_fill(&p->c, &e)) > 0)
		;
	if (pub_replies(p, &e) == -1 && e.kind == EV_ERR_PROTO) {
		*err = e;
		return -1;
	}
	ev_client_close(&p->c);
	for (;;) {
		left = deadline - ev_mono_ms();
		if (ev_client_open_keys(&p->c, p->path, p->name,
		    pub_keys(p, keys, sizeof(keys)),
		    p->flags & ~EV_CLIENT_AUTOSTART,
		    left < PUB_OPEN_MS ? (int)(left > 0 ? left : 1) :
		    PUB_OPEN_MS, &e) == 0)
			break;
		if (e.kind == EV_ERR_DENIED || e.kind == EV_ERR_PROTO) {
			*err = e;
			return -1;
		}
		left = deadline - ev_mono_ms();
		if (left <= 0)
			return ev_err_set(err, EV_ERR_UNAVAILABLE,
			    "lost the bus at %s and it did not come back "
			    "within %lld %s: %s", p->c.path, pub_span(p),
			    pub_unit(p), e.msg);
		ev_sleep_ms(wait < left ? wait : left);
		wait = wait * 2 > 1000 ? 1000 : wait * 2;
	}
	/*
	 * What is sent again may be on the bus already, and a bus that
	 * restarted (with a store) does not know this session: ask it to
	 * look each resent event up by id.  Only resends pay for the lookup.
	 */
	for (i = 0; i < p->nent; i++)
		if (pub_ent(p, i)->id[0] != '\0')
			pub_ent(p, i)->ownid = true;
	p->sendi = 0;
	p->sendoff = 0;
	p->reconnects++;
	if (p->on_reconnect != NULL)
		p->on_reconnect(p->arg, p->c.epoch);
	return 0;
}

/*
 * Act on the replies read so far: one ACK or ERR per queued event, in
 * order.  "ACK <seq> dup": the bus had an event with that id already, and
 * seq is that event's.
 */
static int
pub_replies(struct ev_publisher *p, struct ev_err *err)
{
	struct ev_frame f;
	uint64_t seq, tag;
	bool dup;
	int r;

	while ((r = ev_decoder_next(&p->c.dec, &f, err)) == 1) {
		if (p->c.hello_pending) {
			if (ev_client_hello(&p->c, &f, err) == -1)
				return -1;
			/* What was sent with HELLO is now the bus's to act on. */
			if (p->sendi > 0 || p->sendoff > 0)
				p->reached = true;
			continue;
		}
		if (p->nent == 0)
			return ev_err_set(err, EV_ERR_PROTO,
			    "the bus answered '%s' to nothing", f.verb);
		if (strcmp(f.verb, "ACK") == 0 && (f.argc == 1 ||
		    (f.argc == 2 && strcmp(f.argv[1], "dup") == 0)) &&
		    ev_parse_u64(f.argv[0], strlen(f.argv[0]), UINT64_MAX,
		    &seq) == 0) {
			dup = f.argc == 2;
			tag = pub_pop(p);
			if (p->on_ack != NULL)
				p->on_ack(p->arg, tag, seq, dup);
		} else if (strcmp(f.verb, "ERR") == 0 && f.argc == 2) {
			if (strcmp(f.argv[0], "proto") == 0)
				return ev_err_set(err, EV_ERR_PROTO,
				    "the bus says: %s", f.argv[1]);
			tag = pub_pop(p);
			if (p->on_reject != NULL)
				p->on_reject(p->arg, tag, f.argv[0],
				    f.argv[1]);
		} else
			return ev_err_set(err, EV_ERR_PROTO,
			    "unexpected reply '%s' from the bus", f.verb);
	}
	return r;
}

/*
 * The frame header of e, "PUB s=K[ dedup=id] n\n" (the byte count last,
 * as evbus(7) frames bodies); its length.
 */
static size_t
pub_head(const struct ev_pubent *e, char *buf)
{
	char digits[24], *d;
	uint64_t v;
	size_t n = 6, nd;
	int pass;

	memcpy(buf, "PUB s=", 6);
	for (pass = 0; pass < 2; pass++) {
		v = pass == 0 ? e->k : e->len - 1;
		d = digits + sizeof(digits);
		do {
			*--d = (char)('0' + v % 10);
			v /= 10;
		} while (v != 0);
		nd = (size_t)(digits + sizeof(digits) - d);
		if (pass == 1) {
			if (e->ownid) {
				memcpy(buf + n, " dedup=id", 9);
				n += 9;
			}
			buf[n++] = ' ';
		}
		memcpy(buf + n, d, nd);
		n += nd;
	}
	buf[n++] = '\n';
	return n;
}

/*
 * Write what is unsent, from event sendi's byte sendoff on: each event's
 * frame header made here, its JSON from its chunk, gathered into one
 * sendmsg of up to PUB_IOV / 2 events.  0 when the socket is full or all
 * is sent; -1 when the connection failed (errno).
 */
static int
pub_send(struct ev_publisher *p)
{
	char head[PUB_IOV / 2][PUB_HEADMAX];
	struct iovec iov[PUB_IOV];
	struct ev_pubent *e;
	struct msghdr mh;
	size_t i, n, hl, off, w;
	ssize_t r;

	while (p->sendi < p->nent) {
		n = 0;
		off = p->sendoff;
		for (i = p->sendi; i < p->nent && n + 2 <= PUB_IOV; i++) {
			e = pub_ent(p, i);
			hl = pub_head(e, head[n / 2]);
			if (off < hl) {
				iov[n].iov_base = head[n / 2] + off;
				iov[n++].iov_len = hl - off;
				off = 0;
			} else {
				off -= hl;
				iov[n].iov_base = NULL;
				iov[n++].iov_len = 0;
			}
			iov[n].iov_base = p->chunk[e->chunk].b.data +
			    p->chunk[e->chunk].b.off + e->off + off;
			iov[n++].iov_len = e->len - off;
			off = 0;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = n;
		r = sendmsg(p->c.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		if (!p->c.hello_pending && r > 0)
			p->reached = true;
		/* Advance over what went: whole frames, then a part. */
		w = (size_t)r;
		while (w > 0 && p->sendi < p->nent) {
			e = pub_ent(p, p->sendi);
			hl = pub_head(e, head[0]) + e->len - p->sendoff;
			if (w < hl) {
				p->sendoff += w;
				break;
			}
			w -= hl;
			p->sendi++;
			p->sendoff = 0;
		}
	}
	return 0;
}

int
ev_pub_io(struct ev_publisher *p, short revents, struct ev_err *err)
{
	ssize_t n;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		n = ev_client_fill(&p->c, err);
		if (n == 0 || (n == -1 && errno != EAGAIN))
			return pub_reconnect(p, err);
		if (pub_replies(p, err) == -1)
			return -1;
	}
	if (pub_send(p) == -1)
		return pub_reconnect(p, err);
	return 0;
}

int
ev_pub_drain(struct ev_publisher *p, struct ev_err *err)
{
	struct pollfd pfd;
	int64_t deadline = ev_mono_ms() + p->retry_ms, left;
	size_t before;
	int r;

	while (p->nent > 0) {
		ev_pub_pollfd(p, &pfd.fd, &pfd.events);
		left = deadline - ev_mono_ms();
		if (left <= 0)
			return ev_err_set(err, EV_ERR_TIMEOUT, "the bus at %s "
			    "did not acknowledge within %lld %s", p->c.path,
			    pub_span(p), pub_unit(p));
		if ((r = poll(&pfd, 1, (int)left)) == -1) {
			if (errno == EINTR)
				continue;
			return ev_err_sys(err, "poll");
		}
		if (r == 0)
			continue;
		before = p->nent;
		if (ev_pub_io(p, pfd.revents, err) == -1)
			return -1;
		if (p->nent < before)
			deadline = ev_mono_ms() + p->retry_ms;
	}
	return 0;
}

bool
ev_pub_unacked(const struct ev_publisher *p, size_t i, uint64_t *tag,
    const char **id)
{
	const struct ev_pubent *e;

	if (i >= p->nent)
		return false;
	e = pub_ent(p, i);
	*tag = e->tag;
	*id = e->id;
	return true;
}
