/*
 * listener.c: the listening socket: lock, stale-socket check, bind under a
 * tight umask, accept with the peer's credentials.
 */
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evbusd.h"

/* Is somebody accepting connections on path? */
static bool
listener_live(const char *path)
{
	struct sockaddr_un sun;
	int fd;
	bool live;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	    errno == EAGAIN;
	close(fd);
	return live;
}

/*
 * Take the lock "<socket>.lock" for the daemon's life.  A daemon that
 * stops removes the file while it still holds the lock; one that opened
 * the file before it was removed would then lock a file nobody else sees,
 * so after locking, the file must still be the one at the path, else we
 * try again.  -1 with err: EV_ERR_UNAVAILABLE when another daemon holds it.
 */
static int
listener_lock(struct evbusd *b, struct ev_err *err)
{
	char lock[sizeof(b->path) + 8];
	struct stat held, named;
	int tries;

	snprintf(lock, sizeof(lock), "%s.lock", b->path);
	for (tries = 0; tries < 100; tries++) {
		b->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (b->lockfd == -1)
			return ev_err_sys(err, "%s", lock);
		if (flock(b->lockfd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				return ev_err_set(err, EV_ERR_UNAVAILABLE,
				    "a bus is already running on %s",
				    b->path);
			return ev_err_sys(err, "lock %s", lock);
		}
		if (fstat(b->lockfd, &held) == 0 && stat(lock, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino)
			return 0;
		close(b->lockfd);
		b->lockfd = -1;
	}
	return ev_err_set(err, EV_ERR_UNAVAILABLE, "%s keeps changing: is "
	    "another bus starting and stopping there?", lock);
}

/*
 * Take the lock "<socket>.lock", replace a stale socket, bind and listen.
 * The lock is held for the daemon's life, so two daemons starting at once
 * cannot both decide a socket is stale.  -1 with err: EV_ERR_UNAVAILABLE
 * when a bus already runs there.
 */
int
listener_open(struct evbusd *b, struct ev_err *err)
{
	struct sockaddr_un sun;
	mode_t omask;
	int fd;

	if (listener_lock(b, err) == -1)
		return -1;
	if (listener_live(b->path))
		return ev_err_set(err, EV_ERR_UNAVAILABLE,
		    "a bus is already running on %s", b->path);
	if (unlink(b->path) == 0)
		log_info("replaced the stale socket %s", b->path);
	else if (errno != ENOENT)
		return ev_err_sys(err, "cannot remove stale socket %s",
		    b->path);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, b->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return ev_err_sys(err, "socket");
	omask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(omask);
		ev_err_sys(err, "bind %s", b->path);
		close(fd);
		return -1;
	}
	umask(omask);
	/* --group: the group may connect, from the start of listen(). */
	if (b->shared && (chown(b->path, (uid_t)-1, b->group) == -1 ||
	    chmod(b->path, 0660) == -1)) {
		ev_err_sys(err, "socket %s for group %lu", b->path,
		    (unsigned long)b->group);
		close(fd);
		unlink(b->path);
		return -1;
	}
	if (listen(fd, 128) == -1) {
		ev_err_sys(err, "listen");
		close(fd);
		unlink(b->path);
		return -1;
	}
	b->lfd = fd;
	b->accepting = true;
	return 0;
}

/*
 * Stop listening and remove the socket, then the lock file (still held,
 * so no daemon can start in between); the lock itself goes with the
 * process.
 */
void
listener_close(struct evbusd *b)
{
	char lock[sizeof(b->path) + 8];

	if (b->lfd == -1)
		return;
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, b->lfd, NULL);
	close(b->lfd);
	b->lfd = -1;
	if (unlink(b->path) == -1 && errno != ENOENT)
		log_warn("unlink %s", b->path);
	snprintf(lock, sizeof(lock), "%s.lock", b->path);
	if (b->lockfd != -1 && unlink(lock) == -1 && errno != ENOENT)
		log_warn("unlink %s", lock);
}

/*
 * Stop or resume watching the listening socket, so that a lack of
 * descriptors does not spin the loop on a connection it cannot accept.
 */
void
listener_pause(struct evbusd *b, bool pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN };

	if (b->lfd == -1 || b->accepting == !pause)
		return;
	ev.data.ptr = NULL;
	if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, b->lfd, &ev) == -1)
		log_warn("epoll_ctl listener");
	b->accepting = !pause;
}

/* Tell a refused peer why, best effort, and hang up. */
static void
listener_refuse(int fd, const char *why)
{
	ssize_t n;

	n = send(fd, why, strlen(why), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
}

/*
 * Accept every pending connection.  Without -A only our own user (and
 * root) may connect: the directory is private, and this checks it again
 * from the kernel's view of the peer; with -A, anyone who could reach
 * the socket, and the rules decide what each may do.  At the client limit, or out of descriptors,
 * the newcomer is told and refused; established clients are unaffected.
 */
void
listener_accept(struct evbusd *b)
{
	struct ev_origin cred;
	struct ucred uc;
	socklen_t len;
	char msg[128];
	int fd;

	for (;;) {
		fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: pause until one closes. */
				log_warn("accept (pausing new connections)");
				listener_pause(b, true);
			} else if (errno != EAGAIN)
				log_warn("accept");
			return;
		}
		len = sizeof(uc);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1) {
			log_warn("SO_PEERCRED");
			close(fd);
			continue;
		}
		cred.uid = uc.uid;
		cred.gid = uc.gid;
		cred.pid = uc.pid;
		if (uc.uid != b->self.uid && uc.uid != 0 && b->acl == NULL) {
			log_warnx("refused uid %lu (pid %ld): not our user",
			    (unsigned long)uc.uid, (long)uc.pid);
			listener_refuse(fd, "ERR denied this bus belongs to "
			    "another user\n");
			continue;
		}
		if (b->nconns >= b->maxconns) {
			snprintf(msg, sizeof(msg), "ERR limit too many clients "
			    "(the limit is %zu)\n", b->maxconns);
			log_info("refused uid %lu (pid %ld): too many clients "
			    "(%zu)", (unsigned long)uc.uid, (long)uc.pid,
			    b->maxconns);
			listener_refuse(fd, msg);
			continue;
		}
		if (conn_new(b, fd, &cred) == NULL) {
			log_warn("new client");
			close(fd);
		}
	}
}

/*
 * A shared bus (--group): the socket's directory.  A missing one is made,
 * 0700 then given to the group and opened to 0750, so that nobody else
 * ever finds it open.  An existing one is only checked, never changed (it
 * could be /run itself): a directory, not a link, ours (clients trust a
 * named bus run by its directory's owner), writable by nobody else
 * (clients refuse that), and searchable by the group (else its members
 * could not reach the socket).  -1 with err EV_ERR_DENIED naming the fix,
 * or EV_ERR_SYS.
 */
int
listener_group_dir(struct evbusd *b, struct ev_err *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(b->path, '/');
	struct stat st;

	snprintf(dir, sizeof(dir), "%.*s", slash == b->path ? 1 :
	    (int)(slash - b->path), b->path);
	if (mkdir(dir, 0700) == 0) {
		if (chown(dir, (uid_t)-1, b->group) == -1 ||
		    chmod(dir, 0750) == -1) {
			ev_err_sys(err, "socket directory %s for group %lu",
			    dir, (unsigned long)b->group);
			rmdir(dir);
			return -1;
		}
		return 0;
	}
	if (errno != EEXIST)
		return ev_err_sys(err, "cannot create socket directory %s",
		    dir);
	if (lstat(dir, &st) == -1)
		return ev_err_sys(err, "socket directory %s", dir);
	if (!S_ISDIR(st.st_mode))
		return ev_err_set(err, EV_ERR_DENIED, "socket directory %s "
		    "is not a directory", dir);
	if (st.st_uid != geteuid())
		return ev_err_set(err, EV_ERR_DENIED, "socket directory %s "
		    "is owned by uid %lu, not by us (uid %lu): clients trust "
		    "a shared bus run by its directory's owner", dir,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
	if ((st.st_mode & 022) != 0)
		return ev_err_set(err, EV_ERR_DENIED, "socket directory %s "
		    "has mode %04o: others may write in it, and clients "
		    "refuse such a bus (chmod 0750 %s)", dir,
		    (unsigned)(st.st_mode & 07777), dir);
	if ((st.st_mode & S_IXOTH) == 0 && ((st.st_mode & S_IXGRP) == 0 ||
	    st.st_gid != b->group))
		return ev_err_set(err, EV_ERR_DENIED, "socket directory %s "
		    "(mode %04o, group %lu): group %lu cannot reach the "
		    "socket in it (chgrp %lu %s; chmod 0750 %s)", dir,
		    (unsigned)(st.st_mode & 07777), (unsigned long)st.st_gid,
		    (unsigned long)b->group, (unsigned long)b->group, dir,
		    dir);
	return 0;
}
