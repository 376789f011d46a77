/* test_jwt.c: unit tests of auth/jwt and auth/match: the RFC 7515 A.1
 * HS256 example, HS256/RS256/ES256 round trips with keys made here,
 * every refusal (expired, not yet valid, bad signature, alg none, alg
 * confusion, wrong claim types, malformed parts, audience), rotation (two
 * keys), market patterns, constant-time equality, loopback addresses.
 * base64url itself is tested in test_base64.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "auth/jwt.h"
#include "auth/match.h"
#include "core/base64.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Tokens are base64url without padding (RFC 7515 section 2). */
#define B64URL (SL_BASE64_URL | SL_BASE64_NOPAD)

static const char secret[] = "0123456789abcdef0123456789abcdef-test-secret";
#define NOW 1700000000

static char *tmp_pem(EVP_PKEY *pkey, bool priv)
{
	char tmpl[] = "/tmp/sluice-test-jwt-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	if (priv)
		assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_PUBKEY(f, pkey), 1);
	fclose(f);
	return strdup(tmpl);
}

static void claims(sl_jwt_claims_t *c, const char *sub, int64_t exp)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sub, sizeof(c->sub), "%s", sub);
	c->exp = exp;
}

static sl_jwt_status_t verify(const sl_jwt_keys_t *k, const char *tok, sl_jwt_claims_t *out)
{
	char why[200];
	sl_jwt_status_t st = sl_jwt_verify(k, tok, strlen(tok), NOW, 30, out, why, sizeof(why));
	if (st != SL_JWT_OK)
		assert_true(why[0] != '\0'); /* a refusal always says why */
	return st;
}

/* RFC 7515 appendix A.1: the signature verifies with the JWK's key; the
 * example has no sub, so the claims are then refused (not the signature). */
static void test_rfc7515_a1(void **state)
{
	(void)state;
	const char *k64 = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
	const char *tok = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
			  ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
			  ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	unsigned char key[64];
	long kl = sl_base64_decode(k64, strlen(k64), B64URL, key, NULL);
	assert_int_equal(kl, 64);
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	assert_int_equal(sl_jwt_keys_add_secret(k, key, (size_t)kl, NULL), 0);
	sl_jwt_claims_t c;
	assert_int_equal(verify(k, tok, &c), SL_JWT_BAD_CLAIMS);
	/* One bit of the signature flipped: now the signature fails. */
	char *bad = strdup(tok);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'X' ? 'Y' : 'X';
	assert_int_equal(verify(k, bad, &c), SL_JWT_BAD_SIGNATURE);
	free(bad);
	sl_jwt_keys_free(k);
}

static void test_hs256_round_trip(void **state)
{
	(void)state;
	sl_err_t err = {0};
	sl_jwt_signer_t *s = sl_jwt_signer_secret(secret, strlen(secret), &err);
	assert_non_null(s);
	sl_jwt_claims_t c;
	claims(&c, "alice", NOW + 60);
	c.admin = true;
	sl_jwt_claims_add_market(&c, "m-*");
	sl_jwt_claims_add_market(&c, "x-1");
	snprintf(c.chan, sizeof(c.chan), "0f1e2d3c-4b5a-4697-8877-665544332211");
	sl_buf_t tok = SL_BUF_INIT;
	assert_int_equal(sl_jwt_sign(s, &c, NOW, &tok, &err), 0);
	sl_jwt_claims_free(&c);
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	assert_int_equal(sl_jwt_keys_add_secret(k, secret, strlen(secret), NULL), 0);
	sl_jwt_claims_t got;
	assert_int_equal(verify(k, tok.data, &got), SL_JWT_OK);
	assert_string_equal(got.sub, "alice");
	assert_int_equal(got.exp, NOW + 60);
	assert_true(got.admin);
	assert_int_equal(got.nmarkets, 2);
	assert_true(sl_jwt_market_allowed(&got, "m-0042", 6));
	assert_true(sl_jwt_market_allowed(&got, "x-1", 3));
	assert_false(sl_jwt_market_allowed(&got, "x-10", 4));
	assert_false(sl_jwt_market_allowed(&got, "n-1", 3));
	assert_string_equal(got.chan, "0f1e2d3c-4b5a-4697-8877-665544332211");
	sl_jwt_claims_free(&got);
	/* Tampered claims (another sub, same signature): refused. */
	char *dot1 = strchr(tok.data, '.'), *dot2 = strchr(dot1 + 1, '.');
	sl_buf_t forged = SL_BUF_INIT, pay = SL_BUF_INIT;
	const char *p = "{\"sub\":\"mallory\",\"exp\":1700000060,\"admin\":true}";
	sl_base64_encode(&pay, p, strlen(p), B64URL);
	sl_buf_append(&forged, tok.data, (size_t)(dot1 + 1 - tok.data));
	sl_buf_append(&forged, pay.data, pay.len);
	sl_buf_puts(&forged, dot2);
	assert_int_equal(verify(k, forged.data, &got), SL_JWT_BAD_SIGNATURE);
	/* Another secret: refused. */
	sl_jwt_keys_t *other = sl_jwt_keys_new();
	assert_int_equal(sl_jwt_keys_add_secret(other, "another-secret-of-at-least-32-bytes!", 36, NULL), 0);
	assert_int_equal(verify(other, tok.data, &got), SL_JWT_BAD_SIGNATURE);
	/* Rotation: the old and the new secret both held, both tokens pass. */
	assert_int_equal(sl_jwt_keys_add_secret(other, secret, strlen(secret), NULL), 0);
	assert_int_equal(verify(other, tok.data, &got), SL_JWT_OK);
	sl_jwt_claims_free(&got);
	sl_jwt_keys_free(other);
	sl_buf_free(&forged);
	sl_buf_free(&pay);
	sl_buf_free(&tok);
	sl_jwt_keys_free(k);
	sl_jwt_signer_free(s);
}

static void test_time(void **state)
{
	(void)state;
	sl_jwt_signer_t *s = sl_jwt_signer_secret(secret, strlen(secret), NULL);
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	sl_jwt_keys_add_secret(k, secret, strlen(secret), NULL);
	struct {
		int64_t exp, nbf;
		sl_jwt_status_t want;
	} rows[] = {
		{NOW - 31, 0, SL_JWT_EXPIRED},       /* past the leeway */
		{NOW - 29, 0, SL_JWT_OK},            /* within it */
		{NOW + 100, NOW + 31, SL_JWT_NOT_YET_VALID},
		{NOW + 100, NOW + 29, SL_JWT_OK},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_jwt_claims_t c, got;
		claims(&c, "bob", rows[i].exp);
		c.nbf = rows[i].nbf;
		sl_buf_t tok = SL_BUF_INIT;
		assert_int_equal(sl_jwt_sign(s, &c, NOW, &tok, NULL), 0);
		assert_int_equal(verify(k, tok.data, &got), rows[i].want);
		sl_jwt_claims_free(&got);
		sl_buf_free(&tok);
	}
	sl_jwt_keys_free(k);
	sl_jwt_signer_free(s);
}

/* A token with any header and claims, signed with secret (or unsigned). */
static char *make(const char *hdr, const char *pay, bool sign)
{
	sl_buf_t b = SL_BUF_INIT;
	sl_base64_encode(&b, hdr, strlen(hdr), B64URL);
	sl_buf_putc(&b, '.');
	sl_base64_encode(&b, pay, strlen(pay), B64URL);
	if (sign) {
		/* Signed by hand: the header may say anything. */
		unsigned char md[32];
		unsigned mdlen = 0;
		HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)b.data, b.len, md, &mdlen);
		sl_buf_putc(&b, '.');
		sl_base64_encode(&b, md, mdlen, B64URL);
	} else {
		sl_buf_putc(&b, '.');
	}
	return sl_buf_steal(&b, NULL);
}

static void test_refusals(void **state)
{
	(void)state;
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	sl_jwt_keys_add_secret(k, secret, strlen(secret), NULL);
	const char *hs = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	struct {
		const char *hdr, *pay;
		bool sign;
		sl_jwt_status_t want;
	} rows[] = {
		{"{\"alg\":\"none\"}", "{\"sub\":\"a\",\"exp\":1800000000}", false, SL_JWT_BAD_ALG},
		{"{\"alg\":\"none\"}", "{\"sub\":\"a\",\"exp\":1800000000}", true, SL_JWT_BAD_ALG},
		{"{\"alg\":\"HS512\"}", "{\"sub\":\"a\",\"exp\":1800000000}", true, SL_JWT_BAD_ALG},
		{"{\"alg\":\"RS256\"}", "{\"sub\":\"a\",\"exp\":1800000000}", true, SL_JWT_BAD_ALG},
		{"{\"typ\":\"JWT\"}", "{\"sub\":\"a\",\"exp\":1800000000}", true, SL_JWT_BAD_ALG},
		{"{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}", "{\"sub\":\"a\",\"exp\":1800000000}", true, SL_JWT_MALFORMED},
		{"{\"alg\":\"HS256\",\"crit\":[\"x\"]}", "{\"sub\":\"a\",\"exp\":1800000000}", true, SL_JWT_MALFORMED},
		{"{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"sub\":\"a\",\"exp\":1800000000}", true, SL_JWT_MALFORMED},
		{"[1]", "{\"sub\":\"a\",\"exp\":1800000000}", true, SL_JWT_MALFORMED},
		{hs, "not json", true, SL_JWT_MALFORMED},
		{hs, "{\"exp\":1800000000}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"\",\"exp\":1800000000}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":7,\"exp\":1800000000}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\\nb\",\"exp\":1800000000}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\"}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":\"1800000000\"}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":-5}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":1800000000,\"admin\":\"yes\"}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":1800000000,\"markets\":\"m-*\"}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":1800000000,\"markets\":[\"m *\"]}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":1800000000,\"markets\":[3]}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":1800000000,\"chan\":\"../x\"}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":1800000000,\"nbf\":\"soon\"}", true, SL_JWT_BAD_CLAIMS},
		{hs, "{\"sub\":\"a\",\"exp\":1800000000.5}", true, SL_JWT_OK},
		{hs, "{\"sub\":\"a\",\"exp\":1800000000,\"admin\":false,\"markets\":[]}", true, SL_JWT_OK},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *tok = make(rows[i].hdr, rows[i].pay, rows[i].sign);
		sl_jwt_claims_t got;
		sl_jwt_status_t st = verify(k, tok, &got);
		if (st != rows[i].want)
			fail_msg("row %zu: %s gave %s, want %s", i, rows[i].pay, sl_jwt_status_code(st),
				 sl_jwt_status_code(rows[i].want));
		sl_jwt_claims_free(&got);
		free(tok);
	}
	const char *malformed[] = {"", "a", "a.b", "a.b.c.d", "..", "eyJhbGciOiJIUzI1NiJ9..", "e30.e30!.e30",
				   "e30=.e30.e30" /* padding */, "e30.e31.e30" /* non-zero leftover bits */};
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		sl_jwt_claims_t got;
		assert_int_equal(verify(k, malformed[i], &got), SL_JWT_MALFORMED);
	}
	sl_jwt_claims_t none_alg;
	assert_int_equal(verify(k, "e30.e30.e30", &none_alg), SL_JWT_BAD_ALG); /* {} names no alg */
	char *huge = calloc(1, SL_JWT_MAX_TOKEN + 2);
	memset(huge, 'a', SL_JWT_MAX_TOKEN + 1);
	sl_jwt_claims_t got;
	assert_int_equal(verify(k, huge, &got), SL_JWT_MALFORMED);
	free(huge);
	/* No keys at all: nothing verifies. */
	sl_jwt_keys_t *none = sl_jwt_keys_new();
	char *tok = make(hs, "{\"sub\":\"a\",\"exp\":1800000000}", true);
	assert_int_equal(verify(none, tok, &got), SL_JWT_BAD_ALG);
	/* Audience: required once set. */
	sl_jwt_keys_set_audience(k, "sluice");
	assert_int_equal(verify(k, tok, &got), SL_JWT_BAD_AUDIENCE);
	free(tok);
	tok = make(hs, "{\"sub\":\"a\",\"exp\":1800000000,\"aud\":[\"x\",\"sluice\"]}", true);
	assert_int_equal(verify(k, tok, &got), SL_JWT_OK);
	sl_jwt_claims_free(&got);
	free(tok);
	sl_jwt_keys_free(none);
	sl_jwt_keys_free(k);
	/* Short secrets are refused at load. */
	sl_err_t err = {0};
	assert_null(sl_jwt_signer_secret("short", 5, &err));
	assert_non_null(strstr(err.msg, "32 bytes"));
}

static void pkey_round_trip(EVP_PKEY *pkey, sl_jwt_alg_t alg)
{
	char *priv = tmp_pem(pkey, true), *pub = tmp_pem(pkey, false);
	sl_err_t err = {0};
	sl_jwt_signer_t *s = sl_jwt_signer_pem_file(priv, &err);
	assert_non_null(s);
	assert_int_equal(sl_jwt_signer_alg(s), alg);
	sl_jwt_claims_t c, got;
	claims(&c, "carol", NOW + 60);
	sl_buf_t tok = SL_BUF_INIT;
	assert_int_equal(sl_jwt_sign(s, &c, NOW, &tok, &err), 0);
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	assert_int_equal(sl_jwt_keys_add_pem_file(k, pub, &err), 0);
	assert_int_equal(verify(k, tok.data, &got), SL_JWT_OK);
	assert_string_equal(got.sub, "carol");
	sl_jwt_claims_free(&got);
	/* Alg confusion: an HS256 token whose "secret" is the public key's PEM
	 * text is refused, whatever the key file holds. */
	FILE *f = fopen(pub, "r");
	char pem[8192];
	size_t pl = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	sl_jwt_signer_t *hs = sl_jwt_signer_secret(pem, pl, &err);
	assert_non_null(hs);
	sl_buf_t htok = SL_BUF_INIT;
	assert_int_equal(sl_jwt_sign(hs, &c, NOW, &htok, &err), 0);
	assert_int_equal(verify(k, htok.data, &got), SL_JWT_BAD_ALG);
	/* The signature of another token of the same alg: refused. */
	char *dot = strrchr(tok.data, '.');
	char *swapped = NULL;
	sl_jwt_claims_t c2;
	claims(&c2, "dave", NOW + 60);
	sl_buf_t tok2 = SL_BUF_INIT;
	assert_int_equal(sl_jwt_sign(s, &c2, NOW, &tok2, &err), 0);
	char *dot2 = strrchr(tok2.data, '.');
	sl_buf_t mix = SL_BUF_INIT;
	sl_buf_append(&mix, tok2.data, (size_t)(dot2 - tok2.data));
	sl_buf_puts(&mix, dot);
	assert_int_equal(verify(k, mix.data, &got), SL_JWT_BAD_SIGNATURE);
	free(swapped);
	sl_buf_free(&mix);
	sl_buf_free(&tok2);
	sl_buf_free(&htok);
	sl_buf_free(&tok);
	sl_jwt_signer_free(hs);
	sl_jwt_signer_free(s);
	sl_jwt_keys_free(k);
	unlink(priv);
	unlink(pub);
	free(priv);
	free(pub);
}

static void test_rs256(void **state)
{
	(void)state;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(pkey);
	pkey_round_trip(pkey, SL_JWT_RS256);
	EVP_PKEY_free(pkey);
	/* Too short for RS256. */
	EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	char *pub = tmp_pem(weak, false);
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	sl_err_t err = {0};
	assert_int_equal(sl_jwt_keys_add_pem_file(k, pub, &err), SL_EINVAL);
	assert_non_null(strstr(err.msg, "2048"));
	assert_int_equal(sl_jwt_keys_add_pem_file(k, "/nonexistent/key.pem", &err), SL_EINVAL);
	sl_jwt_keys_free(k);
	unlink(pub);
	free(pub);
	EVP_PKEY_free(weak);
}

static void test_es256(void **state)
{
	(void)state;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(pkey);
	pkey_round_trip(pkey, SL_JWT_ES256);
	EVP_PKEY_free(pkey);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	char *pub = tmp_pem(p384, false);
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	sl_err_t err = {0};
	assert_int_equal(sl_jwt_keys_add_pem_file(k, pub, &err), SL_EINVAL);
	assert_non_null(strstr(err.msg, "P-256"));
	sl_jwt_keys_free(k);
	unlink(pub);
	free(pub);
	EVP_PKEY_free(p384);
}

static void test_match(void **state)
{
	(void)state;
	struct {
		const char *pat, *s;
		bool want;
	} rows[] = {
		{"*", "", true}, {"*", "anything", true}, {"m-*", "m-0001", true}, {"m-*", "m-", true},
		{"m-*", "n-0001", false}, {"m-*", "xm-1", false}, {"*-1", "m-1", true}, {"*-1", "m-10", false},
		{"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false}, {"exact", "exact", true},
		{"exact", "exactly", false}, {"", "", true}, {"", "a", false}, {"**", "x", true},
		{"a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (sl_auth_glob(rows[i].pat, rows[i].s, strlen(rows[i].s)) != rows[i].want)
			fail_msg("glob %s on %s", rows[i].pat, rows[i].s);
	assert_true(sl_auth_secret_eq("abc", 3, "abc", 3));
	assert_false(sl_auth_secret_eq("abc", 3, "abd", 3));
	assert_false(sl_auth_secret_eq("abc", 3, "abcd", 4));
	assert_false(sl_auth_secret_eq("", 0, "a", 1));
	assert_true(sl_jwt_pattern_valid("m-*"));
	assert_false(sl_jwt_pattern_valid(""));
	assert_false(sl_jwt_pattern_valid("m/1"));
	const char *loop[] = {"127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"};
	const char *exposed[] = {"0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com", "", "::ffff:10.0.0.1"};
	for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
		assert_true(sl_auth_host_is_loopback(loop[i]));
	for (size_t i = 0; i < sizeof(exposed) / sizeof(exposed[0]); i++)
		assert_false(sl_auth_host_is_loopback(exposed[i]));
	assert_false(sl_auth_host_is_loopback(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7515_a1), cmocka_unit_test(test_hs256_round_trip),
		cmocka_unit_test(test_time),       cmocka_unit_test(test_refusals),   cmocka_unit_test(test_rs256),
		cmocka_unit_test(test_es256),      cmocka_unit_test(test_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
