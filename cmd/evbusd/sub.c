/*
 * sub.c: subscriptions: the SUB request, the one delivery decision, and
 * the notice of a gap.  Each subscriber reads the ring through its own
 * cursor (conn_flush writes); nothing is copied per subscriber.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "evbusd.h"

static const char *const sub_keys[] = { "patterns", "from", "last",
	"since", "node", "service", "tags",
	/* evlist: the SYNC marker; a poll that is not announced */
	"sync", "announce",
	/* where: filters evaluated in the daemon */
	"where",
	/* ACL: evlist's permission */
	"list",
	/* --store: a durable subscription */
	"durable" };

/* -1 with err naming the first key of j that SUB does not know. */
static int
sub_check_keys(json_t *j, struct ev_err *err)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(j, key, v) {
		for (i = 0; i < sizeof(sub_keys) / sizeof(sub_keys[0]); i++)
			if (strcmp(key, sub_keys[i]) == 0)
				break;
		if (i == sizeof(sub_keys) / sizeof(sub_keys[0]))
			return ev_err_set(err, EV_ERR_DATA, "subscription: "
			    "unknown key '%.40s' (this bus knows patterns, "
			    "from, last, since, node, service, tags, sync, "
			    "announce, where, list, "
			    "durable)", key);
	}
	return 0;
}

/* Where a "last n" replay starts: the n-th newest event c wants. */
static uint64_t
sub_last(const struct evbusd *b, const struct conn *c, uint64_t want)
{
	uint64_t s, found = 0, first = ev_ring_first(&b->ring);

	for (s = ev_ring_next(&b->ring); s > first && found < want; s--)
		if (sub_wants(c, ev_ring_get(&b->ring, s - 1)))
			found++;
	return s;
}

/* A string of at most EV_NAME_MAX bytes, copied; -1 with err otherwise. */
static int
sub_string(json_t *v, const char *what, char **out, struct ev_err *err)
{
	if (!json_is_string(v) || json_string_length(v) > EV_NAME_MAX ||
	    memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
		return ev_err_set(err, EV_ERR_DATA, "%s: not a string of at "
		    "most %d bytes", what, EV_NAME_MAX);
	if ((*out = strdup(json_string_value(v))) == NULL)
		return ev_err_sys(err, "%s", what);
	return 0;
}

/*
 * The subscriber's identity for targeted events: "node" and "service"
 * strings, "tags" an array of at most 64 strings.  -1 with err.
 */
static int
sub_identity(json_t *j, struct ev_identity *id, struct ev_err *err)
{
	json_t *v, *t;
	size_t i;

	if ((v = json_object_get(j, "node")) != NULL &&
	    sub_string(v, "node", &id->node, err) == -1)
		return -1;
	if ((v = json_object_get(j, "service")) != NULL &&
	    sub_string(v, "service", &id->service, err) == -1)
		return -1;
	if ((v = json_object_get(j, "tags")) == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) > 64)
		return ev_err_set(err, EV_ERR_DATA, "tags: not an array of at "
		    "most 64 strings");
	if ((id->tags = calloc(json_array_size(v) + 1,
	    sizeof(*id->tags))) == NULL)
		return ev_err_sys(err, "tags");
	json_array_foreach(v, i, t) {
		if (sub_string(t, "tags", &id->tags[i], err) == -1)
			return -1;
		id->ntags++;
	}
	return 0;
}

/* --- where: filters evaluated in the daemon ---------------------------- */

/*
 * The events the filters read, located once each and shared by every
 * subscriber's filters: a direct-mapped cache by seq.  A filtering
 * subscriber is looked at for SUB_WHERE_STEP events in one conn_flush,
 * and the next subscriber is usually at the same place: with as many
 * slots, it finds each of those events located already.  A slot's doc is
 * made when first used (some 20 KB, 5 MB for all); it refers to the
 * ring's bytes of the event with that seq, which live as long as the
 * event is in the ring, and only an event in the ring is asked about.
 */
#define WDOC_SLOTS	SUB_WHERE_STEP

struct sub_wdoc {
	struct ev_expr_doc *doc;
	uint64_t	  seq;		/* the event it holds; 0: none */
	bool		  ok;		/* it could be set (valid JSON) */
};

/*
 * A subscriber's filters, compiled once at SUB.  All must hold.  The
 * counters are kept here so that sub_wants, which reads a const conn,
 * can count the events they keep back.
 */
struct sub_where {
	struct evbusd	 *bus;		/* its doc cache and filtered_out */
	uint64_t	  serial;	/* the connection's, for the log */
	size_t		  n;
	struct ev_expr	**expr;
	char		**text;		/* as given, for STATS */
	uint64_t	  next;		/* seqs below were counted */
	uint64_t	  filtered;	/* events its filters kept back */
	bool		  counting;	/* delivering, not finding the start */
};

void
sub_where_free(struct conn *c)
{
	struct sub_where *w = c->where;
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++) {
		ev_expr_free(w->expr[i]);
		free(w->text[i]);
	}
	free(w->expr);
	free(w->text);
	free(w);
	c->where = NULL;
}

/* At exit: the docs the filters shared. */
void
sub_where_fini(struct evbusd *b)
{
	size_t i;

	if (b->wdocs == NULL)
		return;
	for (i = 0; i < WDOC_SLOTS; i++)
		ev_expr_doc_free(b->wdocs[i].doc);
	free(b->wdocs);
	b->wdocs = NULL;
}

/*
 * Event m located in its slot of the cache: the doc, or NULL when the
 * event cannot be read or a doc cannot be made (err says which).
 * Cost: a lookup; on a miss, ev_expr_doc_set (one scan of the event),
 * and the first time a slot is used, one allocation.
 */
static struct ev_expr_doc *
sub_wdoc(struct evbusd *b, const struct ev_msg *m, struct ev_err *err)
{
	struct sub_wdoc *w = &b->wdocs[m->seq % WDOC_SLOTS];

	if (w->seq != m->seq) {
		if (w->doc == NULL && (w->doc = ev_expr_doc_new()) == NULL) {
			ev_err_sys(err, "where");
			return NULL;
		}
		w->seq = m->seq;
		w->ok = ev_expr_doc_set(w->doc, m->line, m->len - 1,
		    err) == 0;
		if (!w->ok)
			return NULL;
	}
	if (!w->ok) {
		ev_err_set(err, EV_ERR_DATA, "the event cannot be read");
		return NULL;
	}
	return w->doc;
}

/*
 * The "where" key: an array of at most EV_WHERE_MAX strings of at most
 * EV_WHERE_LEN bytes, each a filter (evbus(7), FILTERS AND TEMPLATES),
 * compiled here, once.  An empty array is no filter.  -1 with err:
 * EV_ERR_DATA "where: column N: why" for a filter that does not compile
 * ("where[i]: ..." when there are several), EV_ERR_SYS when out of
 * memory; c->where is then NULL.  Makes the bus's table of shared docs
 * on first use.  Cost: compiling each filter.
 */
static int
sub_where_parse(struct evbusd *b, struct conn *c, json_t *v,
    struct ev_err *err)
{
	struct sub_where *w;
	struct ev_err e;
	json_t *t;
	size_t i, n;

	if (!json_is_array(v) || json_array_size(v) > EV_WHERE_MAX)
		return ev_err_set(err, EV_ERR_DATA, "where: not an array of "
		    "at most %d strings", EV_WHERE_MAX);
	json_array_foreach(v, i, t)
		if (!json_is_string(t) || json_string_length(t) >
		    EV_WHERE_LEN || memchr(json_string_value(t), '\0',
		    json_string_length(t)) != NULL)
			return ev_err_set(err, EV_ERR_DATA, "where: not all "
			    "strings of at most %d bytes", EV_WHERE_LEN);
	if ((n = json_array_size(v)) == 0)
		return 0;
	if (b->wdocs == NULL &&
	    (b->wdocs = calloc(WDOC_SLOTS, sizeof(*b->wdocs))) == NULL)
		return ev_err_sys(err, "where");
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return ev_err_sys(err, "where");
	c->where = w;
	w->bus = b;
	w->serial = c->serial;
	if ((w->expr = calloc(n, sizeof(*w->expr))) == NULL ||
	    (w->text = calloc(n, sizeof(*w->text))) == NULL) {
		ev_err_sys(err, "where");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		t = json_array_get(v, i);
		if ((w->text[i] = strdup(json_string_value(t))) == NULL) {
			ev_err_sys(err, "where");
			goto fail;
		}
		w->n++;
		if ((w->expr[i] = ev_expr_compile(w->text[i], &e)) == NULL) {
			if (e.kind == EV_ERR_SYS)
				ev_err_sys(err, "where");
			else if (n == 1)
				ev_err_set(err, EV_ERR_DATA, "where: %s", e.msg);
			else
				ev_err_set(err, EV_ERR_DATA, "where[%zu]: %s",
				    i, e.msg);
			goto fail;
		}
	}
	return 0;
fail:
	sub_where_free(c);
	return -1;
}

/*
 * The last clause of the delivery decision: do all of c's filters hold
 * for m?  The event is located once (ev_expr_doc_set) and the doc shared
 * by every subscriber's filters (sub_wdoc); a subscriber catching up from
 * further back in the ring just sets a slot again.  An error
 * while evaluating (where jq would raise one: .a.b on a string) means
 * "not delivered", as jq skips the event; it is logged with -vv.  Once
 * delivering, each event kept back is counted once, in c's and the
 * bus's filtered_out, however often a short write makes it be looked
 * at again.
 * Cost: a doc set per new event (about one scan of it), then per filter
 * the paths not yet located in that event; no allocation.
 */
static bool
sub_where_pass(struct sub_where *w, const struct ev_msg *m)
{
	struct evbusd *b = w->bus;
	struct ev_expr_doc *doc;
	struct ev_err err;
	const char *what = "the event";
	size_t i;
	int r = 1;

	if ((doc = sub_wdoc(b, m, &err)) == NULL)
		r = -1;
	for (i = 0; r == 1 && i < w->n; i++) {
		what = w->text[i];
		r = ev_expr_eval_doc(w->expr[i], doc, &err);
	}
	if (!w->counting || m->seq < w->next)
		return r == 1;
	w->next = m->seq + 1;
	if (r == 1)
		return true;
	w->filtered++;
	b->filtered_out++;
	if (r == -1 && err.kind == EV_ERR_SYS)
		log_warnx("client %" PRIu64 ": where: event %" PRIu64 ": %s",
		    w->serial, m->seq, err.msg);
	else if (r == -1)
		log_debug("client %" PRIu64 ": where '%.200s': event %"
		    PRIu64 ": %s", w->serial, what, m->seq, err.msg);
	return false;
}

/*
 * c's filters for STATS: ,"where":[texts],"filtered_out":n (an empty
 * list and 0 for none).  -1 when out of memory.
 */
int
sub_where_json(const struct conn *c, struct ev_buf *out)
{
	const struct sub_where *w = c->where;
	size_t i, n = w != NULL ? w->n : 0;
	int r = ev_buf_append(out, ",\"where\":[", 10);

	for (i = 0; r == 0 && i < n; i++)
		if ((i > 0 && ev_buf_putc(out, ',') == -1) ||
		    ev_json_put_string(out, w->text[i], strlen(w->text[i]),
		    NULL) == -1)
			r = -1;
	if (r == 0)
		r = ev_buf_printf(out, "],\"filtered_out\":%llu",
		    (unsigned long long)(w != NULL ? w->filtered : 0));
	return r;
}

/*
 * Put c's include patterns into the index ("#" for exclusions only);
 * -1 with errno ENOMEM, c then in the index under none of them.
 */
static int
sub_index(struct evbusd *b, struct conn *c)
{
	size_t i;

	if (c->pats.ninc == 0)
		return ev_sublist_insert(b->subs, "#", 1, c);
	for (i = 0; i < c->pats.ninc; i++)
		if (ev_sublist_insert(b->subs, c->pats.inc[i],
		    c->pats.inclen[i], c) == -1) {
			while (i-- > 0)
				ev_sublist_remove(b->subs, c->pats.inc[i],
				    c->pats.inclen[i], c);
			return -1;
		}
	return 0;
}

/* Take subscriber c out of the index (it is going away). */
void
sub_stop(struct evbusd *b, struct conn *c)
{
	size_t i;

	if (!c->sub)
		return;
	if (c->pats.ninc == 0)
		ev_sublist_remove(b->subs, "#", 1, c);
	for (i = 0; i < c->pats.ninc; i++)
		ev_sublist_remove(b->subs, c->pats.inc[i], c->pats.inclen[i],
		    c);
}

/*
 * Event m just entered the ring: tell the subscribers it may be for.  One
 * that was caught up skips the events published since, none of which was
 * for it (else it would have been told), so that a subscriber pays
 * nothing for the events it does not want.  When the index cannot answer
 * (out of memory), every subscriber is told, and scans.
 * Cost: a cache lookup by name, then O(candidates).
 */
void
sub_notify(struct evbusd *b, const struct ev_msg *m)
{
	void *const *cand;
	struct conn *c;
	size_t n, i;

	if (ev_sublist_match(b->subs, m->name, m->namelen, &cand, &n) == -1) {
		TAILQ_FOREACH(c, &b->conns, entry)
			if (c->sub)
				c->pending = true;
		return;
	}
	for (i = 0; i < n; i++) {
		c = cand[i];
		if (!c->pending) {
			c->cursor = m->seq;
			c->pending = true;
		}
	}
}

/*
 * Where a "since" replay starts: the oldest event c wants whose time is at
 * or after since (ms since the epoch).  Times are the producers' and need
 * not grow with seq, so every held event is looked at: O(ring).
 */
static uint64_t
sub_since(const struct evbusd *b, const struct conn *c, int64_t since)
{
	uint64_t s, next = ev_ring_next(&b->ring);
	const struct ev_msg *m;

	for (s = ev_ring_first(&b->ring); s < next; s++) {
		m = ev_ring_get(&b->ring, s);
		if (m->time >= since && sub_wants(c, m))
			return s;
	}
	return next;
}

/*
 * Start a subscription from a SUB body: {"patterns":[...]} and at most
 * one of "from" (a seq; 0 for the oldest in the ring), "last" (the newest
 * n matching events) and "since" (events whose time is at or after that
 * many ms since the epoch).  Neither: only events from now on.  Any
 * other key is refused, so that a filter an older bus does not know is
 * never silently ignored.  Queues "OK end", end being the newest seq the
 * replay covers.  -1 with err (EV_ERR_DATA) for a body that is not such
 * an object; the connection is unchanged then.
 */
int
sub_start(struct evbusd *b, struct conn *c, const char *body, size_t len,
    struct ev_err *err)
{
	json_error_t je;
	json_t *j, *pats, *v, *from, *last, *since;
	size_t i;
	uint64_t s;
	int r = -1;

	if ((j = json_loadb(body, len, 0, &je)) == NULL)
		return ev_err_set(err, EV_ERR_DATA,
		    "subscription: invalid JSON: %s", je.text);
	if (!json_is_object(j)) {
		ev_err_set(err, EV_ERR_DATA, "subscription: not an object");
		goto out;
	}
	if (sub_check_keys(j, err) == -1)
		goto out;
	pats = json_object_get(j, "patterns");
	from = json_object_get(j, "from");
	last = json_object_get(j, "last");
	since = json_object_get(j, "since");
	if (pats != NULL && !json_is_array(pats)) {
		ev_err_set(err, EV_ERR_DATA, "patterns: not an array");
		goto out;
	}
	if ((from != NULL && (!json_is_integer(from) ||
	    json_integer_value(from) < 0)) || (last != NULL &&
	    (!json_is_integer(last) || json_integer_value(last) < 0)) ||
	    (since != NULL && (!json_is_integer(since) ||
	    json_integer_value(since) < 0))) {
		ev_err_set(err, EV_ERR_DATA,
		    "from, last, since: not a non-negative integer");
		goto out;
	}
	if ((from != NULL) + (last != NULL) + (since != NULL) > 1) {
		ev_err_set(err, EV_ERR_DATA,
		    "from, last and since exclude each other");
		goto out;
	}
	json_array_foreach(pats, i, v) {
		if (!json_is_string(v)) {
			ev_err_set(err, EV_ERR_DATA,
			    "patterns: not all strings");
			goto out;
		}
		if (ev_patset_add(&c->pats, json_string_value(v),
		    json_string_length(v), err) == -1)
			goto out;
	}
	if (c->pats.ninc == 0 && c->pats.nexc == 0 &&
	    ev_patset_add(&c->pats, "#", 1, err) == -1)
		goto out;
	if (sub_identity(j, &c->ident, err) == -1)
		goto out;
	/* evlist: "sync": true asks for SYNC <seq> at each catch-up. */
	if ((v = json_object_get(j, "sync")) != NULL) {
		if (!json_is_boolean(v)) {
			ev_err_set(err, EV_ERR_DATA, "sync: not true or false");
			goto out;
		}
		c->sync = json_is_true(v);
	}
	/* evlist: "announce": false keeps a poll out of evbus.listener.*. */
	c->quiet = false;
	if ((v = json_object_get(j, "announce")) != NULL) {
		if (!json_is_boolean(v)) {
			ev_err_set(err, EV_ERR_DATA, "announce: not true or "
			    "false");
			goto out;
		}
		c->quiet = json_is_false(v);
	}
	/* where: compiled before the replay's start is looked for */
	if ((v = json_object_get(j, "where")) != NULL &&
	    sub_where_parse(b, c, v, err) == -1)
		goto out;
	/* ACL: what it may receive; "list":true for evlist's permission. */
	if ((v = json_object_get(j, "list")) != NULL && !json_is_boolean(v)) {
		ev_err_set(err, EV_ERR_DATA, "list: not true or false");
		goto out;
	}
	if (acl_sub(b, c, v != NULL && json_is_true(v), err) == -1)
		goto out;

	if (from != NULL) {
		s = (uint64_t)json_integer_value(from);
		c->cursor = s == 0 ? ev_ring_first(&b->ring) : s;
	} else if (last != NULL)
		c->cursor = sub_last(b, c, (uint64_t)json_integer_value(last));
	else if (since != NULL)
		c->cursor = sub_since(b, c, json_integer_value(since));
	else
		c->cursor = ev_ring_next(&b->ring);
	/* --store: replays from the log, durable names (store.c). */
	if (store_sub_start(b, c, j, err) == -1)
		goto out;
	if (conn_reply(c, "OK %" PRIu64, ev_ring_next(&b->ring) - 1) == -1) {
		ev_err_sys(err, "reply");
		goto out;
	}
	if (sub_index(b, c) == -1) {
		ev_err_sys(err, "subscription index");
		goto out;
	}
	c->sub = true;
	c->pending = c->cursor < ev_ring_next(&b->ring);
	if (c->where != NULL) {
		c->where->counting = true;
		c->where->next = c->cursor;
	}
	/* evlist: nothing to replay: in sync at once. */
	if (c->sync && !c->pending && conn_reply(c, "SYNC %" PRIu64,
	    ev_ring_next(&b->ring) - 1) == -1) {
		sub_stop(b, c);
		c->sub = false;
		ev_err_sys(err, "reply");
		goto out;
	}
	if (!c->quiet)
		conn_announce(b, c, "evbus.listener.connected", NULL);
	r = 0;
out:
	if (r == -1) {
		ev_patset_free(&c->pats);
		ev_identity_free(&c->ident);
		sub_where_free(c);
		free(c->durable);		/* --store */
		c->durable = NULL;
	}
	json_decref(j);
	return r;
}

/*
 * c's patterns as a JSON array of strings, exclusions with their '!'.
 * -1 when out of memory.
 */
int
sub_patterns_json(const struct conn *c, struct ev_buf *out)
{
	struct ev_buf ex = { 0 };
	size_t i, n = c->pats.ninc + c->pats.nexc;
	int r = ev_buf_putc(out, '[');

	for (i = 0; r == 0 && i < n; i++) {
		if (i > 0 && ev_buf_putc(out, ',') == -1)
			r = -1;
		else if (i < c->pats.ninc)
			r = ev_json_put_string(out, c->pats.inc[i],
			    c->pats.inclen[i], NULL);
		else {
			ev_buf_reset(&ex);
			r = ev_buf_putc(&ex, '!') == -1 || ev_buf_append(&ex,
			    c->pats.exc[i - c->pats.ninc],
			    c->pats.exclen[i - c->pats.ninc]) == -1 ||
			    ev_json_put_string(out, ex.data, ex.len, NULL) ==
			    -1 ? -1 : 0;
		}
	}
	ev_buf_free(&ex);
	return r == 0 ? ev_buf_putc(out, ']') : -1;
}

/*
 * The one delivery decision: does subscriber c get event m?  Its
 * patterns, then its identity against a targeted event's filter, then
 * the ACL; its "where" filters come last, so that they are evaluated
 * only on the events everything else lets through.
 * Cost: a pattern-set match on the event's name; a regexec per filter
 * expression for the rare targeted event; for a subscriber the ACL
 * restricts, a view check (a cached answer for a recent name), and
 * nothing for one it does not; sub_where_pass's.
 */
bool
sub_wants(const struct conn *c, const struct ev_msg *m)
{
	return ev_patset_match(&c->pats, m->name, m->namelen) &&
	    (m->target == NULL || ev_target_match(m->target, &c->ident)) &&
	    (c->subview == NULL ||
	    ev_acl_view_check(c->subview, m->name, m->namelen)) &&
	    (c->where == NULL || sub_where_pass(c->where, m));
}

/*
 * evlist's SYNC marker.  c has just been written every event it wants
 * up to the ring's newest (cursor is the ring's next): it is no longer
 * pending, and, when it asked for "sync", it is told so with SYNC <seq>,
 * seq being that newest event, queued behind what was written.  Only a
 * change from pending to caught up says it, so that each catch-up after
 * an event that may be for c gives one SYNC, and a connection that has
 * nothing coming is never told twice.  -1 when the reply could not be
 * queued (the caller closes the connection: a client waiting for SYNC
 * must not wait forever).
 */
int
sub_caught_up(struct evbusd *b, struct conn *c)
{
	if (!c->pending)
		return 0;
	c->pending = false;
	if (!c->sync)
		return 0;
	return conn_reply(c, "SYNC %" PRIu64, ev_ring_next(&b->ring) - 1);
}

/*
 * Queue an evbus.gap notice for the events [cursor, first) that the ring
 * dropped before c read them, and move c's cursor past them.  -1 when the
 * notice could not be queued (the caller closes the connection: silent
 * loss is not an option).
 */
int
sub_gap(struct evbusd *b, struct conn *c)
{
	struct ev_buf ev = { 0 };
	char payload[160];
	uint64_t first = ev_ring_first(&b->ring), to = first - 1;
	int r;

	snprintf(payload, sizeof(payload), "{\"from\":%" PRIu64 ",\"to\":%"
	    PRIu64 ",\"seqs\":%" PRIu64 ",\"reason\":\"overrun\"}",
	    c->cursor, to, to - c->cursor + 1);
	r = ev_event_internal(&ev, 0, &b->self, "evbus.gap", ev_now_ms(),
	    payload);
	if (r == 0)
		r = conn_reply(c, "EVENT %zu\n%s", ev_buf_unread(&ev),
		    ev_buf_head(&ev));
	ev_buf_free(&ev);
	if (r == -1)
		return -1;
	log_info("client %" PRIu64 " (%s) lost events %" PRIu64 "..%" PRIu64,
	    c->serial, c->name, c->cursor, to);
	c->cursor = first;
	return 0;
}
