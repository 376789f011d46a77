/* kline.h: the text side of the Kafka console tools: stdin lines in,
 * record lines out.
 *
 * How it fits: `sluice produce` reads records with sl_kline_reader (big
 * read()s, lines found with memchr, so there is no syscall per line) and
 * splits keys with sl_kline_split_key; `sluice consume` formats each record
 * with sl_kline_format into one output buffer that it writes in large
 * chunks. Both parse Kafka's `--property name=value` flags with
 * sl_kline_props_parse. Everything here is pure (no Kafka handle, no
 * global state) so tests/unit/test_kafka_kline.c covers it row by row.
 * References: Kafka's LineMessageReader and DefaultMessageFormatter (flag
 * names, defaults, field order), kcat's -K/-D delimiters, RFC 8259 (JSON).
 * Non-goals: Kafka headers, Avro/JSON schema handling, reading from files
 * other than an fd. JSON strings are escaped by core/buf.h's
 * sl_buf_json_str (always valid JSON).
 */
#ifndef SL_KAFKA_KLINE_H
#define SL_KAFKA_KLINE_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A line reader over a file descriptor. The line a call returns stays valid
 * until the next call. A line ends at '\n' (not included); the last line
 * needs no '\n'. No other byte is touched, so records keep '\r' and NULs. */
typedef struct sl_kline_reader {
	int fd;
	char *buf;
	size_t cap;      /* current buffer size */
	size_t max_line; /* the buffer never grows past this: longer is an error */
	size_t start;    /* first unread byte */
	size_t end;      /* one past the last byte read */
	size_t scan;     /* bytes from start already known to hold no '\n' */
	bool eof;
	uint64_t lineno; /* number of the line last returned, from 1 */
	uint64_t bytes;  /* bytes read so far */
} sl_kline_reader_t;

void sl_kline_reader_init(sl_kline_reader_t *r, int fd, size_t bufsize, size_t max_line);
void sl_kline_reader_close(sl_kline_reader_t *r);
/* 1 with the next line, 0 at the end of input, SL_EIO (read failed) or
 * SL_ETOOBIG (a line longer than max_line) with err filled, SL_ECLOSED when
 * a signal handler interrupted read() (so a tool blocked on a terminal can
 * stop on SIGINT; install handlers without SA_RESTART). A later call goes
 * on reading. */
int sl_kline_next(sl_kline_reader_t *r, const char **line, size_t *len, sl_err_t *err);

/* Split at the first occurrence of sep (non-empty). 0 with key and value
 * filled, SL_ENOTFOUND when the line holds no separator. */
int sl_kline_split_key(const char *line, size_t len, const char *sep, size_t seplen, sl_iov_t *key,
		       sl_iov_t *value);

/* Resolve the escapes \t \n \r \\ \0 in a separator given on the command
 * line (typing a real tab in a shell is awkward); other text is kept.
 * Returns a new string (free() it) and its length in *len. */
char *sl_kline_unescape(const char *s, size_t *len);

/* Parse `--property` items "name=value" against a NULL-terminated list of
 * known names. values[i] (borrowed from items) is set for each known[i]
 * given, the last one winning; others stay as they were. SL_EINVAL with
 * err on an item without '=' or with an unknown name. */
int sl_kline_props_parse(const char *const *items, size_t n, const char *const *known, const char **values,
			 sl_err_t *err);
/* "true"/"false" of a property value into *out; SL_EINVAL naming the
 * property otherwise. NULL leaves *out unchanged. */
int sl_kline_prop_bool(const char *name, const char *value, bool *out, sl_err_t *err);

/* How consume prints a record. Text: Kafka's DefaultMessageFormatter
 * (fields in the order timestamp, partition, offset, key, value, each
 * followed by key_sep when another follows, then line_sep). JSON: one object
 * a line with topic, partition, offset, timestamp, key, value. */
typedef struct sl_kline_fmt {
	bool json;
	bool print_key, print_value, print_timestamp, print_partition, print_offset;
	const char *key_sep;  /* default "\t" */
	size_t key_sep_len;
	const char *line_sep; /* default "\n" */
	size_t line_sep_len;
	const char *null_literal; /* text of a null key or value, default "null" */
} sl_kline_fmt_t;

void sl_kline_fmt_defaults(sl_kline_fmt_t *f);

/* One record as the tool sees it: key or value NULL means null. */
typedef struct sl_kline_rec {
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp; /* ms, -1 when unknown */
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
} sl_kline_rec_t;

/* Append the record as the format says. */
void sl_kline_format(sl_buf_t *out, const sl_kline_fmt_t *f, const sl_kline_rec_t *rec);

#endif
