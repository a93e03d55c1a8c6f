/*
 * fuzz_route.c: libFuzzer target for evroute's routes text (lib/route.c).
 *
 * The input is routes text.  A refusal must name the place as
 * "f:LINE:COLUMN: " (or, past the size limit, "f: ") and add no rule.  A
 * text that parses must describe itself as text that parses to the same
 * rules (pattern, filter text, action, argument) and describes itself the
 * same again; and for a few names, ev_routes_match must give, in rule
 * order, exactly the rules whose pattern ev_pattern_match says match.
 */
#include <assert.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *names[] = { "a", "a.b", "a.b.c", "evbus.started",
    "request.echo.1-0-0.default", "x.crashed", "#", "b" };

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* "f:" then digits ':' digits ": " */
static bool
placed(const char *msg)
{
	const char *p = msg + 2;

	if (strncmp(msg, "f:", 2) != 0)
		return false;
	if (!isdigit((unsigned char)*p))
		return strncmp(msg, "f: ", 3) == 0;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':' || !isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return strncmp(p, ": ", 2) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ev_routes rs = { 0 }, again = { 0 };
	struct ev_buf d1 = { 0 }, d2 = { 0 };
	struct ev_err err;
	const size_t *idx;
	size_t i, k, n, want;

	memset(&err, 0, sizeof(err));
	if (ev_routes_parse(&rs, (const char *)data, size, "f", &err) == -1) {
		assert(rs.n == 0);
		assert(err.kind == EV_ERR_SYS || placed(err.msg));
		ev_routes_free(&rs);
		return 0;
	}
	assert(ev_routes_describe(&rs, &d1) == 0);
	if (ev_routes_parse(&again, d1.data != NULL ? d1.data : "", d1.len,
	    "d", &err) == -1)
		abort();
	assert(again.n == rs.n);
	for (i = 0; i < rs.n; i++) {
		assert(strcmp(rs.r[i].pat, again.r[i].pat) == 0);
		assert(same(rs.r[i].where, again.r[i].where));
		assert((rs.r[i].expr != NULL) == (rs.r[i].where != NULL));
		assert(rs.r[i].action == again.r[i].action);
		assert(same(rs.r[i].arg, again.r[i].arg));
		assert((rs.r[i].tmpl != NULL) ==
		    (rs.r[i].action == EV_ROUTE_FIRE && rs.r[i].arg != NULL));
	}
	assert(ev_routes_describe(&again, &d2) == 0);
	assert(d1.len == d2.len &&
	    (d1.len == 0 || memcmp(d1.data, d2.data, d1.len) == 0));

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		assert(ev_routes_match(&rs, names[k], strlen(names[k]), &idx,
		    &n) == 0);
		for (i = 0, want = 0; i < rs.n; i++) {
			if (!ev_pattern_match(rs.r[i].pat, rs.r[i].patlen,
			    names[k], strlen(names[k])))
				continue;
			assert(want < n && idx[want] == i);
			want++;
		}
		assert(want == n);
	}
	ev_buf_free(&d1);
	ev_buf_free(&d2);
	ev_routes_free(&again);
	ev_routes_free(&rs);
	return 0;
}
