/* feed.c: `sluice feed`: the demo's and the benchmarks' data source: a random
 * walk per market produced to the data topic at a chosen rate.
 *
 * How it fits: the seed's producer script, in C: per market
 * `dir = clamp(normal(dir, 1), -0.75, 0.75); value += dir` (the seed starts
 * at 0; we start every market at 100 so prices look like prices), printed
 * with 4 decimals as JSON {"market":"m-0042","price":101.2345,"ts":<ms>},
 * key = market id (m-0001 ... m-<M>), markets taken round-robin.
 * The producer is idempotent (acks=all) and uses partitioner=murmur2_random,
 * Kafka's default partitioner, so the API can compute a market's partition
 * (kafka/kpart.h). One libuv loop: a 1 ms timer produces what the rate
 * allows since the start (--rate 0: as fast as the broker takes) and polls
 * delivery reports with timeout 0; QUEUE_FULL ends the tick (backpressure,
 * never a blocking wait). It waits for the topic to exist rather than
 * auto-creating it with one partition. --count N stops after N records
 * (pre-producing for benchmarks), flushes (bounded) and exits, 1 if any
 * record was not delivered. A progress line is drawn when stderr is a terminal.
 * Batching (docs/benchmarks-pipeline.md, "Kafka in proportion"): unless
 * -X kafka.linger.ms is given, records wait for company 1 ms from 500
 * records/s up (one produce request per millisecond instead of one per
 * record: the broker's CPU falls about 4x, for at most 1 ms of latency),
 * none below that (where batching saves the broker little and each record
 * would pay the wait), and the client's default 5 ms when producing as fast
 * as possible (--rate 0).
 * Non-goals: realistic odds, replaying files (use `sluice produce`).
 */
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "kafka/kclient.h"
#include "kafka/kconf.h"
#include "kafka/kmeta.h"
#include "loop/runtime.h"
#include "proto/http.h"
#include "roles/roles.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const sl_cfg_key_t feed_keys[] = {
	{"port", NULL, "SLUICE_FEED_PORT", SL_CFG_INT, "8093", 0, 65535, "ops HTTP port (/healthz /readyz /metrics)"},
	{"markets", NULL, "SLUICE_FEED_MARKETS", SL_CFG_INT, "50", 1, 10000000, "number of markets (m-0001 ...)"},
	{"rate", NULL, "SLUICE_FEED_RATE", SL_CFG_DOUBLE, "1", 0, 10000000,
	 "records per second in total; 0: as fast as the broker takes"},
	{"count", NULL, "SLUICE_FEED_COUNT", SL_CFG_INT, "0", 0, 1e15, "stop after this many records (0: run until SIGTERM)"},
	{"seed", NULL, "SLUICE_FEED_SEED", SL_CFG_INT, "0", 0, 1e15, "random seed (0: from the clock)"},
	{0},
};

static const sl_cfg_key_t *const feed_tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, sl_cfg_keys_topics,
						  sl_cfg_keys_http, feed_keys, NULL};

typedef struct feed {
	uv_loop_t *loop;
	sl_cfg_t *cfg;
	sl_runtime_t rt;
	rd_kafka_t *rk;
	sl_kmeta_t *meta;
	sl_http_server_t *http;
	uv_timer_t tick;
	const char *topic;
	long markets;
	double rate;
	long long count;
	double *dir, *value;
	uint64_t rng;
	long long produced, delivered, failed;
	long next_market;
	int64_t start_ms, last_progress_ms, flush_deadline_ms;
	long long progress_base;
	bool producing, stopping, done, tty;
	sl_metric_t *m_out, *m_delivered, *m_failed, *m_queue;
} feed_t;

/* xorshift64*: fast, good enough for a random walk. */
static double rnd_unit(feed_t *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return (double)((f->rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* Box-Muller. */
static double rnd_normal(feed_t *f, double mean, double sd)
{
	double u1 = rnd_unit(f), u2 = rnd_unit(f);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return mean + sd * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk;
	feed_t *f = opaque;
	if (rkm->err) {
		if (f->failed++ == 0)
			sl_log_warn("delivery_failed", SL_KV(error, rd_kafka_err2str(rkm->err)));
		sl_metric_add(f->m_failed, 1);
	} else {
		f->delivered++;
		sl_metric_add(f->m_delivered, 1);
	}
}

/* Produce one record; false when the local queue is full. */
static bool produce_one(feed_t *f)
{
	long i = f->next_market;
	double dir = clamp(rnd_normal(f, f->dir[i], 1.0), -0.75, 0.75);
	double v = f->value[i] + dir;
	char key[32], val[128];
	int klen = snprintf(key, sizeof(key), "m-%04ld", i + 1);
	int vlen = snprintf(val, sizeof(val), "{\"market\":\"%s\",\"price\":%.4f,\"ts\":%lld}", key, v,
			    (long long)sl_clock_wall_ms());
	rd_kafka_resp_err_t e = rd_kafka_producev(f->rk, RD_KAFKA_V_TOPIC(f->topic), RD_KAFKA_V_KEY(key, (size_t)klen),
						  RD_KAFKA_V_VALUE(val, (size_t)vlen),
						  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return false; /* the step is drawn again next time: the walk is unchanged */
	if (e) {
		if (f->failed++ == 0)
			sl_log_warn("produce_failed", SL_KV(error, rd_kafka_err2str(e)));
		return false;
	}
	f->dir[i] = dir;
	f->value[i] = v;
	f->produced++;
	sl_metric_add(f->m_out, 1);
	f->next_market = (i + 1) % f->markets;
	return true;
}

static void progress(feed_t *f, bool final)
{
	int64_t now = sl_clock_mono_ms();
	if (!f->tty || (!final && now - f->last_progress_ms < 1000))
		return;
	double secs = (double)(now - f->last_progress_ms) / 1000.0;
	fprintf(stderr, "\rsluice feed: produced=%lld delivered=%lld failed=%lld rate=%.0f/s   %s", f->produced,
		f->delivered, f->failed, secs > 0 ? (double)(f->produced - f->progress_base) / secs : 0.0,
		final ? "\n" : "");
	f->last_progress_ms = now;
	f->progress_base = f->produced;
}

static void meta_closed_cb(void *arg)
{
	feed_t *f = arg;
	f->meta = NULL;
	rd_kafka_destroy(f->rk);
	f->rk = NULL;
	uv_close((uv_handle_t *)&f->tick, NULL);
	sl_runtime_close(&f->rt);
}

static void http_closed_cb(void *arg)
{
	feed_t *f = arg;
	sl_http_server_free(f->http);
	f->http = NULL;
}

static void finish(feed_t *f)
{
	if (f->done)
		return;
	f->done = true;
	long long undelivered = rd_kafka_outq_len(f->rk);
	progress(f, true);
	sl_log_info("feed_done", SL_KV(produced, f->produced), SL_KV(delivered, f->delivered), SL_KV(failed, f->failed),
		    SL_KV(undelivered, undelivered));
	if (f->http)
		sl_http_server_close(f->http, http_closed_cb, f);
	sl_kmeta_close(f->meta, meta_closed_cb, f);
}

static void stop_cb(void *arg)
{
	feed_t *f = arg;
	f->stopping = true;
	f->flush_deadline_ms = sl_clock_mono_ms() + sl_cfg_int(f->cfg, "kafka-timeout-ms");
}

static void tick_cb(uv_timer_t *t)
{
	feed_t *f = t->data;
	rd_kafka_poll(f->rk, 0);
	sl_metric_set(f->m_queue, rd_kafka_outq_len(f->rk));
	if (f->done)
		return;
	if (f->stopping) {
		if (rd_kafka_outq_len(f->rk) == 0 || sl_clock_mono_ms() >= f->flush_deadline_ms)
			finish(f);
		return;
	}
	if (!f->producing) {
		if (sl_kmeta_partitions(f->meta) <= 0)
			return;
		f->producing = true;
		f->start_ms = f->last_progress_ms = sl_clock_mono_ms();
		sl_log_info("feed_started", SL_KV(topic, f->topic), SL_KV(partitions, sl_kmeta_partitions(f->meta)),
			    SL_KV(markets, f->markets), SL_KV(rate, f->rate), SL_KV(count, f->count));
	}
	long long due;
	if (f->rate > 0)
		due = (long long)(f->rate * (double)(sl_clock_mono_ms() - f->start_ms) / 1000.0) + 1 - f->produced;
	else
		due = 100000;
	if (due > 100000)
		due = 100000;
	if (f->count && due > f->count - f->produced)
		due = f->count - f->produced;
	for (long long i = 0; i < due; i++)
		if (!produce_one(f))
			break;
	rd_kafka_poll(f->rk, 0);
	progress(f, false);
	if (f->count && f->produced >= f->count)
		stop_cb(f);
}

static bool ready_cb(void *arg, sl_buf_t *why)
{
	feed_t *f = arg;
	if (sl_kmeta_up(f->meta) && sl_kmeta_partitions(f->meta) > 0)
		return true;
	sl_buf_puts(why, sl_kmeta_error(f->meta));
	return false;
}

static void http_cb(sl_http_req_t *req, void *arg)
{
	if (!sl_http_serve_ops(req, ready_cb, arg))
		sl_http_respond_error(req, 404, "not_found", "no such endpoint");
}

/* -X kafka.linger.ms (or its older name) on the command line or in the environment. */
static bool linger_given(const sl_cfg_t *cfg)
{
	const char *const *props;
	size_t n = sl_cfg_kafka_props(cfg, &props);
	for (size_t i = 0; i < n; i++)
		if (!strncmp(props[i], "linger.ms=", 10) || !strncmp(props[i], "queue.buffering.max.ms=", 23))
			return true;
	return false;
}

static int feed_run(sl_cfg_t *cfg)
{
	feed_t f = {0};
	f.cfg = cfg;
	f.topic = sl_cfg_str(cfg, "data-topic");
	f.markets = (long)sl_cfg_int(cfg, "markets");
	f.rate = sl_cfg_double(cfg, "rate");
	f.count = sl_cfg_int(cfg, "count");
	f.rng = (uint64_t)sl_cfg_int(cfg, "seed");
	if (!f.rng)
		f.rng = (uint64_t)sl_clock_mono_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	f.tty = isatty(2);
	sl_err_t err = {0};
	rd_kafka_conf_t *conf = sl_kconf_new(cfg, "feed", SL_KCONF_PRODUCER, &err);
	if (conf && f.rate > 0 && !linger_given(cfg) &&
	    sl_kconf_set(conf, "linger.ms", f.rate >= 500 ? "1" : "0", &err) < 0) {
		rd_kafka_conf_destroy(conf);
		conf = NULL;
	}
	if (conf && sl_kconf_set(conf, "partitioner", "murmur2_random", &err) < 0) {
		rd_kafka_conf_destroy(conf);
		conf = NULL;
	}
	if (!conf) {
		fprintf(stderr, "sluice feed: %s\n", err.msg);
		return 2;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_opaque(conf, &f);
	f.rk = sl_kclient_new(RD_KAFKA_PRODUCER, conf, &err);
	if (!f.rk) {
		fprintf(stderr, "sluice feed: %s\n", err.msg);
		return 1;
	}
	f.dir = sl_xcalloc((size_t)f.markets, sizeof(double));
	f.value = sl_xcalloc((size_t)f.markets, sizeof(double));
	for (long i = 0; i < f.markets; i++)
		f.value[i] = 100.0;
	f.m_out = sl_metric_counter("sluice_feed_records_out_total", "", "records handed to the producer");
	f.m_delivered = sl_metric_counter("sluice_feed_delivered_total", "", "records acknowledged by Kafka");
	f.m_failed = sl_metric_counter("sluice_feed_failed_total", "", "records Kafka did not take");
	f.m_queue = sl_metric_gauge("sluice_feed_queue_depth", "", "records waiting in the producer");
	uv_loop_t loop;
	uv_loop_init(&loop);
	f.loop = &loop;
	sl_runtime_init(&f.rt, &loop, stop_cb, &f);
	f.meta = sl_kmeta_new(&loop, f.rk, f.topic, 2000, (int)sl_cfg_int(cfg, "kafka-timeout-ms"), NULL, NULL);
	uv_timer_init(&loop, &f.tick);
	f.tick.data = &f;
	uv_timer_start(&f.tick, tick_cb, 1, 1);
	f.http = sl_http_server_from_cfg(&loop, cfg, http_cb, &f, &err);
	int rv = 0;
	if (!f.http) {
		sl_log_error("listen_failed", SL_KV(port, sl_cfg_int(cfg, "port")), SL_KV(error, err.msg));
		rv = 1;
		stop_cb(&f);
	}
	int lc = sl_runtime_run(&f.rt);
	if (lc)
		sl_log_error("loop_close_failed", SL_KV(loop_close, lc));
	if (f.failed || f.delivered < f.produced)
		rv = 1;
	free(f.dir);
	free(f.value);
	sl_metrics_free_all();
	return rv;
}

const sl_role_t sl_role_feed = {
	.name = "feed",
	.summary = "produce a random walk per market to the data topic",
	.usage = "sluice feed [--markets M] [--rate R] [--count N] [options]",
	.tables = feed_tables,
	.run = feed_run,
};
