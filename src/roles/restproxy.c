/* restproxy.c: `sluice rest-proxy`: Kafka REST proxy (Confluent API v2 and v1).
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const restproxy_tables[] = {sl_cfg_keys_log, NULL};

static int restproxy_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice rest-proxy: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_restproxy = {"rest-proxy", "Kafka REST proxy (Confluent API v2 and v1)", restproxy_main, restproxy_tables};
