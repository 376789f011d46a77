/* publisher_loop.c: one event loop of `sluice publisher`, on its own thread.
 *
 * How it fits: publisher.c sets up N of these on the main thread (so loop 0
 * can learn the port the others join) and then runs each on a thread of its
 * own. A loop owns everything it touches: an HTTP server on the shared port
 * (SO_REUSEPORT: the kernel spreads new connections over the loops), its own
 * two Redis connections (redis/rsub.h: pub/sub, and lookups), its routing
 * table (publisher_route.h), its clients and their queues, its frames, and
 * its shard of every metric. Nothing hot is shared, so the loops scale with
 * the cores and no lock sits on the fan-out path. What a loop needs from the
 * others is only whether they are ready (/readyz answers for the process).
 * A stream request is checked (handshake, channel id, then Origin and
 * stream token in publisher_auth.c), the channel record
 * is looked up with EXISTS (404 before any upgrade when the API did not
 * create it), and the socket is handed to publisher_client.c.
 * Stop (from any thread, through an async handle): close every client with
 * 1001, stop the server, close Redis; the thread ends when the loop is empty.
 * References: RFC 6455, docs/protocol.md, docs/publisher.md.
 * Non-goals: moving clients between loops (a reconnect lands anywhere).
 */
#include "roles/publisher/publisher_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KIND_WS, KIND_SSE } kind_t;

/* A request waiting for its EXISTS answer. */
typedef struct lookup {
	sl_pub_loop_t *lp;
	sl_http_req_t *req; /* NULL when the client went away first */
	kind_t kind;
	char id[SL_PUB_CHANNEL_ID_MAX + 1];
} lookup_t;

static bool valid_id(sl_iov_t id)
{
	if (id.len == 0 || id.len > SL_PUB_CHANNEL_ID_MAX)
		return false;
	for (size_t i = 0; i < id.len; i++) {
		char ch = id.base[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return true;
}

static const char *allowed_origin(const sl_pub_t *p, sl_http_req_t *req)
{
	const char *origin = sl_http_req_header(req, "origin");
	if (!origin)
		return NULL;
	for (size_t i = 0; i < p->ncors; i++)
		if (!strcmp(p->cors[i], "*") || !strcmp(p->cors[i], origin))
			return origin;
	return NULL;
}

static void lookup_abort_cb(sl_http_req_t *req, void *arg)
{
	(void)req;
	lookup_t *lk = arg;
	lk->req = NULL;
}

static void lookup_done_cb(void *arg, int result)
{
	lookup_t *lk = arg;
	sl_pub_loop_t *lp = lk->lp;
	sl_http_req_t *req = lk->req;
	if (req) {
		sl_http_req_on_abort(req, NULL, NULL);
		if (result == 1 && !lp->stopping) {
			sl_pub__client_open(lp, req, lk->kind == KIND_WS, lk->id, allowed_origin(lp->pub, req));
		} else if (result == 1 || result == SL_ECLOSED) {
			sl_http_respond_error(req, 503, "shutting_down", "this publisher is shutting down");
		} else if (result == 0) {
			sl_metric_add(lp->m.rejected, 1);
			sl_http_respond_error(req, 404, "unknown_channel",
					      "channel %s does not exist (create it with POST /v1/channels)", lk->id);
		} else {
			sl_metric_add(lp->m.rejected, 1);
			sl_http_respond_error(req, 503, "redis_unavailable", "cannot look up channel %s: Redis did not answer",
					      lk->id);
		}
	}
	free(lk);
}

static void stream_request(sl_pub_loop_t *lp, sl_http_req_t *req, kind_t kind, sl_iov_t id)
{
	if (kind == KIND_WS) {
		sl_ws_reject_t rej;
		if (sl_ws_handshake_check(req, &rej) < 0) {
			sl_metric_add(lp->m.rejected, 1);
			if (rej.status == 426)
				sl_http_req_add_header(req, "Sec-WebSocket-Version: 13");
			sl_http_respond_error(req, rej.status, rej.code, "%s", rej.message);
			return;
		}
	} else {
		const char *code, *msg;
		int status = sl_sse_check(req, &code, &msg);
		if (status) {
			sl_metric_add(lp->m.rejected, 1);
			sl_http_respond_error(req, status, code, "%s", msg);
			return;
		}
	}
	if (!valid_id(id)) {
		sl_metric_add(lp->m.rejected, 1);
		sl_http_respond_error(req, 400, "bad_channel_id",
				      "a channel id is 1 to %d characters of letters, digits, '-' and '_'",
				      SL_PUB_CHANNEL_ID_MAX);
		return;
	}
	if (lp->stopping) {
		sl_http_respond_error(req, 503, "shutting_down", "this publisher is shutting down");
		return;
	}
	char chan[SL_PUB_CHANNEL_ID_MAX + 1];
	memcpy(chan, id.base, id.len);
	chan[id.len] = '\0';
	if (!sl_pub__auth_check(lp, req, chan))
		return;
	lookup_t *lk = sl_xcalloc(1, sizeof(*lk));
	lk->lp = lp;
	lk->req = req;
	lk->kind = kind;
	memcpy(lk->id, id.base, id.len);
	sl_buf_t key = SL_BUF_INIT;
	sl_buf_printf(&key, "%schannel:%s", lp->pub->prefix, lk->id);
	int rc = sl_rsub_exists(lp->rs, key.data, lookup_done_cb, lk);
	sl_buf_free(&key);
	if (rc < 0) {
		free(lk);
		sl_metric_add(lp->m.rejected, 1);
		sl_http_respond_error(req, 503, "redis_unavailable", "Redis is not reachable; try again");
		return;
	}
	sl_http_req_on_abort(req, lookup_abort_cb, lk);
}

/* The process is ready when every loop has both Redis connections. */
static bool ready_cb(void *arg, sl_buf_t *why)
{
	sl_pub_loop_t *lp = arg;
	sl_pub_t *p = lp->pub;
	if (atomic_load(&p->stopping)) {
		sl_buf_puts(why, "shutting down");
		return false;
	}
	for (unsigned i = 0; i < p->nloops; i++) {
		bool up = p->loops[i] == lp ? sl_rsub_ready(lp->rs) : atomic_load(&p->loops[i]->ready);
		if (!up) {
			sl_buf_printf(why, "redis not connected (loop %u)", i);
			return false;
		}
	}
	return true;
}

static void handler(sl_http_req_t *req, void *arg)
{
	sl_pub_loop_t *lp = arg;
	if (sl_http_serve_ops(req, ready_cb, lp))
		return;
	sl_iov_t path = sl_http_req_path(req);
	if (sl_iov_prefix(path, "/v1/stream/")) {
		stream_request(lp, req, KIND_WS, (sl_iov_t){path.base + 11, path.len - 11});
		return;
	}
	if (sl_iov_prefix(path, "/v1/events/")) {
		stream_request(lp, req, KIND_SSE, (sl_iov_t){path.base + 11, path.len - 11});
		return;
	}
	if (sl_pub__web_serve(lp->pub->web, req))
		return;
	sl_http_respond_error(req, 404, "not_found", "no such path");
}

/* ---- Redis ---- */

static void on_message(void *arg, const char *channel, size_t chlen, const char *payload, size_t len)
{
	sl_pub_loop_t *lp = arg;
	sl_pub_route_message(lp->rt, channel, chlen, payload, len);
	/* Within a long burst of messages, write what is queued every so
	 * often instead of once at the end of the loop turn: the message read
	 * first is then written first. Between two messages nothing walks the
	 * routing table, so a socket that fails here may leave it.
	 * But when the updates are already old (a backlog: the publisher is
	 * behind), writing early saves nothing worth its cost: each client
	 * gets one message per write instead of several per turn, about a
	 * write's kernel cost each. Then the turn's end writes it all at once
	 * (a turn reads a bounded amount: rsub's reads per turn), and the
	 * backlog drains (measured: 150,000 msg/s on the two cores where
	 * flushing every 256 fell behind at 127,000; docs/benchmarks-pipeline.md). */
	if (lp->pushed >= lp->pub->flush_every) {
		lp->pushed = 0;
		if (lp->behind)
			sl_metric_add(lp->m.deferred, 1);
		else
			sl_conn_ctx_flush(&lp->cctx);
	}
}

static void on_subscribed(void *arg, const char *channel, size_t chlen)
{
	sl_pub_loop_t *lp = arg;
	sl_pub_route_subscribed(lp->rt, channel, chlen);
}

static void on_unsubscribed(void *arg, const char *channel, size_t chlen)
{
	sl_pub_loop_t *lp = arg;
	sl_pub_route_unsubscribed(lp->rt, channel, chlen);
}

static void on_state(void *arg, bool connected)
{
	sl_pub_loop_t *lp = arg;
	sl_pub_route_redis_state(lp->rt, connected);
	atomic_store(&lp->ready, sl_rsub_ready(lp->rs));
	if (connected) {
		sl_pub_route_stats_t st;
		sl_pub_route_stats(lp->rt, &st);
		sl_pub__sync_counters(lp, &st);
		if (st.chans)
			sl_log_info("redis_resubscribed", SL_KV(loop, lp->index), SL_KV(channels, st.chans),
				    SL_KV(markets, st.markets));
	}
}

static const sl_rsub_cbs_t rsub_cbs = {on_message, on_subscribed, on_unsubscribed, on_state};

/* ---- lifecycle ---- */

static void rsub_done_cb(void *arg)
{
	sl_pub_loop_t *lp = arg;
	sl_rsub_free(lp->rs);
	lp->rs = NULL;
}

static void server_done_cb(void *arg)
{
	sl_pub_loop_t *lp = arg;
	sl_http_server_free(lp->srv);
	lp->srv = NULL;
	sl_rsub_close(lp->rs, rsub_done_cb, lp);
	sl_pub__clients_close(lp);
	uv_close((uv_handle_t *)&lp->stop_async, NULL);
}

static void stop_async_cb(uv_async_t *a)
{
	sl_pub_loop_t *lp = sl_container_of(a, sl_pub_loop_t, stop_async);
	if (lp->stopping)
		return;
	lp->stopping = true;
	sl_log_info("publisher_loop_stopping", SL_KV(loop, lp->index), SL_KV(ws, lp->nws), SL_KV(sse, lp->nsse));
	sl_pub__clients_close_all(lp);
	sl_http_server_close(lp->srv, server_done_cb, lp);
}

static void register_metrics(sl_pub_loop_t *lp)
{
	lp->m.ws = sl_metric_gauge("sluice_publisher_connections", "kind=\"ws\"", "Open client connections.");
	lp->m.sse = sl_metric_gauge("sluice_publisher_connections", "kind=\"sse\"", "Open client connections.");
	lp->m.chans = sl_metric_gauge("sluice_publisher_channels", "",
				      "Channels held over all loops (clients, or a subscription in flight).");
	static const char *const states[4] = {"state=\"none\"", "state=\"pending\"", "state=\"active\"",
					      "state=\"leaving\""};
	for (int k = 0; k < 4; k++)
		lp->m.state[k] = sl_metric_gauge("sluice_publisher_channels_by_state", states[k],
						 "Channels by Redis subscription state (none: waiting for Redis).");
	lp->m.in = sl_metric_counter("sluice_publisher_messages_in_total", "",
				     "Messages received from Redis pub/sub (each loop hears each message it needs).");
	lp->m.unrouted = sl_metric_counter("sluice_publisher_messages_unrouted_total", "",
					   "Messages for a market or channel with no client here (dropped).");
	lp->m.queued = sl_metric_gauge("sluice_publisher_queued_frames", "", "Frames queued over all clients.");
	lp->m.maxq = sl_metric_gauge("sluice_publisher_queue_depth_max", "",
				     "Deepest client queue at the last sweep, summed over the loops (frames).");
	lp->m.resub = sl_metric_counter("sluice_publisher_redis_resubscribes_total", "",
					"Times a pub/sub connection came back and its channels and markets were subscribed again.");
	lp->m.rejected = sl_metric_counter("sluice_publisher_rejected_total", "",
					   "Stream requests refused (bad handshake, unknown channel, Redis down, token, origin).");
	lp->m.ping_floods = sl_metric_counter("sluice_publisher_ping_floods_total", "",
					      "WebSocket clients closed with 1008 for sending pings over the allowed rate.");
	static const char *const refused[3] = {"reason=\"token\"", "reason=\"channel\"", "reason=\"origin\""};
	for (int k = 0; k < 3; k++)
		lp->m.refused[k] = sl_metric_counter("sluice_publisher_streams_refused_total", refused[k],
						     "Stream requests refused before the upgrade: no or a bad token, a token of "
						     "another channel, an origin not allowed.");
	lp->m.deferred = sl_metric_counter("sluice_publisher_flushes_deferred_total", "",
					   "Mid-burst writes skipped because the updates read were older than "
					   "--flush-behind-ms (catching up with a backlog).");
	lp->m.received = sl_metric_histogram("sluice_publisher_received_latency_ms", "",
					     "Kafka record timestamp to the update read from Redis (ms).",
					     sl_metric_latency_ms_bounds, sl_metric_latency_ms_nbounds);
}

int sl_pub__loop_init(sl_pub_t *p, sl_pub_loop_t *lp, unsigned index, sl_err_t *err)
{
	lp->pub = p;
	lp->index = index;
	uv_loop_init(&lp->loop);
	register_metrics(lp);
	sl_redis_ha_t ha = {p->redis_sentinels, p->redis_master_name};
	lp->rs = sl_rsub_new(&lp->loop, p->redis_url, &ha, p->redis_timeout_ms, &rsub_cbs, lp, err);
	if (!lp->rs) {
		uv_loop_close(&lp->loop);
		return -2;
	}
	lp->rt = sl_pub_route_new(p->prefix, &sl_pub__route_ops, lp);
	sl_pub__clients_init(lp);
	uv_async_init(&lp->loop, &lp->stop_async, stop_async_cb);
	lp->srv = sl_http_server_from_cfg_shared(&lp->loop, p->cfg, index, p->nloops, p->port, &p->conns, p->ips, handler,
						 lp, err);
	if (!lp->srv) {
		/* Close what is open on this thread, before any loop runs. */
		lp->stopping = true;
		sl_rsub_close(lp->rs, rsub_done_cb, lp);
		sl_pub__clients_close(lp);
		uv_close((uv_handle_t *)&lp->stop_async, NULL);
		uv_run(&lp->loop, UV_RUN_DEFAULT);
		sl_pub_route_free(lp->rt);
		lp->rt = NULL;
		sl_pub__clients_free(lp);
		uv_loop_close(&lp->loop);
		return -1;
	}
	return 0;
}

static void thread_main(void *arg)
{
	sl_pub_loop_t *lp = arg;
	sl_metrics_thread_shard(1 + lp->index);
	uv_run(&lp->loop, UV_RUN_DEFAULT);
	sl_pub_route_free(lp->rt);
	lp->rt = NULL;
	sl_pub__clients_free(lp);
	long live = sl_frame_live() + sl_ws_reader_live();
	lp->loop_close_rc = uv_loop_close(&lp->loop);
	if (lp->loop_close_rc != 0 || live != 0)
		sl_log_warn("shutdown_unclean", SL_KV(loop, lp->index), SL_KV(loop_close, lp->loop_close_rc),
			    SL_KV(live_frames, live));
	atomic_fetch_add(&lp->pub->loops_done, 1);
	uv_async_send(lp->pub->done_async);
}

int sl_pub__loop_start(sl_pub_loop_t *lp)
{
	return uv_thread_create(&lp->thread, thread_main, lp);
}

void sl_pub__loop_stop(sl_pub_loop_t *lp)
{
	uv_async_send(&lp->stop_async);
}

void sl_pub__loop_join(sl_pub_loop_t *lp)
{
	uv_thread_join(&lp->thread);
}

void sl_pub__loop_free(sl_pub_loop_t *lp)
{
	free(lp);
}
