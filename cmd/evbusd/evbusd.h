/*
 * evbusd.h: the daemon's parts, one job a file:
 *
 *   main.c	options and start-up
 *   loop.c	the epoll loop: signals, service of the connections, stop
 *   listener.c	the listening socket: lock, stale socket, accept, peer uid
 *   conn.c	a client connection: its input, its commands, its output
 *   publish.c	the one publish path, and the release of acknowledgements
 *   sub.c	subscriptions and the delivery decision
 *   acl.c	the rules of a shared bus (-A): identities, views, audit
 *   log.c	logging
 *   store.c	--store: the durable log, history from it, durable
 *		subscriptions and their cursors
 *
 * The ring of recent events and its id index are lib/ring.c.
 */
#ifndef EVBUSD_H
#define EVBUSD_H

#include <sys/queue.h>

#include <signal.h>

#include <jansson.h>

#include "evbus.h"

/* The features this daemon announces in its HELLO, for clients to test. */
#define EVBUSD_FEATURES	"pub,sub,ping,ack-dup,sub-end,sub-since,max-depth,target,stats,sync,announce,where,session"

enum conn_state {
	CONN_HELLO,		/* waiting for HELLO */
	CONN_READY,
	CONN_CLOSING,		/* flush what is queued, then close */
};

/*
 * Replies from this point of a connection's output on wait for the event
 * with seq to be committed.  Checkpoints are in output order and their
 * seqs increase; one checkpoint covers all the acknowledgements a
 * connection got within one commit batch.
 */
struct holdpt {
	uint64_t	start;		/* absolute output offset */
	uint64_t	seq;
	uint64_t	batch;
};

struct sub_where;		/* a subscriber's filters (sub.c) */
struct sub_wdoc;		/* an event located for them (sub.c) */
/*
 * where: events a filtering subscriber is looked at for in one
 * conn_flush, and the slots of the cache of located events (sub.c): the
 * subscribers go through the ring in steps of this many events, each
 * step finding the events the one before it located.
 */
#define SUB_WHERE_STEP	256

struct conn {
	int		  fd;
	enum conn_state	  state;
	uint64_t	  serial;
	struct ev_origin  cred;
	char		  name[32];
	int64_t		  deadline;	/* CLOCK_MONOTONIC ms: handshake */
	struct ev_decoder dec;
	struct ev_buf	  out;		/* replies, and this one's gap events */
	uint64_t	  out_added;	/* bytes ever appended to out */
	uint64_t	  out_sent;	/* bytes ever written from out */
	struct holdpt	 *hold;		/* replies waiting for a commit */
	size_t		  nhold, holdcap;
	uint32_t	  events;	/* what epoll watches */
	bool		  eof;		/* the peer closed its side */
	bool		  dead;		/* closed; freed by conn_reap() */
	bool		  blocked;	/* the kernel refused a write */
	bool		  stalled;	/* frames left to act on later */
	bool		  hello;	/* the handshake is done */
	bool		  sub;
	struct ev_patset  pats;
	struct ev_identity ident;	/* for targeted events */
	struct sub_where *where;	/* its "where" filters, or NULL (sub.c) */
	uint64_t	  cursor;	/* next seq to consider sending */
	uint64_t	  delivered;	/* events written to it */
	bool		  pending;	/* events from cursor on may be for it;
					   false: caught up, and it is told
					   (by the index) when one comes */
	bool		  sync;		/* evlist: SYNC at each catch-up */
	bool		  quiet;	/* evlist: "announce": false */
	struct ev_msg	 *partial;	/* written in part; ref held */
	size_t		  partial_off;	/* bytes of its frame written */
	/* ACL (evbusd -A): who it is, what it may fire and receive. */
	struct ev_acl_id  aclid;	/* from HELLO; groups only when the
					   rules apply to it */
	struct ev_acl_view *fireview;	/* NULL: may fire any name */
	struct ev_acl_view *subview;	/* NULL: gets all its patterns match */
	unsigned	  subperm;	/* EV_ACL_SUB, or EV_ACL_LIST */
	/* --store (store.c): history from the log, durable subscriptions */
	struct ev_store_reader *reader;	/* reading the log for it, or NULL */
	uint64_t	  reader_next;	/* seq the reader returns next */
	char		 *durable;	/* its durable name, or NULL */
	uint64_t	  confirmed;	/* the last seq it confirmed (CURSOR) */
	bool		  cursor_dirty;	/* confirmed is not yet on disk */
	struct session	 *sess;		/* producer session (HELLO session=) */
	TAILQ_ENTRY(conn) entry;
};
TAILQ_HEAD(connlist, conn);

struct evbusd {
	int		  epfd;
	int		  lfd;		/* listening socket, -1 when stopping */
	int		  lockfd;
	char		  path[108];
	struct ev_ring	  ring;
	struct ev_sublist *subs;	/* subscribers by pattern */
	size_t		  ringmax;	/* -b */
	size_t		  ringmaxbytes;	/* -B */
	uint64_t	  committed;	/* newest seq that is committed */
	uint64_t	  batch;	/* commit batches so far */
	struct connlist	  conns;
	size_t		  nconns;
	size_t		  maxconns;
	size_t		  maxevent;	/* -m */
	size_t		  maxdepth;	/* --max-depth */
	int64_t		  handshake_ms;
	char		  epoch[EV_EPOCH_LEN + 1];
	struct ev_origin  self;
	uint64_t	  serial;
	bool		  accepting;
	bool		  stopping;
	int64_t		  started_ms;	/* CLOCK_MONOTONIC at start */
	uint64_t	  events_in;	/* published, duplicates not counted */
	uint64_t	  events_out;	/* written to subscribers */
	/* STATS' rates: the counters at the last two ticks, >= 1 s apart */
	struct bus_snap {
		int64_t	  ms;
		uint64_t  in, out;
	}		  snap[2];
	uint64_t	  dups;		/* dropped as duplicates */
	struct ev_buf	  scratch;	/* an event being stamped */
	struct ev_buf	  rbuf;		/* the read buffer lent to clients */
	char		  line[EV_LINE_MAX + 1];  /* their frames' words */
	size_t		  budget;	/* events that may still enter the ring
					   before subscribers are served */
	size_t		  budget_bytes;
	/* where: the events the subscribers' filters read (sub.c) */
	struct sub_wdoc	 *wdocs;	/* NULL until a filter needs them */
	uint64_t	  filtered_out;	/* events kept back by "where" */
	/* ACL (evbusd -A, --group). */
	struct ev_acl	 *acl;		/* NULL: only the owner and root */
	char		 *aclpath;	/* -A, absolute */
	bool		  shared;	/* --group: the socket is the group's */
	gid_t		  group;
	int64_t		  denied_tokens; /* evbus.acl.denied's bucket, 1/1000 */
	int64_t		  denied_ms;	/* when it was last filled */
	uint64_t	  denied_suppressed; /* left out since the last one */
	/* --store (store.c) */
	struct ev_store	 *store;	/* NULL: no store */
	const char	 *storedir;
	enum ev_store_sync storesync;
	bool		  storefailed;	/* a write failed: PUB refused */
	char		  storewhy[200];	/* why, for ERR state store: */
	int64_t		  cursors_due;	/* CLOCK_MONOTONIC ms when dirty
					   cursors are written; -1: none */
	struct session_tab *sessions;	/* producer sessions; NULL: none yet */
};

/* loop.c */
void	 loop_signals(sigset_t *);
void	 loop_run(struct evbusd *, const sigset_t *);

/* listener.c */
int	 listener_open(struct evbusd *, struct ev_err *);
int	 listener_group_dir(struct evbusd *, struct ev_err *);
void	 listener_close(struct evbusd *);
void	 listener_accept(struct evbusd *);
void	 listener_pause(struct evbusd *, bool);

/* conn.c */
struct conn *conn_new(struct evbusd *, int, const struct ev_origin *);
void	 conn_read(struct evbusd *, struct conn *);
void	 conn_close(struct evbusd *, struct conn *, const char *);
void	 conn_watch(struct evbusd *, struct conn *);
void	 conn_resume(struct evbusd *, struct conn *);
bool	 conn_resumable(const struct conn *);
size_t	 conn_reap(struct evbusd *);
void	 conn_announce(struct evbusd *, const struct conn *, const char *,
	    const char *);
int	 conn_reply(struct conn *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 conn_error(struct conn *, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 conn_ack(struct evbusd *, struct conn *, uint64_t, bool);
void	 conn_release(struct evbusd *, struct conn *);
int	 conn_flush(struct evbusd *, struct conn *);
bool	 conn_pending(const struct evbusd *, const struct conn *);

/* publish.c */
int	 bus_publish(struct evbusd *, struct conn *, const char *, size_t,
	    const struct ev_origin *, bool, uint64_t *, bool *,
	    struct ev_err *);
int	 bus_publish_as(struct evbusd *, struct conn *, const char *, size_t,
	    const struct ev_origin *, bool, int, uint64_t *, bool *,
	    struct ev_err *);
#define BUS_ID_DEDUP	0	/* an id found held is a duplicate; indexed */
#define BUS_ID_NONE	1	/* the id is not looked up (still indexed) */
void	 bus_pub(struct evbusd *, struct conn *, const struct ev_frame *);
int	 bus_announce(struct evbusd *, const char *, const char *);
void	 bus_commit(struct evbusd *);
void	 bus_tick(struct evbusd *, int64_t);

/* session.c: producer sessions (issue 9) */
struct session;
int	 session_attach(struct evbusd *, struct conn *, const char *);
void	 session_detach(struct evbusd *, struct conn *);
void	 session_free_all(struct evbusd *);
uint64_t session_seq(const struct session *, uint64_t);
int	 session_commit(struct session *, uint64_t, uint64_t);

/* sub.c */
int	 sub_start(struct evbusd *, struct conn *, const char *, size_t,
	    struct ev_err *);
bool	 sub_wants(const struct conn *, const struct ev_msg *);
void	 sub_notify(struct evbusd *, const struct ev_msg *);
void	 sub_stop(struct evbusd *, struct conn *);
int	 sub_gap(struct evbusd *, struct conn *);
int	 sub_caught_up(struct evbusd *, struct conn *);
int	 bus_stats(struct evbusd *, const struct conn *, struct ev_buf *);
int	 sub_patterns_json(const struct conn *, struct ev_buf *);
/* where: filters evaluated in the daemon */
int	 sub_where_json(const struct conn *, struct ev_buf *);
void	 sub_where_free(struct conn *);
void	 sub_where_fini(struct evbusd *);

/* acl.c */
int	 acl_open(struct evbusd *, const char *, struct ev_err *);
void	 acl_close(struct evbusd *);
int	 acl_check_file(const char *);
int	 acl_hello(struct evbusd *, struct conn *, const char *,
	    struct ev_err *);
int	 acl_sub(struct evbusd *, struct conn *, bool, struct ev_err *);
bool	 acl_sees_all(const struct evbusd *, const struct conn *);
void	 acl_denied(struct evbusd *, const struct conn *, unsigned,
	    const char *, size_t);
void	 acl_conn_free(struct conn *);
void	 acl_reload(struct evbusd *);

/* store.c */
int	 store_open(struct evbusd *, const char *, enum ev_store_sync,
	    struct ev_err *);
void	 store_start(struct evbusd *);
void	 store_close(struct evbusd *);
int	 store_append(struct evbusd *, uint64_t, int64_t, const char *,
	    size_t, struct ev_err *);
void	 store_commit(struct evbusd *);
void	 store_fail(struct evbusd *, const char *);
int	 store_timeout(struct evbusd *, int);
bool	 store_busy(const struct evbusd *);
uint64_t bus_visible(const struct evbusd *);
int	 store_backfill(struct evbusd *, struct conn *);
int	 store_sub_start(struct evbusd *, struct conn *, json_t *,
	    struct ev_err *);
void	 store_cursor(struct evbusd *, struct conn *,
	    const struct ev_frame *);
void	 store_conn_gone(struct evbusd *, struct conn *);
int	 store_stats(struct evbusd *, struct ev_buf *);

/* log.c */
void	 log_init(int, int);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* EVBUSD_H */
