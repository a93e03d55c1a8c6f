/*
 * t_stdfds.c: ev_stdfds_open puts /dev/null, read-write and inherited, on
 * each of descriptors 0, 1 and 2 that is closed, reports which were, and
 * leaves open ones alone.  Each case runs in a child with some of them
 * closed; the child answers through a pipe (its stdout may be closed).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "tap.h"

struct answer {
	int	closed;		/* what ev_stdfds_open returned */
	int	devnull;	/* bits: descriptor n is /dev/null */
	int	rdwr;		/* bits: descriptor n is O_RDWR */
	int	cloexec;	/* bits: descriptor n is close-on-exec */
	int	next;		/* what the next open(2) returned */
	int	same_pipe;	/* the descriptors left open were untouched */
};

/* Is fd the null device? */
static int
is_devnull(int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 &&
	    S_ISCHR(a.st_mode) && a.st_rdev == b.st_rdev;
}

/*
 * Run ev_stdfds_open in a child that first closes the descriptors in
 * mask and points the others at a pipe of its own.
 */
static struct answer
run_case(int mask)
{
	struct answer a;
	struct stat st;
	int rep[2], mine[2], fd, status;
	pid_t pid;

	memset(&a, 0, sizeof(a));
	a.closed = -2;
	fflush(stdout);
	if (pipe2(rep, O_CLOEXEC) == -1 || pipe(mine) == -1)
		abort();
	if ((pid = fork()) == -1)
		abort();
	if (pid == 0) {
		ino_t ino;

		/* Open ones: mine[1], recognizable afterwards. */
		if (fstat(mine[1], &st) == -1)
			_exit(2);
		ino = st.st_ino;
		for (fd = 0; fd <= 2; fd++)
			if (mask & (1 << fd))
				close(fd);
			else if (dup2(mine[1], fd) == -1)
				_exit(2);
		a.closed = ev_stdfds_open();
		a.same_pipe = 1;
		for (fd = 0; fd <= 2; fd++) {
			int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

			if (is_devnull(fd))
				a.devnull |= 1 << fd;
			if (fl != -1 && (fl & O_ACCMODE) == O_RDWR)
				a.rdwr |= 1 << fd;
			if (fdfl != -1 && (fdfl & FD_CLOEXEC))
				a.cloexec |= 1 << fd;
			if (!(mask & (1 << fd)) && (fstat(fd, &st) == -1 ||
			    st.st_ino != ino))
				a.same_pipe = 0;
		}
		a.next = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (write(rep[1], &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(2);
		_exit(0);
	}
	close(rep[1]);
	close(mine[0]);
	close(mine[1]);
	if (read(rep[0], &a, sizeof(a)) != (ssize_t)sizeof(a))
		a.closed = -2;
	close(rep[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return a;
}

int
main(void)
{
	int mask;
	struct answer a;

	for (mask = 0; mask <= 7; mask++) {
		a = run_case(mask);
		is_int(a.closed, mask, "closed %s%s%s%s: reported",
		    mask & 1 ? "0 " : "", mask & 2 ? "1 " : "",
		    mask & 4 ? "2 " : "", mask == 0 ? "none" : "");
		is_int(a.devnull, mask, "  /dev/null on exactly those");
		is_int(a.rdwr & mask, mask, "  opened read-write");
		is_int(a.cloexec & mask, 0, "  not close-on-exec");
		ok(a.same_pipe, "  the open ones untouched");
		ok(a.next >= 3, "  the next open gets %d, above 2", a.next);
	}
	return tap_done();
}
