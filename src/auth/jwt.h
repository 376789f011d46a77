/* jwt.h: JSON Web Tokens, verified and signed with OpenSSL: HS256 with a
 * shared secret, RS256 with an RSA key, ES256 with a P-256 key.
 *
 * How it fits: the control API verifies `Authorization: Bearer <token>` on
 * every /v1 route, the publisher verifies stream tokens (`?token=`), and
 * `sluice token` and the API sign them (src/roles/token.c). A verifier
 * holds one or more keys (several during a rotation: a token signed by any
 * of them is accepted). Keys are read-only once loaded, so the publisher's
 * loops share one verifier across threads.
 * The claims sluice reads (docs/security.md):
 *   sub      who holds the token: a channel belongs to the sub that made it
 *   exp      required; nbf optional; both checked with a leeway
 *   markets  patterns of the markets the holder may subscribe (`m-*`)
 *   admin    true: may act on channels that are not the holder's
 *   chan     a stream token: the one channel it opens
 *   aud      checked when the verifier is given an audience
 * Verification is strict: three base64url parts, a header whose `alg` is
 * that of a key held (never `none`; an HS256 token is never checked
 * against a public key), no `crit`, a signature compared in constant time,
 * claims of the right types and sizes. A refusal says why in a stable word
 * and a sentence (never the token or a key).
 * References: RFC 7519 (JWT), RFC 7515 (JWS, base64url), RFC 7518 section
 * 3 (HS256, RS256, ES256: the raw r||s form of ECDSA signatures).
 * Non-goals: JWE (encrypted tokens), JWKS fetching, other algorithms.
 */
#ifndef SL_AUTH_JWT_H
#define SL_AUTH_JWT_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_JWT_MAX_TOKEN 8192   /* longer tokens are refused unread */
#define SL_JWT_SUB_MAX 128
#define SL_JWT_MAX_MARKETS 256  /* patterns in one token */
#define SL_JWT_PATTERN_MAX 64
#define SL_JWT_MIN_SECRET 32    /* bytes of an HS256 secret (RFC 7518 3.2: at least the hash size) */

typedef enum { SL_JWT_HS256 = 1, SL_JWT_RS256, SL_JWT_ES256 } sl_jwt_alg_t;

typedef enum {
	SL_JWT_OK = 0,
	SL_JWT_MALFORMED,     /* not three base64url parts of JSON */
	SL_JWT_BAD_ALG,       /* an algorithm no key here verifies */
	SL_JWT_BAD_SIGNATURE, /* no key here signed it */
	SL_JWT_EXPIRED,       /* exp is past */
	SL_JWT_NOT_YET_VALID, /* nbf is ahead */
	SL_JWT_BAD_CLAIMS,    /* sub, exp, markets, admin, chan or aud missing or of the wrong type */
	SL_JWT_BAD_AUDIENCE,  /* aud does not name this service */
} sl_jwt_status_t;

typedef struct sl_jwt_claims {
	char sub[SL_JWT_SUB_MAX + 1];
	int64_t exp, nbf;        /* seconds since the epoch; nbf 0: none */
	bool admin;
	char **markets;          /* patterns, owned */
	size_t nmarkets;
	char chan[65];           /* "" unless a stream token */
	char aud[65];            /* signing only: "" for none */
} sl_jwt_claims_t;

void sl_jwt_claims_free(sl_jwt_claims_t *c);
/* Add a market pattern (signing; copied). */
void sl_jwt_claims_add_market(sl_jwt_claims_t *c, const char *pattern);
/* True when market m (n bytes) matches one of the token's patterns. */
bool sl_jwt_market_allowed(const sl_jwt_claims_t *c, const char *m, size_t n);
/* True when pat is a valid market pattern: 1..64 bytes of A-Z a-z 0-9 . _ : - and `*`. */
bool sl_jwt_pattern_valid(const char *pat);

/* ---- verifying ---- */
typedef struct sl_jwt_keys sl_jwt_keys_t;

sl_jwt_keys_t *sl_jwt_keys_new(void);
void sl_jwt_keys_free(sl_jwt_keys_t *k);
/* An HS256 secret (at least SL_JWT_MIN_SECRET bytes; copied). */
int sl_jwt_keys_add_secret(sl_jwt_keys_t *k, const void *secret, size_t len, sl_err_t *err);
/* A PEM public key (or certificate) file: RSA of 2048 bits or more
 * (RS256) or EC P-256 (ES256). A private key file works too (its public
 * half is used). */
int sl_jwt_keys_add_pem_file(sl_jwt_keys_t *k, const char *path, sl_err_t *err);
size_t sl_jwt_keys_count(const sl_jwt_keys_t *k);
/* Only tokens whose aud names this (a string or an array holding it) pass. */
void sl_jwt_keys_set_audience(sl_jwt_keys_t *k, const char *aud);

/* Verify token (len bytes) at now_s, allowing leeway_s of clock skew on
 * exp and nbf. SL_JWT_OK with *out filled (free with sl_jwt_claims_free),
 * else a status with why (a sentence; may be NULL) filled and *out empty. */
sl_jwt_status_t sl_jwt_verify(const sl_jwt_keys_t *k, const char *token, size_t len, int64_t now_s,
			      int64_t leeway_s, sl_jwt_claims_t *out, char *why, size_t whylen);
/* A stable word for a status: "token_expired", "bad_signature", ... */
const char *sl_jwt_status_code(sl_jwt_status_t st);

/* ---- signing ---- */
typedef struct sl_jwt_signer sl_jwt_signer_t;

/* HS256 with a secret (at least SL_JWT_MIN_SECRET bytes; copied). */
sl_jwt_signer_t *sl_jwt_signer_secret(const void *secret, size_t len, sl_err_t *err);
/* RS256 or ES256 with a PEM private key file (the key's type decides). */
sl_jwt_signer_t *sl_jwt_signer_pem_file(const char *path, sl_err_t *err);
sl_jwt_alg_t sl_jwt_signer_alg(const sl_jwt_signer_t *s);
void sl_jwt_signer_free(sl_jwt_signer_t *s);
/* Append the signed token of c (sub, exp, nbf when set, admin when true,
 * markets when any, chan when set, aud when set, iat = now) to out. */
int sl_jwt_sign(const sl_jwt_signer_t *s, const sl_jwt_claims_t *c, int64_t now_s, sl_buf_t *out, sl_err_t *err);

#endif
