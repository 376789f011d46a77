/* test_http.c: the HTTP/1.1 server (src/proto/http.c) over real sockets.
 *
 * The server runs on this thread's libuv loop; a client thread speaks raw
 * HTTP over a blocking socket and stores what it read. Assertions run on the
 * main thread after the loop ended (cmocka is not thread-safe), and the test
 * checks that every handle closed (uv_loop_close() == 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "proto/http.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_CASES 16

typedef struct {
	const char *request;
	char *response; /* everything read until EOF */
} http_case_t;

typedef struct {
	uv_loop_t loop;
	uv_async_t done;
	uv_timer_t later;
	sl_http_req_t *pending;
	sl_http_server_t *srv;
	int port;
	http_case_t cases[MAX_CASES];
	size_t ncases;
} fixture_t;

static void later_cb(uv_timer_t *t)
{
	fixture_t *fx = t->data;
	sl_http_respond(fx->pending, 200, "text/plain", "late", 4);
	fx->pending = NULL;
}

static void handler(sl_http_req_t *req, void *arg)
{
	fixture_t *fx = arg;
	sl_iov_t path = sl_http_req_path(req);
	if (sl_http_serve_ops(req, NULL, NULL))
		return;
	if (sl_iov_eq(path, "/echo")) {
		sl_iov_t b = sl_http_req_body(req);
		sl_http_respond(req, 200, "text/plain", b.base, b.len);
	} else if (sl_iov_eq(path, "/q")) {
		char v[64] = "";
		bool found = sl_http_req_query_param(req, "x", v, sizeof(v));
		sl_http_respond(req, found ? 200 : 404, "text/plain", v, strlen(v));
	} else if (sl_iov_eq(path, "/later")) {
		fx->pending = req;
		uv_timer_start(&fx->later, later_cb, 20, 0);
	} else {
		sl_http_respond_error(req, 404, "not_found", "no route %.*s", (int)path.len, path.base);
	}
}

static void closed_cb(void *arg)
{
	fixture_t *fx = arg;
	sl_http_server_free(fx->srv);
	fx->srv = NULL;
}

static void done_cb(uv_async_t *a)
{
	fixture_t *fx = a->data;
	uv_close((uv_handle_t *)&fx->done, NULL);
	uv_close((uv_handle_t *)&fx->later, NULL);
	sl_http_server_close(fx->srv, closed_cb, fx);
}

static char *exchange(int port, const char *request)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sl_buf_t out = SL_BUF_INIT;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		size_t len = strlen(request), off = 0;
		while (off < len) {
			ssize_t n = write(fd, request + off, len - off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		char buf[4096];
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			sl_buf_append(&out, buf, (size_t)n);
	}
	close(fd);
	if (!out.data)
		sl_buf_puts(&out, "");
	return sl_buf_steal(&out, NULL);
}

static void *client_main(void *arg)
{
	fixture_t *fx = arg;
	for (size_t i = 0; i < fx->ncases; i++)
		fx->cases[i].response = exchange(fx->port, fx->cases[i].request);
	uv_async_send(&fx->done);
	return NULL;
}

/* Run every case against a fresh server; limits small enough to hit. */
static void run_cases(fixture_t *fx)
{
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	sl_http_limits_t lim = {100, 1024, 64, 5000};
	fx->srv = sl_http_server_new(&fx->loop, &lim, handler, fx);
	const char *origins[] = {"http://dash.example"};
	sl_http_server_set_cors(fx->srv, origins, 1);
	assert_int_equal(sl_http_server_listen(fx->srv, "127.0.0.1", 0, NULL), 0);
	fx->port = sl_http_server_port(fx->srv);
	uv_async_init(&fx->loop, &fx->done, done_cb);
	fx->done.data = fx;
	uv_timer_init(&fx->loop, &fx->later);
	fx->later.data = fx;
	pthread_t th;
	pthread_create(&th, NULL, client_main, fx);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static void free_cases(fixture_t *fx)
{
	for (size_t i = 0; i < fx->ncases; i++)
		free(fx->cases[i].response);
	sl_metrics_free_all();
}

/* One request (or pipelined requests) per row, with what its answer must
 * hold: the status line it starts with, substrings that must appear in
 * this order, and one that must not appear. */
typedef struct row {
	const char *name;
	const char *request; /* NULL: the oversized head built below */
	const char *status;
	const char *in_order[4];
	const char *absent;
} row_t;

static const row_t rows[] = {
	{"ops /healthz", "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK\r\n",
	 {"\r\n\r\n{\"status\":\"ok\"}"}, NULL},
	{"two pipelined requests in one write, answered in order",
	 "GET /q?x=a%20b HTTP/1.1\r\nHost: x\r\n\r\nGET /q?x=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	 "HTTP/1.1 200 ", {"\r\n\r\na b", "HTTP/1.1 200", "\r\n\r\n2"}, NULL},
	{"chunked body (what the seed's Node client sends)",
	 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	 "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	 "HTTP/1.1 200 ", {"\r\n\r\nhello world"}, NULL},
	{"body over the 64-byte limit by Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
	 "HTTP/1.1 413 ", {"\"error\":\"body_too_large\""}, NULL},
	{"head over the 1024-byte limit", NULL, "HTTP/1.1 431 ", {NULL}, NULL},
	{"not HTTP", "HELLO\r\n\r\n", "HTTP/1.1 400 ", {NULL}, NULL},
	{"answered later from a timer, then a second request on the connection",
	 "GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /q?x=after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	 "HTTP/1.1 200 ", {"\r\n\r\nlate", "\r\n\r\nafter"}, NULL},
	{"CORS preflight from an allowed origin",
	 "OPTIONS /echo HTTP/1.1\r\nHost: x\r\nOrigin: http://dash.example\r\n"
	 "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n",
	 "HTTP/1.1 204 ", {"Access-Control-Allow-Origin: http://dash.example\r\n"}, NULL},
	{"a disallowed origin gets no CORS header",
	 "GET /q?x=1 HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 ",
	 {NULL}, "Access-Control-Allow-Origin"},
	{"unknown route: JSON error", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 404 ",
	 {"{\"error\":\"not_found\",\"message\":\"no route /nope\"}"}, NULL},
	{"chunked body over the limit",
	 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	 "50\r\n01234567890123456789012345678901234567890123456789012345678901234567890123456789\r\n0\r\n\r\n",
	 "HTTP/1.1 413 ", {NULL}, NULL},
};

/* Each answer is checked against the row that asked for it, and a failure
 * names the row, not an index. */
static void check(const row_t *r, const char *response)
{
	if (strncmp(response, r->status, strlen(r->status)) != 0)
		fail_msg("%s: answer starts '%.40s', expected '%s'", r->name, response, r->status);
	const char *at = response;
	for (size_t i = 0; i < sizeof(r->in_order) / sizeof(r->in_order[0]) && r->in_order[i]; i++) {
		const char *hit = strstr(at, r->in_order[i]);
		if (!hit)
			fail_msg("%s: '%s' missing (in this order) from: %s", r->name, r->in_order[i], response);
		at = hit + strlen(r->in_order[i]);
	}
	if (r->absent && strstr(response, r->absent))
		fail_msg("%s: '%s' should not be in: %s", r->name, r->absent, response);
}

static void test_http_requests(void **state)
{
	(void)state;
	static fixture_t fx;
	memset(&fx, 0, sizeof(fx));
	static char big[2048];
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 0);
	fx.ncases = sizeof(rows) / sizeof(rows[0]);
	assert_true(fx.ncases <= MAX_CASES);
	for (size_t i = 0; i < fx.ncases; i++)
		fx.cases[i].request = rows[i].request ? rows[i].request : big;
	run_cases(&fx);
	for (size_t i = 0; i < fx.ncases; i++)
		check(&rows[i], fx.cases[i].response);
	free_cases(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
