/*
 * evfire: publish events on the bus, from arguments or from standard input.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "evbus.h"

enum payload_mode { PAYLOAD_AUTO, PAYLOAD_JSON, PAYLOAD_STRING };

struct fire {
	struct ev_publisher pub;
	const char	*name;		/* -n, or the name argument */
	bool		 error;		/* -e */
	json_t		*metadata;	/* -m pairs, or NULL */
	struct ev_buf	 meta;		/* the same as JSON text */
	enum payload_mode mode;
	bool		 wait;		/* -w: print seqs */
	bool		 quiet;
	const char	*source;	/* "stdin", or "argument" */
	uint64_t	 accepted;
	uint64_t	 rejected;
	bool		 outerr;	/* stdout failed */
	struct ev_buf	 ev;		/* the event being checked */
	struct ev_buf	 build;		/* an event made from a payload */
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: evfire [-eqw] [-s socket] [-m key=value]... "
	    "[--json | --string] name [payload]\n"
	    "       evfire [-eqw] [-s socket] [-m key=value]... "
	    "[--json | --string] -n name\n"
	    "       evfire [-eqw] [-s socket] [-m key=value]...\n");
	exit(status);
}

static void __attribute__((format(printf, 3, 4)))
reject(struct fire *f, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	f->rejected++;
	if (f->quiet)
		return;
	if (line > 0)
		fprintf(stderr, "evfire: %s:%" PRIu64 ": ", f->source, line);
	else
		fprintf(stderr, "evfire: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
on_ack(void *arg, uint64_t tag, uint64_t seq)
{
	struct fire *f = arg;

	(void)tag;
	f->accepted++;
	if (f->wait && printf("%" PRIu64 "\n", seq) < 0)
		f->outerr = true;
}

static void
on_reject(void *arg, uint64_t tag, const char *code, const char *text)
{
	struct fire *f = arg;

	reject(f, tag, "the bus refused it (%s): %s", code, text);
}

/*
 * Append the payload from text: JSON when it is JSON (or must be, with
 * --json), else the text as a string.  -1 with err when it cannot be.
 */
static int
payload_put(const struct fire *f, const char *s, size_t len,
    struct ev_buf *out, struct ev_err *err)
{
	struct ev_err jerr;

	if (f->mode != PAYLOAD_STRING) {
		if (ev_json_check(s, len, NULL, &jerr) == 0)
			return ev_buf_append(out, s, len) == -1 ?
			    ev_err_sys(err, "event") : 0;
		if (f->mode == PAYLOAD_JSON)
			return ev_err_set(err, EV_ERR_DATA, "payload: %s",
			    jerr.msg);
	}
	if (ev_json_put_string(out, s, len, err) == -1) {
		if (err->kind == EV_ERR_DATA)
			ev_err_set(err, EV_ERR_DATA, "payload: not valid UTF-8 "
			    "(or contains NUL); use --json with an escaped "
			    "string");
		return -1;
	}
	return 0;
}

/* Add -e and -m to an event object (borrowed). */
static int
decorate(const struct fire *f, json_t *ev, struct ev_err *err)
{
	json_t *md;

	if (f->error && json_object_set_new(ev, "error", json_true()) == -1)
		return ev_err_sys(err, "event");
	if (f->metadata == NULL)
		return 0;
	md = json_object_get(ev, "metadata");
	if (md == NULL)
		return json_object_set(ev, "metadata", f->metadata) == -1 ?
		    ev_err_sys(err, "event") : 0;
	if (!json_is_object(md))
		return ev_err_set(err, EV_ERR_DATA, "metadata: not an object");
	if (json_object_update(md, f->metadata) == -1)
		return ev_err_sys(err, "event");
	return 0;
}

/*
 * Check an event's text, complete it (id, time) and queue it; tag is the
 * input line (0 for the argument form).  A bad event is reported here.
 */
static int
fire_event(struct fire *f, const char *text, size_t len, uint64_t tag)
{
	struct ev_prepare prep = { .fill = true, .now_ms = ev_now_ms() };
	struct ev_evinfo info;
	struct ev_err err;

	ev_buf_reset(&f->ev);
	if (ev_event_prepare(text, len, &prep, &f->ev, &info, &err) == -1) {
		reject(f, tag, "%s", err.msg);
		return 0;
	}
	if (f->pub.c.max_event > 0 &&
	    ev_buf_unread(&f->ev) > f->pub.c.max_event) {
		reject(f, tag, "event of %zu bytes exceeds the bus's limit of "
		    "%zu bytes", ev_buf_unread(&f->ev), f->pub.c.max_event);
		return 0;
	}
	if (ev_pub_queue(&f->pub, ev_buf_head(&f->ev), ev_buf_unread(&f->ev),
	    tag, &err) == -1) {
		fprintf(stderr, "evfire: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/*
 * Build {"name":..,"payload":..} plus -e and -m as text, then fire it.
 * The name was checked when the options were read.
 */
static int
fire_payload(struct fire *f, const char *s, size_t len, bool has_payload,
    uint64_t tag)
{
	struct ev_buf *b = &f->build;
	struct ev_err err;

	ev_buf_reset(b);
	if (ev_buf_append(b, "{\"name\":", 8) == -1 ||
	    ev_json_put_string(b, f->name, strlen(f->name), &err) == -1 ||
	    ev_buf_append(b, ",\"payload\":", 11) == -1)
		goto nomem;
	if (!has_payload) {
		if (ev_buf_append(b, "null", 4) == -1)
			goto nomem;
	} else if (payload_put(f, s, len, b, &err) == -1) {
		if (err.kind != EV_ERR_DATA)
			goto nomem;
		reject(f, tag, "%s", err.msg);
		return 0;
	}
	if ((f->error && ev_buf_append(b, ",\"error\":true", 13) == -1) ||
	    (f->meta.len > 0 && (ev_buf_append(b, ",\"metadata\":", 12) ==
	    -1 || ev_buf_append(b, f->meta.data, f->meta.len) == -1)) ||
	    ev_buf_putc(b, '}') == -1)
		goto nomem;
	return fire_event(f, ev_buf_head(b), ev_buf_unread(b), tag);
nomem:
	fprintf(stderr, "evfire: out of memory\n");
	return -1;
}

/* An NDJSON line: an event of its own, with -e/-m added when given. */
static int
fire_line(struct fire *f, const char *s, size_t len, uint64_t tag)
{
	json_error_t je;
	struct ev_err err;
	json_t *ev;
	char *text;
	int r;

	if (!f->error && f->metadata == NULL)
		return fire_event(f, s, len, tag);
	if ((ev = json_loadb(s, len, 0, &je)) == NULL ||
	    !json_is_object(ev)) {
		json_decref(ev);
		reject(f, tag, ev ? "not a JSON object" :
		    "invalid JSON at byte %d: %s", je.position, je.text);
		return 0;
	}
	if (decorate(f, ev, &err) == -1) {
		json_decref(ev);
		reject(f, tag, "%s", err.msg);
		return 0;
	}
	text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(ev);
	if (text == NULL) {
		fprintf(stderr, "evfire: out of memory\n");
		return -1;
	}
	r = fire_event(f, text, strlen(text), tag);
	free(text);
	return r;
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
	size_t len, max;
	ssize_t n;
	int r, rv = 0;

	/* Room for a payload line's escaping and the event around it. */
	max = f->pub.c.max_event;
	ev_lines_init(&in, 0, max);
	for (;;) {
		while ((r = ev_lines_next(&in, &line, &len, err)) != 0) {
			if (r == -1)
				reject(f, in.lineno, "%s", err->msg);
			else if (blank(line, len))
				continue;
			else if ((f->name != NULL ? fire_payload(f, line, len,
			    true, in.lineno) : fire_line(f, line, len,
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
		if (pfd[0].revents != 0 &&
		    ev_pub_io(&f->pub, pfd[0].revents, err) == -1) {
			rv = -1;
			goto out;
		}
		if (f->wait && fflush(stdout) == EOF)
			f->outerr = true;
		if (pfd[1].revents != 0 && (n = ev_lines_fill(&in, err)) == -1 &&
		    errno != EAGAIN) {
			fprintf(stderr, "evfire: stdin: %s\n", err->msg);
			rv = -1;
			goto out;
		}
		if (ev_pub_io(&f->pub, 0, err) == -1) {
			rv = -1;
			goto out;
		}
	}
	rv = ev_pub_drain(&f->pub, err);
out:
	ev_lines_free(&in);
	return rv;
}

static void
add_metadata(struct fire *f, const char *kv)
{
	const char *eq = strchr(kv, '=');
	json_t *v;

	if (eq == NULL || eq == kv) {
		fprintf(stderr, "evfire: -m %s: expected key=value\n", kv);
		exit(EV_EX_USAGE);
	}
	if (f->metadata == NULL && (f->metadata = json_object()) == NULL)
		exit(EV_EX_SOFTWARE);
	if ((v = json_string(eq + 1)) == NULL) {
		fprintf(stderr, "evfire: -m %s: value not valid UTF-8\n", kv);
		exit(EV_EX_USAGE);
	}
	if (json_object_setn_new(f->metadata, kv, (size_t)(eq - kv),
	    v) == -1) {
		fprintf(stderr, "evfire: -m %s: key not valid UTF-8\n", kv);
		exit(EV_EX_USAGE);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "error",	no_argument,		NULL, 'e' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "wait",	no_argument,		NULL, 'w' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "metadata",	required_argument,	NULL, 'm' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "json",	no_argument,		NULL, 'J' },
		{ "string",	no_argument,		NULL, 'S' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	static struct fire f;
	struct ev_err err = { 0 };
	const char *sock = NULL;
	int ch, status, closed;
	bool from_stdin;

	/* First: a closed stdin or stdout must not become the bus's socket. */
	if ((closed = ev_stdfds_open()) == -1) {
		fprintf(stderr, "evfire: /dev/null: %s\n", strerror(errno));
		return EV_EX_IOERR;
	}
	while ((ch = getopt_long(argc, argv, "eqws:m:n:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'e':
			f.error = true;
			break;
		case 'q':
			f.quiet = true;
			break;
		case 'w':
			f.wait = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'm':
			add_metadata(&f, optarg);
			break;
		case 'n':
			f.name = optarg;
			break;
		case 'J':
			f.mode = PAYLOAD_JSON;
			break;
		case 'S':
			f.mode = PAYLOAD_STRING;
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("evfire %s\n", EV_VERSION);
			return 0;
		default:
			usage(EV_EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	from_stdin = argc == 0;
	if (f.name != NULL && argc > 0) {
		fprintf(stderr, "evfire: -n takes payloads from standard "
		    "input; give no name argument with it\n");
		usage(EV_EX_USAGE);
	}
	if (argc > 2)
		usage(EV_EX_USAGE);
	if (!from_stdin) {
		f.name = argv[0];
		if (ev_name_check(f.name, strlen(f.name), &err) == -1) {
			fprintf(stderr, "evfire: %s\n", err.msg);
			return EV_EX_DATAERR;
		}
	} else if (f.name != NULL &&
	    ev_name_check(f.name, strlen(f.name), &err) == -1) {
		fprintf(stderr, "evfire: -n: %s\n", err.msg);
		return EV_EX_USAGE;
	}
	if (f.metadata != NULL) {
		char *text = json_dumps(f.metadata, JSON_COMPACT |
		    JSON_PRESERVE_ORDER);

		if (text == NULL || ev_buf_append(&f.meta, text,
		    strlen(text)) == -1) {
			fprintf(stderr, "evfire: out of memory\n");
			return EV_EX_SOFTWARE;
		}
		free(text);
	}
	if (from_stdin && f.name == NULL && f.mode != PAYLOAD_AUTO) {
		fprintf(stderr, "evfire: --json and --string apply to "
		    "payloads: use them with a name\n");
		usage(EV_EX_USAGE);
	}
	if (from_stdin && (closed & EV_STDIN_CLOSED)) {
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

	f.source = from_stdin ? "stdin" : "argument";
	/* One event: send it with HELLO, in one round trip. */
	if (ev_pub_open(&f.pub, sock, "evfire", EV_CLIENT_AUTOSTART |
	    (from_stdin ? 0 : EV_CLIENT_NOWAIT), &err) == -1) {
		fprintf(stderr, "evfire: %s\n", err.msg);
		return ev_err_exit(&err) == EV_EX_DATAERR ? EV_EX_USAGE :
		    ev_err_exit(&err);
	}
	f.pub.on_ack = on_ack;
	f.pub.on_reject = on_reject;
	f.pub.arg = &f;

	if (from_stdin)
		status = fire_stdin(&f, &err);
	else if (fire_payload(&f, argc > 1 ? argv[1] : NULL,
	    argc > 1 ? strlen(argv[1]) : 0, argc > 1, 0) == -1)
		status = -1;
	else
		status = ev_pub_drain(&f.pub, &err);
	if (status == -1 && err.kind != EV_ERR_NONE) {
		fprintf(stderr, "evfire: %s\n", err.msg);
		status = ev_err_exit(&err);
		if (status == EV_EX_DATAERR)
			status = EV_EX_SOFTWARE;
	} else if (status == -1)
		status = EV_EX_SOFTWARE;
	ev_pub_close(&f.pub);
	ev_buf_free(&f.ev);
	ev_buf_free(&f.build);
	ev_buf_free(&f.meta);
	json_decref(f.metadata);

	if (fflush(stdout) == EOF || ferror(stdout) || f.outerr) {
		if (!f.quiet)
			fprintf(stderr, "evfire: stdout: %s\n",
			    strerror(errno));
		return EV_EX_IOERR;
	}
	if (status != 0)
		return status;
	if (f.rejected > 0)
		return f.accepted == 0 ? EV_EX_DATAERR : EV_EX_REJECTED;
	return EV_EX_OK;
}
