/* test_rstate.c: the pipeline's shared definitions: Kafka's murmur2
 * partitioner (kafka/kpart.c, compared with librdkafka's own
 * murmur2_random for many keys and partition counts), the Redis layout and
 * state encoding (redis/rstate.c: keys, round trips, a table of malformed
 * values, value embedding, the exact update/snapshot JSON), and the input
 * validators (market ids, channel ids).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kafka/kpart.h"
#include "redis/rstate.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

static void test_murmur2_matches_librdkafka(void **state)
{
	(void)state;
	const int32_t counts[] = {1, 3, 12, 64, 1000};
	char key[64];
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(key, sizeof(key), i % 3 ? "m-%04d" : "market/%d/x", i);
		for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
			assert_int_equal(sl_kpart_of(key, (size_t)n, counts[c]),
					 rd_kafka_msg_partitioner_murmur2_random(NULL, key, (size_t)n, counts[c], NULL,
										 NULL));
	}
	/* Every tail length (0..3 bytes after the 4-byte blocks). */
	const char *s = "abcdefgh";
	for (size_t n = 0; n <= 8; n++)
		assert_int_equal(sl_kpart_of(s, n, 12),
				 rd_kafka_msg_partitioner_murmur2_random(NULL, s, n, 12, NULL, NULL));
	assert_int_equal(sl_kpart_of("x", 1, 0), -1);
}

static void test_keys(void **state)
{
	(void)state;
	sl_buf_t b = SL_BUF_INIT;
	sl_rstate_key_state(&b, "sluice:", 7);
	assert_string_equal(b.data, "sluice:{p7}:state");
	sl_buf_reset(&b);
	sl_rstate_key_subs(&b, "x:", 11);
	assert_string_equal(b.data, "x:{p11}:subs");
	sl_buf_reset(&b);
	sl_rstate_key_channel(&b, "sluice:", "abc");
	assert_string_equal(b.data, "sluice:channel:abc");
	sl_buf_reset(&b);
	sl_rstate_key_chan_markets(&b, "sluice:", "abc");
	assert_string_equal(b.data, "sluice:channel:abc:markets");
	sl_buf_reset(&b);
	sl_rstate_key_stream(&b, "sluice:", "abc");
	assert_string_equal(b.data, "sluice:stream:abc");
	sl_buf_free(&b);
}

static void test_encode_decode(void **state)
{
	(void)state;
	sl_buf_t b = SL_BUF_INIT;
	sl_rstate_encode(&b, 123, 1700000000000, "{\"p\":1}", 7);
	assert_string_equal(b.data, "123|1700000000000|{\"p\":1}");
	int64_t off, ts;
	const char *json;
	size_t jlen;
	assert_int_equal(sl_rstate_decode(b.data, b.len, &off, &ts, &json, &jlen), 0);
	assert_int_equal(off, 123);
	assert_int_equal(ts, 1700000000000);
	assert_int_equal(jlen, 7);
	assert_memory_equal(json, "{\"p\":1}", 7);
	/* A value may itself contain '|'. */
	sl_buf_reset(&b);
	sl_rstate_encode(&b, 0, 5, "\"a|b\"", 5);
	assert_int_equal(sl_rstate_decode(b.data, b.len, &off, &ts, &json, &jlen), 0);
	assert_int_equal(jlen, 5);
	sl_buf_free(&b);
	const char *bad[] = {"", "|", "12", "12|", "12|34", "12|34|", "a|1|2", "1|b|2", "1||2",
			     "99999999999999999999999|1|2", "-|1|2", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(sl_rstate_decode(bad[i], strlen(bad[i]), &off, &ts, &json, &jlen), -1000);
}

static void check_value(const char *in, const char *out)
{
	sl_buf_t b = SL_BUF_INIT;
	sl_rstate_value_json(&b, in, strlen(in));
	assert_string_equal(b.data, out);
	sl_buf_free(&b);
}

static void test_value_json(void **state)
{
	(void)state;
	check_value("12.3456", "12.3456");
	check_value("101.2345", "101.2345");
	check_value("{\"market\":\"m-1\",\"price\":1.5}", "{\"market\":\"m-1\",\"price\":1.5}");
	check_value("{\n\"a\": 1\r\n}", "{ \"a\": 1  }");
	check_value("hello", "\"hello\"");
	check_value("{\"a\":", "\"{\\\"a\\\":\"");
	check_value("1 2", "\"1 2\"");
	check_value("", "\"\"");
	check_value("\"s\"", "\"s\"");
	check_value("null", "null");
}

static void test_messages(void **state)
{
	(void)state;
	sl_buf_t b = SL_BUF_INIT;
	sl_rstate_update_json(&b, "m-0001", 6, "101.5", 5, 124, 4, 1700000000001);
	assert_string_equal(b.data, "{\"type\":\"update\",\"market\":\"m-0001\",\"value\":101.5,\"offset\":124,"
				    "\"partition\":4,\"ts\":1700000000001}");
	sl_buf_reset(&b);
	sl_rstate_entry_json(&b, "m-0001", 6, "\"x\"", 3, 1, 0, 2);
	assert_string_equal(b.data, "{\"market\":\"m-0001\",\"value\":\"x\",\"offset\":1,\"partition\":0,\"ts\":2}");
	sl_buf_reset(&b);
	sl_rstate_sub_member(&b, "m-0001", "6682e7db-7ce5-4810-a2a4-a2c3b3363ca5");
	sl_iov_t m, ch;
	assert_true(sl_rstate_sub_split(b.data, b.len, &m, &ch));
	assert_int_equal(m.len, 6);
	assert_int_equal(ch.len, 36);
	assert_false(sl_rstate_sub_split("m-0001", 6, &m, &ch));
	assert_false(sl_rstate_sub_split("m-0001 nope", 11, &m, &ch));
	assert_false(sl_rstate_sub_split(" x", 2, &m, &ch));
	sl_buf_free(&b);
}

static void test_validators(void **state)
{
	(void)state;
	const char *good_m[] = {"m-0001", "a", "X.y_z:1-2", "0123456789012345678901234567890123456789012345678901234567890123",
				NULL};
	const char *bad_m[] = {"", "m 1", "m/1", "m\"", "é", "01234567890123456789012345678901234567890123456789012345678901234",
			       NULL};
	for (int i = 0; good_m[i]; i++)
		assert_true(sl_rstate_market_valid(good_m[i], strlen(good_m[i])));
	for (int i = 0; bad_m[i]; i++)
		assert_false(sl_rstate_market_valid(bad_m[i], strlen(bad_m[i])));
	assert_true(sl_rstate_channel_valid("6682e7db-7ce5-4810-a2a4-a2c3b3363ca5", 36));
	const char *bad_c[] = {"6682e7db-7ce5-4810-a2a4-a2c3b3363ca", "6682E7DB-7ce5-4810-a2a4-a2c3b3363ca5",
			       "6682e7db07ce5-4810-a2a4-a2c3b3363ca5", "6682e7db-7ce5-4810-a2a4-a2c3b3363cag", "", NULL};
	for (int i = 0; bad_c[i]; i++)
		assert_false(sl_rstate_channel_valid(bad_c[i], strlen(bad_c[i])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur2_matches_librdkafka), cmocka_unit_test(test_keys),
		cmocka_unit_test(test_encode_decode), cmocka_unit_test(test_value_json),
		cmocka_unit_test(test_messages), cmocka_unit_test(test_validators),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
