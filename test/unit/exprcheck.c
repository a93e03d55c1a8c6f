/*
 * exprcheck.c: a driver for lib/expr.c, for test/60-expr-jq.bats and for
 * trying filters by hand.
 *
 *   exprcheck eval EXPR <NDJSON       one line per input: 1, 0, or
 *                                     "E column N: why"
 *   exprcheck tmpl TEMPLATE <NDJSON   the rendered text, or "E why"
 *   exprcheck paths EXPR              the paths the filter reads
 *   exprcheck gen SEED NEXPR NEVENT DIR
 *                                     generate NEVENT events and NEXPR
 *                                     filters from the grammar
 *                                     (deterministic for a SEED) into
 *                                     DIR/events.ndjson and DIR/exprs.txt
 *                                     (one per line), and evbus's answers
 *                                     into DIR/ours.txt: "X SEQ T" for
 *                                     each pair that passes, "X SEQ E"
 *                                     for each that is an error
 *
 * A compile error exits 65 with the message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

static uint64_t	rng_state;

static void	usage(void) __attribute__((noreturn));
static uint64_t	rnd(void);
static unsigned	pick(unsigned);
static void	gen_string(struct ev_buf *, int);
static void	gen_number(struct ev_buf *);
static void	gen_value(struct ev_buf *, int);
static void	gen_event(struct ev_buf *, unsigned);
static void	gen_path(struct ev_buf *, int);
static void	gen_literal(struct ev_buf *);
static void	gen_regex(struct ev_buf *);
static void	gen_strpath(struct ev_buf *);
static void	gen_func(struct ev_buf *);
static void	gen_term(struct ev_buf *, int);
static void	gen_expr(struct ev_buf *, int);
static void	ws(struct ev_buf *);
static int	cmd_eval(const char *);
static int	cmd_tmpl(const char *);
static int	cmd_paths(const char *);
static int	cmd_gen(int, char **);

static void
usage(void)
{
	fprintf(stderr, "usage: exprcheck eval EXPR | tmpl TEMPLATE | "
	    "paths EXPR | gen SEED NEXPR NEVENT DIR\n");
	exit(64);
}

/* splitmix64: small, fast, and the same sequence everywhere. */
static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/*
 * The strings events and filters share, so that comparisons sometimes
 * hold: ASCII, dots, unicode (also escaped, and as a surrogate pair),
 * escapes of quotes, backslashes and control characters.  Each is JSON
 * text without the quotes; a few mean the same with different escapes.
 */
static const char *const strs[] = {
	"", "a", "b", "ab", "abc", "A", "echo", "math", "1.0.0", "2.1.3",
	"cell-7", "cell-3", "c2", "deploy.web", "request.echo.1-0-0.default",
	"x y", "caf\\u00e9", "caf\xc3\xa9", "\xc3\xa9t\xc3\xa9",
	"\\ud83d\\ude00", "\xf0\x9f\x98\x80", "line\\nnext", "tab\\there",
	"q\\\"uote", "back\\\\slash", "sl\\/ash", "sl/ash", "\\u0041",
	"ctl\\u0001", "zz", "Z", "10", "9", "null", "true",
};

/* Keys: the events' fields and some that are never there. */
static const char *const keys[] = {
	"name", "payload", "metadata", "error", "a", "b", "list", "n",
	"system", "cell_id", "x y", "caf\\u00e9", "caf\xc3\xa9", "k",
	"missing", "before", "after", "s", "deep",
};

static const char *const nums[] = {
	"0", "-0", "1", "1.0", "1e2", "100", "1E2", "-1", "2", "0.5",
	"-2.5", "9007199254740993", "9007199254740992", "1e308",
	"-1e308", "123456789012345678", "3.14159", "1e-5", "0.00001",
	"10", "9",
};

static void
gen_string(struct ev_buf *b, int quote)
{
	if (quote)
		ev_buf_putc(b, '"');
	ev_buf_printf(b, "%s", strs[pick(sizeof(strs) / sizeof(strs[0]))]);
	if (quote)
		ev_buf_putc(b, '"');
}

static void
gen_number(struct ev_buf *b)
{
	ev_buf_printf(b, "%s", nums[pick(sizeof(nums) / sizeof(nums[0]))]);
}

/* A random JSON value, nested at most depth more levels. */
static void
gen_value(struct ev_buf *b, int depth)
{
	unsigned i, n, k = pick(depth > 0 ? 10 : 6);

	switch (k) {
	case 0:
		ev_buf_printf(b, "null");
		break;
	case 1:
		ev_buf_printf(b, pick(2) ? "true" : "false");
		break;
	case 2:
	case 3:
		gen_number(b);
		break;
	case 4:
	case 5:
		gen_string(b, 1);
		break;
	case 6:
	case 7:
		n = pick(4);
		ev_buf_putc(b, '[');
		for (i = 0; i < n; i++) {
			if (i > 0)
				ev_buf_printf(b, pick(4) ? "," : " , ");
			gen_value(b, depth - 1);
		}
		ev_buf_putc(b, ']');
		break;
	default:
		n = pick(5);
		ev_buf_putc(b, '{');
		for (i = 0; i < n; i++) {
			if (i > 0)
				ev_buf_putc(b, ',');
			ev_buf_printf(b, "\"%s\":",
			    keys[pick(sizeof(keys) / sizeof(keys[0]))]);
			gen_value(b, depth - 1);
		}
		ev_buf_putc(b, '}');
		break;
	}
}

/* An event: seq first (for the matching), then fields that vary. */
static void
gen_event(struct ev_buf *b, unsigned seq)
{
	unsigned i, n;

	ev_buf_printf(b, "{\"seq\":%u", seq);
	if (pick(8))
		ev_buf_printf(b, ",\"name\":\"%s\"", pick(3) ? "deploy.web" :
		    "request.echo.1-0-0.default");
	if (pick(6)) {
		ev_buf_printf(b, ",\"payload\":");
		if (pick(4)) {
			ev_buf_printf(b, "{\"system\":");
			gen_string(b, 1);
			ev_buf_printf(b, ",\"n\":");
			gen_number(b);
			n = pick(5);
			for (i = 0; i < n; i++) {
				ev_buf_printf(b, ",\"%s\":",
				    keys[pick(sizeof(keys) / sizeof(keys[0]))]);
				gen_value(b, 3);
			}
			ev_buf_putc(b, '}');
		} else
			gen_value(b, 3);
	}
	if (pick(3)) {
		ev_buf_printf(b, ",\"metadata\":");
		gen_value(b, 2);
	}
	if (pick(2))
		ev_buf_printf(b, ",\"error\":%s", pick(2) ? "true" : "false");
	n = pick(4);
	for (i = 0; i < n; i++) {
		ev_buf_printf(b, ",\"%s\":",
		    keys[pick(sizeof(keys) / sizeof(keys[0]))]);
		gen_value(b, 2);
	}
	ev_buf_printf(b, "}\n");
}

/* Optional whitespace between tokens, as a user might type it. */
static void
ws(struct ev_buf *b)
{
	switch (pick(6)) {
	case 0:
		ev_buf_putc(b, ' ');
		break;
	case 1:
		ev_buf_printf(b, "  ");
		break;
	}
}

/*
 * A path: up to three steps of every spelling; from the input (root), or
 * steps after a term (at least one, no '.' before a bracket).
 */
static void
gen_path(struct ev_buf *b, int root)
{
	unsigned i, n = root ? pick(4) : 1 + pick(3);
	const char *k, *lead;
	bool plain;

	if (n == 0) {
		ev_buf_putc(b, '.');
		return;
	}
	for (i = 0; i < n; i++) {
		k = root && i == 0 && pick(2) ? (pick(2) ? "payload" :
		    "metadata") : keys[pick(sizeof(keys) / sizeof(keys[0]))];
		plain = k[0] >= 'a' && k[0] <= 'z' && strchr(k, ' ') == NULL &&
		    strchr(k, '\\') == NULL && strchr(k, '\xc3') == NULL;
		/* Before a bracket: "." first, nothing (or a space) later. */
		lead = i == 0 && root ? "." : pick(5) == 0 ? " " : "";
		switch (pick(8)) {
		case 0:
			/* An event is an object: .[n] on it is an error. */
			if (i == 0 && root && pick(4) != 0) {
				ev_buf_printf(b, ".%s", plain ? k : "payload");
				break;
			}
			ev_buf_printf(b, "%s[%s%d]", lead, pick(2) ? "-" : "",
			    (int)pick(4));
			break;
		case 1:
			ev_buf_printf(b, "%s[\"%s\"]", lead, k);
			break;
		case 2:
			ev_buf_printf(b, "%s.\"%s\"", pick(5) == 0 ? " " : "",
			    k);
			break;
		default:
			if (plain)
				ev_buf_printf(b, "%s.%s", i > 0 &&
				    pick(6) == 0 ? " " : "", k);
			else
				ev_buf_printf(b, ".\"%s\"", k);
			break;
		}
	}
}

/* Numbers as only jq's lexer writes them, and negated literals. */
static const char *const jqnums[] = {
	".5", "1.", "01", "1.e0", "1e+2", "- 1", "-0.5", "-.5", "1e1000",
	"-1e1000", "00", "2.10",
};

static void
gen_literal(struct ev_buf *b)
{
	switch (pick(6)) {
	case 0:
		ev_buf_printf(b, "%s", pick(3) == 0 ? "null" : pick(2) ?
		    "true" : "false");
		break;
	case 1:
		if (pick(3) == 0) {
			ev_buf_printf(b, "%s",
			    jqnums[pick(sizeof(jqnums) / sizeof(jqnums[0]))]);
			break;
		}
		/* FALLTHROUGH */
	case 2:
		gen_number(b);
		break;
	default:
		gen_string(b, 1);
		break;
	}
}

/* Regexes users write, and some with flags' effects to show. */
static void
gen_regex(struct ev_buf *b)
{
	static const char *const re[] = {
		"^deploy\\\\.", "echo", "^a", "b$", "^$", ".", "^.$",
		"\\\\d+", "[0-9]\\\\.[0-9]", "caf\xc3\xa9", "CAF\xc3\x89",
		"^\\\\w+$", "x y", "(?<g>a)b", "a|b", "^c.*7$", "\\\\n",
		"line.next", "^line$", "next$", "\xf0\x9f\x98\x80", "",
		"\\\\p{L}+", "[[:upper:]]", "(a*)*b",
	};
	static const char *const fl[] = {
		"", "i", "x", "s", "g", "n", "l", "p", "m", "gi", "null",
	};
	unsigned f;

	ev_buf_printf(b, "test(\"%s\"", re[pick(sizeof(re) / sizeof(re[0]))]);
	if (pick(3) == 0) {
		f = pick(sizeof(fl) / sizeof(fl[0]));
		if (strcmp(fl[f], "null") == 0)
			ev_buf_printf(b, ";%snull", pick(2) ? " " : "");
		else
			ev_buf_printf(b, ";%s\"%s\"", pick(2) ? " " : "",
			    fl[f]);
	}
	ev_buf_putc(b, ')');
}

/* A path that often leads to a string in the generated events. */
static void
gen_strpath(struct ev_buf *b)
{
	static const char *const sp[] = {
		".name", ".payload.system", ".payload.cell_id", ".metadata",
		".payload[\"x y\"]", ".payload.s", ".payload.list[0]",
		".metadata.a", ".\"name\"", ".payload .system",
	};

	if (pick(4) == 0)
		gen_path(b, 1);
	else
		ev_buf_printf(b, "%s", sp[pick(sizeof(sp) / sizeof(sp[0]))]);
}

/* A function of "." (has, startswith, endswith, test). */
static void
gen_func(struct ev_buf *b)
{
	switch (pick(4)) {
	case 0:
		ev_buf_printf(b, "has(");
		if (pick(3))
			gen_string(b, 1);
		else
			ev_buf_printf(b, "%s%u", pick(3) ? "" : "-", pick(4));
		ev_buf_putc(b, ')');
		break;
	case 1:
		ev_buf_printf(b, "%s(", pick(2) ? "startswith" : "endswith");
		gen_string(b, 1);
		ev_buf_putc(b, ')');
		break;
	default:
		gen_regex(b);
		break;
	}
}

/*
 * A term: a path, a literal, "PATH | function", a function or not of
 * ".", a parenthesized expression (with steps after it sometimes), or a
 * path piped into another term.
 */
static void
gen_term(struct ev_buf *b, int depth)
{
	switch (pick(depth > 0 ? 20 : 15)) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		gen_path(b, 1);
		break;
	case 6: case 7:
		gen_literal(b);
		break;
	case 8: case 9: case 10: case 11:
		if (pick(4) == 0)
			gen_path(b, 1);
		else
			gen_strpath(b);
		ws(b);
		ev_buf_putc(b, '|');
		ws(b);
		gen_func(b);
		break;
	case 12:
		if (pick(3) == 0)
			ev_buf_printf(b, "has(\"%s\")", pick(2) ? "payload" :
			    "metadata");
		else
			gen_func(b);
		break;
	case 13:
		ev_buf_printf(b, "not");
		break;
	case 14:
		gen_path(b, 1);
		ev_buf_printf(b, " | not");
		break;
	case 15: case 16: case 17:
		ev_buf_putc(b, '(');
		gen_expr(b, depth - 1);
		ev_buf_putc(b, ')');
		if (pick(6) == 0)
			gen_path(b, 0);
		break;
	default:
		gen_path(b, 1);
		ws(b);
		ev_buf_printf(b, "|");
		ws(b);
		gen_term(b, depth - 1);
		break;
	}
}

static void
gen_expr(struct ev_buf *b, int depth)
{
	static const char *const cmp[] = {
		"==", "!=", "<", "<=", ">", ">=",
	};

	switch (pick(depth > 0 ? 9 : 4)) {
	case 0:
		gen_term(b, depth);
		break;
	case 1:
	case 2:
	case 3:
		if (pick(2))
			gen_strpath(b);
		else
			gen_term(b, depth);
		ws(b);
		ev_buf_printf(b, "%s", cmp[pick(6)]);
		ws(b);
		if (pick(4))
			gen_literal(b);
		else if (pick(2))
			gen_path(b, 1);
		else
			gen_term(b, depth);
		break;
	case 4:
	case 5:
		gen_expr(b, depth - 1);
		ev_buf_printf(b, pick(2) ? " and " : " or ");
		gen_expr(b, depth - 1);
		break;
	case 6:
		gen_expr(b, depth - 1);
		ws(b);
		ev_buf_printf(b, "| not");
		break;
	case 7:
		gen_expr(b, depth - 1);
		ev_buf_printf(b, " | ");
		gen_expr(b, depth - 1);
		break;
	default:
		ev_buf_putc(b, '(');
		gen_expr(b, depth - 1);
		ev_buf_putc(b, ')');
		break;
	}
}

static int
cmd_eval(const char *src)
{
	struct ev_expr *e;
	struct ev_err err;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r;

	if ((e = ev_expr_compile(src, &err)) == NULL) {
		fprintf(stderr, "exprcheck: %s\n", err.msg);
		return 65;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		if ((r = ev_expr_eval(e, line, (size_t)n, &err)) == -1)
			printf("E %s\n", err.msg);
		else
			printf("%d\n", r);
	}
	free(line);
	ev_expr_free(e);
	return 0;
}

static int
cmd_tmpl(const char *src)
{
	struct ev_tmpl *t;
	struct ev_buf out = { 0 };
	struct ev_err err;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if ((t = ev_tmpl_compile(src, &err)) == NULL) {
		fprintf(stderr, "exprcheck: %s\n", err.msg);
		return 65;
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (line[n - 1] == '\n')
			n--;
		ev_buf_reset(&out);
		if (ev_tmpl_render(t, line, (size_t)n, &out, &err) == -1)
			printf("E %s\n", err.msg);
		else
			printf("%s\n", out.data);
	}
	free(line);
	ev_buf_free(&out);
	ev_tmpl_free(t);
	return 0;
}

static int
cmd_paths(const char *src)
{
	struct ev_expr *e;
	struct ev_err err;
	size_t i;

	if ((e = ev_expr_compile(src, &err)) == NULL) {
		fprintf(stderr, "exprcheck: %s\n", err.msg);
		return 65;
	}
	for (i = 0; i < ev_expr_npaths(e); i++)
		printf("%s\n", ev_expr_path(e, i));
	ev_expr_free(e);
	return 0;
}

/*
 * Generate the events and the filters, and evaluate every pair through
 * one doc per event (the way the daemon will), checking on the way that
 * ev_expr_eval gives the same answers.
 */
static int
cmd_gen(int argc, char **argv)
{
	struct ev_buf ev = { 0 }, ex = { 0 };
	struct ev_expr **e;
	struct ev_expr_doc *doc;
	struct ev_err err;
	FILE *fe, *fx, *fo;
	char path[4096];
	size_t *off, *len, i, j, nexpr, nev;
	int r, r2;

	if (argc != 4)
		usage();
	rng_state = strtoull(argv[0], NULL, 10);
	nexpr = strtoul(argv[1], NULL, 10);
	nev = strtoul(argv[2], NULL, 10);
	if ((off = calloc(nev, sizeof(*off))) == NULL ||
	    (len = calloc(nev, sizeof(*len))) == NULL ||
	    (e = calloc(nexpr, sizeof(*e))) == NULL ||
	    (doc = ev_expr_doc_new()) == NULL) {
		perror("exprcheck");
		return 70;
	}
	for (i = 0; i < nev; i++) {
		off[i] = ev.len;
		gen_event(&ev, (unsigned)i + 1);
		len[i] = ev.len - off[i] - 1;
	}
	snprintf(path, sizeof(path), "%s/events.ndjson", argv[3]);
	if ((fe = fopen(path, "w")) == NULL) {
		perror(path);
		return 74;
	}
	fwrite(ev.data, 1, ev.len, fe);
	fclose(fe);

	snprintf(path, sizeof(path), "%s/exprs.txt", argv[3]);
	if ((fx = fopen(path, "w")) == NULL) {
		perror(path);
		return 74;
	}
	for (i = 0; i < nexpr; i++) {
		ev_buf_reset(&ex);
		gen_expr(&ex, 3);
		if ((e[i] = ev_expr_compile(ex.data, &err)) == NULL) {
			fprintf(stderr, "exprcheck: generated filter %zu "
			    "refused: %s: %s\n", i + 1, ex.data, err.msg);
			return 70;
		}
		fprintf(fx, "%s\n", ex.data);
	}
	fclose(fx);

	snprintf(path, sizeof(path), "%s/ours.txt", argv[3]);
	if ((fo = fopen(path, "w")) == NULL) {
		perror(path);
		return 74;
	}
	for (j = 0; j < nev; j++) {
		if (ev_expr_doc_set(doc, ev.data + off[j], len[j], &err) ==
		    -1) {
			fprintf(stderr, "exprcheck: event %zu: %s\n", j + 1,
			    err.msg);
			return 70;
		}
		for (i = 0; i < nexpr; i++) {
			r = ev_expr_eval_doc(e[i], doc, &err);
			r2 = ev_expr_eval(e[i], ev.data + off[j], len[j], &err);
			if (r != r2) {
				fprintf(stderr, "exprcheck: filter %zu, event "
				    "%zu: %d with the doc, %d without\n",
				    i + 1, j + 1, r, r2);
				return 70;
			}
			if (r != 0)
				fprintf(fo, "%zu %zu %c\n", i + 1, j + 1,
				    r == 1 ? 'T' : 'E');
		}
	}
	if (fclose(fo) == EOF) {
		perror(path);
		return 74;
	}
	for (i = 0; i < nexpr; i++)
		ev_expr_free(e[i]);
	ev_expr_doc_free(doc);
	free(e);
	free(off);
	free(len);
	ev_buf_free(&ev);
	ev_buf_free(&ex);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	if (strcmp(argv[1], "eval") == 0 && argc == 3)
		return cmd_eval(argv[2]);
	if (strcmp(argv[1], "tmpl") == 0 && argc == 3)
		return cmd_tmpl(argv[2]);
	if (strcmp(argv[1], "paths") == 0 && argc == 3)
		return cmd_paths(argv[2]);
	if (strcmp(argv[1], "gen") == 0)
		return cmd_gen(argc - 2, argv + 2);
	usage();
}
