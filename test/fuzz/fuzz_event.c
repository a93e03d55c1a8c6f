/*
 * fuzz_event.c: libFuzzer target for the event model (lib/event.c).
 *
 * The input goes through ev_event_prepare (with and without fill) and
 * ev_event_stamp.  On success the output must be valid JSON per jansson,
 * one line (no raw newline), a name that passes ev_name_check and is not
 * reserved, the info struct agreeing with the output, and prepare(output)
 * must succeed again and give the same bytes.  A stamped event must start
 * {"seq":N, and carry the peer's origin, written compact, as its one
 * "origin" member.  On failure the output buffer must be unchanged.
 *
 * The answer is also compared with a reference checker written on a
 * jansson tree (the rules of evbus.h): same accept/reject, same error kind,
 * same fields.  Inputs with duplicate keys, or more top-level fields than
 * the checker may bound, are left out of that comparison (a tree keeps the
 * last duplicate; the checker may refuse them).
 *
 * ev_name_check and ev_name_reserved are compared with an oracle on the
 * raw bytes too.
 *
 *   sh mk/fuzz.sh test/fuzz/fuzz_event.c
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NOW	1795413600123LL
#define MAXLEN	(64 * 1024)

/* The widest origin there is: the daemon stamps the peer's real pid. */
static const struct ev_origin orig = { UINT32_MAX, 100, INT32_MAX };

static void __attribute__((noreturn))
fail(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_event: %s on %zu bytes: ", what, size);
	fwrite(data, 1, size, stderr);
	fputc('\n', stderr);
	abort();
}

static bool
oracle_name(const uint8_t *s, size_t len)
{
	static const uint32_t space[] = { 0x85, 0xa0, 0x1680, 0x2028, 0x2029,
	    0x202f, 0x205f, 0x3000 };
	json_t *str;
	size_t i, k, n, tok = 0;
	uint32_t cp;

	if (len == 0 || len > EV_NAME_MAX)
		return false;
	/* jansson knows valid UTF-8 (and refuses NUL). */
	if ((str = json_stringn((const char *)s, len)) == NULL)
		return false;
	json_decref(str);
	for (i = 0; i < len; i += n) {
		n = s[i] < 0x80 ? 1 : s[i] < 0xe0 ? 2 : s[i] < 0xf0 ? 3 : 4;
		cp = n == 1 ? s[i] : s[i] & (0x7f >> n);
		for (k = 1; k < n; k++)
			cp = cp << 6 | (s[i + k] & 0x3f);
		if (cp == '.') {
			if (tok == 0)
				return false;
			tok = 0;
			continue;
		}
		if (cp <= ' ' || (cp >= 0x7f && cp <= 0x9f) || cp == '*' ||
		    cp == '#' || (cp >= 0x2000 && cp <= 0x200a))
			return false;
		for (k = 0; k < sizeof(space) / sizeof(space[0]); k++)
			if (cp == space[k])
				return false;
		tok++;
	}
	return tok > 0;
}

/* The reference rules on a tree: 0 or an error kind. */
static enum ev_errkind
ref_check(json_t *ev)
{
	json_t *v, *f;
	const char *s, *k;
	size_t len, i;

	if ((v = json_object_get(ev, "name")) == NULL || !json_is_string(v))
		return EV_ERR_DATA;
	s = json_string_value(v);
	len = json_string_length(v);
	if (!oracle_name((const uint8_t *)s, len))
		return EV_ERR_DATA;
	if (len >= 5 && memcmp(s, "evbus", 5) == 0 &&
	    (len == 5 || s[5] == '.'))
		return EV_ERR_DENIED;
	if ((v = json_object_get(ev, "id")) != NULL) {
		if (!json_is_string(v))
			return EV_ERR_DATA;
		s = json_string_value(v);
		len = json_string_length(v);
		if (len == 0 || len > EV_ID_MAX)
			return EV_ERR_DATA;
		for (i = 0; i < len; i++)
			if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
				return EV_ERR_DATA;
	}
	if ((v = json_object_get(ev, "time")) != NULL &&
	    (!json_is_integer(v) || json_integer_value(v) < 0))
		return EV_ERR_DATA;
	if ((v = json_object_get(ev, "error")) != NULL && !json_is_boolean(v) &&
	    !json_is_null(v))
		return EV_ERR_DATA;
	if ((v = json_object_get(ev, "metadata")) != NULL &&
	    !json_is_object(v))
		return EV_ERR_DATA;
	if ((v = json_object_get(ev, "filter")) != NULL) {
		if (!json_is_object(v))
			return EV_ERR_DATA;
		json_object_foreach(v, k, f) {
			if ((strcmp(k, "node") != 0 &&
			    strcmp(k, "service") != 0 &&
			    strcmp(k, "tag") != 0) || !json_is_string(f))
				return EV_ERR_DATA;
		}
	}
	return EV_ERR_NONE;
}

/* Any error kind a refusal may carry. */
static bool
refusal_kind(enum ev_errkind k)
{
	return k == EV_ERR_DATA || k == EV_ERR_LIMIT || k == EV_ERR_DENIED;
}

/*
 * Check one successful output (the bytes after mark in out) and return
 * its tree.
 */
static json_t *
check_output(const uint8_t *data, size_t size, const char *p, size_t n,
    const struct ev_evinfo *info, bool filled)
{
	struct ev_evinfo info2;
	struct ev_buf again = { 0 };
	struct ev_err err;
	struct ev_prepare prep = { false, 0, 0 };
	json_error_t je;
	json_t *j, *v;

	if (memchr(p, '\n', n) != NULL || memchr(p, '\r', n) != NULL)
		fail("output has a raw newline", data, size);
	if ((j = json_loadb(p, n, 0, &je)) == NULL || !json_is_object(j))
		fail("output is not a JSON object", data, size);
	v = json_object_get(j, "name");
	if (!json_is_string(v) || ev_name_check(json_string_value(v),
	    json_string_length(v), NULL) == -1 ||
	    ev_name_reserved(json_string_value(v), json_string_length(v)))
		fail("output name", data, size);
	if (json_string_length(v) != info->namelen ||
	    memcmp(json_string_value(v), info->name, info->namelen) != 0)
		fail("info.name", data, size);
	v = json_object_get(j, "id");
	if (filled && (!json_is_string(v) ||
	    strcmp(json_string_value(v), info->id) != 0))
		fail("info.id", data, size);
	v = json_object_get(j, "time");
	if (filled && (!json_is_integer(v) ||
	    json_integer_value(v) != info->time))
		fail("info.time", data, size);

	/* prepare(output) == output, byte for byte. */
	if (ev_event_prepare(p, n, &prep, &again, &info2, &err) == -1)
		fail("prepare(output) fails", data, size);
	if (json_object_get(j, "seq") == NULL &&
	    json_object_get(j, "origin") == NULL &&
	    (again.len != n || memcmp(again.data, p, n) != 0))
		fail("prepare(output) != output", data, size);
	if (info2.namelen != info->namelen || info2.hadid !=
	    (json_object_get(j, "id") != NULL))
		fail("prepare(output) info", data, size);
	ev_buf_free(&again);
	return j;
}

/*
 * A stamped event (p, n; its tree j): it starts {"seq":42, and its origin
 * is orig, as a tree and as compact bytes.  The members between the two
 * are not checked here: the seq comes first, the rest is the protocol's.
 */
static void
check_stamp(const uint8_t *data, size_t size, const char *p, size_t n,
    json_t *j)
{
	static const char seq[] = "{\"seq\":42,";
	json_t *want;
	char text[128];
	int len;

	if (n < sizeof(seq) - 1 || memcmp(p, seq, sizeof(seq) - 1) != 0)
		fail("stamp does not start with the seq", data, size);
	if (ev_event_seq(p, n) != 42)
		fail("ev_event_seq", data, size);
	{
		const char *id;
		size_t idlen;
		uint64_t s;
		json_t *jid = json_object_get(j, "id");

		/* The head carries the id, and it is the event's id. */
		if (ev_event_head(p, n, &s, &id, &idlen) == -1 || s != 42 ||
		    !json_is_string(jid))
			fail("ev_event_head", data, size);
	}
	want = json_pack("{s:I,s:I,s:I}", "uid", (json_int_t)orig.uid,
	    "gid", (json_int_t)orig.gid, "pid", (json_int_t)orig.pid);
	if (want == NULL || !json_equal(json_object_get(j, "origin"), want))
		fail("stamped origin", data, size);
	json_decref(want);
	len = snprintf(text, sizeof(text), "\"origin\":{\"uid\":%" PRIu32
	    ",\"gid\":%" PRIu32 ",\"pid\":%" PRId32 "}", orig.uid, orig.gid,
	    orig.pid);
	if (memmem(p, n, text, (size_t)len) == NULL)
		fail("stamped origin bytes", data, size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ev_prepare fill = { true, NOW, 0 };
	static const struct ev_prepare nofill = { false, 0, 0 };
	static const struct ev_stamp st = { .maxlen = MAXLEN, .seq = 42,
	    .origin = &orig, .now_ms = NOW };
	const char *in = (const char *)data;
	struct ev_buf out = { 0 };
	struct ev_evinfo info;
	struct ev_err err;
	json_error_t je;
	json_t *tree, *j, *want, *ts;
	enum ev_errkind ref = EV_ERR_NONE;
	bool compare;
	int r, pass;

	if ((ev_name_check(in, size, NULL) == 0) != oracle_name(data, size))
		fail("ev_name_check", data, size);
	if (ev_name_reserved(in, size) != (size >= 5 &&
	    memcmp(data, "evbus", 5) == 0 && (size == 5 || data[5] == '.')))
		fail("ev_name_reserved", data, size);

	tree = json_loadb(in, size, JSON_DECODE_ANY, &je);
	if (tree != NULL && json_is_object(tree)) {
		json_t *strict = json_loadb(in, size, JSON_REJECT_DUPLICATES,
		    &je);

		compare = strict != NULL && json_object_size(tree) <= 128 &&
		    memchr(data, '\0', size) == NULL;
		json_decref(strict);
		ref = ref_check(tree);
	} else {
		compare = memchr(data, '\0', size) == NULL;
		ref = EV_ERR_DATA;
	}
	if (size > MAXLEN)		/* stamp refuses it first */
		compare = false;

	for (pass = 0; pass < 3; pass++) {
		ev_buf_reset(&out);
		ev_buf_append(&out, "KEEP", 4);
		memset(&err, 0, sizeof(err));
		if (pass < 2)
			r = ev_event_prepare(in, size, pass ? &fill : &nofill,
			    &out, &info, &err);
		else
			r = ev_event_stamp(in, size, &st, &out, &info, &err);
		if (r == -1) {
			if (out.len - out.off != 4 ||
			    memcmp(out.data + out.off, "KEEP", 4) != 0)
				fail("output changed on failure", data, size);
			if (!refusal_kind(err.kind) || err.msg[0] == '\0')
				fail("error kind", data, size);
			if (compare && (ref == EV_ERR_NONE ||
			    err.kind != ref))
				fail("refused unlike the reference", data,
				    size);
			continue;
		}
		if (compare && ref != EV_ERR_NONE)
			fail("accepted unlike the reference", data, size);
		if (tree == NULL)
			fail("accepted invalid JSON", data, size);
		if (memcmp(out.data + out.off, "KEEP", 4) != 0)
			fail("output before mark changed", data, size);
		j = check_output(data, size, out.data + out.off + 4,
		    out.len - out.off - 4, &info, pass > 0);
		if (pass == 2)
			check_stamp(data, size, out.data + out.off + 4,
			    out.len - out.off - 4, j);
		if (compare) {
			/* The reference output: the tree, fixed up. */
			want = json_deep_copy(tree);
			json_object_del(want, "seq");
			json_object_del(want, "origin");
			if (pass > 0) {
				if (json_object_get(want, "id") == NULL)
					json_object_set(want, "id",
					    json_object_get(j, "id"));
				ts = json_object_get(want, "timestamp");
				if (json_object_get(want, "time") == NULL)
					json_object_set_new(want, "time",
					    json_integer(json_is_integer(ts) &&
					    json_integer_value(ts) >= 0 ?
					    json_integer_value(ts) : NOW));
				if (json_object_get(want, "payload") == NULL)
					json_object_set_new(want, "payload",
					    json_null());
			}
			if (pass == 2)
				json_object_set_new(want, "seq",
				    json_integer(42));
			json_object_del(j, "origin");
			if (!json_equal(want, j) || info.hadid !=
			    (json_object_get(tree, "id") != NULL))
				fail("output differs from the reference",
				    data, size);
			json_decref(want);
		}
		json_decref(j);
	}
	json_decref(tree);
	ev_buf_free(&out);
	return 0;
}
