/* basic.h: HTTP Basic authentication against a credentials file in the
 * format Confluent's REST proxy reads (Jetty's HashLoginService, through
 * JAAS PropertyFileLoginModule):
 *
 *   # comment
 *   alice: s3cret-password,user
 *   feeder: MD5:5f4dcc3b5aa765d61d8327deb882cf99,producer
 *   admin: CRYPT:$y$j9T$...,admin
 *
 * One user per line: name, a colon, the password, then its roles after
 * commas. The password is plain text, `MD5:` and its hex digest, or
 * `CRYPT:` and a crypt(3) hash (yescrypt `$y$`, SHA-512 `$6$`, bcrypt
 * `$2b$`: whatever this machine's libcrypt knows; `mkpasswd` makes one).
 * Jetty's `OBF:` (a reversible obfuscation, no protection) is refused.
 * How it fits: the REST proxy loads the file named by --credentials-file,
 * answers 401 with `WWW-Authenticate: Basic realm="<realm>"` when the
 * header is missing or wrong, and hands the user and its roles to the ACL
 * (acl.h). Pure but for reading the file and crypt(3).
 * Comparisons take the same time whatever the password (match.h); an
 * unknown user costs the same as a wrong password. A crypt(3) hash is
 * slow on purpose, so a password it verified is remembered (as a keyed
 * digest, never in clear) and later requests compare digests.
 * References: RFC 7617 (Basic), Jetty HashLoginService / PropertyUserStore.
 * Non-goals: OBF, reloading the file while running (restart the role).
 */
#ifndef SL_AUTH_BASIC_H
#define SL_AUTH_BASIC_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define SL_BASIC_USER_MAX 128
#define SL_BASIC_PASS_MAX 256

typedef struct sl_basic sl_basic_t;

/* Load a credentials file; NULL with err naming the file and line. */
sl_basic_t *sl_basic_load(const char *path, sl_err_t *err);
/* The same from text (name is what errors call it). */
sl_basic_t *sl_basic_parse(const char *text, size_t len, const char *name, sl_err_t *err);
void sl_basic_free(sl_basic_t *b);
size_t sl_basic_count(const sl_basic_t *b);

/* Split an Authorization header value "Basic <base64(user:password)>":
 * 1 with user and pass filled, 0 when absent or another scheme, -1 when
 * malformed (bad base64, no colon, too long, a control character). */
int sl_basic_parse_header(const char *value, char *user, size_t ulen, char *pass, size_t plen);

/* True when user exists and pass is its password. Not const: it may
 * remember a verified crypt(3) password. One thread at a time. */
bool sl_basic_check(sl_basic_t *b, const char *user, const char *pass);
/* True when user has role (a name from its line). */
bool sl_basic_has_role(const sl_basic_t *b, const char *user, const char *role);

#endif
