/*
 * transport_sse: the legacy HTTP+SSE transport (MCP 2024-11-05) kept next to /mcp for older
 * clients. GET /sse opens a session whose one SSE stream carries every server message (responses,
 * notifications, sampling and elicitation requests); its first event names the POST endpoint
 * `/message?sessionId={sid}`. POST /message publishes the client's message on the session's
 * channel `mcp:{sid}` (the reference server's name), so any instance can take the POST; the
 * instance holding the stream dispatches it with the same session, store and dispatch code as /mcp.
 * The stream closing ends the session.
 */
#ifndef MCPD_MCP_TRANSPORT_SSE_H
#define MCPD_MCP_TRANSPORT_SSE_H

#include "http/http_server.h"
#include "mcp/context.h"

/* GET /sse for user (the authenticated subject). Finishes ex when the stream ends. */
void mcp_sse_open(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user);
/* POST /message?sessionId=... for user. */
void mcp_sse_message(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user);

#endif
