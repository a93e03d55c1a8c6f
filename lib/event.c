/*
 * event.c: the event model: names, checks, and the bytes the bus sends.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "evbus.h"

static int	event_load(const char *, size_t, json_t **, struct ev_err *);
static int	event_check(json_t *, bool, struct ev_evinfo *,
		    struct ev_err *);
static int	event_fill(json_t *, int64_t, struct ev_evinfo *);
static int	event_dump(json_t *, struct ev_buf *);

int
ev_name_check(const char *s, size_t len, struct ev_err *err)
{
	size_t i, tok = 0;
	unsigned char c;

	if (len == 0)
		return ev_err_set(err, EV_ERR_DATA, "name: empty");
	if (len > EV_NAME_MAX)
		return ev_err_set(err, EV_ERR_DATA,
		    "name: %zu bytes, longer than %d", len, EV_NAME_MAX);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (tok == 0)
				return ev_err_set(err, EV_ERR_DATA,
				    "name '%.*s': empty token", (int)len, s);
			tok = 0;
			continue;
		}
		if (c == '*' || c == '#')
			return ev_err_set(err, EV_ERR_DATA,
			    "name '%.*s': contains '%c'", (int)len, s, c);
		if (c <= ' ' || c == 0x7f)
			return ev_err_set(err, EV_ERR_DATA,
			    "name: contains whitespace or a control character");
		tok++;
	}
	if (tok == 0)
		return ev_err_set(err, EV_ERR_DATA,
		    "name '%.*s': empty token", (int)len, s);
	return 0;
}

bool
ev_name_reserved(const char *s, size_t len)
{
	return len >= 5 && memcmp(s, "evbus", 5) == 0 &&
	    (len == 5 || s[5] == '.');
}

/*
 * Parse text that must be one JSON object.  *out gets a new reference.
 */
static int
event_load(const char *buf, size_t len, json_t **out, struct ev_err *err)
{
	json_error_t je;
	json_t *j;

	if ((j = json_loadb(buf, len, JSON_DECODE_ANY, &je)) == NULL)
		return ev_err_set(err, EV_ERR_DATA,
		    "invalid JSON at byte %d: %s", je.position, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return ev_err_set(err, EV_ERR_DATA, "not a JSON object");
	}
	*out = j;
	return 0;
}

/*
 * Check the fields of an event object (borrowed) and note its name, id and
 * time in info.  Names under "evbus." are refused with EV_ERR_DENIED.
 */
static int
event_check(json_t *ev, bool daemon, struct ev_evinfo *info,
    struct ev_err *err)
{
	json_t *v, *f;
	const char *s, *k;
	size_t len;

	(void)daemon;
	memset(info, 0, sizeof(*info));
	if ((v = json_object_get(ev, "name")) == NULL)
		return ev_err_set(err, EV_ERR_DATA, "name: missing");
	if (!json_is_string(v))
		return ev_err_set(err, EV_ERR_DATA, "name: not a string");
	s = json_string_value(v);
	len = json_string_length(v);
	if (ev_name_check(s, len, err) == -1)
		return -1;
	if (ev_name_reserved(s, len))
		return ev_err_set(err, EV_ERR_DENIED,
		    "name '%s': names under evbus. are the bus's own", s);
	memcpy(info->name, s, len);
	info->namelen = len;

	if ((v = json_object_get(ev, "id")) != NULL) {
		if (!json_is_string(v))
			return ev_err_set(err, EV_ERR_DATA,
			    "id: not a string");
		len = json_string_length(v);
		s = json_string_value(v);
		if (len == 0 || len > EV_ID_MAX)
			return ev_err_set(err, EV_ERR_DATA,
			    "id: must be 1 to %d bytes", EV_ID_MAX);
		for (k = s; k < s + len; k++)
			if ((unsigned char)*k < ' ' || *k == 0x7f)
				return ev_err_set(err, EV_ERR_DATA,
				    "id: contains a control character");
		memcpy(info->id, s, len);
		info->hadid = true;
	}
	if ((v = json_object_get(ev, "time")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return ev_err_set(err, EV_ERR_DATA,
			    "time: not a non-negative integer "
			    "(milliseconds since the epoch)");
		info->time = json_integer_value(v);
	}
	if ((v = json_object_get(ev, "error")) != NULL && !json_is_boolean(v))
		return ev_err_set(err, EV_ERR_DATA, "error: not true or false");
	if ((v = json_object_get(ev, "metadata")) != NULL &&
	    !json_is_object(v))
		return ev_err_set(err, EV_ERR_DATA, "metadata: not an object");
	if ((v = json_object_get(ev, "filter")) != NULL) {
		if (!json_is_object(v))
			return ev_err_set(err, EV_ERR_DATA,
			    "filter: not an object");
		json_object_foreach(v, k, f) {
			if (strcmp(k, "node") != 0 &&
			    strcmp(k, "service") != 0 && strcmp(k, "tag") != 0)
				return ev_err_set(err, EV_ERR_DATA,
				    "filter: unknown key '%s' "
				    "(node, service or tag)", k);
			if (!json_is_string(f))
				return ev_err_set(err, EV_ERR_DATA,
				    "filter.%s: not a string", k);
		}
	}
	return 0;
}

/* Add id and time when absent.  -1 on allocation failure. */
static int
event_fill(json_t *ev, int64_t now_ms, struct ev_evinfo *info)
{
	char id[EV_UUID_LEN + 1];

	if (info->id[0] == '\0') {
		ev_uuid4(id);
		if (json_object_set_new(ev, "id", json_string(id)) == -1)
			return -1;
		memcpy(info->id, id, sizeof(id));
	}
	if (json_object_get(ev, "time") == NULL) {
		if (json_object_set_new(ev, "time",
		    json_integer(now_ms)) == -1)
			return -1;
		info->time = now_ms;
	}
	return 0;
}

static int
event_dump_cb(const char *p, size_t n, void *arg)
{
	return ev_buf_append(arg, p, n);
}

static int
event_dump(json_t *ev, struct ev_buf *out)
{
	return json_dump_callback(ev, event_dump_cb, out,
	    JSON_COMPACT | JSON_PRESERVE_ORDER);
}

int
ev_event_prepare(const char *buf, size_t len, const struct ev_prepare *prep,
    struct ev_buf *out, struct ev_evinfo *info, struct ev_err *err)
{
	json_t *ev;
	size_t mark = ev_buf_unread(out);
	int r = -1;

	if (event_load(buf, len, &ev, err) == -1)
		return -1;
	if (event_check(ev, false, info, err) == -1)
		goto out;
	json_object_del(ev, "seq");
	json_object_del(ev, "origin");
	if (prep->fill && event_fill(ev, prep->now_ms, info) == -1) {
		ev_err_sys(err, "event");
		goto out;
	}
	if (event_dump(ev, out) == -1) {
		ev_buf_truncate(out, mark);
		ev_err_sys(err, "event");
		goto out;
	}
	r = 0;
out:
	json_decref(ev);
	return r;
}

int
ev_event_stamp(const char *buf, size_t len, size_t maxlen, uint64_t seq,
    const struct ev_origin *o, int64_t now_ms, struct ev_buf *out,
    struct ev_evinfo *info, struct ev_err *err)
{
	json_t *ev, *st = NULL, *v;
	const char *k;
	size_t mark = ev_buf_unread(out);
	int r = -1;

	if (len > maxlen)
		return ev_err_set(err, EV_ERR_LIMIT,
		    "event of %zu bytes exceeds the limit of %zu", len, maxlen);
	if (event_load(buf, len, &ev, err) == -1)
		return -1;
	if (event_check(ev, true, info, err) == -1)
		goto out;
	if ((st = json_pack("{s:I,s:{s:I,s:I,s:i}}", "seq", (json_int_t)seq,
	    "origin", "uid", (json_int_t)o->uid, "gid", (json_int_t)o->gid,
	    "pid", (int)o->pid)) == NULL)
		goto nomem;
	json_object_foreach(ev, k, v) {
		if (strcmp(k, "seq") == 0 || strcmp(k, "origin") == 0)
			continue;
		if (json_object_set(st, k, v) == -1)
			goto nomem;
	}
	if (event_fill(st, now_ms, info) == -1 || event_dump(st, out) == -1)
		goto nomem;
	r = 0;
	goto out;
nomem:
	ev_buf_truncate(out, mark);
	ev_err_sys(err, "event");
out:
	json_decref(st);
	json_decref(ev);
	return r;
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
	return ev_buf_printf(out, "\"origin\":{\"uid\":%lu,\"gid\":%lu,"
	    "\"pid\":%ld},\"name\":\"%s\",\"id\":\"%s\",\"time\":%" PRId64
	    ",\"payload\":%s}", (unsigned long)o->uid, (unsigned long)o->gid,
	    (long)o->pid, name, id, now_ms, payload ? payload : "null");
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
