/* What both MCP transports answer alike (see transport_common.h). */
#include "mcp/transport_common.h"

#include "http/http_response.h"
#include "lib/json.h"
#include "mcp/jsonrpc.h"

int mcp_http_error(struct http_exchange *ex, int status, int code, const char *message)
{
    return http_respond_json(ex, status, jsonrpc_error(NULL, code, message, NULL));
}

int mcp_http_store_unavailable(struct http_exchange *ex, const json_t *id)
{
    http_response_header(ex, "Retry-After", "1"); /* the store reconnects within about a second */
    return http_respond_json(ex, 503,
                             jsonrpc_error(id, JSONRPC_INTERNAL_ERROR,
                                           "Service unavailable: session store unreachable", NULL));
}

json_t *mcp_http_parse_body(struct http_exchange *ex)
{
    const struct http_request *req = http_exchange_request(ex);
    char err[160];
    json_t *body = json_parse(req->body, req->body_len, err, sizeof err);
    if (json_is_object(body) || json_is_array(body))
        return body;
    /* JSON-RPC 2.0 §5.1: -32700 is for text that is not JSON; JSON that is not a request object
     * (null, a number, a string, a boolean) is an Invalid Request. */
    json_t *answer =
        body ? jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST, "message is not an object", NULL)
             : jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, "Parse error", json_string(err));
    json_decref(body);
    http_respond_json(ex, 400, answer);
    return NULL;
}
