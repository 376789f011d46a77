/* auth.c: authentication settings and the exposure rule (see auth.h). */
#include "auth/auth.h"

#include "auth/file.h"
#include "auth/match.h"
#include "core/alloc.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

const sl_cfg_key_t sl_auth_keys_jwt[] = {
	{"jwt-secret", NULL, "SLUICE_JWT_SECRET", SL_CFG_STR, NULL, 0, 0,
	 "HS256 secret that signs bearer and stream tokens (32 bytes at least; prefer jwt-secret-file)"},
	{"jwt-secret-file", NULL, "SLUICE_JWT_SECRET_FILE", SL_CFG_STR, NULL, 0, 0,
	 "file of HS256 secrets, one a line: any verifies, the first signs (rotation)"},
	{"jwt-public-key", NULL, "SLUICE_JWT_PUBLIC_KEY", SL_CFG_LIST, NULL, 0, 0,
	 "PEM files of RS256 (RSA) or ES256 (P-256) public keys that verify tokens (repeat for rotation)"},
	{"jwt-audience", NULL, "SLUICE_JWT_AUDIENCE", SL_CFG_STR, NULL, 0, 0,
	 "when set, tokens must name it in their aud claim"},
	{"jwt-leeway-s", NULL, "SLUICE_JWT_LEEWAY_S", SL_CFG_INT, "30", 0, 3600,
	 "clock skew allowed on a token's exp and nbf, seconds"},
	{0},
};

const sl_cfg_key_t sl_auth_keys_sign[] = {
	{"jwt-private-key", NULL, "SLUICE_JWT_PRIVATE_KEY", SL_CFG_STR, NULL, 0, 0,
	 "PEM private key (RSA: RS256, P-256: ES256) that signs tokens; without it the first HS256 secret signs"},
	{0},
};

const sl_cfg_key_t sl_auth_keys_insecure[] = {
	{"insecure", NULL, "SLUICE_INSECURE", SL_CFG_BOOL, "false", 0, 0,
	 "listen beyond loopback even with no authentication configured (never in production)"},
	{0},
};

static void free_secrets(char **s, int n)
{
	for (int i = 0; i < n; i++) {
		OPENSSL_cleanse(s[i], strlen(s[i]));
		free(s[i]);
	}
	free(s);
}

/* The secrets of the settings, in order: jwt-secret, then the file's lines.
 * Returns the count; SL_EINVAL with err on an unreadable file. */
static int secrets(const sl_cfg_t *cfg, char ***out, sl_err_t *err)
{
	char **s = NULL;
	int n = 0;
	const char *one = sl_cfg_str(cfg, "jwt-secret");
	if (one && *one) {
		s = sl_xrealloc(s, sizeof(char *) * (size_t)(n + 1));
		s[n++] = sl_xstrdup(one);
	}
	const char *path = sl_cfg_str(cfg, "jwt-secret-file");
	if (path && *path) {
		size_t len = 0;
		char *data = sl_auth_file_read(path, "jwt-secret-file", &len, err);
		if (!data) {
			free_secrets(s, n);
			return SL_EINVAL;
		}
		/* One secret a line; blank lines and '#' comments skipped, CR
		 * and LF taken off the end, a last line without LF counts. */
		for (char *line = data; line < data + len;) {
			char *nl = memchr(line, '\n', (size_t)(data + len - line));
			char *next = nl ? nl + 1 : data + len;
			size_t l = strnlen(line, (size_t)(next - line));
			while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
				l--;
			if (l && line[0] != '#') {
				s = sl_xrealloc(s, sizeof(char *) * (size_t)(n + 1));
				s[n++] = sl_xstrndup(line, l);
			}
			line = next;
		}
		OPENSSL_cleanse(data, len);
		free(data);
	}
	*out = s;
	return n;
}

int sl_auth_jwt_keys_from_cfg(const sl_cfg_t *cfg, sl_jwt_keys_t **out, sl_err_t *err)
{
	*out = NULL;
	char **s;
	int n = secrets(cfg, &s, err);
	if (n < 0)
		return n;
	const char *const *pubs;
	size_t np = sl_cfg_list(cfg, "jwt-public-key", &pubs);
	if (n == 0 && np == 0) {
		free(s);
		return 0;
	}
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++)
		if (sl_jwt_keys_add_secret(k, s[i], strlen(s[i]), err) < 0)
			rc = sl_err_set(err, SL_EINVAL, false, "jwt secret %d: %s", i + 1, err ? err->msg : "bad");
	for (size_t i = 0; i < np && rc == 0; i++)
		rc = sl_jwt_keys_add_pem_file(k, pubs[i], err);
	free_secrets(s, n);
	if (rc < 0) {
		sl_jwt_keys_free(k);
		return SL_EINVAL;
	}
	sl_jwt_keys_set_audience(k, sl_cfg_str(cfg, "jwt-audience"));
	*out = k;
	return 0;
}

int sl_auth_signer_from_cfg(const sl_cfg_t *cfg, sl_jwt_signer_t **out, sl_err_t *err)
{
	*out = NULL;
	const char *pem = sl_cfg_str(cfg, "jwt-private-key");
	if (pem && *pem) {
		*out = sl_jwt_signer_pem_file(pem, err);
		return *out ? 0 : SL_EINVAL;
	}
	char **s;
	int n = secrets(cfg, &s, err);
	if (n < 0)
		return n;
	int rc = 0;
	if (n > 0) {
		*out = sl_jwt_signer_secret(s[0], strlen(s[0]), err);
		rc = *out ? 0 : SL_EINVAL;
	}
	free_secrets(s, n);
	return rc;
}

int64_t sl_auth_leeway_s(const sl_cfg_t *cfg)
{
	return sl_cfg_int(cfg, "jwt-leeway-s");
}

int sl_auth_check_exposure(const sl_cfg_t *cfg, const char *role, const char *host, bool authenticated,
			   const char *how, sl_err_t *err)
{
	if (authenticated || sl_auth_host_is_loopback(host) || sl_cfg_bool(cfg, "insecure"))
		return 0;
	return sl_err_set(err, SL_EINVAL, false,
			  "%s: refusing to listen on %s: it is reachable from other machines and no authentication is "
			  "configured (%s); configure it, listen on 127.0.0.1, or give --insecure to run exposed anyway",
			  role, host, how);
}
