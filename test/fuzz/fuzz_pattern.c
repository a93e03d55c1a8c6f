/*
 * fuzz_pattern.c: libFuzzer target for topic patterns and pattern sets.
 *
 * The input is lines: the first is a name, each other line a pattern (a
 * leading '!' makes it an exclusion in the set).  Every pattern is checked
 * and matched against the name, and the answer is compared with an
 * independent oracle (a table over token positions); the set's answer is
 * compared with what its patterns say one by one; a valid name that uses
 * no wildcard must match itself, and '#' when it is not under "evbus".
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

#define TOKS	(EV_NAME_MAX + 1)	/* "...." has len + 1 tokens */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	split(const char *, size_t, const char **, size_t *);
static bool	tok_is(const char *, size_t, char);
static bool	oracle(const char *, size_t, const char *, size_t);
static bool	plain_name(const char *, size_t);

/* Split s at '.' into at most TOKS tokens (starts and lengths). */
static int
split(const char *s, size_t len, const char **t, size_t *tl)
{
	size_t i, start = 0;
	int n = 0;

	for (i = 0; i <= len; i++)
		if (i == len || s[i] == '.') {
			t[n] = s + start;
			tl[n] = i - start;
			n++;
			start = i + 1;
		}
	return n;
}

static bool
tok_is(const char *t, size_t len, char c)
{
	return len == 1 && t[0] == c;
}

/*
 * The definition of a match, computed bottom-up: m[i][j] says whether
 * pattern tokens i.. match name tokens j..; plus the evbus rule.
 */
static bool
oracle(const char *pat, size_t plen, const char *name, size_t nlen)
{
	static bool m[TOKS + 1][TOKS + 1];
	const char *pt[TOKS], *nt[TOKS];
	size_t pl[TOKS], nl[TOKS];
	int np, nn, i, j;

	if (plen == 0 || plen > EV_NAME_MAX || nlen == 0 ||
	    nlen > EV_NAME_MAX)
		return false;
	np = split(pat, plen, pt, pl);
	nn = split(name, nlen, nt, nl);
	if ((tok_is(pt[0], pl[0], '#') || tok_is(pt[0], pl[0], '*')) &&
	    nl[0] == 5 && memcmp(nt[0], "evbus", 5) == 0)
		return false;
	for (i = np; i >= 0; i--)
		for (j = nn; j >= 0; j--) {
			if (i == np)
				m[i][j] = j == nn;
			else if (tok_is(pt[i], pl[i], '#'))
				m[i][j] = m[i + 1][j] ||
				    (j < nn && m[i][j + 1]);
			else if (j == nn)
				m[i][j] = false;
			else if (tok_is(pt[i], pl[i], '*') ||
			    (pl[i] == nl[j] &&
			    memcmp(pt[i], nt[j], pl[i]) == 0))
				m[i][j] = m[i + 1][j + 1];
			else
				m[i][j] = false;
		}
	return m[0][0];
}

/* A valid pattern without wildcard tokens: a valid name. */
static bool
plain_name(const char *s, size_t len)
{
	const char *t[TOKS];
	size_t tl[TOKS];
	int n, i;

	if (ev_pattern_check(s, len, NULL) == -1)
		return false;
	n = split(s, len, t, tl);
	for (i = 0; i < n; i++)
		if (tok_is(t[i], tl[i], '#') || tok_is(t[i], tl[i], '*'))
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ev_patset set;
	struct ev_err err;
	const char *s = (const char *)data, *name, *nl, *line;
	size_t namelen, len, rest;
	bool got, want, inc = false, exc = false, anyinc = false, evb;
	int lines = 0;

	memset(&set, 0, sizeof(set));
	nl = memchr(s, '\n', size);
	name = s;
	namelen = nl != NULL ? (size_t)(nl - s) : size;
	rest = nl != NULL ? size - namelen - 1 : 0;
	line = nl != NULL ? nl + 1 : NULL;
	evb = namelen >= 5 && memcmp(name, "evbus", 5) == 0 &&
	    (namelen == 5 || name[5] == '.');

	if (plain_name(name, namelen)) {
		assert(ev_pattern_match(name, namelen, name, namelen));
		assert(ev_pattern_match("#", 1, name, namelen) == !evb);
	}

	while (line != NULL && lines++ < 16) {
		nl = memchr(line, '\n', rest);
		len = nl != NULL ? (size_t)(nl - line) : rest;

		got = ev_pattern_match(line, len, name, namelen);
		want = oracle(line, len, name, namelen);
		assert(got == want);
		memset(&err, 0, sizeof(err));
		if (ev_pattern_check(line, len, &err) == -1)
			assert(err.msg[0] != '\0' &&
			    (err.kind == EV_ERR_DATA ||
			    err.kind == EV_ERR_LIMIT));

		memset(&err, 0, sizeof(err));
		if (ev_patset_add(&set, line, len, &err) == 0) {
			if (len > 0 && line[0] == '!')
				exc |= ev_pattern_match(line + 1, len - 1,
				    name, namelen);
			else {
				anyinc = true;
				inc |= got;
			}
		} else
			assert(err.msg[0] != '\0');

		rest -= nl != NULL ? len + 1 : len;
		line = nl != NULL ? nl + 1 : NULL;
	}
	if (!anyinc)
		inc = ev_pattern_match("#", 1, name, namelen);
	got = ev_patset_match(&set, name, namelen);
	assert(got == (inc && !exc));
	ev_patset_free(&set);
	return 0;
}
