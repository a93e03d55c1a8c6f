/*
 * replay.c: a main() for the libFuzzer targets that needs neither clang
 * nor libFuzzer, so that "make check" runs every checked-in input again.
 *
 *   build/test/fuzz_NAME DIR|FILE ...
 *
 * Linked with one test/fuzz/fuzz_NAME.c, it calls LLVMFuzzerInitialize
 * once when the target defines it, then hands every regular file of each
 * directory (in name order, dot files left out), or each file named, to
 * LLVMFuzzerTestOneInput, in a child process of its own with a buffer of
 * exactly the file's size, and prints TAP:
 *
 *   ok 1 - fuzz_event test/fuzz/corpus/fuzz_event/s1
 *   not ok 2 - fuzz_event test/fuzz/corpus/fuzz_event/s2 (signal 6)
 *   1..2
 *
 * An input whose run ends by a signal (a failed assert, abort(), a
 * sanitizer), exits, returns something other than 0 or -1, or takes more
 * than REPLAY_TIMEOUT seconds is a failure; so is a directory without
 * inputs (a target must keep a corpus) or a path that cannot be read.
 * Exits 1 when anything failed, 64 without arguments.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_TIMEOUT	60	/* seconds for one input */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

static const char *prog;
static int ntests, nfailed;

static void	report(int, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	read_file(const char *, uint8_t **, size_t *);
static void	replay_file(const char *);
static void	replay_dir(const char *);
static int	no_dots(const struct dirent *);

/* One TAP line; fmt (may be NULL) says why a failure failed. */
static void
report(int good, const char *path, const char *fmt, ...)
{
	va_list ap;

	ntests++;
	if (!good)
		nfailed++;
	printf("%sok %d - %s %s", good ? "" : "not ", ntests, prog, path);
	if (fmt != NULL) {
		printf(" (");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(")");
	}
	putchar('\n');
	fflush(stdout);
}

/*
 * Read the whole file into a new buffer of exactly its size (at least one
 * byte is allocated), so that a sanitizer sees a read past the input.
 * 0, or -1 with errno.  The caller frees *data.
 */
static int
read_file(const char *path, uint8_t **data, size_t *size)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if ((p = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0) {
			errno = EIO;	/* the file shrank under us */
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	*data = p;
	*size = got;
	return 0;
fail:
	saved = errno;
	free(p);
	close(fd);
	errno = saved;
	return -1;
}

/* Run the target on one file in a child and report how that went. */
static void
replay_file(const char *path)
{
	uint8_t *data;
	size_t size;
	pid_t pid;
	int st, r;

	if (read_file(path, &data, &size) == -1) {
		report(0, path, "cannot read it: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		report(0, path, "fork: %s", strerror(errno));
		free(data);
		return;
	}
	if (pid == 0) {
		alarm(REPLAY_TIMEOUT);
		r = LLVMFuzzerTestOneInput(data, size);
		free(data);
		_exit(r == 0 || r == -1 ? 0 : 3);
	}
	free(data);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			report(0, path, "waitpid: %s", strerror(errno));
			return;
		}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		report(0, path, "still running after %d s", REPLAY_TIMEOUT);
	else if (WIFSIGNALED(st))
		report(0, path, "signal %d", WTERMSIG(st));
	else if (WEXITSTATUS(st) == 3)
		report(0, path, "the target returned neither 0 nor -1");
	else if (WEXITSTATUS(st) != 0)
		report(0, path, "exit status %d", WEXITSTATUS(st));
	else
		report(1, path, NULL);
}

static int
no_dots(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Every regular file of dir, in name order; none at all is a failure. */
static void
replay_dir(const char *dir)
{
	struct dirent **names;
	struct stat st;
	char path[PATH_MAX];
	int n, i, files = 0;

	if ((n = scandir(dir, &names, no_dots, alphasort)) == -1) {
		report(0, dir, "cannot list it: %s", strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name) >= (int)sizeof(path))
			report(0, dir, "a name too long in it");
		else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			files++;
			replay_file(path);
		}
		free(names[i]);
	}
	free(names);
	if (files == 0)
		report(0, dir, "no inputs in it: check in a corpus");
}

int
main(int argc, char **argv)
{
	struct stat st;
	int i;

	if ((prog = strrchr(argv[0], '/')) != NULL)
		prog++;
	else
		prog = argv[0];
	if (argc < 2) {
		fprintf(stderr, "usage: %s corpus-dir|file ...\n", prog);
		return 64;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			replay_dir(argv[i]);
		else
			replay_file(argv[i]);
	}
	printf("1..%d\n", ntests);
	return nfailed != 0;
}
