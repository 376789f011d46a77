/* kline.c: stdin lines in, record lines out (see kline.h).
 *
 * The reader keeps one buffer: it scans for '\n' with memchr and only calls
 * read() when the unread bytes hold no complete line, moving the partial
 * line to the front first; the buffer doubles (up to max_line) for a line
 * longer than it. The formatter appends to a caller's sl_buf_t so the
 * consumer writes many records per write().
 */
#include "kafka/kline.h"

#include "core/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sl_kline_reader_init(sl_kline_reader_t *r, int fd, size_t bufsize, size_t max_line)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->cap = bufsize < 16 ? 16 : bufsize;
	r->max_line = max_line < r->cap ? r->cap : max_line;
	r->buf = sl_xmalloc(r->cap);
}

void sl_kline_reader_close(sl_kline_reader_t *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Make room after end: slide the unread bytes to the front, or grow. */
static int make_room(sl_kline_reader_t *r, sl_err_t *err)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end < r->cap)
		return 0;
	/* Room for a line of max_line bytes and its '\n' (or the end of input,
	 * which only a read that returns 0 can tell). */
	size_t most = r->max_line + 1;
	if (r->cap >= most)
		return sl_err_set(err, SL_ETOOBIG, false, "line %" PRIu64 " is longer than %zu bytes", r->lineno + 1,
				  r->max_line);
	size_t cap = r->cap * 2 > most ? most : r->cap * 2;
	r->buf = sl_xrealloc(r->buf, cap);
	r->cap = cap;
	return 0;
}

int sl_kline_next(sl_kline_reader_t *r, const char **line, size_t *len, sl_err_t *err)
{
	for (;;) {
		char *from = r->buf + r->start + r->scan;
		char *nl = memchr(from, '\n', r->end - r->start - r->scan);
		if (nl) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			r->start += *len + 1;
			r->scan = 0;
			r->lineno++;
			return 1;
		}
		r->scan = r->end - r->start;
		if (r->eof) {
			if (r->end == r->start)
				return 0;
			/* The last line has no '\n'. */
			*line = r->buf + r->start;
			*len = r->end - r->start;
			r->start = r->end;
			r->scan = 0;
			r->lineno++;
			return 1;
		}
		int rc = make_room(r, err);
		if (rc)
			return rc;
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0) {
			if (errno == EINTR)
				return sl_err_set(err, SL_ECLOSED, false, "reading input: interrupted");
			return sl_err_set(err, SL_EIO, false, "reading input: %s", strerror(errno));
		}
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
		r->bytes += (uint64_t)n;
	}
}

int sl_kline_split_key(const char *line, size_t len, const char *sep, size_t seplen, sl_iov_t *key,
		       sl_iov_t *value)
{
	const char *at = seplen ? memmem(line, len, sep, seplen) : NULL;
	if (!at)
		return SL_ENOTFOUND;
	key->base = line;
	key->len = (size_t)(at - line);
	value->base = at + seplen;
	value->len = len - key->len - seplen;
	return 0;
}

char *sl_kline_unescape(const char *s, size_t *len)
{
	size_t n = strlen(s), o = 0;
	char *out = sl_xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		const char *from = "tnr\\0", *to = "\t\n\r\\";
		const char *hit = s[i] == '\\' && i + 1 < n ? strchr(from, s[i + 1]) : NULL;
		if (hit && *hit) {
			out[o++] = hit - from == 4 ? '\0' : to[hit - from];
			i++;
			continue;
		}
		out[o++] = s[i];
	}
	out[o] = '\0';
	*len = o;
	return out;
}

int sl_kline_props_parse(const char *const *items, size_t n, const char *const *known, const char **values,
			 sl_err_t *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(items[i], '=');
		if (!eq)
			return sl_err_set(err, SL_EINVAL, false, "bad --property '%s': expected name=value", items[i]);
		size_t nlen = (size_t)(eq - items[i]);
		size_t k = 0;
		while (known[k] && !(strlen(known[k]) == nlen && !strncmp(known[k], items[i], nlen)))
			k++;
		if (!known[k]) {
			sl_buf_t names = SL_BUF_INIT;
			for (size_t j = 0; known[j]; j++)
				sl_buf_printf(&names, "%s%s", j ? ", " : "", known[j]);
			sl_err_set(err, SL_EINVAL, false, "unknown --property '%.*s' (known: %s)", (int)nlen, items[i],
				   names.data ? names.data : "none");
			sl_buf_free(&names);
			return SL_EINVAL;
		}
		values[k] = eq + 1;
	}
	return 0;
}

int sl_kline_prop_bool(const char *name, const char *value, bool *out, sl_err_t *err)
{
	if (!value)
		return 0;
	if (!strcmp(value, "true"))
		*out = true;
	else if (!strcmp(value, "false"))
		*out = false;
	else
		return sl_err_set(err, SL_EINVAL, false, "bad --property %s=%s: expected true or false", name, value);
	return 0;
}

void sl_kline_fmt_defaults(sl_kline_fmt_t *f)
{
	memset(f, 0, sizeof(*f));
	f->print_value = true;
	f->key_sep = "\t";
	f->key_sep_len = 1;
	f->line_sep = "\n";
	f->line_sep_len = 1;
	f->null_literal = "null";
}

static void json_rec(sl_buf_t *out, const sl_kline_rec_t *rec)
{
	sl_buf_puts(out, "{\"topic\":");
	sl_buf_json_str(out, rec->topic, strlen(rec->topic));
	sl_buf_printf(out, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"timestamp\":", rec->partition,
		      rec->offset);
	if (rec->timestamp >= 0)
		sl_buf_printf(out, "%" PRId64, rec->timestamp);
	else
		sl_buf_puts(out, "null");
	sl_buf_puts(out, ",\"key\":");
	if (rec->key)
		sl_buf_json_str(out, rec->key, rec->key_len);
	else
		sl_buf_puts(out, "null");
	sl_buf_puts(out, ",\"value\":");
	if (rec->value)
		sl_buf_json_str(out, rec->value, rec->value_len);
	else
		sl_buf_puts(out, "null");
	sl_buf_puts(out, "}\n");
}

void sl_kline_format(sl_buf_t *out, const sl_kline_fmt_t *f, const sl_kline_rec_t *rec)
{
	if (f->json) {
		json_rec(out, rec);
		return;
	}
	/* Fields left to print decide whether a separator follows. */
	int left = f->print_timestamp + f->print_partition + f->print_offset + f->print_key + f->print_value;
	if (f->print_timestamp) {
		if (rec->timestamp >= 0)
			sl_buf_printf(out, "CreateTime:%" PRId64, rec->timestamp);
		else
			sl_buf_puts(out, "NO_TIMESTAMP");
		if (--left)
			sl_buf_append(out, f->key_sep, f->key_sep_len);
	}
	if (f->print_partition) {
		sl_buf_printf(out, "Partition:%" PRId32, rec->partition);
		if (--left)
			sl_buf_append(out, f->key_sep, f->key_sep_len);
	}
	if (f->print_offset) {
		sl_buf_printf(out, "Offset:%" PRId64, rec->offset);
		if (--left)
			sl_buf_append(out, f->key_sep, f->key_sep_len);
	}
	if (f->print_key) {
		if (rec->key)
			sl_buf_append(out, rec->key, rec->key_len);
		else
			sl_buf_puts(out, f->null_literal);
		if (--left)
			sl_buf_append(out, f->key_sep, f->key_sep_len);
	}
	if (f->print_value) {
		if (rec->value)
			sl_buf_append(out, rec->value, rec->value_len);
		else
			sl_buf_puts(out, f->null_literal);
	}
	sl_buf_append(out, f->line_sep, f->line_sep_len);
}
