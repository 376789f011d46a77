/* reducer.c: `sluice reducer`: consume market updates, keep state in Redis, publish to channels.
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const reducer_tables[] = {sl_cfg_keys_log, NULL};

static int reducer_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice reducer: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_reducer = {"reducer", "consume market updates, keep state in Redis, publish to channels", reducer_main, reducer_tables};
