/*
 * format.c: the output of evsub and evlist, one line for each thing a
 * subscriber hands on: the bus's JSON as it came, or, with a template
 * (-F), the template's text for each event.
 */
#include <inttypes.h>
#include <string.h>

#include "evbus.h"

int
ev_format_line(const struct ev_tmpl *t, const struct ev_subev *ev,
    struct ev_buf *out, struct ev_err *err)
{
	struct ev_err rerr;

	if (t == NULL) {
		if (ev_buf_reserve(out, ev->len + 1) == -1)
			return ev_err_sys(err, "output");
		memcpy(out->data + out->len, ev->json, ev->len);
		out->len += ev->len;
		out->data[out->len++] = '\n';
		out->data[out->len] = '\0';
		return 1;
	}
	if (ev->kind != EV_SUBEV_EVENT)
		return 0;
	if (ev_tmpl_render(t, ev->json, ev->len, out, &rerr) == -1) {
		if (rerr.kind == EV_ERR_SYS)
			return ev_err_sys(err, "output");
		return ev_err_set(err, rerr.kind, "seq %" PRIu64 ": %s",
		    ev->seq, rerr.msg);
	}
	if (ev_buf_putc(out, '\n') == -1)
		return ev_err_sys(err, "output");
	return 1;
}
