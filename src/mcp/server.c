#include "mcp/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "app/metrics.h"
#include "lib/hashmap.h"
#include "http/http_policy.h"
#include "http/http_response.h"
#include "lib/json.h"
#include "lib/log.h"
#include "app/ratelimit.h"
#include "auth/verifier.h"
#include "mcp/call.h"
#include "mcp/context.h"
#include "mcp/dispatch.h"
#include "mcp/jsonrpc.h"
#include "mcp/listen.h"
#include "mcp/session.h"
#include "mcp/transport_common.h"
#include "mcp/transport_http.h"
#include "mcp/transport_sse.h"
#include "store/store.h"
#include "web/web.h"
#include "lib/utf8.h"

struct mcp_server {
    struct mcp_ctx ctx;
    struct http_server *http;
    struct http_policy policy;
    /* /mcp, /sse, /message (off by default, as the reference server's HEAD) */
    struct ratelimit mcp_limit;
    struct ratelimit static_limit; /* the splash page and its assets */
    struct verifier *verifier;     /* bearer tokens by introspection; NULL with --no-auth */
    struct metrics metrics;        /* GET /metrics; ctx.metrics points here */
    uv_timer_t grace;              /* shutdown: when calls still running are answered */
    void (*done)(void *);
    void *done_arg;
};

static void respond_not_found(struct http_exchange *ex)
{
    const struct http_request *req = http_exchange_request(ex);
    char msg[256], path[201];
    utf8_copy_prefix(path, sizeof path, req->path);
    snprintf(msg, sizeof msg, "Cannot %s %s", req->method, path);
    http_respond_json(ex, 404,
                      json_pack("{s:s,s:s}", "error", "not_found", "error_description", msg));
}

/* GET /health: never rate limited, never authenticated. */
static void respond_health(struct mcp_server *s, struct http_exchange *ex)
{
    bool store_ok = store_healthy(s->ctx.store);
    bool auth_ok = !s->verifier || verifier_available(s->verifier);
    bool degraded = !store_ok || !auth_ok;
    const char *auth = !s->verifier ? "disabled" : auth_ok ? "operational" : "unavailable";
    json_t *body = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:s,s:s,s:s,s:I,s:I,s:I}", "status",
        degraded ? "degraded" : "healthy", "services", "mcp", "operational", "auth", auth, "store",
        store_ok ? "operational" : "unavailable", "storeBackend", store_backend_name(s->ctx.store),
        "authServerUrl", s->ctx.cfg->auth_server_url, "version", MCPD_VERSION, "liveSessions",
        (json_int_t)hashmap_count(s->ctx.live), "callsInFlight", (json_int_t)s->ctx.calls_in_flight,
        "listenStreams", (json_int_t)mcp_listen_count(&s->ctx));
    http_response_header(ex, "Cache-Control", "no-store");
    /* Degraded is still an answer: 200, so that load balancers keep the instance while it
     * serves what it can (the reference server does the same); a dead store is 503. */
    http_respond_json(ex, store_ok ? 200 : 503, body);
}

/* The routes /metrics counts by name; anything else is route="other". */
static const char *const metric_routes[] = {"/mcp",
                                            "/sse",
                                            "/message",
                                            "/health",
                                            "/metrics",
                                            "/",
                                            "/.well-known/oauth-protected-resource/mcp",
                                            "/.well-known/oauth-protected-resource",
                                            "/.well-known/oauth-authorization-server"};

static void on_status(void *arg, const struct http_request *req, int status)
{
    struct mcp_server *s = arg;
    metrics_count_response(&s->metrics, req ? req->path : NULL, status);
    if (req)
        metrics_observe_latency(&s->metrics, req->path, uv_now(s->ctx.loop) - req->received_ms);
}

/* GET /metrics: loopback only unless METRICS_TOKEN is set (then its bearer token, from
 * anywhere); never rate limited, never needs an MCP token. */
static void respond_metrics(struct mcp_server *s, struct http_exchange *ex)
{
    if (!metrics_request_allowed(http_exchange_request(ex), s->ctx.cfg->metrics_token)) {
        http_respond_json(ex, 403, metrics_refusal(s->ctx.cfg->metrics_token));
        return;
    }
    struct metrics_gauges g = {
        .live_sessions = (long long)hashmap_count(s->ctx.live),
        .calls_in_flight = s->ctx.calls_in_flight,
        .store_up = store_healthy(s->ctx.store),
        .auth_up = !s->verifier ? -1 : verifier_available(s->verifier),
    };
    struct store_stats st;
    struct metrics_introspection in;
    store_stats_read(s->ctx.store, &st);
    g.store = &st;
    if (s->verifier) {
        verifier_cache_stats(s->verifier, &in.hits, &in.misses);
        g.introspection = &in;
    }
    struct buf b;
    buf_init(&b, 0);
    if (metrics_render(&s->metrics, &g, &b) != BUF_OK) {
        buf_free(&b);
        mcp_http_error(ex, 500, JSONRPC_INTERNAL_ERROR, "Internal error");
        return;
    }
    http_response_header(ex, "Cache-Control", "no-store");
    http_respond(ex, 200, METRICS_CONTENT_TYPE, b.data ? b.data : "", b.len);
    buf_free(&b);
}

static bool path_is(const struct http_request *req, const char *path)
{
    return strcmp(req->path, path) == 0;
}

/* Which rate limiter counts a route. */
enum mcp_limiter { LIMIT_NONE, LIMIT_MCP, LIMIT_STATIC };

typedef void (*mcp_route_fn)(struct mcp_server *s, struct http_exchange *ex, const char *user);

struct mcp_route {
    const char *path;                /* the exact path, or NULL when match decides */
    bool (*match)(const char *path); /* families of paths (metadata documents, pages) */
    /* The methods served, as the Allow header lists them; NULL: every method reaches the
     * handler, which answers the others itself (the transport on /mcp, the pages). */
    const char *allow;
    /* Another method gets 405 with Allow, checked after the limiter and authentication as the
     * transport's 405 on /mcp is; without it, the next route is tried (in the end the 404 of an
     * unknown path). */
    bool other_methods_405;
    enum mcp_limiter limit;
    bool authenticated;  /* a bearer token for this resource, unless --no-auth */
    bool cors;           /* CORS response headers (http_policy_cors) */
    bool only_with_auth; /* served only when authorization is on: the OAuth metadata */
    /* The resource a 401 challenge names. The legacy transport's names the /sse metadata:
     * clients connect to /sse and refuse metadata whose resource is not a prefix of that URL. */
    enum verifier_resource challenge;
    mcp_route_fn handle;
};

static void handle_mcp(struct mcp_server *s, struct http_exchange *ex, const char *user)
{
    mcp_http_handle(&s->ctx, ex, user);
}

static void handle_sse(struct mcp_server *s, struct http_exchange *ex, const char *user)
{
    mcp_sse_open(&s->ctx, ex, user);
}

static void handle_message(struct mcp_server *s, struct http_exchange *ex, const char *user)
{
    mcp_sse_message(&s->ctx, ex, user);
}

static void handle_health(struct mcp_server *s, struct http_exchange *ex, const char *user)
{
    respond_health(s, ex);
}

static void handle_metrics(struct mcp_server *s, struct http_exchange *ex, const char *user)
{
    respond_metrics(s, ex);
}

static bool is_prm_path(const char *path)
{
    enum verifier_resource prm;
    return verifier_prm_path(path, &prm);
}

static void handle_prm(struct mcp_server *s, struct http_exchange *ex, const char *user)
{
    enum verifier_resource prm = VERIFIER_RESOURCE_MCP;
    verifier_prm_path(http_exchange_request(ex)->path, &prm);
    verifier_serve_prm(s->verifier, ex, prm);
}

/* MCP 2025-03-26 clients look for the AS metadata at the MCP origin (as the reference server
 * does). */
static void handle_as_metadata(struct mcp_server *s, struct http_exchange *ex, const char *user)
{
    verifier_serve_as_metadata(s->verifier, ex);
}

static void handle_page(struct mcp_server *s, struct http_exchange *ex, const char *user)
{
    struct web_page_state st = {.degraded = s->verifier && !verifier_available(s->verifier),
                                .auth_server_url = s->ctx.cfg->auth_server_url};
    if (!web_serve(ex, &st))
        respond_not_found(ex);
}

/* In order: the first route whose path and method fit serves the request. /health and the
 * metadata are never rate limited nor authenticated. */
static const struct mcp_route routes[] = {
    {.path = "/mcp",
     .limit = LIMIT_MCP,
     .authenticated = true,
     .cors = true,
     .challenge = VERIFIER_RESOURCE_MCP,
     .handle = handle_mcp},
    {.path = "/sse",
     .allow = "GET",
     .other_methods_405 = true,
     .limit = LIMIT_MCP,
     .authenticated = true,
     .cors = true,
     .challenge = VERIFIER_RESOURCE_SSE,
     .handle = handle_sse},
    {.path = "/message",
     .allow = "POST",
     .other_methods_405 = true,
     .limit = LIMIT_MCP,
     .authenticated = true,
     .cors = true,
     .challenge = VERIFIER_RESOURCE_SSE,
     .handle = handle_message},
    {.path = "/health", .allow = "GET, HEAD", .handle = handle_health},
    {.path = METRICS_PATH, .allow = "GET, HEAD", .handle = handle_metrics},
    {.match = is_prm_path, .allow = "GET, HEAD", .only_with_auth = true, .handle = handle_prm},
    {.path = "/.well-known/oauth-authorization-server",
     .allow = "GET, HEAD",
     .only_with_auth = true,
     .handle = handle_as_metadata},
    {.match = web_is_page, .limit = LIMIT_STATIC, .handle = handle_page},
};

/* True when method is in list, a comma-separated list of methods ("GET, HEAD"). */
static bool method_listed(const char *list, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = list; *p; p += strspn(p, ", ")) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, method, n) == 0)
            return true;
        p += len;
    }
    return false;
}

static const struct mcp_route *find_route(const struct mcp_server *s,
                                          const struct http_request *req)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct mcp_route *rt = &routes[i];
        bool path_fits = rt->path ? path_is(req, rt->path) : rt->match(req->path);
        if (!path_fits || (rt->only_with_auth && !s->verifier))
            continue;
        if (rt->allow && !rt->other_methods_405 && !method_listed(rt->allow, req->method))
            continue;
        return rt;
    }
    return NULL;
}

/* Never NULL: a route that counts against nothing gets a disabled limiter. */
static const struct ratelimit *limiter_for(const struct mcp_server *s, enum mcp_limiter l)
{
    static const struct ratelimit none = {.name = "none", .limit = 0};
    switch (l) {
    case LIMIT_MCP:
        return &s->mcp_limit;
    case LIMIT_STATIC:
        return &s->static_limit;
    case LIMIT_NONE:
        break;
    }
    return &none;
}

/* A request admitted on its head (counted, authenticated): what its handler needs once the
 * body has been read. */
struct admitted {
    const struct mcp_route *route;
    char user[]; /* "" for a route without authentication */
};

/* The request has been counted and authenticated (user is the token's subject, or NULL when
 * the route needs none): check the method, then run the handler. Admitted on its head only, a
 * request's body is read first, so that a refused one never had its body buffered. */
static void serve(struct mcp_server *s, struct http_exchange *ex, const struct mcp_route *rt,
                  const char *user)
{
    if (http_exchange_body_pending(ex)) {
        size_t n = user ? strlen(user) : 0;
        struct admitted *a = malloc(sizeof *a + n + 1);
        if (!a) {
            mcp_http_error(ex, 500, JSONRPC_INTERNAL_ERROR, "Internal error");
            return;
        }
        a->route = rt;
        memcpy(a->user, user ? user : "", n + 1);
        http_exchange_set_data(ex, a, free);
        http_exchange_continue(ex, 0);
        return;
    }
    if (rt->allow && !method_listed(rt->allow, http_exchange_request(ex)->method)) {
        http_response_header(ex, "Allow", rt->allow);
        mcp_http_error(ex, 405, JSONRPC_SERVER_ERROR, "Method not allowed");
        return;
    }
    rt->handle(s, ex, user);
}

/* A request waiting for its token's introspection. */
struct pending_auth {
    struct mcp_server *server;
    struct http_exchange *ex;
    const struct mcp_route *route;
};

static void on_verified(void *arg, const struct verifier_result *res)
{
    struct pending_auth *pa = arg;
    if (http_exchange_closed(pa->ex))
        http_exchange_finish(pa->ex);
    else if (res->status != VERIFIER_OK)
        verifier_reject(pa->server->verifier, pa->ex, res, pa->route->challenge);
    else /* sessions belong to the token's subject */
        serve(pa->server, pa->ex, pa->route, res->sub);
    free(pa);
}

static void authenticate(struct mcp_server *s, struct http_exchange *ex, const struct mcp_route *rt)
{
    if (!rt->authenticated) {
        serve(s, ex, rt, NULL);
        return;
    }
    if (!s->verifier) {
        serve(s, ex, rt, "anonymous");
        return;
    }
    struct pending_auth *pa = malloc(sizeof *pa);
    if (!pa) {
        mcp_http_error(ex, 500, JSONRPC_INTERNAL_ERROR, "Internal error");
        return;
    }
    *pa = (struct pending_auth){.server = s, .ex = ex, .route = rt};
    verifier_check(s->verifier, http_exchange_request(ex), on_verified, pa);
}

/* A request waiting for its rate-limit counter. */
struct limited {
    struct mcp_server *server;
    struct http_exchange *ex;
    const struct mcp_route *route;
    const struct ratelimit *limiter; /* what counts the request */
};

static void on_limit(void *arg, const struct ratelimit_result *r)
{
    struct limited *l = arg;
    const struct ratelimit *rl = l->limiter;
    http_rate_limit_headers(l->ex, r->limit, r->remaining, r->reset_s);
    if (!r->allowed) {
        log_write(l->server->ctx.log, LOG_WARNING, "rate limit exceeded",
                  json_pack("{s:s,s:s}", "limiter", rl->name, "ip",
                            http_exchange_request(l->ex)->remote_addr));
        http_respond_rate_limited(l->ex, r->reset_s, rl->description);
    } else {
        authenticate(l->server, l->ex, l->route);
    }
    free(l);
}

/* Count the request against its route's limiter, then authenticate and serve it. A disabled
 * limiter costs nothing. */
static void count_request(struct mcp_server *s, struct http_exchange *ex,
                          const struct mcp_route *rt)
{
    const struct ratelimit *rl = limiter_for(s, rt->limit);
    if (rl->limit == 0) {
        authenticate(s, ex, rt);
        return;
    }
    struct limited *l = malloc(sizeof *l);
    if (!l) {
        mcp_http_error(ex, 500, JSONRPC_INTERNAL_ERROR, "Internal error");
        return;
    }
    *l = (struct limited){.server = s, .ex = ex, .route = rt, .limiter = rl};
    ratelimit_check(s->ctx.store, rl, http_exchange_request(ex)->remote_addr, on_limit, l);
}

/* Every request runs this pipeline once: a request with a body on its head (the HTTP head
 * hook), so that refusals (403, 404, 429, 401) leave the body unread; others when complete. */
static void on_request(struct http_exchange *ex, void *arg)
{
    struct mcp_server *s = arg;
    const struct http_request *req = http_exchange_request(ex);
    const struct admitted *a = http_exchange_data(ex);
    if (a) { /* admitted on its head; the body is here now */
        serve(s, ex, a->route, a->route->authenticated ? a->user : NULL);
        return;
    }
    /* DNS-rebinding protection: a browser tricked into calling us carries a foreign Host or
     * Origin (transports spec, "Security Warning"; 2025-11-25 requires 403 for Origin). */
    if (!http_policy_host_allowed(&s->policy, req)) {
        mcp_http_error(ex, 403, JSONRPC_SERVER_ERROR, "Forbidden: invalid Host header");
        return;
    }
    if (!http_policy_origin_allowed(&s->policy, req)) {
        mcp_http_error(ex, 403, JSONRPC_SERVER_ERROR, "Forbidden: invalid Origin header");
        return;
    }
    if (strcmp(req->method, "OPTIONS") == 0) {
        http_policy_preflight(ex, &s->policy);
        return;
    }
    const struct mcp_route *rt = find_route(s, req);
    if (!rt) {
        respond_not_found(ex);
        return;
    }
    if (rt->cors)
        http_policy_cors(ex, &s->policy);
    count_request(s, ex, rt);
}

struct mcp_server *mcp_server_new(uv_loop_t *loop, const struct config *cfg, struct store *store,
                                  struct logger *log, char *err, size_t err_size)
{
    struct mcp_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s->ctx.loop = loop;
    s->ctx.store = store;
    s->ctx.log = log;
    s->ctx.cfg = cfg;
    s->ctx.live = hashmap_new();
    s->ctx.dispatch = mcp_dispatch_new(cfg->features, err, err_size);
    if (!s->ctx.dispatch || !s->ctx.live ||
        http_policy_init(&s->policy, cfg->host, cfg->base_uri, cfg->allowed_origins) != 0) {
        if (s->ctx.dispatch && !err[0])
            snprintf(err, err_size, "bad host, BASE_URI or ALLOWED_ORIGINS");
        mcp_dispatch_free(s->ctx.dispatch);
        hashmap_free(s->ctx.live);
        free(s);
        return NULL;
    }
    /* Browser clients must read the session and version headers and may send them. */
    s->policy.cors_expose_headers = "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate";
    s->policy.cors_allow_headers = "Content-Type, Authorization, Mcp-Session-Id, "
                                   "MCP-Protocol-Version, Last-Event-ID, Accept";
    s->mcp_limit = (struct ratelimit){"mcp", cfg->rate_limit_mcp, 60000, "MCP rate limit exceeded"};
    s->static_limit = (struct ratelimit){"static", cfg->rate_limit_static, 60000,
                                         "Static file rate limit exceeded"};
    metrics_init(&s->metrics, "mcp", metric_routes, sizeof metric_routes / sizeof metric_routes[0],
                 NULL);
    s->ctx.metrics = &s->metrics;
    s->http = http_server_new(loop, &cfg->limits, log, on_request, s);
    if (s->http) {
        http_server_set_head_hook(s->http, on_request, s);
        http_server_set_status_hook(s->http, on_status, s);
    }
    uv_timer_init(loop, &s->grace);
    s->grace.data = s;
    if (!cfg->no_auth)
        s->verifier = verifier_new(loop, cfg, log);
    /* The scheme browsers see is BASE_URI's (TLS may end at a proxy in front of us). */
    http_policy_add_security_headers(s->http, http_policy_url_is_https(cfg->base_uri));
    return s;
}

int mcp_server_listen(struct mcp_server *s)
{
    int rc = http_server_listen_host(s->http, s->ctx.cfg->host, s->ctx.cfg->port);
    if (rc == 0 && s->verifier)
        verifier_start(s->verifier); /* degraded until the AS metadata has been fetched */
    return rc;
}

int mcp_server_port(const struct mcp_server *s)
{
    return http_server_port(s->http);
}

/* The answers written when the grace period ends need a moment to reach their clients before
 * the HTTP server drops whatever connection is still open. */
#define SHUTDOWN_ANSWER_MS 1000

static void on_grace_closed(uv_handle_t *h)
{
    struct mcp_server *s = h->data;
    mcp_live_end_all(&s->ctx);
    mcp_call_end_stateless(&s->ctx, "Server shutting down");
    mcp_dispatch_free(s->ctx.dispatch);
    hashmap_free(s->ctx.live);
    mcp_session_forget_touches(&s->ctx);
    http_policy_free(&s->policy);
    void (*done)(void *) = s->done;
    void *done_arg = s->done_arg;
    free(s);
    if (done)
        done(done_arg);
}

static void on_verifier_closed(void *arg)
{
    struct mcp_server *s = arg;
    uv_timer_stop(&s->grace);
    uv_close((uv_handle_t *)&s->grace, on_grace_closed);
}

static void on_http_closed(void *arg)
{
    struct mcp_server *s = arg;
    if (s->verifier)
        verifier_close(s->verifier, on_verifier_closed, s);
    else
        on_verifier_closed(s);
}

/* The grace period is over: every call still running gets a JSON-RPC error on its request
 * (never a bare close), after which its connection closes. */
static void on_grace_expired(uv_timer_t *t)
{
    struct mcp_server *s = t->data;
    mcp_live_end_all(&s->ctx);
    mcp_call_end_stateless(&s->ctx, "Server shutting down");
}

void mcp_server_shutdown(struct mcp_server *s, void (*done)(void *arg), void *arg)
{
    s->done = done;
    s->done_arg = arg;
    s->ctx.shutting_down = 1;
    uint64_t grace = s->ctx.cfg->shutdown_grace_ms;
    uv_timer_start(&s->grace, on_grace_expired, grace, 0);
    http_server_shutdown(s->http, grace + SHUTDOWN_ANSWER_MS, on_http_closed, s);
    /* Streams never finish by themselves: end them now (after the HTTP server has marked the
     * exchanges to close, so their connections close once the stream's end is flushed) and
     * leave the calls their grace period. A listen stream gets its graceful-closure result. */
    mcp_live_end_streams(&s->ctx);
    mcp_listen_end_all(&s->ctx);
}
