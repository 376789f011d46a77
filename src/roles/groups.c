/* groups.c: `sluice groups`: list and describe consumer groups with lag.
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const groups_tables[] = {sl_cfg_keys_log, NULL};

static int groups_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice groups: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_groups = {"groups", "list and describe consumer groups with lag", groups_main, groups_tables};
