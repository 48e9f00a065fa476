/* The authorization server's /metrics: its counters (struct metrics in struct auth_server, fed
 * by the HTTP status hook) and the page (see app/metrics.h). */
#include <stdlib.h>

#include "app/config.h"
#include "app/metrics.h"
#include "auth/pages.h"
#include "auth/server_internal.h"
#include "store/store.h"

/* The routes counted by name; the rest is route="other". /token's answers are also counted as
 * tokens issued (200) or refused (4xx). */
static const char *const metric_routes[] = {"/health",
                                            "/.well-known/oauth-authorization-server",
                                            "/register",
                                            "/authorize",
                                            "/token",
                                            "/revoke",
                                            "/introspect",
                                            OAUTH_DENY_PATH,
                                            "/mock-upstream-idp/authorize",
                                            "/mock-upstream-idp/callback",
                                            "/",
                                            METRICS_PATH};

void auth_metrics_init(struct auth_server *s)
{
    metrics_init(&s->metrics, "auth", metric_routes, sizeof metric_routes / sizeof metric_routes[0],
                 "/token");
}

void auth_on_status(void *arg, const struct http_request *req, int status)
{
    struct auth_server *s = arg;
    metrics_count_response(&s->metrics, req ? req->path : NULL, status);
    if (req)
        metrics_observe_latency(&s->metrics, req->path, uv_now(s->store->loop) - req->received_ms);
}

/* GET /metrics: loopback only unless METRICS_TOKEN is set (then its bearer token). */
void auth_handle_metrics(struct auth_req *r)
{
    if (!metrics_request_allowed(r->req, r->s->cfg->metrics_token)) {
        auth_reply_json(r, 403, metrics_refusal(r->s->cfg->metrics_token));
        return;
    }
    struct metrics_gauges g = {.live_sessions = -1,
                               .calls_in_flight = -1,
                               .store_up = store_healthy(r->s->store),
                               .auth_up = -1};
    struct store_stats st;
    store_stats_read(r->s->store, &st);
    g.store = &st;
    struct buf b;
    buf_init(&b, 0);
    if (metrics_render(&r->s->metrics, &g, &b) != BUF_OK) {
        buf_free(&b);
        auth_reply_error(r, 500, "server_error", "Internal Server Error");
        return;
    }
    auth_reply_body(r, 200, METRICS_CONTENT_TYPE, b.data ? b.data : "", b.len);
    buf_free(&b);
}
