/*
 * stateless: the 2026-07-28 revision on /mcp. A POST whose request names that revision (in its
 * _meta, or by an MCP-Protocol-Version header no session revision has) is served without a
 * session: its _meta and the standard headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name, the
 * tool's Mcp-Param-*) are checked, a transient session is built from the _meta alone, and the
 * request runs through the same dispatcher as a session's, answered as one JSON body or as an SSE
 * stream without event ids. Results get resultType, the server's identity and the caching hints
 * here. Nothing is read from or written to the store for such a request; owns no state.
 */
#ifndef MCPD_MCP_STATELESS_H
#define MCPD_MCP_STATELESS_H

#include <jansson.h>
#include <stdbool.h>

#include "http/http_server.h"
#include "mcp/context.h"

/* Whether a POST (its parsed body) is a 2026-07-28 one: its _meta names a protocol version, or
 * its MCP-Protocol-Version header is no session revision and it has no session id and is no
 * initialize. */
bool mcp_stateless_detect(const struct http_request *req, const json_t *body);
/* Serve such a POST; takes the body reference. user: the authenticated user. */
void mcp_stateless_post(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user,
                        json_t *body);
/* GET or DELETE from a 2026-07-28 client (MCP-Protocol-Version: 2026-07-28): there is neither
 * a standalone stream nor a session in that revision. */
bool mcp_stateless_refuses(const struct http_request *req);
void mcp_stateless_method_not_allowed(struct http_exchange *ex);

#endif
