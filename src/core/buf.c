/* buf.c: growable byte buffer (see buf.h). */
#include "core/buf.h"

#include "core/alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_buf_reserve(sl_buf_t *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	bool fresh = !b->data;
	b->data = sl_xrealloc(b->data, cap);
	b->cap = cap;
	if (fresh)
		b->data[0] = '\0'; /* NUL-terminated from the first byte on */
}

void sl_buf_append(sl_buf_t *b, const void *p, size_t n)
{
	sl_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void sl_buf_puts(sl_buf_t *b, const char *s)
{
	sl_buf_append(b, s, strlen(s));
}

void sl_buf_putc(sl_buf_t *b, char c)
{
	sl_buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void sl_buf_vprintf(sl_buf_t *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	sl_buf_reserve(b, 64);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	if (n >= 0 && (size_t)n >= b->cap - b->len) {
		sl_buf_reserve(b, (size_t)n);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	}
	va_end(ap2);
	if (n > 0)
		b->len += (size_t)n;
}

void sl_buf_printf(sl_buf_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sl_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if it is not
 * one: RFC 3629 ranges, so overlong forms, UTF-16 surrogates and code
 * points past U+10FFFF are refused. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		if (c == 0xF4)
			hi = 0x8F; /* past U+10FFFF */
	} else {
		return 0;
	}
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need + 1;
}

void sl_buf_json_str(sl_buf_t *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	sl_buf_reserve(b, n + 2);
	sl_buf_putc(b, '"');
	size_t run = 0, i = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t l = utf8_len(p + i, n - i);
			if (l) {
				i += l;
				continue;
			}
		}
		sl_buf_append(b, s + run, i - run);
		switch (c) {
		case '"': sl_buf_append(b, "\\\"", 2); break;
		case '\\': sl_buf_append(b, "\\\\", 2); break;
		case '\n': sl_buf_append(b, "\\n", 2); break;
		case '\r': sl_buf_append(b, "\\r", 2); break;
		case '\t': sl_buf_append(b, "\\t", 2); break;
		default:
			if (c >= 0x80) {
				sl_buf_append(b, "\xEF\xBF\xBD", 3); /* U+FFFD for a byte that is not UTF-8 */
			} else {
				char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
				sl_buf_append(b, u, 6);
			}
		}
		i++;
		run = i;
	}
	sl_buf_append(b, s + run, n - run);
	sl_buf_putc(b, '"');
}

void sl_buf_reset(sl_buf_t *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void sl_buf_free(sl_buf_t *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *sl_buf_steal(sl_buf_t *b, size_t *len)
{
	if (!b->data)
		sl_buf_reserve(b, 0);
	char *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
