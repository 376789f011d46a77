/* test_kafka_client.c: kafka/kclient.c: the constructor owns its conf on
 * every path (ASan's leak check is the proof for the failing ones), and a
 * producer's delivery report wakes a libuv loop through the queue wake-up,
 * against librdkafka's in-process mock cluster (no broker needed); and
 * kafka/kconf.c's error callback: a producer's fatal error marks the
 * process failed (sl_runtime_fail), which the callback of refused logins
 * must not hide; and its log callback: librdkafka's own lines in the
 * house format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/log.h"
#include "kafka/kclient.h"
#include "kafka/kconf.h"
#include "loop/runtime.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_new_owns_conf(void **state)
{
	(void)state;
	sl_err_t err = {0};
	/* NULL (a builder failed): nothing happens, its message stays. */
	snprintf(err.msg, sizeof(err.msg), "from the builder");
	assert_null(sl_kclient_new(RD_KAFKA_PRODUCER, NULL, &err));
	assert_string_equal(err.msg, "from the builder");
	/* librdkafka refuses the combination at rd_kafka_new: the conf is
	 * freed here (the leak check fails otherwise). */
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
	assert_int_equal(rd_kafka_conf_set(conf, "acks", "1", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
	err = (sl_err_t){0};
	assert_null(sl_kclient_new(RD_KAFKA_PRODUCER, conf, &err));
	assert_int_equal(err.code, SL_EINVAL);
	assert_non_null(strstr(err.msg, "kafka producer: "));
	/* And a handle that works. */
	conf = rd_kafka_conf_new();
	rd_kafka_t *rk = sl_kclient_new(RD_KAFKA_CONSUMER, conf, NULL);
	assert_non_null(rk);
	rd_kafka_destroy(rk);
}

typedef struct ctx {
	rd_kafka_t *rk;
	int wakes, reports;
	bool again, closed;
} ctx_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk, (void)m;
	((ctx_t *)opaque)->reports++;
}

static void wake_cb(sl_kclient_wake_t *w)
{
	ctx_t *c = w->data;
	c->wakes++;
	rd_kafka_poll(c->rk, 0);
	if (c->again) {
		c->again = false;
		sl_kclient_wake_again(w);
	}
}

static void closed_cb(sl_kclient_wake_t *w)
{
	((ctx_t *)w->data)->closed = true;
}

static void run_until(uv_loop_t *loop, const int *n, int want, int64_t ms)
{
	int64_t end = sl_clock_mono_ms() + ms;
	while (*n < want && sl_clock_mono_ms() < end)
		uv_run(loop, UV_RUN_NOWAIT);
}

static void test_wake_on_delivery(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	ctx_t c = {0};
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_opaque(conf, &c);
	sl_err_t err = {0};
	c.rk = sl_kclient_new(RD_KAFKA_PRODUCER, conf, &err);
	assert_non_null(c.rk);
	sl_kclient_wake_t w = {0};
	assert_false(sl_kclient_wake_close(&w, NULL)); /* never started: nothing to close */
	assert_int_equal(sl_kclient_wake_init(&w, &loop, rd_kafka_queue_get_main(c.rk), wake_cb, &c, &err), 0);
	assert_int_equal(rd_kafka_producev(c.rk, RD_KAFKA_V_TOPIC("t"), RD_KAFKA_V_VALUE("v", 1), RD_KAFKA_V_END),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	/* Nothing polls but the wake-up: the report arrives only through it. */
	run_until(&loop, &c.reports, 1, 10000);
	assert_int_equal(c.reports, 1);
	assert_true(c.wakes >= 1);
	/* A callback that stops early asks for another turn. */
	int before = c.wakes;
	c.again = true;
	sl_kclient_wake_again(&w);
	run_until(&loop, &c.wakes, before + 2, 5000);
	assert_true(c.wakes >= before + 2);
	/* Stopped: no more callbacks; close destroys the queue reference at
	 * once, so the handle can go before the close callback. */
	sl_kclient_wake_stop(&w);
	assert_true(sl_kclient_wake_close(&w, closed_cb));
	assert_false(sl_kclient_wake_close(&w, closed_cb));
	rd_kafka_destroy(c.rk);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_true(c.closed);
	assert_int_equal(w.fds[0], -1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_fatal_error_fails_the_role(void **state)
{
	(void)state;
	static const sl_cfg_key_t *const tables[] = {sl_cfg_keys_kafka, NULL};
	char *argv[] = {"-X", "kafka.test.mock.num.brokers=1", NULL};
	unsetenv("SLUICE_KAFKA_BROKERS");
	sl_cfg_t *cfg = sl_cfg_new("test", "test", NULL, tables);
	assert_int_equal(sl_cfg_parse(cfg, 2, argv, NULL), 0);
	sl_err_t err = {0};
	rd_kafka_t *rk = sl_kclient_new(RD_KAFKA_PRODUCER, sl_kconf_new(cfg, "test", SL_KCONF_PRODUCER, &err), &err);
	assert_non_null(rk);
	assert_false(sl_runtime_failed());
	assert_int_equal(rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "test"),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	int64_t end = sl_clock_mono_ms() + 5000;
	while (!sl_runtime_failed() && sl_clock_mono_ms() < end)
		rd_kafka_poll(rk, 50);
	assert_true(sl_runtime_failed());
	rd_kafka_destroy(rk);
	sl_cfg_free(cfg);
}

/* A producer with these settings (a broker that refuses: 127.0.0.1:1),
 * its log lines read from a pipe while it is polled, until a line holds
 * want (or 10 s): the newest lines read are left in got. */
static void producer_log(char **argv, int argc, const char *want, char *got, size_t size)
{
	static const sl_cfg_key_t *const tables[] = {sl_cfg_keys_kafka, NULL};
	unsetenv("SLUICE_KAFKA_BROKERS");
	sl_cfg_t *cfg = sl_cfg_new("test", "test", NULL, tables);
	assert_int_equal(sl_cfg_parse(cfg, argc, argv, NULL), 0);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	sl_log_set_fd(fds[1]);
	sl_err_t err = {0};
	rd_kafka_t *rk = sl_kclient_new(RD_KAFKA_PRODUCER, sl_kconf_new(cfg, "test", SL_KCONF_PRODUCER, &err), &err);
	assert_non_null(rk);
	size_t len = 0;
	got[0] = '\0';
	int64_t end = sl_clock_mono_ms() + 10000;
	while (!strstr(got, want) && sl_clock_mono_ms() < end) {
		rd_kafka_poll(rk, 50);
		ssize_t n = read(fds[0], got + len, size - 1 - len);
		if (n > 0)
			got[len += (size_t)n] = '\0';
		if (len == size - 1)
			len = 0; /* keep reading: only the newest lines matter */
	}
	rd_kafka_destroy(rk);
	sl_log_set_fd(-1);
	close(fds[0]);
	close(fds[1]);
	sl_cfg_free(cfg);
}

/* librdkafka's own lines go out in the house format, at the matching
 * level (a refused connection is an error), not raw on stderr. */
static void test_librdkafka_lines_in_house_format(void **state)
{
	(void)state;
	char *argv[] = {"--bootstrap-server", "127.0.0.1:1", NULL};
	char got[8192];
	producer_log(argv, 2, "lvl=error role=sluice ev=kafka_log", got, sizeof(got));
	assert_non_null(strstr(got, "lvl=error role=sluice ev=kafka_log level=3 facility="));
	assert_non_null(strstr(got, "127.0.0.1:1"));
}

/* -X kafka.debug asks for librdkafka's debug lines: they then show at
 * info level (the default), without --log-level debug. Last: the
 * setting holds for the rest of the process. */
static void test_kafka_debug_shows_at_info(void **state)
{
	(void)state;
	char *argv[] = {"--bootstrap-server", "127.0.0.1:1", "-X", "kafka.debug=broker", NULL};
	assert_int_equal(sl_log_setup("sluice", "info", "logfmt"), 0);
	char got[16384];
	producer_log(argv, 4, "lvl=info role=sluice ev=kafka_log level=7", got, sizeof(got));
	assert_non_null(strstr(got, "lvl=info role=sluice ev=kafka_log level=7"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_owns_conf),
		cmocka_unit_test(test_wake_on_delivery),
		cmocka_unit_test(test_fatal_error_fails_the_role),
		cmocka_unit_test(test_librdkafka_lines_in_house_format),
		cmocka_unit_test(test_kafka_debug_shows_at_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
