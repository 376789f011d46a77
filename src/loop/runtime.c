/* runtime.c: signals and loop lifetime for roles (see runtime.h). */
#include "loop/runtime.h"

#include "core/log.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

static _Atomic(void (*)(void)) hup_hook;
static _Atomic(sl_runtime_t *) current; /* the process's runtime, once initialized */
static atomic_bool failed, fail_raised;

void sl_runtime_fail(void)
{
	atomic_store(&failed, true);
	sl_runtime_t *rt = atomic_load(&current);
	/* Through the signal, so the stop runs on the loop thread, outside
	 * whatever callback found the failure; a shutdown already under way
	 * is left alone (a second SIGTERM would force an exit). */
	if (rt && !rt->stopping && !atomic_exchange(&fail_raised, true))
		raise(SIGTERM);
}

bool sl_runtime_failed(void)
{
	return atomic_load(&failed);
}

void sl_runtime_set_hup_hook(void (*hook)(void))
{
	atomic_store(&hup_hook, hook);
}

static void hup_cb(uv_signal_t *h, int signum)
{
	(void)h;
	void (*hook)(void) = atomic_load(&hup_hook);
	sl_log_info("reload_begin", SL_KV(signal, signum));
	if (hook)
		hook();
}

static void signal_cb(uv_signal_t *h, int signum)
{
	sl_runtime_t *rt = h->data;
	if (rt->stopping) {
		sl_log_warn("shutdown_forced", SL_KV(signal, signum));
		_Exit(1);
	}
	rt->stopping = true;
	sl_log_info("shutdown_begin", SL_KV(signal, signum));
	rt->stop_cb(rt->arg);
}

void sl_runtime_init(sl_runtime_t *rt, uv_loop_t *loop, void (*stop_cb)(void *arg), void *arg)
{
	signal(SIGPIPE, SIG_IGN);
	rt->loop = loop;
	rt->stop_cb = stop_cb;
	rt->arg = arg;
	rt->stopping = false;
	uv_signal_init(loop, &rt->sigterm);
	uv_signal_init(loop, &rt->sigint);
	uv_signal_init(loop, &rt->sighup);
	rt->sigterm.data = rt->sigint.data = rt->sighup.data = rt;
	uv_signal_start(&rt->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&rt->sigint, signal_cb, SIGINT);
	uv_signal_start(&rt->sighup, hup_cb, SIGHUP);
	/* Signals must not keep the loop alive once everything else is closed;
	 * the role closes them explicitly, but unref makes a missed close harmless. */
	uv_unref((uv_handle_t *)&rt->sigterm);
	uv_unref((uv_handle_t *)&rt->sigint);
	uv_unref((uv_handle_t *)&rt->sighup);
	atomic_store(&current, rt);
}

void sl_runtime_close(sl_runtime_t *rt)
{
	if (!uv_is_closing((uv_handle_t *)&rt->sigterm))
		uv_close((uv_handle_t *)&rt->sigterm, NULL);
	if (!uv_is_closing((uv_handle_t *)&rt->sigint))
		uv_close((uv_handle_t *)&rt->sigint, NULL);
	if (!uv_is_closing((uv_handle_t *)&rt->sighup))
		uv_close((uv_handle_t *)&rt->sighup, NULL);
}

int sl_runtime_run(sl_runtime_t *rt)
{
	uv_run(rt->loop, UV_RUN_DEFAULT);
	sl_runtime_close(rt);
	uv_run(rt->loop, UV_RUN_DEFAULT);
	atomic_store(&current, NULL);
	return uv_loop_close(rt->loop);
}
