/* reducer_batch.c: the reducer's hot path (see reducer_int.h).
 *
 * One loop turn: apply waiting commands, then take up to --max-batch records
 * from the consumer, update the in-memory state of each market (a record
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
 * A batch whose replies fail (connection lost, error reply) keeps its
 * records and waits on the retry list; the partitions are paused until
 * Redis is back and the retries are resent in order, ahead of new batches.
 * Commands (subscribe, unsubscribe, begin, close) change the two maps of
 * the partitions this reducer owns; `begin` publishes one snapshot of the
 * channel's markets that this reducer owns, in the same pipeline order as
 * updates, so no update can fall between the snapshot and the stream.
 * Non-goals: exactly-once publishing (clients drop offsets they hold).
 */
#include "roles/reducer/reducer_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "redis/rstate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sl_mkt_t *sl_reducer__mkt_get(sl_part_t *p, const char *m, size_t n, bool create)
{
	sl_mkt_t *mk = sl_smap_get(p->markets, m, n);
	if (!mk && create) {
		mk = sl_xcalloc(1, sizeof(*mk));
		mk->offset = -1;
		sl_smap_put(p->markets, m, n, mk, NULL);
	}
	return mk;
}

void sl_reducer__add_record(sl_reducer_t *r, sl_batch_t **bp, const rd_kafka_message_t *rkm)
{
	sl_part_t *p = sl_reducer__part(r, rkm->partition);
	const char *market = rkm->key;
	size_t mlen = rkm->key_len;
	sl_metric_add(r->m.records_in, 1);
	if (!p || !market || !sl_rstate_market_valid(market, mlen)) {
		sl_metric_add(r->m.stale, 1);
		return;
	}
	sl_mkt_t *mk = sl_reducer__mkt_get(p, market, mlen, true);
	/* Older than the state held: a replay after a crash or a lost
	 * assignment. It never touches the state, but it is published again:
	 * the reducer that died may have written the state and not the
	 * PUBLISHes that followed it, and clients drop what they already hold. */
	bool replay = rkm->offset < mk->offset;
	if (replay)
		sl_metric_add(r->m.replayed, 1);
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
	if (rec->ts < 0)
		rec->ts = sl_clock_wall_ms();
	else if (!replay)
		sl_metric_observe(r->m.poll_latency, sl_clock_wall_ms_f() - (double)rec->ts);
	rec->moff = (uint32_t)b->text.len;
	rec->mlen = (uint32_t)mlen;
	sl_buf_append(&b->text, market, mlen);
	rec->joff = (uint32_t)b->text.len;
	sl_rstate_value_json(&b->text, rkm->payload, rkm->len);
	rec->jlen = (uint32_t)(b->text.len - rec->joff);
	rec->replay = replay;
	if (replay)
		return;
	/* Memory first: a snapshot taken after this turn sees this record. */
	if (mk->jlen < rec->jlen || !mk->json)
		mk->json = sl_xrealloc(mk->json, rec->jlen + 1);
	memcpy(mk->json, b->text.data + rec->joff, rec->jlen);
	mk->json[rec->jlen] = 0;
	mk->jlen = rec->jlen;
	mk->offset = rec->offset;
	mk->ts = rec->ts;
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
	for (int32_t pid = 0; pid < r->nparts && rv == 0; pid++) {
		sl_part_t *p = r->parts[pid];
		if (!p)
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
		sl_part_t *p = sl_reducer__part(r, rec->partition);
		sl_mkt_t *mk = p ? sl_smap_get(p->markets, b->text.data + rec->moff, rec->mlen) : NULL;
		if (!mk || !sl_smap_count(mk->channels))
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
	bool seen[r->nparts > 0 ? r->nparts : 1];
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < b->n; i++) {
		int32_t pid = b->recs[i].partition;
		if (pid < r->nparts && !seen[pid]) {
			seen[pid] = true;
			if (r->parts[pid])
				r->parts[pid]->inflight += delta;
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
	if (b->failed) {
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
		sl_part_t *p = sl_reducer__part(r, rec->partition);
		if (p && rec->offset + 1 > p->acked_next) {
			p->acked_next = rec->offset + 1;
			p->commit_dirty = true;
			r->commit_dirty = true;
		}
	}
	count_parts(r, b, -1);
	sl_metric_add(r->m.batches, 1);
	sl_metric_observe(r->m.batch_records, (double)b->n);
	sl_reducer__batch_free(b);
	sl_reducer__maybe_finish_revoke(r);
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

/* ---- commands ---- */
void sl_reducer__sub_add(sl_part_t *p, const char *m, size_t mlen, const char *ch, size_t chlen)
{
	sl_mkt_t *mk = sl_reducer__mkt_get(p, m, mlen, true);
	if (!mk->channels)
		mk->channels = sl_smap_new();
	sl_smap_put(mk->channels, ch, chlen, NULL, NULL);
	sl_smap_t *set = sl_smap_get(p->channels, ch, chlen);
	if (!set) {
		set = sl_smap_new();
		sl_smap_put(p->channels, ch, chlen, set, NULL);
	}
	sl_smap_put(set, m, mlen, NULL, NULL);
}

static void sub_del(sl_part_t *p, const char *m, size_t mlen, const char *ch, size_t chlen)
{
	sl_mkt_t *mk = sl_smap_get(p->markets, m, mlen);
	if (mk && mk->channels) {
		sl_smap_del(mk->channels, ch, chlen, NULL);
		if (!sl_smap_count(mk->channels)) {
			sl_smap_free(mk->channels);
			mk->channels = NULL;
		}
	}
	sl_smap_t *set = sl_smap_get(p->channels, ch, chlen);
	if (set) {
		sl_smap_del(set, m, mlen, NULL);
		if (!sl_smap_count(set)) {
			sl_smap_del(p->channels, ch, chlen, NULL);
			sl_smap_free(set);
		}
	}
}

typedef struct chan_ctx {
	sl_part_t *p;
	const char *ch;
	size_t chlen;
	sl_buf_t *out;
	int n;
} chan_ctx_t;

static void snapshot_entries(chan_ctx_t *c, const sl_smap_t *set)
{
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	const char *k;
	size_t n;
	while (sl_smap_next(set, &it, &k, &n, NULL)) {
		sl_mkt_t *mk = sl_smap_get(c->p->markets, k, n);
		if (!mk || mk->offset < 0)
			continue;
		if (c->n++)
			sl_buf_putc(c->out, ',');
		sl_rstate_entry_json(c->out, k, n, mk->json, mk->jlen, mk->offset, c->p->id, mk->ts);
	}
}

static void ignore_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	(void)reply;
	(void)arg;
}

/* Publish the channel's markets this reducer owns (only: one partition). */
static void snapshot(sl_reducer_t *r, const char *ch, size_t chlen, const sl_part_t *only)
{
	sl_buf_t out = SL_BUF_INIT;
	sl_buf_puts(&out, "{\"type\":\"snapshot\",\"markets\":[");
	chan_ctx_t c = {NULL, ch, chlen, &out, 0};
	bool owns = false;
	for (int32_t pid = 0; pid < r->nparts; pid++) {
		sl_part_t *p = r->parts[pid];
		if (!p || p->st != SL_PART_READY || (only && p != only))
			continue;
		sl_smap_t *set = sl_smap_get(p->channels, ch, chlen);
		if (!set)
			continue;
		owns = true;
		c.p = p;
		snapshot_entries(&c, set);
	}
	sl_buf_puts(&out, "]}");
	if (owns) {
		sl_buf_t key = SL_BUF_INIT;
		char id[64];
		snprintf(id, sizeof(id), "%.*s", (int)chlen, ch);
		sl_rstate_key_stream(&key, r->prefix, id);
		const char *argv[] = {"PUBLISH", key.data, out.data};
		size_t lens[] = {7, key.len, out.len};
		if (sl_rconn_commandargv(r->rc, ignore_cb, NULL, 3, argv, lens) == 0)
			sl_metric_add(r->m.snapshots, 1);
		else
			sl_log_warn("snapshot_failed", SL_KV(channel, id), SL_KV(reason, "redis_unavailable"));
		sl_buf_free(&key);
	}
	sl_buf_free(&out);
}

static void close_channel(sl_reducer_t *r, const char *ch, size_t chlen)
{
	for (int32_t pid = 0; pid < r->nparts; pid++) {
		sl_part_t *p = r->parts[pid];
		sl_smap_t *set = p ? sl_smap_get(p->channels, ch, chlen) : NULL;
		if (!set)
			continue;
		/* Copy the markets first: sub_del frees the set with its last one. */
		sl_buf_t keys = SL_BUF_INIT;
		sl_map_iter_t it = SL_MAP_ITER_INIT;
		const char *k;
		size_t n;
		while (sl_smap_next(set, &it, &k, &n, NULL)) {
			sl_buf_append(&keys, k, n);
			sl_buf_putc(&keys, '\0');
		}
		for (size_t off = 0; off < keys.len;) {
			n = strlen(keys.data + off);
			sub_del(p, keys.data + off, n, ch, chlen);
			off += n + 1;
		}
		sl_buf_free(&keys);
	}
}

/* ---- begins during a rebalance ----
 * A `begin` read while another reducer is giving a partition up (or while
 * nobody owns it) would leave that partition's markets out of the
 * snapshot. Every reducer reads every command, so each remembers the
 * begins of the last SL_REDUCER_BEGIN_MEMORY_MS and, when it finishes
 * loading a partition, publishes a snapshot of that partition's markets to
 * each such channel. A duplicate snapshot is harmless (clients keep the
 * highest offset). */
#define SL_REDUCER_BEGIN_MEMORY_MS 30000

static void prune_begins(sl_reducer_t *r)
{
	int64_t now = sl_clock_mono_ms();
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	const char *k;
	size_t n;
	void *val;
	while (sl_smap_next(r->recent_begins, &it, &k, &n, &val))
		if (now - (int64_t)(intptr_t)val > SL_REDUCER_BEGIN_MEMORY_MS)
			sl_smap_del(r->recent_begins, k, n, NULL);
}

void sl_reducer__snapshot_part(sl_reducer_t *r, sl_part_t *p)
{
	prune_begins(r);
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	const char *k;
	size_t n;
	while (sl_smap_next(r->recent_begins, &it, &k, &n, NULL))
		if (sl_smap_has(p->channels, k, n))
			snapshot(r, k, n, p);
}

void sl_reducer__command(sl_reducer_t *r, const char *data, size_t len)
{
	json_error_t jerr;
	json_t *j = json_loadb(data, len, 0, &jerr);
	const char *op = j ? json_string_value(json_object_get(j, "op")) : NULL;
	json_t *chj = j ? json_object_get(j, "channel") : NULL;
	const char *ch = json_string_value(chj);
	size_t chlen = ch ? json_string_length(chj) : 0;
	json_t *markets = j ? json_object_get(j, "markets") : NULL;
	if (!op || !ch || !sl_rstate_channel_valid(ch, chlen)) {
		sl_log_warn("command_invalid", SL_KV(bytes, len));
		json_decref(j);
		return;
	}
	sl_metric_add(r->m.commands, 1);
	bool sub = !strcmp(op, "subscribe"), unsub = !strcmp(op, "unsubscribe");
	if (sub || unsub) {
		size_t i;
		json_t *mj;
		json_array_foreach(markets, i, mj) {
			const char *m = json_string_value(mj);
			size_t mlen = m ? json_string_length(mj) : 0;
			if (!m || !sl_rstate_market_valid(m, mlen))
				continue;
			int32_t pid = sl_reducer__market_partition(r, m, mlen);
			sl_part_t *p = sl_reducer__part(r, pid);
			if (!p || p->st == SL_PART_LOADING)
				continue;
			if (sub)
				sl_reducer__sub_add(p, m, mlen, ch, chlen);
			else
				sub_del(p, m, mlen, ch, chlen);
		}
	} else if (!strcmp(op, "begin")) {
		snapshot(r, ch, chlen, NULL);
		prune_begins(r);
		sl_smap_put(r->recent_begins, ch, chlen, (void *)(intptr_t)sl_clock_mono_ms(), NULL);
	} else if (!strcmp(op, "close")) {
		close_channel(r, ch, chlen);
	} else {
		sl_log_warn("command_invalid", SL_KVN(op, op, strnlen(op, 20)));
	}
	json_decref(j);
}

/* ---- the turn ---- */
void sl_reducer__turn(sl_reducer_t *r)
{
	if (!r->started || r->stopping)
		return;
	/* Commands first, and only when no partition is loading: a `begin`
	 * must see the partitions' subscriptions and state. */
	for (int i = 0; i < 1000 && !r->loading; i++) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(r->crk, 0);
		if (!rkm)
			break;
		if (!rkm->err)
			sl_reducer__command(r, rkm->payload, rkm->len);
		else if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			sl_log_warn("command_consume_error", SL_KV(error, rd_kafka_message_errstr(rkm)));
		rd_kafka_message_destroy(rkm);
	}
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
		sl_part_t *p = sl_reducer__part(r, rkm->partition);
		if (p && p->st == SL_PART_LOADING) {
			/* Held until the load ends; a long load pauses the partition
			 * at the position reached (every held record was delivered,
			 * so the resume fetches on right after the last one). */
			if (p->nheld == p->capheld) {
				p->capheld = p->capheld ? p->capheld * 2 : 64;
				p->held = sl_xrealloc(p->held, p->capheld * sizeof(*p->held));
			}
			p->held[p->nheld++] = rkm;
			if (p->nheld >= (size_t)r->max_batch)
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
