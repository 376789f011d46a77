/* reducer_main.c: `sluice reducer`: consume market updates, keep state in
 * Redis, publish each update once to its market's channel (SPEC sections 1
 * and 2; the picture's "Markets Mapper"). The process: settings, handles,
 * wake-ups and turns, the tick, start-up, Redis outages, the ops
 * endpoints and the bounded shutdown.
 *
 * How it fits: one process, one libuv loop, two librdkafka consumers:
 *  - the data consumer, a member of one consumer group on the data topic
 *    (cooperative-sticky, manual commits), so no two reducers own the same
 *    partition (its rebalances: reducer_rebalance.c);
 *  - the command consumer, which assign()s every partition of the command
 *    topic at the end offsets read at start (not a group member: every
 *    reducer reads every command; reducer_commands.c applies them).
 * Start-up order (SPEC 2, no command may fall in a gap): read the command
 * topic's end offsets (thread pool), then subscribe the data topic.
 * A turn applies the waiting commands (only while no partition loads), then
 * takes records into one pipeline (reducer_batch.c); the state is the
 * model's (reducer_model.h). Redis down: every partition pauses, failed
 * pipelines wait, and all resumes in order when it answers again.
 * Wake-ups: each consumer queue wakes the loop when it goes from empty to
 * non-empty (kafka/kclient.h) and a turn runs; a uv_idle keeps turning
 * while records remain; a 100 ms tick retries what waits (start-up, loads,
 * resends, revokes, commits, shutdown).
 * Shutdown: stop the HTTP server, pause, wait for in-flight pipelines
 * (--drain-timeout-ms), then on the thread pool commit the acknowledged
 * offsets, close and destroy both consumers, then close Redis and the loop.
 * Non-goals: multiple loops or threads of our own.
 */
#include "roles/reducer/reducer_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "kafka/kclient.h"
#include "kafka/kconf.h"
#include "roles/roles.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_cfg_key_t reducer_keys[] = {
	{"port", NULL, "SLUICE_REDUCER_PORT", SL_CFG_INT, "8091", 0, 65535, "ops HTTP port (/healthz /readyz /metrics)"},
	{"group", NULL, "SLUICE_REDUCER_GROUP", SL_CFG_STR, "sluice-reducers", 0, 0, "consumer group of the reducers"},
	{"redis-wait-replicas", NULL, "SLUICE_REDIS_WAIT_REPLICAS", SL_CFG_INT, "0", 0, 16,
	 "offsets are committed only once this many Redis replicas have the writes (WAIT); 0: off, for a "
	 "single Redis"},
	{"redis-wait-timeout-ms", NULL, "SLUICE_REDIS_WAIT_TIMEOUT_MS", SL_CFG_INT, "200", 1, 60000,
	 "how long a WAIT may hold the reducer's Redis connection; a short answer is asked again a second later"},
	{"max-batch", NULL, "SLUICE_REDUCER_MAX_BATCH", SL_CFG_INT, "10000", 1, 1000000,
	 "records taken per loop turn (one Redis pipeline)"},
	{"max-pending", NULL, "SLUICE_REDUCER_MAX_PENDING", SL_CFG_INT, "200000", 100, 100000000,
	 "Redis commands waiting for replies before consumption pauses"},
	{"max-inflight", NULL, "SLUICE_REDUCER_MAX_INFLIGHT", SL_CFG_INT, "16", 1, 10000,
	 "pipelines waiting for replies before consumption pauses"},
	{"drain-timeout-ms", NULL, "SLUICE_REDUCER_DRAIN_TIMEOUT_MS", SL_CFG_INT, "5000", 100, 600000,
	 "bound on waiting for Redis and the commit on revoke and shutdown"},
	{0},
};

static const sl_cfg_key_t *const reducer_tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, sl_cfg_keys_redis,
						     sl_cfg_keys_topics, sl_cfg_keys_http, reducer_keys, NULL};

/* ---- turns ---- */
static void turn(sl_reducer_t *r)
{
	if (!r->started || r->stopping)
		return;
	/* Commands first, and only when no partition is loading: a `begin`
	 * must see the partitions' subscriptions and state. */
	sl_reducer__commands(r);
	sl_reducer__records(r);
	sl_reducer__maybe_finish_revoke(r);
}

static void wake_cb(sl_kclient_wake_t *w)
{
	turn(w->data);
}

static void idle_cb(uv_idle_t *h)
{
	sl_reducer_t *r = h->data;
	uv_idle_stop(h);
	r->idle_on = false;
	turn(r);
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offs, void *opaque)
{
	(void)rk, (void)offs;
	sl_reducer_t *r = opaque;
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
		sl_metric_add(r->m.commits_failed, 1);
		sl_log_debug("commit_failed", SL_KV(error, rd_kafka_err2str(err)));
	}
}

/* librdkafka's statistics (every 500 ms): only the group's join state is
 * kept, so that shutdown can wait for a rebalance to finish first. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	(void)rk;
	sl_reducer_t *r = opaque;
	json_t *j = json_loadb(json, len, 0, NULL);
	const char *js = json_string_value(json_object_get(json_object_get(j, "cgrp"), "join_state"));
	if (js) {
		snprintf(r->join_state, sizeof(r->join_state), "%s", js);
		r->join_state_fresh = true;
	}
	json_decref(j);
	return 0;
}

/* ---- Redis outages ---- */
/* Redis answers again: loads that failed start over, failed pipelines go
 * again (in order, before anything new), and consumption resumes once
 * none waits. */
static void redis_recover(sl_reducer_t *r)
{
	if (!sl_rconn_connected(r->rc) || r->stopping)
		return;
	if (r->wait_replicas > 0 && r->redis_paused && r->ninflight == 0) {
		/* WAIT mode: this may be another primary (a failover), which
		 * holds what WAIT confirmed and perhaps no more: start over from
		 * there instead of resending (reducer_rebalance.c). */
		sl_reducer__drop_retries(r);
		r->redis_paused = false;
		r->wait_inflight = false;
		sl_reducer__reload_all(r);
		sl_log_info("consumption_resumed", SL_KV(reason, "redis_available"));
		return;
	}
	sl_reducer__retry_loads(r);
	if (r->retry_head && r->ninflight == 0)
		sl_reducer__resend(r);
	if (r->redis_paused && !r->retry_head) {
		r->redis_paused = false;
		for (int32_t i = 0; i < sl_rmodel_nparts(r->model); i++) {
			sl_rpart_t *p = sl_rmodel_part(r->model, i);
			if (p && p->st == SL_PART_READY)
				sl_reducer__pause_part(r, i, false);
		}
		sl_log_info("consumption_resumed", SL_KV(reason, "redis_available"));
	}
}

static void redis_state_cb(sl_rconn_t *rc, bool up, void *arg)
{
	(void)rc;
	sl_reducer_t *r = arg;
	if (up)
		redis_recover(r);
	else
		sl_reducer__redis_failed(r);
}

/* ---- start-up: the command topic's end offsets (thread pool) ---- */
static void startup_work_cb(uv_work_t *w)
{
	sl_reducer_t *r = w->data;
	const struct rd_kafka_metadata *md = NULL;
	r->cmd_partitions = -1;
	r->startup_err[0] = 0;
	rd_kafka_resp_err_t e = rd_kafka_metadata(r->crk, 1, NULL, &md, 5000);
	if (e) {
		snprintf(r->startup_err, sizeof(r->startup_err), "metadata: %s", rd_kafka_err2str(e));
		return;
	}
	for (int i = 0; i < md->topic_cnt; i++)
		if (!strcmp(md->topics[i].topic, r->cmd_topic) && !md->topics[i].err)
			r->cmd_partitions = md->topics[i].partition_cnt;
	rd_kafka_metadata_destroy(md);
	if (r->cmd_partitions <= 0) {
		snprintf(r->startup_err, sizeof(r->startup_err), "command topic %s does not exist", r->cmd_topic);
		return;
	}
	free(r->cmd_ends);
	r->cmd_ends = sl_xcalloc((size_t)r->cmd_partitions, sizeof(int64_t));
	for (int32_t p = 0; p < r->cmd_partitions; p++) {
		int64_t lo, hi;
		e = rd_kafka_query_watermark_offsets(r->crk, r->cmd_topic, p, &lo, &hi, 5000);
		if (e) {
			snprintf(r->startup_err, sizeof(r->startup_err), "end offsets of %s: %s", r->cmd_topic,
				 rd_kafka_err2str(e));
			r->cmd_partitions = -1;
			return;
		}
		r->cmd_ends[p] = hi;
	}
}

static void startup_done_cb(uv_work_t *w, int status)
{
	sl_reducer_t *r = w->data;
	r->startup_busy = false;
	if (status || r->stopping)
		return;
	if (r->cmd_partitions <= 0) {
		sl_log_warn("startup_waiting", SL_KV(error, r->startup_err));
		return;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->cmd_partitions);
	for (int32_t p = 0; p < r->cmd_partitions; p++)
		rd_kafka_topic_partition_list_add(l, r->cmd_topic, p)->offset = r->cmd_ends[p];
	rd_kafka_resp_err_t e = rd_kafka_assign(r->crk, l);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, r->data_topic, RD_KAFKA_PARTITION_UA);
	if (!e)
		e = rd_kafka_subscribe(r->rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e) {
		sl_log_error("startup_failed", SL_KV(error, rd_kafka_err2str(e)));
		return;
	}
	r->started = true;
	sl_log_info("reducer_started", SL_KV(group, sl_cfg_str(r->cfg, "group")), SL_KV(data_topic, r->data_topic),
		    SL_KV(partitions, r->data_partitions), SL_KV(command_topic, r->cmd_topic),
		    SL_KV(command_partitions, r->cmd_partitions));
}

static void maybe_start(sl_reducer_t *r)
{
	if (r->started || r->startup_busy || r->stopping || sl_kmeta_partitions(r->meta) <= 0)
		return;
	r->data_partitions = sl_kmeta_partitions(r->meta);
	r->startup_busy = true;
	r->startup_work.data = r;
	uv_queue_work(r->loop, &r->startup_work, startup_work_cb, startup_done_cb);
}

/* The 100 ms tick: whatever waits for a condition is retried here. */
static void tick(sl_reducer_t *r)
{
	sl_reducer__confirm(r);
	sl_reducer__commit_acked(r);
	maybe_start(r);
	if (r->retry_head || r->redis_paused)
		redis_recover(r);
	else
		sl_reducer__retry_loads(r);
	sl_reducer__maybe_finish_revoke(r);
}

/* ---- metrics ---- */
static void collect_cb(void *arg)
{
	sl_reducer_t *r = arg;
	double lag = 0;
	for (int32_t i = 0; i < sl_rmodel_nparts(r->model); i++) {
		sl_rpart_t *p = sl_rmodel_part(r->model, i);
		if (!p)
			continue;
		/* Behind = end of the partition (cached from fetches, no request)
		 * minus what Redis acknowledged, or, before the first
		 * acknowledgement, minus the consumer's position. */
		int64_t lo, hi, at = p->acked_next;
		if (at < 0) {
			rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
			rd_kafka_topic_partition_list_add(l, r->data_topic, i);
			if (!rd_kafka_position(r->rk, l))
				at = l->elems[0].offset;
			rd_kafka_topic_partition_list_destroy(l);
		}
		if (at >= 0 && !rd_kafka_get_watermark_offsets(r->rk, r->data_topic, i, &lo, &hi) && hi > at)
			lag += (double)(hi - at);
	}
	sl_metric_set(r->m.lag, lag);
	sl_metric_set(r->m.owned, (double)sl_rmodel_owned(r->model));
	sl_metric_set(r->m.subs, (double)sl_rmodel_subscriptions(r->model));
	sl_metric_set(r->m.redis_pending, (double)sl_rconn_pending(r->rc));
}

static void metrics_init(sl_reducer_t *r)
{
	static const double batch_bounds[] = {1, 10, 100, 1000, 10000, 100000};
	r->m.records_in = sl_metric_counter("sluice_reducer_records_in_total", "", "data records consumed");
	r->m.messages_out = sl_metric_counter("sluice_reducer_messages_out_total", "", "updates published to market channels (one per record of a watched market)");
	r->m.batches = sl_metric_counter("sluice_reducer_batches_total", "", "pipelines acknowledged by Redis");
	r->m.batch_records = sl_metric_histogram("sluice_reducer_batch_records", "", "records per pipeline",
						 batch_bounds, 6);
	r->m.pipeline_cmds = sl_metric_histogram("sluice_reducer_redis_pipeline_commands", "",
						 "Redis commands per pipeline", batch_bounds, 6);
	r->m.poll_latency = sl_metric_histogram("sluice_reducer_poll_latency_ms", "",
						"record timestamp to the reducer taking it from the consumer, ms",
						sl_metric_latency_ms_bounds, sl_metric_latency_ms_nbounds);
	r->m.latency = sl_metric_histogram("sluice_reducer_e2e_latency_ms", "",
					   "record timestamp to Redis acknowledgement, ms", sl_metric_latency_ms_bounds,
					   sl_metric_latency_ms_nbounds);
	r->m.lag = sl_metric_gauge("sluice_reducer_consumer_lag", "", "records behind the end of owned partitions");
	r->m.owned = sl_metric_gauge("sluice_reducer_partitions_owned", "", "data partitions assigned");
	r->m.subs = sl_metric_gauge("sluice_reducer_subscriptions", "", "channel-market pairs of owned partitions");
	r->m.commands = sl_metric_counter("sluice_reducer_commands_total", "", "commands applied");
	r->m.snapshots = sl_metric_counter("sluice_reducer_snapshots_total", "", "snapshots published");
	r->m.stale = sl_metric_counter("sluice_reducer_records_skipped_total", "", "records without a valid market key");
	r->m.replayed = sl_metric_counter("sluice_reducer_records_replayed_total", "",
					  "records older than the state held: published again, not applied");
	r->m.failed = sl_metric_counter("sluice_reducer_pipelines_failed_total", "", "pipelines to resend");
	r->m.redis_pending = sl_metric_gauge("sluice_reducer_redis_pending", "", "Redis commands awaiting replies");
	r->m.load_ms = sl_metric_histogram("sluice_reducer_partition_load_ms", "", "time to load a partition",
					   sl_metric_latency_ms_bounds, sl_metric_latency_ms_nbounds);
	r->m.commits_failed = sl_metric_counter("sluice_reducer_commits_failed_total", "", "offset commits that failed");
	r->m.wait_short = sl_metric_counter("sluice_reducer_redis_wait_short_total", "",
					    "WAITs answered by fewer replicas than --redis-wait-replicas (commits wait)");
	r->m.reloads = sl_metric_counter("sluice_reducer_reloads_total", "",
					 "reloads of every partition after Redis came back in WAIT mode");
	sl_metrics_on_collect(collect_cb, r);
}

/* ---- HTTP ---- */
static bool ready_cb(void *arg, sl_buf_t *why)
{
	sl_reducer_t *r = arg;
	if (!sl_rconn_connected(r->rc))
		sl_buf_puts(why, "redis unreachable");
	else if (!sl_kmeta_up(r->meta) || sl_kmeta_partitions(r->meta) <= 0)
		sl_buf_puts(why, sl_kmeta_error(r->meta));
	else if (!r->started)
		sl_buf_puts(why, r->startup_err[0] ? r->startup_err : "starting");
	else
		return true;
	return false;
}

static void http_cb(sl_http_req_t *req, void *arg)
{
	if (!sl_http_serve_ops(req, ready_cb, arg))
		sl_http_respond_error(req, 404, "not_found", "no such endpoint");
}

/* ---- shutdown ---- */
static void rconn_closed_cb(void *arg)
{
	sl_reducer_t *r = arg;
	sl_rconn_free(r->rc);
	r->rc = NULL;
	uv_close((uv_handle_t *)&r->tick, NULL);
	uv_close((uv_handle_t *)&r->idle, NULL);
	sl_runtime_close(&r->rt);
}

static void kafka_close_work_cb(uv_work_t *w)
{
	sl_reducer_t *r = w->data;
	if (r->revoke_commit && r->revoke_commit->cnt)
		rd_kafka_commit(r->rk, r->revoke_commit, 0);
	rd_kafka_consumer_close(r->rk);
	rd_kafka_destroy(r->rk);
	rd_kafka_consumer_close(r->crk);
	rd_kafka_destroy(r->crk);
}

static void kafka_closed_cb(uv_work_t *w, int status)
{
	(void)status;
	sl_reducer_t *r = w->data;
	r->rk = r->crk = NULL;
	size_t undelivered = 0;
	while (r->retry_head) {
		sl_batch_t *b = r->retry_head;
		r->retry_head = b->next;
		undelivered += b->n;
		sl_reducer__batch_free(b);
	}
	if (r->revoke_commit)
		rd_kafka_topic_partition_list_destroy(r->revoke_commit);
	r->revoke_commit = NULL;
	for (int32_t i = 0; i < r->npio; i++) {
		sl_part_io_t *io = r->pio[i];
		if (!io)
			continue;
		for (size_t j = 0; j < io->nheld; j++)
			rd_kafka_message_destroy(io->held[j]);
		io->nheld = 0;
	}
	sl_log_info("kafka_closed", SL_KV(undelivered, undelivered));
	sl_rconn_close(r->rc, rconn_closed_cb, r);
}

static void meta_closed_cb(void *arg)
{
	sl_reducer_t *r = arg;
	r->meta = NULL;
	/* Acknowledged offsets of every partition still owned, committed once more,
	 * synchronously, before leaving the group. */
	int32_t nparts = sl_rmodel_nparts(r->model);
	r->revoke_commit = rd_kafka_topic_partition_list_new(nparts > 0 ? nparts : 1);
	for (int32_t i = 0; i < nparts; i++) {
		sl_rpart_t *p = sl_rmodel_part(r->model, i);
		if (p && p->acked_next >= 0)
			rd_kafka_topic_partition_list_add(r->revoke_commit, r->data_topic, i)->offset = p->acked_next;
	}
	r->kafka_closing = true;
	sl_kclient_wake_close(&r->wake, NULL); /* their queue references go before the handles */
	sl_kclient_wake_close(&r->cwake, NULL);
	r->close_work.data = r;
	uv_queue_work(r->loop, &r->close_work, kafka_close_work_cb, kafka_closed_cb);
}

static void http_closed_cb(void *arg)
{
	sl_reducer_t *r = arg;
	sl_http_server_free(r->http);
	r->http = NULL;
}

/* Called from the tick while stopping: go on once nothing is in flight and
 * the consumer group is not rebalancing. librdkafka 2.0.2 aborts in
 * rd_kafka_destroy (rd_kafka_sticky_assignor_state_destroy: assertion
 * `assignor_state', librdkafka issues #4308/#4312) when a cooperative-sticky
 * consumer is destroyed after its JoinGroup was answered and before its
 * first assignment arrived: the assignor is chosen but its state is only
 * created by the first SyncGroup. So a reducer that subscribed waits for
 * its first assignment (the tick keeps serving the group's events; the
 * rebalance callback takes it paused and unloaded), and then for the
 * group's join state, from statistics newer than the last rebalance event,
 * to be steady. Both waits are bounded: the first by SL_REDUCER_JOIN_WAIT_MS
 * past the drain bound (a join that long means the group coordinator does
 * not answer, and then no assignor was chosen), the second by the drain
 * bound. */
#define SL_REDUCER_JOIN_WAIT_MS 20000

static void stop_progress(sl_reducer_t *r)
{
	if (r->kafka_closing || !r->meta || r->closes_pending)
		return;
	int64_t now = sl_clock_mono_ms();
	bool joining = r->started && !r->assigned_once;
	if (joining && now < r->stop_deadline_ms + SL_REDUCER_JOIN_WAIT_MS)
		return;
	bool steady = !r->started || !r->assigned_once ||
		      (r->join_state_fresh && (!strcmp(r->join_state, "steady") || !strcmp(r->join_state, "init")));
	bool busy = r->startup_busy || r->revoke_committing || r->revoking || !steady ||
		    (r->ninflight > 0 && sl_rconn_connected(r->rc));
	if (busy && now < r->stop_deadline_ms)
		return;
	if (r->revoking && !r->revoke_committing) {
		sl_reducer__maybe_finish_revoke(r); /* past its own deadline too: commits now */
		return;
	}
	if (joining)
		sl_log_warn("shutdown_before_assignment", SL_KV(waited_ms, r->drain_ms + SL_REDUCER_JOIN_WAIT_MS));
	else if (!steady)
		sl_log_warn("shutdown_during_rebalance", SL_KV(join_state, r->join_state[0] ? r->join_state : "unknown"));
	if (r->startup_busy || r->revoke_committing)
		return; /* a thread-pool job still uses the handles; it ends within its own timeout */
	r->closes_pending = 1;
	sl_kmeta_close(r->meta, meta_closed_cb, r);
}

static void stop_cb(void *arg)
{
	sl_reducer_t *r = arg;
	r->stopping = true;
	r->stop_deadline_ms = sl_clock_mono_ms() + r->drain_ms;
	if (r->http)
		sl_http_server_close(r->http, http_closed_cb, r);
	sl_kclient_wake_stop(&r->wake);
	sl_kclient_wake_stop(&r->cwake);
	rd_kafka_topic_partition_list_t *l = NULL;
	if (!rd_kafka_assignment(r->rk, &l) && l) {
		rd_kafka_pause_partitions(r->rk, l);
		rd_kafka_topic_partition_list_destroy(l);
	}
	stop_progress(r);
}

static void tick_cb(uv_timer_t *t)
{
	sl_reducer_t *r = t->data;
	if (r->stopping) {
		/* Keep serving the group's events (rebalances, statistics) until
		 * the consumers close; records that still arrive are dropped
		 * uncommitted, for the next owner. */
		for (int i = 0; i < 1000 && !r->kafka_closing && r->rk; i++) {
			rd_kafka_message_t *rkm = rd_kafka_consumer_poll(r->rk, 0);
			if (!rkm)
				break;
			rd_kafka_message_destroy(rkm);
		}
		sl_reducer__maybe_finish_revoke(r);
		stop_progress(r);
		return;
	}
	tick(r);
	turn(r);
}

/* ---- set-up ---- */
static rd_kafka_t *make_consumer(sl_reducer_t *r, bool group, sl_err_t *err)
{
	rd_kafka_conf_t *conf = sl_kconf_new(r->cfg, group ? "reducer" : "reducer-commands", SL_KCONF_CONSUMER, err);
	if (!conf)
		return NULL;
	int rc = 0;
	if (group) {
		rc = rc ? rc : sl_kconf_set(conf, "group.id", sl_cfg_str(r->cfg, "group"), err);
		rc = rc ? rc : sl_kconf_set(conf, "partition.assignment.strategy", "cooperative-sticky", err);
		rc = rc ? rc : sl_kconf_set(conf, "auto.offset.reset", "earliest", err);
		rd_kafka_conf_set_rebalance_cb(conf, sl_reducer__rebalance_cb);
		rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
		rd_kafka_conf_set_stats_cb(conf, stats_cb);
		rc = rc ? rc : sl_kconf_set(conf, "statistics.interval.ms", "500", err);
	} else {
		/* assign() only: the group id gives the handle a consumer queue;
		 * it never joins (no subscribe) and never commits. */
		char gid[300];
		snprintf(gid, sizeof(gid), "%s-commands", sl_cfg_str(r->cfg, "group"));
		rc = sl_kconf_set(conf, "group.id", gid, err);
	}
	rc = rc ? rc : sl_kconf_set(conf, "enable.auto.commit", "false", err);
	rc = rc ? rc : sl_kconf_set(conf, "enable.auto.offset.store", "false", err);
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_t *rk = sl_kclient_new(RD_KAFKA_CONSUMER, conf, err);
	if (rk)
		rd_kafka_poll_set_consumer(rk);
	return rk;
}

static void rconn_free_cb(void *arg)
{
	sl_rconn_free(arg);
}

static int reducer_run(sl_cfg_t *cfg)
{
	sl_reducer_t *r = sl_xcalloc(1, sizeof(*r));
	uv_loop_t loop;
	uv_loop_init(&loop);
	r->loop = &loop;
	r->cfg = cfg;
	r->prefix = sl_cfg_str(cfg, "redis-prefix");
	r->data_topic = sl_cfg_str(cfg, "data-topic");
	r->cmd_topic = sl_cfg_str(cfg, "command-topic");
	r->max_batch = (int)sl_cfg_int(cfg, "max-batch");
	r->max_pending = (size_t)sl_cfg_int(cfg, "max-pending");
	r->max_inflight = (int)sl_cfg_int(cfg, "max-inflight");
	r->drain_ms = (int)sl_cfg_int(cfg, "drain-timeout-ms");
	r->wait_replicas = (int)sl_cfg_int(cfg, "redis-wait-replicas");
	r->wait_timeout_ms = (int)sl_cfg_int(cfg, "redis-wait-timeout-ms");
	r->model = sl_rmodel_new();
	r->idle_cb = idle_cb;
	sl_err_t err = {0};
	int rv = 2;
	sl_rconn_opts_t ro = {.name = "reducer"};
	sl_redis_ha_t ha = {sl_cfg_str(cfg, "redis-sentinels"), sl_cfg_str(cfg, "redis-master-name")};
	r->rc = sl_sentinel_open(&loop, sl_cfg_str(cfg, "redis-url"), &ro, &ha, &err);
	if (!r->rc)
		goto config_failed;
	r->rk = make_consumer(r, true, &err);
	r->crk = r->rk ? make_consumer(r, false, &err) : NULL;
	if (!r->crk)
		goto config_failed;
	if (sl_kclient_wake_init(&r->wake, &loop, rd_kafka_queue_get_consumer(r->rk), wake_cb, r, &err) < 0 ||
	    sl_kclient_wake_init(&r->cwake, &loop, rd_kafka_queue_get_consumer(r->crk), wake_cb, r, &err) < 0) {
		rv = 1; /* out of descriptors */
		goto config_failed;
	}
	metrics_init(r);
	sl_reducer__checks_init(r);
	sl_rconn_on_state(r->rc, redis_state_cb, r);
	sl_runtime_init(&r->rt, &loop, stop_cb, r);
	uv_timer_init(&loop, &r->tick);
	r->tick.data = r;
	uv_idle_init(&loop, &r->idle);
	r->idle.data = r;
	r->meta = sl_kmeta_new(&loop, r->rk, r->data_topic, 2000, (int)sl_cfg_int(cfg, "kafka-timeout-ms"), NULL, r);
	r->http = sl_http_server_from_cfg(&loop, cfg, http_cb, r, &err);
	if (!r->http) {
		sl_log_error("listen_failed", SL_KV(port, sl_cfg_int(cfg, "port")), SL_KV(error, err.msg));
		rv = 1;
		stop_cb(r);
	} else {
		sl_log_info("reducer_listening", SL_KV(port, sl_http_server_port(r->http)));
		rv = 0;
	}
	uv_timer_start(&r->tick, tick_cb, 100, 100);
	int lc = sl_runtime_run(&r->rt);
	if (lc != 0)
		sl_log_error("loop_close_failed", SL_KV(loop_close, lc));
	sl_log_info("shutdown_done", SL_KV(exit, rv));
	goto cleanup;
config_failed:
	fprintf(stderr, "sluice reducer: %s\n", err.msg);
	sl_kclient_wake_close(&r->wake, NULL);
	sl_kclient_wake_close(&r->cwake, NULL);
	if (r->crk)
		rd_kafka_destroy(r->crk);
	if (r->rk)
		rd_kafka_destroy(r->rk);
	if (r->rc)
		sl_rconn_close(r->rc, rconn_free_cb, r->rc);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
cleanup:
	sl_reducer__forget_all(r);
	sl_reducer__checks_free(r);
	sl_rmodel_free(r->model);
	free(r->pio);
	free(r->cmd_ends);
	free(r);
	sl_metrics_free_all();
	return rv;
}

const sl_role_t sl_role_reducer = {
	.name = "reducer",
	.summary = "consume market updates, keep state in Redis, publish to channels",
	.usage = "sluice reducer [options]",
	.tables = reducer_tables,
	.run = reducer_run,
};
