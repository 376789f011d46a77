/* test_rconn.c: src/redis/rconn.c against a real redis-server.
 *
 * Each test starts its own redis-server on a free port (no persistence) and
 * drives an sl_rconn_t on a private libuv loop: commands and replies,
 * pipelining order, subscribe/unsubscribe, a reply timeout (the server is
 * frozen with SIGSTOP), a Redis restart (reconnect + state callback), and a
 * bad URL. Every test closes its connection and asserts uv_loop_close()==0,
 * and runs under ASan/LSan, so a wrapper left behind fails the suite.
 * Without redis-server installed, every test fails (setup refuses).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/log.h"
#include "redis/rconn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct fixture {
	uv_loop_t loop;
	pid_t pid;
	int port;
	char url[64];
	int ups, downs;
	bool closed;
} fixture_t;

static int pick_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void start_redis(fixture_t *f)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", f->port);
	f->pid = fork();
	if (f->pid == 0) {
		int null = open("/dev/null", 1);
		dup2(null, 1);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
		       "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && !port_open(f->port); i++)
		usleep(10000);
	assert_true(port_open(f->port));
}

static void stop_redis(fixture_t *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGCONT);
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
}

static int setup(void **state)
{
	if (system("command -v redis-server >/dev/null 2>&1") != 0)
		return -1;
	sl_log_setup("test", getenv("SL_TEST_LOG") ? "debug" : "off", "logfmt");
	fixture_t *f = calloc(1, sizeof(*f));
	uv_loop_init(&f->loop);
	f->port = pick_port();
	snprintf(f->url, sizeof(f->url), "redis://127.0.0.1:%d/0", f->port);
	start_redis(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	stop_redis(f);
	free(f);
	return 0;
}

static void run_until(fixture_t *f, const bool *flag, int64_t ms)
{
	int64_t deadline = sl_clock_mono_ms() + ms;
	while (!*flag && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void run_until_ups(fixture_t *f, int ups, int64_t ms)
{
	int64_t deadline = sl_clock_mono_ms() + ms;
	while (f->ups < ups && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
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

static sl_rconn_t *open_conn(fixture_t *f)
{
	sl_err_t err = {0};
	sl_rconn_t *rc = sl_rconn_new(&f->loop, f->url, "test", &err);
	assert_non_null(rc);
	sl_rconn_on_state(rc, state_cb, f);
	int before = f->ups;
	run_until_ups(f, before + 1, 5000);
	assert_int_equal(f->ups, before + 1);
	assert_true(sl_rconn_connected(rc));
	return rc;
}

static void close_conn(fixture_t *f, sl_rconn_t *rc)
{
	f->closed = false;
	sl_rconn_close(rc, closed_cb, f);
	run_until(f, &f->closed, 5000);
	assert_true(f->closed);
	sl_rconn_free(rc);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- commands and pipelining order ---- */
typedef struct order {
	int next;     /* replies seen */
	bool bad;
	bool done;
	char last[512];
} order_t;

static void push_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	order_t *o = arg;
	o->next++;
	if (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer != o->next)
		o->bad = true;
}

static void range_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	order_t *o = arg;
	o->done = true;
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		o->bad = true;
		return;
	}
	size_t off = 0;
	for (size_t i = 0; i < reply->elements && off < sizeof(o->last) - 8; i++)
		off += (size_t)snprintf(o->last + off, sizeof(o->last) - off, "%s,", reply->element[i]->str);
}

static void ignore_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	(void)reply;
	(void)arg;
}

static void test_pipeline_order(void **state)
{
	fixture_t *f = *state;
	sl_rconn_t *rc = open_conn(f);
	order_t o = {0};
	assert_int_equal(sl_rconn_command(rc, ignore_cb, NULL, "DEL %s", "k"), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(sl_rconn_command(rc, push_cb, &o, "RPUSH k %d", i), 0);
	const char *argv[] = {"LRANGE", "k", "0", "4"};
	assert_int_equal(sl_rconn_commandargv(rc, range_cb, &o, 4, argv, NULL), 0);
	/* Nothing went out yet: everything queued in this loop turn is one pipeline. */
	assert_int_equal(sl_rconn_pending(rc), 102);
	run_until(f, &o.done, 5000);
	assert_true(o.done);
	assert_false(o.bad);
	assert_int_equal(o.next, 100);
	assert_string_equal(o.last, "0,1,2,3,4,");
	assert_int_equal(sl_rconn_pending(rc), 0);
	close_conn(f, rc);
}

/* ---- pub/sub ---- */
typedef struct sub {
	int confirms, messages, unsubs, nulls;
	char msg[64];
} sub_t;

static void sub_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	sub_t *s = arg;
	if (!reply) {
		s->nulls++;
		return;
	}
	assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
	const char *kind = reply->element[0]->str;
	if (!strcmp(kind, "subscribe"))
		s->confirms++;
	else if (!strcmp(kind, "unsubscribe"))
		s->unsubs++;
	else if (!strcmp(kind, "message")) {
		s->messages++;
		snprintf(s->msg, sizeof(s->msg), "%s", reply->element[2]->str);
	}
}

static void test_subscribe(void **state)
{
	fixture_t *f = *state;
	sl_rconn_t *sub = open_conn(f);
	sl_rconn_t *pub = open_conn(f);
	sub_t s = {0};
	assert_int_equal(sl_rconn_command(sub, sub_cb, &s, "SUBSCRIBE %s", "chan"), 0);
	int64_t deadline = sl_clock_mono_ms() + 5000;
	while (s.confirms < 1 && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(s.confirms, 1);
	assert_int_equal(sl_rconn_command(pub, ignore_cb, NULL, "PUBLISH %s %b", "chan", "hello", (size_t)5), 0);
	while (s.messages < 1 && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_string_equal(s.msg, "hello");
	assert_int_equal(sl_rconn_command(sub, ignore_cb, NULL, "UNSUBSCRIBE %s", "chan"), 0);
	while (s.unsubs < 1 && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(s.unsubs, 1);
	/* A second subscription is cut by the close: it hears NULL once. */
	assert_int_equal(sl_rconn_command(sub, sub_cb, &s, "SUBSCRIBE %s", "other"), 0);
	while (s.confirms < 2 && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	f->closed = false;
	sl_rconn_close(pub, closed_cb, f);
	run_until(f, &f->closed, 5000);
	sl_rconn_free(pub);
	close_conn(f, sub);
	assert_int_equal(s.nulls, 1);
}

/* ---- reply timeout: Redis frozen ---- */
typedef struct once {
	bool called, null_reply;
} once_t;

static void once_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	once_t *o = arg;
	o->called = true;
	o->null_reply = reply == NULL;
}

static void test_reply_timeout(void **state)
{
	fixture_t *f = *state;
	sl_rconn_t *rc = open_conn(f);
	sl_rconn_set_timeouts(rc, 300, 300);
	kill(f->pid, SIGSTOP);
	once_t o = {0};
	int64_t t0 = sl_clock_mono_ms();
	assert_int_equal(sl_rconn_command(rc, once_cb, &o, "PING"), 0);
	run_until(f, &o.called, 3000);
	assert_true(o.called);
	assert_true(o.null_reply);
	assert_true(sl_clock_mono_ms() - t0 >= 300);
	assert_int_equal(f->downs, 1);
	assert_false(sl_rconn_connected(rc));
	assert_int_equal(sl_rconn_command(rc, once_cb, &o, "PING"), SL_EUNAVAIL);
	kill(f->pid, SIGCONT);
	run_until_ups(f, 2, 5000);
	assert_int_equal(f->ups, 2);
	once_t o2 = {0};
	assert_int_equal(sl_rconn_command(rc, once_cb, &o2, "PING"), 0);
	run_until(f, &o2.called, 3000);
	assert_false(o2.null_reply);
	close_conn(f, rc);
}

/* ---- Redis restart: reconnect and report ---- */
static void get_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	order_t *o = arg;
	o->done = true;
	snprintf(o->last, sizeof(o->last), "%s", reply && reply->type == REDIS_REPLY_STRING ? reply->str : "?");
}

static void test_restart(void **state)
{
	fixture_t *f = *state;
	sl_rconn_t *rc = open_conn(f);
	stop_redis(f);
	int64_t deadline = sl_clock_mono_ms() + 5000;
	while (f->downs < 1 && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->downs, 1);
	assert_int_equal(sl_rconn_command(rc, ignore_cb, NULL, "PING"), SL_EUNAVAIL);
	start_redis(f);
	run_until_ups(f, 2, 8000);
	assert_int_equal(f->ups, 2);
	order_t o = {0};
	assert_int_equal(sl_rconn_command(rc, ignore_cb, NULL, "SET %s %s", "after", "restart"), 0);
	assert_int_equal(sl_rconn_command(rc, get_cb, &o, "GET %s", "after"), 0);
	run_until(f, &o.done, 3000);
	assert_string_equal(o.last, "restart");
	close_conn(f, rc);
}

/* ---- a user of Redis ACLs: AUTH user password ---- */
static void test_acl_user(void **state)
{
	fixture_t *f = *state;
	sl_rconn_t *rc = open_conn(f);
	order_t o = {0};
	const char *acl[] = {"ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all"};
	assert_int_equal(sl_rconn_commandargv(rc, ignore_cb, NULL, 7, acl, NULL), 0);
	assert_int_equal(sl_rconn_command(rc, ignore_cb, NULL, "SET %s %s", "who", "default"), 0);
	assert_int_equal(sl_rconn_command(rc, get_cb, &o, "ACL WHOAMI"), 0);
	run_until(f, &o.done, 3000);
	assert_string_equal(o.last, "default");
	char url[128];
	snprintf(url, sizeof(url), "redis://alice:pw@127.0.0.1:%d/0", f->port);
	sl_err_t err = {0};
	sl_rconn_t *as = sl_rconn_new(&f->loop, url, "alice", &err);
	assert_non_null(as);
	sl_rconn_on_state(as, state_cb, f);
	int before = f->ups;
	run_until_ups(f, before + 1, 5000);
	assert_true(sl_rconn_connected(as));
	o = (order_t){0};
	assert_int_equal(sl_rconn_command(as, get_cb, &o, "ACL WHOAMI"), 0);
	run_until(f, &o.done, 3000);
	assert_string_equal(o.last, "alice");
	f->closed = false;
	sl_rconn_close(as, closed_cb, f);
	run_until(f, &f->closed, 5000);
	assert_true(f->closed);
	sl_rconn_free(as);
	close_conn(f, rc);
}

/* ---- bad URLs ---- */
static void test_bad_url(void **state)
{
	fixture_t *f = *state;
	const char *bad[] = {"http://x:1", "redis://:1", "redis://h:0", "redis://h:99999", "redis://h:1/x", "", NULL};
	for (int i = 0; bad[i]; i++) {
		sl_err_t err = {0};
		assert_null(sl_rconn_new(&f->loop, bad[i], "t", &err));
		assert_int_equal(err.code, SL_EINVAL);
		assert_non_null(strstr(err.msg, "--redis-url"));
	}
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pipeline_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acl_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_url, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
