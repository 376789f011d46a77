/* api_step.c: the steps every control-API flow is made of (see api_int.h):
 * an operation's end (answer, metrics, free), Redis commands whose replies
 * are counted until the next step runs, the command produced to the command
 * topic with its delivery report, the shared failure answers, and the
 * rollback that undoes what a request wrote when Kafka refused its command.
 *
 * How it fits: below api_flow.c, which strings these into the flow of each
 * route; api.c feeds delivery reports in. Nothing here knows a route.
 * Non-goals: deciding what a route writes (api_flow.c).
 */
#include "roles/api/api_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "kafka/kpart.h"
#include "redis/rstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cmd_ctx {
	sl_api_op_t *op;
	sl_api_reply_fn fn;
	size_t idx;
} cmd_ctx_t;

void sl_api__op_free(sl_api_op_t *op)
{
	for (size_t i = 0; i < op->nmarkets; i++)
		free(op->markets[i]);
	free(op->markets);
	free(op->changed);
	if (op->vals)
		for (size_t i = 0; i < op->nmarkets; i++)
			free(op->vals[i]);
	free(op->vals);
	sl_api__who_free(&op->who);
	op->a->ops--;
	free(op);
}

void sl_api__abort_cb(sl_http_req_t *req, void *arg)
{
	(void)req;
	((sl_api_op_t *)arg)->req = NULL;
}

static void ignore_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	(void)reply;
	(void)arg;
}

void sl_api__finish(sl_api_op_t *op, int status, const char *json)
{
	sl_api_t *a = op->a;
	if (op->expiring && status >= 500) {
		/* Kafka or Redis failed the close of an expired channel: put it
		 * back, a later sweep tries again. */
		sl_buf_t k = SL_BUF_INIT;
		char when[24];
		snprintf(when, sizeof(when), "%lld", (long long)(sl_clock_wall_ms() + 5000));
		sl_rstate_key_expiry(&k, a->prefix);
		const char *v[] = {"ZADD", k.data, when, op->id};
		sl_rconn_commandargv(a->rc, ignore_cb, NULL, 4, v, NULL);
		sl_buf_free(&k);
	}
	if (op->req) {
		sl_http_req_on_abort(op->req, NULL, NULL);
		if (status == 204)
			sl_http_respond(op->req, 204, NULL, NULL, 0);
		else
			sl_http_respond_json(op->req, status, json);
	}
	sl_metric_observe(a->m.latency, (double)(sl_clock_mono_ms() - op->started_ms));
	if (status >= 500)
		sl_metric_add(a->m.errors5, 1);
	else if (status >= 400)
		sl_metric_add(a->m.errors4, 1);
	sl_api__op_free(op);
}

void sl_api__fail(sl_api_op_t *op, int status, const char *code, const char *msg)
{
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_puts(&b, "{\"error\":");
	sl_buf_json_str(&b, code, strlen(code));
	sl_buf_puts(&b, ",\"message\":");
	sl_buf_json_str(&b, msg, strlen(msg));
	sl_buf_puts(&b, "}");
	sl_api__finish(op, status, b.data);
	sl_buf_free(&b);
}

/* ---- Redis steps ---- */
static void reply_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	cmd_ctx_t *c = arg;
	sl_api_op_t *op = c->op;
	if (!reply || reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_NIL) {
		/* A nil EXEC means the transaction did not run. HGET's nil is
		 * handled by its own fn, which takes every reply. */
		if (c->fn && reply && reply->type == REDIS_REPLY_NIL)
			c->fn(op, reply, c->idx);
		else
			op->failed = true;
	} else if (c->fn) {
		c->fn(op, reply, c->idx);
	}
	free(c);
	if (--op->replies == 0)
		op->next(op);
}

void sl_api__cmdv_i(sl_api_op_t *op, sl_api_reply_fn fn, size_t idx, int argc, const char **argv)
{
	cmd_ctx_t *c = sl_xmalloc(sizeof(*c));
	c->op = op;
	c->fn = fn;
	c->idx = idx;
	if (sl_rconn_commandargv(op->a->rc, reply_cb, c, argc, argv, NULL) == 0) {
		op->replies++;
	} else {
		free(c);
		op->failed = true;
	}
}

void sl_api__cmdv(sl_api_op_t *op, sl_api_reply_fn fn, int argc, const char **argv)
{
	sl_api__cmdv_i(op, fn, 0, argc, argv);
}

/* Run the commands queued by `issue`, then `next` once every reply is in. */
void sl_api__run(sl_api_op_t *op, void (*issue)(sl_api_op_t *op), sl_api_step_fn next)
{
	op->next = next;
	op->failed = false;
	op->replies++; /* held while issuing, so no reply can end the step early */
	issue(op);
	if (--op->replies == 0)
		next(op);
}

void sl_api__key_channel(sl_api_op_t *op, sl_buf_t *b)
{
	sl_rstate_key_channel(b, op->a->prefix, op->id);
}

int32_t sl_api__partition_of(sl_api_op_t *op, const char *m)
{
	return sl_kpart_of(m, strlen(m), sl_kmeta_partitions(op->a->meta));
}

/* SADD/SREM one market of the channel in both places. */
static void sub_cmds(sl_api_op_t *op, size_t i, bool add, sl_api_reply_fn fn)
{
	sl_buf_t k1 = SL_BUF_INIT, k2 = SL_BUF_INIT, mem = SL_BUF_INIT;
	sl_rstate_key_chan_markets(&k1, op->a->prefix, op->id);
	sl_rstate_key_subs(&k2, op->a->prefix, sl_api__partition_of(op, op->markets[i]));
	sl_rstate_sub_member(&mem, op->markets[i], op->id);
	const char *v1[] = {add ? "SADD" : "SREM", k1.data, op->markets[i]};
	const char *v2[] = {add ? "SADD" : "SREM", k2.data, mem.data};
	sl_api__cmdv(op, fn, 3, v1);
	sl_api__cmdv(op, NULL, 3, v2);
	sl_buf_free(&k1);
	sl_buf_free(&k2);
	sl_buf_free(&mem);
}

void sl_api__multi(sl_api_op_t *op)
{
	const char *v[] = {"MULTI"};
	sl_api__cmdv(op, NULL, 1, v);
}

void sl_api__exec(sl_api_op_t *op, sl_api_reply_fn fn)
{
	const char *v[] = {"EXEC"};
	sl_api__cmdv(op, fn, 1, v);
}

static void exists_fn(sl_api_op_t *op, redisReply *reply, size_t idx)
{
	(void)idx;
	op->exists = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
}

void sl_api__issue_exists(sl_api_op_t *op)
{
	sl_buf_t k = SL_BUF_INIT;
	sl_api__key_channel(op, &k);
	const char *v[] = {"EXISTS", k.data};
	sl_api__cmdv(op, exists_fn, 2, v);
	sl_buf_free(&k);
}

/* ---- the command on the command topic ---- */
void sl_api__produce(sl_api_op_t *op, const char *what, sl_api_step_fn next)
{
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_printf(&b, "{\"op\":\"%s\",\"channel\":\"%s\",\"markets\":[", what, op->id);
	/* close and begin name no markets: each reducer knows the channel's,
	 * so a close stays small however many the channel holds. */
	bool list = strcmp(what, "close") != 0 && strcmp(what, "begin") != 0;
	for (size_t i = 0; list && i < op->nmarkets; i++) {
		if (i)
			sl_buf_putc(&b, ',');
		sl_buf_json_str(&b, op->markets[i], strlen(op->markets[i]));
	}
	sl_buf_puts(&b, "]}");
	op->next = next;
	rd_kafka_resp_err_t e = rd_kafka_producev(op->a->rk, RD_KAFKA_V_TOPIC(op->a->cmd_topic),
						  RD_KAFKA_V_KEY(op->id, strlen(op->id)),
						  RD_KAFKA_V_VALUE(b.data, b.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						  RD_KAFKA_V_OPAQUE(op), RD_KAFKA_V_END);
	sl_buf_free(&b);
	if (e) {
		op->kafka_err = e;
		next(op);
	}
}

void sl_api__delivered(sl_api_op_t *op, rd_kafka_resp_err_t err)
{
	op->kafka_err = err;
	if (!err)
		sl_metric_add(op->a->m.commands, 1);
	op->next(op);
}

void sl_api__kafka_failed(sl_api_op_t *op)
{
	char msg[200];
	snprintf(msg, sizeof(msg), "kafka did not take the command: %s", rd_kafka_err2str(op->kafka_err));
	sl_log_warn("command_failed", SL_KV(channel, op->id), SL_KV(error, rd_kafka_err2str(op->kafka_err)));
	sl_api__fail(op, 503, "kafka_unavailable", msg);
}

void sl_api__redis_failed(sl_api_op_t *op)
{
	sl_api__fail(op, 503, "redis_unavailable", "redis did not answer");
}

/* After a Redis step that also checked the channel: answer 503 if Redis
 * failed or 404 if the channel does not exist; true when the op goes on. */
bool sl_api__channel_step_ok(sl_api_op_t *op)
{
	if (op->failed) {
		sl_api__redis_failed(op);
		return false;
	}
	if (!op->exists) {
		sl_api__fail(op, 404, "unknown_channel", "no such channel");
		return false;
	}
	return true;
}

/* ---- rollback: undo what this request changed, then answer 503 ---- */
static void rollback_done(sl_api_op_t *op)
{
	if (op->failed)
		sl_log_error("rollback_failed", SL_KV(channel, op->id));
	sl_api__kafka_failed(op);
}

static void issue_rollback(sl_api_op_t *op)
{
	bool add_back = op->kind == SL_API_UNSUBSCRIBE;
	sl_api__multi(op);
	if (op->kind == SL_API_CREATE) {
		sl_buf_t k = SL_BUF_INIT, ke = SL_BUF_INIT, kc = SL_BUF_INIT;
		sl_api__key_channel(op, &k);
		sl_rstate_key_expiry(&ke, op->a->prefix);
		sl_rstate_key_creator(&kc, op->a->prefix, op->creator);
		const char *v[] = {"DEL", k.data};
		sl_api__cmdv(op, NULL, 2, v);
		const char *v2[] = {"ZREM", ke.data, op->id};
		sl_api__cmdv(op, NULL, 3, v2);
		const char *v3[] = {"ZREM", kc.data, op->id};
		sl_api__cmdv(op, NULL, 3, v3);
		sl_buf_free(&k);
		sl_buf_free(&ke);
		sl_buf_free(&kc);
	}
	for (size_t i = 0; i < op->nmarkets; i++)
		if (op->changed[i])
			sub_cmds(op, i, add_back, NULL);
	if (op->kind != SL_API_CREATE) {
		/* Publishers may have followed the change already: tell them
		 * to read the set again, inside the same transaction. */
		sl_buf_t ks = SL_BUF_INIT;
		sl_rstate_key_stream(&ks, op->a->prefix, op->id);
		const char *v[] = {"PUBLISH", ks.data, sl_rstate_msg_markets_changed};
		sl_api__cmdv(op, NULL, 3, v);
		sl_buf_free(&ks);
	}
	sl_api__exec(op, NULL);
}

void sl_api__rollback(sl_api_op_t *op)
{
	sl_api__run(op, issue_rollback, rollback_done);
}
