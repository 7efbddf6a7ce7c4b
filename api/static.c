/*
 * static.c — the mount table and the file answers of static.h: path
 * checks, realpath containment, content types, validators (ETag,
 * Last-Modified) and conditional requests, directory index and redirect,
 * and the placeholder page for `/` when no dashboard is installed.
 * Not a hot path: a few syscalls per request (realpath, open, fstat) buy
 * the containment check.
 */
#include "api/static.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/http_internal.h"
#include "common/err.h"

#ifndef STRAND_DATADIR
#define STRAND_DATADIR "/usr/local/share/strand"
#endif

#define STATIC_MAX_MOUNTS 16   /* named limit: the dashboard, docs, and room to spare */

typedef struct static_mount {
	char  *prefix;     /* "/" or "/docs" */
	size_t prefix_len;
	char  *root;       /* realpath of the directory or file */
	int    is_dir;
	unsigned flags;    /* API_STATIC_* */
} static_mount_t;

struct api_static {
	static_mount_t mounts[STATIC_MAX_MOUNTS];
	size_t         n;
};

/* Only this origin: no inline script or style markup (styles set from
 * script through the DOM, as the chart library does, are not markup). */
static const char static_csp[] =
	"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
	"form-action 'self'; frame-ancestors 'none'";

/* API_STATIC_INLINE_STYLES mounts (the API reference page): Redoc inserts
 * <style> elements (styled-components) and runs its search in a blob: worker. */
static const char static_csp_inline_styles[] =
	"default-src 'self'; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; "
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; "
	"form-action 'self'; frame-ancestors 'none'";

/* ---- the table --------------------------------------------------------- */

int api_static_new(api_static_t **out)
{
	*out = calloc(1, sizeof **out);
	return *out ? 0 : STRAND_ENOMEM;
}

void api_static_free(api_static_t *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->mounts[i].prefix);
		free(s->mounts[i].root);
	}
	free(s);
}

/* Is path /v1 or under it (the API's namespace, never a file)? */
static int static_is_api_path(const char *path)
{
	return strncmp(path, "/v1", 3) == 0 && (path[3] == '\0' || path[3] == '/');
}

/* Does path lie under prefix, at a segment boundary? */
static int static_under(const char *path, const char *prefix, size_t plen)
{
	if (plen == 1)
		return path[0] == '/';
	return strncmp(path, prefix, plen) == 0 && (path[plen] == '\0' || path[plen] == '/');
}

int api_static_mount(api_static_t *s, const char *url_prefix, const char *fs_path,
                     char *err, size_t errlen)
{
	return api_static_mount_flags(s, url_prefix, fs_path, 0, err, errlen);
}

int api_static_mounted(const api_static_t *s, const char *url_prefix)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->mounts[i].prefix, url_prefix) == 0)
			return 1;
	return 0;
}

int api_static_mount_flags(api_static_t *s, const char *url_prefix, const char *fs_path,
                           unsigned flags, char *err, size_t errlen)
{
	static_mount_t *m;
	struct stat st;
	size_t plen = strlen(url_prefix), i;
	char *root;

	if (url_prefix[0] != '/' || (plen > 1 && url_prefix[plen - 1] == '/') ||
	    static_is_api_path(url_prefix) || strstr(url_prefix, "//") != NULL)
		return strand_err_set(err, errlen, STRAND_EINVAL,
		                      "mount prefix \"%s\" must be / or /name without a trailing "
		                      "slash, outside /v1", url_prefix);
	for (i = 0; i < s->n; i++)
		if (strcmp(s->mounts[i].prefix, url_prefix) == 0)
			return strand_err_set(err, errlen, STRAND_EINVAL, "%s is mounted twice",
			                      url_prefix);
	if (s->n == STATIC_MAX_MOUNTS)
		return strand_err_set(err, errlen, STRAND_EINVAL, "more than %d static mounts",
		                      STATIC_MAX_MOUNTS);
	root = realpath(fs_path, NULL);
	if (root == NULL || stat(root, &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
		int e = errno;

		free(root);
		return strand_err_set(err, errlen, STRAND_ENOENT,
		                      "cannot serve %s at %s: %s", fs_path, url_prefix,
		                      root == NULL ? strerror(e) : "not a directory or regular file");
	}
	m = &s->mounts[s->n];
	m->prefix = strdup(url_prefix);
	if (m->prefix == NULL) {
		free(root);
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	}
	m->prefix_len = plen;
	m->root = root;
	m->is_dir = S_ISDIR(st.st_mode);
	m->flags = flags;
	s->n++;
	return 0;
}

int api_static_mount_list(api_static_t *s, const char *list, char *err, size_t errlen)
{
	char *copy = strdup(list), *item, *save = NULL, *eq;
	int rc = 0;

	if (copy == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	for (item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		eq = strchr(item, '=');
		if (eq == NULL || eq == item || eq[1] == '\0') {
			rc = strand_err_set(err, errlen, STRAND_EINVAL,
			                    "mount \"%s\" must be PREFIX=PATH", item);
			break;
		}
		*eq = '\0';
		rc = api_static_mount(s, item, eq + 1, err, errlen);
	}
	free(copy);
	return rc;
}

/* The first of n directories holding a readable index.html, or NULL. */
static const char *static_first_built(const char *const *candidates, size_t n)
{
	char index[PATH_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(index, sizeof index, "%s/index.html", candidates[i]);
		if (access(index, R_OK) == 0)
			return candidates[i];
	}
	return NULL;
}

const char *api_static_default_www_dir(void)
{
	static const char *const candidates[] = {
		STRAND_DATADIR "/www",
#ifdef STRAND_BUILDDIR
		STRAND_BUILDDIR "/www/dist",
#endif
	};

	return static_first_built(candidates, sizeof candidates / sizeof candidates[0]);
}

const char *api_static_default_docs_dir(void)
{
	static const char *const candidates[] = {
		STRAND_DATADIR "/docs",
#ifdef STRAND_BUILDDIR
		STRAND_BUILDDIR "/apiref/dist",
#endif
	};

	return static_first_built(candidates, sizeof candidates / sizeof candidates[0]);
}

/* The mount with the longest prefix covering path, or NULL. */
static const static_mount_t *static_find(const api_static_t *s, const char *path)
{
	const static_mount_t *best = NULL;
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (static_under(path, s->mounts[i].prefix, s->mounts[i].prefix_len) &&
		    (best == NULL || s->mounts[i].prefix_len > best->prefix_len))
			best = &s->mounts[i];
	return best;
}

int api_static_claims(const api_static_t *s, const char *path)
{
	if (static_is_api_path(path))
		return 0;
	return strcmp(path, "/") == 0 || static_find(s, path) != NULL;
}

/* ---- answers ----------------------------------------------------------- */

static const struct { const char *ext, *type; } static_types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "js",   "text/javascript; charset=utf-8" },
	{ "mjs",  "text/javascript; charset=utf-8" },
	{ "css",  "text/css; charset=utf-8" },
	{ "json", "application/json" },
	{ "map",  "application/json" },
	{ "webmanifest", "application/manifest+json" },
	{ "svg",  "image/svg+xml" },
	{ "png",  "image/png" },
	{ "jpg",  "image/jpeg" },
	{ "ico",  "image/x-icon" },
	{ "woff2", "font/woff2" },
	{ "woff", "font/woff" },
	{ "txt",  "text/plain; charset=utf-8" },
	{ "yaml", "application/yaml" },
	{ "wasm", "application/wasm" },
};

static const char *static_content_type(const char *file)
{
	const char *dot = strrchr(file, '.'), *slash = strrchr(file, '/');
	size_t i;

	if (dot == NULL || (slash != NULL && dot < slash))
		return "application/octet-stream";
	for (i = 0; i < sizeof static_types / sizeof static_types[0]; i++)
		if (strcasecmp(dot + 1, static_types[i].ext) == 0)
			return static_types[i].type;
	return "application/octet-stream";
}

static int static_not_found(api_request_t *req)
{
	return api_respond_problem(req, 404, API_PROBLEM_NOT_FOUND,
	                           "no such resource; the API is under /v1 (see /openapi.yaml)",
	                           NULL);
}

/* `/` when no dashboard is installed: where to find things. */
static int static_placeholder(api_request_t *req)
{
	static const char page[] =
		"<!doctype html>\n"
		"<html lang=\"en\"><head><meta charset=\"utf-8\"><title>strand</title></head>\n"
		"<body>\n"
		"<h1>strand</h1>\n"
		"<p>A Kafka-style log broker over HTTP. The dashboard is not built: run "
		"<code>make www</code> in the build directory (or <code>scripts/start.sh</code>), "
		"or start the broker with <code>--www-dir</code>.</p>\n"
		"<ul>\n"
		"<li><a href=\"/v1/topics\">/v1/topics</a> &mdash; topics</li>\n"
		"<li><a href=\"/v1/groups\">/v1/groups</a> &mdash; consumer groups</li>\n"
		"<li><a href=\"/v1/cluster\">/v1/cluster</a> &mdash; brokers</li>\n"
		"<li><a href=\"/openapi.yaml\">/openapi.yaml</a> &mdash; the API contract</li>\n"
		"<li><a href=\"/metrics\">/metrics</a> &mdash; Prometheus metrics</li>\n"
		"</ul>\n"
		"</body></html>\n";
	buf_t b = BUF_INIT;

	if (buf_append(&b, page, sizeof page - 1) != 0)
		return STRAND_ENOMEM;
	return api_respond_buf(req, 200, "text/html; charset=utf-8", &b);
}

/*
 * rest (the path below the mount, starting with '/' or empty) is safe to
 * join under the root: no `.`/`..` or dot-file segment, no backslash.
 */
static int static_rest_safe(const char *rest)
{
	const char *seg = rest;

	if (strchr(rest, '\\') != NULL)
		return 0;
	while (*seg != '\0') {
		while (*seg == '/')
			seg++;
		if (*seg == '.')
			return 0;     /* ".", "..", ".hidden" */
		seg += strcspn(seg, "/");
	}
	return 1;
}

/* Is real (a realpath) the root or inside it? */
static int static_inside(const char *real, const char *root)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return 1;
	return strncmp(real, root, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

/* 301 to path + "/", with the path percent-encoded where it must be. */
static int static_redirect_dir(api_request_t *req)
{
	static const char hex[] = "0123456789ABCDEF";
	buf_t loc = BUF_INIT;
	const unsigned char *p;
	int rc;

	for (p = (const unsigned char *)req->path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("/-._~", *p) != NULL)
			rc = buf_append(&loc, p, 1);
		else
			rc = buf_appendf(&loc, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
		if (rc != 0)
			goto nomem;
	}
	if (buf_append(&loc, "/", 2) != 0)   /* with the NUL */
		goto nomem;
	rc = api_add_header(req, "Location", loc.data);
	buf_free(&loc);
	if (rc != 0)
		return rc;
	return api_respond_empty(req, 301);
nomem:
	buf_free(&loc);
	return STRAND_ENOMEM;
}

/* Does the If-None-Match list hold etag (weak comparison, RFC 9110 §13.1.2)? */
static int static_etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = inm;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return 1;
		p += strcspn(p, ",");
	}
	return 0;
}

/* Is the request's validator still good for the file (answer 304)? */
static int static_not_modified(api_request_t *req, const char *etag, const struct stat *st)
{
	const char *inm = api_header(req, "If-None-Match");
	const char *ims = api_header(req, "If-Modified-Since");
	struct tm tm;
	char *end;

	if (inm != NULL)
		return static_etag_matches(inm, etag);
	if (ims == NULL)
		return 0;
	memset(&tm, 0, sizeof tm);
	end = strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return end != NULL && *end == '\0' && st->st_mtim.tv_sec <= timegm(&tm);
}

/* Answer with the open regular file fd (taken), described by st. */
static int static_send_file(api_request_t *req, int fd, const struct stat *st, const char *name,
                            unsigned flags)
{
	const char *type = static_content_type(name);
	char etag[64], modified[64];
	struct tm tm;
	int rc;

	snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st->st_size,
	         (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
	gmtime_r(&st->st_mtim.tv_sec, &tm);
	strftime(modified, sizeof modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	rc = api_add_header(req, "ETag", etag);
	if (rc == 0)
		rc = api_add_header(req, "Last-Modified", modified);
	if (rc == 0)
		rc = api_add_header(req, "Cache-Control", "no-cache");
	if (rc == 0)
		rc = api_add_header(req, "X-Content-Type-Options", "nosniff");
	if (rc == 0 && strncmp(type, "text/html", 9) == 0)
		rc = api_add_header(req, "Content-Security-Policy",
		                    (flags & API_STATIC_INLINE_STYLES) ? static_csp_inline_styles
		                                                       : static_csp);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	if (static_not_modified(req, etag, st)) {
		close(fd);
		return api_respond_empty(req, 304);
	}
	return api_respond_fd(req, 200, type, fd, 0, (size_t)st->st_size);
}

/*
 * Open path if its real path (symlinks resolved) lies inside root: the fd,
 * with *real (caller frees) and *st filled; -1 otherwise (*real may be set).
 */
static int static_open_inside(const char *path, const char *root, char **real,
                              struct stat *st)
{
	int fd;

	*real = realpath(path, NULL);
	if (*real == NULL || !static_inside(*real, root))
		return -1;
	fd = open(*real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, st) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int api_static_serve(api_request_t *req)
{
	const static_mount_t *m = static_find(req->api->statics, req->path);
	const char *rest;
	char joined[PATH_MAX], *real = NULL;
	struct stat st;
	int fd, rc;

	if (static_is_api_path(req->path))
		return static_not_found(req);
	if (m == NULL)
		return strcmp(req->path, "/") == 0 ? static_placeholder(req) : static_not_found(req);
	rest = req->path + (m->prefix_len == 1 ? 0 : m->prefix_len);
	if (!m->is_dir) {
		if (strcmp(rest, "") != 0 && strcmp(rest, "/") != 0)
			return static_not_found(req);
		snprintf(joined, sizeof joined, "%s", m->root);
	} else {
		if (!static_rest_safe(rest) ||
		    (size_t)snprintf(joined, sizeof joined, "%s%s", m->root, rest) >= sizeof joined)
			return static_not_found(req);
	}
	fd = static_open_inside(joined, m->root, &real, &st);
	if (fd >= 0 && S_ISDIR(st.st_mode)) {
		size_t n = strlen(req->path);

		close(fd);
		if (n == 0 || req->path[n - 1] != '/') {
			free(real);
			return static_redirect_dir(req);
		}
		/* the directory's index.html, itself checked like any file */
		n = (size_t)snprintf(joined, sizeof joined, "%s/index.html", real);
		free(real);
		real = NULL;
		fd = n < sizeof joined ? static_open_inside(joined, m->root, &real, &st) : -1;
		/* `/` of a mount without index.html: still a page */
		if (fd < 0 && strcmp(req->path, "/") == 0) {
			free(real);
			return static_placeholder(req);
		}
	}
	if (fd < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		free(real);
		return static_not_found(req);
	}
	rc = static_send_file(req, fd, &st, real, m->flags);
	free(real);
	return rc;
}
