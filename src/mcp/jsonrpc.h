/*
 * jsonrpc: the JSON-RPC 2.0 message model MCP runs on: classifying and validating incoming
 * messages (requests, notifications, responses, batches), building outgoing envelopes in the
 * reference server's key order, the standard error codes, and the MCP protocol revisions mcpd
 * speaks. Pure functions over jansson values; no I/O, no sessions.
 */
#ifndef MCPD_MCP_JSONRPC_H
#define MCPD_MCP_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>

#define JSONRPC_PARSE_ERROR          (-32700)
#define JSONRPC_INVALID_REQUEST      (-32600)
#define JSONRPC_METHOD_NOT_FOUND     (-32601)
#define JSONRPC_INVALID_PARAMS       (-32602)
#define JSONRPC_INTERNAL_ERROR       (-32603)
#define JSONRPC_SERVER_ERROR         (-32000) /* implementation-defined server error */
#define MCP_ERROR_REQUEST_TIMEOUT    (-32001) /* a server->client request was not answered */
#define MCP_ERROR_SESSION_NOT_FOUND  (-32001) /* the SDKs' code for an unknown session */
#define MCP_ERROR_RESOURCE_NOT_FOUND (-32002) /* up to 2025-11-25; -32602 from 2026-07-28 */
/* The codes the 2026-07-28 revision reserves (-32020 to -32099). */
#define MCP_ERROR_HEADER_MISMATCH     (-32020)
#define MCP_ERROR_MISSING_CAPABILITY  (-32021)
#define MCP_ERROR_UNSUPPORTED_VERSION (-32022)

enum jsonrpc_kind {
    JSONRPC_INVALID = 0,
    JSONRPC_REQUEST,      /* method + id */
    JSONRPC_NOTIFICATION, /* method, no id */
    JSONRPC_RESPONSE,     /* id + result */
    JSONRPC_ERROR,        /* id + error */
};

/* Classify one message; on JSONRPC_INVALID, *why (may be NULL) names the problem. */
enum jsonrpc_kind jsonrpc_classify(const json_t *msg, const char **why);
/* True if id is a JSON-RPC id MCP allows: a string or an integer. */
bool jsonrpc_valid_id(const json_t *id);
/* The id as text for map keys: strings as "s:<text>", integers as "n:<decimal>". out >= 64 bytes
 * for integers; strings are truncated at out_size - 1. */
void jsonrpc_id_key(const json_t *id, char *out, size_t out_size);

/* Envelopes (new references). id is borrowed (copied); NULL id means "id":null. */
json_t *jsonrpc_result(const json_t *id, json_t *result /* stolen */);
json_t *jsonrpc_error(const json_t *id, int code, const char *message, json_t *data /* stolen */);
json_t *jsonrpc_notification(const char *method, json_t *params /* stolen, may be NULL */);
json_t *jsonrpc_request(json_int_t id, const char *method, json_t *params /* stolen */);

/* Protocol revisions, newest first. */
extern const char *const mcp_protocol_versions[];
#define MCP_LATEST_PROTOCOL_VERSION "2025-11-25"
/* Assumed when a request carries no MCP-Protocol-Version header (transports spec). */
#define MCP_DEFAULT_PROTOCOL_VERSION "2025-03-26"
/* The stateless revision: no initialize, no session; each request names it in its _meta. */
#define MCP_STATELESS_PROTOCOL_VERSION "2026-07-28"
/* A revision served with sessions (initialize), i.e. one of mcp_protocol_versions. */
bool mcp_protocol_supported(const char *version);
/* The revision to answer initialize with: the client's when supported, else the latest. */
const char *mcp_protocol_negotiate(const char *requested);
/* Compare revisions (they are ISO dates, so strcmp orders them). */
int mcp_protocol_cmp(const char *a, const char *b);

#endif
