/*
 * evstore cat: the events of a log, selected by seq, time and pattern,
 * as NDJSON (the lines as stored: what evsub printed, valid evfire
 * input), optionally at their original pace, optionally following the
 * log as it grows.
 *
 * What is printed is decided in one place, cat_select(); the reader is
 * first put where the selection can start (by seq, by time, or counting
 * back from the end for -n), so that a small selection from a large log
 * costs a small read.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "evstore.h"

#define OUT_MAX		(256 * 1024)	/* write(2) standard output past this */
#define FOLLOW_MS	1000		/* look again at least this often */

enum pace { PACE_INSTANT, PACE_FACTOR };

struct cat {
	struct ev_patset pats;
	bool		 havepats;
	uint64_t	 from;		/* --from; 0: none */
	uint64_t	 until;		/* --until; 0: none */
	bool		 since_set;
	int64_t		 since;
	bool		 until_time_set;
	int64_t		 until_time;
	bool		 last_set;
	uint64_t	 last;		/* -n */
	bool		 follow;
	enum pace	 pace;
	double		 factor;	/* --pace xN: N; original: 1 */
	bool		 paced;		/* the first event set the clock */
	int64_t		 t0;		/* its time */
	int64_t		 m0;		/* ev_mono_ms when it was printed */
	struct ev_buf	 out;
	/* --where: filters that must all hold (lib/expr.c). */
	struct ev_expr	**where;
	size_t		 nwhere;
	struct ev_expr_doc *doc;	/* the record being filtered */
	bool		 report;	/* say why a filter failed on a record */
	uint64_t	 failed;	/* records a filter failed on */
};

static bool	cat_select(void *, const struct ev_record *);
static int	cat_flush(struct cat *);
static int	cat_wait(struct cat *, int, int);
static int	cat_pace(struct cat *, const struct ev_record *);
static int	parse_pace(struct cat *, const char *);
static bool	cat_where(struct cat *, const struct ev_record *);
static void	where_arg(struct cat *, const char *);

/*
 * Is this record one to print?  Every condition of the command line is
 * here, and only here: the filter of a later --where belongs here too.
 */
static bool
cat_select(void *arg, const struct ev_record *r)
{
	struct cat *c = arg;
	char name[EV_NAME_MAX + 1];
	size_t namelen;

	if (c->from != 0 && r->seq < c->from)
		return false;
	if (c->until != 0 && r->seq > c->until)
		return false;
	if (c->since_set && r->time < c->since)
		return false;
	if (c->until_time_set && r->time > c->until_time)
		return false;
	if (c->havepats && (ev_store_event_name(r->line, r->len, name,
	    &namelen) == -1 || !ev_patset_match(&c->pats, name, namelen)))
		return false;
	if (c->nwhere > 0 && !cat_where(c, r))
		return false;
	return true;
}

/*
 * --where: do all the filters hold for this record?  The record's line is
 * scanned once (ev_expr_doc_set) for all of them.  A filter that fails on
 * a record (jq would raise an error: ".a.b" of a string) counts as not
 * holding; once the reader is placed (report), it is said on stderr with
 * the record's seq and counted, so that cat exits 1.
 */
static bool
cat_where(struct cat *c, const struct ev_record *r)
{
	struct ev_err err;
	size_t i, len = r->len;
	int k = 0;

	if (len > 0 && r->line[len - 1] == '\n')
		len--;
	if (ev_expr_doc_set(c->doc, r->line, len, &err) == -1)
		goto fail;
	for (i = 0; i < c->nwhere; i++)
		if ((k = ev_expr_eval_doc(c->where[i], c->doc, &err)) != 1)
			break;
	if (k != -1)
		return k == 1;
fail:
	if (c->report) {
		say("seq %llu: --where: %s", (unsigned long long)r->seq,
		    err.msg);
		c->failed++;
	}
	return false;
}

/* One --where: compiled, or a usage error naming the column. */
static void
where_arg(struct cat *c, const char *src)
{
	struct ev_expr **w;
	struct ev_err err;

	if ((w = reallocarray(c->where, c->nwhere + 1,
	    sizeof(*w))) == NULL) {
		say("out of memory");
		exit(EV_EX_SOFTWARE);
	}
	c->where = w;
	if ((w[c->nwhere] = ev_expr_compile(src, &err)) == NULL) {
		fprintf(stderr, "evstore: --where: %s\n", err.msg);
		exit(err.kind == EV_ERR_SYS ? EV_EX_SOFTWARE : EV_EX_USAGE);
	}
	c->nwhere++;
	if (c->doc == NULL && (c->doc = ev_expr_doc_new()) == NULL) {
		say("out of memory");
		exit(EV_EX_SOFTWARE);
	}
}

/* Write what is buffered.  -1 when standard output fails (reported). */
static int
cat_flush(struct cat *c)
{
	ssize_t n;

	while (ev_buf_unread(&c->out) > 0) {
		n = write(1, ev_buf_head(&c->out), ev_buf_unread(&c->out));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (errno != EPIPE)
				say("stdout: %s", strerror(errno));
			return -1;
		}
		ev_buf_consume(&c->out, (size_t)n);
	}
	ev_buf_reset(&c->out);
	return 0;
}

/*
 * Wait up to ms for fd (-1: none) to be readable, watching standard
 * output: 0, or -1 when the reader of standard output has gone (a pipe's
 * other end closed), which ends cat quietly.
 */
static int
cat_wait(struct cat *c, int fd, int ms)
{
	struct pollfd pfd[2];

	(void)c;
	pfd[0].fd = 1;
	pfd[0].events = 0;
	pfd[1].fd = fd;
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, ms) == -1)
		return errno == EINTR ? 0 : -1;
	return pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL) ? -1 : 0;
}

/* With --pace: wait until this event is due. */
static int
cat_pace(struct cat *c, const struct ev_record *r)
{
	int64_t due, now;

	if (c->pace == PACE_INSTANT)
		return 0;
	if (!c->paced) {
		c->paced = true;
		c->t0 = r->time;
		c->m0 = ev_mono_ms();
		return 0;
	}
	due = c->m0 + (int64_t)((double)(r->time - c->t0) / c->factor);
	if ((now = ev_mono_ms()) >= due)
		return 0;
	if (cat_flush(c) == -1)
		return -1;
	while ((now = ev_mono_ms()) < due)
		if (cat_wait(c, -1, (int)(due - now > 60000 ? 60000 :
		    due - now)) == -1)
			return -1;
	return 0;
}

static int
parse_pace(struct cat *c, const char *s)
{
	char *end;

	if (strcmp(s, "instant") == 0) {
		c->pace = PACE_INSTANT;
		return 0;
	}
	if (strcmp(s, "original") == 0) {
		c->pace = PACE_FACTOR;
		c->factor = 1;
		return 0;
	}
	if (s[0] != 'x' || s[1] == '\0')
		return -1;
	errno = 0;
	c->factor = strtod(s + 1, &end);
	if (*end != '\0' || errno != 0 || !isfinite(c->factor) ||
	    c->factor <= 0)
		return -1;
	c->pace = PACE_FACTOR;
	return 0;
}

int
cmd_cat(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow",	no_argument,		NULL, 'f' },
		{ "last",	required_argument,	NULL, 'n' },
		{ "from",	required_argument,	NULL, 'F' },
		{ "until",	required_argument,	NULL, 'U' },
		{ "since",	required_argument,	NULL, 'S' },
		{ "until-time",	required_argument,	NULL, 'T' },
		{ "pace",	required_argument,	NULL, 'P' },
		{ "where",	required_argument,	NULL, 'w' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct cat c;
	struct ev_store_reader *r;
	struct ev_record rec;
	struct ev_err err;
	const char *dir;
	int ch, k, i, fd = -1, status = EV_EX_OK;
	int64_t now = ev_now_ms();

	memset(&c, 0, sizeof(c));
	while ((ch = getopt_long(argc, argv, "fn:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			c.follow = true;
			break;
		case 'n':
			if (ev_parse_u64(optarg, strlen(optarg), UINT64_MAX,
			    &c.last) == -1) {
				fprintf(stderr, "evstore: -n %s: not a "
				    "count\n", optarg);
				usage(EV_EX_USAGE);
			}
			c.last_set = true;
			break;
		case 'F':
		case 'U':
			if (ev_parse_u64(optarg, strlen(optarg), UINT64_MAX,
			    ch == 'F' ? &c.from : &c.until) == -1 ||
			    (ch == 'F' ? c.from : c.until) == 0) {
				fprintf(stderr, "evstore: --%s %s: not a seq "
				    "(1 or more)\n", ch == 'F' ? "from" :
				    "until", optarg);
				usage(EV_EX_USAGE);
			}
			break;
		case 'S':
		case 'T':
			if (ev_time_parse(optarg, now, ch == 'S' ? &c.since :
			    &c.until_time, &err) == -1) {
				fprintf(stderr, "evstore: --%s: %s\n",
				    ch == 'S' ? "since" : "until-time",
				    err.msg);
				usage(EV_EX_USAGE);
			}
			if (ch == 'S')
				c.since_set = true;
			else
				c.until_time_set = true;
			break;
		case 'P':
			if (parse_pace(&c, optarg) == -1) {
				fprintf(stderr, "evstore: --pace %s: original, "
				    "instant, or xN (x2, x0.5)\n", optarg);
				usage(EV_EX_USAGE);
			}
			break;
		case 'w':
			where_arg(&c, optarg);
			break;
		case 'h':
			usage(0);
		default:
			usage(EV_EX_USAGE);
		}
	}
	if (argc - optind < 1) {
		fprintf(stderr, "evstore: cat: give a directory\n");
		usage(EV_EX_USAGE);
	}
	dir = dir_arg(argv[optind]);
	for (i = optind + 1; i < argc; i++) {
		if (ev_patset_add(&c.pats, argv[i], strlen(argv[i]),
		    &err) == -1) {
			fprintf(stderr, "evstore: %s\n", err.msg);
			usage(EV_EX_USAGE);
		}
		c.havepats = true;
	}
	if (ev_store_reader_open(&r, dir, &err) == -1) {
		say("%s", err.msg);
		ev_patset_free(&c.pats);
		while (c.nwhere > 0)
			ev_expr_free(c.where[--c.nwhere]);
		free(c.where);
		ev_expr_doc_free(c.doc);
		return ev_err_exit(&err);
	}
	/* Counting back without a condition: the indexes' counts do. */
	if (c.last_set)
		k = ev_store_seek_last(r, c.last, c.havepats || c.from != 0 ||
		    c.until != 0 || c.since_set || c.until_time_set ||
		    c.nwhere > 0 ?
		    cat_select : NULL, &c, &err);
	else if (c.from != 0)
		k = ev_store_seek_seq(r, c.from, &err);
	else if (c.since_set)
		k = ev_store_seek_time(r, c.since, &err);
	else
		k = 0;
	if (k == -1)
		goto fail;
	c.report = true;
	if (c.follow && (fd = ev_store_reader_fd(r, &err)) == -1)
		fd = -1;	/* no inotify: look on a timer */
	for (;;) {
		while ((k = ev_store_next(r, &rec, &err)) == 1) {
			if (c.until != 0 && rec.seq > c.until)
				goto done;
			if (!cat_select(&c, &rec))
				continue;
			if (cat_pace(&c, &rec) == -1)
				goto outerr;
			if (ev_buf_append(&c.out, rec.line, rec.len) == -1) {
				say("out of memory");
				status = EV_EX_SOFTWARE;
				goto done;
			}
			if (ev_buf_unread(&c.out) >= OUT_MAX &&
			    cat_flush(&c) == -1)
				goto outerr;
		}
		if (k == -1)
			goto fail;
		if (cat_flush(&c) == -1)
			goto outerr;
		if (!c.follow)
			break;
		if (cat_wait(&c, fd, fd == -1 ? 100 : FOLLOW_MS) == -1)
			goto outerr;
	}
done:
	if (status == EV_EX_OK && cat_flush(&c) == -1)
		status = EV_EX_IOERR;
	if (status == EV_EX_OK && c.failed > 0)
		status = EV_EX_REJECTED;
	ev_store_reader_close(r);
	ev_patset_free(&c.pats);
	while (c.nwhere > 0)
		ev_expr_free(c.where[--c.nwhere]);
	free(c.where);
	ev_expr_doc_free(c.doc);
	ev_buf_free(&c.out);
	return status;
fail:
	if (cat_flush(&c) == -1)
		status = EV_EX_IOERR;
	else {
		say("%s", err.msg);
		status = ev_err_exit(&err);
	}
	goto done;
outerr:
	status = EV_EX_IOERR;
	ev_buf_reset(&c.out);
	goto done;
}
