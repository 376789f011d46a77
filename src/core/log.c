/* log.c: the logfmt/JSON line writer of log.h.
 *
 * JSON mode re-parses the caller's logfmt pairs (key=value, value bare or
 * double-quoted) into an object, so call sites stay one format string.
 */
#include "core/log.h"

#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

sl_log_level_t sl_log_min_level = SL_LOG_INFO;
static const char *log_role = "sluice";
static bool log_json;

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

int sl_log_setup(const char *role, const char *level, const char *format)
{
	if (role)
		log_role = role;
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
	return 0;
}

static void put_time(sl_buf_t *b)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	sl_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		      (int)(tv.tv_usec / 1000));
}

/* Convert "k=v k2=\"a b\"" into ,"k":"v","k2":"a b" appended to out. */
static void logfmt_to_json(sl_buf_t *out, const char *s)
{
	while (*s) {
		while (*s == ' ')
			s++;
		const char *k = s;
		while (*s && *s != '=' && *s != ' ')
			s++;
		size_t klen = (size_t)(s - k);
		if (!klen)
			break;
		sl_buf_putc(out, ',');
		sl_buf_json_str(out, k, klen);
		sl_buf_putc(out, ':');
		if (*s != '=') {
			sl_buf_puts(out, "true");
			continue;
		}
		s++;
		if (*s == '"') {
			sl_buf_t v = SL_BUF_INIT;
			s++;
			while (*s && *s != '"') {
				if (*s == '\\' && s[1])
					s++;
				sl_buf_putc(&v, *s++);
			}
			if (*s == '"')
				s++;
			sl_buf_json_str(out, v.data ? v.data : "", v.len);
			sl_buf_free(&v);
		} else {
			const char *v = s;
			while (*s && *s != ' ')
				s++;
			sl_buf_json_str(out, v, (size_t)(s - v));
		}
	}
}

void sl_log_write(sl_log_level_t lvl, const char *ev, const char *fmt, ...)
{
	sl_buf_t pairs = SL_BUF_INIT, line = SL_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sl_buf_vprintf(&pairs, fmt, ap);
	va_end(ap);

	if (log_json) {
		sl_buf_puts(&line, "{\"ts\":\"");
		put_time(&line);
		sl_buf_printf(&line, "\",\"lvl\":\"%s\",\"role\":\"%s\",\"ev\":", level_names[lvl], log_role);
		sl_buf_json_str(&line, ev, strlen(ev));
		if (pairs.len)
			logfmt_to_json(&line, pairs.data);
		sl_buf_puts(&line, "}\n");
	} else {
		sl_buf_puts(&line, "ts=");
		put_time(&line);
		sl_buf_printf(&line, " lvl=%s role=%s ev=%s", level_names[lvl], log_role, ev);
		if (pairs.len) {
			sl_buf_putc(&line, ' ');
			sl_buf_append(&line, pairs.data, pairs.len);
		}
		sl_buf_putc(&line, '\n');
	}
	fwrite(line.data, 1, line.len, stderr);
	sl_buf_free(&pairs);
	sl_buf_free(&line);
}
