/*
 * verifier_respond: the HTTP answers of the resource-server role, built in one place so that
 * every route gets the same challenge and the same degraded-mode body. The byte-exact bodies
 * are the reference server's (docs/reference-server.md); the challenge parameters from RFC 6750 §3
 * and RFC 9728 §5.1, plus the scope hint MCP 2025-11-25 asks for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/verifier.h"
#include "auth/verifier_internal.h"
#include "lib/buf.h"
#include "app/config.h"
#include "http/http_response.h"
#include "lib/json.h"

#define CHALLENGE_MAX 2048

static const char UNAVAILABLE_HINT[] =
    "The authentication server is not responding. Please ensure it is running and try again.";

/* Append s as the inside of an RFC 7230 quoted-string. Our messages are constants without
 * quotes; escaping anyway keeps a future message from breaking the header. */
static void append_quoted(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            buf_append_char(b, '\\');
        buf_append_char(b, *s);
    }
}

/* 401 invalid_token, or 403 insufficient_scope (RFC 6750 §3.1), with the challenge naming the
 * metadata and the scope to ask for. */
static void reject_token(struct verifier *v, struct http_exchange *ex,
                         const struct verifier_result *res, enum verifier_resource resource)
{
    bool forbidden = res->status == VERIFIER_FORBIDDEN;
    const char *error = forbidden ? "insufficient_scope" : "invalid_token";
    const char *msg = res->error_description ? res->error_description : "Invalid token";
    struct buf h;
    buf_init(&h, CHALLENGE_MAX);
    buf_append_str(&h, "Bearer ");
    /* RFC 6750 §3.1: a request without credentials gets no error code. */
    if (res->token_present) {
        buf_printf(&h, "error=\"%s\", error_description=\"", error);
        append_quoted(&h, msg);
        buf_append_str(&h, "\", ");
    }
    buf_printf(&h, "resource_metadata=\"%s\", scope=\"%s\"", v->prm_url[resource],
               VERIFIER_REQUIRED_SCOPE);
    http_response_header(ex, "WWW-Authenticate", h.data ? h.data : "Bearer");
    buf_free(&h);
    /* The body keeps the reference server's invalid_token for a missing header too. */
    http_respond_json(ex, forbidden ? 403 : 401,
                      json_pack("{s:s,s:s}", "error", error, "error_description", msg));
}

static void reject_unavailable(struct verifier *v, struct http_exchange *ex)
{
    json_t *body =
        json_pack("{s:s,s:{s:i,s:s,s:{s:s,s:s}},s:n}", "jsonrpc", "2.0", "error", "code", -32000,
                  "message", "Authentication service unavailable", "data", "authServerUrl",
                  v->cfg->auth_server_url, "hint", UNAVAILABLE_HINT, "id");
    http_respond_json(ex, 503, body);
}

void verifier_reject(struct verifier *v, struct http_exchange *ex,
                     const struct verifier_result *res, enum verifier_resource resource)
{
    if (res->status == VERIFIER_UNAVAILABLE)
        reject_unavailable(v, ex);
    else
        reject_token(v, ex, res, resource);
}

const char *verifier_resource_path(enum verifier_resource resource)
{
    static const char *const path[VERIFIER_RESOURCE_COUNT] = {[VERIFIER_RESOURCE_ROOT] = "",
                                                              [VERIFIER_RESOURCE_MCP] = "/mcp",
                                                              [VERIFIER_RESOURCE_SSE] = "/sse"};
    return path[resource];
}

bool verifier_prm_path(const char *path, enum verifier_resource *resource)
{
    static const char prefix[] = "/.well-known/oauth-protected-resource";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *rest = path + sizeof prefix - 1;
    for (size_t i = 0; i < VERIFIER_RESOURCE_COUNT; i++) {
        enum verifier_resource r = (enum verifier_resource)i;
        if (strcmp(rest, verifier_resource_path(r)) == 0) {
            *resource = r;
            return true;
        }
    }
    return false;
}

void verifier_serve_prm(struct verifier *v, struct http_exchange *ex,
                        enum verifier_resource resource)
{
    /* The SDK client requires resource to match the URL it connects to by origin and path
     * prefix, hence one document per path; they differ in nothing else. */
    json_t *doc =
        json_pack("{s:s,s:[s],s:[s],s:[s],s:s}", "resource", v->resource[resource],
                  "authorization_servers", v->issuer, "scopes_supported", VERIFIER_REQUIRED_SCOPE,
                  "bearer_methods_supported", "header", "resource_name", "mcpd");
    http_respond_json(ex, 200, doc);
}

void verifier_serve_as_metadata(struct verifier *v, struct http_exchange *ex)
{
    if (!verifier_available(v) || !v->metadata) {
        http_respond_json(ex, 503,
                          json_pack("{s:s,s:s}", "error", "service_unavailable",
                                    "error_description",
                                    "Authentication server is currently unavailable. Please "
                                    "try again later."));
        return;
    }
    http_respond(ex, 200, "application/json", v->metadata, v->metadata_len);
}

const char *verifier_prm_url(const struct verifier *v, enum verifier_resource resource)
{
    return v->prm_url[resource];
}
