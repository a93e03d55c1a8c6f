/*
 * evbusd.h: the daemon's parts.  main.c owns the loop and the options,
 * listener.c the listening socket, conn.c a client's input and commands,
 * sub.c the subscribers' output, ring.c the recent events, log.c logging.
 */
#ifndef EVBUSD_H
#define EVBUSD_H

#include <sys/queue.h>

#include "evbus.h"

/*
 * One event on the bus: the complete frame "EVENT n\n{...}\n", built once
 * and written to every subscriber from this memory.  The ring holds one
 * reference; a subscriber that stopped half-way through writing it holds
 * another, so that an event evicted meanwhile stays whole on that stream.
 */
struct msg {
	uint32_t	 refs;
	uint32_t	 len;		/* bytes of the frame */
	uint64_t	 seq;
	int64_t		 time;
	const char	*name;		/* decoded name, NUL-terminated */
	const char	*id;		/* "" for none */
	uint16_t	 namelen;
	char		 data[];	/* frame, then name, then id */
};

struct msg	*msg_new(const char *, size_t, uint64_t, int64_t,
		    const struct ev_evinfo *);
void		 msg_unref(struct msg *);

/*
 * id -> event for the events in the ring: drops a producer's resends.
 * Each slot keeps the id's hash beside the event, so that probing and
 * growing compare and move hashes without touching the events themselves.
 */
struct idslot {
	uint64_t	 hash;
	struct msg	*m;		/* NULL: empty */
};

struct idtab {
	struct idslot	*slot;
	size_t		 cap;		/* a power of two, or 0 */
	size_t		 n;
};

/*
 * The recent events, oldest first, bounded by count and bytes.  Slots are
 * allocated as the ring fills.  Events are consecutive in seq: the event
 * with seq s is at slot (head + s - first) % cap.
 */
struct ring {
	struct msg	**slot;
	size_t		  cap;
	size_t		  head;
	size_t		  n;
	size_t		  max;		/* -b */
	size_t		  bytes;
	size_t		  maxbytes;	/* -B */
	uint64_t	  first;	/* seq of the oldest event */
	uint64_t	  next;		/* seq the next event gets */
	struct idtab	  ids;
};

void		 ring_init(struct ring *, size_t, size_t, uint64_t);
void		 ring_free(struct ring *);
int		 ring_push(struct ring *, struct msg *);
struct msg	*ring_get(const struct ring *, uint64_t);
struct msg	*ring_find_id(const struct ring *, const char *);

enum conn_state {
	CONN_HELLO,		/* waiting for HELLO */
	CONN_READY,
	CONN_CLOSING,		/* flush what is queued, then close */
};

struct conn {
	int		  fd;
	enum conn_state	  state;
	uint64_t	  serial;
	struct ev_origin  cred;
	char		  name[32];
	int64_t		  deadline;	/* CLOCK_MONOTONIC ms: handshake */
	struct ev_decoder dec;
	struct ev_buf	  out;		/* replies, and this one's gap events */
	uint32_t	  events;	/* what epoll watches */
	bool		  eof;		/* the peer closed its side */
	bool		  dead;		/* closed; freed by conn_reap() */
	bool		  blocked;	/* the kernel refused a write */
	bool		  stalled;	/* frames left to act on later */
	bool		  hello;	/* the handshake is done */
	bool		  sub;
	struct ev_patset  pats;
	uint64_t	  cursor;	/* next seq to consider sending */
	struct msg	 *partial;	/* written in part; ref held */
	size_t		  partial_off;
	TAILQ_ENTRY(conn) entry;
};
TAILQ_HEAD(connlist, conn);

struct evbusd {
	int		  epfd;
	int		  lfd;		/* listening socket, -1 when stopping */
	int		  lockfd;
	char		  path[108];
	struct ring	  ring;
	struct connlist	  conns;
	size_t		  nconns;
	size_t		  maxconns;
	size_t		  maxevent;	/* -m */
	int64_t		  handshake_ms;
	char		  epoch[EV_EPOCH_LEN + 1];
	struct ev_origin  self;
	uint64_t	  serial;
	bool		  accepting;
	bool		  stopping;
	struct ev_buf	  scratch;	/* an event being stamped */
	struct ev_buf	  rbuf;		/* the read buffer lent to clients */
	size_t		  budget;	/* events that may still enter the ring
					   before subscribers are served */
	size_t		  budget_bytes;
};

extern struct evbusd	*bus;

/* listener.c */
int	 listener_open(struct evbusd *, struct ev_err *);
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
void	 conn_reap(struct evbusd *);
int	 bus_publish_internal(struct evbusd *, const char *, const char *);

/* sub.c */
int	 sub_start(struct evbusd *, struct conn *, const char *, size_t,
	    struct ev_err *);
int	 conn_flush(struct evbusd *, struct conn *);
bool	 conn_pending(const struct evbusd *, const struct conn *);

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
