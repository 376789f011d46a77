/* log.h: one line per event, logfmt by default, JSON on request.
 *
 *   ts=2026-11-26T02:20:05.123Z lvl=warn role=publisher ev=client_evicted conn=8812 reason=slow_consumer
 *
 * How it fits: every role logs through here (STYLE section 6). A call names
 * the event (`ev`, listed with its keys in docs/logging.md) and passes typed
 * fields, each a key of the fixed vocabulary below and a value:
 *
 *   sl_log_warn("redis_disconnected", SL_KV(conn, name), SL_KV(addr, addr), SL_KV(error, why));
 *
 * SL_KV picks the value's type (string, integer, floating, bool) from the C
 * type; SL_KVN takes a string with its length. A key outside the vocabulary
 * does not compile, and `make docs` fails on a key no event uses, so the
 * vocabulary stays the list of what the logs say. Every value is escaped:
 * in logfmt a value that is not a plain token (space, quote, '=', control
 * bytes, non-ASCII, empty) is written as a JSON string literal, so outside
 * text can neither break a line nor forge a key; in JSON mode every line is
 * valid JSON (core/buf.h sl_buf_json_str), numbers and bools unquoted.
 * A `channel` value (a stream's capability) is cut to its first 8
 * characters and "..." on every line above debug level, whoever logs it.
 * The level is checked before any argument is evaluated (redis serverLog).
 * Thread: safe from any thread; settings are made once (sl_log_setup)
 * before threads start, and each line goes out in one write(2).
 * Non-goals: log files, rotation, sampling (rates are metrics).
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* The key vocabulary: X(key, meaning). The one spelling of each idea:
 * `error` is the text of what went wrong, `error_code` its stable name or
 * number, `reason` a cause from a fixed set of words. */
#define SL_LOG_KEYS(X) \
	X(addr, "host:port of a peer (a Redis server)") \
	X(after_failures, "connection attempts that failed before this one succeeded") \
	X(api_key, "whether requests must carry an API key: set or none") \
	X(auth, "how requests are authenticated: jwt, api_key, basic or none") \
	X(attempt, "number of this connection attempt since the last success") \
	X(brokers, "Kafka bootstrap servers, or the number of brokers known") \
	X(bytes, "a size in bytes") \
	X(channel, "a stream channel id: its first 8 characters and ..., except at debug level") \
	X(channels, "a number of channels") \
	X(client, "which Kafka client of the process: producer or consumer") \
	X(clients, "a number of clients") \
	X(close_code, "WebSocket close code sent or received") \
	X(command_partitions, "partitions of the command topic") \
	X(command_topic, "the command topic") \
	X(committed, "partitions whose offsets were committed") \
	X(conn, "the connection: a client connection's number, or the name of a Redis link") \
	X(conns, "connections open") \
	X(count, "a number of the things the event names") \
	X(data_topic, "the data topic") \
	X(db, "Redis database number") \
	X(delivered, "records Kafka acknowledged") \
	X(error, "what went wrong, as text (ours, a library's or a peer's)") \
	X(error_code, "the stable name or number of an error (librdkafka's, or an HTTP answer's)") \
	X(exit, "the exit status the process will have") \
	X(facility, "librdkafka's log facility") \
	X(failed, "records that failed") \
	X(fatal, "librdkafka's fatal error, when the error was fatal") \
	X(file, "a file the event concerns (a certificate, a key)") \
	X(files, "a number of files") \
	X(format, "embedded format of a REST proxy consumer: json or binary") \
	X(group, "Kafka consumer group") \
	X(held, "records held while a partition loads") \
	X(idle_ms, "time without traffic, ms") \
	X(instance, "REST proxy consumer instance") \
	X(instances, "a number of REST proxy consumer instances") \
	X(join_state, "consumer group join state, from librdkafka") \
	X(level, "syslog level of a line librdkafka logged") \
	X(limit, "a limit in effect: open files, connections (fd_limit_raised: the new one; count: the old)") \
	X(live_frames, "frames still allocated at shutdown (0 when clean)") \
	X(loop, "index of an event loop") \
	X(loop_close, "result of uv_loop_close (0: every handle was closed)") \
	X(loops, "a number of event loops") \
	X(markets, "a number of markets") \
	X(master, "the Redis master name the Sentinels watch") \
	X(ms, "how long the step took, ms") \
	X(op, "a command of the command topic: subscribe, unsubscribe, begin or close") \
	X(partition, "a partition id") \
	X(partitions, "partition ids (comma-separated), or a number of partitions") \
	X(port, "TCP port") \
	X(principal, "the authenticated user of a request (REST proxy Basic auth), or anonymous") \
	X(primary, "host:port of the Redis primary (as the Sentinels name it)") \
	X(produced, "records handed to the producer") \
	X(queued, "frames queued for a client") \
	X(rate, "records per second") \
	X(reason, "why, as a word from a fixed set (slow_consumer, redis_unavailable, ...)") \
	X(records, "a number of records") \
	X(replicas, "Redis replicas that acknowledged the writes (WAIT)") \
	X(requests, "a number of requests") \
	X(root, "a directory") \
	X(signal, "signal number") \
	X(sse, "a number of SSE clients") \
	X(status, "HTTP status") \
	X(step, "the step of a handshake that failed (AUTH, SELECT, PING)") \
	X(stop, "whether a stop was asked") \
	X(suppressed, "lines of the same event folded into this one (at most one a second)") \
	X(text, "a line librdkafka logged") \
	X(tls, "whether a listener serves TLS: on or off") \
	X(timeout_ms, "a bound that ran out, ms") \
	X(topic, "Kafka topic") \
	X(topics, "a number of topics") \
	X(undelivered, "records or commands Kafka did not acknowledge") \
	X(waited_ms, "time waited, ms") \
	X(waiting, "commands waiting for replies") \
	X(wire, "the stream's wire format: ws or sse") \
	X(ws, "a number of WebSocket clients")

typedef enum {
#define SL_LOG__ENUM(k, help) SL_LK_##k,
	SL_LOG_KEYS(SL_LOG__ENUM)
#undef SL_LOG__ENUM
	SL_LK__END
} sl_log_key_t;

/* How much of a `channel` value a line above debug level shows (log.c). */
#define SL_LOG_ID_SHOWN 8

typedef enum { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR, SL_LOG_OFF } sl_log_level_t;

typedef enum { SL_LOG_T_STR, SL_LOG_T_INT, SL_LOG_T_UINT, SL_LOG_T_DBL, SL_LOG_T_BOOL } sl_log_type_t;

/* One field. Strings are borrowed for the call. */
typedef struct sl_log_kv {
	sl_log_key_t key;
	sl_log_type_t type;
	union {
		struct {
			const char *p; /* NULL: no value (JSON null) */
			size_t n;
		} s;
		long long i;
		unsigned long long u;
		double d;
		bool b;
	} v;
} sl_log_kv_t;

/* Configure once at start, before threads; role appears on every line.
 * NULL leaves a setting as it is. -1 on an unknown level or format. */
int sl_log_setup(const char *role, const char *level, const char *format);
extern sl_log_level_t sl_log_min_level;
/* Write lines to fd instead of stderr (tests); -1 restores stderr. */
void sl_log_set_fd(int fd);
/* The vocabulary: the name of a key (docs, tests). */
const char *sl_log_key_name(sl_log_key_t key);

/* kv ends with an SL_LK__END field (the macros below add it). */
void sl_log_write(sl_log_level_t lvl, const char *ev, const sl_log_kv_t *kv);

static inline sl_log_kv_t sl_log__s(sl_log_key_t k, const char *s)
{
	return (sl_log_kv_t){.key = k, .type = SL_LOG_T_STR, .v.s = {s, s ? strlen(s) : 0}};
}
static inline sl_log_kv_t sl_log__sn(sl_log_key_t k, const char *s, size_t n)
{
	return (sl_log_kv_t){.key = k, .type = SL_LOG_T_STR, .v.s = {s, n}};
}
static inline sl_log_kv_t sl_log__i(sl_log_key_t k, long long v)
{
	return (sl_log_kv_t){.key = k, .type = SL_LOG_T_INT, .v.i = v};
}
static inline sl_log_kv_t sl_log__u(sl_log_key_t k, unsigned long long v)
{
	return (sl_log_kv_t){.key = k, .type = SL_LOG_T_UINT, .v.u = v};
}
static inline sl_log_kv_t sl_log__d(sl_log_key_t k, double v)
{
	return (sl_log_kv_t){.key = k, .type = SL_LOG_T_DBL, .v.d = v};
}
static inline sl_log_kv_t sl_log__b(sl_log_key_t k, bool v)
{
	return (sl_log_kv_t){.key = k, .type = SL_LOG_T_BOOL, .v.b = v};
}

/* A field: key from the vocabulary (bare word), value typed by C. */
#define SL_KV(key, val) \
	_Generic((val), \
		char *: sl_log__s, const char *: sl_log__s, \
		_Bool: sl_log__b, \
		float: sl_log__d, double: sl_log__d, \
		char: sl_log__i, signed char: sl_log__i, short: sl_log__i, int: sl_log__i, long: sl_log__i, \
		long long: sl_log__i, \
		unsigned char: sl_log__u, unsigned short: sl_log__u, unsigned: sl_log__u, unsigned long: sl_log__u, \
		unsigned long long: sl_log__u)(SL_LK_##key, (val))
/* A string field given by pointer and length. */
#define SL_KVN(key, ptr, len) sl_log__sn(SL_LK_##key, (ptr), (len))

#define SL_LOG__END ((sl_log_kv_t){.key = SL_LK__END})
#define SL_LOG__CALL(lvl, ev, ...) do { \
	if ((lvl) >= sl_log_min_level) \
		sl_log_write((lvl), (ev), (const sl_log_kv_t[]){__VA_ARGS__}); \
} while (0)

/* sl_log_info("ev", SL_KV(k, v), ...): fields are optional. */
#define sl_log_debug(...) SL_LOG__CALL(SL_LOG_DEBUG, __VA_ARGS__, SL_LOG__END)
#define sl_log_info(...)  SL_LOG__CALL(SL_LOG_INFO, __VA_ARGS__, SL_LOG__END)
#define sl_log_warn(...)  SL_LOG__CALL(SL_LOG_WARN, __VA_ARGS__, SL_LOG__END)
#define sl_log_error(...) SL_LOG__CALL(SL_LOG_ERROR, __VA_ARGS__, SL_LOG__END)
/* The level chosen at run time. */
#define sl_log_at(lvl, ...) SL_LOG__CALL((lvl), __VA_ARGS__, SL_LOG__END)

#endif
