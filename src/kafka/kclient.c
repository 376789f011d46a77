/* kclient.c: the Kafka client constructor and queue wake-up (see kclient.h).
 *
 * The pipe is non-blocking at both ends: librdkafka's write never blocks
 * its thread (a full pipe already means "wake up"), and the drain reads
 * until EAGAIN. The descriptors are closed only in the poll's close
 * callback, after the queue stopped signalling, so neither side ever
 * touches a closed or reused descriptor.
 */
#include "kafka/kclient.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

rd_kafka_t *sl_kclient_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, sl_err_t *err)
{
	if (!conf)
		return NULL; /* the conf's builder said why */
	char errstr[512];
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(conf); /* on failure it is still ours */
		sl_err_set(err, SL_EINVAL, false, "kafka %s: %s", type == RD_KAFKA_PRODUCER ? "producer" : "consumer",
			   errstr);
	}
	return rk;
}

static void drain(int fd)
{
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0) {
	}
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	(void)status, (void)events;
	sl_kclient_wake_t *w = h->data;
	drain(w->fds[0]);
	if (w->open)
		w->cb(w);
}

int sl_kclient_wake_init(sl_kclient_wake_t *w, uv_loop_t *loop, rd_kafka_queue_t *q, sl_kclient_wake_cb cb,
			 void *data, sl_err_t *err)
{
	memset(w, 0, sizeof(*w));
	w->fds[0] = w->fds[1] = -1;
	if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		int e = errno;
		rd_kafka_queue_destroy(q);
		return sl_err_set(err, SL_EIO, false, "kafka wake-up pipe: %s", strerror(e));
	}
	w->q = q;
	w->cb = cb;
	w->data = data;
	uv_poll_init(loop, &w->poll, w->fds[0]);
	w->poll.data = w;
	w->open = true;
	rd_kafka_queue_io_event_enable(q, w->fds[1], "1", 1);
	uv_poll_start(&w->poll, UV_READABLE, poll_cb);
	return 0;
}

void sl_kclient_wake_stop(sl_kclient_wake_t *w)
{
	if (w->open)
		uv_poll_stop(&w->poll);
}

void sl_kclient_wake_again(sl_kclient_wake_t *w)
{
	if (w->open && write(w->fds[1], "1", 1) < 0) {
		/* EAGAIN: the pipe is full, so the loop wakes anyway. */
	}
}

static void poll_closed_cb(uv_handle_t *h)
{
	sl_kclient_wake_t *w = h->data;
	close(w->fds[0]);
	close(w->fds[1]);
	w->fds[0] = w->fds[1] = -1;
	if (w->closed)
		w->closed(w);
}

bool sl_kclient_wake_close(sl_kclient_wake_t *w, void (*closed)(sl_kclient_wake_t *w))
{
	if (!w->open)
		return false;
	w->open = false;
	w->closed = closed;
	rd_kafka_queue_io_event_enable(w->q, -1, NULL, 0);
	rd_kafka_queue_destroy(w->q);
	w->q = NULL;
	uv_close((uv_handle_t *)&w->poll, poll_closed_cb);
	return true;
}
