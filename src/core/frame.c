/* frame.c: refcounted shared frames (see frame.h).
 *
 * One allocation per frame: the struct and its payload (flexible array). The
 * SSE form is a second allocation made only for payloads with line breaks.
 * Classification is a prefix match on the fixed key order the reducer and
 * the API use (docs/protocol.md); anything else is forwarded untouched as
 * SL_FRAME_OTHER, so a message we do not understand is never lost.
 */
#include "core/frame.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

/* Per thread: a frame lives and dies on the loop thread that made it. */
static _Thread_local long live_frames;

static const char SSE_PREFIX[] = "data: ";
static const char SSE_END[] = "\n\n";

long sl_frame_live(void)
{
	return live_frames;
}

size_t sl_frame_ws_header(uint8_t *out, uint8_t opcode, uint64_t len)
{
	out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

static sl_frame_t *frame_alloc(const char *data, size_t len, sl_frame_kind_t kind)
{
	sl_frame_t *fr = sl_xmalloc(sizeof(*fr) + len + 1);
	fr->refs = 1;
	fr->kind = (uint8_t)kind;
	fr->ws_hdr_len = 0;
	fr->market_len = 0;
	fr->ts = 0;
	fr->sse = NULL;
	fr->sse_len = 0;
	fr->len = len;
	if (len)
		memcpy(fr->data, data, len);
	fr->data[len] = '\0';
	live_frames++;
	return fr;
}

static bool has_prefix(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && !memcmp(s, lit, l);
}

/* The last `"ts":<digits>` of the message: an update ends with it. */
static int64_t find_ts(const char *s, size_t n)
{
	static const char key[] = "\"ts\":";
	const size_t kl = sizeof(key) - 1;
	if (n < kl + 1)
		return 0;
	for (size_t i = n - kl; i-- > 0;) {
		if (s[i] != '"' || memcmp(s + i, key, kl) != 0)
			continue;
		int64_t v = 0;
		size_t j = i + kl;
		bool any = false;
		while (j < n && s[j] >= '0' && s[j] <= '9' && v < (INT64_MAX / 10 - 9)) {
			v = v * 10 + (s[j++] - '0');
			any = true;
		}
		return any ? v : 0;
	}
	return 0;
}

static void classify(sl_frame_t *fr)
{
	static const char upd[] = "{\"type\":\"update\",\"market\":\"";
	const char *s = fr->data;
	size_t n = fr->len;
	if (has_prefix(s, n, upd)) {
		const char *m = s + sizeof(upd) - 1;
		const char *end = memchr(m, '"', n - (size_t)(m - s));
		size_t ml = end ? (size_t)(end - m) : 0;
		fr->kind = SL_FRAME_UPDATE;
		if (ml > 0 && ml <= SL_FRAME_MARKET_MAX && !memchr(m, '\\', ml)) {
			memcpy(fr->market, m, ml);
			fr->market_len = (uint8_t)ml;
		}
		fr->ts = find_ts(s, n);
	} else if (has_prefix(s, n, "{\"type\":\"snapshot\"")) {
		fr->kind = SL_FRAME_SNAPSHOT;
	} else if (has_prefix(s, n, "{\"type\":\"closed\"")) {
		fr->kind = SL_FRAME_CLOSED;
	}
}

sl_frame_t *sl_frame_new(const char *data, size_t len)
{
	sl_frame_t *fr = frame_alloc(data, len, SL_FRAME_OTHER);
	fr->ws_hdr_len = (uint8_t)sl_frame_ws_header(fr->ws_hdr, 0x1, len);
	classify(fr);
	return fr;
}

sl_frame_t *sl_frame_new_ws(uint8_t opcode, const char *data, size_t len)
{
	sl_frame_t *fr = frame_alloc(data, len, opcode >= 0x8 ? SL_FRAME_CONTROL : SL_FRAME_OTHER);
	fr->ws_hdr_len = (uint8_t)sl_frame_ws_header(fr->ws_hdr, opcode, len);
	return fr;
}

sl_frame_t *sl_frame_new_raw(const char *data, size_t len)
{
	return frame_alloc(data, len, SL_FRAME_RAW);
}

sl_frame_t *sl_frame_new_close(uint16_t code, const char *reason)
{
	char body[125];
	size_t rl = reason ? strlen(reason) : 0;
	if (rl > sizeof(body) - 2)
		rl = sizeof(body) - 2;
	body[0] = (char)(code >> 8);
	body[1] = (char)(code & 0xff);
	if (rl)
		memcpy(body + 2, reason, rl);
	return sl_frame_new_ws(0x8, body, 2 + rl);
}

sl_frame_t *sl_frame_ref(sl_frame_t *fr)
{
	fr->refs++;
	return fr;
}

void sl_frame_unref(sl_frame_t *fr)
{
	if (!fr || --fr->refs > 0)
		return;
	free(fr->sse);
	free(fr);
	live_frames--;
}

/* Every line of the payload as its own `data:` line (CR, LF and CRLF all end a line). */
static void build_sse(sl_frame_t *fr)
{
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_reserve(&b, fr->len + 32);
	const char *s = fr->data, *end = fr->data + fr->len;
	while (s <= end) {
		const char *e = s;
		while (e < end && *e != '\n' && *e != '\r')
			e++;
		sl_buf_puts(&b, SSE_PREFIX);
		sl_buf_append(&b, s, (size_t)(e - s));
		sl_buf_putc(&b, '\n');
		if (e == end)
			break;
		if (*e == '\r' && e + 1 < end && e[1] == '\n')
			e++;
		s = e + 1;
	}
	sl_buf_putc(&b, '\n');
	fr->sse = sl_buf_steal(&b, &fr->sse_len);
}

size_t sl_frame_iov(sl_frame_t *fr, sl_wire_t wire, sl_iov_t *iov)
{
	if (fr->kind == SL_FRAME_RAW) {
		iov[0] = (sl_iov_t){fr->data, fr->len};
		return 1;
	}
	if (wire == SL_WIRE_WS) {
		iov[0] = (sl_iov_t){(const char *)fr->ws_hdr, fr->ws_hdr_len};
		if (!fr->len)
			return 1;
		iov[1] = (sl_iov_t){fr->data, fr->len};
		return 2;
	}
	if (fr->kind == SL_FRAME_CONTROL)
		return 0;
	if (!fr->sse && (memchr(fr->data, '\n', fr->len) || memchr(fr->data, '\r', fr->len)))
		build_sse(fr);
	if (fr->sse) {
		iov[0] = (sl_iov_t){fr->sse, fr->sse_len};
		return 1;
	}
	iov[0] = SL_IOV_LIT(SSE_PREFIX);
	iov[1] = (sl_iov_t){fr->data, fr->len};
	iov[2] = SL_IOV_LIT(SSE_END);
	return 3;
}

size_t sl_frame_wire_len(sl_frame_t *fr, sl_wire_t wire)
{
	sl_iov_t iov[SL_FRAME_MAX_IOV];
	size_t n = sl_frame_iov(fr, wire, iov), total = 0;
	for (size_t i = 0; i < n; i++)
		total += iov[i].len;
	return total;
}

bool sl_frame_same_market(const sl_frame_t *a, const sl_frame_t *b)
{
	return a->kind == SL_FRAME_UPDATE && b->kind == SL_FRAME_UPDATE && a->market_len && a->market_len == b->market_len &&
	       !memcmp(a->market, b->market, a->market_len);
}
