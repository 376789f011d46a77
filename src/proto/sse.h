/* sse.h: Server-Sent Events responses for the publisher.
 *
 * How it fits: GET /v1/events/{id} is answered with sl_sse_response_head()
 * on a socket taken over from the HTTP server; every message then goes out as
 * the SSE form of its shared frame (core/frame.h: `data: <json>\n\n`, one
 * `data:` line per payload line). Keep-alives are comment lines built once
 * (sl_sse_ping_frame). The response has no length: it ends when the
 * publisher closes the connection (channel closed, slow client, shutdown),
 * and EventSource then reconnects by itself after the `retry` delay.
 * References: WHATWG HTML Living Standard, "Server-sent events" (9.2).
 * Non-goals: event ids and Last-Event-ID replay (clients resume by market
 * offsets, docs/protocol.md), chunked encoding (close-delimited is simpler
 * and every EventSource supports it).
 */
#ifndef SL_PROTO_SSE_H
#define SL_PROTO_SSE_H

#include "core/buf.h"
#include "core/frame.h"
#include "proto/http.h"

#include <stdint.h>

/* 0 when req may open an event stream (GET or HEAD-less GET only); else the
 * HTTP status to answer (405) and *code / *message set. */
int sl_sse_check(const sl_http_req_t *req, const char **code, const char **message);
/* The 200 head and the stream preamble (reconnect delay). cors_origin: the
 * Origin to allow, or NULL. */
void sl_sse_response_head(const char *cors_origin, uint32_t retry_ms, sl_buf_t *out);
/* A keep-alive comment (": ping\n\n"), to share among SSE clients. */
sl_frame_t *sl_sse_ping_frame(void);

#endif
