/* The consent, mock IdP and root pages, their escaping and the Accept choice (see pages.h). */
#include "auth/pages.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

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

int oauth_js_string(struct buf *out, const char *s)
{
    int rc = buf_append_char(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; rc == BUF_OK && *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            rc = buf_printf(out, "\\%c", c);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\'' || c == 0x7f) {
            /* < > & ' as \u escapes: "</script>" and "<!--" cannot end or alter the script. */
            rc = buf_printf(out, "\\u%04x", c);
        } else if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            rc = buf_printf(out, "\\u%04x", p[2] == 0xa8 ? 0x2028 : 0x2029); /* line breaks */
            p += 2;
        } else {
            rc = buf_append_char(out, (char)c);
        }
    }
    return rc == BUF_OK ? buf_append_char(out, '"') : rc;
}

static const char page_style[] =
    "<style>body{font-family:system-ui,-apple-system,sans-serif;background:#fff;color:#000;"
    "display:flex;justify-content:center;align-items:center;min-height:100vh;margin:0}"
    ".card{border:2px solid #000;border-radius:12px;padding:32px;max-width:460px;width:100%}"
    ".logo{display:flex;align-items:center;gap:10px;font-weight:700;font-size:20px}"
    ".logo img{width:40px;height:40px}.box{border:1px solid #000;border-radius:8px;padding:12px;"
    "margin:16px 0}.label{font-size:12px;text-transform:uppercase;color:#444}"
    ".value{font-family:monospace;word-break:break-all}.button{display:inline-block;background:#"
    "000;"
    "color:#fff;padding:12px 20px;border-radius:8px;text-decoration:none;border:0;cursor:pointer;"
    "font-size:15px}.secondary{background:#fff;color:#000;border:1px solid #000}"
    ".footer{margin-top:24px;font-size:12px;color:#444}</style>";

char *oauth_page_consent(const char *client_id, const char *client_name, const char *code)
{
    struct buf b;
    buf_init(&b, PAGE_LIMIT);
    int rc = buf_printf(&b,
                        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                        "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">"
                        "<title>MCP Server Authorization</title>%s</head><body><div class=\"card\">"
                        "<div class=\"logo\"><img src=\"/mcp-logo.png\" alt=\"\"><span>MCP</span>"
                        "</div><h1>Authorization Required</h1><p>A client application wants to "
                        "connect to your MCP server.</p>",
                        page_style);
    if (rc == BUF_OK)
        rc = buf_append_str(&b, "<div class=\"box\"><div class=\"label\">Client Application"
                                "</div><div class=\"value\">");
    /* Registered client data is escaped, '=' included, so the first "state=" is the link's. */
    if (rc == BUF_OK && client_name) {
        rc = oauth_html_escape(&b, client_name);
        if (rc == BUF_OK)
            rc = buf_append_str(&b, "</div><div class=\"value\">");
    }
    if (rc == BUF_OK)
        rc = oauth_html_escape(&b, client_id);
    if (rc == BUF_OK)
        rc = buf_append_str(
            &b, "</div></div><div class=\"box\"><div class=\"label\">What happens next?</div>"
                "<p>You will be sent to the upstream identity provider to sign in. After that, "
                "the client receives access to this MCP server on your behalf.</p></div>");
    /* The code is 64 hex digits we generated. */
    if (rc == BUF_OK)
        rc = buf_printf(&b,
                        "<p><a class=\"button\" href=\"/mock-upstream-idp/authorize?"
                        "redirect_uri=/mock-upstream-idp/callback&state=%s\">Continue to "
                        "Authentication</a></p><div class=\"footer\">Model Context Protocol "
                        "(MCP) Server</div></div></body></html>\n",
                        code);
    if (rc != BUF_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* The IdP page's behaviour; the two values it needs come first, as JSON
 * string literals. textContent (never innerHTML) shows the user id. */
static const char idp_script[] =
    "function newId(){if(window.crypto&&crypto.randomUUID)return crypto.randomUUID();"
    "return'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g,function(c){"
    "var r=Math.random()*16|0;return(c==='x'?r:(r&3|8)).toString(16);});}\n"
    "function userId(){var id=localStorage.getItem('mcpUserId');"
    "if(!id){id=newId();localStorage.setItem('mcpUserId',id);}return id;}\n"
    "function show(){document.getElementById('user-id').textContent=userId();}\n"
    "document.getElementById('generate').addEventListener('click',function(){"
    "localStorage.setItem('mcpUserId',newId());show();});\n"
    "document.getElementById('edit').addEventListener('click',function(){"
    "var v=prompt('Enter a user ID',userId());if(v&&v.trim()){"
    "localStorage.setItem('mcpUserId',v.trim());show();}});\n"
    "document.getElementById('complete').addEventListener('click',function(){"
    "var base=redirectUri.indexOf('http')===0?redirectUri:window.location.origin+redirectUri;"
    "var u=new URL(base);u.searchParams.set('state',state);"
    "u.searchParams.set('code','mock-auth-code');u.searchParams.set('userId',userId());"
    "window.location.href=u.toString();});\nshow();\n";

char *oauth_page_idp(const char *redirect_uri, const char *state)
{
    struct buf b;
    buf_init(&b, PAGE_LIMIT);
    int rc = buf_printf(
        &b,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">"
        "<title>Upstream Provider Authentication</title>%s</head><body><div class=\"card\">"
        "<div class=\"logo\"><span aria-hidden=\"true\">&#128274;</span><span>Upstream "
        "Provider</span></div><h1>Upstream Authentication</h1><p>Please verify your identity "
        "to continue.</p><div class=\"box\"><div class=\"label\">Your User Identity</div>"
        "<div class=\"value\" id=\"user-id\"></div></div><p><button class=\"button secondary\" "
        "id=\"generate\" type=\"button\">Generate New ID</button> <button class=\"button "
        "secondary\" id=\"edit\" type=\"button\">Edit ID</button></p><p><button class=\"button\" "
        "id=\"complete\" type=\"button\">Complete Authentication</button></p><div "
        "class=\"footer\">Open this page in other browsers or incognito windows to simulate "
        "different users.</div></div><script>var redirectUri=",
        page_style);
    if (rc == BUF_OK)
        rc = oauth_js_string(&b, redirect_uri);
    if (rc == BUF_OK)
        rc = buf_append_str(&b, ";var state=");
    if (rc == BUF_OK)
        rc = oauth_js_string(&b, state);
    if (rc == BUF_OK)
        rc = buf_printf(&b, ";\n%s</script></body></html>\n", idp_script);
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
