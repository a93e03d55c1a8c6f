/*
 * sockpath.c: where the bus's socket lives, and the checks on its directory.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

int
ev_sockpath(const char *given, char *out, size_t outlen, bool *isdefault,
    struct ev_err *err)
{
	struct sockaddr_un sun;
	const char *env;
	int n;

	*isdefault = false;
	if (given != NULL && *given != '\0')
		n = snprintf(out, outlen, "%s", given);
	else if ((env = getenv("EVBUS_SOCKET")) != NULL && *env != '\0')
		n = snprintf(out, outlen, "%s", env);
	else {
		*isdefault = true;
		env = getenv("XDG_RUNTIME_DIR");
		if (env != NULL && *env == '/')
			n = snprintf(out, outlen, "%s/evbus/sock", env);
		else
			n = snprintf(out, outlen, "/tmp/evbus-%lu/sock",
			    (unsigned long)geteuid());
	}
	if (n < 0 || (size_t)n >= outlen || (size_t)n >= sizeof(sun.sun_path))
		return ev_err_set(err, EV_ERR_DATA,
		    "socket path too long (at most %zu bytes)",
		    sizeof(sun.sun_path) - 1);
	return 0;
}

/*
 * The directory part of path into dir; "." when there is none.
 */
static void
sockdir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/*
 * lstat the socket directory dir: it must be a directory and not a
 * symbolic link.  -1 with err: EV_ERR_DENIED (not a directory, a link),
 * EV_ERR_SYS (lstat failed; errno kept).
 */
static int
sockdir_look(const char *dir, struct stat *st, struct ev_err *err)
{
	if (lstat(dir, st) == -1)
		return ev_err_sys(err, "socket directory %s", dir);
	if (S_ISLNK(st->st_mode))
		return ev_err_set(err, EV_ERR_DENIED,
		    "socket directory %s is a symbolic link: someone may be "
		    "redirecting the bus; remove it, or name a bus you trust "
		    "with EVBUS_SOCKET", dir);
	if (!S_ISDIR(st->st_mode))
		return ev_err_set(err, EV_ERR_DENIED,
		    "socket directory %s is not a directory", dir);
	return 0;
}

/*
 * The rule for the directories evbus makes itself: owned by the effective
 * uid, nothing for group or others.  -1 with err EV_ERR_DENIED.
 */
static int
sockdir_private(const char *dir, const struct stat *st, struct ev_err *err)
{
	if (st->st_uid != geteuid())
		return ev_err_set(err, EV_ERR_DENIED,
		    "socket directory %s is owned by uid %lu, not by us "
		    "(uid %lu): someone else may be impersonating the bus; "
		    "remove it, or name a bus you trust with EVBUS_SOCKET",
		    dir, (unsigned long)st->st_uid, (unsigned long)geteuid());
	if ((st->st_mode & 077) != 0)
		return ev_err_set(err, EV_ERR_DENIED,
		    "socket directory %s has mode %04o, open to others: "
		    "another user could have put a bus there; if it is ours, "
		    "run 'chmod 700' on it", dir,
		    (unsigned)(st->st_mode & 07777));
	return 0;
}

int
ev_sockdir_prepare(const char *path, bool create, struct ev_err *err)
{
	char dir[PATH_MAX];
	struct stat st;

	sockdir_of(path, dir, sizeof(dir));
	if (create && mkdir(dir, 0700) == -1 && errno != EEXIST)
		return ev_err_sys(err, "cannot create socket directory %s",
		    dir);
	if (sockdir_look(dir, &st, err) == -1)
		return -1;
	return create ? sockdir_private(dir, &st, err) : 0;
}

int
ev_sockdir_check(const char *path, bool isdefault, uid_t *owner,
    struct ev_err *err)
{
	char dir[PATH_MAX];
	struct stat st;

	sockdir_of(path, dir, sizeof(dir));
	if (sockdir_look(dir, &st, err) == -1) {
		if (err != NULL && err->kind == EV_ERR_SYS &&
		    (err->sys == ENOENT || err->sys == ENOTDIR))
			return ev_err_set(err, EV_ERR_UNAVAILABLE,
			    "no bus at %s: no directory %s", path, dir);
		return -1;
	}
	if (isdefault) {
		if (sockdir_private(dir, &st, err) == -1)
			return -1;
	} else if ((st.st_mode & 022) != 0)
		return ev_err_set(err, EV_ERR_DENIED,
		    "socket directory %s (owner uid %lu) has mode %04o: "
		    "others can write in it, so anyone could have put the "
		    "socket there; use a directory only its owner can write "
		    "to", dir, (unsigned long)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
	if (owner != NULL)
		*owner = st.st_uid;
	return 0;
}

int
ev_sockpeer_check(int fd, const char *path, bool isdefault, uid_t owner,
    struct ev_err *err)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	uid_t self = geteuid();

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1)
		return ev_err_sys(err, "the bus at %s: SO_PEERCRED", path);
	if (uc.uid == self || uc.uid == 0)
		return 0;
	if (isdefault)
		return ev_err_set(err, EV_ERR_DENIED,
		    "the bus at %s runs as uid %lu, neither us (uid %lu) nor "
		    "root: someone else may be impersonating the bus; name a "
		    "bus you trust with EVBUS_SOCKET", path,
		    (unsigned long)uc.uid, (unsigned long)self);
	if (uc.uid == owner)
		return 0;
	return ev_err_set(err, EV_ERR_DENIED,
	    "the bus at %s runs as uid %lu, neither us (uid %lu), root, nor "
	    "its directory's owner (uid %lu): someone else may be "
	    "impersonating the bus", path, (unsigned long)uc.uid,
	    (unsigned long)self, (unsigned long)owner);
}
