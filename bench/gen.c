/*
 * gen: the deterministic input of the benchmarks.
 *
 *	gen ndjson N		N NDJSON events, one a line, on stdout
 *	gen resp N CHANNEL	the same lines as redis PUBLISH commands (RESP),
 *				for redis-cli --pipe
 *	gen nats N SUBJECT	a NATS CONNECT then the same lines as PUB frames
 *	gen nats-sub SUBJECT	the frames a NATS subscriber sends: CONNECT,
 *				SUB and a PING whose PONG proves the SUB is in
 *
 * Every event line is exactly EV_GEN_LINE bytes including its newline
 * ($EV_GEN_SIZE bytes when set, from 64 to 1 MiB: below 170 the event is
 * {"name":"request.<system>.<n>","payload":"<letters>"}), named
 * request.<system>.1-0-<n>.default, and the same for every run and machine:
 * the payload bytes a peer carries are the evbus event line itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_GEN_LINE	170
#define EV_GEN_MIN	64
#define EV_GEN_MAX	(1024 * 1024)

static size_t	line_size = EV_GEN_LINE;

static const char *systems[] = {
	"echo", "sleeper", "complex", "error", "dynamic", "parent", "child",
	"tester",
};
#define NSYSTEMS	(sizeof(systems) / sizeof(systems[0]))

static void	usage(void);
static size_t	event(char *, size_t, unsigned long);

/*
 * Write event number i (no newline) into buf and return its length, always
 * EV_GEN_LINE - 1.  The padding is letters from a linear congruential
 * sequence seeded by i, so every line differs and is reproducible.
 */
static size_t
event(char *buf, size_t cap, unsigned long i)
{
	const char	*sys = systems[i % NSYSTEMS];
	unsigned long	 n = (i / NSYSTEMS) % 1000, x = i * 2654435761UL + 1;
	int		 len, want = (int)line_size - 1, pad, small;
	static char	*fill;

	if (fill == NULL && (fill = malloc(EV_GEN_MAX)) == NULL) {
		perror("gen");
		exit(71);
	}
	small = line_size < EV_GEN_LINE;
	if (small)
		len = snprintf(buf, cap, "{\"name\":\"request.%s.%lu\","
		    "\"payload\":\"\"}", sys, n);
	else
		len = snprintf(buf, cap, "{\"name\":\"request.%s.1-0-%lu."
		    "default\",\"payload\":{\"system\":\"%s\",\"version\":"
		    "\"1.0.%lu\",\"command\":\"say\",\"n\":%lu,\"message\":"
		    "\"\"}}", sys, n, sys, n, i);
	pad = want - len;
	if (pad < 0) {
		fprintf(stderr, "gen: event %lu too long\n", i);
		exit(70);
	}
	for (int k = 0; k < pad; k++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		fill[k] = "abcdefghijklmnopqrstuvwxyz"[(x >> 33) % 26];
	}
	fill[pad] = '\0';
	/* Put the padding inside the empty string: the payload's message. */
	if (small)
		len = snprintf(buf, cap, "{\"name\":\"request.%s.%lu\","
		    "\"payload\":\"%s\"}", sys, n, fill);
	else
		len = snprintf(buf, cap, "{\"name\":\"request.%s.1-0-%lu."
		    "default\",\"payload\":{\"system\":\"%s\",\"version\":"
		    "\"1.0.%lu\",\"command\":\"say\",\"n\":%lu,\"message\":"
		    "\"%s\"}}", sys, n, sys, n, i, fill);
	return (size_t)len;
}

static void
usage(void)
{
	fprintf(stderr, "usage: gen ndjson N | gen resp N CHANNEL | "
	    "gen nats N SUBJECT | gen nats-sub SUBJECT\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	static char	 buf[EV_GEN_MAX + 4 * EV_GEN_LINE];
	unsigned long	 i, n;
	size_t		 len;
	const char	*mode, *size = getenv("EV_GEN_SIZE");

	if (size != NULL && *size != '\0') {
		line_size = strtoul(size, NULL, 10);
		if (line_size < EV_GEN_MIN || line_size > EV_GEN_MAX) {
			fprintf(stderr, "gen: EV_GEN_SIZE: from %d to %d\n",
			    EV_GEN_MIN, EV_GEN_MAX);
			exit(64);
		}
	}
	if (argc < 2)
		usage();
	mode = argv[1];
	if (strcmp(mode, "nats-sub") == 0) {
		if (argc != 3)
			usage();
		printf("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"
		    "SUB %s 1\r\nPING\r\n", argv[2]);
		return fflush(stdout) == 0 ? 0 : 74;
	}
	if (argc < 3)
		usage();
	n = strtoul(argv[2], NULL, 10);
	if (strcmp(mode, "ndjson") == 0) {
		if (argc != 3)
			usage();
	} else if (strcmp(mode, "resp") == 0 || strcmp(mode, "nats") == 0) {
		if (argc != 4)
			usage();
	} else
		usage();
	if (strcmp(mode, "nats") == 0)
		printf("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
	for (i = 0; i < n; i++) {
		len = event(buf, sizeof(buf), i);
		if (mode[0] == 'n' && mode[1] == 'd')
			printf("%s\n", buf);
		else if (mode[0] == 'r')
			printf("*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n"
			    "%s\r\n", strlen(argv[3]), argv[3], len, buf);
		else
			printf("PUB %s %zu\r\n%s\r\n", argv[3], len, buf);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("gen: stdout");
		return 74;
	}
	return 0;
}
