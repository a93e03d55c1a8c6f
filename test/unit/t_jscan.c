/*
 * t_jscan.c: the hot-path JSON scanner.  Every accept/reject case is also
 * put to jansson, whose behaviour jscan must match (save NUL bytes, which
 * jscan always refuses).
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"
#include "jscan.h"
#include "tap.h"

#define OK	1
#define BAD	0

struct tcase {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	int		 ok;
	enum ev_jtype	 type;		/* when ok */
	bool		 nul_quirk;	/* jansson accepts, jscan not */
};

static const struct tcase cases[] = {
	/* Structure and whitespace. */
	{ "{}", 0, OK, EV_J_OBJECT, false },
	{ "[]", 0, OK, EV_J_ARRAY, false },
	{ " \t\r\n{ \t\r\n} \t\r\n", 0, OK, EV_J_OBJECT, false },
	{ "{\"a\" : [ 1 , 2 ] }", 0, OK, EV_J_OBJECT, false },
	{ "", 0, BAD, 0, false },
	{ " \n", 0, BAD, 0, false },
	{ "\f{}", 0, BAD, 0, false },
	{ "{}\v", 0, BAD, 0, false },
	{ "\xc2\xa0{}", 0, BAD, 0, false },
	{ "\xef\xbb\xbf{}", 0, BAD, 0, false },
	{ "{} {}", 0, BAD, 0, false },
	{ "1 2", 0, BAD, 0, false },
	{ "{", 0, BAD, 0, false },
	{ "[", 0, BAD, 0, false },
	{ "]", 0, BAD, 0, false },
	{ "[1,]", 0, BAD, 0, false },
	{ "[,1]", 0, BAD, 0, false },
	{ "[1 2]", 0, BAD, 0, false },
	{ "[1}", 0, BAD, 0, false },
	{ "{\"a\":1]", 0, BAD, 0, false },
	{ "{\"a\"}", 0, BAD, 0, false },
	{ "{\"a\":}", 0, BAD, 0, false },
	{ "{\"a\" 1}", 0, BAD, 0, false },
	{ "{,}", 0, BAD, 0, false },
	{ "{\"a\":1,}", 0, BAD, 0, false },
	{ "{1:1}", 0, BAD, 0, false },
	{ "{a:1}", 0, BAD, 0, false },
	{ "{'a':1}", 0, BAD, 0, false },
	{ "{\"a\":1,\"a\":2}", 0, OK, EV_J_OBJECT, false },
	{ "[[[[]]],{},[{}]]", 0, OK, EV_J_ARRAY, false },
	/* Literals. */
	{ "true", 0, OK, EV_J_TRUE, false },
	{ "false", 0, OK, EV_J_FALSE, false },
	{ "null", 0, OK, EV_J_NULL, false },
	{ " null ", 0, OK, EV_J_NULL, false },
	{ "True", 0, BAD, 0, false },
	{ "nul", 0, BAD, 0, false },
	{ "truex", 0, BAD, 0, false },
	{ "[true1]", 0, BAD, 0, false },
	{ "[null,nan]", 0, BAD, 0, false },
	{ "NaN", 0, BAD, 0, false },
	{ "Infinity", 0, BAD, 0, false },
	/* Numbers. */
	{ "0", 0, OK, EV_J_INTEGER, false },
	{ "-0", 0, OK, EV_J_INTEGER, false },
	{ "-0.0", 0, OK, EV_J_REAL, false },
	{ "1E5", 0, OK, EV_J_REAL, false },
	{ "1e05", 0, OK, EV_J_REAL, false },
	{ "1e+5", 0, OK, EV_J_REAL, false },
	{ "2.5e-3", 0, OK, EV_J_REAL, false },
	{ "-", 0, BAD, 0, false },
	{ "+1", 0, BAD, 0, false },
	{ "01", 0, BAD, 0, false },
	{ "-01", 0, BAD, 0, false },
	{ "00", 0, BAD, 0, false },
	{ "1.", 0, BAD, 0, false },
	{ ".5", 0, BAD, 0, false },
	{ "1.e5", 0, BAD, 0, false },
	{ "1e", 0, BAD, 0, false },
	{ "1e+", 0, BAD, 0, false },
	{ "0x10", 0, BAD, 0, false },
	{ "1_000", 0, BAD, 0, false },
	{ "[-]", 0, BAD, 0, false },
	{ "9223372036854775807", 0, OK, EV_J_INTEGER, false },
	{ "-9223372036854775808", 0, OK, EV_J_INTEGER, false },
	{ "9223372036854775808", 0, BAD, 0, false },
	{ "-9223372036854775809", 0, BAD, 0, false },
	{ "10000000000000000000", 0, BAD, 0, false },
	{ "9223372036854775808.0", 0, OK, EV_J_REAL, false },
	{ "1e308", 0, OK, EV_J_REAL, false },
	{ "1.7976931348623157e308", 0, OK, EV_J_REAL, false },
	{ "1.7976931348623158e308", 0, OK, EV_J_REAL, false },
	{ "1.7976931348623158079e308", 0, OK, EV_J_REAL, false },
	{ "1.797693134862315808e308", 0, BAD, 0, false },
	{ "1e309", 0, BAD, 0, false },
	{ "-1e309", 0, BAD, 0, false },
	{ "0.1e310", 0, BAD, 0, false },
	{ "0.01e310", 0, OK, EV_J_REAL, false },
	{ "1e99999999999999999999999", 0, BAD, 0, false },
	{ "0e99999999999999999999999", 0, OK, EV_J_REAL, false },
	{ "0.0000e99999", 0, OK, EV_J_REAL, false },
	{ "1e-400", 0, OK, EV_J_REAL, false },
	{ "4.9e-324", 0, OK, EV_J_REAL, false },
	{ "1e-99999999999999999999999", 0, OK, EV_J_REAL, false },
	{ "0.000001e314", 0, OK, EV_J_REAL, false },
	{ "0.00001e314", 0, BAD, 0, false },
	/* Strings and escapes. */
	{ "\"\"", 0, OK, EV_J_STRING, false },
	{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0, OK, EV_J_STRING, false },
	{ "\"\\u00e9\\u00E9\\uFFFF\"", 0, OK, EV_J_STRING, false },
	{ "\"\\ud83d\\ude00\"", 0, OK, EV_J_STRING, false },
	{ "\"\\uDBFF\\uDFFF\"", 0, OK, EV_J_STRING, false },
	{ "\"\\ud83d\"", 0, BAD, 0, false },
	{ "\"\\ud83dx\"", 0, BAD, 0, false },
	{ "\"\\ud83d\\n\"", 0, BAD, 0, false },
	{ "\"\\ud83d\\u0041\"", 0, BAD, 0, false },
	{ "\"\\ud83d\\ud83d\"", 0, BAD, 0, false },
	{ "\"\\ude00\"", 0, BAD, 0, false },
	{ "\"\\ude00\\ud83d\"", 0, BAD, 0, false },
	{ "\"\\u0000\"", 0, BAD, 0, false },
	{ "{\"\\u0000\":1}", 0, BAD, 0, false },
	{ "\"\\u0001\"", 0, OK, EV_J_STRING, false },
	{ "\"\\u12\"", 0, BAD, 0, false },
	{ "\"\\u00G0\"", 0, BAD, 0, false },
	{ "\"\\U00e9\"", 0, BAD, 0, false },
	{ "\"\\x41\"", 0, BAD, 0, false },
	{ "\"\\'\"", 0, BAD, 0, false },
	{ "\"\\", 0, BAD, 0, false },
	{ "\"abc", 0, BAD, 0, false },
	{ "\"a\tb\"", 0, BAD, 0, false },
	{ "\"a\nb\"", 0, BAD, 0, false },
	{ "\"\x1f\"", 0, BAD, 0, false },
	{ "\"\x7f\"", 0, OK, EV_J_STRING, false },
	/* UTF-8. */
	{ "\"\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\"", 0, OK, EV_J_STRING,
	    false },
	{ "\"\xf4\x8f\xbf\xbf\"", 0, OK, EV_J_STRING, false },
	{ "\"\xee\x80\x80\"", 0, OK, EV_J_STRING, false },
	{ "\"\xc0\x80\"", 0, BAD, 0, false },
	{ "\"\xc1\xbf\"", 0, BAD, 0, false },
	{ "\"\xe0\x80\xaf\"", 0, BAD, 0, false },
	{ "\"\xe0\x9f\xbf\"", 0, BAD, 0, false },
	{ "\"\xed\xa0\x80\"", 0, BAD, 0, false },
	{ "\"\xed\xbf\xbf\"", 0, BAD, 0, false },
	{ "\"\xf0\x8f\xbf\xbf\"", 0, BAD, 0, false },
	{ "\"\xf4\x90\x80\x80\"", 0, BAD, 0, false },
	{ "\"\xf5\x80\x80\x80\"", 0, BAD, 0, false },
	{ "\"\x80\"", 0, BAD, 0, false },
	{ "\"\xbf\"", 0, BAD, 0, false },
	{ "\"\xc3\"", 0, BAD, 0, false },
	{ "\"\xc3", 0, BAD, 0, false },
	{ "\"\xe2\x98\"", 0, BAD, 0, false },
	{ "\"\xc3\x28\"", 0, BAD, 0, false },
	{ "\"\xfe\"", 0, BAD, 0, false },
	{ "\"\xff\"", 0, BAD, 0, false },
	{ "[\"a\"]\xc3\xa9", 0, BAD, 0, false },
	/* NUL bytes: jansson skips one right after a number or literal. */
	{ "\0", 1, BAD, 0, false },
	{ "\"a\0\"", 4, BAD, 0, false },
	{ "{\"a\0\":1}", 8, BAD, 0, false },
	{ "[1,\0 2]", 7, BAD, 0, false },
	{ "{}\0", 3, BAD, 0, false },
	{ "[1\0\0]", 5, BAD, 0, false },
	{ "1\0", 2, BAD, 0, true },
	{ "[1\0]", 4, BAD, 0, true },
	{ "[true\0]", 7, BAD, 0, true },
	{ "{\"a\":1.5e3\0}", 12, BAD, 0, true },
};

/* Accept/reject and type for the table, each case also against jansson. */
static void
test_table(void)
{
	size_t i, len;
	struct ev_err err;
	enum ev_jtype t;
	json_error_t je;
	json_t *j;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];

		len = c->len ? c->len : strlen(c->in);
		memset(&err, 0, sizeof(err));
		t = (enum ev_jtype)-1;
		rc = ev_json_check(c->in, len, &t, &err);
		ok((rc == 0) == c->ok, "case %zu: %s %s%s%s", i,
		    c->ok ? "accepts" : "rejects", c->ok ? "" : "(",
		    c->ok ? "" : err.msg, c->ok ? "" : ")");
		if (c->ok && rc == 0)
			is_int(t, c->type, "case %zu: type %s", i,
			    ev_json_typename(c->type));
		if (!c->ok && rc == -1)
			ok(err.kind == EV_ERR_DATA &&
			    strncmp(err.msg, "invalid JSON at byte ", 21) == 0,
			    "case %zu: EV_ERR_DATA message", i);
		j = json_loadb(c->in, len, JSON_DECODE_ANY, &je);
		ok((j != NULL) == (c->ok || c->nul_quirk),
		    "case %zu: jansson %s", i, j != NULL ? "accepts" :
		    "rejects");
		json_decref(j);
	}
}

/* Nesting: jansson's depth limit counts the scalar at the bottom. */
static void
test_depth(void)
{
	char *b;
	size_t n, i, len;
	json_error_t je;
	json_t *j;
	struct {
		size_t	arrays;
		bool	scalar;
		int	ok;
	} d[] = {
		{ 2047, true, OK },
		{ 2048, false, OK },
		{ 2048, true, BAD },
		{ 2049, false, BAD },
		{ 100000, false, BAD },
	};

	if ((b = malloc(2 * 100000 + 2)) == NULL)
		abort();
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		n = d[i].arrays;
		memset(b, '[', n);
		len = n;
		if (d[i].scalar)
			b[len++] = '1';
		memset(b + len, ']', n);
		len += n;
		ok((ev_json_check(b, len, NULL, NULL) == 0) == d[i].ok,
		    "depth %zu%s %s", n, d[i].scalar ? "+1" : "",
		    d[i].ok ? "accepted" : "rejected");
		j = json_loadb(b, len, 0, &je);
		ok((j != NULL) == d[i].ok, "depth %zu%s: jansson agrees", n,
		    d[i].scalar ? "+1" : "");
		json_decref(j);
	}
	/* Objects count the same way. */
	len = 0;
	for (i = 0; i < 2047; i++) {
		memcpy(b + len, "{\"a\":", 5);
		len += 5;
	}
	b[len++] = '1';
	memset(b + len, '}', 2047);
	len += 2047;
	ok(ev_json_check(b, len, NULL, NULL) == 0, "2047 objects + 1 pass");
	memmove(b + 1, b, len);
	b[0] = '[';
	b[len + 1] = ']';
	ok(ev_json_check(b, len + 2, NULL, NULL) == -1,
	    "2048 containers + 1 fail");
	free(b);
}

/* The real overflow boundary, 2^1024 - 2^970, exactly as strtod rounds. */
static void
test_real_edge(void)
{
	static const char t[] = "17976931348623158079372897140530341507993"
	    "413271003782693617377898044496829276475094664901797758720709633"
	    "028641669288791094655554785194040263065748867150582068190890200"
	    "070838367627385484581771153176447573027006985557136695962284291"
	    "481986083493647529271907416844436551070434271155969950809304288"
	    "0177904174497792";
	struct {
		const char	*suffix;
		int		 ok;
	} e[] = {
		{ ".0", BAD },		/* the tie: to even, inf */
		{ "e0", BAD },
		{ ".00000000001", BAD },
		{ "0.0e-1", BAD },		/* ten times it, a tenth */
		{ ".0e-1", OK },		/* one tenth of it */
	};
	char buf[600];
	size_t i;
	json_error_t je;
	json_t *j;

	for (i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", t, e[i].suffix);
		ok((ev_json_check(buf, strlen(buf), NULL, NULL) == 0) ==
		    e[i].ok, "2^1024-2^970%s %s", e[i].suffix,
		    e[i].ok ? "accepted" : "rejected");
		j = json_loadb(buf, strlen(buf), JSON_DECODE_ANY, &je);
		ok((j != NULL) == e[i].ok, "2^1024-2^970%s: jansson agrees",
		    e[i].suffix);
		json_decref(j);
	}
	/* Just below the tie: the last digit one less. */
	snprintf(buf, sizeof(buf), "%s", t);
	buf[strlen(buf) - 1] = '1';
	strcat(buf, ".9");		/* a real: integers stop far lower */
	ok(ev_json_check(buf, strlen(buf), NULL, NULL) == 0,
	    "just below the tie accepted");
	j = json_loadb(buf, strlen(buf), JSON_DECODE_ANY, &je);
	ok(j != NULL, "just below the tie: jansson agrees");
	json_decref(j);
	/* The same value written with a fraction and a negative exponent. */
	snprintf(buf, sizeof(buf), "0.%se310", t);
	ok(ev_json_check(buf, strlen(buf), NULL, NULL) == -1,
	    "0.<tie>e310 rejected");
	snprintf(buf, sizeof(buf), "1797.6931348623158079372897140530341507993"
	    "413271003782693617377898044496829276475094664901797758720709633"
	    "028641669288791094655554785194040263065748867150582068190890200"
	    "070838367627385484581771153176447573027006985557136695962284291"
	    "481986083493647529271907416844436551070434271155969950809304288"
	    "0177904174497791e305");
	ok(ev_json_check(buf, strlen(buf), NULL, NULL) == 0,
	    "fraction just below the tie accepted");
	j = json_loadb(buf, strlen(buf), JSON_DECODE_ANY, &je);
	ok(j != NULL, "fraction just below the tie: jansson agrees");
	json_decref(j);
}

static bool
span_is(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void
test_members(void)
{
	static const char ev[] = " {\"name\" : \"a.b\",\"payload\":{\"x\":[1,"
	    "2.5e3,true,null,\"\\u00e9\"]}, \"n\":-12 ,\"r\":1.5,\"t\":true,"
	    "\"f\":false,\"z\":null,\"k\\\"ey\":\"v\\n\",\"a\":[],"
	    "\"name\":\"dup\"}\n";
	struct ev_jmember m[16];
	struct ev_err err;
	size_t nm = 99;
	int64_t v;

	ok(ev_json_scan_object(ev, strlen(ev), m, 16, &nm, &err) == 0,
	    "scan_object accepts an event");
	is_int(nm, 10, "10 members, the duplicate too");
	ok(span_is(m[0].key, m[0].keylen, "name"), "key 0 is name");
	ok(span_is(m[0].val, m[0].vallen, "\"a.b\""), "value 0 with quotes");
	is_int(m[0].type, EV_J_STRING, "value 0 is a string");
	ok(!m[0].key_escaped && !m[0].val_escaped, "no escapes in member 0");
	ok(span_is(m[1].val, m[1].vallen,
	    "{\"x\":[1,2.5e3,true,null,\"\\u00e9\"]}"), "object span");
	is_int(m[1].type, EV_J_OBJECT, "payload is an object");
	ok(!m[1].val_escaped, "val_escaped only for strings");
	ok(span_is(m[2].val, m[2].vallen, "-12"), "integer span");
	is_int(m[2].type, EV_J_INTEGER, "integer type");
	ok(ev_json_int(m[2].val, m[2].vallen, &v) == 0 && v == -12,
	    "integer value");
	is_int(m[3].type, EV_J_REAL, "real type");
	is_int(m[4].type, EV_J_TRUE, "true type");
	is_int(m[5].type, EV_J_FALSE, "false type");
	ok(span_is(m[6].val, m[6].vallen, "null"), "null span");
	is_int(m[6].type, EV_J_NULL, "null type");
	ok(span_is(m[7].key, m[7].keylen, "k\\\"ey") && m[7].key_escaped,
	    "escaped key, raw");
	ok(span_is(m[7].val, m[7].vallen, "\"v\\n\"") && m[7].val_escaped,
	    "escaped value, raw");
	ok(span_is(m[8].val, m[8].vallen, "[]"), "empty array span");
	is_int(m[8].type, EV_J_ARRAY, "array type");
	ok(span_is(m[9].key, m[9].keylen, "name") &&
	    span_is(m[9].val, m[9].vallen, "\"dup\""), "duplicate reported");

	ok(ev_json_scan_object("{}", 2, m, 16, &nm, &err) == 0 && nm == 0,
	    "empty object: no members");
	ok(ev_json_scan_object(ev, strlen(ev), m, 9, &nm, &err) == -1 &&
	    err.kind == EV_ERR_LIMIT && nm == 9, "10 members, room for 9");
	is_str(err.msg, "more than 9 fields", "limit message");
	ok(span_is(m[8].key, m[8].keylen, "a"), "the first 9 reported");
	ok(ev_json_scan_object("{\"a\":1,\"b\":", 11, m, 1, &nm, &err) == -1
	    && err.kind == EV_ERR_DATA, "invalid beats too many");
	ok(ev_json_scan_object("[1]", 3, m, 16, &nm, &err) == -1 &&
	    err.kind == EV_ERR_DATA, "an array is not an object");
	ok(ev_json_scan_object("\"x\"", 3, m, 16, &nm, &err) == -1,
	    "a string is not an object");
	ok(ev_json_scan_object("{\"a\":{\"b\":1,\"c\":2}}", 19, m, 1, &nm,
	    &err) == 0 && nm == 1, "nested members are not counted");
	ok(ev_json_check("{\"a\":1}", 7, NULL, &err) == 0, "type may be NULL");
	ok(ev_json_check("{\"a\":1 x}", 9, NULL, &err) == -1, "bad");
	is_str(err.msg, "invalid JSON at byte 8: ',' or '}' expected",
	    "message names the byte, counting from 1");
	ok(ev_json_check("[1,", 3, NULL, &err) == -1, "cut short");
	is_str(err.msg, "invalid JSON at byte 4: premature end of input",
	    "a premature end is at len + 1");
}

static void
unescape_is(const char *raw, const char *want, size_t wantlen)
{
	struct ev_buf b = { 0 };

	ev_buf_append(&b, "pre:", 4);
	ok(ev_json_unescape(raw, strlen(raw), &b) == 0 && b.len ==
	    wantlen + 4 && memcmp(b.data + 4, want, wantlen) == 0 &&
	    b.data[b.len] == '\0', "unescape \"%s\"", raw);
	ev_buf_free(&b);
}

static void
test_unescape(void)
{
	unescape_is("", "", 0);
	unescape_is("plain", "plain", 5);
	unescape_is("\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t", 8);
	unescape_is("\\u0041\\u00e9\\u20AC", "A\xc3\xa9\xe2\x82\xac", 6);
	unescape_is("x\\ud83d\\ude00y", "x\xf0\x9f\x98\x80y", 6);
	unescape_is("\\uDBFF\\uDFFF", "\xf4\x8f\xbf\xbf", 4);
	unescape_is("\xc3\xa9\\n", "\xc3\xa9\n", 3);
	/* Unvalidated input: memory-safe, never longer. */
	unescape_is("\\", "\\", 1);
	unescape_is("\\u12", "u12", 3);
}

static void
put_is(const char *s, size_t len, const char *want)
{
	struct ev_buf b = { 0 };
	struct ev_err err;
	json_t *j;
	char *dump;

	ok(ev_json_put_string(&b, s, len, &err) == 0 && strcmp(b.data, want)
	    == 0, "put_string gives %s", want);
	j = json_stringn(s, len);
	dump = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	is_str(b.data, dump, "put_string writes what json_dumps writes");
	free(dump);
	json_decref(j);
	/* And back. */
	b.len = 0;
	ev_json_put_string(&b, s, len, &err);
	j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
	ok(j != NULL && json_string_length(j) == len &&
	    memcmp(json_string_value(j), s, len) == 0, "round trip %s", want);
	json_decref(j);
	ev_buf_free(&b);
}

static void
test_put_string(void)
{
	struct ev_buf b = { 0 };
	struct ev_err err;
	char all[127];
	size_t i;

	put_is("", 0, "\"\"");
	put_is("a.b", 3, "\"a.b\"");
	put_is("q\"b\\s/", 6, "\"q\\\"b\\\\s/\"");
	put_is("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
	put_is("\x01\x1f\x7f", 3, "\"\\u0001\\u001F\x7f\"");
	put_is("\xc3\xa9\xf0\x9f\x98\x80", 6, "\"\xc3\xa9\xf0\x9f\x98\x80\"");
	put_is("a long string with nothing to escape at all", 43,
	    "\"a long string with nothing to escape at all\"");
	for (i = 0; i < sizeof(all); i++)
		all[i] = (char)(i + 1);
	b.len = 0;
	ok(ev_json_put_string(&b, all, sizeof(all), &err) == 0,
	    "every ASCII byte but NUL");
	{
		json_t *j = json_stringn(all, sizeof(all));
		char *dump = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);

		is_str(b.data, dump, "every ASCII byte as json_dumps");
		free(dump);
		json_decref(j);
	}
	b.len = 0;
	ev_buf_append(&b, "x", 1);
	ok(ev_json_put_string(&b, "a\0b", 3, &err) == -1 &&
	    err.kind == EV_ERR_DATA, "NUL refused");
	ok(b.len == 1 && strcmp(b.data, "x") == 0, "out unchanged");
	ok(ev_json_put_string(&b, "\xc0\x80", 2, &err) == -1 &&
	    err.kind == EV_ERR_DATA, "overlong refused");
	ok(ev_json_put_string(&b, "ab\xed\xa0\x80", 5, &err) == -1,
	    "encoded surrogate refused");
	is_str(err.msg, "string is not valid UTF-8 at byte 3",
	    "UTF-8 message");
	ok(ev_json_put_string(&b, "\xe2\x82", 2, &err) == -1,
	    "cut sequence refused");
	ev_buf_free(&b);
}

static void
test_int(void)
{
	int64_t v;

	ok(ev_json_int("0", 1, &v) == 0 && v == 0, "int 0");
	ok(ev_json_int("-0", 2, &v) == 0 && v == 0, "int -0");
	ok(ev_json_int("1764000000000", 13, &v) == 0 && v == 1764000000000LL,
	    "int ms");
	ok(ev_json_int("9223372036854775807", 19, &v) == 0 &&
	    v == INT64_MAX, "int max");
	ok(ev_json_int("-9223372036854775808", 20, &v) == 0 &&
	    v == INT64_MIN, "int min");
	errno = 0;
	ok(ev_json_int("9223372036854775808", 19, &v) == -1 &&
	    errno == ERANGE, "int max + 1");
	errno = 0;
	ok(ev_json_int("-9223372036854775809", 20, &v) == -1 &&
	    errno == ERANGE, "int min - 1");
	ok(ev_json_int("", 0, &v) == -1 && errno == EINVAL, "int empty");
	ok(ev_json_int("-", 1, &v) == -1, "int -");
	ok(ev_json_int("01", 2, &v) == -1, "int 01");
	ok(ev_json_int("1.0", 3, &v) == -1, "int 1.0");
	ok(ev_json_int("1e3", 3, &v) == -1, "int 1e3");
}

int
main(void)
{
	test_table();
	test_depth();
	test_real_edge();
	test_members();
	test_unescape();
	test_put_string();
	test_int();
	return tap_done();
}
