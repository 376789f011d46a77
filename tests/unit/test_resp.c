/* test_resp.c: unit tests of redis/resp.c, the RESP2 reply parser of the
 * pub/sub connections: the three pub/sub reply shapes,
 * every proper prefix of a reply is "incomplete" (never an error, never a
 * wrong reply), binary payloads with CR/LF inside, null bulks, integers,
 * and a table of malformed input that must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "redis/resp.h"

#include <string.h>

static void test_message(void **state)
{
	(void)state;
	const char msg[] = "*3\r\n$7\r\nmessage\r\n$16\r\nsluice:stream:c1\r\n$12\r\n{\"a\":\"\r\n\"}xy\r\n";
	size_t n = sizeof(msg) - 1;
	sl_resp_t r;
	assert_int_equal(sl_resp_parse(msg, n, &r), (long)n);
	assert_int_equal(r.type, '*');
	assert_int_equal(r.n, 3);
	assert_int_equal(r.el[0].len, 7);
	assert_memory_equal(r.el[0].str, "message", 7);
	assert_memory_equal(r.el[1].str, "sluice:stream:c1", 16);
	assert_int_equal(r.el[2].len, 12);
	assert_memory_equal(r.el[2].str, "{\"a\":\"\r\n\"}xy", 12); /* CR LF inside a bulk is data */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(sl_resp_parse(msg, k, &r), 0);
	/* Two replies back to back: the first is parsed alone. */
	char two[256];
	memcpy(two, msg, n);
	memcpy(two + n, ":5\r\n", 4);
	assert_int_equal(sl_resp_parse(two, n + 4, &r), (long)n);
	assert_int_equal(sl_resp_parse(two + n, 4, &r), 4);
	assert_int_equal(r.type, ':');
	assert_int_equal(r.item.len, 5);
}

static void test_confirmations(void **state)
{
	(void)state;
	const char sub[] = "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
	sl_resp_t r;
	assert_int_equal(sl_resp_parse(sub, sizeof(sub) - 1, &r), (long)sizeof(sub) - 1);
	assert_int_equal(r.el[2].type, ':');
	assert_int_equal(r.el[2].len, 1);
	const char pong[] = "*2\r\n$4\r\npong\r\n$0\r\n\r\n";
	assert_int_equal(sl_resp_parse(pong, sizeof(pong) - 1, &r), (long)sizeof(pong) - 1);
	assert_int_equal(r.el[1].len, 0);
	const char ok[] = "+OK\r\n";
	assert_int_equal(sl_resp_parse(ok, 5, &r), 5);
	assert_int_equal(r.type, '+');
	const char err[] = "-NOAUTH Authentication required.\r\n";
	assert_int_equal(sl_resp_parse(err, sizeof(err) - 1, &r), (long)sizeof(err) - 1);
	assert_int_equal(r.type, '-');
	const char nul[] = "$-1\r\n";
	assert_int_equal(sl_resp_parse(nul, 5, &r), 5);
	assert_int_equal(r.item.len, -1);
	const char neg[] = ":-42\r\n";
	assert_int_equal(sl_resp_parse(neg, 6, &r), 6);
	assert_true(r.item.len == -42);
}

static void test_malformed(void **state)
{
	(void)state;
	const char *const bad[] = {
		"?x\r\n",                      /* unknown type */
		"*1\r\n*1\r\n:1\r\n",          /* nested array */
		"$3\r\nabcX\r\n",              /* bulk not followed by CRLF */
		"$x\r\nabc\r\n",               /* bad length */
		":12a\r\n",                    /* bad integer */
		"*-2\r\n",                     /* bad count */
		":1\n",                        /* LF without CR */
		"$99999999999999999999\r\n",   /* absurd length */
		"*5000\r\n",                   /* too many elements */
		"$67108865\r\n",               /* a bulk over SL_RESP_BULK_MAX */
		":1234567890123456789012345678901234567890\r\n", /* line too long */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sl_resp_t r;
		long k = sl_resp_parse(bad[i], strlen(bad[i]), &r);
		if (k != -1)
			fail_msg("row %zu (%s): got %ld, expected -1", i, bad[i], k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_confirmations),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
