/* reducer_cmd.h: a record of the command topic read as data, pure.
 *
 * The api writes one JSON object per command (SPEC section 5, key = the
 * channel id): {"op":"subscribe"|"unsubscribe"|"begin"|"close",
 * "channel":"<id>", "markets":["<m>", ...]}. sl_rcmd_parse checks the
 * shape, the op and the channel id, and keeps the markets that are valid
 * ids (an invalid one is skipped and counted, as one bad market must not
 * drop a whole subscription). Pointers in the result point into its own
 * parsed JSON and live until sl_rcmd_free.
 * Callers: reducer_commands.c (then applies it), tests/unit/test_reducer_cmd.c,
 * tests/fuzz/fuzz_rcmd.c. Thread: any; no I/O, no allocation kept.
 * Non-goals: whether the command agrees with Redis, or who sent it.
 */
#ifndef SL_ROLES_REDUCER_CMD_H
#define SL_ROLES_REDUCER_CMD_H

#include <stddef.h>

typedef enum sl_rcmd_op {
	SL_RCMD_SUBSCRIBE,
	SL_RCMD_UNSUBSCRIBE,
	SL_RCMD_BEGIN,
	SL_RCMD_CLOSE,
} sl_rcmd_op_t;

typedef struct sl_rcmd_market {
	const char *id;
	size_t len;
} sl_rcmd_market_t;

typedef struct sl_rcmd {
	sl_rcmd_op_t op;
	const char *channel;
	size_t channel_len;
	sl_rcmd_market_t *markets; /* the valid ones, in order */
	size_t n_markets;
	size_t n_skipped;          /* entries that were not valid market ids */
	void *json_;               /* owns the strings above */
} sl_rcmd_t;

/* 0 with cmd filled, or -1 with *why a stable word for the log
 * ("not_json", "no_op", "bad_channel", "unknown_op"; the op itself is not
 * echoed). On -1 nothing needs freeing. */
int sl_rcmd_parse(const char *data, size_t len, sl_rcmd_t *cmd, const char **why);
void sl_rcmd_free(sl_rcmd_t *cmd);

#endif
