/*
 * evbus.h: the one header of libevbus, the library every evbus program
 * links.  Nothing in the library prints or exits: functions return -1 (or
 * NULL) and describe the failure in a struct ev_err, and the caller decides.
 */
#ifndef EVBUS_H
#define EVBUS_H

#include <sys/types.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EV_VERSION		"0.1.0"
#define EV_PROTO_VERSION	2
#define EV_PROTO_VERSION_S	"2"

/* Limits of the event and of the wire; the daemon may lower or raise some. */
#define EV_NAME_MAX		255		/* bytes in an event name */
#define EV_EVENT_MAX_DEFAULT	(64 * 1024)	/* bytes in one event body */
#define EV_EVENT_MAX_LIMIT	(16 * 1024 * 1024) /* largest -m accepted */
#define EV_LINE_MAX		1024		/* a command line before its body */
#define EV_ARGS_MAX		8		/* words on a command line */
#define EV_SUB_MAX		(64 * 1024)	/* bytes in a SUB body */
#define EV_UUID_LEN		36
#define EV_EPOCH_LEN		16

/* Exit statuses shared by every program (sysexits(3) subset). */
#define EV_EX_OK		0
#define EV_EX_REJECTED		1	/* some input rejected, rest processed */
#define EV_EX_USAGE		64
#define EV_EX_DATAERR		65
#define EV_EX_UNAVAILABLE	69
#define EV_EX_SOFTWARE		70
#define EV_EX_IOERR		74
#define EV_EX_TEMPFAIL		75
#define EV_EX_NOPERM		77

/*
 * A failure description.  kind says what sort of failure it was so that a
 * program can choose its exit status; msg is a complete, human-readable
 * sentence fragment without the program's name ("name: contains '*'").
 */
enum ev_errkind {
	EV_ERR_NONE = 0,
	EV_ERR_DATA,		/* the input is malformed or breaks a rule */
	EV_ERR_LIMIT,		/* the input is well-formed but too large */
	EV_ERR_PROTO,		/* the peer broke the wire protocol */
	EV_ERR_SYS,		/* a system call failed; errno is in sys */
	EV_ERR_UNAVAILABLE,	/* no bus answers */
	EV_ERR_DENIED,		/* permission denied */
	EV_ERR_TIMEOUT,		/* a deadline passed */
};

struct ev_err {
	enum ev_errkind	kind;
	int		sys;		/* errno for EV_ERR_SYS, else 0 */
	char		msg[256];
};

/* Fill err (which may be NULL) and return -1; for "return ev_err_set(...)". */
int	ev_err_set(struct ev_err *, enum ev_errkind, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* The same, appending ": strerror(errno)" and recording errno. */
int	ev_err_sys(struct ev_err *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* The sysexits status that best reports an error of this kind. */
int	ev_err_exit(const struct ev_err *);

/*
 * buf.c: a growable byte buffer.  data[off..len) is the unread part; the
 * buffer keeps a NUL after data[len] so that text in it is a C string.
 * Appending may move the unread part to the front: positions are kept as
 * offsets from ev_buf_head(), never as offsets into data.
 */
struct ev_buf {
	char	*data;
	size_t	 off;
	size_t	 len;
	size_t	 cap;
};

int	 ev_buf_reserve(struct ev_buf *, size_t);
int	 ev_buf_append(struct ev_buf *, const void *, size_t);
int	 ev_buf_putc(struct ev_buf *, int);
int	 ev_buf_putu(struct ev_buf *, uint64_t);
int	 ev_buf_printf(struct ev_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 ev_buf_vprintf(struct ev_buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 ev_buf_consume(struct ev_buf *, size_t);
void	 ev_buf_truncate(struct ev_buf *, size_t);
void	 ev_buf_reset(struct ev_buf *);
void	 ev_buf_free(struct ev_buf *);
#define ev_buf_unread(b)	((b)->len - (b)->off)
#define ev_buf_head(b)		((b)->data != NULL ? (b)->data + (b)->off : NULL)

/*
 * time.c: clocks, durations and points in time.
 * Durations: a number with a unit, "250ms", "10s", "5m", "1h", "7d"; a bare
 * number is seconds.  Times: RFC 3339 ("2026-11-23T06:00:00Z", with an
 * optional fraction and a numeric offset), epoch milliseconds (digits only),
 * or a duration meaning that long before now.
 */
int64_t	ev_now_ms(void);		/* CLOCK_REALTIME, ms since the epoch */
int64_t	ev_mono_ms(void);		/* CLOCK_MONOTONIC, ms */
void	ev_sleep_ms(int64_t);
int	ev_duration_parse(const char *, int64_t *ms, struct ev_err *);
int	ev_time_parse(const char *, int64_t now_ms, int64_t *ms,
	    struct ev_err *);

/* util.c: identifiers and small parsers. */
void	ev_uuid4(char out[EV_UUID_LEN + 1]);
void	ev_epoch_new(char out[EV_EPOCH_LEN + 1]);
/*
 * Strict decimal: digits only, no sign or space.  0, or -1 with errno
 * EINVAL (not a number) or ERANGE (over max).
 */
int	ev_parse_u64(const char *, size_t, uint64_t max, uint64_t *);
/*
 * A size: digits with an optional unit k, M or G (also KiB, MiB, GiB;
 * powers of 1024; any case), from min to max.  0 with *out, or -1 with
 * errno EINVAL (not a size) or ERANGE (outside min..max).
 */
int	ev_size_parse(const char *, uint64_t min, uint64_t max, uint64_t *);
/*
 * A yes/no environment variable: 1, yes, true, on or 0, no, false, off,
 * in any case; unset or empty is dflt.  1 or 0, or -1 with err
 * (EV_ERR_DATA) naming the variable and its value.
 */
int	ev_env_bool(const char *name, bool dflt, struct ev_err *);

/*
 * jscan.c: the strict JSON scanner (the rest of it is in jscan.h, inside
 * the library): accepts exactly what jansson accepts, builds nothing.
 */
enum ev_jtype {
	EV_J_OBJECT,
	EV_J_ARRAY,
	EV_J_STRING,
	EV_J_INTEGER,
	EV_J_REAL,
	EV_J_TRUE,
	EV_J_FALSE,
	EV_J_NULL,
};

/*
 * Validate buf[0..len) as exactly one JSON value, as json_loadb(buf, len,
 * JSON_DECODE_ANY, &e) would (save the NUL exception above).  On success
 * returns 0 and stores the value's type in *type (type may be NULL).  On
 * failure returns -1 with err (may be NULL) set to EV_ERR_DATA and a
 * message like "invalid JSON at byte 17: '}' expected"; byte numbers count
 * from 1 and name the offending byte (len + 1 at a premature end).
 * Cost: one pass over the bytes, no allocation, 256 bytes of stack.
 */
int	ev_json_check(const char *buf, size_t len, enum ev_jtype *type,
	    struct ev_err *err);

/*
 * Append s[0..len) to out as a JSON string literal with its quotes, escaped
 * exactly as jansson's compact json_dumps() escapes it: \" \\ \b \f \n \r
 * \t, other control characters as \u00XX, everything else (including '/'
 * and non-ASCII) as is.  Returns 0; -1 with err EV_ERR_DATA (out
 * unchanged) if s is not valid UTF-8 or contains a NUL byte, which jansson
 * refuses by default; -1 with EV_ERR_SYS (ENOMEM) if out cannot grow.
 * Cost: two passes over s (check and size, then copy runs); out grows by
 * exactly the output's length, at most 6 * len + 2.
 */
int	ev_json_put_string(struct ev_buf *out, const char *s, size_t len,
	    struct ev_err *err);

/*
 * pattern.c: AMQP topic patterns.  A pattern is tokens separated by '.';
 * '*' matches exactly one token and '#' zero or more.  A wildcard in the
 * first position never matches a name under "evbus." (the bus's own names).
 * Matching is iterative and costs O(pattern tokens x name tokens) at worst.
 */
int	ev_pattern_check(const char *, size_t, struct ev_err *);
bool	ev_pattern_match(const char *pat, size_t patlen,
	    const char *name, size_t namelen);

/*
 * A subscription: patterns ORed; a pattern starting with '!' excludes.
 * With only exclusions, the set matches what '#' matches minus them.
 */
struct ev_patset {
	char	**inc;
	size_t	 *inclen;
	size_t	  ninc;
	char	**exc;
	size_t	 *exclen;
	size_t	  nexc;
	bool	  all;		/* an include is "#": any user name matches */
};

int	ev_patset_add(struct ev_patset *, const char *, size_t,
	    struct ev_err *);
bool	ev_patset_match(const struct ev_patset *, const char *, size_t);
void	ev_patset_free(struct ev_patset *);

/*
 * event.c: the event model.
 *
 * A name is 1..EV_NAME_MAX bytes of tokens separated by '.', no empty
 * token, no whitespace or control character, no '*' or '#'.
 */
int	ev_name_check(const char *, size_t, struct ev_err *);
/* The bus's own names: the first token is "evbus". */
bool	ev_name_reserved(const char *, size_t);

struct ev_origin {
	uint32_t	uid;
	uint32_t	gid;
	int32_t		pid;
};

/* Facts about an event that ev_event_prepare/stamp found while checking. */
#define EV_ID_MAX	64		/* bytes in a producer-chosen id */

/* The expressions of an event's "filter" (Consul's targeting). */
#define EV_TARGET_NODE		0
#define EV_TARGET_SERVICE	1
#define EV_TARGET_TAG		2
#define EV_TARGET_KINDS		3
#define EV_TARGET_MAX		255	/* bytes in one expression */

struct ev_evinfo {
	char	name[EV_NAME_MAX + 1];
	size_t	namelen;
	char	id[EV_ID_MAX + 1];	/* "" when the event has no id */
	bool	hadid;			/* the producer chose the id */
	int64_t	time;			/* 0 when absent */
	bool	targeted[EV_TARGET_KINDS];	/* filter.node ... set */
	char	target[EV_TARGET_KINDS][EV_TARGET_MAX + 1];
};

/* How evfire builds an event before sending it. */
struct ev_prepare {
	bool	fill;		/* add id and time when absent */
	int64_t	now_ms;		/* time to stamp when absent */
	size_t	maxdepth;	/* nested containers allowed; 0: no limit
				   beyond jansson's */
};

/* Nested containers an event may have by default: what jq 1.6 parses. */
#define EV_DEPTH_DEFAULT	256

/*
 * Check one event body (a JSON object) the way the bus checks it, and
 * append to out its bytes on one line: the fields as the producer wrote
 * them (whitespace inside values kept, raw newlines made spaces), with id
 * and time added when absent and prep->fill is set.  "seq" and "origin"
 * are removed: only the bus sets them.  A known field given twice is
 * refused; at most 256 top-level fields.  Returns 0, or -1 with err and out
 * unchanged: EV_ERR_DATA (malformed), EV_ERR_LIMIT (too many fields),
 * EV_ERR_DENIED (a name under "evbus.").
 * Cost: one scan of the text and one copy; no tree, no allocation.
 */
int	ev_event_prepare(const char *, size_t, const struct ev_prepare *,
	    struct ev_buf *out, struct ev_evinfo *, struct ev_err *);

/* How the daemon stamps an event. */
struct ev_stamp {
	size_t			 maxlen;	/* bytes of the body */
	size_t			 maxdepth;	/* nested containers; 0: any */
	uint64_t		 seq;
	const struct ev_origin	*origin;
	int64_t			 now_ms;	/* time to stamp when absent */
	bool			 internal;	/* the bus's own: evbus.* allowed */
};

/*
 * The daemon's edge: check a received body like ev_event_prepare and
 * append to out the outgoing bytes, an object that starts
 * {"seq":N,"id":"...","origin":{...}, and goes on with the event's other
 * fields (time added when absent).  The id is the producer's, byte for
 * byte, or a new UUID (then in info->id).  Any seq or origin the client
 * sent is replaced.  Returns 0 or -1 with err and out unchanged
 * (EV_ERR_LIMIT too for a body over maxlen or nested deeper than
 * maxdepth).
 */
int	ev_event_stamp(const char *, size_t, const struct ev_stamp *,
	    struct ev_buf *out, struct ev_evinfo *, struct ev_err *);

/*
 * Build an event of the bus's own (evbus.*) with the given payload, which
 * is compact JSON text (NULL for null).  Appends {"seq":..,"name":..} bytes
 * to out; seq 0 means "no seq" (an event made for one subscriber).
 */
int	ev_event_internal(struct ev_buf *out, uint64_t seq,
	    const struct ev_origin *, const char *name, int64_t now_ms,
	    const char *payload);

/* Read the seq of an outgoing event: its bytes start {"seq":N. 0 if none. */
uint64_t ev_event_seq(const char *, size_t);
/*
 * The head of an event the bus sent: {"seq":N,"id":"ID", (a notice for one
 * subscriber has no seq: {"id":"ID",).  0 with *seq (0 when absent) and
 * the id's raw bytes id[0..idlen) inside p (escapes not decoded); -1 when
 * p does not start so.  Cost: the length of the head.
 */
int	ev_event_head(const char *p, size_t len, uint64_t *seq,
	    const char **id, size_t *idlen);
/*
 * Make text safe to show on one line: control characters (C0, DEL, C1)
 * and bytes that are not valid UTF-8 become '?'.  In place.
 */
void	ev_text_sanitize(char *);

/*
 * proto.c: the wire protocol.  A frame is one line "VERB arg...\n"; the
 * verbs PUB, SUB and EVENT end with a byte count and are followed by that
 * many bytes of JSON and a "\n".  A "\r" before a line's "\n" is ignored so
 * that a person can speak it through socat with CRLF.
 */
struct ev_frame {
	const char	*verb;
	const char	*argv[EV_ARGS_MAX];
	int		 argc;		/* words after the verb */
	const char	*body;		/* NULL when none, or when oversize */
	size_t		 bodylen;
	bool		 oversize;	/* body over maxbody: skipped unread */
};

struct ev_decoder {
	struct ev_buf	in;
	size_t		maxline;	/* longest command line */
	size_t		maxbody;	/* largest body */
	size_t		skip;		/* bytes of an oversize body to drop */
	bool		failed;		/* a protocol error: no more frames */
	char		line[EV_LINE_MAX + 1];	/* the words of the frame */
};

void	ev_decoder_init(struct ev_decoder *, size_t maxline, size_t maxbody);
void	ev_decoder_free(struct ev_decoder *);
/* Space to read into directly: at least want bytes; NULL if out of memory. */
char	*ev_decoder_space(struct ev_decoder *, size_t want, size_t *avail);
void	ev_decoder_commit(struct ev_decoder *, size_t);
int	ev_decoder_feed(struct ev_decoder *, const void *, size_t);
/*
 * The next complete frame: 1 with *f filled (pointers valid until the next
 * call on the decoder), 0 when more bytes are needed, -1 on a protocol error
 * (line too long, too many words, bad byte count, body not followed by a
 * newline), after which the stream cannot be trusted and the decoder
 * returns -1 again.  A body larger than maxbody is not an error of the
 * stream: the frame comes back with oversize set and no body, and the
 * decoder drops those bytes as they arrive, so that the peer can be told
 * and the connection goes on.  Empty lines are skipped.
 * Cost: linear in the bytes; a line is scanned again only while its body
 * is incomplete, and lines are short.
 */
int	ev_decoder_next(struct ev_decoder *, struct ev_frame *,
	    struct ev_err *);
/* Does this verb carry a body? */
bool	ev_proto_has_body(const char *);

int	ev_proto_line(struct ev_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	ev_proto_body(struct ev_buf *, const char *verb, const char *,
	    size_t);

/*
 * sockpath.c: where the socket lives.  $EVBUS_SOCKET, else
 * $XDG_RUNTIME_DIR/evbus/sock, else /tmp/evbus-$UID/sock.  *isdefault is
 * set when the path did not come from the caller or $EVBUS_SOCKET.
 */
int	ev_sockpath(const char *given, char *out, size_t outlen,
	    bool *isdefault, struct ev_err *);
/*
 * Make the socket's directory if missing (mode 0700) and check it: a
 * directory, not a link, owned by us, not reachable by group or others.
 * Only the directories evbus creates itself are checked for privacy; a
 * directory named by the user through -s or $EVBUS_SOCKET must exist and
 * is checked for ownership only when create is set.
 */
int	ev_sockdir_prepare(const char *sockpath, bool create,
	    struct ev_err *);
/*
 * Before a client connects: may the bus at sockpath be trusted?  Looks at
 * the socket's directory with lstat (one system call).  It must be a real
 * directory, not a symbolic link.  At the default place (isdefault) it
 * must be owned by the effective uid with no permission for group or
 * others, as evbus makes it.  A path the user named (-s, $EVBUS_SOCKET)
 * may be in someone else's directory, but not in one that group or others
 * can write to: then only its owner can have put the socket there.  On
 * success *owner (may be NULL) is the directory's owner, for
 * ev_sockpeer_check.  -1 with err: EV_ERR_UNAVAILABLE when the directory
 * does not exist (no bus there; autostart may make it), EV_ERR_DENIED
 * when a rule is broken (the message names the directory, what was found
 * and what to do), EV_ERR_SYS when it cannot be looked at.
 */
int	ev_sockdir_check(const char *sockpath, bool isdefault, uid_t *owner,
	    struct ev_err *);
/*
 * Right after connect(2) on fd, before anything is written: does the
 * server (SO_PEERCRED: the uid that created the listening socket) run as
 * us or root, or, for a path the user named (!isdefault), as owner, the
 * owner of the socket's directory from ev_sockdir_check?  Naming a shared
 * bus's socket is how a user trusts the account that runs it.  0, or -1
 * with err EV_ERR_DENIED naming the server's uid (EV_ERR_SYS if the
 * credentials cannot be read).  The caller closes fd.
 */
int	ev_sockpeer_check(int fd, const char *sockpath, bool isdefault,
	    uid_t owner, struct ev_err *);

/*
 * stdfds.c: standard descriptors.  A program started with 0, 1 or 2 closed
 * would have its next open(2) or socket(2) land there, and then write its
 * output into its own socket or read the bus as its input.  Called first in
 * main(): opens /dev/null (O_RDWR) on each of 0, 1, 2 that is closed and
 * returns which were (EV_STD*_CLOSED bits), so that a program that needs
 * one can say so and exit.  -1 with errno when /dev/null cannot be opened
 * (the program must not go on).  Cost: three fcntl(2) calls.
 */
#define EV_STDIN_CLOSED		0x01
#define EV_STDOUT_CLOSED	0x02
#define EV_STDERR_CLOSED	0x04

int	ev_stdfds_open(void);

/*
 * client.c: a connection to evbusd.
 */
#define EV_CLIENT_AUTOSTART	0x01	/* start evbusd if none answers */
#define EV_CLIENT_NOWAIT	0x02	/* send HELLO, do not wait for it */

struct ev_client {
	int		  fd;
	char		  path[108];
	char		  name[32];
	int		  flags;
	char		  epoch[EV_EPOCH_LEN + 1];
	uint64_t	  last_seq;	/* the bus's newest seq at HELLO */
	size_t		  max_event;	/* the bus's event size limit; 0 while
					   the HELLO reply is awaited */
	bool		  hello_pending; /* EV_CLIENT_NOWAIT: HELLO unanswered */
	struct ev_decoder dec;
	struct ev_buf	  out;
};

/*
 * Connect to the bus at path (NULL: the default place), autostarting a
 * private evbusd when flags ask for it, the path is the default one and
 * $EVBUS_AUTOSTART is not 0; then shake hands.  Every connect (after an
 * autostart too) goes through ev_sockdir_check and ev_sockpeer_check: a
 * bus that may not be trusted is refused before HELLO is sent.  Waits at
 * most timeout_ms overall.  Returns 0, or -1 with err (EV_ERR_UNAVAILABLE
 * when no bus answers, EV_ERR_DENIED when it may not be trusted or
 * refuses us, EV_ERR_PROTO).
 */
int	ev_client_open(struct ev_client *, const char *path, const char *name,
	    int flags, int timeout_ms, struct ev_err *);
/*
 * With EV_CLIENT_NOWAIT, ev_client_open returns once HELLO is sent, so that
 * a one-shot client can send its request in the same round trip; its first
 * frame read must then go through this: 0 when it was the bus's HELLO
 * (epoch, last_seq, max_event are set), -1 with err (EV_ERR_DENIED, ...)
 * when the bus refused the connection or answered something else.
 */
int	ev_client_hello(struct ev_client *, const struct ev_frame *,
	    struct ev_err *);
/*
 * Tokens (an ACL's words for who a client is): printable ASCII without
 * spaces, at most EV_TOKEN_MAX bytes.  A client sends $EVBUS_TOKEN in its
 * HELLO; a program's --token-file reads one from a file only its owner
 * can read (ev_token_file: 0, or -1 with err, the token never echoed) and
 * sets $EVBUS_TOKEN.  Never on a command line, where ps(1) shows it.
 */
#define EV_TOKEN_MAX	127
int	ev_token_check(const char *, struct ev_err *);
int	ev_token_file(const char *path, char *out, size_t outlen,
	    struct ev_err *);
/* Close the connection and forget the buffers; open may be called again. */
void	ev_client_close(struct ev_client *);
/* Write all of out; poll while the socket is full.  -1 with err. */
int	ev_client_flush(struct ev_client *, int timeout_ms, struct ev_err *);
/*
 * Read until a whole frame is there: 1 with a frame, 0 on a clean end of
 * stream, -1 with err (EV_ERR_TIMEOUT after timeout_ms; -1 waits forever).
 */
int	ev_client_next(struct ev_client *, struct ev_frame *, int timeout_ms,
	    struct ev_err *);
/* Read what the socket has now into the decoder: >0, 0 at EOF, -1. */
ssize_t	ev_client_fill(struct ev_client *, struct ev_err *);

/*
 * lines.c: newline-delimited input from a descriptor.  Lines may be of any
 * length up to max; a longer one is dropped as it streams (never held
 * whole) and reported.  The last line counts without its newline.
 */
struct ev_lines {
	int		fd;
	struct ev_buf	buf;
	size_t		max;
	uint64_t	lineno;		/* of the line last returned */
	bool		eof;
	bool		skipping;	/* inside a line that is too long */
	size_t		skipped;
};

void	ev_lines_init(struct ev_lines *, int, size_t max);
void	ev_lines_free(struct ev_lines *);
/* One read(2): >0 bytes, 0 at end of input, -1 with err (or EAGAIN). */
ssize_t	ev_lines_fill(struct ev_lines *, struct ev_err *);
/*
 * The next whole line, without its newline: 1 with *line (valid until the
 * next fill), 0 when more input is needed (or at the end, when none is
 * left), -1 with err (EV_ERR_LIMIT) for a line longer than max, which is
 * then behind us; lineno says which line it was.
 */
int	ev_lines_next(struct ev_lines *, const char **, size_t *,
	    struct ev_err *);

/*
 * ring.c: the bus's recent events, oldest first, bounded by a count and
 * by bytes, and an index of their ids.  An event is kept as the stamped
 * JSON line the bus sends (the JSON and its '\n'); the "EVENT n\n" frame
 * header is built at send time (ev_msg_framehead), so that the same bytes
 * can go to subscribers and to a log.
 */

/*
 * One event as the bus stamped it, shared by reference count: the ring
 * holds one reference; a subscriber that has written part of it holds
 * another.  One allocation: the struct, line[], name and id.
 */
struct ev_msg {
	uint32_t	 refs;
	uint32_t	 len;		/* bytes of line[], its '\n' included */
	uint64_t	 seq;
	int64_t		 time;		/* ms since the epoch */
	const char	*name;		/* NUL-terminated, in the allocation */
	const char	*id;		/* NUL-terminated, "" for none */
	uint16_t	 namelen;
	uint16_t	 idlen;
	struct ev_target *target;	/* its filter compiled, or NULL; the
					   message owns it */
	char		 line[];	/* the JSON, '\n', then name, id */
};

/*
 * A new message (refs 1) holding json[0..len) and a '\n', and copies of
 * name[0..namelen) and id[0..idlen) (idlen 0: no id).  NULL with errno
 * ENOMEM, or EOVERFLOW when len + 1 does not fit in 32 bits or namelen or
 * idlen in 16.  Cost: one malloc and one copy of each part.
 */
struct ev_msg	*ev_msg_new(const char *json, size_t len, uint64_t seq,
		    int64_t time, const char *name, size_t namelen,
		    const char *id, size_t idlen);
void		 ev_msg_ref(struct ev_msg *);
/* Drop a reference; the last one frees the message.  NULL is fine. */
void		 ev_msg_unref(struct ev_msg *);
/*
 * Write "EVENT <len-1>\n" for m into buf (at least EV_FRAMEHEAD_MAX bytes)
 * followed by a NUL; returns the header's length, the NUL not counted.
 */
#define EV_FRAMEHEAD_MAX 32
size_t		 ev_msg_framehead(const struct ev_msg *, char *buf);

/*
 * The id index: open addressing with linear probing, the hash of each id
 * kept beside its message so that probing and moving compare hashes
 * without touching the messages.  It grows at half load and shrinks at an
 * eighth, each time into a new table that the pushes and evictions that
 * follow fill a few slots at a time (old holds the part not yet moved), so
 * that no single push pays for a whole rehash.
 */
struct ev_ring_idslot {
	uint64_t		 hash;
	struct ev_msg		*m;		/* NULL: empty */
};

struct ev_ring_idtab {
	struct ev_ring_idslot	*slot;
	size_t			 cap;		/* a power of two, or 0 */
	size_t			 n;
};

struct ev_ring_ids {
	struct ev_ring_idtab	 cur;		/* where new ids go */
	struct ev_ring_idtab	 old;		/* draining; cap 0: none */
	size_t			 oldpos;	/* next slot of old to move */
	size_t			 oldleft;	/* slots of old still to move */
};

/*
 * The events are consecutive in seq: the one with seq s is at slot
 * (head + s - first) & (cap - 1).  Slots are allocated as the ring fills,
 * doubling up to the power of two at or above max.  first, next, n,
 * bytes, max and maxbytes may be read directly; change them only through
 * the functions.
 */
struct ev_ring {
	struct ev_msg	**slot;
	size_t		  cap;		/* a power of two, or 0 */
	size_t		  head;		/* slot of the oldest event */
	size_t		  n;		/* events held */
	size_t		  max;		/* at most this many */
	size_t		  bytes;	/* sum of their len */
	size_t		  maxbytes;	/* at most this many bytes */
	uint64_t	  first;	/* seq of the oldest; next when empty */
	uint64_t	  next;		/* seq the next event gets */
	struct ev_ring_ids ids;
};

/*
 * An empty ring holding at most maxevents events (0 counts as 1) of at
 * most maxbytes bytes of lines in all, whose first event will be seq next.
 * Allocates nothing.
 */
void		 ev_ring_init(struct ev_ring *, size_t maxevents,
		    size_t maxbytes, uint64_t next);
/* Drop the ring's reference to every event and free the ring's memory. */
void		 ev_ring_free(struct ev_ring *);
/*
 * Append m, whose seq must be ev_ring_next(); the ring takes the caller's
 * reference, and indexes m by its id unless it has none.  The oldest
 * events are evicted (and unreferenced) until both bounds hold with m in;
 * m itself is always held, even alone over maxbytes.  Returns 0, or -1
 * with errno ENOMEM (some of the oldest may have been evicted already) or
 * EINVAL (a wrong seq, nothing done); m is then still the caller's.
 * Cost: O(1) amortized and per event evicted; growing the slots copies at
 * most half of them (memcpy); the id index moves a bounded number of
 * slots per push and per eviction, never a whole table.
 */
int		 ev_ring_push(struct ev_ring *, struct ev_msg *);
/* The held event with this seq (a borrowed reference), or NULL.  O(1). */
struct ev_msg	*ev_ring_get(const struct ev_ring *, uint64_t seq);
/*
 * A held event whose id is id[0..idlen) (borrowed), or NULL; when several
 * held events share an id, one of them.  idlen 0 finds nothing.
 * Cost: O(1) expected, one hash and a probe of each of the two tables.
 */
struct ev_msg	*ev_ring_find_id(const struct ev_ring *, const char *id,
		    size_t idlen);
uint64_t	 ev_ring_first(const struct ev_ring *);	/* next when empty */
uint64_t	 ev_ring_next(const struct ev_ring *);
size_t		 ev_ring_count(const struct ev_ring *);
size_t		 ev_ring_bytes(const struct ev_ring *);

/*
 * event.c, evfire's side: building an event from a name and a payload, and
 * editing an event on its own bytes (no tree, values copied byte for
 * byte).  At the end of event.c.
 */
enum ev_payload_mode {
	EV_PAYLOAD_AUTO,	/* JSON when the text is JSON, else a string */
	EV_PAYLOAD_JSON,	/* the text must be JSON */
	EV_PAYLOAD_STRING,	/* the text is a string, whatever it looks like */
};

/*
 * Append {"name":NAME,"payload":P} to out: P is payload[0..len) as the
 * mode says, or null when payload is NULL.  The name is not checked here
 * (ev_event_prepare and ev_event_edit do that).  Returns 0, or -1 with err
 * and out unchanged: EV_ERR_DATA when the payload is not JSON under
 * EV_PAYLOAD_JSON ("payload: invalid JSON at byte 3: ..."), or is to be a
 * string and is not valid UTF-8 or holds a NUL byte, or when the name is
 * not valid UTF-8; EV_ERR_SYS when out cannot grow.
 * Cost: one scan of the payload (two when it becomes a string), one copy.
 */
int	ev_event_build(struct ev_buf *out, const char *name, size_t namelen,
	    const char *payload, size_t len, enum ev_payload_mode,
	    struct ev_err *);

/* One member to set in an event's metadata. */
struct ev_metaset {
	const char	*key;		/* text (UTF-8), not JSON */
	size_t		 keylen;
	const char	*val;		/* a JSON value's text, copied as is */
	size_t		 vallen;
};

/* What ev_event_edit changes.  All zero: nothing. */
struct ev_edit {
	bool			 error;	/* "error":true, in place of the
					   event's own error field */
	bool			 newid;	/* a new id; the event's own id, if
					   any, goes to metadata.replay_of */
	const char		*id;	/* or this id (text); NULL: keep */
	size_t			 idlen;
	const struct ev_metaset	*meta;	/* members to set in metadata */
	size_t			 nmeta;
	const char		*target[EV_TARGET_KINDS];
					/* filter expressions (text, by
					   EV_TARGET_*; NULL: unset); any
					   set: the event's whole filter */
};

/*
 * ev_event_prepare with edits: check the event exactly as
 * ev_event_prepare does (the same refusals, duplicate fields included) and
 * append its bytes to out with ed applied as they are copied.  -e's error
 * replaces the event's error field where it stands, or is added.  The
 * metadata sets are merged into the event's metadata object: its other
 * members keep their bytes and order, a member whose key is set is
 * replaced where it first stands (later members with that key dropped),
 * the keys it did not have follow in the order of ed->meta; a key given
 * twice in ed->meta takes the later value.  The event's id is replaced by
 * ed->id, or with newid by a new UUID while the old one (its JSON bytes)
 * is set as metadata.replay_of, unless ed->meta sets that key too.  When
 * ed->target sets any expression, those expressions are the event's whole
 * filter, {"filter":{"node":..,"service":..,"tag":..}} with the ones set:
 * it replaces the event's own filter where that stands (the event's is
 * still checked first, as without the edit), or is added.  Every
 * value not edited passes byte for byte.  info describes the result: its
 * id is the new one, hadid false for a UUID made here, its targets the
 * edit's.  Returns 0, or -1 with err and out unchanged: as
 * ev_event_prepare, and EV_ERR_DATA for an ed->id that is not 1 to
 * EV_ID_MAX bytes of UTF-8 text without control characters, a metadata
 * key that is not valid UTF-8, or an expression of ed->target that is not
 * UTF-8, longer than EV_TARGET_MAX bytes or not a POSIX extended regular
 * expression ("filter.node: bad regular expression 'x(': ...").
 * Cost: that of ev_event_prepare, plus a scan of the metadata object and
 * an allocation of ed->nmeta bytes when metadata is set (and of the
 * metadata's member spans when it has more than 256), plus a regcomp per
 * expression of ed->target (a caller may check them once beforehand with
 * a trial edit; they are checked again for each event).
 */
int	ev_event_edit(const char *, size_t, const struct ev_prepare *,
	    const struct ev_edit *, struct ev_buf *out, struct ev_evinfo *,
	    struct ev_err *);

/*
 * publish.c: reliable publishing.  Events are queued as frames and kept
 * until the bus acknowledges them; when the connection is lost, the
 * publisher reconnects (for up to retry_ms) and sends again everything not
 * acknowledged.  Every event carries an id, so the bus drops the copies it
 * already had, and says so: such an event is acknowledged with the seq of
 * the copy it had and the dup flag.  The caller polls ev_pub_pollfd() and
 * calls ev_pub_io().  When the publisher gives up (ev_pub_io or
 * ev_pub_drain returned -1), what it had not got an answer for is still
 * queued: ev_pub_unacked() names those events, which may or may not be on
 * the bus.
 */
struct ev_publisher {
	struct ev_client c;
	const char	*path;		/* as given to ev_pub_open */
	char		 name[32];
	int		 flags;
	int64_t		 retry_ms;	/* how long to try to reconnect */
	struct ev_buf	 q;		/* frames not yet acknowledged */
	size_t		 sent;		/* bytes of q written on this link */
	bool		 reached;	/* events were written to a bus that
					   had accepted us: an unanswered one
					   may have been published */
	struct ev_pubent {
		uint64_t tag;
		size_t	 len;
		char	 id[EV_ID_MAX + 1];	/* the event's id, "" if none */
	}		*ent;		/* a ring of the frames in q */
	size_t		 entcap, enthead, nent;
	size_t		 maxq;		/* bytes of q before it is full */
	uint64_t	 reconnects;
	/* The bus has the event: seq is its place; dup: it had it already. */
	void		(*on_ack)(void *, uint64_t tag, uint64_t seq,
			    bool dup);
	void		(*on_reject)(void *, uint64_t tag, const char *code,
			    const char *text);
	void		(*on_reconnect)(void *, const char *epoch);
	void		*arg;
};

int	ev_pub_open(struct ev_publisher *, const char *path, const char *name,
	    int flags, struct ev_err *);
void	ev_pub_close(struct ev_publisher *);
/*
 * Queue one event (compact JSON with an id) under tag, the caller's number
 * for it, handed back to on_ack and on_reject.  id is the event's id as
 * text (NUL-terminated, decoded; NULL or "" when unknown), kept for
 * ev_pub_unacked: only its first EV_ID_MAX bytes.  -1 only when out of
 * memory.  Cost: the frame is copied once into the queue.
 */
int	ev_pub_queue(struct ev_publisher *, const char *, size_t, uint64_t tag,
	    const char *id, struct ev_err *);
/* Too much is waiting for acknowledgement: stop queueing, do I/O. */
bool	ev_pub_full(const struct ev_publisher *);
void	ev_pub_pollfd(const struct ev_publisher *, int *fd, short *events);
/*
 * Write what is unsent, read acknowledgements (calling on_ack/on_reject in
 * queue order).  On a lost connection, reconnects and re-sends; -1 with
 * err only when the bus stays away for retry_ms, or on a protocol error.
 */
int	ev_pub_io(struct ev_publisher *, short revents, struct ev_err *);
/* Do I/O until every queued event is acknowledged.  -1 with err. */
int	ev_pub_drain(struct ev_publisher *, struct ev_err *);
/*
 * The events queued and not answered yet: p->nent of them.  The i-th
 * (0: the oldest): true with its tag and id ("" when it was queued
 * without one; valid until the queue changes), false when i >= p->nent.
 */
bool	ev_pub_unacked(const struct ev_publisher *, size_t i, uint64_t *tag,
	    const char **id);

/*
 * sublist.c: subscriptions indexed by their patterns' tokens (a trie, as
 * NATS's sublist), so that an event costs work only for the subscribers
 * it may reach.  A subscriber is an opaque pointer; insert each of its
 * include patterns (checked by ev_pattern_check first), and "#" for a set
 * of exclusions only.  Match gives the subscribers with an include that
 * matches the name (the evbus. first-token rule applied), each once:
 * candidates, whose own exclusions and other rules the caller checks.
 * Results are cached by name until the next insert or remove.
 */
struct ev_sublist;
struct ev_sublist *ev_sublist_new(void);		/* NULL: ENOMEM */
void	ev_sublist_free(struct ev_sublist *);
/* 0, or -1 with errno ENOMEM (the list is unchanged but for empty nodes). */
int	ev_sublist_insert(struct ev_sublist *, const char *, size_t, void *);
/* Remove sub from pattern (nothing when it is not there). */
void	ev_sublist_remove(struct ev_sublist *, const char *, size_t, void *);
/*
 * The candidates for name: *subs[0..*nsubs), valid until the next call.
 * 0, or -1 with errno ENOMEM.  Cost: a hash lookup when cached; else a
 * walk of the trie along the name's tokens (each '#' may try every
 * suffix) and one copy of the result into the cache.
 */
int	ev_sublist_match(struct ev_sublist *, const char *, size_t,
	    void *const **subs, size_t *nsubs);

/*
 * target.c: Consul-style targeting.  A subscriber's identity (any part
 * may be NULL / empty: then an expression for it never matches):
 */
struct ev_identity {
	char	 *node;
	char	 *service;
	char	**tags;
	size_t	  ntags;
};
struct ev_target;
/*
 * Compile the filter expressions an event sets (info->targeted) as POSIX
 * extended regular expressions.  0 with *out (NULL-safe to free), or -1
 * with err (EV_ERR_DATA naming the field and regerror's words; EV_ERR_SYS
 * when out of memory).  Cost: a regcomp per expression.
 */
int	ev_target_compile(const struct ev_evinfo *, struct ev_target **,
	    struct ev_err *);
/*
 * Does the identity satisfy every expression the event sets (node against
 * the node, service against the service, tag against any tag)?  A NULL
 * target matches everybody.  Matching is unanchored.  Cost: a regexec per
 * expression (per tag for the tag expression).
 */
bool	ev_target_match(const struct ev_target *, const struct ev_identity *);
void	ev_target_free(struct ev_target *);
/* Does the event set any filter expression? */
bool	ev_event_targeted(const struct ev_evinfo *);
void	ev_identity_free(struct ev_identity *);

#endif /* EVBUS_H */
