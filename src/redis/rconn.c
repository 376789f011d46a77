/* rconn.c: one asynchronous, self-reconnecting Redis connection (see rconn.h).
 *
 * How it fits: wraps a hiredis redisAsyncContext attached to the caller's
 * libuv loop through hiredis' own libuv adapter, so nothing here ever
 * blocks. Each command gets a small wrapper (callback, argument, time sent)
 * kept on a FIFO list: Redis answers in order, so the head is always the
 * oldest command waiting, and one repeating timer checks it against the
 * reply timeout. Subscriptions (SUBSCRIBE/PSUBSCRIBE) keep their wrapper on a
 * second list because hiredis calls them once per message until the
 * matching unsubscribe reply (or the disconnect) arrives.
 * Connecting: redisAsyncConnect, then AUTH and SELECT (from the URL) and a
 * PING; the connection counts as up once the PING is answered, and only
 * then is the state callback told. Down: every waiting command gets a NULL
 * reply (hiredis does that while freeing the context) and a retry is
 * scheduled with backoff 100 ms doubling to 2 s.
 * References: hiredis 0.14 async.h (callback and subscribe semantics),
 * hiredis adapters/libuv.h.
 * Non-goals: Redis Cluster redirections, RESP3, Sentinel.
 */
#include "redis/rconn.h"
#include "redis/url.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define CHECK_EVERY_MS 100

typedef struct cmd {
	sl_rconn_t *rc;
	sl_rconn_reply_cb cb;
	void *arg;
	int64_t sent_ms;
	bool sub;
	struct cmd *prev, *next;
} cmd_t;

typedef struct cmd_list {
	cmd_t *head, *tail;
	size_t n;
} cmd_list_t;

struct sl_rconn {
	uv_loop_t *loop;
	char *name;
	sl_redis_url_t url;
	redisAsyncContext *ac;
	bool connected;   /* PING after connect answered */
	bool closing;
	int64_t connect_started_ms;
	uint64_t backoff_ms;
	int64_t retry_at_ms;   /* 0: no retry scheduled */
	uint64_t reply_timeout_ms;
	uint64_t connect_timeout_ms;
	unsigned failures;     /* consecutive failed attempts, for log folding */
	uv_timer_t timer;
	cmd_list_t pending;    /* regular commands in the order sent */
	cmd_list_t subs;       /* subscriptions, alive until unsubscribed */
	sl_rconn_state_cb state_cb;
	void *state_arg;
	void (*done)(void *arg);
	void *done_arg;
};

static void list_push(cmd_list_t *l, cmd_t *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void list_unlink(cmd_list_t *l, cmd_t *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	l->n--;
}

static void start_connect(sl_rconn_t *rc);

static void schedule_retry(sl_rconn_t *rc)
{
	if (rc->closing)
		return;
	rc->retry_at_ms = sl_clock_mono_ms() + (int64_t)rc->backoff_ms;
	rc->backoff_ms = rc->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : rc->backoff_ms * 2;
}

static void set_down(sl_rconn_t *rc, const char *reason)
{
	bool was = rc->connected;
	rc->connected = false;
	rc->ac = NULL;
	if (was && rc->closing) {
		sl_log_info("redis_closed", SL_KV(conn, rc->name));
	} else if (was) {
		sl_log_warn("redis_disconnected", SL_KV(conn, rc->name), SL_KV(addr, rc->url.addr), SL_KV(error, reason));
	} else if (!rc->closing) {
		if (rc->failures++ == 0)
			sl_log_warn("redis_connect_failed", SL_KV(conn, rc->name), SL_KV(addr, rc->url.addr),
				    SL_KV(error, reason));
		else
			sl_log_debug("redis_connect_failed", SL_KV(conn, rc->name), SL_KV(attempt, rc->failures),
				     SL_KV(error, reason));
	}
	/* Subscriptions hiredis replaced (a channel subscribed twice) never get
	 * their NULL reply; they die with the context. */
	while (rc->subs.head) {
		cmd_t *c = rc->subs.head;
		list_unlink(&rc->subs, c);
		free(c);
	}
	schedule_retry(rc);
	if (was && rc->state_cb)
		rc->state_cb(rc, false, rc->state_arg);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
	sl_rconn_t *rc = ac->data;
	if (!rc || rc->ac != ac)
		return;
	set_down(rc, status == REDIS_OK ? "closed" : (ac->errstr ? ac->errstr : "error"));
}

static void hello_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	redisReply *reply = r;
	const char *what = privdata;
	sl_rconn_t *rc = ac->data;
	if (!reply || !rc || rc->ac != ac)
		return; /* the context is going away; disconnect_cb reports it */
	if (reply->type == REDIS_REPLY_ERROR) {
		sl_log_error("redis_handshake_failed", SL_KV(conn, rc->name), SL_KV(step, what),
			     SL_KVN(error, reply->str, reply->len));
		redisAsyncDisconnect(ac);
		return;
	}
	if (strcmp(what, "PING") != 0)
		return;
	rc->connected = true;
	rc->backoff_ms = BACKOFF_MIN_MS;
	sl_log_info("redis_connected", SL_KV(conn, rc->name), SL_KV(addr, rc->url.addr), SL_KV(db, rc->url.db),
		    SL_KV(after_failures, rc->failures));
	rc->failures = 0;
	if (rc->state_cb)
		rc->state_cb(rc, true, rc->state_arg);
}

static void connect_cb(const redisAsyncContext *cac, int status)
{
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	sl_rconn_t *rc = ac->data;
	if (!rc || rc->ac != ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context itself after this callback. */
		set_down(rc, ac->errstr ? ac->errstr : "connect failed");
		return;
	}
	if (rc->url.user[0])
		redisAsyncCommand(ac, hello_cb, "AUTH", "AUTH %s %s", rc->url.user, rc->url.password);
	else if (rc->url.password[0])
		redisAsyncCommand(ac, hello_cb, "AUTH", "AUTH %s", rc->url.password);
	if (rc->url.db)
		redisAsyncCommand(ac, hello_cb, "SELECT", "SELECT %d", rc->url.db);
	redisAsyncCommand(ac, hello_cb, "PING", "PING");
}

static void start_connect(sl_rconn_t *rc)
{
	rc->retry_at_ms = 0;
	redisAsyncContext *ac = redisAsyncConnect(rc->url.host, rc->url.port);
	if (!ac) {
		set_down(rc, "out of memory");
		return;
	}
	if (ac->err) {
		char reason[128];
		snprintf(reason, sizeof(reason), "%s", ac->errstr);
		redisAsyncFree(ac);
		set_down(rc, reason);
		return;
	}
	ac->data = rc;
	if (redisLibuvAttach(ac, rc->loop) != REDIS_OK) {
		redisAsyncFree(ac);
		set_down(rc, "cannot attach to the loop");
		return;
	}
	rc->ac = ac;
	rc->connect_started_ms = sl_clock_mono_ms();
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
}

/* Drop the connection now: waiting commands get NULL, a retry follows. */
static void drop(sl_rconn_t *rc, const char *reason)
{
	redisAsyncContext *ac = rc->ac;
	if (!ac)
		return;
	/* Detach first so the disconnect callback does not report twice;
	 * waiting commands still get their NULL reply through reply_cb. */
	rc->ac = NULL;
	ac->data = NULL;
	redisAsyncFree(ac);
	set_down(rc, reason);
}

static void timer_cb(uv_timer_t *t)
{
	sl_rconn_t *rc = t->data;
	int64_t now = sl_clock_mono_ms();
	if (rc->ac && !rc->connected && now - rc->connect_started_ms > (int64_t)rc->connect_timeout_ms) {
		drop(rc, "connect timed out");
		return;
	}
	if (rc->ac && rc->pending.head && now - rc->pending.head->sent_ms > (int64_t)rc->reply_timeout_ms) {
		sl_log_warn("redis_reply_timeout", SL_KV(conn, rc->name), SL_KV(waiting, rc->pending.n),
			    SL_KV(timeout_ms, rc->reply_timeout_ms));
		drop(rc, "reply timed out");
		return;
	}
	if (!rc->ac && rc->retry_at_ms && now >= rc->retry_at_ms)
		start_connect(rc);
}

static void reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	(void)ac;
	cmd_t *c = privdata;
	sl_rconn_t *rc = c->rc;
	redisReply *reply = r;
	if (!c->sub) {
		list_unlink(&rc->pending, c);
		if (c->cb)
			c->cb(rc, reply, c->arg);
		free(c);
		return;
	}
	/* A subscription: called per message; ends with its unsubscribe reply
	 * or with NULL when the connection goes. */
	bool last = !reply;
	if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
	    reply->element[0]->type == REDIS_REPLY_STRING) {
		const char *kind = reply->element[0]->str;
		if (!strcasecmp(kind, "unsubscribe") || !strcasecmp(kind, "punsubscribe"))
			last = true;
	}
	if (c->cb)
		c->cb(rc, reply, c->arg);
	if (last) {
		list_unlink(&rc->subs, c);
		free(c);
	}
}

static bool is_cmd(const char *name, size_t len, const char *lit)
{
	return strlen(lit) == len && !strncasecmp(name, lit, len);
}

/* Send one formatted command (RESP bytes) whose first argument is name. */
static int send_formatted(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, const char *name, size_t namelen,
			  const char *bytes, size_t len)
{
	if (!rc->ac || !rc->connected || rc->closing)
		return SL_EUNAVAIL;
	if (is_cmd(name, namelen, "unsubscribe") || is_cmd(name, namelen, "punsubscribe")) {
		/* hiredis gives (P)UNSUBSCRIBE no callback of its own: the reply
		 * goes to the subscription's callback, which then ends. */
		return redisAsyncFormattedCommand(rc->ac, NULL, NULL, bytes, len) == REDIS_OK ? 0 : SL_EUNAVAIL;
	}
	cmd_t *c = sl_xcalloc(1, sizeof(*c));
	c->rc = rc;
	c->cb = cb;
	c->arg = arg;
	c->sent_ms = sl_clock_mono_ms();
	c->sub = is_cmd(name, namelen, "subscribe") || is_cmd(name, namelen, "psubscribe");
	list_push(c->sub ? &rc->subs : &rc->pending, c);
	if (redisAsyncFormattedCommand(rc->ac, reply_cb, c, bytes, len) != REDIS_OK) {
		list_unlink(c->sub ? &rc->subs : &rc->pending, c);
		free(c);
		return SL_EUNAVAIL;
	}
	return 0;
}

/* The first argument of a RESP multi-bulk: "*N\r\n$L\r\nNAME\r\n". */
static void first_arg(const char *bytes, size_t len, const char **name, size_t *namelen)
{
	*name = "";
	*namelen = 0;
	const char *p = memchr(bytes, '$', len);
	if (!p)
		return;
	long n = strtol(p + 1, NULL, 10);
	const char *crlf = strstr(p, "\r\n");
	if (!crlf || n < 0 || (size_t)(crlf + 2 - bytes) + (size_t)n > len)
		return;
	*name = crlf + 2;
	*namelen = (size_t)n;
}

int sl_rconn_command(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, const char *fmt, ...)
{
	if (!rc->ac || !rc->connected || rc->closing)
		return SL_EUNAVAIL;
	va_list ap;
	va_start(ap, fmt);
	char *bytes = NULL;
	int len = redisvFormatCommand(&bytes, fmt, ap);
	va_end(ap);
	if (len < 0)
		return SL_EINVAL;
	const char *name;
	size_t namelen;
	first_arg(bytes, (size_t)len, &name, &namelen);
	int rv = send_formatted(rc, cb, arg, name, namelen, bytes, (size_t)len);
	free(bytes);
	return rv;
}

int sl_rconn_commandargv(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, int argc, const char **argv,
			 const size_t *argvlen)
{
	if (!rc->ac || !rc->connected || rc->closing)
		return SL_EUNAVAIL;
	if (argc < 1)
		return SL_EINVAL;
	char *bytes = NULL;
	int len = redisFormatCommandArgv(&bytes, argc, argv, argvlen);
	if (len < 0)
		return SL_EINVAL;
	size_t namelen = argvlen ? argvlen[0] : strlen(argv[0]);
	int rv = send_formatted(rc, cb, arg, argv[0], namelen, bytes, (size_t)len);
	free(bytes);
	return rv;
}

sl_rconn_t *sl_rconn_new(uv_loop_t *loop, const char *url, const char *name, sl_err_t *err)
{
	sl_rconn_t *rc = sl_xcalloc(1, sizeof(*rc));
	if (sl_redis_url_parse(url, &rc->url, err) < 0) {
		free(rc);
		return NULL;
	}
	rc->loop = loop;
	rc->name = sl_xstrdup(name ? name : "redis");
	rc->backoff_ms = BACKOFF_MIN_MS;
	rc->reply_timeout_ms = 5000;
	rc->connect_timeout_ms = 3000;
	uv_timer_init(loop, &rc->timer);
	rc->timer.data = rc;
	uv_timer_start(&rc->timer, timer_cb, CHECK_EVERY_MS, CHECK_EVERY_MS);
	start_connect(rc);
	return rc;
}

void sl_rconn_set_timeouts(sl_rconn_t *rc, uint64_t reply_ms, uint64_t connect_ms)
{
	if (reply_ms)
		rc->reply_timeout_ms = reply_ms;
	if (connect_ms)
		rc->connect_timeout_ms = connect_ms;
}

void sl_rconn_on_state(sl_rconn_t *rc, sl_rconn_state_cb cb, void *arg)
{
	rc->state_cb = cb;
	rc->state_arg = arg;
}

bool sl_rconn_connected(const sl_rconn_t *rc)
{
	return rc->connected && !rc->closing;
}

size_t sl_rconn_pending(const sl_rconn_t *rc)
{
	return rc->pending.n;
}

static void timer_close_cb(uv_handle_t *h)
{
	sl_rconn_t *rc = h->data;
	if (rc->done)
		rc->done(rc->done_arg);
}

void sl_rconn_close(sl_rconn_t *rc, void (*done)(void *arg), void *arg)
{
	if (rc->closing)
		return;
	rc->closing = true;
	rc->done = done;
	rc->done_arg = arg;
	rc->state_cb = NULL;
	if (rc->ac)
		drop(rc, "closing");
	uv_close((uv_handle_t *)&rc->timer, timer_close_cb);
}

void sl_rconn_free(sl_rconn_t *rc)
{
	if (!rc)
		return;
	free(rc->name);
	free(rc);
}
