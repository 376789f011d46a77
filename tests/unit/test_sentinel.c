/* test_sentinel.c: src/redis/sentinel.c, the Redis primary through
 * Sentinel, against a real redis-server pair and a real redis-sentinel.
 *
 * Table rows: every malformed --redis-sentinels list and master name is
 * refused with an error naming the setting, and sl_rconn_open refuses it
 * too (NULL, nothing started). Live: a primary, its replica and one
 * Sentinel (quorum 1) on free ports; a connection opened with the
 * Sentinel connects to the primary it names; after SENTINEL FAILOVER
 * (the old primary stays up, demoted: only the poll can notice) the same
 * connection moves to the promoted one by itself, and a command there
 * finds role master. A Sentinel that is down does not stop a connection
 * through the next one in the list. Every test closes its connection and
 * asserts uv_loop_close() == 0 under ASan/LSan.
 * Without redis-server and redis-sentinel installed, the live tests fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/log.h"
#include "redis/rconn.h"
#include "redis/sentinel.h"
#include "redis_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- table rows ---- */
static void test_check_rows(void **state)
{
	(void)state;
	static const char *const good[] = {"127.0.0.1:26379", "a:1,b:2,c:3", "[::1]:26379", "h-1.example_x:65535",
					   "localhost:26379,[::1]:1"};
	static const char *const bad[] = {"",         "host",     "host:",      ":1",        "h:0",
					  "h:65536",  "h:12a",    "h:1,",       ",h:1",      "[::1]26379",
					  "[::1:5",   "h/x:1",    "u@h:1",      "h:1 ,h:2",  "h:123456",
					  "h::1",     "[]:1"};
	sl_err_t err = {0};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (sl_sentinel_check(good[i], "sluice", &err) != 0)
			fail_msg("refused %s: %s", good[i], err.msg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (sl_sentinel_check(bad[i], "sluice", &err) == 0)
			fail_msg("took %s", bad[i]);
		assert_non_null(strstr(err.msg, "--redis-sentinels"));
	}
	char many[400] = "";
	for (int i = 0; i < 17; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sh:%d", i ? "," : "", 1000 + i);
	assert_int_not_equal(sl_sentinel_check(many, "sluice", &err), 0);
	assert_non_null(strstr(err.msg, "more than 16"));
	static const char *const bad_master[] = {"", "a b", "tab\there"};
	for (size_t i = 0; i < sizeof(bad_master) / sizeof(bad_master[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_not_equal(sl_sentinel_check("h:1", bad_master[i], &err), 0);
		assert_non_null(strstr(err.msg, "--redis-master-name"));
	}
	assert_int_not_equal(sl_sentinel_check("h:1", NULL, &err), 0);
}

static void test_open_refuses_bad_list(void **state)
{
	(void)state;
	uv_loop_t loop;
	uv_loop_init(&loop);
	sl_err_t err = {0};
	sl_rconn_opts_t o = {.name = "t"};
	sl_redis_ha_t ha = {"nope", "sluice"};
	assert_null(sl_sentinel_open(&loop, "redis://127.0.0.1:1/0", &o, &ha, &err));
	assert_non_null(strstr(err.msg, "--redis-sentinels 'nope'"));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- live ---- */
typedef struct fixture {
	uv_loop_t loop;
	pid_t primary, replica, sentinel;
	int pport, rport, sport, dead_port;
	char conf[128];
	int ups, downs;
	bool closed;
	char role[32];
	int port_seen;
	bool replied;
} fixture_t;

static int teardown(void **state)
{
	fixture_t *f = *state;
	tu_reap(f->sentinel);
	tu_reap(f->replica);
	tu_reap(f->primary);
	if (f->conf[0])
		unlink(f->conf);
	free(f);
	return 0;
}

static int setup(void **state)
{
	if (system("command -v redis-server >/dev/null 2>&1 && command -v redis-sentinel >/dev/null 2>&1") != 0)
		return -1;
	sl_log_setup("test", getenv("SL_TEST_LOG") ? "debug" : "off", "logfmt");
	fixture_t *f = calloc(1, sizeof(*f));
	*state = f;
	f->pport = tu_free_port();
	f->rport = tu_free_port();
	f->sport = tu_free_port();
	f->dead_port = tu_free_port();
	f->primary = tu_redis_start(f->pport, 0);
	f->replica = f->primary > 0 ? tu_redis_start(f->rport, f->pport) : -1;
	if (f->replica > 0) {
		snprintf(f->conf, sizeof(f->conf), "/tmp/sl-test-sentinel-%d.conf", f->sport);
		FILE *c = fopen(f->conf, "w");
		if (c) {
			fprintf(c,
				"port %d\nbind 127.0.0.1\nsentinel monitor m 127.0.0.1 %d 1\n"
				"sentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 5000\n",
				f->sport, f->pport);
			fclose(c);
			const char *sargv[] = {"redis-sentinel", f->conf, "--loglevel", "warning", NULL};
			f->sentinel = tu_spawn(sargv, f->sport);
		}
	}
	if (f->sentinel <= 0 || f->dead_port <= 0) {
		/* cmocka runs no teardown after a failed setup. */
		teardown(state);
		return -1;
	}
	uv_loop_init(&f->loop);
	return 0;
}

static void state_cb(sl_rconn_t *rc, bool up, void *arg)
{
	(void)rc;
	fixture_t *f = arg;
	if (up)
		f->ups++;
	else
		f->downs++;
}

static void closed_cb(void *arg)
{
	((fixture_t *)arg)->closed = true;
}

static void role_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	fixture_t *f = arg;
	f->replied = true;
	f->role[0] = 0;
	if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
	    reply->element[0]->type == REDIS_REPLY_STRING)
		snprintf(f->role, sizeof(f->role), "%s", reply->element[0]->str);
}

static void port_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	fixture_t *f = arg;
	if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2)
		f->port_seen = atoi(reply->element[1]->str);
}

static void run_for(fixture_t *f, int64_t ms, bool (*done)(fixture_t *))
{
	int64_t deadline = sl_clock_mono_ms() + ms;
	while (!done(f) && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static bool is_up(fixture_t *f)
{
	return f->ups > 0;
}
static bool is_closed(fixture_t *f)
{
	return f->closed;
}
static bool has_port(fixture_t *f)
{
	return f->port_seen != 0;
}
static bool moved(fixture_t *f)
{
	return f->ups >= 2;
}
static bool replied(fixture_t *f)
{
	return f->replied;
}

/* The port of the server the connection is on (CONFIG GET port). */
static int server_port(fixture_t *f, sl_rconn_t *rc)
{
	f->port_seen = 0;
	assert_int_equal(sl_rconn_command(rc, port_cb, f, "CONFIG GET port"), 0);
	run_for(f, 5000, has_port);
	return f->port_seen;
}

static void close_and_check(fixture_t *f, sl_rconn_t *rc)
{
	sl_rconn_close(rc, closed_cb, f);
	run_for(f, 5000, is_closed);
	assert_true(f->closed);
	sl_rconn_free(rc);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void test_follows_failover(void **state)
{
	fixture_t *f = *state;
	/* A dead Sentinel first in the list: the next one answers. */
	char list[64];
	snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", f->dead_port, f->sport);
	sl_err_t err = {0};
	/* The URL's address is wrong on purpose: only the Sentinel's counts. */
	sl_rconn_opts_t o = {.name = "t"};
	sl_redis_ha_t ha = {list, "m"};
	sl_rconn_t *rc = sl_sentinel_open(&f->loop, "redis://127.0.0.1:1/0", &o, &ha, &err);
	assert_non_null(rc);
	sl_rconn_on_state(rc, state_cb, f);
	run_for(f, 10000, is_up);
	assert_int_equal(f->ups, 1);
	assert_int_equal(server_port(f, rc), f->pport);

	/* A forced failover keeps the old primary up (demoted): the poll must
	 * notice. Sentinel may need a moment to know the replica first. */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "redis-cli -p %d sentinel failover m 2>/dev/null | grep -q OK", f->sport);
	bool asked = false;
	for (int i = 0; i < 100 && !asked; i++) {
		asked = system(cmd) == 0;
		if (!asked)
			usleep(200000);
	}
	assert_true(asked);
	run_for(f, 20000, moved);
	assert_true(f->ups >= 2);
	assert_int_equal(server_port(f, rc), f->rport);
	f->replied = false;
	assert_int_equal(sl_rconn_command(rc, role_cb, f, "ROLE"), 0);
	run_for(f, 5000, replied);
	assert_string_equal(f->role, "master");
	close_and_check(f, rc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_rows),
		cmocka_unit_test(test_open_refuses_bad_list),
		cmocka_unit_test_setup_teardown(test_follows_failover, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
