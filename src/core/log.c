/* log.c: the line writer of log.h.
 *
 * A line is built in one buffer and written with one write(2) to stderr,
 * so lines of several threads never mix.
 * logfmt: a value that is a plain token (printable ASCII without space,
 * quote, '=' or backslash) goes out bare; anything else, and the empty
 * string, as a JSON string literal, so a parser of either format reads it
 * back. JSON: one object, strings through sl_buf_json_str.
 * The settings are plain globals: written once at start (before any thread
 * exists), only read afterwards.
 */
#include "core/log.h"

#include "core/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

sl_log_level_t sl_log_min_level = SL_LOG_INFO;
static const char *log_role = "sluice";
static bool log_json;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

static const char *const key_names[] = {
#define SL_LOG__NAME(k, help) #k,
	SL_LOG_KEYS(SL_LOG__NAME)
#undef SL_LOG__NAME
};

const char *sl_log_key_name(sl_log_key_t key)
{
	return key < SL_LK__END ? key_names[key] : "?";
}

int sl_log_setup(const char *role, const char *level, const char *format)
{
	if (level) {
		int found = -1;
		for (int i = 0; i <= SL_LOG_OFF; i++)
			if (strcmp(level, level_names[i]) == 0)
				found = i;
		if (found < 0)
			return -1;
		sl_log_min_level = (sl_log_level_t)found;
	}
	if (format) {
		if (strcmp(format, "json") == 0)
			log_json = true;
		else if (strcmp(format, "logfmt") == 0)
			log_json = false;
		else
			return -1;
	}
	if (role)
		log_role = role;
	return 0;
}

void sl_log_set_fd(int fd)
{
	log_fd = fd < 0 ? 2 : fd;
}

typedef struct line {
	sl_buf_t b;
} line_t;

static void put_time(sl_buf_t *b)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	sl_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		      tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

static bool plain_token(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\')
			return false;
	}
	return true;
}

static void put_value(sl_buf_t *b, const sl_log_kv_t *kv)
{
	switch (kv->type) {
	case SL_LOG_T_STR:
		if (!kv->v.s.p)
			sl_buf_puts(b, log_json ? "null" : "");
		else if (!log_json && plain_token(kv->v.s.p, kv->v.s.n))
			sl_buf_append(b, kv->v.s.p, kv->v.s.n);
		else
			sl_buf_json_str(b, kv->v.s.p, kv->v.s.n);
		break;
	case SL_LOG_T_INT: sl_buf_printf(b, "%lld", kv->v.i); break;
	case SL_LOG_T_UINT: sl_buf_printf(b, "%llu", kv->v.u); break;
	case SL_LOG_T_DBL:
		/* JSON has no NaN or infinity: those go out as strings. */
		if (kv->v.d != kv->v.d || kv->v.d > 1e308 || kv->v.d < -1e308)
			sl_buf_printf(b, log_json ? "\"%g\"" : "%g", kv->v.d);
		else
			sl_buf_printf(b, "%g", kv->v.d);
		break;
	case SL_LOG_T_BOOL: sl_buf_puts(b, kv->v.b ? "true" : "false"); break;
	}
}

static void emit(sl_buf_t *b)
{
	/* One write: lines of concurrent threads never interleave. A short
	 * write (a full pipe) sends the rest after, as best it can. */
	size_t off = 0;
	while (off < b->len) {
		ssize_t n = write(log_fd, b->data + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

static void line_begin(line_t *l, sl_log_level_t lvl, const char *ev)
{
	l->b = (sl_buf_t)SL_BUF_INIT;
	sl_buf_reserve(&l->b, 256);
	if (log_json) {
		sl_buf_puts(&l->b, "{\"ts\":\"");
		put_time(&l->b);
		sl_buf_printf(&l->b, "\",\"lvl\":\"%s\",\"role\":", level_names[lvl]);
		sl_buf_json_str(&l->b, log_role, strlen(log_role));
		sl_buf_puts(&l->b, ",\"ev\":");
		sl_buf_json_str(&l->b, ev, strlen(ev));
	} else {
		sl_buf_puts(&l->b, "ts=");
		put_time(&l->b);
		sl_buf_printf(&l->b, " lvl=%s role=%s ev=%s", level_names[lvl], log_role, ev);
	}
}

static void line_end(line_t *l)
{
	sl_buf_puts(&l->b, log_json ? "}\n" : "\n");
	emit(&l->b);
	sl_buf_free(&l->b);
}

/* A channel id is the capability to read its stream (docs/security.md):
 * above debug level only its first SL_LOG_ID_SHOWN characters go out, and
 * "...", enough to find it in a debug log, never the capability itself.
 * Done here, by key, so that no call site can forget it. */
static sl_log_kv_t shortened(sl_log_level_t lvl, const sl_log_kv_t *kv, char out[SL_LOG_ID_SHOWN + 4])
{
	if (lvl == SL_LOG_DEBUG || kv->key != SL_LK_channel || kv->type != SL_LOG_T_STR || !kv->v.s.p ||
	    kv->v.s.n <= SL_LOG_ID_SHOWN)
		return *kv;
	memcpy(out, kv->v.s.p, SL_LOG_ID_SHOWN);
	memcpy(out + SL_LOG_ID_SHOWN, "...", 4);
	return sl_log__sn(kv->key, out, SL_LOG_ID_SHOWN + 3);
}

void sl_log_write(sl_log_level_t lvl, const char *ev, const sl_log_kv_t *kv)
{
	line_t l;
	line_begin(&l, lvl, ev);
	for (; kv->key != SL_LK__END; kv++) {
		char idbuf[SL_LOG_ID_SHOWN + 4];
		sl_log_kv_t shown = shortened(lvl, kv, idbuf);
		const char *k = sl_log_key_name(kv->key);
		if (log_json) {
			sl_buf_printf(&l.b, ",\"%s\":", k);
		} else {
			sl_buf_putc(&l.b, ' ');
			sl_buf_puts(&l.b, k);
			sl_buf_putc(&l.b, '=');
		}
		put_value(&l.b, &shown);
	}
	line_end(&l);
}
