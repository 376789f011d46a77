/* kpart.c: Kafka's murmur2 partitioner (see kpart.h).
 *
 * Written from the algorithm's description (MurmurHash2 by Austin Appleby,
 * as Kafka's Utils.murmur2 applies it: little-endian 4-byte blocks, seed
 * 0x9747b28c, tail bytes folded high to low). Unsigned arithmetic throughout
 * so the wrap-around is defined; the result is reinterpreted as int32 at the
 * end like Java's int. tests/unit/test_rstate.c checks it against
 * librdkafka's rd_kafka_msg_partitioner_murmur2_random for 20,000 keys.
 * Non-goals: other partitioners.
 */
#include "kafka/kpart.h"

int32_t sl_kpart_murmur2(const void *key, size_t len)
{
	const uint32_t m = 0x5bd1e995u;
	const unsigned r = 24;
	const unsigned char *p = key;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t blocks = len / 4;
	for (size_t i = 0; i < blocks; i++) {
		const unsigned char *b = p + i * 4;
		uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	const unsigned char *tail = p + blocks * 4;
	switch (len & 3) {
	case 3: h ^= (uint32_t)tail[2] << 16; /* fall through */
	case 2: h ^= (uint32_t)tail[1] << 8;  /* fall through */
	case 1:
		h ^= (uint32_t)tail[0];
		h *= m;
		break;
	default: break;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)h;
}

int32_t sl_kpart_of(const void *key, size_t len, int32_t partitions)
{
	if (partitions <= 0)
		return -1;
	uint32_t positive = (uint32_t)sl_kpart_murmur2(key, len) & 0x7fffffffu;
	return (int32_t)(positive % (uint32_t)partitions);
}
