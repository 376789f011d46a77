/* resp.c: the RESP2 reply parser (see resp.h).
 *
 * A reply is a type byte, a line up to CRLF, and for a bulk string its
 * bytes and another CRLF. Lines are searched with memchr within a bound
 * (32 bytes for a length, 64 KiB for a simple string or error), so a peer
 * cannot make the parser scan without end; a missing CRLF within the bound
 * is an error, a missing one before the end of the input is "incomplete".
 */
#include "redis/resp.h"

#include <stdbool.h>
#include <string.h>

/* Length of the line at p (without CRLF) or -1 when no CRLF within limit. */
static long line_len(const char *p, size_t len, size_t limit)
{
	size_t n = len < limit ? len : limit;
	const char *nl = memchr(p, '\n', n);
	if (!nl)
		return len < limit ? -2 : -1; /* -2: need more */
	if (nl == p || nl[-1] != '\r')
		return -1;
	return (long)(nl - p - 1);
}

static bool parse_int(const char *s, long n, long long *v)
{
	long i = 0;
	bool neg = false;
	if (n > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == n || n - i > 18)
		return false; /* no RESP length or count we accept needs more */
	long long x = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = neg ? -x : x;
	return true;
}

/* One non-array item; returns bytes used, 0 incomplete, -1 error. */
static long parse_item(const char *p, size_t len, sl_resp_item_t *it)
{
	if (!len)
		return 0;
	long ll = line_len(p, len, p[0] == '+' || p[0] == '-' ? 65536 : 32);
	if (ll == -2)
		return 0;
	if (ll < 1)
		return -1;
	it->type = p[0];
	switch (p[0]) {
	case '+':
	case '-':
		it->str = p + 1;
		it->len = ll - 1;
		return ll + 2;
	case ':':
		it->str = NULL;
		return parse_int(p + 1, ll - 1, &it->len) ? ll + 2 : -1;
	case '$': {
		long long n;
		if (!parse_int(p + 1, ll - 1, &n) || n < -1 || n > (long long)SL_RESP_BULK_MAX)
			return -1;
		it->len = n;
		it->str = NULL;
		if (n < 0)
			return ll + 2;
		size_t need = (size_t)ll + 2 + (size_t)n + 2;
		if (len < need)
			return 0;
		if (p[ll + 2 + n] != '\r' || p[ll + 3 + n] != '\n')
			return -1;
		it->str = p + ll + 2;
		return (long)need;
	}
	default:
		return -1;
	}
}

long sl_resp_parse(const char *p, size_t len, sl_resp_t *out)
{
	memset(out, 0, sizeof(*out));
	if (!len)
		return 0;
	if (p[0] != '*') {
		out->type = p[0];
		return parse_item(p, len, &out->item);
	}
	long ll = line_len(p, len, 32);
	if (ll == -2)
		return 0;
	if (ll < 1 || !parse_int(p + 1, ll - 1, &out->n) || out->n < -1 || out->n > SL_RESP_ARRAY_MAX)
		return -1;
	out->type = '*';
	size_t pos = (size_t)ll + 2;
	for (long long i = 0; i < out->n; i++) {
		sl_resp_item_t it;
		if (pos < len && p[pos] == '*')
			return -1;
		long k = parse_item(p + pos, len - pos, &it);
		if (k <= 0)
			return k;
		if (i < SL_RESP_MAX)
			out->el[i] = it;
		pos += (size_t)k;
	}
	return (long)pos;
}
