/*
 * log.c: the daemon's messages: stderr in the foreground, syslog once
 * detached.  Informational messages only with -v.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "evbusd.h"

static int	log_tostderr = 1;
static int	log_verbose;

static void	vlog(int, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static void	log_with_errno(int, const char *, va_list, int)
		    __attribute__((format(printf, 2, 0)));

void
log_init(int tostderr, int verbose)
{
	log_tostderr = tostderr;
	log_verbose = verbose;
	if (!tostderr)
		openlog("evbusd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
vlog(int pri, const char *fmt, va_list ap)
{
	int saved = errno;

	if (log_tostderr) {
		fputs("evbusd: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else
		vsyslog(pri, fmt, ap);
	errno = saved;
}

static void
log_with_errno(int pri, const char *fmt, va_list ap, int e)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_tostderr)
		fprintf(stderr, "evbusd: %s: %s\n", msg, strerror(e));
	else
		syslog(pri, "%s: %s", msg, strerror(e));
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_with_errno(LOG_WARNING, fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_with_errno(LOG_CRIT, fmt, ap, saved);
	va_end(ap);
	exit(EV_EX_SOFTWARE);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(EV_EX_SOFTWARE);
}
