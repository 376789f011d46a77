/* fuzz_api.c: libFuzzer target: the control API's inputs
 * (src/roles/api/api_input.c): the market list of a JSON body and of an
 * ids query, as every POST /v1/channels, subscribe and GET /v1/markets
 * reads them.
 *
 * The first input byte picks the parser and whether markets are required.
 * Checked: the answer is 0 with only valid, distinct market ids within the
 * limit, or a 4xx with a stable code and a message; nothing leaks.
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/api/.
 */
#include "roles/api/api_int.h"

#include "redis/rstate.h"

#include <stdlib.h>
#include <string.h>

static void check(int rv, const sl_api_markets_t *m, const sl_api_input_err_t *e, long max)
{
	if (rv) {
		if (rv < 400 || rv > 499 || rv != e->status || !e->code || !e->msg[0] || m->n || m->ids)
			abort();
		return;
	}
	if ((long)m->n > max)
		abort();
	for (size_t i = 0; i < m->n; i++) {
		if (!sl_rstate_market_valid(m->ids[i], strlen(m->ids[i])))
			abort();
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->ids[i], m->ids[j]))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	long max = 1 + mode % 16;
	sl_api_markets_t m;
	sl_api_input_err_t e = {0};
	if (mode & 0x80) {
		char *z = malloc(len + 1);
		memcpy(z, in, len);
		z[len] = '\0';
		int rv = sl_api__markets_from_ids(z, max, &m, &e);
		check(rv, &m, &e, max);
		sl_api__markets_free(&m);
		free(z);
	} else {
		int rv = sl_api__markets_from_json(in, len, mode & 0x40, max, &m, &e);
		check(rv, &m, &e, max);
		sl_api__markets_free(&m);
	}
	return 0;
}
