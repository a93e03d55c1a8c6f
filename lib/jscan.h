/*
 * jscan.h: the hot-path JSON validator, internal to libevbus.
 *
 * A validate-only scanner: one pass over the bytes, no tree, no allocation,
 * no recursion.  It accepts exactly the texts jansson 2.14's json_loadb()
 * accepts (test/fuzz/fuzz_jscan.c checks this differentially), with one
 * deliberate exception: jansson silently skips a single NUL byte that
 * directly follows a number or true/false/null (its stream "unget" of a
 * NUL re-reads the next byte instead), e.g. "[1\0]"; any other NUL is an
 * error to jansson too.  jscan rejects every NUL byte, so that the bytes it
 * accepts are always safe to forward as one NDJSON line.
 *
 * What jansson accepts, and so jscan:
 *   - exactly one value, with only space, tab, newline and carriage return
 *     around it; nothing else after it; empty input is an error;
 *   - the whole text valid UTF-8 (no overlong forms, no encoded surrogates,
 *     nothing above U+10FFFF, no stray continuation bytes);
 *   - strings without raw control characters (< 0x20), with the escapes
 *     \" \\ \/ \b \f \n \r \t \uXXXX (hex digits in either case); a \u
 *     high surrogate must be followed at once by a \u low surrogate, a lone
 *     low surrogate is an error, and \u0000 is an error (in keys too);
 *   - numbers -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; integers (no
 *     fraction, no exponent) must fit in json_int_t (long long, 64
 *     bits); reals must not round to infinity (underflow to zero or a
 *     subnormal is accepted), whatever the locale;
 *   - literals true, false, null (lower case, not followed by a letter);
 *   - at most JSON_PARSER_MAX_DEPTH (2048) nested values, counting the
 *     scalar at the bottom: 2048 nested empty arrays pass, 2048 arrays
 *     around a 1 do not;
 *   - duplicate keys (jansson keeps the last; jscan reports every one).
 */
#ifndef JSCAN_H
#define JSCAN_H

#include "evbus.h"

/* ev_json_check, ev_json_put_string and enum ev_jtype are in evbus.h. */

#define EV_JSON_MAX_DEPTH 2048	/* jansson's JSON_PARSER_MAX_DEPTH */


/*
 * One top-level member of an object, as spans into the scanned buffer:
 * key[0..keylen) are the raw bytes between the key's quotes (escapes not
 * decoded), val[0..vallen) the raw bytes of the value (a string's with its
 * quotes).  The *_escaped flags tell whether a backslash is in there, that
 * is whether ev_json_unescape is needed to get the text.
 */
struct ev_jmember {
	const char	*key;
	size_t		 keylen;
	bool		 key_escaped;
	const char	*val;
	size_t		 vallen;
	enum ev_jtype	 type;
	bool		 val_escaped;	/* strings only */
};


/*
 * Validate buf[0..len) as one JSON object (what json_loadb(buf, len, 0, &e)
 * accepts, with the top value an object) and report its top-level members
 * in order in m[0..*nm).  Every member is reported, duplicates included.
 * Returns 0, or -1 with err: EV_ERR_DATA when the text is not a valid JSON
 * object, EV_ERR_LIMIT ("more than N fields") when it is valid but has more
 * than maxm members; then m holds the first maxm and *nm is maxm.  The
 * spans point into buf, which must outlive them.  On EV_ERR_DATA *nm is 0.
 * nm must not be NULL; m may be NULL only when maxm is 0.
 * Cost: that of ev_json_check plus a store per top-level member; about
 * 100 ns for a typical 170-byte event, 20-40 times less than json_loadb.
 */
int	ev_json_scan_object(const char *buf, size_t len,
	    struct ev_jmember *m, size_t maxm, size_t *nm, struct ev_err *err);
/*
 * The same, refusing nesting deeper than maxnest levels with EV_ERR_LIMIT
 * ("nested deeper than N levels (at byte B)").  Levels are counted as jq
 * 1.6's parser counts its stack when it opens a container (its limit is
 * 256): an array or object is one level deeper than the container it is
 * in, two when that container is an object (jq holds the member's key) --
 * so {"a":[1]} is three levels deep, {"a":1} one and [[]] two.  Then jq
 * can parse every text accepted with maxnest 256.
 */
int	ev_json_scan_nested(const char *buf, size_t len,
	    struct ev_jmember *m, size_t maxm, size_t *nm, size_t maxnest,
	    struct ev_err *err);

/*
 * Decode a string's raw content (the bytes between its quotes, already
 * validated by ev_json_check or ev_json_scan_object) and append the UTF-8
 * result to out, which keeps its trailing NUL.  Returns 0, or -1 with errno
 * ENOMEM (out unchanged).  Cost: one pass; out grows by at most rawlen.
 * On unvalidated input the result is unspecified but memory-safe.
 */
int	ev_json_unescape(const char *raw, size_t rawlen, struct ev_buf *out);
/* The value of the 4 hex digits at p (of a \u escape), or -1. */
long	ev_json_hex4(const unsigned char *p);


/*
 * Convert an integer's raw text (as reported for EV_J_INTEGER) to *v.
 * Returns 0, or -1 with errno EINVAL if raw is not -?(0|[1-9][0-9]*) or
 * ERANGE if it does not fit in int64_t.  Cost: O(len).
 */
int	ev_json_int(const char *raw, size_t len, int64_t *v);

/* The name of a type, "object" ... "null", for messages. */
const char *ev_json_typename(enum ev_jtype);

#endif /* JSCAN_H */
