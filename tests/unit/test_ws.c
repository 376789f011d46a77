/* test_ws.c: unit tests of proto/ws: the Sec-WebSocket-Accept computation
 * (RFC 6455 section 1.3's example), and the client-frame reader over the
 * corpus in tests/corpus/ws (each file fed whole, then byte by byte: the
 * close code must match its name, valid input must keep the connection
 * open and free the reader at the end), plus the reader's lifetime rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "proto/ws.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS "tests/corpus/ws"

static void test_accept_key(void **state)
{
	(void)state;
	char out[29];
	sl_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	sl_buf_t b = SL_BUF_INIT;
	sl_ws_handshake_response("dGhlIHNhbXBsZSBub25jZQ==", NULL, &b);
	assert_non_null(strstr(b.data, "HTTP/1.1 101 Switching Protocols\r\n"));
	assert_non_null(strstr(b.data, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	assert_int_equal(strcmp(b.data + b.len - 4, "\r\n\r\n"), 0);
	sl_buf_free(&b);
}

typedef struct sink {
	size_t out_bytes;
	unsigned char first_out[2];
	unsigned char out[512]; /* the first bytes sent back, to walk as frames */
	int messages;
} sink_t;

static void on_message(void *ud, uint8_t opcode, const uint8_t *data, size_t len)
{
	(void)opcode;
	(void)data;
	(void)len;
	((sink_t *)ud)->messages++;
}

static void on_output(void *ud, const uint8_t *data, size_t len)
{
	sink_t *s = ud;
	if (s->out_bytes == 0 && len >= 2)
		memcpy(s->first_out, data, 2);
	for (size_t i = 0; i < len && s->out_bytes + i < sizeof(s->out); i++)
		s->out[s->out_bytes + i] = data[i];
	s->out_bytes += len;
}

static const sl_ws_reader_cbs_t cbs = {on_message, on_output, NULL};

/* Feed data in chunks of `step` bytes; returns the close code (0: still open). */
static int feed(const unsigned char *data, size_t len, size_t step, sink_t *s)
{
	sl_ws_reader_t *rd = NULL;
	int code = 0;
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		uint16_t cc = 0;
		int rc = sl_ws_reader_feed(&rd, &cbs, s, 4096, (const char *)data + off, n, &cc);
		if (rc != SL_WS_OPEN) {
			code = rc < 0 ? -1 : cc;
			break;
		}
	}
	if (!code)
		assert_null(rd); /* valid input ends on a boundary: no reader kept */
	sl_ws_reader_free(rd);
	return code;
}

/* Walk the (unmasked, short) frames sent back: the close code of the first
 * close frame, 0 when none was sent, -1 when the bytes are not whole frames. */
static int close_sent(const sink_t *s)
{
	size_t n = s->out_bytes < sizeof(s->out) ? s->out_bytes : sizeof(s->out);
	size_t i = 0;
	while (i + 2 <= n) {
		size_t plen = s->out[i + 1] & 0x7f;
		if (plen >= 126) /* control frames only, in these tests */
			return -1;
		if ((s->out[i] & 0x0f) == 0x8)
			return plen >= 2 && i + 4 <= n ? s->out[i + 2] << 8 | s->out[i + 3] : 1005;
		i += 2 + plen;
	}
	return i == n ? 0 : -1;
}

static void test_corpus(void **state)
{
	(void)state;
	DIR *d = opendir(CORPUS);
	assert_non_null(d);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		if (nl < 5 || strcmp(de->d_name + nl - 4, ".bin") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), CORPUS "/%s", de->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		unsigned char buf[70000];
		size_t len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		char name[256];
		snprintf(name, sizeof(name), "%s", de->d_name);
		name[nl - 4] = '\0';
		int want = atoi(strrchr(name, '.') + 1);
		size_t steps[] = {len, 1, 3};
		for (size_t i = 0; i < 3; i++) {
			sink_t s = {0};
			int got = feed(buf, len, steps[i] ? steps[i] : 1, &s);
			if (got != want)
				fail_msg("%s (step %zu): close code %d, expected %d", de->d_name, steps[i], got, want);
			/* The reader sent a close frame carrying that code, and none
			 * on valid input (a pong payload of 88 00 once looked like one). */
			if (close_sent(&s) != want)
				fail_msg("%s (step %zu): sent close %d, expected %d", de->d_name, steps[i],
					 close_sent(&s), want);
		}
		files++;
	}
	closedir(d);
	assert_true(files >= 17);
	assert_int_equal(sl_ws_reader_live(), 0);
}

static void test_reader_lifetime(void **state)
{
	(void)state;
	/* A masked ping "ab" split after the header: the reader lives in between. */
	const unsigned char ping[] = {0x89, 0x82, 1, 2, 3, 4, 'a' ^ 1, 'b' ^ 2};
	sl_ws_reader_t *rd = NULL;
	sink_t s = {0};
	uint16_t cc;
	assert_int_equal(sl_ws_reader_feed(&rd, &cbs, &s, 4096, (const char *)ping, 6, &cc), SL_WS_OPEN);
	assert_non_null(rd);
	assert_int_equal(sl_ws_reader_live(), 1);
	assert_int_equal(sl_ws_reader_feed(&rd, &cbs, &s, 4096, (const char *)ping + 6, 2, &cc), SL_WS_OPEN);
	assert_null(rd);
	assert_int_equal(sl_ws_reader_live(), 0);
	/* The pong went out: 0x8A, length 2, "ab". */
	assert_int_equal(s.out_bytes, 4);
	assert_int_equal(s.first_out[0], 0x8a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_reader_lifetime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
