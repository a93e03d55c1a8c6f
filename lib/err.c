/* err.c: failure descriptions for callers to report. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "evbus.h"

static void	err_vset(struct ev_err *, enum ev_errkind, const char *,
		    va_list) __attribute__((format(printf, 3, 0)));

static void
err_vset(struct ev_err *e, enum ev_errkind kind, const char *fmt, va_list ap)
{
	e->kind = kind;
	e->sys = 0;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int
ev_err_set(struct ev_err *e, enum ev_errkind kind, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	err_vset(e, kind, fmt, ap);
	va_end(ap);
	return -1;
}

int
ev_err_sys(struct ev_err *e, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;
	size_t n;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	err_vset(e, EV_ERR_SYS, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(saved));
	e->sys = saved;
	errno = saved;
	return -1;
}

int
ev_err_exit(const struct ev_err *e)
{
	switch (e->kind) {
	case EV_ERR_NONE:
		return EV_EX_OK;
	case EV_ERR_DATA:
	case EV_ERR_LIMIT:
		return EV_EX_DATAERR;
	case EV_ERR_UNAVAILABLE:
	case EV_ERR_PROTO:
		return EV_EX_UNAVAILABLE;
	case EV_ERR_DENIED:
		return EV_EX_NOPERM;
	case EV_ERR_TIMEOUT:
		return EV_EX_TEMPFAIL;
	case EV_ERR_SYS:
		return e->sys == EACCES || e->sys == EPERM ?
		    EV_EX_NOPERM : EV_EX_IOERR;
	}
	return EV_EX_SOFTWARE;
}
