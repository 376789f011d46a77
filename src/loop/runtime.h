/* runtime.h: what every long-running role does around its loop: ignore
 * SIGPIPE, turn SIGTERM/SIGINT into one call of the role's stop callback
 * (a second signal exits at once, for a stuck shutdown), turn SIGHUP into
 * a call of the process's reload hook (proto/tls.c sets it: certificates
 * are read again), and close its own handles so uv_loop_close() can
 * succeed.
 *
 * How it fits: src/loop/ is the layer of what is libuv but no protocol,
 * between core/ (libc and jansson only) and proto/, kafka/, redis/; it
 * includes core/ only (scripts/check-layers.sh). Every server role and
 * `sluice watch` runs its main loop through here; the publisher's main
 * thread does, and its loop threads stop when that thread's stop callback
 * tells them. Signals are process-wide: one sl_runtime_t per process.
 * Non-goals: daemonizing, pid files (scripts/up.sh does that).
 */
#ifndef SL_LOOP_RUNTIME_H
#define SL_LOOP_RUNTIME_H

#include <stdbool.h>
#include <uv.h>

typedef struct sl_runtime {
	uv_loop_t *loop;
	uv_signal_t sigterm, sigint, sighup;
	void (*stop_cb)(void *arg);
	void *arg;
	bool stopping;
} sl_runtime_t;

void sl_runtime_init(sl_runtime_t *rt, uv_loop_t *loop, void (*stop_cb)(void *arg), void *arg);
/* The process's SIGHUP hook (thread-safe to set; last one wins). Without
 * one, SIGHUP is logged and ignored. */
void sl_runtime_set_hup_hook(void (*hook)(void));
/* A part of the process cannot go on (a Kafka producer's fatal error,
 * kafka/kconf.c): stop as on SIGTERM, once, and exit 1 (sl_role_exec
 * asks sl_runtime_failed). Thread-safe. Without a runtime (a console
 * tool) it only marks the failure. A supervisor (`make up`, systemd)
 * starts the role again with fresh clients. */
void sl_runtime_fail(void);
bool sl_runtime_failed(void);
/* Close the signal handles (call from the stop path; the loop then drains). */
void sl_runtime_close(sl_runtime_t *rt);
/* Run the loop to the end and close it; returns uv_loop_close()'s result
 * (0 when every handle was closed, as tests assert). */
int sl_runtime_run(sl_runtime_t *rt);

#endif
