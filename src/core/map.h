/* map.h: the one hash map of sluice: byte-string keys, chained buckets,
 * hashed with SipHash-1-3 under a key drawn at random once per process.
 *
 * How it fits: every table keyed by outside input (market ids, channel
 * ids, Redis channel names) uses it, so a client cannot choose keys that
 * all land in one bucket (hash flooding): the seed comes from getrandom(2)
 * the first time any map is used, and no two processes share it. Two forms:
 *  - sl_map_t, intrusive: the caller embeds an sl_map_node_t in its own
 *    struct and owns the key bytes (the node points at them); nothing is
 *    allocated per entry. For tables on hot paths (the publisher's routes).
 *  - sl_smap_t, owning: keys are copied, values are void pointers the
 *    caller owns (free them, e.g. in an sl_smap_next walk, before
 *    sl_smap_free). For the reducer's maps and sets.
 * Both double their buckets at load factor 1 and never shrink; iterating
 * lets the caller remove (and free) the entry just returned, and nothing
 * may be inserted while a walk is under way.
 * Thread: a map belongs to one thread; the seed is set once, under
 * pthread_once, and only read after.
 * References: Aumasson and Bernstein, "SipHash: a fast short-input PRF"
 * (2012); Redis dict.c (SipHash-1-2 with a random seed, for the same reason).
 * Non-goals: ordered iteration, shrinking, concurrent access.
 */
#ifndef SL_CORE_MAP_H
#define SL_CORE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- intrusive ---- */
typedef struct sl_map_node {
	struct sl_map_node *next;
	uint64_t hash;
	const char *key; /* the caller's bytes, alive while the node is in a map */
	size_t klen;
} sl_map_node_t;

typedef struct sl_map {
	sl_map_node_t **b;
	size_t nb, n;
} sl_map_t;

typedef struct sl_map_iter {
	size_t bucket;
	sl_map_node_t *next;
	bool started;
} sl_map_iter_t;

#define SL_MAP_ITER_INIT {0, NULL, false}

/* Embedded pair: init allocates nothing, close frees the buckets (the
 * nodes are the caller's). */
void sl_map_init(sl_map_t *m);
void sl_map_close(sl_map_t *m);
size_t sl_map_count(const sl_map_t *m);
/* The seeded hash of a key (what a node's hash field holds). */
uint64_t sl_map_hash(const void *key, size_t n);
sl_map_node_t *sl_map_find(const sl_map_t *m, const void *key, size_t n);
/* Insert node under key (borrowed until it is removed); the key must not
 * be in the map yet. */
void sl_map_insert(sl_map_t *m, sl_map_node_t *node, const char *key, size_t n);
/* Remove a node that is in the map. */
void sl_map_remove(sl_map_t *m, sl_map_node_t *node);
/* The next node, or NULL at the end; the node returned may be removed
 * before the next call. */
sl_map_node_t *sl_map_next(const sl_map_t *m, sl_map_iter_t *it);

/* ---- owning: copied keys, borrowed values ---- */
typedef struct sl_smap sl_smap_t;

sl_smap_t *sl_smap_new(void);
void sl_smap_free(sl_smap_t *m); /* NULL is fine; values are not freed */
size_t sl_smap_count(const sl_smap_t *m); /* 0 for NULL */
void *sl_smap_get(const sl_smap_t *m, const char *k, size_t n);
bool sl_smap_has(const sl_smap_t *m, const char *k, size_t n);
/* true when k was new; *old (may be NULL) gets the value replaced, or NULL. */
bool sl_smap_put(sl_smap_t *m, const char *k, size_t n, void *val, void **old);
/* true when k was there; *old (may be NULL) gets its value. */
bool sl_smap_del(sl_smap_t *m, const char *k, size_t n, void **old);
/* Walk: true with the next key (owned by the map) and value, false at the
 * end. The entry just returned may be deleted before the next call. */
bool sl_smap_next(const sl_smap_t *m, sl_map_iter_t *it, const char **k, size_t *n, void **val);

/* SipHash-c-d of p under a 16-byte key (exposed for the test vectors). */
uint64_t sl_map__siphash(const unsigned char key[16], int crounds, int drounds, const void *p, size_t n);

#endif
