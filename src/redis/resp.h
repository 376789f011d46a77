/* resp.h: the RESP2 reply parser of sluice's own Redis connection: pure,
 * zero-copy, one reply at a time.
 *
 * How it fits: redis/rconn.c parses what a pub/sub connection receives
 * with it (pushed `message`, `subscribe` and `unsubscribe` arrays, and the
 * simple replies of its handshake and keep-alive PING); the items point
 * into the caller's read buffer, so a message reaches the publisher with no
 * copy and no allocation. Bounded: a bulk string may be up to
 * SL_RESP_BULK_MAX bytes, an array up to SL_RESP_ARRAY_MAX items (the first
 * SL_RESP_MAX are kept), lengths have at most 18 digits, and nested arrays
 * are refused (pub/sub never sends them). Every proper prefix of a reply is
 * "incomplete", never an error (tests/unit/test_resp.c).
 * References: the Redis protocol specification (RESP2).
 * Non-goals: RESP3, nested arrays (command replies go through hiredis'
 * reader, rconn.c), writing commands.
 */
#ifndef SL_REDIS_RESP_H
#define SL_REDIS_RESP_H

#include <stddef.h>

#define SL_RESP_MAX 3
#define SL_RESP_ARRAY_MAX 1024
#define SL_RESP_BULK_MAX (64LL * 1024 * 1024)

/* One non-array reply or array item. */
typedef struct sl_resp_item {
	char type;        /* '+', '-', ':', '$' (a null bulk has len -1) */
	const char *str;  /* into the input buffer; NULL for ':' and a null bulk */
	long long len;    /* string length, or the integer */
} sl_resp_item_t;

typedef struct sl_resp {
	char type;                     /* '*' for an array, else as item */
	sl_resp_item_t item;           /* when not an array */
	sl_resp_item_t el[SL_RESP_MAX];/* an array's first items */
	long long n;                   /* an array's length (-1: null array) */
} sl_resp_t;

/* Parse one reply from p[0..len): the bytes it took, 0 when the reply is
 * incomplete, -1 on a protocol error (out has no meaning then). */
long sl_resp_parse(const char *p, size_t len, sl_resp_t *out);

#endif
