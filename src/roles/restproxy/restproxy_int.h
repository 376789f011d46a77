/* restproxy_int.h: what the files of `sluice rest-proxy` share.
 *
 * How it fits, top to bottom (each file calls only files below it):
 *   restproxy.c               the process: settings, loop, HTTP server,
 *                             routing, shutdown
 *   restproxy_auth.c          Basic authentication and ACLs, before routing
 *   restproxy_consumer_api.c  the consumer routes (records, offsets, ...),
 *     restproxy_consumer.c    over the consumer instances
 *   restproxy_produce.c       the shared producer, and
 *     restproxy_meta.c        metadata (topics, partitions)
 *   restproxy_common.c        answers in Confluent's shape, content-type
 *                             checks, Kafka error codes, the job queue,
 *                             Kafka property defaults
 *   restproxy_wire.c          pure wire logic (content negotiation, base64,
 *                             error bodies, request bodies), which
 *                             tests/unit/test_restproxy.c covers without a broker. Everything runs on the one libuv loop; the only other
 * threads are librdkafka's own and libuv's thread pool, which runs the calls
 * that wait on the network (metadata, synchronous commits, committed offsets,
 * consumer close) and hands results back to the loop in after-work callbacks.
 * References: Confluent REST Proxy API v2 and v1 (docs/rest-proxy.md lists
 * what is implemented), librdkafka rdkafka.h.
 * Non-goals: Avro/Protobuf/JSON-schema embedded formats (no schema
 * registry), API v3, the v1 simple consumer (GET /topics/{t}/partitions/{p}/messages).
 */
#ifndef SL_ROLES_RESTPROXY_INT_H
#define SL_ROLES_RESTPROXY_INT_H

#include "core/base64.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/metrics.h"
#include "kafka/kclient.h"
#include "loop/runtime.h"
#include "proto/http.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* The longest topic_pattern accepted (it is compiled on the loop). */
#define SL_RP_PATTERN_MAX 255
/* ... and the most + quantifiers in it (each may double what glibc builds). */
#define SL_RP_PATTERN_MAX_PLUS 6

/* ---- wire: formats, negotiation, errors (restproxy_wire.c) ---- */

typedef enum { SL_RP_FMT_BINARY, SL_RP_FMT_JSON } sl_rp_fmt_t;

/* What a request's Content-Type says about its body. */
typedef struct sl_rp_ctype {
	int version;      /* 1 or 2; 0 when the type does not say (application/json) */
	sl_rp_fmt_t fmt;  /* embedded format; binary when not said */
	bool has_fmt;     /* the type named an embedded format */
} sl_rp_ctype_t;

/* Parse a request Content-Type. Returns 0, or -1 when it is missing or not
 * one the proxy accepts (then *why names the reason, for the 415 body). */
int sl_rp__parse_ctype(const char *ctype, sl_rp_ctype_t *out, const char **why);

/* Pick the response type among candidates (server preference order) by the
 * Accept header (q values, wildcards, specificity). NULL Accept picks the
 * first. Returns the index, or -1 when none is acceptable. */
int sl_rp__negotiate(const char *accept, const char *const *candidates, size_t n);

/* The response types of metadata, produce and consumer-management replies:
 * v2 first, then v1, then the generic ones. */
extern const char *const sl_rp_meta_types[];
extern const size_t sl_rp_meta_ntypes;
/* Does this negotiated type mean API v1? */
bool sl_rp__type_is_v1(const char *type);

/* Confluent's error body: {"error_code":N,"message":"..."}. */
void sl_rp__error_body(sl_buf_t *out, int error_code, const char *message);
/* Formatter plugged into the HTTP server for its own errors (413, 431, 400). */
void sl_rp__http_error_fmt(int status, const char *code, const char *message, sl_buf_t *out);

/* Binary keys and values travel as base64 (core/base64.h): the standard
 * alphabet, written with padding; read with or without it (some clients
 * strip it). */
#define SL_RP_BASE64_OUT 0
#define SL_RP_BASE64_IN SL_BASE64_PAD_OPTIONAL

/* Error codes (Confluent's where it has one; docs/rest-proxy.md has the table). */
enum {
	SL_RP_E_TOPIC_NOT_FOUND = 40401,
	SL_RP_E_PARTITION_NOT_FOUND = 40402,
	SL_RP_E_INSTANCE_NOT_FOUND = 40403,
	SL_RP_E_FORMAT_MISMATCH = 40601,
	SL_RP_E_NOT_ACCEPTABLE = 40602,
	SL_RP_E_ALREADY_SUBSCRIBED = 40901,
	SL_RP_E_INSTANCE_EXISTS = 40902,
	SL_RP_E_ILLEGAL_STATE = 40903,
	SL_RP_E_RECORDS = 42201,        /* records missing, not an array, or empty */
	SL_RP_E_RECORD = 42202,         /* a record is not an object or has a bad field */
	SL_RP_E_BASE64 = 42203,         /* key or value is not valid base64 */
	SL_RP_E_CONSUMER_CONFIG = 42204,/* invalid consumer configuration */
	SL_RP_E_PARTITION_OFFSET = 42205,/* invalid partition or offset value */
	SL_RP_E_SUBSCRIPTION = 42206,   /* bad subscription/assignment/positions body */
	SL_RP_E_QUERY = 42207,          /* bad query parameter */
	SL_RP_E_BODY_SHAPE = 42208,     /* body is not a JSON object */
	SL_RP_E_KAFKA = 50002,
	SL_RP_E_KAFKA_RETRIABLE = 50003,
	SL_RP_E_TOO_MANY = 50301,       /* instance limit or work queue full */
};

/* ---- parsed request bodies (restproxy_wire.c) ---- */

typedef struct sl_rp_record {
	const void *key;  /* NULL: no key */
	size_t key_len;
	const void *value;/* NULL: null value (tombstone) */
	size_t value_len;
	int32_t partition;/* -1: let the partitioner choose */
} sl_rp_record_t;

typedef struct sl_rp_records {
	sl_rp_record_t *recs;
	size_t n;
	sl_buf_t store;   /* decoded bytes the records point into */
} sl_rp_records_t;

/* Parse a produce body {"records":[{key,value,partition}]} in format fmt.
 * path_partition >= 0: the URL named the partition (records must not).
 * Returns 0, or the error code (42201..42208, 400) with msg filled. */
int sl_rp__parse_records(const char *body, size_t len, sl_rp_fmt_t fmt, int32_t path_partition,
			 sl_rp_records_t *out, char *msg, size_t msglen);
void sl_rp__records_free(sl_rp_records_t *r);

typedef struct sl_rp_consumer_conf {
	char name[128];         /* "" when not given */
	sl_rp_fmt_t fmt;
	char offset_reset[16];  /* earliest, latest, none, or "" */
	int auto_commit;        /* -1 default, 0, 1 */
	long fetch_min_bytes;   /* -1 default */
	long request_timeout_ms;/* -1 default */
} sl_rp_consumer_conf_t;

/* Parse POST /consumers/{g}; empty body is all defaults. Returns 0 or error code. */
int sl_rp__parse_consumer_conf(const char *body, size_t len, sl_rp_consumer_conf_t *out, char *msg, size_t msglen);

/* Parse a list of {"topic","partition"[,"offset"]} under key `key` into a new
 * list (offset field RD_KAFKA_OFFSET_INVALID when with_offset is false).
 * Returns 0 or error code with msg. */
int sl_rp__parse_partitions(const char *body, size_t len, const char *key, bool with_offset,
			    rd_kafka_topic_partition_list_t **out, char *msg, size_t msglen);

/* Parse a subscription body: {"topics":[...]} or {"topic_pattern":"re"}.
 * On success *out is a list of topics (a pattern becomes "^(re)$"). */
int sl_rp__parse_subscription(const char *body, size_t len, rd_kafka_topic_partition_list_t **out, char *msg,
			      size_t msglen);

/* Split a path into percent-decoded segments (at most max); returns the count,
 * or -1 when there are too many or a segment is malformed. Frees with free(segs[i]). */
int sl_rp__split_path(sl_iov_t path, char **segs, int max);

/* ---- authorization (restproxy_auth.c) ---- */
typedef struct sl_rp sl_rp_t;
/* 0: the request may go on; -1: it was answered (401 or 403). */
int sl_rp__authorize(sl_rp_t *rp, sl_http_req_t *req, char **segs, int n);

/* ---- the process (restproxy.c) ---- */

typedef struct sl_rp sl_rp_t;
typedef struct sl_rp_inst sl_rp_inst_t;
typedef struct sl_rp_mwait sl_rp_mwait_t;

struct sl_rp {
	uv_loop_t *loop;
	sl_cfg_t *cfg;
	sl_http_server_t *srv;
	sl_runtime_t rt;
	int64_t kafka_timeout_ms;
	const char *advertised_url; /* base of base_uri; NULL: from the Host header */

	/* authentication and ACLs (restproxy_auth.c) */
	struct sl_basic *basic;     /* credentials; NULL: no authentication (loopback) */
	struct sl_acl *acl;         /* rules (when acl_rules) and the internal resources */
	bool acl_rules;
	const char *realm, *admin_role;
	const char *const *roles;   /* roles allowed in (authentication-roles); none: any */
	const char *const *internal;/* internal-topics, for topic_pattern checks */
	size_t ninternal;
	size_t nroles;

	/* producer (restproxy_produce.c) */
	rd_kafka_t *prod;
	sl_kclient_wake_t prod_wake; /* its main queue wakes the loop */
	size_t produce_pending;     /* requests waiting for delivery reports */
	struct preq *preqs;         /* their list (restproxy_produce.c) */
	char prod_err[256];         /* last producer-level error, for readiness */

	/* metadata (restproxy_meta.c) */
	const struct rd_kafka_metadata *md;
	int64_t md_at_ms;
	bool md_ok, md_inflight;
	char md_err[256];
	sl_rp_mwait_t *md_waiters;
	uv_timer_t md_timer;

	/* consumer instances (restproxy_consumer.c) */
	sl_rp_inst_t *insts;
	size_t ninsts, nclosing;
	uv_timer_t sweep;
	int64_t idle_ms, default_req_timeout_ms, max_req_timeout_ms;
	long default_max_bytes, max_max_bytes;
	size_t max_insts;
	uint64_t inst_seq;

	size_t jobs;                /* thread-pool jobs in flight */
	size_t max_jobs;

	/* shutdown */
	bool stopping, srv_closed, purged;
	uv_timer_t stop_timer;
	int64_t stop_deadline_ms;

	sl_metric_t *m_produce_reqs, *m_produced, *m_produce_errs, *m_consumed, *m_insts, *m_expired,
		*m_created, *m_errors, *m_produce_ms, *m_outq, *m_reads_waiting;
};

/* ---- shared helpers (restproxy_common.c) ---- */
/* Answer with a Confluent error body in the negotiated type. */
void sl_rp__respond_error(sl_http_req_t *req, int status, int error_code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Answer 200 with a JSON body in the given type (NULL: negotiate the meta types). */
void sl_rp__respond_json(sl_http_req_t *req, int status, const char *type, const sl_buf_t *body);
/* The negotiated response type among the metadata types, or NULL after
 * answering 406 itself. */
const char *sl_rp__meta_type(sl_http_req_t *req);
/* Check the Content-Type of a request with a body; NULL after answering 415. */
bool sl_rp__check_ctype(sl_http_req_t *req, sl_rp_ctype_t *ct);
/* 50003 for retriable librdkafka errors, else 50002. */
int sl_rp__kafka_error_code(rd_kafka_resp_err_t e);
/* Map a librdkafka error to (status, code) and answer. */
void sl_rp__respond_kafka_error(sl_http_req_t *req, rd_kafka_resp_err_t e, const char *what);
/* Run work off the loop in the thread pool; false when the queue is full. */
bool sl_rp__queue_work(sl_rp_t *rp, uv_work_t *w, uv_work_cb work, uv_after_work_cb after);
void sl_rp__work_done(sl_rp_t *rp);
/* Apply the name=value items of a LIST setting (--producer-property). */
int sl_rp__conf_list(rd_kafka_conf_t *conf, const sl_cfg_t *cfg, const char *key, sl_err_t *e);
/* Set a librdkafka property unless the user passed it with -X kafka.<name>=. */
int sl_rp__conf_default(rd_kafka_conf_t *conf, const sl_cfg_t *cfg, const char *name, const char *value,
			sl_err_t *e);

/* ---- metadata (restproxy_meta.c) ---- */
int sl_rp__meta_init(sl_rp_t *rp);
void sl_rp__meta_close(sl_rp_t *rp);
/* Call cb(rp, err, arg) with rp->md no older than max_age_ms (now, or after a
 * refresh in the thread pool). err NULL on success. */
typedef void (*sl_rp_meta_cb)(sl_rp_t *rp, const char *err, void *arg);
void sl_rp__meta_get(sl_rp_t *rp, int64_t max_age_ms, sl_rp_meta_cb cb, void *arg);
/* The topic in the current snapshot, or NULL. */
const struct rd_kafka_metadata_topic *sl_rp__meta_topic(const sl_rp_t *rp, const char *topic);
/* GET /topics, /topics/{t}, /topics/{t}/partitions[/{p}], /brokers. */
void sl_rp__meta_handle(sl_rp_t *rp, sl_http_req_t *req, char **segs, int nsegs);

/* ---- producer (restproxy_produce.c) ---- */
int sl_rp__produce_init(sl_rp_t *rp, char *err, size_t errlen);
void sl_rp__produce_close(sl_rp_t *rp);
/* POST /topics/{t} (partition -1) and POST /topics/{t}/partitions/{p}. */
void sl_rp__produce_handle(sl_rp_t *rp, sl_http_req_t *req, const char *topic, int32_t partition);
/* Messages waiting in the producer's queue. */
int sl_rp__produce_outq(sl_rp_t *rp);
void sl_rp__produce_purge(sl_rp_t *rp);
/* A shutdown whose purge brought no reports: answer the waiting requests
 * with 503/50003 now; their memory is freed after rd_kafka_destroy. */
void sl_rp__produce_abandon(sl_rp_t *rp);
void sl_rp__produce_free_abandoned(sl_rp_t *rp);


/* ---- consumer instances (restproxy_consumer.c, restproxy_consumer_api.c) ---- */

typedef enum { SL_RP_SUB_NONE, SL_RP_SUB_TOPICS, SL_RP_SUB_PATTERN, SL_RP_SUB_ASSIGNED } sl_rp_sub_t;

typedef struct sl_rp_read sl_rp_read_t;

struct sl_rp_inst {
	sl_rp_inst_t *next, *prev;
	sl_rp_t *rp;
	char *group, *name;
	sl_rp_fmt_t fmt;
	rd_kafka_t *rk;
	sl_kclient_wake_t wake;     /* the consumer queue wakes the loop */
	uv_timer_t timer;           /* timeout of the pending read */
	int handles;                /* wake + timer still open */
	int refs;                   /* thread-pool jobs using rk */
	bool closing, expired;
	int64_t last_used_ms;
	int64_t req_timeout_ms;
	sl_rp_sub_t sub;
	char *v1_topic;             /* topic of API v1 reads */
	rd_kafka_message_t *held;   /* polled, not yet returned: first of the next read */
	rd_kafka_topic_partition_list_t *delivered; /* next offset after what clients got */
	sl_rp_read_t *read;         /* the records read waiting for data */
	sl_http_req_t *del_req;     /* DELETE waiting for the close */
	char last_err[128];
};

void sl_rp__consumers_init(sl_rp_t *rp);
sl_rp_inst_t *sl_rp__inst_find(sl_rp_t *rp, const char *group, const char *name);
/* POST /consumers/{g}. */
void sl_rp__inst_create(sl_rp_t *rp, sl_http_req_t *req, const char *group);
/* Close (commit if auto-commit, leave the group, destroy) in the background;
 * del_req, when given, is answered 204 once done. */
void sl_rp__inst_close(sl_rp_inst_t *inst, sl_http_req_t *del_req, const char *why);
/* GET records (v2) or GET topics/{t} (v1): long poll bounded by timeout_ms. */
void sl_rp__inst_read(sl_rp_inst_t *inst, sl_http_req_t *req, const char *type, bool v1, int64_t timeout_ms,
		      long max_bytes);
/* Offsets delivered to clients and still assigned (commit with no body). */
rd_kafka_topic_partition_list_t *sl_rp__inst_delivered(sl_rp_inst_t *inst);
/* Drop the held message if it belongs to one of these partitions (seek). */
void sl_rp__inst_drop_held(sl_rp_inst_t *inst, const rd_kafka_topic_partition_list_t *parts);
void sl_rp__inst_ref(sl_rp_inst_t *inst);
void sl_rp__inst_unref(sl_rp_inst_t *inst);
/* Close every instance (shutdown); answers their pending reads. */
void sl_rp__consumers_close_all(sl_rp_t *rp);
/* Everything under /consumers. */
void sl_rp__consumers_handle(sl_rp_t *rp, sl_http_req_t *req, char **segs, int nsegs);

#endif
