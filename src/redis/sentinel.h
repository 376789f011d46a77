/* sentinel.h: finding the Redis primary through Redis Sentinel, and
 * following it when it moves (a failover).
 *
 * How it fits: sl_sentinel_open opens a redis/rconn.h connection (from
 * --redis-sentinels and --redis-master-name) with a Sentinel client as its
 * resolver and companion (rconn's hooks: closed and freed with it; this
 * file calls rconn, rconn calls back only through function pointers).
 * Before every connect it
 * asks the Sentinels, in the order given, SENTINEL
 * get-master-addr-by-name <master> and connects to the answer; the first
 * Sentinel that answers with an address wins (a stable order, so two
 * Sentinels that disagree for a moment cannot make it flap). While the
 * connection is up it asks again every 500 ms; an answer that names
 * another address than the one connected to drops the connection
 * (redis_primary_moved) and it reconnects there. A SIGKILLed primary
 * drops the connection by itself; the poll covers a primary demoted while
 * it still answers (a manual failover, or an old primary that came back),
 * which would otherwise keep taking writes it must refuse (READONLY).
 * The Sentinel links are rconn command connections themselves (named
 * "sentinel" in logs), reconnecting by themselves, with a 1 s connect and
 * reply bound each.
 * Thread: the owner's loop. No global state.
 * References: the Redis Sentinel documentation ("Sentinel clients
 * implementation guidelines"), SENTINEL get-master-addr-by-name.
 * Non-goals: Sentinel AUTH, the +switch-master pub/sub event (the poll
 * finds a move within 500 ms of the Sentinels knowing it; a dead primary
 * is noticed at once by the connection itself), replicas for reads.
 */
#ifndef SL_REDIS_SENTINEL_H
#define SL_REDIS_SENTINEL_H

#include "core/err.h"

#include <stdbool.h>
#include <uv.h>

#include "redis/rconn.h"

/* The list "host:port[,host:port...]" (1 to 16, IPv6 as [addr]:port) and
 * the master name are well formed; else err names the bad setting. */
int sl_sentinel_check(const char *list, const char *master, sl_err_t *err);

/* A connection to the primary the Sentinels of ha name, following it (the
 * URL gives only the password and the db); without Sentinels in ha (NULL,
 * or an empty list) just sl_rconn_open. NULL with err filled on a bad URL,
 * list or name. Close and free it as any sl_rconn_t. */
sl_rconn_t *sl_sentinel_open(uv_loop_t *loop, const char *url, const sl_rconn_opts_t *opts, const sl_redis_ha_t *ha,
			     sl_err_t *err);

#endif
