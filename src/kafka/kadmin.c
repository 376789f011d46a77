/* kadmin.c: blocking, bounded Kafka admin requests (see kadmin.h).
 *
 * Every request goes to a private queue made for the call, and the call
 * waits on that queue with a bound, so nothing here can hang: a broker that
 * does not answer turns into SL_ETIMEDOUT after timeout_ms. Per-topic
 * errors in a result are mapped to SL_E* with the broker's message.
 */
#include "kafka/kadmin.h"
#include "kafka/kclient.h"

#include "core/alloc.h"
#include "kafka/kconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rd_kafka_t *sl_kadmin_new(const sl_cfg_t *cfg, const char *role, sl_err_t *err)
{
	rd_kafka_conf_t *conf = sl_kconf_new(cfg, role, SL_KCONF_ADMIN, err);
	if (!conf)
		return NULL;
	sl_kconf_log_to_debug(conf);
	return sl_kclient_new(RD_KAFKA_PRODUCER, conf, err);
}

static const char *brokers_of(rd_kafka_t *rk, char *buf, size_t size)
{
	if (rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", buf, &size) != RD_KAFKA_CONF_OK)
		snprintf(buf, size, "(unknown)");
	return buf;
}

int sl_kadmin_metadata(rd_kafka_t *rk, int timeout_ms, const rd_kafka_metadata_t **md, sl_err_t *err)
{
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, md, timeout_ms);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	*md = NULL;
	char b[512], why[256];
	/* A refused login looks like an unreachable broker; say which it is. */
	if (sl_kconf_auth_failure(why, sizeof(why)))
		return sl_err_set(err, SL_EKAFKA, false, "Kafka at %s refused the credentials (-X kafka.sasl.*): %.160s",
				  brokers_of(rk, b, sizeof(b)), why);
	if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
	    e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__RESOLVE)
		return sl_err_set(err, SL_EUNAVAIL, true, "cannot reach Kafka at %s within %d ms (%s)",
				  brokers_of(rk, b, sizeof(b)), timeout_ms, rd_kafka_err2str(e));
	return sl_err_set(err, sl_kafka_err_code(e), false, "metadata from %s: %s", brokers_of(rk, b, sizeof(b)),
			  rd_kafka_err2str(e));
}

const rd_kafka_metadata_topic_t *sl_kadmin_find_topic(const rd_kafka_metadata_t *md, const char *topic)
{
	for (int i = 0; i < md->topic_cnt; i++)
		if (!strcmp(md->topics[i].topic, topic) && md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			return &md->topics[i];
	return NULL;
}

rd_kafka_AdminOptions_t *sl_kadmin__options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int timeout_ms)
{
	rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, op);
	char errstr[256];
	rd_kafka_AdminOptions_set_request_timeout(opt, timeout_ms, errstr, sizeof(errstr));
	if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
	    op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
		rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, errstr, sizeof(errstr));
	return opt;
}

rd_kafka_event_t *sl_kadmin__wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type, int timeout_ms,
				  const char *what, sl_err_t *err)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
	if (!ev) {
		sl_err_set(err, SL_ETIMEDOUT, true, "%s: no answer from Kafka within %d ms", what, timeout_ms);
		return NULL;
	}
	if (rd_kafka_event_type(ev) != type || rd_kafka_event_error(ev)) {
		rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
		sl_err_set(err, e ? sl_kafka_err_code(e) : SL_EKAFKA, e == RD_KAFKA_RESP_ERR__TIMED_OUT, "%s: %s", what,
			   e ? rd_kafka_event_error_string(ev) : "unexpected answer from Kafka");
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

/* The error of the one topic in a CreateTopics/DeleteTopics/CreatePartitions result. */
static int topic_result(const rd_kafka_topic_result_t **res, size_t n, const char *what, const char *topic,
			rd_kafka_resp_err_t *code, sl_err_t *err)
{
	*code = RD_KAFKA_RESP_ERR_NO_ERROR;
	for (size_t i = 0; i < n; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
		if (!e)
			continue;
		*code = e;
		const char *msg = rd_kafka_topic_result_error_string(res[i]);
		return sl_err_set(err, sl_kafka_err_code(e), false, "%s topic '%s': %s", what, topic,
				  msg && *msg ? msg : rd_kafka_err2str(e));
	}
	return 0;
}

int sl_kadmin_create_topic(rd_kafka_t *rk, const sl_kadmin_topic_spec_t *spec, int timeout_ms, bool *existed,
			   sl_err_t *err)
{
	char errstr[512];
	if (existed)
		*existed = false;
	rd_kafka_NewTopic_t *nt =
		rd_kafka_NewTopic_new(spec->name, spec->partitions, spec->replication_factor, errstr, sizeof(errstr));
	if (!nt)
		return sl_err_set(err, SL_EINVAL, false, "create topic '%s': %s", spec->name, errstr);
	for (size_t i = 0; i < spec->nconfigs; i++) {
		const char *eq = strchr(spec->configs[i], '=');
		if (!eq || eq == spec->configs[i]) {
			rd_kafka_NewTopic_destroy(nt);
			return sl_err_set(err, SL_EINVAL, false, "bad topic config '%s': expected name=value",
					  spec->configs[i]);
		}
		char *name = sl_xstrndup(spec->configs[i], (size_t)(eq - spec->configs[i]));
		rd_kafka_resp_err_t e = rd_kafka_NewTopic_set_config(nt, name, eq + 1);
		free(name);
		if (e) {
			rd_kafka_NewTopic_destroy(nt);
			return sl_err_set(err, SL_EINVAL, false, "topic config '%s': %s", spec->configs[i],
					  rd_kafka_err2str(e));
		}
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opt = sl_kadmin__options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
	rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_NewTopic_destroy(nt);
	int rc;
	rd_kafka_event_t *ev = sl_kadmin__wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout_ms, "create topic", err);
	if (!ev) {
		rc = err ? err->code : SL_EKAFKA;
	} else {
		size_t n;
		const rd_kafka_topic_result_t **res =
			rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
		rd_kafka_resp_err_t code;
		rc = topic_result(res, n, "create", spec->name, &code, err);
		if (code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
			if (existed) {
				*existed = true;
				rc = 0;
			} else {
				rc = sl_err_set(err, SL_EINVAL, false, "topic '%s' already exists", spec->name);
			}
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	return rc;
}

int sl_kadmin_delete_topic(rd_kafka_t *rk, const char *topic, int timeout_ms, sl_err_t *err)
{
	rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opt = sl_kadmin__options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms);
	rd_kafka_DeleteTopics(rk, &dt, 1, opt, q);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_DeleteTopic_destroy(dt);
	int rc;
	rd_kafka_event_t *ev = sl_kadmin__wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, timeout_ms, "delete topic", err);
	if (!ev) {
		rc = err ? err->code : SL_EKAFKA;
	} else {
		size_t n;
		const rd_kafka_topic_result_t **res =
			rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
		rd_kafka_resp_err_t code;
		rc = topic_result(res, n, "delete", topic, &code, err);
		if (code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			rc = sl_err_set(err, SL_ENOTFOUND, false, "topic '%s' does not exist", topic);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	return rc;
}

int sl_kadmin_create_partitions(rd_kafka_t *rk, const char *topic, int total, int timeout_ms, sl_err_t *err)
{
	char errstr[512];
	rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(topic, (size_t)total, errstr, sizeof(errstr));
	if (!np)
		return sl_err_set(err, SL_EINVAL, false, "alter topic '%s': %s", topic, errstr);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opt = sl_kadmin__options(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout_ms);
	rd_kafka_CreatePartitions(rk, &np, 1, opt, q);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_NewPartitions_destroy(np);
	int rc;
	rd_kafka_event_t *ev =
		sl_kadmin__wait(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, timeout_ms, "alter topic", err);
	if (!ev) {
		rc = err ? err->code : SL_EKAFKA;
	} else {
		size_t n;
		const rd_kafka_topic_result_t **res =
			rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
		rd_kafka_resp_err_t code;
		rc = topic_result(res, n, "alter", topic, &code, err);
		if (code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			rc = sl_err_set(err, SL_ENOTFOUND, false, "topic '%s' does not exist", topic);
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_kadmin_topic_configs(rd_kafka_t *rk, const char *topic, int timeout_ms, sl_buf_t *out, sl_err_t *err)
{
	rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opt = sl_kadmin__options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms);
	rd_kafka_DescribeConfigs(rk, &cr, 1, opt, q);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_ConfigResource_destroy(cr);
	int rc = 0;
	rd_kafka_event_t *ev =
		sl_kadmin__wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout_ms, "describe configs", err);
	if (!ev) {
		rd_kafka_queue_destroy(q);
		return err ? err->code : SL_EKAFKA;
	}
	size_t nres;
	const rd_kafka_ConfigResource_t **res =
		rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
	for (size_t r = 0; r < nres && !rc; r++) {
		rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(res[r]);
		if (e) {
			rc = sl_err_set(err, sl_kafka_err_code(e), false, "configs of topic '%s': %s", topic,
					rd_kafka_ConfigResource_error_string(res[r]));
			break;
		}
		size_t n;
		const rd_kafka_ConfigEntry_t **ents = rd_kafka_ConfigResource_configs(res[r], &n);
		char **kv = sl_xcalloc(n + 1, sizeof(char *));
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			if (rd_kafka_ConfigEntry_source(ents[i]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
				continue;
			const char *v = rd_kafka_ConfigEntry_value(ents[i]);
			sl_buf_t b = SL_BUF_INIT;
			sl_buf_printf(&b, "%s=%s", rd_kafka_ConfigEntry_name(ents[i]),
				      rd_kafka_ConfigEntry_is_sensitive(ents[i]) ? "(sensitive)" : (v ? v : ""));
			kv[m++] = sl_buf_steal(&b, NULL);
		}
		qsort(kv, m, sizeof(char *), cmp_str);
		for (size_t i = 0; i < m; i++) {
			sl_buf_printf(out, "%s%s", i ? "," : "", kv[i]);
			free(kv[i]);
		}
		free(kv);
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	return rc;
}
