/*
 * evstore append: NDJSON events from standard input into a log.  Each line
 * is checked (lib/event.c, through ev_store_prepare); a bad line is
 * reported with its number and the others go on.  Records are committed
 * in groups as --sync says, by the store's background thread, while the
 * next lines are read; --ack prints each event's seq once it is durable.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "evstore.h"

/* Seqs appended and not yet durable, kept for --ack: at most this many. */
#define ACKQ_MAX	(256 * 1024)

struct app {
	struct ev_store	*st;
	bool		 ack;
	uint64_t	*q;		/* a ring of seqs awaiting --ack */
	size_t		 qhead, qn;
	uint64_t	 accepted;
	uint64_t	 rejected;
	struct ev_buf	 line;		/* the event being stored */
	struct ev_buf	 out;		/* acks not yet written */
	bool		 outerr;
};

static int	app_line(struct app *, const char *, size_t, uint64_t);
static int	app_acks(struct app *);
static int	app_flush_out(struct app *);
static bool	blank(const char *, size_t);

static bool
blank(const char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r'))
		len--;
	return len == 0;
}

/* Store one line; a bad one is reported.  -1 when the store failed. */
static int
app_line(struct app *a, const char *s, size_t len, uint64_t lineno)
{
	struct ev_err err;
	uint64_t seq;
	int64_t time;

	ev_buf_reset(&a->line);
	if (ev_store_prepare(s, len, ev_store_last_seq(a->st), ev_now_ms(),
	    &a->line, &seq, &time, &err) == -1) {
		if (err.kind == EV_ERR_SYS) {
			say("stdin:%" PRIu64 ": %s", lineno, err.msg);
			return -1;
		}
		a->rejected++;
		say("stdin:%" PRIu64 ": %s", lineno, err.msg);
		return 0;
	}
	if (ev_store_append(a->st, seq, time, ev_buf_head(&a->line),
	    ev_buf_unread(&a->line), &err) == -1) {
		say("%s", err.msg);
		return -1;
	}
	a->accepted++;
	if (a->ack)
		a->q[(a->qhead + a->qn++) % ACKQ_MAX] = seq;
	return 0;
}

/* Queue the seqs that are durable now for standard output. */
static int
app_acks(struct app *a)
{
	uint64_t durable = ev_store_durable_seq(a->st);

	while (a->qn > 0 && a->q[a->qhead] <= durable) {
		if (ev_buf_putu(&a->out, a->q[a->qhead]) == -1 ||
		    ev_buf_putc(&a->out, '\n') == -1) {
			say("out of memory");
			return -1;
		}
		a->qhead = (a->qhead + 1) % ACKQ_MAX;
		a->qn--;
	}
	return app_flush_out(a);
}

/* Write the acks out; a failure is reported once and ends the run. */
static int
app_flush_out(struct app *a)
{
	ssize_t n;

	while (ev_buf_unread(&a->out) > 0) {
		n = write(1, ev_buf_head(&a->out), ev_buf_unread(&a->out));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!a->outerr && errno != EPIPE)
				say("stdout: %s", strerror(errno));
			a->outerr = true;
			ev_buf_reset(&a->out);
			return -1;
		}
		ev_buf_consume(&a->out, (size_t)n);
	}
	return 0;
}

int
cmd_append(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ack",		no_argument,		NULL, 'a' },
		{ "sync",		required_argument,	NULL, 'S' },
		{ "segment-size",	required_argument,	NULL, 'z' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	struct ev_store_opts o = { .background = true, .note = open_note };
	struct app a;
	struct ev_lines in;
	struct ev_err err;
	struct pollfd pfd[2];
	const char *dir, *line;
	size_t len;
	ssize_t n;
	int ch, r, t, status = EV_EX_OK;
	bool failed = false;

	memset(&a, 0, sizeof(a));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			a.ack = true;
			break;
		case 'S':
			if (ev_store_sync_parse(optarg, &o.sync) == -1) {
				fprintf(stderr, "evstore: --sync %s: always, "
				    "batch or none\n", optarg);
				usage(EV_EX_USAGE);
			}
			break;
		case 'z':
			if (ev_size_parse(optarg, EV_STORE_SEGMENT_MIN,
			    (uint64_t)1 << 40, &o.segment_bytes) == -1) {
				fprintf(stderr, "evstore: --segment-size %s: "
				    "a size from 4k to 1024G\n", optarg);
				usage(EV_EX_USAGE);
			}
			break;
		case 'h':
			usage(0);
		default:
			usage(EV_EX_USAGE);
		}
	}
	dir = one_dir(argc, argv);
	if (o.sync == EV_STORE_SYNC_NONE)
		o.background = false;
	if (a.ack && (a.q = calloc(ACKQ_MAX, sizeof(*a.q))) == NULL) {
		say("out of memory");
		return EV_EX_SOFTWARE;
	}
	if (ev_store_open(&a.st, dir, &o, NULL, &err) == -1) {
		say("%s", err.msg);
		free(a.q);
		return ev_err_exit(&err);
	}

	ev_lines_init(&in, 0, EV_STORE_LINE_MAX);
	for (;;) {
		while (!failed && (!a.ack || a.qn < ACKQ_MAX) &&
		    (r = ev_lines_next(&in, &line, &len, &err)) != 0) {
			if (r == -1) {
				a.rejected++;
				say("stdin:%" PRIu64 ": %s", in.lineno,
				    err.msg);
			} else if (!blank(line, len) &&
			    app_line(&a, line, len, in.lineno) == -1)
				failed = true;
		}
		if (failed)
			break;
		if (ev_store_flush(a.st, ev_mono_ms(), &err) == -1) {
			say("%s", err.msg);
			failed = true;
			break;
		}
		if (a.ack && app_acks(&a) == -1)
			break;
		if (in.eof && ev_buf_unread(&in.buf) == 0 && !in.skipping)
			break;
		pfd[0].fd = 0;
		pfd[0].events = in.eof || (a.ack && a.qn >= ACKQ_MAX) ?
		    0 : POLLIN;
		pfd[1].fd = ev_store_pollfd(a.st);
		pfd[1].events = POLLIN;
		t = ev_store_timeout(a.st, ev_mono_ms());
		if (pfd[0].events == 0 && pfd[1].fd == -1 && t == -1)
			t = 0;
		if (poll(pfd, 2, t) == -1 && errno != EINTR) {
			say("poll: %s", strerror(errno));
			failed = true;
			break;
		}
		if (pfd[0].revents != 0 && (n = ev_lines_fill(&in,
		    &err)) == -1 && errno != EAGAIN) {
			say("stdin: %s", err.msg);
			status = EV_EX_IOERR;
			break;
		}
	}
	ev_lines_free(&in);
	if (!failed && ev_store_sync(a.st, &err) == -1) {
		say("%s", err.msg);
		failed = true;
	}
	if (a.ack && !a.outerr)
		app_acks(&a);
	if (ev_store_close(a.st, &err) == -1 && !failed) {
		say("%s", err.msg);
		failed = true;
	}
	ev_buf_free(&a.line);
	ev_buf_free(&a.out);
	free(a.q);
	if (failed || a.outerr)
		return EV_EX_IOERR;
	if (status != EV_EX_OK)
		return status;
	if (a.rejected > 0)
		return a.accepted == 0 ? EV_EX_DATAERR : EV_EX_REJECTED;
	return EV_EX_OK;
}
