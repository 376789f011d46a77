/* publisher_int.h: the types shared by the files of `sluice publisher`.
 *
 * Read top to bottom, one update's way through the role:
 *   publisher.c         settings, N loop threads, signals, exit status
 *   publisher_loop.c    one loop thread: its HTTP server on the shared port
 *                       (SO_REUSEPORT), its own Redis connections, channel
 *                       lookups and upgrades, the ops endpoints
 *   publisher_route.c   the loop's routing table: Redis subscriptions of
 *                       markets and channels -> members (publisher_route.h)
 *   publisher_client.c  the clients: sockets taken over from HTTP, their
 *                       bounded queues (proto/conn.h), WebSocket reads,
 *                       pings, idle and slow-client rules
 *   publisher_auth.c    who may open a stream: stream tokens, Origin
 *   publisher_web.c     the dashboard's static files and /config.json
 * The process-wide sl_pub_t is read-only once the loops run, but for the
 * atomics it names; everything in sl_pub_loop_t belongs to its thread: its
 * frames, connections and metric shard are never touched by another loop.
 * Internal to this role only.
 */
#ifndef SL_ROLES_PUBLISHER_INT_H
#define SL_ROLES_PUBLISHER_INT_H

#include "auth/jwt.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "proto/conn.h"
#include "proto/http.h"
#include "proto/ws.h"
#include "redis/rsub.h"
#include "roles/publisher/publisher_route.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define SL_PUB_CHANNEL_ID_MAX 64
#define SL_PUB_MAX_LOOPS (SL_METRICS_SHARDS - 1)

typedef struct sl_pub sl_pub_t;
typedef struct sl_pub_loop sl_pub_loop_t;
typedef struct sl_pub_client sl_pub_client_t;
typedef struct sl_pub_web sl_pub_web_t;

/* The process: settings, and what the loops share. */
struct sl_pub {
	sl_cfg_t *cfg;
	const char *prefix, *redis_url;
	const char *redis_sentinels, *redis_master_name; /* Sentinel discovery (redis/sentinel.h) */
	uint64_t redis_timeout_ms;
	uint64_t ping_ms, idle_ms, slow_ms, close_grace_ms;
	size_t max_client_msg;
	double ping_rate;     /* client pings allowed per second, on average */
	int64_t ttl_ms;       /* a channel no stream holds this long expires (the API closes it) */
	uint32_t flush_every; /* pushes between two flushes within one Redis read */
	double flush_behind_ms; /* updates this old: flush once per turn (0: never) */
	const char *const *cors;
	size_t ncors;
	bool require_token;   /* --require-stream-token */
	sl_jwt_keys_t *jwt;   /* verifies stream tokens; read-only, shared by the loops */
	int64_t leeway_s;
	sl_pub_web_t *web;    /* read-only once loaded */
	sl_pub_loop_t **loops;
	unsigned nloops;
	int port;             /* the port every loop listens on */
	atomic_bool stopping;
	atomic_uint_fast64_t next_client_id;
	atomic_uint loops_done;   /* loops whose thread ended */
	atomic_size_t conns;      /* HTTP connections of all loops (--max-connections holds for the process) */
	sl_http_iplimit_t *ips;   /* connections per client address, all loops (NULL: no limit) */
	uv_async_t *done_async;   /* on the main loop: a loop thread ended */
};

/* One event loop on one thread, sharing nothing hot with the others. */
struct sl_pub_loop {
	sl_pub_t *pub;
	unsigned index;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t stop_async;
	sl_http_server_t *srv;
	sl_rsub_t *rs;
	sl_conn_ctx_t cctx;
	sl_pub_route_t *rt;
	uv_timer_t sweep;
	uint64_t sweep_ms, sweeps;
	uint64_t next_refresh_ms; /* when to push the held channels' expiry forward */
	sl_frame_t *ws_ping, *sse_ping;
	sl_pub_client_t *clients; /* all of this loop's clients */
	size_t nws, nsse;
	uint32_t pushed;          /* since the last flush */
	bool behind;              /* the last update read was older than flush_behind_ms */
	bool stopping;
	atomic_bool ready;        /* both Redis connections up (read by any loop's /readyz) */
	int loop_close_rc;
	struct {
		sl_metric_t *ws, *sse, *chans, *in, *queued, *maxq, *rejected, *resub, *unrouted, *received, *ready,
			*ping_floods, *deferred;
		sl_metric_t *refused[3]; /* stream requests refused: token, channel, origin */
		sl_metric_t *state[4];
		uint64_t in_seen, unrouted_seen, resub_seen;
	} m;
};

/* A WebSocket or SSE client. */
struct sl_pub_client {
	sl_conn_t conn;          /* first: the conn module hands it back */
	sl_pub_member_t member;  /* in its channel (publisher_route.h) */
	sl_pub_loop_t *lp;
	sl_pub_client_t *anext, *aprev; /* all clients of the loop */
	sl_ws_reader_t *rd;      /* only while a client frame is incomplete */
	uint64_t id;
	uint64_t last_rx_ms;
	uint64_t ping_ms;        /* the ping bucket's last refill */
	double ping_tokens;      /* pings the client may still send at once */
};

/* publisher_loop.c */
/* Set up loop index (server listening, Redis connecting); 0 or -1 with err. */
int sl_pub__loop_init(sl_pub_t *p, sl_pub_loop_t *lp, unsigned index, sl_err_t *err);
/* Run it on its own thread until it stops; then sl_pub__loop_free. */
int sl_pub__loop_start(sl_pub_loop_t *lp);
/* From any thread: begin a clean stop (close 1001, drain, close Redis). */
void sl_pub__loop_stop(sl_pub_loop_t *lp);
void sl_pub__loop_join(sl_pub_loop_t *lp);
void sl_pub__loop_free(sl_pub_loop_t *lp);

/* publisher_client.c */
void sl_pub__clients_init(sl_pub_loop_t *lp);
/* Close the sweep timer and the queue context (the loop then drains). */
void sl_pub__clients_close(sl_pub_loop_t *lp);
void sl_pub__clients_free(sl_pub_loop_t *lp);
/* A socket taken over from HTTP for channel id: queue head, join the channel. */
void sl_pub__client_open(sl_pub_loop_t *lp, sl_http_req_t *req, bool ws, const char *id, const char *sse_origin);
/* Close every client for shutdown (1001 going away). */
void sl_pub__clients_close_all(sl_pub_loop_t *lp);
/* Pings (spread over the interval), idle and slow clients, close deadlines. */
void sl_pub__clients_sweep(sl_pub_loop_t *lp, uint64_t now_ms);
/* Bring the message counters up to the routing table's (sweep, reconnects). */
void sl_pub__sync_counters(sl_pub_loop_t *lp, const sl_pub_route_stats_t *st);
extern const sl_pub_route_ops_t sl_pub__route_ops;

/* publisher_auth.c */
/* Load the stream-token settings (before the loops start). 0, or
 * SL_EINVAL with err (a bad key, or a token required with no key). */
int sl_pub__auth_init(sl_pub_t *p, const sl_cfg_t *cfg, sl_err_t *err);
void sl_pub__auth_free(sl_pub_t *p);
/* Once per stream request, before the upgrade: true when the request may
 * open channel chan; otherwise it was answered (401/403) and false. */
bool sl_pub__auth_check(sl_pub_loop_t *lp, sl_http_req_t *req, const char *chan);

/* The pure rules of publisher_auth.c, exposed for tests. */
typedef struct sl_pub_refusal {
	int status;       /* 0: allowed; 401 or 403 */
	const char *code; /* stable word: unauthorized, token_expired, channel_forbidden, ... */
} sl_pub_refusal_t;
/* True when a request with this Origin header (NULL: none) may open a
 * stream, given the n allowed origins (none configured: any). */
bool sl_pub_origin_allowed(const char *origin, const char *const *allowed, size_t n);
/* The verdict on token (len bytes; NULL: none) for channel chan at now_s;
 * why gets a sentence when refused. */
sl_pub_refusal_t sl_pub_stream_token_check(const sl_jwt_keys_t *keys, const char *token, size_t len, const char *chan,
					   int64_t now_s, int64_t leeway_s, char *why, size_t whylen);

/* publisher_web.c */
sl_pub_web_t *sl_pub__web_load(const char *root, const char *api_url, const char *const *metrics, size_t nmetrics);
/* True when req was a static file or /config.json (answered). */
bool sl_pub__web_serve(sl_pub_web_t *w, sl_http_req_t *req);
void sl_pub__web_free(sl_pub_web_t *w);

#endif
