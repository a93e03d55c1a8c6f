/* t_time.c: clocks, durations and points in time. */
#include <stdint.h>
#include <string.h>

#include "evbus.h"
#include "tap.h"

/* 2026-11-23T06:00:00Z */
#define T0	INT64_C(1795413600000)

static const struct {
	const char	*s;
	int64_t		 ms;
} dgood[] = {
	{ "0", 0 },
	{ "0ms", 0 },
	{ "250ms", 250 },
	{ "10s", 10000 },
	{ "10", 10000 },
	{ "5m", 300000 },
	{ "1h", 3600000 },
	{ "7d", 604800000 },
	{ "007s", 7000 },
	{ "1.5s", 1500 },
	{ "1.5", 1500 },
	{ "0.25m", 15000 },
	{ "1.5h", 5400000 },
	{ "0.5d", 43200000 },
	{ "1.0005s", 1000 },
	{ "1.999999999s", 1999 },
	{ "2.5ms", 2 },
	{ "9223372036854775807ms", INT64_MAX },
	{ "106751991167d", INT64_C(106751991167) * 86400000 },
	{ "9223372036854775.807s", INT64_MAX },
	{ "9223372036854775807.5ms", INT64_MAX },
};

static const struct {
	const char	*s;
	int		 kind;
	const char	*msg;
} dbad[] = {
	{ "", EV_ERR_DATA, "duration is empty" },
	{ "5x", EV_ERR_DATA,
	    "duration '5x': unknown unit 'x' (use ms, s, m, h or d)" },
	{ "5S", EV_ERR_DATA,
	    "duration '5S': unknown unit 'S' (use ms, s, m, h or d)" },
	{ "5sec", EV_ERR_DATA,
	    "duration '5sec': unknown unit 'sec' (use ms, s, m, h or d)" },
	{ "5 s", EV_ERR_DATA,
	    "duration '5 s': unknown unit ' s' (use ms, s, m, h or d)" },
	{ "5s5", EV_ERR_DATA,
	    "duration '5s5': unknown unit 's5' (use ms, s, m, h or d)" },
	{ "1m30s", EV_ERR_DATA,
	    "duration '1m30s': unknown unit 'm30s' (use ms, s, m, h or d)" },
	{ "-5s", EV_ERR_DATA, "duration '-5s': must not be negative" },
	{ "+5s", EV_ERR_DATA, "duration '+5s': expected a number and a "
	    "unit, such as 250ms, 10s, 5m, 1h or 7d" },
	{ " 5s", EV_ERR_DATA, "duration ' 5s': expected a number and a "
	    "unit, such as 250ms, 10s, 5m, 1h or 7d" },
	{ "s", EV_ERR_DATA, "duration 's': expected a number and a "
	    "unit, such as 250ms, 10s, 5m, 1h or 7d" },
	{ ".5s", EV_ERR_DATA, "duration '.5s': expected a number and a "
	    "unit, such as 250ms, 10s, 5m, 1h or 7d" },
	{ "1.s", EV_ERR_DATA, "duration '1.s': expected a digit after '.'" },
	{ "1.", EV_ERR_DATA, "duration '1.': expected a digit after '.'" },
	{ "1.2.3s", EV_ERR_DATA,
	    "duration '1.2.3s': unknown unit '.3s' (use ms, s, m, h or d)" },
	{ "1.0000000001s", EV_ERR_DATA,
	    "duration '1.0000000001s': more than 9 digits after '.'" },
	{ "9223372036854775808ms", EV_ERR_LIMIT,
	    "duration '9223372036854775808ms': too large" },
	{ "106751991168d", EV_ERR_LIMIT, "duration '106751991168d': too large" },
	{ "99999999999999999999999s", EV_ERR_LIMIT,
	    "duration '99999999999999999999999s': too large" },
	{ "9223372036854775.808s", EV_ERR_LIMIT,
	    "duration '9223372036854775.808s': too large" },
	{ "5\ts", EV_ERR_DATA,
	    "duration '5?s': unknown unit '?s' (use ms, s, m, h or d)" },
};

static const struct {
	const char	*s;
	int64_t		 ms;
} tgood[] = {
	{ "2026-11-23T06:00:00Z", T0 },
	{ "2026-11-23t06:00:00z", T0 },
	{ "2026-11-23 06:00:00Z", T0 },
	{ "2026-11-23T06:00:00.123Z", T0 + 123 },
	{ "2026-11-23T06:00:00.1Z", T0 + 100 },
	{ "2026-11-23T06:00:00.123456789Z", T0 + 123 },
	{ "2026-11-23T07:00:00.123+01:00", T0 + 123 },
	{ "2026-11-23T01:30:00-04:30", T0 },
	{ "2026-11-23T06:00:00+00:00", T0 },
	{ "2026-11-23T06:00:00-00:00", T0 },
	{ "2026-11-24T05:59:00+23:59", T0 },
	{ "1970-01-01T00:00:00Z", 0 },
	{ "1969-12-31T23:59:59Z", -1000 },
	{ "2024-02-29T00:00:00Z", INT64_C(1709164800000) },
	{ "2000-02-29T00:00:00Z", INT64_C(951782400000) },
	{ "2016-12-31T23:59:60Z", INT64_C(1483228800000) },
	/* Epoch milliseconds. */
	{ "1795413600000", T0 },
	{ "0", 0 },
	{ "5", 5 },
	{ "9223372036854775807", INT64_MAX },
	/* Durations ago. */
	{ "5m", T0 - 300000 },
	{ "250ms", T0 - 250 },
	{ "1.5h", T0 - 5400000 },
	{ "7d", T0 - 604800000 },
	{ "0s", T0 },
};

static const struct {
	const char	*s;
	const char	*msg;
} tbad[] = {
	{ "", "time is empty" },
	{ "yesterday", "time 'yesterday': expected RFC 3339 "
	    "(2026-11-23T06:00:00Z), epoch milliseconds or a duration "
	    "ago (5m)" },
	{ "5x", "time '5x': unknown unit 'x' (use ms, s, m, h or d)" },
	{ "-5m", "time '-5m': a time that long ago is written without '-' "
	    "(5m)" },
	{ "9223372036854775808", "time '9223372036854775808': too large" },
	{ "2026-11-23", "time '2026-11-23': expected 'T' and a time after "
	    "the date (2026-11-23T06:00:00Z)" },
	{ "2026-11-23T06:00:00", "time '2026-11-23T06:00:00': no time zone "
	    "offset (add Z for UTC, or +HH:MM)" },
	{ "2026-11-23T06:00Z", "time '2026-11-23T06:00Z': expected a time "
	    "HH:MM:SS after the date" },
	{ "2026-13-01T00:00:00Z", "time '2026-13-01T00:00:00Z': no month 13" },
	{ "2026-00-01T00:00:00Z", "time '2026-00-01T00:00:00Z': no month 00" },
	{ "2026-02-29T00:00:00Z",
	    "time '2026-02-29T00:00:00Z': no day 29 in 2026-02" },
	{ "2100-02-29T00:00:00Z",
	    "time '2100-02-29T00:00:00Z': no day 29 in 2100-02" },
	{ "2026-04-31T00:00:00Z",
	    "time '2026-04-31T00:00:00Z': no day 31 in 2026-04" },
	{ "2026-04-00T00:00:00Z",
	    "time '2026-04-00T00:00:00Z': no day 00 in 2026-04" },
	{ "2026-11-23T24:00:00Z",
	    "time '2026-11-23T24:00:00Z': no time 24:00:00" },
	{ "2026-11-23T06:60:00Z",
	    "time '2026-11-23T06:60:00Z': no time 06:60:00" },
	{ "2026-11-23T06:00:61Z",
	    "time '2026-11-23T06:00:61Z': no time 06:00:61" },
	{ "2026-11-23T06:00:00.Z",
	    "time '2026-11-23T06:00:00.Z': expected a digit after '.'" },
	{ "2026-11-23T06:00:00+0100", "time '2026-11-23T06:00:00+0100': bad "
	    "offset (use Z, +HH:MM or -HH:MM)" },
	{ "2026-11-23T06:00:00+24:00", "time '2026-11-23T06:00:00+24:00': "
	    "bad offset (use Z, +HH:MM or -HH:MM)" },
	{ "2026-11-23T06:00:00+01:00x", "time '2026-11-23T06:00:00+01:00x': "
	    "bad offset (use Z, +HH:MM or -HH:MM)" },
	{ "2026-11-23T06:00:00Zx", "time '2026-11-23T06:00:00Zx': unexpected "
	    "text after the time (use Z, +HH:MM or -HH:MM)" },
	{ "2026-11-23T06:00:00 UTC", "time '2026-11-23T06:00:00 UTC': "
	    "unexpected text after the time (use Z, +HH:MM or -HH:MM)" },
	{ "2026-1-23T06:00:00Z",
	    "time '2026-1-23T06:00:00Z': expected a date YYYY-MM-DD" },
	{ "06:00", "time '06:00': unknown unit ':00' (use ms, s, m, h or d)" },
};

static void
test_clocks(void)
{
	int64_t a, b, m1, m2;

	a = ev_now_ms();
	m1 = ev_mono_ms();
	b = ev_now_ms();
	m2 = ev_mono_ms();
	ok(a > INT64_C(1700000000000), "ev_now_ms is after 2023 (%lld)",
	    (long long)a);
	ok(b >= a && b - a < 1000, "  and moves forward");
	ok(m1 >= 0 && m2 >= m1, "ev_mono_ms does not go back");
}

static void
test_duration(void)
{
	struct ev_err e;
	int64_t ms;
	size_t i;

	for (i = 0; i < sizeof(dgood) / sizeof(dgood[0]); i++) {
		ms = -42;
		is_int(ev_duration_parse(dgood[i].s, &ms, &e), 0,
		    "duration '%s'", dgood[i].s);
		is_int(ms, dgood[i].ms, "  is %lld ms", (long long)dgood[i].ms);
	}
	for (i = 0; i < sizeof(dbad) / sizeof(dbad[0]); i++) {
		memset(&e, 0, sizeof(e));
		ms = -42;
		is_int(ev_duration_parse(dbad[i].s, &ms, &e), -1,
		    "duration #%zu is rejected", i);
		is_int(ms, -42, "  result untouched");
		is_int(e.kind, dbad[i].kind, "  error kind");
		is_str(e.msg, dbad[i].msg, "  message");
	}
	is_int(ev_duration_parse("5x", &ms, NULL), -1, "NULL err is fine");
}

static void
test_time(void)
{
	struct ev_err e;
	int64_t ms;
	size_t i;

	for (i = 0; i < sizeof(tgood) / sizeof(tgood[0]); i++) {
		ms = -42;
		memset(&e, 0, sizeof(e));
		is_int(ev_time_parse(tgood[i].s, T0, &ms, &e), 0,
		    "time '%s'", tgood[i].s);
		if (e.msg[0] != '\0')
			printf("# %s\n", e.msg);
		is_int(ms, tgood[i].ms, "  is %lld", (long long)tgood[i].ms);
	}
	for (i = 0; i < sizeof(tbad) / sizeof(tbad[0]); i++) {
		memset(&e, 0, sizeof(e));
		ms = -42;
		is_int(ev_time_parse(tbad[i].s, T0, &ms, &e), -1,
		    "time '%s' is rejected", tbad[i].s);
		is_int(ms, -42, "  result untouched");
		ok(e.kind == EV_ERR_DATA || e.kind == EV_ERR_LIMIT,
		    "  a data or limit error");
		is_str(e.msg, tbad[i].msg, "  message");
	}
	is_int(ev_time_parse("5m", INT64_MIN + 1000, &ms, &e), -1,
	    "a duration before INT64_MIN is rejected");
	is_int(ev_time_parse("1s", INT64_MIN + 1000, &ms, &e), 0,
	    "  one just after it is not");
	is_int(ms, INT64_MIN, "  and is INT64_MIN");
	is_int(ev_time_parse("yesterday", T0, &ms, NULL), -1,
	    "NULL err is fine");
}

int
main(void)
{
	test_clocks();
	test_duration();
	test_time();
	return tap_done();
}
