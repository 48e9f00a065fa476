/*
 * transport_common: what the Streamable HTTP transport (/mcp) and the legacy HTTP+SSE transport
 * (/sse, /message) answer the same way: the JSON-RPC-shaped HTTP error bodies, reading a request
 * body as JSON-RPC, and the 503 when the session store cannot be reached. The MCP role's router
 * uses the error shape too. Owns no state.
 */
#ifndef MCPD_MCP_TRANSPORT_COMMON_H
#define MCPD_MCP_TRANSPORT_COMMON_H

#include <jansson.h>

#include "http/http_server.h"

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
