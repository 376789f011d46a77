/* api.c: `sluice api`: the stream control API (SPEC section 3, REST/JSON).
 *
 * How it fits: stateless, load-balanced; clients create a channel (a UUID v4
 * from OpenSSL RAND_bytes: 122 random bits), subscribe markets, `begin`,
 * close, and read current market state for fast first page loads. It writes
 * Redis (rconn.h, layout in rstate.h / docs/redis.md), then emits commands
 * on the command topic (key = channel id) that every reducer reads. The
 * routes, their inputs and answers are documented in docs/openapi/api.yaml,
 * which a test compares with this file.
 * Every input is checked here, before anything changes: wrong method (405),
 * wrong content type (415), malformed JSON or wrong types (400), too many
 * markets (413; the HTTP server answers 413 for an oversize body), an
 * unknown channel (404). Kafka or Redis unreachable: 503 at once (the
 * Kafka probe is kmeta.h; a command that still fails is rolled back).
 * Authentication on every /v1 route (api_auth.c): bearer tokens (JWT,
 * --jwt-*), an API key for services (--api-key, header X-API-Key), or
 * none on loopback; a channel belongs to the token's sub that made it,
 * and a token's markets bound what it may subscribe and read. Exposed
 * beyond loopback with neither, the API refuses to start (--insecure).
 * One loop: the producer's delivery reports wake it (kafka/kclient.h);
 * rd_kafka_poll(rk, 0) only.
 * SIGTERM: stop accepting, let operations in flight finish, flush the
 * producer (bounded by kafka-timeout-ms), close Redis, exit 0.
 * Non-goals: listing all channels, issuing API tokens (sluice token).
 */
#include "roles/api/api_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "auth/auth.h"
#include "core/log.h"
#include "kafka/kconf.h"
#include "redis/rstate.h"
#include "roles/roles.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sl_cfg_key_t api_keys[] = {
	{"port", NULL, "SLUICE_API_PORT", SL_CFG_INT, "8080", 0, 65535, "HTTP port of the control API"},
	{"api-key", NULL, "SLUICE_API_KEY", SL_CFG_STR, NULL, 0, 0,
	 "when set, every /v1 request must carry it in the X-API-Key header"},
	{"max-markets", NULL, "SLUICE_API_MAX_MARKETS", SL_CFG_INT, "100", 1, 100000,
	 "markets accepted in one request"},
	{"max-markets-per-channel", NULL, "SLUICE_API_MAX_MARKETS_PER_CHANNEL", SL_CFG_INT, "1000", 1, 1000000,
	 "markets one channel may hold (413 past it)"},
	{"max-channels-per-creator", NULL, "SLUICE_API_MAX_CHANNELS_PER_CREATOR", SL_CFG_INT, "1000", 0, 100000000,
	 "channels one creator (the client's address) may hold at once; 0: no limit (429 past it)"},
	{"command-timeout-ms", NULL, "SLUICE_API_COMMAND_TIMEOUT_MS", SL_CFG_INT, "5000", 100, 300000,
	 "bound on Kafka taking a command before the request fails with 503"},
	{"stream-token-ttl-s", NULL, "SLUICE_API_STREAM_TOKEN_TTL_S", SL_CFG_INT, "300", 10, 86400,
	 "life of the stream tokens handed out with a channel (when a signing key is configured)"},
	{0},
};

static const sl_cfg_key_t *const api_tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, sl_cfg_keys_redis,
						 sl_cfg_keys_topics, sl_cfg_keys_http, sl_auth_keys_jwt,
						 sl_auth_keys_sign, sl_auth_keys_insecure, api_keys, NULL};

/* ---- helpers ---- */
static void gen_uuid(char out[37])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1)
		sl_xoom(0); /* no entropy: never hand out guessable ids */
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static sl_api_op_t *op_new(sl_api_t *a, sl_http_req_t *req, sl_api_kind_t kind)
{
	sl_api_op_t *op = sl_xcalloc(1, sizeof(*op));
	op->a = a;
	op->req = req;
	op->kind = kind;
	return op;
}

static void op_add_market(sl_api_op_t *op, const char *m, size_t n)
{
	op->markets = sl_xrealloc(op->markets, (op->nmarkets + 1) * sizeof(char *));
	op->changed = sl_xrealloc(op->changed, (op->nmarkets + 1) * sizeof(bool));
	op->markets[op->nmarkets] = sl_xstrndup(m, n);
	op->changed[op->nmarkets] = false;
	op->nmarkets++;
}

static bool has_market(const sl_api_op_t *op, const char *m, size_t n)
{
	for (size_t i = 0; i < op->nmarkets; i++)
		if (strlen(op->markets[i]) == n && !memcmp(op->markets[i], m, n))
			return true;
	return false;
}

/* Reject with the error the client gets; the op has not started. */
static void reject(sl_api_op_t *op, int status, const char *code, const char *msg)
{
	op->a->ops++;
	op->started_ms = sl_clock_mono_ms();
	sl_api__fail(op, status, code, msg);
}

static bool json_content_type(const sl_http_req_t *req)
{
	const char *ct = sl_http_req_header(req, "Content-Type");
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == 16 && !strncasecmp(ct, "application/json", 16);
}

/* Take a market list into the operation. */
static void take_markets(sl_api_op_t *op, sl_api_markets_t *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (!has_market(op, m->ids[i], strlen(m->ids[i])))
			op_add_market(op, m->ids[i], strlen(m->ids[i]));
	sl_api__markets_free(m);
}

/* The body's {"markets":[...]}: 0, or answers the error and returns -1. */
static int parse_markets(sl_api_op_t *op, bool required)
{
	sl_iov_t body = sl_http_req_body(op->req);
	if (body.len && !json_content_type(op->req)) {
		reject(op, 415, "unsupported_media_type", "the body must be application/json");
		return -1;
	}
	sl_api_markets_t m;
	sl_api_input_err_t e;
	if (sl_api__markets_from_json(body.base, body.len, required, op->a->max_markets, &m, &e)) {
		reject(op, e.status, e.code, e.msg);
		return -1;
	}
	take_markets(op, &m);
	return 0;
}

/* 503 unless what the route needs answers. */
static bool available(sl_api_op_t *op, bool kafka)
{
	sl_api_t *a = op->a;
	if (!sl_rconn_connected(a->rc)) {
		reject(op, 503, "redis_unavailable", "redis is unreachable");
		return false;
	}
	if (sl_kmeta_partitions(a->meta) <= 0 || (kafka && !sl_kmeta_up(a->meta))) {
		char msg[220];
		snprintf(msg, sizeof(msg), "kafka is unreachable (%s)", sl_kmeta_error(a->meta));
		reject(op, 503, "kafka_unavailable", msg);
		return false;
	}
	return true;
}

/* ---- routing ---- */
typedef struct seg {
	const char *p[6];
	size_t n[6];
	int count;
} seg_t;

static void split_path(sl_iov_t path, seg_t *s)
{
	s->count = 0;
	const char *p = path.base, *end = path.base + path.len;
	while (p < end && s->count < 6) {
		if (*p == '/') {
			p++;
			continue;
		}
		const char *q = memchr(p, '/', (size_t)(end - p));
		if (!q)
			q = end;
		s->p[s->count] = p;
		s->n[s->count] = (size_t)(q - p);
		s->count++;
		p = q;
	}
	if (p < end)
		s->count = 7; /* too deep: no route */
}

static bool seg_is(const seg_t *s, int i, const char *lit)
{
	return i < s->count && s->n[i] == strlen(lit) && !memcmp(s->p[i], lit, s->n[i]);
}

static void method_not_allowed(sl_api_op_t *op, const char *allow)
{
	char h[64];
	snprintf(h, sizeof(h), "Allow: %s", allow);
	sl_http_req_add_header(op->req, h);
	reject(op, 405, "method_not_allowed", "method not allowed on this path");
}

/* The channel id of the path: 0, or answers 404. */
static int take_channel(sl_api_op_t *op, const seg_t *s)
{
	if (!sl_rstate_channel_valid(s->p[2], s->n[2])) {
		reject(op, 404, "unknown_channel", "no such channel");
		return -1;
	}
	memcpy(op->id, s->p[2], 36);
	op->id[36] = 0;
	return 0;
}

/* 403 naming the first market the token does not allow (subscribing,
 * creating, reading state); removing one is always allowed. */
static bool markets_allowed(sl_api_op_t *op)
{
	if (op->kind == SL_API_UNSUBSCRIBE)
		return true;
	for (size_t i = 0; i < op->nmarkets; i++) {
		if (sl_api__market_allowed(&op->who, op->markets[i]))
			continue;
		char msg[160];
		snprintf(msg, sizeof(msg), "the token does not allow market %s", op->markets[i]);
		reject(op, 403, "market_forbidden", msg);
		return false;
	}
	return true;
}

static void route_markets(sl_api_op_t *op, const seg_t *s, bool get)
{
	if (!get) {
		method_not_allowed(op, "GET");
		return;
	}
	if (s->count == 3) {
		op->kind = SL_API_GET_MARKET;
		if (!sl_rstate_market_valid(s->p[2], s->n[2])) {
			reject(op, 400, "invalid_market", "not a market id");
			return;
		}
		op_add_market(op, s->p[2], s->n[2]);
	} else {
		op->kind = SL_API_GET_MARKETS;
		char ids[8192];
		int found = sl_http_req_query_param(op->req, "ids", ids, sizeof(ids));
		if (found == SL_ETOOBIG) {
			reject(op, 400, "invalid_query", "ids is longer than 8191 bytes: ask for fewer markets at once");
			return;
		}
		sl_api_markets_t m;
		sl_api_input_err_t e;
		if (sl_api__markets_from_ids(found == 1 ? ids : NULL, op->a->max_markets, &m, &e)) {
			reject(op, e.status, e.code, e.msg);
			return;
		}
		take_markets(op, &m);
	}
	if (markets_allowed(op) && available(op, false))
		sl_api__start(op);
}

static void route(sl_api_t *a, sl_http_req_t *req)
{
	sl_api_op_t *op = op_new(a, req, SL_API_CREATE);
	const char *method = sl_http_req_method(req);
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
	seg_t s;
	split_path(sl_http_req_path(req), &s);
	sl_metric_add(a->m.requests, 1);
	if (!seg_is(&s, 0, "v1") || s.count < 2 || s.count > 5) {
		reject(op, 404, "not_found", "no such route");
		return;
	}
	if (sl_api__authenticate(a, req, &op->who) < 0) {
		op->req = NULL; /* answered (401): count it, end it */
		reject(op, 401, "unauthorized", "");
		return;
	}
	if (seg_is(&s, 1, "markets") && s.count <= 3) {
		route_markets(op, &s, get);
		return;
	}
	if (!seg_is(&s, 1, "channels")) {
		reject(op, 404, "not_found", "no such route");
		return;
	}
	if (s.count == 2) { /* /v1/channels */
		if (!post) {
			method_not_allowed(op, "POST");
			return;
		}
		if (parse_markets(op, false) < 0)
			return;
		if ((long)op->nmarkets > a->max_channel_markets) {
			char msg[120];
			snprintf(msg, sizeof(msg), "a channel holds at most %ld markets", a->max_channel_markets);
			reject(op, 413, "too_many_markets", msg);
			return;
		}
		gen_uuid(op->id);
		if (op->who.authenticated && !op->who.any_market)
			snprintf(op->creator, sizeof(op->creator), "sub:%s", op->who.sub);
		else
			sl_http_req_peer(req, op->creator, sizeof(op->creator));
		op->kind = SL_API_CREATE;
	} else if (s.count == 3) { /* /v1/channels/{id} */
		if (!get && !del) {
			method_not_allowed(op, "GET, DELETE");
			return;
		}
		if (take_channel(op, &s) < 0)
			return;
		op->kind = get ? SL_API_GET_CHANNEL : SL_API_DELETE_CHANNEL;
	} else if (s.count == 4 && seg_is(&s, 3, "subscriptions")) {
		if (!post) {
			method_not_allowed(op, "POST");
			return;
		}
		if (take_channel(op, &s) < 0 || parse_markets(op, true) < 0)
			return;
		op->kind = SL_API_SUBSCRIBE;
	} else if (s.count == 4 && seg_is(&s, 3, "begin")) {
		if (!post) {
			method_not_allowed(op, "POST");
			return;
		}
		if (take_channel(op, &s) < 0)
			return;
		op->kind = SL_API_BEGIN;
	} else if (s.count == 5 && seg_is(&s, 3, "subscriptions")) {
		if (!del) {
			method_not_allowed(op, "DELETE");
			return;
		}
		if (take_channel(op, &s) < 0)
			return;
		if (!sl_rstate_market_valid(s.p[4], s.n[4])) {
			reject(op, 400, "invalid_market", "not a market id");
			return;
		}
		op_add_market(op, s.p[4], s.n[4]);
		op->kind = SL_API_UNSUBSCRIBE;
	} else {
		reject(op, 404, "not_found", "no such route");
		return;
	}
	if (!markets_allowed(op))
		return;
	if (available(op, op->kind != SL_API_GET_CHANNEL))
		sl_api__start(op);
}

static bool ready_cb(void *arg, sl_buf_t *why)
{
	sl_api_t *a = arg;
	if (!sl_rconn_connected(a->rc))
		sl_buf_puts(why, "redis unreachable");
	else if (!sl_kmeta_up(a->meta) || sl_kmeta_partitions(a->meta) <= 0)
		sl_buf_puts(why, sl_kmeta_error(a->meta));
	else
		return true;
	return false;
}

static void http_cb(sl_http_req_t *req, void *arg)
{
	sl_api_t *a = arg;
	if (sl_http_serve_ops(req, ready_cb, a))
		return;
	if (a->stopping) {
		sl_http_respond_error(req, 503, "shutting_down", "the API is shutting down");
		return;
	}
	route(a, req);
}

/* ---- Kafka ---- */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk, (void)opaque;
	if (rkm->_private)
		sl_api__delivered(rkm->_private, rkm->err);
}

static void wake_cb(sl_kclient_wake_t *w)
{
	sl_api_t *a = w->data;
	rd_kafka_poll(a->rk, 0);
}

/* ---- shutdown ---- */
static void rconn_closed_cb(void *arg)
{
	sl_api_t *a = arg;
	sl_rconn_free(a->rc);
	a->rc = NULL;
	uv_close((uv_handle_t *)&a->tick, NULL);
	sl_runtime_close(&a->rt);
}

static void meta_closed_cb(void *arg)
{
	sl_api_t *a = arg;
	a->meta = NULL;
	int left = rd_kafka_outq_len(a->rk);
	rd_kafka_destroy(a->rk);
	a->rk = NULL;
	sl_log_info("kafka_closed", SL_KV(undelivered, left));
	sl_rconn_close(a->rc, rconn_closed_cb, a);
}

static void http_closed_cb(void *arg)
{
	sl_api_t *a = arg;
	sl_http_server_free(a->http);
	a->http = NULL;
}

static void tick_cb(uv_timer_t *t)
{
	sl_api_t *a = t->data;
	if (a->rk)
		rd_kafka_poll(a->rk, 0);
	if (!a->stopping)
		sl_api__sweep_expired(a);
	if (!a->stopping || !a->meta || a->http)
		return;
	bool busy = a->ops > 0 || rd_kafka_outq_len(a->rk) > 0;
	if (busy && sl_clock_mono_ms() < a->stop_deadline_ms)
		return;
	sl_kclient_wake_close(&a->wake, NULL); /* before rd_kafka_destroy */
	sl_kmeta_close(a->meta, meta_closed_cb, a);
}

static void stop_cb(void *arg)
{
	sl_api_t *a = arg;
	a->stopping = true;
	a->stop_deadline_ms = sl_clock_mono_ms() + sl_cfg_int(a->cfg, "kafka-timeout-ms");
	if (a->http)
		sl_http_server_close(a->http, http_closed_cb, a);
}

static void rconn_free_cb(void *arg)
{
	sl_rconn_free(arg);
}

static int api_run(sl_cfg_t *cfg)
{
	sl_api_t a = {0};
	uv_loop_t loop;
	uv_loop_init(&loop);
	a.loop = &loop;
	a.cfg = cfg;
	a.prefix = sl_cfg_str(cfg, "redis-prefix");
	a.data_topic = sl_cfg_str(cfg, "data-topic");
	a.cmd_topic = sl_cfg_str(cfg, "command-topic");
	a.api_key = sl_cfg_str(cfg, "api-key");
	if (a.api_key && !a.api_key[0])
		a.api_key = NULL;
	a.max_markets = (long)sl_cfg_int(cfg, "max-markets");
	a.max_channel_markets = (long)sl_cfg_int(cfg, "max-markets-per-channel");
	a.max_creator_channels = (long)sl_cfg_int(cfg, "max-channels-per-creator");
	a.ttl_ms = sl_cfg_int(cfg, "channel-ttl-ms");
	a.leeway_s = sl_auth_leeway_s(cfg);
	a.stream_token_ttl_s = sl_cfg_int(cfg, "stream-token-ttl-s");
	/* Twice the command's bound: a create that neither finished nor
	 * rolled back by then died with its API instance (api_flow.c). */
	a.pending_ms = 2 * sl_cfg_int(cfg, "command-timeout-ms");
	if (a.pending_ms > a.ttl_ms)
		a.pending_ms = a.ttl_ms;
	sl_err_t err = {0};
	if (sl_auth_jwt_keys_from_cfg(cfg, &a.jwt, &err) < 0 || sl_auth_signer_from_cfg(cfg, &a.signer, &err) < 0 ||
	    sl_auth_check_exposure(cfg, "sluice api", sl_cfg_str(cfg, "listen-host"), a.jwt || a.api_key,
				   "--jwt-secret-file, --jwt-public-key or --api-key", &err) < 0) {
		fprintf(stderr, "sluice api: %s\n", err.msg);
		sl_jwt_keys_free(a.jwt);
		sl_jwt_signer_free(a.signer);
		uv_loop_close(&loop);
		return 2;
	}
	char tmo[32];
	snprintf(tmo, sizeof(tmo), "%lld", sl_cfg_int(cfg, "command-timeout-ms"));
	rd_kafka_conf_t *conf = sl_kconf_new(cfg, "api", SL_KCONF_PRODUCER, &err);
	if (conf && (sl_kconf_set(conf, "message.timeout.ms", tmo, &err) < 0 ||
		     sl_kconf_set(conf, "linger.ms", "0", &err) < 0)) {
		rd_kafka_conf_destroy(conf);
		conf = NULL;
	}
	if (conf)
		rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	a.rk = sl_kclient_new(RD_KAFKA_PRODUCER, conf, &err);
	sl_rconn_opts_t ro = {.name = "api"};
	sl_redis_ha_t ha = {sl_cfg_str(cfg, "redis-sentinels"), sl_cfg_str(cfg, "redis-master-name")};
	a.rc = a.rk ? sl_sentinel_open(&loop, sl_cfg_str(cfg, "redis-url"), &ro, &ha, &err) : NULL;
	if (!a.rc || sl_kclient_wake_init(&a.wake, &loop, rd_kafka_queue_get_main(a.rk), wake_cb, &a, &err) < 0) {
		fprintf(stderr, "sluice api: %s\n", err.msg);
		if (a.rc)
			sl_rconn_close(a.rc, rconn_free_cb, a.rc);
		if (a.rk)
			rd_kafka_destroy(a.rk);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		sl_jwt_keys_free(a.jwt);
		sl_jwt_signer_free(a.signer);
		return 2;
	}
	a.m.requests = sl_metric_counter("sluice_api_requests_total", "", "requests to /v1 routes");
	a.m.errors4 = sl_metric_counter("sluice_api_errors_total", "class=\"4xx\"", "requests answered with an error");
	a.m.errors5 = sl_metric_counter("sluice_api_errors_total", "class=\"5xx\"", "requests answered with an error");
	a.m.commands = sl_metric_counter("sluice_api_commands_total", "", "commands Kafka acknowledged");
	a.m.channels = sl_metric_counter("sluice_api_channels_created_total", "", "channels created");
	a.m.latency = sl_metric_histogram("sluice_api_request_ms", "", "time to answer a /v1 request, ms",
					  sl_metric_latency_ms_bounds, sl_metric_latency_ms_nbounds);
	a.m.expired = sl_metric_counter("sluice_api_channels_expired_total", "",
					"channels closed because no stream held them for channel-ttl-ms");
	sl_runtime_init(&a.rt, &loop, stop_cb, &a);
	a.meta = sl_kmeta_new(&loop, a.rk, a.data_topic, 1000, 1000, NULL, NULL);
	uv_timer_init(&loop, &a.tick);
	a.tick.data = &a;
	uv_timer_start(&a.tick, tick_cb, 50, 50);
	int rv = 0;
	a.http = sl_http_server_from_cfg(&loop, cfg, http_cb, &a, &err);
	if (!a.http) {
		sl_log_error("listen_failed", SL_KV(port, sl_cfg_int(cfg, "port")), SL_KV(error, err.msg));
		rv = 1;
		a.stopping = true;
	} else {
		sl_log_info("api_listening", SL_KV(port, sl_http_server_port(a.http)), SL_KV(data_topic, a.data_topic),
			    SL_KV(command_topic, a.cmd_topic), SL_KV(api_key, a.api_key ? "set" : "none"),
			    SL_KV(auth, a.jwt ? "jwt" : a.api_key ? "api_key" : "none"),
			    SL_KV(tls, sl_http_server_is_tls(a.http) ? "on" : "off"));
	}
	int lc = sl_runtime_run(&a.rt);
	if (lc)
		sl_log_error("loop_close_failed", SL_KV(loop_close, lc));
	sl_log_info("shutdown_done", SL_KV(exit, rv));
	sl_metrics_free_all();
	sl_jwt_keys_free(a.jwt);
	sl_jwt_signer_free(a.signer);
	return rv;
}

const sl_role_t sl_role_api = {
	.name = "api",
	.summary = "the stream control API (REST/JSON)",
	.usage = "sluice api [options]",
	.tables = api_tables,
	.run = api_run,
};
