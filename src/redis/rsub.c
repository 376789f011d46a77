/* rsub.c: the publisher's Redis side (see rsub.h): two connections of
 * redis/rconn.h, one in pub/sub mode for every subscription of the loop,
 * one in command mode for the channel lookups.
 *
 * A lookup is one command with a small context that turns the reply into
 * the answer the publisher wants (1/0, or the members); a NULL reply (the
 * connection dropped, or its reply bound ran out and it was dropped) is
 * SL_EUNAVAIL, or SL_ECLOSED once closing. Both connections share the
 * publisher's --redis-timeout-ms as their connect and reply bound.
 */
#include "redis/rsub.h"

#include "core/alloc.h"
#include "redis/rconn.h"
#include "redis/sentinel.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>

struct sl_rsub {
	sl_rconn_t *ps, *cmd;
	sl_rsub_cbs_t cbs;
	void *arg;
	bool closing;
	int closes_left;
	void (*done)(void *arg);
	void *done_arg;
};

typedef struct lookup {
	sl_rsub_t *rs;
	sl_rsub_exists_cb cb;          /* EXISTS, or */
	sl_rsub_members_cb members_cb; /* SMEMBERS */
	void *arg;
} lookup_t;

static void state_cb(sl_rconn_t *rc, bool up, void *arg)
{
	(void)rc;
	sl_rsub_t *rs = arg;
	if (rs->cbs.on_state)
		rs->cbs.on_state(rs->arg, up);
}

sl_rsub_t *sl_rsub_new(uv_loop_t *loop, const char *url, const sl_redis_ha_t *ha, uint64_t timeout_ms,
		       const sl_rsub_cbs_t *cbs, void *arg, sl_err_t *err)
{
	sl_rsub_t *rs = sl_xcalloc(1, sizeof(*rs));
	rs->cbs = *cbs;
	rs->arg = arg;
	uint64_t tmo = timeout_ms ? timeout_ms : 2000;
	sl_rconn_sub_cbs_t sub = {cbs->on_message, cbs->on_subscribed, cbs->on_unsubscribed};
	sl_rconn_opts_t po = {.name = "pubsub", .sub = &sub, .sub_arg = arg, .connect_timeout_ms = tmo,
			      .reply_timeout_ms = tmo};
	sl_rconn_opts_t co = {.name = "commands", .connect_timeout_ms = tmo, .reply_timeout_ms = tmo};
	rs->ps = sl_sentinel_open(loop, url, &po, ha, err);
	rs->cmd = rs->ps ? sl_sentinel_open(loop, url, &co, ha, err) : NULL;
	if (!rs->cmd) {
		/* Only a bad URL fails here, and then the first one already did. */
		free(rs);
		return NULL;
	}
	sl_rconn_on_state(rs->ps, state_cb, rs);
	return rs;
}

bool sl_rsub_ready(const sl_rsub_t *rs)
{
	return sl_rconn_connected(rs->ps) && sl_rconn_connected(rs->cmd);
}

int sl_rsub_subscribe(sl_rsub_t *rs, const char *channel, size_t len)
{
	return rs->closing ? SL_EUNAVAIL : sl_rconn_subscribe(rs->ps, channel, len);
}

int sl_rsub_unsubscribe(sl_rsub_t *rs, const char *channel, size_t len)
{
	return rs->closing ? SL_EUNAVAIL : sl_rconn_unsubscribe(rs->ps, channel, len);
}

static void lookup_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	lookup_t *lk = arg;
	int fail = !reply ? (lk->rs->closing ? SL_ECLOSED : SL_EUNAVAIL) : 0;
	if (lk->cb) {
		int result = fail ? fail : reply->type == REDIS_REPLY_INTEGER ? (reply->integer > 0 ? 1 : 0) : SL_EREDIS;
		lk->cb(lk->arg, result);
	} else if (fail || reply->type != REDIS_REPLY_ARRAY) {
		lk->members_cb(lk->arg, fail ? fail : SL_EREDIS, NULL, 0);
	} else {
		size_t n = 0;
		sl_iov_t *m = sl_xcalloc(reply->elements + 1, sizeof(*m));
		for (size_t i = 0; i < reply->elements; i++)
			if (reply->element[i]->type == REDIS_REPLY_STRING)
				m[n++] = (sl_iov_t){reply->element[i]->str, reply->element[i]->len};
		lk->members_cb(lk->arg, 0, m, n);
		free(m);
	}
	free(lk);
}

static int lookup(sl_rsub_t *rs, const char *verb, const char *key, sl_rsub_exists_cb cb,
		  sl_rsub_members_cb members_cb, void *arg)
{
	if (rs->closing)
		return SL_EUNAVAIL;
	lookup_t *lk = sl_xmalloc(sizeof(*lk));
	*lk = (lookup_t){rs, cb, members_cb, arg};
	int rc = sl_rconn_command(rs->cmd, lookup_cb, lk, "%s %s", verb, key);
	if (rc != 0) {
		free(lk);
		return SL_EUNAVAIL;
	}
	return 0;
}

int sl_rsub_exists(sl_rsub_t *rs, const char *key, sl_rsub_exists_cb cb, void *arg)
{
	return lookup(rs, "EXISTS", key, cb, NULL, arg);
}

int sl_rsub_smembers(sl_rsub_t *rs, const char *key, sl_rsub_members_cb cb, void *arg)
{
	return lookup(rs, "SMEMBERS", key, NULL, cb, arg);
}

static void sent_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	(void)reply;
	(void)arg;
}

int sl_rsub_send(sl_rsub_t *rs, int argc, const char **argv)
{
	if (rs->closing)
		return SL_EUNAVAIL;
	return sl_rconn_commandargv(rs->cmd, sent_cb, NULL, argc, argv, NULL) == 0 ? 0 : SL_EUNAVAIL;
}

static void closed_cb(void *arg)
{
	sl_rsub_t *rs = arg;
	if (--rs->closes_left == 0 && rs->done)
		rs->done(rs->done_arg);
}

void sl_rsub_close(sl_rsub_t *rs, void (*done)(void *arg), void *arg)
{
	if (rs->closing)
		return;
	rs->closing = true;
	rs->done = done;
	rs->done_arg = arg;
	rs->closes_left = 2;
	sl_rconn_close(rs->ps, closed_cb, rs);
	sl_rconn_close(rs->cmd, closed_cb, rs);
}

void sl_rsub_free(sl_rsub_t *rs)
{
	if (!rs)
		return;
	sl_rconn_free(rs->ps);
	sl_rconn_free(rs->cmd);
	free(rs);
}
