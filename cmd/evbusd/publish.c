/*
 * publish.c: the one way an event enters the bus -- validate, de-duplicate,
 * stamp, commit -- for clients' events and the bus's own alike; and the
 * release of acknowledgements once what they acknowledge is committed.
 * Fan-out is not done here: subscribers read the ring through their
 * cursors when the loop serves them.
 */
#include <stdio.h>
#include <string.h>

#include "evbusd.h"

/*
 * The uid in m's stamped origin (the head is {"seq":N,"id":"..","origin":
 * {"uid":U,...: the first such text, since no JSON string holds an
 * unescaped quote).  -1 when it is not there.
 */
static long long
msg_uid(const struct ev_msg *m)
{
	static const char key[] = ",\"origin\":{\"uid\":";
	const char *p = memmem(m->line, m->len, key, sizeof(key) - 1);
	uint64_t v;
	size_t n;

	if (p == NULL)
		return -1;
	p += sizeof(key) - 1;
	n = strspn(p, "0123456789");
	if (n == 0 || ev_parse_u64(p, n, UINT32_MAX, &v) == -1)
		return -1;
	return (long long)v;
}

/*
 * Publish one event body (a JSON object) from origin.  from is the
 * connection that sent it, whose ACL view decides whether it may fire
 * that name (NULL for the bus's own; a denial is published as
 * evbus.acl.denied).  internal marks the
 * bus's own events (names under evbus. allowed).  On success *seq is the
 * event's seq, and *dup tells that the bus already had an event with that
 * id (then *seq is that event's and nothing new entered the ring).
 * Returns 0, or -1 with err: EV_ERR_DATA, EV_ERR_LIMIT, EV_ERR_DENIED for
 * a body that breaks a rule; EV_ERR_SYS when out of memory.
 * Cost: one scan and one copy of the body (stamped into the scratch
 * buffer), one id lookup, one copy into the ring's arena; a regcomp
 * per filter expression of a targeted event, done once here for all
 * subscribers.
 */
int
bus_publish(struct evbusd *b, struct conn *from, const char *body,
    size_t len, const struct ev_origin *origin, bool internal, uint64_t *seq,
    bool *dup, struct ev_err *err)
{
	return bus_publish_as(b, from, body, len, origin, internal,
	    internal ? BUS_ID_NONE : BUS_ID_DEDUP, seq, dup, err);
}

/*
 * bus_publish, with idmode saying whether the event's id is looked up:
 * BUS_ID_DEDUP, a copy of an event the bus holds with the same id is a
 * duplicate (events whose producer chose the id, and those of publishers
 * without a session); BUS_ID_NONE, not looked up (an id its publisher's
 * library made up, for a session's event: a copy sent again is known by
 * its number instead).  Every client event's id is indexed either way:
 * a replay of events (evsub | evfire) carries the ids evfire made up,
 * and must find them.
 */
int
bus_publish_as(struct evbusd *b, struct conn *from, const char *body,
    size_t len,
    const struct ev_origin *origin, bool internal, int idmode, uint64_t *seq,
    bool *dup, struct ev_err *err)
{
	struct ev_stamp st = {
		.maxlen = internal ? EV_EVENT_MAX_LIMIT : b->maxevent,
		.maxdepth = internal ? 0 : b->maxdepth,
		.seq = ev_ring_next(&b->ring),
		.origin = origin,
		.now_ms = ev_now_ms(),
		.internal = internal,
	};
	struct ev_evinfo info;
	struct ev_target *t = NULL;
	struct ev_msg *m;

	*dup = false;
	/* --store: once the log failed, nothing enters (store.c). */
	if (b->storefailed)
		return ev_err_set(err, EV_ERR_UNAVAILABLE, "store: %s",
		    b->storewhy);
	ev_buf_reset(&b->scratch);
	if (ev_event_stamp(body, len, &st, &b->scratch, &info, err) == -1)
		return -1;
	/* ACL: may the sender fire this name?  (No view: anything.) */
	if (from != NULL && from->fireview != NULL &&
	    !ev_acl_view_check(from->fireview, info.name, info.namelen)) {
		acl_denied(b, from, EV_ACL_FIRE, info.name, info.namelen);
		return ev_err_set(err, EV_ERR_DENIED, "fire: not allowed to "
		    "fire '%s'", info.name);
	}
	if (idmode == BUS_ID_DEDUP && info.hadid &&
	    (m = ev_ring_find_id(&b->ring, info.id,
	    strlen(info.id))) != NULL) {
		/*
		 * Another user's event: not this publisher's copy.  Say so
		 * rather than drop this one under the other's seq (which
		 * would also tell its seq to one who may not read it).
		 */
		if (msg_uid(m) != (long long)origin->uid)
			return ev_err_set(err, EV_ERR_DATA, "id '%s' is taken "
			    "by another user's event: give another",
			    info.id);
		*seq = m->seq;
		*dup = true;
		b->dups++;
		return 0;
	}
	if (ev_event_targeted(&info) && ev_target_compile(&info, &t, err) == -1)
		return -1;
	/* --store: in the log first; committed once durable (store.c). */
	if (b->store != NULL && store_append(b, st.seq, info.time,
	    ev_buf_head(&b->scratch), ev_buf_unread(&b->scratch), err) == -1) {
		ev_target_free(t);
		return -1;
	}
	m = ev_ring_add(&b->ring, ev_buf_head(&b->scratch),
	    ev_buf_unread(&b->scratch), info.time, info.name, info.namelen,
	    info.id, strlen(info.id), !internal && info.hadid ?
	    EV_RING_INDEX : 0);
	if (m == NULL) {
		ev_target_free(t);
		if (b->store != NULL)
			store_fail(b, "out of memory for the ring");
		return ev_err_sys(err, "event %llu", (unsigned long long)st.seq);
	}
	m->target = t;
	sub_notify(b, m);
	b->events_in++;
	b->budget = b->budget > 0 ? b->budget - 1 : 0;
	b->budget_bytes = b->budget_bytes > m->len ? b->budget_bytes - m->len :
	    0;
	*seq = st.seq;
	return 0;
}

/*
 * PUB from a client: publish, and queue its one reply, in order: "ACK seq"
 * (held until the event is committed), "ACK seq dup", or "ERR code text".
 * A reply that cannot be queued closes the connection, since a publisher
 * matches replies to events by their order.
 */
/*
 * Producer sessions (issue 9): the words before PUB's byte count (the
 * decoder takes that last word off argv), "s=K" (the event's number in
 * the connection's session, 1 and up) and "dedup=id"
 * (its producer chose its id: de-duplicate by id too).  0, or -1 with
 * the reply's code and text in err's message (one word, then the text).
 */
static int
pub_words(const struct conn *c, const struct ev_frame *f, uint64_t *k,
    int *idmode, const char **code, struct ev_err *err)
{
	const char *w;
	int i;

	*k = 0;
	*idmode = BUS_ID_DEDUP;
	for (i = 0; i < f->argc; i++) {
		w = f->argv[i];
		if (strncmp(w, "s=", 2) == 0) {
			*code = "proto";
			if (ev_parse_u64(w + 2, strlen(w + 2), UINT64_MAX,
			    k) == -1 || *k == 0)
				return ev_err_set(err, EV_ERR_PROTO, "PUB: "
				    "s=%.32s: not a number from 1", w + 2);
			if (c->sess == NULL) {
				*code = "state";
				return ev_err_set(err, EV_ERR_PROTO, "PUB: "
				    "s=: no session (HELLO session=...)");
			}
		} else if (strcmp(w, "dedup=id") != 0) {
			*code = "proto";
			return ev_err_set(err, EV_ERR_PROTO, "PUB: unknown word "
			    "'%.32s' (this bus knows s=, dedup=id)", w);
		}
	}
	if (*k != 0) {
		*idmode = BUS_ID_NONE;
		for (i = 0; i < f->argc; i++)
			if (strcmp(f->argv[i], "dedup=id") == 0)
				*idmode = BUS_ID_DEDUP;
	}
	return 0;
}

void
bus_pub(struct evbusd *b, struct conn *c, const struct ev_frame *f)
{
	struct ev_err err;
	const char *code;
	uint64_t seq, k;
	bool dup;
	int r, idmode;

	if (f->argc > 0 && pub_words(c, f, &k, &idmode, &code, &err) == -1)
		r = conn_error(c, code, "%s", err.msg);
	else if (f->argc > 0 && k != 0 &&
	    (seq = session_seq(c->sess, k)) != 0) {
		/* Sent again after a reconnect: known by its number. */
		b->dups++;
		r = conn_ack(b, c, seq, true);
	} else if (f->oversize)
		r = conn_error(c, "limit", "event of %zu bytes exceeds the "
		    "bus's limit of %zu bytes", f->bodylen, b->maxevent);
	else if (bus_publish_as(b, c, f->body, f->bodylen, &c->cred, false,
	    f->argc > 0 ? idmode : BUS_ID_DEDUP, &seq, &dup, &err) == 0) {
		if (f->argc > 0 && k != 0 &&
		    session_commit(c->sess, k, seq) == -1)
			log_warn("client %llu: session",
			    (unsigned long long)c->serial);
		r = conn_ack(b, c, seq, dup);
	} else {
		switch (err.kind) {
		case EV_ERR_LIMIT:
			code = "limit";
			break;
		case EV_ERR_DENIED:
			code = "denied";
			break;
		case EV_ERR_UNAVAILABLE:	/* --store failed */
			code = "state";
			break;
		case EV_ERR_SYS:
			log_warnx("client %llu: %s",
			    (unsigned long long)c->serial, err.msg);
			code = "limit";
			snprintf(err.msg, sizeof(err.msg), "the bus is out of "
			    "memory");
			break;
		default:
			code = "data";
			break;
		}
		r = conn_error(c, code, "%s", err.msg);
	}
	if (r == -1)
		conn_close(b, c, "out of memory for a reply");
}

/*
 * Publish one of the bus's own events, name with payload (compact JSON
 * text, or NULL for null).  -1 when it could not be (logged).
 */
int
bus_announce(struct evbusd *b, const char *name, const char *payload)
{
	struct ev_buf body = { 0 };
	struct ev_err err;
	uint64_t seq;
	bool dup;
	int r;

	if (ev_buf_printf(&body, "{\"name\":\"%s\",\"payload\":%s}", name,
	    payload != NULL ? payload : "null") == -1) {
		log_warn("%s", name);
		return -1;
	}
	r = bus_publish(b, NULL, ev_buf_head(&body), ev_buf_unread(&body),
	    &b->self, true, &seq, &dup, &err);
	if (r == -1)
		log_warnx("%s: %s", name, err.msg);
	ev_buf_free(&body);
	return r;
}

/*
 * Everything in the ring is committed: release the acknowledgements that
 * waited for it.  Called once per turn of the loop, before connections
 * are written to; with a store, what is committed is what the fsyncs
 * made durable.
 */
void
bus_commit(struct evbusd *b)
{
	uint64_t next = ev_ring_next(&b->ring);

	/* --store: committed is what is durable (store.c). */
	if (b->store != NULL) {
		store_commit(b);
		next = bus_visible(b);
	}
	if (next - 1 != b->committed) {
		b->committed = next - 1;
		b->batch++;
	}
}

/*
 * The bus's figures as one JSON object (the reply to STATS): who it is,
 * the ring, the counters since it started, and each subscriber with how
 * far behind the newest event it is; for an asker the ACL restricts
 * (acl_sees_all), only the subscribers of its own uid.  -1 when out of
 * memory.
 * Cost: one walk over the connections.
 */
/*
 * Keep the counters as they were at the last two ticks at least a second
 * apart, for STATS' rates.  Called each loop pass and by STATS; O(1).
 */
void
bus_tick(struct evbusd *b, int64_t now)
{
	if (b->snap[1].ms == 0) {
		b->snap[0].ms = b->snap[1].ms = b->started_ms;
		return;
	}
	if (now - b->snap[1].ms < 1000)
		return;
	b->snap[0] = b->snap[1];
	b->snap[1].ms = now;
	b->snap[1].in = b->events_in;
	b->snap[1].out = b->events_out;
}

/* Events a second from the older tick until now. */
static double
bus_rate(const struct evbusd *b, uint64_t count, uint64_t then, int64_t now)
{
	int64_t span = now - b->snap[0].ms;

	return span > 0 ? (double)(count - then) * 1000.0 / (double)span : 0;
}

int
bus_stats(struct evbusd *b, const struct conn *asker, struct ev_buf *out)
{
	const struct ev_ring *r = &b->ring;
	uint64_t newest = ev_ring_next(r) - 1;
	struct conn *c;
	bool first = true, all = acl_sees_all(b, asker);
	int64_t now = ev_mono_ms();
	int rv;

	bus_tick(b, now);

	rv = ev_buf_printf(out, "{\"epoch\":\"%s\",\"pid\":%ld,\"version\":"
	    "\"%s\",\"uptime_ms\":%lld,\"seq\":%llu,\"ring\":{\"events\":%zu,"
	    "\"bytes\":%zu,\"max_events\":%zu,\"max_bytes\":%zu,\"first\":%llu,"
	    "\"memory\":%zu},"
	    "\"clients\":%zu,\"events_in\":%llu,\"events_out\":%llu,"
	    "\"duplicates\":%llu,\"in_per_s\":%.1f,\"out_per_s\":%.1f,"
	    "\"subscribers\":[", b->epoch,
	    (long)b->self.pid, EV_VERSION,
	    (long long)(now - b->started_ms),
	    (unsigned long long)newest, ev_ring_count(r), ev_ring_bytes(r),
	    b->ringmax, b->ringmaxbytes,
	    (unsigned long long)ev_ring_first(r), ev_ring_memory(r),
	    b->nconns,
	    (unsigned long long)b->events_in,
	    (unsigned long long)b->events_out, (unsigned long long)b->dups,
	    bus_rate(b, b->events_in, b->snap[0].in, now),
	    bus_rate(b, b->events_out, b->snap[0].out, now));
	TAILQ_FOREACH(c, &b->conns, entry) {
		if (!c->sub || c->dead || rv == -1)
			continue;
		if (!all && c->cred.uid != asker->cred.uid)
			continue;
		rv = ev_buf_printf(out, "%s{\"conn\":%llu,\"client\":\"%s\","
		    "\"uid\":%lu,\"pid\":%ld,\"delivered\":%llu,\"lag\":%llu,"
		    "\"patterns\":", first ? "" : ",",
		    (unsigned long long)c->serial, c->name,
		    (unsigned long)c->cred.uid, (long)c->cred.pid,
		    (unsigned long long)c->delivered,
		    (unsigned long long)(c->pending && c->cursor <= newest ?
		    newest - c->cursor + 1 : 0));
		first = false;
		if (rv == 0)
			rv = sub_patterns_json(c, out);
		if (rv == 0)
			rv = sub_where_json(c, out);
		if (rv == 0)
			rv = ev_buf_putc(out, '}');
	}
	if (rv == 0)
		rv = ev_buf_printf(out, "],\"filtered_out\":%llu",
		    (unsigned long long)b->filtered_out);
	if (rv == 0 && b->store != NULL)	/* --store (store.c) */
		rv = store_stats(b, out);
	if (rv == 0)
		rv = ev_buf_putc(out, '}');
	return rv;
}
