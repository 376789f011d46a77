/* http_iplimit.c: connections per client address (http.h sl_http_iplimit_t).
 *
 * How it fits: below http.c, which takes a slot when it accepts a connection
 * and gives it back when the connection is freed. One table may be shared by
 * the servers of several loops (the publisher), so it takes a mutex; it is
 * touched only on accept and close, never per request or message. An entry
 * exists only while its address holds a connection, so the table is bounded
 * by the connection limit. IPv4 addresses (also IPv4-mapped IPv6) and IPv6
 * addresses are keyed by their bytes; the table is open addressing over
 * core/map's seeded hash, so chosen addresses cannot pile into one bucket.
 * Non-goals: rates (connections per second), subnets.
 */
#include "proto/http_int.h"

#include "core/alloc.h"
#include "core/map.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
	uint8_t addr[16];
	uint32_t count; /* 0: empty */
	bool tomb;      /* emptied: probing goes on past it */
} slot_t;

struct sl_http_iplimit {
	pthread_mutex_t lock;
	size_t max;
	slot_t *s;
	size_t cap, used; /* used: live + tombstones */
	size_t live;
};

sl_http_iplimit_t *sl_http_iplimit_new(size_t max_per_ip)
{
	sl_http_iplimit_t *l = sl_xcalloc(1, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	l->max = max_per_ip;
	l->cap = 256;
	l->s = sl_xcalloc(l->cap, sizeof(*l->s));
	return l;
}

void sl_http_iplimit_free(sl_http_iplimit_t *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l->s);
	free(l);
}

/* The address as 16 bytes (IPv4 as IPv4-mapped IPv6); false for other families. */
static bool key_of(const struct sockaddr_storage *ss, uint8_t out[16])
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return true;
	}
	return false;
}

/* The slot holding k, or the first free one on its probe path. */
static slot_t *find(sl_http_iplimit_t *l, const uint8_t k[16])
{
	size_t i = sl_map_hash(k, 16) & (l->cap - 1);
	slot_t *free_slot = NULL;
	for (;;) {
		slot_t *s = &l->s[i];
		if (s->count && !memcmp(s->addr, k, 16))
			return s;
		if (!s->count) {
			if (!s->tomb)
				return free_slot ? free_slot : s;
			if (!free_slot)
				free_slot = s;
		}
		i = (i + 1) & (l->cap - 1);
	}
}

static void rehash(sl_http_iplimit_t *l, size_t cap)
{
	slot_t *old = l->s;
	size_t ocap = l->cap;
	l->s = sl_xcalloc(cap, sizeof(*l->s));
	l->cap = cap;
	l->used = 0;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].count)
			continue;
		*find(l, old[i].addr) = old[i];
		l->used++;
	}
	free(old);
}

bool sl_http__iplimit_take(sl_http_iplimit_t *l, const struct sockaddr_storage *ss)
{
	uint8_t k[16];
	if (!l || !l->max || !key_of(ss, k))
		return true;
	pthread_mutex_lock(&l->lock);
	if ((l->used + 1) * 4 > l->cap * 3) /* grow only for live entries; else just drop tombstones */
		rehash(l, (l->live + 1) * 2 > l->cap ? l->cap * 2 : l->cap);
	slot_t *s = find(l, k);
	bool ok = s->count < l->max;
	if (ok) {
		if (!s->count) {
			memcpy(s->addr, k, 16);
			if (!s->tomb)
				l->used++;
			s->tomb = false;
			l->live++;
		}
		s->count++;
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

void sl_http__iplimit_give(sl_http_iplimit_t *l, const struct sockaddr_storage *ss)
{
	uint8_t k[16];
	if (!l || !l->max || !key_of(ss, k))
		return;
	pthread_mutex_lock(&l->lock);
	slot_t *s = find(l, k);
	if (s->count && --s->count == 0) {
		s->tomb = true;
		l->live--;
	}
	pthread_mutex_unlock(&l->lock);
}
