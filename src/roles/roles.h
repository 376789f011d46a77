/* roles.h: the contract between main.c and the roles.
 *
 * Each role (server or console tool) lives in src/roles/<role>/ when it has
 * several files (api/, publisher/, reducer/, restproxy/; the console tools
 * share tools/) or in src/roles/<role>.c, and exports one descriptor;
 * main.c's table lists them. main.c parses the role's settings from its
 * tables (core/config.h: flags, env, file, defaults; --help; logging set
 * up), then calls run with them; run returns the process exit status:
 * 0 ok, 1 runtime failure, 2 usage or configuration error (a check the
 * tables cannot express). The settings outlive run; main.c frees them.
 * Roles never include each other; shared code goes down into proto/, kafka/,
 * redis/, loop/ or core/.
 */
#ifndef SL_ROLES_H
#define SL_ROLES_H

#include "core/config.h"

typedef struct sl_role {
	const char *name;
	const char *summary;               /* one line for `sluice help` */
	const char *usage;                 /* "sluice <role> [options]", for --help */
	const char *about;                 /* the paragraph of --help; NULL: summary */
	const sl_cfg_key_t *const *tables; /* its settings; NULL-terminated */
	int (*run)(sl_cfg_t *cfg);
	/* Optional: argv (without the role name) as the tables should read it,
	 * a new array main.c frees (the console tools' --config k=v). */
	char **(*argv_fix)(int argc, char **argv);
} sl_role_t;

/* Run role r as `sluice <argv[0]> argv[1..]` (roles.c): parse, set up
 * logging, run, free. Returns the exit status. */
int sl_role_exec(const sl_role_t *r, int argc, char **argv);

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
extern const sl_role_t sl_role_token;

#endif
