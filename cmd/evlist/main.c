/*
 * evlist: the bus's buffered events, and Consul's blocking query with a
 * real index.  Without -i, print the events the bus holds that match the
 * patterns and exit; with -i INDEX, print those newer than INDEX, waiting
 * up to -w for one if there is none yet; then say the new index.
 *
 * A thin user of the library: an ev_subscriber asking from the index on,
 * with "sync" so that the bus says (SYNC <seq>) when it has written every
 * event it wants up to its newest.  That SYNC is what makes the index
 * exact: every matching event up to seq has been printed, none after it,
 * so that a loop of calls sees each event once, whatever else the bus
 * carries meanwhile.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

/* evlist's own exit statuses. */
#define EX_TIMEOUT	3	/* -w passed without a new event */
#define EX_EPOCH	4	/* the index is not from this run of the bus */
#define EX_GAP		5	/* fell behind the ring: events were lost */

#define WAIT_DEFAULT	(5 * 60 * 1000)		/* -w, as Consul's */
#define WAIT_MAX	(10 * 60 * 1000)

struct evlist {
	struct ev_subscriber s;
	struct ev_loop	 loop;
	struct ev_identity ident;
	struct ev_tmpl	*tmpl;		/* -F, or NULL */
	struct ev_buf	 out;
	bool		 has_index;	/* -i */
	uint64_t	 index;		/* its seq */
	char		 epoch[EV_EPOCH_LEN + 1]; /* its epoch; "" bare */
	int64_t		 wait_ms;
	const char	*index_file;
	bool		 print_index;
	uint64_t	 printed;	/* events and notices written */
	uint64_t	 failed;	/* events -F could not render */
	uint64_t	 synced;	/* the bus's SYNC: the new index */
	bool		 done;		/* a SYNC ended the call */
	bool		 restarted;	/* the bus is another run: EX_EPOCH */
	bool		 ahead;		/* bare index ahead of the bus */
	bool		 again;		/* subscribe again, from the oldest */
	bool		 gap;		/* an overrun notice: EX_GAP */
	bool		 lost;		/* between LOST and SUBSCRIBED */
	bool		 waiting;	/* the -w timer is set */
	int		 status;	/* set when stopped otherwise */
};

static void	on_wait(struct ev_loop *, uint64_t, void *);

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: evlist [-s socket] [-i index] [-w wait] "
	    "[--index-file file] [--print-index]\n"
	    "              [-F format] [--node name] [--service name] "
	    "[--tag tag]...\n"
	    "              [--where expr]... [pattern ...]\n"
	    "       evlist [-s socket] --stats\n");
	exit(status);
}

static void __attribute__((noreturn))
nomem(void)
{
	fprintf(stderr, "evlist: out of memory\n");
	exit(EV_EX_SOFTWARE);
}

/* Write all of out to standard output; exit 74 when that fails. */
static void
output(struct evlist *e)
{
	if (ev_buf_write(&e->out, 1) == 0)
		return;
	if (errno != EPIPE)
		fprintf(stderr, "evlist: stdout: %s\n", strerror(errno));
	exit(EV_EX_IOERR);
}

static void
finish(struct evlist *e, int status)
{
	e->status = status;
	ev_loop_stop(&e->loop);
}

/* Each event or notice: its line (or -F's text) into the batch. */
static int
on_event(void *arg, const struct ev_subev *ev)
{
	struct evlist *e = arg;
	struct ev_err err;
	int r;

	if (ev->kind == EV_SUBEV_RESTART) {
		e->restarted = true;
		fprintf(stderr, "evlist: the bus restarted since index %s%s"
		    "%" PRIu64 " was read (it is now %s): events may have "
		    "been lost; listing all it has\n", e->epoch,
		    e->epoch[0] != '\0' ? ":" : "", e->index, e->s.c.epoch);
	} else if (ev->kind == EV_SUBEV_NOTICE)
		e->gap = true;
	if ((r = ev_format_line(e->tmpl, ev, &e->out, &err)) == -1) {
		if (err.kind == EV_ERR_SYS)
			nomem();
		fprintf(stderr, "evlist: %s\n", err.msg);
		e->failed++;
		return 0;
	}
	if (r == 0)
		fprintf(stderr, "evlist: notice: %.*s\n", (int)ev->len,
		    ev->json);
	e->printed++;
	return 0;
}

static void
on_batch(void *arg)
{
	output(arg);
}

/*
 * Start the -w wait, once: when the bus has said that nothing newer than
 * the index is there yet, or when it went away first, so that neither a
 * short -w nor a long replay can end the call before the bus answered.
 */
static void
start_wait(struct evlist *e)
{
	if (e->waiting)
		return;
	e->waiting = true;
	if (ev_loop_timer_add(&e->loop, e->wait_ms, on_wait, e) == 0)
		nomem();
}

/*
 * SYNC <seq>: everything up to seq is printed.  Without -i, that is the
 * listing; with it, the call is over once something was said (an event,
 * an event -F could not render, a notice), else it waits on.
 */
static int
on_sync(void *arg, uint64_t seq)
{
	struct evlist *e = arg;

	e->synced = seq;
	if (e->has_index && e->printed == 0 && e->failed == 0 &&
	    !e->restarted && !e->ahead) {
		start_wait(e);
		return 0;
	}
	e->done = true;
	ev_loop_stop(&e->loop);
	return 1;
}

static void
on_state(void *arg, enum ev_sub_state st, const struct ev_err *err)
{
	struct evlist *e = arg;

	switch (st) {
	case EV_SUB_SUBSCRIBED:
		/*
		 * A bare index (or one of this epoch) ahead of the bus's
		 * newest event was not read from this run of it: ask again
		 * from the oldest.
		 */
		if (e->has_index && !e->restarted && !e->ahead &&
		    e->index > e->s.end) {
			fprintf(stderr, "evlist: index %" PRIu64 " is ahead of "
			    "the bus's newest event (%" PRIu64 "): it is from "
			    "an earlier run of the bus; listing all it has\n",
			    e->index, e->s.end);
			e->ahead = e->again = true;
			ev_sub_close(&e->s);
			ev_loop_stop(&e->loop);
			break;
		}
		if (e->lost)
			fprintf(stderr, "evlist: reconnected\n");
		e->lost = false;
		break;
	case EV_SUB_LOST:
		fprintf(stderr, "evlist: lost the bus; reconnecting\n");
		e->lost = true;
		start_wait(e);
		break;
	case EV_SUB_CLOSED:
		fprintf(stderr, "evlist: the bus closed the connection\n");
		finish(e, EV_EX_UNAVAILABLE);
		break;
	case EV_SUB_FAILED:
		fprintf(stderr, "evlist: %s\n", err->msg);
		finish(e, err->kind == EV_ERR_DATA ? EV_EX_USAGE :
		    err->kind == EV_ERR_DENIED ? EV_EX_NOPERM :
		    err->kind == EV_ERR_SYS ? EV_EX_SOFTWARE :
		    EV_EX_UNAVAILABLE);
		break;
	case EV_SUB_CAUGHT_UP:		/* evlist does not ask to drain */
		break;
	}
}

/* -w passed: nothing new (or the bus did not come back). */
static void
on_wait(struct ev_loop *l, uint64_t id, void *arg)
{
	struct evlist *e = arg;

	(void)l;
	(void)id;
	if (e->lost) {
		fprintf(stderr, "evlist: the bus did not come back within "
		    "-w\n");
		finish(e, EV_EX_UNAVAILABLE);
	} else
		finish(e, EX_TIMEOUT);
}

/*
 * Write "index\n" to path atomically: a temporary file beside it, fsync,
 * rename over it; a reader sees the old index or the new, never half of
 * one.  -1 with errno, the temporary file removed.
 */
static int
write_index(const char *path, const char *index)
{
	char tmp[PATH_MAX];
	size_t len = strlen(index);
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	if (fchmod(fd, 0644) == -1 || write(fd, index, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

/*
 * Say the index after the call: the SYNC's seq on the bus's epoch once
 * the bus said it; after a timeout the one given, with the epoch of the
 * bus it was waited on.  74 when the index file cannot be written.
 */
static int
report_index(struct evlist *e, int status)
{
	char idx[EV_INDEX_LEN + 1];
	const char *epoch = e->s.epoch[0] != '\0' ? e->s.epoch : e->epoch;

	if (e->done)
		ev_index_format(idx, epoch, e->synced);
	else if (status == EX_TIMEOUT)
		ev_index_format(idx, epoch, e->index);
	else
		return status;
	if (e->print_index)
		fprintf(stderr, "index %s\n", idx);
	if (e->index_file != NULL && write_index(e->index_file, idx) == -1) {
		fprintf(stderr, "evlist: %s: %s\n", e->index_file,
		    strerror(errno));
		return EV_EX_IOERR;
	}
	return status;
}

/* --stats: the bus's figures, the INFO body as one line of JSON. */
static int
stats(const char *path)
{
	struct ev_client c = { .fd = -1 };
	struct ev_frame f;
	struct ev_err err;
	int r;

	if (ev_client_open(&c, path, "evlist", EV_CLIENT_AUTOSTART, 5000,
	    &err) == -1)
		goto fail;
	if (ev_buf_append(&c.out, "STATS\n", 6) == -1)
		nomem();
	if (ev_client_flush(&c, 5000, &err) == -1)
		goto fail;
	if ((r = ev_client_next(&c, &f, 5000, &err)) <= 0) {
		if (r == 0)
			ev_err_set(&err, EV_ERR_UNAVAILABLE, "the bus closed "
			    "the connection");
		goto fail;
	}
	if (strcmp(f.verb, "INFO") != 0 || f.body == NULL) {
		ev_err_set(&err, EV_ERR_PROTO, "the bus did not answer STATS "
		    "with INFO");
		goto fail;
	}
	printf("%.*s\n", (int)f.bodylen, f.body);
	ev_client_close(&c);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "evlist: stdout: %s\n", strerror(errno));
		return EV_EX_IOERR;
	}
	return EV_EX_OK;
fail:
	fprintf(stderr, "evlist: %s\n", err.msg);
	ev_client_close(&c);
	return ev_err_exit(&err);
}

/* -w: a duration of at most WAIT_MAX. */
static void
wait_arg(const char *v, int64_t *out)
{
	struct ev_err err;

	if (ev_duration_parse(v, out, &err) == -1) {
		fprintf(stderr, "evlist: -w: %s\n", err.msg);
		exit(EV_EX_USAGE);
	}
	if (*out > WAIT_MAX) {
		fprintf(stderr, "evlist: -w '%s': at most 10m (as Consul's "
		    "blocking queries): loop instead\n", v);
		exit(EV_EX_USAGE);
	}
}

/* Subscribe (again, after an index ahead of the bus) and run the loop. */
static int
run(struct evlist *e)
{
	struct ev_subscriber *s = &e->s;
	struct ev_err err;
	int r;

	for (;;) {
		e->again = false;
		if (e->ahead) {
			s->at = 0;
			s->known_epoch = NULL;
		}
		if (ev_sub_start(s, &e->loop, &err) == -1) {
			fprintf(stderr, "evlist: %s\n", err.msg);
			r = ev_err_exit(&err);
			return r == EV_EX_DATAERR ? EV_EX_USAGE : r;
		}
		if (ev_loop_run(&e->loop, &err) == -1) {
			fprintf(stderr, "evlist: %s\n", err.msg);
			return EV_EX_SOFTWARE;
		}
		if (!e->again)
			break;
	}
	output(e);
	if (!e->done)
		return e->status;
	if (e->restarted || e->ahead)
		return EX_EPOCH;
	if (e->gap)
		return EX_GAP;
	return e->failed > 0 ? EV_EX_REJECTED : EV_EX_OK;
}

int
main(int argc, char *argv[])
{
	enum { OPT_INDEX_FILE = 256, OPT_PRINT_INDEX, OPT_STATS, OPT_NODE,
	    OPT_SERVICE, OPT_TAG, OPT_WHERE };
	static const struct option longopts[] = {
		{ "socket",	 required_argument,	NULL, 's' },
		{ "index",	 required_argument,	NULL, 'i' },
		{ "wait",	 required_argument,	NULL, 'w' },
		{ "format",	 required_argument,	NULL, 'F' },
		{ "index-file",	 required_argument,	NULL, OPT_INDEX_FILE },
		{ "print-index", no_argument,		NULL, OPT_PRINT_INDEX },
		{ "stats",	 no_argument,		NULL, OPT_STATS },
		{ "node",	 required_argument,	NULL, OPT_NODE },
		{ "service",	 required_argument,	NULL, OPT_SERVICE },
		{ "tag",	 required_argument,	NULL, OPT_TAG },
		{ "where",	 required_argument,	NULL, OPT_WHERE },
		{ "help",	 no_argument,		NULL, 'h' },
		{ "version",	 no_argument,		NULL, 'V' },
		{ NULL,		 0,			NULL, 0 }
	};
	static struct evlist e;
	static char *tags[EV_IDENTITY_TAGS];
	static char *where[EV_WHERE_MAX];
	struct ev_subscriber *s = &e.s;
	struct ev_patset check = { 0 };
	struct ev_err err;
	const char *node = NULL, *service = NULL, *format = NULL;
	size_t ntags = 0;
	bool want_stats = false, has_wait = false;
	int ch, i, closed, status;

	if ((closed = ev_stdfds_open()) == -1) {
		fprintf(stderr, "evlist: /dev/null: %s\n", strerror(errno));
		return EV_EX_IOERR;
	}
	if (closed & EV_STDOUT_CLOSED) {
		fprintf(stderr, "evlist: stdout: closed, nowhere to print "
		    "the events\n");
		return EV_EX_IOERR;
	}
	ev_sub_init(s);
	s->name = "evlist";
	s->flags = EV_CLIENT_AUTOSTART;
	e.wait_ms = WAIT_DEFAULT;
	while ((ch = getopt_long(argc, argv, "s:i:w:F:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			s->path = optarg;
			break;
		case 'i':
			if (ev_index_parse(optarg, e.epoch, &e.index,
			    &err) == -1) {
				fprintf(stderr, "evlist: -i: %s\n", err.msg);
				return EV_EX_USAGE;
			}
			e.has_index = true;
			break;
		case 'w':
			wait_arg(optarg, &e.wait_ms);
			has_wait = true;
			break;
		case 'F':
			format = optarg;
			break;
		case OPT_INDEX_FILE:
			e.index_file = optarg;
			break;
		case OPT_PRINT_INDEX:
			e.print_index = true;
			break;
		case OPT_STATS:
			want_stats = true;
			break;
		case OPT_NODE:
			node = optarg;
			break;
		case OPT_SERVICE:
			service = optarg;
			break;
		case OPT_TAG:
			if (ntags == EV_IDENTITY_TAGS) {
				fprintf(stderr, "evlist: --tag: at most %d\n",
				    EV_IDENTITY_TAGS);
				return EV_EX_USAGE;
			}
			tags[ntags++] = optarg;
			break;
		case OPT_WHERE:
			if (ev_sub_where_add(where, &s->nwhere, optarg,
			    &err) == -1) {
				fprintf(stderr, "evlist: --where: %s\n",
				    err.msg);
				return err.kind == EV_ERR_SYS ?
				    EV_EX_SOFTWARE : EV_EX_USAGE;
			}
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("evlist %s\n", EV_VERSION);
			return 0;
		default:
			usage(EV_EX_USAGE);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (want_stats) {
		if (optind < argc || e.has_index || has_wait ||
		    format != NULL || e.index_file != NULL || e.print_index ||
		    node != NULL || service != NULL || ntags > 0 ||
		    s->nwhere > 0) {
			fprintf(stderr, "evlist: --stats takes no pattern "
			    "and no other option than -s\n");
			return EV_EX_USAGE;
		}
		return stats(s->path);
	}
	if (has_wait && !e.has_index) {
		fprintf(stderr, "evlist: -w: only with -i (wait for an event "
		    "newer than an index)\n");
		return EV_EX_USAGE;
	}
	if (format != NULL && (e.tmpl = ev_tmpl_compile(format,
	    &err)) == NULL) {
		fprintf(stderr, "evlist: -F: %s\n", err.msg);
		return err.kind == EV_ERR_SYS ? EV_EX_SOFTWARE : EV_EX_USAGE;
	}
	for (i = optind; i < argc; i++)
		if (ev_patset_add(&check, argv[i], strlen(argv[i]),
		    &err) == -1) {
			fprintf(stderr, "evlist: %s\n", err.msg);
			return EV_EX_USAGE;
		}
	ev_patset_free(&check);
	if (ev_identity_init(&e.ident, node, service, tags, ntags,
	    &err) == -1) {
		fprintf(stderr, "evlist: %s\n", err.msg);
		return err.kind == EV_ERR_SYS ? EV_EX_SOFTWARE : EV_EX_USAGE;
	}

	s->where = where;
	s->pats = argv + optind;
	s->npats = (size_t)(argc - optind);
	s->ident = &e.ident;
	s->sync = true;
	s->on_sync = on_sync;
	/* A poll, as a publisher is: two bus events a call would be noise. */
	s->unannounced = true;
	s->list = true;		/* the ACL's list permission */
	s->start = EV_SUB_FROM;
	/* -i 0 is everything the bus has: no gap before its oldest. */
	s->at = e.has_index && e.index > 0 ? e.index + 1 : 0;
	s->known_epoch = e.epoch;
	/* Without -i the call is one listing: a lost bus ends it. */
	s->reconnect = e.has_index;
	s->dedup = 0;
	s->on_event = on_event;
	s->on_batch = on_batch;
	s->on_state = on_state;
	s->arg = &e;
	ev_loop_init(&e.loop);
	status = report_index(&e, run(&e));
	ev_sub_free(s);
	ev_loop_free(&e.loop);
	ev_buf_free(&e.out);
	ev_tmpl_free(e.tmpl);
	ev_identity_free(&e.ident);
	return status;
}
