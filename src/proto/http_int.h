/* http_int.h: the structures shared by the files of the HTTP server.
 *
 *   http.c         the server: listening, accepting under the limits,
 *                  connections (reading, the deadlines, processing one
 *                  request at a time, answering, taking over), closing
 *   http_msg.c     below it: the request being parsed (http-parser's
 *                  callbacks, the size limits), its accessors, status texts
 *   http_iplimit.c below it: connections per client address, shared by the
 *                  loops of one process
 *   http_util.c    above it, through http.h only: query parameters, the ops
 *                  endpoints, servers built from settings
 * Internal to src/proto/http*.c.
 */
#ifndef SL_PROTO_HTTP_INT_H
#define SL_PROTO_HTTP_INT_H

#include "core/metrics.h"
#include "proto/http.h"
#include "proto/tls.h"

#include <http_parser.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define SL_HTTP__MAX_HEADERS 64

typedef struct sl_http__conn sl_http__conn_t;

struct sl_http_req {
	sl_http__conn_t *conn;
	char *method;
	sl_buf_t url;         /* raw request target */
	size_t path_len;      /* url up to '?' */
	sl_buf_t hdrs;        /* "name\0value\0" pairs, names lower-cased */
	size_t hdr_off[SL_HTTP__MAX_HEADERS][2];
	size_t nhdrs;
	bool last_was_value;
	sl_buf_t body;
	bool keep_alive;
	bool answered;
	sl_buf_t extra;       /* response header lines */
	void (*abort_cb)(sl_http_req_t *req, void *arg);
	void *abort_arg;
};

/* Where a connection is in its request cycle; each phase has its deadline. */
typedef enum {
	SL_HTTP__IDLE = 0, /* between requests, nothing buffered: idle timeout */
	SL_HTTP__HEAD,     /* a request head is arriving: head deadline */
	SL_HTTP__BODY,     /* its body is arriving: body deadline */
	SL_HTTP__HANDLER,  /* parsed, the handler owns the pace (no deadline) */
} sl_http__phase_t;

struct sl_http__conn {
	uv_tcp_t tcp;          /* first: the stream is the connection */
	uv_timer_t timer;      /* the deadline of the current phase */
	sl_http_server_t *srv;
	sl_tls_t *tls;         /* when the server serves TLS; freed once both handles closed */
	http_parser parser;
	sl_buf_t in;           /* bytes read but not yet parsed */
	size_t head_bytes;
	sl_http_req_t req;
	uint8_t phase;         /* sl_http__phase_t */
	bool in_request;       /* a request is parsed and awaits its answer */
	bool processing;       /* inside conn_process: an answer must not re-enter it */
	bool out_blocked;      /* too much output queued: not reading nor parsing */
	bool closing;
	bool close_after_write;
	bool hijacked;
	bool ip_counted;       /* holds a slot of the per-address limit */
	int pending_handles;   /* tcp + timer, for the close callbacks */
	int writes_in_flight;
	size_t out_bytes;      /* response bytes queued, not yet written */
	uint64_t id;
	struct sockaddr_storage peer;
	sl_http_hijack_cbs_t hcbs;
	void *hud;
	sl_http__conn_t *next, *prev; /* server's list */
	int error_status;      /* limit violated while parsing */
	const char *error_code;
};

/* Log lines about limits come at most once a second, with the count of the
 * ones folded into them. */
typedef struct sl_http__ratelog {
	uint64_t last_ms;
	uint64_t suppressed;
} sl_http__ratelog_t;

struct sl_http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	bool listening;
	sl_http_limits_t lim;
	sl_http_handler_cb handler;
	void *arg;
	sl_http_error_fmt_cb error_fmt;
	char **cors;
	size_t ncors;
	sl_http__conn_t *conns;
	size_t nconns;
	atomic_size_t *shared_conns; /* the process's count when loops share a limit */
	sl_http_iplimit_t *iplimit;  /* connections per address (may be shared) */
	bool own_iplimit;
	uint64_t next_id;
	bool closing;
	bool free_when_closed; /* listen failed: free once the listener is closed */
	void (*done_cb)(void *);
	void *done_arg;
	int port;
	sl_http_reuseport_t reuseport; /* several loops share the port */
	sl_http__ratelog_t rl_reject, rl_accept;
	sl_tls_ctx_t *tls;     /* a reference (tls.h), or NULL: plain HTTP */
	sl_buf_t plain;        /* bytes a TLS read decrypted, consumed at once */
	char readbuf[65536];
	sl_metric_t *m_requests, *m_conns, *m_rejected, *m_timeouts;
};

/* http_msg.c */
extern const http_parser_settings sl_http__parser_settings;
void sl_http__req_reset(sl_http_req_t *r);
void sl_http__req_free(sl_http_req_t *r);

/* http_iplimit.c: false when the address is at its limit (nothing taken). */
bool sl_http__iplimit_take(sl_http_iplimit_t *l, const struct sockaddr_storage *ss);
void sl_http__iplimit_give(sl_http_iplimit_t *l, const struct sockaddr_storage *ss);

/* http.c: a new connection on a listener (uv_listen's callback; http_listen.c). */
void sl_http__accept_cb(uv_stream_t *ls, int status);

#endif
