/*
 * sublist.c: subscriptions indexed by their patterns' tokens, so that an
 * event costs work only for the subscribers it may reach.
 *
 * A trie over pattern tokens: each node has its literal children in a
 * small open-addressing table, a '*' child and a '#' child, and the
 * subscribers whose pattern ends there.  Matching walks the name's tokens
 * down the literal, '*' and '#' branches at once.  Results are cached by
 * name (a bounded table, emptied whenever a subscription changes), so a
 * stream of events with a few names costs one hash lookup per event.
 *
 * The index answers "which subscribers have an include pattern that
 * matches", exclusions and the bus's evbus. rule for the first token
 * included: a candidate's own pattern set (and every other rule of the
 * delivery decision) is still checked by the caller.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

#define SL_CACHE	256	/* names remembered (a power of two) */
#define SL_CNAME	64	/* the longest name the cache keeps */
#define SL_CSUBS	8	/* the most candidates it keeps for one */
#define SL_MAXTOK	128	/* tokens in a name: (255 + 1) / 2 */

struct sl_node {
	struct sl_node	**kids;		/* literal children, open addressing */
	size_t		  nkids, kidcap;
	struct sl_node	 *star, *hash;
	uint64_t	  walk;		/* the walk that last came here */
	uint64_t	  at[3];	/* positions (0..SL_MAXTOK) it came at */
	void		**subs;
	size_t		  nsubs, subcap;
	size_t		  len;		/* bytes of tok */
	char		  tok[];	/* the token leading here */
};

/*
 * A cached answer, direct-mapped by the name's hash: no allocation, so a
 * stream of names that never repeat costs a walk each and nothing more.
 */
struct sl_entry {
	uint64_t	  gen;		/* valid while it equals the list's */
	size_t		  namelen;
	size_t		  nsubs;
	char		  name[SL_CNAME];
	void		 *subs[SL_CSUBS];
};

struct ev_sublist {
	struct sl_node	 *root;
	struct sl_entry	  cache[SL_CACHE];
	uint64_t	  gen;		/* bumped by every change */
	uint64_t	  walks;	/* walks so far */
	void		**out;		/* the last result */
	size_t		  nout, outcap;
};

static uint64_t
sl_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

static struct sl_node *
sl_node_new(const char *tok, size_t len)
{
	struct sl_node *n;

	if ((n = calloc(1, sizeof(*n) + len + 1)) == NULL)
		return NULL;
	memcpy(n->tok, tok, len);
	n->len = len;
	return n;
}

static void
sl_node_free(struct sl_node *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->kidcap; i++)
		sl_node_free(n->kids[i]);
	sl_node_free(n->star);
	sl_node_free(n->hash);
	free(n->kids);
	free(n->subs);
	free(n);
}

/* The literal child for tok, or NULL. */
static struct sl_node *
sl_kid(const struct sl_node *n, const char *tok, size_t len)
{
	size_t i, mask;
	struct sl_node *k;

	if (n->kidcap == 0)
		return NULL;
	mask = n->kidcap - 1;
	for (i = sl_hash(tok, len) & mask; (k = n->kids[i]) != NULL;
	    i = (i + 1) & mask)
		if (k->len == len && memcmp(k->tok, tok, len) == 0)
			return k;
	return NULL;
}

static int
sl_kid_put(struct sl_node *n, struct sl_node *k)
{
	struct sl_node **old = n->kids, **nk;
	size_t ocap = n->kidcap, ncap, i, j;

	if ((n->nkids + 1) * 2 > n->kidcap) {
		ncap = ocap ? ocap * 2 : 4;
		if ((nk = calloc(ncap, sizeof(*nk))) == NULL)
			return -1;
		for (i = 0; i < ocap; i++) {
			if (old[i] == NULL)
				continue;
			for (j = sl_hash(old[i]->tok, old[i]->len) &
			    (ncap - 1); nk[j] != NULL; j = (j + 1) & (ncap - 1))
				;
			nk[j] = old[i];
		}
		free(old);
		n->kids = nk;
		n->kidcap = ncap;
	}
	for (i = sl_hash(k->tok, k->len) & (n->kidcap - 1); n->kids[i] != NULL;
	    i = (i + 1) & (n->kidcap - 1))
		;
	n->kids[i] = k;
	n->nkids++;
	return 0;
}

/* Forget every cached answer: the subscriptions changed. */
static void
sl_cache_clear(struct ev_sublist *sl)
{
	sl->gen++;
}

struct ev_sublist *
ev_sublist_new(void)
{
	struct ev_sublist *sl;

	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return NULL;
	sl->gen = 1;
	if ((sl->root = sl_node_new("", 0)) == NULL) {
		free(sl);
		return NULL;
	}
	return sl;
}

void
ev_sublist_free(struct ev_sublist *sl)
{
	if (sl == NULL)
		return;
	sl_node_free(sl->root);
	free(sl->out);
	free(sl);
}

/* The next token of s[0..len) from *pos: its start and length. */
static const char *
sl_token(const char *s, size_t len, size_t *pos, size_t *tlen)
{
	const char *t = s + *pos, *dot;

	dot = memchr(t, '.', len - *pos);
	*tlen = dot != NULL ? (size_t)(dot - t) : len - *pos;
	*pos += *tlen + (dot != NULL ? 1 : 0);
	return t;
}

int
ev_sublist_insert(struct ev_sublist *sl, const char *pat, size_t len,
    void *sub)
{
	struct sl_node *n = sl->root, *k, **slot;
	size_t pos = 0, tlen, i;
	const char *t;
	void **ns;

	while (pos < len) {
		t = sl_token(pat, len, &pos, &tlen);
		if (tlen == 1 && (t[0] == '*' || t[0] == '#')) {
			slot = t[0] == '*' ? &n->star : &n->hash;
			if (*slot == NULL && (*slot = sl_node_new(t, 1)) == NULL)
				return -1;
			n = *slot;
			continue;
		}
		if ((k = sl_kid(n, t, tlen)) == NULL) {
			if ((k = sl_node_new(t, tlen)) == NULL)
				return -1;
			if (sl_kid_put(n, k) == -1) {
				free(k);
				return -1;
			}
		}
		n = k;
	}
	for (i = 0; i < n->nsubs; i++)
		if (n->subs[i] == sub)
			return 0;
	if (n->nsubs == n->subcap) {
		if ((ns = reallocarray(n->subs, n->subcap ? n->subcap * 2 : 2,
		    sizeof(*ns))) == NULL)
			return -1;
		n->subs = ns;
		n->subcap = n->subcap ? n->subcap * 2 : 2;
	}
	n->subs[n->nsubs++] = sub;
	sl_cache_clear(sl);
	return 0;
}

void
ev_sublist_remove(struct ev_sublist *sl, const char *pat, size_t len,
    void *sub)
{
	struct sl_node *n = sl->root;
	size_t pos = 0, tlen, i;
	const char *t;

	while (pos < len && n != NULL) {
		t = sl_token(pat, len, &pos, &tlen);
		if (tlen == 1 && t[0] == '*')
			n = n->star;
		else if (tlen == 1 && t[0] == '#')
			n = n->hash;
		else
			n = sl_kid(n, t, tlen);
	}
	if (n == NULL)
		return;
	for (i = 0; i < n->nsubs; i++)
		if (n->subs[i] == sub) {
			n->subs[i] = n->subs[--n->nsubs];
			break;
		}
	/* Empty nodes stay: a pattern that came once tends to come back. */
	sl_cache_clear(sl);
}

/* Add n's subscribers to the result, once each. */
static int
sl_collect(struct ev_sublist *sl, const struct sl_node *n)
{
	size_t i, j;
	void **no;

	for (i = 0; i < n->nsubs; i++) {
		for (j = 0; j < sl->nout; j++)
			if (sl->out[j] == n->subs[i])
				break;
		if (j < sl->nout)
			continue;
		if (sl->nout == sl->outcap) {
			if ((no = reallocarray(sl->out, sl->outcap ?
			    sl->outcap * 2 : 8, sizeof(*no))) == NULL)
				return -1;
			sl->out = no;
			sl->outcap = sl->outcap ? sl->outcap * 2 : 8;
		}
		sl->out[sl->nout++] = n->subs[i];
	}
	return 0;
}

struct sl_walk {
	const char	*tok[SL_MAXTOK];
	size_t		 len[SL_MAXTOK];
	size_t		 n;
	bool		 reserved;	/* the name is under evbus. */
};

/*
 * Match the tokens from i on below n.  A wildcard at the first position
 * (i == 0 at the root) does not match a name under evbus.
 */
static int
sl_walk(struct ev_sublist *sl, struct sl_node *n, const struct sl_walk *w,
    size_t i)
{
	struct sl_node *k;
	bool wild = !(i == 0 && w->reserved);
	size_t j;

	/*
	 * Each (node, position) is explored once per match: without this,
	 * a pattern of many '#' would try every way to split a long name
	 * among them (exponential); with it a walk costs O(nodes x tokens).
	 */
	if (n->walk != sl->walks) {
		n->walk = sl->walks;
		n->at[0] = n->at[1] = n->at[2] = 0;
	}
	if (n->at[i / 64] & (1ULL << (i % 64)))
		return 0;
	n->at[i / 64] |= 1ULL << (i % 64);

	if (n->hash != NULL && wild)
		for (j = i; j <= w->n; j++)
			if (sl_walk(sl, n->hash, w, j) == -1)
				return -1;
	if (i == w->n)
		return sl_collect(sl, n);
	if ((k = sl_kid(n, w->tok[i], w->len[i])) != NULL &&
	    sl_walk(sl, k, w, i + 1) == -1)
		return -1;
	if (n->star != NULL && wild && sl_walk(sl, n->star, w, i + 1) == -1)
		return -1;
	return 0;
}

int
ev_sublist_match(struct ev_sublist *sl, const char *name, size_t len,
    void *const **subs, size_t *nsubs)
{
	struct sl_walk w;
	struct sl_entry *e;
	size_t pos = 0;

	e = &sl->cache[sl_hash(name, len) & (SL_CACHE - 1)];
	if (e->gen == sl->gen && e->namelen == len &&
	    memcmp(e->name, name, len) == 0) {
		*subs = e->subs;
		*nsubs = e->nsubs;
		return 0;
	}
	w.n = 0;
	w.reserved = ev_name_reserved(name, len);
	while (pos < len && w.n < SL_MAXTOK) {
		w.tok[w.n] = sl_token(name, len, &pos, &w.len[w.n]);
		w.n++;
	}
	sl->nout = 0;
	sl->walks++;
	if (sl_walk(sl, sl->root, &w, 0) == -1)
		return -1;
	*subs = sl->out;
	*nsubs = sl->nout;
	if (len <= SL_CNAME && sl->nout <= SL_CSUBS) {
		memcpy(e->name, name, len);
		e->namelen = len;
		if (sl->nout > 0)
			memcpy(e->subs, sl->out, sl->nout * sizeof(*e->subs));
		e->nsubs = sl->nout;
		e->gen = sl->gen;
	}
	return 0;
}
