/* kmeta.h: a Kafka reachability and topic-size probe that never blocks
 * the loop.
 *
 * How it fits: the API and the reducers must know (a) whether Kafka answers
 * (for /readyz and for failing fast with 503 before changing anything) and
 * (b) how many partitions the data topic has (to map a market to its
 * partition, kpart.h). librdkafka's metadata call blocks, so it runs on
 * libuv's thread pool every `every_ms`; the result is read on the loop
 * thread. It asks for all topics so that probing never auto-creates one.
 * Owns nothing of the rd_kafka_t it borrows: destroy the handle only after
 * the close callback fired (a probe may be running on a worker thread).
 * Non-goals: partition leaders, consumer lag.
 */
#ifndef SL_KAFKA_KMETA_H
#define SL_KAFKA_KMETA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct sl_kmeta sl_kmeta_t;
/* Called on the loop thread after every probe. */
typedef void (*sl_kmeta_cb)(sl_kmeta_t *m, void *arg);

/* Starts probing at once. timeout_ms bounds each metadata request. */
sl_kmeta_t *sl_kmeta_new(uv_loop_t *loop, rd_kafka_t *rk, const char *topic, uint64_t every_ms,
			     int timeout_ms, sl_kmeta_cb cb, void *arg);
/* Kafka answered the last probe. */
bool sl_kmeta_up(const sl_kmeta_t *m);
/* Partitions of the topic at the last successful probe; -1 while unknown
 * (not probed yet, or the topic does not exist). */
int32_t sl_kmeta_partitions(const sl_kmeta_t *m);
/* Why the last probe failed ("" when up). */
const char *sl_kmeta_error(const sl_kmeta_t *m);
/* Stop; done fires (on the loop) once no probe runs; then the memory is freed. */
void sl_kmeta_close(sl_kmeta_t *m, void (*done)(void *arg), void *arg);

#endif
