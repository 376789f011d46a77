/* fuzz_ws.c: libFuzzer target: the WebSocket reader (src/proto/ws.c) and
 * its frame prescan against wslay.
 *
 * The reader frees its wslay context whenever the input ends on a message
 * boundary, as its own prescan of the frame headers tells; if the prescan
 * and wslay ever disagreed, a context would be freed mid-frame and what
 * follows would be read wrongly. So the input (after a first byte choosing
 * a read size) is fed in reads of that size twice: to the reader, and to a
 * plain wslay context that lives through the whole input (the reference).
 * Both see the same reads, so wslay judges the same way in both; any
 * difference (messages, their bytes, pings, the bytes sent back, the close
 * code) is the prescan's. Messages are bounded by max_message (1024 here,
 * the publisher's --max-client-message-bytes in production).
 * It found that a pong whose payload was the bytes 88 00 was taken for a
 * bare close frame (tests/corpus/ws/fuzz-ping-payload-like-close).
 * How it fits: `make fuzz` runs it; `make test` replays tests/corpus/ws/.
 */
#include "proto/ws.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

/* FUZZ_WS_DEBUG=1 prints both sides' output and totals (to read a crash). */
static bool debug(void)
{
	static int on = -1;
	if (on < 0)
		on = getenv("FUZZ_WS_DEBUG") != NULL;
	return on;
}

typedef struct sink {
	size_t messages, message_bytes, out_bytes, pings;
	uint64_t hash;
} sink_t;

static void on_message(void *ud, uint8_t opcode, const uint8_t *data, size_t len)
{
	sink_t *s = ud;
	s->messages++;
	s->message_bytes += len;
	s->hash = s->hash * 31 + opcode;
	for (size_t i = 0; i < len; i++)
		s->hash = s->hash * 131 + data[i];
}

static void on_output(void *ud, const uint8_t *data, size_t len)
{
	sink_t *s = ud;
	s->out_bytes += len;
	if (debug()) {
		fprintf(stderr, "out %p:", ud);
		for (size_t i = 0; i < len; i++)
			fprintf(stderr, " %02x", data[i]);
		fprintf(stderr, "\n");
	}
	for (size_t i = 0; i < len; i++)
		s->hash = s->hash * 137 + data[i];
}

static void on_ping(void *ud)
{
	((sink_t *)ud)->pings++;
}

static const sl_ws_reader_cbs_t cbs = {on_message, on_output, on_ping};

/* Feed in steps of `step` bytes until a close; returns the close code (0: open). */
static int run(const uint8_t *data, size_t len, size_t step, sink_t *s)
{
	sl_ws_reader_t *rd = NULL;
	int code = 0;
	for (size_t off = 0; off < len;) {
		size_t n = len - off < step ? len - off : step;
		uint16_t cc = 0;
		int rc = sl_ws_reader_feed(&rd, &cbs, s, 1024, (const char *)data + off, n, &cc);
		off += n;
		if (rc != SL_WS_OPEN) {
			code = rc == SL_WS_CLOSING ? cc : -1;
			break;
		}
	}
	sl_ws_reader_free(rd);
	return code;
}

/* ---- the reference: one wslay context for the whole input ---- */
typedef struct ref {
	sink_t *s;
	const uint8_t *in;
	size_t left;
} ref_t;

static ssize_t ref_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
	(void)flags;
	ref_t *r = ud;
	if (!r->left) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = len < r->left ? len : r->left;
	memcpy(buf, r->in, n);
	r->in += n;
	r->left -= n;
	return (ssize_t)n;
}

static ssize_t ref_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
	(void)ctx;
	(void)flags;
	on_output(((ref_t *)ud)->s, data, len);
	return (ssize_t)len;
}

static void ref_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
	(void)ctx;
	ref_t *r = ud;
	if (arg->opcode == WSLAY_PING)
		on_ping(r->s);
	if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
		on_message(r->s, arg->opcode, arg->msg, arg->msg_length);
}

/* Returns 1 when the reference sent a close (or failed), 0 while open. */
static int run_ref(const uint8_t *data, size_t len, size_t step, sink_t *s)
{
	static const struct wslay_event_callbacks wcbs = {.recv_callback = ref_recv, .send_callback = ref_send,
							  .on_msg_recv_callback = ref_msg};
	ref_t r = {s, NULL, 0};
	wslay_event_context_ptr ctx;
	if (wslay_event_context_server_init(&ctx, &wcbs, &r) != 0)
		abort();
	wslay_event_config_set_max_recv_msg_length(ctx, 1024);
	int closed = 0;
	for (size_t off = 0; off < len && !closed;) {
		size_t n = len - off < step ? len - off : step;
		r.in = data + off;
		r.left = n;
		off += n;
		int rc = wslay_event_recv(ctx);
		int wrc = wslay_event_want_write(ctx) ? wslay_event_send(ctx) : 0;
		if (wslay_event_get_close_sent(ctx) || rc != 0 || wrc != 0)
			closed = 1;
	}
	wslay_event_context_free(ctx);
	return closed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	sink_t ours = {0}, ref = {0};
	int a = run(data + 1, size - 1, step, &ours);
	int b = run_ref(data + 1, size - 1, step, &ref);
	if (debug())
		fprintf(stderr, "ours: close=%d msgs=%zu bytes=%zu pings=%zu out=%zu\nref:  close=%d msgs=%zu bytes=%zu pings=%zu out=%zu\n",
			a, ours.messages, ours.message_bytes, ours.pings, ours.out_bytes, b, ref.messages,
			ref.message_bytes, ref.pings, ref.out_bytes);
	if ((a != 0) != (b != 0) || ours.messages != ref.messages || ours.message_bytes != ref.message_bytes ||
	    ours.pings != ref.pings)
		abort();
	/* Bytes sent back: the same, but where ws.c replaces a code-less close
	 * frame of wslay's with an explicit 1002 (2 bytes longer). */
	if (ours.out_bytes != ref.out_bytes && ours.out_bytes != ref.out_bytes + 2)
		abort();
	if (sl_ws_reader_live() != 0)
		abort();
	return 0;
}
