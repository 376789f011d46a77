/* http_msg.c: the request being parsed: http-parser's callbacks with the
 * size limits, the request's accessors, and status texts.
 *
 * How it fits: below http.c (see http_int.h), which runs the parser over a
 * connection's input and pauses it at the end of each request. A callback
 * that finds a limit passed records the status and stable code on the
 * connection and stops the parser; http.c answers with them. Headers are
 * kept as "name\0value\0" pairs with names lower-cased, so a lookup is a
 * scan of at most SL_HTTP__MAX_HEADERS pairs.
 * The phase moves here too (head -> body -> handler), because only the
 * parser knows where a request stands; http.c arms the deadlines.
 * References: RFC 9112 (message syntax), RFC 9110 section 15 (status codes).
 * Non-goals: trailers, header folding (http-parser refuses it).
 */
#include "proto/http_int.h"

#include "core/alloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static sl_http__conn_t *pconn(http_parser *p)
{
	return sl_container_of(p, sl_http__conn_t, parser);
}

static int over_head(sl_http__conn_t *c, size_t n)
{
	c->head_bytes += n;
	if (c->head_bytes > c->srv->lim.max_header_bytes) {
		c->error_status = 431;
		c->error_code = "header_too_large";
		return -1;
	}
	return 0;
}

void sl_http__req_reset(sl_http_req_t *r)
{
	free(r->method);
	r->method = NULL;
	sl_buf_reset(&r->url);
	sl_buf_reset(&r->hdrs);
	sl_buf_reset(&r->body);
	sl_buf_reset(&r->extra);
	r->nhdrs = 0;
	r->path_len = 0;
	r->last_was_value = false;
	r->keep_alive = r->answered = false;
	r->abort_cb = NULL;
	r->abort_arg = NULL;
}

void sl_http__req_free(sl_http_req_t *r)
{
	sl_http__req_reset(r);
	sl_buf_free(&r->url);
	sl_buf_free(&r->hdrs);
	sl_buf_free(&r->body);
	sl_buf_free(&r->extra);
}

static int on_message_begin(http_parser *p)
{
	sl_http__conn_t *c = pconn(p);
	sl_http__req_reset(&c->req);
	c->head_bytes = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	sl_http__conn_t *c = pconn(p);
	if (over_head(c, len))
		return -1;
	sl_buf_append(&c->req.url, at, len);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	sl_http__conn_t *c = pconn(p);
	sl_http_req_t *r = &c->req;
	if (over_head(c, len))
		return -1;
	if (r->nhdrs == 0 || r->last_was_value) {
		if (r->nhdrs > 0)
			sl_buf_putc(&r->hdrs, '\0'); /* end the previous value */
		if (r->nhdrs == SL_HTTP__MAX_HEADERS) {
			c->error_status = 431;
			c->error_code = "too_many_headers";
			return -1;
		}
		r->hdr_off[r->nhdrs][0] = r->hdrs.len;
		r->nhdrs++;
		r->last_was_value = false;
	}
	for (size_t i = 0; i < len; i++)
		sl_buf_putc(&r->hdrs, (char)tolower((unsigned char)at[i]));
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	sl_http__conn_t *c = pconn(p);
	sl_http_req_t *r = &c->req;
	if (over_head(c, len))
		return -1;
	if (!r->last_was_value) {
		sl_buf_putc(&r->hdrs, '\0');
		r->hdr_off[r->nhdrs - 1][1] = r->hdrs.len;
		r->last_was_value = true;
	}
	sl_buf_append(&r->hdrs, at, len);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	sl_http__conn_t *c = pconn(p);
	sl_http_req_t *r = &c->req;
	if (r->nhdrs)
		sl_buf_putc(&r->hdrs, '\0');
	if (r->nhdrs && !r->last_was_value) {
		/* A header with no value at all: point at an empty string. */
		r->hdr_off[r->nhdrs - 1][1] = r->hdrs.len - 1;
	}
	r->method = sl_xstrdup(http_method_str((enum http_method)p->method));
	char *q = r->url.data ? memchr(r->url.data, '?', r->url.len) : NULL;
	r->path_len = q ? (size_t)(q - r->url.data) : r->url.len;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->srv->lim.max_body_bytes) {
		c->error_status = 413;
		c->error_code = "body_too_large";
		return -1;
	}
	c->phase = SL_HTTP__BODY; /* http.c arms the body deadline */
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	sl_http__conn_t *c = pconn(p);
	if (c->req.body.len + len > c->srv->lim.max_body_bytes) {
		c->error_status = 413;
		c->error_code = "body_too_large";
		return -1;
	}
	sl_buf_append(&c->req.body, at, len);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	sl_http__conn_t *c = pconn(p);
	c->req.keep_alive = http_should_keep_alive(p);
	c->in_request = true;
	c->phase = SL_HTTP__HANDLER;
	http_parser_pause(p, 1);
	return 0;
}

const http_parser_settings sl_http__parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

/* ---- the request's accessors (http.h) ---- */

const char *sl_http_req_method(const sl_http_req_t *req)
{
	return req->method ? req->method : "";
}

sl_iov_t sl_http_req_path(const sl_http_req_t *req)
{
	return (sl_iov_t){req->url.data ? req->url.data : "", req->path_len};
}

sl_iov_t sl_http_req_query(const sl_http_req_t *req)
{
	if (req->path_len >= req->url.len)
		return (sl_iov_t){"", 0};
	return (sl_iov_t){req->url.data + req->path_len + 1, req->url.len - req->path_len - 1};
}

const char *sl_http_req_header(const sl_http_req_t *req, const char *name)
{
	for (size_t i = 0; i < req->nhdrs; i++)
		if (!strcasecmp(req->hdrs.data + req->hdr_off[i][0], name))
			return req->hdrs.data + req->hdr_off[i][1];
	return NULL;
}

sl_iov_t sl_http_req_body(const sl_http_req_t *req)
{
	return (sl_iov_t){req->body.data ? req->body.data : "", req->body.len};
}

void sl_http_req_on_abort(sl_http_req_t *req, void (*abort_cb)(sl_http_req_t *req, void *arg), void *arg)
{
	req->abort_cb = abort_cb;
	req->abort_arg = arg;
}

void sl_http_req_add_header(sl_http_req_t *req, const char *line)
{
	sl_buf_puts(&req->extra, line);
	sl_buf_puts(&req->extra, "\r\n");
}

const char *sl_http_status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
