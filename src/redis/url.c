/* url.c: the Redis URL parser (see url.h).
 *
 * Left to right: the scheme, then userinfo up to the last '@' (so a
 * password may hold ':'; the user is what comes before the first ':'),
 * then the host (bracketed for IPv6), an optional port, an optional
 * "/db", then (rediss:// only) "?name=value&..." of the TLS files. Every
 * number is checked for digits only and its range, and nothing else may
 * follow. Error messages quote the URL with its password replaced by
 * "****".
 */
#include "redis/url.h"

#include <stdio.h>
#include <string.h>

/* The URL as errors show it: the password (after the first ':' of the
 * userinfo, or all of it without one, up to the last '@') masked. */
static void masked(const char *url, char *out, size_t outlen)
{
	const char *rest = !strncmp(url, "redis://", 8) ? url + 8 : !strncmp(url, "rediss://", 9) ? url + 9 : url;
	const char *at = strrchr(rest, '@');
	if (!at) {
		snprintf(out, outlen, "%s", url);
		return;
	}
	const char *colon = memchr(rest, ':', (size_t)(at - rest));
	const char *pw = colon ? colon + 1 : rest;
	snprintf(out, outlen, "%.*s****%s", (int)(pw - url), url, at);
}

static int fail(sl_err_t *err, const char *url, const char *what)
{
	char m[200];
	masked(url, m, sizeof(m));
	return sl_err_set(err, SL_EINVAL, false, "--redis-url '%s': %s (expected redis[s]://[[user]:password@]host[:port][/db][?tls_ca=FILE])",
			  m, what);
}

/* The query of a rediss:// URL: tls_ca, tls_cert, tls_key. NULL, or what
 * is wrong. */
static const char *tls_params(const char *q, sl_redis_url_t *out)
{
	while (*q) {
		size_t n = strcspn(q, "&");
		const char *eq = memchr(q, '=', n);
		if (!eq)
			return "a query parameter without '='";
		size_t klen = (size_t)(eq - q), vlen = n - klen - 1;
		char *dst = klen == 6 && !memcmp(q, "tls_ca", 6)     ? out->tls_ca
			    : klen == 8 && !memcmp(q, "tls_cert", 8) ? out->tls_cert
			    : klen == 7 && !memcmp(q, "tls_key", 7)  ? out->tls_key
								     : NULL;
		if (!dst)
			return "unknown query parameter (tls_ca, tls_cert, tls_key)";
		if (vlen == 0 || vlen >= sizeof(out->tls_ca))
			return "empty or too long file name in the query";
		memcpy(dst, eq + 1, vlen);
		dst[vlen] = '\0';
		q += n + (q[n] == '&');
	}
	if (!out->tls_cert[0] != !out->tls_key[0])
		return "tls_cert and tls_key go together";
	return NULL;
}

/* Digits only, value in [lo, hi]. */
static bool number(const char *s, size_t n, long lo, long hi, int *out)
{
	if (n == 0 || n > 9)
		return false;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

int sl_redis_url_parse(const char *url, sl_redis_url_t *out, sl_err_t *err)
{
	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (!url)
		url = "";
	const char *p;
	if (strncmp(url, "redis://", 8) == 0) {
		p = url + 8;
	} else if (strncmp(url, "rediss://", 9) == 0) {
		p = url + 9;
		out->tls = true;
	} else {
		return fail(err, url, "must start with redis:// or rediss://");
	}
	const char *at = strrchr(p, '@');
	if (at) {
		/* user:password, :password, or (as sluice always read it) a
		 * bare password. */
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *pw = colon ? colon + 1 : p;
		size_t ulen = colon ? (size_t)(colon - p) : 0, plen = (size_t)(at - pw);
		if (ulen >= sizeof(out->user) || plen >= sizeof(out->password))
			return fail(err, url, "user or password too long");
		memcpy(out->user, p, ulen);
		memcpy(out->password, pw, plen);
		p = at + 1;
	}
	const char *host = p, *hend;
	if (*p == '[') {
		hend = strchr(p, ']');
		if (!hend)
			return fail(err, url, "no ']' after an IPv6 host");
		host = p + 1;
		p = hend + 1;
	} else {
		hend = p + strcspn(p, ":/?");
		p = hend;
	}
	size_t hlen = (size_t)(hend - host);
	if (hlen == 0)
		return fail(err, url, "no host");
	if (hlen >= sizeof(out->host))
		return fail(err, url, "host too long");
	memcpy(out->host, host, hlen);
	if (*p == ':') {
		size_t n = strcspn(p + 1, "/?");
		if (!number(p + 1, n, 1, 65535, &out->port))
			return fail(err, url, "bad port (1..65535)");
		p += 1 + n;
	}
	if (*p == '/') {
		size_t n = strcspn(p + 1, "?");
		if (n && !number(p + 1, n, 0, SL_REDIS_URL_DB_MAX, &out->db))
			return fail(err, url, "bad database number (0..1000000)");
		p += 1 + n;
	}
	if (*p == '?') {
		if (!out->tls)
			return fail(err, url, "query parameters need rediss://");
		const char *why = tls_params(p + 1, out);
		if (why)
			return fail(err, url, why);
		p += strlen(p);
	}
	if (*p)
		return fail(err, url, "unexpected text after the host");
	if (memchr(out->host, ':', hlen))
		snprintf(out->addr, sizeof(out->addr), "[%s]:%d", out->host, out->port);
	else
		snprintf(out->addr, sizeof(out->addr), "%s:%d", out->host, out->port);
	return 0;
}
