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
/* where: a SUB's "where" filters */
#define EV_WHERE_MAX		16		/* filters in one SUB */
#define EV_WHERE_LEN		4096		/* bytes in one filter */
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
int	 ev_buf_write(struct ev_buf *, int fd);	/* all of it; -1 errno */
/* Append fd's bytes to its end, at most max + 1 of them; -1 errno. */
int	 ev_buf_read(struct ev_buf *, int fd, size_t max);
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
/* A random producer session id (evbus(7)): 16 hex digits and a NUL. */
void	ev_session_new(char out[17]);
void	ev_epoch_new(char out[EV_EPOCH_LEN + 1]);
/* Is s exactly EV_EPOCH_LEN hexadecimal digits (either case)? */
bool	ev_epoch_valid(const char *s);
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
/*
 * Producer sessions (evbus(7), feature "session"): a publisher keeps at
 * most this many events of its session unacknowledged, and the bus
 * remembers the seqs of that many of a session's latest numbers.
 */
#define EV_SESSION_WINDOW	4096

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
	bool		lent;		/* line is the caller's */
	char	       *line;		/* the words of the frame: maxline + 1
					   bytes, malloc'd at the first frame
					   unless lent */
};

void	ev_decoder_init(struct ev_decoder *, size_t maxline, size_t maxbody);
/*
 * Split frames in buf (EV_LINE_MAX + 1 bytes) instead of a buffer of the
 * decoder's own.  Decoders may share one buffer when each frame is done
 * with before the next is asked of any of them (a thousand connections of
 * a single-threaded server need one, not a thousand).
 */
void	ev_decoder_lend_line(struct ev_decoder *, char *buf);
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
 * acl.c: access control for a shared bus (evbusd -A FILE).
 *
 * The file holds one rule a line: "allow|deny PERMS PATTERN WHO...".
 * PERMS is fire, sub, list or all, or a comma list of them; PATTERN a
 * topic pattern (ev_pattern_check; a wildcard first token does not reach
 * names under "evbus."); WHO one or more of "user NAME|UID", "group
 * NAME|GID", "token SECRET", "token sha256:HEX" and "any".  Names are
 * resolved when the file is loaded; a plain token is kept only as its
 * SHA-256.  A line ending in '\' goes on on the next one; a word starting
 * with '#' where a rule or a WHO keyword may start begins a comment that
 * runs to the end of the line.
 *
 * A request is one permission, one event name and an identity.  Among the
 * entries (a rule with several WHO is one entry per WHO) whose permission,
 * WHO and PATTERN match, the most specific decides: first by WHO (token or
 * user 2, group 1, any 0), then by pattern (more literal tokens, then
 * fewer '#', then fewer '*'); among equally specific ones deny beats
 * allow.  Nothing matches: denied.  Root and the bus's owner (acl->owner,
 * the daemon's effective uid when the file was read) are allowed
 * everything.  A NULL acl (no -A) allows everything: then only the
 * owner and root may connect at all.
 */
#define EV_ACL_FIRE		0x01
#define EV_ACL_SUB		0x02
#define EV_ACL_LIST		0x04
#define EV_ACL_ALL		(EV_ACL_FIRE | EV_ACL_SUB | EV_ACL_LIST)
#define EV_ACL_HASH_LEN		32		/* SHA-256 */
#define EV_ACL_TOKEN_MIN	16		/* bytes in a plain token */
#define EV_ACL_FILE_MAX		(1024 * 1024)	/* bytes in an ACL file */

enum ev_acl_who {
	EV_ACL_WHO_ANY,
	EV_ACL_WHO_GROUP,
	EV_ACL_WHO_USER,
	EV_ACL_WHO_TOKEN,
};

/* One entry: one WHO of one rule.  Read it; change it only by parsing. */
struct ev_acl_ent {
	const char	*pat;		/* NUL-terminated */
	const char	*name;		/* user or group name as written, or
					   NULL (given as a number) */
	uint32_t	 rank;		/* specificity: higher decides */
	uint32_t	 id;		/* uid or gid */
	uint32_t	 seq;		/* entries before it in the file */
	unsigned	 line;		/* where the WHO was written */
	uint16_t	 patlen;
	uint8_t		 perms;		/* EV_ACL_* bits */
	uint8_t		 who;		/* enum ev_acl_who */
	bool		 allow;
	uint8_t		 ntok;		/* pattern tokens other than '#' */
	bool		 hashtok;	/* the pattern has a '#' */
	uint8_t		 pre;		/* bytes of the literal tokens before
					   the first wildcard (all of a
					   literal pattern) */
	uint8_t		 suf;		/* bytes of those after the last
					   wildcard; 0 without wildcard */
	uint8_t		 flags;		/* what names it may reach, inside */
	uint8_t		 hash[EV_ACL_HASH_LEN];	/* a token's SHA-256 */
};

/*
 * A loaded ACL: ent[] in the order entries are tried (precedence), which
 * is rank, higher first, deny before allow, then file order.
 */
struct ev_acl {
	struct ev_acl_ent	*ent;
	size_t			 nent;
	size_t			 nrules;	/* rules (logical lines) */
	uid_t			 owner;		/* always allowed; root too */
	unsigned		 plainline;	/* first plain token; 0: none */
	char			*file;		/* the name it was read from */
	char			*strings;	/* patterns and names */
};

/*
 * Who asks: the peer's credentials, its groups, the token it presented.
 * groups holds every group the user is in, gid included (malloc'd).
 */
struct ev_acl_id {
	uid_t		 uid;
	gid_t		 gid;
	gid_t		*groups;
	size_t		 ngroups;
	bool		 hastoken;
	uint8_t		 token[EV_ACL_HASH_LEN];	/* its SHA-256 */
	char		*user;		/* the user's name (malloc'd), or NULL
					   when the uid has no passwd entry */
};

/*
 * Parse ACL text[0..len) (name is what messages call it) into a new
 * *acl, owned by the caller (ev_acl_free); owner is set to geteuid().
 * Resolves user and group names with getpwnam/getgrnam.  Returns 0, or -1
 * with err "NAME:LINE: reason" (EV_ERR_DATA; EV_ERR_LIMIT past
 * EV_ACL_FILE_MAX; EV_ERR_SYS when out of memory or a lookup fails) and
 * *acl untouched.  Cost: linear in the text plus one lookup per name and
 * a sort of the entries.
 */
int	ev_acl_parse(const char *text, size_t len, const char *name,
	    struct ev_acl **acl, struct ev_err *err);
/*
 * Read and parse the file at path.  Refused (EV_ERR_DENIED, the message
 * naming the file, its mode or owner, and the fix): not a regular file,
 * owned by anyone but root or geteuid(), writable by group or others, or
 * readable by others while it holds a plain token.  Errors as
 * ev_acl_parse, EV_ERR_SYS when it cannot be read.  For a reload, load
 * into a new pointer and keep the old ACL when this fails.
 */
int	ev_acl_load(const char *path, struct ev_acl **acl, struct ev_err *);
/* Free an ACL; NULL is fine.  Views made from it must be gone first. */
void	ev_acl_free(struct ev_acl *);
/*
 * Append to out a description of the ACL: a comment header (the file,
 * counts, who is always allowed), then every entry in the order it is
 * tried, one a line, written as a rule with numeric ids and tokens as
 * sha256:HEX, followed by a comment with its line and the name as
 * written.  Without its comments the text parses to the same ACL.
 * 0, or -1 with errno ENOMEM.  Cost: linear in the entries.
 */
int	ev_acl_describe(const struct ev_acl *, struct ev_buf *out);

/*
 * Fill id from a peer's credentials: its name and groups from the user
 * database (getpwuid_r, then getgrouplist; a uid without an entry has no
 * name and only gid),
 * the SHA-256 of token[0..toklen) when token is not NULL.  Call it once a
 * connection, at HELLO: groups are read as they are then.  0, or -1 with
 * err EV_ERR_SYS (the user database failed; the caller must refuse, as a
 * deny rule for a group might be missed) and id empty.  Free with
 * ev_acl_id_free.  Cost: an NSS lookup of the user and of its groups.
 */
int	ev_acl_id_init(struct ev_acl_id *, uid_t, gid_t, const char *token,
	    size_t toklen, struct ev_err *);
void	ev_acl_id_free(struct ev_acl_id *);

/*
 * May id do perm (one of EV_ACL_FIRE, EV_ACL_SUB, EV_ACL_LIST) on the
 * event name[0..namelen)?  true for a NULL acl, root and the owner.
 * Token entries are compared in constant time.  Cost: a pass over the
 * entries, each tested on its permission and WHO, then on the name's
 * token count and first token, and only then matched (ev_pattern_match);
 * no allocation.  For a subscriber, a view (below) is cheaper.
 */
bool	ev_acl_check(const struct ev_acl *, const struct ev_acl_id *,
	    unsigned perm, const char *name, size_t namelen);
/*
 * Is id allowed perm on every name, those under "evbus." included?  true
 * for a NULL acl, root and the owner, and when an allow entry whose
 * pattern matches every name of each kind ('#', or 'evbus.#' for the
 * bus's own) comes before any deny entry for id that could match a name
 * of that kind.  A false answer only means the per-event check is needed.
 * Cost: a pass over the entries.
 */
bool	ev_acl_unrestricted(const struct ev_acl *, const struct ev_acl_id *,
	    unsigned perm);

/*
 * A view: the decision for one identity and one permission, prepared once
 * (at SUB) for the per-event check at delivery.  It holds the entries
 * that apply to the identity, in order, and a small cache of recent
 * decisions by name.  It points into the ACL: after a reload, make every
 * view again from the new ACL before freeing the old one.
 */
#define EV_ACL_MEMO		16		/* cached decisions */
#define EV_ACL_MEMO_NAME	48		/* longest name cached */

struct ev_acl_memo {
	uint32_t	hash;
	uint8_t		len;		/* 0: empty */
	bool		allow;
	char		name[EV_ACL_MEMO_NAME];
};

struct ev_acl_view {
	const struct ev_acl_ent	**ent;		/* the entries for id and perm */
	size_t			  nent;
	bool			  user_all;	/* every name not under evbus. */
	bool			  bus_all;	/* every name under evbus. */
	bool			  none;		/* no name at all */
	bool			  always;	/* no ACL, root or the owner */
	struct ev_acl_memo	 *memo;		/* EV_ACL_MEMO slots, or NULL */
};

/*
 * Prepare view for id and perm.  0, or -1 with err (EV_ERR_SYS, ENOMEM).
 * Zero-initialize view or free it before; ev_acl_view_free frees it.  The
 * identity may be freed afterwards.  Cost: a pass over the entries.
 */
int	ev_acl_view_init(struct ev_acl_view *, const struct ev_acl *,
	    const struct ev_acl_id *, unsigned perm, struct ev_err *);
/* Unrestricted: the per-event check always says yes. */
#define ev_acl_view_all(v)	((v)->user_all && (v)->bus_all)
/* Nothing allowed at all: a subscription would never receive anything. */
#define ev_acl_view_none(v)	((v)->none)
/*
 * The decision ev_acl_check would give for the view's identity and
 * permission.  Cost: nothing for an unrestricted kind of name; else a
 * hash of the name and a compare when the decision is cached, and the
 * view's entries only otherwise; no allocation.
 */
bool	ev_acl_view_check(struct ev_acl_view *, const char *name,
	    size_t namelen);
/*
 * Can the view allow any name that the pattern pat[0..len) (checked by
 * ev_pattern_check) matches?  false only when none can be: no entry that
 * could allow one overlaps the pattern before a deny entry that covers
 * all of it.  A true answer may be generous (deny entries that cover the
 * pattern only together are not added up): it says a subscription may
 * receive something, and each event is still checked.  Cost: for each of
 * the view's entries, an overlap test of two patterns, O(tokens x
 * tokens), no allocation.
 */
bool	ev_acl_view_reaches(const struct ev_acl_view *, const char *pat,
	    size_t len);
void	ev_acl_view_free(struct ev_acl_view *);

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
	char		  hellokeys[64]; /* more key=value words for HELLO */
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
/* ev_client_open, saying keys ("k=v k=v", at most 63 bytes) in HELLO. */
int	ev_client_open_keys(struct ev_client *, const char *path,
	    const char *name, const char *keys, int flags, int timeout_ms,
	    struct ev_err *);
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
 * another.  One record: the struct, line[], name and id -- either in the
 * ring's arena (ev_ring_add) or malloc'd alone (ev_msg_new).  An arena
 * record evicted while still referenced stays where it is, untouched by
 * the ring, until its last reference goes (the ring writes around it).
 */
struct ev_arena;
struct ev_msg {
	uint32_t	 refs;
	uint32_t	 len;		/* bytes of line[], its '\n' included */
	uint64_t	 seq;
	int64_t		 time;		/* ms since the epoch */
	const char	*name;		/* NUL-terminated, in the record */
	const char	*id;		/* NUL-terminated, "" for none */
	uint16_t	 namelen;
	uint16_t	 idlen;
	uint32_t	 flags;		/* EV_MSG_*, the ring's own */
	struct ev_target *target;	/* its filter compiled, or NULL; the
					   message owns it */
	struct ev_arena	*arena;		/* where the record is; NULL: alone */
	struct ev_msg	*pinnext;	/* evicted, still referenced: next */
	char		 line[];	/* the JSON, '\n', then name, id */
};
#define EV_MSG_PINNED	0x2		/* evicted while referenced */

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
 * The id index: generations of open-addressing tables (linear probing),
 * each slot an id's hash and its event's seq (plus one, so that zeroed
 * memory is empty).  New ids go into the newest generation; when it is
 * half full a new one starts, in the table of a generation whose ids are
 * all evicted when there is one of the right size.  Evicting an event
 * costs the index nothing: its slot is stale once its seq is below the
 * ring's first, and a slot is empty when its key is below its
 * generation's lo (written in an earlier use of the table), so a table
 * taken again needs no clearing.  Lookups probe the live generations,
 * newest first, and check a candidate against the ring by its seq.
 */
#define EV_RING_IDGENS	64
struct ev_ring_idslot {
	uint64_t		 hash;
	uint64_t		 key;		/* seq + 1; empty below lo */
};

struct ev_ring_idgen {
	struct ev_ring_idslot	*slot;
	size_t			 cap;		/* a power of two, or 0 */
	size_t			 n;		/* ids put in this use */
	uint64_t		 lo;		/* key of its first id */
	uint64_t		 last;		/* seq of its newest id */
};

struct ev_ring_ids {
	struct ev_ring_idgen	 gen[EV_RING_IDGENS];
	unsigned		 cur;		/* the newest generation */
	unsigned		 ngen;		/* live ones, ending at cur */
};

/*
 * The events are consecutive in seq: the one with seq s is at slot
 * (head + s - first) & (cap - 1).  The slots are mapped at the first push
 * for the power of two at or above max (pages are touched as the ring
 * fills); the arena, the events' bytes, likewise (see ev_ring_add).
 * first, next, n, bytes, max and maxbytes may be read directly; change
 * them only through the functions.
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
	/* The arena (ev_ring_add); arenasize may be set before the first
	   add to size it (0: from the bounds, see ev_ring_add). */
	struct ev_arena	 *arena;
	size_t		  arenasize;
	uint64_t	  aseq;		/* no arena event before this seq */
	uint64_t	  spilled;	/* events the arena had no room for */
};

/*
 * An empty ring holding at most maxevents events (0 counts as 1) of at
 * most maxbytes bytes of lines in all, whose first event will be seq next.
 * Allocates nothing.
 */
void		 ev_ring_init(struct ev_ring *, size_t maxevents,
		    size_t maxbytes, uint64_t next);
/*
 * Drop the ring's reference to every event and free the ring's memory;
 * the arena stays mapped until the last reference to a record in it
 * (one the caller still holds) is dropped.
 */
void		 ev_ring_free(struct ev_ring *);
/*
 * Append m, whose seq must be ev_ring_next(); the ring takes the caller's
 * reference, and indexes m by its id unless it has none.  The oldest
 * events are evicted (and unreferenced) until both bounds hold with m in;
 * m itself is always held, even alone over maxbytes.  Returns 0, or -1
 * with errno ENOMEM (some of the oldest may have been evicted already) or
 * EINVAL (a wrong seq, nothing done); m is then still the caller's.
 * Cost: O(1) and per event evicted (the first push maps the slots); the
 * id index moves a bounded number of slots per push and per eviction,
 * never a whole table.
 */
int		 ev_ring_push(struct ev_ring *, struct ev_msg *);
/*
 * Append the event with seq ev_ring_next() whose stamped JSON is
 * json[0..len), copied with a '\n', name[0..namelen) and id[0..idlen)
 * into one record in the ring's arena; flags EV_RING_INDEX indexes it by
 * its id (idlen > 0).  Returns the message, a reference the ring holds
 * (take one with ev_msg_ref to keep it past its eviction), or NULL with
 * errno ENOMEM or EOVERFLOW (as ev_msg_new; also for an indexed event
 * with the seq UINT64_MAX), the ring unchanged but for evictions.  Evicts as ev_ring_push does: the ring holds exactly what
 * its bounds allow.
 * The arena: one anonymous mapping reserved at the first add (address
 * space only, MAP_NORESERVE) of maxbytes plus an allowance of about 200
 * bytes per event for its header, name and id (r->arenasize overrides; at
 * most 64 GiB), advised for huge pages beyond its first 2 MiB.  Records
 * are written one after the other, in seq order, going back to the start
 * at the end, or sooner: when the next record would touch fresh memory
 * and the oldest has left room at the start (a sixteenth of the arena, at
 * most 2 MiB, and at least four of the largest record yet, beyond the
 * record).  So its pages are touched as the ring
 * first fills, and resident memory follows what the ring holds, not its
 * allowance.  A referenced record that
 * was evicted is written around.  An event for which the arena has no
 * room (one larger than the allowance, in a ring at both bounds; pinned
 * records in the way; after an early return to the start, one much larger
 * than any before it, until the oldest records make way) is malloc'd
 * alone instead: r->spilled counts those.
 * Cost: O(1) and per event evicted, one copy of the bytes; no system call
 * after the first add; a step per pinned record when there are any.
 */
#define EV_RING_INDEX	0x1
struct ev_msg	*ev_ring_add(struct ev_ring *, const char *json, size_t len,
		    int64_t time, const char *name, size_t namelen,
		    const char *id, size_t idlen, int flags);
/* The held event with this seq (a borrowed reference), or NULL.  O(1). */
struct ev_msg	*ev_ring_get(const struct ev_ring *, uint64_t seq);
/*
 * A held event whose id is id[0..idlen) (borrowed), or NULL; when several
 * held events share an id, one of them.  idlen 0 finds nothing.
 * Cost: O(1) expected, one hash and a probe of each of the two tables.
 */
/*
 * A 64-bit hash of an id's bytes, eight at a time (ids are mostly 36-byte
 * UUIDs); the ring's index and a subscriber's de-duplication window share
 * it.  Not for adversaries: probing is bounded by load.
 */
uint64_t	 ev_id_hash(const char *, size_t);
struct ev_msg	*ev_ring_find_id(const struct ev_ring *, const char *id,
		    size_t idlen);
uint64_t	 ev_ring_first(const struct ev_ring *);	/* next when empty */
uint64_t	 ev_ring_next(const struct ev_ring *);
size_t		 ev_ring_count(const struct ev_ring *);
size_t		 ev_ring_bytes(const struct ev_ring *);
/* The most bytes of the arena touched (a high-water mark). */
size_t		 ev_ring_memory(const struct ev_ring *);
/* Ids in the index of events still held (a slow count, for tests). */
size_t		 ev_ring_ids_live(const struct ev_ring *);

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
	/* evroute's fire:TEMPLATE: the new name (text), checked as a
	   producer's name; NULL: keep the event's */
	const char		*name;
	size_t			 namelen;
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
 * ed->name replaces the event's name where it stands ("name: ..." when
 * it is not a valid name, EV_ERR_DENIED under "evbus.").
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
 * crc32c.c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of the store's records.  crc is 0 to start, or the value so far
 * to continue: ev_crc32c(ev_crc32c(0, a, n), b, m) is the CRC of a then b.
 * ev_crc32c uses the CPU's crc32 instruction when there is one;
 * ev_crc32c_soft always the tables (the same values, for tests).
 * Cost: one pass; about a byte a cycle with tables, 8 with the instruction.
 */
uint32_t ev_crc32c(uint32_t crc, const void *, size_t);
uint32_t ev_crc32c_soft(uint32_t crc, const void *, size_t);

/*
 * store.c, store_read.c, store_check.c: the durable log of evstore(1) and
 * evbusd --store (evstore(1) documents the format).  A log is a directory
 * of append-only segments named by the first seq they may hold; each
 * record is one event as the bus stamped it (the JSON line, starting
 * {"seq":N,"id":"...",) with its seq, its time and two CRC-32Cs; a sparse
 * index per segment, rebuilt from the segment whenever it is missing or
 * wrong, finds a seq, a time or the last records in O(log n).  One writer
 * at a time (flock on DIR/lock); any number of readers beside it.
 */
#define EV_STORE_SEGMENT_DEFAULT (64 * 1024 * 1024) /* bytes a segment */
#define EV_STORE_SEGMENT_MIN	4096
#define EV_STORE_BATCH_MS	10	/* group commit: at most this late */
#define EV_STORE_BATCH_N	1000	/* ... or after this many records */
/* The longest line a record holds: the largest event the bus can take
   (-m 16M), stamped, and its newline. */
#define EV_STORE_LINE_MAX	(EV_EVENT_MAX_LIMIT + 4096)

enum ev_store_sync {
	EV_STORE_SYNC_BATCH = 0,	/* fsync every batch_ms or batch_n */
	EV_STORE_SYNC_ALWAYS,		/* fsync as soon as a record waits */
	EV_STORE_SYNC_NONE,		/* never: durable once written */
};

/* Parse "always", "batch" or "none"; -1 for anything else. */
int	ev_store_sync_parse(const char *, enum ev_store_sync *);

struct ev_store_opts {
	enum ev_store_sync sync;
	int64_t		 batch_ms;	/* 0: EV_STORE_BATCH_MS */
	size_t		 batch_n;	/* 0: EV_STORE_BATCH_N */
	uint64_t	 segment_bytes;	/* 0: EV_STORE_SEGMENT_DEFAULT */
	uint32_t	 index_every;	/* bytes between index entries of new
					   segments; 0: 64 KiB, at least 256 */
	bool		 background;	/* fsync in a thread: ev_store_pollfd */
	/* What opening found and did, one sentence a call ("DIR/N.seg: torn
	   tail cut: ..."); NULL: not told.  The text is valid during the
	   call. */
	void		(*note)(void *arg, const char *text);
	void		*arg;
};

/* What ev_store_open found at the end of the log and did about it. */
struct ev_store_recovery {
	uint64_t	 cut_bytes;	/* torn tail cut from the last segment */
	uint64_t	 cut_offset;	/* where it started */
	uint64_t	 cut_first;	/* seqs of the records cut whose header */
	uint64_t	 cut_last;	/* was whole; 0: none */
	bool		 quarantined;	/* the cut bytes were saved aside */
	unsigned	 indexes;	/* indexes rebuilt */
	unsigned	 damaged;	/* old segments found damaged (left as
					   they are for evstore repair) */
};

struct ev_store;

/*
 * Open the log in dir for appending, creating dir and the log if needed,
 * with options o (NULL: the defaults).  Takes the writer's lock at once or
 * fails: -1 with err EV_ERR_TIMEOUT ("in use by another writer (pid N)",
 * a temporary failure).  Then the end of the log is checked: a torn tail
 * (an incomplete record, or bad bytes with no valid record after them) is
 * cut, saved under dir/quarantine/ unless it was only the start of a
 * record, and reported through rec (may be NULL) and o->note; bad bytes
 * followed by valid records are corruption in the middle: -1 with err
 * EV_ERR_DATA naming the segment and offset (evstore repair).  Indexes
 * found missing or wrong are rebuilt.  Other errors: EV_ERR_SYS.
 * *stp is the caller's, for ev_store_close.  Cost: the last segment from
 * its last good index entry, plus two reads per older segment.
 */
int	ev_store_open(struct ev_store **stp, const char *dir,
	    const struct ev_store_opts *o, struct ev_store_recovery *rec,
	    struct ev_err *err);
/*
 * Make everything appended durable as the sync policy says (written, and
 * fsynced unless it is "none"), stop the background thread, release the
 * lock and free st (always, even on failure).  -1 with err when the last
 * writes or fsync failed: then what was not durable before may be lost.
 */
int	ev_store_close(struct ev_store *st, struct ev_err *err);

/*
 * Append one event: json[0..len) is its stamped line without the newline,
 * starting {"seq":seq,"id":" (as ev_event_stamp and ev_store_prepare make
 * it); time is its time (ms since the epoch).  seq must be greater than
 * ev_store_last_seq().  The record is buffered (and written out when the
 * buffer is full); it is durable once ev_store_durable_seq() reaches seq.
 * May roll to a new segment, which writes and fsyncs the old one first.
 * -1 with err: EV_ERR_DATA (seq not after the last, line not in that
 * form), EV_ERR_LIMIT (longer than EV_STORE_LINE_MAX), EV_ERR_SYS (a
 * write failed: the store is then failed, every later call fails, and
 * nothing after the last durable seq is acknowledged).
 * Cost: a copy and a CRC of the line; a write(2) per 256 KiB.
 */
int	ev_store_append(struct ev_store *st, uint64_t seq, int64_t time,
	    const char *json, size_t len, struct ev_err *err);
uint64_t ev_store_last_seq(const struct ev_store *);	/* 0: empty log */
/* Every record up to this seq is durable (fsynced, or written with none). */
uint64_t ev_store_durable_seq(const struct ev_store *);

/*
 * Group commit, for a poll loop.  ev_store_timeout: milliseconds from now
 * (CLOCK_MONOTONIC ms, ev_mono_ms) until ev_store_flush has work that is
 * due (0: now), -1 when nothing waits but a background fsync already
 * running (its pollfd will say) or nothing at all.  ev_store_flush: write
 * what is buffered and, when the policy says one is due and none is
 * running, start an fsync (in the background thread, or here when the
 * store has none); collect a finished background fsync, advancing the
 * durable seq.  With o->background, ev_store_pollfd is a descriptor that
 * becomes readable when a background fsync finishes (call ev_store_flush
 * then); -1 without.  ev_store_flush returns 0, or -1 with err when a
 * write or fsync failed (the store is then failed).  Cost: at most one
 * write(2) and, without the thread, one fdatasync(2).
 */
int	ev_store_timeout(const struct ev_store *st, int64_t now_ms);
int	ev_store_flush(struct ev_store *st, int64_t now_ms,
	    struct ev_err *err);
int	ev_store_pollfd(const struct ev_store *st);
/*
 * Write and fsync everything appended now (only write with sync none),
 * waiting for a background fsync that is running.  Blocking.  -1 with err
 * when that fails.
 */
int	ev_store_sync(struct ev_store *st, struct ev_err *err);

/*
 * Check one line of NDJSON input as an event (ev_event_prepare's rules,
 * the bus's own evbus.* names allowed: they are history too) and append
 * to out the line to store: the line itself when it already starts
 * {"seq":N,"id":"...", and has its time and payload, else the event
 * rebuilt in that form (seq and id first, then origin when given, then
 * the other fields as written, payload and time added when absent, as the
 * bus adds them).  A seq in the line must be a positive integer greater
 * than last; without one the event gets last + 1.  0 with *seq and *time,
 * or -1 with err (EV_ERR_DATA, EV_ERR_LIMIT) and out unchanged.
 * Cost: two scans of the line, one copy.
 */
int	ev_store_prepare(const char *line, size_t len, uint64_t last,
	    int64_t now_ms, struct ev_buf *out, uint64_t *seq, int64_t *time,
	    struct ev_err *err);

/*
 * The name of a stored event (its line, with or without the newline),
 * decoded, into buf[0..EV_NAME_MAX] with a NUL; 0 with *len, -1 when the
 * line is not a JSON object with a string name of at most EV_NAME_MAX
 * bytes.  Cost: one scan of the line (about 100 ns for 200 bytes).
 */
int	ev_store_event_name(const char *line, size_t len, char *buf,
	    size_t *namelen);

/* One record, as a reader returns it. */
struct ev_record {
	uint64_t	 seq;
	int64_t		 time;		/* ms since the epoch */
	const char	*line;		/* the JSON and its '\n' */
	size_t		 len;		/* bytes of line, '\n' included */
};

struct ev_store_reader;

/*
 * Open the log in dir for reading, at its first record.  No lock: readers
 * go along with a writer, seeing each record once it is whole.  -1 with
 * err EV_ERR_SYS when dir cannot be read (ENOENT: no log there).
 * Memory: a read buffer (1 MiB, or one record when longer) and one
 * segment's index at a time.
 */
int	ev_store_reader_open(struct ev_store_reader **, const char *dir,
	    struct ev_err *err);
void	ev_store_reader_close(struct ev_store_reader *);
/*
 * The next record: 1 with *rec (its line valid until the next call), 0 at
 * the end for now (call again later: a writer may add more; see
 * ev_store_reader_fd), -1 with err EV_ERR_DATA when the log is damaged
 * there ("DIR/N.seg: offset X: ..."; the reader then stays at that point)
 * or EV_ERR_SYS.  An incomplete record at the end of the last segment is
 * the end for now (a writer is writing it, or a torn tail that the next
 * writer cuts).  Segments removed by compaction while reading are
 * skipped to the oldest one left.  Cost: a CRC and a copy of the record
 * at most; a read(2) per MiB.
 */
int	ev_store_next(struct ev_store_reader *, struct ev_record *rec,
	    struct ev_err *err);
/*
 * Position the reader (its next record) at the first record with seq >=
 * seq; at the first record from which on no earlier one has a time >= ms
 * (times need not grow: a caller selecting by time still checks each);
 * or at the start of the last n records for which match (NULL: any)
 * returns true, counting back from the end, match seeing every record in
 * that stretch twice.  -1 with err as for ev_store_next.
 * Cost: O(log n) reads to find the segment and the index entry, then a
 * scan of at most one index interval (64 KiB) -- seek_last scans its
 * intervals from the end until it has counted n matches.
 */
int	ev_store_seek_seq(struct ev_store_reader *, uint64_t seq,
	    struct ev_err *err);
int	ev_store_seek_time(struct ev_store_reader *, int64_t ms,
	    struct ev_err *err);
int	ev_store_seek_last(struct ev_store_reader *, uint64_t n,
	    bool (*match)(void *, const struct ev_record *), void *arg,
	    struct ev_err *err);
/*
 * A descriptor that becomes readable when the log's directory changes
 * (inotify), for following: poll it after ev_store_next returned 0, then
 * call ev_store_next again (which drains it).  -1 with err when inotify
 * is not available (poll on a timer instead).
 */
int	ev_store_reader_fd(struct ev_store_reader *, struct ev_err *err);

/* Callbacks for the walks over a whole log (verify, repair, compact). */
struct ev_store_walk {
	/* A finding: error true for damage (verify fails), false for a
	   note (what repair or compact did, a torn tail). */
	void		(*report)(void *arg, bool error, const char *text);
	/* Bytes of segments done out of total, now and then. */
	void		(*progress)(void *arg, uint64_t done, uint64_t total);
	void		*arg;
	/* Filled in by the walk. */
	uint64_t	 segments;
	uint64_t	 records;
	uint64_t	 bytes;		/* of the segments */
	uint64_t	 first_seq;	/* 0: no record */
	uint64_t	 last_seq;
	uint64_t	 errors;	/* damage found (verify) or left */
	uint64_t	 removed;	/* records removed (compact) or moved
					   to quarantine (repair) */
	uint64_t	 removed_bytes;
	uint64_t	 removed_first;	/* their seqs, 0: none */
	uint64_t	 removed_last;
};

/*
 * Check everything: every segment's header, every record (structure,
 * both CRCs, seqs increasing across the log, its line a valid event whose
 * seq and time are the record's) and every index against the one rebuilt
 * from its segment.  Each problem goes to w->report with the segment and
 * offset; an incomplete record at the end of the last segment is a note.
 * Read-only, no lock.  0 when the walk finished (w->errors says whether
 * it found damage), -1 with err when it could not read.
 */
int	ev_store_verify(const char *dir, struct ev_store_walk *w,
	    struct ev_err *err);
/*
 * Take the writer's lock and mend what verify finds: bad bytes (a damaged
 * record or header, a record out of seq order, a torn tail) are moved,
 * byte for byte, to dir/quarantine/<segment>-<offset>.bad and the segment
 * is rewritten without them (write new, fsync, rename, fsync the
 * directory); indexes are rebuilt.  Valid records are all kept.  Each
 * thing done is a note.  0, or -1 with err (EV_ERR_TIMEOUT when a writer
 * has the log).
 */
int	ev_store_repair(const char *dir, struct ev_store_walk *w,
	    struct ev_err *err);
/*
 * Retention, on an open store: remove the oldest records while each of
 * them and all before it are older than keep_ms before now_ms (keep_ms <
 * 0: no age limit), and then while the segments are over max_bytes in
 * all (0: no size limit).  Whole segments are unlinked oldest first; a
 * segment cut inside is rewritten (write new, fsync, rename, fsync the
 * directory); a cut inside the segment being appended to first starts a
 * new one, so that seqs go on.  A crash at any point leaves a log that
 * opens, with no record both kept and lost.  w->removed* say what went.
 * 0, or -1 with err.
 */
int	ev_store_compact(struct ev_store *st, int64_t keep_ms,
	    uint64_t max_bytes, int64_t now_ms, struct ev_store_walk *w,
	    struct ev_err *err);

/* What ev_store_stats finds. */
struct ev_store_stats {
	uint64_t	 segments;
	uint64_t	 records;
	uint64_t	 bytes;		/* of the segments */
	uint64_t	 index_bytes;
	uint64_t	 first_seq;	/* 0: no record */
	uint64_t	 last_seq;
	int64_t		 first_time;	/* of the first and last records */
	int64_t		 last_time;
	uint64_t	 next_seq;	/* what the next record would get */
};

/*
 * Count a log without reading all of it: the indexes' totals, and the
 * records after the last index entry of the last segment.  -1 with err
 * (EV_ERR_DATA when a segment must be read and is damaged).
 */
int	ev_store_stats(const char *dir, struct ev_store_stats *,
	    struct ev_err *err);

/*
 * publish.c: reliable publishing.  Events are queued and kept until the
 * bus acknowledges them; when the connection is lost, the publisher
 * reconnects (for up to retry_ms) and sends again everything not
 * acknowledged.  The publisher has a producer session (evbus(7)): a
 * random id said in HELLO and kept across reconnects, and a number for
 * each event (PUB n s=K), so that the bus knows a copy it already has
 * and says so: such an event is acknowledged with the seq of the copy it
 * had and the dup flag.  Events whose producer chose the id (EV_PUB_OWNID)
 * are also de-duplicated by id (PUB ... dedup=id).  The caller polls
 * ev_pub_pollfd() and calls ev_pub_io().  When the publisher gives up
 * (ev_pub_io or ev_pub_drain returned -1), what it had not got an answer
 * for is still queued: ev_pub_unacked() names those events, which may or
 * may not be on the bus.
 *
 * The queue holds the events' JSON in chunks of about 256 KiB, written
 * in place by the caller (ev_pub_space, ev_pub_commit): frame headers are
 * made as the events are sent, and a chunk is reused once every event in
 * it is acknowledged, so that nothing is copied or moved after the event
 * is written.
 */
struct ev_pubchunk {
	struct ev_buf	 b;		/* events' JSON, each with its '\n' */
	size_t		 nent;		/* queued events in it */
};

struct ev_publisher {
	struct ev_client c;
	const char	*path;		/* as given to ev_pub_open */
	char		 name[32];
	int		 flags;
	int64_t		 retry_ms;	/* how long to try to reconnect */
	char		 session[17];	/* 16 hex digits */
	uint64_t	 nextk;		/* the next event's number, from 1 */
	struct ev_pubchunk *chunk;	/* a ring of chunks */
	size_t		 chunkcap, chunkhead, nchunk;
	size_t		 qbytes;	/* JSON bytes queued */
	size_t		 sendi;		/* the event being sent (0: oldest) */
	size_t		 sendoff;	/* bytes of its frame written */
	bool		 reached;	/* events were written to a bus that
					   had accepted us: an unanswered one
					   may have been published */
	struct ev_pubent {
		uint64_t tag;
		uint64_t k;		/* its number in the session */
		size_t	 chunk;		/* index in the chunk ring */
		size_t	 off;		/* where in that chunk */
		size_t	 len;		/* JSON bytes and '\n' */
		bool	 ownid;
		char	 id[EV_ID_MAX + 1];	/* the event's id, "" if none */
	}		*ent;		/* a ring of the queued events */
	size_t		 entcap, enthead, nent;
	size_t		 maxq;		/* bytes queued before it is full */
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
 * Where the next event's JSON may be written in place: append it (and
 * nothing else) to the buffer returned, then call ev_pub_commit with the
 * buffer's unread length from before (mark), or ev_buf_truncate it back
 * to mark to give up.  NULL with err only when out of memory.
 */
struct ev_buf *ev_pub_space(struct ev_publisher *, size_t *mark,
	    struct ev_err *);
/*
 * Queue the event written since mark under tag, the caller's number for
 * it, handed back to on_ack and on_reject.  id is the event's id as text
 * (NUL-terminated, decoded; NULL or "" when unknown), kept for
 * ev_pub_unacked: only its first EV_ID_MAX bytes.  flags: EV_PUB_OWNID
 * when the event's producer chose its id (the bus then de-duplicates it
 * by id too).  -1 only when out of memory (the event is then dropped from
 * the buffer).  Cost: O(1); no copy.
 */
#define EV_PUB_OWNID	0x1
int	ev_pub_commit(struct ev_publisher *, size_t mark, uint64_t tag,
	    const char *id, int flags, struct ev_err *);
/* ev_pub_space, a copy of json[0..len) and ev_pub_commit. */
int	ev_pub_queue(struct ev_publisher *, const char *, size_t, uint64_t tag,
	    const char *id, int flags, struct ev_err *);
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
/*
 * A subscriber's identity as evsub and evlist take it (--node, --service,
 * --tag): node, service, or tags given (non-NULL, ntags > 0) win over
 * $EVBUS_NODE, $EVBUS_SERVICE and $EVBUS_TAGS (tags separated by commas,
 * spaces around them dropped, empty ones skipped); without either, the
 * node is the host name (gethostname(2)), the rest none.  An empty value
 * (given or from the environment) declares none, so EVBUS_NODE= keeps
 * the host name out.  Each name must be at most EV_NAME_MAX bytes, tags
 * at most EV_IDENTITY_TAGS of them (what the bus accepts in SUB).  Fills
 * id with copies (the caller frees it with ev_identity_free).  0, or -1
 * with err (EV_ERR_DATA naming the option or variable; EV_ERR_SYS), id
 * then empty.  Cost: a few small allocations.
 */
#define EV_IDENTITY_TAGS	64
int	ev_identity_init(struct ev_identity *, const char *node,
	    const char *service, char *const *tags, size_t ntags,
	    struct ev_err *);

/*
 * index.c: evlist's index, a position on one run of a bus: "EPOCH:SEQ"
 * (the bus's epoch, 16 hexadecimal digits, and a seq), or a bare "SEQ"
 * that belongs to whatever run the bus is in.  ev_index_parse: 0 with
 * epoch ("" for a bare seq, else the digits in lower case) and *seq, or
 * -1 with err (EV_ERR_DATA saying what is wrong; a trailing newline is
 * forgiven, as $(cat file) and read keep one).  ev_index_format writes
 * "EPOCH:SEQ", or "SEQ" for an empty epoch, to out (at least
 * EV_INDEX_LEN + 1 bytes).
 */
#define EV_INDEX_LEN	(EV_EPOCH_LEN + 1 + 20)
int	ev_index_parse(const char *, char epoch[EV_EPOCH_LEN + 1],
	    uint64_t *seq, struct ev_err *);
void	ev_index_format(char *out, const char *epoch, uint64_t seq);

/*
 * loop.c: a small event loop on poll(2), in the spirit of early Redis's
 * ae.c: descriptors with a read and a write callback, one-shot timers on
 * CLOCK_MONOTONIC (milliseconds), and child processes whose exit is a
 * callback (through a pidfd in the same poll set: no signal handler, no
 * SIGCHLD).  The loop blocks in poll(2) and nowhere else; it never sleeps.
 *
 * One turn: poll until a descriptor is ready or the nearest timer is due;
 * call the callbacks of the ready descriptors in the order they were
 * registered (for one descriptor, read before write), then those of the
 * due timers, earliest first, timers due at the same time in the order
 * they were added.  Callbacks may add and remove anything, themselves
 * included, with these guarantees: a descriptor removed, or a timer or
 * child deleted, is not called afterwards, even for readiness already
 * seen in this turn; a descriptor, timer or child added during a turn is
 * first considered in the next turn (a timer of 0 ms added by a timer
 * does not run in the same turn, so a timer cannot starve the
 * descriptors).  A read callback is also called on hang-up and error
 * (its read(2) then says what happened).  A descriptor must be removed
 * before it is closed: one closed while registered makes ev_loop_run fail
 * with EBADF.
 *
 * Meant for a handful of descriptors and timers: each call and each turn
 * costs time linear in their number (no allocation per turn once the
 * arrays have grown).  Single-threaded; nothing here may be called from a
 * signal handler.  The caller owns the struct (ev_loop_init, then
 * ev_loop_free) and every descriptor it registers; the loop owns the
 * pidfds it opens for children.
 */
#define EV_LOOP_READ	0x01
#define EV_LOOP_WRITE	0x02

struct ev_loop;
typedef void	ev_loop_fd_fn(struct ev_loop *, int fd, void *arg);
typedef void	ev_loop_timer_fn(struct ev_loop *, uint64_t id, void *arg);
/* status as from waitpid(2); -1 when the child was reaped elsewhere. */
typedef void	ev_loop_child_fn(struct ev_loop *, pid_t, int status,
		    void *arg);

struct ev_loopfd {
	int		  fd;		/* -1: removed during this turn */
	int		  mask;		/* EV_LOOP_READ | EV_LOOP_WRITE */
	ev_loop_fd_fn	 *rfn;
	ev_loop_fd_fn	 *wfn;
	ev_loop_child_fn *cfn;		/* a child's pidfd: its callback */
	pid_t		  pid;		/* and the child; else 0 */
	void		 *arg;
};

struct ev_looptimer {
	int64_t		  when;		/* ev_mono_ms() time */
	uint64_t	  id;
	ev_loop_timer_fn *fn;
	void		 *arg;
};

struct pollfd;

struct ev_loop {
	struct ev_loopfd    *fds;	/* in registration order */
	size_t		     nfds, fdcap;
	struct pollfd	    *pfd;	/* this turn's poll set */
	size_t		     pfdcap;
	struct ev_looptimer *timers;	/* a min-heap on (when, id) */
	size_t		     ntimers, timercap;
	uint64_t	     nextid;	/* of the next timer; ids start at 1 */
	int		     depth;	/* > 0 while callbacks run */
	bool		     holes;	/* fds has removed entries to drop */
	bool		     stop;
};

void	ev_loop_init(struct ev_loop *);
/* Free the loop's memory and close its pidfds; the caller's fds stay open. */
void	ev_loop_free(struct ev_loop *);
/*
 * Watch fd: call rfn when it is readable (mask EV_LOOP_READ), wfn when it
 * is writable (EV_LOOP_WRITE); a callback for a bit not in mask may be
 * NULL.  Replaces an earlier registration of fd.  0, or -1 with err:
 * EV_ERR_DATA (fd < 0, unknown bits), EV_ERR_SYS (out of memory).
 */
int	ev_loop_fd_add(struct ev_loop *, int fd, int mask, ev_loop_fd_fn *rfn,
	    ev_loop_fd_fn *wfn, void *arg, struct ev_err *);
/*
 * Change which of fd's callbacks are wanted (0: neither, but stay
 * registered).  -1 with errno ENOENT when fd is not registered.
 */
int	ev_loop_fd_mask(struct ev_loop *, int fd, int mask);
/* Stop watching fd (nothing when it is not registered).  Does not close. */
void	ev_loop_fd_del(struct ev_loop *, int fd);
/*
 * Call fn once, ms milliseconds from now (negative: as 0).  Returns the
 * timer's id, never 0; 0 with errno ENOMEM when it cannot be added.
 */
uint64_t ev_loop_timer_add(struct ev_loop *, int64_t ms, ev_loop_timer_fn *,
	    void *arg);
/* Cancel a timer: true if it was pending (false for 0, or one that ran). */
bool	ev_loop_timer_del(struct ev_loop *, uint64_t id);
/*
 * Call fn once when the child pid exits, after reaping it.  pid must be a
 * child of ours not yet waited for; a program whose SIGCHLD is ignored
 * has no children to wait for (fn then gets status -1).  0, or -1 with err
 * (EV_ERR_SYS: no such process, or pidfd_open(2) not supported by the
 * kernel, Linux before 5.3).
 */
int	ev_loop_child_add(struct ev_loop *, pid_t, ev_loop_child_fn *,
	    void *arg, struct ev_err *);
/* Stop watching pid; it is then the caller's to reap. */
void	ev_loop_child_del(struct ev_loop *, pid_t);
/*
 * One turn, waiting at most max_ms (-1: until something happens; with
 * nothing registered that is forever).  Returns the number of callbacks
 * called, or -1 with err: EV_ERR_SYS when poll(2) fails (EINTR is not a
 * failure: the turn just ends early), or EBADF for a descriptor closed
 * while registered (it is then removed).
 */
int	ev_loop_once(struct ev_loop *, int64_t max_ms, struct ev_err *);
/*
 * Turn until ev_loop_stop is called or nothing is registered (no
 * descriptor, timer or child): then 0.  -1 with err as ev_loop_once.
 */
int	ev_loop_run(struct ev_loop *, struct ev_err *);
/*
 * Make ev_loop_run return once the callback that calls this returns: the
 * rest of the turn is left for the next run (readiness stays pending, due
 * timers stay due).  Also ends an ev_loop_once early.
 */
void	ev_loop_stop(struct ev_loop *);

/*
 * subscribe.c: being a subscriber, driven by an ev_loop.  The subscriber
 * connects (HELLO), asks for its events (SUB with the patterns and where
 * to start), reads the bus's OK <end> or ERR, and hands on each event the
 * bus sends, as the bus's bytes.  When the connection is lost it connects
 * again, first at once and then 50 ms to 1 s apart (loop timers; nothing
 * sleeps), and asks for the events after the last one it handed on.
 *
 * A restart: when the bus it reconnects to has another epoch, the old
 * daemon's history and numbering are gone.  The subscriber then hands on
 * a line of its own (an evbus.gap notice, no seq, starting {"id":"...",
 * with payload {"reason":"restart","epoch":NEW,"previous_epoch":OLD,
 * "after":SEQ}, SEQ the last seq received from the old daemon, handed on
 * or dropped as a copy; none received: the seq it started after) and asks
 * the new daemon for everything from its oldest event.
 *
 * De-duplication: the subscriber keeps a 64-bit hash of the id of each of
 * the last dedup events it handed on (a circular array, 8 bytes each).
 * After a restart it makes a set of them and, for the next dedup events,
 * drops an event whose id is in it.  That is how an event is not handed
 * on twice when a publisher sent it to the old daemon, lost the
 * acknowledgement in the crash and sent it again to the new one (evfire
 * keeps up to 65,536 events unacknowledged, hence the default).  Events
 * are compared by their raw id bytes as the bus sent them; two different
 * ids collide with a chance of about dedup^2 / 2^65 per restart.  Within
 * one daemon, the bus itself drops repeated ids.
 *
 * What is not promised: events that the old daemon had acknowledged but
 * not yet written to this subscriber when it died are lost with it; they
 * lie between the last event handed on before the restart line and the
 * first after it.
 *
 * Blocking: the HELLO and SUB exchanges and all reads are non-blocking,
 * from the loop, each handshake under a deadline (open_ms).  Only the
 * connect(2) itself, inside ev_client_open, is a plain call: on a Unix
 * socket it returns at once unless the bus's listen backlog is full; and
 * the first connection may autostart a bus (EV_CLIENT_AUTOSTART), which
 * waits for its readiness up to open_ms.
 *
 * Cost per event: the head of the event (ev_event_head), a hash of its id
 * and one store; no allocation.  A restart costs a set of up to dedup
 * hashes (16 bytes per event of the window, freed when it expires).
 */
#define EV_SUB_DEDUP_DEFAULT	65536
#define EV_SUB_DEDUP_MAX	(16 * 1024 * 1024)

enum ev_sub_start {
	EV_SUB_LIVE,		/* events published from now on */
	EV_SUB_FROM,		/* from seq at (0: the oldest the bus has) */
	EV_SUB_LAST,		/* the last at matching events, then live */
	EV_SUB_SINCE,		/* events whose time is at or after at (ms
				   since the epoch), then live */
};

/* What the subscriber hands on. */
enum ev_subev_kind {
	EV_SUBEV_EVENT,		/* an event (seq > 0) */
	EV_SUBEV_NOTICE,	/* the bus's notice for us (evbus.gap) */
	EV_SUBEV_RESTART,	/* the subscriber's own restart line */
};

struct ev_subev {
	enum ev_subev_kind kind;
	const char	*json;		/* one line of JSON, without '\n' */
	size_t		 len;
	uint64_t	 seq;		/* 0 for the notices */
};

/* Changes of the connection, reported through on_state. */
enum ev_sub_state {
	EV_SUB_SUBSCRIBED,	/* OK received; again after a loss */
	EV_SUB_LOST,		/* lost; reconnecting (once per outage) */
	EV_SUB_CLOSED,		/* lost and reconnect is off: stopped */
	EV_SUB_FAILED,		/* cannot go on (err says why): stopped */
	EV_SUB_CAUGHT_UP,	/* drain: everything to end handed on and
				   confirmed: stopped */
};

enum ev_sub_phase {
	EV_SUB_IDLE,		/* not started, or stopped */
	EV_SUB_HELLO,		/* connected, HELLO sent */
	EV_SUB_ASKED,		/* SUB sent, OK awaited */
	EV_SUB_STREAMING,
	EV_SUB_WAITING,		/* disconnected, a retry timer is set */
};

struct ev_subscriber {
	/* Set by the caller after ev_sub_init, before ev_sub_start. */
	const char	 *path;		/* NULL: the default socket */
	const char	 *name;		/* for HELLO */
	int		  flags;	/* EV_CLIENT_AUTOSTART: first connect */
	char *const	 *pats;		/* none: "#" */
	size_t		  npats;
	enum ev_sub_start start;
	uint64_t	  at;		/* seq for FROM, count for LAST, ms
					   for SINCE */
	bool		  reconnect;	/* else a lost bus stops it */
	size_t		  dedup;	/* window; 0: no de-duplication */
	int		  open_ms;	/* deadline of each handshake */
	/* where: filters the bus evaluates, all must hold (SUB "where");
	   a bus without the feature "where" is refused (FAILED,
	   EV_ERR_UNAVAILABLE) rather than asked */
	char *const	 *where;
	size_t		  nwhere;
	/*
	 * evlist's additions.  ident: the identity sent as the SUB keys
	 * node, service and tags (NULL: none; must outlive the subscriber).
	 * sync: ask the bus (feature "sync") for SYNC <seq> each time it has
	 * written every event this subscription wants up to seq, its newest
	 * then; on_sync is called for each, in order with the events, and
	 * like on_event returns 0 to go on, anything else to stop.  epoch:
	 * the epoch of the bus that a FROM seq was read from (16 hex digits,
	 * NULL or "": unknown); a bus with another epoch is then a restart
	 * from the first connection on (the restart line, from the oldest).
	 * unannounced: ask the bus (feature "announce") not to publish
	 * evbus.listener.connected and .disconnected for this subscription.
	 */
	const struct ev_identity *ident;
	bool		  sync;
	bool		  unannounced;	/* SUB "announce": false (a poll) */
	bool		  list;		/* SUB "list": true: a listing, which a
					   shared bus checks against the ACL's
					   list permission, not sub */
	int		(*on_sync)(void *, uint64_t seq);
	const char	 *known_epoch;
	/*
	 * Called for each event and notice, in order.  Return 0 to go on;
	 * anything else stops the subscriber (as ev_sub_close) once
	 * on_batch has been called for what was handed on.
	 */
	int		(*on_event)(void *, const struct ev_subev *);
	/* Called after the events of one read were handed on (may be NULL). */
	void		(*on_batch)(void *);
	/* Called on each change (may be NULL); err is NULL for SUBSCRIBED. */
	void		(*on_state)(void *, enum ev_sub_state,
			    const struct ev_err *);
	void		 *arg;

	/* Read-only for the caller. */
	enum ev_sub_phase phase;
	uint64_t	  end;		/* OK <end>: the newest seq the replay
					   covers; valid from SUBSCRIBED */
	uint64_t	  delivered;	/* events handed on (notices apart) */
	uint64_t	  dropped;	/* duplicates dropped */
	uint64_t	  restarts;	/* restart lines handed on */
	char		  epoch[EV_EPOCH_LEN + 1]; /* the bus we follow; "" */
	struct ev_client  c;

	/* Internal. */
	struct ev_loop	 *loop;
	enum ev_sub_start ask;		/* the request while pos is 0 */
	uint64_t	  askat;
	uint64_t	  pos;		/* next seq wanted on epoch; 0: ask */
	bool		  restart;	/* this connection is to a new epoch */
	bool		  outage;	/* LOST reported, not yet SUBSCRIBED */
	bool		  halt;		/* on_event said stop */
	int64_t		  backoff;	/* ms before the next retry */
	uint64_t	  htimer;	/* handshake deadline */
	uint64_t	  rtimer;	/* next retry */
	uint64_t	 *win;		/* hashes of the last ids handed on */
	size_t		  winpos, winn;
	uint64_t	 *set;		/* after a restart: win as a set */
	size_t		  setcap, setleft;
	struct ev_buf	  line;		/* the restart line being handed on */

	/*
	 * Durable consumption (evsub --durable, --cursor-file, --drain).
	 * Set by the caller after ev_sub_init, before ev_sub_start:
	 * durable: the name of a durable subscription the bus keeps (SUB key
	 * "durable", feature durable); the bus resumes it after the last seq
	 * confirmed with ev_sub_confirm, whatever the epoch, and from/last
	 * only say where a new name starts (neither: the oldest event).
	 * drain: stop (EV_SUB_CAUGHT_UP) once every event up to the end of
	 * the first OK has been handed on; later ones are not handed on.
	 * resume_epoch, resume_seq: resume after resume_seq if the bus's
	 * epoch is resume_epoch (16 hex digits), else as after a restart
	 * (the restart line, then from the new bus's oldest event).
	 */
	const char	 *durable;
	bool		  drain;
	const char	 *resume_epoch;
	uint64_t	  resume_seq;
	/* Internal to durable consumption. */
	uint64_t	  confirmed;	/* highest seq given to ev_sub_confirm */
	uint64_t	  high;		/* highest seq handed on (durable) */
	uint64_t	  rcvd;		/* highest seq the bus sent on this
					   connection */
	uint64_t	  cursor_sent;	/* highest CURSOR sent on it */
	uint64_t	  drain_end;	/* the end to drain to */
	bool		  drain_set;	/* drain_end is known */
	bool		  caught_up;	/* hand on nothing more; stop once
					   the CURSOR lines are sent */
	bool		  has_stats;	/* the bus answers STATS */
	bool		  stats_out;	/* STATS sent, INFO awaited */
	int64_t		  sdelay;	/* ms before asking STATS again */
	uint64_t	  sdelivered;	/* delivered when STATS was asked */
	uint64_t	  stimer;	/* that timer */
};

/* Defaults: live, reconnect, dedup EV_SUB_DEDUP_DEFAULT, open_ms 5000. */
void	ev_sub_init(struct ev_subscriber *);
/*
 * Connect for the first time and start, on loop (which must outlive the
 * subscriber's use of it).  The connection's failures from here on come
 * through on_state.  -1 with err when the bus cannot be reached now
 * (EV_ERR_UNAVAILABLE, EV_ERR_DENIED, ...; as ev_client_open), or for a
 * bad setting (EV_ERR_DATA); nothing is left registered then.
 */
int	ev_sub_start(struct ev_subscriber *, struct ev_loop *,
	    struct ev_err *);
/*
 * Stop: close the connection, cancel the timers, no more callbacks.
 * May be called from the subscriber's own callbacks.  The counters,
 * epoch and end stay readable; ev_sub_start may be called again.
 */
void	ev_sub_close(struct ev_subscriber *);
/* ev_sub_close, and free the window and buffers. */
void	ev_sub_free(struct ev_subscriber *);
/*
 * A --where filter for a subscriber, checked as the bus would check it:
 * appends v to list[0..*n) (which has room for EV_WHERE_MAX) and returns
 * 0, or -1 with err and nothing appended: EV_ERR_DATA when there are
 * EV_WHERE_MAX already, v is longer than EV_WHERE_LEN or does not compile
 * ("column N: why"), EV_ERR_SYS when out of memory.  v is kept, not
 * copied.  Cost: compiling v once.
 */
int	ev_sub_where_add(char **list, size_t *n, char *v, struct ev_err *);

/*
 * Durable consumption: the caller has written (or otherwise finished
 * with) every event up to seq.  With durable set, the subscriber tells
 * the bus "CURSOR <highest seq confirmed>" at once if it can, else after
 * the next read or on the next connection, never naming a seq the bus has
 * not sent on that connection; a connection lost before the bus read it
 * only makes the bus resume earlier, and the events between it and the
 * last one handed on are dropped as copies (a durable subscription's seqs
 * are the store's, the same across restarts).  Without durable it only
 * records seq.  Returns 0, or -1 with err when the bus is lost (the
 * reconnect follows through on_state).  Cost: one small send, only when
 * seq grows.
 */
int	ev_sub_confirm(struct ev_subscriber *, uint64_t seq, struct ev_err *);

/*
 * --drain, how it knows it is caught up with the end of the first OK:
 * when it hands on (or drops as a copy) the event with seq end, or sees
 * one after it (not handed on); when where it starts is after end; or,
 * because a subscription's filters hide the events it does not want, when
 * the bus's STATS says this subscription's cursor has passed end (STATS
 * is asked on the subscription's own connection, whose reply the bus
 * queues after every event it has already written to it: the subscriber
 * is found by its pid and HELLO name).  STATS is asked after the OK and
 * then after each read that leaves it not caught up, at most every 10 ms
 * and backing off to 500 ms while nothing comes.  A bus that refuses
 * STATS, or lists no such subscriber, leaves the first two ways only.
 */

/*
 * cursor.c: a consumer's place in a file: one line "EPOCH SEQ\n", the
 * bus's epoch (16 lower-case hex digits) and the seq of the last event
 * written.  ev_cursor_read: 1 with epoch (EV_EPOCH_LEN + 1 bytes) and
 * seq, 0 when there is no file, -1 with err: EV_ERR_DATA "PATH: not a
 * cursor file (...)" for anything else in it, EV_ERR_SYS when it cannot
 * be read.  ev_cursor_write: replace the file atomically (PATH.tmp, then
 * rename(2)), after an fsync of PATH.tmp when sync is true, so that the
 * file is always the old line or the new one, never a torn one, even
 * after a crash of the machine (the directory is not synced: such a crash
 * may bring back the previous line, which only repeats events).  -1 with
 * err (EV_ERR_SYS), PATH.tmp removed.  One consumer per file.  Cost: an
 * open, a write, an fsync if asked, a rename.
 */
int	ev_cursor_read(const char *path, char *epoch, uint64_t *seq,
	    struct ev_err *);
int	ev_cursor_write(const char *path, const char *epoch, uint64_t seq,
	    bool sync, struct ev_err *);

/*
 * expr.c: paths, filters and templates -- the small subset of jq that
 * evbus speaks, spelled as jq spells it and meaning what jq 1.6 means by
 * it (evbus(7), FILTERS AND TEMPLATES).  Everything is compiled once;
 * evaluating reads the event's bytes in place and allocates nothing on
 * the common paths.
 *
 * A filter: paths (".", .a, .a.b, .a[0], .a[-1], .a["k"], ."k"), literals
 * (JSON strings, numbers, true, false, null), == != < <= > >= (jq's order
 * across types: null < false < true < numbers < strings < arrays <
 * objects), and, or, not, "|", parentheses, has(KEY), test(RE),
 * test(RE; FLAGS), startswith(S), endswith(S).  Its answer for an input
 * is what jq -c 'select(EXPR)' does with it: print it (1), not (0), or
 * raise an error (-1: e.g. indexing a string with .x), which a caller
 * counts as not passing and reports.
 */
struct ev_expr;			/* a compiled filter */
struct ev_tmpl;			/* a compiled template */
struct ev_expr_doc;		/* one JSON text, located for evaluation */

/*
 * Compile a filter.  NULL with err EV_ERR_DATA "column N: why" for
 * anything outside the subset (N counts characters from 1; one past the
 * last when the text ends too soon: "column 14: expected a value after
 * '=='"), including a regex Oniguruma refuses (jq would fail on every
 * event instead); EV_ERR_SYS when out of memory.  The result belongs to
 * the caller (ev_expr_free).  Cost: linear in the text, plus compiling
 * each regex.
 */
struct ev_expr	*ev_expr_compile(const char *src, struct ev_err *err);
void		 ev_expr_free(struct ev_expr *);
/* Bound one test()'s regex work (retries; 0: Oniguruma's default). */
#define EV_REGEX_BUDGET_DAEMON	100000
void		 ev_expr_regex_budget(unsigned long retries);
/*
 * Evaluate a filter on one JSON text (any value; an event is an object).
 * 1 passes, 0 does not, -1 with err: EV_ERR_DATA "column N: cannot index
 * string with string \"x\"" where jq raises an error, or when json is
 * not valid JSON as the bus reads it (ev_json_check); EV_ERR_SYS when out
 * of memory.  Cost: one validating scan of the text (ev_json_scan_object)
 * and then, per path, a walk over the members of the objects on its way;
 * about 20 KB of stack.  It allocates only to compare objects of more than
 * 16 members (or nested more than 32 deep), and for an escaped string over
 * 512 bytes that test(), startswith() or endswith() must decode.
 */
int		 ev_expr_eval(const struct ev_expr *, const char *json,
		    size_t len, struct ev_err *err);
/*
 * The paths a filter reads from the top of its input, each once, as
 * canonical text (".payload.cell_id", ".metadata[\"a b\"]", ".list[0]"),
 * for i < ev_expr_npaths(); the strings belong to the filter.  A path
 * inside the right side of a "|" reads the left side's value, not the
 * event, and is not listed.
 */
size_t		 ev_expr_npaths(const struct ev_expr *);
const char	*ev_expr_path(const struct ev_expr *, size_t i);

/*
 * Many filters, one event: ev_expr_doc_set scans the text once (the
 * validation and the table of its top-level members), and every filter
 * and template then evaluated on the doc shares that scan and a cache of
 * the paths already located in it, so that a hundred subscribers with
 * .payload.cell_id in their filters locate it once.  A doc is made once
 * and reused for event after event: setting it allocates nothing (the
 * doc keeps one buffer, grown when an escaped string over 512 bytes must
 * be decoded, and reused).  It refers to json, which must stay unchanged
 * until the next ev_expr_doc_set.  ev_expr_doc_new returns NULL with errno ENOMEM;
 * ev_expr_doc_set returns 0 or -1 with err (EV_ERR_DATA for invalid
 * JSON, after which evaluating on the doc fails until it is set again).
 * Cost of a set: that of ev_json_scan_object, about 100 ns for a typical
 * event; of a path already located in the doc: a hash and a comparison.
 */
struct ev_expr_doc *ev_expr_doc_new(void);
void		 ev_expr_doc_free(struct ev_expr_doc *);
int		 ev_expr_doc_set(struct ev_expr_doc *, const char *json,
		    size_t len, struct ev_err *err);
/* ev_expr_eval on a doc: the same answers. */
int		 ev_expr_eval_doc(const struct ev_expr *, struct ev_expr_doc *,
		    struct ev_err *err);

/*
 * A template: text with {PATH} and {PATH|fn|...} substitutions, the
 * escapes \t \n \r \\ \{ \}, and the paths of filters.  A string is
 * substituted without quotes and unescaped; a number, true, false or
 * null as its JSON text as the event wrote it; an object or array as
 * compact JSON (the event's bytes without the whitespace between
 * tokens).  Functions, applied in order: json (first only: the value as
 * compact JSON, a string with its quotes), lower and upper (ASCII
 * letters, as jq's ascii_downcase), mangle ('.' becomes '-'), and
 * default:TEXT (last: TEXT, up to the '}', when the path leads to null,
 * to nothing, or through a value that cannot be indexed).
 * ev_tmpl_compile: NULL with err EV_ERR_DATA "column N: why", or
 * EV_ERR_SYS.
 */
struct ev_tmpl	*ev_tmpl_compile(const char *src, struct ev_err *err);
void		 ev_tmpl_free(struct ev_tmpl *);
/*
 * Append the template's text for one JSON text to out.  0, or -1 with
 * err and out as it was: EV_ERR_DATA "missing .payload.x" when a path
 * without default: leads to nothing, ".name.x: cannot index string with
 * string \"x\"" when it cannot be followed, or the JSON is invalid;
 * EV_ERR_SYS when out cannot grow.  Cost: ev_expr_eval's, plus the
 * output.
 */
int		 ev_tmpl_render(const struct ev_tmpl *, const char *json,
		    size_t len, struct ev_buf *out, struct ev_err *err);
int		 ev_tmpl_render_doc(const struct ev_tmpl *,
		    struct ev_expr_doc *, struct ev_buf *out,
		    struct ev_err *err);

/*
 * evroute: the top-level member key[0..keylen) of the doc's object, a
 * string, decoded: 0 with s[0..*len), valid until the next call,
 * evaluation or render on the doc (it may be in the doc's buffer), or -1
 * with err EV_ERR_DATA: "not a JSON object (an array)", "name: missing",
 * "name: not a string" (the last of duplicate keys counts, as in jq);
 * EV_ERR_SYS when a long escaped string cannot be decoded.  Cost: a walk
 * over the doc's table of top-level members; a copy only for escapes.
 */
int		 ev_expr_doc_string(struct ev_expr_doc *, const char *key,
		    size_t keylen, const char **s, size_t *len,
		    struct ev_err *err);

/*
 * route.c: evroute's rules (evroute(1) is the user's manual).  One rule a
 * logical line, in order:
 *
 *	PATTERN [where FILTER] -> ACTION
 *
 * ACTION: stdout, stderr, drop, file:PATH, exec:CMD, fire, fire:TEMPLATE.
 * A line whose last non-blank character is '\' goes on on the next one.
 * A line whose first non-blank character is '#' is a comment, unless it
 * starts a rule for a pattern starting with '#': "#." ("#.crashed ->
 * stderr"), or '#' alone followed by "->" or the word "where" ("# ->
 * drop"; "#->" is a rule too, refused for its missing blank).  Blank
 * lines are ignored.
 */
#define EV_ROUTES_TEXT_MAX	(1024 * 1024)	/* bytes of one routes text */

enum ev_route_action {
	EV_ROUTE_STDOUT,
	EV_ROUTE_STDERR,
	EV_ROUTE_FILE,		/* arg: the path */
	EV_ROUTE_EXEC,		/* arg: the command, for sh -c */
	EV_ROUTE_FIRE,		/* arg: the template, or NULL: keep the name */
	EV_ROUTE_DROP,
};

struct ev_route {
	char			*pat;		/* the pattern, checked */
	size_t			 patlen;
	char			*where;		/* the filter's text, or NULL */
	struct ev_expr		*expr;		/* it compiled, or NULL */
	enum ev_route_action	 action;
	char			*arg;		/* see the actions; else NULL */
	struct ev_tmpl		*tmpl;		/* fire's template compiled */
	const char		*src;		/* the text it was in: its */
	unsigned		 line;		/* name, the line it starts on */
};

/* Zero-initialized, then filled by ev_routes_parse and ev_routes_load. */
struct ev_routes {
	struct ev_route		*r;		/* r[0..n) in order */
	size_t			 n, cap;
	char			**src;		/* the texts' names */
	size_t			 nsrc;
	struct ev_sublist	*index;		/* for ev_routes_match */
	size_t			 indexed;	/* rules in the index */
	size_t			*out;		/* ev_routes_match's answer */
};

/*
 * Parse text[0..len) (name is what messages call it: a file's path,
 * "-e 2") and append its rules to rs.  0, or -1 with err and none of
 * this text's rules added: EV_ERR_DATA "NAME:LINE:COLUMN: why" (the
 * column counts characters from 1; a filter's or template's own error is
 * told at its column on the line), EV_ERR_LIMIT over EV_ROUTES_TEXT_MAX,
 * EV_ERR_SYS when out of memory.  Cost: linear in the text, plus
 * compiling each filter and template.
 */
int	ev_routes_parse(struct ev_routes *, const char *text, size_t len,
	    const char *name, struct ev_err *);
/* Read the file at path and parse it (its path names it).  As above. */
int	ev_routes_load(struct ev_routes *, const char *path, struct ev_err *);
void	ev_routes_free(struct ev_routes *);
/*
 * Append the rules to out, one a line, as text that parses to the same
 * rules: PATTERN[ where FILTER] -> ACTION.  0, or -1 (ENOMEM) with out
 * unchanged.
 */
int	ev_routes_describe(const struct ev_routes *, struct ev_buf *out);
/*
 * The rules whose pattern matches the event name[0..len) (a wildcard
 * first token not reaching names under "evbus."), by their index in
 * rs->r, in rule order: (*idx)[0..*n), valid until the next call.  Their
 * filters are the caller's to evaluate.  The first call (and the first
 * after rules were added) builds the index.  0, or -1 with errno ENOMEM.
 * Cost: a hash lookup for a name seen recently (ev_sublist_match), else
 * a walk of the index along the name's tokens; a sort of the matches.
 */
int	ev_routes_match(struct ev_routes *, const char *name, size_t len,
	    const size_t **idx, size_t *n);

/*
 * format.c: one line of evsub's or evlist's output for what a subscriber
 * handed on (struct ev_subev): with no template, the bus's JSON as it
 * came; with one (-F), the template's text for an event.  A newline ends
 * the line.  Appends to out and returns 1; 0, appending nothing, for a
 * notice under a template (it has no seq and none of an event's fields:
 * the caller says it on stderr); -1 with err and out as it was:
 * EV_ERR_DATA "seq N: missing .payload.x" when the template cannot be
 * rendered for this event, EV_ERR_SYS when out cannot grow.
 */
int		 ev_format_line(const struct ev_tmpl *, const struct ev_subev *,
		    struct ev_buf *out, struct ev_err *err);

#endif /* EVBUS_H */
