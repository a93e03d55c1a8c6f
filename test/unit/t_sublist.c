/*
 * t_sublist.c: the subscription index against a model: for random
 * subscribers with random patterns, and random names, the candidates must
 * be exactly the subscribers with an include pattern that ev_pattern_match
 * says matches -- after inserts, removals, and with the cache warm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"
#include "tap.h"

#define NSUB	60
#define NPAT	3
#define NTOK	5

static const char *const words[NTOK] = { "a", "b", "evbus", "cc", "d" };

struct msub {
	char	pat[NPAT][64];
	int	npat;
	bool	in;
};

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* A pattern of 1..4 tokens: words, '*' and '#'. */
static void
rnd_pattern(char *out, size_t len)
{
	int n = 1 + (int)rnd(4), i;
	size_t o = 0;
	unsigned k;

	for (i = 0; i < n; i++) {
		k = rnd(NTOK + 2);
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "." : "",
		    k == NTOK ? "*" : k == NTOK + 1 ? "#" : words[k]);
	}
}

/* A name of 1..5 tokens. */
static void
rnd_name(char *out, size_t len)
{
	int n = 1 + (int)rnd(5), i;
	size_t o = 0;

	for (i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "." : "",
		    words[rnd(NTOK)]);
}

static bool
model_wants(const struct msub *s, const char *name)
{
	int i;

	for (i = 0; s->in && i < s->npat; i++)
		if (ev_pattern_match(s->pat[i], strlen(s->pat[i]), name,
		    strlen(name)))
			return true;
	return false;
}

/* Candidates for name equal to the model's, each once? */
static bool
agrees(struct ev_sublist *sl, struct msub *subs, const char *name)
{
	void *const *c;
	size_t n, i, want = 0;
	int k, seen[NSUB] = { 0 };

	if (ev_sublist_match(sl, name, strlen(name), &c, &n) == -1)
		return false;
	for (i = 0; i < n; i++) {
		k = (int)((struct msub *)c[i] - subs);
		if (k < 0 || k >= NSUB || seen[k]++ || !model_wants(&subs[k],
		    name)) {
			printf("# %s: candidate %d is wrong\n", name, k);
			return false;
		}
	}
	for (k = 0; k < NSUB; k++)
		want += model_wants(&subs[k], name);
	if (want != n)
		printf("# %s: %zu candidates, want %zu\n", name, n, want);
	return want == n;
}

static void
test_model(void)
{
	static struct msub subs[NSUB];
	struct ev_sublist *sl = ev_sublist_new();
	char name[128];
	int round, i, k, bad = 0, checks = 0;

	ok(sl != NULL, "new");
	for (round = 0; round < 400; round++) {
		k = (int)rnd(NSUB);
		if (subs[k].in) {
			for (i = 0; i < subs[k].npat; i++)
				ev_sublist_remove(sl, subs[k].pat[i],
				    strlen(subs[k].pat[i]), &subs[k]);
			subs[k].in = false;
		} else {
			subs[k].npat = 1 + (int)rnd(NPAT);
			for (i = 0; i < subs[k].npat; i++) {
				rnd_pattern(subs[k].pat[i],
				    sizeof(subs[k].pat[i]));
				if (ev_sublist_insert(sl, subs[k].pat[i],
				    strlen(subs[k].pat[i]), &subs[k]) == -1)
					bad++;
			}
			subs[k].in = true;
		}
		/* Each name twice: the second answer comes from the cache. */
		for (i = 0; i < 20; i++) {
			rnd_name(name, sizeof(name));
			checks += 2;
			bad += !agrees(sl, subs, name);
			bad += !agrees(sl, subs, name);
		}
	}
	ok(bad == 0, "%d names against the model: %d disagreements", checks,
	    bad);
	ev_sublist_free(sl);
}

static void
test_cases(void)
{
	struct ev_sublist *sl = ev_sublist_new();
	int a, b, c, d;
	void *const *r;
	size_t n;

	ev_sublist_insert(sl, "#", 1, &a);
	ev_sublist_insert(sl, "request.#", 9, &b);
	ev_sublist_insert(sl, "evbus.#", 7, &c);
	ev_sublist_insert(sl, "*.crashed", 9, &d);
	ev_sublist_insert(sl, "request.*.x", 11, &b);
	ev_sublist_match(sl, "request.echo.x", 14, &r, &n);
	ok(n == 2, "request.echo.x: '#' and request.# (b once)");
	ev_sublist_match(sl, "evbus.gap", 9, &r, &n);
	ok(n == 1 && r[0] == &c, "evbus.gap: only evbus.#, not '#'");
	ev_sublist_match(sl, "evbus.crashed", 13, &r, &n);
	ok(n == 1 && r[0] == &c, "evbus.crashed: not *.crashed");
	ev_sublist_match(sl, "web.crashed", 11, &r, &n);
	ok(n == 2, "web.crashed: '#' and *.crashed");
	ev_sublist_remove(sl, "#", 1, &a);
	ev_sublist_match(sl, "web.crashed", 11, &r, &n);
	ok(n == 1 && r[0] == &d, "after removing '#', the cache is fresh");
	ev_sublist_remove(sl, "no.such", 7, &a);
	ok(1, "removing what is not there is harmless");
	{
		/*
		 * 24 '#' against a 61-token name that does not end in x: a
		 * walk trying every split would not end in a lifetime.
		 */
		char pat[64], name[128];
		size_t i, o = 0;

		for (i = 0; i < 24; i++)
			o += (size_t)snprintf(pat + o, sizeof(pat) - o, "#.");
		snprintf(pat + o, sizeof(pat) - o, "x");
		for (o = 0, i = 0; i < 61; i++)
			o += (size_t)snprintf(name + o, sizeof(name) - o,
			    "%sa", i ? "." : "");
		ev_sublist_insert(sl, pat, strlen(pat), &a);
		ok(ev_sublist_match(sl, name, strlen(name), &r, &n) == 0 &&
		    n == 0, "many '#' against a long name: no match, at once");
		name[o - 1] = 'x';
		ok(ev_sublist_match(sl, name, strlen(name), &r, &n) == 0 &&
		    n == 1 && r[0] == &a, "and the match when it ends in x");
	}
	ev_sublist_free(sl);
}

int
main(void)
{
	test_cases();
	test_model();
	return tap_done();
}
