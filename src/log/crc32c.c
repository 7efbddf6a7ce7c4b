/*
 * crc32c.c — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of RecordBatch v2 (see crc32c.h).
 *
 * Two implementations of the same function: the SSE4.2 crc32 instruction on
 * x86_64 CPUs that have it, and portable slicing-by-8 tables elsewhere. The
 * choice is made once, at first use, under pthread_once; the only other
 * global is the test switch crc32c_force_table.
 */
#include "log/crc32c.h"

#include <pthread.h>

#define CRC32C_POLY 0x82F63B78u

/* crc32c_tables[k][b]: CRC of byte b followed by k zero bytes (slicing-by-8). */
static uint32_t crc32c_tables[8][256];
static int crc32c_use_hw;
static int crc32c_table_forced;
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

/* Build the tables and probe the CPU; run once by pthread_once. */
static void crc32c_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_tables[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (j = 1; j < 8; j++)
			crc32c_tables[j][i] = (crc32c_tables[j - 1][i] >> 8) ^
			                      crc32c_tables[0][crc32c_tables[j - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Eight bytes as a little-endian integer, whatever the host's byte order. */
static uint64_t crc32c_load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* Slicing-by-8 over the pre-inverted crc. */
static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	uint32_t (*t)[256] = crc32c_tables;

	while (len >= 8) {
		uint64_t w = crc32c_load_le64(p) ^ crc;

		crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^
		      t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
		      t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^
		      t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
/*
 * The crc32 instruction over the pre-inverted crc: 8 bytes per step. x86 is
 * little-endian and allows unaligned loads, so the 8-byte load is a plain
 * memcpy that compiles to one mov.
 */
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	unsigned long long c = crc;

	while (len >= 8) {
		unsigned long long w;

		__builtin_memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((unsigned int)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
	crc = ~crc;
#if defined(__x86_64__)
	if (crc32c_use_hw && !__atomic_load_n(&crc32c_table_forced, __ATOMIC_RELAXED))
		return ~crc32c_hw(crc, buf, len);
#endif
	return ~crc32c_sw(crc, buf, len);
}

uint32_t crc32c(const void *buf, size_t len)
{
	return crc32c_extend(0, buf, len);
}

void crc32c_force_table(int on)
{
	__atomic_store_n(&crc32c_table_forced, on != 0, __ATOMIC_RELAXED);
}
