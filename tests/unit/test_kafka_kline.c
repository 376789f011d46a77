/* test_kafka_kline.c: unit tests of src/kafka/kline: the line reader (chunk
 * boundaries, growth, last line without '\n', too-long lines), key
 * splitting, separator escapes, --property parsing, JSON strings (escapes,
 * invalid UTF-8) and record formatting, text and JSON. Each bad input is a
 * table row (STYLE.md section 9).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kafka/kline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read every line of `in` with a reader of the given buffer size; lines
 * joined with '|' into out. Returns the last sl_kline_next code. */
static int read_all(const char *in, size_t inlen, size_t bufsize, size_t max_line, sl_buf_t *out,
		    uint64_t *lines)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	assert_int_equal(fwrite(in, 1, inlen, f), inlen);
	fflush(f);
	rewind(f);
	sl_kline_reader_t r;
	sl_kline_reader_init(&r, fileno(f), bufsize, max_line);
	const char *line;
	size_t len;
	int rc;
	sl_err_t err = {0};
	while ((rc = sl_kline_next(&r, &line, &len, &err)) == 1) {
		sl_buf_append(out, line, len);
		sl_buf_putc(out, '|');
	}
	*lines = r.lineno;
	sl_kline_reader_close(&r);
	fclose(f);
	return rc;
}

static void test_reader_rows(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t bufsize;
		const char *want;
		uint64_t lines;
	} rows[] = {
		{"1\n2\n3\n", 16, "1|2|3|", 3},
		{"1\n2\n3", 16, "1|2|3|", 3},             /* last line without newline */
		{"", 16, "", 0},                          /* empty input: no record */
		{"\n", 16, "|", 1},                       /* one empty line: one empty record */
		{"a\n\nb\n", 16, "a||b|", 3},             /* empty line in the middle */
		{"a\r\nb\n", 16, "a\r|b|", 2},            /* '\r' is data, not a terminator */
		{"abcdefghijklmnopqrstuvwxyz\nx\n", 16, "abcdefghijklmnopqrstuvwxyz|x|", 2}, /* grows */
		{"0123456789abcde\n0123456789abcde\n", 16, "0123456789abcde|0123456789abcde|", 2}, /* exact fit */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_buf_t out = SL_BUF_INIT;
		uint64_t lines = 0;
		assert_int_equal(read_all(rows[i].in, strlen(rows[i].in), rows[i].bufsize, 1 << 20, &out, &lines), 0);
		assert_string_equal(out.data ? out.data : "", rows[i].want);
		assert_int_equal(lines, rows[i].lines);
		sl_buf_free(&out);
	}
}

static void test_reader_nul_and_many_chunks(void **state)
{
	(void)state;
	/* 10000 lines through a 16-byte buffer: every chunk boundary is hit. */
	sl_buf_t in = SL_BUF_INIT, out = SL_BUF_INIT, want = SL_BUF_INIT;
	for (int i = 1; i <= 10000; i++) {
		sl_buf_printf(&in, "%d\n", i);
		sl_buf_printf(&want, "%d|", i);
	}
	uint64_t lines;
	assert_int_equal(read_all(in.data, in.len, 16, 64, &out, &lines), 0);
	assert_int_equal(lines, 10000);
	assert_string_equal(out.data, want.data);
	sl_buf_free(&out);
	/* A NUL byte stays inside the record. */
	assert_int_equal(read_all("a\0b\n", 4, 16, 64, &out, &lines), 0);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.data, "a\0b|", 4);
	sl_buf_free(&in);
	sl_buf_free(&out);
	sl_buf_free(&want);
}

static void test_reader_too_long(void **state)
{
	(void)state;
	char big[200];
	memset(big, 'x', sizeof(big));
	big[199] = '\n';
	sl_buf_t out = SL_BUF_INIT;
	uint64_t lines;
	assert_int_equal(read_all(big, sizeof(big), 16, 64, &out, &lines), SL_ETOOBIG);
	sl_buf_free(&out);
	/* The limit is the longest line taken, with or without its '\n'
	 * (found by fuzz_kline: a line of exactly max_line bytes was refused). */
	assert_int_equal(read_all(big + 135, 65, 16, 64, &out, &lines), 0);
	assert_int_equal(lines, 1);
	sl_buf_free(&out);
	assert_int_equal(read_all(big, 64, 16, 64, &out, &lines), 0);
	assert_int_equal(lines, 1);
	sl_buf_free(&out);
	assert_int_equal(read_all(big + 134, 66, 16, 64, &out, &lines), SL_ETOOBIG);
	sl_buf_free(&out);
	assert_int_equal(read_all(big, 65, 16, 64, &out, &lines), SL_ETOOBIG);
	sl_buf_free(&out);
}

static void test_split_key(void **state)
{
	(void)state;
	static const struct {
		const char *line, *sep;
		int rc;
		const char *key, *value;
	} rows[] = {
		{"k:v", ":", 0, "k", "v"},
		{"k:v:w", ":", 0, "k", "v:w"},   /* first separator only */
		{":v", ":", 0, "", "v"},         /* empty key */
		{"k:", ":", 0, "k", ""},         /* empty value */
		{"k::v", "::", 0, "k", "v"},     /* multi-byte separator */
		{"kv", ":", SL_ENOTFOUND, NULL, NULL},
		{"", ":", SL_ENOTFOUND, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_iov_t k, v;
		int rc = sl_kline_split_key(rows[i].line, strlen(rows[i].line), rows[i].sep, strlen(rows[i].sep), &k, &v);
		assert_int_equal(rc, rows[i].rc);
		if (rc == 0) {
			assert_int_equal(k.len, strlen(rows[i].key));
			assert_memory_equal(k.base, rows[i].key, k.len);
			assert_int_equal(v.len, strlen(rows[i].value));
			assert_memory_equal(v.base, rows[i].value, v.len);
		}
	}
}

static void test_unescape(void **state)
{
	(void)state;
	size_t len;
	char *s = sl_kline_unescape("\\t", &len);
	assert_int_equal(len, 1);
	assert_int_equal(s[0], '\t');
	free(s);
	s = sl_kline_unescape("a\\nb\\\\c\\x", &len);
	assert_string_equal(s, "a\nb\\c\\x");
	free(s);
	s = sl_kline_unescape("\\0", &len);
	assert_int_equal(len, 1);
	assert_int_equal(s[0], '\0');
	free(s);
	s = sl_kline_unescape("\\", &len);
	assert_string_equal(s, "\\");
	free(s);
}

static void test_props(void **state)
{
	(void)state;
	static const char *const known[] = {"parse.key", "key.separator", NULL};
	const char *values[2] = {NULL, NULL};
	const char *good[] = {"parse.key=true", "key.separator=:", "key.separator=="};
	sl_err_t err = {0};
	assert_int_equal(sl_kline_props_parse(good, 3, known, values, &err), 0);
	assert_string_equal(values[0], "true");
	assert_string_equal(values[1], "="); /* last wins; value may hold '=' */
	static const struct {
		const char *item, *msg;
	} bad[] = {
		{"parse.key", "expected name=value"},
		{"nope=1", "unknown --property 'nope' (known: parse.key, key.separator)"},
		{"=1", "unknown --property ''"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *items[] = {bad[i].item};
		assert_int_equal(sl_kline_props_parse(items, 1, known, values, &err), SL_EINVAL);
		assert_non_null(strstr(err.msg, bad[i].msg));
	}
	bool b = false;
	assert_int_equal(sl_kline_prop_bool("parse.key", "true", &b, &err), 0);
	assert_true(b);
	assert_int_equal(sl_kline_prop_bool("parse.key", NULL, &b, &err), 0);
	assert_true(b);
	assert_int_equal(sl_kline_prop_bool("parse.key", "yes", &b, &err), SL_EINVAL);
	assert_non_null(strstr(err.msg, "parse.key=yes"));
}

static void test_format(void **state)
{
	(void)state;
	sl_kline_fmt_t f;
	sl_kline_fmt_defaults(&f);
	sl_kline_rec_t rec = {"t", 2, 7, 1700000000000, "k", 1, "v", 1};
	sl_buf_t b = SL_BUF_INIT;
	sl_kline_format(&b, &f, &rec);
	assert_string_equal(b.data, "v\n");
	sl_buf_reset(&b);
	f.print_key = true;
	f.key_sep = ":";
	sl_kline_format(&b, &f, &rec);
	assert_string_equal(b.data, "k:v\n");
	sl_buf_reset(&b);
	rec.key = NULL;
	rec.value = NULL;
	sl_kline_format(&b, &f, &rec);
	assert_string_equal(b.data, "null:null\n");
	sl_buf_reset(&b);
	f.print_timestamp = f.print_partition = f.print_offset = true;
	f.print_value = false;
	rec.key = "k";
	sl_kline_format(&b, &f, &rec);
	assert_string_equal(b.data, "CreateTime:1700000000000:Partition:2:Offset:7:k\n");
	sl_buf_reset(&b);
	f.json = true;
	rec.value = "x\"y";
	rec.value_len = 3;
	sl_kline_format(&b, &f, &rec);
	assert_string_equal(b.data, "{\"topic\":\"t\",\"partition\":2,\"offset\":7,\"timestamp\":1700000000000,"
				    "\"key\":\"k\",\"value\":\"x\\\"y\"}\n");
	sl_buf_reset(&b);
	rec.key = NULL;
	rec.value = NULL;
	rec.timestamp = -1;
	sl_kline_format(&b, &f, &rec);
	assert_string_equal(b.data, "{\"topic\":\"t\",\"partition\":2,\"offset\":7,\"timestamp\":null,"
				    "\"key\":null,\"value\":null}\n");
	sl_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_rows),
		cmocka_unit_test(test_reader_nul_and_many_chunks),
		cmocka_unit_test(test_reader_too_long),
		cmocka_unit_test(test_split_key),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_props),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
