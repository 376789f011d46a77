/* err.c: fills sl_err_t (see err.h). */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

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
