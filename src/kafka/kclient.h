/* kclient.h: a Kafka client on a libuv loop: the one constructor of
 * rd_kafka_t handles, and the one wake-up from a librdkafka queue.
 *
 * How it fits (STYLE section 8): a loop thread never blocks in librdkafka;
 * it polls with timeout 0 when librdkafka says something is waiting.
 *  - sl_kclient_new creates a producer or consumer from a conf built by
 *    kconf.h, and owns that conf on every path: librdkafka keeps it on
 *    success, and it is destroyed here on failure (rd_kafka_new leaves it
 *    to the caller then, and callers leaked it). A NULL conf returns NULL
 *    and leaves err as the conf's builder filled it, so the two calls chain.
 *  - sl_kclient_wake_t turns a queue into a loop callback: librdkafka
 *    writes a byte to a pipe when the queue goes from empty to non-empty
 *    (rd_kafka_queue_io_event_enable), a uv_poll on the pipe wakes the
 *    loop, the pipe is drained and cb runs, which polls the queue (or its
 *    handle) with timeout 0. The queue is only signalled on that edge, so
 *    cb must empty the queue, or ask for another turn with
 *    sl_kclient_wake_again when it stops early (a batch bound).
 * Callers: api (producer), reducer (two consumers), rest-proxy (producer
 * and a consumer per instance), feed and the console tools (constructor).
 * Thread: the loop's. Ownership: the wake-up owns the queue reference it
 * is given, on every path; close it (which destroys that reference at
 * once) before rd_kafka_destroy, which waits for every reference.
 * References: librdkafka rdkafka.h rd_kafka_new, rd_kafka_queue_io_event_enable;
 * libuv docs/src/poll.rst.
 * Non-goals: the conf's contents (kconf.h), background threads.
 */
#ifndef SL_KAFKA_KCLIENT_H
#define SL_KAFKA_KCLIENT_H

#include "core/err.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <uv.h>

/* A new handle, or NULL with err filled (SL_EINVAL, "kafka producer: ...":
 * librdkafka refuses a handle only for its configuration). conf is taken
 * on every path. */
rd_kafka_t *sl_kclient_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, sl_err_t *err);

typedef struct sl_kclient_wake sl_kclient_wake_t;
typedef void (*sl_kclient_wake_cb)(sl_kclient_wake_t *w);

struct sl_kclient_wake {
	uv_poll_t poll;
	rd_kafka_queue_t *q;
	int fds[2];
	sl_kclient_wake_cb cb;
	void (*closed)(sl_kclient_wake_t *w);
	void *data; /* the caller's */
	bool open;  /* initialised and not closing */
};

/* Watch queue q (taken on every path) and call cb on loop whenever it has
 * something. 0, or SL_EIO with err filled (out of descriptors); the wake
 * needs no close then. */
int sl_kclient_wake_init(sl_kclient_wake_t *w, uv_loop_t *loop, rd_kafka_queue_t *q, sl_kclient_wake_cb cb,
			 void *data, sl_err_t *err);
/* No more callbacks (shutdown begins); close still has to follow. */
void sl_kclient_wake_stop(sl_kclient_wake_t *w);
/* Call cb again on a later loop turn (cb stopped at a batch bound). */
void sl_kclient_wake_again(sl_kclient_wake_t *w);
/* Stop signalling and destroy the queue reference now; closed (may be
 * NULL) fires once the poll handle and the pipe are closed. Returns
 * false, and closed will not fire, for a wake that was never started or
 * is closing already. */
bool sl_kclient_wake_close(sl_kclient_wake_t *w, void (*closed)(sl_kclient_wake_t *w));

#endif
