/* fuzz_rstate.c: libFuzzer target: the reducer's decoding of what it reads
 * back from Redis and Kafka (src/redis/rstate.c): a market's stored state
 * "<offset>|<ts>|<json>", a subscription member "<market> <channel>", the
 * record value embedded as JSON, market and channel ids.
 *
 * The first input byte picks the decoder. Checked: a decoded state points
 * inside its input and encodes back to the same text; a value embedded as
 * JSON is always valid JSON (jansson reads it back); an id the validators
 * accept has only the allowed characters.
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/rstate/.
 * (The reducer's command parsing is fuzzed once its model has a pure parser:
 * issue 13's reducer split; see docs/fuzzing.md.)
 */
#include "redis/rstate.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0] % 4;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	switch (which) {
	case 0: {
		int64_t off, ts;
		const char *json;
		size_t jlen;
		if (sl_rstate_decode(in, len, &off, &ts, &json, &jlen) == 0) {
			if (json < in || json + jlen > in + len)
				abort();
			sl_buf_t b = SL_BUF_INIT;
			sl_rstate_encode(&b, off, ts, json, jlen);
			int64_t off2, ts2;
			const char *json2;
			size_t jlen2;
			if (sl_rstate_decode(b.data, b.len, &off2, &ts2, &json2, &jlen2) != 0 || off2 != off || ts2 != ts ||
			    jlen2 != jlen || memcmp(json2, json, jlen))
				abort();
			sl_buf_free(&b);
		}
		break;
	}
	case 1: {
		sl_iov_t m, c;
		if (sl_rstate_sub_split(in, len, &m, &c)) {
			if (!sl_rstate_market_valid(m.base, m.len) || !sl_rstate_channel_valid(c.base, c.len))
				abort();
		}
		break;
	}
	case 2: {
		sl_buf_t b = SL_BUF_INIT;
		sl_rstate_value_json(&b, in, len);
		json_error_t err;
		json_t *j = json_loadb(b.data ? b.data : "", b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
		if (!j)
			abort(); /* the update messages embed it: it must be JSON */
		json_decref(j);
		sl_buf_free(&b);
		break;
	}
	default: {
		static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";
		if (sl_rstate_market_valid(in, len))
			for (size_t i = 0; i < len; i++)
				if (!memchr(allowed, in[i], sizeof(allowed) - 1))
					abort();
		sl_rstate_channel_valid(in, len);
		break;
	}
	}
	return 0;
}
