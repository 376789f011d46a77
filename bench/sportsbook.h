/* sportsbook.h: the market choice of the "sportsbook" benchmark scenario,
 * shared by the programs in bench/ that must agree on it.
 *
 * Client i of a run watches `per_client` distinct markets drawn with a
 * xorshift generator seeded by (seed, i), so a publishing driver can compute
 * which clients' channels every market update goes to without talking to
 * the load generator. Market ids are the feed's: m-0001 .. m-<markets>.
 * Non-goals: realistic popularity skew (uniform choice, as the scenario says).
 */
#ifndef SL_BENCH_SPORTSBOOK_H
#define SL_BENCH_SPORTSBOOK_H

#include <stdint.h>

static inline uint64_t sb_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Fill out[0..k) with client i's distinct market numbers (1-based). */
static inline void sb_client_markets(uint64_t seed, uint32_t i, uint32_t markets, uint32_t k, uint32_t *out)
{
	uint64_t s = (seed ^ (0x9e3779b97f4a7c15ULL * (i + 1))) | 1;
	for (uint32_t n = 0; n < k;) {
		uint32_t m = (uint32_t)(sb_next(&s) % markets) + 1;
		uint32_t j = 0;
		while (j < n && out[j] != m)
			j++;
		if (j == n)
			out[n++] = m;
	}
}

#endif
