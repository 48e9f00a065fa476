/*
 * listen: subscriptions/listen streams of the 2026-07-28 revision. A client's subscriptions/listen
 * POST is answered with an SSE stream that stays open: first
 * notifications/subscriptions/acknowledged with the part of the client's filter the server honours,
 * then only the notifications that filter asked for (tools, prompts or resources list changes;
 * notifications/resources/updated for the listed URIs; the tasks extension's notifications/tasks
 * for the caller's own task ids), every one carrying
 * _meta["io.modelcontextprotocol/subscriptionId"] = the request's id. The stream ends when the
 * client closes it, or at shutdown with the graceful-closure result.
 *
 * Events reach a stream from any instance through store channels, which this module names
 * (docs/redis-keys.md): mcp:listen:tools, mcp:listen:prompts, mcp:listen:resources (list changes)
 * and mcp:listen:resource:<sha256 of the URI> (updates); a task's channel is tasks.h's. A stream
 * subscribes to its channels and waits until they are in effect before it acknowledges, so nothing
 * published after the acknowledgment is missed. The packs' periodic timers (notifier.h) run for a
 * stream with resource subscriptions as they do for a session's GET stream.
 *
 * Owns the open streams of this instance (ctx->listens) and nothing in the store: a stream holds
 * only subscriptions, which end with it.
 */
#ifndef MCPD_MCP_LISTEN_H
#define MCPD_MCP_LISTEN_H

#include <jansson.h>

#include "http/http_server.h"
#include "mcp/context.h"
#include "store/store.h"

struct mcp_session;

/* Serve a subscriptions/listen request (borrowed) whose _meta has been checked; sess is the
 * request's transient session (owner, client capabilities). Answers a JSON error for a bad filter
 * (-32602), task ids without the tasks extension (-32021, 400), too many streams (429), shutdown
 * or an unreachable store (503). */
void mcp_listen_open(struct mcp_ctx *ctx, struct http_exchange *ex, const struct mcp_session *sess,
                     const json_t *request);

/* Shutdown: every open stream gets the graceful-closure result and ends. */
void mcp_listen_end_all(struct mcp_ctx *ctx);

/* Open streams of this instance (all users). */
unsigned mcp_listen_count(const struct mcp_ctx *ctx);

/* A list changed ("tools", "prompts" or "resources"): every listen stream that asked for it, on
 * any instance, gets notifications/<which>/list_changed. */
int mcp_listen_publish_list_changed(struct store *store, const char *which);
/* A resource changed: every listen stream subscribed to uri, on any instance, gets
 * notifications/resources/updated. */
int mcp_listen_publish_resource_updated(struct store *store, const char *uri);

#endif
