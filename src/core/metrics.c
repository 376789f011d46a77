/* metrics.c: the registry and Prometheus text renderer of metrics.h
 * (sharded per thread, see there). */
#include "core/metrics.h"

#include "core/alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef enum { COUNTER, GAUGE, HISTOGRAM } kind_t;

/* One thread's slot of a metric, on a cache line of its own so that loop
 * threads updating the same counter never share a line. */
typedef struct shard {
	_Alignas(64) _Atomic double value;  /* counter/gauge; histogram: sum */
	_Atomic unsigned long long count;   /* histogram */
	_Atomic unsigned long long *buckets; /* histogram: nbounds + 1 (the +Inf bucket) */
} shard_t;

struct sl_metric {
	kind_t kind;
	char *name, *labels, *help;
	double *bounds;
	size_t nbounds;
	shard_t shards[SL_METRICS_SHARDS];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local unsigned my_shard;
static sl_metric_t **metrics;
static size_t nmetrics;
static sl_metrics_collect_cb collect_cbs[8];
static void *collect_args[8];
static size_t ncollect;
static time_t start_time;

/* Fine below 5 ms, where the fan-out path's latency budget is spent. */
const double sl_metric_latency_ms_bounds[] = {0.1, 0.25, 0.5, 0.75, 1,   1.5, 2,   2.5,  3,    4,    5,    7.5, 10,
					      15,  20,   30,  50,   75, 100, 150, 250, 500, 1000, 2500, 5000, 10000};
const size_t sl_metric_latency_ms_nbounds = sizeof(sl_metric_latency_ms_bounds) / sizeof(double);

void sl_metrics_thread_shard(unsigned shard)
{
	my_shard = shard < SL_METRICS_SHARDS ? shard : SL_METRICS_SHARDS - 1;
}

/* Called with the lock held. */
static sl_metric_t *lookup(kind_t kind, const char *name, const char *labels, const char *help)
{
	if (!start_time)
		start_time = time(NULL);
	for (size_t i = 0; i < nmetrics; i++)
		if (!strcmp(metrics[i]->name, name) && !strcmp(metrics[i]->labels, labels))
			return metrics[i];
	/* The shards must start on cache lines: malloc only promises 16 bytes. */
	sl_metric_t *m = aligned_alloc(_Alignof(sl_metric_t), sizeof(*m));
	if (!m)
		sl_xoom(sizeof(*m));
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->name = sl_xstrdup(name);
	m->labels = sl_xstrdup(labels);
	m->help = sl_xstrdup(help);
	metrics = sl_xrealloc(metrics, (nmetrics + 1) * sizeof(*metrics));
	metrics[nmetrics++] = m;
	return m;
}

sl_metric_t *sl_metric_counter(const char *name, const char *labels, const char *help)
{
	pthread_mutex_lock(&lock);
	sl_metric_t *m = lookup(COUNTER, name, labels, help);
	pthread_mutex_unlock(&lock);
	return m;
}

sl_metric_t *sl_metric_gauge(const char *name, const char *labels, const char *help)
{
	pthread_mutex_lock(&lock);
	sl_metric_t *m = lookup(GAUGE, name, labels, help);
	pthread_mutex_unlock(&lock);
	return m;
}

sl_metric_t *sl_metric_histogram(const char *name, const char *labels, const char *help,
				 const double *bounds, size_t nbounds)
{
	pthread_mutex_lock(&lock);
	sl_metric_t *m = lookup(HISTOGRAM, name, labels, help);
	if (!m->bounds) {
		m->bounds = sl_xmemdup(bounds, nbounds * sizeof(double));
		m->nbounds = nbounds;
		for (size_t s = 0; s < SL_METRICS_SHARDS; s++)
			m->shards[s].buckets = sl_xcalloc(nbounds + 1, sizeof(unsigned long long));
	}
	pthread_mutex_unlock(&lock);
	return m;
}

/* Only the owning thread writes its shard: a relaxed load and store (plain
 * moves on x86-64) make the render's concurrent read well defined. */
#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

void sl_metric_add(sl_metric_t *m, double v)
{
	shard_t *sh = &m->shards[my_shard];
	STORE(sh->value, LOAD(sh->value) + v);
}

void sl_metric_set(sl_metric_t *m, double v)
{
	STORE(m->shards[my_shard].value, v);
}

static double sum_value(const sl_metric_t *m)
{
	double v = 0;
	for (size_t s = 0; s < SL_METRICS_SHARDS; s++)
		v += LOAD(m->shards[s].value);
	return v;
}

static unsigned long long sum_count(const sl_metric_t *m)
{
	unsigned long long n = 0;
	for (size_t s = 0; s < SL_METRICS_SHARDS; s++)
		n += LOAD(m->shards[s].count);
	return n;
}

static unsigned long long sum_bucket(const sl_metric_t *m, size_t b)
{
	unsigned long long n = 0;
	for (size_t s = 0; s < SL_METRICS_SHARDS; s++)
		n += LOAD(m->shards[s].buckets[b]);
	return n;
}

double sl_metric_value(const sl_metric_t *m)
{
	return m->kind == HISTOGRAM ? (double)sum_count(m) : sum_value(m);
}

void sl_metric_observe(sl_metric_t *m, double v)
{
	shard_t *sh = &m->shards[my_shard];
	size_t i = 0;
	/* Few buckets: a linear scan beats a binary search here. */
	while (i < m->nbounds && v > m->bounds[i])
		i++;
	STORE(sh->buckets[i], LOAD(sh->buckets[i]) + 1);
	STORE(sh->count, LOAD(sh->count) + 1);
	STORE(sh->value, LOAD(sh->value) + v);
}

double sl_metric_quantile(const sl_metric_t *m, double q)
{
	unsigned long long count = sum_count(m);
	if (!count)
		return 0;
	double rank = q * (double)count, seen = 0, lo = 0;
	for (size_t i = 0; i <= m->nbounds; i++) {
		double hi = i < m->nbounds ? m->bounds[i] : (m->nbounds ? m->bounds[m->nbounds - 1] * 2 : 0);
		double in = (double)sum_bucket(m, i);
		if (seen + in >= rank && in > 0) {
			double frac = (rank - seen) / in;
			return lo + (hi - lo) * frac;
		}
		seen += in;
		lo = hi;
	}
	return lo;
}

void sl_metrics_on_collect(sl_metrics_collect_cb cb, void *arg)
{
	pthread_mutex_lock(&lock);
	if (ncollect < sizeof(collect_cbs) / sizeof(collect_cbs[0])) {
		collect_cbs[ncollect] = cb;
		collect_args[ncollect++] = arg;
	}
	pthread_mutex_unlock(&lock);
}

static void render_process(sl_buf_t *out)
{
	FILE *f = fopen("/proc/self/stat", "r");
	if (f) {
		unsigned long utime = 0, stime = 0;
		long rss = 0;
		/* Fields 14, 15 (utime, stime) and 24 (rss); comm (2) has no spaces for us. */
		if (fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %*u %ld",
			   &utime, &stime, &rss) == 3) {
			double tck = (double)sysconf(_SC_CLK_TCK);
			sl_buf_printf(out, "# HELP process_cpu_seconds_total User and system CPU time.\n"
					   "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n",
				      (double)(utime + stime) / tck);
			sl_buf_printf(out, "# HELP process_resident_memory_bytes Resident set size.\n"
					   "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
				      rss * sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
	sl_buf_printf(out, "# HELP process_start_time_seconds Start time, Unix seconds.\n"
			   "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %lld\n",
		      (long long)start_time);
}

static void put_series(sl_buf_t *out, const char *name, const char *suffix, const char *labels,
		       const char *extra)
{
	sl_buf_printf(out, "%s%s", name, suffix);
	if (*labels || (extra && *extra))
		sl_buf_printf(out, "{%s%s%s}", labels, *labels && extra && *extra ? "," : "", extra ? extra : "");
	sl_buf_putc(out, ' ');
}

void sl_metrics_render(sl_buf_t *out)
{
	static const char *types[] = {"counter", "gauge", "histogram"};
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ncollect; i++)
		collect_cbs[i](collect_args[i]);
	for (size_t i = 0; i < nmetrics; i++) {
		sl_metric_t *m = metrics[i];
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(metrics[j]->name, m->name))
				first = false;
		if (first)
			sl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name, types[m->kind]);
		if (m->kind != HISTOGRAM) {
			put_series(out, m->name, "", m->labels, NULL);
			sl_buf_printf(out, "%.17g\n", sum_value(m));
			continue;
		}
		unsigned long long cum = 0;
		for (size_t b = 0; b <= m->nbounds; b++) {
			char le[48];
			cum += sum_bucket(m, b);
			if (b < m->nbounds)
				snprintf(le, sizeof(le), "le=\"%g\"", m->bounds[b]);
			else
				snprintf(le, sizeof(le), "le=\"+Inf\"");
			put_series(out, m->name, "_bucket", m->labels, le);
			sl_buf_printf(out, "%llu\n", cum);
		}
		put_series(out, m->name, "_sum", m->labels, NULL);
		sl_buf_printf(out, "%.17g\n", sum_value(m));
		put_series(out, m->name, "_count", m->labels, NULL);
		sl_buf_printf(out, "%llu\n", cum);
	}
	pthread_mutex_unlock(&lock);
	render_process(out);
}

void sl_metrics_free_all(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nmetrics; i++) {
		free(metrics[i]->name);
		free(metrics[i]->labels);
		free(metrics[i]->help);
		free(metrics[i]->bounds);
		for (size_t s = 0; s < SL_METRICS_SHARDS; s++)
			free((void *)metrics[i]->shards[s].buckets);
		free(metrics[i]);
	}
	free(metrics);
	metrics = NULL;
	nmetrics = 0;
	ncollect = 0;
	pthread_mutex_unlock(&lock);
}
