/* groups.c: `sluice groups`: list consumer groups, describe one with lag.
 *
 *   sluice groups --list
 *   sluice groups --describe --group G
 * --describe prints the group's state and members, then one row per
 * partition: GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG
 * CONSUMER-ID HOST CLIENT-ID, as Kafka's kafka-consumer-groups does ("-"
 * where there is nothing: no commit yet, no owner).
 * How it fits: a blocking CLI program over kafka/kgroup.h; every wait is
 * bounded by --kafka-timeout-ms. Exit: 0 ok, 1 runtime (unreachable,
 * unknown group), 2 usage.
 * References: Kafka's ConsumerGroupCommand (flags and columns).
 * Non-goals: --reset-offsets, --delete (not asked for; would need care).
 */
#include "kafka/kadmin.h"
#include "kafka/kgroup.h"
#include "roles/roles.h"

#include "core/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const sl_cfg_key_t groups_keys[] = {
	{"list", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "list consumer group ids"},
	{"describe", NULL, NULL, SL_CFG_BOOL, "false", 0, 0, "members, assignment, offsets and lag of --group"},
	{"group", NULL, NULL, SL_CFG_STR, NULL, 0, 0, "consumer group id"},
	{0},
};

static const sl_cfg_key_t *const groups_tables[] = {sl_cfg_keys_log, sl_cfg_keys_kafka, groups_keys, NULL};

#define USAGE "sluice groups --list | --describe --group G [--bootstrap-server H:P]"

static void put_num(sl_buf_t *b, int64_t v)
{
	if (v >= 0)
		sl_buf_printf(b, "%-15" PRId64 " ", v);
	else
		sl_buf_printf(b, "%-15s ", "-");
}

static void print_group(const sl_kgroup_t *g)
{
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_printf(&b, "Group %s: state %s, %zu member(s)%s%s\n", g->id, g->state, g->nmembers,
		      g->assignor && *g->assignor ? ", assignor " : "", g->assignor ? g->assignor : "");
	for (size_t i = 0; i < g->nmembers; i++)
		sl_buf_printf(&b, "  member %s host %s client %s partitions %zu\n", g->members[i].id, g->members[i].host,
			      g->members[i].client_id, g->members[i].nparts);
	sl_buf_puts(&b, "\n");
	sl_buf_printf(&b, "%-20s %-20s %-9s %-15s %-15s %-15s %-40s %-16s %s\n", "GROUP", "TOPIC", "PARTITION",
		      "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID");
	for (size_t i = 0; i < g->nparts; i++) {
		const sl_kgroup_part_t *p = &g->parts[i];
		sl_buf_printf(&b, "%-20s %-20s %-9d ", g->id, p->topic, (int)p->partition);
		put_num(&b, p->committed);
		put_num(&b, p->end);
		put_num(&b, p->lag);
		const sl_kgroup_member_t *m = p->member >= 0 ? &g->members[p->member] : NULL;
		sl_buf_printf(&b, "%-40s %-16s %s\n", m ? m->id : "-", m ? m->host : "-", m ? m->client_id : "-");
	}
	fwrite(b.data, 1, b.len, stdout);
	sl_buf_free(&b);
}

static int run(const sl_cfg_t *cfg, sl_err_t *err, bool *usage)
{
	*usage = true;
	bool list = sl_cfg_bool(cfg, "list"), describe = sl_cfg_bool(cfg, "describe");
	const char *group = sl_cfg_str(cfg, "group");
	if (list == describe)
		return sl_err_set(err, SL_EINVAL, false, "give exactly one of --list or --describe");
	if (describe && (!group || !*group))
		return sl_err_set(err, SL_EINVAL, false, "--describe needs --group");
	char *const *args;
	if (sl_cfg_args(cfg, &args) > 0)
		return sl_err_set(err, SL_EINVAL, false, "unexpected argument '%s'", args[0]);
	rd_kafka_t *rk = sl_kadmin_new(cfg, "groups", err);
	if (!rk)
		return SL_EINVAL;
	*usage = false;
	int tmo = (int)sl_cfg_int(cfg, "kafka-timeout-ms");
	const rd_kafka_metadata_t *md = NULL;
	int rc = sl_kadmin_metadata(rk, tmo, &md, err);
	if (md)
		rd_kafka_metadata_destroy(md);
	if (!rc && list) {
		char **ids;
		size_t n;
		rc = sl_kgroup_list(rk, tmo, &ids, &n, err);
		for (size_t i = 0; !rc && i < n; i++)
			printf("%s\n", ids[i]);
		if (!rc)
			sl_kgroup_list_free(ids, n);
	} else if (!rc) {
		sl_kgroup_t *g;
		rc = sl_kgroup_describe(rk, group, tmo, &g, err);
		if (!rc) {
			print_group(g);
			sl_kgroup_free(g);
		}
	}
	rd_kafka_destroy(rk);
	return rc;
}

static int groups_run(sl_cfg_t *cfg)
{
	sl_err_t err = {0};
	bool usage = false;
	int rc = run(cfg, &err, &usage);
	if (rc)
		fprintf(stderr, "sluice groups: %s\n", err.msg);
	fflush(stdout);
	return rc == 0 ? 0 : usage ? 2 : 1;
}

const sl_role_t sl_role_groups = {
	.name = "groups",
	.summary = "list consumer groups, describe one with lag",
	.usage = USAGE,
	.about = "List Kafka consumer groups; describe one with its lag.",
	.tables = groups_tables,
	.run = groups_run,
};
