/*
 * event.c: the event model: names, checks, and the bytes the bus sends.
 *
 * Events are checked and rewritten without building a tree: the scanner
 * (jscan.c) validates the text and reports the spans of its top-level
 * fields; the known fields are checked from those spans, and the output is
 * the spans copied, with id and time added and the bus's own fields set.
 * Unknown fields pass through byte for byte.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evbus.h"
#include "jscan.h"

#define EV_FIELDS_MAX	256	/* top-level fields in one event */

enum field {
	F_OTHER, F_NAME, F_PAYLOAD, F_ID, F_TIME, F_ERROR, F_METADATA,
	F_FILTER, F_SEQ, F_ORIGIN, F_TIMESTAMP
};

static const struct {
	const char	*key;
	enum field	 f;
} fields[] = {
	{ "name", F_NAME }, { "payload", F_PAYLOAD }, { "id", F_ID },
	{ "time", F_TIME }, { "error", F_ERROR }, { "metadata", F_METADATA },
	{ "filter", F_FILTER }, { "seq", F_SEQ }, { "origin", F_ORIGIN },
	{ "timestamp", F_TIMESTAMP },
};

/* The fields of one event, as found by event_scan(). */
struct scan {
	struct ev_jmember m[EV_FIELDS_MAX];
	enum field	  f[EV_FIELDS_MAX];
	size_t		  n;
	bool		  has_time;
	bool		  has_payload;
	int64_t		  timestamp;	/* Beer Garden's field, or -1 */
	bool		  id_in_head;	/* the id was written before the fields */
	size_t		  id_member;	/* which member is the id, if hadid */
};

/*
 * The length of the UTF-8 sequence at s[0..len) when it is a well-formed
 * one, with its code point in *cp; 0 when it is not (overlong, surrogate,
 * above U+10FFFF, truncated, a stray continuation byte).
 */
static size_t
utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * Is cp whitespace or a control character by Unicode's account?  The
 * White_Space property (space, tab..CR, U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) and the C0 and
 * C1 controls with DEL; a name shows in logs and shells, where these would
 * hide or split it.
 */
static bool
unicode_space(uint32_t cp)
{
	return cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	    cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

int
ev_name_check(const char *s, size_t len, struct ev_err *err)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, n, tok = 0;
	uint32_t cp;

	if (len == 0)
		return ev_err_set(err, EV_ERR_DATA, "name: empty");
	if (len > EV_NAME_MAX)
		return ev_err_set(err, EV_ERR_DATA,
		    "name: %zu bytes, longer than %d", len, EV_NAME_MAX);
	for (i = 0; i < len; i += n) {
		if ((n = utf8_next(u + i, len - i, &cp)) == 0)
			return ev_err_set(err, EV_ERR_DATA,
			    "name: not valid UTF-8 (byte %zu)", i + 1);
		if (cp == '.') {
			if (tok == 0)
				return ev_err_set(err, EV_ERR_DATA,
				    "name '%.*s': empty token", (int)len, s);
			tok = 0;
			continue;
		}
		if (cp == '*' || cp == '#')
			return ev_err_set(err, EV_ERR_DATA,
			    "name '%.*s': contains '%c'", (int)len, s, (int)cp);
		if (unicode_space(cp))
			return ev_err_set(err, EV_ERR_DATA,
			    "name: contains whitespace or a control character "
			    "(U+%04X at byte %zu)", (unsigned)cp, i + 1);
		tok++;
	}
	if (tok == 0)
		return ev_err_set(err, EV_ERR_DATA,
		    "name '%.*s': empty token", (int)len, s);
	return 0;
}

void
ev_text_sanitize(char *s)
{
	unsigned char *u = (unsigned char *)s;
	size_t len = strlen(s), i, n;
	uint32_t cp;

	for (i = 0; i < len; i += n) {
		n = utf8_next(u + i, len - i, &cp);
		if (n == 0) {
			u[i] = '?';
			n = 1;
		} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			memset(u + i, '?', n);
	}
}

bool
ev_name_reserved(const char *s, size_t len)
{
	return len >= 5 && memcmp(s, "evbus", 5) == 0 &&
	    (len == 5 || s[5] == '.');
}

/*
 * The text of a string member's value (or key, when key is set) into
 * out[0..outlen), decoded; -1 when it does not fit.  Escaped text is rare
 * in names and ids; it costs a small allocation.
 */
static int
member_text(const struct ev_jmember *m, bool key, char *out, size_t outlen,
    size_t *len)
{
	struct ev_buf b = { 0 };
	const char *raw = key ? m->key : m->val + 1;
	size_t rawlen = key ? m->keylen : m->vallen - 2;
	bool esc = key ? m->key_escaped : m->val_escaped;

	if (!esc) {
		if (rawlen >= outlen)
			return -1;
		memcpy(out, raw, rawlen);
		out[rawlen] = '\0';
		*len = rawlen;
		return 0;
	}
	if (ev_json_unescape(raw, rawlen, &b) == -1 || b.len >= outlen ||
	    memchr(b.data, '\0', b.len) != NULL) {
		ev_buf_free(&b);
		return -1;
	}
	memcpy(out, b.data, b.len + 1);
	*len = b.len;
	ev_buf_free(&b);
	return 0;
}

static enum field
member_field(const struct ev_jmember *m)
{
	char key[16];
	size_t i, len;

	if (m->keylen == 0 || m->keylen > 48 ||
	    member_text(m, true, key, sizeof(key), &len) == -1)
		return F_OTHER;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].key) == len &&
		    memcmp(fields[i].key, key, len) == 0)
			return fields[i].f;
	return F_OTHER;
}

/*
 * filter: an object of node, service and tag, each a string (a regular
 * expression), decoded into info->target.
 */
static int
check_filter(const struct ev_jmember *fm, struct ev_evinfo *info,
    struct ev_err *err)
{
	static const char *const kinds[EV_TARGET_KINDS] = {
		"node", "service", "tag"
	};
	struct ev_jmember m[8];
	char key[16];
	size_t n, i, len;
	int k;

	if (fm->type != EV_J_OBJECT)
		return ev_err_set(err, EV_ERR_DATA, "filter: not an object");
	if (ev_json_scan_object(fm->val, fm->vallen, m, 8, &n, NULL) == -1)
		return ev_err_set(err, EV_ERR_DATA,
		    "filter: only node, service and tag");
	for (i = 0; i < n; i++) {
		if (member_text(&m[i], true, key, sizeof(key), &len) == -1 ||
		    (strcmp(key, "node") != 0 && strcmp(key, "service") != 0 &&
		    strcmp(key, "tag") != 0))
			return ev_err_set(err, EV_ERR_DATA,
			    "filter: unknown key '%.*s' (node, service or tag)",
			    (int)(m[i].keylen > 32 ? 32 : m[i].keylen),
			    m[i].key);
		if (m[i].type != EV_J_STRING)
			return ev_err_set(err, EV_ERR_DATA,
			    "filter.%s: not a string", key);
		for (k = 0; strcmp(key, kinds[k]) != 0; k++)
			;
		if (info->targeted[k])
			return ev_err_set(err, EV_ERR_DATA,
			    "filter.%s: given twice", key);
		if (member_text(&m[i], false, info->target[k],
		    sizeof(info->target[k]), &len) == -1)
			return ev_err_set(err, EV_ERR_DATA, "filter.%s: "
			    "longer than %d bytes", key, EV_TARGET_MAX);
		info->targeted[k] = true;
	}
	return 0;
}

/*
 * Validate an event's text and check its known fields, noting name, id and
 * time in info.  Names under "evbus." are refused with EV_ERR_DENIED
 * unless internal is set (the bus's own events); more than maxnest nested
 * containers (0: jansson's limit) with EV_ERR_LIMIT.
 * Cost: one scan of the text; known fields are looked at once more.
 */
static int
event_scan(const char *buf, size_t len, size_t maxnest, bool internal,
    struct scan *s, struct ev_evinfo *info, struct ev_err *err)
{
	const struct ev_jmember *m;
	enum ev_jtype type;
	bool seen[F_TIMESTAMP + 1] = { false };
	size_t i, k;
	int64_t t;

	memset(info, 0, sizeof(*info));
	s->has_time = false;
	s->has_payload = false;
	s->timestamp = -1;
	s->id_in_head = false;
	if (ev_json_scan_nested(buf, len, s->m, EV_FIELDS_MAX, &s->n,
	    maxnest > 0 ? maxnest : SIZE_MAX, err) == -1) {
		if (err != NULL && err->kind == EV_ERR_DATA &&
		    ev_json_check(buf, len, &type, NULL) == 0)
			ev_err_set(err, EV_ERR_DATA, "not a JSON object "
			    "(%s %s)", type == EV_J_ARRAY || type == EV_J_INTEGER
			    ? "an" : "a", ev_json_typename(type));
		return -1;
	}
	for (i = 0; i < s->n; i++) {
		m = &s->m[i];
		s->f[i] = member_field(m);
		if (s->f[i] == F_OTHER)
			continue;
		if (seen[s->f[i]])
			return ev_err_set(err, EV_ERR_DATA,
			    "%.*s: given twice", (int)m->keylen, m->key);
		seen[s->f[i]] = true;
		switch (s->f[i]) {
		case F_NAME:
			if (m->type != EV_J_STRING)
				return ev_err_set(err, EV_ERR_DATA,
				    "name: not a string");
			if (member_text(m, false, info->name,
			    sizeof(info->name), &info->namelen) == -1)
				return ev_err_set(err, EV_ERR_DATA, "name: "
				    "longer than %d bytes", EV_NAME_MAX);
			if (ev_name_check(info->name, info->namelen,
			    err) == -1)
				return -1;
			if (!internal &&
			    ev_name_reserved(info->name, info->namelen))
				return ev_err_set(err, EV_ERR_DENIED,
				    "name '%s': names under evbus. are the "
				    "bus's own", info->name);
			break;
		case F_ID:
			if (m->type != EV_J_STRING)
				return ev_err_set(err, EV_ERR_DATA,
				    "id: not a string");
			if (member_text(m, false, info->id, sizeof(info->id),
			    &k) == -1 || k == 0)
				return ev_err_set(err, EV_ERR_DATA,
				    "id: must be 1 to %d bytes", EV_ID_MAX);
			while (k-- > 0)
				if ((unsigned char)info->id[k] < ' ' ||
				    info->id[k] == 0x7f)
					return ev_err_set(err, EV_ERR_DATA,
					    "id: contains a control "
					    "character");
			info->hadid = true;
			s->id_member = i;
			break;
		case F_TIME:
			if (m->type != EV_J_INTEGER ||
			    ev_json_int(m->val, m->vallen, &t) == -1 || t < 0)
				return ev_err_set(err, EV_ERR_DATA,
				    "time: not a non-negative integer "
				    "(milliseconds since the epoch)");
			info->time = t;
			s->has_time = true;
			break;
		case F_ERROR:
			/* Beer Garden's producers say null for false. */
			if (m->type != EV_J_TRUE && m->type != EV_J_FALSE &&
			    m->type != EV_J_NULL)
				return ev_err_set(err, EV_ERR_DATA,
				    "error: not true, false or null");
			break;
		case F_PAYLOAD:
			s->has_payload = true;
			break;
		case F_TIMESTAMP:
			/* Epoch ms: the time when "time" is absent. */
			if (m->type == EV_J_INTEGER &&
			    ev_json_int(m->val, m->vallen, &t) == 0 && t >= 0)
				s->timestamp = t;
			break;
		case F_METADATA:
			if (m->type != EV_J_OBJECT)
				return ev_err_set(err, EV_ERR_DATA,
				    "metadata: not an object");
			break;
		case F_FILTER:
			if (check_filter(m, info, err) == -1)
				return -1;
			break;
		default:
			break;
		}
	}
	if (!seen[F_NAME])
		return ev_err_set(err, EV_ERR_DATA, "name: missing");
	return 0;
}

/*
 * The end of a filled event: a null payload when it had none, the time
 * when it had none (Beer Garden's timestamp, else now_ms), and the closing
 * brace.  comma: something was written before.
 */
static int
emit_fill(struct ev_buf *out, bool comma, const struct scan *s,
    int64_t now_ms, struct ev_evinfo *info)
{
	if (!s->has_payload) {
		if ((comma && ev_buf_putc(out, ',') == -1) ||
		    ev_buf_append(out, "\"payload\":null", 14) == -1)
			return -1;
		comma = true;
	}
	if (!s->has_time) {
		info->time = s->timestamp >= 0 ? s->timestamp : now_ms;
		if ((comma && ev_buf_putc(out, ',') == -1) ||
		    ev_buf_append(out, "\"time\":", 7) == -1 ||
		    ev_buf_putu(out, (uint64_t)info->time) == -1)
			return -1;
	}
	return ev_buf_putc(out, '}');
}

/* A filter's expressions must compile: the producer hears it at once. */
static int
check_target(const struct ev_evinfo *info, struct ev_err *err)
{
	struct ev_target *t;

	if (!ev_event_targeted(info))
		return 0;
	if (ev_target_compile(info, &t, err) == -1)
		return -1;
	ev_target_free(t);
	return 0;
}

/*
 * Append the event's fields but seq and origin, each preceded by a comma
 * when comma is set (the first one too), then id and time when they are
 * absent and fill is set, and the closing brace.
 */
static int
event_emit(struct ev_buf *out, const struct scan *s, bool comma, bool fill,
    int64_t now_ms, struct ev_evinfo *info)
{
	const struct ev_jmember *m;
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->f[i] == F_SEQ || s->f[i] == F_ORIGIN ||
		    (s->f[i] == F_ID && s->id_in_head))
			continue;
		m = &s->m[i];
		if ((comma && ev_buf_putc(out, ',') == -1) ||
		    ev_buf_putc(out, '"') == -1 ||
		    ev_buf_append(out, m->key, m->keylen) == -1 ||
		    ev_buf_append(out, "\":", 2) == -1 ||
		    ev_buf_append(out, m->val, m->vallen) == -1)
			return -1;
		comma = true;
	}
	if (fill && !info->hadid && !s->id_in_head) {
		ev_uuid4(info->id);
		if ((comma && ev_buf_putc(out, ',') == -1) ||
		    ev_buf_append(out, "\"id\":\"", 6) == -1 ||
		    ev_buf_append(out, info->id, EV_UUID_LEN) == -1 ||
		    ev_buf_putc(out, '"') == -1)
			return -1;
		comma = true;
	}
	return fill ? emit_fill(out, comma, s, now_ms, info) :
	    ev_buf_putc(out, '}');
}

/*
 * Inside a valid JSON text, a raw newline or carriage return can only be
 * whitespace (strings cannot hold them raw), so a space does as well and
 * keeps the event on one line.
 */
static void
event_oneline(struct ev_buf *out, size_t from)
{
	char *p = ev_buf_head(out) + from, *end = out->data + out->len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL)
		*p++ = ' ';
	p = ev_buf_head(out) + from;
	while ((p = memchr(p, '\r', (size_t)(end - p))) != NULL)
		*p++ = ' ';
}

/*
 * The spans of the event being checked: 13 KiB, too much for a small
 * stack and too often needed to allocate, so one per thread.
 */
static _Thread_local struct scan scan;

int
ev_event_prepare(const char *buf, size_t len, const struct ev_prepare *prep,
    struct ev_buf *out, struct ev_evinfo *info, struct ev_err *err)
{
	size_t mark = ev_buf_unread(out);

	if (event_scan(buf, len, prep->maxdepth, false, &scan, info,
	    err) == -1)
		return -1;
	if (check_target(info, err) == -1)
		return -1;
	if (ev_buf_putc(out, '{') == -1 || event_emit(out, &scan, false,
	    prep->fill, prep->now_ms, info) == -1) {
		ev_buf_truncate(out, mark);
		return ev_err_sys(err, "event");
	}
	event_oneline(out, mark);
	return 0;
}

int
ev_event_stamp(const char *buf, size_t len, const struct ev_stamp *st,
    struct ev_buf *out, struct ev_evinfo *info, struct ev_err *err)
{
	const struct ev_origin *o = st->origin;
	const struct ev_jmember *m;
	size_t mark = ev_buf_unread(out);

	if (len > st->maxlen)
		return ev_err_set(err, EV_ERR_LIMIT,
		    "event of %zu bytes exceeds the limit of %zu", len,
		    st->maxlen);
	if (event_scan(buf, len, st->maxdepth, st->internal, &scan, info,
	    err) == -1)
		return -1;
	if (!info->hadid)
		ev_uuid4(info->id);
	if (ev_buf_append(out, "{\"seq\":", 7) == -1 ||
	    ev_buf_putu(out, st->seq) == -1 ||
	    ev_buf_append(out, ",\"id\":", 6) == -1)
		goto nomem;
	if (info->hadid) {
		/* The producer's id, byte for byte (escapes and all). */
		m = &scan.m[scan.id_member];
		if (ev_buf_append(out, m->val, m->vallen) == -1)
			goto nomem;
	} else if (ev_buf_putc(out, '"') == -1 ||
	    ev_buf_append(out, info->id, EV_UUID_LEN) == -1 ||
	    ev_buf_putc(out, '"') == -1)
		goto nomem;
	scan.id_in_head = true;
	if (ev_buf_append(out, ",\"origin\":{\"uid\":", 17) == -1 ||
	    ev_buf_putu(out, o->uid) == -1 ||
	    ev_buf_append(out, ",\"gid\":", 7) == -1 ||
	    ev_buf_putu(out, o->gid) == -1 ||
	    ev_buf_append(out, ",\"pid\":", 7) == -1 ||
	    ev_buf_putu(out, (uint64_t)(o->pid > 0 ? o->pid : 0)) == -1 ||
	    ev_buf_putc(out, '}') == -1 ||
	    event_emit(out, &scan, true, true, st->now_ms, info) == -1)
		goto nomem;
	event_oneline(out, mark);
	return 0;
nomem:
	ev_buf_truncate(out, mark);
	return ev_err_sys(err, "event");
}

int
ev_event_internal(struct ev_buf *out, uint64_t seq, const struct ev_origin *o,
    const char *name, int64_t now_ms, const char *payload)
{
	char id[EV_UUID_LEN + 1];
	int r;

	ev_uuid4(id);
	if (seq > 0)
		r = ev_buf_printf(out, "{\"seq\":%" PRIu64 ",", seq);
	else
		r = ev_buf_putc(out, '{');
	if (r == -1)
		return -1;
	return ev_buf_printf(out, "\"id\":\"%s\",\"origin\":{\"uid\":%lu,"
	    "\"gid\":%lu,\"pid\":%ld},\"name\":\"%s\",\"time\":%" PRId64
	    ",\"payload\":%s}", id, (unsigned long)o->uid,
	    (unsigned long)o->gid, (long)o->pid, name, now_ms,
	    payload ? payload : "null");
}

int
ev_event_head(const char *p, size_t len, uint64_t *seq, const char **id,
    size_t *idlen)
{
	size_t i = 1, start;
	uint64_t v = 0;

	*seq = 0;
	if (len < 2 || p[0] != '{')
		return -1;
	if (len - i >= 7 && memcmp(p + i, "\"seq\":", 6) == 0) {
		i += 6;
		if (i >= len || p[i] < '0' || p[i] > '9')
			return -1;
		for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
			if (v > (UINT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (uint64_t)(p[i] - '0');
		}
		if (i >= len || p[i] != ',')
			return -1;
		i++;
	}
	if (len - i < 7 || memcmp(p + i, "\"id\":\"", 6) != 0)
		return -1;
	start = i += 6;
	for (;;) {
		const char *q = memchr(p + i, '"', len - i);
		size_t k;

		if (q == NULL)
			return -1;
		i = (size_t)(q - p);
		for (k = i; k > start && p[k - 1] == '\\'; k--)
			;
		if ((i - k) % 2 == 0)
			break;
		i++;
	}
	*seq = v;
	*id = p + start;
	*idlen = i - start;
	return 0;
}

bool
ev_event_targeted(const struct ev_evinfo *info)
{
	return info->targeted[EV_TARGET_NODE] ||
	    info->targeted[EV_TARGET_SERVICE] || info->targeted[EV_TARGET_TAG];
}

uint64_t
ev_event_seq(const char *p, size_t len)
{
	uint64_t v = 0;
	size_t i;

	if (len < 9 || memcmp(p, "{\"seq\":", 7) != 0)
		return 0;
	for (i = 7; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	return v;
}

/*
 * evfire's side: building an event from a name and a payload, and editing
 * an event on its own bytes.  The edits are applied as the scanned spans
 * are copied, so that every value not edited passes byte for byte and an
 * edited event is refused for exactly what ev_event_prepare refuses.
 */

int
ev_event_build(struct ev_buf *out, const char *name, size_t namelen,
    const char *payload, size_t len, enum ev_payload_mode mode,
    struct ev_err *err)
{
	size_t mark = ev_buf_unread(out);
	struct ev_err jerr;

	if (ev_buf_append(out, "{\"name\":", 8) == -1)
		goto nomem;
	if (ev_json_put_string(out, name, namelen, err) == -1)
		goto fail;
	if (ev_buf_append(out, ",\"payload\":", 11) == -1)
		goto nomem;
	if (payload == NULL) {
		if (ev_buf_append(out, "null", 4) == -1)
			goto nomem;
	} else if (mode != EV_PAYLOAD_STRING &&
	    ev_json_check(payload, len, NULL, &jerr) == 0) {
		if (ev_buf_append(out, payload, len) == -1)
			goto nomem;
	} else if (mode == EV_PAYLOAD_JSON) {
		ev_err_set(err, EV_ERR_DATA, "payload: %s", jerr.msg);
		goto fail;
	} else if (ev_json_put_string(out, payload, len, err) == -1) {
		if (err != NULL && err->kind == EV_ERR_DATA)
			ev_err_set(err, EV_ERR_DATA, "payload: not JSON, and "
			    "not text to make a string of (invalid UTF-8 or "
			    "a NUL byte)");
		goto fail;
	}
	if (ev_buf_putc(out, '}') == -1)
		goto nomem;
	return 0;
nomem:
	ev_err_sys(err, "event");
fail:
	ev_buf_truncate(out, mark);
	return -1;
}

/*
 * The metadata sets of an edit, with metadata.replay_of first when the
 * event's id is being replaced (its value the old id's bytes): index i of
 * this list is replay when has_replay and i is 0, else set[i - has_replay].
 */
struct medit {
	const struct ev_metaset	*set;
	size_t			 n;	/* entries, replay included */
	struct ev_metaset	 replay;
	bool			 has_replay;
	bool			*done;	/* n flags: emitted */
};

static const struct ev_metaset *
medit_get(const struct medit *me, size_t i)
{
	if (me->has_replay)
		return i == 0 ? &me->replay : &me->set[i - 1];
	return &me->set[i];
}

/* The entry whose value counts for key: the last with that key, or -1. */
static ssize_t
medit_find(const struct medit *me, const char *key, size_t keylen)
{
	const struct ev_metaset *s;
	size_t i;

	for (i = me->n; i-- > 0;) {
		s = medit_get(me, i);
		if (s->keylen == keylen && memcmp(s->key, key, keylen) == 0)
			return (ssize_t)i;
	}
	return -1;
}

/*
 * Append ,"KEY":VALUE (the comma unless first) from JSON spans.  -1 when
 * out cannot grow.
 */
static int
put_raw_member(struct ev_buf *out, bool *comma, const char *key,
    size_t keylen, const char *val, size_t vallen)
{
	if ((*comma && ev_buf_putc(out, ',') == -1) ||
	    ev_buf_putc(out, '"') == -1 ||
	    ev_buf_append(out, key, keylen) == -1 ||
	    ev_buf_append(out, "\":", 2) == -1 ||
	    ev_buf_append(out, val, vallen) == -1)
		return -1;
	*comma = true;
	return 0;
}

/* Append a set's member, its key made a JSON string. */
static int
put_set(struct ev_buf *out, bool *comma, const struct ev_metaset *s,
    struct ev_err *err)
{
	if (*comma && ev_buf_putc(out, ',') == -1)
		return ev_err_sys(err, "event");
	if (ev_json_put_string(out, s->key, s->keylen, err) == -1) {
		if (err != NULL && err->kind == EV_ERR_DATA)
			ev_err_set(err, EV_ERR_DATA, "metadata: a key is not "
			    "valid UTF-8 (or holds a NUL byte)");
		return -1;
	}
	if (ev_buf_putc(out, ':') == -1 ||
	    ev_buf_append(out, s->val, s->vallen) == -1)
		return ev_err_sys(err, "event");
	*comma = true;
	return 0;
}

/* The spans of a metadata object being merged; more are allocated. */
static _Thread_local struct ev_jmember metam[256];

/*
 * Append the metadata object: md's members (md NULL: none) with the sets
 * merged in, as ev_event_edit describes.  -1 with err.
 */
static int
meta_emit(struct ev_buf *out, const struct ev_jmember *md,
    struct medit *me, struct ev_err *err)
{
	struct ev_jmember *m = metam, *big = NULL;
	struct ev_buf kb = { 0 };
	const char *key;
	size_t n = 0, i, keylen, cap;
	ssize_t w;
	bool comma = false;
	int rv = -1;

	if (md != NULL && ev_json_scan_object(md->val, md->vallen, metam,
	    sizeof(metam) / sizeof(metam[0]), &n, NULL) == -1) {
		/* Valid, so too many members: room for every one there is. */
		cap = md->vallen / 4 + 1;
		if ((big = calloc(cap, sizeof(*big))) == NULL) {
			ev_err_sys(err, "event");
			goto out;
		}
		if (ev_json_scan_object(md->val, md->vallen, big, cap, &n,
		    err) == -1)
			goto out;
		m = big;
	}
	if (ev_buf_putc(out, '{') == -1)
		goto nomem;
	for (i = 0; i < n; i++) {
		key = m[i].key;
		keylen = m[i].keylen;
		if (m[i].key_escaped) {
			ev_buf_reset(&kb);
			if (ev_json_unescape(key, keylen, &kb) == -1)
				goto nomem;
			key = kb.data;
			keylen = kb.len;
		}
		if ((w = medit_find(me, key, keylen)) == -1) {
			if (put_raw_member(out, &comma, m[i].key,
			    m[i].keylen, m[i].val, m[i].vallen) == -1)
				goto nomem;
			continue;
		}
		if (me->done[w])
			continue;
		me->done[w] = true;
		if (put_set(out, &comma, medit_get(me, (size_t)w), err) == -1)
			goto out;
	}
	for (i = 0; i < me->n; i++) {
		key = medit_get(me, i)->key;
		w = medit_find(me, key, medit_get(me, i)->keylen);
		if (me->done[w])
			continue;
		me->done[w] = true;
		if (put_set(out, &comma, medit_get(me, (size_t)w), err) == -1)
			goto out;
	}
	if (ev_buf_putc(out, '}') == -1)
		goto nomem;
	rv = 0;
	goto out;
nomem:
	ev_err_sys(err, "event");
out:
	ev_buf_free(&kb);
	free(big);
	return rv;
}

/* An id given as text: what event_scan asks of a producer's id. */
static int
edit_id_check(const char *id, size_t len, struct ev_err *err)
{
	size_t i;

	if (len == 0 || len > EV_ID_MAX)
		return ev_err_set(err, EV_ERR_DATA, "id: must be 1 to %d bytes",
		    EV_ID_MAX);
	for (i = 0; i < len; i++)
		if ((unsigned char)id[i] < ' ' || id[i] == 0x7f)
			return ev_err_set(err, EV_ERR_DATA,
			    "id: contains a control character");
	return 0;
}

/*
 * Append the new id member (comma first unless first): ed->id as a JSON
 * string, or the UUID in info->id.
 */
static int
put_new_id(struct ev_buf *out, bool *comma, const struct ev_edit *ed,
    const struct ev_evinfo *info, struct ev_err *err)
{
	if ((*comma && ev_buf_putc(out, ',') == -1) ||
	    ev_buf_append(out, "\"id\":", 5) == -1)
		return ev_err_sys(err, "event");
	*comma = true;
	if (ed->id != NULL) {
		if (ev_json_put_string(out, ed->id, ed->idlen, err) == -1) {
			if (err != NULL && err->kind == EV_ERR_DATA)
				ev_err_set(err, EV_ERR_DATA,
				    "id: not valid UTF-8");
			return -1;
		}
		return 0;
	}
	if (ev_buf_putc(out, '"') == -1 ||
	    ev_buf_append(out, info->id, EV_UUID_LEN) == -1 ||
	    ev_buf_putc(out, '"') == -1)
		return ev_err_sys(err, "event");
	return 0;
}

/*
 * Append the edit's filter, "filter":{...} with the expressions ed->target
 * sets (comma first unless first), each checked as event_scan checks a
 * producer's (UTF-8 text of at most EV_TARGET_MAX bytes) and noted in
 * info.  -1 with err: EV_ERR_DATA naming the field, or EV_ERR_SYS; the
 * caller truncates out.  Compiling them is check_target's job.
 */
static int
put_filter(struct ev_buf *out, bool *comma, const struct ev_edit *ed,
    struct ev_evinfo *info, struct ev_err *err)
{
	static const char *const kinds[EV_TARGET_KINDS] = {
		"node", "service", "tag"
	};
	bool first = true;
	size_t len;
	int k;

	if ((*comma && ev_buf_putc(out, ',') == -1) ||
	    ev_buf_append(out, "\"filter\":{", 10) == -1)
		return ev_err_sys(err, "event");
	*comma = true;
	for (k = 0; k < EV_TARGET_KINDS; k++) {
		if (ed->target[k] == NULL)
			continue;
		if ((len = strlen(ed->target[k])) > EV_TARGET_MAX)
			return ev_err_set(err, EV_ERR_DATA, "filter.%s: "
			    "longer than %d bytes", kinds[k], EV_TARGET_MAX);
		if ((!first && ev_buf_putc(out, ',') == -1) ||
		    ev_buf_putc(out, '"') == -1 ||
		    ev_buf_append(out, kinds[k], strlen(kinds[k])) == -1 ||
		    ev_buf_append(out, "\":", 2) == -1)
			return ev_err_sys(err, "event");
		if (ev_json_put_string(out, ed->target[k], len, err) == -1) {
			if (err != NULL && err->kind == EV_ERR_DATA)
				ev_err_set(err, EV_ERR_DATA, "filter.%s: not "
				    "valid UTF-8", kinds[k]);
			return -1;
		}
		memcpy(info->target[k], ed->target[k], len + 1);
		info->targeted[k] = true;
		first = false;
	}
	if (ev_buf_putc(out, '}') == -1)
		return ev_err_sys(err, "event");
	return 0;
}

/* evroute's rename: a new name must be one a producer may fire. */
static int
edit_name_check(const char *name, size_t len, struct ev_err *err)
{
	if (ev_name_check(name, len, err) == -1)
		return -1;
	if (ev_name_reserved(name, len))
		return ev_err_set(err, EV_ERR_DENIED, "name '%.*s': names "
		    "under evbus. are the bus's own", (int)len, name);
	return 0;
}

/* Append the new name member (comma first unless first), noted in info. */
static int
put_new_name(struct ev_buf *out, bool *comma, const struct ev_edit *ed,
    struct ev_evinfo *info, struct ev_err *err)
{
	if ((*comma && ev_buf_putc(out, ',') == -1) ||
	    ev_buf_append(out, "\"name\":", 7) == -1)
		return ev_err_sys(err, "event");
	*comma = true;
	if (ev_json_put_string(out, ed->name, ed->namelen, err) == -1)
		return -1;
	memcpy(info->name, ed->name, ed->namelen);
	info->name[ed->namelen] = '\0';
	info->namelen = ed->namelen;
	return 0;
}

int
ev_event_edit(const char *buf, size_t len, const struct ev_prepare *prep,
    const struct ev_edit *ed, struct ev_buf *out, struct ev_evinfo *info,
    struct ev_err *err)
{
	const struct ev_jmember *m, *md = NULL;
	struct medit me = { .set = ed->meta, .n = ed->nmeta };
	size_t mark = ev_buf_unread(out), i;
	bool newid = ed->id != NULL || ed->newid, comma = false;
	bool has_error = false, has_id = false, has_filter = false;
	bool retarget = ed->target[EV_TARGET_NODE] != NULL ||
	    ed->target[EV_TARGET_SERVICE] != NULL ||
	    ed->target[EV_TARGET_TAG] != NULL;
	int rv = -1;

	if (ed->id != NULL && edit_id_check(ed->id, ed->idlen, err) == -1)
		return -1;
	if (ed->name != NULL && edit_name_check(ed->name, ed->namelen,
	    err) == -1)
		return -1;
	if (event_scan(buf, len, prep->maxdepth, false, &scan, info,
	    err) == -1 || check_target(info, err) == -1)
		return -1;
	if (ed->id == NULL && ed->newid && info->hadid) {
		m = &scan.m[scan.id_member];
		me.replay = (struct ev_metaset){ "replay_of", 9, m->val,
		    m->vallen };
		me.has_replay = true;
		me.n++;
	}
	if (me.n > 0 && (me.done = calloc(me.n, sizeof(bool))) == NULL)
		return ev_err_sys(err, "event");
	if (ed->id != NULL) {
		memcpy(info->id, ed->id, ed->idlen);
		info->id[ed->idlen] = '\0';
		info->hadid = true;
	} else if (ed->newid) {
		ev_uuid4(info->id);
		info->hadid = false;
	}
	if (retarget)
		memset(info->targeted, 0, sizeof(info->targeted));

	if (ev_buf_putc(out, '{') == -1)
		goto nomem;
	for (i = 0; i < scan.n; i++) {
		m = &scan.m[i];
		switch (scan.f[i]) {
		case F_SEQ:
		case F_ORIGIN:
			continue;
		case F_ID:
			has_id = true;
			if (!newid)
				break;
			if (put_new_id(out, &comma, ed, info, err) == -1)
				goto fail;
			continue;
		case F_NAME:
			if (ed->name == NULL)
				break;
			if (put_new_name(out, &comma, ed, info, err) == -1)
				goto fail;
			continue;
		case F_ERROR:
			has_error = true;
			if (!ed->error)
				break;
			if (put_raw_member(out, &comma, "error", 5, "true",
			    4) == -1)
				goto nomem;
			continue;
		case F_METADATA:
			md = m;
			if (me.n == 0)
				break;
			if ((comma && ev_buf_putc(out, ',') == -1) ||
			    ev_buf_append(out, "\"metadata\":", 11) == -1)
				goto nomem;
			comma = true;
			if (meta_emit(out, md, &me, err) == -1)
				goto fail;
			continue;
		case F_FILTER:
			has_filter = true;
			if (!retarget)
				break;
			if (put_filter(out, &comma, ed, info, err) == -1)
				goto fail;
			continue;
		default:
			break;
		}
		if (put_raw_member(out, &comma, m->key, m->keylen, m->val,
		    m->vallen) == -1)
			goto nomem;
	}
	if (ed->error && !has_error &&
	    put_raw_member(out, &comma, "error", 5, "true", 4) == -1)
		goto nomem;
	if (me.n > 0 && md == NULL) {
		if ((comma && ev_buf_putc(out, ',') == -1) ||
		    ev_buf_append(out, "\"metadata\":", 11) == -1)
			goto nomem;
		comma = true;
		if (meta_emit(out, NULL, &me, err) == -1)
			goto fail;
	}
	if (retarget && !has_filter &&
	    put_filter(out, &comma, ed, info, err) == -1)
		goto fail;
	if (retarget && check_target(info, err) == -1)
		goto fail;
	if (newid && !has_id) {
		if (put_new_id(out, &comma, ed, info, err) == -1)
			goto fail;
	} else if (prep->fill && !info->hadid && !has_id) {
		ev_uuid4(info->id);
		if (put_new_id(out, &comma, &(struct ev_edit){ 0 }, info,
		    err) == -1)
			goto fail;
	}
	if ((prep->fill ? emit_fill(out, comma, &scan, prep->now_ms, info) :
	    ev_buf_putc(out, '}')) == -1)
		goto nomem;
	event_oneline(out, mark);
	rv = 0;
	goto out;
nomem:
	ev_err_sys(err, "event");
fail:
	ev_buf_truncate(out, mark);
out:
	free(me.done);
	return rv;
}
