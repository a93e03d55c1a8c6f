/*
 * jscan_bench.c: ns per event for the hot-path scanner against jansson's
 * parse + dump, on N copies of one typical ~170-byte event.  Not built by
 * the Makefile:
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Ilib bench/jscan_bench.c lib/jscan.c \
 *       lib/buf.c lib/err.c -ljansson -o jscan_bench && ./jscan_bench
 *   ./jscan_bench [copies [jscan]]	(jscan: skip the jansson runs)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evbus.h"
#include "jscan.h"

#define N	1000000

static const char event[] =
    "{\"name\":\"request.echo.1-0-0.default\",\"payload\":{\"message\":"
    "\"hello, world\",\"n\":42,\"ok\":true},\"id\":\"0b9a3c1e-8c8e-4f5e-"
    "9d0a-2f6b7c9d1e2f\",\"time\":1764000000000,\"error\":false}";

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

enum which { CHECK, SCAN, LOAD_DUMP, LOAD };

static const char *names[] = {
	"ev_json_check", "ev_json_scan_object", "json_loadb+json_dumpb",
	"json_loadb alone",
};

/* One pass over the n copies; returns seconds. */
static double
run(enum which w, const char *copies, size_t len, size_t n, size_t *sink)
{
	struct ev_jmember m[64];
	struct ev_err err;
	enum ev_jtype t;
	json_error_t je;
	json_t *j;
	char out[1024];
	size_t i, nm;
	double t0 = now();

	for (i = 0; i < n; i++) {
		const char *ev = copies + i * len;

		switch (w) {
		case CHECK:
			if (ev_json_check(ev, len, &t, &err) == -1)
				exit(1);
			*sink += t;
			break;
		case SCAN:
			if (ev_json_scan_object(ev, len, m, 64, &nm,
			    &err) == -1)
				exit(1);
			*sink += nm;
			break;
		case LOAD_DUMP:
		case LOAD:
			if ((j = json_loadb(ev, len, 0, &je)) == NULL)
				exit(1);
			if (w == LOAD_DUMP)
				*sink += json_dumpb(j, out, sizeof(out),
				    JSON_COMPACT);
			json_decref(j);
			break;
		}
	}
	return now() - t0;
}

/*
 * Best of five passes for each method: the machine is shared, and the
 * minimum is the figure least disturbed by neighbours.
 */
int
main(int argc, char **argv)
{
	size_t len = strlen(event), i, n = N, sink = 0;
	char *copies;
	double best, s;
	int w, r, last = LOAD;

	if (argc > 1)
		n = strtoul(argv[1], NULL, 10);
	if (argc > 2 && strcmp(argv[2], "jscan") == 0)
		last = SCAN;		/* only the scanner */
	/* n distinct copies, so that the caches see a real stream. */
	if ((copies = malloc(n * len)) == NULL)
		return 1;
	for (i = 0; i < n; i++)
		memcpy(copies + i * len, event, len);
	printf("event: %zu bytes, %zu copies, best of 5\n", len, n);
	for (w = CHECK; w <= last; w++) {
		best = 1e9;
		for (r = 0; r < 5; r++)
			if ((s = run(w, copies, len, n, &sink)) < best)
				best = s;
		printf("%-22s %8.1f ns/event %7.0f MB/s %6.2f M events/s\n",
		    names[w], best * 1e9 / n, n * len / best / 1e6,
		    n / best / 1e6);
	}
	free(copies);
	return sink == 0;
}
