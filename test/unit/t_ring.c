/*
 * t_ring.c: the ring of recent events and its id index, against a model.
 *
 * The model is the plain list of what the ring should hold, oldest first;
 * random runs push events of random sizes with ids from a small pool (so
 * that lookups both hit and miss, and the same id is held twice), unique
 * ids (so that the index grows, drains and shrinks) or none, under random
 * bounds, and after every operation compare the ring with the model:
 * first, next, count, bytes, every seq in and around the window, every id
 * of the pool and every unique id held or lately evicted, the reference
 * counts, and the bytes of every message the test itself still holds
 * after the ring let it go.  Then direct cases: growth from empty to the
 * bound, an event over half (and over all) of the byte bound, a bound of
 * one event, a wrong seq, and the frame header.
 *
 * T_RING_SEED=n changes the random runs; T_RING_BENCH=n times 2n pushes
 * into a ring of n events (with UUID-like ids) and reports the slowest.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evbus.h"
#include "tap.h"

#define POOLMAX		40
#define KEEPMAX		64
#define GONEMAX		16

struct held {
	struct ev_msg	*m;
	int		 pool;		/* index in the pool, -1: none */
};

struct model {
	struct held	*ev;		/* held events, oldest first */
	size_t		 n, cap;
	size_t		 max, maxbytes, bytes;
	uint64_t	 first, next;
	size_t		 npool;
	char		 pool[POOLMAX][72];
	size_t		 poollen[POOLMAX];
	size_t		 poolheld[POOLMAX];	/* held events with that id */
	struct ev_msg	*keep[KEEPMAX];		/* references the test holds */
	size_t		 nkeep;
	size_t		 turn;			/* which kept one to check */
	char		 gone[GONEMAX][32];	/* unique ids lately evicted */
	size_t		 ngone;
};

static uint64_t	rng_state;
static char	why[256];	/* the first mismatch of a run */

static uint64_t	rnd(void);
static size_t	rndn(size_t);
static int	pattern_ready(void);
static struct ev_msg *make(uint64_t, size_t, const char *, size_t);
static struct ev_msg *add(struct ev_ring *, uint64_t, size_t, const char *,
		    size_t);
static int	line_ok(const struct ev_msg *);
static int	is_kept(const struct model *, const struct ev_msg *);
static int	check(const struct ev_ring *, struct model *);
static int	model_push(struct ev_ring *, struct model *, size_t, int,
		    int);
static int	run(uint64_t, size_t);
static void	test_model(void);
static void	test_framehead(void);
static void	test_msg(void);
static void	test_growth(void);
static void	test_big(void);
static void	test_one(void);
static void	test_seq(void);
static void	test_dups(void);
static size_t	rec_of(size_t, const char *, size_t);
static int	overlaps(const struct ev_msg *, const struct ev_msg *);
static void	test_arena(void);
static void	test_arena_pins(void);
static void	test_arena_follows(void);
static void	test_idgens(void);
static void	bench(size_t);
static double	now_us(void);

#define FAIL(...) do {							\
	snprintf(why, sizeof(why), __VA_ARGS__);			\
	return -1;							\
} while (0)

/* xorshift64*: small, fast, and the same everywhere for a given seed. */
static uint64_t
rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t
rndn(size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd() % n);
}

/*
 * The bytes of every event: the message with seq s and len bytes of JSON
 * holds pattern[s % 26 ..][0..len), "abc...zab...", so that line_ok can
 * check any message from its seq and len alone.
 */
#define PATTERN_MAX	((1 << 21) + 26)
#define TIME(seq)	((int64_t)((seq) % 1000000) * 10)
static char	*pattern;

static int
pattern_ready(void)
{
	size_t i;

	if (pattern == NULL) {
		if ((pattern = malloc(PATTERN_MAX)) == NULL)
			return -1;
		for (i = 0; i < PATTERN_MAX; i++)
			pattern[i] = (char)('a' + i % 26);
	}
	return 0;
}

static struct ev_msg *
make(uint64_t seq, size_t len, const char *id, size_t idlen)
{
	char name[32];

	if (pattern_ready() == -1)
		return NULL;
	if (len > PATTERN_MAX - 26) {
		errno = EFBIG;
		return NULL;
	}
	snprintf(name, sizeof(name), "ev.n%" PRIu64, seq % 7);
	return ev_msg_new(pattern + seq % 26, len, seq, TIME(seq), name,
	    strlen(name), id, idlen);
}

/* The event make() would give, added into r's arena, indexed. */
static struct ev_msg *
add(struct ev_ring *r, uint64_t seq, size_t len, const char *id,
    size_t idlen)
{
	char name[32];

	if (pattern_ready() == -1 || len > PATTERN_MAX - 26) {
		errno = EFBIG;
		return NULL;
	}
	snprintf(name, sizeof(name), "ev.n%" PRIu64, seq % 7);
	return ev_ring_add(r, pattern + seq % 26, len, TIME(seq), name,
	    strlen(name), id, idlen, EV_RING_INDEX);
}

/* Are m's bytes still those make() gave it? */
static int
line_ok(const struct ev_msg *m)
{
	char name[32];
	size_t len = m->len - 1;

	snprintf(name, sizeof(name), "ev.n%" PRIu64, m->seq % 7);
	return memcmp(m->line, pattern + m->seq % 26, len) == 0 &&
	    m->line[len] == '\n' && m->time == TIME(m->seq) &&
	    m->namelen == strlen(name) && strcmp(m->name, name) == 0 &&
	    m->name == m->line + m->len && m->id == m->name + m->namelen + 1 &&
	    strlen(m->id) == m->idlen;
}

static int
is_kept(const struct model *md, const struct ev_msg *m)
{
	size_t i;

	for (i = 0; i < md->nkeep; i++)
		if (md->keep[i] == m)
			return 1;
	return 0;
}

/* Compare the ring with the model; 0, or -1 with why[] set. */
static int
check(const struct ev_ring *r, struct model *md)
{
	const struct ev_ring_ids *x = &r->ids;
	struct ev_msg *m;
	uint64_t s, lo, hi;
	size_t i, want, withid = 0;
	int j;

	md->turn++;
	if (ev_ring_first(r) != md->first || ev_ring_next(r) != md->next)
		FAIL("window [%" PRIu64 ",%" PRIu64 "), want [%" PRIu64
		    ",%" PRIu64 ")", ev_ring_first(r), ev_ring_next(r),
		    md->first, md->next);
	if (ev_ring_count(r) != md->n || ev_ring_bytes(r) != md->bytes)
		FAIL("count %zu bytes %zu, want %zu %zu", ev_ring_count(r),
		    ev_ring_bytes(r), md->n, md->bytes);
	if (r->first != md->first || r->next != md->next || r->n != md->n ||
	    r->bytes != md->bytes)
		FAIL("fields differ from the functions");
	if (md->n > md->max || (md->n > 1 && md->bytes > md->maxbytes))
		FAIL("model over its bounds (the test is wrong)");
	lo = md->first > 4 ? md->first - 4 : 0;
	hi = md->next + 4;
	for (s = lo; s < hi; s++) {
		m = ev_ring_get(r, s);
		if (s < md->first || s >= md->next) {
			if (m != NULL)
				FAIL("get %" PRIu64 ": not NULL", s);
			continue;
		}
		if (m != md->ev[s - md->first].m)
			FAIL("get %" PRIu64 ": wrong message", s);
	}
	if (ev_ring_get(r, 0) != (md->first == 0 && md->n > 0 ?
	    md->ev[0].m : NULL) || ev_ring_get(r, UINT64_MAX) != NULL)
		FAIL("get 0 or UINT64_MAX");
	for (i = 0; i < md->n; i++) {
		m = md->ev[i].m;
		want = 1 + (size_t)is_kept(md, m);
		if (m->refs != want)
			FAIL("seq %" PRIu64 ": refs %" PRIu32 ", want %zu",
			    m->seq, m->refs, want);
		if (m->seq != md->first + i)
			FAIL("seq %" PRIu64 ": at %zu", m->seq, i);
		/* Bytes: the oldest and the newest (the rest, sanitizers). */
		if ((i == 0 || i == md->n - 1) && !line_ok(m))
			FAIL("seq %" PRIu64 ": bytes changed", m->seq);
		if (m->idlen == 0)
			continue;
		withid++;
		/* Unique ids: all of a small ring, a sixteenth in turn else. */
		if (md->ev[i].pool == -1 && (md->n <= 256 ||
		    (i + md->turn) % 16 == 0) &&
		    ev_ring_find_id(r, m->id, m->idlen) != m)
			FAIL("find unique id %s: not its message", m->id);
	}
	for (j = 0; j < (int)md->npool; j++) {
		m = ev_ring_find_id(r, md->pool[j], md->poollen[j]);
		if (md->poolheld[j] == 0) {
			if (m != NULL)
				FAIL("find %s: found seq %" PRIu64
				    ", none held", md->pool[j], m->seq);
			continue;
		}
		if (m == NULL)
			FAIL("find %s: NULL, %zu held", md->pool[j],
			    md->poolheld[j]);
		if (ev_ring_get(r, m->seq) != m || m->idlen !=
		    md->poollen[j] || memcmp(m->id, md->pool[j],
		    md->poollen[j]) != 0)
			FAIL("find %s: a message not held or another id",
			    md->pool[j]);
	}
	for (i = 0; i < md->ngone; i++)
		if (ev_ring_find_id(r, md->gone[i], strlen(md->gone[i])) !=
		    NULL)
			FAIL("find %s: found after eviction", md->gone[i]);
	if (ev_ring_find_id(r, "", 0) != NULL ||
	    ev_ring_find_id(r, "nosuchid", 8) != NULL)
		FAIL("find of no id or an unknown one");
	/*
	 * The test's own references: one more while the ring holds the
	 * message; the bytes of one per check, in turn (all at the end).
	 */
	for (i = 0; i < md->nkeep; i++) {
		m = md->keep[i];
		want = 1 + (size_t)(ev_ring_get(r, m->seq) == m);
		if (m->refs != want)
			FAIL("kept seq %" PRIu64 ": refs %" PRIu32
			    ", want %zu", m->seq, m->refs, want);
	}
	if (md->nkeep > 0) {
		m = md->keep[md->turn % md->nkeep];
		if (!line_ok(m))
			FAIL("kept seq %" PRIu64 ": changed", m->seq);
	}
	/* The index holds exactly the ids held, each generation at most
	   half full, none live beyond the bound. */
	if (ev_ring_ids_live(r) != withid)
		FAIL("index holds %zu ids, want %zu", ev_ring_ids_live(r),
		    withid);
	for (i = 0; i < EV_RING_IDGENS; i++)
		if (x->gen[i].n * 2 > x->gen[i].cap)
			FAIL("index generation %zu over half load", i);
	if (x->ngen > 24)
		FAIL("index: %u generations live", x->ngen);
	if (md->n > 0 && (r->cap & (r->cap - 1)) != 0)
		FAIL("slots %zu: not a power of two", r->cap);
	return 0;
}

/*
 * Push an event of len bytes with pool id p (-1: none; -2: a unique id)
 * into both, evicting from the model as the contract says.  keep: the
 * test takes a reference of its own.  0, or -1 with why[] set.
 */
static int
model_push(struct ev_ring *r, struct model *md, size_t len, int p, int keep)
{
	struct ev_msg *m = NULL;
	struct held *old;
	char uid[32];
	const char *id = "";
	size_t idlen = 0;
	int arena;

	if (p >= 0) {
		id = md->pool[p];
		idlen = md->poollen[p];
	} else if (p == -2) {
		snprintf(uid, sizeof(uid), "u-%" PRIu64 "-%zu", md->next,
		    (size_t)rndn(1000));
		id = uid;
		idlen = strlen(uid);
	}
	/* Three in four into the arena, the rest malloc'd alone. */
	arena = rndn(4) != 0;
	if (!arena && (m = make(md->next, len, id, idlen)) == NULL)
		FAIL("ev_msg_new: %s", strerror(errno));
	while (md->n > 0 && (md->n >= md->max ||
	    md->bytes + len + 1 > md->maxbytes)) {
		old = &md->ev[0];
		md->bytes -= old->m->len;
		if (old->pool >= 0)
			md->poolheld[old->pool]--;
		else if (old->m->idlen > 0) {
			memmove(md->gone[1], md->gone[0],
			    (GONEMAX - 1) * sizeof(md->gone[0]));
			snprintf(md->gone[0], sizeof(md->gone[0]), "%s",
			    old->m->id);
			if (md->ngone < GONEMAX)
				md->ngone++;
		}
		memmove(md->ev, md->ev + 1, (md->n - 1) * sizeof(*md->ev));
		md->n--;
		md->first++;
	}
	if (md->n == md->cap) {
		md->cap = md->cap ? md->cap * 2 : 64;
		if ((md->ev = realloc(md->ev, md->cap *
		    sizeof(*md->ev))) == NULL)
			FAIL("out of memory");
	}
	md->ev[md->n].m = NULL;
	md->ev[md->n].pool = p >= 0 ? p : -1;
	md->n++;
	md->bytes += len + 1;
	if (p >= 0)
		md->poolheld[p]++;
	if (md->n == 1)
		md->first = md->next;
	md->next++;
	if (arena) {
		if ((m = add(r, md->next - 1, len, id, idlen)) == NULL)
			FAIL("add %" PRIu64 ": %s", md->next - 1,
			    strerror(errno));
	} else if (ev_ring_push(r, m) == -1)
		FAIL("push %" PRIu64 ": %s", m->seq, strerror(errno));
	md->ev[md->n - 1].m = m;
	if (keep && md->nkeep < KEEPMAX) {
		ev_msg_ref(m);
		md->keep[md->nkeep++] = m;
	}
	return 0;
}

/*
 * One random run: bounds, a pool of ids, then ops operations (mostly
 * pushes; some take or drop a reference of the test's own), each
 * followed by a full check.  0, or -1 with why[] set.
 */
static int
run(uint64_t seed, size_t ops)
{
	static const size_t maxes[] = { 0, 1, 2, 3, 7, 64, 65, 100, 1000,
	    5000 };
	struct ev_ring r;
	struct model md;
	size_t op, len, i, k, bigsz;
	int p, rc = -1, idmode;

	rng_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	memset(&md, 0, sizeof(md));
	md.max = maxes[rndn(sizeof(maxes) / sizeof(maxes[0]))];
	if (md.max == 0 && rndn(2) == 0)
		md.max = 1 + rndn(300);
	switch (rndn(4)) {
	case 0:
		md.maxbytes = 1 + rndn(64);		/* tiny */
		break;
	case 1:
		md.maxbytes = 64 + rndn(4096);
		break;
	case 2:
		md.maxbytes = 4096 + rndn(1 << 16);
		break;
	default:
		md.maxbytes = SIZE_MAX;
		break;
	}
	bigsz = md.maxbytes < 1 << 16 ? md.maxbytes : 1 << 14;
	md.first = md.next = rndn(3) == 0 ? 0 : rnd() >> 2;
	ev_ring_init(&r, md.max, md.maxbytes, md.next);
	if (md.max == 0)
		md.max = 1;
	md.npool = 1 + rndn(POOLMAX);
	for (i = 0; i < md.npool; i++) {
		/* Lengths 1..64, eight-byte multiples among them. */
		len = 1 + rndn(64);
		for (k = 0; k < len; k++)
			md.pool[i][k] = (char)('A' + rndn(3) + (k == 0 ?
			    3 * (i % 8) : 0));
		snprintf(md.pool[i] + len, sizeof(md.pool[i]) - len, "%zu",
		    i);
		md.poollen[i] = strlen(md.pool[i]);
	}
	/* 0: pool ids only; 1: mostly unique ids; 2: a mix with none. */
	idmode = (int)rndn(3);
	if (check(&r, &md) == -1)
		goto out;
	for (op = 0; op < ops; op++) {
		k = rndn(100);
		if (k < 5 && md.nkeep > 0) {
			/* Drop one of the test's references. */
			i = rndn(md.nkeep);
			ev_msg_unref(md.keep[i]);
			md.keep[i] = md.keep[--md.nkeep];
		} else if (k < 8 && md.n > 0 && md.nkeep < KEEPMAX) {
			/* Take a reference of a held event. */
			i = rndn(md.n);
			if (!is_kept(&md, md.ev[i].m)) {
				ev_msg_ref(md.ev[i].m);
				md.keep[md.nkeep++] = md.ev[i].m;
			}
		} else {
			switch (rndn(20)) {
			case 0:
				len = rndn(bigsz + 16);	/* up to all */
				break;
			case 1:
				len = bigsz / 2 + rndn(bigsz / 2 + 1);
				break;
			default:
				len = rndn(rndn(2) ? 16 : 400);
				break;
			}
			k = rndn(10);
			if (idmode == 0)
				p = k < 1 ? -1 : (int)rndn(md.npool);
			else if (idmode == 1)
				p = k < 1 ? (int)rndn(md.npool) : -2;
			else
				p = k < 4 ? -1 : k < 7 ? -2 :
				    (int)rndn(md.npool);
			if (model_push(&r, &md, len, p, rndn(30) == 0) == -1)
				goto out;
		}
		if (check(&r, &md) == -1) {
			size_t n = strlen(why);

			snprintf(why + n, sizeof(why) - n, " (op %zu)", op);
			goto out;
		}
	}
	rc = 0;
out:
	/* Said before the cleanup, which a broken ring may crash. */
	if (rc == -1) {
		printf("# seed %" PRIu64 ": %s\n", seed, why);
		fflush(stdout);
	}
	ev_ring_free(&r);
	for (i = 0; i < md.nkeep; i++) {
		if (rc == 0 && !line_ok(md.keep[i])) {
			printf("# seed %" PRIu64 ": kept seq %" PRIu64
			    ": changed by the ring's end\n", seed,
			    md.keep[i]->seq);
			rc = -1;
		}
		if (md.keep[i]->refs != 1 && rc == 0) {
			printf("# seed %" PRIu64 ": kept seq %" PRIu64
			    ": refs %" PRIu32 " after the ring's end\n", seed,
			    md.keep[i]->seq, md.keep[i]->refs);
			rc = -1;
		}
		ev_msg_unref(md.keep[i]);
	}
	free(md.ev);
	return rc;
}

static void
test_model(void)
{
	const char *env = getenv("T_RING_SEED");
	uint64_t base = env != NULL ? strtoull(env, NULL, 10) : 1;
	int i, bad = 0;

	printf("# model runs from seed %" PRIu64 "\n", base);
	for (i = 0; i < 300; i++) {
		if (run(base + (uint64_t)i, i % 10 == 0 ? 6000 : 600) == 0)
			continue;
		if (++bad == 5)
			break;
	}
	ok(bad == 0, "300 random runs agree with the model");
}

static void
test_framehead(void)
{
	static const struct {
		size_t	 len;
		const char *want;
	} cases[] = {
		{ 0, "EVENT 0\n" },
		{ 2, "EVENT 2\n" },
		{ 9, "EVENT 9\n" },
		{ 10, "EVENT 10\n" },
		{ 12345, "EVENT 12345\n" },
		{ 65536, "EVENT 65536\n" },
	};
	char buf[EV_FRAMEHEAD_MAX];
	struct ev_msg *m, fake;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if ((m = make(1, cases[i].len, "", 0)) == NULL) {
			ok(0, "framehead %zu: out of memory", cases[i].len);
			continue;
		}
		memset(buf, 'X', sizeof(buf));
		n = ev_msg_framehead(m, buf);
		is_int(n, strlen(cases[i].want), "framehead %zu: length",
		    cases[i].len);
		is_str(buf, cases[i].want, "framehead %zu: bytes, NUL after",
		    cases[i].len);
		ev_msg_unref(m);
	}
	/* The largest len the struct records: 10 digits fit. */
	memset(&fake, 0, sizeof(fake));
	fake.len = UINT32_MAX;
	memset(buf, 'X', sizeof(buf));
	n = ev_msg_framehead(&fake, buf);
	is_str(buf, "EVENT 4294967294\n", "framehead of the largest len");
	is_int(n, 17, "  length 17, within EV_FRAMEHEAD_MAX");
}

static void
test_msg(void)
{
	struct ev_msg *m;

	m = ev_msg_new("{\"a\":1}", 7, 42, 1700000000123LL, "x.y", 3,
	    "id-1", 4);
	if (m == NULL) {
		ok(0, "ev_msg_new: %s", strerror(errno));
		return;
	}
	ok(m->refs == 1 && m->len == 8 && m->seq == 42 &&
	    m->time == 1700000000123LL, "new message: refs, len, seq, time");
	ok(memcmp(m->line, "{\"a\":1}\n", 8) == 0, "  line ends in \\n");
	ok(strcmp(m->name, "x.y") == 0 && m->namelen == 3, "  name");
	ok(strcmp(m->id, "id-1") == 0 && m->idlen == 4, "  id");
	ev_msg_ref(m);
	is_int(m->refs, 2, "ref: 2");
	ev_msg_unref(m);
	is_int(m->refs, 1, "unref: 1");
	ev_msg_unref(m);
	ev_msg_unref(NULL);
	ok(1, "last unref frees; unref NULL is fine");

	m = ev_msg_new(NULL, 0, 1, 0, "n", 1, NULL, 0);
	ok(m != NULL && m->len == 1 && m->line[0] == '\n' &&
	    strcmp(m->id, "") == 0 && m->idlen == 0,
	    "empty JSON and no id: line \"\\n\", id \"\"");
	ev_msg_unref(m);
	errno = 0;
	ok(ev_msg_new("x", 1, 1, 0, "n", 1, "i", 65536) == NULL &&
	    errno == EOVERFLOW, "an id over 65535 bytes: EOVERFLOW");
	errno = 0;
	ok(ev_msg_new("x", 1, 1, 0, "n", 70000, "", 0) == NULL &&
	    errno == EOVERFLOW, "a name over 65535 bytes: EOVERFLOW");
	errno = 0;
	ok(ev_msg_new("x", UINT32_MAX, 1, 0, "n", 1, "", 0) == NULL &&
	    errno == EOVERFLOW, "a line over 32 bits: EOVERFLOW");
}

/* From empty to the count bound: slots double to 1024 and no further. */
static void
test_growth(void)
{
	struct ev_ring r;
	struct ev_msg *m;
	size_t i, bad = 0, caps = 0, lastcap = 0;
	char id[32];

	ev_ring_init(&r, 1000, SIZE_MAX, 1);
	ok(r.cap == 0 && r.slot == NULL && r.arena == NULL &&
	    ev_ring_count(&r) == 0 &&
	    ev_ring_first(&r) == 1 && ev_ring_next(&r) == 1,
	    "init: empty, nothing allocated, first == next");
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "g%zu", i);
		if ((m = make(1 + i, 10, id, strlen(id))) == NULL ||
		    ev_ring_push(&r, m) == -1) {
			ev_msg_unref(m);
			bad++;
			break;
		}
		if (ev_ring_count(&r) != (i < 1000 ? i + 1 : 1000) ||
		    ev_ring_first(&r) != (i < 1000 ? 1 : i - 998) ||
		    ev_ring_next(&r) != i + 2 || ev_ring_bytes(&r) !=
		    ev_ring_count(&r) * 11)
			bad++;
		if (r.cap != lastcap) {
			caps++;
			lastcap = r.cap;
		}
	}
	is_int(bad, 0, "3000 pushes into 1000: count, first, next, bytes");
	is_int(r.cap, 1024, "slots: 1024, the power of two above");
	is_int(caps, 1, "  mapped once, at the first push");
	ok(ev_ring_find_id(&r, "g1999", 5) == NULL &&
	    ev_ring_find_id(&r, "g2000", 5) != NULL &&
	    ev_ring_find_id(&r, "g2999", 5) != NULL,
	    "ids index exactly the held events");
	ev_ring_free(&r);
	ok(r.slot == NULL && r.n == 0, "free empties the ring");
}

/* One event over half the byte bound, then one over all of it. */
static void
test_big(void)
{
	struct ev_ring r;
	struct ev_msg *m, *big;
	uint64_t s = 1;
	int i;

	ev_ring_init(&r, 100, 1000, s);
	for (i = 0; i < 10; i++) {
		m = make(s++, 99, "", 0);	/* 100 bytes each */
		(void)ev_ring_push(&r, m);
	}
	ok(ev_ring_count(&r) == 10 && ev_ring_bytes(&r) == 1000,
	    "ten events of 100 bytes fill 1000");
	big = make(s++, 600, "big", 3);
	ev_msg_ref(big);
	is_int(ev_ring_push(&r, big), 0, "push an event of 601 bytes");
	ok(ev_ring_count(&r) == 4 && ev_ring_bytes(&r) == 901 &&
	    ev_ring_first(&r) == 8, "  evicts the oldest 7, keeps 3");
	ok(ev_ring_find_id(&r, "big", 3) == big, "  found by id");
	m = make(s++, 600, "", 0);
	(void)ev_ring_push(&r, m);
	ok(ev_ring_count(&r) == 1 && ev_ring_first(&r) == 12 &&
	    ev_ring_find_id(&r, "big", 3) == NULL,
	    "the next large one evicts everything else, the first big one too");
	ok(big->refs == 1 && line_ok(big) && big->seq == 11,
	    "  the evicted one, still referenced, is intact");
	ev_msg_unref(big);
	m = make(s++, 5000, "huge", 4);
	is_int(ev_ring_push(&r, m), 0, "push an event over the whole bound");
	ok(ev_ring_count(&r) == 1 && ev_ring_bytes(&r) == 5001 &&
	    ev_ring_get(&r, 13) == m && ev_ring_find_id(&r, "huge", 4) == m,
	    "  held alone");
	m = make(s++, 1, "", 0);
	(void)ev_ring_push(&r, m);
	ok(ev_ring_count(&r) == 1 && ev_ring_bytes(&r) == 2 &&
	    ev_ring_find_id(&r, "huge", 4) == NULL,
	    "  and gone at the next push");
	ev_ring_free(&r);
}

static void
test_one(void)
{
	struct ev_ring r;
	struct ev_msg *m;
	int i, bad = 0;

	ev_ring_init(&r, 1, SIZE_MAX, 7);
	for (i = 0; i < 200; i++) {
		m = make(7 + (uint64_t)i, (size_t)i, i % 2 ? "odd" : "even",
		    i % 2 ? 3 : 4);
		if (ev_ring_push(&r, m) == -1 || ev_ring_count(&r) != 1 ||
		    ev_ring_first(&r) != 7 + (uint64_t)i ||
		    ev_ring_get(&r, 7 + (uint64_t)i) != m ||
		    ev_ring_find_id(&r, i % 2 ? "odd" : "even",
		    i % 2 ? 3 : 4) != m ||
		    ev_ring_find_id(&r, i % 2 ? "even" : "odd",
		    i % 2 ? 4 : 3) != NULL)
			bad++;
	}
	is_int(bad, 0, "maxevents 1: only the newest is held and indexed");
	is_int(r.cap, 1, "  in one slot");
	ev_ring_free(&r);
	ev_ring_init(&r, 0, SIZE_MAX, 1);
	is_int(r.max, 1, "maxevents 0 counts as 1");
	ev_ring_free(&r);
}

static void
test_seq(void)
{
	struct ev_ring r;
	struct ev_msg *m;

	ev_ring_init(&r, 10, SIZE_MAX, 5);
	m = make(6, 3, "x", 1);
	errno = 0;
	ok(ev_ring_push(&r, m) == -1 && errno == EINVAL &&
	    ev_ring_count(&r) == 0 && ev_ring_next(&r) == 5 &&
	    ev_ring_find_id(&r, "x", 1) == NULL && m->refs == 1,
	    "a push with the wrong seq: EINVAL, nothing done, m still ours");
	m->seq = 5;
	ok(ev_ring_push(&r, m) == 0 && ev_ring_next(&r) == 6,
	    "  the right seq goes in");
	ev_ring_free(&r);
}

/*
 * The index's generations over a long run through a ring of 1000: every
 * held id found and no evicted one, at most four generations live, and
 * once the ring is full the tables are taken again, never allocated anew.
 */
static void
test_idgens(void)
{
	struct ev_ring r;
	struct ev_ring_idslot *seen[EV_RING_IDGENS];
	char id[32];
	uint64_t s;
	size_t i, bad = 0, most = 0, fresh = 0, nseen = 0;
	struct ev_msg *m;

	ev_ring_init(&r, 1000, SIZE_MAX, 1);
	memset(seen, 0, sizeof(seen));
	for (s = 1; s <= 100000; s++) {
		snprintf(id, sizeof(id), "id-%" PRIu64, s);
		if ((m = add(&r, s, 40, id, strlen(id))) == NULL) {
			bad++;
			break;
		}
		if (s > 5000 && r.ids.ngen > most)
			most = r.ids.ngen;
		/* Tables: those of the first 5000 events, then no other. */
		for (i = 0; i < EV_RING_IDGENS; i++) {
			struct ev_ring_idslot *t = r.ids.gen[i].slot;
			size_t k;

			if (t == NULL)
				continue;
			for (k = 0; k < nseen && seen[k] != t; k++)
				;
			if (k < nseen)
				continue;
			if (s > 5000 || nseen == EV_RING_IDGENS)
				fresh++;
			else
				seen[nseen++] = t;
		}
		if (s > 1000 && s % 997 == 0) {
			snprintf(id, sizeof(id), "id-%" PRIu64, s - 999);
			bad += ev_ring_find_id(&r, id, strlen(id)) == NULL;
			snprintf(id, sizeof(id), "id-%" PRIu64, s - 1000);
			bad += ev_ring_find_id(&r, id, strlen(id)) != NULL;
		}
	}
	is_int(bad, 0, "100000 ids through a ring of 1000: the held found, "
	    "the evicted not");
	ok(most <= 4, "  full: at most 4 generations live (%zu)", most);
	is_int(fresh, 0, "  full: tables taken again, none allocated");
	ev_ring_free(&r);

	/* Bounded by bytes: the tables shrink with what the ring holds. */
	ev_ring_init(&r, 1000000, 64 * 1024, 1);
	for (s = 1; s <= 5000; s++) {
		snprintf(id, sizeof(id), "id-%" PRIu64, s);
		bad += add(&r, s, s <= 2000 ? 10 : 1000, id, strlen(id)) == NULL;
	}
	for (i = 0, most = 0; i < EV_RING_IDGENS; i++)
		most += r.ids.gen[i].cap;
	ok(bad == 0 && ev_ring_count(&r) < 70 && most <= 1024,
	    "  2000 small events, then 3000 of 1000 bytes in 64 KiB: "
	    "%zu slots for %zu held", most, ev_ring_count(&r));
	ev_ring_free(&r);

	/* The last seq there is: its key would wrap, so it is refused. */
	ev_ring_init(&r, 10, SIZE_MAX, UINT64_MAX - 1);
	m = add(&r, UINT64_MAX - 1, 10, "a", 1);
	ok(m != NULL && ev_ring_find_id(&r, "a", 1) == m,
	    "seq UINT64_MAX - 1 indexed");
	errno = 0;
	ok(add(&r, UINT64_MAX, 10, "b", 1) == NULL && errno == EOVERFLOW &&
	    ev_ring_count(&r) == 1, "  UINT64_MAX: EOVERFLOW, not kept");
	ev_ring_free(&r);
}

/*
 * Many events under one id, evicted in order: the index keeps finding
 * one of those held, and forgets the id with the last.
 */
static void
test_dups(void)
{
	struct ev_ring r;
	struct ev_msg *m;
	uint64_t s;
	int bad = 0;

	ev_ring_init(&r, 300, SIZE_MAX, 1);
	for (s = 1; s <= 1000; s++) {
		m = make(s, 4, s % 3 ? "same" : "other", s % 3 ? 4 : 5);
		if (ev_ring_push(&r, m) == -1)
			bad++;
		m = ev_ring_find_id(&r, "same", 4);
		if (m == NULL || ev_ring_get(&r, m->seq) != m ||
		    strcmp(m->id, "same") != 0)
			bad++;
	}
	is_int(bad, 0, "an id held 200 times: found, one of those held");
	for (s = 1001; s <= 1300; s++) {
		m = make(s, 4, "", 0);
		(void)ev_ring_push(&r, m);
	}
	ok(ev_ring_find_id(&r, "same", 4) == NULL &&
	    ev_ring_find_id(&r, "other", 5) == NULL &&
	    ev_ring_ids_live(&r) == 0,
	    "  gone with the last; the index is empty");
	ev_ring_free(&r);
}

/* The bytes of the record add() makes (the arena's layout). */
static size_t
rec_of(size_t len, const char *id, size_t seq)
{
	char name[32];

	snprintf(name, sizeof(name), "ev.n%zu", seq % 7);
	return (sizeof(struct ev_msg) + len + strlen(name) + strlen(id) + 3 +
	    15) & ~(size_t)15;
}

/* Do the records of two arena messages share a byte? */
static int
overlaps(const struct ev_msg *a, const struct ev_msg *b)
{
	const char *pa = (const char *)a, *pb = (const char *)b;
	size_t la = rec_of(a->len - 1, a->id, a->seq);
	size_t lb = rec_of(b->len - 1, b->id, b->seq);

	return pa < pb + lb && pb < pa + la;
}

/*
 * The arena at small sizes: written around, touched no further than its
 * size, an event larger than it kept outside, the arena of a freed ring
 * kept while one of its records is referenced.
 */
static void
test_arena(void)
{
	struct ev_ring r;
	struct ev_msg *m, *kept = NULL;
	size_t rec = rec_of(100, "", 1), i, j, bad = 0, inarena = 0;
	const char *lo = NULL, *hi = NULL;
	uint64_t s;

	ev_ring_init(&r, 8, SIZE_MAX, 1);
	r.arenasize = 10 * rec;
	for (s = 1; s <= 1000; s++) {
		if ((m = add(&r, s, 100, "", 0)) == NULL || !line_ok(m)) {
			bad++;
			break;
		}
		inarena += m->arena != NULL;
		if (lo == NULL || (const char *)m < lo)
			lo = (const char *)m;
		if (hi == NULL || (const char *)m + rec > hi)
			hi = (const char *)m + rec;
		if (s == 500) {
			ev_msg_ref(m);
			kept = m;
		}
		for (i = 0; i < ev_ring_count(&r); i++)
			for (j = i + 1; j < ev_ring_count(&r); j++)
				bad += overlaps(ev_ring_get(&r, r.first + i),
				    ev_ring_get(&r, r.first + j));
	}
	is_int(bad, 0, "1000 events of 100 bytes, 8 held: intact, apart");
	ok(inarena == 1000 && r.spilled == 0 && (size_t)(hi - lo) <=
	    10 * rec, "  all in an arena of 10 records, around it");
	ok(kept != NULL && line_ok(kept) && kept->refs == 1,
	    "  an event referenced past its eviction: intact");
	m = add(&r, 1001, 11 * rec, "", 0);
	ok(m != NULL && m->arena == NULL && r.spilled == 1 && line_ok(m) &&
	    ev_ring_count(&r) == 8, "  one larger than the arena: kept "
	    "outside it");
	m = add(&r, 1002, 100, "", 0);
	ok(m != NULL && m->arena != NULL && line_ok(m) &&
	    ev_ring_get(&r, 1001)->arena == NULL,
	    "  the next one in the arena again");
	ev_msg_ref(m);
	ev_ring_free(&r);
	ok(line_ok(m) && m->refs == 1 && line_ok(kept),
	    "free: referenced records outlive the ring");
	ev_msg_unref(m);
	ev_msg_unref(kept);
}

/*
 * A ring bounded by count in a much larger arena: the arena goes back to
 * its start once the oldest record leaves room there, so the memory it
 * touches follows the 8 events held (with the slack of a sixteenth of the
 * arena), not the arena's 160 records; events of varying sizes stay
 * intact and apart, and every one is in the arena.
 */
static void
test_arena_follows(void)
{
	struct ev_ring r;
	struct ev_msg *m;
	size_t rec = rec_of(100, "", 1), i, j, bad = 0, inarena = 0;
	uint64_t s;

	ev_ring_init(&r, 8, SIZE_MAX, 1);
	r.arenasize = 160 * rec;
	for (s = 1; s <= 2000; s++) {
		if ((m = add(&r, s, 100, "", 0)) == NULL) {
			bad++;
			break;
		}
		inarena += m->arena != NULL;
	}
	is_int(bad, 0, "2000 events of 100 bytes, 8 held, arena of 160");
	ok(inarena == 2000 && ev_ring_memory(&r) <= (8 + 1 + 10 + 1) * rec,
	    "  all in the arena, which touched %zu records' bytes",
	    ev_ring_memory(&r) / rec);
	for (s = 2001; s <= 4000; s++) {
		if ((m = add(&r, s, 60 + (size_t)rndn(80), "", 0)) == NULL ||
		    !line_ok(m)) {
			bad++;
			break;
		}
		for (i = 0; i < ev_ring_count(&r); i++)
			for (j = i + 1; j < ev_ring_count(&r); j++)
				bad += overlaps(ev_ring_get(&r, r.first + i),
				    ev_ring_get(&r, r.first + j));
	}
	is_int(bad, 0, "  then 2000 of 60 to 140 bytes: intact, apart");
	ok(ev_ring_memory(&r) <= 160 * rec, "  within the arena (%zu)",
	    ev_ring_memory(&r) / rec);
	ev_ring_free(&r);
}

/*
 * Evicted records still referenced (a subscriber's partial write) are
 * written around: up to three referenced at once in an arena of 10
 * records for 8 held events, each checked intact and apart from every
 * held record after every push; those with no room anywhere are kept
 * outside the arena; once all are released, the arena takes every event
 * again.
 */
static void
test_arena_pins(void)
{
	struct ev_ring r;
	struct ev_msg *m, *pins[3] = { NULL, NULL, NULL };
	size_t rec = rec_of(100, "", 1), i, k, bad = 0;
	uint64_t s, spilled;

	ev_ring_init(&r, 8, SIZE_MAX, 1);
	r.arenasize = 10 * rec;
	for (s = 1; s <= 3000; s++) {
		if ((m = add(&r, s, 100, "", 0)) == NULL) {
			bad++;
			break;
		}
		if (s % 7 == 0) {
			k = (s / 7) % 3;
			ev_msg_unref(pins[k]);
			ev_msg_ref(m);
			pins[k] = m;
		}
		for (k = 0; k < 3; k++) {
			if (pins[k] == NULL)
				continue;
			bad += !line_ok(pins[k]);
			for (i = 0; i < ev_ring_count(&r); i++) {
				m = ev_ring_get(&r, r.first + i);
				bad += m != pins[k] && m->arena != NULL &&
				    pins[k]->arena != NULL &&
				    overlaps(m, pins[k]);
			}
		}
	}
	is_int(bad, 0, "3000 events, up to 3 referenced past their eviction: "
	    "intact, written around");
	ok(r.spilled > 0 && r.spilled < 3000, "  some kept outside the "
	    "arena (%" PRIu64 ")", r.spilled);
	for (k = 0; k < 3; k++)
		ev_msg_unref(pins[k]);
	spilled = r.spilled;
	for (s = 3001; s <= 3100; s++)
		(void)add(&r, s, 100, "", 0);
	ok(r.spilled == spilled && ev_ring_get(&r, 3100)->arena != NULL,
	    "  released: all in the arena again");
	ev_ring_free(&r);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/*
 * n pushes of 200-byte events with UUID-like ids into a ring of n events,
 * then n more (evicting), each timed, three times over.  On a shared
 * machine a push may be preempted, so each push's cost is taken as its
 * least time over the three runs: a stall of the ring's own (a big copy,
 * a rehash) comes back at the same push every run, preemption does not.
 * Prints the mean, the slowest pushes so measured and the slowest single
 * timing seen, as TAP comments.  Messages are made before the clock runs.
 */
#define BENCH_RUNS	3

static void
bench(size_t n)
{
	struct ev_ring r;
	struct ev_msg **ms;
	char id[64];
	double *best, t0, t, raw = 0, total = 0, top[3] = { 0, 0, 0 };
	size_t i, k, run_, at[3] = { 0, 0, 0 }, rawat = 0, over = 0;

	ms = calloc(2 * n, sizeof(*ms));
	best = calloc(2 * n, sizeof(*best));
	if (ms == NULL || best == NULL)
		goto out;
	for (run_ = 0; run_ < BENCH_RUNS; run_++) {
		for (i = 0; i < 2 * n; i++) {
			snprintf(id, sizeof(id), "%08zx-4a2b-4c3d-8e4f-%012zx",
			    (i * 2654435761u) & 0xffffffff, i);
			ms[i] = make(1 + i, 200, id, strlen(id));
		}
		ev_ring_init(&r, n, SIZE_MAX, 1);
		for (i = 0; i < 2 * n; i++) {
			t0 = now_us();
			if (ev_ring_push(&r, ms[i]) == -1) {
				printf("# bench: push %zu: %s\n", i + 1,
				    strerror(errno));
				while (i < 2 * n)
					ev_msg_unref(ms[i++]);
				break;
			}
			t = now_us() - t0;
			if (run_ == 0 || t < best[i])
				best[i] = t;
			if (t > raw) {
				raw = t;
				rawat = i + 1;
			}
		}
		ev_ring_free(&r);
	}
	for (i = 0; i < 2 * n; i++) {
		total += best[i];
		over += best[i] > 50;
		for (k = 0; k < 3; k++) {
			if (best[i] <= top[k])
				continue;
			memmove(&top[k + 1], &top[k], (2 - k) * sizeof(*top));
			memmove(&at[k + 1], &at[k], (2 - k) * sizeof(*at));
			top[k] = best[i];
			at[k] = i + 1;
			break;
		}
	}
	printf("# bench: %zu pushes into a ring of %zu (half filling, half "
	    "evicting), best of %d runs each\n", 2 * n, n, BENCH_RUNS);
	printf("# bench: mean %.3f us, %zu over 50 us; slowest %.0f us "
	    "(push %zu), %.0f (%zu), %.0f (%zu)\n", total / (double)(2 * n),
	    over, top[0], at[0], top[1], at[1], top[2], at[2]);
	printf("# bench: slowest single timing %.0f us (push %zu)\n", raw,
	    rawat);
out:
	free(best);
	free(ms);
}

int
main(void)
{
	const char *b = getenv("T_RING_BENCH");

	test_msg();
	test_framehead();
	test_growth();
	test_big();
	test_one();
	test_seq();
	test_dups();
	test_idgens();
	test_arena();
	test_arena_pins();
	test_arena_follows();
	test_model();
	if (b != NULL)
		bench((size_t)strtoull(b, NULL, 10));
	free(pattern);
	return tap_done();
}
