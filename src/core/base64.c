/* base64.c: base64 and base64url, both ways (see base64.h).
 *
 * The decoder works on the characters as a bit stream (6 bits in, a byte
 * out whenever 8 are there), after taking off the trailing '=' padding,
 * so one loop serves padded and unpadded input; the checks that make it
 * strict come before (length, padding) and after (leftover bits) it.
 * References: RFC 4648.
 */
#include "core/base64.h"

#include <stdint.h>

static const char std_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void sl_base64_encode(sl_buf_t *out, const void *data, size_t len, unsigned flags)
{
	const char *chars = (flags & SL_BASE64_URL) ? url_chars : std_chars;
	bool pad = !(flags & SL_BASE64_NOPAD);
	const unsigned char *p = data;
	sl_buf_reserve(out, (len + 2) / 3 * 4);
	char *o = out->data + out->len;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = chars[v >> 18];
		*o++ = chars[(v >> 12) & 63];
		*o++ = chars[(v >> 6) & 63];
		*o++ = chars[v & 63];
	}
	if (i < len) {
		/* One or two bytes left: two or three characters, then padding. */
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = chars[v >> 18];
		*o++ = chars[(v >> 12) & 63];
		if (i + 1 < len)
			*o++ = chars[(v >> 6) & 63];
		else if (pad)
			*o++ = '=';
		if (pad)
			*o++ = '=';
	}
	out->len = (size_t)(o - out->data);
	*o = '\0';
}

static int value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

long sl_base64_decode(const char *in, size_t len, unsigned flags, unsigned char *out, sl_err_t *err)
{
	bool url = flags & SL_BASE64_URL;
	const char *name = url ? "base64url" : "base64";
	size_t n = len;
	if (!(flags & SL_BASE64_NOPAD)) {
		if (len % 4 == 0) {
			if (len >= 2 && in[len - 1] == '=')
				n = len - (in[len - 2] == '=' ? 2 : 1);
		} else if (!(flags & SL_BASE64_PAD_OPTIONAL)) {
			return sl_err_set(err, SL_EINVAL, false,
					  "%s: length %zu is not a multiple of 4 (padding is required)", name, len);
		}
	}
	if (n % 4 == 1)
		return sl_err_set(err, SL_EINVAL, false, "%s: length %zu leaves one character over", name, n);
	long o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = value((unsigned char)in[i], url);
		if (v < 0) {
			if (in[i] == '=')
				return sl_err_set(err, SL_EINVAL, false, "%s: padding at offset %zu is not allowed here",
						  name, i);
			return sl_err_set(err, SL_EINVAL, false, "%s: byte 0x%02x at offset %zu is not in the alphabet",
					  name, (unsigned char)in[i], i);
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* What is left holds fewer than 8 bits: zero in a canonical encoding. */
	if (acc != 0 && !(flags & SL_BASE64_ANY_BITS))
		return sl_err_set(err, SL_EINVAL, false, "%s: the bits after the last byte are not zero", name);
	return o;
}
