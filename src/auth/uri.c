/* URI component splitting and the authorization server's URI acceptance rules (see uri.h). */
#include "auth/uri.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
static size_t scheme_length(const char *s)
{
    if (!isalpha((unsigned char)s[0]))
        return 0;
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    return s[i] == ':' ? i : 0;
}

static bool copy_lower(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        return false;
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[len] = '\0';
    return true;
}

/* authority = [ userinfo "@" ] host [ ":" port ], between "//" and the path. */
static bool parse_authority(const char *a, size_t len, struct oauth_uri *u)
{
    const char *at = memchr(a, '@', len);
    if (at) {
        u->has_userinfo = true;
        len -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    size_t host_len = len;
    if (len > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', len);
        if (!close)
            return false;
        host_len = (size_t)(close - a) + 1;
    } else {
        const char *colon = memchr(a, ':', len);
        if (colon)
            host_len = (size_t)(colon - a);
    }
    if (!copy_lower(u->host, sizeof u->host, a, host_len))
        return false;
    if (host_len < len) {
        if (a[host_len] != ':')
            return false;
        long port = 0;
        for (size_t i = host_len + 1; i < len; i++) {
            if (!isdigit((unsigned char)a[i]) || (port = port * 10 + (a[i] - '0')) > 65535)
                return false;
        }
        u->port = host_len + 1 < len ? (int)port : -1;
    }
    return true;
}

bool oauth_uri_parse(const char *s, struct oauth_uri *u)
{
    memset(u, 0, sizeof *u);
    u->port = -1;
    size_t total = strlen(s);
    size_t slen = scheme_length(s);
    if (slen == 0 || total > OAUTH_URI_MAX || !copy_lower(u->scheme, sizeof u->scheme, s, slen))
        return false;
    for (size_t i = 0; i < total; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f) /* RFC 3986 has no raw spaces, controls or non-ASCII */
            return false;
    }
    const char *p = s + slen + 1;
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        size_t alen = strcspn(p, "/?#");
        u->has_authority = true;
        if (!parse_authority(p, alen, u))
            return false;
        p += alen;
    }
    u->path_off = (size_t)(p - s);
    u->path_len = strcspn(p, "?#");
    u->has_query = p[u->path_len] == '?';
    u->has_fragment = strchr(p, '#') != NULL;
    return true;
}

bool oauth_uri_scheme_dangerous(const struct oauth_uri *u)
{
    return !strcmp(u->scheme, "javascript") || !strcmp(u->scheme, "data") ||
           !strcmp(u->scheme, "vbscript");
}

bool oauth_uri_host_loopback(const struct oauth_uri *u)
{
    return !strcmp(u->host, "localhost") || !strcmp(u->host, "127.0.0.1") ||
           !strcmp(u->host, "[::1]");
}

bool oauth_redirect_uri_valid(const char *s, const char **why)
{
    struct oauth_uri u;
    *why = NULL;
    if (!oauth_uri_parse(s, &u))
        *why = "redirect_uri must be an absolute URI";
    else if (oauth_uri_scheme_dangerous(&u))
        *why = "redirect_uri scheme is not allowed";
    else if (u.has_fragment)
        *why = "redirect_uri must not contain a fragment";
    else if (u.has_userinfo)
        *why = "redirect_uri must not contain user information";
    else if (!strcmp(u.scheme, "https") && u.host[0] == '\0')
        *why = "redirect_uri must have a host";
    else if (!strcmp(u.scheme, "http") && !oauth_uri_host_loopback(&u))
        *why = "http redirect_uri is only allowed for localhost, 127.0.0.1 or [::1]";
    else if (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0 &&
             !strchr(u.scheme, '.'))
        *why = "redirect_uri must use https, loopback http, or a reverse-domain private scheme";
    return *why == NULL;
}

bool oauth_http_url_valid(const char *s)
{
    struct oauth_uri u;
    return oauth_uri_parse(s, &u) && (!strcmp(u.scheme, "https") || !strcmp(u.scheme, "http")) &&
           u.host[0] != '\0' && !u.has_userinfo;
}

bool oauth_resource_valid(const char *s)
{
    struct oauth_uri u;
    return oauth_http_url_valid(s) && oauth_uri_parse(s, &u) && !u.has_fragment;
}

char *oauth_issuer_metadata_url(const char *issuer)
{
    struct oauth_uri u;
    if (!issuer || !oauth_uri_parse(issuer, &u) || !u.has_authority)
        return NULL;
    const char *path = issuer + u.path_off;
    size_t path_len = strlen(path);
    if (path_len == 1 && path[0] == '/') /* "http://h/" when written by code, not config */
        path_len = 0;
    size_t n = u.path_off + sizeof OAUTH_AS_METADATA_PATH + path_len;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s%s%.*s", (int)u.path_off, issuer, OAUTH_AS_METADATA_PATH,
                 (int)path_len, path);
    return out;
}
