/* test_tls.c: proto/tls under the HTTP server and proto/conn, over real
 * sockets, with an OpenSSL client on its own thread that verifies the
 * server's certificate against the self-signed one this test makes.
 *  - pipelined requests and a 200 KB body echoed (many records each way);
 *  - a socket taken over (sl_http_hijack) and written by proto/conn: 5,000
 *    shared frames through the batched TLS writer, in order, then closed
 *    once the queue and the ciphertext are out;
 *  - plain HTTP sent to the TLS port: the connection closes, nothing else;
 *  - a reload (sl_tls_reload_all) with a new certificate: the next
 *    connection sees it, and a reload from a broken file keeps the old one.
 * The server loop runs on the main thread; assertions run after it ended,
 * and every handle is closed (uv_loop_close() == 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "proto/conn.h"
#include "proto/http.h"
#include "proto/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NFRAMES 5000
#define BIG (200 * 1024)

static char cert_path[64], key_path[64];

/* A self-signed certificate for 127.0.0.1 with serial `serial`. */
static void make_cert(long serial)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, pkey, EVP_sha256());
	FILE *f = fopen(cert_path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

typedef struct {
	uv_loop_t loop;
	uv_async_t done;
	sl_http_server_t *srv;
	sl_conn_ctx_t cctx;
	sl_conn_t *conn;
	int port;
	/* results, read after the loop ended */
	char *pipelined;
	size_t big_echoed;
	bool big_ok;
	size_t stream_frames;
	bool stream_in_order, stream_eof;
	bool plain_closed;
	long serial_before, serial_after, serial_broken;
	char version[32];
} fixture_t;

static fixture_t *g_fx;

static void conn_free_cb(sl_conn_t *conn, void *arg)
{
	(void)arg;
	free(conn);
	g_fx->conn = NULL;
}

static void on_read(void *ud, const char *data, size_t len)
{
	(void)ud, (void)data, (void)len;
}

static void on_close(void *ud)
{
	sl_conn_socket_closed(ud);
}

static void handler(sl_http_req_t *req, void *arg)
{
	fixture_t *fx = arg;
	sl_iov_t path = sl_http_req_path(req);
	if (sl_iov_eq(path, "/echo")) {
		sl_iov_t b = sl_http_req_body(req);
		sl_http_respond(req, 200, "application/octet-stream", b.base, b.len);
	} else if (sl_iov_eq(path, "/stream")) {
		/* Take the socket over and write NFRAMES frames through conn. */
		sl_conn_t *conn = calloc(1, sizeof(*conn));
		sl_http_hijack_cbs_t cbs = {on_read, on_close};
		uv_stream_t *s = sl_http_hijack(req, &cbs, conn, NULL);
		sl_conn_init(conn, &fx->cctx, s, SL_WIRE_WS);
		fx->conn = conn;
		const char *head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
		sl_frame_t *h = sl_frame_new_raw(head, strlen(head));
		sl_conn_push_ctl(conn, h);
		sl_frame_unref(h);
		for (int i = 0; i < NFRAMES; i++) {
			char line[32];
			int n = snprintf(line, sizeof(line), "frame %06d\n", i);
			sl_frame_t *fr = sl_frame_new_raw(line, (size_t)n);
			sl_conn_push_ctl(conn, fr);
			sl_frame_unref(fr);
		}
		sl_conn_finish(conn);
	} else {
		sl_http_respond(req, 200, "text/plain", "ok", 2);
	}
}

/* ---- the client thread ---- */

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static SSL *tls_dial(SSL_CTX *cctx, int port, int *fdp, long *serial)
{
	int fd = dial(port);
	SSL *ssl = SSL_new(cctx);
	SSL_set_fd(ssl, fd);
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	X509 *peer = SSL_get1_peer_certificate(ssl);
	*serial = peer ? ASN1_INTEGER_get(X509_get_serialNumber(peer)) : -1;
	X509_free(peer);
	*fdp = fd;
	return ssl;
}

static sl_buf_t read_all(SSL *ssl)
{
	sl_buf_t b = SL_BUF_INIT;
	char buf[16384];
	int n;
	while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
		sl_buf_append(&b, buf, (size_t)n);
	return b;
}

static void *client(void *arg)
{
	fixture_t *fx = arg;
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(cctx, cert_path, NULL);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	int fd;
	long serial;
	/* 1. pipelined requests, the last a 200 KB echo. */
	SSL *ssl = tls_dial(cctx, fx->port, &fd, &fx->serial_before);
	if (ssl) {
		snprintf(fx->version, sizeof(fx->version), "%s", SSL_get_version(ssl));
		sl_buf_t req = SL_BUF_INIT;
		sl_buf_puts(&req, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
		sl_buf_printf(&req, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", BIG);
		for (int i = 0; i < BIG; i++)
			sl_buf_putc(&req, (char)('a' + i % 26));
		SSL_write(ssl, req.data, (int)req.len);
		sl_buf_t got = read_all(ssl);
		char *body = strstr(got.data ? got.data : "", "Content-Length: 204800\r\n");
		body = body ? strstr(body, "\r\n\r\n") : NULL;
		if (body) {
			fx->big_echoed = got.len - (size_t)(body + 4 - got.data);
			fx->big_ok = fx->big_echoed == BIG && !memcmp(body + 4, req.data + req.len - BIG, BIG);
		}
		fx->pipelined = strndup(got.data ? got.data : "", 200);
		sl_buf_free(&req);
		sl_buf_free(&got);
		SSL_free(ssl);
		close(fd);
	}
	/* 2. a taken-over socket written by conn. */
	ssl = tls_dial(cctx, fx->port, &fd, &serial);
	if (ssl) {
		const char *r = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
		SSL_write(ssl, r, (int)strlen(r));
		sl_buf_t got = read_all(ssl);
		fx->stream_eof = true;
		const char *p = got.data ? strstr(got.data, "\r\n\r\n") : NULL;
		fx->stream_in_order = p != NULL;
		for (p = p ? p + 4 : NULL; p && *p; p = strchr(p, '\n') + 1) {
			int i;
			if (sscanf(p, "frame %d", &i) != 1 || (size_t)i != fx->stream_frames)
				fx->stream_in_order = false;
			fx->stream_frames++;
			if (!strchr(p, '\n'))
				break;
		}
		sl_buf_free(&got);
		SSL_free(ssl);
		close(fd);
	}
	/* 3. plain HTTP to the TLS port: closed, and the server lives on. */
	fd = dial(fx->port);
	const char *plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	if (write(fd, plain, strlen(plain)) > 0) {
		char buf[256];
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		fx->plain_closed = n == 0 || n < 0;
	}
	close(fd);
	/* 4. reload with a new certificate; then with a broken one. */
	make_cert(2);
	sl_tls_reload_all();
	/* A client that trusts only the new certificate (both have one subject). */
	SSL_CTX_free(cctx);
	cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(cctx, cert_path, NULL);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	ssl = tls_dial(cctx, fx->port, &fd, &fx->serial_after);
	if (ssl) {
		SSL_free(ssl);
		close(fd);
	}
	FILE *f = fopen(cert_path, "w");
	fputs("not a certificate\n", f);
	fclose(f);
	sl_tls_reload_all();
	ssl = tls_dial(cctx, fx->port, &fd, &fx->serial_broken);
	if (ssl) {
		SSL_free(ssl);
		close(fd);
	}
	SSL_CTX_free(cctx);
	uv_async_send(&fx->done);
	return NULL;
}

static void closed_cb(void *arg)
{
	fixture_t *fx = arg;
	sl_http_server_free(fx->srv);
	fx->srv = NULL;
	sl_conn_ctx_close(&fx->cctx);
}

static void done_cb(uv_async_t *a)
{
	fixture_t *fx = a->data;
	uv_close((uv_handle_t *)&fx->done, NULL);
	sl_http_server_close(fx->srv, closed_cb, fx);
}

static void test_tls_http_and_conn(void **state)
{
	(void)state;
	snprintf(cert_path, sizeof(cert_path), "/tmp/sluice-tls-%d.crt", (int)getpid());
	snprintf(key_path, sizeof(key_path), "/tmp/sluice-tls-%d.key", (int)getpid());
	make_cert(1);
	fixture_t *fx = calloc(1, sizeof(*fx));
	g_fx = fx;
	uv_loop_init(&fx->loop);
	sl_err_t err = {0};
	sl_tls_ctx_t *ctx = sl_tls_ctx_new(cert_path, key_path, &err);
	assert_non_null(ctx);
	fx->srv = sl_http_server_new(&fx->loop, NULL, handler, fx);
	sl_http_server_set_tls(fx->srv, ctx);
	sl_tls_ctx_free(ctx);
	assert_true(sl_http_server_is_tls(fx->srv));
	assert_int_equal(sl_http_server_listen(fx->srv, "127.0.0.1", 0, &err), 0);
	fx->port = sl_http_server_port(fx->srv);
	sl_conn_limits_t lim = {NFRAMES * 2, NFRAMES * 4};
	sl_conn_ctx_init(&fx->cctx, &fx->loop, &lim, conn_free_cb, fx);
	uv_async_init(&fx->loop, &fx->done, done_cb);
	fx->done.data = fx;
	pthread_t th;
	pthread_create(&th, NULL, client, fx);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	assert_int_equal(uv_loop_close(&fx->loop), 0);

	assert_non_null(fx->pipelined);
	assert_non_null(strstr(fx->pipelined, "HTTP/1.1 200 OK"));
	assert_true(fx->big_ok);
	assert_string_equal(fx->version, "TLSv1.3");
	assert_true(fx->stream_eof);
	assert_true(fx->stream_in_order);
	assert_int_equal(fx->stream_frames, NFRAMES);
	assert_null(fx->conn);
	assert_true(fx->plain_closed);
	assert_int_equal(fx->serial_before, 1);
	assert_int_equal(fx->serial_after, 2);
	assert_int_equal(fx->serial_broken, 2); /* the broken file left the last good one */
	free(fx->pipelined);
	free(fx);
	unlink(cert_path);
	unlink(key_path);
	sl_metrics_free_all();
}

static void test_tls_ctx_errors(void **state)
{
	(void)state;
	sl_err_t err = {0};
	assert_null(sl_tls_ctx_new("/nonexistent.crt", "/nonexistent.key", &err));
	assert_non_null(strstr(err.msg, "/nonexistent.crt"));
	snprintf(cert_path, sizeof(cert_path), "/tmp/sluice-tls-%d.crt", (int)getpid());
	snprintf(key_path, sizeof(key_path), "/tmp/sluice-tls-%d.key", (int)getpid());
	make_cert(1);
	char other_key[96];
	snprintf(other_key, sizeof(other_key), "%s.other", key_path);
	rename(key_path, other_key);
	make_cert(3); /* a new key: the first certificate's key is other_key */
	memset(&err, 0, sizeof(err));
	assert_null(sl_tls_ctx_new(cert_path, other_key, &err));
	assert_non_null(strstr(err.msg, other_key));
	unlink(other_key);
	unlink(cert_path);
	unlink(key_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_http_and_conn),
		cmocka_unit_test(test_tls_ctx_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
