/* feed.c: `sluice feed`: produce the random-walk market feed to Kafka.
 *
 * Placeholder entry point while the role is being written; it refuses to run
 * rather than pretend.
 */
#include "roles/roles.h"

#include <stdio.h>

static const sl_cfg_key_t *const feed_tables[] = {sl_cfg_keys_log, NULL};

static int feed_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice feed: this role is not built yet\n");
	return 2;
}

const sl_role_t sl_role_feed = {"feed", "produce the random-walk market feed to Kafka", feed_main, feed_tables};
