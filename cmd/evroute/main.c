/*
 * evroute: route NDJSON events from standard input by rules: to standard
 * output or error, to files, to long-running commands, back to the bus,
 * or nowhere.  evroute(1) is the manual; evroute.h says which file does
 * what.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evroute.h"

static volatile sig_atomic_t hup;
static int sigpipe_w = -1;

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: evroute [-a] [-f routes] [-e rule]... "
	    "[--unmatched=pass|drop]\n"
	    "               [--unroutable=stderr|drop|file:PATH] [--check] "
	    "[-s socket]\n");
	exit(status);
}

void
nomem(void)
{
	fprintf(stderr, "evroute: out of memory\n");
	exit(EV_EX_SOFTWARE);
}

/* A message on standard error, after the lines routed there so far. */
void
report(struct evroute *e, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL)
		sink_flush_stderr(e);
	fputs("evroute: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * A message, then exit with status.  The lines routed to standard error
 * go first, once: a failure to write them ends here again.
 */
void
fatal(struct evroute *e, int status, const char *fmt, ...)
{
	static bool dying;
	va_list ap;

	if (e != NULL && !dying) {
		dying = true;
		sink_flush_stderr(e);
	}
	fputs("evroute: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void
on_signal(int sig)
{
	int saved = errno;
	char c = 'h';

	(void)sig;
	hup = 1;
	if (sigpipe_w >= 0)
		(void)write(sigpipe_w, &c, 1);
	errno = saved;
}

/* The self-pipe: SIGHUP reopens the files. */
static void
on_sigpipe(struct ev_loop *loop, int fd, void *arg)
{
	struct evroute *e = arg;
	char buf[64];

	(void)loop;
	while (read(fd, buf, sizeof(buf)) > 0)
		continue;
	if (hup) {
		hup = 0;
		sink_reopen_files(e);
	}
}

static void
signals(struct evroute *e)
{
	struct sigaction sa;
	struct ev_err err;
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal(NULL, EV_EX_SOFTWARE, "pipe: %s", strerror(errno));
	e->sigfd = p[0];
	sigpipe_w = p[1];
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (ev_loop_fd_add(&e->loop, e->sigfd, EV_LOOP_READ, on_sigpipe, NULL,
	    e, &err) == -1)
		nomem();
}

/* One -f or -e: its rules appended; bad ones end evroute with 65. */
static void
add_rules(struct evroute *e, const char *file, const char *text,
    unsigned n)
{
	struct ev_err err;
	char name[32];
	int r;

	if (file != NULL)
		r = ev_routes_load(&e->rs, file, &err);
	else {
		snprintf(name, sizeof(name), "-e %u", n);
		r = ev_routes_parse(&e->rs, text, strlen(text), name, &err);
	}
	if (r == -1)
		fatal(NULL, ev_err_exit(&err), "%s", err.msg);
}

enum {
	OPT_UNMATCHED = 256,
	OPT_UNROUTABLE,
	OPT_CHECK,
	OPT_VERSION,
};

/* Options; rules parsed in the order given.  Returns whether --check. */
static bool
parse_options(struct evroute *e, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "file", required_argument, NULL, 'f' },
		{ "rule", required_argument, NULL, 'e' },
		{ "socket", required_argument, NULL, 's' },
		{ "unmatched", required_argument, NULL, OPT_UNMATCHED },
		{ "unroutable", required_argument, NULL, OPT_UNROUTABLE },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	unsigned ne = 0;
	bool check = false, given = false;
	int c;

	while ((c = getopt_long(argc, argv, "ae:f:hs:", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 'a':
			e->all = true;
			break;
		case 'e':
			add_rules(e, NULL, optarg, ++ne);
			given = true;
			break;
		case 'f':
			add_rules(e, optarg, NULL, 0);
			given = true;
			break;
		case 's':
			e->sock = optarg;
			break;
		case OPT_UNMATCHED:
			if (strcmp(optarg, "pass") == 0)
				e->drop_unmatched = false;
			else if (strcmp(optarg, "drop") == 0)
				e->drop_unmatched = true;
			else {
				fprintf(stderr, "evroute: --unmatched: '%s' is "
				    "not pass or drop\n", optarg);
				usage(EV_EX_USAGE);
			}
			break;
		case OPT_UNROUTABLE:
			e->drop_unroutable = false;
			e->unroutable_file = NULL;
			if (strcmp(optarg, "drop") == 0)
				e->drop_unroutable = true;
			else if (strncmp(optarg, "file:", 5) == 0 &&
			    optarg[5] != '\0')
				e->unroutable_file = optarg + 5;
			else if (strcmp(optarg, "stderr") != 0) {
				fprintf(stderr, "evroute: --unroutable: '%s' "
				    "is not stderr, drop or file:PATH\n",
				    optarg);
				usage(EV_EX_USAGE);
			}
			break;
		case OPT_CHECK:
			check = true;
			break;
		case 'h':
			usage(EV_EX_OK);
		case OPT_VERSION:
			printf("evroute %s\n", EV_VERSION);
			exit(EV_EX_OK);
		default:
			usage(EV_EX_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "evroute: unexpected argument '%s' (a rule "
		    "goes after -e)\n", argv[optind]);
		usage(EV_EX_USAGE);
	}
	if (!given) {
		fprintf(stderr, "evroute: no rules: give -e RULE or -f "
		    "FILE\n");
		usage(EV_EX_USAGE);
	}
	return check;
}

/* A destination for each rule that writes, then the publisher. */
static void
setup(struct evroute *e)
{
	static const enum sink_kind kinds[] = {
		[EV_ROUTE_STDOUT] = SK_STDOUT, [EV_ROUTE_STDERR] = SK_STDERR,
		[EV_ROUTE_FILE] = SK_FILE, [EV_ROUTE_EXEC] = SK_EXEC,
	};
	const struct ev_route *r;
	bool fire = false;
	size_t i;

	if ((e->rsink = calloc(e->rs.n, sizeof(*e->rsink))) == NULL ||
	    (e->doc = ev_expr_doc_new()) == NULL)
		nomem();
	for (i = 0; i < e->rs.n; i++) {
		r = &e->rs.r[i];
		if (r->action == EV_ROUTE_FIRE)
			fire = true;
		else if (r->action != EV_ROUTE_DROP)
			e->rsink[i] = sink_get(e, kinds[r->action], r->arg);
	}
	if (!e->drop_unmatched)
		e->out = sink_get(e, SK_STDOUT, NULL);
	/* Only fire rules make unroutable events. */
	if (fire && e->unroutable_file != NULL)
		e->unroutable = sink_get(e, SK_FILE, e->unroutable_file);
	else if (fire && !e->drop_unroutable)
		e->unroutable = sink_get(e, SK_STDERR, NULL);
	signals(e);
	sink_open_all(e);
	if (fire)
		fire_open(e);
}

int
main(int argc, char **argv)
{
	struct evroute e;
	struct ev_err err;
	int closed;

	if ((closed = ev_stdfds_open()) == -1) {
		perror("evroute: /dev/null");
		return EV_EX_SOFTWARE;
	}
	memset(&e, 0, sizeof(e));
	e.sigfd = -1;
	e.pubfd = -1;
	ev_loop_init(&e.loop);
	if (parse_options(&e, argc, argv)) {
		ev_routes_free(&e.rs);
		return EV_EX_OK;
	}
	if (closed & EV_STDOUT_CLOSED) {
		fprintf(stderr, "evroute: stdout: closed\n");
		return EV_EX_IOERR;
	}
	setup(&e);
	input_start(&e);
	for (;;) {
		if (e.eof && sink_done(&e) && fire_done(&e))
			break;
		if (ev_loop_once(&e.loop, -1, &err) == -1)
			fatal(&e, EV_EX_SOFTWARE, "%s", err.msg);
	}
	if (e.firing && ev_pub_drain(&e.pub, &err) == -1)
		fatal(&e, EV_EX_UNAVAILABLE, "fire: %s", err.msg);
	fire_close(&e);
	sink_close_all(&e);
	ev_lines_free(&e.in);
	ev_expr_doc_free(e.doc);
	free(e.rsink);
	ev_routes_free(&e.rs);
	ev_loop_free(&e.loop);
	if (fflush(stderr) == EOF)
		return EV_EX_IOERR;
	return e.status;
}
