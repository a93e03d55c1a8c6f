/*
 * store.h: the on-disk format of evstore's log and the pieces that the
 * writer (store.c), the reader (store_read.c) and the walks over a whole
 * log (store_check.c) share; internal to libevbus.  evstore(1) documents
 * the format for users; this is the same, for the code.
 *
 * A log is a directory:
 *	lock			flock(2)ed by the one writer; holds its pid
 *	<base>.seg		a segment: header, then records
 *	<base>.idx		its sparse index, rebuilt from it when wrong
 *	quarantine/		bytes that repair or a torn tail moved aside
 * <base> is 20 decimal digits: a lower bound of the seqs in the segment,
 * greater than every seq in the segments before it.  All integers are
 * little-endian.
 *
 * Segment header, 64 bytes:
 *	0  "EVSTSEG1"	8 bytes
 *	8  version	u32, 1
 *	12 every	u32, bytes between index entries
 *	16 base		u64, as in the name
 *	24 created	i64, ms since the epoch
 *	32 zero		28 bytes
 *	60 crc		u32, CRC-32C of bytes 0..59
 *
 * Record, 32 bytes and the line:
 *	0  magic	E7 00 52 31 (a NUL never occurs in a valid line)
 *	4  len		u32, bytes of the line, its '\n' included
 *	8  seq		u64, > 0, greater than the record's before it
 *	16 time		i64, the event's time, ms since the epoch
 *	24 lcrc		u32, CRC-32C of the line
 *	28 hcrc		u32, CRC-32C of bytes 0..27
 *	32 line		the event's JSON and '\n'
 *
 * Index: a 32-byte header, then 40-byte entries; a sealed segment's ends
 * with a trailer entry.
 *	header: "EVSTIDX1", version u32, every u32, base u64, zero u32,
 *	    crc u32 of bytes 0..27
 *	entry: seq u64, offset u64, ordinal u64 (records before it in the
 *	    segment), tmax i64 (greatest time of those records, INT64_MIN
 *	    when none), kind u32 (0 entry, 1 trailer), crc u32 of 0..35
 *	trailer: the last seq (0: none), the segment's size, its number of
 *	    records, the greatest time of all of them.
 * The first record of a segment has an entry, and then each record that
 * starts at least "every" bytes after the last one that had an entry: the
 * index is a function of the segment's bytes, so a rebuilt index is the
 * same, byte for byte.
 */
#ifndef STORE_H
#define STORE_H

#include <sys/types.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "evbus.h"

#define ST_VERSION	1
#define ST_SEG_HDR	64
#define ST_REC_HDR	32
#define ST_IDX_HDR	32
#define ST_IDX_ENT	40
#define ST_EVERY	(64 * 1024)	/* index interval of new segments */
#define ST_EVERY_MIN	256
#define ST_NAMELEN	32		/* room for "<20 digits>.seg.tmp" */
#define ST_READ		(1024 * 1024)	/* bytes a sequential read */

#define ST_KIND_ENTRY	0
#define ST_KIND_TRAILER	1

extern const unsigned char ev_store_rec_magic[4];

static inline void
st_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline void
st_put64(unsigned char *p, uint64_t v)
{
	st_put32(p, (uint32_t)v);
	st_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t
st_get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
st_get64(const unsigned char *p)
{
	return (uint64_t)st_get32(p) | (uint64_t)st_get32(p + 4) << 32;
}

/* A record as parsed; line points into the caller's buffer. */
struct st_rec {
	uint64_t	 seq;
	int64_t		 time;
	uint64_t	 off;		/* of its header in the segment */
	uint32_t	 len;		/* of the line, '\n' included */
	const char	*line;
};

/* How a parse or a read ended. */
enum st_res {
	ST_OK,		/* a whole, valid record */
	ST_END,		/* the end of the file, at a record boundary */
	ST_SHORT,	/* the file ends inside what may be a record */
	ST_BAD,		/* not a valid record: why says how */
	ST_IOERR,	/* a read failed: err says how */
};

/* The size of a record holding a line of len bytes ('\n' included). */
#define ST_RECSIZE(len)	((uint64_t)ST_REC_HDR + (len))

/*
 * Parse the record at p[0..avail), found at offset off.  ST_OK with *r,
 * ST_SHORT when more bytes are needed (*need says how many in all, when
 * the header is whole) and those present are a possible start of a
 * record, ST_BAD with *why (a static string) otherwise.  Checks the magic,
 * the header's CRC, the length, the line's CRC and its final newline, and
 * that seq is not 0; not the order of seqs.  Cost: the two CRCs.
 */
enum st_res	ev_store_rec_parse(const unsigned char *p, size_t avail,
		    uint64_t off, struct st_rec *r, size_t *need,
		    const char **why);
/* Fill the 32-byte header for a line already in place after it. */
void		ev_store_rec_header(unsigned char *hdr, uint64_t seq,
		    int64_t time, const char *line, uint32_t len);

struct st_seghdr {
	uint32_t	 every;
	uint64_t	 base;
	int64_t		 created;
};

void		ev_store_seghdr_put(unsigned char *, const struct st_seghdr *);
/* 0, or -1 with *why when the 64 bytes are not a valid header. */
int		ev_store_seghdr_get(const unsigned char *, struct st_seghdr *,
		    const char **why);

struct st_ient {
	uint64_t	 seq;
	uint64_t	 off;
	uint64_t	 ord;
	int64_t		 tmax;
	uint32_t	 kind;
};

void		ev_store_idxhdr_put(unsigned char *, uint32_t every,
		    uint64_t base);
int		ev_store_idxhdr_get(const unsigned char *, uint32_t *every,
		    uint64_t *base);
void		ev_store_ient_put(unsigned char *, const struct st_ient *);
int		ev_store_ient_get(const unsigned char *, struct st_ient *);

/*
 * Building a segment's index as its records go by, in order: ib_add
 * accounts one record and returns true with *e when it gets an entry;
 * ib_trailer gives the trailer for a segment of size bytes.
 */
struct st_ib {
	uint32_t	 every;
	uint64_t	 ord;		/* records so far */
	int64_t		 tmax;		/* greatest time so far */
	uint64_t	 lastoff;	/* offset of the last entry's record */
	uint64_t	 lastseq;
	bool		 any;		/* an entry was made */
};

void		ev_store_ib_init(struct st_ib *, uint32_t every);
bool		ev_store_ib_add(struct st_ib *, const struct st_rec *,
		    struct st_ient *);
void		ev_store_ib_trailer(const struct st_ib *, uint64_t size,
		    struct st_ient *);

/* An index in memory: its entries, and the trailer when it has one. */
struct st_index {
	struct st_ient	*e;
	size_t		 n, cap;
	bool		 sealed;	/* trailer holds the trailer */
	struct st_ient	 trailer;
};

int		ev_store_index_push(struct st_index *, const struct st_ient *);
void		ev_store_index_free(struct st_index *);
/* The index file's bytes for ix (a trailer too when sealed). */
int		ev_store_index_bytes(const struct st_index *, uint32_t every,
		    uint64_t base, struct ev_buf *);

/*
 * Sequential reading of a segment file through a buffer, with pread(2):
 * the file may grow while it is read.  A record's line stays valid until
 * the next call.
 */
struct st_cur {
	int		 fd;
	unsigned char	*buf;
	size_t		 cap;
	uint64_t	 bufoff;	/* file offset of buf[0] */
	size_t		 len;		/* bytes in buf */
	uint64_t	 off;		/* offset of the next record */
	uint64_t	 eof;		/* file size the last read saw */
};

void		ev_store_cur_init(struct st_cur *, int fd, uint64_t off);
void		ev_store_cur_free(struct st_cur *);
/* Forget the buffer (the file may have changed under it) and go to off. */
void		ev_store_cur_seek(struct st_cur *, uint64_t off);
/*
 * The record at the cursor: ST_OK with *r (the cursor moves past it),
 * ST_END, ST_SHORT, ST_BAD with *why (the cursor stays), ST_IOERR with
 * err.  Cost: a read(2) per ST_READ bytes, the record's CRCs.
 */
enum st_res	ev_store_cur_next(struct st_cur *, struct st_rec *,
		    const char **why, struct ev_err *);
/*
 * The first offset after from (exclusive) at which a valid record with a
 * seq greater than after starts: 1 with *at, 0 when there is none before
 * the end of the file, -1 with err.  Cost: reads the rest of the file.
 */
int		ev_store_resync(int fd, uint64_t from, uint64_t after,
		    uint64_t *at, struct ev_err *);

/*
 * Rebuild the index of a whole segment file (every from its header) by
 * reading it: 0 with *ix (sealed, with the trailer, when seal is set),
 * or -1 with err EV_ERR_DATA naming the first bad offset (path names the
 * file in messages).  Without seal (the segment being appended to), an
 * incomplete record at the end ends it.  Cost: reads the segment.
 */
int		ev_store_index_build(int fd, const char *path, uint32_t every,
		    bool seal, struct st_index *ix, struct ev_err *);
/*
 * Read an index file: 0 with *ix holding its valid entries (from the
 * first one on, stopping at the first bad or out-of-order one) and the
 * trailer if one ends them; *complete says the file was exactly that
 * (nothing bad or extra in it).  -1 with errno ENOENT when there is no
 * file, or with err when it cannot be read; a bad header gives 0 entries
 * and *complete false.
 */
int		ev_store_index_read(int dirfd, const char *name,
		    uint32_t every, uint64_t base, struct st_index *ix,
		    bool *complete, struct ev_err *);
/* Write an index file through name.tmp and rename(2); no fsync. */
int		ev_store_index_write(int dirfd, const char *name,
		    const struct st_index *ix, uint32_t every, uint64_t base,
		    struct ev_err *);

/* "<base>.seg" and the like, into buf (ST_NAMELEN bytes). */
void		ev_store_name(char *buf, uint64_t base, const char *ext);
/*
 * The segments in dirfd, oldest first: 0 with *bases (the caller frees
 * it) and *n, or -1 with err.  Other names are ignored.
 */
int		ev_store_list(int dirfd, uint64_t **bases, size_t *n,
		    struct ev_err *);
/* fsync(2) a directory; -1 with err. */
int		ev_store_dirsync(int dirfd, const char *dir, struct ev_err *);

/*
 * The writer's lock on dir/lock: 0 with *fd (close it to release), or -1
 * with err EV_ERR_TIMEOUT naming the holder's pid, or EV_ERR_SYS.
 */
int		ev_store_lock(int dirfd, const char *dir, int *fd,
		    struct ev_err *);
/* Remove the *.tmp files a crash may have left. */
void		ev_store_untmp(int dirfd);
/*
 * Copy file bytes [from, to) of fd to dir/quarantine/<segname>-<from>.bad
 * and fsync it and the directory: 0 with the file's name in qname (may be
 * NULL; ST_NAMELEN * 2 bytes), or -1 with err.
 */
int		ev_store_quarantine(int dirfd, const char *dir, int fd,
		    const char *segname, uint64_t from, uint64_t to,
		    char *qname, struct ev_err *);

/*
 * Check a stored line as an event: valid (ev_event_prepare's rules, evbus.*
 * names allowed), its head {"seq":seq,"id":"...", and its "time" equal to
 * time.  0, or -1 with err EV_ERR_DATA.
 */
int		ev_store_check_line(const char *line, size_t len, uint64_t seq,
		    int64_t time, struct ev_err *);

/*
 * The writer (store.c).  Records are encoded into wbuf and written with
 * pwrite(2) at written; index entries go to ibuf, written after them.
 * covered is the last seq that a started fsync covers; npending counts
 * the records after it.  The background thread fsyncs req_fd when req is
 * set; busy stays set until it is done, and the loop may then touch the
 * descriptors again.
 */
struct ev_store {
	char		*dir;
	int		 dirfd;
	int		 lockfd;
	struct ev_store_opts o;

	uint64_t	 base;		/* the segment being appended to */
	uint32_t	 every;
	char		 segname[ST_NAMELEN];
	char		 idxname[ST_NAMELEN];
	int		 segfd;
	int		 idxfd;
	uint64_t	 size;		/* its size, buffered records included */
	uint64_t	 written;	/* bytes of it written */
	uint64_t	 idxsize;	/* bytes of its index written */
	struct st_ib	 ib;
	struct ev_buf	 wbuf;
	struct ev_buf	 ibuf;

	uint64_t	 last_seq;	/* appended */
	uint64_t	 written_seq;
	uint64_t	 covered;
	uint64_t	 durable_seq;
	size_t		 npending;
	int64_t		 pending_since;	/* ev_mono_ms of the first of them */
	bool		 failed;
	struct ev_err	 failerr;

	bool		 thread;
	pthread_t	 tid;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 evfd;
	bool		 busy;
	bool		 req;
	bool		 done;
	bool		 stop;
	int		 req_fd;
	uint64_t	 req_seq;
	int		 done_errno;
};

/*
 * Seal the segment being appended to and start a new, empty one whose
 * base is the last seq + 1 (the writer's own roll, also used by compact).
 * -1 with err (the store is then failed).
 */
int		ev_store_roll(struct ev_store *, struct ev_err *);

#endif /* STORE_H */
