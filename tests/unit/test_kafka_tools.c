/* test_kafka_tools.c: `sluice produce` and `sluice consume` end to end
 * against librdkafka's mock cluster, in-process and without a broker: the
 * role entry points run with stdin/stdout/stderr redirected to files.
 * Covers the round trip (keys, JSON, partition/offset), usage errors,
 * and fault
 * injection: a Produce error the broker keeps returning makes every record
 * reported and the exit status 1. The real broker is covered by
 * tests/integration/010N-*, consumer groups too: the 2.0 mock's group
 * coordinator holds a first JoinGroup for the whole session timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/buf.h"
#include "roles/roles.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct mock {
	rd_kafka_t *rk; /* owns the cluster */
	rd_kafka_mock_cluster_t *mc;
	char brokers[256];
} mock_t;

static int mock_setup(void **state)
{
	mock_t *m = calloc(1, sizeof(*m));
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(m->rk);
	m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
	assert_non_null(m->mc);
	snprintf(m->brokers, sizeof(m->brokers), "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
	*state = m;
	return 0;
}

static int mock_teardown(void **state)
{
	mock_t *m = *state;
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
	free(m);
	return 0;
}

/* Run a role with `in` on stdin; its stdout and stderr come back in out/err. */
static int run_role(const sl_role_t *role, char **argv, const char *in, sl_buf_t *out, sl_buf_t *err)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	FILE *fi = tmpfile(), *fo = tmpfile(), *fe = tmpfile();
	fwrite(in, 1, strlen(in), fi);
	fflush(fi);
	rewind(fi);
	fflush(stdout);
	fflush(stderr);
	int s0 = dup(0), s1 = dup(1), s2 = dup(2);
	dup2(fileno(fi), 0);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	int rc = sl_role_exec(role, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(s0, 0);
	dup2(s1, 1);
	dup2(s2, 2);
	close(s0);
	close(s1);
	close(s2);
	char chunk[4096];
	size_t n;
	rewind(fo);
	while ((n = fread(chunk, 1, sizeof(chunk), fo)) > 0)
		sl_buf_append(out, chunk, n);
	rewind(fe);
	while ((n = fread(chunk, 1, sizeof(chunk), fe)) > 0)
		sl_buf_append(err, chunk, n);
	fclose(fi);
	fclose(fo);
	fclose(fe);
	return rc;
}

static const char *str(const sl_buf_t *b)
{
	return b->data ? b->data : "";
}

static void test_round_trip(void **state)
{
	mock_t *m = *state;
	assert_int_equal(rd_kafka_mock_topic_create(m->mc, "rt", 1, 1), 0);
	sl_buf_t out = SL_BUF_INIT, err = SL_BUF_INIT;
	char *pargv[] = {"produce", "--bootstrap-server", m->brokers, "--topic", "rt", "--property", "parse.key=true",
			 "--property", "key.separator=:", NULL};
	assert_int_equal(run_role(&sl_role_produce, pargv, "a:1\nb:2\n:3\nd:\n", &out, &err), 0);
	assert_string_equal(str(&err), "");
	assert_string_equal(str(&out), "");

	char *cargv[] = {"consume", "--bootstrap-server", m->brokers, "--topic", "rt", "--from-beginning",
			 "--max-messages", "4", "--property", "print.key=true", "--property", "key.separator=:", NULL};
	assert_int_equal(run_role(&sl_role_consume, cargv, "", &out, &err), 0);
	assert_string_equal(str(&out), "a:1\nb:2\n:3\nd:\n");
	assert_string_equal(str(&err), "");

	sl_buf_reset(&out);
	char *jargv[] = {"consume", "--bootstrap-server", m->brokers, "--topic", "rt", "--partition", "0", "--offset",
			 "1", "--max-messages", "1", "--format", "json", NULL};
	assert_int_equal(run_role(&sl_role_consume, jargv, "", &out, &err), 0);
	assert_non_null(strstr(str(&out), "\"partition\":0,\"offset\":1,"));
	assert_non_null(strstr(str(&out), "\"key\":\"b\",\"value\":\"2\"}\n"));
	sl_buf_free(&out);
	sl_buf_free(&err);
}

static void test_missing_topic(void **state)
{
	mock_t *m = *state;
	sl_buf_t out = SL_BUF_INIT, err = SL_BUF_INIT;
	char *cargv[] = {"consume", "--bootstrap-server", m->brokers, "--topic", "absent", NULL};
	assert_int_equal(run_role(&sl_role_consume, cargv, "", &out, &err), 1);
	assert_string_equal(str(&err), "sluice consume: topic 'absent' does not exist\n");
	sl_buf_free(&out);
	sl_buf_free(&err);
}

static void test_produce_errors_reported(void **state)
{
	mock_t *m = *state;
	assert_int_equal(rd_kafka_mock_topic_create(m->mc, "refused", 1, 1), 0);
	/* A non-retriable error on every Produce request for a while (ApiKey 0
	 * is Produce in the Kafka protocol; librdkafka keeps the names private). */
	for (int i = 0; i < 20; i++)
		rd_kafka_mock_push_request_errors(m->mc, 0, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
	sl_buf_t out = SL_BUF_INIT, err = SL_BUF_INIT;
	char *pargv[] = {"produce", "--bootstrap-server", m->brokers, "--topic", "refused", "--request-required-acks",
			 "1", "--kafka-timeout-ms", "3000", NULL};
	assert_int_equal(run_role(&sl_role_produce, pargv, "x\ny\nz\n", &out, &err), 1);
	/* Each record named, then the summary. */
	assert_non_null(strstr(str(&err), "sluice produce: line 1 not delivered: "));
	assert_non_null(strstr(str(&err), "sluice produce: line 2 not delivered: "));
	assert_non_null(strstr(str(&err), "sluice produce: line 3 not delivered: "));
	assert_non_null(strstr(str(&err), "sluice produce: 3 of 3 records not delivered\n"));
	sl_buf_free(&out);
	sl_buf_free(&err);
}

static void test_usage_errors(void **state)
{
	(void)state;
	sl_buf_t out = SL_BUF_INIT, err = SL_BUF_INIT;
	char *a1[] = {"produce", NULL};
	assert_int_equal(run_role(&sl_role_produce, a1, "x\n", &out, &err), 2);
	assert_string_equal(str(&err), "sluice produce: --topic is required\n");
	sl_buf_reset(&err);
	char *a2[] = {"consume", "--topic", "t", "--from-beginning", "--partition", "0", "--offset", "5", NULL};
	assert_int_equal(run_role(&sl_role_consume, a2, "", &out, &err), 2);
	assert_string_equal(str(&err), "sluice consume: --offset cannot be combined with --from-beginning\n");
	sl_buf_reset(&err);
	char *a3[] = {"topics", "--alter", "--topic", "t", NULL};
	assert_int_equal(run_role(&sl_role_topics, a3, "", &out, &err), 2);
	assert_string_equal(str(&err), "sluice topics: --alter needs --partitions N (the new, larger count)\n");
	sl_buf_reset(&err);
	char *a4[] = {"groups", "--list", "--describe", NULL};
	assert_int_equal(run_role(&sl_role_groups, a4, "", &out, &err), 2);
	assert_string_equal(str(&err), "sluice groups: give exactly one of --list or --describe\n");
	sl_buf_free(&out);
	sl_buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_missing_topic),
		cmocka_unit_test(test_produce_errors_reported),
		cmocka_unit_test(test_usage_errors),
	};
	if (getenv("SL_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SL_TEST_FILTER"));
	return cmocka_run_group_tests(tests, mock_setup, mock_teardown);
}
