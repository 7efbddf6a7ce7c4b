/*
 * partitioner.c — Kafka's default partitioner for keyed records.
 *
 * murmur2 exactly as org.apache.kafka.common.utils.Utils.murmur2 computes
 * it (the Java code is MurmurHash2 with a fixed seed, reading the key as
 * little-endian 32-bit words), so that a key lands on the same partition
 * here as with a Kafka client producing to a topic of the same size.
 */
#include "broker/broker.h"

#include <stdint.h>
#include <string.h>

#define MURMUR2_SEED 0x9747b28cU
#define MURMUR2_M    0x5bd1e995U
#define MURMUR2_R    24

/* All arithmetic is on uint32_t: Java's int wraps the same way, and its >>> is our >>. */
uint32_t broker_murmur2(const void *key, size_t len)
{
	const uint8_t *data = key;
	uint32_t length = (uint32_t)len;
	uint32_t h = MURMUR2_SEED ^ length;
	size_t nblocks = len / 4;
	size_t tail = len & ~(size_t)3;

	for (size_t i = 0; i < nblocks; i++) {
		const uint8_t *p = data + i * 4;
		uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		             (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

		k *= MURMUR2_M;
		k ^= k >> MURMUR2_R;
		k *= MURMUR2_M;
		h *= MURMUR2_M;
		h ^= k;
	}

	switch (len & 3) {
	case 3:
		h ^= (uint32_t)data[tail + 2] << 16;
		/* fallthrough */
	case 2:
		h ^= (uint32_t)data[tail + 1] << 8;
		/* fallthrough */
	case 1:
		h ^= (uint32_t)data[tail];
		h *= MURMUR2_M;
	}

	h ^= h >> 13;
	h *= MURMUR2_M;
	h ^= h >> 15;
	return h;
}

/*
 * Kafka's Utils.toPositive(murmur2(key)) % numPartitions. n must be >= 1;
 * returns -1 otherwise.
 */
int32_t broker_partition_for_key(const void *key, size_t len, int32_t n)
{
	if (n < 1)
		return -1;
	return (int32_t)((broker_murmur2(key, len) & 0x7fffffffU) % (uint32_t)n);
}

int broker_topic_is_internal(const char *name)
{
	return name != NULL && strcmp(name, BROKER_OFFSETS_TOPIC) == 0;
}

int32_t broker_group_partition(const char *group, int32_t npartitions)
{
	return broker_partition_for_key(group, strlen(group), npartitions);
}
