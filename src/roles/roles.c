/* roles.c: the one way into a role (see roles.h): its settings parsed from
 * its tables, logging set up, run called, the settings freed.
 *
 * How it fits: main.c dispatches every subcommand here, and the unit tests
 * of the console tools run a role the same way. Non-goals: choosing the
 * role (main.c's table).
 */
#include "roles/roles.h"

#include "loop/runtime.h"

#include <stdlib.h>

int sl_role_exec(const sl_role_t *r, int argc, char **argv)
{
	char **fixed = r->argv_fix ? r->argv_fix(argc - 1, argv + 1) : NULL;
	int code;
	sl_cfg_t *cfg = sl_cfg_setup_role(r->name, r->usage, r->about ? r->about : r->summary, r->tables, argc - 1,
					  fixed ? fixed : argv + 1, &code);
	if (cfg) {
		code = r->run(cfg);
		if (code == 0 && sl_runtime_failed())
			code = 1; /* stopped by a fatal error, not by a signal */
		sl_cfg_free(cfg);
	}
	free(fixed);
	return code;
}
