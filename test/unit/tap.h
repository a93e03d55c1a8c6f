/*
 * tap.h: a minimal TAP producer for the C unit tests.  Each check prints
 * "ok N - what" or "not ok N - what (file:line)"; tap_done() prints the plan
 * and returns the exit status (1 when any check failed).
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static void __attribute__((format(printf, 4, 5), unused))
tap_check(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond)
		printf(" (%s:%d)", file, line);
	putchar('\n');
}

#define ok(cond, ...)	tap_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) do {					\
	long long g_ = (got), w_ = (want);				\
	if (g_ != w_)							\
		printf("# got %lld, want %lld\n", g_, w_);		\
	ok(g_ == w_, __VA_ARGS__);					\
} while (0)
#define is_str(got, want, ...) do {					\
	const char *g_ = (got), *w_ = (want);				\
	int e_ = g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0;	\
	if (!e_)							\
		printf("# got \"%s\", want \"%s\"\n",			\
		    g_ ? g_ : "(null)", w_ ? w_ : "(null)");		\
	ok(e_, __VA_ARGS__);						\
} while (0)

static int __attribute__((unused))
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif /* TAP_H */
