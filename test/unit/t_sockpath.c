/*
 * t_sockpath.c: where the socket lives (ev_sockpath's precedence: given >
 * $EVBUS_SOCKET > $XDG_RUNTIME_DIR/evbus/sock > /tmp/evbus-UID/sock) and
 * the checks on its directory (ev_sockdir_prepare), in a scratch directory
 * removed at the end.
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "tap.h"

static char scratch[] = "/tmp/t_sockpath.XXXXXX";

static void
test_path(void)
{
	struct sockaddr_un sun;
	struct ev_err err;
	char out[256], want[256], longp[sizeof(sun.sun_path) + 8];
	bool def;
	int r;

	unsetenv("EVBUS_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
	snprintf(want, sizeof(want), "/tmp/evbus-%lu/sock",
	    (unsigned long)geteuid());
	def = false;
	r = ev_sockpath(NULL, out, sizeof(out), &def, &err);
	ok(r == 0 && strcmp(out, want) == 0 && def,
	    "nothing set: %s, default", want);

	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	r = ev_sockpath(NULL, out, sizeof(out), &def, &err);
	ok(r == 0 && strcmp(out, "/run/user/1000/evbus/sock") == 0 && def,
	    "XDG_RUNTIME_DIR: under it, default");
	setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
	r = ev_sockpath(NULL, out, sizeof(out), &def, &err);
	ok(r == 0 && strcmp(out, want) == 0 && def,
	    "XDG_RUNTIME_DIR not absolute: ignored");
	setenv("XDG_RUNTIME_DIR", "", 1);
	r = ev_sockpath(NULL, out, sizeof(out), &def, &err);
	ok(r == 0 && strcmp(out, want) == 0 && def,
	    "XDG_RUNTIME_DIR empty: ignored");

	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	setenv("EVBUS_SOCKET", "/srv/bus.sock", 1);
	def = true;
	r = ev_sockpath(NULL, out, sizeof(out), &def, &err);
	ok(r == 0 && strcmp(out, "/srv/bus.sock") == 0 && !def,
	    "EVBUS_SOCKET over XDG_RUNTIME_DIR, not default");
	setenv("EVBUS_SOCKET", "", 1);
	r = ev_sockpath(NULL, out, sizeof(out), &def, &err);
	ok(r == 0 && strcmp(out, "/run/user/1000/evbus/sock") == 0 && def,
	    "EVBUS_SOCKET empty: ignored");
	setenv("EVBUS_SOCKET", "/srv/bus.sock", 1);

	def = true;
	r = ev_sockpath("rel/given.sock", out, sizeof(out), &def, &err);
	ok(r == 0 && strcmp(out, "rel/given.sock") == 0 && !def,
	    "given over EVBUS_SOCKET, as is, not default");
	r = ev_sockpath("", out, sizeof(out), &def, &err);
	ok(r == 0 && strcmp(out, "/srv/bus.sock") == 0 && !def,
	    "given empty: as if none");

	/* Length: sun_path holds at most sizeof - 1 bytes. */
	memset(longp, 'p', sizeof(longp));
	longp[0] = '/';
	longp[sizeof(sun.sun_path) - 1] = '\0';
	r = ev_sockpath(longp, out, sizeof(out), &def, &err);
	ok(r == 0 && strlen(out) == sizeof(sun.sun_path) - 1,
	    "a path of %zu bytes fits", sizeof(sun.sun_path) - 1);
	longp[sizeof(sun.sun_path) - 1] = 'p';
	longp[sizeof(sun.sun_path)] = '\0';
	memset(&err, 0, sizeof(err));
	r = ev_sockpath(longp, out, sizeof(out), &def, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA && strstr(err.msg, "too long"),
	    "a path of %zu bytes is too long: %s", sizeof(sun.sun_path),
	    err.msg);
	setenv("EVBUS_SOCKET", longp, 1);
	r = ev_sockpath(NULL, out, sizeof(out), &def, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "EVBUS_SOCKET too long");
	unsetenv("EVBUS_SOCKET");
	setenv("XDG_RUNTIME_DIR", longp, 1);
	r = ev_sockpath(NULL, out, sizeof(out), &def, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA,
	    "XDG_RUNTIME_DIR too long for evbus/sock");
	unsetenv("XDG_RUNTIME_DIR");
	r = ev_sockpath("/a/b", out, 4, &def, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "longer than outlen");
}

/* The mode of a path, -1 when it cannot be looked at. */
static int
mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == -1 ? -1 : (int)(st.st_mode & 07777);
}

static void
test_dir(void)
{
	struct ev_err err;
	char sock[512], dir[256];
	mode_t old;
	int r;

	old = umask(022);

	/* create: a missing directory is made 0700. */
	snprintf(dir, sizeof(dir), "%s/new", scratch);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	r = ev_sockdir_prepare(sock, true, &err);
	is_int(r, 0, "create: a missing directory");
	is_int(mode_of(dir), 0700, "create: made with mode 0700");
	is_int(ev_sockdir_prepare(sock, true, &err), 0,
	    "create: the 0700 directory again");
	umask(0);
	snprintf(dir, sizeof(dir), "%s/new0", scratch);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	ok(ev_sockdir_prepare(sock, true, &err) == 0 && mode_of(dir) == 0700,
	    "create: 0700 whatever the umask");
	umask(022);

	/* create: an open directory is refused. */
	snprintf(dir, sizeof(dir), "%s/open", scratch);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	mkdir(dir, 0755);
	chmod(dir, 0755);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_prepare(sock, true, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "create: a 0755 directory is "
	    "refused, EV_ERR_DENIED");
	ok(strstr(err.msg, "chmod 700") != NULL && strstr(err.msg, dir) !=
	    NULL, "create: the message says chmod 700 and names it: %s",
	    err.msg);
	chmod(dir, 0710);
	r = ev_sockdir_prepare(sock, true, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "create: 0710 refused");
	chmod(dir, 0701);
	r = ev_sockdir_prepare(sock, true, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "create: 0701 refused");
	chmod(dir, 0755);
	/* Without create (a path the user named), it is accepted. */
	is_int(ev_sockdir_prepare(sock, false, &err), 0,
	    "no create: an existing 0755 directory is accepted");
	is_int(mode_of(dir), 0755, "no create: its mode is left alone");

	/* A symbolic link to a good directory is refused either way. */
	snprintf(dir, sizeof(dir), "%s/link", scratch);
	snprintf(sock, sizeof(sock), "%s/new", scratch);
	if (symlink(sock, dir) == -1)
		abort();
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_prepare(sock, true, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "create: a symlink is "
	    "refused: %s", err.msg);
	r = ev_sockdir_prepare(sock, false, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "no create: a symlink is "
	    "refused");

	/* Not a directory. */
	snprintf(dir, sizeof(dir), "%s/file", scratch);
	close(open(dir, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_prepare(sock, true, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "create: a file is refused: "
	    "%s", err.msg);
	r = ev_sockdir_prepare(sock, false, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "no create: a file is "
	    "refused");

	/* Missing. */
	snprintf(sock, sizeof(sock), "%s/none/sock", scratch);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_prepare(sock, false, &err);
	ok(r == -1 && err.kind == EV_ERR_SYS && err.sys == ENOENT,
	    "no create: a missing directory is ENOENT");
	snprintf(sock, sizeof(sock), "%s/none/deeper/sock", scratch);
	r = ev_sockdir_prepare(sock, true, &err);
	ok(r == -1 && err.kind == EV_ERR_SYS && err.sys == ENOENT,
	    "create: only the last directory is made");

	/* Owned by someone else (only root can arrange that). */
	snprintf(dir, sizeof(dir), "%s/theirs", scratch);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	mkdir(dir, 0700);
	if (geteuid() == 0 && chown(dir, 12345, 12345) == 0) {
		memset(&err, 0, sizeof(err));
		r = ev_sockdir_prepare(sock, true, &err);
		ok(r == -1 && err.kind == EV_ERR_DENIED &&
		    strstr(err.msg, "12345") != NULL,
		    "create: another's directory is refused: %s", err.msg);
		is_int(ev_sockdir_prepare(sock, false, &err), 0,
		    "no create: another's directory is accepted");
	} else {
		ok(1, "# skip another's directory: not root");
		ok(1, "# skip another's directory: not root");
	}

	/* A socket in the current directory. */
	ok(ev_sockdir_prepare("sock", false, &err) == 0,
	    "no directory part: the current one");
	umask(old);
}

int
main(void)
{
	char cmd[64];

	if (mkdtemp(scratch) == NULL)
		abort();
	test_path();
	test_dir();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch);
	if (system(cmd) != 0)
		ok(0, "remove %s", scratch);
	return tap_done();
}
