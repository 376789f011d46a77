/* test_kafka_admin.c: unit tests of src/kafka/kadmin and kconf against
 * librdkafka's in-process mock cluster (test.mock.num.brokers), plus the
 * bounded failure of an unreachable broker. (Consumer groups are not
 * tested here: librdkafka 2.0's mock leaks on ListConsumerGroups.) The real broker is covered by
 * tests/integration/01NN-*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/config.h"
#include "core/clock.h"
#include "kafka/kadmin.h"
#include "kafka/kconf.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>

static const sl_cfg_key_t *const tables[] = {sl_cfg_keys_kafka, NULL};

static sl_cfg_t *cfg_of(int argc, char **argv)
{
	unsetenv("SLUICE_KAFKA_BROKERS");
	sl_cfg_t *cfg = sl_cfg_new("test", "test", NULL, tables);
	assert_int_equal(sl_cfg_parse(cfg, argc, argv, NULL), 0);
	return cfg;
}

static rd_kafka_t *mock_admin(sl_cfg_t **cfgp)
{
	char *argv[] = {"-X", "kafka.test.mock.num.brokers=3", NULL};
	*cfgp = cfg_of(2, argv);
	sl_err_t err = {0};
	rd_kafka_t *rk = sl_kadmin_new(*cfgp, "test", &err);
	assert_non_null(rk);
	return rk;
}

static void test_unreachable_is_bounded(void **state)
{
	(void)state;
	char *argv[] = {"--bootstrap-server", "127.0.0.1:1", NULL};
	sl_cfg_t *cfg = cfg_of(2, argv);
	sl_err_t err = {0};
	rd_kafka_t *rk = sl_kadmin_new(cfg, "test", &err);
	assert_non_null(rk);
	int64_t t0 = sl_clock_mono_ms();
	const rd_kafka_metadata_t *md;
	assert_int_equal(sl_kadmin_metadata(rk, 500, &md, &err), SL_EUNAVAIL);
	assert_true(sl_clock_mono_ms() - t0 < 3000);
	assert_non_null(strstr(err.msg, "cannot reach Kafka at 127.0.0.1:1 within 500 ms"));
	assert_null(md);
	rd_kafka_destroy(rk);
	sl_cfg_free(cfg);
}

static void test_bad_property_is_refused(void **state)
{
	(void)state;
	char *argv[] = {"-X", "kafka.no.such.property=1", NULL};
	sl_cfg_t *cfg = cfg_of(2, argv);
	sl_err_t err = {0};
	assert_null(sl_kadmin_new(cfg, "test", &err));
	assert_non_null(strstr(err.msg, "no.such.property"));
	sl_cfg_free(cfg);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *items[] = {"linger.ms=5", "nonsense"};
	assert_int_equal(sl_kconf_set_all(conf, items, 2, &err), SL_EINVAL);
	assert_non_null(strstr(err.msg, "'nonsense'"));
	rd_kafka_conf_destroy(conf);
}

static void test_mock_topics(void **state)
{
	(void)state;
	sl_cfg_t *cfg;
	rd_kafka_t *rk = mock_admin(&cfg);
	rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
	assert_non_null(mc);
	assert_int_equal(rd_kafka_mock_topic_create(mc, "mtopic", 4, 3), 0);
	const rd_kafka_metadata_t *md;
	sl_err_t err = {0};
	assert_int_equal(sl_kadmin_metadata(rk, 5000, &md, &err), 0);
	assert_int_equal(md->broker_cnt, 3);
	const rd_kafka_metadata_topic_t *t = sl_kadmin_find_topic(md, "mtopic");
	assert_non_null(t);
	assert_int_equal(t->partition_cnt, 4);
	assert_int_equal(t->partitions[0].replica_cnt, 3);
	assert_null(sl_kadmin_find_topic(md, "absent"));
	rd_kafka_metadata_destroy(md);

	/* The 2.0 mock cluster does not serve CreateTopics: the call must still
	 * come back within its bound, with an error, not hang. */
	sl_kadmin_topic_spec_t spec = {"created", 2, 3, NULL, 0};
	int64_t t0 = sl_clock_mono_ms();
	int rc = sl_kadmin_create_topic(rk, &spec, 500, NULL, &err);
	assert_true(sl_clock_mono_ms() - t0 < 4000);
	if (rc)
		assert_non_null(strstr(err.msg, "create topic"));
	/* Bad topic configs are refused before anything is sent. */
	const char *bad[] = {"novalue"};
	sl_kadmin_topic_spec_t badspec = {"x", 1, 1, bad, 1};
	assert_int_equal(sl_kadmin_create_topic(rk, &badspec, 5000, NULL, &err), SL_EINVAL);
	assert_non_null(strstr(err.msg, "expected name=value"));
	rd_kafka_destroy(rk);
	sl_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unreachable_is_bounded),
		cmocka_unit_test(test_bad_property_is_refused),
		cmocka_unit_test(test_mock_topics),
	};
	if (getenv("SL_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SL_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
