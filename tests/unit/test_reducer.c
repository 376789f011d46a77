/* test_reducer.c: the reducer's model (src/roles/reducer/reducer_model.c),
 * driven without Kafka or Redis: partitions through their states, loading,
 * records and replays, subscriptions kept in both directions, snapshots
 * (valid JSON, only loaded partitions, only the markets with state), the
 * memory of recent begins, and which offsets get committed. ASan checks
 * that forgetting a partition frees everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "roles/reducer/reducer_model.h"

#include <jansson.h>
#include <string.h>

#define S(s) (s), (sizeof(s) - 1)

static const char CH1[] = "00000000-0000-4000-8000-000000000001";
static const char CH2[] = "00000000-0000-4000-8000-000000000002";

static void test_partition_states(void **state)
{
	(void)state;
	sl_rmodel_t *m = sl_rmodel_new();
	assert_null(sl_rmodel_part(m, 3));
	sl_rpart_t *p = sl_rmodel_assign(m, 3);
	assert_non_null(p);
	assert_int_equal(p->st, SL_PART_LOADING);
	assert_true(p->acked_next == -1);
	assert_int_equal(sl_rmodel_nparts(m), 4);
	assert_int_equal(sl_rmodel_owned(m), 1);
	assert_int_equal(sl_rmodel_loading(m), 1);
	sl_rmodel_assign(m, 0);
	assert_int_equal(sl_rmodel_loading(m), 2);
	sl_rmodel_loaded(m, p);
	assert_int_equal(p->st, SL_PART_READY);
	assert_int_equal(sl_rmodel_loading(m), 1);
	/* Revoking a partition that still loads stops counting it as loading. */
	sl_rmodel_revoking(m, sl_rmodel_part(m, 0));
	assert_int_equal(sl_rmodel_loading(m), 0);
	assert_int_equal(sl_rmodel_part(m, 0)->st, SL_PART_REVOKING);
	sl_rmodel_forget(m, 0);
	assert_null(sl_rmodel_part(m, 0));
	assert_int_equal(sl_rmodel_owned(m), 1);
	/* Assigned again: a fresh, empty, loading partition. */
	sl_rmodel_subscribe(p, S("m-1"), S(CH1));
	p = sl_rmodel_assign(m, 3);
	assert_int_equal(p->st, SL_PART_LOADING);
	assert_int_equal(sl_smap_count(p->markets), 0);
	assert_int_equal(sl_rmodel_subscriptions(m), 0);
	sl_rmodel_forget(m, 99); /* not owned: nothing */
	assert_null(sl_rmodel_assign(m, -1));
	sl_rmodel_free(m);
}

static void test_load_and_records(void **state)
{
	(void)state;
	sl_rmodel_t *m = sl_rmodel_new();
	sl_rpart_t *p = sl_rmodel_assign(m, 1);
	sl_rmodel_load_sub(p, S("m-1"), S(CH1));
	sl_rmodel_load_state(p, S("m-1"), 10, 1000, S("1.5"));
	sl_rmodel_load_state(p, S("m-1"), 7, 900, S("1.2")); /* older: ignored */
	sl_mkt_t *mk = sl_rmodel_market(p, S("m-1"));
	assert_non_null(mk);
	assert_true(mk->offset == 10);
	assert_string_equal(mk->json, "1.5");
	/* A failed load starts over empty. */
	sl_rmodel_clear(p);
	assert_null(sl_rmodel_market(p, S("m-1")));
	assert_int_equal(p->st, SL_PART_LOADING);
	sl_rmodel_load_state(p, S("m-1"), 10, 1000, S("1.5"));
	sl_rmodel_loaded(m, p);
	/* Records: newer (and equal) apply; older is a replay and changes nothing. */
	assert_true(sl_rmodel_update(p, S("m-1"), 11, 1100, S("{\"p\":2}")));
	mk = sl_rmodel_market(p, S("m-1"));
	assert_true(mk->offset == 11 && mk->ts == 1100);
	assert_string_equal(mk->json, "{\"p\":2}");
	assert_true(sl_rmodel_update(p, S("m-1"), 11, 1100, S("{\"p\":2}")));
	assert_false(sl_rmodel_update(p, S("m-1"), 9, 900, S("0")));
	assert_true(mk->offset == 11);
	assert_string_equal(mk->json, "{\"p\":2}");
	/* A market seen first in a record. */
	assert_true(sl_rmodel_update(p, S("m-2"), 0, 5, S("\"x\"")));
	assert_false(sl_rmodel_watched(p, S("m-2")));
	sl_rmodel_free(m);
}

static void test_subscriptions(void **state)
{
	(void)state;
	sl_rmodel_t *m = sl_rmodel_new();
	sl_rpart_t *a = sl_rmodel_assign(m, 0), *b = sl_rmodel_assign(m, 1);
	sl_rmodel_loaded(m, a);
	sl_rmodel_loaded(m, b);
	sl_rmodel_subscribe(a, S("m-1"), S(CH1));
	sl_rmodel_subscribe(a, S("m-1"), S(CH1)); /* twice: once */
	sl_rmodel_subscribe(a, S("m-1"), S(CH2));
	sl_rmodel_subscribe(b, S("m-2"), S(CH1));
	assert_int_equal(sl_rmodel_subscriptions(m), 3);
	assert_true(sl_rmodel_watched(a, S("m-1")));
	assert_int_equal(sl_smap_count(sl_smap_get(a->channels, S(CH1))), 1);
	sl_rmodel_unsubscribe(a, S("m-1"), S(CH2));
	assert_int_equal(sl_rmodel_subscriptions(m), 2);
	assert_null(sl_smap_get(a->channels, S(CH2))); /* the empty set is gone */
	assert_true(sl_rmodel_watched(a, S("m-1")));
	sl_rmodel_unsubscribe(a, S("m-1"), S(CH2)); /* not there: nothing */
	/* close: the channel leaves every partition, its markets stay. */
	sl_rmodel_close_channel(m, S(CH1));
	assert_int_equal(sl_rmodel_subscriptions(m), 0);
	assert_false(sl_rmodel_watched(a, S("m-1")));
	assert_false(sl_rmodel_watched(b, S("m-2")));
	assert_null(sl_rmodel_market(a, S("m-1"))->channels);
	assert_int_equal(sl_smap_count(a->channels) + sl_smap_count(b->channels), 0);
	sl_rmodel_free(m);
}

static json_t *parse(const sl_buf_t *b)
{
	json_error_t jerr;
	json_t *j = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	return j;
}

static void test_snapshot(void **state)
{
	(void)state;
	sl_rmodel_t *m = sl_rmodel_new();
	sl_rpart_t *a = sl_rmodel_assign(m, 0), *b = sl_rmodel_assign(m, 5), *c = sl_rmodel_assign(m, 6);
	sl_rmodel_loaded(m, a);
	sl_rmodel_loaded(m, b);
	sl_rmodel_subscribe(a, S("m-1"), S(CH1));
	sl_rmodel_subscribe(a, S("m-3"), S(CH1)); /* no state yet: left out */
	sl_rmodel_subscribe(b, S("m-2"), S(CH1));
	sl_rmodel_load_sub(c, S("m-9"), S(CH1)); /* still loading: left out */
	sl_rmodel_update(a, S("m-1"), 4, 40, S("{\"price\":1.5}"));
	sl_rmodel_update(b, S("m-2"), 8, 80, S("\"two\""));
	sl_rmodel_load_state(c, S("m-9"), 1, 1, S("9"));
	sl_buf_t out = SL_BUF_INIT;
	sl_buf_puts(&out, "kept|");
	assert_false(sl_rmodel_snapshot(m, S(CH2), NULL, &out)); /* not ours: out untouched */
	assert_string_equal(out.data, "kept|");
	sl_buf_reset(&out);
	assert_true(sl_rmodel_snapshot(m, S(CH1), NULL, &out));
	json_t *j = parse(&out);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "snapshot");
	json_t *ms = json_object_get(j, "markets");
	assert_int_equal(json_array_size(ms), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *e = json_array_get(ms, i);
		const char *mk = json_string_value(json_object_get(e, "market"));
		if (!strcmp(mk, "m-1")) {
			assert_int_equal(json_integer_value(json_object_get(e, "offset")), 4);
			assert_int_equal(json_integer_value(json_object_get(e, "partition")), 0);
			assert_true(json_real_value(json_object_get(json_object_get(e, "value"), "price")) == 1.5);
		} else {
			assert_string_equal(mk, "m-2");
			assert_int_equal(json_integer_value(json_object_get(e, "partition")), 5);
			assert_string_equal(json_string_value(json_object_get(e, "value")), "two");
		}
	}
	json_decref(j);
	/* Only one partition. */
	sl_buf_reset(&out);
	assert_true(sl_rmodel_snapshot(m, S(CH1), b, &out));
	j = parse(&out);
	assert_int_equal(json_array_size(json_object_get(j, "markets")), 1);
	json_decref(j);
	/* A partition that holds the channel but no state: an empty snapshot. */
	sl_rmodel_forget(m, 5);
	sl_rmodel_unsubscribe(a, S("m-1"), S(CH1));
	sl_buf_reset(&out);
	assert_true(sl_rmodel_snapshot(m, S(CH1), NULL, &out));
	assert_string_equal(out.data, "{\"type\":\"snapshot\",\"markets\":[]}");
	sl_buf_free(&out);
	sl_rmodel_free(m);
}

static int owed;
static char owed_to[64];
static void owe_cb(const char *ch, size_t n, void *arg)
{
	(void)arg;
	owed++;
	snprintf(owed_to, sizeof(owed_to), "%.*s", (int)n, ch);
}

static void test_recent_begins(void **state)
{
	(void)state;
	sl_rmodel_t *m = sl_rmodel_new();
	sl_rpart_t *p = sl_rmodel_assign(m, 2);
	sl_rmodel_begin(m, S(CH1), 1000);
	sl_rmodel_begin(m, S(CH2), 1000);
	/* Loaded 10 s later with CH1's markets: it owes CH1 a snapshot only. */
	sl_rmodel_load_sub(p, S("m-1"), S(CH1));
	owed = 0;
	sl_rmodel_recent_begins(m, p, 11000, owe_cb, NULL);
	assert_int_equal(owed, 1);
	assert_string_equal(owed_to, CH1);
	/* Past the memory, nothing is owed any more. */
	owed = 0;
	sl_rmodel_recent_begins(m, p, 1000 + SL_RMODEL_BEGIN_MEMORY_MS + 1, owe_cb, NULL);
	assert_int_equal(owed, 0);
	sl_rmodel_free(m);
}

static int ncommits;
static int32_t commit_pid[8];
static int64_t commit_next[8];
static void commit_cb(int32_t pid, int64_t next, void *arg)
{
	(void)arg;
	commit_pid[ncommits] = pid;
	commit_next[ncommits++] = next;
}

static void test_commits(void **state)
{
	(void)state;
	sl_rmodel_t *m = sl_rmodel_new();
	sl_rpart_t *a = sl_rmodel_assign(m, 0), *b = sl_rmodel_assign(m, 1);
	sl_rmodel_loaded(m, a);
	ncommits = 0;
	sl_rmodel_take_commits(m, commit_cb, NULL);
	assert_int_equal(ncommits, 0); /* nothing acknowledged yet */
	sl_rmodel_ack(m, 0, 41);
	sl_rmodel_ack(m, 0, 40); /* an older one does not move it back */
	sl_rmodel_ack(m, 1, 5);  /* b is still loading */
	sl_rmodel_ack(m, 7, 5);  /* not owned: nothing */
	sl_rmodel_take_commits(m, commit_cb, NULL);
	assert_int_equal(ncommits, 1);
	assert_int_equal(commit_pid[0], 0);
	assert_true(commit_next[0] == 42);
	assert_true(a->acked_next == 42 && b->acked_next == 6);
	/* Committed: nothing more until an offset moves. */
	ncommits = 0;
	sl_rmodel_take_commits(m, commit_cb, NULL);
	assert_int_equal(ncommits, 0);
	sl_rmodel_loaded(m, b);
	sl_rmodel_ack(m, 1, 6);
	sl_rmodel_take_commits(m, commit_cb, NULL);
	assert_int_equal(ncommits, 1);
	assert_int_equal(commit_pid[0], 1);
	assert_true(commit_next[0] == 7);
	sl_rmodel_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition_states),
		cmocka_unit_test(test_load_and_records),
		cmocka_unit_test(test_subscriptions),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_recent_begins),
		cmocka_unit_test(test_commits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
