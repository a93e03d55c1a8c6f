/*
 * expr.c: the filter and template language, the subset of jq that evbus
 * speaks (the contract is in evbus.h, the user's manual in evbus(7)).
 *
 * A filter compiles to a tree of nodes.  Evaluating walks the tree over
 * values that are spans of the input's own bytes (struct val): nothing is
 * parsed into a tree, nothing is copied.  The input is validated once, by
 * ev_json_scan_object, which also hands over its top-level members; below
 * the top, a path is followed by skipping over bytes already known to be
 * valid.  Where jq 1.6 behaves in a particular way (what indexing null
 * gives, how objects are ordered, which regex syntax test() speaks), the
 * comment at that place says so: the differential test
 * (test/60-expr-jq.bats) holds the two to the same answers.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oniguruma.h>

#include "evbus.h"
#include "jscan.h"

#define NEST_MAX	100	/* nested parentheses and operators */
#define DOC_MEMBERS	256	/* top-level members held in a doc's table */
#define CACHE_SLOTS	64	/* a doc's cache of located paths */
#define CACHE_USE	48	/* at most this many of them in use */
#define ARENA_SIZE	2048	/* bytes for the cached paths' keys */
#define SMALL_STR	512	/* escaped strings decoded without malloc */
#define CMP_STACK	16	/* object members sorted on the stack */
#define CMP_STACK_DEPTH	32	/* ... down to this depth of objects */
#define TMPL_FNS	8	/* functions in one substitution */
#define QUOTE_MAX	24	/* bytes of a token quoted in a message */

/* jq's kinds, in jq's order: comparing kinds is comparing these. */
enum vt {
	VT_NULL,
	VT_FALSE,
	VT_TRUE,
	VT_NUM,
	VT_STR,
	VT_ARR,
	VT_OBJ,
};

/*
 * A value.  From the input: p[0..len) are its bytes (a string's without
 * the quotes, with its escapes when esc is set).  From the filter's text
 * (a literal, or the result of an operator): a string's bytes decoded
 * (esc clear), a number in num with numok set and p NULL.
 */
struct val {
	const char	*p;
	size_t		 len;
	double		 num;
	uint8_t		 t;
	bool		 esc;
	bool		 numok;
};

/* One step of a path: .key, ["key"], or [index]. */
struct step {
	char		*key;		/* decoded; NULL for an index */
	size_t		 keylen;
	double		 idx;
	int		 col;		/* where it is written, for messages */
};

struct path {
	struct step	*step;
	size_t		 n;
	char		*text;		/* canonical: .a.b[0]["x y"] */
	char		*ckey;		/* the steps as bytes: the cache's key */
	size_t		 ckeylen;
	uint64_t	 hash;
};

enum nk {
	N_PATH,		/* path applied to a (or to the input when a is NULL) */
	N_LIT,
	N_AND,
	N_OR,
	N_PIPE,
	N_CMP,
	N_NOT,
	N_HAS,
	N_TEST,
	N_STARTS,
	N_ENDS,
};

enum cmpop {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
};

struct node {
	enum nk		 kind;
	int		 op;		/* N_CMP */
	int		 col;
	bool		 rooted;	/* N_PATH: its input is the document */
	struct node	*a;		/* operands; N_PATH: a is the base */
	struct node	*b;
	struct node	**kid;		/* N_AND, N_OR: a chain, in order */
	size_t		 nkid;
	struct path	 path;		/* N_PATH */
	struct val	 lit;		/* N_LIT, and the argument of a function */
	char		*str;		/* owns the bytes of lit */
	regex_t		*re;		/* N_TEST */
};

struct ev_expr {
	struct node	*root;
	char		**path;		/* canonical texts of the rooted paths */
	size_t		 npath;
};

/* A path located in a doc, cached for the other filters. */
struct cslot {
	uint64_t	hash;
	uint32_t	gen;		/* valid when equal to the doc's */
	uint16_t	keyoff;		/* the key in the doc's arena */
	uint16_t	keylen;
	uint8_t		st;		/* R_FOUND or R_ABSENT */
	struct val	v;
};

struct ev_expr_doc {
	const char		*json;
	size_t			 len;
	bool			 ok;		/* holds a valid text */
	bool			 table;		/* m[] has every top member */
	bool			 cache;		/* the path cache is used */
	struct val		 root;
	size_t			 nm;
	uint32_t		 gen;
	size_t			 ncached;
	size_t			 arenalen;
	struct ev_buf		 big;		/* long escaped strings */
	struct ev_jmember	 m[DOC_MEMBERS];
	struct cslot		 slot[CACHE_SLOTS];
	char			 arena[ARENA_SIZE];
	char			 small[SMALL_STR];
};

/* What following a path gave. */
enum {
	R_FOUND,
	R_ABSENT,	/* a key or index that is not there, or null on the way */
	R_ERROR,	/* a value on the way cannot be indexed so */
};

struct ctx {
	struct ev_expr_doc	*doc;
	struct ev_err		*err;
};

/* Tokens of the filter language, as jq's lexer cuts them. */
enum tk {
	T_END,
	T_DOT,		/* "." alone */
	T_FIELD,	/* ".name" */
	T_STR,
	T_NUM,
	T_LBRACK,
	T_RBRACK,
	T_LPAREN,
	T_RPAREN,
	T_PIPE,
	T_SEMI,
	T_CMP,
	T_IDENT,
	T_MINUS,
	T_RBRACE,	/* '}', in a template only */
};

struct lex {
	const char	*src;
	size_t		 len;
	size_t		 pos;		/* where the next token starts */
	enum tk		 t;		/* the current token ... */
	size_t		 off;		/* ... from src[off] */
	size_t		 end;		/* ... to src[end - 1] */
	int		 op;		/* T_CMP */
	double		 num;		/* T_NUM */
	char		*s;		/* T_STR, decoded; owned until taken */
	size_t		 slen;
	int		 depth;
	bool		 tmpl;		/* a template's path: '}' ends it */
	size_t		 coff;		/* lex_col's last answer: src[coff] */
	int		 ccol;		/* is in column ccol */
	struct ev_err	*err;
};

struct tpart {
	char		*text;		/* literal text, escapes decoded */
	size_t		 textlen;
	bool		 sub;		/* a substitution follows the text */
	bool		 json;
	bool		 hasdef;
	struct path	 path;
	uint8_t		 fn[TMPL_FNS];
	size_t		 nfn;
	char		*def;
	size_t		 deflen;
};

enum tfn {
	F_LOWER = 1,
	F_UPPER,
	F_MANGLE,
};

struct ev_tmpl {
	struct tpart	*part;
	size_t		 n;
};

/* An iterator over the elements of an array or members of an object. */
struct it {
	const char	*p;
	const char	*end;
};

/* Decoding a string's bytes one at a time. */
struct sdec {
	const unsigned char	*p;
	const unsigned char	*end;
	unsigned char		 b[4];
	uint8_t			 n;
	uint8_t			 i;
	bool			 raw;	/* no escapes to decode */
};

/* A member of an object being compared. */
struct omem {
	struct val	k;
	struct val	v;
	size_t		pos;
};

static int	lex_col(struct lex *, size_t);
static int	lex_fail(struct lex *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	tok_quote(const struct lex *, char *, size_t);
static int	unexpected(struct lex *, const char *);
static size_t	utf8_seq(const unsigned char *, const unsigned char *);
static int	lex_string(struct lex *, size_t);
static int	lex_number(struct lex *, size_t);
static int	lex_unsupported(struct lex *, size_t);
static int	lex_next(struct lex *);
static bool	is_ident0(int);
static bool	is_ident(int);
static struct node *node_new(struct lex *, enum nk, size_t);
static void	node_free(struct node *);
static void	path_free(struct path *);
static int	path_add_key(struct lex *, struct path *, char *, size_t,
		    size_t);
static int	path_add_index(struct lex *, struct path *, double, size_t);
static int	path_finish(struct path *);
static int	parse_index(struct lex *, struct path *);
static int	parse_steps(struct lex *, struct path *);
static int	parse_head(struct lex *, struct path *);
static struct node *parse_pipe(struct lex *, bool, const char *);
static struct node *parse_or(struct lex *, bool, const char *);
static struct node *parse_and(struct lex *, bool, const char *);
static struct node *parse_chain(struct lex *, bool, const char *,
		    enum nk);
static struct node *parse_cmp(struct lex *, bool, const char *);
static struct node *parse_postfix(struct lex *, bool, const char *);
static struct node *parse_primary(struct lex *, bool, const char *);
static struct node *parse_func(struct lex *, const char *, size_t);
static int	func_string_arg(struct lex *, struct node *, const char *);
static int	compile_regex(struct lex *, struct node *, const char *,
		    size_t, size_t, size_t);
static int	collect_paths(struct ev_expr *, const struct node *);
static const char *js_ws(const char *, const char *);
static const char *js_str_end(const char *, const char *, bool *);
static const char *js_skip(const char *, const char *, bool *);
static void	js_val(const char *, const char *, bool, struct val *);
static bool	it_next(struct it *, struct val *, struct val *, char);
static void	sdec_init(struct sdec *, const struct val *);
static int	sdec_next(struct sdec *);
static int	str_cmp(const struct val *, const struct val *);
static bool	str_is(const struct val *, const char *, size_t);
static int	str_bytes(struct ctx *, const struct val *, const char **,
		    size_t *);
static double	num_of(const struct val *);
static double	strtod_c(const char *);
static int	index_of(double);
static bool	obj_get(const struct ev_expr_doc *, const struct val *,
		    const char *, size_t, struct val *);
static bool	arr_get(const struct val *, double, struct val *);
static int	omem_cmp(const void *, const void *);
static void	obj_collect(const struct val *, struct omem *, size_t,
		    size_t *);
static int	obj_cmp(struct ctx *, const struct val *, const struct val *,
		    int, int *);
static int	vcmp(struct ctx *, const struct val *, const struct val *,
		    int, int *);
static const char *kind_name(int);
static void	quote_key(char *, size_t, const char *, size_t);
static int	walk(struct ctx *, const struct path *, const struct val *,
		    struct val *, size_t *);
static int	resolve(struct ctx *, const struct path *, bool,
		    const struct val *, struct val *, size_t *);
static int	index_error(struct ctx *, const struct path *, size_t,
		    const struct val *, const char *);
static bool	truthy(const struct val *);
static void	set_bool(struct val *, bool);
static int	eval(struct ctx *, const struct node *, const struct val *,
		    struct val *);
static int	eval_func(struct ctx *, const struct node *,
		    const struct val *, struct val *);
static void	doc_init(struct ev_expr_doc *, bool);
static int	put_compact(struct ev_buf *, const char *, size_t);
static int	put_value(struct ev_buf *, const struct val *, bool);
static int	tmpl_escape(const char *, size_t, size_t *, struct ev_buf *,
		    struct lex *);
static int	tmpl_sub(struct lex *, struct tpart *, size_t, size_t *);
static void	tpart_free(struct tpart *);

/*
 * The column of src[off], counting characters (not bytes) from 1.  It
 * counts on from its last answer, so that the parser, which asks with
 * offsets that mostly grow, pays for each byte about once.
 */
static int
lex_col(struct lex *lx, size_t off)
{
	size_t i;

	if (off < lx->coff || lx->ccol == 0) {
		lx->coff = 0;
		lx->ccol = 1;
	}
	for (i = lx->coff; i < off; i++)
		if (((unsigned char)lx->src[i] & 0xc0) != 0x80)
			lx->ccol++;
	lx->coff = off;
	return lx->ccol;
}

/* Set err to "column N: why" for src[off] and return -1. */
static int
lex_fail(struct lex *lx, size_t off, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ev_err_set(lx->err, EV_ERR_DATA, "column %d: %s",
	    lex_col(lx, off), why);
}

/*
 * The current token for a message: 'text' (control characters as '?',
 * long ones cut with "..."), or "the end".
 */
static void
tok_quote(const struct lex *lx, char *buf, size_t size)
{
	size_t n = lx->end - lx->off, i, o = 0;
	unsigned char c;

	if (lx->t == T_END) {
		snprintf(buf, size, "the end");
		return;
	}
	buf[o++] = '\'';
	for (i = 0; i < n && i < QUOTE_MAX && o + 6 < size; i++) {
		c = (unsigned char)lx->src[lx->off + i];
		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	/* Do not cut a character in two. */
	while (i < n && o > 1 && ((unsigned char)lx->src[lx->off + i] &
	    0xc0) == 0x80) {
		i--;
		o--;
	}
	if (i < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
}

/* "expected X, found 'tok'" (or "expected X" at the end) at the token. */
static int
unexpected(struct lex *lx, const char *what)
{
	char q[QUOTE_MAX + 16];

	if (lx->t == T_END)
		return lex_fail(lx, lx->off, "expected %s", what);
	tok_quote(lx, q, sizeof(q));
	return lex_fail(lx, lx->off, "expected %s, found %s", what, q);
}

/*
 * The length of the well-formed UTF-8 character at p (no overlong form,
 * no surrogate, nothing past U+10FFFF), or 0.
 */
static size_t
utf8_seq(const unsigned char *p, const unsigned char *end)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * A string literal whose '"' is at src[p], decoded into lx->s: JSON's
 * escapes, and any other character as it is (jq lets a literal hold a
 * raw newline).  The text must be valid UTF-8.  jq's "\(...)"
 * interpolation is refused, and so is an escaped lone surrogate, which
 * jq 1.6 refuses too.
 */
static int
lex_string(struct lex *lx, size_t p)
{
	const unsigned char *s = (const unsigned char *)lx->src;
	const unsigned char *end = s + lx->len;
	struct ev_buf d = { 0 };
	size_t open = p, n;
	long u, u2;

	/* Checked here, where a mistake has a column; decoded after. */
	for (p++;;) {
		if (p >= lx->len)
			return lex_fail(lx, open, "unterminated string");
		if (s[p] == '"')
			break;
		if (s[p] != '\\') {
			if ((n = utf8_seq(s + p, end)) == 0)
				return lex_fail(lx, p, "invalid UTF-8");
			p += n;
			continue;
		}
		if (p + 1 >= lx->len)
			return lex_fail(lx, open, "unterminated string");
		switch (s[p + 1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			break;
		case 'u':
			if (lx->len - p < 6 || (u = ev_json_hex4(s + p + 2)) < 0)
				return lex_fail(lx, p, "invalid \\u escape");
			if (u >= 0xdc00 && u <= 0xdfff)
				return lex_fail(lx, p,
				    "invalid \\u escape: a lone surrogate");
			if (u >= 0xd800 && u <= 0xdbff) {
				if (lx->len - p < 12 || s[p + 6] != '\\' ||
				    s[p + 7] != 'u' ||
				    (u2 = ev_json_hex4(s + p + 8)) < 0xdc00 ||
				    u2 > 0xdfff)
					return lex_fail(lx, p, "invalid \\u "
					    "escape: a lone surrogate");
				p += 6;
			}
			p += 4;
			break;
		case '(':
			return lex_fail(lx, p,
			    "string interpolation '\\(' is not supported");
		default:
			return lex_fail(lx, p, "invalid escape '\\%c' in "
			    "a string", s[p + 1] >= 0x20 && s[p + 1] < 0x7f ?
			    s[p + 1] : '?');
		}
		p += 2;
	}
	if (ev_buf_reserve(&d, p - open) == -1 ||
	    ev_json_unescape(lx->src + open + 1, p - open - 1, &d) == -1) {
		ev_buf_free(&d);
		return ev_err_sys(lx->err, "filter");
	}
	lx->s = d.data;
	lx->slen = d.len;
	lx->t = T_STR;
	lx->end = p + 1;
	return 0;
}

/*
 * A number at src[p], cut as jq's lexer cuts it:
 * ([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?, and converted as jq
 * does, to the nearest double (1e1000 is infinity).
 */
static int
lex_number(struct lex *lx, size_t p)
{
	const char *s = lx->src;
	size_t q = p, n;
	char buf[64], *t;

#define DIG(i)	((i) < lx->len && s[i] >= '0' && s[i] <= '9')
	while (DIG(q))
		q++;
	if (q < lx->len && s[q] == '.') {
		q++;
		while (DIG(q))
			q++;
	}
	if (q < lx->len && (s[q] == 'e' || s[q] == 'E')) {
		if (DIG(q + 1))
			q += 1;
		else if (q + 1 < lx->len && (s[q + 1] == '+' ||
		    s[q + 1] == '-') && DIG(q + 2))
			q += 2;
		while (DIG(q))
			q++;
	}
#undef DIG
	n = q - p;
	if (n < sizeof(buf))
		t = buf;
	else if ((t = malloc(n + 1)) == NULL)
		return ev_err_sys(lx->err, "filter");
	memcpy(t, s + p, n);
	t[n] = '\0';
	lx->num = strtod_c(t);
	if (t != buf)
		free(t);
	lx->t = T_NUM;
	lx->end = q;
	return 0;
}

/* A character that starts something jq has and evbus's subset has not. */
static int
lex_unsupported(struct lex *lx, size_t p)
{
	const char *s = lx->src;
	char c = s[p], nx = p + 1 < lx->len ? s[p + 1] : '\0';
	size_t n;

	switch (c) {
	case '+':
	case '*':
	case '/':
	case '%':
		if (c == '/' && nx == '/')
			return lex_fail(lx, p,
			    "'//' (alternative) is not supported");
		if (nx == '=')
			return lex_fail(lx, p,
			    "'%c=' (assignment) is not supported", c);
		return lex_fail(lx, p,
		    "arithmetic ('%c') is not supported", c);
	case ',':
		return lex_fail(lx, p, "',' (several outputs) is not "
		    "supported: to require both, write 'and'");
	case '?':
		return lex_fail(lx, p, "'?' is not supported");
	case '$':
		return lex_fail(lx, p, "variables ('$') are not supported");
	case '@':
		return lex_fail(lx, p, "formats ('@') are not supported");
	case '{':
	case '}':
		return lex_fail(lx, p,
		    "object construction ('%c') is not supported", c);
	case ':':
		return lex_fail(lx, p, "slices (':') are not supported");
	case '\r':
	case '\f':
	case '\v':
		return lex_fail(lx, p, "jq allows only spaces, tabs and "
		    "newlines between tokens");
	}
	n = utf8_seq((const unsigned char *)s + p,
	    (const unsigned char *)s + lx->len);
	if ((unsigned char)c < 0x20 || c == 0x7f || n == 0)
		return lex_fail(lx, p, "unexpected byte 0x%02x",
		    (unsigned char)c);
	return lex_fail(lx, p, "unexpected character '%.*s'", (int)n, s + p);
}

static bool
is_ident0(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_ident(int c)
{
	return is_ident0(c) || (c >= '0' && c <= '9');
}

/*
 * Cut the next token into lx (a string's decoded text in lx->s, which the
 * parser takes or the next call frees).  Between tokens: spaces, tabs,
 * newlines and '#' comments, as jq.  0, or -1 with lx->err.
 */
static int
lex_next(struct lex *lx)
{
	const char *s = lx->src;
	size_t p = lx->pos, q;
	char c, nx;

	free(lx->s);
	lx->s = NULL;
	for (;;) {
		while (p < lx->len && (s[p] == ' ' || s[p] == '\t' ||
		    s[p] == '\n'))
			p++;
		if (p < lx->len && s[p] == '#' && !lx->tmpl) {
			while (p < lx->len && s[p] != '\n')
				p++;
			continue;
		}
		break;
	}
	lx->off = p;
	if (p >= lx->len) {
		lx->t = T_END;
		lx->end = lx->pos = lx->len;
		return 0;
	}
	c = s[p];
	nx = p + 1 < lx->len ? s[p + 1] : '\0';
	lx->end = p + 1;
	switch (c) {
	case '.':
		if (nx == '.')
			return lex_fail(lx, p,
			    "'..' (recursive descent) is not supported");
		if (is_ident0((unsigned char)nx)) {
			for (q = p + 2; q < lx->len &&
			    is_ident((unsigned char)s[q]); q++)
				continue;
			lx->t = T_FIELD;
			lx->end = q;
		} else if (nx >= '0' && nx <= '9') {
			if (lex_number(lx, p) == -1)
				return -1;
		} else
			lx->t = T_DOT;
		break;
	case '"':
		if (lex_string(lx, p) == -1)
			return -1;
		break;
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		if (lex_number(lx, p) == -1)
			return -1;
		break;
	case '[':
		lx->t = T_LBRACK;
		break;
	case ']':
		lx->t = T_RBRACK;
		break;
	case '(':
		lx->t = T_LPAREN;
		break;
	case ')':
		lx->t = T_RPAREN;
		break;
	case ';':
		lx->t = T_SEMI;
		break;
	case '|':
		if (nx == '=')
			return lex_fail(lx, p,
			    "'|=' (update-assignment) is not supported");
		lx->t = T_PIPE;
		break;
	case '=':
		if (nx != '=')
			return lex_fail(lx, p, "'=' (assignment) is not "
			    "supported: to compare, write '=='");
		lx->t = T_CMP;
		lx->op = OP_EQ;
		lx->end = p + 2;
		break;
	case '!':
		if (nx != '=')
			return lex_fail(lx, p, "'!' is not jq's: to negate, "
			    "write 'EXPR | not'");
		lx->t = T_CMP;
		lx->op = OP_NE;
		lx->end = p + 2;
		break;
	case '<':
	case '>':
		lx->t = T_CMP;
		if (nx == '=') {
			lx->op = c == '<' ? OP_LE : OP_GE;
			lx->end = p + 2;
		} else
			lx->op = c == '<' ? OP_LT : OP_GT;
		break;
	case '-':
		if (nx == '=')
			return lex_fail(lx, p,
			    "'-=' (assignment) is not supported");
		lx->t = T_MINUS;
		break;
	case '}':
		if (!lx->tmpl)
			return lex_unsupported(lx, p);
		lx->t = T_RBRACE;
		break;
	default:
		if (!is_ident0((unsigned char)c))
			return lex_unsupported(lx, p);
		for (q = p + 1; q < lx->len && is_ident((unsigned char)s[q]);
		    q++)
			continue;
		lx->t = T_IDENT;
		lx->end = q;
		break;
	}
	lx->pos = lx->end;
	return 0;
}

/* Is the current token the identifier w? */
#define IS_WORD(lx, w)	((lx)->t == T_IDENT &&				\
	(lx)->end - (lx)->off == sizeof(w) - 1 &&			\
	memcmp((lx)->src + (lx)->off, (w), sizeof(w) - 1) == 0)

static struct node *
node_new(struct lex *lx, enum nk kind, size_t off)
{
	struct node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		ev_err_sys(lx->err, "filter");
		return NULL;
	}
	n->kind = kind;
	n->col = lex_col(lx, off);
	return n;
}

static void
node_free(struct node *n)
{
	size_t i;

	if (n == NULL)
		return;
	node_free(n->a);
	node_free(n->b);
	for (i = 0; i < n->nkid; i++)
		node_free(n->kid[i]);
	free(n->kid);
	path_free(&n->path);
	free(n->str);
	if (n->re != NULL)
		onig_free(n->re);
	free(n);
}

static void
path_free(struct path *pa)
{
	size_t i;

	for (i = 0; i < pa->n; i++)
		free(pa->step[i].key);
	free(pa->step);
	free(pa->text);
	free(pa->ckey);
	memset(pa, 0, sizeof(*pa));
}

/* Append a step .key (the path takes key, which was malloc'd). */
static int
path_add_key(struct lex *lx, struct path *pa, char *key, size_t keylen,
    size_t off)
{
	struct step *st;

	if ((st = reallocarray(pa->step, pa->n + 1, sizeof(*st))) == NULL) {
		free(key);
		return ev_err_sys(lx->err, "filter");
	}
	pa->step = st;
	st[pa->n].key = key;
	st[pa->n].keylen = keylen;
	st[pa->n].idx = 0;
	st[pa->n].col = lex_col(lx, off);
	pa->n++;
	return 0;
}

static int
path_add_index(struct lex *lx, struct path *pa, double idx, size_t off)
{
	struct step *st;

	if ((st = reallocarray(pa->step, pa->n + 1, sizeof(*st))) == NULL)
		return ev_err_sys(lx->err, "filter");
	pa->step = st;
	st[pa->n].key = NULL;
	st[pa->n].keylen = 0;
	st[pa->n].idx = idx;
	st[pa->n].col = lex_col(lx, off);
	pa->n++;
	return 0;
}

/*
 * Make the path's canonical text and its cache key (the steps as bytes,
 * 'k' length key or 'i' double) with the key's FNV-1a hash.  -1 with
 * errno ENOMEM.
 */
static int
path_finish(struct path *pa)
{
	struct ev_buf t = { 0 }, k = { 0 };
	const struct step *st;
	const unsigned char *u;
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t n32;
	size_t i, j;
	char num[32];
	bool ident;

	if (pa->n == 0 && ev_buf_putc(&t, '.') == -1)
		goto fail;
	for (i = 0; i < pa->n; i++) {
		st = &pa->step[i];
		if (st->key == NULL) {
			/* %.17g reads back as the same double. */
			if (isinf(st->idx))
				snprintf(num, sizeof(num), "%s1e1000",
				    st->idx < 0 ? "-" : "");
			else
				snprintf(num, sizeof(num), "%.17g", st->idx);
			if (ev_buf_printf(&t, "%s[%s]", i == 0 ? "." : "",
			    num) == -1 || ev_buf_putc(&k, 'i') == -1 ||
			    ev_buf_append(&k, &st->idx, sizeof(st->idx)) == -1)
				goto fail;
			continue;
		}
		ident = st->keylen > 0 && is_ident0((unsigned char)st->key[0]);
		for (j = 1; ident && j < st->keylen; j++)
			ident = is_ident((unsigned char)st->key[j]);
		if (ident) {
			if (ev_buf_putc(&t, '.') == -1 ||
			    ev_buf_append(&t, st->key, st->keylen) == -1)
				goto fail;
		} else {
			if (ev_buf_printf(&t, "%s[\"", i == 0 ? "." : "") == -1)
				goto fail;
			for (j = 0; j < st->keylen; j++) {
				u = (const unsigned char *)st->key + j;
				if (*u < 0x20 ? ev_buf_printf(&t, "\\u%04x",
				    *u) == -1 : (*u == '"' || *u == '\\') ?
				    ev_buf_printf(&t, "\\%c", *u) == -1 :
				    ev_buf_putc(&t, *u) == -1)
					goto fail;
			}
			if (ev_buf_append(&t, "\"]", 2) == -1)
				goto fail;
		}
		n32 = (uint32_t)st->keylen;
		if (ev_buf_putc(&k, 'k') == -1 ||
		    ev_buf_append(&k, &n32, sizeof(n32)) == -1 ||
		    ev_buf_append(&k, st->key, st->keylen) == -1)
			goto fail;
	}
	for (i = 0; i < k.len; i++) {
		h ^= (unsigned char)k.data[i];
		h *= 0x100000001b3ULL;
	}
	pa->text = t.data;
	pa->ckey = k.data;
	pa->ckeylen = k.len;
	pa->hash = h;
	return 0;
fail:
	ev_buf_free(&t);
	ev_buf_free(&k);
	return -1;
}

/*
 * After '[': a string or a number (jq's index expression, restricted to a
 * literal), then ']'.
 */
static int
parse_index(struct lex *lx, struct path *pa)
{
	size_t off = lx->off;
	double sign = 1;

	if (lex_next(lx) == -1)
		return -1;
	if (lx->t == T_RBRACK)
		return lex_fail(lx, off, "'[]' (iteration) is not supported");
	if (lx->t == T_STR) {
		if (path_add_key(lx, pa, lx->s, lx->slen, off) == -1) {
			lx->s = NULL;
			return -1;
		}
		lx->s = NULL;
	} else {
		if (lx->t == T_MINUS) {
			sign = -1;
			if (lex_next(lx) == -1)
				return -1;
		}
		if (lx->t != T_NUM)
			return unexpected(lx, "a string or a number as the "
			    "index (other expressions are not supported)");
		if (path_add_index(lx, pa, sign * lx->num, off) == -1)
			return -1;
	}
	if (lex_next(lx) == -1)
		return -1;
	if (lx->t != T_RBRACK)
		return unexpected(lx, "']'");
	return lex_next(lx);
}

/*
 * The steps that may follow a term, as jq 1.6 writes them: .name, ."name"
 * (also after a space), [index].  jq 1.6 has no ".[": that came in 1.7.
 */
static int
parse_steps(struct lex *lx, struct path *pa)
{
	size_t off;

	for (;;) {
		off = lx->off;
		switch (lx->t) {
		case T_FIELD:
			{
				size_t n = lx->end - lx->off - 1;
				char *k;

				if ((k = malloc(n + 1)) == NULL)
					return ev_err_sys(lx->err, "filter");
				memcpy(k, lx->src + lx->off + 1, n);
				k[n] = '\0';
				if (path_add_key(lx, pa, k, n, off) == -1 ||
				    lex_next(lx) == -1)
					return -1;
			}
			break;
		case T_DOT:
			if (lex_next(lx) == -1)
				return -1;
			if (lx->t == T_LBRACK)
				return lex_fail(lx, off, "'.[' is not jq "
				    "1.6's: write .a[0] or .a[\"k\"]");
			if (lx->t != T_STR)
				return unexpected(lx,
				    "a name or a string after '.'");
			if (path_add_key(lx, pa, lx->s, lx->slen, off) == -1) {
				lx->s = NULL;
				return -1;
			}
			lx->s = NULL;
			if (lex_next(lx) == -1)
				return -1;
			break;
		case T_LBRACK:
			if (parse_index(lx, pa) == -1)
				return -1;
			break;
		default:
			return 0;
		}
	}
}

/*
 * A path from the input: ".", ".name", or '.' "name", then its steps.
 * The current token is T_DOT or T_FIELD.
 */
static int
parse_head(struct lex *lx, struct path *pa)
{
	size_t off = lx->off;

	if (lx->t == T_DOT) {
		if (lex_next(lx) == -1)
			return -1;
		if (lx->t == T_STR) {
			if (path_add_key(lx, pa, lx->s, lx->slen, off) == -1) {
				lx->s = NULL;
				return -1;
			}
			lx->s = NULL;
			if (lex_next(lx) == -1)
				return -1;
		}
	}
	if (parse_steps(lx, pa) == -1)
		return -1;
	if (path_finish(pa) == -1)
		return ev_err_sys(lx->err, "filter");
	return 0;
}

/*
 * EXPR | EXPR, jq's loosest operator: the right side is evaluated with
 * the left side's value as its input (".", so its paths are not rooted).
 * after names what came before, for "expected a value after '|'".
 */
static struct node *
parse_pipe(struct lex *lx, bool rooted, const char *after)
{
	struct node *a, *n = NULL;
	size_t off = lx->off;

	if (++lx->depth > NEST_MAX) {
		lex_fail(lx, lx->off, "nested more than %d deep", NEST_MAX);
		return NULL;
	}
	if ((a = parse_or(lx, rooted, after)) == NULL)
		goto out;
	if (lx->t == T_PIPE) {
		if ((n = node_new(lx, N_PIPE, off)) == NULL ||
		    lex_next(lx) == -1) {
			node_free(n);
			node_free(a);
			a = NULL;
			goto out;
		}
		n->a = a;
		if ((n->b = parse_pipe(lx, false, "'|'")) == NULL) {
			node_free(n);
			a = NULL;
			goto out;
		}
		a = n;
	}
out:
	lx->depth--;
	return a;
}

/*
 * EXPR or EXPR or ... (word "or", operands parse_and), or the same with
 * "and" (operands parse_cmp): one node holding the chain, so that a long
 * chain costs a loop, not a recursion, to evaluate.
 */
static struct node *
parse_chain(struct lex *lx, bool rooted, const char *after, enum nk kind)
{
	struct node *a, *n = NULL, **k;
	size_t off = lx->off;
	const char *w = kind == N_OR ? "or" : "and";

	a = kind == N_OR ? parse_and(lx, rooted, after) :
	    parse_cmp(lx, rooted, after);
	if (a == NULL)
		return NULL;
	while (lx->t == T_IDENT && lx->end - lx->off == strlen(w) &&
	    memcmp(lx->src + lx->off, w, strlen(w)) == 0) {
		if (n == NULL) {
			if ((n = node_new(lx, kind, off)) == NULL)
				goto fail;
			if ((n->kid = malloc(sizeof(*n->kid))) == NULL) {
				ev_err_sys(lx->err, "filter");
				goto fail;
			}
			n->kid[n->nkid++] = a;
			a = NULL;
		}
		if ((k = reallocarray(n->kid, n->nkid + 1, sizeof(*k))) ==
		    NULL) {
			ev_err_sys(lx->err, "filter");
			goto fail;
		}
		n->kid = k;
		if (lex_next(lx) == -1)
			goto fail;
		k[n->nkid] = kind == N_OR ? parse_and(lx, rooted, "'or'") :
		    parse_cmp(lx, rooted, "'and'");
		if (k[n->nkid] == NULL)
			goto fail;
		n->nkid++;
	}
	return n != NULL ? n : a;
fail:
	node_free(a);
	node_free(n);
	return NULL;
}

static struct node *
parse_or(struct lex *lx, bool rooted, const char *after)
{
	return parse_chain(lx, rooted, after, N_OR);
}

static struct node *
parse_and(struct lex *lx, bool rooted, const char *after)
{
	return parse_chain(lx, rooted, after, N_AND);
}

/* A comparison; jq's are non-associative: a == b == c is an error. */
static struct node *
parse_cmp(struct lex *lx, bool rooted, const char *after)
{
	static const char *const name[] = {
		"'=='", "'!='", "'<'", "'<='", "'>'", "'>='",
	};
	struct node *a, *n;
	size_t off = lx->off;

	if ((a = parse_postfix(lx, rooted, after)) == NULL)
		return NULL;
	if (lx->t != T_CMP)
		return a;
	if ((n = node_new(lx, N_CMP, off)) == NULL) {
		node_free(a);
		return NULL;
	}
	n->op = lx->op;
	n->a = a;
	if (lex_next(lx) == -1 ||
	    (n->b = parse_postfix(lx, rooted, name[n->op])) == NULL) {
		node_free(n);
		return NULL;
	}
	if (lx->t == T_CMP) {
		lex_fail(lx, lx->off, "comparisons do not chain in jq: "
		    "join them with 'and'");
		node_free(n);
		return NULL;
	}
	return n;
}

/*
 * A term and the steps after it.  A path keeps its steps in one node; any
 * other term gets a path node above it that indexes its value.
 */
static struct node *
parse_postfix(struct lex *lx, bool rooted, const char *after)
{
	struct node *a, *n;
	size_t off = lx->off;
	bool path = lx->t == T_DOT || lx->t == T_FIELD;

	/* A path took its own steps; "(...)" and the others have none. */
	if ((a = parse_primary(lx, rooted, after)) == NULL)
		return NULL;
	if (path || (lx->t != T_FIELD && lx->t != T_DOT &&
	    lx->t != T_LBRACK))
		return a;
	if ((n = node_new(lx, N_PATH, off)) == NULL) {
		node_free(a);
		return NULL;
	}
	n->a = a;
	if (parse_steps(lx, &n->path) == -1) {
		node_free(n);
		return NULL;
	}
	if (path_finish(&n->path) == -1) {
		ev_err_sys(lx->err, "filter");
		node_free(n);
		return NULL;
	}
	return n;
}

static struct node *
parse_primary(struct lex *lx, bool rooted, const char *after)
{
	struct node *n = NULL;
	size_t off = lx->off;
	char what[64];
	bool neg = false;
	int col;

	switch (lx->t) {
	case T_DOT:
	case T_FIELD:
		if ((n = node_new(lx, N_PATH, off)) == NULL)
			return NULL;
		n->rooted = rooted;
		if (parse_head(lx, &n->path) == -1)
			goto fail;
		return n;
	case T_STR:
		if ((n = node_new(lx, N_LIT, off)) == NULL)
			return NULL;
		n->str = lx->s;
		lx->s = NULL;
		n->lit.t = VT_STR;
		n->lit.p = n->str;
		n->lit.len = lx->slen;
		break;
	case T_MINUS:
		if (lex_next(lx) == -1)
			return NULL;
		if (lx->t != T_NUM) {
			lex_fail(lx, off, "'-' is supported only before a "
			    "number (arithmetic is not)");
			return NULL;
		}
		neg = true;
		/* FALLTHROUGH */
	case T_NUM:
		if ((n = node_new(lx, N_LIT, off)) == NULL)
			return NULL;
		n->lit.t = VT_NUM;
		n->lit.num = neg ? -lx->num : lx->num;
		n->lit.numok = true;
		break;
	case T_LPAREN:
		col = lex_col(lx, off);
		if (lex_next(lx) == -1 ||
		    (n = parse_pipe(lx, rooted, "'('")) == NULL)
			return NULL;
		if (lx->t != T_RPAREN) {
			snprintf(what, sizeof(what),
			    "')' to close the '(' at column %d", col);
			unexpected(lx, what);
			goto fail;
		}
		break;
	case T_IDENT:
		if (IS_WORD(lx, "true") || IS_WORD(lx, "false") ||
		    IS_WORD(lx, "null")) {
			if ((n = node_new(lx, N_LIT, off)) == NULL)
				return NULL;
			n->lit.t = IS_WORD(lx, "true") ? VT_TRUE :
			    IS_WORD(lx, "false") ? VT_FALSE : VT_NULL;
			break;
		}
		if (IS_WORD(lx, "not")) {
			if ((n = node_new(lx, N_NOT, off)) == NULL)
				return NULL;
			break;
		}
		if (!IS_WORD(lx, "and") && !IS_WORD(lx, "or"))
			return parse_func(lx, lx->src + off, lx->end - off);
		/* FALLTHROUGH */
	default:
		if (after != NULL)
			snprintf(what, sizeof(what), "a value after %s", after);
		else
			snprintf(what, sizeof(what), "a value");
		unexpected(lx, what);
		return NULL;
	}
	if (lex_next(lx) == -1)
		goto fail;
	return n;
fail:
	node_free(n);
	return NULL;
}

/*
 * has(K), test(RE), test(RE; FLAGS), startswith(S), endswith(S): jq's
 * functions, with literal arguments only.  The current token is the name.
 */
static struct node *
parse_func(struct lex *lx, const char *name, size_t len)
{
	struct node *n;
	enum nk kind;
	size_t off = lx->off;
	double sign = 1;

#define NAME_IS(w)	(len == sizeof(w) - 1 && memcmp(name, w, len) == 0)
	if (NAME_IS("has"))
		kind = N_HAS;
	else if (NAME_IS("test"))
		kind = N_TEST;
	else if (NAME_IS("startswith"))
		kind = N_STARTS;
	else if (NAME_IS("endswith"))
		kind = N_ENDS;
	else {
		lex_fail(lx, off, "'%.*s' is not supported (evbus's filters "
		    "are a subset of jq: see evbus(7))", (int)(len > 32 ? 32 :
		    len), name);
		return NULL;
	}
#undef NAME_IS
	if ((n = node_new(lx, kind, off)) == NULL)
		return NULL;
	if (lex_next(lx) == -1)
		goto fail;
	if (lx->t != T_LPAREN) {
		unexpected(lx, "'(' and the argument");
		goto fail;
	}
	if (lex_next(lx) == -1)
		goto fail;
	if (kind == N_HAS) {
		if (lx->t == T_STR) {
			n->str = lx->s;
			lx->s = NULL;
			n->lit.t = VT_STR;
			n->lit.p = n->str;
			n->lit.len = lx->slen;
		} else {
			if (lx->t == T_MINUS) {
				sign = -1;
				if (lex_next(lx) == -1)
					goto fail;
			}
			if (lx->t != T_NUM) {
				unexpected(lx, "a string or a number (has() "
				    "takes a literal key)");
				goto fail;
			}
			n->lit.t = VT_NUM;
			n->lit.num = sign * lx->num;
			n->lit.numok = true;
		}
		if (lex_next(lx) == -1)
			goto fail;
	} else if (func_string_arg(lx, n, kind == N_TEST ? "test()" :
	    kind == N_STARTS ? "startswith()" : "endswith()") == -1)
		goto fail;
	if (lx->t != T_RPAREN) {
		unexpected(lx, "')'");
		goto fail;
	}
	if (lex_next(lx) == -1)
		goto fail;
	return n;
fail:
	node_free(n);
	return NULL;
}

/*
 * The string argument of test(), startswith() or endswith(), and for
 * test() the flags after a ';'; the regex is compiled now.
 */
static int
func_string_arg(struct lex *lx, struct node *n, const char *fname)
{
	size_t reoff = lx->off, floff, flen = 0;
	const char *flags = "";
	char what[64];

	if (lx->t != T_STR) {
		snprintf(what, sizeof(what), "a string (%s takes a literal)",
		    fname);
		return unexpected(lx, what);
	}
	n->str = lx->s;
	lx->s = NULL;
	n->lit.t = VT_STR;
	n->lit.p = n->str;
	n->lit.len = lx->slen;
	if (lex_next(lx) == -1)
		return -1;
	if (n->kind != N_TEST)
		return 0;
	if (lx->t != T_SEMI)
		return compile_regex(lx, n, "", 0, reoff, reoff);
	if (lex_next(lx) == -1)
		return -1;
	floff = lx->off;
	if (lx->t == T_STR) {
		flags = lx->s;
		flen = lx->slen;
	} else if (!IS_WORD(lx, "null"))
		return unexpected(lx, "a string of flags or null");
	if (compile_regex(lx, n, flags, flen, reoff, floff) == -1)
		return -1;
	return lex_next(lx);
}

/*
 * Compile test()'s regex exactly as jq 1.6's f_match does: Oniguruma,
 * UTF-8, the Perl_NG syntax, ONIG_OPTION_CAPTURE_GROUP, and its flags:
 * g (no effect on test), i, x, n, s, l, p, m.  jq reports a bad flag or
 * a bad regex when it evaluates; here it is refused at once.
 */
static int
compile_regex(struct lex *lx, struct node *n, const char *flags,
    size_t flen, size_t reoff, size_t floff)
{
	OnigOptionType opt = ONIG_OPTION_CAPTURE_GROUP;
	OnigErrorInfo einfo;
	UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
	size_t i;
	int r;

	for (i = 0; i < flen; i++)
		switch (flags[i]) {
		case 'g':
			break;
		case 'i':
			opt |= ONIG_OPTION_IGNORECASE;
			break;
		case 'x':
			opt |= ONIG_OPTION_EXTEND;
			break;
		case 'm':
			opt |= ONIG_OPTION_MULTILINE;
			break;
		case 's':
			opt |= ONIG_OPTION_SINGLELINE;
			break;
		case 'p':
			opt |= ONIG_OPTION_MULTILINE | ONIG_OPTION_SINGLELINE;
			break;
		case 'l':
			opt |= ONIG_OPTION_FIND_LONGEST;
			break;
		case 'n':
			opt |= ONIG_OPTION_FIND_NOT_EMPTY;
			break;
		default:
			return lex_fail(lx, floff, "not a valid string of "
			    "test() flags (g i x n s p l m)");
		}
	r = onig_new(&n->re, (const UChar *)n->lit.p,
	    (const UChar *)n->lit.p + n->lit.len, opt, ONIG_ENCODING_UTF8,
	    ONIG_SYNTAX_PERL_NG, &einfo);
	if (r != ONIG_NORMAL) {
		n->re = NULL;
		if (r == ONIGERR_MEMORY)
			return ev_err_set(lx->err, EV_ERR_SYS,
			    "regex: out of memory");
		onig_error_code_to_str(msg, r, &einfo);
		return lex_fail(lx, reoff, "invalid regex: %s", (char *)msg);
	}
	return 0;
}

/* Add the canonical text of every rooted path to e->path, each once. */
static int
collect_paths(struct ev_expr *e, const struct node *n)
{
	char **np;
	size_t i;

	if (n == NULL)
		return 0;
	if (n->kind == N_PATH && n->rooted && n->a == NULL &&
	    n->path.n > 0) {
		for (i = 0; i < e->npath; i++)
			if (strcmp(e->path[i], n->path.text) == 0)
				break;
		if (i == e->npath) {
			if ((np = reallocarray(e->path, e->npath + 1,
			    sizeof(*np))) == NULL)
				return -1;
			e->path = np;
			if ((np[e->npath] = strdup(n->path.text)) == NULL)
				return -1;
			e->npath++;
		}
	}
	for (i = 0; i < n->nkid; i++)
		if (collect_paths(e, n->kid[i]) == -1)
			return -1;
	if (collect_paths(e, n->a) == -1)
		return -1;
	return collect_paths(e, n->b);
}

struct ev_expr *
ev_expr_compile(const char *src, struct ev_err *err)
{
	struct lex lx;
	struct ev_expr *e;

	if (err != NULL)
		err->kind = EV_ERR_NONE;
	memset(&lx, 0, sizeof(lx));
	lx.src = src;
	lx.len = strlen(src);
	lx.err = err;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		ev_err_sys(err, "filter");
		return NULL;
	}
	if (lex_next(&lx) == -1 ||
	    (e->root = parse_pipe(&lx, true, NULL)) == NULL)
		goto fail;
	if (lx.t != T_END) {
		if (lx.t == T_RPAREN)
			lex_fail(&lx, lx.off, "unmatched ')'");
		else if (lx.t == T_RBRACK)
			lex_fail(&lx, lx.off, "unmatched ']'");
		else
			unexpected(&lx, "an operator or the end");
		goto fail;
	}
	if (collect_paths(e, e->root) == -1) {
		ev_err_sys(err, "filter");
		goto fail;
	}
	return e;
fail:
	free(lx.s);
	ev_expr_free(e);
	return NULL;
}

void
ev_expr_free(struct ev_expr *e)
{
	size_t i;

	if (e == NULL)
		return;
	node_free(e->root);
	for (i = 0; i < e->npath; i++)
		free(e->path[i]);
	free(e->path);
	free(e);
}

size_t
ev_expr_npaths(const struct ev_expr *e)
{
	return e->npath;
}

const char *
ev_expr_path(const struct ev_expr *e, size_t i)
{
	return i < e->npath ? e->path[i] : NULL;
}

/*
 * Walking JSON text that has been validated.  These never read outside
 * [p, end), even on text that is not JSON, but on such text what they
 * find is unspecified.
 */
static const char *
js_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
	    *p == '\r'))
		p++;
	return p;
}

/* p just after a string's opening quote: the byte after its closing one. */
static const char *
js_str_end(const char *p, const char *end, bool *esc)
{
	const char *q;

	for (;;) {
		if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
			return end;
		if (memchr(p, '\\', (size_t)(q - p)) == NULL)
			return q + 1;
		/* A backslash before the quote: walk escape by escape. */
		*esc = true;
		while (p < q) {
			if (*p == '\\')
				p++;
			p++;
		}
		if (p == q)
			return q + 1;
		p = q + 1;		/* that quote was escaped */
	}
}

/* One past the value that starts at p; *esc: a string with escapes. */
static const char *
js_skip(const char *p, const char *end, bool *esc)
{
	size_t depth = 0;
	bool e;

	*esc = false;
	if (p >= end)
		return end;
	if (*p == '"')
		return js_str_end(p + 1, end, esc);
	if (*p != '{' && *p != '[') {
		while (p < end && *p != ',' && *p != '}' && *p != ']' &&
		    *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		return p;
	}
	for (; p < end; p++)
		switch (*p) {
		case '"':
			p = js_str_end(p + 1, end, &e) - 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return p + 1;
			break;
		}
	return end;
}

/* The value whose text is [p, q). */
static void
js_val(const char *p, const char *q, bool esc, struct val *v)
{
	memset(v, 0, sizeof(*v));
	v->p = p;
	v->len = (size_t)(q - p);
	if (p == q) {
		v->t = VT_NULL;
		return;
	}
	switch (*p) {
	case '{':
		v->t = VT_OBJ;
		break;
	case '[':
		v->t = VT_ARR;
		break;
	case '"':
		v->t = VT_STR;
		v->p = p + 1;
		v->len = v->len >= 2 ? v->len - 2 : 0;
		v->esc = esc;
		break;
	case 't':
		v->t = VT_TRUE;
		break;
	case 'f':
		v->t = VT_FALSE;
		break;
	case 'n':
		v->t = VT_NULL;
		break;
	default:
		v->t = VT_NUM;
		break;
	}
}

/*
 * The next element of an array (close ']') or member of an object (close
 * '}', key in *k), starting from it->p just inside the opening bracket.
 */
static bool
it_next(struct it *it, struct val *k, struct val *v, char close)
{
	const char *p, *q;
	bool esc = false;

	p = js_ws(it->p, it->end);
	if (p < it->end && *p == ',')
		p = js_ws(p + 1, it->end);
	if (p >= it->end || *p == close)
		return false;
	if (close == '}') {
		q = js_str_end(p + 1, it->end, &esc);
		js_val(p, q, esc, k);
		p = js_ws(q, it->end);
		if (p < it->end && *p == ':')
			p = js_ws(p + 1, it->end);
	}
	q = js_skip(p, it->end, &esc);
	js_val(p, q, esc, v);
	it->p = q;
	return true;
}

static void
sdec_init(struct sdec *d, const struct val *s)
{
	d->p = (const unsigned char *)s->p;
	d->end = d->p + s->len;
	d->n = d->i = 0;
	d->raw = !s->esc;
}

/* The next byte of the decoded string, or -1 at its end. */
static int
sdec_next(struct sdec *d)
{
	int u, u2, c;

	if (d->i < d->n)
		return d->b[d->i++];
	if (d->p >= d->end)
		return -1;
	if (d->raw || *d->p != '\\' || d->end - d->p < 2)
		return *d->p++;
	c = d->p[1];
	d->p += 2;
	switch (c) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'u':
		break;
	default:
		return c;
	}
	if (d->end - d->p < 4 || (u = (int)ev_json_hex4(d->p)) < 0)
		return 'u';
	d->p += 4;
	if (u >= 0xd800 && u <= 0xdbff && d->end - d->p >= 6 &&
	    d->p[0] == '\\' && d->p[1] == 'u' &&
	    (u2 = (int)ev_json_hex4(d->p + 2)) >= 0xdc00 && u2 <= 0xdfff) {
		u = 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00);
		d->p += 6;
	}
	if (u < 0x80)
		return u;
	d->i = 1;
	if (u < 0x800) {
		d->b[0] = (unsigned char)(0xc0 | u >> 6);
		d->b[1] = (unsigned char)(0x80 | (u & 0x3f));
		d->n = 2;
	} else if (u < 0x10000) {
		d->b[0] = (unsigned char)(0xe0 | u >> 12);
		d->b[1] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
		d->b[2] = (unsigned char)(0x80 | (u & 0x3f));
		d->n = 3;
	} else {
		d->b[0] = (unsigned char)(0xf0 | u >> 18);
		d->b[1] = (unsigned char)(0x80 | (u >> 12 & 0x3f));
		d->b[2] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
		d->b[3] = (unsigned char)(0x80 | (u & 0x3f));
		d->n = 4;
	}
	return d->b[0];
}

/*
 * Compare two strings' decoded bytes as jq does: memcmp over the shorter,
 * then the shorter first (so UTF-8 sorts by code point).
 */
static int
str_cmp(const struct val *a, const struct val *b)
{
	struct sdec da, db;
	int ca, cb, r;

	if (!a->esc && !b->esc) {
		r = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
		if (r != 0)
			return r < 0 ? -1 : 1;
		return a->len < b->len ? -1 : a->len > b->len;
	}
	sdec_init(&da, a);
	sdec_init(&db, b);
	do {
		ca = sdec_next(&da);
		cb = sdec_next(&db);
	} while (ca == cb && ca != -1);
	return ca < cb ? -1 : ca > cb;
}

/* Is the string s the bytes key[0..keylen)? */
static bool
str_is(const struct val *s, const char *key, size_t keylen)
{
	struct val k;

	if (!s->esc)
		return s->len == keylen && memcmp(s->p, key, keylen) == 0;
	if (s->len < keylen)		/* escapes only make text shorter */
		return false;
	memset(&k, 0, sizeof(k));
	k.p = key;
	k.len = keylen;
	return str_cmp(s, &k) == 0;
}

/*
 * A string's decoded bytes in one piece: its own when it has no escapes,
 * else decoded into the doc's small buffer or, when long, its growing
 * one (valid until the next call).  -1 with err when out of memory.
 */
static int
str_bytes(struct ctx *c, const struct val *s, const char **p, size_t *len)
{
	struct ev_expr_doc *d = c->doc;
	struct sdec dec;
	size_t n = 0;
	int ch;

	if (!s->esc) {
		*p = s->p;
		*len = s->len;
		return 0;
	}
	if (s->len <= sizeof(d->small)) {
		sdec_init(&dec, s);
		while ((ch = sdec_next(&dec)) != -1)
			d->small[n++] = (char)ch;
		*p = d->small;
		*len = n;
		return 0;
	}
	ev_buf_reset(&d->big);
	if (ev_json_unescape(s->p, s->len, &d->big) == -1)
		return ev_err_sys(c->err, "filter");
	*p = d->big.data;
	*len = d->big.len;
	return 0;
}

/*
 * A decimal number as jq 1.6 reads numbers: to the nearest double,
 * whatever the locale.  s need not end after the number, only be followed
 * by something that is not part of one.
 */
static double
strtod_c(const char *s)
{
	static locale_t cloc;

	if (cloc == (locale_t)0)
		cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (cloc == (locale_t)0)
		return strtod(s, NULL);
	return strtod_l(s, NULL, cloc);
}

/*
 * A number's value.  The text of a number from the input is followed by
 * a delimiter inside the text (the top value, which is not, was converted
 * when the doc was set), so strtod may read it in place.
 */
static double
num_of(const struct val *v)
{
	int64_t i;
	size_t k;

	if (v->numok || v->p == NULL)
		return v->num;
	for (k = 0; k < v->len; k++)
		if (v->p[k] == '.' || v->p[k] == 'e' || v->p[k] == 'E')
			break;
	if (k == v->len && v->len <= 18 && ev_json_int(v->p, v->len, &i) == 0)
		return (double)i;
	return strtod_c(v->p);
}

/*
 * An array index as jq 1.6 takes it: a double converted to int, where a
 * value outside int's range becomes INT_MIN (what the conversion gives
 * on the machines jq runs on).
 */
static int
index_of(double d)
{
	if (!(d >= -2147483648.0 && d < 2147483648.0))
		return INT32_MIN;
	return (int)d;
}

/*
 * The value of the last member named key (jq keeps the last of duplicate
 * keys) of the object o.  The doc's table answers for its top object.
 */
static bool
obj_get(const struct ev_expr_doc *d, const struct val *o, const char *key,
    size_t keylen, struct val *out)
{
	const struct ev_jmember *m;
	struct it it;
	struct val k, v;
	size_t i;
	bool found = false;

	if (d != NULL && d->table && o->p == d->root.p &&
	    o->len == d->root.len) {
		for (i = d->nm; i-- > 0;) {
			m = &d->m[i];
			memset(&k, 0, sizeof(k));
			k.p = m->key;
			k.len = m->keylen;
			k.esc = m->key_escaped;
			if (str_is(&k, key, keylen)) {
				js_val(m->val, m->val + m->vallen,
				    m->val_escaped, out);
				return true;
			}
		}
		return false;
	}
	it.p = o->p + 1;
	it.end = o->p + o->len;
	while (it_next(&it, &k, &v, '}'))
		if (str_is(&k, key, keylen)) {
			*out = v;
			found = true;
		}
	return found;
}

/*
 * Element idx of the array a, as jq 1.6's .[n]: an index that is not an
 * integer gives null, a negative one counts from the end.
 */
static bool
arr_get(const struct val *a, double idx, struct val *out)
{
	struct it it;
	struct val v;
	int i, n;

	if (!(idx >= -2147483648.0 && idx < 2147483648.0) ||
	    idx != (double)(int)idx)
		return false;
	i = (int)idx;
	if (i < 0) {
		it.p = a->p + 1;
		it.end = a->p + a->len;
		for (n = 0; it_next(&it, NULL, &v, ']'); n++)
			continue;
		if ((i += n) < 0)
			return false;
	}
	it.p = a->p + 1;
	it.end = a->p + a->len;
	while (it_next(&it, NULL, &v, ']'))
		if (i-- == 0) {
			*out = v;
			return true;
		}
	return false;
}

/* Object members in jq's order: by key, and for one key, as written. */
static int
omem_cmp(const void *x, const void *y)
{
	const struct omem *a = x, *b = y;
	int r;

	if ((r = str_cmp(&a->k, &b->k)) != 0)
		return r;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/*
 * The members of o into m[0..max), sorted by key, duplicates reduced to
 * the last (jq keeps the last); *n is how many remain.  With m NULL,
 * count them only.
 */
static void
obj_collect(const struct val *o, struct omem *m, size_t max, size_t *n)
{
	struct it it;
	struct val k, v;
	size_t i = 0, j, o2;

	it.p = o->p + 1;
	it.end = o->p + o->len;
	while (it_next(&it, &k, &v, '}')) {
		if (m != NULL && i < max) {
			m[i].k = k;
			m[i].v = v;
			m[i].pos = i;
		}
		i++;
	}
	if (m == NULL) {
		*n = i;
		return;
	}
	if (i > max)
		i = max;
	qsort(m, i, sizeof(*m), omem_cmp);
	for (j = o2 = 0; j < i; j++) {
		if (j + 1 < i && str_cmp(&m[j].k, &m[j + 1].k) == 0)
			continue;
		m[o2++] = m[j];
	}
	*n = o2;
}

/*
 * Compare two objects as jq 1.6's jv_cmp does: first their sorted keys
 * as arrays of strings, then, when those are equal, their values in key
 * order.  Small objects are sorted on the stack, others on the heap.
 */
static int
obj_cmp(struct ctx *c, const struct val *a, const struct val *b, int depth,
    int *r)
{
	struct omem sa[CMP_STACK], sb[CMP_STACK], *ma = sa, *mb = sb;
	size_t na, nb, i;
	int ret = -1;

	obj_collect(a, NULL, 0, &na);
	obj_collect(b, NULL, 0, &nb);
	if (na > CMP_STACK || depth >= CMP_STACK_DEPTH) {
		if ((ma = calloc(na + 1, sizeof(*ma))) == NULL)
			goto nomem;
	}
	if (nb > CMP_STACK || depth >= CMP_STACK_DEPTH) {
		if ((mb = calloc(nb + 1, sizeof(*mb))) == NULL)
			goto nomem;
	}
	obj_collect(a, ma, na, &na);
	obj_collect(b, mb, nb, &nb);
	*r = 0;
	for (i = 0; i < na && i < nb && *r == 0; i++)
		*r = str_cmp(&ma[i].k, &mb[i].k);
	if (*r == 0)
		*r = na < nb ? -1 : na > nb;
	for (i = 0; i < na && *r == 0; i++)
		if (vcmp(c, &ma[i].v, &mb[i].v, depth + 1, r) == -1)
			goto out;
	ret = 0;
	goto out;
nomem:
	ev_err_sys(c->err, "filter");
out:
	if (ma != sa)
		free(ma);
	if (mb != sb)
		free(mb);
	return ret;
}

/*
 * jq's total order (jv_cmp): by kind (null < false < true < numbers <
 * strings < arrays < objects), numbers as doubles, strings by bytes,
 * arrays element by element with the shorter first, objects by obj_cmp.
 * *r is -1, 0 or 1.  -1 with err only when out of memory.
 */
static int
vcmp(struct ctx *c, const struct val *a, const struct val *b, int depth,
    int *r)
{
	struct it ia, ib;
	struct val x, y;
	double da, db;
	bool ha, hb;

	if (a->t != b->t) {
		*r = a->t < b->t ? -1 : 1;
		return 0;
	}
	switch (a->t) {
	case VT_NUM:
		da = num_of(a);
		db = num_of(b);
		*r = da < db ? -1 : da == db ? 0 : 1;
		return 0;
	case VT_STR:
		*r = str_cmp(a, b);
		return 0;
	case VT_ARR:
		ia.p = a->p + 1;
		ia.end = a->p + a->len;
		ib.p = b->p + 1;
		ib.end = b->p + b->len;
		for (;;) {
			ha = it_next(&ia, NULL, &x, ']');
			hb = it_next(&ib, NULL, &y, ']');
			if (!ha || !hb) {
				*r = ha == hb ? 0 : ha ? 1 : -1;
				return 0;
			}
			if (vcmp(c, &x, &y, depth + 1, r) == -1)
				return -1;
			if (*r != 0)
				return 0;
		}
	case VT_OBJ:
		return obj_cmp(c, a, b, depth, r);
	default:
		*r = 0;
		return 0;
	}
}

/* jq's names of kinds, for messages. */
static const char *
kind_name(int t)
{
	switch (t) {
	case VT_NULL:
		return "null";
	case VT_FALSE:
	case VT_TRUE:
		return "boolean";
	case VT_NUM:
		return "number";
	case VT_STR:
		return "string";
	case VT_ARR:
		return "array";
	default:
		return "object";
	}
}

/* A key for a message, JSON-escaped, cut with "..." when long. */
static void
quote_key(char *dst, size_t size, const char *key, size_t len)
{
	size_t i, o = 0;
	unsigned char ch;

	for (i = 0; i < len && o + 10 < size; i++) {
		ch = (unsigned char)key[i];
		if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(dst + o, size - o, "\\u%04x", ch);
		else if (ch == '"' || ch == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)ch;
		} else
			dst[o++] = (char)ch;
	}
	if (i < len) {
		while (o > 0 && ((unsigned char)dst[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 0 && (unsigned char)dst[o - 1] >= 0xc0)
			o--;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/*
 * Follow pa's steps from *in, as jq 1.6 does: .k on an object is its
 * member (null when there is none), .k and [n] on null are null, [n] on
 * an array is its element; anything else is an error.  R_FOUND or
 * R_ABSENT with *out (null when absent), or R_ERROR with *bad the step
 * that failed and *out the value it was applied to.
 */
static int
walk(struct ctx *c, const struct path *pa, const struct val *in,
    struct val *out, size_t *bad)
{
	const struct step *st;
	struct val cur = *in, nx;
	size_t i;
	bool absent = false;

	for (i = 0; i < pa->n; i++) {
		st = &pa->step[i];
		if (cur.t == VT_NULL) {
			absent = true;
			continue;
		}
		if (st->key != NULL && cur.t == VT_OBJ) {
			if (!obj_get(c->doc, &cur, st->key, st->keylen, &nx)) {
				memset(&nx, 0, sizeof(nx));
				absent = true;
			}
		} else if (st->key == NULL && cur.t == VT_ARR) {
			if (!arr_get(&cur, st->idx, &nx)) {
				memset(&nx, 0, sizeof(nx));
				absent = true;
			}
		} else {
			*bad = i;
			*out = cur;
			return R_ERROR;
		}
		cur = nx;
	}
	*out = cur;
	return absent ? R_ABSENT : R_FOUND;
}

/*
 * walk(), through the doc's cache when the path starts at the document
 * (rooted): a path some filter already located in this doc costs a hash
 * probe and a comparison of its key.  Errors are not cached.
 */
static int
resolve(struct ctx *c, const struct path *pa, bool rooted,
    const struct val *in, struct val *out, size_t *bad)
{
	struct ev_expr_doc *d = c->doc;
	struct cslot *s = NULL;
	size_t i, k;
	int st;

	if (!rooted || !d->cache || pa->n == 0)
		return walk(c, pa, in, out, bad);
	for (k = 0, i = pa->hash & (CACHE_SLOTS - 1); k < CACHE_SLOTS;
	    k++, i = (i + 1) & (CACHE_SLOTS - 1)) {
		s = &d->slot[i];
		if (s->gen != d->gen)
			break;
		if (s->hash == pa->hash && s->keylen == pa->ckeylen &&
		    memcmp(d->arena + s->keyoff, pa->ckey, pa->ckeylen) == 0) {
			*out = s->v;
			return s->st;
		}
	}
	st = walk(c, pa, in, out, bad);
	if (st != R_ERROR && k < CACHE_SLOTS && d->ncached < CACHE_USE &&
	    pa->ckeylen <= ARENA_SIZE - d->arenalen) {
		memcpy(d->arena + d->arenalen, pa->ckey, pa->ckeylen);
		s->hash = pa->hash;
		s->gen = d->gen;
		s->keyoff = (uint16_t)d->arenalen;
		s->keylen = (uint16_t)pa->ckeylen;
		s->st = (uint8_t)st;
		s->v = *out;
		d->arenalen += pa->ckeylen;
		d->ncached++;
	}
	return st;
}

/*
 * The error for step `bad` of pa, applied to v: jq's "Cannot index
 * string with string \"x\"", with where as a prefix.
 */
static int
index_error(struct ctx *c, const struct path *pa, size_t bad,
    const struct val *v, const char *where)
{
	const struct step *st = &pa->step[bad];
	char q[64];

	if (st->key == NULL)
		return ev_err_set(c->err, EV_ERR_DATA,
		    "%s: cannot index %s with number", where,
		    kind_name(v->t));
	quote_key(q, sizeof(q), st->key, st->keylen);
	return ev_err_set(c->err, EV_ERR_DATA,
	    "%s: cannot index %s with string \"%s\"", where, kind_name(v->t),
	    q);
}

/* jq's truthiness: false and null are false, everything else true. */
static bool
truthy(const struct val *v)
{
	return v->t != VT_NULL && v->t != VT_FALSE;
}

static void
set_bool(struct val *v, bool b)
{
	memset(v, 0, sizeof(*v));
	v->t = b ? VT_TRUE : VT_FALSE;
}

/*
 * Evaluate n with the input in; 0 with *out, or -1 with c->err where jq
 * would raise an error.  "and" and "or" evaluate their right side only
 * when jq does.  Recursion is bounded by NEST_MAX and by the nesting of
 * the input (comparisons of arrays and objects).
 */
static int
eval(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	struct val x, y, base;
	char where[32];
	size_t bad, i;
	int r;

	switch (n->kind) {
	case N_PATH:
		if (n->a != NULL) {
			if (eval(c, n->a, in, &base) == -1)
				return -1;
			in = &base;
		}
		r = resolve(c, &n->path, n->rooted && n->a == NULL, in, out,
		    &bad);
		if (r == R_ERROR) {
			snprintf(where, sizeof(where), "column %d",
			    n->path.step[bad].col);
			return index_error(c, &n->path, bad, out, where);
		}
		return 0;
	case N_LIT:
		*out = n->lit;
		return 0;
	case N_AND:
	case N_OR:
		/* jq's (a or b) or c: stop at the first that decides. */
		for (i = 0; i < n->nkid; i++) {
			if (eval(c, n->kid[i], in, &x) == -1)
				return -1;
			if (truthy(&x) == (n->kind == N_OR))
				break;
		}
		set_bool(out, (i < n->nkid) == (n->kind == N_OR));
		return 0;
	case N_PIPE:
		if (eval(c, n->a, in, &x) == -1)
			return -1;
		return eval(c, n->b, &x, out);
	case N_CMP:
		if (eval(c, n->a, in, &x) == -1 || eval(c, n->b, in, &y) == -1)
			return -1;
		if ((n->op == OP_EQ || n->op == OP_NE) && x.t != y.t)
			r = 1;
		else if (vcmp(c, &x, &y, 0, &r) == -1)
			return -1;
		switch (n->op) {
		case OP_EQ:
			set_bool(out, r == 0);
			break;
		case OP_NE:
			set_bool(out, r != 0);
			break;
		case OP_LT:
			set_bool(out, r < 0);
			break;
		case OP_LE:
			set_bool(out, r <= 0);
			break;
		case OP_GT:
			set_bool(out, r > 0);
			break;
		default:
			set_bool(out, r >= 0);
			break;
		}
		return 0;
	case N_NOT:
		set_bool(out, !truthy(in));
		return 0;
	default:
		return eval_func(c, n, in, out);
	}
}

/* has(), test(), startswith(), endswith() on the input, as jq 1.6. */
static int
eval_func(struct ctx *c, const struct node *n, const struct val *in,
    struct val *out)
{
	UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
	struct val v;
	const char *s;
	const UChar *u;
	size_t len;
	int r, i;

	switch (n->kind) {
	case N_HAS:
		/* jv_has: null has nothing; objects by key, arrays by index. */
		if (in->t == VT_NULL) {
			set_bool(out, false);
			return 0;
		}
		if (in->t == VT_OBJ && n->lit.t == VT_STR) {
			set_bool(out, obj_get(c->doc, in, n->lit.p, n->lit.len,
			    &v));
			return 0;
		}
		if (in->t == VT_ARR && n->lit.t == VT_NUM) {
			i = index_of(n->lit.num);
			set_bool(out, i >= 0 && arr_get(in, i, &v));
			return 0;
		}
		return ev_err_set(c->err, EV_ERR_DATA, "column %d: cannot "
		    "check whether %s has a %s key", n->col, kind_name(in->t),
		    kind_name(n->lit.t));
	case N_TEST:
		if (in->t != VT_STR)
			return ev_err_set(c->err, EV_ERR_DATA, "column %d: "
			    "cannot match %s, as it is not a string", n->col,
			    kind_name(in->t));
		if (str_bytes(c, in, &s, &len) == -1)
			return -1;
		u = (const UChar *)s;
		r = onig_search(n->re, u, u + len, u, u + len, NULL,
		    ONIG_OPTION_NONE);
		if (r >= 0 || r == ONIG_MISMATCH) {
			set_bool(out, r >= 0);
			return 0;
		}
		onig_error_code_to_str(msg, r);
		return ev_err_set(c->err, EV_ERR_DATA, "column %d: regex "
		    "failure: %s", n->col, (char *)msg);
	default:
		if (in->t != VT_STR)
			return ev_err_set(c->err, EV_ERR_DATA, "column %d: %s() "
			    "requires string inputs, not %s", n->col,
			    n->kind == N_STARTS ? "startswith" : "endswith",
			    kind_name(in->t));
		if (str_bytes(c, in, &s, &len) == -1)
			return -1;
		if (n->lit.len > len)
			set_bool(out, false);
		else
			set_bool(out, memcmp(n->kind == N_STARTS ? s :
			    s + len - n->lit.len, n->lit.p, n->lit.len) == 0);
		return 0;
	}
}

static void
doc_init(struct ev_expr_doc *d, bool cache)
{
	d->json = NULL;
	d->len = 0;
	d->ok = false;
	d->table = false;
	d->cache = cache;
	d->gen = 1;
	d->ncached = 0;
	d->arenalen = 0;
	memset(&d->big, 0, sizeof(d->big));
	if (cache)
		memset(d->slot, 0, sizeof(d->slot));
}

struct ev_expr_doc *
ev_expr_doc_new(void)
{
	struct ev_expr_doc *d;

	if ((d = malloc(sizeof(*d))) == NULL)
		return NULL;
	doc_init(d, true);
	return d;
}

void
ev_expr_doc_free(struct ev_expr_doc *d)
{
	if (d == NULL)
		return;
	ev_buf_free(&d->big);
	free(d);
}

int
ev_expr_doc_set(struct ev_expr_doc *d, const char *json, size_t len,
    struct ev_err *err)
{
	struct ev_err e;
	const char *p, *q, *end = json + len;
	enum ev_jtype type;
	char *t;
	size_t n;

	d->ok = false;
	d->json = json;
	d->len = len;
	if (++d->gen == 0) {
		memset(d->slot, 0, sizeof(d->slot));
		d->gen = 1;
	}
	d->ncached = 0;
	d->arenalen = 0;
	d->nm = 0;
	p = js_ws(json, end);
	if (p < end && *p == '{') {
		if (ev_json_scan_object(json, len, d->m, DOC_MEMBERS, &d->nm,
		    &e) == 0)
			d->table = true;
		else if (e.kind == EV_ERR_LIMIT)
			d->table = false;	/* valid; walk it instead */
		else {
			if (err != NULL)
				*err = e;
			return -1;
		}
	} else {
		if (ev_json_check(json, len, &type, err) == -1)
			return -1;
		d->table = false;
	}
	for (q = end; q > p && (q[-1] == ' ' || q[-1] == '\t' ||
	    q[-1] == '\n' || q[-1] == '\r'); q--)
		continue;
	js_val(p, q, p < q && *p == '"' &&
	    memchr(p, '\\', (size_t)(q - p)) != NULL, &d->root);
	if (d->root.t == VT_NUM) {
		/* Nothing follows it to stop strtod: convert a copy. */
		n = d->root.len;
		if (n < sizeof(d->small))
			t = d->small;
		else {
			ev_buf_reset(&d->big);
			if (ev_buf_append(&d->big, d->root.p, n) == -1)
				return ev_err_sys(err, "filter");
			t = d->big.data;
		}
		memcpy(t, d->root.p, n);
		t[n] = '\0';
		d->root.num = strtod_c(t);
		d->root.numok = true;
	}
	d->ok = true;
	return 0;
}

int
ev_expr_eval_doc(const struct ev_expr *e, struct ev_expr_doc *d,
    struct ev_err *err)
{
	struct ctx c;
	struct val v;

	if (!d->ok)
		return ev_err_set(err, EV_ERR_DATA,
		    "no valid JSON text to evaluate");
	c.doc = d;
	c.err = err;
	if (eval(&c, e->root, &d->root, &v) == -1)
		return -1;
	return truthy(&v) ? 1 : 0;
}

int
ev_expr_eval(const struct ev_expr *e, const char *json, size_t len,
    struct ev_err *err)
{
	struct ev_expr_doc d;
	int r;

	doc_init(&d, false);
	if (ev_expr_doc_set(&d, json, len, err) == -1)
		r = -1;
	else
		r = ev_expr_eval_doc(e, &d, err);
	ev_buf_free(&d.big);
	return r;
}

/* Append JSON text without the whitespace between its tokens. */
static int
put_compact(struct ev_buf *out, const char *p, size_t len)
{
	const char *end = p + len, *run = p, *q;
	bool esc;

	while (p < end) {
		if (*p == '"') {
			p = js_str_end(p + 1, end, &esc);
			continue;
		}
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			p++;
			continue;
		}
		if (ev_buf_append(out, run, (size_t)(p - run)) == -1)
			return -1;
		for (q = p; q < end && (*q == ' ' || *q == '\t' ||
		    *q == '\n' || *q == '\r'); q++)
			continue;
		p = run = q;
	}
	return ev_buf_append(out, run, (size_t)(p - run));
}

/*
 * Append a value from the input for a template: a string's decoded text
 * (with json, its JSON text with the quotes), a scalar's JSON text as
 * written, an array or object compact.  -1 with errno ENOMEM.
 */
static int
put_value(struct ev_buf *out, const struct val *v, bool json)
{
	switch (v->t) {
	case VT_STR:
		if (json)
			return ev_buf_putc(out, '"') == -1 ||
			    ev_buf_append(out, v->p, v->len) == -1 ||
			    ev_buf_putc(out, '"') == -1 ? -1 : 0;
		if (!v->esc)
			return ev_buf_append(out, v->p, v->len);
		return ev_json_unescape(v->p, v->len, out);
	case VT_NUM:
		if (v->p == NULL)
			return ev_buf_printf(out, "%.17g", v->num);
		return ev_buf_append(out, v->p, v->len);
	case VT_TRUE:
		return ev_buf_append(out, "true", 4);
	case VT_FALSE:
		return ev_buf_append(out, "false", 5);
	case VT_NULL:
		return ev_buf_append(out, "null", 4);
	default:
		return put_compact(out, v->p, v->len);
	}
}

/*
 * A template's escape at src[p] ('\\'): \t \n \r \\ \{ \} \| (\| only
 * matters in default:TEXT, where it is the same as '|').  Appends the
 * character to b and steps *pp past the escape.
 */
static int
tmpl_escape(const char *src, size_t len, size_t *pp, struct ev_buf *b,
    struct lex *lx)
{
	size_t p = *pp;
	char c;

	if (p + 1 >= len)
		return lex_fail(lx, p, "a '\\' at the end");
	switch (src[p + 1]) {
	case 't':
		c = '\t';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case '\\':
	case '{':
	case '}':
	case '|':
		c = src[p + 1];
		break;
	default:
		return lex_fail(lx, p, "unknown escape (\\t \\n \\r \\\\ \\{ "
		    "\\} are known)");
	}
	if (ev_buf_putc(b, c) == -1)
		return ev_err_sys(lx->err, "template");
	*pp = p + 2;
	return 0;
}

/*
 * A substitution whose '{' is at src[open]: the path, then "|fn" each,
 * then '}'.  *pp is left past the '}'.
 */
static int
tmpl_sub(struct lex *lx, struct tpart *tp, size_t open, size_t *pp)
{
	const char *s = lx->src;
	struct ev_buf def = { 0 };
	size_t p, w;

	lx->pos = open + 1;
	if (lex_next(lx) == -1)
		return -1;
	if (lx->t == T_END)
		return lex_fail(lx, open, "unterminated '{'");
	if (lx->t != T_DOT && lx->t != T_FIELD)
		return unexpected(lx, "a path (such as .name) after '{'");
	if (parse_head(lx, &tp->path) == -1)
		return -1;
	if (lx->t != T_PIPE && lx->t != T_RBRACE) {
		if (lx->t == T_END)
			return lex_fail(lx, open, "unterminated '{'");
		return unexpected(lx, "'|' or '}' after the path");
	}
	free(lx->s);
	lx->s = NULL;
	p = lx->off;
	while (p < lx->len && s[p] == '|') {
		for (p++; p < lx->len && (s[p] == ' ' || s[p] == '\t'); p++)
			continue;
		for (w = p; p < lx->len && s[p] >= 'a' && s[p] <= 'z'; p++)
			continue;
#define FN_IS(x) (p - w == sizeof(x) - 1 && memcmp(s + w, x, p - w) == 0)
		if (FN_IS("default") && p < lx->len && s[p] == ':') {
			for (p++; p < lx->len && s[p] != '}';) {
				if (s[p] == '\\') {
					if (tmpl_escape(s, lx->len, &p, &def,
					    lx) == -1)
						goto fail;
				} else if (ev_buf_putc(&def, s[p++]) == -1) {
					ev_err_sys(lx->err, "template");
					goto fail;
				}
			}
			tp->hasdef = true;
			tp->def = def.data;
			tp->deflen = def.len;
			def.data = NULL;
			break;
		}
		if (tp->nfn == TMPL_FNS) {
			lex_fail(lx, w, "more than %d functions", TMPL_FNS);
			goto fail;
		}
		if (FN_IS("json")) {
			if (tp->nfn > 0 || tp->json) {
				lex_fail(lx, w, "json must come first");
				goto fail;
			}
			tp->json = true;
		} else if (FN_IS("lower"))
			tp->fn[tp->nfn++] = F_LOWER;
		else if (FN_IS("upper"))
			tp->fn[tp->nfn++] = F_UPPER;
		else if (FN_IS("mangle"))
			tp->fn[tp->nfn++] = F_MANGLE;
		else {
			lex_fail(lx, w, "unknown function '%.*s' (mangle, "
			    "lower, upper, json, default:TEXT)",
			    (int)(p - w > 16 ? 16 : p - w), s + w);
			goto fail;
		}
#undef FN_IS
		while (p < lx->len && (s[p] == ' ' || s[p] == '\t'))
			p++;
	}
	if (p >= lx->len) {
		lex_fail(lx, open, "unterminated '{'");
		goto fail;
	}
	if (s[p] != '}') {
		lex_fail(lx, p, "expected '|' or '}'");
		goto fail;
	}
	*pp = p + 1;
	return 0;
fail:
	ev_buf_free(&def);
	return -1;
}

static void
tpart_free(struct tpart *tp)
{
	free(tp->text);
	free(tp->def);
	path_free(&tp->path);
}

struct ev_tmpl *
ev_tmpl_compile(const char *src, struct ev_err *err)
{
	struct ev_tmpl *t;
	struct tpart *tp;
	struct ev_buf lit = { 0 };
	struct lex lx;
	size_t p = 0, len = strlen(src);

	if (err != NULL)
		err->kind = EV_ERR_NONE;
	memset(&lx, 0, sizeof(lx));
	lx.src = src;
	lx.len = len;
	lx.err = err;
	lx.tmpl = true;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		ev_err_sys(err, "template");
		return NULL;
	}
	for (;;) {
		while (p < len && src[p] != '{') {
			if (src[p] == '}') {
				lex_fail(&lx, p,
				    "unmatched '}' (write \\} for a brace)");
				goto fail;
			}
			if (src[p] == '\\') {
				if (tmpl_escape(src, len, &p, &lit, &lx) == -1)
					goto fail;
			} else if (ev_buf_putc(&lit, src[p++]) == -1)
				goto nomem;
		}
		if ((tp = reallocarray(t->part, t->n + 1, sizeof(*tp))) ==
		    NULL)
			goto nomem;
		t->part = tp;
		tp = &t->part[t->n++];
		memset(tp, 0, sizeof(*tp));
		tp->text = lit.data;
		tp->textlen = lit.len;
		memset(&lit, 0, sizeof(lit));
		if (p >= len)
			break;
		tp->sub = true;
		if (tmpl_sub(&lx, tp, p, &p) == -1)
			goto fail;
	}
	return t;
nomem:
	ev_err_sys(err, "template");
fail:
	free(lx.s);
	ev_buf_free(&lit);
	ev_tmpl_free(t);
	return NULL;
}

void
ev_tmpl_free(struct ev_tmpl *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		tpart_free(&t->part[i]);
	free(t->part);
	free(t);
}

int
ev_tmpl_render_doc(const struct ev_tmpl *t, struct ev_expr_doc *d,
    struct ev_buf *out, struct ev_err *err)
{
	const struct tpart *tp;
	struct ctx c;
	struct val v;
	size_t i, j, k, mark, start, bad;
	char *s;
	int st;

	if (!d->ok)
		return ev_err_set(err, EV_ERR_DATA,
		    "no valid JSON text to render");
	c.doc = d;
	c.err = err;
	mark = ev_buf_unread(out);
	for (i = 0; i < t->n; i++) {
		tp = &t->part[i];
		if (ev_buf_append(out, tp->text, tp->textlen) == -1)
			goto nomem;
		if (!tp->sub)
			continue;
		st = resolve(&c, &tp->path, true, &d->root, &v, &bad);
		if (st != R_FOUND || (v.t == VT_NULL && tp->hasdef)) {
			if (tp->hasdef) {
				if (ev_buf_append(out, tp->def, tp->deflen) ==
				    -1)
					goto nomem;
				continue;
			}
			if (st == R_ABSENT)
				ev_err_set(err, EV_ERR_DATA, "missing %s",
				    tp->path.text);
			else
				index_error(&c, &tp->path, bad, &v,
				    tp->path.text);
			goto fail;
		}
		start = ev_buf_unread(out);
		if (put_value(out, &v, tp->json) == -1)
			goto nomem;
		s = ev_buf_head(out);
		for (j = 0; j < tp->nfn; j++)
			for (k = start; k < ev_buf_unread(out); k++)
				switch (tp->fn[j]) {
				case F_LOWER:
					if (s[k] >= 'A' && s[k] <= 'Z')
						s[k] = (char)(s[k] + 32);
					break;
				case F_UPPER:
					if (s[k] >= 'a' && s[k] <= 'z')
						s[k] = (char)(s[k] - 32);
					break;
				default:
					if (s[k] == '.')
						s[k] = '-';
					break;
				}
	}
	return 0;
nomem:
	ev_err_sys(err, "template");
fail:
	ev_buf_truncate(out, mark);
	return -1;
}

int
ev_tmpl_render(const struct ev_tmpl *t, const char *json, size_t len,
    struct ev_buf *out, struct ev_err *err)
{
	struct ev_expr_doc d;
	int r;

	doc_init(&d, false);
	if (ev_expr_doc_set(&d, json, len, err) == -1)
		r = -1;
	else
		r = ev_tmpl_render_doc(t, &d, out, err);
	ev_buf_free(&d.big);
	return r;
}

/* --- evroute: a top-level string member of a doc (the event's name) --- */

int
ev_expr_doc_string(struct ev_expr_doc *d, const char *key, size_t keylen,
    const char **s, size_t *len, struct ev_err *err)
{
	struct ctx c;
	struct val v;

	if (!d->ok)
		return ev_err_set(err, EV_ERR_DATA,
		    "no valid JSON text to read");
	if (d->root.t != VT_OBJ)
		return ev_err_set(err, EV_ERR_DATA, "not a JSON object "
		    "(%s %s)", d->root.t == VT_ARR || d->root.t == VT_OBJ ?
		    "an" : "a", kind_name(d->root.t));
	if (!obj_get(d, &d->root, key, keylen, &v))
		return ev_err_set(err, EV_ERR_DATA, "%.*s: missing",
		    (int)keylen, key);
	if (v.t != VT_STR)
		return ev_err_set(err, EV_ERR_DATA, "%.*s: not a string",
		    (int)keylen, key);
	c.doc = d;
	c.err = err;
	return str_bytes(&c, &v, s, len);
}

/*
 * Bound the work of one test() (Oniguruma's retries in a search; 0: the
 * library's default).  Process-wide; for a daemon that evaluates other
 * users' filters.  Beyond it a test() is an error, as jq's is at its own
 * (much larger) limit.
 */
void
ev_expr_regex_budget(unsigned long retries)
{
	onig_set_retry_limit_in_search(retries);
	onig_set_retry_limit_in_match(retries);
}
