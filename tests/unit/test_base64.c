/* test_base64.c: unit tests of core/base64: the RFC 4648 section 10 test
 * vectors both ways in both alphabets, with and without padding; bad
 * characters (each named with its offset), bad padding under each
 * padding rule, non-zero leftover bits, and every length from 0 to 200
 * round-tripped through a buffer of exactly sl_base64_decoded_max bytes
 * (ASan catches a write past it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The four spellings a caller can ask for. */
static const unsigned modes[] = {0, SL_BASE64_NOPAD, SL_BASE64_URL, SL_BASE64_URL | SL_BASE64_NOPAD};

static char *encode(const void *data, size_t len, unsigned flags)
{
	sl_buf_t b = SL_BUF_INIT;
	sl_base64_encode(&b, data, len, flags);
	return sl_buf_steal(&b, NULL);
}

/* Decode a C string into a buffer of exactly the advertised size. */
static long decode(const char *in, unsigned flags, unsigned char **out, sl_err_t *err)
{
	size_t len = strlen(in);
	*out = malloc(sl_base64_decoded_max(len));
	return sl_base64_decode(in, len, flags, *out, err);
}

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *raw, *enc, *nopad;
	} rows[] = {
		{"", "", ""},
		{"f", "Zg==", "Zg"},
		{"fo", "Zm8=", "Zm8"},
		{"foo", "Zm9v", "Zm9v"},
		{"foob", "Zm9vYg==", "Zm9vYg"},
		{"fooba", "Zm9vYmE=", "Zm9vYmE"},
		{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			const char *want = (modes[m] & SL_BASE64_NOPAD) ? rows[i].nopad : rows[i].enc;
			char *got = encode(rows[i].raw, strlen(rows[i].raw), modes[m]);
			assert_string_equal(got, want);
			free(got);
			unsigned char *out;
			long n = decode(want, modes[m], &out, NULL);
			assert_int_equal(n, (long)strlen(rows[i].raw));
			assert_memory_equal(out, rows[i].raw, (size_t)n);
			free(out);
		}
	}
}

/* Values 62 and 63 are where the alphabets differ (RFC 4648 section 5). */
static void test_alphabets(void **state)
{
	(void)state;
	const unsigned char raw[] = {0xfb, 0xff, 0xbf};
	char *s = encode(raw, 3, 0);
	assert_string_equal(s, "+/+/");
	free(s);
	s = encode(raw, 3, SL_BASE64_URL);
	assert_string_equal(s, "-_-_");
	free(s);
	s = encode(raw, 2, SL_BASE64_URL | SL_BASE64_NOPAD);
	assert_string_equal(s, "-_8");
	free(s);
	s = encode(raw, 2, 0);
	assert_string_equal(s, "+/8=");
	free(s);
	unsigned char *out;
	assert_int_equal(decode("-_8", SL_BASE64_URL | SL_BASE64_NOPAD, &out, NULL), 2);
	assert_memory_equal(out, raw, 2);
	free(out);
	/* Each alphabet refuses the other's two characters. */
	assert_int_equal(decode("+/8", SL_BASE64_URL | SL_BASE64_NOPAD, &out, NULL), SL_EINVAL);
	free(out);
	assert_int_equal(decode("-_8=", 0, &out, NULL), SL_EINVAL);
	free(out);
	/* Encoding appends to what the buffer holds. */
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_puts(&b, "x=");
	sl_base64_encode(&b, "f", 1, 0);
	assert_string_equal(b.data, "x=Zg==");
	assert_int_equal(b.len, 6);
	sl_buf_free(&b);
}

static void test_bad_characters(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		size_t len;
		unsigned flags;
		const char *why;
	} rows[] = {
		{"Zm9!", 4, SL_BASE64_NOPAD, "byte 0x21 at offset 3"},
		{"Zm 9", 4, SL_BASE64_NOPAD, "byte 0x20 at offset 2"},
		{"Zm9v\nA", 6, SL_BASE64_NOPAD, "byte 0x0a at offset 4"},
		{"Zm\09", 4, SL_BASE64_NOPAD, "byte 0x00 at offset 2"},
		{"Zm9\xc3\xa9v", 6, SL_BASE64_PAD_OPTIONAL, "byte 0xc3 at offset 3"},
		{"Zm9\xff", 4, 0, "byte 0xff at offset 3"},
		{"ab-d", 4, 0, "byte 0x2d at offset 2"},
		{"ab_d", 4, 0, "byte 0x5f at offset 2"},
		{"ab+d", 4, SL_BASE64_URL, "byte 0x2b at offset 2"},
		{"ab/d", 4, SL_BASE64_URL, "byte 0x2f at offset 2"},
		{"Zm9v\r\nZm9v", 10, SL_BASE64_PAD_OPTIONAL, "byte 0x0d at offset 4"}, /* no MIME line breaks */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned char out[16];
		sl_err_t err = {0};
		long n = sl_base64_decode(rows[i].in, rows[i].len, rows[i].flags, out, &err);
		if (n != SL_EINVAL || err.code != SL_EINVAL || !strstr(err.msg, rows[i].why))
			fail_msg("row %zu: got %ld, \"%s\"; want SL_EINVAL naming \"%s\"", i, n, err.msg, rows[i].why);
		assert_non_null(strstr(err.msg, (rows[i].flags & SL_BASE64_URL) ? "base64url:" : "base64:"));
	}
}

static void test_bad_padding(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		unsigned flags;
		long want; /* decoded length, or SL_EINVAL */
	} rows[] = {
		/* padding required (0) */
		{"Zg==", 0, 1},
		{"Zm8=", 0, 2},
		{"Zg", 0, SL_EINVAL},       /* left out */
		{"Zm8", 0, SL_EINVAL},
		{"Zg=", 0, SL_EINVAL},      /* too little */
		{"Zg===", 0, SL_EINVAL},    /* too much */
		{"Z===", 0, SL_EINVAL},
		{"====", 0, SL_EINVAL},
		{"=Zm9", 0, SL_EINVAL},     /* not at the end */
		{"Zg==Zm9v", 0, SL_EINVAL},
		{"Zm=v", 0, SL_EINVAL},
		{"Zm9v====", 0, SL_EINVAL},
		/* padding optional */
		{"Zg", SL_BASE64_PAD_OPTIONAL, 1},
		{"Zg==", SL_BASE64_PAD_OPTIONAL, 1},
		{"Zm8", SL_BASE64_PAD_OPTIONAL, 2},
		{"Zg=", SL_BASE64_PAD_OPTIONAL, SL_EINVAL},
		{"Zm9vY===", SL_BASE64_PAD_OPTIONAL, SL_EINVAL},
		{"Zg==Zm9v", SL_BASE64_PAD_OPTIONAL, SL_EINVAL},
		/* padding refused */
		{"Zg", SL_BASE64_NOPAD, 1},
		{"Zg==", SL_BASE64_NOPAD, SL_EINVAL},
		{"Zm8=", SL_BASE64_URL | SL_BASE64_NOPAD, SL_EINVAL},
		/* a lone character left over: no encoding has length 4k+1 */
		{"Z", SL_BASE64_NOPAD, SL_EINVAL},
		{"Zm9vY", SL_BASE64_PAD_OPTIONAL, SL_EINVAL},
		{"Zm9vYmFyZ", SL_BASE64_URL | SL_BASE64_NOPAD, SL_EINVAL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned char *out;
		sl_err_t err = {0};
		long n = decode(rows[i].in, rows[i].flags, &out, &err);
		free(out);
		if (n != rows[i].want)
			fail_msg("row %zu (%s, flags %u): got %ld, want %ld", i, rows[i].in, rows[i].flags, n,
				 rows[i].want);
		if (n < 0)
			assert_true(err.msg[0] != '\0'); /* a refusal always says why */
	}
}

/* RFC 4648 section 3.5: the bits after the last byte are zero, unless the
 * caller asks to let them pass. */
static void test_leftover_bits(void **state)
{
	(void)state;
	unsigned char *out;
	sl_err_t err = {0};
	assert_int_equal(decode("Zh==", 0, &out, &err), SL_EINVAL);
	assert_non_null(strstr(err.msg, "bits after the last byte"));
	free(out);
	assert_int_equal(decode("Zm9=", 0, &out, NULL), SL_EINVAL);
	free(out);
	assert_int_equal(decode("-_9", SL_BASE64_URL | SL_BASE64_NOPAD, &out, NULL), SL_EINVAL);
	free(out);
	assert_int_equal(decode("Zh==", SL_BASE64_ANY_BITS, &out, NULL), 1);
	assert_int_equal(out[0], 'f');
	free(out);
	assert_int_equal(decode("Zm9=", SL_BASE64_ANY_BITS, &out, NULL), 2);
	assert_memory_equal(out, "fo", 2);
	free(out);
}

/* Every length from 0 to 200, every byte value, each spelling: the
 * encoding has the length RFC 4648 gives, decodes back to the same bytes
 * into a buffer of exactly sl_base64_decoded_max bytes, and its
 * unpadded form is accepted where padding is optional. */
static void test_lengths(void **state)
{
	(void)state;
	unsigned char raw[200];
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(raw); len++) {
		for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			char *s = encode(raw, len, modes[m]);
			size_t want = (modes[m] & SL_BASE64_NOPAD) ? (len * 4 + 2) / 3 : (len + 2) / 3 * 4;
			assert_int_equal(strlen(s), want);
			unsigned char *out;
			long n = decode(s, modes[m], &out, NULL);
			assert_int_equal(n, (long)len);
			assert_true(len == 0 || memcmp(out, raw, len) == 0);
			free(out);
			unsigned opt = (modes[m] & SL_BASE64_URL) | SL_BASE64_PAD_OPTIONAL;
			n = decode(s, opt, &out, NULL);
			assert_int_equal(n, (long)len);
			free(out);
			free(s);
		}
	}
	/* Lengths of valid characters alone: only 4k+1 is impossible. */
	char as[41];
	for (size_t len = 0; len < sizeof(as); len++) {
		memset(as, 'A', len);
		as[len] = '\0';
		unsigned char *out;
		long n = decode(as, SL_BASE64_NOPAD, &out, NULL);
		assert_int_equal(n, len % 4 == 1 ? SL_EINVAL : (long)(len * 6 / 8));
		free(out);
		n = decode(as, 0, &out, NULL);
		assert_int_equal(n, len % 4 == 0 ? (long)(len / 4 * 3) : SL_EINVAL);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors), cmocka_unit_test(test_alphabets),
		cmocka_unit_test(test_bad_characters),  cmocka_unit_test(test_bad_padding),
		cmocka_unit_test(test_leftover_bits),   cmocka_unit_test(test_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
