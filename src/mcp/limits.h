/*
 * limits: the MCP role's resource bounds (docs/reliability.md, "Limits"), read from the
 * configuration. Owns nothing but the built-in defaults, which apply to a context built without
 * a configuration or with a field left 0 (the unit tests' fixtures), so that every bound is
 * always in force. config.c holds the same defaults for `mcpd --help`.
 */
#ifndef MCPD_MCP_LIMITS_H
#define MCPD_MCP_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "app/config.h"
#include "mcp/context.h"

#define MCP_LIMIT_OR(ctx, field, def) ((ctx)->cfg && (ctx)->cfg->field ? (ctx)->cfg->field : (def))

static inline unsigned mcp_limit_sessions_per_user(const struct mcp_ctx *ctx)
{
    /* 0 is a setting here ("no limit"), so only a context without a configuration defaults. */
    return ctx->cfg ? ctx->cfg->max_sessions_per_user : 100;
}

static inline unsigned mcp_limit_calls_per_session(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_calls_per_session, 16);
}

static inline unsigned mcp_limit_calls(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_calls, 1000);
}

static inline uint64_t mcp_limit_call_duration_ms(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_call_duration_ms, 900000);
}

static inline uint64_t mcp_limit_task_ttl_ms(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, task_ttl_ms, 3600000);
}

static inline unsigned mcp_limit_tasks_per_user(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_tasks_per_user, 100);
}

static inline size_t mcp_limit_task_result_bytes(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_task_result_bytes, 1048576);
}

static inline unsigned mcp_limit_tool_steps(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_tool_steps, 10000);
}

static inline size_t mcp_limit_id_bytes(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_id_bytes, 256);
}

static inline size_t mcp_limit_capabilities_bytes(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_capabilities_bytes, 65536);
}

static inline unsigned mcp_limit_subscriptions(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_subscriptions, 100);
}

static inline unsigned mcp_limit_listen_streams(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_listen_streams, 16);
}

static inline size_t mcp_limit_uri_bytes(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_uri_bytes, 2048);
}

static inline unsigned mcp_limit_batch_entries(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_batch_entries, 100);
}

static inline size_t mcp_limit_batch_response_bytes(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, max_batch_response_bytes, 4u * 1024 * 1024);
}

static inline size_t mcp_limit_event_bytes(const struct mcp_ctx *ctx)
{
    return MCP_LIMIT_OR(ctx, event_log_entry_max_bytes, 65536);
}

#endif
