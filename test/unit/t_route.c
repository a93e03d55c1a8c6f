/*
 * t_route.c: evroute's routes text (lib/route.c): every action, where
 * clauses (with "->" inside a string), comments against the '#' pattern,
 * blank lines, continuation lines, errors with NAME:LINE:COLUMN (a
 * filter's and a template's own columns moved onto the line), nothing of
 * a bad text kept, the description that parses again to the same rules,
 * and the index: the rules whose pattern matches a name, in rule order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "tap.h"

/* Parse text as "f"; the description of the rules, or "E:<message>". */
static char *
parse(const char *text)
{
	struct ev_routes rs = { 0 };
	struct ev_buf out = { 0 };
	struct ev_err err;
	char *s;

	if (ev_routes_parse(&rs, text, strlen(text), "f", &err) == -1) {
		if (rs.n != 0)
			printf("# rules left after a failure\n");
		ev_buf_printf(&out, "E:%s", err.msg);
	} else if (ev_routes_describe(&rs, &out) == -1)
		abort();
	ev_routes_free(&rs);
	s = strdup(out.data != NULL ? out.data : "");
	ev_buf_free(&out);
	return s;
}

static void
check(const char *text, const char *want, const char *what)
{
	char *got = parse(text);

	is_str(got, want, "%s", what);
	free(got);
}

static void
test_rules(void)
{
	check("a.b -> stdout", "a.b -> stdout\n", "stdout");
	check("a.* -> stderr\n", "a.* -> stderr\n", "stderr");
	check("  x.# ->   drop  ", "x.# -> drop\n", "drop, blanks around");
	check("x -> file:/tmp/a b", "x -> file:/tmp/a b\n",
	    "file: the rest of the line");
	check("x -> file: out.ndjson", "x -> file:out.ndjson\n",
	    "file: blanks after ':' dropped");
	check("x -> exec:./page.sh --to 'on call' # not a comment",
	    "x -> exec:./page.sh --to 'on call' # not a comment\n",
	    "exec: the command, '#' included");
	check("x -> fire", "x -> fire\n", "fire alone");
	check("request.# -> fire:request.{.payload.system}."
	    "{.payload.system_version|mangle}.{.payload.instance_name}",
	    "request.# -> fire:request.{.payload.system}."
	    "{.payload.system_version|mangle}.{.payload.instance_name}\n",
	    "fire with Beer Garden's template");
	check("*.crashed where .payload.crash_count > 3 -> exec:./p.sh",
	    "*.crashed where .payload.crash_count > 3 -> exec:./p.sh\n",
	    "where");
	check("a where .x == \"1 -> 2\" -> stdout",
	    "a where .x == \"1 -> 2\" -> stdout\n",
	    "'->' inside a string of the filter");
	check("a where .x == \"q\\\"->\" -> drop",
	    "a where .x == \"q\\\"->\" -> drop\n",
	    "an escaped quote in the filter's string");
	check("a ->stdout", "a -> stdout\n", "'->' then the action at once");
	check("a where .x->stdout", "a where .x -> stdout\n",
	    "a filter ends at '->'");
}

static void
test_comments(void)
{
	check("# a comment\n# -> drop\n", "# -> drop\n",
	    "'# ->' is a rule, '# text' a comment");
	check("#comment\n##\n#!x\n\n   \n\t# indented comment\n", "",
	    "comments and blank lines");
	check("# where .error -> stderr", "# where .error -> stderr\n",
	    "'# where' is a rule");
	check("#.crashed -> stderr", "#.crashed -> stderr\n",
	    "a pattern starting '#.' is a rule");
	check("   #   ->   drop", "# -> drop\n", "indented '# ->'");
	check("#-> drop", "E:f:1:2: expected a blank before '->'",
	    "'#->' is a rule without its blank: an error, not a comment");
	check("# this goes to -> nowhere", "",
	    "a comment may hold '->' further on");
	check("# where the logs go", "E:f:1:20: expected '->' and an action "
	    "after the filter",
	    "'# where ...' reads as a rule: an error, never silent");
}

static void
test_continuation(void)
{
	check("a \\\n  where .x \\\n  -> stdout\n",
	    "a where .x -> stdout\n", "a rule over three lines");
	check("a -> exec:echo \\   \n one", "a -> exec:echo      one\n",
	    "blanks after the '\\'");
	check("# comment \\\n a -> stdout\nb -> drop", "b -> drop\n",
	    "a comment goes on too");
	check("a -> \\\n\nb -> drop", "E:f:2:1: expected an action after "
	    "'->'", "an empty line ends a continued one");
	check("a -> stdout \\", "E:f:1:13: '\\' at the end of the text: "
	    "nothing to go on with", "continued at the end");
	check("a -> exec:echo \\\\\n  \n", "E:f:1:16: a rule cannot end "
	    "in '\\'", "a rule ending in '\\' (two of them, one a "
	    "continuation)");
	check("a -> stdout \\\n", "E:f:1:13: '\\' at the end of the text: "
	    "nothing to go on with", "continued before the end");
}

static void
test_errors(void)
{
	check("\n\na.b", "E:f:3:4: expected '->' or 'where' after the "
	    "pattern", "nothing after the pattern");
	check("a.b => stdout", "E:f:1:5: expected '->' or 'where' after the "
	    "pattern, not '=>'", "not an arrow");
	check("-> stdout", "E:f:1:1: expected a pattern before '->'",
	    "no pattern");
	check("a->stdout", "E:f:1:2: expected a blank before '->'",
	    "'->' glued to the pattern");
	check("a..b -> stdout", "E:f:1:1: pattern 'a..b': empty token",
	    "a bad pattern");
	check("a ->", "E:f:1:5: expected an action after '->'",
	    "no action");
	check("a -> sdout", "E:f:1:6: unknown action 'sdout' (stdout, "
	    "stderr, drop, file:PATH, exec:CMD, fire or fire:TEMPLATE)",
	    "an unknown action");
	check("a -> stdout now", "E:f:1:13: unexpected 'now' after 'stdout'",
	    "words after stdout");
	check("a -> file:", "E:f:1:11: file: expected a path after ':'",
	    "file without a path");
	check("a -> exec:  ", "E:f:1:11: exec: expected a command after ':'",
	    "exec without a command");
	check("a -> fire:", "E:f:1:11: fire: expected a template after ':'",
	    "fire: without a template");
	check("a -> file /x", "E:f:1:10: expected ':' after 'file' "
	    "(file:PATH)", "file without ':'");
	check("a -> drop:x", "E:f:1:10: 'drop' takes no argument",
	    "drop with an argument");
	check("a -> stdout:x", "E:f:1:12: 'stdout' takes no argument",
	    "stdout with an argument");
	check("a where -> stdout", "E:f:1:9: expected a filter after "
	    "'where'", "an empty filter");
	check("ok -> stdout\n  a.b where .x == -> stdout",
	    "E:f:2:18: expected a value after '=='",
	    "a filter's column, moved onto its line");
	check("a where\\\n   .x ==  -> drop",
	    "E:f:2:9: expected a value after '=='",
	    "a filter's column on a continued line");
	check("a where .b == \"é\" or .b === 2 -> drop",
	    "E:f:1:27: '=' (assignment) is not supported: "
	    "to compare, write '=='",
	    "columns count characters");
	check("a -> fire:x.{.a|trim}", "E:f:1:17: unknown function 'trim' "
	    "(mangle, lower, upper, json, default:TEXT)",
	    "a template's column, moved onto its line");
	check("a -> stdout\nb\x01 -> drop", "E:f:2:2: control character "
	    "0x01", "a control character");
}

/* -e after -f: rules in order; a bad text adds nothing. */
static void
test_sources(void)
{
	struct ev_routes rs = { 0 };
	struct ev_err err;
	const char *f = "a.# -> stdout\n# -> drop\n";

	ok(ev_routes_parse(&rs, f, strlen(f), "routes", &err) == 0,
	    "a file");
	ok(ev_routes_parse(&rs, "b -> stderr", 11, "-e 1", &err) == 0,
	    "an -e after it");
	ok(ev_routes_parse(&rs, "c -> x", 6, "-e 2", &err) == -1,
	    "a bad -e");
	is_str(err.msg, "-e 2:1:6: unknown action 'x' (stdout, stderr, "
	    "drop, file:PATH, exec:CMD, fire or fire:TEMPLATE)",
	    "named by its source");
	is_int(rs.n, 3, "the bad text added nothing");
	is_str(rs.r[2].pat, "b", "rules in order");
	is_str(rs.r[2].src, "-e 1", "a rule knows its source");
	is_int(rs.r[1].line, 2, "and its line");
	ev_routes_free(&rs);
}

static char *
matches(struct ev_routes *rs, const char *name)
{
	const size_t *idx;
	size_t n, i;
	static char buf[256];
	size_t o = 0;

	buf[0] = '\0';
	if (ev_routes_match(rs, name, strlen(name), &idx, &n) == -1)
		return "ENOMEM";
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%zu",
		    i ? "," : "", idx[i]);
	return buf;
}

static void
test_match(void)
{
	struct ev_routes rs = { 0 };
	struct ev_err err;
	const char *f =
	    "# -> drop\n"			/* 0 */
	    "request.# -> stdout\n"		/* 1 */
	    "*.crashed -> stderr\n"		/* 2 */
	    "request.echo.* -> drop\n"		/* 3 */
	    "evbus.# -> stdout\n"		/* 4 */
	    "request.# where .x -> drop\n";	/* 5 */
	int i;

	ok(ev_routes_parse(&rs, f, strlen(f), "m", &err) == 0, "rules");
	is_str(matches(&rs, "request.echo.x"), "0,1,3,5",
	    "every match, in rule order");
	for (i = 0; i < 3; i++)
		is_str(matches(&rs, "request.echo.x"), "0,1,3,5",
		    "again, from the cache (%d)", i);
	is_str(matches(&rs, "web.crashed"), "0,2", "'*' and '#'");
	is_str(matches(&rs, "evbus.started"), "4",
	    "wildcards first do not reach evbus. names");
	is_str(matches(&rs, "other"), "0", "'#' alone");
	ok(ev_routes_parse(&rs, "other -> stdout", 15, "-e 1", &err) == 0,
	    "a rule added later");
	is_str(matches(&rs, "other"), "0,6", "the index rebuilt");
	ev_routes_free(&rs);
}

static void
test_load(void)
{
	struct ev_routes rs = { 0 };
	struct ev_err err;
	char path[] = "/tmp/t_route.XXXXXX";
	FILE *fp;
	int fd;

	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL)
		abort();
	fputs("a -> stdout\n\nb where .x -> nowhere\n", fp);
	fclose(fp);
	ok(ev_routes_load(&rs, path, &err) == -1, "a file with an error");
	ok(strncmp(err.msg, path, strlen(path)) == 0 &&
	    strstr(err.msg, ":3:15: unknown action 'nowhere'") != NULL,
	    "named by its path and place: %s", err.msg);
	unlink(path);
	ok(ev_routes_load(&rs, path, &err) == -1 && err.kind == EV_ERR_SYS,
	    "no such file: %s", err.msg);
	ev_routes_free(&rs);
}

int
main(void)
{
	test_rules();
	test_comments();
	test_continuation();
	test_errors();
	test_sources();
	test_match();
	test_load();
	return tap_done();
}
