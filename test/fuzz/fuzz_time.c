/*
 * fuzz_time.c: libFuzzer target for durations, times and ev_parse_u64.
 *
 * The input, NUL-terminated, is parsed as a duration and as a time against
 * a few clocks.  Failures must come with a message; a duration is never
 * negative, reads back the same written in ms, and as a time means that
 * long before now; ev_parse_u64 agrees with a plain digit loop.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	check_u64(const char *, size_t);

/* ev_parse_u64 against the obvious loop, with a max taken from the input. */
static void
check_u64(const char *s, size_t len)
{
	unsigned __int128 w;
	uint64_t v = 0, max, want = 0;
	size_t i;
	int r, ok = len > 0, big = 0;

	max = len > 0 ? UINT64_MAX >> ((unsigned char)s[0] % 64) : 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			ok = 0;
			break;
		}
		w = (unsigned __int128)want * 10 + (uint64_t)(s[i] - '0');
		if (w > max)
			big = 1;
		else
			want = (uint64_t)w;
	}
	r = ev_parse_u64(s, len, max, &v);
	if (!ok || big)
		assert(r == -1);
	else
		assert(r == 0 && v == want && v <= max);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t nows[] = {
		0, INT64_C(1795413600000), INT64_MIN, INT64_MAX, -1
	};
	char *s, back[32];
	struct ev_err err;
	int64_t d, d2, t;
	size_t i, n;
	int r;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);

	memset(&err, 0, sizeof(err));
	r = ev_duration_parse(s, &d, &err);
	if (r == 0) {
		assert(d >= 0);
		snprintf(back, sizeof(back), "%lldms", (long long)d);
		assert(ev_duration_parse(back, &d2, NULL) == 0 && d2 == d);
	} else
		assert(r == -1 && err.msg[0] != '\0' &&
		    (err.kind == EV_ERR_DATA || err.kind == EV_ERR_LIMIT));

	for (i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (ev_time_parse(s, nows[i], &t, &err) == -1) {
			assert(err.msg[0] != '\0');
			continue;
		}
		/* A duration that is not all digits means "that long ago". */
		if (r == 0 && strspn(s, "0123456789") != n)
			assert(t == nows[i] - d);
	}

	check_u64(s, n);
	check_u64((const char *)data, size);
	free(s);
	return 0;
}
