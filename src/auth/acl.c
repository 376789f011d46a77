/* acl.c: the REST proxy's rules and their matcher (see acl.h).
 *
 * Rules are an array scanned in order; the first rule that allows wins
 * (there are no deny rules, so order does not change the answer).
 */
#include "auth/acl.h"

#include "auth/file.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct rule {
	char *principal; /* "*" for any */
	sl_acl_res_t res;
	char *name;      /* without the trailing '*' when prefix */
	bool prefix;
	unsigned ops;
} rule_t;

typedef struct internal {
	sl_acl_res_t res;
	char *name;
} internal_t;

struct sl_acl {
	rule_t *r;
	size_t n;
	internal_t *in;
	size_t nin;
};

sl_acl_t *sl_acl_new(void)
{
	return sl_xcalloc(1, sizeof(sl_acl_t));
}

void sl_acl_free(sl_acl_t *acl)
{
	if (!acl)
		return;
	for (size_t i = 0; i < acl->n; i++) {
		free(acl->r[i].principal);
		free(acl->r[i].name);
	}
	free(acl->r);
	for (size_t i = 0; i < acl->nin; i++)
		free(acl->in[i].name);
	free(acl->in);
	free(acl);
}

size_t sl_acl_count(const sl_acl_t *acl)
{
	return acl ? acl->n : 0;
}

void sl_acl_add_internal(sl_acl_t *acl, sl_acl_res_t res, const char *name)
{
	if (!name || !*name || sl_acl_is_internal(acl, res, name))
		return;
	acl->in = sl_xrealloc(acl->in, (acl->nin + 1) * sizeof(internal_t));
	acl->in[acl->nin++] = (internal_t){res, sl_xstrdup(name)};
}

bool sl_acl_is_internal(const sl_acl_t *acl, sl_acl_res_t res, const char *name)
{
	for (size_t i = 0; i < acl->nin; i++)
		if (acl->in[i].res == res && !strcmp(acl->in[i].name, name))
			return true;
	return false;
}

static int parse_ops(const char *s, unsigned *ops)
{
	*ops = 0;
	char *copy = sl_xstrdup(s), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "read"))
			*ops |= SL_ACL_READ;
		else if (!strcmp(t, "write"))
			*ops |= SL_ACL_WRITE;
		else if (!strcmp(t, "all"))
			*ops |= SL_ACL_READ | SL_ACL_WRITE;
		else
			rc = -1;
	}
	free(copy);
	return rc < 0 || !*ops ? -1 : 0;
}

int sl_acl_parse(sl_acl_t *acl, const char *text, size_t len, const char *name, sl_err_t *err)
{
	char *copy = sl_xstrndup(text, len);
	int lineno = 0, rc = 0;
	for (char *line = copy, *next; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *f[5], *save = NULL;
		int nf = 0;
		for (char *t = strtok_r(line, " \t\r", &save); t && nf < 5; t = strtok_r(NULL, " \t\r", &save))
			f[nf++] = t;
		if (nf == 0)
			continue;
		if (nf != 4) {
			rc = sl_err_set(err, SL_EINVAL, false,
					"%s line %d: expected `principal topic|group name read|write|all`", name, lineno);
			break;
		}
		sl_acl_res_t res = !strcmp(f[1], "topic") ? SL_ACL_TOPIC : !strcmp(f[1], "group") ? SL_ACL_GROUP : 0;
		unsigned ops;
		size_t nl = strlen(f[2]);
		char *star = strchr(f[2], '*');
		if (!res) {
			rc = sl_err_set(err, SL_EINVAL, false, "%s line %d: the resource is topic or group, not %s", name,
					lineno, f[1]);
		} else if (star && star != f[2] + nl - 1) {
			rc = sl_err_set(err, SL_EINVAL, false, "%s line %d: `*` may only end a name (a prefix)", name,
					lineno);
		} else if (parse_ops(f[3], &ops) < 0) {
			rc = sl_err_set(err, SL_EINVAL, false, "%s line %d: operations are read, write or all, not %s",
					name, lineno, f[3]);
		} else {
			acl->r = sl_xrealloc(acl->r, (acl->n + 1) * sizeof(rule_t));
			acl->r[acl->n++] = (rule_t){sl_xstrdup(f[0]), res, sl_xstrndup(f[2], star ? nl - 1 : nl),
						    star != NULL, ops};
		}
	}
	free(copy);
	return rc;
}

sl_acl_t *sl_acl_load(const char *path, sl_err_t *err)
{
	size_t len = 0;
	char *data = sl_auth_file_read(path, "ACL file", &len, err);
	if (!data)
		return NULL;
	sl_acl_t *acl = sl_acl_new();
	int rc = sl_acl_parse(acl, data, len, path, err);
	free(data);
	if (rc < 0) {
		sl_acl_free(acl);
		return NULL;
	}
	return acl;
}

bool sl_acl_allows(const sl_acl_t *acl, const char *principal, bool admin, sl_acl_res_t res, const char *name,
		   unsigned op)
{
	if (admin)
		return true;
	if (!acl || !principal || !name)
		return false;
	bool internal = sl_acl_is_internal(acl, res, name);
	for (size_t i = 0; i < acl->n; i++) {
		const rule_t *r = &acl->r[i];
		if (r->res != res || !(r->ops & op))
			continue;
		bool any = !strcmp(r->principal, "*");
		if (!any && strcmp(r->principal, principal) != 0)
			continue;
		if (internal && (any || r->prefix))
			continue; /* only a literal rule for a named principal opens an internal resource */
		if (r->prefix ? !strncmp(name, r->name, strlen(r->name)) : !strcmp(name, r->name))
			return true;
	}
	return false;
}
