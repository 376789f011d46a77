/* rsub_resp.c: the publisher's Redis pub/sub connection, RESP2 over a
 * uv_tcp_t (see rsub_int.h for why not hiredis).
 *
 * How it fits: rsub.c owns one of these for all of the process's channel
 * subscriptions. Reads land in one growable buffer (64 KiB free before each
 * read, so a busy connection is drained in big reads); every complete reply
 * in it is dispatched in place: `message` to on_message with borrowed views,
 * `subscribe` / `unsubscribe` confirmations by channel name. Commands are
 * appended to one output buffer and written with one uv_write at a time.
 * The connection retries with backoff (100 ms doubling to 2 s); when it
 * drops, on_state(false) fires, and on_state(true) when it is back, so the
 * owner subscribes its channels again. A PING after 5 s of silence must be
 * answered within the timeout, or the connection is dropped and retried.
 * Replies are parsed by redis/resp.c.
 * References: Redis protocol spec (RESP2), Redis pub/sub docs.
 * Non-goals: RESP3 push frames, pattern subscriptions, other commands.
 */
#include "redis/rsub_int.h"
#include "redis/resp.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define READ_CHUNK (64 * 1024)
#define MAX_REPLY (64u * 1024 * 1024)
#define PING_AFTER_MS 5000

enum { PS_IDLE = 0, PS_CONNECTING, PS_UP, PS_CLOSING };

struct sl_psub {
	uv_loop_t *loop;
	struct sockaddr_storage addr;
	char *user, *password;
	uint64_t timeout_ms;
	sl_rsub_cbs_t cbs;
	void *arg;
	uv_tcp_t tcp;
	uv_connect_t creq;
	uv_timer_t retry, tick;
	int state;
	bool closing; /* for good: no retry */
	uint64_t backoff_ms;
	char *rbuf;
	size_t rlen, rcap;
	sl_buf_t out;
	bool writing;
	uint64_t last_rx_ms, ping_sent_ms;
	bool ping_out;
	int open_handles;
	void (*done)(void *arg);
	void *done_arg;
};

typedef struct wreq {
	uv_write_t w;
	sl_psub_t *ps;
	char *data;
} wreq_t;

/* ---- the connection ---- */

static void ps_connect(sl_psub_t *ps);
static void flush_out(sl_psub_t *ps);

static void maybe_done(sl_psub_t *ps)
{
	if (ps->closing && ps->open_handles == 0 && ps->done) {
		void (*done)(void *) = ps->done;
		ps->done = NULL;
		done(ps->done_arg);
	}
}

static void handle_closed_cb(uv_handle_t *h)
{
	sl_psub_t *ps = h->data;
	ps->open_handles--;
	maybe_done(ps);
}

static void retry_cb(uv_timer_t *t)
{
	sl_psub_t *ps = t->data;
	if (!ps->closing)
		ps_connect(ps);
}

static void tcp_closed_cb(uv_handle_t *h)
{
	sl_psub_t *ps = h->data;
	ps->state = PS_IDLE;
	ps->rlen = 0;
	sl_buf_reset(&ps->out);
	ps->open_handles--;
	if (ps->closing) {
		maybe_done(ps);
		return;
	}
	uint64_t d = ps->backoff_ms ? ps->backoff_ms : BACKOFF_MIN_MS;
	ps->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
	uv_timer_start(&ps->retry, retry_cb, d, 0);
}

/* Drop the connection (why is logged); on_state(false) if it was up. */
static void drop(sl_psub_t *ps, const char *ev, const char *why)
{
	if (ps->state == PS_IDLE || ps->state == PS_CLOSING)
		return;
	bool was_up = ps->state == PS_UP;
	ps->state = PS_CLOSING;
	if (ev)
		sl_log_warn(ev, SL_KV(conn, "pubsub"), SL_KV(error, why));
	uv_close((uv_handle_t *)&ps->tcp, tcp_closed_cb);
	if (was_up && ps->cbs.on_state && !ps->closing)
		ps->cbs.on_state(ps->arg, false);
}

static void write_cb(uv_write_t *w, int status)
{
	wreq_t *wr = sl_container_of(w, wreq_t, w);
	sl_psub_t *ps = wr->ps;
	free(wr->data);
	free(wr);
	ps->writing = false;
	if (status < 0) {
		drop(ps, "redis_disconnected", uv_strerror(status));
		return;
	}
	flush_out(ps);
}

static void flush_out(sl_psub_t *ps)
{
	if (ps->writing || !ps->out.len || ps->state != PS_UP)
		return;
	wreq_t *wr = sl_xmalloc(sizeof(*wr));
	size_t n;
	wr->ps = ps;
	wr->data = sl_buf_steal(&ps->out, &n);
	uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
	if (uv_write(&wr->w, (uv_stream_t *)&ps->tcp, &b, 1, write_cb) < 0) {
		free(wr->data);
		free(wr);
		drop(ps, "redis_disconnected", "write failed");
		return;
	}
	ps->writing = true;
}

static void append_cmd(sl_psub_t *ps, const char *verb, const char *arg, size_t len)
{
	if (arg)
		sl_buf_printf(&ps->out, "*2\r\n$%zu\r\n%s\r\n$%zu\r\n", strlen(verb), verb, len);
	else
		sl_buf_printf(&ps->out, "*1\r\n$%zu\r\n%s\r\n", strlen(verb), verb);
	if (arg) {
		sl_buf_append(&ps->out, arg, len);
		sl_buf_puts(&ps->out, "\r\n");
	}
}

static bool is(const sl_resp_item_t *it, const char *lit)
{
	size_t n = strlen(lit);
	return it->type == '$' && it->len == (long long)n && !strncasecmp(it->str, lit, n);
}

static void dispatch(sl_psub_t *ps, const sl_resp_t *r)
{
	if (r->type == '-') {
		sl_log_warn("redis_error", SL_KV(conn, "pubsub"), SL_KVN(error, r->item.str, (size_t)r->item.len));
		return;
	}
	if (r->type != '*' || r->n < 2 || r->el[1].type != '$' || r->el[1].len < 0)
		return; /* +OK (AUTH), +PONG */
	const sl_resp_item_t *kind = &r->el[0], *ch = &r->el[1];
	if (is(kind, "message") && r->n == 3 && r->el[2].type == '$' && r->el[2].len >= 0)
		ps->cbs.on_message(ps->arg, ch->str, (size_t)ch->len, r->el[2].str, (size_t)r->el[2].len);
	else if (is(kind, "subscribe"))
		ps->cbs.on_subscribed(ps->arg, ch->str, (size_t)ch->len);
	else if (is(kind, "unsubscribe"))
		ps->cbs.on_unsubscribed(ps->arg, ch->str, (size_t)ch->len);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	sl_psub_t *ps = h->data;
	if (ps->rcap - ps->rlen < READ_CHUNK) {
		ps->rcap = ps->rcap ? ps->rcap * 2 : 4 * READ_CHUNK;
		while (ps->rcap - ps->rlen < READ_CHUNK)
			ps->rcap *= 2;
		ps->rbuf = sl_xrealloc(ps->rbuf, ps->rcap);
	}
	*buf = uv_buf_init(ps->rbuf + ps->rlen, (unsigned)(ps->rcap - ps->rlen));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	sl_psub_t *ps = s->data;
	if (nread < 0) {
		drop(ps, "redis_disconnected", nread == UV_EOF ? "server closed the connection" : uv_strerror((int)nread));
		return;
	}
	ps->rlen += (size_t)nread;
	ps->last_rx_ms = (uint64_t)sl_clock_mono_ms();
	ps->ping_out = false;
	size_t off = 0;
	long k = 0;
	sl_resp_t r;
	while (ps->state == PS_UP && (k = sl_resp_parse(ps->rbuf + off, ps->rlen - off, &r)) > 0) {
		off += (size_t)k;
		dispatch(ps, &r);
	}
	if (ps->state != PS_UP)
		return;
	if (k < 0) {
		drop(ps, "redis_protocol_error", "malformed reply");
		return;
	}
	memmove(ps->rbuf, ps->rbuf + off, ps->rlen - off);
	ps->rlen -= off;
	if (ps->rlen > MAX_REPLY) {
		drop(ps, "redis_protocol_error", "reply over 64 MiB");
		return;
	}
	/* A big buffer that emptied goes back to its start size. */
	if (ps->rlen == 0 && ps->rcap > 16 * READ_CHUNK) {
		free(ps->rbuf);
		ps->rbuf = NULL;
		ps->rcap = 0;
	}
}

static void connect_cb(uv_connect_t *req, int status)
{
	sl_psub_t *ps = req->data;
	if (ps->state != PS_CONNECTING)
		return;
	if (status < 0) {
		sl_log_warn("redis_connect_failed", SL_KV(conn, "pubsub"), SL_KV(error, uv_strerror(status)));
		ps->state = PS_CLOSING;
		uv_close((uv_handle_t *)&ps->tcp, tcp_closed_cb);
		return;
	}
	ps->state = PS_UP;
	ps->backoff_ms = 0;
	ps->last_rx_ms = (uint64_t)sl_clock_mono_ms();
	ps->ping_out = false;
	uv_tcp_nodelay(&ps->tcp, 1);
	uv_tcp_keepalive(&ps->tcp, 1, 30);
	uv_read_start((uv_stream_t *)&ps->tcp, alloc_cb, read_cb);
	if (ps->user)
		sl_buf_printf(&ps->out, "*3\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(ps->user), ps->user,
			      strlen(ps->password), ps->password);
	else if (ps->password)
		append_cmd(ps, "AUTH", ps->password, strlen(ps->password));
	sl_log_info("redis_connected", SL_KV(conn, "pubsub"));
	if (ps->cbs.on_state)
		ps->cbs.on_state(ps->arg, true);
	flush_out(ps);
}

static void ps_connect(sl_psub_t *ps)
{
	uv_tcp_init(ps->loop, &ps->tcp);
	ps->tcp.data = ps;
	ps->open_handles++;
	ps->state = PS_CONNECTING;
	ps->creq.data = ps;
	int rc = uv_tcp_connect(&ps->creq, &ps->tcp, (const struct sockaddr *)&ps->addr, connect_cb);
	if (rc < 0) {
		sl_log_warn("redis_connect_failed", SL_KV(conn, "pubsub"), SL_KV(error, uv_strerror(rc)));
		ps->state = PS_CLOSING;
		uv_close((uv_handle_t *)&ps->tcp, tcp_closed_cb);
	}
}

static void tick_cb(uv_timer_t *t)
{
	sl_psub_t *ps = t->data;
	if (ps->state != PS_UP)
		return;
	uint64_t now = (uint64_t)sl_clock_mono_ms();
	if (ps->ping_out && now - ps->ping_sent_ms >= ps->timeout_ms) {
		drop(ps, "redis_timeout", "no answer to PING");
		return;
	}
	if (!ps->ping_out && now - ps->last_rx_ms >= PING_AFTER_MS) {
		append_cmd(ps, "PING", NULL, 0);
		ps->ping_out = true;
		ps->ping_sent_ms = now;
		flush_out(ps);
	}
}

sl_psub_t *sl_rsub__psub_new(uv_loop_t *loop, const struct sockaddr_storage *addr, const char *user, const char *password,
			     uint64_t timeout_ms, const sl_rsub_cbs_t *cbs, void *arg)
{
	sl_psub_t *ps = sl_xcalloc(1, sizeof(*ps));
	ps->loop = loop;
	ps->addr = *addr;
	ps->user = user && user[0] ? sl_xstrdup(user) : NULL;
	ps->password = password && password[0] ? sl_xstrdup(password) : NULL;
	ps->timeout_ms = timeout_ms;
	ps->cbs = *cbs;
	ps->arg = arg;
	uv_timer_init(loop, &ps->retry);
	uv_timer_init(loop, &ps->tick);
	ps->retry.data = ps->tick.data = ps;
	ps->open_handles = 2;
	uint64_t every = timeout_ms / 4 < 1000 ? (timeout_ms / 4 ? timeout_ms / 4 : 1) : 1000;
	uv_timer_start(&ps->tick, tick_cb, every, every);
	ps_connect(ps);
	return ps;
}

bool sl_rsub__psub_connected(const sl_psub_t *ps)
{
	return ps->state == PS_UP;
}

int sl_rsub__psub_send(sl_psub_t *ps, const char *verb, const char *channel, size_t len)
{
	if (ps->state != PS_UP || ps->closing)
		return SL_EUNAVAIL;
	append_cmd(ps, verb, channel, len);
	flush_out(ps);
	return 0;
}

void sl_rsub__psub_close(sl_psub_t *ps, void (*done)(void *arg), void *arg)
{
	ps->closing = true;
	ps->done = done;
	ps->done_arg = arg;
	uv_close((uv_handle_t *)&ps->retry, handle_closed_cb);
	uv_close((uv_handle_t *)&ps->tick, handle_closed_cb);
	if (ps->state == PS_UP || ps->state == PS_CONNECTING) {
		ps->state = PS_CLOSING;
		uv_close((uv_handle_t *)&ps->tcp, tcp_closed_cb);
	}
	maybe_done(ps);
}

void sl_rsub__psub_free(sl_psub_t *ps)
{
	if (!ps)
		return;
	free(ps->user);
	free(ps->password);
	free(ps->rbuf);
	sl_buf_free(&ps->out);
	free(ps);
}
