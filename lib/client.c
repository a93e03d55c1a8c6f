/*
 * client.c: a connection to evbusd: connect, start a private bus when none
 * answers, shake hands, and move frames.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

#define CLIENT_READ	(64 * 1024)

static int	client_connect(const char *, bool, int *, struct ev_err *);
static int	client_autostart(const char *, int, struct ev_err *);
static int	client_hello(struct ev_client *, int, struct ev_err *);
static int	client_wait(int, short, int64_t, struct ev_err *);

/* Milliseconds left until deadline (a CLOCK_MONOTONIC time); -1: forever. */
static int
left_ms(int64_t deadline)
{
	int64_t now;

	if (deadline < 0)
		return -1;
	now = ev_mono_ms();
	return deadline > now ? (int)(deadline - now) : 0;
}

/*
 * Connect a non-blocking socket to path, if the bus there may be trusted:
 * its directory is checked before connect(2) and the server's credentials
 * right after, before anything is written (see ev_sockdir_check and
 * ev_sockpeer_check; isdefault: path is evbus's default place), so that an
 * impostor is never sent a byte.  Checked on every call: a first connect,
 * a reconnect, after an autostart.  -1 with err: EV_ERR_UNAVAILABLE when
 * nothing listens there (ENOENT, ECONNREFUSED), EV_ERR_DENIED when the
 * checks refuse it or on EACCES, EV_ERR_SYS otherwise.
 */
static int
client_connect(const char *path, bool isdefault, int *fdp,
    struct ev_err *err)
{
	struct sockaddr_un sun;
	uid_t owner;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ev_err_set(err, EV_ERR_DATA, "socket path too long");
	strcpy(sun.sun_path, path);
	if (ev_sockdir_check(path, isdefault, &owner, err) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return ev_err_sys(err, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		if (saved == ENOENT || saved == ECONNREFUSED)
			return ev_err_set(err, EV_ERR_UNAVAILABLE,
			    "no bus at %s", path);
		if (saved == EACCES || saved == EPERM) {
			ev_err_sys(err, "cannot connect to %s", path);
			err->kind = EV_ERR_DENIED;
			return -1;
		}
		return ev_err_sys(err, "cannot connect to %s", path);
	}
	if (ev_sockpeer_check(fd, path, isdefault, owner, err) == -1) {
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		ev_err_sys(err, "fcntl");
		close(fd);
		return -1;
	}
	*fdp = fd;
	return 0;
}

/*
 * The evbusd to start: $EVBUS_DAEMON, else the evbusd beside this
 * program's own executable, else "evbusd" from PATH.
 */
static void
client_daemon_path(char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	const char *env;
	ssize_t n;

	if ((env = getenv("EVBUS_DAEMON")) != NULL && *env != '\0') {
		snprintf(out, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			if ((size_t)(slash - self) + 8 <= sizeof(self))
				memcpy(slash + 1, "evbusd", 7);
			if (strcmp(slash + 1, "evbusd") == 0 &&
			    strlen(self) < len && access(self, X_OK) == 0) {
				memcpy(out, self, strlen(self) + 1);
				return;
			}
		}
	}
	snprintf(out, len, "evbusd");
}

/*
 * Start a private bus on path: "evbusd -d -r 3 -s path", and wait (at most
 * timeout_ms) for its readiness newline.  A bus that lost the race to
 * another one starting at the same time exits without the newline; the
 * caller simply connects again.  -1 with err when it could not be run.
 */
static int
client_autostart(const char *path, int timeout_ms, struct ev_err *err)
{
	char daemon[PATH_MAX], c;
	int pfd[2], status, r, devnull;
	int64_t deadline = ev_mono_ms() + timeout_ms;
	pid_t pid;
	ssize_t n;

	if (ev_sockdir_prepare(path, true, err) == -1)
		return -1;
	client_daemon_path(daemon, sizeof(daemon));
	if (pipe2(pfd, O_CLOEXEC) == -1)
		return ev_err_sys(err, "pipe");
	if ((pid = fork()) == -1) {
		ev_err_sys(err, "fork");
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		/* fd 3 is the readiness pipe; dup2 clears its close-on-exec. */
		if (dup2(pfd[1], 3) == -1)
			_exit(EV_EX_SOFTWARE);
		if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		execlp(daemon, "evbusd", "-d", "-r", "3", "-s", path,
		    (char *)NULL);
		fprintf(stderr, "evbus: cannot run %s: %s\n", daemon,
		    strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (r != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		close(pfd[0]);
		return ev_err_set(err, EV_ERR_UNAVAILABLE,
		    "no bus at %s, and %s could not be run to start one "
		    "(set EVBUS_DAEMON or PATH)", path, daemon);
	}
	r = client_wait(pfd[0], POLLIN, deadline, err);
	if (r == 0) {
		while ((n = read(pfd[0], &c, 1)) == -1 && errno == EINTR)
			;
		(void)n;
	}
	close(pfd[0]);
	return r;
}

/* Wait for events on fd until deadline.  0, or -1 with err. */
static int
client_wait(int fd, short events, int64_t deadline, struct ev_err *err)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	for (;;) {
		r = poll(&pfd, 1, left_ms(deadline));
		if (r > 0)
			return 0;
		if (r == 0)
			return ev_err_set(err, EV_ERR_TIMEOUT,
			    "the bus did not answer in time");
		if (errno != EINTR)
			return ev_err_sys(err, "poll");
	}
}

int
ev_client_hello(struct ev_client *c, const struct ev_frame *f,
    struct ev_err *err)
{
	uint64_t v;

	c->hello_pending = false;
	if (strcmp(f->verb, "ERR") == 0) {
		enum ev_errkind k = EV_ERR_PROTO;

		if (f->argc > 0 && strcmp(f->argv[0], "denied") == 0)
			k = EV_ERR_DENIED;
		else if (f->argc > 0 && strcmp(f->argv[0], "limit") == 0)
			k = EV_ERR_UNAVAILABLE;
		return ev_err_set(err, k, "the bus refused us: %s",
		    f->argc > 1 ? f->argv[1] : "no reason given");
	}
	if (strcmp(f->verb, "HELLO") != 0 || f->argc < 4 ||
	    strlen(f->argv[1]) != EV_EPOCH_LEN)
		return ev_err_set(err, EV_ERR_PROTO,
		    "the bus at %s does not speak evbus protocol %d",
		    c->path, EV_PROTO_VERSION);
	memcpy(c->epoch, f->argv[1], EV_EPOCH_LEN + 1);
	if (ev_parse_u64(f->argv[2], strlen(f->argv[2]), UINT64_MAX,
	    &c->last_seq) == -1 || ev_parse_u64(f->argv[3], strlen(f->argv[3]),
	    EV_EVENT_MAX_LIMIT, &v) == -1)
		return ev_err_set(err, EV_ERR_PROTO, "bad HELLO from the bus");
	c->max_event = (size_t)v;
	return 0;
}

int
ev_token_check(const char *tok, struct ev_err *err)
{
	size_t i, len = strlen(tok);

	if (len == 0 || len > EV_TOKEN_MAX)
		return ev_err_set(err, EV_ERR_DATA, "token: 1 to %d bytes",
		    EV_TOKEN_MAX);
	for (i = 0; i < len; i++)
		if ((unsigned char)tok[i] <= ' ' || (unsigned char)tok[i] >= 0x7f)
			return ev_err_set(err, EV_ERR_DATA, "token: printable "
			    "ASCII without spaces only");
	return 0;
}

int
ev_token_file(const char *path, char *out, size_t outlen, struct ev_err *err)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return ev_err_sys(err, "token file %s", path);
	if (fstat(fd, &st) == -1) {
		ev_err_sys(err, "token file %s", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return ev_err_set(err, EV_ERR_DENIED, "token file %s has mode "
		    "%04o: others can read it; run 'chmod 600' on it", path,
		    (unsigned)(st.st_mode & 07777));
	}
	while ((n = read(fd, out, outlen - 1)) == -1 && errno == EINTR)
		;
	close(fd);
	if (n == -1)
		return ev_err_sys(err, "token file %s", path);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	if (ev_token_check(out, err) == -1) {
		explicit_bzero(out, outlen);
		return ev_err_set(err, EV_ERR_DATA, "token file %s: one line "
		    "of 1 to %d printable characters without spaces", path,
		    EV_TOKEN_MAX);
	}
	return 0;
}

/*
 * Send HELLO; unless NOWAIT, read the bus's HELLO: epoch, newest seq.
 * A bus that refuses a client (too many clients, another user) answers
 * ERR and hangs up at once, maybe before our HELLO is written: then the
 * write fails, and its reason, already in the socket, is the error.
 */
static int
client_hello(struct ev_client *c, int timeout_ms, struct ev_err *err)
{
	struct ev_frame f;
	int r;

	const char *tok = getenv("EVBUS_TOKEN");

	if (tok != NULL && *tok != '\0' && ev_token_check(tok, err) == -1)
		return -1;
	if (ev_proto_line(&c->out, "HELLO %d %s%s%s%s%s", EV_PROTO_VERSION,
	    c->name, tok != NULL && *tok != '\0' ? " token=" : "",
	    tok != NULL ? tok : "", c->hellokeys[0] != '\0' ? " " : "",
	    c->hellokeys) == -1)
		return ev_err_sys(err, "hello");
	if (ev_client_flush(c, timeout_ms, err) == -1) {
		/*
		 * A bus that refuses us says why and hangs up, maybe before
		 * our HELLO is written: its reason beats "lost the bus".
		 */
		if (err->kind == EV_ERR_UNAVAILABLE &&
		    ev_client_next(c, &f, 0, NULL) == 1)
			return ev_client_hello(c, &f, err);
		return -1;
	}
	if (c->flags & EV_CLIENT_NOWAIT) {
		c->hello_pending = true;
		return 0;
	}
	if ((r = ev_client_next(c, &f, timeout_ms, err)) == -1)
		return -1;
	if (r == 0)
		return ev_err_set(err, EV_ERR_UNAVAILABLE,
		    "the bus at %s closed the connection", c->path);
	return ev_client_hello(c, &f, err);
}

/*
 * No bus answered: say what to do, naming where the path came from --
 * the caller's -s, $EVBUS_SOCKET, or the default place.
 */
static void
client_hint(struct ev_err *err, const char *given, bool isdefault,
    bool autostart)
{
	const char *hint;
	size_t len = strlen(err->msg);

	if (given != NULL && *given != '\0')
		hint = "start evbusd -s there, or check the -s path";
	else if (!isdefault)
		hint = "start evbusd, or check EVBUS_SOCKET";
	else if (!autostart)
		hint = "start evbusd, or let clients start it: EVBUS_AUTOSTART "
		    "is off";
	else
		hint = "start evbusd";
	snprintf(err->msg + len, sizeof(err->msg) - len, " (%s)", hint);
}

int
ev_client_open(struct ev_client *c, const char *path, const char *name,
    int flags, int timeout_ms, struct ev_err *err)
{
	return ev_client_open_keys(c, path, name, NULL, flags, timeout_ms,
	    err);
}

int
ev_client_open_keys(struct ev_client *c, const char *path, const char *name,
    const char *keys, int flags, int timeout_ms, struct ev_err *err)
{
	bool isdefault, autostart;
	int64_t deadline = ev_mono_ms() + timeout_ms;
	int tries, on;

	memset(c, 0, sizeof(*c));
	if (keys != NULL)
		snprintf(c->hellokeys, sizeof(c->hellokeys), "%s", keys);
	c->fd = -1;
	c->flags = flags;
	snprintf(c->name, sizeof(c->name), "%s", name);
	ev_decoder_init(&c->dec, EV_LINE_MAX, EV_EVENT_MAX_LIMIT + 1024);
	if (ev_sockpath(path, c->path, sizeof(c->path), &isdefault, err) == -1)
		return -1;
	if ((on = ev_env_bool("EVBUS_AUTOSTART", true, err)) == -1)
		return -1;
	autostart = (flags & EV_CLIENT_AUTOSTART) && isdefault && on;
	for (tries = 0;; tries++) {
		if (client_connect(c->path, isdefault, &c->fd, err) == 0)
			break;
		if (err->kind != EV_ERR_UNAVAILABLE || !autostart ||
		    tries == 2 || left_ms(deadline) == 0) {
			if (err->kind == EV_ERR_UNAVAILABLE)
				client_hint(err, path, isdefault, on);
			return -1;
		}
		if (client_autostart(c->path, left_ms(deadline), err) == -1)
			return -1;
	}
	if (client_hello(c, left_ms(deadline), err) == -1) {
		ev_client_close(c);
		return -1;
	}
	return 0;
}

void
ev_client_close(struct ev_client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	ev_decoder_free(&c->dec);
	ev_decoder_init(&c->dec, EV_LINE_MAX, EV_EVENT_MAX_LIMIT + 1024);
	ev_buf_free(&c->out);
}

int
ev_client_flush(struct ev_client *c, int timeout_ms, struct ev_err *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : ev_mono_ms() + timeout_ms;
	ssize_t n;

	while (ev_buf_unread(&c->out) > 0) {
		n = send(c->fd, ev_buf_head(&c->out), ev_buf_unread(&c->out),
		    MSG_NOSIGNAL);
		if (n >= 0) {
			ev_buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return ev_err_set(err, EV_ERR_UNAVAILABLE,
			    "lost the bus at %s: %s", c->path,
			    strerror(errno));
		if (client_wait(c->fd, POLLOUT, deadline, err) == -1)
			return -1;
	}
	return 0;
}

ssize_t
ev_client_fill(struct ev_client *c, struct ev_err *err)
{
	size_t avail;
	ssize_t n;
	char *p;

	if ((p = ev_decoder_space(&c->dec, CLIENT_READ, &avail)) == NULL)
		return ev_err_sys(err, "read buffer");
	while ((n = read(c->fd, p, avail)) == -1 && errno == EINTR)
		;
	if (n > 0)
		ev_decoder_commit(&c->dec, (size_t)n);
	else if (n == -1 && errno != EAGAIN)
		return ev_err_set(err, EV_ERR_UNAVAILABLE,
		    "lost the bus at %s: %s", c->path, strerror(errno));
	else if (n == -1)
		errno = EAGAIN;
	return n;
}

int
ev_client_next(struct ev_client *c, struct ev_frame *f, int timeout_ms,
    struct ev_err *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : ev_mono_ms() + timeout_ms;
	ssize_t n;
	int r;

	for (;;) {
		if ((r = ev_decoder_next(&c->dec, f, err)) != 0)
			return r;
		if ((n = ev_client_fill(c, err)) == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno != EAGAIN)
			return -1;
		if (client_wait(c->fd, POLLIN, deadline, err) == -1)
			return -1;
	}
}
