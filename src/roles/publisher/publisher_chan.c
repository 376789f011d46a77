/* publisher_chan.c: channels, clients and fan-out of `sluice publisher`.
 *
 * How it fits: publisher.c upgrades a request and hands the client here.
 * A channel is one Redis subscription shared by all its clients (SPEC 3:
 * one subscription per channel per publisher); its table is keyed by the
 * Redis channel name, which is what each pub/sub message carries. Each
 * message becomes one shared frame (core/frame.h) that every client of the
 * channel queues by reference (proto/conn.h); the writes happen once per
 * loop turn for the whole burst. Subscription states per channel:
 * NONE -> PENDING (SUBSCRIBE sent) -> ACTIVE (confirmed: clients get the
 * shared `subscribed` ack) -> LEAVING (UNSUBSCRIBE sent when the last client
 * left) -> freed, or PENDING again if a client came back meanwhile (never
 * SUBSCRIBE while an UNSUBSCRIBE of the same channel is in flight: hiredis
 * 0.14 would drop the new subscription's callback). A Redis disconnect
 * resets every channel to NONE; the reconnect subscribes them again and
 * tells their clients with `{"type":"subscribed",...,"resumed":true}`.
 * A sweep timer sends pings, closes idle and stuck (slow) clients and
 * enforces the close deadline. References: docs/protocol.md, docs/publisher.md.
 * Non-goals: per-market fan-out (the reducers publish per channel).
 */
#include "roles/publisher/publisher_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/sse.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_key(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static chan_t **chan_slot(pub_t *p, const char *rkey, size_t len)
{
	chan_t **pp = &p->buckets[hash_key(rkey, len) & (p->nbuckets - 1)];
	while (*pp && !((*pp)->rkey_len == len && !memcmp((*pp)->rkey, rkey, len)))
		pp = &(*pp)->hnext;
	return pp;
}

static void table_grow(pub_t *p)
{
	size_t nb = p->nbuckets * 2;
	chan_t **b = sl_xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < p->nbuckets; i++) {
		for (chan_t *ch = p->buckets[i], *next; ch; ch = next) {
			next = ch->hnext;
			size_t j = hash_key(ch->rkey, ch->rkey_len) & (nb - 1);
			ch->hnext = b[j];
			b[j] = ch;
		}
	}
	free(p->buckets);
	p->buckets = b;
	p->nbuckets = nb;
}

static void chan_free(pub_t *p, chan_t *ch)
{
	chan_t **pp = chan_slot(p, ch->rkey, ch->rkey_len);
	if (*pp == ch)
		*pp = ch->hnext;
	p->nchans--;
	sl_metric_set(p->m_chans, (double)p->nchans);
	sl_frame_unref(ch->ack);
	free(ch->rkey);
	free(ch);
}

static chan_t *chan_get(pub_t *p, const char *id)
{
	sl_buf_t k = SL_BUF_INIT;
	sl_buf_printf(&k, "%sstream:%s", p->prefix, id);
	chan_t **pp = chan_slot(p, k.data, k.len);
	if (*pp) {
		sl_buf_free(&k);
		return *pp;
	}
	chan_t *ch = sl_xcalloc(1, sizeof(*ch));
	ch->rkey = sl_buf_steal(&k, &ch->rkey_len);
	ch->id = ch->rkey + ch->rkey_len - strlen(id);
	sl_buf_t ack = SL_BUF_INIT;
	sl_buf_puts(&ack, "{\"type\":\"subscribed\",\"channel\":");
	sl_buf_json_str(&ack, ch->id, strlen(ch->id));
	sl_buf_puts(&ack, "}");
	ch->ack = sl_frame_new(ack.data, ack.len);
	sl_buf_free(&ack);
	*pp = ch;
	p->nchans++;
	sl_metric_set(p->m_chans, (double)p->nchans);
	if (p->nchans > p->nbuckets)
		table_grow(p);
	return ch;
}

static void chan_subscribe(pub_t *p, chan_t *ch)
{
	if (ch->sub != SUB_NONE)
		return;
	if (sl_rsub_subscribe(p->rs, ch->rkey, ch->rkey_len) == 0)
		ch->sub = SUB_PENDING;
	/* else: Redis is down; on_state(true) subscribes every channel. */
}

/* The last client left: leave Redis, or forget the channel at once. */
static void chan_maybe_leave(pub_t *p, chan_t *ch)
{
	if (ch->nclients)
		return;
	if (ch->sub == SUB_ACTIVE) {
		if (sl_rsub_unsubscribe(p->rs, ch->rkey, ch->rkey_len) == 0) {
			ch->sub = SUB_LEAVING;
			return;
		}
		chan_free(p, ch);
	} else if (ch->sub == SUB_NONE) {
		chan_free(p, ch);
	}
	/* PENDING: on_subscribed leaves; LEAVING: on_unsubscribed frees. */
}

static void update_conn_gauges(pub_t *p)
{
	sl_metric_set(p->m_ws, (double)p->nws);
	sl_metric_set(p->m_sse, (double)p->nsse);
}

void pub_client_attach(pub_t *p, client_t *c, const char *id)
{
	chan_t *ch = chan_get(p, id);
	c->pub = p;
	c->ch = ch;
	c->last_rx_ms = (uint64_t)sl_clock_mono_ms();
	c->cnext = ch->clients;
	if (ch->clients)
		ch->clients->cprev = c;
	ch->clients = c;
	ch->nclients++;
	c->anext = p->clients;
	if (p->clients)
		p->clients->aprev = c;
	p->clients = c;
	if (c->conn.wire == SL_WIRE_WS)
		p->nws++;
	else
		p->nsse++;
	update_conn_gauges(p);
	if (ch->sub == SUB_ACTIVE) {
		c->acked = true;
		sl_conn_push_ctl(&c->conn, ch->ack);
	} else {
		chan_subscribe(p, ch);
	}
	sl_log_debug("client_open", "conn=%llu chan=%s wire=%s", (unsigned long long)c->id, ch->id,
		     c->conn.wire == SL_WIRE_WS ? "ws" : "sse");
}

void pub_client_closed(void *ud)
{
	client_t *c = ud;
	pub_t *p = c->pub;
	chan_t *ch = c->ch;
	if (c->cprev)
		c->cprev->cnext = c->cnext;
	else
		ch->clients = c->cnext;
	if (c->cnext)
		c->cnext->cprev = c->cprev;
	ch->nclients--;
	if (c->aprev)
		c->aprev->anext = c->anext;
	else
		p->clients = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	if (c->conn.wire == SL_WIRE_WS)
		p->nws--;
	else
		p->nsse--;
	update_conn_gauges(p);
	sl_ws_reader_free(c->rd);
	c->rd = NULL;
	sl_log_debug("client_closed", "conn=%llu chan=%s code=%u", (unsigned long long)c->id, ch->id,
		     (unsigned)c->conn.close_code);
	chan_maybe_leave(p, ch);
	sl_conn_socket_closed(&c->conn); /* may free c (conn_free_cb) */
}

static void ws_output_cb(void *ud, const uint8_t *data, size_t len)
{
	client_t *c = ud;
	sl_frame_t *fr = sl_frame_new_raw((const char *)data, len);
	sl_conn_push_ctl(&c->conn, fr);
	sl_frame_unref(fr);
}

static const sl_ws_reader_cbs_t ws_cbs = {
	.on_message = NULL, /* clients have nothing to say yet (docs/protocol.md) */
	.on_output = ws_output_cb,
};

void pub_ws_read(void *ud, const char *data, size_t len)
{
	client_t *c = ud;
	if (c->conn.state == SL_CONN_CLOSED)
		return;
	c->last_rx_ms = (uint64_t)sl_clock_mono_ms();
	uint16_t code = 0;
	int rc = sl_ws_reader_feed(&c->rd, &ws_cbs, c, c->pub->max_client_msg, data, len, &code);
	if (rc == SL_WS_CLOSING) {
		c->conn.close_code = code;
		if (code != 1000 && code != 1001 && code != 1005)
			sl_log_info("client_protocol_error", "conn=%llu chan=%s code=%u", (unsigned long long)c->id,
				    c->ch->id, (unsigned)code);
		sl_conn_finish(&c->conn);
		sl_conn_flush(&c->conn);
	} else if (rc < 0) {
		sl_log_info("client_protocol_error", "conn=%llu chan=%s code=%u", (unsigned long long)c->id, c->ch->id,
			    (unsigned)code);
		sl_conn_abort(&c->conn);
	}
}

void pub_sse_read(void *ud, const char *data, size_t len)
{
	(void)ud;
	(void)data;
	(void)len; /* an event stream is one-way; extra bytes are ignored */
}

/* ---- Redis side ---- */

static void on_message(void *arg, const char *channel, size_t chlen, const char *payload, size_t len)
{
	pub_t *p = arg;
	sl_metric_add(p->m_in, 1);
	chan_t *ch = *chan_slot(p, channel, chlen);
	if (!ch || !ch->clients) {
		sl_metric_add(p->m_unrouted, 1);
		return;
	}
	sl_frame_t *fr = sl_frame_new(payload, len);
	for (client_t *c = ch->clients; c; c = c->cnext) {
		if (sl_conn_push(&c->conn, fr) == SL_EFULL)
			sl_log_info("client_evicted", "conn=%llu chan=%s reason=queue_hard_limit queued=%u",
				    (unsigned long long)c->id, ch->id, sl_conn_queued(&c->conn));
	}
	if (fr->kind == SL_FRAME_CLOSED) {
		sl_log_info("channel_closed", "chan=%s clients=%zu", ch->id, ch->nclients);
		for (client_t *c = ch->clients; c; c = c->cnext)
			sl_conn_close(&c->conn, 1000, "channel closed", true);
	}
	sl_frame_unref(fr);
}

static void on_subscribed(void *arg, const char *channel, size_t chlen)
{
	pub_t *p = arg;
	chan_t *ch = *chan_slot(p, channel, chlen);
	if (!ch || ch->sub != SUB_PENDING)
		return;
	ch->sub = SUB_ACTIVE;
	sl_frame_t *resumed = NULL;
	if (ch->resumed) {
		sl_buf_t b = SL_BUF_INIT;
		sl_buf_puts(&b, "{\"type\":\"subscribed\",\"channel\":");
		sl_buf_json_str(&b, ch->id, strlen(ch->id));
		sl_buf_puts(&b, ",\"resumed\":true}");
		resumed = sl_frame_new(b.data, b.len);
		sl_buf_free(&b);
		ch->resumed = false;
	}
	for (client_t *c = ch->clients; c; c = c->cnext) {
		if (!c->acked) {
			c->acked = true;
			sl_conn_push_ctl(&c->conn, ch->ack);
		} else if (resumed) {
			sl_conn_push_ctl(&c->conn, resumed);
		}
	}
	sl_frame_unref(resumed);
	chan_maybe_leave(p, ch);
}

static void on_unsubscribed(void *arg, const char *channel, size_t chlen)
{
	pub_t *p = arg;
	chan_t *ch = *chan_slot(p, channel, chlen);
	if (!ch || ch->sub != SUB_LEAVING)
		return;
	ch->sub = SUB_NONE;
	if (ch->nclients)
		chan_subscribe(p, ch); /* a client came back while we were leaving */
	else
		chan_free(p, ch);
}

static void on_state(void *arg, bool connected)
{
	pub_t *p = arg;
	for (size_t i = 0; i < p->nbuckets; i++) {
		for (chan_t *ch = p->buckets[i], *next; ch; ch = next) {
			next = ch->hnext;
			if (!connected) {
				ch->resumed = ch->resumed || ch->sub == SUB_ACTIVE || ch->sub == SUB_PENDING;
				ch->sub = SUB_NONE;
				if (!ch->nclients)
					chan_free(p, ch);
			} else if (ch->nclients) {
				chan_subscribe(p, ch);
			}
		}
	}
	if (connected && p->nchans) {
		sl_metric_add(p->m_resub, 1);
		sl_log_info("redis_resubscribed", "channels=%zu", p->nchans);
	}
}

const sl_rsub_cbs_t pub_rsub_cbs = {on_message, on_subscribed, on_unsubscribed, on_state};

/* ---- timers ---- */

static void sweep_cb(uv_timer_t *t)
{
	pub_t *p = sl_container_of(t, pub_t, sweep);
	uint64_t now = (uint64_t)sl_clock_mono_ms();
	bool ping = now - p->last_ping_ms >= p->ping_ms;
	if (ping)
		p->last_ping_ms = now;
	uint32_t maxq = 0;
	for (client_t *c = p->clients, *next; c; c = next) {
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
		if (sl_conn_is_stuck(conn, now, p->slow_ms)) {
			sl_log_info("client_evicted", "conn=%llu chan=%s reason=slow_consumer queued=%u",
				    (unsigned long long)c->id, c->ch->id, conn->qlen);
			sl_metric_add(conn->ctx->m_slow_closed, 1);
			sl_conn_close(conn, 1013, "slow consumer", false);
			continue;
		}
		if (conn->wire == SL_WIRE_WS && now - c->last_rx_ms >= p->idle_ms) {
			sl_log_info("client_idle_closed", "conn=%llu chan=%s idle_ms=%llu", (unsigned long long)c->id,
				    c->ch->id, (unsigned long long)(now - c->last_rx_ms));
			sl_conn_close(conn, 1001, "idle timeout", false);
			continue;
		}
		if (ping)
			sl_conn_push_ctl(conn, conn->wire == SL_WIRE_WS ? p->ws_ping : p->sse_ping);
	}
	sl_metric_set(p->m_maxq, maxq);
}

static void collect_cb(void *arg)
{
	pub_t *p = arg;
	sl_metric_set(p->m_queued, (double)p->cctx.queued);
	double n[4] = {0};
	for (size_t i = 0; i < p->nbuckets; i++)
		for (chan_t *ch = p->buckets[i]; ch; ch = ch->hnext)
			n[ch->sub]++;
	for (int k = 0; k < 4; k++)
		sl_metric_set(p->m_state[k], n[k]);
}

void pub_close_all(pub_t *p)
{
	for (client_t *c = p->clients; c; c = c->anext)
		sl_conn_close(&c->conn, 1001, "server shutting down", false);
	sl_conn_ctx_flush(&p->cctx); /* sockets that take the close frame now close now */
}

static void conn_free_cb(sl_conn_t *conn, void *arg)
{
	(void)arg;
	free(sl_container_of(conn, client_t, conn));
}

void pub_chan_setup(pub_t *p)
{
	p->nbuckets = 1024;
	p->buckets = sl_xcalloc(p->nbuckets, sizeof(*p->buckets));
	sl_conn_limits_t lim = {(uint32_t)sl_cfg_int(p->cfg, "queue-soft-limit"),
				(uint32_t)sl_cfg_int(p->cfg, "queue-hard-limit")};
	sl_conn_ctx_init(&p->cctx, p->loop, &lim, conn_free_cb, p);
	p->ws_ping = sl_frame_new_ws(0x9, "", 0);
	p->sse_ping = sl_sse_ping_frame();
	p->m_ws = sl_metric_gauge("sluice_publisher_connections", "kind=\"ws\"", "Open client connections.");
	p->m_sse = sl_metric_gauge("sluice_publisher_connections", "kind=\"sse\"", "Open client connections.");
	p->m_chans = sl_metric_gauge("sluice_publisher_channels", "", "Channels held (clients, or a subscription in flight).");
	static const char *const states[4] = {"state=\"none\"", "state=\"pending\"", "state=\"active\"",
					      "state=\"leaving\""};
	for (int k = 0; k < 4; k++)
		p->m_state[k] = sl_metric_gauge("sluice_publisher_channels_by_state", states[k],
						"Channels by Redis subscription state (none: waiting for Redis).");
	p->m_in = sl_metric_counter("sluice_publisher_messages_in_total", "", "Messages received from Redis pub/sub.");
	p->m_unrouted = sl_metric_counter("sluice_publisher_messages_unrouted_total", "",
					  "Messages for a channel with no client here (dropped).");
	p->m_queued = sl_metric_gauge("sluice_publisher_queued_frames", "", "Frames queued over all clients.");
	p->m_maxq = sl_metric_gauge("sluice_publisher_queue_depth_max", "",
				    "Deepest client queue at the last sweep (frames).");
	p->m_resub = sl_metric_counter("sluice_publisher_redis_resubscribes_total", "",
				       "Times the Redis pub/sub connection came up and every channel was subscribed.");
	sl_metrics_on_collect(collect_cb, p);
	uv_timer_init(p->loop, &p->sweep);
	uint64_t every = p->ping_ms < 1000 ? p->ping_ms : 1000;
	if (p->idle_ms < every)
		every = p->idle_ms;
	p->last_ping_ms = (uint64_t)sl_clock_mono_ms();
	uv_timer_start(&p->sweep, sweep_cb, every, every);
}

void pub_chan_teardown(pub_t *p)
{
	for (size_t i = 0; i < p->nbuckets; i++)
		while (p->buckets[i])
			chan_free(p, p->buckets[i]);
	free(p->buckets);
	p->buckets = NULL;
	sl_frame_unref(p->ws_ping);
	sl_frame_unref(p->sse_ping);
}
