/* ws-load.c: WebSocket load generator: thousands of clients on one libuv loop.
 *
 *   build/bench/ws-load --url 127.0.0.1:8090 --clients 10000
 *       (--channel-prefix bench [--channels C] | --channels-file FILE) [--warmup 5] [--duration 20]
 *       [--drain 2] [--connect-rate 2000] [--ready-file F] [--max-markets 8]
 *       [--proto sluice|centrifugo] [--tls [--tls-ca CA.pem]]
 *
 * Client i opens ws://url/v1/stream/<channel-prefix>-<i> (<i mod C> with
 * --channels C, so that C channels are shared by all clients), or the i-th line
 * of --channels-file), expects 101 then `subscribed`, and from then on
 * reads frames and answers pings. For every `update` it measures latency
 * from the message's `ts` (the Kafka record timestamp in the full pipeline,
 * the publish time in the publisher-only run) to the moment it is read, and
 * keeps the offsets it got per market. Duplicates are offsets at or below
 * the last one held for that market (the client-side dedup rule). Lost
 * messages are counted per market against the union of what all its
 * subscribers received in the window they all observed (so loss anywhere
 * after the reducer shows), and, when offsets count 1, 2, 3 per market (the
 * publisher-only driver), as gaps. Counting starts once every client is
 * subscribed plus --warmup seconds and lasts --duration seconds; latency
 * percentiles (0.1 ms buckets) and the delivered rate cover that window.
 * Prints one JSON line; progress goes to stderr. Never fails on a number.
 *
 * --proto centrifugo speaks Centrifugo's client protocol (v2, JSON over
 * WebSocket) instead, for bench/centrifugo.sh: client i opens
 * ws://url/connection/websocket, sends {"id":1,"connect":{}}, then one frame
 * with a subscribe command per channel of the i-th line of --channels-file
 * (space-separated, e.g. "markets:m-0042 markets:m-0100 ..."), and counts
 * as subscribed once every channel is acknowledged. Server frames carry
 * newline-separated JSON objects; `{}` is the server's ping and is answered
 * with `{}`; a publication push carries the feed's data object, whose
 * `market`, `offset` (1, 2, 3 per market: gaps are lost messages too) and
 * `ts` are measured exactly as sluice's updates are.
 * --tls speaks wss:// (TLS 1.2/1.3 through OpenSSL memory BIOs: the socket
 * stays libuv's, each client's records go through its own SSL object, and
 * frames are parsed from the decrypted bytes as without TLS); --tls-ca
 * verifies the server's certificate against that CA (without it, none is
 * verified: a benchmark, not a client to trust). TLS handshake failures
 * count as handshake_failed. bench/publisher.sh BENCH_TLS=compare measures
 * the cost of TLS with it.
 * How it fits: bench/publisher.sh, bench/sportsbook.sh and
 * bench/centrifugo.sh run it; the connection itself (connect, TLS, the
 * upgrade, frames, pongs) is bench/wsclient.c, shared with chaos-ws.c,
 * and this file keeps what a benchmark counts.
 * Non-goals: compression, client messages beyond the above, browser
 * realism, Centrifugo's protobuf protocol, history and recovery.
 */
#include "wsclient.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#define MAXK 16
#define HIST_BUCKETS 200000 /* 0.1 ms each: up to 20 s */

typedef struct sub {
	char market[24];
	int64_t first, last;
	int64_t *offs;
	uint32_t noffs, cap;
} sub_t;

typedef struct wc {
	wsc_t ws; /* the connection; ws.data points back here */
	uint32_t idx;
	bool subscribed;
	uint8_t nsubs;
	uint8_t cf_acks; /* Centrifugo: subscribe replies received */
	bool cf_refused; /* Centrifugo: a connect or subscribe error */
	sub_t subs[MAXK];
} wc_t;

static struct {
	const char *url, *chan_prefix, *chan_file, *ready_file;
	uint32_t clients, connect_rate, channels;
	double warmup, duration, drain;
	uint32_t max_markets;
	bool centrifugo;
	bool tls;
	const char *tls_ca;
} o = {"127.0.0.1:8090", "bench", NULL, NULL, 1000, 2000, 0, 5, 20, 2, MAXK, false, false, NULL};
static SSL_CTX *tls_ctx;

static uv_loop_t *loop;
static struct sockaddr_in addr;
static char host_hdr[300];
static wc_t *conns;
static char **chan_ids;
static uint32_t next_connect, connected, subscribed_n, handshaking, open_n;
static uint64_t hs_failed, conn_failed, closed_by_server, extra_markets, msgs_total, msgs_window, dups, other_msgs,
	cf_errors;
static uint64_t *hist, hist_n;
static double lat_max;
static int phase; /* 0 connecting, 1 warmup, 2 measuring, 3 draining, 4 done */
static double t_phase, t_measure_start, t_measure_end;
static uv_timer_t tick;
static uint64_t last_report_msgs;
static double last_report_t;

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}


static const char *find(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	if (n < l)
		return NULL;
	for (size_t i = 0; i + l <= n; i++)
		if (s[i] == lit[0] && !memcmp(s + i, lit, l))
			return s + i;
	return NULL;
}

static int64_t num_after(const char *s, size_t n, const char *key)
{
	const char *p = find(s, n, key);
	if (!p)
		return -1;
	p += strlen(key);
	int64_t v = 0;
	while (p < s + n && *p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}

/* One update of market m[0..ml) at offset off, stamped ts (ms): latency,
 * offsets and duplicates, the same for either protocol. */
static void record(wc_t *c, const char *m, size_t ml, int64_t off, int64_t ts, double now)
{
	if (ml >= sizeof(c->subs[0].market))
		return;
	sub_t *sb = NULL;
	for (uint8_t k = 0; k < c->nsubs; k++)
		if (strlen(c->subs[k].market) == ml && !memcmp(c->subs[k].market, m, ml)) {
			sb = &c->subs[k];
			break;
		}
	if (!sb) {
		if (c->nsubs >= o.max_markets) {
			extra_markets++;
			return;
		}
		sb = &c->subs[c->nsubs++];
		memcpy(sb->market, m, ml);
		sb->market[ml] = '\0';
		sb->first = off;
		sb->last = -1;
	}
	msgs_total++;
	if (phase == 2) {
		msgs_window++;
		if (ts > 0) {
			double lat = now - (double)ts;
			if (lat < 0)
				lat = 0;
			size_t b = (size_t)(lat * 10.0);
			if (b >= HIST_BUCKETS)
				b = HIST_BUCKETS - 1;
			hist[b]++;
			hist_n++;
			if (lat > lat_max)
				lat_max = lat;
		}
	}
	if (off <= sb->last) {
		dups++;
		return;
	}
	sb->last = off;
	if (sb->noffs == sb->cap) {
		sb->cap = sb->cap ? sb->cap * 2 : 16;
		sb->offs = realloc(sb->offs, sb->cap * sizeof(int64_t));
	}
	sb->offs[sb->noffs++] = off;
}

static void on_update(wc_t *c, const char *s, size_t n, double now)
{
	static const char pre[] = "{\"type\":\"update\",\"market\":\"";
	const char *m = s + sizeof(pre) - 1;
	const char *end = memchr(m, '"', n - (size_t)(m - s));
	if (!end)
		return;
	int64_t off = num_after(end, n - (size_t)(end - s), "\"offset\":");
	/* ts is the last key: search from the end. */
	int64_t ts = -1;
	for (size_t i = n; i-- > 6;) {
		if (s[i] == '"' && i + 5 <= n && !memcmp(s + i, "\"ts\":", 5)) {
			ts = num_after(s + i, n - i, "\"ts\":");
			break;
		}
	}
	record(c, m, (size_t)(end - m), off, ts, now);
}

/* Centrifugo (client protocol v2, JSON): client i's channels are the
 * space-separated words of its line of --channels-file. */
static void cf_send_subscribes(wc_t *c)
{
	char buf[2048];
	size_t n = 0;
	unsigned id = 2;
	const char *p = chan_ids[c->idx];
	while (*p) {
		while (*p == ' ')
			p++;
		size_t l = strcspn(p, " ");
		if (!l)
			break;
		int w = snprintf(buf + n, sizeof(buf) - n, "%s{\"id\":%u,\"subscribe\":{\"channel\":\"%.*s\"}}",
				 n ? "\n" : "", id++, (int)l, p);
		if (w < 0 || (size_t)w >= sizeof(buf) - n)
			break;
		n += (size_t)w;
		p += l;
	}
	wsc_send_text(&c->ws, buf, n);
}

static unsigned cf_nchannels(const wc_t *c)
{
	unsigned k = 0;
	for (const char *p = chan_ids[c->idx]; *p;) {
		while (*p == ' ')
			p++;
		size_t l = strcspn(p, " ");
		k += l > 0;
		p += l;
	}
	return k;
}

/* One JSON object of a (newline-separated) server frame. */
static void cf_line(wc_t *c, const char *s, size_t n, double now)
{
	if (n == 2 && s[0] == '{' && s[1] == '}') {
		wsc_send_text(&c->ws, "{}", 2); /* the server's ping: the pong */
	} else if (n > 9 && !memcmp(s, "{\"push\":{", 9)) {
		const char *d = find(s, n, "\"data\":");
		if (!d)
			return;
		size_t dn = n - (size_t)(d - s);
		const char *m = find(d, dn, "\"market\":\"");
		if (!m)
			return;
		m += 10;
		const char *end = memchr(m, '"', n - (size_t)(m - s));
		if (!end)
			return;
		record(c, m, (size_t)(end - m), num_after(d, dn, "\"offset\":"), num_after(d, dn, "\"ts\":"), now);
	} else if (n > 6 && !memcmp(s, "{\"id\":", 6)) {
		int64_t id = num_after(s, n, "{\"id\":");
		if (find(s, n, "\"error\":")) {
			if (cf_errors++ < 5)
				fprintf(stderr, "ws-load: client %u: %.*s\n", c->idx, (int)(n > 200 ? 200 : n), s);
			/* Refused: count it once, so the start does not wait for it. */
			if (!c->subscribed && !c->cf_refused) {
				c->cf_refused = true;
				hs_failed++;
			}
			return;
		}
		if (id == 1)
			cf_send_subscribes(c);
		else if (++c->cf_acks == cf_nchannels(c) && !c->subscribed) {
			c->subscribed = true;
			subscribed_n++;
		}
	} else {
		other_msgs++;
	}
}

static void on_text(wc_t *c, const char *s, size_t n, double now)
{
	if (o.centrifugo) {
		while (n) {
			const char *nl = memchr(s, '\n', n);
			size_t l = nl ? (size_t)(nl - s) : n;
			if (l)
				cf_line(c, s, l, now);
			s += l + (nl != NULL);
			n -= l + (nl != NULL);
		}
		return;
	}
	if (n > 27 && !memcmp(s, "{\"type\":\"update\",\"market\":\"", 27)) {
		on_update(c, s, n, now);
	} else if (n > 20 && !memcmp(s, "{\"type\":\"subscribed\"", 20)) {
		if (!c->subscribed) {
			c->subscribed = true;
			subscribed_n++;
		}
	} else {
		other_msgs++;
	}
}

/* ---- the connection (bench/wsclient.c): what ws-load counts ---- */
static void close_wc(wc_t *c)
{
	if (c->ws.state == WSC_CONNECTING || c->ws.state == WSC_UPGRADING)
		handshaking--;
	else if (c->ws.state == WSC_OPEN)
		open_n--;
	wsc_close(&c->ws);
}

static void connected_cb(wsc_t *ws)
{
	(void)ws;
	connected++;
}

static void open_cb(wsc_t *ws)
{
	handshaking--;
	open_n++;
	if (o.centrifugo)
		wsc_send_text(ws, "{\"id\":1,\"connect\":{}}", 22);
}

static void text_cb(wsc_t *ws, const char *s, size_t n, double now)
{
	on_text(ws->data, s, n, now);
}

static void end_cb(wsc_t *ws, wsc_end_t why, int code, const char *msg)
{
	wc_t *c = ws->data;
	switch (why) {
	case WSC_END_CONNECT:
		if (++conn_failed <= 5)
			fprintf(stderr, "ws-load: client %u: connect: %s\n", c->idx, msg);
		break;
	case WSC_END_REFUSED:
		if (++hs_failed <= 5)
			fprintf(stderr, "ws-load: client %u: handshake refused: %s\n", c->idx, msg);
		break;
	case WSC_END_TLS:
		if (++hs_failed <= 5)
			fprintf(stderr, "ws-load: client %u: TLS handshake failed: %s\n", c->idx, msg);
		break;
	case WSC_END_CLOSE_FRAME:
		if (++closed_by_server <= 5)
			fprintf(stderr, "ws-load: client %u closed by server, code %d\n", c->idx, code);
		break;
	case WSC_END_EOF:
		if (phase < 3)
			closed_by_server++;
		break;
	}
	close_wc(c);
}

static const wsc_cbs_t cbs = {connected_cb, open_cb, text_cb, end_cb};

static void start_connect(wc_t *c)
{
	char path[300];
	if (o.centrifugo) {
		snprintf(path, sizeof(path), "/connection/websocket");
	} else if (chan_ids) {
		snprintf(path, sizeof(path), "/v1/stream/%s", chan_ids[c->idx]);
	} else {
		snprintf(path, sizeof(path), "/v1/stream/%s-%u", o.chan_prefix,
			 o.channels ? c->idx % o.channels : c->idx);
	}
	handshaking++;
	if (wsc_connect(&c->ws, loop, (struct sockaddr *)&addr, host_hdr, path, tls_ctx) < 0) {
		conn_failed++;
		handshaking--;
	}
}

static double pct(double q)
{
	if (!hist_n)
		return 0;
	uint64_t want = (uint64_t)(q * (double)hist_n);
	if (want >= hist_n)
		want = hist_n - 1;
	uint64_t acc = 0;
	for (size_t b = 0; b < HIST_BUCKETS; b++) {
		acc += hist[b];
		if (acc > want)
			return (b + 0.5) / 10.0;
	}
	return HIST_BUCKETS / 10.0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static size_t count_in(const sub_t *sb, int64_t lo, int64_t hi)
{
	size_t n = 0;
	for (uint32_t i = 0; i < sb->noffs; i++)
		if (sb->offs[i] >= lo && sb->offs[i] <= hi)
			n++;
	return n;
}

/* Loss against the union of what every subscriber of a market received, in
 * the offset range they all observed; and gaps for consecutive offsets. */
static void loss(uint64_t *lost, uint64_t *gaps, uint64_t *markets_seen)
{
	size_t cap = 1;
	while (cap < (size_t)o.clients * 2 + 16)
		cap <<= 1;
	typedef struct mk {
		const char *name;
		sub_t **subs;
		uint32_t n, cap;
	} mk_t;
	mk_t *tab = calloc(cap, sizeof(*tab));
	*lost = *gaps = *markets_seen = 0;
	for (uint32_t i = 0; i < o.clients; i++) {
		for (uint8_t k = 0; k < conns[i].nsubs; k++) {
			sub_t *sb = &conns[i].subs[k];
			if (!sb->noffs)
				continue;
			*gaps += (uint64_t)(sb->last - sb->offs[0] + 1) - sb->noffs;
			uint64_t h = 1469598103934665603ULL;
			for (const char *p = sb->market; *p; p++)
				h = (h ^ (unsigned char)*p) * 1099511628211ULL;
			size_t j = h & (cap - 1);
			while (tab[j].name && strcmp(tab[j].name, sb->market))
				j = (j + 1) & (cap - 1);
			mk_t *m = &tab[j];
			if (!m->name) {
				m->name = sb->market;
				(*markets_seen)++;
			}
			if (m->n == m->cap) {
				m->cap = m->cap ? m->cap * 2 : 8;
				m->subs = realloc(m->subs, m->cap * sizeof(sub_t *));
			}
			m->subs[m->n++] = sb;
		}
	}
	for (size_t j = 0; j < cap; j++) {
		mk_t *m = &tab[j];
		if (!m->name)
			continue;
		int64_t lo = INT64_MIN, hi = INT64_MAX;
		size_t total = 0;
		for (uint32_t s = 0; s < m->n; s++) {
			if (m->subs[s]->offs[0] > lo)
				lo = m->subs[s]->offs[0];
			if (m->subs[s]->last < hi)
				hi = m->subs[s]->last;
			total += m->subs[s]->noffs;
		}
		if (lo <= hi) {
			int64_t *u = malloc(total * sizeof(int64_t));
			size_t un = 0;
			for (uint32_t s = 0; s < m->n; s++)
				for (uint32_t i = 0; i < m->subs[s]->noffs; i++)
					if (m->subs[s]->offs[i] >= lo && m->subs[s]->offs[i] <= hi)
						u[un++] = m->subs[s]->offs[i];
			qsort(u, un, sizeof(int64_t), cmp_i64);
			size_t uniq = 0;
			for (size_t i = 0; i < un; i++)
				if (i == 0 || u[i] != u[i - 1])
					uniq++;
			for (uint32_t s = 0; s < m->n; s++)
				*lost += uniq - count_in(m->subs[s], lo, hi);
			free(u);
		}
		free(m->subs);
	}
	free(tab);
}

static void finish(void)
{
	uint64_t lost, gaps, markets;
	loss(&lost, &gaps, &markets);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double win = t_measure_end - t_measure_start;
	printf("{\"clients\":%u,\"connected\":%u,\"subscribed\":%u,\"handshake_failed\":%llu,\"connect_failed\":%llu,"
	       "\"closed_by_server\":%llu,\"window_s\":%.2f,\"messages\":%llu,\"msgs_per_s\":%.1f,\"p50_ms\":%.2f,"
	       "\"p99_ms\":%.2f,\"p999_ms\":%.2f,\"max_ms\":%.2f,\"lost\":%llu,\"dup\":%llu,\"gaps\":%llu,"
	       "\"markets\":%llu,\"messages_total\":%llu,\"other\":%llu,\"server_errors\":%llu,\"cpu_s\":%.2f,"
	       "\"rss_kb\":%ld}\n",
	       o.clients, connected, subscribed_n, (unsigned long long)hs_failed, (unsigned long long)conn_failed,
	       (unsigned long long)closed_by_server, win, (unsigned long long)msgs_window,
	       win > 0 ? msgs_window / win : 0, pct(0.50), pct(0.99), pct(0.999), lat_max, (unsigned long long)lost,
	       (unsigned long long)dups, (unsigned long long)gaps, (unsigned long long)markets,
	       (unsigned long long)msgs_total, (unsigned long long)other_msgs, (unsigned long long)cf_errors,
	       ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	       ru.ru_maxrss);
	fflush(stdout);
	for (uint32_t i = 0; i < o.clients; i++)
		close_wc(&conns[i]); /* a no-op for the closed and the never started */
	uv_close((uv_handle_t *)&tick, NULL);
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;
	double now = mono();
	if (phase == 0) {
		uint32_t per_tick = o.connect_rate / 100 + 1;
		for (uint32_t k = 0; k < per_tick && next_connect < o.clients && handshaking < 2000; k++)
			start_connect(&conns[next_connect++]);
		bool all_done = next_connect == o.clients && handshaking == 0;
		if ((all_done && subscribed_n + hs_failed + conn_failed + closed_by_server >= o.clients) ||
		    now - t_phase > 120) {
			fprintf(stderr, "ws-load: %u connected, %u subscribed, %llu refused, %llu failed in %.1fs\n",
				connected, subscribed_n, (unsigned long long)hs_failed, (unsigned long long)conn_failed,
				now - t_phase);
			if (o.ready_file) {
				FILE *f = fopen(o.ready_file, "w");
				if (f) {
					fprintf(f, "%u\n", subscribed_n);
					fclose(f);
				}
			}
			phase = 1;
			t_phase = now;
		}
	} else if (phase == 1 && now - t_phase >= o.warmup) {
		phase = 2;
		t_phase = t_measure_start = now;
		last_report_t = now;
		last_report_msgs = msgs_window;
	} else if (phase == 2) {
		if (now - last_report_t >= 1.0) {
			fprintf(stderr, "ws-load: %.0f msgs/s, %u open\n", (msgs_window - last_report_msgs) / (now - last_report_t),
				open_n);
			last_report_t = now;
			last_report_msgs = msgs_window;
		}
		if (now - t_phase >= o.duration) {
			phase = 3;
			t_phase = t_measure_end = now;
		}
	} else if (phase == 3 && now - t_phase >= o.drain) {
		phase = 4;
		finish();
	}
}

static int opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	if (strcmp(argv[*i], name) != 0)
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "ws-load: %s needs a value\n", name);
		exit(2);
	}
	*val = argv[++*i];
	return 1;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (opt(argc, argv, &i, "--url", &v))
			o.url = v;
		else if (opt(argc, argv, &i, "--clients", &v))
			o.clients = (uint32_t)atoi(v);
		else if (opt(argc, argv, &i, "--channel-prefix", &v))
			o.chan_prefix = v;
		else if (opt(argc, argv, &i, "--channels-file", &v))
			o.chan_file = v;
		else if (opt(argc, argv, &i, "--channels", &v))
			o.channels = (uint32_t)atoi(v);
		else if (opt(argc, argv, &i, "--ready-file", &v))
			o.ready_file = v;
		else if (opt(argc, argv, &i, "--warmup", &v))
			o.warmup = atof(v);
		else if (opt(argc, argv, &i, "--duration", &v))
			o.duration = atof(v);
		else if (opt(argc, argv, &i, "--drain", &v))
			o.drain = atof(v);
		else if (opt(argc, argv, &i, "--connect-rate", &v))
			o.connect_rate = (uint32_t)atoi(v);
		else if (opt(argc, argv, &i, "--proto", &v)) {
			if (strcmp(v, "sluice") && strcmp(v, "centrifugo")) {
				fprintf(stderr, "ws-load: --proto sluice|centrifugo\n");
				return 2;
			}
			o.centrifugo = !strcmp(v, "centrifugo");
		} else if (!strcmp(argv[i], "--tls"))
			o.tls = true;
		else if (opt(argc, argv, &i, "--tls-ca", &v))
			o.tls_ca = v;
		else if (opt(argc, argv, &i, "--max-markets", &v))
			o.max_markets = (uint32_t)atoi(v) > MAXK ? MAXK : (uint32_t)atoi(v);
		else {
			fprintf(stderr, "ws-load: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	char hostpart[256];
	const char *colon = strrchr(o.url, ':');
	if (!colon || (size_t)(colon - o.url) >= sizeof(hostpart) || !o.clients) {
		fprintf(stderr, "ws-load: --url host:port and --clients N > 0\n");
		return 2;
	}
	memcpy(hostpart, o.url, (size_t)(colon - o.url));
	hostpart[colon - o.url] = '\0';
	if (uv_ip4_addr(hostpart, atoi(colon + 1), &addr) < 0) {
		fprintf(stderr, "ws-load: bad address %s\n", o.url);
		return 2;
	}
	snprintf(host_hdr, sizeof(host_hdr), "%s", o.url);
	if (o.centrifugo && !o.chan_file) {
		fprintf(stderr, "ws-load: --proto centrifugo needs --channels-file (a line of channels per client)\n");
		return 2;
	}
	if (o.chan_file) {
		FILE *f = fopen(o.chan_file, "r");
		if (!f) {
			fprintf(stderr, "ws-load: %s: %s\n", o.chan_file, strerror(errno));
			return 2;
		}
		chan_ids = calloc(o.clients, sizeof(char *));
		char line[256];
		uint32_t n = 0;
		while (n < o.clients && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0])
				chan_ids[n++] = strdup(line);
		}
		fclose(f);
		if (n < o.clients) {
			fprintf(stderr, "ws-load: %s has %u channel ids, %u clients asked\n", o.chan_file, n, o.clients);
			return 2;
		}
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < o.clients + 64) {
		rl.rlim_cur = rl.rlim_max < o.clients + 1024 ? rl.rlim_max : o.clients + 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (o.tls && !(tls_ctx = wsc_tls_ctx_new(o.tls_ca))) {
		if (o.tls_ca)
			fprintf(stderr, "ws-load: --tls-ca %s: cannot load\n", o.tls_ca);
		else
			fprintf(stderr, "ws-load: cannot make a TLS context\n");
		return 2;
	}
	hist = calloc(HIST_BUCKETS, sizeof(uint64_t));
	conns = calloc(o.clients, sizeof(wc_t));
	for (uint32_t i = 0; i < o.clients; i++) {
		conns[i].idx = i;
		wsc_init(&conns[i].ws, &cbs, &conns[i]);
	}
	loop = uv_default_loop();
	uv_timer_init(loop, &tick);
	t_phase = mono();
	uv_timer_start(&tick, tick_cb, 10, 10);
	uv_run(loop, UV_RUN_DEFAULT);
	for (uint32_t i = 0; i < o.clients; i++) {
		wsc_cleanup(&conns[i].ws);
		for (uint8_t k = 0; k < conns[i].nsubs; k++)
			free(conns[i].subs[k].offs);
		if (chan_ids)
			free(chan_ids[i]);
	}
	free(chan_ids);
	SSL_CTX_free(tls_ctx);
	free(conns);
	free(hist);
	return uv_loop_close(loop) == 0 ? 0 : 1;
}
