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

struct ev_evinfo {
	char	name[EV_NAME_MAX + 1];
	size_t	namelen;
	char	id[EV_ID_MAX + 1];	/* "" when the event has no id */
	bool	hadid;			/* the producer chose the id */
	int64_t	time;			/* 0 when absent */
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
 * Fill id from a peer's credentials: its groups from the user database
 * (getpwuid_r, then getgrouplist; a uid without an entry has only gid),
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
 * publish.c: reliable publishing.  Events are queued as frames and kept
 * until the bus acknowledges them; when the connection is lost, the
 * publisher reconnects (for up to retry_ms) and sends again everything not
 * acknowledged.  Every event carries an id, so the bus drops the copies it
 * already had.  The caller polls ev_pub_pollfd() and calls ev_pub_io().
 */
struct ev_publisher {
	struct ev_client c;
	const char	*path;		/* as given to ev_pub_open */
	char		 name[32];
	int		 flags;
	int64_t		 retry_ms;	/* how long to try to reconnect */
	struct ev_buf	 q;		/* frames not yet acknowledged */
	size_t		 sent;		/* bytes of q written on this link */
	struct ev_pubent {
		uint64_t tag;
		size_t	 len;
	}		*ent;		/* a ring of the frames in q */
	size_t		 entcap, enthead, nent;
	size_t		 maxq;		/* bytes of q before it is full */
	uint64_t	 reconnects;
	void		(*on_ack)(void *, uint64_t tag, uint64_t seq);
	void		(*on_reject)(void *, uint64_t tag, const char *code,
			    const char *text);
	void		(*on_reconnect)(void *, const char *epoch);
	void		*arg;
};

int	ev_pub_open(struct ev_publisher *, const char *path, const char *name,
	    int flags, struct ev_err *);
void	ev_pub_close(struct ev_publisher *);
/* Queue one event (compact JSON with an id).  -1 only when out of memory. */
int	ev_pub_queue(struct ev_publisher *, const char *, size_t, uint64_t tag,
	    struct ev_err *);
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

#endif /* EVBUS_H */
