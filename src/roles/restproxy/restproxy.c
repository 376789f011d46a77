/* restproxy.c: `sluice rest-proxy`: a Kafka REST proxy (Confluent API v2,
 * plus the v1 subset the `kafka-rest` Node.js client uses).
 *
 * How it fits: this file owns the process: settings, the one libuv loop, the
 * HTTP server (proto/http.h) with Confluent's error shape plugged in,
 * routing, readiness and the SIGTERM drain. The work is in restproxy_meta.c
 * (metadata), restproxy_produce.c (one shared idempotent producer whose
 * delivery reports answer the waiting requests), restproxy_consumer*.c
 * (consumer instances, each its own group member), restproxy_wire.c (content
 * negotiation and body parsing).
 * Threads: the loop never waits on the network. librdkafka queues wake the
 * loop (kafka/kclient.h: rd_kafka_queue_io_event_enable, a pipe, a uv_poll) and
 * are polled with timeout 0. Calls that can only block (rd_kafka_metadata,
 * synchronous commit, rd_kafka_committed, consumer close) run in libuv's
 * thread pool (uv_queue_work) and come back in after-work callbacks; this is
 * the "small worker" choice of the design notes, because librdkafka 2.0's
 * Admin API has no describe-topics/cluster call. At most --max-jobs such
 * calls wait at once; more are refused with 503/50301.
 * Shutdown: stop accepting, answer waiting reads, close every consumer
 * instance (commit + leave group), wait for delivery reports up to
 * --kafka-timeout-ms, purge what is left (logged), destroy the producer.
 * Security: HTTP Basic authentication and ACLs (restproxy_auth.c), TLS
 * with tls-cert-file; it listens on 127.0.0.1 unless told otherwise, and
 * refuses to listen beyond it without a credentials file (--insecure).
 * References: docs/rest-proxy.md, docs/openapi/rest-proxy.yaml,
 * docs/security.md.
 * Non-goals: schema formats, API v3.
 */
#include "roles/restproxy/restproxy_int.h"
#include "roles/roles.h"

#include "auth/acl.h"
#include "auth/auth.h"
#include "auth/basic.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_cfg_key_t restproxy_keys[] = {
	{"port", NULL, "SLUICE_RESTPROXY_PORT", SL_CFG_INT, "8082", 0, 65535, "HTTP port of the REST proxy"},
	{"advertised-url", NULL, "SLUICE_RESTPROXY_ADVERTISED_URL", SL_CFG_STR, NULL, 0, 0,
	 "base of the base_uri of consumer instances, e.g. http://proxy:8082 (default: from the Host header)"},
	{"consumer-idle-timeout-ms", NULL, "SLUICE_RESTPROXY_CONSUMER_IDLE_TIMEOUT_MS", SL_CFG_INT, "300000", 100,
	 86400000, "close a consumer instance nobody used for this long"},
	{"consumer-request-timeout-ms", NULL, "SLUICE_RESTPROXY_CONSUMER_REQUEST_TIMEOUT_MS", SL_CFG_INT, "1000", 0,
	 300000, "how long a records read waits for data when the request gives no timeout"},
	{"consumer-max-wait-ms", NULL, "SLUICE_RESTPROXY_CONSUMER_MAX_WAIT_MS", SL_CFG_INT, "60000", 0, 3600000,
	 "upper bound on the timeout a records read may ask for"},
	{"consumer-max-bytes", NULL, "SLUICE_RESTPROXY_CONSUMER_MAX_BYTES", SL_CFG_INT, "1048576", 1, 67108864,
	 "records read size (key + value bytes) when the request gives no max_bytes"},
	{"consumer-prefetch-kbytes", NULL, "SLUICE_RESTPROXY_CONSUMER_PREFETCH_KBYTES", SL_CFG_INT, "4096", 64, 2097151,
	 "records each consumer instance fetches ahead of its reads (librdkafka queued.max.messages.kbytes)"},
	{"max-consumers", NULL, "SLUICE_RESTPROXY_MAX_CONSUMERS", SL_CFG_INT, "1000", 1, 100000,
	 "consumer instances open at once; more are refused (503, 50301)"},
	{"max-jobs", NULL, "SLUICE_RESTPROXY_MAX_JOBS", SL_CFG_INT, "256", 1, 100000,
	 "blocking Kafka calls (metadata, commits, closes) queued to the thread pool at once"},
	{"metadata-max-age-ms", NULL, "SLUICE_RESTPROXY_METADATA_MAX_AGE_MS", SL_CFG_INT, "30000", 100, 3600000,
	 "reuse cluster metadata this long before asking the brokers again"},
	{"producer-property", NULL, NULL, SL_CFG_LIST, NULL, 0, 0,
	 "librdkafka property name=value for the shared producer only (repeat; -X goes to every client)"},
	{"consumer-property", NULL, NULL, SL_CFG_LIST, NULL, 0, 0,
	 "librdkafka property name=value for consumer instances only (repeat)"},
	{"auto-create-topics", NULL, "SLUICE_RESTPROXY_AUTO_CREATE_TOPICS", SL_CFG_BOOL, "false", 0, 0,
	 "let producing to an unknown topic create it (when the broker allows); otherwise 404/40401"},
	{"credentials-file", NULL, "SLUICE_RESTPROXY_CREDENTIALS_FILE", SL_CFG_STR, NULL, 0, 0,
	 "users for HTTP Basic authentication (`user: password[,role...]`, Confluent's format); none: no authentication"},
	{"authentication-realm", NULL, "SLUICE_RESTPROXY_AUTHENTICATION_REALM", SL_CFG_STR, "KafkaRest", 0, 0,
	 "realm of the WWW-Authenticate challenge"},
	{"authentication-roles", NULL, "SLUICE_RESTPROXY_AUTHENTICATION_ROLES", SL_CFG_LIST, NULL, 0, 0,
	 "roles a user needs one of to be let in (* or none: any)"},
	{"admin-role", NULL, "SLUICE_RESTPROXY_ADMIN_ROLE", SL_CFG_STR, "admin", 0, 0,
	 "users with this role may do anything, sluice's own topics and groups included"},
	{"acl-file", NULL, "SLUICE_RESTPROXY_ACL_FILE", SL_CFG_STR, NULL, 0, 0,
	 "per-user rules (`user topic|group name[*] read|write|all`); none: every user may use every topic and group but the internal ones"},
	{"internal-topics", NULL, "SLUICE_RESTPROXY_INTERNAL_TOPICS", SL_CFG_LIST, "markets,stream-commands", 0, 0,
	 "sluice's own topics: closed to all but admins and literal ACL rules"},
	{"internal-groups", NULL, "SLUICE_RESTPROXY_INTERNAL_GROUPS", SL_CFG_LIST, "sluice-reducers,sluice-reducers-commands",
	 0, 0, "the reducers' consumer groups: closed to all but admins and literal ACL rules"},
	{0},
};

static const sl_cfg_key_t *const restproxy_tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, sl_cfg_keys_http,
							sl_auth_keys_insecure, restproxy_keys, NULL};

/* ---- routing ---- */

static bool ready_cb(void *arg, sl_buf_t *why)
{
	sl_rp_t *rp = arg;
	if (rp->stopping) {
		sl_buf_puts(why, "shutting down");
		return false;
	}
	if (!rp->md_ok) {
		sl_buf_printf(why, "kafka: %s", rp->md_err[0] ? rp->md_err : "no metadata yet");
		return false;
	}
	return true;
}

static bool is_int(const char *s, int32_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 0 || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

#define MAX_SEGS 10

static void handle_cb(sl_http_req_t *req, void *arg)
{
	sl_rp_t *rp = arg;
	if (sl_http_serve_ops(req, ready_cb, rp))
		return;
	char *segs[MAX_SEGS];
	int n = sl_rp__split_path(sl_http_req_path(req), segs, MAX_SEGS);
	const char *m = sl_http_req_method(req);
	if (n < 0) {
		sl_rp__respond_error(req, 404, 404, "HTTP 404 Not Found");
		return;
	}
	if (sl_rp__authorize(rp, req, segs, n) < 0) {
		for (int i = 0; i < n; i++)
			free(segs[i]);
		return;
	}
	if (n == 0) {
		if (!strcmp(m, "GET")) {
			sl_buf_t b = SL_BUF_INIT;
			sl_buf_puts(&b, "{}");
			sl_rp__respond_json(req, 200, NULL, &b);
			sl_buf_free(&b);
		} else {
			sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
		}
	} else if (!strcmp(segs[0], "topics") && !strcmp(m, "POST") && (n == 2 || n == 4)) {
		int32_t p = -1;
		if (n == 4 && (strcmp(segs[2], "partitions") != 0 || !is_int(segs[3], &p)))
			sl_rp__respond_error(req, 404, 404, "HTTP 404 Not Found");
		else
			sl_rp__produce_handle(rp, req, segs[1], p);
	} else if (!strcmp(segs[0], "topics") || !strcmp(segs[0], "brokers")) {
		sl_rp__meta_handle(rp, req, segs, n);
	} else if (!strcmp(segs[0], "consumers")) {
		sl_rp__consumers_handle(rp, req, segs, n);
	} else {
		sl_rp__respond_error(req, 404, 404, "HTTP 404 Not Found");
	}
	for (int i = 0; i < n; i++)
		free(segs[i]);
}

/* ---- shutdown ---- */

static void finish(sl_rp_t *rp)
{
	uv_timer_stop(&rp->stop_timer);
	uv_close((uv_handle_t *)&rp->stop_timer, NULL);
	sl_rp__meta_close(rp);
	uv_close((uv_handle_t *)&rp->sweep, NULL);
	sl_rp__produce_close(rp);
	sl_runtime_close(&rp->rt);
}

static void stop_check_cb(uv_timer_t *t)
{
	sl_rp_t *rp = t->data;
	bool late = sl_clock_mono_ms() >= rp->stop_deadline_ms;
	int outq = sl_rp__produce_outq(rp);
	if (late && !rp->purged && (rp->produce_pending || outq > 0)) {
		/* The bound is up: fail what is still queued (its requests get
		 * their errors from the purge reports) and stop waiting. */
		sl_log_warn("restproxy_undelivered", SL_KV(queued, outq), SL_KV(requests, rp->produce_pending));
		sl_rp__produce_purge(rp);
		rp->purged = true;
		rp->stop_deadline_ms = sl_clock_mono_ms() + 2000;
	} else if (late && rp->purged && rp->produce_pending) {
		/* Even the purge reports did not come: stop waiting for them. */
		sl_log_warn("restproxy_produce_abandoned", SL_KV(requests, rp->produce_pending));
		sl_rp__produce_abandon(rp);
	}
	if (!rp->srv_closed || rp->ninsts || rp->produce_pending || (outq > 0 && !rp->purged))
		return;
	/* Consumer closes and other pool jobs may still run: the loop waits
	 * for them after this, and their callbacks need none of these handles. */
	finish(rp);
}

static void srv_closed_cb(void *arg)
{
	sl_rp_t *rp = arg;
	rp->srv_closed = true;
}

static void stop_cb(void *arg)
{
	sl_rp_t *rp = arg;
	rp->stopping = true;
	if (rp->srv)
		sl_http_server_close(rp->srv, srv_closed_cb, rp);
	else
		rp->srv_closed = true;
	sl_rp__consumers_close_all(rp);
	rp->stop_deadline_ms = sl_clock_mono_ms() + rp->kafka_timeout_ms;
	uv_timer_start(&rp->stop_timer, stop_check_cb, 0, 20);
}

static void collect_cb(void *arg)
{
	sl_rp_t *rp = arg;
	sl_metric_set(rp->m_insts, (double)rp->ninsts);
	sl_metric_set(rp->m_outq, (double)sl_rp__produce_outq(rp));
}

static void metrics_init(sl_rp_t *rp)
{
	rp->m_produce_reqs = sl_metric_counter("sluice_restproxy_produce_requests_total", "", "Produce requests answered.");
	rp->m_produced = sl_metric_counter("sluice_restproxy_records_produced_total", "",
					   "Records acknowledged by Kafka (acks=all).");
	rp->m_produce_errs = sl_metric_counter("sluice_restproxy_produce_errors_total", "",
					       "Records that failed (error in the offsets array).");
	rp->m_consumed = sl_metric_counter("sluice_restproxy_records_consumed_total", "",
					   "Records returned to consumer instances.");
	rp->m_insts = sl_metric_gauge("sluice_restproxy_consumer_instances", "", "Consumer instances open.");
	rp->m_created = sl_metric_counter("sluice_restproxy_consumer_instances_created_total", "",
					  "Consumer instances created.");
	rp->m_expired = sl_metric_counter("sluice_restproxy_consumer_instances_expired_total", "",
					  "Consumer instances closed after the idle timeout.");
	rp->m_errors = sl_metric_counter("sluice_restproxy_error_responses_total", "",
					 "Requests answered with an error body.");
	rp->m_produce_ms = sl_metric_histogram("sluice_restproxy_produce_latency_ms", "",
					       "Produce request: arrival to the last delivery report.",
					       sl_metric_latency_ms_bounds, sl_metric_latency_ms_nbounds);
	rp->m_reads_waiting = sl_metric_gauge("sluice_restproxy_reads_waiting", "",
					      "Records reads (long polls) waiting for data.");
	rp->m_outq = sl_metric_gauge("sluice_restproxy_producer_queue", "", "Messages in the producer's queue.");
	sl_metrics_on_collect(collect_cb, rp);
}

/* Credentials, rules, internal resources, and the exposure rule; -1 after
 * printing the one line of a configuration error. */
static int auth_init(sl_rp_t *rp, const sl_cfg_t *cfg)
{
	sl_err_t e = {0};
	const char *creds = sl_cfg_str(cfg, "credentials-file"), *aclf = sl_cfg_str(cfg, "acl-file");
	rp->realm = sl_cfg_str(cfg, "authentication-realm");
	rp->admin_role = sl_cfg_str(cfg, "admin-role");
	rp->nroles = sl_cfg_list(cfg, "authentication-roles", &rp->roles);
	if (creds && *creds && !(rp->basic = sl_basic_load(creds, &e)))
		goto bad;
	if (aclf && *aclf) {
		if (!rp->basic) {
			sl_err_set(&e, SL_EINVAL, false, "--acl-file needs --credentials-file (rules name users)");
			goto bad;
		}
		if (!(rp->acl = sl_acl_load(aclf, &e)))
			goto bad;
		rp->acl_rules = true;
	} else {
		rp->acl = sl_acl_new();
	}
	const char *const *l;
	size_t n = sl_cfg_list(cfg, "internal-topics", &l);
	rp->internal = l;
	rp->ninternal = n;
	for (size_t i = 0; i < n; i++)
		sl_acl_add_internal(rp->acl, SL_ACL_TOPIC, l[i]);
	n = sl_cfg_list(cfg, "internal-groups", &l);
	for (size_t i = 0; i < n; i++)
		sl_acl_add_internal(rp->acl, SL_ACL_GROUP, l[i]);
	if (sl_auth_check_exposure(cfg, "sluice rest-proxy", sl_cfg_str(cfg, "listen-host"), rp->basic != NULL,
				   "--credentials-file", &e) < 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "sluice rest-proxy: %s\n", e.msg);
	return -1;
}

static int restproxy_run(sl_cfg_t *cfg)
{
	/* The thread pool runs metadata calls, commits and consumer closes; a few
	 * more threads than libuv's default 4 keep one slow close from delaying
	 * the others. Must be set before the pool starts; an explicit env wins. */
	setenv("UV_THREADPOOL_SIZE", "8", 0);
	/* librdkafka's threads each get a malloc arena by default; two arenas
	 * keep the resident size small at no measurable cost here. */
	mallopt(M_ARENA_MAX, 2);

	sl_rp_t *rp = sl_xcalloc(1, sizeof(*rp));
	uv_loop_t loop;
	uv_loop_init(&loop);
	rp->loop = &loop;
	rp->cfg = cfg;
	rp->kafka_timeout_ms = sl_cfg_int(cfg, "kafka-timeout-ms");
	rp->advertised_url = sl_cfg_str(cfg, "advertised-url");
	rp->max_jobs = (size_t)sl_cfg_int(cfg, "max-jobs");
	metrics_init(rp);
	uv_timer_init(&loop, &rp->stop_timer);
	rp->stop_timer.data = rp;

	int rc = 0;
	char err[512];
	if (auth_init(rp, cfg) < 0) {
		rc = 2;
	} else if (sl_rp__produce_init(rp, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice rest-proxy: %s\n", err);
		rc = 2;
	}
	sl_rp__meta_init(rp);
	sl_rp__consumers_init(rp);
	sl_runtime_init(&rp->rt, &loop, stop_cb, rp);
	if (!rc) {
		sl_err_t e = {0};
		rp->srv = sl_http_server_from_cfg(&loop, cfg, handle_cb, rp, &e);
		if (!rp->srv) {
			sl_log_error("restproxy_listen_failed", SL_KV(error, e.msg));
			rc = 1;
		} else {
			sl_http_server_set_error_fmt(rp->srv, sl_rp__http_error_fmt);
			sl_log_info("restproxy_listening", SL_KV(port, sl_http_server_port(rp->srv)),
				    SL_KV(brokers, sl_cfg_str(cfg, "bootstrap-server")), SL_KV(auth, rp->basic ? "basic" : "none"),
				    SL_KV(tls, sl_http_server_is_tls(rp->srv) ? "on" : "off"));
		}
	}
	if (rc) {
		rp->rt.stopping = true;
		stop_cb(rp);
	}
	int lc = sl_runtime_run(&rp->rt);
	if (lc != 0)
		sl_log_error("restproxy_loop_not_closed", SL_KV(loop_close, lc));
	if (rp->prod)
		rd_kafka_destroy(rp->prod);
	sl_rp__produce_free_abandoned(rp);
	if (rp->md)
		rd_kafka_metadata_destroy(rp->md);
	sl_http_server_free(rp->srv);
	sl_basic_free(rp->basic);
	sl_acl_free(rp->acl);
	if (rc != 2) /* a configuration error is the one line already printed */
		sl_log_info("shutdown_done", SL_KV(exit, rc ? rc : (lc ? 1 : 0)));
	free(rp);
	sl_metrics_free_all();
	return rc ? rc : (lc ? 1 : 0);
}

const sl_role_t sl_role_restproxy = {
	.name = "rest-proxy",
	.summary = "Kafka REST proxy (Confluent API v2 and v1)",
	.usage = "sluice rest-proxy [--port P] [--bootstrap-server B] [options]",
	.about = "Kafka REST proxy: Confluent REST Proxy API v2 and the v1 subset of the "
					  "kafka-rest Node.js client (produce, consumer instances, metadata).",
	.tables = restproxy_tables,
	.run = restproxy_run,
};
