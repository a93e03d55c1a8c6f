/*
 * t_pattern.c: topic patterns and pattern sets.  The match table follows
 * the spirit of RabbitMQ's topic exchange tests (rabbit_exchange_type_topic
 * and its routing tests): literal, '*', '#', '#' matching zero tokens,
 * adjacent and repeated wildcards.
 */
#include <string.h>
#include <time.h>

#include "evbus.h"
#include "tap.h"

struct mcase {
	const char	*pat;
	const char	*name;
	bool		 want;
};

static const struct mcase mcases[] = {
	/* Literals. */
	{ "a.b.c", "a.b.c", true },
	{ "a.b.c", "a.b", false },
	{ "a.b", "a.b.c", false },
	{ "a.b.c", "a.b.d", false },
	{ "a.b.c", "a.bb.c", false },
	{ "a", "a", true },
	{ "a", "b", false },
	{ "ab", "a", false },
	/* '#' alone and at the ends. */
	{ "#", "a", true },
	{ "#", "a.b.c", true },
	{ "a.#", "a.b.c", true },
	{ "a.#", "a.b", true },
	{ "a.#", "a", true },
	{ "a.#", "b.a", false },
	{ "a.#", "ab", false },
	{ "#.c", "a.b.c", true },
	{ "#.c", "c", true },
	{ "#.c", "a.b.c.d", false },
	{ "#.c", "cc", false },
	{ "#.a.#", "a", true },
	{ "#.a.#", "x.a.y", true },
	{ "#.a.#", "x.y.a", true },
	{ "#.a.#", "x.y.b", false },
	{ "#.#", "a.b.c", true },
	{ "#.#", "a", true },
	{ "#.#.#", "a", true },
	/* '*' exactly one token. */
	{ "a.*.c", "a.b.c", true },
	{ "a.*.c", "a.c", false },
	{ "a.*.c", "a.b.b.c", false },
	{ "*", "a", true },
	{ "*", "a.b", false },
	{ "*.*.*", "a.b.c", true },
	{ "*.*.*", "a.b", false },
	{ "*.*.*", "a.b.c.d", false },
	{ "*.c", "a.c", true },
	{ "*.c", "c", false },
	{ "a.*", "a.b", true },
	{ "a.*", "a", false },
	/* Mixtures. */
	{ "a.#.b.#", "a.b", true },
	{ "a.#.b.#", "a.x.b", true },
	{ "a.#.b.#", "a.x.y.b.z.w", true },
	{ "a.#.b.#", "a.x.y", false },
	{ "a.#.b.#", "b.a.b", false },
	{ "*.b.#", "a.b", true },
	{ "*.b.#", "a.b.c.d", true },
	{ "*.b.#", "b", false },
	{ "*.b.#", "a.a.b", false },
	{ "#.b.*", "a.b.c", true },
	{ "#.b.*", "b.c", true },
	{ "#.b.*", "a.b", false },
	{ "#.b.*", "a.b.c.d", false },
	{ "#.b.*", "b.b.c", true },
	{ "*.#", "a", true },
	{ "*.#", "a.b.c", true },
	{ "#.*", "a", true },
	{ "#.*", "a.b.c", true },
	{ "#.*.#", "a.b", true },
	{ "*.*.#", "a", false },
	{ "*.*.#", "a.b", true },
	{ "#.*.*", "a", false },
	{ "#.*.*", "a.b.c", true },
	{ "a.#.#.b", "a.b", true },
	{ "a.#.#.b", "a.x.y.b", true },
	{ "a.#.a", "a.a.a.a", true },
	{ "a.#.a", "a.a", true },
	{ "a.#.a", "a", false },
	{ "#.a.b", "a.b.a.b", true },
	{ "#.a.b", "a.b.a.c", false },
	{ "a.*.#.b", "a.b", false },
	{ "a.*.#.b", "a.x.b", true },
	{ "request.echo.#", "request.echo.1-0-0.default", true },
	{ "*.crashed", "web.crashed", true },
	{ "*.crashed", "web.db.crashed", false },
	/* The bus's own names: no wildcard in the first position. */
	{ "#", "evbus.started", false },
	{ "#", "evbus", false },
	{ "*", "evbus", false },
	{ "*.started", "evbus.started", false },
	{ "#.started", "evbus.started", false },
	{ "#.#", "evbus.gap", false },
	{ "*.#", "evbus.gap", false },
	{ "evbus.#", "evbus.started", true },
	{ "evbus.#", "evbus", true },
	{ "evbus.*", "evbus.started", true },
	{ "evbus.listener.*", "evbus.listener.connected", true },
	{ "evbus.started", "evbus.started", true },
	{ "#", "evbusd.started", true },
	{ "#", "evbu.started", true },
	{ "*.started", "evbuss.started", true },
	{ "#", "x.evbus.started", true },
	{ "#.evbus.#", "x.evbus.y", true },
};

static const struct {
	const char	*pat;
	const char	*msg;	/* NULL: valid */
} ccases[] = {
	{ "a", NULL },
	{ "a.b.c", NULL },
	{ "#", NULL },
	{ "*", NULL },
	{ "a.*.#", NULL },
	{ "a!b", NULL },
	{ "a.!b", NULL },
	{ "caf\xc3\xa9.*", NULL },
	{ "request.echo.1-0-0.default", NULL },
	{ "", "pattern is empty" },
	{ "a..b", "pattern 'a..b': empty token" },
	{ ".a", "pattern '.a': empty token" },
	{ "a.", "pattern 'a.': empty token" },
	{ ".", "pattern '.': empty token" },
	{ "a*.b", "pattern 'a*.b': '*' must be a whole token" },
	{ "a.b*", "pattern 'a.b*': '*' must be a whole token" },
	{ "a.#b", "pattern 'a.#b': '#' must be a whole token" },
	{ "**", "pattern '**': '*' must be a whole token" },
	{ "##", "pattern '##': '#' must be a whole token" },
	{ "a b", "pattern 'a b': contains whitespace" },
	{ "a\tb", "pattern 'a\\x09b': contains whitespace" },
	{ "a\x01" "b", "pattern 'a\\x01b': contains a control character" },
	{ "a\x7f", "pattern 'a\\x7f': contains a control character" },
	{ "!a", "pattern '!a': '!' (exclusion) is only allowed in a "
	    "subscription" },
};

static void
test_match(void)
{
	size_t i;
	const struct mcase *c;

	for (i = 0; i < sizeof(mcases) / sizeof(mcases[0]); i++) {
		c = &mcases[i];
		is_int(ev_pattern_match(c->pat, strlen(c->pat), c->name,
		    strlen(c->name)), c->want, "'%s' %s '%s'", c->pat,
		    c->want ? "matches" : "does not match", c->name);
	}
	ok(!ev_pattern_match("", 0, "a", 1), "empty pattern matches nothing");
	ok(!ev_pattern_match("#", 1, "", 0), "nothing matches an empty name");
	/* Lengths are honoured: no NUL needed, bytes after len ignored. */
	ok(ev_pattern_match("a.b.XX", 3, "a.b.YY", 3), "pattern length");
	ok(!ev_pattern_match("a.b", 3, "a.bc", 4), "name length");
}

static void
test_check(void)
{
	struct ev_err e;
	char big[EV_NAME_MAX + 2];
	size_t i;
	int r;

	for (i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
		memset(&e, 0, sizeof(e));
		r = ev_pattern_check(ccases[i].pat, strlen(ccases[i].pat), &e);
		if (ccases[i].msg == NULL)
			is_int(r, 0, "'%s' is a valid pattern", ccases[i].pat);
		else {
			is_int(r, -1, "pattern #%zu is invalid", i);
			is_int(e.kind, EV_ERR_DATA, "  and a data error");
			is_str(e.msg, ccases[i].msg, "  message");
		}
	}
	is_int(ev_pattern_check("a\0b", 3, &e), -1, "NUL inside is invalid");
	is_int(ev_pattern_check("a.b", 3, NULL), 0, "NULL err is fine");
	is_int(ev_pattern_check("a..b", 4, NULL), -1, "  also on failure");

	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	for (i = 1; i < EV_NAME_MAX; i += 2)
		big[i] = '.';
	is_int(ev_pattern_check(big, EV_NAME_MAX, &e), 0,
	    "255 bytes (128 tokens) is valid");
	ok(ev_pattern_match(big, EV_NAME_MAX, big, EV_NAME_MAX),
	    "  and matches itself");
	big[0] = '#';
	ok(ev_pattern_match(big, EV_NAME_MAX, big + 2, EV_NAME_MAX - 2),
	    "  '#.a.a...' matches one token fewer ('#' as none)");
	ok(!ev_pattern_match(big, EV_NAME_MAX, big + 4, EV_NAME_MAX - 4),
	    "  but not two fewer");
	/* Invalid input is safe: 255 dots are 256 empty tokens. */
	memset(big, '.', EV_NAME_MAX);
	ok(ev_pattern_match(big, EV_NAME_MAX, big, EV_NAME_MAX),
	    "255 dots as pattern and name: no overflow");
	ok(!ev_pattern_match("#", 1, big, EV_NAME_MAX - 1) ||
	    ev_pattern_match("#", 1, big, EV_NAME_MAX - 1),
	    "  '#' against 254 dots: no overflow");
	is_int(ev_pattern_check(big, EV_NAME_MAX, NULL), -1, "  invalid");
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	for (i = 1; i < EV_NAME_MAX; i += 2)
		big[i] = '.';
	memset(&e, 0, sizeof(e));
	is_int(ev_pattern_check(big, EV_NAME_MAX + 1, &e), -1,
	    "256 bytes is invalid");
	is_int(e.kind, EV_ERR_LIMIT, "  a limit error");
	ok(strstr(e.msg, "longer than 255 bytes") != NULL &&
	    strstr(e.msg, "...") != NULL, "  message cut: %s", e.msg);
}

static void
test_pathological(void)
{
	char name[EV_NAME_MAX + 1], pat[] = "#.#.#.#.#.#.#.#.x";
	int64_t t0;
	clock_t c0;
	size_t i, n = 0;
	int k;

	/* 120 one-letter tokens, "a.a.a...a" (239 bytes), never ending in x. */
	for (k = 0; k < 120; k++) {
		if (k > 0)
			name[n++] = '.';
		name[n++] = 'a';
	}
	name[n] = '\0';
	t0 = ev_mono_ms();
	c0 = clock();
	for (i = 0; i < 1000; i++)
		if (ev_pattern_match(pat, strlen(pat), name, n))
			break;
	ok(i == 1000, "'%s' never matches 120 tokens of a", pat);
	ok(ev_mono_ms() - t0 < 2000 || clock() - c0 < 2 * CLOCKS_PER_SEC,
	    "  1000 tries take well under 2 s (%lld ms)",
	    (long long)(ev_mono_ms() - t0));
	name[n - 1] = 'x';
	ok(ev_pattern_match(pat, strlen(pat), name, n),
	    "  and matches when the last token is x");
	ok(ev_pattern_match("*.#.*.#.*.#.x", 13, name, n),
	    "  mixed '*' and '#' too");
	ok(!ev_pattern_match("#.a.#.b.#.c.#.d", 15, name, n),
	    "  a pattern that needs absent tokens fails");
}

static void
test_set(void)
{
	struct ev_patset s;
	struct ev_err e;

	memset(&s, 0, sizeof(s));
	ok(ev_patset_match(&s, "a.b", 3), "empty set matches like '#'");
	ok(!ev_patset_match(&s, "evbus.gap", 9), "  but not evbus names");

	is_int(ev_patset_add(&s, "#", 1, &e), 0, "add '#'");
	ok(s.all && s.ninc == 1 && s.nexc == 0, "  sets all");
	ok(ev_patset_match(&s, "a.b", 3), "  matches a.b");
	ok(!ev_patset_match(&s, "evbus.started", 13),
	    "  not evbus.started");
	ok(!ev_patset_match(&s, "", 0), "  not the empty name");
	is_int(ev_patset_add(&s, "evbus.#", 7, &e), 0, "add 'evbus.#'");
	ok(ev_patset_match(&s, "evbus.started", 13), "  now evbus.started");
	is_int(ev_patset_add(&s, "!a.#", 4, &e), 0, "add '!a.#'");
	ok(s.nexc == 1 && strcmp(s.exc[0], "a.#") == 0 && s.exclen[0] == 3,
	    "  filed as exclusion 'a.#'");
	ok(!ev_patset_match(&s, "a.b", 3), "  a.b excluded");
	ok(!ev_patset_match(&s, "a", 1), "  a excluded");
	ok(ev_patset_match(&s, "b.a", 3), "  b.a still matches");
	ok(ev_patset_match(&s, "evbus.gap", 9), "  evbus.gap still matches");
	is_int(ev_patset_add(&s, "!evbus.gap", 10, &e), 0, "add '!evbus.gap'");
	ok(!ev_patset_match(&s, "evbus.gap", 9), "  evbus.gap excluded");
	ok(ev_patset_match(&s, "evbus.started", 13),
	    "  evbus.started still matches");
	ev_patset_free(&s);
	ok(s.ninc == 0 && s.nexc == 0 && !s.all && s.inc == NULL,
	    "free empties the set");

	/* Only exclusions: '#' minus them. */
	is_int(ev_patset_add(&s, "!*.debug", 8, &e), 0, "only '!*.debug'");
	ok(ev_patset_match(&s, "web.info", 8), "  web.info matches");
	ok(!ev_patset_match(&s, "web.debug", 9), "  web.debug does not");
	ok(!ev_patset_match(&s, "evbus.started", 13),
	    "  evbus.started does not (as with '#')");
	is_int(ev_patset_add(&s, "!#", 2, &e), 0, "add '!#'");
	ok(!ev_patset_match(&s, "web.info", 8), "  now nothing user's");
	ev_patset_free(&s);

	/* Includes ORed. */
	is_int(ev_patset_add(&s, "a.*", 3, &e), 0, "'a.*'");
	is_int(ev_patset_add(&s, "*.crashed", 9, &e), 0, "'*.crashed'");
	is_int(ev_patset_add(&s, "!db.crashed", 11, &e), 0, "'!db.crashed'");
	ok(!s.all, "  all not set");
	ok(ev_patset_match(&s, "a.b", 3), "  a.b");
	ok(ev_patset_match(&s, "web.crashed", 11), "  web.crashed");
	ok(!ev_patset_match(&s, "db.crashed", 10), "  not db.crashed");
	ok(!ev_patset_match(&s, "a.b.c", 5), "  not a.b.c");
	ok(!ev_patset_match(&s, "evbus.crashed", 13), "  not evbus.crashed");
	ok(!ev_patset_match(&s, "a.crashed.x", 11), "  not a.crashed.x");
	/* An exclusion wins over an include. */
	is_int(ev_patset_add(&s, "!a.b", 4, &e), 0, "'!a.b'");
	ok(!ev_patset_match(&s, "a.b", 3), "  a.b now excluded");
	ok(ev_patset_match(&s, "a.c", 3), "  a.c still included");

	/* Bad patterns leave the set unchanged. */
	memset(&e, 0, sizeof(e));
	is_int(ev_patset_add(&s, "!", 1, &e), -1, "'!' alone is invalid");
	is_str(e.msg, "pattern '!': nothing after '!'", "  message");
	is_int(ev_patset_add(&s, "!!a", 3, &e), -1, "'!!a' is invalid");
	is_str(e.msg, "pattern '!!a': more than one '!'", "  message");
	is_int(ev_patset_add(&s, "!a..b", 5, &e), -1, "'!a..b' is invalid");
	is_str(e.msg, "pattern '!a..b': empty token", "  quotes the '!'");
	is_int(ev_patset_add(&s, "x*", 2, &e), -1, "'x*' is invalid");
	is_str(e.msg, "pattern 'x*': '*' must be a whole token", "  message");
	is_int(ev_patset_add(&s, "", 0, &e), -1, "'' is invalid");
	ok(s.ninc == 2 && s.nexc == 2, "  set unchanged");
	ev_patset_free(&s);
	ev_patset_free(&s);
	ok(1, "free twice is harmless");
}

int
main(void)
{
	test_match();
	test_check();
	test_pathological();
	test_set();
	return tap_done();
}
