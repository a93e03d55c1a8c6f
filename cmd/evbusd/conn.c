/*
 * conn.c: a client connection: its input, its commands, and its output --
 * replies (held back while they acknowledge events not yet committed) and
 * the ring's events it subscribed to, written straight from shared bytes.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

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
#define FLUSH_IOV	512		/* pieces in one sendmsg: two per event */
#define FLUSH_BYTES	(256 * 1024)	/* bytes offered to one sendmsg */

static void	conn_process(struct evbusd *, struct conn *);
static void	conn_command(struct evbusd *, struct conn *,
		    const struct ev_frame *);

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
	/* Frames are acted on as they are decoded: one buffer for all. */
	ev_decoder_lend_line(&c->dec, b->line);
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&b->conns, c, entry);
	b->nconns++;
	log_info("client %" PRIu64 ": uid %lu pid %ld connected", c->serial,
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
 * Publish evbus.listener.connected or .disconnected for subscriber c: who
 * it is (its name from HELLO, already made safe to quote), what it
 * listens to, and why it left.  Publishers are not announced: a one-shot
 * evfire would otherwise cost the ring two events of the bus's own.
 */
void
conn_announce(struct evbusd *b, const struct conn *c, const char *name,
    const char *why)
{
	struct ev_buf p = { 0 };
	int r;

	r = ev_buf_printf(&p, "{\"client\":\"%s\",\"conn\":%" PRIu64
	    ",\"uid\":%lu,\"gid\":%lu,\"pid\":%ld,\"patterns\":", c->name,
	    c->serial, (unsigned long)c->cred.uid, (unsigned long)c->cred.gid,
	    (long)c->cred.pid);
	if (r == 0)
		r = sub_patterns_json(c, &p);
	if (r == 0)
		r = ev_buf_printf(&p, "%s%s%s}", why ? ",\"reason\":\"" : "",
		    why ? why : "", why ? "\"" : "");
	if (r == 0)
		bus_announce(b, name, ev_buf_head(&p));
	else
		log_warnx("client %" PRIu64 ": %s: out of memory", c->serial,
		    name);
	ev_buf_free(&p);
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
	if (c->sub && !b->stopping && !c->quiet)
		conn_announce(b, c, "evbus.listener.disconnected", why);
	sub_stop(b, c);
	c->sub = false;
	if (b->store != NULL)		/* --store (store.c) */
		store_conn_gone(b, c);
	log_info("client %" PRIu64 " (%s): closed: %s", c->serial,
	    c->hello ? c->name : "no HELLO", why);
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	b->nconns--;
}

/* Free the connections closed during this turn; how many there were. */
size_t
conn_reap(struct evbusd *b)
{
	struct conn *c, *t;
	size_t n = 0;

	TAILQ_FOREACH_SAFE(c, &b->conns, entry, t) {
		if (!c->dead)
			continue;
		TAILQ_REMOVE(&b->conns, c, entry);
		ev_decoder_free(&c->dec);
		ev_buf_free(&c->out);
		free(c->hold);
		ev_patset_free(&c->pats);
		ev_identity_free(&c->ident);
		sub_where_free(c);
		ev_msg_unref(c->partial);
		acl_conn_free(c);
		session_detach(b, c);
		free(c);
		n++;
	}
	return n;
}

/*
 * Queue one reply line (the format without its newline).  A reply after
 * an acknowledgement that is held is held with it: replies keep their
 * order.  -1 when out of memory; the caller must close the connection.
 */
int
conn_reply(struct conn *c, const char *fmt, ...)
{
	size_t before = ev_buf_unread(&c->out);
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = ev_buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (r == -1 || ev_buf_putc(&c->out, '\n') == -1) {
		ev_buf_truncate(&c->out, before);
		return -1;
	}
	c->out_added += ev_buf_unread(&c->out) - before;
	return 0;
}

/*
 * Queue "ERR code text".  The text may quote what the client sent:
 * control characters and bytes that are not UTF-8 become '?', so that the
 * reply stays one clean line.  -1 as conn_reply.
 */
int
conn_error(struct conn *c, const char *code, const char *fmt, ...)
{
	char text[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ev_text_sanitize(text);
	log_info("client %" PRIu64 " (%s): refused: ERR %s %s", c->serial,
	    c->hello ? c->name : "no HELLO", code, text);
	return conn_reply(c, "ERR %s %s", code, text);
}

/*
 * Queue "ACK seq" (or "ACK seq dup"), held until the bus has committed
 * seq.  -1 as conn_reply.
 * Cost: O(1); a hold checkpoint per commit batch, not per event.
 */
int
conn_ack(struct evbusd *b, struct conn *c, uint64_t seq, bool dup)
{
	uint64_t start = c->out_added;
	struct holdpt *h;
	size_t ncap, before;

	if (seq > b->committed) {
		h = c->nhold > 0 ? &c->hold[c->nhold - 1] : NULL;
		if (h != NULL && h->batch == b->batch)
			h->seq = seq;
		else {
			if (c->nhold == c->holdcap) {
				ncap = c->holdcap ? c->holdcap * 2 : 4;
				if ((h = reallocarray(c->hold, ncap,
				    sizeof(*h))) == NULL)
					return -1;
				c->hold = h;
				c->holdcap = ncap;
			}
			h = &c->hold[c->nhold++];
			h->start = start;
			h->seq = seq;
			h->batch = b->batch;
		}
	}
	/* The hot path: no printf. */
	before = ev_buf_unread(&c->out);
	if (ev_buf_append(&c->out, "ACK ", 4) == -1 ||
	    ev_buf_putu(&c->out, seq) == -1 ||
	    (dup && ev_buf_append(&c->out, " dup", 4) == -1) ||
	    ev_buf_putc(&c->out, '\n') == -1) {
		ev_buf_truncate(&c->out, before);
		return -1;
	}
	c->out_added += ev_buf_unread(&c->out) - before;
	return 0;
}

/* Let go of the replies whose events are now committed. */
void
conn_release(struct evbusd *b, struct conn *c)
{
	size_t i;

	for (i = 0; i < c->nhold && c->hold[i].seq <= b->committed; i++)
		;
	if (i == 0)
		return;
	memmove(c->hold, c->hold + i, (c->nhold - i) * sizeof(*c->hold));
	c->nhold -= i;
}

/* Bytes of out that may be written now. */
static size_t
conn_releasable(const struct conn *c)
{
	if (c->nhold == 0)
		return ev_buf_unread(&c->out);
	return (size_t)(c->hold[0].start - c->out_sent);
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
			if (conn_error(c, "proto", "%s", err.msg) == -1)
				conn_close(b, c, "out of memory for a reply");
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

/*
 * HELLO VERSION [NAME [key=value...]]: check the version and the keys,
 * answer with ours, announce the client.  Known keys: token.  An unknown
 * key is refused: a client must not believe the bus applies what it
 * ignored.
 */
static void
conn_hello(struct evbusd *b, struct conn *c, const struct ev_frame *f)
{
	struct ev_err err;
	const char *eq;
	char *p, token[128] = "";
	int i;

	if (f->argc < 1 || strcmp(f->argv[0], EV_PROTO_VERSION_S) != 0) {
		conn_error(c, "proto", "unsupported protocol version %s "
		    "(this bus speaks %d): use evbus programs of the same "
		    "release as evbusd", f->argc ? f->argv[0] : "(none)",
		    EV_PROTO_VERSION);
		c->state = CONN_CLOSING;
		return;
	}
	for (i = 2; i < f->argc; i++) {
		eq = strchr(f->argv[i], '=');
		if (eq != NULL && eq - f->argv[i] == 5 &&
		    strncmp(f->argv[i], "token", 5) == 0 &&
		    strlen(eq + 1) < sizeof(token)) {
			memcpy(token, eq + 1, strlen(eq + 1) + 1);
			continue;
		}
		/* Producer sessions (issue 9): session=<16 hex digits>. */
		if (eq != NULL && eq - f->argv[i] == 7 &&
		    strncmp(f->argv[i], "session", 7) == 0) {
			if (session_attach(b, c, eq + 1) == 0)
				continue;
			if (errno == ENOMEM) {
				conn_close(b, c, "out of memory for a session");
				goto out;
			}
			conn_error(c, "proto", "HELLO: session: '%.32s' is not "
			    "16 hex digits", eq + 1);
			c->state = CONN_CLOSING;
			goto out;
		}
		conn_error(c, "proto", "HELLO: unknown key '%.*s' (this bus "
		    "knows token, session)", (int)(eq != NULL ? eq - f->argv[i] : 32),
		    f->argv[i]);
		c->state = CONN_CLOSING;
		goto out;
	}
	snprintf(c->name, sizeof(c->name), "%s",
	    f->argc > 1 ? f->argv[1] : "anonymous");
	for (p = c->name; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == '"' || *p == '\\' ||
		    (unsigned char)*p >= 0x7f)
			*p = '_';
	/* ACL: who it is for the rules, what it may fire. */
	if (acl_hello(b, c, token, &err) == -1) {
		log_warnx("client %" PRIu64 ": %s", c->serial, err.msg);
		if (conn_error(c, "limit", "the bus cannot tell what uid %lu "
		    "may do: %s", (unsigned long)c->cred.uid, err.msg) == -1)
			conn_close(b, c, "out of memory for a reply");
		c->state = CONN_CLOSING;
		goto out;
	}
	c->state = CONN_READY;
	c->hello = true;
	if (conn_reply(c, "HELLO %d %s %" PRIu64 " %zu features=%s%s%s "
	    "max_depth=%zu", EV_PROTO_VERSION, b->epoch,
	    ev_ring_next(&b->ring) - 1, b->maxevent, EVBUSD_FEATURES,
	    b->acl != NULL ? ",acl" : "", b->store != NULL ? ",durable" : "",
	    b->maxdepth) == -1) {
		conn_close(b, c, "out of memory for a reply");
		goto out;
	}
out:
	/* The token lives on as its hash in c->aclid at most. */
	explicit_bzero(token, sizeof(token));
}

static void
conn_command(struct evbusd *b, struct conn *c, const struct ev_frame *f)
{
	struct ev_err err;
	int r = 0;

	log_debug("client %" PRIu64 ": %s%s%s", c->serial, f->verb,
	    f->body != NULL || f->oversize ? " of " : "",
	    f->body != NULL || f->oversize ? "a body" : "");
	if (c->state == CONN_HELLO) {
		if (strcmp(f->verb, "HELLO") == 0)
			conn_hello(b, c, f);
		else {
			r = conn_error(c, "state", "say HELLO first");
			c->state = CONN_CLOSING;
		}
	} else if (strcmp(f->verb, "PUB") == 0)
		bus_pub(b, c, f);
	else if (strcmp(f->verb, "SUB") == 0) {
		if (f->oversize)
			r = conn_error(c, "limit", "subscription too large");
		else if (c->sub)
			r = conn_error(c, "state", "already subscribed");
		else if (sub_start(b, c, f->body, f->bodylen, &err) == -1)
			r = conn_error(c, err.kind == EV_ERR_SYS ? "limit" :
			    err.kind == EV_ERR_DENIED ? "denied" :
			    err.kind == EV_ERR_UNAVAILABLE ? "state" : "data",
			    "%s", err.msg);
	} else if (strcmp(f->verb, "CURSOR") == 0)	/* --store */
		store_cursor(b, c, f);
	else if (strcmp(f->verb, "PING") == 0)
		r = conn_reply(c, "PONG");
	else if (strcmp(f->verb, "STATS") == 0) {
		ev_buf_reset(&b->scratch);
		r = bus_stats(b, c, &b->scratch);
		if (r == 0)
			r = conn_reply(c, "INFO %zu\n%s",
			    ev_buf_unread(&b->scratch), ev_buf_head(&b->scratch));
	}
	else if (strcmp(f->verb, "QUIT") == 0)
		c->state = CONN_CLOSING;
	else if (strcmp(f->verb, "HELLO") == 0)
		r = conn_error(c, "state", "already said HELLO");
	else {
		/* Its bytes cannot be told apart from what follows. */
		r = conn_error(c, "proto", "unknown command '%.32s'", f->verb);
		c->state = CONN_CLOSING;
	}
	if (r == -1)
		conn_close(b, c, "out of memory for a reply");
}

bool
conn_pending(const struct evbusd *b, const struct conn *c)
{
	if (c->dead || c->blocked)
		return false;
	return c->partial != NULL || conn_releasable(c) > 0 ||
	    (c->sub && c->pending && c->cursor < bus_visible(b));
}

/* An event's frame as two pieces from byte off on: its header, its line. */
static int
frame_iov(struct ev_msg *m, char *head, size_t off, struct iovec *iov)
{
	size_t hlen = ev_msg_framehead(m, head);
	int n = 0;

	if (off < hlen) {
		iov[n].iov_base = head + off;
		iov[n++].iov_len = hlen - off;
		off = 0;
	} else
		off -= hlen;
	iov[n].iov_base = m->line + off;
	iov[n++].iov_len = m->len - off;
	return n;
}

/* Bytes of m's frame: its header and its line. */
static size_t
frame_len(const struct ev_msg *m)
{
	char head[EV_FRAMEHEAD_MAX];

	return ev_msg_framehead(m, head) + m->len;
}

/*
 * Write to the client what it has coming, in order: the rest of an event
 * it got in part, its releasable replies (and gap notices), then the
 * ring's events from its cursor that it wants -- gathered into one
 * sendmsg, each event's frame header as its own piece beside the ring's
 * bytes, which are never copied.  Stops when the kernel takes no more
 * (and watches for output), or when nothing is left, or (where) once a
 * subscriber with filters was looked at for SUB_WHERE_STEP events: the
 * loop comes back to it after the others, which share its located
 * events.  Returns -1 when the connection failed and was closed.
 * Cost: one delivery decision per event passed over, one system call per
 * FLUSH_IOV / 2 events or FLUSH_BYTES bytes.
 */
int
conn_flush(struct evbusd *b, struct conn *c)
{
	struct iovec iov[FLUSH_IOV + 3];
	struct ev_msg *im[FLUSH_IOV / 2], *m;
	char head[FLUSH_IOV / 2 + 1][EV_FRAMEHEAD_MAX];
	struct msghdr mh;
	size_t total, w, outlen, i, nm, flen, plen = 0;
	uint64_t scan, visible;
	ssize_t r;
	int n, logged = 0;
	bool held;
	/* where: a filtering subscriber goes SUB_WHERE_STEP events a call */
	uint64_t limit = c->where != NULL ? c->cursor + SUB_WHERE_STEP :
	    UINT64_MAX;

	while (conn_pending(b, c)) {
		/* --store: behind the ring, it is served from the log. */
		if (c->sub && c->pending && c->cursor <
		    ev_ring_first(&b->ring) && b->store != NULL) {
			if (logged++ == 4)
				return 0;	/* let the others have a turn */
			if (store_backfill(b, c) == -1) {
				conn_close(b, c, "out of memory for events");
				return -1;
			}
		} else if (c->sub && c->pending && c->cursor <
		    ev_ring_first(&b->ring) && sub_gap(b, c) == -1) {
			conn_close(b, c, "out of memory for a gap notice");
			return -1;
		}
		visible = bus_visible(b);
		n = 0;
		nm = 0;
		total = 0;
		if (c->partial != NULL) {
			plen = frame_len(c->partial) - c->partial_off;
			n += frame_iov(c->partial, head[FLUSH_IOV / 2],
			    c->partial_off, iov);
		}
		outlen = conn_releasable(c);
		if (outlen > 0) {
			iov[n].iov_base = ev_buf_head(&c->out);
			iov[n++].iov_len = outlen;
		}
		/*
		 * Replies held until their events commit (ACKs, and an OK
		 * queued behind them) go before any event: a subscriber's
		 * events never overtake the replies to what it sent first.
		 */
		held = outlen < ev_buf_unread(&c->out);
		for (scan = c->cursor; c->sub && !held && scan < visible &&
		    scan >= ev_ring_first(&b->ring) &&
		    nm < FLUSH_IOV / 2 && total < FLUSH_BYTES &&
		    scan < limit; scan++) {
			m = ev_ring_get(&b->ring, scan);
			if (!sub_wants(c, m))
				continue;
			n += frame_iov(m, head[nm], 0, iov + n);
			total += m->len;
			im[nm++] = m;
		}
		if (n == 0) {
			if (held)
				break;		/* the commit releases them */
			c->cursor = scan;
			if (scan == ev_ring_next(&b->ring)) {
				/* evlist: a SYNC queued now goes next pass. */
				if (sub_caught_up(b, c) == -1) {
					conn_close(b, c, "out of memory for "
					    "a reply");
					return -1;
				}
				if (conn_releasable(c) > 0)
					continue;
			}
			break;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		r = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				c->blocked = true;
				conn_watch(b, c);
				return 0;
			}
			conn_close(b, c, errno == EPIPE ||
			    errno == ECONNRESET ? "hung up" : "write error");
			return -1;
		}
		w = (size_t)r;
		if (c->partial != NULL) {
			if (w >= plen) {
				w -= plen;
				ev_msg_unref(c->partial);
				c->partial = NULL;
			} else {
				c->partial_off += w;
				w = 0;
			}
		}
		if (outlen > 0) {
			size_t k = w < outlen ? w : outlen;

			ev_buf_consume(&c->out, k);
			c->out_sent += k;
			w -= k;
			/* A burst of replies is over: give back its memory. */
			if (ev_buf_unread(&c->out) == 0 && c->out.cap > 65536)
				ev_buf_free(&c->out);
		}
		for (i = 0; i < nm; i++) {
			m = im[i];
			flen = frame_len(m);
			if (w >= flen) {
				w -= flen;
				c->cursor = m->seq + 1;
				c->delivered++;
				b->events_out++;
				continue;
			}
			if (w > 0) {
				c->delivered++;
				b->events_out++;
				ev_msg_ref(m);
				c->partial = m;
				c->partial_off = w;
				c->cursor = m->seq + 1;
				w = 0;
				i++;
			}
			break;
		}
		if (i < nm || c->partial != NULL || conn_releasable(c) > 0) {
			/* A short write: the socket is full. */
			if (i < nm && c->partial == NULL)
				c->cursor = im[i]->seq;
			c->blocked = true;
			conn_watch(b, c);
			return 0;
		}
		c->cursor = scan;
		if (scan == ev_ring_next(&b->ring) &&
		    sub_caught_up(b, c) == -1) {
			conn_close(b, c, "out of memory for a reply");
			return -1;
		}
	}
	return 0;
}
