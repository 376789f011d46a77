/* tls.c: the TLS engine for libuv streams (see tls.h).
 *
 * Each connection is one SSL between two memory BIOs: rbio gets what the
 * socket read, wbio collects what must be sent. After every SSL call the
 * wbio is drained into one malloc'd buffer and sent (uv_try_write when
 * asked, then uv_write with the buffer owned by the request).
 * Contexts register in a process-wide list so that one SIGHUP reloads all
 * of them; loop/runtime.h calls sl_tls_reload_all through its hook. A
 * client context (Redis over TLS) is the same engine the other way round:
 * SSL_set_connect_state, the peer verified, and not in the list.
 */
#include "proto/tls.h"

#include "core/alloc.h"
#include "core/log.h"
#include "loop/runtime.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#define RECORD 16384 /* plaintext per SSL_write: one full TLS record */

struct sl_tls_ctx {
	uv_mutex_t mu;
	SSL_CTX *cur;
	char *cert, *key;
	int refs;           /* under list_mu */
	sl_tls_ctx_t *next; /* the process's list */
};

struct sl_tls {
	SSL *ssl;
	bool client;
	BIO *rbio, *wbio;
	uv_stream_t *stream;
	size_t pending;
	bool failed;
};

typedef struct wreq {
	uv_write_t w;
	sl_tls_t *t;
	sl_tls_written_cb cb;
	void *ud;
	size_t len;
	char data[];
} wreq_t;

static uv_mutex_t list_mu;
static uv_once_t list_once = UV_ONCE_INIT;
static sl_tls_ctx_t *all;

static void list_init(void)
{
	uv_mutex_init(&list_mu);
	sl_runtime_set_hup_hook(sl_tls_reload_all);
}

/* OpenSSL's last error as text, for messages. */
static void ssl_errstr(char *out, size_t n)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, out, n);
	else
		snprintf(out, n, "unknown error");
	ERR_clear_error();
}

/* A context of either side: TLS 1.2 or later, no renegotiation or
 * compression, record buffers released when idle. */
static SSL_CTX *new_ctx(const SSL_METHOD *method, long options, sl_err_t *err)
{
	SSL_CTX *c = SSL_CTX_new(method);
	if (!c) {
		char why[256];
		ssl_errstr(why, sizeof(why));
		sl_err_set(err, SL_EIO, false, "TLS context: %s", why);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | options);
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	return c;
}

/* Load a certificate chain and its key into c: 0, or SL_EINVAL naming
 * the file that failed. */
static int use_cert(SSL_CTX *c, const char *cert, const char *key, sl_err_t *err)
{
	char why[256];
	if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
		ssl_errstr(why, sizeof(why));
		return sl_err_set(err, SL_EINVAL, false, "TLS certificate %s: %s", cert, why);
	}
	if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
		ssl_errstr(why, sizeof(why));
		return sl_err_set(err, SL_EINVAL, false, "TLS key %s: %s", key, why);
	}
	if (SSL_CTX_check_private_key(c) != 1) {
		ERR_clear_error();
		return sl_err_set(err, SL_EINVAL, false, "TLS key %s does not match certificate %s", key, cert);
	}
	return 0;
}

static SSL_CTX *build(const char *cert, const char *key, sl_err_t *err)
{
	SSL_CTX *c = new_ctx(TLS_server_method(), SSL_OP_CIPHER_SERVER_PREFERENCE, err);
	if (c && use_cert(c, cert, key, err) != 0) {
		SSL_CTX_free(c);
		return NULL;
	}
	return c;
}

sl_tls_ctx_t *sl_tls_ctx_new(const char *cert_file, const char *key_file, sl_err_t *err)
{
	uv_once(&list_once, list_init);
	SSL_CTX *c = build(cert_file, key_file, err);
	if (!c)
		return NULL;
	sl_tls_ctx_t *ctx = sl_xcalloc(1, sizeof(*ctx));
	uv_mutex_init(&ctx->mu);
	ctx->cur = c;
	ctx->cert = sl_xstrdup(cert_file);
	ctx->key = sl_xstrdup(key_file);
	ctx->refs = 1;
	uv_mutex_lock(&list_mu);
	ctx->next = all;
	all = ctx;
	uv_mutex_unlock(&list_mu);
	return ctx;
}

int sl_tls_ctx_reload(sl_tls_ctx_t *ctx, sl_err_t *err)
{
	SSL_CTX *c = build(ctx->cert, ctx->key, err);
	if (!c)
		return SL_EINVAL;
	uv_mutex_lock(&ctx->mu);
	SSL_CTX *old = ctx->cur;
	ctx->cur = c;
	uv_mutex_unlock(&ctx->mu);
	SSL_CTX_free(old); /* open connections hold their own reference */
	return 0;
}

sl_tls_ctx_t *sl_tls_ctx_get_ref(sl_tls_ctx_t *ctx)
{
	uv_mutex_lock(&list_mu);
	ctx->refs++;
	uv_mutex_unlock(&list_mu);
	return ctx;
}

sl_tls_ctx_t *sl_tls_ctx_get(const char *cert_file, const char *key_file, sl_err_t *err)
{
	uv_once(&list_once, list_init);
	uv_mutex_lock(&list_mu);
	for (sl_tls_ctx_t *ctx = all; ctx; ctx = ctx->next)
		if (!strcmp(ctx->cert, cert_file) && !strcmp(ctx->key, key_file)) {
			ctx->refs++;
			uv_mutex_unlock(&list_mu);
			return ctx;
		}
	uv_mutex_unlock(&list_mu);
	/* Two loops starting at once may both build one: harmless (two
	 * contexts of the same files, each freed by its own holders). */
	return sl_tls_ctx_new(cert_file, key_file, err);
}

void sl_tls_ctx_free(sl_tls_ctx_t *ctx)
{
	if (!ctx)
		return;
	uv_mutex_lock(&list_mu);
	if (--ctx->refs > 0) {
		uv_mutex_unlock(&list_mu);
		return;
	}
	for (sl_tls_ctx_t **p = &all; *p; p = &(*p)->next)
		if (*p == ctx) {
			*p = ctx->next;
			break;
		}
	uv_mutex_unlock(&list_mu);
	SSL_CTX_free(ctx->cur);
	uv_mutex_destroy(&ctx->mu);
	free(ctx->cert);
	free(ctx->key);
	free(ctx);
}

void sl_tls_reload_all(void)
{
	uv_once(&list_once, list_init);
	uv_mutex_lock(&list_mu);
	for (sl_tls_ctx_t *ctx = all; ctx; ctx = ctx->next) {
		sl_err_t err = {0};
		if (sl_tls_ctx_reload(ctx, &err) == 0)
			sl_log_info("tls_reloaded", SL_KV(file, ctx->cert));
		else
			sl_log_error("tls_reload_failed", SL_KV(file, ctx->cert), SL_KV(error, err.msg));
	}
	uv_mutex_unlock(&list_mu);
}

/* ---- client contexts (rediss://) ---- */

sl_tls_ctx_t *sl_tls_client_ctx_new(const char *ca_file, const char *cert_file, const char *key_file, sl_err_t *err)
{
	SSL_CTX *c = new_ctx(TLS_client_method(), 0, err);
	if (!c)
		return NULL;
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	bool ca = ca_file && ca_file[0];
	if ((ca ? SSL_CTX_load_verify_locations(c, ca_file, NULL) : SSL_CTX_set_default_verify_paths(c)) != 1) {
		char why[256];
		ssl_errstr(why, sizeof(why));
		sl_err_set(err, SL_EINVAL, false, "TLS CA file %s: %s", ca ? ca_file : "(system)", why);
		SSL_CTX_free(c);
		return NULL;
	}
	if (cert_file && cert_file[0] && use_cert(c, cert_file, key_file, err) != 0) {
		SSL_CTX_free(c);
		return NULL;
	}
	sl_tls_ctx_t *ctx = sl_xcalloc(1, sizeof(*ctx));
	uv_mutex_init(&ctx->mu);
	ctx->cur = c;
	ctx->refs = 1; /* not in the list: nothing to reload */
	return ctx;
}

/* ---- connections ---- */

sl_tls_t *sl_tls_new(sl_tls_ctx_t *ctx, uv_stream_t *stream)
{
	sl_tls_t *t = sl_xcalloc(1, sizeof(*t));
	uv_mutex_lock(&ctx->mu);
	t->ssl = SSL_new(ctx->cur);
	uv_mutex_unlock(&ctx->mu);
	if (!t->ssl)
		sl_xoom(sizeof(SSL *));
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->rbio || !t->wbio)
		sl_xoom(0);
	/* An empty memory BIO says "retry" rather than EOF: more bytes may come. */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_accept_state(t->ssl);
	t->stream = stream;
	return t;
}

sl_tls_t *sl_tls_new_client(sl_tls_ctx_t *ctx, uv_stream_t *stream, const char *host)
{
	sl_tls_t *t = sl_tls_new(ctx, stream);
	t->client = true;
	SSL_set_connect_state(t->ssl);
	/* The certificate must name what we connected to: an address is
	 * checked against its IP entries, a name against its DNS entries
	 * (and sent as SNI). */
	X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
		ERR_clear_error();
		SSL_set_tlsext_host_name(t->ssl, host);
		SSL_set1_host(t->ssl, host);
	}
	return t;
}

static int flush(sl_tls_t *t, bool try_first, sl_tls_written_cb cb, void *ud, size_t *queued);

int sl_tls_start(sl_tls_t *t, sl_err_t *err)
{
	int r = SSL_do_handshake(t->ssl);
	if (r != 1) {
		int e = SSL_get_error(t->ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			char why[256];
			ssl_errstr(why, sizeof(why));
			t->failed = true;
			return sl_err_set(err, SL_EIO, false, "TLS: %s", why);
		}
	}
	if (flush(t, false, NULL, NULL, NULL) < 0)
		return sl_err_set(err, SL_EIO, false, "TLS: cannot write to the socket");
	return 0;
}

void sl_tls_free(sl_tls_t *t)
{
	if (!t)
		return;
	SSL_free(t->ssl); /* frees both BIOs */
	free(t);
}

static void write_cb(uv_write_t *w, int status)
{
	wreq_t *wr = sl_container_of(w, wreq_t, w);
	sl_tls_t *t = wr->t;
	t->pending -= wr->len;
	if (status < 0)
		t->failed = true;
	if (wr->cb)
		wr->cb(wr->ud, status, wr->len);
	free(wr);
}

/* Send what the SSL wrote to wbio. */
static int flush(sl_tls_t *t, bool try_first, sl_tls_written_cb cb, void *ud, size_t *queued)
{
	if (queued)
		*queued = 0;
	size_t n = BIO_ctrl_pending(t->wbio);
	if (n == 0)
		return 0;
	if (t->failed || uv_is_closing((uv_handle_t *)t->stream)) {
		/* Nowhere to send it: drop it, the connection is going. */
		char sink[4096];
		while (BIO_read(t->wbio, sink, sizeof(sink)) > 0)
			;
		return SL_EIO;
	}
	wreq_t *wr = sl_xmalloc(sizeof(*wr) + n);
	int got = BIO_read(t->wbio, wr->data, (int)n);
	if (got <= 0) {
		free(wr);
		return 0;
	}
	size_t off = 0, len = (size_t)got;
	if (try_first && t->pending == 0) {
		uv_buf_t b = uv_buf_init(wr->data, (unsigned)len);
		int r = uv_try_write(t->stream, &b, 1);
		if (r > 0)
			off = (size_t)r;
		else if (r != UV_EAGAIN && r != UV_ENOSYS && r < 0) {
			free(wr);
			t->failed = true;
			return SL_EIO;
		}
		if (off == len) {
			free(wr);
			return 0;
		}
	}
	if (off)
		memmove(wr->data, wr->data + off, len - off);
	wr->t = t;
	wr->cb = cb;
	wr->ud = ud;
	wr->len = len - off;
	uv_buf_t b = uv_buf_init(wr->data, (unsigned)wr->len);
	if (uv_write(&wr->w, t->stream, &b, 1, write_cb) < 0) {
		free(wr);
		t->failed = true;
		return SL_EIO;
	}
	t->pending += wr->len;
	if (queued)
		*queued = wr->len;
	return 0;
}

int sl_tls_read(sl_tls_t *t, const char *data, size_t len, sl_buf_t *plain, sl_err_t *err)
{
	if (t->failed)
		return sl_err_set(err, SL_EIO, false, "TLS connection failed earlier");
	while (len > 0) {
		int w = BIO_write(t->rbio, data, (int)(len > INT32_MAX ? INT32_MAX : len));
		if (w <= 0)
			return sl_err_set(err, SL_EIO, false, "TLS: out of memory for input");
		data += w;
		len -= (size_t)w;
	}
	int rc = 0;
	for (;;) {
		char buf[RECORD];
		int r = SSL_read(t->ssl, buf, sizeof(buf));
		if (r > 0) {
			sl_buf_append(plain, buf, (size_t)r);
			continue;
		}
		int e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			rc = sl_err_set(err, SL_ECLOSED, false, "TLS: the peer closed (close_notify)");
		} else {
			char why[256];
			ssl_errstr(why, sizeof(why));
			long v = t->client ? SSL_get_verify_result(t->ssl) : X509_V_OK;
			if (v != X509_V_OK)
				rc = sl_err_set(err, SL_EIO, false, "TLS: the server's certificate: %s",
						X509_verify_cert_error_string(v));
			else
				rc = sl_err_set(err, SL_EIO, false, "TLS: %s", why);
		}
		break;
	}
	/* Handshake messages, alerts, session tickets: send them now. Their
	 * writes report to nobody (the owner counts only its own). */
	if (flush(t, false, NULL, NULL, NULL) < 0 && rc == 0)
		rc = sl_err_set(err, SL_EIO, false, "TLS: cannot write to the socket");
	if (rc == SL_EIO)
		t->failed = true;
	return rc;
}

int sl_tls_write(sl_tls_t *t, const uv_buf_t *bufs, unsigned n, bool try_first, sl_tls_written_cb cb, void *ud,
		 size_t *queued)
{
	if (queued)
		*queued = 0;
	if (t->failed)
		return SL_EIO;
	char rec[RECORD];
	size_t fill = 0;
	for (unsigned i = 0; i <= n; i++) {
		const char *p = i < n ? bufs[i].base : NULL;
		size_t len = i < n ? bufs[i].len : 0;
		do {
			size_t take = RECORD - fill < len ? RECORD - fill : len;
			/* Large pieces go straight in; small ones are gathered. */
			if (fill == 0 && len >= RECORD) {
				take = RECORD;
				if (SSL_write(t->ssl, p, (int)take) != (int)take)
					goto fail;
			} else if (take) {
				memcpy(rec + fill, p, take);
				fill += take;
			}
			p += take;
			len -= take;
			if (fill == RECORD || (i == n && fill > 0)) {
				if (SSL_write(t->ssl, rec, (int)fill) != (int)fill)
					goto fail;
				fill = 0;
			}
		} while (len > 0);
	}
	return flush(t, try_first, cb, ud, queued);
fail:
	ERR_clear_error();
	t->failed = true;
	return SL_EIO;
}

size_t sl_tls_pending(const sl_tls_t *t)
{
	return t->pending;
}

bool sl_tls_handshake_done(const sl_tls_t *t)
{
	return SSL_is_init_finished(t->ssl);
}

const char *sl_tls_version(const sl_tls_t *t)
{
	return SSL_is_init_finished(t->ssl) ? SSL_get_version(t->ssl) : "";
}
