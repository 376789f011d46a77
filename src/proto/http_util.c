/* http_util.c: the parts of the HTTP server's API that need only its
 * public interface: query parameters, the /healthz /readyz /metrics
 * endpoints every role serves, building a server from settings, and the
 * process's file-descriptor limit. Above http.c (it calls http.h only;
 * nothing in http*.c calls back up here).
 */
#include "proto/http.h"

#include "core/log.h"
#include "core/metrics.h"

#include <ctype.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int sl_http_req_query_param(const sl_http_req_t *req, const char *name, char *out, size_t outlen)
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
			for (const char *v = eq ? eq + 1 : pend; v < pend; v++) {
				if (o + 1 >= outlen) {
					if (outlen)
						out[0] = '\0';
					return SL_ETOOBIG; /* never a silent cut */
				}
				if (*v == '%' && pend - v > 2 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
					out[o++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
					v += 2;
				} else {
					out[o++] = *v == '+' ? ' ' : *v;
				}
			}
			if (outlen)
				out[o] = '\0';
			return 1;
		}
		s = pend + 1;
	}
	return 0;
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

long sl_http_raise_fd_limit(void)
{
	static atomic_flag done = ATOMIC_FLAG_INIT;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (!atomic_flag_test_and_set(&done) && rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			sl_log_info("fd_limit_raised", SL_KV(count, (unsigned long long)was),
				    SL_KV(limit, (unsigned long long)rl.rlim_cur));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}

void sl_http_limits_from_cfg(const sl_cfg_t *cfg, sl_http_limits_t *lim)
{
	*lim = (sl_http_limits_t){
		.max_connections = (size_t)sl_cfg_int(cfg, "max-connections"),
		.max_header_bytes = (size_t)sl_cfg_int(cfg, "max-header-bytes"),
		.max_body_bytes = (size_t)sl_cfg_int(cfg, "max-body-bytes"),
		.idle_timeout_ms = (uint64_t)sl_cfg_int(cfg, "idle-timeout-ms"),
		.head_timeout_ms = (uint64_t)sl_cfg_int(cfg, "request-head-timeout-ms"),
		.body_timeout_ms = (uint64_t)sl_cfg_int(cfg, "request-body-timeout-ms"),
		.max_queued_out = (size_t)sl_cfg_int(cfg, "max-queued-response-bytes"),
		.max_per_ip = (size_t)sl_cfg_int(cfg, "max-connections-per-ip"),
	};
}

sl_http_server_t *sl_http_server_from_cfg_shared(uv_loop_t *loop, const sl_cfg_t *cfg, unsigned index, unsigned nloops,
						 int port, atomic_size_t *conns, sl_http_iplimit_t *ips,
						 sl_http_handler_cb handler, void *arg, sl_err_t *err)
{
	sl_http_limits_t lim;
	sl_http_limits_from_cfg(cfg, &lim);
	long fds = sl_http_raise_fd_limit();
	if (fds > 0 && lim.max_connections + 64 > (size_t)fds && index == 0)
		sl_log_warn("fd_limit_low", SL_KV(conns, lim.max_connections), SL_KV(limit, fds));
	sl_http_server_t *srv = sl_http_server_new(loop, &lim, handler, arg);
	const char *const *origins;
	size_t n = sl_cfg_list(cfg, "cors-origin", &origins);
	sl_http_server_set_cors(srv, origins, n);
	if (nloops > 1)
		sl_http_server_set_reuseport(srv, index == 0 ? SL_HTTP_REUSEPORT_FIRST : SL_HTTP_REUSEPORT_JOIN);
	const char *cert = sl_cfg_str(cfg, "tls-cert-file"), *key = sl_cfg_str(cfg, "tls-key-file");
	if ((cert && *cert) || (key && *key)) {
		if (!cert || !*cert || !key || !*key) {
			sl_err_set(err, SL_EINVAL, false, "TLS needs both tls-cert-file and tls-key-file");
			sl_http_server_free(srv);
			return NULL;
		}
		sl_tls_ctx_t *tls = sl_tls_ctx_get(cert, key, err);
		if (!tls) {
			sl_http_server_free(srv);
			return NULL;
		}
		sl_http_server_set_tls(srv, tls);
		sl_tls_ctx_free(tls); /* the server holds its own reference */
	}
	if (conns)
		sl_http_server_share_count(srv, conns);
	if (ips)
		sl_http_server_share_iplimit(srv, ips);
	if (sl_http_server_listen(srv, sl_cfg_str(cfg, "listen-host"), port, err) < 0) {
		sl_http_server_discard(srv);
		return NULL;
	}
	return srv;
}

sl_http_server_t *sl_http_server_from_cfg(uv_loop_t *loop, const sl_cfg_t *cfg, sl_http_handler_cb handler, void *arg,
					  sl_err_t *err)
{
	return sl_http_server_from_cfg_shared(loop, cfg, 0, 1, (int)sl_cfg_int(cfg, "port"), NULL, NULL, handler, arg,
					      err);
}
