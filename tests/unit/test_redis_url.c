/* test_redis_url.c: redis/url.c, the one Redis URL parser, as a table:
 * every accepted form with what it yields, every refused one with the
 * words of its error, and never the password in an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "redis/url.h"

#include <string.h>

static void test_good(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		const char *host;
		int port, db;
		const char *user, *password, *addr;
	} rows[] = {
		{"redis://127.0.0.1:6379/0", "127.0.0.1", 6379, 0, "", "", "127.0.0.1:6379"},
		{"redis://localhost", "localhost", 6379, 0, "", "", "localhost:6379"},
		{"redis://h/", "h", 6379, 0, "", "", "h:6379"},
		{"redis://h:7000/15", "h", 7000, 15, "", "", "h:7000"},
		{"redis://h:1/1000000", "h", 1, 1000000, "", "", "h:1"}, /* the one bound, for every role */
		{"redis://:s3cret@h:6380/2", "h", 6380, 2, "", "s3cret", "h:6380"},
		{"redis://alice:s3cret@h", "h", 6379, 0, "alice", "s3cret", "h:6379"},
		{"redis://s3cret@h", "h", 6379, 0, "", "s3cret", "h:6379"},        /* a bare password */
		{"redis://:p:a@ss@h:1", "h", 1, 0, "", "p:a@ss", "h:1"},          /* up to the last '@' */
		{"redis://[::1]:6390/3", "::1", 6390, 3, "", "", "[::1]:6390"},
		{"redis://[fe80::1]", "fe80::1", 6379, 0, "", "", "[fe80::1]:6379"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_redis_url_t u;
		sl_err_t err = {0};
		assert_int_equal(sl_redis_url_parse(rows[i].url, &u, &err), 0);
		assert_string_equal(u.host, rows[i].host);
		assert_int_equal(u.port, rows[i].port);
		assert_int_equal(u.db, rows[i].db);
		assert_string_equal(u.user, rows[i].user);
		assert_string_equal(u.password, rows[i].password);
		assert_string_equal(u.addr, rows[i].addr);
	}
}

static void test_bad(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		const char *words;
	} rows[] = {
		{"", "must start with redis:// or rediss://"},
		{"http://x:1", "must start with redis:// or rediss://"},
		{"redisss://h", "must start with redis:// or rediss://"},
		{"redis://", "no host"},
		{"redis://:1", "no host"},
		{"redis://:pw@:1", "no host"},
		{"redis://h:0", "bad port"},
		{"redis://h:65536", "bad port"},
		{"redis://h:99999", "bad port"},
		{"redis://h:", "bad port"},
		{"redis://h:12a", "bad port"},
		{"redis://h:-1", "bad port"},
		{"redis://h:1/x", "bad database number"},
		{"redis://h:1/-1", "bad database number"},
		{"redis://h:1/1000001", "bad database number"},
		{"redis://h:1/1 ", "bad database number"},
		{"redis://[::1", "no ']'"},
		{"redis://[]:1", "no host"},
		{"redis://[::1]x", "unexpected text"},
		{"redis://h:1/0?x=1", "query parameters need rediss://"},
		{"redis://h?tls_ca=a", "query parameters need rediss://"},
		{"rediss://h?tls_ca", "without '='"},
		{"rediss://h?tls_ca=", "empty or too long"},
		{"rediss://h?ca=x", "unknown query parameter"},
		{"rediss://h?tls_cert=c", "tls_cert and tls_key go together"},
		{"rediss://h?tls_key=k", "tls_cert and tls_key go together"},
		{"rediss://h:1x?tls_ca=a", "bad port"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_redis_url_t u;
		sl_err_t err = {0};
		assert_int_equal(sl_redis_url_parse(rows[i].url, &u, &err), SL_EINVAL);
		assert_int_equal(err.code, SL_EINVAL);
		if (!strstr(err.msg, rows[i].words))
			fail_msg("%s: '%s' does not say '%s'", rows[i].url, err.msg, rows[i].words);
		assert_non_null(strstr(err.msg, "--redis-url"));
	}
	assert_int_equal(sl_redis_url_parse(NULL, &(sl_redis_url_t){0}, NULL), SL_EINVAL);
}

/* An error quotes the URL, with the password masked. */
static void test_no_password_in_errors(void **state)
{
	(void)state;
	const char *urls[] = {"redis://alice:hunter2@h:0", "redis://:hunter2@h/x", "redis://hunter2@:1", NULL};
	for (int i = 0; urls[i]; i++) {
		sl_redis_url_t u;
		sl_err_t err = {0};
		assert_int_equal(sl_redis_url_parse(urls[i], &u, &err), SL_EINVAL);
		assert_null(strstr(err.msg, "hunter2"));
		assert_non_null(strstr(err.msg, "****@"));
	}
}

/* rediss://: TLS, with its files from the query. */
static void test_tls(void **state)
{
	(void)state;
	sl_redis_url_t u;
	sl_err_t err = {0};
	assert_int_equal(sl_redis_url_parse("rediss://:pw@h:6380/2?tls_ca=/a/ca.pem&tls_cert=c.pem&tls_key=k.pem", &u, &err), 0);
	assert_true(u.tls);
	assert_string_equal(u.host, "h");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 2);
	assert_string_equal(u.password, "pw");
	assert_string_equal(u.tls_ca, "/a/ca.pem");
	assert_string_equal(u.tls_cert, "c.pem");
	assert_string_equal(u.tls_key, "k.pem");
	assert_int_equal(sl_redis_url_parse("rediss://h?tls_ca=x", &u, &err), 0);
	assert_string_equal(u.host, "h");
	assert_int_equal(u.port, 6379);
	assert_string_equal(u.tls_ca, "x");
	assert_int_equal(sl_redis_url_parse("rediss://[::1]", &u, &err), 0);
	assert_true(u.tls);
	assert_string_equal(u.tls_ca, "");
	assert_int_equal(sl_redis_url_parse("redis://h", &u, &err), 0);
	assert_false(u.tls);
	/* The password stays masked in errors of a rediss:// URL too. */
	assert_int_equal(sl_redis_url_parse("rediss://alice:hunter2@h:0", &u, &err), SL_EINVAL);
	assert_null(strstr(err.msg, "hunter2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_no_password_in_errors),
		cmocka_unit_test(test_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
