/* test_rconn.c: src/redis/rconn.c against a real redis-server.
 *
 * Each test starts its own redis-server on a free port (no persistence) and
 * drives sl_rconn_t connections on a private libuv loop: commands and
 * replies, pipelining order, pub/sub mode (subscribe, a binary message,
 * unsubscribe, the keep-alive PING of a frozen server), a reply timeout
 * (the server is frozen with SIGSTOP), a Redis restart (reconnect + state
 * callback), the resolver asked before every attempt, an ACL user, and bad
 * URLs. Every test closes its connection and asserts uv_loop_close()==0,
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

static void get_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	order_t *o = arg;
	o->done = true;
	snprintf(o->last, sizeof(o->last), "%s", reply && reply->type == REDIS_REPLY_STRING ? reply->str : "?");
}

/* ---- pub/sub mode ---- */
typedef struct sub {
	int confirms, messages, unsubs;
	char msg[64];
	char chan[64];
} sub_t;

static void on_message(void *arg, const char *ch, size_t chlen, const char *p, size_t len)
{
	sub_t *s = arg;
	s->messages++;
	snprintf(s->chan, sizeof(s->chan), "%.*s", (int)chlen, ch);
	snprintf(s->msg, sizeof(s->msg), "%.*s", (int)len, p);
}

static void on_subscribed(void *arg, const char *ch, size_t chlen)
{
	(void)ch, (void)chlen;
	((sub_t *)arg)->confirms++;
}

static void on_unsubscribed(void *arg, const char *ch, size_t chlen)
{
	(void)ch, (void)chlen;
	((sub_t *)arg)->unsubs++;
}

static const sl_rconn_sub_cbs_t sub_cbs = {on_message, on_subscribed, on_unsubscribed};

static sl_rconn_t *open_sub(fixture_t *f, sub_t *s, uint64_t timeout_ms)
{
	sl_err_t err = {0};
	sl_rconn_opts_t o = {.name = "pubsub", .sub = &sub_cbs, .sub_arg = s, .reply_timeout_ms = timeout_ms,
			     .connect_timeout_ms = timeout_ms};
	sl_rconn_t *rc = sl_rconn_open(&f->loop, f->url, &o, &err);
	assert_non_null(rc);
	sl_rconn_on_state(rc, state_cb, f);
	int before = f->ups;
	run_until_ups(f, before + 1, 5000);
	assert_true(sl_rconn_connected(rc));
	return rc;
}

static void run_until_int(fixture_t *f, const int *v, int want, int64_t ms)
{
	int64_t deadline = sl_clock_mono_ms() + ms;
	while (*v < want && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void test_subscribe(void **state)
{
	fixture_t *f = *state;
	sub_t s = {0};
	sl_rconn_t *sub = open_sub(f, &s, 2000);
	sl_rconn_t *pub = open_conn(f);
	/* The modes do not mix: no commands on pub/sub, no SUBSCRIBE on commands. */
	assert_int_equal(sl_rconn_command(sub, ignore_cb, NULL, "PING"), SL_EUNAVAIL);
	assert_int_equal(sl_rconn_subscribe(pub, "chan", 4), SL_EUNAVAIL);
	assert_int_equal(sl_rconn_subscribe(sub, "chan", 4), 0);
	run_until_int(f, &s.confirms, 1, 5000);
	assert_int_equal(s.confirms, 1);
	/* Binary payload with CR LF inside, delivered whole. */
	assert_int_equal(sl_rconn_command(pub, ignore_cb, NULL, "PUBLISH %s %b", "chan", "he\r\nlo", (size_t)6), 0);
	run_until_int(f, &s.messages, 1, 5000);
	assert_string_equal(s.chan, "chan");
	assert_string_equal(s.msg, "he\r\nlo");
	assert_int_equal(sl_rconn_unsubscribe(sub, "chan", 4), 0);
	run_until_int(f, &s.unsubs, 1, 5000);
	assert_int_equal(s.unsubs, 1);
	/* Unsubscribed: nothing more arrives (a PING proves the order). */
	assert_int_equal(sl_rconn_command(pub, ignore_cb, NULL, "PUBLISH %s %s", "chan", "late"), 0);
	order_t o = {0};
	assert_int_equal(sl_rconn_command(pub, get_cb, &o, "PING"), 0);
	run_until(f, &o.done, 3000);
	assert_int_equal(s.messages, 1);
	f->closed = false;
	sl_rconn_close(pub, closed_cb, f);
	run_until(f, &f->closed, 5000);
	sl_rconn_free(pub);
	close_conn(f, sub);
}

/* A frozen Redis stops answering the keep-alive PING: the pub/sub
 * connection drops within its bound and comes back once Redis does. */
static void test_subscribe_ping_timeout(void **state)
{
	fixture_t *f = *state;
	sub_t s = {0};
	sl_rconn_t *sub = open_sub(f, &s, 400);
	assert_int_equal(sl_rconn_subscribe(sub, "chan", 4), 0);
	run_until_int(f, &s.confirms, 1, 5000);
	kill(f->pid, SIGSTOP);
	/* PING after 5 s of silence, then 400 ms for its answer. */
	int64_t t0 = sl_clock_mono_ms();
	run_until_int(f, &f->downs, 1, 9000);
	assert_int_equal(f->downs, 1);
	assert_true(sl_clock_mono_ms() - t0 < 7000);
	kill(f->pid, SIGCONT);
	int ups = f->ups;
	run_until_ups(f, ups + 1, 5000);
	assert_true(sl_rconn_connected(sub));
	close_conn(f, sub);
}

/* ---- the resolver: asked before every attempt ---- */
typedef struct resolver {
	fixture_t *f;
	int asked;
	bool wrong_first;
} resolver_t;

static void resolve_cb(sl_rconn_t *rc, void *arg)
{
	resolver_t *r = arg;
	r->asked++;
	/* The first answer points at a port nobody listens on (what a
	 * Sentinel would say just before a failover), later ones at Redis. */
	if (r->wrong_first && r->asked == 1)
		sl_rconn_resolved(rc, "127.0.0.1", pick_port());
	else if (r->asked == 2)
		sl_rconn_resolved(rc, NULL, 0); /* "do not know yet" */
	else
		sl_rconn_resolved(rc, "127.0.0.1", r->f->port);
}

static void test_resolver(void **state)
{
	fixture_t *f = *state;
	resolver_t r = {f, 0, true};
	sl_err_t err = {0};
	/* The URL's address is never used: the resolver says where Redis is. */
	sl_rconn_opts_t o = {.name = "resolved", .resolve = resolve_cb, .resolve_arg = &r};
	sl_rconn_t *rc = sl_rconn_open(&f->loop, "redis://unused.invalid:1/0", &o, &err);
	assert_non_null(rc);
	assert_string_equal(sl_rconn_url_host(rc), "unused.invalid");
	assert_int_equal(sl_rconn_url_port(rc), 1);
	sl_rconn_on_state(rc, state_cb, f);
	run_until_ups(f, 1, 5000);
	assert_true(sl_rconn_connected(rc));
	assert_int_equal(r.asked, 3);
	order_t o2 = {0};
	assert_int_equal(sl_rconn_command(rc, get_cb, &o2, "ECHO %s", "here"), 0);
	run_until(f, &o2.done, 3000);
	assert_string_equal(o2.last, "here");
	close_conn(f, rc);
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
		cmocka_unit_test_setup_teardown(test_subscribe_ping_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_acl_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_url, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
