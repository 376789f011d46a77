/* kgroup.c: list and describe consumer groups (see kgroup.h).
 *
 * describe: one DescribeConsumerGroups, one ListConsumerGroupOffsets, then
 * a high-watermark query per partition, all within one deadline so the
 * whole call is bounded by timeout_ms (plus the admin grace of kadmin.c).
 */
#include "kafka/kgroup.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "kafka/kadmin.h"
#include "kafka/kconf.h"

#include <stdlib.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_kgroup_list(rd_kafka_t *rk, int timeout_ms, char ***ids, size_t *n, sl_err_t *err)
{
	*ids = NULL;
	*n = 0;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opt = sl_kadmin__options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, timeout_ms);
	rd_kafka_ListConsumerGroups(rk, opt, q);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_event_t *ev =
		sl_kadmin__wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT, timeout_ms, "list groups", err);
	int rc = 0;
	if (!ev) {
		rc = err ? err->code : SL_EKAFKA;
	} else {
		const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
		size_t nerr, cnt;
		const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
		const rd_kafka_ConsumerGroupListing_t **valid = rd_kafka_ListConsumerGroups_result_valid(res, &cnt);
		if (nerr > 0 && cnt == 0) {
			rc = sl_err_set(err, sl_kafka_err_code(rd_kafka_error_code(errs[0])), false, "list groups: %s",
					rd_kafka_error_string(errs[0]));
		} else {
			*ids = sl_xcalloc(cnt + 1, sizeof(char *));
			for (size_t i = 0; i < cnt; i++)
				(*ids)[i] = sl_xstrdup(rd_kafka_ConsumerGroupListing_group_id(valid[i]));
			*n = cnt;
			qsort(*ids, cnt, sizeof(char *), cmp_str);
		}
		rd_kafka_event_destroy(ev);
	}
	rd_kafka_queue_destroy(q);
	return rc;
}

void sl_kgroup_list_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

void sl_kgroup_free(sl_kgroup_t *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nmembers; i++) {
		free(g->members[i].id);
		free(g->members[i].client_id);
		free(g->members[i].host);
	}
	for (size_t i = 0; i < g->nparts; i++)
		free(g->parts[i].topic);
	free(g->members);
	free(g->parts);
	free(g->id);
	free(g->state);
	free(g->assignor);
	free(g);
}

/* The row for topic/partition, added when missing. */
static sl_kgroup_part_t *part_row(sl_kgroup_t *g, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < g->nparts; i++)
		if (g->parts[i].partition == partition && !strcmp(g->parts[i].topic, topic))
			return &g->parts[i];
	g->parts = sl_xrealloc(g->parts, (g->nparts + 1) * sizeof(*g->parts));
	sl_kgroup_part_t *p = &g->parts[g->nparts++];
	p->topic = sl_xstrdup(topic);
	p->partition = partition;
	p->committed = -1;
	p->end = -1;
	p->lag = -1;
	p->member = -1;
	return p;
}

static int cmp_part(const void *a, const void *b)
{
	const sl_kgroup_part_t *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static int describe_members(rd_kafka_t *rk, sl_kgroup_t *g, int timeout_ms, sl_err_t *err)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opt = sl_kadmin__options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout_ms);
	const char *groups[] = {g->id};
	rd_kafka_DescribeConsumerGroups(rk, groups, 1, opt, q);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_event_t *ev =
		sl_kadmin__wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT, timeout_ms, "describe group", err);
	int rc = 0;
	if (!ev) {
		rd_kafka_queue_destroy(q);
		return err ? err->code : SL_EKAFKA;
	}
	size_t n;
	const rd_kafka_ConsumerGroupDescription_t **d =
		rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
	if (n < 1) {
		rc = sl_err_set(err, SL_EKAFKA, false, "describe group '%s': empty answer", g->id);
	} else if (rd_kafka_ConsumerGroupDescription_error(d[0])) {
		const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d[0]);
		rc = sl_err_set(err, sl_kafka_err_code(rd_kafka_error_code(e)), false, "describe group '%s': %s", g->id,
				rd_kafka_error_string(e));
	} else {
		g->state = sl_xstrdup(rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d[0])));
		const char *a = rd_kafka_ConsumerGroupDescription_partition_assignor(d[0]);
		g->assignor = sl_xstrdup(a ? a : "");
		g->nmembers = rd_kafka_ConsumerGroupDescription_member_count(d[0]);
		g->members = sl_xcalloc(g->nmembers + 1, sizeof(*g->members));
		for (size_t i = 0; i < g->nmembers; i++) {
			const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d[0], i);
			sl_kgroup_member_t *gm = &g->members[i];
			gm->id = sl_xstrdup(rd_kafka_MemberDescription_consumer_id(m));
			gm->client_id = sl_xstrdup(rd_kafka_MemberDescription_client_id(m));
			gm->host = sl_xstrdup(rd_kafka_MemberDescription_host(m));
			const rd_kafka_MemberAssignment_t *as = rd_kafka_MemberDescription_assignment(m);
			const rd_kafka_topic_partition_list_t *tp = as ? rd_kafka_MemberAssignment_partitions(as) : NULL;
			for (int j = 0; tp && j < tp->cnt; j++) {
				part_row(g, tp->elems[j].topic, tp->elems[j].partition)->member = (int)i;
				gm->nparts++;
			}
		}
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	return rc;
}

static int committed_offsets(rd_kafka_t *rk, sl_kgroup_t *g, int timeout_ms, sl_err_t *err)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opt = sl_kadmin__options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout_ms);
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(g->id, NULL);
	rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, opt, q);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_event_t *ev =
		sl_kadmin__wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT, timeout_ms, "group offsets", err);
	int rc = 0;
	if (!ev) {
		rd_kafka_queue_destroy(q);
		return err ? err->code : SL_EKAFKA;
	}
	size_t n;
	const rd_kafka_group_result_t **res =
		rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
	for (size_t i = 0; i < n && !rc; i++) {
		const rd_kafka_error_t *e = rd_kafka_group_result_error(res[i]);
		if (e) {
			rc = sl_err_set(err, sl_kafka_err_code(rd_kafka_error_code(e)), false, "offsets of group '%s': %s",
					g->id, rd_kafka_error_string(e));
			break;
		}
		const rd_kafka_topic_partition_list_t *tp = rd_kafka_group_result_partitions(res[i]);
		for (int j = 0; tp && j < tp->cnt; j++) {
			if (tp->elems[j].err || tp->elems[j].offset < 0)
				continue;
			part_row(g, tp->elems[j].topic, tp->elems[j].partition)->committed = tp->elems[j].offset;
		}
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	return rc;
}

int sl_kgroup_describe(rd_kafka_t *rk, const char *group, int timeout_ms, sl_kgroup_t **out, sl_err_t *err)
{
	int64_t deadline = sl_clock_mono_ms() + timeout_ms;
	sl_kgroup_t *g = sl_xcalloc(1, sizeof(*g));
	g->id = sl_xstrdup(group);
	*out = NULL;
	int rc = describe_members(rk, g, timeout_ms, err);
	if (!rc)
		rc = committed_offsets(rk, g, timeout_ms, err);
	if (!rc && g->nmembers == 0 && g->nparts == 0 && !strcmp(g->state, "Dead"))
		rc = sl_err_set(err, SL_ENOTFOUND, false, "group '%s' does not exist", group);
	for (size_t i = 0; !rc && i < g->nparts; i++) {
		sl_kgroup_part_t *p = &g->parts[i];
		int64_t left = deadline - sl_clock_mono_ms();
		int64_t lo, hi;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi,
									 left < 100 ? 100 : (int)left);
		if (e) {
			rc = sl_err_set(err, sl_kafka_err_code(e), e == RD_KAFKA_RESP_ERR__TIMED_OUT,
					"end offset of %s [%d]: %s", p->topic, (int)p->partition, rd_kafka_err2str(e));
			break;
		}
		p->end = hi;
		p->lag = p->committed >= 0 ? hi - p->committed : -1;
	}
	if (rc) {
		sl_kgroup_free(g);
		return rc;
	}
	qsort(g->parts, g->nparts, sizeof(*g->parts), cmp_part);
	*out = g;
	return 0;
}
