/* reducer_int.h: internals shared by the reducer's files (not a public API).
 *
 *   reducer.c        the role: settings, lifecycle, Kafka handles, rebalance,
 *                    partition loading from Redis, ops endpoints, shutdown
 *   reducer_batch.c  the hot path: records -> one Redis pipeline per poll
 *                    batch (state writes, then PUBLISHes) -> commit on ack;
 *                    retries after a Redis outage; commands and snapshots
 *
 * Per owned partition the reducer keeps two maps (SPEC section 1):
 * market -> entry (latest state + set of subscribed channels) and
 * channel -> set of markets. Everything runs on the one loop thread.
 * References: SPEC sections 1-2, docs/architecture.md.
 * Non-goals: a public API; nothing outside src/roles/reducer/ includes this.
 */
#ifndef SL_ROLES_REDUCER_INT_H
#define SL_ROLES_REDUCER_INT_H

#include "core/buf.h"
#include "core/config.h"
#include "core/map.h"
#include "core/metrics.h"
#include "kafka/kclient.h"
#include "kafka/kmeta.h"
#include "loop/runtime.h"
#include "proto/http.h"
#include "redis/rconn.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- partitions ---- */
typedef enum { SL_PART_LOADING, SL_PART_READY, SL_PART_REVOKING } sl_part_state_t;

typedef struct sl_mkt {
	int64_t offset;   /* -1: no state yet */
	int64_t ts;
	char *json;       /* value as JSON */
	size_t jlen;
	sl_smap_t *channels; /* set of channel ids; NULL when none */
} sl_mkt_t;

typedef struct sl_part {
	int32_t id;
	sl_part_state_t st;
	unsigned load_seq;     /* a reply of an older load is ignored */
	int load_replies;
	bool load_failed;
	sl_smap_t *markets;    /* market -> sl_mkt_t */
	sl_smap_t *channels;   /* channel -> set of markets */
	int64_t acked_next;    /* offset after the last record Redis accepted; -1 none */
	bool commit_dirty;     /* acked_next not committed yet */
	int inflight;          /* batches holding records of this partition */
	rd_kafka_message_t **held; /* records that arrived while loading */
	size_t nheld, capheld;
	int64_t load_started_ms;
	bool paused;           /* paused by this process (and only then resumed) */
} sl_part_t;

/* ---- batches (reducer_batch.c) ---- */
typedef struct sl_rec {
	int32_t partition;
	int64_t offset, ts;
	uint32_t moff, mlen, joff, jlen; /* market and value JSON in the batch text */
	bool replay;                     /* older than the state: publish only */
} sl_rec_t;

typedef struct sl_batch {
	struct sl_reducer *r;
	struct sl_batch *next;
	sl_rec_t *recs;
	size_t n, cap;
	sl_buf_t text;
	int replies_left;
	bool failed;
	size_t commands;
	int64_t sent_ms;
} sl_batch_t;

typedef struct sl_reducer {
	uv_loop_t *loop;
	sl_cfg_t *cfg;
	sl_runtime_t rt;
	const char *prefix, *data_topic, *cmd_topic;
	int max_batch;
	size_t max_pending;
	int max_inflight;
	int drain_ms;

	rd_kafka_t *rk;          /* data consumer, group member */
	rd_kafka_t *crk;         /* command consumer, assign() only */
	sl_kclient_wake_t wake, cwake; /* their queues wake the loop */
	uv_timer_t tick;
	uv_idle_t idle;
	bool idle_on;
	sl_kmeta_t *meta;
	sl_rconn_t *rc;
	sl_http_server_t *http;

	bool started;            /* command end offsets known, data subscribed */
	bool startup_busy;
	uv_work_t startup_work;
	int32_t cmd_partitions;  /* written by the startup worker */
	int64_t *cmd_ends;
	char startup_err[200];
	int32_t data_partitions;

	sl_smap_t *recent_begins; /* channel -> mono ms of its last `begin` */
	sl_part_t **parts;       /* indexed by partition id */
	int32_t nparts;
	int loading;             /* partitions in SL_PART_LOADING */
	bool commit_dirty;       /* some partition has an uncommitted acked_next */

	sl_batch_t *inflight_head, *inflight_tail; /* sent, waiting for replies */
	int ninflight;
	sl_batch_t *retry_head, *retry_tail;       /* failed, resent when Redis is back */
	bool redis_paused;       /* partitions paused because Redis is down */

	/* revoke in progress (one at a time: librdkafka waits for our unassign) */
	rd_kafka_topic_partition_list_t *revoking;
	int64_t revoke_deadline_ms;
	bool revoke_committing;
	uv_work_t revoke_work;
	rd_kafka_topic_partition_list_t *revoke_commit;

	char join_state[32];     /* consumer group join state, from librdkafka's statistics */
	bool join_state_fresh;   /* join_state came from statistics newer than the last rebalance event */
	bool assigned_once;      /* the group delivered a first assignment (even an empty one) */
	bool stopping, kafka_closing;
	int64_t stop_deadline_ms;
	uv_work_t close_work;
	int closes_pending;

	struct {
		sl_metric_t *records_in, *messages_out, *batches, *batch_records, *pipeline_cmds, *latency, *poll_latency,
			*lag, *owned, *subs, *commands, *snapshots, *stale, *replayed, *failed, *redis_pending,
			*load_ms, *commits_failed;
	} m;
} sl_reducer_t;

/* reducer.c */
sl_part_t *sl_reducer__part(sl_reducer_t *r, int32_t id);
/* Pause or resume a partition this process owns; a no-op when it already is. */
void sl_reducer__pause_part(sl_reducer_t *r, int32_t id, bool pause);
void sl_reducer__schedule(sl_reducer_t *r);
void sl_reducer__redis_failed(sl_reducer_t *r);
void sl_reducer__maybe_finish_revoke(sl_reducer_t *r);
int32_t sl_reducer__market_partition(const sl_reducer_t *r, const char *market, size_t len);
void sl_reducer__mkt_free(sl_mkt_t *mk);

void sl_reducer__rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			      void *opaque);
void sl_reducer__commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offs,
			   void *opaque);
void sl_reducer__redis_state_cb(sl_rconn_t *rc, bool up, void *arg);
int sl_reducer__stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque);
void sl_reducer__tick(sl_reducer_t *r);
void sl_reducer__free_parts(sl_reducer_t *r);
extern const sl_cfg_key_t *const sl_reducer__tables[];

/* reducer_batch.c */
/* Poll up to max_batch records and commands, send one pipeline. */
void sl_reducer__turn(sl_reducer_t *r);
/* Resend failed batches (Redis is back). */
void sl_reducer__resend(sl_reducer_t *r);
/* Apply one command record (JSON) from the command topic. */
void sl_reducer__command(sl_reducer_t *r, const char *json, size_t len);
/* Add a record to the batch being built (copies what it needs). */
void sl_reducer__add_record(sl_reducer_t *r, sl_batch_t **b, const rd_kafka_message_t *rkm);
void sl_reducer__send(sl_reducer_t *r, sl_batch_t *b);
void sl_reducer__batch_free(sl_batch_t *b);
/* A partition just loaded: snapshots for channels that began recently. */
void sl_reducer__snapshot_part(sl_reducer_t *r, sl_part_t *p);
void sl_reducer__sub_add(sl_part_t *p, const char *m, size_t mlen, const char *ch, size_t chlen);
sl_mkt_t *sl_reducer__mkt_get(sl_part_t *p, const char *m, size_t n, bool create);

#endif
