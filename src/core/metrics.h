/* metrics.h: a process-wide registry of counters, gauges and histograms,
 * rendered as Prometheus text (exposition format 0.0.4) at /metrics.
 *
 * A metric is found or created once at start-up and kept as a pointer, so
 * updating it on the hot path is one addition. Series of one family share
 * the name and differ by a fixed label string (`partition="3"`). Every
 * registry also reports process CPU seconds, RSS and start time.
 * Threads: a role with several loop threads (the publisher) gives each
 * thread a shard (sl_metrics_thread_shard); every metric keeps one slot per
 * shard, written only by its own thread with relaxed atomic stores, and a
 * render sums the shards (a gauge is the sum of what each thread set, e.g.
 * its own connections). So the hot path stays one plain addition with no
 * lock and no shared cache line, and any thread may render. Registration
 * and rendering take a mutex (start-up and scrapes only).
 * Non-goals: summaries, dynamic label cardinality on hot paths.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include "core/buf.h"

#include <stddef.h>

typedef struct sl_metric sl_metric_t;

/* labels: "" or `key="value",key2="v"` (copied). Same name+labels returns the same metric. */
sl_metric_t *sl_metric_counter(const char *name, const char *labels, const char *help);
sl_metric_t *sl_metric_gauge(const char *name, const char *labels, const char *help);
/* bounds: ascending upper bounds (copied); +Inf is implied. */
sl_metric_t *sl_metric_histogram(const char *name, const char *labels, const char *help,
				 const double *bounds, size_t nbounds);

void sl_metric_add(sl_metric_t *m, double v);
void sl_metric_set(sl_metric_t *m, double v);
void sl_metric_observe(sl_metric_t *m, double v);
double sl_metric_value(const sl_metric_t *m);
/* Quantile estimate of a histogram from its buckets (linear within a bucket). */
double sl_metric_quantile(const sl_metric_t *m, double q);

/* Bucket bounds for latencies in milliseconds, 0.1 ms .. 10 s. */
extern const double sl_metric_latency_ms_bounds[];
extern const size_t sl_metric_latency_ms_nbounds;

/* Shards: 0 is the main thread's (the default); a loop thread calls this once
 * with 1..SL_METRICS_SHARDS-1 before it touches a metric. */
#define SL_METRICS_SHARDS 16
void sl_metrics_thread_shard(unsigned shard);

/* Called before each render so roles can refresh gauges (queue depths, lag).
 * It runs on the rendering thread: a role with several loop threads updates
 * its gauges from each loop instead. */
typedef void (*sl_metrics_collect_cb)(void *arg);
void sl_metrics_on_collect(sl_metrics_collect_cb cb, void *arg);

void sl_metrics_render(sl_buf_t *out);
/* Free every metric (end of process, tests). Pointers held become invalid. */
void sl_metrics_free_all(void);

#endif
