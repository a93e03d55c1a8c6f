/*
 * evsub: subscribe to the bus and print matching events as NDJSON.
 *
 * A thin user of the library: options, then an ev_subscriber (connection,
 * resume, restarts, de-duplication) on an ev_loop that also holds the
 * stop conditions as timers.  Events are the bus's bytes, one line each,
 * gathered per read and written with one write.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

/* evsub's own exit statuses for its stop conditions. */
#define EX_IDLE		3	/* --idle passed without an event */
#define EX_DEADLINE	4	/* --deadline reached */
#define EX_CLOSED	5	/* the bus went away, --reconnect=never */

/* Long options without a short one: values past any character. */
enum {
	OPT_FROM = 256,
	OPT_LAST,
	OPT_SINCE,
	OPT_FIRST,
	OPT_IDLE,
	OPT_DEADLINE,
	OPT_RECONNECT,
	OPT_DEDUP,
	OPT_VERSION,
	OPT_WHERE,
	OPT_NODE,
	OPT_SERVICE,
	OPT_TAG,
};

struct evsub {
	struct ev_subscriber s;
	struct ev_loop	 loop;
	uint64_t	 count;		/* -c, when counted */
	bool		 counted;	/* -c given (0 included) */
	uint64_t	 printed;	/* events printed (notices apart) */
	uint64_t	 seen;		/* printed as of the last batch */
	/* The stop conditions' durations; -1: none. */
	int64_t		 first_ms, idle_ms, deadline_ms;
	int64_t		 t_last;	/* when the last event came */
	bool		 quiet;
	bool		 lost;		/* said so; say when back */
	bool		 told;		/* the first subscription was seen */
	int		 status;	/* the exit status once stopped */
	struct ev_buf	 out;
	/* Durable consumption: --cursor-file, --durable, --drain. */
	const char	*cursor_file;
	char		 resume[EV_EPOCH_LEN + 1]; /* the file's epoch */
	uint64_t	 batch_seq;	/* the last event put in out */
	char		 file_epoch[EV_EPOCH_LEN + 1]; /* what the file says */
	uint64_t	 file_seq;
	/* -F and the identity options. */
	struct ev_tmpl	*tmpl;		/* -F, or NULL */
	uint64_t	 failed;	/* events -F could not render */
	struct ev_identity ident;
};

/* Long options without a short form, for durable consumption. */
enum {
	OPT_CURSOR_FILE = 0x1201,
	OPT_DRAIN,
	OPT_DURABLE,
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: evsub [-q] [-s socket] [-c count] "
	    "[--from seq | --last n | --since time]\n"
	    "             [--first duration]"
	    " [--idle duration] [--deadline duration]\n"
	    "             [--reconnect=always|never]"
	    " [--dedup-window n]\n"
	    "             [--durable name | --cursor-file file] [--drain]\n"
	    "             [-F format] [--node name] [--service name] [--tag tag]...\n"
	    "             [--where expr]... [pattern ...]\n");
	exit(status);
}

static void __attribute__((noreturn))
nomem(void)
{
	fprintf(stderr, "evsub: out of memory\n");
	exit(EV_EX_SOFTWARE);
}

/*
 * Write all of out to standard output; exit 74 when that fails, and 0,
 * quietly, when the reader went away (EPIPE): see reader_gone.
 */
static void
output(struct evsub *e)
{
	if (ev_buf_write(&e->out, 1) == 0)
		return;
	if (errno == EPIPE)
		exit(EV_EX_OK);
	fprintf(stderr, "evsub: stdout: %s\n", strerror(errno));
	exit(EV_EX_IOERR);
}

/*
 * Durable consumption, once the batch is written: record the last event's
 * seq in the cursor file (after a restart line with no event since: the
 * new epoch and 0), and confirm it to the bus (--durable).  The file is
 * replaced and synced once per batch: a crash of evsub repeats nothing,
 * one of evsub between its write and the file's at most that batch.
 */
static void
confirm(struct evsub *e)
{
	struct ev_err err;
	uint64_t seq = e->batch_seq;
	bool moved = strcmp(e->file_epoch, e->s.epoch) != 0;

	if (e->cursor_file != NULL && e->s.epoch[0] != '\0' &&
	    ((seq > 0 && (moved || seq > e->file_seq)) ||
	    (moved && e->file_epoch[0] != '\0'))) {
		if (ev_cursor_write(e->cursor_file, e->s.epoch, seq, true,
		    &err) == -1) {
			fprintf(stderr, "evsub: --cursor-file: %s\n", err.msg);
			exit(EV_EX_IOERR);
		}
		memcpy(e->file_epoch, e->s.epoch, sizeof(e->file_epoch));
		e->file_seq = seq;
	}
	if (e->batch_seq > 0)
		(void)ev_sub_confirm(&e->s, e->batch_seq, &err);
}

/*
 * Resume from the cursor file; without one, start at the oldest event.
 * Exits 65 when the file cannot be read or is not a cursor file.
 */
static void
resume(struct evsub *e)
{
	struct ev_err err;
	int r;

	if ((r = ev_cursor_read(e->cursor_file, e->resume, &e->file_seq,
	    &err)) == -1) {
		fprintf(stderr, "evsub: --cursor-file: %s\n", err.msg);
		exit(EV_EX_DATAERR);
	}
	if (r == 0) {
		/* A new cursor starts at the oldest event, as a new --durable
		   name does. */
		e->s.start = EV_SUB_FROM;
		e->s.at = 0;
		return;
	}
	memcpy(e->file_epoch, e->resume, sizeof(e->file_epoch));
	e->s.resume_epoch = e->resume;
	e->s.resume_seq = e->file_seq;
}

/* Stop with status once the current callback returns. */
static void
finish(struct evsub *e, int status)
{
	e->status = status;
	ev_loop_stop(&e->loop);
}

/* Each event or notice: its line into the batch; -c may end it here. */
static int
on_event(void *arg, const struct ev_subev *ev)
{
	struct evsub *e = arg;
	struct ev_err err;
	int r;

	/* -c reached (-c 0 at the subscription): nothing more is printed. */
	if (e->counted && e->printed == e->count)
		return 1;
	if (ev->kind == EV_SUBEV_RESTART && e->cursor_file != NULL &&
	    !e->quiet)
		fprintf(stderr, "evsub: %s: the bus has restarted without a "
		    "store (epoch %s, now %s): going on from its oldest "
		    "event\n", e->cursor_file, e->file_epoch[0] != '\0' ?
		    e->file_epoch : "unknown", e->s.epoch);
	if (ev->kind == EV_SUBEV_RESTART)
		e->batch_seq = 0;	/* none yet from the new epoch */
	/* The bus's line, or -F's text; a notice under -F on stderr. */
	if ((r = ev_format_line(e->tmpl, ev, &e->out, &err)) == -1) {
		if (err.kind == EV_ERR_SYS)
			nomem();
		fprintf(stderr, "evsub: %s\n", err.msg);
		e->failed++;
	} else if (r == 0 && !e->quiet)
		fprintf(stderr, "evsub: notice: %.*s\n", (int)ev->len,
		    ev->json);
	if (ev->kind != EV_SUBEV_EVENT)
		return 0;
	e->batch_seq = ev->seq;
	if (++e->printed == e->count && e->counted) {
		finish(e, EV_EX_OK);
		return 1;
	}
	return 0;
}

/* The end of a read: one write for the batch; --idle counts from here. */
static void
on_batch(void *arg)
{
	struct evsub *e = arg;

	if (e->printed != e->seen) {
		e->seen = e->printed;
		e->t_last = ev_mono_ms();
	}
	output(e);
	confirm(e);
}

/*
 * The bus accepted the first subscription: -c 0 has what it asked for
 * (the bus is there and takes the patterns); a --from seq past the bus's
 * newest event is said on stderr, with the bus's epoch, since a seq saved
 * from an earlier daemon run is the usual cause (without a store, a
 * restarted bus numbers from 1 again).  The bus takes such a seq as its
 * next one: what follows are the events published from now on.
 */
static void
first_subscription(struct evsub *e)
{
	struct ev_subscriber *s = &e->s;

	if (e->counted && e->count == 0) {
		finish(e, EV_EX_OK);
		return;
	}
	if (s->start == EV_SUB_FROM && s->at > s->end + 1 && !e->quiet)
		fprintf(stderr, "evsub: --from %" PRIu64 " is beyond the "
		    "bus's newest event (%" PRIu64 ", epoch %s): going on "
		    "from %" PRIu64 "\n", s->at, s->end, s->epoch,
		    s->end + 1);
}

static void
on_state(void *arg, enum ev_sub_state st, const struct ev_err *err)
{
	struct evsub *e = arg;

	switch (st) {
	case EV_SUB_SUBSCRIBED:
		if (!e->told) {
			e->told = true;
			first_subscription(e);
		}
		if (e->lost && !e->quiet)
			fprintf(stderr, "evsub: reconnected\n");
		e->lost = false;
		break;
	case EV_SUB_LOST:
		if (!e->quiet)
			fprintf(stderr, "evsub: lost the bus; reconnecting\n");
		e->lost = true;
		break;
	case EV_SUB_CLOSED:
		if (!e->quiet)
			fprintf(stderr, "evsub: the bus closed the "
			    "connection\n");
		finish(e, EX_CLOSED);
		break;
	case EV_SUB_FAILED:
		fprintf(stderr, "evsub: %s\n", err->msg);
		finish(e, err->kind == EV_ERR_DATA ? EV_EX_USAGE :
		    err->kind == EV_ERR_DENIED ? EV_EX_NOPERM :
		    err->kind == EV_ERR_SYS ? EV_EX_SOFTWARE :
		    EV_EX_UNAVAILABLE);
		break;
	case EV_SUB_CAUGHT_UP:		/* --drain */
		/* Nothing up to the end is left: the cursor may say so. */
		if (e->cursor_file != NULL && e->s.drain_end > e->batch_seq)
			e->batch_seq = e->s.drain_end;
		confirm(e);
		finish(e, EV_EX_OK);
		break;
	}
}

static void
on_deadline(struct ev_loop *l, uint64_t id, void *arg)
{
	(void)l;
	(void)id;
	finish(arg, EX_DEADLINE);
}

static void
on_first(struct ev_loop *l, uint64_t id, void *arg)
{
	struct evsub *e = arg;

	(void)l;
	(void)id;
	if (e->printed > 0)
		return;
	if (!e->quiet)
		fprintf(stderr, "evsub: no event within --first\n");
	finish(e, EV_EX_TEMPFAIL);
}

/* Due idle_ms after the last event; if one came since, wait again. */
static void
on_idle(struct ev_loop *l, uint64_t id, void *arg)
{
	struct evsub *e = arg;
	int64_t left = e->t_last + e->idle_ms - ev_mono_ms();

	(void)id;
	if (left <= 0)
		finish(e, EX_IDLE);
	else if (ev_loop_timer_add(l, left, on_idle, e) == 0)
		nomem();
}

static void
duration_arg(const char *opt, const char *v, int64_t *out)
{
	struct ev_err err;

	if (ev_duration_parse(v, out, &err) == -1) {
		fprintf(stderr, "evsub: %s: %s\n", opt, err.msg);
		exit(EV_EX_USAGE);
	}
}

static void
count_arg(const char *opt, const char *v, uint64_t max, uint64_t *out)
{
	if (ev_parse_u64(v, strlen(v), max, out) == -1) {
		if (errno == ERANGE)
			fprintf(stderr, "evsub: %s '%s': at most %" PRIu64
			    "\n", opt, v, max);
		else
			fprintf(stderr, "evsub: %s '%s': expected a whole "
			    "number\n", opt, v);
		exit(EV_EX_USAGE);
	}
}

/*
 * --where: compile the filter here, so that a mistake is reported before
 * connecting, and keep it for the bus, which evaluates it; exits 64 for a
 * filter the language refuses or one too many.
 */
static void
where_arg(struct ev_subscriber *s, char **list, char *v)
{
	struct ev_err err;

	if (ev_sub_where_add(list, &s->nwhere, v, &err) == -1) {
		if (err.kind == EV_ERR_SYS)
			nomem();
		fprintf(stderr, "evsub: --where: %s\n", err.msg);
		exit(EV_EX_USAGE);
	}
}

/*
 * Standard output's reader went away (poll says POLLERR on the pipe):
 * nobody wants the events any more, which is the reader's decision, not
 * a failure.  Stop at once with status 0, quietly, dropping what was not
 * written; a bus that stays quiet must not keep evsub waiting for an
 * event to find out by a failed write.
 */
static void
on_stdout(struct ev_loop *l, int fd, void *arg)
{
	struct evsub *e = arg;
	struct pollfd p = { .fd = fd, .events = 0 };

	/* Called only on POLLERR or POLLHUP (see watch_stdout); make sure. */
	if (poll(&p, 1, 0) != 1 || (p.revents & (POLLERR | POLLHUP)) == 0)
		return;
	ev_loop_fd_del(l, fd);
	ev_buf_reset(&e->out);
	finish(e, EV_EX_OK);
}

/*
 * When standard output is a pipe (or FIFO) open for writing only, watch it
 * so that on_stdout learns at once that the reader closed it, as at the
 * end of 'evsub | head -n 3'.  A pipe's write end never polls readable:
 * poll(2) reports it only with POLLERR, once no reader is left, so the
 * watch costs nothing until then.  Files, terminals and sockets are not
 * watched (a terminal or socket may be readable, which would wake the
 * loop for nothing); there a gone reader is found at the next write.
 */
static void
watch_stdout(struct evsub *e)
{
	struct ev_err err;
	struct stat st;
	int fl;

	if (fstat(1, &st) == -1 || !S_ISFIFO(st.st_mode) ||
	    (fl = fcntl(1, F_GETFL)) == -1 || (fl & O_ACCMODE) != O_WRONLY)
		return;
	if (ev_loop_fd_add(&e->loop, 1, EV_LOOP_READ, on_stdout, NULL, e,
	    &err) == -1)
		nomem();
}

/*
 * --since TIME: RFC 3339, epoch milliseconds, or a duration meaning that
 * long ago (ev_time_parse); a time before 1970 is the epoch, the oldest
 * event the ring may hold.
 */
static void
since_arg(const char *v, uint64_t *out)
{
	struct ev_err err;
	int64_t ms;

	if (ev_time_parse(v, ev_now_ms(), &ms, &err) == -1) {
		fprintf(stderr, "evsub: --since: %s\n", err.msg);
		exit(EV_EX_USAGE);
	}
	*out = ms < 0 ? 0 : (uint64_t)ms;
}

/* The stop conditions, as timers from now. */
static void
timers(struct evsub *e)
{
	if ((e->deadline_ms >= 0 && ev_loop_timer_add(&e->loop,
	    e->deadline_ms, on_deadline, e) == 0) ||
	    (e->first_ms >= 0 && ev_loop_timer_add(&e->loop, e->first_ms,
	    on_first, e) == 0) ||
	    (e->idle_ms >= 0 && ev_loop_timer_add(&e->loop, e->idle_ms,
	    on_idle, e) == 0))
		nomem();
}

int
main(int argc, char *argv[])
{
	/* Long options without a letter of their own. */
	static const struct option longopts[] = {
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "count",	required_argument,	NULL, 'c' },
		{ "from",	required_argument,	NULL, OPT_FROM },
		{ "last",	required_argument,	NULL, OPT_LAST },
		{ "since",	required_argument,	NULL, OPT_SINCE },
		{ "first",	required_argument,	NULL, OPT_FIRST },
		{ "idle",	required_argument,	NULL, OPT_IDLE },
		{ "deadline",	required_argument,	NULL, OPT_DEADLINE },
		{ "reconnect",	required_argument,	NULL, OPT_RECONNECT },
		{ "dedup-window", required_argument,	NULL, OPT_DEDUP },
		{ "cursor-file", required_argument,	NULL, OPT_CURSOR_FILE },
		{ "drain",	no_argument,		NULL, OPT_DRAIN },
		{ "durable",	required_argument,	NULL, OPT_DURABLE },
		{ "format",	required_argument,	NULL, 'F' },
		{ "node",	required_argument,	NULL, OPT_NODE },
		{ "service",	required_argument,	NULL, OPT_SERVICE },
		{ "tag",	required_argument,	NULL, OPT_TAG },
		{ "where",	required_argument,	NULL, OPT_WHERE },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, OPT_VERSION },
		{ NULL,		0,			NULL, 0 }
	};
	static struct evsub e;
	struct ev_subscriber *s = &e.s;
	struct ev_patset check = { 0 };
	char *where[EV_WHERE_MAX];
	struct ev_err err;
	uint64_t v;
	int starts = 0;		/* --from, --last, --since given */
	int ch, i, r, closed;
	static char *tags[EV_IDENTITY_TAGS];
	const char *node = NULL, *service = NULL, *format = NULL;
	size_t ntags = 0;

	/* First: a closed stdout must not become the bus's socket. */
	if ((closed = ev_stdfds_open()) == -1) {
		fprintf(stderr, "evsub: /dev/null: %s\n", strerror(errno));
		return EV_EX_IOERR;
	}
	if (closed & EV_STDOUT_CLOSED) {
		fprintf(stderr, "evsub: stdout: closed, nowhere to print "
		    "the events\n");
		return EV_EX_IOERR;
	}
	ev_sub_init(s);
	s->name = "evsub";
	s->flags = EV_CLIENT_AUTOSTART;
	e.first_ms = e.idle_ms = e.deadline_ms = -1;
	while ((ch = getopt_long(argc, argv, "qs:c:F:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			e.quiet = true;
			break;
		case 's':
			s->path = optarg;
			break;
		case 'c':
			/* 0 too: subscribe, print nothing, exit 0. */
			count_arg("-c", optarg, INT64_MAX, &e.count);
			e.counted = true;
			break;
		case OPT_FROM:
			count_arg("--from", optarg, INT64_MAX, &s->at);
			s->start = EV_SUB_FROM;
			starts++;
			break;
		case OPT_LAST:
			/* 0 too: replay nothing, as tail -n 0 -f. */
			count_arg("--last", optarg, INT64_MAX, &s->at);
			s->start = EV_SUB_LAST;
			starts++;
			break;
		case OPT_SINCE:
			since_arg(optarg, &s->at);
			s->start = EV_SUB_SINCE;
			starts++;
			break;
		case OPT_FIRST:
			duration_arg("--first", optarg, &e.first_ms);
			break;
		case OPT_IDLE:
			duration_arg("--idle", optarg, &e.idle_ms);
			break;
		case OPT_DEADLINE:
			duration_arg("--deadline", optarg, &e.deadline_ms);
			break;
		case OPT_RECONNECT:
			if (strcmp(optarg, "always") == 0)
				s->reconnect = true;
			else if (strcmp(optarg, "never") == 0)
				s->reconnect = false;
			else {
				fprintf(stderr, "evsub: --reconnect '%s': "
				    "expected always or never\n", optarg);
				return EV_EX_USAGE;
			}
			break;
		case OPT_DEDUP:
			count_arg("--dedup-window", optarg, EV_SUB_DEDUP_MAX,
			    &v);
			s->dedup = (size_t)v;
			break;
		case OPT_CURSOR_FILE:
			e.cursor_file = optarg;
			break;
		case OPT_DRAIN:
			s->drain = true;
			break;
		case OPT_DURABLE:
			s->durable = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case OPT_NODE:
			node = optarg;
			break;
		case OPT_SERVICE:
			service = optarg;
			break;
		case OPT_TAG:
			if (ntags == EV_IDENTITY_TAGS) {
				fprintf(stderr, "evsub: --tag: at most %d\n",
				    EV_IDENTITY_TAGS);
				return EV_EX_USAGE;
			}
			tags[ntags++] = optarg;
			break;
		case OPT_WHERE:
			where_arg(s, where, optarg);
			break;
		case 'h':
			usage(0);
		case OPT_VERSION:
			printf("evsub %s\n", EV_VERSION);
			return 0;
		default:
			usage(EV_EX_USAGE);
		}
	}
	if (starts > 1) {
		fprintf(stderr, "evsub: --from, --last and --since exclude "
		    "each other: give one\n");
		return EV_EX_USAGE;
	}
	/* Durable consumption: where to start is the cursor's. */
	if (e.cursor_file != NULL && s->durable != NULL) {
		fprintf(stderr, "evsub: --cursor-file and --durable exclude "
		    "each other\n");
		return EV_EX_USAGE;
	}
	if (e.cursor_file != NULL && s->start != EV_SUB_LIVE) {
		fprintf(stderr, "evsub: --cursor-file excludes --from, --last "
		    "and --since\n");
		return EV_EX_USAGE;
	}
	if (e.cursor_file != NULL)
		resume(&e);
	s->where = where;
	s->pats = argv + optind;
	s->npats = (size_t)(argc - optind);
	for (i = optind; i < argc; i++)
		if (ev_patset_add(&check, argv[i], strlen(argv[i]),
		    &err) == -1) {
			fprintf(stderr, "evsub: %s\n", err.msg);
			return EV_EX_USAGE;
		}
	ev_patset_free(&check);
	if (format != NULL && (e.tmpl = ev_tmpl_compile(format,
	    &err)) == NULL) {
		fprintf(stderr, "evsub: -F: %s\n", err.msg);
		return err.kind == EV_ERR_SYS ? EV_EX_SOFTWARE : EV_EX_USAGE;
	}
	if (ev_identity_init(&e.ident, node, service, tags, ntags,
	    &err) == -1) {
		fprintf(stderr, "evsub: %s\n", err.msg);
		return err.kind == EV_ERR_SYS ? EV_EX_SOFTWARE : EV_EX_USAGE;
	}
	s->ident = &e.ident;
	signal(SIGPIPE, SIG_IGN);

	s->on_event = on_event;
	s->on_batch = on_batch;
	s->on_state = on_state;
	s->arg = &e;
	ev_loop_init(&e.loop);
	e.t_last = ev_mono_ms();
	if (ev_sub_start(s, &e.loop, &err) == -1) {
		fprintf(stderr, "evsub: %s\n", err.msg);
		r = ev_err_exit(&err);
		return r == EV_EX_DATAERR ? EV_EX_USAGE : r;
	}
	timers(&e);
	watch_stdout(&e);
	if (ev_loop_run(&e.loop, &err) == -1) {
		fprintf(stderr, "evsub: %s\n", err.msg);
		e.status = EV_EX_SOFTWARE;
	}
	output(&e);
	ev_sub_free(s);
	ev_loop_free(&e.loop);
	ev_buf_free(&e.out);
	ev_tmpl_free(e.tmpl);
	ev_identity_free(&e.ident);
	/* -F: events it could not render turn a success into 1. */
	if (e.status == EV_EX_OK && e.failed > 0)
		return EV_EX_REJECTED;
	return e.status;
}
