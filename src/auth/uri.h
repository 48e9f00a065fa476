/*
 * uri: the small part of RFC 3986 the authorization server needs to judge URIs it is handed:
 * registered redirect URIs (RFC 6749 §3.1.2, RFC 8252 §7), RFC 8707 resource indicators and the
 * configured issuer (RFC 8414 §2). It splits an absolute URI into its components without
 * decoding or normalising anything, because redirect URIs are compared as exact strings
 * (OAuth 2.1 §2.3.1). Knows nothing of HTTP or of the store.
 */
#ifndef MCPD_AUTH_URI_H
#define MCPD_AUTH_URI_H

#include <stdbool.h>
#include <stddef.h>

#define OAUTH_URI_MAX 2048 /* longest URI accepted anywhere (redirect, resource, metadata) */

struct oauth_uri {
    char scheme[32]; /* lower-cased */
    char host[256];  /* as written, lower-cased; IPv6 literals keep their brackets */
    int port;        /* -1 when absent */
    bool has_authority;
    bool has_userinfo;
    bool has_query;
    bool has_fragment;
    size_t path_off; /* offset of the path in the original string */
    size_t path_len;
};

/* Parse an absolute URI (scheme ":" ...). false when it is not one or a part is too long. */
bool oauth_uri_parse(const char *s, struct oauth_uri *u);
/* javascript:, data: and vbscript: can run script when used as a navigation target. */
bool oauth_uri_scheme_dangerous(const struct oauth_uri *u);
/* localhost, 127.0.0.1 or [::1]. */
bool oauth_uri_host_loopback(const struct oauth_uri *u);
/* An acceptable redirect URI: absolute, no fragment (RFC 6749 §3.1.2), no userinfo, https, or
 * http on a loopback host (RFC 8252 §7.3), or a private-use scheme in reverse-domain form
 * (RFC 8252 §7.1: it must contain a period). On refusal *why names the reason. */
bool oauth_redirect_uri_valid(const char *s, const char **why);
/* An RFC 8707 resource indicator: an absolute http(s) URI without a fragment (§2). */
bool oauth_resource_valid(const char *s);
/* An http(s) URL with a host (client_uri, logo_uri, ...). */
bool oauth_http_url_valid(const char *s);

/* RFC 8414 §3.1: the metadata URL of an issuer, the well-known segment inserted between its
 * origin and its path ("https://h/t" -> "https://h/.well-known/oauth-authorization-server/t").
 * The issuer is taken as configured (config.c has removed its trailing slashes). NULL when it is
 * not an absolute URL with an authority, or out of memory; else malloc'd. */
#define OAUTH_AS_METADATA_PATH "/.well-known/oauth-authorization-server"
char *oauth_issuer_metadata_url(const char *issuer);

#endif
