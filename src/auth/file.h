/* file.h: the small files of authentication (credentials, ACL rules, JWT
 * secrets, PEM keys), read whole into memory.
 *
 * How it fits: basic.c, acl.c, jwt.c (key files) and auth.c (the
 * jwt-secret-file) load their files through it, then parse the text; one
 * place holds the size limit and the two messages a bad file gets, each
 * naming the file. Called at start-up on the role's main thread (and by
 * the token tool); blocking reads are fine there (no loop runs yet).
 * Non-goals: streaming large files, reloading, parsing, core/config.c's
 * --config file (core sits below auth, and that file is read line by
 * line with line numbers in its errors).
 */
#ifndef SL_AUTH_FILE_H
#define SL_AUTH_FILE_H

#include "core/err.h"

#include <stddef.h>

#define SL_AUTH_FILE_MAX (1 << 20) /* 1 MiB: far more than any such file needs */

/* Read path whole. what names the kind of file as the user knows it
 * ("credentials file", "key file", "jwt-secret-file"). Returns the bytes
 * (NUL-terminated, *len not counting the NUL), which the caller frees
 * (cleansing them first when they hold secrets), or NULL with err:
 * "cannot open <what> <path>: <reason>" (SL_EIO) or "<what> <path> is
 * over 1 MiB" (SL_EINVAL); *len is then untouched. On that refusal the
 * bytes read so far are cleansed before they are freed. */
char *sl_auth_file_read(const char *path, const char *what, size_t *len, sl_err_t *err);

#endif
