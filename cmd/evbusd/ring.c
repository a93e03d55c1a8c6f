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
	char head[32];
	size_t hlen, idlen = strlen(info->id), flen;
	struct msg *m;
	char *p;

	hlen = (size_t)snprintf(head, sizeof(head), "EVENT %zu\n", len);
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
	memcpy(p, head, hlen);
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

/* FNV-1a over the id's bytes. */
static uint64_t
idtab_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int
idtab_resize(struct idtab *t, size_t ncap)
{
	struct msg **old = t->slot;
	size_t ocap = t->cap, i, j;

	if ((t->slot = calloc(ncap, sizeof(*t->slot))) == NULL) {
		t->slot = old;
		return -1;
	}
	t->cap = ncap;
	for (i = 0; i < ocap; i++) {
		if (old[i] == NULL)
			continue;
		j = idtab_hash(old[i]->id) & (ncap - 1);
		while (t->slot[j] != NULL)
			j = (j + 1) & (ncap - 1);
		t->slot[j] = old[i];
	}
	free(old);
	return 0;
}

/* Index m by its id; grows at half load.  -1 when out of memory. */
static int
idtab_put(struct idtab *t, struct msg *m)
{
	size_t j;

	if ((t->n + 1) * 2 > t->cap &&
	    idtab_resize(t, t->cap ? t->cap * 2 : IDTAB_MIN) == -1)
		return -1;
	j = idtab_hash(m->id) & (t->cap - 1);
	while (t->slot[j] != NULL)
		j = (j + 1) & (t->cap - 1);
	t->slot[j] = m;
	t->n++;
	return 0;
}

/*
 * Remove m (by identity, not by id: two events may share an id when the
 * second one came after the first was evicted... then both are indexed).
 * Linear probing with backward-shift deletion keeps lookups tombstone-free.
 */
static void
idtab_del(struct idtab *t, const struct msg *m)
{
	size_t i, j, k, mask = t->cap - 1;

	if (t->cap == 0)
		return;
	i = idtab_hash(m->id) & mask;
	while (t->slot[i] != NULL && t->slot[i] != m)
		i = (i + 1) & mask;
	if (t->slot[i] == NULL)
		return;
	t->slot[i] = NULL;
	t->n--;
	for (j = (i + 1) & mask; t->slot[j] != NULL; j = (j + 1) & mask) {
		k = idtab_hash(t->slot[j]->id) & mask;
		/* Move slot j back to i unless its home lies in (i, j]. */
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			t->slot[i] = t->slot[j];
			t->slot[j] = NULL;
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
	size_t j;

	if (t->cap == 0)
		return NULL;
	j = idtab_hash(id) & (t->cap - 1);
	for (; t->slot[j] != NULL; j = (j + 1) & (t->cap - 1))
		if (strcmp(t->slot[j]->id, id) == 0)
			return t->slot[j];
	return NULL;
}
