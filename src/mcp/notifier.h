/*
 * notifier: the feature packs' periodic notifications for one session (feature.h;
 * docs/architecture.md, "Periodic notifications"). A standalone stream (GET /mcp, or the legacy
 * /sse stream) starts a notifier when it opens and stops it when it closes, so timers run only
 * where a client can hear them and stop with the session. It implements the mcp_notifier_* calls of
 * feature.h: level-filtered logs read the session's current level from the store, subscriptions
 * come from the store's set.
 */
#ifndef MCPD_MCP_NOTIFIER_H
#define MCPD_MCP_NOTIFIER_H

#include <stddef.h>

#include "mcp/context.h"

struct mcp_notifier;

/* Where the notifier's messages go: one JSON-RPC notification as text (borrowed). */
typedef void (*mcp_notifier_write_fn)(void *arg, const char *json, size_t len);

/* Start the timers of every enabled pack for session sid. NULL when no pack has timers (or on
 * allocation failure): nothing to run. */
struct mcp_notifier *mcp_notifier_start(struct mcp_ctx *ctx, const char *sid,
                                        mcp_notifier_write_fn write, void *arg);
/* Stop the timers; no write happens after this returns. n may be NULL. */
void mcp_notifier_stop(struct mcp_notifier *n);

#endif
