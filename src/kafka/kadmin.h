/* kadmin.h: blocking, bounded Kafka admin requests for the console tools.
 *
 * How it fits: `sluice topics`, `consume` and `groups` (plain blocking CLI
 * programs, no event loop) call these; each call waits at most timeout_ms
 * (--kafka-timeout-ms) on a private result queue and turns librdkafka's
 * answer into an SL_E* code with a one-line message naming the topic or
 * the brokers. Consumer groups are in kgroup.h.
 * References: librdkafka rdkafka.h Admin API (CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs), Kafka's TopicCommand (output format).
 * Non-goals: ACLs, reassignments, anything an event-loop server needs
 * (servers must not block: they use their own non-blocking clients).
 */
#ifndef SL_KAFKA_KADMIN_H
#define SL_KAFKA_KADMIN_H

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

/* A producer-kind handle used for admin requests and metadata, built from
 * the settings (--bootstrap-server, -X kafka.*), librdkafka logs at debug. */
rd_kafka_t *sl_kadmin_new(const sl_cfg_t *cfg, const char *role, sl_err_t *err);

/* Metadata of every topic (never auto-creates one). SL_EUNAVAIL with
 * "cannot reach Kafka at <brokers> within N ms" when no broker answers.
 * Free *md with rd_kafka_metadata_destroy. */
int sl_kadmin_metadata(rd_kafka_t *rk, int timeout_ms, const rd_kafka_metadata_t **md, sl_err_t *err);

/* The topic named, or NULL. */
const rd_kafka_metadata_topic_t *sl_kadmin_find_topic(const rd_kafka_metadata_t *md, const char *topic);

typedef struct sl_kadmin_topic_spec {
	const char *name;
	int partitions;         /* >= 1 */
	int replication_factor; /* >= 1, or -1 for the broker's default */
	const char *const *configs; /* "name=value" topic configs */
	size_t nconfigs;
} sl_kadmin_topic_spec_t;

/* Create a topic. When it already exists: 0 with *existed set if existed
 * is not NULL (--if-not-exists), else SL_EINVAL "topic 'x' already exists". */
int sl_kadmin_create_topic(rd_kafka_t *rk, const sl_kadmin_topic_spec_t *spec, int timeout_ms, bool *existed,
			   sl_err_t *err);
/* Delete a topic; SL_ENOTFOUND when it does not exist. */
int sl_kadmin_delete_topic(rd_kafka_t *rk, const char *topic, int timeout_ms, sl_err_t *err);
/* Grow a topic to `total` partitions (Kafka never shrinks one). */
int sl_kadmin_create_partitions(rd_kafka_t *rk, const char *topic, int total, int timeout_ms, sl_err_t *err);
/* Append the topic's configs set on the topic itself (not broker or
 * default ones) as "k=v,k=v" to out, sorted by name, as kafka-topics shows. */
int sl_kadmin_topic_configs(rd_kafka_t *rk, const char *topic, int timeout_ms, sl_buf_t *out, sl_err_t *err);

/* Wait on q for one event of `type`, at most timeout_ms (+1 s grace for the
 * broker's own request timeout to fire first). NULL with err on time out or
 * when the event carries an error (top-level). Shared with kgroup.c. */
rd_kafka_event_t *sl_kadmin__wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type, int timeout_ms,
				  const char *what, sl_err_t *err);
/* Admin options with request/operation timeouts of timeout_ms. */
rd_kafka_AdminOptions_t *sl_kadmin__options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms);

#endif
