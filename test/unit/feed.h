/*
 * feed.h: ways of handing bytes to the library's incremental readers,
 * shared by the unit tests and the fuzz targets.
 */
#ifndef FEED_H
#define FEED_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

/* Give the decoder n bytes, through feed or through space/commit. */
static void __attribute__((unused))
feed_decoder(struct ev_decoder *d, const void *p, size_t n, bool space)
{
	size_t avail;
	char *s;

	if (!space) {
		if (ev_decoder_feed(d, p, n) == -1)
			abort();
		return;
	}
	if ((s = ev_decoder_space(d, n, &avail)) == NULL || avail < n)
		abort();
	if (n > 0)
		memcpy(s, p, n);
	ev_decoder_commit(d, n);
}

/*
 * Write the next chunk (at most chunk bytes) of p[*pos..n) to fds[1];
 * once all is written, close it (fds[1] becomes -1).
 */
static void __attribute__((unused))
feed_pipe(int fds[2], const char *p, size_t n, size_t *pos, size_t chunk)
{
	size_t k;

	if (*pos < n) {
		k = n - *pos < chunk ? n - *pos : chunk;
		if (write(fds[1], p + *pos, k) != (ssize_t)k)
			abort();
		*pos += k;
	} else if (fds[1] != -1) {
		close(fds[1]);
		fds[1] = -1;
	}
}

#endif /* FEED_H */
