/*
 * publish.c: reliable publishing: a queue of frames kept until the bus
 * acknowledges them, sent again after a reconnect.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evbus.h"

#define PUB_MAXQ	(8 * 1024 * 1024)	/* bytes awaiting an ack */
#define PUB_MAXENT	65536			/* events awaiting an ack */
#define PUB_RETRY_MS	10000
#define PUB_OPEN_MS	5000
#define PUB_RETRY_MAX	(24 * 86400000LL)	/* 24d: poll() takes an int */

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
	return ev_client_open(&p->c, path, name, flags, PUB_OPEN_MS, err);
}

void
ev_pub_close(struct ev_publisher *p)
{
	ev_client_close(&p->c);
	ev_buf_free(&p->q);
	free(p->ent);
	p->ent = NULL;
	p->entcap = p->nent = p->enthead = 0;
}

int
ev_pub_queue(struct ev_publisher *p, const char *json, size_t len,
    uint64_t tag, const char *id, struct ev_err *err)
{
	struct ev_pubent *ne;
	size_t mark = ev_buf_unread(&p->q), ncap, i;

	if (p->nent == p->entcap) {
		ncap = p->entcap ? p->entcap * 2 : 256;
		if ((ne = calloc(ncap, sizeof(*ne))) == NULL)
			return ev_err_sys(err, "publish queue");
		for (i = 0; i < p->nent; i++)
			ne[i] = p->ent[(p->enthead + i) % p->entcap];
		free(p->ent);
		p->ent = ne;
		p->entcap = ncap;
		p->enthead = 0;
	}
	if (ev_proto_body(&p->q, "PUB", json, len) == -1) {
		ev_buf_truncate(&p->q, mark);
		return ev_err_sys(err, "publish queue");
	}
	ne = &p->ent[(p->enthead + p->nent) % p->entcap];
	ne->tag = tag;
	ne->len = ev_buf_unread(&p->q) - mark;
	snprintf(ne->id, sizeof(ne->id), "%s", id != NULL ? id : "");
	p->nent++;
	return 0;
}

bool
ev_pub_full(const struct ev_publisher *p)
{
	return ev_buf_unread(&p->q) >= p->maxq || p->nent >= PUB_MAXENT;
}

void
ev_pub_pollfd(const struct ev_publisher *p, int *fd, short *events)
{
	*fd = p->c.fd;
	*events = POLLIN;
	if (p->sent < ev_buf_unread(&p->q))
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

/* The oldest queued event got its answer: forget its frame. */
static uint64_t
pub_pop(struct ev_publisher *p)
{
	struct ev_pubent *e = &p->ent[p->enthead];

	ev_buf_consume(&p->q, e->len);
	p->sent = p->sent > e->len ? p->sent - e->len : 0;
	p->enthead = (p->enthead + 1) % p->entcap;
	p->nent--;
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
	ssize_t n;

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
		if (ev_client_open(&p->c, p->path, p->name,
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
	p->sent = 0;
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
			if (p->sent > 0)
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

int
ev_pub_io(struct ev_publisher *p, short revents, struct ev_err *err)
{
	ssize_t n;
	size_t unsent;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		n = ev_client_fill(&p->c, err);
		if (n == 0 || (n == -1 && errno != EAGAIN))
			return pub_reconnect(p, err);
		if (pub_replies(p, err) == -1)
			return -1;
	}
	while ((unsent = ev_buf_unread(&p->q) - p->sent) > 0) {
		n = send(p->c.fd, ev_buf_head(&p->q) + p->sent, unsent,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p->sent += (size_t)n;
			if (!p->c.hello_pending)
				p->reached = true;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		return pub_reconnect(p, err);
	}
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
	e = &p->ent[(p->enthead + i) % p->entcap];
	*tag = e->tag;
	*id = e->id;
	return true;
}
