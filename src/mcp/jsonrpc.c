#include "mcp/jsonrpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *const mcp_protocol_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
                                             NULL};

bool jsonrpc_valid_id(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id);
}

enum jsonrpc_kind jsonrpc_classify(const json_t *msg, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!json_is_object(msg)) {
        *why = "message is not an object";
        return JSONRPC_INVALID;
    }
    const char *version = json_string_value(json_object_get(msg, "jsonrpc"));
    if (!version || strcmp(version, "2.0") != 0) {
        *why = "jsonrpc must be \"2.0\"";
        return JSONRPC_INVALID;
    }
    json_t *method = json_object_get(msg, "method");
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    if (method) {
        if (!json_is_string(method)) {
            *why = "method must be a string";
            return JSONRPC_INVALID;
        }
        if (params && !json_is_object(params)) {
            *why = "params must be an object";
            return JSONRPC_INVALID;
        }
        /* JSON-RPC 2.0 §4, §5: a request has no result or error; a response has no method. */
        if (json_object_get(msg, "result") || json_object_get(msg, "error")) {
            *why = "a message has a method or a result or error, not both";
            return JSONRPC_INVALID;
        }
        if (!id)
            return JSONRPC_NOTIFICATION;
        if (!jsonrpc_valid_id(id)) {
            *why = "id must be a string or an integer";
            return JSONRPC_INVALID;
        }
        return JSONRPC_REQUEST;
    }
    json_t *result = json_object_get(msg, "result");
    json_t *error = json_object_get(msg, "error");
    if ((result != NULL) == (error != NULL)) {
        *why = "a message needs a method, or exactly one of result and error";
        return JSONRPC_INVALID;
    }
    if (!jsonrpc_valid_id(id) && !(error && json_is_null(id))) {
        *why = "id must be a string or an integer";
        return JSONRPC_INVALID;
    }
    if (error) {
        if (!json_is_object(error) || !json_is_integer(json_object_get(error, "code")) ||
            !json_is_string(json_object_get(error, "message"))) {
            *why = "error must have an integer code and a string message";
            return JSONRPC_INVALID;
        }
        return JSONRPC_ERROR;
    }
    if (!json_is_object(result)) {
        *why = "result must be an object";
        return JSONRPC_INVALID;
    }
    return JSONRPC_RESPONSE;
}

void jsonrpc_id_key(const json_t *id, char *out, size_t out_size)
{
    if (json_is_integer(id))
        snprintf(out, out_size, "n:%" JSON_INTEGER_FORMAT, json_integer_value(id));
    else if (json_is_string(id))
        snprintf(out, out_size, "s:%s", json_string_value(id));
    else
        snprintf(out, out_size, "null");
}

static json_t *id_copy(const json_t *id)
{
    return id ? json_deep_copy(id) : json_null();
}

json_t *jsonrpc_result(const json_t *id, json_t *result)
{
    /* Key order as the reference server's SDK emits it: result, jsonrpc, id. */
    json_t *m = json_object();
    json_object_set_new(m, "result", result ? result : json_object());
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    json_object_set_new(m, "id", id_copy(id));
    return m;
}

json_t *jsonrpc_error(const json_t *id, int code, const char *message, json_t *data)
{
    json_t *err = json_object();
    json_object_set_new(err, "code", json_integer(code));
    json_object_set_new(err, "message", json_string(message ? message : ""));
    if (data)
        json_object_set_new(err, "data", data);
    json_t *m = json_object();
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    json_object_set_new(m, "id", id_copy(id));
    json_object_set_new(m, "error", err);
    return m;
}

json_t *jsonrpc_notification(const char *method, json_t *params)
{
    json_t *m = json_object();
    json_object_set_new(m, "method", json_string(method));
    if (params)
        json_object_set_new(m, "params", params);
    json_object_set_new(m, "jsonrpc", json_string("2.0"));
    return m;
}

json_t *jsonrpc_request(json_int_t id, const char *method, json_t *params)
{
    json_t *m = jsonrpc_notification(method, params);
    json_object_set_new(m, "id", json_integer(id));
    return m;
}

bool mcp_protocol_supported(const char *version)
{
    if (!version)
        return false;
    for (size_t i = 0; mcp_protocol_versions[i]; i++)
        if (strcmp(version, mcp_protocol_versions[i]) == 0)
            return true;
    return false;
}

const char *mcp_protocol_negotiate(const char *requested)
{
    for (size_t i = 0; requested && mcp_protocol_versions[i]; i++)
        if (strcmp(requested, mcp_protocol_versions[i]) == 0)
            return mcp_protocol_versions[i];
    return MCP_LATEST_PROTOCOL_VERSION;
}

int mcp_protocol_cmp(const char *a, const char *b)
{
    return strcmp(a, b);
}
