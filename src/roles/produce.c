/* produce.c: `sluice produce`: produce stdin lines to a topic.
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const produce_tables[] = {sl_cfg_keys_log, NULL};

static int produce_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice produce: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_produce = {"produce", "produce stdin lines to a topic", produce_main, produce_tables};
