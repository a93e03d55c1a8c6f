/*
 * fuzz_store.c: libFuzzer target for the log's record and segment parser
 * and for everything that reads a damaged segment: the reader, verify,
 * the writer's recovery of the tail, and repair.
 *
 * The first byte chooses; the rest is the input.
 *   byte & 3 == 0: the input is a whole segment file;
 *   byte & 3 == 1: a valid header (base 1) then the input;
 *   byte & 3 == 2: lines of NDJSON for ev_store_prepare and
 *                  ev_store_append, read back afterwards;
 *   byte & 3 == 3: as 1, with the same bytes again after a valid record.
 * A segment image is the only segment of a log in a scratch directory
 * (under /dev/shm when there is one), and then:
 *  1. the reader reads it to its end or to damage: its records have
 *     growing seqs and are the image's bytes at their offsets;
 *  2. verify finds damage whenever the reader met some;
 *  3. the writer opens it: it may refuse only when the reader met damage
 *     (EV_ERR_DATA); when it opens, the log then reads to its end without
 *     damage, with exactly the records the reader saw, and opening it
 *     again cuts and rebuilds nothing;
 *  4. repair, on the image again: afterwards the log reads without
 *     damage, starting with the records the reader saw, verify finds
 *     nothing, a second repair does nothing, and every byte of the image
 *     is in the new segment or in quarantine: nothing is deleted.
 *
 *   sh mk/fuzz.sh test/fuzz/fuzz_store.c
 *
 * test/unit/t_store.c includes this file and runs every input of
 * test/fuzz/corpus/fuzz_store through it.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "store.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FZ_MAXREC	4096		/* records remembered from a read */

struct fz_rec {
	uint64_t	 seq;
	int64_t		 time;
	char		*line;
	size_t		 len;
};

struct fz_read {
	struct fz_rec	 r[FZ_MAXREC];
	size_t		 n;
	int		 end;		/* ev_store_next's last answer */
};

static char	fz_dir[256];
static const uint8_t *fz_data;
static size_t	fz_size;

static void	fz_fail(const char *) __attribute__((noreturn));
static void	fz_clean(const char *);
static void	fz_remove(void);
static void	fz_image(const char *, const void *, size_t);
static void	fz_readall(const char *, struct fz_read *);
static void	fz_free(struct fz_read *);
static uint64_t	fz_verify(const char *);
static void	fz_segment(const uint8_t *, size_t);
static void	fz_lines(const uint8_t *, size_t);

static void
fz_fail(const char *what)
{
	size_t i;

	fprintf(stderr, "fuzz_store: %s; input (%zu bytes):", what, fz_size);
	for (i = 0; i < fz_size && i < 4096; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n", fz_data[i]);
	fputc('\n', stderr);
	abort();
}

/* Remove dir's files and its quarantine, leaving dir. */
static void
fz_clean(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		snprintf(path, sizeof(path), "%s%s", dir,
		    pass == 0 ? "/quarantine" : "");
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			char f[768];

			if (de->d_name[0] == '.' || strcmp(de->d_name,
			    "quarantine") == 0)
				continue;
			snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
			unlink(f);
		}
		closedir(d);
		if (pass == 0)
			rmdir(path);
	}
}

/* At exit: the scratch directory goes. */
static void
fz_remove(void)
{
	if (fz_dir[0] == '\0')
		return;
	fz_clean(fz_dir);
	rmdir(fz_dir);
	fz_dir[0] = '\0';
}

/* Make the log in dir hold one segment, base 1, with these bytes. */
static void
fz_image(const char *dir, const void *p, size_t n)
{
	char path[512];
	int fd;

	fz_clean(dir);
	snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    (n > 0 && write(fd, p, n) != (ssize_t)n) || close(fd) == -1)
		fz_fail("cannot write the image");
}

static void
fz_readall(const char *dir, struct fz_read *rd)
{
	struct ev_store_reader *r;
	struct ev_record rec;
	struct ev_err err;

	rd->n = 0;
	if (ev_store_reader_open(&r, dir, &err) == -1)
		fz_fail("reader_open");
	while ((rd->end = ev_store_next(r, &rec, &err)) == 1) {
		if (rd->n > 0 && rec.seq <= rd->r[rd->n - 1].seq)
			fz_fail("the reader gave a seq out of order");
		if (rec.len == 0 || rec.line[rec.len - 1] != '\n')
			fz_fail("the reader gave a line without its newline");
		if (rd->n == FZ_MAXREC)
			continue;
		rd->r[rd->n].seq = rec.seq;
		rd->r[rd->n].time = rec.time;
		rd->r[rd->n].len = rec.len;
		if ((rd->r[rd->n].line = malloc(rec.len)) == NULL)
			fz_fail("out of memory");
		memcpy(rd->r[rd->n].line, rec.line, rec.len);
		rd->n++;
	}
	if (rd->end == -1 && err.kind != EV_ERR_DATA)
		fz_fail("the reader failed other than on damage");
	ev_store_reader_close(r);
}

static void
fz_free(struct fz_read *rd)
{
	size_t i;

	for (i = 0; i < rd->n; i++)
		free(rd->r[i].line);
	rd->n = 0;
}

/* Does b begin with all of a? */
static int
fz_prefix(const struct fz_read *a, const struct fz_read *b)
{
	size_t i;

	if (a->n > b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->r[i].seq != b->r[i].seq ||
		    a->r[i].time != b->r[i].time ||
		    a->r[i].len != b->r[i].len ||
		    memcmp(a->r[i].line, b->r[i].line, a->r[i].len) != 0)
			return 0;
	return 1;
}

static uint64_t
fz_verify(const char *dir)
{
	struct ev_store_walk w = { 0 };
	struct ev_err err;

	if (ev_store_verify(dir, &w, &err) == -1)
		fz_fail("verify could not finish");
	return w.errors;
}

/* Bytes in dir's segment and in its quarantine. */
static void
fz_sizes(const char *dir, uint64_t *seg, uint64_t *quar)
{
	char path[512], f[768];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
	*seg = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	*quar = 0;
	snprintf(path, sizeof(path), "%s/quarantine", dir);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
		if (stat(f, &sb) == 0)
			*quar += (uint64_t)sb.st_size;
	}
	closedir(d);
}

static void
fz_segment(const uint8_t *img, size_t n)
{
	struct fz_read *before, *after;
	struct ev_store_recovery rec;
	struct ev_store_walk w = { 0 };
	struct ev_store *st;
	struct ev_store_opts o = { .sync = EV_STORE_SYNC_NONE };
	struct st_seghdr h;
	struct ev_err err;
	const char *why;
	uint64_t seg, quar;
	bool hdr_ok;

	before = calloc(1, sizeof(*before));
	after = calloc(1, sizeof(*after));
	if (before == NULL || after == NULL)
		fz_fail("out of memory");
	hdr_ok = n >= ST_SEG_HDR && ev_store_seghdr_get(img, &h, &why) == 0 &&
	    h.base == 1;

	/* 1, 2 */
	fz_image(fz_dir, img, n);
	fz_readall(fz_dir, before);
	if (before->end == -1 && fz_verify(fz_dir) == 0)
		fz_fail("the reader met damage that verify did not find");

	/* 3 */
	if (ev_store_open(&st, fz_dir, &o, &rec, &err) == -1) {
		if (err.kind != EV_ERR_DATA)
			fz_fail("open failed other than on damage");
		if (before->end != -1)
			fz_fail("open refused a log the reader read through");
	} else {
		if (ev_store_close(st, &err) == -1)
			fz_fail("close after open");
		fz_readall(fz_dir, after);
		if (after->end != 0)
			fz_fail("damage left after the open's recovery");
		if (!fz_prefix(before, after) || after->n != before->n)
			fz_fail("the open's recovery changed the records");
		fz_free(after);
		if (ev_store_open(&st, fz_dir, &o, &rec, &err) == -1)
			fz_fail("a second open failed");
		if (rec.cut_bytes != 0 || rec.indexes != 0)
			fz_fail("a second open cut or rebuilt again");
		if (ev_store_close(st, &err) == -1)
			fz_fail("close after the second open");
	}

	/* 4 */
	fz_image(fz_dir, img, n);
	if (ev_store_repair(fz_dir, &w, &err) == -1)
		fz_fail("repair failed");
	fz_readall(fz_dir, after);
	if (after->end != 0)
		fz_fail("damage left after repair");
	if (!fz_prefix(before, after))
		fz_fail("repair lost records the reader had read");
	fz_free(after);
	fz_sizes(fz_dir, &seg, &quar);
	if (quar + seg - ST_SEG_HDR != n - (hdr_ok ? ST_SEG_HDR : 0))
		fz_fail("repair lost bytes");
	if (fz_verify(fz_dir) != 0)
		fz_fail("verify finds damage after repair");
	if (ev_store_repair(fz_dir, &w, &err) == -1 || w.removed != 0)
		fz_fail("a second repair did something");
	fz_free(before);
	free(before);
	free(after);
}

/* Lines in, through ev_store_prepare and the writer, and out again. */
static void
fz_lines(const uint8_t *p, size_t n)
{
	struct ev_store_opts o = {
		.sync = EV_STORE_SYNC_NONE, .segment_bytes = 4096
	};
	struct fz_read *rd;
	struct ev_store *st;
	struct ev_buf b = { 0 }, all = { 0 };
	struct ev_err err;
	const char *s = (const char *)p, *e, *end = s + n;
	uint64_t seq, count = 0;
	int64_t time;
	size_t i, at;

	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		fz_fail("out of memory");
	fz_clean(fz_dir);
	if (ev_store_open(&st, fz_dir, &o, NULL, &err) == -1)
		fz_fail("open of an empty log");
	for (; s < end; s = e + 1) {
		if ((e = memchr(s, '\n', (size_t)(end - s))) == NULL)
			e = end;
		ev_buf_reset(&b);
		if (ev_store_prepare(s, (size_t)(e - s), ev_store_last_seq(st),
		    1000, &b, &seq, &time, &err) == -1) {
			if (err.kind == EV_ERR_SYS)
				fz_fail("prepare: out of memory");
			continue;
		}
		if (seq <= ev_store_last_seq(st) || time < 0)
			fz_fail("prepare gave a seq not after the last");
		if (ev_store_check_line(ev_buf_head(&b), ev_buf_unread(&b),
		    seq, time, &err) == -1)
			fz_fail("prepare made a line that verify refuses");
		if (ev_store_append(st, seq, time, ev_buf_head(&b),
		    ev_buf_unread(&b), &err) == -1)
			fz_fail("append refused what prepare made");
		if (count++ < FZ_MAXREC) {
			ev_buf_append(&all, ev_buf_head(&b), ev_buf_unread(&b));
			ev_buf_putc(&all, '\n');
		}
	}
	if (ev_store_close(st, &err) == -1)
		fz_fail("close");
	fz_readall(fz_dir, rd);
	if (rd->end != 0 || rd->n != (count < FZ_MAXREC ? count : FZ_MAXREC))
		fz_fail("not every appended event was read back");
	for (i = 0, at = 0; i < rd->n; at += rd->r[i].len, i++)
		if (at + rd->r[i].len > all.len ||
		    memcmp(all.data + at, rd->r[i].line, rd->r[i].len) != 0)
			fz_fail("an event read back is not the one appended");
	if (fz_verify(fz_dir) != 0)
		fz_fail("verify finds damage in a log just written");
	fz_free(rd);
	free(rd);
	ev_buf_free(&b);
	ev_buf_free(&all);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char json[] = "{\"seq\":1,\"id\":\"a\",\"name\":\"f.z\","
	    "\"time\":1,\"payload\":null}\n";
	struct st_seghdr h = { ST_EVERY_MIN, 1, 0 };
	unsigned char *img;
	size_t n;

	fz_data = data;
	fz_size = size;
	if (fz_dir[0] == '\0') {
		snprintf(fz_dir, sizeof(fz_dir), "%s/fuzz_store.XXXXXX",
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (mkdtemp(fz_dir) == NULL)
			fz_fail("mkdtemp");
		atexit(fz_remove);
	}
	if (size == 0)
		return 0;
	if ((data[0] & 3) == 2) {
		fz_lines(data + 1, size - 1);
		return 0;
	}
	if ((data[0] & 3) == 0) {
		fz_segment(data + 1, size - 1);
		return 0;
	}
	n = ST_SEG_HDR + 2 * (size - 1) + ST_REC_HDR + sizeof(json);
	if ((img = malloc(n)) == NULL)
		fz_fail("out of memory");
	ev_store_seghdr_put(img, &h);
	n = ST_SEG_HDR;
	if ((data[0] & 3) == 3) {
		ev_store_rec_header(img + n, 1, 1, json, sizeof(json) - 1);
		memcpy(img + n + ST_REC_HDR, json, sizeof(json) - 1);
		n += ST_REC_HDR + sizeof(json) - 1;
	}
	memcpy(img + n, data + 1, size - 1);
	n += size - 1;
	if ((data[0] & 3) == 3) {
		memcpy(img + n, data + 1, size - 1);
		n += size - 1;
	}
	fz_segment(img, n);
	free(img);
	return 0;
}
