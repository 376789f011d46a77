/* test_reducer.c: the reducer's model (src/roles/reducer/reducer_model.c),
 * driven without Kafka or Redis: partitions through their states, loading,
 * records and replays, subscriptions kept in both directions, snapshots
 * (valid JSON, only loaded partitions, only the markets with state), the
 * memory of recent begins, and which offsets get committed. ASan checks
 * that forgetting a partition frees everything.
 * Then the batch path (reducer_batch.c) with Redis mocked by -Wl,--wrap
 * (see WRAP_test_reducer in the Makefile): replies are played by hand, in
 * order, to check that offsets are acknowledged only up to the first
 * failed batch, and in WAIT mode only once a WAIT confirmed them, a short
 * WAIT confirming nothing. This part includes the reducer's internal
 * header on purpose: it tests internals, as libuv's tests do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "redis/rstate.h"
#include "roles/reducer/reducer_int.h"
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

/* ---- the batch path, Redis mocked ---- */
#define MAXCMD 16
static struct {
	sl_rconn_reply_cb cb;
	void *arg;
	bool wait;
} cmds[MAXCMD];
static int ncmds;
static int redis_failed_calls;

int __wrap_sl_rconn_commandargv(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, int argc, const char **argv,
				const size_t *argvlen);
int __wrap_sl_rconn_commandargv(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, int argc, const char **argv,
				const size_t *argvlen)
{
	(void)rc, (void)argv, (void)argvlen;
	assert_true(argc > 0 && ncmds < MAXCMD);
	cmds[ncmds].cb = cb;
	cmds[ncmds].arg = arg;
	cmds[ncmds++].wait = false;
	return 0;
}

int __wrap_sl_rconn_command(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, const char *fmt, ...);
int __wrap_sl_rconn_command(sl_rconn_t *rc, sl_rconn_reply_cb cb, void *arg, const char *fmt, ...)
{
	(void)rc;
	assert_non_null(strstr(fmt, "WAIT"));
	assert_true(ncmds < MAXCMD);
	cmds[ncmds].cb = cb;
	cmds[ncmds].arg = arg;
	cmds[ncmds++].wait = true;
	return 0;
}

bool __wrap_sl_rconn_connected(const sl_rconn_t *rc);
bool __wrap_sl_rconn_connected(const sl_rconn_t *rc)
{
	(void)rc;
	return true;
}

void __wrap_sl_reducer__redis_failed(sl_reducer_t *r);
void __wrap_sl_reducer__redis_failed(sl_reducer_t *r)
{
	r->redis_paused = true;
	redis_failed_calls++;
}

void __wrap_sl_reducer__schedule(sl_reducer_t *r);
void __wrap_sl_reducer__schedule(sl_reducer_t *r)
{
	(void)r;
}

/* Answer command i: an OK, an error, or (WAIT) the number of replicas. */
static void reply(int i, int type, long long n)
{
	redisReply rep = {.type = type, .integer = n, .str = (char *)"ERR mocked", .len = 10};
	assert_true(i < ncmds);
	cmds[i].cb(NULL, &rep, cmds[i].arg);
}

static sl_reducer_t *reducer_new(int wait_replicas)
{
	static sl_metric_t *c, *h;
	if (!c) {
		c = sl_metric_counter("test_reducer_counter", "", "test");
		h = sl_metric_histogram("test_reducer_histogram", "", "test", sl_metric_latency_ms_bounds,
					sl_metric_latency_ms_nbounds);
	}
	sl_reducer_t *r = sl_xcalloc(1, sizeof(*r));
	r->m.failed = r->m.batches = r->m.messages_out = r->m.wait_short = c;
	r->m.latency = r->m.pipeline_cmds = r->m.batch_records = h;
	r->rc = (sl_rconn_t *)r; /* never dereferenced: every use is mocked */
	r->prefix = "t";
	r->max_inflight = 8;
	r->wait_replicas = wait_replicas;
	r->wait_timeout_ms = 10;
	r->model = sl_rmodel_new();
	sl_rmodel_loaded(r->model, sl_rmodel_assign(r->model, 0));
	sl_reducer__io_new(r, 0);
	ncmds = redis_failed_calls = 0;
	return r;
}

static void reducer_free(sl_reducer_t *r)
{
	assert_null(r->inflight_head);
	assert_int_equal(r->ninflight, 0);
	sl_reducer__drop_retries(r);
	assert_int_equal(sl_rmodel_part(r->model, 0)->inflight, 0);
	sl_reducer__io_forget(r, 0);
	free(r->pio);
	sl_rmodel_free(r->model);
	free(r);
}

/* n records of partition 0 from offset first, one market each: one EVAL. */
static sl_batch_t *batch_new(sl_reducer_t *r, int64_t first, int n)
{
	sl_batch_t *b = sl_xcalloc(1, sizeof(*b));
	b->r = r;
	b->recs = sl_xcalloc((size_t)n, sizeof(*b->recs));
	b->n = b->cap = (size_t)n;
	for (int i = 0; i < n; i++) {
		sl_rec_t *rec = &b->recs[i];
		char market[16];
		int mlen = snprintf(market, sizeof(market), "m-%d", i);
		rec->partition = 0;
		rec->offset = first + i;
		rec->moff = (uint32_t)b->text.len;
		rec->mlen = (uint32_t)mlen;
		sl_buf_append(&b->text, market, (size_t)mlen);
		rec->joff = (uint32_t)b->text.len;
		sl_buf_append(&b->text, "1", 1);
		rec->jlen = 1;
	}
	return b;
}

static int retries(const sl_reducer_t *r)
{
	int n = 0;
	for (const sl_batch_t *b = r->retry_head; b; b = b->next)
		n++;
	return n;
}

/* An error reply leaves the connection up, so a later batch can succeed
 * while an earlier one failed: its offsets must not be acknowledged (the
 * acknowledged offset only moves forward and would pass the failed
 * records); it waits behind the failed one and both are resent in order. */
static void test_batch_after_failed_one(void **state)
{
	(void)state;
	sl_reducer_t *r = reducer_new(0);
	sl_batch_t *b1 = batch_new(r, 10, 2), *b2 = batch_new(r, 12, 2);
	sl_reducer__send(r, b1);
	sl_reducer__send(r, b2);
	assert_int_equal(ncmds, 2);
	reply(0, REDIS_REPLY_ERROR, 0);
	reply(1, REDIS_REPLY_STATUS, 0);
	assert_int_equal(redis_failed_calls, 2);
	assert_int_equal(retries(r), 2);
	assert_ptr_equal(r->retry_head, b1);
	assert_true(sl_rmodel_part(r->model, 0)->acked_next == -1);
	/* Redis is back: resent in order, and now acknowledged. */
	r->redis_paused = false;
	sl_reducer__resend(r);
	assert_int_equal(ncmds, 4);
	reply(2, REDIS_REPLY_INTEGER, 1);
	assert_true(sl_rmodel_part(r->model, 0)->acked_next == 12);
	reply(3, REDIS_REPLY_INTEGER, 1);
	assert_true(sl_rmodel_part(r->model, 0)->acked_next == 14);
	assert_int_equal(retries(r), 0);
	reducer_free(r);
}

/* WAIT mode: the same order, and no WAIT may confirm a batch that waits
 * behind a failed one. */
static void test_wait_after_failed_batch(void **state)
{
	(void)state;
	sl_reducer_t *r = reducer_new(1);
	sl_reducer__send(r, batch_new(r, 0, 2));
	sl_reducer__send(r, batch_new(r, 2, 2));
	sl_reducer__send(r, batch_new(r, 4, 2));
	reply(0, REDIS_REPLY_STATUS, 0); /* 0..1 written */
	reply(1, REDIS_REPLY_ERROR, 0);  /* 2..3 failed */
	reply(2, REDIS_REPLY_STATUS, 0); /* 4..5 written, behind a failure */
	assert_int_equal(retries(r), 2);
	sl_reducer__confirm(r);
	assert_int_equal(ncmds, 4);
	assert_true(cmds[3].wait);
	reply(3, REDIS_REPLY_INTEGER, 1);
	/* Confirmed up to the failed batch, not past it. */
	assert_true(sl_rmodel_part(r->model, 0)->acked_next == 2);
	sl_reducer__confirm(r);
	assert_int_equal(ncmds, 4); /* nothing left to confirm */
	reducer_free(r);
}

/* WAIT mode: Redis accepting is not enough; a short WAIT confirms
 * nothing (asked again a second later), and a later WAIT confirms every
 * batch finished before it, including those before the short one. */
static void test_wait_confirms(void **state)
{
	(void)state;
	sl_reducer_t *r = reducer_new(1);
	sl_reducer__confirm(r);
	assert_int_equal(ncmds, 0); /* nothing written: no WAIT */
	sl_reducer__send(r, batch_new(r, 0, 2));
	reply(0, REDIS_REPLY_STATUS, 0);
	assert_true(sl_rmodel_part(r->model, 0)->acked_next == -1);
	sl_reducer__confirm(r);
	assert_int_equal(ncmds, 2);
	assert_true(cmds[1].wait);
	sl_reducer__confirm(r); /* one WAIT at a time */
	assert_int_equal(ncmds, 2);
	sl_reducer__send(r, batch_new(r, 2, 2)); /* after the WAIT */
	reply(1, REDIS_REPLY_INTEGER, 0);       /* short */
	assert_true(sl_rmodel_part(r->model, 0)->acked_next == -1);
	reply(2, REDIS_REPLY_STATUS, 0);
	sl_reducer__confirm(r);
	assert_int_equal(ncmds, 3); /* not before a second has passed */
	r->wait_retry_ms = 0;
	sl_reducer__confirm(r);
	assert_int_equal(ncmds, 4);
	reply(3, REDIS_REPLY_INTEGER, 1);
	assert_true(sl_rmodel_part(r->model, 0)->acked_next == 4);
	ncommits = 0;
	sl_rmodel_take_commits(r->model, commit_cb, NULL);
	assert_int_equal(ncommits, 1);
	assert_true(commit_next[0] == 4);
	reducer_free(r);
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
		cmocka_unit_test(test_batch_after_failed_one),
		cmocka_unit_test(test_wait_after_failed_batch),
		cmocka_unit_test(test_wait_confirms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
