/*
 * store_read.c: reading a log, beside its writer: records in order across
 * segments, seeking by seq, by time and from the end, following new
 * records as they are written.
 *
 * A reader takes no lock.  It sees a record once the record is whole
 * (the writer writes each before the index entry that points at it, and
 * an incomplete record at the end of the last segment is "the end for
 * now").  A segment is known to be final once a later one exists: then
 * it is read once more to its end, where an incomplete record is damage.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "store.h"

struct ev_store_reader {
	char		*dir;
	int		 dirfd;
	uint64_t	*bases;		/* segments as last listed */
	size_t		 nbases;

	bool		 open;		/* a segment is open */
	bool		 started;	/* base names the last one opened */
	bool		 sealed;	/* a later segment exists */
	uint64_t	 base;
	uint32_t	 every;
	char		 name[ST_NAMELEN];
	struct st_cur	 cur;		/* fd -1 when none is open */

	uint64_t	 lastseq;	/* of the last record read */
	uint64_t	 skip_below;	/* after a seek: records before it */
	uint64_t	 skip_n;	/* after seek_last: matches to pass */
	bool		(*match)(void *, const struct ev_record *);
	void		*arg;

	int		 ifd;		/* inotify, or -1 */
	bool		 failed;
	struct ev_err	 failerr;
};

static int	r_fail(struct ev_store_reader *, struct ev_err *);
static void	r_close_seg(struct ev_store_reader *);
static void	r_reset(struct ev_store_reader *);
static int	r_relist(struct ev_store_reader *, struct ev_err *);
static int	r_open_seg(struct ev_store_reader *, uint64_t, bool,
		    struct ev_err *);
static int	r_open_next(struct ev_store_reader *, struct ev_err *);
static void	r_drain(struct ev_store_reader *);
static int	r_index(struct ev_store_reader *, struct st_index *,
		    struct ev_err *);
static int	r_entry_ok(struct ev_store_reader *, const struct st_ient *,
		    struct ev_err *);
static int	r_position(struct ev_store_reader *, struct st_index *,
		    size_t, struct ev_err *);
static int	r_open_at(struct ev_store_reader *, size_t *, struct ev_err *);
static int	r_tmax(struct ev_store_reader *, size_t, int64_t *,
		    struct ev_err *);

int
ev_store_reader_open(struct ev_store_reader **rp, const char *dir,
    struct ev_err *err)
{
	struct ev_store_reader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->dir = strdup(dir)) == NULL) {
		free(r);
		return ev_err_sys(err, "reader");
	}
	r->ifd = -1;
	ev_store_cur_init(&r->cur, -1, ST_SEG_HDR);
	if ((r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		ev_err_sys(err, "%s", dir);
		free(r->dir);
		free(r);
		return -1;
	}
	*rp = r;
	return 0;
}

void
ev_store_reader_close(struct ev_store_reader *r)
{
	if (r == NULL)
		return;
	r_close_seg(r);
	ev_store_cur_free(&r->cur);
	if (r->ifd != -1)
		close(r->ifd);
	close(r->dirfd);
	free(r->bases);
	free(r->dir);
	free(r);
}

int
ev_store_reader_fd(struct ev_store_reader *r, struct ev_err *err)
{
	if (r->ifd != -1)
		return r->ifd;
	if ((r->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return ev_err_sys(err, "inotify");
	if (inotify_add_watch(r->ifd, r->dir, IN_MODIFY | IN_CREATE |
	    IN_MOVED_TO | IN_DELETE | IN_CLOSE_WRITE) == -1) {
		ev_err_sys(err, "%s: inotify", r->dir);
		close(r->ifd);
		r->ifd = -1;
		return -1;
	}
	return r->ifd;
}

/* Keep err as the reader's failure: every later call returns it. */
static int
r_fail(struct ev_store_reader *r, struct ev_err *err)
{
	r->failed = true;
	if (err != NULL)
		r->failerr = *err;
	else
		ev_err_set(&r->failerr, EV_ERR_SYS, "reader failed");
	return -1;
}

static void
r_close_seg(struct ev_store_reader *r)
{
	if (r->cur.fd != -1)
		close(r->cur.fd);
	r->cur.fd = -1;
	r->cur.len = 0;
	r->open = false;
}

/* Forget the position: the next record is the first one. */
static void
r_reset(struct ev_store_reader *r)
{
	r_close_seg(r);
	r->started = false;
	r->lastseq = 0;
	r->skip_below = 0;
	r->skip_n = 0;
	r->match = NULL;
	r->arg = NULL;
	r->failed = false;
}

static int
r_relist(struct ev_store_reader *r, struct ev_err *err)
{
	uint64_t *bases;
	size_t n;

	if (ev_store_list(r->dirfd, &bases, &n, err) == -1) {
		ev_err_sys(err, "%s: list segments", r->dir);
		return -1;
	}
	free(r->bases);
	r->bases = bases;
	r->nbases = n;
	return 0;
}

/*
 * Open segment base at its first record.  1, 0 when it is gone (removed
 * by compaction since the listing), -1 with err.  A header not yet whole
 * is a segment being created: empty for now.
 */
static int
r_open_seg(struct ev_store_reader *r, uint64_t base, bool sealed,
    struct ev_err *err)
{
	unsigned char hdr[ST_SEG_HDR];
	struct st_seghdr h;
	const char *why;
	ssize_t got;
	int fd;

	r_close_seg(r);
	ev_store_name(r->name, base, "seg");
	if ((fd = openat(r->dirfd, r->name, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		return ev_err_sys(err, "%s/%s", r->dir, r->name);
	}
	while ((got = pread(fd, hdr, sizeof(hdr), 0)) == -1 && errno == EINTR)
		;
	if (got == -1) {
		ev_err_sys(err, "%s/%s", r->dir, r->name);
		close(fd);
		return -1;
	}
	h.every = ST_EVERY;
	if (got == (ssize_t)sizeof(hdr) || sealed) {
		if (got < (ssize_t)sizeof(hdr) ||
		    ev_store_seghdr_get(hdr, &h, &why) == -1 ||
		    h.base != base) {
			ev_err_set(err, EV_ERR_DATA, "%s/%s: bad segment header "
			    "(%s)", r->dir, r->name, got < (ssize_t)sizeof(hdr) ?
			    "too short" : h.base != base ?
			    "the base is not the name's" : why);
			close(fd);
			return -1;
		}
	}
	r->cur.fd = fd;
	r->cur.off = ST_SEG_HDR;
	r->cur.len = 0;
	r->every = h.every;
	r->base = base;
	r->open = true;
	r->started = true;
	r->sealed = sealed;
	return 1;
}

/*
 * Open the segment after the one last read (the first one when none
 * was): 1, 0 when there is none (yet), -1 with err.
 */
static int
r_open_next(struct ev_store_reader *r, struct ev_err *err)
{
	size_t i;
	int tries, k;

	for (tries = 0; tries < 100; tries++) {
		if (r_relist(r, err) == -1)
			return -1;
		for (i = 0; i < r->nbases; i++)
			if (!r->started || r->bases[i] > r->base)
				break;
		if (i == r->nbases)
			return 0;
		k = r_open_seg(r, r->bases[i], i + 1 < r->nbases, err);
		if (k != 0)
			return k;
	}
	return ev_err_set(err, EV_ERR_SYS, "%s: segments keep vanishing",
	    r->dir);
}

/* Read what inotify has, so that its descriptor waits again. */
static void
r_drain(struct ev_store_reader *r)
{
	char buf[4096];

	while (read(r->ifd, buf, sizeof(buf)) > 0)
		;
}

int
ev_store_next(struct ev_store_reader *r, struct ev_record *rec,
    struct ev_err *err)
{
	struct st_rec sr;
	const char *why;
	enum st_res res;
	size_t i;
	bool drained = false;
	int k;

	if (r->failed) {
		if (err != NULL)
			*err = r->failerr;
		return -1;
	}
	for (;;) {
		if (!r->open) {
			if ((k = r_open_next(r, err)) == -1)
				return r_fail(r, err);
			if (k == 0) {
				if (r->ifd != -1 && !drained) {
					r_drain(r);
					drained = true;
					continue;
				}
				return 0;
			}
		}
		switch ((res = ev_store_cur_next(&r->cur, &sr, &why, err))) {
		case ST_OK:
			if (sr.seq <= r->lastseq) {
				ev_err_set(err, EV_ERR_DATA, "%s/%s: offset %"
				    PRIu64 ": seq %" PRIu64 " is not after %"
				    PRIu64, r->dir, r->name, sr.off, sr.seq,
				    r->lastseq);
				return r_fail(r, err);
			}
			r->lastseq = sr.seq;
			if (sr.seq < r->skip_below)
				continue;
			rec->seq = sr.seq;
			rec->time = sr.time;
			rec->line = sr.line;
			rec->len = sr.len;
			if (r->skip_n > 0 && (r->match == NULL ||
			    r->match(r->arg, rec))) {
				r->skip_n--;
				continue;
			}
			return 1;
		case ST_END:
		case ST_SHORT:
			if (r->sealed) {
				if (res == ST_SHORT) {
					ev_err_set(err, EV_ERR_DATA, "%s/%s: "
					    "offset %" PRIu64 ": incomplete "
					    "record at the end of a segment "
					    "that is not the last", r->dir,
					    r->name, r->cur.off);
					return r_fail(r, err);
				}
				r_close_seg(r);
				continue;
			}
			if (r->ifd != -1 && !drained) {
				r_drain(r);
				drained = true;
				continue;
			}
			if (r_relist(r, err) == -1)
				return r_fail(r, err);
			for (i = 0; i < r->nbases; i++)
				if (r->bases[i] > r->base)
					break;
			if (i == r->nbases)
				return 0;
			/* Final now: read it once more to its end. */
			r->sealed = true;
			continue;
		case ST_BAD:
			ev_err_set(err, EV_ERR_DATA, "%s/%s: offset %" PRIu64
			    ": %s", r->dir, r->name, r->cur.off, why);
			return r_fail(r, err);
		case ST_IOERR:
			return r_fail(r, err);
		}
	}
}

/*
 * The index of the open segment, for seeking: its valid entries (checked
 * one by one when used), or, when a sealed segment's index is not whole
 * or a segment has none, one rebuilt in memory from the segment.
 */
static int
r_index(struct ev_store_reader *r, struct st_index *ix, struct ev_err *err)
{
	char idx[ST_NAMELEN], path[ST_NAMELEN + 1024];
	struct stat sb;
	struct ev_err e;
	bool complete;

	ev_store_name(idx, r->base, "idx");
	if (ev_store_index_read(r->dirfd, idx, r->every, r->base, ix,
	    &complete, &e) == 0) {
		if (!r->sealed && ix->n > 0)
			return 0;
		if (fstat(r->cur.fd, &sb) == -1)
			return ev_err_sys(err, "%s/%s", r->dir, r->name);
		if (r->sealed && complete && ix->sealed &&
		    ix->trailer.off == (uint64_t)sb.st_size)
			return 0;
		ev_store_index_free(ix);
	} else if (errno != ENOENT) {
		if (err != NULL)
			*err = e;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", r->dir, r->name);
	return ev_store_index_build(r->cur.fd, path, r->every, r->sealed, ix,
	    err);
}

/* Is the entry's record at its offset with its seq?  1, 0, -1. */
static int
r_entry_ok(struct ev_store_reader *r, const struct st_ient *e,
    struct ev_err *err)
{
	struct st_rec sr;
	const char *why;

	ev_store_cur_seek(&r->cur, e->off);
	switch (ev_store_cur_next(&r->cur, &sr, &why, err)) {
	case ST_OK:
		return sr.seq == e->seq;
	case ST_IOERR:
		return -1;
	default:
		return 0;
	}
}

/*
 * Put the cursor at entry k of ix, checking that entry; when it is wrong,
 * the index in ix is replaced by one rebuilt from the segment and the
 * caller must search again (returns 1).  0 when positioned, -1 on error.
 */
static int
r_position(struct ev_store_reader *r, struct st_index *ix, size_t k,
    struct ev_err *err)
{
	char path[ST_NAMELEN + 1024];
	int ok;

	if ((ok = r_entry_ok(r, &ix->e[k], err)) == -1)
		return -1;
	if (ok) {
		ev_store_cur_seek(&r->cur, ix->e[k].off);
		return 0;
	}
	ev_store_index_free(ix);
	snprintf(path, sizeof(path), "%s/%s", r->dir, r->name);
	if (ev_store_index_build(r->cur.fd, path, r->every, r->sealed, ix,
	    err) == -1)
		return -1;
	return 1;
}

/*
 * Open the segment at *j of the listing, stepping to the next one left
 * when it has gone: 1, 0 when none is left, -1.
 */
static int
r_open_at(struct ev_store_reader *r, size_t *j, struct ev_err *err)
{
	uint64_t want = r->bases[*j];
	int k, tries;

	for (tries = 0; tries < 100; tries++) {
		if ((k = r_open_seg(r, r->bases[*j], *j + 1 < r->nbases,
		    err)) != 0)
			return k;
		if (r_relist(r, err) == -1)
			return -1;
		for (*j = 0; *j < r->nbases && r->bases[*j] < want; (*j)++)
			;
		if (*j == r->nbases)
			return 0;
	}
	return ev_err_set(err, EV_ERR_SYS, "%s: segments keep vanishing",
	    r->dir);
}

int
ev_store_seek_seq(struct ev_store_reader *r, uint64_t seq, struct ev_err *err)
{
	struct st_index ix = { 0 };
	size_t j, lo, hi, mid;
	int k;

	r_reset(r);
	if (r_relist(r, err) == -1)
		return r_fail(r, err);
	r->skip_below = seq;
	if (r->nbases == 0)
		return 0;
	for (j = r->nbases; j > 1 && r->bases[j - 1] > seq; j--)
		;
	j--;
	if ((k = r_open_at(r, &j, err)) <= 0)
		return k == -1 ? r_fail(r, err) : 0;
	if (r_index(r, &ix, err) == -1)
		return r_fail(r, err);
	do {
		if (ix.n == 0) {
			ev_store_cur_seek(&r->cur, ST_SEG_HDR);
			break;
		}
		/* The last entry at or before seq. */
		lo = 0;
		hi = ix.n;
		while (hi - lo > 1) {
			mid = lo + (hi - lo) / 2;
			if (ix.e[mid].seq <= seq)
				lo = mid;
			else
				hi = mid;
		}
	} while ((k = r_position(r, &ix, lo, err)) == 1);
	ev_store_index_free(&ix);
	return k == -1 ? r_fail(r, err) : 0;
}

/*
 * The greatest time in the sealed segment at j of the listing: from its
 * index's header and trailer (two reads), or, when they do not hold it
 * for this segment, from the index rebuilt.  The segment is left open.
 * 1, 0 when it has gone, -1 with err.
 */
static int
r_tmax(struct ev_store_reader *r, size_t j, int64_t *tmax, struct ev_err *err)
{
	char idx[ST_NAMELEN];
	unsigned char hdr[ST_IDX_HDR], tr[ST_IDX_ENT];
	struct st_index ix;
	struct st_ient e;
	struct stat sb, isb;
	uint64_t base;
	uint32_t every;
	int k, fd;

	if ((k = r_open_seg(r, r->bases[j], true, err)) <= 0)
		return k;
	ev_store_name(idx, r->base, "idx");
	if ((fd = openat(r->dirfd, idx, O_RDONLY | O_CLOEXEC)) != -1) {
		k = fstat(fd, &isb) == 0 && fstat(r->cur.fd, &sb) == 0 &&
		    isb.st_size >= ST_IDX_HDR + ST_IDX_ENT &&
		    pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
		    pread(fd, tr, sizeof(tr), isb.st_size - ST_IDX_ENT) ==
		    (ssize_t)sizeof(tr) &&
		    ev_store_idxhdr_get(hdr, &every, &base) == 0 &&
		    every == r->every && base == r->base &&
		    ev_store_ient_get(tr, &e) == 0 &&
		    e.kind == ST_KIND_TRAILER && e.off == (uint64_t)sb.st_size;
		close(fd);
		if (k) {
			*tmax = e.tmax;
			return 1;
		}
	}
	if (r_index(r, &ix, err) == -1)
		return -1;
	*tmax = ix.trailer.tmax;
	ev_store_index_free(&ix);
	return 1;
}

int
ev_store_seek_time(struct ev_store_reader *r, int64_t ms, struct ev_err *err)
{
	struct st_index ix = { 0 };
	size_t j, lo, hi, mid;
	int64_t tmax;
	int k;

	r_reset(r);
	if (r_relist(r, err) == -1)
		return r_fail(r, err);
	if (r->nbases == 0)
		return 0;
	/* The first segment holding a time >= ms (else the last one). */
	for (j = 0; j + 1 < r->nbases; j++) {
		tmax = INT64_MIN;
		if ((k = r_tmax(r, j, &tmax, err)) == -1)
			return r_fail(r, err);
		if (k == 1 && tmax >= ms)
			break;
	}
	if ((k = r_open_at(r, &j, err)) <= 0)
		return k == -1 ? r_fail(r, err) : 0;
	if (r_index(r, &ix, err) == -1)
		return r_fail(r, err);
	do {
		if (ix.n == 0) {
			ev_store_cur_seek(&r->cur, ST_SEG_HDR);
			break;
		}
		/* The last entry with no time >= ms before it. */
		lo = 0;
		hi = ix.n;
		while (hi - lo > 1) {
			mid = lo + (hi - lo) / 2;
			if (ix.e[mid].tmax < ms)
				lo = mid;
			else
				hi = mid;
		}
	} while ((k = r_position(r, &ix, lo, err)) == 1);
	ev_store_index_free(&ix);
	return k == -1 ? r_fail(r, err) : 0;
}

int
ev_store_seek_last(struct ev_store_reader *r, uint64_t n,
    bool (*match)(void *, const struct ev_record *), void *arg,
    struct ev_err *err)
{
	struct st_index ix = { 0 };
	struct ev_record rec;
	struct st_rec sr;
	const char *why;
	uint64_t count = 0, m, hi;
	size_t j, b;
	enum st_res res;
	int k;

	r_reset(r);
	if (r_relist(r, err) == -1)
		return r_fail(r, err);
	if (n == 0) {
		/* Nothing of the past: start at the end. */
		if (r->nbases == 0)
			return 0;
		j = r->nbases - 1;
		if ((k = r_open_at(r, &j, err)) <= 0)
			return k == -1 ? r_fail(r, err) : 0;
		if (r_index(r, &ix, err) == -1)
			return r_fail(r, err);
		k = ix.n > 0 ? r_position(r, &ix, ix.n - 1, err) : 0;
		ev_store_index_free(&ix);
		if (k == -1)
			return r_fail(r, err);
		if (k == 1)
			ev_store_cur_seek(&r->cur, ST_SEG_HDR);
		r->skip_below = UINT64_MAX;
		while ((k = ev_store_next(r, &rec, err)) == 1)
			;
		r->skip_below = 0;
		return k;
	}
	for (j = r->nbases; j > 0; j--) {
		if ((k = r_open_seg(r, r->bases[j - 1], j < r->nbases,
		    err)) == -1)
			return r_fail(r, err);
		if (k == 0)
			continue;
		if (r_index(r, &ix, err) == -1)
			return r_fail(r, err);
		if (match == NULL && r->sealed &&
		    count + ix.trailer.ord < n) {
			count += ix.trailer.ord;
			ev_store_index_free(&ix);
			continue;
		}
		for (b = ix.n; b > 0; b--) {
			hi = b < ix.n ? ix.e[b].off : UINT64_MAX;
			if (match == NULL && b < ix.n)
				m = ix.e[b].ord - ix.e[b - 1].ord;
			else if (match == NULL && r->sealed)
				m = ix.trailer.ord - ix.e[b - 1].ord;
			else {
				m = 0;
				ev_store_cur_seek(&r->cur, ix.e[b - 1].off);
				while (r->cur.off < hi) {
					res = ev_store_cur_next(&r->cur, &sr,
					    &why, err);
					if (res == ST_END || (res == ST_SHORT &&
					    !r->sealed))
						break;
					if (res == ST_IOERR)
						goto fail;
					if (res != ST_OK) {
						ev_err_set(err, EV_ERR_DATA,
						    "%s/%s: offset %" PRIu64
						    ": %s", r->dir, r->name,
						    r->cur.off, res == ST_BAD ?
						    why : "incomplete record");
						goto fail;
					}
					rec.seq = sr.seq;
					rec.time = sr.time;
					rec.line = sr.line;
					rec.len = sr.len;
					if (match == NULL ||
					    match(arg, &rec))
						m++;
				}
			}
			count += m;
			if (count >= n) {
				ev_store_cur_seek(&r->cur, ix.e[b - 1].off);
				r->skip_n = count - n;
				r->match = match;
				r->arg = arg;
				ev_store_index_free(&ix);
				return 0;
			}
		}
		ev_store_index_free(&ix);
	}
	/* Fewer than n: all of them, from the first segment left. */
	r_reset(r);
	return 0;
fail:
	ev_store_index_free(&ix);
	return r_fail(r, err);
}
