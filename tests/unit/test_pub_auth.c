/* test_pub_auth.c: unit tests of the publisher's stream admission rules
 * (src/roles/publisher/publisher_auth.c): the Origin rule and the stream
 * token verdict, one table row per case: no token, garbage, expired, not
 * yet valid, a bad signature, a token of another channel, an API token
 * (no chan), a good token, a good token within the leeway.
 * The HTTP side (401/403 before the upgrade, the headers) is tested end to
 * end by tests/integration/1106-publisher-stream-auth.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "roles/publisher/publisher_int.h"

#include <stdio.h>
#include <string.h>

static const char secret[] = "0123456789abcdef0123456789abcdef-pub-auth";
static const char other_secret[] = "another-secret-of-32-bytes-or-more-0123456789";
#define NOW 1700000000
#define CHAN "6682e7db-7ce5-4810-a2a4-a2c3b3363ca5"
#define OTHER "0f1e2d3c-7ce5-4810-a2a4-a2c3b3363ca5"

static char *sign(const char *key, const char *chan, int64_t exp, int64_t nbf)
{
	sl_jwt_signer_t *s = sl_jwt_signer_secret(key, strlen(key), NULL);
	assert_non_null(s);
	sl_jwt_claims_t c = {0};
	snprintf(c.sub, sizeof(c.sub), "alice");
	if (chan)
		snprintf(c.chan, sizeof(c.chan), "%s", chan);
	c.exp = exp;
	c.nbf = nbf;
	sl_buf_t b = SL_BUF_INIT;
	assert_int_equal(sl_jwt_sign(s, &c, NOW - 10, &b, NULL), 0);
	sl_jwt_signer_free(s);
	size_t len;
	return sl_buf_steal(&b, &len);
}

static void test_token_table(void **state)
{
	(void)state;
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	assert_int_equal(sl_jwt_keys_add_secret(k, secret, strlen(secret), NULL), 0);
	char *good = sign(secret, CHAN, NOW + 300, 0);
	char *late = sign(secret, CHAN, NOW - 10, 0);          /* within the 30 s leeway */
	char *expired = sign(secret, CHAN, NOW - 3600, 0);
	char *early = sign(secret, CHAN, NOW + 3600, NOW + 600);
	char *forged = sign(other_secret, CHAN, NOW + 300, 0);
	char *other = sign(secret, OTHER, NOW + 300, 0);
	char *api = sign(secret, NULL, NOW + 300, 0);
	char tampered[4096];
	snprintf(tampered, sizeof(tampered), "%s", good);
	tampered[strlen(tampered) - 2] ^= 1; /* one bit of the signature */
	struct {
		const char *what, *tok;
		int status;
		const char *code;
	} rows[] = {
		{"no token", NULL, 401, "unauthorized"},
		{"empty token", "", 401, "unauthorized"},
		{"garbage", "not.a.token", 401, "malformed_token"},
		{"expired", expired, 401, "token_expired"},
		{"not yet valid", early, 401, NULL},
		{"signed by another secret", forged, 401, "bad_signature"},
		{"signature tampered", tampered, 401, "bad_signature"},
		{"token of another channel", other, 403, "channel_forbidden"},
		{"API token without chan", api, 403, "channel_forbidden"},
		{"good", good, 0, NULL},
		{"expired within the leeway", late, 0, NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char why[200] = "";
		size_t len = rows[i].tok ? strlen(rows[i].tok) : 0;
		sl_pub_refusal_t rf = sl_pub_stream_token_check(k, rows[i].tok, len, CHAN, NOW, 30, why, sizeof(why));
		if (rf.status != rows[i].status)
			fail_msg("%s: status %d, want %d (%s)", rows[i].what, rf.status, rows[i].status, why);
		if (rows[i].code && strcmp(rf.code, rows[i].code) != 0)
			fail_msg("%s: code %s, want %s", rows[i].what, rf.code, rows[i].code);
		if (rf.status)
			assert_true(why[0] != '\0'); /* a refusal says why */
	}
	free(good), free(late), free(expired), free(early), free(forged), free(other), free(api);
	sl_jwt_keys_free(k);
}

static void test_origin(void **state)
{
	(void)state;
	const char *const allowed[] = {"http://127.0.0.1:8090", "https://app.example"};
	const char *const star[] = {"*"};
	assert_true(sl_pub_origin_allowed("https://evil.example", NULL, 0));    /* none configured: as before */
	assert_true(sl_pub_origin_allowed(NULL, allowed, 2));                   /* no Origin: not a browser */
	assert_true(sl_pub_origin_allowed("http://127.0.0.1:8090", allowed, 2));
	assert_true(sl_pub_origin_allowed("https://app.example", allowed, 2));
	assert_false(sl_pub_origin_allowed("https://evil.example", allowed, 2));
	assert_false(sl_pub_origin_allowed("http://127.0.0.1:8091", allowed, 2)); /* another port */
	assert_false(sl_pub_origin_allowed("http://app.example", allowed, 2));    /* another scheme */
	assert_false(sl_pub_origin_allowed("https://app.example.evil", allowed, 2));
	assert_false(sl_pub_origin_allowed("null", allowed, 2));                  /* sandboxed page, file: */
	assert_false(sl_pub_origin_allowed("", allowed, 2));
	assert_true(sl_pub_origin_allowed("https://evil.example", star, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_table),
		cmocka_unit_test(test_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
