/*
 * fuzz_jscan.c: differential fuzzer of lib/jscan.c against jansson.
 *
 * Every input goes to ev_json_check and json_loadb(JSON_DECODE_ANY), and to
 * ev_json_scan_object and json_loadb(0); they must agree on accept/reject
 * and on the top value's type.  For accepted objects, every reported member
 * must decode (ev_json_unescape on the key, json_loadb on the value span)
 * to what jansson holds under that key, the last duplicate winning, and the
 * distinct keys must be exactly jansson's.  The same bytes are also given
 * to ev_json_put_string, which must refuse exactly what json_stringn
 * refuses plus NUL bytes, and otherwise write what json_dumps writes.
 *
 * The one deliberate difference (see jscan.h): jansson skips a NUL byte
 * right after a number or literal; jscan refuses every NUL.  When jansson
 * accepts an input with NULs, the input without those NULs must be
 * accepted by both.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib \
 *       test/fuzz/fuzz_jscan.c lib/jscan.c lib/buf.c lib/err.c -ljansson
 *   ./a.out -max_len=4096 test/fuzz/corpus/fuzz_jscan
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"
#include "jscan.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAXM	4096

static struct ev_jmember members[MAXM];

static void __attribute__((noreturn))
disagree(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "jscan and jansson disagree: %s on %zu bytes: ",
	    what, size);
	fwrite(data, 1, size, stderr);
	fputc('\n', stderr);
	abort();
}

static enum ev_jtype
jtype(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return EV_J_OBJECT;
	case JSON_ARRAY:
		return EV_J_ARRAY;
	case JSON_STRING:
		return EV_J_STRING;
	case JSON_INTEGER:
		return EV_J_INTEGER;
	case JSON_REAL:
		return EV_J_REAL;
	case JSON_TRUE:
		return EV_J_TRUE;
	case JSON_FALSE:
		return EV_J_FALSE;
	case JSON_NULL:
		return EV_J_NULL;
	}
	abort();
}

/* Can c end a number or a literal (the bytes jansson ungets after)? */
static bool
after_token_end(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

/* Check the members scan_object reported against jansson's object. */
static void
check_members(const uint8_t *data, size_t size, json_t *obj, size_t nm)
{
	struct ev_buf k = { 0 }, k2 = { 0 }, sv = { 0 };
	size_t i, j, distinct = 0;
	json_error_t je;
	int64_t iv;

	for (i = 0; i < nm; i++) {
		struct ev_jmember *mi = &members[i];
		json_t *want, *got;
		bool last = true;

		ev_buf_reset(&k);
		if (ev_json_unescape(mi->key, mi->keylen, &k) == -1)
			abort();
		if (mi->key_escaped !=
		    (memchr(mi->key, '\\', mi->keylen) != NULL))
			disagree("key_escaped", data, size);
		for (j = i + 1; j < nm && last; j++) {
			ev_buf_reset(&k2);
			if (ev_json_unescape(members[j].key,
			    members[j].keylen, &k2) == -1)
				abort();
			if (k2.len == k.len && memcmp(k.data, k2.data,
			    k.len) == 0)
				last = false;
		}
		if ((want = json_object_getn(obj, k.data, k.len)) == NULL)
			disagree("a key jansson does not have", data, size);
		if (!last)
			continue;
		distinct++;
		got = json_loadb(mi->val, mi->vallen, JSON_DECODE_ANY, &je);
		if (got == NULL || !json_equal(got, want))
			disagree("member value span", data, size);
		json_decref(got);
		if (mi->type != jtype(want))
			disagree("member type", data, size);
		if (mi->type == EV_J_STRING) {
			if (mi->val_escaped !=
			    (memchr(mi->val, '\\', mi->vallen) != NULL))
				disagree("val_escaped", data, size);
			ev_buf_reset(&sv);
			if (ev_json_unescape(mi->val + 1, mi->vallen - 2,
			    &sv) == -1)
				abort();
			if (sv.len != json_string_length(want) ||
			    memcmp(sv.data, json_string_value(want),
			    sv.len) != 0)
				disagree("unescaped string value", data, size);
		} else if (mi->val_escaped)
			disagree("val_escaped on a non-string", data, size);
		if (mi->type == EV_J_INTEGER) {
			if (ev_json_int(mi->val, mi->vallen, &iv) == -1 ||
			    iv != json_integer_value(want))
				disagree("integer value", data, size);
		}
	}
	if (distinct != json_object_size(obj))
		disagree("member count", data, size);
	ev_buf_free(&k);
	ev_buf_free(&k2);
	ev_buf_free(&sv);
}

/* Compare one object scan, with maxm members of room, against jansson. */
static void
check_object(const uint8_t *data, size_t size, json_t *jobj, size_t maxm)
{
	struct ev_err err;
	size_t nm = 12345;
	int rc;

	rc = ev_json_scan_object((const char *)data, size, members, maxm, &nm,
	    &err);
	if (jobj == NULL || !json_is_object(jobj)) {
		if (rc == 0 || err.kind != EV_ERR_DATA)
			disagree("scan_object accepts", data, size);
		return;
	}
	if (json_object_size(jobj) > maxm) {
		if (rc == 0 || err.kind != EV_ERR_LIMIT || nm != maxm)
			disagree("scan_object misses the limit", data, size);
		return;
	}
	if (rc == -1) {
		/* Duplicate keys may push the count past maxm. */
		if (err.kind != EV_ERR_LIMIT || nm != maxm)
			disagree("scan_object rejects", data, size);
		return;
	}
	check_members(data, size, jobj, nm);
}

/*
 * The helpers on raw bytes: ev_json_unescape must stay in bounds and never
 * grow the text; ev_json_int must agree with strtoll on -?(0|[1-9][0-9]*).
 */
static void
check_helpers(const uint8_t *data, size_t size)
{
	struct ev_buf out = { 0 };
	char txt[32], *end;
	long long want;
	int64_t v;
	size_t i;
	bool valid;
	int rc;

	if (ev_json_unescape((const char *)data, size, &out) == -1 ||
	    out.len > size)
		disagree("unescape grows", data, size);
	ev_buf_free(&out);

	rc = ev_json_int((const char *)data, size, &v);
	i = size > 0 && data[0] == '-';
	valid = size > i && size < sizeof(txt) &&
	    !(data[i] == '0' && size > i + 1);
	for (; valid && i < size; i++)
		valid = data[i] >= '0' && data[i] <= '9';
	if (!valid) {
		if (rc == 0)
			disagree("ev_json_int accepts", data, size);
		return;
	}
	memcpy(txt, data, size);
	txt[size] = '\0';
	errno = 0;
	want = strtoll(txt, &end, 10);
	if ((rc == 0) != (errno != ERANGE) || (rc == 0 && v != want))
		disagree("ev_json_int", data, size);
}

/* ev_json_put_string against json_stringn + json_dumps. */
static void
check_put_string(const uint8_t *data, size_t size)
{
	struct ev_buf out = { 0 };
	struct ev_err err;
	json_t *js;
	char *dump;
	int rc;

	js = json_stringn((const char *)data, size);
	rc = ev_json_put_string(&out, (const char *)data, size, &err);
	if (js == NULL || memchr(data, '\0', size) != NULL) {
		if (rc == 0)
			disagree("put_string accepts", data, size);
		json_decref(js);
		ev_buf_free(&out);
		return;
	}
	if (rc == -1)
		disagree("put_string rejects", data, size);
	dump = json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT);
	if (dump == NULL)
		abort();
	if (strlen(dump) != out.len || memcmp(dump, out.data, out.len) != 0)
		disagree("put_string output", data, size);
	free(dump);
	json_decref(js);
	ev_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ev_err err;
	enum ev_jtype t;
	json_error_t je;
	json_t *jany, *jobj;
	int rc;

	jany = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
	rc = ev_json_check((const char *)data, size, &t, &err);

	if (memchr(data, '\0', size) != NULL) {
		uint8_t *s;
		size_t i, n = 0;

		if (rc == 0)
			disagree("check accepts a NUL", data, size);
		if (jany != NULL) {
			/* Drop the NULs jansson skipped: after [0-9a-z]. */
			if ((s = malloc(size)) == NULL)
				abort();
			for (i = 0; i < size; i++)
				if (data[i] != '\0' || i == 0 ||
				    !after_token_end(data[i - 1]))
					s[n++] = data[i];
			if (memchr(s, '\0', n) != NULL ||
			    ev_json_check((const char *)s, n, &t, &err) == -1)
				disagree("jansson's NUL skipping", data, size);
			free(s);
		}
		json_decref(jany);
		check_object(data, size, NULL, MAXM);
		check_put_string(data, size);
		check_helpers(data, size);
		return 0;
	}

	if ((rc == 0) != (jany != NULL))
		disagree(rc == 0 ? "check accepts" : "check rejects",
		    data, size);
	if (rc == -1 && err.kind != EV_ERR_DATA)
		disagree("error kind", data, size);
	if (rc == 0 && t != jtype(jany))
		disagree("top type", data, size);

	jobj = json_loadb((const char *)data, size, 0, &je);
	if ((jobj != NULL) != (jany != NULL && (json_is_object(jany) ||
	    json_is_array(jany))))
		abort();		/* jansson disagrees with itself */
	check_object(data, size, jobj, MAXM);
	check_object(data, size, jobj, 2);

	if (jany != NULL && json_is_string(jany))
		check_put_string((const uint8_t *)json_string_value(jany),
		    json_string_length(jany));
	json_decref(jany);
	json_decref(jobj);
	check_put_string(data, size);
	check_helpers(data, size);
	return 0;
}
