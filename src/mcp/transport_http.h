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

#include <jansson.h>

#include "http/http_server.h"
#include "mcp/context.h"

/* Handle a request to the MCP endpoint. user is the authenticated subject ("anonymous" when
 * authorization is off). Finishes ex, now or later. */
void mcp_http_handle(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user);

/* The request body as a JSON-RPC message or batch (new reference), or NULL after answering 400
 * with a -32700 parse error. */
json_t *mcp_http_parse_body(struct http_exchange *ex);

/* A JSON-RPC-shaped HTTP error: {"jsonrpc":"2.0","error":{"code","message"},"id":null}. */
int mcp_http_error(struct http_exchange *ex, int status, int code, const char *message);
/* The session store cannot be reached (Redis down, or not connected yet): 503 with Retry-After
 * and a JSON-RPC error echoing id (NULL: unknown, answered as null). Every /mcp, /sse and
 * /message path that needs the store answers its failures through this. */
int mcp_http_store_unavailable(struct http_exchange *ex, const json_t *id);

#endif
