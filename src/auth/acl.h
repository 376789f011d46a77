/* acl.h: who may read or write which Kafka topics and consumer groups
 * through the REST proxy, as a pure matcher.
 *
 * The rules file, one rule a line (docs/security.md):
 *
 *   # principal  resource  name       operations
 *   alice        topic     odds-*     read,write
 *   alice        group     alice-*    read
 *   feeder       topic     markets    write
 *   *            topic     public     read
 *
 * A principal is a user of the credentials file (basic.h), or `*` for any
 * authenticated user. A name ending in `*` is a prefix (Kafka's PREFIXED
 * pattern); otherwise it is literal. Operations: read, write, or all.
 * Nothing is allowed unless a rule allows it; an admin may do anything.
 * Internal resources (sluice's own topics and the reducers' group, given
 * with sl_acl_add_internal) are closed to all but admins: only a rule that
 * names both the principal and the resource literally opens one, so no
 * wildcard or prefix rule ever reaches them by accident.
 * How it fits: the REST proxy asks before each produce (topic write),
 * subscription, assignment or metadata read (topic read), and consumer
 * instance or commit (group read). No I/O but reading the file.
 * References: Kafka's ACLs (kafka-acls.sh: LITERAL and PREFIXED patterns,
 * Read/Write operations on Topic and Group resources).
 * Non-goals: deny rules, hosts, cluster-level operations.
 */
#ifndef SL_AUTH_ACL_H
#define SL_AUTH_ACL_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { SL_ACL_TOPIC = 1, SL_ACL_GROUP = 2 } sl_acl_res_t;
enum { SL_ACL_READ = 1, SL_ACL_WRITE = 2 };

typedef struct sl_acl sl_acl_t;

/* An empty rule set (everything refused but to admins, until rules are added). */
sl_acl_t *sl_acl_new(void);
/* Load a rules file (NULL with err naming file and line), or parse text. */
sl_acl_t *sl_acl_load(const char *path, sl_err_t *err);
int sl_acl_parse(sl_acl_t *acl, const char *text, size_t len, const char *name, sl_err_t *err);
void sl_acl_free(sl_acl_t *acl);
size_t sl_acl_count(const sl_acl_t *acl);
/* Mark a topic or group as internal (copied). */
void sl_acl_add_internal(sl_acl_t *acl, sl_acl_res_t res, const char *name);
bool sl_acl_is_internal(const sl_acl_t *acl, sl_acl_res_t res, const char *name);

/* May principal (admin or not) do op (SL_ACL_READ or SL_ACL_WRITE) on
 * the resource? */
bool sl_acl_allows(const sl_acl_t *acl, const char *principal, bool admin, sl_acl_res_t res, const char *name,
		   unsigned op);

#endif
