/* test_pub_route.c: the publisher's routing table (publisher_route.h)
 * driven with fake Redis and fake clients: the order of the subscribe flow
 * (no `subscribed` before every market of the channel is confirmed), one
 * shared frame per update for all recipients, market-set changes, leaving,
 * Redis loss and recovery, failed reads, and `closed`.
 */
#include "roles/publisher/publisher_route.h"

#include "core/alloc.h"
#include "core/frame.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAXLOG 256

/* What the table asked of Redis and of the clients. */
typedef struct fake {
	bool up;
	char subs[MAXLOG][96];
	int nsubs;
	char unsubs[MAXLOG][96];
	int nunsubs;
	char loadkey[MAXLOG][96];
	sl_pub_load_t *loads[MAXLOG];
	int nloads;
	bool refuse_load;
	struct {
		sl_pub_member_t *m;
		sl_frame_t *fr;
		bool ctl;
	} pushes[MAXLOG];
	int npushes;
	sl_pub_member_t *closed[MAXLOG];
	int ncloses;
} fake_t;

static int op_subscribe(void *arg, const char *rkey, size_t len)
{
	fake_t *f = arg;
	if (!f->up)
		return -1;
	snprintf(f->subs[f->nsubs++], 96, "%.*s", (int)len, rkey);
	return 0;
}

static int op_unsubscribe(void *arg, const char *rkey, size_t len)
{
	fake_t *f = arg;
	if (!f->up)
		return -1;
	snprintf(f->unsubs[f->nunsubs++], 96, "%.*s", (int)len, rkey);
	return 0;
}

static int op_load(void *arg, const char *key, sl_pub_load_t *ld)
{
	fake_t *f = arg;
	if (f->refuse_load)
		return -1;
	snprintf(f->loadkey[f->nloads], 96, "%s", key);
	f->loads[f->nloads++] = ld;
	return 0;
}

static void op_push(void *arg, sl_pub_member_t *m, sl_frame_t *fr, bool ctl)
{
	fake_t *f = arg;
	f->pushes[f->npushes].m = m;
	f->pushes[f->npushes].fr = sl_frame_ref(fr);
	f->pushes[f->npushes++].ctl = ctl;
}

static void op_close(void *arg, sl_pub_member_t *m)
{
	fake_t *f = arg;
	f->closed[f->ncloses++] = m;
}

static const sl_pub_route_ops_t ops = {op_subscribe, op_unsubscribe, op_load, op_push, op_close, NULL};

static void clear_pushes(fake_t *f)
{
	for (int i = 0; i < f->npushes; i++)
		sl_frame_unref(f->pushes[i].fr);
	f->npushes = 0;
}

static bool subscribed_to(const fake_t *f, const char *rkey)
{
	for (int i = 0; i < f->nsubs; i++)
		if (!strcmp(f->subs[i], rkey))
			return true;
	return false;
}

static bool unsubscribed_from(const fake_t *f, const char *rkey)
{
	for (int i = 0; i < f->nunsubs; i++)
		if (!strcmp(f->unsubs[i], rkey))
			return true;
	return false;
}

static void confirm(sl_pub_route_t *rt, const char *rkey)
{
	sl_pub_route_subscribed(rt, rkey, strlen(rkey));
}

static void answer(sl_pub_route_t *rt, fake_t *f, int i, const char *const *markets, size_t n)
{
	sl_iov_t iov[16];
	for (size_t k = 0; k < n; k++)
		iov[k] = (sl_iov_t){markets[k], strlen(markets[k])};
	sl_pub_load_t *ld = f->loads[i];
	f->loads[i] = NULL;
	sl_pub_route_markets(rt, ld, 0, iov, n);
}

static int count_pushes(const fake_t *f, const sl_pub_member_t *m, const char *type)
{
	int n = 0;
	for (int i = 0; i < f->npushes; i++)
		if (f->pushes[i].m == m && strstr(f->pushes[i].fr->data, type))
			n++;
	return n;
}

static const char *UPD = "{\"type\":\"update\",\"market\":\"m-1\",\"value\":1,\"offset\":7,\"partition\":0,\"ts\":1}";

/* Bring channel "c1" with markets m-1, m-2 to ready for member m. */
static sl_pub_route_t *ready_channel(fake_t *f, sl_pub_member_t *m)
{
	f->up = true;
	sl_pub_route_t *rt = sl_pub_route_new("p:", &ops, f);
	sl_pub_route_redis_state(rt, true);
	sl_pub_route_join(rt, m, "c1");
	assert_true(subscribed_to(f, "p:stream:c1"));
	assert_int_equal(f->nloads, 0); /* the set is read only after the private channel is confirmed */
	confirm(rt, "p:stream:c1");
	assert_int_equal(f->nloads, 1);
	assert_string_equal(f->loadkey[0], "p:channel:c1:markets");
	const char *mk[] = {"m-1", "m-2"};
	answer(rt, f, 0, mk, 2);
	assert_true(subscribed_to(f, "p:market:m-1"));
	assert_true(subscribed_to(f, "p:market:m-2"));
	confirm(rt, "p:market:m-1");
	assert_int_equal(count_pushes(f, m, "subscribed"), 0); /* m-2 not confirmed yet */
	assert_false(m->acked);
	confirm(rt, "p:market:m-2");
	assert_int_equal(count_pushes(f, m, "\"subscribed\""), 1);
	assert_true(m->acked);
	return rt;
}

static void finish(sl_pub_route_t *rt, fake_t *f)
{
	clear_pushes(f);
	for (int i = 0; i < f->nloads; i++)
		if (f->loads[i])
			sl_pub_route_markets(rt, f->loads[i], -1, NULL, 0);
	sl_pub_route_free(rt);
	assert_int_equal(sl_frame_live(), 0);
}

static void test_subscribe_order(void **state)
{
	(void)state;
	fake_t f = {0};
	sl_pub_member_t m = {0};
	sl_pub_route_t *rt = ready_channel(&f, &m);
	/* A second member of a ready channel is acknowledged at once. */
	sl_pub_member_t m2 = {0};
	sl_pub_route_join(rt, &m2, "c1");
	assert_true(m2.acked);
	assert_int_equal(f.nsubs, 3); /* nothing subscribed twice */
	sl_pub_route_stats_t st;
	sl_pub_route_stats(rt, &st);
	assert_int_equal(st.chans, 1);
	assert_int_equal(st.markets, 2);
	assert_int_equal(st.chans_ready, 1);
	assert_int_equal(st.chans_by_state[2], 1); /* active */
	sl_pub_route_leave(rt, &m);
	sl_pub_route_leave(rt, &m2);
	finish(rt, &f);
}

static void test_one_frame_for_all(void **state)
{
	(void)state;
	fake_t f = {0};
	sl_pub_member_t a = {0}, b = {0}, c = {0}, late = {0};
	sl_pub_route_t *rt = ready_channel(&f, &a);
	sl_pub_route_join(rt, &b, "c1");
	/* A second channel watching m-1 too, not ready yet for `late`. */
	sl_pub_route_join(rt, &c, "c2");
	confirm(rt, "p:stream:c2");
	const char *mk[] = {"m-1"};
	answer(rt, &f, 1, mk, 1);
	assert_true(c.acked); /* m-1 was already confirmed on this loop */
	sl_pub_route_join(rt, &late, "c3");
	clear_pushes(&f);
	sl_pub_route_message(rt, "p:market:m-1", 12, UPD, strlen(UPD));
	assert_int_equal(f.npushes, 3);
	for (int i = 1; i < f.npushes; i++)
		assert_ptr_equal(f.pushes[i].fr, f.pushes[0].fr); /* encoded once, shared */
	assert_int_equal(count_pushes(&f, &late, "update"), 0);
	sl_pub_route_stats_t st;
	sl_pub_route_stats(rt, &st);
	assert_int_equal(st.deliveries, 3);
	/* A market nobody here watches is not routed. */
	sl_pub_route_message(rt, "p:market:m-9", 12, UPD, strlen(UPD));
	sl_pub_route_stats(rt, &st);
	assert_int_equal(st.unrouted, 1);
	sl_pub_route_leave(rt, &a);
	sl_pub_route_leave(rt, &b);
	sl_pub_route_leave(rt, &c);
	sl_pub_route_leave(rt, &late);
	finish(rt, &f);
}

static void test_markets_changed(void **state)
{
	(void)state;
	fake_t f = {0};
	sl_pub_member_t a = {0}, c = {0};
	sl_pub_route_t *rt = ready_channel(&f, &a);
	sl_pub_route_join(rt, &c, "c2");
	confirm(rt, "p:stream:c2");
	const char *m1[] = {"m-1"};
	answer(rt, &f, 1, m1, 1);
	const char *msg = "{\"type\":\"markets_changed\"}";
	sl_pub_route_message(rt, "p:stream:c1", 11, msg, strlen(msg));
	assert_int_equal(f.nloads, 3);
	/* Changed again while the read is in flight: read once more after. */
	sl_pub_route_message(rt, "p:stream:c1", 11, msg, strlen(msg));
	assert_int_equal(f.nloads, 3);
	const char *now[] = {"m-1", "m-3"};
	answer(rt, &f, 2, now, 2);
	assert_int_equal(f.nloads, 4);
	answer(rt, &f, 3, now, 2);
	assert_true(subscribed_to(&f, "p:market:m-3"));
	assert_true(unsubscribed_from(&f, "p:market:m-2"));
	assert_false(unsubscribed_from(&f, "p:market:m-1")); /* c2 still watches it */
	assert_int_equal(count_pushes(&f, &a, "markets_changed"), 0); /* never forwarded */
	sl_pub_route_unsubscribed(rt, "p:market:m-2", 12);
	sl_pub_route_stats_t st;
	sl_pub_route_stats(rt, &st);
	assert_int_equal(st.markets, 2);
	sl_pub_route_leave(rt, &a);
	sl_pub_route_leave(rt, &c);
	finish(rt, &f);
}

static void test_leave_and_return(void **state)
{
	(void)state;
	fake_t f = {0};
	sl_pub_member_t a = {0};
	sl_pub_route_t *rt = ready_channel(&f, &a);
	sl_pub_route_leave(rt, &a);
	assert_true(unsubscribed_from(&f, "p:stream:c1"));
	assert_true(unsubscribed_from(&f, "p:market:m-1"));
	assert_true(unsubscribed_from(&f, "p:market:m-2"));
	/* Back while the UNSUBSCRIBE is in flight: no SUBSCRIBE until it is confirmed. */
	int before = f.nsubs;
	sl_pub_route_join(rt, &a, "c1");
	assert_int_equal(f.nsubs, before);
	sl_pub_route_unsubscribed(rt, "p:stream:c1", 11);
	assert_int_equal(f.nsubs, before + 1);
	confirm(rt, "p:stream:c1");
	const char *mk[] = {"m-1", "m-2"};
	answer(rt, &f, 1, mk, 2);
	sl_pub_route_unsubscribed(rt, "p:market:m-1", 12);
	sl_pub_route_unsubscribed(rt, "p:market:m-2", 12);
	confirm(rt, "p:market:m-1");
	confirm(rt, "p:market:m-2");
	assert_true(a.acked);
	sl_pub_route_leave(rt, &a);
	sl_pub_route_unsubscribed(rt, "p:stream:c1", 11);
	sl_pub_route_unsubscribed(rt, "p:market:m-1", 12);
	sl_pub_route_unsubscribed(rt, "p:market:m-2", 12);
	sl_pub_route_stats_t st;
	sl_pub_route_stats(rt, &st);
	assert_int_equal(st.chans + st.markets, 0); /* everything freed */
	finish(rt, &f);
}

static void test_redis_lost(void **state)
{
	(void)state;
	fake_t f = {0};
	sl_pub_member_t a = {0};
	sl_pub_route_t *rt = ready_channel(&f, &a);
	f.up = false;
	sl_pub_route_redis_state(rt, false);
	f.up = true;
	f.nsubs = 0;
	clear_pushes(&f);
	sl_pub_route_redis_state(rt, true);
	assert_true(subscribed_to(&f, "p:stream:c1"));
	assert_true(subscribed_to(&f, "p:market:m-1"));
	confirm(rt, "p:stream:c1");
	confirm(rt, "p:market:m-1");
	confirm(rt, "p:market:m-2");
	assert_int_equal(count_pushes(&f, &a, "resumed"), 0); /* the set is not read yet */
	const char *mk[] = {"m-1", "m-2"};
	answer(rt, &f, 1, mk, 2);
	assert_int_equal(count_pushes(&f, &a, "\"resumed\":true"), 1);
	sl_pub_route_stats_t st;
	sl_pub_route_stats(rt, &st);
	assert_int_equal(st.resubscribes, 1);
	sl_pub_route_leave(rt, &a);
	finish(rt, &f);
}

static void test_failed_read_and_closed(void **state)
{
	(void)state;
	fake_t f = {.up = true};
	sl_pub_member_t a = {0}, b = {0};
	sl_pub_route_t *rt = sl_pub_route_new("p:", &ops, &f);
	sl_pub_route_redis_state(rt, true);
	f.refuse_load = true;
	sl_pub_route_join(rt, &a, "c1");
	confirm(rt, "p:stream:c1");
	assert_int_equal(f.nloads, 0);
	f.refuse_load = false;
	sl_pub_route_retry(rt);
	assert_int_equal(f.nloads, 1);
	sl_pub_route_markets(rt, f.loads[0], -5, NULL, 0); /* Redis failed the read */
	f.loads[0] = NULL;
	sl_pub_route_retry(rt);
	assert_int_equal(f.nloads, 2);
	answer(rt, &f, 1, NULL, 0); /* a channel with no markets is ready at once */
	assert_true(a.acked);
	sl_pub_route_join(rt, &b, "c1");
	const char *closed = "{\"type\":\"closed\",\"channel\":\"c1\"}";
	sl_pub_route_message(rt, "p:stream:c1", 11, closed, strlen(closed));
	assert_int_equal(count_pushes(&f, &a, "closed"), 1);
	assert_int_equal(count_pushes(&f, &b, "closed"), 1);
	assert_int_equal(f.ncloses, 2);
	sl_pub_route_leave(rt, &a);
	sl_pub_route_leave(rt, &b);
	finish(rt, &f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subscribe_order),     cmocka_unit_test(test_one_frame_for_all),
		cmocka_unit_test(test_markets_changed),     cmocka_unit_test(test_leave_and_return),
		cmocka_unit_test(test_redis_lost),          cmocka_unit_test(test_failed_read_and_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
