/* rstate.h: the Redis layout of the pipeline: key names, the encoding of
 * market state, the client messages the reducer publishes, and the Lua
 * script that never lets an older offset overwrite a newer one.
 *
 * How it fits: the API (writes channels and subscriptions, reads market
 * state) and the reducer (loads subscriptions and state per partition,
 * writes state, publishes updates and snapshots) share these definitions, so
 * the layout lives in one place; docs/redis.md describes it for operators.
 * Layout (P = --redis-prefix, default "sluice:"; {pN} is partition N's hash tag):
 *   P{pN}:state           hash  market -> "<offset>|<ts>|<value json>"
 *   P{pN}:subs            set   "<market> <channel>" for markets of partition N
 *   Pchannel:<id>         hash  the channel record (created, markets count, creator)
 *   Pchannels:expiry      zset  channel -> when it expires (ms), pushed on by
 *                               publishers while a stream holds it
 *   Pcreator:<who>        zset  the channels one creator holds, same scores
 *   Pchannel:<id>:markets set   markets of the channel
 *   Pmarket:<market>      pub/sub channel of the market's updates, one PUBLISH
 *                         per Kafka record whoever watches it (publishers
 *                         subscribe the markets their clients need)
 *   Pstream:<id>          pub/sub channel private to one channel: snapshots,
 *                         `closed`, and markets_changed (publisher-internal)
 * Non-goals: talking to Redis (rconn.h does), Redis Cluster routing.
 */
#ifndef SL_REDIS_RSTATE_H
#define SL_REDIS_RSTATE_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_RSTATE_MARKET_MAX 64

void sl_rstate_key_state(sl_buf_t *b, const char *prefix, int32_t partition);
void sl_rstate_key_subs(sl_buf_t *b, const char *prefix, int32_t partition);
void sl_rstate_key_channel(sl_buf_t *b, const char *prefix, const char *channel);
void sl_rstate_key_chan_markets(sl_buf_t *b, const char *prefix, const char *channel);
void sl_rstate_key_stream(sl_buf_t *b, const char *prefix, const char *channel);
void sl_rstate_key_market(sl_buf_t *b, const char *prefix, const char *market, size_t len);
void sl_rstate_key_expiry(sl_buf_t *b, const char *prefix);
void sl_rstate_key_creator(sl_buf_t *b, const char *prefix, const char *creator);

/* Published on Pstream:<id> after the channel's market set changed (the API
 * does it in the same script or transaction as the change): publishers
 * read the set again and follow it. Never forwarded to clients. */
extern const char sl_rstate_msg_markets_changed[];

/* A market id: 1..64 bytes of [A-Za-z0-9._:-]. */
bool sl_rstate_market_valid(const char *s, size_t len);
/* A channel id: a lowercase UUID (8-4-4-4-12 hex). */
bool sl_rstate_channel_valid(const char *s, size_t len);

/* Append the record value as JSON: embedded as-is when it is valid JSON
 * (an object, array, number, string, true/false/null), else as a string. */
void sl_rstate_value_json(sl_buf_t *b, const void *val, size_t len);

/* State field value "<offset>|<ts>|<value json>". */
void sl_rstate_encode(sl_buf_t *b, int64_t offset, int64_t ts, const char *json, size_t len);
/* 0, or SL_EINVAL when s is not an encoded state. json points into s. */
int sl_rstate_decode(const char *s, size_t len, int64_t *offset, int64_t *ts, const char **json, size_t *jsonlen);

/* {"market":"m","value":v,"offset":o,"partition":p,"ts":t}: one snapshot or REST entry. */
void sl_rstate_entry_json(sl_buf_t *b, const char *market, size_t mlen, const char *json, size_t jlen,
			  int64_t offset, int32_t partition, int64_t ts);
/* {"type":"update","market":...} with the keys in the contract's order. */
void sl_rstate_update_json(sl_buf_t *b, const char *market, size_t mlen, const char *json, size_t jlen,
			   int64_t offset, int32_t partition, int64_t ts);

/* A subscription member "<market> <channel>"; split returns false when malformed. */
void sl_rstate_sub_member(sl_buf_t *b, const char *market, const char *channel);
bool sl_rstate_sub_split(const char *s, size_t len, sl_iov_t *market, sl_iov_t *channel);

/* EVAL script: KEYS[1] = state hash; ARGV = market, offset, encoded, ...
 * Writes each field only when its stored offset is not newer; returns the
 * number of fields written. */
extern const char sl_rstate_lua_set_newer[];

#endif
