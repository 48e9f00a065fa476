/*
 * ratelimit: fixed-window request counters per client IP and limiter name, kept in the store
 * (INCR with a TTL of one window), so every instance behind a load balancer shares them. It
 * answers "allowed or not" asynchronously and writes the standard headers and the 429 body;
 * the caller decides which routes count against which limiter. Knows nothing of MCP or OAuth.
 */
#ifndef MCPD_CORE_RATELIMIT_H
#define MCPD_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/http_server.h"

struct store;

struct ratelimit {
    const char *name;        /* key part and log name: "mcp", "token", ... */
    unsigned limit;          /* requests per window; 0 disables the limiter */
    uint64_t window_ms;      /* 60000 for "per minute" */
    const char *description; /* the 429 error_description, e.g. "MCP rate limit exceeded" */
};

struct ratelimit_result {
    bool allowed;
    unsigned limit;
    unsigned remaining;
    uint64_t reset_s; /* seconds until the window ends */
};

/* Called once the counter is known. On store failure the request is allowed (fail open: an
 * unavailable store must not lock every client out) and r->limit is 0. */
typedef void (*ratelimit_fn)(void *arg, const struct ratelimit_result *r);

/* Count one request from the exchange's client address. With limit 0 the callback runs
 * synchronously with allowed=true and nothing is counted. Key: "rl:{name}:{ip}:{window}". */
void ratelimit_check(struct store *s, const struct ratelimit *rl, struct http_exchange *ex,
                     ratelimit_fn fn, void *arg);
/* Add RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset (and X-RateLimit-* twins) to the
 * response; nothing when r->limit is 0. */
void ratelimit_headers(struct http_exchange *ex, const struct ratelimit_result *r);
/* 429 with Retry-After and {"error":"too_many_requests","error_description":...}; finishes ex. */
void ratelimit_reject(struct http_exchange *ex, const struct ratelimit *rl,
                      const struct ratelimit_result *r);

#endif
