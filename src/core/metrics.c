/* metrics.c: the registry and Prometheus text renderer of metrics.h. */
#include "core/metrics.h"

#include "core/alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef enum { COUNTER, GAUGE, HISTOGRAM } kind_t;

struct sl_metric {
	kind_t kind;
	char *name, *labels, *help;
	double value;       /* counter/gauge; histogram: sum */
	double *bounds;
	unsigned long long *buckets; /* nbounds + 1 (the +Inf bucket) */
	size_t nbounds;
	unsigned long long count;
};

static sl_metric_t **metrics;
static size_t nmetrics;
static sl_metrics_collect_cb collect_cbs[8];
static void *collect_args[8];
static size_t ncollect;
static time_t start_time;

const double sl_metric_latency_ms_bounds[] = {0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250,
					      500, 1000, 2500, 5000, 10000};
const size_t sl_metric_latency_ms_nbounds = sizeof(sl_metric_latency_ms_bounds) / sizeof(double);

static sl_metric_t *lookup(kind_t kind, const char *name, const char *labels, const char *help)
{
	if (!start_time)
		start_time = time(NULL);
	for (size_t i = 0; i < nmetrics; i++)
		if (!strcmp(metrics[i]->name, name) && !strcmp(metrics[i]->labels, labels))
			return metrics[i];
	sl_metric_t *m = sl_xcalloc(1, sizeof(*m));
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
	return lookup(COUNTER, name, labels, help);
}

sl_metric_t *sl_metric_gauge(const char *name, const char *labels, const char *help)
{
	return lookup(GAUGE, name, labels, help);
}

sl_metric_t *sl_metric_histogram(const char *name, const char *labels, const char *help,
				 const double *bounds, size_t nbounds)
{
	sl_metric_t *m = lookup(HISTOGRAM, name, labels, help);
	if (!m->bounds) {
		m->bounds = sl_xmemdup(bounds, nbounds * sizeof(double));
		m->nbounds = nbounds;
		m->buckets = sl_xcalloc(nbounds + 1, sizeof(unsigned long long));
	}
	return m;
}

void sl_metric_add(sl_metric_t *m, double v) { m->value += v; }
void sl_metric_set(sl_metric_t *m, double v) { m->value = v; }
double sl_metric_value(const sl_metric_t *m) { return m->kind == HISTOGRAM ? (double)m->count : m->value; }

void sl_metric_observe(sl_metric_t *m, double v)
{
	size_t i = 0;
	/* Few buckets: a linear scan beats a binary search here. */
	while (i < m->nbounds && v > m->bounds[i])
		i++;
	m->buckets[i]++;
	m->count++;
	m->value += v;
}

double sl_metric_quantile(const sl_metric_t *m, double q)
{
	if (!m->count)
		return 0;
	double rank = q * (double)m->count, seen = 0, lo = 0;
	for (size_t i = 0; i <= m->nbounds; i++) {
		double hi = i < m->nbounds ? m->bounds[i] : (m->nbounds ? m->bounds[m->nbounds - 1] * 2 : 0);
		if (seen + (double)m->buckets[i] >= rank && m->buckets[i]) {
			double frac = (rank - seen) / (double)m->buckets[i];
			return lo + (hi - lo) * frac;
		}
		seen += (double)m->buckets[i];
		lo = hi;
	}
	return lo;
}

void sl_metrics_on_collect(sl_metrics_collect_cb cb, void *arg)
{
	if (ncollect < sizeof(collect_cbs) / sizeof(collect_cbs[0])) {
		collect_cbs[ncollect] = cb;
		collect_args[ncollect++] = arg;
	}
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
			sl_buf_printf(out, "%.17g\n", m->value);
			continue;
		}
		unsigned long long cum = 0;
		for (size_t b = 0; b <= m->nbounds; b++) {
			char le[48];
			cum += m->buckets[b];
			if (b < m->nbounds)
				snprintf(le, sizeof(le), "le=\"%g\"", m->bounds[b]);
			else
				snprintf(le, sizeof(le), "le=\"+Inf\"");
			put_series(out, m->name, "_bucket", m->labels, le);
			sl_buf_printf(out, "%llu\n", cum);
		}
		put_series(out, m->name, "_sum", m->labels, NULL);
		sl_buf_printf(out, "%.17g\n", m->value);
		put_series(out, m->name, "_count", m->labels, NULL);
		sl_buf_printf(out, "%llu\n", m->count);
	}
	render_process(out);
}

void sl_metrics_free_all(void)
{
	for (size_t i = 0; i < nmetrics; i++) {
		free(metrics[i]->name);
		free(metrics[i]->labels);
		free(metrics[i]->help);
		free(metrics[i]->bounds);
		free(metrics[i]->buckets);
		free(metrics[i]);
	}
	free(metrics);
	metrics = NULL;
	nmetrics = 0;
	ncollect = 0;
}
