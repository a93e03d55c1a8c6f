/*
 * loop.c: the daemon's one loop: epoll, then a service pass over the
 * connections.  Signals are blocked except while epoll waits, and their
 * handler only sets a flag; the loop does the work.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#include "evbusd.h"

#define STOP_FLUSH_MS	2000	/* how long stopping waits for slow readers */
#define LOOP_EVENTS	64

static volatile sig_atomic_t quit_signal;
static volatile sig_atomic_t reload_signal;	/* SIGHUP: read the ACL */

static void
on_signal(int sig)
{
	quit_signal = sig;
}

static void
on_hup(int sig)
{
	(void)sig;
	reload_signal = 1;
}

/*
 * Catch SIGTERM and SIGINT (stop) and SIGHUP (reload the ACL), ignore
 * SIGPIPE, and block the caught ones; *waitmask is what epoll_pwait unblocks.  Called
 * before the socket is made, so that a stop request is never lost.
 */
void
loop_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGHUP);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* What one turn may let into the ring: half of it, by count and bytes. */
static void
loop_budget(struct evbusd *b)
{
	b->budget = b->ringmax / 2 > 0 ? b->ringmax / 2 : 1;
	b->budget_bytes = b->ringmaxbytes / 2;
}

/* What a turn of the loop leaves for the next one. */
struct turn {
	bool	 busy;		/* output still queued (blocked or not) */
	bool	 again;		/* work to do at once: do not sleep */
	int64_t	 deadline;	/* the nearest handshake deadline, or -1 */
};

/*
 * One turn of work after epoll.  What came in is committed, and the
 * acknowledgements that waited for it released.  Then the subscribers are
 * written to (an event's latency is what they wait for; a publisher's
 * acknowledgement can wait for them); only then may the next half-ring of
 * events come in.  Then every connection: hang up on a slow handshake,
 * write what it has coming, resume a publisher that was stalled, close
 * what is done.
 * Cost: two walks over the connections; sleeping needs no third.
 */
static void
loop_service(struct evbusd *b, struct turn *t)
{
	struct conn *c;
	int64_t now = ev_mono_ms();
	uint64_t next;

	bus_commit(b);
	bus_tick(b, now);
	TAILQ_FOREACH(c, &b->conns, entry)
		if (c->sub && conn_pending(b, c))
			conn_flush(b, c);
	loop_budget(b);
	next = ev_ring_next(&b->ring);
	t->busy = t->again = false;
	t->deadline = -1;
	TAILQ_FOREACH(c, &b->conns, entry) {
		if (c->dead)
			continue;
		conn_release(b, c);
		if (c->state == CONN_HELLO && now >= c->deadline) {
			if (conn_error(c, "limit", "handshake not completed "
			    "within %" PRId64 " ms", b->handshake_ms) == -1) {
				conn_close(b, c, "handshake timeout");
				continue;
			}
			c->state = CONN_CLOSING;
			c->eof = true;
		}
		if (conn_pending(b, c) && conn_flush(b, c) == -1)
			continue;
		conn_resume(b, c);
		if (c->state == CONN_CLOSING && c->partial == NULL &&
		    ev_buf_unread(&c->out) == 0 && !c->dead)
			conn_close(b, c, c->eof ? "closed" : "quit");
		else
			conn_watch(b, c);
		if (c->dead)
			continue;
		if (conn_pending(b, c) || conn_resumable(c))
			t->again = t->busy = true;
		else if (c->blocked || c->nhold > 0)
			t->busy = true;
		/* With a store, the fsync's descriptor or timer wakes us. */
		if (c->nhold > 0 && b->store == NULL)
			t->again = true;
		if (c->state == CONN_HELLO &&
		    (t->deadline == -1 || c->deadline < t->deadline))
			t->deadline = c->deadline;
	}
	/* Events that came in during the walk are for the next turn. */
	if (ev_ring_next(&b->ring) != next)
		t->again = t->busy = true;
	/* --store: events not yet durable keep a stopping bus going. */
	if (store_busy(b))
		t->busy = true;
}

/* How long epoll may sleep: 0 with work left, else to the nearest deadline. */
static int
loop_timeout(const struct turn *t, int64_t stop_deadline)
{
	int64_t next = t->deadline, now;

	if (t->again)
		return 0;
	if (stop_deadline != -1 && (next == -1 || stop_deadline < next))
		next = stop_deadline;
	if (next == -1)
		return -1;
	now = ev_mono_ms();
	return next > now ? (int)(next - now) : 0;
}

/* A signal asked us to stop: stop listening, say so, flush what we can. */
static void
loop_stop(struct evbusd *b)
{
	struct conn *c;

	log_info("stopping on signal %d", (int)quit_signal);
	b->stopping = true;
	listener_close(b);
	bus_announce(b, "evbus.stopping", quit_signal == SIGINT ?
	    "{\"reason\":\"SIGINT\"}" : "{\"reason\":\"SIGTERM\"}");
	TAILQ_FOREACH(c, &b->conns, entry)
		conn_watch(b, c);
}

/*
 * Run until a signal stops the bus and its subscribers are flushed (or
 * STOP_FLUSH_MS has passed).  Returns then; the caller cleans up.
 */
void
loop_run(struct evbusd *b, const sigset_t *waitmask)
{
	struct epoll_event evs[LOOP_EVENTS];
	struct turn t = { .deadline = -1 };
	int64_t stop_deadline = -1;
	struct conn *c;
	int i, n;

	loop_budget(b);
	for (;;) {
		n = epoll_pwait(b->epfd, evs, LOOP_EVENTS, store_timeout(b,
		    loop_timeout(&t, stop_deadline)), waitmask);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				listener_accept(b);
				continue;
			}
			/* --store: an fsync finished; bus_commit collects it. */
			if (evs[i].data.ptr == &b->store)
				continue;
			c = evs[i].data.ptr;
			if (c->dead)
				continue;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				c->blocked = false;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP) &&
			    !b->stopping)
				conn_read(b, c);
		}
		if (reload_signal != 0 && !b->stopping) {
			reload_signal = 0;
			acl_reload(b);
		}
		if (quit_signal != 0 && !b->stopping) {
			loop_stop(b);
			stop_deadline = ev_mono_ms() + STOP_FLUSH_MS;
		}
		loop_service(b, &t);
		/* A descriptor was freed: accept again if we had paused. */
		if (conn_reap(b) > 0 && !b->accepting && !b->stopping)
			listener_pause(b, false);
		if (b->stopping && (!t.busy || ev_mono_ms() >= stop_deadline))
			return;
	}
}
