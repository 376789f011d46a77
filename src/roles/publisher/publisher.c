/* publisher.c: `sluice publisher`: WebSocket/SSE stream publisher and dashboard.
 *
 * How it fits (SPEC 1, 2, 3): clients open ws://host/v1/stream/{id} or
 * http://host/v1/events/{id}. The request is checked (handshake first, then
 * the channel id), the channel record `<prefix>channel:<id>` is looked up
 * with EXISTS (404 before any upgrade when the API did not create it), and
 * only then is the socket taken over from the HTTP server and handed to
 * publisher_chan.c, which subscribes the channel's Redis pub/sub channel
 * once for all its clients and forwards every message. The same server
 * answers /healthz, /readyz (503 until both Redis connections are up),
 * /metrics, /config.json and the dashboard's static files (publisher_web.c).
 * SIGTERM: stop accepting, send every WebSocket client close 1001 (SSE
 * streams end), close Redis, exit 0 once every handle is closed.
 * References: RFC 6455, docs/protocol.md, docs/publisher.md.
 * Non-goals: TLS (a proxy in front), auth tokens (SPEC 5 optional, later).
 */
#include "roles/publisher/publisher_int.h"
#include "roles/roles.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/sse.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sl_cfg_key_t publisher_keys[] = {
	{"port", NULL, "SLUICE_PUBLISHER_PORT", SL_CFG_INT, "8090", 0, 65535, "HTTP port (streams, dashboard, ops)"},
	{"web-root", NULL, "SLUICE_PUBLISHER_WEB_ROOT", SL_CFG_STR, NULL, 0, 0,
	 "directory of the dashboard's static files (default: <dir of the executable>/../web)"},
	{"api-url", NULL, "SLUICE_PUBLISHER_API_URL", SL_CFG_STR, "http://127.0.0.1:8080", 0, 0,
	 "control API URL given to the dashboard in /config.json"},
	{"metrics-urls", NULL, "SLUICE_PUBLISHER_METRICS_URLS", SL_CFG_LIST, NULL, 0, 0,
	 "name=url pairs of the roles' /metrics, for the dashboard's /config.json"},
	{"ping-interval-ms", NULL, "SLUICE_PUBLISHER_PING_INTERVAL_MS", SL_CFG_INT, "20000", 100, 3600000,
	 "send a WebSocket ping (SSE: a comment) this often"},
	{"client-idle-timeout-ms", NULL, "SLUICE_PUBLISHER_CLIENT_IDLE_TIMEOUT_MS", SL_CFG_INT, "60000", 200, 86400000,
	 "close a WebSocket client that sent nothing (not even a pong) this long: 1001"},
	{"queue-soft-limit", NULL, "SLUICE_PUBLISHER_QUEUE_SOFT_LIMIT", SL_CFG_INT, "4096", 1, 1000000,
	 "queued frames per client from which updates of one market are conflated"},
	{"queue-hard-limit", NULL, "SLUICE_PUBLISHER_QUEUE_HARD_LIMIT", SL_CFG_INT, "16384", 1, 1000000,
	 "queued frames per client past which it is closed: 1013"},
	{"slow-client-timeout-ms", NULL, "SLUICE_PUBLISHER_SLOW_CLIENT_TIMEOUT_MS", SL_CFG_INT, "10000", 100, 3600000,
	 "close a client whose queue stayed over the soft limit this long: 1013"},
	{"max-client-message-bytes", NULL, "SLUICE_PUBLISHER_MAX_CLIENT_MESSAGE_BYTES", SL_CFG_INT, "4096", 125,
	 16777216, "largest message a WebSocket client may send: 1009 past it"},
	{"redis-timeout-ms", NULL, "SLUICE_PUBLISHER_REDIS_TIMEOUT_MS", SL_CFG_INT, "2000", 50, 600000,
	 "channel lookups not answered this long fail with 503 and the connection is retried"},
	{0},
};

static const sl_cfg_key_t *const publisher_tables[] = {sl_cfg_keys_log, sl_cfg_keys_redis, sl_cfg_keys_http,
							publisher_keys, NULL};

typedef enum { KIND_WS, KIND_SSE } kind_t;

/* A request waiting for its EXISTS answer. */
typedef struct lookup {
	pub_t *p;
	sl_http_req_t *req; /* NULL when the client went away first */
	kind_t kind;
	char id[PUB_CHANNEL_ID_MAX + 1];
} lookup_t;

static uint64_t next_client_id;

static bool valid_id(sl_iov_t id)
{
	if (id.len == 0 || id.len > PUB_CHANNEL_ID_MAX)
		return false;
	for (size_t i = 0; i < id.len; i++) {
		char ch = id.base[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return true;
}

static const char *allowed_origin(pub_t *p, sl_http_req_t *req)
{
	const char *origin = sl_http_req_header(req, "origin");
	if (!origin)
		return NULL;
	for (size_t i = 0; i < p->ncors; i++)
		if (!strcmp(p->cors[i], "*") || !strcmp(p->cors[i], origin))
			return origin;
	return NULL;
}

static void upgrade(pub_t *p, sl_http_req_t *req, kind_t kind, const char *id)
{
	sl_buf_t head = SL_BUF_INIT;
	if (kind == KIND_WS)
		sl_ws_handshake_response(sl_http_req_header(req, "sec-websocket-key"), NULL, &head);
	else
		sl_sse_response_head(allowed_origin(p, req), 2000, &head);
	client_t *c = sl_xcalloc(1, sizeof(*c));
	c->id = ++next_client_id;
	sl_http_hijack_cbs_t cbs = {kind == KIND_WS ? pub_ws_read : pub_sse_read, pub_client_closed};
	sl_iov_t leftover = {0};
	uv_stream_t *stream = sl_http_hijack(req, &cbs, c, &leftover);
	sl_conn_init(&c->conn, &p->cctx, stream, kind == KIND_WS ? SL_WIRE_WS : SL_WIRE_SSE);
	sl_frame_t *fr = sl_frame_new_raw(head.data, head.len);
	sl_conn_push_ctl(&c->conn, fr);
	sl_frame_unref(fr);
	sl_buf_free(&head);
	pub_client_attach(p, c, id);
	if (leftover.len && kind == KIND_WS)
		pub_ws_read(c, leftover.base, leftover.len);
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
	pub_t *p = lk->p;
	sl_http_req_t *req = lk->req;
	if (req) {
		sl_http_req_on_abort(req, NULL, NULL);
		if (result == 1 && !p->stopping) {
			upgrade(p, req, lk->kind, lk->id);
		} else if (result == 1 || result == SL_ECLOSED) {
			sl_http_respond_error(req, 503, "shutting_down", "this publisher is shutting down");
		} else if (result == 0) {
			sl_metric_add(p->m_rejected, 1);
			sl_http_respond_error(req, 404, "unknown_channel", "channel %s does not exist (create it with POST /v1/channels)",
					      lk->id);
		} else {
			sl_metric_add(p->m_rejected, 1);
			sl_http_respond_error(req, 503, "redis_unavailable", "cannot look up channel %s: Redis did not answer",
					      lk->id);
		}
	}
	free(lk);
}

static void stream_request(pub_t *p, sl_http_req_t *req, kind_t kind, sl_iov_t id)
{
	if (kind == KIND_WS) {
		sl_ws_reject_t rej;
		if (sl_ws_handshake_check(req, &rej) < 0) {
			sl_metric_add(p->m_rejected, 1);
			if (rej.status == 426)
				sl_http_req_add_header(req, "Sec-WebSocket-Version: 13");
			sl_http_respond_error(req, rej.status, rej.code, "%s", rej.message);
			return;
		}
	} else {
		const char *code, *msg;
		int status = sl_sse_check(req, &code, &msg);
		if (status) {
			sl_metric_add(p->m_rejected, 1);
			sl_http_respond_error(req, status, code, "%s", msg);
			return;
		}
	}
	if (!valid_id(id)) {
		sl_metric_add(p->m_rejected, 1);
		sl_http_respond_error(req, 400, "bad_channel_id",
				      "a channel id is 1 to %d characters of letters, digits, '-' and '_'",
				      PUB_CHANNEL_ID_MAX);
		return;
	}
	if (p->stopping) {
		sl_http_respond_error(req, 503, "shutting_down", "this publisher is shutting down");
		return;
	}
	lookup_t *lk = sl_xcalloc(1, sizeof(*lk));
	lk->p = p;
	lk->req = req;
	lk->kind = kind;
	memcpy(lk->id, id.base, id.len);
	sl_buf_t key = SL_BUF_INIT;
	sl_buf_printf(&key, "%schannel:%s", p->prefix, lk->id);
	int rc = sl_rsub_exists(p->rs, key.data, lookup_done_cb, lk);
	sl_buf_free(&key);
	if (rc < 0) {
		free(lk);
		sl_metric_add(p->m_rejected, 1);
		sl_http_respond_error(req, 503, "redis_unavailable", "Redis is not reachable; try again");
		return;
	}
	sl_http_req_on_abort(req, lookup_abort_cb, lk);
}

static bool ready_cb(void *arg, sl_buf_t *why)
{
	pub_t *p = arg;
	if (p->stopping) {
		sl_buf_puts(why, "shutting down");
		return false;
	}
	if (!sl_rsub_ready(p->rs)) {
		sl_buf_puts(why, "redis not connected");
		return false;
	}
	return true;
}

static void handler(sl_http_req_t *req, void *arg)
{
	pub_t *p = arg;
	if (sl_http_serve_ops(req, ready_cb, p))
		return;
	sl_iov_t path = sl_http_req_path(req);
	if (sl_iov_prefix(path, "/v1/stream/")) {
		stream_request(p, req, KIND_WS, (sl_iov_t){path.base + 11, path.len - 11});
		return;
	}
	if (sl_iov_prefix(path, "/v1/events/")) {
		stream_request(p, req, KIND_SSE, (sl_iov_t){path.base + 11, path.len - 11});
		return;
	}
	if (pub_web_serve(p->web, req))
		return;
	sl_http_respond_error(req, 404, "not_found", "no such path");
}

/* ---- lifecycle ---- */

static void rsub_done_cb(void *arg)
{
	pub_t *p = arg;
	sl_rsub_free(p->rs);
	p->rs = NULL;
}

static void server_done_cb(void *arg)
{
	pub_t *p = arg;
	sl_http_server_free(p->srv);
	p->srv = NULL;
	sl_rsub_close(p->rs, rsub_done_cb, p);
	uv_close((uv_handle_t *)&p->sweep, NULL);
	sl_conn_ctx_close(&p->cctx);
	sl_runtime_close(&p->rt);
}

static void stop_cb(void *arg)
{
	pub_t *p = arg;
	p->stopping = true;
	sl_log_info("publisher_stopping", "ws=%zu sse=%zu channels=%zu", p->nws, p->nsse, p->nchans);
	pub_close_all(p);
	sl_http_server_close(p->srv, server_done_cb, p);
}

static char *default_web_root(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return sl_xstrdup("web");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_printf(&b, "%s/../web", exe);
	size_t len;
	return sl_buf_steal(&b, &len);
}

static int publisher_main(int argc, char **argv)
{
	int code = 0;
	sl_cfg_t *cfg = sl_cfg_setup_role("publisher", "sluice publisher [options]",
					  "Serves channel streams over WebSocket and SSE, and the dashboard.",
					  publisher_tables, argc, argv, &code);
	if (!cfg)
		return code;
	pub_t *p = sl_xcalloc(1, sizeof(*p));
	uv_loop_t loop;
	uv_loop_init(&loop);
	p->loop = &loop;
	p->cfg = cfg;
	p->prefix = sl_cfg_str(cfg, "redis-prefix");
	p->ncors = sl_cfg_list(cfg, "cors-origin", &p->cors);
	p->ping_ms = (uint64_t)sl_cfg_int(cfg, "ping-interval-ms");
	p->idle_ms = (uint64_t)sl_cfg_int(cfg, "client-idle-timeout-ms");
	p->slow_ms = (uint64_t)sl_cfg_int(cfg, "slow-client-timeout-ms");
	p->close_grace_ms = 2000;
	p->max_client_msg = (size_t)sl_cfg_int(cfg, "max-client-message-bytes");
	p->m_rejected = sl_metric_counter("sluice_publisher_rejected_total", "",
					  "Stream requests refused (bad handshake, unknown channel, Redis down).");
	int rc = 1;
	sl_err_t err = {0};
	char *root = sl_cfg_str(cfg, "web-root") ? sl_xstrdup(sl_cfg_str(cfg, "web-root")) : default_web_root();
	const char *const *murls;
	size_t nmurls = sl_cfg_list(cfg, "metrics-urls", &murls);
	for (size_t i = 0; i < nmurls; i++) {
		bool bad = false;
		for (const char *s = murls[i]; *s;) {
			size_t n = strcspn(s, ",");
			const char *eq = memchr(s, '=', n);
			if (!eq || eq == s)
				bad = true;
			s += n;
			if (*s == ',')
				s++;
		}
		if (bad || !murls[i][0]) {
			fprintf(stderr, "sluice publisher: metrics-urls item '%s' is not name=url\n", murls[i]);
			free(root);
			free(p);
			uv_loop_close(&loop);
			sl_cfg_free(cfg);
			return 2;
		}
	}
	p->rs = sl_rsub_new(&loop, sl_cfg_str(cfg, "redis-url"), (uint64_t)sl_cfg_int(cfg, "redis-timeout-ms"),
			    &pub_rsub_cbs, p, &err);
	if (!p->rs) {
		fprintf(stderr, "sluice publisher: %s\n", err.msg);
		free(root);
		free(p);
		uv_loop_close(&loop);
		sl_cfg_free(cfg);
		return 2;
	}
	p->web = pub_web_load(root, sl_cfg_str(cfg, "api-url"), murls, nmurls);
	free(root);
	pub_chan_setup(p);
	sl_runtime_init(&p->rt, &loop, stop_cb, p);
	p->srv = sl_http_server_from_cfg(&loop, cfg, handler, p, &err);
	if (!p->srv) {
		sl_log_error("listen_failed", "error=\"%s\"", err.msg);
		sl_rsub_close(p->rs, rsub_done_cb, p);
		uv_close((uv_handle_t *)&p->sweep, NULL);
		sl_conn_ctx_close(&p->cctx);
		sl_runtime_close(&p->rt);
	} else {
		rc = 0;
		sl_log_info("publisher_listening", "port=%d redis=%s", sl_http_server_port(p->srv),
			    sl_cfg_str(cfg, "redis-url"));
	}
	int lc = sl_runtime_run(&p->rt);
	pub_chan_teardown(p);
	pub_web_free(p->web);
	long live = sl_frame_live();
	if (lc != 0 || live != 0)
		sl_log_warn("shutdown_unclean", "loop_close=%d live_frames=%ld", lc, live);
	sl_log_info("publisher_stopped", "loop_close=%d", lc);
	free(p);
	sl_metrics_free_all();
	sl_cfg_free(cfg);
	return rc;
}

const sl_role_t sl_role_publisher = {"publisher", "WebSocket/SSE stream publisher and dashboard", publisher_main,
				     publisher_tables};
