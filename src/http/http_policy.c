/* Host/Origin validation, CORS and security headers shared by every mcpd listener. */
#include "http/http_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_response.h"

#define HOST_MAX 300

static char *dup_lower(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    return out;
}

static bool list_contains(char *const *list, size_t count, const char *s)
{
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(list[i], s) == 0)
            return true;
    }
    return false;
}

static int list_add(char **list, size_t *count, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    char *v = dup_lower(s, n);
    if (!v)
        return -1;
    if (list_contains(list, *count, v)) {
        free(v);
        return 0;
    }
    if (*count >= HTTP_POLICY_MAX_HOSTS) {
        free(v);
        return -1;
    }
    list[(*count)++] = v;
    return 0;
}

/* Split "host[:port]" or "[v6]:port" into the host part (with brackets) and the port text.
 * Returns false when the syntax is wrong. */
static bool split_host_port(const char *hp, char *host, size_t host_size, const char **port)
{
    const char *end;
    if (hp[0] == '[') {
        end = strchr(hp, ']');
        if (!end)
            return false;
        end++;
        if (*end && *end != ':')
            return false;
    } else {
        end = strchr(hp, ':');
        if (!end)
            end = hp + strlen(hp);
        else if (strchr(end + 1, ':'))
            return false;
    }
    size_t n = (size_t)(end - hp);
    if (n == 0 || n >= host_size)
        return false;
    memcpy(host, hp, n);
    host[n] = '\0';
    *port = *end == ':' ? end + 1 : NULL;
    if (*port && (!**port || strspn(*port, "0123456789") != strlen(*port)))
        return false;
    return true;
}

bool http_host_is_loopback(const char *host)
{
    if (!host)
        return false;
    char tmp[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof tmp)
            return false;
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    if (strcasecmp(host, "localhost") == 0 || strcasecmp(host, "localhost.") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return false;
}

/* Parse "scheme://host[:port]" (an optional path after it is ignored when allow_path). The
 * host[:port] part is returned in authority. */
static bool parse_origin(const char *origin, bool allow_path, char *authority, size_t size,
                         size_t *origin_len)
{
    const char *sep = strstr(origin, "://");
    if (!sep || sep == origin)
        return false;
    for (const char *c = origin; c < sep; c++) {
        if (!isalnum((unsigned char)*c) && *c != '+' && *c != '-' && *c != '.')
            return false;
    }
    const char *a = sep + 3;
    size_t n = strcspn(a, "/?#");
    if ((!allow_path && a[n]) || n == 0 || n >= size || memchr(a, '@', n))
        return false;
    memcpy(authority, a, n);
    authority[n] = '\0';
    *origin_len = (size_t)(a + n - origin);
    return true;
}

int http_policy_init(struct http_policy *p, const char *bind_host, const char *base_uri,
                     const char *extra_origins)
{
    memset(p, 0, sizeof *p);
    p->cors_expose_headers = HTTP_POLICY_EXPOSE_DEFAULT;
    p->cors_allow_headers = HTTP_POLICY_ALLOW_DEFAULT;
    bool loopback = http_host_is_loopback(bind_host);
    int rc = 0;
    if (loopback) {
        /* DNS-rebinding protection: a loopback server answers only to loopback names. */
        rc |= list_add(p->allowed_hosts, &p->allowed_host_count, "localhost", 9);
        rc |= list_add(p->allowed_hosts, &p->allowed_host_count, "127.0.0.1", 9);
        rc |= list_add(p->allowed_hosts, &p->allowed_host_count, "[::1]", 5);
        p->any_port = true;
    }
    char authority[HOST_MAX];
    size_t olen = 0;
    if (base_uri && parse_origin(base_uri, true, authority, sizeof authority, &olen)) {
        rc |= list_add(p->allowed_origins, &p->allowed_origin_count, base_uri, olen);
        if (loopback)
            rc |= list_add(p->allowed_hosts, &p->allowed_host_count, authority, strlen(authority));
    }
    for (const char *s = extra_origins; s && *s;) {
        size_t n = strcspn(s, ",");
        const char *start = s;
        while (n && isspace((unsigned char)*start)) {
            start++;
            n--;
        }
        while (n && isspace((unsigned char)start[n - 1]))
            n--;
        while (n && start[n - 1] == '/')
            n--; /* "https://a.example/" names the origin https://a.example */
        rc |= list_add(p->allowed_origins, &p->allowed_origin_count, start, n);
        s = start + strcspn(start, ",");
        if (*s == ',')
            s++;
    }
    if (rc) {
        http_policy_free(p);
        return -1;
    }
    return 0;
}

void http_policy_free(struct http_policy *p)
{
    for (size_t i = 0; i < p->allowed_host_count; i++)
        free(p->allowed_hosts[i]);
    for (size_t i = 0; i < p->allowed_origin_count; i++)
        free(p->allowed_origins[i]);
    memset(p, 0, sizeof *p);
}

/* host[:port] against the allowed list. An entry without a port, or any entry when any_port
 * is set, accepts the host with any port. */
static bool host_matches(const struct http_policy *p, const char *hp)
{
    char host[HOST_MAX], ehost[HOST_MAX];
    const char *port, *eport;
    if (!split_host_port(hp, host, sizeof host, &port))
        return false;
    for (size_t i = 0; i < p->allowed_host_count; i++) {
        if (!split_host_port(p->allowed_hosts[i], ehost, sizeof ehost, &eport))
            continue;
        if (strcasecmp(host, ehost) != 0)
            continue;
        if (p->any_port || !eport || (port && strcmp(port, eport) == 0))
            return true;
    }
    return false;
}

bool http_policy_host_allowed(const struct http_policy *p, const struct http_request *req)
{
    if (p->allowed_host_count == 0)
        return true;
    if (http_request_header_count(req, "Host") != 1)
        return false;
    return host_matches(p, http_request_header(req, "Host"));
}

bool http_policy_origin_allowed(const struct http_policy *p, const struct http_request *req)
{
    const char *origin = http_request_header(req, "Origin");
    if (!origin)
        return true;
    char authority[HOST_MAX];
    size_t olen = 0;
    /* "null" (sandboxed frames, file: pages) fails to parse and is foreign. */
    if (!parse_origin(origin, false, authority, sizeof authority, &olen))
        return false;
    if (list_contains(p->allowed_origins, p->allowed_origin_count, origin))
        return true;
    return p->allowed_host_count > 0 && host_matches(p, authority);
}

bool http_policy_url_is_https(const char *url)
{
    return url && strncasecmp(url, "https://", 8) == 0;
}

const char *http_policy_csp(bool https)
{
    return https ? HTTP_POLICY_CSP_HTTPS : HTTP_POLICY_CSP_BASE;
}

void http_policy_add_hsts(struct http_server *s, bool https)
{
    if (https)
        http_server_add_default_header(s, "Strict-Transport-Security", HTTP_POLICY_HSTS);
}

void http_policy_add_security_headers(struct http_server *s, bool https)
{
    http_server_add_default_header(s, "X-Content-Type-Options", "nosniff");
    http_server_add_default_header(s, "X-Frame-Options", "SAMEORIGIN");
    http_policy_add_hsts(s, https);
    http_server_add_default_header(s, "Content-Security-Policy", http_policy_csp(https));
}

void http_policy_cors(struct http_exchange *ex, const struct http_policy *p)
{
    const struct http_request *req = http_exchange_request(ex);
    const char *origin = http_request_header(req, "Origin");
    if (!origin)
        return;
    /* The answer depends on Origin even when it is refused, so caches must key on it. */
    http_response_header(ex, "Vary", "Origin");
    if (!http_policy_origin_allowed(p, req))
        return;
    http_response_header(ex, "Access-Control-Allow-Origin", origin);
    http_response_header(ex, "Access-Control-Allow-Credentials", "true");
    if (p->cors_expose_headers)
        http_response_header(ex, "Access-Control-Expose-Headers", p->cors_expose_headers);
}

int http_policy_preflight(struct http_exchange *ex, const struct http_policy *p)
{
    http_policy_cors(ex, p);
    const struct http_request *req = http_exchange_request(ex);
    if (http_request_header(req, "Origin") && http_policy_origin_allowed(p, req)) {
        http_response_header(ex, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        if (p->cors_allow_headers)
            http_response_header(ex, "Access-Control-Allow-Headers", p->cors_allow_headers);
        http_response_header(ex, "Access-Control-Max-Age", "86400");
    }
    return http_respond_empty(ex, 204);
}
