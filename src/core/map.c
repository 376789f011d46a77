/* map.c: the seeded hash map (see map.h).
 *
 * SipHash is written from the paper's description: four 64-bit words of
 * state, c rounds per 8-byte little-endian block, the length in the top
 * byte of the last block, d rounds to finish. sluice uses c=1, d=3 (the
 * variant Rust's and Python's tables chose): keys are short ids, and the
 * seed, not the round count, is what keeps the buckets unpredictable.
 * tests/unit/test_map.c checks the 2-4 variant against the paper's vectors.
 * The owning sl_smap_t is the intrusive table with a node allocated per
 * entry that carries the key bytes after it.
 */
#include "core/map.h"

#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define FIRST_BUCKETS 8

/* ---- SipHash ---- */
static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

#define SIPROUND(v0, v1, v2, v3) do { \
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
} while (0)

static inline uint64_t siphash(uint64_t k0, uint64_t k1, int crounds, int drounds, const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t full = n & ~(size_t)7;
	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(p + i);
		v3 ^= m;
		for (int r = 0; r < crounds; r++)
			SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	uint64_t last = (uint64_t)n << 56;
	for (size_t i = 0; i < (n & 7); i++)
		last |= (uint64_t)p[full + i] << (8 * i);
	v3 ^= last;
	for (int r = 0; r < crounds; r++)
		SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	for (int r = 0; r < drounds; r++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t sl_map__siphash(const unsigned char key[16], int crounds, int drounds, const void *p, size_t n)
{
	return siphash(load_le64(key), load_le64(key + 8), crounds, drounds, p, n);
}

/* ---- the process's seed ---- */
static uint64_t seed0, seed1;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
	unsigned char k[16];
	size_t got = 0;
	while (got < sizeof(k)) {
		ssize_t r = getrandom(k + got, sizeof(k) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < sizeof(k)) {
		/* No getrandom (old kernel): the device it reads from. */
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		got = 0;
		while (fd >= 0 && got < sizeof(k)) {
			ssize_t r = read(fd, k + got, sizeof(k) - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		if (fd >= 0)
			close(fd);
	}
	if (got < sizeof(k)) {
		/* Predictable buckets would let clients flood one of them. */
		fprintf(stderr, "sluice: no randomness for the hash seed (getrandom and /dev/urandom failed)\n");
		abort();
	}
	seed0 = load_le64(k);
	seed1 = load_le64(k + 8);
}

uint64_t sl_map_hash(const void *key, size_t n)
{
	pthread_once(&seed_once, seed_init);
	return siphash(seed0, seed1, 1, 3, key, n);
}

/* ---- intrusive table ---- */
void sl_map_init(sl_map_t *m)
{
	m->b = NULL;
	m->nb = m->n = 0;
}

void sl_map_close(sl_map_t *m)
{
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
}

size_t sl_map_count(const sl_map_t *m)
{
	return m->n;
}

static sl_map_node_t **slot(const sl_map_t *m, const void *key, size_t n, uint64_t h)
{
	sl_map_node_t **pp = &m->b[h & (m->nb - 1)];
	while (*pp && !((*pp)->hash == h && (*pp)->klen == n && !memcmp((*pp)->key, key, n)))
		pp = &(*pp)->next;
	return pp;
}

sl_map_node_t *sl_map_find(const sl_map_t *m, const void *key, size_t n)
{
	if (!m->n)
		return NULL;
	return *slot(m, key, n, sl_map_hash(key, n));
}

static void grow(sl_map_t *m)
{
	size_t nb = m->nb ? m->nb * 2 : FIRST_BUCKETS;
	sl_map_node_t **b = sl_xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < m->nb; i++) {
		for (sl_map_node_t *e = m->b[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

void sl_map_insert(sl_map_t *m, sl_map_node_t *node, const char *key, size_t n)
{
	if (m->n >= m->nb)
		grow(m);
	node->key = key;
	node->klen = n;
	node->hash = sl_map_hash(key, n);
	sl_map_node_t **head = &m->b[node->hash & (m->nb - 1)];
	node->next = *head;
	*head = node;
	m->n++;
}

void sl_map_remove(sl_map_t *m, sl_map_node_t *node)
{
	sl_map_node_t **pp = &m->b[node->hash & (m->nb - 1)];
	while (*pp && *pp != node)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = node->next;
	node->next = NULL;
	m->n--;
}

sl_map_node_t *sl_map_next(const sl_map_t *m, sl_map_iter_t *it)
{
	sl_map_node_t *e = it->next;
	if (!it->started) {
		it->started = true;
		it->bucket = 0;
		e = NULL;
	}
	while (!e && it->bucket < m->nb)
		e = m->b[it->bucket++];
	it->next = e ? e->next : NULL;
	return e;
}

/* ---- owning map ---- */
typedef struct sent {
	sl_map_node_t node;
	void *val;
	char key[];
} sent_t;

struct sl_smap {
	sl_map_t t;
};

sl_smap_t *sl_smap_new(void)
{
	sl_smap_t *m = sl_xmalloc(sizeof(*m));
	sl_map_init(&m->t);
	return m;
}

void sl_smap_free(sl_smap_t *m)
{
	if (!m)
		return;
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	for (sl_map_node_t *e; (e = sl_map_next(&m->t, &it));)
		free(e);
	sl_map_close(&m->t);
	free(m);
}

size_t sl_smap_count(const sl_smap_t *m)
{
	return m ? m->t.n : 0;
}

static sent_t *sfind(const sl_smap_t *m, const char *k, size_t n)
{
	if (!m)
		return NULL;
	sl_map_node_t *e = sl_map_find(&m->t, k, n);
	return e ? sl_container_of(e, sent_t, node) : NULL;
}

void *sl_smap_get(const sl_smap_t *m, const char *k, size_t n)
{
	sent_t *e = sfind(m, k, n);
	return e ? e->val : NULL;
}

bool sl_smap_has(const sl_smap_t *m, const char *k, size_t n)
{
	return sfind(m, k, n) != NULL;
}

bool sl_smap_put(sl_smap_t *m, const char *k, size_t n, void *val, void **old)
{
	sent_t *e = sfind(m, k, n);
	if (e) {
		if (old)
			*old = e->val;
		e->val = val;
		return false;
	}
	e = sl_xmalloc(sizeof(*e) + n + 1);
	memcpy(e->key, k, n);
	e->key[n] = '\0';
	e->val = val;
	sl_map_insert(&m->t, &e->node, e->key, n);
	if (old)
		*old = NULL;
	return true;
}

bool sl_smap_del(sl_smap_t *m, const char *k, size_t n, void **old)
{
	sent_t *e = sfind(m, k, n);
	if (!e)
		return false;
	if (old)
		*old = e->val;
	sl_map_remove(&m->t, &e->node);
	free(e);
	return true;
}

bool sl_smap_next(const sl_smap_t *m, sl_map_iter_t *it, const char **k, size_t *n, void **val)
{
	sl_map_node_t *node = m ? sl_map_next(&m->t, it) : NULL;
	if (!node)
		return false;
	sent_t *e = sl_container_of(node, sent_t, node);
	if (k)
		*k = e->key;
	if (n)
		*n = node->klen;
	if (val)
		*val = e->val;
	return true;
}
