/* sse.c: Server-Sent Events heads and keep-alives (see sse.h).
 *
 * `X-Accel-Buffering: no` keeps nginx-style proxies from buffering the
 * stream; `Cache-Control: no-cache` keeps caches out of it. The preamble's
 * `retry:` field sets EventSource's reconnect delay.
 */
#include "proto/sse.h"

#include <string.h>

int sl_sse_check(const sl_http_req_t *req, const char **code, const char **message)
{
	if (strcmp(sl_http_req_method(req), "GET") != 0) {
		*code = "method_not_allowed";
		*message = "an event stream is opened with GET";
		return 405;
	}
	return 0;
}

void sl_sse_response_head(const char *cors_origin, uint32_t retry_ms, sl_buf_t *out)
{
	sl_buf_puts(out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
			 "Cache-Control: no-cache\r\nConnection: close\r\nX-Accel-Buffering: no\r\n");
	if (cors_origin && !strpbrk(cors_origin, "\r\n"))
		sl_buf_printf(out, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", cors_origin);
	sl_buf_printf(out, "\r\nretry: %u\n\n", (unsigned)retry_ms);
}

sl_frame_t *sl_sse_ping_frame(void)
{
	static const char ping[] = ": ping\n\n";
	return sl_frame_new_raw(ping, sizeof(ping) - 1);
}
