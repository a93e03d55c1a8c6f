/*
 * input.c: evroute's input.  Standard input is read when poll says so,
 * one read at a time; each line is one event, set once in the doc that
 * every rule's filter and template then reads, and routed by the rules in
 * order.  When a destination is full (sink_put sets e->paused, or the
 * publisher is), the lines left in the input buffer wait and standard
 * input is no longer watched until the destinations drain: a slow
 * destination holds up the producer, never evroute's memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evroute.h"

static void	on_input(struct ev_loop *, int, void *);

/* A bad input line: reported with its number; the rest goes on. */
static void
bad_line(struct evroute *e, const char *why)
{
	report(e, "stdin:%llu: %s", (unsigned long long)e->lineno, why);
	e->status = EV_EX_REJECTED;
}

static bool
is_blank_line(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

static void
act(struct evroute *e, size_t i, const char *line, size_t len)
{
	const struct ev_route *r = &e->rs.r[i];

	switch (r->action) {
	case EV_ROUTE_DROP:
		break;
	case EV_ROUTE_FIRE:
		fire_event(e, r, line, len);
		break;
	default:
		sink_put(e, e->rsink[i], line, len);
		break;
	}
}

/* One line: the rules in order, the first that takes it (-a: all). */
static void
route_line(struct evroute *e, const char *line, size_t len)
{
	const struct ev_route *r;
	const size_t *idx;
	const char *name;
	struct ev_err err;
	size_t nlen, n, i;
	bool matched = false;
	int v;

	e->lineno = e->in.lineno;
	if (len == 0 || ((line[0] == ' ' || line[0] == '\t' ||
	    line[0] == '\r') && is_blank_line(line, len)))
		return;
	if (ev_expr_doc_set(e->doc, line, len, &err) == -1 ||
	    ev_expr_doc_string(e->doc, "name", 4, &name, &nlen, &err) == -1 ||
	    ev_name_check(name, nlen, &err) == -1) {
		bad_line(e, err.msg);
		return;
	}
	if (ev_routes_match(&e->rs, name, nlen, &idx, &n) == -1)
		nomem();
	for (i = 0; i < n; i++) {
		r = &e->rs.r[idx[i]];
		if (r->expr != NULL &&
		    (v = ev_expr_eval_doc(r->expr, e->doc, &err)) != 1) {
			if (v == -1) {
				report(e, "stdin:%llu: %s:%u: where %s: %s",
				    (unsigned long long)e->lineno, r->src,
				    r->line, r->where, err.msg);
				e->status = EV_EX_REJECTED;
			}
			continue;
		}
		matched = true;
		act(e, idx[i], line, len);
		if (!e->all)
			break;
	}
	if (!matched && !e->drop_unmatched)
		sink_put(e, e->out, line, len);
}

/* Take standard input's reads, or leave it: the loop watches it or not. */
static void
watch_input(struct evroute *e, bool on)
{
	struct ev_err err;

	if (on == e->reading || e->eof)
		return;
	if (on) {
		if (ev_loop_fd_add(&e->loop, 0, EV_LOOP_READ, on_input, NULL,
		    e, &err) == -1)
			nomem();
	} else
		ev_loop_fd_del(&e->loop, 0);
	e->reading = on;
}

/*
 * Route the whole lines the input buffer holds, stopping early when a
 * destination fills up; then write out what was routed.
 */
static void
process(struct evroute *e)
{
	const char *line;
	struct ev_err err;
	size_t len;
	int r;

	for (;;) {
		if (e->paused || fire_full(e)) {
			sink_flush_all(e);
			fire_flush(e);
			if (sink_full(e) || fire_full(e)) {
				e->paused = true;
				watch_input(e, false);
				return;
			}
			e->paused = false;
		}
		if ((r = ev_lines_next(&e->in, &line, &len, &err)) == 0)
			break;
		if (r == -1) {
			e->lineno = e->in.lineno;
			bad_line(e, err.msg);
			continue;
		}
		route_line(e, line, len);
	}
	if (e->in.eof) {
		watch_input(e, false);
		e->eof = true;
	} else
		watch_input(e, true);
	sink_flush_all(e);
	fire_flush(e);
}

static void
on_input(struct ev_loop *loop, int fd, void *arg)
{
	struct evroute *e = arg;
	struct ev_err err;

	(void)loop;
	(void)fd;
	if (ev_lines_fill(&e->in, &err) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		fatal(e, EV_EX_IOERR, "stdin: %s", err.msg);
	}
	process(e);
}

void
input_start(struct evroute *e)
{
	ev_lines_init(&e->in, 0, LINE_MAX_IN);
	watch_input(e, true);
}

/* A destination drained: go on with the input if none is full now. */
void
input_resume(struct evroute *e)
{
	if (!e->paused || e->eof || sink_full(e) || fire_full(e))
		return;
	e->paused = false;
	process(e);
}
