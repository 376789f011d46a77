/* kconf.h: builds librdkafka configurations from sluice settings.
 *
 * Every Kafka client in sluice (tools, feed, reducer, api, REST proxy) gets
 * its rd_kafka_conf_t here, so the same flags mean the same thing
 * everywhere: --bootstrap-server, the -X kafka.<prop>=<v> pass-through
 * (SASL/SSL settings travel this way), and sane defaults per client kind.
 * Non-goals: owning any handle; callers create and destroy their clients.
 */
#ifndef SL_KAFKA_KCONF_H
#define SL_KAFKA_KCONF_H

#include "core/config.h"
#include "core/err.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum { SL_KCONF_PRODUCER, SL_KCONF_CONSUMER, SL_KCONF_ADMIN } sl_kconf_kind_t;

/* A new conf with bootstrap servers, client.id "sluice-<role>", the kind's
 * defaults, then every -X kafka.* pair from cfg (which wins), and an error
 * callback that logs authentication failures (ev=kafka_auth_failed) and
 * other client errors (ev=kafka_error) instead of librdkafka's raw lines;
 * a caller may set its own. NULL with err filled when a property is
 * unknown or has a bad value. */
rd_kafka_conf_t *sl_kconf_new(const sl_cfg_t *cfg, const char *role, sl_kconf_kind_t kind, sl_err_t *err);
/* Set one property, err names it. */
int sl_kconf_set(rd_kafka_conf_t *conf, const char *name, const char *value, sl_err_t *err);
/* Set each "name=value" item (a --producer-property list, or the -X
 * kafka.* pairs again after a tool's own tuning so the user still wins). */
int sl_kconf_set_all(rd_kafka_conf_t *conf, const char *const *props, size_t n, sl_err_t *err);
/* Route librdkafka's own log lines (connection refused, retries...) and
 * client errors into sl_log at debug level (ev=kafka_log, ev=kafka_error),
 * so a tool's stderr keeps only its one-line errors unless --log-level
 * debug is asked. */
void sl_kconf_log_to_debug(rd_kafka_conf_t *conf);
/* The last authentication failure (SASL: wrong user or password, a
 * mechanism the broker does not offer) that any Kafka client of this
 * process saw in the last 30 s, copied into buf; false when none. librdkafka
 * reports it only as an error event (or a log line) while the client
 * retries, and a metadata request then ends as a mere transport failure:
 * the callers (kadmin, kmeta) name this cause instead. Thread-safe.
 * Recorded by the error callback sl_kconf_new installs (ev=kafka_auth_failed
 * at error level) and by sl_kconf_log_to_debug's log callback. */
bool sl_kconf_auth_failure(char *buf, size_t size);
/* Map a librdkafka error to SL_E* (retriable ones to SL_EUNAVAIL). */
int sl_kafka_err_code(rd_kafka_resp_err_t e);

#endif
