/* rconn.c: the life cycle of the one Redis connection (see rconn.h).
 *
 * An attempt: IDLE -> RESOLVING (the resolver answers, then
 * uv_getaddrinfo on libuv's thread pool, so a slow DNS never blocks the
 * loop) -> CONNECTING (uv_tcp_connect) -> HANDSHAKE (AUTH, SELECT, PING
 * written before anything else; rconn_read.c counts their replies and
 * answers SL_RC_RX_UP) -> UP. rconn_read.c only parses and hands replies
 * out: what the connection must do next comes back to read_cb as a
 * result, so the two files never call each other in a circle.
 * Any failure goes through drop(): the socket is closed, waiting
 * commands fail in order, and a retry is due after the backoff; a new
 * attempt starts only once the old socket and any lookup have finished.
 * One repeating 100 ms timer enforces every bound (connect, reply, the
 * pub/sub PING) and starts the retries. Writes: bytes are appended to one
 * buffer; a write goes out when none is under way, and whatever queued
 * meanwhile goes in the next, so a loop turn's commands leave in one or
 * two writes however many there are. gen tells a callback of an older
 * attempt (a write, a lookup) that it no longer matters.
 */
#include "redis/rconn_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define TICK_MS 100
#define PING_AFTER_MS 5000

typedef struct wreq {
	uv_write_t w;
	sl_rconn_t *rc;
	uint64_t gen;
	char *data;
} wreq_t;

static void attempt(sl_rconn_t *rc);

static void maybe_done(sl_rconn_t *rc)
{
	if (rc->closing && rc->open_handles == 0 && !rc->gai_busy && rc->done) {
		void (*done)(void *) = rc->done;
		rc->done = NULL;
		done(rc->done_arg);
	}
}

void sl_rconn__hold(sl_rconn_t *rc)
{
	rc->open_handles++;
}

void sl_rconn__release(sl_rconn_t *rc)
{
	rc->open_handles--;
	maybe_done(rc);
}

static void handle_closed_cb(uv_handle_t *h)
{
	sl_rconn_t *rc = h->data;
	if (h == (uv_handle_t *)&rc->tcp) {
		rc->tcp_open = false;
		sl_tls_free(rc->tls); /* libuv has called back its every write */
		rc->tls = NULL;
	}
	sl_rconn__release(rc);
}

/* ---- dropping ---- */
static void log_down(sl_rconn_t *rc, bool was_up, const char *ev, const char *why)
{
	if (rc->closing) {
		if (was_up)
			sl_log_info("redis_closed", SL_KV(conn, rc->name), SL_KV(addr, rc->addr));
	} else if (was_up) {
		sl_log_warn(ev ? ev : "redis_disconnected", SL_KV(conn, rc->name), SL_KV(addr, rc->addr),
			    SL_KV(error, why));
	} else if (rc->failures++ == 0) {
		sl_log_warn("redis_connect_failed", SL_KV(conn, rc->name), SL_KV(addr, rc->addr), SL_KV(error, why));
	} else {
		sl_log_debug("redis_connect_failed", SL_KV(conn, rc->name), SL_KV(addr, rc->addr),
			     SL_KV(attempt, rc->failures), SL_KV(error, why));
	}
}

/* Drop the connection: ev (NULL: the usual one) logged with why, waiting
 * commands fail, on_state(false) if it was up, a retry is scheduled. */
static void drop(sl_rconn_t *rc, const char *ev, const char *why)
{
	if (rc->st == SL_RC_IDLE)
		return;
	bool was_up = rc->st == SL_RC_UP;
	log_down(rc, was_up, ev, why);
	rc->st = SL_RC_IDLE;
	rc->gen++;
	rc->awaiting_resolve = false;
	if (rc->tcp_open && !uv_is_closing((uv_handle_t *)&rc->tcp))
		uv_close((uv_handle_t *)&rc->tcp, handle_closed_cb);
	sl_buf_reset(&rc->out);
	rc->writing = false; /* a write under way is cancelled with the socket */
	rc->rlen = 0;
	if (rc->reader) {
		redisReaderFree(rc->reader);
		rc->reader = redisReaderCreate();
	}
	rc->ping_out = false;
	if (!rc->closing) {
		rc->retry_at_ms = sl_clock_mono_ms() + (int64_t)rc->backoff_ms;
		rc->backoff_ms = rc->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : rc->backoff_ms * 2;
	}
	sl_rconn__fail_pending(rc);
	if (was_up && rc->state_cb && !rc->closing)
		rc->state_cb(rc, false, rc->state_arg);
}

/* The handshake is answered: the connection is up. */
static void up(sl_rconn_t *rc)
{
	rc->st = SL_RC_UP;
	rc->backoff_ms = BACKOFF_MIN_MS;
	rc->last_rx_ms = sl_clock_mono_ms();
	if (rc->pubsub)
		sl_log_info("redis_connected", SL_KV(conn, rc->name), SL_KV(addr, rc->addr),
			    SL_KV(after_failures, rc->failures));
	else
		sl_log_info("redis_connected", SL_KV(conn, rc->name), SL_KV(addr, rc->addr), SL_KV(db, rc->url.db),
			    SL_KV(after_failures, rc->failures));
	rc->failures = 0;
	if (rc->state_cb)
		rc->state_cb(rc, true, rc->state_arg);
}

/* ---- writing ---- */
static void flush(sl_rconn_t *rc);

static void write_cb(uv_write_t *w, int status)
{
	wreq_t *wr = sl_container_of(w, wreq_t, w);
	sl_rconn_t *rc = wr->rc;
	bool current = wr->gen == rc->gen;
	free(wr->data);
	free(wr);
	if (!current)
		return; /* a dropped attempt's write, cancelled with its socket */
	rc->writing = false;
	if (status < 0) {
		drop(rc, NULL, uv_strerror(status));
		return;
	}
	flush(rc);
}

/* A TLS write came back: what queued meanwhile goes next; a failure on
 * the current socket drops it (a dropped attempt's writes come back
 * cancelled, before its close, when the state is no longer theirs). */
static void tls_written_cb(void *ud, int status, size_t bytes)
{
	(void)bytes;
	sl_rconn_t *rc = ud;
	if (rc->st != SL_RC_HANDSHAKE && rc->st != SL_RC_UP)
		return;
	rc->writing = false;
	if (status < 0) {
		drop(rc, NULL, uv_strerror(status));
		return;
	}
	flush(rc);
}

/* TLS: once the handshake is done, everything queued is encrypted at once
 * (sl_tls_write copies it) and handed to one uv_write; while that write is
 * under way new bytes wait in out, so a loop turn's commands go out as a
 * few records, as they go out in one or two writes without TLS. */
static void flush_tls(sl_rconn_t *rc)
{
	if (!sl_tls_handshake_done(rc->tls))
		return; /* read_cb flushes when it completes */
	uv_buf_t b = uv_buf_init(rc->out.data, (unsigned)rc->out.len);
	size_t queued = 0;
	int e = sl_tls_write(rc->tls, &b, 1, false, tls_written_cb, rc, &queued);
	sl_buf_reset(&rc->out);
	if (e < 0) {
		drop(rc, NULL, "TLS write failed");
		return;
	}
	rc->writing = queued > 0; /* tls_written_cb clears it */
}

static void flush(sl_rconn_t *rc)
{
	if (rc->writing || !rc->out.len || (rc->st != SL_RC_HANDSHAKE && rc->st != SL_RC_UP))
		return;
	if (rc->tls) {
		flush_tls(rc);
		return;
	}
	wreq_t *wr = sl_xmalloc(sizeof(*wr));
	size_t n;
	wr->rc = rc;
	wr->gen = rc->gen;
	wr->data = sl_buf_steal(&rc->out, &n);
	uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
	if (uv_write(&wr->w, (uv_stream_t *)&rc->tcp, &b, 1, write_cb) < 0) {
		free(wr->data);
		free(wr);
		drop(rc, NULL, "write failed");
		return;
	}
	rc->writing = true;
}

/* Queue bytes for the socket and start a write if none is under way. */
static void send_bytes(sl_rconn_t *rc, const char *bytes, size_t len)
{
	sl_buf_append(&rc->out, bytes, len);
	flush(rc);
}

/* ---- reading ---- */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	sl_rconn_t *rc = h->data;
	const size_t chunk = 64 * 1024;
	if (rc->rcap - rc->rlen < chunk) {
		size_t cap = rc->rcap ? rc->rcap * 2 : 4 * chunk;
		while (cap - rc->rlen < chunk)
			cap *= 2;
		rc->rbuf = sl_xrealloc(rc->rbuf, cap);
		rc->rcap = cap;
	}
	*buf = uv_buf_init(rc->rbuf + rc->rlen, (unsigned)(rc->rcap - rc->rlen));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	sl_rconn_t *rc = s->data;
	if (nread < 0) {
		drop(rc, NULL, nread == UV_EOF ? "server closed the connection" : uv_strerror((int)nread));
		return;
	}
	if (nread == 0)
		return;
	rc->last_rx_ms = sl_clock_mono_ms();
	rc->ping_out = false;
	const char *bytes = buf->base;
	size_t n = (size_t)nread;
	if (rc->tls) {
		/* Ciphertext in; the plaintext goes where the parser expects the
		 * bytes read (pub/sub parses in place at rbuf + rlen). */
		sl_err_t err = {0};
		sl_buf_reset(&rc->plain);
		if (sl_tls_read(rc->tls, buf->base, n, &rc->plain, &err) < 0) {
			drop(rc, NULL, err.msg);
			return;
		}
		if (rc->st == SL_RC_HANDSHAKE && sl_tls_handshake_done(rc->tls)) {
			uint64_t gen = rc->gen;
			flush(rc); /* AUTH, SELECT, PING waited for it */
			if (gen != rc->gen)
				return; /* the write failed: dropped, nothing to parse */
		}
		if (!rc->plain.len)
			return;
		if (rc->rcap - rc->rlen < rc->plain.len) {
			rc->rcap = rc->rlen + rc->plain.len;
			rc->rbuf = sl_xrealloc(rc->rbuf, rc->rcap);
		}
		memcpy(rc->rbuf + rc->rlen, rc->plain.data, rc->plain.len);
		bytes = rc->rbuf + rc->rlen;
		n = rc->plain.len;
	}
	sl_rconn__rx_t rx = {NULL, NULL};
	int res = sl_rconn__received(rc, bytes, n, &rx);
	while (res == SL_RC_RX_UP) {
		uint64_t gen = rc->gen;
		up(rc);
		if (gen != rc->gen)
			return; /* on_state(true) dropped or closed it */
		res = sl_rconn__received(rc, NULL, 0, &rx); /* what came after the PING's answer */
	}
	if (res == SL_RC_RX_DROP)
		drop(rc, rx.ev, rx.why);
}

/* ---- connecting ---- */
static void append_cmd(sl_buf_t *b, int argc, const char *const *argv)
{
	sl_buf_printf(b, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++)
		sl_buf_printf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

static void handshake(sl_rconn_t *rc)
{
	rc->st = SL_RC_HANDSHAKE;
	rc->hs_left = rc->hs_step = 0;
	sl_buf_t b = SL_BUF_INIT;
	if (rc->url.user[0]) {
		const char *argv[] = {"AUTH", rc->url.user, rc->url.password};
		append_cmd(&b, 3, argv);
		rc->hs_names[rc->hs_left++] = "AUTH";
	} else if (rc->url.password[0]) {
		const char *argv[] = {"AUTH", rc->url.password};
		append_cmd(&b, 2, argv);
		rc->hs_names[rc->hs_left++] = "AUTH";
	}
	if (rc->url.db && !rc->pubsub) {
		char db[16];
		snprintf(db, sizeof(db), "%d", rc->url.db);
		const char *argv[] = {"SELECT", db};
		append_cmd(&b, 2, argv);
		rc->hs_names[rc->hs_left++] = "SELECT";
	}
	const char *ping[] = {"PING"};
	append_cmd(&b, 1, ping);
	rc->hs_names[rc->hs_left++] = "PING";
	send_bytes(rc, b.data, b.len);
	sl_buf_free(&b);
}

static void connect_cb(uv_connect_t *req, int status)
{
	sl_rconn_t *rc = req->data;
	if (rc->st != SL_RC_CONNECTING)
		return; /* dropped meanwhile (timed out, closing) */
	if (status < 0) {
		drop(rc, NULL, uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(&rc->tcp, 1);
	uv_tcp_keepalive(&rc->tcp, 1, 30);
	uv_read_start((uv_stream_t *)&rc->tcp, alloc_cb, read_cb);
	if (rc->tls_ctx) {
		/* TLS first; the Redis handshake below waits in out until it is
		 * done (flush_tls), all within the connect bound. */
		sl_err_t err = {0};
		rc->tls = sl_tls_new_client(rc->tls_ctx, (uv_stream_t *)&rc->tcp, rc->tls_host);
		if (sl_tls_start(rc->tls, &err) < 0) {
			drop(rc, NULL, err.msg);
			return;
		}
	}
	handshake(rc);
}

static void tcp_connect(sl_rconn_t *rc, const struct sockaddr *sa)
{
	uv_tcp_init(rc->loop, &rc->tcp);
	rc->tcp.data = rc;
	rc->tcp_open = true;
	rc->open_handles++;
	rc->creq.data = rc;
	rc->st = SL_RC_CONNECTING;
	int e = uv_tcp_connect(&rc->creq, &rc->tcp, sa, connect_cb);
	if (e < 0)
		drop(rc, NULL, uv_strerror(e));
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	sl_rconn_t *rc = req->data;
	rc->gai_busy = false;
	if (rc->closing || rc->gai_gen != rc->gen || rc->st != SL_RC_RESOLVING) {
		uv_freeaddrinfo(res);
		maybe_done(rc);
		return;
	}
	if (status < 0 || !res) {
		uv_freeaddrinfo(res);
		char why[160];
		snprintf(why, sizeof(why), "cannot resolve: %s", uv_strerror(status));
		drop(rc, NULL, why);
		return;
	}
	tcp_connect(rc, res->ai_addr);
	uv_freeaddrinfo(res);
}

void sl_rconn_resolved(sl_rconn_t *rc, const char *host, int port)
{
	if (!rc->awaiting_resolve)
		return; /* a late answer to an attempt that ended */
	rc->awaiting_resolve = false;
	if (!host || !host[0] || port < 1 || port > 65535) {
		drop(rc, NULL, "no address from the resolver");
		return;
	}
	snprintf(rc->addr, sizeof(rc->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	snprintf(rc->tls_host, sizeof(rc->tls_host), "%s", host);
	/* An address needs no lookup (and no thread-pool slot, which Kafka's
	 * blocking calls may be holding). */
	struct sockaddr_storage ss;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0 ||
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0) {
		tcp_connect(rc, (const struct sockaddr *)&ss);
		return;
	}
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	rc->gai.data = rc;
	rc->gai_gen = rc->gen;
	int e = uv_getaddrinfo(rc->loop, &rc->gai, gai_cb, host, portstr, &hints);
	if (e < 0) {
		drop(rc, NULL, uv_strerror(e));
		return;
	}
	rc->gai_busy = true;
}

static void url_resolver(sl_rconn_t *rc, void *arg)
{
	(void)arg;
	sl_rconn_resolved(rc, rc->url.host, rc->url.port);
}

static void attempt(sl_rconn_t *rc)
{
	rc->retry_at_ms = 0;
	rc->st = SL_RC_RESOLVING;
	rc->attempt_ms = sl_clock_mono_ms();
	rc->awaiting_resolve = true;
	rc->resolve(rc, rc->resolve_arg);
}

/* ---- the tick ---- */
static void tick_cb(uv_timer_t *t)
{
	sl_rconn_t *rc = t->data;
	int64_t now = sl_clock_mono_ms();
	if (rc->st != SL_RC_IDLE && rc->st != SL_RC_UP && now - rc->attempt_ms > (int64_t)rc->connect_timeout_ms) {
		drop(rc, NULL, "connect timed out");
		return;
	}
	if (rc->st == SL_RC_UP && rc->head && now - rc->head->sent_ms > (int64_t)rc->reply_timeout_ms) {
		sl_log_warn("redis_timeout", SL_KV(conn, rc->name), SL_KV(addr, rc->addr), SL_KV(waiting, rc->npending),
			    SL_KV(timeout_ms, rc->reply_timeout_ms));
		drop(rc, "redis_disconnected", "reply timed out");
		return;
	}
	if (rc->st == SL_RC_UP && rc->pubsub) {
		if (rc->ping_out && now - rc->ping_sent_ms >= (int64_t)rc->reply_timeout_ms) {
			sl_log_warn("redis_timeout", SL_KV(conn, rc->name), SL_KV(addr, rc->addr),
				    SL_KV(timeout_ms, rc->reply_timeout_ms));
			drop(rc, "redis_disconnected", "no answer to PING");
			return;
		}
		if (!rc->ping_out && now - rc->last_rx_ms >= PING_AFTER_MS) {
			rc->ping_out = true;
			rc->ping_sent_ms = now;
			send_bytes(rc, "*1\r\n$4\r\nPING\r\n", 14);
		}
	}
	if (rc->st == SL_RC_IDLE && rc->retry_at_ms && now >= rc->retry_at_ms && !rc->tcp_open && !rc->gai_busy)
		attempt(rc);
}

/* ---- the API ---- */
sl_rconn_t *sl_rconn_open(uv_loop_t *loop, const char *url, const sl_rconn_opts_t *o, sl_err_t *err)
{
	sl_rconn_t *rc = sl_xcalloc(1, sizeof(*rc));
	if (sl_redis_url_parse(url, &rc->url, err) < 0) {
		free(rc);
		return NULL;
	}
	if (rc->url.tls) {
		rc->tls_ctx = sl_tls_client_ctx_new(rc->url.tls_ca, rc->url.tls_cert, rc->url.tls_key, err);
		if (!rc->tls_ctx) {
			free(rc);
			return NULL;
		}
	}
	rc->loop = loop;
	rc->name = sl_xstrdup(o->name ? o->name : "redis");
	snprintf(rc->addr, sizeof(rc->addr), "%s", rc->url.addr);
	rc->pubsub = o->sub != NULL;
	if (o->sub)
		rc->sub = *o->sub;
	rc->sub_arg = o->sub_arg;
	rc->resolve = o->resolve ? o->resolve : url_resolver;
	rc->resolve_arg = o->resolve_arg;
	rc->on_close = o->on_close;
	rc->on_free = o->on_free;
	rc->hook_arg = o->hook_arg;
	rc->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 3000;
	rc->reply_timeout_ms = o->reply_timeout_ms ? o->reply_timeout_ms : 5000;
	rc->backoff_ms = BACKOFF_MIN_MS;
	if (!rc->pubsub)
		rc->reader = redisReaderCreate();
	uv_timer_init(loop, &rc->timer);
	rc->timer.data = rc;
	rc->open_handles = 1;
	uv_timer_start(&rc->timer, tick_cb, TICK_MS, TICK_MS);
	attempt(rc);
	return rc;
}

sl_rconn_t *sl_rconn_new(uv_loop_t *loop, const char *url, const char *name, sl_err_t *err)
{
	sl_rconn_opts_t o = {.name = name};
	return sl_rconn_open(loop, url, &o, err);
}

const char *sl_rconn_url_host(const sl_rconn_t *rc)
{
	return rc->url.host;
}

int sl_rconn_url_port(const sl_rconn_t *rc)
{
	return rc->url.port;
}

void sl_rconn_set_timeouts(sl_rconn_t *rc, uint64_t reply_ms, uint64_t connect_ms)
{
	if (reply_ms)
		rc->reply_timeout_ms = reply_ms;
	if (connect_ms)
		rc->connect_timeout_ms = connect_ms;
}

void sl_rconn_on_state(sl_rconn_t *rc, sl_rconn_state_cb cb, void *arg)
{
	rc->state_cb = cb;
	rc->state_arg = arg;
}

bool sl_rconn_connected(const sl_rconn_t *rc)
{
	return rc->st == SL_RC_UP && !rc->closing;
}

size_t sl_rconn_pending(const sl_rconn_t *rc)
{
	return rc->npending;
}

/* Queue formatted bytes with their callback. */
static int enqueue(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, const char *bytes, size_t len)
{
	sl_rconn__cmd_t *c = sl_xmalloc(sizeof(*c));
	c->next = NULL;
	c->cb = cb;
	c->arg = arg;
	c->sent_ms = sl_clock_mono_ms();
	if (rc->tail)
		rc->tail->next = c;
	else
		rc->head = c;
	rc->tail = c;
	rc->npending++;
	send_bytes(rc, bytes, len);
	return 0;
}

int sl_rconn_command(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, const char *fmt, ...)
{
	if (rc->pubsub || !sl_rconn_connected(rc))
		return SL_EUNAVAIL;
	va_list ap;
	va_start(ap, fmt);
	char *bytes = NULL;
	int len = redisvFormatCommand(&bytes, fmt, ap);
	va_end(ap);
	if (len < 0)
		return SL_EINVAL;
	int rv = enqueue(rc, cb, arg, bytes, (size_t)len);
	free(bytes);
	return rv;
}

int sl_rconn_commandargv(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, int argc, const char **argv,
			 const size_t *argvlen)
{
	if (rc->pubsub || !sl_rconn_connected(rc))
		return SL_EUNAVAIL;
	if (argc < 1)
		return SL_EINVAL;
	char *bytes = NULL;
	int len = redisFormatCommandArgv(&bytes, argc, argv, argvlen);
	if (len < 0)
		return SL_EINVAL;
	int rv = enqueue(rc, cb, arg, bytes, (size_t)len);
	free(bytes);
	return rv;
}

static int sub_send(sl_rconn_t *rc, const char *verb, const char *channel, size_t len)
{
	if (!rc->pubsub || !sl_rconn_connected(rc))
		return SL_EUNAVAIL;
	char head[64];
	int n = snprintf(head, sizeof(head), "*2\r\n$%zu\r\n%s\r\n$%zu\r\n", strlen(verb), verb, len);
	sl_buf_append(&rc->out, head, (size_t)n);
	sl_buf_append(&rc->out, channel, len);
	send_bytes(rc, "\r\n", 2);
	return 0;
}

int sl_rconn_subscribe(sl_rconn_t *rc, const char *channel, size_t len)
{
	return sub_send(rc, "SUBSCRIBE", channel, len);
}

int sl_rconn_unsubscribe(sl_rconn_t *rc, const char *channel, size_t len)
{
	return sub_send(rc, "UNSUBSCRIBE", channel, len);
}

void sl_rconn_reconnect(sl_rconn_t *rc, const char *ev, const char *why)
{
	if (!rc->closing)
		drop(rc, ev, why);
}

void sl_rconn_close(sl_rconn_t *rc, void (*done)(void *arg), void *arg)
{
	if (rc->closing)
		return;
	rc->closing = true;
	rc->done = done;
	rc->done_arg = arg;
	rc->state_cb = NULL;
	drop(rc, NULL, "closing");
	if (rc->on_close)
		rc->on_close(rc->hook_arg);
	if (rc->gai_busy)
		uv_cancel((uv_req_t *)&rc->gai); /* its callback still comes */
	uv_close((uv_handle_t *)&rc->timer, handle_closed_cb);
}

void sl_rconn_free(sl_rconn_t *rc)
{
	if (!rc)
		return;
	if (rc->on_free)
		rc->on_free(rc->hook_arg);
	if (rc->reader)
		redisReaderFree(rc->reader);
	sl_buf_free(&rc->out);
	sl_buf_free(&rc->plain);
	sl_tls_ctx_free(rc->tls_ctx);
	free(rc->rbuf);
	free(rc->name);
	free(rc);
}
