/*
 * jscan.c: a strict validate-only JSON scanner for the hot path, with the
 * acceptance rules of jansson 2.14's json_loadb() (see jscan.h), and the
 * small string helpers that go with it.
 *
 * One pass, no recursion, no allocation: the nesting is a bitset of
 * container kinds bounded by jansson's depth limit, bytes are classified by
 * tables, and runs of plain ASCII inside strings are skipped eight bytes at
 * a time.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "evbus.h"
#include "jscan.h"

/* Byte classes inside a string. */
enum {
	SP,		/* plain ASCII: copied as is */
	SQ,		/* '"' */
	SB,		/* '\\' */
	SC,		/* control character, refused */
	U2,		/* lead of a 2-byte sequence, C2..DF */
	E0,		/* E0: second byte A0..BF (no overlong) */
	U3,		/* E1..EC, EE..EF */
	ED,		/* ED: second byte 80..9F (no surrogate) */
	F0,		/* F0: second byte 90..BF (no overlong) */
	U4,		/* F1..F3 */
	F4,		/* F4: second byte 80..8F (nothing past U+10FFFF) */
	SX,		/* never valid: continuation, C0, C1, F5..FF */
};

static const unsigned char scls[256] = {
	SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC,
	SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC, SC,
	SP, SP, SQ, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP,
	SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP,
	SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP,
	SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SB, SP, SP, SP,
	SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP,
	SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP, SP,
	SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX,
	SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX,
	SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX,
	SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX,
	SX, SX, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2,
	U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2, U2,
	E0, U3, U3, U3, U3, U3, U3, U3, U3, U3, U3, U3, U3, ED, U3, U3,
	F0, U4, U4, U4, F4, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX, SX,
};

/* Byte classes outside strings: JSON whitespace, digits, ASCII letters. */
#define W	1
#define D	2
#define A	4
static const unsigned char ctab[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, W, W, 0, 0, W, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	W, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	D, D, D, D, D, D, D, D, D, D, 0, 0, 0, 0, 0, 0,
	0, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, 0, 0, 0, 0, 0,
	0, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, 0, 0, 0, 0, 0,
	/* 0x80..0xff: none of these */
};
#undef W
#undef D
#undef A
#define IS_WS(c)	(ctab[(c)] & 1)
#define IS_DIGIT(c)	(ctab[(c)] & 2)
#define IS_ALPHA(c)	(ctab[(c)] & 4)

/*
 * 2^1024 - 2^970, the smallest decimal that strtod() rounds (to nearest,
 * ties to even) to infinity instead of DBL_MAX: a real overflows exactly
 * when its value is at least this.  309 digits.
 */
static const char dbl_overflow[] =
    "17976931348623158079372897140530341507993413271003782693617377898044"
    "49682927647509466490179775872070963302864166928879109465555478519404"
    "02630657488671505820681908902000708383676273854845817711531764475730"
    "27006985557136695962284291481986083493647529271907416844436551070434"
    "2711559699508093042880177904174497792";

#define ONES		0x0101010101010101ULL
#define HIGHS		0x8080808080808080ULL

/*
 * Does any of the eight bytes in w need a look inside a string: a control
 * character, '"', '\\' or a byte >= 0x80?  (Exact as a yes/no answer.)
 */
static inline uint64_t
swar_special(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');

	return (w | ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) |
	    ((b - ONES) & ~b)) & HIGHS;
}

/*
 * The first byte at or after p that swar_special flags (a control
 * character, '"', '\\' or a byte >= 0x80), or end.  Sixteen bytes at a
 * time with SSE2: a signed "less than 0x20" catches the controls and the
 * bytes >= 0x80 at once.  Elsewhere eight at a time; on a little-endian
 * machine the lowest flagged byte of a word is exact (the tricks' borrows
 * only carry upwards, past a byte that is really special), so one count of
 * trailing zeros finds it.
 */
static inline const unsigned char *
skip_plain(const unsigned char *p, const unsigned char *end)
{
#if defined(__SSE2__)
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
	    space = _mm_set1_epi8(0x20);
	__m128i v;
	unsigned int mask;

	while (end - p >= 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)p);
		mask = (unsigned int)_mm_movemask_epi8(_mm_or_si128(
		    _mm_cmplt_epi8(v, space), _mm_or_si128(
		    _mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash))));
		if (mask != 0)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	uint64_t w, s;

	while (end - p >= 8) {
		memcpy(&w, p, sizeof(w));
		if ((s = swar_special(w)) != 0) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return p + (__builtin_ctzll(s) >> 3);
#else
			break;
#endif
		}
		p += 8;
	}
	while (p < end && scls[*p] == SP)
		p++;
	return p;
}

static inline const unsigned char *
skip_ws(const unsigned char *p, const unsigned char *end)
{
	while (p < end && IS_WS(*p))
		p++;
	return p;
}

static inline bool
is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static int
hexdig(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The value of 4 hex digits at p, or -1. */
long
ev_json_hex4(const unsigned char *p)
{
	int a = hexdig(p[0]), b = hexdig(p[1]), c = hexdig(p[2]),
	    d = hexdig(p[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return (long)a << 12 | b << 8 | c << 4 | d;
}

/*
 * Length of the UTF-8 sequence starting at p (its lead byte of class cls,
 * not ASCII), or 0 if it is malformed or cut short by end.  The checks are
 * jansson's utf8_check_first/utf8_check_full: no overlong forms, no UTF-16
 * surrogates, nothing beyond U+10FFFF.
 */
static inline size_t
utf8_len(const unsigned char *p, const unsigned char *end, int cls)
{
	size_t avail = (size_t)(end - p);

	switch (cls) {
	case U2:
		return avail >= 2 && is_cont(p[1]) ? 2 : 0;
	case E0:
		return avail >= 3 && p[1] >= 0xa0 && p[1] <= 0xbf &&
		    is_cont(p[2]) ? 3 : 0;
	case U3:
		return avail >= 3 && is_cont(p[1]) && is_cont(p[2]) ? 3 : 0;
	case ED:
		return avail >= 3 && p[1] >= 0x80 && p[1] <= 0x9f &&
		    is_cont(p[2]) ? 3 : 0;
	case F0:
		return avail >= 4 && p[1] >= 0x90 && p[1] <= 0xbf &&
		    is_cont(p[2]) && is_cont(p[3]) ? 4 : 0;
	case U4:
		return avail >= 4 && is_cont(p[1]) && is_cont(p[2]) &&
		    is_cont(p[3]) ? 4 : 0;
	case F4:
		return avail >= 4 && p[1] >= 0x80 && p[1] <= 0x8f &&
		    is_cont(p[2]) && is_cont(p[3]) ? 4 : 0;
	default:
		return 0;
	}
}

/*
 * Check one escape at *pp (which points at the backslash) and step over
 * it.  -1 with *why, *pp left at the backslash.
 */
static int
scan_escape(const unsigned char **pp, const unsigned char *end,
    const char **why)
{
	const unsigned char *p = *pp;
	long u, u2;

	if (end - p < 2) {
		*why = "premature end of input";
		return -1;
	}
	switch (p[1]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		*pp = p + 2;
		return 0;
	case 'u':
		if (end - p < 6 || (u = ev_json_hex4(p + 2)) < 0) {
			*why = "invalid escape";
			return -1;
		}
		if (u == 0) {
			*why = "\\u0000 is not allowed";
			return -1;
		}
		if (u >= 0xdc00 && u <= 0xdfff) {
			*why = "invalid Unicode escape: lone low surrogate";
			return -1;
		}
		if (u < 0xd800 || u > 0xdbff) {
			*pp = p + 6;
			return 0;
		}
		if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
		    (u2 = ev_json_hex4(p + 8)) < 0xdc00 || u2 > 0xdfff) {
			*why = "invalid Unicode escape: lone high surrogate";
			return -1;
		}
		*pp = p + 12;
		return 0;
	default:
		*why = "invalid escape";
		return -1;
	}
}

/*
 * Scan a string whose opening quote is just before *pp.  0 with *pp past
 * the closing quote and *escaped telling whether it holds a backslash; -1
 * with *why and *pp at the offending byte.
 */
static int
scan_string(const unsigned char **pp, const unsigned char *end,
    bool *escaped, const char **why)
{
	const unsigned char *p = *pp;
	size_t n;
	bool esc = false;
	int cls;

	for (;;) {
		if ((p = skip_plain(p, end)) == end) {
			*why = "premature end of input";
			goto fail;
		}
		switch ((cls = scls[*p])) {
		case SQ:
			*pp = p + 1;
			*escaped = esc;
			return 0;
		case SB:
			esc = true;
			if (scan_escape(&p, end, why) == -1)
				goto fail;
			break;
		case SC:
			*why = *p == '\n' ? "unexpected newline in string" :
			    "control character in string";
			goto fail;
		default:
			if ((n = utf8_len(p, end, cls)) == 0) {
				*why = "invalid UTF-8";
				goto fail;
			}
			p += n;
			break;
		}
	}
fail:
	*pp = p;
	return -1;
}

/*
 * Would strtod() overflow to infinity on this real?  ip..ip+nint are the
 * integer digits (no leading zero unless just "0"), fp..fe the fraction
 * digits (fp NULL without a fraction), exp the exponent (clamped far out).
 * The value is 0.ddd * 10^e10 for its significant digits ddd; it
 * overflows when e10 > 309, or e10 == 309 and ddd >= dbl_overflow.  Cost:
 * O(1) unless e10 == 309, then at most 309 digit comparisons.
 */
static bool
real_overflows(const unsigned char *ip, size_t nint, const unsigned char *fp,
    const unsigned char *fe, int64_t exp)
{
	const unsigned char *s, *send;
	int64_t e10;
	size_t i;

	if (*ip != '0') {
		s = ip;
		send = ip + nint;
		e10 = (int64_t)nint;
	} else {
		if (fp == NULL)
			return false;
		for (s = fp; s < fe && *s == '0'; s++)
			continue;
		if (s == fe)
			return false;		/* zero never overflows */
		send = fe;
		e10 = -(int64_t)(s - fp);
	}
	e10 += exp;
	if (e10 != 309)
		return e10 > 309;
	for (i = 0; i < sizeof(dbl_overflow) - 1; i++) {
		if (s == send) {
			if (fp == NULL || send == fe)
				return false;	/* shorter: less than it */
			s = fp;		/* never empty */
			send = fe;
		}
		if (*s != (unsigned char)dbl_overflow[i])
			return *s > (unsigned char)dbl_overflow[i];
		s++;
	}
	return true;			/* equal to it, or more digits */
}

/*
 * Scan a number starting at *pp ('-' or a digit).  0 with *pp past it and
 * *type EV_J_INTEGER or EV_J_REAL; -1 with *why and *pp at the fault.
 */
static int
scan_number(const unsigned char **pp, const unsigned char *end,
    enum ev_jtype *type, const char **why)
{
	const unsigned char *p = *pp, *start = *pp, *ip, *fp = NULL,
	    *fe = NULL;
	int64_t exp = 0;
	size_t nint;
	bool neg = false, eneg = false;

	if (*p == '-') {
		neg = true;
		p++;
	}
	ip = p;
	if (p == end || !IS_DIGIT(*p)) {
		*why = "invalid number";
		goto fail;
	}
	if (*p == '0') {
		p++;
		if (p < end && IS_DIGIT(*p)) {
			*why = "invalid number: leading zero";
			goto fail;
		}
	} else
		while (p < end && IS_DIGIT(*p))
			p++;
	nint = (size_t)(p - ip);

	if (p == end || (*p != '.' && (*p | 0x20) != 'e')) {
		if (nint > 19 || (nint == 19 && memcmp(ip, neg ?
		    "9223372036854775808" : "9223372036854775807", 19) > 0)) {
			*why = neg ? "too big negative integer" :
			    "too big integer";
			p = start;
			goto fail;
		}
		*type = EV_J_INTEGER;
		*pp = p;
		return 0;
	}
	if (*p == '.') {
		p++;
		fp = p;
		if (p == end || !IS_DIGIT(*p)) {
			*why = "invalid number: digit expected after '.'";
			goto fail;
		}
		while (p < end && IS_DIGIT(*p))
			p++;
		fe = p;
	}
	if (p < end && (*p | 0x20) == 'e') {
		p++;
		if (p < end && (*p == '+' || *p == '-')) {
			eneg = *p == '-';
			p++;
		}
		if (p == end || !IS_DIGIT(*p)) {
			*why = "invalid number: digit expected in exponent";
			goto fail;
		}
		for (; p < end && IS_DIGIT(*p); p++)
			if (exp < 100000000000000000LL)
				exp = exp * 10 + (*p - '0');
	}
	if (real_overflows(ip, nint, fp, fe, eneg ? -exp : exp)) {
		*why = "real number overflow";
		p = start;
		goto fail;
	}
	*type = EV_J_REAL;
	*pp = p;
	return 0;
fail:
	*pp = p;
	return -1;
}

/* true, false or null at *pp, not followed by a letter, as jansson reads. */
static int
scan_literal(const unsigned char **pp, const unsigned char *end,
    enum ev_jtype *type, const char **why)
{
	const unsigned char *p = *pp;
	size_t avail = (size_t)(end - p), n;

	if (avail >= 4 && memcmp(p, "true", 4) == 0) {
		n = 4;
		*type = EV_J_TRUE;
	} else if (avail >= 5 && memcmp(p, "false", 5) == 0) {
		n = 5;
		*type = EV_J_FALSE;
	} else if (avail >= 4 && memcmp(p, "null", 4) == 0) {
		n = 4;
		*type = EV_J_NULL;
	} else
		n = 0;
	if (n == 0 || (n < avail && IS_ALPHA(p[n]))) {
		*why = "invalid token";
		return -1;
	}
	*pp = p + n;
	return 0;
}

#define PUSH(obj) do {							\
	if (obj)							\
		stack[depth / 64] |= 1ULL << (depth % 64);		\
	else								\
		stack[depth / 64] &= ~(1ULL << (depth % 64));		\
	depth++;							\
} while (0)
#define TOP_IS_OBJ()	\
	((stack[(depth - 1) / 64] >> ((depth - 1) % 64)) & 1)

/*
 * The scanner behind ev_json_check and ev_json_scan_object.  With m not
 * NULL the top value must be an object and its members are recorded in
 * m[0..maxm) (all of them counted in *nm).  Returns 0 or -1 with err.
 * The control flow is a state machine over three labels (value, key,
 * after) with the open containers in a bitset, so nesting costs no stack.
 */
static int
jscan(const char *buf, size_t len, enum ev_jtype *type,
    struct ev_jmember *m, size_t maxm, size_t *nm, size_t maxnest,
    struct ev_err *err)
{
	uint64_t stack[EV_JSON_MAX_DEPTH / 64];
	const unsigned char *base = (const unsigned char *)buf;
	const unsigned char *p = base, *end = base + len, *vstart = NULL;
	const unsigned char *kstart;
	const char *why;
	enum ev_jtype vt = EV_J_NULL;
	size_t depth = 0, nmem = 0, nobj = 0;
	bool vesc = false, kesc;

	p = skip_ws(p, end);
	if (p == end) {
		why = len == 0 ? "empty input" : "no value";
		goto fail;
	}
	if (m != NULL && *p != '{') {
		why = "object expected";
		goto fail;
	}
value:
	/* p < end, at the first byte of a value. */
	if (depth >= EV_JSON_MAX_DEPTH) {
		why = "maximum nesting depth reached";
		goto fail;
	}
	if (depth == 1)
		vstart = p;
	vesc = false;
	switch (*p) {
	case '{':
		PUSH(1);
		if (depth + nobj > maxnest)
			goto toodeep;
		nobj++;
		p = skip_ws(p + 1, end);
		if (p == end) {
			why = "premature end of input";
			goto fail;
		}
		if (*p != '}')
			goto key;
		p++;
		depth--;
		nobj--;
		vt = EV_J_OBJECT;
		goto after;
	case '[':
		PUSH(0);
		if (depth + nobj > maxnest)
			goto toodeep;
		p = skip_ws(p + 1, end);
		if (p == end) {
			why = "premature end of input";
			goto fail;
		}
		if (*p != ']')
			goto value;
		p++;
		depth--;
		vt = EV_J_ARRAY;
		goto after;
	case '"':
		p++;
		if (scan_string(&p, end, &vesc, &why) == -1)
			goto fail;
		vt = EV_J_STRING;
		goto after;
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		if (scan_number(&p, end, &vt, &why) == -1)
			goto fail;
		goto after;
	case 't':
	case 'f':
	case 'n':
		if (scan_literal(&p, end, &vt, &why) == -1)
			goto fail;
		goto after;
	default:
		why = "invalid token";
		goto fail;
	}

key:
	/* p < end, where a key must start. */
	if (*p != '"') {
		why = "string or '}' expected";
		goto fail;
	}
	kstart = ++p;
	if (scan_string(&p, end, &kesc, &why) == -1)
		goto fail;
	if (depth == 1 && m != NULL) {
		if (nmem < maxm) {
			m[nmem].key = (const char *)kstart;
			m[nmem].keylen = (size_t)(p - 1 - kstart);
			m[nmem].key_escaped = kesc;
		}
		nmem++;
	}
	p = skip_ws(p, end);
	if (p == end || *p != ':') {
		why = "':' expected";
		goto fail;
	}
	p = skip_ws(p + 1, end);
	if (p == end) {
		why = "premature end of input";
		goto fail;
	}
	goto value;

after:
	/* Just past a complete value of type vt. */
	if (depth == 0)
		goto done;
	if (depth == 1 && m != NULL && nmem <= maxm) {
		m[nmem - 1].val = (const char *)vstart;
		m[nmem - 1].vallen = (size_t)(p - vstart);
		m[nmem - 1].type = vt;
		m[nmem - 1].val_escaped = vesc;
	}
	p = skip_ws(p, end);
	if (p == end) {
		why = "premature end of input";
		goto fail;
	}
	if (TOP_IS_OBJ()) {
		if (*p == ',') {
			p = skip_ws(p + 1, end);
			if (p == end) {
				why = "premature end of input";
				goto fail;
			}
			goto key;
		}
		if (*p != '}') {
			why = "',' or '}' expected";
			goto fail;
		}
		nobj--;
		vt = EV_J_OBJECT;
	} else {
		if (*p == ',') {
			p = skip_ws(p + 1, end);
			if (p == end) {
				why = "premature end of input";
				goto fail;
			}
			goto value;
		}
		if (*p != ']') {
			why = "',' or ']' expected";
			goto fail;
		}
		vt = EV_J_ARRAY;
	}
	p++;
	depth--;
	vesc = false;
	goto after;

done:
	p = skip_ws(p, end);
	if (p != end) {
		why = "end of input expected";
		goto fail;
	}
	if (type != NULL)
		*type = vt;
	if (m != NULL) {
		*nm = nmem < maxm ? nmem : maxm;
		if (nmem > maxm)
			return ev_err_set(err, EV_ERR_LIMIT,
			    "more than %zu fields", maxm);
	}
	return 0;

toodeep:
	if (nm != NULL)
		*nm = 0;
	return ev_err_set(err, EV_ERR_LIMIT, "nested deeper than %zu levels "
	    "(at byte %zu)", maxnest, (size_t)(p - base) + 1);

fail:
	if (nm != NULL)
		*nm = 0;
	return ev_err_set(err, EV_ERR_DATA, "invalid JSON at byte %zu: %s",
	    (size_t)(p - base) + 1, why);
}

int
ev_json_check(const char *buf, size_t len, enum ev_jtype *type,
    struct ev_err *err)
{
	return jscan(buf, len, type, NULL, 0, NULL, SIZE_MAX, err);
}

int
ev_json_scan_object(const char *buf, size_t len, struct ev_jmember *m,
    size_t maxm, size_t *nm, struct ev_err *err)
{
	return ev_json_scan_nested(buf, len, m, maxm, nm, SIZE_MAX, err);
}

int
ev_json_scan_nested(const char *buf, size_t len, struct ev_jmember *m,
    size_t maxm, size_t *nm, size_t maxnest, struct ev_err *err)
{
	static struct ev_jmember none;

	/* m must not be NULL inside: it selects the object mode. */
	return jscan(buf, len, NULL, m != NULL ? m : &none, m != NULL ?
	    maxm : 0, nm, maxnest, err);
}

static size_t
utf8_put(unsigned char *d, unsigned long cp)
{
	if (cp < 0x80) {
		d[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (unsigned char)(0xc0 | cp >> 6);
		d[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (unsigned char)(0xe0 | cp >> 12);
		d[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (unsigned char)(0xf0 | cp >> 18);
	d[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	d[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	d[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

int
ev_json_unescape(const char *raw, size_t rawlen, struct ev_buf *out)
{
	const unsigned char *p = (const unsigned char *)raw, *end = p + rawlen;
	const unsigned char *q;
	unsigned char *d;
	long u, u2;

	/* Every escape decodes to fewer bytes than it takes. */
	if (ev_buf_reserve(out, rawlen) == -1)
		return -1;
	d = (unsigned char *)out->data + out->len;
	while (p < end) {
		if ((q = memchr(p, '\\', (size_t)(end - p))) == NULL)
			q = end;
		memcpy(d, p, (size_t)(q - p));
		d += q - p;
		p = q;
		if (p == end)
			break;
		if (end - p < 2) {
			*d++ = *p++;
			break;
		}
		switch (p[1]) {
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'u':
			if (end - p < 6 || (u = ev_json_hex4(p + 2)) < 0) {
				*d++ = p[1];
				break;
			}
			p += 4;
			if (u >= 0xd800 && u <= 0xdbff && end - p >= 8 &&
			    p[2] == '\\' && p[3] == 'u' &&
			    (u2 = ev_json_hex4(p + 4)) >= 0xdc00 && u2 <= 0xdfff) {
				u = 0x10000 + ((u - 0xd800) << 10) +
				    (u2 - 0xdc00);
				p += 6;
			}
			d += utf8_put(d, (unsigned long)u);
			break;
		default:		/* '"', '\\', '/' */
			*d++ = p[1];
			break;
		}
		p += 2;
	}
	out->len = (size_t)((char *)d - out->data);
	out->data[out->len] = '\0';
	return 0;
}

/* What a byte below 0x20, '"' or '\\' becomes; "" for \u00XX. */
static const char *
esc_short(unsigned char c)
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\b':
		return "\\b";
	case '\f':
		return "\\f";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		return "";
	}
}

int
ev_json_put_string(struct ev_buf *out, const char *s, size_t len,
    struct ev_err *err)
{
	static const char hexd[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	const unsigned char *run;
	unsigned char *d;
	size_t need = len + 2, n;
	int cls;

	/* Pass 1: validate and size. */
	while (p < end) {
		if ((p = skip_plain(p, end)) == end)
			break;
		switch ((cls = scls[*p])) {
		case SQ:
		case SB:
			need += 1;
			p++;
			break;
		case SC:
			if (*p == '\0')
				return ev_err_set(err, EV_ERR_DATA,
				    "string contains a NUL byte at byte %zu",
				    (size_t)(p - (const unsigned char *)s) + 1);
			need += *esc_short(*p) != '\0' ? 1 : 5;
			p++;
			break;
		default:
			if ((n = utf8_len(p, end, cls)) == 0)
				return ev_err_set(err, EV_ERR_DATA,
				    "string is not valid UTF-8 at byte %zu",
				    (size_t)(p - (const unsigned char *)s) + 1);
			p += n;
			break;
		}
	}
	if (ev_buf_reserve(out, need) == -1)
		return ev_err_sys(err, "JSON string");

	/* Pass 2: copy runs, escape the rest. */
	d = (unsigned char *)out->data + out->len;
	*d++ = '"';
	for (p = run = (const unsigned char *)s; p < end; p++) {
		const char *e;

		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		memcpy(d, run, (size_t)(p - run));
		d += p - run;
		run = p + 1;
		e = esc_short(*p);
		if (*e != '\0') {
			*d++ = (unsigned char)e[0];
			*d++ = (unsigned char)e[1];
		} else {
			memcpy(d, "\\u00", 4);
			d[4] = (unsigned char)hexd[*p >> 4];
			d[5] = (unsigned char)hexd[*p & 0xf];
			d += 6;
		}
	}
	memcpy(d, run, (size_t)(end - run));
	d += end - run;
	*d++ = '"';
	out->len = (size_t)((char *)d - out->data);
	out->data[out->len] = '\0';
	return 0;
}

int
ev_json_int(const char *raw, size_t len, int64_t *v)
{
	const unsigned char *p = (const unsigned char *)raw, *end = p + len;
	uint64_t acc = 0, lim;
	bool neg = false;

	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p == end || !IS_DIGIT(*p) || (*p == '0' && end - p > 1)) {
		errno = EINVAL;
		return -1;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < end; p++) {
		if (!IS_DIGIT(*p)) {
			errno = EINVAL;
			return -1;
		}
		if (acc > (lim - (uint64_t)(*p - '0')) / 10) {
			errno = ERANGE;
			return -1;
		}
		acc = acc * 10 + (uint64_t)(*p - '0');
	}
	if (neg)
		*v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		*v = (int64_t)acc;
	return 0;
}

const char *
ev_json_typename(enum ev_jtype t)
{
	switch (t) {
	case EV_J_OBJECT:
		return "object";
	case EV_J_ARRAY:
		return "array";
	case EV_J_STRING:
		return "string";
	case EV_J_INTEGER:
		return "integer";
	case EV_J_REAL:
		return "real";
	case EV_J_TRUE:
		return "true";
	case EV_J_FALSE:
		return "false";
	case EV_J_NULL:
		return "null";
	}
	return "?";
}
