/*
 * notifier: the feature packs' periodic notifications for one session (feature.h;
 * docs/architecture.md, "Periodic notifications"). A standalone stream (GET /mcp, or the legacy
 * /sse stream) starts a notifier when it opens and stops it when it closes, so timers run only
 * where a client can hear them and stop with the session. It implements the mcp_notifier_* calls of
 * feature.h: level-filtered logs read the session's current level from the store, subscriptions
 * come from the store's set. A subscriptions/listen stream starts one too, without a session.
 */
#ifndef MCPD_MCP_NOTIFIER_H
#define MCPD_MCP_NOTIFIER_H

#include <jansson.h>
#include <stddef.h>

#include "mcp/context.h"

struct mcp_notifier;

/* Where the notifier's messages go: one JSON-RPC notification as text (borrowed). */
typedef void (*mcp_notifier_write_fn)(void *arg, const char *json, size_t len);

/* Start the timers of every enabled pack for session sid. NULL when no pack has timers (or on
 * allocation failure): nothing to run. */
struct mcp_notifier *mcp_notifier_start(struct mcp_ctx *ctx, const char *sid,
                                        mcp_notifier_write_fn write, void *arg);
/* Where a listen stream's notifier sends: method and params (stolen), for the stream to filter. */
typedef void (*mcp_notifier_send_fn)(void *arg, const char *method, json_t *params);

/* The same timers for a subscriptions/listen stream (listen.h), which has no session: what they
 * send goes to send, their resource subscriptions are uris (count of them, borrowed for the
 * notifier's life; mcp_notifier_subscriptions answers with them at once), and their log messages
 * are dropped (a listen stream carries no notifications/message). */
struct mcp_notifier *mcp_notifier_start_listen(struct mcp_ctx *ctx, mcp_notifier_send_fn send,
                                               const char *const *uris, size_t count, void *arg);
/* Stop the timers; no write happens after this returns. n may be NULL. */
void mcp_notifier_stop(struct mcp_notifier *n);

#endif
