/*
 * store.c: evbusd --store DIR, the durable bus.  Every event the publish
 * path commits is appended to an evstore log (lib/store.c) and is
 * committed -- acknowledged, and visible to subscribers -- only once the
 * log's durable seq covers it; the loop never waits for the disk: the
 * fsync runs in the store's thread, whose descriptor wakes epoll, and the
 * group-commit timer is part of the loop's timeout.  At start the log
 * gives the seq to go on from, the epoch (kept in DIR/epoch, the same
 * across restarts since seqs go on) and the ring's tail (the id
 * de-duplication index with it).  A subscriber whose next seq has left
 * the ring is served from the log.  Durable subscriptions keep their
 * cursors in DIR/cursors/NAME.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbusd.h"

#define BACKFILL_EVENTS	1024		/* events from the log at one go */
#define BACKFILL_BYTES	(256 * 1024)	/* ... or this much queued */
#define DURABLE_MAX	64		/* bytes in a durable name */

static struct ev_buf	 stamp;		/* re-stamping a stored line */

static int	cw_start(const char *);
static void	cw_stop(void);

/* What opening the log found (a torn tail cut, an index rebuilt). */
static void
store_note(void *arg, const char *text)
{
	(void)arg;
	log_warnx("store: %s", text);
}

/*
 * Open the log in dir for appending with the sync policy (the fsync in
 * the store's thread unless it is "none"), and report what recovery did.
 * -1 with err: EV_ERR_TIMEOUT when another writer (another evbusd, an
 * evstore append) has it, EV_ERR_DATA when it is damaged in the middle
 * (evstore repair), EV_ERR_SYS.
 */
int
store_open(struct evbusd *b, const char *dir, enum ev_store_sync sync,
    struct ev_err *err)
{
	struct ev_store_opts o = {
		.sync = sync,
		.background = sync != EV_STORE_SYNC_NONE,
		.note = store_note,
	};
	static char abspath[4096];
	struct ev_store_recovery rec;
	char path[4096];

	struct stat sb;
	mode_t omask;
	int r;

	/*
	 * The log holds every event: a directory another user owns or may
	 * write to could hand the bus links to files it would overwrite,
	 * and one others may read would bypass the ACL.  Ours, and made
	 * private when it is new.
	 */
	if (lstat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			return ev_err_set(err, EV_ERR_DENIED, "%s: "
			    "not a directory", dir);
		if (sb.st_uid != geteuid() || (sb.st_mode & 022) != 0)
			return ev_err_set(err, EV_ERR_DENIED, "%s: "
			    "must be ours and writable by us alone (owner "
			    "uid %u, mode %04o)", dir, (unsigned)sb.st_uid,
			    (unsigned)(sb.st_mode & 07777));
	}
	/* A file size limit (ulimit -f) is a write error, not a death. */
	signal(SIGXFSZ, SIG_IGN);
	memset(&rec, 0, sizeof(rec));
	omask = umask(077);
	r = ev_store_open(&b->store, dir, &o, &rec, err);
	umask(omask);
	if (r == -1) {
		b->store = NULL;
		return -1;
	}
	if (rec.cut_bytes > 0) {
		if (rec.cut_first != 0)
			log_warnx("store %s: recovery cut a torn tail of %"
			    PRIu64 " bytes at offset %" PRIu64 " (seqs %"
			    PRIu64 " to %" PRIu64 ", never acknowledged)",
			    dir, rec.cut_bytes, rec.cut_offset, rec.cut_first,
			    rec.cut_last);
		else
			log_warnx("store %s: recovery cut a torn tail of %"
			    PRIu64 " bytes at offset %" PRIu64 " (no whole "
			    "record)", dir, rec.cut_bytes, rec.cut_offset);
	}
	snprintf(path, sizeof(path), "%s/cursors", dir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		ev_err_sys(err, "%s", path);
		ev_store_close(b->store, NULL);
		b->store = NULL;
		return -1;
	}
	/* Absolute, for a bus that detaches (chdir /) and opens it again. */
	if (dir != abspath && realpath(dir, abspath) == NULL) {
		ev_err_sys(err, "%s", dir);
		ev_store_close(b->store, NULL);
		b->store = NULL;
		return -1;
	}
	b->storedir = abspath;
	b->storesync = sync;
	if (cw_start(abspath) == -1) {
		ev_err_sys(err, "cursor writer");
		ev_store_close(b->store, NULL);
		b->store = NULL;
		return -1;
	}
	b->cursors_due = -1;
	return 0;
}

/*
 * Write text to dir/name atomically: a temporary file, fdatasync, rename,
 * then an fsync of the directory.  -1 with errno.  Blocking: a few small
 * writes and two syncs.
 */
static int
store_write_file(const char *dir, const char *name, const char *text)
{
	char tmp[4096], path[4096];
	size_t len = strlen(text);
	int fd, dfd, saved;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || fdatasync(fd) == -1) {
		saved = errno != 0 ? errno : EIO;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Read dir/name (at most len - 1 bytes) into buf; -1 with errno. */
static int
store_read_file(const char *dir, const char *name, char *buf, size_t len)
{
	char path[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n == -1)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * A stored record as a ring message: its line (without the '\n'), seq and
 * time, and what the delivery decision needs -- name, id, a targeted
 * event's compiled filter -- found by checking the line the way the bus
 * checked it when it came in.  NULL (logged) when the line is not an
 * event the bus could have stamped, or when out of memory.
 * Cost: one scan and one copy of the line, one allocation.
 */
static struct ev_msg *
store_msg(struct evbusd *b, const struct ev_record *rec)
{
	struct ev_stamp st = {
		.maxlen = EV_EVENT_MAX_LIMIT,
		.seq = rec->seq,
		.origin = &b->self,
		.now_ms = rec->time,
		.internal = true,
	};
	struct ev_evinfo info;
	struct ev_target *t = NULL;
	struct ev_err err;
	struct ev_msg *m;
	size_t len = rec->len;

	if (len > 0 && rec->line[len - 1] == '\n')
		len--;
	ev_buf_reset(&stamp);
	if (ev_event_stamp(rec->line, len, &st, &stamp, &info, &err) == -1 ||
	    (ev_event_targeted(&info) && ev_target_compile(&info, &t,
	    &err) == -1)) {
		log_warnx("store %s: seq %" PRIu64 ": %s", b->storedir,
		    rec->seq, err.msg);
		return NULL;
	}
	m = ev_msg_new(rec->line, len, rec->seq, rec->time, info.name,
	    info.namelen, info.id, strlen(info.id));
	if (m == NULL) {
		log_warn("store: seq %" PRIu64, rec->seq);
		ev_target_free(t);
		return NULL;
	}
	m->target = t;
	return m;
}

/*
 * The epoch: the one in DIR/epoch, else a new one written there.  The
 * epoch stays across restarts because the seqs go on: a client that
 * resumes after seq N on the same epoch gets N + 1 from the log.
 */
static void
store_epoch(struct evbusd *b)
{
	char buf[EV_EPOCH_LEN + 8];
	size_t i;

	if (store_read_file(b->storedir, "epoch", buf, sizeof(buf)) == 0) {
		for (i = 0; i < EV_EPOCH_LEN && strchr("0123456789abcdef",
		    buf[i]) != NULL && buf[i] != '\0'; i++)
			;
		if (i == EV_EPOCH_LEN && (buf[i] == '\n' || buf[i] == '\0')) {
			memcpy(b->epoch, buf, EV_EPOCH_LEN);
			b->epoch[EV_EPOCH_LEN] = '\0';
			return;
		}
		log_warnx("store %s: epoch: not an epoch; starting a new "
		    "one", b->storedir);
	} else if (errno != ENOENT)
		fatal("store %s/epoch", b->storedir);
	snprintf(buf, sizeof(buf), "%s\n", b->epoch);
	if (store_write_file(b->storedir, "epoch", buf) == -1)
		fatal("store %s/epoch", b->storedir);
}

/*
 * The bus starts on its store: the epoch, the seq to go on from, and the
 * ring (with its id index, which de-duplicates) seeded with the log's
 * newest events, as many as the ring's bounds hold.  Exits when the log
 * cannot be read.  Cost: reading the ring's worth of the log's tail.
 */
void
store_start(struct evbusd *b)
{
	struct ev_store_reader *r;
	struct ev_record rec;
	struct ev_err err;
	struct ev_msg *m;
	uint64_t last = ev_store_last_seq(b->store);
	int n;

	store_epoch(b);
	ev_ring_free(&b->ring);
	ev_ring_init(&b->ring, b->ringmax, b->ringmaxbytes, last + 1);
	if (last == 0) {
		log_info("store %s: empty, epoch %s", b->storedir, b->epoch);
		return;
	}
	if (ev_store_reader_open(&r, b->storedir, &err) == -1 ||
	    ev_store_seek_last(r, b->ringmax, NULL, NULL, &err) == -1)
		fatalx("store %s: %s", b->storedir, err.msg);
	while ((n = ev_store_next(r, &rec, &err)) == 1 && rec.seq <= last) {
		if ((m = store_msg(b, &rec)) == NULL)
			continue;
		if (ev_ring_next(&b->ring) != rec.seq || ev_ring_count(
		    &b->ring) == 0) {
			/* A hole in the log's seqs: the ring starts after. */
			ev_ring_free(&b->ring);
			ev_ring_init(&b->ring, b->ringmax, b->ringmaxbytes,
			    rec.seq);
		}
		if (ev_ring_push(&b->ring, m) == -1)
			fatal("store: ring");
	}
	if (n == -1)
		fatalx("store %s: %s", b->storedir, err.msg);
	ev_store_reader_close(r);
	if (ev_ring_next(&b->ring) != last + 1) {
		ev_ring_free(&b->ring);
		ev_ring_init(&b->ring, b->ringmax, b->ringmaxbytes, last + 1);
	}
	log_info("store %s: epoch %s, seq goes on after %" PRIu64 "; %zu "
	    "events from the log in the ring", b->storedir, b->epoch, last,
	    ev_ring_count(&b->ring));
}

/*
 * The cursor writer: a thread that writes the durable cursors handed to it
 * (store_write_file: two fsyncs each), so that the loop never waits for
 * them.  Its queue holds each name once, with the newest seq handed over;
 * what it is writing now is in cw.cur.  A subscription that starts asks
 * the queue first (cw_pending), then the file.  Stopping drains the queue.
 */
struct cwjob {
	char		 name[DURABLE_MAX + 1];
	uint64_t	 seq;
};

static struct {
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct cwjob	*q;
	size_t		 n, cap;
	struct cwjob	 cur;
	bool		 busy;		/* writing cur */
	bool		 stop;
	bool		 running;
	char		 dir[4096 + 16];
} cw = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *
cw_main(void *arg)
{
	char text[32];

	(void)arg;
	pthread_mutex_lock(&cw.mu);
	for (;;) {
		while (cw.n == 0 && !cw.stop)
			pthread_cond_wait(&cw.cv, &cw.mu);
		if (cw.n == 0)
			break;
		cw.cur = cw.q[0];
		memmove(cw.q, cw.q + 1, --cw.n * sizeof(*cw.q));
		cw.busy = true;
		pthread_mutex_unlock(&cw.mu);
		snprintf(text, sizeof(text), "%" PRIu64 "\n", cw.cur.seq);
		if (store_write_file(cw.dir, cw.cur.name, text) == -1)
			log_warn("store: cursor %s", cw.cur.name);
		pthread_mutex_lock(&cw.mu);
		cw.busy = false;
	}
	pthread_mutex_unlock(&cw.mu);
	return NULL;
}

/* Start the cursor writer for dir/cursors; -1 with errno. */
static int
cw_start(const char *storedir)
{
	int e;

	snprintf(cw.dir, sizeof(cw.dir), "%s/cursors", storedir);
	cw.stop = false;
	if ((e = pthread_create(&cw.thread, NULL, cw_main, NULL)) != 0) {
		errno = e;
		return -1;
	}
	cw.running = true;
	return 0;
}

/* Write what is queued, then stop the cursor writer. */
static void
cw_stop(void)
{
	if (!cw.running)
		return;
	pthread_mutex_lock(&cw.mu);
	cw.stop = true;
	pthread_cond_signal(&cw.cv);
	pthread_mutex_unlock(&cw.mu);
	pthread_join(cw.thread, NULL);
	cw.running = false;
	free(cw.q);
	cw.q = NULL;
	cw.n = cw.cap = 0;
}

/*
 * Hand name's cursor seq to the writer.  When that cannot be (out of
 * memory, no thread), write it here and now.
 */
static void
cw_put(const char *name, uint64_t seq)
{
	struct cwjob *q;
	char text[32];
	size_t i, ncap;

	pthread_mutex_lock(&cw.mu);
	for (i = 0; i < cw.n && strcmp(cw.q[i].name, name) != 0; i++)
		;
	if (i == cw.n && cw.n == cw.cap) {
		ncap = cw.cap ? cw.cap * 2 : 16;
		if ((q = reallocarray(cw.q, ncap, sizeof(*q))) != NULL) {
			cw.q = q;
			cw.cap = ncap;
		}
	}
	if (cw.running && i < cw.cap) {
		if (i == cw.n) {
			snprintf(cw.q[i].name, sizeof(cw.q[i].name), "%s",
			    name);
			cw.n++;
		}
		cw.q[i].seq = seq;
		pthread_cond_signal(&cw.cv);
		pthread_mutex_unlock(&cw.mu);
		return;
	}
	pthread_mutex_unlock(&cw.mu);
	snprintf(text, sizeof(text), "%" PRIu64 "\n", seq);
	if (store_write_file(cw.dir, name, text) == -1)
		log_warn("store: cursor %s", name);
}

/* The cursor of name handed to the writer and not yet on disk, if any. */
static bool
cw_pending(const char *name, uint64_t *seq)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&cw.mu);
	for (i = 0; i < cw.n && !found; i++)
		if (strcmp(cw.q[i].name, name) == 0) {
			*seq = cw.q[i].seq;
			found = true;
		}
	if (!found && cw.busy && strcmp(cw.cur.name, name) == 0) {
		*seq = cw.cur.seq;
		found = true;
	}
	pthread_mutex_unlock(&cw.mu);
	return found;
}

/* Hand the cursors of the durable subscribers that moved to the writer. */
static void
store_cursors_write(struct evbusd *b)
{
	struct conn *c;

	TAILQ_FOREACH(c, &b->conns, entry) {
		if (!c->cursor_dirty || c->durable == NULL)
			continue;
		cw_put(c->durable, c->confirmed);
		c->cursor_dirty = false;
	}
	b->cursors_due = -1;
}

/*
 * Rewrite c's held replies now that the store failed: each "ACK seq" for
 * an event that will never be durable becomes "ERR state store: why";
 * the other held replies (ACK dup of durable events, PONG, gap notices,
 * events from the log) stay as they are.  The holds are then gone: there
 * is nothing left to wait for.  A reply that cannot be rewritten (out of
 * memory) closes the connection.
 */
static void
store_fail_held(struct evbusd *b, struct conn *c, uint64_t durable)
{
	struct ev_buf nb = { 0 };
	size_t off, len, before = ev_buf_unread(&c->out);
	const char *p, *e, *end;
	uint64_t seq;
	bool body = false;
	int r = 0;

	if (c->nhold == 0)
		return;
	off = (size_t)(c->hold[0].start - c->out_sent);
	p = ev_buf_head(&c->out) + off;
	end = ev_buf_head(&c->out) + before;
	r = ev_buf_append(&nb, ev_buf_head(&c->out), off);
	for (; r == 0 && p < end; p = e + 1) {
		if ((e = memchr(p, '\n', (size_t)(end - p))) == NULL)
			e = end - 1;
		len = (size_t)(e - p);
		if (!body && len > 4 && strncmp(p, "ACK ", 4) == 0 &&
		    ev_parse_u64(p + 4, strcspn(p + 4, " \n"), UINT64_MAX,
		    &seq) == 0 && seq > durable)
			r = ev_buf_printf(&nb, "ERR state store: %s\n",
			    b->storewhy);
		else {
			r = ev_buf_append(&nb, p, len + 1);
			body = !body && len > 6 && strncmp(p, "EVENT ", 6) == 0;
			continue;
		}
		body = false;
	}
	if (r == -1) {
		ev_buf_free(&nb);
		conn_close(b, c, "out of memory for a reply");
		return;
	}
	ev_buf_free(&c->out);
	c->out = nb;
	c->out_added = c->out_added - before + ev_buf_unread(&c->out);
	c->nhold = 0;
}

/*
 * A write or fsync of the log failed (disk full, I/O error): nothing
 * after the durable seq will be acknowledged -- its publishers get "ERR
 * state store: why" in place of their ACK -- and every later PUB is
 * refused the same way until the bus is restarted (which cuts what was
 * not durable and goes on from the log).  Subscribers never saw those
 * events: they see only what is durable.
 */
void
store_fail(struct evbusd *b, const char *why)
{
	uint64_t durable = ev_store_durable_seq(b->store);
	struct conn *c;

	if (b->storefailed)
		return;
	b->storefailed = true;
	snprintf(b->storewhy, sizeof(b->storewhy), "%s", why);
	ev_text_sanitize(b->storewhy);
	log_warnx("store %s: %s: events after seq %" PRIu64 " are not "
	    "acknowledged; every PUB is refused until evbusd is restarted",
	    b->storedir, b->storewhy, durable);
	TAILQ_FOREACH(c, &b->conns, entry)
		if (!c->dead)
			store_fail_held(b, c, durable);
}

/*
 * The publish path's step for the store: append the event just stamped,
 * seq and time, its line[0..len) (without the newline), before it enters
 * the ring.  -1 with err EV_ERR_UNAVAILABLE ("store: why", the reply
 * ERR state) when the store has failed or fails now, else as
 * ev_store_append.  Cost: a copy and a CRC of the line.
 */
int
store_append(struct evbusd *b, uint64_t seq, int64_t time, const char *line,
    size_t len, struct ev_err *err)
{
	if (!b->storefailed && ev_store_append(b->store, seq, time, line, len,
	    err) == 0)
		return 0;
	if (!b->storefailed) {
		if (err->kind != EV_ERR_SYS)
			return -1;
		store_fail(b, err->msg);
	}
	return ev_err_set(err, EV_ERR_UNAVAILABLE, "store: %s", b->storewhy);
}

/*
 * Once a turn, before acknowledgements are released: write what is
 * buffered, start the fsync that is due, collect the one that finished
 * (which moves the durable seq, and with it what bus_commit releases and
 * subscribers see), and write the durable cursors when their batch is
 * due.
 */
void
store_commit(struct evbusd *b)
{
	struct ev_err err;
	int64_t now = ev_mono_ms();

	if (!b->storefailed && ev_store_flush(b->store, now, &err) == -1)
		store_fail(b, err.msg);
	if (b->cursors_due != -1 && now >= b->cursors_due)
		store_cursors_write(b);
}

/* The loop's timeout (ms, -1 none) shortened to the store's next due work. */
int
store_timeout(struct evbusd *b, int ms)
{
	int64_t now;
	int t;

	if (b->store == NULL)
		return ms;
	now = ev_mono_ms();
	t = b->storefailed ? -1 : ev_store_timeout(b->store, now);
	if (t != -1 && (ms == -1 || t < ms))
		ms = t;
	if (b->cursors_due != -1) {
		t = b->cursors_due > now ? (int)(b->cursors_due - now) : 0;
		if (ms == -1 || t < ms)
			ms = t;
	}
	return ms;
}

/* Are events in the ring still waiting to become durable? */
bool
store_busy(const struct evbusd *b)
{
	return b->store != NULL && !b->storefailed &&
	    ev_store_durable_seq(b->store) + 1 < ev_ring_next(&b->ring);
}

/*
 * The seq up to which (not included) subscribers may be sent events:
 * without a store, all of the ring; with one, what is durable, so that a
 * subscriber never sees an event that a crash could take back (and that
 * its publisher was never acknowledged).
 */
uint64_t
bus_visible(const struct evbusd *b)
{
	uint64_t d;

	if (b->store == NULL)
		return ev_ring_next(&b->ring);
	d = ev_store_durable_seq(b->store) + 1;
	return d < ev_ring_next(&b->ring) ? d : ev_ring_next(&b->ring);
}

/* Queue an evbus.gap notice for [from, to] to c (reason why). -1: no memory. */
static int
store_gap(struct evbusd *b, struct conn *c, uint64_t from, uint64_t to,
    const char *why)
{
	struct ev_buf ev = { 0 };
	char payload[160];
	int r;

	snprintf(payload, sizeof(payload), "{\"from\":%" PRIu64 ",\"to\":%"
	    PRIu64 ",\"seqs\":%" PRIu64 ",\"reason\":\"%s\"}", from, to,
	    to - from + 1, why);
	r = ev_event_internal(&ev, 0, &b->self, "evbus.gap", ev_now_ms(),
	    payload);
	if (r == 0)
		r = conn_reply(c, "EVENT %zu\n%s", ev_buf_unread(&ev),
		    ev_buf_head(&ev));
	ev_buf_free(&ev);
	if (r == 0)
		log_info("client %" PRIu64 " (%s) lost events %" PRIu64 "..%"
		    PRIu64 " (%s)", c->serial, c->name, from, to, why);
	return r;
}

/*
 * Serve subscriber c from the log: its cursor is before the ring's first
 * event.  Queues to c's output (behind its replies) the events it wants,
 * from its cursor on, at most BACKFILL_EVENTS or until BACKFILL_BYTES are
 * queued, and never beyond what is durable or what the ring holds (from
 * there the ring serves it, and the reader is closed).  Seqs the log does
 * not have (damage, or a log with holes) become an evbus.gap notice.
 * Returns 0, or -1 when out of memory (the caller closes c).
 * Memory: one reader (a 1 MiB buffer) while c is behind the ring.
 * Cost: per event, a read, a CRC, a scan and two copies.
 */
int
store_backfill(struct evbusd *b, struct conn *c)
{
	struct ev_record rec;
	struct ev_err err;
	struct ev_msg *m;
	char head[EV_FRAMEHEAD_MAX];
	uint64_t stop;
	size_t n = 0, hl;
	int r;

	stop = ev_ring_first(&b->ring);
	if (bus_visible(b) < stop)
		stop = bus_visible(b);
	if (c->cursor >= stop)
		return 0;
	if (c->reader == NULL && ev_store_reader_open(&c->reader,
	    b->storedir, &err) == -1)
		goto lost;
	if (c->reader_next != c->cursor) {
		if (ev_store_seek_seq(c->reader, c->cursor, &err) == -1)
			goto lost;
		c->reader_next = c->cursor;
	}
	while (c->cursor < stop && n < BACKFILL_EVENTS &&
	    ev_buf_unread(&c->out) < BACKFILL_BYTES) {
		if ((r = ev_store_next(c->reader, &rec, &err)) == -1)
			goto lost;
		if (r == 0) {
			snprintf(err.msg, sizeof(err.msg), "the log ends "
			    "before seq %" PRIu64, c->cursor);
			goto lost;
		}
		if (rec.seq < c->cursor)
			continue;
		if (rec.seq > c->cursor) {
			/* Not in the log: say so, never skip silently. */
			if (store_gap(b, c, c->cursor, rec.seq - 1,
			    "retention") == -1)
				return -1;
			c->cursor = rec.seq;
			if (rec.seq >= stop) {
				c->reader_next = 0;	/* seek again */
				return 0;
			}
		}
		c->reader_next = rec.seq + 1;
		c->cursor = rec.seq + 1;
		n++;
		if ((m = store_msg(b, &rec)) == NULL)
			continue;
		if (sub_wants(c, m)) {
			hl = ev_msg_framehead(m, head);
			if (ev_buf_append(&c->out, head, hl) == -1 ||
			    ev_buf_append(&c->out, m->line, m->len) == -1) {
				ev_msg_unref(m);
				return -1;
			}
			c->out_added += hl + m->len;
			c->delivered++;
			b->events_out++;
		}
		ev_msg_unref(m);
	}
	if (c->cursor >= ev_ring_first(&b->ring)) {
		ev_store_reader_close(c->reader);
		c->reader = NULL;
		c->reader_next = 0;
	}
	return 0;
lost:
	log_warnx("store %s: client %" PRIu64 " (%s): %s", b->storedir,
	    c->serial, c->name, err.msg);
	ev_store_reader_close(c->reader);
	c->reader = NULL;
	c->reader_next = 0;
	if (store_gap(b, c, c->cursor, stop - 1, "unreadable") == -1)
		return -1;
	c->cursor = stop;
	return 0;
}

/* For seek_last: does the subscriber want this record? */
static bool
store_match(void *arg, const struct ev_record *rec)
{
	struct conn *c = ((void **)arg)[0];
	struct evbusd *b = ((void **)arg)[1];
	struct ev_msg *m;
	bool yes;

	if ((m = store_msg(b, rec)) == NULL)
		return false;
	yes = sub_wants(c, m);
	ev_msg_unref(m);
	return yes;
}

/* The seq of the first record the reader returns; 0 when none. */
static uint64_t
store_reader_seq(struct ev_store_reader *r)
{
	struct ev_record rec;
	struct ev_err err;

	return ev_store_next(r, &rec, &err) == 1 ? rec.seq : 0;
}

/* The seq of the oldest event the log (or else the ring) holds. */
static uint64_t
store_oldest(struct evbusd *b)
{
	struct ev_store_reader *r;
	struct ev_err err;
	uint64_t s = 0;

	if (ev_store_reader_open(&r, b->storedir, &err) == 0) {
		s = store_reader_seq(r);
		ev_store_reader_close(r);
	}
	return s != 0 && s < ev_ring_first(&b->ring) ? s :
	    ev_ring_first(&b->ring);
}

/*
 * Where a replay asked for in SUB starts when the log reaches further back
 * than the ring: "from" 0 means the log's oldest event, "last" n counts
 * back through the log, "since" searches it by time.  *cursor is the
 * ring's answer, changed only when the log has more.  None of them given:
 * unchanged.  Cost: O(log n) seeks, and for "last" and "since" a scan of
 * the stretch they reach.
 */
static void
store_replay(struct evbusd *b, struct conn *c, json_t *j, uint64_t *cursor)
{
	struct ev_store_reader *r;
	struct ev_record rec;
	struct ev_err err;
	json_t *from = json_object_get(j, "from");
	json_t *last = json_object_get(j, "last");
	json_t *since = json_object_get(j, "since");
	void *arg[2] = { c, b };
	uint64_t s, first = ev_ring_first(&b->ring);
	struct ev_msg *m;
	int n;

	if ((from == NULL && last == NULL && since == NULL) ||
	    (from != NULL && json_integer_value(from) != 0) ||
	    (last != NULL && *cursor > first) ||
	    (since != NULL && first < ev_ring_next(&b->ring) &&
	    ev_ring_get(&b->ring, first)->time <
	    json_integer_value(since)) ||
	    ev_store_reader_open(&r, b->storedir, &err) == -1)
		return;
	if (from != NULL)
		s = store_reader_seq(r);
	else if (last != NULL) {
		/* The reader passes the matches before the last n; the
		   first match it returns is where the replay starts. */
		s = 0;
		if (ev_store_seek_last(r, (uint64_t)json_integer_value(last),
		    store_match, arg, &err) == 0)
			while ((n = ev_store_next(r, &rec, &err)) == 1 &&
			    rec.seq < first)
				if (store_match(arg, &rec)) {
					s = rec.seq;
					break;
				}
	} else {
		s = 0;
		if (ev_store_seek_time(r, json_integer_value(since),
		    &err) == 0)
			while ((n = ev_store_next(r, &rec, &err)) == 1 &&
			    rec.seq < first) {
				if (rec.time < json_integer_value(since) ||
				    (m = store_msg(b, &rec)) == NULL)
					continue;
				if (sub_wants(c, m))
					s = rec.seq;
				ev_msg_unref(m);
				if (s != 0)
					break;
			}
	}
	ev_store_reader_close(r);
	if (s != 0 && s < *cursor)
		*cursor = s;
}

/* A durable name: 1 to DURABLE_MAX of [A-Za-z0-9_.-], not starting '.'. */
static bool
store_durable_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > DURABLE_MAX || s[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_.-", s[i]) == NULL || s[i] == '\0')
			return false;
	return true;
}

/*
 * SUB's part for the store, after the ring has placed c->cursor: replays
 * that reach back into the log (store_replay), and "durable":"NAME".  A
 * durable name seen before resumes after the seq its consumer last
 * confirmed, whatever from, last or since say; a new one starts where
 * they say, or at the oldest event retained, and its cursor is written
 * at the next batch.  -1 with err, c unchanged: EV_ERR_DATA (a bad name),
 * EV_ERR_UNAVAILABLE (the reply ERR state: no store, or the name in use
 * by another connection), EV_ERR_SYS.
 */
int
store_sub_start(struct evbusd *b, struct conn *c, json_t *j,
    struct ev_err *err)
{
	json_t *v = json_object_get(j, "durable");
	const char *name;
	char dir[4096], buf[32], iname[DURABLE_MAX + 32];
	struct conn *o;
	uint64_t seq, cursor = c->cursor;
	bool fresh = false, given;

	if (v != NULL && b->store == NULL)
		return ev_err_set(err, EV_ERR_UNAVAILABLE, "durable: this bus "
		    "has no store (evbusd --store)");
	if (b->store == NULL)
		return 0;
	if (v != NULL) {
		if (!json_is_string(v) || !store_durable_name(
		    json_string_value(v), json_string_length(v)))
			return ev_err_set(err, EV_ERR_DATA, "durable: not a "
			    "name of 1 to %d letters, digits, '_', '-' and "
			    "'.' (not first)", DURABLE_MAX);
		/*
		 * A name is its user's: another uid's "backup" is another
		 * cursor ("~UID.backup"; '~' starts no name a client gives),
		 * so nobody moves or holds a cursor that is not theirs.  The
		 * bus's owner and root keep the plain names.
		 */
		name = json_string_value(v);
		if (c->cred.uid != b->self.uid && c->cred.uid != 0) {
			snprintf(iname, sizeof(iname), "~%lu.%s",
			    (unsigned long)c->cred.uid, name);
			name = iname;
		}
		TAILQ_FOREACH(o, &b->conns, entry)
			if (o != c && !o->dead && o->durable != NULL &&
			    strcmp(o->durable, name) == 0)
				return ev_err_set(err, EV_ERR_UNAVAILABLE,
				    "durable: '%s' is in use",
				    json_string_value(v));
		snprintf(dir, sizeof(dir), "%s/cursors", b->storedir);
		if (cw_pending(name, &seq))
			cursor = seq + 1;
		else if (store_read_file(dir, name, buf, sizeof(buf)) == 0) {
			if (ev_parse_u64(buf, strcspn(buf, "\n"), UINT64_MAX,
			    &seq) == -1)
				return ev_err_set(err, EV_ERR_DATA, "durable: "
				    "%s/%s: not a seq", dir, name);
			cursor = seq + 1;
		} else if (errno == ENOENT)
			fresh = true;
		else
			return ev_err_sys(err, "durable: %s/%s", dir, name);
	}
	given = json_object_get(j, "from") != NULL ||
	    json_object_get(j, "last") != NULL ||
	    json_object_get(j, "since") != NULL;
	if (v != NULL && fresh && !given)
		cursor = store_oldest(b);
	else if (v == NULL || fresh)
		store_replay(b, c, j, &cursor);
	if (v != NULL) {
		if ((c->durable = strdup(name)) == NULL)
			return ev_err_sys(err, "durable");
		c->confirmed = cursor > 0 ? cursor - 1 : 0;
		if (fresh) {
			c->cursor_dirty = true;
			if (b->cursors_due == -1)
				b->cursors_due = ev_mono_ms() +
				    EV_STORE_BATCH_MS;
		}
	}
	c->cursor = cursor;
	return 0;
}

/*
 * CURSOR seq from a durable subscriber: it has written every event up to
 * seq.  No reply; an error when c has no durable subscription or seq is
 * beyond what was sent to it.  An older seq than the one confirmed is
 * ignored: cursors do not go back.  Written at the next batch.
 */
void
store_cursor(struct evbusd *b, struct conn *c, const struct ev_frame *f)
{
	uint64_t seq;
	int r = 0;

	if (!c->sub || c->durable == NULL)
		r = conn_error(c, "state", "CURSOR: this connection has no "
		    "durable subscription");
	else if (f->argc != 1 || ev_parse_u64(f->argv[0], strlen(f->argv[0]),
	    UINT64_MAX, &seq) == -1)
		r = conn_error(c, "data", "CURSOR: expected one seq");
	else if (seq >= c->cursor)
		r = conn_error(c, "data", "CURSOR %" PRIu64 ": beyond what was "
		    "sent (%" PRIu64 ")", seq, c->cursor - 1);
	else if (seq > c->confirmed) {
		c->confirmed = seq;
		c->cursor_dirty = true;
		if (b->cursors_due == -1)
			b->cursors_due = ev_mono_ms() + EV_STORE_BATCH_MS;
	}
	if (r == -1)
		conn_close(b, c, "out of memory for a reply");
}

/*
 * c is closing: hand its durable cursor to the writer if it moved (the
 * next consumer of the name starts from it, on disk or still queued),
 * release its name and its reader.
 */
void
store_conn_gone(struct evbusd *b, struct conn *c)
{
	(void)b;
	if (c->durable != NULL && c->cursor_dirty)
		cw_put(c->durable, c->confirmed);
	c->cursor_dirty = false;
	free(c->durable);
	c->durable = NULL;
	ev_store_reader_close(c->reader);
	c->reader = NULL;
}

/*
 * STATS' part for the store: ,"store":{"dir":..,"sync":..,"durable_seq":N,
 * "failed":null or the reason,"durable":[names in use]}.  -1 when out of
 * memory.
 */
int
store_stats(struct evbusd *b, struct ev_buf *out)
{
	static const char *const sync[] = { "batch", "always", "none" };
	struct conn *c;
	bool first = true;
	int r;

	r = ev_buf_append(out, ",\"store\":{\"dir\":", 16);
	if (r == 0)
		r = ev_json_put_string(out, b->storedir, strlen(b->storedir),
		    NULL);
	if (r == 0)
		r = ev_buf_printf(out, ",\"sync\":\"%s\",\"durable_seq\":%"
		    PRIu64 ",\"failed\":", sync[b->storesync],
		    ev_store_durable_seq(b->store));
	if (r == 0)
		r = b->storefailed ? ev_json_put_string(out, b->storewhy,
		    strlen(b->storewhy), NULL) : ev_buf_append(out, "null", 4);
	if (r == 0)
		r = ev_buf_append(out, ",\"durable\":[", 12);
	TAILQ_FOREACH(c, &b->conns, entry) {
		if (r == -1 || c->dead || c->durable == NULL)
			continue;
		if (!first)
			r = ev_buf_putc(out, ',');
		first = false;
		if (r == 0)
			r = ev_json_put_string(out, c->durable,
			    strlen(c->durable), NULL);
	}
	return r == 0 ? ev_buf_append(out, "]}", 2) : -1;
}

/*
 * Stop: make everything appended durable, write the cursors, release the
 * log.  Logged when the last writes fail.
 */
void
store_close(struct evbusd *b)
{
	struct ev_err err;

	if (b->store == NULL)
		return;
	store_cursors_write(b);
	cw_stop();
	if (ev_store_close(b->store, &err) == -1)
		log_warnx("store %s: %s", b->storedir, err.msg);
	b->store = NULL;
	ev_buf_free(&stamp);
}
