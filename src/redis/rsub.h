/* rsub.h: the publisher's Redis side: one pub/sub connection carrying every
 * channel subscription of a loop, plus one command connection for the
 * channel lookups (EXISTS of the record, SMEMBERS of its markets), both
 * redis/rconn.h connections, reconnecting by themselves.
 *
 * How it fits: each publisher loop keeps the table of its channels and
 * their clients (publisher_route.h); this module only speaks Redis. Each
 * Redis channel is subscribed once per loop however many clients share it.
 * Messages arrive in Redis order through on_message, a borrowed view into
 * the read buffer valid for the call only (no allocation per message).
 * When the pub/sub connection drops (Redis restarted, network, a PING not
 * answered in time), on_state(false) fires; it reconnects with backoff
 * (100 ms doubling to 2 s) and fires on_state(true), and the publisher
 * subscribes its channels again. Lookups, connects and the pub/sub PING
 * are bounded by timeout_ms, so a hung Redis cannot hold a client's
 * handshake forever. URL: redis/url.h (AUTH on both, SELECT on commands).
 * Thread: one loop; each loop has its own.
 * Non-goals: Redis Cluster sharded pub/sub (SPEC "later"), RESP3 push.
 */
#ifndef SL_REDIS_RSUB_H
#define SL_REDIS_RSUB_H

#include "core/buf.h"
#include "core/err.h"
#include "redis/rconn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sl_rsub sl_rsub_t;

typedef struct sl_rsub_cbs {
	/* A message published on a subscribed channel. */
	void (*on_message)(void *arg, const char *channel, size_t chlen, const char *payload, size_t len);
	/* Redis confirmed a SUBSCRIBE. */
	void (*on_subscribed)(void *arg, const char *channel, size_t chlen);
	/* Redis confirmed an UNSUBSCRIBE (the channel may be subscribed again now). */
	void (*on_unsubscribed)(void *arg, const char *channel, size_t chlen);
	/* The pub/sub connection came up (subscribe everything again) or went down. */
	void (*on_state)(void *arg, bool connected);
} sl_rsub_cbs_t;

/* Connects in the background (through the Sentinels when ha names some;
 * NULL: the URL's address). NULL with err filled on a bad URL or list. */
sl_rsub_t *sl_rsub_new(uv_loop_t *loop, const char *url, const sl_redis_ha_t *ha, uint64_t timeout_ms,
		       const sl_rsub_cbs_t *cbs, void *arg, sl_err_t *err);
/* Both connections are up. */
bool sl_rsub_ready(const sl_rsub_t *rs);
/* SUBSCRIBE / UNSUBSCRIBE one channel. 0 sent, SL_EUNAVAIL when not connected
 * (on_state(true) will come: subscribe then). */
int sl_rsub_subscribe(sl_rsub_t *rs, const char *channel, size_t len);
int sl_rsub_unsubscribe(sl_rsub_t *rs, const char *channel, size_t len);

/* EXISTS key: cb gets 1 or 0, or a negative SL_E* (unavailable, timed out).
 * Returns 0 (cb will fire exactly once) or SL_EUNAVAIL (cb will not fire). */
typedef void (*sl_rsub_exists_cb)(void *arg, int result);
int sl_rsub_exists(sl_rsub_t *rs, const char *key, sl_rsub_exists_cb cb, void *arg);

/* SMEMBERS key: cb gets 0 and the members (borrowed for the call), or a
 * negative SL_E* with none. Same firing rules as sl_rsub_exists. */
typedef void (*sl_rsub_members_cb)(void *arg, int result, const sl_iov_t *members, size_t n);
int sl_rsub_smembers(sl_rsub_t *rs, const char *key, sl_rsub_members_cb cb, void *arg);

/* A command on the lookup connection whose answer nobody needs (the
 * publisher pushing a held channel's expiry forward); pipelined. 0 sent,
 * SL_EUNAVAIL not. */
int sl_rsub_send(sl_rsub_t *rs, int argc, const char **argv);

/* Disconnect both (pending lookups get SL_ECLOSED), stop retrying; done fires
 * when every handle is closed, then sl_rsub_free. */
void sl_rsub_close(sl_rsub_t *rs, void (*done)(void *arg), void *arg);
void sl_rsub_free(sl_rsub_t *rs);

#endif
