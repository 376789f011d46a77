/* wsclient.c: the WebSocket client connection of the bench programs
 * (the contract is in wsclient.h).
 *
 * How it fits: linked into bench/ws-load.c (thousands of clients, plain
 * or TLS) and bench/chaos-ws.c (clients that reconnect through faults).
 * One loop thread; per connection it owns the socket, the TLS state and
 * a buffer for bytes that end mid-frame; the read buffers are shared by
 * every connection (a read is parsed, or its tail copied, at once).
 * With TLS the socket stays libuv's: records go through the connection's
 * SSL object over two memory BIOs, and frames are parsed from the
 * decrypted bytes exactly as without TLS.
 * References: RFC 6455 sections 4.1, 5.2, 5.3, 5.5; OpenSSL BIO_s_mem(3),
 * SSL_set_bio(3), SSL_do_handshake(3), SSL_read(3).
 * Non-goals: see wsclient.h (a benchmark's client, not one to trust).
 */
#include "wsclient.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The key of RFC 6455's example; nothing checks the server's answer. */
#define WSC_KEY "dGhlIHNhbXBsZSBub25jZQ=="

static char readbuf[1 << 18];
static char plainbuf[1 << 18];

double wsc_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

void wsc_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	(void)suggested;
	*b = uv_buf_init(readbuf, sizeof(readbuf));
}

/* ---- writing ---- */
static void write_cb(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

void wsc_write(uv_stream_t *s, const char *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	/* uv_try_write refuses while earlier writes are queued: order holds. */
	int r = uv_try_write(s, &b, 1);
	if (r == (int)len)
		return;
	if (r < 0)
		r = 0;
	/* Rare (pongs, the handshake, a full socket): copy the rest. */
	uv_write_t *w = malloc(sizeof(*w) + len - (size_t)r);
	char *copy = (char *)(w + 1);
	memcpy(copy, data + r, len - (size_t)r);
	b = uv_buf_init(copy, (unsigned)(len - (size_t)r));
	if (uv_write(w, s, &b, 1, write_cb) < 0)
		free(w);
}

/* Send the records OpenSSL wrote into the connection's outgoing BIO. */
static void tls_flush(wsc_t *ws)
{
	BIO *wb = SSL_get_wbio(ws->ssl);
	char tmp[16384];
	while (BIO_ctrl_pending(wb) > 0) {
		int n = BIO_read(wb, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		wsc_write((uv_stream_t *)&ws->tcp, tmp, (size_t)n);
	}
}

static void send_bytes(wsc_t *ws, const char *data, size_t len)
{
	if (!ws->ssl) {
		wsc_write((uv_stream_t *)&ws->tcp, data, len);
		return;
	}
	/* A memory BIO takes everything: SSL_write never waits here. */
	if (SSL_write(ws->ssl, data, (int)len) > 0)
		tls_flush(ws);
}

static void send_pong(wsc_t *ws, const unsigned char *p, size_t n)
{
	unsigned char f[2 + 4 + 125];
	if (n > 125)
		n = 125;
	f[0] = 0x8a;
	f[1] = (unsigned char)(0x80 | n);
	memset(f + 2, 0, 4); /* a zero mask key is a valid mask */
	memcpy(f + 6, p, n);
	send_bytes(ws, (const char *)f, 6 + n);
}

/* Masked with a zero key, which leaves the payload as it is: RFC 6455
 * section 5.3 only asks that the mask bit be set. */
void wsc_send_text(wsc_t *ws, const char *p, size_t n)
{
	char f[14 + 2048];
	size_t h = 2;
	if (n > 2048)
		return;
	f[0] = (char)0x81;
	if (n < 126) {
		f[1] = (char)(0x80 | n);
	} else {
		f[1] = (char)(0x80 | 126);
		f[2] = (char)(n >> 8);
		f[3] = (char)(n & 0xff);
		h = 4;
	}
	memset(f + h, 0, 4);
	memcpy(f + h + 4, p, n);
	send_bytes(ws, f, h + 4 + n);
}

static void send_upgrade(wsc_t *ws)
{
	if (!ws->upgrade)
		return;
	send_bytes(ws, ws->upgrade, strlen(ws->upgrade));
	free(ws->upgrade);
	ws->upgrade = NULL;
}

/* ---- the end of a connection ---- */
static void end(wsc_t *ws, wsc_end_t why, int code, const char *msg)
{
	ws->cbs->end_cb(ws, why, code, msg);
	wsc_close(ws);
}

static bool live(const wsc_t *ws)
{
	return ws->state == WSC_UPGRADING || ws->state == WSC_OPEN;
}

static void closed_cb(uv_handle_t *h)
{
	wsc_t *ws = h->data;
	SSL_free(ws->ssl);
	ws->ssl = NULL;
	ws->state = WSC_IDLE;
}

void wsc_close(wsc_t *ws)
{
	if (ws->state == WSC_IDLE || ws->state == WSC_CLOSING)
		return;
	ws->state = WSC_CLOSING;
	ws->inlen = 0;
	free(ws->upgrade);
	ws->upgrade = NULL;
	if (!uv_is_closing((uv_handle_t *)&ws->tcp))
		uv_close((uv_handle_t *)&ws->tcp, closed_cb);
}

/* ---- reading ---- */

/* Parse d[0..n): the response head, then whole frames; returns the bytes
 * used (the rest waits for more), or n once the connection ended. */
static size_t process(wsc_t *ws, const char *d, size_t n, double now)
{
	size_t used = 0;
	if (ws->state == WSC_UPGRADING) {
		const char *e = memmem(d, n, "\r\n\r\n", 4);
		if (!e)
			return 0;
		if (n < 12 || memcmp(d, "HTTP/1.1 101", 12) != 0) {
			char line[256];
			const char *cr = memchr(d, '\r', n);
			snprintf(line, sizeof(line), "%.*s", (int)(cr - d), d);
			end(ws, WSC_END_REFUSED, 0, line);
			return n;
		}
		ws->state = WSC_OPEN;
		used = (size_t)(e - d) + 4;
		if (ws->cbs->open_cb)
			ws->cbs->open_cb(ws);
	}
	while (ws->state == WSC_OPEN && n - used >= 2) {
		const unsigned char *p = (const unsigned char *)d + used;
		size_t avail = n - used, h = 2;
		uint64_t len = p[1] & 0x7f;
		if (len == 126) {
			if (avail < 4)
				break;
			len = ((uint64_t)p[2] << 8) | p[3];
			h = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = (len << 8) | p[2 + i];
			h = 10;
		}
		if (avail < h + len)
			break;
		uint8_t op = p[0] & 0x0f;
		const char *payload = (const char *)p + h;
		if (op == 0x1 && ws->cbs->text_cb) {
			ws->cbs->text_cb(ws, payload, (size_t)len, now);
		} else if (op == 0x9) {
			send_pong(ws, (const unsigned char *)payload, (size_t)len);
		} else if (op == 0x8) {
			end(ws, WSC_END_CLOSE_FRAME, len >= 2 ? (p[h] << 8 | p[h + 1]) : 0, NULL);
			return n;
		}
		used += h + (size_t)len;
	}
	return live(ws) ? used : n;
}

/* Bytes of the WebSocket stream (plain, or decrypted). */
static void on_bytes(wsc_t *ws, const char *d, size_t n)
{
	double now = wsc_wall_ms();
	if (ws->inlen == 0) {
		/* Parse straight from the shared buffer; keep only a partial tail. */
		size_t used = process(ws, d, n, now);
		if (!live(ws))
			return;
		size_t left = n - used;
		if (left) {
			if (ws->incap < left) {
				ws->incap = left * 2;
				ws->in = realloc(ws->in, ws->incap);
			}
			memcpy(ws->in, d + used, left);
			ws->inlen = left;
		}
		return;
	}
	if (ws->incap < ws->inlen + n) {
		ws->incap = (ws->inlen + n) * 2;
		ws->in = realloc(ws->in, ws->incap);
	}
	memcpy(ws->in + ws->inlen, d, n);
	ws->inlen += n;
	size_t used = process(ws, ws->in, ws->inlen, now);
	if (!live(ws))
		return;
	memmove(ws->in, ws->in + used, ws->inlen - used);
	ws->inlen -= used;
}

static void tls_failed(wsc_t *ws)
{
	char e[256];
	ERR_error_string_n(ERR_get_error(), e, sizeof(e));
	ERR_clear_error();
	end(ws, WSC_END_TLS, 0, e);
}

/* Start or continue the TLS handshake; the upgrade goes once it is done. */
static void tls_handshake(wsc_t *ws)
{
	int r = SSL_do_handshake(ws->ssl);
	tls_flush(ws);
	if (r == 1)
		send_upgrade(ws);
	else if (SSL_get_error(ws->ssl, r) != SSL_ERROR_WANT_READ)
		tls_failed(ws);
}

/* TLS records from the socket: the handshake, then each decrypted chunk
 * to on_bytes. */
static void on_tls(wsc_t *ws, const char *d, size_t n)
{
	BIO_write(SSL_get_rbio(ws->ssl), d, (int)n);
	if (!SSL_is_init_finished(ws->ssl)) {
		tls_handshake(ws);
		if (!live(ws) || !SSL_is_init_finished(ws->ssl))
			return;
	}
	for (;;) {
		int r = SSL_read(ws->ssl, plainbuf, sizeof(plainbuf));
		if (r <= 0) {
			int e = SSL_get_error(ws->ssl, r);
			tls_flush(ws); /* an alert, or nothing */
			if (e == SSL_ERROR_WANT_READ)
				return;
			ERR_clear_error();
			end(ws, WSC_END_EOF, 0, NULL);
			return;
		}
		on_bytes(ws, plainbuf, (size_t)r);
		if (!live(ws))
			return;
	}
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	wsc_t *ws = s->data;
	if (nread < 0) {
		end(ws, WSC_END_EOF, (int)nread, NULL);
		return;
	}
	if (nread == 0 || !live(ws))
		return;
	if (ws->ssl)
		on_tls(ws, buf->base, (size_t)nread);
	else
		on_bytes(ws, buf->base, (size_t)nread);
}

/* ---- connecting ---- */
static void connect_cb(uv_connect_t *req, int status)
{
	wsc_t *ws = req->data;
	if (ws->state != WSC_CONNECTING)
		return; /* closed meanwhile (the status is UV_ECANCELED) */
	if (status < 0) {
		end(ws, WSC_END_CONNECT, status, uv_strerror(status));
		return;
	}
	ws->state = WSC_UPGRADING;
	if (ws->cbs->connected_cb)
		ws->cbs->connected_cb(ws);
	if (ws->state != WSC_UPGRADING)
		return;
	uv_read_start((uv_stream_t *)&ws->tcp, wsc_alloc_cb, read_cb);
	if (ws->ssl) {
		SSL_set_connect_state(ws->ssl);
		tls_handshake(ws);
	} else {
		send_upgrade(ws);
	}
}

void wsc_init(wsc_t *ws, const wsc_cbs_t *cbs, void *data)
{
	memset(ws, 0, sizeof(*ws));
	ws->cbs = cbs;
	ws->data = data;
}

int wsc_connect(wsc_t *ws, uv_loop_t *loop, const struct sockaddr *sa, const char *host, const char *path,
		SSL_CTX *tls)
{
	if (ws->state != WSC_IDLE)
		return UV_EBUSY;
	char req[1024];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Key: " WSC_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
			 path, host);
	if (n < 0 || (size_t)n >= sizeof(req))
		return UV_EINVAL;
	int r = uv_tcp_init(loop, &ws->tcp);
	if (r < 0)
		return r;
	ws->tcp.data = ws;
	ws->creq.data = ws;
	ws->inlen = 0;
	ws->upgrade = strdup(req);
	if (tls) {
		ws->ssl = SSL_new(tls);
		SSL_set_bio(ws->ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	}
	ws->state = WSC_CONNECTING;
	r = uv_tcp_connect(&ws->creq, &ws->tcp, sa, connect_cb);
	if (r < 0)
		wsc_close(ws);
	return r;
}

void wsc_cleanup(wsc_t *ws)
{
	free(ws->in);
	free(ws->upgrade);
	SSL_free(ws->ssl);
	ws->in = ws->upgrade = NULL;
	ws->ssl = NULL;
	ws->inlen = ws->incap = 0;
}

SSL_CTX *wsc_tls_ctx_new(const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* 10,000 idle clients: no buffers held between records. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (ca) {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}
