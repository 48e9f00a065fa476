/*
 * Fuzz target for what the MCP transport parses from a client: a POST body as JSON-RPC (single
 * message or batch), a Last-Event-ID value, and a pagination cursor shape (base64). None of them
 * may crash, leak or misclassify: a message classified as a request must carry a valid id and a
 * string method.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/json.h"
#include "mcp/jsonrpc.h"
#include "mcp/streams.h"

static void check_message(const json_t *m)
{
    enum jsonrpc_kind kind = jsonrpc_classify(m, NULL);
    if (kind == JSONRPC_REQUEST) {
        if (!jsonrpc_valid_id(json_object_get(m, "id")) ||
            !json_is_string(json_object_get(m, "method")))
            abort();
        char key[64];
        jsonrpc_id_key(json_object_get(m, "id"), key, sizeof key);
        json_t *reply = jsonrpc_result(json_object_get(m, "id"), json_object());
        char *text = json_serialize(reply, NULL);
        free(text);
        json_decref(reply);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_parse((const char *)data, size, NULL, 0);
    if (json_is_array(body)) {
        size_t i;
        json_t *m;
        json_array_foreach(body, i, m) check_message(m);
    } else if (body) {
        check_message(body);
    }
    json_decref(body);

    char text[256];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    char stream[MCP_STREAM_ID_MAX + 1];
    uint64_t seq;
    if (mcp_event_id_parse(text, stream, sizeof stream, &seq) == 0 && strlen(stream) == 0)
        abort();
    uint8_t out[192];
    long len = crypto_base64_decode(text, n, out, sizeof out);
    if (len > (long)sizeof out)
        abort();
    return 0;
}
