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
 * Publish one event body (a JSON object) from origin.  internal marks the
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
bus_publish(struct evbusd *b, const char *body, size_t len,
    const struct ev_origin *origin, bool internal, uint64_t *seq, bool *dup,
    struct ev_err *err)
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
	ev_buf_reset(&b->scratch);
	if (ev_event_stamp(body, len, &st, &b->scratch, &info, err) == -1)
		return -1;
	if (info.hadid && (m = ev_ring_find_id(&b->ring, info.id,
	    strlen(info.id))) != NULL) {
		*seq = m->seq;
		*dup = true;
		b->dups++;
		return 0;
	}
	if (ev_event_targeted(&info) && ev_target_compile(&info, &t, err) == -1)
		return -1;
	m = ev_ring_add(&b->ring, ev_buf_head(&b->scratch),
	    ev_buf_unread(&b->scratch), info.time, info.name, info.namelen,
	    info.id, strlen(info.id), internal ? 0 : EV_RING_INDEX);
	if (m == NULL) {
		ev_target_free(t);
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
void
bus_pub(struct evbusd *b, struct conn *c, const struct ev_frame *f)
{
	struct ev_err err;
	const char *code;
	uint64_t seq;
	bool dup;
	int r;

	if (f->oversize)
		r = conn_error(c, "limit", "event of %zu bytes exceeds the "
		    "bus's limit of %zu bytes", f->bodylen, b->maxevent);
	else if (bus_publish(b, f->body, f->bodylen, &c->cred, false, &seq,
	    &dup, &err) == 0)
		r = conn_ack(b, c, seq, dup);
	else {
		switch (err.kind) {
		case EV_ERR_LIMIT:
			code = "limit";
			break;
		case EV_ERR_DENIED:
			code = "denied";
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
	r = bus_publish(b, ev_buf_head(&body), ev_buf_unread(&body), &b->self,
	    true, &seq, &dup, &err);
	if (r == -1)
		log_warnx("%s: %s", name, err.msg);
	ev_buf_free(&body);
	return r;
}

/*
 * Everything in the ring is committed: release the acknowledgements that
 * waited for it.  Called once per turn of the loop, before connections
 * are written to; a store would call it after the fsync that covers the
 * events instead.
 */
void
bus_commit(struct evbusd *b)
{
	uint64_t next = ev_ring_next(&b->ring);

	if (next - 1 != b->committed) {
		b->committed = next - 1;
		b->batch++;
	}
}

/*
 * The bus's figures as one JSON object (the reply to STATS): who it is,
 * the ring, the counters since it started, and each subscriber with how
 * far behind the newest event it is.  -1 when out of memory.
 * Cost: one walk over the connections.
 */
int
bus_stats(struct evbusd *b, struct ev_buf *out)
{
	const struct ev_ring *r = &b->ring;
	uint64_t newest = ev_ring_next(r) - 1;
	struct conn *c;
	bool first = true;
	int rv;

	rv = ev_buf_printf(out, "{\"epoch\":\"%s\",\"pid\":%ld,\"version\":"
	    "\"%s\",\"uptime_ms\":%lld,\"seq\":%llu,\"ring\":{\"events\":%zu,"
	    "\"bytes\":%zu,\"max_events\":%zu,\"max_bytes\":%zu,\"first\":%llu},"
	    "\"clients\":%zu,\"events_in\":%llu,\"events_out\":%llu,"
	    "\"duplicates\":%llu,\"subscribers\":[", b->epoch,
	    (long)b->self.pid, EV_VERSION,
	    (long long)(ev_mono_ms() - b->started_ms),
	    (unsigned long long)newest, ev_ring_count(r), ev_ring_bytes(r),
	    b->ringmax, b->ringmaxbytes,
	    (unsigned long long)ev_ring_first(r), b->nconns,
	    (unsigned long long)b->events_in,
	    (unsigned long long)b->events_out, (unsigned long long)b->dups);
	TAILQ_FOREACH(c, &b->conns, entry) {
		if (!c->sub || c->dead || rv == -1)
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
			rv = ev_buf_putc(out, '}');
	}
	if (rv == 0)
		rv = ev_buf_append(out, "]}", 2);
	return rv;
}
