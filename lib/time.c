/*
 * time.c: clocks, durations ("250ms", "10s", "5m", "1h", "7d"; a bare
 * number is seconds; "1.5s" is 1500 ms) and points in time (RFC 3339, epoch
 * milliseconds, or a duration meaning that long ago).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "evbus.h"

/* How much of bad input an error message quotes. */
#define QUOTE_MAX	64
/* Digits after the decimal point that a duration may have. */
#define FRAC_MAX	9

static void	quote(char *, size_t, const char *);
static int	unit_ms(const char *, int64_t *);
static int	digits(const char *, int, int *);
static bool	leap(int);
static int	rfc3339(const char *, int64_t *, struct ev_err *);

/*
 * Copy s into dst for an error message: control bytes become '?', and a
 * long input is cut with "...".
 */
static void
quote(char *dst, size_t dstlen, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < QUOTE_MAX && i + 4 < dstlen; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ?
		    '?' : s[i];
	if (s[i] != '\0' && i + 4 < dstlen) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
}

/* The milliseconds in one unit ("" is seconds); -1 if unknown. */
static int
unit_ms(const char *u, int64_t *ms)
{
	if (strcmp(u, "ms") == 0)
		*ms = 1;
	else if (u[0] == '\0' || strcmp(u, "s") == 0)
		*ms = 1000;
	else if (strcmp(u, "m") == 0)
		*ms = 60 * 1000;
	else if (strcmp(u, "h") == 0)
		*ms = 60 * 60 * 1000;
	else if (strcmp(u, "d") == 0)
		*ms = 24 * 60 * 60 * 1000;
	else
		return -1;
	return 0;
}

int64_t
ev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
ev_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Parse a duration: digits, optionally '.' and 1..9 more digits, then a
 * unit (ms, s, m, h, d) or nothing for seconds.  A fraction finer than a
 * millisecond is dropped ("1.0005s" is 1000 ms).  Returns 0 with *ms, or
 * -1 with err (EV_ERR_DATA; EV_ERR_LIMIT when it does not fit in int64
 * milliseconds).  Cost: one pass over the text.
 */
int
ev_duration_parse(const char *s, int64_t *ms, struct ev_err *err)
{
	char q[QUOTE_MAX + 8];
	const char *p = s;
	uint64_t whole = 0, frac = 0, scale = 1;
	int64_t unit;
	int nfrac = 0;

	quote(q, sizeof(q), s);
	if (*p == '\0')
		return ev_err_set(err, EV_ERR_DATA, "duration is empty");
	if (*p == '-')
		return ev_err_set(err, EV_ERR_DATA,
		    "duration '%s': must not be negative", q);
	if (*p < '0' || *p > '9')
		return ev_err_set(err, EV_ERR_DATA, "duration '%s': expected a "
		    "number and a unit, such as 250ms, 10s, 5m, 1h or 7d", q);
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return ev_err_set(err, EV_ERR_LIMIT,
			    "duration '%s': too large", q);
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return ev_err_set(err, EV_ERR_DATA,
			    "duration '%s': expected a digit after '.'", q);
		for (; *p >= '0' && *p <= '9'; p++) {
			if (++nfrac > FRAC_MAX)
				return ev_err_set(err, EV_ERR_DATA,
				    "duration '%s': more than %d digits after "
				    "'.'", q, FRAC_MAX);
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
	}
	if (unit_ms(p, &unit) == -1) {
		char uq[QUOTE_MAX + 8];

		quote(uq, sizeof(uq), p);
		return ev_err_set(err, EV_ERR_DATA, "duration '%s': unknown "
		    "unit '%s' (use ms, s, m, h or d)", q, uq);
	}
	/* frac < scale <= 1e9 and unit <= 8.64e7: the product fits. */
	if (whole > (uint64_t)INT64_MAX / (uint64_t)unit ||
	    whole * (uint64_t)unit > (uint64_t)INT64_MAX -
	    frac * (uint64_t)unit / scale)
		return ev_err_set(err, EV_ERR_LIMIT,
		    "duration '%s': too large", q);
	*ms = (int64_t)(whole * (uint64_t)unit + frac * (uint64_t)unit /
	    scale);
	return 0;
}

/* Read exactly n digits at s into *v; -1 if any is not a digit. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Parse an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM),
 * 't', 'z' and a space (for 'T') accepted; fractions beyond milliseconds
 * are dropped; a leap second (:60) counts as the next second.  Returns 0
 * with *ms, or -1 with err (EV_ERR_DATA).
 */
static int
rfc3339(const char *s, int64_t *ms, struct ev_err *err)
{
	static const int mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	char q[QUOTE_MAX + 8];
	struct tm tm;
	const char *p;
	int y, mo, d, h, mi, sec, oh, om, frac = 0, nfrac, sign;
	time_t t;

	quote(q, sizeof(q), s);
	if (digits(s, 4, &y) == -1 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) == -1 || s[7] != '-' ||
	    digits(s + 8, 2, &d) == -1)
		return ev_err_set(err, EV_ERR_DATA,
		    "time '%s': expected a date YYYY-MM-DD", q);
	if (mo < 1 || mo > 12)
		return ev_err_set(err, EV_ERR_DATA,
		    "time '%s': no month %02d", q, mo);
	if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return ev_err_set(err, EV_ERR_DATA,
		    "time '%s': no day %02d in %04d-%02d", q, d, y, mo);
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return ev_err_set(err, EV_ERR_DATA, "time '%s': expected 'T' "
		    "and a time after the date (2026-11-23T06:00:00Z)", q);
	if (digits(s + 11, 2, &h) == -1 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) == -1 || s[16] != ':' ||
	    digits(s + 17, 2, &sec) == -1)
		return ev_err_set(err, EV_ERR_DATA,
		    "time '%s': expected a time HH:MM:SS after the date", q);
	if (h > 23 || mi > 59 || sec > 60)
		return ev_err_set(err, EV_ERR_DATA,
		    "time '%s': no time %02d:%02d:%02d", q, h, mi, sec);
	p = s + 19;
	if (*p == '.') {
		p++;
		for (nfrac = 0; *p >= '0' && *p <= '9'; p++, nfrac++)
			if (nfrac < 3)
				frac = frac * 10 + (*p - '0');
		if (nfrac == 0)
			return ev_err_set(err, EV_ERR_DATA,
			    "time '%s': expected a digit after '.'", q);
		for (; nfrac < 3; nfrac++)
			frac *= 10;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		sign = oh = om = 0;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (digits(p + 1, 2, &oh) == -1 || p[3] != ':' ||
		    digits(p + 4, 2, &om) == -1 || p[6] != '\0' || oh > 23 ||
		    om > 59)
			return ev_err_set(err, EV_ERR_DATA, "time '%s': bad "
			    "offset (use Z, +HH:MM or -HH:MM)", q);
	} else if (*p == '\0')
		return ev_err_set(err, EV_ERR_DATA, "time '%s': no time zone "
		    "offset (add Z for UTC, or +HH:MM)", q);
	else
		return ev_err_set(err, EV_ERR_DATA, "time '%s': unexpected "
		    "text after the time (use Z, +HH:MM or -HH:MM)", q);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*ms = ((int64_t)t - sign * (oh * 3600 + om * 60)) * 1000 + frac;
	return 0;
}

/*
 * Parse a point in time: all digits is epoch milliseconds; text that
 * starts like a date (NNNN-) is RFC 3339; anything that parses as a
 * duration means that long before now_ms.  Returns 0 with *ms, or -1 with
 * err (EV_ERR_DATA, EV_ERR_LIMIT).  Cost: one pass over the text.
 */
int
ev_time_parse(const char *s, int64_t now_ms, int64_t *ms, struct ev_err *err)
{
	char q[QUOTE_MAX + 8];
	struct ev_err derr;
	uint64_t v;
	int64_t d;
	size_t len = strlen(s);
	int y;

	if (len == 0)
		return ev_err_set(err, EV_ERR_DATA, "time is empty");
	if (strspn(s, "0123456789") == len) {
		if (ev_parse_u64(s, len, INT64_MAX, &v) == -1) {
			quote(q, sizeof(q), s);
			return ev_err_set(err, EV_ERR_LIMIT,
			    "time '%s': too large", q);
		}
		*ms = (int64_t)v;
		return 0;
	}
	if (digits(s, 4, &y) == 0 && s[4] == '-')
		return rfc3339(s, ms, err);
	if (ev_duration_parse(s, &d, &derr) == 0) {
		if (now_ms < 0 && d > now_ms - INT64_MIN) {
			quote(q, sizeof(q), s);
			return ev_err_set(err, EV_ERR_LIMIT,
			    "time '%s': too long ago", q);
		}
		*ms = now_ms - d;
		return 0;
	}
	if (s[0] == '-') {
		quote(q, sizeof(q), s);
		return ev_err_set(err, EV_ERR_DATA, "time '%s': a time that "
		    "long ago is written without '-' (5m)", q);
	}
	/* Something that started like a number: the duration says why. */
	if (s[0] >= '0' && s[0] <= '9') {
		if (err != NULL) {
			*err = derr;
			/* "duration 'x': why" reads as "time 'x': why". */
			if (strncmp(derr.msg, "duration", 8) == 0)
				ev_err_set(err, derr.kind, "time%s",
				    derr.msg + 8);
		}
		return -1;
	}
	quote(q, sizeof(q), s);
	return ev_err_set(err, EV_ERR_DATA, "time '%s': expected RFC 3339 "
	    "(2026-11-23T06:00:00Z), epoch milliseconds or a duration "
	    "ago (5m)", q);
}

/* Sleep ms milliseconds, resuming after signals. */
void
ev_sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}
