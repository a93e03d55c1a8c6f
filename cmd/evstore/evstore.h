/*
 * evstore.h: the parts of evstore(1), one file a command: append.c, cat.c,
 * admin.c (verify, repair, compact, stats), and main.c, which dispatches
 * and holds what they share.
 */
#ifndef EVSTORE_H
#define EVSTORE_H

#include <stdbool.h>

#include "evbus.h"

int	cmd_append(int, char **);
int	cmd_cat(int, char **);
int	cmd_verify(int, char **);
int	cmd_repair(int, char **);
int	cmd_compact(int, char **);
int	cmd_stats(int, char **);

/* Print the synopsis (to stdout for status 0, else stderr) and exit. */
void	usage(int) __attribute__((noreturn));
/* "evstore: TEXT" on stderr, below a progress line if one is shown. */
void	say(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Report and progress callbacks for the walks (struct ev_store_walk). */
void	walk_report(void *, bool, const char *);
void	walk_progress(void *, uint64_t, uint64_t);
/* ev_store_opts.note: what opening a log found. */
void	open_note(void *, const char *);
/* Erase a progress line if one is shown. */
void	progress_done(void);
/* Exactly one directory argument after the options, else usage. */
const char *one_dir(int, char **);
/* A directory argument without trailing slashes (changed in place). */
char	*dir_arg(char *);

#endif /* EVSTORE_H */
