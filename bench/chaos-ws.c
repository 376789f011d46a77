/* chaos-ws.c: the clients of the chaos run (tests/chaos/chaos.py): many
 * WebSocket subscribers that live through faults and keep their view.
 *
 *   build/bench/chaos-ws --channels-file F --publishers h:p,h:p --apis h:p,h:p
 *       --status-file S --final-file V [--log-file L --sample-every K] [--connect-rate 500]
 *
 * Client i reads line i of F ("<channel> <market>,<market>,..."; the API
 * made the channel), opens ws://<publisher i mod n>/v1/stream/<channel>,
 * and on every `subscribed` (the first, one with "resumed":true, or the
 * one after a reconnect) sends POST /v1/channels/<channel>/begin to an
 * API (the next one when it fails, retried every 500 ms). When its
 * connection ends (the publisher died, refused, closed it) it reconnects
 * to the next publisher after 100-300 ms. It holds a view per market:
 * (offset, value), applying a `snapshot` entry or an `update` only when
 * its offset is above the one held (the protocol's rule, docs/protocol.md);
 * one at or below is counted (dup, below), never applied. Clients i with
 * i % K == 0 log every applied (market, offset, value) to L, so the
 * driver can check each against Kafka. Every 200 ms S gets, written whole
 * (rename), the counters and per market the newest record timestamp any
 * client received and when: the driver's measure of "updates flow again".
 * On SIGTERM or SIGINT: V gets every client's final view
 * ("<i> <channel> <market> <offset> <value>" lines), a summary JSON line
 * goes to stdout, exit 0.
 * How it fits: the chaos run's load and its clients' side of the checks;
 * bench/ws-load.c is the benchmark's client (no faults, no views). The
 * connection itself (connect, the upgrade, frames, pongs) is
 * bench/wsclient.c, shared with ws-load.c; this file keeps the views,
 * the reconnects and the begin requests.
 * Non-goals: TLS, SSE, speed (jansson parses every message).
 */
#include "wsclient.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#define MAXM 16
#define MAXEP 8
#define MKT_SLOTS 65536

typedef struct view {
	char market[32];
	int64_t off; /* -1: nothing held */
	char *val;
} view_t;

typedef struct client {
	wsc_t ws; /* the connection; ws.data points back here */
	uv_timer_t timer; /* reconnects and begin retries */
	int idx, pub, api;
	bool subscribed, begin_busy, begin_due;
	char chan[64];
	int nm;
	view_t v[MAXM];
} client_t;

typedef struct hreq {
	uv_tcp_t tcp;
	uv_connect_t creq;
	client_t *c;
	char resp[64];
	size_t rn;
} hreq_t;

typedef struct ep {
	char host[64];
	int port;
	char hostport[80]; /* the Host header */
	struct sockaddr_in sa;
} ep_t;

typedef struct mkt {
	char name[32];
	int64_t last_ts;
	double last_wall;
} mkt_t;

static struct {
	const char *chans, *pubs, *apis, *status, *final, *log;
	int sample_every, connect_rate;
} o = {NULL, NULL, NULL, NULL, NULL, NULL, 0, 500};

static uv_loop_t *loop;
static client_t *cl;
static int ncl, next_connect;
static ep_t pubs[MAXEP], apis[MAXEP];
static int npubs, napis;
static mkt_t *mkts;
static FILE *sample_log;
static uv_timer_t tick, conn_timer;
static uv_signal_t sigterm, sigint;
static struct {
	uint64_t applied, dups, below, updates, snapshots, reconnects, refused, begins_ok, begins_failed, subscribed_msgs,
		resumed, unknown_market, bad_json, closes;
} st;

static int parse_eps(const char *list, ep_t *eps)
{
	int n = 0;
	char *dup = strdup(list), *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t && n < MAXEP; t = strtok_r(NULL, ",", &save)) {
		char *c = strrchr(t, ':');
		if (!c)
			continue;
		*c = 0;
		snprintf(eps[n].host, sizeof(eps[n].host), "%s", t);
		eps[n].port = atoi(c + 1);
		snprintf(eps[n].hostport, sizeof(eps[n].hostport), "%s:%d", eps[n].host, eps[n].port);
		uv_ip4_addr(eps[n].host, eps[n].port, &eps[n].sa);
		n++;
	}
	free(dup);
	return n;
}

static mkt_t *mkt_get(const char *name)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (uint32_t i = 0; i < MKT_SLOTS; i++) {
		mkt_t *m = &mkts[(h + i) % MKT_SLOTS];
		if (!m->name[0]) {
			snprintf(m->name, sizeof(m->name), "%s", name);
			return m;
		}
		if (!strcmp(m->name, name))
			return m;
	}
	return NULL;
}

/* ---- connection life ---- */
static void connect_client(client_t *c);
static void start_begin(client_t *c);

static void reconnect_cb(uv_timer_t *t)
{
	connect_client(t->data);
}

/* The connection ended (or could not start): close it, try again. */
static void drop(client_t *c, bool refused)
{
	if (c->ws.state == WSC_OPEN)
		st.closes++;
	if (refused)
		st.refused++;
	c->subscribed = false;
	wsc_close(&c->ws);
	/* Another publisher, a moment later (all clients of a dead one do
	 * not come back in the same millisecond). */
	c->pub = (c->pub + 1) % npubs;
	st.reconnects++;
	uv_timer_start(&c->timer, reconnect_cb, 100 + (uint64_t)(rand() % 200), 0);
}

static void apply(client_t *c, const char *market, int64_t off, int64_t ts, json_t *value, double now)
{
	view_t *v = NULL;
	for (int k = 0; k < c->nm; k++)
		if (!strcmp(c->v[k].market, market))
			v = &c->v[k];
	if (!v) {
		st.unknown_market++;
		return;
	}
	mkt_t *m = mkt_get(market);
	if (m && ts > m->last_ts) {
		m->last_ts = ts;
		m->last_wall = now;
	}
	if (off == v->off) {
		st.dups++;
		return;
	}
	if (off < v->off) {
		st.below++;
		return;
	}
	char *txt = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	free(v->val);
	v->val = txt;
	v->off = off;
	st.applied++;
	if (sample_log && o.sample_every > 0 && c->idx % o.sample_every == 0)
		fprintf(sample_log, "%d %s %lld %s\n", c->idx, market, (long long)off, txt ? txt : "null");
}

static void on_text(client_t *c, const char *s, size_t n, double now)
{
	json_error_t e;
	json_t *j = json_loadb(s, n, 0, &e);
	const char *type = json_string_value(json_object_get(j, "type"));
	if (!type) {
		st.bad_json++;
	} else if (!strcmp(type, "update")) {
		st.updates++;
		const char *mk = json_string_value(json_object_get(j, "market"));
		if (mk)
			apply(c, mk, json_integer_value(json_object_get(j, "offset")),
			      json_integer_value(json_object_get(j, "ts")), json_object_get(j, "value"), now);
	} else if (!strcmp(type, "snapshot")) {
		st.snapshots++;
		json_t *arr = json_object_get(j, "markets"), *it;
		size_t i;
		json_array_foreach(arr, i, it) {
			const char *mk = json_string_value(json_object_get(it, "market"));
			if (mk)
				apply(c, mk, json_integer_value(json_object_get(it, "offset")),
				      json_integer_value(json_object_get(it, "ts")), json_object_get(it, "value"), now);
		}
	} else if (!strcmp(type, "subscribed")) {
		st.subscribed_msgs++;
		if (json_is_true(json_object_get(j, "resumed")))
			st.resumed++;
		c->subscribed = true;
		start_begin(c);
	}
	json_decref(j);
}

static void text_cb(wsc_t *ws, const char *s, size_t n, double now)
{
	on_text(ws->data, s, n, now);
}

/* A publisher that cannot be reached or refuses the upgrade counts as
 * refused; a close frame or a lost connection does not. */
static void end_cb(wsc_t *ws, wsc_end_t why, int code, const char *msg)
{
	(void)code;
	(void)msg;
	drop(ws->data, why == WSC_END_CONNECT || why == WSC_END_REFUSED);
}

static const wsc_cbs_t cbs = {NULL, NULL, text_cb, end_cb};

static void connect_client(client_t *c)
{
	if (c->ws.state != WSC_IDLE) { /* the old socket is still closing */
		uv_timer_start(&c->timer, reconnect_cb, 50, 0);
		return;
	}
	char path[96];
	snprintf(path, sizeof(path), "/v1/stream/%s", c->chan);
	ep_t *ep = &pubs[c->pub];
	if (wsc_connect(&c->ws, loop, (const struct sockaddr *)&ep->sa, ep->hostport, path, NULL) < 0)
		drop(c, true);
}

/* ---- begin ---- */
static void begin_retry(uv_timer_t *t);

static void hreq_closed_cb(uv_handle_t *h)
{
	free(h->data);
}

static void hreq_done(hreq_t *r, bool ok)
{
	client_t *c = r->c;
	c->begin_busy = false;
	if (ok) {
		st.begins_ok++;
	} else {
		st.begins_failed++;
		c->api = (c->api + 1) % napis;
		c->begin_due = true;
	}
	if (c->begin_due && c->subscribed) {
		c->begin_due = false;
		uv_timer_start(&c->timer, begin_retry, ok ? 0 : 500, 0);
	}
	uv_close((uv_handle_t *)&r->tcp, hreq_closed_cb);
}

static void hreq_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	hreq_t *r = s->data;
	if (nread > 0) {
		size_t k = (size_t)nread;
		if (k > sizeof(r->resp) - 1 - r->rn)
			k = sizeof(r->resp) - 1 - r->rn;
		memcpy(r->resp + r->rn, buf->base, k);
		r->rn += k;
		r->resp[r->rn] = 0;
		if (r->rn >= 12) {
			uv_read_stop(s);
			hreq_done(r, r->resp[9] == '2');
		}
		return;
	}
	if (nread < 0) {
		uv_read_stop(s);
		hreq_done(r, false);
	}
}

static void hreq_connected_cb(uv_connect_t *req, int status)
{
	hreq_t *r = req->data;
	if (status < 0) {
		hreq_done(r, false);
		return;
	}
	char q[300];
	int n = snprintf(q, sizeof(q),
			 "POST /v1/channels/%s/begin HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: 0\r\n"
			 "Connection: close\r\n\r\n",
			 r->c->chan, apis[r->c->api].host, apis[r->c->api].port);
	wsc_write((uv_stream_t *)&r->tcp, q, (size_t)n);
	uv_read_start((uv_stream_t *)&r->tcp, wsc_alloc_cb, hreq_read_cb);
}

static void start_begin(client_t *c)
{
	if (c->begin_busy) {
		c->begin_due = true; /* once this one ends */
		return;
	}
	c->begin_busy = true;
	hreq_t *r = calloc(1, sizeof(*r));
	r->c = c;
	uv_tcp_init(loop, &r->tcp);
	r->tcp.data = r;
	r->creq.data = r;
	if (uv_tcp_connect(&r->creq, &r->tcp, (const struct sockaddr *)&apis[c->api].sa, hreq_connected_cb) < 0)
		hreq_done(r, false);
}

static void begin_retry(uv_timer_t *t)
{
	client_t *c = t->data;
	if (c->subscribed)
		start_begin(c);
}

/* ---- the loop ---- */
static void write_status(void)
{
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", o.status);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	int open = 0, subscribed = 0;
	for (int i = 0; i < next_connect; i++) {
		open += cl[i].ws.state == WSC_OPEN;
		subscribed += cl[i].subscribed;
	}
	fprintf(f,
		"{\"t\":%.0f,\"clients\":%d,\"started\":%d,\"open\":%d,\"subscribed\":%d,\"applied\":%llu,"
		"\"dups\":%llu,\"below\":%llu,\"updates\":%llu,\"snapshots\":%llu,\"reconnects\":%llu,"
		"\"refused\":%llu,\"closes\":%llu,\"begins_ok\":%llu,\"begins_failed\":%llu,\"resumed\":%llu,"
		"\"unknown_market\":%llu,\"bad_json\":%llu,\"markets\":{",
		wsc_wall_ms(), ncl, next_connect, open, subscribed, (unsigned long long)st.applied,
		(unsigned long long)st.dups, (unsigned long long)st.below, (unsigned long long)st.updates,
		(unsigned long long)st.snapshots, (unsigned long long)st.reconnects, (unsigned long long)st.refused,
		(unsigned long long)st.closes, (unsigned long long)st.begins_ok, (unsigned long long)st.begins_failed,
		(unsigned long long)st.resumed, (unsigned long long)st.unknown_market, (unsigned long long)st.bad_json);
	bool first = true;
	for (int i = 0; i < MKT_SLOTS; i++) {
		if (!mkts[i].name[0])
			continue;
		fprintf(f, "%s\"%s\":[%lld,%.0f]", first ? "" : ",", mkts[i].name, (long long)mkts[i].last_ts,
			mkts[i].last_wall);
		first = false;
	}
	fprintf(f, "}}\n");
	fclose(f);
	rename(tmp, o.status);
	if (sample_log)
		fflush(sample_log);
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;
	write_status();
}

static void conn_cb(uv_timer_t *t)
{
	(void)t;
	int batch = o.connect_rate / 20 > 0 ? o.connect_rate / 20 : 1;
	for (int k = 0; k < batch && next_connect < ncl; k++)
		connect_client(&cl[next_connect++]);
	if (next_connect >= ncl)
		uv_timer_stop(&conn_timer);
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void stop_cb(uv_signal_t *s, int signum)
{
	(void)s;
	(void)signum;
	write_status();
	FILE *f = fopen(o.final, "w");
	for (int i = 0; f && i < ncl; i++)
		for (int k = 0; k < cl[i].nm; k++)
			fprintf(f, "%d %s %s %lld %s\n", i, cl[i].chan, cl[i].v[k].market, (long long)cl[i].v[k].off,
				cl[i].v[k].val ? cl[i].v[k].val : "null");
	if (f)
		fclose(f);
	printf("{\"clients\":%d,\"applied\":%llu,\"dups\":%llu,\"below\":%llu,\"reconnects\":%llu,"
	       "\"begins_ok\":%llu,\"begins_failed\":%llu,\"resumed\":%llu,\"unknown_market\":%llu}\n",
	       ncl, (unsigned long long)st.applied, (unsigned long long)st.dups, (unsigned long long)st.below,
	       (unsigned long long)st.reconnects, (unsigned long long)st.begins_ok,
	       (unsigned long long)st.begins_failed, (unsigned long long)st.resumed,
	       (unsigned long long)st.unknown_market);
	fflush(stdout);
	uv_walk(loop, walk_close, NULL);
}

static int load_channels(void)
{
	FILE *f = fopen(o.chans, "r");
	if (!f)
		return -1;
	char line[2048];
	int cap = 1024;
	cl = calloc((size_t)cap, sizeof(*cl));
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = 0;
		if (strlen(line) >= sizeof(cl[0].chan))
			continue;
		if (ncl == cap) {
			cap *= 2;
			cl = realloc(cl, (size_t)cap * sizeof(*cl));
		}
		client_t *c = &cl[ncl];
		memset(c, 0, sizeof(*c));
		c->idx = ncl;
		memcpy(c->chan, line, strlen(line) + 1);
		char *save = NULL;
		for (char *t = strtok_r(sp + 1, ",\n", &save); t && c->nm < MAXM; t = strtok_r(NULL, ",\n", &save)) {
			snprintf(c->v[c->nm].market, sizeof(c->v[0].market), "%s", t);
			c->v[c->nm].off = -1;
			c->nm++;
		}
		ncl++;
	}
	fclose(f);
	return ncl > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--channels-file"))
			o.chans = v;
		else if (!strcmp(k, "--publishers"))
			o.pubs = v;
		else if (!strcmp(k, "--apis"))
			o.apis = v;
		else if (!strcmp(k, "--status-file"))
			o.status = v;
		else if (!strcmp(k, "--final-file"))
			o.final = v;
		else if (!strcmp(k, "--log-file"))
			o.log = v;
		else if (!strcmp(k, "--sample-every"))
			o.sample_every = atoi(v);
		else if (!strcmp(k, "--connect-rate"))
			o.connect_rate = atoi(v);
		else {
			fprintf(stderr, "chaos-ws: unknown option %s\n", k);
			return 2;
		}
	}
	if (!o.chans || !o.pubs || !o.apis || !o.status || !o.final) {
		fprintf(stderr, "usage: chaos-ws --channels-file F --publishers h:p,.. --apis h:p,.. --status-file S "
				"--final-file V [--log-file L --sample-every K] [--connect-rate R]\n");
		return 2;
	}
	npubs = parse_eps(o.pubs, pubs);
	napis = parse_eps(o.apis, apis);
	if (!npubs || !napis || load_channels() < 0) {
		fprintf(stderr, "chaos-ws: bad --publishers, --apis or --channels-file\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	mkts = calloc(MKT_SLOTS, sizeof(*mkts));
	if (o.log)
		sample_log = fopen(o.log, "w");
	loop = uv_default_loop();
	for (int i = 0; i < ncl; i++) {
		wsc_init(&cl[i].ws, &cbs, &cl[i]);
		cl[i].pub = i % npubs;
		cl[i].api = i % napis;
		uv_timer_init(loop, &cl[i].timer);
		cl[i].timer.data = &cl[i];
	}
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, tick_cb, 200, 200);
	uv_timer_init(loop, &conn_timer);
	uv_timer_start(&conn_timer, conn_cb, 0, 50);
	uv_signal_init(loop, &sigterm);
	uv_signal_start(&sigterm, stop_cb, SIGTERM);
	uv_signal_init(loop, &sigint);
	uv_signal_start(&sigint, stop_cb, SIGINT);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	for (int i = 0; i < ncl; i++) {
		for (int k = 0; k < cl[i].nm; k++)
			free(cl[i].v[k].val);
		wsc_cleanup(&cl[i].ws);
	}
	free(cl);
	free(mkts);
	if (sample_log)
		fclose(sample_log);
	return 0;
}
