/* http_listen.c: the HTTP server's listening socket (http.h
 * sl_http_server_listen): a plain bind, or SO_REUSEPORT for the loops of
 * one process that share a port (the first of them proves nobody else
 * holds it), then uv_listen with http.c's accept callback.
 *
 * How it fits: beside http.c, which owns the server and its connections;
 * this file only calls down into it (sl_http__accept_cb).
 * Non-goals: accepting and refusing connections (http.c).
 */
#include "proto/http_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int bind_reuseport_fd(uv_tcp_t *tcp, const struct sockaddr *sa, socklen_t salen)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return uv_translate_sys_error(errno);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	int rc = bind(fd, sa, salen) < 0 ? uv_translate_sys_error(errno) : 0;
	if (rc == 0)
		rc = uv_tcp_open(tcp, fd);
	if (rc < 0)
		close(fd);
	return rc;
}

/* A listening socket that the other loops of this process bind too. The
 * first one proves with a plain bind that nobody holds the port:
 * SO_REUSEPORT alone would let this process share a port with another
 * program of the same user instead of failing with "address in use". */
static int bind_reuseport(uv_tcp_t *tcp, const struct sockaddr *sa, socklen_t salen, int port,
			  sl_http_reuseport_t mode)
{
	if (mode == SL_HTTP_REUSEPORT_FIRST && port != 0) {
		int probe = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return uv_translate_sys_error(errno);
		int one = 1;
		setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int rc = bind(probe, sa, salen) < 0 ? uv_translate_sys_error(errno) : 0;
		close(probe);
		if (rc < 0)
			return rc;
	}
	return bind_reuseport_fd(tcp, sa, salen);
}

int sl_http_server_listen(sl_http_server_t *srv, const char *host, int port, sl_err_t *err)
{
	struct sockaddr_storage ss;
	int rc;
	if (strchr(host, ':'))
		rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
	else
		rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
	if (rc < 0)
		return sl_err_set(err, SL_EINVAL, false, "bad listen address %s: %s", host, uv_strerror(rc));
	uv_tcp_init(srv->loop, &srv->listener);
	srv->listening = true;
	if (srv->reuseport)
		rc = bind_reuseport(&srv->listener, (struct sockaddr *)&ss,
				    ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), port,
				    srv->reuseport);
	else
		rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
	if (rc < 0 || (rc = uv_listen((uv_stream_t *)&srv->listener, 1024, sl_http__accept_cb)) < 0)
		return sl_err_set(err, SL_EIO, false, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
	struct sockaddr_storage got;
	int len = sizeof(got);
	uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&got, &len);
	srv->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
						    : ((struct sockaddr_in *)&got)->sin_port);
	return 0;
}
