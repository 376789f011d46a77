/* test_sse.c: proto/sse.c: the event-stream head (status, headers, the
 * retry preamble, CORS only for a clean origin), the shared keep-alive
 * frame on both wires, and the method check against real requests through
 * the HTTP server (a client thread speaks raw HTTP, as in test_http.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "proto/http.h"
#include "proto/sse.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void test_head(void **state)
{
	(void)state;
	sl_buf_t b = SL_BUF_INIT;
	sl_sse_response_head(NULL, 2000, &b);
	assert_string_equal(b.data, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
				    "Cache-Control: no-cache\r\nConnection: close\r\nX-Accel-Buffering: no\r\n"
				    "\r\nretry: 2000\n\n");
	sl_buf_reset(&b);
	sl_sse_response_head("http://dash.example", 250, &b);
	assert_non_null(strstr(b.data, "\r\nAccess-Control-Allow-Origin: http://dash.example\r\nVary: Origin\r\n\r\n"));
	assert_non_null(strstr(b.data, "\r\n\r\nretry: 250\n\n"));
	/* An origin with a line break would add headers: it is left out. */
	sl_buf_reset(&b);
	sl_sse_response_head("http://x\r\nSet-Cookie: a=b", 2000, &b);
	assert_null(strstr(b.data, "Access-Control-Allow-Origin"));
	assert_null(strstr(b.data, "Set-Cookie"));
	sl_buf_free(&b);
}

static void test_ping_frame(void **state)
{
	(void)state;
	long live = sl_frame_live();
	sl_frame_t *fr = sl_sse_ping_frame();
	sl_iov_t iov[SL_FRAME_MAX_IOV];
	sl_buf_t wire = SL_BUF_INIT;
	size_t n = sl_frame_iov(fr, SL_WIRE_SSE, iov);
	for (size_t i = 0; i < n; i++)
		sl_buf_append(&wire, iov[i].base, iov[i].len);
	assert_string_equal(wire.data, ": ping\n\n"); /* a comment: EventSource ignores it */
	assert_int_equal(sl_frame_wire_len(fr, SL_WIRE_SSE), 8);
	sl_buf_free(&wire);
	sl_frame_unref(fr);
	assert_int_equal(sl_frame_live(), live);
}

/* ---- sl_sse_check on real requests ---- */
typedef struct fx {
	uv_loop_t loop;
	uv_async_t done;
	sl_http_server_t *srv;
	int port;
	const char *requests[4];
	char *answers[4];
} fx_t;

static void handler(sl_http_req_t *req, void *arg)
{
	(void)arg;
	const char *code = NULL, *msg = NULL;
	int status = sl_sse_check(req, &code, &msg);
	if (status)
		sl_http_respond_error(req, status, code, "%s", msg);
	else
		sl_http_respond(req, 200, "text/plain", "stream", 6);
}

static void closed_cb(void *arg)
{
	fx_t *f = arg;
	sl_http_server_free(f->srv);
	f->srv = NULL;
}

static void done_cb(uv_async_t *a)
{
	fx_t *f = a->data;
	uv_close((uv_handle_t *)&f->done, NULL);
	sl_http_server_close(f->srv, closed_cb, f);
}

static char *exchange(int port, const char *request)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sl_buf_t out = SL_BUF_INIT;
	sl_buf_reserve(&out, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, request, strlen(request)) > 0) {
		char buf[4096];
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			sl_buf_append(&out, buf, (size_t)n);
	}
	close(fd);
	return sl_buf_steal(&out, NULL);
}

static void *client(void *arg)
{
	fx_t *f = arg;
	for (int i = 0; f->requests[i]; i++)
		f->answers[i] = exchange(f->port, f->requests[i]);
	uv_async_send(&f->done);
	return NULL;
}

static void test_check_method(void **state)
{
	(void)state;
	static fx_t f;
	memset(&f, 0, sizeof(f));
	f.requests[0] = "GET /v1/events/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	f.requests[1] = "POST /v1/events/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	f.requests[2] = "DELETE /v1/events/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	assert_int_equal(uv_loop_init(&f.loop), 0);
	sl_http_limits_t lim = SL_HTTP_LIMITS_DEFAULT;
	lim.max_connections = 10;
	lim.max_header_bytes = 4096;
	lim.max_body_bytes = 1024;
	lim.idle_timeout_ms = 5000;
	f.srv = sl_http_server_new(&f.loop, &lim, handler, &f);
	assert_int_equal(sl_http_server_listen(f.srv, "127.0.0.1", 0, NULL), 0);
	f.port = sl_http_server_port(f.srv);
	uv_async_init(&f.loop, &f.done, done_cb);
	f.done.data = &f;
	pthread_t th;
	pthread_create(&th, NULL, client, &f);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	assert_int_equal(uv_loop_close(&f.loop), 0);
	assert_non_null(strstr(f.answers[0], "HTTP/1.1 200 "));
	for (int i = 1; i <= 2; i++) {
		assert_non_null(strstr(f.answers[i], "HTTP/1.1 405 "));
		assert_non_null(strstr(f.answers[i], "\"error\":\"method_not_allowed\""));
		assert_non_null(strstr(f.answers[i], "an event stream is opened with GET"));
	}
	for (int i = 0; i < 3; i++)
		free(f.answers[i]);
	sl_metrics_free_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_ping_frame),
		cmocka_unit_test(test_check_method),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
