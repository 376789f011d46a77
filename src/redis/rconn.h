/* rconn.h: the one Redis connection of sluice: asynchronous on a libuv
 * loop, reconnecting by itself, in one of two modes.
 *
 * How it fits: every link to Redis is one of these. Command mode (the
 * api's, the reducer's, the publisher's lookups): commands are pipelined,
 * all those queued in a loop turn go out together, and replies come back
 * in order through their callbacks as hiredis redisReply objects. Pub/sub
 * mode (the publisher's subscriptions): SUBSCRIBE / UNSUBSCRIBE one channel
 * at a time, and every message arrives as a borrowed view into the read
 * buffer (redis/resp.h), with no allocation per message.
 * One life cycle for both: ask the resolver where to connect (by default
 * the URL's host and port; the Sentinels when redis/sentinel.h opened it,
 * asked again before every attempt), resolve the name off the loop
 * (uv_getaddrinfo),
 * connect, then AUTH (user and password from the URL), SELECT (command
 * mode) and PING; the connection is up once the PING is answered, and only
 * then is on_state(true) told. When it drops (error, EOF, a reply or PING
 * not answered in time, a connect that takes too long), waiting commands
 * get a NULL reply, in order, then on_state(false), and it retries with
 * backoff, 100 ms doubling to 2 s. While it is not up, calls fail at once
 * with SL_EUNAVAIL and their callbacks never fire: a pub/sub user
 * subscribes again on on_state(true).
 * Time bounds: connecting (resolve + connect + handshake) 3 s; a command
 * reply (the oldest waiting) 5 s; in pub/sub mode a PING after 5 s of
 * silence must be answered within the reply bound. A hung Redis is
 * dropped and retried. URL: redis/url.h. Logs: redis_connected,
 * redis_connect_failed (warn once, then debug per attempt),
 * redis_disconnected, redis_timeout, redis_handshake_failed, redis_error,
 * redis_protocol_error, redis_closed, each with conn= (the name) and addr=.
 * Thread: one loop; no global state, so every publisher loop has its own.
 * References: Redis protocol spec (RESP2), Redis pub/sub docs, hiredis
 * read.h (the reply reader) and hiredis.h (command formatting).
 * Non-goals: Redis Cluster redirections, RESP3, pattern subscriptions,
 * SUBSCRIBE in command mode (hiredis' per-channel callback state drifted
 * around reconnects; pub/sub mode matches confirmations by name).
 */
#ifndef SL_REDIS_RCONN_H
#define SL_REDIS_RCONN_H

#include "core/err.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sl_rconn sl_rconn_t;

/* reply is NULL when the command failed because the connection dropped
 * or closed; it is borrowed for the call only. */
typedef void (*sl_rconn_reply_cb)(sl_rconn_t *rc, redisReply *reply, void *arg);
typedef void (*sl_rconn_state_cb)(sl_rconn_t *rc, bool connected, void *arg);

/* Pub/sub mode: views are borrowed for the call. */
typedef struct sl_rconn_sub_cbs {
	void (*on_message)(void *arg, const char *channel, size_t chlen, const char *payload, size_t len);
	void (*on_subscribed)(void *arg, const char *channel, size_t chlen);
	void (*on_unsubscribed)(void *arg, const char *channel, size_t chlen);
} sl_rconn_sub_cbs_t;

/* Redis behind Sentinel: sentinels "host:port[,host:port...]" (NULL or
 * empty: none, the URL's address is used) and the master's name. The URL
 * then gives only the password and the db (redis/sentinel.h). */
typedef struct sl_redis_ha {
	const char *sentinels;
	const char *master_name;
} sl_redis_ha_t;

/* Where to connect, asked before every attempt: answer with
 * sl_rconn_resolved, exactly once, now or later on the loop. */
typedef void (*sl_rconn_resolve_cb)(sl_rconn_t *rc, void *arg);

typedef struct sl_rconn_opts {
	const char *name;                  /* in logs: "reducer", "pubsub" */
	const sl_rconn_sub_cbs_t *sub;     /* set: pub/sub mode (copied) */
	void *sub_arg;
	uint64_t connect_timeout_ms;       /* 0: 3000 */
	uint64_t reply_timeout_ms;         /* 0: 5000 */
	sl_rconn_resolve_cb resolve;       /* NULL: the URL's host and port */
	void *resolve_arg;
	/* A companion living and dying with the connection (the Sentinel
	 * client of redis/sentinel.h): on_close when it is closed (done then
	 * also waits for what the companion holds, see rconn_int.h), on_free
	 * when it is freed. */
	void (*on_close)(void *arg);
	void (*on_free)(void *arg);
	void *hook_arg;
} sl_rconn_opts_t;

/* Connects in the background. NULL with err filled on a bad URL. */
sl_rconn_t *sl_rconn_open(uv_loop_t *loop, const char *url, const sl_rconn_opts_t *opts, sl_err_t *err);
/* A command-mode connection with the default bounds. */
sl_rconn_t *sl_rconn_new(uv_loop_t *loop, const char *url, const char *name, sl_err_t *err);
/* The resolver's answer: host (a name or an address) and port, or NULL
 * when it does not know (the attempt fails and is retried with backoff). */
void sl_rconn_resolved(sl_rconn_t *rc, const char *host, int port);
/* The host and port of the URL (what a resolver starts from). */
const char *sl_rconn_url_host(const sl_rconn_t *rc);
int sl_rconn_url_port(const sl_rconn_t *rc);

void sl_rconn_on_state(sl_rconn_t *rc, sl_rconn_state_cb cb, void *arg);
bool sl_rconn_connected(const sl_rconn_t *rc);

/* Command mode. printf-like hiredis format (%s, %b with pointer+length).
 * 0, SL_EUNAVAIL (not up: cb will not fire) or SL_EINVAL (bad format). */
int sl_rconn_command(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, const char *fmt, ...);
int sl_rconn_commandargv(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, int argc, const char **argv,
			 const size_t *argvlen);
/* Commands sent and not yet answered. */
size_t sl_rconn_pending(const sl_rconn_t *rc);

/* Pub/sub mode: SUBSCRIBE / UNSUBSCRIBE one channel. 0 sent, SL_EUNAVAIL
 * when not up. Confirmations come through on_subscribed / on_unsubscribed. */
int sl_rconn_subscribe(sl_rconn_t *rc, const char *channel, size_t len);
int sl_rconn_unsubscribe(sl_rconn_t *rc, const char *channel, size_t len);

/* Drop the connection now (logged as ev, default redis_disconnected, with
 * why) and connect again through the resolver after the backoff: the
 * primary moved. Nothing when closing. */
void sl_rconn_reconnect(sl_rconn_t *rc, const char *ev, const char *why);

/* Reply (and PING) bound and connect bound; 0 keeps the current value. */
void sl_rconn_set_timeouts(sl_rconn_t *rc, uint64_t reply_ms, uint64_t connect_ms);
/* Disconnect (waiting commands get NULL), stop retrying; done fires once
 * every handle is closed, then sl_rconn_free. */
void sl_rconn_close(sl_rconn_t *rc, void (*done)(void *arg), void *arg);
void sl_rconn_free(sl_rconn_t *rc);

#endif
