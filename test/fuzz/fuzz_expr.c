/*
 * fuzz_expr.c: libFuzzer target for filters and templates (lib/expr.c).
 *
 * The input's first line is compiled as a filter and as a template; the
 * rest, if any, is one more JSON text to evaluate them on, beside fixed
 * events.  What must hold:
 *   - compiling fails only with EV_ERR_DATA "column N: why", N a column
 *     of the text or one past its end;
 *   - a filter answers 1, 0, or -1 with EV_ERR_DATA and a message, and
 *     the same through a shared doc (and its cache, asked twice) as
 *     through ev_expr_eval;
 *   - every path a filter lists is canonical: compiled, it lists itself;
 *   - a template renders, or fails with a message and the output as it
 *     was.
 * And no crash, leak or sanitizer report.
 *
 *   FUZZ_SECONDS=60 sh mk/fuzz.sh test/fuzz/fuzz_expr.c
 *   build-fuzz/fuzz_expr test/fuzz/corpus/fuzz_expr
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const events[] = {
	"{\"seq\":3,\"name\":\"deploy.web\",\"error\":false,"
	    "\"payload\":{\"system\":\"echo\",\"system_version\":\"1.0.0\","
	    "\"n\":1.5e0,\"list\":[1,\"two\",{\"x\":null},[]],"
	    "\"esc\":\"caf\\u00e9\\n\\\"q\\\"\",\"x y\":-0},"
	    "\"metadata\":{\"a\":\"b\",\"a\":\"c\",\"caf\\u00e9\":true}}",
	"{\"name\":\"a\",\"payload\":null}",
	"[1,[2,[3]],{\"a\":{\"b\":{}}}]",
	"\"\\ud83d\\ude00 text\"",
	"-12.5e-3",
	"null",
};

#define NEV	(sizeof(events) / sizeof(events[0]))

static struct ev_expr_doc *doc;

/* err says "column N: ..." with 1 <= N <= chars + 1. */
static void
check_column(const struct ev_err *err, const char *src)
{
	const char *p;
	long col, chars = 0;

	assert(err->kind == EV_ERR_DATA || err->kind == EV_ERR_SYS);
	if (err->kind == EV_ERR_SYS)
		return;
	assert(strncmp(err->msg, "column ", 7) == 0);
	col = strtol(err->msg + 7, NULL, 10);
	for (p = src; *p != '\0'; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			chars++;
	assert(col >= 1 && col <= chars + 1);
}

static void
check_filter(const struct ev_expr *e, const char *json, size_t len)
{
	struct ev_err err;
	int r, r2, r3;

	memset(&err, 0, sizeof(err));
	r = ev_expr_eval(e, json, len, &err);
	assert(r >= -1 && r <= 1);
	if (r == -1)
		assert(err.msg[0] != '\0' && (err.kind == EV_ERR_DATA ||
		    err.kind == EV_ERR_SYS));
	if (ev_expr_doc_set(doc, json, len, &err) == -1) {
		assert(r == -1);
		return;
	}
	r2 = ev_expr_eval_doc(e, doc, &err);
	r3 = ev_expr_eval_doc(e, doc, &err);
	assert(r2 == r && r3 == r);
}

static void
check_paths(const struct ev_expr *e)
{
	struct ev_expr *p;
	struct ev_err err;
	size_t i;

	for (i = 0; i < ev_expr_npaths(e); i++) {
		p = ev_expr_compile(ev_expr_path(e, i), &err);
		assert(p != NULL);
		assert(ev_expr_npaths(p) == 1);
		assert(strcmp(ev_expr_path(p, 0), ev_expr_path(e, i)) == 0);
		ev_expr_free(p);
	}
}

static void
check_template(const struct ev_tmpl *t, const char *json, size_t len)
{
	struct ev_buf out = { 0 };
	struct ev_err err;

	ev_buf_printf(&out, "before");
	memset(&err, 0, sizeof(err));
	if (ev_tmpl_render(t, json, len, &out, &err) == -1) {
		assert(err.msg[0] != '\0');
		assert(out.len == 6 && memcmp(out.data, "before", 6) == 0);
	} else
		assert(out.len >= 6 && memcmp(out.data, "before", 6) == 0);
	ev_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl;
	char *src;
	size_t srclen, i;
	struct ev_expr *e;
	struct ev_tmpl *t;
	struct ev_err err;

	if (doc == NULL && (doc = ev_expr_doc_new()) == NULL)
		abort();
	nl = memchr(data, '\n', size);
	srclen = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	if ((src = malloc(srclen + 1)) == NULL)
		abort();
	memcpy(src, data, srclen);
	src[srclen] = '\0';		/* a NUL inside ends the text early */

	memset(&err, 0, sizeof(err));
	if ((e = ev_expr_compile(src, &err)) == NULL)
		check_column(&err, src);
	else {
		for (i = 0; i < NEV; i++)
			check_filter(e, events[i], strlen(events[i]));
		if (nl != NULL)
			check_filter(e, nl + 1, size - srclen - 1);
		check_paths(e);
		ev_expr_free(e);
	}

	memset(&err, 0, sizeof(err));
	if ((t = ev_tmpl_compile(src, &err)) == NULL)
		check_column(&err, src);
	else {
		for (i = 0; i < NEV; i++)
			check_template(t, events[i], strlen(events[i]));
		if (nl != NULL)
			check_template(t, nl + 1, size - srclen - 1);
		ev_tmpl_free(t);
	}
	free(src);
	return 0;
}
