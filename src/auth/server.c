/* The authorization server role: routing, CORS, rate limits, replies, metadata and /register
 * (see server.h). */
#include "auth/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/pages.h"
#include "auth/server_internal.h"
#include "auth/uri.h"
#include "app/config.h"
#include "http/http_response.h"
#include "lib/json.h"
#include "lib/log.h"
#include "store/store.h"
#include "web/web.h"
#include "lib/utf8.h"

/* The /register body bound when MAX_REGISTRATION_BYTES is 0 (configurations built in code). */
#define REGISTER_MAX_BODY (64 * 1024)

enum limiter { RL_NONE, RL_AUTHORIZE, RL_TOKEN, RL_REGISTER, RL_STATIC };

struct auth_route {
    const char *path;
    const char *allow;  /* the Allow header: methods this path answers */
    bool head;          /* HEAD is answered like GET */
    bool any_origin;    /* Access-Control-Allow-Origin: * (the SDK routes and mock IdP) */
    bool no_store;      /* Cache-Control: no-store (RFC 6749 §5.1, RFC 7591 §3.2.1) */
    enum limiter limit; /* which rate limiter counts it */
    auth_step_fn handle;
};

static void handle_health(struct auth_req *r);
static void handle_as_metadata(struct auth_req *r);
static void handle_pr_metadata(struct auth_req *r);
static void handle_register(struct auth_req *r);
static void handle_static(struct auth_req *r);
static void handle_root(struct auth_req *r);

/* The reference server's route list. */
static const struct auth_route routes[] = {
    {"/health", "GET, HEAD", true, false, false, RL_NONE, handle_health},
    {METRICS_PATH, "GET, HEAD", true, false, true, RL_NONE, auth_handle_metrics},
    {"/.well-known/oauth-authorization-server", "GET", false, true, false, RL_NONE,
     handle_as_metadata},
    {"/.well-known/oauth-protected-resource", "GET", false, true, false, RL_NONE,
     handle_pr_metadata},
    {"/register", "POST", false, true, true, RL_REGISTER, handle_register},
    {"/authorize", "GET, POST", true, false, true, RL_AUTHORIZE, auth_handle_authorize},
    {OAUTH_DENY_PATH, "GET", true, false, true, RL_AUTHORIZE, auth_handle_deny},
    {"/token", "POST", false, true, true, RL_TOKEN, auth_handle_token},
    {"/revoke", "POST", false, true, true, RL_TOKEN, auth_handle_revoke},
    {"/introspect", "POST", false, false, true, RL_TOKEN, auth_handle_introspect},
    {"/mock-upstream-idp/authorize", "GET", true, true, true, RL_AUTHORIZE, auth_handle_idp_page},
    {"/mock-upstream-idp/callback", "GET", true, true, true, RL_AUTHORIZE,
     auth_handle_idp_callback},
    {"/mcp-logo.png", "GET, HEAD", true, false, false, RL_STATIC, handle_static},
    {"/styles.css", "GET, HEAD", true, false, false, RL_STATIC, handle_static},
    {"/favicon.svg", "GET, HEAD", true, false, false, RL_STATIC, handle_static},
    {"/", "GET, HEAD", true, false, false, RL_STATIC, handle_root},
};

/* ------------------------------------------------------------------------------ replies --- */

static void server_finish(struct auth_server *s);

static void req_free(struct auth_req *r)
{
    struct auth_server *s = r->s;
    form_free(&r->params);
    oauth_client_free(r->client);
    free(r->redirect_uri);
    free(r);
    if (--s->inflight == 0 && s->http_closed)
        server_finish(s);
}

void auth_reply_json(struct auth_req *r, int status, json_t *body)
{
    http_respond_json(r->ex, status, body);
    req_free(r);
}

void auth_reply_error(struct auth_req *r, int status, const char *error, const char *desc)
{
    auth_reply_json(r, status, json_pack("{s:s,s:s}", "error", error, "error_description", desc));
}

void auth_reply_oauth(struct auth_req *r, const struct oauth_error *e)
{
    if (e->status == 500)
        auth_reply_store_error(r, STORE_ERR);
    else
        auth_reply_error(r, e->status, e->error, e->description);
}

void auth_reply_store_error(struct auth_req *r, int status)
{
    if (status == STORE_ERR_UNAVAILABLE || !store_healthy(r->s->store)) {
        http_response_header(r->ex, "Retry-After", "1"); /* the store reconnects within ~1 s */
        auth_reply_error(r, 503, "temporarily_unavailable",
                         "Service unavailable: the authorization store is unreachable");
    } else {
        auth_reply_error(r, 500, "server_error", "Internal Server Error");
    }
}

void auth_reply_invalid_client(struct auth_req *r, const char *desc)
{
    if (r->cred.basic) {
        http_response_header(r->ex, "WWW-Authenticate", "Basic realm=\"mcpd\"");
        auth_reply_error(r, 401, "invalid_client", desc);
    } else {
        /* the reference server's status for the post */
        auth_reply_error(r, 400, "invalid_client", desc);
    }
}

void auth_reply_html(struct auth_req *r, const char *csp, char *html)
{
    auth_reply_page(r, 200, csp, html);
}

void auth_reply_page(struct auth_req *r, int status, const char *csp, char *html)
{
    if (!html) {
        auth_reply_error(r, 500, "server_error", "Internal Server Error");
        return;
    }
    http_response_header(r->ex, "Content-Security-Policy", csp);
    http_respond(r->ex, status, "text/html; charset=utf-8", html, strlen(html));
    free(html);
    req_free(r);
}

void auth_reply_body(struct auth_req *r, int status, const char *content_type, const char *body,
                     size_t len)
{
    http_respond(r->ex, status, content_type, body, len);
    req_free(r);
}

void auth_reply_redirect(struct auth_req *r, const char *location)
{
    struct buf body;
    buf_init(&body, 0);
    buf_printf(&body, "Found. Redirecting to %s", location);
    http_response_header(r->ex, "Location", location);
    http_respond(r->ex, 302, "text/plain; charset=utf-8", body.data ? body.data : "", body.len);
    buf_free(&body);
    req_free(r);
}

int auth_append_query(struct buf *b, const char *name, const char *value)
{
    size_t size = 3 * strlen(value) + 1;
    char *enc = malloc(size);
    if (!enc || form_encode(value, enc, size) < 0) {
        free(enc);
        return BUF_ERR_NOMEM;
    }
    int rc = buf_printf(b, "%c%s=%s", b->data && strchr(b->data, '?') ? '&' : '?', name, enc);
    free(enc);
    return rc;
}

/* --------------------------------------------------------------------------- parameters --- */

static bool content_type_is(const struct http_request *req, const char *type)
{
    const char *ct = http_request_header(req, "Content-Type");
    size_t n = strlen(type);
    return ct && strncasecmp(ct, type, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

const char *auth_read_params(struct auth_req *r)
{
    const struct http_request *req = r->req;
    const char *why = NULL;
    int rc = FORM_OK;
    if (strcmp(req->method, "POST") != 0)
        rc = req->query ? form_parse(&r->params, req->query, strlen(req->query), 0, 0) : FORM_OK;
    else if (content_type_is(req, "application/x-www-form-urlencoded"))
        rc = form_parse(&r->params, req->body, req->body_len, 0, 0);
    else if (content_type_is(req, "application/json")) /* RFC 6749 §3.2, RFC 7009, RFC 7662 */
        why = "Content-Type must be application/x-www-form-urlencoded";
    /* Other bodies carry no parameters (the reference server reads them as {}). */
    if (rc == FORM_ERR_LIMIT)
        why = "Too many parameters or request too large";
    else if (rc != FORM_OK)
        why = "Malformed parameter encoding";
    if (!why && form_first_duplicate(&r->params))
        why = "Parameters must not be included more than once";
    return why;
}

const char *auth_param(const struct auth_req *r, const char *name)
{
    const char *v = form_get(&r->params, name);
    return v && *v ? v : NULL;
}

/* ------------------------------------------------------------------- client authentication --- */

static void on_client_authenticated(void *arg, int status, struct oauth_client *client)
{
    struct auth_req *r = arg;
    if (status != STORE_OK) {
        auth_reply_store_error(r, status);
        return;
    }
    if (!client) {
        auth_reply_invalid_client(r, "Invalid client_id");
        return;
    }
    r->client = client;
    const char *why = oauth_client_authenticate(client, &r->cred, (long long)time(NULL));
    if (why) {
        log_write(r->s->log, LOG_NOTICE, "client authentication failed",
                  json_pack("{s:s,s:s}", "client_id", client->id, "reason", why));
        auth_reply_invalid_client(r, why);
        return;
    }
    r->next(r);
}

static void on_cimd_client(void *arg, int status, struct oauth_client *client, const char *refusal)
{
    struct auth_req *r = arg;
    if (status == CIMD_BUSY) {
        http_response_header(r->ex, "Retry-After", "1");
        auth_reply_error(r, 503, "temporarily_unavailable",
                         "Too many client metadata documents are being fetched; try again");
    } else if (status != STORE_OK) {
        auth_reply_store_error(r, status);
    } else if (!client) {
        auth_reply_invalid_client(r, refusal ? refusal : "Invalid client_id");
    } else {
        r->client_cb(r, STORE_OK, client);
    }
}

void auth_load_client(struct auth_req *r, const char *client_id, oauth_client_cb cb)
{
    if (!oauth_cimd_is_url(client_id)) {
        oauth_client_load(r->s->store, client_id, cb, r);
    } else if (!r->s->cimd) {
        cb(r, STORE_OK, NULL); /* CIMD=0: a URL is just an unknown client */
    } else {
        r->client_cb = cb;
        cimd_load(r->s->cimd, client_id, on_cimd_client, r);
    }
}

void auth_authenticate_client(struct auth_req *r, auth_step_fn next)
{
    const char *why = NULL;
    const char *authz = http_request_header(r->req, "Authorization");
    if (oauth_credentials_parse(authz, form_get(&r->params, "client_id"),
                                form_get(&r->params, "client_secret"), &r->cred, &why) != 0) {
        r->cred.basic = authz && strncasecmp(authz, "Basic ", 6) == 0;
        if (r->cred.basic && strcmp(why, "Malformed Basic credentials") == 0)
            auth_reply_invalid_client(r, why);
        else
            auth_reply_error(r, 400, "invalid_request", why);
        return;
    }
    r->next = next;
    auth_load_client(r, r->cred.id, on_client_authenticated);
}

/* ------------------------------------------------------------------ health and metadata --- */

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s", a, b);
    return out;
}

/* {"metadata": ..., "authorize": ...} with the raw AUTH_SERVER_URL, as the reference server, and
 * the store's state. */
static void handle_health(struct auth_req *r)
{
    const char *base = r->s->cfg->auth_server_url;
    static const char *const names[] = {"metadata", "authorize", "token", "register", "introspect"};
    static const char *const paths[] = {"/.well-known/oauth-authorization-server", "/authorize",
                                        "/token", "/register", "/introspect"};
    json_t *endpoints = json_object();
    for (size_t i = 0; i < 5; i++) {
        char *url = join(base, paths[i]);
        json_object_set_new(endpoints, names[i], json_string(url ? url : ""));
        free(url);
    }
    /* Clients, codes and tokens all live in the store: without it nothing here works. */
    bool store_ok = store_healthy(r->s->store);
    auth_reply_json(r, store_ok ? 200 : 503,
                    json_pack("{s:s,s:s,s:s,s:o}", "status", store_ok ? "healthy" : "unhealthy",
                              "mode", "authorization-server", "store",
                              store_ok ? "operational" : "unavailable", "endpoints", endpoints));
}

static json_t *endpoint(const struct auth_server *s, const char *path)
{
    char *url = join(s->origin, path);
    json_t *v = json_string(url ? url : "");
    free(url);
    return v;
}

static json_t *as_metadata_core(const struct auth_server *s, json_t *methods)
{
    return json_pack(
        "{s:s,s:o,s:[s],s:[s],s:o,s:o,s:[ss],s:o,s:o,s:o,s:o,s:[s]}", "issuer", s->issuer,
        "authorization_endpoint", endpoint(s, "/authorize"), "response_types_supported", "code",
        "code_challenge_methods_supported", "S256", "token_endpoint", endpoint(s, "/token"),
        "token_endpoint_auth_methods_supported", json_deep_copy(methods), "grant_types_supported",
        "authorization_code", "refresh_token", "revocation_endpoint", endpoint(s, "/revoke"),
        "revocation_endpoint_auth_methods_supported", methods, "registration_endpoint",
        endpoint(s, "/register"), "introspection_endpoint", endpoint(s, "/introspect"),
        "scopes_supported", OAUTH_SUPPORTED_SCOPES);
}

/* RFC 8414 §2: the reference server's document plus what we support beyond it: Basic and
 * public clients, introspection (RFC 7662) and the one scope. S256 is always published: clients
 * must refuse an AS without it (MCP 2025-11-25). */
static void handle_as_metadata(struct auth_req *r)
{
    const struct auth_server *s = r->s;
    json_t *methods = json_pack("[sss]", "client_secret_post", "client_secret_basic", "none");
    json_t *doc = as_metadata_core(s, methods);
    /* RFC 9207 §3: every authorization response, error ones included, carries iss. */
    json_object_set_new(doc, "authorization_response_iss_parameter_supported", json_true());
    json_object_set_new(doc, "client_id_metadata_document_supported", json_boolean(s->cimd));
    auth_reply_json(r, 200, doc);
}

/* The SDK router's default: the AS described as a resource of its own. */
static void handle_pr_metadata(struct auth_req *r)
{
    auth_reply_json(
        r, 200,
        json_pack("{s:s,s:[s]}", "resource", r->s->issuer, "authorization_servers", r->s->issuer));
}

/* The pages' logo, stylesheet and icon, from the assets embedded in the binary. */
static void handle_static(struct auth_req *r)
{
    if (!web_serve(r->ex, NULL))
        auth_reply_error(r, 404, "not_found", "Not found");
    else
        req_free(r);
}

/* GET /: someone opened the server's URL. A browser gets a page saying what this is; any other
 * client a JSON document naming the metadata (where the reference server answered 404). */
static void handle_root(struct auth_req *r)
{
    char *metadata = join(r->s->origin, r->s->metadata_path);
    if (!metadata) {
        auth_reply_error(r, 500, "server_error", "Internal Server Error");
        return;
    }
    http_response_header(r->ex, "Vary", "Accept");
    if (oauth_accept_prefers_html(http_request_header(r->req, "Accept")))
        auth_reply_html(r, http_policy_csp(http_policy_url_is_https(r->s->cfg->auth_server_url)),
                        oauth_page_root(metadata, MCPD_VERSION));
    else
        auth_reply_json(r, 200,
                        json_pack("{s:s,s:s,s:s,s:s}", "server", "mcpd", "version", MCPD_VERSION,
                                  "issuer", r->s->issuer, "authorization_server_metadata",
                                  metadata));
    free(metadata);
}

/* ---------------------------------------------------------------------------- /register --- */

static void on_registered(void *arg, int status, json_t *response)
{
    struct auth_req *r = arg;
    if (status == OAUTH_REGISTER_FULL) {
        log_write(r->s->log, LOG_WARNING, "client registration refused: MAX_CLIENTS reached",
                  json_pack("{s:i,s:s}", "max_clients", (json_int_t)r->s->cfg->max_clients, "ip",
                            r->req->remote_addr));
        http_response_header(r->ex, "Retry-After", "3600");
        auth_reply_error(r, 503, "temporarily_unavailable",
                         "Too many client registrations; try again later");
        return;
    }
    if (status != STORE_OK || !response) {
        json_decref(response);
        auth_reply_store_error(r, status);
        return;
    }
    log_write(r->s->log, LOG_INFO, "client registered",
              json_pack("{s:s,s:s?}", "client_id", json_get_string(response, "client_id"),
                        "client_name", json_get_string(response, "client_name")));
    auth_reply_json(r, 201, response);
}

/* RFC 7591 §3.1: a JSON body; §3.2.2 errors. */
static size_t register_max_body(const struct config *cfg)
{
    return cfg->max_registration_bytes ? cfg->max_registration_bytes : REGISTER_MAX_BODY;
}

static void handle_register(struct auth_req *r)
{
    char desc[256];
    const char *error = "invalid_client_metadata";
    json_t *body = NULL;
    if (r->req->body_len > register_max_body(r->s->cfg)) {
        auth_reply_error(r, 413, error, "Registration request too large");
        return;
    }
    if (content_type_is(r->req, "application/json"))
        body = json_parse(r->req->body, r->req->body_len, NULL, 0);
    else
        /* the reference server reads other bodies as {}: "redirect_uris: Required" */
        body = json_object();
    json_t *meta = oauth_client_validate(body, &error, desc, sizeof desc);
    json_decref(body);
    if (!meta) {
        auth_reply_error(r, 400, error, desc);
        return;
    }
    struct oauth_client_limits lim = auth_client_limits(r->s->cfg);
    oauth_client_register(r->s->store, meta, &lim, on_registered, r);
}

struct oauth_client_limits auth_client_limits(const struct config *cfg)
{
    return (struct oauth_client_limits){cfg->client_ttl_s, cfg->unused_client_ttl_s,
                                        cfg->max_clients};
}

/* ------------------------------------------------------------------------------ routing --- */

/* CORS as the reference server: the origin reflected with credentials everywhere, '*' on the SDK
 * routes. The AS sets no cookies, so a reflected origin grants no ambient authority. */
static void add_cors(struct http_exchange *ex, const struct http_request *req, bool any_origin)
{
    const char *origin = http_request_header(req, "Origin");
    http_response_header(ex, "Vary", "Origin");
    http_response_header(ex, "Access-Control-Allow-Credentials", "true");
    if (any_origin)
        http_response_header(ex, "Access-Control-Allow-Origin", "*");
    else if (origin)
        http_response_header(ex, "Access-Control-Allow-Origin", origin);
}

static void preflight(struct http_exchange *ex, const struct http_request *req)
{
    const char *origin = http_request_header(req, "Origin");
    const char *headers = http_request_header(req, "Access-Control-Request-Headers");
    if (origin)
        http_response_header(ex, "Access-Control-Allow-Origin", origin);
    http_response_header(ex, "Access-Control-Allow-Credentials", "true");
    http_response_header(ex, "Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
    if (headers)
        http_response_header(ex, "Access-Control-Allow-Headers", headers);
    http_response_header(ex, "Vary", "Origin, Access-Control-Request-Headers");
    http_respond_empty(ex, 204);
}

static const struct auth_route *find_route(const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, path) == 0)
            return &routes[i];
    }
    return NULL;
}

static bool method_allowed(const struct auth_route *rt, const char *method)
{
    if (!strcmp(method, "HEAD"))
        return rt->head;
    size_t n = strlen(method);
    for (const char *p = rt->allow; (p = strstr(p, method)) != NULL; p += n) {
        if ((p == rt->allow || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
            return true;
    }
    return false;
}

static const struct ratelimit *limiter_for(const struct auth_server *s, enum limiter l)
{
    switch (l) {
    case RL_AUTHORIZE:
        return &s->rl_authorize;
    case RL_TOKEN:
        return &s->rl_token;
    case RL_REGISTER:
        return &s->rl_register;
    case RL_STATIC:
        return &s->rl_static;
    case RL_NONE:
        break;
    }
    return NULL;
}

static void on_rate_checked(void *arg, const struct ratelimit_result *res)
{
    struct auth_req *r = arg;
    if (!res->allowed) {
        http_respond_rate_limited(r->ex, res->reset_s, r->limiter->description);
        req_free(r);
        return;
    }
    http_rate_limit_headers(r->ex, res->limit, res->remaining, res->reset_s);
    r->handle(r);
}

static void respond_method_not_allowed(struct http_exchange *ex, const struct auth_route *rt,
                                       const char *method)
{
    char desc[160];
    snprintf(desc, sizeof desc, "The method %.32s is not allowed for this endpoint", method);
    http_response_header(ex, "Allow", rt->allow);
    http_respond_json(
        ex, 405, json_pack("{s:s,s:s}", "error", "method_not_allowed", "error_description", desc));
}

/* The most body an endpoint can use, known from the head: a /register document past
 * MAX_REGISTRATION_BYTES, or a form past what the form parser takes, is refused whatever it
 * holds. 0: the server's limit. */
static size_t endpoint_max_body(const struct auth_server *s, const struct http_request *req)
{
    if (strcmp(req->path, "/register") == 0)
        return register_max_body(s->cfg);
    if (content_type_is(req, "application/x-www-form-urlencoded"))
        return FORM_DEFAULT_MAX_BYTES;
    return 0;
}

/* Head hook: refuse a body that is too large before reading it (413, with the /register body
 * handle_register gives), else read it (at most the endpoint's bound) and route as usual. */
static void on_head(struct http_exchange *ex, void *arg)
{
    struct auth_server *s = arg;
    const struct http_request *req = http_exchange_request(ex);
    size_t max = endpoint_max_body(s, req);
    const char *cl = http_request_header(req, "Content-Length");
    if (max && cl && strtoull(cl, NULL, 10) > max) {
        bool reg = strcmp(req->path, "/register") == 0;
        http_respond_json(ex, 413,
                          json_pack("{s:s,s:s}", "error",
                                    reg ? "invalid_client_metadata" : "invalid_request",
                                    "error_description",
                                    reg ? "Registration request too large"
                                        : "Too many parameters or request too large"));
        return;
    }
    http_exchange_continue(ex, max);
}

static void on_request(struct http_exchange *ex, void *arg)
{
    struct auth_server *s = arg;
    const struct http_request *req = http_exchange_request(ex);
    const struct auth_route *rt =
        find_route(strcmp(req->path, s->metadata_path) == 0 ? OAUTH_AS_METADATA_PATH : req->path);
    if (!http_policy_host_allowed(&s->hosts, req)) {
        http_respond_json(ex, 403,
                          json_pack("{s:s,s:s}", "error", "invalid_request", "error_description",
                                    "Forbidden: invalid Host header"));
        return;
    }
    if (strcmp(req->method, "OPTIONS") == 0) {
        preflight(ex, req);
        return;
    }
    add_cors(ex, req, rt && rt->any_origin);
    if (!rt) {
        char msg[256];
        char path[201];
        utf8_copy_prefix(path, sizeof path, req->path);
        snprintf(msg, sizeof msg, "Cannot %.16s %s", req->method, path);
        http_respond_json(ex, 404,
                          json_pack("{s:s,s:s}", "error", "not_found", "error_description", msg));
        return;
    }
    if (!method_allowed(rt, req->method)) {
        respond_method_not_allowed(ex, rt, req->method);
        return;
    }
    if (rt->no_store)
        http_response_header(ex, "Cache-Control", "no-store");
    struct auth_req *r = calloc(1, sizeof *r);
    if (!r) {
        http_respond_json(ex, 500, json_pack("{s:s}", "error", "server_error"));
        return;
    }
    s->inflight++;
    r->s = s;
    r->ex = ex;
    r->req = req;
    r->handle = rt->handle;
    /* The MCP role introspects every new token from one address; once it has proved the
     * shared secret it is a trusted resource server, not a client to throttle. */
    bool trusted = rt->handle == auth_handle_introspect && s->cfg->introspection_secret &&
                   s->cfg->introspection_secret[0] && auth_introspect_caller_ok(r);
    if (rt->limit != RL_NONE && !trusted) {
        r->limiter = limiter_for(s, rt->limit);
        ratelimit_check(s->store, r->limiter, req->remote_addr, on_rate_checked, r);
    } else {
        r->handle(r);
    }
}

/* --------------------------------------------------------------------------- lifecycle --- */

/* RFC 8414 §2: the issuer is https (we, like the reference server, let loopback hosts use http)
 * with no query or fragment. It is AUTH_SERVER_URL as configured (config.c removed trailing
 * slashes), byte for byte the string clients compare the metadata's issuer and the
 * authorization response's iss with (RFC 8414 §3.3, RFC 9207 §2.4); the reference server's
 * "http://host:port/" would fail both. Endpoints are absolute paths, so they sit at the origin's
 * root; the metadata is also served at its RFC 8414 §3.1 path when the issuer has a path. */
static int derive_issuer(struct auth_server *s, const char *url, char *err, size_t err_size)
{
    struct oauth_uri u;
    if (!url || !oauth_uri_parse(url, &u) || !u.has_authority || !u.host[0] ||
        (strcmp(u.scheme, "https") != 0 && strcmp(u.scheme, "http") != 0)) {
        snprintf(err, err_size, "AUTH_SERVER_URL is not an http(s) URL: %s", url ? url : "");
        return -1;
    }
    if ((strcmp(u.scheme, "https") != 0 && strcmp(u.host, "localhost") != 0 &&
         strcmp(u.host, "127.0.0.1") != 0 && strcmp(u.host, "[::1]") != 0) ||
        u.has_query || u.has_fragment) {
        snprintf(err, err_size, "Issuer URL must be HTTPS, without query or fragment: %s", url);
        return -1;
    }
    s->origin = strndup(url, u.path_off);
    s->issuer = strdup(url);
    char *metadata = oauth_issuer_metadata_url(url);
    s->metadata_path = metadata ? strdup(metadata + u.path_off) : NULL;
    free(metadata);
    if (!s->origin || !s->issuer || !s->metadata_path) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

static void set_limits(struct auth_server *s, const struct config *cfg)
{
    s->rl_authorize =
        (struct ratelimit){"authorize", cfg->rate_limit_authorize, 60000,
                           "You have exceeded the rate limit for authorization requests"};
    s->rl_token = (struct ratelimit){"token", cfg->rate_limit_token, 60000,
                                     "You have exceeded the rate limit for token requests"};
    s->rl_register =
        (struct ratelimit){"register", cfg->rate_limit_register, 60000,
                           "You have exceeded the rate limit for client registration requests"};
    s->rl_static = (struct ratelimit){"auth-static", cfg->rate_limit_static, 60000,
                                      "Static file rate limit exceeded"};
}

static void server_free(struct auth_server *s)
{
    if (s->cimd) /* only when its construction failed half-way: nothing is in flight */
        cimd_close(s->cimd, NULL, NULL);
    oauth_grants_free(s->grants);
    http_policy_free(&s->hosts);
    free(s->issuer);
    free(s->origin);
    free(s->metadata_path);
    free(s);
}

struct auth_server *auth_server_new(uv_loop_t *loop, const struct config *cfg, struct store *store,
                                    struct logger *log, char *err, size_t err_size)
{
    struct auth_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->store = store;
    s->log = log;
    set_limits(s, cfg);
    if (derive_issuer(s, cfg->auth_server_url, err, err_size) != 0) {
        server_free(s);
        return NULL;
    }
    if (http_policy_init(&s->hosts, cfg->host, cfg->auth_server_url, NULL) != 0) {
        snprintf(err, err_size, "out of memory");
        server_free(s);
        return NULL;
    }
    struct oauth_grants_config gc = {cfg->code_ttl_s, cfg->access_token_ttl_s,
                                     cfg->refresh_token_ttl_s, cfg->base_uri, cfg->auth_server_url};
    s->grants = oauth_grants_new(store, log, &gc);
    if (cfg->cimd_enabled && s->grants) {
        struct cimd_config cc = {cfg->cimd_timeout_ms, cfg->cimd_max_bytes,
                                 cfg->cimd_cache_s,    cfg->cimd_cache_max_s,
                                 cfg->cimd_ca_file,    cfg->cimd_allow_private != 0};
        if (!(s->cimd = cimd_new(loop, store, log, &cc))) {
            snprintf(err, err_size, "out of memory");
            server_free(s);
            return NULL;
        }
        if (cc.allow_private)
            log_msgf(log, LOG_WARNING,
                     "CIMD_ALLOW_PRIVATE=1: client metadata documents may be fetched from "
                     "internal addresses (for tests only)");
    }
    s->http = s->grants ? http_server_new(loop, &cfg->limits, log, on_request, s) : NULL;
    if (!s->http) {
        snprintf(err, err_size, "out of memory");
        server_free(s);
        return NULL;
    }
    http_server_set_head_hook(s->http, on_head, s);
    auth_metrics_init(s);
    http_server_set_status_hook(s->http, auth_on_status, s);
    /* The pages set their own CSP; these apply everywhere (HSTS only when browsers reach us by
     * https: AUTH_SERVER_URL's scheme). no-referrer keeps codes in page
     * URLs out of Referer headers (RFC 9700 §4.2.4). */
    http_server_add_default_header(s->http, "X-Content-Type-Options", "nosniff");
    http_server_add_default_header(s->http, "Referrer-Policy", "no-referrer");
    http_policy_add_hsts(s->http, http_policy_url_is_https(cfg->auth_server_url));
    if (!cfg->introspection_secret || !cfg->introspection_secret[0])
        log_msgf(log, LOG_WARNING,
                 "INTROSPECTION_SECRET is not set: /introspect answers anyone (RFC 7662 §2.1 "
                 "asks for authentication)");
    return s;
}

int auth_server_listen(struct auth_server *s)
{
    return http_server_listen_host(s->http, s->cfg->host, s->cfg->auth_port);
}

int auth_server_port(const struct auth_server *s)
{
    return http_server_port(s->http);
}

/* Requests whose connections were dropped at the end of the grace period still wait on the
 * store; the grants and the server they use must outlive them. */
static void on_http_closed(void *arg)
{
    struct auth_server *s = arg;
    s->http = NULL;
    s->http_closed = true;
    if (s->inflight == 0)
        server_finish(s);
}

static void on_cimd_closed(void *arg)
{
    struct auth_server *s = arg;
    void (*done)(void *) = s->done;
    void *done_arg = s->done_arg;
    server_free(s);
    if (done)
        done(done_arg);
}

/* Every request is answered; the metadata fetcher's handles close before the server is freed. */
static void server_finish(struct auth_server *s)
{
    struct cimd *c = s->cimd;
    s->cimd = NULL;
    if (c)
        cimd_close(c, on_cimd_closed, s);
    else
        on_cimd_closed(s);
}

void auth_server_shutdown(struct auth_server *s, void (*done)(void *arg), void *arg)
{
    s->done = done;
    s->done_arg = arg;
    http_server_shutdown(s->http, s->cfg->shutdown_grace_ms, on_http_closed, s);
}
