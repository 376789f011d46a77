/* test_frame.c: unit tests of core/frame: classification of the contract's
 * messages (market, ts), WebSocket headers at each length boundary, the SSE
 * form (zero-copy, and one data: line per payload line), control and close
 * frames, refcounting (no live frame left at the end of each test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/frame.h"

#include <stdlib.h>
#include <string.h>

static size_t flatten(sl_frame_t *fr, sl_wire_t wire, char *out)
{
	sl_iov_t iov[SL_FRAME_MAX_IOV];
	size_t n = sl_frame_iov(fr, wire, iov), len = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(out + len, iov[i].base, iov[i].len);
		len += iov[i].len;
	}
	return len;
}

static void test_classify(void **state)
{
	(void)state;
	const char upd[] = "{\"type\":\"update\",\"market\":\"m-0042\",\"value\":{\"ts\":5},\"offset\":9,\"partition\":1,"
			   "\"ts\":1764120000123}";
	sl_frame_t *fr = sl_frame_new(upd, strlen(upd));
	assert_int_equal(fr->kind, SL_FRAME_UPDATE);
	assert_int_equal(fr->market_len, 6);
	assert_memory_equal(fr->market, "m-0042", 6);
	assert_true(fr->ts == 1764120000123LL); /* the last ts, not the one inside value */
	sl_frame_t *other = sl_frame_new(upd, strlen(upd));
	assert_true(sl_frame_same_market(fr, other));
	sl_frame_unref(other);
	const struct {
		const char *msg;
		int kind;
	} rows[] = {
		{"{\"type\":\"snapshot\",\"markets\":[]}", SL_FRAME_SNAPSHOT},
		{"{\"type\":\"closed\",\"channel\":\"c\"}", SL_FRAME_CLOSED},
		{"{\"type\":\"subscribed\",\"channel\":\"c\"}", SL_FRAME_OTHER},
		{"{\"market\":\"m-1\",\"type\":\"update\"}", SL_FRAME_OTHER}, /* wrong key order: forwarded, never conflated */
		{"", SL_FRAME_OTHER},
		{"not json", SL_FRAME_OTHER},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_frame_t *f = sl_frame_new(rows[i].msg, strlen(rows[i].msg));
		assert_int_equal(f->kind, rows[i].kind);
		assert_false(sl_frame_same_market(f, fr));
		sl_frame_unref(f);
	}
	/* An update whose market id has an escape or is too long is not conflatable. */
	const char esc[] = "{\"type\":\"update\",\"market\":\"m\\\"1\",\"ts\":1}";
	sl_frame_t *e = sl_frame_new(esc, strlen(esc));
	assert_int_equal(e->kind, SL_FRAME_UPDATE);
	assert_int_equal(e->market_len, 0);
	assert_false(sl_frame_same_market(e, e));
	sl_frame_unref(e);
	const char nots[] = "{\"type\":\"update\",\"market\":\"m-1\",\"ts\":\"x\"}";
	e = sl_frame_new(nots, strlen(nots));
	assert_true(e->ts == 0);
	sl_frame_unref(e);
	sl_frame_unref(fr);
	assert_int_equal(sl_frame_live(), 0);
}

static void test_ws_headers(void **state)
{
	(void)state;
	const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 100000};
	const size_t hdr[] = {2, 2, 2, 4, 4, 10, 10};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char *payload = calloc(1, lens[i] + 1);
		memset(payload, 'a', lens[i]);
		sl_frame_t *fr = sl_frame_new(payload, lens[i]);
		assert_int_equal(fr->ws_hdr_len, hdr[i]);
		assert_int_equal(fr->ws_hdr[0], 0x81);
		uint64_t got = fr->ws_hdr[1] & 0x7f;
		assert_int_equal(fr->ws_hdr[1] & 0x80, 0); /* server frames are not masked */
		if (got == 126)
			got = ((uint64_t)fr->ws_hdr[2] << 8) | fr->ws_hdr[3];
		else if (got == 127) {
			got = 0;
			for (int k = 0; k < 8; k++)
				got = (got << 8) | fr->ws_hdr[2 + k];
		}
		assert_true(got == lens[i]);
		assert_int_equal(sl_frame_wire_len(fr, SL_WIRE_WS), hdr[i] + lens[i]);
		sl_frame_unref(fr);
		free(payload);
	}
	sl_frame_t *c = sl_frame_new_close(1013, "slow consumer");
	assert_int_equal(c->kind, SL_FRAME_CONTROL);
	assert_int_equal(c->ws_hdr[0], 0x88);
	assert_int_equal(c->len, 2 + 13);
	assert_int_equal((unsigned char)c->data[0] << 8 | (unsigned char)c->data[1], 1013);
	assert_int_equal(sl_frame_wire_len(c, SL_WIRE_SSE), 0); /* SSE has no control frames */
	sl_frame_unref(c);
	assert_int_equal(sl_frame_live(), 0);
}

static void test_sse(void **state)
{
	(void)state;
	char out[256];
	const char one[] = "{\"a\":1}";
	sl_frame_t *fr = sl_frame_new(one, strlen(one));
	size_t n = flatten(fr, SL_WIRE_SSE, out);
	assert_int_equal(n, strlen("data: {\"a\":1}\n\n"));
	assert_memory_equal(out, "data: {\"a\":1}\n\n", n);
	assert_null(fr->sse); /* zero-copy: no second buffer */
	sl_frame_unref(fr);
	const char multi[] = "{\"a\":\n1,\r\n\"b\":2\r}";
	fr = sl_frame_new(multi, strlen(multi));
	n = flatten(fr, SL_WIRE_SSE, out);
	const char want[] = "data: {\"a\":\ndata: 1,\ndata: \"b\":2\ndata: }\n\n";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
	assert_non_null(fr->sse); /* built once, reused for every SSE client */
	char *first = fr->sse;
	flatten(fr, SL_WIRE_SSE, out);
	assert_ptr_equal(first, fr->sse);
	sl_frame_unref(fr);
	sl_frame_t *raw = sl_frame_new_raw("HTTP/1.1 200 OK\r\n\r\n", 19);
	assert_int_equal(sl_frame_wire_len(raw, SL_WIRE_SSE), 19);
	assert_int_equal(sl_frame_wire_len(raw, SL_WIRE_WS), 19);
	sl_frame_unref(raw);
	assert_int_equal(sl_frame_live(), 0);
}

static void test_refcount(void **state)
{
	(void)state;
	sl_frame_t *fr = sl_frame_new("{}", 2);
	for (int i = 0; i < 1000; i++)
		sl_frame_ref(fr);
	assert_int_equal(sl_frame_live(), 1);
	for (int i = 0; i < 1000; i++)
		sl_frame_unref(fr);
	assert_int_equal(sl_frame_live(), 1);
	sl_frame_unref(fr);
	assert_int_equal(sl_frame_live(), 0);
	sl_frame_unref(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_ws_headers),
		cmocka_unit_test(test_sse),
		cmocka_unit_test(test_refcount),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
