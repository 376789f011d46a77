/* rconn_int.h: internals of redis/rconn shared by its two files:
 * rconn.c (the life cycle: resolve, connect, handshake, timeouts, backoff,
 * the socket and its buffers, logs) and rconn_read.c (what comes back:
 * command replies through hiredis' reader in FIFO order, pub/sub pushes
 * through redis/resp.h, and the handshake's replies in both modes).
 * Not an API: nothing outside src/redis/rconn*.c includes this.
 */
#ifndef SL_REDIS_RCONN_INT_H
#define SL_REDIS_RCONN_INT_H

#include "core/buf.h"
#include "proto/tls.h"
#include "redis/rconn.h"
#include "redis/url.h"

#include <stdint.h>

enum {
	SL_RC_IDLE = 0,  /* not connected; retry_at_ms says when to try */
	SL_RC_RESOLVING, /* asked the resolver, or uv_getaddrinfo runs */
	SL_RC_CONNECTING,
	SL_RC_HANDSHAKE, /* AUTH / SELECT / PING sent, replies awaited */
	SL_RC_UP,
};

/* A command waiting for its reply. */
typedef struct sl_rconn__cmd {
	struct sl_rconn__cmd *next;
	sl_rconn_reply_cb cb;
	void *arg;
	int64_t sent_ms;
} sl_rconn__cmd_t;

struct sl_rconn {
	uv_loop_t *loop;
	char *name;
	sl_redis_url_t url;
	char addr[280];            /* where the current attempt goes, for logs */
	bool pubsub;
	sl_rconn_sub_cbs_t sub;
	void *sub_arg;
	sl_rconn_resolve_cb resolve;
	void *resolve_arg;
	uint64_t connect_timeout_ms, reply_timeout_ms;

	int st;
	bool closing;
	uint64_t gen;              /* bumped by every drop: stale callbacks notice */
	bool awaiting_resolve;
	bool gai_busy;
	uv_getaddrinfo_t gai;
	uint64_t gai_gen;
	bool tcp_open;             /* initialised and not yet closed */
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_timer_t timer;          /* every 100 ms: bounds, keep-alive, retries */
	int64_t attempt_ms, retry_at_ms;
	uint64_t backoff_ms;
	unsigned failures;         /* attempts failed since the last success */
	int hs_left;               /* handshake replies still awaited */
	int hs_step;               /* index of the next one in hs_names */
	const char *hs_names[3];

	sl_tls_ctx_t *tls_ctx;     /* rediss://: the client context, else NULL */
	sl_tls_t *tls;             /* this attempt's TLS, freed with its socket */
	char tls_host[256];        /* what the certificate must name */
	sl_buf_t plain;            /* TLS: what one read decrypted */

	sl_buf_t out;              /* bytes waiting for the socket (plaintext) */
	bool writing;
	char *rbuf;                /* pub/sub: replies parsed in place */
	size_t rlen, rcap;
	redisReader *reader;       /* command mode */
	sl_rconn__cmd_t *head, *tail;
	size_t npending;
	int64_t last_rx_ms, ping_sent_ms;
	bool ping_out;

	sl_rconn_state_cb state_cb;
	void *state_arg;
	int open_handles;
	void (*done)(void *arg);
	void *done_arg;
	void (*on_close)(void *arg); /* the companion's hooks (rconn.h) */
	void (*on_free)(void *arg);
	void *hook_arg;
};

/* rconn.c, for a companion (redis/sentinel.c), which calls rconn.c and is
 * called back only through the hooks: hold the connection's done until
 * as many releases came (a handle of the companion closing). */
void sl_rconn__hold(sl_rconn_t *rc);
void sl_rconn__release(sl_rconn_t *rc);

/* rconn_read.c, called by rconn.c only (it never calls rconn.c back). */
/* What the bytes read ask of the connection. */
enum {
	SL_RC_RX_DONE = 0, /* all handled (or a callback dropped or closed it) */
	SL_RC_RX_UP,       /* the handshake is answered: go up, then call again
			    * with no new bytes for whatever followed */
	SL_RC_RX_DROP,     /* drop it: rx says why */
};
typedef struct sl_rconn__rx {
	const char *ev;    /* the event to log, NULL for the usual one */
	const char *why;
} sl_rconn__rx_t;
/* Bytes the socket read (for pub/sub, buf is rc->rbuf + rc->rlen); an
 * SL_RC_RX_* and, for SL_RC_RX_DROP, rx filled. */
int sl_rconn__received(sl_rconn_t *rc, const char *buf, size_t n, sl_rconn__rx_t *rx);
/* Every waiting command gets a NULL reply, in order. */
void sl_rconn__fail_pending(sl_rconn_t *rc);

#endif
