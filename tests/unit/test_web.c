/* web: the embedded splash page and assets through a real HTTP exchange on 127.0.0.1. */
#include "testutil.h"

#include <stdio.h>

#include "testhttp.h"

#include "http/http_response.h"
#include "web/web.h"
#include "web/web_assets.h"

/* The handler under test: web_serve, and a 404 marker when it declines the path. */
static void web_handler(struct http_exchange *ex, void *arg)
{
    const struct web_page_state *st = arg;
    if (!web_serve(ex, st))
        http_respond(ex, 404, "text/plain", "declined", 8);
}

struct reply {
    char *resp;
    size_t len;
    const char *body;
    size_t body_len;
};

static struct reply request(const struct web_page_state *st, const char *req)
{
    struct th_server ts;
    struct reply r = {0};
    th_start(&ts, web_handler, (void *)st);
    r.resp = th_request(&ts, req, &r.len);
    th_stop(&ts);
    r.body = th_body(r.resp, r.len, &r.body_len);
    return r;
}

static char *request_text(const char *method, const char *path, const char *extra_header)
{
    char *req = malloc(1024);
    assert_non_null(req);
    snprintf(req, 1024, "%s %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n%s\r\n", method, path,
             extra_header ? extra_header : "");
    return req;
}

static const struct web_asset *asset(const char *path)
{
    for (size_t i = 0; i < web_asset_count; i++)
        if (strcmp(web_assets[i].path, path) == 0)
            return &web_assets[i];
    fail_msg("asset %s not embedded", path);
    return NULL;
}

static void expect_header(const char *resp, const char *name, const char *value)
{
    char v[256];
    assert_true(th_header(resp, name, v, sizeof v));
    assert_string_equal(v, value);
}

static void check_asset(const char *url, const char *file, const char *type)
{
    const struct web_page_state healthy = {false, "http://auth.example"};
    const struct web_asset *a = asset(file);
    char *req = request_text("GET", url, NULL);
    struct reply r = request(&healthy, req);
    assert_int_equal(th_status(r.resp), 200);
    expect_header(r.resp, "Content-Type", type);
    expect_header(r.resp, "Cache-Control", "public, max-age=300");
    expect_header(r.resp, "ETag", a->etag);
    assert_int_equal(r.body_len, a->len);
    assert_memory_equal(r.body, a->data, a->len);
    free(r.resp);
    free(req);
}

static void test_each_asset_is_served_with_its_bytes_and_type(void **state)
{
    check_asset("/", "/index.html", "text/html; charset=utf-8");
    check_asset("/styles.css", "/styles.css", "text/css");
    check_asset("/mcp-logo.png", "/mcp-logo.png", "image/png");
    check_asset("/favicon.svg", "/favicon.svg", "image/svg+xml");
}

/* True when s holds an emoji or other pictograph: U+2190-U+2BFF (arrows, symbols, dingbats)
 * or a code point past the Basic Multilingual Plane (the emoji blocks), or a variation selector
 * U+FE0F. The page's text is plain: these render unevenly and are read out by name. */
static bool has_pictograph(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0xf0)
            return true;
        if (*p == 0xe2 && p[1] >= 0x86 && p[1] <= 0xaf)
            return true;
        if (*p == 0xef && p[1] == 0xb8 && p[2] == 0x8f)
            return true;
    }
    return false;
}

static void test_page_says_what_mcpd_is(void **state)
{
    const char *html = (const char *)asset("/index.html")->data;
    assert_non_null(strstr(html, "<title>mcpd: MCP server and OAuth 2.1 authorization server"
                                 "</title>"));
    assert_non_null(strstr(html, "<h1>mcpd</h1>"));
    assert_non_null(strstr(html, "<body>"));
    const char *facts[] = {"Model Context Protocol server and OAuth 2.1 authorization server",
                           "written in C", "Streamable HTTP", "legacy HTTP+SSE", "Redis"};
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        if (!strstr(html, facts[i]))
            fail_msg("the page does not say \"%s\"", facts[i]);
    assert_null(strstr(html, "OAuth 2.0"));
    assert_null(strstr(html, "Example Server<"));
    assert_false(has_pictograph(html));
    /* Same-origin assets only: a remote one would break under the CSP and leak the visit. */
    assert_null(strstr(html, "src=\"http"));
    assert_null(strstr(html, "href=\"//"));
    assert_non_null(
        strstr(html, "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">"));
    const struct web_asset *png = asset("/mcp-logo.png");
    assert_true(png->len > 8);
    assert_memory_equal(png->data, "\x89PNG\r\n\x1a\n", 8);
}

static void test_etag_is_strong_and_quoted(void **state)
{
    for (size_t i = 0; i < web_asset_count; i++) {
        const char *e = web_assets[i].etag;
        assert_int_equal(strlen(e), 34);
        assert_int_equal(e[0], '"');
        assert_int_equal(e[33], '"');
    }
    assert_string_not_equal(asset("/index.html")->etag, asset("/styles.css")->etag);
}

static void test_matching_if_none_match_gets_304(void **state)
{
    const struct web_page_state healthy = {false, NULL};
    const struct web_asset *css = asset("/styles.css");
    char header[128];
    /* A list with a weak form of the tag matches too (RFC 9110 weak comparison). */
    snprintf(header, sizeof header, "If-None-Match: \"nope\", W/%s\r\n", css->etag);
    char *req = request_text("GET", "/styles.css", header);
    struct reply r = request(&healthy, req);
    assert_int_equal(th_status(r.resp), 304);
    expect_header(r.resp, "ETag", css->etag);
    assert_int_equal(r.body_len, 0);
    free(r.resp);
    free(req);

    req = request_text("GET", "/styles.css", "If-None-Match: \"other\"\r\n");
    r = request(&healthy, req);
    assert_int_equal(th_status(r.resp), 200);
    free(r.resp);
    free(req);
}

static void test_head_gets_headers_without_body(void **state)
{
    const struct web_page_state healthy = {false, NULL};
    char *req = request_text("HEAD", "/mcp-logo.png", NULL);
    struct reply r = request(&healthy, req);
    assert_int_equal(th_status(r.resp), 200);
    expect_header(r.resp, "Content-Type", "image/png");
    char len[32];
    snprintf(len, sizeof len, "%zu", asset("/mcp-logo.png")->len);
    expect_header(r.resp, "Content-Length", len);
    assert_int_equal(r.body_len, 0);
    free(r.resp);
    free(req);
}

static void test_degraded_page_has_escaped_banner_after_body(void **state)
{
    const struct web_page_state degraded = {true, "http://auth/<script>alert(1)</script>&x"};
    char *req = request_text("GET", "/", NULL);
    struct reply r = request(&degraded, req);
    assert_int_equal(th_status(r.resp), 200);
    expect_header(r.resp, "Cache-Control", "no-store");
    char v[64];
    assert_false(th_header(r.resp, "ETag", v, sizeof v));
    const char *after_body = strstr(r.body, "<body>\n  <div class=\"degraded-banner\"");
    assert_non_null(after_body);
    assert_non_null(strstr(r.body, "Authentication Service Unavailable - Server Running in "
                                   "Degraded Mode"));
    assert_non_null(strstr(r.body, "http://auth/&lt;script&gt;alert(1)&lt;/script&gt;&amp;x"));
    assert_null(strstr(r.body, "<script>"));
    /* The rest of the page follows the banner unchanged. */
    assert_non_null(strstr(r.body, "<h1>mcpd</h1>"));
    assert_false(has_pictograph(r.body));
    assert_non_null(strstr(r.body, "</html>"));
    free(r.resp);
    free(req);
}

static void test_degraded_page_ignores_if_none_match(void **state)
{
    const struct web_page_state degraded = {true, "http://auth.example"};
    char header[128];
    snprintf(header, sizeof header, "If-None-Match: %s\r\n", asset("/index.html")->etag);
    char *req = request_text("GET", "/", header);
    struct reply r = request(&degraded, req);
    assert_int_equal(th_status(r.resp), 200);
    assert_non_null(strstr(r.body, "degraded-banner"));
    free(r.resp);
    free(req);
}

static void test_other_methods_get_405_with_allow(void **state)
{
    const struct web_page_state healthy = {false, NULL};
    char *req = request_text("POST", "/styles.css", "Content-Length: 0\r\n");
    struct reply r = request(&healthy, req);
    assert_int_equal(th_status(r.resp), 405);
    expect_header(r.resp, "Allow", "GET, HEAD");
    free(r.resp);
    free(req);
}

static void test_unknown_paths_are_declined(void **state)
{
    const struct web_page_state healthy = {false, NULL};
    const char *paths[] = {"/index.html", "/nope", "/styles.css/", "/mcp"};
    for (size_t i = 0; i < 4; i++) {
        char *req = request_text("GET", paths[i], NULL);
        struct reply r = request(&healthy, req);
        assert_int_equal(th_status(r.resp), 404);
        assert_memory_equal(r.body, "declined", 8);
        free(r.resp);
        free(req);
        assert_false(web_is_page(paths[i]));
    }
    assert_true(web_is_page("/"));
    assert_true(web_is_page("/mcp-logo.png"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_asset_is_served_with_its_bytes_and_type),
        cmocka_unit_test(test_page_says_what_mcpd_is),
        cmocka_unit_test(test_etag_is_strong_and_quoted),
        cmocka_unit_test(test_matching_if_none_match_gets_304),
        cmocka_unit_test(test_head_gets_headers_without_body),
        cmocka_unit_test(test_degraded_page_has_escaped_banner_after_body),
        cmocka_unit_test(test_degraded_page_ignores_if_none_match),
        cmocka_unit_test(test_other_methods_get_405_with_allow),
        cmocka_unit_test(test_unknown_paths_are_declined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
