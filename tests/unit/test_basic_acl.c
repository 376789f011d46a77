/* test_basic_acl.c: unit tests of auth/basic (the credentials file in
 * Jetty's format, the Basic header, plain, MD5: and CRYPT: passwords,
 * every malformed line and header) and auth/acl (literal and prefix
 * rules, `*` principals, read/write, admins, internal resources that no
 * wildcard or prefix reaches, every malformed rule). Loading both files
 * from disk is tested with auth/file in test_auth_file.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "auth/acl.h"
#include "auth/basic.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sl_basic_t *parse(const char *text, sl_err_t *err)
{
	return sl_basic_parse(text, strlen(text), "creds", err);
}

static void test_basic_file(void **state)
{
	(void)state;
	char line[512];
	/* A yescrypt (or the default) hash of "hunter22", made here. */
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	char salt[128];
	assert_non_null(crypt_gensalt_rn(NULL, 0, NULL, 0, salt, sizeof(salt)));
	const char *h = crypt_r("hunter22", salt, &cd);
	assert_non_null(h);
	snprintf(line, sizeof(line),
		 "# users\n"
		 "alice: wonderland,user\n"
		 "  bob :  MD5:5F4DCC3B5AA765D61D8327DEB882CF99 , user , producer\n" /* md5("password") */
		 "carol: CRYPT:%s,admin\n"
		 "\n"
		 "! jetty comment\n",
		 h);
	sl_err_t err = {0};
	sl_basic_t *b = parse(line, &err);
	assert_non_null(b);
	assert_int_equal(sl_basic_count(b), 3);
	assert_true(sl_basic_check(b, "alice", "wonderland"));
	assert_false(sl_basic_check(b, "alice", "wonderland "));
	assert_false(sl_basic_check(b, "alice", ""));
	assert_true(sl_basic_check(b, "bob", "password"));
	assert_false(sl_basic_check(b, "bob", "Password"));
	assert_true(sl_basic_check(b, "carol", "hunter22"));
	assert_true(sl_basic_check(b, "carol", "hunter22")); /* remembered */
	assert_false(sl_basic_check(b, "carol", "hunter23"));
	assert_false(sl_basic_check(b, "mallory", "wonderland"));
	assert_true(sl_basic_has_role(b, "bob", "producer"));
	assert_true(sl_basic_has_role(b, "carol", "admin"));
	assert_false(sl_basic_has_role(b, "alice", "admin"));
	assert_false(sl_basic_has_role(b, "nobody", "user"));
	sl_basic_free(b);

	const char *bad[] = {
		"alice wonderland\n", ": pw\n", "alice:\n", "alice: ,user\n", "alice: OBF:1v2j1uum1xtv\n",
		"alice: MD5:abc\n", "alice: CRYPT:\n", "alice: a\nalice: b\n", "# nobody\n", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		assert_null(parse(bad[i], &err));
		assert_true(err.msg[0] != '\0');
	}
	assert_null(sl_basic_load("/nonexistent/creds", &err));
	assert_non_null(strstr(err.msg, "/nonexistent/creds"));
}

static void test_basic_header(void **state)
{
	(void)state;
	char u[129], p[257];
	assert_int_equal(sl_basic_parse_header("Basic YWxpY2U6d29uZGVybGFuZA==", u, sizeof(u), p, sizeof(p)), 1);
	assert_string_equal(u, "alice");
	assert_string_equal(p, "wonderland");
	assert_int_equal(sl_basic_parse_header("basic  YTpiOmM= ", u, sizeof(u), p, sizeof(p)), 1); /* a:b:c */
	assert_string_equal(u, "a");
	assert_string_equal(p, "b:c");
	assert_int_equal(sl_basic_parse_header("Basic YTo=", u, sizeof(u), p, sizeof(p)), 1); /* "a:" */
	assert_string_equal(p, "");
	/* The bits after the last byte are not checked (the header was never
	 * held to RFC 4648 section 3.5): "YTp=" is "a:" too. */
	assert_int_equal(sl_basic_parse_header("Basic YTp=", u, sizeof(u), p, sizeof(p)), 1);
	assert_string_equal(u, "a");
	assert_string_equal(p, "");
	assert_int_equal(sl_basic_parse_header(NULL, u, sizeof(u), p, sizeof(p)), 0);
	assert_int_equal(sl_basic_parse_header("Bearer x.y.z", u, sizeof(u), p, sizeof(p)), 0);
	const char *bad[] = {
		"Basic ",          "Basic YWxpY2U=",   /* no colon */
		"Basic Ojpw",      /* "::p": empty user */
		"Basic YWxp!2U6",  "Basic YWxpY2U6d29uZGVybGFuZA", /* not a multiple of 4 */
		"Basic YT=6Yg==",  "Basic YQ==YQ==",
		"Basic YQphOmI=",  /* "a\na:b": a control character */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sl_basic_parse_header(bad[i], u, sizeof(u), p, sizeof(p)) != -1)
			fail_msg("header %s was accepted", bad[i]);
	/* Too long for the buffers: refused, never cut. */
	char big[1200] = "Basic ";
	memset(big + 6, 'Q', 1000);
	assert_int_equal(sl_basic_parse_header(big, u, sizeof(u), p, sizeof(p)), -1);
}

static void test_acl(void **state)
{
	(void)state;
	const char *rules = "# principal resource name ops\n"
			    "alice  topic  odds-*   read,write\n"
			    "alice  group  alice-*  read   # her groups\n"
			    "bob    topic  odds-eu  read\n"
			    "feeder topic  markets  write\n"
			    "*      topic  public   read\n"
			    "*      topic  *        write\n"
			    "eve    topic  stream-* all\n"
			    "*      group  sluice-reducers read\n";
	sl_acl_t *acl = sl_acl_new();
	sl_err_t err = {0};
	assert_int_equal(sl_acl_parse(acl, rules, strlen(rules), "acl", &err), 0);
	assert_int_equal(sl_acl_count(acl), 8);
	sl_acl_add_internal(acl, SL_ACL_TOPIC, "markets");
	sl_acl_add_internal(acl, SL_ACL_TOPIC, "stream-commands");
	sl_acl_add_internal(acl, SL_ACL_GROUP, "sluice-reducers");
	struct {
		const char *who;
		bool admin;
		sl_acl_res_t res;
		const char *name;
		unsigned op;
		bool want;
	} rows[] = {
		{"alice", false, SL_ACL_TOPIC, "odds-eu", SL_ACL_READ, true},
		{"alice", false, SL_ACL_TOPIC, "odds-eu", SL_ACL_WRITE, true},
		{"alice", false, SL_ACL_TOPIC, "odd", SL_ACL_READ, false},
		{"alice", false, SL_ACL_GROUP, "alice-1", SL_ACL_READ, true},
		{"alice", false, SL_ACL_GROUP, "bob-1", SL_ACL_READ, false},
		{"alice", false, SL_ACL_TOPIC, "odds-eu", SL_ACL_READ, true},
		{"bob", false, SL_ACL_TOPIC, "odds-eu", SL_ACL_READ, true},
		{"bob", false, SL_ACL_TOPIC, "odds-us", SL_ACL_READ, false},
		{"bob", false, SL_ACL_GROUP, "odds-eu", SL_ACL_READ, false}, /* a topic rule is no group rule */
		{"bob", false, SL_ACL_TOPIC, "public", SL_ACL_READ, true},
		{"bob", false, SL_ACL_TOPIC, "anything", SL_ACL_WRITE, true}, /* "* topic * write" */
		{"bob", false, SL_ACL_TOPIC, "anything", SL_ACL_READ, false},
		/* internal: the wildcard principal, the prefix and "* group" do not reach */
		{"bob", false, SL_ACL_TOPIC, "markets", SL_ACL_WRITE, false},
		{"eve", false, SL_ACL_TOPIC, "stream-commands", SL_ACL_READ, false},
		{"eve", false, SL_ACL_TOPIC, "stream-x", SL_ACL_READ, true},
		{"bob", false, SL_ACL_GROUP, "sluice-reducers", SL_ACL_READ, false},
		/* a literal rule for a named principal does */
		{"feeder", false, SL_ACL_TOPIC, "markets", SL_ACL_WRITE, true},
		{"feeder", false, SL_ACL_TOPIC, "markets", SL_ACL_READ, false},
		/* admins may do anything */
		{"root", true, SL_ACL_TOPIC, "stream-commands", SL_ACL_READ, true},
		{"root", true, SL_ACL_GROUP, "sluice-reducers", SL_ACL_READ, true},
		{"nobody", false, SL_ACL_GROUP, "g", SL_ACL_READ, false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (sl_acl_allows(acl, rows[i].who, rows[i].admin, rows[i].res, rows[i].name, rows[i].op) != rows[i].want)
			fail_msg("row %zu: %s on %s", i, rows[i].who, rows[i].name);
	assert_true(sl_acl_is_internal(acl, SL_ACL_TOPIC, "markets"));
	assert_false(sl_acl_is_internal(acl, SL_ACL_GROUP, "markets"));
	assert_false(sl_acl_allows(NULL, "alice", false, SL_ACL_TOPIC, "odds-eu", SL_ACL_READ));
	sl_acl_free(acl);

	const char *bad[] = {
		"alice topic odds\n",        "alice table odds read\n",  "alice topic o*ds read\n",
		"alice topic odds delete\n", "alice topic odds read,x\n", "alice topic odds read extra\n",
		"alice topic odds ,\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sl_acl_t *a = sl_acl_new();
		memset(&err, 0, sizeof(err));
		assert_true(sl_acl_parse(a, bad[i], strlen(bad[i]), "acl", &err) < 0);
		assert_non_null(strstr(err.msg, "acl line 1"));
		sl_acl_free(a);
	}
	assert_null(sl_acl_load("/nonexistent/acl", &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_file),
		cmocka_unit_test(test_basic_header),
		cmocka_unit_test(test_acl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
