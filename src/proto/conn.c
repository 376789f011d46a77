/* conn.c: the client out-queue and its batched writer (see conn.h).
 *
 * The queue is a ring of frame pointers: four inline slots at rest, grown by
 * doubling (up to the hard limit) only while a client has a backlog, and
 * shrunk back when it empties. The frames at the head that a pending
 * uv_write covers (`inflight`) are never conflated or dropped: libuv still
 * reads their bytes. One flush writes at most BATCH frames per system call.
 */
#include "proto/conn.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "proto/http.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define BATCH 64

/* libuv lays uv_buf_t out as struct iovec on Unix (uv-unix.h): the
 * gathered buffers go to sendmsg as they are. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec) && offsetof(uv_buf_t, base) == offsetof(struct iovec, iov_base) &&
		       offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len),
	       "uv_buf_t is not a struct iovec");

typedef struct wreq {
	uv_write_t w;
	sl_conn_t *conn;
} wreq_t;

static void check_cb(uv_check_t *h)
{
	sl_conn_ctx_flush(sl_container_of(h, sl_conn_ctx_t, check));
}

void sl_conn_ctx_init(sl_conn_ctx_t *ctx, uv_loop_t *loop, const sl_conn_limits_t *lim, sl_conn_free_cb free_cb,
		      void *arg)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->loop = loop;
	ctx->lim = *lim;
	if (ctx->lim.hard < ctx->lim.soft)
		ctx->lim.hard = ctx->lim.soft;
	ctx->free_cb = free_cb;
	ctx->free_arg = arg;
	uv_check_init(loop, &ctx->check);
	uv_check_start(&ctx->check, check_cb);
	uv_unref((uv_handle_t *)&ctx->check);
	ctx->m_msgs_out = sl_metric_counter("sluice_publisher_messages_out_total", "",
					    "Messages written to client sockets (one per recipient).");
	ctx->m_bytes_out = sl_metric_counter("sluice_publisher_bytes_out_total", "", "Bytes written to client sockets.");
	ctx->m_conflated = sl_metric_counter("sluice_publisher_conflated_total", "",
					     "Queued updates replaced by a newer update of the same market (slow clients).");
	ctx->m_dropped = sl_metric_counter("sluice_publisher_dropped_total", "",
					   "Queued frames discarded when a client was closed (hard limit, shutdown).");
	ctx->m_slow_closed = sl_metric_counter("sluice_publisher_slow_clients_closed_total", "",
					       "Clients closed because their queue passed the hard limit.");
	ctx->m_writev = sl_metric_counter("sluice_publisher_socket_writes_total", "",
					  "Socket write calls (each carries one or more frames).");
	ctx->m_latency = sl_metric_histogram("sluice_publisher_e2e_latency_ms", "",
					     "From an update's ts (Kafka record time) to its frame being written, ms.",
					     sl_metric_latency_ms_bounds, sl_metric_latency_ms_nbounds);
}

void sl_conn_ctx_close(sl_conn_ctx_t *ctx)
{
	if (!uv_is_closing((uv_handle_t *)&ctx->check))
		uv_close((uv_handle_t *)&ctx->check, NULL);
}

void sl_conn_ctx_flush(sl_conn_ctx_t *ctx)
{
	/* Flushing may close a connection, never add one to this list. */
	sl_conn_t *c = ctx->dirty;
	ctx->dirty = NULL;
	while (c) {
		sl_conn_t *next = c->dirty_next;
		c->dirty = false;
		c->dirty_next = NULL;
		sl_conn_flush(c);
		c = next;
	}
}

void sl_conn_init(sl_conn_t *conn, sl_conn_ctx_t *ctx, uv_stream_t *stream, sl_wire_t wire)
{
	memset(conn, 0, sizeof(*conn));
	conn->ctx = ctx;
	conn->stream = stream;
	conn->tls = stream ? sl_http_stream_tls(stream) : NULL;
	conn->wire = (uint8_t)wire;
	conn->q = conn->inline_q;
	conn->qcap = SL_CONN_INLINE_SLOTS;
}

static inline sl_frame_t **slot(sl_conn_t *c, uint32_t i)
{
	return &c->q[(c->qhead + i) & (c->qcap - 1)];
}

static void mark_dirty(sl_conn_t *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = c->ctx->dirty;
	c->ctx->dirty = c;
}

static void grow(sl_conn_t *c)
{
	uint32_t ncap = c->qcap * 2;
	sl_frame_t **nq = sl_xmalloc(ncap * sizeof(*nq));
	for (uint32_t i = 0; i < c->qlen; i++)
		nq[i] = *slot(c, i);
	if (c->q != c->inline_q)
		free(c->q);
	c->q = nq;
	c->qcap = ncap;
	c->qhead = 0;
}

static void append(sl_conn_t *c, sl_frame_t *fr)
{
	if (c->qlen == c->qcap)
		grow(c);
	*slot(c, c->qlen) = sl_frame_ref(fr);
	c->qlen++;
	c->ctx->queued++;
	mark_dirty(c);
}

static void pop_head(sl_conn_t *c)
{
	sl_frame_unref(*slot(c, 0));
	c->qhead = (c->qhead + 1) & (c->qcap - 1);
	c->qlen--;
	c->ctx->queued--;
	if (c->backlog_since_ms && c->qlen < c->ctx->lim.soft / 2)
		c->backlog_since_ms = 0;
	if (c->qlen == 0 && c->q != c->inline_q) {
		free(c->q);
		c->q = c->inline_q;
		c->qcap = SL_CONN_INLINE_SLOTS;
		c->qhead = 0;
	}
}

/* Drop every queued frame that no write covers; returns how many. */
static uint32_t drop_queued(sl_conn_t *c)
{
	uint32_t n = 0;
	while (c->qlen > c->inflight) {
		uint32_t last = c->qlen - 1;
		sl_frame_unref(*slot(c, last));
		c->qlen--;
		c->ctx->queued--;
		n++;
	}
	if (c->qlen == 0 && c->q != c->inline_q) {
		free(c->q);
		c->q = c->inline_q;
		c->qcap = SL_CONN_INLINE_SLOTS;
		c->qhead = 0;
	}
	sl_metric_add(c->ctx->m_dropped, n);
	return n;
}

int sl_conn_push(sl_conn_t *conn, sl_frame_t *fr)
{
	if (conn->state != SL_CONN_OPEN)
		return SL_ECLOSED;
	const sl_conn_limits_t *lim = &conn->ctx->lim;
	if (conn->qlen >= lim->soft && !conn->backlog_since_ms)
		conn->backlog_since_ms = (uint64_t)sl_clock_mono_ms();
	if (conn->qlen >= lim->soft && fr->kind == SL_FRAME_UPDATE && fr->market_len) {
		for (uint32_t i = conn->inflight; i < conn->qlen; i++) {
			sl_frame_t **s = slot(conn, i);
			if (sl_frame_same_market(*s, fr)) {
				sl_frame_unref(*s);
				*s = sl_frame_ref(fr);
				sl_metric_add(conn->ctx->m_conflated, 1);
				return 1;
			}
		}
	}
	if (conn->qlen >= lim->hard) {
		sl_metric_add(conn->ctx->m_slow_closed, 1);
		sl_conn_close(conn, 1013, "slow consumer: queue over the hard limit", false);
		return SL_EFULL;
	}
	append(conn, fr);
	return 0;
}

int sl_conn_push_ctl(sl_conn_t *conn, sl_frame_t *fr)
{
	if (conn->state != SL_CONN_OPEN)
		return SL_ECLOSED;
	append(conn, fr);
	return 0;
}

void sl_conn_close(sl_conn_t *conn, uint16_t code, const char *reason, bool drain)
{
	if (conn->state != SL_CONN_OPEN)
		return;
	conn->state = SL_CONN_CLOSING;
	conn->close_code = code;
	conn->closing_since_ms = (uint64_t)sl_clock_mono_ms();
	if (!drain)
		drop_queued(conn);
	if (conn->wire == SL_WIRE_WS && conn->stream) {
		sl_frame_t *fr = sl_frame_new_close(code, reason);
		append(conn, fr);
		sl_frame_unref(fr);
	}
	conn->drain_then_close = true;
	mark_dirty(conn);
}

void sl_conn_finish(sl_conn_t *conn)
{
	if (conn->state != SL_CONN_OPEN)
		return;
	conn->state = SL_CONN_CLOSING;
	conn->closing_since_ms = (uint64_t)sl_clock_mono_ms();
	conn->drain_then_close = true;
	mark_dirty(conn);
}

bool sl_conn_is_stuck(const sl_conn_t *conn, uint64_t now_ms, uint64_t limit_ms)
{
	return conn->state == SL_CONN_OPEN && conn->backlog_since_ms && now_ms - conn->backlog_since_ms >= limit_ms;
}

void sl_conn_abort(sl_conn_t *conn)
{
	if (conn->state == SL_CONN_OPEN) {
		conn->state = SL_CONN_CLOSING;
		conn->closing_since_ms = (uint64_t)sl_clock_mono_ms();
	}
	if (conn->stream)
		sl_http_hijack_close(conn->stream); /* calls back sl_conn_socket_closed: conn may be gone */
}

static void maybe_free(sl_conn_t *c)
{
	if (c->state == SL_CONN_CLOSED && !c->write_pending && !c->dirty && !c->tls_writes)
		c->ctx->free_cb(c, c->ctx->free_arg);
}

void sl_conn_socket_closed(sl_conn_t *conn)
{
	conn->stream = NULL;
	conn->state = SL_CONN_CLOSED;
	drop_queued(conn);
	if (conn->dirty) {
		/* Unlink from the dirty list so a flush never sees freed memory. */
		sl_conn_t **pp = &conn->ctx->dirty;
		while (*pp && *pp != conn)
			pp = &(*pp)->dirty_next;
		if (*pp)
			*pp = conn->dirty_next;
		conn->dirty = false;
		conn->dirty_next = NULL;
	}
	maybe_free(conn);
}

/* Fill bufs with up to BATCH frames from the head (skipping head_off bytes). */
static unsigned gather(sl_conn_t *c, uv_buf_t *bufs, uint32_t *nframes, size_t *total)
{
	unsigned nb = 0;
	size_t skip = c->head_off, sum = 0;
	uint32_t k = 0;
	for (; k < c->qlen && k < BATCH; k++) {
		sl_iov_t iov[SL_FRAME_MAX_IOV];
		size_t n = sl_frame_iov(*slot(c, k), (sl_wire_t)c->wire, iov);
		for (size_t i = 0; i < n; i++) {
			const char *base = iov[i].base;
			size_t len = iov[i].len;
			if (skip) {
				size_t s = skip < len ? skip : len;
				base += s;
				len -= s;
				skip -= s;
			}
			if (!len)
				continue;
			bufs[nb++] = uv_buf_init((char *)base, (unsigned)len);
			sum += len;
		}
	}
	*nframes = k;
	*total = sum;
	return nb;
}

/* n bytes of the head frames reached the kernel: pop the complete ones. */
static void consume(sl_conn_t *c, size_t n, double now_ms)
{
	sl_conn_ctx_t *ctx = c->ctx;
	sl_metric_add(ctx->m_bytes_out, (double)n);
	n += c->head_off;
	c->head_off = 0;
	while (c->qlen) {
		sl_frame_t *fr = *slot(c, 0);
		size_t wl = sl_frame_wire_len(fr, (sl_wire_t)c->wire);
		if (n < wl) {
			c->head_off = n;
			return;
		}
		n -= wl;
		if (fr->kind != SL_FRAME_RAW && fr->kind != SL_FRAME_CONTROL) {
			sl_metric_add(ctx->m_msgs_out, 1);
			if (fr->ts > 0)
				sl_metric_observe(ctx->m_latency, now_ms - (double)fr->ts);
		}
		if (c->inflight)
			c->inflight--;
		pop_head(c);
	}
}

static void after_drained(sl_conn_t *c)
{
	if (c->qlen == 0 && c->drain_then_close && c->stream)
		sl_conn_abort(c);
}

static void write_cb(uv_write_t *w, int status)
{
	wreq_t *wr = sl_container_of(w, wreq_t, w);
	sl_conn_t *c = wr->conn;
	free(wr);
	c->write_pending = false;
	if (status < 0) {
		while (c->inflight) {
			c->inflight--;
			pop_head(c);
		}
		c->head_off = 0;
		if (c->stream)
			sl_conn_abort(c);
		else
			maybe_free(c);
		return;
	}
	/* libuv wrote everything it was given: the inflight frames are out. */
	size_t bytes = 0;
	for (uint32_t i = 0; i < c->inflight; i++)
		bytes += sl_frame_wire_len(*slot(c, i), (sl_wire_t)c->wire);
	bytes -= c->head_off;
	c->inflight = 0;
	consume(c, bytes, sl_clock_wall_ms_f());
	if (!c->stream) {
		maybe_free(c);
		return;
	}
	sl_conn_flush(c);
}

static void tls_written_cb(void *ud, int status, size_t bytes)
{
	(void)bytes;
	sl_conn_t *c = ud;
	c->tls_writes--;
	if (!c->stream) {
		c->write_pending = false;
		maybe_free(c);
		return;
	}
	if (status < 0) {
		c->write_pending = false;
		sl_conn_abort(c);
		return;
	}
	if (c->write_pending && sl_tls_pending(c->tls) <= SL_CONN_TLS_HIGH / 2) {
		c->write_pending = false;
		sl_conn_flush(c);
	}
}

/* The TLS writer: batches are encrypted and leave the queue at once; it
 * waits (write_pending) while the socket holds too much ciphertext, and
 * before a drain-then-close until all of it is written. */
static void flush_tls(sl_conn_t *c)
{
	uv_buf_t bufs[BATCH * SL_FRAME_MAX_IOV];
	double now = sl_clock_wall_ms_f();
	while (c->qlen) {
		if (sl_tls_pending(c->tls) > SL_CONN_TLS_HIGH) {
			c->write_pending = true;
			return;
		}
		uint32_t nframes;
		size_t total, queued = 0;
		unsigned nb = gather(c, bufs, &nframes, &total);
		sl_metric_add(c->ctx->m_writev, 1);
		if (sl_tls_write(c->tls, bufs, nb, true, tls_written_cb, c, &queued) < 0) {
			sl_conn_abort(c);
			return;
		}
		if (queued)
			c->tls_writes++;
		consume(c, total, now);
	}
	if (c->drain_then_close && sl_tls_pending(c->tls) > 0) {
		c->write_pending = true; /* the close frame is not out yet */
		return;
	}
	after_drained(c);
}

/* uv_try_write without its writev: sendmsg on the socket itself. The
 * socket path skips the VFS layers writev goes through (vfs_writev,
 * fdget_pos, sock_write_iter: 14 % of the publisher's CPU in a profile):
 * about 4 % more messages per publisher CPU-second, measured side by
 * side (docs/benchmarks-pipeline.md). Only called with libuv's write
 * queue empty (no write_pending), as uv_try_write requires too, so bytes
 * keep their order. Not a socket (a pipe in a test): uv_try_write. */
static int try_send(sl_conn_t *c, uv_buf_t *bufs, unsigned nb)
{
	uv_os_fd_t fd;
	if (c->not_socket || uv_fileno((uv_handle_t *)c->stream, &fd) < 0)
		return uv_try_write(c->stream, bufs, nb);
	struct msghdr mh = {.msg_iov = (struct iovec *)bufs, .msg_iovlen = nb};
	ssize_t n;
	do
		n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return UV_EAGAIN;
	if (errno == ENOTSOCK) {
		c->not_socket = true;
		return uv_try_write(c->stream, bufs, nb);
	}
	return -errno; /* libuv's error codes are negated errno on Unix */
}

void sl_conn_flush(sl_conn_t *c)
{
	if (!c->stream || c->write_pending)
		return;
	if (c->tls) {
		flush_tls(c);
		return;
	}
	uv_buf_t bufs[BATCH * SL_FRAME_MAX_IOV];
	double now = sl_clock_wall_ms_f();
	while (c->qlen) {
		uint32_t nframes;
		size_t total;
		unsigned nb = gather(c, bufs, &nframes, &total);
		int r = nb ? try_send(c, bufs, nb) : 0;
		sl_metric_add(c->ctx->m_writev, 1);
		if (r == UV_EAGAIN || r == UV_ENOSYS)
			r = 0;
		if (r < 0) {
			sl_conn_abort(c);
			return;
		}
		consume(c, (size_t)r, now);
		if ((size_t)r == total)
			continue;
		/* The socket is full: hand the rest to libuv and wait. */
		nb = gather(c, bufs, &nframes, &total);
		wreq_t *wr = sl_xmalloc(sizeof(*wr));
		wr->conn = c;
		if (uv_write(&wr->w, c->stream, bufs, nb, write_cb) < 0) {
			free(wr);
			sl_conn_abort(c);
			return;
		}
		c->inflight = nframes;
		c->write_pending = true;
		return;
	}
	after_drained(c);
}
