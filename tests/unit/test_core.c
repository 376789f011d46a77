/* test_core.c: unit tests of src/core: buf (JSON escaping), config
 * (precedence, types, bounds, lists, -X), metrics rendering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/metrics.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void test_buf_printf(void **state)
{
	(void)state;
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_printf(&b, "%s-%d", "x", 42);
	assert_string_equal(b.data, "x-42");
	sl_buf_reset(&b);
	assert_int_equal(b.len, 0);
	sl_buf_free(&b);
}

/* The one JSON escaper: every row's output is a JSON string that a strict
 * parser accepts, whatever bytes went in. */
static void test_buf_json_str(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} rows[] = {
		{"plain", 5, "\"plain\""},
		{"", 0, "\"\""},
		{"q\"b\\", 4, "\"q\\\"b\\\\\""},
		{"\n\r\t\x01\x1f\x7f", 6, "\"\\n\\r\\t\\u0001\\u001f\x7f\""},
		{"a\"b\\c\n\x01\xc3\xa9", 9, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\""},
		{"\xc3\xa9", 2, "\"\xc3\xa9\""},                 /* valid 2-byte UTF-8 kept */
		{"\xe2\x82\xac", 3, "\"\xe2\x82\xac\""},         /* valid 3-byte */
		{"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""}, /* valid 4-byte */
		{"\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""}, /* U+10FFFF, the last code point */
		{"a\xff" "b", 3, "\"a\xef\xbf\xbd" "b\""},       /* a byte that is never UTF-8 */
		{"\xc3", 1, "\"\xef\xbf\xbd\""},                 /* truncated sequence */
		{"\xe2\x82" "x", 3, "\"\xef\xbf\xbd\xef\xbf\xbd" "x\""}, /* truncated, then ASCII */
		{"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* UTF-16 surrogate */
		{"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""}, /* overlong */
		{"\xe0\x80\xaf", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* overlong, 3 bytes */
		{"\xf4\x90\x80\x80", 4, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* past U+10FFFF */
		{"\x80", 1, "\"\xef\xbf\xbd\""},                 /* a lone continuation byte */
		{"a\0b", 3, "\"a\\u0000b\""},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_buf_t b = SL_BUF_INIT;
		sl_buf_json_str(&b, rows[i].in, rows[i].len);
		assert_string_equal(b.data, rows[i].want);
		json_error_t jerr;
		json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
		assert_non_null(j);
		json_decref(j);
		sl_buf_free(&b);
	}
}

static const sl_cfg_key_t test_keys[] = {
	{"rate", NULL, "SLUICE_TEST_RATE", SL_CFG_INT, "10", 1, 1000, "rate"},
	{"from-beginning", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "bool"},
	{"property", NULL, NULL, SL_CFG_LIST, NULL, 0, 0, "list"},
	{"bootstrap-server", "broker-list", "SLUICE_TEST_BROKERS", SL_CFG_STR, "h:1", 0, 0, "brokers"},
	{0},
};
static const sl_cfg_key_t *const tables[] = {test_keys, NULL};

static void test_config_precedence(void **state)
{
	(void)state;
	setenv("SLUICE_TEST_RATE", "20", 1);
	setenv("SLUICE_TEST_BROKERS", "envhost:2", 1);
	char *argv[] = {"--broker-list", "flaghost:3", "--from-beginning", "--property", "a=1", "--property=b=2",
			"pos1", "-X", "kafka.linger.ms=5", NULL};
	sl_cfg_t *cfg = sl_cfg_new("t", "t", NULL, tables);
	assert_int_equal(sl_cfg_parse(cfg, 9, argv, NULL), 0);
	assert_int_equal(sl_cfg_int(cfg, "rate"), 20);
	assert_string_equal(sl_cfg_source(cfg, "rate"), "env");
	assert_string_equal(sl_cfg_str(cfg, "bootstrap-server"), "flaghost:3");
	assert_true(sl_cfg_bool(cfg, "from-beginning"));
	const char *const *items;
	assert_int_equal(sl_cfg_list(cfg, "property", &items), 2);
	assert_string_equal(items[1], "b=2");
	char *const *args;
	assert_int_equal(sl_cfg_args(cfg, &args), 1);
	assert_string_equal(args[0], "pos1");
	const char *const *props;
	assert_int_equal(sl_cfg_kafka_props(cfg, &props), 1);
	assert_string_equal(props[0], "linger.ms=5");
	sl_cfg_free(cfg);
	unsetenv("SLUICE_TEST_RATE");
	unsetenv("SLUICE_TEST_BROKERS");
}

static void test_config_rejects(void **state)
{
	(void)state;
	struct {
		int argc;
		char *argv[3];
		const char *needle;
	} rows[] = {
		{1, {"--nope"}, "unknown option"},
		{2, {"--rate", "abc"}, "expected a number"},
		{2, {"--rate", "5000"}, "must be 1..1000"},
		{2, {"--rate", "1.5"}, "expected an integer"},
		{1, {"--rate"}, "needs a value"},
		{1, {"--from-beginning=maybe"}, "expected true or false"},
		{2, {"-X", "linger.ms=1"}, "expected kafka."},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_cfg_t *cfg = sl_cfg_new("t", "t", NULL, tables);
		sl_err_t err = {0};
		assert_int_equal(sl_cfg_parse(cfg, rows[i].argc, rows[i].argv, &err), SL_EINVAL);
		assert_non_null(strstr(err.msg, rows[i].needle));
		sl_cfg_free(cfg);
	}
}

static void test_metrics_render(void **state)
{
	(void)state;
	sl_metric_t *c = sl_metric_counter("t_total", "", "A counter.");
	sl_metric_t *h = sl_metric_histogram("t_ms", "role=\"x\"", "A histogram.", sl_metric_latency_ms_bounds,
					     sl_metric_latency_ms_nbounds);
	sl_metric_add(c, 3);
	sl_metric_observe(h, 0.3);
	sl_metric_observe(h, 12);
	sl_buf_t out = SL_BUF_INIT;
	sl_metrics_render(&out);
	assert_non_null(strstr(out.data, "# TYPE t_total counter\nt_total 3\n"));
	assert_non_null(strstr(out.data, "t_ms_bucket{role=\"x\",le=\"0.5\"} 1\n"));
	assert_non_null(strstr(out.data, "t_ms_bucket{role=\"x\",le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(out.data, "t_ms_count{role=\"x\"} 2\n"));
	assert_true(sl_metric_quantile(h, 0.99) > 10 && sl_metric_quantile(h, 0.99) <= 15);
	sl_buf_free(&out);
	sl_metrics_free_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_json_str),
		cmocka_unit_test(test_config_precedence),
		cmocka_unit_test(test_config_rejects),
		cmocka_unit_test(test_metrics_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
