/*
 * subscribe.c: a subscriber's side of the bus, run from an ev_loop: the
 * SUB request and its reply, resume and restarts across reconnects,
 * reconnection on loop timers, and the de-duplication window.  The
 * contract is written above the declarations in evbus.h.
 *
 * A connection goes HELLO (sent by ev_client_open, the bus's awaited) ->
 * ASKED (SUB sent, OK awaited) -> STREAMING; a loss goes to WAITING, with
 * a retry timer, and back to HELLO.  Every handler returns what to do
 * next instead of acting, so that the events of a read are handed on, and
 * on_batch called, before the connection is dropped.
 */
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

#define SUB_BACKOFF_MIN		50	/* ms before the second try */
#define SUB_BACKOFF_MAX		1000

/* What a frame handler tells sub_frames to do. */
enum sub_next {
	SUB_GO_ON,
	SUB_LOSE,		/* the connection is useless: reconnect */
	SUB_FAIL,		/* give up: err says why */
	SUB_GONE,		/* a callback closed the subscriber */
};

static int	sub_connect(struct ev_subscriber *, int, struct ev_err *);
static void	sub_disconnect(struct ev_subscriber *);
static void	sub_notify(struct ev_subscriber *, enum ev_sub_state,
		    const struct ev_err *);
static void	sub_lost(struct ev_subscriber *, const struct ev_err *);
static void	sub_fail(struct ev_subscriber *, const struct ev_err *);
static int	sub_flush(struct ev_subscriber *, struct ev_err *);
static int	sub_request(struct ev_subscriber *, struct ev_err *);
static enum sub_next sub_on_hello(struct ev_subscriber *,
		    const struct ev_frame *, struct ev_err *);
static enum sub_next sub_on_ok(struct ev_subscriber *,
		    const struct ev_frame *, size_t *, struct ev_err *);
static enum sub_next sub_on_event(struct ev_subscriber *,
		    const struct ev_frame *, size_t *, struct ev_err *);
static enum sub_next sub_restart(struct ev_subscriber *, size_t *,
		    struct ev_err *);
static void	sub_frames(struct ev_subscriber *);
static void	sub_readable(struct ev_loop *, int, void *);
static void	sub_writable(struct ev_loop *, int, void *);
static void	sub_deadline(struct ev_loop *, uint64_t, void *);
static void	sub_retry(struct ev_loop *, uint64_t, void *);
static int	sub_set_build(struct ev_subscriber *);
static bool	sub_set_has(const struct ev_subscriber *, uint64_t);
static void	sub_set_free(struct ev_subscriber *);

void
ev_sub_init(struct ev_subscriber *s)
{
	memset(s, 0, sizeof(*s));
	s->name = "sub";
	s->start = EV_SUB_LIVE;
	s->reconnect = true;
	s->dedup = EV_SUB_DEDUP_DEFAULT;
	s->open_ms = 5000;
	s->c.fd = -1;
}

int
ev_sub_start(struct ev_subscriber *s, struct ev_loop *l, struct ev_err *err)
{
	if (s->on_event == NULL)
		return ev_err_set(err, EV_ERR_DATA, "subscriber: no on_event");
	if (s->dedup > EV_SUB_DEDUP_MAX)
		return ev_err_set(err, EV_ERR_DATA, "de-duplication window: "
		    "at most %d events", EV_SUB_DEDUP_MAX);
	if (s->open_ms <= 0)
		s->open_ms = 5000;
	free(s->win);
	s->win = NULL;
	if (s->dedup > 0 &&
	    (s->win = reallocarray(NULL, s->dedup, sizeof(*s->win))) == NULL)
		return ev_err_sys(err, "de-duplication window");
	s->winpos = s->winn = 0;
	s->loop = l;
	s->ask = s->start;
	s->askat = s->at;
	/* A seq to start at is where we are; 0 means "ask as told". */
	s->pos = s->start == EV_SUB_FROM ? s->at : 0;
	s->epoch[0] = '\0';
	s->restart = s->outage = s->halt = false;
	s->backoff = 0;
	s->end = s->delivered = s->dropped = s->restarts = 0;
	if (sub_connect(s, s->flags, err) == -1) {
		s->loop = NULL;
		return -1;
	}
	return 0;
}

void
ev_sub_close(struct ev_subscriber *s)
{
	if (s->loop == NULL)
		return;
	sub_disconnect(s);
	ev_loop_timer_del(s->loop, s->rtimer);
	s->rtimer = 0;
	sub_set_free(s);
	s->phase = EV_SUB_IDLE;
}

void
ev_sub_free(struct ev_subscriber *s)
{
	ev_sub_close(s);
	free(s->win);
	s->win = NULL;
	s->winn = s->winpos = 0;
	ev_buf_free(&s->line);
	ev_client_close(&s->c);
	s->loop = NULL;
}

/*
 * Connect and send HELLO without waiting for the answer; register the
 * socket and the handshake's deadline.  -1 with err (as ev_client_open),
 * nothing left open or registered.
 */
static int
sub_connect(struct ev_subscriber *s, int flags, struct ev_err *err)
{
	if (ev_client_open(&s->c, s->path, s->name, flags | EV_CLIENT_NOWAIT,
	    s->open_ms, err) == -1) {
		ev_client_close(&s->c);
		return -1;
	}
	if (ev_loop_fd_add(s->loop, s->c.fd, EV_LOOP_READ, sub_readable,
	    sub_writable, s, err) == -1)
		goto fail;
	if ((s->htimer = ev_loop_timer_add(s->loop, s->open_ms, sub_deadline,
	    s)) == 0) {
		ev_err_sys(err, "subscriber");
		ev_loop_fd_del(s->loop, s->c.fd);
		goto fail;
	}
	s->phase = EV_SUB_HELLO;
	return 0;
fail:
	ev_client_close(&s->c);
	return -1;
}

/* Drop the connection, if any, and its deadline. */
static void
sub_disconnect(struct ev_subscriber *s)
{
	if (s->c.fd != -1) {
		ev_loop_fd_del(s->loop, s->c.fd);
		ev_client_close(&s->c);
	}
	ev_loop_timer_del(s->loop, s->htimer);
	s->htimer = 0;
}

static void
sub_notify(struct ev_subscriber *s, enum ev_sub_state st,
    const struct ev_err *err)
{
	if (s->on_state != NULL)
		s->on_state(s->arg, st, err);
}

/*
 * The connection is gone (or could not be made): without reconnect, stop
 * (CLOSED); else try again after the backoff, which starts at 0 (the
 * first try is at once), then 50 ms, doubling up to 1 s, and is reset
 * by a subscription that succeeds.  LOST is reported once per outage.
 */
static void
sub_lost(struct ev_subscriber *s, const struct ev_err *why)
{
	struct ev_err err;

	sub_disconnect(s);
	if (!s->reconnect) {
		ev_sub_close(s);
		sub_notify(s, EV_SUB_CLOSED, why);
		return;
	}
	s->phase = EV_SUB_WAITING;
	if ((s->rtimer = ev_loop_timer_add(s->loop, s->backoff, sub_retry,
	    s)) == 0) {
		ev_err_sys(&err, "subscriber");
		sub_fail(s, &err);
		return;
	}
	s->backoff = s->backoff == 0 ? SUB_BACKOFF_MIN :
	    s->backoff * 2 > SUB_BACKOFF_MAX ? SUB_BACKOFF_MAX : s->backoff * 2;
	if (!s->outage) {
		s->outage = true;
		sub_notify(s, EV_SUB_LOST, why);
	}
}

static void
sub_fail(struct ev_subscriber *s, const struct ev_err *why)
{
	ev_sub_close(s);
	sub_notify(s, EV_SUB_FAILED, why);
}

static void
sub_retry(struct ev_loop *l, uint64_t id, void *arg)
{
	struct ev_subscriber *s = arg;
	struct ev_err err;

	(void)l;
	(void)id;
	s->rtimer = 0;
	if (sub_connect(s, s->flags & ~EV_CLIENT_AUTOSTART, &err) == 0)
		return;
	if (err.kind == EV_ERR_DENIED || err.kind == EV_ERR_PROTO ||
	    err.kind == EV_ERR_DATA)
		sub_fail(s, &err);
	else
		sub_lost(s, &err);
}

static void
sub_deadline(struct ev_loop *l, uint64_t id, void *arg)
{
	struct ev_subscriber *s = arg;
	struct ev_err err;

	(void)l;
	(void)id;
	s->htimer = 0;
	ev_err_set(&err, EV_ERR_TIMEOUT, "the bus at %s did not answer "
	    "within %d ms", s->c.path, s->open_ms);
	sub_lost(s, &err);
}

/*
 * Write what is queued (a SUB request) without blocking; what the socket
 * does not take now goes when it is writable.  -1 with err on a lost bus.
 */
static int
sub_flush(struct ev_subscriber *s, struct ev_err *err)
{
	ssize_t n;

	while (ev_buf_unread(&s->c.out) > 0) {
		n = send(s->c.fd, ev_buf_head(&s->c.out),
		    ev_buf_unread(&s->c.out), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			ev_buf_consume(&s->c.out, (size_t)n);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			ev_loop_fd_mask(s->loop, s->c.fd,
			    EV_LOOP_READ | EV_LOOP_WRITE);
			return 0;
		}
		return ev_err_set(err, EV_ERR_UNAVAILABLE,
		    "lost the bus at %s: %s", s->c.path, strerror(errno));
	}
	ev_loop_fd_mask(s->loop, s->c.fd, EV_LOOP_READ);
	return 0;
}

static void
sub_writable(struct ev_loop *l, int fd, void *arg)
{
	struct ev_subscriber *s = arg;
	struct ev_err err;

	(void)l;
	(void)fd;
	if (sub_flush(s, &err) == -1)
		sub_lost(s, &err);
}

/*
 * Queue the SUB request: the patterns, and where to start: after a
 * restart, the new daemon's oldest event (from 0); once events were
 * handed on (or a seq given), the next seq; else as the caller asked.
 * The JSON is built here (patterns escaped by ev_json_put_string); it
 * is small and made once per connection.  -1 with err (EV_ERR_DATA for a
 * pattern that is not UTF-8, EV_ERR_SYS when out of memory).
 */
static int
sub_request(struct ev_subscriber *s, struct ev_err *err)
{
	struct ev_buf b = { 0 };
	uint64_t v = 0;
	const char *key = NULL;
	size_t i;
	int r = -1;

	if (ev_buf_append(&b, "{\"patterns\":[", 13) == -1)
		goto nomem;
	for (i = 0; i < s->npats; i++) {
		if (i > 0 && ev_buf_putc(&b, ',') == -1)
			goto nomem;
		if (ev_json_put_string(&b, s->pats[i], strlen(s->pats[i]),
		    err) == -1)
			goto out;
	}
	if (s->restart)
		key = "from";
	else if (s->pos > 0) {
		key = "from";
		v = s->pos;
	} else if (s->ask == EV_SUB_LAST) {
		key = "last";
		v = s->askat;
	} else if (s->ask == EV_SUB_FROM)
		key = "from";
	if (ev_buf_putc(&b, ']') == -1 || (key != NULL &&
	    (ev_buf_printf(&b, ",\"%s\":", key) == -1 ||
	    ev_buf_putu(&b, v) == -1)) || ev_buf_putc(&b, '}') == -1 ||
	    ev_proto_body(&s->c.out, "SUB", ev_buf_head(&b),
	    ev_buf_unread(&b)) == -1)
		goto nomem;
	r = 0;
	goto out;
nomem:
	ev_err_sys(err, "subscription");
out:
	ev_buf_free(&b);
	return r;
}

/* The bus's HELLO: where are we, and has it restarted?  Then SUB. */
static enum sub_next
sub_on_hello(struct ev_subscriber *s, const struct ev_frame *f,
    struct ev_err *err)
{
	size_t i;

	if (ev_client_hello(&s->c, f, err) == -1)
		/* "limit": too many clients for now; retry later. */
		return err->kind == EV_ERR_UNAVAILABLE ? SUB_LOSE : SUB_FAIL;
	for (i = 0; i < EV_EPOCH_LEN; i++)
		if (strchr("0123456789abcdefABCDEF", s->c.epoch[i]) == NULL) {
			ev_err_set(err, EV_ERR_PROTO, "the bus at %s sent a "
			    "bad epoch", s->c.path);
			return SUB_FAIL;
		}
	if (s->epoch[0] == '\0') {
		/* The first bus: "live" means after its newest now. */
		memcpy(s->epoch, s->c.epoch, sizeof(s->epoch));
		if (s->ask == EV_SUB_LIVE)
			s->pos = s->c.last_seq + 1;
	}
	s->restart = strcmp(s->epoch, s->c.epoch) != 0;
	if (sub_request(s, err) == -1)
		return SUB_FAIL;
	s->phase = EV_SUB_ASKED;
	return sub_flush(s, err) == -1 ? SUB_LOSE : SUB_GO_ON;
}

/* The answer to SUB: OK <end>, or ERR when the bus refuses it. */
static enum sub_next
sub_on_ok(struct ev_subscriber *s, const struct ev_frame *f,
    size_t *handed, struct ev_err *err)
{
	char verb[32];
	uint64_t end;
	enum sub_next next;

	if (strcmp(f->verb, "ERR") == 0) {
		/* ERR denied (the bus's ACL): permission, exit 77. */
		ev_err_set(err, f->argc > 0 && strcmp(f->argv[0],
		    "denied") == 0 ? EV_ERR_DENIED : EV_ERR_DATA, "the bus "
		    "refused the subscription: %s", f->argc > 1 ? f->argv[1] :
		    f->argc > 0 ? f->argv[0] : "no reason given");
		return SUB_FAIL;
	}
	if (strcmp(f->verb, "OK") != 0 || f->argc < 1 ||
	    ev_parse_u64(f->argv[0], strlen(f->argv[0]), UINT64_MAX,
	    &end) == -1) {
		snprintf(verb, sizeof(verb), "%s", f->verb);
		ev_text_sanitize(verb);
		ev_err_set(err, EV_ERR_PROTO, "the bus answered '%s' to SUB, "
		    "not OK and a seq", verb);
		return SUB_FAIL;
	}
	ev_loop_timer_del(s->loop, s->htimer);
	s->htimer = 0;
	s->end = end;
	s->phase = EV_SUB_STREAMING;
	s->backoff = 0;
	if (s->restart && (next = sub_restart(s, handed, err)) != SUB_GO_ON)
		return next;
	s->outage = false;
	sub_notify(s, EV_SUB_SUBSCRIBED, NULL);
	return s->phase == EV_SUB_IDLE ? SUB_GONE : SUB_GO_ON;
}

/*
 * Subscribed to a daemon with a new epoch: hand on the restart line, follow
 * the new epoch from its start, and arm the de-duplication set.
 */
static enum sub_next
sub_restart(struct ev_subscriber *s, size_t *handed, struct ev_err *err)
{
	struct ev_origin self = { getuid(), getgid(), getpid() };
	struct ev_subev ev;
	char payload[160];

	snprintf(payload, sizeof(payload), "{\"reason\":\"restart\","
	    "\"epoch\":\"%s\",\"previous_epoch\":\"%s\",\"after\":%" PRIu64
	    "}", s->c.epoch, s->epoch, s->pos > 0 ? s->pos - 1 : 0);
	ev_buf_reset(&s->line);
	if (ev_event_internal(&s->line, 0, &self, "evbus.gap", ev_now_ms(),
	    payload) == -1 || sub_set_build(s) == -1) {
		ev_err_sys(err, "subscriber");
		return SUB_FAIL;
	}
	memcpy(s->epoch, s->c.epoch, sizeof(s->epoch));
	s->restart = false;
	s->ask = EV_SUB_FROM;
	s->askat = 0;
	s->pos = 0;
	s->restarts++;
	ev.kind = EV_SUBEV_RESTART;
	ev.json = ev_buf_head(&s->line);
	ev.len = ev_buf_unread(&s->line);
	ev.seq = 0;
	(*handed)++;
	if (s->on_event(s->arg, &ev) != 0)
		s->halt = true;
	return s->phase == EV_SUB_IDLE ? SUB_GONE : SUB_GO_ON;
}

/*
 * One EVENT frame: a notice (no seq) is handed on as it is; an event is
 * dropped if the de-duplication set (armed by a restart) has its id, else
 * its id goes into the window and it is handed on.
 * Cost: the event's head, one hash, one store; a probe while a set is
 * armed.
 */
static enum sub_next
sub_on_event(struct ev_subscriber *s, const struct ev_frame *f,
    size_t *handed, struct ev_err *err)
{
	struct ev_subev ev;
	const char *id;
	char verb[32];
	size_t idlen;
	uint64_t h;
	bool dup;

	if (strcmp(f->verb, "EVENT") != 0 || f->body == NULL) {
		snprintf(verb, sizeof(verb), "%s", f->verb);
		ev_text_sanitize(verb);
		if (f->oversize)
			ev_err_set(err, EV_ERR_PROTO, "the bus sent an event "
			    "of %zu bytes, too large to read", f->bodylen);
		else
			ev_err_set(err, EV_ERR_PROTO, "unexpected '%s' from "
			    "the bus", verb);
		return SUB_FAIL;
	}
	if (ev_event_head(f->body, f->bodylen, &ev.seq, &id, &idlen) == -1) {
		ev_err_set(err, EV_ERR_PROTO, "the bus sent an event that "
		    "does not start {\"seq\":N,\"id\":...");
		return SUB_FAIL;
	}
	ev.kind = ev.seq > 0 ? EV_SUBEV_EVENT : EV_SUBEV_NOTICE;
	ev.json = f->body;
	ev.len = f->bodylen;
	if (ev.seq > 0) {
		h = ev_id_hash(id, idlen);
		if (h == 0)	/* 0 marks an empty slot of the set */
			h = 1;
		if (s->set != NULL) {
			dup = sub_set_has(s, h);
			if (--s->setleft == 0)
				sub_set_free(s);
			if (dup) {
				s->dropped++;
				s->pos = ev.seq + 1;
				return SUB_GO_ON;
			}
		}
		if (s->win != NULL) {
			s->win[s->winpos] = h;
			if (++s->winpos == s->dedup)
				s->winpos = 0;
			if (s->winn < s->dedup)
				s->winn++;
		}
		s->pos = ev.seq + 1;
		s->delivered++;
	}
	(*handed)++;
	if (s->on_event(s->arg, &ev) != 0)
		s->halt = true;
	return s->phase == EV_SUB_IDLE ? SUB_GONE : SUB_GO_ON;
}

/*
 * Handle the complete frames read so far; then on_batch for what was
 * handed on; then act on a loss or failure met on the way.
 */
static void
sub_frames(struct ev_subscriber *s)
{
	struct ev_frame f;
	struct ev_err err;
	enum sub_next next = SUB_GO_ON;
	size_t handed = 0;
	int r;

	while (!s->halt && next == SUB_GO_ON &&
	    (r = ev_decoder_next(&s->c.dec, &f, &err)) != 0) {
		if (r == -1) {
			ev_err_set(&err, EV_ERR_PROTO, "the bus broke the "
			    "protocol: %s", err.msg);
			next = SUB_FAIL;
		} else if (s->phase == EV_SUB_HELLO)
			next = sub_on_hello(s, &f, &err);
		else if (s->phase == EV_SUB_ASKED)
			next = sub_on_ok(s, &f, &handed, &err);
		else
			next = sub_on_event(s, &f, &handed, &err);
	}
	if (next == SUB_GONE)
		return;
	if (handed > 0 && s->on_batch != NULL) {
		s->on_batch(s->arg);
		if (s->phase == EV_SUB_IDLE)
			return;
	}
	if (s->halt)
		ev_sub_close(s);
	else if (next == SUB_LOSE)
		sub_lost(s, &err);
	else if (next == SUB_FAIL)
		sub_fail(s, &err);
}

/*
 * The socket is readable: one read, then its frames.  At the end of the
 * stream (a daemon that died still leaves what it wrote to be read
 * first), reconnect.
 */
static void
sub_readable(struct ev_loop *l, int fd, void *arg)
{
	struct ev_subscriber *s = arg;
	struct ev_err err;
	ssize_t n;

	(void)l;
	(void)fd;
	err.kind = EV_ERR_NONE;
	n = ev_client_fill(&s->c, &err);
	if (n > 0) {
		sub_frames(s);
		return;
	}
	if (n == -1 && err.kind == EV_ERR_NONE)
		return;				/* EAGAIN */
	if (n == 0)
		ev_err_set(&err, EV_ERR_UNAVAILABLE, "the bus at %s closed "
		    "the connection", s->c.path);
	sub_lost(s, &err);
}

/* --- the de-duplication window ---------------------------------------- */

/*
 * Make the set of the window's hashes: open addressing, linear probing,
 * at most half full.  It answers for the next dedup events.  An empty
 * window, or none, makes no set.  -1 with errno ENOMEM.
 * Cost: one allocation of 16 bytes per hash in the window (rounded up to
 * a power of two) and one insert per hash.
 */
static int
sub_set_build(struct ev_subscriber *s)
{
	size_t cap = 16, i, j;

	sub_set_free(s);
	if (s->winn == 0)
		return 0;
	while (cap < 2 * s->winn)
		cap *= 2;
	if ((s->set = calloc(cap, sizeof(*s->set))) == NULL)
		return -1;
	s->setcap = cap;
	for (i = 0; i < s->winn; i++) {
		for (j = s->win[i] & (cap - 1); s->set[j] != 0 &&
		    s->set[j] != s->win[i]; j = (j + 1) & (cap - 1))
			;
		s->set[j] = s->win[i];
	}
	s->setleft = s->dedup;
	return 0;
}

static bool
sub_set_has(const struct ev_subscriber *s, uint64_t h)
{
	size_t j;

	for (j = h & (s->setcap - 1); s->set[j] != 0;
	    j = (j + 1) & (s->setcap - 1))
		if (s->set[j] == h)
			return true;
	return false;
}

static void
sub_set_free(struct ev_subscriber *s)
{
	free(s->set);
	s->set = NULL;
	s->setcap = s->setleft = 0;
}
