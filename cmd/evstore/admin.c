/*
 * evstore verify, repair, compact and stats: the commands that look at or
 * mend a whole log.  The work is in lib/store_check.c; here are the
 * options, the messages and the exit statuses.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "evstore.h"

static const char *no_opts(int, char **);
static int	put_json(const char *, const struct ev_store_stats *);

/* Commands that take no option but -h. */
static const char *
no_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL, 'h' },
		{ NULL,		0,		NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		usage(ch == 'h' ? 0 : EV_EX_USAGE);
	return one_dir(argc, argv);
}

int
cmd_verify(int argc, char **argv)
{
	struct ev_store_walk w = {
		.report = walk_report, .progress = walk_progress,
		.arg = (void *)"verify"
	};
	struct ev_err err;
	const char *dir = no_opts(argc, argv);

	if (ev_store_verify(dir, &w, &err) == -1) {
		say("%s", err.msg);
		return ev_err_exit(&err);
	}
	progress_done();
	if (w.errors > 0) {
		say("%s: %" PRIu64 " problem%s found", dir, w.errors,
		    w.errors == 1 ? "" : "s");
		return EV_EX_DATAERR;
	}
	if (w.records == 0)
		printf("%s: ok: no events, %" PRIu64 " segment%s\n", dir,
		    w.segments, w.segments == 1 ? "" : "s");
	else
		printf("%s: ok: %" PRIu64 " event%s, seqs %" PRIu64 " to %"
		    PRIu64 ", %" PRIu64 " segment%s\n", dir, w.records,
		    w.records == 1 ? "" : "s", w.first_seq, w.last_seq,
		    w.segments, w.segments == 1 ? "" : "s");
	return fflush(stdout) == EOF ? EV_EX_IOERR : EV_EX_OK;
}

int
cmd_repair(int argc, char **argv)
{
	struct ev_store_walk w = {
		.report = walk_report, .progress = walk_progress,
		.arg = (void *)"repair"
	};
	struct ev_err err;
	const char *dir = no_opts(argc, argv);

	if (ev_store_repair(dir, &w, &err) == -1) {
		progress_done();
		say("%s", err.msg);
		return ev_err_exit(&err);
	}
	progress_done();
	if (w.removed == 0)
		printf("%s: nothing to repair: %" PRIu64 " event%s\n", dir,
		    w.records, w.records == 1 ? "" : "s");
	else
		printf("%s: repaired: %" PRIu64 " bad stretch%s (%" PRIu64
		    " bytes) moved to %s/quarantine; %" PRIu64 " event%s "
		    "kept\n", dir, w.removed, w.removed == 1 ? "" : "es",
		    w.removed_bytes, dir, w.records,
		    w.records == 1 ? "" : "s");
	return fflush(stdout) == EOF ? EV_EX_IOERR : EV_EX_OK;
}

int
cmd_compact(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keep",	required_argument,	NULL, 'k' },
		{ "max-bytes",	required_argument,	NULL, 'b' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct ev_store_walk w = {
		.progress = walk_progress, .arg = (void *)"compact"
	};
	struct ev_store_opts o = { .note = open_note };
	struct ev_store *st;
	struct ev_err err;
	const char *dir;
	int64_t keep = -1;
	uint64_t max = 0;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if (ev_duration_parse(optarg, &keep, &err) == -1) {
				fprintf(stderr, "evstore: --keep: %s\n",
				    err.msg);
				usage(EV_EX_USAGE);
			}
			break;
		case 'b':
			if (ev_size_parse(optarg, 1, UINT64_MAX / 2,
			    &max) == -1) {
				fprintf(stderr, "evstore: --max-bytes %s: a "
				    "size (1G, 500M, ...)\n", optarg);
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
	if (keep < 0 && max == 0) {
		fprintf(stderr, "evstore: compact: give --keep, --max-bytes "
		    "or both\n");
		usage(EV_EX_USAGE);
	}
	if (ev_store_open(&st, dir, &o, NULL, &err) == -1) {
		say("%s", err.msg);
		return ev_err_exit(&err);
	}
	r = ev_store_compact(st, keep, max, ev_now_ms(), &w, &err);
	progress_done();
	if (r == -1) {
		say("%s", err.msg);
		ev_store_close(st, NULL);
		return ev_err_exit(&err);
	}
	if (ev_store_close(st, &err) == -1) {
		say("%s", err.msg);
		return ev_err_exit(&err);
	}
	if (w.removed == 0)
		printf("%s: nothing to remove\n", dir);
	else
		printf("%s: removed %" PRIu64 " event%s (seqs %" PRIu64 " to %"
		    PRIu64 "), %" PRIu64 " bytes\n", dir, w.removed,
		    w.removed == 1 ? "" : "s", w.removed_first,
		    w.removed_last, w.removed_bytes);
	return fflush(stdout) == EOF ? EV_EX_IOERR : EV_EX_OK;
}

/* The stats as one JSON object on standard output. */
static int
put_json(const char *dir, const struct ev_store_stats *s)
{
	struct ev_buf b = { 0 };
	struct ev_err err;
	int r;

	if (ev_buf_append(&b, "{\"dir\":", 7) == -1 ||
	    ev_json_put_string(&b, dir, strlen(dir), &err) == -1) {
		ev_buf_reset(&b);
		if (ev_buf_append(&b, "{\"dir\":null", 11) == -1)
			return -1;
	}
	if (ev_buf_printf(&b, ",\"segments\":%" PRIu64 ",\"events\":%" PRIu64
	    ",\"bytes\":%" PRIu64 ",\"index_bytes\":%" PRIu64, s->segments,
	    s->records, s->bytes, s->index_bytes) == -1)
		goto fail;
	if (s->records > 0)
		r = ev_buf_printf(&b, ",\"first_seq\":%" PRIu64 ",\"last_seq\":%"
		    PRIu64 ",\"first_time\":%" PRId64 ",\"last_time\":%" PRId64,
		    s->first_seq, s->last_seq, s->first_time, s->last_time);
	else
		r = ev_buf_printf(&b, ",\"first_seq\":null,\"last_seq\":null,"
		    "\"first_time\":null,\"last_time\":null");
	if (r == -1 || ev_buf_printf(&b, ",\"next_seq\":%" PRIu64 "}\n",
	    s->next_seq) == -1)
		goto fail;
	r = fwrite(b.data, 1, b.len, stdout) == b.len ? 0 : -1;
	ev_buf_free(&b);
	return r;
fail:
	ev_buf_free(&b);
	return -1;
}

int
cmd_stats(int argc, char **argv)
{
	struct ev_store_stats s;
	struct ev_err err;
	const char *dir = no_opts(argc, argv);

	if (ev_store_stats(dir, &s, &err) == -1) {
		say("%s", err.msg);
		return ev_err_exit(&err);
	}
	if (put_json(dir, &s) == -1 || fflush(stdout) == EOF) {
		say("stdout: write failed");
		return EV_EX_IOERR;
	}
	return EV_EX_OK;
}
