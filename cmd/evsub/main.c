/*
 * evsub: subscribe to the bus and print matching events as NDJSON.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "evbus.h"

/* evsub's own exit statuses for its stop conditions. */
#define EX_IDLE		3	/* --idle passed without an event */
#define EX_DEADLINE	4	/* --deadline reached */
#define EX_CLOSED	5	/* the bus went away, --reconnect=never */

#define OPEN_MS		5000

struct sub {
	const char	 *sock;
	char		**pats;
	int		  npats;
	uint64_t	  count;	/* -c; 0 for no limit */
	uint64_t	  printed;	/* events printed (gap lines apart) */
	bool		  has_from, has_last;
	uint64_t	  from, last;
	int64_t		  first_ms, idle_ms, deadline_ms;	/* -1: none */
	int64_t		  t_start, t_last;
	bool		  reconnect;
	bool		  quiet;
	struct ev_client  c;
	uint64_t	  resume;	/* next seq wanted; 0: ask as at first */
	struct ev_buf	  out;
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: evsub [-q] [-s socket] [-c count] [--from seq | --last n] "
	    "[--first duration]\n"
	    "             [--idle duration] [--deadline duration] "
	    "[--reconnect=always|never]\n"
	    "             [pattern ...]\n");
	exit(status);
}

/* Write all of out to standard output; exit 74 when that fails. */
static void
sub_output(struct sub *s)
{
	ssize_t n;

	while (ev_buf_unread(&s->out) > 0) {
		n = write(1, ev_buf_head(&s->out), ev_buf_unread(&s->out));
		if (n > 0) {
			ev_buf_consume(&s->out, (size_t)n);
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

static void __attribute__((noreturn))
sub_exit(struct sub *s, int status)
{
	sub_output(s);
	ev_client_close(&s->c);
	exit(status);
}

/*
 * Exit if a stop condition has passed; otherwise the milliseconds until
 * the nearest one (-1 when there is none).
 */
static int
sub_timers(struct sub *s)
{
	int64_t now = ev_mono_ms(), next = -1, t;

	if (s->deadline_ms >= 0) {
		t = s->t_start + s->deadline_ms;
		if (now >= t)
			sub_exit(s, EX_DEADLINE);
		next = t;
	}
	if (s->first_ms >= 0 && s->printed == 0) {
		t = s->t_start + s->first_ms;
		if (now >= t) {
			if (!s->quiet)
				fprintf(stderr, "evsub: no event within "
				    "--first\n");
			sub_exit(s, EV_EX_TEMPFAIL);
		}
		if (next == -1 || t < next)
			next = t;
	}
	if (s->idle_ms >= 0) {
		t = s->t_last + s->idle_ms;
		if (now >= t)
			sub_exit(s, EX_IDLE);
		if (next == -1 || t < next)
			next = t;
	}
	return next == -1 ? -1 : (int)(next - now);
}

/*
 * Ask for the events: from the seq after the last one printed, or, before
 * anything was printed, as the options say (live means "after the newest
 * the bus had when we said HELLO", so nothing slips between).
 * Exits 64 when the bus refuses the subscription.  -1 on a lost bus.
 */
static int
sub_subscribe(struct sub *s, bool newepoch)
{
	struct ev_frame f;
	struct ev_err err;
	json_t *req, *pats;
	char *body;
	int i, r;

	pats = json_array();
	for (i = 0; i < s->npats; i++)
		json_array_append_new(pats, json_string(s->pats[i]));
	req = json_pack("{s:o}", "patterns", pats);
	if (newepoch)
		json_object_set_new(req, "from", json_integer(0));
	else if (s->resume > 0)
		json_object_set_new(req, "from", json_integer(
		    (json_int_t)s->resume));
	else if (s->has_from)
		json_object_set_new(req, "from", json_integer(
		    (json_int_t)s->from));
	else if (s->has_last)
		json_object_set_new(req, "last", json_integer(
		    (json_int_t)s->last));
	else {
		s->resume = s->c.last_seq + 1;
		json_object_set_new(req, "from", json_integer(
		    (json_int_t)s->resume));
	}
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL) {
		fprintf(stderr, "evsub: out of memory\n");
		exit(EV_EX_SOFTWARE);
	}
	r = ev_proto_body(&s->c.out, "SUB", body, strlen(body));
	free(body);
	if (r == -1 || ev_client_flush(&s->c, OPEN_MS, &err) == -1)
		return -1;
	if ((r = ev_client_next(&s->c, &f, OPEN_MS, &err)) <= 0)
		return -1;
	if (strcmp(f.verb, "OK") == 0)
		return 0;
	if (strcmp(f.verb, "ERR") == 0 && f.argc == 2) {
		fprintf(stderr, "evsub: the bus refused the subscription: "
		    "%s\n", f.argv[1]);
		sub_exit(s, EV_EX_USAGE);
	}
	fprintf(stderr, "evsub: unexpected reply '%s' from the bus\n",
	    f.verb);
	sub_exit(s, EV_EX_UNAVAILABLE);
}

/* The bus restarted without its history: say so in the stream. */
static void
sub_restart_gap(struct sub *s, const char *old)
{
	struct ev_origin self = { getuid(), getgid(), getpid() };
	char payload[200];

	snprintf(payload, sizeof(payload), "{\"reason\":\"restart\","
	    "\"epoch\":\"%s\",\"previous_epoch\":\"%s\",\"after\":%" PRIu64
	    "}", s->c.epoch, old, s->resume > 0 ? s->resume - 1 : 0);
	if (ev_event_internal(&s->out, 0, &self, "evbus.gap", ev_now_ms(),
	    payload) == -1 || ev_buf_putc(&s->out, '\n') == -1) {
		fprintf(stderr, "evsub: out of memory\n");
		exit(EV_EX_SOFTWARE);
	}
	sub_output(s);
}

/*
 * The bus went away: with --reconnect=never exit 5; else try again, from
 * 50 ms to 1 s apart, for as long as the stop conditions allow.
 */
static void
sub_reconnect(struct sub *s)
{
	char old[EV_EPOCH_LEN + 1];
	struct ev_err err;
	int64_t wait = 50;
	int left;
	bool newepoch;

	memcpy(old, s->c.epoch, sizeof(old));
	ev_client_close(&s->c);
	if (!s->reconnect) {
		if (!s->quiet)
			fprintf(stderr, "evsub: the bus closed the "
			    "connection\n");
		sub_exit(s, EX_CLOSED);
	}
	if (!s->quiet)
		fprintf(stderr, "evsub: lost the bus; reconnecting\n");
	for (;;) {
		left = sub_timers(s);
		if (ev_client_open(&s->c, s->sock, "evsub", 0,
		    left < 0 || left > OPEN_MS ? OPEN_MS : left + 1,
		    &err) == 0) {
			newepoch = strcmp(old, s->c.epoch) != 0;
			if (sub_subscribe(s, newepoch) == 0) {
				if (newepoch)
					sub_restart_gap(s, old);
				if (!s->quiet)
					fprintf(stderr, "evsub: reconnected\n");
				return;
			}
			ev_client_close(&s->c);
		} else if (err.kind == EV_ERR_DENIED) {
			fprintf(stderr, "evsub: %s\n", err.msg);
			sub_exit(s, EV_EX_NOPERM);
		}
		left = sub_timers(s);
		ev_sleep_ms(left >= 0 && left < wait ? left : wait);
		wait = wait * 2 > 1000 ? 1000 : wait * 2;
	}
}

/* Print the events read so far; exit once -c is reached. */
static void
sub_events(struct sub *s)
{
	struct ev_frame f;
	struct ev_err err;
	uint64_t seq;
	int r;

	while ((r = ev_decoder_next(&s->c.dec, &f, &err)) == 1) {
		if (strcmp(f.verb, "EVENT") != 0 || f.body == NULL) {
			fprintf(stderr, "evsub: unexpected '%s%s%s' from the "
			    "bus\n", f.verb, f.argc ? " " : "",
			    f.argc ? f.argv[0] : "");
			sub_exit(s, EV_EX_UNAVAILABLE);
		}
		if (ev_buf_append(&s->out, f.body, f.bodylen) == -1 ||
		    ev_buf_putc(&s->out, '\n') == -1) {
			fprintf(stderr, "evsub: out of memory\n");
			sub_exit(s, EV_EX_SOFTWARE);
		}
		if ((seq = ev_event_seq(f.body, f.bodylen)) == 0)
			continue;		/* a gap notice */
		s->resume = seq + 1;
		s->printed++;
		s->t_last = ev_mono_ms();
		if (s->count > 0 && s->printed == s->count)
			sub_exit(s, EV_EX_OK);
	}
	if (r == -1) {
		fprintf(stderr, "evsub: %s\n", err.msg);
		sub_exit(s, EV_EX_UNAVAILABLE);
	}
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
count_arg(const char *opt, const char *v, uint64_t *out)
{
	if (ev_parse_u64(v, strlen(v), INT64_MAX, out) == -1) {
		fprintf(stderr, "evsub: %s '%s': expected a whole number\n",
		    opt, v);
		exit(EV_EX_USAGE);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "socket",	required_argument,	NULL, 's' },
		{ "count",	required_argument,	NULL, 'c' },
		{ "from",	required_argument,	NULL, 'F' },
		{ "last",	required_argument,	NULL, 'L' },
		{ "first",	required_argument,	NULL, '1' },
		{ "idle",	required_argument,	NULL, 'I' },
		{ "deadline",	required_argument,	NULL, 'D' },
		{ "reconnect",	required_argument,	NULL, 'R' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	static char *all[] = { "#" };
	static struct sub s;
	struct ev_patset check = { 0 };
	struct pollfd pfd;
	struct ev_err err;
	ssize_t n;
	int ch, i, r, timeout, closed;

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
	s.first_ms = s.idle_ms = s.deadline_ms = -1;
	s.reconnect = true;
	while ((ch = getopt_long(argc, argv, "qs:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			s.quiet = true;
			break;
		case 's':
			s.sock = optarg;
			break;
		case 'c':
			count_arg("-c", optarg, &s.count);
			if (s.count == 0) {
				fprintf(stderr, "evsub: -c: must be at least "
				    "1\n");
				return EV_EX_USAGE;
			}
			break;
		case 'F':
			count_arg("--from", optarg, &s.from);
			s.has_from = true;
			break;
		case 'L':
			count_arg("--last", optarg, &s.last);
			s.has_last = true;
			break;
		case '1':
			duration_arg("--first", optarg, &s.first_ms);
			break;
		case 'I':
			duration_arg("--idle", optarg, &s.idle_ms);
			break;
		case 'D':
			duration_arg("--deadline", optarg, &s.deadline_ms);
			break;
		case 'R':
			if (strcmp(optarg, "always") == 0)
				s.reconnect = true;
			else if (strcmp(optarg, "never") == 0)
				s.reconnect = false;
			else {
				fprintf(stderr, "evsub: --reconnect: 'always' "
				    "or 'never'\n");
				return EV_EX_USAGE;
			}
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
	if (s.has_from && s.has_last) {
		fprintf(stderr, "evsub: --from and --last exclude each "
		    "other\n");
		return EV_EX_USAGE;
	}
	s.pats = argc > optind ? argv + optind : all;
	s.npats = argc > optind ? argc - optind : 1;
	for (i = 0; i < s.npats; i++)
		if (ev_patset_add(&check, s.pats[i], strlen(s.pats[i]),
		    &err) == -1) {
			fprintf(stderr, "evsub: %s\n", err.msg);
			return EV_EX_USAGE;
		}
	ev_patset_free(&check);
	signal(SIGPIPE, SIG_IGN);

	s.t_start = s.t_last = ev_mono_ms();
	if (ev_client_open(&s.c, s.sock, "evsub", EV_CLIENT_AUTOSTART,
	    OPEN_MS, &err) == -1) {
		fprintf(stderr, "evsub: %s\n", err.msg);
		r = ev_err_exit(&err);
		return r == EV_EX_DATAERR ? EV_EX_USAGE : r;
	}
	if (sub_subscribe(&s, false) == -1)
		sub_reconnect(&s);
	for (;;) {
		sub_events(&s);
		sub_output(&s);
		timeout = sub_timers(&s);
		pfd.fd = s.c.fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, timeout)) == -1 && errno != EINTR) {
			fprintf(stderr, "evsub: poll: %s\n", strerror(errno));
			sub_exit(&s, EV_EX_SOFTWARE);
		}
		if (r <= 0)
			continue;
		n = ev_client_fill(&s.c, &err);
		if (n == 0 || (n == -1 && errno != EAGAIN))
			sub_reconnect(&s);
	}
}
