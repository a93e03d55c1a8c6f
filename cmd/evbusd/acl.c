/*
 * acl.c: the access control of a shared bus (evbusd -A FILE): the rules
 * loaded at start and on SIGHUP, each connection's identity and views
 * (what it may fire, what it may receive), and the evbus.acl.denied
 * audit events.  The rules themselves are lib/acl.c.
 *
 * Without -A nothing here costs anything: the listener admits only the
 * bus's owner and root, and every view stays NULL ("unrestricted").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbusd.h"

/*
 * The bound on evbus.acl.denied: a bucket of ACL_DENIED_BURST events,
 * refilled by ACL_DENIED_RATE a second, bus-wide.  A denial that finds it
 * empty is counted, and the count goes out with the next event.
 */
#define ACL_DENIED_BURST	20
#define ACL_DENIED_RATE		10

static void	acl_view_drop(struct ev_acl_view **);
static int	acl_view(struct evbusd *, struct conn *, unsigned,
		    struct ev_acl_view **, struct ev_err *);
static void	acl_announce_reload(struct evbusd *, bool, const char *);

/*
 * Load the ACL at path for the bus (at start).  0, or -1 with err as
 * ev_acl_load says: "FILE:LINE: reason" (EV_ERR_DATA), a file that may
 * not be trusted (EV_ERR_DENIED), one that cannot be read (EV_ERR_SYS).
 */
int
acl_open(struct evbusd *b, const char *path, struct ev_err *err)
{
	if ((b->aclpath = strdup(path)) == NULL)
		return ev_err_sys(err, "%s", path);
	if (ev_acl_load(b->aclpath, &b->acl, err) == -1)
		return -1;
	b->denied_tokens = ACL_DENIED_BURST * 1000;
	b->denied_ms = ev_mono_ms();
	return 0;
}

/* Forget the rules (the bus stops); the connections are gone already. */
void
acl_close(struct evbusd *b)
{
	ev_acl_free(b->acl);
	b->acl = NULL;
	free(b->aclpath);
	b->aclpath = NULL;
}

/*
 * evbusd --check-acl FILE: load it as -A would, print its rules as they
 * are understood on standard output.  The exit status: 0, or that of the
 * error (65 bad rules, 77 a file that may not be trusted, 74 unreadable).
 */
int
acl_check_file(const char *path)
{
	struct ev_acl *acl = NULL;
	struct ev_buf out = { 0 };
	struct ev_err err;
	int st = EV_EX_OK;

	if (ev_acl_load(path, &acl, &err) == -1) {
		fprintf(stderr, "evbusd: %s\n", err.msg);
		return ev_err_exit(&err);
	}
	if (ev_acl_describe(acl, &out) == -1 || out.data == NULL) {
		fprintf(stderr, "evbusd: %s: %s\n", path, strerror(ENOMEM));
		st = EV_EX_SOFTWARE;
	} else if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fflush(stdout) == EOF) {
		fprintf(stderr, "evbusd: stdout: %s\n", strerror(errno));
		st = EV_EX_IOERR;
	}
	ev_buf_free(&out);
	ev_acl_free(acl);
	return st;
}

static void
acl_view_drop(struct ev_acl_view **vp)
{
	if (*vp == NULL)
		return;
	ev_acl_view_free(*vp);
	free(*vp);
	*vp = NULL;
}

/*
 * Make c's view for perm from the bus's rules into *vp, replacing the one
 * there (which may point into older rules, still alive): NULL when the
 * view lets everything through, so that the check costs nothing then.
 * 0, or -1 with err (out of memory) and *vp as it was.
 */
static int
acl_view(struct evbusd *b, struct conn *c, unsigned perm,
    struct ev_acl_view **vp, struct ev_err *err)
{
	struct ev_acl_view *v = NULL;

	if (b->acl != NULL && !ev_acl_unrestricted(b->acl, &c->aclid, perm)) {
		if ((v = calloc(1, sizeof(*v))) == NULL)
			return ev_err_sys(err, "ACL view");
		if (ev_acl_view_init(v, b->acl, &c->aclid, perm, err) == -1) {
			free(v);
			return -1;
		}
	}
	acl_view_drop(vp);
	*vp = v;
	return 0;
}

/*
 * After HELLO: who c is for the rules, and what it may fire.  Root and the
 * bus's owner need no look-up; another user's groups are read now, once
 * (an NSS look-up, which may block the loop as long as the user database
 * takes).  token: HELLO's ("" for none), kept only as its hash (the
 * caller wipes it).  0, or -1
 * with err (the user database failed, or out of memory): the caller
 * refuses the connection, as a group's deny rule could otherwise be
 * missed.
 */
int
acl_hello(struct evbusd *b, struct conn *c, const char *token,
    struct ev_err *err)
{
	size_t toklen = strlen(token);
	int r = 0;

	if (b->acl == NULL || c->cred.uid == 0 || c->cred.uid == b->acl->owner) {
		c->aclid.uid = c->cred.uid;
		c->aclid.gid = c->cred.gid;
	} else if (ev_acl_id_init(&c->aclid, c->cred.uid, c->cred.gid,
	    toklen > 0 ? token : NULL, toklen, err) == -1)
		r = -1;
	if (r == 0)
		r = acl_view(b, c, EV_ACL_FIRE, &c->fireview, err);
	return r;
}

/* Free what the ACL gave c. */
void
acl_conn_free(struct conn *c)
{
	acl_view_drop(&c->fireview);
	acl_view_drop(&c->subview);
	ev_acl_id_free(&c->aclid);
}

/*
 * SUB from c, its patterns parsed: what it may receive, checked with the
 * "sub" permission or, for a listing (the SUB key "list":true), "list".
 * Sets c->subview (NULL: everything its patterns match).  A subscription
 * none of whose patterns may receive anything is refused: -1 with err
 * EV_ERR_DENIED "sub: not allowed to receive 'P'" (or "any of 'P', 'Q'"),
 * and evbus.acl.denied names its first pattern.  -1 with EV_ERR_SYS when
 * out of memory.  Cost: ev_acl_view_reaches for each pattern.
 */
int
acl_sub(struct evbusd *b, struct conn *c, bool list, struct ev_err *err)
{
	const char *what = list ? "list" : "sub";
	char text[sizeof(err->msg)];
	size_t i, n, used;
	const char *p;
	size_t plen;

	c->subperm = list ? EV_ACL_LIST : EV_ACL_SUB;
	if (acl_view(b, c, c->subperm, &c->subview, err) == -1)
		return -1;
	if (c->subview == NULL)
		return 0;
	n = c->pats.ninc > 0 ? c->pats.ninc : 1;
	for (i = 0; i < n; i++) {
		p = c->pats.ninc > 0 ? c->pats.inc[i] : "#";
		plen = c->pats.ninc > 0 ? c->pats.inclen[i] : 1;
		if (ev_acl_view_reaches(c->subview, p, plen))
			return 0;
	}
	used = (size_t)snprintf(text, sizeof(text), "%s: not allowed to "
	    "receive %s", what, n > 1 ? "any of " : "");
	for (i = 0; i < n && used < sizeof(text); i++) {
		p = c->pats.ninc > 0 ? c->pats.inc[i] : "#";
		plen = c->pats.ninc > 0 ? c->pats.inclen[i] : 1;
		used += (size_t)snprintf(text + used, sizeof(text) - used,
		    "%s'%.*s'", i > 0 ? ", " : "", (int)plen, p);
	}
	acl_denied(b, c, c->subperm, c->pats.ninc > 0 ? c->pats.inc[0] : "#",
	    c->pats.ninc > 0 ? c->pats.inclen[0] : 1);
	acl_view_drop(&c->subview);
	return ev_err_set(err, EV_ERR_DENIED, "%s", text);
}

/*
 * May c see every subscriber in STATS?  Root, the owner, and everyone on
 * a bus without -A; another user sees its own subscriptions only.
 */
bool
acl_sees_all(const struct evbusd *b, const struct conn *c)
{
	return b->acl == NULL || c->cred.uid == 0 ||
	    c->cred.uid == b->acl->owner;
}

/*
 * Publish evbus.acl.denied for c, refused perm on name[0..len) (an event's
 * name, or a subscription's pattern):
 *
 *	{"uid":1001,"user":"alice","perm":"fire","name":"deploy.x",
 *	 "suppressed":0}
 *
 * through the one publish path, within the bound (ACL_DENIED_BURST at
 * once, ACL_DENIED_RATE a second): past it the denial is only counted,
 * and "suppressed" of the next event says how many were left out since
 * the last one.  Failures are logged, never the caller's.
 */
void
acl_denied(struct evbusd *b, const struct conn *c, unsigned perm,
    const char *name, size_t len)
{
	struct ev_buf p = { 0 };
	int64_t now = ev_mono_ms();
	int r;

	b->denied_tokens += (now - b->denied_ms) * ACL_DENIED_RATE;
	if (b->denied_tokens > ACL_DENIED_BURST * 1000)
		b->denied_tokens = ACL_DENIED_BURST * 1000;
	b->denied_ms = now;
	if (b->denied_tokens < 1000) {
		b->denied_suppressed++;
		return;
	}
	b->denied_tokens -= 1000;
	r = ev_buf_printf(&p, "{\"uid\":%lu,\"user\":",
	    (unsigned long)c->cred.uid);
	if (r == 0)
		r = c->aclid.user != NULL ? ev_json_put_string(&p,
		    c->aclid.user, strlen(c->aclid.user), NULL) :
		    ev_buf_append(&p, "null", 4);
	if (r == 0)
		r = ev_buf_printf(&p, ",\"perm\":\"%s\",\"name\":",
		    perm == EV_ACL_FIRE ? "fire" : perm == EV_ACL_LIST ?
		    "list" : "sub");
	if (r == 0)
		r = ev_json_put_string(&p, name, len, NULL);
	if (r == 0)
		r = ev_buf_printf(&p, ",\"suppressed\":%" PRIu64 "}",
		    b->denied_suppressed);
	if (r == 0 && bus_announce(b, "evbus.acl.denied",
	    ev_buf_head(&p)) == 0)
		b->denied_suppressed = 0;
	else if (r != 0)
		log_warnx("evbus.acl.denied: out of memory");
	ev_buf_free(&p);
}

/* Publish evbus.acl.reload: {"file":F,"ok":true,"rules":N} or an error. */
static void
acl_announce_reload(struct evbusd *b, bool ok, const char *why)
{
	struct ev_buf p = { 0 };
	int r;

	r = ev_buf_append(&p, "{\"file\":", 8);
	if (r == 0)
		r = ev_json_put_string(&p, b->aclpath, strlen(b->aclpath),
		    NULL);
	if (r == 0 && ok)
		r = ev_buf_printf(&p, ",\"ok\":true,\"rules\":%zu}",
		    b->acl->nrules);
	else if (r == 0) {
		r = ev_buf_append(&p, ",\"ok\":false,\"error\":", 20);
		if (r == 0)
			r = ev_json_put_string(&p, why, strlen(why), NULL);
		if (r == 0)
			r = ev_buf_putc(&p, '}');
	}
	if (r == 0)
		bus_announce(b, "evbus.acl.reload", ev_buf_head(&p));
	else
		log_warnx("evbus.acl.reload: out of memory");
	ev_buf_free(&p);
}

/*
 * SIGHUP: read the rules again.  A file refused now (bad rules, a mode or
 * owner that may not be trusted, unreadable) leaves the rules in force,
 * and says why in the log and in evbus.acl.reload.  New rules apply at
 * once to every connection: its views are made again from them (the
 * identities, groups included, stay as read at HELLO), then the old rules
 * are freed.  A connection whose view cannot be made (out of memory) is
 * closed rather than left with no rules.
 * Cost: a pass over the rules for each connection.
 */
void
acl_reload(struct evbusd *b)
{
	struct ev_acl *old, *acl = NULL;
	struct ev_err err;
	struct conn *c;

	if (b->aclpath == NULL) {
		log_info("SIGHUP: no rules to read again (evbusd runs "
		    "without -A)");
		return;
	}
	if (ev_acl_load(b->aclpath, &acl, &err) == -1) {
		log_warnx("SIGHUP: %s: keeping the rules in force", err.msg);
		acl_announce_reload(b, false, err.msg);
		return;
	}
	old = b->acl;
	b->acl = acl;
	TAILQ_FOREACH(c, &b->conns, entry) {
		if (c->dead || !c->hello)
			continue;
		if (acl_view(b, c, EV_ACL_FIRE, &c->fireview, &err) == -1 ||
		    (c->sub && acl_view(b, c, c->subperm, &c->subview,
		    &err) == -1)) {
			log_warnx("client %" PRIu64 ": %s", c->serial,
			    err.msg);
			conn_close(b, c, "out of memory for its ACL view");
			acl_view_drop(&c->fireview);
			acl_view_drop(&c->subview);
		}
	}
	ev_acl_free(old);
	log_info("SIGHUP: %s: %zu rules in force", b->aclpath,
	    b->acl->nrules);
	acl_announce_reload(b, true, NULL);
}
