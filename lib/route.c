/*
 * route.c: evroute's rules, parsed from routes files and -e arguments,
 * and the index that finds the rules whose pattern matches a name.
 *
 * The text.  One rule a logical line:
 *
 *	PATTERN [where FILTER] -> ACTION
 *
 * A physical line whose last non-blank character is '\' goes on on the
 * next line (the '\' counts as a blank; a comment goes on too), as in the
 * ACL file.  Blanks are space, tab and CR.  Blank lines are ignored.
 *
 * Comments.  '#' is also the pattern that matches every name, so a line
 * whose first non-blank character is '#' is a comment unless it is a rule
 * for a pattern starting with '#': '#' followed by a '.' ("#.crashed ->
 * stderr"), or '#' alone followed by the word "where" or by "->" ("# ->
 * drop", "# where .error -> stderr"; "#-> drop" too, which is then an
 * error for its missing blank).  Nothing else is a comment: there
 * are no comments at the end of a rule (exec:CMD and file:PATH take the
 * rest of the line, '#' included).
 *
 * PATTERN is a topic pattern (ev_pattern_check), one word.  FILTER runs
 * from after "where" to the first "->" outside a string literal; it is
 * compiled with ev_expr_compile.  ACTION is the rest of the line without
 * the blanks around it: stdout, stderr, drop, file:PATH, exec:CMD, fire,
 * or fire:TEMPLATE (ev_tmpl_compile), the blanks after the ':' dropped.
 *
 * Errors name the place as NAME:LINE:COLUMN, columns counting characters
 * from 1 on the physical line, as a compiler does: a filter's or a
 * template's own "column N" is turned into the column of the line it is
 * on.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

#define QUOTE_MAX	32	/* bytes of a word quoted in a message */

/* Where a physical line starts in the logical line joined from it. */
struct seg {
	size_t		off;
	unsigned	line;
};

/* A logical line: its text, and where each of its pieces came from. */
struct lline {
	struct ev_buf	 text;
	struct seg	*seg;
	size_t		 nseg, segcap;
	const char	*src;
	struct ev_err	*err;
};

static bool
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool
is_lead(int c)
{
	return ((unsigned char)c & 0xc0) != 0x80;
}

/*
 * Fail at logical offset off: "SRC:LINE:COLUMN: why", the column counted
 * in characters from the start of its physical line.
 */
static int __attribute__((format(printf, 3, 4)))
lfail(struct lline *l, size_t off, const char *fmt, ...)
{
	const char *s = ev_buf_head(&l->text);
	char why[sizeof(l->err->msg)];
	unsigned col = 1;
	size_t i, k = 0;
	va_list ap;

	for (i = 0; i < l->nseg; i++)
		if (l->seg[i].off <= off)
			k = i;
	for (i = l->seg[k].off; i < off && i < ev_buf_unread(&l->text); i++)
		if (is_lead(s[i]))
			col++;
	if (off > ev_buf_unread(&l->text))
		col += (unsigned)(off - ev_buf_unread(&l->text));
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ev_err_set(l->err, EV_ERR_DATA, "%s:%u:%u: %s", l->src,
	    l->seg[k].line, col, why);
}

/*
 * A failure of ev_expr_compile or ev_tmpl_compile on the text at logical
 * offset base: its "column N: why" told at the line's own column.
 */
static int
lfail_sub(struct lline *l, size_t base, size_t sublen, const struct ev_err *e)
{
	const char *s = ev_buf_head(&l->text) + base, *why;
	unsigned long col;
	size_t off = 0;
	char *end;

	if (e->kind != EV_ERR_DATA || strncmp(e->msg, "column ", 7) != 0 ||
	    (col = strtoul(e->msg + 7, &end, 10)) == 0 ||
	    strncmp(end, ": ", 2) != 0) {
		lfail(l, base, "%s", e->msg);
		l->err->kind = e->kind == EV_ERR_NONE ? EV_ERR_DATA : e->kind;
		return -1;
	}
	why = end + 2;
	/* Character col - 1 of the text, or past its end. */
	while (col > 1 && off < sublen) {
		off++;
		while (off < sublen && !is_lead(s[off]))
			off++;
		col--;
	}
	return lfail(l, base + off + (col - 1), "%s", why);
}

/* Quote a word for a message, cut with "..." when long. */
static const char *
quote(char *buf, size_t size, const char *s, size_t len)
{
	if (len > QUOTE_MAX)
		snprintf(buf, size, "%.*s...", QUOTE_MAX, s);
	else
		snprintf(buf, size, "%.*s", (int)len, s);
	return buf;
}

static size_t
skip_blanks(const char *s, size_t n, size_t i)
{
	while (i < n && is_blank(s[i]))
		i++;
	return i;
}

static size_t
word_end(const char *s, size_t n, size_t i)
{
	while (i < n && !is_blank(s[i]))
		i++;
	return i;
}

static bool
word_is(const char *s, size_t n, size_t i, const char *w)
{
	size_t len = strlen(w);

	return n - i >= len && memcmp(s + i, w, len) == 0 &&
	    (i + len == n || is_blank(s[i + len]));
}

/*
 * The first "->" at or after i outside a string literal (the filter
 * language has no other use for it), or n.
 */
static size_t
find_arrow(const char *s, size_t n, size_t i)
{
	for (; i < n; i++) {
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			if (i >= n)
				return n;
		} else if (s[i] == '-' && i + 1 < n && s[i + 1] == '>')
			return i;
	}
	return n;
}

static char *
dup_span(const char *s, size_t len)
{
	char *p;

	if ((p = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static void
route_clear(struct ev_route *r)
{
	free(r->pat);
	free(r->where);
	ev_expr_free(r->expr);
	free(r->arg);
	ev_tmpl_free(r->tmpl);
	memset(r, 0, sizeof(*r));
}

/* Is this line a comment (see the top of the file)? i: its first '#'. */
static bool
is_comment(const char *s, size_t n, size_t i)
{
	if (i + 1 < n && s[i + 1] == '.')
		return false;
	/* "#->": a rule written without its blank, told so, never lost. */
	if (n - i >= 3 && s[i + 1] == '-' && s[i + 2] == '>')
		return false;
	if (i + 1 < n && !is_blank(s[i + 1]))
		return true;
	i = skip_blanks(s, n, i + 1);
	return !(word_is(s, n, i, "where") ||
	    (n - i >= 2 && s[i] == '-' && s[i + 1] == '>'));
}

/*
 * The action s[a..e) of rule r (blanks around it already dropped).
 */
static int
parse_action(struct lline *l, struct ev_route *r, size_t a, size_t e)
{
	static const struct {
		const char		*word;
		enum ev_route_action	 action;
		bool			 arg;	/* word:ARG */
		const char		*what;	/* the ARG */
	} acts[] = {
		{ "stdout", EV_ROUTE_STDOUT, false, NULL },
		{ "stderr", EV_ROUTE_STDERR, false, NULL },
		{ "drop", EV_ROUTE_DROP, false, NULL },
		{ "fire", EV_ROUTE_FIRE, false, NULL },
		{ "file", EV_ROUTE_FILE, true, "a path" },
		{ "exec", EV_ROUTE_EXEC, true, "a command" },
		{ "fire", EV_ROUTE_FIRE, true, "a template" },
	};
	const char *s = ev_buf_head(&l->text);
	char q[QUOTE_MAX + 4];
	struct ev_err e2;
	size_t i, w, len, k;

	for (w = a; w < e && !is_blank(s[w]) && s[w] != ':'; w++)
		continue;
	len = w - a;
	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		if (strlen(acts[i].word) != len ||
		    memcmp(s + a, acts[i].word, len) != 0)
			continue;
		if (acts[i].arg != (w < e && s[w] == ':'))
			continue;
		r->action = acts[i].action;
		if (!acts[i].arg) {
			if (w < e)
				return lfail(l, skip_blanks(s, e, w),
				    "unexpected '%s' after '%s'", quote(q,
				    sizeof(q), s + skip_blanks(s, e, w),
				    e - skip_blanks(s, e, w)), acts[i].word);
			return 0;
		}
		k = skip_blanks(s, e, w + 1);
		if (k == e)
			return lfail(l, k, "%s: expected %s after ':'",
			    acts[i].word, acts[i].what);
		/* Written out again, it would go on on the next line. */
		if (s[e - 1] == '\\')
			return lfail(l, e - 1, "a rule cannot end in '\\'");
		if ((r->arg = dup_span(s + k, e - k)) == NULL)
			return ev_err_sys(l->err, "routes");
		if (r->action == EV_ROUTE_FIRE &&
		    (r->tmpl = ev_tmpl_compile(r->arg, &e2)) == NULL)
			return lfail_sub(l, k, e - k, &e2);
		return 0;
	}
	if (w < e && s[w] == ':' && (len == 6 && (memcmp(s + a, "stdout",
	    6) == 0 || memcmp(s + a, "stderr", 6) == 0)))
		return lfail(l, w, "'%.*s' takes no argument", (int)len,
		    s + a);
	if (w < e && s[w] == ':' && len == 4 && memcmp(s + a, "drop", 4) == 0)
		return lfail(l, w, "'drop' takes no argument");
	if (len == 4 && (memcmp(s + a, "file", 4) == 0 ||
	    memcmp(s + a, "exec", 4) == 0))
		return lfail(l, w, "expected ':' after '%.*s' (%.*s:%s)",
		    (int)len, s + a, (int)len, s + a, s[a] == 'f' ? "PATH" :
		    "CMD");
	return lfail(l, a, "unknown action '%s' (stdout, stderr, drop, "
	    "file:PATH, exec:CMD, fire or fire:TEMPLATE)",
	    quote(q, sizeof(q), s + a, len > 0 ? len : 1));
}

/*
 * One logical line: nothing for a blank line or a comment, else a rule
 * added to rs.
 */
static int
parse_line(struct ev_routes *rs, struct lline *l)
{
	const char *s = ev_buf_head(&l->text);
	size_t n = ev_buf_unread(&l->text), i, pe, j, k, arrow, ee, a, e;
	struct ev_route r, *nr;
	struct ev_err e2;
	char q[QUOTE_MAX + 4];
	size_t ncap;

	if (s == NULL)
		return 0;
	i = skip_blanks(s, n, 0);
	if (i == n || (s[i] == '#' && is_comment(s, n, i)))
		return 0;
	memset(&r, 0, sizeof(r));
	r.src = rs->src[rs->nsrc - 1];
	r.line = l->seg[0].line;
	pe = word_end(s, n, i);
	if (pe - i >= 2 && s[i] == '-' && s[i + 1] == '>')
		return lfail(l, i, "expected a pattern before '->'");
	for (k = i; k + 1 < pe; k++)
		if (s[k] == '-' && s[k + 1] == '>')
			return lfail(l, k, "expected a blank before '->'");
	if (ev_pattern_check(s + i, pe - i, &e2) == -1)
		return lfail(l, i, "%s", e2.msg);
	if ((r.pat = dup_span(s + i, pe - i)) == NULL)
		return ev_err_sys(l->err, "routes");
	r.patlen = pe - i;

	j = skip_blanks(s, n, pe);
	if (word_is(s, n, j, "where")) {
		k = skip_blanks(s, n, j + 5);
		arrow = find_arrow(s, n, k);
		for (ee = arrow; ee > k && is_blank(s[ee - 1]); ee--)
			continue;
		if (ee == k) {
			lfail(l, k, "expected a filter after 'where'");
			goto fail;
		}
		if (arrow == n) {
			lfail(l, n, "expected '->' and an action after the "
			    "filter");
			goto fail;
		}
		if ((r.where = dup_span(s + k, ee - k)) == NULL) {
			ev_err_sys(l->err, "routes");
			goto fail;
		}
		if ((r.expr = ev_expr_compile(r.where, &e2)) == NULL) {
			lfail_sub(l, k, ee - k, &e2);
			goto fail;
		}
		a = arrow + 2;
	} else if (n - j >= 2 && s[j] == '-' && s[j + 1] == '>') {
		a = j + 2;
	} else if (j == n) {
		lfail(l, j, "expected '->' or 'where' after the pattern");
		goto fail;
	} else {
		lfail(l, j, "expected '->' or 'where' after the pattern, "
		    "not '%s'", quote(q, sizeof(q), s + j,
		    word_end(s, n, j) - j));
		goto fail;
	}
	a = skip_blanks(s, n, a);
	for (e = n; e > a && is_blank(s[e - 1]); e--)
		continue;
	if (a == e) {
		lfail(l, a, "expected an action after '->'");
		goto fail;
	}
	if (parse_action(l, &r, a, e) == -1)
		goto fail;

	if (rs->n == rs->cap) {
		ncap = rs->cap ? rs->cap * 2 : 16;
		if ((nr = reallocarray(rs->r, ncap, sizeof(*nr))) == NULL) {
			ev_err_sys(l->err, "routes");
			goto fail;
		}
		rs->r = nr;
		rs->cap = ncap;
	}
	rs->r[rs->n++] = r;
	return 0;
fail:
	route_clear(&r);
	return -1;
}

/* Note that logical offset off starts physical line line. */
static int
add_seg(struct lline *l, size_t off, unsigned line)
{
	struct seg *ns;
	size_t ncap;

	if (l->nseg == l->segcap) {
		ncap = l->segcap ? l->segcap * 2 : 4;
		if ((ns = reallocarray(l->seg, ncap, sizeof(*ns))) == NULL)
			return ev_err_sys(l->err, "routes");
		l->seg = ns;
		l->segcap = ncap;
	}
	l->seg[l->nseg].off = off;
	l->seg[l->nseg++].line = line;
	return 0;
}

static void
routes_truncate(struct ev_routes *rs, size_t n)
{
	while (rs->n > n)
		route_clear(&rs->r[--rs->n]);
}

int
ev_routes_parse(struct ev_routes *rs, const char *text, size_t len,
    const char *name, struct ev_err *err)
{
	struct lline l;
	const char *nl;
	char **ns, *c;
	size_t n0 = rs->n, p = 0, start, k, i;
	unsigned lineno = 0;
	int rv = -1;

	if (len > EV_ROUTES_TEXT_MAX)
		return ev_err_set(err, EV_ERR_LIMIT, "%s: more than %d bytes",
		    name, EV_ROUTES_TEXT_MAX);
	if ((ns = reallocarray(rs->src, rs->nsrc + 1, sizeof(*ns))) == NULL)
		return ev_err_sys(err, "routes");
	rs->src = ns;
	if ((rs->src[rs->nsrc] = strdup(name)) == NULL)
		return ev_err_sys(err, "routes");
	rs->nsrc++;
	memset(&l, 0, sizeof(l));
	l.src = name;
	l.err = err;
	while (p < len) {
		ev_buf_reset(&l.text);
		l.nseg = 0;
		for (;;) {
			lineno++;
			nl = memchr(text + p, '\n', len - p);
			k = nl != NULL ? (size_t)(nl - text) : len;
			start = ev_buf_unread(&l.text);
			if (add_seg(&l, start, lineno) == -1 ||
			    (k > p && ev_buf_append(&l.text, text + p,
			    k - p) == -1)) {
				ev_err_sys(err, "routes");
				goto out;
			}
			c = ev_buf_head(&l.text);
			for (i = start; i < start + (k - p); i++)
				if (((unsigned char)c[i] < ' ' &&
				    c[i] != '\t' && c[i] != '\r') ||
				    c[i] == 0x7f) {
					lfail(&l, i, "control character "
					    "0x%02x", (unsigned char)c[i]);
					goto out;
				}
			p = nl != NULL ? k + 1 : len;
			for (i = ev_buf_unread(&l.text); i > start &&
			    is_blank(c[i - 1]); i--)
				continue;
			if (i == start || c[i - 1] != '\\')
				break;
			c[i - 1] = ' ';
			if (p >= len) {
				lfail(&l, i - 1, "'\\' at the end of the "
				    "text: nothing to go on with");
				goto out;
			}
		}
		if (parse_line(rs, &l) == -1)
			goto out;
	}
	rv = 0;
out:
	if (rv == -1)
		routes_truncate(rs, n0);
	ev_buf_free(&l.text);
	free(l.seg);
	return rv;
}

int
ev_routes_load(struct ev_routes *rs, const char *path, struct ev_err *err)
{
	struct stat st;
	struct ev_buf text = { 0 };
	int fd, rv = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ev_err_sys(err, "%s", path);
	if (fstat(fd, &st) == -1) {
		ev_err_sys(err, "%s", path);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ev_err_set(err, EV_ERR_DATA, "%s: is a directory", path);
		goto out;
	}
	if (ev_buf_read(&text, fd, EV_ROUTES_TEXT_MAX) == -1) {
		ev_err_sys(err, "%s", path);
		goto out;
	}
	rv = ev_routes_parse(rs, ev_buf_head(&text), ev_buf_unread(&text),
	    path, err);
out:
	ev_buf_free(&text);
	close(fd);
	return rv;
}

void
ev_routes_free(struct ev_routes *rs)
{
	size_t i;

	routes_truncate(rs, 0);
	free(rs->r);
	for (i = 0; i < rs->nsrc; i++)
		free(rs->src[i]);
	free(rs->src);
	ev_sublist_free(rs->index);
	free(rs->out);
	memset(rs, 0, sizeof(*rs));
}

int
ev_routes_describe(const struct ev_routes *rs, struct ev_buf *out)
{
	static const char *const word[] = {
		[EV_ROUTE_STDOUT] = "stdout",
		[EV_ROUTE_STDERR] = "stderr",
		[EV_ROUTE_FILE] = "file",
		[EV_ROUTE_EXEC] = "exec",
		[EV_ROUTE_FIRE] = "fire",
		[EV_ROUTE_DROP] = "drop",
	};
	const struct ev_route *r;
	size_t i, mark = ev_buf_unread(out);

	for (i = 0; i < rs->n; i++) {
		r = &rs->r[i];
		if (ev_buf_printf(out, "%s%s%s -> %s%s%s\n", r->pat,
		    r->where != NULL ? " where " : "",
		    r->where != NULL ? r->where : "", word[r->action],
		    r->arg != NULL ? ":" : "",
		    r->arg != NULL ? r->arg : "") == -1) {
			ev_buf_truncate(out, mark);
			return -1;
		}
	}
	return 0;
}

/* Rules are in the index as their number plus one (never NULL). */
int
ev_routes_match(struct ev_routes *rs, const char *name, size_t len,
    const size_t **idx, size_t *n)
{
	void *const *subs;
	size_t ns, i, j, v;

	if (rs->index == NULL || rs->indexed != rs->n) {
		ev_sublist_free(rs->index);
		rs->indexed = 0;
		if ((rs->index = ev_sublist_new()) == NULL)
			return -1;
		free(rs->out);
		if ((rs->out = calloc(rs->n + 1, sizeof(*rs->out))) == NULL)
			return -1;
		for (i = 0; i < rs->n; i++)
			if (ev_sublist_insert(rs->index, rs->r[i].pat,
			    rs->r[i].patlen, (void *)(uintptr_t)(i + 1)) == -1)
				return -1;
		rs->indexed = rs->n;
	}
	if (ev_sublist_match(rs->index, name, len, &subs, &ns) == -1)
		return -1;
	/* In rule order: an insertion sort of a few numbers. */
	for (i = 0; i < ns; i++) {
		v = (size_t)(uintptr_t)subs[i] - 1;
		for (j = i; j > 0 && rs->out[j - 1] > v; j--)
			rs->out[j] = rs->out[j - 1];
		rs->out[j] = v;
	}
	*idx = rs->out;
	*n = ns;
	return 0;
}
