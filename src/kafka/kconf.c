/* kconf.c: librdkafka configuration from settings (see kconf.h). */
#include "kafka/kconf.h"

#include "core/buf.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

int sl_kconf_set(rd_kafka_conf_t *conf, const char *name, const char *value, sl_err_t *err)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		return sl_err_set(err, SL_EINVAL, false, "kafka property %s=%s: %s", name, value, errstr);
	return 0;
}

int sl_kconf_set_all(rd_kafka_conf_t *conf, const char *const *props, size_t n, sl_err_t *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(props[i], '=');
		if (!eq || eq == props[i])
			return sl_err_set(err, SL_EINVAL, false, "bad kafka property '%s': expected name=value", props[i]);
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - props[i]), props[i]);
		int rc = sl_kconf_set(conf, name, eq + 1, err);
		if (rc)
			return rc;
	}
	return 0;
}

rd_kafka_conf_t *sl_kconf_new(const sl_cfg_t *cfg, const char *role, sl_kconf_kind_t kind, sl_err_t *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char client_id[128];
	snprintf(client_id, sizeof(client_id), "sluice-%s", role);
	int rc = sl_kconf_set(conf, "bootstrap.servers", sl_cfg_str(cfg, "bootstrap-server"), err);
	rc = rc ? rc : sl_kconf_set(conf, "client.id", client_id, err);
	if (!rc && kind == SL_KCONF_PRODUCER) {
		/* Nothing acknowledged may be lost: acks=all + idempotence. */
		rc = sl_kconf_set(conf, "enable.idempotence", "true", err);
		rc = rc ? rc : sl_kconf_set(conf, "linger.ms", "5", err);
	}
	if (!rc && kind == SL_KCONF_CONSUMER)
		rc = sl_kconf_set(conf, "enable.partition.eof", "false", err);
	const char *const *props;
	size_t n = sl_cfg_kafka_props(cfg, &props);
	rc = rc ? rc : sl_kconf_set_all(conf, props, n, err);
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

static void log_debug_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	sl_log_debug("kafka_log", SL_KV(level, level), SL_KV(facility, fac), SL_KV(text, buf));
}

void sl_kconf_log_to_debug(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, log_debug_cb);
}

int sl_kafka_err_code(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_NO_ERROR: return 0;
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION: return SL_ENOTFOUND;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE: return SL_ETOOBIG;
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT: return SL_ETIMEDOUT;
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__QUEUE_FULL: return SL_EUNAVAIL;
	default: return SL_EKAFKA;
	}
}
