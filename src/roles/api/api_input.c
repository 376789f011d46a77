/* api_input.c: the control API's inputs as data: the market list of a JSON
 * body ({"markets":[...]}) and of an ids query (ids=a,b,c).
 *
 * How it fits: below api.c, which checks every request with these before
 * anything changes, and answers with the status and stable code they give.
 * Pure (no I/O, no state), so tests/fuzz/fuzz_api.c feeds them anything.
 * Markets keep their first order, without duplicates.
 * References: docs/api.md (errors), docs/openapi/api.yaml.
 * Non-goals: the channel id and the route (api.c).
 */
#include "roles/api/api_int.h"

#include "core/alloc.h"
#include "redis/rstate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(sl_api_input_err_t *e, int status, const char *code, const char *fmt, const char *detail)
{
	e->status = status;
	e->code = code;
	snprintf(e->msg, sizeof(e->msg), fmt, detail ? detail : "");
	return status;
}

static bool has(const sl_api_markets_t *m, const char *s, size_t n)
{
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->ids[i]) == n && !memcmp(m->ids[i], s, n))
			return true;
	return false;
}

static void add(sl_api_markets_t *m, const char *s, size_t n)
{
	if (has(m, s, n))
		return;
	m->ids = sl_xrealloc(m->ids, (m->n + 1) * sizeof(char *));
	m->ids[m->n++] = sl_xstrndup(s, n);
}

void sl_api__markets_free(sl_api_markets_t *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->ids[i]);
	free(m->ids);
	m->ids = NULL;
	m->n = 0;
}

int sl_api__markets_from_json(const char *body, size_t len, bool required, long max, sl_api_markets_t *out,
			      sl_api_input_err_t *e)
{
	out->ids = NULL;
	out->n = 0;
	if (!len)
		return required ? bad(e, 400, "invalid_body", "a JSON body with \"markets\" is required%s", NULL) : 0;
	json_error_t jerr;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		char detail[260];
		snprintf(detail, sizeof(detail), "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return bad(e, 400, "malformed_json", "malformed JSON at %s", detail);
	}
	int rv = 0;
	json_t *ms = json_object_get(j, "markets");
	if (!json_is_object(j)) {
		rv = bad(e, 400, "invalid_body", "the body must be a JSON object%s", NULL);
	} else if (!ms && !required) {
		rv = 0;
	} else if (!json_is_array(ms)) {
		rv = bad(e, 400, "invalid_markets", "\"markets\" must be an array of market ids (strings)%s", NULL);
	} else if (required && json_array_size(ms) == 0) {
		rv = bad(e, 400, "invalid_markets", "\"markets\" must not be empty%s", NULL);
	} else if ((long)json_array_size(ms) > max) {
		char detail[32];
		snprintf(detail, sizeof(detail), "%ld", max);
		rv = bad(e, 413, "too_many_markets", "at most %s markets per request", detail);
	} else {
		size_t i;
		json_t *mj;
		json_array_foreach(ms, i, mj) {
			const char *m = json_string_value(mj);
			size_t n = m ? json_string_length(mj) : 0;
			if (!m || !sl_rstate_market_valid(m, n)) {
				char detail[32];
				snprintf(detail, sizeof(detail), "%zu", i);
				rv = bad(e, 400, "invalid_market",
					 "markets[%s] must be a market id: 1 to 64 characters of A-Z a-z 0-9 . _ : -",
					 detail);
				break;
			}
			add(out, m, n);
		}
	}
	json_decref(j);
	if (rv)
		sl_api__markets_free(out);
	return rv;
}

int sl_api__markets_from_ids(const char *ids, long max, sl_api_markets_t *out, sl_api_input_err_t *e)
{
	out->ids = NULL;
	out->n = 0;
	if (!ids || !ids[0])
		return bad(e, 400, "invalid_query", "ids=<market>,<market>,... is required%s", NULL);
	for (const char *tok = ids; tok;) {
		const char *comma = strchr(tok, ',');
		size_t n = comma ? (size_t)(comma - tok) : strlen(tok);
		if (!sl_rstate_market_valid(tok, n)) {
			sl_api__markets_free(out);
			return bad(e, 400, "invalid_market", "ids must be market ids separated by commas%s", NULL);
		}
		add(out, tok, n);
		if ((long)out->n > max) {
			sl_api__markets_free(out);
			return bad(e, 413, "too_many_markets", "too many market ids%s", NULL);
		}
		tok = comma ? comma + 1 : NULL;
	}
	return 0;
}
