/*
 * context: the MCP role's shared context, created once by the server and passed down to the
 * transports and the dispatcher. It holds what every layer needs (loop, store, logger, config,
 * the dispatcher) and the per-instance registry of live sessions (session.h). It owns nothing by
 * itself; server.c creates and frees what it points to.
 */
#ifndef MCPD_MCP_CONTEXT_H
#define MCPD_MCP_CONTEXT_H

#include <uv.h>

struct store;
struct logger;
struct config;
struct hashmap;
struct mcp_dispatch;
struct mcp_touch_cache;
struct metrics;
struct mcp_call;
struct mcp_listen;

struct mcp_ctx {
    uv_loop_t *loop;
    struct store *store;
    struct logger *log;
    const struct config *cfg;
    struct mcp_dispatch *dispatch;
    struct hashmap *live; /* session id -> struct mcp_live, sessions active on this instance */
    struct mcp_touch_cache *touched; /* sessions whose TTL was refreshed in the last second */
    int shutting_down;        /* set once graceful shutdown begins: new sessions are refused */
    unsigned calls_in_flight; /* calls of this instance not yet freed (MAX_CALLS, /health) */
    struct metrics *metrics;  /* the role's /metrics counters (server.c's); NULL: not counted */
    /* Waiting calls of 2026-07-28 requests, which no session's live entry holds (call.c). */
    struct mcp_call *stateless_calls;
    /* Open subscriptions/listen streams of this instance (listen.c). */
    struct mcp_listen *listens;
};

#endif
