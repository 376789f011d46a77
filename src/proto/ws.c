/* ws.c: WebSocket handshake and client-frame reader (see ws.h).
 *
 * The handshake follows RFC 6455 section 4.2.1 to the letter, checking the
 * cheap things first. The reader wraps a wslay server context whose recv
 * callback hands over the bytes of the current read and whose send callback
 * passes wslay's control replies to the caller; a prescan of frame headers
 * (section 5.2) finds message boundaries so the context can be dropped.
 */
#include "proto/ws.h"

#include "core/alloc.h"
#include "core/base64.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* True when the comma-separated header value has this token (case-insensitive). */
static bool has_token(const char *value, const char *token)
{
	size_t tl = strlen(token);
	const char *s = value;
	while (s && *s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		const char *e = s;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - s) == tl && !strncasecmp(s, token, tl))
			return true;
		s = e;
	}
	return false;
}

static bool valid_key(const char *key)
{
	/* 16 bytes in base64: 22 significant characters then "==". */
	if (strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return false;
	unsigned char out[21]; /* sl_base64_decoded_max(24) */
	/* Any bits after the 16th byte: RFC 6455 asks for 16 random bytes,
	 * not a canonical spelling. */
	return sl_base64_decode(key, 24, SL_BASE64_ANY_BITS, out, NULL) == 16;
}

static int reject(sl_ws_reject_t *rej, int status, const char *code, const char *message)
{
	rej->status = status;
	rej->code = code;
	rej->message = message;
	return -1;
}

int sl_ws_handshake_check(const sl_http_req_t *req, sl_ws_reject_t *rej)
{
	if (strcmp(sl_http_req_method(req), "GET") != 0)
		return reject(rej, 405, "method_not_allowed", "a WebSocket handshake is a GET request");
	const char *upgrade = sl_http_req_header(req, "upgrade");
	const char *conn = sl_http_req_header(req, "connection");
	if (!upgrade || !has_token(upgrade, "websocket") || !conn || !has_token(conn, "upgrade"))
		return reject(rej, 426, "upgrade_required",
			      "this endpoint speaks WebSocket: send Upgrade: websocket and Connection: Upgrade");
	const char *version = sl_http_req_header(req, "sec-websocket-version");
	if (!version || strcmp(version, "13") != 0)
		return reject(rej, 426, "bad_websocket_version", "Sec-WebSocket-Version must be 13");
	const char *key = sl_http_req_header(req, "sec-websocket-key");
	if (!key)
		return reject(rej, 400, "missing_websocket_key", "Sec-WebSocket-Key is missing");
	if (!valid_key(key))
		return reject(rej, 400, "bad_websocket_key", "Sec-WebSocket-Key must be 16 bytes in base64");
	return 0;
}

void sl_ws_accept_key(const char *key, char out[29])
{
	unsigned char digest[SHA_DIGEST_LENGTH];
	char buf[128];
	size_t kl = strlen(key);
	if (kl > sizeof(buf) - sizeof(WS_GUID))
		kl = sizeof(buf) - sizeof(WS_GUID);
	memcpy(buf, key, kl);
	memcpy(buf + kl, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1((const unsigned char *)buf, kl + sizeof(WS_GUID) - 1, digest);
	sl_buf_t b = SL_BUF_INIT;
	sl_base64_encode(&b, digest, SHA_DIGEST_LENGTH, 0); /* 28 characters */
	memcpy(out, b.data, 28);
	out[28] = '\0';
	sl_buf_free(&b);
}

void sl_ws_handshake_response(const char *key, const char *extra, sl_buf_t *out)
{
	char accept[29];
	sl_ws_accept_key(key, accept);
	sl_buf_printf(out,
		      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Accept: %s\r\n%s\r\n",
		      accept, extra ? extra : "");
}

/* ---- reader ---- */

/* Where a byte stream of frames is: inside a header, or in a payload. */
typedef struct sl_ws_scan {
	uint8_t hdr[14];
	uint8_t hdr_len;
	uint64_t payload_left;
} sl_ws_scan_t;

struct sl_ws_reader {
	wslay_event_context_ptr ctx;
	const sl_ws_reader_cbs_t *cbs;
	void *ud;
	const uint8_t *in; /* the bytes of the current feed */
	size_t in_left;
	sl_ws_scan_t in_scan;  /* frame boundaries of what the client sent */
	sl_ws_scan_t out_scan; /* ... and of what wslay writes back */
	bool in_fragmented;
	bool peer_closed;  /* the client sent a close frame */
	bool failed;       /* wslay failed the connection with a bare close */
};

/* Per thread: a reader lives on its connection's loop thread. */
static _Thread_local long live_readers;

long sl_ws_reader_live(void)
{
	return live_readers;
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user_data)
{
	(void)flags;
	sl_ws_reader_t *rd = user_data;
	if (!rd->in_left) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = len < rd->in_left ? len : rd->in_left;
	memcpy(buf, rd->in, n);
	rd->in += n;
	rd->in_left -= n;
	return (ssize_t)n;
}

static void scan(sl_ws_scan_t *sc, const uint8_t *p, size_t n, bool *fragmented);

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user_data)
{
	(void)ctx;
	(void)flags;
	sl_ws_reader_t *rd = user_data;
	/* Only at a frame boundary: wslay writes a header and its payload in
	 * separate calls, so the two bytes 88 00 may be a pong's payload. */
	bool boundary = !rd->out_scan.hdr_len && !rd->out_scan.payload_left;
	if (boundary && len == 2 && data[0] == 0x88 && data[1] == 0 && !rd->peer_closed) {
		/* wslay fails some frame-level errors (a fragmented control frame,
		 * for one) with a close frame that carries no code: say 1002. */
		static const uint8_t close_1002[] = {0x88, 0x02, 0x03, 0xea};
		rd->failed = true;
		rd->cbs->on_output(rd->ud, close_1002, sizeof(close_1002));
		return (ssize_t)len;
	}
	scan(&rd->out_scan, data, len, NULL);
	rd->cbs->on_output(rd->ud, data, len);
	return (ssize_t)len;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user_data)
{
	(void)ctx;
	sl_ws_reader_t *rd = user_data;
	if (arg->opcode == WSLAY_CONNECTION_CLOSE)
		rd->peer_closed = true;
	if (arg->opcode == WSLAY_PING && rd->cbs->on_ping)
		rd->cbs->on_ping(rd->ud);
	if ((arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) && rd->cbs->on_message)
		rd->cbs->on_message(rd->ud, arg->opcode, arg->msg, arg->msg_length);
}

/* Advance a boundary scan over data (RFC 6455 section 5.2 header layout);
 * fragmented, when given, follows whether a data message is unfinished. */
static void scan(sl_ws_scan_t *sc, const uint8_t *p, size_t n, bool *fragmented)
{
	while (n > 0) {
		if (sc->payload_left) {
			size_t k = sc->payload_left < n ? (size_t)sc->payload_left : n;
			sc->payload_left -= k;
			p += k;
			n -= k;
			continue;
		}
		sc->hdr[sc->hdr_len++] = *p++;
		n--;
		if (sc->hdr_len < 2)
			continue;
		uint8_t l7 = sc->hdr[1] & 0x7f;
		size_t need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((sc->hdr[1] & 0x80) ? 4 : 0);
		if (sc->hdr_len < need)
			continue;
		uint64_t plen = l7;
		if (l7 == 126)
			plen = ((uint64_t)sc->hdr[2] << 8) | sc->hdr[3];
		else if (l7 == 127)
			for (int i = 0; i < 8; i++)
				plen = (plen << 8) | sc->hdr[2 + i];
		uint8_t opcode = sc->hdr[0] & 0x0f;
		bool fin = sc->hdr[0] & 0x80;
		if (opcode < 0x8 && fragmented)
			*fragmented = !fin;
		sc->payload_left = plen;
		sc->hdr_len = 0;
	}
}

void sl_ws_reader_free(sl_ws_reader_t *rd)
{
	if (!rd)
		return;
	wslay_event_context_free(rd->ctx);
	free(rd);
	live_readers--;
}

int sl_ws_reader_feed(sl_ws_reader_t **rdp, const sl_ws_reader_cbs_t *cbs, void *ud, size_t max_message,
		      const char *data, size_t len, uint16_t *close_code)
{
	static const struct wslay_event_callbacks wcbs = {
		.recv_callback = recv_cb,
		.send_callback = send_cb,
		.on_msg_recv_callback = msg_cb,
	};
	sl_ws_reader_t *rd = *rdp;
	if (!rd) {
		rd = sl_xcalloc(1, sizeof(*rd));
		if (wslay_event_context_server_init(&rd->ctx, &wcbs, rd) != 0) {
			free(rd);
			return -1;
		}
		wslay_event_config_set_max_recv_msg_length(rd->ctx, max_message);
		live_readers++;
		*rdp = rd;
	}
	rd->cbs = cbs;
	rd->ud = ud;
	rd->in = (const uint8_t *)data;
	rd->in_left = len;
	scan(&rd->in_scan, (const uint8_t *)data, len, &rd->in_fragmented);
	int rc = wslay_event_recv(rd->ctx);
	/* Even on a failed read wslay may have queued a close frame with the
	 * reason (RFC 6455 section 7.1.7 "fail the connection"): send it. */
	int wrc = wslay_event_want_write(rd->ctx) ? wslay_event_send(rd->ctx) : 0;
	if (wslay_event_get_close_sent(rd->ctx)) {
		*close_code = rd->failed ? 1002 : wslay_event_get_status_code_sent(rd->ctx);
		return SL_WS_CLOSING;
	}
	if (rc != 0 || wrc != 0) {
		/* No close frame went out: say why ourselves (protocol error). */
		static const uint8_t close_1002[] = {0x88, 0x02, 0x03, 0xea};
		cbs->on_output(ud, close_1002, sizeof(close_1002));
		*close_code = 1002;
		return SL_WS_CLOSING;
	}
	if (!rd->in_scan.payload_left && !rd->in_scan.hdr_len && !rd->in_fragmented) {
		sl_ws_reader_free(rd);
		*rdp = NULL;
	}
	return SL_WS_OPEN;
}
