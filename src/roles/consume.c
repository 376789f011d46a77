/* consume.c: `sluice consume`: consume a topic to stdout.
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const consume_tables[] = {sl_cfg_keys_log, NULL};

static int consume_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice consume: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_consume = {"consume", "consume a topic to stdout", consume_main, consume_tables};
