/* restproxy_consumer.c: consumer instances of the REST proxy: creation,
 * reading (long polls), idle expiry and close.
 *
 * How it fits: each instance is its own rd_kafka_t, a member of the
 * client's consumer group. Its consumer queue (the main queue forwarded to
 * it, so logs, errors and rebalances come the same way) wakes the loop
 * (kafka/kclient.h: rd_kafka_queue_io_event_enable, a pipe, a uv_poll), and
 * is polled with timeout 0 only. A records read takes what is ready at once;
 * when nothing is, the request waits (the HTTP server answers later) until
 * a wake-up brings records or its timer runs out, so a slow read never holds
 * up other requests. max_bytes bounds the key+value bytes of an answer: the
 * record that would cross it is held back as the first of the next read, so
 * nothing fetched is lost and no offset moves past what a client received.
 * Offsets are stored (for auto-commit and commits without a body) only for
 * records actually returned; enable.auto.offset.store is off.
 * Lifetime: instances idle longer than --consumer-idle-timeout-ms are
 * closed by a sweep timer. Closing unhooks the loop handles first, then runs
 * rd_kafka_consumer_close + rd_kafka_destroy in the thread pool (both wait on
 * the group coordinator), after the last job using the handle finished.
 * References: librdkafka rdkafka.h (KafkaConsumer API, io events).
 * Non-goals: sharing one rd_kafka_t between instances (each must be its own
 * group member); fetching without a client read (only one record is held).
 */
#include "roles/restproxy/restproxy_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "kafka/kconf.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_rp_read {
	sl_rp_inst_t *inst;
	sl_http_req_t *req;
	const char *type;
	bool v1;
	long max_bytes;
	size_t bytes, count;
	sl_buf_t out;
	rd_kafka_resp_err_t err;
	char err_topic[256];
	bool waiting; /* counted in sluice_restproxy_reads_waiting */
};

/* ---- lookup and references ---- */

sl_rp_inst_t *sl_rp__inst_find(sl_rp_t *rp, const char *group, const char *name)
{
	for (sl_rp_inst_t *i = rp->insts; i; i = i->next)
		if (!strcmp(i->name, name) && !strcmp(i->group, group))
			return i;
	return NULL;
}

static void destroy_start(sl_rp_inst_t *inst);

void sl_rp__inst_ref(sl_rp_inst_t *inst)
{
	inst->refs++;
}

void sl_rp__inst_unref(sl_rp_inst_t *inst)
{
	if (--inst->refs == 0 && inst->closing && inst->handles == 0)
		destroy_start(inst);
}

/* ---- encoding records ---- */

static void embed(sl_buf_t *b, sl_rp_fmt_t fmt, const void *p, size_t len)
{
	if (!p) {
		sl_buf_puts(b, "null");
		return;
	}
	if (fmt == SL_RP_FMT_BINARY) {
		sl_buf_putc(b, '"');
		sl_base64_encode(b, p, len, SL_RP_BASE64_OUT);
		sl_buf_putc(b, '"');
		return;
	}
	/* json format: the bytes are JSON already (as produced by a json
	 * producer); anything else is returned as a JSON string, not dropped. */
	json_t *v = json_loadb(p, len, JSON_DECODE_ANY, NULL);
	if (v)
		sl_buf_append(b, p, len);
	else
		sl_buf_json_str(b, p, len);
	json_decref(v);
}

static void append_record(sl_rp_read_t *rd, const rd_kafka_message_t *m)
{
	sl_buf_t *b = &rd->out;
	sl_buf_putc(b, rd->count ? ',' : '[');
	if (!rd->v1) {
		const char *t = rd_kafka_topic_name(m->rkt);
		sl_buf_puts(b, "{\"topic\":");
		sl_buf_json_str(b, t, strlen(t));
		sl_buf_puts(b, ",\"key\":");
	} else {
		sl_buf_puts(b, "{\"key\":");
	}
	embed(b, rd->inst->fmt, m->key, m->key_len);
	sl_buf_puts(b, ",\"value\":");
	embed(b, rd->inst->fmt, m->payload, m->len);
	sl_buf_printf(b, ",\"partition\":%d,\"offset\":%lld}", m->partition, (long long)m->offset);
	rd->count++;
	rd->bytes += m->key_len + m->len;
	/* Remember the next offset of this partition for commits. */
	sl_rp_inst_t *inst = rd->inst;
	const char *t = rd_kafka_topic_name(m->rkt);
	rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(inst->delivered, t, m->partition);
	if (!tp)
		tp = rd_kafka_topic_partition_list_add(inst->delivered, t, m->partition);
	tp->offset = m->offset + 1;
}

/* ---- reading ---- */

static void read_respond(sl_rp_inst_t *inst)
{
	sl_rp_read_t *rd = inst->read;
	inst->read = NULL;
	if (rd->waiting)
		sl_metric_add(inst->rp->m_reads_waiting, -1);
	uv_timer_stop(&inst->timer);
	inst->last_used_ms = sl_clock_mono_ms();
	if (rd->count && inst->delivered->cnt) {
		/* Returned records count as consumed: auto-commit may commit them now. */
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(inst->delivered);
		rd_kafka_offsets_store(inst->rk, l);
		rd_kafka_topic_partition_list_destroy(l);
	}
	sl_metric_add(inst->rp->m_consumed, (double)rd->count);
	if (rd->req) {
		sl_http_req_on_abort(rd->req, NULL, NULL);
		if (rd->err && !rd->count) {
			if (rd->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
				sl_rp__respond_error(rd->req, 404, SL_RP_E_TOPIC_NOT_FOUND, "Topic not found: %s",
						     rd->err_topic);
			else
				sl_rp__respond_kafka_error(rd->req, rd->err, "consume");
		} else {
			sl_buf_puts(&rd->out, rd->count ? "]" : "[]");
			sl_http_respond(rd->req, 200, rd->type, rd->out.data, rd->out.len);
		}
	}
	sl_buf_free(&rd->out);
	free(rd);
}

/* Take what is ready. True when the read should be answered now. */
static bool read_fill(sl_rp_inst_t *inst)
{
	sl_rp_read_t *rd = inst->read;
	for (;;) {
		rd_kafka_message_t *m = inst->held;
		inst->held = NULL;
		if (!m)
			m = rd_kafka_consumer_poll(inst->rk, 0);
		if (!m)
			return rd->count > 0;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				rd->err = m->err;
				snprintf(rd->err_topic, sizeof(rd->err_topic), "%s",
					 m->rkt ? rd_kafka_topic_name(m->rkt) : "");
				sl_log_debug("restproxy_consume_error", SL_KV(group, inst->group), SL_KV(instance, inst->name),
					     SL_KV(error, rd_kafka_message_errstr(m)));
			}
			rd_kafka_message_destroy(m);
			if (rd->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
				return true;
			rd->err = RD_KAFKA_RESP_ERR_NO_ERROR; /* transient: librdkafka retries */
			continue;
		}
		size_t size = m->key_len + m->len;
		if (rd->count && rd->bytes + size > (size_t)rd->max_bytes) {
			inst->held = m; /* first of the next read */
			return true;
		}
		append_record(rd, m);
		rd_kafka_message_destroy(m);
		if (rd->bytes >= (size_t)rd->max_bytes)
			return true;
	}
}

static void read_abort_cb(sl_http_req_t *req, void *arg)
{
	(void)req;
	sl_rp_inst_t *inst = arg;
	if (inst->read)
		inst->read->req = NULL;
	/* Keep what was gathered: nothing was handed out, so answer nobody and
	 * let the records stay held for the next read. */
	if (inst->read && inst->read->count == 0) {
		if (inst->read->waiting)
			sl_metric_add(inst->rp->m_reads_waiting, -1);
		sl_buf_free(&inst->read->out);
		free(inst->read);
		inst->read = NULL;
		uv_timer_stop(&inst->timer);
	}
}

static void read_timer_cb(uv_timer_t *t)
{
	sl_rp_inst_t *inst = t->data;
	if (inst->read)
		read_respond(inst);
}

void sl_rp__inst_read(sl_rp_inst_t *inst, sl_http_req_t *req, const char *type, bool v1, int64_t timeout_ms,
		      long max_bytes)
{
	if (inst->read) {
		sl_rp__respond_error(req, 409, SL_RP_E_ILLEGAL_STATE,
				     "Illegal state: another read is waiting on this consumer instance");
		return;
	}
	sl_rp_read_t *rd = sl_xcalloc(1, sizeof(*rd));
	rd->inst = inst;
	rd->req = req;
	rd->type = type;
	rd->v1 = v1;
	rd->max_bytes = max_bytes;
	inst->read = rd;
	inst->last_used_ms = sl_clock_mono_ms();
	if (read_fill(inst) || timeout_ms <= 0) {
		read_respond(inst);
		return;
	}
	sl_http_req_on_abort(req, read_abort_cb, inst);
	rd->waiting = true;
	sl_metric_add(inst->rp->m_reads_waiting, 1);
	uv_timer_start(&inst->timer, read_timer_cb, (uint64_t)timeout_ms, 0);
}

static void wake_cb(sl_kclient_wake_t *w)
{
	sl_rp_inst_t *inst = w->data;
	if (inst->closing)
		return;
	if (inst->read) {
		if (read_fill(inst))
			read_respond(inst);
	} else if (!inst->held) {
		/* Serve rebalances, logs and errors; keep the first record for later. */
		inst->held = rd_kafka_consumer_poll(inst->rk, 0);
		if (inst->held && inst->held->err) {
			rd_kafka_message_destroy(inst->held);
			inst->held = NULL;
		}
	}
}

void sl_rp__inst_drop_held(sl_rp_inst_t *inst, const rd_kafka_topic_partition_list_t *parts)
{
	if (!inst->held || !inst->held->rkt)
		return;
	if (!parts || rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(inst->held->rkt),
							 inst->held->partition)) {
		rd_kafka_message_destroy(inst->held);
		inst->held = NULL;
	}
}

rd_kafka_topic_partition_list_t *sl_rp__inst_delivered(sl_rp_inst_t *inst)
{
	rd_kafka_topic_partition_list_t *asg = NULL, *out = rd_kafka_topic_partition_list_new(inst->delivered->cnt + 1);
	rd_kafka_assignment(inst->rk, &asg);
	for (int i = 0; i < inst->delivered->cnt; i++) {
		rd_kafka_topic_partition_t *d = &inst->delivered->elems[i];
		if (asg && rd_kafka_topic_partition_list_find(asg, d->topic, d->partition))
			rd_kafka_topic_partition_list_add(out, d->topic, d->partition)->offset = d->offset;
	}
	if (asg)
		rd_kafka_topic_partition_list_destroy(asg);
	return out;
}

/* ---- creation ---- */

static void inst_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	sl_rp_inst_t *inst = opaque;
	if (!strncmp(inst->last_err, reason, sizeof(inst->last_err) - 1))
		return;
	snprintf(inst->last_err, sizeof(inst->last_err), "%s", reason);
	sl_log_warn("kafka_error", SL_KV(client, "consumer"), SL_KV(group, inst->group), SL_KV(instance, inst->name),
		    SL_KV(error_code, rd_kafka_err2name(err)), SL_KV(error, reason));
}

static void inst_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	sl_log_at(level <= 3 ? SL_LOG_WARN : SL_LOG_DEBUG, "kafka_log", SL_KV(client, "consumer"), SL_KV(facility, fac),
		  SL_KV(text, buf));
}

static rd_kafka_t *new_consumer(sl_rp_t *rp, sl_rp_inst_t *inst, const sl_rp_consumer_conf_t *cc, char *err,
				size_t errlen)
{
	sl_err_t e = {0};
	rd_kafka_conf_t *conf = sl_kconf_new(rp->cfg, "rest-proxy", SL_KCONF_CONSUMER, &e);
	char num[32];
	int rc = conf ? 0 : -1;
	rc = rc ? rc : sl_kconf_set(conf, "group.id", inst->group, &e);
	rc = rc ? rc : sl_kconf_set(conf, "enable.auto.offset.store", "false", &e);
	rc = rc ? rc : sl_kconf_set(conf, "log.queue", "true", &e);
	/* Many instances share one process: each one's prefetch is bounded
	 * (librdkafka's default is 64 MiB per consumer), and fetched in small
	 * pieces. librdkafka 2.0 stops fetching once the prefetch is full and
	 * starts again only when its broker thread next wakes (up to 1 s), so
	 * fetch responses of a quarter of the bound (a sixteenth per partition)
	 * keep a fast reader from ever finding it full. */
	long long pre = sl_cfg_int(rp->cfg, "consumer-prefetch-kbytes");
	snprintf(num, sizeof(num), "%lld", pre);
	rc = rc ? rc : sl_rp__conf_default(conf, rp->cfg, "queued.max.messages.kbytes", num, &e);
	snprintf(num, sizeof(num), "%lld", pre * 256 < 1048576 ? 1048576LL : pre * 256);
	rc = rc ? rc : sl_rp__conf_default(conf, rp->cfg, "fetch.max.bytes", num, &e);
	snprintf(num, sizeof(num), "%lld", pre * 64 < 65536 ? 65536LL : pre * 64);
	rc = rc ? rc : sl_rp__conf_default(conf, rp->cfg, "max.partition.fetch.bytes", num, &e);
	/* The same version also backs a fetcher off by this much when its
	 * prefetch is full (newer ones have fetch.queue.backoff.ms). */
	rc = rc ? rc : sl_rp__conf_default(conf, rp->cfg, "fetch.error.backoff.ms", "20", &e);
	rc = rc ? rc : sl_rp__conf_list(conf, rp->cfg, "consumer-property", &e);
	if (!rc && cc->offset_reset[0])
		rc = sl_kconf_set(conf, "auto.offset.reset", cc->offset_reset, &e);
	if (!rc && cc->auto_commit >= 0)
		rc = sl_kconf_set(conf, "enable.auto.commit", cc->auto_commit ? "true" : "false", &e);
	if (!rc && cc->fetch_min_bytes >= 0) {
		snprintf(num, sizeof(num), "%ld", cc->fetch_min_bytes > 0 ? cc->fetch_min_bytes : 1);
		rc = sl_kconf_set(conf, "fetch.min.bytes", num, &e);
	}
	if (rc) {
		if (conf)
			rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "%s", e.msg);
		return NULL;
	}
	rd_kafka_conf_set_error_cb(conf, inst_error_cb);
	rd_kafka_conf_set_log_cb(conf, inst_log_cb);
	rd_kafka_conf_set_opaque(conf, inst);
	rd_kafka_t *rk = sl_kclient_new(RD_KAFKA_CONSUMER, conf, &e);
	if (!rk)
		snprintf(err, errlen, "%s", e.msg);
	return rk;
}

static void random_name(char *out, size_t outlen)
{
	unsigned char r[8];
	if (RAND_bytes(r, sizeof(r)) != 1)
		abort(); /* no entropy: refuse to hand out guessable ids */
	snprintf(out, outlen, "rest-consumer-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
		 r[6], r[7]);
}

static bool host_ok(const char *h)
{
	if (!h || !*h || strlen(h) > 255)
		return false;
	for (; *h; h++)
		if (*h <= ' ' || *h == '"' || *h == '\\' || *h == '/' || *h == 127)
			return false;
	return true;
}

void sl_rp__inst_create(sl_rp_t *rp, sl_http_req_t *req, const char *group)
{
	sl_iov_t body = sl_http_req_body(req);
	sl_rp_ctype_t ct;
	if (body.len && !sl_rp__check_ctype(req, &ct))
		return;
	const char *type = sl_rp__meta_type(req);
	if (!type)
		return;
	sl_rp_consumer_conf_t cc;
	char msg[512];
	int code = sl_rp__parse_consumer_conf(body.base, body.len, &cc, msg, sizeof(msg));
	if (code) {
		sl_rp__respond_error(req, code == 400 ? 400 : 422, code, "Invalid consumer configuration: %s", msg);
		return;
	}
	if (rp->stopping) {
		sl_rp__respond_error(req, 503, SL_RP_E_TOO_MANY, "shutting down");
		return;
	}
	if (rp->ninsts >= rp->max_insts) {
		sl_rp__respond_error(req, 503, SL_RP_E_TOO_MANY, "too many consumer instances (limit %zu); delete some",
				     rp->max_insts);
		return;
	}
	if (!cc.name[0])
		random_name(cc.name, sizeof(cc.name));
	if (sl_rp__inst_find(rp, group, cc.name)) {
		sl_rp__respond_error(req, 409, SL_RP_E_INSTANCE_EXISTS,
				     "Consumer with specified consumer ID already exists in the specified consumer group.");
		return;
	}
	sl_rp_inst_t *inst = sl_xcalloc(1, sizeof(*inst));
	inst->rp = rp;
	inst->group = sl_xstrdup(group);
	inst->name = sl_xstrdup(cc.name);
	inst->fmt = cc.fmt;
	inst->req_timeout_ms = cc.request_timeout_ms >= 0 ? cc.request_timeout_ms : rp->default_req_timeout_ms;
	inst->rk = new_consumer(rp, inst, &cc, msg, sizeof(msg));
	sl_err_t we = {0};
	if (inst->rk) {
		rd_kafka_set_log_queue(inst->rk, NULL);
		rd_kafka_poll_set_consumer(inst->rk);
	}
	if (!inst->rk ||
	    sl_kclient_wake_init(&inst->wake, rp->loop, rd_kafka_queue_get_consumer(inst->rk), wake_cb, inst, &we) < 0) {
		if (!inst->rk) {
			sl_rp__respond_error(req, 422, SL_RP_E_CONSUMER_CONFIG, "Invalid consumer configuration: %s", msg);
		} else {
			sl_rp__respond_error(req, 500, SL_RP_E_KAFKA, "Kafka error: %s", we.msg);
			rd_kafka_destroy(inst->rk);
		}
		free(inst->group);
		free(inst->name);
		free(inst);
		return;
	}
	inst->delivered = rd_kafka_topic_partition_list_new(4);
	uv_timer_init(rp->loop, &inst->timer);
	inst->timer.data = inst;
	inst->handles = 2;
	inst->last_used_ms = sl_clock_mono_ms();
	inst->next = rp->insts;
	if (rp->insts)
		rp->insts->prev = inst;
	rp->insts = inst;
	rp->ninsts++;
	sl_metric_add(rp->m_created, 1);

	sl_buf_t uri = SL_BUF_INIT, b = SL_BUF_INIT;
	const char *host = sl_http_req_header(req, "host");
	if (rp->advertised_url)
		sl_buf_puts(&uri, rp->advertised_url);
	else if (host_ok(host))
		sl_buf_printf(&uri, "http://%s", host);
	else
		sl_buf_printf(&uri, "http://127.0.0.1:%d", sl_http_server_port(rp->srv));
	while (uri.len && uri.data[uri.len - 1] == '/')
		uri.data[--uri.len] = '\0';
	sl_buf_printf(&uri, "/consumers/%s/instances/%s", group, cc.name);
	sl_buf_puts(&b, "{\"instance_id\":");
	sl_buf_json_str(&b, cc.name, strlen(cc.name));
	sl_buf_puts(&b, ",\"base_uri\":");
	sl_buf_json_str(&b, uri.data, uri.len);
	sl_buf_putc(&b, '}');
	sl_rp__respond_json(req, 200, type, &b);
	sl_buf_free(&b);
	sl_buf_free(&uri);
	sl_log_info("consumer_created", SL_KV(group, group), SL_KV(instance, cc.name),
		    SL_KV(format, cc.fmt == SL_RP_FMT_JSON ? "json" : "binary"), SL_KV(instances, rp->ninsts));
}

/* ---- close ---- */

typedef struct close_job {
	uv_work_t w;
	sl_rp_inst_t *inst;
	rd_kafka_resp_err_t err;
} close_job_t;

static void close_work_cb(uv_work_t *w)
{
	close_job_t *job = sl_container_of(w, close_job_t, w);
	job->err = rd_kafka_consumer_close(job->inst->rk);
	rd_kafka_destroy(job->inst->rk);
}

static void inst_free(sl_rp_inst_t *inst)
{
	sl_rp_t *rp = inst->rp;
	rp->nclosing--;
	if (inst->del_req) {
		sl_http_req_on_abort(inst->del_req, NULL, NULL);
		sl_http_respond(inst->del_req, 204, NULL, NULL, 0);
	}
	rd_kafka_topic_partition_list_destroy(inst->delivered);
	free(inst->v1_topic);
	free(inst->group);
	free(inst->name);
	free(inst);
}

static void close_after_cb(uv_work_t *w, int status)
{
	(void)status;
	close_job_t *job = sl_container_of(w, close_job_t, w);
	sl_rp_inst_t *inst = job->inst;
	sl_rp__work_done(inst->rp);
	if (inst->expired)
		sl_log_info("consumer_expired", SL_KV(group, inst->group), SL_KV(instance, inst->name),
			    SL_KV(error_code, rd_kafka_err2name(job->err)));
	else
		sl_log_info("consumer_closed", SL_KV(group, inst->group), SL_KV(instance, inst->name),
			    SL_KV(error_code, rd_kafka_err2name(job->err)));
	free(job);
	inst_free(inst);
}

static void destroy_start(sl_rp_inst_t *inst)
{
	close_job_t *job = sl_xcalloc(1, sizeof(*job));
	job->inst = inst;
	/* The close must happen even when the queue is at its bound. */
	if (uv_queue_work(inst->rp->loop, &job->w, close_work_cb, close_after_cb) == 0) {
		inst->rp->jobs++;
		return;
	}
	free(job);
	rd_kafka_destroy(inst->rk);
	inst_free(inst);
}

static void handle_done(sl_rp_inst_t *inst)
{
	if (--inst->handles == 0 && inst->refs == 0)
		destroy_start(inst);
}

static void handle_closed_cb(uv_handle_t *h)
{
	handle_done(h->data);
}

static void wake_closed_cb(sl_kclient_wake_t *w)
{
	handle_done(w->data);
}

static void del_abort_cb(sl_http_req_t *req, void *arg)
{
	(void)req;
	((sl_rp_inst_t *)arg)->del_req = NULL;
}

void sl_rp__inst_close(sl_rp_inst_t *inst, sl_http_req_t *del_req, const char *why)
{
	sl_rp_t *rp = inst->rp;
	if (inst->closing)
		return;
	inst->closing = true;
	inst->expired = !strcmp(why, "idle");
	if (inst->prev)
		inst->prev->next = inst->next;
	else
		rp->insts = inst->next;
	if (inst->next)
		inst->next->prev = inst->prev;
	rp->ninsts--;
	rp->nclosing++;
	if (inst->read)
		read_respond(inst);
	if (inst->held) {
		rd_kafka_message_destroy(inst->held);
		inst->held = NULL;
	}
	inst->del_req = del_req;
	if (del_req)
		sl_http_req_on_abort(del_req, del_abort_cb, inst);
	sl_kclient_wake_close(&inst->wake, wake_closed_cb);
	uv_close((uv_handle_t *)&inst->timer, handle_closed_cb);
	sl_log_debug("consumer_closing", SL_KV(group, inst->group), SL_KV(instance, inst->name), SL_KV(reason, why));
}

static void sweep_cb(uv_timer_t *t)
{
	sl_rp_t *rp = t->data;
	int64_t now = sl_clock_mono_ms();
	for (sl_rp_inst_t *i = rp->insts, *next; i; i = next) {
		next = i->next;
		if (!i->read && now - i->last_used_ms >= rp->idle_ms) {
			sl_metric_add(rp->m_expired, 1);
			sl_rp__inst_close(i, NULL, "idle");
		}
	}
}

void sl_rp__consumers_init(sl_rp_t *rp)
{
	rp->idle_ms = sl_cfg_int(rp->cfg, "consumer-idle-timeout-ms");
	rp->default_req_timeout_ms = sl_cfg_int(rp->cfg, "consumer-request-timeout-ms");
	rp->max_req_timeout_ms = sl_cfg_int(rp->cfg, "consumer-max-wait-ms");
	rp->default_max_bytes = (long)sl_cfg_int(rp->cfg, "consumer-max-bytes");
	rp->max_max_bytes = 64L << 20;
	rp->max_insts = (size_t)sl_cfg_int(rp->cfg, "max-consumers");
	uv_timer_init(rp->loop, &rp->sweep);
	rp->sweep.data = rp;
	uint64_t every = rp->idle_ms / 4 < 1000 ? (uint64_t)(rp->idle_ms / 4 + 1) : 1000;
	uv_timer_start(&rp->sweep, sweep_cb, every, every);
}

void sl_rp__consumers_close_all(sl_rp_t *rp)
{
	uv_timer_stop(&rp->sweep);
	while (rp->insts)
		sl_rp__inst_close(rp->insts, NULL, "shutdown");
}
