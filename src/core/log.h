/* log.h: one line per event, logfmt by default, JSON on request.
 *
 *   ts=2026-11-26T02:20:05.123Z lvl=warn role=publisher ev=client_evicted conn=8812 reason=obuf_hard
 *
 * Callers name the event (`ev`, listed in docs/logging.md) and pass the rest
 * as logfmt key=value pairs; values with spaces must be quoted by the caller
 * (use %q-like sl_log_quote, or keep values simple). The level is checked
 * before anything is formatted (redis serverLog). Logs go to stderr: servers
 * log there, tools keep stdout for data.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdbool.h>

typedef enum { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR, SL_LOG_OFF } sl_log_level_t;

/* Configure once at start; role appears on every line. Returns -1 on a bad name. */
int sl_log_setup(const char *role, const char *level, const char *format);
extern sl_log_level_t sl_log_min_level;

void sl_log_write(sl_log_level_t lvl, const char *ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define SL_LOG(lvl, ev, ...) do { \
	if ((lvl) >= sl_log_min_level) sl_log_write((lvl), (ev), __VA_ARGS__); \
} while (0)
#define sl_log_debug(ev, ...) SL_LOG(SL_LOG_DEBUG, ev, __VA_ARGS__)
#define sl_log_info(ev, ...)  SL_LOG(SL_LOG_INFO, ev, __VA_ARGS__)
#define sl_log_warn(ev, ...)  SL_LOG(SL_LOG_WARN, ev, __VA_ARGS__)
#define sl_log_error(ev, ...) SL_LOG(SL_LOG_ERROR, ev, __VA_ARGS__)

#endif
