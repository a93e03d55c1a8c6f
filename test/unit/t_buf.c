/*
 * t_buf.c: the growable byte buffer: append, printf, consume, truncate,
 * reserve; the compaction that moves the unread part to the front (so that
 * positions measured from ev_buf_head stay right), large growth, and the
 * NUL kept after the data.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "tap.h"

/* ev_buf_head where the buffer is known to hold data. */
#define H(b)	((b)->data + (b)->off)

/* The unread part equals s, and a NUL follows it. */
static bool
holds(const struct ev_buf *b, const char *s)
{
	size_t n = strlen(s);

	return ev_buf_unread(b) == n && b->data != NULL &&
	    memcmp(b->data + b->off, s, n) == 0 && b->data[b->len] == '\0' &&
	    b->len < b->cap;
}

static void
test_basic(void)
{
	struct ev_buf b = { 0 };

	ok(ev_buf_head(&b) == NULL && ev_buf_unread(&b) == 0,
	    "empty: no head, nothing unread");
	ev_buf_reset(&b);
	ev_buf_truncate(&b, 0);
	ev_buf_consume(&b, 0);
	ok(b.data == NULL, "reset, truncate, consume on an empty buffer");

	is_int(ev_buf_append(&b, "abc", 3), 0, "append");
	ok(holds(&b, "abc"), "append: abc");
	is_int(ev_buf_append(&b, NULL, 0), 0, "append nothing");
	ok(holds(&b, "abc"), "append nothing: unchanged");
	is_int(ev_buf_putc(&b, 'd'), 0, "putc");
	is_int(ev_buf_putc(&b, 0), 0, "putc NUL");
	ok(ev_buf_unread(&b) == 5 && memcmp(H(&b), "abcd\0", 5) == 0,
	    "putc: bytes, NUL included");
	ev_buf_truncate(&b, 4);
	ok(holds(&b, "abcd"), "truncate drops the NUL byte");
	is_int(ev_buf_printf(&b, "-%d-%s-%c", 42, "x", 'y'), 0, "printf");
	ok(holds(&b, "abcd-42-x-y"), "printf appends");
	is_int(ev_buf_printf(&b, "%s", ""), 0, "printf nothing");
	ok(holds(&b, "abcd-42-x-y"), "printf nothing: unchanged");

	ev_buf_consume(&b, 2);
	ok(holds(&b, "cd-42-x-y"), "consume 2");
	ok(ev_buf_head(&b) == b.data + 2, "consume keeps the bytes in place");
	ev_buf_truncate(&b, 100);
	ok(holds(&b, "cd-42-x-y"), "truncate past the end: unchanged");
	ev_buf_truncate(&b, 3);
	ok(holds(&b, "cd-"), "truncate 3 from the head");
	ev_buf_consume(&b, 100);
	ok(ev_buf_unread(&b) == 0 && b.off == b.len, "consume past the end");
	ev_buf_append(&b, "z", 1);
	ok(holds(&b, "z") && b.off == 0, "append after all consumed: at the "
	    "front again");
	ev_buf_truncate(&b, 0);
	ok(holds(&b, ""), "truncate 0");
	ev_buf_reset(&b);
	ok(holds(&b, "") && b.off == 0 && b.len == 0, "reset");
	ev_buf_free(&b);
	ok(b.data == NULL && b.cap == 0 && b.len == 0 && b.off == 0,
	    "free zeroes the buffer");
	ev_buf_free(&b);
	ok(1, "free twice");
}

static void
test_reserve(void)
{
	struct ev_buf b = { 0 };

	is_int(ev_buf_reserve(&b, 10), 0, "reserve 10");
	ok(b.cap - b.len - 1 >= 10, "reserve: room for 10 and a NUL");
	is_int(ev_buf_reserve(&b, 5000), 0, "reserve 5000");
	ok(b.cap - b.len - 1 >= 5000, "reserve: room for 5000 and a NUL");
	ev_buf_append(&b, "hello", 5);
	errno = 0;
	ok(ev_buf_reserve(&b, SIZE_MAX) == -1 && errno == ENOMEM,
	    "reserve SIZE_MAX: ENOMEM");
	ok(ev_buf_reserve(&b, SIZE_MAX / 2) == -1 && errno == ENOMEM,
	    "reserve SIZE_MAX/2: ENOMEM");
	ok(holds(&b, "hello"), "a failed reserve leaves the buffer alone");
	ev_buf_free(&b);
}

/*
 * Consume some, append more: the unread part may move to the front, and
 * what was unread is still there, measured from the head.
 */
static void
test_compaction(void)
{
	struct ev_buf b = { 0 };
	char big[300], want[400];
	size_t cap, mark;
	char *before;

	memset(big, 'a', 200);
	ev_buf_append(&b, big, 200);
	cap = b.cap;
	ev_buf_consume(&b, 150);
	mark = ev_buf_unread(&b);
	before = ev_buf_head(&b);
	memset(big, 'b', sizeof(big));
	ev_buf_append(&b, big, 100);
	ok(b.cap == cap, "compaction: no growth (cap %zu)", b.cap);
	ok(b.off == 0 && ev_buf_head(&b) != before,
	    "compaction: the unread part moved to the front");
	memset(want, 'a', 50);
	memset(want + 50, 'b', 100);
	want[150] = '\0';
	ok(holds(&b, want), "compaction: 50 old bytes, then 100 new");

	/* Undo the append with the mark taken before it. */
	ev_buf_truncate(&b, mark);
	want[50] = '\0';
	ok(holds(&b, want), "truncate to a mark across a compaction");

	/* The same with printf. */
	ev_buf_reset(&b);
	ev_buf_append(&b, big, 200);
	ev_buf_consume(&b, 190);
	mark = ev_buf_unread(&b);
	ev_buf_printf(&b, "%0100d|%s", 7, "end");
	ok(b.off == 0 && b.cap == cap, "printf compacts too");
	ok(ev_buf_unread(&b) == 10 + 104 &&
	    memcmp(H(&b), "bbbbbbbbbb0000", 14) == 0 &&
	    strcmp(H(&b) + 10 + 99, "7|end") == 0,
	    "printf across a compaction: old bytes, then the text");
	ev_buf_truncate(&b, mark);
	ok(holds(&b, "bbbbbbbbbb"), "truncate after printf's compaction");

	/* Growth with a consumed prefix keeps the unread bytes. */
	ev_buf_reset(&b);
	ev_buf_append(&b, "0123456789", 10);
	ev_buf_consume(&b, 4);
	mark = ev_buf_unread(&b);
	memset(big, 'c', sizeof(big));
	ev_buf_append(&b, big, 300);
	ok(b.cap > cap && ev_buf_unread(&b) == 306 &&
	    memcmp(H(&b), "456789ccc", 9) == 0 &&
	    b.data[b.len] == '\0', "growth with a consumed prefix");
	ev_buf_truncate(&b, mark);
	ok(holds(&b, "456789"), "truncate after growth");
	ev_buf_free(&b);
}

/* A queue: always consuming, always appending; it stays small. */
static void
test_queue(void)
{
	struct ev_buf b = { 0 };
	size_t i, good = 0;
	char line[32];
	int n;

	for (i = 0; i < 100000; i++) {
		n = snprintf(line, sizeof(line), "line %zu\n", i);
		ev_buf_printf(&b, "line %zu\n", i);
		if (i >= 3) {
			if (memcmp(H(&b), "line ", 5) == 0)
				good++;
			ev_buf_consume(&b, strcspn(H(&b), "\n") + 1);
		}
	}
	(void)n;
	is_int(good, 100000 - 3, "queue: every line at the head in turn");
	ok(ev_buf_unread(&b) == strlen("line 99997\nline 99998\nline 99999\n")
	    && strcmp(H(&b), "line 99997\nline 99998\nline 99999\n")
	    == 0, "queue: the last three lines remain");
	ok(b.cap <= 256, "queue: stays as large as its backlog (%zu)", b.cap);
	ev_buf_free(&b);
}

static void
test_large(void)
{
	struct ev_buf b = { 0 };
	char chunk[4096];
	size_t i, j, bad = 0;

	for (i = 0; i < 4096; i++) {
		memset(chunk, 'A' + (int)(i % 26), sizeof(chunk));
		if (ev_buf_append(&b, chunk, sizeof(chunk)) == -1)
			bad++;
	}
	is_int(bad, 0, "16 MiB appended in 4 KiB pieces");
	is_int(ev_buf_unread(&b), 4096 * 4096, "16 MiB unread");
	for (i = 0; i < 4096; i++)
		for (j = 0; j < 4096; j += 1024)
			if (b.data[i * 4096 + j] != 'A' + (int)(i % 26))
				bad++;
	is_int(bad, 0, "16 MiB: every piece where it belongs");
	ok(b.data[b.len] == '\0' && b.cap >= b.len + 1, "16 MiB: NUL after");
	ev_buf_consume(&b, 4096 * 4095);
	ev_buf_printf(&b, "%s", "tail");
	ok(ev_buf_unread(&b) == 4100 && strcmp(H(&b) + 4096,
	    "tail") == 0 && ev_buf_head(&b)[0] == 'A' + 4095 % 26,
	    "16 MiB: consume nearly all, printf");
	ev_buf_free(&b);

	/* One printf larger than the buffer, on a buffer that has data. */
	ev_buf_append(&b, "x", 1);
	ev_buf_printf(&b, "%5000d", 1);
	ok(ev_buf_unread(&b) == 5001 && b.data[0] == 'x' &&
	    b.data[5000] == '1' && b.data[5001] == '\0',
	    "printf of 5000 bytes into a small buffer");
	ev_buf_free(&b);
	ev_buf_printf(&b, "%300d", 2);
	ok(ev_buf_unread(&b) == 300 && b.data[299] == '2' &&
	    b.data[300] == '\0', "printf of 300 bytes into an empty buffer");
	ev_buf_free(&b);
}

/* ev_buf_write: all of it, consumed; EPIPE with the rest still unread. */
static void
test_write(void)
{
	struct ev_buf b = { 0 };
	char got[16];
	int fd[2];

	signal(SIGPIPE, SIG_IGN);
	ok(pipe(fd) == 0, "write: a pipe");
	ev_buf_append(&b, "hello\n", 6);
	ev_buf_consume(&b, 1);
	ok(ev_buf_write(&b, fd[1]) == 0, "write: 0");
	is_int((long long)ev_buf_unread(&b), 0, "write: all consumed");
	ok(read(fd[0], got, sizeof(got)) == 5 && memcmp(got, "ello\n", 5) == 0,
	    "write: the unread part, once");
	close(fd[0]);
	ev_buf_append(&b, "more", 4);
	ok(ev_buf_write(&b, fd[1]) == -1 && errno == EPIPE,
	    "write: no reader: -1 EPIPE");
	is_int((long long)ev_buf_unread(&b), 4, "write: what was not written stays");
	close(fd[1]);
	ev_buf_free(&b);
}

/* ev_buf_read: to the end, or max + 1 bytes, appended. */
static void
test_read(void)
{
	struct ev_buf b = { 0 };
	int fd[2];

	ok(pipe(fd) == 0, "read: a pipe");
	ok(write(fd[1], "abcdefgh", 8) == 8, "read: 8 bytes in it");
	close(fd[1]);
	ev_buf_append(&b, "<", 1);
	ok(ev_buf_read(&b, fd[0], 100) == 0, "read: 0 at its end");
	is_str(ev_buf_head(&b), "<abcdefgh", "read: appended, NUL-ended");
	close(fd[0]);
	ok(pipe(fd) == 0, "read: another pipe");
	ok(write(fd[1], "abcdefgh", 8) == 8, "read: 8 bytes in it");
	ev_buf_reset(&b);
	ok(ev_buf_read(&b, fd[0], 3) == 0, "read: bounded");
	is_int((long long)ev_buf_unread(&b), 4, "read: max + 1 bytes, no more");
	close(fd[0]);
	close(fd[1]);
	ev_buf_free(&b);
}

int
main(void)
{
	test_write();
	test_read();
	test_basic();
	test_reserve();
	test_compaction();
	test_queue();
	test_large();
	return tap_done();
}
