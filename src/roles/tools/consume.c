/* consume.c: `sluice consume`: print a topic's records on stdout.
 *
 * Kafka's console consumer with its flag names (kafka.js `consume`):
 *   sluice consume --topic T [--from-beginning] [--max-messages N] [--group G]
 *                  [--partition P --offset O] [--timeout-ms MS] [--format json]
 *                  [--property print.key=true --property key.separator=S]
 * One value a line, or one JSON object a line (topic, partition, offset,
 * timestamp, key, value). Without --group every partition (or --partition)
 * is started directly at its offset: no group, no coordinator, fast start.
 * With --group it subscribes, and commits only offsets it has printed.
 * How it fits: a blocking CLI program; records come in batches from one
 * queue (rd_kafka_consume_batch_queue), are formatted by kafka/kline.h into
 * one buffer and written to stdout in large writes. Every wait is bounded:
 * metadata by --kafka-timeout-ms, each poll by 100 ms (so SIGINT/SIGTERM
 * and --timeout-ms are honoured), the group close by --kafka-timeout-ms.
 * Exit: 0 done (max reached, idle timeout, signal), 1 runtime (unreachable,
 * no such topic/partition, fewer than --max-messages before --timeout-ms),
 * 2 usage.
 * References: Kafka ConsoleConsumer/DefaultMessageFormatter, kcat -C,
 * librdkafka examples/consumer.c.
 * Non-goals: headers, regex subscriptions, isolation levels beyond -X.
 */
#include "kafka/kadmin.h"
#include "kafka/kclient.h"
#include "kafka/kconf.h"
#include "kafka/kline.h"
#include "roles/roles.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sl_cfg_key_t consume_keys[] = {
	{"topic", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "topic to read (required)"},
	{"from-beginning", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "start at the earliest offset (default: the end)"},
	{"max-messages", NULL, NULL, SL_CFG_INT, NULL, 1, 9e15, "exit after this many records"},
	{"group", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "consumer group (subscribe and commit); none: read directly"},
	{"partition", NULL, NULL, SL_CFG_INT, NULL, 0, 1000000, "read only this partition"},
	{"offset", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "with --partition: earliest, latest or a number"},
	{"timeout-ms", NULL, NULL, SL_CFG_INT, NULL, 1, 86400000, "exit when no record came for this long"},
	{"format", NULL, NULL, SL_CFG_STR, "text", 0, 0, "text, or json (one object a line)"},
	{"property", NULL, NULL, SL_CFG_LIST, NULL, 0, 0,
	 "formatter property: print.key, print.value, print.timestamp, print.partition, print.offset, key.separator, "
	 "line.separator, null.literal"},
	{"consumer-property", NULL, NULL, SL_CFG_LIST, NULL, 0, 0, "librdkafka consumer property name=value (repeat)"},
	{0},
};

static const sl_cfg_key_t *const consume_tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, consume_keys, NULL};

#define USAGE "sluice consume --topic T [--from-beginning] [--max-messages N] [--group G] [options]"
#define OUT_FLUSH (1u << 20)
#define BATCH 10000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

typedef struct cons {
	const char *topic;
	sl_kline_fmt_t fmt;
	char *key_sep, *line_sep;
	long long max;      /* 0: no limit */
	long long idle_ms;  /* 0: wait forever */
	bool group;
	int64_t offset;     /* start offset (RD_KAFKA_OFFSET_* or >= 0) */
	int32_t partition;  /* -1: all */
	uint64_t count;
	sl_buf_t out;
	bool out_closed; /* stdout went away (EPIPE): stop quietly */
} cons_t;

static int write_out(cons_t *c, sl_err_t *err)
{
	size_t off = 0;
	while (off < c->out.len) {
		ssize_t n = write(STDOUT_FILENO, c->out.data + off, c->out.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE) {
			c->out_closed = true;
			break;
		}
		if (n < 0)
			return sl_err_set(err, SL_EIO, false, "writing output: %s", strerror(errno));
		off += (size_t)n;
	}
	sl_buf_reset(&c->out);
	return 0;
}

static int fmt_options(const sl_cfg_t *cfg, cons_t *c, sl_err_t *err)
{
	static const char *const known[] = {"print.key", "print.value", "print.timestamp", "print.partition",
					    "print.offset", "key.separator", "line.separator", "null.literal", NULL};
	const char *v[8] = {0};
	const char *const *items;
	size_t n = sl_cfg_list(cfg, "property", &items);
	sl_kline_fmt_defaults(&c->fmt);
	int rc = sl_kline_props_parse(items, n, known, v, err);
	rc = rc ? rc : sl_kline_prop_bool(known[0], v[0], &c->fmt.print_key, err);
	rc = rc ? rc : sl_kline_prop_bool(known[1], v[1], &c->fmt.print_value, err);
	rc = rc ? rc : sl_kline_prop_bool(known[2], v[2], &c->fmt.print_timestamp, err);
	rc = rc ? rc : sl_kline_prop_bool(known[3], v[3], &c->fmt.print_partition, err);
	rc = rc ? rc : sl_kline_prop_bool(known[4], v[4], &c->fmt.print_offset, err);
	if (rc)
		return rc;
	c->key_sep = sl_kline_unescape(v[5] ? v[5] : "\\t", &c->fmt.key_sep_len);
	c->fmt.key_sep = c->key_sep;
	c->line_sep = sl_kline_unescape(v[6] ? v[6] : "\\n", &c->fmt.line_sep_len);
	c->fmt.line_sep = c->line_sep;
	if (v[7])
		c->fmt.null_literal = v[7];
	const char *f = sl_cfg_str(cfg, "format");
	if (!strcmp(f, "json"))
		c->fmt.json = true;
	else if (strcmp(f, "text"))
		return sl_err_set(err, SL_EINVAL, false, "bad --format '%s': expected text or json", f);
	return 0;
}

static int start_options(const sl_cfg_t *cfg, cons_t *c, sl_err_t *err)
{
	c->topic = sl_cfg_str(cfg, "topic");
	if (!c->topic || !*c->topic)
		return sl_err_set(err, SL_EINVAL, false, "--topic is required");
	char *const *args;
	if (sl_cfg_args(cfg, &args) > 0)
		return sl_err_set(err, SL_EINVAL, false, "unexpected argument '%s'", args[0]);
	c->max = sl_cfg_is_set(cfg, "max-messages") ? sl_cfg_int(cfg, "max-messages") : 0;
	c->idle_ms = sl_cfg_is_set(cfg, "timeout-ms") ? sl_cfg_int(cfg, "timeout-ms") : 0;
	c->group = sl_cfg_is_set(cfg, "group");
	bool begin = sl_cfg_bool(cfg, "from-beginning");
	c->partition = sl_cfg_is_set(cfg, "partition") ? (int32_t)sl_cfg_int(cfg, "partition") : -1;
	c->offset = begin ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
	const char *o = sl_cfg_str(cfg, "offset");
	if (c->group && c->partition >= 0)
		return sl_err_set(err, SL_EINVAL, false, "--partition cannot be combined with --group");
	if (c->group && !*sl_cfg_str(cfg, "group"))
		return sl_err_set(err, SL_EINVAL, false, "--group must not be empty");
	if (o) {
		if (c->partition < 0)
			return sl_err_set(err, SL_EINVAL, false, "--offset needs --partition");
		if (begin)
			return sl_err_set(err, SL_EINVAL, false, "--offset cannot be combined with --from-beginning");
		char *end;
		errno = 0;
		long long v = strtoll(o, &end, 10);
		if (!strcmp(o, "earliest"))
			c->offset = RD_KAFKA_OFFSET_BEGINNING;
		else if (!strcmp(o, "latest"))
			c->offset = RD_KAFKA_OFFSET_END;
		else if (*o && !*end && !errno && v >= 0)
			c->offset = v;
		else
			return sl_err_set(err, SL_EINVAL, false, "bad --offset '%s': expected earliest, latest or a number >= 0",
					  o);
	}
	return fmt_options(cfg, c, err);
}

static rd_kafka_conf_t *make_conf(const sl_cfg_t *cfg, const cons_t *c, sl_err_t *err)
{
	rd_kafka_conf_t *conf = sl_kconf_new(cfg, "consume", SL_KCONF_CONSUMER, err);
	if (!conf)
		return NULL;
	char tmo[32];
	snprintf(tmo, sizeof(tmo), "%lld", sl_cfg_int(cfg, "kafka-timeout-ms"));
	const char *tuning[][2] = {
		{"queued.min.messages", "1000000"},
		{"queued.max.messages.kbytes", "262144"},
		{"fetch.message.max.bytes", "4194304"},
		{"fetch.max.bytes", "104857600"},
		{"fetch.wait.max.ms", "100"},
		{"socket.timeout.ms", tmo},
		{"allow.auto.create.topics", "false"},
	};
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(tuning) / sizeof(tuning[0]); i++)
		rc = sl_kconf_set(conf, tuning[i][0], tuning[i][1], err);
	if (!rc && c->group) {
		rc = sl_kconf_set(conf, "group.id", sl_cfg_str(cfg, "group"), err);
		rc = rc ? rc : sl_kconf_set(conf, "auto.offset.reset",
					    c->offset == RD_KAFKA_OFFSET_BEGINNING ? "earliest" : "latest", err);
		/* Commit only what was printed: offsets are stored by hand. */
		rc = rc ? rc : sl_kconf_set(conf, "enable.auto.offset.store", "false", err);
	}
	const char *const *items;
	size_t n = sl_cfg_kafka_props(cfg, &items);
	rc = rc ? rc : sl_kconf_set_all(conf, items, n, err);
	n = sl_cfg_list(cfg, "consumer-property", &items);
	rc = rc ? rc : sl_kconf_set_all(conf, items, n, err);
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	sl_kconf_log_to_debug(conf);
	return conf;
}

/* Errors that retrying cannot cure end the run (exit 1); the others are
 * logged (one line each) while librdkafka retries. */
static bool is_fatal(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_INVALID_SESSION_TIMEOUT:
	case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
	case RD_KAFKA_RESP_ERR_INCONSISTENT_GROUP_PROTOCOL:
	case RD_KAFKA_RESP_ERR__FATAL:
		return true;
	default:
		return false;
	}
}

/* Format one batch; 1 when --max-messages is reached. */
static int handle_batch(cons_t *c, rd_kafka_message_t **msgs, ssize_t n, sl_err_t *err)
{
	int rc = 0;
	for (ssize_t i = 0; i < n; i++) {
		rd_kafka_message_t *m = msgs[i];
		if (rc) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				bool fatal = is_fatal(m->err);
				if (fatal)
					rc = sl_err_set(err, sl_kafka_err_code(m->err), false, "%s [%d]: %s", c->topic,
							(int)m->partition, rd_kafka_message_errstr(m));
				else
					sl_log_warn("consume_error", SL_KV(topic, c->topic), SL_KV(partition, m->partition),
						    SL_KV(error, rd_kafka_message_errstr(m)));
			}
			rd_kafka_message_destroy(m);
			continue;
		}
		rd_kafka_timestamp_type_t tst;
		sl_kline_rec_t rec = {c->topic, m->partition, m->offset, rd_kafka_message_timestamp(m, &tst),
				      m->key, m->key_len, m->payload, m->len};
		sl_kline_format(&c->out, &c->fmt, &rec);
		if (c->group)
			rd_kafka_offset_store(m->rkt, m->partition, m->offset);
		rd_kafka_message_destroy(m);
		c->count++;
		if (c->max && c->count >= (unsigned long long)c->max)
			rc = 1;
	}
	return rc;
}

static int loop(cons_t *c, rd_kafka_queue_t *q, sl_err_t *err)
{
	rd_kafka_message_t **msgs = sl_xcalloc(BATCH, sizeof(*msgs));
	int64_t last = sl_clock_mono_ms();
	int rc = 0;
	while (!stop_requested && !c->out_closed) {
		/* consume_batch_queue waits for a full batch or its timeout, so it
		 * only takes what is queued (timeout 0); when nothing is, wait
		 * for the first record alone, which returns as soon as it comes. */
		ssize_t n = rd_kafka_consume_batch_queue(q, 0, msgs, BATCH);
		if (n == 0) {
			msgs[0] = rd_kafka_consume_queue(q, 100);
			n = msgs[0] ? 1 : 0;
		}
		if (n < 0) {
			rc = sl_err_set(err, SL_EKAFKA, false, "consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
			break;
		}
		int64_t now = sl_clock_mono_ms();
		if (n > 0)
			last = now;
		int done = handle_batch(c, msgs, n, err);
		if (done < 0) {
			rc = done;
			break;
		}
		/* Large writes while records stream in; flush at once when caught up. */
		if (c->out.len >= OUT_FLUSH || n < BATCH || done) {
			int wrc = write_out(c, err);
			if (wrc) {
				rc = wrc;
				break;
			}
		}
		if (done)
			break;
		if (c->idle_ms && now - last >= c->idle_ms) {
			if (c->max)
				rc = sl_err_set(err, SL_ETIMEDOUT, false,
						"no record for %lld ms: got %" PRIu64 " of %lld messages", c->idle_ms,
						c->count, c->max);
			break;
		}
	}
	free(msgs);
	sl_log_debug("consume_end", SL_KV(records, c->count), SL_KV(stop, (bool)stop_requested), SL_KV(error_code, rc));
	if (!rc && c->out.len)
		rc = write_out(c, err);
	return rc;
}

/* Close the group, bounded by the Kafka timeout. The close commits the
 * stored offsets (what was printed); no synchronous commit before it, as
 * that one waits for a coordinator without a bound of ours. */
static void close_group(rd_kafka_t *rk, int tmo)
{
	rd_kafka_queue_t *cq = rd_kafka_queue_new(rk);
	rd_kafka_error_t *e = rd_kafka_consumer_close_queue(rk, cq);
	if (e)
		rd_kafka_error_destroy(e);
	int64_t deadline = sl_clock_mono_ms() + tmo;
	while (!rd_kafka_consumer_closed(rk) && sl_clock_mono_ms() < deadline) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(cq, 100);
		if (ev)
			rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(cq);
}

static int consume_records(const sl_cfg_t *cfg, cons_t *c, rd_kafka_t *rk, const rd_kafka_metadata_topic_t *mt,
		       sl_err_t *err)
{
	int tmo = (int)sl_cfg_int(cfg, "kafka-timeout-ms");
	int rc = 0;
	if (c->group) {
		rd_kafka_poll_set_consumer(rk);
		rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
		rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
		rd_kafka_topic_partition_list_destroy(sub);
		if (e)
			return sl_err_set(err, sl_kafka_err_code(e), false, "subscribe %s: %s", c->topic, rd_kafka_err2str(e));
		rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
		rc = loop(c, q, err);
		rd_kafka_queue_destroy(q);
		close_group(rk, tmo);
		return rc;
	}
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, c->topic, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	for (int i = 0; i < mt->partition_cnt && !rc; i++) {
		int32_t p = mt->partitions[i].id;
		if (c->partition >= 0 && p != c->partition)
			continue;
		if (rd_kafka_consume_start_queue(rkt, p, c->offset, q) < 0)
			rc = sl_err_set(err, SL_EKAFKA, false, "start %s [%d]: %s", c->topic, (int)p,
					rd_kafka_err2str(rd_kafka_last_error()));
	}
	if (!rc)
		rc = loop(c, q, err);
	for (int i = 0; i < mt->partition_cnt; i++)
		if (c->partition < 0 || mt->partitions[i].id == c->partition)
			rd_kafka_consume_stop(rkt, mt->partitions[i].id);
	rd_kafka_queue_destroy(q);
	rd_kafka_topic_destroy(rkt);
	return rc;
}

static int run(const sl_cfg_t *cfg, cons_t *c, sl_err_t *err, bool *usage)
{
	*usage = true;
	int rc = start_options(cfg, c, err);
	rd_kafka_conf_t *conf = rc ? NULL : make_conf(cfg, c, err);
	if (!conf)
		return rc ? rc : SL_EINVAL;
	rd_kafka_t *rk = sl_kclient_new(RD_KAFKA_CONSUMER, conf, err);
	if (!rk)
		return SL_EINVAL;
	*usage = false;
	int tmo = (int)sl_cfg_int(cfg, "kafka-timeout-ms");
	const rd_kafka_metadata_t *md = NULL;
	rc = sl_kadmin_metadata(rk, tmo, &md, err);
	const rd_kafka_metadata_topic_t *mt = rc ? NULL : sl_kadmin_find_topic(md, c->topic);
	if (!rc && !mt)
		rc = sl_err_set(err, SL_ENOTFOUND, false, "topic '%s' does not exist", c->topic);
	if (!rc && c->partition >= 0) {
		bool found = false;
		for (int i = 0; i < mt->partition_cnt; i++)
			found |= mt->partitions[i].id == c->partition;
		if (!found)
			rc = sl_err_set(err, SL_ENOTFOUND, false, "topic '%s' has no partition %d (it has %d)", c->topic,
					(int)c->partition, mt->partition_cnt);
	}
	if (!rc)
		rc = consume_records(cfg, c, rk, mt, err);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy_flags(rk, c->group ? RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE : 0);
	return rc;
}

static int consume_run(sl_cfg_t *cfg)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	cons_t c = {0};
	sl_err_t err = {0};
	bool usage = false;
	int rc = run(cfg, &c, &err, &usage);
	if (rc)
		fprintf(stderr, "sluice consume: %s\n", err.msg);
	else if (isatty(STDERR_FILENO))
		fprintf(stderr, "Processed a total of %" PRIu64 " messages\n", c.count);
	sl_buf_free(&c.out);
	free(c.key_sep);
	free(c.line_sep);
	return rc == 0 ? 0 : usage ? 2 : 1;
}

const sl_role_t sl_role_consume = {
	.name = "consume",
	.summary = "print a topic's records on stdout",
	.usage = USAGE,
	.about = "Print a Kafka topic's records on stdout, one a line (Kafka's console consumer).",
	.tables = consume_tables,
	.run = consume_run,
};
