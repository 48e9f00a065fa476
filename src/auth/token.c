/* POST /token (RFC 6749 §4.1.3, §6), /revoke (RFC 7009) and /introspect (RFC 7662). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/server_internal.h"
#include "auth/uri.h"
#include "app/config.h"
#include "lib/crypto.h"
#include "http/http_response.h"
#include "lib/json.h"
#include "lib/log.h"
#include "store/store.h"

/* ------------------------------------------------------------------------------- /token --- */

static void on_tokens(void *arg, const struct oauth_error *err,
                      const struct oauth_token_response *t)
{
    struct auth_req *r = arg;
    if (err) {
        auth_reply_oauth(r, err);
        return;
    }
    /* RFC 6749 §5.1; scope is returned because it may differ from what was asked. */
    json_t *body = json_pack("{s:s}", "access_token", t->access_token);
    if (t->refresh_token)
        json_object_set_new(body, "refresh_token", json_string(t->refresh_token));
    json_object_set_new(body, "expires_in", json_integer((json_int_t)t->expires_in));
    json_object_set_new(body, "token_type", json_string("Bearer"));
    json_object_set_new(body, "scope", json_string(t->scope));
    http_response_header(r->ex, "Pragma", "no-cache");
    /* A client that completed a code exchange is in use: it keeps its registration longer. */
    const char *grant = auth_param(r, "grant_type");
    if (grant && strcmp(grant, "authorization_code") == 0) {
        struct oauth_client_limits lim = auth_client_limits(r->s->cfg);
        oauth_client_mark_used(r->s->store, r->client, &lim);
    }
    auth_reply_json(r, 200, body);
}

static void token_authenticated(struct auth_req *r)
{
    const char *grant = auth_param(r, "grant_type");
    const char *resource = auth_param(r, "resource");
    struct oauth_token_request t = {
        r->client->id,
        auth_param(r, "code"),
        auth_param(r, "code_verifier"),
        auth_param(r, "redirect_uri"),
        auth_param(r, "refresh_token"),
        auth_param(r, "scope"),
        resource,
        r->client->refresh_allowed,
    };
    if (!grant) {
        auth_reply_error(r, 400, "invalid_request", "grant_type is required");
    } else if (resource && !oauth_resource_valid(resource)) {
        auth_reply_error(r, 400, "invalid_target", "resource must be an absolute URI");
    } else if (!strcmp(grant, "authorization_code")) {
        if (!t.code)
            auth_reply_error(r, 400, "invalid_request", "code is required");
        else if (!t.code_verifier)
            auth_reply_error(r, 400, "invalid_request", "code_verifier is required");
        else
            oauth_grants_exchange_code(r->s->grants, &t, on_tokens, r);
    } else if (!strcmp(grant, "refresh_token")) {
        if (!r->client->refresh_allowed)
            auth_reply_error(r, 400, "unauthorized_client",
                             "The client is not registered for the refresh_token grant");
        else if (!t.refresh_token)
            auth_reply_error(r, 400, "invalid_request", "refresh_token is required");
        else
            oauth_grants_refresh(r->s->grants, &t, on_tokens, r);
    } else {
        auth_reply_error(r, 400, "unsupported_grant_type",
                         "The grant type is not supported by this authorization server.");
    }
}

void auth_handle_token(struct auth_req *r)
{
    const char *why = auth_read_params(r);
    if (why) {
        auth_reply_error(r, 400, "invalid_request", why);
        return;
    }
    auth_authenticate_client(r, token_authenticated);
}

/* ------------------------------------------------------------------------------ /revoke --- */

static void on_revoked(void *arg, int status)
{
    struct auth_req *r = arg;
    if (status != STORE_OK) {
        auth_reply_error(r, 503, "temporarily_unavailable", "Token revocation failed");
        return;
    }
    auth_reply_json(r, 200, json_object()); /* RFC 7009 §2.2: 200, also for unknown tokens */
}

static void revoke_authenticated(struct auth_req *r)
{
    const char *token = auth_param(r, "token");
    if (!token) {
        auth_reply_error(r, 400, "invalid_request", "token is required");
        return;
    }
    oauth_grants_revoke(r->s->grants, r->client->id, token, auth_param(r, "token_type_hint"),
                        on_revoked, r);
}

void auth_handle_revoke(struct auth_req *r)
{
    const char *why = auth_read_params(r);
    if (why) {
        auth_reply_error(r, 400, "invalid_request", why);
        return;
    }
    auth_authenticate_client(r, revoke_authenticated);
}

/* -------------------------------------------------------------------------- /introspect --- */

static void on_introspected(void *arg, json_t *result)
{
    auth_reply_json(arg, 200, result);
}

/* RFC 7662 §2.1: the protected resource authenticates. We use a bearer secret shared with the
 * MCP role; the digests are compared so neither content nor length leaks. */
bool auth_introspect_caller_ok(const struct auth_req *r)
{
    const char *secret = r->s->cfg->introspection_secret;
    if (!secret || !secret[0])
        return true; /* warned about once at startup */
    const char *h = http_request_header(r->req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    uint8_t want[CRYPTO_SHA256_SIZE], got[CRYPTO_SHA256_SIZE];
    crypto_sha256(secret, strlen(secret), want);
    crypto_sha256(h + 7, strlen(h + 7), got);
    return crypto_equal(want, sizeof want, got, sizeof got);
}

void auth_handle_introspect(struct auth_req *r)
{
    if (!auth_introspect_caller_ok(r)) {
        http_response_header(r->ex, "WWW-Authenticate", "Bearer realm=\"mcpd\"");
        auth_reply_error(r, 401, "invalid_client", "Introspection requires authentication");
        return;
    }
    const char *why = auth_read_params(r);
    const char *token = auth_param(r, "token");
    if (why)
        auth_reply_error(r, 400, "invalid_request", why);
    else if (!token)
        auth_reply_error(r, 400, "invalid_request", "Missing token parameter");
    else
        oauth_grants_introspect(r->s->grants, token, on_introspected, r);
}
