/* rsub.c: pub/sub and lookup connections to Redis for the publisher (see rsub.h).
 *
 * The pub/sub connection is rsub_resp.c (RESP2 parsed in place). The lookup
 * connection is a hiredis async context on the libuv adapter with its own
 * retry timer; hiredis 0.14 frees a context itself after a failed connect or
 * a disconnect, so the link only forgets its pointer there and arms the
 * retry. Lookups are kept in send order (Redis answers in order); a tick
 * timer fails the connection when the oldest has waited past the timeout.
 * The host name is resolved once, at start.
 */
#include "redis/rsub.h"
#include "redis/rsub_int.h"
#include "redis/url.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct link {
	sl_rsub_t *rs;
	const char *name;
	redisAsyncContext *ac;
	uv_timer_t retry;
	uint64_t backoff_ms;
	uint64_t connect_started_ms;
	bool connected;
} link_t;

typedef struct lookup {
	sl_rsub_exists_cb cb;          /* EXISTS, or */
	sl_rsub_members_cb members_cb; /* SMEMBERS */
	void *arg;
	uint64_t deadline;
	struct lookup *next, *prev;
} lookup_t;

struct sl_rsub {
	uv_loop_t *loop;
	sl_redis_url_t url;
	uint64_t timeout_ms;
	sl_rsub_cbs_t cbs;
	void *arg;
	sl_psub_t *ps;
	link_t cmd;
	uv_timer_t tick;
	lookup_t *lk_head, *lk_tail;
	bool closing;
	int open_handles;
	void (*done)(void *arg);
	void *done_arg;
};

static void link_connect(link_t *l);

static void maybe_done(sl_rsub_t *rs)
{
	if (rs->closing && rs->open_handles == 0 && !rs->cmd.ac && rs->done) {
		void (*done)(void *) = rs->done;
		rs->done = NULL;
		done(rs->done_arg);
	}
}

static void retry_cb(uv_timer_t *t)
{
	link_t *l = sl_container_of(t, link_t, retry);
	if (!l->rs->closing)
		link_connect(l);
}

static void schedule_retry(link_t *l)
{
	if (l->rs->closing)
		return;
	uint64_t d = l->backoff_ms ? l->backoff_ms : BACKOFF_MIN_MS;
	l->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
	uv_timer_start(&l->retry, retry_cb, d, 0);
}

static void auth_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	(void)privdata;
	redisReply *reply = r;
	link_t *l = ac->data;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		sl_log_error("redis_auth_failed", SL_KV(conn, l->name), SL_KVN(error, reply->str, reply->len));
}

static void connect_cb(const redisAsyncContext *cac, int status)
{
	link_t *l = cac->data;
	sl_rsub_t *rs = l->rs;
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	if (status != REDIS_OK) {
		sl_log_warn("redis_connect_failed", SL_KV(conn, l->name), SL_KV(addr, rs->url.addr), SL_KV(error, cac->errstr),
			    SL_KV(retry_ms, l->backoff_ms ? l->backoff_ms : BACKOFF_MIN_MS));
		l->ac = NULL; /* hiredis frees the context after this callback */
		schedule_retry(l);
		maybe_done(rs);
		return;
	}
	l->connected = true;
	l->backoff_ms = 0;
	redisEnableKeepAlive(&ac->c);
	if (rs->url.user[0])
		redisAsyncCommand(ac, auth_cb, NULL, "AUTH %s %s", rs->url.user, rs->url.password);
	else if (rs->url.password[0])
		redisAsyncCommand(ac, auth_cb, NULL, "AUTH %s", rs->url.password);
	if (rs->url.db)
		redisAsyncCommand(ac, auth_cb, NULL, "SELECT %d", rs->url.db);
	sl_log_info("redis_connected", SL_KV(conn, l->name), SL_KV(addr, rs->url.addr));
}

static void disconnect_cb(const redisAsyncContext *cac, int status)
{
	(void)status; /* errstr says why */
	link_t *l = cac->data;
	sl_rsub_t *rs = l->rs;
	l->ac = NULL;
	l->connected = false;
	if (rs->closing) {
		maybe_done(rs);
		return;
	}
	sl_log_warn("redis_disconnected", SL_KV(conn, l->name), SL_KV(error, cac->errstr[0] ? cac->errstr : "closed"));
	schedule_retry(l);
}

static void link_connect(link_t *l)
{
	sl_rsub_t *rs = l->rs;
	redisAsyncContext *ac = redisAsyncConnect(rs->url.host, rs->url.port);
	if (!ac || ac->err) {
		sl_log_warn("redis_connect_failed", SL_KV(conn, l->name), SL_KV(addr, rs->url.addr),
			    SL_KV(error, ac ? ac->errstr : "out of memory"));
		if (ac)
			redisAsyncFree(ac);
		schedule_retry(l);
		return;
	}
	ac->data = l;
	if (redisLibuvAttach(ac, rs->loop) != REDIS_OK) {
		redisAsyncFree(ac);
		schedule_retry(l);
		return;
	}
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	l->ac = ac;
	l->connect_started_ms = (uint64_t)sl_clock_mono_ms();
}

static void fail_oldest_cb(uv_timer_t *t)
{
	sl_rsub_t *rs = sl_container_of(t, sl_rsub_t, tick);
	link_t *l = &rs->cmd;
	/* hiredis 0.14's libuv adapter ignores a poll error, so a refused
	 * connect never calls back: give up on it after the timeout. A context
	 * that never connected gets no disconnect callback when freed. */
	if (l->ac && !l->connected && (uint64_t)sl_clock_mono_ms() - l->connect_started_ms >= rs->timeout_ms) {
		sl_log_warn("redis_connect_failed", SL_KV(conn, l->name), SL_KV(addr, rs->url.addr),
			    SL_KV(error, "connect timed out"));
		redisAsyncContext *ac = l->ac;
		l->ac = NULL;
		redisAsyncFree(ac);
		schedule_retry(l);
		return;
	}
	if (!rs->lk_head || (uint64_t)sl_clock_mono_ms() < rs->lk_head->deadline || !rs->cmd.ac)
		return;
	sl_log_warn("redis_timeout", SL_KV(conn, rs->cmd.name), SL_KV(timeout_ms, rs->timeout_ms));
	/* Pending lookups get a NULL reply (SL_EUNAVAIL); disconnect_cb retries. */
	redisAsyncFree(rs->cmd.ac);
}

static void handle_closed_cb(uv_handle_t *h)
{
	sl_rsub_t *rs = h->data;
	rs->open_handles--;
	maybe_done(rs);
}

static void link_init(sl_rsub_t *rs, link_t *l, const char *name)
{
	l->rs = rs;
	l->name = name;
	uv_timer_init(rs->loop, &l->retry);
	l->retry.data = rs;
	rs->open_handles++;
}

sl_rsub_t *sl_rsub_new(uv_loop_t *loop, const char *url, uint64_t timeout_ms, const sl_rsub_cbs_t *cbs, void *arg,
		       sl_err_t *err)
{
	sl_rsub_t *rs = sl_xcalloc(1, sizeof(*rs));
	if (sl_redis_url_parse(url, &rs->url, err) < 0) {
		free(rs);
		return NULL;
	}
	rs->loop = loop;
	rs->timeout_ms = timeout_ms ? timeout_ms : 2000;
	rs->cbs = *cbs;
	rs->arg = arg;
	/* Resolve once (before the loop runs, so blocking is harmless). */
	uv_getaddrinfo_t gai;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	char port[16];
	snprintf(port, sizeof(port), "%d", rs->url.port);
	int grc = uv_getaddrinfo(loop, &gai, NULL, rs->url.host, port, &hints);
	if (grc < 0 || !gai.addrinfo) {
		sl_err_set(err, SL_EINVAL, false, "redis-url: cannot resolve %s: %s", rs->url.host, uv_strerror(grc));
		free(rs);
		return NULL;
	}
	struct sockaddr_storage ss = {0};
	memcpy(&ss, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
	uv_freeaddrinfo(gai.addrinfo);
	link_init(rs, &rs->cmd, "commands");
	uv_timer_init(loop, &rs->tick);
	rs->tick.data = rs;
	rs->open_handles++;
	uint64_t every = rs->timeout_ms / 4 ? rs->timeout_ms / 4 : 1;
	uv_timer_start(&rs->tick, fail_oldest_cb, every, every);
	rs->ps = sl_rsub__psub_new(loop, &ss, rs->url.user, rs->url.password, rs->timeout_ms, cbs, arg);
	rs->open_handles++; /* the pub/sub connection, until it is closed */
	link_connect(&rs->cmd);
	return rs;
}

bool sl_rsub_ready(const sl_rsub_t *rs)
{
	return sl_rsub__psub_connected(rs->ps) && rs->cmd.connected;
}

int sl_rsub_subscribe(sl_rsub_t *rs, const char *channel, size_t len)
{
	return rs->closing ? SL_EUNAVAIL : sl_rsub__psub_send(rs->ps, "SUBSCRIBE", channel, len);
}

int sl_rsub_unsubscribe(sl_rsub_t *rs, const char *channel, size_t len)
{
	return rs->closing ? SL_EUNAVAIL : sl_rsub__psub_send(rs->ps, "UNSUBSCRIBE", channel, len);
}

static void lookup_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	sl_rsub_t *rs = ((link_t *)ac->data)->rs;
	lookup_t *lk = privdata;
	redisReply *reply = r;
	if (lk->prev)
		lk->prev->next = lk->next;
	else
		rs->lk_head = lk->next;
	if (lk->next)
		lk->next->prev = lk->prev;
	else
		rs->lk_tail = lk->prev;
	int fail = !reply ? (rs->closing ? SL_ECLOSED : SL_EUNAVAIL) : 0;
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
	if (!rs->cmd.connected || rs->closing)
		return SL_EUNAVAIL;
	lookup_t *lk = sl_xcalloc(1, sizeof(*lk));
	lk->cb = cb;
	lk->members_cb = members_cb;
	lk->arg = arg;
	lk->deadline = (uint64_t)sl_clock_mono_ms() + rs->timeout_ms;
	if (redisAsyncCommand(rs->cmd.ac, lookup_cb, lk, "%s %s", verb, key) != REDIS_OK) {
		free(lk);
		return SL_EUNAVAIL;
	}
	lk->prev = rs->lk_tail;
	if (rs->lk_tail)
		rs->lk_tail->next = lk;
	else
		rs->lk_head = lk;
	rs->lk_tail = lk;
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

static void psub_closed_cb(void *arg)
{
	sl_rsub_t *rs = arg;
	rs->open_handles--;
	maybe_done(rs);
}

void sl_rsub_close(sl_rsub_t *rs, void (*done)(void *arg), void *arg)
{
	rs->closing = true;
	rs->done = done;
	rs->done_arg = arg;
	uv_close((uv_handle_t *)&rs->cmd.retry, handle_closed_cb);
	uv_close((uv_handle_t *)&rs->tick, handle_closed_cb);
	sl_rsub__psub_close(rs->ps, psub_closed_cb, rs);
	/* Freeing fires pending callbacks with NULL and then disconnect_cb. */
	if (rs->cmd.ac) {
		redisAsyncContext *ac = rs->cmd.ac;
		rs->cmd.ac = NULL;
		redisAsyncFree(ac);
	}
	rs->cmd.connected = false;
}

void sl_rsub_free(sl_rsub_t *rs)
{
	if (!rs)
		return;
	sl_rsub__psub_free(rs->ps);
	free(rs);
}
