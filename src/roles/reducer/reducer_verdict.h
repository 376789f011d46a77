/* reducer_verdict.h: whether a command of the command topic agrees with
 * the channel's record in Redis: the pure half of the reducers' command
 * check (no I/O, no clock, so the unit test and the fuzz target drive it).
 *
 * How it fits: reducer_commands.c parses a record (reducer_cmd.h);
 * reducer_check.c sends sl_rverdict_script for it on the reducer's Redis
 * connection and hands the reply to sl_rverdict_judge, which says what to
 * do; reducer_commands.c then applies the markets it kept. In the
 * reducer's order of files it sits beside reducer_cmd.c, below everything
 * else: it calls nothing of the reducer.
 *
 * The rule (docs/security.md, the write order of each API route:
 * docs/redis.md):
 *   subscribe    the channel record exists, and each market is a member of
 *                the channel's market set (the API writes both before it
 *                emits the command); the markets that are not are dropped
 *   unsubscribe  the channel record exists and each market is no longer a
 *                member (the API removes it before it emits the command)
 *   begin        the channel record exists
 *   close        the channel record is gone: the API emits `close` first
 *                and deletes the record right after Kafka acknowledged it,
 *                so a close that still finds the record is asked again a
 *                little later (SL_RVERDICT_ASK_LATER) and refused once it
 *                has waited SL_RVERDICT_CLOSE_WAIT_MS
 * A forged command (one the API did not emit, produced straight to the
 * topic) therefore changes nothing: it names a channel that does not
 * exist, markets the channel does not hold (or still holds), or a channel
 * that is not being closed. A real command that raced a later change of
 * the same channel (subscribe, then at once unsubscribe) is judged against
 * the newer record, which is the state the reducers must end in anyway.
 * Non-goals: who may write the command topic (Kafka ACLs, the REST
 * proxy's internal-topic rule); Redis Cluster (the script names two keys
 * that are not in one slot).
 */
#ifndef SL_ROLES_REDUCER_VERDICT_H
#define SL_ROLES_REDUCER_VERDICT_H

#include "roles/reducer/reducer_cmd.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_RVERDICT_CLOSE_WAIT_MS 10000 /* a close waits this long for the record to go */

typedef enum sl_rverdict_act {
	SL_RVERDICT_APPLY,     /* apply it (subscribe, unsubscribe: the markets kept) */
	SL_RVERDICT_REFUSE,    /* disagrees with Redis: apply nothing */
	SL_RVERDICT_ASK_LATER, /* close: the record is still there; ask again later */
	SL_RVERDICT_ASK_AGAIN, /* no usable answer (connection lost, error reply) */
} sl_rverdict_act_t;

/* Why a command, or some of its markets, were refused: the label of
 * sluice_reducer_commands_refused_total and the reason of command_refused. */
typedef enum sl_rverdict_reason {
	SL_RVERDICT_AGREES,          /* nothing refused */
	SL_RVERDICT_UNKNOWN_CHANNEL, /* no channel record */
	SL_RVERDICT_MARKET_MISMATCH, /* markets not (un)subscribed in Redis */
	SL_RVERDICT_CHANNEL_OPEN,    /* a close whose record stayed */
	SL_RVERDICT_BAD_REPLY,       /* an answer of the wrong shape */
	SL_RVERDICT_NREASONS
} sl_rverdict_reason_t;

typedef struct sl_rverdict {
	sl_rverdict_act_t act;
	sl_rverdict_reason_t reason; /* set whenever something was refused, also with APPLY */
	size_t nrefused;             /* markets of a subscribe or unsubscribe dropped */
} sl_rverdict_t;

/* The check, one round trip: EVAL sl_rverdict_script 2 <channel key>
 * <channel markets key> [market...], the markets only when
 * sl_rverdict_wants_markets. It answers {0} when the record is missing,
 * else {1, member?...} (1 or 0 per market, in order). */
extern const char sl_rverdict_script[];
bool sl_rverdict_wants_markets(const sl_rcmd_t *cmd);

/* Judge reply (NULL: the connection dropped) for cmd, which has waited
 * waited_ms since it was read. For a subscribe or unsubscribe, keep
 * (cmd->n_markets entries, may be NULL when there are none) says per
 * market whether it agrees; the others are counted in nrefused. */
sl_rverdict_t sl_rverdict_judge(const sl_rcmd_t *cmd, const redisReply *reply, int64_t waited_ms, bool *keep);

const char *sl_rverdict_reason_name(sl_rverdict_reason_t reason);
const char *sl_rverdict_op_name(sl_rcmd_op_t op);


#endif
