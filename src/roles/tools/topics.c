/* topics.c: `sluice topics`: create, list, describe, alter, delete topics.
 *
 * The kafka-topics tool of the seed's kafka.js with Kafka's flag names:
 *   sluice topics --create --topic test --partitions 3 --replication-factor 3 [--if-not-exists] [--config k=v]
 *   sluice topics --list | --describe [--topic T] | --alter --topic T --partitions N | --delete --topic T
 * How it fits: a plain blocking CLI program; every Kafka wait goes through
 * kafka/kadmin.h and is bounded by --kafka-timeout-ms. Exit status: 0 ok,
 * 1 Kafka failed or said no (unreachable, topic missing or present), 2 usage.
 * `--config name=value` is a topic config as in kafka-topics; since
 * `--config FILE` is also sluice's settings file, a value holding '=' is
 * read as a topic config (same as `--topic-config name=value`).
 * References: Kafka's TopicCommand (flags, the --describe layout).
 * Non-goals: replica reassignment, --under-replicated-partitions filters.
 */
#include "kafka/kadmin.h"
#include "roles/roles.h"

#include "core/alloc.h"
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sl_cfg_key_t topics_keys[] = {
	{"create", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "create --topic"},
	{"list", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "list topic names"},
	{"describe", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "partitions, leader, replicas, ISR (all topics or --topic)"},
	{"alter", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "grow --topic to --partitions"},
	{"delete", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "delete --topic"},
	{"topic", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "topic name"},
	{"partitions", NULL, NULL, SL_CFG_INT, NULL, 1, 1000000, "partition count (create: broker default if unset)"},
	{"replication-factor", NULL, NULL, SL_CFG_INT, NULL, 1, 1000, "replicas per partition (broker default if unset)"},
	{"topic-config", NULL, NULL, SL_CFG_LIST, NULL, 0, 0, "topic config name=value (repeat; also --config name=value)"},
	{"if-not-exists", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "create: an existing topic is not an error"},
	{"if-exists", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "alter/delete: a missing topic is not an error"},
	{"exclude-internal", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "list/describe: leave out internal topics"},
	{0},
};

static const sl_cfg_key_t *const topics_tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, topics_keys, NULL};

#define USAGE "sluice topics --create|--list|--describe|--alter|--delete [--topic T] [options]"

static int cmp_topic(const void *a, const void *b)
{
	return strcmp(((const rd_kafka_metadata_topic_t *)a)->topic, ((const rd_kafka_metadata_topic_t *)b)->topic);
}

static int cmp_part(const void *a, const void *b)
{
	return ((const rd_kafka_metadata_partition_t *)a)->id - ((const rd_kafka_metadata_partition_t *)b)->id;
}

static void put_ids(sl_buf_t *b, const int32_t *ids, int n)
{
	for (int i = 0; i < n; i++)
		sl_buf_printf(b, "%s%d", i ? "," : "", (int)ids[i]);
}

/* Topics sorted by name, internal ones left out when asked. Caller frees. */
static rd_kafka_metadata_topic_t *sorted_topics(const rd_kafka_metadata_t *md, bool exclude_internal, int *n)
{
	rd_kafka_metadata_topic_t *t = sl_xcalloc((size_t)md->topic_cnt + 1, sizeof(*t));
	*n = 0;
	for (int i = 0; i < md->topic_cnt; i++) {
		if (exclude_internal && md->topics[i].topic[0] == '_' && md->topics[i].topic[1] == '_')
			continue;
		if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			continue;
		t[(*n)++] = md->topics[i];
	}
	qsort(t, (size_t)*n, sizeof(*t), cmp_topic);
	return t;
}

static int describe_one(rd_kafka_t *rk, const rd_kafka_metadata_topic_t *t, int timeout_ms, sl_buf_t *out,
			sl_err_t *err)
{
	sl_buf_t conf = SL_BUF_INIT;
	int rc = sl_kadmin_topic_configs(rk, t->topic, timeout_ms, &conf, err);
	if (rc) {
		sl_buf_free(&conf);
		return rc;
	}
	rd_kafka_metadata_partition_t *p = sl_xmemdup(t->partitions, sizeof(*p) * ((size_t)t->partition_cnt + 1));
	qsort(p, (size_t)t->partition_cnt, sizeof(*p), cmp_part);
	sl_buf_printf(out, "Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n", t->topic,
		      t->partition_cnt, t->partition_cnt ? p[0].replica_cnt : 0, conf.data ? conf.data : "");
	for (int i = 0; i < t->partition_cnt; i++) {
		sl_buf_printf(out, "\tTopic: %s\tPartition: %d\tLeader: ", t->topic, (int)p[i].id);
		if (p[i].leader >= 0)
			sl_buf_printf(out, "%d", (int)p[i].leader);
		else
			sl_buf_puts(out, "none");
		sl_buf_puts(out, "\tReplicas: ");
		put_ids(out, p[i].replicas, p[i].replica_cnt);
		sl_buf_puts(out, "\tIsr: ");
		put_ids(out, p[i].isrs, p[i].isr_cnt);
		sl_buf_putc(out, '\n');
	}
	free(p);
	sl_buf_free(&conf);
	return 0;
}

static int run_describe(rd_kafka_t *rk, const rd_kafka_metadata_t *md, const char *topic, bool excl, int tmo,
			sl_err_t *err)
{
	int n;
	rd_kafka_metadata_topic_t *t = sorted_topics(md, excl, &n);
	sl_buf_t out = SL_BUF_INIT;
	int rc = 0, found = 0;
	for (int i = 0; i < n && !rc; i++) {
		if (topic && strcmp(t[i].topic, topic))
			continue;
		found++;
		rc = describe_one(rk, &t[i], tmo, &out, err);
	}
	if (!rc && topic && !found)
		rc = sl_err_set(err, SL_ENOTFOUND, false, "topic '%s' does not exist", topic);
	if (!rc && out.len)
		fwrite(out.data, 1, out.len, stdout);
	sl_buf_free(&out);
	free(t);
	return rc;
}

static int run_list(const rd_kafka_metadata_t *md, bool excl)
{
	int n;
	rd_kafka_metadata_topic_t *t = sorted_topics(md, excl, &n);
	for (int i = 0; i < n; i++)
		printf("%s\n", t[i].topic);
	free(t);
	return 0;
}

/* `--config k=v` is a topic config; `--config FILE` stays the settings file. */
static char **rewrite_config_flags(int argc, char **argv)
{
	char **out = sl_xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++) {
		out[i] = argv[i];
		if (!strcmp(argv[i], "--config") && i + 1 < argc && strchr(argv[i + 1], '='))
			out[i] = "--topic-config";
	}
	return out;
}

static int run(const sl_cfg_t *cfg, sl_err_t *err, bool *usage)
{
	const char *actions[] = {"create", "list", "describe", "alter", "delete"};
	int nact = 0, act = -1;
	for (int i = 0; i < 5; i++)
		if (sl_cfg_bool(cfg, actions[i]))
			nact++, act = i;
	const char *topic = sl_cfg_str(cfg, "topic");
	*usage = true;
	if (nact != 1)
		return sl_err_set(err, SL_EINVAL, false, "give exactly one of --create, --list, --describe, --alter, --delete");
	if ((act == 0 || act == 3 || act == 4) && (!topic || !*topic))
		return sl_err_set(err, SL_EINVAL, false, "--%s needs --topic", actions[act]);
	if (act == 3 && !sl_cfg_is_set(cfg, "partitions"))
		return sl_err_set(err, SL_EINVAL, false, "--alter needs --partitions N (the new, larger count)");
	char *const *args;
	if (sl_cfg_args(cfg, &args) > 0)
		return sl_err_set(err, SL_EINVAL, false, "unexpected argument '%s'", args[0]);
	const char *const *configs;
	size_t nconfigs = sl_cfg_list(cfg, "topic-config", &configs);
	for (size_t i = 0; i < nconfigs; i++)
		if (!strchr(configs[i], '=') || configs[i][0] == '=')
			return sl_err_set(err, SL_EINVAL, false, "bad --config '%s': expected name=value", configs[i]);
	*usage = false;

	int tmo = (int)sl_cfg_int(cfg, "kafka-timeout-ms");
	rd_kafka_t *rk = sl_kadmin_new(cfg, "topics", err);
	if (!rk) {
		*usage = true;
		return SL_EINVAL;
	}
	const rd_kafka_metadata_t *md = NULL;
	int rc = sl_kadmin_metadata(rk, tmo, &md, err);
	bool excl = sl_cfg_bool(cfg, "exclude-internal");
	if (!rc) {
		switch (act) {
		case 0: {
			sl_kadmin_topic_spec_t spec = {
				topic,
				sl_cfg_is_set(cfg, "partitions") ? (int)sl_cfg_int(cfg, "partitions") : -1,
				sl_cfg_is_set(cfg, "replication-factor") ? (int)sl_cfg_int(cfg, "replication-factor") : -1,
				configs, nconfigs,
			};
			bool existed = false;
			rc = sl_kadmin_create_topic(rk, &spec, tmo, sl_cfg_bool(cfg, "if-not-exists") ? &existed : NULL, err);
			if (!rc && !existed)
				printf("Created topic %s.\n", topic);
			break;
		}
		case 1: rc = run_list(md, excl); break;
		case 2: rc = run_describe(rk, md, topic, excl, tmo, err); break;
		case 3:
			if (!sl_kadmin_find_topic(md, topic))
				rc = sl_err_set(err, SL_ENOTFOUND, false, "topic '%s' does not exist", topic);
			else
				rc = sl_kadmin_create_partitions(rk, topic, (int)sl_cfg_int(cfg, "partitions"), tmo, err);
			if (!rc)
				printf("Altered topic %s to %lld partitions.\n", topic, sl_cfg_int(cfg, "partitions"));
			break;
		case 4:
			rc = sl_kadmin_delete_topic(rk, topic, tmo, err);
			if (!rc)
				printf("Deleted topic %s.\n", topic);
			break;
		}
		if (rc == SL_ENOTFOUND && (act == 3 || act == 4) && sl_cfg_bool(cfg, "if-exists"))
			rc = 0;
	}
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	return rc;
}

static int topics_run(sl_cfg_t *cfg)
{
	sl_err_t err = {0};
	bool usage = false;
	int rc = run(cfg, &err, &usage);
	if (rc)
		fprintf(stderr, "sluice topics: %s\n", err.msg);
	fflush(stdout);
	return rc == 0 ? 0 : usage ? 2 : 1;
}

const sl_role_t sl_role_topics = {
	.name = "topics",
	.summary = "create, list, describe, alter, delete topics",
	.usage = USAGE,
	.about = "Create, list, describe, alter and delete Kafka topics.",
	.tables = topics_tables,
	.run = topics_run,
	.argv_fix = rewrite_config_flags,
};
