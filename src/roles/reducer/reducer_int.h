/* reducer_int.h: internals shared by the reducer's files (not a public API).
 *
 * The files, each calling only the ones below it (no circle):
 *   reducer_main.c       the process: settings, handles, wake-ups and the
 *                        turn, the 100 ms tick, start-up, Redis outages,
 *                        ops endpoints, metrics, shutdown
 *   reducer_rebalance.c  partitions assigned (loaded from Redis: two
 *                        pipelined commands, records held meanwhile),
 *                        revoked (drain, commit on the thread pool) or lost
 *   reducer_batch.c      the hot path: records -> one Redis pipeline per
 *                        turn -> acknowledged offsets; resends after an outage
 *   reducer_commands.c   commands from the command topic: the model's
 *                        subscriptions, snapshots published on `begin`
 *   reducer_check.c      each command checked against the channel's record
 *                        in Redis before it is applied, in order
 *   reducer_consumer.c   the data consumer as the others use it: pause and
 *                        resume partitions, another turn, offset commits
 *   reducer_model.c      what the reducer knows, without I/O (reducer_model.h)
 *   reducer_cmd.c        a command record read as data (reducer_cmd.h) and
 *   reducer_verdict.c    whether it agrees with Redis (reducer_verdict.h):
 *                        pure, they call nothing of the reducer
 * Everything runs on the one loop thread.
 * References: SPEC sections 1-2, docs/architecture.md.
 * Non-goals: a public API; nothing outside src/roles/reducer/ includes this
 * (but its unit test, tests/unit/test_reducer.c).
 */
#ifndef SL_ROLES_REDUCER_INT_H
#define SL_ROLES_REDUCER_INT_H

#include "core/buf.h"
#include "core/config.h"
#include "core/metrics.h"
#include "kafka/kclient.h"
#include "kafka/kmeta.h"
#include "loop/runtime.h"
#include "proto/http.h"
#include "redis/rconn.h"
#include "redis/sentinel.h"
#include "roles/reducer/reducer_cmd.h"
#include "roles/reducer/reducer_model.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/* What a partition needs besides the model: its load from Redis and the
 * records that arrived meanwhile. */
typedef struct sl_part_io {
	unsigned load_seq;          /* a reply of an older load is ignored */
	int load_replies;
	bool load_failed;
	int64_t load_started_ms;
	rd_kafka_message_t **held;  /* records that arrived while loading */
	size_t nheld, capheld;
	bool paused;                /* paused by this process (and only then resumed) */
	/* WAIT mode (--redis-wait-replicas): offsets Redis accepted count for
	 * commits only once a WAIT confirmed them (reducer_batch.c). */
	int64_t unconfirmed_next;   /* after the highest offset not yet confirmed; 0 none */
	bool taken;                 /* a record was taken since the assignment or reload */
	int64_t first_taken;        /* its offset: where a reload goes back to at worst */
} sl_part_io_t;

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

	sl_rmodel_t *model;
	sl_part_io_t **pio;      /* indexed by partition id, beside the model's */
	int32_t npio;
	unsigned load_counter;

	rd_kafka_t *rk;          /* data consumer, group member */
	rd_kafka_t *crk;         /* command consumer, assign() only */
	sl_kclient_wake_t wake, cwake; /* their queues wake the loop */
	uv_timer_t tick;
	uv_idle_t idle;
	uv_idle_cb idle_cb;      /* the turn (reducer_main.c); sl_reducer__schedule starts it */
	bool idle_on;
	sl_kmeta_t *meta;
	sl_rconn_t *rc;
	sl_http_server_t *http;
	struct sl_rchecks *checks; /* commands being checked (reducer_check.c) */

	bool started;            /* command end offsets known, data subscribed */
	bool startup_busy;
	uv_work_t startup_work;
	int32_t cmd_partitions;  /* written by the startup worker */
	int64_t *cmd_ends;
	char startup_err[200];
	int32_t data_partitions;

	sl_batch_t *inflight_head, *inflight_tail; /* sent, waiting for replies */
	int ninflight;
	sl_batch_t *retry_head, *retry_tail;       /* failed, resent when Redis is back */
	bool redis_paused;       /* partitions paused because Redis is down */
	int wait_replicas;       /* --redis-wait-replicas: 0 off */
	int wait_timeout_ms;
	bool wait_inflight;      /* a WAIT was sent and is not answered yet */
	bool wait_short;         /* the last WAIT found fewer replicas (logged once) */
	int64_t wait_retry_ms;   /* after a short WAIT, the next not before this */

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
			*load_ms, *commits_failed, *wait_short, *reloads;
	} m;
} sl_reducer_t;

/* reducer_rebalance.c */
void sl_reducer__rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			      void *opaque);
/* Load again every partition whose load failed (Redis is back). */
void sl_reducer__retry_loads(sl_reducer_t *r);
/* Finish a revoke once its partitions' pipelines are done (or the drain
 * bound ran out): commit on the thread pool, forget, unassign. */
void sl_reducer__maybe_finish_revoke(sl_reducer_t *r);
/* Forget every partition (shutdown). */
void sl_reducer__forget_all(sl_reducer_t *r);
/* WAIT mode, Redis back (perhaps another primary): every owned partition
 * is loaded again and consumed again from its confirmed offset. */
void sl_reducer__reload_all(sl_reducer_t *r);

/* reducer_batch.c */
/* Take up to max_batch records and send one pipeline. */
void sl_reducer__records(sl_reducer_t *r);
/* Add a record to the batch being built (copies what it needs). */
void sl_reducer__add_record(sl_reducer_t *r, sl_batch_t **b, const rd_kafka_message_t *rkm);
void sl_reducer__send(sl_reducer_t *r, sl_batch_t *b);
/* Resend failed batches (Redis is back). */
void sl_reducer__resend(sl_reducer_t *r);
/* Drop failed batches (WAIT mode: a reload consumes their records again). */
void sl_reducer__drop_retries(sl_reducer_t *r);
/* WAIT mode: ask Redis to confirm the writes not yet confirmed (the tick). */
void sl_reducer__confirm(sl_reducer_t *r);
void sl_reducer__batch_free(sl_batch_t *b);

/* reducer_commands.c */
/* Apply the commands waiting on the command consumer. */
void sl_reducer__commands(sl_reducer_t *r);
/* Read one command record (JSON) and send it to its check. */
void sl_reducer__command(sl_reducer_t *r, const char *json, size_t len);
/* A partition just loaded: snapshots for channels that began recently. */
void sl_reducer__snapshot_part(sl_reducer_t *r, const sl_rpart_t *p);

/* reducer_check.c */
void sl_reducer__checks_init(sl_reducer_t *r);
void sl_reducer__checks_free(sl_reducer_t *r);
/* True when no more commands may be taken until some are applied. */
bool sl_reducer__checks_full(const sl_reducer_t *r);
/* Check cmd against Redis; takes what it owns (*cmd is emptied). */
void sl_reducer__check_push(sl_reducer_t *r, sl_rcmd_t *cmd);
/* The next command to apply, in the order pushed, once its check agreed:
 * true with *cmd and *keep (per market: apply it; NULL when the command
 * names none) handed to the caller, who frees both (sl_rcmd_free, free).
 * Sends the checks that are due first. */
bool sl_reducer__check_pop(sl_reducer_t *r, sl_rcmd_t *cmd, bool **keep);

/* reducer_consumer.c */
sl_part_io_t *sl_reducer__io(sl_reducer_t *r, int32_t id);
sl_part_io_t *sl_reducer__io_new(sl_reducer_t *r, int32_t id);
void sl_reducer__io_forget(sl_reducer_t *r, int32_t id);
/* Pause or resume a partition this process owns; a no-op when it already is. */
void sl_reducer__pause_part(sl_reducer_t *r, int32_t id, bool pause);
/* Redis is down: pause every partition (once; logged). */
void sl_reducer__redis_failed(sl_reducer_t *r);
/* Ask the loop for another turn soon (records remain). */
void sl_reducer__schedule(sl_reducer_t *r);
/* Commit the acknowledged offsets that moved (async). */
void sl_reducer__commit_acked(sl_reducer_t *r);
int32_t sl_reducer__market_partition(const sl_reducer_t *r, const char *market, size_t len);

#endif
