/* reducer_map.c: the string-keyed hash map behind the reducer's per-partition
 * maps (market -> market entry, channel -> set of markets, and sets).
 *
 * How it fits: declared in reducer_int.h; used only by the reducer's files.
 * Chained buckets, FNV-1a, doubling at load factor 1, keys copied and owned
 * by the map; values are the caller's (freed by the caller, e.g. through
 * sl_rmap_each before sl_rmap_free). Single-threaded (the loop thread).
 * Non-goals: ordered iteration, shrinking, deletion during iteration.
 */
#include "roles/reducer/reducer_int.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct ent {
	struct ent *next;
	uint32_t hash;
	size_t klen;
	void *val;
	char key[];
} ent_t;

struct sl_rmap {
	ent_t **b;
	size_t nb, n;
};

static uint32_t fnv1a(const char *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 16777619u;
	}
	return h;
}

sl_rmap_t *sl_rmap_new(void)
{
	sl_rmap_t *m = sl_xcalloc(1, sizeof(*m));
	m->nb = 16;
	m->b = sl_xcalloc(m->nb, sizeof(*m->b));
	return m;
}

void sl_rmap_free(sl_rmap_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nb; i++) {
		ent_t *e = m->b[i];
		while (e) {
			ent_t *next = e->next;
			free(e);
			e = next;
		}
	}
	free(m->b);
	free(m);
}

size_t sl_rmap_count(const sl_rmap_t *m)
{
	return m ? m->n : 0;
}

static ent_t **find(const sl_rmap_t *m, const char *k, size_t n, uint32_t h)
{
	ent_t **pp = &m->b[h & (m->nb - 1)];
	while (*pp && !((*pp)->hash == h && (*pp)->klen == n && !memcmp((*pp)->key, k, n)))
		pp = &(*pp)->next;
	return pp;
}

void *sl_rmap_get(const sl_rmap_t *m, const char *k, size_t n)
{
	if (!m)
		return NULL;
	ent_t *e = *find(m, k, n, fnv1a(k, n));
	return e ? e->val : NULL;
}

bool sl_rmap_has(const sl_rmap_t *m, const char *k, size_t n)
{
	return m && *find(m, k, n, fnv1a(k, n)) != NULL;
}

static void grow(sl_rmap_t *m)
{
	size_t nb = m->nb * 2;
	ent_t **b = sl_xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < m->nb; i++) {
		ent_t *e = m->b[i];
		while (e) {
			ent_t *next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = next;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

bool sl_rmap_put(sl_rmap_t *m, const char *k, size_t n, void *val, void **old)
{
	uint32_t h = fnv1a(k, n);
	ent_t **pp = find(m, k, n, h);
	if (*pp) {
		if (old)
			*old = (*pp)->val;
		(*pp)->val = val;
		return false;
	}
	ent_t *e = sl_xmalloc(sizeof(*e) + n + 1);
	e->next = NULL;
	e->hash = h;
	e->klen = n;
	e->val = val;
	memcpy(e->key, k, n);
	e->key[n] = 0;
	*pp = e;
	if (old)
		*old = NULL;
	if (++m->n > m->nb)
		grow(m);
	return true;
}

bool sl_rmap_del(sl_rmap_t *m, const char *k, size_t n, void **old)
{
	if (!m)
		return false;
	ent_t **pp = find(m, k, n, fnv1a(k, n));
	if (!*pp)
		return false;
	ent_t *e = *pp;
	*pp = e->next;
	if (old)
		*old = e->val;
	free(e);
	m->n--;
	return true;
}

void sl_rmap_each(const sl_rmap_t *m, void (*fn)(const char *k, size_t n, void *val, void *arg), void *arg)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nb; i++)
		for (ent_t *e = m->b[i]; e; e = e->next)
			fn(e->key, e->klen, e->val, arg);
}
