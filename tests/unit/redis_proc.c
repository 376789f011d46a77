/* redis_proc.c: start and stop real redis-server and redis-sentinel
 * processes for the unit tests that need one (the contract is in
 * redis_proc.h).
 *
 * How it fits: called from the setup, teardown and tests of test_rconn.c
 * and test_sentinel.c, on the test's main thread, never from a loop
 * callback. It owns nothing but the child processes it starts, which the
 * caller ends with tu_reap().
 * References: fork(2), execvp(3), waitpid(2); bind(2) with port 0 (the
 * kernel picks a free port).
 * Non-goals: fake servers (test_rconn.c plays its own on its loop);
 * configuring Sentinel (test_sentinel.c writes its own file).
 */
#include "redis_proc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a server may take to listen: generous, since the tests run
 * under ASan on a machine shared with builds; the wait ends as soon as
 * the port answers or the child exits. */
#define START_DEADLINE_MS 10000

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tu_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

bool tu_port_open(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* Has the child ended (reaped here, so the caller must not wait again)? */
static bool exited(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == pid;
}

pid_t tu_spawn(const char *const argv[], int port)
{
	if (port <= 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			close(null);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	/* A child that exits (a bad flag, or its bind failed because another
	 * process took the port meanwhile) fails at once, not after the
	 * deadline. */
	int64_t deadline = now_ms() + START_DEADLINE_MS;
	while (now_ms() < deadline) {
		if (exited(pid))
			return -1;
		if (tu_port_open(port))
			return exited(pid) ? -1 : pid;
		usleep(10000);
	}
	tu_reap(pid);
	return -1;
}

pid_t tu_redis_start(int port, int replica_of)
{
	char p[16], r[16];
	snprintf(p, sizeof(p), "%d", port);
	snprintf(r, sizeof(r), "%d", replica_of);
	/* No persistence: nothing is left in the directory the test runs in. */
	const char *argv[] = {"redis-server", "--port",     p,    "--bind",     "127.0.0.1",
			      "--save",       "",           "--appendonly", "no", "--loglevel", "warning",
			      replica_of ? "--replicaof" : NULL, "127.0.0.1", r, NULL};
	return tu_spawn(argv, port);
}

void tu_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGCONT);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
