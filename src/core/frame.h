/* frame.h: one immutable, refcounted message shared by every recipient.
 *
 * How it fits: the publisher turns each Redis pub/sub payload into one
 * sl_frame_t; every connection that must receive it queues a reference
 * (proto/conn.h) and drops it once the bytes are on the socket; the last
 * unref frees it. The payload is copied once, never per subscriber. The
 * WebSocket header (RFC 6455 section 5.2, server frames are not masked) is
 * built with the frame; the SSE form (WHATWG HTML "server-sent events",
 * `data: <line>\n` per line, then a blank line) is zero-copy when the payload
 * has no line break and built once, lazily, when it has. Writers get the wire
 * bytes as a short list of sl_iov_t (header, payload, trailer) so one writev
 * sends many frames without copying.
 * The frame also records what the fan-out path needs without a JSON parse:
 * the message type, the market id of an update (the conflation key) and its
 * `ts` (for the end-to-end latency histogram); the reducer writes the keys
 * in a fixed order (docs/protocol.md), which makes this a prefix match.
 * Refcounts are plain ints: a frame lives on one loop thread. The number of
 * live frames is counted per thread so tests (and each publisher loop at its
 * end) can assert that nothing leaked.
 * Non-goals: fragmentation, compression (permessage-deflate), thread safety.
 */
#ifndef SL_CORE_FRAME_H
#define SL_CORE_FRAME_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	SL_FRAME_OTHER = 0, /* a JSON message we do not look into (error, subscribed) */
	SL_FRAME_UPDATE,    /* {"type":"update","market":...}: may be conflated */
	SL_FRAME_SNAPSHOT,
	SL_FRAME_CLOSED,    /* {"type":"closed",...}: the channel ends after it */
	SL_FRAME_CONTROL,   /* a WebSocket control frame (ping, pong, close) */
	SL_FRAME_RAW,       /* bytes written as they are on every wire (HTTP heads) */
} sl_frame_kind_t;

typedef enum { SL_WIRE_WS = 0, SL_WIRE_SSE = 1 } sl_wire_t;

#define SL_FRAME_MARKET_MAX 64
#define SL_FRAME_MAX_IOV 3

typedef struct sl_frame {
	int refs;
	uint8_t kind;          /* sl_frame_kind_t */
	uint8_t ws_hdr_len;
	uint8_t market_len;    /* 0: no market (not an update, or id too long) */
	uint8_t ws_hdr[10];
	char market[SL_FRAME_MARKET_MAX];
	int64_t ts;            /* the update's `ts` in ms, 0 when absent */
	char *sse;             /* SSE encoding when the payload has line breaks */
	size_t sse_len;
	size_t len;
	char data[];           /* the payload (NUL-terminated, not counted) */
} sl_frame_t;

/* A text message (one JSON object): classified, WS header built. Copies data. */
sl_frame_t *sl_frame_new(const char *data, size_t len);
/* A WebSocket frame with this opcode (0x8 close, 0x9 ping, 0xA pong, 0x1 text). */
sl_frame_t *sl_frame_new_ws(uint8_t opcode, const char *data, size_t len);
/* Bytes sent verbatim whatever the wire (an HTTP response head). */
sl_frame_t *sl_frame_new_raw(const char *data, size_t len);
/* A WebSocket close frame: 2-byte code + reason (RFC 6455 section 5.5.1). */
sl_frame_t *sl_frame_new_close(uint16_t code, const char *reason);

sl_frame_t *sl_frame_ref(sl_frame_t *fr);
void sl_frame_unref(sl_frame_t *fr);

/* Fill iov (at least SL_FRAME_MAX_IOV entries) with the wire bytes; returns
 * the count. SSE skips control frames (returns 0). */
size_t sl_frame_iov(sl_frame_t *fr, sl_wire_t wire, sl_iov_t *iov);
/* Total wire bytes for this wire format. */
size_t sl_frame_wire_len(sl_frame_t *fr, sl_wire_t wire);
/* True when a and b are updates of the same market (conflatable). */
bool sl_frame_same_market(const sl_frame_t *a, const sl_frame_t *b);

/* Write a WebSocket frame header for an unmasked FIN frame; returns its length (2..10). */
size_t sl_frame_ws_header(uint8_t *out, uint8_t opcode, uint64_t len);

/* Frames alive on the calling thread (tests assert 0 at teardown). */
long sl_frame_live(void);

#endif
