/* tls.h: TLS for libuv streams, through OpenSSL memory BIOs: the listeners' side
 * and, for Redis, the client side.
 *
 * How it fits: the HTTP server (http.c) gives each accepted connection an
 * sl_tls_t when it was given a context (sl_http_server_set_tls): bytes read
 * from the socket go through sl_tls_read and come out as plaintext for the
 * parser, answers go out through sl_tls_write. A socket taken over by the
 * publisher keeps its sl_tls_t (sl_http_stream_tls), and proto/conn.c
 * writes its batches of shared frames through it: the frames of one batch
 * are copied into records of up to 16 KiB, so a writev of 64 small frames
 * becomes a few TLS records and one socket write, not 64 records.
 * Threads: one sl_tls_ctx_t per process, shared read-only by every loop
 * (the publisher's N threads): its SSL_CTX is only read by SSL_new, under a
 * mutex that a reload takes to swap in a new one. Each connection's sl_tls_t
 * (one SSL) belongs to its loop's thread.
 * Reload: sl_tls_reload_all() (SIGHUP, through loop/runtime.h) reads every
 * context's certificate and key again; new connections use the new ones,
 * open ones keep theirs (an SSL holds a reference to its SSL_CTX). A file
 * that fails to load leaves the old one in place, and says why.
 * Writes: every sl_tls_write encrypts all it is given at once; the
 * ciphertext goes to the socket with uv_try_write when asked (the
 * publisher) and uv_write for the rest, in buffers owned by their write
 * requests. Each uv_write reports back to the callback given with the
 * write (so the HTTP server's and the publisher's writes on one socket
 * each come back to their owner), also with UV_ECANCELED when the socket
 * closes first. sl_tls_pending says how much ciphertext libuv still holds:
 * the owner bounds it (conn.c stops taking frames past 64 KiB, so the
 * slow-client rules still see the backlog in their own queue).
 * Memory: SSL_MODE_RELEASE_BUFFERS, so an idle connection holds no record
 * buffers; the memory BIOs are empty between writes.
 * References: OpenSSL SSL_set_bio(3), BIO_s_mem(3), SSL_read(3),
 * SSL_CTX_set_mode(3); libuv docs/src/stream.rst.
 * Client side: redis/rconn.c's rediss:// connections (a client context
 * with the CA to verify against, and a client certificate if asked).
 * Non-goals: client certificates on the listeners, ALPN/HTTP/2, OCSP
 * stapling, SNI with several certificates.
 */
#ifndef SL_PROTO_TLS_H
#define SL_PROTO_TLS_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct sl_tls_ctx sl_tls_ctx_t;
typedef struct sl_tls sl_tls_t;

/* A server context from a PEM certificate chain and its private key
 * (TLS 1.2 and 1.3). NULL with err naming the file that failed. */
sl_tls_ctx_t *sl_tls_ctx_new(const char *cert_file, const char *key_file, sl_err_t *err);
/* The context of these files if this process has one (another reference
 * to it), else a new one: the loops of the publisher share one. */
sl_tls_ctx_t *sl_tls_ctx_get(const char *cert_file, const char *key_file, sl_err_t *err);
/* Another reference to ctx. */
sl_tls_ctx_t *sl_tls_ctx_get_ref(sl_tls_ctx_t *ctx);
/* Read the files again; on failure the old certificate stays. */
int sl_tls_ctx_reload(sl_tls_ctx_t *ctx, sl_err_t *err);
/* Drop a reference (from _new or _get); the last frees it, once no
 * sl_tls_new can run on it (open connections keep their SSL_CTX). */
void sl_tls_ctx_free(sl_tls_ctx_t *ctx);
/* Reload every context of the process; logs each result. */
void sl_tls_reload_all(void);

/* A client context (redis/rconn.c, for rediss://): the server's
 * certificate is verified against ca_file (NULL or "": the system's CAs);
 * cert_file and key_file (NULL or "": none) are the client's own, for a
 * server that asks for one. Read once (not reloaded on SIGHUP). NULL with
 * err naming the file that failed; free with sl_tls_ctx_free. */
sl_tls_ctx_t *sl_tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file,
				    sl_err_t *err);

/* A write came back: status 0, or <0 (UV_ECANCELED when the socket closed
 * first); bytes of ciphertext that it carried. */
typedef void (*sl_tls_written_cb)(void *ud, int status, size_t bytes);

/* A connection on stream (borrowed; the owner closes it). */
sl_tls_t *sl_tls_new(sl_tls_ctx_t *ctx, uv_stream_t *stream);
/* A client connection on a connected stream: the server's certificate
 * must name host (an IP address, or a DNS name also sent as SNI).
 * sl_tls_start sends the first handshake message; sl_tls_read does the
 * rest, and sl_tls_handshake_done says when writes may begin. */
sl_tls_t *sl_tls_new_client(sl_tls_ctx_t *ctx, uv_stream_t *stream, const char *host);
int sl_tls_start(sl_tls_t *t, sl_err_t *err);
/* Free from the stream's close callback or later: libuv has then called
 * back every write (so no callback can name freed memory). */
void sl_tls_free(sl_tls_t *t);

/* Ciphertext read from the socket: plaintext is appended to plain, and
 * what the handshake must answer is written. 0, SL_ECLOSED when the peer
 * sent close_notify, SL_EIO on a protocol error or a failed write (close
 * the connection); err (may be NULL) says why. */
int sl_tls_read(sl_tls_t *t, const char *data, size_t len, sl_buf_t *plain, sl_err_t *err);
/* Encrypt every byte of bufs and send it. try_first: uv_try_write before
 * uv_write. *queued (may be NULL) gets the ciphertext bytes left to a
 * uv_write, which comes back through cb(ud); 0 when the kernel took all.
 * Returns 0, or SL_EIO (close the connection). */
int sl_tls_write(sl_tls_t *t, const uv_buf_t *bufs, unsigned n, bool try_first, sl_tls_written_cb cb, void *ud,
		 size_t *queued);
/* Ciphertext handed to uv_write and not yet written. */
size_t sl_tls_pending(const sl_tls_t *t);
bool sl_tls_handshake_done(const sl_tls_t *t);
/* The negotiated version ("TLSv1.3"), or "" before the handshake. */
const char *sl_tls_version(const sl_tls_t *t);

#endif
