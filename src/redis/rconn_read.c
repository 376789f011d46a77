/* rconn_read.c: what a Redis connection receives (see rconn_int.h).
 *
 * The handshake's replies come first in both modes and are only counted
 * (an error reply to AUTH, SELECT or PING fails the attempt). After it:
 * command mode feeds hiredis' reader and hands each reply to the oldest
 * waiting command (Redis answers in order); pub/sub mode parses in place
 * from the read buffer with redis/resp.h and routes `message`, `subscribe`
 * and `unsubscribe` by kind, everything else (+OK, PONG) being ignored.
 * A callback may drop or close the connection: gen tells the loop to stop
 * touching the buffers then. A reply nobody asked for, or bytes that are
 * not RESP2, drop the connection (redis_protocol_error).
 */
#include "redis/rconn_int.h"

#include "core/log.h"
#include "redis/resp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sl_rconn__fail_pending(sl_rconn_t *rc)
{
	sl_rconn__cmd_t *c = rc->head;
	rc->head = rc->tail = NULL;
	rc->npending = 0;
	while (c) {
		sl_rconn__cmd_t *next = c->next;
		if (c->cb)
			c->cb(rc, NULL, c->arg);
		free(c);
		c = next;
	}
}

/* One handshake reply; false when it failed the attempt. */
static bool hs_reply(sl_rconn_t *rc, bool error, const char *text, size_t len)
{
	const char *step = rc->hs_names[rc->hs_step++];
	if (error) {
		sl_log_error("redis_handshake_failed", SL_KV(conn, rc->name), SL_KV(addr, rc->addr), SL_KV(step, step),
			     SL_KVN(error, text ? text : "", text ? len : 0));
		sl_rconn__drop(rc, NULL, "handshake refused");
		return false;
	}
	if (--rc->hs_left == 0)
		sl_rconn__up(rc);
	return true;
}

/* ---- command mode ---- */
static void cmd_received(sl_rconn_t *rc, const char *buf, size_t n)
{
	uint64_t gen = rc->gen;
	if (redisReaderFeed(rc->reader, buf, n) != REDIS_OK) {
		sl_rconn__drop(rc, "redis_protocol_error", "reader refused the bytes");
		return;
	}
	for (;;) {
		void *r = NULL;
		if (redisReaderGetReply(rc->reader, &r) != REDIS_OK) {
			sl_rconn__drop(rc, "redis_protocol_error", "malformed reply");
			return;
		}
		if (!r)
			return;
		redisReply *reply = r;
		if (rc->st == SL_RC_HANDSHAKE) {
			bool ok = hs_reply(rc, reply->type == REDIS_REPLY_ERROR, reply->str, reply->len);
			freeReplyObject(reply);
			if (!ok || gen != rc->gen)
				return;
			continue;
		}
		sl_rconn__cmd_t *c = rc->head;
		if (!c) {
			freeReplyObject(reply);
			sl_rconn__drop(rc, "redis_protocol_error", "a reply nobody asked for");
			return;
		}
		rc->head = c->next;
		if (!rc->head)
			rc->tail = NULL;
		rc->npending--;
		if (c->cb)
			c->cb(rc, reply, c->arg);
		free(c);
		freeReplyObject(reply);
		if (gen != rc->gen)
			return; /* the callback dropped or closed the connection */
	}
}

/* ---- pub/sub mode ---- */
static bool is(const sl_resp_item_t *it, const char *lit)
{
	size_t n = strlen(lit);
	return it->type == '$' && it->len == (long long)n && !strncasecmp(it->str, lit, n);
}

static void dispatch(sl_rconn_t *rc, const sl_resp_t *r)
{
	if (r->type == '-') {
		sl_log_warn("redis_error", SL_KV(conn, rc->name), SL_KV(addr, rc->addr),
			    SL_KVN(error, r->item.str, (size_t)r->item.len));
		return;
	}
	if (r->type != '*' || r->n < 2 || r->el[1].type != '$' || r->el[1].len < 0)
		return; /* +OK, +PONG, pong */
	const sl_resp_item_t *kind = &r->el[0], *ch = &r->el[1];
	if (is(kind, "message") && r->n == 3 && r->el[2].type == '$' && r->el[2].len >= 0) {
		if (rc->sub.on_message)
			rc->sub.on_message(rc->sub_arg, ch->str, (size_t)ch->len, r->el[2].str, (size_t)r->el[2].len);
	} else if (is(kind, "subscribe")) {
		if (rc->sub.on_subscribed)
			rc->sub.on_subscribed(rc->sub_arg, ch->str, (size_t)ch->len);
	} else if (is(kind, "unsubscribe")) {
		if (rc->sub.on_unsubscribed)
			rc->sub.on_unsubscribed(rc->sub_arg, ch->str, (size_t)ch->len);
	}
}

static void pubsub_received(sl_rconn_t *rc, size_t n)
{
	uint64_t gen = rc->gen;
	rc->rlen += n;
	size_t off = 0;
	long k = 0;
	sl_resp_t r;
	while ((k = sl_resp_parse(rc->rbuf + off, rc->rlen - off, &r)) > 0) {
		off += (size_t)k;
		if (rc->st == SL_RC_HANDSHAKE) {
			if (!hs_reply(rc, r.type == '-', r.item.str, (size_t)(r.item.len > 0 ? r.item.len : 0)))
				return;
		} else {
			dispatch(rc, &r);
		}
		if (gen != rc->gen)
			return;
	}
	if (k < 0) {
		sl_rconn__drop(rc, "redis_protocol_error", "malformed reply");
		return;
	}
	memmove(rc->rbuf, rc->rbuf + off, rc->rlen - off);
	rc->rlen -= off;
	/* A big buffer that emptied goes back to its start size. */
	if (rc->rlen == 0 && rc->rcap > 16 * 64 * 1024) {
		free(rc->rbuf);
		rc->rbuf = NULL;
		rc->rcap = 0;
	}
}

void sl_rconn__received(sl_rconn_t *rc, const char *buf, size_t n)
{
	if (rc->pubsub)
		pubsub_received(rc, n); /* buf is rc->rbuf + rc->rlen */
	else
		cmd_received(rc, buf, n);
}
