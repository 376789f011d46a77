/* match.c: patterns, constant-time secret comparison, loopback addresses
 * (see match.h).
 *
 * The glob is the classic greedy walk with one saved position for the last
 * `*`: on a mismatch it retries one byte further from that star, which
 * makes it linear in practice and never recursive.
 * References: OpenSSL CRYPTO_memcmp(3), SHA256(3).
 */
#include "auth/match.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

bool sl_auth_glob(const char *pat, const char *s, size_t n)
{
	size_t pi = 0, si = 0, plen = strlen(pat);
	size_t star = (size_t)-1, mark = 0;
	while (si < n) {
		if (pi < plen && pat[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < plen && pat[pi] == s[si]) {
			pi++;
			si++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}

bool sl_auth_secret_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
	SHA256(a, alen, da);
	SHA256(b, blen, db);
	return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

bool sl_auth_host_is_loopback(const char *host)
{
	if (!host)
		return false;
	if (!strcmp(host, "localhost"))
		return true;
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}
