/* GET/POST /authorize (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2). */
#include <stdlib.h>
#include <string.h>

#include "auth/cimd.h"
#include "auth/pages.h"
#include "auth/server_internal.h"
#include "auth/uri.h"
#include "lib/json.h"
#include "store/store.h"

/* Phase 2: the redirect URI is trusted, so errors go back to the client there (RFC 6749
 * §4.1.2.1), with the client's state whenever it sent one (the reference server dropped it for
 * some). */
static void redirect_error(struct auth_req *r, const char *error, const char *desc)
{
    struct buf b;
    buf_init(&b, 0);
    const char *state = auth_param(r, "state");
    int rc = buf_append_str(&b, r->redirect_uri);
    if (rc == BUF_OK)
        rc = auth_append_query(&b, "error", error);
    if (rc == BUF_OK)
        rc = auth_append_query(&b, "error_description", desc);
    if (rc == BUF_OK && state)
        rc = auth_append_query(&b, "state", state);
    if (rc == BUF_OK) /* RFC 9207 §2: error responses name the issuer too */
        rc = auth_append_query(&b, "iss", r->s->issuer);
    if (rc != BUF_OK) {
        buf_free(&b);
        auth_reply_error(r, 500, "server_error", "Internal Server Error");
        return;
    }
    auth_reply_redirect(r, b.data);
    buf_free(&b);
}

/* Without a scope the client gets what it registered, as long as that is something this server
 * grants (registration accepts any scope syntax); otherwise the default. */
static const char *effective_scope(const struct auth_req *r)
{
    const char *scope = auth_param(r, "scope");
    if (scope)
        return scope;
    return r->client->scope && oauth_scope_subset(r->client->scope, OAUTH_SUPPORTED_SCOPES)
               ? r->client->scope
               : OAUTH_DEFAULT_SCOPE;
}

static void on_code(void *arg, const struct oauth_error *err, const char *code)
{
    struct auth_req *r = arg;
    if (err) {
        redirect_error(r, err->error, err->description);
        return;
    }
    struct oauth_consent c = {.client_id = r->client->id,
                              .client_name = json_get_string(r->client->record, "client_name"),
                              .redirect_uri = r->redirect_uri,
                              .scope = effective_scope(r),
                              .resource = auth_param(r, "resource"),
                              .code = code,
                              .client_is_url = oauth_cimd_is_url(r->client->id)};
    auth_reply_html(r, OAUTH_CONSENT_CSP, oauth_page_consent(&c));
}

/* The checks that are reported by redirect; NULL when the request is acceptable. */
static bool phase2_ok(struct auth_req *r)
{
    const char *response_type = auth_param(r, "response_type");
    const char *method = auth_param(r, "code_challenge_method");
    const char *challenge = auth_param(r, "code_challenge");
    const char *scope = auth_param(r, "scope");
    const char *resource = auth_param(r, "resource");
    if (!response_type)
        redirect_error(r, "invalid_request", "response_type is required");
    else if (strcmp(response_type, "code") != 0)
        redirect_error(r, "unsupported_response_type", "response_type must be code");
    else if (!method || strcmp(method, "S256") != 0) /* OAuth 2.1 §4.1.1: no "plain" */
        redirect_error(r, "invalid_request", "code_challenge_method must be S256");
    else if (!oauth_pkce_challenge_valid(challenge))
        redirect_error(r, "invalid_request", "code_challenge is missing or malformed");
    else if (scope && !oauth_scope_subset(scope, OAUTH_SUPPORTED_SCOPES))
        redirect_error(r, "invalid_scope",
                       "Unsupported scope (supported: " OAUTH_SUPPORTED_SCOPES ")");
    else if (scope && !oauth_client_scope_allowed(r->client, scope))
        redirect_error(r, "invalid_scope", "Client was not registered with the requested scope");
    else if (resource && !oauth_resource_valid(resource))
        redirect_error(r, "invalid_target", "resource must be an absolute URI without fragment");
    else
        return true;
    return false;
}

static void on_client(void *arg, int status, struct oauth_client *client)
{
    struct auth_req *r = arg;
    const char *redirect = auth_param(r, "redirect_uri");
    if (status != STORE_OK) {
        auth_reply_store_error(r, status);
        return;
    }
    /* Phase 1 (RFC 6749 §4.1.2.1): an unknown client or an unregistered redirect URI is never
     * redirected to. */
    if (!client) {
        auth_reply_page_error(r, 400, "invalid_client", "Invalid client_id");
        return;
    }
    r->client = client;
    if (redirect && !oauth_client_redirect_registered(client, redirect)) {
        auth_reply_page_error(r, 400, "invalid_request", "Unregistered redirect_uri");
        return;
    }
    if (!redirect && oauth_client_redirect_count(client) != 1) {
        auth_reply_page_error(r, 400, "invalid_request",
                              "redirect_uri must be specified when client has multiple registered "
                              "URIs");
        return;
    }
    r->redirect_uri = strdup(redirect ? redirect : oauth_client_redirect_at(client, 0));
    if (!r->redirect_uri) {
        auth_reply_error(r, 500, "server_error", "Internal Server Error");
        return;
    }
    if (!phase2_ok(r))
        return;
    const char *scope = effective_scope(r);
    struct oauth_authorization a = {
        client->id, r->redirect_uri,           auth_param(r, "code_challenge"),
        scope,      auth_param(r, "resource"), auth_param(r, "state"),
    };
    oauth_grants_authorize(r->s->grants, &a, on_code, r);
}

void auth_handle_authorize(struct auth_req *r)
{
    struct oauth_uri u;
    const char *why = auth_read_params(r);
    const char *client_id = auth_param(r, "client_id");
    const char *redirect = auth_param(r, "redirect_uri");
    const char *state = auth_param(r, "state");
    if (why)
        auth_reply_page_error(r, 400, "invalid_request", why);
    else if (!client_id)
        auth_reply_page_error(r, 400, "invalid_request", "client_id is required");
    else if (redirect && !oauth_uri_parse(redirect, &u))
        auth_reply_page_error(r, 400, "invalid_request", "redirect_uri must be a valid URL");
    else if (state && strlen(state) > OAUTH_STATE_MAX)
        auth_reply_page_error(r, 400, "invalid_request", "state is too long");
    else
        auth_load_client(r, client_id, on_client);
}
