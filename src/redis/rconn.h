/* rconn.h: one asynchronous Redis connection on a libuv loop (hiredis +
 * its libuv adapter), that reconnects by itself.
 *
 * How it fits: every role that speaks to Redis holds one or more of these
 * (the reducer a command connection, the publisher a command connection and
 * a pub/sub one). Commands are pipelined: each call queues the command and
 * hiredis writes everything queued in one write per loop turn. Replies come
 * back in order through the callback. While disconnected, commands fail at
 * once with SL_EUNAVAIL (their callback is not called); the connection
 * retries with backoff (100 ms doubling to 2 s) and reports each state change,
 * so a subscriber can resubscribe its channels. Every command has a reply
 * timeout (the connection is dropped and retried when Redis stops answering).
 * URL: redis://[:password@]host:port[/db] (AUTH and SELECT are sent on connect).
 * Non-goals: Redis Cluster routing, RESP3.
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

/* reply is NULL when the command failed because the connection dropped.
 * For SUBSCRIBE the callback fires for the confirmation and then for every
 * message (hiredis semantics); reply is borrowed for the call only. */
typedef void (*sl_rconn_reply_cb)(sl_rconn_t *rc, redisReply *reply, void *arg);
typedef void (*sl_rconn_state_cb)(sl_rconn_t *rc, bool connected, void *arg);

/* name appears in logs ("reducer-state"). Connects in the background. */
sl_rconn_t *sl_rconn_new(uv_loop_t *loop, const char *url, const char *name, sl_err_t *err);
void sl_rconn_on_state(sl_rconn_t *rc, sl_rconn_state_cb cb, void *arg);
bool sl_rconn_connected(const sl_rconn_t *rc);
/* printf-like hiredis format (%s, %b with pointer+length). 0 or SL_EUNAVAIL. */
int sl_rconn_command(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, const char *fmt, ...);
int sl_rconn_commandargv(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, int argc, const char **argv,
			 const size_t *argvlen);
/* Reply timeout (default 5000 ms) and connect timeout (default 3000 ms);
 * 0 keeps the current value. */
void sl_rconn_set_timeouts(sl_rconn_t *rc, uint64_t reply_ms, uint64_t connect_ms);
/* Commands sent and not yet answered. */
size_t sl_rconn_pending(const sl_rconn_t *rc);
/* Disconnect (pending callbacks get NULL), stop retrying; done fires once
 * every handle is closed, then sl_rconn_free. */
void sl_rconn_close(sl_rconn_t *rc, void (*done)(void *arg), void *arg);
void sl_rconn_free(sl_rconn_t *rc);

#endif
