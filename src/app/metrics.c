/* A role's counters and the /metrics page (see metrics.h). */
#include "app/metrics.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http_policy.h"
#include "http/http_server.h"
#include "lib/crypto.h"

static const char *const methods[] = {
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/result",
    "tasks/list",
    "tasks/cancel",
};
_Static_assert(sizeof methods / sizeof methods[0] <= METRICS_METHODS, "METRICS_METHODS");
#define NMETHODS (sizeof methods / sizeof methods[0])

static const char *const outcomes[METRICS_OUTCOMES] = {"ok", "error", "cancelled"};
static const uint64_t latency_bounds_ms[METRICS_LATENCY_BUCKETS] = METRICS_LATENCY_BOUNDS_MS;
static const char *const store_kinds[STORE_OP_KINDS] = {"read", "write", "publish"};

void metrics_init(struct metrics *m, const char *role, const char *const *routes, size_t nroutes,
                  const char *token_path)
{
    memset(m, 0, sizeof *m);
    m->role = role;
    m->routes = routes;
    m->nroutes = nroutes < METRICS_ROUTES_MAX ? nroutes : METRICS_ROUTES_MAX;
    m->token_path = token_path;
}

static size_t route_index(const struct metrics *m, const char *path)
{
    for (size_t i = 0; path && i < m->nroutes; i++)
        if (strcmp(m->routes[i], path) == 0)
            return i;
    return m->nroutes; /* "other" */
}

void metrics_count_response(struct metrics *m, const char *path, int status)
{
    if (status < 100 || status > 599)
        return;
    m->requests[route_index(m, path)][status / 100 - 1]++;
    if (status == 429)
        m->rate_limited++;
    else if (status == 401)
        m->unauthorized++;
    if (m->token_path && path && strcmp(path, m->token_path) == 0) {
        if (status == 200)
            m->tokens_issued++;
        else if (status >= 400 && status < 500)
            m->tokens_refused++;
    }
}

void metrics_observe_latency(struct metrics *m, const char *path, uint64_t elapsed_ms)
{
    size_t r = route_index(m, path);
    size_t b = 0;
    while (b < METRICS_LATENCY_BUCKETS && elapsed_ms > latency_bounds_ms[b])
        b++;
    m->latency[r][b]++;
    m->latency_sum_ms[r] += elapsed_ms;
}

void metrics_count_call(struct metrics *m, const char *method, enum metrics_outcome outcome)
{
    size_t i = 0;
    while (i < NMETHODS && !(method && strcmp(methods[i], method) == 0))
        i++;
    if ((unsigned)outcome < METRICS_OUTCOMES)
        m->calls[i][outcome]++;
}

void metrics_stream_opened(struct metrics *m)
{
    m->streams_opened++;
    m->streams_open++;
}

void metrics_stream_closed(struct metrics *m)
{
    if (m->streams_open > 0)
        m->streams_open--;
}

/* "# HELP name help\n# TYPE name type\n" */
static int family(struct buf *out, const char *name, const char *type, const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int sample(struct buf *out, const struct metrics *m, const char *name, long long v)
{
    return buf_printf(out, "%s{role=\"%s\"} %lld\n", name, m->role, v);
}

static int render_requests(const struct metrics *m, struct buf *out)
{
    int rc = family(out, "mcpd_http_requests_total", "counter",
                    "HTTP answers by route and status class.");
    for (size_t r = 0; rc == BUF_OK && r <= m->nroutes; r++)
        for (int c = 0; rc == BUF_OK && c < 5; c++)
            rc = buf_printf(out,
                            "mcpd_http_requests_total{role=\"%s\",route=\"%s\",code=\"%dxx\"} "
                            "%llu\n",
                            m->role, r < m->nroutes ? m->routes[r] : "other", c + 1,
                            (unsigned long long)m->requests[r][c]);
    if (rc == BUF_OK)
        rc = family(out, "mcpd_rate_limited_total", "counter",
                    "Requests refused by a rate limit (429).");
    if (rc == BUF_OK)
        rc = sample(out, m, "mcpd_rate_limited_total", (long long)m->rate_limited);
    if (rc == BUF_OK)
        rc = family(out, "mcpd_unauthorized_total", "counter",
                    "Requests refused for a missing or invalid credential (401).");
    if (rc == BUF_OK)
        rc = sample(out, m, "mcpd_unauthorized_total", (long long)m->unauthorized);
    return rc;
}

/* One histogram's samples: buckets (not cumulative) with bounds in seconds, sum in seconds.
 * labels is the rest of the label set after role, e.g. ",route=\"/mcp\"". */
struct histogram {
    const char *name;
    const char *labels;
    const uint64_t *buckets; /* nbounds + 1 */
    const double *bounds_s;  /* nbounds */
    size_t nbounds;
    double sum_s;
};

static int render_histogram(const struct metrics *m, struct buf *out, const struct histogram *h)
{
    uint64_t cumulative = 0;
    int rc = BUF_OK;
    for (size_t i = 0; rc == BUF_OK && i <= h->nbounds; i++) {
        cumulative += h->buckets[i];
        if (i < h->nbounds)
            rc = buf_printf(out, "%s_bucket{role=\"%s\"%s,le=\"%g\"} %llu\n", h->name, m->role,
                            h->labels, h->bounds_s[i], (unsigned long long)cumulative);
        else
            rc = buf_printf(out, "%s_bucket{role=\"%s\"%s,le=\"+Inf\"} %llu\n", h->name, m->role,
                            h->labels, (unsigned long long)cumulative);
    }
    if (rc == BUF_OK)
        rc = buf_printf(out, "%s_sum{role=\"%s\"%s} %.6f\n%s_count{role=\"%s\"%s} %llu\n", h->name,
                        m->role, h->labels, h->sum_s, h->name, m->role, h->labels,
                        (unsigned long long)cumulative);
    return rc;
}

static int render_latency(const struct metrics *m, struct buf *out)
{
    double bounds[METRICS_LATENCY_BUCKETS];
    char labels[64];
    for (size_t i = 0; i < METRICS_LATENCY_BUCKETS; i++)
        bounds[i] = (double)latency_bounds_ms[i] / 1e3;
    int rc = family(out, "mcpd_http_request_duration_seconds", "histogram",
                    "Time from a request's last byte to its answer's status line, by route.");
    for (size_t r = 0; rc == BUF_OK && r <= m->nroutes; r++) {
        snprintf(labels, sizeof labels, ",route=\"%s\"", r < m->nroutes ? m->routes[r] : "other");
        struct histogram h = {"mcpd_http_request_duration_seconds",
                              labels,
                              m->latency[r],
                              bounds,
                              METRICS_LATENCY_BUCKETS,
                              (double)m->latency_sum_ms[r] / 1e3};
        rc = render_histogram(m, out, &h);
    }
    return rc;
}

static int render_store(const struct metrics *m, const struct store_stats *st, struct buf *out)
{
    double bounds[STORE_LATENCY_BUCKETS];
    char labels[32];
    for (size_t i = 0; i < STORE_LATENCY_BUCKETS; i++)
        bounds[i] = (double)store_latency_bound_us(i) / 1e6;
    int rc =
        family(out, "mcpd_store_errors_total", "counter",
               "Store operations that failed (Redis unreachable, a refused command), by kind.");
    for (int k = 0; rc == BUF_OK && k < STORE_OP_KINDS; k++)
        rc = buf_printf(out, "mcpd_store_errors_total{role=\"%s\",op=\"%s\"} %llu\n", m->role,
                        store_kinds[k], (unsigned long long)st->errors[k]);
    if (rc == BUF_OK)
        rc = family(out, "mcpd_store_operation_duration_seconds", "histogram",
                    "Time from issuing a store operation to its completion, by kind.");
    for (int k = 0; rc == BUF_OK && k < STORE_OP_KINDS; k++) {
        snprintf(labels, sizeof labels, ",op=\"%s\"", store_kinds[k]);
        struct histogram h = {"mcpd_store_operation_duration_seconds",
                              labels,
                              st->latency[k],
                              bounds,
                              STORE_LATENCY_BUCKETS,
                              (double)st->latency_sum_us[k] / 1e6};
        rc = render_histogram(m, out, &h);
    }
    return rc;
}

static int render_introspection(const struct metrics *m, const struct metrics_introspection *in,
                                struct buf *out)
{
    int rc = family(out, "mcpd_introspection_cache_total", "counter",
                    "Bearer token checks answered from the token cache (hit) or by introspection "
                    "(miss).");
    if (rc == BUF_OK)
        rc = buf_printf(out,
                        "mcpd_introspection_cache_total{role=\"%s\",result=\"hit\"} %llu\n"
                        "mcpd_introspection_cache_total{role=\"%s\",result=\"miss\"} %llu\n",
                        m->role, (unsigned long long)in->hits, m->role,
                        (unsigned long long)in->misses);
    return rc;
}

static int render_tokens(const struct metrics *m, struct buf *out)
{
    int rc = family(out, "mcpd_auth_tokens_total", "counter",
                    "Token requests by result: issued (200) or refused (4xx).");
    if (rc == BUF_OK)
        rc = buf_printf(out,
                        "mcpd_auth_tokens_total{role=\"%s\",result=\"issued\"} %llu\n"
                        "mcpd_auth_tokens_total{role=\"%s\",result=\"refused\"} %llu\n",
                        m->role, (unsigned long long)m->tokens_issued, m->role,
                        (unsigned long long)m->tokens_refused);
    return rc;
}

static int render_calls(const struct metrics *m, struct buf *out)
{
    int rc = family(out, "mcpd_mcp_calls_total", "counter",
                    "MCP requests answered by method and outcome.");
    for (size_t i = 0; rc == BUF_OK && i <= NMETHODS; i++)
        for (int o = 0; rc == BUF_OK && o < METRICS_OUTCOMES; o++)
            rc = buf_printf(out,
                            "mcpd_mcp_calls_total{role=\"%s\",method=\"%s\",outcome=\"%s\"} "
                            "%llu\n",
                            m->role, i < NMETHODS ? methods[i] : "other", outcomes[o],
                            (unsigned long long)m->calls[i][o]);
    if (rc == BUF_OK)
        rc = family(out, "mcpd_sse_streams_opened_total", "counter", "SSE streams begun.");
    if (rc == BUF_OK)
        rc = sample(out, m, "mcpd_sse_streams_opened_total", (long long)m->streams_opened);
    if (rc == BUF_OK)
        rc = family(out, "mcpd_sse_streams_open", "gauge", "SSE streams open now.");
    if (rc == BUF_OK)
        rc = sample(out, m, "mcpd_sse_streams_open", m->streams_open);
    return rc;
}

static int gauge(const struct metrics *m, struct buf *out, const char *name, const char *help,
                 long long v)
{
    if (v < 0)
        return BUF_OK;
    int rc = family(out, name, "gauge", help);
    return rc == BUF_OK ? sample(out, m, name, v) : rc;
}

int metrics_render(const struct metrics *m, const struct metrics_gauges *g, struct buf *out)
{
    int rc = render_requests(m, out);
    if (rc == BUF_OK)
        rc = render_latency(m, out);
    if (rc == BUF_OK && g->store)
        rc = render_store(m, g->store, out);
    if (rc == BUF_OK && g->introspection)
        rc = render_introspection(m, g->introspection, out);
    if (rc == BUF_OK && m->token_path)
        rc = render_tokens(m, out);
    if (rc == BUF_OK && g->calls_in_flight >= 0)
        rc = render_calls(m, out);
    if (rc == BUF_OK)
        rc = gauge(m, out, "mcpd_sessions_live", "Sessions with live state on this instance.",
                   g->live_sessions);
    if (rc == BUF_OK)
        rc = gauge(m, out, "mcpd_calls_in_flight", "MCP calls not finished yet.",
                   g->calls_in_flight);
    if (rc == BUF_OK)
        rc = gauge(m, out, "mcpd_store_up", "1 when the store (memory or Redis) is reachable.",
                   g->store_up);
    if (rc == BUF_OK)
        rc = gauge(m, out, "mcpd_auth_server_up",
                   "1 when the authorization server answers introspection.", g->auth_up);
    return rc;
}

bool metrics_request_allowed(const struct http_request *req, const char *token)
{
    if (!token || !token[0])
        return http_host_is_loopback(req->remote_addr);
    const char *h = http_request_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    return crypto_equal(h, strlen(h), token, strlen(token));
}

json_t *metrics_refusal(const char *token)
{
    return json_pack("{s:s,s:s}", "error", "forbidden", "error_description",
                     token && token[0] ? "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>"
                                       : "GET /metrics is served to loopback clients only (set "
                                         "METRICS_TOKEN to allow others)");
}
