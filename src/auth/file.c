/* file.c: read a small authentication file whole (see file.h).
 *
 * One read of at most SL_AUTH_FILE_MAX bytes, then one more byte to learn
 * whether the file goes on: a file over the limit is refused, never cut.
 * The buffer may hold secrets, so it is cleansed on the refusal path too.
 * References: fread(3).
 * Non-goals: see file.h.
 */
#include "auth/file.h"

#include "core/alloc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sl_auth_file_read(const char *path, const char *what, size_t *len, sl_err_t *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		sl_err_set(err, SL_EIO, false, "cannot open %s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	char *data = sl_xmalloc(SL_AUTH_FILE_MAX + 1);
	size_t n = fread(data, 1, SL_AUTH_FILE_MAX, f);
	bool more = fgetc(f) != EOF;
	fclose(f);
	if (more) {
		OPENSSL_cleanse(data, n);
		free(data);
		sl_err_set(err, SL_EINVAL, false, "%s %s is over 1 MiB", what, path);
		return NULL;
	}
	data[n] = '\0';
	*len = n;
	return data;
}
