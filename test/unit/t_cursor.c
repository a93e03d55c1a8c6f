/*
 * t_cursor.c: the cursor file (lib/cursor.c): none yet, a round trip,
 * replacement without a temporary file left, every way of being garbled,
 * and an epoch that would not read back.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "tap.h"

static char dir[64], path[128], tmp[160];

static void
put(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0)
		abort();
}

int
main(void)
{
	static const char *const bad[] = { "", "\n", "garbage\n",
	    "0123456789abcdef\n", "0123456789abcdef \n",
	    "0123456789abcdef x\n", "0123456789ABCDEF 3\n",
	    "0123456789abcde 3\n", "0123456789abcdef 3 4\n",
	    "0123456789abcdef 3", "0123456789abcdef -3\n",
	    "0123456789abcdef 99999999999999999999\n",
	    "0123456789abcdef 3\n\n" };
	char epoch[EV_EPOCH_LEN + 1];
	struct ev_err err;
	uint64_t seq = 0;
	size_t i;

	snprintf(dir, sizeof(dir), "/tmp/t_cursor.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/cur", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	is_int(ev_cursor_read(path, epoch, &seq, &err), 0, "no file: 0");
	is_int(ev_cursor_write(path, "0123456789abcdef", 42, true, &err), 0,
	    "write");
	is_int(ev_cursor_read(path, epoch, &seq, &err), 1, "read back");
	is_str(epoch, "0123456789abcdef", "the epoch");
	is_int(seq, 42, "the seq");
	is_int(ev_cursor_write(path, "fedcba9876543210", 7, false, &err), 0,
	    "replace, without sync");
	ev_cursor_read(path, epoch, &seq, &err);
	ok(strcmp(epoch, "fedcba9876543210") == 0 && seq == 7, "replaced");
	ok(access(tmp, F_OK) == -1 && errno == ENOENT, "no temporary left");
	is_int(ev_cursor_write(path, "0123456789ABCDEF", 1, false, &err), -1,
	    "an epoch that would not read back is refused");
	is_int(err.kind, EV_ERR_DATA, "as data");
	ev_cursor_read(path, epoch, &seq, &err);
	ok(seq == 7, "and the file is unchanged");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(bad[i], strlen(bad[i]));
		is_int(ev_cursor_read(path, epoch, &seq, &err), -1,
		    "garbled %zu", i);
		ok(err.kind == EV_ERR_DATA && strstr(err.msg, "not a cursor "
		    "file") != NULL, "says so: %s", err.msg);
	}
	unlink(path);
	mkdir(path, 0700);
	is_int(ev_cursor_read(path, epoch, &seq, &err), -1, "a directory");
	is_int(err.kind, EV_ERR_SYS, "a system error");
	is_int(ev_cursor_write(path, "0123456789abcdef", 1, false, &err), -1,
	    "cannot replace a directory");
	ok(access(tmp, F_OK) == -1, "no temporary left after a failure");
	rmdir(path);
	rmdir(dir);
	return tap_done();
}
