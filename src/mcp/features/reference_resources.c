/*
 * The reference pack's 100 static resources: generated, not stored. Odd numbers are
 * text, even numbers a base64 blob. List entries carry no contents; reads and
 * embedded references carry the full object. Subscribing asks the client for a sampling, as the
 * reference server does, when the client can answer one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "mcp/features/reference_internal.h"
#include "lib/utf8.h"

/* "Resource 100: This is a base64 blob" is the longest blob source. */
#define BLOB_TEXT_MAX 64

static bool is_text(long long n)
{
    return n % 2 == 1;
}

json_t *ref_resource_object(long long n)
{
    char uri[64], name[32], text[BLOB_TEXT_MAX], blob[2 * BLOB_TEXT_MAX];
    snprintf(uri, sizeof uri, REF_RESOURCE_PREFIX "%lld", n);
    snprintf(name, sizeof name, "Resource %lld", n);
    if (is_text(n)) {
        snprintf(text, sizeof text, "Resource %lld: This is a plaintext resource", n);
        return json_pack("{s:s,s:s,s:s,s:s}", "uri", uri, "name", name, "mimeType", "text/plain",
                         "text", text);
    }
    int len = snprintf(text, sizeof text, "Resource %lld: This is a base64 blob", n);
    if (crypto_base64_encode(text, (size_t)len, blob, sizeof blob) < 0)
        return NULL;
    return json_pack("{s:s,s:s,s:s,s:s}", "uri", uri, "name", name, "mimeType",
                     "application/octet-stream", "blob", blob);
}

size_t ref_resource_count(void)
{
    return REF_RESOURCE_COUNT;
}

json_t *ref_resource_entry(size_t i)
{
    if (i >= REF_RESOURCE_COUNT)
        return NULL;
    long long n = (long long)i + 1;
    char uri[64], name[32];
    snprintf(uri, sizeof uri, REF_RESOURCE_PREFIX "%lld", n);
    snprintf(name, sizeof name, "Resource %lld", n);
    return json_pack("{s:s,s:s,s:s}", "uri", uri, "name", name, "mimeType",
                     is_text(n) ? "text/plain" : "application/octet-stream");
}

bool ref_resource_read(struct mcp_call *c, const char *uri)
{
    if (ref_apps_resource_read(c, uri))
        return true;
    if (strncmp(uri, REF_RESOURCE_PREFIX, strlen(REF_RESOURCE_PREFIX)) != 0)
        return false;
    /* The reference server parses uri.split("/").pop() with parseInt: ".../1.5" and ".../01" are
     * resource 1, and the answer carries the canonical URI, not the requested one. */
    long long n;
    if (ref_js_parse_int(strrchr(uri, '/') + 1, &n) && n >= 1 && n <= REF_RESOURCE_COUNT) {
        ref_answer(c, json_pack("{s:[o]}", "contents", ref_resource_object(n)));
        return true;
    }
    char msg[300], quoted[251];
    utf8_copy_prefix(quoted, sizeof quoted, uri);
    snprintf(msg, sizeof msg, "Unknown resource: %s", quoted);
    mcp_call_error(c, JSONRPC_INTERNAL_ERROR, msg, NULL);
    return true;
}

const char REF_RESOURCE_TEMPLATES[] =
    "[{\"uriTemplate\":\"" REF_RESOURCE_PREFIX "{id}\",\"name\":\"Static Resource\","
    "\"description\":\"A static resource with a numeric ID\"}]";

/* Whatever the client answers (or a timeout), the subscription stands and the reply is {}. */
static void subscribe_sampled(struct mcp_call *c, const json_t *result, const json_t *error,
                              void *arg)
{
    mcp_call_result(c, json_object());
}

bool ref_resource_subscribe(struct mcp_call *c, const char *uri, bool subscribe)
{
    /* The reference server asks every client; asking one that declared no sampling would only hang
     * the subscribe until the timeout, so mcpd asks only those that can answer. */
    if (!subscribe || !mcp_call_client_supports(c, "sampling"))
        return false;
    json_t *params = ref_sampling_params(uri, "A new subscription was started", 100);
    if (!params ||
        mcp_call_request(c, "sampling/createMessage", params, 0, subscribe_sampled, NULL) != 0)
        mcp_call_result(c, json_object());
    return true;
}
