/*
 * evsub: subscribe to the bus and print matching events as NDJSON.
 *
 * A thin user of the library: options, then an ev_subscriber (connection,
 * resume, restarts, de-duplication) on an ev_loop that also holds the
 * stop conditions as timers.  Events are the bus's bytes, one line each,
 * gathered per read and written with one write.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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

/* Long options without a letter of their own. */
#define OPT_WHERE	0x1100

struct evsub {
	struct ev_subscriber s;
	struct ev_loop	 loop;
	uint64_t	 count;		/* -c; 0 for no limit */
	uint64_t	 printed;	/* events printed (notices apart) */
	uint64_t	 seen;		/* printed as of the last batch */
	/* The stop conditions' durations; -1: none. */
	int64_t		 first_ms, idle_ms, deadline_ms;
	int64_t		 t_last;	/* when the last event came */
	bool		 quiet;
	bool		 lost;		/* said so; say when back */
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
	    "usage: evsub [-q] [-s socket] [-c count] [--from seq | --last n] "
	    "[--first duration]\n"
	    "             [--idle duration] [--deadline duration] "
	    "[--reconnect=always|never]\n"
	    "             [--dedup-window n] [--durable name | --cursor-file "
	    "file] [--drain]\n"
	    "             [-F format] [--node name] [--service name] "
	    "[--tag tag]...\n"
	    "             [--where expr]... [pattern ...]\n");
	exit(status);
}

static void __attribute__((noreturn))
nomem(void)
{
	fprintf(stderr, "evsub: out of memory\n");
	exit(EV_EX_SOFTWARE);
}

/* Write all of out to standard output; exit 74 when that fails. */
static void
output(struct evsub *e)
{
	ssize_t n;

	while (ev_buf_unread(&e->out) > 0) {
		n = write(1, ev_buf_head(&e->out), ev_buf_unread(&e->out));
		if (n > 0) {
			ev_buf_consume(&e->out, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (errno != EPIPE)
			fprintf(stderr, "evsub: stdout: %s\n",
			    strerror(errno));
		exit(EV_EX_IOERR);
	}
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
	if (++e->printed == e->count) {
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

static void
on_state(void *arg, enum ev_sub_state st, const struct ev_err *err)
{
	struct evsub *e = arg;

	switch (st) {
	case EV_SUB_SUBSCRIBED:
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
	enum { OPT_FROM = 256, OPT_NODE, OPT_SERVICE, OPT_TAG };
	static const struct option longopts[] = {
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "count",	required_argument,	NULL, 'c' },
		{ "from",	required_argument,	NULL, OPT_FROM },
		{ "last",	required_argument,	NULL, 'L' },
		{ "first",	required_argument,	NULL, '1' },
		{ "idle",	required_argument,	NULL, 'I' },
		{ "deadline",	required_argument,	NULL, 'D' },
		{ "reconnect",	required_argument,	NULL, 'R' },
		{ "dedup-window", required_argument,	NULL, 'W' },
		{ "cursor-file", required_argument,	NULL, OPT_CURSOR_FILE },
		{ "drain",	no_argument,		NULL, OPT_DRAIN },
		{ "durable",	required_argument,	NULL, OPT_DURABLE },
		{ "format",	required_argument,	NULL, 'F' },
		{ "node",	required_argument,	NULL, OPT_NODE },
		{ "service",	required_argument,	NULL, OPT_SERVICE },
		{ "tag",	required_argument,	NULL, OPT_TAG },
		{ "where",	required_argument,	NULL, OPT_WHERE },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	static struct evsub e;
	struct ev_subscriber *s = &e.s;
	struct ev_patset check = { 0 };
	char *where[EV_WHERE_MAX];
	struct ev_err err;
	uint64_t v;
	bool has_from = false, has_last = false;
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
			count_arg("-c", optarg, INT64_MAX, &e.count);
			if (e.count == 0) {
				fprintf(stderr, "evsub: -c: must be at least "
				    "1\n");
				return EV_EX_USAGE;
			}
			break;
		case OPT_FROM:
			count_arg("--from", optarg, INT64_MAX, &s->at);
			s->start = EV_SUB_FROM;
			has_from = true;
			break;
		case 'L':
			count_arg("--last", optarg, INT64_MAX, &s->at);
			s->start = EV_SUB_LAST;
			has_last = true;
			break;
		case '1':
			duration_arg("--first", optarg, &e.first_ms);
			break;
		case 'I':
			duration_arg("--idle", optarg, &e.idle_ms);
			break;
		case 'D':
			duration_arg("--deadline", optarg, &e.deadline_ms);
			break;
		case 'R':
			if (strcmp(optarg, "always") == 0)
				s->reconnect = true;
			else if (strcmp(optarg, "never") == 0)
				s->reconnect = false;
			else {
				fprintf(stderr, "evsub: --reconnect: 'always' "
				    "or 'never'\n");
				return EV_EX_USAGE;
			}
			break;
		case 'W':
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
		case 'V':
			printf("evsub %s\n", EV_VERSION);
			return 0;
		default:
			usage(EV_EX_USAGE);
		}
	}
	if (has_from && has_last) {
		fprintf(stderr, "evsub: --from and --last exclude each "
		    "other\n");
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
