/* reducer_cmd.c: a command record read as data (see reducer_cmd.h). */
#include "roles/reducer/reducer_cmd.h"

#include "core/alloc.h"
#include "redis/rstate.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	sl_rcmd_op_t op;
} ops[] = {
	{"subscribe", SL_RCMD_SUBSCRIBE},
	{"unsubscribe", SL_RCMD_UNSUBSCRIBE},
	{"begin", SL_RCMD_BEGIN},
	{"close", SL_RCMD_CLOSE},
};

int sl_rcmd_parse(const char *data, size_t len, sl_rcmd_t *cmd, const char **why)
{
	memset(cmd, 0, sizeof(*cmd));
	json_error_t jerr;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		*why = "not_json";
		return -1;
	}
	json_t *opj = json_object_get(j, "op");
	json_t *chj = json_object_get(j, "channel");
	if (!json_is_string(opj)) {
		json_decref(j);
		*why = "no_op";
		return -1;
	}
	const char *ch = json_string_value(chj);
	size_t chlen = ch ? json_string_length(chj) : 0;
	if (!ch || !sl_rstate_channel_valid(ch, chlen)) {
		json_decref(j);
		*why = "bad_channel";
		return -1;
	}
	size_t k = 0;
	while (k < sizeof(ops) / sizeof(ops[0]) && strcmp(json_string_value(opj), ops[k].name) != 0)
		k++;
	if (k == sizeof(ops) / sizeof(ops[0])) {
		json_decref(j);
		*why = "unknown_op";
		return -1;
	}
	cmd->op = ops[k].op;
	cmd->channel = ch;
	cmd->channel_len = chlen;
	cmd->json_ = j;
	json_t *markets = json_object_get(j, "markets");
	size_t n = json_is_array(markets) ? json_array_size(markets) : 0;
	if (n)
		cmd->markets = sl_xcalloc(n, sizeof(*cmd->markets));
	for (size_t i = 0; i < n; i++) {
		json_t *mj = json_array_get(markets, i);
		const char *m = json_string_value(mj);
		size_t mlen = m ? json_string_length(mj) : 0;
		if (!m || !sl_rstate_market_valid(m, mlen)) {
			cmd->n_skipped++;
			continue;
		}
		cmd->markets[cmd->n_markets++] = (sl_rcmd_market_t){m, mlen};
	}
	return 0;
}

void sl_rcmd_free(sl_rcmd_t *cmd)
{
	free(cmd->markets);
	json_decref(cmd->json_);
	memset(cmd, 0, sizeof(*cmd));
}
