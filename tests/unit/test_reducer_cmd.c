/* test_reducer_cmd.c: roles/reducer/reducer_cmd.c, a command record read as
 * data, as a table: each record with the op, channel and markets it yields,
 * or the word it is refused with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "roles/reducer/reducer_cmd.h"

#include <string.h>

#define CH "01234567-89ab-4def-8123-456789abcdef" /* a UUID, as the api makes */

static void test_rows(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int op;           /* -1: refused */
		const char *why;  /* when refused */
		const char *markets; /* the kept ones, space-separated */
		size_t skipped;
	} rows[] = {
		{"{\"op\":\"subscribe\",\"channel\":\"" CH "\",\"markets\":[\"m-1\",\"m-2\"]}", SL_RCMD_SUBSCRIBE, NULL,
		 "m-1 m-2", 0},
		{"{\"op\":\"unsubscribe\",\"channel\":\"" CH "\",\"markets\":[\"m-1\"]}", SL_RCMD_UNSUBSCRIBE, NULL, "m-1",
		 0},
		{"{\"op\":\"begin\",\"channel\":\"" CH "\"}", SL_RCMD_BEGIN, NULL, "", 0},
		{"{\"op\":\"close\",\"channel\":\"" CH "\",\"markets\":[]}", SL_RCMD_CLOSE, NULL, "", 0},
		/* one bad market is skipped, the others kept */
		{"{\"op\":\"subscribe\",\"channel\":\"" CH "\",\"markets\":[\"m-1\",7,\"a b\",\"\",\"m-3\"]}",
		 SL_RCMD_SUBSCRIBE, NULL, "m-1 m-3", 3},
		{"{\"op\":\"subscribe\",\"channel\":\"" CH "\",\"markets\":\"m-1\"}", SL_RCMD_SUBSCRIBE, NULL, "", 0},
		{"", -1, "not_json", NULL, 0},
		{"[1,2]", -1, "not_json", NULL, 0},
		{"{\"op\":\"begin\",\"op\":\"close\",\"channel\":\"" CH "\"}", -1, "not_json", NULL, 0},
		{"{\"channel\":\"" CH "\"}", -1, "no_op", NULL, 0},
		{"{\"op\":5,\"channel\":\"" CH "\"}", -1, "no_op", NULL, 0},
		{"{\"op\":\"begin\"}", -1, "bad_channel", NULL, 0},
		{"{\"op\":\"begin\",\"channel\":\"../x\"}", -1, "bad_channel", NULL, 0},
		{"{\"op\":\"begin\",\"channel\":\"\"}", -1, "bad_channel", NULL, 0},
		{"{\"op\":\"delete\",\"channel\":\"" CH "\"}", -1, "unknown_op", NULL, 0},
		{"{\"op\":\"begin\\u0000x\",\"channel\":\"" CH "\"}", -1, "not_json", NULL, 0}, /* no NUL in strings */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_rcmd_t c;
		const char *why = NULL;
		int rc = sl_rcmd_parse(rows[i].in, strlen(rows[i].in), &c, &why);
		if (rows[i].op < 0) {
			if (rc != -1 || strcmp(why, rows[i].why) != 0)
				fail_msg("row %zu: rc %d why %s, expected %s", i, rc, why ? why : "-", rows[i].why);
			continue;
		}
		if (rc != 0)
			fail_msg("row %zu refused: %s", i, why);
		assert_int_equal(c.op, rows[i].op);
		assert_int_equal(c.channel_len, strlen(CH));
		assert_memory_equal(c.channel, CH, c.channel_len);
		char got[256] = "";
		for (size_t k = 0; k < c.n_markets; k++) {
			if (k)
				strcat(got, " ");
			strncat(got, c.markets[k].id, c.markets[k].len);
		}
		assert_string_equal(got, rows[i].markets);
		assert_int_equal(c.n_skipped, rows[i].skipped);
		sl_rcmd_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
