/*
 * web: the splash page and its assets (/, /styles.css, /mcp-logo.png, /favicon.svg), embedded in
 * the binary at build time. It answers GET and HEAD with caching headers and conditional requests,
 * and while the authorization server is unreachable inserts the degraded-mode banner into the
 * page. Routing, rate limiting and 404s belong to the caller; this
 * module knows nothing of MCP or OAuth beyond the URL it is told to print.
 */
#ifndef MCPD_WEB_WEB_H
#define MCPD_WEB_WEB_H

#include <stdbool.h>

#include "http/http_server.h"

struct web_page_state {
    bool degraded;               /* the authorization server has not answered (yet) */
    const char *auth_server_url; /* shown, HTML-escaped, in the degraded banner; may be NULL */
};

/* If the request's path is one of the pages, answer it and return true: 200 (or 304 when
 * If-None-Match matches) for GET/HEAD, 405 with Allow: GET, HEAD for other methods. Returns
 * false, without touching the exchange, for any other path. st may be NULL (not degraded). */
bool web_serve(struct http_exchange *ex, const struct web_page_state *st);

/* True if path is served by web_serve, so the router can apply the static rate limit first. */
bool web_is_page(const char *path);

#endif
