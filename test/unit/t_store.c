/*
 * t_store.c: the durable log (lib/store*.c) against what it promises.
 *
 * CRC-32C against its check value and the instruction against the tables;
 * records: every truncation is incomplete, every bit flip is caught; the
 * writer and the reader over many small segments (every seq, time and
 * "last n" seek against a model, with and without a match); a torn tail
 * cut at every byte of the last records; damage in the middle refused by
 * the writer, found by verify, moved aside by repair; indexes lost or
 * garbled, then rebuilt byte for byte; the writer's lock; group commit
 * in the background thread; a reader following a writer across segment
 * rolls; retention by age and by size, seqs going on after it; lines
 * turned into stored events.  Last, every input in
 * test/fuzz/corpus/fuzz_store goes through the fuzz target's checks.
 *
 * T_STORE_SEED=n changes the random choices.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "store.h"
#include "tap.h"

#include "../fuzz/fuzz_store.c"

#define NEV	3000		/* events in the big log */

static uint64_t	rng = 88172645463325252ULL;
static char	tmpbase[256];

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static void
rm_rf(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh scratch directory name (not created) under tmpbase. */
static const char *
scratch(const char *name)
{
	static char path[16][512];
	static int k;
	char *p;

	if (k == 16)
		abort();
	p = path[k++];
	snprintf(p, 512, "%s/%s", tmpbase, name);
	rm_rf(p);
	return p;
}

static void
copy_dir(const char *from, const char *to)
{
	char cmd[2048];

	rm_rf(to);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", from, to);
	if (system(cmd) != 0)
		abort();
}

static int64_t
fsize(const char *dir, const char *name)
{
	char p[1024];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static int
slurp(const char *dir, const char *name, struct ev_buf *b)
{
	char p[1024], chunk[8192];
	ssize_t n;
	int fd;

	ev_buf_reset(b);
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fd = open(p, O_RDONLY)) == -1)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		ev_buf_append(b, chunk, (size_t)n);
	close(fd);
	return 0;
}

static void
put_file(const char *dir, const char *name, const struct ev_buf *b)
{
	char p[1024];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, b->data, b->len) != (ssize_t)b->len)
		abort();
	close(fd);
}

/* Flip one bit of a file at off. */
static void
flip(const char *dir, const char *name, uint64_t off, int bit)
{
	char p[1024];
	unsigned char c;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fd = open(p, O_RDWR)) == -1 ||
	    pread(fd, &c, 1, (off_t)off) != 1)
		abort();
	c ^= (unsigned char)(1 << bit);
	if (pwrite(fd, &c, 1, (off_t)off) != 1)
		abort();
	close(fd);
}

/* --- the model ------------------------------------------------------ */

struct mev {
	uint64_t	 seq;
	int64_t		 time;
	char		*line;		/* without the newline */
	size_t		 len;
};

static struct mev model[NEV + 16];
static size_t	nmodel;

/* A stamped line for seq at time, padded to about pad bytes. */
static size_t
mkline(char *buf, size_t cap, uint64_t seq, int64_t time, size_t pad,
    const char *name)
{
	char fill[2048];
	size_t i;

	if (pad >= sizeof(fill))
		pad = sizeof(fill) - 1;
	for (i = 0; i < pad; i++)
		fill[i] = (char)('a' + (seq + i) % 26);
	fill[pad] = '\0';
	return (size_t)snprintf(buf, cap, "{\"seq\":%" PRIu64 ",\"id\":\"id-%"
	    PRIu64 "\",\"origin\":{\"uid\":0,\"gid\":0,\"pid\":1},\"name\":"
	    "\"%s\",\"time\":%" PRId64 ",\"payload\":\"%s\"}", seq, seq, name,
	    time, fill);
}

/*
 * Append n events to the log in dir (segments of segbytes), seqs with
 * random gaps after last, times mostly growing but sometimes back, and
 * remember them in the model.
 */
static void
fill_log(const char *dir, size_t n, uint64_t segbytes)
{
	struct ev_store_opts o = {
		.sync = EV_STORE_SYNC_NONE, .segment_bytes = segbytes,
		.index_every = 512
	};
	struct ev_store *st;
	struct ev_err err;
	char line[4096];
	uint64_t seq;
	int64_t time = 1700000000000;
	size_t i, len;

	if (ev_store_open(&st, dir, &o, NULL, &err) == -1) {
		printf("# %s\n", err.msg);
		abort();
	}
	seq = ev_store_last_seq(st);
	for (i = 0; i < n; i++) {
		seq += 1 + (rnd() % 8 == 0 ? rnd() % 5 : 0);
		time += (int64_t)(rnd() % 1000);
		if (rnd() % 16 == 0)
			time -= 1500;
		len = mkline(line, sizeof(line), seq, time, rnd() % 300,
		    rnd() % 3 == 0 ? "a.b" : "c.d");
		if (ev_store_append(st, seq, time, line, len, &err) == -1) {
			printf("# %s\n", err.msg);
			abort();
		}
		model[nmodel].seq = seq;
		model[nmodel].time = time;
		model[nmodel].line = strndup(line, len);
		model[nmodel].len = len;
		nmodel++;
	}
	if (ev_store_close(st, &err) == -1)
		abort();
}

/*
 * Read the log from where r is; compare with model[from..] (to the end,
 * or max records).  Returns how many matched, all when ok.
 */
static size_t
read_cmp(struct ev_store_reader *r, size_t from, size_t max, int *end)
{
	struct ev_record rec;
	struct ev_err err;
	size_t i = from;

	while (i - from < max && (*end = ev_store_next(r, &rec, &err)) == 1) {
		if (i >= nmodel || rec.seq != model[i].seq ||
		    rec.time != model[i].time ||
		    rec.len != model[i].len + 1 ||
		    memcmp(rec.line, model[i].line, model[i].len) != 0 ||
		    rec.line[rec.len - 1] != '\n')
			break;
		i++;
	}
	if (i - from == max)
		*end = 0;
	return i - from;
}

/* --- the tests ------------------------------------------------------ */

static void
t_crc(void)
{
	unsigned char buf[4096];
	size_t i, off, len;
	int bad = 0;

	is_int(ev_crc32c(0, "123456789", 9), 0xE3069283u,
	    "CRC-32C of 123456789 is E3069283");
	is_int(ev_crc32c_soft(0, "123456789", 9), 0xE3069283u,
	    "the tables give the same");
	is_int(ev_crc32c(0, "", 0), 0, "CRC-32C of nothing is 0");
	memset(buf, 0, 32);
	is_int(ev_crc32c(0, buf, 32), 0x8A9136AAu,
	    "32 zero bytes (RFC 3720 B.4)");
	memset(buf, 0xff, 32);
	is_int(ev_crc32c(0, buf, 32), 0x62A8AB43u,
	    "32 0xFF bytes (RFC 3720 B.4)");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rnd();
	for (i = 0; i < 2000; i++) {
		off = rnd() % 64;
		len = rnd() % (sizeof(buf) - off);
		if (ev_crc32c(0, buf + off, len) !=
		    ev_crc32c_soft(0, buf + off, len) ||
		    ev_crc32c(ev_crc32c(0, buf + off, len / 3), buf + off +
		    len / 3, len - len / 3) != ev_crc32c(0, buf + off, len))
			bad++;
	}
	is_int(bad, 0, "instruction and tables agree, and CRCs chain, on "
	    "2000 random pieces");
}

static void
t_record(void)
{
	unsigned char rec[512];
	const char *line = "{\"seq\":7,\"id\":\"x\",\"name\":\"a\",\"time\":3,"
	    "\"payload\":null}\n";
	uint32_t len = (uint32_t)strlen(line);
	struct st_rec r;
	const char *why;
	size_t need, i, n = ST_REC_HDR + len;
	int bad = 0, b;

	memcpy(rec + ST_REC_HDR, line, len);
	ev_store_rec_header(rec, 7, 3, (const char *)rec + ST_REC_HDR, len);
	ok(ev_store_rec_parse(rec, n, 100, &r, &need, &why) == ST_OK &&
	    r.seq == 7 && r.time == 3 && r.len == len && r.off == 100 &&
	    memcmp(r.line, line, len) == 0, "a record parses back");
	for (i = 1; i < n; i++)
		if (ev_store_rec_parse(rec, i, 0, &r, &need, &why) != ST_SHORT)
			bad++;
	is_int(bad, 0, "every truncation of a record is incomplete");
	bad = 0;
	for (i = 0; i < n; i++)
		for (b = 0; b < 8; b++) {
			rec[i] ^= (unsigned char)(1 << b);
			if (ev_store_rec_parse(rec, n, 0, &r, &need, &why) ==
			    ST_OK)
				bad++;
			rec[i] ^= (unsigned char)(1 << b);
		}
	is_int(bad, 0, "every bit flipped in a record is caught");
	memset(rec, 0, sizeof(rec));
	ok(ev_store_rec_parse(rec, 64, 0, &r, &need, &why) == ST_BAD,
	    "zeros are not a record");
}

static bool
match_ab(void *arg, const struct ev_record *r)
{
	char name[EV_NAME_MAX + 1];
	size_t n;

	(void)arg;
	return ev_store_event_name(r->line, r->len, name, &n) == 0 &&
	    strcmp(name, "a.b") == 0;
}

static void
t_readwrite(const char *dir)
{
	struct ev_store_reader *r;
	struct ev_store_stats s;
	struct ev_err err;
	size_t i, k, bad, want, got;
	int end;
	uint64_t seq, nab;
	int64_t t, tmax;

	fill_log(dir, NEV / 2, 8192);
	fill_log(dir, NEV / 2, 8192);	/* a second writer goes on */
	ok(fsize(dir, "00000000000000000001.seg") > 0, "segments made");
	if (ev_store_reader_open(&r, dir, &err) == -1)
		abort();
	is_int(read_cmp(r, 0, SIZE_MAX, &end), nmodel,
	    "every event read back, in order, byte for byte");
	is_int(end, 0, "then the end");

	bad = 0;
	for (k = 0; k < 400; k++) {
		i = rnd() % nmodel;
		seq = model[i].seq - (rnd() % 2 ? 0 : 1);
		while (i > 0 && model[i - 1].seq >= seq)
			i--;
		if (ev_store_seek_seq(r, seq, &err) == -1 ||
		    read_cmp(r, i, 5, &end) != (nmodel - i < 5 ? nmodel - i :
		    5))
			bad++;
	}
	is_int(bad, 0, "seek by seq, 400 times, lands on the first seq at "
	    "or after it");
	ok(ev_store_seek_seq(r, model[nmodel - 1].seq + 1, &err) == 0 &&
	    read_cmp(r, nmodel, 1, &end) == 0 && end == 0,
	    "seek past the last seq: the end");

	bad = 0;
	for (k = 0; k < 300; k++) {
		i = rnd() % nmodel;
		t = model[i].time - (int64_t)(rnd() % 3);
		/* Where may the reader start?  Before the first time >= t. */
		for (want = 0; want < nmodel && model[want].time < t; want++)
			;
		if (ev_store_seek_time(r, t, &err) == -1) {
			bad++;
			continue;
		}
		/* It must start at or before want, after every t >= time. */
		{
			struct ev_record rec;

			if (ev_store_next(r, &rec, &err) != 1) {
				bad++;
				continue;
			}
			for (got = 0; got < nmodel &&
			    model[got].seq != rec.seq; got++)
				;
			tmax = INT64_MIN;
			for (i = 0; i < got; i++)
				if (model[i].time > tmax)
					tmax = model[i].time;
			if (got > want || tmax >= t)
				bad++;
		}
	}
	is_int(bad, 0, "seek by time, 300 times, starts where nothing "
	    "before is that late, at or before the first that is");

	bad = 0;
	for (k = 0; k < 60; k++) {
		uint64_t n = k < 10 ? k : rnd() % (nmodel + 20);

		if (ev_store_seek_last(r, n, NULL, NULL, &err) == -1) {
			bad++;
			continue;
		}
		want = n > nmodel ? nmodel : n;
		if (read_cmp(r, nmodel - want, SIZE_MAX, &end) != want ||
		    end != 0)
			bad++;
	}
	is_int(bad, 0, "the last n events, for 60 values of n");

	bad = 0;
	for (nab = 0, i = 0; i < nmodel; i++)
		nab += strstr(model[i].line, "\"a.b\"") != NULL;
	for (k = 0; k < 20; k++) {
		uint64_t n = rnd() % (nab + 5), seen = 0;
		struct ev_record rec;

		if (ev_store_seek_last(r, n, match_ab, NULL, &err) == -1) {
			bad++;
			continue;
		}
		while ((end = ev_store_next(r, &rec, &err)) == 1)
			seen += match_ab(NULL, &rec);
		if (seen != (n > nab ? nab : n))
			bad++;
	}
	is_int(bad, 0, "the last n matching events");
	ev_store_reader_close(r);

	if (ev_store_stats(dir, &s, &err) == -1)
		abort();
	ok(s.records == nmodel && s.first_seq == model[0].seq &&
	    s.last_seq == model[nmodel - 1].seq &&
	    s.first_time == model[0].time &&
	    s.last_time == model[nmodel - 1].time &&
	    s.next_seq == model[nmodel - 1].seq + 1 && s.segments > 10,
	    "stats count what was written (%" PRIu64 " segments)",
	    s.segments);
	{
		struct ev_store_walk w = { 0 };

		ok(ev_store_verify(dir, &w, &err) == 0 && w.errors == 0 &&
		    w.records == nmodel, "verify: a clean log");
	}
}

static void
t_torn(const char *dir)
{
	const char *d2 = scratch("torn");
	char seg[ST_NAMELEN], p[1024];
	struct ev_store_recovery rec;
	struct ev_store_opts o = { .sync = EV_STORE_SYNC_NONE };
	struct ev_store_reader *r;
	struct ev_store *st;
	struct ev_store_walk w = { 0 };
	struct ev_err err;
	uint64_t *bases, size, cut, end3[3], kept_end;
	size_t n, i, bad = 0, badv = 0, bado = 0, keep, tries = 0;
	int end, dirfd;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (ev_store_list(dirfd, &bases, &n, &err) == -1)
		abort();
	close(dirfd);
	ev_store_name(seg, bases[n - 1], "seg");
	size = (uint64_t)fsize(dir, seg);
	/* Where the last three records end (the last one: at size). */
	end3[0] = size;
	for (i = 1; i < 3; i++)
		end3[i] = end3[i - 1] - (ST_REC_HDR + model[nmodel - i].len +
		    1);
	free(bases);
	/* Cut at every byte of the last three records. */
	for (cut = end3[2] - (ST_REC_HDR + model[nmodel - 3].len + 1);
	    cut < size; cut++) {
		if (cut < ST_SEG_HDR)
			continue;
		tries++;
		copy_dir(dir, d2);
		snprintf(p, sizeof(p), "%s/%s", d2, seg);
		if (truncate(p, (off_t)cut) == -1)
			abort();
		keep = nmodel - 3;
		kept_end = end3[2] - (ST_REC_HDR + model[nmodel - 3].len + 1);
		for (i = 3; i > 0; i--)
			if (end3[i - 1] <= cut) {
				keep = nmodel - (i - 1);
				kept_end = end3[i - 1];
			}
		if (ev_store_reader_open(&r, d2, &err) == -1)
			abort();
		if (read_cmp(r, 0, SIZE_MAX, &end) != keep || end != 0)
			bad++;
		ev_store_reader_close(r);
		if (ev_store_verify(d2, &w, &err) == -1 || w.errors != 0)
			badv++;
		if (ev_store_open(&st, d2, &o, &rec, &err) == -1) {
			bado++;
			continue;
		}
		if (ev_store_last_seq(st) != model[keep - 1].seq ||
		    rec.cut_bytes != cut - kept_end ||
		    (rec.cut_bytes > 0 && rec.cut_offset != kept_end) ||
		    ev_store_close(st, &err) == -1 ||
		    (uint64_t)fsize(d2, seg) != kept_end)
			bado++;
		if (ev_store_verify(d2, &w, &err) == -1 || w.errors != 0)
			badv++;
		if (ev_store_reader_open(&r, d2, &err) == -1)
			abort();
		if (read_cmp(r, 0, SIZE_MAX, &end) != keep || end != 0)
			bad++;
		ev_store_reader_close(r);
	}
	ok(tries > 3 * ST_REC_HDR, "%zu cuts tried", tries);
	is_int(bad, 0, "a tail cut at any byte of the last 3 records: the "
	    "whole records before it read, before and after recovery");
	is_int(badv, 0, "verify finds no damage, only a torn tail");
	is_int(bado, 0, "the writer cuts the tail, reports its bytes and "
	    "offset, and goes on from the last whole record");
}

static void
t_damage(const char *dir)
{
	const char *d2 = scratch("damage");
	char seg[ST_NAMELEN], qpath[1024];
	struct ev_store_reader *r;
	struct ev_store *st;
	struct ev_store_walk w = { 0 };
	struct ev_store_opts o = { .sync = EV_STORE_SYNC_NONE };
	struct ev_err err;
	struct ev_buf q = { 0 }, orig = { 0 };
	uint64_t off;
	size_t k, bad = 0, seen;
	int end, b;

	/* A bit flipped in the middle of a record of the first segment. */
	ev_store_name(seg, 1, "seg");
	for (k = 0; k < 8; k++) {
		copy_dir(dir, d2);
		off = ST_SEG_HDR + rnd() % (uint64_t)(fsize(dir, seg) -
		    ST_SEG_HDR);
		b = (int)(rnd() % 8);
		flip(d2, seg, off, b);
		w.errors = 0;
		if (ev_store_verify(d2, &w, &err) == -1 || w.errors == 0)
			bad++;
		if (ev_store_reader_open(&r, d2, &err) == -1)
			abort();
		seen = read_cmp(r, 0, SIZE_MAX, &end);
		if (end != -1)
			bad++;
		ev_store_reader_close(r);
		if (ev_store_repair(d2, &w, &err) == -1 || w.removed != 1)
			bad++;
		if (ev_store_verify(d2, &w, &err) == -1 || w.errors != 0 ||
		    w.records != nmodel - 1)
			bad++;
		/* The bytes in quarantine are the damaged record's. */
		snprintf(qpath, sizeof(qpath), "quarantine");
		{
			DIR *qd;
			struct dirent *de;
			char qdir[1024];

			snprintf(qdir, sizeof(qdir), "%s/quarantine", d2);
			if ((qd = opendir(qdir)) == NULL) {
				bad++;
				continue;
			}
			while ((de = readdir(qd)) != NULL)
				if (de->d_name[0] != '.')
					snprintf(qpath, sizeof(qpath),
					    "quarantine/%s", de->d_name);
			closedir(qd);
		}
		slurp(d2, qpath, &q);
		slurp(dir, seg, &orig);
		/* It is the damaged record, one bit apart from the original. */
		{
			uint64_t o2 = ST_SEG_HDR;
			size_t j, diff = 0;

			for (j = 0; j < seen; j++)
				o2 += ST_REC_HDR + model[j].len + 1;
			if (q.len != ST_REC_HDR + model[seen].len + 1 ||
			    o2 + q.len > orig.len)
				bad++;
			else {
				for (j = 0; j < q.len; j++)
					diff += q.data[j] != orig.data[o2 + j];
				if (diff != 1 || off < o2 || off >= o2 + q.len)
					bad++;
			}
		}
		if (ev_store_open(&st, d2, &o, NULL, &err) == -1 ||
		    ev_store_close(st, &err) == -1)
			bad++;
	}
	is_int(bad, 0, "a bit flipped anywhere: verify and the reader find "
	    "it; repair moves exactly that record to quarantine and keeps "
	    "every other");

	/*
	 * The writer reads on from its last index entry: damage there with
	 * valid records after it is refused; damage in the last record is a
	 * torn tail, cut, and kept in quarantine.
	 */
	{
		const char *d3 = scratch("refuse");
		struct ev_store_recovery rec;
		uint64_t offs[6];
		char line[512];
		size_t len;

		if (ev_store_open(&st, d3, &o, NULL, &err) == -1)
			abort();
		for (k = 1; k <= 5; k++) {
			offs[k] = ST_SEG_HDR;
			len = mkline(line, sizeof(line), k, 1, 50, "c.d");
			if (k > 1)
				offs[k] = offs[k - 1] + ST_REC_HDR + len + 1;
			ev_store_append(st, k, 1, line, len, &err);
		}
		ev_store_close(st, &err);
		copy_dir(d3, d2);
		flip(d2, "00000000000000000001.seg", offs[3] + 40, 2);
		snprintf(qpath, sizeof(qpath), "offset %" PRIu64 ":", offs[3]);
		ok(ev_store_open(&st, d2, &o, NULL, &err) == -1 &&
		    err.kind == EV_ERR_DATA && strstr(err.msg, qpath) != NULL,
		    "the writer refuses damage in the middle, naming its "
		    "offset: %s", err.msg);
		copy_dir(d3, d2);
		flip(d2, "00000000000000000001.seg", offs[5] + 40, 2);
		ok(ev_store_open(&st, d2, &o, &rec, &err) == 0 &&
		    rec.cut_offset == offs[5] && rec.cut_first == 5 &&
		    rec.quarantined && ev_store_last_seq(st) == 4,
		    "a damaged last record is cut and kept in quarantine");
		ev_store_close(st, &err);
		snprintf(qpath, sizeof(qpath), "quarantine/"
		    "00000000000000000001.seg-%" PRIu64 ".bad", offs[5]);
		ok(fsize(d2, qpath) == (int64_t)(fsize(d3,
		    "00000000000000000001.seg") - (int64_t)offs[5]),
		    "%s holds its bytes", qpath);
	}
	ev_buf_free(&q);
	ev_buf_free(&orig);
}

static void
t_index(const char *dir)
{
	const char *d2 = scratch("index");
	char idx[ST_NAMELEN];
	struct ev_store_reader *r;
	struct ev_store *st;
	struct ev_store_walk w = { 0 };
	struct ev_store_recovery rec;
	struct ev_store_opts o = { .sync = EV_STORE_SYNC_NONE };
	struct ev_err err;
	struct ev_buf a = { 0 }, b = { 0 };
	size_t i;
	int end;

	ev_store_name(idx, 1, "idx");
	copy_dir(dir, d2);
	slurp(d2, idx, &a);
	{
		char p[1024];

		snprintf(p, sizeof(p), "%s/%s", d2, idx);
		unlink(p);
	}
	ok(ev_store_verify(d2, &w, &err) == 0 && w.errors == 1,
	    "verify reports a lost index");
	if (ev_store_reader_open(&r, d2, &err) == -1)
		abort();
	i = nmodel / 20;
	ok(ev_store_seek_seq(r, model[i].seq, &err) == 0 &&
	    read_cmp(r, i, 3, &end) == 3, "the reader seeks without it");
	ev_store_reader_close(r);
	ok(ev_store_open(&st, d2, &o, &rec, &err) == 0 && rec.indexes == 1 &&
	    ev_store_close(st, &err) == 0, "the writer rebuilds it");
	slurp(d2, idx, &b);
	ok(a.len > ST_IDX_HDR + 8 * ST_IDX_ENT && a.len == b.len &&
	    memcmp(a.data, b.data, a.len) == 0, "byte for byte (%zu bytes)",
	    a.len);

	/* Garbled: one byte changed in an entry, then the trailer cut. */
	b.data[ST_IDX_HDR + ST_IDX_ENT + 9] ^= 0x10;
	put_file(d2, idx, &b);
	ok(ev_store_verify(d2, &w, &err) == 0 && w.errors == 1,
	    "verify reports a garbled index");
	if (ev_store_reader_open(&r, d2, &err) == -1)
		abort();
	i = 3;
	ok(ev_store_seek_seq(r, model[i].seq, &err) == 0 &&
	    read_cmp(r, i, 3, &end) == 3, "the reader seeks past it");
	ev_store_reader_close(r);
	ok(ev_store_repair(d2, &w, &err) == 0, "repair");
	slurp(d2, idx, &b);
	ok(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
	    "rebuilds it byte for byte");
	b.len -= ST_IDX_ENT;
	put_file(d2, idx, &b);
	ok(ev_store_verify(d2, &w, &err) == 0 && w.errors == 1,
	    "an index without its trailer is reported");
	ok(ev_store_open(&st, d2, &o, &rec, &err) == 0 && rec.indexes == 1 &&
	    ev_store_close(st, &err) == 0, "and rebuilt by the writer");
	slurp(d2, idx, &b);
	ok(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
	    "byte for byte");
	ev_buf_free(&a);
	ev_buf_free(&b);
}

static void
t_lock(void)
{
	const char *d = scratch("lock");
	struct ev_store *st, *st2;
	struct ev_err err;
	char pid[32];

	if (ev_store_open(&st, d, NULL, NULL, &err) == -1)
		abort();
	snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
	ok(ev_store_open(&st2, d, NULL, NULL, &err) == -1 &&
	    err.kind == EV_ERR_TIMEOUT && strstr(err.msg, pid) != NULL,
	    "a second writer is refused at once: %s", err.msg);
	ok(ev_store_repair(d, &(struct ev_store_walk){ 0 }, &err) == -1 &&
	    err.kind == EV_ERR_TIMEOUT, "so is repair");
	ev_store_close(st, &err);
	ok(ev_store_open(&st2, d, NULL, NULL, &err) == 0, "after close, "
	    "the next one opens");
	ev_store_close(st2, &err);
}

static void
t_commit(void)
{
	const char *d = scratch("commit");
	struct ev_store_opts o = { .background = true, .batch_ms = 20 };
	struct ev_store *st;
	struct ev_err err;
	struct pollfd pfd;
	char line[512];
	size_t len;
	uint64_t s;
	int64_t t0;
	int bad = 0, waits = 0, r;

	if (ev_store_open(&st, d, &o, NULL, &err) == -1)
		abort();
	ok(ev_store_pollfd(st) >= 0 && ev_store_timeout(st, ev_mono_ms()) ==
	    -1, "a descriptor to poll, nothing due");
	for (s = 1; s <= 10; s++) {
		len = mkline(line, sizeof(line), s, 5, 10, "c.d");
		if (ev_store_append(st, s, 5, line, len, &err) == -1)
			abort();
	}
	ok(ev_store_durable_seq(st) == 0, "appended is not durable");
	r = ev_store_timeout(st, ev_mono_ms());
	ok(r > 0 && r <= 20, "the batch is due within 20 ms (%d)", r);
	ok(ev_store_flush(st, ev_mono_ms(), &err) == 0 &&
	    ev_store_durable_seq(st) == 0, "not flushed before it is due");
	t0 = ev_mono_ms();
	while (ev_store_durable_seq(st) < 10 && ev_mono_ms() - t0 < 5000) {
		pfd.fd = ev_store_pollfd(st);
		pfd.events = POLLIN;
		r = ev_store_timeout(st, ev_mono_ms());
		poll(&pfd, 1, r);
		waits++;
		if (ev_store_flush(st, ev_mono_ms(), &err) == -1)
			bad++;
	}
	ok(bad == 0 && ev_store_durable_seq(st) == 10 &&
	    ev_mono_ms() - t0 >= 10, "durable after the group commit, in "
	    "the background (%d waits)", waits);
	/* batch_n: due at once. */
	for (s = 11; s <= 11 + EV_STORE_BATCH_N; s++) {
		len = mkline(line, sizeof(line), s, 5, 10, "c.d");
		if (ev_store_append(st, s, 5, line, len, &err) == -1)
			abort();
	}
	ok(ev_store_timeout(st, ev_mono_ms()) == 0, "%d records: due now",
	    EV_STORE_BATCH_N);
	ok(ev_store_sync(st, &err) == 0 && ev_store_durable_seq(st) == s - 1,
	    "sync makes all durable");
	ok(ev_store_append(st, 3, 5, line, len, &err) == -1 &&
	    err.kind == EV_ERR_DATA, "a seq not after the last is refused");
	len = mkline(line, sizeof(line), s + 5, 5, 10, "c.d");
	ok(ev_store_append(st, s + 4, 5, line, len, &err) == -1 &&
	    err.kind == EV_ERR_DATA, "a line whose seq is not the record's "
	    "is refused");
	ok(ev_store_close(st, &err) == 0, "close");
}

static void
t_follow(void)
{
	const char *d = scratch("follow");
	struct ev_store_opts o = {
		.sync = EV_STORE_SYNC_NONE, .segment_bytes = 4096
	};
	struct ev_store *st;
	struct ev_store_reader *r;
	struct ev_record rec;
	struct ev_err err;
	char line[512];
	size_t len;
	uint64_t s, next = 1;
	int bad = 0, k;

	if (ev_store_open(&st, d, &o, NULL, &err) == -1 ||
	    ev_store_reader_open(&r, d, &err) == -1)
		abort();
	ok(ev_store_reader_fd(r, &err) >= 0, "inotify for following");
	for (s = 1; s <= 400; s++) {
		len = mkline(line, sizeof(line), s, (int64_t)s, rnd() % 200,
		    "c.d");
		if (ev_store_append(st, s, (int64_t)s, line, len, &err) == -1)
			abort();
		if (rnd() % 3 == 0 && ev_store_flush(st, 0, &err) == -1)
			abort();
		while ((k = ev_store_next(r, &rec, &err)) == 1)
			if (rec.seq != next++)
				bad++;
		if (k == -1) {
			printf("# %s\n", err.msg);
			bad++;
			break;
		}
	}
	ev_store_sync(st, &err);
	while ((k = ev_store_next(r, &rec, &err)) == 1)
		if (rec.seq != next++)
			bad++;
	ok(bad == 0 && next == 401 && k == 0, "a reader beside the writer "
	    "sees every record once, in order, across segment rolls");
	ev_store_reader_close(r);
	ev_store_close(st, &err);
}

static void
t_compact(void)
{
	const char *d = scratch("compact");
	struct ev_store_opts o = {
		.sync = EV_STORE_SYNC_NONE, .segment_bytes = 4096
	};
	struct ev_store *st;
	struct ev_store_reader *r;
	struct ev_store_walk w = { 0 };
	struct ev_record rec;
	struct ev_err err;
	struct ev_store_stats sx;
	char line[512];
	size_t len;
	uint64_t s, first;
	int k;

	if (ev_store_open(&st, d, &o, NULL, &err) == -1)
		abort();
	for (s = 1; s <= 300; s++) {
		len = mkline(line, sizeof(line), s, (int64_t)s * 1000, 100,
		    "c.d");
		ev_store_append(st, s, (int64_t)s * 1000, line, len, &err);
	}
	/* Keep the events of the last 100 s (at "now" 300 s). */
	k = ev_store_compact(st, 100 * 1000 - 1, 0, 300 * 1000, &w, &err);
	ok(k == 0 && w.removed == 200 && w.removed_first == 1 &&
	    w.removed_last == 200, "by age: the 200 oldest go (%" PRIu64
	    ")", w.removed);
	if (ev_store_reader_open(&r, d, &err) == -1)
		abort();
	ok(ev_store_next(r, &rec, &err) == 1 && rec.seq == 201,
	    "the oldest left is 201");
	k = ev_store_compact(st, -1, 5000, 0, &w, &err);
	ok(k == 0 && ev_store_stats(d, &sx, &err) == 0 && sx.bytes <= 5000 &&
	    sx.bytes > 4000 - 400 && sx.last_seq == 300 && sx.records > 0,
	    "by size: at most 5000 bytes left (%" PRIu64 "), the newest kept",
	    sx.bytes);
	first = sx.first_seq;
	ok(ev_store_seek_seq(r, 1, &err) == 0 &&
	    ev_store_next(r, &rec, &err) == 1 && rec.seq == first,
	    "a reader starts at the oldest left (%" PRIu64 ")", first);
	ok(ev_store_compact(st, 0, 0, 10000 * 1000, &w, &err) == 0 &&
	    ev_store_stats(d, &sx, &err) == 0 && sx.records == 0 &&
	    sx.next_seq == 301, "all gone: the next seq is still 301");
	len = mkline(line, sizeof(line), 301, 1, 10, "c.d");
	ok(ev_store_append(st, 300, 1, line, len, &err) == -1 &&
	    ev_store_append(st, 301, 1, line, len, &err) == 0 &&
	    ev_store_sync(st, &err) == 0, "and 300 may not come again");
	while ((k = ev_store_next(r, &rec, &err)) == 1 && rec.seq != 301)
		;
	ok(k == 1 && rec.seq == 301, "the reader follows past the "
	    "compaction to 301");
	ev_store_reader_close(r);
	ok(ev_store_verify(d, &w, &err) == 0 && w.errors == 0,
	    "verify: clean");
	ev_store_close(st, &err);
}

/*
 * What a crash in the middle of a rewrite (compact, repair) can leave: a
 * new segment not yet renamed (NAME.tmp), or renamed with the old index
 * beside it.  Both open as the log they were.
 */
static void
t_rewrite_crash(void)
{
	const char *d = scratch("rewrite");
	struct ev_store_opts o = {
		.sync = EV_STORE_SYNC_NONE, .segment_bytes = 4096,
		.index_every = 256
	};
	struct ev_store *st;
	struct ev_store_recovery rec;
	struct ev_store_reader *r;
	struct ev_store_walk w = { 0 };
	struct ev_record x;
	struct ev_buf b = { 0 }, idx = { 0 };
	struct ev_err err;
	char line[512], p[1024];
	size_t len;
	uint64_t s, cut;
	int k;

	if (ev_store_open(&st, d, &o, NULL, &err) == -1)
		abort();
	for (s = 1; s <= 60; s++) {
		len = mkline(line, sizeof(line), s, (int64_t)s, 60, "c.d");
		ev_store_append(st, s, (int64_t)s, line, len, &err);
	}
	ev_store_close(st, &err);
	/* A crash before the rename: the .tmp is garbage to the log. */
	ev_buf_append(&b, "half a segment", 14);
	put_file(d, "00000000000000000001.seg.tmp", &b);
	put_file(d, "00000000000000000001.idx.tmp", &b);
	ok(ev_store_open(&st, d, &o, NULL, &err) == 0 &&
	    ev_store_close(st, &err) == 0 &&
	    fsize(d, "00000000000000000001.seg.tmp") == -1 &&
	    fsize(d, "00000000000000000001.idx.tmp") == -1,
	    "a crash before the rename: the writer removes the .tmp files");
	/* A crash after the rename, before the index: cut the first
	   segment's first record out as compact does, keep the old index. */
	slurp(d, "00000000000000000001.seg", &b);
	slurp(d, "00000000000000000001.idx", &idx);
	cut = ST_SEG_HDR + ST_REC_HDR + st_get32((unsigned char *)b.data +
	    ST_SEG_HDR + 4);
	memmove(b.data + ST_SEG_HDR, b.data + cut, b.len - cut);
	b.len -= cut - ST_SEG_HDR;
	put_file(d, "00000000000000000001.seg", &b);
	if (ev_store_reader_open(&r, d, &err) == -1)
		abort();
	ok(ev_store_seek_seq(r, 5, &err) == 0 &&
	    ev_store_next(r, &x, &err) == 1 && x.seq == 5,
	    "the reader seeks right past the old index");
	ev_store_reader_close(r);
	ok(ev_store_verify(d, &w, &err) == 0 && w.errors == 1,
	    "verify reports the old index");
	ok(ev_store_open(&st, d, &o, &rec, &err) == 0 && rec.indexes == 1 &&
	    ev_store_close(st, &err) == 0, "the writer rebuilds it");
	ok(ev_store_verify(d, &w, &err) == 0 && w.errors == 0 &&
	    w.first_seq == 2 && w.last_seq == 60, "and the log is 2 to 60");
	snprintf(p, sizeof(p), "%s", d);
	if (ev_store_reader_open(&r, p, &err) == -1)
		abort();
	for (s = 2; (k = ev_store_next(r, &x, &err)) == 1 && x.seq == s; s++)
		;
	ok(k == 0 && s == 61, "every event from 2 on reads");
	ev_store_reader_close(r);
	ev_buf_free(&b);
	ev_buf_free(&idx);
}

static void
t_prepare(void)
{
	static const struct {
		const char	*in;
		uint64_t	 last;
		const char	*out;	/* NULL: refused */
	} cases[] = {
		{ "{\"seq\":5,\"id\":\"x\",\"name\":\"a\",\"time\":9,"
		  "\"payload\":1}", 4,
		  "{\"seq\":5,\"id\":\"x\",\"name\":\"a\",\"time\":9,"
		  "\"payload\":1}" },
		{ "{\"seq\":5,\"id\":\"x\",\"name\":\"a\",\"time\":9,"
		  "\"payload\":1}", 5, NULL },
		{ "  {\"seq\":5, \"id\":\"x\",\"name\":\"a\",\"time\":9,"
		  "\"payload\":1}\r", 0,
		  "{\"seq\":5,\"id\":\"x\",\"name\":\"a\",\"time\":9,"
		  "\"payload\":1}" },
		{ "{\"name\":\"a\",\"id\":\"y\",\"origin\":{\"uid\":3},"
		  "\"time\":7}", 10,
		  "{\"seq\":11,\"id\":\"y\",\"origin\":{\"uid\":3},"
		  "\"name\":\"a\",\"time\":7,\"payload\":null}" },
		{ "{\"name\":\"evbus.started\",\"id\":\"z\",\"time\":7,"
		  "\"payload\":null}", 0,
		  "{\"seq\":1,\"id\":\"z\",\"name\":\"evbus.started\","
		  "\"time\":7,\"payload\":null}" },
		{ "{\"n\\u0061me\":\"a\",\"id\":\"q\",\"s\\u0065q\":8,"
		  "\"time\":1,\"payload\":2}", 0,
		  "{\"seq\":8,\"id\":\"q\",\"n\\u0061me\":\"a\",\"time\":1,"
		  "\"payload\":2}" },
		{ "{\"name\":\"a\",\"seq\":0}", 0, NULL },
		{ "{\"name\":\"a\",\"seq\":\"3\"}", 0, NULL },
		{ "{\"name\":\"a\",\"seq\":-3}", 0, NULL },
		{ "{\"name\":\"a.*\"}", 0, NULL },
		{ "[1]", 0, NULL },
		{ "{\"name\":\"a\"", 0, NULL },
		{ "{\"name\":\"a\",\"name\":\"b\"}", 0, NULL },
	};
	struct ev_buf b = { 0 };
	struct ev_err err;
	uint64_t seq;
	int64_t time;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ev_buf_reset(&b);
		r = ev_store_prepare(cases[i].in, strlen(cases[i].in),
		    cases[i].last, 1234, &b, &seq, &time, &err);
		if (cases[i].out == NULL)
			ok(r == -1 && err.kind != EV_ERR_SYS && b.len == 0,
			    "prepare refuses %s: %s", cases[i].in, err.msg);
		else
			is_str(r == 0 ? ev_buf_head(&b) : err.msg,
			    cases[i].out, "prepare %s", cases[i].in);
	}
	ev_buf_reset(&b);
	r = ev_store_prepare("{\"name\":\"a\"}", 12, 0, 1234, &b, &seq, &time,
	    &err);
	ok(r == 0 && seq == 1 && time == 1234 &&
	    strncmp(b.data, "{\"seq\":1,\"id\":\"", 15) == 0 &&
	    strstr(b.data, "\"payload\":null,\"time\":1234}") != NULL &&
	    ev_store_check_line(b.data, b.len, 1, 1234, &err) == 0,
	    "an event without seq, id, payload or time gets them: %s",
	    b.data);
	ev_buf_free(&b);
}

/* Every input of the fuzz corpus, through the fuzz target's checks. */
static void
t_corpus(void)
{
	char dir[1024], path[2048];
	struct ev_buf b = { 0 };
	struct dirent *de;
	DIR *d;
	int n = 0, fd;
	ssize_t k;
	char chunk[8192];
	const char *src = __FILE__;
	size_t cut = strlen(src) - strlen("unit/t_store.c");

	snprintf(dir, sizeof(dir), "%.*sfuzz/corpus/fuzz_store", (int)cut,
	    src);
	if ((d = opendir(dir)) == NULL) {
		ok(0, "the fuzz corpus %s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		ev_buf_reset(&b);
		while ((k = read(fd, chunk, sizeof(chunk))) > 0)
			ev_buf_append(&b, chunk, (size_t)k);
		close(fd);
		LLVMFuzzerTestOneInput((const uint8_t *)b.data, b.len);
		n++;
	}
	closedir(d);
	ok(n >= 5, "%d inputs of the fuzz corpus pass its checks", n);
	ev_buf_free(&b);
	fz_remove();
}

int
main(void)
{
	const char *seed = getenv("T_STORE_SEED"), *dir;
	const char *tmp = getenv("TMPDIR");

	if (seed != NULL)
		rng = strtoull(seed, NULL, 10) | 1;
	printf("# seed %" PRIu64 "\n", rng);
	snprintf(tmpbase, sizeof(tmpbase), "%s/t_store.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(tmpbase) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	t_crc();
	t_record();
	dir = scratch("log");
	t_readwrite(dir);
	t_torn(dir);
	t_damage(dir);
	t_index(dir);
	t_lock();
	t_commit();
	t_follow();
	t_compact();
	t_rewrite_crash();
	t_prepare();
	t_corpus();
	rm_rf(tmpbase);
	return tap_done();
}
