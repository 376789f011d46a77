/* reducer_verdict.c: a command judged against the channel's record in
 * Redis, with no I/O (the rule: reducer_verdict.h). */
#include "roles/reducer/reducer_verdict.h"

#include <string.h>

/* KEYS[1] the channel record, KEYS[2] its market set, ARGV the markets. */
const char sl_rverdict_script[] =
	"if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end\n"
	"local r = {1}\n"
	"for i = 1, #ARGV do r[i + 1] = redis.call('SISMEMBER', KEYS[2], ARGV[i]) end\n"
	"return r\n";

static const char *const reason_names[SL_RVERDICT_NREASONS] = {
	[SL_RVERDICT_AGREES] = "agrees",
	[SL_RVERDICT_UNKNOWN_CHANNEL] = "unknown_channel",
	[SL_RVERDICT_MARKET_MISMATCH] = "market_mismatch",
	[SL_RVERDICT_CHANNEL_OPEN] = "channel_open",
	[SL_RVERDICT_BAD_REPLY] = "bad_reply",
};

const char *sl_rverdict_reason_name(sl_rverdict_reason_t reason)
{
	return (unsigned)reason < SL_RVERDICT_NREASONS ? reason_names[reason] : "?";
}

const char *sl_rverdict_op_name(sl_rcmd_op_t op)
{
	switch (op) {
	case SL_RCMD_SUBSCRIBE:
		return "subscribe";
	case SL_RCMD_UNSUBSCRIBE:
		return "unsubscribe";
	case SL_RCMD_BEGIN:
		return "begin";
	case SL_RCMD_CLOSE:
		return "close";
	}
	return "?";
}

bool sl_rverdict_wants_markets(const sl_rcmd_t *cmd)
{
	return cmd->op == SL_RCMD_SUBSCRIBE || cmd->op == SL_RCMD_UNSUBSCRIBE;
}

static bool is_int(const redisReply *e)
{
	return e && e->type == REDIS_REPLY_INTEGER;
}

sl_rverdict_t sl_rverdict_judge(const sl_rcmd_t *cmd, const redisReply *reply, int64_t waited_ms, bool *keep)
{
	sl_rverdict_t v = {SL_RVERDICT_ASK_AGAIN, SL_RVERDICT_AGREES, 0};
	bool markets = sl_rverdict_wants_markets(cmd);
	size_t n = markets ? cmd->n_markets : 0;
	if (keep && n)
		memset(keep, 0, n * sizeof(*keep));
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || !is_int(reply->element[0]))
		return v; /* no answer, an error (LOADING, NOSCRIPT...): ask again */
	bool exists = reply->element[0]->integer == 1;
	if (cmd->op == SL_RCMD_CLOSE) {
		if (!exists) {
			v.act = SL_RVERDICT_APPLY;
		} else {
			v.reason = SL_RVERDICT_CHANNEL_OPEN;
			v.act = waited_ms >= SL_RVERDICT_CLOSE_WAIT_MS ? SL_RVERDICT_REFUSE : SL_RVERDICT_ASK_LATER;
		}
		return v;
	}
	if (!exists) {
		v.act = SL_RVERDICT_REFUSE;
		v.reason = SL_RVERDICT_UNKNOWN_CHANNEL;
		v.nrefused = n;
		return v;
	}
	v.act = SL_RVERDICT_APPLY;
	if (!markets || !n)
		return v; /* begin; or a subscribe whose markets were all invalid */
	bool shape = reply->elements == 1 + n;
	for (size_t i = 0; shape && i < n; i++)
		shape = is_int(reply->element[i + 1]);
	if (!shape) {
		v.act = SL_RVERDICT_REFUSE;
		v.reason = SL_RVERDICT_BAD_REPLY;
		v.nrefused = n;
		return v;
	}
	for (size_t i = 0; i < n; i++) {
		bool member = reply->element[i + 1]->integer == 1;
		bool ok = cmd->op == SL_RCMD_SUBSCRIBE ? member : !member;
		if (keep)
			keep[i] = ok;
		if (!ok)
			v.nrefused++;
	}
	if (v.nrefused) {
		v.reason = SL_RVERDICT_MARKET_MISMATCH;
		if (v.nrefused == n)
			v.act = SL_RVERDICT_REFUSE;
	}
	return v;
}
