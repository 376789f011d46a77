/* http.c: the HTTP/1.1 server of http.h: listening, connections, answers.
 *
 * How it fits: roles create one server per loop (http_util.c builds it from
 * the settings). Below it, http_msg.c parses (it moves a connection's phase
 * as a request arrives) and http_iplimit.c counts connections per address.
 * Each connection owns an input buffer; http-parser runs over it and pauses
 * at the end of each request, so a request is handled and answered before
 * the next pipelined one is parsed. Processing is one loop per connection:
 * an answer given inside the handler only marks the request answered and
 * the loop takes the next one; an answer given later (a long poll) starts
 * the loop again. So a burst of 50,000 pipelined requests is 50,000 turns of
 * a loop, not 50,000 nested calls.
 * What a client may cost is bounded: its input (a request head, a body, and
 * while a request waits for its answer, what follows it), its queued
 * output (past max_queued_out the connection is neither read nor parsed
 * until the client has read half of it), and its time: one timer per
 * connection holds the deadline of its phase (idle between requests, head,
 * body; none while the handler owns the request). A head or body past its
 * deadline gets 408 and the connection closes; an idle one just closes.
 * Connections are limited in all (one count may be shared by the loops of
 * a process) and per address; refusals and accept failures (out of file
 * descriptors) are logged at most once a second with the number folded in.
 * A response is one buffer (head + body) and one uv_write. When closing,
 * the server waits for every handle's close callback before calling done.
 * http_listen.c opens the listening socket (SO_REUSEPORT for the loops that
 * share a port) and hands its connections to sl_http__accept_cb here.
 * TLS (proto/tls.h): the connection's bytes pass through its sl_tls_t
 * both ways; the parser and the handlers never see ciphertext, and a
 * response's encrypted write reports back like a plain one.
 * References: RFC 9112, RFC 9110 section 15.5.9 (408).
 * Non-goals: HTTP/2, compression, response streaming.
 */
#include "proto/http_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef sl_http__conn_t conn_t;

static void conn_close(conn_t *c);
static void conn_process(conn_t *c);
static const char *cors_origin(const sl_http_server_t *srv, const sl_http_req_t *req);
static void maybe_done(sl_http_server_t *srv);
static void arm(conn_t *c);

static void default_error_fmt(int status, const char *code, const char *message, sl_buf_t *out)
{
	(void)status;
	sl_buf_puts(out, "{\"error\":");
	sl_buf_json_str(out, code, strlen(code));
	sl_buf_puts(out, ",\"message\":");
	sl_buf_json_str(out, message, strlen(message));
	sl_buf_puts(out, "}");
}

/* True when this event should be logged now; else it is counted. */
static bool ratelog(sl_http__ratelog_t *rl, uint64_t *folded)
{
	uint64_t now = (uint64_t)sl_clock_mono_ms();
	if (rl->last_ms && now - rl->last_ms < 1000) {
		rl->suppressed++;
		return false;
	}
	rl->last_ms = now;
	*folded = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

/* ---- writing ---- */

typedef struct wreq {
	uv_write_t w;
	conn_t *conn;
	char *data;
	size_t len;
} wreq_t;

/* A write of len bytes (plaintext, or its ciphertext under TLS) is done. */
static void after_write(conn_t *c, int status, size_t len)
{
	c->out_bytes -= len;
	c->writes_in_flight--;
	if (status < 0 || (c->close_after_write && c->writes_in_flight == 0)) {
		if (status < 0)
			sl_log_debug("http_write_failed", SL_KV(conn, c->id), SL_KV(error, uv_strerror(status)));
		else
			sl_log_debug("http_closed_after_write", SL_KV(conn, c->id), SL_KV(status, c->error_status));
		conn_close(c);
		return;
	}
	if (!c->out_blocked)
		return;
	if (c->out_bytes <= c->srv->lim.max_queued_out / 2) {
		/* The client read what piled up: take its requests again. */
		c->out_blocked = false;
		conn_process(c);
	} else {
		arm(c); /* it reads: the idle clock starts again */
	}
}

static void write_cb(uv_write_t *w, int status)
{
	wreq_t *wr = sl_container_of(w, wreq_t, w);
	conn_t *c = wr->conn;
	size_t len = wr->len;
	free(wr->data);
	free(wr);
	after_write(c, status, len);
}

static void tls_written_cb(void *ud, int status, size_t bytes)
{
	after_write(ud, status, bytes);
}

static void conn_write(conn_t *c, char *data, size_t len)
{
	if (c->tls) {
		/* Encrypted at once; the ciphertext's write reports back like a
		 * plain one (always later: never from inside this call). */
		uv_buf_t b = uv_buf_init(data, (unsigned)len);
		size_t queued = 0;
		int rc = sl_tls_write(c->tls, &b, 1, false, tls_written_cb, c, &queued);
		free(data);
		if (rc < 0) {
			conn_close(c);
			return;
		}
		if (queued) {
			c->writes_in_flight++;
			c->out_bytes += queued;
		}
		return;
	}
	wreq_t *wr = sl_xmalloc(sizeof(*wr));
	wr->conn = c;
	wr->data = data;
	wr->len = len;
	uv_buf_t b = uv_buf_init(data, (unsigned)len);
	c->writes_in_flight++;
	c->out_bytes += len;
	if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, write_cb) < 0) {
		c->writes_in_flight--;
		c->out_bytes -= len;
		free(data);
		free(wr);
		conn_close(c);
	}
}

static void write_response(conn_t *c, int status, const char *ctype, const void *body, size_t len, bool keep_alive,
			   const sl_buf_t *extra)
{
	sl_buf_t out = SL_BUF_INIT;
	sl_buf_reserve(&out, 256 + len);
	sl_buf_printf(&out, "HTTP/1.1 %d %s\r\n", status, sl_http_status_text(status));
	if (status != 204 && status != 304)
		sl_buf_printf(&out, "Content-Length: %zu\r\n", len);
	if (ctype && status != 204)
		sl_buf_printf(&out, "Content-Type: %s\r\n", ctype);
	if (!keep_alive)
		sl_buf_puts(&out, "Connection: close\r\n");
	if (extra && extra->len)
		sl_buf_append(&out, extra->data, extra->len);
	sl_buf_puts(&out, "\r\n");
	if (len && status != 204)
		sl_buf_append(&out, body, len);
	size_t n;
	char *data = sl_buf_steal(&out, &n);
	conn_write(c, data, n);
}

/* Answer with an error of ours and close (a limit, a deadline, bad syntax). */
static void fail_conn(conn_t *c, int status, const char *code, const char *msg)
{
	sl_buf_t body = SL_BUF_INIT;
	c->srv->error_fmt(status, code, msg, &body);
	c->close_after_write = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	write_response(c, status, "application/json", body.data, body.len, false, NULL);
	sl_buf_free(&body);
	sl_log_debug("http_bad_request", SL_KV(conn, c->id), SL_KV(status, status), SL_KV(error_code, code));
}

/* ---- deadlines ---- */

static void timer_cb(uv_timer_t *t)
{
	conn_t *c = sl_container_of(t, conn_t, timer);
	if (c->closing || c->hijacked)
		return;
	switch (c->phase) {
	case SL_HTTP__IDLE:
		sl_log_debug("http_idle_close", SL_KV(conn, c->id));
		conn_close(c);
		break;
	case SL_HTTP__HEAD:
	case SL_HTTP__BODY: {
		bool head = c->phase == SL_HTTP__HEAD;
		sl_metric_add(c->srv->m_timeouts, 1);
		char msg[128];
		snprintf(msg, sizeof(msg), "the request %s did not arrive within %llu ms", head ? "head" : "body",
			 (unsigned long long)(head ? c->srv->lim.head_timeout_ms : c->srv->lim.body_timeout_ms));
		fail_conn(c, 408, head ? "head_timeout" : "body_timeout", msg);
		break;
	}
	default:
		break; /* the handler owns the pace */
	}
}

/* Arm the deadline of the phase the connection is in now. The loop's
 * clock is refreshed first: libuv's "now" is taken once per iteration, and
 * after a long one (thousands of pipelined requests on a busy machine) a
 * deadline counted from it would already have passed and cut a client
 * that did nothing wrong (seen: 408 in the middle of a pipelined flood). */
static void arm(conn_t *c)
{
	const sl_http_limits_t *lim = &c->srv->lim;
	if (c->phase <= SL_HTTP__BODY)
		uv_update_time(c->srv->loop);
	switch (c->phase) {
	case SL_HTTP__IDLE: uv_timer_start(&c->timer, timer_cb, lim->idle_timeout_ms, 0); break;
	case SL_HTTP__HEAD: uv_timer_start(&c->timer, timer_cb, lim->head_timeout_ms, 0); break;
	case SL_HTTP__BODY: uv_timer_start(&c->timer, timer_cb, lim->body_timeout_ms, 0); break;
	default: uv_timer_stop(&c->timer); break;
	}
}

/* ---- reading and processing ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	conn_t *c = (conn_t *)h;
	/* One read buffer per server: read_cb consumes or copies it at once. */
	*buf = uv_buf_init(c->srv->readbuf, sizeof(c->srv->readbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void fail_parse(conn_t *c)
{
	int status = c->error_status ? c->error_status : 400;
	const char *code = c->error_code ? c->error_code : "bad_request";
	char msg[160];
	if (status == 413)
		snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes", c->srv->lim.max_body_bytes);
	else if (status == 431)
		snprintf(msg, sizeof(msg), "request head over the limit of %zu bytes", c->srv->lim.max_header_bytes);
	else
		snprintf(msg, sizeof(msg), "malformed HTTP request: %s",
			 http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
	fail_conn(c, status, code, msg);
}

static bool preflight(conn_t *c)
{
	if (strcmp(c->req.method, "OPTIONS") != 0 || !cors_origin(c->srv, &c->req) ||
	    !sl_http_req_header(&c->req, "access-control-request-method"))
		return false;
	/* CORS preflight: answered here, the handler never sees it. */
	sl_http_req_add_header(&c->req, "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS");
	const char *h = sl_http_req_header(&c->req, "access-control-request-headers");
	sl_buf_t line = SL_BUF_INIT;
	sl_buf_printf(&line, "Access-Control-Allow-Headers: %s", h && !strpbrk(h, "\r\n") ? h : "Content-Type");
	sl_http_req_add_header(&c->req, line.data);
	sl_buf_free(&line);
	sl_http_req_add_header(&c->req, "Access-Control-Max-Age: 600");
	sl_http_respond(&c->req, 204, NULL, NULL, 0);
	return true;
}

/* Parse and hand over requests until one waits for its answer, the input
 * runs out, or the client has too much output waiting. The only place that
 * calls the handler; re-entered by nothing (c->processing). */
static void conn_process(conn_t *c)
{
	if (c->processing)
		return;
	c->processing = true;
	size_t limit_in = c->srv->lim.max_header_bytes + c->srv->lim.max_body_bytes + 4096;
	while (!c->closing && !c->hijacked && !c->close_after_write) {
		if (c->in_request)
			break; /* answered later (a long poll) */
		if (c->out_bytes > c->srv->lim.max_queued_out) {
			/* The client does not read its answers: neither read nor
			 * parse until write_cb sees it drain; meanwhile only the
			 * idle timeout runs (restarted whenever it reads some). */
			c->out_blocked = true;
			c->phase = SL_HTTP__IDLE;
			arm(c);
			break;
		}
		if (c->in.len == 0)
			break;
		if (c->phase == SL_HTTP__IDLE) {
			c->phase = SL_HTTP__HEAD; /* the head deadline runs from the first byte */
			arm(c);
		}
		uint8_t before = c->phase;
		size_t n = http_parser_execute(&c->parser, &sl_http__parser_settings, c->in.data, c->in.len);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		if (e != HPE_OK && e != HPE_PAUSED) {
			fail_parse(c);
			break;
		}
		memmove(c->in.data, c->in.data + n, c->in.len - n);
		c->in.len -= n;
		if (c->phase != before && c->phase == SL_HTTP__BODY)
			arm(c);
		if (!c->in_request)
			break; /* need more bytes */
		http_parser_pause(&c->parser, 0);
		uv_timer_stop(&c->timer);
		sl_metric_add(c->srv->m_requests, 1);
		if (!preflight(c))
			c->srv->handler(&c->req, c->srv->arg);
	}
	c->processing = false;
	if (c->closing || c->hijacked || c->close_after_write)
		return;
	bool stop = c->out_blocked || (c->in_request && c->in.len > limit_in);
	if (!c->in_request && !c->out_blocked && c->in.len > limit_in) {
		/* A half request must not grow past the limits while buffered.
		 * (Blocked on output, what waits is whole requests, and reading
		 * stopped: at most one more read lands in c->in.) */
		c->error_status = 413;
		c->error_code = "request_too_large";
		fail_parse(c);
		return;
	}
	/* Keep reading while an answer is pending, so a client that goes away
	 * is noticed at once (its abort callback fires); what it sends meanwhile
	 * waits in c->in, bounded above, and past it TCP pushes back. */
	if (stop)
		uv_read_stop((uv_stream_t *)&c->tcp);
	else
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	conn_t *c = (conn_t *)s;
	if (nread < 0) {
		if (nread != UV_EOF)
			sl_log_debug("http_read_failed", SL_KV(conn, c->id), SL_KV(error, uv_strerror((int)nread)));
		conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	const char *data = buf->base;
	size_t len = (size_t)nread;
	if (c->tls) {
		sl_buf_t *plain = &c->srv->plain;
		sl_err_t err = {0};
		plain->len = 0;
		if (sl_tls_read(c->tls, data, len, plain, &err) < 0) {
			sl_log_debug("http_tls_failed", SL_KV(conn, c->id), SL_KV(error, err.msg));
			conn_close(c);
			return;
		}
		if (plain->len == 0)
			return; /* handshake, or a record not complete yet */
		data = plain->data;
		len = plain->len;
	}
	if (c->hijacked) {
		c->hcbs.on_read(c->hud, data, len);
		return;
	}
	sl_buf_append(&c->in, data, len);
	conn_process(c);
}

static void handle_closed_cb(uv_handle_t *h)
{
	conn_t *c = h->type == UV_TIMER ? sl_container_of((uv_timer_t *)h, conn_t, timer) : (conn_t *)h;
	if (--c->pending_handles > 0)
		return;
	sl_http_server_t *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	if (srv->shared_conns)
		atomic_fetch_sub(srv->shared_conns, 1);
	if (c->ip_counted)
		sl_http__iplimit_give(srv->iplimit, &c->peer);
	sl_http__req_free(&c->req);
	sl_buf_free(&c->in);
	sl_tls_free(c->tls); /* libuv has called back every write by now */
	free(c);
	maybe_done(srv);
}

static void conn_close(conn_t *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->in_request && !c->req.answered && c->req.abort_cb)
		c->req.abort_cb(&c->req, c->req.abort_arg);
	c->in_request = false;
	if (c->hijacked && c->hcbs.on_close)
		c->hcbs.on_close(c->hud);
	c->pending_handles = 2;
	uv_close((uv_handle_t *)&c->tcp, handle_closed_cb);
	uv_close((uv_handle_t *)&c->timer, handle_closed_cb);
}

/* ---- accepting ---- */

static void refuse(sl_http_server_t *srv, conn_t *c, const char *reason)
{
	sl_metric_add(srv->m_rejected, 1);
	uint64_t folded;
	if (ratelog(&srv->rl_reject, &folded))
		sl_log_warn("http_conn_rejected", SL_KV(reason, reason), SL_KV(conns, srv->nconns),
			    SL_KV(suppressed, folded));
	conn_close(c);
}

void sl_http__accept_cb(uv_stream_t *ls, int status)
{
	sl_http_server_t *srv = sl_container_of((uv_tcp_t *)ls, sl_http_server_t, listener);
	if (status < 0) {
		/* Out of file descriptors, or memory: libuv keeps listening. */
		uint64_t folded;
		if (ratelog(&srv->rl_accept, &folded))
			sl_log_warn("http_accept_failed", SL_KV(error, uv_strerror(status)), SL_KV(conns, srv->nconns),
				    SL_KV(suppressed, folded));
		return;
	}
	conn_t *c = sl_xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->id = ++srv->next_id;
	c->req.conn = c;
	uv_tcp_init(srv->loop, &c->tcp);
	uv_timer_init(srv->loop, &c->timer);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	size_t held = srv->shared_conns ? atomic_fetch_add(srv->shared_conns, 1) + 1 : srv->nconns;
	if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	if (srv->closing) {
		refuse(srv, c, "closing");
		return;
	}
	if (held > srv->lim.max_connections) {
		refuse(srv, c, "max_connections");
		return;
	}
	int plen = sizeof(c->peer);
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &plen) == 0) {
		if (!sl_http__iplimit_take(srv->iplimit, &c->peer)) {
			refuse(srv, c, "max_connections_per_ip");
			return;
		}
		c->ip_counted = true;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (srv->tls)
		c->tls = sl_tls_new(srv->tls, (uv_stream_t *)&c->tcp);
	http_parser_init(&c->parser, HTTP_REQUEST);
	/* A new connection owes its first head within the head deadline. */
	c->phase = SL_HTTP__HEAD;
	arm(c);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	maybe_done(srv);
}

/* ---- server ---- */

sl_http_server_t *sl_http_server_new(uv_loop_t *loop, const sl_http_limits_t *limits, sl_http_handler_cb handler,
				     void *arg)
{
	sl_http_server_t *srv = sl_xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	if (limits) {
		srv->lim = *limits;
	} else {
		sl_http_limits_t d = SL_HTTP_LIMITS_DEFAULT;
		srv->lim = d;
	}
	if (!srv->lim.max_queued_out)
		srv->lim.max_queued_out = 1048576;
	srv->handler = handler;
	srv->arg = arg;
	srv->error_fmt = default_error_fmt;
	if (srv->lim.max_per_ip) {
		srv->iplimit = sl_http_iplimit_new(srv->lim.max_per_ip);
		srv->own_iplimit = true;
	}
	srv->m_requests = sl_metric_counter("sluice_http_requests_total", "", "HTTP requests parsed.");
	srv->m_conns = sl_metric_gauge("sluice_http_connections", "", "Open HTTP connections (all kinds).");
	srv->m_rejected = sl_metric_counter("sluice_http_connections_rejected_total", "",
					    "Connections closed at accept (a connection limit reached, or shutting down).");
	srv->m_timeouts = sl_metric_counter("sluice_http_request_timeouts_total", "",
					    "Requests whose head or body did not arrive in time (408).");
	return srv;
}

void sl_http_server_set_error_fmt(sl_http_server_t *srv, sl_http_error_fmt_cb fmt)
{
	srv->error_fmt = fmt ? fmt : default_error_fmt;
}

void sl_http_server_set_cors(sl_http_server_t *srv, const char *const *origins, size_t n)
{
	for (size_t i = 0; i < srv->ncors; i++)
		free(srv->cors[i]);
	free(srv->cors);
	srv->cors = n ? sl_xcalloc(n, sizeof(char *)) : NULL;
	srv->ncors = n;
	for (size_t i = 0; i < n; i++)
		srv->cors[i] = sl_xstrdup(origins[i]);
}

/* The origin to echo back when this request's Origin is allowed, else NULL. */
static const char *cors_origin(const sl_http_server_t *srv, const sl_http_req_t *req)
{
	if (!srv->ncors)
		return NULL;
	const char *origin = sl_http_req_header(req, "origin");
	if (!origin || strpbrk(origin, "\r\n"))
		return NULL;
	for (size_t i = 0; i < srv->ncors; i++)
		if (!strcmp(srv->cors[i], "*") || !strcmp(srv->cors[i], origin))
			return origin;
	return NULL;
}

void sl_http_server_set_tls(sl_http_server_t *srv, sl_tls_ctx_t *ctx)
{
	sl_tls_ctx_free(srv->tls);
	srv->tls = ctx ? sl_tls_ctx_get_ref(ctx) : NULL;
}

bool sl_http_server_is_tls(const sl_http_server_t *srv)
{
	return srv->tls != NULL;
}

void sl_http_server_set_reuseport(sl_http_server_t *srv, sl_http_reuseport_t mode)
{
	srv->reuseport = mode;
}

void sl_http_server_share_count(sl_http_server_t *srv, atomic_size_t *count)
{
	srv->shared_conns = count;
}

void sl_http_server_share_iplimit(sl_http_server_t *srv, sl_http_iplimit_t *l)
{
	if (srv->own_iplimit)
		sl_http_iplimit_free(srv->iplimit);
	srv->own_iplimit = false;
	srv->iplimit = l;
}

int sl_http_server_port(const sl_http_server_t *srv)
{
	return srv->port;
}

static void maybe_done(sl_http_server_t *srv)
{
	sl_metric_set(srv->m_conns, (double)srv->nconns);
	if (srv->closing && srv->nconns == 0 && !srv->listening && srv->done_cb) {
		void (*cb)(void *) = srv->done_cb;
		srv->done_cb = NULL;
		cb(srv->done_arg);
	}
}

static void listener_closed_cb(uv_handle_t *h)
{
	sl_http_server_t *srv = sl_container_of((uv_tcp_t *)h, sl_http_server_t, listener);
	srv->listening = false;
	if (srv->free_when_closed) {
		sl_http_server_free(srv);
		return;
	}
	maybe_done(srv);
}

void sl_http_server_close(sl_http_server_t *srv, void (*done_cb)(void *arg), void *arg)
{
	srv->closing = true;
	srv->done_cb = done_cb;
	srv->done_arg = arg;
	for (conn_t *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (c->in_request && !c->hijacked)
			c->close_after_write = true; /* answer it, then close */
		else
			conn_close(c);
	}
	if (srv->listening && !uv_is_closing((uv_handle_t *)&srv->listener))
		uv_close((uv_handle_t *)&srv->listener, listener_closed_cb);
	else
		maybe_done(srv);
}

void sl_http_server_free(sl_http_server_t *srv)
{
	if (!srv)
		return;
	sl_http_server_set_cors(srv, NULL, 0);
	sl_tls_ctx_free(srv->tls);
	sl_buf_free(&srv->plain);
	if (srv->own_iplimit)
		sl_http_iplimit_free(srv->iplimit);
	free(srv);
}

void sl_http_server_discard(sl_http_server_t *srv)
{
	/* The listener handle may be open: it frees the server when closed
	 * (the caller's loop runs that close while shutting down). */
	bool open = srv->listening;
	srv->free_when_closed = open;
	sl_http_server_close(srv, NULL, NULL);
	if (!open)
		sl_http_server_free(srv);
}

/* ---- answering ---- */

void *sl_http_req_server_arg(const sl_http_req_t *req)
{
	return req->conn->srv->arg;
}

void sl_http_req_peer(const sl_http_req_t *req, char *out, size_t outlen)
{
	const struct sockaddr_storage *ss = &req->conn->peer;
	int rc = -1;
	if (ss->ss_family == AF_INET)
		rc = uv_ip4_name((const struct sockaddr_in *)ss, out, outlen);
	else if (ss->ss_family == AF_INET6)
		rc = uv_ip6_name((const struct sockaddr_in6 *)ss, out, outlen);
	if (rc != 0)
		snprintf(out, outlen, "unknown");
}

void sl_http_respond(sl_http_req_t *req, int status, const char *content_type, const void *body, size_t len)
{
	conn_t *c = req->conn;
	if (req->answered || c->closing || c->hijacked)
		return;
	req->answered = true;
	const char *origin = cors_origin(c->srv, req);
	if (origin) {
		sl_buf_t line = SL_BUF_INIT;
		sl_buf_printf(&line, "Access-Control-Allow-Origin: %s\r\nVary: Origin", origin);
		sl_http_req_add_header(req, line.data);
		sl_buf_free(&line);
	}
	bool keep = req->keep_alive && !c->close_after_write && !c->srv->closing;
	if (!keep)
		c->close_after_write = true;
	write_response(c, status, content_type, body, len, keep, &req->extra);
	c->in_request = false;
	if (c->closing || !keep)
		return;
	c->phase = SL_HTTP__IDLE;
	arm(c);
	/* Inside conn_process (the usual case) its loop takes the next request;
	 * an answer given later starts the loop here. */
	conn_process(c);
}

void sl_http_respond_json(sl_http_req_t *req, int status, const char *json)
{
	sl_http_respond(req, status, "application/json", json, strlen(json));
}

void sl_http_respond_error(sl_http_req_t *req, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_buf_t body = SL_BUF_INIT;
	req->conn->srv->error_fmt(status, code, msg, &body);
	sl_http_respond(req, status, "application/json", body.data, body.len);
	sl_buf_free(&body);
}

/* ---- taking over ---- */

uv_stream_t *sl_http_hijack(sl_http_req_t *req, const sl_http_hijack_cbs_t *cbs, void *ud, sl_iov_t *leftover)
{
	conn_t *c = req->conn;
	c->hijacked = true;
	c->hcbs = *cbs;
	c->hud = ud;
	c->in_request = false;
	req->answered = true;
	uv_timer_stop(&c->timer);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	if (leftover)
		*leftover = (sl_iov_t){c->in.data ? c->in.data : "", c->in.len};
	/* The leftover stays in c->in until the handler returns; drop it after. */
	c->in.len = 0;
	return (uv_stream_t *)&c->tcp;
}

sl_tls_t *sl_http_stream_tls(uv_stream_t *stream)
{
	return ((conn_t *)stream)->tls;
}

void sl_http_hijack_close(uv_stream_t *stream)
{
	conn_close((conn_t *)stream);
}
