/* reducer_commands.c: the command topic's records applied to the model
 * (see reducer_int.h).
 *
 * Every reducer reads every command (subscribe, unsubscribe, begin,
 * close; key = channel id) and applies what concerns the partitions it
 * owns and has loaded: the markets of a subscription are mapped to their
 * partitions with Kafka's partitioner. `begin` publishes one snapshot of
 * the channel's markets this reducer owns on the channel's private Redis
 * channel, in the same connection as the updates, so no update can fall
 * between the snapshot and the stream; it is also remembered for 30 s, and
 * a partition that finishes loading meanwhile publishes its own snapshot
 * to those channels (a begin read during a rebalance would otherwise miss
 * that partition's markets). A duplicate snapshot is harmless: clients
 * keep the highest offset. Commands are taken and applied only while no
 * partition is loading, so a `begin` sees the loaded subscriptions and
 * state. Each command is first checked against the channel's record in
 * Redis (reducer_check.c, the rule in reducer_verdict.h) and applied, in
 * the order read, only as far as it agrees: a command produced to the
 * topic by anyone but the API changes nothing.
 * Non-goals: checking who may subscribe (the api did).
 */
#include "roles/reducer/reducer_int.h"

#include "core/clock.h"
#include "core/log.h"
#include "redis/rstate.h"
#include "roles/reducer/reducer_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ignore_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc, (void)reply, (void)arg;
}

/* Publish the channel's snapshot (of partition only, when given). */
static void snapshot(sl_reducer_t *r, const char *ch, size_t chlen, const sl_rpart_t *only)
{
	sl_buf_t out = SL_BUF_INIT;
	if (!sl_rmodel_snapshot(r->model, ch, chlen, only, &out)) {
		sl_buf_free(&out);
		return; /* none of its markets is ours */
	}
	sl_buf_t key = SL_BUF_INIT;
	char id[64];
	snprintf(id, sizeof(id), "%.*s", (int)chlen, ch);
	sl_rstate_key_stream(&key, r->prefix, id);
	const char *argv[] = {"PUBLISH", key.data, out.data};
	size_t lens[] = {7, key.len, out.len};
	if (sl_rconn_commandargv(r->rc, ignore_cb, NULL, 3, argv, lens) == 0) {
		sl_metric_add(r->m.snapshots, 1);
	} else {
		sl_log_warn("snapshot_failed", SL_KVN(channel, ch, chlen), SL_KV(reason, "redis_unavailable"));
	}
	sl_buf_free(&key);
	sl_buf_free(&out);
}

typedef struct part_snap {
	sl_reducer_t *r;
	const sl_rpart_t *p;
} part_snap_t;

static void part_snap_cb(const char *ch, size_t chlen, void *arg)
{
	part_snap_t *c = arg;
	snapshot(c->r, ch, chlen, c->p);
}

void sl_reducer__snapshot_part(sl_reducer_t *r, const sl_rpart_t *p)
{
	part_snap_t c = {r, p};
	sl_rmodel_recent_begins(r->model, p, sl_clock_mono_ms(), part_snap_cb, &c);
}

/* Apply a checked command: of a subscribe or unsubscribe, the markets
 * its check kept. */
static void apply(sl_reducer_t *r, const sl_rcmd_t *cmd, const bool *keep)
{
	sl_metric_add(r->m.commands, 1);
	const char *ch = cmd->channel;
	size_t chlen = cmd->channel_len;
	switch (cmd->op) {
	case SL_RCMD_SUBSCRIBE:
	case SL_RCMD_UNSUBSCRIBE:
		for (size_t i = 0; i < cmd->n_markets; i++) {
			if (!keep[i])
				continue;
			const char *m = cmd->markets[i].id;
			size_t mlen = cmd->markets[i].len;
			sl_rpart_t *p = sl_rmodel_part(r->model, sl_reducer__market_partition(r, m, mlen));
			if (!p || p->st == SL_PART_LOADING)
				continue;
			if (cmd->op == SL_RCMD_SUBSCRIBE)
				sl_rmodel_subscribe(p, m, mlen, ch, chlen);
			else
				sl_rmodel_unsubscribe(p, m, mlen, ch, chlen);
		}
		break;
	case SL_RCMD_BEGIN:
		snapshot(r, ch, chlen, NULL);
		sl_rmodel_begin(r->model, ch, chlen, sl_clock_mono_ms());
		break;
	case SL_RCMD_CLOSE:
		sl_rmodel_close_channel(r->model, ch, chlen);
		break;
	}
}

void sl_reducer__command(sl_reducer_t *r, const char *data, size_t len)
{
	sl_rcmd_t cmd;
	const char *why;
	if (sl_rcmd_parse(data, len, &cmd, &why) != 0) {
		sl_log_warn("command_invalid", SL_KV(bytes, len), SL_KV(reason, why));
		return;
	}
	sl_reducer__check_push(r, &cmd);
}

/* Apply, in the order read, the commands whose check came back. */
static void apply_checked(sl_reducer_t *r)
{
	sl_rcmd_t cmd;
	bool *keep;
	while (!sl_rmodel_loading(r->model) && sl_reducer__check_pop(r, &cmd, &keep)) {
		apply(r, &cmd, keep);
		sl_rcmd_free(&cmd);
		free(keep);
	}
}

void sl_reducer__commands(sl_reducer_t *r)
{
	apply_checked(r);
	for (int i = 0; i < 1000 && !sl_rmodel_loading(r->model) && !sl_reducer__checks_full(r); i++) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(r->crk, 0);
		if (!rkm)
			break;
		if (!rkm->err)
			sl_reducer__command(r, rkm->payload, rkm->len);
		else if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			sl_log_warn("command_consume_error", SL_KV(error, rd_kafka_message_errstr(rkm)));
		rd_kafka_message_destroy(rkm);
	}
}
