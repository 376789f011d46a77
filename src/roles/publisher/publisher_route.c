/* publisher_route.c: one loop's routing table (see publisher_route.h).
 *
 * Every Redis channel the loop hears is one entry of a table keyed by its
 * name (core/map.h: seeded, so no client can pick ids that collide): a
 * channel (`<prefix>stream:<id>`, its members and market set) or a market
 * (`<prefix>market:<id>`, the channels that watch it). A link joins
 * one channel and one market and sits in both lists, so a client leaving,
 * a market removed from a channel and an update's fan-out are all walks of
 * short lists, never scans of the table. Subscription states per entry:
 * NONE -> PENDING (SUBSCRIBE sent) -> ACTIVE (confirmed) -> LEAVING
 * (UNSUBSCRIBE sent once nobody here needs it) -> freed, or PENDING again
 * when someone came back meanwhile. A channel's `npending` counts its
 * markets that are not ACTIVE; the channel is ready (its members get
 * `subscribed`) when its own entry is ACTIVE, its market set was read after
 * that, and npending is 0.
 */
#include "roles/publisher/publisher_route.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/map.h"
#include "redis/rstate.h"

#include <stdlib.h>
#include <string.h>

enum { SUB_NONE = 0, SUB_PENDING, SUB_ACTIVE, SUB_LEAVING };
enum { K_CHAN = 1, K_MKT };
enum { L_NONE = 0, L_INFLIGHT, L_DONE };

typedef struct entry {
	sl_map_node_t node; /* in the table, keyed by rkey */
	char *rkey;
	size_t rlen;
	uint8_t kind;
	uint8_t sub;
} entry_t;

typedef struct mkt mkt_t;

typedef struct link {
	sl_pub_chan_t *ch;
	mkt_t *mk;
	struct link *mnext, *mprev; /* in mk->links */
	struct link *cnext;         /* in ch->links */
} link_t;

struct mkt {
	entry_t e; /* first: the table holds entry pointers */
	link_t *links;
	size_t nlinks;
	uint64_t mark_in, mark_linked; /* generation marks of a market-set diff */
};

struct sl_pub_chan {
	entry_t e;
	const char *id;      /* into e.rkey */
	char *markets_key;   /* <prefix>channel:<id>:markets */
	sl_pub_member_t *members;
	size_t nmembers;
	link_t *links;
	size_t nlinks, npending;
	unsigned load_seq;   /* an answer to an older read is ignored */
	uint8_t load;        /* L_* */
	bool reload;         /* the set changed while a read was in flight */
	bool ready;
	bool resumed;        /* tell acked members `resumed` when ready again */
	sl_frame_t *ack;
};

struct sl_pub_load {
	unsigned seq;
	size_t rlen;
	char rkey[];
};

struct sl_pub_route {
	char *prefix;
	sl_pub_route_ops_t ops;
	void *arg;
	sl_map_t map; /* of entry_t: channels and markets by Redis channel name */
	uint64_t gen;
	bool up;
	bool retry;          /* something failed to go out: sl_pub_route_retry walks the table */
	sl_pub_route_stats_t st;
	sl_buf_t tmp;
};

/* ---- the table ---- */

static entry_t *find(const sl_pub_route_t *rt, const char *k, size_t n)
{
	sl_map_node_t *node = sl_map_find(&rt->map, k, n);
	return node ? sl_container_of(node, entry_t, node) : NULL;
}

/* Takes the key (heap, from sl_buf_steal). */
static void insert(sl_pub_route_t *rt, entry_t *e, char *rkey, size_t rlen, uint8_t kind)
{
	e->rkey = rkey;
	e->rlen = rlen;
	e->kind = kind;
	e->sub = SUB_NONE;
	sl_map_insert(&rt->map, &e->node, rkey, rlen);
	if (kind == K_CHAN) {
		rt->st.chans++;
		rt->st.chans_by_state[SUB_NONE]++;
	} else {
		rt->st.markets++;
	}
}

/* Every subscription state change goes through here, so the statistics
 * are counters rather than a walk of the table. */
static void set_sub(sl_pub_route_t *rt, entry_t *e, uint8_t sub)
{
	if (e->kind == K_CHAN) {
		rt->st.chans_by_state[e->sub]--;
		rt->st.chans_by_state[sub]++;
	}
	e->sub = sub;
}

static void unlink_entry(sl_pub_route_t *rt, entry_t *e)
{
	sl_map_remove(&rt->map, &e->node);
	if (e->kind == K_CHAN) {
		rt->st.chans--;
		rt->st.chans_by_state[e->sub]--;
	} else {
		rt->st.markets--;
	}
}

/* ---- markets ---- */

static void chan_step(sl_pub_route_t *rt, sl_pub_chan_t *ch);

static void mkt_free(sl_pub_route_t *rt, mkt_t *mk)
{
	unlink_entry(rt, &mk->e);
	free(mk->e.rkey);
	free(mk);
}

/* Subscribe a market somebody needs; leave one nobody needs. */
static void mkt_step(sl_pub_route_t *rt, mkt_t *mk)
{
	if (mk->nlinks) {
		if (mk->e.sub == SUB_NONE && rt->up) {
			if (rt->ops.subscribe(rt->arg, mk->e.rkey, mk->e.rlen) == 0)
				set_sub(rt, &mk->e, SUB_PENDING);
			else
				rt->retry = true;
		}
		return;
	}
	if (mk->e.sub == SUB_ACTIVE) {
		if (rt->up && rt->ops.unsubscribe(rt->arg, mk->e.rkey, mk->e.rlen) == 0) {
			set_sub(rt, &mk->e, SUB_LEAVING);
			return;
		}
		mkt_free(rt, mk);
	} else if (mk->e.sub == SUB_NONE) {
		mkt_free(rt, mk);
	}
	/* PENDING: its confirmation leaves; LEAVING: its confirmation frees. */
}

static mkt_t *mkt_get(sl_pub_route_t *rt, const char *name, size_t len)
{
	sl_buf_reset(&rt->tmp);
	sl_rstate_key_market(&rt->tmp, rt->prefix, name, len);
	entry_t *e = find(rt, rt->tmp.data, rt->tmp.len);
	if (e)
		return e->kind == K_MKT ? (mkt_t *)e : NULL;
	mkt_t *mk = sl_xcalloc(1, sizeof(*mk));
	sl_buf_t k = SL_BUF_INIT;
	sl_buf_append(&k, rt->tmp.data, rt->tmp.len);
	size_t n;
	char *key = sl_buf_steal(&k, &n);
	insert(rt, &mk->e, key, n, K_MKT);
	return mk;
}

static void link_add(sl_pub_chan_t *ch, mkt_t *mk)
{
	link_t *l = sl_xcalloc(1, sizeof(*l));
	l->ch = ch;
	l->mk = mk;
	l->mnext = mk->links;
	if (mk->links)
		mk->links->mprev = l;
	mk->links = l;
	mk->nlinks++;
	l->cnext = ch->links;
	ch->links = l;
	ch->nlinks++;
	if (mk->e.sub != SUB_ACTIVE)
		ch->npending++;
}

/* Remove l from its market (the caller removes it from the channel). */
static void link_drop(sl_pub_route_t *rt, link_t *l)
{
	mkt_t *mk = l->mk;
	if (l->mprev)
		l->mprev->mnext = l->mnext;
	else
		mk->links = l->mnext;
	if (l->mnext)
		l->mnext->mprev = l->mprev;
	mk->nlinks--;
	l->ch->nlinks--;
	if (mk->e.sub != SUB_ACTIVE)
		l->ch->npending--;
	free(l);
	mkt_step(rt, mk);
}

static void unlink_all(sl_pub_route_t *rt, sl_pub_chan_t *ch)
{
	link_t *l = ch->links;
	ch->links = NULL;
	while (l) {
		link_t *next = l->cnext;
		link_drop(rt, l);
		l = next;
	}
}

/* ---- channels ---- */

static void chan_free(sl_pub_route_t *rt, sl_pub_chan_t *ch)
{
	unlink_entry(rt, &ch->e);
	sl_frame_unref(ch->ack);
	free(ch->markets_key);
	free(ch->e.rkey);
	free(ch);
}

static sl_pub_chan_t *chan_get(sl_pub_route_t *rt, const char *id)
{
	sl_buf_reset(&rt->tmp);
	sl_rstate_key_stream(&rt->tmp, rt->prefix, id);
	entry_t *e = find(rt, rt->tmp.data, rt->tmp.len);
	if (e)
		return e->kind == K_CHAN ? (sl_pub_chan_t *)e : NULL;
	sl_pub_chan_t *ch = sl_xcalloc(1, sizeof(*ch));
	sl_buf_t k = SL_BUF_INIT;
	sl_buf_append(&k, rt->tmp.data, rt->tmp.len);
	size_t n;
	char *key = sl_buf_steal(&k, &n);
	insert(rt, &ch->e, key, n, K_CHAN);
	ch->id = ch->e.rkey + n - strlen(id);
	sl_buf_t mk = SL_BUF_INIT;
	sl_rstate_key_chan_markets(&mk, rt->prefix, id);
	ch->markets_key = sl_buf_steal(&mk, &n);
	sl_buf_t ack = SL_BUF_INIT;
	sl_buf_puts(&ack, "{\"type\":\"subscribed\",\"channel\":");
	sl_buf_json_str(&ack, ch->id, strlen(ch->id));
	sl_buf_puts(&ack, "}");
	ch->ack = sl_frame_new(ack.data, ack.len);
	sl_buf_free(&ack);
	return ch;
}

static void send_load(sl_pub_route_t *rt, sl_pub_chan_t *ch)
{
	sl_pub_load_t *ld = sl_xmalloc(sizeof(*ld) + ch->e.rlen + 1);
	ld->seq = ++ch->load_seq;
	ld->rlen = ch->e.rlen;
	memcpy(ld->rkey, ch->e.rkey, ch->e.rlen + 1);
	if (rt->ops.load(rt->arg, ch->markets_key, ld) == 0) {
		ch->load = L_INFLIGHT;
	} else {
		free(ld); /* L_NONE: sl_pub_route_retry sends it again */
		rt->retry = true;
	}
}

static void ack_members(sl_pub_route_t *rt, sl_pub_chan_t *ch)
{
	sl_frame_t *resumed = NULL;
	if (ch->resumed) {
		sl_buf_t b = SL_BUF_INIT;
		sl_buf_puts(&b, "{\"type\":\"subscribed\",\"channel\":");
		sl_buf_json_str(&b, ch->id, strlen(ch->id));
		sl_buf_puts(&b, ",\"resumed\":true}");
		resumed = sl_frame_new(b.data, b.len);
		sl_buf_free(&b);
		ch->resumed = false;
	}
	for (sl_pub_member_t *m = ch->members; m; m = m->next) {
		if (!m->acked) {
			m->acked = true;
			rt->ops.push(rt->arg, m, ch->ack, true);
		} else if (resumed) {
			rt->ops.push(rt->arg, m, resumed, true);
		}
	}
	sl_frame_unref(resumed);
}

static void set_ready(sl_pub_route_t *rt, sl_pub_chan_t *ch, bool ready)
{
	rt->st.chans_ready += (size_t)ready - (size_t)ch->ready;
	ch->ready = ready;
}

/* Move a channel on as far as it can go (see the file comment). */
static void chan_step(sl_pub_route_t *rt, sl_pub_chan_t *ch)
{
	if (!ch->nmembers) {
		/* Forget the set: a member that comes back reads it again. */
		set_ready(rt, ch, false);
		ch->load = L_NONE;
		ch->load_seq++;
		ch->reload = false;
		unlink_all(rt, ch);
		if (ch->e.sub == SUB_ACTIVE) {
			if (rt->up && rt->ops.unsubscribe(rt->arg, ch->e.rkey, ch->e.rlen) == 0) {
				set_sub(rt, &ch->e, SUB_LEAVING);
				return;
			}
			chan_free(rt, ch);
		} else if (ch->e.sub == SUB_NONE) {
			chan_free(rt, ch);
		}
		return;
	}
	if (ch->e.sub == SUB_NONE && rt->up) {
		if (rt->ops.subscribe(rt->arg, ch->e.rkey, ch->e.rlen) == 0)
			set_sub(rt, &ch->e, SUB_PENDING);
		else
			rt->retry = true;
	}
	if (ch->e.sub == SUB_ACTIVE && ch->load == L_NONE)
		send_load(rt, ch);
	bool ready = ch->e.sub == SUB_ACTIVE && ch->load == L_DONE && ch->npending == 0;
	if (ready && !ch->ready)
		ack_members(rt, ch);
	set_ready(rt, ch, ready);
}

const char *sl_pub_route_chan_id(const sl_pub_chan_t *ch)
{
	return ch->id;
}

/* ---- the API ---- */

sl_pub_route_t *sl_pub_route_new(const char *prefix, const sl_pub_route_ops_t *ops, void *arg)
{
	sl_pub_route_t *rt = sl_xcalloc(1, sizeof(*rt));
	rt->prefix = sl_xstrdup(prefix);
	rt->ops = *ops;
	rt->arg = arg;
	sl_map_init(&rt->map);
	return rt;
}

void sl_pub_route_free(sl_pub_route_t *rt)
{
	if (!rt)
		return;
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	for (sl_map_node_t *node; (node = sl_map_next(&rt->map, &it));) {
		entry_t *e = sl_container_of(node, entry_t, node);
		if (e->kind == K_CHAN) {
			sl_pub_chan_t *ch = (sl_pub_chan_t *)e;
			link_t *l = ch->links;
			while (l) { /* markets are freed as table entries */
				link_t *next = l->cnext;
				free(l);
				l = next;
			}
			chan_free(rt, ch);
		} else {
			mkt_free(rt, (mkt_t *)e);
		}
	}
	sl_map_close(&rt->map);
	free(rt->prefix);
	sl_buf_free(&rt->tmp);
	free(rt);
}

void sl_pub_route_join(sl_pub_route_t *rt, sl_pub_member_t *m, const char *id)
{
	sl_pub_chan_t *ch = chan_get(rt, id);
	m->chan = ch;
	m->acked = false;
	m->prev = NULL;
	m->next = ch->members;
	if (ch->members)
		ch->members->prev = m;
	ch->members = m;
	ch->nmembers++;
	if (ch->ready) {
		m->acked = true;
		rt->ops.push(rt->arg, m, ch->ack, true);
	} else {
		chan_step(rt, ch);
	}
}

void sl_pub_route_leave(sl_pub_route_t *rt, sl_pub_member_t *m)
{
	sl_pub_chan_t *ch = m->chan;
	if (!ch)
		return;
	if (m->prev)
		m->prev->next = m->next;
	else
		ch->members = m->next;
	if (m->next)
		m->next->prev = m->prev;
	m->next = m->prev = NULL;
	m->chan = NULL;
	if (--ch->nmembers == 0)
		chan_step(rt, ch);
}

static void deliver(sl_pub_route_t *rt, sl_pub_chan_t *ch, sl_frame_t *fr)
{
	for (sl_pub_member_t *m = ch->members; m; m = m->next) {
		if (m->acked) {
			rt->ops.push(rt->arg, m, fr, false);
			rt->st.deliveries++;
		}
	}
}

static void chan_message(sl_pub_route_t *rt, sl_pub_chan_t *ch, const char *payload, size_t len)
{
	size_t ml = strlen(sl_rstate_msg_markets_changed);
	if (len == ml && !memcmp(payload, sl_rstate_msg_markets_changed, ml)) {
		/* Read the set again; before the first read it is not needed. */
		if (ch->load == L_INFLIGHT) {
			ch->reload = true;
		} else if (ch->load == L_DONE) {
			ch->load = L_NONE;
			chan_step(rt, ch);
		}
		return;
	}
	if (!ch->nmembers) {
		rt->st.unrouted++;
		return;
	}
	sl_frame_t *fr = sl_frame_new(payload, len);
	deliver(rt, ch, fr);
	if (fr->kind == SL_FRAME_CLOSED) {
		sl_log_info("channel_closed", SL_KV(channel, ch->id), SL_KV(clients, ch->nmembers));
		/* Members that were not acknowledged yet end too (with `closed`). */
		for (sl_pub_member_t *m = ch->members; m; m = m->next) {
			if (!m->acked)
				rt->ops.push(rt->arg, m, fr, true);
			rt->ops.close(rt->arg, m);
		}
	}
	sl_frame_unref(fr);
}

void sl_pub_route_message(sl_pub_route_t *rt, const char *rkey, size_t rlen, const char *payload, size_t len)
{
	rt->st.messages_in++;
	entry_t *e = find(rt, rkey, rlen);
	if (!e) {
		rt->st.unrouted++;
		return;
	}
	if (e->kind == K_CHAN) {
		chan_message(rt, (sl_pub_chan_t *)e, payload, len);
		return;
	}
	mkt_t *mk = (mkt_t *)e;
	if (!mk->nlinks) {
		rt->st.unrouted++;
		return;
	}
	/* One frame for every recipient on this loop. */
	sl_frame_t *fr = sl_frame_new(payload, len);
	if (rt->ops.received)
		rt->ops.received(rt->arg, fr);
	for (link_t *l = mk->links; l; l = l->mnext)
		deliver(rt, l->ch, fr);
	sl_frame_unref(fr);
}

void sl_pub_route_subscribed(sl_pub_route_t *rt, const char *rkey, size_t rlen)
{
	entry_t *e = find(rt, rkey, rlen);
	if (!e || e->sub != SUB_PENDING)
		return;
	set_sub(rt, e, SUB_ACTIVE);
	if (e->kind == K_CHAN) {
		chan_step(rt, (sl_pub_chan_t *)e);
		return;
	}
	mkt_t *mk = (mkt_t *)e;
	/* A channel linked to a market has members (it unlinks when its last
	 * member leaves), so chan_step here never changes this list. */
	for (link_t *l = mk->links; l; l = l->mnext) {
		l->ch->npending--;
		chan_step(rt, l->ch);
	}
	mkt_step(rt, mk);
}

void sl_pub_route_unsubscribed(sl_pub_route_t *rt, const char *rkey, size_t rlen)
{
	entry_t *e = find(rt, rkey, rlen);
	if (!e || e->sub != SUB_LEAVING)
		return;
	set_sub(rt, e, SUB_NONE);
	if (e->kind == K_CHAN)
		chan_step(rt, (sl_pub_chan_t *)e); /* subscribes again, or frees */
	else
		mkt_step(rt, (mkt_t *)e);
}

void sl_pub_route_redis_state(sl_pub_route_t *rt, bool up)
{
	rt->up = up;
	bool any = false;
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	for (sl_map_node_t *node; (node = sl_map_next(&rt->map, &it));) {
		entry_t *e = sl_container_of(node, entry_t, node);
		if (e->kind == K_CHAN) {
			sl_pub_chan_t *ch = (sl_pub_chan_t *)e;
			if (up) {
				if (ch->nmembers) {
					any = true;
					chan_step(rt, ch);
				}
				continue;
			}
			for (sl_pub_member_t *m = ch->members; m; m = m->next)
				ch->resumed = ch->resumed || m->acked;
			set_sub(rt, e, SUB_NONE);
			ch->load = L_NONE;
			ch->load_seq++; /* an answer read before the drop is stale */
			ch->reload = false;
			set_ready(rt, ch, false);
			ch->npending = ch->nlinks;
			if (!ch->nmembers)
				chan_free(rt, ch);
		} else {
			mkt_t *mk = (mkt_t *)e;
			if (up) {
				mkt_step(rt, mk);
				continue;
			}
			set_sub(rt, e, SUB_NONE);
			if (!mk->nlinks)
				mkt_free(rt, mk);
		}
	}
	if (up && any)
		rt->st.resubscribes++;
}

void sl_pub_route_markets(sl_pub_route_t *rt, sl_pub_load_t *ld, int result, const sl_iov_t *markets, size_t n)
{
	entry_t *e = find(rt, ld->rkey, ld->rlen);
	sl_pub_chan_t *ch = e && e->kind == K_CHAN ? (sl_pub_chan_t *)e : NULL;
	bool current = ch && ld->seq == ch->load_seq && ch->load == L_INFLIGHT;
	free(ld);
	if (!current)
		return;
	if (result < 0) {
		ch->load = L_NONE; /* retried by sl_pub_route_retry */
		rt->retry = true;
		return;
	}
	/* The diff, in three passes over short lists: mark the new set, drop
	 * the links outside it, link what is new. */
	uint64_t gen = ++rt->gen;
	mkt_t **mks = sl_xcalloc(n + 1, sizeof(*mks));
	for (size_t i = 0; i < n; i++) {
		if (!sl_rstate_market_valid(markets[i].base, markets[i].len))
			continue;
		mks[i] = mkt_get(rt, markets[i].base, markets[i].len);
		if (mks[i])
			mks[i]->mark_in = gen;
	}
	link_t **pp = &ch->links;
	while (*pp) {
		link_t *l = *pp;
		if (l->mk->mark_in == gen) {
			l->mk->mark_linked = gen;
			pp = &l->cnext;
		} else {
			*pp = l->cnext;
			link_drop(rt, l);
		}
	}
	for (size_t i = 0; i < n; i++) {
		mkt_t *mk = mks[i];
		if (!mk || mk->mark_linked == gen)
			continue;
		mk->mark_linked = gen;
		link_add(ch, mk);
		mkt_step(rt, mk);
	}
	free(mks);
	ch->load = L_DONE;
	if (ch->reload) {
		ch->reload = false;
		ch->load = L_NONE;
	}
	chan_step(rt, ch);
}

void sl_pub_route_retry(sl_pub_route_t *rt)
{
	if (!rt->up || !rt->retry)
		return;
	rt->retry = false; /* what fails again sets it again */
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	for (sl_map_node_t *node; (node = sl_map_next(&rt->map, &it));) {
		entry_t *e = sl_container_of(node, entry_t, node);
		if (e->kind == K_CHAN) {
			sl_pub_chan_t *ch = (sl_pub_chan_t *)e;
			if (ch->nmembers && (e->sub == SUB_NONE || (e->sub == SUB_ACTIVE && ch->load == L_NONE)))
				chan_step(rt, ch);
		} else if (e->sub == SUB_NONE && ((mkt_t *)e)->nlinks) {
			mkt_step(rt, (mkt_t *)e);
		}
	}
}

void sl_pub_route_stats(const sl_pub_route_t *rt, sl_pub_route_stats_t *st)
{
	*st = rt->st;
}

void sl_pub_route_each_held(const sl_pub_route_t *rt, void (*fn)(void *arg, const char *id), void *arg)
{
	sl_map_iter_t it = SL_MAP_ITER_INIT;
	for (sl_map_node_t *node; (node = sl_map_next(&rt->map, &it));) {
		const entry_t *e = sl_container_of(node, entry_t, node);
		if (e->kind == K_CHAN && ((const sl_pub_chan_t *)e)->nmembers)
			fn(arg, ((const sl_pub_chan_t *)e)->id);
	}
}
