/* reducer.c: `sluice reducer`: consume market updates, keep state in Redis,
 * publish to channels (SPEC sections 1 and 2; the picture's "Markets Mapper").
 *
 * How it fits: one process, one libuv loop. Two librdkafka consumers:
 *  - the data consumer, a member of one consumer group on the data topic
 *    (cooperative-sticky, manual commits), so no two reducers own the same
 *    partition;
 *  - the command consumer, which assign()s every partition of the command
 *    topic at the end offsets read at start (not a group member: every
 *    reducer reads every command).
 * Start-up order (SPEC 2, no command may fall in a gap): read the command
 * topic's end offsets (thread pool), then subscribe the data topic; each
 * assigned partition has its subscriptions and states loaded from Redis in
 * two pipelined commands (SMEMBERS + HGETALL, whatever the number of
 * markets) while its records are held (not paused: see
 * sl_reducer__pause_part); commands are applied only while no partition
 * is loading, from those end offsets on.
 * Both consumers are polled with timeout 0, woken by their queues
 * (kafka/kclient.h: rd_kafka_queue_io_event_enable, a pipe, a uv_poll).
 * Revoke: pause, wait (bounded by --drain-timeout-ms) for the partitions'
 * batches in flight, commit their acknowledged offsets synchronously on a
 * thread-pool thread (bounded by the same timeout, the loop never waits),
 * forget them, then rd_kafka_incremental_unassign. Lost partitions are
 * forgotten without a commit. SIGTERM: stop the HTTP server, pause, drain
 * in-flight batches (bounded), commit, close both consumers (thread pool),
 * close Redis, exit 0.
 * The hot path is in reducer_batch.c; the maps are core/map.h sl_smap_t.
 * Non-goals: transactions (state writes are idempotent instead).
 */
#include "roles/reducer/reducer_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "kafka/kconf.h"
#include "kafka/kpart.h"
#include "redis/rstate.h"
#include "roles/roles.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_cfg_key_t reducer_keys[] = {
	{"port", NULL, "SLUICE_REDUCER_PORT", SL_CFG_INT, "8091", 0, 65535, "ops HTTP port (/healthz /readyz /metrics)"},
	{"group", NULL, "SLUICE_REDUCER_GROUP", SL_CFG_STR, "sluice-reducers", 0, 0, "consumer group of the reducers"},
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

const sl_cfg_key_t *const sl_reducer__tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, sl_cfg_keys_redis,
						     sl_cfg_keys_topics, sl_cfg_keys_http, reducer_keys, NULL};

/* ---- partitions ---- */
sl_part_t *sl_reducer__part(sl_reducer_t *r, int32_t id)
{
	return id >= 0 && id < r->nparts ? r->parts[id] : NULL;
}

int32_t sl_reducer__market_partition(const sl_reducer_t *r, const char *market, size_t len)
{
	return sl_kpart_of(market, len, r->data_partitions);
}

void sl_reducer__mkt_free(sl_mkt_t *mk)
{
	sl_smap_free(mk->channels);
	free(mk->json);
	free(mk);
}

static void part_clear(sl_part_t *p)
{
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	void *val;
	while (sl_smap_next(p->markets, &it, NULL, NULL, &val))
		sl_reducer__mkt_free(val);
	it = (sl_map_iter_t)SL_MAP_ITER_INIT;
	while (sl_smap_next(p->channels, &it, NULL, NULL, &val))
		sl_smap_free(val);
	sl_smap_free(p->markets);
	sl_smap_free(p->channels);
	p->markets = sl_smap_new();
	p->channels = sl_smap_new();
}

static void part_forget(sl_reducer_t *r, int32_t id)
{
	sl_part_t *p = sl_reducer__part(r, id);
	if (!p)
		return;
	if (p->st == SL_PART_LOADING)
		r->loading--;
	for (size_t i = 0; i < p->nheld; i++)
		rd_kafka_message_destroy(p->held[i]);
	free(p->held);
	part_clear(p);
	sl_smap_free(p->markets);
	sl_smap_free(p->channels);
	free(p);
	r->parts[id] = NULL;
}

static sl_part_t *part_new(sl_reducer_t *r, int32_t id)
{
	if (id >= r->nparts) {
		int32_t n = id + 1;
		r->parts = sl_xrealloc(r->parts, (size_t)n * sizeof(*r->parts));
		memset(r->parts + r->nparts, 0, (size_t)(n - r->nparts) * sizeof(*r->parts));
		r->nparts = n;
	}
	part_forget(r, id);
	sl_part_t *p = sl_xcalloc(1, sizeof(*p));
	p->id = id;
	p->st = SL_PART_LOADING;
	p->acked_next = -1;
	p->markets = sl_smap_new();
	p->channels = sl_smap_new();
	r->parts[id] = p;
	r->loading++;
	return p;
}

/* Pause or resume one partition, remembering it: a partition is resumed only
 * when this process paused it. librdkafka 2.0.2 bumps the fetch barrier on
 * every resume, even of a partition that is not paused: the records already
 * fetched and waiting in the consumer queue are dropped as outdated and the
 * fetcher restarts from the position of its last start or pause (upstream
 * 2.1 stopped bumping it for a partition that is not paused). */
void sl_reducer__pause_part(sl_reducer_t *r, int32_t id, bool pause)
{
	sl_part_t *p = sl_reducer__part(r, id);
	if (!p || p->paused == pause)
		return;
	p->paused = pause;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, r->data_topic, id);
	if (pause)
		rd_kafka_pause_partitions(r->rk, l);
	else
		rd_kafka_resume_partitions(r->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* ---- loading a partition from Redis: SMEMBERS subs + HGETALL state ---- */
static unsigned load_counter;

typedef struct load_ctx {
	sl_reducer_t *r;
	int32_t id;
	unsigned seq;
	bool state; /* the HGETALL (else the SMEMBERS) */
} load_ctx_t;

static void load_done(sl_reducer_t *r, sl_part_t *p)
{
	if (p->load_failed) {
		part_clear(p);
		return; /* the tick retries once Redis answers */
	}
	p->st = SL_PART_READY;
	r->loading--;
	sl_metric_observe(r->m.load_ms, (double)(sl_clock_mono_ms() - p->load_started_ms));
	sl_log_info("partition_loaded", SL_KV(partition, p->id), SL_KV(markets, sl_smap_count(p->markets)),
		    SL_KV(channels, sl_smap_count(p->channels)), SL_KV(held, p->nheld),
		    SL_KV(ms, sl_clock_mono_ms() - p->load_started_ms));
	sl_reducer__snapshot_part(r, p);
	sl_batch_t *b = NULL;
	for (size_t i = 0; i < p->nheld; i++) {
		sl_reducer__add_record(r, &b, p->held[i]);
		rd_kafka_message_destroy(p->held[i]);
	}
	p->nheld = 0;
	sl_reducer__send(r, b);
	if (!r->redis_paused && !r->stopping)
		sl_reducer__pause_part(r, p->id, false);
	sl_reducer__schedule(r);
}

static void load_reply_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	load_ctx_t *c = arg;
	sl_reducer_t *r = c->r;
	sl_part_t *p = sl_reducer__part(r, c->id);
	if (!p || p->load_seq != c->seq || p->st != SL_PART_LOADING) {
		free(c);
		return;
	}
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		p->load_failed = true;
	} else if (!c->state) {
		for (size_t i = 0; i < reply->elements; i++) {
			sl_iov_t m, ch;
			redisReply *e = reply->element[i];
			if (e->type == REDIS_REPLY_STRING && sl_rstate_sub_split(e->str, e->len, &m, &ch))
				sl_reducer__sub_add(p, m.base, m.len, ch.base, ch.len);
		}
	} else {
		for (size_t i = 0; i + 1 < reply->elements; i += 2) {
			redisReply *k = reply->element[i], *v = reply->element[i + 1];
			int64_t off, ts;
			const char *json;
			size_t jlen;
			if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
			    sl_rstate_decode(v->str, v->len, &off, &ts, &json, &jlen) < 0)
				continue;
			sl_mkt_t *mk = sl_reducer__mkt_get(p, k->str, k->len, true);
			if (off > mk->offset) {
				free(mk->json);
				mk->json = sl_xstrndup(json, jlen);
				mk->jlen = jlen;
				mk->offset = off;
				mk->ts = ts;
			}
		}
	}
	free(c);
	if (--p->load_replies == 0)
		load_done(r, p);
}

static void start_load(sl_reducer_t *r, sl_part_t *p)
{
	p->load_failed = false;
	p->load_seq = ++load_counter;
	p->load_started_ms = sl_clock_mono_ms();
	if (!sl_rconn_connected(r->rc)) {
		p->load_failed = true;
		return;
	}
	sl_buf_t k1 = SL_BUF_INIT, k2 = SL_BUF_INIT;
	sl_rstate_key_subs(&k1, r->prefix, p->id);
	sl_rstate_key_state(&k2, r->prefix, p->id);
	load_ctx_t *c1 = sl_xcalloc(1, sizeof(*c1)), *c2 = sl_xcalloc(1, sizeof(*c2));
	*c1 = (load_ctx_t){r, p->id, p->load_seq, false};
	*c2 = (load_ctx_t){r, p->id, p->load_seq, true};
	p->load_replies = 2;
	if (sl_rconn_command(r->rc, load_reply_cb, c1, "SMEMBERS %s", k1.data) != 0) {
		free(c1);
		p->load_replies--;
		p->load_failed = true;
	}
	if (sl_rconn_command(r->rc, load_reply_cb, c2, "HGETALL %s", k2.data) != 0) {
		free(c2);
		p->load_replies--;
		p->load_failed = true;
	}
	if (p->load_replies == 0)
		load_done(r, p);
	sl_buf_free(&k1);
	sl_buf_free(&k2);
}

/* ---- rebalance ---- */
static void list_str(const rd_kafka_topic_partition_list_t *l, char *out, size_t outlen)
{
	size_t off = 0;
	out[0] = 0;
	for (int i = 0; i < l->cnt && off + 12 < outlen; i++)
		off += (size_t)snprintf(out + off, outlen - off, "%s%d", i ? "," : "", (int)l->elems[i].partition);
}

static void revoke_work_cb(uv_work_t *w)
{
	sl_reducer_t *r = w->data;
	if (r->revoke_commit && r->revoke_commit->cnt)
		rd_kafka_commit(r->rk, r->revoke_commit, 0);
}

static void revoke_done_cb(uv_work_t *w, int status)
{
	(void)status;
	sl_reducer_t *r = w->data;
	char parts[256];
	list_str(r->revoking, parts, sizeof(parts));
	for (int i = 0; i < r->revoking->cnt; i++)
		part_forget(r, r->revoking->elems[i].partition);
	rd_kafka_error_t *e = rd_kafka_incremental_unassign(r->rk, r->revoking);
	if (e) {
		sl_log_error("unassign_failed", SL_KV(error, rd_kafka_error_string(e)));
		rd_kafka_error_destroy(e);
	}
	sl_log_info("partitions_revoked", SL_KV(partitions, parts), SL_KV(committed, r->revoke_commit ? r->revoke_commit->cnt : 0));
	rd_kafka_topic_partition_list_destroy(r->revoking);
	if (r->revoke_commit)
		rd_kafka_topic_partition_list_destroy(r->revoke_commit);
	r->revoking = r->revoke_commit = NULL;
	r->revoke_committing = false;
	sl_reducer__schedule(r);
}

void sl_reducer__maybe_finish_revoke(sl_reducer_t *r)
{
	if (!r->revoking || r->revoke_committing)
		return;
	bool waiting = false;
	for (int i = 0; i < r->revoking->cnt; i++) {
		sl_part_t *p = sl_reducer__part(r, r->revoking->elems[i].partition);
		if (p && p->inflight > 0)
			waiting = true;
	}
	if (waiting && sl_clock_mono_ms() < r->revoke_deadline_ms)
		return;
	if (waiting)
		sl_log_warn("revoke_drain_timeout", SL_KV(timeout_ms, r->drain_ms)); /* the next owner redoes the rest */
	r->revoke_commit = rd_kafka_topic_partition_list_new(r->revoking->cnt);
	for (int i = 0; i < r->revoking->cnt; i++) {
		sl_part_t *p = sl_reducer__part(r, r->revoking->elems[i].partition);
		if (p && p->acked_next >= 0)
			rd_kafka_topic_partition_list_add(r->revoke_commit, r->data_topic, p->id)->offset = p->acked_next;
	}
	r->revoke_committing = true;
	r->revoke_work.data = r;
	uv_queue_work(r->loop, &r->revoke_work, revoke_work_cb, revoke_done_cb);
}

void sl_reducer__rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	sl_reducer_t *r = opaque;
	rd_kafka_error_t *e = NULL;
	if (r->kafka_closing) {
		/* Called on the closing thread: offsets are already committed. */
		e = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? rd_kafka_incremental_assign(rk, parts)
								 : rd_kafka_incremental_unassign(rk, parts);
		if (e)
			rd_kafka_error_destroy(e);
		return;
	}
	char list[256];
	list_str(parts, list, sizeof(list));
	/* A rebalance is under way: the join state from older statistics says
	 * nothing about it (shutdown waits for newer ones, see stop_progress). */
	r->join_state_fresh = false;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
		r->assigned_once = true;
	if (r->stopping && err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* Shutting down: take the partitions so the rebalance completes
		 * (see stop_progress), but keep them paused and unloaded; the
		 * next owner starts from the committed offsets. */
		e = rd_kafka_incremental_assign(rk, parts);
		rd_kafka_pause_partitions(rk, parts);
		sl_log_info("partitions_assigned_while_stopping", SL_KV(partitions, list));
	} else if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++)
			part_new(r, parts->elems[i].partition);
		/* Not paused while loading (see sl_reducer__pause_part): what
		 * arrives meanwhile is held, and past --max-batch held records the
		 * partition is paused at the position the application reached. */
		e = rd_kafka_incremental_assign(rk, parts);
		sl_log_info("partitions_assigned", SL_KV(partitions, list));
		for (int i = 0; i < parts->cnt; i++)
			start_load(r, sl_reducer__part(r, parts->elems[i].partition));
	} else if (rd_kafka_assignment_lost(rk)) {
		for (int i = 0; i < parts->cnt; i++)
			part_forget(r, parts->elems[i].partition);
		e = rd_kafka_incremental_unassign(rk, parts);
		sl_log_warn("partitions_lost", SL_KV(partitions, list));
	} else {
		for (int i = 0; i < parts->cnt; i++) {
			sl_part_t *p = sl_reducer__part(r, parts->elems[i].partition);
			if (p && p->st == SL_PART_LOADING)
				r->loading--;
			if (p)
				p->st = SL_PART_REVOKING;
		}
		for (int i = 0; i < parts->cnt; i++)
			sl_reducer__pause_part(r, parts->elems[i].partition, true);
		r->revoking = rd_kafka_topic_partition_list_copy(parts);
		r->revoke_deadline_ms = sl_clock_mono_ms() + r->drain_ms;
		sl_log_info("partitions_revoking", SL_KV(partitions, list));
		sl_reducer__maybe_finish_revoke(r);
	}
	if (e) {
		sl_log_error("rebalance_failed", SL_KV(error, rd_kafka_error_string(e)));
		rd_kafka_error_destroy(e);
	}
}

void sl_reducer__commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offs, void *opaque)
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
int sl_reducer__stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
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

/* ---- Redis outage ---- */
void sl_reducer__redis_failed(sl_reducer_t *r)
{
	if (r->redis_paused)
		return;
	r->redis_paused = true;
	for (int32_t i = 0; i < r->nparts; i++)
		sl_reducer__pause_part(r, i, true);
	sl_log_warn("consumption_paused", SL_KV(reason, "redis_unavailable"));
}

static void redis_recover(sl_reducer_t *r)
{
	if (!sl_rconn_connected(r->rc) || r->stopping)
		return;
	for (int32_t i = 0; i < r->nparts; i++) {
		sl_part_t *p = r->parts[i];
		if (p && p->st == SL_PART_LOADING && p->load_failed)
			start_load(r, p);
	}
	if (r->retry_head && r->ninflight == 0)
		sl_reducer__resend(r);
	if (r->redis_paused && !r->retry_head) {
		r->redis_paused = false;
		for (int32_t i = 0; i < r->nparts; i++)
			if (r->parts[i] && r->parts[i]->st == SL_PART_READY)
				sl_reducer__pause_part(r, i, false);
		sl_log_info("consumption_resumed", SL_KV(reason, "redis_available"));
	}
}

void sl_reducer__redis_state_cb(sl_rconn_t *rc, bool up, void *arg)
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

/* Commit every partition's acknowledged offset that moved (async). */
static void commit_acked(sl_reducer_t *r)
{
	if (!r->commit_dirty || r->kafka_closing)
		return;
	r->commit_dirty = false;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->nparts > 0 ? r->nparts : 1);
	for (int32_t i = 0; i < r->nparts; i++) {
		sl_part_t *p = r->parts[i];
		if (p && p->commit_dirty && p->st != SL_PART_LOADING) {
			rd_kafka_topic_partition_list_add(l, r->data_topic, i)->offset = p->acked_next;
			p->commit_dirty = false;
		}
	}
	if (l->cnt)
		rd_kafka_commit(r->rk, l, 1);
	rd_kafka_topic_partition_list_destroy(l);
}

/* The 100 ms tick: whatever waits for a condition is retried here. */
void sl_reducer__tick(sl_reducer_t *r)
{
	commit_acked(r);
	maybe_start(r);
	if (r->retry_head || r->redis_paused)
		redis_recover(r);
	else
		for (int32_t i = 0; i < r->nparts; i++)
			if (r->parts[i] && r->parts[i]->st == SL_PART_LOADING && r->parts[i]->load_failed)
				start_load(r, r->parts[i]);
	sl_reducer__maybe_finish_revoke(r);
}

void sl_reducer__free_parts(sl_reducer_t *r)
{
	for (int32_t i = 0; i < r->nparts; i++)
		part_forget(r, i);
	sl_smap_free(r->recent_begins);
	r->recent_begins = NULL;
}
