/* topics.c: `sluice topics`: create, list, describe, alter, delete topics.
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const topics_tables[] = {sl_cfg_keys_log, NULL};

static int topics_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice topics: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_topics = {"topics", "create, list, describe, alter, delete topics", topics_main, topics_tables};
