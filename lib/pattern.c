/*
 * pattern.c: AMQP topic patterns, as in RabbitMQ's topic exchange, and sets
 * of them (subscriptions).  A pattern is tokens separated by '.'; '*'
 * matches exactly one token and '#' zero or more.  As MQTT does for $SYS, a
 * wildcard in the first position never matches the bus's own names (first
 * token "evbus"): '#' shows the user's events, "evbus.#" the bus's.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

/*
 * Tokens in at most EV_NAME_MAX bytes: a valid name or pattern has at most
 * half as many, but an invalid one such as "...." counts its empty tokens.
 */
#define TOK_MAX		(EV_NAME_MAX + 1)
/* How much of a bad pattern an error message quotes. */
#define QUOTE_MAX	64

/* A token: s[off..off+len) of the pattern or name it was cut from. */
struct tok {
	uint8_t	off;
	uint8_t	len;
};

/* Is token t of s the one-byte token c? */
#define TOK_IS(s, t, c)	((t).len == 1 && (s)[(t).off] == (c))

static void	pat_quote(char *, size_t, const char *, size_t);
static int	pat_fail(struct ev_err *, enum ev_errkind, const char *,
		    size_t, const char *);
static int	check(const char *, size_t, const char *, size_t,
		    struct ev_err *);
static int	tokenize(const char *, size_t, struct tok *);
static bool	match_tokens(const char *, const struct tok *, int,
		    const char *, const struct tok *, int);
static bool	set_match_one(const char *, size_t, const char *,
		    const struct tok *, int, bool);
static int	set_push(char ***, size_t **, size_t *, const char *, size_t);

/*
 * Quote s[0..len) into dst for an error message: printable bytes as they
 * are, others as \xNN, cut with "..." after QUOTE_MAX bytes of input.
 */
static void
pat_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < len && i < QUOTE_MAX && o + 5 < dstlen; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		} else
			dst[o++] = (char)c;
	}
	if (i < len && o + 4 < dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* Set err to "pattern 'P': why" and return -1. */
static int
pat_fail(struct ev_err *err, enum ev_errkind kind, const char *s, size_t len,
    const char *why)
{
	char q[QUOTE_MAX * 4 + 8];

	if (err == NULL)
		return -1;
	pat_quote(q, sizeof(q), s, len);
	return ev_err_set(err, kind, "pattern '%s': %s", q, why);
}

/*
 * Split s[0..len) at '.' into toks (room for TOK_MAX); len must be
 * 1..EV_NAME_MAX.  Returns the number of tokens, empty ones included, so
 * "a." has two.
 */
static int
tokenize(const char *s, size_t len, struct tok *toks)
{
	size_t i, start = 0;
	int n = 0;

	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			toks[n].off = (uint8_t)start;
			toks[n].len = (uint8_t)(i - start);
			n++;
			start = i + 1;
		}
	}
	return n;
}

/*
 * Check the pattern p[0..len); messages quote shown[0..shownlen), which is
 * what the user wrote (p with a leading '!' for an exclusion).
 */
static int
check(const char *p, size_t len, const char *shown, size_t shownlen,
    struct ev_err *err)
{
	size_t i, start = 0;
	unsigned char c;

	if (len == 0)
		return shownlen == 0 ?
		    ev_err_set(err, EV_ERR_DATA, "pattern is empty") :
		    pat_fail(err, EV_ERR_DATA, shown, shownlen,
		    "nothing after '!'");
	if (len > EV_NAME_MAX)
		return pat_fail(err, EV_ERR_LIMIT, shown, shownlen,
		    "longer than 255 bytes");
	if (p[0] == '!')
		return pat_fail(err, EV_ERR_DATA, shown, shownlen, p == shown ?
		    "'!' (exclusion) is only allowed in a subscription" :
		    "more than one '!'");
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '.') {
			c = (unsigned char)p[i];
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
			    c == '\v' || c == '\f')
				return pat_fail(err, EV_ERR_DATA, shown,
				    shownlen, "contains whitespace");
			if (c < 0x20 || c == 0x7f)
				return pat_fail(err, EV_ERR_DATA, shown,
				    shownlen, "contains a control character");
			continue;
		}
		if (i == start)
			return pat_fail(err, EV_ERR_DATA, shown, shownlen,
			    "empty token");
		if (i - start > 1) {
			if (memchr(p + start, '*', i - start) != NULL)
				return pat_fail(err, EV_ERR_DATA, shown,
				    shownlen, "'*' must be a whole token");
			if (memchr(p + start, '#', i - start) != NULL)
				return pat_fail(err, EV_ERR_DATA, shown,
				    shownlen, "'#' must be a whole token");
		}
		start = i + 1;
	}
	return 0;
}

/*
 * Check a pattern: 1..EV_NAME_MAX bytes, tokens separated by '.', no empty
 * token, no whitespace or control character, '*' and '#' only as whole
 * tokens, no leading '!' (exclusions belong to a set: ev_patset_add).
 * Returns 0, or -1 with err (EV_ERR_DATA, or EV_ERR_LIMIT when too long).
 * Cost: one pass over the bytes.
 */
int
ev_pattern_check(const char *s, size_t len, struct ev_err *err)
{
	return check(s, len, s, len, err);
}

/*
 * Match tokenized pattern against tokenized name: the classic iterative
 * wildcard match with one saved backtrack point, '#' playing glob's '*' and
 * '*' glob's '?'.  When a later '#' is reached the earlier one never needs
 * revisiting, so the cost is O(np x nn) token comparisons at worst, with no
 * recursion and no allocation.
 */
static bool
match_tokens(const char *pat, const struct tok *pt, int np,
    const char *name, const struct tok *nt, int nn)
{
	int p = 0, n = 0, hash = -1, mark = 0;

	while (n < nn) {
		if (p < np && TOK_IS(pat, pt[p], '#')) {
			hash = p++;
			mark = n;
		} else if (p < np && (TOK_IS(pat, pt[p], '*') ||
		    (pt[p].len == nt[n].len && memcmp(pat + pt[p].off,
		    name + nt[n].off, nt[n].len) == 0))) {
			p++;
			n++;
		} else if (hash >= 0) {
			/* Let the last '#' swallow one more name token. */
			p = hash + 1;
			n = ++mark;
		} else
			return false;
	}
	while (p < np && TOK_IS(pat, pt[p], '#'))
		p++;
	return p == np;
}

/*
 * Does the name match the pattern?  Neither is checked: an invalid one is
 * matched token by token all the same (empty tokens included), safely;
 * either empty or longer than EV_NAME_MAX never matches.  Cost: O(pattern tokens x name
 * tokens) token comparisons at worst, iterative, no allocation.
 */
bool
ev_pattern_match(const char *pat, size_t patlen, const char *name,
    size_t namelen)
{
	struct tok pt[TOK_MAX], nt[TOK_MAX];
	int np, nn;

	if (patlen == 0 || patlen > EV_NAME_MAX || namelen == 0 ||
	    namelen > EV_NAME_MAX)
		return false;
	if ((pat[0] == '#' || pat[0] == '*') &&
	    (patlen == 1 || pat[1] == '.') && ev_name_reserved(name, namelen))
		return false;
	np = tokenize(pat, patlen, pt);
	nn = tokenize(name, namelen, nt);
	return match_tokens(pat, pt, np, name, nt, nn);
}

/*
 * Match one pattern of a set against an already tokenized name; reserved
 * says whether the name is under "evbus".
 */
static bool
set_match_one(const char *pat, size_t patlen, const char *name,
    const struct tok *nt, int nn, bool reserved)
{
	struct tok pt[TOK_MAX];
	int np;

	if (patlen == 0 || patlen > EV_NAME_MAX)
		return false;
	if (reserved && (pat[0] == '#' || pat[0] == '*') &&
	    (patlen == 1 || pat[1] == '.'))
		return false;
	np = tokenize(pat, patlen, pt);
	return match_tokens(pat, pt, np, name, nt, nn);
}

/*
 * Append a NUL-terminated copy of s[0..len) to a pattern list.  -1 with
 * errno ENOMEM; the list is unchanged then.
 */
static int
set_push(char ***list, size_t **lens, size_t *n, const char *s, size_t len)
{
	char **nl, *copy;
	size_t *nlens;

	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	if ((nl = reallocarray(*list, *n + 1, sizeof(**list))) == NULL)
		goto fail;
	*list = nl;
	if ((nlens = reallocarray(*lens, *n + 1, sizeof(**lens))) == NULL)
		goto fail;
	*lens = nlens;
	nl[*n] = copy;
	nlens[*n] = len;
	(*n)++;
	return 0;
fail:
	free(copy);
	errno = ENOMEM;
	return -1;
}

/*
 * Add a pattern to a set (zero-initialize the set first).  A leading '!'
 * files the rest as an exclusion; "#" as an include also sets all.  The set
 * keeps its own copy.  Returns 0, or -1 with err (EV_ERR_DATA or
 * EV_ERR_LIMIT for a bad pattern, EV_ERR_SYS when out of memory) and the
 * set unchanged.  Cost: linear in the pattern, amortized.
 */
int
ev_patset_add(struct ev_patset *set, const char *s, size_t len,
    struct ev_err *err)
{
	bool exclude = len > 0 && s[0] == '!';
	const char *p = exclude ? s + 1 : s;
	size_t plen = exclude ? len - 1 : len;
	int r;

	if (check(p, plen, s, len, err) == -1)
		return -1;
	if (exclude)
		r = set_push(&set->exc, &set->exclen, &set->nexc, p, plen);
	else
		r = set_push(&set->inc, &set->inclen, &set->ninc, p, plen);
	if (r == -1)
		return ev_err_sys(err, "pattern set");
	if (!exclude && plen == 1 && p[0] == '#')
		set->all = true;
	return 0;
}

/*
 * Does the name match the set?  Yes when an include matches (a set with no
 * includes acts as "#") and no exclusion does.  The common subscription
 * "#" answers without tokenizing; otherwise the name is tokenized once.
 * Cost: O(sum of pattern tokens x name tokens) at worst, no allocation.
 */
bool
ev_patset_match(const struct ev_patset *set, const char *name, size_t len)
{
	struct tok nt[TOK_MAX];
	bool reserved, inc;
	size_t i;
	int nn;

	if (len == 0 || len > EV_NAME_MAX)
		return false;
	reserved = ev_name_reserved(name, len);
	if (set->nexc == 0 && set->all && !reserved)
		return true;
	nn = tokenize(name, len, nt);
	inc = (set->ninc == 0 || set->all) && !reserved;
	for (i = 0; !inc && i < set->ninc; i++)
		inc = set_match_one(set->inc[i], set->inclen[i], name, nt,
		    nn, reserved);
	if (!inc)
		return false;
	for (i = 0; i < set->nexc; i++)
		if (set_match_one(set->exc[i], set->exclen[i], name, nt,
		    nn, reserved))
			return false;
	return true;
}

/* Free what the set holds and leave it empty, ready for reuse. */
void
ev_patset_free(struct ev_patset *set)
{
	size_t i;

	for (i = 0; i < set->ninc; i++)
		free(set->inc[i]);
	for (i = 0; i < set->nexc; i++)
		free(set->exc[i]);
	free(set->inc);
	free(set->inclen);
	free(set->exc);
	free(set->exclen);
	memset(set, 0, sizeof(*set));
}
