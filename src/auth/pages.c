/* The consent and mock IdP pages and their escaping (see pages.h). */
#include "auth/pages.h"

#include <stdio.h>
#include <string.h>

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
