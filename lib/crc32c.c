/*
 * crc32c.c: CRC-32C (Castagnoli), the checksum of evstore's records.
 *
 * The reflected polynomial 0x82F63B78, initial value and final xor
 * 0xFFFFFFFF, as in iSCSI (RFC 3720, appendix B.4), ext4 and SSE 4.2's
 * crc32 instruction: the CRC of the nine bytes "123456789" is 0xE3069283.
 *
 * Two ways to compute the same value: the crc32 instruction when the CPU
 * has it (x86-64 with SSE 4.2, eight bytes an instruction), else tables
 * built from the polynomial at first use, eight bytes at a time
 * ("slicing by 8").  ev_crc32c_soft always takes the tables, so that the
 * unit tests can hold the two against each other.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define CRC_HW	1
#endif

#include "evbus.h"

#define CRC32C_POLY	0x82F63B78u

static uint32_t		crc_table[8][256];
static pthread_once_t	crc_once = PTHREAD_ONCE_INIT;

static void	crc_init(void);

/*
 * Table 0 is the CRC of each byte value shifted through eight rounds of
 * the polynomial; table t is table t-1 advanced by one more zero byte, so
 * that eight input bytes can be folded with eight lookups.
 */
static void
crc_init(void)
{
	uint32_t c;
	int i, k, t;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
			    crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t
ev_crc32c_soft(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t lo, hi;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len >= 8) {
		lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		    crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#ifdef CRC_HW
static uint32_t	crc_hw(uint32_t, const void *, size_t)
		    __attribute__((target("sse4.2")));

/* The same with the crc32 instruction (SSE 4.2), eight bytes at a time. */
static uint32_t
crc_hw(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t c = ~crc, w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

uint32_t
ev_crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef CRC_HW
	static int hw = -1;
	int h;

	/* Every thread that looks first computes the same answer. */
	if ((h = __atomic_load_n(&hw, __ATOMIC_RELAXED)) == -1) {
		__builtin_cpu_init();
		h = __builtin_cpu_supports("sse4.2") ? 1 : 0;
		__atomic_store_n(&hw, h, __ATOMIC_RELAXED);
	}
	if (h)
		return crc_hw(crc, buf, len);
#endif
	return ev_crc32c_soft(crc, buf, len);
}
