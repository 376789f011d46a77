/* restproxy_auth.c: who may use the REST proxy, and for what: HTTP Basic
 * authentication compatible with Confluent's REST proxy, and per-principal
 * ACLs on topics and consumer groups (auth/basic.h, auth/acl.h).
 *
 * How it fits: restproxy.c calls sl_rp__authorize on every request but the
 * ops endpoints, after splitting the path and before routing. It answers
 * 401 (WWW-Authenticate: Basic realm="<realm>") without valid credentials
 * when a credentials file is configured, and 403 when the route's topic or
 * group is not allowed; the routes below it never see a refused request.
 * What each route needs (docs/security.md):
 *   POST /topics/{t}[/partitions/{p}]            write on topic t
 *   GET  /topics/{t}[/...]                       read on topic t
 *   /consumers/{g}/...                            read on group g, and
 *     POST .../subscription, .../assignments,
 *     .../positions*, .../offsets (a body)        read on each topic named
 *     GET .../topics/{t} (API v1)                 read on topic t
 *   a topic_pattern subscription                  with ACL rules, an admin
 *                                                 (rules cannot be checked
 *                                                 against a pattern);
 *                                                 without, a pattern that
 *                                                 matches no internal topic
 * sluice's own topics and the reducers' groups (internal-topics,
 * internal-groups) are closed to all but admins and literal rules; with no
 * credentials file (loopback) everything else is open, as before.
 * Non-goals: mTLS principals, SASL pass-through, reloading the files.
 */
#include "roles/restproxy/restproxy_int.h"

#include "auth/acl.h"
#include "auth/basic.h"
#include "core/log.h"

#include <openssl/crypto.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

typedef struct who {
	char user[SL_BASIC_USER_MAX + 1];
	bool admin;
} who_t;

static void unauthorized(sl_rp_t *rp, sl_http_req_t *req)
{
	char h[200];
	snprintf(h, sizeof(h), "WWW-Authenticate: Basic realm=\"%s\"", rp->realm);
	sl_http_req_add_header(req, h);
	sl_rp__respond_error(req, 401, 401, "Unauthorized");
}

static bool allowed(const sl_rp_t *rp, const who_t *w, sl_acl_res_t res, const char *name, unsigned op)
{
	if (w->admin)
		return true;
	if (!rp->acl_rules)
		return !sl_acl_is_internal(rp->acl, res, name);
	return sl_acl_allows(rp->acl, w->user, false, res, name, op);
}

static int forbid(sl_http_req_t *req, const who_t *w, sl_acl_res_t res, const char *name)
{
	sl_log_debug("auth_refused", SL_KV(reason, res == SL_ACL_TOPIC ? "topic_forbidden" : "group_forbidden"),
		     SL_KV(principal, w->user[0] ? w->user : "anonymous"));
	if (res == SL_ACL_TOPIC)
		sl_rp__respond_error(req, 403, 40301, "Not authorized to access topics: [%s]", name);
	else
		sl_rp__respond_error(req, 403, 40302, "Not authorized to access group: %s", name);
	return -1;
}

/* Every topic of a partition list in the body must be readable. */
static int check_list(const sl_rp_t *rp, sl_http_req_t *req, const who_t *w, const char *key, bool with_offset)
{
	sl_iov_t b = sl_http_req_body(req);
	rd_kafka_topic_partition_list_t *l = NULL;
	char msg[256];
	if (sl_rp__parse_partitions(b.base, b.len, key, with_offset, &l, msg, sizeof(msg)) != 0 || !l)
		return 0; /* malformed: the route answers it */
	int rc = 0;
	for (int i = 0; i < l->cnt && rc == 0; i++)
		if (!allowed(rp, w, SL_ACL_TOPIC, l->elems[i].topic, SL_ACL_READ))
			rc = forbid(req, w, SL_ACL_TOPIC, l->elems[i].topic);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* Without ACL rules a pattern may subscribe unless it matches an internal
 * topic (POSIX extended syntax, as librdkafka's own regex). */
static bool pattern_ok(const sl_rp_t *rp, const who_t *w, const char *re)
{
	if (w->admin)
		return true;
	if (rp->acl_rules)
		return false;
	regex_t rx;
	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
		return true; /* the route refuses the malformed pattern itself */
	bool ok = true;
	for (size_t i = 0; ok && i < rp->ninternal; i++)
		ok = regexec(&rx, rp->internal[i], 0, NULL, 0) != 0;
	regfree(&rx);
	return ok;
}

static int check_subscription(const sl_rp_t *rp, sl_http_req_t *req, const who_t *w)
{
	sl_iov_t b = sl_http_req_body(req);
	rd_kafka_topic_partition_list_t *l = NULL;
	char msg[256];
	if (sl_rp__parse_subscription(b.base, b.len, &l, msg, sizeof(msg)) != 0 || !l)
		return 0;
	int rc = 0;
	for (int i = 0; i < l->cnt && rc == 0; i++) {
		const char *t = l->elems[i].topic;
		if (t[0] == '^' && !pattern_ok(rp, w, t)) {
			sl_rp__respond_error(req, 403, 40301, "Not authorized to subscribe to this topic_pattern (%s)",
					     rp->acl_rules ? "with ACL rules only admins may" : "it matches an internal topic");
			rc = -1;
		} else if (!allowed(rp, w, SL_ACL_TOPIC, t, SL_ACL_READ)) {
			rc = forbid(req, w, SL_ACL_TOPIC, t);
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

int sl_rp__authorize(sl_rp_t *rp, sl_http_req_t *req, char **segs, int n)
{
	who_t w = {0};
	if (rp->basic) {
		char pass[SL_BASIC_PASS_MAX + 1];
		int got = sl_basic_parse_header(sl_http_req_header(req, "Authorization"), w.user, sizeof(w.user), pass,
						sizeof(pass));
		bool good = got == 1 && sl_basic_check(rp->basic, w.user, pass);
		OPENSSL_cleanse(pass, sizeof(pass));
		if (good && rp->nroles) {
			good = false;
			for (size_t i = 0; i < rp->nroles && !good; i++)
				good = !strcmp(rp->roles[i], "*") || sl_basic_has_role(rp->basic, w.user, rp->roles[i]);
		}
		if (!good) {
			sl_log_debug("auth_refused", SL_KV(reason, got == 1 ? "bad_credentials" : "no_credentials"));
			unauthorized(rp, req);
			return -1;
		}
		w.admin = sl_basic_has_role(rp->basic, w.user, rp->admin_role);
	}
	const char *m = sl_http_req_method(req);
	if (n >= 2 && !strcmp(segs[0], "topics")) {
		unsigned op = !strcmp(m, "POST") ? SL_ACL_WRITE : SL_ACL_READ;
		if (!allowed(rp, &w, SL_ACL_TOPIC, segs[1], op))
			return forbid(req, &w, SL_ACL_TOPIC, segs[1]);
		return 0;
	}
	if (n >= 2 && !strcmp(segs[0], "consumers")) {
		if (!allowed(rp, &w, SL_ACL_GROUP, segs[1], SL_ACL_READ))
			return forbid(req, &w, SL_ACL_GROUP, segs[1]);
		const char *what = n >= 5 ? segs[4] : "";
		if (n == 6 && !strcmp(what, "topics") && !allowed(rp, &w, SL_ACL_TOPIC, segs[5], SL_ACL_READ))
			return forbid(req, &w, SL_ACL_TOPIC, segs[5]);
		if (strcmp(m, "POST") != 0)
			return 0;
		if (n == 5 && !strcmp(what, "subscription"))
			return check_subscription(rp, req, &w);
		if (n == 5 && !strcmp(what, "assignments"))
			return check_list(rp, req, &w, "partitions", false);
		if (n == 5 && !strcmp(what, "offsets"))
			return check_list(rp, req, &w, "offsets", true);
		if (n >= 5 && !strcmp(what, "positions"))
			return check_list(rp, req, &w, n == 5 ? "offsets" : "partitions", n == 5);
	}
	return 0;
}
