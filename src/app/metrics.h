/*
 * metrics: one role's counters and latency histograms for GET /metrics, in the Prometheus text
 * exposition format 0.0.4, and who may read them. Each role (the MCP server, the authorization
 * server) owns one struct metrics in its own object (no global state; in `mcpd all` the two are
 * separate, labelled role="mcp" and role="auth"). Counters only grow, within this process's life;
 * the gauges (sessions, calls, streams, store and authorization reachability) and the counters
 * other modules keep (the store's operations, errors and latency; the introspection cache's hits)
 * are read from the role when the page is rendered. Every label value comes from a fixed list
 * (routes, methods, outcomes, status classes), so a client cannot make the page grow. Knows nothing
 * of MCP or OAuth.
 */
#ifndef MCPD_APP_METRICS_H
#define MCPD_APP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/buf.h"
#include "store/store.h"

struct http_request;

#define METRICS_PATH         "/metrics"
#define METRICS_ROUTES_MAX   16 /* labelled routes per role; the rest count as route="other" */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum metrics_outcome {
    METRICS_CALL_OK,
    METRICS_CALL_ERROR,
    METRICS_CALL_CANCELLED,
    METRICS_OUTCOMES
};

/* Upper bounds of the HTTP latency buckets in milliseconds (time from a request's last byte to
 * its status line; for an SSE stream, to the stream's start); a last bucket takes the rest. */
#define METRICS_LATENCY_BOUNDS_MS                                                                  \
    {                                                                                              \
        5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000                                            \
    }
#define METRICS_LATENCY_BUCKETS 10

/* The MCP methods counted by name; any other method counts as method="other". */
#define METRICS_METHODS 20

struct metrics {
    const char *role;          /* "mcp" or "auth": the role label */
    const char *const *routes; /* route labels: request paths matched exactly */
    size_t nroutes;            /* at most METRICS_ROUTES_MAX */
    const char *token_path;    /* the route whose answers are token grants, or NULL */
    uint64_t requests[METRICS_ROUTES_MAX + 1][5];          /* by route (+ other) and status class */
    uint64_t rate_limited;                                 /* 429 answers */
    uint64_t unauthorized;                                 /* 401 answers */
    uint64_t tokens_issued;                                /* token_path answered 200 */
    uint64_t tokens_refused;                               /* token_path answered 4xx */
    uint64_t calls[METRICS_METHODS + 1][METRICS_OUTCOMES]; /* MCP calls by method, outcome */
    uint64_t streams_opened;                               /* SSE streams begun */
    long long streams_open;                                /* SSE streams not yet ended */
    /* Answers by route (+ other) and latency bucket (not cumulative), and their total time. */
    uint64_t latency[METRICS_ROUTES_MAX + 1][METRICS_LATENCY_BUCKETS + 1];
    uint64_t latency_sum_ms[METRICS_ROUTES_MAX + 1];
};

/* The MCP role's bearer-token cache: checks answered from it and checks that introspected. */
struct metrics_introspection {
    uint64_t hits;
    uint64_t misses;
};

/* What the role knows at render time; a negative value leaves that gauge out. */
struct metrics_gauges {
    long long live_sessions;   /* sessions with live state on this instance */
    long long calls_in_flight; /* calls not yet freed */
    int store_up;              /* 1 reachable, 0 not */
    int auth_up;               /* MCP role: the authorization server reachable (1/0), -1: no auth */
    const struct store_stats *store;                   /* the store's counters, or NULL */
    const struct metrics_introspection *introspection; /* or NULL: no token cache in this role */
};

/* routes must outlive m (a static table); token_path may be NULL. */
void metrics_init(struct metrics *m, const char *role, const char *const *routes, size_t nroutes,
                  const char *token_path);

/* One answer of the role with this status, to a request for path (NULL: refused before routing,
 * e.g. a framing error, counted as route="other"). */
void metrics_count_response(struct metrics *m, const char *path, int status);
/* How long the answer to a request for path took (see METRICS_LATENCY_BOUNDS_MS). */
void metrics_observe_latency(struct metrics *m, const char *path, uint64_t elapsed_ms);
/* One MCP call answered (or cancelled); method NULL or unlisted counts as "other". */
void metrics_count_call(struct metrics *m, const char *method, enum metrics_outcome outcome);
void metrics_stream_opened(struct metrics *m);
void metrics_stream_closed(struct metrics *m);

/* The page, appended to out. BUF_OK or BUF_ERR_*. */
int metrics_render(const struct metrics *m, const struct metrics_gauges *g, struct buf *out);

/* Who may read /metrics: with a token configured (METRICS_TOKEN), a request carrying
 * "Authorization: Bearer <token>" (compared in constant time), from anywhere; without one, only
 * a request whose peer address is loopback. */
bool metrics_request_allowed(const struct http_request *req, const char *token);
/* The 403 body for a refused request: {"error":"forbidden","error_description":...}. */
json_t *metrics_refusal(const char *token);

#endif
