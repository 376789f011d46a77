/* test_rconn.c: src/redis/rconn.c against a real redis-server.
 *
 * Each test starts its own redis-server on a free port (no persistence;
 * redis_proc.h) and drives sl_rconn_t connections on a private libuv loop:
 * commands and replies, pipelining order, pub/sub mode (subscribe, a
 * binary message, unsubscribe, the keep-alive PING of a frozen server), a
 * reply timeout (the server is frozen with SIGSTOP), a Redis restart
 * (reconnect + state callback), the resolver asked before every attempt,
 * an ACL user, a handshake Redis refuses (no up, retried, up once the
 * password is right), a fake server that breaks the protocol right after
 * the handshake (in the same bytes), and bad URLs. Every test closes its
 * connection and asserts uv_loop_close()==0, and runs under ASan/LSan, so
 * a wrapper left behind fails the suite.
 * Without redis-server installed, every test fails (setup refuses).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/log.h"
#include "redis/rconn.h"

#include "core/buf.h"
#include "redis_proc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Start (again) the fixture's redis-server on its port. */
static void start_redis(fixture_t *f)
{
	f->pid = tu_redis_start(f->port, 0);
	assert_true(f->pid > 0);
}

static void stop_redis(fixture_t *f)
{
	tu_reap(f->pid);
	f->pid = 0;
}

static int setup(void **state)
{
	if (system("command -v redis-server >/dev/null 2>&1") != 0)
		return -1;
	sl_log_setup("test", getenv("SL_TEST_LOG") ? "debug" : "off", "logfmt");
	fixture_t *f = calloc(1, sizeof(*f));
	f->port = tu_free_port();
	f->pid = tu_redis_start(f->port, 0);
	if (f->pid <= 0) {
		/* cmocka runs no teardown after a failed setup. */
		free(f);
		return -1;
	}
	uv_loop_init(&f->loop);
	snprintf(f->url, sizeof(f->url), "redis://127.0.0.1:%d/0", f->port);
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
		sl_rconn_resolved(rc, "127.0.0.1", tu_free_port());
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

/* ---- what the log said (warn and up), read from a pipe ---- */
static int logp[2] = {-1, -1};
static char logged_text[65536];
static size_t logged_len;

static void log_capture(bool on)
{
	if (on) {
		assert_int_equal(pipe(logp), 0);
		fcntl(logp[0], F_SETFL, O_NONBLOCK);
		logged_len = 0;
		logged_text[0] = '\0';
		sl_log_setup("test", "warn", "logfmt");
		sl_log_set_fd(logp[1]);
		return;
	}
	sl_log_set_fd(-1);
	sl_log_setup("test", getenv("SL_TEST_LOG") ? "debug" : "off", "logfmt");
	close(logp[0]);
	close(logp[1]);
}

/* Lines logged so far that hold every one of the (NULL-ended) words. */
static int logged(const char *w1, const char *w2, const char *w3)
{
	ssize_t n;
	while (logged_len < sizeof(logged_text) - 1 &&
	       (n = read(logp[0], logged_text + logged_len, sizeof(logged_text) - 1 - logged_len)) > 0)
		logged_len += (size_t)n;
	logged_text[logged_len] = '\0';
	int count = 0;
	for (char *line = logged_text, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			break;
		*end = '\0';
		if (strstr(line, w1) && (!w2 || strstr(line, w2)) && (!w3 || strstr(line, w3)))
			count++;
		*end = '\n';
	}
	return count;
}

static void run_until_logged(fixture_t *f, const char *w1, const char *w2, const char *w3, int64_t ms)
{
	int64_t deadline = sl_clock_mono_ms() + ms;
	while (!logged(w1, w2, w3) && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
}

/* ---- a handshake Redis refuses: no up, retried, up once it is right ---- */
static void test_handshake_refused(void **state)
{
	fixture_t *f = *state;
	sl_rconn_t *rc = open_conn(f);
	const char *acl[] = {"ACL", "SETUSER", "bob", "on", ">right", "~*", "&*", "+@all"};
	order_t o = {0};
	assert_int_equal(sl_rconn_commandargv(rc, ignore_cb, NULL, 8, acl, NULL), 0);
	assert_int_equal(sl_rconn_command(rc, get_cb, &o, "ECHO %s", "set"), 0);
	run_until(f, &o.done, 3000);
	assert_string_equal(o.last, "set");
	log_capture(true);
	char url[128];
	snprintf(url, sizeof(url), "redis://bob:wrong@127.0.0.1:%d/0", f->port);
	sl_err_t err = {0};
	sl_rconn_t *cmd = sl_rconn_new(&f->loop, url, "bobcmd", &err);
	sub_t s = {0};
	sl_rconn_opts_t so = {.name = "bobsub", .sub = &sub_cbs, .sub_arg = &s};
	sl_rconn_t *sub = sl_rconn_open(&f->loop, url, &so, &err);
	assert_non_null(cmd);
	assert_non_null(sub);
	sl_rconn_on_state(cmd, state_cb, f);
	sl_rconn_on_state(sub, state_cb, f);
	int ups = f->ups;
	/* Both are refused at AUTH, and try again. */
	run_until_logged(f, "ev=redis_handshake_failed", "conn=bobcmd", "step=AUTH", 5000);
	run_until_logged(f, "ev=redis_handshake_failed", "conn=bobsub", "step=AUTH", 5000);
	run_until_logged(f, "ev=redis_connect_failed", "conn=bobsub", "handshake refused", 5000);
	/* Each refusal is an error line; the failed attempts one warning. */
	assert_true(logged("ev=redis_handshake_failed", "conn=bobcmd", "step=AUTH") >= 1);
	assert_true(logged("ev=redis_handshake_failed", "conn=bobsub", "step=AUTH") >= 1);
	assert_int_equal(logged("ev=redis_connect_failed", "conn=bobcmd", "error=\"handshake refused\""), 1);
	assert_int_equal(f->ups, ups);
	assert_false(sl_rconn_connected(cmd));
	assert_int_equal(sl_rconn_command(cmd, ignore_cb, NULL, "PING"), SL_EUNAVAIL);
	assert_int_equal(sl_rconn_subscribe(sub, "c", 1), SL_EUNAVAIL);
	/* The password the URL carries becomes right: both come up. */
	const char *fix[] = {"ACL", "SETUSER", "bob", ">wrong"};
	assert_int_equal(sl_rconn_commandargv(rc, ignore_cb, NULL, 4, fix, NULL), 0);
	run_until_ups(f, ups + 2, 8000);
	assert_int_equal(f->ups, ups + 2);
	assert_true(sl_rconn_connected(cmd));
	assert_true(sl_rconn_connected(sub));
	log_capture(false);
	f->closed = false;
	sl_rconn_close(cmd, closed_cb, f);
	run_until(f, &f->closed, 5000);
	sl_rconn_free(cmd);
	f->closed = false;
	sl_rconn_close(sub, closed_cb, f);
	run_until(f, &f->closed, 5000);
	sl_rconn_free(sub);
	close_conn(f, rc);
}

/* ---- a server that breaks the protocol ----
 * A fake Redis on the test's loop answers each command with +OK and,
 * in the same write as the handshake's answers, sends `tail`: whatever
 * follows the PING's answer must be read after the connection is up. */
typedef struct fake {
	uv_tcp_t srv;
	int port;
	const char *tail;
	int clients;     /* open */
	bool srv_closed;
} fake_t;

typedef struct fake_cli {
	uv_tcp_t t;
	fake_t *fk;
	bool answered;
	char buf[4096];
} fake_cli_t;

static void fake_cli_closed(uv_handle_t *h)
{
	fake_cli_t *c = h->data;
	c->fk->clients--;
	free(c);
}

static void fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)suggested;
	fake_cli_t *c = h->data;
	*b = uv_buf_init(c->buf, sizeof(c->buf));
}

static void fake_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static void fake_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	fake_cli_t *c = st->data;
	if (n < 0) {
		if (!uv_is_closing((uv_handle_t *)st))
			uv_close((uv_handle_t *)st, fake_cli_closed);
		return;
	}
	/* A command is a RESP array: count the lines that open one. */
	int cmds = 0;
	for (ssize_t i = 0; i < n; i++)
		if (b->base[i] == '*' && (i == 0 || b->base[i - 1] == '\n'))
			cmds++;
	sl_buf_t out = SL_BUF_INIT;
	for (int i = 0; i < cmds; i++)
		sl_buf_puts(&out, "+OK\r\n");
	if (cmds && !c->answered) {
		c->answered = true;
		sl_buf_puts(&out, c->fk->tail);
	}
	if (!out.len)
		return;
	uv_write_t *w = malloc(sizeof(*w));
	size_t len;
	w->data = sl_buf_steal(&out, &len);
	uv_buf_t ub = uv_buf_init(w->data, (unsigned)len);
	assert_int_equal(uv_write(w, st, &ub, 1, fake_written), 0);
}

static void fake_accept(uv_stream_t *srv, int status)
{
	fake_t *fk = srv->data;
	assert_int_equal(status, 0);
	fake_cli_t *c = calloc(1, sizeof(*c));
	c->fk = fk;
	uv_tcp_init(srv->loop, &c->t);
	c->t.data = c;
	fk->clients++;
	assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->t), 0);
	uv_read_start((uv_stream_t *)&c->t, fake_alloc, fake_read);
}

static void fake_start(fixture_t *f, fake_t *fk, const char *tail)
{
	memset(fk, 0, sizeof(*fk));
	fk->tail = tail;
	uv_tcp_init(&f->loop, &fk->srv);
	fk->srv.data = fk;
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_bind(&fk->srv, (const struct sockaddr *)&a, 0), 0);
	int len = sizeof(a);
	uv_tcp_getsockname(&fk->srv, (struct sockaddr *)&a, &len);
	fk->port = ntohs(a.sin_port);
	assert_int_equal(uv_listen((uv_stream_t *)&fk->srv, 8, fake_accept), 0);
}

static void fake_srv_closed(uv_handle_t *h)
{
	((fake_t *)h->data)->srv_closed = true;
}

static void fake_stop(fixture_t *f, fake_t *fk)
{
	uv_close((uv_handle_t *)&fk->srv, fake_srv_closed);
	run_until(f, &fk->srv_closed, 3000);
	int64_t deadline = sl_clock_mono_ms() + 3000;
	while (fk->clients > 0 && sl_clock_mono_ms() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(fk->clients, 0);
}

static void close_one(fixture_t *f, sl_rconn_t *rc)
{
	f->closed = false;
	sl_rconn_close(rc, closed_cb, f);
	run_until(f, &f->closed, 5000);
	assert_true(f->closed);
	sl_rconn_free(rc);
}

static void test_protocol_errors(void **state)
{
	fixture_t *f = *state;
	char url[64];
	sl_err_t err = {0};
	log_capture(true);

	/* Command mode: a reply nobody asked for, right after the PING's. */
	fake_t fk;
	fake_start(f, &fk, "+EXTRA\r\n");
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", fk.port);
	sl_rconn_t *cmd = sl_rconn_new(&f->loop, url, "fakecmd", &err);
	assert_non_null(cmd);
	sl_rconn_on_state(cmd, state_cb, f);
	run_until_int(f, &f->downs, 1, 5000);
	assert_int_equal(f->ups, 1); /* up (AUTH-less SELECT and PING answered) */
	assert_int_equal(f->downs, 1); /* then dropped */
	assert_int_equal(logged("ev=redis_protocol_error", "conn=fakecmd", "a reply nobody asked for"), 1);
	close_one(f, cmd);
	fake_stop(f, &fk);

	/* Pub/sub mode: a message in the same bytes as the PING's answer
	 * arrives once up; bytes that are not RESP2 then drop it. */
	f->ups = f->downs = 0;
	fake_start(f, &fk, "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n?bad\r\n");
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", fk.port);
	sub_t s = {0};
	sl_rconn_opts_t so = {.name = "fakesub", .sub = &sub_cbs, .sub_arg = &s};
	sl_rconn_t *sub = sl_rconn_open(&f->loop, url, &so, &err);
	assert_non_null(sub);
	sl_rconn_on_state(sub, state_cb, f);
	run_until_int(f, &f->downs, 1, 5000);
	assert_int_equal(f->ups, 1);
	assert_int_equal(f->downs, 1);
	assert_true(s.messages >= 1);
	assert_string_equal(s.chan, "c");
	assert_string_equal(s.msg, "hi");
	assert_int_equal(logged("ev=redis_protocol_error", "conn=fakesub", "malformed reply"), 1);
	close_one(f, sub);
	fake_stop(f, &fk);

	log_capture(false);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
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
		cmocka_unit_test_setup_teardown(test_handshake_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocol_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_url, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
