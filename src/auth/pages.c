/* The consent, mock IdP and root pages, their escaping and the Accept choice (see pages.h). */
#include "auth/pages.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/grants.h"

#define PAGE_LIMIT (256 * 1024)

int oauth_html_escape(struct buf *out, const char *s)
{
    int rc = BUF_OK;
    for (const char *p = s; rc == BUF_OK && *p; p++) {
        switch (*p) {
        case '&':
            rc = buf_append_str(out, "&amp;");
            break;
        case '<':
            rc = buf_append_str(out, "&lt;");
            break;
        case '>':
            rc = buf_append_str(out, "&gt;");
            break;
        case '"':
            rc = buf_append_str(out, "&quot;");
            break;
        case '\'':
            rc = buf_append_str(out, "&#39;");
            break;
        case '`':
            rc = buf_append_str(out, "&#96;");
            break;
        case '=':
            rc = buf_append_str(out, "&#61;");
            break;
        default:
            rc = buf_append_char(out, *p);
        }
    }
    return rc;
}

static const char page_style[] =
    "<style>body{font-family:system-ui,-apple-system,sans-serif;background:#fafafa;color:#111;"
    "display:flex;justify-content:center;align-items:center;min-height:100vh;margin:0;"
    "padding:16px;box-sizing:border-box}"
    ".card{background:#fff;border:1px solid #ddd;border-radius:12px;padding:32px;"
    "max-width:480px;width:100%;box-sizing:border-box;box-shadow:0 1px 3px rgba(0,0,0,.08)}"
    "@media (max-width:480px){.card{padding:20px}}"
    ".logo{display:flex;align-items:center;gap:10px;font-weight:700;font-size:18px}"
    ".logo img{width:40px;height:40px}h1{font-size:24px;margin:16px 0 8px}"
    ".box{border:1px solid #ddd;border-radius:8px;padding:4px 12px;margin:16px 0}"
    ".row{padding:8px 0}.row+.row{border-top:1px solid #eee}"
    ".label{display:block;font-size:12px;text-transform:uppercase;letter-spacing:.04em;"
    "color:#555;margin-bottom:4px}.value{font-family:ui-monospace,monospace;word-break:break-all}"
    "input{font:inherit;width:100%;box-sizing:border-box;padding:10px;border:1px solid #999;"
    "border-radius:8px}.actions{display:flex;gap:12px;margin-top:20px}"
    ".button{display:inline-block;background:#111;color:#fff;padding:12px 22px;border-radius:8px;"
    "text-decoration:none;border:1px solid #111;cursor:pointer;font-size:15px}"
    ".secondary{background:#fff;color:#111}.footer{margin-top:24px;font-size:12px;color:#555}"
    "</style>";

/* The page head, the card and its logo line; title and heading are ours (not escaped). */
static int page_open(struct buf *b, const char *title, const char *brand)
{
    return buf_printf(b,
                      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                      "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">"
                      "<title>%s</title>%s</head><body><main class=\"card\">"
                      "<div class=\"logo\"><img src=\"/mcp-logo.png\" alt=\"\"><span>%s</span>"
                      "</div>",
                      title, page_style, brand);
}

static int page_close(struct buf *b, const char *footer)
{
    return buf_printf(b, "<div class=\"footer\">%s</div></main></body></html>\n", footer);
}

/* One labelled detail box; value escaped, NULL shown as "(none)". */
static int detail(struct buf *b, const char *label, const char *value)
{
    int rc = buf_printf(b, "<div class=\"row\"><div class=\"label\">%s</div><div class=\"value\">",
                        label);
    if (rc == BUF_OK)
        rc = oauth_html_escape(b, value ? value : "(none)");
    return rc == BUF_OK ? buf_append_str(b, "</div></div>") : rc;
}

/* scheme://HOST[:port]/... -> HOST[:port] into out (at most size-1 bytes); "" when not a URL. */
static void uri_host(const char *uri, char *out, size_t size)
{
    const char *p = strstr(uri, "://");
    size_t n = 0;
    if (p) {
        p += 3;
        const char *at = p + strcspn(p, "@/?#");
        if (*at == '@') /* userinfo is not the host */
            p = at + 1;
        n = strcspn(p, "/?#");
    }
    if (n >= size)
        n = size - 1;
    memcpy(out, p ? p : "", n);
    out[n] = '\0';
}

/* A metadata document client's URL as "scheme://host/…" (the path left out: the host is who
 * vouches for the document), into out. */
static void uri_origin_ellipsis(const char *uri, char *out, size_t size)
{
    char host[256];
    const char *sep = strstr(uri, "://");
    uri_host(uri, host, sizeof host);
    snprintf(out, size, "%.*s://%s/\u2026", sep ? (int)(sep - uri) : 0, uri, host);
}

/* The client's rows: name and id, and for a metadata document client where it came from. */
static int consent_client(struct buf *b, const struct oauth_consent *c)
{
    char from[300];
    int rc = detail(b, "Client Application", c->client_name ? c->client_name : c->client_id);
    if (rc == BUF_OK && c->client_is_url) {
        uri_origin_ellipsis(c->client_id, from, sizeof from);
        rc = detail(b, "Client metadata from", from);
    }
    if (rc == BUF_OK)
        rc = detail(b, "Client ID", c->client_id);
    return rc;
}

char *oauth_page_consent(const struct oauth_consent *c)
{
    struct buf b;
    char host[256];
    buf_init(&b, PAGE_LIMIT);
    uri_host(c->redirect_uri, host, sizeof host);
    int rc = page_open(&b, "MCP Server Authorization", "MCP");
    if (rc == BUF_OK)
        rc = buf_append_str(&b, "<h1>Authorization Required</h1><p>A client application wants "
                                "to connect to your MCP server on your behalf.</p>");
    if (rc == BUF_OK && c->client_is_url)
        rc = buf_append_str(&b, "<p id=\"cimd\">This client did not register here: it is "
                                "identified by the URL of its metadata document, and its name "
                                "is what that document says. Trust it as far as you trust the "
                                "site that serves the document.</p>");
    if (rc == BUF_OK)
        rc = buf_append_str(&b, "<div class=\"box\">");
    /* Client data is escaped, '=' included, so the first "state=" is the Allow link's. */
    if (rc == BUF_OK)
        rc = consent_client(&b, c);
    if (rc == BUF_OK)
        rc = detail(&b, "Redirects to", host[0] ? host : c->redirect_uri);
    if (rc == BUF_OK)
        rc = detail(&b, "Requested Scope", c->scope);
    if (rc == BUF_OK)
        rc = detail(&b, "Resource", c->resource);
    if (rc == BUF_OK)
        rc = buf_append_str(
            &b, "</div><p>Allow sends you to the identity provider to sign in; the client then "
                "receives access to this MCP server. Deny sends you back to the client with no "
                "access.</p>");
    /* The code is 64 hex digits we generated. */
    if (rc == BUF_OK)
        rc = buf_printf(&b,
                        "<p class=\"actions\"><a class=\"button\" id=\"allow\" "
                        "href=\"/mock-upstream-idp/authorize?redirect_uri=/mock-upstream-idp/"
                        "callback&amp;state=%s\">Allow</a> <a class=\"button secondary\" "
                        "id=\"deny\" href=\"" OAUTH_DENY_PATH "?code=%s\">Deny</a></p>",
                        c->code, c->code);
    if (rc == BUF_OK)
        rc = page_close(&b, "Model Context Protocol (MCP) Server");
    if (rc != BUF_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* A plain form: GET to the callback with the pending authorization (state), the upstream code
 * and the user's name. No script. */
char *oauth_page_idp(const char *redirect_uri, const char *state)
{
    struct buf b;
    buf_init(&b, PAGE_LIMIT);
    int rc = page_open(&b, "Upstream Provider Authentication", "Mock identity provider");
    if (rc == BUF_OK)
        rc = buf_append_str(&b, "<h1>Sign in</h1><p>This mock identity provider signs in "
                                "whoever you say you are: the name becomes the token's subject "
                                "and the owner of the MCP sessions it opens.</p>"
                                "<form method=\"get\" action=\"");
    if (rc == BUF_OK)
        rc = oauth_html_escape(&b, redirect_uri);
    if (rc == BUF_OK)
        rc = buf_append_str(&b, "\"><input type=\"hidden\" name=\"state\" value=\"");
    if (rc == BUF_OK)
        rc = oauth_html_escape(&b, state);
    if (rc == BUF_OK)
        rc = buf_printf(&b,
                        "\"><input type=\"hidden\" name=\"code\" value=\"mock-auth-code\">"
                        "<label class=\"label\" for=\"user\">User name</label>"
                        "<input id=\"user\" name=\"userId\" value=\"demo user\" required "
                        "maxlength=\"%d\" autocomplete=\"username\">"
                        "<p class=\"actions\"><button class=\"button\" id=\"complete\" "
                        "type=\"submit\">Sign in</button></p></form>",
                        OAUTH_SUB_MAX);
    if (rc == BUF_OK)
        rc = page_close(&b, "Use another name to act as another user.");
    if (rc != BUF_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

char *oauth_page_error(int status, const char *error, const char *description)
{
    struct buf b;
    buf_init(&b, PAGE_LIMIT);
    int rc = page_open(&b, "Authorization Error", "MCP");
    if (rc == BUF_OK)
        rc = buf_printf(&b, "<h1>Authorization failed</h1><p>The authorization request cannot "
                            "go on, and the application that sent you here cannot be told "
                            "safely, so you are not sent back to it.</p><div class=\"box\">");
    if (rc == BUF_OK)
        rc = detail(&b, "Error", error);
    if (rc == BUF_OK)
        rc = detail(&b, "Description", description);
    if (rc == BUF_OK)
        rc = buf_printf(&b, "</div><p>Start again from the application. HTTP status %d.</p>",
                        status);
    if (rc == BUF_OK)
        rc = page_close(&b, "Model Context Protocol (MCP) Server");
    if (rc != BUF_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* The root page, in the splash page's look: its markup uses the classes of /styles.css (served
 * by this role too), so no inline style is needed. */
char *oauth_page_root(const char *metadata_url, const char *version)
{
    struct buf b;
    buf_init(&b, PAGE_LIMIT);
    int rc = buf_append_str(
        &b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n"
            "  <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "  <title>mcpd: OAuth 2.1 authorization server</title>\n"
            "  <link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">\n"
            "  <link rel=\"stylesheet\" href=\"/styles.css\">\n</head>\n<body>\n"
            "  <header class=\"hero\">\n    <img class=\"logo\" src=\"/mcp-logo.png\" "
            "width=\"128\" height=\"128\" alt=\"MCP logo\">\n"
            "    <h1>mcpd authorization server</h1>\n    <p class=\"tagline\">The OAuth 2.1 "
            "authorization server of mcpd, a Model Context Protocol server written in C. It "
            "registers MCP clients, signs users in through its mock identity provider and "
            "issues the access tokens mcpd's MCP server accepts.</p>\n  </header>\n  <main>\n"
            "    <section class=\"endpoints\">\n      <h2>Nothing to do here</h2>\n"
            "      <p>You do not open this server yourself: an MCP client finds it from the MCP "
            "server's 401 answer, registers, and sends your browser to its consent page. Its "
            "endpoints are listed in the authorization server metadata (RFC 8414):</p>\n"
            "      <p class=\"metadata\"><a href=\"");
    if (rc == BUF_OK)
        rc = oauth_html_escape(&b, metadata_url);
    if (rc == BUF_OK)
        rc = buf_append_str(&b, "\">");
    if (rc == BUF_OK)
        rc = oauth_html_escape(&b, metadata_url);
    if (rc == BUF_OK)
        rc = buf_append_str(
            &b,
            "</a></p>\n      <ul>\n"
            "        <li><span class=\"method post\">POST</span><code>/register</code>\n"
            "          <span class=\"desc\">Dynamic client registration (RFC 7591)</span></li>\n"
            "        <li><span class=\"method get\">GET</span><code>/authorize</code>\n"
            "          <span class=\"desc\">Authorization code with PKCE S256: the consent "
            "page</span></li>\n"
            "        <li><span class=\"method post\">POST</span><code>/token</code>\n"
            "          <span class=\"desc\">Tokens for a code or a refresh token</span></li>\n"
            "        <li><span class=\"method post\">POST</span><code>/revoke</code>\n"
            "          <span class=\"desc\">Token revocation (RFC 7009)</span></li>\n"
            "        <li><span class=\"method post\">POST</span><code>/introspect</code>\n"
            "          <span class=\"desc\">Token introspection for the MCP server (RFC "
            "7662)</span></li>\n      </ul>\n    </section>\n  </main>\n  <footer>\n"
            "    <p>mcpd ");
    if (rc == BUF_OK)
        rc = oauth_html_escape(&b, version);
    if (rc == BUF_OK)
        rc = buf_append_str(&b, "</p>\n  </footer>\n</body>\n</html>\n");
    if (rc != BUF_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* A qvalue (RFC 9110 §12.4.2) in thousandths; 1000 when absent, -1 when malformed. */
static int parse_qvalue(const char *params)
{
    const char *q = params;
    for (; (q = strchr(q, ';')) != NULL; q++) {
        const char *p = q + 1 + strspn(q + 1, " \t");
        if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
            p += 2;
            if (*p != '0' && *p != '1')
                return -1;
            int v = (*p - '0') * 1000;
            if (*++p == '.')
                for (int scale = 100; scale && *++p >= '0' && *p <= '9'; scale /= 10)
                    v += (*p - '0') * scale;
            return v > 1000 ? -1 : v;
        }
    }
    return 1000;
}

/* The q accept gives type ("text/html"): that of the most specific matching range. */
static int accept_q(const char *accept, const char *type)
{
    size_t major = strcspn(type, "/");
    int best = 0, q = 0;
    for (const char *p = accept; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        char item[128];
        if (n > 0 && n < sizeof item) {
            memcpy(item, p, n);
            item[n] = '\0';
            size_t rlen = strcspn(item, "; \t");
            int spec = 0;
            if (rlen == strlen(type) && strncasecmp(item, type, rlen) == 0)
                spec = 3;
            else if (rlen == major + 2 && strncasecmp(item, type, major + 1) == 0 &&
                     item[major + 1] == '*')
                spec = 2;
            else if (rlen == 3 && strncmp(item, "*/*", 3) == 0)
                spec = 1;
            int v = spec > best ? parse_qvalue(item + rlen) : -1;
            if (v >= 0) {
                best = spec;
                q = v;
            }
        }
        p += n;
    }
    return q;
}

bool oauth_accept_prefers_html(const char *accept)
{
    return accept && accept_q(accept, "text/html") > accept_q(accept, "application/json");
}
