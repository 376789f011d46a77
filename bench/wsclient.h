/* wsclient.h: the WebSocket client connection that bench/ws-load.c and
 * bench/chaos-ws.c share: TCP connect, optional TLS, the HTTP upgrade,
 * frame reading, pongs, masked text frames, and closing.
 *
 * How it fits: a library of bench/ (the Makefile archives it and links it
 * into the bench programs; it is not a program). A program embeds one
 * wsc_t per client, fills in a wsc_cbs_t, and keeps its own protocol
 * (what a text frame means, what to count, when to reconnect) in its
 * callbacks. Everything runs on the caller's one libuv loop thread; reads
 * share one static buffer, so frames are handed over by pointer and are
 * valid only during the callback.
 * References: RFC 6455 sections 4.1 (the opening handshake), 5.2 (base
 * framing), 5.3 (client masking), 5.5 (control frames); OpenSSL's
 * memory BIOs (BIO_s_mem(3), SSL_set_bio(3)).
 * Non-goals: a client to trust (Sec-WebSocket-Accept is not checked; a
 * fixed key is sent), fragmented messages, binary frames, extensions and
 * compression, frames a client sends beyond text and pong; a client
 * of sluice proper (the product's WebSocket code is src/proto/ws.c).
 */
#ifndef SL_BENCH_WSCLIENT_H
#define SL_BENCH_WSCLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Where a connection is. IDLE: never connected, or closed and free to
 * connect again; CLOSING: wsc_close was called and libuv has not yet
 * closed the socket (wsc_connect must wait). */
typedef enum wsc_state {
	WSC_IDLE = 0,
	WSC_CONNECTING, /* TCP connect under way */
	WSC_UPGRADING,  /* connected: TLS handshake (with TLS), then HTTP upgrade */
	WSC_OPEN,       /* 101 received: frames flow */
	WSC_CLOSING,
} wsc_state_t;

/* Why a connection ended (end_cb's why). */
typedef enum wsc_end {
	WSC_END_CONNECT,     /* TCP connect failed; code: the libuv error, msg: uv_strerror */
	WSC_END_REFUSED,     /* the upgrade was answered without 101; msg: the status line */
	WSC_END_TLS,         /* the TLS handshake failed; msg: OpenSSL's error string */
	WSC_END_CLOSE_FRAME, /* the server sent a close frame; code: its status code, or 0 */
	WSC_END_EOF,         /* the server closed, a read failed, or TLS ended */
} wsc_end_t;

typedef struct wsc wsc_t;

/* The program's side. Every callback is optional but end_cb; each may
 * call wsc_close (and wsc_send_text while the connection is open). */
typedef struct wsc_cbs {
	/* TCP is connected (the upgrade, or the TLS handshake, starts). */
	void (*connected_cb)(wsc_t *ws);
	/* 101 Switching Protocols: the connection is open. */
	void (*open_cb)(wsc_t *ws);
	/* A whole text frame; now_ms is the wall clock (ms) when its bytes
	 * were read, the same for every frame of one read. */
	void (*text_cb)(wsc_t *ws, const char *s, size_t n, double now_ms);
	/* The connection ended; ws->state is still what it was when the end
	 * came. Once this returns the connection is closed (wsc_close) if
	 * the callback did not close it itself. */
	void (*end_cb)(wsc_t *ws, wsc_end_t why, int code, const char *msg);
} wsc_cbs_t;

struct wsc {
	uv_tcp_t tcp;
	uv_connect_t creq;
	SSL *ssl; /* with TLS: this connection's state, over memory BIOs */
	const wsc_cbs_t *cbs;
	void *data; /* the program's, e.g. its client */
	char *upgrade; /* the upgrade request, until it is sent */
	char *in;      /* a frame or a response head that arrived in parts */
	size_t inlen, incap;
	wsc_state_t state;
};

/* Prepare ws (once; it may then connect, close and connect again). */
void wsc_init(wsc_t *ws, const wsc_cbs_t *cbs, void *data);
/* Connect to sa and ask for the upgrade of GET path with Host: host;
 * with tls (from wsc_tls_ctx_new), over TLS. ws must be IDLE. 0, or a
 * negative libuv error: then no callback fires and ws is CLOSING. */
int wsc_connect(wsc_t *ws, uv_loop_t *loop, const struct sockaddr *sa, const char *host, const char *path,
		SSL_CTX *tls);
/* One masked text frame (at most 2048 bytes; a longer one is not sent). */
void wsc_send_text(wsc_t *ws, const char *p, size_t n);
/* Close the connection, whatever its state; no end_cb. ws becomes IDLE
 * once libuv has closed the socket. No-op when IDLE or CLOSING. */
void wsc_close(wsc_t *ws);
/* Free ws's buffers, once the loop has run its close callbacks. */
void wsc_cleanup(wsc_t *ws);

/* A client TLS context (TLS 1.2 or later, no buffers held between
 * records); ca: a PEM file to verify the server with, or NULL for no
 * verification. NULL when ca cannot be loaded. */
SSL_CTX *wsc_tls_ctx_new(const char *ca);

/* Write data to a stream as it is: at once when the socket takes it,
 * else from a copy (so data need not outlive the call). */
void wsc_write(uv_stream_t *s, const char *data, size_t len);
/* A libuv alloc callback handing out the one shared read buffer (each
 * read is consumed, or copied, before the next). */
void wsc_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);
/* The wall clock in milliseconds (what update timestamps are in). */
double wsc_wall_ms(void);

#endif
