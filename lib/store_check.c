/*
 * store_check.c: the walks over a whole log: verify (read-only, checks
 * every byte), repair (moves bad bytes to quarantine, rewrites segments,
 * rebuilds indexes), compact (retention by age and size) and stats.
 *
 * Every rewrite goes the same way: write the new file as NAME.tmp, fsync
 * it, rename(2) it over NAME, fsync the directory.  Whole segments are
 * removed oldest first, so that a crash in between leaves a log whose
 * oldest part is gone and nothing else.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "store.h"

#define PROGRESS_EVERY	(4 * 1024 * 1024)

/* One walk: the log, the callbacks, and where the walk is. */
struct walk {
	const char		*dir;
	int			 dirfd;
	struct ev_store_walk	*w;
	uint64_t		 total;		/* bytes of all segments */
	uint64_t		 done;		/* of those, walked */
	uint64_t		 shown;		/* done when last reported */
	uint64_t		 prev;		/* last good seq so far */
};

/* A stretch of a segment that repair moves aside. */
struct bad {
	uint64_t	 from, to;
	char		 why[200];
	uint64_t	 first, last;	/* seqs in it, from whole headers */
};

static void	say(struct walk *, bool, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	progress(struct walk *, uint64_t);
static int	walk_open(struct walk *, const char *, struct ev_store_walk *,
		    uint64_t **, size_t *, struct ev_err *);
static int	read_file(int, const char *, struct ev_buf *, bool *);
static int	verify_index(struct walk *, uint64_t, uint32_t,
		    struct st_index *, bool);
static int	verify_seg(struct walk *, uint64_t, bool, struct ev_err *);
static int	bad_add(struct bad **, size_t *, uint64_t, uint64_t,
		    const char *, uint64_t);
static int	copy_range(int, int, uint64_t, uint64_t, uint64_t,
		    struct ev_err *);
static int	rewrite_seg(struct walk *, int, const char *,
		    const unsigned char *, const struct bad *, size_t,
		    uint64_t, uint64_t, struct ev_err *);
static int	repair_seg(struct walk *, uint64_t, bool, struct ev_err *);
static int	seg_meta(int, uint64_t, bool, uint64_t *, struct st_index *,
		    struct ev_err *);
static void	gone_whole(const struct st_index *, uint64_t *, uint64_t *,
		    uint64_t *);
static int	last_seg_count(int, const char *, uint64_t, uint64_t *,
		    uint64_t *, int64_t *, struct ev_err *);

static void
say(struct walk *k, bool error, const char *fmt, ...)
{
	char text[768];
	va_list ap;

	if (error)
		k->w->errors++;
	if (k->w->report == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	k->w->report(k->w->arg, error, text);
}

/* Tell the caller how far the walk is, every few MiB. */
static void
progress(struct walk *k, uint64_t done)
{
	k->done = done;
	if (k->w->progress != NULL && (done - k->shown >= PROGRESS_EVERY ||
	    done == k->total)) {
		k->shown = done;
		k->w->progress(k->w->arg, done, k->total);
	}
}

/* Open dir and list its segments, summing their sizes for progress. */
static int
walk_open(struct walk *k, const char *dir, struct ev_store_walk *w,
    uint64_t **bases, size_t *n, struct ev_err *err)
{
	char name[ST_NAMELEN];
	struct stat sb;
	size_t i;

	memset(k, 0, sizeof(*k));
	k->dir = dir;
	k->w = w;
	w->segments = w->records = w->bytes = w->errors = 0;
	w->first_seq = w->last_seq = 0;
	w->removed = w->removed_bytes = w->removed_first = w->removed_last = 0;
	if ((k->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s", dir);
	if (ev_store_list(k->dirfd, bases, n, err) == -1) {
		ev_err_sys(err, "%s: list segments", dir);
		close(k->dirfd);
		return -1;
	}
	for (i = 0; i < *n; i++) {
		ev_store_name(name, (*bases)[i], "seg");
		if (fstatat(k->dirfd, name, &sb, 0) == 0)
			k->total += (uint64_t)sb.st_size;
	}
	return 0;
}

/*
 * Read a whole file into b: 0 (*missing when there is none), -1 with
 * errno.
 */
static int
read_file(int dirfd, const char *name, struct ev_buf *b, bool *missing)
{
	char chunk[65536];
	ssize_t n;
	int fd;

	*missing = false;
	ev_buf_reset(b);
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			return -1;
		*missing = true;
		return 0;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || ev_buf_append(b, chunk, (size_t)n) == -1) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/*
 * Compare a segment's index file with the one built from it (ix, whose
 * trailer is set).  A sealed segment's must be exactly that.  The last
 * segment's may lag behind or run ahead by whole entries (a writer is at
 * work), or end with the trailer (sealed just before a writer stopped):
 * then one must begin the other.  -1 when it cannot be read.
 */
static int
verify_index(struct walk *k, uint64_t base, uint32_t every,
    struct st_index *ix, bool last)
{
	char name[ST_NAMELEN];
	struct ev_buf want = { 0 }, have = { 0 };
	size_t n;
	bool missing, ok;
	int rv = -1;

	ev_store_name(name, base, "idx");
	if (read_file(k->dirfd, name, &have, &missing) == -1) {
		say(k, true, "%s/%s: %s", k->dir, name, strerror(errno));
		rv = 0;
		goto out;
	}
	if (missing) {
		say(k, true, "%s/%s: missing (evstore repair rebuilds it; no "
		    "event is lost)", k->dir, name);
		rv = 0;
		goto out;
	}
	ix->sealed = !last;
	if (ev_store_index_bytes(ix, every, base, &want) == -1)
		goto out;
	n = have.len < want.len ? have.len : want.len;
	ok = have.len == want.len || last;
	ok = ok && n >= ST_IDX_HDR && (have.len - ST_IDX_HDR) % ST_IDX_ENT ==
	    0 && memcmp(have.data, want.data, n) == 0;
	if (!ok)
		say(k, true, "%s/%s: does not match its segment (evstore "
		    "repair rebuilds it; no event is lost)", k->dir, name);
	rv = 0;
out:
	ev_buf_free(&want);
	ev_buf_free(&have);
	return rv;
}

/* Verify one segment: header, every record, then its index. */
static int
verify_seg(struct walk *k, uint64_t base, bool last, struct ev_err *err)
{
	char name[ST_NAMELEN];
	unsigned char hdr[ST_SEG_HDR];
	struct st_seghdr h;
	struct st_index ix = { 0 };
	struct st_ient e;
	struct st_ib ib;
	struct st_cur c;
	struct st_rec r;
	struct stat sb;
	struct ev_err le;
	const char *why = "";
	uint64_t start = k->done, at, errs = k->w->errors;
	ssize_t got;
	bool hdr_ok;
	int fd, rv = -1;

	ev_store_name(name, base, "seg");
	if ((fd = openat(k->dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s/%s", k->dir, name);
	ev_store_cur_init(&c, fd, ST_SEG_HDR);
	if (fstat(fd, &sb) == -1 ||
	    (got = pread(fd, hdr, sizeof(hdr), 0)) == -1) {
		ev_err_sys(err, "%s/%s", k->dir, name);
		goto out;
	}
	k->w->segments++;
	k->w->bytes += (uint64_t)sb.st_size;
	hdr_ok = got == (ssize_t)sizeof(hdr) &&
	    ev_store_seghdr_get(hdr, &h, &why) == 0;
	if (!hdr_ok && last && got < (ssize_t)sizeof(hdr)) {
		say(k, false, "%s/%s: the header is not whole: a segment "
		    "being created, which the next writer finishes", k->dir,
		    name);
		h.every = ST_EVERY;
	} else if (!hdr_ok) {
		say(k, true, "%s/%s: bad segment header (%s)", k->dir, name,
		    got < (ssize_t)sizeof(hdr) ? "too short" : why);
		h.every = ST_EVERY;
	} else if (h.base != base) {
		say(k, true, "%s/%s: the header's base %" PRIu64 " is not the "
		    "name's", k->dir, name, h.base);
		hdr_ok = false;
	}
	if (base <= k->prev)
		say(k, true, "%s/%s: its base is not after seq %" PRIu64
		    " of the segment before", k->dir, name, k->prev);
	ev_store_ib_init(&ib, h.every);
	for (;;) {
		switch (ev_store_cur_next(&c, &r, &why, err)) {
		case ST_OK:
			if (r.seq <= k->prev)
				say(k, true, "%s/%s: offset %" PRIu64 ": seq %"
				    PRIu64 " is not after %" PRIu64, k->dir,
				    name, r.off, r.seq, k->prev);
			else if (r.seq < base)
				say(k, true, "%s/%s: offset %" PRIu64 ": seq %"
				    PRIu64 " is below the segment's base",
				    k->dir, name, r.off, r.seq);
			if (ev_store_check_line(r.line, r.len - 1, r.seq,
			    r.time, &le) == -1)
				say(k, true, "%s/%s: offset %" PRIu64 ": seq %"
				    PRIu64 ": %s", k->dir, name, r.off, r.seq,
				    le.msg);
			if (r.seq > k->prev)
				k->prev = r.seq;
			if (k->w->first_seq == 0)
				k->w->first_seq = r.seq;
			k->w->last_seq = r.seq;
			k->w->records++;
			if (ev_store_ib_add(&ib, &r, &e) &&
			    ev_store_index_push(&ix, &e) == -1) {
				ev_err_sys(err, "index");
				goto out;
			}
			progress(k, start + c.off);
			continue;
		case ST_END:
			break;
		case ST_SHORT:
			if (last)
				say(k, false, "%s/%s: offset %" PRIu64 ": an "
				    "incomplete record ends the log (%" PRIu64
				    " bytes): one being written, or a torn "
				    "tail that the next writer cuts", k->dir,
				    name, c.off, (uint64_t)sb.st_size - c.off);
			else
				say(k, true, "%s/%s: offset %" PRIu64 ": "
				    "incomplete record at the end of a "
				    "segment that is not the last", k->dir,
				    name, c.off);
			break;
		case ST_BAD:
			switch (ev_store_resync(fd, c.off, k->prev, &at,
			    err)) {
			case -1:
				goto out;
			case 1:
				say(k, true, "%s/%s: offset %" PRIu64 ": %s; %"
				    PRIu64 " bytes unreadable up to the next "
				    "record at offset %" PRIu64, k->dir, name,
				    c.off, why, at - c.off, at);
				ev_store_cur_seek(&c, at);
				continue;
			}
			say(k, true, "%s/%s: offset %" PRIu64 ": %s; the %"
			    PRIu64 " bytes to the end are unreadable", k->dir,
			    name, c.off, why, (uint64_t)sb.st_size - c.off);
			break;
		case ST_IOERR:
			goto out;
		}
		break;
	}
	ev_store_ib_trailer(&ib, c.off, &ix.trailer);
	if (hdr_ok && k->w->errors == errs &&
	    verify_index(k, base, h.every, &ix, last) == -1) {
		ev_err_sys(err, "%s: index", k->dir);
		goto out;
	}
	progress(k, start + (uint64_t)sb.st_size);
	rv = 0;
out:
	ev_store_cur_free(&c);
	ev_store_index_free(&ix);
	close(fd);
	return rv;
}

int
ev_store_verify(const char *dir, struct ev_store_walk *w, struct ev_err *err)
{
	struct walk k;
	uint64_t *bases = NULL;
	size_t n = 0, i;
	int rv = 0;

	if (walk_open(&k, dir, w, &bases, &n, err) == -1)
		return -1;
	for (i = 0; i < n && rv == 0; i++)
		rv = verify_seg(&k, bases[i], i + 1 == n, err);
	if (rv == 0)
		progress(&k, k.total);
	free(bases);
	close(k.dirfd);
	return rv;
}

/* --- repair --------------------------------------------------------- */

/* Note [from, to) as bad, joining it to the one before when they touch. */
static int
bad_add(struct bad **v, size_t *n, uint64_t from, uint64_t to,
    const char *why, uint64_t seq)
{
	struct bad *nv, *b;

	if (*n > 0 && (*v)[*n - 1].to == from) {
		b = &(*v)[*n - 1];
		b->to = to;
	} else {
		if ((nv = reallocarray(*v, *n + 1, sizeof(*nv))) == NULL)
			return -1;
		*v = nv;
		b = &nv[(*n)++];
		b->from = from;
		b->to = to;
		snprintf(b->why, sizeof(b->why), "%s", why);
		b->first = b->last = 0;
	}
	if (seq != 0) {
		if (b->first == 0)
			b->first = seq;
		b->last = seq;
	}
	return 0;
}

/* Copy bytes [from, to) of in to out at offset at. */
static int
copy_range(int in, int out, uint64_t from, uint64_t to, uint64_t at,
    struct ev_err *err)
{
	static char buf[ST_READ];
	size_t want;
	ssize_t got;

	while (from < to) {
		want = to - from > sizeof(buf) ? sizeof(buf) :
		    (size_t)(to - from);
		if ((got = pread(in, buf, want, (off_t)from)) == -1) {
			if (errno == EINTR)
				continue;
			return ev_err_sys(err, "read");
		}
		if (got == 0)
			return ev_err_set(err, EV_ERR_SYS, "read: the file "
			    "shrank");
		if (pwrite(out, buf, (size_t)got, (off_t)at) != got)
			return ev_err_sys(err, "write");
		from += (uint64_t)got;
		at += (uint64_t)got;
	}
	return 0;
}

/*
 * Write segment name anew from fd: header hdr, then the bytes from off
 * keep_from to size that are in no bad stretch; through name.tmp, fsync,
 * rename, fsync of the directory.
 */
static int
rewrite_seg(struct walk *k, int fd, const char *name,
    const unsigned char *hdr, const struct bad *v, size_t nv,
    uint64_t keep_from, uint64_t size, struct ev_err *err)
{
	char tmp[ST_NAMELEN + 8];
	uint64_t at = ST_SEG_HDR, from = keep_from;
	size_t i;
	int out;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	if ((out = openat(k->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0666)) == -1)
		return ev_err_sys(err, "%s/%s", k->dir, tmp);
	if (pwrite(out, hdr, ST_SEG_HDR, 0) != ST_SEG_HDR) {
		ev_err_sys(err, "%s/%s", k->dir, tmp);
		goto fail;
	}
	for (i = 0; i <= nv; i++) {
		uint64_t to = i < nv ? v[i].from : size;

		if (to > from) {
			if (copy_range(fd, out, from, to, at, err) == -1)
				goto fail;
			at += to - from;
		}
		if (i < nv && v[i].to > from)
			from = v[i].to;
	}
	if (fsync(out) == -1) {
		ev_err_sys(err, "%s/%s: fsync", k->dir, tmp);
		goto fail;
	}
	close(out);
	if (renameat(k->dirfd, tmp, k->dirfd, name) == -1) {
		ev_err_sys(err, "%s/%s", k->dir, name);
		unlinkat(k->dirfd, tmp, 0);
		return -1;
	}
	return ev_store_dirsync(k->dirfd, k->dir, err);
fail:
	close(out);
	unlinkat(k->dirfd, tmp, 0);
	return -1;
}

/* Repair one segment: find its bad stretches, move them aside, rewrite. */
static int
repair_seg(struct walk *k, uint64_t base, bool last, struct ev_err *err)
{
	char name[ST_NAMELEN], idx[ST_NAMELEN], path[PATH_MAX];
	char qname[ST_NAMELEN * 2], seqs[80];
	unsigned char hdr[ST_SEG_HDR], rh[ST_REC_HDR];
	struct st_seghdr h;
	struct st_index ix = { 0 }, old;
	struct st_cur c;
	struct st_rec r;
	struct stat sb;
	struct ev_err le;
	struct bad *v = NULL;
	const char *why = "";
	uint64_t at, size, start = k->done, off;
	size_t nv = 0, i;
	ssize_t hgot;
	bool hdr_ok, complete, same;
	int fd, nfd = -1, rv = -1;

	ev_store_name(name, base, "seg");
	ev_store_name(idx, base, "idx");
	snprintf(path, sizeof(path), "%s/%s", k->dir, name);
	if ((fd = openat(k->dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s", path);
	ev_store_cur_init(&c, fd, ST_SEG_HDR);
	if (fstat(fd, &sb) == -1 ||
	    (hgot = pread(fd, hdr, sizeof(hdr), 0)) == -1) {
		ev_err_sys(err, "%s", path);
		goto out;
	}
	size = (uint64_t)sb.st_size;
	k->w->segments++;
	hdr_ok = hgot == (ssize_t)sizeof(hdr) &&
	    ev_store_seghdr_get(hdr, &h, &why) == 0 && h.base == base;
	if (!hdr_ok) {
		if (size > 0 && bad_add(&v, &nv, 0, size < ST_SEG_HDR ? size :
		    ST_SEG_HDR, "bad segment header", 0) == -1)
			goto nomem;
		h.every = ST_EVERY;
		h.base = base;
		h.created = ev_now_ms();
		ev_store_seghdr_put(hdr, &h);
	}
	for (;;) {
		switch (ev_store_cur_next(&c, &r, &why, err)) {
		case ST_OK:
			if (r.seq <= k->prev || r.seq < base)
				why = "seq out of order";
			else if (ev_store_check_line(r.line, r.len - 1, r.seq,
			    r.time, &le) == -1)
				why = le.msg;
			else {
				k->prev = r.seq;
				if (k->w->first_seq == 0)
					k->w->first_seq = r.seq;
				k->w->last_seq = r.seq;
				k->w->records++;
				progress(k, start + c.off);
				continue;
			}
			if (bad_add(&v, &nv, r.off, c.off, why, r.seq) == -1)
				goto nomem;
			continue;
		case ST_END:
			break;
		case ST_SHORT:
			if (bad_add(&v, &nv, c.off, size, "incomplete record "
			    "at the end", 0) == -1)
				goto nomem;
			break;
		case ST_BAD:
			off = c.off;
			switch (ev_store_resync(fd, off, k->prev, &at, err)) {
			case -1:
				goto out;
			case 0:
				at = size;
				break;
			}
			if (bad_add(&v, &nv, off, at, why, 0) == -1)
				goto nomem;
			/* The seqs of whole headers in the stretch. */
			while (off + ST_REC_HDR <= at && pread(fd, rh,
			    sizeof(rh), (off_t)off) == (ssize_t)sizeof(rh) &&
			    memcmp(rh, ev_store_rec_magic, 4) == 0 &&
			    ev_crc32c(0, rh, 28) == st_get32(rh + 28)) {
				if (v[nv - 1].first == 0)
					v[nv - 1].first = st_get64(rh + 8);
				v[nv - 1].last = st_get64(rh + 8);
				off += ST_RECSIZE(st_get32(rh + 4));
			}
			if (at == size)
				break;
			ev_store_cur_seek(&c, at);
			continue;
		case ST_IOERR:
			goto out;
		}
		break;
	}
	for (i = 0; i < nv; i++) {
		if (ev_store_quarantine(k->dirfd, k->dir, fd, name, v[i].from,
		    v[i].to, qname, err) == -1)
			goto out;
		if (v[i].first == 0)
			seqs[0] = '\0';
		else if (v[i].first == v[i].last)
			snprintf(seqs, sizeof(seqs), ", seq %" PRIu64,
			    v[i].first);
		else
			snprintf(seqs, sizeof(seqs), ", seqs %" PRIu64 " to %"
			    PRIu64, v[i].first, v[i].last);
		say(k, false, "%s: offset %" PRIu64 ": %s: %" PRIu64 " bytes "
		    "moved to quarantine/%s%s", path, v[i].from, v[i].why,
		    v[i].to - v[i].from, qname, seqs);
		k->w->removed++;
		k->w->removed_bytes += v[i].to - v[i].from;
		if (v[i].first != 0 && k->w->removed_first == 0)
			k->w->removed_first = v[i].first;
		if (v[i].last != 0)
			k->w->removed_last = v[i].last;
	}
	if (nv > 0 || !hdr_ok) {
		if (rewrite_seg(k, fd, name, hdr, v, nv, ST_SEG_HDR, size,
		    err) == -1)
			goto out;
		say(k, false, "%s: rewritten %s", path, nv > 0 ?
		    "without them" : "with a new header");
	}
	/* The index, from the segment as it is now. */
	if ((nfd = openat(k->dirfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
		ev_err_sys(err, "%s", path);
		goto out;
	}
	if (ev_store_index_build(nfd, path, h.every, !last, &ix, err) == -1)
		goto out;
	same = false;
	if (ev_store_index_read(k->dirfd, idx, h.every, base, &old, &complete,
	    &le) == 0) {
		same = complete && old.n == ix.n && old.sealed == ix.sealed &&
		    (!ix.sealed || memcmp(&old.trailer, &ix.trailer,
		    sizeof(ix.trailer)) == 0);
		for (i = 0; same && i < ix.n; i++)
			same = memcmp(&old.e[i], &ix.e[i], sizeof(ix.e[i])) == 0;
		ev_store_index_free(&old);
	}
	if (!same) {
		if (ev_store_index_write(k->dirfd, idx, &ix, h.every, base,
		    err) == -1)
			goto out;
		say(k, false, "%s/%s: index rebuilt from its segment", k->dir,
		    idx);
	}
	k->w->bytes += (uint64_t)(fstat(nfd, &sb) == 0 ? sb.st_size : 0);
	progress(k, start + size);
	rv = 0;
	goto out;
nomem:
	ev_err_sys(err, "repair");
out:
	ev_store_cur_free(&c);
	ev_store_index_free(&ix);
	free(v);
	if (nfd != -1)
		close(nfd);
	close(fd);
	return rv;
}

int
ev_store_repair(const char *dir, struct ev_store_walk *w, struct ev_err *err)
{
	struct walk k;
	uint64_t *bases = NULL;
	size_t n = 0, i;
	int lockfd, rv = 0;

	if (walk_open(&k, dir, w, &bases, &n, err) == -1)
		return -1;
	if (ev_store_lock(k.dirfd, dir, &lockfd, err) == -1) {
		free(bases);
		close(k.dirfd);
		return -1;
	}
	ev_store_untmp(k.dirfd);
	for (i = 0; i < n && rv == 0; i++)
		rv = repair_seg(&k, bases[i], i + 1 == n, err);
	if (rv == 0)
		progress(&k, k.total);
	free(bases);
	close(lockfd);
	close(k.dirfd);
	return rv;
}

/* --- compact -------------------------------------------------------- */

/*
 * What a sealed segment holds, from its index (rebuilt when it is not
 * whole): *size, and ix with its trailer.  -1 with err.
 */
static int
seg_meta(int dirfd, uint64_t base, bool sealed, uint64_t *size,
    struct st_index *ix, struct ev_err *err)
{
	char name[ST_NAMELEN], idx[ST_NAMELEN];
	unsigned char hdr[ST_SEG_HDR];
	struct st_seghdr h;
	struct stat sb;
	struct ev_err e;
	const char *why;
	bool complete;
	int fd, rv = -1;

	ev_store_name(name, base, "seg");
	ev_store_name(idx, base, "idx");
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s", name);
	if (fstat(fd, &sb) == -1 || pread(fd, hdr, sizeof(hdr), 0) !=
	    (ssize_t)sizeof(hdr) || ev_store_seghdr_get(hdr, &h, &why) == -1) {
		ev_err_set(err, EV_ERR_DATA, "%s: bad segment header; see "
		    "evstore repair", name);
		goto out;
	}
	*size = (uint64_t)sb.st_size;
	if (ev_store_index_read(dirfd, idx, h.every, base, ix, &complete,
	    &e) == 0) {
		if (complete && ix->sealed == sealed &&
		    (!sealed || ix->trailer.off == *size)) {
			rv = 0;
			goto out;
		}
		ev_store_index_free(ix);
	}
	rv = ev_store_index_build(fd, name, h.every, true, ix, err);
out:
	close(fd);
	return rv;
}

/*
 * Account the records of a segment that goes whole, from its index.
 */
static void
gone_whole(const struct st_index *ix, uint64_t *nrec, uint64_t *first,
    uint64_t *last)
{
	if (ix->trailer.ord == 0)
		return;
	if (*first == 0)
		*first = ix->e[0].seq;
	*last = ix->trailer.seq;
	*nrec += ix->trailer.ord;
}

int
ev_store_compact(struct ev_store *st, int64_t keep_ms, uint64_t max_bytes,
    int64_t now_ms, struct ev_store_walk *w, struct ev_err *err)
{
	char name[ST_NAMELEN], idx[ST_NAMELEN], path[PATH_MAX];
	unsigned char hdr[ST_SEG_HDR];
	struct st_index ix = { 0 };
	struct st_cur c;
	struct st_rec r;
	struct stat sb;
	struct walk k;
	enum st_res res;
	const char *why;
	uint64_t *bases = NULL, *sizes = NULL, total = 0, need;
	uint64_t first = 0, last = 0, nrec = 0, cut_off = ST_SEG_HDR;
	int64_t cutoff = keep_ms >= 0 ? now_ms - keep_ms : INT64_MIN;
	size_t n = 0, i, j, cut_seg = 0;
	bool sealed, whole, by_age = keep_ms >= 0;
	int fd = -1, rv = -1;

	ev_store_cur_init(&c, -1, ST_SEG_HDR);
	if (ev_store_sync(st, err) == -1)
		return -1;
	memset(&k, 0, sizeof(k));
	k.dir = st->dir;
	k.dirfd = st->dirfd;
	k.w = w;
	w->segments = w->records = w->bytes = w->errors = 0;
	w->first_seq = w->last_seq = 0;
	w->removed = w->removed_bytes = w->removed_first = w->removed_last = 0;
	if (ev_store_list(st->dirfd, &bases, &n, err) == -1)
		return -1;
	if (n == 0 || (sizes = calloc(n, sizeof(*sizes))) == NULL) {
		if (n > 0)
			ev_err_sys(err, "compact");
		rv = n == 0 ? 0 : -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		ev_store_name(name, bases[i], "seg");
		if (fstatat(st->dirfd, name, &sb, 0) == -1) {
			ev_err_sys(err, "%s/%s", st->dir, name);
			goto out;
		}
		sizes[i] = (uint64_t)sb.st_size;
		total += sizes[i];
	}
	k.total = total;
	need = max_bytes > 0 && total > max_bytes ? total - max_bytes : 0;

	/*
	 * Where the cut is.  A record goes while it and every one before it
	 * are older than the cutoff (by_age), or while the bytes before it
	 * in its segment are fewer than still need freeing.  Sealed
	 * segments that go whole are known from their index's trailer.
	 */
	for (i = 0; i < n; i++) {
		sealed = i + 1 < n;
		whole = false;
		if (sealed) {
			if (seg_meta(st->dirfd, bases[i], true, &sizes[i], &ix,
			    err) == -1)
				goto out;
			if ((by_age && ix.trailer.tmax < cutoff) ||
			    need >= sizes[i]) {
				whole = true;
				gone_whole(&ix, &nrec, &first, &last);
				if (ix.trailer.tmax >= cutoff)
					by_age = false;
			}
			ev_store_index_free(&ix);
		}
		if (!whole) {
			ev_store_name(name, bases[i], "seg");
			snprintf(path, sizeof(path), "%s/%s", st->dir, name);
			if ((fd = openat(st->dirfd, name, O_RDONLY |
			    O_CLOEXEC)) == -1) {
				ev_err_sys(err, "%s", path);
				goto out;
			}
			ev_store_cur_init(&c, fd, ST_SEG_HDR);
			while ((res = ev_store_cur_next(&c, &r, &why, err)) ==
			    ST_OK) {
				if (by_age && r.time >= cutoff)
					by_age = false;
				if (!by_age && r.off - ST_SEG_HDR >= need)
					break;
				if (first == 0)
					first = r.seq;
				last = r.seq;
				nrec++;
			}
			if (res == ST_IOERR)
				goto out;
			if (res == ST_BAD || (res == ST_SHORT && sealed)) {
				ev_err_set(err, EV_ERR_DATA, "%s: offset %"
				    PRIu64 ": %s; see evstore repair", path,
				    c.off, res == ST_BAD ? why :
				    "incomplete record");
				goto out;
			}
			cut_off = res == ST_OK ? r.off : c.off;
			ev_store_cur_free(&c);
			close(fd);
			fd = -1;
			whole = sealed && res != ST_OK;
		}
		progress(&k, k.done + sizes[i]);
		if (!whole)
			break;
		need = need > sizes[i] ? need - sizes[i] : 0;
	}
	cut_seg = i;
	if (nrec == 0) {
		rv = 0;
		goto out;
	}

	/*
	 * A cut inside the segment being appended to: start a new one, so
	 * that the old one is rewritten or removed like any other, and the
	 * seqs go on after it.
	 */
	if (cut_seg == n - 1 && cut_off > ST_SEG_HDR) {
		if (ev_store_roll(st, err) == -1)
			goto out;
		if (cut_off >= sizes[cut_seg]) {
			cut_seg++;
			cut_off = ST_SEG_HDR;
		}
	}

	/* Whole segments, oldest first. */
	for (j = 0; j < cut_seg; j++) {
		ev_store_name(name, bases[j], "seg");
		ev_store_name(idx, bases[j], "idx");
		if (unlinkat(st->dirfd, name, 0) == -1) {
			ev_err_sys(err, "%s/%s", st->dir, name);
			goto out;
		}
		if (unlinkat(st->dirfd, idx, 0) == -1 && errno != ENOENT) {
			ev_err_sys(err, "%s/%s", st->dir, idx);
			goto out;
		}
		w->removed_bytes += sizes[j];
		say(&k, false, "%s/%s: removed", st->dir, name);
	}
	if (cut_seg > 0 && ev_store_dirsync(st->dirfd, st->dir, err) == -1)
		goto out;

	/* The first segment kept, cut inside: rewritten from the cut. */
	if (cut_seg < n && cut_off > ST_SEG_HDR) {
		ev_store_name(name, bases[cut_seg], "seg");
		ev_store_name(idx, bases[cut_seg], "idx");
		snprintf(path, sizeof(path), "%s/%s", st->dir, name);
		if ((fd = openat(st->dirfd, name, O_RDONLY | O_CLOEXEC)) ==
		    -1 || pread(fd, hdr, sizeof(hdr), 0) !=
		    (ssize_t)sizeof(hdr)) {
			ev_err_sys(err, "%s", path);
			goto out;
		}
		if (rewrite_seg(&k, fd, name, hdr, NULL, 0, cut_off,
		    sizes[cut_seg], err) == -1)
			goto out;
		close(fd);
		if ((fd = openat(st->dirfd, name, O_RDONLY | O_CLOEXEC)) ==
		    -1) {
			ev_err_sys(err, "%s", path);
			goto out;
		}
		if (ev_store_index_build(fd, path, st_get32(hdr + 12), true,
		    &ix, err) == -1 || ev_store_index_write(st->dirfd, idx,
		    &ix, st_get32(hdr + 12), bases[cut_seg], err) == -1)
			goto out;
		w->removed_bytes += cut_off - ST_SEG_HDR;
		say(&k, false, "%s: rewritten from offset %" PRIu64, path,
		    cut_off);
	}
	w->removed = nrec;
	w->removed_first = first;
	w->removed_last = last;
	progress(&k, k.total);
	rv = 0;
out:
	ev_store_cur_free(&c);
	ev_store_index_free(&ix);
	if (fd != -1)
		close(fd);
	free(bases);
	free(sizes);
	return rv;
}

/* --- stats ---------------------------------------------------------- */

/*
 * The records of the last segment: from its last good index entry (or its
 * start) to the end.  *count, and *last_seq and *last_time of the last
 * one when there is one.
 */
static int
last_seg_count(int dirfd, const char *dir, uint64_t base, uint64_t *count,
    uint64_t *last_seq, int64_t *last_time, struct ev_err *err)
{
	char name[ST_NAMELEN], idx[ST_NAMELEN];
	unsigned char hdr[ST_SEG_HDR];
	struct st_seghdr h;
	struct st_index ix = { 0 };
	struct st_cur c;
	struct st_rec r;
	struct ev_err e;
	enum st_res res;
	const char *why;
	size_t kk;
	bool complete;
	int fd, rv = -1;

	*count = 0;
	ev_store_name(name, base, "seg");
	ev_store_name(idx, base, "idx");
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s/%s", dir, name);
	ev_store_cur_init(&c, fd, ST_SEG_HDR);
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    ev_store_seghdr_get(hdr, &h, &why) == -1) {
		rv = 0;		/* being created: empty */
		goto out;
	}
	if (ev_store_index_read(dirfd, idx, h.every, base, &ix, &complete,
	    &e) == -1)
		memset(&ix, 0, sizeof(ix));
	for (kk = ix.n; kk > 0; kk--) {
		ev_store_cur_seek(&c, ix.e[kk - 1].off);
		res = ev_store_cur_next(&c, &r, &why, err);
		if (res == ST_IOERR)
			goto out;
		if (res == ST_OK && r.seq == ix.e[kk - 1].seq) {
			*count = ix.e[kk - 1].ord;
			ev_store_cur_seek(&c, ix.e[kk - 1].off);
			break;
		}
	}
	if (kk == 0)
		ev_store_cur_seek(&c, ST_SEG_HDR);
	while ((res = ev_store_cur_next(&c, &r, &why, err)) == ST_OK) {
		(*count)++;
		*last_seq = r.seq;
		*last_time = r.time;
	}
	if (res == ST_IOERR)
		goto out;
	if (res == ST_BAD) {
		ev_err_set(err, EV_ERR_DATA, "%s/%s: offset %" PRIu64 ": %s",
		    dir, name, c.off, why);
		goto out;
	}
	rv = 0;
out:
	ev_store_cur_free(&c);
	ev_store_index_free(&ix);
	close(fd);
	return rv;
}

int
ev_store_stats(const char *dir, struct ev_store_stats *s, struct ev_err *err)
{
	struct ev_store_reader *r = NULL;
	struct ev_record rec;
	char name[ST_NAMELEN];
	struct st_index ix = { 0 };
	struct stat sb;
	uint64_t *bases = NULL, size, count = 0;
	size_t n = 0, i;
	int dirfd, k, rv = -1;

	memset(s, 0, sizeof(*s));
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s", dir);
	if (ev_store_list(dirfd, &bases, &n, err) == -1) {
		ev_err_sys(err, "%s: list segments", dir);
		goto out;
	}
	s->segments = n;
	for (i = 0; i < n; i++) {
		ev_store_name(name, bases[i], "seg");
		if (fstatat(dirfd, name, &sb, 0) == 0)
			s->bytes += (uint64_t)sb.st_size;
		ev_store_name(name, bases[i], "idx");
		if (fstatat(dirfd, name, &sb, 0) == 0)
			s->index_bytes += (uint64_t)sb.st_size;
		if (i + 1 < n) {
			if (seg_meta(dirfd, bases[i], true, &size, &ix,
			    err) == -1)
				goto out;
			s->records += ix.trailer.ord;
			if (ix.trailer.ord > 0) {
				s->last_seq = ix.trailer.seq;
			}
			ev_store_index_free(&ix);
		}
	}
	if (n > 0) {
		if (last_seg_count(dirfd, dir, bases[n - 1], &count,
		    &s->last_seq, &s->last_time, err) == -1)
			goto out;
		s->records += count;
	}
	if (s->records > 0) {
		if (ev_store_reader_open(&r, dir, err) == -1)
			goto out;
		if ((k = ev_store_next(r, &rec, err)) == -1)
			goto out;
		if (k == 1) {
			s->first_seq = rec.seq;
			s->first_time = rec.time;
		}
		/* The last record, when the last segment has none. */
		if (count == 0) {
			if (ev_store_seek_last(r, 1, NULL, NULL, err) == -1 ||
			    (k = ev_store_next(r, &rec, err)) == -1)
				goto out;
			if (k == 1) {
				s->last_seq = rec.seq;
				s->last_time = rec.time;
			}
		}
	}
	s->next_seq = n > 0 && bases[n - 1] > s->last_seq ? bases[n - 1] :
	    s->last_seq + 1;
	rv = 0;
out:
	ev_store_reader_close(r);
	ev_store_index_free(&ix);
	free(bases);
	close(dirfd);
	return rv;
}
