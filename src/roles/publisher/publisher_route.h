/* publisher_route.h: one loop's routing table: which Redis channels it is
 * subscribed to, and which clients each message goes to.
 *
 * How it fits (docs/publisher.md, docs/redis.md): the reducers publish every
 * market update once, on `<prefix>market:<id>`; what is private to a
 * channel (snapshots, `closed`, and the API's `markets_changed`) comes on
 * `<prefix>stream:<id>`. Each publisher loop owns one table. A client that
 * opens channel C becomes a member of C here; the table then
 *   1. subscribes C's private channel,
 *   2. once Redis confirmed it, reads C's market set (SMEMBERS), so that a
 *      change published after the read cannot be missed (the API publishes
 *      `markets_changed` in the same step that changes the set),
 *   3. subscribes every market of C that this loop does not hear yet,
 *   4. and only when all of that is confirmed acknowledges the members with
 *      `{"type":"subscribed"}`: the client's `begin` comes after, so the
 *      reducers' snapshot is taken after the publisher already hears every
 *      market of the channel, and no update falls between the two.
 * A market update becomes one shared frame per loop, pushed to every
 * acknowledged member of every channel that watches the market. A market
 * or channel nobody here needs any more is unsubscribed (never while a
 * SUBSCRIBE or UNSUBSCRIBE of the same channel is in flight). When Redis
 * drops the connection everything falls back to "not subscribed"; on the
 * reconnect the table subscribes again, reads every market set again and
 * tells the members `"resumed":true` (they `begin` again).
 * The table does no I/O of its own: Redis commands and client pushes go
 * through sl_pub_route_ops_t, so tests drive it with fakes
 * (tests/unit/test_pub_route.c). One loop thread; not thread-safe.
 * Non-goals: the clients' sockets and queues (publisher_client.c), HTTP.
 */
#ifndef SL_ROLES_PUBLISHER_ROUTE_H
#define SL_ROLES_PUBLISHER_ROUTE_H

#include "core/buf.h"
#include "core/frame.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_pub_route sl_pub_route_t;
typedef struct sl_pub_chan sl_pub_chan_t;
typedef struct sl_pub_load sl_pub_load_t;

/* A client as the table sees it: embedded in the client, linked into its
 * channel's member list by sl_pub_route_join. */
typedef struct sl_pub_member {
	struct sl_pub_member *next, *prev;
	sl_pub_chan_t *chan;
	bool acked; /* got `subscribed`: updates flow to it */
} sl_pub_member_t;

typedef struct sl_pub_route_ops {
	/* SUBSCRIBE / UNSUBSCRIBE one Redis channel: 0 sent, < 0 not connected
	 * (sl_pub_route_redis_up will come; the table retries then). */
	int (*subscribe)(void *arg, const char *rkey, size_t len);
	int (*unsubscribe)(void *arg, const char *rkey, size_t len);
	/* SMEMBERS key; the answer goes to sl_pub_route_markets (exactly once
	 * when this returns 0). < 0: not sent, the sweep retries. */
	int (*load)(void *arg, const char *key, sl_pub_load_t *ld);
	/* Queue fr for one member. ctl: outside the queue limits (acks).
	 * Neither push nor close may make a member leave before they return
	 * (a socket that fails is closed later): the table is being walked. */
	void (*push)(void *arg, sl_pub_member_t *m, sl_frame_t *fr, bool ctl);
	/* The channel was closed (`closed` already pushed): end the member. */
	void (*close)(void *arg, sl_pub_member_t *m);
	/* A market update arrived (once per frame, before its fan-out); may be NULL. */
	void (*received)(void *arg, const sl_frame_t *fr);
} sl_pub_route_ops_t;

typedef struct sl_pub_route_stats {
	size_t chans, markets;       /* held (members, or a (un)subscribe in flight) */
	size_t chans_by_state[4];    /* none, pending, active, leaving */
	size_t chans_ready;          /* members acknowledged */
	uint64_t messages_in, unrouted, deliveries, resubscribes;
} sl_pub_route_stats_t;

sl_pub_route_t *sl_pub_route_new(const char *prefix, const sl_pub_route_ops_t *ops, void *arg);
/* Frees every channel and market; members must have left. */
void sl_pub_route_free(sl_pub_route_t *rt);

/* m joins channel id (a checked id): acked at once when the channel is ready. */
void sl_pub_route_join(sl_pub_route_t *rt, sl_pub_member_t *m, const char *id);
/* m leaves its channel (socket closed). */
void sl_pub_route_leave(sl_pub_route_t *rt, sl_pub_member_t *m);
const char *sl_pub_route_chan_id(const sl_pub_chan_t *ch);

/* From the pub/sub connection. */
void sl_pub_route_message(sl_pub_route_t *rt, const char *rkey, size_t rlen, const char *payload, size_t len);
void sl_pub_route_subscribed(sl_pub_route_t *rt, const char *rkey, size_t rlen);
void sl_pub_route_unsubscribed(sl_pub_route_t *rt, const char *rkey, size_t rlen);
void sl_pub_route_redis_state(sl_pub_route_t *rt, bool up);
/* The answer to ops->load: result 0 with the members, or < 0 (retried by
 * sl_pub_route_retry). Frees ld. */
void sl_pub_route_markets(sl_pub_route_t *rt, sl_pub_load_t *ld, int result, const sl_iov_t *markets, size_t n);
/* Send what failed to go out (loads refused while the lookup connection
 * was down); the loop calls it from its sweep. */
void sl_pub_route_retry(sl_pub_route_t *rt);

void sl_pub_route_stats(const sl_pub_route_t *rt, sl_pub_route_stats_t *st);
/* Call fn for every channel that has members here (the expiry refresh). */
void sl_pub_route_each_held(const sl_pub_route_t *rt, void (*fn)(void *arg, const char *id), void *arg);

#endif
