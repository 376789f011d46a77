/* test_runtime.c: the roles' runtime (src/loop/runtime.c): a part of the
 * process that cannot go on (sl_runtime_fail, e.g. a Kafka producer's
 * fatal error) stops the role once, on the loop thread, as SIGTERM does,
 * and is remembered for the exit status; a second failure during that
 * stop does not force an exit. The loop closes cleanly.
 * Non-goals: the roles' own stop paths (integration tests).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "loop/runtime.h"

static int stops;
static uv_timer_t timer;

static void stop_cb(void *arg)
{
	sl_runtime_t *rt = arg;
	stops++;
	sl_runtime_fail(); /* again, while stopping: ignored */
	uv_close((uv_handle_t *)&timer, NULL);
	sl_runtime_close(rt);
}

static void fail_cb(uv_timer_t *t)
{
	(void)t;
	sl_runtime_fail();
}

static void test_fail_stops_once(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	sl_runtime_t rt;
	sl_runtime_init(&rt, &loop, stop_cb, &rt);
	assert_false(sl_runtime_failed());
	uv_timer_init(&loop, &timer);
	/* The timer would keep the loop alive for ever: only the stop ends it. */
	uv_timer_start(&timer, fail_cb, 10, 10);
	assert_int_equal(sl_runtime_run(&rt), 0);
	assert_int_equal(stops, 1);
	assert_true(rt.stopping);
	assert_true(sl_runtime_failed());
	/* No runtime any more (a console tool): only marked, no signal. */
	sl_runtime_fail();
	assert_true(sl_runtime_failed());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_stops_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
