/*
 * dispatch: the MCP method table and the call machinery behind feature.h. It turns one JSON-RPC
 * request into a call, runs the method (initialize results, ping, the tools, resources and
 * prompts methods, completion/complete, logging/setLevel), and hands every message the call
 * produces (request-scoped notifications, server->client requests, the final response) to the
 * call's sink, which the transport provides. It merges the enabled feature packs into one server
 * and caches their listings. It knows nothing of HTTP.
 */
#ifndef MCPD_MCP_DISPATCH_H
#define MCPD_MCP_DISPATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcp/call.h"
#include "mcp/context.h"
#include "mcp/feature.h"
#include "mcp/session.h"

struct mcp_dispatch;

/* Enable the packs named in the comma-separated list. NULL with a message in err for an unknown
 * pack name. */
struct mcp_dispatch *mcp_dispatch_new(const char *features, char *err, size_t err_size);
void mcp_dispatch_free(struct mcp_dispatch *d);

/* The InitializeResult for a negotiated revision (new reference). */
json_t *mcp_dispatch_initialize_result(const struct mcp_dispatch *d, const char *protocol_version);

/* Run one request (borrowed) in session sess (copied). The response, and anything else the call
 * sends, goes to sink; it may be emitted before this returns. */
void mcp_dispatch_request(struct mcp_ctx *ctx, const struct mcp_session *sess,
                          const json_t *request, struct mcp_sink *sink);
/* Handle a client notification (notifications/cancelled, initialized, ...). */
void mcp_dispatch_notification(struct mcp_ctx *ctx, const struct mcp_session *sess,
                               const json_t *notification);

/* MAX_ID_BYTES: 0 when msg's id and progressToken fit, else the JSON-RPC error code (-32600 for
 * the id, -32602 for the token) with *why set to the message. */
int mcp_dispatch_check_request(const struct mcp_ctx *ctx, const json_t *msg, const char **why);
/* MAX_CAPABILITIES_BYTES: whether a client's capabilities (may be NULL) may be stored. */
bool mcp_dispatch_capabilities_fit(const struct mcp_ctx *ctx, const json_t *caps);

/* Whether the 2026-07-28 revision has this method (ping, logging/setLevel and the resource
 * subscriptions are gone; server/discover is new). */
bool mcp_dispatch_stateless_method(const char *method);
/* The enabled packs' capabilities merged, listChanged and subscribe included (borrowed). */
const json_t *mcp_dispatch_capabilities(const struct mcp_dispatch *d);
/* {"name","version"} of the server (borrowed). */
const json_t *mcp_dispatch_server_info(const struct mcp_dispatch *d);
/* The inputSchema of the tool of that name as listed (borrowed) when its arguments carry
 * x-mcp-header annotations, else NULL: the rest need no look at a 2026-07-28 call's headers. */
const json_t *mcp_dispatch_tool_header_schema(const struct mcp_dispatch *d, const char *name);

/* The enabled packs, in --features order. */
size_t mcp_dispatch_pack_count(const struct mcp_dispatch *d);
const struct mcp_feature_pack *mcp_dispatch_pack(const struct mcp_dispatch *d, size_t i);

#define MCP_PAGE_SIZE 10

#endif
