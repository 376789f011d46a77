/* centrifugo-feed.c: the feed of the Centrifugo side of bench/centrifugo.sh:
 * the same market updates as `sluice feed`, as Centrifugo publish commands
 * produced to Kafka for Centrifugo's Kafka consumer.
 *
 *   build/bench/centrifugo-feed --brokers host:port --topic T --markets 1000
 *       --rate 2000 [--channel-prefix markets:] [--seed 7] [--count N] [--linger-ms L]
 *
 * What it produces, like src/roles/feed.c: a random walk per market
 * (`dir = clamp(normal(dir, 1), -0.75, 0.75); value += dir`, from 100),
 * markets m-0001 .. m-<M> taken round-robin, key = market id, an idempotent
 * producer (acks=all) with Kafka's default partitioner (murmur2_random),
 * batching 1 ms from 500 records/s up and not below (the sluice feed's rule;
 * --linger-ms overrides it). Only the value differs: Centrifugo's consumer
 * takes API commands, so each record carries the header
 * `centrifugo-method: publish` and the value
 * {"channel":"markets:m-0042","data":{"market":"m-0042","price":101.2345,"offset":17,"ts":<ms>}},
 * where `offset` counts 1, 2, 3 per market (the load generator counts gaps
 * as lost) and `ts` is the wall clock in ms, also given as the record's
 * timestamp, as the sluice feed's `ts` is. Runs until SIGTERM/SIGINT (or
 * --count records), flushes (bounded, 5 s) and prints one JSON line of
 * totals; exits 1 if a record was not delivered.
 * How it fits: bench/centrifugo.sh runs one per ladder step; the sluice
 * side of the same run uses `sluice feed`.
 * Non-goals: anything but this benchmark; a libuv loop (a sleeping loop is
 * enough for a single-purpose driver, it serves no sockets).
 */
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;
static long long delivered, failed;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* xorshift64*, then Box-Muller: the sluice feed's walk. */
static double rnd_unit(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static double rnd_normal(double mean, double sd)
{
	double u1 = rnd_unit(), u2 = rnd_unit();
	if (u1 < 1e-300)
		u1 = 1e-300;
	return mean + sd * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (rkm->err) {
		if (failed++ == 0)
			fprintf(stderr, "centrifugo-feed: delivery failed: %s\n", rd_kafka_err2str(rkm->err));
	} else {
		delivered++;
	}
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "centrifugo-feed: %s=%s: %s\n", k, v, err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *brokers = "127.0.0.1:9092", *topic = "centrifugo-markets", *chan_prefix = "markets:", *linger = NULL;
	long markets = 1000, count = 0;
	double rate = 1000;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--brokers"))
			brokers = v;
		else if (!strcmp(k, "--topic"))
			topic = v;
		else if (!strcmp(k, "--channel-prefix"))
			chan_prefix = v;
		else if (!strcmp(k, "--markets"))
			markets = atol(v);
		else if (!strcmp(k, "--rate"))
			rate = atof(v);
		else if (!strcmp(k, "--count"))
			count = atol(v);
		else if (!strcmp(k, "--seed"))
			rng = (uint64_t)strtoull(v, NULL, 10) * 0x9e3779b97f4a7c15ULL | 1;
		else if (!strcmp(k, "--linger-ms"))
			linger = v;
		else {
			fprintf(stderr, "centrifugo-feed: unknown option %s\n", k);
			return 2;
		}
	}
	if (argc % 2 == 0 || markets < 1 || rate <= 0 || strlen(chan_prefix) > 64) {
		fprintf(stderr, "centrifugo-feed: --markets M > 0, --rate R > 0, options in pairs\n");
		return 2;
	}
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (set(conf, "bootstrap.servers", brokers) || set(conf, "enable.idempotence", "true") ||
	    set(conf, "partitioner", "murmur2_random") ||
	    set(conf, "linger.ms", linger ? linger : rate >= 500 ? "1" : "0"))
		return 2;
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "centrifugo-feed: %s\n", err);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	double *dir = calloc((size_t)markets, sizeof(double)), *value = calloc((size_t)markets, sizeof(double));
	long long *seq = calloc((size_t)markets, sizeof(long long));
	for (long i = 0; i < markets; i++)
		value[i] = 100.0;
	long long produced = 0;
	long next = 0;
	double start = now_ms(CLOCK_MONOTONIC);
	struct timespec tick = {0, 1000000};
	while (!stop && (!count || produced < count)) {
		long long due = (long long)(rate * (now_ms(CLOCK_MONOTONIC) - start) / 1000.0) + 1 - produced;
		while (due-- > 0 && (!count || produced < count)) {
			double d = rnd_normal(dir[next], 1.0);
			d = d < -0.75 ? -0.75 : d > 0.75 ? 0.75 : d;
			double v = value[next] + d;
			long long ts = (long long)now_ms(CLOCK_REALTIME);
			char key[32], val[256];
			int klen = snprintf(key, sizeof(key), "m-%04ld", next + 1);
			int vlen = snprintf(val, sizeof(val),
					    "{\"channel\":\"%s%s\",\"data\":{\"market\":\"%s\",\"price\":%.4f,"
					    "\"offset\":%lld,\"ts\":%lld}}",
					    chan_prefix, key, key, v, seq[next] + 1, ts);
			rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
			rd_kafka_header_add(hdrs, "centrifugo-method", -1, "publish", 7);
			rd_kafka_resp_err_t e = rd_kafka_producev(
				rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, (size_t)klen),
				RD_KAFKA_V_VALUE(val, (size_t)vlen), RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_HEADERS(hdrs),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (e) {
				rd_kafka_headers_destroy(hdrs);
				if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL && failed++ == 0)
					fprintf(stderr, "centrifugo-feed: produce: %s\n", rd_kafka_err2str(e));
				break; /* the same step is drawn again next tick */
			}
			dir[next] = d;
			value[next] = v;
			seq[next]++;
			produced++;
			next = (next + 1) % markets;
		}
		rd_kafka_poll(rk, 0);
		nanosleep(&tick, NULL);
	}
	rd_kafka_flush(rk, 5000);
	long long unsent = rd_kafka_outq_len(rk);
	printf("{\"produced\":%lld,\"delivered\":%lld,\"failed\":%lld,\"unsent\":%lld,\"seconds\":%.1f}\n", produced,
	       delivered, failed, unsent, (now_ms(CLOCK_MONOTONIC) - start) / 1000.0);
	rd_kafka_destroy(rk);
	free(dir);
	free(value);
	free(seq);
	return failed || unsent ? 1 : 0;
}
