/* publisher_auth.c: who may open a stream: stream tokens and the
 * browser's Origin, checked once per stream request, before the upgrade.
 *
 * How it fits: publisher.c loads the settings once (sl_pub__auth_init,
 * before the loop threads start; the verifier is read-only after, so every
 * loop shares it), and publisher_loop.c asks sl_pub__auth_check for each
 * WebSocket or SSE request, after the handshake and channel id checks and
 * before the channel lookup in Redis: a refused request costs no Redis
 * round trip and never reaches the fan-out path.
 * The rules (docs/security.md, "Streams"):
 *   - Origin: when allowed origins are configured (--cors-origin, the
 *     dashboard's setting; `make up` lists the dashboard's own origin), a
 *     request that carries an Origin header must name one of them exactly
 *     (or the list holds `*`); otherwise 403 origin_forbidden. There is no
 *     same-origin exception (the Host header would let a DNS-rebound page
 *     pass). A request without Origin (not a browser) passes: the header
 *     only stops other sites' pages from using a visitor's browser. With
 *     no origins configured nothing is checked, as before.
 *   - Stream token: with --require-stream-token, the request must carry a
 *     JWT (`?token=<jwt>`, since browsers cannot set headers on a WebSocket,
 *     or `Authorization: Bearer <jwt>`) verified with the API's settings
 *     (--jwt-secret-file, --jwt-public-key, --jwt-audience), unexpired,
 *     whose `chan` claim is the channel of the path. No or a bad token: 401
 *     with WWW-Authenticate and the stable code of auth/jwt.h; a valid
 *     token of another channel, or an API token without `chan`: 403
 *     channel_forbidden. Without the flag tokens are not read.
 * The token is never logged; refusals are counted
 * (sluice_publisher_streams_refused_total{reason="token|channel|origin"})
 * and logged at debug level.
 * References: RFC 6455 section 10.2 (Origin), RFC 6454 (origins), RFC 6750
 * (Bearer, WWW-Authenticate), RFC 7519.
 * Non-goals: checking a token again while the stream is open (a stream
 * outlives its token; closing the channel ends it), token revocation.
 */
#include "roles/publisher/publisher_int.h"

#include "auth/auth.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool sl_pub_origin_allowed(const char *origin, const char *const *allowed, size_t n)
{
	if (n == 0 || !origin)
		return true;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(allowed[i], "*") || !strcmp(allowed[i], origin))
			return true;
	return false;
}

sl_pub_refusal_t sl_pub_stream_token_check(const sl_jwt_keys_t *keys, const char *token, size_t len, const char *chan,
					   int64_t now_s, int64_t leeway_s, char *why, size_t whylen)
{
	sl_pub_refusal_t rf = {0, NULL};
	if (!token || !len) {
		snprintf(why, whylen, "this publisher requires a stream token: ?token=<jwt> or Authorization: Bearer <jwt>");
		return (sl_pub_refusal_t){401, "unauthorized"};
	}
	sl_jwt_claims_t c = {0};
	sl_jwt_status_t st = sl_jwt_verify(keys, token, len, now_s, leeway_s, &c, why, whylen);
	if (st != SL_JWT_OK)
		return (sl_pub_refusal_t){401, sl_jwt_status_code(st)};
	if (!c.chan[0]) {
		snprintf(why, whylen, "the token is not a stream token (it has no chan claim)");
		rf = (sl_pub_refusal_t){403, "channel_forbidden"};
	} else if (strcmp(c.chan, chan) != 0) {
		snprintf(why, whylen, "the token opens another channel than this one");
		rf = (sl_pub_refusal_t){403, "channel_forbidden"};
	}
	sl_jwt_claims_free(&c);
	return rf;
}

int sl_pub__auth_init(sl_pub_t *p, const sl_cfg_t *cfg, sl_err_t *err)
{
	p->require_token = sl_cfg_bool(cfg, "require-stream-token");
	p->leeway_s = sl_auth_leeway_s(cfg);
	if (!p->require_token)
		return 0;
	if (sl_auth_jwt_keys_from_cfg(cfg, &p->jwt, err) < 0)
		return SL_EINVAL;
	if (!p->jwt)
		return sl_err_set(err, SL_EINVAL, false,
				  "require-stream-token needs the keys that verify them: --jwt-secret-file, --jwt-secret or "
				  "--jwt-public-key (the API's)");
	return 0;
}

void sl_pub__auth_free(sl_pub_t *p)
{
	sl_jwt_keys_free(p->jwt);
	p->jwt = NULL;
}

static void refuse(sl_pub_loop_t *lp, sl_http_req_t *req, sl_pub_refusal_t rf, const char *why)
{
	sl_metric_t *m = rf.status == 401 ? lp->m.refused[0] : !strcmp(rf.code, "origin_forbidden") ? lp->m.refused[2]
													: lp->m.refused[1];
	sl_metric_add(m, 1);
	sl_metric_add(lp->m.rejected, 1);
	sl_log_debug("stream_refused", SL_KV(status, rf.status), SL_KV(reason, rf.code));
	if (rf.status == 401) {
		char h[400];
		if (strcmp(rf.code, "unauthorized") != 0)
			snprintf(h, sizeof(h),
				 "WWW-Authenticate: Bearer realm=\"sluice\", error=\"invalid_token\", error_description=\"%s\"",
				 why);
		else
			snprintf(h, sizeof(h), "WWW-Authenticate: Bearer realm=\"sluice\"");
		sl_http_req_add_header(req, h);
	}
	sl_http_respond_error(req, rf.status, rf.code, "%s", why);
}

bool sl_pub__auth_check(sl_pub_loop_t *lp, sl_http_req_t *req, const char *chan)
{
	const sl_pub_t *p = lp->pub;
	if (!sl_pub_origin_allowed(sl_http_req_header(req, "origin"), p->cors, p->ncors)) {
		refuse(lp, req, (sl_pub_refusal_t){403, "origin_forbidden"},
		       "this origin may not open streams here (allowed origins: --cors-origin)");
		return false;
	}
	if (!p->require_token)
		return true;
	/* Big enough for any token jwt.h accepts; a longer one is refused unread. */
	char tok[SL_JWT_MAX_TOKEN + 2];
	const char *t = NULL;
	size_t len = 0;
	int q = sl_http_req_query_param(req, "token", tok, sizeof(tok));
	if (q == 1) {
		t = tok;
		len = strlen(tok);
	} else if (q == SL_ETOOBIG) {
		t = tok;
		len = SL_JWT_MAX_TOKEN + 1;
		tok[0] = '\0';
	} else {
		const char *auth = sl_http_req_header(req, "authorization");
		if (auth && !strncasecmp(auth, "Bearer ", 7)) {
			t = auth + 7;
			while (*t == ' ')
				t++;
			len = strlen(t);
		}
	}
	char why[200];
	sl_pub_refusal_t rf;
	if (t && len > SL_JWT_MAX_TOKEN) {
		snprintf(why, sizeof(why), "the token is longer than %d bytes", SL_JWT_MAX_TOKEN);
		rf = (sl_pub_refusal_t){401, "malformed_token"};
	} else {
		rf = sl_pub_stream_token_check(p->jwt, t, len, chan, sl_clock_wall_ms() / 1000, p->leeway_s, why,
					       sizeof(why));
	}
	if (t == tok)
		memset(tok, 0, len < sizeof(tok) ? len : sizeof(tok));
	if (!rf.status)
		return true;
	refuse(lp, req, rf, why);
	return false;
}
