/* fuzz_rcmd.c: libFuzzer target: the reducer's reading of a command record
 * (src/roles/reducer/reducer_cmd.c), which anyone who can write to the
 * command topic controls.
 *
 * Checked for any input: a command is either refused with one of the known
 * words, or has a known op, a valid channel id and only valid market ids,
 * each pointing at text the parse owns; kept + skipped never exceeds what
 * was sent; and the parse is deterministic (the same bytes read twice give
 * the same command).
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/rcmd/.
 */
#include "redis/rstate.h"
#include "roles/reducer/reducer_cmd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sl_rcmd_t a, b;
	const char *why_a = NULL, *why_b = NULL;
	int ra = sl_rcmd_parse((const char *)data, size, &a, &why_a);
	int rb = sl_rcmd_parse((const char *)data, size, &b, &why_b);
	if (ra != rb)
		abort();
	if (ra != 0) {
		if (strcmp(why_a, why_b) != 0 ||
		    (strcmp(why_a, "not_json") && strcmp(why_a, "no_op") && strcmp(why_a, "bad_channel") &&
		     strcmp(why_a, "unknown_op")))
			abort();
		return 0;
	}
	if (a.op > SL_RCMD_CLOSE || a.op != b.op || !sl_rstate_channel_valid(a.channel, a.channel_len))
		abort();
	if (a.n_markets != b.n_markets || a.n_skipped != b.n_skipped)
		abort();
	for (size_t i = 0; i < a.n_markets; i++) {
		if (!sl_rstate_market_valid(a.markets[i].id, a.markets[i].len) ||
		    a.markets[i].len != b.markets[i].len ||
		    memcmp(a.markets[i].id, b.markets[i].id, a.markets[i].len) != 0)
			abort();
	}
	sl_rcmd_free(&a);
	sl_rcmd_free(&b);
	return 0;
}
