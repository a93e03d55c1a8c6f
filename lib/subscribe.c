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

#include <jansson.h>

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
static int	sub_request_ident(struct ev_buf *,
		    const struct ev_identity *, struct ev_err *);
static enum sub_next sub_on_sync(struct ev_subscriber *,
		    const struct ev_frame *, struct ev_err *);
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
static bool	sub_bus_has(const struct ev_frame *, const char *);
static int	sub_where_put(const struct ev_subscriber *, struct ev_buf *,
		    struct ev_err *);
static int	sub_set_build(struct ev_subscriber *);
static bool	sub_set_has(const struct ev_subscriber *, uint64_t);
static void	sub_set_free(struct ev_subscriber *);
/* Durable consumption: --durable, --cursor-file, --drain. */
static int	sub_durable_start(struct ev_subscriber *, struct ev_err *);
static int	sub_durable_hello(struct ev_subscriber *,
		    const struct ev_frame *, struct ev_err *);
static int	sub_request_durable(const struct ev_subscriber *,
		    struct ev_buf *);
static int	sub_drain_ok(struct ev_subscriber *, struct ev_err *);
static bool	sub_skip(struct ev_subscriber *, uint64_t);
static void	sub_handed(struct ev_subscriber *, uint64_t);
static int	sub_cursor(struct ev_subscriber *, struct ev_err *);
static int	sub_stats(struct ev_subscriber *, struct ev_err *);
static void	sub_stats_due(struct ev_loop *, uint64_t, void *);
static enum sub_next sub_on_info(struct ev_subscriber *,
		    const struct ev_frame *, struct ev_err *);
static void	sub_caught_up(struct ev_subscriber *);

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
	/* evlist: an epoch known in advance: a bus with another restarted. */
	if (s->known_epoch != NULL && s->known_epoch[0] != '\0') {
		if (!ev_epoch_valid(s->known_epoch))
			return ev_err_set(err, EV_ERR_DATA, "subscriber: "
			    "epoch '%.20s' is not 16 hexadecimal digits",
			    s->known_epoch);
		memcpy(s->epoch, s->known_epoch, sizeof(s->epoch));
	}
	s->restart = s->outage = s->halt = false;
	s->backoff = 0;
	s->end = s->delivered = s->dropped = s->restarts = 0;
	if (sub_durable_start(s, err) == -1) {
		s->loop = NULL;
		return -1;
	}
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
	ev_loop_timer_del(s->loop, s->stimer);
	s->stimer = 0;
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
	else if (s->caught_up && s->phase == EV_SUB_STREAMING &&
	    ev_buf_unread(&s->c.out) == 0)
		sub_caught_up(s);
}

/*
 * Queue the SUB request: the patterns, and where to start: after a
 * restart, the new daemon's oldest event (from 0); once events were
 * handed on (or a seq given), the next seq; else as the caller asked
 * (last n, or since a time).
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
	else if (s->ask == EV_SUB_SINCE) {
		/* since: until an event is handed on, the same point in time */
		key = "since";
		v = s->askat;
	}
	if (ev_buf_putc(&b, ']') == -1)
		goto nomem;
	if (sub_where_put(s, &b, err) == -1)
		goto out;
	if ((key != NULL &&
	    (ev_buf_printf(&b, ",\"%s\":", key) == -1 ||
	    ev_buf_putu(&b, v) == -1)) || sub_request_durable(s, &b) == -1)
		goto nomem;
	/* evlist: identity, sync, announce; a further key: one more here. */
	if (sub_request_ident(&b, s->ident, err) == -1)
		goto out;
	if (s->sync && ev_buf_append(&b, ",\"sync\":true", 12) == -1)
		goto nomem;
	if (s->list && ev_buf_append(&b, ",\"list\":true", 12) == -1)
		goto nomem;
	if (s->unannounced && ev_buf_append(&b, ",\"announce\":false",
	    17) == -1)
		goto nomem;
	if (ev_buf_putc(&b, '}') == -1 ||
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

/*
 * evlist: append the identity's SUB keys to b: ,"node":S ,"service":S
 * ,"tags":[...] for the parts it has (id NULL: none).  -1 with err
 * (EV_ERR_DATA for a string that is not UTF-8, EV_ERR_SYS).
 */
static int
sub_request_ident(struct ev_buf *b, const struct ev_identity *id,
    struct ev_err *err)
{
	size_t i;

	if (id == NULL)
		return 0;
	if (id->node != NULL) {
		if (ev_buf_append(b, ",\"node\":", 8) == -1)
			goto nomem;
		if (ev_json_put_string(b, id->node, strlen(id->node),
		    err) == -1)
			return -1;
	}
	if (id->service != NULL) {
		if (ev_buf_append(b, ",\"service\":", 11) == -1)
			goto nomem;
		if (ev_json_put_string(b, id->service, strlen(id->service),
		    err) == -1)
			return -1;
	}
	if (id->ntags == 0)
		return 0;
	if (ev_buf_append(b, ",\"tags\":[", 9) == -1)
		goto nomem;
	for (i = 0; i < id->ntags; i++) {
		if (i > 0 && ev_buf_putc(b, ',') == -1)
			goto nomem;
		if (ev_json_put_string(b, id->tags[i], strlen(id->tags[i]),
		    err) == -1)
			return -1;
	}
	if (ev_buf_putc(b, ']') == -1)
		goto nomem;
	return 0;
nomem:
	return ev_err_sys(err, "subscription");
}

/*
 * evlist: SYNC <seq>: everything the subscription wants up to seq has
 * been handed on.  The subscriber's position moves past seq (a
 * reconnection need not ask for what was passed over); on_sync says
 * whether to go on.
 */
static enum sub_next
sub_on_sync(struct ev_subscriber *s, const struct ev_frame *f,
    struct ev_err *err)
{
	uint64_t seq;

	if (f->argc < 1 || ev_parse_u64(f->argv[0], strlen(f->argv[0]),
	    UINT64_MAX, &seq) == -1) {
		ev_err_set(err, EV_ERR_PROTO, "the bus sent SYNC without "
		    "a seq");
		return SUB_FAIL;
	}
	if (seq >= s->pos)
		s->pos = seq + 1;
	if (s->on_sync != NULL && s->on_sync(s->arg, seq) != 0)
		s->halt = true;
	return s->phase == EV_SUB_IDLE ? SUB_GONE : SUB_GO_ON;
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
	if (sub_durable_hello(s, f, err) == -1)
		return SUB_FAIL;
	if (s->nwhere > 0 && !sub_bus_has(f, "where")) {
		ev_err_set(err, EV_ERR_UNAVAILABLE, "the bus at %s cannot "
		    "filter events (it lacks the feature 'where'; a newer "
		    "evbusd has it)", s->c.path);
		return SUB_FAIL;
	}
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

	/* A bus without a store refuses "durable": it is unavailable. */
	if (strcmp(f->verb, "ERR") == 0 && s->durable != NULL &&
	    f->argc > 1 && strcmp(f->argv[0], "state") == 0) {
		ev_err_set(err, EV_ERR_UNAVAILABLE, "the bus refused the "
		    "subscription: %s", f->argv[1]);
		return SUB_FAIL;
	}
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
	if (sub_drain_ok(s, err) == -1)
		return SUB_LOSE;
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
	s->drain_set = false;		/* drain to the new bus's end */
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

	if ((s->drain && strcmp(f->verb, "INFO") == 0) ||
	    (s->stats_out && strcmp(f->verb, "ERR") == 0))
		return sub_on_info(s, f, err);
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
	if (sub_skip(s, ev.seq))
		return SUB_GO_ON;
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
		sub_handed(s, ev.seq);
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
		else if (s->sync && strcmp(f.verb, "SYNC") == 0)
			next = sub_on_sync(s, &f, &err);
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
	/* Durable consumption: confirm what was written; drained? */
	if (next == SUB_GO_ON && s->phase == EV_SUB_STREAMING) {
		if (sub_cursor(s, &err) == -1)
			next = SUB_LOSE;
		else if (s->caught_up && !s->halt) {
			if (ev_buf_unread(&s->c.out) == 0)
				sub_caught_up(s);
			return;
		}
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

/* --- where: filters the bus evaluates ----------------------------------- */

/*
 * Does the bus's HELLO (f) name feature in its features=a,b,... word?
 * Cost: a scan of its words.
 */
static bool
sub_bus_has(const struct ev_frame *f, const char *feature)
{
	const char *p, *e;
	size_t n = strlen(feature);
	int i;

	for (i = 0; i < f->argc; i++) {
		if (strncmp(f->argv[i], "features=", 9) != 0)
			continue;
		for (p = f->argv[i] + 9; *p != '\0'; p = *e == ',' ? e + 1 : e) {
			if ((e = strchr(p, ',')) == NULL)
				e = p + strlen(p);
			if ((size_t)(e - p) == n && memcmp(p, feature, n) == 0)
				return true;
		}
	}
	return false;
}

/*
 * Append ,"where":[...] for the subscriber's filters (nothing when it
 * has none).  The bus compiles them; a caller should have compiled them
 * already (ev_expr_compile) to report an error before connecting.  -1
 * with err: EV_ERR_DATA for a filter that is not UTF-8, EV_ERR_SYS.
 */
static int
sub_where_put(const struct ev_subscriber *s, struct ev_buf *b,
    struct ev_err *err)
{
	size_t i;

	if (s->nwhere == 0)
		return 0;
	if (ev_buf_append(b, ",\"where\":[", 10) == -1)
		return ev_err_sys(err, "subscription");
	for (i = 0; i < s->nwhere; i++) {
		if (i > 0 && ev_buf_putc(b, ',') == -1)
			return ev_err_sys(err, "subscription");
		if (ev_json_put_string(b, s->where[i], strlen(s->where[i]),
		    err) == -1)
			return -1;
	}
	if (ev_buf_putc(b, ']') == -1)
		return ev_err_sys(err, "subscription");
	return 0;
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

/* --- durable consumption: --durable, --cursor-file, --drain ------------ */

#define SUB_STATS_MIN		10	/* ms between STATS while events come */
#define SUB_STATS_MAX		500	/* ... and at most, while none do */
#define SUB_DURABLE_MAX		64	/* bytes of a durable name */

/*
 * Check the durable settings and start their state afresh: a durable name
 * is 1 to 64 letters, digits, '.', '_' or '-'; resume_epoch 16 hex
 * digits.  A resume makes the subscriber start as if it had handed on
 * resume_seq on that epoch.  -1 with err (EV_ERR_DATA).
 */
static int
sub_durable_start(struct ev_subscriber *s, struct ev_err *err)
{
	size_t i, n;

	if (s->durable != NULL) {
		n = strlen(s->durable);
		if (n == 0 || n > SUB_DURABLE_MAX ||
		    strspn(s->durable, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
			return ev_err_set(err, EV_ERR_DATA, "durable name '%.*s'"
			    ": 1 to %d letters, digits, '.', '_' or '-'",
			    SUB_DURABLE_MAX, s->durable, SUB_DURABLE_MAX);
	}
	if (s->resume_epoch != NULL) {
		if (strlen(s->resume_epoch) != EV_EPOCH_LEN)
			goto badepoch;
		for (i = 0; i < EV_EPOCH_LEN; i++)
			if (strchr("0123456789abcdefABCDEF",
			    s->resume_epoch[i]) == NULL)
				goto badepoch;
		memcpy(s->epoch, s->resume_epoch, sizeof(s->epoch));
		s->pos = s->resume_seq + 1;
	}
	s->confirmed = s->high = s->rcvd = s->cursor_sent = 0;
	s->drain_end = 0;
	s->drain_set = s->caught_up = s->stats_out = s->has_stats = false;
	s->sdelay = SUB_STATS_MIN;
	s->stimer = 0;
	return 0;
badepoch:
	return ev_err_set(err, EV_ERR_DATA, "resume epoch: not 16 hex "
	    "digits");
}

/* Does the HELLO frame f list feature name in its features=... word? */
static bool
sub_feature(const struct ev_frame *f, const char *name)
{
	const char *p;
	size_t i, n = strlen(name);

	for (i = 0; i < (size_t)f->argc; i++) {
		if (strncmp(f->argv[i], "features=", 9) != 0)
			continue;
		for (p = f->argv[i] + 9; *p != '\0'; p += strcspn(p, ",")) {
			if (*p == ',')
				p++;
			if (strncmp(p, name, n) == 0 &&
			    (p[n] == ',' || p[n] == '\0'))
				return true;
		}
	}
	return false;
}

/*
 * A new connection's HELLO: what the bus offers (durable, STATS), and,
 * for a durable subscription, where to ask from: a durable subscription's
 * seqs are the store's, which go on across restarts, so a new epoch is
 * not a restart for it; after the last seq handed on (the bus, which
 * knows the name, starts after its cursor instead), else as asked, and
 * for "live" no key at all (a new name then starts at the oldest event).
 * -1 with err when the bus has no durable subscriptions.
 */
static int
sub_durable_hello(struct ev_subscriber *s, const struct ev_frame *f,
    struct ev_err *err)
{
	s->rcvd = s->cursor_sent = 0;
	s->stats_out = false;
	s->has_stats = sub_feature(f, "stats");
	if (s->durable == NULL)
		return 0;
	if (!sub_feature(f, "durable"))
		return ev_err_set(err, EV_ERR_UNAVAILABLE, "the bus at %s "
		    "keeps no durable subscriptions (it needs evbusd --store)",
		    s->c.path);
	s->restart = false;
	memcpy(s->epoch, s->c.epoch, sizeof(s->epoch));
	s->pos = s->high > 0 ? s->high + 1 : s->ask == EV_SUB_FROM ?
	    s->askat : 0;
	return 0;
}

/* The SUB body's "durable" key, if any.  -1 when out of memory. */
static int
sub_request_durable(const struct ev_subscriber *s, struct ev_buf *b)
{
	if (s->durable == NULL)
		return 0;
	return ev_buf_printf(b, ",\"durable\":\"%s\"", s->durable);
}

/*
 * OK received: with drain, the end to reach is the first OK's (a restart's
 * new bus gives its own); caught up at once when there is nothing to
 * replay or where it starts is past the end; else ask STATS.  -1 with err
 * when the bus is lost.
 */
static int
sub_drain_ok(struct ev_subscriber *s, struct ev_err *err)
{
	uint64_t start;

	if (!s->drain || s->caught_up)
		return 0;
	if (!s->drain_set) {
		s->drain_end = s->end;
		s->drain_set = true;
	}
	start = s->durable != NULL ? s->high + 1 : s->pos;
	if (s->drain_end == 0 || (start > 0 && start > s->drain_end)) {
		s->caught_up = true;
		return 0;
	}
	return sub_stats(s, err);
}

/*
 * Before an event (seq, 0 for a notice) is handed on: should it be
 * skipped?  Once caught up, everything is; with drain, an event after
 * the end is (and means caught up); with durable, one already handed on
 * (the bus resumed from its cursor, which a lost connection left behind)
 * is dropped as a copy.
 */
static bool
sub_skip(struct ev_subscriber *s, uint64_t seq)
{
	if (seq > s->rcvd)
		s->rcvd = seq;
	if (s->caught_up)
		return true;
	if (seq == 0)
		return false;
	if (s->drain_set && seq > s->drain_end) {
		s->caught_up = true;
		return true;
	}
	if (s->durable != NULL && seq <= s->high) {
		s->dropped++;
		if (s->drain_set && seq >= s->drain_end)
			s->caught_up = true;
		return true;
	}
	return false;
}

/* An event was handed on. */
static void
sub_handed(struct ev_subscriber *s, uint64_t seq)
{
	if (seq > s->high)
		s->high = seq;
	if (s->drain_set && seq >= s->drain_end)
		s->caught_up = true;
}

/*
 * Tell the bus the highest seq confirmed, bounded by the highest it sent
 * on this connection, if that is more than it was told.  -1 with err on
 * a lost bus.
 */
static int
sub_cursor(struct ev_subscriber *s, struct ev_err *err)
{
	uint64_t v = s->confirmed < s->rcvd ? s->confirmed : s->rcvd;

	if (s->durable == NULL || s->phase != EV_SUB_STREAMING ||
	    v <= s->cursor_sent)
		return 0;
	if (ev_proto_line(&s->c.out, "CURSOR %" PRIu64, v) == -1)
		return ev_err_sys(err, "subscriber");
	s->cursor_sent = v;
	return sub_flush(s, err);
}

int
ev_sub_confirm(struct ev_subscriber *s, uint64_t seq, struct ev_err *err)
{
	if (seq > s->confirmed)
		s->confirmed = seq;
	return sub_cursor(s, err);
}

/* Ask the bus for STATS (drain, filters hiding the end).  -1 with err. */
static int
sub_stats(struct ev_subscriber *s, struct ev_err *err)
{
	if (!s->has_stats || s->stats_out || s->phase != EV_SUB_STREAMING)
		return 0;
	if (ev_proto_line(&s->c.out, "STATS") == -1)
		return ev_err_sys(err, "subscriber");
	s->stats_out = true;
	s->sdelay = s->delivered != s->sdelivered ? SUB_STATS_MIN :
	    s->sdelay * 2 > SUB_STATS_MAX ? SUB_STATS_MAX : s->sdelay * 2;
	s->sdelivered = s->delivered;
	return sub_flush(s, err);
}

static void
sub_stats_due(struct ev_loop *l, uint64_t id, void *arg)
{
	struct ev_subscriber *s = arg;
	struct ev_err err;

	(void)l;
	(void)id;
	s->stimer = 0;
	if (s->caught_up || s->phase != EV_SUB_STREAMING)
		return;
	if (sub_stats(s, &err) == -1)
		sub_lost(s, &err);
}

/*
 * The bus's answer to STATS: caught up when this subscription (found by
 * pid and HELLO name) has no lag, or its cursor (the bus's newest seq +
 * 1 - lag) is past the end.  Else ask again after a while.  A refusal
 * (ERR), or no such subscriber, ends the asking.  -1 with err when the
 * timer cannot be set.
 */
static enum sub_next
sub_on_info(struct ev_subscriber *s, const struct ev_frame *f,
    struct ev_err *err)
{
	json_t *j, *subs, *e, *v;
	json_int_t newest = -1, lag = -1;
	size_t i;
	int found = 0;

	if (!s->stats_out || s->caught_up)
		return SUB_GO_ON;	/* not ours to read */
	s->stats_out = false;
	if (strcmp(f->verb, "ERR") == 0 || f->body == NULL ||
	    (j = json_loadb(f->body, f->bodylen, 0, NULL)) == NULL) {
		s->has_stats = false;
		return SUB_GO_ON;
	}
	if ((v = json_object_get(j, "seq")) != NULL && json_is_integer(v))
		newest = json_integer_value(v);
	subs = json_object_get(j, "subscribers");
	json_array_foreach(subs, i, e) {
		v = json_object_get(e, "pid");
		if (!json_is_integer(v) ||
		    json_integer_value(v) != (json_int_t)getpid())
			continue;
		v = json_object_get(e, "client");
		if (!json_is_string(v) ||
		    strcmp(json_string_value(v), s->c.name) != 0)
			continue;
		found++;
		v = json_object_get(e, "lag");
		lag = json_is_integer(v) ? json_integer_value(v) : -1;
	}
	json_decref(j);
	if (found != 1 || newest < 0 || lag < 0) {
		s->has_stats = false;
		return SUB_GO_ON;
	}
	if (lag == 0 || (uint64_t)(newest - lag) >= s->drain_end) {
		s->caught_up = true;
		return SUB_GO_ON;
	}
	if ((s->stimer = ev_loop_timer_add(s->loop, s->sdelay, sub_stats_due,
	    s)) == 0) {
		ev_err_sys(err, "subscriber");
		return SUB_FAIL;
	}
	return SUB_GO_ON;
}

/* Drained, and every CURSOR line sent: stop, and say so. */
static void
sub_caught_up(struct ev_subscriber *s)
{
	ev_sub_close(s);
	sub_notify(s, EV_SUB_CAUGHT_UP, NULL);
}

int
ev_sub_where_add(char **list, size_t *n, char *v, struct ev_err *err)
{
	struct ev_expr *x;

	if (*n == EV_WHERE_MAX)
		return ev_err_set(err, EV_ERR_DATA, "at most %d filters",
		    EV_WHERE_MAX);
	if (strlen(v) > EV_WHERE_LEN)
		return ev_err_set(err, EV_ERR_DATA, "at most %d bytes",
		    EV_WHERE_LEN);
	if ((x = ev_expr_compile(v, err)) == NULL)
		return -1;
	ev_expr_free(x);
	list[(*n)++] = v;
	return 0;
}
