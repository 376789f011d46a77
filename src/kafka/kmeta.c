/* kmeta.c: periodic metadata probe on the libuv thread pool (see kmeta.h).
 *
 * One probe at a time: the timer only queues work when none is in flight,
 * so a slow broker cannot pile up thread-pool jobs. The worker writes only
 * the `res_*` fields, which the loop thread reads in after_work_cb (libuv
 * orders the two), so no lock is needed.
 * References: libuv docs/src/threadpool.rst; rd_kafka_metadata().
 * Non-goals: caching leaders or offsets.
 */
#include "kafka/kmeta.h"

#include "core/alloc.h"
#include "core/log.h"
#include "kafka/kconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sl_kmeta {
	uv_loop_t *loop;
	rd_kafka_t *rk;
	char *topic;
	int timeout_ms;
	uv_timer_t timer;
	uv_work_t work;
	bool busy, closing, timer_closed, was_up, probed;
	bool up;
	int32_t partitions;
	char error[160];
	/* written by the worker */
	bool res_up;
	int32_t res_partitions;
	char res_error[160];
	sl_kmeta_cb cb;
	void *arg;
	void (*done)(void *arg);
	void *done_arg;
};

static void work_cb(uv_work_t *w)
{
	sl_kmeta_t *m = w->data;
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(m->rk, 1, NULL, &md, m->timeout_ms);
	m->res_partitions = -1;
	m->res_error[0] = 0;
	if (e) {
		m->res_up = false;
		char why[256];
		if (sl_kconf_auth_failure(why, sizeof(why)))
			snprintf(m->res_error, sizeof(m->res_error), "kafka refused the credentials: %.120s", why);
		else
			snprintf(m->res_error, sizeof(m->res_error), "kafka metadata: %s", rd_kafka_err2str(e));
		return;
	}
	m->res_up = md->broker_cnt > 0;
	for (int i = 0; i < md->topic_cnt; i++)
		if (!strcmp(md->topics[i].topic, m->topic) && !md->topics[i].err)
			m->res_partitions = md->topics[i].partition_cnt;
	if (m->res_partitions < 0)
		snprintf(m->res_error, sizeof(m->res_error), "topic %s does not exist", m->topic);
	rd_kafka_metadata_destroy(md);
}

static void maybe_done(sl_kmeta_t *m)
{
	if (m->closing && !m->busy && m->timer_closed) {
		void (*done)(void *) = m->done;
		void *arg = m->done_arg;
		free(m->topic);
		free(m);
		if (done)
			done(arg);
	}
}

static void after_work_cb(uv_work_t *w, int status)
{
	sl_kmeta_t *m = w->data;
	m->busy = false;
	if (m->closing || status) {
		maybe_done(m);
		return;
	}
	m->up = m->res_up;
	m->partitions = m->res_partitions;
	memcpy(m->error, m->res_error, sizeof(m->error));
	if (m->up != m->was_up || !m->probed) {
		if (m->up)
			sl_log_info("kafka_reachable", SL_KV(topic, m->topic), SL_KV(partitions, m->partitions));
		else
			sl_log_warn("kafka_unreachable", SL_KV(error, m->error));
	}
	m->probed = true;
	m->was_up = m->up;
	if (m->cb)
		m->cb(m, m->arg);
}

static void timer_cb(uv_timer_t *t)
{
	sl_kmeta_t *m = t->data;
	if (m->busy || m->closing)
		return;
	m->busy = true;
	m->work.data = m;
	if (uv_queue_work(m->loop, &m->work, work_cb, after_work_cb) != 0)
		m->busy = false;
}

sl_kmeta_t *sl_kmeta_new(uv_loop_t *loop, rd_kafka_t *rk, const char *topic, uint64_t every_ms,
			     int timeout_ms, sl_kmeta_cb cb, void *arg)
{
	sl_kmeta_t *m = sl_xcalloc(1, sizeof(*m));
	m->loop = loop;
	m->rk = rk;
	m->topic = sl_xstrdup(topic);
	m->timeout_ms = timeout_ms;
	m->partitions = -1;
	snprintf(m->error, sizeof(m->error), "kafka not probed yet");
	m->cb = cb;
	m->arg = arg;
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	uv_timer_start(&m->timer, timer_cb, 0, every_ms);
	return m;
}

bool sl_kmeta_up(const sl_kmeta_t *m)
{
	return m->up;
}

int32_t sl_kmeta_partitions(const sl_kmeta_t *m)
{
	return m->partitions;
}

const char *sl_kmeta_error(const sl_kmeta_t *m)
{
	return m->up && m->partitions > 0 ? "" : m->error;
}

static void timer_close_cb(uv_handle_t *h)
{
	sl_kmeta_t *m = h->data;
	m->timer_closed = true;
	maybe_done(m);
}

void sl_kmeta_close(sl_kmeta_t *m, void (*done)(void *arg), void *arg)
{
	if (m->closing)
		return;
	m->closing = true;
	m->done = done;
	m->done_arg = arg;
	uv_close((uv_handle_t *)&m->timer, timer_close_cb);
}
