/*
 * fire.c: evroute's fire action, through the library's publisher (which
 * keeps every event until the bus acknowledges it and sends again what a
 * lost connection left unanswered).
 *
 * fire alone publishes the event as it is (its seq and origin left out:
 * the bus sets them).  fire:TEMPLATE renames it: the new name is the
 * template rendered on the event, checked as any producer's name; the
 * event gets a new id, a UUID made from a SHA-256 of its old id and the
 * new name (so that routing the same input again publishes nothing
 * twice: the bus drops a repeated id), and its old id is kept as
 * metadata.routed_from.  An event the template cannot be rendered for,
 * or whose new name is not a valid name, is reported and sent to the
 * unroutable destination.
 */
#include <errno.h>
#include <poll.h>
#include <sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evroute.h"

static void	on_pub_read(struct ev_loop *, int, void *);
static void	on_pub_write(struct ev_loop *, int, void *);

/* The publisher's descriptor in the loop: it changes on a reconnect. */
static void
pub_watch(struct evroute *e)
{
	struct ev_err err;
	short events;
	int fd;

	ev_pub_pollfd(&e->pub, &fd, &events);
	if (fd != e->pubfd && e->pubfd >= 0)
		ev_loop_fd_del(&e->loop, e->pubfd);
	e->pubfd = fd;
	if (fd < 0)
		return;
	if (ev_loop_fd_add(&e->loop, fd, EV_LOOP_READ |
	    ((events & POLLOUT) ? EV_LOOP_WRITE : 0), on_pub_read,
	    on_pub_write, e, &err) == -1)
		nomem();
}

/* The publisher gave up: say what is not known to be on the bus. */
static void __attribute__((noreturn))
pub_failed(struct evroute *e, const struct ev_err *err)
{
	fatal(e, err->kind == EV_ERR_DENIED ? EV_EX_NOPERM :
	    EV_EX_UNAVAILABLE, "fire: %s; %zu events fired from the input "
	    "are not known to be on the bus", err->msg, e->pub.nent);
}

static void
pub_io(struct evroute *e, short revents)
{
	struct ev_err err;

	if (ev_pub_io(&e->pub, revents, &err) == -1)
		pub_failed(e, &err);
	pub_watch(e);
	input_resume(e);
}

static void
on_pub_read(struct ev_loop *loop, int fd, void *arg)
{
	(void)loop;
	(void)fd;
	pub_io(arg, POLLIN);
}

static void
on_pub_write(struct ev_loop *loop, int fd, void *arg)
{
	(void)loop;
	(void)fd;
	pub_io(arg, POLLOUT);
}

static void
on_reject(void *arg, uint64_t tag, const char *code, const char *text)
{
	struct evroute *e = arg;

	report(e, "stdin:%llu: fire: the bus refused it (%s): %s",
	    (unsigned long long)tag, code, text);
	e->status = EV_EX_REJECTED;
}

int
fire_open(struct evroute *e)
{
	struct ev_err err;

	e->pubfd = -1;
	if (ev_pub_open(&e->pub, e->sock, "evroute", EV_CLIENT_AUTOSTART,
	    &err) == -1)
		fatal(e, ev_err_exit(&err), "fire: %s", err.msg);
	e->pub.on_reject = on_reject;
	e->pub.arg = e;
	e->firing = true;
	pub_watch(e);
	return 0;
}

/* Send what is queued, as far as the socket takes it now. */
void
fire_flush(struct evroute *e)
{
	if (e->firing && e->pub.sendi < e->pub.nent)
		pub_io(e, 0);
}

bool
fire_full(const struct evroute *e)
{
	return e->firing && ev_pub_full(&e->pub);
}

bool
fire_done(const struct evroute *e)
{
	return !e->firing || e->pub.nent == 0;
}

void
fire_close(struct evroute *e)
{
	if (!e->firing)
		return;
	if (e->pubfd >= 0)
		ev_loop_fd_del(&e->loop, e->pubfd);
	ev_pub_close(&e->pub);
	ev_buf_free(&e->ev);
	ev_buf_free(&e->newname);
	e->firing = false;
}

/* The event could not be fired: say why, send it to --unroutable. */
static void
unroutable(struct evroute *e, const struct ev_route *r, const char *line,
    size_t len, const char *why)
{
	report(e, "stdin:%llu: %s:%u: fire%s%s: %s",
	    (unsigned long long)e->lineno, r->src, r->line,
	    r->arg != NULL ? ":" : "", r->arg != NULL ? r->arg : "", why);
	e->status = EV_EX_REJECTED;
	if (e->unroutable != NULL)
		sink_put(e, e->unroutable, line, len);
}

/* A UUID (RFC 9562's version 8) from a SHA-256 of id, '\n' and name. */
static void
derive_id(const char *id, size_t idlen, const char *name, size_t namelen,
    char out[EV_UUID_LEN + 1])
{
	SHA2_CTX ctx;
	uint8_t h[SHA256_DIGEST_LENGTH];

	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)id, idlen);
	SHA256Update(&ctx, (const uint8_t *)"\n", 1);
	SHA256Update(&ctx, (const uint8_t *)name, namelen);
	SHA256Final(h, &ctx);
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x80);
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
	snprintf(out, EV_UUID_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4],
	    h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
	    h[15]);
}

/*
 * Queue the event of the current line (in e->doc) for the bus, as rule r
 * says.  Cost: a render of the template, one copy of the event with its
 * edits (ev_event_edit), one copy into the publisher's queue.
 */
void
fire_event(struct evroute *e, const struct ev_route *r, const char *line,
    size_t len)
{
	struct ev_prepare prep = { .fill = true, .now_ms = ev_now_ms(),
	    .maxdepth = EV_DEPTH_DEFAULT };
	struct ev_edit ed;
	struct ev_metaset from;
	struct ev_evinfo info;
	struct ev_err err;
	struct ev_buf oldid = { 0 };
	char newid[EV_UUID_LEN + 1];
	const char *id;
	size_t idlen;

	memset(&ed, 0, sizeof(ed));
	if (r->tmpl != NULL) {
		ev_buf_reset(&e->newname);
		if (ev_tmpl_render_doc(r->tmpl, e->doc, &e->newname,
		    &err) == -1) {
			if (err.kind == EV_ERR_SYS)
				nomem();
			unroutable(e, r, line, len, err.msg);
			return;
		}
		ed.name = ev_buf_head(&e->newname) != NULL ?
		    ev_buf_head(&e->newname) : "";
		ed.namelen = ev_buf_unread(&e->newname);
		if (ev_expr_doc_string(e->doc, "id", 2, &id, &idlen,
		    &err) == 0) {
			derive_id(id, idlen, ed.name, ed.namelen, newid);
			if (ev_json_put_string(&oldid, id, idlen, &err) == -1) {
				unroutable(e, r, line, len, "id: not valid "
				    "UTF-8");
				return;
			}
			ed.id = newid;
			ed.idlen = EV_UUID_LEN;
			from = (struct ev_metaset){ "routed_from", 11,
			    oldid.data, oldid.len };
			ed.meta = &from;
			ed.nmeta = 1;
		} else
			ed.newid = true;
	}
	ev_buf_reset(&e->ev);
	if (ev_event_edit(line, len, &prep, &ed, &e->ev, &info,
	    &err) == -1) {
		ev_buf_free(&oldid);
		if (err.kind == EV_ERR_SYS)
			nomem();
		unroutable(e, r, line, len, err.msg);
		return;
	}
	ev_buf_free(&oldid);
	if (ev_pub_queue(&e->pub, ev_buf_head(&e->ev), ev_buf_unread(&e->ev),
	    e->lineno, info.id, EV_PUB_OWNID, &err) == -1)
		nomem();
}
