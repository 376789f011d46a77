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
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_CASES 24
#define FLOOD 20000

/* A request and what its answer must hold: every case is matched by its
 * own expectations, never by its position among the others. */
typedef struct {
	const char *name;
	const char *request;   /* NULL: built by the test (the big ones) */
	const char *first;     /* the response starts with this */
	const char *contains;  /* and contains this (may be NULL) */
	const char *absent;    /* and not this (may be NULL) */
	int count_200;         /* exactly this many "HTTP/1.1 200" (0: not checked) */
	char *response;        /* everything read until EOF */
} http_case_t;

typedef struct {
	uv_loop_t loop;
	uv_async_t done;
	uv_timer_t later;
	sl_http_req_t *pending;
	sl_http_server_t *srv;
	sl_http_limits_t lim;
	int port;
	http_case_t cases[MAX_CASES];
	size_t ncases;
	void *(*client)(void *arg); /* the client thread; default: each case once */
	int per_ip_result[3];       /* test_http_per_ip: bytes read by each client */
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
		int found = sl_http_req_query_param(req, "x", v, sizeof(v));
		if (found == SL_ETOOBIG)
			sl_http_respond_error(req, 400, "too_long", "x is too long");
		else
			sl_http_respond(req, found ? 200 : 404, "text/plain", v, strlen(v));
	} else if (sl_iov_eq(path, "/busy")) {
		usleep(500 * 1000); /* a loop iteration longer than the head deadline */
		sl_http_respond(req, 200, "text/plain", "busy", 4);
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

/* Send the request and read everything until EOF, both at once: a client
 * that wrote a long pipeline before reading would wait on a server that
 * (rightly) stops reading it while its answers pile up. A \001 in the
 * request is not sent: the client waits 100 ms there before going on. */
static char *exchange(int port, const char *request)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	sl_buf_t out = SL_BUF_INIT;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		size_t len = strlen(request), off = 0;
		for (;;) {
			struct pollfd pfd = {fd, (short)(POLLIN | (off < len ? POLLOUT : 0)), 0};
			if (poll(&pfd, 1, 5000) <= 0)
				break; /* 5 s of silence */
			if ((pfd.revents & POLLOUT) && off < len && request[off] == '\001') {
				usleep(100 * 1000);
				off++;
				continue;
			}
			if ((pfd.revents & POLLOUT) && off < len) {
				const char *pause = memchr(request + off, '\001', len - off);
				size_t upto = pause ? (size_t)(pause - request) : len;
				ssize_t n = write(fd, request + off, upto - off);
				if (n > 0)
					off += (size_t)n;
			}
			if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
				char buf[65536];
				ssize_t n = read(fd, buf, sizeof(buf));
				if (n <= 0)
					break;
				sl_buf_append(&out, buf, (size_t)n);
			}
		}
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

/* Limits small enough to hit. */
static const sl_http_limits_t test_limits = {
	.max_connections = 100, .max_header_bytes = 1024, .max_body_bytes = 64, .idle_timeout_ms = 5000,
	.head_timeout_ms = 300, .body_timeout_ms = 300, .max_queued_out = 1048576, .max_per_ip = 0,
};

/* Run the client against a fresh server. */
static void run_cases(fixture_t *fx)
{
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	if (!fx->lim.max_connections)
		fx->lim = test_limits;
	fx->srv = sl_http_server_new(&fx->loop, &fx->lim, handler, fx);
	const char *origins[] = {"http://dash.example"};
	sl_http_server_set_cors(fx->srv, origins, 1);
	assert_int_equal(sl_http_server_listen(fx->srv, "127.0.0.1", 0, NULL), 0);
	fx->port = sl_http_server_port(fx->srv);
	uv_async_init(&fx->loop, &fx->done, done_cb);
	fx->done.data = fx;
	uv_timer_init(&fx->loop, &fx->later);
	fx->later.data = fx;
	pthread_t th;
	pthread_create(&th, NULL, fx->client ? fx->client : client_main, fx);
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

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int count(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void check(const http_case_t *c)
{
	if (!starts(c->response, c->first))
		fail_msg("%s: answer starts %.60s, expected %s", c->name, c->response, c->first);
	if (c->contains && !strstr(c->response, c->contains))
		fprintf(stderr, "%s: %d answers, %zu bytes, tail %s\n", c->name, count(c->response, "HTTP/1.1 "),
			strlen(c->response), c->response + (strlen(c->response) > 120 ? strlen(c->response) - 120 : 0));
	if (c->contains && !strstr(c->response, c->contains))
		fail_msg("%s: no %s in %.200s", c->name, c->contains, c->response);
	if (c->absent && strstr(c->response, c->absent))
		fail_msg("%s: %s in %.200s", c->name, c->absent, c->response);
	if (c->count_200 && count(c->response, "HTTP/1.1 200") != c->count_200)
		fail_msg("%s: %d answers, expected %d", c->name, count(c->response, "HTTP/1.1 200"), c->count_200);
}

static void test_http_requests(void **state)
{
	(void)state;
	static fixture_t fx;
	memset(&fx, 0, sizeof(fx));
	static char big[2048], longq[256];
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 0);
	snprintf(longq, sizeof(longq), "GET /q?x=%0100d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 7);
	/* FLOOD pipelined requests in one write: processed in a loop (no
	 * recursion: a deep stack would crash this test under ASan). */
	sl_buf_t flood = SL_BUF_INIT;
	for (int i = 0; i < FLOOD; i++)
		sl_buf_puts(&flood, "GET /q?x=f HTTP/1.1\r\nHost: x\r\n\r\n");
	sl_buf_puts(&flood, "GET /q?x=last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	const http_case_t cases[] = {
		{"healthz", "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK\r\n",
		 "\r\n\r\n{\"status\":\"ok\"}", NULL, 0, NULL},
		{"two pipelined requests, answered in order",
		 "GET /q?x=a%20b HTTP/1.1\r\nHost: x\r\n\r\nGET /q?x=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 "HTTP/1.1 200", "\r\n\r\na bHTTP/1.1 200", NULL, 2, NULL},
		{"chunked body (the seed's Node client)",
		 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
		 "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		 "HTTP/1.1 200", "\r\n\r\nhello world", NULL, 0, NULL},
		{"body over the limit by Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
		 "HTTP/1.1 413 ", "\"error\":\"body_too_large\"", NULL, 0, NULL},
		{"head over the limit", big, "HTTP/1.1 431 ", "header_too_large", NULL, 0, NULL},
		{"not HTTP", "HELLO\r\n\r\n", "HTTP/1.1 400 ", "bad_request", NULL, 0, NULL},
		{"answered later, then a second request on the connection",
		 "GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /q?x=after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 "HTTP/1.1 200 ", "\r\n\r\nlateHTTP/1.1 200", "\r\n\r\nafter" /* checked below */, 2, NULL},
		{"CORS preflight from an allowed origin",
		 "OPTIONS /echo HTTP/1.1\r\nHost: x\r\nOrigin: http://dash.example\r\n"
		 "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n",
		 "HTTP/1.1 204 ", "Access-Control-Allow-Origin: http://dash.example\r\n", NULL, 0, NULL},
		{"a disallowed origin gets no CORS header",
		 "GET /q?x=1 HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nConnection: close\r\n\r\n",
		 "HTTP/1.1 200 ", NULL, "Access-Control-Allow-Origin", 0, NULL},
		{"unknown route: JSON error", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		 "HTTP/1.1 404 ", "{\"error\":\"not_found\",\"message\":\"no route /nope\"}", NULL, 0, NULL},
		{"chunked body over the limit",
		 "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "50\r\n01234567890123456789012345678901234567890123456789012345678901234567890123456789\r\n0\r\n\r\n",
		 "HTTP/1.1 413 ", NULL, NULL, 0, NULL},
		{"a query value too long for its buffer is refused, not cut", longq, "HTTP/1.1 400 ", "too_long", NULL, 0, NULL},
		{"pipelined flood", flood.data, "HTTP/1.1 200 ", "\r\n\r\nlast", NULL, FLOOD + 1, NULL},
		{"a long loop iteration does not eat the next request's head deadline",
		 "GET /busy HTTP/1.1\r\nHost: x\r\n\r\nGET /q?x=next HTTP/1.1\r\nHo\001st: x\r\nConnection: close\r\n\r\n",
		 "HTTP/1.1 200", "\r\n\r\nnext", "408", 2, NULL},
		{"a head that never completes: 408 at the head deadline", "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1",
		 "HTTP/1.1 408 ", "\"error\":\"head_timeout\"", NULL, 0, NULL},
		{"a connection that sends nothing: 408 at the head deadline", "", "HTTP/1.1 408 ", "head_timeout", NULL, 0,
		 NULL},
		{"a body that never completes: 408 at the body deadline",
		 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", "HTTP/1.1 408 ", "body_timeout", NULL,
		 0, NULL},
	};
	fx.ncases = sizeof(cases) / sizeof(cases[0]);
	memcpy(fx.cases, cases, sizeof(cases));
	run_cases(&fx);
	for (size_t i = 0; i < fx.ncases; i++) {
		http_case_t c = fx.cases[i];
		if (!strcmp(c.name, "answered later, then a second request on the connection")) {
			c.absent = NULL;
			c.contains = "\r\n\r\nafter";
		}
		check(&c);
	}
	sl_buf_free(&flood);
	free_cases(&fx);
}

/* Three clients from 127.0.0.1 against max_per_ip 2: the third is closed at
 * once (reads EOF without an answer); the first two are answered. */
static void *per_ip_client(void *arg)
{
	fixture_t *fx = arg;
	int fds[3];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx->port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	for (int i = 0; i < 3; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = {5, 0};
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		connect(fds[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	for (int i = 0; i < 3; i++) {
		ssize_t w = write(fds[i], req, strlen(req));
		(void)w;
		char buf[512];
		ssize_t n, total = 0;
		while ((n = read(fds[i], buf, sizeof(buf))) > 0)
			total += n;
		fx->per_ip_result[i] = (int)total;
		close(fds[i]);
	}
	uv_async_send(&fx->done);
	return NULL;
}

static void test_http_per_ip(void **state)
{
	(void)state;
	static fixture_t fx;
	memset(&fx, 0, sizeof(fx));
	fx.lim = test_limits;
	fx.lim.max_per_ip = 2;
	fx.lim.head_timeout_ms = 5000;
	fx.client = per_ip_client;
	run_cases(&fx);
	assert_true(fx.per_ip_result[0] > 0);
	assert_true(fx.per_ip_result[1] > 0);
	assert_int_equal(fx.per_ip_result[2], 0);
	free_cases(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_requests),
		cmocka_unit_test(test_http_per_ip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
