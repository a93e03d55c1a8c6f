/*
 * sink.c: evroute's destinations.  Each holds the lines routed to it
 * until its descriptor takes them.  Files and standard error are written
 * with plain (blocking) writes; an exec child's pipe and a standard
 * output that is a pipe or a socket without blocking, so that a slow
 * reader makes its sink fill up to SINK_HIGH, which stops evroute from
 * reading its input until the sink drains (see input.c).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evroute.h"

extern char **environ;

static void	on_writable(struct ev_loop *, int, void *);
static void	on_child(struct ev_loop *, pid_t, int, void *);
static void	on_restart(struct ev_loop *, uint64_t, void *);

/*
 * The destination for kind and arg, made on first use: one for standard
 * output, one for standard error, one per file path, one per exec rule.
 */
struct sink *
sink_get(struct evroute *e, enum sink_kind kind, const char *arg)
{
	static const char *const pre[] = {
		[SK_STDOUT] = "stdout", [SK_STDERR] = "stderr",
		[SK_FILE] = "file:", [SK_EXEC] = "exec:",
	};
	struct sink *s, **ns;
	size_t i;

	for (i = 0; i < e->nsinks && kind != SK_EXEC; i++) {
		s = e->sinks[i];
		if (s->kind == kind && (kind != SK_FILE ||
		    strcmp(s->arg, arg) == 0))
			return s;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (ns = reallocarray(e->sinks, e->nsinks + 1, sizeof(*ns))) == NULL)
		nomem();
	e->sinks = ns;
	s->kind = kind;
	s->arg = arg;
	s->fd = -1;
	s->rfd = -1;
	s->e = e;
	if (asprintf(&s->name, "%s%s", pre[kind], arg != NULL &&
	    kind >= SK_FILE ? arg : "") == -1)
		nomem();
	e->sinks[e->nsinks++] = s;
	return s;
}

/*
 * Standard output.  A pipe is opened again through /proc (a new open file
 * description of the same pipe, made non-blocking without touching the
 * one evroute was given, which other processes may share); a socket is
 * written with MSG_DONTWAIT; anything else (a file, a terminal) with
 * plain writes.
 */
static void
stdout_open(struct sink *s)
{
	struct stat st;
	int fd;

	s->fd = 1;
	if (fstat(1, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode)) {
		s->sock = true;
		s->nonblock = true;
	} else if (S_ISFIFO(st.st_mode) && (fd = open("/proc/self/fd/1",
	    O_WRONLY | O_NONBLOCK | O_CLOEXEC)) != -1) {
		s->fd = fd;
		s->nonblock = true;
	}
}

static int
file_open(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
}

/* Bytes in an exec rule's pipe that no child has read yet. */
static size_t
exec_unread(const struct sink *s)
{
	int n;

	if (s->rfd < 0 || ioctl(s->rfd, FIONREAD, &n) == -1 || n < 0)
		return 0;
	return (size_t)n;
}

/*
 * Start sh -c CMD with its standard input the rule's pipe, its standard
 * output and error ours, SIGPIPE and SIGHUP at their defaults.  The pipe
 * is made at the first start and kept: evroute holds its read end too,
 * so that the lines a child did not read before it died are read by the
 * next one (and a write never fails with EPIPE).  -1 with errno when it
 * cannot be started.
 */
static int
exec_start(struct sink *s)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def, none;
	struct ev_err err;
	char *argv[] = { "sh", "-c", s->name + 5, NULL };
	int p[2], rc;
	pid_t pid;

	if (s->rfd < 0) {
		if (pipe2(p, O_CLOEXEC) == -1)
			return -1;
		if (fcntl(p[1], F_SETFL, O_NONBLOCK) == -1)
			fatal(s->e, EV_EX_SOFTWARE, "%s: fcntl: %s", s->name,
			    strerror(errno));
		s->rfd = p[0];
		s->fd = p[1];
		s->nonblock = true;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, s->rfd, 0);
	posix_spawnattr_init(&at);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGHUP);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	if (ev_loop_child_add(&s->e->loop, pid, on_child, s, &err) == -1)
		fatal(s->e, EV_EX_SOFTWARE, "%s: %s", s->name, err.msg);
	s->pid = pid;
	s->started = ev_mono_ms();
	s->unread0 = exec_unread(s);
	return 0;
}

/* Open every destination: exits 74 when a file cannot be opened. */
int
sink_open_all(struct evroute *e)
{
	struct sink *s;
	size_t i;

	for (i = 0; i < e->nsinks; i++) {
		s = e->sinks[i];
		s->backoff = BACKOFF_MIN;
		switch (s->kind) {
		case SK_STDOUT:
			stdout_open(s);
			break;
		case SK_STDERR:
			s->fd = 2;
			break;
		case SK_FILE:
			if ((s->fd = file_open(s->arg)) == -1)
				fatal(e, errno == EACCES || errno == EPERM ?
				    EV_EX_NOPERM : EV_EX_IOERR, "%s: %s",
				    s->name, strerror(errno));
			break;
		case SK_EXEC:
			if (exec_start(s) == -1)
				fatal(e, EV_EX_SOFTWARE, "%s: cannot start "
				    "sh: %s", s->name, strerror(errno));
			break;
		}
	}
	return 0;
}

/* One line for s: its bytes and a newline. */
void
sink_put(struct evroute *e, struct sink *s, const char *line, size_t len)
{
	if (ev_buf_reserve(&s->buf, len + 1) == -1)
		nomem();
	memcpy(s->buf.data + s->buf.len, line, len);
	s->buf.len += len;
	s->buf.data[s->buf.len++] = '\n';
	s->buf.data[s->buf.len] = '\0';
	if (ev_buf_unread(&s->buf) >= SINK_HIGH)
		e->paused = true;
}

/* A write failed with errno: exits 74. */
static void
sink_failed(struct sink *s)
{
	int saved = errno;

	if (s->kind == SK_STDOUT && saved == EPIPE)
		exit(EV_EX_IOERR);
	fatal(s->e, EV_EX_IOERR, "%s: %s", s->name, strerror(saved));
}

/*
 * Write what s holds, as much as its descriptor takes now; watch it for
 * POLLOUT while something is left.
 */
static void
sink_write(struct sink *s)
{
	struct ev_err err;
	ssize_t n;
	size_t left;

	while ((left = ev_buf_unread(&s->buf)) > 0 && s->fd >= 0) {
		if (s->sock)
			n = send(s->fd, ev_buf_head(&s->buf), left,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = write(s->fd, ev_buf_head(&s->buf), left);
		if (n > 0) {
			ev_buf_consume(&s->buf, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN && s->nonblock) {
			if (ev_loop_fd_add(&s->e->loop, s->fd, EV_LOOP_WRITE,
			    NULL, on_writable, s, &err) == -1)
				nomem();
			return;
		}
		sink_failed(s);
		return;
	}
	if (s->fd >= 0 && s->nonblock)
		ev_loop_fd_del(&s->e->loop, s->fd);
	if (ev_buf_unread(&s->buf) == 0)
		ev_buf_reset(&s->buf);
}

static void
on_writable(struct ev_loop *loop, int fd, void *arg)
{
	struct sink *s = arg;

	(void)loop;
	(void)fd;
	sink_write(s);
	input_resume(s->e);
}

void
sink_flush_all(struct evroute *e)
{
	size_t i;

	for (i = 0; i < e->nsinks; i++)
		if (ev_buf_unread(&e->sinks[i]->buf) > 0)
			sink_write(e->sinks[i]);
}

/* Standard error's lines before a message: whole lines, not mixed. */
void
sink_flush_stderr(struct evroute *e)
{
	size_t i;

	for (i = 0; i < e->nsinks; i++)
		if (e->sinks[i]->kind == SK_STDERR &&
		    ev_buf_unread(&e->sinks[i]->buf) > 0)
			sink_write(e->sinks[i]);
}

/* Is some destination holding SINK_HIGH bytes or more? */
bool
sink_full(const struct evroute *e)
{
	size_t i;

	for (i = 0; i < e->nsinks; i++)
		if (ev_buf_unread(&e->sinks[i]->buf) >= SINK_HIGH)
			return true;
	return false;
}

/*
 * SIGHUP: every file is opened again by its path (log rotation): what
 * was routed before goes to the old file, what comes after to the new.
 * A file that cannot be opened is reported and the old one kept.
 */
void
sink_reopen_files(struct evroute *e)
{
	struct sink *s;
	size_t i;
	int fd;

	for (i = 0; i < e->nsinks; i++) {
		s = e->sinks[i];
		if (s->kind != SK_FILE)
			continue;
		sink_write(s);
		if ((fd = file_open(s->arg)) == -1) {
			report(e, "%s: cannot open it again: %s; still "
			    "writing to the file opened before", s->name,
			    strerror(errno));
			e->status = EV_EX_REJECTED;
			continue;
		}
		close(s->fd);
		s->fd = fd;
	}
}

/* How a child ended, for a message. */
static void
describe_status(int status, char *buf, size_t size)
{
	if (status == -1)
		snprintf(buf, size, "exited");
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "exited with status %d",
		    WEXITSTATUS(status));
}

/*
 * An exec child ended.  Once the input is done and the pipe is empty,
 * that is its normal end: only a status other than 0 is reported (and
 * makes evroute's status 1).  Otherwise it is reported and started
 * again after the backoff (100 ms, doubling up to 5 s, back to 100 ms
 * once a child has run for 10 s), to read what is in the pipe and what
 * is still to come.
 */
static void
on_child(struct ev_loop *loop, pid_t pid, int status, void *arg)
{
	struct sink *s = arg;
	struct evroute *e = s->e;
	char how[96];
	bool failed = status == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0;

	(void)pid;
	s->pid = 0;
	if (failed)
		e->status = EV_EX_REJECTED;
	describe_status(status, how, sizeof(how));
	if (e->eof && ev_buf_unread(&s->buf) == 0 && exec_unread(s) == 0) {
		if (failed)
			report(e, "%s: %s", s->name, how);
		return;
	}
	/* After the input, a command that reads nothing is given up on. */
	if (e->eof && exec_unread(s) >= s->unread0 &&
	    ++s->futile >= FUTILE_MAX) {
		report(e, "%s: %s; %u times in a row without reading: "
		    "giving up on the %zu bytes left for it", s->name, how,
		    s->futile, exec_unread(s) + ev_buf_unread(&s->buf));
		e->status = EV_EX_REJECTED;
		ev_buf_reset(&s->buf);
		if (s->fd >= 0) {
			ev_loop_fd_del(loop, s->fd);
			close(s->fd);
			s->fd = -1;
		}
		s->closing = true;
		return;
	}
	if (exec_unread(s) < s->unread0)
		s->futile = 0;
	if (ev_mono_ms() - s->started >= BACKOFF_RESET)
		s->backoff = BACKOFF_MIN;
	report(e, "%s: %s; starting it again in %lld ms", s->name, how,
	    (long long)s->backoff);
	if ((s->timer = ev_loop_timer_add(loop, s->backoff, on_restart,
	    s)) == 0)
		nomem();
	s->backoff = s->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
	    s->backoff * 2;
}

static void
on_restart(struct ev_loop *loop, uint64_t id, void *arg)
{
	struct sink *s = arg;

	(void)id;
	s->timer = 0;
	if (exec_start(s) == -1) {
		report(s->e, "%s: cannot start sh: %s; trying again in "
		    "%lld ms", s->name, strerror(errno),
		    (long long)s->backoff);
		if ((s->timer = ev_loop_timer_add(loop, s->backoff,
		    on_restart, s)) == 0)
			nomem();
		return;
	}
	sink_write(s);
	input_resume(s->e);
}

/*
 * At the end of the input: is every destination done?  An exec rule
 * whose lines are all in its pipe gets the pipe's write end closed (its
 * child's EOF) and is done once no child runs and none is to start.
 */
bool
sink_done(struct evroute *e)
{
	struct sink *s;
	bool done = true;
	size_t i;

	for (i = 0; i < e->nsinks; i++) {
		s = e->sinks[i];
		if (ev_buf_unread(&s->buf) > 0) {
			done = false;
			continue;
		}
		if (s->kind != SK_EXEC)
			continue;
		if (!s->closing) {
			if (s->fd >= 0) {
				ev_loop_fd_del(&e->loop, s->fd);
				close(s->fd);
				s->fd = -1;
			}
			s->closing = true;
		}
		if (s->pid > 0 || s->timer != 0)
			done = false;
	}
	return done;
}

void
sink_close_all(struct evroute *e)
{
	struct sink *s;
	size_t i;

	for (i = 0; i < e->nsinks; i++) {
		s = e->sinks[i];
		if (s->fd > 2)
			close(s->fd);
		if (s->rfd >= 0)
			close(s->rfd);
		ev_buf_free(&s->buf);
		free(s->name);
		free(s);
	}
	free(e->sinks);
	e->sinks = NULL;
	e->nsinks = 0;
}
