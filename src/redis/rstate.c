/* rstate.c: key names, state encoding and client messages (see rstate.h).
 *
 * The update message is formatted by hand, not through jansson, because it
 * is built once per record on the reducer's hot path and the contract fixes
 * its key order ("type" first, "market" second) so that the publisher can
 * read the market without a full parse.
 * References: SPEC section 3 (client messages), docs/redis.md (layout).
 * Non-goals: talking to Redis (rconn.c), validating JSON beyond jansson.
 */
#include "redis/rstate.h"

#include "core/err.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

const char sl_rstate_lua_set_newer[] =
	"local n = 0\n"
	"for i = 1, #ARGV, 3 do\n"
	"  local cur = redis.call('HGET', KEYS[1], ARGV[i])\n"
	"  local old = cur and tonumber(string.match(cur, '^(%d+)')) or -1\n"
	"  if tonumber(ARGV[i + 1]) >= old then\n"
	"    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"return n\n";

void sl_rstate_key_state(sl_buf_t *b, const char *prefix, int32_t partition)
{
	sl_buf_printf(b, "%s{p%d}:state", prefix, (int)partition);
}

void sl_rstate_key_subs(sl_buf_t *b, const char *prefix, int32_t partition)
{
	sl_buf_printf(b, "%s{p%d}:subs", prefix, (int)partition);
}

void sl_rstate_key_channel(sl_buf_t *b, const char *prefix, const char *channel)
{
	sl_buf_printf(b, "%schannel:%s", prefix, channel);
}

void sl_rstate_key_chan_markets(sl_buf_t *b, const char *prefix, const char *channel)
{
	sl_buf_printf(b, "%schannel:%s:markets", prefix, channel);
}

void sl_rstate_key_stream(sl_buf_t *b, const char *prefix, const char *channel)
{
	sl_buf_printf(b, "%sstream:%s", prefix, channel);
}

void sl_rstate_key_market(sl_buf_t *b, const char *prefix, const char *market, size_t len)
{
	sl_buf_printf(b, "%smarket:%.*s", prefix, (int)len, market);
}

void sl_rstate_key_expiry(sl_buf_t *b, const char *prefix)
{
	sl_buf_printf(b, "%schannels:expiry", prefix);
}

void sl_rstate_key_creator(sl_buf_t *b, const char *prefix, const char *creator)
{
	sl_buf_printf(b, "%screator:%s", prefix, creator);
}

const char sl_rstate_msg_markets_changed[] = "{\"type\":\"markets_changed\"}";

bool sl_rstate_market_valid(const char *s, size_t len)
{
	if (len == 0 || len > SL_RSTATE_MARKET_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
			return false;
	}
	return true;
}

bool sl_rstate_channel_valid(const char *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

void sl_rstate_value_json(sl_buf_t *b, const void *val, size_t len)
{
	json_error_t jerr;
	json_t *j = len ? json_loadb(val, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (j) {
		/* Embed the producer's bytes as they are (a re-encoded 101.2345
		 * would come back as 101.23449999999999). In valid JSON a CR or LF
		 * can only be whitespace, so it becomes a space: a publisher frames
		 * one message per SSE data: line. */
		json_decref(j);
		size_t start = b->len;
		sl_buf_append(b, val, len);
		for (size_t i = start; i < b->len; i++)
			if (b->data[i] == '\n' || b->data[i] == '\r')
				b->data[i] = ' ';
		return;
	}
	sl_buf_json_str(b, val, len);
}

void sl_rstate_encode(sl_buf_t *b, int64_t offset, int64_t ts, const char *json, size_t len)
{
	sl_buf_printf(b, "%" PRId64 "|%" PRId64 "|", offset, ts);
	sl_buf_append(b, json, len);
}

static int parse_i64(const char **p, const char *end, int64_t *out)
{
	const char *s = *p;
	bool neg = s < end && *s == '-';
	if (neg)
		s++;
	if (s >= end || !isdigit((unsigned char)*s))
		return SL_EINVAL;
	int64_t v = 0;
	while (s < end && isdigit((unsigned char)*s)) {
		if (v > (INT64_MAX - 9) / 10)
			return SL_EINVAL;
		v = v * 10 + (*s++ - '0');
	}
	if (s >= end || *s != '|')
		return SL_EINVAL;
	*out = neg ? -v : v;
	*p = s + 1;
	return 0;
}

int sl_rstate_decode(const char *s, size_t len, int64_t *offset, int64_t *ts, const char **json, size_t *jsonlen)
{
	const char *p = s, *end = s + len;
	if (parse_i64(&p, end, offset) < 0 || parse_i64(&p, end, ts) < 0 || p >= end)
		return SL_EINVAL;
	*json = p;
	*jsonlen = (size_t)(end - p);
	return 0;
}

static void entry_tail(sl_buf_t *b, const char *json, size_t jlen, int64_t offset, int32_t partition, int64_t ts)
{
	sl_buf_puts(b, ",\"value\":");
	sl_buf_append(b, json, jlen);
	sl_buf_printf(b, ",\"offset\":%" PRId64 ",\"partition\":%d,\"ts\":%" PRId64 "}", offset, (int)partition, ts);
}

void sl_rstate_entry_json(sl_buf_t *b, const char *market, size_t mlen, const char *json, size_t jlen,
			  int64_t offset, int32_t partition, int64_t ts)
{
	sl_buf_puts(b, "{\"market\":");
	sl_buf_json_str(b, market, mlen);
	entry_tail(b, json, jlen, offset, partition, ts);
}

void sl_rstate_update_json(sl_buf_t *b, const char *market, size_t mlen, const char *json, size_t jlen,
			   int64_t offset, int32_t partition, int64_t ts)
{
	sl_buf_puts(b, "{\"type\":\"update\",\"market\":");
	sl_buf_json_str(b, market, mlen);
	entry_tail(b, json, jlen, offset, partition, ts);
}

void sl_rstate_sub_member(sl_buf_t *b, const char *market, const char *channel)
{
	sl_buf_printf(b, "%s %s", market, channel);
}

bool sl_rstate_sub_split(const char *s, size_t len, sl_iov_t *market, sl_iov_t *channel)
{
	const char *sp = memchr(s, ' ', len);
	if (!sp || sp == s || sp == s + len - 1)
		return false;
	*market = (sl_iov_t){s, (size_t)(sp - s)};
	*channel = (sl_iov_t){sp + 1, (size_t)(s + len - sp - 1)};
	return sl_rstate_market_valid(market->base, market->len) &&
	       sl_rstate_channel_valid(channel->base, channel->len);
}
