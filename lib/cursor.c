/*
 * cursor.c: a consumer's place on the bus kept in a file of its own
 * (evsub --cursor-file): the bus's epoch and the seq of the last event
 * the consumer has written, one line "EPOCH SEQ\n", replaced atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

#define CURSOR_FILE_MAX	64	/* "EPOCH SEQ\n" is at most 37 bytes */

int
ev_cursor_read(const char *path, char *epoch, uint64_t *seq,
    struct ev_err *err)
{
	char buf[CURSOR_FILE_MAX + 1];
	size_t len = 0, i;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		return ev_err_sys(err, "%s", path);
	}
	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			ev_err_sys(err, "%s", path);
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len > CURSOR_FILE_MAX || len < EV_EPOCH_LEN + 3 ||
	    buf[len - 1] != '\n' || buf[EV_EPOCH_LEN] != ' ')
		goto garbled;
	for (i = 0; i < EV_EPOCH_LEN; i++)
		if (strchr("0123456789abcdef", buf[i]) == NULL || buf[i] == '\0')
			goto garbled;
	if (ev_parse_u64(buf + EV_EPOCH_LEN + 1, len - EV_EPOCH_LEN - 2,
	    INT64_MAX, seq) == -1)
		goto garbled;
	memcpy(epoch, buf, EV_EPOCH_LEN);
	epoch[EV_EPOCH_LEN] = '\0';
	return 1;
garbled:
	return ev_err_set(err, EV_ERR_DATA, "%s: not a cursor file (one line: "
	    "the bus's epoch, 16 hex digits, a space and a seq)", path);
}

int
ev_cursor_write(const char *path, const char *epoch, uint64_t seq,
    bool sync, struct ev_err *err)
{
	char tmp[4096], line[CURSOR_FILE_MAX];
	size_t off = 0;
	ssize_t n;
	int fd, len;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return ev_err_set(err, EV_ERR_DATA, "%s: path too long", path);
	/* Never write what ev_cursor_read would refuse. */
	if (strlen(epoch) != EV_EPOCH_LEN ||
	    strspn(epoch, "0123456789abcdef") != EV_EPOCH_LEN)
		return ev_err_set(err, EV_ERR_DATA, "%s: the bus's epoch '%.*s' "
		    "is not 16 lower-case hex digits", path, EV_EPOCH_LEN,
		    epoch);
	len = snprintf(line, sizeof(line), "%.*s %llu\n", EV_EPOCH_LEN, epoch,
	    (unsigned long long)seq);
	/*
	 * A new file of ours, never a link or another user's file left in
	 * a shared directory: what is there is removed first (a sticky
	 * directory refuses that for another's file, and O_EXCL then fails).
	 */
	if (unlink(tmp) == -1 && errno != ENOENT)
		return ev_err_sys(err, "%s", tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0666)) == -1)
		return ev_err_sys(err, "%s", tmp);
	while (off < (size_t)len) {
		if ((n = write(fd, line + off, (size_t)len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)n;
	}
	if (sync && fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return 0;
fail:
	ev_err_sys(err, "%s", path);
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}
