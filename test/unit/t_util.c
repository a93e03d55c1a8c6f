/* t_util.c: identifiers and the strict number parser. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "evbus.h"
#include "tap.h"

static int	is_hex(const char *, size_t);

/* Are the n bytes at s lower-case hex digits? */
static int
is_hex(const char *s, size_t n)
{
	return strspn(s, "0123456789abcdef") >= n;
}

static void
test_uuid(void)
{
	char a[EV_UUID_LEN + 1], b[EV_UUID_LEN + 1];
	int i, good = 1;

	memset(a, 'X', sizeof(a));
	ev_uuid4(a);
	ev_uuid4(b);
	is_int(strlen(a), EV_UUID_LEN, "uuid is 36 characters: %s", a);
	ok(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-',
	    "  dashes at 8, 13, 18, 23");
	ok(is_hex(a, 8) && is_hex(a + 9, 4) && is_hex(a + 14, 4) &&
	    is_hex(a + 19, 4) && is_hex(a + 24, 12), "  lower-case hex");
	ok(a[14] == '4', "  version 4");
	ok(strchr("89ab", a[19]) != NULL, "  RFC 4122 variant");
	ok(strcmp(a, b) != 0, "  two differ");
	for (i = 0; i < 1000; i++) {
		ev_uuid4(a);
		if (a[14] != '4' || strchr("89ab", a[19]) == NULL ||
		    a[EV_UUID_LEN] != '\0')
			good = 0;
	}
	ok(good, "  1000 more all v4");
}

static void
test_epoch(void)
{
	char a[EV_EPOCH_LEN + 1], b[EV_EPOCH_LEN + 1];

	memset(a, 'X', sizeof(a));
	ev_epoch_new(a);
	ev_epoch_new(b);
	is_int(strlen(a), EV_EPOCH_LEN, "epoch is 16 characters: %s", a);
	ok(is_hex(a, EV_EPOCH_LEN), "  lower-case hex");
	ok(strcmp(a, b) != 0, "  two differ");
}

static void
test_parse(void)
{
	uint64_t v;

	v = 7;
	is_int(ev_parse_u64("0", 1, 10, &v), 0, "'0'");
	is_int(v, 0, "  is 0");
	is_int(ev_parse_u64("42", 2, 100, &v), 0, "'42'");
	is_int(v, 42, "  is 42");
	is_int(ev_parse_u64("0042", 4, 100, &v), 0, "'0042'");
	is_int(v, 42, "  is 42");
	is_int(ev_parse_u64("100", 3, 100, &v), 0, "'100' with max 100");
	is_int(v, 100, "  is 100");
	is_int(ev_parse_u64("12345", 2, 100, &v), 0, "length honoured");
	is_int(v, 12, "  is 12");
	ok(ev_parse_u64("18446744073709551615", 20, UINT64_MAX, &v) == 0 &&
	    v == UINT64_MAX, "UINT64_MAX");
	ok(ev_parse_u64("9223372036854775807", 19, INT64_MAX, &v) == 0 &&
	    v == (uint64_t)INT64_MAX, "INT64_MAX with max INT64_MAX");

	v = 7;
	errno = 0;
	is_int(ev_parse_u64("101", 3, 100, &v), -1, "'101' with max 100");
	is_int(errno, ERANGE, "  ERANGE");
	is_int(v, 7, "  result untouched");
	is_int(ev_parse_u64("5", 1, 4, &v), -1, "'5' with max 4");
	is_int(ev_parse_u64("1", 1, 0, &v), -1, "'1' with max 0");
	is_int(ev_parse_u64("0", 1, 0, &v), 0, "'0' with max 0");
	is_int(ev_parse_u64("18446744073709551616", 20, UINT64_MAX, &v), -1,
	    "UINT64_MAX + 1");
	is_int(ev_parse_u64("99999999999999999999999", 23, UINT64_MAX, &v),
	    -1, "far past UINT64_MAX");
	is_int(ev_parse_u64("9223372036854775808", 19, INT64_MAX, &v), -1,
	    "INT64_MAX + 1 with max INT64_MAX");
	v = 7;
	errno = 0;
	is_int(ev_parse_u64("", 0, 100, &v), -1, "empty");
	is_int(errno, EINVAL, "  EINVAL");
	is_int(ev_parse_u64("-1", 2, 100, &v), -1, "'-1'");
	is_int(ev_parse_u64("+1", 2, 100, &v), -1, "'+1'");
	is_int(ev_parse_u64(" 1", 2, 100, &v), -1, "' 1'");
	is_int(ev_parse_u64("1 ", 2, 100, &v), -1, "'1 '");
	is_int(ev_parse_u64("1x", 2, 100, &v), -1, "'1x'");
	is_int(ev_parse_u64("0x10", 4, 100, &v), -1, "'0x10'");
	is_int(ev_parse_u64("1\0", 2, 100, &v), -1, "'1' NUL");
	is_int(ev_parse_u64("1.0", 3, 100, &v), -1, "'1.0'");
	is_int(v, 7, "  result untouched");
}

int
main(void)
{
	test_uuid();
	test_epoch();
	test_parse();
	return tap_done();
}
