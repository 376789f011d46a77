/* kgroup.h: consumer groups seen from outside: list them, describe one
 * (members, assignment, committed offset, end offset, lag per partition).
 *
 * How it fits: `sluice groups` calls these with a handle from
 * sl_kadmin_new; every call is bounded by timeout_ms like kadmin.h. The
 * description joins three answers: DescribeConsumerGroups (state, members,
 * their assignments), ListConsumerGroupOffsets (committed offsets) and the
 * partitions' high watermarks (end offsets).
 * References: librdkafka Admin API; Kafka's ConsumerGroupCommand
 * (--describe columns: CURRENT-OFFSET, LOG-END-OFFSET, LAG, CONSUMER-ID).
 * Non-goals: resetting or deleting offsets, deleting groups.
 */
#ifndef SL_KAFKA_KGROUP_H
#define SL_KAFKA_KGROUP_H

#include "core/err.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_kgroup_member {
	char *id;
	char *client_id;
	char *host;
	size_t nparts; /* partitions assigned */
} sl_kgroup_member_t;

typedef struct sl_kgroup_part {
	char *topic;
	int32_t partition;
	int64_t committed; /* -1: nothing committed */
	int64_t end;       /* log end offset (high watermark), -1 if unknown */
	int64_t lag;       /* end - committed, -1 when either is unknown */
	int member;        /* index in members, -1 when no member owns it */
} sl_kgroup_part_t;

typedef struct sl_kgroup {
	char *id;
	char *state; /* "Stable", "Empty", "PreparingRebalance", ... */
	char *assignor;
	sl_kgroup_member_t *members;
	size_t nmembers;
	sl_kgroup_part_t *parts; /* sorted by topic, partition */
	size_t nparts;
} sl_kgroup_t;

/* Every consumer group id, sorted. Free with sl_kgroup_list_free. */
int sl_kgroup_list(rd_kafka_t *rk, int timeout_ms, char ***ids, size_t *n, sl_err_t *err);
void sl_kgroup_list_free(char **ids, size_t n);

/* Describe one group; SL_ENOTFOUND when the group has neither members nor
 * committed offsets (Kafka reports such a group as Dead). */
int sl_kgroup_describe(rd_kafka_t *rk, const char *group, int timeout_ms, sl_kgroup_t **out, sl_err_t *err);
void sl_kgroup_free(sl_kgroup_t *g);

#endif
