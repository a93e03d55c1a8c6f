/*
 * ring.c: the bus's recent events, bounded by count and bytes, the index
 * of their ids, and the reference-counted message each event is kept in.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

#define RING_MINSLOTS	64
/* A bound on slots that keeps the doubling and its byte count in range. */
#define RING_CAPMAX	((size_t)1 << (sizeof(size_t) * CHAR_BIT - 5))
#define IDS_MIN		64
/*
 * Slots of a draining table moved per push and per eviction.  Enough that
 * a table is drained long before the next resize is due: after growing,
 * at least cap/2 insertions come first (8 slots each would do); after
 * shrinking, at least cap/8 (16 each would do, twice the need).
 */
#define IDS_STEP	16

static size_t	ids_home(const struct ev_ring_ids *,
		    const struct ev_ring_idtab *, uint64_t);
static void	ids_place(struct ev_ring_idtab *, uint64_t, struct ev_msg *);
static void	ids_drain(struct ev_ring_ids *, size_t);
static int	ids_resize(struct ev_ring_ids *, size_t);
static int	ids_put(struct ev_ring_ids *, struct ev_msg *);
static int	ids_tabdel(struct ev_ring_ids *, struct ev_ring_idtab *,
		    const struct ev_msg *, uint64_t);
static void	ids_del(struct ev_ring_ids *, const struct ev_msg *);
static void	ids_free(struct ev_ring_ids *);
static void	ring_evict(struct ev_ring *);
static int	ring_grow(struct ev_ring *);

/*
 * A message for the event whose stamped JSON is json[0..len): the line
 * (with its '\n'), the name and the id in one allocation.  NULL with errno
 * EOVERFLOW for sizes the struct cannot record, ENOMEM when out of memory.
 */
struct ev_msg *
ev_msg_new(const char *json, size_t len, uint64_t seq, int64_t time,
    const char *name, size_t namelen, const char *id, size_t idlen)
{
	size_t extra = sizeof(struct ev_msg) + namelen + idlen + 3;
	struct ev_msg *m;
	char *p;

	if (len >= UINT32_MAX || namelen > UINT16_MAX ||
	    idlen > UINT16_MAX || len > SIZE_MAX - extra) {
		errno = EOVERFLOW;
		return NULL;
	}
	if ((m = malloc(extra + len)) == NULL)
		return NULL;
	m->refs = 1;
	m->target = NULL;
	m->len = (uint32_t)len + 1;
	m->seq = seq;
	m->time = time;
	m->namelen = (uint16_t)namelen;
	m->idlen = (uint16_t)idlen;
	p = m->line;
	if (len > 0)
		memcpy(p, json, len);
	p[len] = '\n';
	p += len + 1;
	if (namelen > 0)
		memcpy(p, name, namelen);
	p[namelen] = '\0';
	m->name = p;
	p += namelen + 1;
	if (idlen > 0)
		memcpy(p, id, idlen);
	p[idlen] = '\0';
	m->id = p;
	return m;
}

void
ev_msg_ref(struct ev_msg *m)
{
	m->refs++;
}

void
ev_msg_unref(struct ev_msg *m)
{
	if (m != NULL && --m->refs == 0) {
		ev_target_free(m->target);
		free(m);
	}
}

/* "EVENT n\n" with n the JSON's length, the digits written backwards. */
size_t
ev_msg_framehead(const struct ev_msg *m, char *buf)
{
	char digits[16], *d = digits + sizeof(digits);
	uint32_t v = m->len > 0 ? m->len - 1 : 0;
	size_t nd;

	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	nd = (size_t)(digits + sizeof(digits) - d);
	memcpy(buf, "EVENT ", 6);
	memcpy(buf + 6, d, nd);
	buf[6 + nd] = '\n';
	buf[7 + nd] = '\0';
	return 7 + nd;
}

void
ev_ring_init(struct ev_ring *r, size_t maxevents, size_t maxbytes,
    uint64_t next)
{
	memset(r, 0, sizeof(*r));
	if (maxevents == 0)
		maxevents = 1;
	if (maxevents > RING_CAPMAX)
		maxevents = RING_CAPMAX;
	r->max = maxevents;
	r->maxbytes = maxbytes;
	r->first = r->next = next;
}

void
ev_ring_free(struct ev_ring *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		ev_msg_unref(r->slot[(r->head + i) & (r->cap - 1)]);
	free(r->slot);
	ids_free(&r->ids);
	memset(r, 0, sizeof(*r));
}

/* Drop the oldest event: out of the slots, out of the index, unreferenced. */
static void
ring_evict(struct ev_ring *r)
{
	struct ev_msg *m = r->slot[r->head];

	r->slot[r->head] = NULL;
	r->head = (r->head + 1) & (r->cap - 1);
	r->n--;
	r->bytes -= m->len;
	r->first++;
	if (m->idlen > 0)
		ids_del(&r->ids, m);
	ev_msg_unref(m);
}

/*
 * Double the slots (the first time: RING_MINSLOTS, or the power of two at
 * or above max if smaller).  Of the two runs a full, wrapped ring makes,
 * the shorter one moves so that the events stay in order from head.
 * -1 with errno ENOMEM, the ring unchanged.
 * Cost: realloc plus a memcpy of at most half the slots.
 */
static int
ring_grow(struct ev_ring *r)
{
	size_t ncap, low, high;
	struct ev_msg **ns;

	if (r->cap == 0) {
		for (ncap = 1; ncap < r->max && ncap < RING_MINSLOTS; )
			ncap *= 2;
	} else
		ncap = r->cap * 2;
	if ((ns = realloc(r->slot, ncap * sizeof(*ns))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (r->head + r->n > r->cap) {
		high = r->cap - r->head;	/* [head, cap): the oldest */
		low = r->n - high;		/* [0, low): the newest */
		if (low <= high)
			memcpy(ns + r->cap, ns, low * sizeof(*ns));
		else {
			memcpy(ns + ncap - high, ns + r->head,
			    high * sizeof(*ns));
			r->head += ncap - r->cap;
		}
	}
	r->slot = ns;
	r->cap = ncap;
	return 0;
}

int
ev_ring_push(struct ev_ring *r, struct ev_msg *m)
{
	if (m->seq != r->next) {
		errno = EINVAL;
		return -1;
	}
	while (r->n > 0 &&
	    (r->n >= r->max || r->bytes + m->len > r->maxbytes))
		ring_evict(r);
	if (r->n == r->cap && ring_grow(r) == -1)
		return -1;
	if (m->idlen > 0 && ids_put(&r->ids, m) == -1)
		return -1;
	r->slot[(r->head + r->n) & (r->cap - 1)] = m;
	r->n++;
	r->bytes += m->len;
	r->next++;
	return 0;
}

struct ev_msg *
ev_ring_get(const struct ev_ring *r, uint64_t seq)
{
	if (seq < r->first || seq - r->first >= r->n)
		return NULL;
	return r->slot[(r->head + (size_t)(seq - r->first)) & (r->cap - 1)];
}

uint64_t
ev_ring_first(const struct ev_ring *r)
{
	return r->first;
}

uint64_t
ev_ring_next(const struct ev_ring *r)
{
	return r->next;
}

size_t
ev_ring_count(const struct ev_ring *r)
{
	return r->n;
}

size_t
ev_ring_bytes(const struct ev_ring *r)
{
	return r->bytes;
}

/*
 * A hash of an id, eight bytes at a time (ids are mostly 36-byte UUIDs):
 * a multiply and a fold per word, then a final mix.  Not for adversaries:
 * ids come from our own user's programs, and probing is bounded by the
 * table's load.
 */
uint64_t
ev_id_hash(const char *s, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = (uint64_t)len * k, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, s + i, len - i);
		h = (h ^ w) * k;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	return h ^ (h >> 32);
}

/*
 * Where probing for hash h starts in t.  In cur, its home slot.  In old,
 * the table being drained: slots are drained in order from just after an
 * empty slot (so no probe run crosses the start), and an entry whose home
 * is already drained is still reached from the first undrained slot,
 * oldpos, since everything from there to the entry is still occupied.
 */
static size_t
ids_home(const struct ev_ring_ids *x, const struct ev_ring_idtab *t, uint64_t h)
{
	size_t mask = t->cap - 1, k = (size_t)h & mask;

	if (t == &x->old && ((k - x->oldpos) & mask) >= x->oldleft)
		return x->oldpos;
	return k;
}

/* Put m in the first free slot from h's home in cur (which has room). */
static void
ids_place(struct ev_ring_idtab *t, uint64_t h, struct ev_msg *m)
{
	size_t mask = t->cap - 1, j = (size_t)h & mask;

	while (t->slot[j].m != NULL)
		j = (j + 1) & mask;
	t->slot[j].hash = h;
	t->slot[j].m = m;
	t->n++;
}

/*
 * Move up to steps slots of old into cur, freeing old once all are moved.
 * A moved slot is simply emptied: the entries after it in its probe run
 * are found from oldpos (ids_home).
 */
static void
ids_drain(struct ev_ring_ids *x, size_t steps)
{
	struct ev_ring_idslot *s;

	for (; x->oldleft > 0 && steps > 0; steps--) {
		s = &x->old.slot[x->oldpos];
		if (s->m != NULL) {
			ids_place(&x->cur, s->hash, s->m);
			s->m = NULL;
			x->old.n--;
		}
		x->oldpos = (x->oldpos + 1) & (x->old.cap - 1);
		x->oldleft--;
	}
	if (x->old.cap != 0 && x->oldleft == 0) {
		free(x->old.slot);
		memset(&x->old, 0, sizeof(x->old));
	}
}

/*
 * Make cur a new, empty table of ncap slots; the previous one, unless
 * empty, becomes old, to be drained from just after one of its empty slots
 * (at most half full: one is near).  Nothing may be draining already.
 * -1 with errno ENOMEM, the index unchanged.
 */
static int
ids_resize(struct ev_ring_ids *x, size_t ncap)
{
	struct ev_ring_idslot *ns;
	size_t e;

	if ((ns = calloc(ncap, sizeof(*ns))) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (x->cur.n == 0)
		free(x->cur.slot);
	else {
		x->old = x->cur;
		for (e = 0; x->old.slot[e].m != NULL; e++)
			;
		x->oldpos = (e + 1) & (x->old.cap - 1);
		x->oldleft = x->old.cap - 1;
	}
	x->cur.slot = ns;
	x->cur.cap = ncap;
	x->cur.n = 0;
	return 0;
}

/*
 * Index m by its id.  Grows when the ids in both tables would pass half of
 * cur's slots; a drain still under way is finished first (IDS_STEP makes
 * that not happen in practice).  -1 with errno ENOMEM, m not indexed.
 */
static int
ids_put(struct ev_ring_ids *x, struct ev_msg *m)
{
	if (x->old.cap != 0)
		ids_drain(x, IDS_STEP);
	if ((x->cur.n + x->old.n + 1) * 2 > x->cur.cap) {
		if (x->old.cap != 0)
			ids_drain(x, SIZE_MAX);
		if (ids_resize(x, x->cur.cap != 0 ? x->cur.cap * 2 :
		    IDS_MIN) == -1)
			return -1;
	}
	ids_place(&x->cur, ev_id_hash(m->id, m->idlen), m);
	return 0;
}

/*
 * Remove m (found by identity, not by id) from t; -1 if not there.
 * Backward-shift deletion: each later entry of the probe run moves into
 * the hole unless its (effective) home lies cyclically in (hole, its
 * slot], so lookups never need tombstones.
 */
static int
ids_tabdel(struct ev_ring_ids *x, struct ev_ring_idtab *t,
    const struct ev_msg *m, uint64_t h)
{
	size_t mask = t->cap - 1, i, j, k;

	for (i = ids_home(x, t, h); t->slot[i].m != m; i = (i + 1) & mask)
		if (t->slot[i].m == NULL)
			return -1;
	t->slot[i].m = NULL;
	t->n--;
	for (j = (i + 1) & mask; t->slot[j].m != NULL; j = (j + 1) & mask) {
		k = ids_home(x, t, t->slot[j].hash);
		if (((j - k) & mask) >= ((j - i) & mask)) {
			t->slot[i] = t->slot[j];
			t->slot[j].m = NULL;
			i = j;
		}
	}
	return 0;
}

/*
 * Unindex m, then drain a step, or start shrinking when an eighth or less
 * of cur is used (a failure to allocate the smaller table is harmless).
 */
static void
ids_del(struct ev_ring_ids *x, const struct ev_msg *m)
{
	uint64_t h;

	if (x->cur.cap == 0)
		return;
	h = ev_id_hash(m->id, m->idlen);
	if (x->old.cap == 0 || ids_tabdel(x, &x->old, m, h) == -1)
		(void)ids_tabdel(x, &x->cur, m, h);
	if (x->old.cap != 0)
		ids_drain(x, IDS_STEP);
	else if (x->cur.cap > IDS_MIN && x->cur.n * 8 < x->cur.cap)
		(void)ids_resize(x, x->cur.cap / 2);
}

static void
ids_free(struct ev_ring_ids *x)
{
	free(x->cur.slot);
	free(x->old.slot);
	memset(x, 0, sizeof(*x));
}

struct ev_msg *
ev_ring_find_id(const struct ev_ring *r, const char *id, size_t idlen)
{
	const struct ev_ring_ids *x = &r->ids;
	const struct ev_ring_idtab *tabs[2] = { &x->cur, &x->old }, *t;
	const struct ev_ring_idslot *s;
	struct ev_msg *m;
	uint64_t h;
	size_t j, mask, i;

	if (idlen == 0 || x->cur.cap == 0)
		return NULL;
	h = ev_id_hash(id, idlen);
	for (i = 0; i < 2; i++) {
		if ((t = tabs[i])->cap == 0)
			continue;
		mask = t->cap - 1;
		for (j = ids_home(x, t, h); (s = &t->slot[j])->m != NULL;
		    j = (j + 1) & mask) {
			m = s->m;
			if (s->hash == h && m->idlen == idlen &&
			    memcmp(m->id, id, idlen) == 0)
				return m;
		}
	}
	return NULL;
}
