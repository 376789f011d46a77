/* reducer_consumer.c: the data consumer as the reducer's parts use it
 * (see reducer_int.h): each owned partition's I/O state beside the model,
 * pausing and resuming partitions, the pause of everything while Redis is
 * down, another loop turn when records remain, and the commit of the
 * offsets Redis acknowledged. Below every other file of the reducer but
 * the model: it calls nothing of theirs.
 */
#include "roles/reducer/reducer_int.h"

#include "core/alloc.h"
#include "core/log.h"
#include "kafka/kpart.h"

#include <stdlib.h>
#include <string.h>

sl_part_io_t *sl_reducer__io(sl_reducer_t *r, int32_t id)
{
	return id >= 0 && id < r->npio ? r->pio[id] : NULL;
}

sl_part_io_t *sl_reducer__io_new(sl_reducer_t *r, int32_t id)
{
	if (id >= r->npio) {
		int32_t n = id + 1;
		r->pio = sl_xrealloc(r->pio, (size_t)n * sizeof(*r->pio));
		memset(r->pio + r->npio, 0, (size_t)(n - r->npio) * sizeof(*r->pio));
		r->npio = n;
	}
	sl_reducer__io_forget(r, id);
	r->pio[id] = sl_xcalloc(1, sizeof(sl_part_io_t));
	return r->pio[id];
}

void sl_reducer__io_forget(sl_reducer_t *r, int32_t id)
{
	sl_part_io_t *io = sl_reducer__io(r, id);
	if (!io)
		return;
	for (size_t i = 0; i < io->nheld; i++)
		rd_kafka_message_destroy(io->held[i]);
	free(io->held);
	free(io);
	r->pio[id] = NULL;
}

/* A partition is resumed only when this process paused it. librdkafka
 * 2.0.2 bumps the fetch barrier on every resume, even of a partition that
 * is not paused: the records already fetched and waiting in the consumer
 * queue are dropped as outdated and the fetcher restarts from the position
 * of its last start or pause (upstream 2.1 stopped bumping it for a
 * partition that is not paused). */
void sl_reducer__pause_part(sl_reducer_t *r, int32_t id, bool pause)
{
	sl_part_io_t *io = sl_reducer__io(r, id);
	if (!io || io->paused == pause)
		return;
	io->paused = pause;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, r->data_topic, id);
	if (pause)
		rd_kafka_pause_partitions(r->rk, l);
	else
		rd_kafka_resume_partitions(r->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
}

void sl_reducer__redis_failed(sl_reducer_t *r)
{
	if (r->redis_paused)
		return;
	r->redis_paused = true;
	for (int32_t i = 0; i < r->npio; i++)
		sl_reducer__pause_part(r, i, true);
	sl_log_warn("consumption_paused", SL_KV(reason, "redis_unavailable"));
}

void sl_reducer__schedule(sl_reducer_t *r)
{
	if (!r->idle_on && !r->stopping) {
		r->idle_on = true;
		uv_idle_start(&r->idle, r->idle_cb);
	}
}

static void add_commit(int32_t pid, int64_t next, void *arg)
{
	sl_reducer_t *r = ((void **)arg)[0];
	rd_kafka_topic_partition_list_t *l = ((void **)arg)[1];
	rd_kafka_topic_partition_list_add(l, r->data_topic, pid)->offset = next;
}

void sl_reducer__commit_acked(sl_reducer_t *r)
{
	if (r->kafka_closing)
		return;
	int32_t n = sl_rmodel_nparts(r->model);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
	void *ctx[2] = {r, l};
	sl_rmodel_take_commits(r->model, add_commit, ctx);
	if (l->cnt)
		rd_kafka_commit(r->rk, l, 1);
	rd_kafka_topic_partition_list_destroy(l);
}

int32_t sl_reducer__market_partition(const sl_reducer_t *r, const char *market, size_t len)
{
	return sl_kpart_of(market, len, r->data_partitions);
}
