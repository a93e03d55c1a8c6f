/*
 * t_expr.c: filters and templates (lib/expr.c).  The parser (precedence,
 * every operator, every spelling of a path, literals, errors with their
 * columns), evaluation (kinds, jq's order, missing paths, truthiness,
 * errors), the doc and its cache, and templates.  The answers are jq
 * 1.6's; test/60-expr-jq.bats checks thousands more against jq itself.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"
#include "tap.h"

/* An event most cases read. */
static const char ev[] =
    "{\"name\":\"deploy.web\",\"seq\":12,\"error\":false,"
    "\"payload\":{\"system\":\"echo\",\"n\":1.0,\"big\":1e2,\"neg\":-0,"
    "\"list\":[1,\"two\",{\"x\":\"y\"},null],\"empty\":{},\"nil\":null,"
    "\"t\":true,\"esc\":\"caf\\u00e9 \\\"q\\\"\",\"x y\":5},"
    "\"metadata\":{\"a b\":\"c\",\"caf\\u00e9\":1,\"dup\":1,\"dup\":2},"
    "\"a\":true,\"b\":false,\"c\":false}";

/* Evaluate src on json: 1, 0, -1, or -2 when it does not compile. */
static int
run(const char *src, const char *json)
{
	struct ev_expr *e;
	struct ev_err err;
	int r;

	if ((e = ev_expr_compile(src, &err)) == NULL) {
		printf("# %s: %s\n", src, err.msg);
		return -2;
	}
	r = ev_expr_eval(e, json, strlen(json), &err);
	ev_expr_free(e);
	return r;
}

/* The message of evaluating (or compiling) src on json, "" if none. */
static const char *
msg(const char *src, const char *json)
{
	static struct ev_err err;
	struct ev_expr *e;

	memset(&err, 0, sizeof(err));
	if ((e = ev_expr_compile(src, &err)) == NULL)
		return err.msg;
	if (json != NULL && ev_expr_eval(e, json, strlen(json), &err) != -1)
		err.msg[0] = '\0';
	ev_expr_free(e);
	return err.msg;
}

struct ecase {
	const char	*src;
	int		 want;		/* 1, 0, -1 (error) */
};

/* On ev. */
static const struct ecase cases[] = {
	/* Paths, every spelling. */
	{ ".a", 1 },
	{ ".b", 0 },
	{ ".", 1 },
	{ ".name == \"deploy.web\"", 1 },
	{ ".payload.system == \"echo\"", 1 },
	{ ".payload .system == \"echo\"", 1 },
	{ ". .payload.system == \"echo\"", 1 },
	{ ".payload.\"system\" == \"echo\"", 1 },
	{ ".payload . \"system\" == \"echo\"", 1 },
	{ ".\"payload\".system == \"echo\"", 1 },
	{ ". \"payload\" | .system == \"echo\"", 1 },
	{ ".[\"payload\"][\"system\"] == \"echo\"", 1 },
	{ ".payload[\"system\"] == \"echo\"", 1 },
	{ ".payload [ \"system\" ] == \"echo\"", 1 },
	{ ".metadata[\"a b\"] == \"c\"", 1 },
	{ ".metadata.\"a b\" == \"c\"", 1 },
	{ ".payload[\"x y\"] == 5", 1 },
	{ ".payload.list[0] == 1", 1 },
	{ ".payload.list[1] == \"two\"", 1 },
	{ ".payload.list[2].x == \"y\"", 1 },
	{ ".payload.list[-1] == null", 1 },
	{ ".payload.list[-2].x == \"y\"", 1 },
	{ ".payload.list[-5] == null", 1 },
	{ ".payload.list[4] == null", 1 },
	{ ".payload.list[1.5] == null", 1 },	/* jq 1.6: not an integer */
	{ ".payload.list[1.0] == \"two\"", 1 },
	{ ".payload.list[4294967296] == null", 1 },
	{ ".payload.list[-0] == 1", 1 },
	{ "(.payload).system == \"echo\"", 1 },
	{ "(.payload.list)[2].x == \"y\"", 1 },
	{ ".payload | .list | .[0] == 1", 1 },
	{ ".and == null", 1 },			/* jq 1.6: .and is a field */
	{ ".metadata[\"caf\\u00e9\"] == 1", 1 },
	{ ".metadata[\"caf\xc3\xa9\"] == 1", 1 },
	{ ".metadata.dup == 2", 1 },		/* jq keeps the last */
	/* Missing paths read as null; through null too. */
	{ ".nope", 0 },
	{ ".nope == null", 1 },
	{ ".nope.deeper[3].x == null", 1 },
	{ ".payload.nil.x == null", 1 },
	{ ".payload.nil[0] == null", 1 },
	{ ".payload.empty.x == null", 1 },
	/* Indexing what cannot be indexed is an error, as in jq. */
	{ ".name.x", -1 },
	{ ".name[0]", -1 },
	{ ".payload[0]", -1 },
	{ ".payload.list.x", -1 },
	{ ".payload.n.x", -1 },
	{ ".a.x", -1 },
	{ "\"s\".x", -1 },
	{ "(.a == true).x", -1 },
	{ "null.x == null", 1 },
	/* Literals. */
	{ "true", 1 },
	{ "false", 0 },
	{ "null", 0 },
	{ "0", 1 },				/* jq: 0 is true */
	{ "\"\"", 1 },
	{ "1 == 1.0", 1 },
	{ "1 == 1e0", 1 },
	{ "100 == 1e2", 1 },
	{ "100 == 1E+2", 1 },
	{ ".5 == 0.5", 1 },
	{ "1. == 1", 1 },
	{ "01 == 1", 1 },
	{ "-1 < 0", 1 },
	{ "- 1 == -1", 1 },
	{ "-0 == 0", 1 },
	{ "1e1000 > 1.7976931348623157e308", 1 },
	{ "9007199254740993 == 9007199254740992", 1 },
	{ "\"\\u00e9\" == \"\xc3\xa9\"", 1 },
	{ "\"\\ud83d\\ude00\" == \"\xf0\x9f\x98\x80\"", 1 },
	{ "\"a\\n\\t\\\"\\\\\\/\" == \"a\\u000a\\u0009\\u0022\\u005c/\"", 1 },
	{ "\"\\u0000\" < \"\\u0001\"", 1 },
	/* Every comparison. */
	{ ".payload.n == 1", 1 },
	{ ".payload.n != 1", 0 },
	{ ".payload.n < 2", 1 },
	{ ".payload.n <= 1", 1 },
	{ ".payload.n > 1", 0 },
	{ ".payload.n >= 1", 1 },
	{ ".payload.big == 100", 1 },
	{ ".payload.neg == 0", 1 },
	{ ".payload.neg < 0", 0 },
	{ ".name < \"deploy.webx\"", 1 },
	{ ".name > \"deploy\"", 1 },
	{ ".name >= \"deploy.web\"", 1 },
	{ ".name != \"deploy.web\"", 0 },
	{ ".payload.esc == \"caf\xc3\xa9 \\\"q\\\"\"", 1 },
	{ ".payload.esc < \"caf\xc3\xa9 \\\"r\"", 1 },
	{ ".payload.esc > \"caf\"", 1 },
	/* jq's order across kinds. */
	{ "null < false", 1 },
	{ "false < true", 1 },
	{ "true < 0", 1 },
	{ "-1e308 > true", 1 },
	{ "1e308 < \"\"", 1 },
	{ "\"zzz\" < .payload.list", 1 },
	{ ".payload.list < .payload", 1 },
	{ ".payload.list < .payload.empty", 1 },
	{ ".nope < false", 1 },
	{ "\"10\" < \"9\"", 1 },
	{ "10 > 9", 1 },
	{ "\"Z\" < \"a\"", 1 },
	{ "\"\xc3\xa9\" > \"z\"", 1 },
	{ ".payload == .payload", 1 },
	{ ". == .", 1 },
	{ ".payload.empty == .payload.empty", 1 },
	{ ".payload.empty != .metadata", 1 },
	/* Truthiness, not, and, or. */
	{ ".a and .b", 0 },
	{ ".a or .b", 1 },
	{ ".b or .c", 0 },
	{ ".payload.nil or .payload.t", 1 },
	{ ".payload.nil | not", 1 },
	{ ".payload.n | not", 0 },
	{ ".payload.empty | not", 0 },
	{ ".payload.list | not", 0 },
	{ "not", 0 },
	{ ". | not | not", 1 },
	{ "(.b | not) and .a", 1 },
	{ "(.a == true) | not", 0 },
	/* Short circuits, as jq: the right side is not evaluated. */
	{ ".b and .name.x", 0 },
	{ ".a or .name.x", 1 },
	{ ".a and .name.x", -1 },
	{ ".b or .name.x", -1 },
	/* Precedence: | < or < and < comparisons. */
	{ ".a or .b and .c", 1 },		/* .a or (.b and .c) */
	{ "(.a or .b) and .c", 0 },
	{ ".b and .c or .a", 1 },
	{ ".a == true | not", 0 },		/* (.a == true) | not */
	{ "true or false | not", 0 },		/* (true or false) | not */
	{ ".payload | .system == \"echo\" and .n == 1", 1 },
	{ ".payload | .a", 0 },			/* relative: .payload.a */
	{ ".payload | .system | . == \"echo\"", 1 },
	{ "1 < 2 and 2 < 3", 1 },
	{ "1 < 2 == true", -2 },		/* non-associative */
	/* has. */
	{ "has(\"payload\")", 1 },
	{ "has(\"nope\")", 0 },
	{ ".metadata | has(\"a b\")", 1 },
	{ ".metadata | has(\"caf\xc3\xa9\")", 1 },
	{ ".payload.list | has(0)", 1 },
	{ ".payload.list | has(3)", 1 },
	{ ".payload.list | has(4)", 0 },
	{ ".payload.list | has(-1)", 0 },
	{ ".payload.list | has(1.5)", 1 },	/* (int)1.5 */
	{ ".payload.nil | has(\"a\")", 0 },	/* jq 1.6: null has nothing */
	{ ".nope | has(0)", 0 },
	{ ".payload.list | has(\"a\")", -1 },
	{ "has(0)", -1 },
	{ ".name | has(\"a\")", -1 },
	/* test, startswith, endswith. */
	{ ".name | test(\"^deploy\\\\.\")", 1 },
	{ ".name | test(\"^web\")", 0 },
	{ ".name | test(\"WEB\")", 0 },
	{ ".name | test(\"WEB\"; \"i\")", 1 },
	{ ".name | test(\"WEB\"; \"gi\")", 1 },
	{ ".name | test(\"d e p\"; \"x\")", 1 },
	{ ".name | test(\"web\"; null)", 1 },
	{ ".name | test(\"\")", 1 },
	{ "\"\" | test(\"\"; \"n\")", 0 },
	{ "\"a\\nb\" | test(\"^b\")", 0 },	/* Perl_NG: ^ only at start */
	{ "\"a\\nb\" | test(\"a.b\")", 0 },
	{ "\"a\\nb\" | test(\"a.b\"; \"m\")", 1 },
	{ ".payload.esc | test(\"^caf\xc3\xa9 \\\"q\\\"$\")", 1 },
	{ ".payload.esc | test(\"^.{3}\xc3\xa9\")", 1 },
	{ "\"\xc3\x89\" | test(\"\xc3\xa9\"; \"i\")", 1 },
	{ ".payload.n | test(\"1\")", -1 },
	{ ".nope | test(\"1\")", -1 },
	{ ".name | startswith(\"deploy\")", 1 },
	{ ".name | startswith(\"web\")", 0 },
	{ ".name | startswith(\"\")", 1 },
	{ ".name | endswith(\".web\")", 1 },
	{ ".name | endswith(\"x.deploy.web\")", 0 },
	{ ".payload.esc | startswith(\"caf\xc3\xa9\")", 1 },
	{ ".payload.esc | endswith(\"\\\"q\\\"\")", 1 },
	{ ".payload.n | startswith(\"1\")", -1 },
	{ ".nope | endswith(\"1\")", -1 },
	{ "startswith(\"a\")", -1 },
	/* Comments, and whitespace: spaces, tabs, newlines. */
	{ ".a # a comment\n and\t.a", 1 },
	/* where: more precedence -- and binds tighter than or, both
	   looser than the comparisons, | loosest of all. */
	{ ".b or .a and .c", 0 },		/* .b or (.a and .c) */
	{ ".c and .a or .a", 1 },		/* (.c and .a) or .a */
	{ ".a and .b | not", 1 },		/* (.a and .b) | not */
	{ ".a == .b or .c == .c", 1 },
	{ ".a == (.b or .a)", 1 },
	{ "(.a | not) == false", 1 },
	{ ".payload | .n == 1 | not", 0 },
	{ ".payload.n == 1 and .name == \"deploy.web\" or .nope", 1 },
	{ ".b and .c or .b and .a or .a and .a", 1 },
	{ "(((.a)))", 1 },
	/* where: kinds compared across each other and missing paths. */
	{ "\"1\" == 1", 0 },
	{ "\"1\" > 1", 1 },
	{ ".payload.list > \"zzz\"", 1 },
	{ ".payload.t == true", 1 },
	{ ".payload.t < .payload.n", 1 },
	{ "false == null", 0 },
	{ ".payload.nil == .nope", 1 },
	{ ".payload.nil < false", 1 },
	{ ".nope < 0", 1 },
	{ ".nope == false", 0 },
	{ ".nope != null", 0 },
	{ ".nope.x.y", 0 },
	{ ".nope[0] == null", 1 },
	{ ".nope | not", 1 },
	{ ".payload.empty[\"x\"] == null", 1 },
	{ ".payload.list[10].x == null", 1 },
	{ ".payload.list[2].nope.deeper == null", 1 },
	{ ".payload.list[3].x == null", 1 },	/* through a null element */
	{ ".payload.list[1] < .payload.list", 1 },
};

static void
test_cases(void)
{
	char d[128], *p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* A description on one line, without a TAP directive. */
		snprintf(d, sizeof(d), "%s", cases[i].src);
		for (p = d; *p != '\0'; p++)
			if (*p == '\n' || *p == '#')
				*p = ' ';
		is_int(run(cases[i].src, ev), cases[i].want, "%s", d);
	}
}

struct mcase {
	const char	*src;
	const char	*msg;
};

/* Compile errors, with the column where the text stops making sense. */
static const struct mcase cerrs[] = {
	{ "", "column 1: expected a value" },
	{ "   ", "column 4: expected a value" },
	{ ".payload.x ==", "column 14: expected a value after '=='" },
	{ ".payload.x == ", "column 15: expected a value after '=='" },
	{ ".a and", "column 7: expected a value after 'and'" },
	{ ".a or )", "column 7: expected a value after 'or', found ')'" },
	{ ".a |", "column 5: expected a value after '|'" },
	{ "(", "column 2: expected a value after '('" },
	{ "(.a", "column 4: expected ')' to close the '(' at column 1" },
	{ "(.a or .b", "column 10: expected ')' to close the '(' at column 1" },
	{ ".a)", "column 3: unmatched ')'" },
	{ ".a]", "column 3: unmatched ']'" },
	{ ".a .b .c x", "column 10: expected an operator or the end, "
	    "found 'x'" },
	{ ". a", "column 3: expected an operator or the end, found 'a'" },
	{ ".a == 1 == 2", "column 9: comparisons do not chain in jq: join "
	    "them with 'and'" },
	{ ".a = 1", "column 4: '=' (assignment) is not supported: to "
	    "compare, write '=='" },
	{ ".a |= 1", "column 4: '|=' (update-assignment) is not supported" },
	{ "!.a", "column 1: '!' is not jq's: to negate, write 'EXPR | not'" },
	{ ".a + 1", "column 4: arithmetic ('+') is not supported" },
	{ ".a - 1", "column 4: expected an operator or the end, found '-'" },
	{ "-.a", "column 1: '-' is supported only before a number "
	    "(arithmetic is not)" },
	{ ".a // 1", "column 4: '//' (alternative) is not supported" },
	{ ".a, .b", "column 3: ',' (several outputs) is not supported: to "
	    "require both, write 'and'" },
	{ ".a?", "column 3: '?' is not supported" },
	{ "$x", "column 1: variables ('$') are not supported" },
	{ "@base64", "column 1: formats ('@') are not supported" },
	{ "{a: 1}", "column 1: object construction ('{') is not supported" },
	{ "..", "column 1: '..' (recursive descent) is not supported" },
	{ ".[]", "column 2: '[]' (iteration) is not supported" },
	{ ".a[1:2]", "column 5: slices (':') are not supported" },
	{ ".a[.b]", "column 4: expected a string or a number as the index "
	    "(other expressions are not supported), found '.b'" },
	{ ".a.[0]", "column 3: '.[' is not jq 1.6's: write .a[0] or "
	    ".a[\"k\"]" },
	{ ".a.", "column 4: expected a name or a string after '.'" },
	{ ".a | length", "column 6: 'length' is not supported (evbus's "
	    "filters are a subset of jq: see evbus(7))" },
	{ "if .a then 1 else 2 end", "column 1: 'if' is not supported "
	    "(evbus's filters are a subset of jq: see evbus(7))" },
	{ "\"abc", "column 1: unterminated string" },
	{ "\"a\\(.b)\"", "column 3: string interpolation '\\(' is not "
	    "supported" },
	{ "\"a\\q\"", "column 3: invalid escape '\\q' in a string" },
	{ "\"\\u12\"", "column 2: invalid \\u escape" },
	{ "\"\\ud800\"", "column 2: invalid \\u escape: a lone surrogate" },
	{ "\"\\udc00\"", "column 2: invalid \\u escape: a lone surrogate" },
	{ "\"\xff\"", "column 2: invalid UTF-8" },
	{ "\xc3\xa9", "column 1: unexpected character '\xc3\xa9'" },
	{ "\"\xc3\xa9\" == \xe2\x82\xac",
	    "column 8: unexpected character '\xe2\x82\xac'" },
	{ ".a ==\r1", "column 6: jq allows only spaces, tabs and newlines "
	    "between tokens" },
	{ "has(.a)", "column 5: expected a string or a number (has() takes "
	    "a literal key), found '.a'" },
	{ "has", "column 4: expected '(' and the argument" },
	{ "has(\"a\"; \"b\")", "column 8: expected ')', found ';'" },
	{ "test(1)", "column 6: expected a string (test() takes a literal), "
	    "found '1'" },
	{ "test(\"a\"; 1)", "column 11: expected a string of flags or null, "
	    "found '1'" },
	{ "test(\"a\"; \"z\")", "column 11: not a valid string of test() "
	    "flags (g i x n s p l m)" },
	{ "test(\"a\"; \"i\\u0000\")", "column 11: not a valid string of "
	    "test() flags (g i x n s p l m)" },
	{ "test(\"(\")", "column 6: invalid regex: end pattern with "
	    "unmatched parenthesis" },
	{ "startswith(.a)", "column 12: expected a string (startswith() "
	    "takes a literal), found '.a'" },
	{ "endswith(\"a\"", "column 13: expected ')'" },
	{ "and", "column 1: expected a value, found 'and'" },
	{ ".a and or", "column 8: expected a value after 'and', found 'or'" },
	{ "not not", "column 5: expected an operator or the end, "
	    "found 'not'" },
	{ "\"a\" \"b\"", "column 5: expected an operator or the end, "
	    "found '\"b\"'" },
	{ ".a .b 1", "column 7: expected an operator or the end, "
	    "found '1'" },
	{ "1 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "column 3: expected an operator or the end, found "
	    "'xxxxxxxxxxxxxxxxxxxxxxxx...'" },
	/* where: columns inside parentheses, across lines, in characters. */
	{ ".a or (.b and )", "column 15: expected a value after 'and', "
	    "found ')'" },
	{ "\"\xc3\xa9\" == 1 == 2", "column 10: comparisons do not chain in "
	    "jq: join them with 'and'" },
	{ ".a == \"x\" and .b.c | not)", "column 25: unmatched ')'" },
	{ ".a == 1 or", "column 11: expected a value after 'or'" },
	{ "not(.a)", "column 4: expected an operator or the end, found '('" },
	{ ".payload.\xc3\xa9", "column 10: unexpected character "
	    "'\xc3\xa9'" },
};

/* Errors raised while evaluating, on ev. */
#define E2	"\xc3\xa9\xc3\xa9"		/* two e-acute */
#define E10	E2 E2 E2 E2 E2
static const struct mcase eerrs[] = {
	{ ".name.x", "column 6: cannot index string with string \"x\"" },
	{ ".name | .x", "column 9: cannot index string with string \"x\"" },
	{ ".payload[0]", "column 9: cannot index object with number" },
	{ ".payload.list.x", "column 14: cannot index array with string "
	    "\"x\"" },
	{ ".payload.list[1][0]", "column 17: cannot index string with "
	    "number" },
	{ ".a.b", "column 3: cannot index boolean with string \"b\"" },
	{ ".payload.n[\"a\\\"b\"]", "column 11: cannot index number with "
	    "string \"a\\\"b\"" },
	{ ".payload | has(0)", "column 12: cannot check whether object has "
	    "a number key" },
	{ ".payload.list | has(\"a\")", "column 17: cannot check whether "
	    "array has a string key" },
	{ ".payload.n | test(\"a\")", "column 14: cannot match number, as it "
	    "is not a string" },
	{ ".nope | startswith(\"a\")", "column 9: startswith() requires "
	    "string inputs, not null" },
	{ ".a | endswith(\"a\")", "column 6: endswith() requires string "
	    "inputs, not boolean" },
	/* where: the column of the step that fails, after pipes. */
	{ ".payload | .list | .x", "column 20: cannot index array with "
	    "string \"x\"" },
	{ "has(\"a\") and .a[0]", "column 16: cannot index boolean with "
	    "number" },
	{ ".nope or .payload.list[0].x", "column 26: cannot index number "
	    "with string \"x\"" },
	/* A long key is cut, an escape never in two (found by fuzzing). */
	{ ".name[\"\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
	    "\\u0001\\u0001\\u0001\\u0001\"]", "column 6: cannot index string "
	    "with string \"\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
	    "\\u0001\\u0001...\"" },
	{ ".name[\"" E10 E10 E10 "\"]", "column 6: cannot index string with "
	    "string \"" E10 E10 E2 E2 E2 "...\"" },
};

static void
test_messages(void)
{
	size_t i;

	for (i = 0; i < sizeof(cerrs) / sizeof(cerrs[0]); i++)
		is_str(msg(cerrs[i].src, NULL), cerrs[i].msg,
		    "compile error: %s", cerrs[i].src);
	for (i = 0; i < sizeof(eerrs) / sizeof(eerrs[0]); i++)
		is_str(msg(eerrs[i].src, ev), eerrs[i].msg, "eval error: %s",
		    eerrs[i].src);
}

/* where: a column counts characters across lines, from the text's start. */
static void
test_lines(void)
{
	is_str(msg(".a and\n  .b ==", NULL), "column 15: expected a value "
	    "after '=='", "compile error on a second line");
	is_str(msg(".a and\n  .payload.list.x", ev), "column 23: cannot "
	    "index array with string \"x\"", "eval error on a second line");
}

/* The ascending values of jq's order; every pair compares as listed. */
static void
test_order(void)
{
	static const char *const v[] = {
		"null", "false", "true", "-1e308", "-1", "-0.5", "0", "0.5",
		"1", "2", "10", "1e308", "\"\"", "\"A\"", "\"a\"", "\"ab\"",
		"\"b\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "[]", "[null]",
		"[1]", "[1,null]", "[1,2]", "[2]", "[\"a\"]", "[[]]", "{}",
		"{\"a\":2}", "{\"a\":1,\"b\":0}", "{\"a\":2,\"b\":0}",
		"{\"a\":1,\"c\":0}", "{\"b\":0}", "{\"b\":[1]}",
	};
	size_t n = sizeof(v) / sizeof(v[0]), i, j;
	struct ev_expr *lt, *eq, *gt;
	struct ev_buf doc = { 0 };
	struct ev_err err;
	bool good = true;

	lt = ev_expr_compile(".x < .y", &err);
	eq = ev_expr_compile(".x == .y", &err);
	gt = ev_expr_compile(".x > .y", &err);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			ev_buf_reset(&doc);
			ev_buf_printf(&doc, "{\"x\":%s,\"y\":%s}", v[i], v[j]);
			if (ev_expr_eval(lt, doc.data, doc.len, &err) !=
			    (i < j) || ev_expr_eval(eq, doc.data, doc.len,
			    &err) != (i == j) || ev_expr_eval(gt, doc.data,
			    doc.len, &err) != (i > j)) {
				printf("# wrong order: %s %s\n", v[i], v[j]);
				good = false;
			}
		}
	ok(good, "jq's order over %zu values, every pair", n);

	/* The same values written otherwise are equal. */
	is_int(run(".x == .y", "{\"x\":[1, {\"a\" : 1.0 ,\"b\":[]}],"
	    "\"y\":[1.0,{\"b\":[ ],\"a\":1e0}]}"), 1,
	    "arrays and objects equal whatever the spelling and key order");
	is_int(run(".x == .y", "{\"x\":{\"a\":1,\"a\":2},\"y\":{\"a\":2}}"),
	    1, "an object's duplicate key: the last counts");
	is_int(run(".x < .y", "{\"x\":{\"k\\u0041\":1},\"y\":{\"kB\":1}}"),
	    1, "object keys compared decoded");
	ev_buf_free(&doc);
	ev_expr_free(lt);
	ev_expr_free(eq);
	ev_expr_free(gt);
}

/* Objects with many members, long strings: the paths that allocate. */
static void
test_big(void)
{
	struct ev_buf b = { 0 }, s = { 0 };
	int i;

	ev_buf_printf(&b, "{\"x\":{");
	for (i = 0; i < 40; i++)
		ev_buf_printf(&b, "%s\"k%02d\":%d", i ? "," : "", 39 - i, i);
	ev_buf_printf(&b, "},\"y\":{");
	for (i = 0; i < 40; i++)
		ev_buf_printf(&b, "%s\"k%02d\":%d", i ? "," : "", i,
		    39 - i + (i == 39));
	ev_buf_printf(&b, "}}");
	is_int(run(".x < .y", b.data), 1, "objects of 40 members compared");
	is_int(run(".x == .x", b.data), 1, "an object of 40 equals itself");

	for (i = 0; i < 300; i++)
		ev_buf_printf(&s, "\\u00e9");
	ev_buf_reset(&b);
	ev_buf_printf(&b, "{\"s\":\"%sEND\"}", s.data);
	is_int(run(".s | test(\"^\xc3\xa9+END$\")", b.data), 1,
	    "test() on a long escaped string");
	is_int(run(".s | endswith(\"\xc3\xa9\xc3\xa9" "END\")", b.data), 1,
	    "endswith() on a long escaped string");

	/* More top-level members than the doc's table holds. */
	ev_buf_reset(&b);
	ev_buf_putc(&b, '{');
	for (i = 0; i < 300; i++)
		ev_buf_printf(&b, "\"f%d\":%d,", i, i);
	ev_buf_printf(&b, "\"f5\":\"last\"}");
	is_int(run(".f299 == 299 and .f5 == \"last\"", b.data), 1,
	    "an object of 301 members: walked, the last duplicate counts");

	/* Deep nesting. */
	ev_buf_reset(&b);
	for (i = 0; i < 200; i++)
		ev_buf_printf(&b, "[");
	for (i = 0; i < 200; i++)
		ev_buf_printf(&b, "]");
	ev_buf_reset(&s);
	ev_buf_printf(&s, "{\"a\":%s,\"b\":%s}", b.data, b.data);
	is_int(run(".a == .b", s.data), 1, "200 nested arrays compared");
	ev_buf_free(&b);
	ev_buf_free(&s);
}

/* Inputs other than an event. */
static void
test_inputs(void)
{
	struct ev_expr *e;
	struct ev_err err;

	is_int(run(". == 1.5", " 1.5 "), 1, "a number at the top");
	is_int(run(". == 1e2", "100"), 1, "an integer at the top");
	is_int(run(". == \"\xc3\xa9\"", "\"\\u00e9\""), 1,
	    "an escaped string at the top");
	is_int(run(".[1] == 2", "[1, 2]"), 1, "an array at the top");
	is_int(run(". == null", "null"), 1, "null at the top");
	is_int(run(".a", "null"), 0, ".a on null is null");
	e = ev_expr_compile(".a", &err);
	is_int(ev_expr_eval(e, "{\"a\":", 5, &err), -1, "invalid JSON: -1");
	is_int(err.kind, EV_ERR_DATA, "... EV_ERR_DATA");
	is_str(err.msg, "invalid JSON at byte 6: premature end of input",
	    "... with the scanner's message");
	is_int(ev_expr_eval(e, "", 0, &err), -1, "empty input: -1");
	is_int(ev_expr_eval(e, "{\"a\":1}\n", 8, &err), 1,
	    "a trailing newline is fine");
	ev_expr_free(e);
	/* Whatever the locale says a decimal point is. */
	if (setlocale(LC_ALL, "de_DE.UTF-8") != NULL ||
	    setlocale(LC_ALL, "fr_FR.UTF-8") != NULL) {
		is_int(run(".a == 1.5 and 2.5 > .a", "{\"a\":1.5}"), 1,
		    "numbers read the same in a locale with a decimal comma");
		setlocale(LC_ALL, "C");
	} else
		ok(1, "# skip no locale with a decimal comma");
}

/* The doc: one scan, many filters, the cache kept per event. */
static void
test_doc(void)
{
	static const char e1[] = "{\"payload\":{\"cell_id\":\"c1\"},\"n\":1}";
	static const char e2[] = "{\"payload\":{\"cell_id\":\"c2\"},\"n\":2}";
	static const char e3[] = "{\"payload\":\"text\",\"n\":3}";
	struct ev_expr *f1, *f2, *f3, *f4;
	struct ev_expr_doc *d;
	struct ev_err err;
	int i;

	d = ev_expr_doc_new();
	ok(d != NULL, "ev_expr_doc_new");
	f1 = ev_expr_compile(".payload.cell_id == \"c1\"", &err);
	f2 = ev_expr_compile(".payload[\"cell_id\"] == \"c2\"", &err);
	f3 = ev_expr_compile(".payload.\"cell_id\" | test(\"^c\")", &err);
	f4 = ev_expr_compile(".n > 1 and (.payload | .cell_id != null)",
	    &err);
	is_int(ev_expr_eval_doc(f1, d, &err), -1, "an unset doc: -1");
	for (i = 0; i < 2; i++) {
		ok(ev_expr_doc_set(d, e1, strlen(e1), &err) == 0, "set e1");
		is_int(ev_expr_eval_doc(f1, d, &err), 1, "f1 on e1");
		is_int(ev_expr_eval_doc(f2, d, &err), 0, "f2 on e1 (cached)");
		is_int(ev_expr_eval_doc(f3, d, &err), 1, "f3 on e1 (cached)");
		is_int(ev_expr_eval_doc(f4, d, &err), 0, "f4 on e1");
		ok(ev_expr_doc_set(d, e2, strlen(e2), &err) == 0, "set e2");
		is_int(ev_expr_eval_doc(f2, d, &err), 1,
		    "f2 on e2: nothing of e1 is left in the cache");
		is_int(ev_expr_eval_doc(f1, d, &err), 0, "f1 on e2");
		is_int(ev_expr_eval_doc(f4, d, &err), 1, "f4 on e2");
		ok(ev_expr_doc_set(d, e3, strlen(e3), &err) == 0, "set e3");
		is_int(ev_expr_eval_doc(f1, d, &err), -1, "f1 on e3: error");
		is_str(err.msg, "column 9: cannot index string with string "
		    "\"cell_id\"", "... its message");
		is_int(ev_expr_eval_doc(f1, d, &err), -1, "again: error");
		is_int(ev_expr_eval_doc(f4, d, &err), -1, "f4 on e3: error");
	}
	is_int(ev_expr_doc_set(d, "{", 1, &err), -1, "an invalid text");
	is_int(ev_expr_eval_doc(f1, d, &err), -1, "then evaluating fails");
	is_str(err.msg, "no valid JSON text to evaluate", "... saying so");

	is_int((int)ev_expr_npaths(f4), 2, "f4 reads two paths");
	is_str(ev_expr_path(f4, 0), ".n", "... .n");
	is_str(ev_expr_path(f4, 1), ".payload", "... and .payload");
	ok(ev_expr_path(f4, 2) == NULL, "... and no third");
	ev_expr_free(f1);
	ev_expr_free(f2);
	ev_expr_free(f3);
	ev_expr_free(f4);
	ev_expr_doc_free(d);
	ev_expr_doc_free(NULL);
	ev_expr_free(NULL);
}

/* The canonical text of the paths a filter reads. */
static void
test_paths(void)
{
	static const struct {
		const char	*src;
		const char	*paths;
	} pc[] = {
		{ ".a.b[0][\"x y\"] == .a.\"b\"[0].\"x y\"",
		    ".a.b[0][\"x y\"]" },
		{ ".[\"a\"] and .[0] and .[-1]", ".a .[0] .[-1]" },
		{ ".[\"\\u00e9\\\"\\n\"]", ".[\"\xc3\xa9\\\"\\u000a\"]" },
		{ "(.a | .b) or .c", ".a .c" },
		{ "(.a).b", ".a" },
		{ ". == 1 or \"x\" or has(\"k\")", "" },
		{ ".payload.n1 | test(\"x\")", ".payload.n1" },
	};
	struct ev_buf b = { 0 };
	struct ev_expr *e;
	struct ev_err err;
	size_t i, j;

	for (i = 0; i < sizeof(pc) / sizeof(pc[0]); i++) {
		ev_buf_reset(&b);
		ev_buf_putc(&b, '\0');
		ev_buf_reset(&b);
		if ((e = ev_expr_compile(pc[i].src, &err)) == NULL) {
			ok(0, "%s: %s", pc[i].src, err.msg);
			continue;
		}
		for (j = 0; j < ev_expr_npaths(e); j++)
			ev_buf_printf(&b, "%s%s", j ? " " : "",
			    ev_expr_path(e, j));
		is_str(b.data, pc[i].paths, "paths of %s", pc[i].src);
		ev_expr_free(e);
	}
	ev_buf_free(&b);
}

/* Render src on json: the text, or "E message", or "C message". */
static const char *
render(const char *src, const char *json)
{
	static struct ev_buf out;
	struct ev_tmpl *t;
	struct ev_err err;

	ev_buf_reset(&out);
	ev_buf_printf(&out, "keep:");
	if ((t = ev_tmpl_compile(src, &err)) == NULL) {
		ev_buf_reset(&out);
		ev_buf_printf(&out, "C %s", err.msg);
		return out.data;
	}
	if (ev_tmpl_render(t, json, strlen(json), &out, &err) == -1) {
		if (strcmp(out.data, "keep:") != 0)
			printf("# output changed on failure: %s\n", out.data);
		ev_buf_reset(&out);
		ev_buf_printf(&out, "E %s", err.msg);
	} else
		ev_buf_consume(&out, 5);
	ev_tmpl_free(t);
	return ev_buf_head(&out);
}

static void
test_templates(void)
{
	static const struct {
		const char	*src;
		const char	*want;
	} tc[] = {
		{ "", "" },
		{ "plain text", "plain text" },
		{ "{.seq} {.name} {.payload.system}",
		    "12 deploy.web echo" },
		{ "request.{.payload.system}.{.payload.n|mangle}",
		    "request.echo.1-0" },
		{ "{.payload.n}|{.payload.big}|{.payload.neg}",
		    "1.0|1e2|-0" },
		{ "{.a} {.b} {.payload.nil} {.payload.t}",
		    "true false null true" },
		{ "{.payload.esc}", "caf\xc3\xa9 \"q\"" },
		{ "{.payload.esc|json}", "\"caf\\u00e9 \\\"q\\\"\"" },
		{ "{.name|json}", "\"deploy.web\"" },
		{ "{.payload.n|json}", "1.0" },
		{ "{.payload.list}", "[1,\"two\",{\"x\":\"y\"},null]" },
		{ "{.payload.list|json}", "[1,\"two\",{\"x\":\"y\"},null]" },
		{ "{.metadata}", "{\"a b\":\"c\",\"caf\\u00e9\":1,\"dup\":1,"
		    "\"dup\":2}" },
		{ "{.payload.list[2]}", "{\"x\":\"y\"}" },
		{ "{.metadata[\"a b\"]}{.payload.\"x y\"}", "c5" },
		{ "{.name|upper}", "DEPLOY.WEB" },
		{ "{.name|upper|lower}", "deploy.web" },
		{ "{.name|upper|mangle}", "DEPLOY-WEB" },
		{ "{.payload.esc|upper}", "CAF\xc3\xa9 \"Q\"" },
		{ "{ .name | mangle }", "deploy-web" },
		{ "{.nope|default:-}", "-" },
		{ "{.nope|default:}", "" },
		{ "{.payload.nil|default:none}", "none" },
		{ "{.name.x|default:n/a}", "n/a" },
		{ "{.name|default:unused}", "deploy.web" },
		{ "{.nope|upper|default:A b|c\\}d}", "A b|c}d" },
		{ "{.payload.nil}", "null" },
		{ "{.nope}", "E missing .nope" },
		{ "{.payload.list[9]}", "E missing .payload.list[9]" },
		{ "{.payload.nil.x}", "E missing .payload.nil.x" },
		{ "{.name.x}", "E .name.x: cannot index string with string "
		    "\"x\"" },
		{ "{.payload[0]}", "E .payload[0]: cannot index object with "
		    "number" },
		{ "a\\tb\\nc\\\\d\\{e\\}f\\r", "a\tb\nc\\d{e}f\r" },
		{ "{.seq}{", "C column 7: unterminated '{'" },
		{ "{.seq", "C column 1: unterminated '{'" },
		{ "{.seq|lower", "C column 1: unterminated '{'" },
		{ "}", "C column 1: unmatched '}' (write \\} for a brace)" },
		{ "{}", "C column 2: expected a path (such as .name) after "
		    "'{', found '}'" },
		{ "{name}", "C column 2: expected a path (such as .name) "
		    "after '{', found 'name'" },
		{ "{.a == 1}", "C column 5: expected '|' or '}' after the "
		    "path, found '=='" },
		{ "{.a|trim}", "C column 5: unknown function 'trim' (mangle, "
		    "lower, upper, json, default:TEXT)" },
		{ "{.a|lower|json}", "C column 11: json must come first" },
		{ "{.a|lower x}", "C column 11: expected '|' or '}'" },
		{ "x\\q", "C column 2: unknown escape (\\t \\n \\r \\\\ \\{ "
		    "\\} are known)" },
		{ "x\\", "C column 2: a '\\' at the end" },
		{ "{.a.[0]}", "C column 4: '.[' is not jq 1.6's: write .a[0] "
		    "or .a[\"k\"]" },
		{ "{.a|default:\\x}", "C column 13: unknown escape (\\t \\n "
		    "\\r \\\\ \\{ \\} are known)" },
	};
	size_t i;

	for (i = 0; i < sizeof(tc) / sizeof(tc[0]); i++)
		is_str(render(tc[i].src, ev), tc[i].want, "template %s",
		    tc[i].src);
	/* {.} is the whole input, compact. */
	is_str(render("{.}", "{ \"a\" : [ 1 , \"x y\" ] }"),
	    "{\"a\":[1,\"x y\"]}", "{.}: the whole event, compact");
	is_str(render("{.}", " \"a\\tb\" "), "a\tb", "{.} of a string");
	is_str(render("{.}", "1.50"), "1.50", "{.} of a number, as written");
	is_str(render("{.a}", "{\"a\":"), "E invalid JSON at byte 6: "
	    "premature end of input", "invalid JSON");
}

/* A template on a doc shares what filters located in it. */
static void
test_tmpl_doc(void)
{
	static const char e1[] = "{\"p\":{\"s\":\"a.b\"}}";
	struct ev_expr_doc *d = ev_expr_doc_new();
	struct ev_tmpl *t;
	struct ev_expr *e;
	struct ev_buf out = { 0 };
	struct ev_err err;

	t = ev_tmpl_compile("{.p.s|mangle}:{.p.s}", &err);
	e = ev_expr_compile(".p.s == \"a.b\"", &err);
	ev_expr_doc_set(d, e1, strlen(e1), &err);
	is_int(ev_expr_eval_doc(e, d, &err), 1, "the filter on the doc");
	ok(ev_tmpl_render_doc(t, d, &out, &err) == 0, "the template too");
	is_str(out.data, "a-b:a.b", "... with the same value");
	ev_tmpl_free(t);
	ev_tmpl_free(NULL);
	ev_expr_free(e);
	ev_expr_doc_free(d);
	ev_buf_free(&out);
}

/*
 * evroute's reading of a doc: a top-level string member, decoded, and
 * Beer Garden's routing key rendered from the same doc.
 */
static void
test_doc_string(void)
{
	static const char bg[] = "{\"name\":\"beergarden.request\","
	    "\"payload\":{\"system\":\"echo\",\"system_version\":\"1.0.0\","
	    "\"instance_name\":\"default\"}}";
	static const char esc[] = "{\"name\":\"a\\u002eb\",\"name2\":1}";
	static const char twice[] = "{\"name\":\"x\",\"name\":\"y\"}";
	struct ev_expr_doc *d = ev_expr_doc_new();
	struct ev_tmpl *t;
	struct ev_buf out = { 0 };
	struct ev_err err;
	const char *s;
	size_t len;

	ev_expr_doc_set(d, bg, strlen(bg), &err);
	ok(ev_expr_doc_string(d, "name", 4, &s, &len, &err) == 0 &&
	    len == 18 && memcmp(s, "beergarden.request", 18) == 0,
	    "doc_string: the name");
	t = ev_tmpl_compile("request.{.payload.system}."
	    "{.payload.system_version|mangle}.{.payload.instance_name}", &err);
	ok(t != NULL && ev_tmpl_render_doc(t, d, &out, &err) == 0,
	    "Beer Garden's routing key renders");
	is_str(out.data, "request.echo.1-0-0.default",
	    "... with the version's dots mangled");
	ok(ev_expr_doc_string(d, "payload", 7, &s, &len, &err) == -1 &&
	    strcmp(err.msg, "payload: not a string") == 0,
	    "doc_string: not a string: %s", err.msg);
	ok(ev_expr_doc_string(d, "id", 2, &s, &len, &err) == -1 &&
	    strcmp(err.msg, "id: missing") == 0, "doc_string: missing");
	ev_expr_doc_set(d, esc, strlen(esc), &err);
	ok(ev_expr_doc_string(d, "name", 4, &s, &len, &err) == 0 &&
	    len == 3 && memcmp(s, "a.b", 3) == 0, "doc_string: decoded");
	ev_expr_doc_set(d, twice, strlen(twice), &err);
	ok(ev_expr_doc_string(d, "name", 4, &s, &len, &err) == 0 &&
	    len == 1 && *s == 'y', "doc_string: the last of two, as jq");
	ev_expr_doc_set(d, "[1]", 3, &err);
	ok(ev_expr_doc_string(d, "name", 4, &s, &len, &err) == -1 &&
	    strcmp(err.msg, "not a JSON object (an array)") == 0,
	    "doc_string: not an object: %s", err.msg);
	ok(ev_expr_doc_set(d, "{", 1, &err) == -1 &&
	    ev_expr_doc_string(d, "name", 4, &s, &len, &err) == -1,
	    "doc_string: no valid text");
	ev_tmpl_free(t);
	ev_expr_doc_free(d);
	ev_buf_free(&out);
}

int
main(void)
{
	test_doc_string();
	test_cases();
	test_messages();
	test_lines();
	test_order();
	test_big();
	test_inputs();
	test_doc();
	test_paths();
	test_templates();
	test_tmpl_doc();
	return tap_done();
}
