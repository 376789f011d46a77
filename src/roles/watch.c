/* watch.c: `sluice watch`: terminal client: subscribe to markets and print live prices.
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const watch_tables[] = {sl_cfg_keys_log, NULL};

static int watch_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice watch: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_watch = {"watch", "terminal client: subscribe to markets and print live prices", watch_main, watch_tables};
