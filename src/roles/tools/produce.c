/* produce.c: `sluice produce`: produce stdin lines to a topic.
 *
 * Kafka's console producer with its flag names (kafka.js `produce`):
 *   seq 42 | sluice produce --topic foo [--request-required-acks 1] [--compression-codec lz4]
 *            [--property parse.key=true --property key.separator=:]
 * One line is one record (the '\n' is dropped, nothing else). Idempotent
 * producer with acks=all by default; with --request-required-acks 0 or 1
 * idempotence is turned off, since Kafka requires acks=all for it.
 * How it fits: a blocking CLI program (no event loop): stdin is read in big
 * chunks by kafka/kline.h, each record goes to rd_kafka_produce with
 * RD_KAFKA_MSG_F_COPY; a full queue makes it poll and retry (a tool may
 * block, a server may not). Every record that Kafka did not acknowledge
 * is reported on stderr with its line number and makes the exit status 1.
 * Every wait is bounded: reachability by --kafka-timeout-ms, each record
 * by message.timeout.ms (the same value unless -X overrides it), the final
 * flush by both; what is left then is purged and reported.
 * Exit: 0 all acknowledged, 1 runtime (unreachable, undelivered, bad line,
 * empty stdin), 2 usage. SIGINT/SIGTERM end the input like end-of-file. A rate line is drawn on stderr only on a terminal.
 * References: Kafka ConsoleProducer/LineMessageReader (flags, parse.key,
 * ignore.error), librdkafka examples/producer.c, kcat -P.
 * Non-goals: headers, transactions, reading files other than stdin.
 */
#include "kafka/kadmin.h"
#include "kafka/kclient.h"
#include "kafka/kconf.h"
#include "kafka/kline.h"
#include "roles/roles.h"

#include "core/clock.h"

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sl_cfg_key_t produce_keys[] = {
	{"topic", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "topic to produce to (required)"},
	{"property", NULL, NULL, SL_CFG_LIST, NULL, 0, 0,
	 "reader property: parse.key=true, key.separator=S (default \\t), ignore.error=true"},
	{"request-required-acks", "acks", NULL, SL_CFG_STR, "all", 0, 0, "all (or -1), 1 or 0; idempotent only with all"},
	{"compression-codec", NULL, NULL, SL_CFG_STR, "none", 0, 0, "none, gzip, snappy, lz4 or zstd"},
	{"producer-property", NULL, NULL, SL_CFG_LIST, NULL, 0, 0, "librdkafka producer property name=value (repeat)"},
	{"max-line-bytes", NULL, NULL, SL_CFG_INT, "16777216", 1024, 1073741824, "longest accepted input line"},
	{0},
};

static const sl_cfg_key_t *const produce_tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, produce_keys, NULL};

#define USAGE "sluice produce --topic T [--bootstrap-server H:P] [--property parse.key=true] < lines"

typedef struct prod {
	uint64_t sent, acked, failed, rejected; /* rejected: refused before queueing */
	bool tty;
	int64_t started_ms, last_progress_ms;
} prod_t;

static volatile sig_atomic_t stop_requested;

/* The first SIGINT/SIGTERM ends the input (what was read is still
 * flushed, bounded); a second one stops waiting for acknowledgements. */
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = stop_requested + 1;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	(void)rk;
	prod_t *p = opaque;
	if (!rkm->err) {
		p->acked++;
		return;
	}
	p->failed++;
	fprintf(stderr, "sluice produce: line %" PRIuPTR " not delivered: %s\n", (uintptr_t)rkm->_private,
		rd_kafka_err2str(rkm->err));
}

static void progress(prod_t *p, bool final)
{
	int64_t now = sl_clock_mono_ms();
	if (!p->tty || (!final && now - p->last_progress_ms < 500))
		return;
	p->last_progress_ms = now;
	double secs = (double)(now - p->started_ms) / 1000.0;
	fprintf(stderr, "\rsluice produce: %" PRIu64 " sent, %" PRIu64 " acknowledged, %.0f records/s   %s", p->sent,
		p->acked, secs > 0 ? (double)p->acked / secs : 0.0, final ? "\n" : "");
}

/* The tool's tuning first, then -X and --producer-property, so the user wins. */
static rd_kafka_conf_t *make_conf(const sl_cfg_t *cfg, prod_t *p, sl_err_t *err)
{
	const char *acks = sl_cfg_str(cfg, "request-required-acks");
	if (!strcmp(acks, "all"))
		acks = "-1";
	if (strcmp(acks, "-1") && strcmp(acks, "0") && strcmp(acks, "1")) {
		sl_err_set(err, SL_EINVAL, false, "bad --request-required-acks '%s': expected all, -1, 0 or 1", acks);
		return NULL;
	}
	const char *codec = sl_cfg_str(cfg, "compression-codec");
	const char *codecs[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
	size_t c = 0;
	while (codecs[c] && strcmp(codecs[c], codec))
		c++;
	if (!codecs[c]) {
		sl_err_set(err, SL_EINVAL, false, "bad --compression-codec '%s': expected none, gzip, snappy, lz4 or zstd",
			   codec);
		return NULL;
	}
	rd_kafka_conf_t *conf = sl_kconf_new(cfg, "produce", SL_KCONF_PRODUCER, err);
	if (!conf)
		return NULL;
	char tmo[32];
	snprintf(tmo, sizeof(tmo), "%lld", sl_cfg_int(cfg, "kafka-timeout-ms"));
	const char *tuning[][2] = {
		{"acks", acks},
		{"enable.idempotence", strcmp(acks, "-1") ? "false" : "true"},
		{"compression.codec", codec},
		{"linger.ms", "20"},
		{"batch.num.messages", "100000"},
		{"batch.size", "4000000"},
		{"queue.buffering.max.messages", "2000000"},
		{"queue.buffering.max.kbytes", "1048576"},
		{"message.timeout.ms", tmo},
		{"socket.timeout.ms", tmo},
	};
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(tuning) / sizeof(tuning[0]); i++)
		rc = sl_kconf_set(conf, tuning[i][0], tuning[i][1], err);
	const char *const *items;
	size_t n = sl_cfg_kafka_props(cfg, &items);
	rc = rc ? rc : sl_kconf_set_all(conf, items, n, err);
	n = sl_cfg_list(cfg, "producer-property", &items);
	rc = rc ? rc : sl_kconf_set_all(conf, items, n, err);
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	sl_kconf_log_to_debug(conf);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	rd_kafka_conf_set_opaque(conf, p);
	return conf;
}

typedef struct reader_opts {
	bool parse_key, ignore_error;
	char *sep;
	size_t seplen;
} reader_opts_t;

static int reader_options(const sl_cfg_t *cfg, reader_opts_t *o, sl_err_t *err)
{
	static const char *const known[] = {"parse.key", "key.separator", "ignore.error", NULL};
	const char *values[3] = {NULL, NULL, NULL};
	const char *const *items;
	size_t n = sl_cfg_list(cfg, "property", &items);
	int rc = sl_kline_props_parse(items, n, known, values, err);
	rc = rc ? rc : sl_kline_prop_bool("parse.key", values[0], &o->parse_key, err);
	rc = rc ? rc : sl_kline_prop_bool("ignore.error", values[2], &o->ignore_error, err);
	if (rc)
		return rc;
	o->sep = sl_kline_unescape(values[1] ? values[1] : "\\t", &o->seplen);
	if (o->seplen == 0)
		return sl_err_set(err, SL_EINVAL, false, "--property key.separator must not be empty");
	return 0;
}

/* Produce one record, polling while the local queue is full. */
static int produce_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, prod_t *p, sl_iov_t key, bool has_key, sl_iov_t val,
		       uint64_t lineno)
{
	for (;;) {
		if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)val.base, val.len,
				     has_key ? key.base : NULL, has_key ? key.len : 0, (void *)(uintptr_t)lineno) == 0) {
			p->sent++;
			return 0;
		}
		rd_kafka_resp_err_t e = rd_kafka_last_error();
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			p->failed++;
			p->rejected++;
			fprintf(stderr, "sluice produce: line %" PRIu64 " not delivered: %s\n", lineno, rd_kafka_err2str(e));
			return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? 0 : -1;
		}
		rd_kafka_poll(rk, 10);
		progress(p, false);
	}
}

static int pump(const sl_cfg_t *cfg, rd_kafka_t *rk, rd_kafka_topic_t *rkt, prod_t *p, const reader_opts_t *o,
		sl_err_t *err)
{
	sl_kline_reader_t r;
	size_t max_line = (size_t)sl_cfg_int(cfg, "max-line-bytes");
	sl_kline_reader_init(&r, 0, max_line < (1u << 20) ? max_line : 1u << 20, max_line);
	const char *line;
	size_t len;
	int rc, got = 0;
	while (!stop_requested && (got = sl_kline_next(&r, &line, &len, err)) == 1) {
		sl_iov_t key = {NULL, 0}, val = {line, len};
		bool has_key = false;
		if (o->parse_key) {
			if (sl_kline_split_key(line, len, o->sep, o->seplen, &key, &val) == 0)
				has_key = true;
			else if (!o->ignore_error) {
				got = sl_err_set(err, SL_EINVAL, false,
						 "no key separator found on line %" PRIu64 " (use --property ignore.error=true "
						 "to send such lines with a null key)", r.lineno);
				break;
			}
		}
		if (produce_one(rk, rkt, p, key, has_key, val, r.lineno) < 0) {
			got = sl_err_set(err, SL_EKAFKA, false, "stopped at line %" PRIu64, r.lineno);
			break;
		}
		if ((p->sent & 1023) == 0) {
			rd_kafka_poll(rk, 0);
			progress(p, false);
		}
	}
	/* A signal ends the input like end-of-file: what was read is flushed. */
	bool interrupted = got == SL_ECLOSED || stop_requested;
	rc = got < 0 && got != SL_ECLOSED ? got : 0;
	if (!rc && !interrupted && r.bytes == 0)
		rc = sl_err_set(err, SL_EINVAL, false, "stdin is empty: no records to produce");
	sl_kline_reader_close(&r);
	return rc;
}

/* Wait for every acknowledgement, at most message.timeout.ms + the Kafka
 * timeout; purge what is left so that its delivery reports (failures) are
 * served and reported too. */
static void drain(rd_kafka_t *rk, prod_t *p, int64_t bound_ms)
{
	int64_t deadline = sl_clock_mono_ms() + bound_ms;
	while (rd_kafka_outq_len(rk) > 0 && sl_clock_mono_ms() < deadline && stop_requested < 2) {
		rd_kafka_flush(rk, 100);
		progress(p, false);
	}
	if (rd_kafka_outq_len(rk) > 0) {
		rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(rk, 1000);
		rd_kafka_poll(rk, 0);
	}
}

static int run(const sl_cfg_t *cfg, prod_t *p, sl_err_t *err, bool *usage)
{
	*usage = true;
	const char *topic = sl_cfg_str(cfg, "topic");
	if (!topic || !*topic)
		return sl_err_set(err, SL_EINVAL, false, "--topic is required");
	char *const *args;
	if (sl_cfg_args(cfg, &args) > 0)
		return sl_err_set(err, SL_EINVAL, false, "unexpected argument '%s' (records come from stdin)", args[0]);
	reader_opts_t o = {0};
	int rc = reader_options(cfg, &o, err);
	rd_kafka_conf_t *conf = rc ? NULL : make_conf(cfg, p, err);
	if (!conf) {
		free(o.sep);
		return rc ? rc : SL_EINVAL;
	}
	rd_kafka_t *rk = sl_kclient_new(RD_KAFKA_PRODUCER, conf, err);
	if (!rk) {
		free(o.sep);
		return SL_EINVAL;
	}
	*usage = false;
	int tmo = (int)sl_cfg_int(cfg, "kafka-timeout-ms");
	const rd_kafka_metadata_t *md = NULL;
	rc = sl_kadmin_metadata(rk, tmo, &md, err);
	if (md)
		rd_kafka_metadata_destroy(md);
	if (!rc) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
		p->started_ms = p->last_progress_ms = sl_clock_mono_ms();
		rc = pump(cfg, rk, rkt, p, &o, err);
		char mt[32];
		size_t mtlen = sizeof(mt);
		long long msg_tmo = tmo;
		if (rd_kafka_conf_get(rd_kafka_conf(rk), "message.timeout.ms", mt, &mtlen) == RD_KAFKA_CONF_OK)
			msg_tmo = atoll(mt);
		drain(rk, p, msg_tmo + tmo);
		progress(p, true);
		rd_kafka_topic_destroy(rkt);
	}
	rd_kafka_destroy(rk);
	free(o.sep);
	if (!rc && p->failed)
		rc = sl_err_set(err, SL_EKAFKA, false, "%" PRIu64 " of %" PRIu64 " records not delivered", p->failed,
				p->sent + p->rejected);
	else if (rc && p->failed)
		fprintf(stderr, "sluice produce: %" PRIu64 " records not delivered\n", p->failed);
	return rc;
}

static int produce_run(sl_cfg_t *cfg)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	prod_t p = {0};
	p.tty = isatty(STDERR_FILENO);
	sl_err_t err = {0};
	bool usage = false;
	int rc = run(cfg, &p, &err, &usage);
	if (rc)
		fprintf(stderr, "sluice produce: %s\n", err.msg);
	return rc == 0 ? 0 : usage ? 2 : 1;
}

const sl_role_t sl_role_produce = {
	.name = "produce",
	.summary = "produce stdin lines to a topic",
	.usage = USAGE,
	.about = "Produce stdin lines to a Kafka topic, one record a line (Kafka's console producer).",
	.tables = produce_tables,
	.run = produce_run,
};
