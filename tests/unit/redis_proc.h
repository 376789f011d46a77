/* redis_proc.h: real redis-server and redis-sentinel processes for the
 * unit tests that need one (test_rconn.c, test_sentinel.c).
 *
 * How it fits: the Makefile links every .c file of tests/unit whose name
 * does not start with test_ into each unit-test binary, so any test may
 * call this; only the Redis tests do. A server listens on 127.0.0.1 on a port the kernel
 * picked free, so tests running side by side never collide; start-up is
 * a wait on a condition (the port answers, or the child exits) with a
 * deadline, not a sleep. Calls block: use them from setup, teardown or
 * the test body, never from a loop callback.
 * References: redis.conf, the documented example file (the flags
 * passed); fork(2), execvp(3), waitpid(2).
 * Non-goals: fake servers (test_rconn.c plays its own broken one on its
 * loop); cleaning up after a test binary that crashed (the harness's
 * timeout and the test's own teardown are all there is).
 */
#ifndef SL_TESTS_REDIS_PROC_H
#define SL_TESTS_REDIS_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int tu_free_port(void);
/* Does something accept connections on 127.0.0.1:port? */
bool tu_port_open(int port);
/* Run argv (argv[0] found on PATH, stdout to /dev/null) and wait up to
 * 10 s for something to listen on port: its pid, or -1 when it could
 * not start, exited, or nothing listened (it is then killed and reaped). */
pid_t tu_spawn(const char *const argv[], int port);
/* tu_spawn of a redis-server on port, without persistence, logging only
 * warnings; a replica of 127.0.0.1:replica_of when that is not 0. */
pid_t tu_redis_start(int port, int replica_of);
/* Kill and wait for pid (SIGCONT first: a test may have stopped it with
 * SIGSTOP); no-op for pid <= 0. */
void tu_reap(pid_t pid);

#endif
