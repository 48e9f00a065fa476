/*
 * server internals shared by the authorization server's endpoint files: the role object, the
 * per-request state that travels through rate limiting, client loading and the grants, and the
 * reply helpers every endpoint answers through (so every error body is OAuth-shaped and every
 * reply frees the request state exactly once). server.c routes; authorize.c, token.c,
 * mock_idp.c and the register/metadata handlers in server.c answer. Not for use outside
 * src/auth/.
 */
#ifndef MCPD_AUTH_SERVER_INTERNAL_H
#define MCPD_AUTH_SERVER_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "auth/cimd.h"
#include "auth/clients.h"
#include "auth/grants.h"
#include "http/http_policy.h"
#include "lib/buf.h"
#include "lib/form.h"
#include "http/http_server.h"
#include "app/metrics.h"
#include "app/ratelimit.h"

struct config;
struct store;
struct logger;

struct auth_server {
    const struct config *cfg;
    struct store *store;
    struct logger *log;
    struct http_server *http;
    struct oauth_grants *grants;
    struct cimd *cimd;   /* metadata document clients; NULL when CIMD=0 */
    char *issuer;        /* AUTH_SERVER_URL as configured: the one issuer string (RFC 8414 §2) */
    char *origin;        /* scheme://host[:port] of AUTH_SERVER_URL: endpoints sit at its root */
    char *metadata_path; /* RFC 8414 §3.1 path of the metadata for this issuer */
    /* Host validation only: browser clients on other origins are this server's users (CORS),
     * but a request whose Host is not ours was sent to a rebound name (DNS rebinding). */
    struct http_policy hosts;
    struct ratelimit rl_authorize; /* /authorize and the mock IdP */
    struct ratelimit rl_token;     /* /token, /revoke, /introspect */
    struct ratelimit rl_register;  /* /register */
    struct ratelimit rl_static;    /* /, /mcp-logo.png, /styles.css, /favicon.svg */
    struct metrics metrics;        /* GET /metrics (observe.c) */
    unsigned inflight; /* requests not yet answered (their store operations are pending) */
    bool http_closed;  /* the listener is gone; free once inflight reaches 0 */
    void (*done)(void *);
    void *done_arg;
};

struct auth_req;
typedef void (*auth_step_fn)(struct auth_req *r);

/* One request from routing to its reply. */
struct auth_req {
    struct auth_server *s;
    struct http_exchange *ex;
    const struct http_request *req;
    auth_step_fn handle;             /* the route's handler, run once the rate limit allows */
    const struct ratelimit *limiter; /* what counted the request (the 429's description) */
    auth_step_fn next;               /* what runs after client authentication */
    struct form params;              /* query (GET) or body (POST) parameters */
    struct oauth_credentials cred;
    struct oauth_client *client; /* owned; loaded for /authorize, /token, /revoke */
    char *redirect_uri;          /* /authorize: the redirect URI in effect */
    oauth_client_cb client_cb;   /* auth_load_client's caller */
};

/* Parameters of the request into r->params: the query for GET, a form or JSON object body for
 * POST. NULL on success, else an invalid_request description (repeated parameters included,
 * RFC 6749 §3.1). */
const char *auth_read_params(struct auth_req *r);
/* Parameter value, NULL when absent or empty (an empty parameter is an omitted one, RFC 6749
 * §3.1). */
const char *auth_param(const struct auth_req *r, const char *name);

/* Replies. Each finishes the exchange and frees r. */
void auth_reply_json(struct auth_req *r, int status, json_t *body); /* steals body */
void auth_reply_error(struct auth_req *r, int status, const char *error, const char *desc);
/* A 500 server_error (every store failure below the routes) goes through
 * auth_reply_store_error. */
void auth_reply_oauth(struct auth_req *r, const struct oauth_error *e);
/* A store operation failed with status: while the store is unreachable (STORE_ERR_UNAVAILABLE,
 * or the store reports itself down) 503 temporarily_unavailable with Retry-After, else 500
 * server_error. */
void auth_reply_store_error(struct auth_req *r, int status);
void auth_reply_html(struct auth_req *r, const char *csp, char *html);             /* takes html */
void auth_reply_page(struct auth_req *r, int status, const char *csp, char *html); /* takes html */
/* A browser-facing error (/authorize before the redirect URI is trusted, the mock IdP): the HTML
 * error page when the request's Accept prefers text/html, else the OAuth JSON error. */
void auth_reply_page_error(struct auth_req *r, int status, const char *error, const char *desc);
void auth_reply_redirect(struct auth_req *r, const char *location);
void auth_reply_body(struct auth_req *r, int status, const char *content_type, const char *body,
                     size_t len);
/* invalid_client: 401 with a Basic challenge when the client tried Basic (RFC 6749 §5.2). */
void auth_reply_invalid_client(struct auth_req *r, const char *desc);

/* Append "?name=value" or "&name=value" (percent-encoded) to a URL being built in b. */
int auth_append_query(struct buf *b, const char *name, const char *value);

/* Load the client named client_id for r: a registered one from the store, or for an https URL
 * its metadata document (cimd.h). cb gets (r, status, client) as from oauth_client_load; a
 * metadata document that is refused, or that cannot be fetched now, is answered here
 * (invalid_client with the reason, or 503) and cb is not called. */
void auth_load_client(struct auth_req *r, const char *client_id, oauth_client_cb cb);

/* Authenticate the client from r->params and the Authorization header, load it into
 * r->client, then run next (or reply invalid_client / invalid_request). */
void auth_authenticate_client(struct auth_req *r, auth_step_fn next);

/* Registration bounds from the configuration (CLIENT_TTL_S, UNUSED_CLIENT_TTL_S, MAX_CLIENTS). */
struct oauth_client_limits auth_client_limits(const struct config *cfg);

/* The caller of /introspect presented INTROSPECTION_SECRET (always true when none is set). */
bool auth_introspect_caller_ok(const struct auth_req *r);

/* Endpoint handlers. */
void auth_handle_authorize(struct auth_req *r);
void auth_handle_token(struct auth_req *r);
void auth_handle_revoke(struct auth_req *r);
void auth_handle_introspect(struct auth_req *r);
void auth_handle_idp_page(struct auth_req *r);
void auth_handle_idp_callback(struct auth_req *r);
void auth_handle_deny(struct auth_req *r); /* the consent page's Deny (mock_idp.c) */
/* /metrics (observe.c): the counters, fed by auth_on_status (the HTTP status hook). */
void auth_metrics_init(struct auth_server *s);
void auth_on_status(void *arg, const struct http_request *req, int status);
void auth_handle_metrics(struct auth_req *r);

#endif
