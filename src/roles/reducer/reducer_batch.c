/* reducer_batch.c: the reducer's hot path (see reducer_int.h).
 *
 * One loop turn (after the commands, reducer_commands.c): take up to
 * --max-batch records from the consumer, update the in-memory state of each market (a record
 * older than the one held is only republished, never applied: a replay
 * after a crash never moves state backwards), and send one Redis pipeline: first one EVAL per
 * partition that writes the newest record of each market of the batch
 * (sl_rstate_lua_set_newer, which again refuses an older offset), then one
 * PUBLISH per record to its market's channel, in offset order, whatever the
 * number of channels watching it (each publisher fans it out locally). When the last
 * reply arrives the batch's offsets count as acknowledged; the tick commits
 * the acknowledged offsets (async, explicit list) at most every 100 ms, so
 * a fast stream of small batches does not become a stream of OffsetCommit
 * requests: offsets are committed only after Redis accepted the writes.
 * With --redis-wait-replicas N (a Redis with replicas behind Sentinel),
 * accepted is not enough: a batch's offsets wait as unconfirmed until a
 * WAIT N sent on the same connection (by the tick, one at a time) answers
 * that N replicas have everything written before it; only then do they
 * count as acknowledged. A failover then cannot lose a committed write: the
 * promoted replica holds it. A WAIT that finds fewer replicas (timed out
 * after --redis-wait-timeout-ms: WAIT holds the connection that long) is
 * asked again a second later; records keep flowing, only commits wait.
 * A batch whose replies fail (connection lost, error reply) keeps its
 * records and waits on the retry list, and so does every batch that
 * finishes after it, failed or not (offsets are acknowledged in order,
 * never past a failed batch); the partitions are paused until
 * Redis is back and the retries are resent in order, ahead of new batches
 * (reducer_main.c decides when). The state itself is the model's
 * (reducer_model.h); this file only moves records and replies.
 * Non-goals: exactly-once publishing (clients drop offsets they hold).
 */
#include "roles/reducer/reducer_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "redis/rstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_reducer__add_record(sl_reducer_t *r, sl_batch_t **bp, const rd_kafka_message_t *rkm)
{
	sl_rpart_t *p = sl_rmodel_part(r->model, rkm->partition);
	const char *market = rkm->key;
	size_t mlen = rkm->key_len;
	sl_metric_add(r->m.records_in, 1);
	if (!p || !market || !sl_rstate_market_valid(market, mlen)) {
		sl_metric_add(r->m.stale, 1);
		return;
	}
	sl_batch_t *b = *bp;
	if (!b) {
		b = *bp = sl_xcalloc(1, sizeof(*b));
		b->r = r;
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 256;
		b->recs = sl_xrealloc(b->recs, b->cap * sizeof(*b->recs));
	}
	sl_rec_t *rec = &b->recs[b->n++];
	rec->partition = rkm->partition;
	rec->offset = rkm->offset;
	rec->ts = rd_kafka_message_timestamp(rkm, NULL);
	rec->moff = (uint32_t)b->text.len;
	rec->mlen = (uint32_t)mlen;
	sl_buf_append(&b->text, market, mlen);
	rec->joff = (uint32_t)b->text.len;
	sl_rstate_value_json(&b->text, rkm->payload, rkm->len);
	rec->jlen = (uint32_t)(b->text.len - rec->joff);
	bool stamped = rec->ts >= 0;
	if (!stamped)
		rec->ts = sl_clock_wall_ms();
	/* Memory first: a snapshot taken after this turn sees this record.
	 * Older than the state held: a replay after a crash or a lost
	 * assignment. It never touches the state, but it is published again:
	 * the reducer that died may have written the state and not the
	 * PUBLISHes that followed it, and clients drop what they already hold. */
	rec->replay = !sl_rmodel_update(p, market, mlen, rec->offset, rec->ts, b->text.data + rec->joff, rec->jlen);
	if (rec->replay)
		sl_metric_add(r->m.replayed, 1);
	else if (stamped)
		sl_metric_observe(r->m.poll_latency, sl_clock_wall_ms_f() - (double)rec->ts);
}

void sl_reducer__batch_free(sl_batch_t *b)
{
	if (!b)
		return;
	free(b->recs);
	sl_buf_free(&b->text);
	free(b);
}

/* ---- sending ---- */
typedef struct argv_b {
	sl_buf_t text;
	size_t *off, *len;
	size_t n, cap;
} argv_b_t;

static void arg_add(argv_b_t *a, const char *s, size_t n)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->off = sl_xrealloc(a->off, a->cap * sizeof(size_t));
		a->len = sl_xrealloc(a->len, a->cap * sizeof(size_t));
	}
	a->off[a->n] = a->text.len;
	a->len[a->n] = n;
	a->n++;
	sl_buf_append(&a->text, s, n);
}

static void arg_reset(argv_b_t *a)
{
	a->n = 0;
	sl_buf_reset(&a->text);
}

static void arg_free(argv_b_t *a)
{
	free(a->off);
	free(a->len);
	sl_buf_free(&a->text);
}

static void finish(sl_batch_t *b);

static void reply_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	sl_batch_t *b = arg;
	if (!reply) {
		b->failed = true;
	} else if (reply->type == REDIS_REPLY_ERROR) {
		if (!b->failed)
			sl_log_error("redis_write_failed", SL_KVN(error, reply->str, reply->len < 120 ? reply->len : 120));
		b->failed = true;
	}
	if (--b->replies_left == 0)
		finish(b);
}

static int send_argv(sl_reducer_t *r, sl_batch_t *b, argv_b_t *a)
{
	const char **argv = sl_xmalloc(a->n * sizeof(*argv));
	for (size_t i = 0; i < a->n; i++)
		argv[i] = a->text.data + a->off[i];
	int rv = sl_rconn_commandargv(r->rc, reply_cb, b, (int)a->n, argv, a->len);
	free(argv);
	if (rv == 0) {
		b->replies_left++;
		b->commands++;
	}
	return rv;
}

static void list_append(sl_batch_t **head, sl_batch_t **tail, sl_batch_t *b)
{
	b->next = NULL;
	if (*tail)
		(*tail)->next = b;
	else
		*head = b;
	*tail = b;
}

/* Write the newest record of each market per partition, then publish every
 * record once to its market's channel (publishers fan it out to their
 * clients), when some channel watches the market. Returns 0 or SL_EUNAVAIL. */
static int build_and_send(sl_reducer_t *r, sl_batch_t *b)
{
	argv_b_t a = {0};
	sl_buf_t tmp = SL_BUF_INIT;
	sl_smap_t *newest = sl_smap_new(); /* market -> index+1 of its newest record */
	int rv = 0;
	for (size_t i = 0; i < b->n; i++)
		if (!b->recs[i].replay)
			sl_smap_put(newest, b->text.data + b->recs[i].moff, b->recs[i].mlen, (void *)(uintptr_t)(i + 1),
				    NULL);
	for (int32_t pid = 0; pid < sl_rmodel_nparts(r->model) && rv == 0; pid++) {
		if (!sl_rmodel_part(r->model, pid))
			continue;
		arg_reset(&a);
		for (size_t i = 0; i < b->n; i++) {
			sl_rec_t *rec = &b->recs[i];
			if (rec->partition != pid ||
			    (uintptr_t)sl_smap_get(newest, b->text.data + rec->moff, rec->mlen) != i + 1)
				continue;
			if (a.n == 0) {
				arg_add(&a, "EVAL", 4);
				arg_add(&a, sl_rstate_lua_set_newer, strlen(sl_rstate_lua_set_newer));
				arg_add(&a, "1", 1);
				sl_buf_reset(&tmp);
				sl_rstate_key_state(&tmp, r->prefix, pid);
				arg_add(&a, tmp.data, tmp.len);
			}
			arg_add(&a, b->text.data + rec->moff, rec->mlen);
			sl_buf_reset(&tmp);
			sl_buf_printf(&tmp, "%lld", (long long)rec->offset);
			arg_add(&a, tmp.data, tmp.len);
			sl_buf_reset(&tmp);
			sl_rstate_encode(&tmp, rec->offset, rec->ts, b->text.data + rec->joff, rec->jlen);
			arg_add(&a, tmp.data, tmp.len);
		}
		if (a.n)
			rv = send_argv(r, b, &a);
	}
	sl_smap_free(newest);
	for (size_t i = 0; i < b->n && rv == 0; i++) {
		sl_rec_t *rec = &b->recs[i];
		sl_rpart_t *p = sl_rmodel_part(r->model, rec->partition);
		if (!p || !sl_rmodel_watched(p, b->text.data + rec->moff, rec->mlen))
			continue;
		sl_buf_t msg = SL_BUF_INIT;
		sl_rstate_update_json(&msg, b->text.data + rec->moff, rec->mlen, b->text.data + rec->joff, rec->jlen,
				      rec->offset, rec->partition, rec->ts);
		arg_reset(&a);
		arg_add(&a, "PUBLISH", 7);
		sl_buf_reset(&tmp);
		sl_rstate_key_market(&tmp, r->prefix, b->text.data + rec->moff, rec->mlen);
		arg_add(&a, tmp.data, tmp.len);
		arg_add(&a, msg.data, msg.len);
		rv = send_argv(r, b, &a);
		if (!rv)
			sl_metric_add(r->m.messages_out, 1);
		sl_buf_free(&msg);
	}
	arg_free(&a);
	sl_buf_free(&tmp);
	return rv;
}

static void count_parts(sl_reducer_t *r, sl_batch_t *b, int delta)
{
	int32_t nparts = sl_rmodel_nparts(r->model);
	bool seen[nparts > 0 ? nparts : 1];
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < b->n; i++) {
		int32_t pid = b->recs[i].partition;
		if (pid < nparts && !seen[pid]) {
			seen[pid] = true;
			sl_rpart_t *p = sl_rmodel_part(r->model, pid);
			if (p)
				p->inflight += delta;
		}
	}
}

void sl_reducer__send(sl_reducer_t *r, sl_batch_t *b)
{
	if (!b)
		return;
	if (!b->sent_ms)
		count_parts(r, b, +1);
	b->sent_ms = sl_clock_mono_ms();
	b->failed = false;
	b->replies_left = 0;
	b->commands = 0;
	r->ninflight++;
	list_append(&r->inflight_head, &r->inflight_tail, b);
	/* Hold one extra reference while sending so a reply callback cannot
	 * finish the batch before every command is queued. */
	b->replies_left++;
	if (r->retry_head || !sl_rconn_connected(r->rc) || build_and_send(r, b) != 0)
		b->failed = true;
	sl_metric_observe(r->m.pipeline_cmds, (double)b->commands);
	if (--b->replies_left == 0)
		finish(b);
}

static void finish(sl_batch_t *b)
{
	sl_reducer_t *r = b->r;
	/* Replies arrive in order: this is the head of the in-flight list. */
	sl_batch_t **pp = &r->inflight_head, *prev = NULL;
	while (*pp && *pp != b) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = b->next;
		if (r->inflight_tail == b)
			r->inflight_tail = prev;
	}
	r->ninflight--;
	/* Acknowledged offsets only move forward: a batch that succeeds
	 * while an earlier one waits on the retry list (an error reply
	 * leaves the connection up) must wait there too, behind it, or its
	 * offsets would carry the commit past the failed records. */
	if (b->failed || r->retry_head) {
		if (b->failed)
			sl_metric_add(r->m.failed, 1);
		list_append(&r->retry_head, &r->retry_tail, b);
		sl_reducer__redis_failed(r);
		return;
	}
	double now = sl_clock_wall_ms_f();
	for (size_t i = 0; i < b->n; i++) {
		sl_rec_t *rec = &b->recs[i];
		if (!rec->replay)
			sl_metric_observe(r->m.latency, now - (double)rec->ts);
		if (r->wait_replicas > 0) {
			sl_part_io_t *io = sl_reducer__io(r, rec->partition);
			if (io && rec->offset + 1 > io->unconfirmed_next)
				io->unconfirmed_next = rec->offset + 1;
		} else {
			sl_rmodel_ack(r->model, rec->partition, rec->offset);
		}
	}
	count_parts(r, b, -1);
	sl_metric_add(r->m.batches, 1);
	sl_metric_observe(r->m.batch_records, (double)b->n);
	sl_reducer__batch_free(b);
	/* The next turn also finishes a revoke that waited for this batch. */
	sl_reducer__schedule(r);
}

void sl_reducer__resend(sl_reducer_t *r)
{
	sl_batch_t *b = r->retry_head;
	r->retry_head = r->retry_tail = NULL;
	int n = 0;
	while (b) {
		sl_batch_t *next = b->next;
		sl_reducer__send(r, b);
		n++;
		b = next;
	}
	if (n)
		sl_log_info("batches_resent", SL_KV(count, n));
}

void sl_reducer__drop_retries(sl_reducer_t *r)
{
	sl_batch_t *b = r->retry_head;
	r->retry_head = r->retry_tail = NULL;
	while (b) {
		sl_batch_t *next = b->next;
		count_parts(r, b, -1);
		sl_reducer__batch_free(b);
		b = next;
	}
}

/* ---- WAIT: writes confirmed by the replicas ---- */
static void wait_reply_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	sl_reducer_t *r = arg;
	r->wait_inflight = false;
	if (!reply)
		return; /* dropped: the reload after the reconnect starts over */
	long long got = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
	if (got < r->wait_replicas) {
		/* Replies come in order: every batch sent before this WAIT has
		 * finished, and stays unconfirmed until a later WAIT. */
		sl_metric_add(r->m.wait_short, 1);
		r->wait_retry_ms = sl_clock_mono_ms() + 1000;
		if (!r->wait_short)
			sl_log_warn("redis_replicas_behind", SL_KV(replicas, got), SL_KV(timeout_ms, r->wait_timeout_ms));
		r->wait_short = true;
		return;
	}
	if (r->wait_short)
		sl_log_info("redis_replicas_caught_up", SL_KV(replicas, got));
	r->wait_short = false;
	for (int32_t i = 0; i < r->npio; i++) {
		sl_part_io_t *io = r->pio[i];
		if (io && io->unconfirmed_next > 0) {
			sl_rmodel_ack(r->model, i, io->unconfirmed_next - 1);
			io->unconfirmed_next = 0;
		}
	}
}

void sl_reducer__confirm(sl_reducer_t *r)
{
	if (r->wait_replicas <= 0 || r->wait_inflight || !sl_rconn_connected(r->rc) ||
	    sl_clock_mono_ms() < r->wait_retry_ms)
		return;
	bool any = false;
	for (int32_t i = 0; i < r->npio && !any; i++)
		any = r->pio[i] && r->pio[i]->unconfirmed_next > 0;
	if (any && sl_rconn_command(r->rc, wait_reply_cb, r, "WAIT %d %d", r->wait_replicas, r->wait_timeout_ms) == 0)
		r->wait_inflight = true;
}

/* ---- taking records ---- */
void sl_reducer__records(sl_reducer_t *r)
{
	bool busy = r->ninflight >= r->max_inflight || sl_rconn_pending(r->rc) > r->max_pending;
	bool more = false;
	sl_batch_t *b = NULL;
	for (int n = 0; !busy && n < r->max_batch; n++) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(r->rk, 0);
		if (!rkm)
			break;
		if (n == r->max_batch - 1)
			more = true;
		if (rkm->err) {
			if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				sl_log_warn("consume_error", SL_KV(error, rd_kafka_message_errstr(rkm)));
			rd_kafka_message_destroy(rkm);
			continue;
		}
		sl_rpart_t *p = sl_rmodel_part(r->model, rkm->partition);
		sl_part_io_t *io = sl_reducer__io(r, rkm->partition);
		if (io && !io->taken) {
			io->taken = true;
			io->first_taken = rkm->offset;
		}
		if (p && io && p->st == SL_PART_LOADING) {
			/* Held until the load ends; a long load pauses the partition
			 * at the position reached (every held record was delivered,
			 * so the resume fetches on right after the last one). */
			if (io->nheld == io->capheld) {
				io->capheld = io->capheld ? io->capheld * 2 : 64;
				io->held = sl_xrealloc(io->held, io->capheld * sizeof(*io->held));
			}
			io->held[io->nheld++] = rkm;
			if (io->nheld >= (size_t)r->max_batch)
				sl_reducer__pause_part(r, p->id, true);
			continue;
		}
		if (p && p->st == SL_PART_READY)
			sl_reducer__add_record(r, &b, rkm);
		rd_kafka_message_destroy(rkm);
	}
	if (b)
		sl_reducer__send(r, b);
	if (more)
		sl_reducer__schedule(r);
	sl_metric_set(r->m.redis_pending, (double)sl_rconn_pending(r->rc));
}
