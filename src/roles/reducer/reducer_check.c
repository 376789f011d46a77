/* reducer_check.c: every command is checked against the channel's record
 * in Redis before it is applied (the rule: reducer_verdict.h), without
 * ever blocking the loop, and applied in the order it was read.
 *
 * How it fits: in the reducer's order of files (reducer_int.h) it sits
 * between reducer_commands.c, which calls it, and reducer_consumer.c,
 * whose sl_reducer__schedule it calls; reducer_main.c creates and frees
 * it. reducer_commands.c pushes each parsed command here
 * (sl_reducer__check_push) and takes back, in topic order, the ones whose
 * check agreed (sl_reducer__check_pop), which it applies. The check is one
 * EVAL on the reducer's own Redis connection (redis/rconn.h: pipelined with
 * the updates, answered in order), so a turn that reads a thousand
 * commands sends a thousand checks in one write.
 * Order: commands wait in one FIFO, and only its head is handed back, so a
 * command is never applied before one read earlier (a subscribe then an
 * unsubscribe of the same market end unsubscribed). A close that finds the
 * channel record still there (the API deletes it just after Kafka
 * acknowledged the close) leaves the FIFO for a side list, so that it
 * holds up nobody, and is asked again at 100 ms, 200 ms, ... (at most 2 s
 * apart) until the record is gone; then it re-enters the FIFO at its tail.
 * Still there after SL_RVERDICT_CLOSE_WAIT_MS, it is refused.
 * Failures: no answer (Redis down, connection dropped) or an error reply:
 * the command waits and is asked again with the same backoff once Redis
 * answers; nothing is applied unchecked and nothing is dropped. The queue
 * is bounded (SL_RCHECK_MAX commands): when full, reducer_commands.c stops
 * taking commands from Kafka, which keeps them.
 * A refused command changes nothing; it is counted
 * (sluice_reducer_commands_refused_total{reason}) and logged
 * (ev=command_refused, the channel id shortened by core/log, at most one line a second
 * with suppressed=N).
 * Thread: the reducer's loop thread only.
 * Non-goals: checking data records (they name no channel), caching
 * verdicts (a command is checked once, against the record as it is now).
 */
#include "roles/reducer/reducer_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "redis/rstate.h"
#include "roles/reducer/reducer_verdict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SL_RCHECK_MAX 4096

enum { ST_WAIT = 0, ST_SENT, ST_DONE };

/* One command on its way through the check. */
typedef struct pending {
	struct pending *next, *prev;
	struct sl_rchecks *k;
	sl_rcmd_t cmd;
	bool *keep;              /* per market, after the verdict */
	int state;
	bool deferred;           /* on the list of closes waiting for their record to go */
	int64_t first_ms, next_ms;
	unsigned attempts;
} pending_t;

typedef struct list {
	pending_t *head, *tail;
	size_t n;
} list_t;

struct sl_rchecks {
	sl_reducer_t *r;
	list_t fifo;             /* in topic order */
	list_t closes;           /* closes waiting for their record to go */
	size_t nwait;            /* commands of both lists to be sent */
	sl_metric_t *refused[SL_RVERDICT_NREASONS], *pending, *failed;
	int64_t log_ms;          /* when command_refused was last logged */
	unsigned suppressed;
	int64_t fail_log_ms;
	size_t script_len;
};

static void push_tail(list_t *l, pending_t *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void unlink_from(list_t *l, pending_t *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->next = c->prev = NULL;
	l->n--;
}

static void pending_free(pending_t *c)
{
	sl_rcmd_free(&c->cmd);
	free(c->keep);
	free(c);
}

static void gauge(struct sl_rchecks *k)
{
	sl_metric_set(k->pending, (double)(k->fifo.n + k->closes.n));
}

void sl_reducer__checks_init(sl_reducer_t *r)
{
	struct sl_rchecks *k = sl_xcalloc(1, sizeof(*k));
	k->r = r;
	k->script_len = strlen(sl_rverdict_script);
	for (int i = SL_RVERDICT_AGREES + 1; i < SL_RVERDICT_NREASONS; i++) {
		char label[64];
		snprintf(label, sizeof(label), "reason=\"%s\"", sl_rverdict_reason_name((sl_rverdict_reason_t)i));
		k->refused[i] = sl_metric_counter("sluice_reducer_commands_refused_total", label,
						  "commands (or some of their markets) refused because they disagree with "
						  "the channel's record in Redis, by reason: unknown_channel, "
						  "market_mismatch, channel_open, bad_reply");
	}
	k->pending = sl_metric_gauge("sluice_reducer_command_checks_pending", "",
				     "commands waiting for their check against Redis, or for their turn");
	k->failed = sl_metric_counter("sluice_reducer_command_checks_failed_total", "",
				      "checks that got no usable answer (asked again)");
	r->checks = k;
}

void sl_reducer__checks_free(sl_reducer_t *r)
{
	struct sl_rchecks *k = r->checks;
	if (!k)
		return;
	list_t *ls[] = {&k->fifo, &k->closes};
	for (int i = 0; i < 2; i++)
		while (ls[i]->head) {
			pending_t *c = ls[i]->head;
			unlink_from(ls[i], c);
			pending_free(c);
		}
	free(k);
	r->checks = NULL;
}

bool sl_reducer__checks_full(const sl_reducer_t *r)
{
	return r->checks->fifo.n + r->checks->closes.n >= SL_RCHECK_MAX;
}

static void refused(struct sl_rchecks *k, const pending_t *c, sl_rverdict_t v)
{
	if (v.reason > SL_RVERDICT_AGREES && v.reason < SL_RVERDICT_NREASONS)
		sl_metric_add(k->refused[v.reason], 1);
	int64_t now = sl_clock_mono_ms();
	if (k->log_ms && now - k->log_ms < 1000) {
		k->suppressed++;
		return;
	}
	sl_log_warn("command_refused", SL_KV(op, sl_rverdict_op_name(c->cmd.op)),
		    SL_KV(reason, sl_rverdict_reason_name(v.reason)), SL_KVN(channel, c->cmd.channel, c->cmd.channel_len),
		    SL_KV(markets, v.nrefused),
		    SL_KV(suppressed, k->suppressed));
	k->log_ms = now;
	k->suppressed = 0;
}

static int64_t backoff_ms(unsigned attempts)
{
	int64_t ms = 100;
	for (unsigned i = 1; i < attempts && ms < 2000; i++)
		ms *= 2;
	return ms < 2000 ? ms : 2000;
}

static void retry_later(struct sl_rchecks *k, pending_t *c)
{
	c->state = ST_WAIT;
	c->attempts++;
	c->next_ms = sl_clock_mono_ms() + backoff_ms(c->attempts);
	k->nwait++;
}

static void drop(struct sl_rchecks *k, list_t *home, pending_t *c)
{
	unlink_from(home, c);
	pending_free(c);
	gauge(k);
	sl_reducer__schedule(k->r); /* the next one may be at the head now */
}

static void check_cb(sl_rconn_t *rc, redisReply *reply, void *arg)
{
	(void)rc;
	pending_t *c = arg;
	struct sl_rchecks *k = c->k;
	list_t *home = c->deferred ? &k->closes : &k->fifo;
	sl_rverdict_t v = sl_rverdict_judge(&c->cmd, reply, sl_clock_mono_ms() - c->first_ms, c->keep);
	switch (v.act) {
	case SL_RVERDICT_APPLY:
		if (v.nrefused)
			refused(k, c, v); /* some markets only: the others are applied */
		if (c->deferred) {
			unlink_from(&k->closes, c);
			c->deferred = false;
			push_tail(&k->fifo, c);
		}
		c->state = ST_DONE;
		sl_reducer__schedule(k->r);
		break;
	case SL_RVERDICT_REFUSE:
		refused(k, c, v);
		drop(k, home, c);
		break;
	case SL_RVERDICT_ASK_LATER:
		if (!c->deferred) {
			unlink_from(&k->fifo, c);
			c->deferred = true;
			push_tail(&k->closes, c);
			c->attempts = 0;
			sl_reducer__schedule(k->r); /* the next one may be at the head now */
		}
		retry_later(k, c);
		break;
	case SL_RVERDICT_ASK_AGAIN:
		sl_metric_add(k->failed, 1);
		if (reply && reply->type == REDIS_REPLY_ERROR) {
			int64_t now = sl_clock_mono_ms();
			if (!k->fail_log_ms || now - k->fail_log_ms >= 1000) {
				sl_log_warn("command_check_failed", SL_KVN(error, reply->str, reply->len));
				k->fail_log_ms = now;
			}
		}
		retry_later(k, c);
		break;
	}
}

static void send_check(struct sl_rchecks *k, pending_t *c)
{
	sl_reducer_t *r = k->r;
	size_t n = sl_rverdict_wants_markets(&c->cmd) ? c->cmd.n_markets : 0;
	size_t argc = 5 + n;
	const char **argv = sl_xmalloc(argc * sizeof(*argv));
	size_t *lens = sl_xmalloc(argc * sizeof(*lens));
	sl_buf_t kc = SL_BUF_INIT, km = SL_BUF_INIT;
	char id[65];
	snprintf(id, sizeof(id), "%.*s", (int)c->cmd.channel_len, c->cmd.channel);
	sl_rstate_key_channel(&kc, r->prefix, id);
	sl_rstate_key_chan_markets(&km, r->prefix, id);
	argv[0] = "EVAL", lens[0] = 4;
	argv[1] = sl_rverdict_script, lens[1] = k->script_len;
	argv[2] = "2", lens[2] = 1;
	argv[3] = kc.data, lens[3] = kc.len;
	argv[4] = km.data, lens[4] = km.len;
	for (size_t i = 0; i < n; i++) {
		argv[5 + i] = c->cmd.markets[i].id;
		lens[5 + i] = c->cmd.markets[i].len;
	}
	if (sl_rconn_commandargv(r->rc, check_cb, c, (int)argc, argv, lens) == 0) {
		c->state = ST_SENT;
		k->nwait--;
	} else {
		c->next_ms = sl_clock_mono_ms() + 100; /* not connected: the tick asks again */
	}
	sl_buf_free(&kc);
	sl_buf_free(&km);
	free(argv);
	free(lens);
}

void sl_reducer__check_push(sl_reducer_t *r, sl_rcmd_t *cmd)
{
	struct sl_rchecks *k = r->checks;
	pending_t *c = sl_xcalloc(1, sizeof(*c));
	c->k = k;
	c->cmd = *cmd;
	memset(cmd, 0, sizeof(*cmd)); /* ours now */
	if (sl_rverdict_wants_markets(&c->cmd) && c->cmd.n_markets)
		c->keep = sl_xcalloc(c->cmd.n_markets, sizeof(*c->keep));
	c->state = ST_WAIT;
	c->first_ms = c->next_ms = sl_clock_mono_ms();
	push_tail(&k->fifo, c);
	k->nwait++;
	gauge(k);
	if (sl_rconn_connected(r->rc))
		send_check(k, c);
}

/* Send the checks whose time came (Redis answering). */
static void pump(struct sl_rchecks *k)
{
	if (!k->nwait || !sl_rconn_connected(k->r->rc))
		return;
	int64_t now = sl_clock_mono_ms();
	list_t *ls[] = {&k->fifo, &k->closes};
	for (int i = 0; i < 2; i++)
		for (pending_t *c = ls[i]->head, *nx; c && k->nwait; c = nx) {
			nx = c->next;
			if (c->state == ST_WAIT && c->next_ms <= now)
				send_check(k, c);
		}
}

bool sl_reducer__check_pop(sl_reducer_t *r, sl_rcmd_t *cmd, bool **keep)
{
	struct sl_rchecks *k = r->checks;
	pump(k);
	pending_t *c = k->fifo.head;
	if (!c || c->state != ST_DONE)
		return false;
	unlink_from(&k->fifo, c);
	gauge(k);
	*cmd = c->cmd;
	*keep = c->keep;
	free(c);
	return true;
}
