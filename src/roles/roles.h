/* roles.h: the contract between main.c and the roles.
 *
 * Each role (server or console tool) lives in src/roles/<role>/ when it has
 * several files (api/, publisher/, reducer/, restproxy/; the console tools
 * share tools/) or in src/roles/<role>.c, and exports one descriptor;
 * main.c's table lists them. A role's main parses its own
 * flags (core/config.h), runs, and returns the process exit status:
 * 0 ok, 1 runtime failure, 2 usage or configuration error.
 * Roles never include each other; shared code goes down into proto/, kafka/,
 * redis/ or core/.
 */
#ifndef SL_ROLES_H
#define SL_ROLES_H

#include "core/config.h"

typedef struct sl_role {
	const char *name;
	const char *summary;                /* one line for `sluice help` */
	int (*main)(int argc, char **argv); /* argv[0] is the role name */
	const sl_cfg_key_t *const *tables;  /* for `sluice config docs` */
} sl_role_t;

extern const sl_role_t sl_role_feed;
extern const sl_role_t sl_role_api;
extern const sl_role_t sl_role_reducer;
extern const sl_role_t sl_role_publisher;
extern const sl_role_t sl_role_restproxy;
extern const sl_role_t sl_role_topics;
extern const sl_role_t sl_role_produce;
extern const sl_role_t sl_role_consume;
extern const sl_role_t sl_role_groups;
extern const sl_role_t sl_role_watch;

#endif
