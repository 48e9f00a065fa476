/* The splash page and its assets (see web.h). */
#include "web/web.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "http/http_response.h"
#include "web/web_assets.h"

/* The public URLs and the embedded files behind them. index.html is only reachable as "/",
 * the one URL the reference server serves it under. */
struct web_route {
    const char *url;
    const char *asset; /* web_asset.path */
};

static const struct web_route routes[] = {
    {"/", "/index.html"},
    {"/styles.css", "/styles.css"},
    {"/mcp-logo.png", "/mcp-logo.png"},
    {"/favicon.svg", "/favicon.svg"},
};

/* Five minutes: the assets only change with the binary, and a strong ETag makes revalidation
 * after that a 304 (the reference server's max-age=0 revalidates on every view). */
#define WEB_CACHE_CONTROL "public, max-age=300"

/* The reference server's words, without its emoji: the page uses no emoji glyphs (they render
 * differently or not at all across systems, and screen readers announce them by name). */
#define WEB_BANNER_TITLE "Authentication Service Unavailable - Server Running in Degraded Mode"

static const struct web_route *find_route(const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(routes[i].url, path) == 0)
            return &routes[i];
    return NULL;
}

static const struct web_asset *find_asset(const char *asset_path)
{
    for (size_t i = 0; i < web_asset_count; i++)
        if (strcmp(web_assets[i].path, asset_path) == 0)
            return &web_assets[i];
    return NULL;
}

bool web_is_page(const char *path)
{
    const struct web_route *r = path ? find_route(path) : NULL;
    return r && find_asset(r->asset);
}

/* If-None-Match uses the weak comparison (RFC 9110 §13.1.2): a W/ prefix is ignored, and "*"
 * matches any current representation. */
static bool etag_matches(const char *header, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t n = strcspn(p, ",");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == elen && memcmp(p, etag, n) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

static int append_html_escaped(struct buf *b, const char *s)
{
    int rc = BUF_OK;
    for (; rc == BUF_OK && *s; s++) {
        switch (*s) {
        case '&':
            rc = buf_append_str(b, "&amp;");
            break;
        case '<':
            rc = buf_append_str(b, "&lt;");
            break;
        case '>':
            rc = buf_append_str(b, "&gt;");
            break;
        case '"':
            rc = buf_append_str(b, "&quot;");
            break;
        case '\'':
            rc = buf_append_str(b, "&#39;");
            break;
        default:
            rc = buf_append_char(b, *s);
        }
    }
    return rc;
}

/* The page with the banner inserted right after <body>. */
static int build_degraded_page(const struct web_asset *page, const char *auth_url, struct buf *b)
{
    const char *html = (const char *)page->data; /* NUL-terminated by the generator */
    const char *body = strstr(html, "<body>");
    size_t head_len = body ? (size_t)(body - html) + strlen("<body>") : 0;
    int rc = buf_append(b, html, head_len);
    if (rc == BUF_OK)
        rc = buf_append_str(b, "\n  <div class=\"degraded-banner\" role=\"alert\">\n"
                               "    <strong>" WEB_BANNER_TITLE "</strong>\n"
                               "    The authentication server at <code>");
    if (rc == BUF_OK)
        rc = append_html_escaped(b, auth_url ? auth_url : "(not configured)");
    if (rc == BUF_OK)
        rc = buf_append_str(b, "</code> is not responding. MCP endpoints will fail until it "
                               "is available.\n  </div>");
    if (rc == BUF_OK)
        rc = buf_append(b, html + head_len, page->len - head_len);
    return rc;
}

static void serve_degraded(struct http_exchange *ex, const struct web_asset *page,
                           const char *auth_url)
{
    struct buf b;
    buf_init(&b, 0);
    if (build_degraded_page(page, auth_url, &b) != BUF_OK) {
        buf_free(&b);
        http_respond_json(ex, 500, json_pack("{s:s}", "error", "server_error"));
        return;
    }
    /* No ETag and no caching: the banner is transient, and a cached copy (or a 304 against
     * the healthy page's tag) would show the wrong state. */
    http_response_header(ex, "Cache-Control", "no-store");
    http_respond(ex, 200, page->content_type, b.data, b.len);
    buf_free(&b);
}

static void serve_asset(struct http_exchange *ex, const struct web_asset *a)
{
    const char *inm = http_request_header(http_exchange_request(ex), "If-None-Match");
    http_response_header(ex, "Cache-Control", WEB_CACHE_CONTROL);
    http_response_header(ex, "ETag", a->etag);
    if (inm && etag_matches(inm, a->etag)) {
        http_respond_empty(ex, 304);
        return;
    }
    http_respond(ex, 200, a->content_type, (const char *)a->data, a->len);
}

bool web_serve(struct http_exchange *ex, const struct web_page_state *st)
{
    const struct http_request *req = http_exchange_request(ex);
    const struct web_route *route = find_route(req->path);
    const struct web_asset *asset = route ? find_asset(route->asset) : NULL;
    if (!asset)
        return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_response_header(ex, "Allow", "GET, HEAD");
        http_respond_json(ex, 405,
                          json_pack("{s:s, s:s}", "error", "method_not_allowed",
                                    "error_description", "Method not allowed"));
        return true;
    }
    if (st && st->degraded && strcmp(route->url, "/") == 0)
        serve_degraded(ex, asset, st->auth_server_url);
    else
        serve_asset(ex, asset);
    return true;
}
