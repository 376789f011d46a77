/* test_log.c: unit tests of core/log: both line formats, read back by a
 * parser of each (every value, whatever its bytes, comes back as written
 * or, for bytes that are not UTF-8, with U+FFFD); typed fields; outside
 * text that tries to forge a key; channel ids cut above debug level; the level check before the arguments are
 * evaluated; threads whose lines never mix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/log.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- capture ---- */
static int cap[2] = {-1, -1};

static int setup(void **state)
{
	(void)state;
	if (pipe(cap) < 0)
		return -1;
	fcntl(cap[0], F_SETFL, O_NONBLOCK);
	sl_log_set_fd(cap[1]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sl_log_set_fd(-1);
	sl_log_setup("sluice", "info", "logfmt");
	close(cap[0]);
	close(cap[1]);
	return 0;
}

/* Everything logged since the last call. */
static char *captured(void)
{
	sl_buf_t b = SL_BUF_INIT;
	char tmp[4096];
	ssize_t n;
	while ((n = read(cap[0], tmp, sizeof(tmp))) > 0)
		sl_buf_append(&b, tmp, (size_t)n);
	return sl_buf_steal(&b, NULL);
}

/* ---- a logfmt reader: key=bare or key="JSON string" ---- */
typedef struct field {
	char key[64];
	sl_buf_t val;
	bool quoted;
} field_t;

/* Parse one line into fields; returns the count, -1 when malformed. */
static int parse_logfmt(const char *s, field_t *f, int max)
{
	int n = 0;
	while (*s && *s != '\n') {
		if (n == max)
			return -1;
		const char *k = s;
		while (*s && *s != '=' && *s != ' ' && *s != '\n')
			s++;
		if (*s != '=' || s == k || (size_t)(s - k) >= sizeof(f[n].key))
			return -1;
		memcpy(f[n].key, k, (size_t)(s - k));
		f[n].key[s - k] = '\0';
		f[n].val = (sl_buf_t)SL_BUF_INIT;
		f[n].quoted = false;
		s++;
		if (*s == '"') {
			/* A JSON string: find its end, let jansson decode it. */
			const char *q = s + 1;
			while (*q && *q != '"')
				q += (*q == '\\' && q[1]) ? 2 : 1;
			if (*q != '"')
				return -1;
			json_error_t jerr;
			json_t *j = json_loadb(s, (size_t)(q + 1 - s), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
			if (!j)
				return -1;
			sl_buf_append(&f[n].val, json_string_value(j), json_string_length(j));
			json_decref(j);
			f[n].quoted = true;
			s = q + 1;
		} else {
			const char *v = s;
			while (*s && *s != ' ' && *s != '\n')
				s++;
			sl_buf_append(&f[n].val, v, (size_t)(s - v));
		}
		n++;
		if (*s == ' ')
			s++;
		else if (*s && *s != '\n')
			return -1;
	}
	return n;
}

static void free_fields(field_t *f, int n)
{
	for (int i = 0; i < n; i++)
		sl_buf_free(&f[i].val);
}

static const char *val_of(field_t *f, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].key, key))
			return f[i].val.data ? f[i].val.data : "";
	return NULL;
}

/* ---- tests ---- */
static void test_logfmt_fields(void **state)
{
	(void)state;
	assert_int_equal(sl_log_setup("tester", "debug", "logfmt"), 0);
	const char *null_str = NULL;
	bool yes = true;
	sl_log_info("thing_happened", SL_KV(conn, "pubsub"), SL_KV(port, 8080), SL_KV(count, (size_t)7),
		    SL_KV(rate, 2.5), SL_KV(stop, yes), SL_KV(error, "connection refused"), SL_KV(topic, ""),
		    SL_KV(group, null_str), SL_KVN(channel, "abcdef", 3), SL_KV(partition, -1));
	char *out = captured();
	field_t f[16];
	int n = parse_logfmt(out, f, 16);
	assert_int_equal(n, 14);
	assert_string_equal(f[0].key, "ts");
	assert_string_equal(val_of(f, n, "lvl"), "info");
	assert_string_equal(val_of(f, n, "role"), "tester");
	assert_string_equal(val_of(f, n, "ev"), "thing_happened");
	assert_string_equal(val_of(f, n, "conn"), "pubsub");
	assert_string_equal(val_of(f, n, "port"), "8080");
	assert_string_equal(val_of(f, n, "count"), "7");
	assert_string_equal(val_of(f, n, "rate"), "2.5");
	assert_string_equal(val_of(f, n, "stop"), "true");
	assert_string_equal(val_of(f, n, "error"), "connection refused");
	assert_string_equal(val_of(f, n, "topic"), "");
	assert_string_equal(val_of(f, n, "group"), "");
	assert_string_equal(val_of(f, n, "channel"), "abc");
	assert_string_equal(val_of(f, n, "partition"), "-1");
	/* Plain tokens go out bare, the rest quoted. */
	assert_non_null(strstr(out, " conn=pubsub "));
	assert_non_null(strstr(out, " error=\"connection refused\" "));
	assert_non_null(strstr(out, " topic=\"\" "));
	assert_non_null(strstr(out, " group= "));
	free_fields(f, n);
	free(out);
}

/* A channel id (a stream's capability) shows its first 8 characters above
 * debug level, in both formats, and whole at debug level; a short value
 * and other keys are untouched. */
static void test_channel_shortened(void **state)
{
	(void)state;
	const char *id = "6682e7db-5b0c-4f3e-9a51-0c7d2a8e1f44";
	assert_int_equal(sl_log_setup("tester", "debug", "logfmt"), 0);
	sl_log_info("a", SL_KV(channel, id), SL_KV(error, id));
	sl_log_warn("b", SL_KVN(channel, id, 8));
	sl_log_debug("c", SL_KV(channel, id));
	char *out = captured();
	char *l2 = strchr(out, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	field_t f[16];
	int n = parse_logfmt(out, f, 16);
	assert_string_equal(val_of(f, n, "channel"), "6682e7db...");
	assert_string_equal(val_of(f, n, "error"), id); /* only `channel` is cut */
	free_fields(f, n);
	n = parse_logfmt(l2, f, 16);
	assert_string_equal(val_of(f, n, "channel"), "6682e7db");
	free_fields(f, n);
	n = parse_logfmt(l3, f, 16);
	assert_string_equal(val_of(f, n, "channel"), id);
	free_fields(f, n);
	free(out);

	assert_int_equal(sl_log_setup(NULL, NULL, "json"), 0);
	sl_log_error("d", SL_KV(channel, id));
	out = captured();
	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "channel")), "6682e7db...");
	json_decref(j);
	free(out);
}

/* Outside text cannot add a key or a line, and every byte comes back. */
static void test_logfmt_escapes(void **state)
{
	(void)state;
	sl_log_setup("t", "info", "logfmt");
	static const struct {
		const char *in;
		size_t len;
		const char *want; /* what the reader gets back */
		size_t wlen;
	} rows[] = {
		{"x\" ev=forged", 12, "x\" ev=forged", 12},
		{"a=b", 3, "a=b", 3},
		{"two\nlines", 9, "two\nlines", 9},
		{"back\\slash", 10, "back\\slash", 10},
		{"tab\there\r", 9, "tab\there\r", 9},
		{"caf\xc3\xa9", 5, "caf\xc3\xa9", 5},
		{"bad\xff", 4, "bad\xef\xbf\xbd", 6},
		{"nul\0x", 5, "nul\0x", 5},
		{"\x1b[31mred", 8, "\x1b[31mred", 8},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_log_warn("escaped", SL_KVN(error, rows[i].in, rows[i].len), SL_KV(reason, "x"));
		char *out = captured();
		assert_non_null(strchr(out, '\n'));
		assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
		field_t f[8];
		int n = parse_logfmt(out, f, 8);
		assert_int_equal(n, 6);
		assert_string_equal(f[4].key, "error");
		assert_true(f[4].quoted);
		assert_int_equal(f[4].val.len, rows[i].wlen);
		assert_memory_equal(f[4].val.data, rows[i].want, rows[i].wlen);
		assert_string_equal(f[5].key, "reason");
		assert_string_equal(f[5].val.data, "x");
		free_fields(f, n);
		free(out);
	}
}

static void test_json_lines(void **state)
{
	(void)state;
	assert_int_equal(sl_log_setup("api", "info", "json"), 0);
	const char *null_str = NULL;
	bool no = false;
	sl_log_error("listen_failed", SL_KV(port, 80), SL_KV(error, "bad\xff \"quoted\"\n"), SL_KV(stop, no),
		     SL_KV(rate, 0.25), SL_KV(group, null_str), SL_KV(count, 4294967296ULL));
	char *out = captured();
	json_error_t jerr;
	json_t *j = json_loads(out, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		fprintf(stderr, "not JSON (%s): %s", jerr.text, out);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "lvl")), "error");
	assert_string_equal(json_string_value(json_object_get(j, "role")), "api");
	assert_string_equal(json_string_value(json_object_get(j, "ev")), "listen_failed");
	assert_true(json_is_string(json_object_get(j, "ts")));
	assert_int_equal(json_integer_value(json_object_get(j, "port")), 80);
	assert_string_equal(json_string_value(json_object_get(j, "error")), "bad\xef\xbf\xbd \"quoted\"\n");
	assert_true(json_is_false(json_object_get(j, "stop")));
	assert_true(json_real_value(json_object_get(j, "rate")) == 0.25);
	assert_true(json_is_null(json_object_get(j, "group")));
	assert_true(json_integer_value(json_object_get(j, "count")) == 4294967296LL);
	json_decref(j);
	free(out);
	/* No fields at all is a line too. */
	sl_log_info("bare_event");
	out = captured();
	j = json_loads(out, 0, &jerr);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 4);
	json_decref(j);
	free(out);
}

static int evaluated;
static int side_effect(void)
{
	return ++evaluated;
}

static void test_level_check_first(void **state)
{
	(void)state;
	sl_log_setup("t", "warn", "logfmt");
	evaluated = 0;
	sl_log_info("quiet", SL_KV(count, side_effect()));
	sl_log_debug("quieter", SL_KV(count, side_effect()));
	assert_int_equal(evaluated, 0);
	char *out = captured();
	assert_string_equal(out, "");
	free(out);
	sl_log_warn("loud", SL_KV(count, side_effect()));
	assert_int_equal(evaluated, 1);
	out = captured();
	assert_non_null(strstr(out, " lvl=warn role=t ev=loud count=1\n"));
	free(out);
	sl_log_at(SL_LOG_ERROR, "chosen_at_run_time");
	out = captured();
	assert_non_null(strstr(out, " lvl=error role=t ev=chosen_at_run_time\n"));
	free(out);
	assert_int_equal(sl_log_setup(NULL, "loud", NULL), -1);
	assert_int_equal(sl_log_setup(NULL, NULL, "xml"), -1);
	assert_string_equal(sl_log_key_name(SL_LK_error), "error");
}

/* ---- threads: every line arrives whole ---- */
enum { THREADS = 4, LINES = 500 };

static void *writer(void *arg)
{
	long id = (long)(intptr_t)arg;
	char text[200];
	memset(text, 'a' + (int)id, sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (int i = 0; i < LINES; i++)
		sl_log_info("thread_line", SL_KV(loop, id), SL_KV(count, i), SL_KV(error, text));
	return NULL;
}

static void *reader(void *arg)
{
	sl_buf_t *all = arg;
	char tmp[65536];
	for (;;) {
		ssize_t n = read(cap[0], tmp, sizeof(tmp));
		if (n > 0)
			sl_buf_append(all, tmp, (size_t)n);
		else if (n == 0)
			break;
		else
			usleep(1000);
		size_t lines = 0;
		for (size_t i = 0; i < all->len; i++)
			lines += all->data[i] == '\n';
		if (lines >= (size_t)THREADS * LINES)
			break;
	}
	return NULL;
}

static void test_threads_whole_lines(void **state)
{
	(void)state;
	sl_log_setup("t", "info", "logfmt");
	sl_buf_t all = SL_BUF_INIT;
	pthread_t r, w[THREADS];
	pthread_create(&r, NULL, reader, &all);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(w[i], NULL);
	pthread_join(r, NULL);
	int seen[THREADS][LINES] = {{0}};
	char *line = all.data;
	size_t nlines = 0;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		assert_non_null(nl);
		*nl = '\0';
		field_t f[8];
		int n = parse_logfmt(line, f, 8);
		assert_int_equal(n, 7);
		int id = atoi(val_of(f, n, "loop")), i = atoi(val_of(f, n, "count"));
		assert_true(id >= 0 && id < THREADS && i >= 0 && i < LINES);
		const char *text = val_of(f, n, "error");
		assert_int_equal(strlen(text), 199);
		assert_int_equal(strspn(text, (char[]){(char)('a' + id), 0}), 199);
		seen[id][i]++;
		free_fields(f, n);
		nlines++;
		line = nl + 1;
	}
	assert_int_equal(nlines, (size_t)THREADS * LINES);
	for (int id = 0; id < THREADS; id++)
		for (int i = 0; i < LINES; i++)
			assert_int_equal(seen[id][i], 1);
	sl_buf_free(&all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_logfmt_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logfmt_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channel_shortened, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_check_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_whole_lines, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
