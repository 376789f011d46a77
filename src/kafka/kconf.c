/* kconf.c: librdkafka configuration from settings (see kconf.h). */
#include "kafka/kconf.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "loop/runtime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The last authentication failure of any client (see kconf.h): written by
 * librdkafka's threads or a loop thread, read by whoever reports an error. */
static pthread_mutex_t auth_mu = PTHREAD_MUTEX_INITIALIZER;
static char auth_failure[256];
static int64_t auth_failure_ms;

/* Older than this, a failure no longer explains a new one (the broker
 * may have been down since). librdkafka retries a login within 10 s. */
#define AUTH_FAILURE_RECENT_MS 30000

static void note_auth_failure(const char *reason)
{
	/* From the cause on: librdkafka prefixes its thread and broker. */
	const char *cause = strstr(reason, "SASL authentication error");
	reason = cause ? cause : reason;
	pthread_mutex_lock(&auth_mu);
	snprintf(auth_failure, sizeof(auth_failure), "%s", reason);
	auth_failure_ms = sl_clock_mono_ms();
	pthread_mutex_unlock(&auth_mu);
}

bool sl_kconf_auth_failure(char *buf, size_t size)
{
	pthread_mutex_lock(&auth_mu);
	bool any = auth_failure[0] != 0 && sl_clock_mono_ms() - auth_failure_ms < AUTH_FAILURE_RECENT_MS;
	if (size)
		snprintf(buf, size, "%s", any ? auth_failure : "");
	pthread_mutex_unlock(&auth_mu);
	return any;
}

/* librdkafka retries a refused login with its reconnect backoff (up to
 * reconnect.backoff.max.ms), so these lines come seconds apart, and it
 * folds identical ones itself ("N identical error(s) suppressed").
 * A fatal error (an idempotent producer that lost its sequence: librdkafka
 * 2.0.2 can get there when a broker that was cut off or paused comes back
 * still believing it leads a partition, and answers OUT_OF_ORDER_SEQUENCE)
 * leaves the handle unable to produce ever again: the role stops and exits
 * 1, and its supervisor starts it again with a fresh producer
 * (sl_runtime_fail). Runs on the thread that polls the handle. */
static void error_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	(void)opaque;
	if (e == RD_KAFKA_RESP_ERR__FATAL) {
		char fatal[256] = "";
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		sl_log_error("kafka_fatal", SL_KV(client, rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? "producer" : "consumer"),
			     SL_KV(error, reason), SL_KV(fatal, fatal));
		sl_runtime_fail();
		return;
	}
	if (e == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
		note_auth_failure(reason);
		sl_log_error("kafka_auth_failed", SL_KV(client, rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? "producer" : "consumer"), SL_KV(error, reason));
		return;
	}
	sl_log_warn("kafka_error", SL_KV(client, rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? "producer" : "consumer"), SL_KV(error_code, rd_kafka_err2name(e)),
		    SL_KV(error, reason));
}

/* Set once -X kafka.debug=... was given to any client of the process:
 * librdkafka's debug lines were asked for, so they show at info level. */
static atomic_bool debug_asked;

/* librdkafka's own lines (syslog levels: 3 error, 4 warning, 5-6 notice
 * and info, 7 debug), in the house format instead of its default
 * "%4|1796490536.203|GETPID|..." on stderr. Debug lines come only when
 * -X kafka.debug asks for them, and then show without --log-level debug.
 * Runs on librdkafka's threads; core/log is safe there. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4 && (strstr(buf, "SASL authentication error") || strstr(buf, "Authentication failed")))
		note_auth_failure(buf);
	sl_log_level_t lvl = level <= 3   ? SL_LOG_ERROR
			     : level == 4 ? SL_LOG_WARN
			     : level <= 6 || atomic_load(&debug_asked) ? SL_LOG_INFO
								 : SL_LOG_DEBUG;
	sl_log_at(lvl, "kafka_log", SL_KV(level, level), SL_KV(facility, fac), SL_KV(text, buf));
}

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
	for (size_t i = 0; i < n; i++)
		if (!strncmp(props[i], "debug=", 6) && props[i][6])
			atomic_store(&debug_asked, true);
	if (!rc) {
		rd_kafka_conf_set_error_cb(conf, error_cb);
		rd_kafka_conf_set_log_cb(conf, log_cb);
	}
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

static void log_debug_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	/* Clients that log here poll nothing before their first request
	 * fails, so the error callback would come too late: the broker
	 * thread's own line names the refused login. */
	if (level <= 4 && (strstr(buf, "SASL authentication error") || strstr(buf, "Authentication failed")))
		note_auth_failure(buf);
	sl_log_debug("kafka_log", SL_KV(level, level), SL_KV(facility, fac), SL_KV(text, buf));
}

/* A tool's errors: it reports the failure itself, in one line. */
static void error_debug_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	(void)opaque;
	if (e == RD_KAFKA_RESP_ERR__AUTHENTICATION)
		note_auth_failure(reason);
	sl_log_debug("kafka_error", SL_KV(client, rd_kafka_type(rk) == RD_KAFKA_PRODUCER ? "producer" : "consumer"),
		     SL_KV(error_code, rd_kafka_err2name(e)), SL_KV(error, reason));
}

void sl_kconf_log_to_debug(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, log_debug_cb);
	rd_kafka_conf_set_error_cb(conf, error_debug_cb);
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
