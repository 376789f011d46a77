/* err.h: error codes and the sl_err_t context carrier shared by every module.
 *
 * Functions return int: 0 ok, negative SL_E* on error (our codes, or -errno).
 * Where the caller must learn why, the last parameter is `sl_err_t *err`
 * (may be NULL), filled with a readable message that names the context, e.g.
 * "redis HSET market=m-0001: READONLY ...". Constructors return NULL.
 * Non-goals: exceptions, global errno-style state.
 */
#ifndef SL_ERR_H
#define SL_ERR_H

#include <stdbool.h>

enum {
	SL_OK = 0,
	SL_EINVAL = -1000, /* bad input from a caller or a client */
	SL_ENOTFOUND,      /* unknown topic, channel, partition, route */
	SL_ETOOBIG,        /* over a configured size limit */
	SL_ETIMEDOUT,      /* a bounded wait ran out */
	SL_EUNAVAIL,       /* Kafka or Redis unreachable (retriable) */
	SL_EKAFKA,         /* Kafka said no (not retriable) */
	SL_EREDIS,         /* Redis said no */
	SL_EIO,            /* socket or file failure */
	SL_EFULL,          /* a bounded queue is full */
	SL_ECLOSED,        /* the object is shutting down */
};

#define SL_ERR_MSG_MAX 256

typedef struct sl_err {
	int code;
	bool retriable;
	char msg[SL_ERR_MSG_MAX];
} sl_err_t;

/* Fill err (if not NULL) and return code, so callers can `return sl_err_set(...)`. */
int sl_err_set(sl_err_t *err, int code, bool retriable, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
