/* test_metrics_shards.c: metrics updated from several loop threads at once
 * (core/metrics.h shards), as the publisher's loops do: every thread's
 * additions, gauges and observations count exactly once in a render taken
 * while they run and in the one after, and registering the same series from
 * many threads yields one metric.
 */
#include "core/buf.h"
#include "core/metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#define THREADS 4
#define ADDS 200000

typedef struct worker {
	unsigned shard;
	sl_metric_t *c, *g, *h;
} worker_t;

static void work(void *arg)
{
	worker_t *w = arg;
	sl_metrics_thread_shard(w->shard);
	/* Looked up again from this thread: must be the same metric. */
	sl_metric_t *c = sl_metric_counter("t_adds_total", "", "additions");
	assert_ptr_equal(c, w->c);
	for (int i = 0; i < ADDS; i++) {
		sl_metric_add(c, 1);
		if (i % 1000 == 0)
			sl_metric_observe(w->h, 0.3);
	}
	sl_metric_set(w->g, 10 * w->shard); /* each thread's own part of a gauge */
}

static double series(const char *text, const char *name)
{
	const char *p = strstr(text, name);
	while (p && p != text && p[-1] != '\n')
		p = strstr(p + 1, name);
	return p ? strtod(p + strlen(name), NULL) : -1;
}

static void test_threads_add_up(void **state)
{
	(void)state;
	worker_t w[THREADS];
	uv_thread_t t[THREADS];
	sl_metric_t *c = sl_metric_counter("t_adds_total", "", "additions");
	sl_metric_t *g = sl_metric_gauge("t_gauge", "", "a gauge");
	sl_metric_t *h = sl_metric_histogram("t_lat_ms", "", "latency", sl_metric_latency_ms_bounds,
					     sl_metric_latency_ms_nbounds);
	for (unsigned i = 0; i < THREADS; i++) {
		w[i] = (worker_t){i + 1, c, g, h};
		assert_int_equal(uv_thread_create(&t[i], work, &w[i]), 0);
	}
	sl_buf_t mid = SL_BUF_INIT;
	sl_metrics_render(&mid); /* while they run: well-defined, at most the final value */
	assert_true(series(mid.data, "t_adds_total ") <= (double)THREADS * ADDS);
	sl_buf_free(&mid);
	for (unsigned i = 0; i < THREADS; i++)
		uv_thread_join(&t[i]);
	assert_int_equal((long)sl_metric_value(c), (long)THREADS * ADDS);
	sl_buf_t out = SL_BUF_INIT;
	sl_metrics_render(&out);
	assert_int_equal((long)series(out.data, "t_adds_total "), (long)THREADS * ADDS);
	assert_int_equal((long)series(out.data, "t_gauge "), 10 * (1 + 2 + 3 + 4));
	assert_int_equal((long)series(out.data, "t_lat_ms_count "), THREADS * (ADDS / 1000));
	assert_int_equal((long)series(out.data, "t_lat_ms_bucket{le=\"0.25\"} "), 0);
	assert_int_equal((long)series(out.data, "t_lat_ms_bucket{le=\"0.5\"} "), THREADS * (ADDS / 1000));
	sl_buf_free(&out);
	sl_metrics_free_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_add_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
