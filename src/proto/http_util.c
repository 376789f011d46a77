/* http_util.c: the parts of the HTTP server's API that need only its
 * public interface: status texts, query parameters, the /healthz /readyz
 * /metrics endpoints every role serves, and building a server from settings.
 * Kept apart from http.c, which owns connections and parsing.
 */
#include "proto/http.h"

#include "core/metrics.h"

#include <ctype.h>
#include <string.h>

const char *sl_http_status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

bool sl_http_req_query_param(const sl_http_req_t *req, const char *name, char *out, size_t outlen)
{
	sl_iov_t q = sl_http_req_query(req);
	size_t nlen = strlen(name);
	const char *s = q.base, *end = q.base + q.len;
	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pend = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(pend - s));
		const char *kend = eq ? eq : pend;
		if ((size_t)(kend - s) == nlen && !memcmp(s, name, nlen)) {
			size_t o = 0;
			for (const char *v = eq ? eq + 1 : pend; v < pend && o + 1 < outlen; v++) {
				if (*v == '%' && pend - v > 2 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
					out[o++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
					v += 2;
				} else {
					out[o++] = *v == '+' ? ' ' : *v;
				}
			}
			if (outlen)
				out[o] = '\0';
			return true;
		}
		s = pend + 1;
	}
	return false;
}


bool sl_iov_eq(sl_iov_t a, const char *lit)
{
	size_t n = strlen(lit);
	return a.len == n && !memcmp(a.base, lit, n);
}

bool sl_iov_prefix(sl_iov_t a, const char *lit)
{
	size_t n = strlen(lit);
	return a.len >= n && !memcmp(a.base, lit, n);
}

bool sl_http_serve_ops(sl_http_req_t *req, sl_http_ready_cb ready_cb, void *arg)
{
	sl_iov_t path = sl_http_req_path(req);
	if (strcmp(sl_http_req_method(req), "GET") != 0 && strcmp(sl_http_req_method(req), "HEAD") != 0)
		return false;
	if (sl_iov_eq(path, "/healthz")) {
		sl_http_respond_json(req, 200, "{\"status\":\"ok\"}");
		return true;
	}
	if (sl_iov_eq(path, "/readyz")) {
		sl_buf_t why = SL_BUF_INIT, body = SL_BUF_INIT;
		bool ok = ready_cb ? ready_cb(arg, &why) : true;
		sl_buf_puts(&body, ok ? "{\"status\":\"ready\"" : "{\"status\":\"not_ready\"");
		if (why.len) {
			sl_buf_puts(&body, ",\"reason\":");
			sl_buf_json_str(&body, why.data, why.len);
		}
		sl_buf_puts(&body, "}");
		sl_http_respond(req, ok ? 200 : 503, "application/json", body.data, body.len);
		sl_buf_free(&why);
		sl_buf_free(&body);
		return true;
	}
	if (sl_iov_eq(path, "/metrics")) {
		sl_buf_t out = SL_BUF_INIT;
		sl_metrics_render(&out);
		sl_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
		sl_buf_free(&out);
		return true;
	}
	return false;
}

sl_http_server_t *sl_http_server_from_cfg_shared(uv_loop_t *loop, const sl_cfg_t *cfg, unsigned index, unsigned nloops,
						 int port, atomic_size_t *conns, sl_http_handler_cb handler, void *arg,
						 sl_err_t *err)
{
	sl_http_limits_t lim = {
		.max_connections = (size_t)sl_cfg_int(cfg, "max-connections"),
		.max_header_bytes = (size_t)sl_cfg_int(cfg, "max-header-bytes"),
		.max_body_bytes = (size_t)sl_cfg_int(cfg, "max-body-bytes"),
		.idle_timeout_ms = (uint64_t)sl_cfg_int(cfg, "idle-timeout-ms"),
	};
	sl_http_server_t *srv = sl_http_server_new(loop, &lim, handler, arg);
	const char *const *origins;
	size_t n = sl_cfg_list(cfg, "cors-origin", &origins);
	sl_http_server_set_cors(srv, origins, n);
	if (nloops > 1)
		sl_http_server_set_reuseport(srv, index == 0 ? SL_HTTP_REUSEPORT_FIRST : SL_HTTP_REUSEPORT_JOIN);
	if (conns)
		sl_http_server_share_count(srv, conns);
	if (sl_http_server_listen(srv, sl_cfg_str(cfg, "listen-host"), port, err) < 0) {
		sl_http_server_discard(srv);
		return NULL;
	}
	return srv;
}

sl_http_server_t *sl_http_server_from_cfg(uv_loop_t *loop, const sl_cfg_t *cfg, sl_http_handler_cb handler, void *arg,
					  sl_err_t *err)
{
	return sl_http_server_from_cfg_shared(loop, cfg, 0, 1, (int)sl_cfg_int(cfg, "port"), NULL, handler, arg, err);
}
