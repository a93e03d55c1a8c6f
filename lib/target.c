/*
 * target.c: Consul-style targeting.  An event's "filter" holds POSIX
 * extended regular expressions for node, service and tag; a subscriber
 * declares its identity (a node, a service, tags).  The event reaches a
 * subscriber only when every expression it sets matches: node against the
 * node, service against the service, tag against any one of the tags.
 * Matching is unanchored, as Consul's is: write ^ and $ to anchor.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

static const char *const target_what[EV_TARGET_KINDS] = {
	"node", "service", "tag"
};

struct ev_target {
	bool	 set[EV_TARGET_KINDS];
	regex_t	 re[EV_TARGET_KINDS];
};

int
ev_target_compile(const struct ev_evinfo *info, struct ev_target **out,
    struct ev_err *err)
{
	struct ev_target *t;
	char msg[128];
	int k, r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return ev_err_sys(err, "filter");
	for (k = 0; k < EV_TARGET_KINDS; k++) {
		if (!info->targeted[k])
			continue;
		r = regcomp(&t->re[k], info->target[k], REG_EXTENDED |
		    REG_NOSUB);
		if (r != 0) {
			regerror(r, &t->re[k], msg, sizeof(msg));
			ev_target_free(t);
			return ev_err_set(err, EV_ERR_DATA, "filter.%s: bad "
			    "regular expression '%.64s': %s", target_what[k],
			    info->target[k], msg);
		}
		t->set[k] = true;
	}
	*out = t;
	return 0;
}

void
ev_target_free(struct ev_target *t)
{
	int k;

	if (t == NULL)
		return;
	for (k = 0; k < EV_TARGET_KINDS; k++)
		if (t->set[k])
			regfree(&t->re[k]);
	free(t);
}

/* Does one expression match a string of the identity (NULL: none)? */
static bool
target_one(const regex_t *re, const char *s)
{
	return s != NULL && regexec(re, s, 0, NULL, 0) == 0;
}

bool
ev_target_match(const struct ev_target *t, const struct ev_identity *id)
{
	size_t i;

	if (t == NULL)
		return true;
	if (t->set[EV_TARGET_NODE] && !target_one(&t->re[EV_TARGET_NODE],
	    id != NULL ? id->node : NULL))
		return false;
	if (t->set[EV_TARGET_SERVICE] && !target_one(
	    &t->re[EV_TARGET_SERVICE], id != NULL ? id->service : NULL))
		return false;
	if (t->set[EV_TARGET_TAG]) {
		for (i = 0; id != NULL && i < id->ntags; i++)
			if (target_one(&t->re[EV_TARGET_TAG], id->tags[i]))
				return true;
		return false;
	}
	return true;
}

void
ev_identity_free(struct ev_identity *id)
{
	size_t i;

	free(id->node);
	free(id->service);
	for (i = 0; i < id->ntags; i++)
		free(id->tags[i]);
	free(id->tags);
	memset(id, 0, sizeof(*id));
}

/* --- a subscriber's identity, from its options and environment ----- */

/*
 * Copy one name of the identity into *out, NULL for an empty one; what
 * says where it came from, for the message.  -1 with err.
 */
static int
identity_name(const char *v, size_t len, const char *what, char **out,
    struct ev_err *err)
{
	*out = NULL;
	if (len == 0)
		return 0;
	if (len > EV_NAME_MAX)
		return ev_err_set(err, EV_ERR_DATA, "%s: longer than %d bytes",
		    what, EV_NAME_MAX);
	if ((*out = strndup(v, len)) == NULL)
		return ev_err_sys(err, "%s", what);
	return 0;
}

/* Add one tag (empty: skipped); -1 with err. */
static int
identity_tag(struct ev_identity *id, const char *v, size_t len,
    const char *what, struct ev_err *err)
{
	char **t, *tag;

	if (len == 0)
		return 0;
	if (id->ntags == EV_IDENTITY_TAGS)
		return ev_err_set(err, EV_ERR_DATA, "%s: more than %d tags",
		    what, EV_IDENTITY_TAGS);
	if (identity_name(v, len, what, &tag, err) == -1)
		return -1;
	if ((t = reallocarray(id->tags, id->ntags + 1, sizeof(*t))) == NULL) {
		free(tag);
		return ev_err_sys(err, "%s", what);
	}
	id->tags = t;
	id->tags[id->ntags++] = tag;
	return 0;
}

int
ev_identity_init(struct ev_identity *id, const char *node,
    const char *service, char *const *tags, size_t ntags, struct ev_err *err)
{
	char host[256];
	const char *v, *p, *q, *e, *what;
	size_t i;

	memset(id, 0, sizeof(*id));
	what = "--node";
	if (node == NULL && (node = getenv("EVBUS_NODE")) != NULL)
		what = "EVBUS_NODE";
	if (node == NULL) {
		if (gethostname(host, sizeof(host)) == -1) {
			ev_err_sys(err, "the host name (set EVBUS_NODE)");
			goto fail;
		}
		host[sizeof(host) - 1] = '\0';
		node = host;
		what = "the host name";
	}
	if (identity_name(node, strlen(node), what, &id->node, err) == -1)
		goto fail;
	what = "--service";
	if (service == NULL && (service = getenv("EVBUS_SERVICE")) != NULL)
		what = "EVBUS_SERVICE";
	if (service != NULL && identity_name(service, strlen(service), what,
	    &id->service, err) == -1)
		goto fail;
	for (i = 0; i < ntags; i++)
		if (identity_tag(id, tags[i], strlen(tags[i]), "--tag",
		    err) == -1)
			goto fail;
	if (ntags > 0 || (v = getenv("EVBUS_TAGS")) == NULL)
		return 0;
	for (p = v; *p != '\0'; p = *q == ',' ? q + 1 : q) {
		q = p + strcspn(p, ",");
		for (e = q; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (identity_tag(id, p, (size_t)(e - p), "EVBUS_TAGS",
		    err) == -1)
			goto fail;
	}
	return 0;
fail:
	ev_identity_free(id);
	return -1;
}
