/*
 * stdfds.c: make sure descriptors 0, 1 and 2 are open before anything else
 * is, so that no socket or file becomes a program's standard input or
 * output by accident.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "evbus.h"

int
ev_stdfds_open(void)
{
	int fd, nfd, closed = 0, saved;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* Not close-on-exec: a standard descriptor is inherited. */
		if ((nfd = open("/dev/null", O_RDWR)) == -1)
			return -1;
		/* The lowest free descriptor is fd: those below are open. */
		if (nfd != fd) {
			if (dup2(nfd, fd) == -1) {
				saved = errno;
				close(nfd);
				errno = saved;
				return -1;
			}
			close(nfd);
		}
		closed |= 1 << fd;
	}
	return closed;
}
