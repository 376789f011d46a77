/* publisher_web.c: the dashboard's static files and /config.json.
 *
 * How it fits: the publisher serves the web engineer's dashboard (web/) at
 * `/` from the same port as the streams, so the page can open WebSockets to
 * its own origin. The files are read once at start (bounded: 2,000 files,
 * 32 MiB) and served from memory, so serving never touches the disk from the
 * loop thread; restart the publisher to pick up edited files. /config.json
 * tells the dashboard where the control API and the roles' /metrics are.
 * Paths with `..`, hidden files and anything outside the root are refused.
 * Non-goals: directory listings, range requests, compression, ETags.
 */
#include "roles/publisher/publisher_int.h"

#include "core/alloc.h"
#include "core/log.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES 2000
#define MAX_TOTAL (32u << 20)

typedef struct file {
	char *path; /* "/index.html" */
	char *data;
	size_t len;
	const char *ctype;
} file_t;

struct sl_pub_web {
	file_t *files;
	size_t nfiles;
	size_t total;
	char *config_json;
	char *root;
};

static const char *content_type(const char *path)
{
	static const char *const map[][2] = {
		{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
		{".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
		{".woff2", "font/woff2"}, {".webmanifest", "application/manifest+json"},
	};
	const char *dot = strrchr(path, '.');
	if (dot)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcmp(dot, map[i][0]))
				return map[i][1];
	return "application/octet-stream";
}

static void load_dir(sl_pub_web_t *w, const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && w->nfiles < MAX_FILES) {
		if (de->d_name[0] == '.')
			continue;
		char full[4096], r[4096];
		if (snprintf(full, sizeof(full), "%s/%s", dir, de->d_name) >= (int)sizeof(full) ||
		    snprintf(r, sizeof(r), "%s/%s", rel, de->d_name) >= (int)sizeof(r))
			continue;
		struct stat st;
		if (stat(full, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (strcmp(de->d_name, "node_modules") != 0)
				load_dir(w, full, r);
			continue;
		}
		if (!S_ISREG(st.st_mode) || w->total + (size_t)st.st_size > MAX_TOTAL)
			continue;
		FILE *f = fopen(full, "rb");
		if (!f)
			continue;
		char *data = sl_xmalloc((size_t)st.st_size + 1);
		size_t n = fread(data, 1, (size_t)st.st_size, f);
		fclose(f);
		w->files = sl_xrealloc(w->files, (w->nfiles + 1) * sizeof(file_t));
		w->files[w->nfiles++] = (file_t){sl_xstrdup(r), data, n, content_type(r)};
		w->total += n;
	}
	closedir(d);
}

sl_pub_web_t *sl_pub__web_load(const char *root, const char *api_url, const char *const *metrics, size_t nmetrics)
{
	sl_pub_web_t *w = sl_xcalloc(1, sizeof(*w));
	w->root = sl_xstrdup(root);
	load_dir(w, root, "");
	sl_buf_t b = SL_BUF_INIT;
	sl_buf_puts(&b, "{\"api_url\":");
	sl_buf_json_str(&b, api_url, strlen(api_url));
	sl_buf_puts(&b, ",\"metrics\":{");
	/* Items come from repeated flags or one comma-separated list. */
	for (size_t i = 0; i < nmetrics; i++) {
		for (const char *s = metrics[i]; *s;) {
			size_t n = strcspn(s, ",");
			const char *eq = memchr(s, '=', n);
			if (eq && eq > s) {
				if (b.data[b.len - 1] != '{')
					sl_buf_putc(&b, ',');
				sl_buf_json_str(&b, s, (size_t)(eq - s));
				sl_buf_putc(&b, ':');
				sl_buf_json_str(&b, eq + 1, (size_t)(s + n - eq - 1));
			}
			s += n;
			if (*s == ',')
				s++;
		}
	}
	sl_buf_puts(&b, "}}");
	size_t len;
	w->config_json = sl_buf_steal(&b, &len);
	sl_log_info("web_loaded", SL_KV(root, root), SL_KV(files, w->nfiles), SL_KV(bytes, w->total));
	return w;
}

bool sl_pub__web_serve(sl_pub_web_t *w, sl_http_req_t *req)
{
	const char *m = sl_http_req_method(req);
	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
		return false;
	sl_iov_t path = sl_http_req_path(req);
	if (sl_iov_eq(path, "/config.json")) {
		sl_http_req_add_header(req, "Cache-Control: no-cache");
		sl_http_respond_json(req, 200, w->config_json);
		return true;
	}
	char want[1024];
	if (path.len == 0 || path.len >= sizeof(want) - 16 || path.base[0] != '/')
		return false;
	memcpy(want, path.base, path.len);
	want[path.len] = '\0';
	if (strstr(want, "/.") || strstr(want, ".."))
		return false;
	if (want[path.len - 1] == '/')
		strcat(want, "index.html");
	for (size_t i = 0; i < w->nfiles; i++) {
		if (!strcmp(w->files[i].path, want)) {
			sl_http_req_add_header(req, "Cache-Control: no-cache");
			bool head = !strcmp(m, "HEAD");
			sl_http_respond(req, 200, w->files[i].ctype, head ? NULL : w->files[i].data,
					head ? 0 : w->files[i].len);
			return true;
		}
	}
	return false;
}

void sl_pub__web_free(sl_pub_web_t *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nfiles; i++) {
		free(w->files[i].path);
		free(w->files[i].data);
	}
	free(w->files);
	free(w->config_json);
	free(w->root);
	free(w);
}
