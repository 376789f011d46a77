/* test_reducer_verdict.c: roles/reducer/reducer_verdict.c, the reducers'
 * command check without Kafka or Redis, as a table: a command (parsed by
 * reducer_cmd.c, as the reducer does) and the check script's answer, with
 * the verdict, the reason and the markets kept. Rows: a channel that does
 * not exist, markets the channel holds or not (subscribe, unsubscribe),
 * begin, a close whose record is gone, still there, or still there after
 * the wait; no answer, an error reply, answers of the wrong shape. The
 * script itself runs against a real Redis in
 * tests/integration/1107-reducer-command-check.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "roles/reducer/reducer_verdict.h"

#include <stdio.h>
#include <string.h>

#define CH "6682e7db-7ce5-4810-a2a4-a2c3b3363ca5"

static void parse(const char *json, sl_rcmd_t *c)
{
	const char *why = NULL;
	if (sl_rcmd_parse(json, strlen(json), c, &why) != 0)
		fail_msg("%s: refused (%s)", json, why);
}

/* A reply as the script answers it: an array of integers. */
typedef struct fake {
	redisReply top;
	redisReply el[8];
	redisReply *ptrs[8];
} fake_t;

static redisReply *answer(fake_t *f, int n, const long long *v)
{
	memset(f, 0, sizeof(*f));
	f->top.type = REDIS_REPLY_ARRAY;
	f->top.elements = (size_t)n;
	f->top.element = f->ptrs;
	for (int i = 0; i < n; i++) {
		f->el[i].type = REDIS_REPLY_INTEGER;
		f->el[i].integer = v[i];
		f->ptrs[i] = &f->el[i];
	}
	return &f->top;
}

#define SUB2 "{\"op\":\"subscribe\",\"channel\":\"" CH "\",\"markets\":[\"m-1\",\"m-2\"]}"
#define UNSUB2 "{\"op\":\"unsubscribe\",\"channel\":\"" CH "\",\"markets\":[\"m-1\",\"m-2\"]}"
#define SUB_BAD "{\"op\":\"subscribe\",\"channel\":\"" CH "\",\"markets\":[1,\"bad id\"]}"
#define BEGIN "{\"op\":\"begin\",\"channel\":\"" CH "\",\"markets\":[\"m-1\"]}"
#define CLOSE "{\"op\":\"close\",\"channel\":\"" CH "\",\"markets\":[\"m-1\"]}"

static void test_rows(void **state)
{
	(void)state;
	enum { A = SL_RVERDICT_APPLY, R = SL_RVERDICT_REFUSE, L = SL_RVERDICT_ASK_LATER };
	static const struct {
		const char *what, *cmd;
		int n;             /* elements of the answer */
		long long v[4];
		int64_t waited_ms;
		int act;
		const char *reason;
		size_t nrefused;
		const char *keep;  /* per market: 1 kept, 0 dropped */
	} rows[] = {
		{"subscribe, no channel", SUB2, 1, {0}, 0, R, "unknown_channel", 2, "00"},
		{"subscribe, both held", SUB2, 3, {1, 1, 1}, 0, A, "agrees", 0, "11"},
		{"subscribe, one held", SUB2, 3, {1, 0, 1}, 0, A, "market_mismatch", 1, "01"},
		{"subscribe, none held (forged)", SUB2, 3, {1, 0, 0}, 0, R, "market_mismatch", 2, "00"},
		{"subscribe, answer too short", SUB2, 2, {1, 1}, 0, R, "bad_reply", 2, "00"},
		{"subscribe, answer too long", SUB2, 4, {1, 1, 1, 1}, 0, R, "bad_reply", 2, "00"},
		{"subscribe, only invalid markets", SUB_BAD, 1, {1}, 0, A, "agrees", 0, ""},
		{"subscribe, only invalid markets, no channel", SUB_BAD, 1, {0}, 0, R, "unknown_channel", 0, ""},
		{"unsubscribe, no channel", UNSUB2, 1, {0}, 0, R, "unknown_channel", 2, "00"},
		{"unsubscribe, both removed", UNSUB2, 3, {1, 0, 0}, 0, A, "agrees", 0, "11"},
		{"unsubscribe, one still held", UNSUB2, 3, {1, 1, 0}, 0, A, "market_mismatch", 1, "01"},
		{"unsubscribe, both held (forged)", UNSUB2, 3, {1, 1, 1}, 0, R, "market_mismatch", 2, "00"},
		{"begin, no channel", BEGIN, 1, {0}, 0, R, "unknown_channel", 0, ""},
		{"begin", BEGIN, 1, {1}, 0, A, "agrees", 0, ""},
		{"close, record gone", CLOSE, 1, {0}, 0, A, "agrees", 0, ""},
		{"close, record gone after a wait", CLOSE, 1, {0}, 60000, A, "agrees", 0, ""},
		{"close, record still there", CLOSE, 1, {1}, 0, L, "channel_open", 0, ""},
		{"close, record there just before the bound", CLOSE, 1, {1}, SL_RVERDICT_CLOSE_WAIT_MS - 1, L,
		 "channel_open", 0, ""},
		{"close, record stayed (forged)", CLOSE, 1, {1}, SL_RVERDICT_CLOSE_WAIT_MS, R, "channel_open", 0, ""},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_rcmd_t c;
		parse(rows[i].cmd, &c);
		bool keep[4] = {true, true, true, true};
		fake_t f;
		sl_rverdict_t v = sl_rverdict_judge(&c, answer(&f, rows[i].n, rows[i].v), rows[i].waited_ms, keep);
		if ((int)v.act != rows[i].act)
			fail_msg("%s: verdict %d, want %d", rows[i].what, v.act, rows[i].act);
		if (strcmp(sl_rverdict_reason_name(v.reason), rows[i].reason) != 0)
			fail_msg("%s: reason %s, want %s", rows[i].what, sl_rverdict_reason_name(v.reason), rows[i].reason);
		if (v.nrefused != rows[i].nrefused)
			fail_msg("%s: %zu refused, want %zu", rows[i].what, v.nrefused, rows[i].nrefused);
		char got[8] = "";
		size_t n = sl_rverdict_wants_markets(&c) ? c.n_markets : 0;
		for (size_t k = 0; k < n; k++)
			got[k] = keep[k] ? '1' : '0';
		if (strcmp(got, rows[i].keep) != 0)
			fail_msg("%s: kept %s, want %s", rows[i].what, got, rows[i].keep);
		/* keep may be NULL: the same verdict. */
		sl_rverdict_t v2 = sl_rverdict_judge(&c, &f.top, rows[i].waited_ms, NULL);
		assert_int_equal(v2.act, v.act);
		assert_int_equal(v2.reason, v.reason);
		assert_int_equal(v2.nrefused, v.nrefused);
		sl_rcmd_free(&c);
	}
}

/* No usable answer: ask again, whatever the command. */
static void test_no_answer(void **state)
{
	(void)state;
	const char *cmds[] = {SUB2, UNSUB2, BEGIN, CLOSE};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		sl_rcmd_t c;
		parse(cmds[i], &c);
		bool keep[2];
		redisReply err = {.type = REDIS_REPLY_ERROR, .str = "LOADING Redis is loading", .len = 24};
		redisReply nil = {.type = REDIS_REPLY_NIL};
		redisReply num = {.type = REDIS_REPLY_INTEGER, .integer = 1};
		fake_t f;
		redisReply *empty = answer(&f, 0, NULL);
		const redisReply *bad[] = {NULL, &err, &nil, &num, empty};
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			sl_rverdict_t v = sl_rverdict_judge(&c, bad[k], SL_RVERDICT_CLOSE_WAIT_MS * 2, keep);
			if (v.act != SL_RVERDICT_ASK_AGAIN || v.reason != SL_RVERDICT_AGREES || v.nrefused)
				fail_msg("%s, answer %zu: verdict %d reason %d", cmds[i], k, v.act, v.reason);
		}
		/* The first element not an integer: no answer either. */
		redisReply str = {.type = REDIS_REPLY_STRING, .str = "1", .len = 1};
		redisReply *one[] = {&str};
		redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = one};
		assert_int_equal(sl_rverdict_judge(&c, &arr, 0, keep).act, SL_RVERDICT_ASK_AGAIN);
		sl_rcmd_free(&c);
	}
}

/* A member that is not an integer: refused as a bad reply, never kept. */
static void test_bad_member(void **state)
{
	(void)state;
	sl_rcmd_t c;
	parse(SUB2, &c);
	fake_t f;
	long long v[] = {1, 1, 1};
	answer(&f, 3, v);
	f.el[2].type = REDIS_REPLY_NIL;
	bool keep[2] = {true, true};
	sl_rverdict_t vd = sl_rverdict_judge(&c, &f.top, 0, keep);
	assert_int_equal(vd.act, SL_RVERDICT_REFUSE);
	assert_string_equal(sl_rverdict_reason_name(vd.reason), "bad_reply");
	assert_false(keep[0]);
	assert_false(keep[1]);
	sl_rcmd_free(&c);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(sl_rverdict_wants_markets(&(sl_rcmd_t){.op = SL_RCMD_SUBSCRIBE}));
	assert_true(sl_rverdict_wants_markets(&(sl_rcmd_t){.op = SL_RCMD_UNSUBSCRIBE}));
	assert_false(sl_rverdict_wants_markets(&(sl_rcmd_t){.op = SL_RCMD_BEGIN}));
	assert_false(sl_rverdict_wants_markets(&(sl_rcmd_t){.op = SL_RCMD_CLOSE}));
	assert_string_equal(sl_rverdict_op_name(SL_RCMD_CLOSE), "close");
	assert_string_equal(sl_rverdict_op_name((sl_rcmd_op_t)42), "?");
	assert_string_equal(sl_rverdict_reason_name(SL_RVERDICT_NREASONS), "?");
	/* The script's two outcomes, as the verdict reads them. */
	assert_non_null(strstr(sl_rverdict_script, "return {0}"));
	assert_non_null(strstr(sl_rverdict_script, "SISMEMBER', KEYS[2]"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_no_answer),
		cmocka_unit_test(test_bad_member),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
