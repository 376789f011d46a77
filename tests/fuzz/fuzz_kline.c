/* fuzz_kline.c: libFuzzer target: the Kafka console tools' text side
 * (src/kafka/kline.c): `sluice produce` reading lines from stdin and
 * splitting keys, `sluice consume` printing records whose key and value
 * are whatever bytes a producer put into Kafka.
 *
 * The first input byte picks the reader's buffer size (1..64 bytes, so
 * every line crosses reads and buffer growth) and its line limit (16
 * bytes or 1 MiB; never below the first buffer, as kline.c says); the rest
 * is the input, read through a pipe.
 * Checked: the lines returned, joined with '\n', are the input exactly
 * (but for one final '\n'), unless a line over the limit is refused with
 * an error, and then every line before it was returned whole; each line
 * splits at its first separator into parts that rebuild it. Each line
 * (then the rest of the input) is printed as a record's key and value in
 * JSON mode: the output is one valid JSON object (jansson reads it back)
 * whose key and value are the bytes given (or U+FFFD for bytes that are
 * not UTF-8); and in text mode the output is exactly the fields and
 * separators.
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/kline/.
 */
#include "kafka/kline.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether s (n bytes) is valid UTF-8 without NUL-free assumptions. */
static bool utf8(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n); /* jansson checks UTF-8 */
	bool ok = j != NULL;
	json_decref(j);
	return ok;
}

static void print_json(const char *k, size_t kn, const char *v, size_t vn)
{
	sl_kline_fmt_t f;
	sl_kline_fmt_defaults(&f);
	f.json = true;
	sl_kline_rec_t rec = {"markets", 3, 42, 1700000000000, k, kn, v, vn};
	sl_buf_t out = SL_BUF_INIT;
	sl_kline_format(&out, &f, &rec);
	if (!out.len || out.data[out.len - 1] != '\n' || memchr(out.data, '\n', out.len - 1))
		abort(); /* one line */
	json_error_t jerr;
	json_t *o = json_loadb(out.data, out.len - 1, JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(o))
		abort();
	json_t *jk = json_object_get(o, "key"), *jv = json_object_get(o, "value");
	if (!json_is_string(jk) || !json_is_string(jv))
		abort();
	if (utf8(k, kn) && (json_string_length(jk) != kn || memcmp(json_string_value(jk), k, kn)))
		abort();
	if (utf8(v, vn) && (json_string_length(jv) != vn || memcmp(json_string_value(jv), v, vn)))
		abort();
	json_decref(o);
	sl_buf_free(&out);
}

static void print_text(const char *k, size_t kn, const char *v, size_t vn)
{
	sl_kline_fmt_t f;
	sl_kline_fmt_defaults(&f);
	f.print_key = true;
	sl_kline_rec_t rec = {"markets", 0, 0, -1, k, kn, v, vn};
	sl_buf_t out = SL_BUF_INIT, want = SL_BUF_INIT;
	sl_kline_format(&out, &f, &rec);
	sl_buf_append(&want, k, kn);
	sl_buf_append(&want, f.key_sep, f.key_sep_len);
	sl_buf_append(&want, v, vn);
	sl_buf_append(&want, f.line_sep, f.line_sep_len);
	if (out.len != want.len || memcmp(out.data, want.data, out.len))
		abort();
	sl_buf_free(&out);
	sl_buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 60000) /* the pipe must hold it all: one thread writes and reads */
		return 0;
	size_t bufsize = 1 + (data[0] & 63), max_line = (data[0] & 64) ? 16 : 1 << 20;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	int p[2];
	if (pipe(p) < 0)
		abort();
	if (len && write(p[1], in, len) != (ssize_t)len)
		abort();
	close(p[1]);
	sl_kline_reader_t r;
	sl_kline_reader_init(&r, p[0], bufsize, max_line);
	max_line = r.max_line; /* never below the first buffer's size */
	size_t off = 0;
	const char *line;
	size_t n;
	sl_err_t err = {0};
	int rc;
	while ((rc = sl_kline_next(&r, &line, &n, &err)) == 1) {
		/* The line is the input's next bytes, up to a '\n' or the end. */
		if (n > len - off || memcmp(line, in + off, n) || memchr(line, '\n', n) || n > max_line)
			abort();
		off += n;
		if (off < len && in[off] != '\n')
			abort();
		off += off < len;
		sl_iov_t key, value;
		if (sl_kline_split_key(line, n, ":", 1, &key, &value) == 0) {
			if (key.len + 1 + value.len != n || memchr(key.base, ':', key.len))
				abort();
			print_json(key.base, key.len, value.base, value.len);
			print_text(key.base, key.len, value.base, value.len);
		} else if (memchr(line, ':', n)) {
			abort();
		}
	}
	if (rc == 0 && off != len)
		abort(); /* the end came before the input's */
	if (rc != 0 && (rc != SL_ETOOBIG || !err.msg[0] || max_line >= len))
		abort();
	sl_kline_reader_close(&r);
	close(p[0]);
	print_json(in, len, in, len / 2);
	return 0;
}
