/* publisher_int.h: the types shared by the files of `sluice publisher`.
 *
 * publisher.c: settings, HTTP routing, handshakes, channel lookups, lifecycle.
 * publisher_chan.c: the channel table, clients, fan-out, pings and timeouts.
 * publisher_web.c: the dashboard's static files and /config.json.
 * Everything runs on the one loop thread. Internal to this role only.
 */
#ifndef SL_ROLES_PUBLISHER_INT_H
#define SL_ROLES_PUBLISHER_INT_H

#include "core/buf.h"
#include "core/config.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "proto/conn.h"
#include "proto/http.h"
#include "proto/runtime.h"
#include "proto/ws.h"
#include "redis/rsub.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define PUB_CHANNEL_ID_MAX 64

typedef struct pub pub_t;
typedef struct chan chan_t;
typedef struct client client_t;
typedef struct web web_t;

enum { SUB_NONE = 0, SUB_PENDING, SUB_ACTIVE, SUB_LEAVING };

struct chan {
	char *rkey;           /* "<prefix>stream:<id>": the Redis channel */
	size_t rkey_len;
	const char *id;       /* points into rkey */
	client_t *clients;
	size_t nclients;
	sl_frame_t *ack;      /* {"type":"subscribed",...}, shared by its clients */
	uint8_t sub;          /* SUB_* */
	bool resumed;         /* resubscribing after a Redis reconnect */
	chan_t *hnext;
};

struct client {
	sl_conn_t conn;       /* first: the conn module hands it back */
	pub_t *pub;
	chan_t *ch;
	client_t *cnext, *cprev; /* in the channel */
	client_t *anext, *aprev; /* all clients */
	sl_ws_reader_t *rd;   /* only while a client frame is incomplete */
	uint64_t id;
	uint64_t last_rx_ms;
	bool acked;
};

struct pub {
	uv_loop_t *loop;
	sl_cfg_t *cfg;
	sl_runtime_t rt;
	sl_http_server_t *srv;
	sl_rsub_t *rs;
	sl_conn_ctx_t cctx;
	uv_timer_t sweep;
	web_t *web;
	const char *prefix;
	const char *const *cors;
	size_t ncors;
	/* channel table */
	chan_t **buckets;
	size_t nbuckets, nchans;
	client_t *clients;
	size_t nws, nsse;
	/* settings */
	uint64_t ping_ms, idle_ms, slow_ms, close_grace_ms, last_ping_ms;
	size_t max_client_msg;
	bool stopping;
	sl_frame_t *ws_ping, *sse_ping;
	/* metrics */
	sl_metric_t *m_ws, *m_sse, *m_chans, *m_in, *m_queued, *m_maxq, *m_rejected, *m_resub, *m_unrouted;
	sl_metric_t *m_state[4];
};

/* publisher_chan.c */
void pub_chan_setup(pub_t *p);
void pub_chan_teardown(pub_t *p);
/* Attach an upgraded client (conn initialised, head queued) to channel id. */
void pub_client_attach(pub_t *p, client_t *c, const char *id);
/* The socket of c is closing (hijack on_close). */
void pub_client_closed(void *ud);
/* Bytes from a WebSocket client (hijack on_read). */
void pub_ws_read(void *ud, const char *data, size_t len);
/* Bytes from an SSE client: ignored (hijack on_read). */
void pub_sse_read(void *ud, const char *data, size_t len);
/* Close every client for shutdown (1001 going away). */
void pub_close_all(pub_t *p);
extern const sl_rsub_cbs_t pub_rsub_cbs;

/* publisher_web.c */
web_t *pub_web_load(const char *root, const char *api_url, const char *const *metrics, size_t nmetrics);
/* True when req was a static file or /config.json (answered). */
bool pub_web_serve(web_t *w, sl_http_req_t *req);
void pub_web_free(web_t *w);

#endif
