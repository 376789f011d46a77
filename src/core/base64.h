/* base64.h: the one base64 encoder and decoder of sluice (RFC 4648).
 *
 * How it fits: auth/jwt.c (base64url without padding, RFC 7515 section
 * 2), auth/basic.c (the Authorization: Basic header, RFC 7617) and the
 * REST proxy's binary records (standard alphabet, padding optional) and
 * proto/ws.c (the WebSocket handshake's keys) call it, each with the flags
 * that spell its rules. Pure functions: no I/O,
 * no state, any thread.
 * Decoding is strict unless a flag relaxes it: only the chosen alphabet,
 * padding as the flags say, never a lone character left over (a length
 * of 4k+1), and the bits after the last byte must be zero (RFC 4648
 * section 3.5), so one byte string has one spelling.
 * References: RFC 4648 sections 4 (base64), 5 (base64url), 3.2 (padding),
 * 3.5 (canonical encoding), 10 (test vectors).
 * Non-goals: line breaks (MIME, RFC 2045), skipping white space, streaming.
 */
#ifndef SL_CORE_BASE64_H
#define SL_CORE_BASE64_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>

/* Flags; 0 is the standard alphabet with padding written and required. */
enum {
	SL_BASE64_URL = 1 << 0,          /* '-' and '_' for 62 and 63 (RFC 4648 section 5) */
	SL_BASE64_NOPAD = 1 << 1,        /* encode: no '='; decode: '=' is refused */
	SL_BASE64_PAD_OPTIONAL = 1 << 2, /* decode: the '=' padding may be left out */
	SL_BASE64_ANY_BITS = 1 << 3,     /* decode: bits after the last byte need not be zero */
};

/* The most bytes that len characters decode to: the size of out. */
static inline size_t sl_base64_decoded_max(size_t len)
{
	return len / 4 * 3 + 3;
}

/* Append the encoding of data to out (NUL-terminated, as every sl_buf_t). */
void sl_base64_encode(sl_buf_t *out, const void *data, size_t len, unsigned flags);

/* Decode len characters of in into out (sl_base64_decoded_max(len) bytes).
 * Returns the decoded length, or SL_EINVAL with err saying why: a
 * character outside the alphabet (with its offset), padding where the
 * flags refuse it or missing where they require it, a length that no
 * encoding has, or non-zero bits after the last byte. On failure out may
 * hold part of the bytes; the caller ignores them. */
long sl_base64_decode(const char *in, size_t len, unsigned flags, unsigned char *out, sl_err_t *err);

#endif
