/* config.c: parsing and printing of the settings tables (see config.h).
 *
 * Resolution happens once in sl_cfg_parse: argv is scanned into per-key flag
 * values, the --config file (if any) is read, then each key takes the first
 * of flag, env, file, default, and is validated against its type and bounds.
 */
#include "core/config.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const sl_cfg_key_t sl_cfg_keys_log[] = {
	{"log-level", NULL, "SLUICE_LOG_LEVEL", SL_CFG_STR, "info", 0, 0, "debug, info, warn, error or off"},
	{"log-format", NULL, "SLUICE_LOG_FORMAT", SL_CFG_STR, "logfmt", 0, 0, "logfmt or json"},
	{"config", NULL, "SLUICE_CONFIG", SL_CFG_STR, NULL, 0, 0, "file of `key = value` lines (flag names as keys)"},
	{0},
};

const sl_cfg_key_t sl_cfg_keys_kafka[] = {
	{"bootstrap-server", "broker-list,brokers", "SLUICE_KAFKA_BROKERS", SL_CFG_STR, "127.0.0.1:9092", 0, 0,
	 "Kafka bootstrap servers, host:port[,host:port]"},
	{"kafka-timeout-ms", NULL, "SLUICE_KAFKA_TIMEOUT_MS", SL_CFG_INT, "10000", 100, 600000,
	 "bound on any single wait for Kafka (metadata, admin, flush)"},
	{0},
};

const sl_cfg_key_t sl_cfg_keys_redis[] = {
	{"redis-url", NULL, "SLUICE_REDIS_URL", SL_CFG_STR, "redis://127.0.0.1:6379/0", 0, 0,
	 "Redis server, redis://[[user]:password@]host:port[/db]; rediss:// for TLS, "
	 "with ?tls_ca=FILE[&tls_cert=FILE&tls_key=FILE]"},
	{"redis-prefix", NULL, "SLUICE_REDIS_PREFIX", SL_CFG_STR, "sluice:", 0, 0, "prefix of every Redis key and channel"},
	{"redis-sentinels", NULL, "SLUICE_REDIS_SENTINELS", SL_CFG_STR, NULL, 0, 0,
	 "Redis Sentinels, host:port[,host:port]: the primary is asked of them and followed on failover "
	 "(redis-url then gives only password and db)"},
	{"redis-master-name", NULL, "SLUICE_REDIS_MASTER_NAME", SL_CFG_STR, "sluice", 0, 0,
	 "the master name the Sentinels watch"},
	{"channel-ttl-ms", NULL, "SLUICE_CHANNEL_TTL_MS", SL_CFG_INT, "3600000", 10000, 2592000000LL,
	 "a channel no stream has held this long is closed (publishers push it on while a stream holds it)"},
	{0},
};

const sl_cfg_key_t sl_cfg_keys_topics[] = {
	{"data-topic", NULL, "SLUICE_DATA_TOPIC", SL_CFG_STR, "markets", 0, 0, "topic of market updates (key = market id)"},
	{"command-topic", NULL, "SLUICE_COMMAND_TOPIC", SL_CFG_STR, "stream-commands", 0, 0,
	 "topic of subscription commands (key = channel id)"},
	{0},
};

const sl_cfg_key_t sl_cfg_keys_http[] = {
	{"listen-host", NULL, "SLUICE_LISTEN_HOST", SL_CFG_STR, "127.0.0.1", 0, 0,
	 "address the HTTP server binds (0.0.0.0: every interface; beyond loopback the api and rest-proxy need authentication)"},
	{"max-connections", NULL, "SLUICE_MAX_CONNECTIONS", SL_CFG_INT, "100000", 1, 10000000, "connections accepted at once"},
	{"max-body-bytes", NULL, "SLUICE_MAX_BODY_BYTES", SL_CFG_INT, "1048576", 64, 1073741824, "largest request body"},
	{"max-header-bytes", NULL, "SLUICE_MAX_HEADER_BYTES", SL_CFG_INT, "16384", 512, 1048576, "largest request head"},
	{"idle-timeout-ms", NULL, "SLUICE_IDLE_TIMEOUT_MS", SL_CFG_INT, "60000", 100, 86400000,
	 "close a connection idle this long between requests"},
	{"request-head-timeout-ms", NULL, "SLUICE_REQUEST_HEAD_TIMEOUT_MS", SL_CFG_INT, "10000", 100, 3600000,
	 "a request head not complete this long after its first byte (or the connection's accept): 408, close"},
	{"request-body-timeout-ms", NULL, "SLUICE_REQUEST_BODY_TIMEOUT_MS", SL_CFG_INT, "30000", 100, 3600000,
	 "a request body not complete this long after its head: 408, close"},
	{"max-queued-response-bytes", NULL, "SLUICE_MAX_QUEUED_RESPONSE_BYTES", SL_CFG_INT, "1048576", 4096, 1073741824,
	 "answers queued for a client that does not read; past it the client is not read until it drains"},
	{"max-connections-per-ip", NULL, "SLUICE_MAX_CONNECTIONS_PER_IP", SL_CFG_INT, "0", 0, 10000000,
	 "connections from one client address (0: no limit)"},
	{"cors-origin", NULL, "SLUICE_CORS_ORIGIN", SL_CFG_LIST, NULL, 0, 0,
	 "browser origins allowed to call this server (comma-separated, * for any; none by default)"},
	{"tls-cert-file", NULL, "SLUICE_TLS_CERT_FILE", SL_CFG_STR, NULL, 0, 0,
	 "PEM certificate chain: serve HTTPS (and wss://) on this server; read again on SIGHUP"},
	{"tls-key-file", NULL, "SLUICE_TLS_KEY_FILE", SL_CFG_STR, NULL, 0, 0,
	 "PEM private key of tls-cert-file"},
	{0},
};

typedef struct entry {
	const sl_cfg_key_t *key;
	char *flag_val;      /* last value from argv */
	char **list;         /* LIST values in effect */
	size_t nlist;
	char **flag_list;    /* LIST values from argv */
	size_t nflag_list;
	const char *value;   /* effective value (points into one of the above or env/def) */
	char *owned;         /* value we copied (file) */
	const char *source;  /* "flag", "env", "file", "default", "unset" */
} entry_t;

struct sl_cfg {
	const char *cmd, *usage, *summary;
	const sl_cfg_key_t *const *tables;
	entry_t *e;
	size_t n;
	char **args;
	size_t nargs;
	char **kprops;
	size_t nkprops;
};

sl_cfg_t *sl_cfg_new(const char *cmd, const char *usage, const char *summary,
		     const sl_cfg_key_t *const *tables)
{
	sl_cfg_t *cfg = sl_xcalloc(1, sizeof(*cfg));
	cfg->cmd = cmd;
	cfg->usage = usage;
	cfg->summary = summary;
	cfg->tables = tables;
	for (size_t t = 0; tables[t]; t++)
		for (const sl_cfg_key_t *k = tables[t]; k->name; k++)
			cfg->n++;
	cfg->e = sl_xcalloc(cfg->n, sizeof(entry_t));
	size_t i = 0;
	for (size_t t = 0; tables[t]; t++)
		for (const sl_cfg_key_t *k = tables[t]; k->name; k++)
			cfg->e[i++].key = k;
	return cfg;
}

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void sl_cfg_free(sl_cfg_t *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		entry_t *e = &cfg->e[i];
		free(e->flag_val);
		free(e->owned);
		if (e->list != e->flag_list)
			free_list(e->list, e->nlist);
		free_list(e->flag_list, e->nflag_list);
	}
	free(cfg->e);
	free(cfg->args);
	free_list(cfg->kprops, cfg->nkprops);
	free(cfg);
}

static bool name_matches(const sl_cfg_key_t *k, const char *name, size_t len)
{
	if (strlen(k->name) == len && strncmp(k->name, name, len) == 0)
		return true;
	for (const char *a = k->aliases; a && *a;) {
		const char *end = strchr(a, ',');
		size_t alen = end ? (size_t)(end - a) : strlen(a);
		if (alen == len && strncmp(a, name, len) == 0)
			return true;
		a = end ? end + 1 : NULL;
	}
	return false;
}

static entry_t *find(const sl_cfg_t *cfg, const char *name, size_t len)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (name_matches(cfg->e[i].key, name, len))
			return &cfg->e[i];
	return NULL;
}

static entry_t *must_find(const sl_cfg_t *cfg, const char *name)
{
	entry_t *e = find(cfg, name, strlen(name));
	if (!e) {
		/* A programming error: the role asked for a key it did not declare. */
		fprintf(stderr, "sluice: internal: config key '%s' is not declared for '%s'\n", name, cfg->cmd);
		abort();
	}
	return e;
}

static void push(char ***l, size_t *n, const char *s, size_t len)
{
	*l = sl_xrealloc(*l, (*n + 1) * sizeof(char *));
	(*l)[(*n)++] = sl_xstrndup(s, len);
}

static void split_list(entry_t *e, const char *s)
{
	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len)
			push(&e->list, &e->nlist, s, len);
		s = end ? end + 1 : s + len;
	}
}

static int check_value(const sl_cfg_t *cfg, entry_t *e, sl_err_t *err)
{
	const sl_cfg_key_t *k = e->key;
	const char *v = e->value;
	if (!v || k->type == SL_CFG_STR || k->type == SL_CFG_LIST)
		return 0;
	char *end;
	errno = 0;
	if (k->type == SL_CFG_BOOL) {
		if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") ||
		    !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
			return 0;
		return sl_err_set(err, SL_EINVAL, false, "%s: bad value for --%s: '%s' (from %s): expected true or false",
				  cfg->cmd, k->name, v, e->source);
	}
	double d = strtod(v, &end);
	if (errno || end == v || *end) {
		return sl_err_set(err, SL_EINVAL, false, "%s: bad value for --%s: '%s' (from %s): expected a number",
				  cfg->cmd, k->name, v, e->source);
	}
	if (k->type == SL_CFG_INT && d != (double)(long long)d)
		return sl_err_set(err, SL_EINVAL, false, "%s: bad value for --%s: '%s' (from %s): expected an integer",
				  cfg->cmd, k->name, v, e->source);
	if ((k->min != 0 || k->max != 0) && (d < k->min || d > k->max))
		return sl_err_set(err, SL_EINVAL, false, "%s: bad value for --%s: '%s' (from %s): must be %g..%g",
				  cfg->cmd, k->name, v, e->source, k->min, k->max);
	return 0;
}

/* Read `key = value` lines; unknown keys are errors, so typos are caught. */
static int read_file(sl_cfg_t *cfg, const char *path, sl_err_t *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return sl_err_set(err, SL_EINVAL, false, "%s: cannot read config file '%s': %s", cfg->cmd, path,
				  strerror(errno));
	char line[4096];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = sl_err_set(err, SL_EINVAL, false, "%s: %s:%d: expected key = value", cfg->cmd, path, lineno);
			break;
		}
		char *kend = eq;
		while (kend > s && isspace((unsigned char)kend[-1]))
			kend--;
		char *v = eq + 1;
		while (isspace((unsigned char)*v))
			v++;
		size_t vlen = strlen(v);
		while (vlen && isspace((unsigned char)v[vlen - 1]))
			v[--vlen] = '\0';
		if (strncmp(s, "X.", 2) == 0 || strncmp(s, "kafka.", 6) == 0) {
			const char *p = s[0] == 'X' ? s + 2 : s;
			if (strncmp(p, "kafka.", 6) == 0) {
				sl_buf_t kv = SL_BUF_INIT;
				sl_buf_printf(&kv, "%.*s=%s", (int)(kend - p - 6), p + 6, v);
				cfg->kprops = sl_xrealloc(cfg->kprops, (cfg->nkprops + 1) * sizeof(char *));
				cfg->kprops[cfg->nkprops++] = sl_buf_steal(&kv, NULL);
				continue;
			}
		}
		entry_t *e = find(cfg, s, (size_t)(kend - s));
		if (!e) {
			rc = sl_err_set(err, SL_EINVAL, false, "%s: %s:%d: unknown key '%.*s'", cfg->cmd, path, lineno,
					(int)(kend - s), s);
			break;
		}
		if (e->flag_val || e->nflag_list || (e->key->env && getenv(e->key->env)))
			continue; /* flags and env win over the file */
		free(e->owned);
		e->owned = sl_xstrdup(v);
		e->value = e->owned;
		e->source = "file";
	}
	fclose(f);
	return rc;
}

int sl_cfg_parse(sl_cfg_t *cfg, int argc, char **argv, sl_err_t *err)
{
	cfg->args = sl_xcalloc((size_t)argc + 1, sizeof(char *));
	bool only_args = false;
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		if (only_args || a[0] != '-' || !strcmp(a, "-")) {
			cfg->args[cfg->nargs++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			sl_cfg_print_help(cfg, stdout);
			return 1;
		}
		if (!strcmp(a, "-X")) {
			if (i + 1 >= argc)
				return sl_err_set(err, SL_EINVAL, false, "%s: -X needs kafka.<property>=<value>", cfg->cmd);
			const char *p = argv[++i];
			if (strncmp(p, "kafka.", 6) != 0 || !strchr(p, '='))
				return sl_err_set(err, SL_EINVAL, false, "%s: bad -X '%s': expected kafka.<property>=<value>",
						  cfg->cmd, p);
			cfg->kprops = sl_xrealloc(cfg->kprops, (cfg->nkprops + 1) * sizeof(char *));
			cfg->kprops[cfg->nkprops++] = sl_xstrdup(p + 6);
			continue;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		entry_t *e = find(cfg, name, nlen);
		if (!e)
			return sl_err_set(err, SL_EINVAL, false, "%s: unknown option '%.*s' (see %s --help)", cfg->cmd,
					  (int)(nlen + (size_t)(name - a)), a, cfg->cmd);
		const char *v;
		if (eq)
			v = eq + 1;
		else if (e->key->type == SL_CFG_BOOL)
			v = "true";
		else if (i + 1 < argc)
			v = argv[++i];
		else
			return sl_err_set(err, SL_EINVAL, false, "%s: option --%s needs a value", cfg->cmd, e->key->name);
		if (e->key->type == SL_CFG_LIST) {
			push(&e->flag_list, &e->nflag_list, v, strlen(v));
		} else {
			free(e->flag_val);
			e->flag_val = sl_xstrdup(v);
		}
	}

	for (size_t i = 0; i < cfg->n; i++) {
		entry_t *e = &cfg->e[i];
		const char *env = e->key->env ? getenv(e->key->env) : NULL;
		if (e->key->type == SL_CFG_LIST && e->nflag_list) {
			e->list = e->flag_list;
			e->nlist = e->nflag_list;
			e->source = "flag";
			e->value = e->list[0];
		} else if (e->flag_val) {
			e->value = e->flag_val;
			e->source = "flag";
		} else if (env && *env) {
			e->value = env;
			e->source = "env";
		} else {
			e->value = e->key->def;
			e->source = e->value ? "default" : "unset";
		}
	}
	const char *file = NULL;
	entry_t *fe = find(cfg, "config", 6);
	if (fe)
		file = fe->value;
	if (file) {
		int rc = read_file(cfg, file, err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < cfg->n; i++) {
		entry_t *e = &cfg->e[i];
		if (e->key->type == SL_CFG_LIST && e->list == NULL && e->value)
			split_list(e, e->value);
		int rc = check_value(cfg, e, err);
		if (rc)
			return rc;
	}
	return 0;
}

const char *sl_cfg_str(const sl_cfg_t *cfg, const char *name)
{
	return must_find(cfg, name)->value;
}

long long sl_cfg_int(const sl_cfg_t *cfg, const char *name)
{
	const char *v = must_find(cfg, name)->value;
	return v ? (long long)strtod(v, NULL) : 0;
}

double sl_cfg_double(const sl_cfg_t *cfg, const char *name)
{
	const char *v = must_find(cfg, name)->value;
	return v ? strtod(v, NULL) : 0;
}

bool sl_cfg_bool(const sl_cfg_t *cfg, const char *name)
{
	const char *v = must_find(cfg, name)->value;
	return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"));
}

size_t sl_cfg_list(const sl_cfg_t *cfg, const char *name, const char *const **items)
{
	entry_t *e = must_find(cfg, name);
	*items = (const char *const *)e->list;
	return e->nlist;
}

bool sl_cfg_is_set(const sl_cfg_t *cfg, const char *name)
{
	const char *s = must_find(cfg, name)->source;
	return s && strcmp(s, "default") != 0 && strcmp(s, "unset") != 0;
}

const char *sl_cfg_source(const sl_cfg_t *cfg, const char *name)
{
	return must_find(cfg, name)->source;
}

size_t sl_cfg_args(const sl_cfg_t *cfg, char *const **args)
{
	*args = cfg->args;
	return cfg->nargs;
}

size_t sl_cfg_kafka_props(const sl_cfg_t *cfg, const char *const **props)
{
	*props = (const char *const *)cfg->kprops;
	return cfg->nkprops;
}

static const char *type_name(sl_cfg_type_t t)
{
	static const char *names[] = {"string", "int", "bool", "number", "list"};
	return names[t];
}

void sl_cfg_print_help(const sl_cfg_t *cfg, FILE *out)
{
	fprintf(out, "usage: %s\n", cfg->usage);
	if (cfg->summary)
		fprintf(out, "\n%s\n", cfg->summary);
	fprintf(out, "\noptions (flag, then environment, then --config file, then default):\n");
	for (size_t i = 0; i < cfg->n; i++) {
		const sl_cfg_key_t *k = cfg->e[i].key;
		char flag[128];
		snprintf(flag, sizeof(flag), "--%s%s", k->name, k->type == SL_CFG_BOOL ? "" : " <v>");
		fprintf(out, "  %-28s %s", flag, k->help);
		if (k->def && *k->def)
			fprintf(out, " (default %s)", k->def);
		if (k->env)
			fprintf(out, " [%s]", k->env);
		if (k->aliases)
			fprintf(out, " (also --%s)", k->aliases);
		fputc('\n', out);
	}
	fprintf(out, "  %-28s %s\n", "-X kafka.<prop>=<v>", "pass a librdkafka property through");
	fprintf(out, "  %-28s %s\n", "--help", "this text");
}

static bool is_secret(const char *name)
{
	return strstr(name, "password") || strstr(name, "secret") || strstr(name, "key") || strstr(name, "token");
}

void sl_cfg_dump(const sl_cfg_t *cfg, FILE *out)
{
	for (size_t i = 0; i < cfg->n; i++) {
		const entry_t *e = &cfg->e[i];
		const char *v = e->value ? e->value : "";
		if (e->value && (is_secret(e->key->name) && strcmp(e->key->name, "api-key-header") != 0))
			v = "********";
		/* Mask a password inside a redis URL. */
		if (e->value && strstr(e->value, "://") && strchr(e->value, '@'))
			v = "(url with credentials, masked)";
		fprintf(out, "%s = %s  # %s\n", e->key->name, v, e->source);
	}
	for (size_t i = 0; i < cfg->nkprops; i++) {
		const char *eq = strchr(cfg->kprops[i], '=');
		int klen = eq ? (int)(eq - cfg->kprops[i]) : (int)strlen(cfg->kprops[i]);
		bool secret = strstr(cfg->kprops[i], "password") || strstr(cfg->kprops[i], "secret");
		fprintf(out, "X.kafka.%.*s = %s  # flag\n", klen, cfg->kprops[i], secret ? "********" : (eq ? eq + 1 : ""));
	}
}

void sl_cfg_docs(const char *cmd, const sl_cfg_key_t *const *tables, FILE *out)
{
	fprintf(out, "\n## `sluice %s`\n\n| flag | env | type | default | range | meaning |\n|---|---|---|---|---|---|\n", cmd);
	for (size_t t = 0; tables[t]; t++)
		for (const sl_cfg_key_t *k = tables[t]; k->name; k++) {
			fprintf(out, "| `--%s`", k->name);
			if (k->aliases)
				fprintf(out, " (`%s`)", k->aliases);
			fprintf(out, " | %s | %s | %s | ", k->env ? k->env : "", type_name(k->type), k->def ? k->def : "");
			if (k->min != 0 || k->max != 0)
				fprintf(out, "%g..%g", k->min, k->max);
			fprintf(out, " | %s |\n", k->help);
		}
}

sl_cfg_t *sl_cfg_setup_role(const char *role, const char *usage, const char *summary,
			    const sl_cfg_key_t *const *tables, int argc, char **argv, int *exit_code)
{
	sl_cfg_t *cfg = sl_cfg_new(role, usage, summary, tables);
	sl_err_t err = {0};
	int rc = sl_cfg_parse(cfg, argc, argv, &err);
	if (rc == 1) {
		*exit_code = 0;
		sl_cfg_free(cfg);
		return NULL;
	}
	if (rc < 0) {
		fprintf(stderr, "sluice %s\n", err.msg);
		*exit_code = 2;
		sl_cfg_free(cfg);
		return NULL;
	}
	const char *lvl = find(cfg, "log-level", 9) ? sl_cfg_str(cfg, "log-level") : NULL;
	const char *fmt = find(cfg, "log-format", 10) ? sl_cfg_str(cfg, "log-format") : NULL;
	if (sl_log_setup(role, lvl, fmt) < 0) {
		fprintf(stderr, "sluice %s: bad --log-level '%s' or --log-format '%s'\n", role, lvl ? lvl : "",
			fmt ? fmt : "");
		*exit_code = 2;
		sl_cfg_free(cfg);
		return NULL;
	}
	*exit_code = 0;
	return cfg;
}
