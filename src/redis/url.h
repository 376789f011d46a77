/* url.h: the one parser of Redis URLs (--redis-url, SLUICE_REDIS_URL).
 *
 *   redis://[[user]:password@]host[:port][/db]      host may be [IPv6]
 *   rediss://...[?tls_ca=FILE][&tls_cert=FILE&tls_key=FILE]     TLS
 *
 * How it fits: every Redis connection of every role (redis/rconn.h, the
 * publisher's redis/rsub.h) parses its URL here, so one URL means the same
 * thing everywhere: port 6379 and database 0 unless given, a database
 * number 0..SL_REDIS_URL_DB_MAX; userinfo "user:password", ":password" or
 * a bare "password" (AUTH user password, or AUTH password without a user). Bad input is one error naming
 * the URL's part that is wrong, never the password. `addr` ("host:port")
 * is what logs and errors show: the URL itself may hold a secret.
 * rediss:// is TLS (redis/rconn.c through proto/tls.h): the server's
 * certificate is verified against tls_ca (a PEM file of CA certificates;
 * the system's CAs when none) and must name the host connected to;
 * tls_cert and tls_key (both or neither) are the client's certificate,
 * for a server with tls-auth-clients on. Those three are the only query
 * parameters, and only with rediss://.
 * Pure: no allocation, no I/O; tests/unit/test_redis_url.c has its table.
 * References: the redis URI scheme (IANA provisional registration);
 * rediss:// as redis-cli and client libraries read it.
 * Non-goals: unix sockets, percent-decoding (a password with '@' is cut
 * at the last '@' as before; a file name with '&' cannot be given).
 */
#ifndef SL_REDIS_URL_H
#define SL_REDIS_URL_H

#include "core/err.h"

#include <stdbool.h>

#define SL_REDIS_URL_DB_MAX 1000000

typedef struct sl_redis_url {
	char host[256];
	int port;
	int db;
	char user[128];     /* "" when none */
	char password[256]; /* "" when none */
	char addr[272];     /* host:port ([host]:port for IPv6), safe to log */
	bool tls;           /* rediss:// */
	char tls_ca[256], tls_cert[256], tls_key[256]; /* "" when not given */
} sl_redis_url_t;

/* 0, or SL_EINVAL with err saying what is wrong (the password never
 * appears in it). */
int sl_redis_url_parse(const char *url, sl_redis_url_t *out, sl_err_t *err);

#endif
