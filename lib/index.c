/*
 * index.c: evlist's index, "EPOCH:SEQ" or a bare "SEQ": where a loop of
 * evlist calls has got to on one run of a bus.  The epoch is part of it
 * because seqs start again when a bus without a store restarts: an index
 * from the old run must not be read as a position on the new one.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "evbus.h"

int
ev_index_parse(const char *s, char epoch[EV_EPOCH_LEN + 1], uint64_t *seq,
    struct ev_err *err)
{
	const char *colon, *num;
	size_t len = strlen(s), i;

	if (len > 0 && s[len - 1] == '\n')
		len--;
	epoch[0] = '\0';
	num = s;
	if ((colon = memchr(s, ':', len)) != NULL) {
		if (colon - s != EV_EPOCH_LEN)
			return ev_err_set(err, EV_ERR_DATA, "index '%.60s': "
			    "the epoch before ':' must be %d hexadecimal "
			    "digits", s, EV_EPOCH_LEN);
		for (i = 0; i < EV_EPOCH_LEN; i++) {
			if (!isxdigit((unsigned char)s[i])) {
				epoch[0] = '\0';
				return ev_err_set(err, EV_ERR_DATA, "index "
				    "'%.60s': the epoch before ':' must be %d "
				    "hexadecimal digits", s, EV_EPOCH_LEN);
			}
			epoch[i] = (char)tolower((unsigned char)s[i]);
		}
		epoch[EV_EPOCH_LEN] = '\0';
		num = colon + 1;
	}
	if (ev_parse_u64(num, len - (size_t)(num - s), INT64_MAX, seq) == -1) {
		epoch[0] = '\0';
		return ev_err_set(err, EV_ERR_DATA, "index '%.60s': expected "
		    "SEQ or EPOCH:SEQ (as --index-file writes it), SEQ a "
		    "whole number%s", s, errno == ERANGE ? " below 2^63" : "");
	}
	return 0;
}

void
ev_index_format(char *out, const char *epoch, uint64_t seq)
{
	if (epoch == NULL || epoch[0] == '\0')
		snprintf(out, EV_INDEX_LEN + 1, "%" PRIu64, seq);
	else
		snprintf(out, EV_INDEX_LEN + 1, "%.*s:%" PRIu64,
		    EV_EPOCH_LEN, epoch, seq);
}
