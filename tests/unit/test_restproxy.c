/* test_restproxy.c: unit tests of the REST proxy's wire logic
 * (src/roles/restproxy/restproxy_wire.c): Content-Type parsing, Accept negotiation,
 * base64 both ways, produce bodies, consumer configurations, partition
 * lists, subscriptions and path splitting, each as a table of good and bad
 * inputs with the exact error code a client gets.
 * Non-goals: anything needing a broker (tests/integration/04NN-restproxy-*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "roles/restproxy/restproxy_int.h"

#include <stdlib.h>
#include <string.h>

static void test_ctype(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int rc, version, fmt, has_fmt;
	} rows[] = {
		{"application/vnd.kafka.binary.v2+json", 0, 2, SL_RP_FMT_BINARY, 1},
		{"application/vnd.kafka.json.v2+json; charset=utf-8", 0, 2, SL_RP_FMT_JSON, 1},
		{"Application/VND.Kafka.Binary.V1+JSON", 0, 1, SL_RP_FMT_BINARY, 1},
		{"application/vnd.kafka.v1+json", 0, 1, SL_RP_FMT_BINARY, 0},
		{"application/vnd.kafka.v2+json", 0, 2, SL_RP_FMT_BINARY, 0},
		{"application/vnd.kafka+json", 0, 0, SL_RP_FMT_BINARY, 0},
		{"application/json", 0, 0, SL_RP_FMT_BINARY, 0},
		{"application/vnd.kafka.avro.v2+json", -1, 0, 0, 0},
		{"application/vnd.kafka.protobuf.v2+json", -1, 0, 0, 0},
		{"application/vnd.kafka.binary.v3+json", -1, 0, 0, 0},
		{"application/vnd.kafka.xml.v2+json", -1, 0, 0, 0},
		{"text/plain", -1, 0, 0, 0},
		{"", -1, 0, 0, 0},
		{NULL, -1, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_rp_ctype_t ct;
		const char *why = NULL;
		int rc = sl_rp__parse_ctype(rows[i].in, &ct, &why);
		assert_int_equal(rc, rows[i].rc);
		if (rc == 0) {
			assert_int_equal(ct.version, rows[i].version);
			assert_int_equal(ct.fmt, rows[i].fmt);
			assert_int_equal(ct.has_fmt, rows[i].has_fmt);
		} else {
			assert_non_null(why);
		}
	}
}

static void test_negotiate(void **state)
{
	(void)state;
	static const struct {
		const char *accept;
		int want;
	} rows[] = {
		{NULL, 0},
		{"", 0},
		{"*/*", 0},
		{"application/vnd.kafka.v1+json, application/vnd.kafka+json; q=0.9, application/json; q=0.8", 1},
		{"application/json", 3},
		{"application/vnd.kafka+json", 2},
		{"application/*;q=0.5, application/vnd.kafka.v1+json;q=0.9", 1},
		{"application/vnd.kafka.v2+json;q=0.1, application/vnd.kafka.v1+json;q=0.2", 1},
		{"application/vnd.kafka.v2+json;q=0, application/json", 3},
		{"text/html", -1},
		{"text/*", -1},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(sl_rp__negotiate(rows[i].accept, sl_rp_meta_types, sl_rp_meta_ntypes), rows[i].want);
	assert_true(sl_rp__type_is_v1("application/vnd.kafka.binary.v1+json"));
	assert_false(sl_rp__type_is_v1("application/vnd.kafka.v2+json"));
}

static void test_base64(void **state)
{
	(void)state;
	static const struct {
		const char *raw, *enc;
	} rows[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
		    {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"12.3456", "MTIuMzQ1Ng=="}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_buf_t b = SL_BUF_INIT;
		sl_base64_encode(&b, rows[i].raw, strlen(rows[i].raw), SL_RP_BASE64_OUT);
		assert_string_equal(b.data ? b.data : "", rows[i].enc);
		sl_buf_free(&b);
		unsigned char out[64];
		long n = sl_base64_decode(rows[i].enc, strlen(rows[i].enc), SL_RP_BASE64_IN, out, NULL);
		assert_int_equal(n, (long)strlen(rows[i].raw));
		assert_memory_equal(out, rows[i].raw, (size_t)n);
	}
	unsigned char out[64];
	assert_int_equal(sl_base64_decode("Zm8", 3, SL_RP_BASE64_IN, out, NULL), 2); /* padding may be left out */
	static const char *const bad[] = {"Z", "Zm9v!", "Zm 9v", "Zm9vY===", "Zh==", "=Zm9", "Zm9v\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sl_base64_decode(bad[i], strlen(bad[i]), SL_RP_BASE64_IN, out, NULL), SL_EINVAL);
}

static int parse(const char *body, sl_rp_fmt_t fmt, int32_t pp, sl_rp_records_t *r)
{
	char msg[256];
	int code = sl_rp__parse_records(body, strlen(body), fmt, pp, r, msg, sizeof(msg));
	if (code)
		assert_true(strlen(msg) > 0);
	return code;
}

static void test_records(void **state)
{
	(void)state;
	sl_rp_records_t r;
	assert_int_equal(parse("{\"records\":[{\"key\":\"a2V5\",\"value\":\"dmFs\",\"partition\":2},{\"value\":null},"
			       "{\"key\":null,\"value\":\"\"}]}",
			       SL_RP_FMT_BINARY, -1, &r),
			 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.recs[0].key_len, 3);
	assert_memory_equal(r.recs[0].key, "key", 3);
	assert_memory_equal(r.recs[0].value, "val", 3);
	assert_int_equal(r.recs[0].partition, 2);
	assert_null(r.recs[1].key);
	assert_null(r.recs[1].value);
	assert_int_equal(r.recs[1].partition, -1);
	assert_non_null(r.recs[2].value);
	assert_int_equal(r.recs[2].value_len, 0);
	sl_rp__records_free(&r);

	assert_int_equal(parse("{\"records\":[{\"key\":\"k\",\"value\":{\"a\":[1,12.3456,0.1,true]}},{\"value\":0.30000000000000004}]}",
			       SL_RP_FMT_JSON, 3, &r),
			 0);
	assert_int_equal(r.recs[0].partition, 3);
	assert_int_equal(r.recs[0].key_len, 3);
	assert_memory_equal(r.recs[0].key, "\"k\"", 3);
	assert_int_equal(r.recs[0].value_len, strlen("{\"a\":[1,12.3456,0.1,true]}"));
	assert_memory_equal(r.recs[0].value, "{\"a\":[1,12.3456,0.1,true]}", r.recs[0].value_len);
	assert_memory_equal(r.recs[1].value, "0.30000000000000004", r.recs[1].value_len);
	sl_rp__records_free(&r);

	static const struct {
		const char *body;
		sl_rp_fmt_t fmt;
		int32_t pp;
		int code;
	} bad[] = {
		{"{\"records\":[", SL_RP_FMT_BINARY, -1, 400},
		{"", SL_RP_FMT_BINARY, -1, SL_RP_E_BODY_SHAPE},
		{"[]", SL_RP_FMT_BINARY, -1, SL_RP_E_BODY_SHAPE},
		{"{}", SL_RP_FMT_BINARY, -1, SL_RP_E_RECORDS},
		{"{\"records\":{}}", SL_RP_FMT_BINARY, -1, SL_RP_E_RECORDS},
		{"{\"records\":[]}", SL_RP_FMT_BINARY, -1, SL_RP_E_RECORDS},
		{"{\"records\":[7]}", SL_RP_FMT_BINARY, -1, SL_RP_E_RECORD},
		{"{\"records\":[{\"value\":5}]}", SL_RP_FMT_BINARY, -1, SL_RP_E_RECORD},
		{"{\"records\":[{\"value\":\"!!\"}]}", SL_RP_FMT_BINARY, -1, SL_RP_E_BASE64},
		{"{\"records\":[{\"key\":\"Zg=\",\"value\":\"Zg==\"}]}", SL_RP_FMT_BINARY, -1, SL_RP_E_BASE64},
		{"{\"records\":[{\"value\":\"Zg==\",\"partition\":-1}]}", SL_RP_FMT_BINARY, -1, SL_RP_E_PARTITION_OFFSET},
		{"{\"records\":[{\"value\":\"Zg==\",\"partition\":\"0\"}]}", SL_RP_FMT_BINARY, -1, SL_RP_E_PARTITION_OFFSET},
		{"{\"records\":[{\"value\":1,\"partition\":1}]}", SL_RP_FMT_JSON, 0, SL_RP_E_PARTITION_OFFSET},
		{"{\"records\":[{\"value\":1},{\"value\":\"x\"},3]}", SL_RP_FMT_JSON, -1, SL_RP_E_RECORD},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].body, bad[i].fmt, bad[i].pp, &r), bad[i].code);
		assert_int_equal(r.n, 0);
		assert_null(r.recs);
	}
}

static void test_consumer_conf(void **state)
{
	(void)state;
	sl_rp_consumer_conf_t cc;
	char msg[256];
	const char *ok = "{\"name\":\"c-1\",\"format\":\"json\",\"auto.offset.reset\":\"smallest\","
			 "\"auto.commit.enable\":\"false\",\"fetch.min.bytes\":\"10\",\"consumer.request.timeout.ms\":500}";
	assert_int_equal(sl_rp__parse_consumer_conf(ok, strlen(ok), &cc, msg, sizeof(msg)), 0);
	assert_string_equal(cc.name, "c-1");
	assert_int_equal(cc.fmt, SL_RP_FMT_JSON);
	assert_string_equal(cc.offset_reset, "earliest");
	assert_int_equal(cc.auto_commit, 0);
	assert_int_equal(cc.fetch_min_bytes, 10);
	assert_int_equal(cc.request_timeout_ms, 500);
	assert_int_equal(sl_rp__parse_consumer_conf("", 0, &cc, msg, sizeof(msg)), 0);
	assert_string_equal(cc.name, "");
	assert_int_equal(cc.auto_commit, -1);
	const char *v1 = "{\"id\":\"x\",\"auto.offset.reset\":\"largest\"}";
	assert_int_equal(sl_rp__parse_consumer_conf(v1, strlen(v1), &cc, msg, sizeof(msg)), 0);
	assert_string_equal(cc.name, "x");
	assert_string_equal(cc.offset_reset, "latest");
	static const char *const bad[] = {
		"{\"format\":\"avro\"}", "{\"name\":\"a b\"}", "{\"name\":7}", "{\"auto.offset.reset\":\"first\"}",
		"{\"auto.commit.enable\":\"yes\"}", "{\"fetch.min.bytes\":-1}", "{\"consumer.request.timeout.ms\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sl_rp__parse_consumer_conf(bad[i], strlen(bad[i]), &cc, msg, sizeof(msg)),
				 SL_RP_E_CONSUMER_CONFIG);
	assert_int_equal(sl_rp__parse_consumer_conf("{", 1, &cc, msg, sizeof(msg)), 400);
	assert_int_equal(sl_rp__parse_consumer_conf("[1]", 3, &cc, msg, sizeof(msg)), SL_RP_E_BODY_SHAPE);
}

static void test_partitions_and_subscription(void **state)
{
	(void)state;
	char msg[256];
	rd_kafka_topic_partition_list_t *l;
	const char *ok = "{\"offsets\":[{\"topic\":\"t\",\"partition\":1,\"offset\":5}]}";
	assert_int_equal(sl_rp__parse_partitions(ok, strlen(ok), "offsets", true, &l, msg, sizeof(msg)), 0);
	assert_int_equal(l->cnt, 1);
	assert_string_equal(l->elems[0].topic, "t");
	assert_int_equal(l->elems[0].partition, 1);
	assert_int_equal(l->elems[0].offset, 5);
	rd_kafka_topic_partition_list_destroy(l);
	static const struct {
		const char *body;
		int code;
	} bad[] = {
		{"{\"offsets\":{}}", SL_RP_E_SUBSCRIPTION},
		{"{\"offsets\":[{\"topic\":\"t\",\"partition\":1}]}", SL_RP_E_SUBSCRIPTION},
		{"{\"offsets\":[{\"partition\":1,\"offset\":1}]}", SL_RP_E_SUBSCRIPTION},
		{"{\"offsets\":[{\"topic\":\"t\",\"partition\":-1,\"offset\":1}]}", SL_RP_E_PARTITION_OFFSET},
		{"{\"offsets\":[{\"topic\":\"t\",\"partition\":0,\"offset\":-5}]}", SL_RP_E_PARTITION_OFFSET},
		/* INT64_MAX: the commit's offset + 1 would overflow. */
		{"{\"offsets\":[{\"topic\":\"t\",\"partition\":0,\"offset\":9223372036854775807}]}",
		 SL_RP_E_PARTITION_OFFSET},
		{"nope", 400},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sl_rp__parse_partitions(bad[i].body, strlen(bad[i].body), "offsets", true, &l, msg,
							 sizeof(msg)),
				 bad[i].code);
		assert_null(l);
	}
	const char *sub = "{\"topics\":[\"a\",\"b\"]}";
	assert_int_equal(sl_rp__parse_subscription(sub, strlen(sub), &l, msg, sizeof(msg)), 0);
	assert_int_equal(l->cnt, 2);
	rd_kafka_topic_partition_list_destroy(l);
	sub = "{\"topic_pattern\":\"t-[0-9]+\"}";
	assert_int_equal(sl_rp__parse_subscription(sub, strlen(sub), &l, msg, sizeof(msg)), 0);
	assert_string_equal(l->elems[0].topic, "^(t-[0-9]+)$");
	rd_kafka_topic_partition_list_destroy(l);
	/* six + (each may double what glibc builds), [+] and \\+ not counted */
	sub = "{\"topic_pattern\":\"(((((t[+]+)+)+)+)+)+\\\\+\"}";
	assert_int_equal(sl_rp__parse_subscription(sub, strlen(sub), &l, msg, sizeof(msg)), 0);
	rd_kafka_topic_partition_list_destroy(l);
	static char longpat[400];
	snprintf(longpat, sizeof(longpat), "{\"topic_pattern\":\"%0300d\"}", 0);
	static const char *const badsub[] = {"{}", "{\"topics\":[]}", "{\"topics\":[1]}", "{\"topic_pattern\":\"(\"}",
					     "{\"topic_pattern\":\"((a{1,255}){1,255}){1,255}\"}", longpat,
					     "{\"topic_pattern\":\"(((((((t+)+)+)+)+)+)+)+\"}", /* seven + */
					     "{\"topics\":[\"a\"],\"topic_pattern\":\"a\"}"};
	for (size_t i = 0; i < sizeof(badsub) / sizeof(badsub[0]); i++) {
		assert_int_equal(sl_rp__parse_subscription(badsub[i], strlen(badsub[i]), &l, msg, sizeof(msg)),
				 SL_RP_E_SUBSCRIPTION);
		assert_null(l);
	}
}

static void test_split_path(void **state)
{
	(void)state;
	char *segs[4];
	int n = sl_rp__split_path(SL_IOV_LIT("/consumers/g%2F1/instances/x/"), segs, 4);
	assert_int_equal(n, 4);
	assert_string_equal(segs[1], "g/1");
	assert_string_equal(segs[3], "x");
	for (int i = 0; i < n; i++)
		free(segs[i]);
	assert_int_equal(sl_rp__split_path(SL_IOV_LIT("/"), segs, 4), 0);
	assert_int_equal(sl_rp__split_path(SL_IOV_LIT("/a//b"), segs, 4), -1);
	assert_int_equal(sl_rp__split_path(SL_IOV_LIT("/a/%zz"), segs, 4), -1);
	assert_int_equal(sl_rp__split_path(SL_IOV_LIT("/a/%00"), segs, 4), -1);
	assert_int_equal(sl_rp__split_path(SL_IOV_LIT("/a/%4"), segs, 4), -1);
	assert_int_equal(sl_rp__split_path(SL_IOV_LIT("/1/2/3/4/5"), segs, 4), -1);
}

static void test_error_body(void **state)
{
	(void)state;
	sl_buf_t b = SL_BUF_INIT;
	sl_rp__error_body(&b, 40401, "Topic \"x\" not found.");
	assert_string_equal(b.data, "{\"error_code\":40401,\"message\":\"Topic \\\"x\\\" not found.\"}");
	sl_buf_reset(&b);
	sl_rp__http_error_fmt(413, "body_too_large", "too big", &b);
	assert_string_equal(b.data, "{\"error_code\":413,\"message\":\"too big\"}");
	sl_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctype),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_consumer_conf),
		cmocka_unit_test(test_partitions_and_subscription),
		cmocka_unit_test(test_split_path),
		cmocka_unit_test(test_error_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
