/*
 * fuzz_acl.c: libFuzzer target for the ACL parser and its decisions.
 *
 * The input is ACL text, then optionally a NUL byte and event names, one a
 * line.  The text goes to ev_acl_parse.  A refusal must come with a
 * message naming the input ("f:...").  An ACL that parses must describe
 * itself as text that parses to the same entries in the same order; and
 * for a few fixed identities (two users with groups, one with a token,
 * root, the bus's owner), every permission and every name, ev_acl_check
 * and a view (asked twice, the second time from its cache) must give the
 * answer of an independent oracle: among the entries that match, the
 * highest by (WHO class, literal tokens, fewer '#', fewer '*'), deny over
 * allow, computed from the pattern's text; ev_acl_unrestricted and a
 * view's all and none must never contradict it (on names of 1 to
 * EV_NAME_MAX bytes: an empty or longer one is refused to all but root
 * and the owner).
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

#define OWNER	4242
#define TOK_A	"fuzz-token-aaaa-0123"
#define TOK_B	"fuzz-token-bbbb-0123"
#define NAMES	32

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ev_acl_id ids[5];
static const unsigned perms[] = { EV_ACL_FIRE, EV_ACL_SUB, EV_ACL_LIST };
static const char *dflt_names[] = { "a", "a.b", "a.b.c", "evbus.started",
    "evbus.acl.denied", "deploy.prod.web", "x.y.z", "log", "b.log" };

/* An identity with the groups given, whatever the user database says. */
static void
mkid(struct ev_acl_id *id, uid_t uid, gid_t gid, const gid_t *groups,
    size_t n, const char *token)
{
	struct ev_err err;

	if (ev_acl_id_init(id, 3999999, gid, token,
	    token != NULL ? strlen(token) : 0, &err) == -1)
		abort();
	id->uid = uid;
	free(id->groups);
	if ((id->groups = calloc(n, sizeof(*id->groups))) == NULL)
		abort();
	memcpy(id->groups, groups, n * sizeof(*groups));
	id->ngroups = n;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const gid_t g0[] = { 1000, 50 }, g1[] = { 1001 },
	    g2[] = { 0 }, g3[] = { OWNER }, g4[] = { 50, 60 };

	(void)argc;
	(void)argv;
	mkid(&ids[0], 1000, 1000, g0, 2, NULL);
	mkid(&ids[1], 1001, 1001, g1, 1, TOK_A);
	mkid(&ids[2], 0, 0, g2, 1, NULL);
	mkid(&ids[3], OWNER, OWNER, g3, 1, NULL);
	mkid(&ids[4], 2000, 50, g4, 2, TOK_B);
	return 0;
}

/* The rank of an entry, from its WHO and its pattern's text. */
static uint64_t
oracle_rank(const struct ev_acl_ent *e)
{
	const char *p = e->pat, *end = e->pat + e->patlen, *dot;
	uint64_t who, lit = 0, hash = 0, star = 0;
	size_t len;

	who = e->who == EV_ACL_WHO_ANY ? 0 : e->who == EV_ACL_WHO_GROUP ?
	    1 : 2;
	for (;;) {
		dot = memchr(p, '.', (size_t)(end - p));
		len = dot != NULL ? (size_t)(dot - p) : (size_t)(end - p);
		if (len == 1 && *p == '#')
			hash++;
		else if (len == 1 && *p == '*')
			star++;
		else
			lit++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	return who << 48 | lit << 32 | (1000 - hash) << 16 | (1000 - star);
}

static bool
oracle_who(const struct ev_acl_ent *e, const struct ev_acl_id *id)
{
	size_t i;

	switch (e->who) {
	case EV_ACL_WHO_ANY:
		return true;
	case EV_ACL_WHO_USER:
		return e->id == id->uid;
	case EV_ACL_WHO_GROUP:
		if (e->id == id->gid)
			return true;
		for (i = 0; i < id->ngroups; i++)
			if (e->id == id->groups[i])
				return true;
		return false;
	default:
		return id->hastoken &&
		    memcmp(e->hash, id->token, EV_ACL_HASH_LEN) == 0;
	}
}

static bool
oracle(const struct ev_acl *acl, const struct ev_acl_id *id, unsigned perm,
    const char *name, size_t len)
{
	const struct ev_acl_ent *e;
	uint64_t best = 0, r;
	bool found = false, deny = false;
	size_t i;

	if (id->uid == 0 || id->uid == OWNER)
		return true;
	if (len == 0 || len > EV_NAME_MAX)
		return false;
	for (i = 0; i < acl->nent; i++) {
		e = &acl->ent[i];
		if ((e->perms & perm) == 0 || !oracle_who(e, id) ||
		    !ev_pattern_match(e->pat, e->patlen, name, len))
			continue;
		r = oracle_rank(e);
		if (!found || r > best) {
			best = r;
			deny = !e->allow;
			found = true;
		} else if (r == best && !e->allow)
			deny = true;
	}
	return found && !deny;
}

/* The description parses to the same entries, in the same order. */
static void
round_trip(const struct ev_acl *acl)
{
	struct ev_buf out = { 0 };
	struct ev_acl *again = NULL;
	struct ev_err err;
	const struct ev_acl_ent *a, *b;
	size_t i;

	assert(ev_acl_describe(acl, &out) == 0);
	if (ev_acl_parse(out.data, out.len, "described", &again, &err) == -1)
		abort();
	assert(again->nent == acl->nent);
	for (i = 0; i < acl->nent; i++) {
		a = &acl->ent[i];
		b = &again->ent[i];
		assert(a->rank == b->rank && a->allow == b->allow &&
		    a->perms == b->perms && a->who == b->who &&
		    a->id == b->id && a->patlen == b->patlen &&
		    memcmp(a->pat, b->pat, a->patlen) == 0 &&
		    memcmp(a->hash, b->hash, EV_ACL_HASH_LEN) == 0);
	}
	ev_acl_free(again);
	ev_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *names[NAMES], *nul, *p, *nl;
	size_t namelen[NAMES], textlen, nnames = 0, i, k, j;
	struct ev_acl *acl = NULL;
	struct ev_acl_view v;
	struct ev_err err;
	bool want, all;

	if (ids[0].groups == NULL)
		LLVMFuzzerInitialize(NULL, NULL);
	nul = memchr(s, '\0', size);
	textlen = nul != NULL ? (size_t)(nul - s) : size;
	if (nul != NULL) {
		p = nul + 1;
		while (p < s + size && nnames < NAMES) {
			nl = memchr(p, '\n', (size_t)(s + size - p));
			names[nnames] = p;
			namelen[nnames++] = nl != NULL ? (size_t)(nl - p) :
			    (size_t)(s + size - p);
			if (nl == NULL)
				break;
			p = nl + 1;
		}
	}
	if (nnames == 0)
		for (; nnames < sizeof(dflt_names) / sizeof(dflt_names[0]);
		    nnames++) {
			names[nnames] = dflt_names[nnames];
			namelen[nnames] = strlen(dflt_names[nnames]);
		}

	memset(&err, 0, sizeof(err));
	if (ev_acl_parse(s, textlen, "f", &acl, &err) == -1) {
		assert(acl == NULL && strncmp(err.msg, "f:", 2) == 0 &&
		    (err.kind == EV_ERR_DATA || err.kind == EV_ERR_LIMIT ||
		    err.kind == EV_ERR_SYS));
		return 0;
	}
	acl->owner = OWNER;
	round_trip(acl);

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		for (k = 0; k < 3; k++) {
			all = ev_acl_unrestricted(acl, &ids[i], perms[k]);
			assert(ev_acl_view_init(&v, acl, &ids[i], perms[k],
			    &err) == 0);
			assert(ev_acl_view_all(&v) == all);
			for (j = 0; j < nnames; j++) {
				want = oracle(acl, &ids[i], perms[k],
				    names[j], namelen[j]);
				assert(ev_acl_check(acl, &ids[i], perms[k],
				    names[j], namelen[j]) == want);
				assert(ev_acl_view_check(&v, names[j],
				    namelen[j]) == want);
				assert(ev_acl_view_check(&v, names[j],
				    namelen[j]) == want);
				assert(!ev_acl_view_none(&v) || !want);
				/* No name is empty or too long. */
				if (namelen[j] == 0 ||
				    namelen[j] > EV_NAME_MAX)
					continue;
				assert(!all || want);
				if (ev_name_reserved(names[j], namelen[j]))
					assert(!v.bus_all || want);
				else
					assert(!v.user_all || want);
			}
			ev_acl_view_free(&v);
		}
	ev_acl_free(acl);
	return 0;
}
