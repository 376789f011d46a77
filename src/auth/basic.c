/* basic.c: the credentials file and the Basic header (see basic.h).
 *
 * Users are a small array searched linearly: a proxy has tens of users,
 * not millions. The remembered crypt(3) verification is HMAC-SHA-256 of
 * the password under a key drawn once per process (RAND_bytes), so
 * nothing in memory lets anyone recover or replay a password.
 * References: RFC 7617, RFC 4648 (base64), crypt(5).
 */
#include "auth/basic.h"

#include "auth/file.h"
#include "auth/match.h"
#include "core/alloc.h"
#include "core/base64.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { PW_PLAIN, PW_MD5, PW_CRYPT } pwkind_t;

typedef struct user {
	char *name;
	pwkind_t kind;
	char *pw;              /* plain text, MD5 hex (lower case), or the crypt(3) string */
	char **roles;
	size_t nroles;
	unsigned char seen[32];/* HMAC of the last password crypt(3) accepted */
	bool has_seen;
} user_t;

struct sl_basic {
	user_t *u;
	size_t n;
	unsigned char key[32]; /* for the remembered verifications */
};

static void user_free(user_t *u)
{
	free(u->name);
	if (u->pw) {
		OPENSSL_cleanse(u->pw, strlen(u->pw));
		free(u->pw);
	}
	for (size_t i = 0; i < u->nroles; i++)
		free(u->roles[i]);
	free(u->roles);
}

void sl_basic_free(sl_basic_t *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		user_free(&b->u[i]);
	free(b->u);
	OPENSSL_cleanse(b->key, sizeof(b->key));
	free(b);
}

size_t sl_basic_count(const sl_basic_t *b)
{
	return b ? b->n : 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static bool hex32(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (int i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static int parse_line(sl_basic_t *b, char *line, const char *name, int lineno, sl_err_t *err)
{
	char *s = trim(line);
	if (!*s || *s == '#' || *s == '!')
		return 0;
	char *colon = strchr(s, ':');
	if (!colon)
		return sl_err_set(err, SL_EINVAL, false, "%s line %d: expected `user: password[,role...]`", name, lineno);
	*colon = '\0';
	char *user = trim(s), *rest = trim(colon + 1);
	if (!*user || strlen(user) > SL_BASIC_USER_MAX)
		return sl_err_set(err, SL_EINVAL, false, "%s line %d: a user name is 1 to %d bytes", name, lineno,
				  SL_BASIC_USER_MAX);
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->u[i].name, user))
			return sl_err_set(err, SL_EINVAL, false, "%s line %d: user %s appears twice", name, lineno, user);
	user_t u = {0};
	char *save = NULL, *roles = strchr(rest, ',');
	if (roles)
		*roles++ = '\0';
	char *pw = trim(rest);
	if (!*pw)
		return sl_err_set(err, SL_EINVAL, false, "%s line %d: user %s has no password", name, lineno, user);
	if (!strncmp(pw, "OBF:", 4))
		return sl_err_set(err, SL_EINVAL, false,
				  "%s line %d: OBF: passwords are only obfuscated; use MD5: or CRYPT: (or plain text)", name,
				  lineno);
	if (!strncmp(pw, "MD5:", 4)) {
		if (!hex32(pw + 4))
			return sl_err_set(err, SL_EINVAL, false, "%s line %d: MD5: needs 32 hex digits", name, lineno);
		u.kind = PW_MD5;
		u.pw = sl_xstrdup(pw + 4);
		for (char *p = u.pw; *p; p++)
			*p = (char)((*p >= 'A' && *p <= 'F') ? *p - 'A' + 'a' : *p);
	} else if (!strncmp(pw, "CRYPT:", 6)) {
		if (pw[6] == '\0')
			return sl_err_set(err, SL_EINVAL, false, "%s line %d: CRYPT: needs a hash", name, lineno);
		u.kind = PW_CRYPT;
		u.pw = sl_xstrdup(pw + 6);
	} else {
		u.kind = PW_PLAIN;
		u.pw = sl_xstrdup(pw);
	}
	for (char *r = roles ? strtok_r(roles, ",", &save) : NULL; r; r = strtok_r(NULL, ",", &save)) {
		r = trim(r);
		if (!*r)
			continue;
		u.roles = sl_xrealloc(u.roles, (u.nroles + 1) * sizeof(char *));
		u.roles[u.nroles++] = sl_xstrdup(r);
	}
	u.name = sl_xstrdup(user);
	b->u = sl_xrealloc(b->u, (b->n + 1) * sizeof(user_t));
	b->u[b->n++] = u;
	return 0;
}

sl_basic_t *sl_basic_parse(const char *text, size_t len, const char *name, sl_err_t *err)
{
	sl_basic_t *b = sl_xcalloc(1, sizeof(*b));
	if (RAND_bytes(b->key, sizeof(b->key)) != 1)
		sl_xoom(0);
	char *copy = sl_xstrndup(text, len);
	int lineno = 0, rc = 0;
	for (char *line = copy, *next; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		rc = parse_line(b, line, name, lineno, err);
	}
	OPENSSL_cleanse(copy, len);
	free(copy);
	if (rc == 0 && b->n == 0)
		rc = sl_err_set(err, SL_EINVAL, false, "%s names no user", name);
	if (rc < 0) {
		sl_basic_free(b);
		return NULL;
	}
	return b;
}

sl_basic_t *sl_basic_load(const char *path, sl_err_t *err)
{
	size_t len = 0;
	char *data = sl_auth_file_read(path, "credentials file", &len, err);
	if (!data)
		return NULL;
	sl_basic_t *b = sl_basic_parse(data, len, path, err);
	OPENSSL_cleanse(data, len);
	free(data);
	return b;
}

int sl_basic_parse_header(const char *value, char *user, size_t ulen, char *pass, size_t plen)
{
	if (!value || strncasecmp(value, "Basic ", 6) != 0)
		return 0;
	const char *s = value + 6;
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	if (n == 0 || n % 4 || n > 4 * ((SL_BASIC_USER_MAX + SL_BASIC_PASS_MAX + 3) / 3))
		return -1;
	unsigned char out[SL_BASIC_USER_MAX + SL_BASIC_PASS_MAX + 8];
	/* Padding required; the bits after the last byte are not checked. */
	long dl = sl_base64_decode(s, n, SL_BASE64_ANY_BITS, out, NULL);
	if (dl < 0) {
		OPENSSL_cleanse(out, sizeof(out));
		return -1;
	}
	size_t o = (size_t)dl;
	unsigned char *colon = memchr(out, ':', o);
	if (!colon)
		return -1;
	size_t ul = (size_t)(colon - out), pl = o - ul - 1;
	for (size_t i = 0; i < o; i++)
		if (out[i] < 0x20 || out[i] == 0x7f) {
			OPENSSL_cleanse(out, sizeof(out));
			return -1;
		}
	if (ul == 0 || ul >= ulen || pl >= plen) {
		OPENSSL_cleanse(out, sizeof(out));
		return -1;
	}
	memcpy(user, out, ul);
	user[ul] = '\0';
	memcpy(pass, colon + 1, pl);
	pass[pl] = '\0';
	OPENSSL_cleanse(out, sizeof(out));
	return 1;
}

static user_t *find(const sl_basic_t *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->u[i].name, name))
			return &b->u[i];
	return NULL;
}

static void keyed(const sl_basic_t *b, const char *pass, unsigned char out[32])
{
	unsigned len = 32;
	HMAC(EVP_sha256(), b->key, sizeof(b->key), (const unsigned char *)pass, strlen(pass), out, &len);
}

bool sl_basic_check(sl_basic_t *b, const char *user, const char *pass)
{
	user_t *u = find(b, user);
	if (!u) {
		/* The same work as a wrong plain password. */
		sl_auth_secret_eq(pass, strlen(pass), "\x01unknown user\x01", 14);
		return false;
	}
	switch (u->kind) {
	case PW_PLAIN:
		return sl_auth_secret_eq(pass, strlen(pass), u->pw, strlen(u->pw));
	case PW_MD5: {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		char hex[33];
		EVP_Digest(pass, strlen(pass), md, &mdlen, EVP_md5(), NULL);
		for (unsigned i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		return sl_auth_secret_eq(hex, 32, u->pw, 32);
	}
	case PW_CRYPT: {
		unsigned char k[32];
		keyed(b, pass, k);
		if (u->has_seen && CRYPTO_memcmp(k, u->seen, 32) == 0)
			return true;
		struct crypt_data cd;
		memset(&cd, 0, sizeof(cd));
		const char *h = crypt_r(pass, u->pw, &cd);
		bool ok = h && h[0] != '*' && sl_auth_secret_eq(h, strlen(h), u->pw, strlen(u->pw));
		OPENSSL_cleanse(&cd, sizeof(cd));
		if (ok) {
			memcpy(u->seen, k, 32);
			u->has_seen = true;
		}
		return ok;
	}
	}
	return false;
}

bool sl_basic_has_role(const sl_basic_t *b, const char *user, const char *role)
{
	const user_t *u = find(b, user);
	for (size_t i = 0; u && i < u->nroles; i++)
		if (!strcmp(u->roles[i], role))
			return true;
	return false;
}
