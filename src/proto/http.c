/* http.c: the HTTP/1.1 server of http.h.
 *
 * Each connection owns an input buffer; http-parser runs over it and pauses
 * at the end of each request, so a request is handled and answered before
 * the next pipelined one is parsed. A response is one buffer (head + body)
 * and one uv_write. The server counts connections and, when closing, waits
 * for every handle's close callback before calling done.
 */
#include "proto/http.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/metrics.h"

#include <ctype.h>
#include <stdatomic.h>
#include <errno.h>
#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEADERS 64

typedef struct conn conn_t;

struct sl_http_req {
	conn_t *conn;
	char *method;
	sl_buf_t url;         /* raw request target */
	size_t path_len;      /* url up to '?' */
	sl_buf_t hdrs;        /* "name\0value\0" pairs, names lower-cased */
	size_t hdr_off[MAX_HEADERS][2];
	size_t nhdrs;
	bool last_was_value;
	sl_buf_t body;
	bool upgrade;
	bool keep_alive;
	bool answered;
	sl_buf_t extra;       /* response header lines */
	void *data;
	void (*abort_cb)(sl_http_req_t *req, void *arg);
	void *abort_arg;
};

struct conn {
	uv_tcp_t tcp;          /* first: handle->data is not needed to find us */
	uv_timer_t idle;
	sl_http_server_t *srv;
	http_parser parser;
	sl_buf_t in;           /* bytes read but not yet parsed */
	size_t head_bytes;
	sl_http_req_t req;
	bool in_request;       /* a request is parsed and awaits its answer */
	bool closing;
	bool close_after_write;
	int pending_handles;   /* tcp + timer, for the close callbacks */
	int writes_in_flight;
	uint64_t id;
	/* hijacked */
	bool hijacked;
	sl_http_hijack_cbs_t hcbs;
	void *hud;
	conn_t *next, *prev;   /* server's list */
	int error_status;      /* limit violated while parsing */
	const char *error_code;
};

struct sl_http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	bool listening;
	sl_http_limits_t lim;
	sl_http_handler_cb handler;
	void *arg;
	sl_http_error_fmt_cb error_fmt;
	char *extra_headers;
	char **cors;
	size_t ncors;
	conn_t *conns;
	size_t nconns;
	atomic_size_t *shared_conns; /* the process's count when loops share a limit */
	uint64_t next_id;
	bool closing;
	bool free_when_closed; /* listen failed: free once the listener is closed */
	void (*done_cb)(void *);
	void *done_arg;
	int port;
	sl_http_reuseport_t reuseport; /* several loops share the port */
	char readbuf[65536];
	sl_metric_t *m_requests, *m_conns, *m_rejected;
};

static void conn_close(conn_t *c);
static void conn_process(conn_t *c);
static const char *cors_origin(const sl_http_server_t *srv, const sl_http_req_t *req);
static void maybe_done(sl_http_server_t *srv);

static void default_error_fmt(int status, const char *code, const char *message, sl_buf_t *out)
{
	(void)status;
	sl_buf_puts(out, "{\"error\":");
	sl_buf_json_str(out, code, strlen(code));
	sl_buf_puts(out, ",\"message\":");
	sl_buf_json_str(out, message, strlen(message));
	sl_buf_puts(out, "}");
}

/* ---- parser callbacks ---- */

static conn_t *pconn(http_parser *p)
{
	return sl_container_of(p, conn_t, parser);
}

static int over_head(conn_t *c, size_t n)
{
	c->head_bytes += n;
	if (c->head_bytes > c->srv->lim.max_header_bytes) {
		c->error_status = 431;
		c->error_code = "header_too_large";
		return -1;
	}
	return 0;
}

static void req_reset(sl_http_req_t *r)
{
	free(r->method);
	r->method = NULL;
	sl_buf_reset(&r->url);
	sl_buf_reset(&r->hdrs);
	sl_buf_reset(&r->body);
	sl_buf_reset(&r->extra);
	r->nhdrs = 0;
	r->path_len = 0;
	r->last_was_value = false;
	r->upgrade = r->keep_alive = r->answered = false;
	r->data = NULL;
	r->abort_cb = NULL;
	r->abort_arg = NULL;
}

static int on_message_begin(http_parser *p)
{
	conn_t *c = pconn(p);
	req_reset(&c->req);
	c->head_bytes = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	conn_t *c = pconn(p);
	if (over_head(c, len))
		return -1;
	sl_buf_append(&c->req.url, at, len);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	conn_t *c = pconn(p);
	sl_http_req_t *r = &c->req;
	if (over_head(c, len))
		return -1;
	if (r->nhdrs == 0 || r->last_was_value) {
		if (r->nhdrs > 0)
			sl_buf_putc(&r->hdrs, '\0'); /* end the previous value */
		if (r->nhdrs == MAX_HEADERS) {
			c->error_status = 431;
			c->error_code = "too_many_headers";
			return -1;
		}
		r->hdr_off[r->nhdrs][0] = r->hdrs.len;
		r->nhdrs++;
		r->last_was_value = false;
	}
	for (size_t i = 0; i < len; i++)
		sl_buf_putc(&r->hdrs, (char)tolower((unsigned char)at[i]));
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	conn_t *c = pconn(p);
	sl_http_req_t *r = &c->req;
	if (over_head(c, len))
		return -1;
	if (!r->last_was_value) {
		sl_buf_putc(&r->hdrs, '\0');
		r->hdr_off[r->nhdrs - 1][1] = r->hdrs.len;
		r->last_was_value = true;
	}
	sl_buf_append(&r->hdrs, at, len);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	conn_t *c = pconn(p);
	sl_http_req_t *r = &c->req;
	if (r->nhdrs)
		sl_buf_putc(&r->hdrs, '\0');
	if (r->nhdrs && !r->last_was_value) {
		/* A header with no value at all: point at an empty string. */
		r->hdr_off[r->nhdrs - 1][1] = r->hdrs.len - 1;
	}
	r->method = sl_xstrdup(http_method_str((enum http_method)p->method));
	char *q = r->url.data ? memchr(r->url.data, '?', r->url.len) : NULL;
	r->path_len = q ? (size_t)(q - r->url.data) : r->url.len;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->srv->lim.max_body_bytes) {
		c->error_status = 413;
		c->error_code = "body_too_large";
		return -1;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	conn_t *c = pconn(p);
	if (c->req.body.len + len > c->srv->lim.max_body_bytes) {
		c->error_status = 413;
		c->error_code = "body_too_large";
		return -1;
	}
	sl_buf_append(&c->req.body, at, len);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	conn_t *c = pconn(p);
	c->req.upgrade = p->upgrade;
	c->req.keep_alive = http_should_keep_alive(p);
	c->in_request = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- writing ---- */

typedef struct wreq {
	uv_write_t w;
	conn_t *conn;
	char *data;
} wreq_t;

static void write_cb(uv_write_t *w, int status)
{
	wreq_t *wr = sl_container_of(w, wreq_t, w);
	conn_t *c = wr->conn;
	free(wr->data);
	free(wr);
	c->writes_in_flight--;
	if (status < 0 || (c->close_after_write && c->writes_in_flight == 0)) {
		conn_close(c);
		return;
	}
}

static void conn_write(conn_t *c, char *data, size_t len)
{
	wreq_t *wr = sl_xmalloc(sizeof(*wr));
	wr->conn = c;
	wr->data = data;
	uv_buf_t b = uv_buf_init(data, (unsigned)len);
	c->writes_in_flight++;
	if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, write_cb) < 0) {
		c->writes_in_flight--;
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
	if (c->srv->extra_headers)
		sl_buf_puts(&out, c->srv->extra_headers);
	if (extra && extra->len)
		sl_buf_append(&out, extra->data, extra->len);
	sl_buf_puts(&out, "\r\n");
	if (len && status != 204)
		sl_buf_append(&out, body, len);
	size_t n;
	char *data = sl_buf_steal(&out, &n);
	conn_write(c, data, n);
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	conn_t *c = (conn_t *)h;
	/* One read buffer per server: read_cb consumes or copies it at once. */
	*buf = uv_buf_init(c->srv->readbuf, sizeof(c->srv->readbuf));
}

static void fail_parse(conn_t *c)
{
	int status = c->error_status ? c->error_status : 400;
	const char *code = c->error_code ? c->error_code : "bad_request";
	const char *msg;
	char tmp[160];
	if (status == 413) {
		snprintf(tmp, sizeof(tmp), "request body over the limit of %zu bytes", c->srv->lim.max_body_bytes);
		msg = tmp;
	} else if (status == 431) {
		snprintf(tmp, sizeof(tmp), "request head over the limit of %zu bytes", c->srv->lim.max_header_bytes);
		msg = tmp;
	} else {
		snprintf(tmp, sizeof(tmp), "malformed HTTP request: %s",
			 http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
		msg = tmp;
	}
	sl_buf_t body = SL_BUF_INIT;
	c->srv->error_fmt(status, code, msg, &body);
	c->close_after_write = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	write_response(c, status, "application/json", body.data, body.len, false, NULL);
	sl_buf_free(&body);
	sl_log_debug("http_bad_request", SL_KV(conn, c->id), SL_KV(status, status), SL_KV(error_code, code));
}

static void conn_process(conn_t *c)
{
	while (!c->closing && !c->in_request && !c->hijacked && c->in.len > 0 && !c->close_after_write) {
		size_t n = http_parser_execute(&c->parser, &settings, c->in.data, c->in.len);
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		if (e != HPE_OK && e != HPE_PAUSED) {
			fail_parse(c);
			return;
		}
		/* Remove what was parsed. */
		memmove(c->in.data, c->in.data + n, c->in.len - n);
		c->in.len -= n;
		if (!c->in_request)
			break; /* need more bytes */
		http_parser_pause(&c->parser, 0);
		sl_metric_add(c->srv->m_requests, 1);
		if (!strcmp(c->req.method, "OPTIONS") && cors_origin(c->srv, &c->req) &&
		    sl_http_req_header(&c->req, "access-control-request-method")) {
			/* CORS preflight: answered here, the handler never sees it. */
			sl_http_req_add_header(&c->req, "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS");
			const char *h = sl_http_req_header(&c->req, "access-control-request-headers");
			sl_buf_t line = SL_BUF_INIT;
			sl_buf_printf(&line, "Access-Control-Allow-Headers: %s", h && !strpbrk(h, "\r\n") ? h : "Content-Type");
			sl_http_req_add_header(&c->req, line.data);
			sl_buf_free(&line);
			sl_http_req_add_header(&c->req, "Access-Control-Max-Age: 600");
			sl_http_respond(&c->req, 204, NULL, NULL, 0);
			continue;
		}
		c->srv->handler(&c->req, c->srv->arg);
		if (c->hijacked)
			return;
		if (c->in_request)
			break; /* answered later (a long poll) */
	}
	if (c->in_request) {
		/* Keep reading while the answer is pending, so a client that goes
		 * away is noticed at once (its abort callback fires) instead of
		 * when the answer is written; the bytes of a pipelined next
		 * request wait in c->in, and past the limits TCP pushes back. */
		if (c->in.len > c->srv->lim.max_header_bytes + c->srv->lim.max_body_bytes)
			uv_read_stop((uv_stream_t *)&c->tcp);
		return;
	}
	/* A half request must not grow past the head limit while buffered. */
	if (c->in.len > c->srv->lim.max_header_bytes + c->srv->lim.max_body_bytes + 4096) {
		c->error_status = 413;
		c->error_code = "request_too_large";
		fail_parse(c);
	}
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	conn_t *c = (conn_t *)s;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (nread == 0)
		return;
	if (c->hijacked) {
		c->hcbs.on_read(c->hud, buf->base, (size_t)nread);
		return;
	}
	uv_timer_again(&c->idle);
	sl_buf_append(&c->in, buf->base, (size_t)nread);
	conn_process(c);
}

static void idle_cb(uv_timer_t *t)
{
	conn_t *c = sl_container_of(t, conn_t, idle);
	if (c->in_request || c->hijacked)
		return; /* the handler owns the pace now */
	sl_log_debug("http_idle_close", SL_KV(conn, c->id));
	conn_close(c);
}

static void handle_closed_cb(uv_handle_t *h)
{
	conn_t *c = h->type == UV_TIMER ? sl_container_of((uv_timer_t *)h, conn_t, idle) : (conn_t *)h;
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
	req_reset(&c->req);
	sl_buf_free(&c->req.url);
	sl_buf_free(&c->req.hdrs);
	sl_buf_free(&c->req.body);
	sl_buf_free(&c->req.extra);
	sl_buf_free(&c->in);
	free(c);
	maybe_done(srv);
}

static void conn_close(conn_t *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->in_request && !c->req.answered && c->req.abort_cb) {
		c->req.abort_cb(&c->req, c->req.abort_arg);
	}
	c->in_request = false;
	if (c->hijacked && c->hcbs.on_close)
		c->hcbs.on_close(c->hud);
	c->pending_handles = 2;
	uv_close((uv_handle_t *)&c->tcp, handle_closed_cb);
	uv_close((uv_handle_t *)&c->idle, handle_closed_cb);
}

static void accept_cb(uv_stream_t *ls, int status)
{
	sl_http_server_t *srv = sl_container_of((uv_tcp_t *)ls, sl_http_server_t, listener);
	if (status < 0)
		return;
	conn_t *c = sl_xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->id = ++srv->next_id;
	c->req.conn = c;
	uv_tcp_init(srv->loop, &c->tcp);
	uv_timer_init(srv->loop, &c->idle);
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
	if (held > srv->lim.max_connections || srv->closing) {
		sl_metric_add(srv->m_rejected, 1);
		sl_log_warn("http_conn_rejected", SL_KV(reason, srv->closing ? "closing" : "max_connections"),
			    SL_KV(conns, srv->nconns));
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	http_parser_init(&c->parser, HTTP_REQUEST);
	uv_timer_start(&c->idle, idle_cb, srv->lim.idle_timeout_ms, srv->lim.idle_timeout_ms);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
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
	srv->handler = handler;
	srv->arg = arg;
	srv->error_fmt = default_error_fmt;
	srv->m_requests = sl_metric_counter("sluice_http_requests_total", "", "HTTP requests parsed.");
	srv->m_conns = sl_metric_gauge("sluice_http_connections", "", "Open HTTP connections (all kinds).");
	srv->m_rejected = sl_metric_counter("sluice_http_connections_rejected_total", "",
					    "Connections closed at accept (limit reached or shutting down).");
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

void sl_http_server_set_extra_headers(sl_http_server_t *srv, const char *lines)
{
	free(srv->extra_headers);
	srv->extra_headers = lines ? sl_xstrdup(lines) : NULL;
}

void sl_http_server_set_reuseport(sl_http_server_t *srv, sl_http_reuseport_t mode)
{
	srv->reuseport = mode;
}

void sl_http_server_share_count(sl_http_server_t *srv, atomic_size_t *count)
{
	srv->shared_conns = count;
}

static int bind_reuseport_fd(uv_tcp_t *tcp, const struct sockaddr *sa, socklen_t salen)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return uv_translate_sys_error(errno);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	int rc = bind(fd, sa, salen) < 0 ? uv_translate_sys_error(errno) : 0;
	if (rc == 0)
		rc = uv_tcp_open(tcp, fd);
	if (rc < 0)
		close(fd);
	return rc;
}

/* A listening socket that the other loops of this process bind too. The
 * first one proves with a plain bind that nobody holds the port:
 * SO_REUSEPORT alone would let this process share a port with another
 * program of the same user instead of failing with "address in use". */
static int bind_reuseport(uv_tcp_t *tcp, const struct sockaddr *sa, socklen_t salen, int port,
			  sl_http_reuseport_t mode)
{
	if (mode == SL_HTTP_REUSEPORT_FIRST && port != 0) {
		int probe = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return uv_translate_sys_error(errno);
		int one = 1;
		setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int rc = bind(probe, sa, salen) < 0 ? uv_translate_sys_error(errno) : 0;
		close(probe);
		if (rc < 0)
			return rc;
	}
	return bind_reuseport_fd(tcp, sa, salen);
}

int sl_http_server_listen(sl_http_server_t *srv, const char *host, int port, sl_err_t *err)
{
	struct sockaddr_storage ss;
	int rc;
	if (strchr(host, ':'))
		rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
	else
		rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
	if (rc < 0)
		return sl_err_set(err, SL_EINVAL, false, "bad listen address %s: %s", host, uv_strerror(rc));
	uv_tcp_init(srv->loop, &srv->listener);
	srv->listening = true;
	if (srv->reuseport)
		rc = bind_reuseport(&srv->listener, (struct sockaddr *)&ss,
				    ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), port,
				    srv->reuseport);
	else
		rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
	if (rc < 0 || (rc = uv_listen((uv_stream_t *)&srv->listener, 1024, accept_cb)) < 0)
		return sl_err_set(err, SL_EIO, false, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
	struct sockaddr_storage got;
	int len = sizeof(got);
	uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&got, &len);
	srv->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
						    : ((struct sockaddr_in *)&got)->sin_port);
	return 0;
}

int sl_http_server_port(const sl_http_server_t *srv)
{
	return srv->port;
}

size_t sl_http_server_conn_count(const sl_http_server_t *srv)
{
	return srv->nconns;
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
	free(srv->extra_headers);
	sl_http_server_set_cors(srv, NULL, 0);
	free(srv);
}

/* ---- request API ---- */

const char *sl_http_req_method(const sl_http_req_t *req) { return req->method ? req->method : ""; }

sl_iov_t sl_http_req_path(const sl_http_req_t *req)
{
	return (sl_iov_t){req->url.data ? req->url.data : "", req->path_len};
}

sl_iov_t sl_http_req_query(const sl_http_req_t *req)
{
	if (req->path_len >= req->url.len)
		return (sl_iov_t){"", 0};
	return (sl_iov_t){req->url.data + req->path_len + 1, req->url.len - req->path_len - 1};
}

const char *sl_http_req_header(const sl_http_req_t *req, const char *name)
{
	for (size_t i = 0; i < req->nhdrs; i++)
		if (!strcasecmp(req->hdrs.data + req->hdr_off[i][0], name))
			return req->hdrs.data + req->hdr_off[i][1];
	return NULL;
}

sl_iov_t sl_http_req_body(const sl_http_req_t *req)
{
	return (sl_iov_t){req->body.data ? req->body.data : "", req->body.len};
}

bool sl_http_req_is_upgrade(const sl_http_req_t *req) { return req->upgrade; }
uint64_t sl_http_req_conn_id(const sl_http_req_t *req) { return req->conn->id; }
void *sl_http_req_server_arg(const sl_http_req_t *req) { return req->conn->srv->arg; }
void sl_http_req_set_data(sl_http_req_t *req, void *data) { req->data = data; }
void *sl_http_req_data(const sl_http_req_t *req) { return req->data; }

void sl_http_req_on_abort(sl_http_req_t *req, void (*abort_cb)(sl_http_req_t *req, void *arg), void *arg)
{
	req->abort_cb = abort_cb;
	req->abort_arg = arg;
}

void sl_http_req_add_header(sl_http_req_t *req, const char *line)
{
	sl_buf_puts(&req->extra, line);
	sl_buf_puts(&req->extra, "\r\n");
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
	if (c->closing)
		return;
	if (keep) {
		/* Resume: parse what is buffered, and read again if we had stopped. */
		uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
		if (c->in.len)
			conn_process(c);
	}
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

uv_stream_t *sl_http_hijack(sl_http_req_t *req, const sl_http_hijack_cbs_t *cbs, void *ud, sl_iov_t *leftover)
{
	conn_t *c = req->conn;
	c->hijacked = true;
	c->hcbs = *cbs;
	c->hud = ud;
	c->in_request = false;
	req->answered = true;
	uv_timer_stop(&c->idle);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	if (leftover)
		*leftover = (sl_iov_t){c->in.data ? c->in.data : "", c->in.len};
	/* The leftover stays in c->in until the handler returns; drop it after. */
	c->in.len = 0;
	return (uv_stream_t *)&c->tcp;
}

void sl_http_hijack_close(uv_stream_t *stream)
{
	conn_close((conn_t *)stream);
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
