/*
 * evbusd: the evbus daemon.  One thread, one epoll loop, non-blocking
 * sockets.  Signals only set a flag; the loop does the work.
 */
#include <sys/epoll.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <libutil.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbusd.h"

/* What the command line asks for. */
struct config {
	const char	*sock;
	const char	*pidpath;
	uint64_t	 events;
	uint64_t	 bytes;
	uint64_t	 maxevent;
	uint64_t	 maxdepth;
	uint64_t	 maxclients;
	int64_t		 handshake_ms;
	int		 detach;
	int		 verbose;
	int		 readyfd;
	const char	*acl;		/* -A */
	const char	*checkacl;	/* --check-acl */
	const char	*group;		/* --group */
	const char	*storedir;	/* --store */
	enum ev_store_sync storesync;	/* --sync */
	bool		 synced;	/* --sync was given */
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: evbusd [-dv] [-s socket] [-r fd] [-b events] [-B bytes] "
	    "[-m max-event-bytes]\n"
	    "              [-A acl-file [--group group]] [-p pidfile] "
	    "[--max-depth n]\n"
	    "              [--max-clients n] [--handshake-timeout duration]\n"
	    "              [--store dir [--sync always|batch|none]]\n"
	    "       evbusd --check-acl acl-file\n");
	exit(status);
}

static void
sizearg(const char *opt, const char *s, uint64_t min, uint64_t max,
    uint64_t *out)
{
	if (ev_size_parse(s, min, max, out) == -1) {
		fprintf(stderr, "evbusd: %s '%s': expected a number from %"
		    PRIu64 " to %" PRIu64 ", optionally with k, M or G\n",
		    opt, s, min, max);
		exit(EV_EX_USAGE);
	}
}

/* Read the options into cfg; exits 64 on a bad one, 0 after --help. */
static void
parse_options(int argc, char *argv[], struct config *cfg)
{
	static const struct option longopts[] = {
		{ "detach",		no_argument,		NULL, 'd' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "socket",		required_argument,	NULL, 's' },
		{ "ready-fd",		required_argument,	NULL, 'r' },
		{ "ring-events",	required_argument,	NULL, 'b' },
		{ "ring-bytes",		required_argument,	NULL, 'B' },
		{ "max-event",		required_argument,	NULL, 'm' },
		{ "max-depth",		required_argument,	NULL, 'D' },
		{ "pidfile",		required_argument,	NULL, 'p' },
		{ "max-clients",	required_argument,	NULL, 'C' },
		{ "handshake-timeout",	required_argument,	NULL, 'T' },
		{ "acl",		required_argument,	NULL, 'A' },
		{ "check-acl",		required_argument,	NULL, 'K' },
		{ "group",		required_argument,	NULL, 'G' },
		{ "store",		required_argument,	NULL, 'S' },
		{ "sync",		required_argument,	NULL, 'Y' },
		{ "help",		no_argument,		NULL, 'h' },
		{ "version",		no_argument,		NULL, 'V' },
		{ NULL,			0,			NULL, 0 }
	};
	struct ev_err err;
	uint64_t v;
	int ch;

	while ((ch = getopt_long(argc, argv, "dvs:r:b:B:m:p:hA:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			cfg->detach = 1;
			break;
		case 'v':
			cfg->verbose++;
			break;
		case 's':
			cfg->sock = optarg;
			break;
		case 'r':
			if (ev_parse_u64(optarg, strlen(optarg), INT_MAX,
			    &v) == -1 || fcntl((int)v, F_GETFD) == -1) {
				fprintf(stderr, "evbusd: -r %s: not an open "
				    "file descriptor\n", optarg);
				exit(EV_EX_USAGE);
			}
			cfg->readyfd = (int)v;
			break;
		case 'b':
			sizearg("-b", optarg, 1, 1U << 30, &cfg->events);
			break;
		case 'B':
			sizearg("-B", optarg, 4096, (uint64_t)1 << 40,
			    &cfg->bytes);
			break;
		case 'm':
			sizearg("-m", optarg, 256, EV_EVENT_MAX_LIMIT,
			    &cfg->maxevent);
			break;
		case 'D':
			sizearg("--max-depth", optarg, 2, 2000,
			    &cfg->maxdepth);
			break;
		case 'p':
			cfg->pidpath = optarg;
			break;
		case 'C':
			sizearg("--max-clients", optarg, 1, 1000000,
			    &cfg->maxclients);
			break;
		case 'T':
			if (ev_duration_parse(optarg, &cfg->handshake_ms,
			    &err) == -1 || cfg->handshake_ms <= 0) {
				fprintf(stderr, "evbusd: --handshake-timeout "
				    "'%s': %s\n", optarg, cfg->handshake_ms <= 0
				    ? "must be positive" : err.msg);
				exit(EV_EX_USAGE);
			}
			break;
		case 'A':
			cfg->acl = optarg;
			break;
		case 'K':
			cfg->checkacl = optarg;
			break;
		case 'G':
			cfg->group = optarg;
			break;
		case 'S':
			cfg->storedir = optarg;
			break;
		case 'Y':
			cfg->synced = true;
			if (ev_store_sync_parse(optarg, &cfg->storesync) == -1) {
				fprintf(stderr, "evbusd: --sync '%s': expected "
				    "always, batch or none\n", optarg);
				exit(EV_EX_USAGE);
			}
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("evbusd %s\n", EV_VERSION);
			exit(0);
		default:
			usage(EV_EX_USAGE);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "evbusd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(EV_EX_USAGE);
	}
	if (cfg->synced && cfg->storedir == NULL) {
		fprintf(stderr, "evbusd: --sync is the store's policy: give "
		    "--store dir too\n");
		usage(EV_EX_USAGE);
	}
	if (cfg->group != NULL && cfg->acl == NULL) {
		fprintf(stderr, "evbusd: --group shares the bus with other "
		    "users: give the rules with -A (a file saying 'allow all "
		    "# any' lets every member do everything)\n");
		usage(EV_EX_USAGE);
	}
	if (cfg->bytes < cfg->maxevent + 64) {
		fprintf(stderr, "evbusd: -B %" PRIu64 " must exceed -m %"
		    PRIu64 ": the ring must hold the largest event\n",
		    cfg->bytes, cfg->maxevent);
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

/*
 * --group NAME|GID: the group the socket is shared with, into b.  Exits
 * 64 for an unknown group, or a socket at the default place (which is
 * private by definition: clients of other users never look there).
 */
static void
shared_group(struct evbusd *b, const char *name, bool isdefault)
{
	struct group *gr;
	uint64_t v;

	if (isdefault) {
		fprintf(stderr, "evbusd: --group needs a socket named with -s "
		    "or EVBUS_SOCKET (such as /run/evbus/sock): the default "
		    "place is private\n");
		exit(EV_EX_USAGE);
	}
	errno = 0;
	if (ev_parse_u64(name, strlen(name), UINT32_MAX - 1, &v) == 0)
		b->group = (gid_t)v;
	else if ((gr = getgrnam(name)) != NULL)
		b->group = gr->gr_gid;
	else {
		fprintf(stderr, "evbusd: --group %s: %s\n", name, errno != 0 ?
		    strerror(errno) : "no such group");
		exit(EV_EX_USAGE);
	}
	b->shared = true;
}

/* -A FILE: load the rules, or exit with the file's reason (65, 77, 74). */
static void
load_acl(struct evbusd *b, const char *file)
{
	char path[PATH_MAX];
	struct ev_err err;

	if (snprintf(path, sizeof(path), "%s", file) >= (int)sizeof(path)) {
		fprintf(stderr, "evbusd: -A %s: path too long\n", file);
		exit(EV_EX_USAGE);
	}
	/* Absolute: a detached daemon reloads it from /. */
	absolute_path(path, sizeof(path));
	if (acl_open(b, path, &err) == -1) {
		fprintf(stderr, "evbusd: %s\n", err.msg);
		exit(ev_err_exit(&err));
	}
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

/*
 * Detach: take the pidfile (the socket's path plus ".pid" unless -p),
 * fork into the background, log to syslog.  Exits when it cannot.
 */
static struct pidfh *
detach(struct evbusd *b, const struct config *cfg)
{
	char pidbuf[sizeof(b->path) + 8];
	const char *pidpath = cfg->pidpath;
	struct pidfh *pfh;
	pid_t other;
	int fd;

	if (pidpath == NULL) {
		snprintf(pidbuf, sizeof(pidbuf), "%s.pid", b->path);
		pidpath = pidbuf;
	}
	/*
	 * Made here first, never through a link planted in a shared
	 * directory: pidfile_open then opens the file that is ours.
	 */
	if ((fd = open(pidpath, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "evbusd: pidfile %s: %s\n", pidpath,
		    strerror(errno));
		exit(EV_EX_IOERR);
	}
	close(fd);
	if ((pfh = pidfile_open(pidpath, 0600, &other)) == NULL) {
		if (errno == EEXIST)
			fprintf(stderr, "evbusd: already running, pid %ld "
			    "(%s)\n", (long)other, pidpath);
		else
			fprintf(stderr, "evbusd: pidfile %s: %s\n", pidpath,
			    strerror(errno));
		listener_close(b);
		exit(EV_EX_UNAVAILABLE);
	}
	if (daemon(0, 0) == -1) {
		fprintf(stderr, "evbusd: daemon: %s\n", strerror(errno));
		pidfile_remove(pfh);
		listener_close(b);
		exit(EV_EX_SOFTWARE);
	}
	log_init(0, cfg->verbose);
	if (pidfile_write(pfh) == -1 || pwrite(pidfile_fileno(pfh), "\n", 1,
	    lseek(pidfile_fileno(pfh), 0, SEEK_END)) != 1)
		log_warn("pidfile %s", pidpath);
	return pfh;
}

/* The bus's state once it listens: ring, epoll, the started event. */
static void
bus_start(struct evbusd *b, const struct config *cfg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char payload[256];

	b->self.uid = getuid();
	b->self.gid = getgid();
	b->self.pid = getpid();
	b->started_ms = ev_mono_ms();
	ev_epoch_new(b->epoch);
	ev_ring_init(&b->ring, b->ringmax, b->ringmaxbytes, 1);
	if ((b->subs = ev_sublist_new()) == NULL)
		fatal("subscription index");
	if ((b->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	ev.data.ptr = NULL;
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->lfd, &ev) == -1)
		fatal("epoll_ctl");
	/* --store: the epoch, seq and ring from the log (store.c). */
	if (b->store != NULL) {
		store_start(b);
		ev.data.ptr = &b->store;
		if (ev_store_pollfd(b->store) != -1 && epoll_ctl(b->epfd,
		    EPOLL_CTL_ADD, ev_store_pollfd(b->store), &ev) == -1)
			fatal("epoll_ctl");
	}
	snprintf(payload, sizeof(payload), "{\"pid\":%ld,\"epoch\":\"%s\","
	    "\"version\":\"%s\",\"ring\":{\"events\":%" PRIu64 ",\"bytes\":%"
	    PRIu64 "},\"max_event\":%" PRIu64 "}", (long)b->self.pid, b->epoch,
	    EV_VERSION, cfg->events, cfg->bytes, cfg->maxevent);
	bus_announce(b, "evbus.started", payload);
	log_info("listening on %s (epoch %s)", b->path, b->epoch);
}

/* Hang up on everyone, stop listening, free what the bus holds. */
static void
bus_stop(struct evbusd *b)
{
	struct conn *c;

	TAILQ_FOREACH(c, &b->conns, entry)
		conn_close(b, c, "stopping");
	conn_reap(b);
	listener_close(b);
	store_close(b);
	ev_ring_free(&b->ring);
	session_free_all(b);
	ev_sublist_free(b->subs);
	ev_buf_free(&b->scratch);
	ev_buf_free(&b->rbuf);
	sub_where_fini(b);
	acl_close(b);
	close(b->epfd);
}

int
main(int argc, char *argv[])
{
	static struct evbusd b;
	struct config cfg = {
		.events = 65536,
		.bytes = 16 * 1024 * 1024,
		.maxevent = EV_EVENT_MAX_DEFAULT,
		.maxdepth = EV_DEPTH_DEFAULT,
		.maxclients = 256,
		.handshake_ms = 5000,
		.readyfd = -1,
	};
	struct pidfh *pfh = NULL;
	struct ev_err err;
	sigset_t waitmask;
	bool isdefault;

	/* First: no socket or file may become a closed stdin/out/err. */
	if (ev_stdfds_open() == -1) {
		fprintf(stderr, "evbusd: /dev/null: %s\n", strerror(errno));
		return EV_EX_IOERR;
	}
	parse_options(argc, argv, &cfg);
	/* What the bus creates (log, cursors, pidfile) is its own alone. */
	umask(077);
	/* Filters are other clients' code: one test() may not stall us. */
	ev_expr_regex_budget(EV_REGEX_BUDGET_DAEMON);
	if (cfg.checkacl != NULL)
		return acl_check_file(cfg.checkacl);
	b.lfd = b.lockfd = -1;
	b.maxconns = cfg.maxclients;
	b.maxevent = cfg.maxevent;
	b.maxdepth = cfg.maxdepth;
	b.ringmax = cfg.events;
	b.ringmaxbytes = cfg.bytes;
	b.handshake_ms = cfg.handshake_ms;
	TAILQ_INIT(&b.conns);
	log_init(1, cfg.verbose);

	if (ev_sockpath(cfg.sock, b.path, sizeof(b.path), &isdefault,
	    &err) == -1) {
		fprintf(stderr, "evbusd: %s\n", err.msg);
		return EV_EX_USAGE;
	}
	absolute_path(b.path, sizeof(b.path));
	/* A shared bus: its rules, its group's directory. */
	if (cfg.acl != NULL)
		load_acl(&b, cfg.acl);
	if (cfg.group != NULL) {
		shared_group(&b, cfg.group, isdefault);
		if (listener_group_dir(&b, &err) == -1) {
			fprintf(stderr, "evbusd: %s\n", err.msg);
			return ev_err_exit(&err);
		}
	}
	if (ev_sockdir_prepare(b.path, isdefault, &err) == -1) {
		fprintf(stderr, "evbusd: %s\n", err.msg);
		return ev_err_exit(&err);
	}
	/* --store: open the log first, so that a second writer fails now. */
	if (cfg.storedir != NULL && store_open(&b, cfg.storedir, cfg.storesync,
	    &err) == -1) {
		fprintf(stderr, "evbusd: --store: %s\n", err.msg);
		return ev_err_exit(&err);
	}
	loop_signals(&waitmask);
	if (listener_open(&b, &err) == -1) {
		fprintf(stderr, "evbusd: %s\n", err.msg);
		return err.kind == EV_ERR_UNAVAILABLE ? EV_EX_UNAVAILABLE :
		    ev_err_exit(&err);
	}
	if (cfg.detach) {
		/* The store's fsync thread would not cross the fork. */
		store_close(&b);
		pfh = detach(&b, &cfg);
		if (cfg.storedir != NULL && store_open(&b, b.storedir,
		    cfg.storesync, &err) == -1)
			fatalx("--store %s: %s", cfg.storedir, err.msg);
	}
	bus_start(&b, &cfg);
	if (b.acl != NULL)
		log_info("%s: %zu rules in force%s", b.aclpath, b.acl->nrules,
		    b.shared ? ", socket shared with its group" : "");
	ready(cfg.readyfd);
	loop_run(&b, &waitmask);
	bus_stop(&b);
	if (pfh != NULL)
		pidfile_remove(pfh);
	log_info("stopped");
	return 0;
}
