/* util.c: identifiers (UUID v4, bus epochs) and a strict number parser. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "evbus.h"

static void	hex(char *, const unsigned char *, size_t);

/*
 * Random bytes from a per-thread pool refilled by libbsd's arc4random_buf
 * (ChaCha20 keyed from getrandom(2)): ids are the bus's de-duplication
 * keys, so there is no weaker fallback -- arc4random_buf never returns
 * without good bytes (it aborts the process if the kernel gives none).
 * The pool spares a short-lived program most of the calls.
 */
static void
ev_random(void *out, size_t n)
{
	static _Thread_local unsigned char pool[512];
	static _Thread_local size_t left;

	if (n > sizeof(pool)) {
		arc4random_buf(out, n);
		return;
	}
	if (left < n) {
		arc4random_buf(pool, sizeof(pool));
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, n);
	explicit_bzero(pool + sizeof(pool) - left, n);
	left -= n;
}

/* Write n bytes as 2n lower-case hex digits (no NUL). */
static void
hex(char *out, const unsigned char *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
}

/*
 * A random (version 4, RFC 4122 variant) UUID as 36 lower-case characters
 * and a NUL.
 */
void
ev_uuid4(char out[EV_UUID_LEN + 1])
{
	unsigned char b[16];

	ev_random(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	hex(out, b, 4);
	out[8] = '-';
	hex(out + 9, b + 4, 2);
	out[13] = '-';
	hex(out + 14, b + 6, 2);
	out[18] = '-';
	hex(out + 19, b + 8, 2);
	out[23] = '-';
	hex(out + 24, b + 10, 6);
	out[EV_UUID_LEN] = '\0';
}

/* A new random producer session id: 16 lower-case hex digits and a NUL. */
void
ev_session_new(char out[17])
{
	unsigned char b[8];

	ev_random(b, sizeof(b));
	hex(out, b, sizeof(b));
	out[16] = '\0';
}

/* A new random bus epoch: EV_EPOCH_LEN lower-case hex digits and a NUL. */
void
ev_epoch_new(char out[EV_EPOCH_LEN + 1])
{
	unsigned char b[EV_EPOCH_LEN / 2];

	ev_random(b, sizeof(b));
	hex(out, b, sizeof(b));
	out[EV_EPOCH_LEN] = '\0';
}

bool
ev_epoch_valid(const char *s)
{
	size_t i;

	for (i = 0; i < EV_EPOCH_LEN; i++)
		if (s[i] == '\0' || strchr("0123456789abcdefABCDEF", s[i]) ==
		    NULL)
			return false;
	return s[EV_EPOCH_LEN] == '\0';
}

/*
 * Parse s[0..len) as a decimal number of at most max: digits only, no sign,
 * space or other byte, at least one digit (leading zeros are fine).
 * Returns 0 with *v, or -1 with errno EINVAL (not a number) or ERANGE
 * (greater than max) and *v unchanged.  Never overflows.
 */
int
ev_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *v)
{
	uint64_t n = 0, d;
	size_t i;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9') {
			errno = EINVAL;
			return -1;
		}
	for (i = 0; i < len; i++) {
		d = (uint64_t)(s[i] - '0');
		if (d > max || n > (max - d) / 10) {
			errno = ERANGE;
			return -1;
		}
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

int
ev_size_parse(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	size_t n = strspn(s, "0123456789");
	uint64_t v, mult = 1;
	const char *u = s + n;

	if (n == 0 || ev_parse_u64(s, n, UINT64_MAX, &v) == -1) {
		errno = n == 0 ? EINVAL : ERANGE;
		return -1;
	}
	if (strcasecmp(u, "k") == 0 || strcasecmp(u, "kib") == 0)
		mult = 1024;
	else if (strcasecmp(u, "m") == 0 || strcasecmp(u, "mib") == 0)
		mult = 1024 * 1024;
	else if (strcasecmp(u, "g") == 0 || strcasecmp(u, "gib") == 0)
		mult = 1024 * 1024 * 1024;
	else if (*u != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (v > UINT64_MAX / mult || v * mult < min || v * mult > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v * mult;
	return 0;
}

int
ev_env_bool(const char *name, bool dflt, struct ev_err *err)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	const char *v = getenv(name);
	size_t i;

	if (v == NULL || *v == '\0')
		return dflt;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return ev_err_set(err, EV_ERR_DATA, "%s=%.40s: expected 1, yes, true, "
	    "on or 0, no, false, off", name, v);
}
