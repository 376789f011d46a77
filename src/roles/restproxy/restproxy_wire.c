/* restproxy_wire.c: the REST proxy's wire logic, free of I/O.
 *
 * How it fits: restproxy*.c call these to read Content-Type and Accept
 * (Confluent's content negotiation: q values, wildcards, the most specific
 * range wins), to write Confluent error bodies and to turn request bodies
 * (base64 through core/base64.h) into checked values before anything is
 * sent to Kafka, so a bad request changes nothing.
 * tests/unit/test_restproxy.c runs every function here on tables of good
 * and bad inputs.
 * References: RFC 9110 section 12 (content negotiation), RFC 4648 (base64),
 * Confluent REST Proxy API reference (content types, error codes).
 * Non-goals: schemas (Avro/Protobuf/JSON schema); I/O of any kind.
 */
#include "roles/restproxy/restproxy_int.h"

#include "core/alloc.h"
#include "core/base64.h"

#include <ctype.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const sl_rp_meta_types[] = {
	"application/vnd.kafka.v2+json",
	"application/vnd.kafka.v1+json",
	"application/vnd.kafka+json",
	"application/json",
};
const size_t sl_rp_meta_ntypes = sizeof(sl_rp_meta_types) / sizeof(sl_rp_meta_types[0]);

bool sl_rp__type_is_v1(const char *type)
{
	return type && strstr(type, ".v1+json") != NULL;
}

/* ---- media types ---- */

/* Copy the media type (before ';'), trimmed and lower-cased. */
static void media_type(const char *s, size_t n, char *out, size_t outlen)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	const char *semi = memchr(s, ';', n);
	if (semi)
		n = (size_t)(semi - s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outlen; i++)
		out[o++] = (char)tolower((unsigned char)s[i]);
	out[o] = '\0';
}

int sl_rp__parse_ctype(const char *ctype, sl_rp_ctype_t *out, const char **why)
{
	static const char vnd[] = "application/vnd.kafka";
	char t[128];
	*out = (sl_rp_ctype_t){0, SL_RP_FMT_BINARY, false};
	if (!ctype || !*ctype) {
		*why = "a request body needs a Content-Type (application/vnd.kafka.binary.v2+json, "
		       "application/vnd.kafka.json.v2+json, ...)";
		return -1;
	}
	media_type(ctype, strlen(ctype), t, sizeof(t));
	if (!strcmp(t, "application/json") || !strcmp(t, "application/octet-stream") ||
	    !strcmp(t, "application/vnd.kafka+json"))
		return 0;
	if (strncmp(t, vnd, sizeof(vnd) - 1) != 0 || t[sizeof(vnd) - 1] != '.') {
		*why = "unsupported Content-Type";
		return -1;
	}
	/* ".<fmt>.v<N>+json" or ".v<N>+json" */
	char *p = t + sizeof(vnd);
	char *dot = strchr(p, '.');
	if (dot) {
		*dot = '\0';
		if (!strcmp(p, "binary")) {
			out->fmt = SL_RP_FMT_BINARY;
		} else if (!strcmp(p, "json")) {
			out->fmt = SL_RP_FMT_JSON;
		} else if (!strcmp(p, "avro") || !strcmp(p, "protobuf") || !strcmp(p, "jsonschema")) {
			*why = "this embedded format needs a schema registry, which this proxy does not use "
			       "(use binary or json)";
			return -1;
		} else {
			*why = "unknown embedded format in Content-Type";
			return -1;
		}
		out->has_fmt = true;
		p = dot + 1;
	}
	if (!strcmp(p, "v1+json"))
		out->version = 1;
	else if (!strcmp(p, "v2+json"))
		out->version = 2;
	else {
		*why = "unsupported API version in Content-Type (v1 and v2 are served)";
		return -1;
	}
	return 0;
}

/* q of the most specific Accept range that matches type (0 when none). */
static double accept_q(const char *accept, const char *type)
{
	int best_spec = 0;
	double best_q = 0;
	const char *slash = strchr(type, '/');
	size_t main_len = slash ? (size_t)(slash - type) : strlen(type);
	const char *s = accept;
	while (*s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		char range[128];
		media_type(s, n, range, sizeof(range));
		double q = 1;
		const char *params = memchr(s, ';', n);
		while (params && params < s + n) {
			params++;
			while (params < s + n && isspace((unsigned char)*params))
				params++;
			if ((params[0] == 'q' || params[0] == 'Q') && params[1] == '=')
				q = strtod(params + 2, NULL);
			params = memchr(params, ';', (size_t)(s + n - params));
		}
		int spec = 0;
		if (!strcmp(range, type))
			spec = 3;
		else if (strlen(range) == main_len + 2 && !strncmp(range, type, main_len) && !strcmp(range + main_len, "/*"))
			spec = 2;
		else if (!strcmp(range, "*/*") || !strcmp(range, "*"))
			spec = 1;
		if (spec > best_spec) {
			best_spec = spec;
			best_q = q;
		}
		s = end ? end + 1 : s + n;
	}
	return best_spec ? best_q : 0;
}

int sl_rp__negotiate(const char *accept, const char *const *candidates, size_t n)
{
	if (!accept || !*accept)
		return n ? 0 : -1;
	int best = -1;
	double best_q = 0;
	for (size_t i = 0; i < n; i++) {
		double q = accept_q(accept, candidates[i]);
		if (q > best_q) {
			best_q = q;
			best = (int)i;
		}
	}
	return best;
}

/* ---- errors ---- */

void sl_rp__error_body(sl_buf_t *out, int error_code, const char *message)
{
	sl_buf_printf(out, "{\"error_code\":%d,\"message\":", error_code);
	sl_buf_json_str(out, message, strlen(message));
	sl_buf_putc(out, '}');
}

void sl_rp__http_error_fmt(int status, const char *code, const char *message, sl_buf_t *out)
{
	(void)code;
	sl_rp__error_body(out, status, message);
}

/* ---- request bodies ---- */

static json_t *load_object(const char *body, size_t len, bool empty_ok, int *code, char *msg, size_t msglen)
{
	size_t i = 0;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len) {
		if (empty_ok)
			return json_object();
		*code = SL_RP_E_BODY_SHAPE;
		snprintf(msg, msglen, "request body is empty; a JSON object is expected");
		return NULL;
	}
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
	if (!root) {
		*code = 400;
		snprintf(msg, msglen, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (json_is_null(root) && empty_ok) {
		json_decref(root);
		return json_object();
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*code = SL_RP_E_BODY_SHAPE;
		snprintf(msg, msglen, "request body must be a JSON object");
		return NULL;
	}
	return root;
}

/* Serialize an embedded JSON value: shortest of 15 or 17 digits that round-trips. */
static void dump_json(sl_buf_t *out, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
	json_t *back = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
	if (!back || !json_equal(back, (json_t *)v)) {
		free(s);
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	}
	json_decref(back);
	if (s)
		sl_buf_puts(out, s);
	free(s);
}

/* Decode one key or value into store; returns 0 or an error code. */
static int embed(sl_buf_t *store, const json_t *v, sl_rp_fmt_t fmt, bool *present, size_t *off, size_t *len,
		 size_t idx, const char *what, char *msg, size_t msglen)
{
	*present = v && !json_is_null(v);
	*off = store->len;
	*len = 0;
	if (!*present)
		return 0;
	if (fmt == SL_RP_FMT_JSON) {
		dump_json(store, v);
		*len = store->len - *off;
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(msg, msglen, "record %zu: %s must be a base64 string or null", idx, what);
		return SL_RP_E_RECORD;
	}
	size_t slen = json_string_length(v);
	sl_buf_reserve(store, sl_base64_decoded_max(slen));
	long n = sl_base64_decode(json_string_value(v), slen, SL_RP_BASE64_IN, (unsigned char *)store->data + store->len,
				  NULL);
	if (n < 0) {
		snprintf(msg, msglen, "record %zu: %s is not valid base64", idx, what);
		return SL_RP_E_BASE64;
	}
	store->len += (size_t)n;
	store->data[store->len] = '\0';
	*len = (size_t)n;
	return 0;
}

int sl_rp__parse_records(const char *body, size_t len, sl_rp_fmt_t fmt, int32_t path_partition,
			 sl_rp_records_t *out, char *msg, size_t msglen)
{
	memset(out, 0, sizeof(*out));
	int code = 0;
	json_t *root = load_object(body, len, false, &code, msg, msglen);
	if (!root)
		return code;
	json_t *recs = json_object_get(root, "records");
	if (!json_is_array(recs) || json_array_size(recs) == 0) {
		snprintf(msg, msglen, "\"records\" must be a non-empty array");
		json_decref(root);
		return SL_RP_E_RECORDS;
	}
	size_t n = json_array_size(recs);
	out->recs = sl_xcalloc(n, sizeof(sl_rp_record_t));
	size_t(*offs)[2] = sl_xcalloc(n, sizeof(*offs));
	bool(*has)[2] = sl_xcalloc(n, sizeof(*has));
	for (size_t i = 0; i < n && !code; i++) {
		json_t *r = json_array_get(recs, i);
		sl_rp_record_t *rec = &out->recs[i];
		if (!json_is_object(r)) {
			snprintf(msg, msglen, "record %zu is not a JSON object", i);
			code = SL_RP_E_RECORD;
			break;
		}
		json_t *p = json_object_get(r, "partition");
		rec->partition = path_partition;
		if (p && !json_is_null(p)) {
			if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX ||
			    (path_partition >= 0 && json_integer_value(p) != path_partition)) {
				snprintf(msg, msglen, "record %zu: partition must be a non-negative integer%s", i,
					 path_partition >= 0 ? " equal to the partition in the URL" : "");
				code = SL_RP_E_PARTITION_OFFSET;
				break;
			}
			rec->partition = (int32_t)json_integer_value(p);
		}
		code = embed(&out->store, json_object_get(r, "key"), fmt, &has[i][0], &offs[i][0], &rec->key_len, i,
			     "key", msg, msglen);
		if (!code)
			code = embed(&out->store, json_object_get(r, "value"), fmt, &has[i][1], &offs[i][1],
				     &rec->value_len, i, "value", msg, msglen);
	}
	if (!code) {
		out->n = n;
		for (size_t i = 0; i < n; i++) {
			out->recs[i].key = has[i][0] ? out->store.data + offs[i][0] : NULL;
			out->recs[i].value = has[i][1] ? out->store.data + offs[i][1] : NULL;
		}
	}
	free(offs);
	free(has);
	json_decref(root);
	if (code)
		sl_rp__records_free(out);
	return code;
}

void sl_rp__records_free(sl_rp_records_t *r)
{
	free(r->recs);
	sl_buf_free(&r->store);
	memset(r, 0, sizeof(*r));
}

/* A config value given as a JSON number, boolean or string; -2 when bad. */
static long long conf_int(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? json_integer_value(v) : -2;
	if (json_is_string(v)) {
		char *end;
		const char *s = json_string_value(v);
		long long x = strtoll(s, &end, 10);
		return (*s && !*end && x >= 0) ? x : -2;
	}
	return -2;
}

static int conf_bool(const json_t *v)
{
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_string(v)) {
		if (!strcasecmp(json_string_value(v), "true"))
			return 1;
		if (!strcasecmp(json_string_value(v), "false"))
			return 0;
	}
	return -2;
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > 100)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

int sl_rp__parse_consumer_conf(const char *body, size_t len, sl_rp_consumer_conf_t *out, char *msg, size_t msglen)
{
	*out = (sl_rp_consumer_conf_t){"", SL_RP_FMT_BINARY, "", -1, -1, -1};
	int code = 0;
	json_t *root = load_object(body, len, true, &code, msg, msglen);
	if (!root)
		return code;
	code = SL_RP_E_CONSUMER_CONFIG;
	json_t *v;
	if ((v = json_object_get(root, "name")) || (v = json_object_get(root, "id"))) {
		if (!json_is_null(v)) {
			if (!json_is_string(v) || !name_ok(json_string_value(v))) {
				snprintf(msg, msglen, "name must be 1-100 characters of [A-Za-z0-9._-]");
				goto out;
			}
			snprintf(out->name, sizeof(out->name), "%s", json_string_value(v));
		}
	}
	if ((v = json_object_get(root, "format")) && !json_is_null(v)) {
		const char *f = json_is_string(v) ? json_string_value(v) : "";
		if (!strcmp(f, "binary")) {
			out->fmt = SL_RP_FMT_BINARY;
		} else if (!strcmp(f, "json")) {
			out->fmt = SL_RP_FMT_JSON;
		} else {
			snprintf(msg, msglen, "format must be binary or json (schema formats need a registry)");
			goto out;
		}
	}
	if ((v = json_object_get(root, "auto.offset.reset")) && !json_is_null(v)) {
		const char *r = json_is_string(v) ? json_string_value(v) : "";
		if (!strcmp(r, "earliest") || !strcmp(r, "smallest"))
			strcpy(out->offset_reset, "earliest");
		else if (!strcmp(r, "latest") || !strcmp(r, "largest"))
			strcpy(out->offset_reset, "latest");
		else if (!strcmp(r, "none"))
			strcpy(out->offset_reset, "error");
		else {
			snprintf(msg, msglen, "auto.offset.reset must be earliest, latest, smallest, largest or none");
			goto out;
		}
	}
	if ((v = json_object_get(root, "auto.commit.enable")) && !json_is_null(v)) {
		out->auto_commit = conf_bool(v);
		if (out->auto_commit < 0) {
			snprintf(msg, msglen, "auto.commit.enable must be true or false");
			goto out;
		}
	}
	if ((v = json_object_get(root, "fetch.min.bytes")) && !json_is_null(v)) {
		long long x = conf_int(v);
		if (x < 0 || x > 100000000) {
			snprintf(msg, msglen, "fetch.min.bytes must be an integer 0..100000000");
			goto out;
		}
		out->fetch_min_bytes = (long)x;
	}
	if ((v = json_object_get(root, "consumer.request.timeout.ms")) && !json_is_null(v)) {
		long long x = conf_int(v);
		if (x < 0 || x > 3600000) {
			snprintf(msg, msglen, "consumer.request.timeout.ms must be an integer 0..3600000");
			goto out;
		}
		out->request_timeout_ms = (long)x;
	}
	code = 0;
out:
	json_decref(root);
	return code;
}

int sl_rp__parse_partitions(const char *body, size_t len, const char *key, bool with_offset,
			    rd_kafka_topic_partition_list_t **out, char *msg, size_t msglen)
{
	*out = NULL;
	int code = 0;
	json_t *root = load_object(body, len, false, &code, msg, msglen);
	if (!root)
		return code;
	json_t *arr = json_object_get(root, key);
	if (!json_is_array(arr)) {
		snprintf(msg, msglen, "\"%s\" must be an array of {\"topic\",\"partition\"%s}", key,
			 with_offset ? ",\"offset\"" : "");
		json_decref(root);
		return SL_RP_E_SUBSCRIPTION;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)json_array_size(arr) + 1);
	for (size_t i = 0; i < json_array_size(arr) && !code; i++) {
		json_t *e = json_array_get(arr, i);
		json_t *t = json_object_get(e, "topic"), *p = json_object_get(e, "partition");
		json_t *o = json_object_get(e, "offset");
		if (!json_is_object(e) || !json_is_string(t) || !json_string_length(t) || !p || (with_offset && !o)) {
			snprintf(msg, msglen, "%s[%zu] must be {\"topic\":string,\"partition\":int%s}", key, i,
				 with_offset ? ",\"offset\":int" : "");
			code = SL_RP_E_SUBSCRIPTION;
		} else if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX) {
			snprintf(msg, msglen, "%s[%zu]: partition must be a non-negative integer", key, i);
			code = SL_RP_E_PARTITION_OFFSET;
		} else if (with_offset && (!json_is_integer(o) || json_integer_value(o) < 0 ||
					   json_integer_value(o) >= INT64_MAX)) {
			/* The commit adds one (the next record): INT64_MAX would overflow. */
			snprintf(msg, msglen, "%s[%zu]: offset must be an integer from 0 to %lld", key, i,
				 (long long)INT64_MAX - 1);
			code = SL_RP_E_PARTITION_OFFSET;
		} else {
			rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(
				l, json_string_value(t), (int32_t)json_integer_value(p));
			tp->offset = with_offset ? (int64_t)json_integer_value(o) : RD_KAFKA_OFFSET_INVALID;
		}
	}
	json_decref(root);
	if (code) {
		rd_kafka_topic_partition_list_destroy(l);
		return code;
	}
	*out = l;
	return 0;
}

/* glibc compiles X+ as XX*, copying X; nested, (((X+)+)+)+ copies it 2^n
 * times: 255 characters with eleven nested + took 200 MB and 0.3 s to
 * compile here, and one fuzz input 2.4 GB. At most SL_RP_PATTERN_MAX_PLUS
 * (6) + quantifiers outside bracket expressions keep the worst case to a
 * few milliseconds and megabytes (tests/corpus/restproxy/fuzz-nested-plus). */
static bool pattern_cheap(const char *s)
{
	int plus = 0;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			i++;
		} else if (s[i] == '[') {
			/* a bracket expression: ']' first (or after '^') is literal */
			size_t j = i + 1;
			if (s[j] == '^')
				j++;
			if (s[j] == ']')
				j++;
			while (s[j] && s[j] != ']')
				j++;
			if (!s[j])
				return true; /* unbalanced: regcomp refuses it */
			i = j;
		} else if (s[i] == '+' && ++plus > SL_RP_PATTERN_MAX_PLUS) {
			return false;
		}
	}
	return true;
}

int sl_rp__parse_subscription(const char *body, size_t len, rd_kafka_topic_partition_list_t **out, char *msg,
			      size_t msglen)
{
	*out = NULL;
	int code = 0;
	json_t *root = load_object(body, len, false, &code, msg, msglen);
	if (!root)
		return code;
	json_t *topics = json_object_get(root, "topics"), *pat = json_object_get(root, "topic_pattern");
	if (json_is_null(topics))
		topics = NULL;
	if (json_is_null(pat))
		pat = NULL;
	code = SL_RP_E_SUBSCRIPTION;
	if ((topics && pat) || (!topics && !pat)) {
		snprintf(msg, msglen, "give either \"topics\" or \"topic_pattern\"");
		goto out;
	}
	if (pat) {
		/* Compiled on the loop, so bounded: a topic name is at most 249
		 * characters, and interval expressions ({m,n}) are what makes a
		 * short pattern expensive to compile (nested ones multiply). */
		regex_t re;
		if (!json_is_string(pat) || !json_string_length(pat) || json_string_length(pat) > SL_RP_PATTERN_MAX ||
		    strchr(json_string_value(pat), '{') || !pattern_cheap(json_string_value(pat)) ||
		    regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB) != 0) {
			snprintf(msg, msglen, "topic_pattern must be a POSIX extended regular expression of at most %d "
				 "characters, without {m,n} intervals and with at most %d +",
				 SL_RP_PATTERN_MAX, SL_RP_PATTERN_MAX_PLUS);
			goto out;
		}
		regfree(&re);
		sl_buf_t b = SL_BUF_INIT;
		sl_buf_printf(&b, "^(%s)$", json_string_value(pat));
		*out = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(*out, b.data, RD_KAFKA_PARTITION_UA);
		sl_buf_free(&b);
		code = 0;
		goto out;
	}
	if (!json_is_array(topics) || json_array_size(topics) == 0) {
		snprintf(msg, msglen, "\"topics\" must be a non-empty array of topic names");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(topics); i++) {
		json_t *t = json_array_get(topics, i);
		if (!json_is_string(t) || !json_string_length(t) || json_string_value(t)[0] == '^') {
			snprintf(msg, msglen, "topics[%zu] must be a topic name", i);
			goto out;
		}
	}
	*out = rd_kafka_topic_partition_list_new((int)json_array_size(topics));
	for (size_t i = 0; i < json_array_size(topics); i++)
		rd_kafka_topic_partition_list_add(*out, json_string_value(json_array_get(topics, i)),
						  RD_KAFKA_PARTITION_UA);
	code = 0;
out:
	json_decref(root);
	return code;
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int sl_rp__split_path(sl_iov_t path, char **segs, int max)
{
	int n = 0;
	size_t i = 0;
	if (i < path.len && path.base[i] == '/')
		i++;
	while (i < path.len) {
		size_t j = i;
		while (j < path.len && path.base[j] != '/')
			j++;
		if (j == i) {
			if (j + 1 >= path.len)
				break; /* one trailing slash is fine */
			goto bad;
		}
		if (n == max)
			goto bad;
		char *s = sl_xmalloc(j - i + 1);
		size_t o = 0;
		for (size_t k = i; k < j; k++) {
			if (path.base[k] == '%') {
				if (k + 2 >= j || hexv(path.base[k + 1]) < 0 || hexv(path.base[k + 2]) < 0 ||
				    (hexv(path.base[k + 1]) == 0 && hexv(path.base[k + 2]) == 0)) {
					free(s);
					goto bad;
				}
				s[o++] = (char)(hexv(path.base[k + 1]) * 16 + hexv(path.base[k + 2]));
				k += 2;
			} else {
				s[o++] = path.base[k];
			}
		}
		s[o] = '\0';
		segs[n++] = s;
		i = j + 1;
	}
	return n;
bad:
	for (int k = 0; k < n; k++)
		free(segs[k]);
	return -1;
}
