/* rsub_int.h: internals of redis/rsub shared by its files: the pub/sub
 * connection (rsub_resp.c; its replies are parsed by redis/resp.h).
 *
 * The pub/sub connection speaks RESP2 itself over a uv_tcp_t instead of
 * going through hiredis: messages are parsed in place from one read buffer
 * and handed over as borrowed views (no allocation per message), reads are
 * as large as the socket has, subscribe and unsubscribe confirmations are
 * matched by channel name with no client-side bookkeeping to get out of
 * step, and a PING (answered even in subscribe mode) detects a Redis that
 * stopped answering. Non-goals: RESP3, commands other than (UN)SUBSCRIBE,
 * PING and AUTH on this connection.
 */
#ifndef SL_REDIS_RSUB_INT_H
#define SL_REDIS_RSUB_INT_H

#include "redis/rsub.h"

#include <stdint.h>
#include <sys/socket.h>

typedef struct sl_psub sl_psub_t;

/* user and password: "" when none. */
sl_psub_t *sl_rsub__psub_new(uv_loop_t *loop, const struct sockaddr_storage *addr, const char *user, const char *password,
			     uint64_t timeout_ms, const sl_rsub_cbs_t *cbs, void *arg);
bool sl_rsub__psub_connected(const sl_psub_t *ps);
/* Queue "<verb> <channel>" (SUBSCRIBE or UNSUBSCRIBE). 0 or SL_EUNAVAIL. */
int sl_rsub__psub_send(sl_psub_t *ps, const char *verb, const char *channel, size_t len);
void sl_rsub__psub_close(sl_psub_t *ps, void (*done)(void *arg), void *arg);
void sl_rsub__psub_free(sl_psub_t *ps);

#endif
