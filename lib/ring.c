/*
 * ring.c: the bus's recent events, bounded by count and bytes, the index
 * of their ids, and the reference-counted message each event is kept in;
 * the arena the events' records are written into.
 */
#include <sys/mman.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

/* A bound on slots that keeps their byte count in range. */
#define RING_CAPMAX	((size_t)1 << (sizeof(size_t) * CHAR_BIT - 5))
/* Records are aligned so; a huge page; the arena's largest reservation. */
#define ARENA_ALIGN	16
#define ARENA_HUGE	((size_t)2 << 20)
#define ARENA_MAX	((size_t)64 << 30)
/*
 * The arena's allowance per event beyond its line: the header, a name and
 * an id of 64 bytes each, rounding.  (Both are in the stamped line too;
 * an event with longer ones in a ring at both bounds may not fit.)
 */
#define ARENA_PEREV	(sizeof(struct ev_msg) + 128 + ARENA_ALIGN)

/*
 * The arena: records in seq order from w on, circularly.  What is
 * between the newest record's end (w, or before a skip) and the oldest
 * held event's record is free, but for pinned records (evicted while
 * referenced), listed from pins.  hw: bytes ever touched.
 */
struct ev_arena {
	char		*raw;		/* the mapping, as mmap gave it */
	size_t		 rawlen;
	char		*base;		/* raw aligned to a huge page */
	size_t		 size;
	size_t		 w;		/* where the next record goes */
	size_t		 hw;
	size_t		 maxrec;	/* the largest record placed */
	struct ev_msg	*pins;		/* pinned, some perhaps released */
	size_t		 npins;		/* pinned, not yet released */
	int		 orphan;	/* the ring is gone */
};
/* Slots of the smallest generation; a generation's table in huge pages. */
#define IDS_MIN		64
#define IDS_MAPPED	((size_t)2 << 20)

static int	ids_put(struct ev_ring *, struct ev_msg *, uint64_t);
static int	ids_rotate(struct ev_ring *);
static int	ids_swap(struct ev_ring_ids *, struct ev_ring_idgen *, size_t);
static void	ids_tabfree(struct ev_ring_idgen *);
static void	ids_free(struct ev_ring_ids *);
static void	ring_evict(struct ev_ring *);
static void	ring_make_room(struct ev_ring *, size_t);
static int	ring_map(struct ev_ring *);
static int	msg_sizes_ok(size_t, size_t, size_t);
static void	arena_destroy(struct ev_arena *);
static int	arena_open(struct ev_ring *);
static size_t	rec_size(size_t, size_t, size_t);
static struct ev_msg *ring_oldest_arena(struct ev_ring *);
static size_t	arena_pin_below(struct ev_arena *, size_t, size_t,
		    struct ev_msg **);
static size_t	arena_slack(const struct ev_arena *);
static struct ev_msg *arena_place(struct ev_ring *, size_t);
static void	msg_fill(struct ev_msg *, const char *, size_t, uint64_t,
		    int64_t, const char *, size_t, const char *, size_t);

/*
 * A message for the event whose stamped JSON is json[0..len): the line
 * (with its '\n'), the name and the id in one allocation.  NULL with errno
 * EOVERFLOW for sizes the struct cannot record, ENOMEM when out of memory.
 */
/* Is a message of these sizes recordable?  -1 with errno EOVERFLOW. */
static int
msg_sizes_ok(size_t len, size_t namelen, size_t idlen)
{
	if (len >= UINT32_MAX || namelen > UINT16_MAX ||
	    idlen > UINT16_MAX ||
	    len > SIZE_MAX - sizeof(struct ev_msg) - namelen - idlen - 3 -
	    ARENA_ALIGN) {
		errno = EOVERFLOW;
		return -1;
	}
	return 0;
}

/* The bytes of a record for these sizes, aligned (sizes checked). */
static size_t
rec_size(size_t len, size_t namelen, size_t idlen)
{
	size_t n = sizeof(struct ev_msg) + len + namelen + idlen + 3;

	return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

/* Fill the record at m: its fields, the line with its '\n', name, id. */
static void
msg_fill(struct ev_msg *m, const char *json, size_t len, uint64_t seq,
    int64_t time, const char *name, size_t namelen, const char *id,
    size_t idlen)
{
	char *p;

	m->refs = 1;
	m->target = NULL;
	m->arena = NULL;
	m->pinnext = NULL;
	m->flags = 0;
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
}

/*
 * A message for the event whose stamped JSON is json[0..len): the line
 * (with its '\n'), the name and the id in one allocation.  NULL with errno
 * EOVERFLOW for sizes the struct cannot record, ENOMEM when out of memory.
 */
struct ev_msg *
ev_msg_new(const char *json, size_t len, uint64_t seq, int64_t time,
    const char *name, size_t namelen, const char *id, size_t idlen)
{
	struct ev_msg *m;

	if (msg_sizes_ok(len, namelen, idlen) == -1)
		return NULL;
	if ((m = malloc(rec_size(len, namelen, idlen))) == NULL)
		return NULL;
	msg_fill(m, json, len, seq, time, name, namelen, id, idlen);
	return m;
}

void
ev_msg_ref(struct ev_msg *m)
{
	m->refs++;
}

/*
 * The last reference: a message alone is freed; an arena record's space
 * is free from now on (a pinned one is counted released; the arena of a
 * freed ring goes with the last of them).
 */
void
ev_msg_unref(struct ev_msg *m)
{
	struct ev_arena *a;

	if (m == NULL || --m->refs > 0)
		return;
	ev_target_free(m->target);
	m->target = NULL;
	if ((a = m->arena) == NULL) {
		free(m);
		return;
	}
	if (m->flags & EV_MSG_PINNED) {
		a->npins--;
		if (a->orphan && a->npins == 0)
			arena_destroy(a);
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
	struct ev_arena *a = r->arena;

	while (r->n > 0)
		ring_evict(r);
	if (r->slot != NULL)
		munmap(r->slot, r->cap * sizeof(*r->slot));
	ids_free(&r->ids);
	if (a != NULL) {
		if (a->npins == 0)
			arena_destroy(a);
		else
			a->orphan = 1;
	}
	memset(r, 0, sizeof(*r));
}

/*
 * Drop the oldest event: out of the slots, out of the index, unreferenced.
 * An arena record someone else still references is pinned: the arena
 * writes around it until it is released.
 */
static void
ring_evict(struct ev_ring *r)
{
	struct ev_msg *m = r->slot[r->head];
	struct ev_arena *a;

	r->slot[r->head] = NULL;
	r->head = (r->head + 1) & (r->cap - 1);
	r->n--;
	r->bytes -= m->len;
	r->first++;
	/* Its id stays in the index, found stale by its seq (ids_put). */
	if ((a = m->arena) != NULL && m->refs > 1) {
		m->flags |= EV_MSG_PINNED;
		m->pinnext = a->pins;
		a->pins = m;
		a->npins++;
	}
	ev_msg_unref(m);
}

/*
 * Map the slots: the power of two at or above max, untouched until used,
 * so that they never move or grow.  -1 with errno ENOMEM.
 */
static int
ring_map(struct ev_ring *r)
{
	size_t ncap;
	void *p;

	for (ncap = 1; ncap < r->max; )
		ncap *= 2;
	p = mmap(NULL, ncap * sizeof(*r->slot), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		errno = ENOMEM;
		return -1;
	}
	r->slot = p;
	r->cap = ncap;
	r->head = 0;
	return 0;
}

/* Evict until m's len fits the bounds (m itself always fits). */
static void
ring_make_room(struct ev_ring *r, size_t len)
{
	while (r->n > 0 &&
	    (r->n >= r->max || r->bytes + len > r->maxbytes))
		ring_evict(r);
}

int
ev_ring_push(struct ev_ring *r, struct ev_msg *m)
{
	if (m->seq != r->next) {
		errno = EINVAL;
		return -1;
	}
	ring_make_room(r, m->len);
	if (r->cap == 0 && ring_map(r) == -1)
		return -1;
	if (m->idlen > 0) {
		if (ids_put(r, m, ev_id_hash(m->id, m->idlen)) == -1)
			return -1;
	}
	r->slot[(r->head + r->n) & (r->cap - 1)] = m;
	r->n++;
	r->bytes += m->len;
	r->next++;
	return 0;
}

/* Unmap an arena and free its description. */
static void
arena_destroy(struct ev_arena *a)
{
	munmap(a->raw, a->rawlen);
	free(a);
}

/*
 * Reserve the arena: r->arenasize, or maxbytes plus ARENA_PEREV for each
 * event the bounds allow, capped at ARENA_MAX and halved while the system
 * refuses.  Address space only:
 * MAP_NORESERVE, nothing touched.  Beyond its first huge page it is
 * advised for huge pages (a small bus stays on small pages); building
 * with -DEV_RING_NOHUGE leaves that out, to measure what it gives.  -1 with
 * errno ENOMEM.
 */
static int
arena_open(struct ev_ring *r)
{
	struct ev_arena *a;
	size_t size = r->arenasize, evs, off;
	void *p;

	if (size == 0) {
		evs = r->max < r->maxbytes ? r->max : r->maxbytes;
		size = ARENA_MAX;
		if (evs < ARENA_MAX / ARENA_PEREV &&
		    r->maxbytes < ARENA_MAX - evs * ARENA_PEREV)
			size = r->maxbytes + evs * ARENA_PEREV;
	}
	size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -1;
	for (;;) {
		a->rawlen = size > ARENA_HUGE ? size + ARENA_HUGE : size;
		p = mmap(NULL, a->rawlen, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED)
			break;
		if (size <= ARENA_HUGE) {
			free(a);
			errno = ENOMEM;
			return -1;
		}
		size /= 2;
	}
	a->raw = p;
	a->base = p;
	if (size > ARENA_HUGE) {
		off = (ARENA_HUGE - (uintptr_t)a->raw % ARENA_HUGE) %
		    ARENA_HUGE;
		a->base = a->raw + off;
#if defined(MADV_HUGEPAGE) && !defined(EV_RING_NOHUGE)
		if (size > 2 * ARENA_HUGE)
			(void)madvise(a->base + ARENA_HUGE, size - ARENA_HUGE,
			    MADV_HUGEPAGE);
#endif
	}
	a->size = size;
	r->arena = a;
	return 0;
}

/*
 * The oldest held event whose record is in the arena, or NULL.  Events
 * malloc'd alone (ev_ring_push, or spilled) are passed over once each:
 * aseq only moves forward.
 */
static struct ev_msg *
ring_oldest_arena(struct ev_ring *r)
{
	struct ev_msg *m;

	if (r->aseq < r->first)
		r->aseq = r->first;
	for (; r->aseq < r->next; r->aseq++) {
		m = r->slot[(r->head + (size_t)(r->aseq - r->first)) &
		    (r->cap - 1)];
		if (m->arena != NULL)
			return m;
	}
	return NULL;
}

/*
 * The lowest offset in [from, lim) where a pinned record starts, or lim;
 * *pin says which (NULL: none).  Released pins are unlinked on the way.
 * Cost: one step per pinned record.
 */
static size_t
arena_pin_below(struct ev_arena *a, size_t from, size_t lim,
    struct ev_msg **pin)
{
	struct ev_msg **pp = &a->pins, *m;
	size_t off;

	*pin = NULL;
	while ((m = *pp) != NULL) {
		if (m->refs == 0) {
			*pp = m->pinnext;
			m->flags &= ~(uint32_t)EV_MSG_PINNED;
			continue;
		}
		off = (size_t)((char *)m - a->base);
		if (off >= from && off < lim) {
			lim = off;
			*pin = m;
		}
		pp = &m->pinnext;
	}
	return lim;
}

/*
 * The room an early return to the arena's start must leave before the
 * oldest record, so that records a little larger than those evicted do
 * not soon find the way blocked: a sixteenth of the arena, at most a huge
 * page, and at least four of the largest record yet.  (Records much
 * larger than any before may still find too little room there, and are
 * then kept outside the arena until the oldest records make way.)
 */
static size_t
arena_slack(const struct ev_arena *a)
{
	size_t s = a->size / 16 < ARENA_HUGE ? a->size / 16 : ARENA_HUGE;

	return s > 4 * a->maxrec ? s : 4 * a->maxrec;
}

/*
 * Room for a record of need bytes at the arena's write position, stepping
 * over pinned records and going back to the start at the end.  NULL when
 * the oldest held record is in the way (the ring's bounds allow more than
 * the arena's allowance holds) or pinned records leave no room: the
 * caller then keeps the event outside the arena.  Never evicts, so that
 * the ring holds exactly what its bounds say.
 */
static struct ev_msg *
arena_place(struct ev_ring *r, size_t need)
{
	struct ev_arena *a = r->arena;
	struct ev_msg *om, *pin;
	size_t o, lim, w0;
	int wrapped = 0, ahead, eager;

	if (need > a->size)
		return NULL;
	if (need > a->maxrec)
		a->maxrec = need;
	om = ring_oldest_arena(r);
	o = om != NULL ? (size_t)((char *)om - a->base) : 0;
	if (om == NULL && a->pins == NULL)
		a->w = 0;
	/*
	 * Going on would touch fresh memory: go back to the start instead
	 * when the oldest record has left room enough there, so that the
	 * memory touched follows what the ring holds, not the arena's
	 * size (a ring bounded by count holds far less than its
	 * allowance).  If the room there is taken after all, go on.
	 */
	w0 = a->w;
	eager = om != NULL && o < a->w && a->w + need > a->hw &&
	    o >= need + arena_slack(a);
	if (eager)
		a->w = 0;
	for (;;) {
		/* The oldest record ahead: the free space ends there. */
		ahead = om != NULL && o >= a->w;
		lim = arena_pin_below(a, a->w, ahead ? o : a->size, &pin);
		if (a->w + need <= lim) {
			om = (struct ev_msg *)(void *)(a->base + a->w);
			a->w += need;
			if (a->w > a->hw)
				a->hw = a->w;
			return om;
		}
		if (pin != NULL)
			a->w = (size_t)((char *)pin - a->base) +
			    rec_size(pin->len - 1, pin->namelen, pin->idlen);
		else if (eager) {
			eager = 0;
			a->w = w0;
		} else if (ahead || wrapped++)
			return NULL;
		else
			a->w = 0;
	}
}

struct ev_msg *
ev_ring_add(struct ev_ring *r, const char *json, size_t len, int64_t time,
    const char *name, size_t namelen, const char *id, size_t idlen,
    int flags)
{
	struct ev_ring_idgen *g;
	struct ev_msg *m;
	uint64_t h = 0;
	size_t need;

	if (msg_sizes_ok(len, namelen, idlen) == -1)
		return NULL;
	need = rec_size(len, namelen, idlen);
	/* The id's slot is far from the cache: ask for it before the copy. */
	if ((flags & EV_RING_INDEX) && idlen > 0) {
		h = ev_id_hash(id, idlen);
		g = &r->ids.gen[r->ids.cur];
		if (g->cap != 0)
			__builtin_prefetch(&g->slot[h & (g->cap - 1)], 1);
	}
	ring_make_room(r, len + 1);
	if (r->cap == 0 && ring_map(r) == -1)
		return NULL;
	if (r->arena == NULL && arena_open(r) == -1)
		return NULL;
	if ((m = arena_place(r, need)) != NULL) {
		msg_fill(m, json, len, r->next, time, name, namelen, id,
		    idlen);
		m->arena = r->arena;
	} else {
		r->spilled++;
		if ((m = ev_msg_new(json, len, r->next, time, name, namelen,
		    id, idlen)) == NULL)
			return NULL;
	}
	if ((flags & EV_RING_INDEX) && idlen > 0) {
		if (ids_put(r, m, h) == -1) {
			int e = errno;

			/* The record is free again: nothing refers to it. */
			if (m->arena != NULL)
				r->arena->w = (size_t)((char *)m -
				    r->arena->base);
			else
				free(m);
			errno = e;
			return NULL;
		}
	}
	r->slot[(r->head + r->n) & (r->cap - 1)] = m;
	r->n++;
	r->bytes += m->len;
	r->next++;
	return m;
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

size_t
ev_ring_memory(const struct ev_ring *r)
{
	return r->arena != NULL ? r->arena->hw : 0;
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
 * Is slot s of generation g empty?  Its key is 0 (never written) or below
 * the generation's lowest (written in an earlier use of the table).
 */
static int
ids_empty(const struct ev_ring_idgen *g, const struct ev_ring_idslot *s)
{
	return s->key < g->lo;
}

/*
 * Index m (hash h) in the newest generation, starting a new one when it is
 * half full.  -1 with errno ENOMEM, or EOVERFLOW for the seq UINT64_MAX;
 * m not indexed.
 */
static int
ids_put(struct ev_ring *r, struct ev_msg *m, uint64_t h)
{
	struct ev_ring_ids *x = &r->ids;
	struct ev_ring_idgen *g = &x->gen[x->cur];
	size_t mask, j;

	/* Its key, seq + 1, must not wrap to 0 (read as empty). */
	if (m->seq == UINT64_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	/* None live: after a rotation that found no memory, start again. */
	if (x->ngen == 0 || g->cap == 0 || (g->n + 1) * 2 > g->cap)
		if (ids_rotate(r) == -1)
			return -1;
	g = &x->gen[x->cur];
	if (g->n == 0)
		g->lo = m->seq + 1;
	mask = g->cap - 1;
	for (j = (size_t)h & mask; !ids_empty(g, &g->slot[j]);
	    j = (j + 1) & mask)
		;
	g->slot[j].hash = h;
	g->slot[j].key = m->seq + 1;
	g->n++;
	g->last = m->seq;
	return 0;
}

/*
 * Start a new generation after cur.  First the oldest generations whose
 * every id is evicted are let go: their tables are kept for reuse when of
 * the size wanted, since a table that is already resident costs nothing
 * to take again (its old slots read as empty), while fresh memory costs
 * a page fault per page.  The new generation has room for as many ids as
 * the live generations hold (so that they double while the ring fills),
 * between IDS_MIN/2 and half the ring's count bound: at most about three
 * generations then hold the ring's ids.  -1 with errno ENOMEM.
 */
static int
ids_rotate(struct ev_ring *r)
{
	struct ev_ring_ids *x = &r->ids;
	struct ev_ring_idgen *g;
	size_t live = 0, per, cap, i, bytes;
	unsigned next;
	void *p;

	while (x->ngen > 0) {
		g = &x->gen[(x->cur + EV_RING_IDGENS - x->ngen + 1) %
		    EV_RING_IDGENS];
		if (g->n > 0 && g->last >= r->first)
			break;
		g->n = 0;
		x->ngen--;
		/* Kept for reuse when of the size in use. */
		if (g != &x->gen[x->cur] && g->cap != x->gen[x->cur].cap)
			ids_tabfree(g);
	}
	for (i = 0; i < x->ngen; i++)
		live += x->gen[(x->cur + EV_RING_IDGENS - i) %
		    EV_RING_IDGENS].n;
	/* Ids put, not all of them still held: the ring says how many. */
	if (live > r->n)
		live = r->n;
	for (per = IDS_MIN / 2; per < live && per < r->max / 2; )
		per *= 2;
	cap = per * 2;
	/* Every generation live: cannot be, by their sizes. */
	if (x->ngen == EV_RING_IDGENS) {
		errno = ENOMEM;
		return -1;
	}
	next = x->ngen == 0 ? x->cur : (x->cur + 1) % EV_RING_IDGENS;
	g = &x->gen[next];
	if (g->cap != cap && ids_swap(x, g, cap) == -1) {
		bytes = cap * sizeof(struct ev_ring_idslot);
		if (bytes >= IDS_MAPPED) {
			p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) {
				errno = ENOMEM;
				return -1;
			}
#if defined(MADV_HUGEPAGE) && !defined(EV_RING_NOHUGE)
			(void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
		} else if ((p = calloc(cap,
		    sizeof(struct ev_ring_idslot))) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		ids_tabfree(g);
		g->slot = p;
		g->cap = cap;
	}
	g->n = 0;
	g->lo = UINT64_MAX;
	g->last = 0;
	x->cur = next;
	x->ngen++;
	return 0;
}

/*
 * Give g (not live) the table of cap slots of a let-go generation, which
 * takes g's in exchange.  -1: there is none.
 */
static int
ids_swap(struct ev_ring_ids *x, struct ev_ring_idgen *g, size_t cap)
{
	struct ev_ring_idgen *o, t;
	size_t k;

	for (k = 0; k < EV_RING_IDGENS; k++) {
		o = &x->gen[k];
		/* Live generations hold ids; the others hold none. */
		if (o == g || o->cap != cap || o->n != 0)
			continue;
		t = *g;
		*g = *o;
		*o = t;
		return 0;
	}
	return -1;
}

/* Release a generation's table. */
static void
ids_tabfree(struct ev_ring_idgen *g)
{
	if (g->cap * sizeof(struct ev_ring_idslot) >= IDS_MAPPED)
		munmap(g->slot, g->cap * sizeof(struct ev_ring_idslot));
	else
		free(g->slot);
	memset(g, 0, sizeof(*g));
}

static void
ids_free(struct ev_ring_ids *x)
{
	size_t i;

	for (i = 0; i < EV_RING_IDGENS; i++)
		if (x->gen[i].cap != 0)
			ids_tabfree(&x->gen[i]);
	memset(x, 0, sizeof(*x));
}

struct ev_msg *
ev_ring_find_id(const struct ev_ring *r, const char *id, size_t idlen)
{
	const struct ev_ring_ids *x = &r->ids;
	const struct ev_ring_idgen *g;
	const struct ev_ring_idslot *s;
	struct ev_msg *m;
	uint64_t h;
	size_t i, j, mask;

	if (idlen == 0 || x->ngen == 0)
		return NULL;
	h = ev_id_hash(id, idlen);
	for (i = 0; i < x->ngen; i++) {
		g = &x->gen[(x->cur + EV_RING_IDGENS - i) % EV_RING_IDGENS];
		if (g->n == 0 || g->last < r->first)
			break;
		mask = g->cap - 1;
		for (j = (size_t)h & mask; !ids_empty(g, (s = &g->slot[j]));
		    j = (j + 1) & mask) {
			if (s->hash != h || s->key - 1 < r->first)
				continue;
			m = ev_ring_get(r, s->key - 1);
			if (m != NULL && m->idlen == idlen &&
			    memcmp(m->id, id, idlen) == 0)
				return m;
		}
	}
	return NULL;
}

size_t
ev_ring_ids_live(const struct ev_ring *r)
{
	const struct ev_ring_ids *x = &r->ids;
	const struct ev_ring_idgen *g;
	size_t i, j, n = 0;

	for (i = 0; i < x->ngen; i++) {
		g = &x->gen[(x->cur + EV_RING_IDGENS - i) % EV_RING_IDGENS];
		for (j = 0; j < g->cap; j++)
			n += !ids_empty(g, &g->slot[j]) &&
			    g->slot[j].key - 1 >= r->first;
	}
	return n;
}
