/*
 * verifier: the resource-server side of OAuth for the MCP role. It checks bearer tokens (RFC 6750
 * §2.1) by RFC 7662 introspection at the configured authorization server, caches the answers per
 * SHA-256 of the token (positive ones at most introspection_cache_ms and never past the token's
 * exp, negative ones at most 5 s), and tracks whether the AS is reachable: unavailable until its
 * RFC 8414 metadata has been fetched, and again whenever introspection fails at the network
 * level, re-checking every auth_check_interval_ms until it answers (as the reference server, minus
 * its give-up after 5 tries). It also writes the responses that belong to this role: the 401
 * challenge with WWW-Authenticate (RFC 6750 §3, RFC 9728 §5.1), the degraded-mode 503, the RFC
 * 9728 protected resource metadata and the AS metadata proxy. It knows
 * the resource URIs it protects, not MCP sessions or routes: the server decides which routes need
 * a token and which resource a route's challenge names. Tokens never reach a log line or a cache
 * key.
 */
#ifndef MCPD_AUTH_VERIFIER_H
#define MCPD_AUTH_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http/http_server.h"

struct config;
struct logger;
struct verifier;

/* The resource URIs this server answers for, each with its own RFC 9728 metadata document. A
 * client checks that the metadata's resource is a prefix of the URL it connects to, so a client
 * of the legacy transport (which connects to /sse) needs a document whose resource is /sse. */
enum verifier_resource {
    VERIFIER_RESOURCE_ROOT, /* BASE_URI */
    VERIFIER_RESOURCE_MCP,  /* BASE_URI/mcp: Streamable HTTP */
    VERIFIER_RESOURCE_SSE,  /* BASE_URI/sse: legacy HTTP+SSE (/sse and /message) */
    VERIFIER_RESOURCE_COUNT
};

#define VERIFIER_OK          0
#define VERIFIER_INVALID     401 /* absent, malformed, inactive, expired or foreign token */
#define VERIFIER_FORBIDDEN   403 /* a good token without the scope MCP requires */
#define VERIFIER_UNAVAILABLE 503 /* the AS is unreachable: degraded mode */

#define VERIFIER_REQUIRED_SCOPE "mcp" /* what every MCP route requires of a token */

#define VERIFIER_CACHE_MAX         100000 /* cached token hashes */
#define VERIFIER_NEGATIVE_CACHE_MS 5000   /* a refused token is re-asked after this */
#define VERIFIER_HTTP_TIMEOUT_MS   5000   /* introspection and metadata requests */

struct verifier_result {
    int status; /* VERIFIER_OK, VERIFIER_INVALID, VERIFIER_FORBIDDEN or VERIFIER_UNAVAILABLE */
    const char *error_description; /* why, for the 401/503 body; NULL when status is OK */
    bool token_present;            /* an Authorization header was sent (RFC 6750 §3.1: the
                                      challenge carries error= only then) */
    /* On VERIFIER_OK only, else NULL / 0. Borrowed: valid until the callback returns. */
    const char *sub;       /* user id: sub, else userId, else "unknown" */
    const char *client_id; /* client_id, else "unknown" */
    const char *scope;     /* space-separated, "" when absent */
    double exp;            /* expiry, seconds since the epoch */
};

typedef void (*verifier_fn)(void *arg, const struct verifier_result *res);

/* New verifier; cfg (base_uri, auth_server_url, introspection_secret, introspection_cache_ms,
 * auth_check_interval_ms) and log are borrowed and must outlive it. Unavailable until
 * verifier_start's first metadata fetch succeeds. NULL on allocation failure. */
struct verifier *verifier_new(uv_loop_t *loop, const struct config *cfg, struct logger *log);
/* Fetch {AUTH_SERVER_URL}/.well-known/oauth-authorization-server in the background, retrying
 * every auth_check_interval_ms until it answers 2xx with a JSON object. */
void verifier_start(struct verifier *v);
bool verifier_available(const struct verifier *v);
/* Bearer checks so far answered from the token cache (hits) and by introspection (misses). */
void verifier_cache_stats(const struct verifier *v, uint64_t *hits, uint64_t *misses);

/* Check the request's bearer token and call fn once with the outcome. fn runs before this
 * returns when the answer needs no introspection (no or malformed header, cached result, AS
 * unavailable), else later from the loop; concurrent checks of one uncached token share one
 * introspection. The request is read only during this call. */
void verifier_check(struct verifier *v, const struct http_request *req, verifier_fn fn, void *arg);

/* Answer a failed check (finishes the exchange). 401: WWW-Authenticate: Bearer [error=
 * "invalid_token", error_description="…", ]resource_metadata="<metadata URL of resource>",
 * scope="mcp" and an OAuth error body. 503: the reference server's JSON-RPC body. */
void verifier_reject(struct verifier *v, struct http_exchange *ex,
                     const struct verifier_result *res, enum verifier_resource resource);
/* Which metadata document a request path asks for: /.well-known/oauth-protected-resource (ROOT),
 * its /mcp and /sse variants. False for any other path. */
bool verifier_prm_path(const char *path, enum verifier_resource *resource);
/* RFC 9728 protected resource metadata of resource (200). */
void verifier_serve_prm(struct verifier *v, struct http_exchange *ex,
                        enum verifier_resource resource);
/* The AS metadata exactly as fetched (200), or the 503 service_unavailable error while
 * unavailable. */
void verifier_serve_as_metadata(struct verifier *v, struct http_exchange *ex);
/* The metadata URL of resource, as a 401 challenge names it (borrowed). */
const char *verifier_prm_url(const struct verifier *v, enum verifier_resource resource);

/* Stop: checks waiting on an introspection get VERIFIER_UNAVAILABLE before this returns, and
 * later checks get it at once; done(arg) runs from the loop once every handle is closed, after
 * which the verifier is freed. done may be NULL. */
void verifier_close(struct verifier *v, void (*done)(void *arg), void *arg);

#endif
