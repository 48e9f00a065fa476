/*
 * transport_http: the Streamable HTTP transport on /mcp (MCP transports spec, 2025-03-26 to
 * 2025-11-25). POST carries client messages: initialize creates a session, requests are answered
 * with one JSON body or, as soon as a call sends anything before its response (progress, logs,
 * sampling, elicitation), with an SSE stream; notifications and responses alone get 202. GET
 * opens the standalone SSE stream or resumes one with Last-Event-ID; DELETE ends the session.
 * Header checks (Accept 406, Content-Type 415, MCP-Protocol-Version 400, session 400/404) live
 * here. Authentication happens before: the caller passes the user id that owns sessions.
 */
#ifndef MCPD_MCP_TRANSPORT_HTTP_H
#define MCPD_MCP_TRANSPORT_HTTP_H

#include "http/http_server.h"
#include "mcp/context.h"

/* Handle a request to the MCP endpoint. user is the authenticated subject ("anonymous" when
 * authorization is off). Finishes ex, now or later. */
void mcp_http_handle(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user);

#endif
