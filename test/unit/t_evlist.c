/*
 * t_evlist.c: the library parts that evlist added: the index (parse and
 * format, EPOCH:SEQ and bare), ev_epoch_valid, the subscriber identity
 * from options, environment and host name (ev_identity_init), and one
 * line of output (ev_format_line) as JSON or through a template.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"
#include "tap.h"

#define E1	"0123456789abcdef"

static void
test_index(void)
{
	char epoch[EV_EPOCH_LEN + 1], out[EV_INDEX_LEN + 1];
	struct ev_err err;
	uint64_t seq = 99;

	ok(ev_index_parse("42", epoch, &seq, &err) == 0 && seq == 42 &&
	    epoch[0] == '\0', "index: a bare seq");
	ok(ev_index_parse("0", epoch, &seq, &err) == 0 && seq == 0,
	    "index: 0");
	ok(ev_index_parse(E1 ":7", epoch, &seq, &err) == 0 && seq == 7 &&
	    strcmp(epoch, E1) == 0, "index: EPOCH:SEQ");
	ok(ev_index_parse("0123456789ABCDEF:8\n", epoch, &seq, &err) == 0 &&
	    seq == 8 && strcmp(epoch, E1) == 0,
	    "index: upper case read as lower, a trailing newline forgiven");
	ok(ev_index_parse("", epoch, &seq, &err) == -1 &&
	    err.kind == EV_ERR_DATA, "index: empty refused");
	is_str(err.msg, "index '': expected SEQ or EPOCH:SEQ (as --index-file "
	    "writes it), SEQ a whole number", "  with a message");
	ok(ev_index_parse("-1", epoch, &seq, &err) == -1, "index: -1");
	ok(ev_index_parse("1 ", epoch, &seq, &err) == -1, "index: a space");
	ok(ev_index_parse("1\n\n", epoch, &seq, &err) == -1,
	    "index: two newlines");
	ok(ev_index_parse("9223372036854775808", epoch, &seq, &err) == -1 &&
	    strstr(err.msg, "below 2^63") != NULL, "index: 2^63 refused");
	ok(ev_index_parse("9223372036854775807", epoch, &seq, &err) == 0 &&
	    seq == INT64_MAX, "index: 2^63-1 accepted");
	ok(ev_index_parse("0123456789abcde:1", epoch, &seq, &err) == -1,
	    "index: a short epoch");
	is_str(err.msg, "index '0123456789abcde:1': the epoch before ':' "
	    "must be 16 hexadecimal digits", "  with a message");
	ok(ev_index_parse("0123456789abcdeg:1", epoch, &seq, &err) == -1 &&
	    epoch[0] == '\0', "index: not hex; epoch left empty");
	ok(ev_index_parse(E1 ":", epoch, &seq, &err) == -1 &&
	    epoch[0] == '\0', "index: no seq after the epoch");
	ok(ev_index_parse(E1 ":1:2", epoch, &seq, &err) == -1,
	    "index: two colons");

	ev_index_format(out, E1, 12);
	is_str(out, E1 ":12", "format: EPOCH:SEQ");
	ev_index_format(out, "", 12);
	is_str(out, "12", "format: bare");
	ev_index_format(out, NULL, 0);
	is_str(out, "0", "format: NULL epoch");
	ev_index_format(out, E1, UINT64_MAX);
	is_str(out, E1 ":18446744073709551615", "format: the largest fits");
	ev_index_format(out, E1, 5);
	ok(ev_index_parse(out, epoch, &seq, &err) == 0 && seq == 5 &&
	    strcmp(epoch, E1) == 0, "format then parse: the same");
}

static void
test_epoch(void)
{
	ok(ev_epoch_valid(E1), "epoch: 16 hex digits");
	ok(ev_epoch_valid("ABCDEF0123456789"), "epoch: upper case");
	ok(!ev_epoch_valid("0123456789abcde"), "epoch: 15");
	ok(!ev_epoch_valid(E1 "0"), "epoch: 17");
	ok(!ev_epoch_valid(""), "epoch: empty");
	ok(!ev_epoch_valid("0123456789abcdeX"), "epoch: not hex");
}

/* Tags of id, joined by ','. */
static const char *
tags(const struct ev_identity *id)
{
	static char buf[512];
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < id->ntags; i++) {
		if (i > 0)
			strcat(buf, ",");
		strcat(buf, id->tags[i]);
	}
	return buf;
}

static void
test_identity(void)
{
	struct ev_identity id;
	struct ev_err err;
	char host[256], big[300], many[400], *opt[3] = { "a", "", "b" };
	int i;

	unsetenv("EVBUS_NODE");
	unsetenv("EVBUS_SERVICE");
	unsetenv("EVBUS_TAGS");
	gethostname(host, sizeof(host));
	ok(ev_identity_init(&id, NULL, NULL, NULL, 0, &err) == 0,
	    "identity: nothing given");
	is_str(id.node, host, "  node: the host name");
	ok(id.service == NULL && id.ntags == 0, "  no service, no tags");
	ev_identity_free(&id);

	setenv("EVBUS_NODE", "n1", 1);
	setenv("EVBUS_SERVICE", "s1", 1);
	setenv("EVBUS_TAGS", " t1 ,t2,, \tt3\t,", 1);
	ok(ev_identity_init(&id, NULL, NULL, NULL, 0, &err) == 0,
	    "identity: from the environment");
	is_str(id.node, "n1", "  node");
	is_str(id.service, "s1", "  service");
	is_str(tags(&id), "t1,t2,t3", "  tags: trimmed, empty ones skipped");
	ev_identity_free(&id);

	ok(ev_identity_init(&id, "n2", "s2", opt, 3, &err) == 0,
	    "identity: options win");
	is_str(id.node, "n2", "  node");
	is_str(id.service, "s2", "  service");
	is_str(tags(&id), "a,b", "  tags: the options' only, empty skipped");
	ev_identity_free(&id);

	setenv("EVBUS_NODE", "", 1);
	setenv("EVBUS_SERVICE", "", 1);
	setenv("EVBUS_TAGS", "", 1);
	ok(ev_identity_init(&id, NULL, NULL, NULL, 0, &err) == 0 &&
	    id.node == NULL && id.service == NULL && id.ntags == 0,
	    "identity: empty variables declare none, not the host name");
	ev_identity_free(&id);

	memset(big, 'x', 256);
	big[256] = '\0';
	ok(ev_identity_init(&id, big, NULL, NULL, 0, &err) == -1 &&
	    err.kind == EV_ERR_DATA && id.node == NULL,
	    "identity: a node of 256 bytes refused, id empty");
	is_str(err.msg, "--node: longer than 255 bytes", "  with a message");
	big[255] = '\0';
	ok(ev_identity_init(&id, big, NULL, NULL, 0, &err) == 0,
	    "identity: 255 bytes accepted");
	ev_identity_free(&id);
	big[255] = 'x';
	setenv("EVBUS_SERVICE", big, 1);
	ok(ev_identity_init(&id, NULL, NULL, NULL, 0, &err) == -1,
	    "identity: a long EVBUS_SERVICE refused");
	is_str(err.msg, "EVBUS_SERVICE: longer than 255 bytes",
	    "  named in the message");
	unsetenv("EVBUS_SERVICE");

	many[0] = '\0';
	for (i = 0; i < 65; i++)
		sprintf(many + strlen(many), "%s%d", i > 0 ? "," : "", i);
	setenv("EVBUS_TAGS", many, 1);
	ok(ev_identity_init(&id, NULL, NULL, NULL, 0, &err) == -1,
	    "identity: 65 tags refused");
	is_str(err.msg, "EVBUS_TAGS: more than 64 tags", "  with a message");
	*strrchr(many, ',') = '\0';
	setenv("EVBUS_TAGS", many, 1);
	ok(ev_identity_init(&id, NULL, NULL, NULL, 0, &err) == 0 &&
	    id.ntags == 64, "identity: 64 tags accepted");
	ev_identity_free(&id);
	unsetenv("EVBUS_NODE");
	unsetenv("EVBUS_TAGS");
}

static void
test_format(void)
{
	static const char ev[] = "{\"seq\":7,\"id\":\"x\",\"name\":\"a.b\","
	    "\"payload\":{\"k\":\"v\"}}";
	static const char gap[] = "{\"id\":\"y\",\"name\":\"evbus.gap\"}";
	struct ev_subev e = { EV_SUBEV_EVENT, ev, sizeof(ev) - 1, 7 };
	struct ev_subev n = { EV_SUBEV_NOTICE, gap, sizeof(gap) - 1, 0 };
	struct ev_buf out = { 0 };
	struct ev_tmpl *t, *bad;
	struct ev_err err;

	ok(ev_format_line(NULL, &e, &out, &err) == 1, "format: JSON");
	ok(ev_format_line(NULL, &n, &out, &err) == 1, "  a notice too");
	is_str(ev_buf_head(&out), "{\"seq\":7,\"id\":\"x\",\"name\":\"a.b\","
	    "\"payload\":{\"k\":\"v\"}}\n{\"id\":\"y\",\"name\":\"evbus.gap\"}\n",
	    "  the bus's bytes, a line each");
	ev_buf_reset(&out);
	t = ev_tmpl_compile("{.seq}\\t{.payload.k|upper}", &err);
	bad = ev_tmpl_compile("{.payload.missing}", &err);
	ok(t != NULL && bad != NULL, "format: templates compile");
	ok(ev_format_line(t, &e, &out, &err) == 1, "format: a template");
	is_str(ev_buf_head(&out), "7\tV\n", "  its text and a newline");
	ok(ev_format_line(t, &n, &out, &err) == 0, "  a notice: 0");
	is_str(ev_buf_head(&out), "7\tV\n", "  and nothing appended");
	ok(ev_format_line(bad, &e, &out, &err) == -1 &&
	    err.kind == EV_ERR_DATA, "format: a missing path fails");
	is_str(err.msg, "seq 7: missing .payload.missing", "  named by seq");
	is_str(ev_buf_head(&out), "7\tV\n", "  out as it was");
	ev_tmpl_free(t);
	ev_tmpl_free(bad);
	ev_buf_free(&out);
}

int
main(void)
{
	test_index();
	test_epoch();
	test_identity();
	test_format();
	return tap_done();
}
