/* api_int.h: internals shared by the API's files (not a public API).
 *
 *   api.c       the role: settings, Kafka producer, Redis, HTTP routing,
 *               validation of every input (before anything is changed)
 *   api_auth.c  who asks (bearer token, API key) and whether they may:
 *               markets of the token, channels of its sub
 *   api_input.c the inputs as data (market lists of bodies and queries),
 *               pure, below api.c
 *   api_step.c  the steps flows are made of: counted Redis commands, the
 *               command produced, answers, the rollback
 *   api_flow.c  the flows of each route as small steps: Redis writes in one
 *               MULTI/EXEC, then the command on the command topic, then the
 *               answer; a command Kafka refused rolls the Redis write back
 *
 * An operation (sl_api_op_t) lives from the request until its last Redis
 * reply or delivery report, even when the client went away first (then
 * nothing is answered, but the flow still ends consistently).
 * References: SPEC section 3, docs/openapi/api.yaml, docs/redis.md.
 * Non-goals: a public API; nothing outside src/roles/api/ includes this.
 */
#ifndef SL_ROLES_API_INT_H
#define SL_ROLES_API_INT_H

#include "auth/jwt.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/metrics.h"
#include "kafka/kclient.h"
#include "kafka/kmeta.h"
#include "loop/runtime.h"
#include "proto/http.h"
#include "redis/rconn.h"
#include "redis/sentinel.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sl_api {
	uv_loop_t *loop;
	sl_cfg_t *cfg;
	sl_runtime_t rt;
	const char *prefix, *data_topic, *cmd_topic, *api_key;
	sl_jwt_keys_t *jwt;      /* bearer tokens verified with these; NULL: none */
	sl_jwt_signer_t *signer; /* signs stream tokens; NULL: none handed out */
	int64_t leeway_s, stream_token_ttl_s;
	long max_markets;        /* per request */
	long max_channel_markets; /* per channel */
	long max_creator_channels; /* per creator; 0: no limit */
	int64_t ttl_ms;          /* a channel no stream holds this long is closed */
	int64_t pending_ms;      /* a channel whose create did not finish is closed after this */
	int64_t next_sweep_ms;
	bool sweeping;
	rd_kafka_t *rk;
	sl_kclient_wake_t wake;  /* the producer's delivery reports */
	uv_timer_t tick;
	sl_kmeta_t *meta;
	sl_rconn_t *rc;
	sl_http_server_t *http;
	size_t ops;             /* operations alive */
	bool stopping;
	int64_t stop_deadline_ms;
	struct {
		sl_metric_t *requests, *errors4, *errors5, *commands, *channels, *latency, *expired;
	} m;
} sl_api_t;

typedef enum {
	SL_API_CREATE, SL_API_SUBSCRIBE, SL_API_UNSUBSCRIBE, SL_API_BEGIN, SL_API_GET_CHANNEL,
	SL_API_DELETE_CHANNEL, SL_API_GET_MARKET, SL_API_GET_MARKETS,
} sl_api_kind_t;

/* Who made a request (api_auth.c). */
typedef struct sl_api_who {
	bool authenticated;      /* a token or the API key */
	bool admin;              /* may act on any channel */
	bool any_market;         /* the API key, or no authentication configured */
	char sub[SL_JWT_SUB_MAX + 1];
	sl_jwt_claims_t claims;  /* of the bearer token */
} sl_api_who_t;

typedef struct sl_api_op sl_api_op_t;
typedef void (*sl_api_step_fn)(sl_api_op_t *op);

struct sl_api_op {
	sl_api_t *a;
	sl_http_req_t *req;     /* NULL once the client went away */
	sl_api_kind_t kind;
	char id[40];
	char **markets;
	size_t nmarkets;
	bool *changed;          /* per market: this request added/removed it */
	int replies;
	bool failed;
	bool exists;
	rd_kafka_resp_err_t kafka_err;
	sl_api_step_fn next;
	char **vals;            /* GET markets: entry JSON per market, NULL when none */
	size_t found;
	int64_t started_ms;
	char creator[160];      /* who made the channel: "sub:<sub>" or the client's address, or its record's */
	sl_api_who_t who;       /* who asks */
	bool forbidden;         /* the ownership step refused the channel */
	bool quota;             /* create: the creator holds too many channels */
	bool full;              /* subscribe: the channel would hold too many markets */
	bool expiring;          /* a close of an expired channel, started by the sweeper */
	int64_t pending_exp;    /* create: the short expiry written first (ms) */
};

/* api_auth.c */
/* 0 with who filled, or -1 when it answered 401 (req is then done). */
int sl_api__authenticate(sl_api_t *a, sl_http_req_t *req, sl_api_who_t *who);
bool sl_api__market_allowed(const sl_api_who_t *who, const char *m);
void sl_api__who_free(sl_api_who_t *who);
/* api_input.c: the inputs as data. 0, or the HTTP status with e filled. */
typedef struct sl_api_markets {
	char **ids;
	size_t n;
} sl_api_markets_t;
typedef struct sl_api_input_err {
	int status;
	const char *code;
	char msg[320];
} sl_api_input_err_t;
int sl_api__markets_from_json(const char *body, size_t len, bool required, long max, sl_api_markets_t *out,
			      sl_api_input_err_t *e);
int sl_api__markets_from_ids(const char *ids, long max, sl_api_markets_t *out, sl_api_input_err_t *e);
void sl_api__markets_free(sl_api_markets_t *m);

/* api_flow.c */
void sl_api__start(sl_api_op_t *op);
/* Close the channels whose time ran out (called from the tick). */
void sl_api__sweep_expired(sl_api_t *a);

/* api_step.c */
typedef void (*sl_api_reply_fn)(sl_api_op_t *op, redisReply *reply, size_t idx);
void sl_api__op_free(sl_api_op_t *op);
/* sl_http_req_on_abort's callback: the client went, the op goes on. */
void sl_api__abort_cb(sl_http_req_t *req, void *arg);
/* Answer (when the client is still there) and end the operation. */
void sl_api__finish(sl_api_op_t *op, int status, const char *json);
void sl_api__fail(sl_api_op_t *op, int status, const char *code, const char *msg);
/* Queue a command whose reply goes to fn (with idx); a failure to send or
 * an error reply sets op->failed. Only inside an `issue` of sl_api__run. */
void sl_api__cmdv_i(sl_api_op_t *op, sl_api_reply_fn fn, size_t idx, int argc, const char **argv);
void sl_api__cmdv(sl_api_op_t *op, sl_api_reply_fn fn, int argc, const char **argv);
/* Run the commands queued by `issue`, then `next` once every reply is in. */
void sl_api__run(sl_api_op_t *op, void (*issue)(sl_api_op_t *op), sl_api_step_fn next);
void sl_api__multi(sl_api_op_t *op);
void sl_api__exec(sl_api_op_t *op, sl_api_reply_fn fn);
void sl_api__key_channel(sl_api_op_t *op, sl_buf_t *b);
int32_t sl_api__partition_of(sl_api_op_t *op, const char *m);
/* EXISTS on the channel's record into op->exists. */
void sl_api__issue_exists(sl_api_op_t *op);
/* Produce the command `what` of the op's channel; next runs on its
 * delivery report (or at once when librdkafka refused it). */
void sl_api__produce(sl_api_op_t *op, const char *what, sl_api_step_fn next);
/* Delivery report of a command (librdkafka's dr_msg_cb, on the loop thread). */
void sl_api__delivered(sl_api_op_t *op, rd_kafka_resp_err_t err);
void sl_api__kafka_failed(sl_api_op_t *op);
void sl_api__redis_failed(sl_api_op_t *op);
/* After a Redis step that also checked the channel: answer 503 if Redis
 * failed or 404 if the channel does not exist; true when the op goes on. */
bool sl_api__channel_step_ok(sl_api_op_t *op);
/* Undo what this request changed in Redis, then answer 503 (Kafka refused). */
void sl_api__rollback(sl_api_op_t *op);

#endif
