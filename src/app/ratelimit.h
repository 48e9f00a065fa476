/*
 * ratelimit: fixed-window request counters per client IP and limiter name, kept in the store
 * (INCR with a TTL of one window), so every instance behind a load balancer shares them. It
 * answers "allowed or not" asynchronously; the caller decides which routes count against which
 * limiter and writes the answer with http_rate_limit_headers / http_respond_rate_limited.
 * Owns the "rl:" keys. Knows nothing of HTTP, MCP or OAuth.
 */
#ifndef MCPD_APP_RATELIMIT_H
#define MCPD_APP_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

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

/* Count one request from client_addr (the peer address text; NULL or "" counts as "unknown").
 * With limit 0 the callback runs synchronously with allowed=true and nothing is counted.
 * Key: "rl:{name}:{client}:{window}". */
void ratelimit_check(struct store *s, const struct ratelimit *rl, const char *client_addr,
                     ratelimit_fn fn, void *arg);

#endif
