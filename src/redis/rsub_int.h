/* rsub_int.h: internals of redis/rsub shared by its files: the RESP reply
 * parser and the pub/sub connection (rsub_resp.c).
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

/* One parsed RESP2 reply; arrays keep their first SL_RESP_MAX elements. */
#define SL_RESP_MAX 3
typedef struct sl_resp_item {
	char type;        /* '+', '-', ':', '$' (len < 0: null) */
	const char *str;  /* into the input buffer */
	long long len;    /* string length, or the integer */
} sl_resp_item_t;

typedef struct sl_resp {
	char type;        /* '*' for an array, else as an item */
	sl_resp_item_t item;           /* when not an array */
	sl_resp_item_t el[SL_RESP_MAX];
	long long n;      /* array length */
} sl_resp_t;

/* Parse one reply from p[0..len): returns bytes used, 0 when incomplete,
 * -1 on a protocol error (nested arrays are refused: pub/sub never sends them). */
long sl_rsub__resp_parse(const char *p, size_t len, sl_resp_t *out);

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
