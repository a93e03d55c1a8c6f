/*
 * waitlines: time a publisher until every subscriber's file is complete.
 *
 *	waitlines [-t secs] [-s secs] [-o result] FILE LINES... -- cmd [arg...]
 *
 * Takes the start time, runs cmd (which inherits stdin and stdout), and
 * follows each FILE, counting its event lines -- lines whose first byte is
 * '{' -- incrementally (each byte is read once), until every FILE holds at
 * least its LINES event lines.  That moment, minus the start, is the result:
 * seconds with microseconds, written to the result file (default stdout).
 * Then it waits for cmd, which must exit 0.
 *
 * Every subscriber writes each event as one line starting with '{' (evsub's
 * NDJSON, mosquitto_sub's payload line, redis-cli's payload line after its
 * "message" and channel lines, the payload line after a NATS MSG line), and
 * nothing else it writes starts with '{' (INFO, PONG, PING, MSG, "message",
 * probe payloads).  The harness gives LINES as the event lines the file had
 * once the subscriber was known to be subscribed plus N, so "complete" is
 * exact whatever protocol chatter the file also holds.
 *
 * -t: give up after this many seconds in all (default 300); -s: give up when
 * cmd has exited and no file has grown for this many seconds (default 10).
 * Exit: 0 done; 1 cmd failed; 64 usage; 71 system error; 75 timeout or stall
 * (the counts reached are printed on stderr).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct follow {
	const char	*path;
	int		 fd;
	unsigned long	 want;
	unsigned long	 have;
	int		 bol;		/* the next byte begins a line */
};

static double	now(void);
static void	usage(void);
static int	advance(struct follow *, int *);

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: waitlines [-t secs] [-o result] "
	    "FILE LINES... -- cmd [arg...]\n");
	exit(64);
}

/*
 * Read what was appended to f since the last call and count the event lines
 * that begin in it.  Returns 1 when f is complete, 0 when not yet, -1 on a
 * read error; *grew is set when anything was read.
 */
static int
advance(struct follow *f, int *grew)
{
	static char	buf[1 << 20];
	ssize_t		n = 0;

	if (f->fd == -1) {
		f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (f->fd == -1)
			return errno == ENOENT ? 0 : -1;
		f->bol = 1;
	}
	while (f->have < f->want &&
	    (n = read(f->fd, buf, sizeof(buf))) > 0) {
		char *p = buf, *end = buf + n, *nl;

		*grew = 1;
		while (p < end) {
			if (f->bol && *p == '{')
				f->have++;
			if ((nl = memchr(p, '\n', end - p)) == NULL) {
				f->bol = 0;
				break;
			}
			p = nl + 1;
			f->bol = 1;
		}
	}
	if (n == -1 && f->have < f->want)
		return -1;
	return f->have >= f->want;
}

int
main(int argc, char *argv[])
{
	struct follow	*fs;
	struct timespec	 tick = { 0, 1000 * 1000 };
	double		 timeout = 300, stall = 10, t0, t1 = 0, moved;
	const char	*out = NULL;
	FILE		*fp;
	pid_t		 pid;
	int		 ch, nf = 0, status = 0, done, grew, exited = 0;

	while ((ch = getopt(argc, argv, "+t:s:o:")) != -1) {
		switch (ch) {
		case 't':
			timeout = atof(optarg);
			break;
		case 's':
			stall = atof(optarg);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if ((fs = calloc(argc / 2 + 1, sizeof(*fs))) == NULL)
		return 71;
	while (argc >= 2 && strcmp(argv[0], "--") != 0) {
		fs[nf].path = argv[0];
		fs[nf].want = strtoul(argv[1], NULL, 10);
		fs[nf].fd = -1;
		nf++;
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || strcmp(argv[0], "--") != 0 || nf == 0)
		usage();
	argv++;

	t0 = now();
	if ((pid = fork()) == -1) {
		perror("waitlines: fork");
		return 71;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "waitlines: %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	moved = t0;
	for (;;) {
		done = grew = 0;
		for (int i = 0; i < nf; i++) {
			int r = advance(&fs[i], &grew);

			if (r == -1) {
				fprintf(stderr, "waitlines: %s: %s\n",
				    fs[i].path, strerror(errno));
				kill(pid, SIGTERM);
				return 71;
			}
			done += r;
		}
		if (done == nf) {
			t1 = now() - t0;
			break;
		}
		if (grew)
			moved = now();
		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				break;	/* reported below */
		}
		if (now() - t0 > timeout || (exited && now() - moved > stall)) {
			fprintf(stderr, "waitlines: %s after %.1f s:",
			    now() - t0 > timeout ? "timeout" : "no progress",
			    now() - t0);
			for (int i = 0; i < nf; i++)
				fprintf(stderr, " %s %lu/%lu", fs[i].path,
				    fs[i].have, fs[i].want);
			fprintf(stderr, "\n");
			if (!exited) {
				kill(pid, SIGTERM);
				waitpid(pid, NULL, 0);
			}
			return 75;
		}
		nanosleep(&tick, NULL);
	}
	if ((!exited && waitpid(pid, &status, 0) == -1) || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "waitlines: %s: exited with status %d\n",
		    argv[0], WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status));
		return 1;
	}
	if (out != NULL) {
		if ((fp = fopen(out, "w")) == NULL) {
			perror(out);
			return 71;
		}
	} else
		fp = stdout;
	fprintf(fp, "%.6f\n", t1);
	if (fclose(fp) != 0)
		return 71;
	return 0;
}
