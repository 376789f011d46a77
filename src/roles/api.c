/* api.c: `sluice api`: stream control API (channels, subscriptions, market state).
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const api_tables[] = {sl_cfg_keys_log, NULL};

static int api_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice api: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_api = {"api", "stream control API (channels, subscriptions, market state)", api_main, api_tables};
