/* reducer_model.h: what a reducer knows, without any I/O: the partitions
 * it owns, per partition the markets (latest state and the channels that
 * watch each) and the channels (the markets each watches), the begins of
 * the last 30 s, and the offsets Redis acknowledged.
 *
 * How it fits (SPEC sections 1-2): the reducer's other files do the I/O
 * and tell the model what happened: a partition assigned, loaded from
 * Redis, revoked; a record taken from Kafka; a command read; a pipeline
 * acknowledged. The model answers what the I/O needs next: is this record
 * newer than the state (else it is a replay: published, never applied),
 * which markets a command touches here, the snapshot of a channel, which
 * recent begins a freshly loaded partition owes a snapshot, which offsets
 * to commit. It holds no Kafka or Redis handle and reads no clock (times
 * come in as arguments), so tests/unit/test_reducer.c drives it whole.
 * Keys are byte strings with lengths (market and channel ids, checked by
 * the caller); maps are core/map.h's seeded ones. One loop thread.
 * Non-goals: the Redis layout (redis/rstate.h), batching, rebalancing.
 */
#ifndef SL_ROLES_REDUCER_MODEL_H
#define SL_ROLES_REDUCER_MODEL_H

#include "core/buf.h"
#include "core/map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Begins are remembered this long, for partitions that finish loading
 * meanwhile (a begin read during a rebalance). */
#define SL_RMODEL_BEGIN_MEMORY_MS 30000

typedef enum { SL_PART_LOADING, SL_PART_READY, SL_PART_REVOKING } sl_part_state_t;

typedef struct sl_mkt {
	int64_t offset;      /* -1: no state yet */
	int64_t ts;
	char *json;          /* the value as JSON */
	size_t jlen;
	sl_smap_t *channels; /* set of channel ids; NULL when none */
} sl_mkt_t;

typedef struct sl_rpart {
	int32_t id;
	sl_part_state_t st;
	sl_smap_t *markets;  /* market -> sl_mkt_t */
	sl_smap_t *channels; /* channel -> set of markets */
	int64_t acked_next;  /* offset after the last record Redis accepted; -1 none */
	bool commit_dirty;   /* acked_next not committed yet */
	int inflight;        /* pipelines holding records of this partition */
} sl_rpart_t;

typedef struct sl_rmodel sl_rmodel_t;

sl_rmodel_t *sl_rmodel_new(void);
void sl_rmodel_free(sl_rmodel_t *m);

/* ---- partitions ---- */
/* The partition, or NULL when not owned. */
sl_rpart_t *sl_rmodel_part(const sl_rmodel_t *m, int32_t id);
/* One past the highest partition id ever owned (for walks). */
int32_t sl_rmodel_nparts(const sl_rmodel_t *m);
/* Assigned: a new, empty partition in LOADING (an old one is forgotten). */
sl_rpart_t *sl_rmodel_assign(sl_rmodel_t *m, int32_t id);
/* Revoked or lost: forget everything about it. */
void sl_rmodel_forget(sl_rmodel_t *m, int32_t id);
/* A load failed: empty it again (still LOADING). */
void sl_rmodel_clear(sl_rpart_t *p);
/* LOADING -> READY. */
void sl_rmodel_loaded(sl_rmodel_t *m, sl_rpart_t *p);
/* -> REVOKING (its records are no longer taken). */
void sl_rmodel_revoking(sl_rmodel_t *m, sl_rpart_t *p);
/* Partitions in LOADING. */
int sl_rmodel_loading(const sl_rmodel_t *m);

/* ---- loading from Redis ---- */
void sl_rmodel_load_sub(sl_rpart_t *p, const char *market, size_t mlen, const char *channel, size_t chlen);
/* A stored state; kept when newer than what is held. */
void sl_rmodel_load_state(sl_rpart_t *p, const char *market, size_t mlen, int64_t offset, int64_t ts,
			  const char *json, size_t jlen);

/* ---- records ---- */
/* A record of market at offset: true when it is the newest (the state is
 * replaced), false when it is older than the state held (a replay after a
 * crash: publish it again, never apply it). */
bool sl_rmodel_update(sl_rpart_t *p, const char *market, size_t mlen, int64_t offset, int64_t ts, const char *json,
		      size_t jlen);
/* The market's entry, or NULL. */
sl_mkt_t *sl_rmodel_market(const sl_rpart_t *p, const char *market, size_t mlen);
/* Some channel watches market (its updates are published). */
bool sl_rmodel_watched(const sl_rpart_t *p, const char *market, size_t mlen);

/* ---- commands ---- */
/* The pair (market, channel) in partition p (a READY or REVOKING one). */
void sl_rmodel_subscribe(sl_rpart_t *p, const char *market, size_t mlen, const char *channel, size_t chlen);
void sl_rmodel_unsubscribe(sl_rpart_t *p, const char *market, size_t mlen, const char *channel, size_t chlen);
/* The channel leaves every partition. */
void sl_rmodel_close_channel(sl_rmodel_t *m, const char *channel, size_t chlen);
/* Remember a begin at now_ms (and forget those older than the memory). */
void sl_rmodel_begin(sl_rmodel_t *m, const char *channel, size_t chlen, int64_t now_ms);
/* Append {"type":"snapshot","markets":[...]} of the channel's markets in
 * READY partitions (only that one when only is not NULL) to out; false
 * (out untouched) when no such partition holds the channel. */
bool sl_rmodel_snapshot(const sl_rmodel_t *m, const char *channel, size_t chlen, const sl_rpart_t *only,
			sl_buf_t *out);
/* A partition just loaded: call fn for each channel that began within the
 * memory and has markets in p (it owes that channel a snapshot). */
void sl_rmodel_recent_begins(sl_rmodel_t *m, const sl_rpart_t *p, int64_t now_ms,
			     void (*fn)(const char *channel, size_t chlen, void *arg), void *arg);

/* ---- acknowledgements and commits ---- */
/* Redis accepted the record at offset of partition pid. */
void sl_rmodel_ack(sl_rmodel_t *m, int32_t pid, int64_t offset);
/* Offsets to commit: for each partition (not LOADING) whose acknowledged
 * offset moved, fn(pid, next offset); they count as committed then. */
void sl_rmodel_take_commits(sl_rmodel_t *m, void (*fn)(int32_t pid, int64_t next, void *arg), void *arg);

/* ---- for metrics ---- */
int32_t sl_rmodel_owned(const sl_rmodel_t *m);
/* Channel-market pairs of owned partitions. */
size_t sl_rmodel_subscriptions(const sl_rmodel_t *m);

#endif
