/* api_flow.c: the steps of each control-API route (see api_int.h).
 *
 * Order (SPEC section 2): a subscription is written to Redis before its
 * command is emitted, so a reducer that loads a partition from Redis after
 * reading the command topic's end offsets cannot miss it. Every multi-key
 * write is one MULTI/EXEC or one script: a dropped connection leaves nothing
 * half-written; (un)subscribing checks the channel inside its script.
 * When Kafka refuses the command (delivery report with an error, bounded by
 * message.timeout.ms) the Redis write is undone (only what this request
 * added or removed) and the client gets 503: nothing changed.
 * A create is written with a short expiry (twice --command-timeout-ms),
 * pushed to the channel's full TTL only once Kafka acknowledged its
 * command, and 201 goes out after that. An API instance that dies between
 * its Redis write and its command (SIGKILL, a crash) so leaves no half
 * channel: the expiry sweep of any instance closes it within seconds, and
 * its client, which never got a 201, sees a failure either way.
 * Closing a channel goes the other way round: the `close` command first
 * (if Kafka is down nothing changes), then the Redis records are deleted
 * and {"type":"closed"} is published to the channel's stream.
 * Non-goals: cross-request transactions (two clients editing one channel at
 * once each get a consistent answer, in some order).
 */
#include "roles/api/api_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "kafka/kpart.h"
#include "auth/jwt.h"
#include "redis/rstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ,"stream_token":"<jwt>" for the channel, when the API can sign: what a
 * browser passes as ?token= to a publisher that asks for one. */
static void stream_token(sl_api_op_t *op, sl_buf_t *b)
{
	sl_api_t *a = op->a;
	if (!a->signer)
		return;
	sl_jwt_claims_t c = {0};
	snprintf(c.sub, sizeof(c.sub), "%s", op->who.sub[0] ? op->who.sub : "anonymous");
	snprintf(c.chan, sizeof(c.chan), "%s", op->id);
	int64_t now = sl_clock_wall_ms() / 1000;
	c.exp = now + a->stream_token_ttl_s;
	sl_buf_t tok = SL_BUF_INIT;
	if (sl_jwt_sign(a->signer, &c, now, &tok, NULL) == 0)
		sl_buf_printf(b, ",\"stream_token\":\"%s\"", tok.data);
	sl_buf_free(&tok);
}

/* EVAL a script laid out as create_script and sub_script are: KEYS are
 * the nfixed keys given, then the subs set of each market's partition;
 * ARGV the nargs values given, then a market, member pair per market. */
static void eval_markets(sl_api_op_t *op, const char *script, sl_api_reply_fn fn, const sl_buf_t *fixed,
			 size_t nfixed, const char *const *args, size_t nargs)
{
	size_t n = op->nmarkets;
	const char **argv = sl_xcalloc(3 + nfixed + n + nargs + 2 * n, sizeof(*argv));
	sl_buf_t *keys = sl_xcalloc(2 * n + 1, sizeof(sl_buf_t)); /* subs sets, then members */
	char nkeys[24];
	snprintf(nkeys, sizeof(nkeys), "%zu", nfixed + n);
	for (size_t i = 0; i < n; i++) {
		sl_rstate_key_subs(&keys[i], op->a->prefix, sl_api__partition_of(op, op->markets[i]));
		sl_rstate_sub_member(&keys[n + i], op->markets[i], op->id);
	}
	size_t k = 0;
	argv[k++] = "EVAL";
	argv[k++] = script;
	argv[k++] = nkeys;
	for (size_t i = 0; i < nfixed; i++)
		argv[k++] = fixed[i].data;
	for (size_t i = 0; i < n; i++)
		argv[k++] = keys[i].data;
	for (size_t i = 0; i < nargs; i++)
		argv[k++] = args[i];
	for (size_t i = 0; i < n; i++) {
		argv[k++] = op->markets[i];
		argv[k++] = keys[n + i].data;
	}
	sl_api__cmdv(op, fn, (int)k, argv);
	for (size_t i = 0; i < 2 * n; i++)
		sl_buf_free(&keys[i]);
	free(keys);
	free(argv);
}

/* The scripts' array reply: which markets the write changed (1) or found
 * as they were (0); anything else is a failed write. */
static void read_changed(sl_api_op_t *op, redisReply *reply)
{
	if (reply->type != REDIS_REPLY_ARRAY) {
		op->failed = true;
		return;
	}
	for (size_t i = 0; i < op->nmarkets && i < reply->elements; i++)
		op->changed[i] = reply->element[i]->type == REDIS_REPLY_INTEGER && reply->element[i]->integer == 1;
}

/* ---- POST /v1/channels ---- */
static void create_confirmed(sl_api_op_t *op)
{
	if (op->failed) {
		/* The command is in Kafka but the full TTL did not get in: the
		 * sweep closes the channel (close command, records deleted). */
		sl_api__redis_failed(op);
		return;
	}
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_printf(&b, "{\"channel\":\"%s\",\"stream\":\"/v1/stream/%s\",\"events\":\"/v1/events/%s\"", op->id,
		      op->id, op->id);
	stream_token(op, &b);
	sl_buf_putc(&b, '}');
	sl_metric_add(op->a->m.channels, 1);
	sl_log_debug("channel_created", SL_KV(channel, op->id), SL_KV(markets, op->nmarkets));
	sl_api__finish(op, 201, b.data);
	sl_buf_free(&b);
}

/* ZADD XX CH answers 1 when the expiry moved; 0 means the sweep claimed
 * the channel meanwhile (the create outlived its pending time). The new
 * expiry is always later than the pending one, so that it moves even when
 * the TTL is no longer than the pending time and no millisecond passed. */
static void confirm_fn(sl_api_op_t *op, redisReply *reply, size_t idx)
{
	(void)idx;
	if (reply->type != REDIS_REPLY_INTEGER || reply->integer != 1)
		op->failed = true;
}

static void issue_confirm(sl_api_op_t *op)
{
	sl_buf_t k = SL_BUF_INIT;
	char exp[24];
	int64_t t = sl_clock_wall_ms() + op->a->ttl_ms;
	snprintf(exp, sizeof(exp), "%lld", (long long)(t > op->pending_exp ? t : op->pending_exp + 1));
	sl_rstate_key_expiry(&k, op->a->prefix);
	const char *v[] = {"ZADD", k.data, "XX", "CH", exp, op->id};
	sl_api__cmdv(op, confirm_fn, 6, v);
	sl_buf_free(&k);
}

static void create_produced(sl_api_op_t *op)
{
	if (op->kafka_err) {
		sl_api__rollback(op);
		return;
	}
	sl_api__run(op, issue_confirm, create_confirmed);
}

static void create_written(sl_api_op_t *op)
{
	if (op->failed) {
		sl_api__redis_failed(op);
		return;
	}
	if (op->quota) {
		char msg[160];
		snprintf(msg, sizeof(msg), "this client holds %ld channels, the most it may (delete some first)",
			 op->a->max_creator_channels);
		sl_api__fail(op, 429, "too_many_channels", msg);
		return;
	}
	if (op->nmarkets)
		sl_api__produce(op, "subscribe", create_produced);
	else
		create_produced(op);
}

/* Create in one atomic step, with the creator's quota checked in it: KEYS:
 * the channel record, its market set, the expiry zset, the creator's zset,
 * then the subs set of each market's partition; ARGV: max channels of the
 * creator (0: none), expiry ms, channel id, creator, created ms, markets
 * count, owner (the token's sub; "" when none), then market, member pairs. Returns -1 over the quota (nothing
 * written), else 1/0 per market. The creator's zset holds the channels it
 * has now: a DELETE and the expiry sweep take them out. */
static const char create_script[] =
	"if tonumber(ARGV[1]) > 0 and redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[1]) then return -1 end\n"
	"redis.call('HSET', KEYS[1], 'created', ARGV[5], 'markets', ARGV[6], 'creator', ARGV[4], 'owner', ARGV[7])\n"
	"redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])\n"
	"redis.call('ZADD', KEYS[4], ARGV[5], ARGV[3])\n"
	"local out = {}\n"
	"local j = 1\n"
	"for i = 8, #ARGV, 2 do\n"
	"  out[j] = redis.call('SADD', KEYS[2], ARGV[i])\n"
	"  redis.call('SADD', KEYS[4 + j], ARGV[i + 1])\n"
	"  j = j + 1\n"
	"end\n"
	"return out\n";

static void create_fn(sl_api_op_t *op, redisReply *reply, size_t idx)
{
	(void)idx;
	if (reply->type == REDIS_REPLY_INTEGER && reply->integer == -1) {
		op->quota = true;
		return;
	}
	read_changed(op, reply);
}

static void issue_create(sl_api_op_t *op)
{
	char maxc[24], exp[24], now[24], cnt[24];
	int64_t t = sl_clock_wall_ms();
	snprintf(maxc, sizeof(maxc), "%ld", op->a->max_creator_channels);
	op->pending_exp = t + op->a->pending_ms;
	snprintf(exp, sizeof(exp), "%lld", (long long)op->pending_exp);
	snprintf(now, sizeof(now), "%lld", (long long)t);
	snprintf(cnt, sizeof(cnt), "%zu", op->nmarkets);
	sl_buf_t keys[4] = {SL_BUF_INIT, SL_BUF_INIT, SL_BUF_INIT, SL_BUF_INIT};
	sl_api__key_channel(op, &keys[0]);
	sl_rstate_key_chan_markets(&keys[1], op->a->prefix, op->id);
	sl_rstate_key_expiry(&keys[2], op->a->prefix);
	sl_rstate_key_creator(&keys[3], op->a->prefix, op->creator);
	const char *args[] = {maxc, exp, op->id, op->creator, now, cnt, op->who.any_market ? "" : op->who.sub};
	eval_markets(op, create_script, create_fn, keys, 4, args, 7);
	for (size_t i = 0; i < 4; i++)
		sl_buf_free(&keys[i]);
}

/* Answer 200 with the channel and its markets, the body of GET and of a subscribe. */
static void finish_with_channel(sl_api_op_t *op)
{
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_printf(&b, "{\"channel\":\"%s\",\"markets\":[", op->id);
	for (size_t i = 0; i < op->nmarkets; i++) {
		if (i)
			sl_buf_putc(&b, ',');
		sl_buf_json_str(&b, op->markets[i], strlen(op->markets[i]));
	}
	sl_buf_puts(&b, "]");
	if (op->kind == SL_API_GET_CHANNEL)
		stream_token(op, &b);
	sl_buf_puts(&b, "}");
	sl_api__finish(op, 200, b.data);
	sl_buf_free(&b);
}

/* ---- subscriptions ---- */
static void sub_produced(sl_api_op_t *op)
{
	if (op->kafka_err) {
		sl_api__rollback(op);
		return;
	}
	if (op->kind == SL_API_UNSUBSCRIBE) {
		sl_api__finish(op, 204, NULL);
		return;
	}
	finish_with_channel(op);
}

/* Subscribe or unsubscribe in one atomic step that also checks the channel
 * exists, so a concurrent DELETE cannot leave subscriptions of a channel
 * that is gone. KEYS: channel record, channel's market set, then the subs
 * set of each market's partition; ARGV: "add"|"rem", the channel's private
 * pub/sub channel, the markets_changed message, the most markets a channel
 * may hold, then market, member pairs.
 * When the set changed, publishers holding the channel are told in the same
 * step (they read the set again), so none can read the set before the
 * change and miss the message after it. Returns -1 for an unknown channel,
 * -2 when the channel would hold too many markets (nothing written), else
 * 1/0 per market (changed). */
static const char sub_script[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
	"local op = ARGV[1] == 'add' and 'SADD' or 'SREM'\n"
	"if op == 'SADD' then\n"
	"  local new = 0\n"
	"  for i = 5, #ARGV, 2 do\n"
	"    if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then new = new + 1 end\n"
	"  end\n"
	"  if redis.call('SCARD', KEYS[2]) + new > tonumber(ARGV[4]) then return -2 end\n"
	"end\n"
	"local out = {}\n"
	"local j = 1\n"
	"local changed = 0\n"
	"for i = 5, #ARGV, 2 do\n"
	"  out[j] = redis.call(op, KEYS[2], ARGV[i])\n"
	"  changed = changed + out[j]\n"
	"  redis.call(op, KEYS[2 + j], ARGV[i + 1])\n"
	"  j = j + 1\n"
	"end\n"
	"if changed > 0 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end\n"
	"return out\n";

static void sub_fn(sl_api_op_t *op, redisReply *reply, size_t idx)
{
	(void)idx;
	if (reply->type == REDIS_REPLY_INTEGER && reply->integer == -1) {
		op->exists = false;
		return;
	}
	op->exists = true;
	if (reply->type == REDIS_REPLY_INTEGER && reply->integer == -2) {
		op->full = true;
		return;
	}
	read_changed(op, reply);
}

static void sub_written(sl_api_op_t *op)
{
	if (!sl_api__channel_step_ok(op))
		return;
	if (op->full) {
		char msg[120];
		snprintf(msg, sizeof(msg), "a channel holds at most %ld markets", op->a->max_channel_markets);
		sl_api__fail(op, 413, "too_many_markets", msg);
		return;
	}
	sl_api__produce(op, op->kind == SL_API_SUBSCRIBE ? "subscribe" : "unsubscribe", sub_produced);
}

static void issue_sub(sl_api_op_t *op)
{
	char maxm[24];
	snprintf(maxm, sizeof(maxm), "%ld", op->a->max_channel_markets);
	sl_buf_t keys[2] = {SL_BUF_INIT, SL_BUF_INIT}, stream = SL_BUF_INIT;
	sl_rstate_key_stream(&stream, op->a->prefix, op->id);
	sl_api__key_channel(op, &keys[0]);
	sl_rstate_key_chan_markets(&keys[1], op->a->prefix, op->id);
	const char *args[] = {op->kind == SL_API_SUBSCRIBE ? "add" : "rem", stream.data, sl_rstate_msg_markets_changed,
			      maxm};
	eval_markets(op, sub_script, sub_fn, keys, 2, args, 4);
	sl_buf_free(&keys[0]);
	sl_buf_free(&keys[1]);
	sl_buf_free(&stream);
}

/* ---- begin ---- */
static void begin_produced(sl_api_op_t *op)
{
	if (op->kafka_err) {
		sl_api__kafka_failed(op);
		return;
	}
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_printf(&b, "{\"channel\":\"%s\",\"status\":\"begun\"}", op->id);
	sl_api__finish(op, 202, b.data);
	sl_buf_free(&b);
}

/* ---- GET / DELETE channel ---- */
static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void members_fn(sl_api_op_t *op, redisReply *reply, size_t idx)
{
	(void)idx;
	if (reply->type != REDIS_REPLY_ARRAY) {
		op->failed = true;
		return;
	}
	op->markets = sl_xcalloc(reply->elements + 1, sizeof(char *));
	op->changed = sl_xcalloc(reply->elements + 1, sizeof(bool));
	for (size_t i = 0; i < reply->elements; i++)
		if (reply->element[i]->type == REDIS_REPLY_STRING)
			op->markets[op->nmarkets++] = sl_xstrdup(reply->element[i]->str);
	qsort(op->markets, op->nmarkets, sizeof(char *), cmp_str);
}

static void creator_fn(sl_api_op_t *op, redisReply *reply, size_t idx)
{
	(void)idx;
	if (reply->type == REDIS_REPLY_STRING)
		snprintf(op->creator, sizeof(op->creator), "%s", reply->str);
}

static void issue_exists_members(sl_api_op_t *op)
{
	sl_api__issue_exists(op);
	sl_buf_t k = SL_BUF_INIT, kc = SL_BUF_INIT;
	sl_rstate_key_chan_markets(&k, op->a->prefix, op->id);
	const char *v[] = {"SMEMBERS", k.data};
	sl_api__cmdv(op, members_fn, 2, v);
	sl_api__key_channel(op, &kc);
	const char *v2[] = {"HGET", kc.data, "creator"};
	sl_api__cmdv_i(op, creator_fn, 0, 3, v2);
	sl_buf_free(&k);
	sl_buf_free(&kc);
}

static void channel_read(sl_api_op_t *op)
{
	if (!sl_api__channel_step_ok(op))
		return;
	finish_with_channel(op);
}

static void delete_written(sl_api_op_t *op)
{
	if (op->failed) {
		sl_api__redis_failed(op);
		return;
	}
	sl_log_debug("channel_closed", SL_KV(channel, op->id), SL_KV(markets, op->nmarkets));
	sl_api__finish(op, 204, NULL);
}

static void issue_delete(sl_api_op_t *op)
{
	sl_buf_t k = SL_BUF_INIT, km = SL_BUF_INIT, ks = SL_BUF_INIT, msg = SL_BUF_INIT;
	sl_api__key_channel(op, &k);
	sl_rstate_key_chan_markets(&km, op->a->prefix, op->id);
	sl_api__multi(op);
	const char *v[] = {"DEL", k.data, km.data};
	sl_api__cmdv(op, NULL, 3, v);
	sl_buf_t ke = SL_BUF_INIT, kc = SL_BUF_INIT;
	sl_rstate_key_expiry(&ke, op->a->prefix);
	const char *vz[] = {"ZREM", ke.data, op->id};
	sl_api__cmdv(op, NULL, 3, vz);
	if (op->creator[0]) {
		sl_rstate_key_creator(&kc, op->a->prefix, op->creator);
		const char *vc[] = {"ZREM", kc.data, op->id};
		sl_api__cmdv(op, NULL, 3, vc);
	}
	sl_buf_free(&ke);
	sl_buf_free(&kc);
	for (size_t i = 0; i < op->nmarkets; i++) {
		sl_buf_t kp = SL_BUF_INIT, mem = SL_BUF_INIT;
		sl_rstate_key_subs(&kp, op->a->prefix, sl_api__partition_of(op, op->markets[i]));
		sl_rstate_sub_member(&mem, op->markets[i], op->id);
		const char *v2[] = {"SREM", kp.data, mem.data};
		sl_api__cmdv(op, NULL, 3, v2);
		sl_buf_free(&kp);
		sl_buf_free(&mem);
	}
	sl_api__exec(op, NULL);
	sl_rstate_key_stream(&ks, op->a->prefix, op->id);
	sl_buf_printf(&msg, "{\"type\":\"closed\",\"channel\":\"%s\"}", op->id);
	const char *v3[] = {"PUBLISH", ks.data, msg.data};
	sl_api__cmdv(op, NULL, 3, v3);
	sl_buf_free(&k);
	sl_buf_free(&km);
	sl_buf_free(&ks);
	sl_buf_free(&msg);
}

static void delete_produced(sl_api_op_t *op)
{
	if (op->kafka_err) {
		sl_api__kafka_failed(op);
		return;
	}
	sl_api__run(op, issue_delete, delete_written);
}

/* ---- after the existence check ---- */
static void checked(sl_api_op_t *op)
{
	if (!sl_api__channel_step_ok(op))
		return;
	switch (op->kind) {
	case SL_API_BEGIN: sl_api__produce(op, "begin", begin_produced); break;
	case SL_API_DELETE_CHANNEL: sl_api__produce(op, "close", delete_produced); break;
	default: sl_api__fail(op, 500, "internal", "unexpected step"); break;
	}
}

/* ---- markets ---- */
static void market_fn(sl_api_op_t *op, redisReply *reply, size_t idx)
{
	int64_t off, ts;
	const char *json;
	size_t jlen;
	if (reply->type != REDIS_REPLY_STRING || sl_rstate_decode(reply->str, reply->len, &off, &ts, &json, &jlen) < 0)
		return;
	sl_buf_t b = SL_BUF_INIT;
	const char *m = op->markets[idx];
	sl_rstate_entry_json(&b, m, strlen(m), json, jlen, off, sl_api__partition_of(op, m), ts);
	op->vals[idx] = sl_buf_steal(&b, NULL);
	op->found++;
}

static void markets_read(sl_api_op_t *op)
{
	if (op->failed) {
		sl_api__redis_failed(op);
		return;
	}
	if (op->kind == SL_API_GET_MARKET) {
		if (!op->vals[0])
			sl_api__fail(op, 404, "unknown_market", "no state for this market yet");
		else
			sl_api__finish(op, 200, op->vals[0]);
		return;
	}
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_puts(&b, "{\"markets\":[");
	size_t n = 0;
	for (size_t i = 0; i < op->nmarkets; i++) {
		if (!op->vals[i])
			continue;
		if (n++)
			sl_buf_putc(&b, ',');
		sl_buf_puts(&b, op->vals[i]);
	}
	sl_buf_puts(&b, "]}");
	sl_api__finish(op, 200, b.data);
	sl_buf_free(&b);
}

static void issue_markets(sl_api_op_t *op)
{
	op->vals = sl_xcalloc(op->nmarkets + 1, sizeof(char *));
	for (size_t i = 0; i < op->nmarkets; i++) {
		sl_buf_t k = SL_BUF_INIT;
		sl_rstate_key_state(&k, op->a->prefix, sl_api__partition_of(op, op->markets[i]));
		const char *v[] = {"HGET", k.data, op->markets[i]};
		sl_api__cmdv_i(op, market_fn, i, 3, v);
		sl_buf_free(&k);
	}
}

/* ---- expiry ----
 * Channels expire through a sorted set rather than key TTLs: a channel is
 * also members of its partitions' subscription sets, and the reducers hold
 * it in memory, so its end must be a close (the `close` command, the Redis
 * records deleted, `closed` published), which a key's TTL cannot start.
 * Each API instance sweeps: one script claims (ZREM) what is due, so two
 * instances never close the same channel twice; publishers push a held
 * channel's time forward (publisher_client.c). */
#define SWEEP_BATCH "100"

static const char claim_script[] =
	"local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))\n"
	"for _, id in ipairs(ids) do redis.call('ZREM', KEYS[1], id) end\n"
	"return ids\n";

static void claimed_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	sl_api_t *a = arg;
	a->sweeping = false;
	if (!reply || reply->type != REDIS_REPLY_ARRAY || a->stopping)
		return;
	size_t n = 0;
	for (size_t i = 0; i < reply->elements; i++) {
		redisReply *e = reply->element[i];
		if (e->type != REDIS_REPLY_STRING || !sl_rstate_channel_valid(e->str, e->len))
			continue;
		sl_api_op_t *op = sl_xcalloc(1, sizeof(*op));
		op->a = a;
		op->kind = SL_API_DELETE_CHANNEL;
		op->expiring = true;
		memcpy(op->id, e->str, e->len);
		sl_api__start(op);
		n++;
	}
	if (n) {
		sl_metric_add(a->m.expired, (double)n);
		sl_log_info("channels_expired", SL_KV(channels, n));
	}
}

void sl_api__sweep_expired(sl_api_t *a)
{
	int64_t now = sl_clock_mono_ms();
	if (a->sweeping || now < a->next_sweep_ms || !sl_rconn_connected(a->rc) || !sl_kmeta_up(a->meta))
		return;
	int64_t every = a->ttl_ms / 10;
	a->next_sweep_ms = now + (every < 1000 ? 1000 : every > 5000 ? 5000 : every);
	sl_buf_t k = SL_BUF_INIT;
	char wall[24];
	snprintf(wall, sizeof(wall), "%lld", (long long)sl_clock_wall_ms());
	sl_rstate_key_expiry(&k, a->prefix);
	const char *v[] = {"EVAL", claim_script, "1", k.data, wall, SWEEP_BATCH};
	if (sl_rconn_commandargv(a->rc, claimed_cb, a, 6, v, NULL) == 0)
		a->sweeping = true;
	sl_buf_free(&k);
}

/* ---- ownership: a channel belongs to the sub that made it ---- */
static void owner_fn(sl_api_op_t *op, redisReply *reply, size_t idx)
{
	(void)idx;
	op->exists = reply->type == REDIS_REPLY_STRING;
	op->forbidden = !op->exists || reply->len != strlen(op->who.sub) || memcmp(reply->str, op->who.sub, reply->len);
}

static void issue_owner(sl_api_op_t *op)
{
	sl_buf_t k = SL_BUF_INIT;
	sl_api__key_channel(op, &k);
	const char *v[] = {"HGET", k.data, "owner"};
	sl_api__cmdv(op, owner_fn, 3, v);
	sl_buf_free(&k);
}

static void dispatch(sl_api_op_t *op);

static void owner_checked(sl_api_op_t *op)
{
	if (!sl_api__channel_step_ok(op))
		return;
	if (op->forbidden) {
		char msg[160];
		snprintf(msg, sizeof(msg), "channel %s belongs to another sub", op->id);
		sl_log_debug("auth_refused", SL_KV(reason, "channel_forbidden"));
		sl_api__fail(op, 403, "channel_forbidden", msg);
		return;
	}
	dispatch(op);
}

void sl_api__start(sl_api_op_t *op)
{
	op->started_ms = sl_clock_mono_ms();
	op->a->ops++;
	if (op->req)
		sl_http_req_on_abort(op->req, sl_api__abort_cb, op);
	bool names_channel = op->kind != SL_API_CREATE && op->kind != SL_API_GET_MARKET && op->kind != SL_API_GET_MARKETS;
	if (names_channel && !op->who.admin && !op->expiring) {
		sl_api__run(op, issue_owner, owner_checked);
		return;
	}
	dispatch(op);
}

static void dispatch(sl_api_op_t *op)
{
	switch (op->kind) {
	case SL_API_CREATE: sl_api__run(op, issue_create, create_written); break;
	case SL_API_GET_CHANNEL: sl_api__run(op, issue_exists_members, channel_read); break;
	case SL_API_DELETE_CHANNEL: sl_api__run(op, issue_exists_members, checked); break;
	case SL_API_GET_MARKET:
	case SL_API_GET_MARKETS: sl_api__run(op, issue_markets, markets_read); break;
	case SL_API_SUBSCRIBE:
	case SL_API_UNSUBSCRIBE: sl_api__run(op, issue_sub, sub_written); break;
	default: sl_api__run(op, sl_api__issue_exists, checked); break;
	}
}
