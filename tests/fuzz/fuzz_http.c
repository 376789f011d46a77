/* fuzz_http.c: libFuzzer target: the HTTP server's request parsing
 * (src/proto/http_msg.c over http-parser), fed as a connection feeds it:
 * a pipeline of requests arriving in random splits.
 *
 * The first input byte chooses the read size (1..256 bytes); the rest is
 * what the client sent. Like http.c's connection loop, the parser runs over
 * what has arrived, pauses at each complete request (whose accessors are
 * then read: method, path, query, headers, body), resets for the next, and
 * stops at the first error. Invariants checked: the head and body limits
 * hold for every request handed over; the parser consumed no more than it
 * was given; the same bytes fed whole hand over the same requests (method,
 * path, query, body, a header, keep-alive) and end the same way; everything is freed
 * (LeakSanitizer).
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/http/.
 */
#include "proto/http_int.h"

#include <stdlib.h>
#include <string.h>

/* What the handlers saw: each request's parts, hashed, and how it ended. */
typedef struct trace {
	uint64_t hash;
	size_t requests;
	bool failed;
} trace_t;

static void mix(trace_t *t, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		t->hash = t->hash * 131 + (unsigned char)p[i];
	t->hash = t->hash * 137 + n;
}

static void run(const uint8_t *data, size_t size, size_t step, trace_t *t)
{
	sl_http_server_t srv;
	memset(&srv, 0, sizeof(srv));
	sl_http_limits_t lim = SL_HTTP_LIMITS_DEFAULT;
	lim.max_header_bytes = 2048;
	lim.max_body_bytes = 1024;
	srv.lim = lim;
	sl_http__conn_t *c = calloc(1, sizeof(*c));
	c->srv = &srv;
	c->req.conn = c;
	http_parser_init(&c->parser, HTTP_REQUEST);
	size_t fed = 0;
	bool failed = false;
	while (fed < size && !failed) {
		size_t n = size - fed < step ? size - fed : step;
		sl_buf_append(&c->in, (const char *)data + fed, n);
		fed += n;
		/* As conn_process: parse requests until the input runs out. */
		while (c->in.len && !failed) {
			size_t used = http_parser_execute(&c->parser, &sl_http__parser_settings, c->in.data, c->in.len);
			if (used > c->in.len)
				abort();
			enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
			if (e != HPE_OK && e != HPE_PAUSED) {
				failed = true;
				break;
			}
			memmove(c->in.data, c->in.data + used, c->in.len - used);
			c->in.len -= used;
			if (!c->in_request)
				break;
			/* A request is handed over: read everything a handler would. */
			sl_http_req_t *r = &c->req;
			if (c->head_bytes > lim.max_header_bytes || r->body.len > lim.max_body_bytes)
				abort();
			const char *m = sl_http_req_method(r);
			mix(t, m, strlen(m));
			sl_iov_t v = sl_http_req_path(r);
			mix(t, v.base, v.len);
			v = sl_http_req_query(r);
			mix(t, v.base, v.len);
			v = sl_http_req_body(r);
			mix(t, v.base, v.len);
			const char *h = sl_http_req_header(r, "content-type");
			mix(t, h ? h : "", h ? strlen(h) : 0);
			mix(t, r->keep_alive ? "k" : "c", 1);
			t->requests++;
			c->in_request = false;
			http_parser_pause(&c->parser, 0);
			if (!r->keep_alive)
				failed = true; /* the server closes after this one */
		}
	}
	t->failed = failed;
	sl_http__req_free(&c->req);
	sl_buf_free(&c->in);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] + 1;
	trace_t split = {0}, whole = {0};
	run(data + 1, size - 1, step, &split);
	run(data + 1, size - 1, size, &whole);
	/* However the bytes arrive, the handlers see the same requests. */
	if (split.requests != whole.requests || split.hash != whole.hash || split.failed != whole.failed)
		abort();
	return 0;
}
