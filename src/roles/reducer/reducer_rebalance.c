/* reducer_rebalance.c: partitions coming and going (see reducer_int.h).
 *
 * Assigned (cooperative-sticky, incremental): each partition starts empty
 * in the model, LOADING, and is loaded from Redis in two pipelined
 * commands whatever its number of markets (SMEMBERS of its subscriptions,
 * HGETALL of its state); its records are held meanwhile, not paused (see
 * sl_reducer__pause_part), and past --max-batch held records it is paused
 * at the position reached. Once loaded it publishes the snapshots recent
 * begins are owed, then its held records go out as a batch. A load that
 * fails (Redis down) empties the partition again; the tick retries it.
 * Revoked: paused, and once its pipelines are done (bounded by
 * --drain-timeout-ms) its acknowledged offsets are committed synchronously
 * on a thread-pool thread (the loop never waits), then it is forgotten and
 * unassigned. Lost: forgotten at once, no commit. While shutting down, an
 * assignment is taken but left paused and unloaded (reducer_main.c waits
 * for it: see stop_progress there).
 * References: librdkafka rdkafka_complex_consumer_example.c (incremental
 * assign and unassign), SPEC section 2 (rebalance and restart).
 * Non-goals: eager rebalancing.
 */
#include "roles/reducer/reducer_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "redis/rstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading a partition from Redis: SMEMBERS subs + HGETALL state ---- */
/* librdkafka keeps a partition's pause across its unassign and a later
 * assign to this same process (a revoke pauses it, then the group hands
 * it back): the partition would never fetch again. So what this process
 * paused is resumed before it is given up; it is unassigned right after,
 * so the resume's fetch barrier (see sl_reducer__pause_part) costs nothing. */
static void forget(sl_reducer_t *r, int32_t id)
{
	sl_reducer__pause_part(r, id, false);
	sl_rmodel_forget(r->model, id);
	sl_reducer__io_forget(r, id);
}

typedef struct load_ctx {
	sl_reducer_t *r;
	int32_t id;
	unsigned seq;
	bool state; /* the HGETALL (else the SMEMBERS) */
} load_ctx_t;

static void load_done(sl_reducer_t *r, sl_rpart_t *p, sl_part_io_t *io)
{
	if (io->load_failed) {
		sl_rmodel_clear(p);
		return; /* the tick retries once Redis answers */
	}
	sl_rmodel_loaded(r->model, p);
	sl_metric_observe(r->m.load_ms, (double)(sl_clock_mono_ms() - io->load_started_ms));
	sl_log_info("partition_loaded", SL_KV(partition, p->id), SL_KV(markets, sl_smap_count(p->markets)),
		    SL_KV(channels, sl_smap_count(p->channels)), SL_KV(held, io->nheld),
		    SL_KV(ms, sl_clock_mono_ms() - io->load_started_ms));
	sl_reducer__snapshot_part(r, p);
	sl_batch_t *b = NULL;
	for (size_t i = 0; i < io->nheld; i++) {
		sl_reducer__add_record(r, &b, io->held[i]);
		rd_kafka_message_destroy(io->held[i]);
	}
	io->nheld = 0;
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
	sl_rpart_t *p = sl_rmodel_part(r->model, c->id);
	sl_part_io_t *io = sl_reducer__io(r, c->id);
	if (!p || !io || io->load_seq != c->seq || p->st != SL_PART_LOADING) {
		free(c);
		return;
	}
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		io->load_failed = true;
	} else if (!c->state) {
		for (size_t i = 0; i < reply->elements; i++) {
			sl_iov_t m, ch;
			redisReply *e = reply->element[i];
			if (e->type == REDIS_REPLY_STRING && sl_rstate_sub_split(e->str, e->len, &m, &ch))
				sl_rmodel_load_sub(p, m.base, m.len, ch.base, ch.len);
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
			sl_rmodel_load_state(p, k->str, k->len, off, ts, json, jlen);
		}
	}
	free(c);
	if (--io->load_replies == 0)
		load_done(r, p, io);
}

static void start_load(sl_reducer_t *r, sl_rpart_t *p)
{
	sl_part_io_t *io = sl_reducer__io(r, p->id);
	io->load_failed = false;
	io->load_seq = ++r->load_counter;
	io->load_started_ms = sl_clock_mono_ms();
	if (!sl_rconn_connected(r->rc)) {
		io->load_failed = true;
		return;
	}
	sl_buf_t k1 = SL_BUF_INIT, k2 = SL_BUF_INIT;
	sl_rstate_key_subs(&k1, r->prefix, p->id);
	sl_rstate_key_state(&k2, r->prefix, p->id);
	load_ctx_t *c1 = sl_xcalloc(1, sizeof(*c1)), *c2 = sl_xcalloc(1, sizeof(*c2));
	*c1 = (load_ctx_t){r, p->id, io->load_seq, false};
	*c2 = (load_ctx_t){r, p->id, io->load_seq, true};
	io->load_replies = 2;
	if (sl_rconn_command(r->rc, load_reply_cb, c1, "SMEMBERS %s", k1.data) != 0) {
		free(c1);
		io->load_replies--;
		io->load_failed = true;
	}
	if (sl_rconn_command(r->rc, load_reply_cb, c2, "HGETALL %s", k2.data) != 0) {
		free(c2);
		io->load_replies--;
		io->load_failed = true;
	}
	if (io->load_replies == 0)
		load_done(r, p, io);
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
		forget(r, r->revoking->elems[i].partition);
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
		sl_rpart_t *p = sl_rmodel_part(r->model, r->revoking->elems[i].partition);
		if (p && p->inflight > 0)
			waiting = true;
	}
	if (waiting && sl_clock_mono_ms() < r->revoke_deadline_ms)
		return;
	if (waiting)
		sl_log_warn("revoke_drain_timeout", SL_KV(timeout_ms, r->drain_ms)); /* the next owner redoes the rest */
	r->revoke_commit = rd_kafka_topic_partition_list_new(r->revoking->cnt);
	for (int i = 0; i < r->revoking->cnt; i++) {
		sl_rpart_t *p = sl_rmodel_part(r->model, r->revoking->elems[i].partition);
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
		for (int i = 0; i < parts->cnt; i++) {
			sl_rmodel_assign(r->model, parts->elems[i].partition);
			sl_reducer__io_new(r, parts->elems[i].partition);
		}
		/* Not paused while loading (see sl_reducer__pause_part): what
		 * arrives meanwhile is held, and past --max-batch held records the
		 * partition is paused at the position the application reached. */
		e = rd_kafka_incremental_assign(rk, parts);
		sl_log_info("partitions_assigned", SL_KV(partitions, list));
		for (int i = 0; i < parts->cnt; i++)
			start_load(r, sl_rmodel_part(r->model, parts->elems[i].partition));
	} else if (rd_kafka_assignment_lost(rk)) {
		for (int i = 0; i < parts->cnt; i++)
			forget(r, parts->elems[i].partition);
		e = rd_kafka_incremental_unassign(rk, parts);
		sl_log_warn("partitions_lost", SL_KV(partitions, list));
	} else {
		for (int i = 0; i < parts->cnt; i++) {
			sl_rpart_t *p = sl_rmodel_part(r->model, parts->elems[i].partition);
			if (p)
				sl_rmodel_revoking(r->model, p);
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

void sl_reducer__retry_loads(sl_reducer_t *r)
{
	if (!sl_rconn_connected(r->rc) || r->stopping)
		return;
	for (int32_t i = 0; i < sl_rmodel_nparts(r->model); i++) {
		sl_rpart_t *p = sl_rmodel_part(r->model, i);
		sl_part_io_t *io = sl_reducer__io(r, i);
		if (p && io && p->st == SL_PART_LOADING && io->load_failed)
			start_load(r, p);
	}
}

/* The new primary holds what WAIT confirmed, perhaps not more: each owned
 * partition (but one being revoked) starts over, emptied and loaded again
 * from Redis, and its consumption goes back to its confirmed offset (else
 * to the first record taken since it was assigned), so whatever the old
 * primary had and the new one lacks is written again. Resume first, then
 * seek: both are queued to librdkafka in that order, so the seek's
 * position wins over the one a resume restarts from (see
 * sl_reducer__pause_part); records fetched before it are older versions
 * that the consumer drops. */
void sl_reducer__reload_all(sl_reducer_t *r)
{
	rd_kafka_topic_partition_list_t *seek = rd_kafka_topic_partition_list_new(4);
	int n = 0;
	for (int32_t i = 0; i < sl_rmodel_nparts(r->model); i++) {
		sl_rpart_t *p = sl_rmodel_part(r->model, i);
		sl_part_io_t *io = sl_reducer__io(r, i);
		if (!p || !io || p->st == SL_PART_REVOKING)
			continue;
		int64_t to = p->acked_next >= 0 ? p->acked_next : io->taken ? io->first_taken : -1;
		sl_reducer__pause_part(r, i, false);
		p = sl_rmodel_assign(r->model, i);
		io = sl_reducer__io_new(r, i);
		if (to >= 0) {
			rd_kafka_topic_partition_list_add(seek, r->data_topic, i)->offset = to;
			io->taken = true;
			io->first_taken = to;
		}
		n++;
	}
	if (seek->cnt) {
		rd_kafka_error_t *e = rd_kafka_seek_partitions(r->rk, seek, 0);
		if (e) {
			sl_log_error("seek_failed", SL_KV(error, rd_kafka_error_string(e)));
			rd_kafka_error_destroy(e);
		}
	}
	rd_kafka_topic_partition_list_destroy(seek);
	sl_metric_add(r->m.reloads, 1);
	sl_log_info("partitions_reloading", SL_KV(partitions, n), SL_KV(reason, "redis_reconnected"));
	for (int32_t i = 0; i < sl_rmodel_nparts(r->model); i++) {
		sl_rpart_t *p = sl_rmodel_part(r->model, i);
		if (p && p->st == SL_PART_LOADING)
			start_load(r, p);
	}
}

void sl_reducer__forget_all(sl_reducer_t *r)
{
	for (int32_t i = 0; i < sl_rmodel_nparts(r->model); i++)
		forget(r, i);
}
