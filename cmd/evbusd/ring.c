/*
 * ring.c: the bus's recent events, bounded by count and bytes, and the
 * index of their ids.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbusd.h"

#define RING_MINSLOTS	64
#define IDTAB_MIN	64

static uint64_t	idtab_hash(const char *);
static int	idtab_put(struct idtab *, struct msg *);
static void	idtab_del(struct idtab *, const struct msg *);

/*
 * A message for the event whose outgoing JSON is json[0..len): the frame
 * is built here, once.  NULL when out of memory.
 */
struct msg *
msg_new(const char *json, size_t len, uint64_t seq, int64_t time,
    const struct ev_evinfo *info)
{
	char head[32], *h = head + sizeof(head);
	size_t hlen, idlen = strlen(info->id), flen, v = len;
	struct msg *m;
	char *p;

	/* "EVENT len\n", the digits written backwards from the end. */
	*--h = '\n';
	do {
		*--h = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	h -= 6;
	memcpy(h, "EVENT ", 6);
	hlen = (size_t)(head + sizeof(head) - h);
	flen = hlen + len + 1;
	if ((m = malloc(sizeof(*m) + flen + info->namelen + 1 +
	    idlen + 1)) == NULL)
		return NULL;
	m->refs = 1;
	m->len = (uint32_t)flen;
	m->seq = seq;
	m->time = time;
	m->namelen = (uint16_t)info->namelen;
	p = m->data;
	memcpy(p, h, hlen);
	memcpy(p + hlen, json, len);
	p[hlen + len] = '\n';
	p += flen;
	memcpy(p, info->name, info->namelen);
	p[info->namelen] = '\0';
	m->name = p;
	p += info->namelen + 1;
	memcpy(p, info->id, idlen + 1);
	m->id = p;
	return m;
}

void
msg_unref(struct msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}

void
ring_init(struct ring *r, size_t max, size_t maxbytes, uint64_t next)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->maxbytes = maxbytes;
	r->first = r->next = next;
}

void
ring_free(struct ring *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		msg_unref(r->slot[(r->head + i) % r->cap]);
	free(r->slot);
	free(r->ids.slot);
	memset(r, 0, sizeof(*r));
}

static void
ring_evict(struct ring *r)
{
	struct msg *m = r->slot[r->head];

	r->slot[r->head] = NULL;
	r->head = (r->head + 1) % r->cap;
	r->n--;
	r->bytes -= m->len;
	r->first++;
	if (m->id[0] != '\0')
		idtab_del(&r->ids, m);
	msg_unref(m);
}

/* Double the slots (up to max), putting the oldest event at slot 0. */
static int
ring_grow(struct ring *r)
{
	size_t ncap = r->cap ? r->cap * 2 : RING_MINSLOTS, i;
	struct msg **ns;

	if (ncap > r->max)
		ncap = r->max;
	if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
		return -1;
	for (i = 0; i < r->n; i++)
		ns[i] = r->slot[(r->head + i) % r->cap];
	free(r->slot);
	r->slot = ns;
	r->cap = ncap;
	r->head = 0;
	return 0;
}

/*
 * Append m, whose seq must be r->next; the ring takes the caller's
 * reference.  The oldest events are evicted until both bounds hold.
 * -1 when out of memory (m is then still the caller's).
 * Cost: O(1) amortized, plus O(n) when the slot array doubles.
 */
int
ring_push(struct ring *r, struct msg *m)
{
	while (r->n > 0 && (r->n == r->max || r->bytes + m->len > r->maxbytes))
		ring_evict(r);
	if (r->n == r->cap && ring_grow(r) == -1)
		return -1;
	if (m->id[0] != '\0' && idtab_put(&r->ids, m) == -1)
		return -1;
	if (r->n == 0)
		r->first = m->seq;
	r->slot[(r->head + r->n) % r->cap] = m;
	r->n++;
	r->bytes += m->len;
	r->next = m->seq + 1;
	return 0;
}

struct msg *
ring_get(const struct ring *r, uint64_t seq)
{
	if (r->n == 0 || seq < r->first || seq >= r->first + r->n)
		return NULL;
	return r->slot[(r->head + (seq - r->first)) % r->cap];
}

/*
 * A hash of an id, eight bytes at a time (ids are mostly 36-byte UUIDs):
 * a multiply-and-fold per word, then a final mix.  Not for adversaries:
 * ids come from our own user's programs, and probing is bounded by the
 * table's load, not by the hash's quality alone.
 */
static uint64_t
idtab_hash(const char *s)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	size_t len = strlen(s), i;
	uint64_t h = len * k, w;

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

static int
idtab_resize(struct idtab *t, size_t ncap)
{
	struct idslot *old = t->slot, *ns;
	size_t ocap = t->cap, i, j;

	if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
		return -1;
	for (i = 0; i < ocap; i++) {
		if (old[i].m == NULL)
			continue;
		j = old[i].hash & (ncap - 1);
		while (ns[j].m != NULL)
			j = (j + 1) & (ncap - 1);
		ns[j] = old[i];
	}
	free(old);
	t->slot = ns;
	t->cap = ncap;
	return 0;
}

/* Index m by its id; grows at half load.  -1 when out of memory. */
static int
idtab_put(struct idtab *t, struct msg *m)
{
	uint64_t h = idtab_hash(m->id);
	size_t j;

	if ((t->n + 1) * 2 > t->cap &&
	    idtab_resize(t, t->cap ? t->cap * 2 : IDTAB_MIN) == -1)
		return -1;
	j = h & (t->cap - 1);
	while (t->slot[j].m != NULL)
		j = (j + 1) & (t->cap - 1);
	t->slot[j].hash = h;
	t->slot[j].m = m;
	t->n++;
	return 0;
}

/*
 * Remove m (found by identity).  Linear probing with backward-shift
 * deletion keeps lookups free of tombstones.
 */
static void
idtab_del(struct idtab *t, const struct msg *m)
{
	size_t i, j, k, mask = t->cap - 1;

	if (t->cap == 0)
		return;
	i = idtab_hash(m->id) & mask;
	while (t->slot[i].m != NULL && t->slot[i].m != m)
		i = (i + 1) & mask;
	if (t->slot[i].m == NULL)
		return;
	t->slot[i].m = NULL;
	t->n--;
	for (j = (i + 1) & mask; t->slot[j].m != NULL; j = (j + 1) & mask) {
		k = t->slot[j].hash & mask;
		/* Move slot j back to i unless its home lies in (i, j]. */
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			t->slot[i] = t->slot[j];
			t->slot[j].m = NULL;
			i = j;
		}
	}
	if (t->cap > IDTAB_MIN && t->n * 8 < t->cap)
		(void)idtab_resize(t, t->cap / 2);
}

struct msg *
ring_find_id(const struct ring *r, const char *id)
{
	const struct idtab *t = &r->ids;
	uint64_t h;
	size_t j;

	if (t->cap == 0)
		return NULL;
	h = idtab_hash(id);
	j = h & (t->cap - 1);
	for (; t->slot[j].m != NULL; j = (j + 1) & (t->cap - 1))
		if (t->slot[j].hash == h && strcmp(t->slot[j].m->id, id) == 0)
			return t->slot[j].m;
	return NULL;
}
