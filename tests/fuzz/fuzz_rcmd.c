/* fuzz_rcmd.c: libFuzzer target: the reducer's reading of a command record
 * (src/roles/reducer/reducer_cmd.c), which anyone who can write to the
 * command topic controls.
 *
 * Checked for any input: a command is either refused with one of the known
 * words, or has a known op, a valid channel id and only valid market ids,
 * each pointing at text the parse owns; kept + skipped never exceeds what
 * was sent; and the parse is deterministic (the same bytes read twice give
 * the same command). Then each parsed command goes through the reducers'
 * verdict (reducer_verdict.c) against an answer of the check script made
 * from the input's bytes (the record there or not, each market a member
 * or not, sometimes one element too few, a wait before or after the
 * close bound): the verdict is one of the known ones, consistent with
 * the answer (a close is never applied while its record is there,
 * nothing is applied of a channel that does not exist, the markets kept
 * and refused add up), and the same without the per-market array.
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/rcmd/.
 */
#include "redis/rstate.h"
#include "roles/reducer/reducer_cmd.h"
#include "roles/reducer/reducer_verdict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The verdict on a made-up answer of the check script: its invariants. */
static void verdict(const sl_rcmd_t *c, const uint8_t *data, size_t size)
{
	uint8_t h = 0;
	for (size_t i = 0; i < size; i++)
		h = (uint8_t)(h * 31 + data[i]);
	bool exists = h & 1, short_answer = (h & 0x0e) == 0;
	int64_t waited = (h & 0x10) ? SL_RVERDICT_CLOSE_WAIT_MS : 0;
	size_t n = sl_rverdict_wants_markets(c) ? c->n_markets : 0;
	size_t ne = exists ? 1 + n - (short_answer && n) : 1;
	redisReply top = {.type = REDIS_REPLY_ARRAY, .elements = ne};
	redisReply *el = calloc(ne, sizeof(*el));
	redisReply **ptrs = calloc(ne, sizeof(*ptrs));
	bool *keep = calloc(n ? n : 1, sizeof(*keep));
	size_t members = 0;
	for (size_t i = 0; i < ne; i++) {
		el[i].type = REDIS_REPLY_INTEGER;
		el[i].integer = i == 0 ? exists : (size ? data[i % size] & 1 : 0);
		members += i > 0 && el[i].integer;
		ptrs[i] = &el[i];
	}
	top.element = ptrs;
	sl_rverdict_t v = sl_rverdict_judge(c, &top, waited, keep);
	sl_rverdict_t v2 = sl_rverdict_judge(c, &top, waited, NULL);
	if (v.act != v2.act || v.reason != v2.reason || v.nrefused != v2.nrefused)
		abort();
	if (v.act > SL_RVERDICT_ASK_AGAIN || v.reason >= SL_RVERDICT_NREASONS || v.nrefused > n)
		abort();
	if (v.act == SL_RVERDICT_ASK_AGAIN) /* the answer always has a usable first element */
		abort();
	if ((v.reason == SL_RVERDICT_AGREES) != (v.nrefused == 0 && v.act == SL_RVERDICT_APPLY))
		abort();
	if (!exists && c->op != SL_RCMD_CLOSE && v.act != SL_RVERDICT_REFUSE)
		abort();
	if (c->op == SL_RCMD_CLOSE &&
	    v.act != (exists ? (waited ? SL_RVERDICT_REFUSE : SL_RVERDICT_ASK_LATER) : SL_RVERDICT_APPLY))
		abort();
	if (c->op != SL_RCMD_CLOSE && v.act == SL_RVERDICT_ASK_LATER)
		abort();
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		kept += keep[i];
	if (kept + v.nrefused != n || (v.act != SL_RVERDICT_APPLY && kept))
		abort();
	if (v.act == SL_RVERDICT_APPLY && n && exists && !short_answer &&
	    kept != (c->op == SL_RCMD_SUBSCRIBE ? members : n - members))
		abort();
	free(el);
	free(ptrs);
	free(keep);
}

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
	verdict(&a, data, size);
	sl_rcmd_free(&a);
	sl_rcmd_free(&b);
	return 0;
}
