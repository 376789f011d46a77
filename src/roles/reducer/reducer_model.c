/* reducer_model.c: the reducer's state without I/O (see reducer_model.h).
 *
 * Partitions sit in an array indexed by id (Kafka's ids are small and
 * dense). Each keeps two maps that mirror each other, market -> entry
 * (whose `channels` is the set of channels watching it) and channel -> set
 * of markets, so a command, a close and an update each touch only what
 * they name. An empty set is freed at once: a market nobody watches has
 * channels == NULL, which the hot path tests without a lookup.
 */
#include "roles/reducer/reducer_model.h"

#include "core/alloc.h"
#include "redis/rstate.h"

#include <stdlib.h>
#include <string.h>

struct sl_rmodel {
	sl_rpart_t **parts; /* indexed by partition id; NULL: not owned */
	int32_t nparts;
	int loading;        /* partitions in LOADING */
	bool commit_dirty;  /* some partition's acked_next moved */
	sl_smap_t *begins;  /* channel -> mono ms of its last begin */
};

sl_rmodel_t *sl_rmodel_new(void)
{
	sl_rmodel_t *m = sl_xcalloc(1, sizeof(*m));
	m->begins = sl_smap_new();
	return m;
}

static void mkt_free(sl_mkt_t *mk)
{
	sl_smap_free(mk->channels);
	free(mk->json);
	free(mk);
}

static void part_empty(sl_rpart_t *p)
{
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	void *val;
	while (sl_smap_next(p->markets, &it, NULL, NULL, &val))
		mkt_free(val);
	it = (sl_map_iter_t)SL_MAP_ITER_INIT;
	while (sl_smap_next(p->channels, &it, NULL, NULL, &val))
		sl_smap_free(val);
	sl_smap_free(p->markets);
	sl_smap_free(p->channels);
	p->markets = p->channels = NULL;
}

void sl_rmodel_free(sl_rmodel_t *m)
{
	if (!m)
		return;
	for (int32_t i = 0; i < m->nparts; i++)
		sl_rmodel_forget(m, i);
	free(m->parts);
	sl_smap_free(m->begins);
	free(m);
}

/* ---- partitions ---- */
sl_rpart_t *sl_rmodel_part(const sl_rmodel_t *m, int32_t id)
{
	return id >= 0 && id < m->nparts ? m->parts[id] : NULL;
}

int32_t sl_rmodel_nparts(const sl_rmodel_t *m)
{
	return m->nparts;
}

void sl_rmodel_forget(sl_rmodel_t *m, int32_t id)
{
	sl_rpart_t *p = sl_rmodel_part(m, id);
	if (!p)
		return;
	if (p->st == SL_PART_LOADING)
		m->loading--;
	part_empty(p);
	free(p);
	m->parts[id] = NULL;
}

sl_rpart_t *sl_rmodel_assign(sl_rmodel_t *m, int32_t id)
{
	if (id < 0)
		return NULL;
	if (id >= m->nparts) {
		int32_t n = id + 1;
		m->parts = sl_xrealloc(m->parts, (size_t)n * sizeof(*m->parts));
		memset(m->parts + m->nparts, 0, (size_t)(n - m->nparts) * sizeof(*m->parts));
		m->nparts = n;
	}
	sl_rmodel_forget(m, id);
	sl_rpart_t *p = sl_xcalloc(1, sizeof(*p));
	p->id = id;
	p->st = SL_PART_LOADING;
	p->acked_next = -1;
	p->markets = sl_smap_new();
	p->channels = sl_smap_new();
	m->parts[id] = p;
	m->loading++;
	return p;
}

void sl_rmodel_clear(sl_rpart_t *p)
{
	part_empty(p);
	p->markets = sl_smap_new();
	p->channels = sl_smap_new();
}

void sl_rmodel_loaded(sl_rmodel_t *m, sl_rpart_t *p)
{
	if (p->st == SL_PART_LOADING)
		m->loading--;
	p->st = SL_PART_READY;
}

void sl_rmodel_revoking(sl_rmodel_t *m, sl_rpart_t *p)
{
	if (p->st == SL_PART_LOADING)
		m->loading--;
	p->st = SL_PART_REVOKING;
}

int sl_rmodel_loading(const sl_rmodel_t *m)
{
	return m->loading;
}

/* ---- markets ---- */
static sl_mkt_t *mkt_get(sl_rpart_t *p, const char *market, size_t mlen)
{
	sl_mkt_t *mk = sl_smap_get(p->markets, market, mlen);
	if (!mk) {
		mk = sl_xcalloc(1, sizeof(*mk));
		mk->offset = -1;
		sl_smap_put(p->markets, market, mlen, mk, NULL);
	}
	return mk;
}

static void set_state(sl_mkt_t *mk, int64_t offset, int64_t ts, const char *json, size_t jlen)
{
	if (mk->jlen < jlen || !mk->json)
		mk->json = sl_xrealloc(mk->json, jlen + 1);
	memcpy(mk->json, json, jlen);
	mk->json[jlen] = '\0';
	mk->jlen = jlen;
	mk->offset = offset;
	mk->ts = ts;
}

sl_mkt_t *sl_rmodel_market(const sl_rpart_t *p, const char *market, size_t mlen)
{
	return sl_smap_get(p->markets, market, mlen);
}

bool sl_rmodel_watched(const sl_rpart_t *p, const char *market, size_t mlen)
{
	sl_mkt_t *mk = sl_smap_get(p->markets, market, mlen);
	return mk && sl_smap_count(mk->channels) > 0;
}

void sl_rmodel_load_state(sl_rpart_t *p, const char *market, size_t mlen, int64_t offset, int64_t ts,
			  const char *json, size_t jlen)
{
	sl_mkt_t *mk = mkt_get(p, market, mlen);
	if (offset > mk->offset)
		set_state(mk, offset, ts, json, jlen);
}

bool sl_rmodel_update(sl_rpart_t *p, const char *market, size_t mlen, int64_t offset, int64_t ts, const char *json,
		      size_t jlen)
{
	sl_mkt_t *mk = mkt_get(p, market, mlen);
	if (offset < mk->offset)
		return false;
	set_state(mk, offset, ts, json, jlen);
	return true;
}

/* ---- subscriptions ---- */
void sl_rmodel_subscribe(sl_rpart_t *p, const char *market, size_t mlen, const char *channel, size_t chlen)
{
	sl_mkt_t *mk = mkt_get(p, market, mlen);
	if (!mk->channels)
		mk->channels = sl_smap_new();
	sl_smap_put(mk->channels, channel, chlen, NULL, NULL);
	sl_smap_t *set = sl_smap_get(p->channels, channel, chlen);
	if (!set) {
		set = sl_smap_new();
		sl_smap_put(p->channels, channel, chlen, set, NULL);
	}
	sl_smap_put(set, market, mlen, NULL, NULL);
}

void sl_rmodel_load_sub(sl_rpart_t *p, const char *market, size_t mlen, const char *channel, size_t chlen)
{
	sl_rmodel_subscribe(p, market, mlen, channel, chlen);
}

void sl_rmodel_unsubscribe(sl_rpart_t *p, const char *market, size_t mlen, const char *channel, size_t chlen)
{
	sl_mkt_t *mk = sl_smap_get(p->markets, market, mlen);
	if (mk && mk->channels) {
		sl_smap_del(mk->channels, channel, chlen, NULL);
		if (!sl_smap_count(mk->channels)) {
			sl_smap_free(mk->channels);
			mk->channels = NULL;
		}
	}
	sl_smap_t *set = sl_smap_get(p->channels, channel, chlen);
	if (set) {
		sl_smap_del(set, market, mlen, NULL);
		if (!sl_smap_count(set)) {
			sl_smap_del(p->channels, channel, chlen, NULL);
			sl_smap_free(set);
		}
	}
}

void sl_rmodel_close_channel(sl_rmodel_t *m, const char *channel, size_t chlen)
{
	for (int32_t pid = 0; pid < m->nparts; pid++) {
		sl_rpart_t *p = m->parts[pid];
		sl_smap_t *set = p ? sl_smap_get(p->channels, channel, chlen) : NULL;
		if (!set)
			continue;
		/* Copy the markets first: the last unsubscribe frees the set. */
		sl_buf_t keys = SL_BUF_INIT;
		sl_map_iter_t it = SL_MAP_ITER_INIT;
		const char *k;
		size_t n;
		while (sl_smap_next(set, &it, &k, &n, NULL)) {
			sl_buf_append(&keys, k, n);
			sl_buf_putc(&keys, '\0');
		}
		for (size_t off = 0; off < keys.len; off += n + 1) {
			n = strlen(keys.data + off);
			sl_rmodel_unsubscribe(p, keys.data + off, n, channel, chlen);
		}
		sl_buf_free(&keys);
	}
}

/* ---- snapshots and begins ---- */
bool sl_rmodel_snapshot(const sl_rmodel_t *m, const char *channel, size_t chlen, const sl_rpart_t *only,
			sl_buf_t *out)
{
	bool owns = false;
	size_t start = out->len;
	int entries = 0;
	for (int32_t pid = 0; pid < m->nparts; pid++) {
		sl_rpart_t *p = m->parts[pid];
		if (!p || p->st != SL_PART_READY || (only && p != only))
			continue;
		sl_smap_t *set = sl_smap_get(p->channels, channel, chlen);
		if (!set)
			continue;
		if (!owns)
			sl_buf_puts(out, "{\"type\":\"snapshot\",\"markets\":[");
		owns = true;
		sl_map_iter_t it = SL_MAP_ITER_INIT;
		const char *k;
		size_t n;
		while (sl_smap_next(set, &it, &k, &n, NULL)) {
			sl_mkt_t *mk = sl_smap_get(p->markets, k, n);
			if (!mk || mk->offset < 0)
				continue;
			if (entries++)
				sl_buf_putc(out, ',');
			sl_rstate_entry_json(out, k, n, mk->json, mk->jlen, mk->offset, p->id, mk->ts);
		}
	}
	if (owns)
		sl_buf_puts(out, "]}");
	else
		out->len = start;
	return owns;
}

static void prune_begins(sl_rmodel_t *m, int64_t now_ms)
{
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	const char *k;
	size_t n;
	void *val;
	while (sl_smap_next(m->begins, &it, &k, &n, &val))
		if (now_ms - (int64_t)(intptr_t)val > SL_RMODEL_BEGIN_MEMORY_MS)
			sl_smap_del(m->begins, k, n, NULL);
}

void sl_rmodel_begin(sl_rmodel_t *m, const char *channel, size_t chlen, int64_t now_ms)
{
	prune_begins(m, now_ms);
	sl_smap_put(m->begins, channel, chlen, (void *)(intptr_t)now_ms, NULL);
}

void sl_rmodel_recent_begins(sl_rmodel_t *m, const sl_rpart_t *p, int64_t now_ms,
			     void (*fn)(const char *channel, size_t chlen, void *arg), void *arg)
{
	prune_begins(m, now_ms);
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	const char *k;
	size_t n;
	while (sl_smap_next(m->begins, &it, &k, &n, NULL))
		if (sl_smap_has(p->channels, k, n))
			fn(k, n, arg);
}

/* ---- acknowledgements ---- */
void sl_rmodel_ack(sl_rmodel_t *m, int32_t pid, int64_t offset)
{
	sl_rpart_t *p = sl_rmodel_part(m, pid);
	if (p && offset + 1 > p->acked_next) {
		p->acked_next = offset + 1;
		p->commit_dirty = true;
		m->commit_dirty = true;
	}
}

void sl_rmodel_take_commits(sl_rmodel_t *m, void (*fn)(int32_t pid, int64_t next, void *arg), void *arg)
{
	if (!m->commit_dirty)
		return;
	m->commit_dirty = false;
	for (int32_t i = 0; i < m->nparts; i++) {
		sl_rpart_t *p = m->parts[i];
		if (p && p->commit_dirty && p->st != SL_PART_LOADING) {
			p->commit_dirty = false;
			fn(i, p->acked_next, arg);
		}
	}
}

/* ---- metrics ---- */
int32_t sl_rmodel_owned(const sl_rmodel_t *m)
{
	int32_t n = 0;
	for (int32_t i = 0; i < m->nparts; i++)
		n += m->parts[i] != NULL;
	return n;
}

size_t sl_rmodel_subscriptions(const sl_rmodel_t *m)
{
	size_t subs = 0;
	for (int32_t i = 0; i < m->nparts; i++) {
		if (!m->parts[i])
			continue;
		sl_map_iter_t it = SL_MAP_ITER_INIT;
		void *set;
		while (sl_smap_next(m->parts[i]->channels, &it, NULL, NULL, &set))
			subs += sl_smap_count(set);
	}
	return subs;
}
