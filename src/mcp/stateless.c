#include "mcp/stateless.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "http/http_response.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "mcp/call.h"
#include "mcp/dispatch.h"
#include "mcp/jsonrpc.h"
#include "mcp/listen.h"
#include "mcp/session.h"

#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CAPS    "io.modelcontextprotocol/clientCapabilities"
#define META_LEVEL   "io.modelcontextprotocol/logLevel"
#define META_SERVER  "io.modelcontextprotocol/serverInfo"

/* A header value as compared: at most this many bytes after decoding (names and URIs are
 * bounded by the HTTP layer's header limits well below this). */
#define VALUE_MAX 4096
/* How deep x-mcp-header annotations are looked for in an inputSchema (properties in properties). */
#define SCHEMA_DEPTH_MAX 8

/* ttlMs of the cacheable results: the lists and the server's description change only when the
 * server is restarted with other packs; resources are read from the packs, which may change them
 * (the reference pack's subscriptions announce updates). */
#define TTL_DESCRIPTION_MS 600000
#define TTL_LIST_MS        300000
#define TTL_READ_MS        60000

static const json_t *request_meta(const json_t *body)
{
    return json_object_get(json_object_get(body, "params"), "_meta");
}

static bool is_initialize(const json_t *body)
{
    const char *m = json_get_string(body, "method");
    return m && strcmp(m, "initialize") == 0;
}

bool mcp_stateless_detect(const struct http_request *req, const json_t *body)
{
    if (json_is_object(body) && json_object_get(request_meta(body), META_VERSION))
        return true;
    const char *v = http_request_header(req, "mcp-protocol-version");
    if (!v || mcp_protocol_supported(v) || http_request_header(req, "mcp-session-id"))
        return false;
    return !(json_is_object(body) && is_initialize(body));
}

bool mcp_stateless_refuses(const struct http_request *req)
{
    const char *v = http_request_header(req, "mcp-protocol-version");
    return v && strcmp(v, MCP_STATELESS_PROTOCOL_VERSION) == 0;
}

void mcp_stateless_method_not_allowed(struct http_exchange *ex)
{
    http_response_header(ex, "Allow", "GET, POST, DELETE");
    http_respond_json(ex, 405,
                      jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST,
                                    "Method not allowed: protocol version 2026-07-28 has no "
                                    "session and no GET stream; send each request as a POST",
                                    NULL));
}

static void refuse(struct http_exchange *ex, int status, const json_t *id, int code,
                   const char *message, json_t *data)
{
    http_respond_json(ex, status, jsonrpc_error(id, code, message, data));
}

/* ---- header values ---- */

/* The value without the optional whitespace around it (RFC 9110 5.5). */
static size_t trim(const char *v, const char **start)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    *start = v;
    return n;
}

static bool base64_strict(const char *s, size_t n)
{
    if (n == 0 || n % 4 != 0)
        return false;
    size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    for (size_t i = 0; i < n - pad; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
            return false;
    return true;
}

/* A header value decoded: "=?base64?<b64>?=" is Base64 of the UTF-8 value, anything else the
 * value itself. -1 when the value is malformed (bad Base64, a control character). */
static long header_decode(const char *raw, char *out, size_t out_size)
{
    const char *v;
    size_t n = trim(raw, &v);
    const size_t pre = strlen("=?base64?"), post = strlen("?=");
    if (n >= pre + post && strncmp(v, "=?base64?", pre) == 0 &&
        strncmp(v + n - post, "?=", post) == 0) {
        if (!base64_strict(v + pre, n - pre - post))
            return -1;
        long len = crypto_base64_decode(v + pre, n - pre - post, (uint8_t *)out, out_size - 1);
        if (len < 0)
            return -1;
        out[len] = '\0';
        return len;
    }
    if (n >= out_size)
        return -1;
    for (size_t i = 0; i < n; i++) /* plain values are visible ASCII, space and tab */
        if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || (unsigned char)v[i] > 0x7e)
            return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return (long)n;
}

/* Whether a (decoded) header value stands for the body's value: strings byte for byte, integers
 * and numbers numerically, booleans as true/false. */
static bool value_matches(const char *h, size_t hlen, const json_t *body)
{
    if (json_is_string(body))
        return json_string_length(body) == hlen && memcmp(json_string_value(body), h, hlen) == 0;
    if (json_is_boolean(body))
        return strcmp(h, json_is_true(body) ? "true" : "false") == 0;
    if (json_is_number(body) && hlen > 0) {
        char *end;
        double d = strtod(h, &end);
        return *end == '\0' && d == json_number_value(body);
    }
    return false;
}

/* Mcp-Name or Mcp-Param-<x> against the body value; NULL when it matches, else why not. */
static const char *header_matches(const struct http_request *req, const char *name,
                                  const json_t *body_value)
{
    static const char *const missing = "Header mismatch: a required header is missing";
    const char *raw = http_request_header(req, name);
    if (!raw)
        return missing;
    char buf[VALUE_MAX + 1];
    long n = header_decode(raw, buf, sizeof buf);
    bool ok = n >= 0 && value_matches(buf, (size_t)n, body_value);
    if (n < 0)
        return "Header mismatch: a header value is malformed (invalid characters or Base64)";
    return ok ? NULL : "Header mismatch: a header value does not match the request body";
}

/* The x-mcp-header annotations of an inputSchema, properties within properties. */
static const char *check_params(const struct http_request *req, const json_t *schema,
                                const json_t *args, int depth)
{
    const char *key;
    json_t *prop;
    if (depth > SCHEMA_DEPTH_MAX)
        return NULL;
    json_object_foreach(json_object_get(schema, "properties"), key, prop)
    {
        const json_t *value = json_object_get(args, key);
        const char *hdr = json_get_string(prop, "x-mcp-header");
        if (hdr && value && !json_is_null(value)) {
            char name[128];
            snprintf(name, sizeof name, "mcp-param-%s", hdr);
            const char *why = header_matches(req, name, value);
            if (why)
                return why;
        }
        if (json_is_object(value)) {
            const char *why = check_params(req, prop, value, depth + 1);
            if (why)
                return why;
        }
    }
    return NULL;
}

/* The standard headers mirror the body: NULL when they do, else why not (-32020). */
static const char *check_headers(struct mcp_ctx *ctx, const struct http_request *req,
                                 const char *method, const json_t *params, const char *version)
{
    const char *h = http_request_header(req, "mcp-protocol-version"), *v;
    if (!h || trim(h, &v) != strlen(version) || strncmp(v, version, strlen(version)) != 0)
        return "Header mismatch: MCP-Protocol-Version must be present and equal the request's "
               "_meta protocol version";
    h = http_request_header(req, "mcp-method");
    if (!h || trim(h, &v) != strlen(method) || strncmp(v, method, strlen(method)) != 0)
        return "Header mismatch: Mcp-Method must be present and equal the request's method";
    const json_t *named = NULL;
    if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0)
        named = json_object_get(params, "name");
    else if (strcmp(method, "resources/read") == 0)
        named = json_object_get(params, "uri");
    else if (strcmp(method, "tasks/get") == 0 || strcmp(method, "tasks/update") == 0 ||
             strcmp(method, "tasks/cancel") == 0)
        named = json_object_get(params, "taskId");
    if (json_is_string(named)) {
        const char *why = header_matches(req, "mcp-name", named);
        if (why)
            return why;
    }
    if (strcmp(method, "tools/call") == 0 && json_is_string(named)) {
        const json_t *schema =
            mcp_dispatch_tool_header_schema(ctx->dispatch, json_string_value(named));
        return schema ? check_params(req, schema, json_object_get(params, "arguments"), 0) : NULL;
    }
    return NULL;
}

/* ---- the answer ---- */

struct spost {
    struct mcp_sink sink;
    struct mcp_ctx *ctx;
    struct http_exchange *ex; /* NULL once the client left */
    char method[64];
    bool private_scope; /* cacheScope of cacheable results */
    bool always_sse;    /* RESPONSE_MODE=sse */
    bool streaming;     /* the answer is an SSE stream */
};

static int cache_ttl(const char *method)
{
    if (strcmp(method, "server/discover") == 0)
        return TTL_DESCRIPTION_MS;
    if (strcmp(method, "resources/read") == 0)
        return TTL_READ_MS;
    if (strcmp(method, "tools/list") == 0 || strcmp(method, "prompts/list") == 0 ||
        strcmp(method, "resources/list") == 0 || strcmp(method, "resources/templates/list") == 0)
        return TTL_LIST_MS;
    return -1;
}

/* resultType (unless the call set one, e.g. input_required), the server's identity, and the
 * caching hints of a complete cacheable result. The result may be a cached listing shared with
 * other answers: it is copied, never changed in place. */
static void decorate(struct spost *p, json_t *msg)
{
    json_t *shared = json_object_get(msg, "result");
    if (!json_is_object(shared))
        return;
    json_t *r = json_copy(shared);
    json_object_set_new(msg, "result", r);
    if (!json_object_get(r, "resultType"))
        json_object_set_new(r, "resultType", json_string("complete"));
    json_t *meta = json_object_get(r, "_meta");
    meta = json_is_object(meta) ? json_copy(meta) : json_object();
    json_object_set_new(r, "_meta", meta);
    json_object_set_new(meta, META_SERVER,
                        json_deep_copy(mcp_dispatch_server_info(p->ctx->dispatch)));
    int ttl = cache_ttl(p->method);
    if (ttl >= 0 && strcmp(json_get_string(r, "resultType"), "complete") == 0 &&
        !json_object_get(r, "ttlMs")) {
        json_object_set_new(r, "ttlMs", json_integer(ttl));
        json_object_set_new(r, "cacheScope", json_string(p->private_scope ? "private" : "public"));
    }
}

/* What decorate() and serializing give, written straight into out for the common answer: a
 * message as jsonrpc_result() builds it (result, jsonrpc, id) whose result has none of the members
 * decorate() looks at. The result is not copied and the serverInfo member not built. false (out
 * untouched): the caller decorates. */
static bool decorated_text(struct spost *p, const json_t *msg, struct buf *out)
{
    static const char *const order[] = {"result", "jsonrpc", "id"};
    const json_t *r = json_object_get(msg, "result");
    void *it = json_object_iter((json_t *)msg);
    for (size_t i = 0; i < 3; i++, it = json_object_iter_next((json_t *)msg, it))
        if (!it || strcmp(json_object_iter_key(it), order[i]) != 0)
            return false;
    if (it || !json_is_object(r))
        return false;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)r, key, value)
    {
        if (strcmp(key, "resultType") == 0 || strcmp(key, "_meta") == 0 ||
            strcmp(key, "ttlMs") == 0 || strcmp(key, "cacheScope") == 0)
            return false;
    }
    int ttl = cache_ttl(p->method);
    bool ok = buf_reserve(out, 512) == BUF_OK && buf_append_str(out, "{\"result\":") == BUF_OK &&
              json_serialize_buf(r, out) == BUF_OK;
    if (ok) {
        out->len--; /* the result's closing brace: the decoration goes before it */
        ok = buf_append_str(out, json_object_size(r) ? "," : "") == BUF_OK &&
             buf_append_str(out, "\"resultType\":\"complete\",\"_meta\":{\"" META_SERVER "\":") ==
                 BUF_OK &&
             json_serialize_buf(mcp_dispatch_server_info(p->ctx->dispatch), out) == BUF_OK &&
             (ttl < 0 || buf_printf(out, "},\"ttlMs\":%d,\"cacheScope\":\"%s", ttl,
                                    p->private_scope ? "private" : "public") == BUF_OK) &&
             buf_append_str(out, ttl < 0 ? "}},\"jsonrpc\":" : "\"},\"jsonrpc\":") == BUF_OK &&
             json_serialize_buf(json_object_get(msg, "jsonrpc"), out) == BUF_OK &&
             buf_append_str(out, ",\"id\":") == BUF_OK &&
             json_serialize_buf(json_object_get(msg, "id"), out) == BUF_OK &&
             buf_append_char(out, '}') == BUF_OK;
    }
    if (!ok)
        buf_reset(out);
    return ok;
}

/* The HTTP status of a JSON answer: the transport's statuses for the protocol's errors. */
static int answer_status(const json_t *msg)
{
    json_int_t code = json_integer_value(json_object_get(json_object_get(msg, "error"), "code"));
    if (code == JSONRPC_METHOD_NOT_FOUND)
        return 404;
    if (code == MCP_ERROR_HEADER_MISMATCH || code == MCP_ERROR_MISSING_CAPABILITY ||
        code == MCP_ERROR_UNSUPPORTED_VERSION)
        return 400;
    return 200;
}

/* One event: msg, or its text when already written (decorated_text). */
static void spost_event(struct spost *p, json_t *msg, const struct buf *written)
{
    size_t len = written->len;
    char *text = len ? NULL : json_serialize(msg, &len);
    if ((text || written->len) && p->ex)
        http_sse_event(p->ex, NULL, "message", text ? text : written->data, len);
    free(text);
    json_decref(msg);
}

static void spost_begin_stream(struct spost *p)
{
    p->streaming = true;
    if (p->ex)
        http_sse_begin(p->ex, 200);
}

static void spost_emit(struct mcp_sink *sink, json_t *msg, bool final)
{
    struct spost *p = (struct spost *)sink;
    struct buf text; /* the decorated answer, when written directly */
    buf_init(&text, 0);
    if (msg && final && !decorated_text(p, msg, &text))
        decorate(p, msg);
    if (!p->streaming && (p->always_sse || (!final && msg) || (final && !msg)))
        spost_begin_stream(p); /* a cancelled call: a stream with no events */
    if (msg && p->streaming) {
        spost_event(p, msg, &text);
    } else if (msg) {
        if (p->ex) {
            http_exchange_set_abort(p->ex, NULL, NULL);
            if (text.len) { /* a result: 200 */
                http_respond(p->ex, 200, "application/json", text.data, text.len);
                json_decref(msg);
            } else {
                http_respond_json(p->ex, answer_status(msg), msg);
            }
            p->ex = NULL;
        } else {
            json_decref(msg);
        }
    }
    buf_free(&text);
    if (!final)
        return;
    if (p->ex) {
        http_exchange_set_abort(p->ex, NULL, NULL);
        http_stream_end(p->ex);
    }
    free(p);
}

/* The client closed the connection: in this revision that cancels the request, so the call
 * ends here (its final emit frees p) instead of running for nobody. */
static void spost_abort(struct http_exchange *ex, void *arg)
{
    struct spost *p = arg;
    http_exchange_finish(ex);
    p->ex = NULL;
    mcp_call_sink_gone(&p->sink);
}

/* ---- the request ---- */

/* The request's own _meta as a session; -1 after answering the error when it is unusable. */
static int meta_session(struct mcp_ctx *ctx, struct http_exchange *ex, const json_t *body,
                        const char *method, struct mcp_session *s)
{
    const json_t *id = json_object_get(body, "id"), *params = json_object_get(body, "params");
    const json_t *meta = json_object_get(params, "_meta");
    const char *version = json_get_string(meta, META_VERSION);
    json_t *caps = json_object_get(meta, META_CAPS);
    if (!json_is_object(meta) || !version || !json_is_object(caps)) {
        refuse(ex, 400, id, JSONRPC_INVALID_PARAMS,
               "Invalid params: _meta must carry io.modelcontextprotocol/protocolVersion (a "
               "string) and io.modelcontextprotocol/clientCapabilities (an object)",
               NULL);
        return -1;
    }
    const char *mismatch = check_headers(ctx, http_exchange_request(ex), method, params, version);
    if (mismatch) {
        refuse(ex, 400, id, MCP_ERROR_HEADER_MISMATCH, mismatch, NULL);
        return -1;
    }
    if (strcmp(version, MCP_STATELESS_PROTOCOL_VERSION) != 0) {
        json_t *supported = json_pack("[s]", MCP_STATELESS_PROTOCOL_VERSION);
        for (size_t i = 0; mcp_protocol_versions[i]; i++)
            json_array_append_new(supported, json_string(mcp_protocol_versions[i]));
        refuse(ex, 400, id, MCP_ERROR_UNSUPPORTED_VERSION,
               "Unsupported protocol version (the session revisions start with initialize)",
               json_pack("{s:o,s:s}", "supported", supported, "requested", version));
        return -1;
    }
    const json_t *level = json_object_get(meta, META_LEVEL);
    s->log_level = level ? mcp_log_level_index(json_string_value(level)) : -1;
    /* {} (the usual declaration) fits any MAX_CAPABILITIES_BYTES: skip measuring it. */
    if ((level && s->log_level < 0) ||
        (json_object_size(caps) && !mcp_dispatch_capabilities_fit(ctx, caps))) {
        refuse(ex, 400, id, JSONRPC_INVALID_PARAMS,
               level && s->log_level < 0
                   ? "Invalid params: io.modelcontextprotocol/logLevel must be a log level"
                   : "Invalid params: capabilities larger than the server allows "
                     "(MAX_CAPABILITIES_BYTES)",
               NULL);
        return -1;
    }
    s->protocol_version = (char *)MCP_STATELESS_PROTOCOL_VERSION;
    s->client_capabilities = caps;
    s->stateless = true;
    return 0;
}

/* The message before its _meta: one request (or a notification), a known method. -1 after
 * answering when not; 1 when it was a notification (answered 202). */
static int check_message(struct mcp_ctx *ctx, struct http_exchange *ex, const json_t *body)
{
    const char *why = "Invalid Request";
    if (json_is_array(body)) {
        refuse(ex, 400, NULL, JSONRPC_INVALID_REQUEST,
               "Invalid Request: protocol version 2026-07-28 allows no batches", NULL);
        return -1;
    }
    enum jsonrpc_kind kind = jsonrpc_classify(body, &why);
    const json_t *id = json_object_get(body, "id");
    if (kind == JSONRPC_NOTIFICATION) {
        http_respond_empty(ex, 202);
        return 1;
    }
    if (kind != JSONRPC_REQUEST) {
        refuse(ex, 400, kind == JSONRPC_INVALID ? NULL : id, JSONRPC_INVALID_REQUEST,
               kind == JSONRPC_INVALID ? why
                                       : "Invalid Request: a 2026-07-28 client sends no responses",
               NULL);
        return -1;
    }
    int code = mcp_dispatch_check_request(ctx, body, &why);
    if (code != 0) {
        log_write(ctx->log, LOG_WARNING, "request refused", json_pack("{s:s}", "why", why));
        refuse(ex, 400, code == JSONRPC_INVALID_REQUEST ? NULL : id, code, why, NULL);
        return -1;
    }
    return 0;
}

/* subscriptions/listen: a stream that stays open (listen.h), not a call. */
static void stateless_listen(struct mcp_ctx *ctx, struct http_exchange *ex,
                             const struct mcp_session *s, json_t *body)
{
    mcp_listen_open(ctx, ex, s, body);
    json_decref(body);
}

void mcp_stateless_post(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user,
                        json_t *body)
{
    struct mcp_session s = {.owner = (char *)user, .log_level = -1};
    int checked = check_message(ctx, ex, body);
    const char *method = json_get_string(body, "method"); /* a string once checked */
    if (checked != 0 || meta_session(ctx, ex, body, method, &s) != 0) {
        json_decref(body);
        return;
    }
    if (strcmp(method, "subscriptions/listen") == 0) {
        stateless_listen(ctx, ex, &s, body);
        return;
    }
    if (!mcp_dispatch_stateless_method(method)) {
        refuse(ex, 404, json_object_get(body, "id"), JSONRPC_METHOD_NOT_FOUND, "Method not found",
               NULL);
        json_decref(body);
        return;
    }
    struct spost *p = calloc(1, sizeof *p);
    if (!p) {
        refuse(ex, 500, json_object_get(body, "id"), JSONRPC_INTERNAL_ERROR, "Internal error",
               NULL);
        json_decref(body);
        return;
    }
    p->sink.emit = spost_emit;
    p->ctx = ctx;
    p->ex = ex;
    size_t mlen = strnlen(method, sizeof p->method - 1); /* calloc'd: NUL-terminated */
    memcpy(p->method, method, mlen);
    /* Lists and reads are the same for every user, but behind authorization a shared cache must
     * not hand them to someone without a token. */
    p->private_scope = ctx->cfg && !ctx->cfg->no_auth;
    p->always_sse =
        ctx->cfg && ctx->cfg->response_mode && strcmp(ctx->cfg->response_mode, "sse") == 0;
    http_exchange_set_abort(ex, spost_abort, p);
    http_exchange_abort_on_eof(ex); /* a 2026-07-28 client that goes away cancels its request */
    if (p->always_sse)
        spost_begin_stream(p);
    mcp_dispatch_request(ctx, &s, body, &p->sink);
    json_decref(body);
}
