/*
 * store_sqlite: what a user would otherwise do to keep evbus's events:
 * put them in SQLite.  The comparison for evstore in bench/store.sh.
 *
 *	store_sqlite insert DB [BATCH] < events.ndjson
 *
 * Each line is an event as the bus stamped it ({"seq":N,"id":..., with
 * a "time"); it becomes a row (seq INTEGER PRIMARY KEY, time, body), with
 * an index on time, in a database in WAL mode with synchronous=FULL,
 * BATCH rows (default 1000, evstore's group commit) a transaction.  So
 * every transaction is durable when COMMIT returns, as every group of
 * evstore's records is after its fsync.  The seq and the time are taken
 * from the line with a plain search, no JSON check: SQLite is spared the
 * validation that evstore does on every line.
 *
 * "sqlite3 DB 'select body from ev'" prints the lines back, as
 * "evstore cat" does.  Exits 0, 64 on bad usage, 65 on a line without
 * seq or time, 74 when SQLite fails.
 */
#define _GNU_SOURCE		/* memmem */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

static void	usage(void) __attribute__((noreturn));
static void	fail(sqlite3 *, const char *) __attribute__((noreturn));
static int	field(const char *, size_t, const char *, long long *);

static void
usage(void)
{
	fprintf(stderr, "usage: store_sqlite insert DB [BATCH] "
	    "< events.ndjson\n");
	exit(64);
}

static void
fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "store_sqlite: %s: %s\n", what, sqlite3_errmsg(db));
	exit(74);
}

/* The integer after the first "key": in line; -1 when there is none. */
static int
field(const char *line, size_t len, const char *key, long long *v)
{
	const char *p = memmem(line, len, key, strlen(key));
	char *end;

	if (p == NULL)
		return -1;
	errno = 0;
	*v = strtoll(p + strlen(key), &end, 10);
	return errno != 0 || end == p + strlen(key) ? -1 : 0;
}

int
main(int argc, char *argv[])
{
	sqlite3 *db;
	sqlite3_stmt *ins;
	char *line = NULL, *errmsg = NULL;
	size_t cap = 0, len;
	ssize_t n;
	long long seq, t, batch = 1000, inbatch = 0, rows = 0;

	if (argc < 3 || argc > 4 || strcmp(argv[1], "insert") != 0)
		usage();
	if (argc == 4 && (batch = strtoll(argv[3], NULL, 10)) <= 0)
		usage();
	if (sqlite3_open(argv[2], &db) != SQLITE_OK)
		fail(db, argv[2]);
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL;"
	    "CREATE TABLE IF NOT EXISTS ev (seq INTEGER PRIMARY KEY, "
	    "time INTEGER NOT NULL, body TEXT NOT NULL);"
	    "CREATE INDEX IF NOT EXISTS ev_time ON ev (time);",
	    NULL, NULL, &errmsg) != SQLITE_OK)
		fail(db, errmsg);
	if (sqlite3_prepare_v2(db, "INSERT INTO ev (seq, time, body) "
	    "VALUES (?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
		fail(db, "prepare");
	while ((n = getline(&line, &cap, stdin)) > 0) {
		len = (size_t)n;
		if (line[len - 1] == '\n')
			len--;
		if (field(line, len, "{\"seq\":", &seq) == -1 ||
		    field(line, len, "\"time\":", &t) == -1) {
			fprintf(stderr, "store_sqlite: line %lld: no seq or "
			    "time\n", rows + 1);
			exit(65);
		}
		if (inbatch == 0 && sqlite3_exec(db, "BEGIN", NULL, NULL,
		    NULL) != SQLITE_OK)
			fail(db, "BEGIN");
		sqlite3_bind_int64(ins, 1, seq);
		sqlite3_bind_int64(ins, 2, t);
		sqlite3_bind_text(ins, 3, line, (int)len, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			fail(db, "INSERT");
		sqlite3_reset(ins);
		rows++;
		if (++inbatch == batch) {
			if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
			    SQLITE_OK)
				fail(db, "COMMIT");
			inbatch = 0;
		}
	}
	if (inbatch > 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK)
		fail(db, "COMMIT");
	sqlite3_finalize(ins);
	if (sqlite3_close(db) != SQLITE_OK)
		fail(db, "close");
	free(line);
	if (ferror(stdin)) {
		perror("store_sqlite: stdin");
		return 74;
	}
	return 0;
}
