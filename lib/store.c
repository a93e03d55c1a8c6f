/*
 * store.c: evstore's log: the format's pieces (records, headers, index
 * entries, the sequential cursor), the files of a log directory (listing,
 * the writer's lock, quarantine), turning input lines into stored ones,
 * and the writer: open with recovery of the tail, append, group commit,
 * segment roll, close.  The format is described in store.h and evstore(1).
 */
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "jscan.h"
#include "store.h"

#define WBUF_FLUSH	(256 * 1024)	/* write(2) buffered records past this */
#define FIELDS_MAX	256		/* top-level fields, as event.c */

const unsigned char ev_store_rec_magic[4] = { 0xe7, 0x00, 0x52, 0x31 };
static const char seg_magic[8] = "EVSTSEG1";
static const char idx_magic[8] = "EVSTIDX1";

static int	cur_fill(struct st_cur *, size_t, struct ev_err *);
static int	event_validate(const char *, size_t, int64_t, struct ev_buf *,
		    struct ev_evinfo *, bool, struct ev_err *);
static bool	key_is(const struct ev_jmember *, const char *, size_t);
static int	read_all(int, void *, size_t, uint64_t, size_t *);
static int	write_all(int, const void *, size_t, uint64_t);
static void	note(const struct ev_store *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	st_fail(struct ev_store *, struct ev_err *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	st_write(struct ev_store *, struct ev_err *);
static void	st_collect(struct ev_store *);
static void	st_wait_idle(struct ev_store *);
static void	*st_syncer(void *);
static int	st_create(struct ev_store *, uint64_t, struct ev_err *);
static int	st_check_sealed(struct ev_store *, uint64_t,
		    struct ev_store_recovery *, struct ev_err *);
static int	st_open_last(struct ev_store *, uint64_t,
		    struct ev_store_recovery *, struct ev_err *);
static int	st_cut_tail(struct ev_store *, struct st_cur *, uint64_t,
		    enum st_res, const char *, struct ev_store_recovery *,
		    struct ev_err *);

/* --- records, headers, index entries -------------------------------- */

enum st_res
ev_store_rec_parse(const unsigned char *p, size_t avail, uint64_t off,
    struct st_rec *r, size_t *need, const char **why)
{
	uint32_t len;
	uint64_t seq;

	if (memcmp(p, ev_store_rec_magic, avail < 4 ? avail : 4) != 0) {
		*why = "no record starts here (bad magic)";
		return ST_BAD;
	}
	if (avail < ST_REC_HDR) {
		*need = ST_REC_HDR;
		return ST_SHORT;
	}
	if (ev_crc32c(0, p, 28) != st_get32(p + 28)) {
		*why = "record header checksum mismatch";
		return ST_BAD;
	}
	len = st_get32(p + 4);
	seq = st_get64(p + 8);
	if (len == 0 || len > EV_STORE_LINE_MAX) {
		*why = "record length out of range";
		return ST_BAD;
	}
	if (seq == 0) {
		*why = "record with seq 0";
		return ST_BAD;
	}
	if (avail - ST_REC_HDR < len) {
		*need = ST_REC_HDR + (size_t)len;
		return ST_SHORT;
	}
	if (ev_crc32c(0, p + ST_REC_HDR, len) != st_get32(p + 24)) {
		*why = "line checksum mismatch";
		return ST_BAD;
	}
	if (p[ST_REC_HDR + len - 1] != '\n') {
		*why = "line does not end with a newline";
		return ST_BAD;
	}
	r->seq = seq;
	r->time = (int64_t)st_get64(p + 16);
	r->off = off;
	r->len = len;
	r->line = (const char *)p + ST_REC_HDR;
	return ST_OK;
}

void
ev_store_rec_header(unsigned char *hdr, uint64_t seq, int64_t time,
    const char *line, uint32_t len)
{
	memcpy(hdr, ev_store_rec_magic, 4);
	st_put32(hdr + 4, len);
	st_put64(hdr + 8, seq);
	st_put64(hdr + 16, (uint64_t)time);
	st_put32(hdr + 24, ev_crc32c(0, line, len));
	st_put32(hdr + 28, ev_crc32c(0, hdr, 28));
}

void
ev_store_seghdr_put(unsigned char *p, const struct st_seghdr *h)
{
	memset(p, 0, ST_SEG_HDR);
	memcpy(p, seg_magic, 8);
	st_put32(p + 8, ST_VERSION);
	st_put32(p + 12, h->every);
	st_put64(p + 16, h->base);
	st_put64(p + 24, (uint64_t)h->created);
	st_put32(p + 60, ev_crc32c(0, p, 60));
}

int
ev_store_seghdr_get(const unsigned char *p, struct st_seghdr *h,
    const char **why)
{
	if (memcmp(p, seg_magic, 8) != 0) {
		*why = "not a segment (bad magic)";
		return -1;
	}
	if (ev_crc32c(0, p, 60) != st_get32(p + 60)) {
		*why = "segment header checksum mismatch";
		return -1;
	}
	if (st_get32(p + 8) != ST_VERSION) {
		*why = "unknown segment version";
		return -1;
	}
	h->every = st_get32(p + 12);
	h->base = st_get64(p + 16);
	h->created = (int64_t)st_get64(p + 24);
	if (h->every < ST_EVERY_MIN || h->base == 0) {
		*why = "segment header out of range";
		return -1;
	}
	return 0;
}

void
ev_store_idxhdr_put(unsigned char *p, uint32_t every, uint64_t base)
{
	memset(p, 0, ST_IDX_HDR);
	memcpy(p, idx_magic, 8);
	st_put32(p + 8, ST_VERSION);
	st_put32(p + 12, every);
	st_put64(p + 16, base);
	st_put32(p + 28, ev_crc32c(0, p, 28));
}

int
ev_store_idxhdr_get(const unsigned char *p, uint32_t *every, uint64_t *base)
{
	if (memcmp(p, idx_magic, 8) != 0 ||
	    ev_crc32c(0, p, 28) != st_get32(p + 28) ||
	    st_get32(p + 8) != ST_VERSION)
		return -1;
	*every = st_get32(p + 12);
	*base = st_get64(p + 16);
	return 0;
}

void
ev_store_ient_put(unsigned char *p, const struct st_ient *e)
{
	st_put64(p, e->seq);
	st_put64(p + 8, e->off);
	st_put64(p + 16, e->ord);
	st_put64(p + 24, (uint64_t)e->tmax);
	st_put32(p + 32, e->kind);
	st_put32(p + 36, ev_crc32c(0, p, 36));
}

int
ev_store_ient_get(const unsigned char *p, struct st_ient *e)
{
	if (ev_crc32c(0, p, 36) != st_get32(p + 36))
		return -1;
	e->seq = st_get64(p);
	e->off = st_get64(p + 8);
	e->ord = st_get64(p + 16);
	e->tmax = (int64_t)st_get64(p + 24);
	e->kind = st_get32(p + 32);
	return e->kind == ST_KIND_ENTRY || e->kind == ST_KIND_TRAILER ?
	    0 : -1;
}

void
ev_store_ib_init(struct st_ib *b, uint32_t every)
{
	memset(b, 0, sizeof(*b));
	b->every = every;
	b->tmax = INT64_MIN;
}

bool
ev_store_ib_add(struct st_ib *b, const struct st_rec *r, struct st_ient *e)
{
	bool entry = !b->any || r->off - b->lastoff >= b->every;

	if (entry) {
		e->seq = r->seq;
		e->off = r->off;
		e->ord = b->ord;
		e->tmax = b->tmax;
		e->kind = ST_KIND_ENTRY;
		b->lastoff = r->off;
		b->any = true;
	}
	b->ord++;
	if (r->time > b->tmax)
		b->tmax = r->time;
	b->lastseq = r->seq;
	return entry;
}

void
ev_store_ib_trailer(const struct st_ib *b, uint64_t size, struct st_ient *e)
{
	e->seq = b->lastseq;
	e->off = size;
	e->ord = b->ord;
	e->tmax = b->tmax;
	e->kind = ST_KIND_TRAILER;
}

int
ev_store_index_push(struct st_index *ix, const struct st_ient *e)
{
	struct st_ient *ne;
	size_t ncap;

	if (ix->n == ix->cap) {
		ncap = ix->cap ? ix->cap * 2 : 64;
		if ((ne = reallocarray(ix->e, ncap, sizeof(*ne))) == NULL)
			return -1;
		ix->e = ne;
		ix->cap = ncap;
	}
	ix->e[ix->n++] = *e;
	return 0;
}

void
ev_store_index_free(struct st_index *ix)
{
	free(ix->e);
	memset(ix, 0, sizeof(*ix));
}

int
ev_store_index_bytes(const struct st_index *ix, uint32_t every, uint64_t base,
    struct ev_buf *b)
{
	unsigned char *p;
	size_t i, n = ix->n + (ix->sealed ? 1 : 0);

	if (ev_buf_reserve(b, ST_IDX_HDR + n * ST_IDX_ENT) == -1)
		return -1;
	p = (unsigned char *)b->data + b->len;
	ev_store_idxhdr_put(p, every, base);
	p += ST_IDX_HDR;
	for (i = 0; i < ix->n; i++, p += ST_IDX_ENT)
		ev_store_ient_put(p, &ix->e[i]);
	if (ix->sealed)
		ev_store_ient_put(p, &ix->trailer);
	b->len += ST_IDX_HDR + n * ST_IDX_ENT;
	b->data[b->len] = '\0';
	return 0;
}

/* --- plain I/O ------------------------------------------------------ */

/* pread(2) up to n bytes at off, looping on short reads: 0 with *got. */
static int
read_all(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
	char *p = buf;
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = pread(fd, p + *got, n - *got, (off_t)(off + *got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* pwrite(2) all n bytes at off; -1 with errno (some may be written). */
static int
write_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	ssize_t r;

	while (n > 0) {
		r = pwrite(fd, p, n, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* --- the cursor ----------------------------------------------------- */

void
ev_store_cur_init(struct st_cur *c, int fd, uint64_t off)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->off = off;
}

void
ev_store_cur_free(struct st_cur *c)
{
	free(c->buf);
	c->buf = NULL;
	c->cap = c->len = 0;
}

void
ev_store_cur_seek(struct st_cur *c, uint64_t off)
{
	c->off = off;
}

/*
 * Read from c->off on into the buffer, at least need bytes when the file
 * has them.  What the buffer held is dropped: bytes at the end of a file
 * that were an incomplete record may since have been cut and written
 * again, so they are never reused.  0, or -1 with err.
 */
static int
cur_fill(struct st_cur *c, size_t need, struct ev_err *err)
{
	size_t want, got;
	unsigned char *nb;

	/* Small files get a small buffer; one that fills it, ST_READ. */
	want = c->cap == 0 ? ST_READ / 16 : c->len == c->cap ? ST_READ :
	    c->cap;
	if (want < need)
		want = need;
	if (c->cap < want) {
		if ((nb = realloc(c->buf, want)) == NULL)
			return ev_err_sys(err, "read buffer");
		c->buf = nb;
		c->cap = want;
	}
	c->bufoff = c->off;
	c->len = 0;
	if (read_all(c->fd, c->buf, c->cap, c->off, &got) == -1)
		return ev_err_sys(err, "read");
	c->len = got;
	if (got < c->cap)
		c->eof = c->off + got;
	return 0;
}

enum st_res
ev_store_cur_next(struct st_cur *c, struct st_rec *r, const char **why,
    struct ev_err *err)
{
	enum st_res res;
	size_t have, need = ST_REC_HDR;
	bool filled = false;

	for (;;) {
		have = c->buf != NULL && c->off >= c->bufoff &&
		    c->off < c->bufoff + c->len ?
		    (size_t)(c->bufoff + c->len - c->off) : 0;
		if (have > 0) {
			res = ev_store_rec_parse(c->buf + (c->off - c->bufoff),
			    have, c->off, r, &need, why);
			if (res == ST_OK) {
				c->off += ST_RECSIZE(r->len);
				return ST_OK;
			}
			if (res == ST_BAD)
				return ST_BAD;
		}
		if (filled) {
			/* The file has no more: drop what may change. */
			c->len = (size_t)(c->off - c->bufoff);
			return have == 0 ? ST_END : ST_SHORT;
		}
		if (cur_fill(c, need, err) == -1)
			return ST_IOERR;
		filled = true;
	}
}

int
ev_store_resync(int fd, uint64_t from, uint64_t after, uint64_t *at,
    struct ev_err *err)
{
	struct st_cur c;
	struct st_rec r;
	struct stat sb;
	unsigned char *buf;
	const char *why;
	uint64_t pos = from + 1;
	size_t got, i, cap = ST_READ;
	int rv = 0;

	if (fstat(fd, &sb) == -1)
		return ev_err_sys(err, "stat");
	if ((uint64_t)sb.st_size < pos + cap)
		cap = (uint64_t)sb.st_size > pos ?
		    (size_t)((uint64_t)sb.st_size - pos) + 4 : 4;
	if ((buf = malloc(cap)) == NULL)
		return ev_err_sys(err, "read buffer");
	ev_store_cur_init(&c, fd, 0);
	for (;;) {
		if (read_all(fd, buf, cap, pos, &got) == -1) {
			rv = ev_err_sys(err, "read");
			break;
		}
		if (got < 4)
			break;
		for (i = 0; i + 4 <= got; i++) {
			if (buf[i] != ev_store_rec_magic[0] ||
			    memcmp(buf + i, ev_store_rec_magic, 4) != 0)
				continue;
			ev_store_cur_seek(&c, pos + i);
			switch (ev_store_cur_next(&c, &r, &why, err)) {
			case ST_OK:
				if (r.seq > after) {
					*at = pos + i;
					rv = 1;
					goto out;
				}
				break;
			case ST_IOERR:
				rv = -1;
				goto out;
			default:
				break;
			}
		}
		pos += got - 3;
	}
out:
	ev_store_cur_free(&c);
	free(buf);
	return rv;
}

/* --- indexes -------------------------------------------------------- */

int
ev_store_index_build(int fd, const char *path, uint32_t every, bool seal,
    struct st_index *ix, struct ev_err *err)
{
	struct st_cur c;
	struct st_rec r;
	struct st_ient e;
	struct st_ib b;
	const char *why = "";
	uint64_t prev = 0;
	int rv = -1;

	memset(ix, 0, sizeof(*ix));
	ev_store_ib_init(&b, every);
	ev_store_cur_init(&c, fd, ST_SEG_HDR);
	for (;;) {
		switch (ev_store_cur_next(&c, &r, &why, err)) {
		case ST_OK:
			if (r.seq <= prev) {
				ev_err_set(err, EV_ERR_DATA, "%s: offset %" PRIu64
				    ": seq %" PRIu64 " is not after %" PRIu64,
				    path, r.off, r.seq, prev);
				goto out;
			}
			prev = r.seq;
			if (ev_store_ib_add(&b, &r, &e) &&
			    ev_store_index_push(ix, &e) == -1) {
				ev_err_sys(err, "index");
				goto out;
			}
			continue;
		case ST_END:
			break;
		case ST_SHORT:
			/* The segment being appended to: its end is written. */
			if (!seal)
				break;
			ev_err_set(err, EV_ERR_DATA, "%s: offset %" PRIu64
			    ": incomplete record at the end", path, c.off);
			goto out;
		case ST_BAD:
			ev_err_set(err, EV_ERR_DATA, "%s: offset %" PRIu64 ": %s",
			    path, c.off, why);
			goto out;
		case ST_IOERR:
			goto out;
		}
		break;
	}
	if (seal) {
		ix->sealed = true;
		ev_store_ib_trailer(&b, c.off, &ix->trailer);
	}
	rv = 0;
out:
	ev_store_cur_free(&c);
	if (rv == -1)
		ev_store_index_free(ix);
	return rv;
}

int
ev_store_index_read(int dirfd, const char *name, uint32_t every,
    uint64_t base, struct st_index *ix, bool *complete, struct ev_err *err)
{
	struct stat sb;
	struct st_ient e, *prev;
	unsigned char *buf = NULL;
	uint32_t fevery;
	uint64_t fbase;
	size_t got, off;
	int fd, rv = -1;

	memset(ix, 0, sizeof(*ix));
	*complete = false;
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			ev_err_set(err, EV_ERR_SYS, "%s: no index", name);
			errno = ENOENT;
			return -1;
		}
		return ev_err_sys(err, "%s", name);
	}
	if (fstat(fd, &sb) == -1) {
		ev_err_sys(err, "%s", name);
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		ev_err_sys(err, "%s", name);
		goto out;
	}
	if (read_all(fd, buf, (size_t)sb.st_size, 0, &got) == -1) {
		ev_err_sys(err, "%s", name);
		goto out;
	}
	rv = 0;
	if (got < ST_IDX_HDR || ev_store_idxhdr_get(buf, &fevery,
	    &fbase) == -1 || fevery != every || fbase != base)
		goto out;
	for (off = ST_IDX_HDR; off + ST_IDX_ENT <= got; off += ST_IDX_ENT) {
		if (ix->sealed || ev_store_ient_get(buf + off, &e) == -1)
			goto out;
		prev = ix->n > 0 ? &ix->e[ix->n - 1] : NULL;
		if (e.kind == ST_KIND_TRAILER) {
			if ((prev != NULL && (e.seq < prev->seq ||
			    e.off <= prev->off || e.ord <= prev->ord ||
			    e.tmax < prev->tmax)) ||
			    (prev == NULL && (e.ord != 0 || e.seq != 0 ||
			    e.off != ST_SEG_HDR)))
				goto out;
			ix->sealed = true;
			ix->trailer = e;
			continue;
		}
		if (prev == NULL ? e.off != ST_SEG_HDR || e.ord != 0 ||
		    e.tmax != INT64_MIN :
		    e.seq <= prev->seq || e.off <= prev->off ||
		    e.ord <= prev->ord || e.tmax < prev->tmax)
			goto out;
		if (ev_store_index_push(ix, &e) == -1) {
			rv = ev_err_sys(err, "%s", name);
			ev_store_index_free(ix);
			goto out;
		}
	}
	*complete = off == got;
out:
	free(buf);
	close(fd);
	return rv;
}

int
ev_store_index_write(int dirfd, const char *name, const struct st_index *ix,
    uint32_t every, uint64_t base, struct ev_err *err)
{
	char tmp[ST_NAMELEN + 8];
	struct ev_buf b = { 0 };
	int fd, rv = -1;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	if (ev_store_index_bytes(ix, every, base, &b) == -1)
		return ev_err_sys(err, "%s", name);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0666)) == -1) {
		ev_err_sys(err, "%s", tmp);
		goto out;
	}
	if (write_all(fd, b.data, b.len, 0) == -1) {
		ev_err_sys(err, "%s", tmp);
		close(fd);
		unlinkat(dirfd, tmp, 0);
		goto out;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		ev_err_sys(err, "%s", name);
		unlinkat(dirfd, tmp, 0);
		goto out;
	}
	rv = 0;
out:
	ev_buf_free(&b);
	return rv;
}

/* --- the directory -------------------------------------------------- */

void
ev_store_name(char *buf, uint64_t base, const char *ext)
{
	snprintf(buf, ST_NAMELEN, "%020" PRIu64 ".%s", base, ext);
}

static int
base_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
ev_store_list(int dirfd, uint64_t **bases, size_t *n, struct ev_err *err)
{
	struct dirent *de;
	uint64_t *v = NULL, *nv, base;
	size_t cap = 0, k = 0, i;
	DIR *d;
	int fd;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return ev_err_sys(err, "list segments");
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 24 ||
		    strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		for (i = 0; i < 20 && de->d_name[i] >= '0' &&
		    de->d_name[i] <= '9'; i++)
			;
		if (i != 20 || ev_parse_u64(de->d_name, 20, UINT64_MAX,
		    &base) == -1 || base == 0)
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				free(v);
				closedir(d);
				return ev_err_sys(err, "list segments");
			}
			v = nv;
		}
		v[k++] = base;
	}
	if (errno != 0) {
		free(v);
		closedir(d);
		return ev_err_sys(err, "list segments");
	}
	closedir(d);
	if (k > 0)
		qsort(v, k, sizeof(*v), base_cmp);
	*bases = v;
	*n = k;
	return 0;
}

int
ev_store_dirsync(int dirfd, const char *dir, struct ev_err *err)
{
	if (fsync(dirfd) == -1 && errno != EINVAL)
		return ev_err_sys(err, "%s: fsync", dir);
	return 0;
}

int
ev_store_lock(int dirfd, const char *dir, int *fdp, struct ev_err *err)
{
	char pid[32];
	size_t got = 0;
	int fd, n;

	if ((fd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0666)) == -1)
		return ev_err_sys(err, "%s/lock", dir);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			ev_err_sys(err, "%s/lock", dir);
			close(fd);
			return -1;
		}
		if (read_all(fd, pid, sizeof(pid) - 1, 0, &got) == -1)
			got = 0;
		pid[got] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		ev_err_set(err, EV_ERR_TIMEOUT, "%s: in use by another writer "
		    "(pid %s); one writer at a time", dir,
		    pid[0] != '\0' ? pid : "unknown");
		close(fd);
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write_all(fd, pid, (size_t)n, 0) == -1) {
		ev_err_sys(err, "%s/lock", dir);
		close(fd);
		return -1;
	}
	*fdp = fd;
	return 0;
}

void
ev_store_untmp(int dirfd)
{
	struct dirent *de;
	size_t len;
	DIR *d;
	int fd;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len == 28 && strcmp(de->d_name + 24, ".tmp") == 0 &&
		    (strncmp(de->d_name + 20, ".seg", 4) == 0 ||
		    strncmp(de->d_name + 20, ".idx", 4) == 0))
			unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

int
ev_store_quarantine(int dirfd, const char *dir, int fd, const char *segname,
    uint64_t from, uint64_t to, char *qname, struct ev_err *err)
{
	char name[ST_NAMELEN * 2];
	unsigned char *buf;
	uint64_t off;
	size_t got, want;
	int qd, out = -1, k, rv = -1;

	if (mkdirat(dirfd, "quarantine", 0777) == -1 && errno != EEXIST)
		return ev_err_sys(err, "%s/quarantine", dir);
	if ((qd = openat(dirfd, "quarantine", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s/quarantine", dir);
	if ((buf = malloc(to - from < ST_READ ? (size_t)(to - from) + 1 :
	    ST_READ)) == NULL) {
		ev_err_sys(err, "quarantine");
		goto out;
	}
	for (k = 0; k < 1000 && out == -1; k++) {
		if (k == 0)
			snprintf(name, sizeof(name), "%s-%" PRIu64 ".bad",
			    segname, from);
		else
			snprintf(name, sizeof(name), "%s-%" PRIu64 ".%d.bad",
			    segname, from, k);
		out = openat(qd, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0666);
		if (out == -1 && errno != EEXIST) {
			ev_err_sys(err, "%s/quarantine/%s", dir, name);
			goto out;
		}
	}
	if (out == -1) {
		ev_err_sys(err, "%s/quarantine/%s", dir, name);
		goto out;
	}
	for (off = from; off < to; off += got) {
		want = to - off > ST_READ ? ST_READ : (size_t)(to - off);
		if (read_all(fd, buf, want, off, &got) == -1) {
			ev_err_sys(err, "%s/%s: read", dir, segname);
			goto out;
		}
		if (got == 0)
			break;
		if (write_all(out, buf, got, off - from) == -1) {
			ev_err_sys(err, "%s/quarantine/%s", dir, name);
			goto out;
		}
	}
	if (fsync(out) == -1) {
		ev_err_sys(err, "%s/quarantine/%s: fsync", dir, name);
		goto out;
	}
	if (ev_store_dirsync(qd, "quarantine", err) == -1 ||
	    ev_store_dirsync(dirfd, dir, err) == -1)
		goto out;
	if (qname != NULL)
		snprintf(qname, ST_NAMELEN * 2, "%s", name);
	rv = 0;
out:
	if (out != -1)
		close(out);
	close(qd);
	free(buf);
	return rv;
}

/* --- events --------------------------------------------------------- */

/*
 * Check an event as ev_event_prepare does, but let the bus's own names
 * (evbus.*) through, as ev_event_stamp does for the bus: a log keeps them
 * too.  *info as the check found it, with time now_ms when the event has
 * neither time nor timestamp.  The checked event is appended to scratch
 * when keep is set (as prepare or, for evbus.* names, stamp made it),
 * else scratch is left as it was.  0, or -1 with err.
 */
static int
event_validate(const char *line, size_t len, int64_t now_ms,
    struct ev_buf *scratch, struct ev_evinfo *info, bool keep,
    struct ev_err *err)
{
	struct ev_prepare prep = { .fill = true, .now_ms = now_ms };
	struct ev_origin nobody = { 0, 0, 0 };
	struct ev_stamp st = {
		.maxlen = SIZE_MAX, .seq = 1, .origin = &nobody,
		.now_ms = now_ms, .internal = true
	};
	size_t mark = ev_buf_unread(scratch);
	struct ev_err e;
	int r;

	r = ev_event_prepare(line, len, &prep, scratch, info, &e);
	if (r == -1 && e.kind == EV_ERR_DENIED)
		r = ev_event_stamp(line, len, &st, scratch, info, &e);
	if (r == -1 || !keep)
		ev_buf_truncate(scratch, mark);
	if (r == -1 && err != NULL)
		*err = e;
	return r;
}

/* Is the member's key exactly k[0..n) (escapes decoded)? */
static bool
key_is(const struct ev_jmember *m, const char *k, size_t n)
{
	struct ev_buf b = { 0 };
	bool yes;

	if (!m->key_escaped)
		return m->keylen == n && memcmp(m->key, k, n) == 0;
	if (m->keylen > 6 * n + 6 ||
	    ev_json_unescape(m->key, m->keylen, &b) == -1)
		return false;
	yes = b.len == n && memcmp(b.data, k, n) == 0;
	ev_buf_free(&b);
	return yes;
}

/* The members of the line being prepared: too large for the stack. */
static _Thread_local struct ev_jmember members[FIELDS_MAX];

int
ev_store_prepare(const char *line, size_t len, uint64_t last, int64_t now_ms,
    struct ev_buf *out, uint64_t *seqp, int64_t *timep, struct ev_err *err)
{
	static const char nopayload[] = "\"payload\":null}";
	const struct ev_jmember *ms = NULL, *mid = NULL, *mo = NULL;
	const struct ev_jmember *mt = NULL, *mp = NULL, *m;
	struct ev_evinfo info;
	size_t mark = ev_buf_unread(out), n, i, idlen, plen;
	uint64_t seq, hseq;
	int64_t v, time;
	const char *id, *p;
	char *q, *end;

	while (len > 0 && (line[0] == ' ' || line[0] == '\t' ||
	    line[0] == '\r'))
		line++, len--;
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
	    line[len - 1] == '\r'))
		len--;
	if (len + 1 > EV_STORE_LINE_MAX)
		return ev_err_set(err, EV_ERR_LIMIT, "event of %zu bytes is "
		    "longer than a record may be", len);
	/*
	 * Check it, keeping prepare's output for a look: with now_ms -1,
	 * info.time is -1 when the event has no time (nor timestamp), and
	 * the output ends "payload":null} when it had no payload (or a
	 * null one last: then the line is rebuilt, the same but slower).
	 */
	if (event_validate(line, len, -1, out, &info, true, err) == -1)
		return -1;
	p = ev_buf_head(out) + mark;
	plen = ev_buf_unread(out) - mark;
	time = info.time;
	if (time >= 0 && (plen < sizeof(nopayload) - 1 ||
	    memcmp(p + plen - (sizeof(nopayload) - 1), nopayload,
	    sizeof(nopayload) - 1) != 0) &&
	    ev_event_head(line, len, &hseq, &id, &idlen) == 0 && hseq > 0 &&
	    memchr(line, '\r', len) == NULL) {
		/* Already as the bus writes it: keep the bytes. */
		ev_buf_truncate(out, mark);
		if (hseq <= last)
			return ev_err_set(err, EV_ERR_DATA, "seq %" PRIu64
			    " is not after the log's last seq %" PRIu64,
			    hseq, last);
		if (ev_buf_append(out, line, len) == -1)
			return ev_err_sys(err, "event");
		*seqp = hseq;
		*timep = time;
		return 0;
	}
	ev_buf_truncate(out, mark);
	if (time < 0)
		time = now_ms;

	if (ev_json_scan_object(line, len, members, FIELDS_MAX, &n,
	    err) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		m = &members[i];
		if (key_is(m, "seq", 3))
			ms = m;
		else if (key_is(m, "id", 2))
			mid = m;
		else if (key_is(m, "origin", 6))
			mo = m;
		else if (key_is(m, "time", 4))
			mt = m;
		else if (key_is(m, "payload", 7))
			mp = m;
	}
	if (ms != NULL) {
		if (ms->type != EV_J_INTEGER ||
		    ev_json_int(ms->val, ms->vallen, &v) == -1 || v < 1)
			return ev_err_set(err, EV_ERR_DATA,
			    "seq: not a positive integer");
		seq = (uint64_t)v;
		if (seq <= last)
			return ev_err_set(err, EV_ERR_DATA, "seq %" PRIu64
			    " is not after the log's last seq %" PRIu64,
			    seq, last);
	} else {
		if (last == UINT64_MAX)
			return ev_err_set(err, EV_ERR_LIMIT, "no seq left");
		seq = last + 1;
	}

	if (ev_buf_append(out, "{\"seq\":", 7) == -1 ||
	    ev_buf_putu(out, seq) == -1 ||
	    ev_buf_append(out, ",\"id\":", 6) == -1)
		goto nomem;
	if (mid != NULL) {
		if (ev_buf_append(out, mid->val, mid->vallen) == -1)
			goto nomem;
	} else if (ev_buf_printf(out, "\"%s\"", info.id) == -1)
		goto nomem;
	if (mo != NULL && (ev_buf_append(out, ",\"origin\":", 10) == -1 ||
	    ev_buf_append(out, mo->val, mo->vallen) == -1))
		goto nomem;
	for (i = 0; i < n; i++) {
		m = &members[i];
		if (m == ms || m == mid || m == mo)
			continue;
		if (ev_buf_append(out, ",\"", 2) == -1 ||
		    ev_buf_append(out, m->key, m->keylen) == -1 ||
		    ev_buf_append(out, "\":", 2) == -1 ||
		    ev_buf_append(out, m->val, m->vallen) == -1)
			goto nomem;
	}
	if (mp == NULL && ev_buf_append(out, ",\"payload\":null", 15) == -1)
		goto nomem;
	if (mt == NULL && (ev_buf_append(out, ",\"time\":", 8) == -1 ||
	    ev_buf_printf(out, "%" PRId64, time) == -1))
		goto nomem;
	if (ev_buf_putc(out, '}') == -1)
		goto nomem;
	/* Whitespace inside values may hold a CR; a space does as well. */
	q = ev_buf_head(out) + mark;
	end = out->data + out->len;
	while ((q = memchr(q, '\r', (size_t)(end - q))) != NULL)
		*q++ = ' ';
	if (ev_buf_unread(out) - mark + 1 > EV_STORE_LINE_MAX) {
		ev_buf_truncate(out, mark);
		return ev_err_set(err, EV_ERR_LIMIT, "event of %zu bytes is "
		    "longer than a record may be", len);
	}
	*seqp = seq;
	*timep = time;
	return 0;
nomem:
	ev_buf_truncate(out, mark);
	return ev_err_sys(err, "event");
}

int
ev_store_event_name(const char *line, size_t len, char *buf, size_t *namelen)
{
	struct ev_buf b = { 0 };
	const struct ev_jmember *m;
	size_t n, i;
	int rv = -1;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (ev_json_scan_object(line, len, members, FIELDS_MAX, &n,
	    NULL) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		m = &members[i];
		if (m->type != EV_J_STRING || !key_is(m, "name", 4))
			continue;
		if (!m->val_escaped) {
			if (m->vallen - 2 > EV_NAME_MAX)
				return -1;
			memcpy(buf, m->val + 1, m->vallen - 2);
			buf[m->vallen - 2] = '\0';
			*namelen = m->vallen - 2;
			return 0;
		}
		if (ev_json_unescape(m->val + 1, m->vallen - 2, &b) == 0 &&
		    b.len <= EV_NAME_MAX) {
			memcpy(buf, b.data, b.len + 1);
			*namelen = b.len;
			rv = 0;
		}
		ev_buf_free(&b);
		return rv;
	}
	return -1;
}

int
ev_store_check_line(const char *line, size_t len, uint64_t seq, int64_t time,
    struct ev_err *err)
{
	struct ev_buf scratch = { 0 };
	struct ev_evinfo info;
	const char *id;
	size_t idlen;
	uint64_t hseq;
	int r;

	if (memchr(line, '\n', len) != NULL)
		return ev_err_set(err, EV_ERR_DATA, "line holds a newline");
	r = event_validate(line, len, -1, &scratch, &info, false, err);
	ev_buf_free(&scratch);
	if (r == -1)
		return -1;
	if (ev_event_head(line, len, &hseq, &id, &idlen) == -1 ||
	    hseq != seq)
		return ev_err_set(err, EV_ERR_DATA, "line does not start "
		    "{\"seq\":%" PRIu64 ",\"id\":", seq);
	if (info.time != time)
		return ev_err_set(err, EV_ERR_DATA, info.time < 0 ?
		    "line has no time" : "time in the line is not the "
		    "record's");
	return 0;
}

/* --- the writer ----------------------------------------------------- */

int
ev_store_sync_parse(const char *s, enum ev_store_sync *sync)
{
	if (strcmp(s, "batch") == 0)
		*sync = EV_STORE_SYNC_BATCH;
	else if (strcmp(s, "always") == 0)
		*sync = EV_STORE_SYNC_ALWAYS;
	else if (strcmp(s, "none") == 0)
		*sync = EV_STORE_SYNC_NONE;
	else
		return -1;
	return 0;
}

static void
note(const struct ev_store *st, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	if (st->o.note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	st->o.note(st->o.arg, text);
}

/*
 * The store cannot go on: keep the reason for every later call.  errno
 * is the cause.  Returns -1.
 */
static int
st_fail(struct ev_store *st, struct ev_err *err, const char *fmt, ...)
{
	char what[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	st->failed = true;
	ev_err_sys(&st->failerr, "%s", what);
	if (err != NULL)
		*err = st->failerr;
	return -1;
}

/*
 * Write out the buffered records, then the buffered index entries.  On a
 * failure, the segment is cut back to what was there before (a partial
 * record must not stay), and the store is failed.
 */
static int
st_write(struct ev_store *st, struct ev_err *err)
{
	int saved;

	if (ev_buf_unread(&st->wbuf) > 0) {
		if (write_all(st->segfd, ev_buf_head(&st->wbuf),
		    ev_buf_unread(&st->wbuf), st->written) == -1) {
			saved = errno;
			if (ftruncate(st->segfd, (off_t)st->written) == -1) {
				/* Then the next open cuts it. */
			}
			errno = saved;
			return st_fail(st, err, "%s/%s: write", st->dir,
			    st->segname);
		}
		st->written += ev_buf_unread(&st->wbuf);
		st->written_seq = st->last_seq;
		ev_buf_reset(&st->wbuf);
	}
	if (ev_buf_unread(&st->ibuf) > 0) {
		if (write_all(st->idxfd, ev_buf_head(&st->ibuf),
		    ev_buf_unread(&st->ibuf), st->idxsize) == -1)
			return st_fail(st, err, "%s/%s: write", st->dir,
			    st->idxname);
		st->idxsize += ev_buf_unread(&st->ibuf);
		ev_buf_reset(&st->ibuf);
	}
	return 0;
}

/*
 * The background fsync: one at a time, as the loop asks.  Under mu it
 * shares req, req_fd, req_seq, done, done_errno and stop with the loop;
 * busy belongs to the loop alone.
 */
static void *
st_syncer(void *arg)
{
	struct ev_store *st = arg;
	uint64_t one = 1;
	int fd, r, e;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (!st->req && !st->stop)
			pthread_cond_wait(&st->cv, &st->mu);
		if (!st->req)
			break;
		st->req = false;
		fd = st->req_fd;
		pthread_mutex_unlock(&st->mu);
		r = fdatasync(fd);
		e = errno;
		pthread_mutex_lock(&st->mu);
		st->done_errno = r == -1 ? e : 0;
		st->done = true;
		pthread_cond_broadcast(&st->cv);
		if (write(st->evfd, &one, sizeof(one)) == -1) {
			/* The counter is full: it is readable already. */
		}
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

/* Take the result of a finished background fsync, if there is one. */
static void
st_collect(struct ev_store *st)
{
	uint64_t v, seq = 0;
	bool done;
	int e = 0;

	if (!st->thread || !st->busy)
		return;
	if (read(st->evfd, &v, sizeof(v)) == -1) {
		/* EAGAIN: it was read already. */
	}
	pthread_mutex_lock(&st->mu);
	done = st->done;
	if (done) {
		st->done = false;
		e = st->done_errno;
		seq = st->req_seq;
	}
	pthread_mutex_unlock(&st->mu);
	if (!done)
		return;
	st->busy = false;
	if (st->failed)
		return;
	if (e != 0) {
		errno = e;
		st_fail(st, NULL, "%s/%s: fsync", st->dir, st->segname);
		return;
	}
	if (seq > st->durable_seq)
		st->durable_seq = seq;
}

/* Wait until no background fsync runs (the descriptors are ours again). */
static void
st_wait_idle(struct ev_store *st)
{
	if (!st->thread || !st->busy)
		return;
	pthread_mutex_lock(&st->mu);
	while (!st->done)
		pthread_cond_wait(&st->cv, &st->mu);
	pthread_mutex_unlock(&st->mu);
	st_collect(st);
}

/*
 * Create the segment base (and its index) and make it the one appended
 * to: header written, fsynced with the directory unless sync is none.
 */
static int
st_create(struct ev_store *st, uint64_t base, struct ev_err *err)
{
	unsigned char hdr[ST_SEG_HDR];
	struct st_seghdr h = { st->o.index_every, base, ev_now_ms() };
	bool dosync = st->o.sync != EV_STORE_SYNC_NONE;
	int fd, ifd;

	ev_store_name(st->segname, base, "seg");
	ev_store_name(st->idxname, base, "idx");
	if ((fd = openat(st->dirfd, st->segname, O_RDWR | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0666)) == -1)
		return st_fail(st, err, "%s/%s", st->dir, st->segname);
	ev_store_seghdr_put(hdr, &h);
	if (write_all(fd, hdr, sizeof(hdr), 0) == -1 ||
	    (dosync && fdatasync(fd) == -1)) {
		st_fail(st, err, "%s/%s: write", st->dir, st->segname);
		close(fd);
		return -1;
	}
	if ((ifd = openat(st->dirfd, st->idxname, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0666)) == -1) {
		st_fail(st, err, "%s/%s", st->dir, st->idxname);
		close(fd);
		return -1;
	}
	ev_store_idxhdr_put(hdr, h.every, base);
	if (write_all(ifd, hdr, ST_IDX_HDR, 0) == -1) {
		st_fail(st, err, "%s/%s: write", st->dir, st->idxname);
		close(fd);
		close(ifd);
		return -1;
	}
	if (dosync && fsync(st->dirfd) == -1 && errno != EINVAL) {
		st_fail(st, err, "%s: fsync", st->dir);
		close(fd);
		close(ifd);
		return -1;
	}
	st->segfd = fd;
	st->idxfd = ifd;
	st->base = base;
	st->every = h.every;
	st->size = st->written = ST_SEG_HDR;
	st->idxsize = ST_IDX_HDR;
	ev_store_ib_init(&st->ib, h.every);
	return 0;
}

int
ev_store_roll(struct ev_store *st, struct ev_err *err)
{
	unsigned char tr[ST_IDX_ENT];
	struct st_ient e;
	bool dosync = st->o.sync != EV_STORE_SYNC_NONE;

	if (st->failed) {
		if (err != NULL)
			*err = st->failerr;
		return -1;
	}
	if (st_write(st, err) == -1)
		return -1;
	st_wait_idle(st);
	if (st->failed) {
		if (err != NULL)
			*err = st->failerr;
		return -1;
	}
	if (dosync && fdatasync(st->segfd) == -1)
		return st_fail(st, err, "%s/%s: fsync", st->dir,
		    st->segname);
	st->durable_seq = st->covered = st->written_seq;
	st->npending = 0;
	ev_store_ib_trailer(&st->ib, st->size, &e);
	ev_store_ient_put(tr, &e);
	if (write_all(st->idxfd, tr, sizeof(tr), st->idxsize) == -1 ||
	    (dosync && fdatasync(st->idxfd) == -1))
		return st_fail(st, err, "%s/%s: write", st->dir,
		    st->idxname);
	close(st->segfd);
	close(st->idxfd);
	st->segfd = st->idxfd = -1;
	return st_create(st, st->last_seq + 1, err);
}

/*
 * An older segment: is its index whole (its trailer says the segment's
 * size)?  If not, rebuild it.  A segment that cannot be read through is
 * counted as damaged and left alone: appending does not need it.  -1 only
 * for an error that stops the open.
 */
static int
st_check_sealed(struct ev_store *st, uint64_t base,
    struct ev_store_recovery *rec, struct ev_err *err)
{
	char seg[ST_NAMELEN], idx[ST_NAMELEN], path[PATH_MAX];
	unsigned char hdr[ST_SEG_HDR];
	struct st_seghdr h;
	struct st_index ix;
	struct stat sb;
	struct ev_err e;
	const char *why;
	size_t got;
	bool complete;
	int fd, rv = 0;

	ev_store_name(seg, base, "seg");
	ev_store_name(idx, base, "idx");
	snprintf(path, sizeof(path), "%s/%s", st->dir, seg);
	if ((fd = openat(st->dirfd, seg, O_RDONLY | O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s", path);
	if (fstat(fd, &sb) == -1 ||
	    read_all(fd, hdr, sizeof(hdr), 0, &got) == -1) {
		rv = ev_err_sys(err, "%s", path);
		goto out;
	}
	if (got < sizeof(hdr) || ev_store_seghdr_get(hdr, &h, &why) == -1 ||
	    h.base != base) {
		rec->damaged++;
		note(st, "%s: damaged: %s; see evstore verify and evstore "
		    "repair", path, got < sizeof(hdr) ? "no whole header" :
		    h.base != base ? "base in the header is not the name's" :
		    why);
		goto out;
	}
	if (ev_store_index_read(st->dirfd, idx, h.every, base, &ix, &complete,
	    &e) == 0) {
		if (complete && ix.sealed &&
		    ix.trailer.off == (uint64_t)sb.st_size) {
			ev_store_index_free(&ix);
			goto out;
		}
		ev_store_index_free(&ix);
	} else if (errno != ENOENT) {
		rv = -1;
		if (err != NULL)
			*err = e;
		goto out;
	}
	if (ev_store_index_build(fd, path, h.every, true, &ix, &e) == -1) {
		if (e.kind != EV_ERR_DATA) {
			rv = -1;
			if (err != NULL)
				*err = e;
			goto out;
		}
		rec->damaged++;
		note(st, "%s; see evstore verify and evstore repair", e.msg);
		goto out;
	}
	rv = ev_store_index_write(st->dirfd, idx, &ix, h.every, base, err);
	ev_store_index_free(&ix);
	if (rv == 0) {
		rec->indexes++;
		note(st, "%s/%s: index rebuilt from its segment", st->dir,
		    idx);
	}
out:
	close(fd);
	return rv;
}

/*
 * The end of the segment is bad from cut on: cut it (saving the bytes in
 * quarantine unless they are only the start of a record), and say what
 * went.  res says what the cursor found at cut.
 */
static int
st_cut_tail(struct ev_store *st, struct st_cur *c, uint64_t cut,
    enum st_res res, const char *why, struct ev_store_recovery *rec,
    struct ev_err *err)
{
	char qname[ST_NAMELEN * 2] = "", seqs[96] = "";
	unsigned char hdr[ST_REC_HDR];
	struct stat sb;
	uint64_t off, first = 0, last = 0;
	size_t got;

	if (fstat(st->segfd, &sb) == -1)
		return ev_err_sys(err, "%s/%s", st->dir, st->segname);
	/* Which records were cut: the whole headers found in the tail. */
	for (off = cut; off + ST_REC_HDR <= (uint64_t)sb.st_size; ) {
		if (read_all(st->segfd, hdr, sizeof(hdr), off, &got) == -1)
			return ev_err_sys(err, "%s/%s", st->dir, st->segname);
		if (got < sizeof(hdr) ||
		    memcmp(hdr, ev_store_rec_magic, 4) != 0 ||
		    ev_crc32c(0, hdr, 28) != st_get32(hdr + 28))
			break;
		if (first == 0)
			first = st_get64(hdr + 8);
		last = st_get64(hdr + 8);
		off += ST_RECSIZE(st_get32(hdr + 4));
	}
	if (res == ST_BAD) {
		if (ev_store_quarantine(st->dirfd, st->dir, st->segfd,
		    st->segname, cut, (uint64_t)sb.st_size, qname, err) == -1)
			return -1;
		rec->quarantined = true;
	}
	if (ftruncate(st->segfd, (off_t)cut) == -1 ||
	    (st->o.sync != EV_STORE_SYNC_NONE && fdatasync(st->segfd) == -1))
		return ev_err_sys(err, "%s/%s: cut the torn tail", st->dir,
		    st->segname);
	(void)c;
	rec->cut_bytes = (uint64_t)sb.st_size - cut;
	rec->cut_offset = cut;
	rec->cut_first = first;
	rec->cut_last = last;
	if (first != 0 && first == last)
		snprintf(seqs, sizeof(seqs), "seq %" PRIu64, first);
	else if (first != 0)
		snprintf(seqs, sizeof(seqs), "seqs %" PRIu64 " to %" PRIu64,
		    first, last);
	else
		snprintf(seqs, sizeof(seqs), "no whole record header");
	note(st, "%s/%s: torn tail cut: %" PRIu64 " bytes at offset %" PRIu64
	    " (%s; %s)%s%s", st->dir, st->segname, rec->cut_bytes, cut, seqs,
	    res == ST_SHORT ? "an incomplete record" : why,
	    qname[0] != '\0' ? "; saved as quarantine/" : "", qname);
	return 0;
}

/*
 * Open the last segment for appending: check its header, find the last
 * index entry whose record is good, read on from there to the end, cut a
 * torn tail, refuse damage with valid records after it, and make the
 * index match.
 */
static int
st_open_last(struct ev_store *st, uint64_t base,
    struct ev_store_recovery *rec, struct ev_err *err)
{
	unsigned char hdr[ST_SEG_HDR];
	struct st_seghdr h;
	struct st_index ix = { 0 };
	struct st_ient e;
	struct st_cur c;
	struct st_rec r;
	struct stat sb;
	struct ev_buf want = { 0 }, have = { 0 };
	struct ev_err e2;
	enum st_res res;
	const char *why = "";
	uint64_t prev = 0, at, start = ST_SEG_HDR;
	size_t got, k;
	bool complete;
	int rv = -1, ifd;

	ev_store_cur_init(&c, -1, 0);
	ev_store_name(st->segname, base, "seg");
	ev_store_name(st->idxname, base, "idx");
	if ((st->segfd = openat(st->dirfd, st->segname, O_RDWR | O_CLOEXEC)) ==
	    -1)
		return ev_err_sys(err, "%s/%s", st->dir, st->segname);
	if (fstat(st->segfd, &sb) == -1 ||
	    read_all(st->segfd, hdr, sizeof(hdr), 0, &got) == -1) {
		ev_err_sys(err, "%s/%s", st->dir, st->segname);
		goto out;
	}
	if (got < sizeof(hdr) || ev_store_seghdr_get(hdr, &h, &why) == -1) {
		if ((uint64_t)sb.st_size > ST_SEG_HDR) {
			ev_err_set(err, EV_ERR_DATA, "%s/%s: bad segment "
			    "header (%s); see evstore repair", st->dir,
			    st->segname, got < sizeof(hdr) ? "too short" : why);
			goto out;
		}
		/* Being created when the last writer stopped: finish it. */
		h.every = ST_EVERY;
		h.base = base;
		h.created = ev_now_ms();
		ev_store_seghdr_put(hdr, &h);
		if (write_all(st->segfd, hdr, sizeof(hdr), 0) == -1 ||
		    ftruncate(st->segfd, ST_SEG_HDR) == -1 ||
		    fdatasync(st->segfd) == -1) {
			ev_err_sys(err, "%s/%s", st->dir, st->segname);
			goto out;
		}
		note(st, "%s/%s: header written (the segment was being "
		    "created)", st->dir, st->segname);
	} else if (h.base != base) {
		ev_err_set(err, EV_ERR_DATA, "%s/%s: the header's base %"
		    PRIu64 " is not the name's; see evstore repair", st->dir,
		    st->segname, h.base);
		goto out;
	}
	st->base = base;
	st->every = h.every;
	ev_store_ib_init(&st->ib, h.every);

	if (ev_store_index_read(st->dirfd, st->idxname, h.every, base, &ix,
	    &complete, &e2) == -1 && errno != ENOENT) {
		if (err != NULL)
			*err = e2;
		goto out;
	}
	/* The last entry whose record is there and good. */
	ev_store_cur_init(&c, st->segfd, ST_SEG_HDR);
	for (k = ix.n; k > 0; k--) {
		ev_store_cur_seek(&c, ix.e[k - 1].off);
		res = ev_store_cur_next(&c, &r, &why, err);
		if (res == ST_IOERR)
			goto out;
		if (res == ST_OK && r.seq == ix.e[k - 1].seq)
			break;
	}
	if (k > 0) {
		start = ix.e[k - 1].off;
		st->ib.ord = ix.e[k - 1].ord;
		st->ib.tmax = ix.e[k - 1].tmax;
		st->ib.any = k > 1;
		st->ib.lastoff = k > 1 ? ix.e[k - 2].off : 0;
		ix.n = k - 1;
	} else
		ix.n = 0;
	ix.sealed = false;

	ev_store_cur_seek(&c, start);
	for (;;) {
		res = ev_store_cur_next(&c, &r, &why, err);
		if (res == ST_OK && r.seq <= prev) {
			/* Whole, but not in order: bad from its start. */
			ev_store_cur_seek(&c, r.off);
			res = ST_BAD;
			why = "seq out of order";
		}
		if (res != ST_OK)
			break;
		prev = r.seq;
		if (ev_store_ib_add(&st->ib, &r, &e) &&
		    ev_store_index_push(&ix, &e) == -1) {
			ev_err_sys(err, "index");
			goto out;
		}
	}
	if (res == ST_IOERR)
		goto out;
	if (res == ST_BAD) {
		switch (ev_store_resync(st->segfd, c.off, prev, &at, err)) {
		case -1:
			goto out;
		case 1:
			ev_err_set(err, EV_ERR_DATA, "%s/%s: offset %" PRIu64
			    ": %s, and valid records follow at offset %"
			    PRIu64 ": the log is damaged; evstore repair "
			    "moves the bad bytes aside", st->dir, st->segname,
			    c.off, why, at);
			goto out;
		}
	}
	if (res != ST_END && st_cut_tail(st, &c, c.off, res, why, rec,
	    err) == -1)
		goto out;
	st->size = st->written = c.off;
	st->last_seq = prev != 0 ? prev : base - 1;
	st->written_seq = st->durable_seq = st->covered = st->last_seq;

	/* The index file must be the header and these entries. */
	if (ev_store_index_bytes(&ix, h.every, base, &want) == -1 ||
	    ev_buf_reserve(&have, want.len + 1) == -1) {
		ev_err_sys(err, "index");
		goto out;
	}
	ifd = openat(st->dirfd, st->idxname, O_RDONLY | O_CLOEXEC);
	got = 0;
	if (ifd != -1) {
		if (read_all(ifd, have.data, want.len + 1, 0, &got) == -1)
			got = 0;
		close(ifd);
	}
	if (got != want.len || memcmp(have.data, want.data, want.len) != 0) {
		if (ev_store_index_write(st->dirfd, st->idxname, &ix, h.every,
		    base, err) == -1)
			goto out;
		if (ifd != -1 || ix.n > 0) {
			rec->indexes++;
			note(st, "%s/%s: index rebuilt from its segment",
			    st->dir, st->idxname);
		}
	}
	if ((st->idxfd = openat(st->dirfd, st->idxname, O_RDWR |
	    O_CLOEXEC)) == -1) {
		ev_err_sys(err, "%s/%s", st->dir, st->idxname);
		goto out;
	}
	st->idxsize = want.len;
	rv = 0;
out:
	ev_store_cur_free(&c);
	ev_store_index_free(&ix);
	ev_buf_free(&want);
	ev_buf_free(&have);
	return rv;
}

int
ev_store_open(struct ev_store **stp, const char *dir,
    const struct ev_store_opts *o, struct ev_store_recovery *recp,
    struct ev_err *err)
{
	struct ev_store_recovery recdummy;
	struct ev_store_recovery *rec = recp != NULL ? recp : &recdummy;
	struct ev_store *st;
	sigset_t all, old;
	uint64_t *bases = NULL;
	size_t n = 0, i;
	int r;

	memset(rec, 0, sizeof(*rec));
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->dir = strdup(dir)) == NULL) {
		free(st);
		return ev_err_sys(err, "store");
	}
	st->dirfd = st->lockfd = st->segfd = st->idxfd = st->evfd = -1;
	if (o != NULL)
		st->o = *o;
	if (st->o.batch_ms <= 0)
		st->o.batch_ms = EV_STORE_BATCH_MS;
	if (st->o.batch_n == 0)
		st->o.batch_n = EV_STORE_BATCH_N;
	if (st->o.segment_bytes == 0)
		st->o.segment_bytes = EV_STORE_SEGMENT_DEFAULT;
	if (st->o.segment_bytes < EV_STORE_SEGMENT_MIN)
		st->o.segment_bytes = EV_STORE_SEGMENT_MIN;
	if (st->o.index_every == 0)
		st->o.index_every = ST_EVERY;
	if (st->o.index_every < ST_EVERY_MIN)
		st->o.index_every = ST_EVERY_MIN;

	if (mkdir(dir, 0777) == -1 && errno != EEXIST) {
		ev_err_sys(err, "%s", dir);
		goto fail;
	}
	if ((st->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		ev_err_sys(err, "%s", dir);
		goto fail;
	}
	if (ev_store_lock(st->dirfd, dir, &st->lockfd, err) == -1)
		goto fail;
	ev_store_untmp(st->dirfd);
	if (ev_store_list(st->dirfd, &bases, &n, err) == -1)
		goto fail;
	for (i = 0; i + 1 < n; i++)
		if (st_check_sealed(st, bases[i], rec, err) == -1)
			goto fail;
	if (n == 0) {
		if (st_create(st, 1, err) == -1)
			goto fail;
		st->last_seq = 0;
	} else if (st_open_last(st, bases[n - 1], rec, err) == -1)
		goto fail;
	free(bases);
	bases = NULL;

	if (st->o.background) {
		if ((st->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) ==
		    -1) {
			ev_err_sys(err, "eventfd");
			goto fail;
		}
		pthread_mutex_init(&st->mu, NULL);
		pthread_cond_init(&st->cv, NULL);
		/* Signals are the loop's: the thread takes none. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		r = pthread_create(&st->tid, NULL, st_syncer, st);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r != 0) {
			pthread_mutex_destroy(&st->mu);
			pthread_cond_destroy(&st->cv);
			errno = r;
			ev_err_sys(err, "fsync thread");
			goto fail;
		}
		st->thread = true;
	}
	*stp = st;
	return 0;
fail:
	free(bases);
	if (st->segfd != -1)
		close(st->segfd);
	if (st->idxfd != -1)
		close(st->idxfd);
	if (st->evfd != -1)
		close(st->evfd);
	if (st->lockfd != -1)
		close(st->lockfd);
	if (st->dirfd != -1)
		close(st->dirfd);
	free(st->dir);
	free(st);
	return -1;
}

int
ev_store_close(struct ev_store *st, struct ev_err *err)
{
	int rv = 0;

	if (st == NULL)
		return 0;
	if (st->failed) {
		if (err != NULL)
			*err = st->failerr;
		rv = -1;
	} else
		rv = ev_store_sync(st, err);
	if (st->thread) {
		pthread_mutex_lock(&st->mu);
		st->stop = true;
		pthread_cond_broadcast(&st->cv);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->tid, NULL);
		pthread_mutex_destroy(&st->mu);
		pthread_cond_destroy(&st->cv);
		close(st->evfd);
	}
	if (st->segfd != -1)
		close(st->segfd);
	if (st->idxfd != -1)
		close(st->idxfd);
	close(st->lockfd);
	close(st->dirfd);
	ev_buf_free(&st->wbuf);
	ev_buf_free(&st->ibuf);
	free(st->dir);
	free(st);
	return rv;
}

uint64_t
ev_store_last_seq(const struct ev_store *st)
{
	return st->last_seq;
}

uint64_t
ev_store_durable_seq(const struct ev_store *st)
{
	return st->durable_seq;
}

int
ev_store_append(struct ev_store *st, uint64_t seq, int64_t time,
    const char *json, size_t len, struct ev_err *err)
{
	unsigned char *hdr;
	struct st_rec r;
	struct st_ient e;
	const char *id;
	size_t idlen, rs;
	uint64_t hseq;

	if (st->failed) {
		if (err != NULL)
			*err = st->failerr;
		return -1;
	}
	if (seq <= st->last_seq)
		return ev_err_set(err, EV_ERR_DATA, "seq %" PRIu64 " is not "
		    "after the log's last seq %" PRIu64, seq, st->last_seq);
	if (len + 1 > EV_STORE_LINE_MAX)
		return ev_err_set(err, EV_ERR_LIMIT, "event of %zu bytes is "
		    "longer than a record may be", len);
	if (ev_event_head(json, len, &hseq, &id, &idlen) == -1 || hseq != seq)
		return ev_err_set(err, EV_ERR_DATA, "line does not start "
		    "{\"seq\":%" PRIu64 ",\"id\":", seq);
	if (memchr(json, '\n', len) != NULL)
		return ev_err_set(err, EV_ERR_DATA, "line holds a newline");
	rs = ST_REC_HDR + len + 1;
	if (st->ib.ord > 0 && st->size + rs > st->o.segment_bytes &&
	    ev_store_roll(st, err) == -1)
		return -1;
	if (ev_buf_reserve(&st->wbuf, rs) == -1 ||
	    ev_buf_reserve(&st->ibuf, ST_IDX_ENT) == -1)
		return ev_err_sys(err, "store buffer");
	hdr = (unsigned char *)st->wbuf.data + st->wbuf.len;
	memcpy(hdr + ST_REC_HDR, json, len);
	hdr[ST_REC_HDR + len] = '\n';
	ev_store_rec_header(hdr, seq, time, (const char *)hdr + ST_REC_HDR,
	    (uint32_t)(len + 1));
	st->wbuf.len += rs;
	st->wbuf.data[st->wbuf.len] = '\0';
	r.seq = seq;
	r.time = time;
	r.off = st->size;
	r.len = (uint32_t)(len + 1);
	if (ev_store_ib_add(&st->ib, &r, &e)) {
		ev_store_ient_put((unsigned char *)st->ibuf.data + st->ibuf.len,
		    &e);
		st->ibuf.len += ST_IDX_ENT;
		st->ibuf.data[st->ibuf.len] = '\0';
	}
	st->size += rs;
	st->last_seq = seq;
	if (st->npending++ == 0)
		st->pending_since = ev_mono_ms();
	if (ev_buf_unread(&st->wbuf) >= WBUF_FLUSH)
		return st_write(st, err);
	return 0;
}

int
ev_store_timeout(const struct ev_store *st, int64_t now_ms)
{
	int64_t t;

	if (st->failed)
		return 0;
	if (st->npending == 0 || st->busy)
		return -1;
	if (st->o.sync != EV_STORE_SYNC_BATCH ||
	    st->npending >= st->o.batch_n)
		return 0;
	t = st->pending_since + st->o.batch_ms - now_ms;
	return t <= 0 ? 0 : t > INT_MAX ? INT_MAX : (int)t;
}

int
ev_store_pollfd(const struct ev_store *st)
{
	return st->thread ? st->evfd : -1;
}

int
ev_store_flush(struct ev_store *st, int64_t now_ms, struct ev_err *err)
{
	st_collect(st);
	if (st->failed) {
		if (err != NULL)
			*err = st->failerr;
		return -1;
	}
	if (st->npending == 0)
		return ev_buf_unread(&st->wbuf) > 0 ? st_write(st, err) : 0;
	if (st->o.sync == EV_STORE_SYNC_BATCH &&
	    st->npending < st->o.batch_n &&
	    now_ms - st->pending_since < st->o.batch_ms)
		return 0;
	if (st->busy)
		return 0;	/* the next starts when this one is done */
	if (st_write(st, err) == -1)
		return -1;
	st->covered = st->written_seq;
	st->npending = 0;
	if (st->o.sync == EV_STORE_SYNC_NONE) {
		st->durable_seq = st->covered;
		return 0;
	}
	if (!st->thread) {
		if (fdatasync(st->segfd) == -1)
			return st_fail(st, err, "%s/%s: fsync", st->dir,
			    st->segname);
		st->durable_seq = st->covered;
		return 0;
	}
	pthread_mutex_lock(&st->mu);
	st->busy = true;
	st->req = true;
	st->req_fd = st->segfd;
	st->req_seq = st->covered;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

int
ev_store_sync(struct ev_store *st, struct ev_err *err)
{
	if (st->failed) {
		if (err != NULL)
			*err = st->failerr;
		return -1;
	}
	if (st_write(st, err) == -1)
		return -1;
	st_wait_idle(st);
	if (st->failed) {
		if (err != NULL)
			*err = st->failerr;
		return -1;
	}
	st->npending = 0;
	st->covered = st->written_seq;
	if (st->durable_seq < st->written_seq &&
	    st->o.sync != EV_STORE_SYNC_NONE && fdatasync(st->segfd) == -1)
		return st_fail(st, err, "%s/%s: fsync", st->dir, st->segname);
	st->durable_seq = st->written_seq;
	return 0;
}
