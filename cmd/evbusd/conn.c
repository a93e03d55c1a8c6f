/*
 * conn.c: a client connection: its input, its commands, publishing.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbusd.h"

#define CONN_READ	(256 * 1024)	/* bytes read from a client at once */
#define CONN_OUT_HIGH	(1024 * 1024)	/* stop reading a client's commands
					   while this much of its replies is
					   unread by it */

static void	conn_process(struct evbusd *, struct conn *);
static void	conn_command(struct evbusd *, struct conn *,
		    const struct ev_frame *);
static void	conn_announce(struct evbusd *, const struct conn *,
		    const char *, const char *);
static void	conn_error(struct conn *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * A new client on fd, not yet through its handshake.  NULL with errno
 * when out of memory or epoll refuses the descriptor.
 */
struct conn *
conn_new(struct evbusd *b, int fd, const struct ev_origin *cred)
{
	struct epoll_event ev;
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = fd;
	c->cred = *cred;
	c->serial = ++b->serial;
	c->state = CONN_HELLO;
	c->deadline = ev_mono_ms() + b->handshake_ms;
	c->events = EPOLLIN;
	ev_decoder_init(&c->dec, EV_LINE_MAX,
	    b->maxevent > EV_SUB_MAX ? b->maxevent : EV_SUB_MAX);
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&b->conns, c, entry);
	b->nconns++;
	log_debug("client %" PRIu64 ": uid %lu pid %ld connected", c->serial,
	    (unsigned long)cred->uid, (long)cred->pid);
	return c;
}

/*
 * Watch for what the connection can use now: input unless it is closing
 * or has too many unread replies, output when the kernel refused a write.
 */
void
conn_watch(struct evbusd *b, struct conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (c->dead)
		return;
	if (c->state != CONN_CLOSING && !c->eof && !b->stopping &&
	    !c->stalled && ev_buf_unread(&c->out) < CONN_OUT_HIGH)
		want |= EPOLLIN;
	if (c->blocked)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		log_warn("epoll_ctl client %" PRIu64, c->serial);
	else
		c->events = want;
}

/*
 * Publish evbus.listener.connected or .disconnected for c: who it is (its
 * name from HELLO, already made safe to quote), and why it left.
 */
static void
conn_announce(struct evbusd *b, const struct conn *c, const char *name,
    const char *why)
{
	char payload[256];

	snprintf(payload, sizeof(payload), "{\"client\":\"%s\",\"conn\":%"
	    PRIu64 ",\"uid\":%lu,\"gid\":%lu,\"pid\":%ld%s%s%s}", c->name,
	    c->serial, (unsigned long)c->cred.uid, (unsigned long)c->cred.gid,
	    (long)c->cred.pid, why ? ",\"reason\":\"" : "", why ? why : "",
	    why ? "\"" : "");
	bus_publish_internal(b, name, payload);
}

/*
 * Hang up.  The connection is marked dead and its descriptor closed now;
 * its memory is freed by conn_reap() at the end of the loop's turn, since
 * the same turn may still hold epoll events that point to it.
 */
void
conn_close(struct evbusd *b, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (c->hello && !b->stopping)
		conn_announce(b, c, "evbus.listener.disconnected", why);
	log_debug("client %" PRIu64 ": closed: %s", c->serial, why);
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	b->nconns--;
	if (!b->accepting && !b->stopping)
		listener_pause(b, false);
}

void
conn_reap(struct evbusd *b)
{
	struct conn *c, *t;

	TAILQ_FOREACH_SAFE(c, &b->conns, entry, t) {
		if (!c->dead)
			continue;
		TAILQ_REMOVE(&b->conns, c, entry);
		ev_decoder_free(&c->dec);
		ev_buf_free(&c->out);
		ev_patset_free(&c->pats);
		msg_unref(c->partial);
		free(c);
	}
}

/*
 * Queue "ERR code text" for the client.  Control characters in the text
 * become '?', so that the reply stays one line whatever it quotes.
 */
static void
conn_error(struct conn *c, const char *code, const char *fmt, ...)
{
	char text[300], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (p = text; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	if (ev_proto_line(&c->out, "ERR %s %s", code, text) == -1)
		log_warn("client %" PRIu64 ": reply", c->serial);
}

/*
 * Read what the client sent (one read of up to CONN_READ bytes: the loop
 * comes back while more is there) and act on every whole frame.
 *
 * A client with nothing buffered (nearly always: frames arrive whole) is
 * lent the daemon's one read buffer, and keeps only the remainder of an
 * incomplete frame in a buffer of its own; so a thousand idle subscribers
 * cost no read buffers at all.
 */
void
conn_read(struct evbusd *b, struct conn *c)
{
	struct ev_buf rest = { 0 };
	bool lent;
	size_t avail;
	ssize_t n;
	char *p;

	if ((lent = ev_buf_unread(&c->dec.in) == 0)) {
		ev_buf_free(&c->dec.in);
		c->dec.in = b->rbuf;
		ev_buf_reset(&c->dec.in);
	}
	if ((p = ev_decoder_space(&c->dec, CONN_READ, &avail)) == NULL) {
		log_warn("client %" PRIu64 ": input buffer", c->serial);
		conn_close(b, c, "out of memory");
		goto out;
	}
	n = read(c->fd, p, avail);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close(b, c, "read error");
		goto out;
	}
	if (n == 0) {
		c->eof = true;
		c->state = CONN_CLOSING;
	} else
		ev_decoder_commit(&c->dec, (size_t)n);
	conn_process(b, c);
	conn_watch(b, c);
out:
	if (lent) {
		if (ev_buf_unread(&c->dec.in) > 0 && ev_buf_append(&rest,
		    ev_buf_head(&c->dec.in), ev_buf_unread(&c->dec.in)) == -1) {
			log_warn("client %" PRIu64 ": input buffer", c->serial);
			conn_close(b, c, "out of memory");
		}
		b->rbuf = c->dec.in;
		c->dec.in = rest;
	} else if (ev_buf_unread(&c->dec.in) == 0)
		ev_buf_free(&c->dec.in);
}

/*
 * Act on the buffered frames until none is whole.  Stop early, leaving the
 * rest for conn_resume(), when the client has so many unread replies that
 * it should read before it says more, or when this turn of the loop has
 * let as many events into the ring as it may before the subscribers are
 * served: half the ring, so that a subscriber that keeps up is never
 * overrun by one large read.
 */
static void
conn_process(struct evbusd *b, struct conn *c)
{
	struct ev_frame f;
	struct ev_err err;
	int r;

	c->stalled = false;
	while (!c->dead) {
		if (ev_buf_unread(&c->out) >= CONN_OUT_HIGH ||
		    b->budget == 0 || b->budget_bytes == 0) {
			c->stalled = true;
			return;
		}
		if ((r = ev_decoder_next(&c->dec, &f, &err)) == 0)
			return;
		if (r == -1) {
			conn_error(c, "proto", "%s", err.msg);
			c->state = CONN_CLOSING;
			return;
		}
		conn_command(b, c, &f);
		if (c->state == CONN_CLOSING && !c->eof)
			return;
	}
}

/* Has the connection frames left that it may now act on? */
bool
conn_resumable(const struct conn *c)
{
	return c->stalled && !c->dead &&
	    ev_buf_unread(&c->out) < CONN_OUT_HIGH / 2;
}

void
conn_resume(struct evbusd *b, struct conn *c)
{
	if (conn_resumable(c)) {
		conn_process(b, c);
		if (ev_buf_unread(&c->dec.in) == 0)
			ev_buf_free(&c->dec.in);
		conn_watch(b, c);
	}
}

/* HELLO 1 NAME: check the version, answer with ours, announce the client. */
static void
conn_hello(struct evbusd *b, struct conn *c, const struct ev_frame *f)
{
	char *p;

	if (f->argc < 1 || strcmp(f->argv[0], "1") != 0) {
		conn_error(c, "proto", "unsupported protocol version %s "
		    "(this bus speaks %d)", f->argc ? f->argv[0] : "(none)",
		    EV_PROTO_VERSION);
		c->state = CONN_CLOSING;
		return;
	}
	snprintf(c->name, sizeof(c->name), "%s",
	    f->argc > 1 ? f->argv[1] : "anonymous");
	for (p = c->name; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == '"' || *p == '\\' ||
		    (unsigned char)*p >= 0x7f)
			*p = '_';
	c->state = CONN_READY;
	c->hello = true;
	if (ev_proto_line(&c->out, "HELLO %d %s %" PRIu64 " %zu",
	    EV_PROTO_VERSION, b->epoch, b->ring.next - 1, b->maxevent) == -1)
		log_warn("client %" PRIu64 ": reply", c->serial);
	conn_announce(b, c, "evbus.listener.connected", NULL);
}

/*
 * PUB: check and stamp the event, drop it if its id is already in the
 * ring (a producer's resend), else append it to the ring.  One reply per
 * PUB, in order: ACK seq, or ERR.
 */
static void
conn_publish(struct evbusd *b, struct conn *c, const struct ev_frame *f)
{
	struct ev_evinfo info;
	struct ev_err err;
	struct msg *m;
	const char *code;

	if (f->oversize) {
		conn_error(c, "limit", "event of %zu bytes exceeds the bus's "
		    "limit of %zu bytes", f->bodylen, b->maxevent);
		return;
	}
	ev_buf_reset(&b->scratch);
	if (ev_event_stamp(f->body, f->bodylen, b->maxevent, b->ring.next,
	    &c->cred, ev_now_ms(), &b->scratch, &info, &err) == -1) {
		code = err.kind == EV_ERR_LIMIT ? "limit" :
		    err.kind == EV_ERR_DENIED ? "denied" : "data";
		conn_error(c, code, "%s", err.msg);
		return;
	}
	if (info.hadid && (m = ring_find_id(&b->ring, info.id)) != NULL) {
		ev_proto_line(&c->out, "ACK %" PRIu64, m->seq);
		return;
	}
	m = msg_new(ev_buf_head(&b->scratch), ev_buf_unread(&b->scratch),
	    b->ring.next, info.time, &info);
	if (m == NULL || ring_push(&b->ring, m) == -1) {
		log_warn("event %" PRIu64, b->ring.next);
		msg_unref(m);
		conn_error(c, "limit", "the bus is out of memory");
		return;
	}
	b->budget--;
	b->budget_bytes = b->budget_bytes > m->len ?
	    b->budget_bytes - m->len : 0;
	if (ev_buf_append(&c->out, "ACK ", 4) == -1 ||
	    ev_buf_putu(&c->out, m->seq) == -1 || ev_buf_putc(&c->out, '\n') == -1)
		log_warn("client %" PRIu64 ": reply", c->serial);
}

static void
conn_command(struct evbusd *b, struct conn *c, const struct ev_frame *f)
{
	struct ev_err err;

	if (c->state == CONN_HELLO) {
		if (strcmp(f->verb, "HELLO") == 0)
			conn_hello(b, c, f);
		else {
			conn_error(c, "state", "say HELLO first");
			c->state = CONN_CLOSING;
		}
		return;
	}
	if (strcmp(f->verb, "PUB") == 0)
		conn_publish(b, c, f);
	else if (strcmp(f->verb, "SUB") == 0) {
		if (f->oversize)
			conn_error(c, "limit", "subscription too large");
		else if (c->sub)
			conn_error(c, "state", "already subscribed");
		else if (sub_start(b, c, f->body, f->bodylen, &err) == -1)
			conn_error(c, "data", "%s", err.msg);
		else
			ev_proto_line(&c->out, "OK");
	} else if (strcmp(f->verb, "PING") == 0)
		ev_proto_line(&c->out, "PONG");
	else if (strcmp(f->verb, "QUIT") == 0)
		c->state = CONN_CLOSING;
	else if (strcmp(f->verb, "HELLO") == 0)
		conn_error(c, "state", "already said HELLO");
	else {
		/* Its bytes cannot be told apart from what follows. */
		conn_error(c, "proto", "unknown command '%s'", f->verb);
		c->state = CONN_CLOSING;
	}
}

/*
 * Append one of the bus's own events to the ring.  payload is compact JSON
 * text or NULL.  -1 when out of memory (logged).
 */
int
bus_publish_internal(struct evbusd *b, const char *name, const char *payload)
{
	struct ev_evinfo info;
	struct msg *m;

	memset(&info, 0, sizeof(info));
	info.namelen = strlen(name);
	memcpy(info.name, name, info.namelen);
	ev_buf_reset(&b->scratch);
	info.time = ev_now_ms();
	if (ev_event_internal(&b->scratch, b->ring.next, &b->self, name,
	    info.time, payload) == -1)
		goto fail;
	m = msg_new(ev_buf_head(&b->scratch), ev_buf_unread(&b->scratch),
	    b->ring.next, info.time, &info);
	if (m == NULL)
		goto fail;
	if (ring_push(&b->ring, m) == -1) {
		msg_unref(m);
		goto fail;
	}
	return 0;
fail:
	log_warn("%s", name);
	return -1;
}
