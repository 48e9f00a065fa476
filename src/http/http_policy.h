/*
 * http_policy: the browser-facing rules every mcpd listener applies: Host and Origin validation
 * (DNS-rebinding protection), CORS for the routes that allow cross-origin use, and the security
 * headers the reference server documents. Pure functions over a request and a policy; no I/O, no
 * MCP.
 */
#ifndef MCPD_HTTP_HTTP_POLICY_H
#define MCPD_HTTP_HTTP_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http_server.h"

#define HTTP_POLICY_MAX_HOSTS 16

struct http_policy {
    /* Host header values accepted (host or host:port, lower-case). When the server binds a
     * loopback address this holds localhost, 127.0.0.1 and [::1] (any port) plus the host of
     * BASE_URI; an empty list accepts any Host (public binds behind a proxy). */
    char *allowed_hosts[HTTP_POLICY_MAX_HOSTS];
    size_t allowed_host_count;
    bool any_port; /* accept the listed hosts with any port */
    /* Origins accepted (scheme://host[:port]); an Origin whose host is an allowed host is
     * accepted too. A request without Origin is always accepted (non-browser clients). */
    char *allowed_origins[HTTP_POLICY_MAX_HOSTS];
    size_t allowed_origin_count;
    /* What a browser may read and send cross-origin, as comma-separated header lists. The role
     * that owns the listener names its own protocol headers here (borrowed, static strings);
     * http_policy_init sets the generic defaults below. */
    const char *cors_expose_headers;
    const char *cors_allow_headers;
};

#define HTTP_POLICY_EXPOSE_DEFAULT "WWW-Authenticate"
#define HTTP_POLICY_ALLOW_DEFAULT  "Content-Type, Authorization, Last-Event-ID, Accept"

/* Build the policy for a listener bound to bind_host; base_uri (may be NULL) adds its host and
 * origin; extra_origins is a comma-separated list (may be NULL). */
int http_policy_init(struct http_policy *p, const char *bind_host, const char *base_uri,
                     const char *extra_origins);
void http_policy_free(struct http_policy *p);

bool http_policy_host_allowed(const struct http_policy *p, const struct http_request *req);
bool http_policy_origin_allowed(const struct http_policy *p, const struct http_request *req);

/* The Content-Security-Policy of mcpd's pages. Over https it adds upgrade-insecure-requests and
 * block-all-mixed-content (the reference server's values); over http those would make a browser
 * fetch the page's own stylesheet and images by https, which fails at any host but loopback. */
#define HTTP_POLICY_CSP_BASE                                                                       \
    "default-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; "          \
    "base-uri 'self'"
#define HTTP_POLICY_CSP_HTTPS                                                                      \
    HTTP_POLICY_CSP_BASE "; upgrade-insecure-requests; block-all-mixed-content"
#define HTTP_POLICY_HSTS "max-age=31536000; includeSubDomains"

/* True when url's scheme is https (case-insensitive); false for NULL. A role passes its public
 * URL (BASE_URI, AUTH_SERVER_URL): that, not the socket, is what browsers see. */
bool http_policy_url_is_https(const char *url);
/* HTTP_POLICY_CSP_HTTPS or HTTP_POLICY_CSP_BASE. */
const char *http_policy_csp(bool https);

/* Adds X-Content-Type-Options, X-Frame-Options and Content-Security-Policy (http_policy_csp) as
 * default headers, and Strict-Transport-Security only when https: HSTS received over http is
 * ignored (RFC 6797 §8.1), and one sent for a name later served over http locks browsers out. */
void http_policy_add_security_headers(struct http_server *s, bool https);
/* Strict-Transport-Security alone, when https: for a role whose pages set their own CSP. */
void http_policy_add_hsts(struct http_server *s, bool https);

/* CORS on an actual response: reflect an allowed Origin, Vary: Origin, credentials, and expose
 * p->cors_expose_headers. Does nothing without an Origin header. */
void http_policy_cors(struct http_exchange *ex, const struct http_policy *p);
/* Answer an OPTIONS preflight (204) allowing GET, POST, DELETE, OPTIONS and
 * p->cors_allow_headers. Finishes the exchange. */
int http_policy_preflight(struct http_exchange *ex, const struct http_policy *p);

bool http_host_is_loopback(const char *host);

#endif
