/*
 * sockpath.c: where the bus's socket lives, and the checks on its directory.
 */
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

int
ev_sockdir_prepare(const char *path, bool create, struct ev_err *err)
{
	char dir[PATH_MAX];
	struct stat st;

	sockdir_of(path, dir, sizeof(dir));
	if (create && mkdir(dir, 0700) == -1 && errno != EEXIST)
		return ev_err_sys(err, "cannot create socket directory %s",
		    dir);
	if (lstat(dir, &st) == -1)
		return ev_err_sys(err, "socket directory %s", dir);
	if (!S_ISDIR(st.st_mode))
		return ev_err_set(err, EV_ERR_DENIED,
		    "socket directory %s is not a directory%s", dir,
		    S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
	if (!create)
		return 0;
	if (st.st_uid != geteuid())
		return ev_err_set(err, EV_ERR_DENIED,
		    "socket directory %s is owned by uid %lu, not by us "
		    "(uid %lu); remove it or set EVBUS_SOCKET", dir,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
	if ((st.st_mode & 077) != 0)
		return ev_err_set(err, EV_ERR_DENIED,
		    "socket directory %s has mode %04o, open to others; "
		    "run 'chmod 700 %s'", dir, (unsigned)(st.st_mode & 07777),
		    dir);
	return 0;
}
