/* test_conn.c: unit tests of proto/conn over a real socket pair: frames
 * queued by reference and written together (one writev for a burst),
 * conflation at the soft limit (newest update per market kept, order kept),
 * closing at the hard limit (queue dropped, close 1013 queued), and a write
 * the socket cannot take at once (uv_write fallback; bytes arrive whole and
 * in order; frames released only after). Every test closes its loop with
 * uv_loop_close() == 0 and leaves no live frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/frame.h"
#include "core/err.h"
#include "core/metrics.h"
#include "proto/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct fixture {
	uv_loop_t loop;
	uv_pipe_t pipe;
	int peer;
	sl_conn_ctx_t ctx;
	sl_conn_t conn;
	bool freed;
} fixture_t;

static void free_cb(sl_conn_t *conn, void *arg)
{
	(void)conn;
	((fixture_t *)arg)->freed = true;
}

/* The stream is a socketpair, or a plain pipe(2) (not_socket: the writer's
 * sendmsg fails with ENOTSOCK and falls back to libuv's writev). */
static void setup_stream(fixture_t *f, uint32_t soft, uint32_t hard, int sndbuf, bool plain_pipe)
{
	memset(f, 0, sizeof(*f));
	int sv[2];
	if (plain_pipe) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		sv[0] = fds[1]; /* the conn writes */
		sv[1] = fds[0]; /* the test reads */
	} else {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	}
	if (sndbuf) {
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	}
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	f->peer = sv[1];
	uv_loop_init(&f->loop);
	uv_pipe_init(&f->loop, &f->pipe, 0);
	assert_int_equal(uv_pipe_open(&f->pipe, sv[0]), 0);
	sl_conn_limits_t lim = {soft, hard};
	sl_conn_ctx_init(&f->ctx, &f->loop, &lim, free_cb, f);
	sl_conn_init(&f->conn, &f->ctx, (uv_stream_t *)&f->pipe, SL_WIRE_WS);
}

static void setup(fixture_t *f, uint32_t soft, uint32_t hard, int sndbuf)
{
	setup_stream(f, soft, hard, sndbuf, false);
}

static void teardown(fixture_t *f)
{
	sl_conn_socket_closed(&f->conn);
	uv_close((uv_handle_t *)&f->pipe, NULL);
	sl_conn_ctx_close(&f->ctx);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->freed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	close(f->peer);
	assert_int_equal(sl_frame_live(), 0);
	sl_metrics_free_all();
}

static size_t drain_peer(fixture_t *f, char *out, size_t cap)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = read(f->peer, out + got, cap - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static sl_frame_t *upd(const char *market, int offset)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "{\"type\":\"update\",\"market\":\"%s\",\"value\":1,\"offset\":%d,\"ts\":1}",
			 market, offset);
	return sl_frame_new(buf, (size_t)n);
}

static void push_unref(sl_conn_t *c, sl_frame_t *fr, int want)
{
	assert_int_equal(sl_conn_push(c, fr), want);
	sl_frame_unref(fr);
}

static void test_batched_write(void **state)
{
	(void)state;
	fixture_t f;
	setup(&f, 64, 128, 0);
	sl_frame_t *shared = upd("m-1", 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sl_conn_push(&f.conn, shared), 0);
	assert_int_equal(shared->refs, 11); /* one ref per queued copy, no payload copy */
	double writes = sl_metric_value(f.ctx.m_writev);
	sl_conn_ctx_flush(&f.ctx);
	assert_true(sl_metric_value(f.ctx.m_writev) - writes == 1); /* ten frames, one system call */
	assert_int_equal(shared->refs, 1);
	char out[4096];
	size_t n = drain_peer(&f, out, sizeof(out));
	size_t one = shared->ws_hdr_len + shared->len;
	assert_int_equal(n, 10 * one);
	for (int i = 0; i < 10; i++) {
		assert_memory_equal(out + i * one, shared->ws_hdr, shared->ws_hdr_len);
		assert_memory_equal(out + i * one + shared->ws_hdr_len, shared->data, shared->len);
	}
	assert_true(sl_metric_value(f.ctx.m_msgs_out) == 10);
	sl_frame_unref(shared);
	teardown(&f);
}

/* A stream that is no socket still gets every byte, in order, through the
 * fallback; a socket never takes it. */
static void test_write_to_plain_pipe(void **state)
{
	(void)state;
	for (int plain = 0; plain <= 1; plain++) {
		fixture_t f;
		setup_stream(&f, 64, 128, 0, plain);
		sl_frame_t *a = upd("m-1", 1), *b = upd("m-2", 2);
		assert_int_equal(sl_conn_push(&f.conn, a), 0);
		sl_conn_ctx_flush(&f.ctx);
		assert_int_equal(f.conn.not_socket, plain == 1);
		assert_int_equal(sl_conn_push(&f.conn, b), 0);
		sl_conn_ctx_flush(&f.ctx);
		char want[1024], out[1024];
		size_t w = 0;
		for (sl_frame_t *fr = a; fr; fr = fr == a ? b : NULL) {
			memcpy(want + w, fr->ws_hdr, fr->ws_hdr_len);
			memcpy(want + w + fr->ws_hdr_len, fr->data, fr->len);
			w += fr->ws_hdr_len + fr->len;
		}
		size_t n = drain_peer(&f, out, sizeof(out));
		assert_int_equal(n, w); /* both frames, whole, in order */
		assert_memory_equal(out, want, w);
		assert_int_equal(f.conn.qlen, 0);
		assert_true(sl_metric_value(f.ctx.m_msgs_out) == 2);
		sl_frame_unref(a);
		sl_frame_unref(b);
		teardown(&f);
	}
}

static void test_conflation_and_hard_limit(void **state)
{
	(void)state;
	fixture_t f;
	setup(&f, 2, 4, 0);
	push_unref(&f.conn, upd("m-1", 1), 0);
	push_unref(&f.conn, upd("m-2", 1), 0);
	push_unref(&f.conn, upd("m-1", 2), 1); /* at the soft limit: replaces m-1 offset 1 */
	push_unref(&f.conn, upd("m-2", 2), 1);
	assert_int_equal(sl_conn_queued(&f.conn), 2);
	assert_non_null(strstr(f.conn.q[f.conn.qhead]->data, "\"m-1\",\"value\":1,\"offset\":2"));
	push_unref(&f.conn, upd("m-3", 1), 0); /* a new market is queued */
	sl_frame_t *snap = sl_frame_new("{\"type\":\"snapshot\",\"markets\":[]}", 32);
	push_unref(&f.conn, snap, 0);
	assert_int_equal(sl_conn_queued(&f.conn), 4);
	assert_true(sl_metric_value(f.ctx.m_conflated) == 2);
	sl_frame_t *snap2 = sl_frame_new("{\"type\":\"snapshot\",\"markets\":[]}", 32);
	push_unref(&f.conn, snap2, SL_EFULL); /* past the hard limit: closed */
	assert_int_equal(f.conn.state, SL_CONN_CLOSING);
	assert_int_equal(f.conn.close_code, 1013);
	assert_int_equal(sl_conn_queued(&f.conn), 1); /* only the close frame */
	assert_true(sl_metric_value(f.ctx.m_dropped) == 4);
	push_unref(&f.conn, upd("m-1", 3), SL_ECLOSED);
	teardown(&f);
}

static void test_partial_write(void **state)
{
	(void)state;
	fixture_t f;
	setup(&f, 64, 128, 4096);
	size_t big = 300000;
	char *payload = malloc(big);
	for (size_t i = 0; i < big; i++)
		payload[i] = (char)('a' + i % 26);
	sl_frame_t *fr = sl_frame_new(payload, big);
	sl_frame_t *small = upd("m-9", 7);
	assert_int_equal(sl_conn_push(&f.conn, fr), 0);
	assert_int_equal(sl_conn_push(&f.conn, small), 0);
	sl_conn_flush(&f.conn);
	assert_true(f.conn.write_pending); /* the socket could not take it all */
	assert_true(fr->refs > 1);          /* still referenced by the pending write */
	size_t want = fr->ws_hdr_len + big + small->ws_hdr_len + small->len;
	char *out = malloc(want + 16);
	size_t got = 0;
	for (int spins = 0; got < want && spins < 100000; spins++) {
		got += drain_peer(&f, out + got, want + 16 - got);
		uv_run(&f.loop, UV_RUN_NOWAIT);
	}
	assert_int_equal(got, want);
	assert_memory_equal(out + fr->ws_hdr_len, payload, big);
	assert_memory_equal(out + want - small->len, small->data, small->len);
	assert_false(f.conn.write_pending);
	assert_int_equal(sl_conn_queued(&f.conn), 0);
	assert_int_equal(fr->refs, 1);
	sl_frame_unref(fr);
	sl_frame_unref(small);
	free(out);
	free(payload);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batched_write),
		cmocka_unit_test(test_write_to_plain_pipe),
		cmocka_unit_test(test_conflation_and_hard_limit),
		cmocka_unit_test(test_partial_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
