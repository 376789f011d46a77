/* watch.c: `sluice watch m-0001 m-0002 ...`: a terminal client that runs the
 * whole subscribe flow of SPEC section 2 and prints prices as they change.
 *
 * How it fits: what a browser does, on one libuv loop, with a minimal
 * HTTP/1.1 client of its own: POST /v1/channels to the API with the markets;
 * open the publisher's SSE stream GET /v1/events/<id> (plain HTTP, simpler
 * than a WebSocket and the same messages); on {"type":"subscribed"} POST
 * /v1/channels/<id>/begin; then print the snapshot and every update, one
 * line each, dropping an update whose offset is at or below the one held
 * for its market (the client's dedup). --max-updates N exits after N
 * updates (tests); SIGINT/SIGTERM or the end of the stream exit too. On
 * exit the channel is deleted (DELETE /v1/channels/<id>), bounded by
 * --timeout-ms like every other step. --token (or SLUICE_API_TOKEN) sends
 * a bearer token to the API, never to the publisher (`make up` prints
 * one); the stream token the API returns with the channel, if any, goes
 * to the publisher as ?token=. Data goes to stdout, diagnostics to stderr. Exit 0 ok, 1 a step
 * failed, 2 usage.
 *   snapshot m-0001 price=101.2345 offset=123 partition=4
 *   update   m-0001 price=101.9845 offset=124 partition=4 latency_ms=3
 * References: WHATWG HTML "Server-sent events" (event stream format).
 * Non-goals: TLS, redirects, HTTP keep-alive, a WebSocket client.
 */
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "loop/runtime.h"
#include "roles/roles.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const sl_cfg_key_t watch_keys[] = {
	{"api-url", NULL, "SLUICE_API_URL", SL_CFG_STR, "http://127.0.0.1:8080", 0, 0, "the control API"},
	{"publisher-url", NULL, "SLUICE_PUBLISHER_URL", SL_CFG_STR, "http://127.0.0.1:8090", 0, 0,
	 "the publisher (its SSE endpoint is used)"},
	{"api-key", NULL, "SLUICE_API_KEY", SL_CFG_STR, NULL, 0, 0, "sent as X-API-Key when set"},
	{"token", NULL, "SLUICE_API_TOKEN", SL_CFG_STR, NULL, 0, 0,
	 "bearer token (a JWT, e.g. from sluice token) sent to the API as Authorization: Bearer"},
	{"max-updates", NULL, NULL, SL_CFG_INT, "0", 0, 1e12, "exit after this many updates (0: run until SIGINT)"},
	{"timeout-ms", NULL, NULL, SL_CFG_INT, "10000", 100, 600000, "bound on each HTTP step"},
	{0},
};

/* What a JWT is made of (base64url and dots): nothing else goes into a
 * request line or a header. */
#define JWT_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

static const sl_cfg_key_t *const watch_tables[] = {sl_cfg_keys_log, watch_keys, NULL};

typedef struct watch watch_t;
typedef struct hreq hreq_t;
typedef void (*hreq_done_cb)(hreq_t *h, int status, const char *body, size_t len);

/* One HTTP request on its own connection (Connection: close). With
 * `stream` set, the body is handed over as it arrives (SSE). */
struct hreq {
	watch_t *w;
	uv_getaddrinfo_t gai;
	uv_connect_t conn;
	uv_tcp_t tcp;
	uv_write_t wr;
	uv_timer_t timer;
	sl_buf_t out, in;
	int status;
	size_t head_len;
	bool stream, done, closing;
	int handles;
	hreq_done_cb done_cb;
	void (*chunk_cb)(hreq_t *h, const char *data, size_t len);
};

struct watch {
	uv_loop_t *loop;
	sl_cfg_t *cfg;
	sl_runtime_t rt;
	char *const *markets;
	size_t nmarkets;
	char channel[64];
	long long max_updates, updates;
	int exit_code;
	bool stopping, deleted;
	hreq_t *sse;
	sl_buf_t events;
	json_t *held; /* market -> offset */
	int live;     /* requests alive */
};

static void finish(watch_t *w, int code);

/* ---- the HTTP client ---- */
/* The request's memory goes when its two handles and its name lookup are done. */
static void hreq_release(hreq_t *r)
{
	if (--r->handles > 0)
		return;
	sl_buf_free(&r->out);
	sl_buf_free(&r->in);
	r->w->live--;
	watch_t *w = r->w;
	free(r);
	if (w->stopping && w->live == 0)
		sl_runtime_close(&w->rt);
}

static void hreq_closed_cb(uv_handle_t *h)
{
	hreq_release(h->data);
}

static void hreq_end(hreq_t *r, int status, const char *body, size_t len)
{
	if (r->closing)
		return;
	r->closing = true;
	if (!r->done && r->done_cb) {
		r->done = true;
		r->done_cb(r, status, body, len);
	}
	uv_cancel((uv_req_t *)&r->gai);
	uv_close((uv_handle_t *)&r->timer, hreq_closed_cb);
	uv_close((uv_handle_t *)&r->tcp, hreq_closed_cb);
}

static void timer_cb(uv_timer_t *t)
{
	hreq_t *r = t->data;
	fprintf(stderr, "sluice watch: HTTP request timed out\n");
	hreq_end(r, -1, NULL, 0);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)hint;
	hreq_t *r = h->data;
	sl_buf_reserve(&r->in, 65536);
	buf->base = r->in.data + r->in.len;
	buf->len = r->in.cap - r->in.len - 1;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	hreq_t *r = s->data;
	if (n > 0) {
		r->in.len += (size_t)n;
		r->in.data[r->in.len] = 0;
		if (!r->head_len) {
			char *end = strstr(r->in.data, "\r\n\r\n");
			if (!end)
				return;
			r->head_len = (size_t)(end + 4 - r->in.data);
			r->status = atoi(r->in.data + 9);
			if (r->stream && r->status == 200)
				uv_timer_stop(&r->timer); /* a stream may stay quiet */
		}
		if (r->stream && r->status == 200 && r->in.len > r->head_len) {
			r->chunk_cb(r, r->in.data + r->head_len, r->in.len - r->head_len);
			r->in.len = r->head_len;
		}
		return;
	}
	if (n < 0) {
		if (!r->head_len)
			hreq_end(r, -1, NULL, 0);
		else
			hreq_end(r, r->status, r->in.data + r->head_len, r->in.len - r->head_len);
	}
}

static void write_cb(uv_write_t *wr, int status)
{
	hreq_t *r = wr->data;
	if (status < 0)
		hreq_end(r, -1, NULL, 0);
	else
		uv_read_start((uv_stream_t *)&r->tcp, alloc_cb, read_cb);
}

static void connect_cb(uv_connect_t *c, int status)
{
	hreq_t *r = c->data;
	if (status < 0) {
		fprintf(stderr, "sluice watch: connect: %s\n", uv_strerror(status));
		hreq_end(r, -1, NULL, 0);
		return;
	}
	uv_buf_t b = uv_buf_init(r->out.data, (unsigned)r->out.len);
	r->wr.data = r;
	uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1, write_cb);
}

static void resolved_cb(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
	hreq_t *r = g->data;
	if (r->closing) {
		if (ai)
			uv_freeaddrinfo(ai);
		hreq_release(r);
		return;
	}
	hreq_release(r); /* the lookup is over; the handles still hold r */
	if (status < 0 || !ai) {
		fprintf(stderr, "sluice watch: resolve: %s\n", uv_strerror(status));
		if (ai)
			uv_freeaddrinfo(ai);
		hreq_end(r, -1, NULL, 0);
		return;
	}
	r->conn.data = r;
	int rc = uv_tcp_connect(&r->conn, &r->tcp, ai->ai_addr, connect_cb);
	uv_freeaddrinfo(ai);
	if (rc < 0) {
		fprintf(stderr, "sluice watch: connect: %s\n", uv_strerror(rc));
		hreq_end(r, -1, NULL, 0);
	}
}

/* base: "http://host:port[/prefix]". */
static hreq_t *hreq_start(watch_t *w, const char *base, const char *method, const char *path, const char *body,
			  hreq_done_cb done_cb)
{
	char host[256], port[16] = "80", prefix[256] = "";
	const char *p = strncmp(base, "http://", 7) ? NULL : base + 7;
	if (!p || sscanf(p, "%255[^:/]", host) != 1) {
		fprintf(stderr, "sluice watch: bad URL '%s' (http://host:port expected)\n", base);
		return NULL;
	}
	p += strlen(host);
	if (*p == ':') {
		if (sscanf(p + 1, "%15[0-9]", port) != 1) {
			fprintf(stderr, "sluice watch: bad port in URL '%s'\n", base);
			return NULL;
		}
		p += 1 + strlen(port);
	}
	snprintf(prefix, sizeof(prefix), "%s", p);
	size_t pl = strlen(prefix);
	if (pl && prefix[pl - 1] == '/')
		prefix[pl - 1] = 0;
	hreq_t *r = sl_xcalloc(1, sizeof(*r));
	r->w = w;
	r->done_cb = done_cb;
	sl_buf_printf(&r->out, "%s %s%s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nUser-Agent: sluice-watch\r\n",
		      method, prefix, path, host, port);
	const char *key = sl_cfg_str(w->cfg, "api-key");
	if (key && *key)
		sl_buf_printf(&r->out, "X-API-Key: %s\r\n", key);
	/* The API's credential goes to the API only, never to the publisher. */
	const char *token = sl_cfg_str(w->cfg, "token");
	if (token && *token && !strcmp(base, sl_cfg_str(w->cfg, "api-url")))
		sl_buf_printf(&r->out, "Authorization: Bearer %s\r\n", token);
	if (body)
		sl_buf_printf(&r->out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
			      body);
	else
		sl_buf_printf(&r->out, "%sContent-Length: 0\r\n\r\n",
			      strcmp(method, "GET") ? "" : "Accept: text/event-stream\r\n");
	uv_tcp_init(w->loop, &r->tcp);
	uv_timer_init(w->loop, &r->timer);
	r->tcp.data = r->timer.data = r->gai.data = r;
	r->handles = 3; /* tcp, timer, name lookup */
	w->live++;
	uv_timer_start(&r->timer, timer_cb, (uint64_t)sl_cfg_int(w->cfg, "timeout-ms"), 0);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	int rc = uv_getaddrinfo(w->loop, &r->gai, resolved_cb, host, port, &hints);
	if (rc < 0) {
		fprintf(stderr, "sluice watch: resolve %s: %s\n", host, uv_strerror(rc));
		r->done = true;
		hreq_release(r);
		hreq_end(r, -1, NULL, 0);
		return NULL;
	}
	return r;
}

/* ---- the flow ---- */
static void print_entry(watch_t *w, const char *kind, json_t *e)
{
	const char *m = json_string_value(json_object_get(e, "market"));
	json_t *off = json_object_get(e, "offset"), *val = json_object_get(e, "value");
	if (!m || !json_is_integer(off))
		return;
	json_int_t o = json_integer_value(off);
	json_t *had = json_object_get(w->held, m);
	if (had && json_integer_value(had) >= o)
		return; /* at or below what we hold: a duplicate or older */
	json_object_set_new(w->held, m, json_integer(o));
	json_t *price = json_is_object(val) ? json_object_get(val, "price") : NULL;
	char *vs = json_dumps(price ? price : val, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(10));
	printf("%-8s %s %s=%s offset=%lld partition=%lld", kind, m, price ? "price" : "value", vs ? vs : "?",
	       (long long)o, (long long)json_integer_value(json_object_get(e, "partition")));
	free(vs);
	json_t *ts = json_object_get(e, "ts");
	if (!strcmp(kind, "update") && json_is_integer(ts))
		printf(" latency_ms=%lld", (long long)(sl_clock_wall_ms() - json_integer_value(ts)));
	printf("\n");
	fflush(stdout);
	if (!strcmp(kind, "update") && ++w->updates == w->max_updates)
		finish(w, 0);
}

static void begin_done_cb(hreq_t *h, int status, const char *body, size_t len)
{
	if (status != 202) {
		fprintf(stderr, "sluice watch: begin failed: %d %.*s\n", status, (int)len, body ? body : "");
		finish(h->w, 1);
	}
}

static void on_message(watch_t *w, const char *data, size_t len)
{
	json_t *j = json_loadb(data, len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	if (!type) {
		json_decref(j);
		return;
	}
	if (!strcmp(type, "subscribed")) {
		char path[128];
		snprintf(path, sizeof(path), "/v1/channels/%s/begin", w->channel);
		if (!hreq_start(w, sl_cfg_str(w->cfg, "api-url"), "POST", path, NULL, begin_done_cb))
			finish(w, 1);
	} else if (!strcmp(type, "snapshot")) {
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(j, "markets"), i, e) print_entry(w, "snapshot", e);
	} else if (!strcmp(type, "update")) {
		print_entry(w, "update", j);
	} else if (!strcmp(type, "closed")) {
		fprintf(stderr, "sluice watch: the channel was closed\n");
		w->deleted = true;
		finish(w, 0);
	} else if (!strcmp(type, "error")) {
		fprintf(stderr, "sluice watch: publisher error: %.*s\n", (int)len, data);
	}
	json_decref(j);
}

/* SSE: events end with a blank line; `data:` lines carry the message. */
static void sse_chunk_cb(hreq_t *h, const char *data, size_t len)
{
	watch_t *w = h->w;
	sl_buf_append(&w->events, data, len);
	char *start = w->events.data, *end;
	while (!w->stopping && (end = strstr(start, "\n\n"))) {
		*end = 0;
		for (char *line = start; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			if (!strncmp(line, "data:", 5))
				on_message(w, line + 5 + (line[5] == ' '), strlen(line + 5 + (line[5] == ' ')));
			line = nl ? nl + 1 : NULL;
		}
		start = end + 2;
	}
	size_t rest = w->events.len - (size_t)(start - w->events.data);
	memmove(w->events.data, start, rest);
	w->events.len = rest;
	w->events.data[rest] = 0;
}

static void sse_done_cb(hreq_t *h, int status, const char *body, size_t len)
{
	watch_t *w = h->w;
	w->sse = NULL;
	if (w->stopping)
		return;
	if (status != 200)
		fprintf(stderr, "sluice watch: stream refused: %d %.*s\n", status, (int)len, body ? body : "");
	else
		fprintf(stderr, "sluice watch: the stream ended\n");
	finish(w, status == 200 ? 0 : 1);
}

static void created_cb(hreq_t *h, int status, const char *body, size_t len)
{
	watch_t *w = h->w;
	json_t *j = status == 201 ? json_loadb(body, len, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(j, "channel"));
	if (!id) {
		fprintf(stderr, "sluice watch: creating the channel failed: %d %.*s\n", status, (int)len, body ? body : "");
		json_decref(j);
		w->deleted = true;
		finish(w, 1);
		return;
	}
	snprintf(w->channel, sizeof(w->channel), "%s", id);
	/* The channel's stream token, when the API signs one: a publisher
	 * with --require-stream-token wants it (?token=), others ignore it.
	 * Only base64url and dots go into the request line. */
	const char *st = json_string_value(json_object_get(j, "stream_token"));
	char path[128 + 4096];
	if (st && strlen(st) < 4096 && !st[strspn(st, JWT_CHARS)])
		snprintf(path, sizeof(path), "/v1/events/%s?token=%s", w->channel, st);
	else
		snprintf(path, sizeof(path), "/v1/events/%s", w->channel);
	json_decref(j);
	fprintf(stderr, "sluice watch: channel %s\n", w->channel);
	w->sse = hreq_start(w, sl_cfg_str(w->cfg, "publisher-url"), "GET", path, NULL, sse_done_cb);
	if (!w->sse) {
		finish(w, 1);
		return;
	}
	w->sse->stream = true;
	w->sse->chunk_cb = sse_chunk_cb;
}

static void deleted_cb(hreq_t *h, int status, const char *body, size_t len)
{
	(void)h, (void)body, (void)len;
	if (status != 204 && status != 404)
		fprintf(stderr, "sluice watch: deleting the channel failed: %d\n", status);
}

static void finish(watch_t *w, int code)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->exit_code = code;
	if (w->sse) {
		hreq_t *s = w->sse;
		w->sse = NULL;
		s->done = true;
		hreq_end(s, 0, NULL, 0);
	}
	char path[128];
	snprintf(path, sizeof(path), "/v1/channels/%s", w->channel);
	if (w->channel[0] && !w->deleted)
		hreq_start(w, sl_cfg_str(w->cfg, "api-url"), "DELETE", path, NULL, deleted_cb);
	if (w->live == 0)
		sl_runtime_close(&w->rt);
}

static void stop_cb(void *arg)
{
	finish(arg, 0);
}

static int watch_run(sl_cfg_t *cfg)
{
	watch_t w = {0};
	w.cfg = cfg;
	w.nmarkets = sl_cfg_args(cfg, &w.markets);
	w.max_updates = sl_cfg_int(cfg, "max-updates");
	if (!w.nmarkets) {
		fprintf(stderr, "sluice watch: name at least one market, e.g. sluice watch m-0001 m-0002\n");
		return 2;
	}
	const char *token = sl_cfg_str(cfg, "token");
	if (token && token[strspn(token, JWT_CHARS)]) {
		/* A JWT is base64url and dots; anything else would break the header. */
		fprintf(stderr, "sluice watch: bad --token: a JWT has only letters, digits, '-', '_' and '.'\n");
		return 2;
	}
	json_t *ms = json_array();
	for (size_t i = 0; i < w.nmarkets; i++)
		json_array_append_new(ms, json_string(w.markets[i]));
	json_t *req = json_pack("{s:o}", "markets", ms);
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	w.held = json_object();
	uv_loop_t loop;
	uv_loop_init(&loop);
	w.loop = &loop;
	sl_runtime_init(&w.rt, &loop, stop_cb, &w);
	if (!hreq_start(&w, sl_cfg_str(cfg, "api-url"), "POST", "/v1/channels", body, created_cb)) {
		w.exit_code = 2;
		finish(&w, 2);
	}
	free(body);
	int lc = sl_runtime_run(&w.rt);
	if (lc)
		fprintf(stderr, "sluice watch: loop close failed (%d)\n", lc);
	json_decref(w.held);
	sl_buf_free(&w.events);
	return w.exit_code;
}

const sl_role_t sl_role_watch = {
	.name = "watch",
	.summary = "subscribe to markets and print their prices as they change",
	.usage = "sluice watch [options] MARKET...",
	.tables = watch_tables,
	.run = watch_run,
};
