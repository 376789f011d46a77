/* sentinel.c: the primary through Redis Sentinel (see sentinel.h).
 *
 * One query at a time: SENTINEL get-master-addr-by-name goes to the first
 * Sentinel (in list order) whose link is up; an error, a nil (it does not
 * know the master) or a dropped link moves on to the next; when every one
 * was tried the owner's attempt is told "no address" and rconn retries it
 * with its backoff. A resolve that finds no Sentinel link up waits for the
 * first one to come up (the owner's connect bound still applies). The
 * poll timer (500 ms) asks again while the owner is up and drops the
 * owner's connection when the answer names another address.
 */
#include "redis/sentinel.h"

#include "core/alloc.h"
#include "core/log.h"
#include "redis/rconn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SENTINEL_MAX 16
#define POLL_MS 500
#define LINK_TIMEOUT_MS 1000

typedef struct link {
	char host[256];
	int port;
	sl_rconn_t *rc;
} link_t;

typedef struct sl_sentinel {
	sl_rconn_t *owner;
	char *master;
	int n;
	link_t links[SENTINEL_MAX];
	uv_timer_t poll;
	bool closing;
	bool resolve_pending; /* the owner waits for an address */
	bool querying;
	unsigned seq;         /* bumped per query: a stale reply is ignored */
	char host[256];       /* the address last given to the owner */
	int port;
} sl_sentinel_t;

typedef struct query {
	sl_sentinel_t *s;
	unsigned seq;
	int idx;
} query_t;

/* ---- parsing the list ---- */
/* Split one "host:port" or "[v6]:port" entry; false when malformed. */
static bool parse_entry(const char *e, size_t len, char *host, size_t hostcap, int *port)
{
	const char *colon;
	const char *h = e;
	size_t hlen;
	if (len && e[0] == '[') {
		const char *rb = memchr(e, ']', len);
		if (!rb || rb + 1 >= e + len || rb[1] != ':')
			return false;
		h = e + 1;
		hlen = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = NULL;
		for (size_t i = 0; i < len; i++)
			if (e[i] == ':')
				colon = e + i;
		if (!colon)
			return false;
		hlen = (size_t)(colon - e);
	}
	if (hlen == 0 || hlen >= hostcap)
		return false;
	for (size_t i = 0; i < hlen; i++) {
		char c = h[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '-' || c == '_' || (c == ':' && h != e);
		if (!ok)
			return false;
	}
	const char *p = colon + 1, *end = e + len;
	if (p == end || end - p > 5)
		return false;
	int v = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	*port = v;
	return true;
}

/* Fill links (host, port) from the list; -1 with err on a bad one. */
static int parse_list(const char *list, const char *master, link_t *links, int *n, sl_err_t *err)
{
	*n = 0;
	if (!master || !master[0] || strlen(master) > 200 || strpbrk(master, " \t\r\n"))
		return sl_err_set(err, SL_EINVAL, false, "--redis-master-name '%s': expected a name without spaces",
				  master ? master : "");
	const char *p = list;
	while (1) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		link_t tmp;
		if (*n == SENTINEL_MAX)
			return sl_err_set(err, SL_EINVAL, false, "--redis-sentinels: more than %d Sentinels", SENTINEL_MAX);
		if (!parse_entry(p, len, tmp.host, sizeof(tmp.host), &tmp.port))
			return sl_err_set(err, SL_EINVAL, false,
					  "--redis-sentinels '%s': bad entry '%.*s' (expected host:port[,host:port...])",
					  list, (int)(len > 80 ? 80 : len), p);
		links[*n] = tmp;
		links[*n].rc = NULL;
		(*n)++;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

int sl_sentinel_check(const char *list, const char *master, sl_err_t *err)
{
	link_t links[SENTINEL_MAX];
	int n;
	return parse_list(list, master, links, &n, err);
}

/* ---- querying ---- */
static void query_from(sl_sentinel_t *s, int idx);

/* The answer of a query (host NULL: none). */
static void answer(sl_sentinel_t *s, const char *host, int port)
{
	s->querying = false;
	if (s->resolve_pending) {
		s->resolve_pending = false;
		if (host) {
			snprintf(s->host, sizeof(s->host), "%s", host);
			s->port = port;
		}
		sl_rconn_resolved(s->owner, host, port);
		return;
	}
	if (host && sl_rconn_connected(s->owner) && (port != s->port || strcmp(host, s->host) != 0)) {
		char to[300];
		snprintf(to, sizeof(to), "%s:%d", host, port);
		sl_log_warn("redis_primary_moved", SL_KV(conn, s->owner->name), SL_KV(master, s->master),
			    SL_KV(addr, s->owner->addr), SL_KV(primary, to));
		sl_rconn_reconnect(s->owner, "redis_disconnected", "the primary moved");
	}
}

static void reply_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	query_t *q = arg;
	sl_sentinel_t *s = q->s;
	int idx = q->idx;
	bool current = q->seq == s->seq && !s->closing;
	free(q);
	if (!current)
		return;
	if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
	    reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING &&
	    reply->element[0]->len < sizeof(s->host)) {
		int port = atoi(reply->element[1]->str);
		if (port > 0 && port <= 65535) {
			answer(s, reply->element[0]->str, port);
			return;
		}
	}
	if (reply && reply->type == REDIS_REPLY_ERROR)
		sl_log_debug("sentinel_error", SL_KV(addr, s->links[idx].rc->addr), SL_KV(error, reply->str));
	query_from(s, idx + 1);
}

/* Ask the first Sentinel from idx on whose link is up. */
static void query_from(sl_sentinel_t *s, int idx)
{
	for (int i = idx; i < s->n; i++) {
		if (!sl_rconn_connected(s->links[i].rc))
			continue;
		query_t *q = sl_xmalloc(sizeof(*q));
		*q = (query_t){s, ++s->seq, i};
		if (sl_rconn_command(s->links[i].rc, reply_cb, q, "SENTINEL get-master-addr-by-name %s", s->master) == 0) {
			s->querying = true;
			return;
		}
		free(q);
	}
	/* Nobody answered (or no link is up): a pending resolve waits for a
	 * link when none was up to ask, else fails now and is retried. */
	bool asked = idx > 0;
	s->querying = false;
	if (s->resolve_pending && asked)
		answer(s, NULL, 0);
}

static bool any_link_up(const sl_sentinel_t *s)
{
	for (int i = 0; i < s->n; i++)
		if (sl_rconn_connected(s->links[i].rc))
			return true;
	return false;
}

static void resolve_cb(sl_rconn_t *owner, void *arg)
{
	(void)owner;
	sl_sentinel_t *s = arg;
	s->resolve_pending = true;
	if (s->querying)
		return; /* the query under way answers it */
	if (any_link_up(s))
		query_from(s, 0);
	/* else: the first link that comes up asks (link_state_cb) */
}

static void link_state_cb(sl_rconn_t *rc, bool up, void *arg)
{
	(void)rc;
	sl_sentinel_t *s = arg;
	if (up && s->resolve_pending && !s->querying && !s->closing)
		query_from(s, 0);
}

static void poll_cb(uv_timer_t *t)
{
	sl_sentinel_t *s = t->data;
	if (sl_rconn_connected(s->owner) && !s->querying && !s->resolve_pending && !s->closing)
		query_from(s, 0);
}

/* ---- life cycle ---- */
/* A link closed; the links are freed with the sentinel (free_hook). */
static void link_closed_cb(void *arg)
{
	sl_sentinel_t *s = arg;
	sl_rconn__release(s->owner);
}

static void poll_closed_cb(uv_handle_t *h)
{
	sl_sentinel_t *s = h->data;
	sl_rconn__release(s->owner);
}

/* The owner is closing: close the links and the poll; the owner's done
 * waits for them (the holds taken at open). */
static void close_hook(void *arg)
{
	sl_sentinel_t *s = arg;
	if (s->closing)
		return;
	s->closing = true;
	s->resolve_pending = false;
	for (int i = 0; i < s->n; i++)
		sl_rconn_close(s->links[i].rc, link_closed_cb, s);
	uv_close((uv_handle_t *)&s->poll, poll_closed_cb);
}

static void free_hook(void *arg)
{
	sl_sentinel_t *s = arg;
	for (int i = 0; i < s->n; i++)
		sl_rconn_free(s->links[i].rc);
	free(s->master);
	free(s);
}

sl_rconn_t *sl_sentinel_open(uv_loop_t *loop, const char *url, const sl_rconn_opts_t *opts, const sl_redis_ha_t *ha,
			     sl_err_t *err)
{
	if (!ha || !ha->sentinels || !ha->sentinels[0])
		return sl_rconn_open(loop, url, opts, err);
	sl_redis_url_t u;
	if (sl_redis_url_parse(url, &u, err) < 0)
		return NULL;
	sl_sentinel_t *s = sl_xcalloc(1, sizeof(*s));
	if (parse_list(ha->sentinels, ha->master_name, s->links, &s->n, err) < 0) {
		free(s);
		return NULL;
	}
	s->master = sl_xstrdup(ha->master_name);
	/* Checked above: neither a link nor the owner can fail to open. */
	for (int i = 0; i < s->n; i++) {
		char lurl[300];
		snprintf(lurl, sizeof(lurl), strchr(s->links[i].host, ':') ? "redis://[%s]:%d/0" : "redis://%s:%d/0",
			 s->links[i].host, s->links[i].port);
		sl_rconn_opts_t lo = {.name = "sentinel", .connect_timeout_ms = LINK_TIMEOUT_MS,
				      .reply_timeout_ms = LINK_TIMEOUT_MS};
		s->links[i].rc = sl_rconn_open(loop, lurl, &lo, err);
		sl_rconn_on_state(s->links[i].rc, link_state_cb, s);
	}
	sl_rconn_opts_t o = *opts;
	o.resolve = resolve_cb;
	o.resolve_arg = s;
	o.on_close = close_hook;
	o.on_free = free_hook;
	o.hook_arg = s;
	s->owner = sl_rconn_open(loop, url, &o, err);
	for (int i = 0; i < s->n; i++)
		sl_rconn__hold(s->owner);
	uv_timer_init(loop, &s->poll);
	s->poll.data = s;
	uv_timer_start(&s->poll, poll_cb, POLL_MS, POLL_MS);
	sl_rconn__hold(s->owner);
	return s->owner;
}
