/* token.c: `sluice token`: sign a JWT for the control API and the
 * publisher (auth/jwt.h), and print it on stdout.
 *
 *   sluice token --jwt-secret-file secrets --sub alice --markets 'm-*' --ttl-s 3600
 *   sluice token --jwt-private-key es256.pem --sub ops --admin --markets '*'
 *   sluice token --jwt-secret-file secrets --verify "$TOKEN"
 *
 * How it fits: the tool operators use to issue tokens (docs/security.md);
 * the same signer the API uses for stream tokens. --verify checks a token
 * with the verification settings (jwt-secret, jwt-secret-file,
 * jwt-public-key) and prints its claims as JSON, or why it is refused
 * (exit 1). Exit 2 on bad settings.
 * Non-goals: a token service; keys never leave the files they are in.
 */
#include "auth/auth.h"
#include "auth/jwt.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "roles/roles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_cfg_key_t token_keys[] = {
	{"sub", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "who holds the token (sub claim; a channel belongs to its creator's sub)"},
	{"markets", NULL, NULL, SL_CFG_LIST, NULL, 0, 0,
	 "market patterns the holder may subscribe, such as m-* (repeat, or comma-separated)"},
	{"admin", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "may act on channels of any sub"},
	{"channel", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "a stream token for this channel id only (chan claim)"},
	{"aud", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "audience claim (when the verifiers set jwt-audience)"},
	{"ttl-s", NULL, NULL, SL_CFG_INT, "3600", 1, 315360000, "seconds until the token expires"},
	{"not-before-s", NULL, NULL, SL_CFG_INT, "0", 0, 315360000, "seconds from now before the token is valid"},
	{"verify", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "verify this token instead of signing one; print its claims"},
	{0},
};

static const sl_cfg_key_t *const token_tables[] = {sl_cfg_keys_log, sl_auth_keys_jwt, sl_auth_keys_sign, token_keys,
						   NULL};

static int verify(sl_cfg_t *cfg, const char *tok)
{
	sl_err_t err = {0};
	sl_jwt_keys_t *k;
	if (sl_auth_jwt_keys_from_cfg(cfg, &k, &err) < 0) {
		fprintf(stderr, "sluice token: %s\n", err.msg);
		return 2;
	}
	if (!k) {
		fprintf(stderr, "sluice token: no key to verify with (--jwt-secret, --jwt-secret-file or --jwt-public-key)\n");
		return 2;
	}
	sl_jwt_claims_t c;
	char why[200];
	sl_jwt_status_t st = sl_jwt_verify(k, tok, strlen(tok), sl_clock_wall_ms() / 1000, sl_auth_leeway_s(cfg), &c,
					   why, sizeof(why));
	sl_jwt_keys_free(k);
	if (st != SL_JWT_OK) {
		fprintf(stderr, "sluice token: refused (%s): %s\n", sl_jwt_status_code(st), why);
		return 1;
	}
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_puts(&b, "{\"sub\":");
	sl_buf_json_str(&b, c.sub, strlen(c.sub));
	sl_buf_printf(&b, ",\"exp\":%lld,\"admin\":%s,\"markets\":[", (long long)c.exp, c.admin ? "true" : "false");
	for (size_t i = 0; i < c.nmarkets; i++) {
		if (i)
			sl_buf_putc(&b, ',');
		sl_buf_json_str(&b, c.markets[i], strlen(c.markets[i]));
	}
	sl_buf_puts(&b, "]");
	if (c.chan[0])
		sl_buf_printf(&b, ",\"chan\":\"%s\"", c.chan);
	sl_buf_puts(&b, "}\n");
	fputs(b.data, stdout);
	sl_buf_free(&b);
	sl_jwt_claims_free(&c);
	return 0;
}

static int token_run(sl_cfg_t *cfg)
{
	const char *tok = sl_cfg_str(cfg, "verify");
	if (tok)
		return verify(cfg, tok);
	sl_err_t err = {0};
	sl_jwt_signer_t *s;
	if (sl_auth_signer_from_cfg(cfg, &s, &err) < 0 || !s) {
		fprintf(stderr, "sluice token: %s\n",
			err.msg[0] ? err.msg : "nothing to sign with: give --jwt-secret-file, --jwt-secret or --jwt-private-key");
		return 2;
	}
	const char *sub = sl_cfg_str(cfg, "sub");
	int rc = 0;
	sl_jwt_claims_t c = {0};
	if (!sub || !*sub || strlen(sub) > SL_JWT_SUB_MAX) {
		fprintf(stderr, "sluice token: --sub is required (1 to %d bytes)\n", SL_JWT_SUB_MAX);
		rc = 2;
		goto out;
	}
	snprintf(c.sub, sizeof(c.sub), "%s", sub);
	int64_t now = sl_clock_wall_ms() / 1000;
	c.exp = now + sl_cfg_int(cfg, "ttl-s");
	if (sl_cfg_int(cfg, "not-before-s"))
		c.nbf = now + sl_cfg_int(cfg, "not-before-s");
	c.admin = sl_cfg_bool(cfg, "admin");
	const char *const *ms;
	size_t nm = sl_cfg_list(cfg, "markets", &ms);
	for (size_t i = 0; i < nm; i++) {
		if (!sl_jwt_pattern_valid(ms[i])) {
			fprintf(stderr, "sluice token: bad value for --markets: '%s': 1 to 64 characters of A-Z a-z 0-9 . _ : - *\n",
				ms[i]);
			rc = 2;
			goto out;
		}
		sl_jwt_claims_add_market(&c, ms[i]);
	}
	const char *chan = sl_cfg_str(cfg, "channel");
	if (chan && (strlen(chan) == 0 || strlen(chan) >= sizeof(c.chan) || strspn(chan, "0123456789abcdefABCDEF-_"
							"ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ") != strlen(chan))) {
		fprintf(stderr, "sluice token: bad value for --channel: '%s': not a channel id\n", chan);
		rc = 2;
		goto out;
	}
	if (chan)
		snprintf(c.chan, sizeof(c.chan), "%s", chan);
	const char *aud = sl_cfg_str(cfg, "aud");
	if (aud)
		snprintf(c.aud, sizeof(c.aud), "%s", aud);
	sl_buf_t out = SL_BUF_INIT;
	if (sl_jwt_sign(s, &c, now, &out, &err) < 0) {
		fprintf(stderr, "sluice token: %s\n", err.msg);
		rc = 1;
	} else {
		printf("%s\n", out.data);
	}
	sl_buf_free(&out);
out:
	sl_jwt_claims_free(&c);
	sl_jwt_signer_free(s);
	return rc;
}

const sl_role_t sl_role_token = {
	.name = "token",
	.summary = "sign (or --verify) a JWT for the control API and streams",
	.usage = "sluice token --sub SUB [--markets PATTERN]... [--admin] [--ttl-s N] (--jwt-secret-file F | --jwt-private-key F)",
	.tables = token_tables,
	.run = token_run,
};
