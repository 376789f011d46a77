/* restproxy_common.c: what every part of the REST proxy shares: answers in
 * Confluent's shape, content-type checks, Kafka errors mapped to Confluent's
 * codes, the bounded queue of blocking jobs, and Kafka property defaults.
 *
 * How it fits: the bottom of the role (restproxy_int.h lists who calls
 * whom): restproxy.c routes to restproxy_meta.c, restproxy_produce.c and
 * restproxy_consumer_api.c, which calls restproxy_consumer.c; all of them
 * call down here and into restproxy_wire.c (pure parsing), never up.
 * References: docs/rest-proxy.md (error codes).
 * Non-goals: routing, I/O of its own.
 */
#include "roles/restproxy/restproxy_int.h"

#include "core/log.h"
#include "kafka/kconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- answering ---- */

const char *sl_rp__meta_type(sl_http_req_t *req)
{
	int i = sl_rp__negotiate(sl_http_req_header(req, "accept"), sl_rp_meta_types, sl_rp_meta_ntypes);
	if (i < 0) {
		sl_buf_t b = SL_BUF_INIT;
		sl_rp__error_body(&b, SL_RP_E_NOT_ACCEPTABLE,
				  "none of the Accept types can be served (application/vnd.kafka.v2+json, "
				  "application/vnd.kafka.v1+json, application/vnd.kafka+json, application/json)");
		sl_http_respond(req, 406, "application/json", b.data, b.len);
		sl_buf_free(&b);
		return NULL;
	}
	return sl_rp_meta_types[i];
}

void sl_rp__respond_json(sl_http_req_t *req, int status, const char *type, const sl_buf_t *body)
{
	if (!type && !(type = sl_rp__meta_type(req)))
		return;
	sl_http_respond(req, status, type, body->data ? body->data : "", body->len);
}

void sl_rp__respond_error(sl_http_req_t *req, int status, int error_code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_rp_t *rp = sl_http_req_server_arg(req);
	sl_metric_add(rp->m_errors, 1);
	const char *accept = sl_http_req_header(req, "accept");
	int i = sl_rp__negotiate(accept, sl_rp_meta_types, sl_rp_meta_ntypes);
	char type[96] = "application/json";
	if (i >= 0) {
		snprintf(type, sizeof(type), "%s", sl_rp_meta_types[i]);
	} else if (accept && !strncmp(accept, "application/vnd.kafka.", 22)) {
		/* A records Accept (application/vnd.kafka.binary.v1+json): the error
		 * comes in that type too, as Confluent's does. */
		size_t n = strcspn(accept, ",; \t");
		if (n < sizeof(type) && strspn(accept, "abcdefghijklmnopqrstuvwxyz0123456789./+-") >= n)
			snprintf(type, sizeof(type), "%.*s", (int)n, accept);
	}
	sl_buf_t b = SL_BUF_INIT;
	sl_rp__error_body(&b, error_code, msg);
	sl_http_respond(req, status, type, b.data, b.len);
	sl_buf_free(&b);
	sl_log_debug("restproxy_error", SL_KV(status, status), SL_KV(error_code, error_code));
}

bool sl_rp__check_ctype(sl_http_req_t *req, sl_rp_ctype_t *ct)
{
	const char *why;
	const char *h = sl_http_req_header(req, "content-type");
	if (sl_rp__parse_ctype(h, ct, &why) < 0) {
		sl_rp__respond_error(req, 415, 415, "%s: '%s'", why, h ? h : "");
		return false;
	}
	return true;
}

static bool err_retriable(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
	case RD_KAFKA_RESP_ERR__QUEUE_FULL:
	case RD_KAFKA_RESP_ERR__WAIT_COORD:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
	case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
	case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
	case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
	case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
		return true;
	default:
		return false;
	}
}

int sl_rp__kafka_error_code(rd_kafka_resp_err_t e)
{
	return err_retriable(e) ? SL_RP_E_KAFKA_RETRIABLE : SL_RP_E_KAFKA;
}

void sl_rp__respond_kafka_error(sl_http_req_t *req, rd_kafka_resp_err_t e, const char *what)
{
	if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
		sl_rp__respond_error(req, 404, SL_RP_E_TOPIC_NOT_FOUND, "Topic not found: %s", what);
		return;
	}
	bool unreachable = e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
			   e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;
	sl_rp__respond_error(req, unreachable ? 503 : 500, sl_rp__kafka_error_code(e), "%sKafka error: %s: %s",
			     err_retriable(e) ? "Retriable " : "", what, rd_kafka_err2str(e));
}

bool sl_rp__queue_work(sl_rp_t *rp, uv_work_t *w, uv_work_cb work, uv_after_work_cb after)
{
	if (rp->jobs >= rp->max_jobs || uv_queue_work(rp->loop, w, work, after) < 0)
		return false;
	rp->jobs++;
	return true;
}

void sl_rp__work_done(sl_rp_t *rp)
{
	rp->jobs--;
}

/* Set a property unless the user passed it with -X kafka.<name>=. */
int sl_rp__conf_list(rd_kafka_conf_t *conf, const sl_cfg_t *cfg, const char *key, sl_err_t *e)
{
	const char *const *items;
	size_t n = sl_cfg_list(cfg, key, &items);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(items[i], '=');
		if (!eq || eq == items[i])
			return sl_err_set(e, SL_EINVAL, false, "--%s '%s': expected name=value", key, items[i]);
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - items[i]), items[i]);
		int rc = sl_kconf_set(conf, name, eq + 1, e);
		if (rc)
			return rc;
	}
	return 0;
}

int sl_rp__conf_default(rd_kafka_conf_t *conf, const sl_cfg_t *cfg, const char *name, const char *value,
			sl_err_t *e)
{
	const char *const *props;
	size_t n = sl_cfg_kafka_props(cfg, &props), len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (!strncmp(props[i], name, len) && props[i][len] == '=')
			return 0;
	return sl_kconf_set(conf, name, value, e);
}

