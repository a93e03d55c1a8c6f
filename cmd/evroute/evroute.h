/*
 * evroute.h: the parts of evroute and what they share.
 *
 *   main.c	options, start, the loop, the end and the exit status
 *   input.c	standard input: lines, one doc per event, the rules, the
 *		actions, reports of bad lines
 *   sink.c	the destinations: standard output and error, files
 *		(reopened on SIGHUP), exec children (restarted with backoff)
 *   fire.c	publishing to the bus (renamed by a template)
 *
 * Memory is bounded: each destination buffers at most SINK_HIGH bytes
 * beyond which evroute stops taking lines from its input (plus the line
 * that crossed the mark), the publisher its own bound (ev_pub_full), and
 * the input one read beyond the longest line, LINE_MAX_IN.
 */
#ifndef EVROUTE_H
#define EVROUTE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include "evbus.h"

#define SINK_HIGH	(256 * 1024)	/* bytes a destination may hold */
#define LINE_MAX_IN	EV_STORE_LINE_MAX /* the longest input line */
#define BACKOFF_MIN	100		/* ms before an exec restart ... */
#define BACKOFF_MAX	5000		/* ... doubling up to this */
#define BACKOFF_RESET	10000		/* a child that ran this long
					   starts again from BACKOFF_MIN */
#define FUTILE_MAX	5		/* after the input, children that
					   read nothing before evroute gives
					   up on the rest */

enum sink_kind {
	SK_STDOUT,
	SK_STDERR,
	SK_FILE,
	SK_EXEC,
};

/* A destination: a descriptor and the bytes waiting for it. */
struct sink {
	enum sink_kind	 kind;
	char		*name;		/* "stdout", "file:PATH", "exec:CMD" */
	const char	*arg;		/* PATH or CMD (the rule's) */
	int		 fd;		/* -1: not open (exec: no child) */
	bool		 nonblock;	/* writes may stop short: POLLOUT */
	bool		 sock;		/* a socket: send(MSG_DONTWAIT) */
	int		 rfd;		/* exec: the pipe's read end, kept so
					   that what a dead child left unread
					   goes to the next one */
	bool		 closing;	/* exec: input closed at the end */
	struct ev_buf	 buf;
	/* exec only */
	pid_t		 pid;		/* 0: none running */
	int64_t		 started;	/* ev_mono_ms() at its start */
	int64_t		 backoff;	/* ms before the next start */
	uint64_t	 timer;		/* a pending restart */
	size_t		 unread0;	/* bytes in the pipe at its start */
	unsigned	 futile;	/* after the input: children in a row
					   that read nothing */
	struct evroute	*e;
};

struct evroute {
	struct ev_routes rs;
	struct ev_loop	 loop;
	struct ev_lines	 in;
	struct ev_expr_doc *doc;
	bool		 all;		/* -a */
	bool		 drop_unmatched; /* --unmatched=drop */
	bool		 drop_unroutable; /* --unroutable=drop */
	const char	*unroutable_file; /* --unroutable=file:PATH */
	const char	*sock;		/* -s */

	struct sink	**sinks;	/* every destination, once each */
	size_t		 nsinks;
	struct sink	**rsink;	/* by rule: its sink, or NULL */
	struct sink	*out;		/* stdout, when some rule needs it */
	struct sink	*unroutable;	/* NULL: drop */

	bool		 firing;	/* some rule fires: pub is open */
	struct ev_publisher pub;
	int		 pubfd;		/* as registered in the loop */
	struct ev_buf	 ev;		/* an event being built to fire */
	struct ev_buf	 newname;	/* a rendered name */

	bool		 paused;	/* some destination is full */
	bool		 reading;	/* stdin is watched */
	bool		 eof;		/* stdin is done with */
	int		 sigfd;		/* the self-pipe's read end */
	uint64_t	 lineno;
	int		 status;	/* 0, or 1 once something failed */
};

/* main.c */
void	report(struct evroute *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal(struct evroute *, int, const char *, ...)
	    __attribute__((noreturn, format(printf, 3, 4)));
void	nomem(void) __attribute__((noreturn));

/* input.c */
void	input_start(struct evroute *);
void	input_resume(struct evroute *);

/* sink.c */
struct sink *sink_get(struct evroute *, enum sink_kind, const char *arg);
int	sink_open_all(struct evroute *);
void	sink_put(struct evroute *, struct sink *, const char *, size_t);
void	sink_flush_all(struct evroute *);
void	sink_flush_stderr(struct evroute *);
void	sink_reopen_files(struct evroute *);
bool	sink_full(const struct evroute *);
bool	sink_done(struct evroute *);
void	sink_close_all(struct evroute *);

/* fire.c */
int	fire_open(struct evroute *);
void	fire_event(struct evroute *, const struct ev_route *, const char *,
	    size_t);
void	fire_flush(struct evroute *);
bool	fire_full(const struct evroute *);
bool	fire_done(const struct evroute *);
void	fire_close(struct evroute *);

#endif /* EVROUTE_H */
