/* The mock upstream IdP routes (see mock_idp.h). */
#include "auth/mock_idp.h"

#include <string.h>

#include "auth/grants.h"
#include "auth/pages.h"
#include "auth/server_internal.h"
#include "http/http_response.h"
#include "http/http_server.h"
#include "lib/log.h"
#include "store/store.h"

bool mock_idp_redirect_ok(const char *redirect_uri)
{
    /* "//host" and "/\host" are protocol-relative to browsers: another origin. */
    return redirect_uri[0] == '/' && redirect_uri[1] != '/' && redirect_uri[1] != '\\' &&
           strlen(redirect_uri) <= 1024;
}

bool mock_idp_user_id_ok(const char *user_id)
{
    size_t n = strlen(user_id);
    if (n == 0 || n > OAUTH_SUB_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)user_id; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

int mock_idp_location(struct buf *b, const char *redirect_uri, const char *code, const char *state,
                      const char *iss)
{
    int rc = buf_append_str(b, redirect_uri);
    if (rc == BUF_OK)
        rc = auth_append_query(b, "code", code);
    if (rc == BUF_OK && state)
        rc = auth_append_query(b, "state", state);
    if (rc == BUF_OK && iss)
        rc = auth_append_query(b, "iss", iss);
    return rc;
}

void auth_reply_page_error(struct auth_req *r, int status, const char *error, const char *desc)
{
    http_response_header(r->ex, "Vary", "Accept");
    if (oauth_accept_prefers_html(http_request_header(r->req, "Accept")))
        auth_reply_page(r, status, OAUTH_CONSENT_CSP, oauth_page_error(status, error, desc));
    else
        auth_reply_error(r, status, error, desc);
}

/* GET /mock-upstream-idp/authorize?redirect_uri=...&state=... */
void auth_handle_idp_page(struct auth_req *r)
{
    const char *why = auth_read_params(r);
    const char *redirect = auth_param(r, "redirect_uri");
    const char *state = auth_param(r, "state");
    if (!redirect)
        redirect = MOCK_IDP_CALLBACK_PATH;
    if (why)
        auth_reply_page_error(r, 400, "invalid_request", why);
    else if (!state || strlen(state) > OAUTH_STATE_MAX)
        auth_reply_page_error(r, 400, "invalid_request", "state is missing or too long");
    else if (!mock_idp_redirect_ok(redirect))
        auth_reply_page_error(r, 400, "invalid_request",
                              "redirect_uri must be a path on this server");
    else
        auth_reply_html(r, OAUTH_IDP_CSP, oauth_page_idp(redirect, state));
}

static void on_approved(void *arg, const struct oauth_error *err, const char *redirect_uri,
                        const char *state)
{
    struct auth_req *r = arg;
    struct buf b;
    if (err) {
        auth_reply_oauth(r, err);
        return;
    }
    buf_init(&b, 0);
    /* The code was the IdP's state; it goes back to the client as the code. */
    if (mock_idp_location(&b, redirect_uri, auth_param(r, "state"), state, r->s->issuer) !=
        BUF_OK) {
        buf_free(&b);
        auth_reply_error(r, 500, "server_error", "Internal Server Error");
        return;
    }
    auth_reply_redirect(r, b.data);
    buf_free(&b);
}

/* GET /mock-upstream-idp/callback?state={code}&code={upstream code}&userId={id}: the reference
 * server exchanged the upstream code and minted tokens here; we record who approved and mint at
 * /token, so no raw token is ever stored. */
void auth_handle_idp_callback(struct auth_req *r)
{
    const char *why = auth_read_params(r);
    const char *code = auth_param(r, "state");
    const char *user = auth_param(r, "userId");
    if (!user)
        user = MOCK_IDP_ANONYMOUS;
    if (why)
        auth_reply_page_error(r, 400, "invalid_request", why);
    else if (!code)
        auth_reply_page_error(r, 400, "invalid_request", "state is required");
    else if (!mock_idp_user_id_ok(user))
        auth_reply_page_error(r, 400, "invalid_request", "userId is malformed");
    else
        oauth_grants_approve(r->s->grants, code, user, on_approved, r);
}

static void on_denied(void *arg, const struct oauth_error *err, const char *redirect_uri,
                      const char *state)
{
    struct auth_req *r = arg;
    struct buf b;
    if (err) {
        if (err->status == 500)
            auth_reply_store_error(r, STORE_ERR);
        else
            auth_reply_page_error(r, err->status, err->error, err->description);
        return;
    }
    /* RFC 6749 §4.1.2.1: the user refused, told to the client at its redirect URI. */
    buf_init(&b, 0);
    int rc = buf_append_str(&b, redirect_uri);
    if (rc == BUF_OK)
        rc = auth_append_query(&b, "error", "access_denied");
    if (rc == BUF_OK)
        rc = auth_append_query(&b, "error_description", "The user denied the request");
    if (rc == BUF_OK && state)
        rc = auth_append_query(&b, "state", state);
    if (rc != BUF_OK) {
        buf_free(&b);
        auth_reply_error(r, 500, "server_error", "Internal Server Error");
        return;
    }
    log_write(r->s->log, LOG_INFO, "authorization denied", NULL);
    auth_reply_redirect(r, b.data);
    buf_free(&b);
}

/* GET /authorize/deny?code={code}: the consent page's Deny. The pending authorization is spent
 * (neither the IdP callback nor /token accepts its code afterwards) and the browser goes back to
 * the client with error=access_denied and the client's state. */
void auth_handle_deny(struct auth_req *r)
{
    const char *why = auth_read_params(r);
    const char *code = auth_param(r, "code");
    if (why)
        auth_reply_page_error(r, 400, "invalid_request", why);
    else if (!code)
        auth_reply_page_error(r, 400, "invalid_request", "code is required");
    else
        oauth_grants_deny(r->s->grants, code, on_denied, r);
}
