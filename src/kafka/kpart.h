/* kpart.h: Kafka's default partitioner (murmur2), computed by sluice.
 *
 * How it fits: the feed produces market updates with librdkafka's
 * `partitioner=murmur2_random`, which is the Java client's default
 * partitioner for keyed records. The API stores a subscription under the
 * partition that owns its market, and a reducer decides which markets of a
 * command are its own, so both compute the same function here without a
 * Kafka handle: toPositive(murmur2(key)) % partitions.
 * References: Apache Kafka Utils.murmur2 / BuiltInPartitioner; librdkafka
 * rd_kafka_msg_partitioner_murmur2_random (tests compare against it).
 * Non-goals: librdkafka's consistent_random (crc32), keyless records.
 */
#ifndef SL_KAFKA_KPART_H
#define SL_KAFKA_KPART_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's murmur2 (seed 0x9747b28c) of key, as a signed 32-bit value. */
int32_t sl_kpart_murmur2(const void *key, size_t len);
/* The partition of key among partitions (> 0). */
int32_t sl_kpart_of(const void *key, size_t len, int32_t partitions);

#endif
