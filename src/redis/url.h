/* url.h: the one parser of Redis URLs (--redis-url, SLUICE_REDIS_URL).
 *
 *   redis://[[user]:password@]host[:port][/db]      host may be [IPv6]
 *
 * How it fits: every Redis connection of every role (redis/rconn.h, the
 * publisher's redis/rsub.h) parses its URL here, so one URL means the same
 * thing everywhere: port 6379 and database 0 unless given, a database
 * number 0..SL_REDIS_URL_DB_MAX; userinfo "user:password", ":password" or
 * a bare "password" (AUTH user password, or AUTH password without a user). Bad input is one error naming
 * the URL's part that is wrong, never the password. `addr` ("host:port")
 * is what logs and errors show: the URL itself may hold a secret.
 * Pure: no allocation, no I/O; tests/unit/test_rconn.c has its table.
 * References: the redis URI scheme (IANA provisional registration).
 * Non-goals: rediss:// (TLS), unix sockets, percent-decoding (a password
 * with '@' is cut at the last '@' as before), query parameters.
 */
#ifndef SL_REDIS_URL_H
#define SL_REDIS_URL_H

#include "core/err.h"

#define SL_REDIS_URL_DB_MAX 1000000

typedef struct sl_redis_url {
	char host[256];
	int port;
	int db;
	char user[128];     /* "" when none */
	char password[256]; /* "" when none */
	char addr[272];     /* host:port ([host]:port for IPv6), safe to log */
} sl_redis_url_t;

/* 0, or SL_EINVAL with err saying what is wrong (the password never
 * appears in it). */
int sl_redis_url_parse(const char *url, sl_redis_url_t *out, sl_err_t *err);

#endif
