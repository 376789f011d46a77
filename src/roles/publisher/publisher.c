/* publisher.c: `sluice publisher`: WebSocket/SSE stream publisher and dashboard.
 *
 * How it fits (SPEC 1, 2, 3): clients open ws://host/v1/stream/{id} or
 * http://host/v1/events/{id}; each lands on one of N event loops
 * (publisher_loop.c, one thread each, default one per core) that share the
 * port. This file is the process around them: settings, the dashboard files
 * (loaded once, read-only after), the loops' start, and the main thread's
 * own small loop that turns SIGTERM/SIGINT into a stop of every loop (close
 * 1001 to every WebSocket client, SSE streams end, Redis closed) and exits
 * 0 once every loop thread has ended cleanly.
 * References: docs/publisher.md, docs/protocol.md.
 * Who may open a stream: publisher_auth.c (stream tokens, Origin).
 * Non-goals: anything per client (the loops own their clients).
 */
#include "roles/publisher/publisher_int.h"
#include "roles/roles.h"

#include "auth/auth.h"
#include "core/alloc.h"
#include "core/log.h"
#include "loop/runtime.h"
#include "redis/url.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sl_cfg_key_t publisher_keys[] = {
	{"port", NULL, "SLUICE_PUBLISHER_PORT", SL_CFG_INT, "8090", 0, 65535, "HTTP port (streams, dashboard, ops)"},
	{"loops", NULL, "SLUICE_PUBLISHER_LOOPS", SL_CFG_INT, "0", 0, SL_PUB_MAX_LOOPS,
	 "event loops (threads) sharing the port; 0: one per core"},
	{"web-root", NULL, "SLUICE_PUBLISHER_WEB_ROOT", SL_CFG_STR, NULL, 0, 0,
	 "directory of the dashboard's static files (default: <dir of the executable>/../web)"},
	{"api-url", NULL, "SLUICE_PUBLISHER_API_URL", SL_CFG_STR, "http://127.0.0.1:8080", 0, 0,
	 "control API URL given to the dashboard in /config.json"},
	{"metrics-urls", NULL, "SLUICE_PUBLISHER_METRICS_URLS", SL_CFG_LIST, NULL, 0, 0,
	 "name=url pairs of the roles' /metrics, for the dashboard's /config.json"},
	{"ping-interval-ms", NULL, "SLUICE_PUBLISHER_PING_INTERVAL_MS", SL_CFG_INT, "20000", 100, 3600000,
	 "send a WebSocket ping (SSE: a comment) this often"},
	{"client-idle-timeout-ms", NULL, "SLUICE_PUBLISHER_CLIENT_IDLE_TIMEOUT_MS", SL_CFG_INT, "60000", 200, 86400000,
	 "close a WebSocket client that sent nothing (not even a pong) this long: 1001"},
	{"queue-soft-limit", NULL, "SLUICE_PUBLISHER_QUEUE_SOFT_LIMIT", SL_CFG_INT, "4096", 1, 1000000,
	 "queued frames per client from which updates of one market are conflated"},
	{"queue-hard-limit", NULL, "SLUICE_PUBLISHER_QUEUE_HARD_LIMIT", SL_CFG_INT, "16384", 1, 1000000,
	 "queued frames per client past which it is closed: 1013"},
	{"slow-client-timeout-ms", NULL, "SLUICE_PUBLISHER_SLOW_CLIENT_TIMEOUT_MS", SL_CFG_INT, "10000", 100, 3600000,
	 "close a client whose queue stayed over the soft limit this long: 1013"},
	{"max-client-pings-per-s", NULL, "SLUICE_PUBLISHER_MAX_CLIENT_PINGS_PER_S", SL_CFG_INT, "5", 1, 100000,
	 "WebSocket pings a client may send per second on average (ten seconds' worth at once): 1008 past it"},
	{"max-client-message-bytes", NULL, "SLUICE_PUBLISHER_MAX_CLIENT_MESSAGE_BYTES", SL_CFG_INT, "4096", 125,
	 16777216, "largest message a WebSocket client may send: 1009 past it"},
	{"redis-timeout-ms", NULL, "SLUICE_PUBLISHER_REDIS_TIMEOUT_MS", SL_CFG_INT, "2000", 50, 600000,
	 "channel lookups not answered this long fail with 503 and the connection is retried"},
	{"require-stream-token", NULL, "SLUICE_PUBLISHER_REQUIRE_STREAM_TOKEN", SL_CFG_BOOL, "false", 0, 0,
	 "a stream needs a token of its channel (?token= or Authorization: Bearer), verified with the jwt-* keys"},
	{"flush-every", NULL, "SLUICE_PUBLISHER_FLUSH_EVERY", SL_CFG_INT, "256", 1, 1000000,
	 "within a burst of Redis messages, write to the sockets after this many queued frames"},
	{"flush-behind-ms", NULL, "SLUICE_PUBLISHER_FLUSH_BEHIND_MS", SL_CFG_INT, "20", 0, 60000,
	 "while the updates read are older than this (ms since their Kafka timestamp), write once per loop turn "
	 "instead of every flush-every frames: fewer, larger writes to catch up (0: never)"},
	{0},
};

static const sl_cfg_key_t *const publisher_tables[] = {sl_cfg_keys_log, sl_cfg_keys_redis, sl_cfg_keys_http,
							sl_auth_keys_jwt, publisher_keys, NULL};

typedef struct main_ctx {
	sl_pub_t *p;
	sl_runtime_t rt;
	uv_async_t done;
} main_ctx_t;

static void done_cb(uv_async_t *a)
{
	main_ctx_t *mc = sl_container_of(a, main_ctx_t, done);
	if (atomic_load(&mc->p->loops_done) < mc->p->nloops)
		return;
	uv_close((uv_handle_t *)&mc->done, NULL);
	sl_runtime_close(&mc->rt);
}

static void stop_cb(void *arg)
{
	main_ctx_t *mc = arg;
	sl_pub_t *p = mc->p;
	atomic_store(&p->stopping, true);
	sl_log_info("publisher_stopping", SL_KV(loops, p->nloops));
	for (unsigned i = 0; i < p->nloops; i++)
		sl_pub__loop_stop(p->loops[i]);
}

static char *default_web_root(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return sl_xstrdup("web");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_printf(&b, "%s/../web", exe);
	size_t len;
	return sl_buf_steal(&b, &len);
}

/* Each item of --metrics-urls is name=url[,name=url...]. */
static bool metrics_urls_valid(const char *const *murls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!murls[i][0]) {
			fprintf(stderr, "sluice publisher: metrics-urls item '' is not name=url\n");
			return false;
		}
		for (const char *s = murls[i]; *s;) {
			size_t len = strcspn(s, ",");
			const char *eq = memchr(s, '=', len);
			if (!eq || eq == s) {
				fprintf(stderr, "sluice publisher: metrics-urls item '%s' is not name=url\n", murls[i]);
				return false;
			}
			s += len;
			if (*s == ',')
				s++;
		}
	}
	return true;
}

static void settings(sl_pub_t *p, sl_cfg_t *cfg)
{
	p->cfg = cfg;
	p->prefix = sl_cfg_str(cfg, "redis-prefix");
	p->redis_url = sl_cfg_str(cfg, "redis-url");
	p->redis_sentinels = sl_cfg_str(cfg, "redis-sentinels");
	p->redis_master_name = sl_cfg_str(cfg, "redis-master-name");
	p->redis_timeout_ms = (uint64_t)sl_cfg_int(cfg, "redis-timeout-ms");
	p->ncors = sl_cfg_list(cfg, "cors-origin", &p->cors);
	p->ping_ms = (uint64_t)sl_cfg_int(cfg, "ping-interval-ms");
	p->idle_ms = (uint64_t)sl_cfg_int(cfg, "client-idle-timeout-ms");
	p->slow_ms = (uint64_t)sl_cfg_int(cfg, "slow-client-timeout-ms");
	p->close_grace_ms = 2000;
	p->max_client_msg = (size_t)sl_cfg_int(cfg, "max-client-message-bytes");
	p->ping_rate = (double)sl_cfg_int(cfg, "max-client-pings-per-s");
	p->ttl_ms = sl_cfg_int(cfg, "channel-ttl-ms");
	p->flush_every = (uint32_t)sl_cfg_int(cfg, "flush-every");
	p->flush_behind_ms = (double)sl_cfg_int(cfg, "flush-behind-ms");
	p->port = (int)sl_cfg_int(cfg, "port");
	unsigned n = (unsigned)sl_cfg_int(cfg, "loops");
	if (n == 0)
		n = uv_available_parallelism();
	p->nloops = n < 1 ? 1 : n > SL_PUB_MAX_LOOPS ? SL_PUB_MAX_LOOPS : n;
	size_t per_ip = (size_t)sl_cfg_int(cfg, "max-connections-per-ip");
	p->ips = per_ip ? sl_http_iplimit_new(per_ip) : NULL;
}

static int publisher_run(sl_cfg_t *cfg)
{
	const char *const *murls;
	size_t nmurls = sl_cfg_list(cfg, "metrics-urls", &murls);
	if (!metrics_urls_valid(murls, nmurls)) {
		return 2;
	}
	sl_pub_t *p = sl_xcalloc(1, sizeof(*p));
	settings(p, cfg);
	sl_err_t aerr = {0};
	if (sl_pub__auth_init(p, cfg, &aerr) < 0) {
		fprintf(stderr, "sluice publisher: %s\n", aerr.msg);
		sl_http_iplimit_free(p->ips);
		free(p);
		return 2;
	}

	main_ctx_t mc = {.p = p};
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_async_init(&loop, &mc.done, done_cb);
	p->done_async = &mc.done;
	p->loops = sl_xcalloc(p->nloops, sizeof(*p->loops));
	sl_runtime_init(&mc.rt, &loop, stop_cb, &mc);
	int rc = 0;
	sl_err_t err = {0};
	unsigned ready = 0;
	for (; ready < p->nloops; ready++) {
		sl_pub_loop_t *lp = sl_xcalloc(1, sizeof(*lp));
		int r = sl_pub__loop_init(p, lp, ready, &err);
		if (r < 0) {
			free(lp);
			if (r == -2) {
				fprintf(stderr, "sluice publisher: %s\n", err.msg);
				rc = 2;
			} else {
				sl_log_error("listen_failed", SL_KV(error, err.msg));
				rc = 1;
			}
			break;
		}
		p->loops[ready] = lp;
		if (ready == 0)
			p->port = sl_http_server_port(lp->srv); /* the others join it (port 0: a free one) */
	}
	if (rc) {
		/* Loops set up so far are stopped and run out here, threadless. */
		p->nloops = ready;
		for (unsigned i = 0; i < ready; i++) {
			sl_pub__loop_stop(p->loops[i]);
			sl_pub__loop_start(p->loops[i]);
		}
	} else {
		/* Before the threads start: the loops only read it. */
		char *root = sl_cfg_str(cfg, "web-root") ? sl_xstrdup(sl_cfg_str(cfg, "web-root")) : default_web_root();
		p->web = sl_pub__web_load(root, sl_cfg_str(cfg, "api-url"), murls, nmurls);
		free(root);
		sl_redis_url_t u; /* the address only: the URL may hold a password */
		sl_redis_url_parse(p->redis_url, &u, NULL);
		sl_log_info("publisher_listening", SL_KV(port, p->port), SL_KV(loops, p->nloops), SL_KV(addr, u.addr));
		for (unsigned i = 0; i < p->nloops; i++)
			if (sl_pub__loop_start(p->loops[i]) != 0)
				abort(); /* no thread for a loop: nothing sensible to run */
	}
	if (rc || p->nloops == 0)
		uv_async_send(&mc.done);
	int lc = sl_runtime_run(&mc.rt);
	for (unsigned i = 0; i < p->nloops; i++) {
		sl_pub__loop_join(p->loops[i]);
		if (p->loops[i]->loop_close_rc != 0)
			lc = p->loops[i]->loop_close_rc;
		sl_pub__loop_free(p->loops[i]);
	}
	if (rc != 2)
		sl_log_info("publisher_stopped", SL_KV(loop_close, lc));
	free(p->loops);
	sl_http_iplimit_free(p->ips);
	sl_pub__web_free(p->web);
	sl_pub__auth_free(p);
	free(p);
	sl_metrics_free_all();
	return rc;
}

const sl_role_t sl_role_publisher = {
	.name = "publisher",
	.summary = "WebSocket/SSE stream publisher and dashboard",
	.usage = "sluice publisher [options]",
	.about = "Serves channel streams over WebSocket and SSE, and the dashboard.",
	.tables = publisher_tables,
	.run = publisher_run,
};
