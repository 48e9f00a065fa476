/*
 * pages: the authorization server's HTML pages: the /authorize consent page (Allow, Deny), the
 * mock upstream IdP's sign-in form, the error page for browser-facing errors and the root page
 * (what this server is, for someone who opens its URL), with their Content-Security-Policy
 * values and the escaping every reflected value goes through (HTML text and attributes). None
 * runs script. The reference server put raw query values into a script (an XSS); here no request
 * value reaches a page unescaped. Knows nothing of HTTP or the store.
 */
#ifndef MCPD_AUTH_PAGES_H
#define MCPD_AUTH_PAGES_H

#include <stdbool.h>

#include "lib/buf.h"

/* The pages run no script. The consent and error pages submit no form; the IdP page's form goes
 * to its callback, which redirects to the client's redirect URI on another origin, and browsers
 * apply form-action to that redirect too, so the IdP page sets none. */
#define OAUTH_CONSENT_CSP                                                                          \
    "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'none'; "                    \
    "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; form-action 'self'; "        \
    "base-uri 'self'"
#define OAUTH_IDP_CSP                                                                              \
    "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'none'; "                    \
    "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'"

/* The consent page's Deny link: GET OAUTH_DENY_PATH?code={code}. */
#define OAUTH_DENY_PATH "/authorize/deny"

/* HTML-escape s for text and quoted attributes: & < > " ' ` and also '=' (so reflected text can
 * never contain the "state=" the e2e script looks for). Returns BUF_OK or BUF_ERR_*. */
int oauth_html_escape(struct buf *out, const char *s);

/* What the consent page shows of a pending authorization; every string is escaped. */
struct oauth_consent {
    const char *client_id;
    const char *client_name; /* NULL: the client registered none */
    const char *redirect_uri;
    const char *scope;
    const char *resource; /* the RFC 8707 resource asked for; NULL: none named */
    const char *code;     /* 64 hex, ours */
    bool client_is_url;   /* a Client ID Metadata Document client: client_id is its URL */
};

/* The consent page: the client (name and id; for a metadata document client also where its
 * metadata came from, scheme://host/…, and that its name is that document's claim), the host its
 * redirect URI names, the requested scope and resource, an "Allow" link to the mock IdP whose href
 * carries the code as the IdP's state (the first "state=" in the page: the e2e contract) and a
 * "Deny" link to OAUTH_DENY_PATH. The caller frees the result; NULL on allocation failure. */
char *oauth_page_consent(const struct oauth_consent *c);
/* The mock upstream IdP page: a plain form (no script) with a user name field ("demo user") that
 * GETs redirect_uri with state, code and userId. */
char *oauth_page_idp(const char *redirect_uri, const char *state);
/* A browser-facing error of the authorization server that cannot be sent back to the client
 * (unknown client, unregistered redirect URI, a bad IdP request): what went wrong, escaped. */
char *oauth_page_error(int status, const char *error, const char *description);

/* The root page: what this server is and a link to its metadata document (metadata_url, shown
 * escaped). It uses the splash page's /styles.css, so its CSP needs no 'unsafe-inline'
 * (http_policy_csp). The caller frees the result; NULL on allocation failure. */
char *oauth_page_root(const char *metadata_url, const char *version);

/* True when an Accept header value prefers text/html to application/json (RFC 9110 §12.5.1: the
 * most specific matching range gives a type its q; a tie, or no header, goes to JSON). A browser
 * lists text/html and then the any-type wildcard at q=0.8, so it gets HTML; curl sends only the
 * wildcard and an API client names JSON, so they get JSON. */
bool oauth_accept_prefers_html(const char *accept);

#endif
