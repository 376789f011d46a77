/* publisher_client.c: the clients of one publisher loop.
 *
 * How it fits: publisher_loop.c checks a stream request and calls
 * sl_pub__client_open, which takes the socket over from the HTTP server
 * (sl_http_hijack), wraps it in a bounded queue of shared frames
 * (proto/conn.h) and makes the client a member of its channel in the loop's
 * routing table (publisher_route.h). The table pushes frames through
 * sl_pub__route_ops, the glue between it and the loop's Redis connections
 * and sockets, defined here. Writes happen once per loop turn (conn's check
 * handle) and, within a long burst of Redis messages, every flush_every
 * pushes, so the first message read is written within microseconds rather
 * than after the whole burst was parsed and queued.
 * The sweep (every 250 ms, or faster for short test settings) spreads pings over the ping interval (each tick
 * pings the clients of one slot, so 10,000 clients never get their pings in
 * one burst), closes idle WebSocket clients (1001) and stuck slow ones
 * (1013), and enforces the close deadline.
 * References: RFC 6455 (pings, close codes), docs/protocol.md.
 * Non-goals: client messages (clients have nothing to say yet).
 */
#include "roles/publisher/publisher_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/sse.h"
#include "redis/rstate.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SWEEP_MS 250 /* or the ping interval or idle timeout when shorter */

/* ---- the routing table's glue ---- */

static int op_subscribe(void *arg, const char *rkey, size_t len)
{
	sl_pub_loop_t *lp = arg;
	return sl_rsub_subscribe(lp->rs, rkey, len);
}

static int op_unsubscribe(void *arg, const char *rkey, size_t len)
{
	sl_pub_loop_t *lp = arg;
	return sl_rsub_unsubscribe(lp->rs, rkey, len);
}

typedef struct load_ctx {
	sl_pub_loop_t *lp;
	sl_pub_load_t *ld;
} load_ctx_t;

static void members_cb(void *arg, int result, const sl_iov_t *members, size_t n)
{
	load_ctx_t *c = arg;
	sl_pub_route_markets(c->lp->rt, c->ld, result, members, n);
	free(c);
}

static int op_load(void *arg, const char *key, sl_pub_load_t *ld)
{
	sl_pub_loop_t *lp = arg;
	load_ctx_t *c = sl_xmalloc(sizeof(*c));
	c->lp = lp;
	c->ld = ld;
	int rc = sl_rsub_smembers(lp->rs, key, members_cb, c);
	if (rc < 0)
		free(c);
	return rc;
}

static sl_pub_client_t *client_of(sl_pub_member_t *m)
{
	return sl_container_of(m, sl_pub_client_t, member);
}

static void op_push(void *arg, sl_pub_member_t *m, sl_frame_t *fr, bool ctl)
{
	sl_pub_loop_t *lp = arg;
	sl_pub_client_t *c = client_of(m);
	lp->pushed++;
	if (ctl) {
		sl_conn_push_ctl(&c->conn, fr);
	} else if (sl_conn_push(&c->conn, fr) == SL_EFULL) {
		sl_log_info("client_evicted", SL_KV(conn, c->id), SL_KV(channel, sl_pub_route_chan_id(m->chan)),
			    SL_KV(reason, "queue_hard_limit"), SL_KV(queued, sl_conn_queued(&c->conn)));
	}
}

static void op_close(void *arg, sl_pub_member_t *m)
{
	(void)arg;
	sl_conn_close(&client_of(m)->conn, 1000, "channel closed", true);
}

static void op_received(void *arg, const sl_frame_t *fr)
{
	sl_pub_loop_t *lp = arg;
	if (fr->ts > 0) {
		double age = sl_clock_wall_ms_f() - (double)fr->ts;
		sl_metric_observe(lp->m.received, age);
		lp->behind = lp->pub->flush_behind_ms > 0 && age > lp->pub->flush_behind_ms;
	}
}

const sl_pub_route_ops_t sl_pub__route_ops = {op_subscribe, op_unsubscribe, op_load, op_push, op_close, op_received};

/* ---- one client ---- */

static void update_conn_gauges(sl_pub_loop_t *lp)
{
	sl_metric_set(lp->m.ws, (double)lp->nws);
	sl_metric_set(lp->m.sse, (double)lp->nsse);
}

static void client_closed_cb(void *ud)
{
	sl_pub_client_t *c = ud;
	sl_pub_loop_t *lp = c->lp;
	const char *chan = c->member.chan ? sl_pub_route_chan_id(c->member.chan) : "";
	sl_log_debug("client_closed", SL_KV(conn, c->id), SL_KV(channel, chan), SL_KV(close_code, (unsigned)c->conn.close_code));
	sl_pub_route_leave(lp->rt, &c->member);
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		lp->clients = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	if (c->conn.wire == SL_WIRE_WS)
		lp->nws--;
	else
		lp->nsse--;
	update_conn_gauges(lp);
	sl_ws_reader_free(c->rd);
	c->rd = NULL;
	sl_conn_socket_closed(&c->conn); /* may free c (conn_free_cb) */
}

/* Pongs and close replies count against the client's queue limits: a
 * client that pings and reads nothing reaches the hard limit (1013) like
 * one that reads nothing at all. */
static void ws_output_cb(void *ud, const uint8_t *data, size_t len)
{
	sl_pub_client_t *c = ud;
	sl_frame_t *fr = sl_frame_new_raw((const char *)data, len);
	sl_conn_push(&c->conn, fr);
	sl_frame_unref(fr);
}

/* A token bucket per client: --max-client-pings-per-s on average, ten
 * seconds' worth at once; past it the client is closed with 1008. */
static void ws_ping_cb(void *ud)
{
	sl_pub_client_t *c = ud;
	const sl_pub_t *p = c->lp->pub;
	uint64_t now = (uint64_t)sl_clock_mono_ms();
	double burst = 10.0 * p->ping_rate;
	c->ping_tokens += (double)(now - c->ping_ms) / 1000.0 * p->ping_rate;
	if (c->ping_tokens > burst)
		c->ping_tokens = burst;
	c->ping_ms = now;
	if (c->ping_tokens >= 1.0) {
		c->ping_tokens -= 1.0;
		return;
	}
	if (c->conn.state != SL_CONN_OPEN)
		return;
	/* Closing here is safe: the rest of the input only meets a closing
	 * connection, which queues nothing more. */
	const char *chan = c->member.chan ? sl_pub_route_chan_id(c->member.chan) : "";
	sl_log_info("client_evicted", SL_KV(conn, c->id), SL_KV(channel, chan), SL_KV(reason, "ping_flood"));
	sl_metric_add(c->lp->m.ping_floods, 1);
	sl_conn_close(&c->conn, 1008, "ping flood", false);
}

static const sl_ws_reader_cbs_t ws_cbs = {
	.on_message = NULL, /* clients have nothing to say yet (docs/protocol.md) */
	.on_output = ws_output_cb,
	.on_ping = ws_ping_cb,
};

static void ws_read_cb(void *ud, const char *data, size_t len)
{
	sl_pub_client_t *c = ud;
	if (c->conn.state == SL_CONN_CLOSED)
		return;
	c->last_rx_ms = (uint64_t)sl_clock_mono_ms();
	uint16_t code = 0;
	int rc = sl_ws_reader_feed(&c->rd, &ws_cbs, c, c->lp->pub->max_client_msg, data, len, &code);
	const char *chan = c->member.chan ? sl_pub_route_chan_id(c->member.chan) : "";
	if (rc == SL_WS_CLOSING) {
		c->conn.close_code = code;
		if (code != 1000 && code != 1001 && code != 1005)
			sl_log_info("client_protocol_error", SL_KV(conn, c->id), SL_KV(channel, chan),
				    SL_KV(close_code, (unsigned)code));
		sl_conn_finish(&c->conn);
		sl_conn_flush(&c->conn);
	} else if (rc < 0) {
		sl_log_info("client_protocol_error", SL_KV(conn, c->id), SL_KV(channel, chan), SL_KV(close_code, (unsigned)code));
		sl_conn_abort(&c->conn);
	}
}

static void sse_read_cb(void *ud, const char *data, size_t len)
{
	(void)ud;
	(void)data;
	(void)len; /* an event stream is one-way; extra bytes are ignored */
}

/* The idle rule for both wires, in the kernel: an SSE client never sends
 * anything, so silence proves nothing; instead a client whose socket does
 * not acknowledge what we sent (pings included) for the idle timeout is
 * dropped (TCP_USER_TIMEOUT), and keepalive probes find a peer that
 * vanished while nothing was in flight. WebSocket clients also have the
 * sweep's idle check on what they send. */
static void set_liveness(uv_stream_t *stream, uint64_t idle_ms)
{
	uv_os_fd_t fd;
	unsigned secs = (unsigned)(idle_ms / 1000) ? (unsigned)(idle_ms / 1000) : 1;
	uv_tcp_keepalive((uv_tcp_t *)stream, 1, secs);
	if (uv_fileno((uv_handle_t *)stream, &fd) == 0) {
		unsigned to = (unsigned)idle_ms;
		int intvl = (int)(secs / 4 ? secs / 4 : 1), cnt = 4;
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &to, sizeof(to));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
}

void sl_pub__client_open(sl_pub_loop_t *lp, sl_http_req_t *req, bool ws, const char *id, const char *sse_origin)
{
	sl_buf_t head = SL_BUF_INIT;
	if (ws)
		sl_ws_handshake_response(sl_http_req_header(req, "sec-websocket-key"), NULL, &head);
	else
		sl_sse_response_head(sse_origin, 2000, &head);
	sl_pub_client_t *c = sl_xcalloc(1, sizeof(*c));
	c->lp = lp;
	c->id = atomic_fetch_add(&lp->pub->next_client_id, 1) + 1;
	c->last_rx_ms = c->ping_ms = (uint64_t)sl_clock_mono_ms();
	c->ping_tokens = 10.0 * lp->pub->ping_rate;
	sl_http_hijack_cbs_t cbs = {ws ? ws_read_cb : sse_read_cb, client_closed_cb};
	sl_iov_t leftover = {0};
	uv_stream_t *stream = sl_http_hijack(req, &cbs, c, &leftover);
	sl_conn_init(&c->conn, &lp->cctx, stream, ws ? SL_WIRE_WS : SL_WIRE_SSE);
	set_liveness(stream, lp->pub->idle_ms);
	sl_frame_t *fr = sl_frame_new_raw(head.data, head.len);
	sl_conn_push_ctl(&c->conn, fr);
	sl_frame_unref(fr);
	sl_buf_free(&head);
	c->anext = lp->clients;
	if (lp->clients)
		lp->clients->aprev = c;
	lp->clients = c;
	if (ws)
		lp->nws++;
	else
		lp->nsse++;
	update_conn_gauges(lp);
	sl_pub_route_join(lp->rt, &c->member, id);
	sl_log_debug("client_open", SL_KV(conn, c->id), SL_KV(channel, id), SL_KV(wire, ws ? "ws" : "sse"),
		     SL_KV(loop, lp->index));
	if (leftover.len && ws)
		ws_read_cb(c, leftover.base, leftover.len);
}

/* ---- all clients ---- */

static void sweep_cb(uv_timer_t *t)
{
	sl_pub_loop_t *lp = sl_container_of(t, sl_pub_loop_t, sweep);
	sl_pub__clients_sweep(lp, (uint64_t)sl_clock_mono_ms());
}

typedef struct refresh {
	sl_pub_loop_t *lp;
	sl_buf_t key;
	char when[24];
	size_t n;
} refresh_t;

static void refresh_one(void *arg, const char *id)
{
	refresh_t *r = arg;
	const char *v[] = {"ZADD", r->key.data, "XX", r->when, id};
	if (sl_rsub_send(r->lp->rs, 5, v) == 0)
		r->n++;
}

/* Channels held here must not expire: push their time forward (XX: never
 * bring back one that was closed meanwhile), pipelined, a third of the TTL
 * (at most a minute) before it could run out. */
static void refresh_expiry(sl_pub_loop_t *lp, uint64_t now)
{
	if (now < lp->next_refresh_ms || !sl_rsub_ready(lp->rs))
		return;
	int64_t every = lp->pub->ttl_ms / 3 < 60000 ? lp->pub->ttl_ms / 3 : 60000;
	lp->next_refresh_ms = now + (uint64_t)every;
	refresh_t r = {lp, SL_BUF_INIT, "", 0};
	sl_rstate_key_expiry(&r.key, lp->pub->prefix);
	snprintf(r.when, sizeof(r.when), "%lld", (long long)(sl_clock_wall_ms() + lp->pub->ttl_ms));
	sl_pub_route_each_held(lp->rt, refresh_one, &r);
	sl_buf_free(&r.key);
}

void sl_pub__clients_sweep(sl_pub_loop_t *lp, uint64_t now)
{
	sl_pub_t *p = lp->pub;
	if (!lp->ws_ping) { /* made on the loop's thread: frames are counted per thread */
		lp->ws_ping = sl_frame_new_ws(0x9, "", 0);
		lp->sse_ping = sl_sse_ping_frame();
	}
	uint64_t slots = p->ping_ms / lp->sweep_ms ? p->ping_ms / lp->sweep_ms : 1;
	uint64_t slot = lp->sweeps++ % slots;
	uint32_t maxq = 0;
	for (sl_pub_client_t *c = lp->clients, *next; c; c = next) {
		next = c->anext;
		sl_conn_t *conn = &c->conn;
		if (conn->qlen > maxq)
			maxq = conn->qlen;
		if (conn->state == SL_CONN_CLOSING) {
			if (now - conn->closing_since_ms >= p->close_grace_ms)
				sl_conn_abort(conn); /* may free c */
			continue;
		}
		if (conn->state != SL_CONN_OPEN)
			continue;
		const char *chan = c->member.chan ? sl_pub_route_chan_id(c->member.chan) : "";
		if (sl_conn_is_stuck(conn, now, p->slow_ms)) {
			sl_log_info("client_evicted", SL_KV(conn, c->id), SL_KV(channel, chan), SL_KV(reason, "slow_consumer"),
				    SL_KV(queued, conn->qlen));
			sl_metric_add(conn->ctx->m_slow_closed, 1);
			sl_conn_close(conn, 1013, "slow consumer", false);
			continue;
		}
		if (conn->wire == SL_WIRE_WS && now - c->last_rx_ms >= p->idle_ms) {
			sl_log_info("client_idle_closed", SL_KV(conn, c->id), SL_KV(channel, chan),
				    SL_KV(idle_ms, now - c->last_rx_ms));
			sl_conn_close(conn, 1001, "idle timeout", false);
			continue;
		}
		if (c->id % slots == slot)
			sl_conn_push_ctl(conn, conn->wire == SL_WIRE_WS ? lp->ws_ping : lp->sse_ping);
	}
	sl_metric_set(lp->m.maxq, maxq);
	sl_metric_set(lp->m.queued, (double)lp->cctx.queued);
	sl_pub_route_retry(lp->rt);
	refresh_expiry(lp, now);
	sl_pub_route_stats_t st;
	sl_pub_route_stats(lp->rt, &st);
	sl_metric_set(lp->m.chans, (double)st.chans);
	for (int k = 0; k < 4; k++)
		sl_metric_set(lp->m.state[k], (double)st.chans_by_state[k]);
	sl_pub__sync_counters(lp, &st);
	atomic_store(&lp->ready, sl_rsub_ready(lp->rs));
}

void sl_pub__sync_counters(sl_pub_loop_t *lp, const sl_pub_route_stats_t *st)
{
	sl_metric_add(lp->m.in, (double)(st->messages_in - lp->m.in_seen));
	sl_metric_add(lp->m.unrouted, (double)(st->unrouted - lp->m.unrouted_seen));
	sl_metric_add(lp->m.resub, (double)(st->resubscribes - lp->m.resub_seen));
	lp->m.in_seen = st->messages_in;
	lp->m.unrouted_seen = st->unrouted;
	lp->m.resub_seen = st->resubscribes;
}

void sl_pub__clients_close_all(sl_pub_loop_t *lp)
{
	for (sl_pub_client_t *c = lp->clients; c; c = c->anext)
		sl_conn_close(&c->conn, 1001, "server shutting down", false);
	sl_conn_ctx_flush(&lp->cctx); /* sockets that take the close frame now close now */
}

static void conn_free_cb(sl_conn_t *conn, void *arg)
{
	(void)arg;
	free(sl_container_of(conn, sl_pub_client_t, conn));
}

void sl_pub__clients_init(sl_pub_loop_t *lp)
{
	sl_conn_limits_t lim = {(uint32_t)sl_cfg_int(lp->pub->cfg, "queue-soft-limit"),
				(uint32_t)sl_cfg_int(lp->pub->cfg, "queue-hard-limit")};
	sl_conn_ctx_init(&lp->cctx, &lp->loop, &lim, conn_free_cb, lp);
	lp->sweep_ms = SWEEP_MS;
	if (lp->pub->ping_ms < lp->sweep_ms)
		lp->sweep_ms = lp->pub->ping_ms;
	if (lp->pub->idle_ms < lp->sweep_ms)
		lp->sweep_ms = lp->pub->idle_ms;
	uv_timer_init(&lp->loop, &lp->sweep);
	uv_timer_start(&lp->sweep, sweep_cb, lp->sweep_ms, lp->sweep_ms);
}

void sl_pub__clients_close(sl_pub_loop_t *lp)
{
	uv_close((uv_handle_t *)&lp->sweep, NULL);
	sl_conn_ctx_close(&lp->cctx);
}

void sl_pub__clients_free(sl_pub_loop_t *lp)
{
	sl_frame_unref(lp->ws_ping);
	sl_frame_unref(lp->sse_ping);
	lp->ws_ping = lp->sse_ping = NULL;
}
