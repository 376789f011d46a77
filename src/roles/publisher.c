/* publisher.c: `sluice publisher`: WebSocket/SSE stream publisher and dashboard.
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const publisher_tables[] = {sl_cfg_keys_log, NULL};

static int publisher_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice publisher: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_publisher = {"publisher", "WebSocket/SSE stream publisher and dashboard", publisher_main, publisher_tables};
