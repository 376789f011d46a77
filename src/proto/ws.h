/* ws.h: RFC 6455 WebSocket pieces for the publisher: the opening handshake
 * and the reader of client frames.
 *
 * How it fits: the publisher checks a GET /v1/stream/{id} request with
 * sl_ws_handshake_check() before anything else (a bad handshake changes
 * nothing and gets a JSON error), answers with the 101 head from
 * sl_ws_handshake_response(), and then feeds every byte the client sends to
 * sl_ws_reader_feed(). Server frames are not built here: each message is
 * encoded once for all its recipients by core/frame.h.
 * The reader uses wslay's event API for client frames (masking, control
 * frames, fragmentation, UTF-8 validation of text and close reasons, size
 * limits, and the close codes of RFC 6455 section 7.4.1). wslay keeps a
 * receive buffer of several KiB per context, so the reader exists only while
 * a client frame or fragmented message is incomplete: a small prescan of the
 * frame headers tells when the input ends on a message boundary, and the
 * context is freed then. An idle connection holds no reader at all.
 * References: RFC 6455 sections 1.3, 4.2, 5, 7.4.
 * Non-goals: extensions (permessage-deflate), subprotocols, client side.
 */
#ifndef SL_PROTO_WS_H
#define SL_PROTO_WS_H

#include "core/buf.h"
#include "proto/http.h"

#include <stddef.h>
#include <stdint.h>

/* Why a handshake was refused: HTTP status, stable code, readable message. */
typedef struct sl_ws_reject {
	int status;
	const char *code;
	const char *message;
} sl_ws_reject_t;

/* 0 when req is a valid WebSocket opening handshake (GET, Upgrade:
 * websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a key of 16
 * base64 bytes); else -1 with rej filled (405, 426 or 400). */
int sl_ws_handshake_check(const sl_http_req_t *req, sl_ws_reject_t *rej);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), 28 chars + NUL. */
void sl_ws_accept_key(const char *key, char out[29]);
/* The whole 101 response head for this key; extra: header lines or NULL. */
void sl_ws_handshake_response(const char *key, const char *extra, sl_buf_t *out);

/* ---- client frames ---- */
typedef struct sl_ws_reader sl_ws_reader_t;

typedef struct sl_ws_reader_cbs {
	/* A complete text or binary message (the publisher ignores them). */
	void (*on_message)(void *ud, uint8_t opcode, const uint8_t *data, size_t len);
	/* Bytes wslay wants sent (pong replies, the close reply): queue them
	 * under the client's queue limits (proto/conn.h sl_conn_push), so a
	 * client that sends pings and reads nothing is bounded like any other. */
	void (*on_output)(void *ud, const uint8_t *data, size_t len);
	/* A ping arrived (may be NULL): the owner rate-limits them (1008). */
	void (*on_ping)(void *ud);
} sl_ws_reader_cbs_t;

enum {
	SL_WS_OPEN = 0,    /* keep reading */
	SL_WS_CLOSING = 1, /* a close frame was queued (peer's close or a protocol error) */
};

/* Feed bytes from the client. *rd is created on demand and freed (set to
 * NULL) whenever the input ends on a message boundary. max_message bounds a
 * client message (over it: close 1009). Returns SL_WS_OPEN, SL_WS_CLOSING
 * (flush the output, then close the socket) or a negative error (close now).
 * *close_code gets the code sent in the close frame. */
int sl_ws_reader_feed(sl_ws_reader_t **rd, const sl_ws_reader_cbs_t *cbs, void *ud, size_t max_message,
		      const char *data, size_t len, uint16_t *close_code);
void sl_ws_reader_free(sl_ws_reader_t *rd);
/* Live readers on the calling thread (for tests and the memory figures). */
long sl_ws_reader_live(void);

#endif
