/* api_auth.c: who is asking, and may they: the control API's
 * authentication and authorization (docs/security.md).
 *
 * How it fits: api.c calls sl_api__authenticate on every /v1 request
 * before anything else, and sl_api__markets_allowed once the request's
 * markets are known; api_flow.c runs the ownership step before a route
 * that names a channel. Below them: auth/jwt.h for tokens, auth/match.h
 * for the API key's comparison.
 * Who may do what:
 *   - a bearer token (JWT) names its holder (sub), the markets it may
 *     subscribe or read (markets patterns) and whether it is an admin;
 *     a channel belongs to the sub that made it: only it or an admin may
 *     read, change, begin or delete it (403 names the channel);
 *   - the API key (X-API-Key, compared in constant time) is for services:
 *     an admin of every market;
 *   - with neither configured (loopback, or --insecure) every request is an
 *     anonymous admin, as before.
 * Refusals: 401 with WWW-Authenticate (RFC 6750: error="invalid_token"
 * and why), 403 naming the market or channel refused. Refusals are logged
 * at debug level, never with the token.
 * Non-goals: sessions, scopes beyond these claims, token revocation (keep
 * tokens short; rotate the secret to revoke all).
 */
#include "roles/api/api_int.h"

#include "auth/match.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void unauthorized(sl_http_req_t *req, const char *error, const char *code, const char *msg)
{
	char h[400];
	if (error)
		snprintf(h, sizeof(h), "WWW-Authenticate: Bearer realm=\"sluice\", error=\"%s\", error_description=\"%s\"",
			 error, msg);
	else
		snprintf(h, sizeof(h), "WWW-Authenticate: Bearer realm=\"sluice\"");
	sl_http_req_add_header(req, h);
	sl_http_respond_error(req, 401, code, "%s", msg);
}

int sl_api__authenticate(sl_api_t *a, sl_http_req_t *req, sl_api_who_t *who)
{
	memset(who, 0, sizeof(*who));
	if (!a->jwt && !a->api_key) {
		who->admin = true;
		who->any_market = true;
		return 0;
	}
	const char *auth = sl_http_req_header(req, "Authorization");
	if (auth && !strncasecmp(auth, "Bearer ", 7) && a->jwt) {
		const char *tok = auth + 7;
		while (*tok == ' ')
			tok++;
		char why[200];
		sl_jwt_status_t st = sl_jwt_verify(a->jwt, tok, strlen(tok), sl_clock_wall_ms() / 1000, a->leeway_s,
						   &who->claims, why, sizeof(why));
		if (st != SL_JWT_OK) {
			sl_log_debug("auth_refused", SL_KV(reason, sl_jwt_status_code(st)));
			unauthorized(req, "invalid_token", sl_jwt_status_code(st), why);
			return -1;
		}
		if (who->claims.chan[0]) {
			/* A stream token opens one stream; it is no API credential. */
			sl_jwt_claims_free(&who->claims);
			unauthorized(req, "invalid_token", "stream_token", "a stream token is not accepted by the API");
			return -1;
		}
		who->authenticated = true;
		who->admin = who->claims.admin;
		snprintf(who->sub, sizeof(who->sub), "%s", who->claims.sub);
		return 0;
	}
	const char *key = sl_http_req_header(req, "X-API-Key");
	if (key && a->api_key) {
		if (!sl_auth_secret_eq(key, strlen(key), a->api_key, strlen(a->api_key))) {
			sl_log_debug("auth_refused", SL_KV(reason, "bad_api_key"));
			unauthorized(req, NULL, "unauthorized", "the X-API-Key is not valid");
			return -1;
		}
		who->authenticated = true;
		who->admin = true;
		who->any_market = true;
		snprintf(who->sub, sizeof(who->sub), "api-key");
		return 0;
	}
	unauthorized(req, NULL, "unauthorized",
		     a->jwt ? "an Authorization: Bearer <token> header is required" : "a valid X-API-Key header is required");
	return -1;
}

bool sl_api__market_allowed(const sl_api_who_t *who, const char *m)
{
	return who->any_market || sl_jwt_market_allowed(&who->claims, m, strlen(m));
}

void sl_api__who_free(sl_api_who_t *who)
{
	sl_jwt_claims_free(&who->claims);
}
