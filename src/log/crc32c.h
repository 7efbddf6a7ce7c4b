/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * run time), else a slicing table. Thread-safe; no allocation.
 */
#ifndef STRAND_CRC32C_H
#define STRAND_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over len bytes of buf; returns the new CRC. */
uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len);

/* CRC-32C of one buffer: crc32c_extend(0, buf, len). */
uint32_t crc32c(const void *buf, size_t len);

/* Forces the table implementation (tests compare both paths); 1 = table. */
void crc32c_force_table(int on);

#endif
