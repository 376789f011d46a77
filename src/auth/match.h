/* match.h: the small pure helpers of authentication: name patterns and
 * comparisons of secrets that take the same time whatever they hold.
 *
 * How it fits: the bottom of src/auth/ (jwt.c, basic.c, acl.c and auth.c
 * call it; it calls only OpenSSL's libcrypto). Patterns are the `markets`
 * claim of a token (`m-*`, `*`, `m-0042`) and the names of ACL rules.
 * Non-goals: regular expressions (a pattern is literal text and `*`).
 */
#ifndef SL_AUTH_MATCH_H
#define SL_AUTH_MATCH_H

#include <stdbool.h>
#include <stddef.h>

/* True when s (n bytes) matches pat, a NUL-terminated pattern where `*`
 * matches any run of bytes (empty included) and every other byte itself.
 * Linear in the lengths (no backtracking blow-up). */
bool sl_auth_glob(const char *pat, const char *s, size_t n);

/* True when the two secrets are equal. The time taken depends on neither
 * their content nor where they differ: both are hashed (SHA-256) and the
 * digests compared with CRYPTO_memcmp, so the length leaks nothing either. */
bool sl_auth_secret_eq(const void *a, size_t alen, const void *b, size_t blen);

/* True when host (a listen address) reaches this machine only: 127.0.0.0/8,
 * ::1, "localhost". Anything else (0.0.0.0, ::, a routable address, a
 * name) is exposed. */
bool sl_auth_host_is_loopback(const char *host);

#endif
