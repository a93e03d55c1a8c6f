/*
 * loop.c: a small poll(2) loop: descriptors with read and write callbacks,
 * one-shot timers on CLOCK_MONOTONIC, children watched through pidfds.
 * The contract (what a callback may do, in which order things run) is
 * written above the declarations in evbus.h.
 */
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

static struct ev_loopfd	*loop_find(struct ev_loop *, int);
static int	loop_append(struct ev_loop *, struct ev_err *);
static void	loop_remove(struct ev_loop *, size_t);
static void	loop_compact(struct ev_loop *);
static bool	timer_before(const struct ev_looptimer *,
		    const struct ev_looptimer *);
static void	timer_up(struct ev_loop *, size_t);
static void	timer_down(struct ev_loop *, size_t);
static void	timer_take(struct ev_loop *, size_t);
static void	loop_child_ready(struct ev_loop *, size_t);

void
ev_loop_init(struct ev_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->nextid = 1;
}

void
ev_loop_free(struct ev_loop *l)
{
	size_t i;

	for (i = 0; i < l->nfds; i++)
		if (l->fds[i].fd != -1 && l->fds[i].pid != 0)
			close(l->fds[i].fd);
	free(l->fds);
	free(l->pfd);
	free(l->timers);
	ev_loop_init(l);
}

/* The live registration of fd, or NULL. */
static struct ev_loopfd *
loop_find(struct ev_loop *l, int fd)
{
	size_t i;

	if (fd < 0)
		return NULL;
	for (i = 0; i < l->nfds; i++)
		if (l->fds[i].fd == fd)
			return &l->fds[i];
	return NULL;
}

/*
 * Room for one more registration at fds[nfds] (zeroed), and for the poll
 * set to hold them all.  Growing fds while callbacks run is fine: the
 * dispatch goes by index, never by a pointer kept across a callback.
 */
static int
loop_append(struct ev_loop *l, struct ev_err *err)
{
	struct ev_loopfd *nf;
	struct pollfd *np;
	size_t ncap;

	if (l->nfds == l->fdcap) {
		ncap = l->fdcap ? l->fdcap * 2 : 8;
		if ((nf = reallocarray(l->fds, ncap, sizeof(*nf))) == NULL)
			return ev_err_sys(err, "event loop");
		l->fds = nf;
		l->fdcap = ncap;
	}
	if (l->pfdcap < l->fdcap) {
		if ((np = reallocarray(l->pfd, l->fdcap, sizeof(*np))) == NULL)
			return ev_err_sys(err, "event loop");
		l->pfd = np;
		l->pfdcap = l->fdcap;
	}
	memset(&l->fds[l->nfds], 0, sizeof(l->fds[0]));
	return 0;
}

/*
 * Forget registration i.  While callbacks run it only becomes a hole
 * (fd -1), so that the indexes of this turn's poll set stay right and a
 * descriptor number reused by a new registration in the same turn is not
 * handed the old one's readiness; holes are dropped after the turn.
 */
static void
loop_remove(struct ev_loop *l, size_t i)
{
	l->fds[i].fd = -1;
	l->holes = true;
	if (l->depth == 0)
		loop_compact(l);
}

static void
loop_compact(struct ev_loop *l)
{
	size_t i, j;

	for (i = j = 0; i < l->nfds; i++)
		if (l->fds[i].fd != -1)
			l->fds[j++] = l->fds[i];
	l->nfds = j;
	l->holes = false;
}

int
ev_loop_fd_add(struct ev_loop *l, int fd, int mask, ev_loop_fd_fn *rfn,
    ev_loop_fd_fn *wfn, void *arg, struct ev_err *err)
{
	struct ev_loopfd *f;

	if (fd < 0 || (mask & ~(EV_LOOP_READ | EV_LOOP_WRITE)) != 0)
		return ev_err_set(err, EV_ERR_DATA,
		    "event loop: bad descriptor %d or mask %#x", fd, mask);
	if ((f = loop_find(l, fd)) != NULL && f->pid != 0)
		return ev_err_set(err, EV_ERR_DATA,
		    "event loop: descriptor %d watches a child", fd);
	if (f == NULL) {
		if (loop_append(l, err) == -1)
			return -1;
		f = &l->fds[l->nfds++];
	}
	f->fd = fd;
	f->mask = mask;
	f->rfn = rfn;
	f->wfn = wfn;
	f->arg = arg;
	return 0;
}

int
ev_loop_fd_mask(struct ev_loop *l, int fd, int mask)
{
	struct ev_loopfd *f;

	if ((f = loop_find(l, fd)) == NULL || f->pid != 0) {
		errno = ENOENT;
		return -1;
	}
	f->mask = mask & (EV_LOOP_READ | EV_LOOP_WRITE);
	return 0;
}

void
ev_loop_fd_del(struct ev_loop *l, int fd)
{
	struct ev_loopfd *f;

	if (fd >= 0 && (f = loop_find(l, fd)) != NULL && f->pid == 0)
		loop_remove(l, (size_t)(f - l->fds));
}

/* --- timers: a binary min-heap ordered by (when, id) ----------------- */

static bool
timer_before(const struct ev_looptimer *a, const struct ev_looptimer *b)
{
	return a->when < b->when || (a->when == b->when && a->id < b->id);
}

static void
timer_up(struct ev_loop *l, size_t i)
{
	struct ev_looptimer t = l->timers[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!timer_before(&t, &l->timers[parent]))
			break;
		l->timers[i] = l->timers[parent];
		i = parent;
	}
	l->timers[i] = t;
}

static void
timer_down(struct ev_loop *l, size_t i)
{
	struct ev_looptimer t = l->timers[i];
	size_t child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= l->ntimers)
			break;
		if (child + 1 < l->ntimers &&
		    timer_before(&l->timers[child + 1], &l->timers[child]))
			child++;
		if (!timer_before(&l->timers[child], &t))
			break;
		l->timers[i] = l->timers[child];
		i = child;
	}
	l->timers[i] = t;
}

/* Remove the timer at heap position i. */
static void
timer_take(struct ev_loop *l, size_t i)
{
	if (--l->ntimers == i)
		return;
	l->timers[i] = l->timers[l->ntimers];
	if (i > 0 && timer_before(&l->timers[i], &l->timers[(i - 1) / 2]))
		timer_up(l, i);
	else
		timer_down(l, i);
}

/*
 * Cost: O(log n) for the heap, plus an amortized copy when it grows.
 */
uint64_t
ev_loop_timer_add(struct ev_loop *l, int64_t ms, ev_loop_timer_fn *fn,
    void *arg)
{
	struct ev_looptimer *nt;
	uint64_t id;
	size_t ncap;

	if (l->ntimers == l->timercap) {
		ncap = l->timercap ? l->timercap * 2 : 8;
		if ((nt = reallocarray(l->timers, ncap, sizeof(*nt))) == NULL) {
			errno = ENOMEM;
			return 0;
		}
		l->timers = nt;
		l->timercap = ncap;
	}
	id = l->nextid++;
	nt = &l->timers[l->ntimers++];
	nt->when = ev_mono_ms() + (ms > 0 ? ms : 0);
	nt->id = id;
	nt->fn = fn;
	nt->arg = arg;
	timer_up(l, l->ntimers - 1);
	return id;
}

/* Cost: a linear search for the id, then O(log n). */
bool
ev_loop_timer_del(struct ev_loop *l, uint64_t id)
{
	size_t i;

	if (id == 0)
		return false;
	for (i = 0; i < l->ntimers; i++)
		if (l->timers[i].id == id) {
			timer_take(l, i);
			return true;
		}
	return false;
}

/* --- children -------------------------------------------------------- */

int
ev_loop_child_add(struct ev_loop *l, pid_t pid, ev_loop_child_fn *fn,
    void *arg, struct ev_err *err)
{
	struct ev_loopfd *f;
	long fd;

	if (pid <= 0)
		return ev_err_set(err, EV_ERR_DATA,
		    "event loop: bad process id %ld", (long)pid);
	if (loop_append(l, err) == -1)
		return -1;
	/* A pidfd is close-on-exec; it polls readable once pid has exited. */
	if ((fd = syscall(SYS_pidfd_open, pid, 0)) == -1)
		return ev_err_sys(err, "cannot watch process %ld", (long)pid);
	f = &l->fds[l->nfds++];
	f->fd = (int)fd;
	f->mask = EV_LOOP_READ;
	f->pid = pid;
	f->cfn = fn;
	f->arg = arg;
	return 0;
}

void
ev_loop_child_del(struct ev_loop *l, pid_t pid)
{
	size_t i;

	for (i = 0; i < l->nfds; i++)
		if (l->fds[i].fd != -1 && l->fds[i].pid == pid) {
			close(l->fds[i].fd);
			loop_remove(l, i);
			return;
		}
}

/* Registration i is a child whose pidfd is readable: reap, report. */
static void
loop_child_ready(struct ev_loop *l, size_t i)
{
	struct ev_loopfd f = l->fds[i];
	int status;
	pid_t r;

	while ((r = waitpid(f.pid, &status, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r == 0)
		return;			/* not exited after all */
	if (r == -1)
		status = -1;		/* reaped by someone else */
	close(f.fd);
	loop_remove(l, i);
	if (f.cfn != NULL)
		f.cfn(l, f.pid, status, f.arg);
}

/* --- turns ----------------------------------------------------------- */

/*
 * Cost: building the poll set and dispatching are linear in the
 * registrations; each due timer costs O(log n).
 */
int
ev_loop_once(struct ev_loop *l, int64_t max_ms, struct ev_err *err)
{
	struct ev_loopfd *f;
	struct pollfd *p;
	uint64_t limit = l->nextid;
	int64_t timeout = max_ms, due, now;
	size_t i, npoll;
	short re;
	int n, called = 0, badfd = -1;

	for (i = npoll = 0; i < l->nfds; i++) {
		p = &l->pfd[npoll++];
		p->fd = l->fds[i].fd;
		p->events = (l->fds[i].mask & EV_LOOP_READ ? POLLIN : 0) |
		    (l->fds[i].mask & EV_LOOP_WRITE ? POLLOUT : 0);
		p->revents = 0;
	}
	if (l->ntimers > 0) {
		due = l->timers[0].when - ev_mono_ms();
		if (due < 0)
			due = 0;
		if (timeout < 0 || due < timeout)
			timeout = due;
	}
	if (timeout > INT_MAX)
		timeout = INT_MAX;
	n = poll(l->pfd, npoll, timeout < 0 ? -1 : (int)timeout);
	if (n == -1) {
		if (errno != EINTR)
			return ev_err_sys(err, "poll");
		n = 0;
	}
	l->stop = false;
	l->depth++;
	/* npoll, not nfds: registrations added by callbacks wait a turn. */
	for (i = 0; n > 0 && i < npoll && !l->stop; i++) {
		if ((re = l->pfd[i].revents) == 0)
			continue;
		f = &l->fds[i];
		if (f->fd != l->pfd[i].fd)
			continue;		/* removed in this turn */
		if (re & POLLNVAL) {
			badfd = f->fd;
			if (f->pid == 0)
				loop_remove(l, i);
			continue;
		}
		if (f->pid != 0) {
			loop_child_ready(l, i);
			called++;
			continue;
		}
		if ((re & (POLLIN | POLLHUP | POLLERR)) &&
		    (f->mask & EV_LOOP_READ) && f->rfn != NULL) {
			f->rfn(l, f->fd, f->arg);
			called++;
			f = &l->fds[i];		/* fds may have moved */
			if (f->fd != l->pfd[i].fd || l->stop)
				continue;
		}
		if ((re & (POLLOUT | POLLHUP | POLLERR)) &&
		    (f->mask & EV_LOOP_WRITE) && f->wfn != NULL) {
			f->wfn(l, f->fd, f->arg);
			called++;
		}
	}
	now = ev_mono_ms();
	while (!l->stop && l->ntimers > 0 && l->timers[0].when <= now &&
	    l->timers[0].id < limit) {
		struct ev_looptimer t = l->timers[0];

		timer_take(l, 0);
		t.fn(l, t.id, t.arg);
		called++;
	}
	if (--l->depth == 0 && l->holes)
		loop_compact(l);
	if (badfd != -1) {
		errno = EBADF;
		return ev_err_sys(err, "event loop: descriptor %d was closed "
		    "while registered", badfd);
	}
	return called;
}

int
ev_loop_run(struct ev_loop *l, struct ev_err *err)
{
	for (;;) {
		if (l->nfds == 0 && l->ntimers == 0)
			return 0;
		if (ev_loop_once(l, -1, err) == -1)
			return -1;
		if (l->stop) {
			l->stop = false;
			return 0;
		}
	}
}

void
ev_loop_stop(struct ev_loop *l)
{
	l->stop = true;
}
