/* restproxy_meta.c: cluster metadata for the REST proxy: GET /topics,
 * /topics/{t}, /topics/{t}/partitions[/{p}], /brokers, and the topic and
 * partition checks of the produce path.
 *
 * How it fits: one snapshot of the whole cluster (rd_kafka_metadata on the
 * shared producer handle) is kept in sl_rp_t. rd_kafka_metadata blocks, so
 * a refresh runs in libuv's thread pool and its waiters are called back on
 * the loop when it lands; only one refresh is in flight, later askers wait
 * for it. A timer refreshes every few seconds, which also drives /readyz
 * (ready once the brokers answered, unready when they stop answering).
 * Topic configs for GET /topics/{t} come from the Admin API's
 * DescribeConfigs, also run in the pool (it waits on its own queue there).
 * References: librdkafka rdkafka.h (rd_kafka_metadata, DescribeConfigs),
 * Confluent REST Proxy API v2 (topic and partition entities).
 * Non-goals: creating or deleting topics (that is `sluice topics`).
 */
#include "roles/restproxy/restproxy_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFRESH_EVERY_MS 5000

struct sl_rp_mwait {
	sl_rp_mwait_t *next;
	sl_rp_meta_cb cb;
	void *arg;
};

typedef struct md_job {
	uv_work_t w;
	sl_rp_t *rp;
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
} md_job_t;

static void md_work_cb(uv_work_t *w)
{
	md_job_t *job = sl_container_of(w, md_job_t, w);
	job->err = rd_kafka_metadata(job->rp->prod, 1, NULL, &job->md, (int)job->rp->kafka_timeout_ms);
}

static void md_after_cb(uv_work_t *w, int status)
{
	(void)status;
	md_job_t *job = sl_container_of(w, md_job_t, w);
	sl_rp_t *rp = job->rp;
	sl_rp__work_done(rp);
	rp->md_inflight = false;
	const char *err = NULL;
	if (job->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (rp->md)
			rd_kafka_metadata_destroy(rp->md);
		rp->md = job->md;
		rp->md_at_ms = sl_clock_mono_ms();
		if (!rp->md_ok)
			sl_log_info("restproxy_kafka_ready", SL_KV(brokers, rp->md->broker_cnt),
				    SL_KV(topics, rp->md->topic_cnt));
		rp->md_ok = true;
		rp->md_err[0] = '\0';
	} else {
		if (rp->md_ok || !rp->md_err[0])
			sl_log_warn("restproxy_metadata_failed", SL_KV(error, rd_kafka_err2str(job->err)));
		rp->md_ok = false;
		snprintf(rp->md_err, sizeof(rp->md_err), "metadata request failed: %s", rd_kafka_err2str(job->err));
		err = rp->md_err;
	}
	free(job);
	sl_rp_mwait_t *wl = rp->md_waiters;
	rp->md_waiters = NULL;
	while (wl) {
		sl_rp_mwait_t *next = wl->next;
		wl->cb(rp, err, wl->arg);
		free(wl);
		wl = next;
	}
}

static bool refresh(sl_rp_t *rp)
{
	if (rp->md_inflight)
		return true;
	if (!rp->prod)
		return false;
	md_job_t *job = sl_xcalloc(1, sizeof(*job));
	job->rp = rp;
	if (!sl_rp__queue_work(rp, &job->w, md_work_cb, md_after_cb)) {
		free(job);
		return false;
	}
	rp->md_inflight = true;
	return true;
}

void sl_rp__meta_get(sl_rp_t *rp, int64_t max_age_ms, sl_rp_meta_cb cb, void *arg)
{
	if (rp->md && rp->md_ok && sl_clock_mono_ms() - rp->md_at_ms <= max_age_ms) {
		cb(rp, NULL, arg);
		return;
	}
	if (!refresh(rp)) {
		cb(rp, "too many Kafka calls waiting", arg);
		return;
	}
	sl_rp_mwait_t *wt = sl_xmalloc(sizeof(*wt));
	wt->cb = cb;
	wt->arg = arg;
	wt->next = rp->md_waiters;
	rp->md_waiters = wt;
}

static void md_timer_cb(uv_timer_t *t)
{
	sl_rp_t *rp = t->data;
	if (!rp->stopping)
		refresh(rp);
}

int sl_rp__meta_init(sl_rp_t *rp)
{
	uv_timer_init(rp->loop, &rp->md_timer);
	rp->md_timer.data = rp;
	uv_timer_start(&rp->md_timer, md_timer_cb, 0, REFRESH_EVERY_MS);
	return 0;
}

void sl_rp__meta_close(sl_rp_t *rp)
{
	uv_timer_stop(&rp->md_timer);
	uv_close((uv_handle_t *)&rp->md_timer, NULL);
}

const struct rd_kafka_metadata_topic *sl_rp__meta_topic(const sl_rp_t *rp, const char *topic)
{
	if (!rp->md)
		return NULL;
	for (int i = 0; i < rp->md->topic_cnt; i++)
		if (!strcmp(rp->md->topics[i].topic, topic))
			return rp->md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? NULL
												 : &rp->md->topics[i];
	return NULL;
}

/* ---- JSON of metadata entities ---- */

static void partition_json(sl_buf_t *b, const struct rd_kafka_metadata_partition *p)
{
	sl_buf_printf(b, "{\"partition\":%d,\"leader\":%d,\"replicas\":[", p->id, p->leader);
	for (int r = 0; r < p->replica_cnt; r++) {
		bool isr = false;
		for (int k = 0; k < p->isr_cnt; k++)
			isr = isr || p->isrs[k] == p->replicas[r];
		sl_buf_printf(b, "%s{\"broker\":%d,\"leader\":%s,\"in_sync\":%s}", r ? "," : "", p->replicas[r],
			      p->replicas[r] == p->leader ? "true" : "false", isr ? "true" : "false");
	}
	sl_buf_puts(b, "]}");
}

static const struct rd_kafka_metadata_partition *find_partition(const struct rd_kafka_metadata_topic *t, int32_t id)
{
	for (int i = 0; i < t->partition_cnt; i++)
		if (t->partitions[i].id == id)
			return &t->partitions[i];
	return NULL;
}

static int cmp_partition(const void *a, const void *b)
{
	const struct rd_kafka_metadata_partition *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

static void partitions_json(sl_buf_t *b, const struct rd_kafka_metadata_topic *t)
{
	/* Brokers need not list partitions in order; clients expect them sorted. */
	struct rd_kafka_metadata_partition *ps = sl_xmemdup(t->partitions, sizeof(*ps) * (size_t)(t->partition_cnt + 1));
	qsort(ps, (size_t)t->partition_cnt, sizeof(*ps), cmp_partition);
	sl_buf_putc(b, '[');
	for (int i = 0; i < t->partition_cnt; i++) {
		if (i)
			sl_buf_putc(b, ',');
		partition_json(b, &ps[i]);
	}
	sl_buf_putc(b, ']');
	free(ps);
}

/* ---- topic configs (DescribeConfigs in the thread pool) ---- */

typedef struct cfg_job {
	uv_work_t w;
	sl_rp_t *rp;
	sl_http_req_t *req; /* NULL once the client went away */
	char *topic;
	const char *type;
	sl_buf_t configs;   /* JSON object, built in the worker */
} cfg_job_t;

static void cfg_work_cb(uv_work_t *w)
{
	cfg_job_t *job = sl_container_of(w, cfg_job_t, w);
	rd_kafka_t *rk = job->rp->prod;
	char errstr[256];
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, job->topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
	rd_kafka_AdminOptions_set_request_timeout(o, (int)job->rp->kafka_timeout_ms, errstr, sizeof(errstr));
	rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)job->rp->kafka_timeout_ms + 1000);
	sl_buf_putc(&job->configs, '{');
	const rd_kafka_DescribeConfigs_result_t *r = ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
	size_t nres = 0, ncfg = 0;
	const rd_kafka_ConfigResource_t **rs = r ? rd_kafka_DescribeConfigs_result_resources(r, &nres) : NULL;
	const rd_kafka_ConfigEntry_t **ents = nres ? rd_kafka_ConfigResource_configs(rs[0], &ncfg) : NULL;
	for (size_t i = 0; i < ncfg; i++) {
		const char *name = rd_kafka_ConfigEntry_name(ents[i]), *val = rd_kafka_ConfigEntry_value(ents[i]);
		if (rd_kafka_ConfigEntry_is_sensitive(ents[i]))
			continue;
		if (job->configs.len > 1)
			sl_buf_putc(&job->configs, ',');
		sl_buf_json_str(&job->configs, name, strlen(name));
		sl_buf_putc(&job->configs, ':');
		if (val)
			sl_buf_json_str(&job->configs, val, strlen(val));
		else
			sl_buf_puts(&job->configs, "null");
	}
	sl_buf_putc(&job->configs, '}');
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_queue_destroy(q);
	rd_kafka_ConfigResource_destroy(res);
}

static void cfg_after_cb(uv_work_t *w, int status)
{
	(void)status;
	cfg_job_t *job = sl_container_of(w, cfg_job_t, w);
	sl_rp_t *rp = job->rp;
	sl_rp__work_done(rp);
	if (job->req) {
		const struct rd_kafka_metadata_topic *t = sl_rp__meta_topic(rp, job->topic);
		if (!t) {
			sl_rp__respond_error(job->req, 404, SL_RP_E_TOPIC_NOT_FOUND, "Topic not found.");
		} else {
			sl_buf_t b = SL_BUF_INIT;
			sl_buf_puts(&b, "{\"name\":");
			sl_buf_json_str(&b, job->topic, strlen(job->topic));
			sl_buf_puts(&b, ",\"configs\":");
			sl_buf_append(&b, job->configs.data, job->configs.len);
			sl_buf_puts(&b, ",\"partitions\":");
			partitions_json(&b, t);
			sl_buf_putc(&b, '}');
			sl_rp__respond_json(job->req, 200, job->type, &b);
			sl_buf_free(&b);
		}
	}
	sl_buf_free(&job->configs);
	free(job->topic);
	free(job);
}

static void cfg_abort_cb(sl_http_req_t *req, void *arg)
{
	(void)req;
	((cfg_job_t *)arg)->req = NULL;
}

/* ---- GET handlers ---- */

typedef struct mreq {
	sl_http_req_t *req; /* NULL once the client went away */
	const char *type;
	char *segs[4];
	int nsegs;
} mreq_t;

static void mreq_free(mreq_t *m)
{
	for (int i = 0; i < m->nsegs; i++)
		free(m->segs[i]);
	free(m);
}

static void mreq_abort_cb(sl_http_req_t *req, void *arg)
{
	(void)req;
	((mreq_t *)arg)->req = NULL;
}

static void serve(sl_rp_t *rp, mreq_t *m)
{
	sl_http_req_t *req = m->req;
	const struct rd_kafka_metadata *md = rp->md;
	sl_buf_t b = SL_BUF_INIT;
	if (!strcmp(m->segs[0], "brokers")) {
		sl_buf_puts(&b, "{\"brokers\":[");
		for (int i = 0; i < md->broker_cnt; i++)
			sl_buf_printf(&b, "%s%d", i ? "," : "", md->brokers[i].id);
		sl_buf_puts(&b, "]}");
	} else if (m->nsegs == 1) {
		sl_buf_putc(&b, '[');
		bool first = true;
		for (int i = 0; i < md->topic_cnt; i++) {
			const char *t = md->topics[i].topic;
			if (!strncmp(t, "__", 2) || md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
				continue; /* internal topics (__consumer_offsets) are not listed */
			if (!first)
				sl_buf_putc(&b, ',');
			first = false;
			sl_buf_json_str(&b, t, strlen(t));
		}
		sl_buf_putc(&b, ']');
	} else {
		const struct rd_kafka_metadata_topic *t = sl_rp__meta_topic(rp, m->segs[1]);
		int32_t pid = -1;
		if (!t) {
			sl_rp__respond_error(req, 404, SL_RP_E_TOPIC_NOT_FOUND, "Topic not found.");
		} else if (m->nsegs == 2) {
			cfg_job_t *job = sl_xcalloc(1, sizeof(*job));
			job->rp = rp;
			job->req = req;
			job->type = m->type;
			job->topic = sl_xstrdup(m->segs[1]);
			if (!sl_rp__queue_work(rp, &job->w, cfg_work_cb, cfg_after_cb)) {
				free(job->topic);
				free(job);
				sl_rp__respond_error(req, 503, SL_RP_E_TOO_MANY, "too many Kafka calls waiting; retry");
			} else {
				sl_http_req_on_abort(req, cfg_abort_cb, job);
			}
		} else if (m->nsegs == 3) {
			partitions_json(&b, t);
		} else {
			char *end;
			long p = strtol(m->segs[3], &end, 10);
			const struct rd_kafka_metadata_partition *mp = NULL;
			if (*m->segs[3] && !*end && p >= 0 && p <= INT32_MAX)
				mp = find_partition(t, pid = (int32_t)p);
			if (!mp)
				sl_rp__respond_error(req, 404, SL_RP_E_PARTITION_NOT_FOUND, "Partition not found.");
			else
				partition_json(&b, mp);
		}
		if (!b.len) {
			sl_buf_free(&b);
			return;
		}
	}
	sl_rp__respond_json(req, 200, m->type, &b);
	sl_buf_free(&b);
}

static void meta_ready_cb(sl_rp_t *rp, const char *err, void *arg)
{
	mreq_t *m = arg;
	if (m->req) {
		sl_http_req_on_abort(m->req, NULL, NULL);
		if (err)
			sl_rp__respond_error(m->req, 503, SL_RP_E_KAFKA_RETRIABLE, "Retriable Kafka error: %s", err);
		else
			serve(rp, m);
	}
	mreq_free(m);
}

void sl_rp__meta_handle(sl_rp_t *rp, sl_http_req_t *req, char **segs, int nsegs)
{
	bool brokers = !strcmp(segs[0], "brokers");
	bool shape = brokers ? nsegs == 1
			     : (nsegs <= 2 || ((nsegs == 3 || nsegs == 4) && !strcmp(segs[2], "partitions")));
	if (!shape) {
		sl_rp__respond_error(req, 404, 404, "HTTP 404 Not Found");
		return;
	}
	if (strcmp(sl_http_req_method(req), "GET") != 0) {
		sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
		return;
	}
	const char *type = sl_rp__meta_type(req);
	if (!type)
		return;
	mreq_t *m = sl_xcalloc(1, sizeof(*m));
	m->req = req;
	m->type = type;
	m->nsegs = nsegs;
	for (int i = 0; i < nsegs; i++)
		m->segs[i] = sl_xstrdup(segs[i]);
	sl_http_req_on_abort(req, mreq_abort_cb, m);
	/* Metadata reads are rare: a second-old view is fresh enough and a
	 * topic created a moment ago is seen. */
	sl_rp__meta_get(rp, 1000, meta_ready_cb, m);
}
