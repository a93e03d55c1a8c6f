/*
 * target.c: Consul-style targeting.  An event's "filter" holds POSIX
 * extended regular expressions for node, service and tag; a subscriber
 * declares its identity (a node, a service, tags).  The event reaches a
 * subscriber only when every expression it sets matches: node against the
 * node, service against the service, tag against any one of the tags.
 * Matching is unanchored, as Consul's is: write ^ and $ to anchor.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
