/* http.h: the HTTP/1.1 server every sluice role runs (API, publisher,
 * REST proxy, and the /healthz /readyz /metrics endpoints of the others).
 *
 * How it fits: one server per libuv loop; connections embed their uv_tcp_t.
 * http-parser (libhttp-parser) parses requests; everything around it is ours:
 * keep-alive, pipelining (one request at a time, in order, processed in a
 * loop, never by recursion), chunked request bodies, and limits on what one
 * client may cost (docs/operations.md, "Limits"): the size of a request
 * head and body, a deadline for a complete head and for a body, an idle
 * timeout between requests, the response bytes queued for a client that
 * does not read (past it the server stops reading and parsing until the
 * client drains), connections in all and per client address. A handler
 * answers at once or later (long polls): the request stays valid until it
 * is answered or its abort callback fires.
 * WebSocket and SSE take the socket over with sl_http_hijack(); from then on
 * the caller writes to the stream itself (the publisher shares one encoded
 * frame among many sockets) and this module only forwards reads and closes.
 * TLS: given a context (sl_http_server_set_tls, or tls-cert-file and
 * tls-key-file in the settings), every connection speaks TLS (proto/tls.h):
 * the parser sees plaintext, answers are encrypted, and a socket taken over
 * keeps its TLS session (sl_http_stream_tls) for the caller to write
 * through. The handshake must finish within the head deadline.
 * References: RFC 9112 (HTTP/1.1 message syntax), RFC 8446 (TLS 1.3).
 * Non-goals: HTTP/2, compression.
 */
#ifndef SL_PROTO_HTTP_H
#define SL_PROTO_HTTP_H

#include "core/buf.h"
#include "core/err.h"
#include "proto/tls.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sl_http_server sl_http_server_t;
typedef struct sl_http_req sl_http_req_t;

typedef struct sl_http_limits {
	size_t max_connections;   /* accepted at once; more are closed at once */
	size_t max_header_bytes;  /* request line + headers; over: 431 */
	size_t max_body_bytes;    /* over: 413 */
	uint64_t idle_timeout_ms; /* no request bytes for this long between requests: close */
	uint64_t head_timeout_ms; /* a request head not complete this long after its first byte
				   * (or after the accept): 408 and close */
	uint64_t body_timeout_ms; /* a body not complete this long after its head: 408 and close */
	size_t max_queued_out;    /* response bytes queued for one client before it is not read */
	size_t max_per_ip;        /* connections from one address; 0: no limit */
} sl_http_limits_t;

#define SL_HTTP_LIMITS_DEFAULT {100000, 16384, 1048576, 60000, 10000, 30000, 1048576, 0}

/* Connections per client address, counted across the servers (loops) that
 * share it. Thread-safe; only the accept and close paths touch it. */
typedef struct sl_http_iplimit sl_http_iplimit_t;
sl_http_iplimit_t *sl_http_iplimit_new(size_t max_per_ip);
void sl_http_iplimit_free(sl_http_iplimit_t *l);
/* Raise the open-file limit to its hard limit (once per process); returns
 * the soft limit now in effect. */
long sl_http_raise_fd_limit(void);

typedef void (*sl_http_handler_cb)(sl_http_req_t *req, void *arg);
/* Formats an error body for this server's clients (our API and Confluent's differ). */
typedef void (*sl_http_error_fmt_cb)(int status, const char *code, const char *message, sl_buf_t *out);

sl_http_server_t *sl_http_server_new(uv_loop_t *loop, const sl_http_limits_t *limits,
				     sl_http_handler_cb handler, void *arg);
void sl_http_server_set_error_fmt(sl_http_server_t *srv, sl_http_error_fmt_cb fmt);
/* Browser origins allowed (CORS): matching requests get
 * Access-Control-Allow-Origin, and preflight OPTIONS requests are answered
 * here without reaching the handler. "*" allows any origin. Copied. */
void sl_http_server_set_cors(sl_http_server_t *srv, const char *const *origins, size_t n);
/* Several loops of one process on one port (the publisher): each loop's
 * server binds with SO_REUSEPORT and the kernel spreads the connections.
 * FIRST also checks that nobody else holds the port; the others JOIN it. */
typedef enum { SL_HTTP_REUSEPORT_OFF = 0, SL_HTTP_REUSEPORT_FIRST, SL_HTTP_REUSEPORT_JOIN } sl_http_reuseport_t;
void sl_http_server_set_reuseport(sl_http_server_t *srv, sl_http_reuseport_t mode);
/* Count connections in *count, shared by the servers of the loops of one
 * process, so that max_connections holds for the process (the kernel does
 * not spread connections evenly enough to split the limit). */
void sl_http_server_share_count(sl_http_server_t *srv, atomic_size_t *count);
/* Count connections per address in l (shared by the loops of a process;
 * not owned). Without it a server with max_per_ip keeps its own. */
void sl_http_server_share_iplimit(sl_http_server_t *srv, sl_http_iplimit_t *l);
/* Serve TLS with ctx (a reference is taken; NULL: plain). Before listen. */
void sl_http_server_set_tls(sl_http_server_t *srv, sl_tls_ctx_t *ctx);
bool sl_http_server_is_tls(const sl_http_server_t *srv);
/* port 0 picks a free port; see sl_http_server_port. */
int sl_http_server_listen(sl_http_server_t *srv, const char *host, int port, sl_err_t *err);
int sl_http_server_port(const sl_http_server_t *srv);
/* Stop accepting and close idle connections now; connections with a request
 * in flight close once it is answered; hijacked ones get their on_close.
 * done_cb fires when every handle is closed; then call sl_http_server_free. */
void sl_http_server_close(sl_http_server_t *srv, void (*done_cb)(void *arg), void *arg);
void sl_http_server_free(sl_http_server_t *srv);
/* For a server whose listen failed: close what is open, free it once closed. */
void sl_http_server_discard(sl_http_server_t *srv);

/* ---- the request ---- */
const char *sl_http_req_method(const sl_http_req_t *req);   /* "GET" */
sl_iov_t sl_http_req_path(const sl_http_req_t *req);       /* "/v1/x" without query */
sl_iov_t sl_http_req_query(const sl_http_req_t *req);      /* after '?', may be empty */
/* Case-insensitive; NUL-terminated value or NULL. */
const char *sl_http_req_header(const sl_http_req_t *req, const char *name);
sl_iov_t sl_http_req_body(const sl_http_req_t *req);
/* Copy query parameter `name` (percent-decoded, NUL-terminated) into out:
 * 1 found, 0 absent, SL_ETOOBIG when it does not fit (never a silent cut). */
int sl_http_req_query_param(const sl_http_req_t *req, const char *name, char *out, size_t outlen);
void *sl_http_req_server_arg(const sl_http_req_t *req);
/* The client's address as text ("127.0.0.1", "::1"); "unknown" when the
 * socket has none. */
void sl_http_req_peer(const sl_http_req_t *req, char *out, size_t outlen);
/* Called instead of a response when the client goes away first; req is dead after. */
void sl_http_req_on_abort(sl_http_req_t *req, void (*abort_cb)(sl_http_req_t *req, void *arg), void *arg);

/* ---- answering (exactly once per request) ---- */
/* Header lines for the next response only, "Name: value" (no CRLF). */
void sl_http_req_add_header(sl_http_req_t *req, const char *line);
void sl_http_respond(sl_http_req_t *req, int status, const char *content_type, const void *body, size_t len);
void sl_http_respond_json(sl_http_req_t *req, int status, const char *json);
/* Error through the server's error formatter; code is a stable word. */
void sl_http_respond_error(sl_http_req_t *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- taking the socket over (WebSocket, SSE) ---- */
typedef struct sl_http_hijack_cbs {
	void (*on_read)(void *ud, const char *data, size_t len); /* bytes from the client */
	void (*on_close)(void *ud); /* the socket is closing; last call, stream invalid after */
} sl_http_hijack_cbs_t;

/* Ends HTTP processing on this connection and returns the stream to write
 * to (uv_write/uv_try_write). Bytes the client sent after the request head
 * are returned in *leftover (valid until the handler returns) for the caller
 * to process first; later bytes arrive through on_read. */
uv_stream_t *sl_http_hijack(sl_http_req_t *req, const sl_http_hijack_cbs_t *cbs, void *ud, sl_iov_t *leftover);
/* The TLS session of a stream sl_http_hijack returned, or NULL when the
 * connection is plain: then the caller must write through it (tls.h). */
sl_tls_t *sl_http_stream_tls(uv_stream_t *stream);
/* Close a hijacked stream; on_close fires from the close path. */
void sl_http_hijack_close(uv_stream_t *stream);

/* ---- helpers ---- */
const char *sl_http_status_text(int status);
/* Serve /healthz, /readyz and /metrics; returns true when req was one of them.
 * ready_cb fills why (for the 503 body) and returns false when not ready. */
typedef bool (*sl_http_ready_cb)(void *arg, sl_buf_t *why);
bool sl_http_serve_ops(sl_http_req_t *req, sl_http_ready_cb ready_cb, void *arg);
/* True when the path equals the literal. */
bool sl_iov_eq(sl_iov_t a, const char *lit);
bool sl_iov_prefix(sl_iov_t a, const char *lit);



/* ---- from settings ---- */
#include "core/config.h"
/* A server with limits, CORS and TLS (tls-cert-file, tls-key-file: the
 * processes' loops share one context) from sl_cfg_keys_http, listening on
 * listen-host and the role's "port" key. NULL with err filled on failure. */
sl_http_server_t *sl_http_server_from_cfg(uv_loop_t *loop, const sl_cfg_t *cfg, sl_http_handler_cb handler, void *arg,
					  sl_err_t *err);
/* The same for loop `index` of `nloops` sharing one port, one connection
 * count (`conns`) and one per-address count (`ips`, may be NULL); loop 0
 * binds the configured port, the others the port it got (`port`). */
sl_http_server_t *sl_http_server_from_cfg_shared(uv_loop_t *loop, const sl_cfg_t *cfg, unsigned index, unsigned nloops,
						 int port, atomic_size_t *conns, sl_http_iplimit_t *ips,
						 sl_http_handler_cb handler, void *arg, sl_err_t *err);
/* The limits in the settings (sl_cfg_keys_http). */
void sl_http_limits_from_cfg(const sl_cfg_t *cfg, sl_http_limits_t *lim);
#endif
