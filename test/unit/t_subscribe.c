/*
 * t_subscribe.c: the subscriber against a scripted bus on a real socket.
 * The test plays evbusd by hand (accept, read HELLO and SUB, write HELLO,
 * OK and EVENT frames) and turns the subscriber's loop between steps:
 * the SUB request for each way of starting; OK <end>; events and notices
 * handed on as the bus's bytes; a reconnect to the same epoch resumes
 * after the last event; one to a new epoch hands on the restart line and
 * asks from the oldest; duplicates dropped across restarts, only for the
 * window's length, and not at all with the window off; a refused
 * subscription; a handshake that times out; a bus that is away for a
 * while; stopping from on_event; a protocol error.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "tap.h"

#define E1	"1111111111111111"
#define E2	"2222222222222222"
#define E3	"3333333333333333"

/* The scripted bus. */
struct fake {
	char		  dir[64];
	char		  path[108];
	int		  lfd;		/* listening */
	int		  fd;		/* the subscriber's */
	struct ev_decoder dec;
	char		  body[1024];	/* of the last SUB */
};

/* What the callbacks saw. */
struct seen {
	struct ev_buf	  lines;	/* each line handed on, and '\n' */
	int		  kinds[64];
	int		  nev;
	int		  states[64];
	int		  nstates;
	struct ev_err	  err;		/* of the last state */
	int		  batches;
	int		  stop_after;	/* on_event stops at this count */
};

static struct fake fk;
static struct seen sn;

static void
fake_listen(struct fake *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	strcpy(sun.sun_path, f->path);
	if ((f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(f->lfd, 8) == -1) {
		perror("fake bus");
		exit(1);
	}
}

static void
fake_open(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/t_subscribe.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	fake_listen(f);
	f->fd = -1;
	ev_decoder_init(&f->dec, EV_LINE_MAX, 65536);
}

static void
fake_unlisten(struct fake *f)
{
	close(f->lfd);
	f->lfd = -1;
	unlink(f->path);
}

static void
fake_hangup(struct fake *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	ev_decoder_free(&f->dec);
	ev_decoder_init(&f->dec, EV_LINE_MAX, 65536);
}

static void
fake_close(struct fake *f)
{
	fake_hangup(f);
	if (f->lfd != -1)
		fake_unlisten(f);
	ev_decoder_free(&f->dec);
	rmdir(f->dir);
}

/*
 * Accept the subscriber's connection: its connect(2) was queued in the
 * backlog when the subscriber (re)connected.  0, or -1 when none comes.
 */
static int
fake_accept(struct fake *f)
{
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };

	fake_hangup(f);
	if (poll(&p, 1, 5000) != 1)
		return -1;
	f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	return f->fd == -1 ? -1 : 0;
}

/* The next frame the subscriber sent (waits at most 5 s).  0 or -1. */
static int
fake_frame(struct fake *f, struct ev_frame *fr)
{
	struct pollfd p = { .fd = f->fd, .events = POLLIN };
	struct ev_err err;
	char buf[4096];
	ssize_t n;
	int r;

	for (;;) {
		if ((r = ev_decoder_next(&f->dec, fr, &err)) == 1)
			return 0;
		if (r == -1 || poll(&p, 1, 5000) != 1 ||
		    (n = read(f->fd, buf, sizeof(buf))) <= 0)
			return -1;
		ev_decoder_feed(&f->dec, buf, (size_t)n);
	}
}

static void
fake_send(struct fake *f, const char *s)
{
	if (write(f->fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
}

/* An EVENT frame; seq 0 makes a notice (no seq). */
static void
fake_event(struct fake *f, uint64_t seq, const char *id)
{
	char body[256], frame[320];

	if (seq > 0)
		snprintf(body, sizeof(body), "{\"seq\":%llu,\"id\":\"%s\","
		    "\"origin\":{\"uid\":1,\"gid\":1,\"pid\":1},\"name\":"
		    "\"t.x\",\"payload\":null}", (unsigned long long)seq, id);
	else
		snprintf(body, sizeof(body), "{\"id\":\"%s\",\"origin\":"
		    "{\"uid\":1,\"gid\":1,\"pid\":1},\"name\":\"evbus.gap\","
		    "\"payload\":{}}", id);
	snprintf(frame, sizeof(frame), "EVENT %zu\n%s\n", strlen(body), body);
	fake_send(f, frame);
}

/* Turn the loop until cond holds, for at most 5 s. */
#define SPIN(l, cond) do {						\
	int64_t t_ = ev_mono_ms() + 5000;				\
	while (!(cond) && ev_mono_ms() < t_)				\
		ev_loop_once((l), 20, NULL);				\
} while (0)

/*
 * Accept, read HELLO, answer it for epoch and last, then turn the loop
 * until the SUB request comes; its body is left in fk.body.  0 or -1.
 */
static int
handshake(struct ev_loop *l, struct ev_subscriber *s, const char *epoch,
    uint64_t last)
{
	struct ev_frame fr;
	char reply[128];

	(void)s;
	SPIN(l, s->phase == EV_SUB_HELLO);
	if (fake_accept(&fk) == -1 || fake_frame(&fk, &fr) == -1 ||
	    strcmp(fr.verb, "HELLO") != 0)
		return -1;
	snprintf(reply, sizeof(reply), "HELLO 2 %s %llu 65536 features=x "
	    "max_depth=256\n", epoch, (unsigned long long)last);
	fake_send(&fk, reply);
	SPIN(l, s->phase != EV_SUB_HELLO);
	if (fake_frame(&fk, &fr) == -1 || strcmp(fr.verb, "SUB") != 0 ||
	    fr.bodylen >= sizeof(fk.body))
		return -1;
	memcpy(fk.body, fr.body, fr.bodylen);
	fk.body[fr.bodylen] = '\0';
	return 0;
}

static int
on_event(void *arg, const struct ev_subev *ev)
{
	(void)arg;
	ev_buf_append(&sn.lines, ev->json, ev->len);
	ev_buf_putc(&sn.lines, '\n');
	if (sn.nev < 64)
		sn.kinds[sn.nev] = ev->kind;
	sn.nev++;
	return sn.stop_after > 0 && sn.nev == sn.stop_after;
}

static void
on_batch(void *arg)
{
	(void)arg;
	sn.batches++;
}

static void
on_state(void *arg, enum ev_sub_state st, const struct ev_err *err)
{
	(void)arg;
	if (sn.nstates < 64)
		sn.states[sn.nstates++] = st;
	if (err != NULL)
		sn.err = *err;
}

static void
seen_reset(void)
{
	ev_buf_free(&sn.lines);
	memset(&sn, 0, sizeof(sn));
}

static int
last_state(void)
{
	return sn.nstates > 0 ? sn.states[sn.nstates - 1] : -1;
}

static void
sub_setup(struct ev_subscriber *s, struct ev_loop *l)
{
	static char *const pats[] = { "t.#", "!t.\"q\"" };

	ev_loop_init(l);
	ev_sub_init(s);
	s->path = fk.path;
	s->name = "t_subscribe";
	s->pats = pats;
	s->npats = 2;
	s->on_event = on_event;
	s->on_batch = on_batch;
	s->on_state = on_state;
	seen_reset();
}

static void
sub_teardown(struct ev_subscriber *s, struct ev_loop *l)
{
	ev_sub_free(s);
	ev_loop_free(l);
	fake_hangup(&fk);
}

/* How many times text occurs in what was handed on. */
static int
count(const char *text)
{
	const char *p = sn.lines.data;
	int n = 0;

	while (p != NULL && (p = strstr(p, text)) != NULL) {
		n++;
		p++;
	}
	return n;
}

static bool
has(const char *text)
{
	return count(text) > 0;
}

static void
test_live_resume_restart(void)
{
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_err err;
	const char *line;

	sub_setup(&s, &l);
	is_int(ev_sub_start(&s, &l, &err), 0, "start");
	is_int(handshake(&l, &s, E1, 7), 0, "HELLO, then SUB");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"from\":8}", "live: from the bus's newest + 1, patterns escaped");
	fake_send(&fk, "OK 7\n");
	SPIN(&l, sn.nstates > 0);
	is_int(last_state(), EV_SUB_SUBSCRIBED, "subscribed");
	is_int(s.end, 7, "OK's end is kept");
	is_int(s.phase, EV_SUB_STREAMING, "streaming");

	fake_event(&fk, 8, "i8");
	fake_event(&fk, 0, "g1");
	fake_event(&fk, 9, "i9");
	SPIN(&l, sn.nev == 3);
	is_int(sn.nev, 3, "two events and a notice handed on");
	ok(sn.kinds[0] == EV_SUBEV_EVENT && sn.kinds[1] == EV_SUBEV_NOTICE &&
	    sn.kinds[2] == EV_SUBEV_EVENT, "of the right kinds, in order");
	ok(strncmp(sn.lines.data, "{\"seq\":8,\"id\":\"i8\",", 19) == 0,
	    "as the bus's bytes");
	is_int(s.delivered, 2, "notices do not count as delivered");
	ok(sn.batches >= 1, "on_batch called");

	/* The bus goes; it comes back with the same epoch. */
	fake_hangup(&fk);
	SPIN(&l, last_state() == EV_SUB_LOST);
	is_int(last_state(), EV_SUB_LOST, "lost");
	is_int(sn.err.kind, EV_ERR_UNAVAILABLE, "the bus closed it");
	is_int(handshake(&l, &s, E1, 20), 0, "reconnected at once");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"from\":10}", "same epoch: from after the last event");
	fake_send(&fk, "OK 20\n");
	SPIN(&l, last_state() == EV_SUB_SUBSCRIBED);
	is_int(s.restarts, 0, "no restart line");
	is_int(sn.nev, 3, "nothing handed on by the reconnect");
	is_int(s.end, 20, "the new end");

	/* A new daemon: restart line, from 0, duplicates dropped. */
	fake_hangup(&fk);
	SPIN(&l, last_state() == EV_SUB_LOST);
	is_int(handshake(&l, &s, E2, 3), 0, "reconnected to a new epoch");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"from\":0}", "new epoch: from its oldest");
	fake_send(&fk, "OK 3\n");
	fake_event(&fk, 1, "i9");	/* resent by a publisher */
	fake_event(&fk, 2, "i10");
	SPIN(&l, sn.nev == 5);
	is_int(sn.nev, 5, "the restart line and one event");
	is_int(sn.kinds[3], EV_SUBEV_RESTART, "the restart line first");
	line = strchr(strchr(strchr(sn.lines.data, '\n') + 1, '\n') + 1,
	    '\n') + 1;
	ok(strncmp(line, "{\"id\":\"", 7) == 0, "it starts with an id");
	ok(has("\"name\":\"evbus.gap\"") && has("\"payload\":{\"reason\":"
	    "\"restart\",\"epoch\":\"" E2 "\",\"previous_epoch\":\"" E1 "\","
	    "\"after\":9}"), "restart: new and previous epoch, after 9");
	is_int(count("\"id\":\"i9\""), 1, "the resent event is not handed on "
	    "twice");
	ok(has("{\"seq\":2,\"id\":\"i10\""), "the new event is handed on");
	is_int(s.dropped, 1, "one duplicate dropped");
	is_int(s.restarts, 1, "one restart");
	ok(strcmp(s.epoch, E2) == 0, "following the new epoch");

	/* Lost before OK on a third daemon, then subscribed there. */
	fake_hangup(&fk);
	SPIN(&l, s.phase == EV_SUB_WAITING);
	is_int(handshake(&l, &s, E3, 2), 0, "a third daemon");
	fake_hangup(&fk);
	SPIN(&l, s.phase == EV_SUB_WAITING);
	is_int(handshake(&l, &s, E3, 2), 0, "lost before OK; again");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"from\":0}", "still from its oldest");
	fake_send(&fk, "OK 2\n");
	fake_event(&fk, 1, "i8");	/* from the first epoch */
	fake_event(&fk, 2, "i10");	/* from the second */
	fake_event(&fk, 3, "i11");
	SPIN(&l, sn.nev == 7);
	is_int(sn.nev, 7, "one restart line, one new event");
	ok(has("\"previous_epoch\":\"" E2 "\",\"after\":2}"),
	    "restart from the second epoch, after its seq 2");
	is_int(s.dropped, 3, "duplicates of both earlier epochs dropped");
	ok(has("{\"seq\":3,\"id\":\"i11\""), "the new one handed on");
	sub_teardown(&s, &l);
}

static void
test_requests(void)
{
	static const struct {
		enum ev_sub_start start;
		uint64_t	  at;
		const char	 *want;
	} cases[] = {
		{ EV_SUB_FROM, 5, "{\"patterns\":[],\"from\":5}" },
		{ EV_SUB_FROM, 0, "{\"patterns\":[],\"from\":0}" },
		{ EV_SUB_LAST, 3, "{\"patterns\":[],\"last\":3}" },
		{ EV_SUB_SINCE, 1795413600000,
		    "{\"patterns\":[],\"since\":1795413600000}" },
		{ EV_SUB_SINCE, 0, "{\"patterns\":[],\"since\":0}" },
	};
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_err err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sub_setup(&s, &l);
		s.npats = 0;
		s.start = cases[i].start;
		s.at = cases[i].at;
		ev_sub_start(&s, &l, &err);
		is_int(handshake(&l, &s, E1, 9), 0, "handshake %zu", i);
		is_str(fk.body, cases[i].want, "request %zu", i);
		sub_teardown(&s, &l);
	}

	/* A LAST request with nothing handed on is asked again. */
	sub_setup(&s, &l);
	s.start = EV_SUB_LAST;
	s.at = 2;
	s.npats = 0;
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 9);
	fake_send(&fk, "OK 9\n");
	SPIN(&l, last_state() == EV_SUB_SUBSCRIBED);
	fake_hangup(&fk);
	SPIN(&l, s.phase == EV_SUB_WAITING);
	is_int(handshake(&l, &s, E1, 9), 0, "reconnected");
	is_str(fk.body, "{\"patterns\":[],\"last\":2}", "last 2 again");
	sub_teardown(&s, &l);

	/* So is a SINCE request: the same point in time. */
	sub_setup(&s, &l);
	s.start = EV_SUB_SINCE;
	s.at = 1795413600000;
	s.npats = 0;
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 9);
	fake_send(&fk, "OK 9\n");
	SPIN(&l, last_state() == EV_SUB_SUBSCRIBED);
	fake_hangup(&fk);
	SPIN(&l, s.phase == EV_SUB_WAITING);
	is_int(handshake(&l, &s, E1, 9), 0, "reconnected after since");
	is_str(fk.body, "{\"patterns\":[],\"since\":1795413600000}",
	    "since again");
	sub_teardown(&s, &l);
}

static void
test_window(void)
{
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_err err;
	static const char *const ids[] = { "a", "b", "c", "d", "e" };
	size_t i;

	/* A window of 4: after a, b, c, d, e it holds b..e. */
	sub_setup(&s, &l);
	s.dedup = 4;
	s.start = EV_SUB_FROM;
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 0);
	fake_send(&fk, "OK 0\n");
	for (i = 0; i < 5; i++)
		fake_event(&fk, i + 1, ids[i]);
	SPIN(&l, sn.nev == 5);
	fake_hangup(&fk);
	SPIN(&l, s.phase == EV_SUB_WAITING);
	handshake(&l, &s, E2, 0);
	fake_send(&fk, "OK 0\n");
	/* The new daemon's seqs are told apart by starting at 11. */
	fake_event(&fk, 11, "a");	/* out of the window: handed on */
	fake_event(&fk, 12, "b");	/* dropped */
	fake_event(&fk, 13, "f");
	fake_event(&fk, 14, "e");	/* 4th after the restart: dropped */
	fake_event(&fk, 15, "c");	/* the set has expired: handed on */
	SPIN(&l, sn.nev == 9);
	is_int(sn.nev, 9, "restart line, a, f, c");
	is_int(s.dropped, 2, "b and e dropped");
	ok(has("{\"seq\":11,\"id\":\"a\"") &&
	    !has("{\"seq\":12,\"id\":\"b\"") &&
	    has("{\"seq\":13,\"id\":\"f\"") &&
	    !has("{\"seq\":14,\"id\":\"e\"") &&
	    has("{\"seq\":15,\"id\":\"c\""), "the window's rule holds");
	ok(s.set == NULL, "the set is freed once it expired");
	sub_teardown(&s, &l);

	/* No window: a restart does not de-duplicate. */
	sub_setup(&s, &l);
	s.dedup = 0;
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 0);
	fake_send(&fk, "OK 0\n");
	fake_event(&fk, 1, "a");
	SPIN(&l, sn.nev == 1);
	fake_hangup(&fk);
	SPIN(&l, s.phase == EV_SUB_WAITING);
	handshake(&l, &s, E2, 0);
	fake_send(&fk, "OK 0\n");
	fake_event(&fk, 1, "a");
	SPIN(&l, sn.nev == 3);
	is_int(s.dropped, 0, "window 0: nothing dropped");
	is_int(sn.nev, 3, "the same id twice, around the restart line");
	sub_teardown(&s, &l);

	/* Too large a window is refused. */
	sub_setup(&s, &l);
	s.dedup = (size_t)EV_SUB_DEDUP_MAX + 1;
	is_int(ev_sub_start(&s, &l, &err), -1, "a window too large");
	is_int(err.kind, EV_ERR_DATA, "is a data error");
	sub_teardown(&s, &l);
}

static void
test_failures(void)
{
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_err err;
	int64_t t0;

	/* The bus refuses the subscription. */
	sub_setup(&s, &l);
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 0);
	fake_send(&fk, "ERR data subscription: unknown key 'where' (this bus "
	    "knows patterns, from, last)\n");
	SPIN(&l, sn.nstates > 0);
	is_int(last_state(), EV_SUB_FAILED, "a refused SUB fails");
	is_int(sn.err.kind, EV_ERR_DATA, "as a data error");
	is_str(sn.err.msg, "the bus refused the subscription: subscription: "
	    "unknown key 'where' (this bus knows patterns, from, last)",
	    "with the bus's words");
	is_int(s.phase, EV_SUB_IDLE, "and stops");
	is_int(l.nfds + l.ntimers, 0, "nothing left in the loop");
	sub_teardown(&s, &l);

	/* Without reconnect, a loss stops it. */
	sub_setup(&s, &l);
	s.reconnect = false;
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 0);
	fake_send(&fk, "OK 0\n");
	SPIN(&l, sn.nstates > 0);
	fake_hangup(&fk);
	SPIN(&l, sn.nstates > 1);
	is_int(last_state(), EV_SUB_CLOSED, "reconnect off: closed");
	is_int(l.nfds + l.ntimers, 0, "nothing left in the loop");
	sub_teardown(&s, &l);

	/* An event without its head is a protocol error. */
	sub_setup(&s, &l);
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 0);
	fake_send(&fk, "OK 0\nEVENT 2\n{}\n");
	SPIN(&l, last_state() == EV_SUB_FAILED);
	is_int(sn.err.kind, EV_ERR_PROTO, "an event without seq and id");
	sub_teardown(&s, &l);

	/* The bus says nothing: the handshake's deadline, then a retry. */
	sub_setup(&s, &l);
	s.open_ms = 200;
	ev_sub_start(&s, &l, &err);
	t0 = ev_mono_ms();
	fake_accept(&fk);
	SPIN(&l, last_state() == EV_SUB_LOST);
	is_int(sn.err.kind, EV_ERR_TIMEOUT, "a silent bus times out");
	ok(ev_mono_ms() - t0 >= 200, "not before open_ms");
	is_int(handshake(&l, &s, E1, 0), 0, "and is tried again");
	sub_teardown(&s, &l);

	/* No bus at first: ev_sub_start fails, nothing registered. */
	sub_setup(&s, &l);
	fake_unlisten(&fk);
	is_int(ev_sub_start(&s, &l, &err), -1, "no bus at the start");
	is_int(err.kind, EV_ERR_UNAVAILABLE, "is unavailable");
	is_int(l.nfds + l.ntimers, 0, "nothing registered");
	fake_listen(&fk);
	sub_teardown(&s, &l);
}

static void
test_away_and_stop(void)
{
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_err err;
	int64_t t0;

	/* The bus is away for a while: retries, then back. */
	sub_setup(&s, &l);
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 0);
	fake_send(&fk, "OK 0\n");
	SPIN(&l, sn.nstates > 0);
	fake_unlisten(&fk);
	fake_hangup(&fk);
	t0 = ev_mono_ms();
	while (ev_mono_ms() - t0 < 300)
		ev_loop_once(&l, 50, NULL);
	is_int(s.phase, EV_SUB_WAITING, "waiting while the bus is away");
	ok(s.backoff > 50, "backing off (%lld ms)", (long long)s.backoff);
	is_int(sn.nstates, 2, "LOST reported once for the outage");
	fake_listen(&fk);
	is_int(handshake(&l, &s, E1, 0), 0, "back when the bus is");
	fake_send(&fk, "OK 0\n");
	SPIN(&l, sn.nstates > 2);
	is_int(last_state(), EV_SUB_SUBSCRIBED, "subscribed again");
	is_int(s.backoff, 0, "the backoff is reset");
	sub_teardown(&s, &l);

	/* on_event stops it: on_batch still comes, then nothing. */
	sub_setup(&s, &l);
	sn.stop_after = 2;
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 0);
	fake_send(&fk, "OK 0\n");
	fake_event(&fk, 1, "x1");
	fake_event(&fk, 2, "x2");
	fake_event(&fk, 3, "x3");
	SPIN(&l, s.phase == EV_SUB_IDLE);
	is_int(s.phase, EV_SUB_IDLE, "stopped by on_event");
	is_int(sn.nev, 2, "the third was not handed on");
	ok(sn.batches >= 1, "on_batch came for the two");
	is_int(l.nfds + l.ntimers, 0, "nothing left in the loop");
	sub_teardown(&s, &l);
}

/* --- durable consumption: --durable, --drain ----------------------- */

/* What the durable test's callbacks saw. */
struct dseen {
	struct ev_subscriber *s;
	uint64_t	  last;		/* seq of the last event handed on */
	int		  nev;
	int		  batches;
};

static struct dseen dn;

static int
d_on_event(void *arg, const struct ev_subev *ev)
{
	(void)arg;
	if (ev->seq > 0)
		dn.last = ev->seq;
	dn.nev++;
	return 0;
}

/* As evsub does: once the batch is written, confirm its last seq. */
static void
d_on_batch(void *arg)
{
	struct ev_err err;

	(void)arg;
	dn.batches++;
	if (dn.last > 0)
		ev_sub_confirm(dn.s, dn.last, &err);
}

/* Like handshake(), with the bus's features word given. */
static int
handshake_with(struct ev_loop *l, struct ev_subscriber *s, const char *epoch,
    uint64_t last, const char *features)
{
	struct ev_frame fr;
	char reply[160];

	SPIN(l, s->phase == EV_SUB_HELLO);
	if (fake_accept(&fk) == -1 || fake_frame(&fk, &fr) == -1 ||
	    strcmp(fr.verb, "HELLO") != 0)
		return -1;
	snprintf(reply, sizeof(reply), "HELLO 2 %s %llu 65536 features=%s "
	    "max_depth=256\n", epoch, (unsigned long long)last, features);
	fake_send(&fk, reply);
	SPIN(l, s->phase != EV_SUB_HELLO);
	if (s->phase != EV_SUB_ASKED || fake_frame(&fk, &fr) == -1 ||
	    strcmp(fr.verb, "SUB") != 0 || fr.bodylen >= sizeof(fk.body))
		return -1;
	memcpy(fk.body, fr.body, fr.bodylen);
	fk.body[fr.bodylen] = '\0';
	return 0;
}

/*
 * Exactly the next n bytes the subscriber sends, as a string in buf
 * (turning the loop meanwhile); "" when they do not come within 2 s.
 */
static const char *
fake_bytes(struct ev_loop *l, size_t n, char *buf)
{
	struct pollfd p = { .fd = fk.fd, .events = POLLIN };
	int64_t t = ev_mono_ms() + 2000;
	size_t got = 0;
	ssize_t r;

	while (got < n && ev_mono_ms() < t) {
		ev_loop_once(l, 10, NULL);
		if (poll(&p, 1, 10) == 1 &&
		    (r = read(fk.fd, buf + got, n - got)) > 0)
			got += (size_t)r;
	}
	buf[got < n ? 0 : n] = '\0';
	return buf;
}

/* Nothing more was sent within 100 ms. */
static bool
fake_quiet(struct ev_loop *l)
{
	struct pollfd p = { .fd = fk.fd, .events = POLLIN };
	int64_t t = ev_mono_ms() + 100;

	while (ev_mono_ms() < t)
		ev_loop_once(l, 10, NULL);
	return poll(&p, 1, 0) == 0;
}

static void
d_setup(struct ev_subscriber *s, struct ev_loop *l)
{
	sub_setup(s, l);
	s->on_event = d_on_event;
	s->on_batch = d_on_batch;
	s->durable = "nightly";
	memset(&dn, 0, sizeof(dn));
	dn.s = s;
}

/* An INFO body listing this process's subscription with lag. */
static void
fake_info(uint64_t newest, uint64_t lag)
{
	char body[256], frame[320];

	snprintf(body, sizeof(body), "{\"seq\":%llu,\"subscribers\":["
	    "{\"conn\":1,\"client\":\"other\",\"pid\":%ld,\"lag\":0},"
	    "{\"conn\":2,\"client\":\"t_subscribe\",\"pid\":%ld,\"lag\":%llu}"
	    "]}", (unsigned long long)newest, (long)getpid(), (long)getpid(),
	    (unsigned long long)lag);
	snprintf(frame, sizeof(frame), "INFO %zu\n%s\n", strlen(body), body);
	fake_send(&fk, frame);
}

static void
test_durable(void)
{
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_err err;
	char buf[64];

	/* SUB carries the name; live asks no start: a new name's oldest. */
	d_setup(&s, &l);
	is_int(ev_sub_start(&s, &l, &err), 0, "durable: start");
	is_int(handshake_with(&l, &s, E1, 9, "pub,sub,durable,stats"), 0,
	    "durable: HELLO, then SUB");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"durable\":\"nightly\"}", "durable: the SUB body");
	fake_send(&fk, "OK 9\n");
	fake_event(&fk, 3, "d3");
	fake_event(&fk, 4, "d4");
	SPIN(&l, dn.nev == 2);
	is_str(fake_bytes(&l, 9, buf), "CURSOR 4\n", "after the batch: "
	    "CURSOR with its highest seq, once");
	ok(fake_quiet(&l), "nothing else sent");
	ev_sub_confirm(&s, 4, &err);
	ok(fake_quiet(&l), "confirming the same seq again sends nothing");

	/* Lost: the bus resumes from its cursor; copies are dropped. */
	fake_hangup(&fk);
	SPIN(&l, s.phase == EV_SUB_WAITING);
	is_int(handshake_with(&l, &s, E2, 9, "durable"), 0,
	    "durable: reconnected (a new epoch is no restart)");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"from\":5,\"durable\":\"nightly\"}",
	    "durable: from after the last handed on, and the name");
	fake_send(&fk, "OK 9\n");
	fake_event(&fk, 3, "d3");
	fake_event(&fk, 4, "d4");
	fake_event(&fk, 5, "d5");
	SPIN(&l, dn.nev == 3);
	is_int(dn.nev, 3, "only the new event is handed on");
	is_int(s.dropped, 2, "the two copies dropped");
	is_int(s.restarts, 0, "no restart line");
	is_str(fake_bytes(&l, 9, buf), "CURSOR 5\n", "CURSOR 5");

	/* Lost again; the bus sends only what it had: CURSOR 4, not 5. */
	fake_hangup(&fk);
	SPIN(&l, s.phase == EV_SUB_WAITING);
	is_int(handshake_with(&l, &s, E2, 9, "durable"), 0, "again");
	fake_send(&fk, "OK 9\n");
	fake_event(&fk, 4, "d4");
	is_str(fake_bytes(&l, 9, buf), "CURSOR 4\n", "a batch of copies "
	    "confirms what this connection sent, no further");
	is_int(dn.nev, 3, "nothing handed on");
	sub_teardown(&s, &l);

	/* A bus without the feature: unavailable, before SUB. */
	d_setup(&s, &l);
	ev_sub_start(&s, &l, &err);
	is_int(handshake_with(&l, &s, E1, 0, "pub,sub"), -1, "no SUB sent");
	SPIN(&l, last_state() == EV_SUB_FAILED);
	is_int(last_state(), EV_SUB_FAILED, "no durable feature: failed");
	is_int(sn.err.kind, EV_ERR_UNAVAILABLE, "as unavailable");
	ok(strstr(sn.err.msg, "keeps no durable subscriptions (it needs "
	    "evbusd --store)") != NULL, "saying why: %s", sn.err.msg);
	sub_teardown(&s, &l);

	/* A bus that refuses it (ERR state): unavailable, its words. */
	d_setup(&s, &l);
	ev_sub_start(&s, &l, &err);
	handshake_with(&l, &s, E1, 0, "durable");
	fake_send(&fk, "ERR state durable: this bus has no store "
	    "(evbusd --store)\n");
	SPIN(&l, last_state() == EV_SUB_FAILED);
	is_int(sn.err.kind, EV_ERR_UNAVAILABLE, "ERR state: unavailable");
	is_str(sn.err.msg, "the bus refused the subscription: durable: this "
	    "bus has no store (evbusd --store)", "with the bus's words");
	sub_teardown(&s, &l);

	/* A bad name is refused at the start. */
	d_setup(&s, &l);
	s.durable = "a b";
	is_int(ev_sub_start(&s, &l, &err), -1, "a name with a space");
	is_int(err.kind, EV_ERR_DATA, "is a data error");
	sub_teardown(&s, &l);
}

static void
test_drain(void)
{
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_err err;
	char buf[64];

	/* The end's own event: caught up, CURSOR sent, then stopped. */
	d_setup(&s, &l);
	s.drain = true;
	ev_sub_start(&s, &l, &err);
	handshake_with(&l, &s, E1, 3, "durable");
	fake_send(&fk, "OK 3\n");
	fake_event(&fk, 2, "e2");
	fake_event(&fk, 3, "e3");
	fake_event(&fk, 4, "e4");
	SPIN(&l, last_state() == EV_SUB_CAUGHT_UP);
	is_int(last_state(), EV_SUB_CAUGHT_UP, "drain: caught up at the end");
	is_int(dn.nev, 2, "nothing after the end handed on");
	is_str(fake_bytes(&l, 9, buf), "CURSOR 3\n", "confirmed before "
	    "stopping");
	is_int(s.phase, EV_SUB_IDLE, "stopped");
	is_int(l.nfds + l.ntimers, 0, "nothing left in the loop");
	sub_teardown(&s, &l);

	/* Filters hide the end: STATS, until the cursor is past it. */
	d_setup(&s, &l);
	s.durable = NULL;
	s.drain = true;
	s.start = EV_SUB_FROM;
	ev_sub_start(&s, &l, &err);
	handshake_with(&l, &s, E1, 10, "stats");
	fake_send(&fk, "OK 10\n");
	is_str(fake_bytes(&l, 6, buf), "STATS\n", "drain: STATS after OK");
	fake_event(&fk, 2, "f2");
	fake_info(10, 9);		/* cursor 2: not yet */
	is_str(fake_bytes(&l, 6, buf), "STATS\n", "asked again");
	is_int(last_state(), EV_SUB_SUBSCRIBED, "not caught up yet");
	fake_event(&fk, 5, "f5");
	fake_info(11, 1);		/* cursor 11 */
	SPIN(&l, last_state() == EV_SUB_CAUGHT_UP);
	is_int(last_state(), EV_SUB_CAUGHT_UP, "caught up by STATS");
	is_int(dn.nev, 2, "both events handed on");
	sub_teardown(&s, &l);

	/* STATS refused: the end's own event still ends it. */
	d_setup(&s, &l);
	s.durable = NULL;
	s.drain = true;
	s.start = EV_SUB_FROM;
	ev_sub_start(&s, &l, &err);
	handshake_with(&l, &s, E1, 6, "stats");
	fake_send(&fk, "OK 6\n");
	is_str(fake_bytes(&l, 6, buf), "STATS\n", "STATS again");
	fake_send(&fk, "ERR denied stats: not allowed\n");
	ok(fake_quiet(&l), "a refusal: no more STATS");
	is_int(last_state(), EV_SUB_SUBSCRIBED, "and not stopped");
	fake_event(&fk, 6, "g6");
	SPIN(&l, last_state() == EV_SUB_CAUGHT_UP);
	is_int(last_state(), EV_SUB_CAUGHT_UP, "the end's event ends it");
	sub_teardown(&s, &l);

	/* Live: nothing to replay, caught up at the OK. */
	d_setup(&s, &l);
	s.durable = NULL;
	s.drain = true;
	ev_sub_start(&s, &l, &err);
	handshake_with(&l, &s, E1, 10, "stats");
	fake_send(&fk, "OK 10\n");
	SPIN(&l, last_state() == EV_SUB_CAUGHT_UP);
	is_int(last_state(), EV_SUB_CAUGHT_UP, "live: caught up at once");
	sub_teardown(&s, &l);

	/* A resume past the end: the same. */
	d_setup(&s, &l);
	s.durable = NULL;
	s.drain = true;
	s.resume_epoch = E1;
	s.resume_seq = 10;
	ev_sub_start(&s, &l, &err);
	handshake_with(&l, &s, E1, 10, "stats");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"from\":11}", "resume: from after the seq");
	fake_send(&fk, "OK 10\n");
	SPIN(&l, last_state() == EV_SUB_CAUGHT_UP);
	is_int(last_state(), EV_SUB_CAUGHT_UP, "resumed at the end: done");
	sub_teardown(&s, &l);

	/* A resume on another epoch: the restart line, from its oldest. */
	d_setup(&s, &l);
	s.durable = NULL;
	s.resume_epoch = E1;
	s.resume_seq = 10;
	s.on_event = on_event;
	ev_sub_start(&s, &l, &err);
	handshake_with(&l, &s, E2, 4, "stats");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"from\":0}", "another epoch: from its oldest");
	fake_send(&fk, "OK 4\n");
	SPIN(&l, sn.nev == 1);
	is_int(sn.kinds[0], EV_SUBEV_RESTART, "the restart line");
	ok(has("\"previous_epoch\":\"" E1 "\",\"after\":10}"),
	    "naming the resumed epoch and seq");
	sub_teardown(&s, &l);
}

/* --- evlist's additions: identity keys, sync, a known epoch ----------- */

static uint64_t syncs[8];
static int nsync, sync_stop;

static int
on_sync(void *arg, uint64_t seq)
{
	(void)arg;
	if (nsync < 8)
		syncs[nsync] = seq;
	nsync++;
	return sync_stop > 0 && nsync == sync_stop;
}

static void
test_evlist(void)
{
	static char *tagv[] = { "blue", "v\"2" };
	struct ev_identity id = { "web-1", "api", tagv, 2 };
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_err err;

	/* Identity and sync in the request; SYNC handed to on_sync. */
	sub_setup(&s, &l);
	nsync = sync_stop = 0;
	s.ident = &id;
	s.sync = true;
	s.on_sync = on_sync;
	s.unannounced = true;
	s.start = EV_SUB_FROM;
	s.at = 5;
	ev_sub_start(&s, &l, &err);
	is_int(handshake(&l, &s, E1, 9), 0, "evlist: HELLO, then SUB");
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],"
	    "\"from\":5,\"node\":\"web-1\",\"service\":\"api\","
	    "\"tags\":[\"blue\",\"v\\\"2\"],\"sync\":true,"
	    "\"announce\":false}",
	    "  the identity's keys, sync and announce, escaped");
	fake_send(&fk, "OK 9\n");
	fake_event(&fk, 6, "s6");
	fake_send(&fk, "SYNC 9\n");
	SPIN(&l, nsync == 1);
	is_int(nsync, 1, "  SYNC handed to on_sync");
	is_int(syncs[0], 9, "  with its seq");
	is_int(sn.nev, 1, "  after the event before it");
	/* A reconnection asks from after the SYNC's seq. */
	fake_hangup(&fk);
	SPIN(&l, last_state() == EV_SUB_LOST);
	is_int(handshake(&l, &s, E1, 9), 0, "  reconnected");
	ok(strstr(fk.body, "\"from\":10,") != NULL,
	    "  asks from after the SYNC's seq: %s", fk.body);
	fake_send(&fk, "OK 9\n");
	sync_stop = 2;
	fake_send(&fk, "SYNC 12\n");
	SPIN(&l, s.phase == EV_SUB_IDLE);
	is_int(s.phase, EV_SUB_IDLE, "  on_sync's 1 stops it");
	sub_teardown(&s, &l);

	/* Without sync, SYNC is a protocol error, as any unknown frame. */
	sub_setup(&s, &l);
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 0);
	ok(strstr(fk.body, "sync") == NULL && strstr(fk.body, "node") ==
	    NULL && strstr(fk.body, "announce") == NULL,
	    "  no sync, identity or unannounced: none of their keys");
	fake_send(&fk, "OK 0\nSYNC 0\n");
	SPIN(&l, s.phase == EV_SUB_IDLE);
	is_int(last_state(), EV_SUB_FAILED, "  SYNC unasked for: failed");
	sub_teardown(&s, &l);

	/* A known epoch that the bus does not have: a restart at once. */
	sub_setup(&s, &l);
	s.start = EV_SUB_FROM;
	s.at = 4;
	s.known_epoch = E2;
	ev_sub_start(&s, &l, &err);
	is_int(handshake(&l, &s, E1, 3), 0, "known epoch: HELLO, SUB");
	ok(strstr(fk.body, "\"from\":0}") != NULL,
	    "  another epoch: asks from the oldest: %s", fk.body);
	fake_send(&fk, "OK 3\n");
	SPIN(&l, sn.nev == 1);
	ok(sn.nev == 1 && sn.kinds[0] == EV_SUBEV_RESTART,
	    "  the restart line first");
	ok(has("\"previous_epoch\":\"" E2 "\"") && has("\"after\":3}"),
	    "  naming the known epoch and the seq before 'at'");
	sub_teardown(&s, &l);

	/* The same epoch: resume as asked; a bad one refused at start. */
	sub_setup(&s, &l);
	s.start = EV_SUB_FROM;
	s.at = 4;
	s.known_epoch = E1;
	ev_sub_start(&s, &l, &err);
	handshake(&l, &s, E1, 3);
	ok(strstr(fk.body, "\"from\":4}") != NULL,
	    "known epoch, the same: from as asked: %s", fk.body);
	sub_teardown(&s, &l);
	sub_setup(&s, &l);
	s.known_epoch = "xyz";
	ok(ev_sub_start(&s, &l, &err) == -1 && err.kind == EV_ERR_DATA,
	    "  a known epoch that is not one: refused");
	sub_teardown(&s, &l);
}

/*
 * where: the filters go as the SUB key "where", escaped, to a bus that
 * has the feature; a bus without it is not asked at all.
 */
static void
test_where(void)
{
	static char *const where[] = { ".payload.cell == \"c\\\"2\"",
	    ".error" };
	struct ev_subscriber s;
	struct ev_loop l;
	struct ev_frame fr;
	struct ev_err err;

	sub_setup(&s, &l);
	s.where = where;
	s.nwhere = 2;
	is_int(ev_sub_start(&s, &l, &err), 0, "where: start");
	SPIN(&l, s.phase == EV_SUB_HELLO);
	if (fake_accept(&fk) == -1 || fake_frame(&fk, &fr) == -1)
		fr.verb = "none";
	is_str(fr.verb, "HELLO", "where: HELLO");
	fake_send(&fk, "HELLO 2 " E1 " 4 65536 features=pub,sub,where,stats "
	    "max_depth=256\n");
	SPIN(&l, s.phase != EV_SUB_HELLO);
	fk.body[0] = '\0';
	if (fake_frame(&fk, &fr) == 0 && strcmp(fr.verb, "SUB") == 0 &&
	    fr.bodylen < sizeof(fk.body)) {
		memcpy(fk.body, fr.body, fr.bodylen);
		fk.body[fr.bodylen] = '\0';
	}
	is_str(fk.body, "{\"patterns\":[\"t.#\",\"!t.\\\"q\\\"\"],\"where\":"
	    "[\".payload.cell == \\\"c\\\\\\\"2\\\"\",\".error\"],\"from\":5}",
	    "where: the filters in the SUB, escaped");
	sub_teardown(&s, &l);

	sub_setup(&s, &l);
	s.where = where;
	s.nwhere = 1;
	ev_sub_start(&s, &l, &err);
	SPIN(&l, s.phase == EV_SUB_HELLO);
	if (fake_accept(&fk) == 0 && fake_frame(&fk, &fr) == 0)
		fake_send(&fk, "HELLO 2 " E1 " 4 65536 features=pub,sub,"
		    "wherever,stats max_depth=256\n");
	SPIN(&l, sn.nstates > 0);
	is_int(last_state(), EV_SUB_FAILED, "where: a bus without the "
	    "feature fails the subscriber");
	is_int(sn.err.kind, EV_ERR_UNAVAILABLE, "where: as unavailable");
	ok(strstr(sn.err.msg, "cannot filter events (it lacks the feature "
	    "'where'") != NULL, "where: saying so: %s", sn.err.msg);
	is_int(s.phase, EV_SUB_IDLE, "where: and stops, without a SUB");
	sub_teardown(&s, &l);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	fake_open(&fk);
	test_live_resume_restart();
	test_requests();
	test_window();
	test_failures();
	test_away_and_stop();
	test_durable();
	test_drain();
	test_evlist();
	test_where();
	fake_close(&fk);
	seen_reset();
	return tap_done();
}
