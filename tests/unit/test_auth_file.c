/* test_auth_file.c: unit tests of auth/file, the one reader of the small
 * authentication files: the bytes exactly (NUL-terminated), an empty
 * file, a file of exactly 1 MiB, one byte over (refused, never cut), a
 * missing file, and each of its four users through its own entry point:
 * the credentials file (auth/basic), the ACL file (auth/acl), a PEM key
 * file (auth/jwt) and the jwt-secret-file (auth/auth: one secret a line,
 * comments, blank lines and CRLF). Every refusal names the kind of file
 * and its path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "auth/acl.h"
#include "auth/auth.h"
#include "auth/basic.h"
#include "auth/file.h"
#include "auth/jwt.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1700000000

/* A temporary file holding head, then '#' comment lines up to size bytes. */
static char *tmp_file(const char *head, size_t size)
{
	char *path = strdup("/tmp/sluice-test-authfile-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	char *text = malloc(size + 1);
	memset(text, '#', size);
	memcpy(text, head, strlen(head));
	for (size_t i = strlen(head) + 79; i < size; i += 80)
		text[i] = '\n';
	assert_int_equal(write(fd, text, size), (ssize_t)size);
	close(fd);
	free(text);
	return path;
}

static void drop(char *path)
{
	unlink(path);
	free(path);
}

static void test_read(void **state)
{
	(void)state;
	sl_err_t err = {0};
	size_t len = 99;
	/* The bytes as they are, NUL bytes and all, with a NUL after them. */
	char *path = tmp_file("", 0);
	FILE *f = fopen(path, "wb");
	fwrite("a\0b\r\n", 1, 5, f);
	fclose(f);
	char *data = sl_auth_file_read(path, "test file", &len, &err);
	assert_non_null(data);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "a\0b\r\n", 6);
	free(data);
	drop(path);
	/* Empty. */
	path = tmp_file("", 0);
	data = sl_auth_file_read(path, "test file", &len, &err);
	assert_non_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(data[0], '\0');
	free(data);
	drop(path);
	/* Exactly the limit: read whole. */
	path = tmp_file("x\n", SL_AUTH_FILE_MAX);
	data = sl_auth_file_read(path, "test file", &len, &err);
	assert_non_null(data);
	assert_int_equal(len, SL_AUTH_FILE_MAX);
	assert_int_equal(data[len - 1], '#');
	assert_int_equal(data[len], '\0');
	free(data);
	drop(path);
	/* One byte over: refused, *len untouched, the message names the file. */
	path = tmp_file("x\n", SL_AUTH_FILE_MAX + 1);
	len = 7;
	assert_null(sl_auth_file_read(path, "test file", &len, &err));
	assert_int_equal(len, 7);
	assert_int_equal(err.code, SL_EINVAL);
	char want[300];
	snprintf(want, sizeof(want), "test file %s is over 1 MiB", path);
	assert_string_equal(err.msg, want);
	assert_null(sl_auth_file_read(path, "test file", &len, NULL)); /* err may be NULL */
	drop(path);
	/* Missing: the kind of file, its path and why. */
	assert_null(sl_auth_file_read("/nonexistent/x", "test file", &len, &err));
	assert_int_equal(err.code, SL_EIO);
	assert_string_equal(err.msg, "cannot open test file /nonexistent/x: No such file or directory");
	assert_null(sl_auth_file_read("/nonexistent/x", "test file", &len, NULL));
	assert_int_equal(len, 7);
}

/* The credentials and ACL files: loaded at the limit, refused past it. */
static void test_basic_and_acl(void **state)
{
	(void)state;
	sl_err_t err = {0};
	char *creds = tmp_file("alice: pw,user\n", SL_AUTH_FILE_MAX);
	char *rules = tmp_file("alice topic odds read\n", SL_AUTH_FILE_MAX);
	sl_basic_t *b = sl_basic_load(creds, &err);
	assert_non_null(b);
	assert_int_equal(sl_basic_count(b), 1);
	sl_basic_free(b);
	sl_acl_t *a = sl_acl_load(rules, &err);
	assert_non_null(a);
	assert_int_equal(sl_acl_count(a), 1);
	sl_acl_free(a);
	drop(creds);
	drop(rules);
	creds = tmp_file("alice: pw,user\n", SL_AUTH_FILE_MAX + 1);
	assert_null(sl_basic_load(creds, &err));
	assert_non_null(strstr(err.msg, "credentials file /tmp/sluice-test-authfile-"));
	assert_non_null(strstr(err.msg, " is over 1 MiB"));
	assert_null(sl_acl_load(creds, &err));
	assert_non_null(strstr(err.msg, "ACL file /tmp/sluice-test-authfile-"));
	assert_int_equal(err.code, SL_EINVAL);
	drop(creds);
	assert_null(sl_basic_load("/nonexistent/creds", &err));
	assert_string_equal(err.msg, "cannot open credentials file /nonexistent/creds: No such file or directory");
	assert_null(sl_acl_load("/nonexistent/acl", &err));
	assert_string_equal(err.msg, "cannot open ACL file /nonexistent/acl: No such file or directory");
	assert_int_equal(err.code, SL_EIO);
}

/* A PEM key file: the key, then comment lines up to the limit, loads;
 * one byte more is refused. */
static void test_key_file(void **state)
{
	(void)state;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(pkey);
	BIO *mem = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(mem, pkey), 1);
	assert_int_equal(BIO_write(mem, "", 1), 1); /* a NUL to end the string */
	char *pem;
	BIO_get_mem_data(mem, &pem);
	sl_err_t err = {0};
	for (size_t extra = 0; extra < 2; extra++) {
		char *path = tmp_file(pem, SL_AUTH_FILE_MAX + extra);
		sl_jwt_keys_t *k = sl_jwt_keys_new();
		int rc = sl_jwt_keys_add_pem_file(k, path, &err);
		if (extra == 0) {
			assert_int_equal(rc, 0);
		} else {
			assert_true(rc < 0);
			char want[300];
			snprintf(want, sizeof(want), "key file %s is over 1 MiB", path);
			assert_string_equal(err.msg, want);
		}
		sl_jwt_keys_free(k);
		drop(path);
	}
	BIO_free(mem);
	EVP_PKEY_free(pkey);
	sl_jwt_keys_t *k = sl_jwt_keys_new();
	assert_true(sl_jwt_keys_add_pem_file(k, "/nonexistent/key.pem", &err) < 0);
	assert_string_equal(err.msg, "cannot open key file /nonexistent/key.pem: No such file or directory");
	sl_jwt_keys_free(k);
}

static const sl_cfg_key_t *const tables[] = {sl_auth_keys_jwt, sl_auth_keys_sign, NULL};

static sl_cfg_t *cfg_with_secret_file(const char *path)
{
	char *argv[] = {"test", "--jwt-secret-file", (char *)path, NULL};
	sl_cfg_t *cfg = sl_cfg_new("test", "test", NULL, tables);
	assert_int_equal(sl_cfg_parse(cfg, 3, argv, NULL), 0);
	return cfg;
}

/* A token signed with secret verifies with the keys of cfg. */
static bool verifies(const sl_jwt_keys_t *k, const char *secret)
{
	sl_err_t err = {0};
	sl_jwt_signer_t *s = sl_jwt_signer_secret(secret, strlen(secret), &err);
	assert_non_null(s);
	sl_jwt_claims_t c = {0}, got;
	snprintf(c.sub, sizeof(c.sub), "alice");
	c.exp = NOW + 60;
	sl_buf_t tok = SL_BUF_INIT;
	assert_int_equal(sl_jwt_sign(s, &c, NOW, &tok, &err), 0);
	char why[200];
	sl_jwt_status_t st = sl_jwt_verify(k, tok.data, tok.len, NOW, 30, &got, why, sizeof(why));
	if (st == SL_JWT_OK)
		sl_jwt_claims_free(&got);
	sl_buf_free(&tok);
	sl_jwt_signer_free(s);
	return st == SL_JWT_OK;
}

#define S1 "first-secret-0123456789abcdef0123456789"
#define S2 "second-secret-0123456789abcdef012345678"
#define S3 "third-secret-0123456789abcdef0123456789"

/* The jwt-secret-file: one secret a line; '#' comments and blank lines
 * skipped; CR LF taken off; the last line counts without its LF; the
 * first secret signs. */
static void test_secret_file(void **state)
{
	(void)state;
	char *path = tmp_file("", 0);
	FILE *f = fopen(path, "wb");
	fputs("# " S3 "\n\n" S1 "\r\n\r\n" S2, f);
	fclose(f);
	sl_cfg_t *cfg = cfg_with_secret_file(path);
	sl_err_t err = {0};
	sl_jwt_keys_t *k = NULL;
	assert_int_equal(sl_auth_jwt_keys_from_cfg(cfg, &k, &err), 0);
	assert_non_null(k);
	assert_true(verifies(k, S1));
	assert_true(verifies(k, S2));
	assert_false(verifies(k, S3));       /* a comment, not a secret */
	assert_false(verifies(k, S1 "\r")); /* the CR is not part of it */
	sl_jwt_signer_t *s = NULL;
	assert_int_equal(sl_auth_signer_from_cfg(cfg, &s, &err), 0);
	assert_non_null(s);
	sl_jwt_claims_t c = {0}, got;
	snprintf(c.sub, sizeof(c.sub), "bob");
	c.exp = NOW + 60;
	sl_buf_t tok = SL_BUF_INIT, again = SL_BUF_INIT;
	assert_int_equal(sl_jwt_sign(s, &c, NOW, &tok, &err), 0);
	sl_jwt_signer_t *s1 = sl_jwt_signer_secret(S1, strlen(S1), &err);
	assert_int_equal(sl_jwt_sign(s1, &c, NOW, &again, &err), 0);
	assert_string_equal(tok.data, again.data); /* the first secret signs */
	char why[200];
	assert_int_equal(sl_jwt_verify(k, tok.data, tok.len, NOW, 30, &got, why, sizeof(why)), SL_JWT_OK);
	sl_jwt_claims_free(&got);
	sl_buf_free(&tok);
	sl_buf_free(&again);
	sl_jwt_signer_free(s);
	sl_jwt_signer_free(s1);
	sl_jwt_keys_free(k);
	sl_cfg_free(cfg);
	drop(path);
	/* Missing or over the limit: the setting's name, the path, why. */
	cfg = cfg_with_secret_file("/nonexistent/secrets");
	k = NULL;
	assert_int_equal(sl_auth_jwt_keys_from_cfg(cfg, &k, &err), SL_EINVAL);
	assert_null(k);
	assert_string_equal(err.msg, "cannot open jwt-secret-file /nonexistent/secrets: No such file or directory");
	s = NULL;
	assert_int_equal(sl_auth_signer_from_cfg(cfg, &s, &err), SL_EINVAL);
	assert_null(s);
	sl_cfg_free(cfg);
	path = tmp_file(S1 "\n", SL_AUTH_FILE_MAX + 1);
	cfg = cfg_with_secret_file(path);
	assert_int_equal(sl_auth_jwt_keys_from_cfg(cfg, &k, &err), SL_EINVAL);
	assert_null(k);
	char want[300];
	snprintf(want, sizeof(want), "jwt-secret-file %s is over 1 MiB", path);
	assert_string_equal(err.msg, want);
	sl_cfg_free(cfg);
	drop(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_basic_and_acl),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_secret_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
