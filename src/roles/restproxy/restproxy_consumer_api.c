/* restproxy_consumer_api.c: the HTTP side of consumer instances: routes
 * under /consumers and the management calls (subscription, assignments,
 * positions, offsets), plus the API v1 read GET .../topics/{topic}.
 *
 * How it fits: restproxy.c routes /consumers/... here; the instance itself
 * (creation, reads, close) is restproxy_consumer.c. Calls that only talk to
 * the local librdkafka handle (subscribe, assign, seek with timeout 0,
 * assignment, subscription) run on the loop; the ones that wait for the
 * group coordinator (synchronous commit, committed offsets) run in the
 * thread pool holding a reference on the instance, so a DELETE meanwhile
 * waits for them before the handle is destroyed.
 * Semantics follow Confluent's v2 resources: commit with a body commits
 * offset+1 of each given record; without a body, what clients received;
 * seeks need the partition assigned (409/40903 otherwise); subscription and
 * manual assignment exclude each other (409/40903).
 * References: Confluent REST Proxy API v2 reference (consumers), v1 for
 * the kafka-rest Node.js client.
 * Non-goals: async commits (?async), offset metadata strings.
 */
#include "roles/restproxy/restproxy_int.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const binary_types[] = {
	"application/vnd.kafka.binary.v2+json", "application/vnd.kafka.binary.v1+json",
	"application/vnd.kafka.v2+json",        "application/vnd.kafka.v1+json",
	"application/vnd.kafka+json",           "application/json",
};
static const char *const json_types[] = {
	"application/vnd.kafka.json.v2+json", "application/vnd.kafka.json.v1+json",
	"application/vnd.kafka.v2+json",      "application/vnd.kafka.v1+json",
	"application/vnd.kafka+json",         "application/json",
};

static bool body_empty(sl_iov_t b)
{
	for (size_t i = 0; i < b.len; i++)
		if (b.base[i] != ' ' && b.base[i] != '\t' && b.base[i] != '\r' && b.base[i] != '\n')
			return false;
	return true;
}

static void no_content(sl_http_req_t *req)
{
	sl_http_respond(req, 204, NULL, NULL, 0);
}

static void parse_failed(sl_http_req_t *req, int code, const char *msg)
{
	sl_rp__respond_error(req, code == 400 ? 400 : 422, code, "%s", msg);
}

static void illegal_state(sl_http_req_t *req, const char *what)
{
	sl_rp__respond_error(req, 409, SL_RP_E_ILLEGAL_STATE, "Illegal state: %s", what);
}

/* Query parameter as a non-negative integer; def when absent; -1 after answering 422. */
static long long query_int(sl_http_req_t *req, const char *name, long long def, long long max)
{
	char v[32];
	int found = sl_http_req_query_param(req, name, v, sizeof(v));
	if (found == 0)
		return def;
	char *end;
	long long x = strtoll(v, &end, 10);
	if (!v[0] || *end || x < 0) {
		sl_rp__respond_error(req, 422, SL_RP_E_QUERY, "query parameter %s must be a non-negative integer", name);
		return -1;
	}
	return x > max ? max : x;
}

/* ---- records ---- */

static void records(sl_rp_t *rp, sl_rp_inst_t *inst, sl_http_req_t *req, const char *v1_topic)
{
	const char *const *types = inst->fmt == SL_RP_FMT_JSON ? json_types : binary_types;
	int ti = sl_rp__negotiate(sl_http_req_header(req, "accept"), types, 6);
	if (ti < 0) {
		const char *acc = sl_http_req_header(req, "accept");
		bool other = acc && (strstr(acc, "vnd.kafka.avro") || strstr(acc, "vnd.kafka.protobuf") ||
				     strstr(acc, "vnd.kafka.jsonschema") ||
				     strstr(acc, inst->fmt == SL_RP_FMT_JSON ? "vnd.kafka.binary" : "vnd.kafka.json"));
		sl_rp__respond_error(req, 406, other ? SL_RP_E_FORMAT_MISMATCH : SL_RP_E_NOT_ACCEPTABLE, "%s",
				     other ? "The requested embedded data format does not match the deserializer for "
					     "this consumer instance"
					   : "none of the Accept types can be served for this consumer instance");
		return;
	}
	long long timeout = query_int(req, "timeout", inst->req_timeout_ms, rp->max_req_timeout_ms);
	if (timeout < 0)
		return;
	long long max_bytes = query_int(req, "max_bytes", rp->default_max_bytes, rp->max_max_bytes);
	if (max_bytes < 0)
		return;
	if (max_bytes == 0)
		max_bytes = 1;
	if (v1_topic) {
		if (!inst->v1_topic) {
			if (inst->sub != SL_RP_SUB_NONE) {
				sl_rp__respond_error(req, 409, SL_RP_E_ALREADY_SUBSCRIBED,
						     "Consumer cannot subscribe the the specified target because it has "
						     "already subscribed to other topics.");
				return;
			}
			rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
			rd_kafka_topic_partition_list_add(l, v1_topic, RD_KAFKA_PARTITION_UA);
			rd_kafka_resp_err_t e = rd_kafka_subscribe(inst->rk, l);
			rd_kafka_topic_partition_list_destroy(l);
			if (e) {
				sl_rp__respond_kafka_error(req, e, "subscribe");
				return;
			}
			inst->sub = SL_RP_SUB_TOPICS;
			inst->v1_topic = sl_xstrdup(v1_topic);
		} else if (strcmp(inst->v1_topic, v1_topic) != 0) {
			sl_rp__respond_error(req, 409, SL_RP_E_ALREADY_SUBSCRIBED,
					     "Consumer cannot subscribe the the specified target because it has already "
					     "subscribed to other topics.");
			return;
		}
	} else if (inst->sub == SL_RP_SUB_NONE) {
		illegal_state(req, "consumer is not subscribed to any topics or assigned any partitions");
		return;
	}
	bool v1 = v1_topic || sl_rp__type_is_v1(types[ti]);
	sl_rp__inst_read(inst, req, types[ti], v1, timeout, (long)max_bytes);
}

/* ---- subscription and assignment ---- */

static void subscription(sl_rp_inst_t *inst, sl_http_req_t *req, const char *m)
{
	char msg[256];
	if (!strcmp(m, "POST")) {
		sl_rp_ctype_t ct;
		sl_iov_t b = sl_http_req_body(req);
		if (!sl_rp__check_ctype(req, &ct))
			return;
		rd_kafka_topic_partition_list_t *l;
		int code = sl_rp__parse_subscription(b.base, b.len, &l, msg, sizeof(msg));
		if (code) {
			parse_failed(req, code, msg);
			return;
		}
		if (inst->sub == SL_RP_SUB_ASSIGNED) {
			rd_kafka_topic_partition_list_destroy(l);
			illegal_state(req, "subscription to topics, partitions and pattern are mutually exclusive");
			return;
		}
		bool pattern = l->elems[0].topic[0] == '^';
		rd_kafka_resp_err_t e = rd_kafka_subscribe(inst->rk, l);
		rd_kafka_topic_partition_list_destroy(l);
		if (e) {
			sl_rp__respond_kafka_error(req, e, "subscribe");
			return;
		}
		sl_rp__inst_drop_held(inst, NULL);
		free(inst->v1_topic);
		inst->v1_topic = NULL;
		inst->sub = pattern ? SL_RP_SUB_PATTERN : SL_RP_SUB_TOPICS;
		no_content(req);
	} else if (!strcmp(m, "GET")) {
		const char *type = sl_rp__meta_type(req);
		if (!type)
			return;
		rd_kafka_topic_partition_list_t *l = NULL;
		sl_buf_t b = SL_BUF_INIT;
		sl_buf_puts(&b, "{\"topics\":[");
		if (rd_kafka_subscription(inst->rk, &l) == RD_KAFKA_RESP_ERR_NO_ERROR && l) {
			for (int i = 0; i < l->cnt; i++) {
				const char *t = l->elems[i].topic;
				size_t n = strlen(t);
				if (i)
					sl_buf_putc(&b, ',');
				if (n > 4 && !strncmp(t, "^(", 2) && !strcmp(t + n - 2, ")$"))
					sl_buf_json_str(&b, t + 2, n - 4); /* a topic_pattern, as given */
				else
					sl_buf_json_str(&b, t, n);
			}
		}
		if (l)
			rd_kafka_topic_partition_list_destroy(l);
		sl_buf_puts(&b, "]}");
		sl_rp__respond_json(req, 200, type, &b);
		sl_buf_free(&b);
	} else if (!strcmp(m, "DELETE")) {
		if (inst->sub == SL_RP_SUB_TOPICS || inst->sub == SL_RP_SUB_PATTERN) {
			rd_kafka_unsubscribe(inst->rk);
			inst->sub = SL_RP_SUB_NONE;
		}
		sl_rp__inst_drop_held(inst, NULL);
		free(inst->v1_topic);
		inst->v1_topic = NULL;
		no_content(req);
	} else {
		sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
	}
}

static void partitions_json(sl_buf_t *b, const rd_kafka_topic_partition_list_t *l)
{
	sl_buf_puts(b, "{\"partitions\":[");
	for (int i = 0; l && i < l->cnt; i++) {
		sl_buf_puts(b, i ? ",{\"topic\":" : "{\"topic\":");
		sl_buf_json_str(b, l->elems[i].topic, strlen(l->elems[i].topic));
		sl_buf_printf(b, ",\"partition\":%d}", l->elems[i].partition);
	}
	sl_buf_puts(b, "]}");
}

static void assignments(sl_rp_inst_t *inst, sl_http_req_t *req, const char *m)
{
	char msg[256];
	if (!strcmp(m, "POST")) {
		sl_rp_ctype_t ct;
		sl_iov_t b = sl_http_req_body(req);
		if (!sl_rp__check_ctype(req, &ct))
			return;
		rd_kafka_topic_partition_list_t *l;
		int code = sl_rp__parse_partitions(b.base, b.len, "partitions", false, &l, msg, sizeof(msg));
		if (code) {
			parse_failed(req, code, msg);
			return;
		}
		if (inst->sub == SL_RP_SUB_TOPICS || inst->sub == SL_RP_SUB_PATTERN) {
			rd_kafka_topic_partition_list_destroy(l);
			illegal_state(req, "subscription to topics, partitions and pattern are mutually exclusive");
			return;
		}
		rd_kafka_resp_err_t e = rd_kafka_assign(inst->rk, l);
		bool empty = l->cnt == 0;
		rd_kafka_topic_partition_list_destroy(l);
		if (e) {
			sl_rp__respond_kafka_error(req, e, "assign");
			return;
		}
		sl_rp__inst_drop_held(inst, NULL);
		inst->sub = empty ? SL_RP_SUB_NONE : SL_RP_SUB_ASSIGNED;
		no_content(req);
	} else if (!strcmp(m, "GET")) {
		const char *type = sl_rp__meta_type(req);
		if (!type)
			return;
		rd_kafka_topic_partition_list_t *l = NULL;
		rd_kafka_assignment(inst->rk, &l);
		sl_buf_t b = SL_BUF_INIT;
		partitions_json(&b, l);
		if (l)
			rd_kafka_topic_partition_list_destroy(l);
		sl_rp__respond_json(req, 200, type, &b);
		sl_buf_free(&b);
	} else {
		sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
	}
}

/* POST positions, positions/beginning, positions/end. where: NULL, "beginning", "end". */
static void positions(sl_rp_inst_t *inst, sl_http_req_t *req, const char *where)
{
	char msg[256];
	sl_rp_ctype_t ct;
	sl_iov_t b = sl_http_req_body(req);
	if (!sl_rp__check_ctype(req, &ct))
		return;
	rd_kafka_topic_partition_list_t *l;
	int code = sl_rp__parse_partitions(b.base, b.len, where ? "partitions" : "offsets", !where, &l, msg,
					   sizeof(msg));
	if (code) {
		parse_failed(req, code, msg);
		return;
	}
	rd_kafka_topic_partition_list_t *asg = NULL;
	rd_kafka_assignment(inst->rk, &asg);
	for (int i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &l->elems[i];
		if (!asg || !rd_kafka_topic_partition_list_find(asg, tp->topic, tp->partition)) {
			snprintf(msg, sizeof(msg), "partition %s-%d is not assigned to this consumer", tp->topic,
				 tp->partition);
			illegal_state(req, msg);
			goto out;
		}
		if (where)
			tp->offset = !strcmp(where, "beginning") ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
	}
	sl_rp__inst_drop_held(inst, l);
	/* timeout 0: the seek is started here and finishes in librdkafka's threads. */
	rd_kafka_error_t *err = rd_kafka_seek_partitions(inst->rk, l, 0);
	if (err) {
		sl_rp__respond_kafka_error(req, rd_kafka_error_code(err), "seek");
		rd_kafka_error_destroy(err);
	} else {
		no_content(req);
	}
out:
	if (asg)
		rd_kafka_topic_partition_list_destroy(asg);
	rd_kafka_topic_partition_list_destroy(l);
}

/* ---- offsets (thread pool) ---- */

typedef struct ojob {
	uv_work_t w;
	sl_rp_inst_t *inst;
	sl_http_req_t *req; /* NULL once the client went away */
	const char *type;
	bool commit;
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;
	int64_t timeout_ms;
} ojob_t;

static void ojob_work_cb(uv_work_t *w)
{
	ojob_t *j = sl_container_of(w, ojob_t, w);
	if (j->commit)
		j->err = rd_kafka_commit(j->inst->rk, j->list, 0);
	else
		j->err = rd_kafka_committed(j->inst->rk, j->list, (int)j->timeout_ms);
}

static void commit_reply(sl_http_req_t *req, const char *type, const rd_kafka_topic_partition_list_t *l)
{
	if (!sl_rp__type_is_v1(type)) {
		sl_http_respond(req, 200, type, "", 0);
		return;
	}
	/* API v1 answers with what was committed; offsets are of the last record. */
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_putc(&b, '[');
	for (int i = 0; l && i < l->cnt; i++) {
		sl_buf_puts(&b, i ? ",{\"topic\":" : "{\"topic\":");
		sl_buf_json_str(&b, l->elems[i].topic, strlen(l->elems[i].topic));
		sl_buf_printf(&b, ",\"partition\":%d,\"consumed\":%lld,\"committed\":%lld}", l->elems[i].partition,
			      (long long)l->elems[i].offset - 1, (long long)l->elems[i].offset - 1);
	}
	sl_buf_putc(&b, ']');
	sl_http_respond(req, 200, type, b.data, b.len);
	sl_buf_free(&b);
}

static void ojob_after_cb(uv_work_t *w, int status)
{
	(void)status;
	ojob_t *j = sl_container_of(w, ojob_t, w);
	sl_rp__work_done(j->inst->rp);
	if (j->req) {
		sl_http_req_on_abort(j->req, NULL, NULL);
		if (j->err && j->err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
			sl_rp__respond_kafka_error(j->req, j->err, j->commit ? "commit" : "committed");
		} else if (j->commit) {
			commit_reply(j->req, j->type, j->list);
		} else {
			sl_buf_t b = SL_BUF_INIT;
			sl_buf_puts(&b, "{\"offsets\":[");
			for (int i = 0; i < j->list->cnt; i++) {
				rd_kafka_topic_partition_t *tp = &j->list->elems[i];
				sl_buf_puts(&b, i ? ",{\"topic\":" : "{\"topic\":");
				sl_buf_json_str(&b, tp->topic, strlen(tp->topic));
				sl_buf_printf(&b, ",\"partition\":%d,\"offset\":%lld,\"metadata\":\"\"}", tp->partition,
					      (long long)(tp->offset >= 0 ? tp->offset : -1));
			}
			sl_buf_puts(&b, "]}");
			sl_rp__respond_json(j->req, 200, j->type, &b);
			sl_buf_free(&b);
		}
	}
	rd_kafka_topic_partition_list_destroy(j->list);
	sl_rp__inst_unref(j->inst);
	free(j);
}

static void ojob_abort_cb(sl_http_req_t *req, void *arg)
{
	(void)req;
	((ojob_t *)arg)->req = NULL;
}

static void offsets(sl_rp_t *rp, sl_rp_inst_t *inst, sl_http_req_t *req, const char *m)
{
	char msg[256];
	bool commit = !strcmp(m, "POST");
	if (!commit && strcmp(m, "GET") != 0) {
		sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
		return;
	}
	sl_iov_t b = sl_http_req_body(req);
	const char *type = sl_rp__meta_type(req);
	if (!type)
		return;
	rd_kafka_topic_partition_list_t *l = NULL;
	sl_rp_ctype_t ct;
	if (commit && body_empty(b)) {
		l = sl_rp__inst_delivered(inst);
		if (l->cnt == 0) {
			commit_reply(req, type, l);
			rd_kafka_topic_partition_list_destroy(l);
			return;
		}
	} else {
		if (!sl_rp__check_ctype(req, &ct))
			return;
		int code = sl_rp__parse_partitions(b.base, b.len, commit ? "offsets" : "partitions", commit, &l, msg,
						   sizeof(msg));
		if (code) {
			parse_failed(req, code, msg);
			return;
		}
		for (int i = 0; commit && i < l->cnt; i++)
			l->elems[i].offset++; /* the given offset is of the last record processed */
	}
	ojob_t *j = sl_xcalloc(1, sizeof(*j));
	j->inst = inst;
	j->req = req;
	j->type = type;
	j->commit = commit;
	j->list = l;
	j->timeout_ms = rp->kafka_timeout_ms;
	sl_rp__inst_ref(inst);
	if (!sl_rp__queue_work(rp, &j->w, ojob_work_cb, ojob_after_cb)) {
		rd_kafka_topic_partition_list_destroy(l);
		free(j);
		sl_rp__inst_unref(inst);
		sl_rp__respond_error(req, 503, SL_RP_E_TOO_MANY, "too many Kafka calls waiting; retry");
		return;
	}
	sl_http_req_on_abort(req, ojob_abort_cb, j);
}

/* ---- routing ---- */

void sl_rp__consumers_handle(sl_rp_t *rp, sl_http_req_t *req, char **segs, int n)
{
	const char *m = sl_http_req_method(req);
	if (n == 2) {
		if (!strcmp(m, "POST"))
			sl_rp__inst_create(rp, req, segs[1]);
		else
			sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
		return;
	}
	if (n < 4 || n > 6 || strcmp(segs[2], "instances") != 0) {
		sl_rp__respond_error(req, 404, 404, "HTTP 404 Not Found");
		return;
	}
	sl_rp_inst_t *inst = sl_rp__inst_find(rp, segs[1], segs[3]);
	if (!inst) {
		sl_rp__respond_error(req, 404, SL_RP_E_INSTANCE_NOT_FOUND, "Consumer instance not found.");
		return;
	}
	inst->last_used_ms = sl_clock_mono_ms();
	const char *what = n >= 5 ? segs[4] : "";
	if (n == 4) {
		if (!strcmp(m, "DELETE"))
			sl_rp__inst_close(inst, req, "deleted");
		else
			sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
	} else if (n == 5 && !strcmp(what, "records")) {
		if (!strcmp(m, "GET"))
			records(rp, inst, req, NULL);
		else
			sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
	} else if (n == 6 && !strcmp(what, "topics")) {
		if (!strcmp(m, "GET"))
			records(rp, inst, req, segs[5]);
		else
			sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
	} else if (n == 5 && !strcmp(what, "subscription")) {
		subscription(inst, req, m);
	} else if (n == 5 && !strcmp(what, "assignments")) {
		assignments(inst, req, m);
	} else if (n == 5 && !strcmp(what, "offsets")) {
		offsets(rp, inst, req, m);
	} else if (!strcmp(what, "positions") &&
		   (n == 5 || !strcmp(segs[5], "beginning") || !strcmp(segs[5], "end"))) {
		if (!strcmp(m, "POST"))
			positions(inst, req, n == 6 ? segs[5] : NULL);
		else
			sl_rp__respond_error(req, 405, 405, "HTTP 405 Method Not Allowed");
	} else {
		sl_rp__respond_error(req, 404, 404, "HTTP 404 Not Found");
	}
}
