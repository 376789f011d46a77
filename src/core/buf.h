/* buf.h: a growable byte buffer, the one string builder of sluice.
 *
 * Used to build HTTP responses, JSON written by hand on hot paths, Prometheus
 * text and log lines. Always NUL-terminated after len (not counted), so
 * data can be passed to functions that want a C string.
 * sl_iov_t is a borrowed {base,len} view (h2o h2o_iovec_t).
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sl_buf {
	char *data;
	size_t len;
	size_t cap;
} sl_buf_t;

typedef struct sl_iov {
	const char *base;
	size_t len;
} sl_iov_t;

#define SL_BUF_INIT {NULL, 0, 0}
#define SL_IOV_LIT(s) ((sl_iov_t){(s), sizeof(s) - 1})

void sl_buf_reserve(sl_buf_t *b, size_t extra);
void sl_buf_append(sl_buf_t *b, const void *p, size_t n);
void sl_buf_puts(sl_buf_t *b, const char *s);
void sl_buf_putc(sl_buf_t *b, char c);
void sl_buf_printf(sl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_buf_vprintf(sl_buf_t *b, const char *fmt, va_list ap);
/* Append s as a JSON string literal, quotes included: the one JSON string
 * escaper of sluice. Quote, backslash and control characters are escaped
 * (RFC 8259 section 7); every byte that does not start a valid UTF-8
 * sequence (RFC 3629: no overlong forms, no surrogates) becomes U+FFFD, so
 * the output is valid JSON whatever the input (binary is not round-tripped). */
void sl_buf_json_str(sl_buf_t *b, const char *s, size_t n);
void sl_buf_reset(sl_buf_t *b);
void sl_buf_free(sl_buf_t *b);
/* Hand the bytes to the caller (who frees them with free()); b is emptied. */
char *sl_buf_steal(sl_buf_t *b, size_t *len);

#endif
