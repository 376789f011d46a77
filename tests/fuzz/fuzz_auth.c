/* fuzz_auth.c: libFuzzer target: what authentication reads from the
 * network (src/auth/): bearer tokens (the API's Authorization header, the
 * publisher's ?token=), HTTP Basic headers (the REST proxy), and the
 * credentials and ACL files that go with them.
 *
 * The first input byte picks the parser; the rest is its input:
 *   0  a token as sent, verified against an HS256 secret
 *   1  "header JSON \0 claims JSON", signed here with that secret, so that
 *      the claims parsing behind the signature check is reached too
 *   2  an Authorization header value, split as Basic
 *   3  a credentials file, then a login of the user "alice"
 *   4  an ACL file, then a question about a topic
 * Checked for any input: a known status with a stable word, a refusal with
 * no claims left behind, accepted claims within their limits (sub, chan
 * and every market pattern valid and bounded), the same answer twice; a
 * Basic split is NUL-terminated within its buffers; a file either parses
 * or says why; nothing leaks (ASan).
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/auth/.
 */
#include "auth/acl.h"
#include "auth/basic.h"
#include "auth/jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW_S 1800000000
static const char SECRET[] = "fuzz-secret-fuzz-secret-fuzz-secret-32";

/* base64url without padding, written here so the target does not test
 * the encoder with itself. */
static void b64url(sl_buf_t *out, const unsigned char *p, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
		size_t chars = n - i >= 3 ? 4 : n - i + 1;
		for (size_t c = 0; c < chars; c++)
			sl_buf_putc(out, abc[(v >> (18 - 6 * c)) & 63]);
	}
}

static void verify(const sl_jwt_keys_t *k, const char *tok, size_t len)
{
	sl_jwt_claims_t c, c2;
	memset(&c, 0xa5, sizeof(c)); /* whatever was there is overwritten */
	char why[160] = "";
	sl_jwt_status_t st = sl_jwt_verify(k, tok, len, NOW_S, 60, &c, why, sizeof(why));
	if (st > SL_JWT_BAD_AUDIENCE || !sl_jwt_status_code(st))
		abort();
	sl_jwt_status_t st2 = sl_jwt_verify(k, tok, len, NOW_S, 60, &c2, NULL, 0);
	if (st2 != st)
		abort();
	if (st != SL_JWT_OK) {
		if (c.markets || c.nmarkets || c.sub[0] || !why[0])
			abort();
		return;
	}
	if (strlen(c.sub) > SL_JWT_SUB_MAX || strlen(c.chan) > 64 || c.nmarkets > SL_JWT_MAX_MARKETS ||
	    (c.nmarkets && !c.markets) || c.exp + 60 < NOW_S || c.nbf > NOW_S + 60)
		abort();
	for (size_t i = 0; i < c.nmarkets; i++)
		if (!sl_jwt_pattern_valid(c.markets[i]))
			abort();
	if (c.nmarkets != c2.nmarkets || strcmp(c.sub, c2.sub) || c.admin != c2.admin)
		abort();
	(void)sl_jwt_market_allowed(&c, "m-0001", 6);
	sl_jwt_claims_free(&c);
	sl_jwt_claims_free(&c2);
}

static void signed_token(const sl_jwt_keys_t *k, const char *in, size_t len)
{
	const char *nul = memchr(in, '\0', len);
	size_t hlen = nul ? (size_t)(nul - in) : len / 2;
	const char *claims = nul ? nul + 1 : in + hlen;
	size_t clen = len - (size_t)(claims - in);
	sl_buf_t tok = SL_BUF_INIT;
	b64url(&tok, (const unsigned char *)in, hlen);
	sl_buf_putc(&tok, '.');
	b64url(&tok, (const unsigned char *)claims, clen);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok.data, tok.len, mac, &maclen);
	sl_buf_putc(&tok, '.');
	b64url(&tok, mac, maclen);
	verify(k, tok.data, tok.len);
	sl_buf_free(&tok);
}

static void basic_header(const char *in, size_t len)
{
	char *value = strndup(in, len);
	char user[SL_BASIC_USER_MAX + 1], pass[SL_BASIC_PASS_MAX + 1];
	memset(user, 'u', sizeof(user));
	memset(pass, 'p', sizeof(pass));
	int rc = sl_basic_parse_header(value, user, sizeof(user), pass, sizeof(pass));
	if (rc < -1 || rc > 1)
		abort();
	if (rc == 1 && (!memchr(user, '\0', sizeof(user)) || !memchr(pass, '\0', sizeof(pass))))
		abort();
	free(value);
}

static void credentials(const char *in, size_t len)
{
	sl_err_t err = {0};
	sl_basic_t *b = sl_basic_parse(in, len, "fuzz", &err);
	if (!b) {
		if (!err.msg[0])
			abort();
		return;
	}
	/* A wrong password never passes. Not asked when the file holds a
	 * crypt(3) hash: one the input made up may cost seconds (bcrypt's cost
	 * 31), which is the file's author's choice, not a client's. */
	if (!memmem(in, len, "CRYPT:", 6) && sl_basic_check(b, "alice", "\x01not-a-password\x01"))
		abort();
	(void)sl_basic_has_role(b, "alice", "admin");
	sl_basic_free(b);
}

static void acl(const char *in, size_t len)
{
	sl_err_t err = {0};
	sl_acl_t *a = sl_acl_new();
	if (sl_acl_parse(a, in, len, "fuzz", &err) != 0 && !err.msg[0])
		abort();
	(void)sl_acl_allows(a, "alice", false, SL_ACL_TOPIC, "markets", SL_ACL_READ);
	sl_acl_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sl_jwt_keys_t *keys;
	if (!keys) {
		sl_err_t err = {0};
		keys = sl_jwt_keys_new();
		if (sl_jwt_keys_add_secret(keys, SECRET, strlen(SECRET), &err) != 0)
			abort();
	}
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 5) {
	case 0: verify(keys, in, len); break;
	case 1: signed_token(keys, in, len); break;
	case 2: basic_header(in, len); break;
	case 3: credentials(in, len); break;
	case 4: acl(in, len); break;
	}
	return 0;
}
