/* restproxy_produce.c: POST /topics/{t} and /topics/{t}/partitions/{p}:
 * records in, one result per record (partition and offset, or an error).
 *
 * How it fits: one producer serves every request (idempotent, acks=all, via
 * kafka/kconf.h). A request is parsed and checked whole first (body, base64,
 * topic and partitions against the metadata snapshot), so a bad request
 * produces nothing. Each record then goes out with rd_kafka_producev and
 * its result slot as the message opaque; the delivery report fills the slot,
 * and the last report of a request answers it. Delivery reports, logs and
 * errors arrive on the producer's main queue, which wakes the loop (kafka/kclient.h:
 * rd_kafka_queue_io_event_enable, a pipe, a uv_poll); the loop
 * then serves it with rd_kafka_poll(rk, 0), a bounded number of events per
 * turn. A client that goes away does not cancel its records: their reports
 * still arrive and are counted, only the answer is dropped.
 * Bounds: the producer queue (queue.buffering.max.*) is the bound; a record
 * that does not fit gets error 50003 (queue full, retriable) at once.
 * References: librdkafka rdkafka.h (producev, dr_msg_cb, io events).
 * Non-goals: transactions, schema formats.
 */
#include "roles/restproxy/restproxy_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "kafka/kconf.h"
#include "loop/runtime.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_BATCH 64 /* rd_kafka_poll calls per loop turn */

typedef struct preq preq_t;

typedef struct prec {
	preq_t *pr;
	int32_t partition;
	int64_t offset;
	rd_kafka_resp_err_t err;
} prec_t;

struct preq {
	preq_t *next, *prev; /* rp->preqs: waiting for delivery reports */
	bool abandoned;      /* answered at a stuck shutdown; freed after destroy */
	sl_rp_t *rp;
	sl_http_req_t *req; /* NULL once the client went away */
	const char *type;
	char *topic;
	sl_rp_records_t recs;
	prec_t *res;
	size_t n, remaining;
	bool retried;
	uint64_t t0_ns;
};

static void preq_abort_cb(sl_http_req_t *req, void *arg)
{
	(void)req;
	((preq_t *)arg)->req = NULL;
}

static void preq_unlink(preq_t *pr)
{
	sl_rp_t *rp = pr->rp;
	if (pr->prev)
		pr->prev->next = pr->next;
	else if (rp->preqs == pr)
		rp->preqs = pr->next;
	if (pr->next)
		pr->next->prev = pr->prev;
	pr->next = pr->prev = NULL;
}

static void preq_free(preq_t *pr)
{
	sl_rp__records_free(&pr->recs);
	free(pr->res);
	free(pr->topic);
	free(pr);
}

static void preq_finish(preq_t *pr)
{
	sl_rp_t *rp = pr->rp;
	size_t ok = 0;
	if (pr->abandoned)
		return; /* a report after the forced end: freed with the producer */
	preq_unlink(pr);
	if (pr->req) {
		sl_buf_t b = SL_BUF_INIT;
		sl_buf_reserve(&b, 64 + pr->n * 64);
		sl_buf_puts(&b, "{\"key_schema_id\":null,\"value_schema_id\":null,\"offsets\":[");
		for (size_t i = 0; i < pr->n; i++) {
			prec_t *r = &pr->res[i];
			if (i)
				sl_buf_putc(&b, ',');
			if (r->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				sl_buf_printf(&b, "{\"partition\":%d,\"offset\":%lld,\"error_code\":null,\"error\":null}",
					      r->partition, (long long)r->offset);
			} else {
				const char *e = rd_kafka_err2str(r->err);
				if (r->partition >= 0)
					sl_buf_printf(&b, "{\"partition\":%d,", r->partition);
				else
					sl_buf_puts(&b, "{\"partition\":null,");
				sl_buf_printf(&b, "\"offset\":null,\"error_code\":%d,\"error\":",
					      sl_rp__kafka_error_code(r->err));
				sl_buf_json_str(&b, e, strlen(e));
				sl_buf_putc(&b, '}');
			}
		}
		sl_buf_puts(&b, "]}");
		sl_http_req_on_abort(pr->req, NULL, NULL);
		sl_rp__respond_json(pr->req, 200, pr->type, &b);
		sl_buf_free(&b);
	}
	for (size_t i = 0; i < pr->n; i++)
		ok += pr->res[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
	sl_metric_add(rp->m_produce_reqs, 1);
	sl_metric_add(rp->m_produced, (double)ok);
	sl_metric_add(rp->m_produce_errs, (double)(pr->n - ok));
	sl_metric_observe(rp->m_produce_ms, (double)(sl_clock_mono_ns() - pr->t0_ns) / 1e6);
	rp->produce_pending--;
	preq_free(pr);
}

void sl_rp__produce_abandon(sl_rp_t *rp)
{
	for (preq_t *pr = rp->preqs; pr; pr = pr->next) {
		pr->abandoned = true;
		if (pr->req) {
			sl_http_req_on_abort(pr->req, NULL, NULL);
			sl_rp__respond_error(pr->req, 503, SL_RP_E_KAFKA_RETRIABLE,
					     "Retriable Kafka error: not acknowledged before shutdown");
			pr->req = NULL;
		}
	}
	rp->produce_pending = 0;
}

void sl_rp__produce_free_abandoned(sl_rp_t *rp)
{
	while (rp->preqs) {
		preq_t *pr = rp->preqs;
		rp->preqs = pr->next;
		preq_free(pr);
	}
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	prec_t *r = m->_private;
	r->err = m->err;
	r->partition = m->partition;
	r->offset = m->offset;
	if (--r->pr->remaining == 0)
		preq_finish(r->pr);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	sl_rp_t *rp = opaque;
	/* Connection errors repeat while a broker is down: log each new reason once. */
	if (!strcmp(rp->prod_err, reason))
		return;
	snprintf(rp->prod_err, sizeof(rp->prod_err), "%s", reason);
	char fatal[256] = "";
	if (err == RD_KAFKA_RESP_ERR__FATAL)
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
	if (fatal[0]) {
		sl_log_error("kafka_fatal", SL_KV(client, "producer"), SL_KV(error, reason), SL_KV(fatal, fatal));
		sl_runtime_fail(); /* no produce can succeed any more: stop, exit 1 */
	} else {
		sl_log_warn("kafka_error", SL_KV(client, "producer"), SL_KV(error_code, rd_kafka_err2name(err)),
			    SL_KV(error, reason));
	}
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	sl_log_at(level <= 3 ? SL_LOG_WARN : SL_LOG_DEBUG, "kafka_log", SL_KV(client, "producer"), SL_KV(facility, fac),
		  SL_KV(text, buf));
}

static void prod_wake_cb(sl_kclient_wake_t *w)
{
	sl_rp_t *rp = w->data;
	int i = 0;
	while (i < POLL_BATCH && rd_kafka_poll(rp->prod, 0) > 0)
		i++;
	if (i == POLL_BATCH)
		sl_kclient_wake_again(w);
}

int sl_rp__produce_init(sl_rp_t *rp, char *err, size_t errlen)
{
	sl_err_t e = {0};
	rd_kafka_conf_t *conf = sl_kconf_new(rp->cfg, "rest-proxy", SL_KCONF_PRODUCER, &e);
	char tmo[32];
	snprintf(tmo, sizeof(tmo), "%lld", (long long)rp->kafka_timeout_ms);
	if (!conf || sl_rp__conf_default(conf, rp->cfg, "acks", "all", &e) ||
	    sl_rp__conf_default(conf, rp->cfg, "message.timeout.ms", tmo, &e) ||
	    sl_rp__conf_default(conf, rp->cfg, "allow.auto.create.topics",
			sl_cfg_bool(rp->cfg, "auto-create-topics") ? "true" : "false", &e) ||
	    sl_kconf_set(conf, "log.queue", "true", &e) || sl_rp__conf_list(conf, rp->cfg, "producer-property", &e)) {
		if (conf)
			rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	/* Check --consumer-property now, so a bad one is a start-up error. */
	rd_kafka_conf_t *cconf = rd_kafka_conf_new();
	int crc = sl_rp__conf_list(cconf, rp->cfg, "consumer-property", &e);
	rd_kafka_conf_destroy(cconf);
	if (crc) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_opaque(conf, rp);
	rp->prod = sl_kclient_new(RD_KAFKA_PRODUCER, conf, &e);
	if (!rp->prod) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	rd_kafka_set_log_queue(rp->prod, NULL);
	if (sl_kclient_wake_init(&rp->prod_wake, rp->loop, rd_kafka_queue_get_main(rp->prod), prod_wake_cb, rp, &e) < 0) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	return 0;
}

void sl_rp__produce_close(sl_rp_t *rp)
{
	sl_kclient_wake_close(&rp->prod_wake, NULL);
}

int sl_rp__produce_outq(sl_rp_t *rp)
{
	return rp->prod ? rd_kafka_outq_len(rp->prod) : 0;
}

void sl_rp__produce_purge(sl_rp_t *rp)
{
	if (rp->prod)
		rd_kafka_purge(rp->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

/* ---- the request ---- */

static void send_all(sl_rp_t *rp, preq_t *pr)
{
	pr->res = sl_xcalloc(pr->n, sizeof(prec_t));
	pr->remaining = pr->n;
	for (size_t i = 0; i < pr->n; i++) {
		sl_rp_record_t *rec = &pr->recs.recs[i];
		prec_t *r = &pr->res[i];
		r->pr = pr;
		r->partition = rec->partition;
		r->offset = -1;
		rd_kafka_resp_err_t e = rd_kafka_producev(
			rp->prod, RD_KAFKA_V_TOPIC(pr->topic),
			RD_KAFKA_V_PARTITION(rec->partition >= 0 ? rec->partition : RD_KAFKA_PARTITION_UA),
			RD_KAFKA_V_KEY(rec->key, rec->key_len), RD_KAFKA_V_VALUE((void *)rec->value, rec->value_len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
		if (e) {
			r->err = e;
			pr->remaining--;
		}
	}
	/* The payloads were copied; the parsed body is no longer needed. */
	sl_rp__records_free(&pr->recs);
	if (pr->remaining == 0)
		preq_finish(pr);
}

static void produce_meta_cb(sl_rp_t *rp, const char *err, void *arg)
{
	preq_t *pr = arg;
	if (err) {
		if (pr->req) {
			sl_http_req_on_abort(pr->req, NULL, NULL);
			sl_rp__respond_error(pr->req, 503, SL_RP_E_KAFKA_RETRIABLE, "Retriable Kafka error: %s", err);
			pr->req = NULL;
		}
		pr->n = 0;
		preq_finish(pr);
		return;
	}
	const struct rd_kafka_metadata_topic *t = sl_rp__meta_topic(rp, pr->topic);
	if (!t && !pr->retried && sl_clock_mono_ms() - rp->md_at_ms > 200) {
		/* Maybe created since the snapshot: look once more before saying 404. */
		pr->retried = true;
		sl_rp__meta_get(rp, 0, produce_meta_cb, pr);
		return;
	}
	int code = 0;
	if (!t && !sl_cfg_bool(rp->cfg, "auto-create-topics"))
		code = SL_RP_E_TOPIC_NOT_FOUND;
	for (size_t i = 0; t && !code && i < pr->recs.n; i++)
		if (pr->recs.recs[i].partition >= t->partition_cnt)
			code = SL_RP_E_PARTITION_NOT_FOUND;
	if (code == SL_RP_E_PARTITION_NOT_FOUND && !pr->retried && sl_clock_mono_ms() - rp->md_at_ms > 200) {
		/* Partitions may have been added since the snapshot. */
		pr->retried = true;
		sl_rp__meta_get(rp, 0, produce_meta_cb, pr);
		return;
	}
	if (code) {
		if (pr->req) {
			sl_http_req_on_abort(pr->req, NULL, NULL);
			sl_rp__respond_error(pr->req, 404, code,
					     code == SL_RP_E_TOPIC_NOT_FOUND ? "Topic not found." : "Partition not found.");
			pr->req = NULL;
		}
		pr->n = 0;
		preq_finish(pr);
		return;
	}
	send_all(rp, pr);
}

static bool topic_name_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 249 || !strcmp(t, ".") || !strcmp(t, ".."))
		return false;
	for (; *t; t++)
		if (!isalnum((unsigned char)*t) && *t != '.' && *t != '_' && *t != '-')
			return false;
	return true;
}

void sl_rp__produce_handle(sl_rp_t *rp, sl_http_req_t *req, const char *topic, int32_t partition)
{
	sl_rp_ctype_t ct;
	if (!sl_rp__check_ctype(req, &ct))
		return;
	const char *type = sl_rp__meta_type(req);
	if (!type)
		return;
	if (rp->stopping || !rp->prod) {
		sl_rp__respond_error(req, 503, SL_RP_E_KAFKA_RETRIABLE, "Retriable Kafka error: shutting down");
		return;
	}
	if (!topic_name_ok(topic)) {
		sl_rp__respond_error(req, 404, SL_RP_E_TOPIC_NOT_FOUND,
				     "Topic not found: not a valid topic name (1-249 of [A-Za-z0-9._-])");
		return;
	}
	preq_t *pr = sl_xcalloc(1, sizeof(*pr));
	char msg[256];
	sl_iov_t body = sl_http_req_body(req);
	int code = sl_rp__parse_records(body.base, body.len, ct.fmt, partition, &pr->recs, msg, sizeof(msg));
	if (code) {
		free(pr);
		sl_rp__respond_error(req, code == 400 ? 400 : 422, code, "%s", msg);
		return;
	}
	pr->rp = rp;
	pr->req = req;
	pr->type = type;
	pr->topic = sl_xstrdup(topic);
	pr->n = pr->recs.n;
	pr->t0_ns = sl_clock_mono_ns();
	rp->produce_pending++;
	pr->next = rp->preqs;
	if (rp->preqs)
		rp->preqs->prev = pr;
	rp->preqs = pr;
	sl_http_req_on_abort(req, preq_abort_cb, pr);
	sl_rp__meta_get(rp, sl_cfg_int(rp->cfg, "metadata-max-age-ms"), produce_meta_cb, pr);
}
