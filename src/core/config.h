/* config.h: table-driven settings: flags > env > --config file > defaults.
 *
 * Each key is declared once, in a table (sl_cfg_key_t[] ended by {0}), with
 * its flag name, aliases, environment variable, type, default, bounds and
 * help (redis config.c static_configs[]). The same tables drive parsing,
 * `--help`, `sluice config dump` and the generated docs/config.md. Shared
 * tables live here (log, kafka, redis, topics); each role adds its own.
 * Kafka client properties pass through as `-X kafka.<prop>=<value>` (kcat -X).
 * Bad config is one line naming key, value and source; callers exit 2.
 * Non-goals: nested sections, reloading at run time.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { SL_CFG_STR, SL_CFG_INT, SL_CFG_BOOL, SL_CFG_DOUBLE, SL_CFG_LIST } sl_cfg_type_t;

typedef struct sl_cfg_key {
	const char *name;    /* flag without "--", also the key in files: "bootstrap-server" */
	const char *aliases; /* other flag names, comma-separated, or NULL */
	const char *env;     /* "SLUICE_KAFKA_BROKERS", or NULL */
	sl_cfg_type_t type;
	const char *def;     /* default as text; NULL: unset */
	double min, max;     /* bounds of INT/DOUBLE; both 0: unbounded */
	const char *help;
} sl_cfg_key_t;

/* Shared tables. */
extern const sl_cfg_key_t sl_cfg_keys_log[];   /* log-level, log-format, config */
extern const sl_cfg_key_t sl_cfg_keys_kafka[]; /* bootstrap-server, kafka-timeout-ms */
extern const sl_cfg_key_t sl_cfg_keys_redis[]; /* redis-url, redis-prefix, redis-sentinels, ... */
extern const sl_cfg_key_t sl_cfg_keys_topics[];/* data-topic, command-topic, partitions */
extern const sl_cfg_key_t sl_cfg_keys_http[];  /* listen host, limits shared by servers */

typedef struct sl_cfg sl_cfg_t;

/* tables: NULL-terminated array of tables. usage: one line after "usage: ". */
sl_cfg_t *sl_cfg_new(const char *cmd, const char *usage, const char *summary,
		     const sl_cfg_key_t *const *tables);
void sl_cfg_free(sl_cfg_t *cfg);

/* Returns 0 when parsed, 1 when --help was asked (help already printed to
 * stdout), SL_EINVAL with err filled on a bad flag or value. */
int sl_cfg_parse(sl_cfg_t *cfg, int argc, char **argv, sl_err_t *err);

const char *sl_cfg_str(const sl_cfg_t *cfg, const char *name); /* NULL when unset */
long long sl_cfg_int(const sl_cfg_t *cfg, const char *name);
bool sl_cfg_bool(const sl_cfg_t *cfg, const char *name);
double sl_cfg_double(const sl_cfg_t *cfg, const char *name);
/* Items of a LIST key (repeated flag, or comma-separated in env/file). */
size_t sl_cfg_list(const sl_cfg_t *cfg, const char *name, const char *const **items);
bool sl_cfg_is_set(const sl_cfg_t *cfg, const char *name); /* set by flag, env or file */
const char *sl_cfg_source(const sl_cfg_t *cfg, const char *name);

/* Positional arguments left after the flags. */
size_t sl_cfg_args(const sl_cfg_t *cfg, char *const **args);
/* "-X kafka.<prop>=<v>" pairs, as "prop=v" strings. */
size_t sl_cfg_kafka_props(const sl_cfg_t *cfg, const char *const **props);

void sl_cfg_print_help(const sl_cfg_t *cfg, FILE *out);
/* Every key with its effective value and source, secrets masked. */
void sl_cfg_dump(const sl_cfg_t *cfg, FILE *out);
/* Markdown table of the given tables for docs/config.md. */
void sl_cfg_docs(const char *cmd, const sl_cfg_key_t *const *tables, FILE *out);

/* Parse + set up logging for a role; prints errors. Returns NULL and sets
 * *exit_code (0 for --help, 2 for bad config) when the role should return. */
sl_cfg_t *sl_cfg_setup_role(const char *role, const char *usage, const char *summary,
			    const sl_cfg_key_t *const *tables, int argc, char **argv,
			    int *exit_code);

#endif
