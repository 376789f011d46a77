/* test_api_input.c: roles/api/api_input.c, the control API's market lists
 * read as data, as a table: each body or ids query with the markets it
 * yields (in first order, without duplicates), or the status and stable
 * code it is refused with (docs/api.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "roles/api/api_int.h"

#include <string.h>

/* The markets as one space-separated string. */
static void joined(const sl_api_markets_t *m, char *out, size_t cap)
{
	out[0] = '\0';
	for (size_t i = 0; i < m->n; i++) {
		if (i)
			strncat(out, " ", cap - strlen(out) - 1);
		strncat(out, m->ids[i], cap - strlen(out) - 1);
	}
}

/* One row's outcome: accepted with the markets want, or refused with the
 * status and the code want. */
static void expect_row(const char *label, int rc, int status, const char *want, sl_api_markets_t *m,
		       const sl_api_input_err_t *e)
{
	if (rc != status)
		fail_msg("%s: status %d, expected %d", label, rc, status);
	if (rc) {
		assert_string_equal(e->code, want);
		assert_int_equal(e->status, rc);
		assert_true(strlen(e->msg) > 10);
		assert_int_equal(m->n, 0);
		return;
	}
	char got[256];
	joined(m, got, sizeof(got));
	assert_string_equal(got, want);
	sl_api__markets_free(m);
}

static void test_json(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		bool required;
		int status;       /* 0: accepted */
		const char *want; /* the markets, or the code */
	} rows[] = {
		{"{\"markets\":[\"m-1\",\"m-2\"]}", true, 0, "m-1 m-2"},
		{"{\"markets\":[\"m-2\",\"m-1\",\"m-2\"]}", true, 0, "m-2 m-1"},
		{"{\"markets\":[\"a.b_c:D-9\"]}", true, 0, "a.b_c:D-9"},
		{"", false, 0, ""},
		{"{}", false, 0, ""},
		{"", true, 400, "invalid_body"},
		{"{}", true, 400, "invalid_markets"},
		{"[\"m-1\"]", true, 400, "invalid_body"},
		{"{\"markets\":", true, 400, "malformed_json"},
		{"{\"markets\":[],\"markets\":[\"m-1\"]}", true, 400, "malformed_json"}, /* duplicate key */
		{"{\"markets\":\"m-1\"}", true, 400, "invalid_markets"},
		{"{\"markets\":[]}", true, 400, "invalid_markets"},
		{"{\"markets\":[]}", false, 0, ""},
		{"{\"markets\":[\"m-1\",7]}", true, 400, "invalid_market"},
		{"{\"markets\":[\"a b\"]}", true, 400, "invalid_market"},
		{"{\"markets\":[\"\"]}", true, 400, "invalid_market"},
		{"{\"markets\":[\"m-1\",\"m-2\",\"m-3\",\"m-4\"]}", true, 413, "too_many_markets"},
		{"{\"markets\":[\"0123456789012345678901234567890123456789012345678901234567890123\"]}", true, 0,
		 "0123456789012345678901234567890123456789012345678901234567890123"},
		{"{\"markets\":[\"01234567890123456789012345678901234567890123456789012345678901234\"]}", true, 400,
		 "invalid_market"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_api_markets_t m = {0};
		sl_api_input_err_t e = {0};
		int rc = sl_api__markets_from_json(rows[i].body, strlen(rows[i].body), rows[i].required, 3, &m, &e);
		expect_row(rows[i].body, rc, rows[i].status, rows[i].want, &m, &e);
	}
}

static void test_ids(void **state)
{
	(void)state;
	static const struct {
		const char *ids;
		int status;
		const char *want;
	} rows[] = {
		{"m-1", 0, "m-1"},
		{"m-1,m-2,m-1", 0, "m-1 m-2"},
		{"m-1,m-2,m-3", 0, "m-1 m-2 m-3"},
		{"m-1,m-2,m-3,m-4", 413, "too_many_markets"},
		{"m-1,m-1,m-1,m-1,m-2", 0, "m-1 m-2"}, /* the limit counts distinct ids */
		{NULL, 400, "invalid_query"},
		{"", 400, "invalid_query"},
		{"m-1,", 400, "invalid_market"},
		{",m-1", 400, "invalid_market"},
		{"m-1,,m-2", 400, "invalid_market"},
		{"m 1", 400, "invalid_market"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sl_api_markets_t m = {0};
		sl_api_input_err_t e = {0};
		int rc = sl_api__markets_from_ids(rows[i].ids, 3, &m, &e);
		expect_row(rows[i].ids ? rows[i].ids : "(no ids)", rc, rows[i].status, rows[i].want, &m, &e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
