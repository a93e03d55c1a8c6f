/*
 * evstore: durable history of events -- an append-only, checksummed,
 * segmented log (lib/store*.c), appended to from NDJSON, read back by
 * seq, time and pattern, checked, repaired and trimmed.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "evstore.h"

static bool	progress_shown;		/* a progress line is on stderr */

void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: evstore append [--ack] [--sync always|batch|none] "
	    "[--segment-size size] dir\n"
	    "       evstore cat [-f] [-n count] [--from seq] [--until seq] "
	    "[--since time]\n"
	    "                   [--until-time time] "
	    "[--pace original|xN|instant] [--where expr]...\n"
	    "                   dir [pattern ...]\n"
	    "       evstore verify dir\n"
	    "       evstore repair dir\n"
	    "       evstore compact [--keep duration] [--max-bytes size] dir\n"
	    "       evstore stats dir\n");
	exit(status);
}

void
progress_done(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = false;
	}
}

void
say(const char *fmt, ...)
{
	va_list ap;

	progress_done();
	fputs("evstore: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
walk_report(void *arg, bool error, const char *text)
{
	(void)arg;
	(void)error;
	say("%s", text);
}

/* "verify: 42% (113 of 270 MiB)", when stderr is a terminal. */
void
walk_progress(void *arg, uint64_t done, uint64_t total)
{
	const char *what = arg;

	if (total == 0 || !isatty(2))
		return;
	fprintf(stderr, "\r\033[Kevstore: %s: %3u%% (%llu of %llu MiB)", what,
	    (unsigned)(done * 100 / total),
	    (unsigned long long)(done >> 20),
	    (unsigned long long)(total >> 20));
	progress_shown = true;
}

void
open_note(void *arg, const char *text)
{
	(void)arg;
	say("%s", text);
}

const char *
one_dir(int argc, char **argv)
{
	if (argc - optind != 1) {
		fprintf(stderr, "evstore: %s: give one directory\n", argv[0]);
		usage(EV_EX_USAGE);
	}
	return dir_arg(argv[optind]);
}

/* "log/" names the same log as "log", and reads better in messages. */
char *
dir_arg(char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	return dir;
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char	*name;
		int		(*fn)(int, char **);
	} cmds[] = {
		{ "append", cmd_append }, { "cat", cmd_cat },
		{ "verify", cmd_verify }, { "repair", cmd_repair },
		{ "compact", cmd_compact }, { "stats", cmd_stats },
	};
	size_t i;

	/* A closed stdout must not become a segment. */
	if (ev_stdfds_open() == -1) {
		fprintf(stderr, "evstore: /dev/null: %s\n", strerror(errno));
		return EV_EX_IOERR;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit: a write fails with EFBIG instead of a kill. */
	signal(SIGXFSZ, SIG_IGN);
	if (argc < 2)
		usage(EV_EX_USAGE);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		usage(0);
	if (strcmp(argv[1], "--version") == 0) {
		printf("evstore %s\n", EV_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "evstore: %s: unknown command (append, cat, verify, "
	    "repair, compact or stats)\n", argv[1]);
	usage(EV_EX_USAGE);
}
