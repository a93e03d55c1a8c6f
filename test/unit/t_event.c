/*
 * t_event.c: the event model: names, ev_event_prepare (evfire's side),
 * ev_event_stamp (the daemon's edge), ev_event_internal and ev_event_seq.
 *
 * Outputs are parsed back with jansson and compared with json_equal: the
 * order of an event's own fields is not part of the contract, but the
 * stamp prefix {"seq":N,"id":"ID","origin":{"uid":U,"gid":G,"pid":P}, is,
 * byte for byte.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"
#include "jscan.h"
#include "tap.h"

#define NOW	1795413600123LL

static const struct ev_prepare fill = { true, NOW, 0 };
static const struct ev_prepare nofill = { false, 0, 0 };
static const struct ev_origin orig = { 1000, 100, 4242 };

/* Parse len bytes as one JSON value; NULL when they are not. */
static json_t *
parse(const char *s, size_t len)
{
	json_error_t je;

	return json_loadb(s, len, 0, &je);
}

/* Does text (a JSON object) equal the output, semantically? */
static bool
same_json(const char *want, const char *got, size_t gotlen)
{
	json_t *w = parse(want, strlen(want)), *g = parse(got, gotlen);
	bool r = w != NULL && g != NULL && json_equal(w, g);

	if (!r)
		printf("# want %s\n# got  %.*s\n", want, (int)gotlen, got);
	json_decref(w);
	json_decref(g);
	return r;
}

/* Output is one line: no raw newline or other control byte. */
static bool
one_line(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < ' ')
			return false;
	return true;
}

static void
test_names(void)
{
	static const char *const good[] = {
		"a", "a.b", "a.b.c", "backup.done", "A-b_c:d/e@f",
		"caf\xc3\xa9.x", "0.1.2", "evbus", "x.evbus",
	};
	static const struct {
		const char	*s;
		size_t		 len;	/* 0: strlen */
		const char	*what;
	} bad[] = {
		{ "", 0, "empty" },
		{ ".a", 0, "leading dot" },
		{ "a.", 0, "trailing dot" },
		{ "a..b", 0, "double dot" },
		{ ".", 0, "a dot alone" },
		{ "a.*", 0, "'*'" },
		{ "a*b", 0, "'*' inside a token" },
		{ "#", 0, "'#'" },
		{ "a.#.b", 0, "'#' token" },
		{ "a b", 0, "a space" },
		{ "a\tb", 0, "a tab" },
		{ "a\nb", 0, "a newline" },
		{ "a\rb", 0, "a carriage return" },
		{ "a\x01", 0, "a control character" },
		{ "a\x1f", 0, "0x1f" },
		{ "a\x7f", 0, "DEL" },
		{ "a\0b", 3, "a NUL" },
	};
	char name[EV_NAME_MAX + 2];
	struct ev_err err;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		is_int(ev_name_check(good[i], strlen(good[i]), &err), 0,
		    "name '%s' is valid", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		ok(ev_name_check(bad[i].s, bad[i].len ? bad[i].len :
		    strlen(bad[i].s), &err) == -1 && err.kind == EV_ERR_DATA &&
		    err.msg[0] != '\0', "name with %s: EV_ERR_DATA",
		    bad[i].what);
	}
	is_int(ev_name_check("a.b", 1, &err), 0,
	    "only len bytes are looked at");
	is_int(ev_name_check("ab", 2, NULL), 0, "err may be NULL");
	is_int(ev_name_check("a*", 2, NULL), -1, "err may be NULL (bad)");

	memset(name, 'n', sizeof(name));
	name[100] = '.';
	is_int(ev_name_check(name, EV_NAME_MAX, &err), 0,
	    "name of %d bytes is valid", EV_NAME_MAX);
	ok(ev_name_check(name, EV_NAME_MAX + 1, &err) == -1 &&
	    err.kind == EV_ERR_DATA, "name of %d bytes is too long",
	    EV_NAME_MAX + 1);

	ok(ev_name_reserved("evbus", 5), "'evbus' is reserved");
	ok(ev_name_reserved("evbus.x", 7), "'evbus.x' is reserved");
	ok(ev_name_reserved("evbus.started", 13), "'evbus.started' is reserved");
	ok(!ev_name_reserved("evbusd.x", 8), "'evbusd.x' is not");
	ok(!ev_name_reserved("xevbus", 6), "'xevbus' is not");
	ok(!ev_name_reserved("evbu", 4), "'evbu' is not");
	ok(!ev_name_reserved("a.evbus", 7), "'a.evbus' is not");
	ok(!ev_name_reserved("EVBUS.x", 7), "'EVBUS.x' is not");
	ok(!ev_name_reserved("evbus.x", 4), "only len bytes are looked at");
}

/* Prepare text; on success check the output is one line of JSON. */
static int
prepare(const char *text, const struct ev_prepare *p, struct ev_buf *out,
    struct ev_evinfo *info, struct ev_err *err)
{
	memset(err, 0, sizeof(*err));
	ev_buf_reset(out);
	return ev_event_prepare(text, strlen(text), p, out, info, err);
}

static void
test_prepare_bad(void)
{
	static const struct {
		const char	*in;
		enum ev_errkind	 kind;
		const char	*what;
	} bad[] = {
		{ "{}", EV_ERR_DATA, "missing name" },
		{ "{\"payload\":1}", EV_ERR_DATA, "missing name, other fields" },
		{ "{\"name\":1}", EV_ERR_DATA, "name a number" },
		{ "{\"name\":null}", EV_ERR_DATA, "name null" },
		{ "{\"name\":[\"a\"]}", EV_ERR_DATA, "name an array" },
		{ "{\"name\":\"\"}", EV_ERR_DATA, "name empty" },
		{ "{\"name\":\"a.*\"}", EV_ERR_DATA, "name with '*'" },
		{ "{\"name\":\"a.\"}", EV_ERR_DATA, "name with a trailing dot" },
		{ "{\"name\":\"a\\nb\"}", EV_ERR_DATA, "name with a newline" },
		{ "{\"name\":\"a b\"}", EV_ERR_DATA, "name with a space" },
		{ "{\"name\":\"evbus.started\"}", EV_ERR_DENIED,
		    "name under evbus." },
		{ "{\"name\":\"evbus\"}", EV_ERR_DENIED, "name evbus" },
		{ "{\"name\":\"a\",\"id\":1}", EV_ERR_DATA, "id a number" },
		{ "{\"name\":\"a\",\"id\":null}", EV_ERR_DATA, "id null" },
		{ "{\"name\":\"a\",\"id\":{}}", EV_ERR_DATA, "id an object" },
		{ "{\"name\":\"a\",\"id\":\"\"}", EV_ERR_DATA, "id empty" },
		{ "{\"name\":\"a\",\"id\":\"0123456789012345678901234567890123"
		    "4567890123456789012345678901234\"}", EV_ERR_DATA,
		    "id of 65 bytes" },
		{ "{\"name\":\"a\",\"id\":\"a\\nb\"}", EV_ERR_DATA,
		    "id with a newline" },
		{ "{\"name\":\"a\",\"id\":\"a\\u0001\"}", EV_ERR_DATA,
		    "id with a control character" },
		{ "{\"name\":\"a\",\"id\":\"a\\u007f\"}", EV_ERR_DATA,
		    "id with DEL" },
		{ "{\"name\":\"a\",\"time\":\"1\"}", EV_ERR_DATA, "time a string" },
		{ "{\"name\":\"a\",\"time\":1.5}", EV_ERR_DATA, "time a real" },
		{ "{\"name\":\"a\",\"time\":1e3}", EV_ERR_DATA,
		    "time with an exponent" },
		{ "{\"name\":\"a\",\"time\":1.0}", EV_ERR_DATA, "time 1.0" },
		{ "{\"name\":\"a\",\"time\":-1}", EV_ERR_DATA, "time negative" },
		{ "{\"name\":\"a\",\"time\":null}", EV_ERR_DATA, "time null" },
		{ "{\"name\":\"a\",\"time\":true}", EV_ERR_DATA, "time true" },
		{ "{\"name\":\"a\",\"error\":1}", EV_ERR_DATA, "error 1" },
		{ "{\"name\":\"a\",\"error\":\"true\"}", EV_ERR_DATA,
		    "error a string" },
		{ "{\"name\":\"a\",\"error\":\"no\"}", EV_ERR_DATA, "error \"no\"" },
		{ "{\"name\":\"a\",\"metadata\":[]}", EV_ERR_DATA,
		    "metadata an array" },
		{ "{\"name\":\"a\",\"metadata\":\"x\"}", EV_ERR_DATA,
		    "metadata a string" },
		{ "{\"name\":\"a\",\"metadata\":null}", EV_ERR_DATA,
		    "metadata null" },
		{ "{\"name\":\"a\",\"filter\":[]}", EV_ERR_DATA,
		    "filter an array" },
		{ "{\"name\":\"a\",\"filter\":{\"host\":\"x\"}}", EV_ERR_DATA,
		    "filter with an unknown key" },
		{ "{\"name\":\"a\",\"filter\":{\"node\":\"x\",\"Tag\":\"y\"}}",
		    EV_ERR_DATA, "filter with an unknown key after a good one" },
		{ "{\"name\":\"a\",\"filter\":{\"node\":1}}", EV_ERR_DATA,
		    "filter value a number" },
		{ "{\"name\":\"a\",\"filter\":{\"tag\":[\"x\"]}}", EV_ERR_DATA,
		    "filter value an array" },
		{ "{\"name\":\"a\",\"filter\":{\"service\":null}}", EV_ERR_DATA,
		    "filter value null" },
		{ "[]", EV_ERR_DATA, "an array" },
		{ "[{\"name\":\"a\"}]", EV_ERR_DATA, "an event in an array" },
		{ "\"a\"", EV_ERR_DATA, "a string" },
		{ "1", EV_ERR_DATA, "a number" },
		{ "null", EV_ERR_DATA, "null" },
		{ "", EV_ERR_DATA, "nothing" },
		{ "  ", EV_ERR_DATA, "blanks" },
		{ "{", EV_ERR_DATA, "invalid JSON: unclosed" },
		{ "{\"name\":\"a\"", EV_ERR_DATA, "invalid JSON: truncated" },
		{ "{\"name\":\"a\",}", EV_ERR_DATA,
		    "invalid JSON: trailing comma" },
		{ "{name:\"a\"}", EV_ERR_DATA, "invalid JSON: bare key" },
		{ "{\"name\":\"a\"} {}", EV_ERR_DATA, "two values" },
		{ "{\"name\":\"a\"}x", EV_ERR_DATA, "garbage after the object" },
		{ "{\"name\":\"a\",\"p\":\"\xff\"}", EV_ERR_DATA,
		    "invalid UTF-8" },
		{ "{\"name\":\"a\",\"p\":\"\\u0000\"}", EV_ERR_DATA,
		    "an escaped NUL" },
		{ "{\"name\":\"a\",\"p\":99999999999999999999999}", EV_ERR_DATA,
		    "an integer too big" },
	};
	struct ev_buf out = { 0 };
	struct ev_evinfo info;
	struct ev_err err;
	size_t i;
	int r;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Output already in the buffer is left alone. */
		memset(&err, 0, sizeof(err));
		ev_buf_reset(&out);
		ev_buf_append(&out, "KEEP", 4);
		r = ev_event_prepare(bad[i].in, strlen(bad[i].in), &fill, &out,
		    &info, &err);
		ok(r == -1 && err.kind == bad[i].kind && err.msg[0] != '\0' &&
		    ev_buf_unread(&out) == 4 &&
		    memcmp(out.data + out.off, "KEEP", 5) == 0,
		    "prepare refuses %s (%s), output unchanged", bad[i].what,
		    bad[i].kind == EV_ERR_DENIED ? "EV_ERR_DENIED" :
		    "EV_ERR_DATA");
		if (r == -1 && err.kind != bad[i].kind)
			printf("# kind %d: %s\n", err.kind, err.msg);
	}
	/* Length is what counts, not a NUL. */
	r = ev_event_prepare("{\"name\":\"a\"}\0", 13, &fill, &out, &info,
	    &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "a NUL after the object");
	r = ev_event_prepare("{\"name\":\"a\"}xyz", 12, &nofill, &out, &info,
	    &err);
	is_int(r, 0, "only len bytes are parsed");
	ev_buf_free(&out);
}

static void
test_prepare_good(void)
{
	struct ev_buf out = { 0 };
	struct ev_evinfo info;
	struct ev_err err;
	char id64[EV_ID_MAX + 32];
	json_t *j, *v;
	int r;

	/* Without fill: only checked and normalized. */
	r = prepare(" {\n \"name\" : \"a.b\" ,\n\t\"payload\": {\"x\": [1, 2.5,"
	    " \"s\\nt\"]}\n}\n", &nofill, &out, &info, &err);
	is_int(r, 0, "prepare: a multi-line event");
	ok(one_line(out.data, out.len), "prepare: output is one line");
	ok(same_json("{\"name\":\"a.b\",\"payload\":{\"x\":[1,2.5,\"s\\nt\"]}}",
	    out.data, out.len), "prepare: same fields, nothing added");
	is_str(info.name, "a.b", "info.name");
	is_int(info.namelen, 3, "info.namelen");
	is_str(info.id, "", "info.id empty without an id");
	ok(!info.hadid, "info.hadid false without an id");
	is_int(info.time, 0, "info.time 0 without a time");

	/* With fill: id and time added. */
	r = prepare("{\"name\":\"a\"}", &fill, &out, &info, &err);
	is_int(r, 0, "prepare with fill");
	j = parse(out.data, out.len);
	ok(j != NULL && json_object_size(j) == 4 &&
	    json_is_null(json_object_get(j, "payload")), "fill: name, id, "
	    "time, and a null payload");
	v = json_object_get(j, "id");
	ok(json_is_string(v) && json_string_length(v) == EV_UUID_LEN &&
	    json_string_value(v)[14] == '4', "fill: id is a UUID v4");
	ok(json_is_string(v) && strcmp(json_string_value(v), info.id) == 0,
	    "fill: info.id is the id added");
	ok(!info.hadid, "fill: info.hadid false for an added id");
	ok(json_integer_value(json_object_get(j, "time")) == NOW &&
	    json_is_integer(json_object_get(j, "time")),
	    "fill: time is now_ms");
	is_int(info.time, NOW, "fill: info.time is now_ms");
	json_decref(j);

	/* With fill, given id and time are kept. */
	r = prepare("{\"time\":0,\"id\":\"my-id\",\"name\":\"a\"}", &fill, &out,
	    &info, &err);
	is_int(r, 0, "prepare with id and time");
	ok(same_json("{\"name\":\"a\",\"id\":\"my-id\",\"time\":0,"
	    "\"payload\":null}", out.data, out.len), "given id and time 0 kept");
	is_str(info.id, "my-id", "info.id is the given id");
	ok(info.hadid, "info.hadid true for a given id");
	is_int(info.time, 0, "info.time given");

	r = prepare("{\"name\":\"a\",\"time\":9007199254740993}", &fill, &out,
	    &info, &err);
	ok(r == 0 && strstr(out.data, "\"time\":9007199254740993") != NULL,
	    "a large time is kept exactly");
	is_int(info.time, 9007199254740993LL, "info.time large");

	/* id of exactly EV_ID_MAX bytes, and non-ASCII. */
	memset(id64, 0, sizeof(id64));
	snprintf(id64, sizeof(id64), "{\"name\":\"a\",\"id\":\"%.*s\"}",
	    EV_ID_MAX, "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789");
	r = prepare(id64, &fill, &out, &info, &err);
	ok(r == 0 && strlen(info.id) == EV_ID_MAX, "id of %d bytes",
	    EV_ID_MAX);
	r = prepare("{\"name\":\"a\",\"id\":\"\\u00e9t\\u00e9 \\\" x\"}", &fill,
	    &out, &info, &err);
	ok(r == 0 && strcmp(info.id, "\xc3\xa9t\xc3\xa9 \" x") == 0,
	    "id with escapes, a space and UTF-8");

	/* seq and origin are stripped; unknown fields are kept. */
	r = prepare("{\"seq\":5,\"origin\":{\"uid\":0},\"name\":\"a\","
	    "\"id\":\"i\",\"time\":1,\"payload\":null,\"error\":true,"
	    "\"metadata\":{\"k\":\"v\",\"n\":1},\"filter\":{\"node\":\"n\","
	    "\"service\":\"s\",\"tag\":\"t\"},\"extra\":[{}],\"x.y\":-0.5}",
	    &fill, &out, &info, &err);
	is_int(r, 0, "prepare: every known field");
	ok(same_json("{\"name\":\"a\",\"id\":\"i\",\"time\":1,\"payload\":null,"
	    "\"error\":true,\"metadata\":{\"k\":\"v\",\"n\":1},"
	    "\"filter\":{\"node\":\"n\",\"service\":\"s\",\"tag\":\"t\"},"
	    "\"extra\":[{}],\"x.y\":-0.5}", out.data, out.len),
	    "seq and origin stripped, unknown fields kept");
	r = prepare("{\"name\":\"a\",\"error\":false,\"filter\":{},"
	    "\"metadata\":{}}", &nofill, &out, &info, &err);
	ok(r == 0 && same_json("{\"name\":\"a\",\"error\":false,"
	    "\"filter\":{},\"metadata\":{}}", out.data, out.len),
	    "error false, empty filter and metadata");

	/* Payload strings with control characters stay escaped. */
	r = prepare("{\"name\":\"a\",\"payload\":\"l1\\nl2\\r\\u0001\\u2028\"}",
	    &nofill, &out, &info, &err);
	ok(r == 0 && one_line(out.data, out.len) &&
	    same_json("{\"name\":\"a\",\"payload\":\"l1\\nl2\\r\\u0001"
	    "\\u2028\"}", out.data, out.len),
	    "escaped newlines stay escaped: one line");

	/*
	 * A known field given twice: refused (the scanner-based checker), or
	 * the last one wins (a parse tree); never is an evbus.* name let
	 * through, nor the event named twice.
	 */
	r = prepare("{\"name\":\"evbus.x\",\"name\":\"a.b\"}", &nofill, &out,
	    &info, &err);
	ok((r == -1 && err.kind != EV_ERR_NONE) || (r == 0 &&
	    strstr(out.data, "evbus.x") == NULL && strcmp(info.name, "a.b") ==
	    0), "duplicate name, first under evbus.: refused or last wins");
	r = prepare("{\"name\":\"a.b\",\"name\":\"evbus.x\"}", &nofill, &out,
	    &info, &err);
	ok(r == -1 && err.kind != EV_ERR_NONE, "duplicate name, last under "
	    "evbus.: refused");
	r = prepare("{\"name\":\"a\",\"n\\u0061me\":\"evbus.x\"}", &nofill,
	    &out, &info, &err);
	ok(r == -1 && err.kind != EV_ERR_NONE,
	    "duplicate name spelled with an escape: refused");

	/* Keys and names spelled with escapes are what they decode to. */
	r = prepare("{\"n\\u0061me\":\"evbus.x\"}", &nofill, &out, &info,
	    &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "escaped key \"name\", "
	    "evbus.x: denied");
	r = prepare("{\"name\":\"evbu\\u0073.x\"}", &nofill, &out, &info,
	    &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "name evbu\\u0073.x: denied");
	r = prepare("{\"name\":\"a.\\u002a\"}", &nofill, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "name a.\\u002a: contains '*'");
	r = prepare("{\"name\":\"a\\u0009b\"}", &nofill, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "name with an escaped tab");
	r = prepare("{\"name\":\"a\\u002eb\"}", &nofill, &out, &info, &err);
	ok(r == 0 && strcmp(info.name, "a.b") == 0 && info.namelen == 3,
	    "name a\\u002eb is a.b");
	r = prepare("{\"n\\u0061me\":\"a\",\"s\\u0065q\":1,"
	    "\"\\u006frigin\":{},\"t\\u0069me\":\"x\"}", &nofill, &out, &info,
	    &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "escaped key \"time\" is "
	    "checked");
	r = prepare("{\"n\\u0061me\":\"a\",\"s\\u0065q\":1,"
	    "\"\\u006frigin\":{}}", &nofill, &out, &info, &err);
	ok(r == 0 && same_json("{\"name\":\"a\"}", out.data, out.len),
	    "escaped keys \"seq\" and \"origin\" are stripped");
	r = prepare("{\"name\":\"a\",\"id\":\"\\u0041\\u0042\"}", &nofill,
	    &out, &info, &err);
	ok(r == 0 && strcmp(info.id, "AB") == 0, "escaped id decoded in info");
	r = prepare("{\"name\":\"a\",\"id\":\"\\u0001\"}", &nofill, &out,
	    &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "id: an escaped control "
	    "character");
	r = prepare("{\"name\":\"a\",\"filter\":{\"n\\u006fde\":\"x\"}}",
	    &nofill, &out, &info, &err);
	is_int(r, 0, "filter key spelled with an escape");

	/* Many fields, all kept. */
	{
		struct ev_buf many = { 0 };
		json_t *a, *b;
		int k;

		ev_buf_printf(&many, "{\"name\":\"a\"");
		for (k = 0; k < 200; k++)
			ev_buf_printf(&many, ",\"f%d\":[%d]", k, k);
		ev_buf_putc(&many, '}');
		r = prepare(many.data, &nofill, &out, &info, &err);
		a = parse(many.data, many.len);
		b = r == 0 ? parse(out.data, out.len) : NULL;
		ok(r == 0 && a != NULL && b != NULL && json_equal(a, b),
		    "201 fields kept");
		json_decref(a);
		json_decref(b);
		ev_buf_free(&many);
	}

	/* Appends to what is in the buffer. */
	ev_buf_reset(&out);
	ev_buf_append(&out, "PUB 1\n", 6);
	r = ev_event_prepare("{\"name\":\"z\"}", 12, &nofill, &out, &info,
	    &err);
	ok(r == 0 && strcmp(out.data, "PUB 1\n{\"name\":\"z\"}") == 0,
	    "prepare appends");

	/* The output prepares again to itself. */
	r = prepare("{\"name\":\"a\",\"payload\":{\"f\":0.1,\"s\":\"\\u00e9\\t\"},"
	    "\"seq\":1}", &fill, &out, &info, &err);
	if (r == 0) {
		struct ev_buf again = { 0 };
		struct ev_evinfo info2;

		r = ev_event_prepare(out.data, out.len, &fill, &again, &info2,
		    &err);
		ok(r == 0 && again.len == out.len &&
		    memcmp(again.data, out.data, out.len) == 0 &&
		    strcmp(info2.id, info.id) == 0 && info2.hadid,
		    "prepare(prepare(x)) == prepare(x)");
		ev_buf_free(&again);
	} else
		ok(0, "prepare(prepare(x)) == prepare(x)");
	ev_buf_free(&out);
}

/*
 * Does the stamped text start exactly {"seq":SEQ,"id":"...","origin":{..},
 * with o's uid, gid and pid (seq 0: no seq)?
 */
static bool
head_ok(const char *p, size_t len, uint64_t seq, const struct ev_origin *o)
{
	char want[128];
	const char *id;
	size_t idlen, off;
	uint64_t s;

	if (ev_event_head(p, len, &s, &id, &idlen) == -1 || s != seq)
		return false;
	off = (size_t)(id - p) + idlen + 1;
	snprintf(want, sizeof(want), ",\"origin\":{\"uid\":%" PRIu32
	    ",\"gid\":%" PRIu32 ",\"pid\":%" PRId32 "},", o->uid, o->gid,
	    o->pid > 0 ? o->pid : 0);
	return len - off >= strlen(want) &&
	    strncmp(p + off, want, strlen(want)) == 0;
}

static int
stamp(const char *text, size_t maxlen, uint64_t seq,
    const struct ev_origin *o, struct ev_buf *out, struct ev_evinfo *info,
    struct ev_err *err)
{
	memset(err, 0, sizeof(*err));
	ev_buf_reset(out);
	struct ev_stamp st = { .maxlen = maxlen, .seq = seq, .origin = o,
	    .now_ms = NOW };

	memset(err, 0, sizeof(*err));
	ev_buf_reset(out);
	return ev_event_stamp(text, strlen(text), &st, out, info, err);
}

static void
test_stamp(void)
{
	static const struct ev_origin big = { 4294967295U, 4294967294U,
	    2147483647 };
	struct ev_buf out = { 0 };
	struct ev_evinfo info;
	struct ev_err err;
	const char *ev;
	json_t *j, *want;
	int r;

	ev = "{\"name\":\"a.b\",\"payload\":{\"k\":[1,\"x\"]}}";
	r = stamp(ev, 1000, 7, &orig, &out, &info, &err);
	is_int(r, 0, "stamp");
	ok(head_ok(out.data, out.len, 7, &orig),
	    "stamp: begins with seq, id, origin");
	ok(one_line(out.data, out.len), "stamp: one line");
	is_int(ev_event_seq(out.data, out.len), 7, "stamp: ev_event_seq");
	j = parse(out.data, out.len);
	want = json_loads("{\"k\":[1,\"x\"]}", 0, NULL);
	ok(j != NULL && json_object_size(j) == 6 &&
	    json_equal(json_object_get(j, "payload"), want) &&
	    strcmp(json_string_value(json_object_get(j, "name")), "a.b")
	    == 0, "stamp: seq, origin, name, payload, id, time");
	ok(json_integer_value(json_object_get(j, "time")) == NOW,
	    "stamp: time filled with now");
	ok(json_string_length(json_object_get(j, "id")) == EV_UUID_LEN &&
	    strcmp(info.id, json_string_value(json_object_get(j, "id"))) == 0,
	    "stamp: id filled, in info.id");
	ok(!info.hadid, "stamp: info.hadid false when the id was filled");
	json_decref(want);
	is_str(info.name, "a.b", "stamp: info.name");
	is_int(info.time, NOW, "stamp: info.time");
	json_decref(j);

	/* Forged seq and origin are replaced; the rest kept. */
	ev = "{\"origin\":{\"uid\":0,\"gid\":0,\"pid\":1},\"name\":\"a\","
	    "\"seq\":999,\"id\":\"abc\",\"time\":5,\"z\":1}";
	r = stamp(ev, 1000, 8, &orig, &out, &info, &err);
		ok(r == 0 && head_ok(out.data, out.len, 8, &orig),
	    "forged seq and origin replaced: prefix");
	ok(r == 0 && same_json("{\"seq\":8,\"origin\":{\"uid\":1000,\"gid\":100,"
	    "\"pid\":4242},\"name\":\"a\",\"id\":\"abc\",\"time\":5,\"z\":1,"
	    "\"payload\":null}",
	    out.data, out.len), "forged seq and origin replaced: fields");
	ok(r == 0 && strstr(out.data, "999") == NULL, "no trace of the "
	    "forged seq");
	ok(info.hadid && strcmp(info.id, "abc") == 0,
	    "stamp: info.hadid true when the producer gave an id");
	is_int(info.time, 5, "stamp: given time kept");

	/* Largest uid/gid/pid, and seq 1. */
	r = stamp("{\"name\":\"a\"}", 100, 1, &big, &out, &info, &err);
		ok(r == 0 && head_ok(out.data, out.len, 1, &big),
	    "prefix with uid 4294967295, pid 2147483647");
	r = stamp("{\"name\":\"a\"}", 100, (uint64_t)INT64_MAX, &orig, &out,
	    &info, &err);
		ok(r == 0 && head_ok(out.data, out.len, (uint64_t)INT64_MAX, &orig),
	    "prefix with seq 2^63-1");

	/* The limit: len against maxlen. */
	ev = "{\"name\":\"a\"}";
	r = stamp(ev, strlen(ev), 1, &orig, &out, &info, &err);
	is_int(r, 0, "stamp: len == maxlen accepted");
	ev_buf_reset(&out);
	ev_buf_append(&out, "KEEP", 4);
	memset(&err, 0, sizeof(err));
	{
		struct ev_stamp st = { .maxlen = strlen(ev) - 1, .seq = 1,
		    .origin = &orig, .now_ms = NOW };

		r = ev_event_stamp(ev, strlen(ev), &st, &out, &info, &err);
	}
	ok(r == -1 && err.kind == EV_ERR_LIMIT, "stamp: len > maxlen: "
	    "EV_ERR_LIMIT");
	ok(ev_buf_unread(&out) == 4, "stamp: output unchanged on error");
	memset(&err, 0, sizeof(err));
	{
		struct ev_stamp st = { .maxlen = 3, .seq = 1, .origin = &orig,
		    .now_ms = NOW };

		r = ev_event_stamp("{{{{", 4, &st, &out, &info, &err);
	}
	ok(r == -1 && err.kind == EV_ERR_LIMIT,
	    "stamp: the limit comes before parsing");

	/* Refusals. */
	r = stamp("{\"name\":\"evbus.listener.connected\"}", 100, 1, &orig,
	    &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "stamp: evbus.* denied");
	r = stamp("{\"name\":\"evbus\"}", 100, 1, &orig, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "stamp: evbus denied");
	r = stamp("{\"name\":\"evbusd.x\"}", 100, 1, &orig, &out, &info, &err);
	is_int(r, 0, "stamp: evbusd.x accepted");
	r = stamp("{\"name\":\"a\",\"time\":-5}", 100, 1, &orig, &out, &info,
	    &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "stamp: bad time");
	r = stamp("[1]", 100, 1, &orig, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "stamp: not an object");
	r = stamp("{\"name\":\"a\"", 100, 1, &orig, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "stamp: invalid JSON");
	r = stamp("{\"id\":\"x\"}", 100, 1, &orig, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "stamp: no name");

	/* A stamped event prepares back to its own fields. */
	r = stamp("{\"name\":\"q\",\"payload\":\"p\"}", 100, 3, &orig, &out,
	    &info, &err);
	if (r == 0) {
		struct ev_buf back = { 0 };
		struct ev_evinfo info2;
		json_t *a, *b;

		r = ev_event_prepare(out.data, out.len, &fill, &back, &info2,
		    &err);
		a = parse(out.data, out.len);
		json_object_del(a, "seq");
		json_object_del(a, "origin");
		b = parse(back.data, back.len);
		ok(r == 0 && a != NULL && b != NULL && json_equal(a, b),
		    "prepare(stamp(x)) is stamp(x) without seq and origin");
		json_decref(a);
		json_decref(b);
		ev_buf_free(&back);
	} else
		ok(0, "prepare(stamp(x))");
	ev_buf_free(&out);
}

static void
test_internal(void)
{
	struct ev_buf out = { 0 };
	json_t *j;
	int r;

	r = ev_event_internal(&out, 12, &orig, "evbus.started", NOW,
	    "{\"pid\":1,\"v\":\"x\"}");
	is_int(r, 0, "internal");
	ok(head_ok(out.data, out.len, 12, &orig), "internal: prefix");
	is_int(ev_event_seq(out.data, out.len), 12, "internal: seq");
	j = parse(out.data, out.len);
	ok(j != NULL && strcmp(json_string_value(json_object_get(j, "name")),
	    "evbus.started") == 0 && json_integer_value(json_object_get(j,
	    "time")) == NOW && json_string_length(json_object_get(j, "id")) ==
	    EV_UUID_LEN && json_integer_value(json_object_get(json_object_get(
	    j, "payload"), "pid")) == 1, "internal: name, time, id, payload");
	json_decref(j);

	ev_buf_reset(&out);
	r = ev_event_internal(&out, 0, &orig, "evbus.gap", NOW, NULL);
	ok(r == 0 && head_ok(out.data, out.len, 0, &orig),
	    "internal, seq 0: no seq, id first");
	is_int(ev_event_seq(out.data, out.len), 0, "internal, seq 0: "
	    "ev_event_seq 0");
	j = parse(out.data, out.len);
	ok(j != NULL && json_is_null(json_object_get(j, "payload")) &&
	    json_object_get(j, "seq") == NULL, "internal: NULL payload is "
	    "null");
	json_decref(j);
	ev_buf_free(&out);
}

static void
test_seq(void)
{
	is_int(ev_event_seq("{\"seq\":123,\"a\":1}", 17), 123, "seq 123");
	is_int(ev_event_seq("{\"seq\":1}", 9), 1, "seq 1");
	ok(ev_event_seq("{\"seq\":18446744073709551615}", 28) == UINT64_MAX,
	    "seq 2^64-1");
	is_int(ev_event_seq("{\"seq\":123,", 9), 12, "only len bytes");
	is_int(ev_event_seq("{\"name\":\"a\",\"seq\":5}", 20), 0,
	    "seq not first: 0");
	is_int(ev_event_seq("{ \"seq\":5}", 10), 0, "a blank first: 0");
	is_int(ev_event_seq("{\"seq\" :5}", 10), 0, "a blank inside: 0");
	is_int(ev_event_seq("{\"seq\":x}", 9), 0, "not a number: 0");
	is_int(ev_event_seq("{\"seq\":", 7), 0, "no digits: 0");
	is_int(ev_event_seq("", 0), 0, "empty: 0");
	is_int(ev_event_seq("[\"seq\":5]", 9), 0, "not an object: 0");
	is_int(ev_event_seq("{\"SEQ\":5}", 9), 0, "case matters: 0");
}

/* What the reshaped core added: Unicode names, depth, head, sanitizing. */
static void
test_core(void)
{
	static const char *const spaces[] = {
		"a\xc2\x85" "b", "a\xc2\xa0" "b", "a\xe2\x80\xa8" "b",
		"a\xe2\x80\xa9" "b", "a\xe3\x80\x80" "b", "a\xe1\x9a\x80" "b",
		"a\xe2\x80\x8a" "b", "a\xc2\x9f" "b", "a\x7f" "b",
	};
	static const char *const bad8[] = {
		"a\xff", "a\xc0\xaf", "a\xed\xa0\x80", "a\xe2\x80", "\x80",
	};
	struct ev_stamp st = { .maxlen = 1 << 20, .seq = 9, .origin = &orig,
	    .now_ms = NOW };
	struct ev_buf out = { 0 }, deep = { 0 };
	struct ev_evinfo info;
	struct ev_err err;
	const char *id, *text_id;
	size_t i, idlen;
	uint64_t seq;
	char text[64];
	int r;

	for (i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++)
		ok(ev_name_check(spaces[i], strlen(spaces[i]), &err) == -1 &&
		    strstr(err.msg, "whitespace") != NULL,
		    "name with Unicode space or control %zu refused", i);
	for (i = 0; i < sizeof(bad8) / sizeof(bad8[0]); i++)
		ok(ev_name_check(bad8[i], strlen(bad8[i]), &err) == -1 &&
		    strstr(err.msg, "UTF-8") != NULL,
		    "name with invalid UTF-8 %zu refused", i);
	ok(ev_name_check("caf\xc3\xa9.\xe6\x97\xa5", 9, &err) == 0,
	    "name with non-ASCII letters accepted");
	r = stamp("{\"name\":\"a\\u2028b\"}", 100, 1, &orig, &out, &info,
	    &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "escaped U+2028 in a name "
	    "refused");

	/* Depth as jq counts it: the event object and its key are two. */
	for (st.maxdepth = 4, i = 0; i < 2; i++) {
		ev_buf_reset(&deep);
		ev_buf_printf(&deep, "{\"name\":\"d\",\"payload\":%s}",
		    i == 0 ? "[[1]]" : "[[[1]]]");
		ev_buf_reset(&out);
		r = ev_event_stamp(deep.data, deep.len, &st, &out, &info, &err);
		if (i == 0)
			is_int(r, 0, "depth 4 ({ key [ [) with max-depth 4 "
			    "accepted");
		else
			ok(r == -1 && err.kind == EV_ERR_LIMIT &&
			    strstr(err.msg, "nested deeper than 4") != NULL,
			    "depth 5 with max-depth 4 refused: %s", err.msg);
	}
	{
		static const char *const nest[] = { "{}", "{\"a\":{}}",
		    "{\"a\":[[]]}", "{\"a\":[{\"b\":1}]}", "{\"a\":1,\"b\":[]}" };
		static const size_t want[] = { 1, 3, 4, 4, 3 };
		struct ev_jmember mem[4];
		size_t nm;

		for (i = 0; i < sizeof(nest) / sizeof(nest[0]); i++) {
			ok(ev_json_scan_nested(nest[i], strlen(nest[i]), mem, 4,
			    &nm, want[i], NULL) == 0, "%s is %zu deep: "
			    "accepted at %zu", nest[i], want[i], want[i]);
			ok(want[i] == 1 || ev_json_scan_nested(nest[i],
			    strlen(nest[i]), mem, 4, &nm, want[i] - 1,
			    &err) == -1, "%s refused at %zu", nest[i],
			    want[i] - 1);
		}
	}
	st.maxdepth = 0;

	/* Internal events may use evbus. names; clients may not. */
	ev_buf_reset(&out);
	st.internal = true;
	r = ev_event_stamp("{\"name\":\"evbus.x\"}", 18, &st, &out, &info,
	    &err);
	is_int(r, 0, "internal stamp: evbus.x accepted");
	st.internal = false;

	/* The producer's id moves to the head, byte for byte. */
	ev_buf_reset(&out);
	text_id = "{\"name\":\"a\",\"id\":\"x\\u0041y\"}";
	r = ev_event_stamp(text_id, strlen(text_id), &st, &out, &info, &err);
	ok(r == 0 && ev_event_head(out.data, out.len, &seq, &id, &idlen) == 0 &&
	    seq == 9 && idlen == 8 && memcmp(id, "x\\u0041y", 8) == 0,
	    "stamp: the producer's id first, escapes kept");
	ok(info.hadid && strcmp(info.id, "xAy") == 0, "stamp: info.id decoded");
	ok(r == 0 && strstr(strstr(out.data, "\"id\"") + 4, "\"id\"") == NULL,
	    "stamp: the id only once");

	/* ev_event_head on what it must refuse. */
	ok(ev_event_head("{\"seq\":1,\"name\":\"a\"}", 20, &seq, &id,
	    &idlen) == -1, "head: no id");
	ok(ev_event_head("{\"seq\":1,\"id\":\"abc", 15, &seq, &id,
	    &idlen) == -1, "head: unterminated id");
	ok(ev_event_head("{\"id\":\"a\\\"b\",", 13, &seq, &id, &idlen) == 0 &&
	    seq == 0 && idlen == 4, "head: no seq, escaped quote in id");
	ok(ev_event_head("{\"seq\":99999999999999999999,\"id\":\"a\"}", 35,
	    &seq, &id, &idlen) == -1, "head: seq overflow");

	/* Beer Garden's event as its documentation shows it. */
	ev_buf_reset(&out);
	text_id = "{\"name\":\"REQUEST_CREATED\",\"timestamp\":1521126132897,"
	    "\"error\":null,\"metadata\":{\"a\":1},\"payload\":{\"x\":1}}";
	r = ev_event_stamp(text_id, strlen(text_id), &st, &out, &info, &err);
	ok(r == 0 && info.time == 1521126132897LL &&
	    strstr(out.data, "\"timestamp\":1521126132897,\"error\":null,") !=
	    NULL && strstr(out.data, ",\"time\":1521126132897}") != NULL,
	    "Beer Garden: error null accepted, time taken from timestamp");
	ev_buf_reset(&out);
	text_id = "{\"name\":\"a\",\"timestamp\":\"yesterday\",\"time\":7}";
	r = ev_event_stamp(text_id, strlen(text_id), &st, &out, &info, &err);
	ok(r == 0 && info.time == 7, "a time beats a timestamp; a timestamp "
	    "that is not epoch ms passes through");

	/* Sanitizing text for an ERR line. */
	snprintf(text, sizeof(text), "a\x01" "b\xff" "c\xc3\xa9" "d\xc2\x85" "e");
	ev_text_sanitize(text);
	is_str(text, "a?b?c\xc3\xa9" "d??e", "sanitize: controls and bad "
	    "UTF-8 become ?, letters stay");
	ev_buf_free(&out);
	ev_buf_free(&deep);
}

static void	test_edit(void);
static void	test_edit_name(void);

int
main(void)
{
	test_edit_name();
	test_names();
	test_prepare_bad();
	test_prepare_good();
	test_stamp();
	test_internal();
	test_seq();
	test_core();
	test_edit();
	return tap_done();
}

/* Edit text (nofill unless prep says); the output as a C string. */
static int
edit(const char *text, const struct ev_prepare *p, const struct ev_edit *ed,
    struct ev_buf *out, struct ev_evinfo *info, struct ev_err *err)
{
	memset(err, 0, sizeof(*err));
	ev_buf_reset(out);
	return ev_event_edit(text, strlen(text), p, ed, out, info, err);
}

/* Did the edit give exactly want? */
static bool
edited(int r, const struct ev_buf *out, const char *want)
{
	if (r == 0 && out->len == strlen(want) &&
	    memcmp(out->data, want, out->len) == 0)
		return true;
	printf("# r %d\n# want %s\n# got  %.*s\n", r, want, (int)out->len,
	    out->data ? out->data : "");
	return false;
}

/*
 * ev_event_build and ev_event_edit: evfire's events, built and edited on
 * their bytes.
 */
static void
test_edit(void)
{
	static const struct ev_edit none = { 0 };
	static const char *const same[] = {
		"{\"name\":\"a\",\"payload\":0.1}",
		"{ \"name\" : \"a\" , \"payload\" : [1, 2.50, \"\\u00e9\"] }",
		"{\"name\":\"a\",\"seq\":4,\"origin\":{},\"x\":{\"y\":1e2}}",
		"{\"name\":\"a\",\"id\":\"i\\u0041\",\"time\":5,\"z\":null}",
		"{\"name\":\"a\",\"metadata\":{\"k\":1,\"k\":2}}",
	};
	struct ev_metaset ms[4];
	struct ev_edit ed;
	struct ev_evinfo info;
	struct ev_buf out = { 0 }, ref = { 0 }, big = { 0 };
	struct ev_err err;
	char want[512];
	size_t i;
	int r;

	/* The builder. */
	r = ev_event_build(&out, "a.b", 3, "0.1", 3, EV_PAYLOAD_AUTO, &err);
	ok(edited(r, &out, "{\"name\":\"a.b\",\"payload\":0.1}"),
	    "build: a JSON payload byte for byte");
	ev_buf_reset(&out);
	r = ev_event_build(&out, "a", 1, NULL, 0, EV_PAYLOAD_JSON, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"payload\":null}"),
	    "build: no payload is null");
	ev_buf_reset(&out);
	r = ev_event_build(&out, "a", 1, "v1.2.3", 6, EV_PAYLOAD_AUTO, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"payload\":\"v1.2.3\"}"),
	    "build: text that is not JSON is a string");
	ev_buf_reset(&out);
	r = ev_event_build(&out, "a", 1, "4\"2\n", 4, EV_PAYLOAD_STRING, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"payload\":\"4\\\"2\\n\"}"),
	    "build: --string escapes");
	ev_buf_reset(&out);
	ev_buf_append(&out, "xyz", 3);
	r = ev_event_build(&out, "a", 1, "no", 2, EV_PAYLOAD_JSON, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA &&
	    strncmp(err.msg, "payload: invalid JSON at byte 1", 31) == 0 &&
	    out.len == 3, "build: --json refuses text, out unchanged: %s",
	    err.msg);
	r = ev_event_build(&out, "a", 1, "\xff", 1, EV_PAYLOAD_AUTO, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA && out.len == 3,
	    "build: bad UTF-8 is no string: %s", err.msg);
	r = ev_event_build(&out, "\xff", 1, "1", 1, EV_PAYLOAD_AUTO, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA && out.len == 3,
	    "build: a name that is not UTF-8 is refused");

	/* No edit: exactly ev_event_prepare's bytes. */
	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		ev_buf_reset(&ref);
		r = ev_event_prepare(same[i], strlen(same[i]), &nofill, &ref,
		    &info, &err);
		ok(r == 0 && edited(edit(same[i], &nofill, &none, &out, &info,
		    &err), &out, ref.data), "edit: no edit is prepare %zu", i);
	}

	/* -e */
	memset(&ed, 0, sizeof(ed));
	ed.error = true;
	r = edit("{\"name\":\"a\",\"error\":false,\"payload\":0.1}", &nofill,
	    &ed, &out, &info, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"error\":true,\"payload\":0.1}"),
	    "edit: -e replaces error where it stands");
	r = edit("{\"name\":\"a\",\"payload\":0.1}", &nofill, &ed, &out,
	    &info, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"payload\":0.1,\"error\":true}"),
	    "edit: -e adds error");

	/* Refused as ev_event_prepare refuses. */
	r = edit("{\"name\":\"a.x\",\"name\":\"a.y\"}", &nofill, &ed, &out,
	    &info, &err);
	ok(r == -1 && strcmp(err.msg, "name: given twice") == 0,
	    "edit: a name given twice refused: %s", err.msg);
	r = edit("{\"name\":\"a\",\"error\":true,\"error\":false}", &nofill,
	    &ed, &out, &info, &err);
	ok(r == -1 && strcmp(err.msg, "error: given twice") == 0,
	    "edit: an error given twice refused though -e replaces it");
	r = edit("{\"name\":\"evbus.x\"}", &nofill, &ed, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "edit: evbus. refused");

	/* -m */
	ms[0] = (struct ev_metaset){ "a", 1, "\"z\"", 3 };
	ms[1] = (struct ev_metaset){ "b", 1, "\"w\"", 3 };
	memset(&ed, 0, sizeof(ed));
	ed.meta = ms;
	ed.nmeta = 2;
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"metadata\":{\"a\":\"z\","
	    "\"b\":\"w\"}}"), "edit: -m adds metadata");
	r = edit("{\"name\":\"a\",\"metadata\":{\"x\":1.50,\"a\":0,"
	    "\"y\":[1, 2],\"a\":9},\"p\":1e2}", &nofill, &ed, &out, &info,
	    &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"metadata\":{\"x\":1.50,"
	    "\"a\":\"z\",\"y\":[1, 2],\"b\":\"w\"},\"p\":1e2}"),
	    "edit: -m merges: other keys kept in order, a key replaced where "
	    "it first stands");
	r = edit("{\"name\":\"a\",\"metadata\":{\"\\u0061\":1}}", &nofill, &ed,
	    &out, &info, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"metadata\":{\"a\":\"z\","
	    "\"b\":\"w\"}}"), "edit: an escaped key is the same key");
	r = edit("{\"name\":\"a\",\"metadata\":{}}", &nofill, &ed, &out,
	    &info, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"metadata\":{\"a\":\"z\","
	    "\"b\":\"w\"}}"), "edit: into empty metadata");
	r = edit("{\"name\":\"a\",\"metadata\":[1]}", &nofill, &ed, &out,
	    &info, &err);
	ok(r == -1 && strcmp(err.msg, "metadata: not an object") == 0,
	    "edit: metadata not an object refused");
	ms[2] = (struct ev_metaset){ "a", 1, "3", 1 };
	ed.nmeta = 3;
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"metadata\":{\"a\":3,"
	    "\"b\":\"w\"}}"), "edit: a key set twice takes the later value "
	    "at the first place");
	ms[3] = (struct ev_metaset){ "\xff", 1, "1", 1 };
	ed.nmeta = 4;
	ev_buf_reset(&out);
	ev_buf_append(&out, "xyz", 3);
	memset(&err, 0, sizeof(err));
	r = ev_event_edit("{\"name\":\"a\"}", 12, &nofill, &ed, &out, &info,
	    &err);
	ok(r == -1 && err.kind == EV_ERR_DATA && out.len == 3 &&
	    memcmp(out.data, "xyz", 3) == 0,
	    "edit: a key not UTF-8 refused, out unchanged: %s", err.msg);

	/* Over 256 metadata members. */
	ev_buf_append(&big, "{\"name\":\"a\",\"metadata\":{", 24);
	for (i = 0; i < 300; i++)
		ev_buf_printf(&big, "%s\"k%zu\":%zu", i ? "," : "", i, i);
	ev_buf_append(&big, "}}", 2);
	ms[0] = (struct ev_metaset){ "k299", 4, "\"last\"", 6 };
	ed.nmeta = 1;
	memset(&err, 0, sizeof(err));
	ev_buf_reset(&out);
	r = ev_event_edit(big.data, big.len, &nofill, &ed, &out, &info, &err);
	ok(r == 0 && out.len == big.len + 3 &&
	    memcmp(out.data, big.data, big.len - 5) == 0 &&
	    strcmp(out.data + big.len - 5, "\"last\"}}") == 0,
	    "edit: metadata of 300 members merged");

	/* --id */
	memset(&ed, 0, sizeof(ed));
	ed.id = "job-42";
	ed.idlen = 6;
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"id\":\"job-42\"}") &&
	    info.hadid && strcmp(info.id, "job-42") == 0,
	    "edit: --id sets the id");
	r = edit("{\"id\":\"old\",\"name\":\"a\"}", &fill, &ed, &out, &info,
	    &err);
	snprintf(want, sizeof(want), "{\"id\":\"job-42\",\"name\":\"a\","
	    "\"payload\":null,\"time\":%lld}", NOW);
	ok(edited(r, &out, want), "edit: --id replaces the id in place");
	ed.id = "a\"b";
	ed.idlen = 3;
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	ok(edited(r, &out, "{\"name\":\"a\",\"id\":\"a\\\"b\"}"),
	    "edit: an id is written as a JSON string");
	ed.idlen = 0;
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "edit: empty id refused");
	ed.id = "a\tb";
	ed.idlen = 3;
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	ok(r == -1 && strstr(err.msg, "control") != NULL,
	    "edit: an id with a tab refused");
	memset(want, 'i', EV_ID_MAX + 1);
	ed.id = want;
	ed.idlen = EV_ID_MAX;
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	is_int(r, 0, "edit: an id of %d bytes", EV_ID_MAX);
	ed.idlen = EV_ID_MAX + 1;
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA, "edit: an id of %d bytes "
	    "refused", EV_ID_MAX + 1);

	/* --new-ids */
	memset(&ed, 0, sizeof(ed));
	ed.newid = true;
	r = edit("{\"name\":\"a\",\"id\":\"old\\u0021\",\"seq\":3}", &nofill,
	    &ed, &out, &info, &err);
	snprintf(want, sizeof(want), "{\"name\":\"a\",\"id\":\"%s\","
	    "\"metadata\":{\"replay_of\":\"old\\u0021\"}}", info.id);
	ok(edited(r, &out, want) && strlen(info.id) == EV_UUID_LEN &&
	    !info.hadid, "edit: --new-ids: a new id, the old one in "
	    "metadata.replay_of byte for byte");
	r = edit("{\"name\":\"a\",\"metadata\":{\"k\":1},\"id\":\"o\"}",
	    &nofill, &ed, &out, &info, &err);
	snprintf(want, sizeof(want), "{\"name\":\"a\",\"metadata\":{\"k\":1,"
	    "\"replay_of\":\"o\"},\"id\":\"%s\"}", info.id);
	ok(edited(r, &out, want), "edit: --new-ids merges replay_of");
	r = edit("{\"name\":\"a\"}", &nofill, &ed, &out, &info, &err);
	snprintf(want, sizeof(want), "{\"name\":\"a\",\"id\":\"%s\"}",
	    info.id);
	ok(edited(r, &out, want), "edit: --new-ids without an id: no "
	    "replay_of");
	ms[0] = (struct ev_metaset){ "replay_of", 9, "\"mine\"", 6 };
	ed.meta = ms;
	ed.nmeta = 1;
	r = edit("{\"name\":\"a\",\"id\":\"o\"}", &nofill, &ed, &out, &info,
	    &err);
	snprintf(want, sizeof(want), "{\"name\":\"a\",\"id\":\"%s\","
	    "\"metadata\":{\"replay_of\":\"mine\"}}", info.id);
	ok(edited(r, &out, want), "edit: -m replay_of wins over --new-ids");

	/* Everything with fill; a raw newline becomes a space. */
	ms[0] = (struct ev_metaset){ "h", 1, "\"w1\"", 4 };
	ed.newid = false;
	ed.error = true;
	r = edit("{\"name\":\"a\",\n\"payload\":[1,\r\n2]}", &fill, &ed, &out,
	    &info, &err);
	snprintf(want, sizeof(want), "{\"name\":\"a\",\"payload\":[1,  2],"
	    "\"error\":true,\"metadata\":{\"h\":\"w1\"},\"id\":\"%s\","
	    "\"time\":%lld}", info.id, NOW);
	ok(edited(r, &out, want) && !info.hadid && info.time == NOW,
	    "edit: -e and -m with id and time filled, on one line");
	ev_buf_free(&out);
	ev_buf_free(&ref);
	ev_buf_free(&big);
}

/* evroute's fire:TEMPLATE: ev_edit.name renames where the name stands. */
static void
test_edit_name(void)
{
	struct ev_edit ed;
	struct ev_evinfo info;
	struct ev_buf out = { 0 };
	struct ev_err err;
	int r;

	memset(&ed, 0, sizeof(ed));
	ed.name = "request.echo.1-0-0.default";
	ed.namelen = strlen(ed.name);
	r = edit("{\"id\":\"x\",\"name\":\"req\",\"seq\":3,\"payload\":1}",
	    &nofill, &ed, &out, &info, &err);
	ok(edited(r, &out, "{\"id\":\"x\",\"name\":\"request.echo.1-0-0."
	    "default\",\"payload\":1}"), "edit: name replaced where it stands");
	is_str(info.name, "request.echo.1-0-0.default", "edit: info has it");
	ed.name = "a..b";
	ed.namelen = 4;
	r = edit("{\"name\":\"req\"}", &nofill, &ed, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA &&
	    strcmp(err.msg, "name 'a..b': empty token") == 0,
	    "edit: a bad new name refused: %s", err.msg);
	ed.name = "evbus.x";
	ed.namelen = 7;
	r = edit("{\"name\":\"req\"}", &nofill, &ed, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DENIED, "edit: evbus. refused");
	ed.name = "ok";
	ed.namelen = 2;
	r = edit("{\"name\":\"a..b\"}", &nofill, &ed, &out, &info, &err);
	ok(r == -1 && err.kind == EV_ERR_DATA,
	    "edit: the old name is still checked");
	ev_buf_free(&out);
}
