/*
 * sub.c: subscriptions, and writing to clients: each subscriber reads the
 * ring through its own cursor, straight from the events' shared bytes.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "evbusd.h"

#define FLUSH_IOV	256		/* pieces in one sendmsg */
#define FLUSH_BYTES	(256 * 1024)	/* bytes offered to one sendmsg */

/*
 * Start a subscription from a SUB body: {"patterns":[...]} and at most
 * one of "from" (a seq; 0 for the oldest in the ring) and "last" (the
 * newest n matching events).  Neither: only events from now on.
 * -1 with err (EV_ERR_DATA) when the body is not such an object.
 */
int
sub_start(struct evbusd *b, struct conn *c, const char *body, size_t len,
    struct ev_err *err)
{
	json_error_t je;
	json_t *j, *pats, *v, *from, *last;
	size_t i;
	uint64_t s, want, found;
	struct msg *m;
	int r = -1;

	if ((j = json_loadb(body, len, 0, &je)) == NULL)
		return ev_err_set(err, EV_ERR_DATA,
		    "subscription: invalid JSON: %s", je.text);
	if (!json_is_object(j)) {
		ev_err_set(err, EV_ERR_DATA, "subscription: not an object");
		goto out;
	}
	pats = json_object_get(j, "patterns");
	from = json_object_get(j, "from");
	last = json_object_get(j, "last");
	if (pats != NULL && !json_is_array(pats)) {
		ev_err_set(err, EV_ERR_DATA, "patterns: not an array");
		goto out;
	}
	if ((from != NULL && (!json_is_integer(from) ||
	    json_integer_value(from) < 0)) || (last != NULL &&
	    (!json_is_integer(last) || json_integer_value(last) < 0))) {
		ev_err_set(err, EV_ERR_DATA,
		    "from, last: not a non-negative integer");
		goto out;
	}
	if (from != NULL && last != NULL) {
		ev_err_set(err, EV_ERR_DATA, "from and last exclude each other");
		goto out;
	}
	json_array_foreach(pats, i, v) {
		if (!json_is_string(v)) {
			ev_err_set(err, EV_ERR_DATA,
			    "patterns: not all strings");
			goto out;
		}
		if (ev_patset_add(&c->pats, json_string_value(v),
		    json_string_length(v), err) == -1)
			goto out;
	}
	if (c->pats.ninc == 0 && c->pats.nexc == 0 &&
	    ev_patset_add(&c->pats, "#", 1, err) == -1)
		goto out;

	if (from != NULL) {
		s = (uint64_t)json_integer_value(from);
		c->cursor = s == 0 ? b->ring.first : s;
	} else if (last != NULL) {
		want = (uint64_t)json_integer_value(last);
		found = 0;
		for (s = b->ring.next; s > b->ring.first && found < want; s--) {
			m = ring_get(&b->ring, s - 1);
			if (ev_patset_match(&c->pats, m->name, m->namelen))
				found++;
		}
		c->cursor = s;
	} else
		c->cursor = b->ring.next;
	c->sub = true;
	r = 0;
out:
	if (r == -1)
		ev_patset_free(&c->pats);
	json_decref(j);
	return r;
}

/* Queue an evbus.gap event for events [cursor, first) lost to overrun. */
static void
sub_gap(struct evbusd *b, struct conn *c)
{
	char payload[160];
	struct ev_buf ev = { 0 };
	uint64_t to = b->ring.first - 1;

	snprintf(payload, sizeof(payload), "{\"from\":%" PRIu64 ",\"to\":%"
	    PRIu64 ",\"missed\":%" PRIu64 ",\"reason\":\"overrun\"}",
	    c->cursor, to, to - c->cursor + 1);
	if (ev_event_internal(&ev, 0, &b->self, "evbus.gap", ev_now_ms(),
	    payload) == -1 || ev_proto_body(&c->out, "EVENT",
	    ev_buf_head(&ev), ev_buf_unread(&ev)) == -1)
		log_warn("client %" PRIu64 ": gap", c->serial);
	else
		log_info("client %" PRIu64 " (%s) lost events %" PRIu64
		    "..%" PRIu64, c->serial, c->name, c->cursor, to);
	ev_buf_free(&ev);
	c->cursor = b->ring.first;
}

bool
conn_pending(const struct evbusd *b, const struct conn *c)
{
	if (c->dead || c->blocked)
		return false;
	return c->partial != NULL || ev_buf_unread(&c->out) > 0 ||
	    (c->sub && c->cursor < b->ring.next);
}

/*
 * Write to the client what it has coming, in order: the rest of an event
 * it got in part, its queued replies (and gap events), then the ring's
 * events from its cursor that match its patterns -- gathered into one
 * sendmsg straight from the shared bytes, no copy.  Stops when the kernel
 * takes no more (and watches for output), or when nothing is left.
 * Returns -1 when the connection failed and was closed.
 * Cost: one pattern match per event passed over, one syscall per
 * FLUSH_IOV events or FLUSH_BYTES bytes.
 */
int
conn_flush(struct evbusd *b, struct conn *c)
{
	struct iovec iov[FLUSH_IOV];
	struct msg *im[FLUSH_IOV], *m;
	struct msghdr mh;
	size_t total, w, outlen, i;
	uint64_t scan;
	int n, first_msg;
	ssize_t r;

	while (conn_pending(b, c)) {
		if (c->sub && c->cursor < b->ring.first)
			sub_gap(b, c);
		n = 0;
		total = 0;
		if (c->partial != NULL) {
			iov[n].iov_base = c->partial->data + c->partial_off;
			iov[n].iov_len = c->partial->len - c->partial_off;
			im[n++] = NULL;
		}
		outlen = ev_buf_unread(&c->out);
		if (outlen > 0) {
			iov[n].iov_base = ev_buf_head(&c->out);
			iov[n].iov_len = outlen;
			im[n++] = NULL;
		}
		first_msg = n;
		for (scan = c->cursor; c->sub && scan < b->ring.next &&
		    n < FLUSH_IOV && total < FLUSH_BYTES; scan++) {
			m = ring_get(&b->ring, scan);
			if (!ev_patset_match(&c->pats, m->name, m->namelen))
				continue;
			iov[n].iov_base = m->data;
			iov[n].iov_len = m->len;
			total += m->len;
			im[n++] = m;
		}
		if (n == 0) {
			c->cursor = scan;
			break;
		}
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		r = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				c->blocked = true;
				conn_watch(b, c);
				return 0;
			}
			conn_close(b, c, errno == EPIPE ||
			    errno == ECONNRESET ? "hung up" : "write error");
			return -1;
		}
		w = (size_t)r;
		if (c->partial != NULL) {
			if (w >= iov[0].iov_len) {
				w -= iov[0].iov_len;
				msg_unref(c->partial);
				c->partial = NULL;
			} else {
				c->partial_off += w;
				w = 0;
			}
		}
		if (outlen > 0) {
			size_t k = w < outlen ? w : outlen;

			ev_buf_consume(&c->out, k);
			w -= k;
			/* A burst of replies is over: give back its memory. */
			if (ev_buf_unread(&c->out) == 0 && c->out.cap > 65536)
				ev_buf_free(&c->out);
		}
		for (i = (size_t)first_msg; i < (size_t)n; i++) {
			m = im[i];
			if (w >= m->len) {
				w -= m->len;
				c->cursor = m->seq + 1;
				continue;
			}
			if (w > 0) {
				m->refs++;
				c->partial = m;
				c->partial_off = w;
				c->cursor = m->seq + 1;
				w = 0;
				i++;
			}
			break;
		}
		if (i < (size_t)n || c->partial != NULL ||
		    ev_buf_unread(&c->out) > 0) {
			/* A short write: the socket is full. */
			if (i < (size_t)n && c->partial == NULL)
				c->cursor = im[i]->seq;
			c->blocked = true;
			conn_watch(b, c);
			return 0;
		}
		c->cursor = scan;
	}
	return 0;
}
