/* jwt.c: JWT verification and signing (see jwt.h).
 *
 * The token is split at its two dots; header and claims are decoded and
 * parsed (jansson, duplicate names refused) before any signature work, so
 * a malformed token costs no public-key operation. The signed input is the
 * token's text up to the second dot, as sent (RFC 7515 section 5.2).
 * HS256: HMAC-SHA-256, compared with CRYPTO_memcmp. RS256: PKCS#1 v1.5
 * with SHA-256 through EVP_DigestVerify. ES256: the 64-byte r||s of the
 * token becomes the DER ECDSA-Sig-Value that OpenSSL verifies (and back
 * when signing).
 * References: RFC 7519, RFC 7515, RFC 7518 section 3; OpenSSL
 * EVP_DigestVerifyInit(3), ECDSA_SIG_new(3).
 */
#include "auth/jwt.h"

#include "auth/file.h"
#include "auth/match.h"
#include "core/alloc.h"
#include "core/base64.h"

#include <jansson.h>
#include <math.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct jkey {
	sl_jwt_alg_t alg;
	unsigned char *secret; /* HS256 */
	size_t len;
	EVP_PKEY *pkey;        /* RS256, ES256 */
} jkey_t;

struct sl_jwt_keys {
	jkey_t *k;
	size_t n;
	char *aud;
};

struct sl_jwt_signer {
	jkey_t key;
};

/* Tokens are base64url without padding (RFC 7515 section 2). */
#define B64URL (SL_BASE64_URL | SL_BASE64_NOPAD)

/* ---- claims ---- */

void sl_jwt_claims_free(sl_jwt_claims_t *c)
{
	for (size_t i = 0; i < c->nmarkets; i++)
		free(c->markets[i]);
	free(c->markets);
	memset(c, 0, sizeof(*c));
}

void sl_jwt_claims_add_market(sl_jwt_claims_t *c, const char *pattern)
{
	c->markets = sl_xrealloc(c->markets, (c->nmarkets + 1) * sizeof(char *));
	c->markets[c->nmarkets++] = sl_xstrdup(pattern);
}

bool sl_jwt_market_allowed(const sl_jwt_claims_t *c, const char *m, size_t n)
{
	for (size_t i = 0; i < c->nmarkets; i++)
		if (sl_auth_glob(c->markets[i], m, n))
			return true;
	return false;
}

bool sl_jwt_pattern_valid(const char *pat)
{
	size_t n = strlen(pat);
	if (n == 0 || n > SL_JWT_PATTERN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = pat[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == ':' || ch == '-' || ch == '*'))
			return false;
	}
	return true;
}

static bool chan_valid(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return true;
}

const char *sl_jwt_status_code(sl_jwt_status_t st)
{
	switch (st) {
	case SL_JWT_OK: return "ok";
	case SL_JWT_MALFORMED: return "malformed_token";
	case SL_JWT_BAD_ALG: return "bad_algorithm";
	case SL_JWT_BAD_SIGNATURE: return "bad_signature";
	case SL_JWT_EXPIRED: return "token_expired";
	case SL_JWT_NOT_YET_VALID: return "token_not_yet_valid";
	case SL_JWT_BAD_CLAIMS: return "bad_claims";
	case SL_JWT_BAD_AUDIENCE: return "bad_audience";
	}
	return "invalid_token";
}

/* ---- keys ---- */

sl_jwt_keys_t *sl_jwt_keys_new(void)
{
	return sl_xcalloc(1, sizeof(sl_jwt_keys_t));
}

static void key_clear(jkey_t *k)
{
	if (k->secret) {
		OPENSSL_cleanse(k->secret, k->len);
		free(k->secret);
	}
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

void sl_jwt_keys_free(sl_jwt_keys_t *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		key_clear(&k->k[i]);
	free(k->k);
	free(k->aud);
	free(k);
}

static jkey_t *keys_push(sl_jwt_keys_t *k)
{
	k->k = sl_xrealloc(k->k, (k->n + 1) * sizeof(jkey_t));
	memset(&k->k[k->n], 0, sizeof(jkey_t));
	return &k->k[k->n++];
}

static int secret_key(jkey_t *key, const void *secret, size_t len, sl_err_t *err)
{
	if (len < SL_JWT_MIN_SECRET)
		return sl_err_set(err, SL_EINVAL, false, "an HS256 secret needs at least %d bytes (it has %zu)",
				  SL_JWT_MIN_SECRET, len);
	key->alg = SL_JWT_HS256;
	key->secret = sl_xmemdup(secret, len);
	key->len = len;
	return 0;
}

int sl_jwt_keys_add_secret(sl_jwt_keys_t *k, const void *secret, size_t len, sl_err_t *err)
{
	jkey_t key = {0};
	if (secret_key(&key, secret, len, err) < 0)
		return SL_EINVAL;
	*keys_push(k) = key;
	return 0;
}

/* The algorithm a key signs with, or 0 with err filled. */
static sl_jwt_alg_t pkey_alg(EVP_PKEY *pkey, const char *path, sl_err_t *err)
{
	int id = EVP_PKEY_get_base_id(pkey);
	if (id == EVP_PKEY_RSA) {
		if (EVP_PKEY_get_bits(pkey) < 2048) {
			sl_err_set(err, SL_EINVAL, false, "%s: an RSA key of %d bits is too short for RS256 (2048 at least)",
				   path, EVP_PKEY_get_bits(pkey));
			return 0;
		}
		return SL_JWT_RS256;
	}
	if (id == EVP_PKEY_EC) {
		char group[64] = "";
		size_t glen = 0;
		EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen);
		int nid = OBJ_sn2nid(group);
		if (nid == NID_undef)
			nid = EC_curve_nist2nid(group);
		if (nid != NID_X9_62_prime256v1) {
			sl_err_set(err, SL_EINVAL, false, "%s: EC key on curve %s; ES256 needs P-256", path,
				   group[0] ? group : "(unknown)");
			return 0;
		}
		return SL_JWT_ES256;
	}
	sl_err_set(err, SL_EINVAL, false, "%s: neither an RSA nor an EC P-256 key", path);
	return 0;
}

/* Read a PEM file: a public key, a certificate, or a private key (private
 * only when want_private). */
static EVP_PKEY *read_pem(const char *path, bool want_private, sl_err_t *err)
{
	size_t len = 0;
	char *data = sl_auth_file_read(path, "key file", &len, err);
	if (!data)
		return NULL;
	EVP_PKEY *pkey = NULL;
	BIO *b = BIO_new_mem_buf(data, (int)len);
	pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	if (!pkey && !want_private) {
		BIO_free(b);
		b = BIO_new_mem_buf(data, (int)len);
		pkey = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
		if (!pkey) {
			BIO_free(b);
			b = BIO_new_mem_buf(data, (int)len);
			X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
			if (x) {
				pkey = X509_get_pubkey(x);
				X509_free(x);
			}
		}
	}
	BIO_free(b);
	OPENSSL_cleanse(data, len);
	free(data);
	ERR_clear_error();
	if (!pkey)
		sl_err_set(err, SL_EINVAL, false, "%s holds no PEM %s", path,
			   want_private ? "private key" : "public key, certificate or private key");
	return pkey;
}

int sl_jwt_keys_add_pem_file(sl_jwt_keys_t *k, const char *path, sl_err_t *err)
{
	EVP_PKEY *pkey = read_pem(path, false, err);
	if (!pkey)
		return SL_EINVAL;
	sl_jwt_alg_t alg = pkey_alg(pkey, path, err);
	if (!alg) {
		EVP_PKEY_free(pkey);
		return SL_EINVAL;
	}
	jkey_t *key = keys_push(k);
	key->alg = alg;
	key->pkey = pkey;
	return 0;
}

size_t sl_jwt_keys_count(const sl_jwt_keys_t *k)
{
	return k ? k->n : 0;
}

void sl_jwt_keys_set_audience(sl_jwt_keys_t *k, const char *aud)
{
	free(k->aud);
	k->aud = aud && *aud ? sl_xstrdup(aud) : NULL;
}

/* ---- signatures ---- */

static bool hs256_ok(const jkey_t *key, const char *data, size_t len, const unsigned char *sig, size_t siglen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!HMAC(EVP_sha256(), key->secret, (int)key->len, (const unsigned char *)data, len, md, &mdlen))
		return false;
	return siglen == mdlen && CRYPTO_memcmp(md, sig, mdlen) == 0;
}

static bool pkey_ok(const jkey_t *key, const char *data, size_t len, const unsigned char *sig, size_t siglen)
{
	unsigned char *der = NULL;
	const unsigned char *vsig = sig;
	size_t vlen = siglen;
	if (key->alg == SL_JWT_ES256) {
		if (siglen != 64)
			return false;
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
		if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
			BN_free(r);
			BN_free(s);
			ECDSA_SIG_free(es);
			return false;
		}
		int dl = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (dl <= 0)
			return false;
		vsig = der;
		vlen = (size_t)dl;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
		  EVP_DigestVerify(ctx, vsig, vlen, (const unsigned char *)data, len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok;
}

static int sign_with(const jkey_t *key, const char *data, size_t len, sl_buf_t *out, sl_err_t *err)
{
	if (key->alg == SL_JWT_HS256) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		if (!HMAC(EVP_sha256(), key->secret, (int)key->len, (const unsigned char *)data, len, md, &mdlen))
			return sl_err_set(err, SL_EIO, false, "HMAC failed");
		sl_base64_encode(out, md, mdlen, B64URL);
		return 0;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 0;
	unsigned char *sig = NULL;
	int rc = SL_EIO;
	if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data, len) == 1) {
		sig = sl_xmalloc(siglen);
		if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, len) == 1)
			rc = 0;
	}
	EVP_MD_CTX_free(ctx);
	if (rc == 0 && key->alg == SL_JWT_ES256) {
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		const BIGNUM *r, *s;
		unsigned char raw[64];
		if (!es) {
			rc = SL_EIO;
		} else {
			ECDSA_SIG_get0(es, &r, &s);
			if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32)
				rc = SL_EIO;
			else
				sl_base64_encode(out, raw, 64, B64URL);
			ECDSA_SIG_free(es);
		}
	} else if (rc == 0) {
		sl_base64_encode(out, sig, siglen, B64URL);
	}
	free(sig);
	ERR_clear_error();
	return rc == 0 ? 0 : sl_err_set(err, SL_EIO, false, "signing the token failed (OpenSSL)");
}

/* ---- verifying ---- */

static sl_jwt_status_t refuse(sl_jwt_status_t st, char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return st;
}

static json_t *decode_json(const char *p, size_t n)
{
	if (n == 0 || n > SL_JWT_MAX_TOKEN)
		return NULL;
	unsigned char *buf = sl_xmalloc(sl_base64_decoded_max(n));
	long dl = sl_base64_decode(p, n, B64URL, buf, NULL);
	json_t *j = NULL;
	if (dl > 0) {
		json_error_t jerr;
		j = json_loadb((const char *)buf, (size_t)dl, JSON_REJECT_DUPLICATES, &jerr);
		if (j && !json_is_object(j)) {
			json_decref(j);
			j = NULL;
		}
	}
	free(buf);
	return j;
}

static bool numeric_date(json_t *v, int64_t *out)
{
	double d;
	if (json_is_integer(v))
		d = (double)json_integer_value(v);
	else if (json_is_real(v))
		d = floor(json_real_value(v));
	else
		return false;
	if (!(d > 0 && d < 9007199254740992.0))
		return false;
	*out = (int64_t)d;
	return true;
}

static bool aud_matches(json_t *aud, const char *want)
{
	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), want);
	if (json_is_array(aud)) {
		size_t i;
		json_t *v;
		json_array_foreach(aud, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), want)) return true;
	}
	return false;
}

/* The claims sluice reads, checked for type and size. */
static sl_jwt_status_t read_claims(const sl_jwt_keys_t *k, json_t *p, sl_jwt_claims_t *out, char *why, size_t wl)
{
	json_t *sub = json_object_get(p, "sub");
	if (!json_is_string(sub) || json_string_length(sub) == 0 || json_string_length(sub) > SL_JWT_SUB_MAX)
		return refuse(SL_JWT_BAD_CLAIMS, why, wl, "the token needs a sub claim: a string of 1 to 128 bytes");
	const char *s = json_string_value(sub);
	for (size_t i = 0; i < json_string_length(sub); i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return refuse(SL_JWT_BAD_CLAIMS, why, wl, "the sub claim holds a control character");
	memcpy(out->sub, s, json_string_length(sub) + 1);
	if (!numeric_date(json_object_get(p, "exp"), &out->exp))
		return refuse(SL_JWT_BAD_CLAIMS, why, wl, "the token needs an exp claim (seconds since the epoch)");
	json_t *nbf = json_object_get(p, "nbf");
	if (nbf && !numeric_date(nbf, &out->nbf))
		return refuse(SL_JWT_BAD_CLAIMS, why, wl, "the nbf claim must be seconds since the epoch");
	json_t *admin = json_object_get(p, "admin");
	if (admin && !json_is_boolean(admin))
		return refuse(SL_JWT_BAD_CLAIMS, why, wl, "the admin claim must be true or false");
	out->admin = json_is_true(admin);
	json_t *ms = json_object_get(p, "markets");
	if (ms) {
		if (!json_is_array(ms) || json_array_size(ms) > SL_JWT_MAX_MARKETS)
			return refuse(SL_JWT_BAD_CLAIMS, why, wl,
				      "the markets claim must be an array of at most 256 patterns");
		size_t i;
		json_t *m;
		json_array_foreach(ms, i, m) {
			if (!json_is_string(m) || !sl_jwt_pattern_valid(json_string_value(m)))
				return refuse(SL_JWT_BAD_CLAIMS, why, wl,
					      "each markets pattern is 1 to 64 characters of A-Z a-z 0-9 . _ : - *");
			sl_jwt_claims_add_market(out, json_string_value(m));
		}
	}
	json_t *chan = json_object_get(p, "chan");
	if (chan) {
		if (!json_is_string(chan) || !chan_valid(json_string_value(chan), json_string_length(chan)))
			return refuse(SL_JWT_BAD_CLAIMS, why, wl, "the chan claim must be a channel id");
		memcpy(out->chan, json_string_value(chan), json_string_length(chan) + 1);
	}
	if (k->aud && !aud_matches(json_object_get(p, "aud"), k->aud))
		return refuse(SL_JWT_BAD_AUDIENCE, why, wl, "the token's aud claim does not name this service");
	return SL_JWT_OK;
}

static sl_jwt_alg_t alg_of(const char *name)
{
	if (!strcmp(name, "HS256"))
		return SL_JWT_HS256;
	if (!strcmp(name, "RS256"))
		return SL_JWT_RS256;
	if (!strcmp(name, "ES256"))
		return SL_JWT_ES256;
	return 0;
}

sl_jwt_status_t sl_jwt_verify(const sl_jwt_keys_t *k, const char *token, size_t len, int64_t now_s,
			      int64_t leeway_s, sl_jwt_claims_t *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	if (!k || k->n == 0)
		return refuse(SL_JWT_BAD_ALG, why, whylen, "no key to verify tokens with");
	if (len == 0 || len > SL_JWT_MAX_TOKEN)
		return refuse(SL_JWT_MALFORMED, why, whylen, "the token is empty or over 8192 bytes");
	const char *d1 = memchr(token, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
		return refuse(SL_JWT_MALFORMED, why, whylen, "a token is three base64url parts joined by dots");
	json_t *hdr = decode_json(token, (size_t)(d1 - token));
	json_t *pay = hdr ? decode_json(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
	size_t siglen = len - (size_t)(d2 + 1 - token);
	unsigned char *sig = sl_xmalloc(sl_base64_decoded_max(siglen));
	long sl = sl_base64_decode(d2 + 1, siglen, B64URL, sig, NULL);
	sl_jwt_status_t st = SL_JWT_OK;
	if (!hdr || !pay || sl < 0) {
		st = refuse(SL_JWT_MALFORMED, why, whylen, "the token's parts are not base64url JSON objects");
		goto done;
	}
	const char *algname = json_string_value(json_object_get(hdr, "alg"));
	sl_jwt_alg_t alg = algname ? alg_of(algname) : 0;
	json_t *typ = json_object_get(hdr, "typ");
	if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
		st = refuse(SL_JWT_MALFORMED, why, whylen, "the token's typ is not JWT");
		goto done;
	}
	if (json_object_get(hdr, "crit")) {
		st = refuse(SL_JWT_MALFORMED, why, whylen, "the token names critical extensions (crit) not supported");
		goto done;
	}
	bool held = false;
	for (size_t i = 0; alg && i < k->n; i++)
		held |= k->k[i].alg == alg;
	if (!held) {
		char msg[96];
		snprintf(msg, sizeof(msg), "algorithm %.16s is not accepted here", algname ? algname : "(none)");
		st = refuse(SL_JWT_BAD_ALG, why, whylen, msg);
		goto done;
	}
	if (sl == 0) {
		st = refuse(SL_JWT_BAD_SIGNATURE, why, whylen, "the token is not signed");
		goto done;
	}
	bool good = false;
	size_t signed_len = (size_t)(d2 - token);
	for (size_t i = 0; i < k->n && !good; i++) {
		const jkey_t *key = &k->k[i];
		if (key->alg != alg)
			continue;
		good = alg == SL_JWT_HS256 ? hs256_ok(key, token, signed_len, sig, (size_t)sl)
					   : pkey_ok(key, token, signed_len, sig, (size_t)sl);
	}
	if (!good) {
		st = refuse(SL_JWT_BAD_SIGNATURE, why, whylen, "the token's signature does not verify");
		goto done;
	}
	st = read_claims(k, pay, out, why, whylen);
	if (st != SL_JWT_OK)
		goto done;
	if (now_s > out->exp + leeway_s) {
		st = refuse(SL_JWT_EXPIRED, why, whylen, "the token has expired");
		goto done;
	}
	if (out->nbf && now_s + leeway_s < out->nbf) {
		st = refuse(SL_JWT_NOT_YET_VALID, why, whylen, "the token is not valid yet (nbf)");
		goto done;
	}
done:
	if (st != SL_JWT_OK)
		sl_jwt_claims_free(out);
	json_decref(hdr);
	json_decref(pay);
	free(sig);
	return st;
}

/* ---- signing ---- */

sl_jwt_signer_t *sl_jwt_signer_secret(const void *secret, size_t len, sl_err_t *err)
{
	sl_jwt_signer_t *s = sl_xcalloc(1, sizeof(*s));
	if (secret_key(&s->key, secret, len, err) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

sl_jwt_signer_t *sl_jwt_signer_pem_file(const char *path, sl_err_t *err)
{
	EVP_PKEY *pkey = read_pem(path, true, err);
	if (!pkey)
		return NULL;
	sl_jwt_alg_t alg = pkey_alg(pkey, path, err);
	if (!alg) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	sl_jwt_signer_t *s = sl_xcalloc(1, sizeof(*s));
	s->key.alg = alg;
	s->key.pkey = pkey;
	return s;
}

sl_jwt_alg_t sl_jwt_signer_alg(const sl_jwt_signer_t *s)
{
	return s->key.alg;
}

void sl_jwt_signer_free(sl_jwt_signer_t *s)
{
	if (!s)
		return;
	key_clear(&s->key);
	free(s);
}

int sl_jwt_sign(const sl_jwt_signer_t *s, const sl_jwt_claims_t *c, int64_t now_s, sl_buf_t *out, sl_err_t *err)
{
	if (!c->sub[0])
		return sl_err_set(err, SL_EINVAL, false, "a token needs a sub");
	static const char *const names[] = {[SL_JWT_HS256] = "HS256", [SL_JWT_RS256] = "RS256", [SL_JWT_ES256] = "ES256"};
	json_t *hdr = json_pack("{s:s,s:s}", "alg", names[s->key.alg], "typ", "JWT");
	json_t *pay = json_pack("{s:s,s:I,s:I}", "sub", c->sub, "iat", (json_int_t)now_s, "exp", (json_int_t)c->exp);
	if (c->nbf)
		json_object_set_new(pay, "nbf", json_integer(c->nbf));
	if (c->admin)
		json_object_set_new(pay, "admin", json_true());
	if (c->nmarkets) {
		json_t *ms = json_array();
		for (size_t i = 0; i < c->nmarkets; i++)
			json_array_append_new(ms, json_string(c->markets[i]));
		json_object_set_new(pay, "markets", ms);
	}
	if (c->chan[0])
		json_object_set_new(pay, "chan", json_string(c->chan));
	if (c->aud[0])
		json_object_set_new(pay, "aud", json_string(c->aud));
	char *h = json_dumps(hdr, JSON_COMPACT), *p = json_dumps(pay, JSON_COMPACT);
	json_decref(hdr);
	json_decref(pay);
	if (!h || !p) {
		free(h);
		free(p);
		return sl_err_set(err, SL_EINVAL, false, "the claims are not valid UTF-8");
	}
	size_t start = out->len;
	sl_base64_encode(out, h, strlen(h), B64URL);
	sl_buf_putc(out, '.');
	sl_base64_encode(out, p, strlen(p), B64URL);
	free(h);
	free(p);
	sl_buf_t input = SL_BUF_INIT;
	sl_buf_append(&input, out->data + start, out->len - start);
	sl_buf_putc(out, '.');
	int rc = sign_with(&s->key, input.data, input.len, out, err);
	sl_buf_free(&input);
	if (rc < 0) {
		out->len = start;
		out->data[start] = '\0';
	}
	return rc;
}
