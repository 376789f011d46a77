/* conn.h: a client's bounded out-queue of shared frames, written in batches.
 *
 * How it fits: the publisher owns one sl_conn_t per WebSocket or SSE client,
 * embedded in its own client struct, on a socket taken over from the HTTP
 * server (sl_http_hijack). Fan-out pushes a reference to the one shared
 * sl_frame_t of each message (core/frame.h) and marks the connection dirty;
 * the context flushes every dirty connection once per loop turn from a
 * uv_check handle, i.e. after each burst of Redis replies has been read, so
 * the frames queued by one burst go out together: uv_try_write first (one
 * writev with many frames), then uv_write for what the socket did not take.
 * At rest a connection holds no buffer: four inline queue slots, no write
 * request, no read buffer (the HTTP server reads into one shared buffer).
 * Queue policy (the slow-consumer rule, docs/protocol.md): below the soft
 * limit every frame is queued. At or above it, an update replaces the queued
 * update of the same market that is not yet being written (conflation: the
 * client gets the newest value, per-market order is kept, the offsets show a
 * gap the client can ignore). Past the hard limit the queue is dropped and
 * the client closed with 1013 (WebSocket) or the stream ended (SSE).
 * Metrics: messages and bytes out, conflated and dropped frames, frames
 * queued, and the end-to-end latency from an update's `ts` to the moment
 * its frame was handed to the kernel.
 * TLS: on a socket the HTTP server serves with TLS (sl_http_stream_tls),
 * each batch goes through the connection's sl_tls_t instead (proto/tls.h):
 * encrypted at once, so the frames leave the queue at once; while more
 * than SL_CONN_TLS_HIGH bytes of ciphertext wait for the socket no frame
 * is taken, so a slow TLS client's backlog stays in this queue, where the
 * soft and hard limits see it.
 * References: libuv docs/src/stream.rst (uv_try_write, uv_write bufs),
 * redis networking.c checkClientOutputBufferLimits (soft/hard limits).
 * Non-goals: reading (the owner feeds client bytes to proto/ws.h).
 */
#ifndef SL_PROTO_CONN_H
#define SL_PROTO_CONN_H

#include "core/frame.h"
#include "core/metrics.h"
#include "proto/tls.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct sl_conn sl_conn_t;
typedef struct sl_conn_ctx sl_conn_ctx_t;

#define SL_CONN_INLINE_SLOTS 4
#define SL_CONN_TLS_HIGH 65536 /* ciphertext waiting for the socket before frames wait in the queue */

typedef enum { SL_CONN_OPEN = 0, SL_CONN_CLOSING, SL_CONN_CLOSED } sl_conn_state_t;

struct sl_conn {
	uv_stream_t *stream;   /* borrowed from the HTTP server; NULL once the socket closed */
	sl_tls_t *tls;         /* the socket's TLS session (borrowed), or NULL */
	sl_conn_ctx_t *ctx;
	sl_frame_t **q;        /* ring of frame refs (q == inline_q at rest) */
	sl_frame_t *inline_q[SL_CONN_INLINE_SLOTS];
	uint32_t qcap, qhead, qlen;
	uint32_t inflight;     /* frames at the head owned by the pending uv_write */
	uint32_t tls_writes;   /* TLS writes not yet called back (the struct outlives them) */
	size_t head_off;       /* bytes of the head frame already written */
	sl_conn_t *dirty_next;
	uint64_t closing_since_ms; /* when close began (the owner enforces a deadline) */
	uint64_t backlog_since_ms; /* when the queue reached the soft limit; 0: below it */
	uint16_t close_code;
	uint8_t wire;          /* sl_wire_t */
	uint8_t state;         /* sl_conn_state_t */
	bool dirty;
	bool write_pending;
	bool not_socket;       /* the stream is no socket (a pipe in a test): writes go through libuv */
	bool drain_then_close; /* close once the queue is written */
};

typedef struct sl_conn_limits {
	uint32_t soft; /* conflate updates from this queue length on */
	uint32_t hard; /* close the client past this many queued frames */
} sl_conn_limits_t;

/* The owner's callback: the socket is closed and no write is pending, so the
 * struct that embeds conn may be freed now. */
typedef void (*sl_conn_free_cb)(sl_conn_t *conn, void *arg);

struct sl_conn_ctx {
	uv_loop_t *loop;
	uv_check_t check;
	sl_conn_limits_t lim;
	sl_conn_t *dirty;
	sl_conn_free_cb free_cb;
	void *free_arg;
	uint64_t queued;       /* frames queued over all connections */
	sl_metric_t *m_msgs_out, *m_bytes_out, *m_conflated, *m_dropped, *m_latency, *m_slow_closed, *m_writev;
};

void sl_conn_ctx_init(sl_conn_ctx_t *ctx, uv_loop_t *loop, const sl_conn_limits_t *lim, sl_conn_free_cb free_cb,
		      void *arg);
/* Close the check handle (the loop must then run to finish the close). */
void sl_conn_ctx_close(sl_conn_ctx_t *ctx);
/* Write every dirty connection now (also done by the check handle each turn). */
void sl_conn_ctx_flush(sl_conn_ctx_t *ctx);

void sl_conn_init(sl_conn_t *conn, sl_conn_ctx_t *ctx, uv_stream_t *stream, sl_wire_t wire);

/* Queue a reference to fr under the limits (conflation, hard limit).
 * Returns 0 queued, 1 conflated into a queued update, SL_EFULL when the hard
 * limit closed the client, SL_ECLOSED when it is closing already. */
int sl_conn_push(sl_conn_t *conn, sl_frame_t *fr);
/* Queue a reference outside the limits (handshake head, acks, control frames). */
int sl_conn_push_ctl(sl_conn_t *conn, sl_frame_t *fr);

/* Begin closing. drain: write what is queued first (a `closed` channel);
 * else drop it (slow client, shutdown). WebSocket clients then get a close
 * frame with code and reason; the socket closes once that is written. */
void sl_conn_close(sl_conn_t *conn, uint16_t code, const char *reason, bool drain);
/* Close once the queue is written, adding no close frame (the WebSocket
 * reader already queued the reply to the client's close). */
void sl_conn_finish(sl_conn_t *conn);
/* True when the queue has stayed at or over the soft limit for limit_ms:
 * a client that reads nothing is conflated, then closed (1013) by its owner. */
bool sl_conn_is_stuck(const sl_conn_t *conn, uint64_t now_ms, uint64_t limit_ms);
/* Close the socket now, whatever is queued (a deadline passed, a read error). */
void sl_conn_abort(sl_conn_t *conn);
/* The owner's hijack on_close: the socket is gone. May call free_cb. */
void sl_conn_socket_closed(sl_conn_t *conn);

/* Write now (normally left to the check handle). */
void sl_conn_flush(sl_conn_t *conn);
static inline uint32_t sl_conn_queued(const sl_conn_t *conn) { return conn->qlen; }

#endif
