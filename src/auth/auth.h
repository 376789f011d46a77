/* auth.h: the settings of authentication that several roles share, and
 * the rule that an exposed role must have some.
 *
 * How it fits: the top of src/auth/ (it calls jwt.h and match.h). The api
 * verifies bearer tokens and the publisher stream tokens with the keys
 * named by sl_auth_keys_jwt; the api and `sluice token` sign with
 * sl_auth_keys_sign. Every role that serves requests calls
 * sl_auth_check_exposure before it listens: a role asked to listen beyond
 * loopback with no authentication configured refuses to start, unless
 * --insecure (as Redis's protected mode).
 * Secrets: a secret file holds one secret a line; tokens signed with any
 * are accepted and the first signs, so a rotation is: add the new secret
 * first, restart, stop issuing with the old, remove it (docs/security.md).
 * Non-goals: fetching keys over the network (JWKS), reloading them while
 * running (restart the role; certificates reload on SIGHUP, see proto/tls.h).
 */
#ifndef SL_AUTH_AUTH_H
#define SL_AUTH_AUTH_H

#include "auth/jwt.h"
#include "core/config.h"
#include "core/err.h"

#include <stdbool.h>

/* jwt-secret, jwt-secret-file, jwt-public-key, jwt-audience, jwt-leeway-s */
extern const sl_cfg_key_t sl_auth_keys_jwt[];
/* jwt-private-key (RS256/ES256 signing; HS256 signs with the first secret) */
extern const sl_cfg_key_t sl_auth_keys_sign[];
/* insecure */
extern const sl_cfg_key_t sl_auth_keys_insecure[];

/* The verification keys the settings name: 0 with *out NULL when none is
 * configured, 0 with *out set, or SL_EINVAL with err (a bad or short
 * secret, an unreadable key file). */
int sl_auth_jwt_keys_from_cfg(const sl_cfg_t *cfg, sl_jwt_keys_t **out, sl_err_t *err);
/* A signer from the settings: jwt-private-key when set, else the first
 * secret. 0 with *out NULL when there is nothing to sign with. */
int sl_auth_signer_from_cfg(const sl_cfg_t *cfg, sl_jwt_signer_t **out, sl_err_t *err);
/* The leeway for exp and nbf, seconds. */
int64_t sl_auth_leeway_s(const sl_cfg_t *cfg);

/* 0 when the role may listen on host: a loopback address, or
 * authenticated (what `how` names is configured), or --insecure.
 * Otherwise SL_EINVAL with err saying why and what to do. */
int sl_auth_check_exposure(const sl_cfg_t *cfg, const char *role, const char *host, bool authenticated,
			   const char *how, sl_err_t *err);

#endif
