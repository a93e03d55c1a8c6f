/*
 * evfire: publish events on the bus, from arguments or from standard input.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

#define EX_DUP		3	/* --strict: some events were duplicates */
#define UNACKED_SHOW	5	/* unacknowledged events named one by one */

/*
 * A queued event's tag: its input line (0 for the argument) and whether
 * evfire chose its id (it was absent, or --new-ids), so that a failure
 * can say which ids are not in the input.
 */
#define TAG(line, filled)	((uint64_t)(line) << 1 | ((filled) ? 1 : 0))
#define TAG_LINE(t)		((t) >> 1)
#define TAG_FILLED(t)		(((t) & 1) != 0)

struct fire {
	struct ev_publisher pub;
	const char	*name;		/* -n, or the name argument */
	enum ev_payload_mode mode;	/* --json, --string */
	struct ev_edit	 edit;		/* -e, -m, --id, --new-ids, and
					   --node, --service, --tag */
	struct ev_metaset *meta;	/* -m pairs, values as JSON strings */
	size_t		 nmeta;
	bool		 wait;		/* -w: print seqs */
	bool		 from_stdin;
	/*
	 * -w with standard input: the lines evfire rejected itself while
	 * events read before them were still unanswered, held so that
	 * their "-" comes in input order (held[heldhead..nheld)).
	 */
	uint64_t	*held;
	size_t		 nheld, heldhead, heldcap;
	bool		 quiet;
	bool		 strict;	/* a duplicate is an error */
	const char	*source;	/* "stdin", or "argument" */
	uint64_t	 accepted;	/* events the bus has, duplicates too */
	uint64_t	 dups;		/* of those, the ones it had already */
	uint64_t	 rejected;
	uint64_t	 denied;	/* of those, by the bus's ACL */
	uint64_t	 lineno;	/* the last line read */
	bool		 eof;		/* standard input read to its end */
	bool		 outerr;	/* stdout failed */
	struct ev_buf	 build;		/* an event made from a payload */
};

static void __attribute__((noreturn))
usage(int status)
{
	static const char common[] =
	    "[-eqw] [-s socket] [-m key=value]... [--strict]\n"
	    "              [--node re] [--service re] [--tag re] "
	    "[--token-file file]\n";

	fprintf(status ? stderr : stdout,
	    "usage: evfire %s"
	    "              [--json | --string] [--id id] name [payload]\n"
	    "       evfire %s"
	    "              [--json | --string] -n name\n"
	    "       evfire %s"
	    "              [--new-ids]\n", common, common, common);
	exit(status);
}

/* Say why an event was rejected, with its input line (0: the argument). */
static void __attribute__((format(printf, 3, 0)))
vreport(const struct fire *f, uint64_t line, const char *fmt, va_list ap)
{
	if (f->quiet)
		return;
	if (line > 0)
		fprintf(stderr, "evfire: %s:%" PRIu64 ": ", f->source, line);
	else
		fprintf(stderr, "evfire: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 3, 4)))
report(const struct fire *f, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(f, line, fmt, ap);
	va_end(ap);
}

/* -w: one line of output, an event's seq, or "-" when it was rejected. */
static void
seq_print(struct fire *f, bool accepted, uint64_t seq)
{
	if ((accepted ? printf("%" PRIu64 "\n", seq) :
	    fputs("-\n", stdout)) < 0)
		f->outerr = true;
}

/*
 * -w: print the "-" of the lines rejected by evfire that no unanswered
 * event comes before: the bus answers in order, so those before the
 * oldest unanswered event are due.
 */
static void
held_flush(struct fire *f)
{
	uint64_t next = UINT64_MAX, tag;
	const char *id;

	if (ev_pub_unacked(&f->pub, 0, &tag, &id))
		next = TAG_LINE(tag);
	while (f->heldhead < f->nheld && f->held[f->heldhead] < next) {
		seq_print(f, false, 0);
		f->heldhead++;
	}
	if (f->heldhead == f->nheld)
		f->heldhead = f->nheld = 0;
}

/*
 * A line evfire rejects itself (bad JSON, too long, ...): counted,
 * reported, and under -w with standard input given its "-", at once when
 * no event before it waits for the bus's answer, else held until then.
 * Held lines cost 8 bytes each; there are only as many as evfire reads
 * while an event is unanswered.
 */
static void __attribute__((format(printf, 3, 4)))
reject(struct fire *f, uint64_t line, const char *fmt, ...)
{
	uint64_t *h;
	size_t cap;
	va_list ap;

	f->rejected++;
	va_start(ap, fmt);
	vreport(f, line, fmt, ap);
	va_end(ap);
	if (!f->wait || !f->from_stdin)
		return;
	if (f->nheld == f->heldcap) {
		cap = f->heldcap == 0 ? 64 : f->heldcap * 2;
		if ((h = reallocarray(f->held, cap, sizeof(*h))) == NULL)
			err(EV_EX_SOFTWARE, "-w");
		f->held = h;
		f->heldcap = cap;
	}
	f->held[f->nheld++] = line;
	held_flush(f);
}

static void
on_ack(void *arg, uint64_t tag, uint64_t seq, bool dup)
{
	struct fire *f = arg;

	(void)tag;
	f->accepted++;
	if (dup)
		f->dups++;
	if (f->wait)
		seq_print(f, true, seq);
	if (f->wait && f->from_stdin)
		held_flush(f);
}

static void
on_reject(void *arg, uint64_t tag, const char *code, const char *text)
{
	struct fire *f = arg;

	f->rejected++;
	if (strcmp(code, "denied") == 0)
		f->denied++;
	report(f, TAG_LINE(tag), "the bus refused it (%s): %s", code, text);
	if (f->wait && f->from_stdin) {
		seq_print(f, false, 0);
		held_flush(f);
	}
}

/*
 * Check an event's text, apply -e, -m, --id and --new-ids, complete it (id,
 * time) and queue it; line is the input line (0 for the argument form).
 * A bad event is reported here.  -1 only when it cannot be queued.
 */
static int
fire_event(struct fire *f, const char *text, size_t len, uint64_t line)
{
	struct ev_prepare prep = { .fill = true, .now_ms = ev_now_ms() };
	struct ev_evinfo info;
	struct ev_err err;
	struct ev_buf *q;
	size_t mark, n;

	/* Edited straight into the publisher's queue: no copy after. */
	if ((q = ev_pub_space(&f->pub, &mark, &err)) == NULL) {
		fprintf(stderr, "evfire: %s\n", err.msg);
		return -1;
	}
	if (ev_event_edit(text, len, &prep, &f->edit, q, &info,
	    &err) == -1) {
		if (err.kind == EV_ERR_SYS) {
			fprintf(stderr, "evfire: %s\n", err.msg);
			return -1;
		}
		reject(f, line, "%s", err.msg);
		return 0;
	}
	n = ev_buf_unread(q) - mark;
	if (f->pub.c.max_event > 0 && n > f->pub.c.max_event) {
		ev_buf_truncate(q, mark);
		reject(f, line, "event of %zu bytes exceeds the bus's limit of "
		    "%zu bytes", n, f->pub.c.max_event);
		return 0;
	}
	if (ev_pub_commit(&f->pub, mark, TAG(line, !info.hadid), info.id,
	    info.hadid ? EV_PUB_OWNID : 0, &err) == -1) {
		fprintf(stderr, "evfire: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/*
 * An event named f->name with s[0..len) as its payload (none: null), then
 * fired.  The name was checked when the options were read.
 */
static int
fire_payload(struct fire *f, const char *s, size_t len, bool has_payload,
    uint64_t line)
{
	struct ev_err err;

	ev_buf_reset(&f->build);
	if (ev_event_build(&f->build, f->name, strlen(f->name),
	    has_payload ? s : NULL, len, f->mode, &err) == -1) {
		if (err.kind == EV_ERR_SYS) {
			fprintf(stderr, "evfire: %s\n", err.msg);
			return -1;
		}
		reject(f, line, "%s", err.msg);
		return 0;
	}
	return fire_event(f, ev_buf_head(&f->build), ev_buf_unread(&f->build),
	    line);
}

/*
 * A line as an event's text: without the record separators that open it
 * (RFC 7464's JSON text sequences, as jq --seq writes them) and without
 * the carriage return of a CRLF line end.
 */
static void
line_trim(const char **s, size_t *len)
{
	while (*len > 0 && **s == '\x1e') {
		(*s)++;
		(*len)--;
	}
	if (*len > 0 && (*s)[*len - 1] == '\r')
		(*len)--;
}

static bool
blank(const char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\r'))
		len--;
	return len == 0;
}

/*
 * Read standard input line by line while talking to the bus: stdin is
 * read only while the publisher has room, and acknowledgements are read
 * as they come, so -w prints each seq as soon as the bus has the event.
 */
static int
fire_stdin(struct fire *f, struct ev_err *err)
{
	struct ev_lines in;
	struct pollfd pfd[2];
	const char *line;
	char why[sizeof(err->msg)];
	size_t len, max;
	ssize_t n;
	int r, rv = 0;

	/* Room for a payload line's escaping and the event around it. */
	max = f->pub.c.max_event;
	ev_lines_init(&in, 0, max);
	for (;;) {
		while ((r = ev_lines_next(&in, &line, &len, err)) != 0) {
			if (r == 1)
				line_trim(&line, &len);
			if (r == -1)
				reject(f, in.lineno, "%s", err->msg);
			else if (blank(line, len))
				continue;
			else if ((f->name != NULL ? fire_payload(f, line, len,
			    true, in.lineno) : fire_event(f, line, len,
			    in.lineno)) == -1) {
				rv = -1;
				goto out;
			}
			if (ev_pub_full(&f->pub))
				break;
		}
		if (in.eof && ev_buf_unread(&in.buf) == 0 && !in.skipping)
			break;
		ev_pub_pollfd(&f->pub, &pfd[0].fd, &pfd[0].events);
		pfd[1].fd = 0;
		pfd[1].events = ev_pub_full(&f->pub) || in.eof ? 0 : POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			rv = ev_err_sys(err, "poll");
			goto out;
		}
		/*
		 * Input first: when the bus fails in this turn, evfire has
		 * then seen the end of its input if it was there, and says
		 * so exactly.
		 */
		if (pfd[1].revents != 0 && (n = ev_lines_fill(&in, err)) == -1 &&
		    errno != EAGAIN) {
			snprintf(why, sizeof(why), "%s", err->msg);
			snprintf(err->msg, sizeof(err->msg), "stdin: %.240s", why);
			rv = -1;
			goto out;
		}
		if (ev_pub_io(&f->pub, pfd[0].revents, err) == -1) {
			rv = -1;
			goto out;
		}
		if (f->wait && fflush(stdout) == EOF)
			f->outerr = true;
	}
	rv = ev_pub_drain(&f->pub, err);
out:
	f->lineno = in.lineno;
	f->eof = in.eof && ev_buf_unread(&in.buf) == 0 && !in.skipping;
	ev_lines_free(&in);
	return rv;
}

/* -m key=value: the value becomes a JSON string; both must be UTF-8. */
static void
add_metadata(struct fire *f, const char *kv)
{
	const char *eq = strchr(kv, '=');
	struct ev_metaset *ms;
	struct ev_buf key = { 0 }, val = { 0 };
	struct ev_err e;

	if (eq == NULL || eq == kv) {
		fprintf(stderr, "evfire: -m %s: expected key=value\n", kv);
		exit(EV_EX_USAGE);
	}
	if (ev_json_put_string(&key, kv, (size_t)(eq - kv), &e) == -1 ||
	    ev_json_put_string(&val, eq + 1, strlen(eq + 1), &e) == -1) {
		if (e.kind != EV_ERR_DATA)
			err(EV_EX_SOFTWARE, "-m");
		fprintf(stderr, "evfire: -m %s: %s not valid UTF-8\n", kv,
		    key.len == 0 ? "key" : "value");
		exit(EV_EX_USAGE);
	}
	ev_buf_free(&key);
	if ((ms = reallocarray(f->meta, f->nmeta + 1, sizeof(*ms))) == NULL)
		err(EV_EX_SOFTWARE, "-m");
	f->meta = ms;
	ms[f->nmeta++] = (struct ev_metaset){ kv, (size_t)(eq - kv),
	    val.data, val.len };
}

/*
 * --node, --service, --tag: one expression each, kept in the edit.  The
 * filter holds one per kind, so a second one is a usage error rather than
 * a silent choice.
 */
static void
add_target(struct fire *f, int kind, const char *opt, const char *re)
{
	if (f->edit.target[kind] != NULL) {
		fprintf(stderr, "evfire: --%s given twice: the filter holds "
		    "one expression for it (write 'a|b' to match a or b)\n",
		    opt);
		exit(EV_EX_USAGE);
	}
	f->edit.target[kind] = re;
}

/*
 * The targeting options' expressions must compile: check them once, now,
 * with a trial edit of a small event (the path every event takes), and
 * name the option in the message, as in "--node: bad regular expression
 * 'x(': Unmatched ( or \(".  Exits 64 when one is bad.
 */
static void
check_targets(const struct fire *f)
{
	static const char trial[] = "{\"name\":\"x\"}";
	struct ev_prepare prep = { .fill = false };
	struct ev_evinfo info;
	struct ev_buf b = { 0 };
	struct ev_err e;
	int k;

	for (k = 0; k < EV_TARGET_KINDS; k++)
		if (f->edit.target[k] != NULL)
			break;
	if (k == EV_TARGET_KINDS)
		return;
	if (ev_event_edit(trial, sizeof(trial) - 1, &prep, &f->edit, &b,
	    &info, &e) == -1) {
		if (e.kind == EV_ERR_SYS)
			errx(EV_EX_SOFTWARE, "%s", e.msg);
		if (strncmp(e.msg, "filter.", 7) == 0)
			fprintf(stderr, "evfire: --%s\n", e.msg + 7);
		else
			fprintf(stderr, "evfire: %s\n", e.msg);
		exit(EV_EX_USAGE);
	}
	ev_buf_free(&b);
}

/*
 * --token-file: the ACL token, read from a file only its owner can read
 * (ev_token_file), goes to $EVBUS_TOKEN, where the client sends it from:
 * a token never travels on a command line, where ps(1) shows it.  Exits
 * 77 for a file others can read, 64 for one that does not hold a token,
 * 74 (or 77) when it cannot be read.
 */
static void
use_token_file(const char *path)
{
	char tok[EV_TOKEN_MAX + 64];
	struct ev_err e;
	int status;

	if (ev_token_file(path, tok, sizeof(tok), &e) == -1) {
		fprintf(stderr, "evfire: %s\n", e.msg);
		status = ev_err_exit(&e);
		exit(status == EV_EX_DATAERR ? EV_EX_USAGE : status);
	}
	if (setenv("EVBUS_TOKEN", tok, 1) == -1)
		err(EV_EX_SOFTWARE, "setenv");
	explicit_bzero(tok, sizeof(tok));
}

/* Write id to stderr as a JSON string: quoted, nothing hidden. */
static void
put_id(const char *id)
{
	struct ev_buf b = { 0 };

	if (ev_json_put_string(&b, id, strlen(id), NULL) == -1)
		fprintf(stderr, "\"%s\"", id);
	else
		fputs(b.data, stderr);
	ev_buf_free(&b);
}

/*
 * The publisher gave up with events unanswered: each may or may not be
 * on the bus.  Name them, the first few one by one and then a count, with
 * their ids and lines, so that a retry can reuse the ids and the bus drop
 * what it has.  An id evfire chose is not in the input: say so.
 */
static void
report_unacked(const struct fire *f)
{
	size_t n = f->pub.nent, i, shown;
	uint64_t tag, last = 0;
	const char *id;
	bool filled = false;

	shown = n <= UNACKED_SHOW ? n : UNACKED_SHOW - 1;
	if (f->source[0] == 'a') {
		if (!ev_pub_unacked(&f->pub, 0, &tag, &id))
			return;
		fprintf(stderr, "evfire: the event was not acknowledged and "
		    "may or may not be on the bus: id ");
		put_id(id);
		fprintf(stderr, "\n");
		if (TAG_FILLED(tag))
			fprintf(stderr, "evfire: to publish it without a "
			    "double, fire it again with --id %s\n", id);
		else
			fprintf(stderr, "evfire: to publish it without a "
			    "double, fire it again with the same --id\n");
		return;
	}
	if (n > 0) {
		fprintf(stderr, "evfire: %zu event%s not acknowledged and may "
		    "or may not be on the bus:", n, n == 1 ? " was" :
		    "s were");
		for (i = 0; ev_pub_unacked(&f->pub, i, &tag, &id); i++) {
			filled |= TAG_FILLED(tag);
			last = TAG_LINE(tag);
			if (i >= shown)
				continue;
			fprintf(stderr, "%s %s:%" PRIu64 " id ", i > 0 ? "," :
			    "", f->source, TAG_LINE(tag));
			put_id(id);
			if (TAG_FILLED(tag))
				fprintf(stderr, " (chosen by evfire)");
		}
		if (n > shown)
			fprintf(stderr, ", and %zu more up to %s:%" PRIu64,
			    n - shown, f->source, last);
		fprintf(stderr, "\n");
		if (filled)
			fprintf(stderr, "evfire: to publish them again without "
			    "doubles, give each its id: the ids chosen by "
			    "evfire are not in the input\n");
		else
			fprintf(stderr, "evfire: to publish them again without "
			    "doubles, send the same lines: the bus drops the "
			    "ids it has\n");
	}
	if (!f->eof)
		fprintf(stderr, "evfire: %s was read up to line %" PRIu64
		    "; the lines after it were not sent\n", f->source,
		    f->lineno);
}

/* Events the bus already had (same id): say how many, unless -q. */
static void
report_dups(const struct fire *f)
{
	if (f->dups == 0 || f->quiet)
		return;
	if (f->accepted == 1)
		fprintf(stderr, "evfire: the event was already on the bus (same "
		    "id) and was not published again; %s\n",
		    f->source[0] == 'a' ? "fire it without --id to publish a "
		    "copy" : "use --new-ids to publish a copy");
	else
		fprintf(stderr, "evfire: %" PRIu64 " of %" PRIu64 " events "
		    "%s already on the bus (same id) and %s not published "
		    "again; use --new-ids to publish copies\n", f->dups,
		    f->accepted, f->dups == 1 ? "was" : "were",
		    f->dups == 1 ? "was" : "were");
}

/* What the command line says besides the edit and the modes in f. */
struct args {
	const char	*sock;		/* -s */
	const char	*modeopt;	/* "--json", "--string", or NULL */
	const char	*tokfile;	/* --token-file */
	const char	*payload;	/* the payload argument, or NULL */
	bool		 from_stdin;	/* no name argument */
};

/*
 * The options into f and a; exits 0 for --help and --version, 64 (with
 * the reason, then the usage) for an option that is wrong by itself.
 * Returns optind.
 */
static int
parse_options(struct fire *f, struct args *a, int argc, char *argv[])
{
	enum { OPT_JSON = 256, OPT_STRING, OPT_VERSION, OPT_ID, OPT_NEWIDS,
	    OPT_STRICT, OPT_NODE, OPT_SERVICE, OPT_TAG, OPT_TOKENFILE };
	static const struct option longopts[] = {
		{ "error",	no_argument,		NULL, 'e' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "wait",	no_argument,		NULL, 'w' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "metadata",	required_argument,	NULL, 'm' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "string",	no_argument,		NULL, OPT_STRING },
		{ "id",		required_argument,	NULL, OPT_ID },
		{ "new-ids",	no_argument,		NULL, OPT_NEWIDS },
		{ "strict",	no_argument,		NULL, OPT_STRICT },
		{ "node",	required_argument,	NULL, OPT_NODE },
		{ "service",	required_argument,	NULL, OPT_SERVICE },
		{ "tag",	required_argument,	NULL, OPT_TAG },
		{ "token-file",	required_argument,	NULL, OPT_TOKENFILE },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, OPT_VERSION },
		{ NULL,		0,			NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "eqws:m:n:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'e':
			f->edit.error = true;
			break;
		case 'q':
			f->quiet = true;
			break;
		case 'w':
			f->wait = true;
			break;
		case 's':
			a->sock = optarg;
			break;
		case 'm':
			add_metadata(f, optarg);
			break;
		case 'n':
			f->name = optarg;
			break;
		case OPT_JSON:
		case OPT_STRING:
			if (a->modeopt != NULL &&
			    (f->mode == EV_PAYLOAD_JSON) != (ch == OPT_JSON)) {
				fprintf(stderr, "evfire: --json and --string "
				    "exclude each other: a payload is JSON, or "
				    "a string\n");
				usage(EV_EX_USAGE);
			}
			a->modeopt = ch == OPT_JSON ? "--json" : "--string";
			f->mode = ch == OPT_JSON ? EV_PAYLOAD_JSON :
			    EV_PAYLOAD_STRING;
			break;
		case OPT_ID:
			f->edit.id = optarg;
			f->edit.idlen = strlen(optarg);
			break;
		case OPT_NEWIDS:
			f->edit.newid = true;
			break;
		case OPT_STRICT:
			f->strict = true;
			break;
		case OPT_NODE:
			add_target(f, EV_TARGET_NODE, "node", optarg);
			break;
		case OPT_SERVICE:
			add_target(f, EV_TARGET_SERVICE, "service", optarg);
			break;
		case OPT_TAG:
			add_target(f, EV_TARGET_TAG, "tag", optarg);
			break;
		case OPT_TOKENFILE:
			a->tokfile = optarg;
			break;
		case 'h':
			usage(0);
		case OPT_VERSION:
			printf("evfire %s\n", EV_VERSION);
			exit(0);
		default:
			usage(EV_EX_USAGE);
		}
	}
	f->edit.meta = f->meta;
	f->edit.nmeta = f->nmeta;
	return optind;
}

/*
 * The name and payload arguments, and the options that do not go with
 * them: exits 64 with the reason (and the usage when the form is wrong),
 * 65 for a name argument that is not a name, as for any bad event.
 */
static void
check_args(struct fire *f, struct args *a, int argc, char *argv[])
{
	struct ev_err err;

	a->from_stdin = argc == 0;
	if (f->name != NULL && argc > 0) {
		fprintf(stderr, "evfire: -n takes payloads from standard "
		    "input; give no name argument with it\n");
		usage(EV_EX_USAGE);
	}
	if (argc > 2) {
		fprintf(stderr, "evfire: too many arguments: a name and at "
		    "most one payload (quote a payload with spaces)\n");
		usage(EV_EX_USAGE);
	}
	if (!a->from_stdin) {
		f->name = argv[0];
		a->payload = argc > 1 ? argv[1] : NULL;
		if (ev_name_check(f->name, strlen(f->name), &err) == -1) {
			fprintf(stderr, "evfire: %s\n", err.msg);
			exit(EV_EX_DATAERR);
		}
	} else if (f->name != NULL &&
	    ev_name_check(f->name, strlen(f->name), &err) == -1) {
		fprintf(stderr, "evfire: -n: %s\n", err.msg);
		exit(EV_EX_USAGE);
	}
	if (a->from_stdin && f->name == NULL && f->mode != EV_PAYLOAD_AUTO) {
		fprintf(stderr, "evfire: %s applies to payloads: use it with "
		    "a name\n", a->modeopt);
		usage(EV_EX_USAGE);
	}
	if (f->edit.id != NULL && a->from_stdin) {
		fprintf(stderr, "evfire: --id is the id of one event: give "
		    "the event's name as an argument\n");
		usage(EV_EX_USAGE);
	}
	if (f->edit.newid && (!a->from_stdin || f->name != NULL)) {
		fprintf(stderr, "evfire: --new-ids replaces the ids of events "
		    "read as JSON lines; events made from a name get new ids "
		    "anyway\n");
		usage(EV_EX_USAGE);
	}
	check_targets(f);
}

/*
 * Publish what the arguments or standard input hold and say what became
 * of it: 0, or the exit status of a failure that ended it early (69, 74,
 * 75, 77, ...), reported.
 */
static int
fire_all(struct fire *f, const struct args *a)
{
	struct ev_err err = { 0 };
	int status;

	/* One event: send it with HELLO, in one round trip. */
	if (ev_pub_open(&f->pub, a->sock, "evfire", EV_CLIENT_AUTOSTART |
	    (a->from_stdin ? 0 : EV_CLIENT_NOWAIT), &err) == -1) {
		fprintf(stderr, "evfire: %s\n", err.msg);
		return ev_err_exit(&err) == EV_EX_DATAERR ? EV_EX_USAGE :
		    ev_err_exit(&err);
	}
	f->pub.on_ack = on_ack;
	f->pub.on_reject = on_reject;
	f->pub.arg = f;

	if (a->from_stdin)
		status = fire_stdin(f, &err);
	else if (fire_payload(f, a->payload, a->payload != NULL ?
	    strlen(a->payload) : 0, a->payload != NULL, 0) == -1)
		status = -1;
	else
		status = ev_pub_drain(&f->pub, &err);
	if (status == -1 && err.kind != EV_ERR_NONE) {
		fprintf(stderr, "evfire: %s\n", err.msg);
		status = ev_err_exit(&err);
		if (status == EV_EX_DATAERR)
			status = EV_EX_SOFTWARE;
	} else if (status == -1)
		status = EV_EX_SOFTWARE;
	/* A bus that refused us at once published nothing of ours. */
	if (status != 0 && f->pub.reached)
		report_unacked(f);
	report_dups(f);
	ev_pub_close(&f->pub);
	return status;
}

int
main(int argc, char *argv[])
{
	static struct fire f;
	struct args a = { 0 };
	int status, closed, n;
	size_t i;

	/* First: a closed stdin or stdout must not become the bus's socket. */
	if ((closed = ev_stdfds_open()) == -1) {
		fprintf(stderr, "evfire: /dev/null: %s\n", strerror(errno));
		return EV_EX_IOERR;
	}
	n = parse_options(&f, &a, argc, argv);
	check_args(&f, &a, argc - n, argv + n);
	if (a.tokfile != NULL)
		use_token_file(a.tokfile);
	if (a.from_stdin && (closed & EV_STDIN_CLOSED)) {
		fprintf(stderr, "evfire: stdin: closed, no events to read "
		    "(give a name to fire one event)\n");
		return EV_EX_IOERR;
	}
	if (f.wait && (closed & EV_STDOUT_CLOSED)) {
		fprintf(stderr, "evfire: stdout: closed, nowhere to print "
		    "the seqs for -w\n");
		return EV_EX_IOERR;
	}
	signal(SIGPIPE, SIG_IGN);

	f.source = a.from_stdin ? "stdin" : "argument";
	f.from_stdin = a.from_stdin;
	status = fire_all(&f, &a);
	ev_buf_free(&f.build);
	for (i = 0; i < f.nmeta; i++)
		free((char *)(uintptr_t)f.meta[i].val);
	free(f.meta);
	free(f.held);

	if (fflush(stdout) == EOF || ferror(stdout) || f.outerr) {
		if (!f.quiet)
			fprintf(stderr, "evfire: stdout: %s\n",
			    strerror(errno));
		return EV_EX_IOERR;
	}
	if (status != 0)
		return status;
	/* Permission denied for every event refused: 77, as for SUB. */
	if (f.denied > 0 && f.denied == f.rejected && f.accepted == 0)
		return EV_EX_NOPERM;
	if (f.rejected > 0)
		return f.accepted == 0 ? EV_EX_DATAERR : EV_EX_REJECTED;
	if (f.strict && f.dups > 0)
		return EX_DUP;
	return EV_EX_OK;
}
