/* err.c: fills sl_err_t and names error codes (see err.h). */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sl_err_set(sl_err_t *err, int code, bool retriable, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		err->retriable = retriable;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *sl_err_name(int code)
{
	switch (code) {
	case SL_OK: return "ok";
	case SL_EINVAL: return "invalid";
	case SL_ENOTFOUND: return "not_found";
	case SL_ETOOBIG: return "too_large";
	case SL_ETIMEDOUT: return "timed_out";
	case SL_EUNAVAIL: return "unavailable";
	case SL_EKAFKA: return "kafka_error";
	case SL_EREDIS: return "redis_error";
	case SL_EIO: return "io_error";
	case SL_EFULL: return "queue_full";
	case SL_ECLOSED: return "closed";
	default: return code < 0 && code > -4096 ? strerror(-code) : "error";
	}
}
