/*
 * static.h — files served as they are stored: the dashboard (www/, built
 * into a directory) at `/`, and any other directory or single file mounted
 * at a URL prefix (an API reference page at /docs, ...).
 *
 * What a mounted path answers (GET and HEAD only; api/server.c routes here
 * the GET/HEAD requests that no API route matches):
 *   - a regular file under the mount: 200 with its bytes (sendfile), a
 *     Content-Type from its extension (static.c's table; unknown:
 *     application/octet-stream), Content-Length, ETag ("size-mtime"),
 *     Last-Modified, Cache-Control: no-cache (browsers revalidate: the
 *     dashboard's file names carry no hash), X-Content-Type-Options: nosniff;
 *     HTML pages also get a Content-Security-Policy that allows only this
 *     origin (scripts and styles from files, no inline <script>);
 *   - If-None-Match matching the ETag (or *), or, without If-None-Match, an
 *     If-Modified-Since not older than the file: 304 with no body;
 *   - a directory: its index.html; without the trailing slash, 301 to the
 *     URL with it (so the page's relative links resolve);
 *   - `/` with no dashboard installed: a small page linking the API;
 *   - anything else, and every path under /v1/ (the API's namespace is never
 *     a file): 404 NOT_FOUND as problem+json.
 * Safety: a path with a `.` or `..` segment, a segment starting with `.`
 * (hidden files), a backslash, or longer than PATH_MAX is 404; the file
 * opened must lie inside the mount's real directory after every symlink is
 * resolved (realpath), so neither `..` nor a symlink escapes the mount.
 */
#ifndef STRAND_API_STATIC_H
#define STRAND_API_STATIC_H

#include <stddef.h>

#include "api/http.h"

typedef struct api_static api_static_t;

/* An empty mount table at *out. 0 or STRAND_ENOMEM. */
int api_static_new(api_static_t **out);

/* Free the table (NULL: no-op). Only once no request uses it. */
void api_static_free(api_static_t *s);

/*
 * Mount fs_path (an existing directory or regular file) at url_prefix:
 * "/" or "/name[/name...]" without a trailing slash, not /v1 or under it.
 * A directory serves url_prefix/REST from fs_path/REST; a file serves
 * exactly url_prefix (and url_prefix/). The longest matching prefix wins.
 * Not thread-safe: mount before the server starts.
 * Returns 0, STRAND_EINVAL (bad prefix, already mounted), STRAND_ENOENT
 * (fs_path missing, or neither a directory nor a regular file),
 * STRAND_ENOMEM; the message says which.
 */
int api_static_mount(api_static_t *s, const char *url_prefix, const char *fs_path,
                     char *err, size_t errlen);

/* Mount flags (api_static_mount_flags). */
#define API_STATIC_INLINE_STYLES 1u  /* the mount's HTML may carry <style> markup:
                                        its CSP adds style-src 'unsafe-inline' and
                                        blob: workers (Redoc's styled-components and
                                        search worker); scripts stay this origin's files */

/* api_static_mount with flags (API_STATIC_*); same codes. */
int api_static_mount_flags(api_static_t *s, const char *url_prefix, const char *fs_path,
                           unsigned flags, char *err, size_t errlen);

/* Non-zero when url_prefix is mounted already. */
int api_static_mounted(const api_static_t *s, const char *url_prefix);

/*
 * Mount each of "PREFIX=PATH[,PREFIX=PATH...]" (the `mounts` option) as
 * api_static_mount does. Returns its codes; the first failure stops.
 */
int api_static_mount_list(api_static_t *s, const char *list, char *err, size_t errlen);

/*
 * The dashboard's directory when none is configured: the first of the
 * installed one (pkgdatadir/www) and the build tree's (BUILDDIR/www/dist,
 * made by `make www`) that holds an index.html; NULL when neither does.
 * Static string.
 */
const char *api_static_default_www_dir(void);

/*
 * The API reference page served at /docs (Redoc rendering /openapi.yaml; built
 * by `make` from apiref/): the installed directory, else the build tree's
 * apiref/dist, whichever has an index.html; NULL when neither has.
 */
const char *api_static_default_docs_dir(void);

/* Non-zero when path (decoded, no query) is for the mount table: `/`, or
 * under a mount, and not /v1 or under it. Any thread. */
int api_static_claims(const api_static_t *s, const char *path);

/* The route handler for claimed GET/HEAD requests (see above). */
int api_static_serve(api_request_t *req);

#endif
