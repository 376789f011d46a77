/* publisher-feed.c: the publishing side of the publisher-only benchmark:
 * it does what the reducers do in the real system, straight into Redis.
 *
 *   build/bench/publisher-feed --redis host:port --prefix P --clients N
 *       --markets M --per-client K --seed S --channel-prefix C --rate R --duration D
 *
 * Client i's channel is `C-i` and watches the markets sportsbook.h picks for
 * it. With --channels N the driver serves N channels instead (the load
 * generator then puts client i on channel i mod N, so clients share them). The driver creates every channel record (HSET <P>channel:C-i, the API's
 * job) and then, at R market updates per second, PUBLISHes each update to
 * the channel of every client that watches the market (~N*K/M channels per
 * update), pipelined on one hiredis connection. Offsets count 1, 2, 3... per
 * market, so the load generator can tell lost and duplicated messages by
 * gaps; `ts` is the wall clock in ms when the update is published.
 * With --create-only it creates the records and exits (run it before the
 * clients connect). Prints one JSON line of totals.
 * How it fits: bench/publisher.sh runs it against `sluice publisher` with
 * bench/ws-load.c as the clients. Never fails on a number.
 * Non-goals: Kafka (that is bench/sportsbook.sh), random-walk values.
 */
#include "sportsbook.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

typedef struct opts {
	char host[256];
	int port;
	const char *prefix, *chan_prefix;
	uint32_t clients, markets, per_client, channels;
	uint64_t seed;
	double rate, duration;
	int create_only;
} opts_t;

static opts_t o = {"127.0.0.1", 6379, "sluice:", "bench", 1000, 1000, 5, 0, 42, 1000, 10, 0};
static redisAsyncContext *ac;
static uv_loop_t *loop;
static uv_timer_t tick;
static uint64_t *seq;
static uint64_t sent_cmds, replies, updates, publishes, throttled;
static double t0;
static int phase; /* 0 creating, 1 publishing, 2 draining */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void finish(void)
{
	uv_timer_stop(&tick);
	uv_close((uv_handle_t *)&tick, NULL);
	double el = now_s() - t0;
	printf("{\"updates\":%llu,\"publishes\":%llu,\"seconds\":%.2f,\"updates_per_s\":%.1f,\"publishes_per_s\":%.1f,"
	       "\"throttled_ticks\":%llu}\n",
	       (unsigned long long)updates, (unsigned long long)publishes, el, el > 0 ? updates / el : 0,
	       el > 0 ? publishes / el : 0, (unsigned long long)throttled);
	fflush(stdout);
	redisAsyncDisconnect(ac);
}

static void reply_cb(redisAsyncContext *c, void *r, void *priv)
{
	(void)c;
	(void)priv;
	if (!r) {
		fprintf(stderr, "publisher-feed: redis connection lost\n");
		exit(1);
	}
	replies++;
	if (phase == 0 && replies == sent_cmds) {
		fprintf(stderr, "publisher-feed: %u channel records created\n", o.clients);
		if (o.create_only) {
			phase = 2;
			uv_timer_stop(&tick);
			uv_close((uv_handle_t *)&tick, NULL);
			printf("{\"created\":%u}\n", o.clients);
			fflush(stdout);
			redisAsyncDisconnect(ac);
			return;
		}
		phase = 1;
		t0 = now_s();
	}
	if (phase == 2 && replies == sent_cmds)
		finish();
}

static void publish_update(void)
{
	uint32_t m = (uint32_t)(rand() % o.markets) + 1;
	char payload[256];
	uint64_t off = ++seq[m];
	int n = snprintf(payload, sizeof(payload),
			 "{\"type\":\"update\",\"market\":\"m-%04u\",\"value\":{\"price\":%.4f},\"offset\":%llu,"
			 "\"partition\":0,\"ts\":%lld}",
			 m, 100.0 + (double)(off % 1000) / 7.0, (unsigned long long)off, (long long)wall_ms());
	char chan[256];
	snprintf(chan, sizeof(chan), "%smarket:m-%04u", o.prefix, m);
	redisAsyncCommand(ac, reply_cb, NULL, "PUBLISH %s %b", chan, payload, (size_t)n);
	sent_cmds++;
	publishes++;
	updates++;
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;
	if (phase != 1)
		return;
	double el = now_s() - t0;
	if (el >= o.duration) {
		phase = 2;
		if (replies == sent_cmds)
			finish();
		return;
	}
	if (sent_cmds - replies > 200000) {
		throttled++; /* Redis is behind: do not grow the pipeline without bound */
		return;
	}
	uint64_t due = (uint64_t)(o.rate * el);
	uint64_t cap = (uint64_t)(o.rate / 50) + 1;
	for (uint64_t k = 0; updates < due && k < cap; k++)
		publish_update();
}

static void connect_cb(const redisAsyncContext *c, int status)
{
	if (status != REDIS_OK) {
		fprintf(stderr, "publisher-feed: cannot connect to redis: %s\n", c->errstr);
		exit(1);
	}
}

static void disconnect_cb(const redisAsyncContext *c, int status)
{
	(void)c;
	(void)status;
}

static int arg(int argc, char **argv, int *i, const char *name, const char **val)
{
	if (strcmp(argv[*i], name) != 0)
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "publisher-feed: %s needs a value\n", name);
		exit(2);
	}
	*val = argv[++*i];
	return 1;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (arg(argc, argv, &i, "--redis", &v)) {
			const char *colon = strrchr(v, ':');
			if (!colon || (size_t)(colon - v) >= sizeof(o.host)) {
				fprintf(stderr, "publisher-feed: --redis host:port\n");
				return 2;
			}
			memcpy(o.host, v, (size_t)(colon - v));
			o.host[colon - v] = '\0';
			o.port = atoi(colon + 1);
		} else if (arg(argc, argv, &i, "--prefix", &v)) {
			o.prefix = v;
		} else if (arg(argc, argv, &i, "--channel-prefix", &v)) {
			o.chan_prefix = v;
		} else if (arg(argc, argv, &i, "--clients", &v)) {
			o.clients = (uint32_t)atoi(v);
		} else if (arg(argc, argv, &i, "--channels", &v)) {
			o.channels = (uint32_t)atoi(v);
		} else if (arg(argc, argv, &i, "--markets", &v)) {
			o.markets = (uint32_t)atoi(v);
		} else if (arg(argc, argv, &i, "--per-client", &v)) {
			o.per_client = (uint32_t)atoi(v);
		} else if (arg(argc, argv, &i, "--seed", &v)) {
			o.seed = strtoull(v, NULL, 10);
		} else if (arg(argc, argv, &i, "--rate", &v)) {
			o.rate = atof(v);
		} else if (arg(argc, argv, &i, "--duration", &v)) {
			o.duration = atof(v);
		} else if (!strcmp(argv[i], "--create-only")) {
			o.create_only = 1;
		} else {
			fprintf(stderr, "publisher-feed: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!o.markets || !o.clients || o.per_client > o.markets) {
		fprintf(stderr, "publisher-feed: need clients > 0, markets > 0, per-client <= markets\n");
		return 2;
	}
	seq = calloc(o.markets + 1, sizeof(*seq));
	uint32_t *mk = calloc(o.per_client, sizeof(*mk));
	if (o.channels)
		o.clients = o.channels; /* the driver only knows channels */
	loop = uv_default_loop();
	ac = redisAsyncConnect(o.host, o.port);
	if (!ac || ac->err) {
		fprintf(stderr, "publisher-feed: cannot connect to redis %s:%d\n", o.host, o.port);
		return 1;
	}
	redisLibuvAttach(ac, loop);
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	for (uint32_t i = 0; i < o.clients; i++) {
		char key[256], mkey[300];
		sb_client_markets(o.seed, i, o.markets, o.per_client, mk);
		snprintf(key, sizeof(key), "%schannel:%s-%u", o.prefix, o.chan_prefix, i);
		redisAsyncCommand(ac, reply_cb, NULL, "HSET %s created 1", key);
		snprintf(mkey, sizeof(mkey), "%s:markets", key);
		for (uint32_t k = 0; k < o.per_client; k++) {
			char m[16];
			snprintf(m, sizeof(m), "m-%04u", mk[k]);
			redisAsyncCommand(ac, reply_cb, NULL, "SADD %s %s", mkey, m);
		}
		sent_cmds += 1 + o.per_client;
	}
	free(mk);
	srand((unsigned)o.seed);
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, tick_cb, 2, 2);
	uv_run(loop, UV_RUN_DEFAULT);
	free(seq);
	return 0;
}
