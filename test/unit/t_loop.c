/*
 * t_loop.c: the poll loop: timers fire in (time, creation) order and not
 * early; a deleted timer never fires; a timer added by a timer waits a
 * turn; descriptors' read and write callbacks; removal of a descriptor by
 * another's callback, and of one whose readiness was already seen, even
 * when its number is reused at once; run ends when nothing is left or on
 * stop; a child's exit status; a descriptor closed while registered.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "tap.h"

/* What the callbacks saw, in order: one letter per call. */
static char trace[64];
static size_t ntrace;

static void
mark(char c)
{
	if (ntrace + 1 < sizeof(trace))
		trace[ntrace++] = c;
	trace[ntrace] = '\0';
}

static void
reset(void)
{
	ntrace = 0;
	trace[0] = '\0';
}

static void
on_timer(struct ev_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	mark(*(const char *)arg);
}

static void
test_timer_order(void)
{
	struct ev_loop l;
	struct ev_err err;
	int64_t t0;

	ev_loop_init(&l);
	reset();
	t0 = ev_mono_ms();
	ok(ev_loop_timer_add(&l, 60, on_timer, "d") != 0, "add 60 ms");
	ok(ev_loop_timer_add(&l, 20, on_timer, "a") != 0, "add 20 ms");
	ok(ev_loop_timer_add(&l, 40, on_timer, "c") != 0, "add 40 ms");
	ok(ev_loop_timer_add(&l, 20, on_timer, "b") != 0, "add 20 ms again");
	ok(ev_loop_timer_add(&l, 0, on_timer, "0") != 0, "add 0 ms");
	is_int(ev_loop_run(&l, &err), 0, "run until no timer is left");
	is_str(trace, "0abcd", "timers fire by time, ties in order added");
	ok(ev_mono_ms() - t0 >= 60, "and not before their time");
	is_int(l.ntimers, 0, "none left");
	ev_loop_free(&l);
}

/* A larger shuffle: the heap keeps the order for many timers. */
static void
test_timer_many(void)
{
	static char names[40];
	struct ev_loop l;
	struct ev_err err;
	int i, bad = 0;

	ev_loop_init(&l);
	reset();
	for (i = 0; i < 40; i++) {
		names[i] = (char)('A' + i);
		/*
		 * 40 timers at 0..180 ms, in an order unlike their times,
		 * 20 ms apart so that the time taken to add them (under
		 * valgrind too) does not reorder them.
		 */
		if (ev_loop_timer_add(&l, (i * 7) % 10 * 20, on_timer,
		    &names[i]) == 0)
			bad++;
	}
	is_int(bad, 0, "40 timers added");
	ev_loop_run(&l, &err);
	for (i = 1; i < 40 && i < (int)ntrace; i++) {
		int a = trace[i - 1] - 'A', b = trace[i] - 'A';

		if ((a * 7) % 10 > (b * 7) % 10 ||
		    ((a * 7) % 10 == (b * 7) % 10 && a > b))
			bad++;
	}
	is_int(ntrace, 40, "all 40 fired");
	is_int(bad, 0, "in (time, creation) order");
	ev_loop_free(&l);
}

struct deleter {
	struct ev_loop	*l;
	uint64_t	 victim;
	bool		 deleted;
};

static void
on_delete(struct ev_loop *l, uint64_t id, void *arg)
{
	struct deleter *d = arg;

	(void)l;
	(void)id;
	mark('x');
	d->deleted = ev_loop_timer_del(d->l, d->victim);
}

static void
on_readd(struct ev_loop *l, uint64_t id, void *arg)
{
	(void)id;
	mark('r');
	if (*(int *)arg > 0) {
		(*(int *)arg)--;
		ev_loop_timer_add(l, 0, on_readd, arg);
	}
}

static void
test_timer_delete(void)
{
	struct ev_loop l;
	struct ev_err err;
	struct deleter d = { &l, 0, false };
	uint64_t id;
	int again = 2;

	ev_loop_init(&l);
	reset();
	id = ev_loop_timer_add(&l, 0, on_timer, "n");
	ok(ev_loop_timer_del(&l, id), "delete a pending timer");
	ok(!ev_loop_timer_del(&l, id), "deleting it again: not pending");
	ok(!ev_loop_timer_del(&l, 0), "id 0 is never a timer");
	is_int(ev_loop_run(&l, &err), 0, "run with nothing left returns");
	is_str(trace, "", "a deleted timer does not fire");

	/* Both due in the same turn; the first deletes the second. */
	reset();
	ev_loop_timer_add(&l, 0, on_delete, &d);
	d.victim = ev_loop_timer_add(&l, 0, on_timer, "v");
	ev_loop_run(&l, &err);
	ok(d.deleted, "a timer deletes another due in the same turn");
	is_str(trace, "x", "the deleted one does not fire");

	/* A timer that adds a 0 ms timer: that one waits for a turn. */
	reset();
	ev_loop_timer_add(&l, 0, on_readd, &again);
	is_int(ev_loop_once(&l, 1000, &err), 1, "one callback in the turn");
	is_str(trace, "r", "the timer it added did not run in its turn");
	is_int(ev_loop_once(&l, 1000, &err), 1, "the next turn runs it");
	ev_loop_run(&l, &err);
	is_str(trace, "rrr", "and so on until it stops adding");
	ev_loop_free(&l);
}

/* --- descriptors ------------------------------------------------------ */

struct pipes {
	struct ev_loop	*l;
	int		 a[2];		/* read end a[0] */
	int		 b[2];
	int		 newfd;		/* made by on_reuse */
};

static void
drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void
on_read_a(struct ev_loop *l, int fd, void *arg)
{
	(void)l;
	(void)arg;
	drain(fd);
	mark('a');
}

static void
on_read_b(struct ev_loop *l, int fd, void *arg)
{
	(void)l;
	(void)arg;
	drain(fd);
	mark('b');
}

/* A's callback removes b, whose readiness was seen in the same turn. */
static void
on_read_a_kills_b(struct ev_loop *l, int fd, void *arg)
{
	struct pipes *p = arg;

	drain(fd);
	mark('a');
	ev_loop_fd_del(l, p->b[0]);
}

/*
 * A's callback removes and closes b, then makes a pipe that gets b's
 * numbers back and registers its read end: this turn saw b readable, but
 * that must not be taken for the new descriptor's readiness.
 */
static void
on_read_a_reuses_b(struct ev_loop *l, int fd, void *arg)
{
	struct pipes *p = arg;
	struct ev_err err;
	int fds[2];

	drain(fd);
	mark('a');
	ev_loop_fd_del(l, p->b[0]);
	close(p->b[0]);
	close(p->b[1]);
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		abort();
	p->b[0] = fds[0];
	p->b[1] = fds[1];
	ev_loop_fd_add(l, fds[0], EV_LOOP_READ, on_read_b, NULL, p, &err);
}

static void
on_read_self_remove(struct ev_loop *l, int fd, void *arg)
{
	(void)arg;
	drain(fd);
	mark('s');
	ev_loop_fd_del(l, fd);
}

static void
on_write(struct ev_loop *l, int fd, void *arg)
{
	(void)fd;
	(void)arg;
	mark('w');
	ev_loop_fd_mask(l, fd, 0);
}

static void
on_stop(struct ev_loop *l, int fd, void *arg)
{
	(void)arg;
	drain(fd);
	mark('S');
	ev_loop_stop(l);
}

static void
pipes_open(struct pipes *p, struct ev_loop *l)
{
	p->l = l;
	if (pipe2(p->a, O_NONBLOCK | O_CLOEXEC) == -1 ||
	    pipe2(p->b, O_NONBLOCK | O_CLOEXEC) == -1)
		abort();
}

static void
pipes_close(struct pipes *p)
{
	close(p->a[0]);
	close(p->a[1]);
	close(p->b[0]);
	close(p->b[1]);
}

static void
test_fds(void)
{
	struct ev_loop l;
	struct ev_err err;
	struct pipes p;
	int oldb;

	ev_loop_init(&l);
	pipes_open(&p, &l);
	reset();
	is_int(ev_loop_fd_add(&l, p.a[0], EV_LOOP_READ, on_read_a, NULL, &p,
	    &err), 0, "register a");
	is_int(ev_loop_fd_add(&l, p.b[0], EV_LOOP_READ, on_read_b, NULL, &p,
	    &err), 0, "register b");
	is_int(ev_loop_fd_add(&l, -1, EV_LOOP_READ, on_read_b, NULL, &p,
	    &err), -1, "a negative descriptor is refused");
	is_int(ev_loop_fd_add(&l, p.a[0], 4, on_read_a, NULL, &p, &err), -1,
	    "an unknown mask bit is refused");
	is_int(ev_loop_once(&l, 0, &err), 0, "nothing ready: no callback");
	write(p.b[1], "x", 1);
	write(p.a[1], "x", 1);
	is_int(ev_loop_once(&l, 1000, &err), 2, "both ready: two callbacks");
	is_str(trace, "ab", "in registration order");

	/* Removal of a descriptor already seen ready in this turn. */
	reset();
	ev_loop_fd_add(&l, p.a[0], EV_LOOP_READ, on_read_a_kills_b, NULL, &p,
	    &err);
	write(p.a[1], "x", 1);
	write(p.b[1], "x", 1);
	is_int(ev_loop_once(&l, 1000, &err), 1, "b removed by a's callback");
	is_str(trace, "a", "b's callback was not called");
	is_int(l.nfds, 1, "one registration left after the turn");
	drain(p.b[0]);

	/* The same, with b's number reused by a new registration. */
	reset();
	ev_loop_fd_add(&l, p.b[0], EV_LOOP_READ, on_read_b, NULL, &p, &err);
	ev_loop_fd_add(&l, p.a[0], EV_LOOP_READ, on_read_a_reuses_b, NULL, &p,
	    &err);
	write(p.a[1], "x", 1);
	write(p.b[1], "x", 1);
	oldb = p.b[0];
	is_int(ev_loop_once(&l, 1000, &err), 1, "a's callback only");
	is_int(p.b[0], oldb, "the new pipe got b's old number");
	is_str(trace, "a", "the new registration is not handed b's readiness");
	is_int(ev_loop_once(&l, 0, &err), 0, "nor in the next turn");
	write(p.b[1], "x", 1);
	ev_loop_once(&l, 1000, &err);
	is_str(trace, "ab", "it is called once its own pipe has data");

	/* A callback that removes its own descriptor. */
	reset();
	ev_loop_fd_del(&l, p.b[0]);
	ev_loop_fd_add(&l, p.a[0], EV_LOOP_READ, on_read_self_remove, NULL,
	    &p, &err);
	write(p.a[1], "x", 1);
	is_int(ev_loop_run(&l, &err), 0,
	    "run ends when the last descriptor removes itself");
	is_str(trace, "s", "it was called once");
	is_int(l.nfds, 0, "nothing registered");

	/* Write interest; the mask without removal. */
	reset();
	ev_loop_fd_add(&l, p.a[1], EV_LOOP_WRITE, NULL, on_write, &p, &err);
	is_int(ev_loop_once(&l, 1000, &err), 1, "a pipe's write end is "
	    "writable");
	is_str(trace, "w", "the write callback ran");
	is_int(ev_loop_once(&l, 0, &err), 0, "mask 0: not called again");
	is_int(ev_loop_fd_mask(&l, p.b[1], EV_LOOP_WRITE), -1,
	    "mask of an unregistered descriptor");
	is_int(errno, ENOENT, "is ENOENT");
	ev_loop_fd_del(&l, p.a[1]);

	/* Stop: the rest of the turn waits for the next run. */
	reset();
	ev_loop_fd_add(&l, p.a[0], EV_LOOP_READ, on_stop, NULL, &p, &err);
	ev_loop_fd_add(&l, p.b[0], EV_LOOP_READ, on_read_b, NULL, &p, &err);
	write(p.a[1], "x", 1);
	write(p.b[1], "x", 1);
	is_int(ev_loop_run(&l, &err), 0, "run returns after stop");
	is_str(trace, "S", "the callback after the stop did not run");
	ev_loop_fd_del(&l, p.a[0]);
	ev_loop_once(&l, 1000, &err);
	is_str(trace, "Sb", "the next turn does");
	ev_loop_fd_del(&l, p.b[0]);

	/* A descriptor closed while registered. */
	ev_loop_fd_add(&l, p.a[0], EV_LOOP_READ, on_read_a, NULL, &p, &err);
	close(p.a[0]);
	is_int(ev_loop_once(&l, 1000, &err), -1, "a closed descriptor fails");
	is_int(err.sys, EBADF, "with EBADF");
	is_int(l.nfds, 0, "and is dropped");
	p.a[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pipes_close(&p);
	ev_loop_free(&l);
}

/* Both kinds in one turn: descriptors first, then timers. */
static void
test_fd_then_timer(void)
{
	struct ev_loop l;
	struct ev_err err;
	struct pipes p;

	ev_loop_init(&l);
	pipes_open(&p, &l);
	reset();
	ev_loop_timer_add(&l, 0, on_timer, "t");
	ev_loop_fd_add(&l, p.a[0], EV_LOOP_READ, on_read_a, NULL, &p, &err);
	write(p.a[1], "x", 1);
	is_int(ev_loop_once(&l, 1000, &err), 2, "a descriptor and a timer");
	is_str(trace, "at", "the descriptor's callback first");
	ev_loop_fd_del(&l, p.a[0]);
	pipes_close(&p);
	ev_loop_free(&l);
}

/* --- children --------------------------------------------------------- */

static pid_t child_pid;
static int child_status;

static void
on_child(struct ev_loop *l, pid_t pid, int status, void *arg)
{
	(void)l;
	(void)arg;
	child_pid = pid;
	child_status = status;
	mark('c');
}

static void
test_child(void)
{
	struct ev_loop l;
	struct ev_err err;
	pid_t pid, other;
	uint64_t guard;
	int64_t t0;

	ev_loop_init(&l);
	reset();
	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(7);
	if (ev_loop_child_add(&l, pid, on_child, NULL, &err) == -1 &&
	    err.sys == ENOSYS) {
		/* valgrind 3.19 does not know pidfd_open. */
		printf("ok %d - watch a child # skip pidfd_open: %s\n",
		    ++tap_n, err.msg);
		waitpid(pid, NULL, 0);
		ev_loop_free(&l);
		return;
	}
	ok(l.nfds == 1, "watch a child");
	guard = ev_loop_timer_add(&l, 10000, on_timer, "T");
	t0 = ev_mono_ms();
	while (child_pid == 0 && ev_mono_ms() - t0 < 10000)
		ev_loop_once(&l, 10000, &err);
	is_int(child_pid, pid, "its exit is reported");
	ok(WIFEXITED(child_status) && WEXITSTATUS(child_status) == 7,
	    "with its status (exit 7)");
	is_int(waitpid(pid, NULL, WNOHANG), -1, "and it was reaped");
	is_int(l.nfds, 0, "the watch is gone");
	ok(ev_loop_timer_del(&l, guard), "before the guard timer");

	/* Deleted: not reported, the caller reaps it. */
	reset();
	fflush(stdout);
	if ((other = fork()) == 0)
		_exit(0);
	ev_loop_child_add(&l, other, on_child, NULL, &err);
	ev_loop_child_del(&l, other);
	is_int(l.nfds, 0, "a deleted watch is gone");
	is_int(waitpid(other, NULL, 0), other, "the caller reaps it");
	is_int(ev_loop_child_add(&l, other, on_child, NULL, &err), -1,
	    "a process that is gone cannot be watched");
	is_int(err.kind, EV_ERR_SYS, "a system error");
	is_str(trace, "", "no callback");
	ev_loop_free(&l);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_timer_order();
	test_timer_many();
	test_timer_delete();
	test_fds();
	test_fd_then_timer();
	test_child();
	return tap_done();
}
