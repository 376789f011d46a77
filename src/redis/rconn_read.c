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
 * not RESP2, drop the connection (redis_protocol_error). Nothing here
 * changes the connection's state: the last handshake reply and every
 * failure are returned to rconn.c (SL_RC_RX_UP, SL_RC_RX_DROP), which acts.
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

static int fail(sl_rconn__rx_t *rx, const char *ev, const char *why)
{
	rx->ev = ev;
	rx->why = why;
	return SL_RC_RX_DROP;
}

/* One handshake reply: SL_RC_RX_DONE (more to come), _UP (the last) or
 * _DROP (refused). */
static int hs_reply(sl_rconn_t *rc, bool error, const char *text, size_t len, sl_rconn__rx_t *rx)
{
	const char *step = rc->hs_names[rc->hs_step++];
	if (error) {
		sl_log_error("redis_handshake_failed", SL_KV(conn, rc->name), SL_KV(addr, rc->addr), SL_KV(step, step),
			     SL_KVN(error, text ? text : "", text ? len : 0));
		return fail(rx, NULL, "handshake refused");
	}
	return --rc->hs_left == 0 ? SL_RC_RX_UP : SL_RC_RX_DONE;
}

/* ---- command mode ---- */
/* The reader keeps bytes it has not made a reply of yet; n == 0 goes on
 * with those. */
static int cmd_received(sl_rconn_t *rc, const char *buf, size_t n, sl_rconn__rx_t *rx)
{
	uint64_t gen = rc->gen;
	if (n && redisReaderFeed(rc->reader, buf, n) != REDIS_OK)
		return fail(rx, "redis_protocol_error", "reader refused the bytes");
	for (;;) {
		void *r = NULL;
		if (redisReaderGetReply(rc->reader, &r) != REDIS_OK)
			return fail(rx, "redis_protocol_error", "malformed reply");
		if (!r)
			return SL_RC_RX_DONE;
		redisReply *reply = r;
		if (rc->st == SL_RC_HANDSHAKE) {
			int res = hs_reply(rc, reply->type == REDIS_REPLY_ERROR, reply->str, reply->len, rx);
			freeReplyObject(reply);
			if (res != SL_RC_RX_DONE)
				return res;
			continue;
		}
		sl_rconn__cmd_t *c = rc->head;
		if (!c) {
			freeReplyObject(reply);
			return fail(rx, "redis_protocol_error", "a reply nobody asked for");
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
			return SL_RC_RX_DONE; /* the callback dropped or closed the connection */
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

/* Forget the first off bytes of the read buffer (parsed). */
static void consume(sl_rconn_t *rc, size_t off)
{
	memmove(rc->rbuf, rc->rbuf + off, rc->rlen - off);
	rc->rlen -= off;
	/* A big buffer that emptied goes back to its start size. */
	if (rc->rlen == 0 && rc->rcap > 16 * 64 * 1024) {
		free(rc->rbuf);
		rc->rbuf = NULL;
		rc->rcap = 0;
	}
}

static int pubsub_received(sl_rconn_t *rc, size_t n, sl_rconn__rx_t *rx)
{
	uint64_t gen = rc->gen;
	rc->rlen += n;
	size_t off = 0;
	long k = 0;
	sl_resp_t r;
	while ((k = sl_resp_parse(rc->rbuf + off, rc->rlen - off, &r)) > 0) {
		off += (size_t)k;
		if (rc->st == SL_RC_HANDSHAKE) {
			int res = hs_reply(rc, r.type == '-', r.item.str, (size_t)(r.item.len > 0 ? r.item.len : 0), rx);
			if (res == SL_RC_RX_UP)
				consume(rc, off); /* the rest is read on the next call */
			if (res != SL_RC_RX_DONE)
				return res;
			continue;
		}
		dispatch(rc, &r);
		if (gen != rc->gen)
			return SL_RC_RX_DONE; /* the callback dropped or closed the connection */
	}
	if (k < 0)
		return fail(rx, "redis_protocol_error", "malformed reply");
	consume(rc, off);
	return SL_RC_RX_DONE;
}

int sl_rconn__received(sl_rconn_t *rc, const char *buf, size_t n, sl_rconn__rx_t *rx)
{
	if (rc->pubsub)
		return pubsub_received(rc, n, rx); /* buf is rc->rbuf + rc->rlen */
	return cmd_received(rc, buf, n, rx);
}
