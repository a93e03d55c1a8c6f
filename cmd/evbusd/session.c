/*
 * session.c: producer sessions (feature "session"), as Kafka's idempotent
 * producer has them.  A publisher names a random session in HELLO
 * (session=<16 hex digits>) and numbers its events 1, 2, ... (PUB n s=K);
 * it keeps the session across its reconnects.  The bus keeps, per
 * session, the seq each of the last EV_SESSION_WINDOW numbers was
 * committed as, so that an event sent again after a reconnect is known
 * for a duplicate in O(1), without hashing its id, and acknowledged with
 * the seq its first copy got.  Sessions with no connection are kept, the
 * SESSION_IDLE_MAX most recently left, for the publisher to come back to.
 */
#include <sys/queue.h>
#include <sys/tree.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evbusd.h"

#define SESSION_IDLE_MAX	256
#define SESSION_MINCAP		16

struct sent {
	uint64_t	 k;		/* 0: none */
	uint64_t	 seq;
};

struct session {
	RB_ENTRY(session) node;
	TAILQ_ENTRY(session) idle;	/* when no connection has it */
	uint64_t	 id;
	uint64_t	 high;		/* highest number committed, 0: none */
	struct sent	*sent;		/* sent[k & (cap - 1)] */
	size_t		 cap;		/* a power of two, or 0 */
	size_t		 nconns;
};

RB_HEAD(sessiontree, session);
TAILQ_HEAD(sessionidle, session);

struct session_tab {
	struct sessiontree all;
	struct sessionidle idle;	/* oldest first */
	size_t		 nidle;
};

static int	session_cmp(const struct session *, const struct session *);
static void	session_free(struct session_tab *, struct session *);
static int	session_grow(struct session *);

RB_PROTOTYPE(sessiontree, session, node, session_cmp)
RB_GENERATE(sessiontree, session, node, session_cmp)

static int
session_cmp(const struct session *a, const struct session *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Parse 16 lower- or upper-case hex digits; -1 if s is not that. */
static int
session_hex(const char *s, uint64_t *id)
{
	uint64_t v = 0;
	int i, d;

	for (i = 0; i < 16; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (s[16] != '\0')
		return -1;
	*id = v;
	return 0;
}

/*
 * Give c the session named by hex (16 hex digits), found or made.
 * -1 with errno EINVAL (not 16 hex digits) or ENOMEM.  Cost: a tree
 * lookup.
 */
int
session_attach(struct evbusd *b, struct conn *c, const char *hex)
{
	struct session_tab *t = b->sessions;
	struct session key, *s;

	if (session_hex(hex, &key.id) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL)
			return -1;
		RB_INIT(&t->all);
		TAILQ_INIT(&t->idle);
		b->sessions = t;
	}
	if (c->sess != NULL)
		session_detach(b, c);
	if ((s = RB_FIND(sessiontree, &t->all, &key)) != NULL) {
		if (s->nconns == 0) {
			TAILQ_REMOVE(&t->idle, s, idle);
			t->nidle--;
		}
	} else {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->id = key.id;
		RB_INSERT(sessiontree, &t->all, s);
	}
	s->nconns++;
	c->sess = s;
	return 0;
}

static void
session_free(struct session_tab *t, struct session *s)
{
	RB_REMOVE(sessiontree, &t->all, s);
	free(s->sent);
	free(s);
}

/*
 * c leaves its session (if any); a session left by all its connections
 * is kept among the idle ones, the oldest of which is forgotten when
 * there are more than SESSION_IDLE_MAX.
 */
void
session_detach(struct evbusd *b, struct conn *c)
{
	struct session_tab *t = b->sessions;
	struct session *s = c->sess, *old;

	if (s == NULL)
		return;
	c->sess = NULL;
	if (--s->nconns > 0)
		return;
	TAILQ_INSERT_TAIL(&t->idle, s, idle);
	if (++t->nidle > SESSION_IDLE_MAX) {
		old = TAILQ_FIRST(&t->idle);
		TAILQ_REMOVE(&t->idle, old, idle);
		t->nidle--;
		session_free(t, old);
	}
}

/* Forget every session (the bus stops; connections are gone). */
void
session_free_all(struct evbusd *b)
{
	struct session_tab *t = b->sessions;
	struct session *s, *n;

	if (t == NULL)
		return;
	RB_FOREACH_SAFE(s, sessiontree, &t->all, n)
		session_free(t, s);
	free(t);
	b->sessions = NULL;
}

/*
 * The seq that number k of session s was committed as, or 0 when it was
 * not (or is older than the window, which a publisher never sends
 * again).  O(1).
 */
uint64_t
session_seq(const struct session *s, uint64_t k)
{
	const struct sent *e;

	if (s == NULL || k == 0 || k > s->high || s->cap == 0)
		return 0;
	e = &s->sent[k & (s->cap - 1)];
	return e->k == k ? e->seq : 0;
}

/* Double the window (up to EV_SESSION_WINDOW); -1 with errno ENOMEM. */
static int
session_grow(struct session *s)
{
	size_t ncap = s->cap != 0 ? s->cap * 2 : SESSION_MINCAP, i;
	struct sent *ns;

	if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
		return -1;
	for (i = 0; i < s->cap; i++)
		if (s->sent[i].k != 0)
			ns[s->sent[i].k & (ncap - 1)] = s->sent[i];
	free(s->sent);
	s->sent = ns;
	s->cap = ncap;
	return 0;
}

/*
 * Record that number k of s was committed as seq.  -1 with errno ENOMEM
 * (then a copy sent again is not recognised: published again).
 * Cost: O(1) amortized; the window grows by doubling to at most
 * EV_SESSION_WINDOW entries (64 KiB).
 */
int
session_commit(struct session *s, uint64_t k, uint64_t seq)
{
	while (s->cap < EV_SESSION_WINDOW && k >= s->cap)
		if (session_grow(s) == -1)
			return -1;
	s->sent[k & (s->cap - 1)].k = k;
	s->sent[k & (s->cap - 1)].seq = seq;
	if (k > s->high)
		s->high = k;
	return 0;
}
