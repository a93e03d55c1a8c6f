/*
 * t_sockpath.c: where the socket lives (ev_sockpath's precedence: given >
 * $EVBUS_SOCKET > $XDG_RUNTIME_DIR/evbus/sock > /tmp/evbus-UID/sock) and
 * the checks on its directory (ev_sockdir_prepare for the daemon,
 * ev_sockdir_check for clients) and on the server's credentials
 * (ev_sockpeer_check), in a scratch directory removed at the end.
 */
#include <sys/socket.h>
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

/* A directory dir (under scratch) with this mode, and sock its socket. */
static void
mkdir_mode(char *dir, size_t dlen, char *sock, size_t slen, const char *name,
    mode_t mode)
{
	snprintf(dir, dlen, "%s/%s", scratch, name);
	snprintf(sock, slen, "%s/sock", dir);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		abort();
	if (chmod(dir, mode) == -1)
		abort();
}

/* ev_sockdir_check: the default place, then a path the user named. */
static void
test_check(void)
{
	static const mode_t open_modes[] = { 0750, 0710, 0705, 0701, 0770,
	    0777 };
	static const mode_t writable[] = { 0720, 0702, 0770, 0757, 01777,
	    0777 };
	static const mode_t fine[] = { 0700, 0755, 0750, 0705, 01755 };
	struct ev_err err;
	char sock[512], dir[256], target[256];
	uid_t owner;
	size_t i;
	int r, cwd;

	/* Default place: ours and 0700 only. */
	mkdir_mode(dir, sizeof(dir), sock, sizeof(sock), "def", 0700);
	owner = 4242;
	r = ev_sockdir_check(sock, true, &owner, &err);
	ok(r == 0 && owner == geteuid(), "default: our 0700 directory, "
	    "owner is us");
	is_int(ev_sockdir_check(sock, true, NULL, &err), 0,
	    "default: owner may be NULL");
	for (i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		char want[32];

		chmod(dir, open_modes[i]);
		memset(&err, 0, sizeof(err));
		r = ev_sockdir_check(sock, true, &owner, &err);
		snprintf(want, sizeof(want), "mode %04o", open_modes[i]);
		ok(r == -1 && err.kind == EV_ERR_DENIED &&
		    strstr(err.msg, want) != NULL &&
		    strstr(err.msg, dir) != NULL,
		    "default: %04o refused, naming dir and mode: %s",
		    open_modes[i], err.msg);
	}
	chmod(dir, 0700);

	/* A symbolic link to our good directory. */
	snprintf(target, sizeof(target), "%s/deflink", scratch);
	if (symlink(dir, target) == -1)
		abort();
	snprintf(sock, sizeof(sock), "%s/sock", target);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_check(sock, true, &owner, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED &&
	    strstr(err.msg, "symbolic link") != NULL,
	    "default: a symlink to a good directory is refused: %s", err.msg);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_check(sock, false, &owner, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED,
	    "named: a symlink to a good directory is refused");

	/* Missing: no bus (autostart may make the directory). */
	snprintf(sock, sizeof(sock), "%s/missing/sock", scratch);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_check(sock, true, &owner, &err);
	ok(r == -1 && err.kind == EV_ERR_UNAVAILABLE &&
	    strstr(err.msg, "no bus at") != NULL,
	    "default: a missing directory is 'no bus': %s", err.msg);
	r = ev_sockdir_check(sock, false, &owner, &err);
	ok(r == -1 && err.kind == EV_ERR_UNAVAILABLE,
	    "named: a missing directory is 'no bus'");

	/* Not a directory. */
	snprintf(target, sizeof(target), "%s/plain", scratch);
	close(open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	snprintf(sock, sizeof(sock), "%s/sock", target);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_check(sock, true, &owner, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED &&
	    strstr(err.msg, "not a directory") != NULL,
	    "a file where the directory should be is refused: %s", err.msg);
	snprintf(sock, sizeof(sock), "%s/x/sock", target);
	r = ev_sockdir_check(sock, false, &owner, &err);
	ok(r == -1 && err.kind == EV_ERR_UNAVAILABLE,
	    "a file on the way to the directory: no bus (ENOTDIR)");

	/* Named: anyone's directory that only its owner can write to. */
	mkdir_mode(dir, sizeof(dir), sock, sizeof(sock), "named", 0700);
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		chmod(dir, fine[i]);
		owner = 4242;
		r = ev_sockdir_check(sock, false, &owner, &err);
		ok(r == 0 && owner == geteuid(), "named: %04o accepted",
		    fine[i]);
	}
	for (i = 0; i < sizeof(writable) / sizeof(writable[0]); i++) {
		char want[32];

		chmod(dir, writable[i]);
		memset(&err, 0, sizeof(err));
		r = ev_sockdir_check(sock, false, &owner, &err);
		snprintf(want, sizeof(want), "mode %04o", writable[i]);
		ok(r == -1 && err.kind == EV_ERR_DENIED &&
		    strstr(err.msg, want) != NULL &&
		    strstr(err.msg, dir) != NULL,
		    "named: %04o (writable by others) refused: %s",
		    writable[i], err.msg);
	}
	/* No directory part: the current directory is the one checked. */
	chmod(dir, 0755);
	if ((cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    chdir(dir) == -1)
		abort();
	is_int(ev_sockdir_check("sock", false, &owner, &err), 0,
	    "named, no directory part: a 0755 current directory");
	chmod(dir, 0777);
	memset(&err, 0, sizeof(err));
	r = ev_sockdir_check("sock", false, &owner, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED &&
	    strstr(err.msg, "socket directory . ") != NULL,
	    "named, no directory part: a 0777 current directory is refused: "
	    "%s", err.msg);
	if (fchdir(cwd) == -1)
		abort();
	close(cwd);

	/* Another user's directory (only root can arrange that). */
	mkdir_mode(dir, sizeof(dir), sock, sizeof(sock), "other", 0700);
	if (geteuid() == 0 && chown(dir, 12345, 12345) == 0) {
		memset(&err, 0, sizeof(err));
		r = ev_sockdir_check(sock, true, &owner, &err);
		ok(r == -1 && err.kind == EV_ERR_DENIED &&
		    strstr(err.msg, "owned by uid 12345, not by us") != NULL &&
		    strstr(err.msg, "EVBUS_SOCKET") != NULL,
		    "default: another's 0700 directory is refused: %s",
		    err.msg);
		chmod(dir, 0755);
		owner = 0;
		r = ev_sockdir_check(sock, false, &owner, &err);
		ok(r == 0 && owner == 12345, "named: another's 0755 "
		    "directory is accepted, its owner returned");
		chmod(dir, 0775);
		r = ev_sockdir_check(sock, false, &owner, &err);
		ok(r == -1 && err.kind == EV_ERR_DENIED &&
		    strstr(err.msg, "12345") != NULL,
		    "named: another's 0775 directory is refused: %s",
		    err.msg);
	} else {
		ok(1, "# skip another's directory: not root");
		ok(1, "# skip another's directory: not root");
		ok(1, "# skip another's directory: not root");
	}
}

/*
 * A listening socket at path whose credentials say euid uid (root can
 * listen as another: SO_PEERCRED reports the euid at listen(2)).  -1 if
 * that cannot be arranged.
 */
static int
listen_as(const char *path, uid_t uid)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		abort();
	if (uid != geteuid() && seteuid(uid) == -1) {
		close(fd);
		return -1;
	}
	if (listen(fd, 4) == -1)
		abort();
	if (geteuid() != getuid() && seteuid(getuid()) == -1)
		abort();
	return fd;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		abort();
	return fd;
}

/* ev_sockpeer_check: who answered. */
static void
test_peer(void)
{
	struct ev_err err;
	char sock[512];
	int sv[2], lfd, fd, pfd[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	is_int(ev_sockpeer_check(sv[0], "pair", true, 12345, &err), 0,
	    "default: a server running as us is trusted");
	is_int(ev_sockpeer_check(sv[0], "pair", false, 12345, &err), 0,
	    "named: a server running as us is trusted");
	close(sv[0]);
	close(sv[1]);
	if (pipe2(pfd, O_CLOEXEC) == -1)
		abort();
	memset(&err, 0, sizeof(err));
	ok(ev_sockpeer_check(pfd[0], "pipe", true, 0, &err) == -1 &&
	    err.kind == EV_ERR_SYS, "not a socket: EV_ERR_SYS: %s", err.msg);
	close(pfd[0]);
	close(pfd[1]);

	snprintf(sock, sizeof(sock), "%s/peer.sock", scratch);
	if (geteuid() != 0 || (lfd = listen_as(sock, 12345)) == -1) {
		ok(1, "# skip a server run by another uid: not root");
		ok(1, "# skip a server run by another uid: not root");
		ok(1, "# skip a server run by another uid: not root");
		ok(1, "# skip a server run by another uid: not root");
		return;
	}
	fd = connect_to(sock);
	memset(&err, 0, sizeof(err));
	ok(ev_sockpeer_check(fd, sock, true, 12345, &err) == -1 &&
	    err.kind == EV_ERR_DENIED && strstr(err.msg, "uid 12345") !=
	    NULL && strstr(err.msg, sock) != NULL,
	    "default: a server run by uid 12345 is refused, even if it owns "
	    "the directory: %s", err.msg);
	is_int(ev_sockpeer_check(fd, sock, false, 12345, &err), 0,
	    "named: a server run by the directory's owner is trusted");
	memset(&err, 0, sizeof(err));
	ok(ev_sockpeer_check(fd, sock, false, 0, &err) == -1 &&
	    err.kind == EV_ERR_DENIED && strstr(err.msg, "uid 12345") !=
	    NULL && strstr(err.msg, "owner (uid 0)") != NULL,
	    "named: a server run by someone else than the directory's owner "
	    "is refused: %s", err.msg);
	close(fd);
	close(lfd);
	unlink(sock);
	lfd = listen_as(sock, 0);
	fd = connect_to(sock);
	is_int(ev_sockpeer_check(fd, sock, false, 12345, &err), 0,
	    "named: a server run by root is trusted");
	close(fd);
	close(lfd);
}

int
main(void)
{
	char cmd[64];

	if (mkdtemp(scratch) == NULL)
		abort();
	test_path();
	test_dir();
	test_check();
	test_peer();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", scratch);
	if (system(cmd) != 0)
		ok(0, "remove %s", scratch);
	return tap_done();
}
