/*
 * evbusd: the evbus daemon.  One thread, one epoll loop, non-blocking
 * sockets.  Signals only set a flag; the loop does the work.
 */
#include <sys/epoll.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libutil.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbusd.h"

#define STOP_FLUSH_MS	2000	/* how long stopping waits for slow readers */
#define LOOP_EVENTS	64

struct evbusd		*bus;
static volatile sig_atomic_t quit_signal;

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: evbusd [-dv] [-s socket] [-r fd] [-b events] [-B bytes] "
	    "[-m max-event-bytes]\n"
	    "              [-p pidfile] [--max-clients n] "
	    "[--handshake-timeout duration]\n");
	exit(status);
}

static void
on_signal(int sig)
{
	quit_signal = sig;
}

/* A size: digits with an optional k, M or G (powers of 1024). */
static int
parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	size_t n = strspn(s, "0123456789");
	uint64_t v, mult = 1;
	const char *u = s + n;

	if (n == 0 || ev_parse_u64(s, n, UINT64_MAX / 1024 / 1024 / 1024,
	    &v) == -1)
		return -1;
	if (strcasecmp(u, "k") == 0 || strcasecmp(u, "kib") == 0)
		mult = 1024;
	else if (strcasecmp(u, "m") == 0 || strcasecmp(u, "mib") == 0)
		mult = 1024 * 1024;
	else if (strcasecmp(u, "g") == 0 || strcasecmp(u, "gib") == 0)
		mult = 1024 * 1024 * 1024;
	else if (*u != '\0')
		return -1;
	v *= mult;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static void
sizearg(const char *opt, const char *s, uint64_t min, uint64_t max,
    uint64_t *out)
{
	if (parse_size(s, min, max, out) == -1) {
		fprintf(stderr, "evbusd: %s '%s': expected a number from %"
		    PRIu64 " to %" PRIu64 ", optionally with k, M or G\n",
		    opt, s, min, max);
		exit(EV_EX_USAGE);
	}
}

/* Make path absolute, so that detaching (chdir /) keeps it valid. */
static void
absolute_path(char *path, size_t len)
{
	char cwd[PATH_MAX], tmp[PATH_MAX];

	if (path[0] == '/')
		return;
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		fprintf(stderr, "evbusd: getcwd: %s\n", strerror(errno));
		exit(EV_EX_IOERR);
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path) >= len) {
		fprintf(stderr, "evbusd: socket path %s/%s too long\n", cwd,
		    path);
		exit(EV_EX_USAGE);
	}
	memcpy(path, tmp, strlen(tmp) + 1);
}

/* Tell whoever started us that we listen: a newline on fd, then close. */
static void
ready(int fd)
{
	ssize_t n;

	if (fd == -1)
		return;
	while ((n = write(fd, "\n", 1)) == -1 && errno == EINTR)
		;
	if (n != 1)
		log_warn("readiness fd %d", fd);
	close(fd);
}

/* What one turn may let into the ring: half of it, by count and bytes. */
static void
loop_budget(struct evbusd *b)
{
	b->budget = b->ring.max / 2 > 0 ? b->ring.max / 2 : 1;
	b->budget_bytes = b->ring.maxbytes / 2;
}

/* What a turn of the loop leaves for the next one. */
struct turn {
	bool	 busy;		/* output still queued (blocked or not) */
	bool	 again;		/* work to do at once: do not sleep */
	int64_t	 deadline;	/* the nearest handshake deadline, or -1 */
};

/*
 * One turn of work after epoll.  First the subscribers are written to (an
 * event's latency is what they wait for; a publisher's acknowledgement can
 * wait for them); only then may the next half-ring of events come in.
 * Then every connection: hang up on a slow handshake, write what it has
 * coming, resume a publisher that was stalled, close what is done.
 * Cost: two walks over the connections; sleeping needs no third.
 */
static void
loop_service(struct evbusd *b, struct turn *t)
{
	struct conn *c;
	int64_t now = ev_mono_ms();
	uint64_t next;

	TAILQ_FOREACH(c, &b->conns, entry)
		if (c->sub && conn_pending(b, c))
			conn_flush(b, c);
	loop_budget(b);
	next = b->ring.next;
	t->busy = t->again = false;
	t->deadline = -1;
	TAILQ_FOREACH(c, &b->conns, entry) {
		if (c->dead)
			continue;
		if (c->state == CONN_HELLO && now >= c->deadline) {
			ev_proto_line(&c->out, "ERR limit handshake not "
			    "completed within %" PRId64 " ms", b->handshake_ms);
			c->state = CONN_CLOSING;
			c->eof = true;
		}
		if (conn_pending(b, c) && conn_flush(b, c) == -1)
			continue;
		conn_resume(b, c);
		if (c->state == CONN_CLOSING && c->partial == NULL &&
		    ev_buf_unread(&c->out) == 0 && !c->dead)
			conn_close(b, c, c->eof ? "closed" : "quit");
		else
			conn_watch(b, c);
		if (c->dead)
			continue;
		if (conn_pending(b, c) || conn_resumable(c))
			t->again = t->busy = true;
		else if (c->blocked)
			t->busy = true;
		if (c->state == CONN_HELLO &&
		    (t->deadline == -1 || c->deadline < t->deadline))
			t->deadline = c->deadline;
	}
	/* Events that came in during the walk are for the next turn. */
	if (b->ring.next != next)
		t->again = t->busy = true;
}

/* How long epoll may sleep: 0 with work left, else to the nearest deadline. */
static int
loop_timeout(const struct turn *t, int64_t stop_deadline)
{
	int64_t next = t->deadline, now;

	if (t->again)
		return 0;
	if (stop_deadline != -1 && (next == -1 || stop_deadline < next))
		next = stop_deadline;
	if (next == -1)
		return -1;
	now = ev_mono_ms();
	return next > now ? (int)(next - now) : 0;
}

static void
loop(struct evbusd *b, const sigset_t *waitmask)
{
	struct epoll_event evs[LOOP_EVENTS];
	struct turn t = { .deadline = -1 };
	int64_t stop_deadline = -1;
	struct conn *c;
	int i, n;

	loop_budget(b);
	for (;;) {
		n = epoll_pwait(b->epfd, evs, LOOP_EVENTS,
		    loop_timeout(&t, stop_deadline), waitmask);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				listener_accept(b);
				continue;
			}
			c = evs[i].data.ptr;
			if (c->dead)
				continue;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				c->blocked = false;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP) &&
			    !b->stopping)
				conn_read(b, c);
		}
		if (quit_signal != 0 && !b->stopping) {
			log_info("stopping on signal %d", (int)quit_signal);
			b->stopping = true;
			listener_close(b);
			bus_publish_internal(b, "evbus.stopping", quit_signal ==
			    SIGINT ? "{\"reason\":\"SIGINT\"}" :
			    "{\"reason\":\"SIGTERM\"}");
			stop_deadline = ev_mono_ms() + STOP_FLUSH_MS;
			TAILQ_FOREACH(c, &b->conns, entry)
				conn_watch(b, c);
		}
		loop_service(b, &t);
		conn_reap(b);
		if (b->stopping && (!t.busy || ev_mono_ms() >= stop_deadline))
			return;
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "detach",		no_argument,		NULL, 'd' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "socket",		required_argument,	NULL, 's' },
		{ "ready-fd",		required_argument,	NULL, 'r' },
		{ "ring-events",	required_argument,	NULL, 'b' },
		{ "ring-bytes",		required_argument,	NULL, 'B' },
		{ "max-event",		required_argument,	NULL, 'm' },
		{ "pidfile",		required_argument,	NULL, 'p' },
		{ "max-clients",	required_argument,	NULL, 'C' },
		{ "handshake-timeout",	required_argument,	NULL, 'T' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "version",		no_argument,		NULL, 'V' },
		{ NULL,			0,			NULL, 0 }
	};
	static struct evbusd b;
	struct ev_err err;
	struct pidfh *pfh = NULL;
	struct sigaction sa;
	struct conn *c;
	sigset_t block, waitmask;
	const char *sock = NULL, *pidpath = NULL;
	char pidbuf[sizeof(b.path) + 8], payload[256];
	uint64_t events = 65536, bytes = 16 * 1024 * 1024;
	uint64_t maxevent = EV_EVENT_MAX_DEFAULT, maxclients = 256, v;
	int64_t handshake = 5000;
	int ch, detach = 0, verbose = 0, readyfd = -1;
	bool isdefault;
	pid_t other;

	/* First: no socket or file may become a closed stdin/out/err. */
	if (ev_stdfds_open() == -1) {
		fprintf(stderr, "evbusd: /dev/null: %s\n", strerror(errno));
		return EV_EX_IOERR;
	}
	while ((ch = getopt_long(argc, argv, "dvs:r:b:B:m:p:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			detach = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 's':
			sock = optarg;
			break;
		case 'r':
			if (ev_parse_u64(optarg, strlen(optarg), INT_MAX,
			    &v) == -1 || fcntl((int)v, F_GETFD) == -1) {
				fprintf(stderr, "evbusd: -r %s: not an open "
				    "file descriptor\n", optarg);
				return EV_EX_USAGE;
			}
			readyfd = (int)v;
			break;
		case 'b':
			sizearg("-b", optarg, 1, 1U << 30, &events);
			break;
		case 'B':
			sizearg("-B", optarg, 4096, (uint64_t)1 << 40, &bytes);
			break;
		case 'm':
			sizearg("-m", optarg, 256, EV_EVENT_MAX_LIMIT,
			    &maxevent);
			break;
		case 'p':
			pidpath = optarg;
			break;
		case 'C':
			sizearg("--max-clients", optarg, 1, 1000000,
			    &maxclients);
			break;
		case 'T':
			if (ev_duration_parse(optarg, &handshake, &err) == -1 ||
			    handshake <= 0) {
				fprintf(stderr, "evbusd: --handshake-timeout: "
				    "%s\n", handshake <= 0 ? "must be positive"
				    : err.msg);
				return EV_EX_USAGE;
			}
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("evbusd %s\n", EV_VERSION);
			return 0;
		default:
			usage(EV_EX_USAGE);
		}
	}
	if (optind != argc)
		usage(EV_EX_USAGE);
	if (bytes < maxevent + 64) {
		fprintf(stderr, "evbusd: -B %" PRIu64 " must exceed -m %"
		    PRIu64 ": the ring must hold the largest event\n", bytes,
		    maxevent);
		return EV_EX_USAGE;
	}

	bus = &b;
	b.lfd = b.lockfd = -1;
	b.maxconns = maxclients;
	b.maxevent = maxevent;
	b.handshake_ms = handshake;
	TAILQ_INIT(&b.conns);
	log_init(1, verbose);

	if (ev_sockpath(sock, b.path, sizeof(b.path), &isdefault, &err) == -1) {
		fprintf(stderr, "evbusd: %s\n", err.msg);
		return EV_EX_USAGE;
	}
	absolute_path(b.path, sizeof(b.path));
	if (ev_sockdir_prepare(b.path, isdefault, &err) == -1) {
		fprintf(stderr, "evbusd: %s\n", err.msg);
		return ev_err_exit(&err);
	}

	/* Signals are blocked except while the loop waits: no lost wakeup. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);

	if (listener_open(&b, &err) == -1) {
		fprintf(stderr, "evbusd: %s\n", err.msg);
		return err.kind == EV_ERR_UNAVAILABLE ? EV_EX_UNAVAILABLE :
		    ev_err_exit(&err);
	}
	if (detach) {
		if (pidpath == NULL) {
			snprintf(pidbuf, sizeof(pidbuf), "%s.pid", b.path);
			pidpath = pidbuf;
		}
		if ((pfh = pidfile_open(pidpath, 0600, &other)) == NULL) {
			if (errno == EEXIST)
				fprintf(stderr, "evbusd: already running, pid "
				    "%ld (%s)\n", (long)other, pidpath);
			else
				fprintf(stderr, "evbusd: pidfile %s: %s\n",
				    pidpath, strerror(errno));
			listener_close(&b);
			return EV_EX_UNAVAILABLE;
		}
		if (daemon(0, 0) == -1) {
			fprintf(stderr, "evbusd: daemon: %s\n",
			    strerror(errno));
			pidfile_remove(pfh);
			listener_close(&b);
			return EV_EX_SOFTWARE;
		}
		log_init(0, verbose);
		pidfile_write(pfh);
	}

	b.self.uid = getuid();
	b.self.gid = getgid();
	b.self.pid = getpid();
	ev_epoch_new(b.epoch);
	ring_init(&b.ring, events, bytes, 1);
	if ((b.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	{
		struct epoll_event ev = { .events = EPOLLIN };

		ev.data.ptr = NULL;
		if (epoll_ctl(b.epfd, EPOLL_CTL_ADD, b.lfd, &ev) == -1)
			fatal("epoll_ctl");
	}
	snprintf(payload, sizeof(payload), "{\"pid\":%ld,\"epoch\":\"%s\","
	    "\"version\":\"%s\",\"ring\":{\"events\":%" PRIu64 ",\"bytes\":%"
	    PRIu64 "},\"max_event\":%" PRIu64 "}", (long)b.self.pid, b.epoch,
	    EV_VERSION, events, bytes, maxevent);
	bus_publish_internal(&b, "evbus.started", payload);
	log_info("listening on %s (epoch %s)", b.path, b.epoch);
	ready(readyfd);

	loop(&b, &waitmask);

	TAILQ_FOREACH(c, &b.conns, entry)
		conn_close(&b, c, "stopping");
	conn_reap(&b);
	listener_close(&b);
	ring_free(&b.ring);
	ev_buf_free(&b.scratch);
	ev_buf_free(&b.rbuf);
	close(b.epfd);
	if (pfh != NULL)
		pidfile_remove(pfh);
	log_info("stopped");
	return 0;
}
