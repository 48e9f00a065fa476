#include "mcp/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "mcp/call_internal.h"
#include "mcp/jsonrpc.h"
#include "mcp/limits.h"
#include "mcp/tasks.h"
#include "store/store.h"
#include "lib/utf8.h"

#define MAX_PACKS 8

/* Every pack compiled in; --features picks from these by name. */
static const struct mcp_feature_pack *const known_packs[] = {
    &mcp_pack_reference,
    &mcp_pack_conformance,
};

struct mcp_dispatch {
    const struct mcp_feature_pack *packs[MAX_PACKS];
    size_t pack_count;
    json_t *tools;                  /* tools/list result with every tool, built once */
    json_t *header_schemas;         /* name -> inputSchema of the tools with x-mcp-header */
    bool gated_tools;               /* some tool is listed only for clients with a capability */
    json_t *prompts;                /* prompts/list result */
    json_t *templates;              /* resources/templates/list result */
    json_t *capabilities;           /* merged capabilities */
    json_t *stateless_capabilities; /* the same for 2026-07-28, with the tasks extension */
    json_t *server_info;
    const char *instructions;
};

static json_t *tool_entry(const struct mcp_tool *t)
{
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(t->name));
    if (t->title)
        json_object_set_new(e, "title", json_string(t->title));
    json_object_set_new(e, "description", json_string(t->description));
    json_object_set_new(e, "inputSchema", json_literal(t->input_schema));
    if (t->output_schema)
        json_object_set_new(e, "outputSchema", json_literal(t->output_schema));
    if (t->annotations)
        json_object_set_new(e, "annotations", json_literal(t->annotations));
    if (t->meta)
        json_object_set_new(e, "_meta", json_literal(t->meta));
    return e;
}

static json_t *prompt_entry(const struct mcp_prompt *p)
{
    json_t *e = json_object();
    json_object_set_new(e, "name", json_string(p->name));
    if (p->title)
        json_object_set_new(e, "title", json_string(p->title));
    json_object_set_new(e, "description", json_string(p->description));
    if (p->arguments)
        json_object_set_new(e, "arguments", json_literal(p->arguments));
    return e;
}

/* Merge capability objects key by key, one level deep ({"tools":{"listChanged":true}}). */
static void merge_capabilities(json_t *into, const char *text)
{
    if (!text)
        return;
    json_t *caps = json_literal(text);
    const char *key;
    json_t *value;
    json_object_foreach(caps, key, value)
    {
        json_t *have = json_object_get(into, key);
        if (json_is_object(have) && json_is_object(value))
            json_object_update(have, value);
        else
            json_object_set(into, key, value);
    }
    json_decref(caps);
}

/* 2026-07-28 gets the packs' capabilities as they are: listChanged and subscribe are delivered
 * on subscriptions/listen (listen.h). */
static json_t *stateless_capabilities(const json_t *caps)
{
    return json_deep_copy(caps);
}

static void advertise_tasks(json_t *caps)
{
    json_t *ext = json_object_get(caps, "extensions");
    if (!json_is_object(ext)) {
        ext = json_object();
        json_object_set_new(caps, "extensions", ext);
    }
    if (!json_object_get(ext, MCP_TASKS_EXTENSION))
        json_object_set_new(ext, MCP_TASKS_EXTENSION, json_object());
}

static void build_listings(struct mcp_dispatch *d)
{
    json_t *tools = json_array(), *prompts = json_array(), *templates = json_array();
    bool task_tools = false;
    d->capabilities = json_object();
    d->header_schemas = json_object();
    for (size_t i = 0; i < d->pack_count; i++) {
        const struct mcp_feature_pack *p = d->packs[i];
        for (size_t t = 0; t < p->tool_count; t++) {
            json_t *entry = tool_entry(&p->tools[t]);
            json_array_append_new(tools, entry);
            if (p->tools[t].input_schema && strstr(p->tools[t].input_schema, "x-mcp-header"))
                json_object_set(d->header_schemas, p->tools[t].name,
                                json_object_get(entry, "inputSchema"));
            d->gated_tools |= p->tools[t].requires_capability != NULL || p->tools[t].offered;
            task_tools |= p->tools[t].task_support != MCP_TASK_NONE;
        }
        for (size_t t = 0; t < p->prompt_count; t++)
            json_array_append_new(prompts, prompt_entry(&p->prompts[t]));
        if (p->resource_templates) {
            json_t *arr = json_literal(p->resource_templates);
            json_array_extend(templates, arr);
            json_decref(arr);
        }
        merge_capabilities(d->capabilities, p->capabilities);
    }
    d->stateless_capabilities = stateless_capabilities(d->capabilities);
    /* Tasks exist only in 2026-07-28: the extension is offered in server/discover when a tool may
     * become one (longRunningOperation, the conformance fixtures), never in a session's
     * initialize, so no pack's capabilities text names it. */
    if (task_tools)
        advertise_tasks(d->stateless_capabilities);
    d->tools = json_pack("{s:o}", "tools", tools);
    d->prompts = json_pack("{s:o}", "prompts", prompts);
    d->templates = json_pack("{s:o}", "resourceTemplates", templates);
    const struct mcp_feature_pack *first = d->packs[0];
    d->server_info =
        json_pack("{s:s,s:s}", "name", first->server_name, "version", first->server_version);
    d->instructions = first->instructions;
}

struct mcp_dispatch *mcp_dispatch_new(const char *features, char *err, size_t err_size)
{
    struct mcp_dispatch *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    const char *p = features && *features ? features : "reference";
    while (*p) {
        size_t n = strcspn(p, ",");
        const struct mcp_feature_pack *found = NULL;
        for (size_t i = 0; i < sizeof known_packs / sizeof known_packs[0]; i++)
            if (strlen(known_packs[i]->name) == n && strncmp(known_packs[i]->name, p, n) == 0)
                found = known_packs[i];
        if (!found) {
            snprintf(err, err_size, "unknown feature pack '%.*s' (known: reference, conformance)",
                     (int)n, p);
            free(d);
            return NULL;
        }
        bool dup = false;
        for (size_t i = 0; i < d->pack_count; i++)
            dup |= d->packs[i] == found;
        if (!dup && d->pack_count < MAX_PACKS)
            d->packs[d->pack_count++] = found;
        p += n + (p[n] == ',');
    }
    if (d->pack_count == 0) {
        snprintf(err, err_size, "no feature pack enabled");
        free(d);
        return NULL;
    }
    build_listings(d);
    return d;
}

void mcp_dispatch_free(struct mcp_dispatch *d)
{
    if (!d)
        return;
    json_decref(d->tools);
    json_decref(d->header_schemas);
    json_decref(d->prompts);
    json_decref(d->templates);
    json_decref(d->capabilities);
    json_decref(d->stateless_capabilities);
    json_decref(d->server_info);
    free(d);
}

size_t mcp_dispatch_pack_count(const struct mcp_dispatch *d)
{
    return d->pack_count;
}

const struct mcp_feature_pack *mcp_dispatch_pack(const struct mcp_dispatch *d, size_t i)
{
    return i < d->pack_count ? d->packs[i] : NULL;
}

json_t *mcp_dispatch_initialize_result(const struct mcp_dispatch *d, const char *protocol_version)
{
    json_t *r = json_object();
    json_object_set_new(r, "protocolVersion", json_string(protocol_version));
    json_object_set_new(r, "capabilities", json_deep_copy(d->capabilities));
    json_object_set_new(r, "serverInfo", json_deep_copy(d->server_info));
    if (d->instructions)
        json_object_set_new(r, "instructions", json_string(d->instructions));
    return r;
}

const json_t *mcp_dispatch_capabilities(const struct mcp_dispatch *d)
{
    return d->capabilities;
}

const json_t *mcp_dispatch_server_info(const struct mcp_dispatch *d)
{
    return d->server_info;
}

const json_t *mcp_dispatch_tool_header_schema(const struct mcp_dispatch *d, const char *name)
{
    return name ? json_object_get(d->header_schemas, name) : NULL;
}

/* ---- methods ---- */

/* server/discover (2026-07-28): every revision served, on either path. */
static void method_discover(struct mcp_call *c)
{
    const struct mcp_dispatch *d = c->ctx->dispatch;
    json_t *versions = json_array();
    json_array_append_new(versions, json_string(MCP_STATELESS_PROTOCOL_VERSION));
    for (size_t i = 0; mcp_protocol_versions[i]; i++)
        json_array_append_new(versions, json_string(mcp_protocol_versions[i]));
    json_t *r = json_pack("{s:o,s:O}", "supportedVersions", versions, "capabilities",
                          d->stateless_capabilities);
    if (d->instructions)
        json_object_set_new(r, "instructions", json_string(d->instructions));
    mcp_call_result(c, r);
}

static void invalid_params(struct mcp_call *c, const char *message)
{
    mcp_call_error(c, JSONRPC_INVALID_PARAMS, message, NULL);
}

static void method_ping(struct mcp_call *c)
{
    mcp_call_result(c, json_object());
}

static bool tool_offered(const struct mcp_call *c, const struct mcp_tool *t)
{
    if (t->requires_capability && !mcp_call_client_supports(c, t->requires_capability))
        return false;
    return !t->offered || t->offered(c);
}

static void method_tools_list(struct mcp_call *c)
{
    const struct mcp_dispatch *d = c->ctx->dispatch;
    if (!d->gated_tools) {
        mcp_call_result(c, json_incref(d->tools));
        return;
    }
    /* The cached entries are in pack/table order, so index i walks both together. */
    json_t *all = json_object_get(d->tools, "tools"), *list = json_array();
    size_t i = 0;
    for (size_t p = 0; p < d->pack_count; p++)
        for (size_t t = 0; t < d->packs[p]->tool_count; t++, i++)
            if (tool_offered(c, &d->packs[p]->tools[t]))
                json_array_append(list, json_array_get(all, i));
    mcp_call_result(c, json_pack("{s:o}", "tools", list));
}

/* tools/call and prompts/get share their params: a string name and optional object arguments.
 * Answers the call and returns false when they are malformed. */
static bool named_params(struct mcp_call *c, const char **name, json_t **args)
{
    *name = json_get_string(c->params, "name");
    *args = json_object_get(c->params, "arguments");
    if (!*name)
        invalid_params(c, "Invalid params: name must be a string");
    else if (*args && !json_is_object(*args))
        invalid_params(c, "Invalid params: arguments must be an object");
    return *name && (!*args || json_is_object(*args));
}

static void method_tools_call(struct mcp_call *c)
{
    const struct mcp_dispatch *d = c->ctx->dispatch;
    const char *name;
    json_t *args;
    if (!named_params(c, &name, &args))
        return;
    for (size_t i = 0; i < d->pack_count; i++)
        for (size_t t = 0; t < d->packs[i]->tool_count; t++)
            if (strcmp(d->packs[i]->tools[t].name, name) == 0 &&
                tool_offered(c, &d->packs[i]->tools[t])) {
                if (!mcp_tasks_take_call(c, &d->packs[i]->tools[t]))
                    d->packs[i]->tools[t].call(c, args);
                return;
            }
    char msg[300], quoted[201];
    utf8_copy_prefix(quoted, sizeof quoted, name);
    snprintf(msg, sizeof msg, "Unknown tool: %s", quoted);
    invalid_params(c, msg);
}

/* Cursors are base64 of the decimal offset, as the reference server's ("MTA=" is 10). */
static long decode_cursor(const char *cursor)
{
    uint8_t raw[24];
    long n = crypto_base64_decode(cursor, strlen(cursor), raw, sizeof raw - 1);
    if (n <= 0)
        return -1;
    raw[n] = '\0';
    char *end;
    long v = strtol((const char *)raw, &end, 10);
    if (*end || v < 0 || (const char *)raw == end)
        return -1;
    return v;
}

static void method_resources_list(struct mcp_call *c)
{
    const struct mcp_dispatch *d = c->ctx->dispatch;
    json_t *cursor = json_object_get(c->params, "cursor");
    long start = 0;
    if (cursor) {
        start = json_is_string(cursor) ? decode_cursor(json_string_value(cursor)) : -1;
        if (start < 0)
            return invalid_params(c, "Invalid params: malformed cursor");
    }
    size_t total = 0;
    for (size_t i = 0; i < d->pack_count; i++)
        total += d->packs[i]->resource_count ? d->packs[i]->resource_count() : 0;
    size_t end = (size_t)start + MCP_PAGE_SIZE < total ? (size_t)start + MCP_PAGE_SIZE : total;
    json_t *list = json_array();
    size_t base = 0;
    for (size_t i = 0; i < d->pack_count; i++) {
        size_t n = d->packs[i]->resource_count ? d->packs[i]->resource_count() : 0;
        for (size_t k = 0; k < n; k++)
            if (base + k >= (size_t)start && base + k < end)
                json_array_append_new(list, d->packs[i]->resource_entry(k));
        base += n;
    }
    json_t *result = json_pack("{s:o}", "resources", list);
    if (end < total) {
        char dec[24], b64[40];
        snprintf(dec, sizeof dec, "%zu", end);
        crypto_base64_encode(dec, strlen(dec), b64, sizeof b64);
        json_object_set_new(result, "nextCursor", json_string(b64));
    }
    mcp_call_result(c, result);
}

static void method_templates_list(struct mcp_call *c)
{
    mcp_call_result(c, json_incref(c->ctx->dispatch->templates));
}

static void method_resources_read(struct mcp_call *c)
{
    const struct mcp_dispatch *d = c->ctx->dispatch;
    const char *uri = json_get_string(c->params, "uri");
    if (!uri)
        return invalid_params(c, "Invalid params: uri must be a string");
    for (size_t i = 0; i < d->pack_count; i++)
        if (d->packs[i]->resource_read && d->packs[i]->resource_read(c, uri))
            return;
    char msg[300], quoted[201];
    utf8_copy_prefix(quoted, sizeof quoted, uri);
    snprintf(msg, sizeof msg, "Resource not found: %s", quoted);
    /* 2026-07-28 renumbered "not found" to Invalid params; older revisions keep -32002. */
    mcp_call_error(c, c->sess.stateless ? JSONRPC_INVALID_PARAMS : MCP_ERROR_RESOURCE_NOT_FOUND,
                   msg, json_pack("{s:s}", "uri", uri));
}

static void subscribe_finish(struct mcp_call *c, const char *uri, bool subscribe)
{
    const struct mcp_dispatch *d = c->ctx->dispatch;
    const struct mcp_state_name key = mcp_key_subscriptions(c->sess.id);
    uint64_t ttl = mcp_session_ttl_ms(c->ctx);
    if (subscribe)
        store_sadd(c->ctx->store, key.s, uri, strlen(uri), ttl, NULL, NULL);
    else
        store_srem(c->ctx->store, key.s, uri, strlen(uri), NULL, NULL);
    for (size_t i = 0; i < d->pack_count; i++)
        if (d->packs[i]->resource_subscribe && d->packs[i]->resource_subscribe(c, uri, subscribe))
            return;
    mcp_call_result(c, json_object());
}

/* The session's subscriptions, read to count them: a URI already subscribed costs nothing, a
 * new one only while the session is under MAX_SUBSCRIPTIONS (every subscribed URI is stored for
 * the session's life and re-sent on its standalone streams each period). */
static void on_subscriptions(void *arg, int status, const struct store_str *items, size_t n)
{
    struct mcp_call *c = arg;
    const char *uri = json_get_string(c->params, "uri");
    size_t len = strlen(uri);
    bool have = false;
    for (size_t i = 0; i < n && !have; i++)
        have = items[i].len == len && memcmp(items[i].ptr, uri, len) == 0;
    mcp_call_enter(c);
    if (status != STORE_OK) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Service unavailable: session store unreachable",
                       NULL);
    } else if (!have && n >= mcp_limit_subscriptions(c->ctx)) {
        log_write(c->ctx->log, LOG_WARNING, "subscription refused: MAX_SUBSCRIPTIONS reached",
                  json_pack("{s:i}", "limit", (int)mcp_limit_subscriptions(c->ctx)));
        mcp_call_error(c, JSONRPC_SERVER_ERROR, "Too many subscriptions (MAX_SUBSCRIPTIONS)", NULL);
    } else {
        subscribe_finish(c, uri, true);
    }
    mcp_call_leave(c);
}

static void method_resources_subscribe(struct mcp_call *c)
{
    const char *uri = json_get_string(c->params, "uri");
    bool subscribe = strcmp(c->method, "resources/subscribe") == 0;
    if (!uri)
        return invalid_params(c, "Invalid params: uri must be a string");
    if (!subscribe)
        return subscribe_finish(c, uri, false);
    if (strlen(uri) > mcp_limit_uri_bytes(c->ctx))
        return invalid_params(c, "Invalid params: uri longer than the server allows "
                                 "(MAX_URI_BYTES)");
    if (store_smembers(c->ctx->store, mcp_key_subscriptions(c->sess.id).s, on_subscriptions, c) !=
        STORE_OK)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Service unavailable: session store unreachable",
                       NULL);
}

static void method_prompts_list(struct mcp_call *c)
{
    mcp_call_result(c, json_incref(c->ctx->dispatch->prompts));
}

static void method_prompts_get(struct mcp_call *c)
{
    const struct mcp_dispatch *d = c->ctx->dispatch;
    const char *name;
    json_t *args;
    if (!named_params(c, &name, &args))
        return;
    for (size_t i = 0; i < d->pack_count; i++)
        for (size_t t = 0; t < d->packs[i]->prompt_count; t++)
            if (strcmp(d->packs[i]->prompts[t].name, name) == 0) {
                d->packs[i]->prompts[t].get(c, args);
                return;
            }
    char msg[300], quoted[201];
    utf8_copy_prefix(quoted, sizeof quoted, name);
    snprintf(msg, sizeof msg, "Unknown prompt: %s", quoted);
    invalid_params(c, msg);
}

/* The pack that defines a prompt of this name, or NULL. */
static const struct mcp_feature_pack *prompt_owner(const struct mcp_dispatch *d, const char *name)
{
    for (size_t i = 0; name && i < d->pack_count; i++)
        for (size_t t = 0; t < d->packs[i]->prompt_count; t++)
            if (strcmp(d->packs[i]->prompts[t].name, name) == 0)
                return d->packs[i];
    return NULL;
}

static void method_complete(struct mcp_call *c)
{
    const struct mcp_dispatch *d = c->ctx->dispatch;
    json_t *ref = json_object_get(c->params, "ref");
    json_t *argument = json_object_get(c->params, "argument");
    const char *type = json_get_string(ref, "type");
    if (!type || (strcmp(type, "ref/prompt") != 0 && strcmp(type, "ref/resource") != 0))
        return invalid_params(c, "Invalid params: ref.type must be ref/prompt or ref/resource");
    if (!json_is_string(json_object_get(argument, "name")) ||
        !json_is_string(json_object_get(argument, "value")))
        return invalid_params(c, "Invalid params: argument needs a string name and value");
    json_t *context = json_object_get(c->params, "context");
    const struct mcp_feature_pack *owner = prompt_owner(d, json_get_string(ref, "name"));
    if (owner && owner->complete && owner->complete(c, ref, argument, context))
        return;
    for (size_t i = 0; i < d->pack_count; i++)
        if (d->packs[i] != owner && d->packs[i]->complete &&
            d->packs[i]->complete(c, ref, argument, context))
            return;
    mcp_call_result(
        c, json_pack("{s:{s:[],s:b,s:i}}", "completion", "values", "hasMore", 0, "total", 0));
}

static void method_set_level(struct mcp_call *c)
{
    int level = mcp_log_level_index(json_get_string(c->params, "level"));
    if (level < 0)
        return invalid_params(c, "Invalid params: level must be one of debug, info, notice, "
                                 "warning, error, critical, alert, emergency");
    mcp_session_set_log_level(c->ctx, c->sess.id, level);
    c->sess.log_level = level;
    /* The reference server announces the change on the standalone stream, unfiltered;
     * it is not part of the response, so it does not go on this call's stream. */
    char text[64];
    snprintf(text, sizeof text, "Logging level set to: %s", mcp_log_levels[level]);
    json_t *note = jsonrpc_notification(
        "notifications/message",
        json_pack("{s:s,s:s,s:s}", "level", "debug", "logger", "test-server", "data", text));
    mcp_session_notify(c->ctx, c->sess.id, note);
    json_decref(note);
    mcp_call_result(c, json_object());
}

/* The revisions a method exists in: with sessions (up to 2025-11-25), stateless (2026-07-28). */
enum { ERA_SESSION = 1, ERA_STATELESS = 2, ERA_BOTH = 3 };

struct method {
    const char *name;
    void (*fn)(struct mcp_call *c);
    int eras;
};

static const struct method methods[] = {
    {"ping", method_ping, ERA_SESSION},
    {"server/discover", method_discover, ERA_STATELESS},
    {"tools/list", method_tools_list, ERA_BOTH},
    {"tools/call", method_tools_call, ERA_BOTH},
    {"resources/list", method_resources_list, ERA_BOTH},
    {"resources/templates/list", method_templates_list, ERA_BOTH},
    {"resources/read", method_resources_read, ERA_BOTH},
    {"resources/subscribe", method_resources_subscribe, ERA_SESSION},
    {"resources/unsubscribe", method_resources_subscribe, ERA_SESSION},
    {"prompts/list", method_prompts_list, ERA_BOTH},
    {"prompts/get", method_prompts_get, ERA_BOTH},
    {"completion/complete", method_complete, ERA_BOTH},
    {"logging/setLevel", method_set_level, ERA_SESSION},
    {"tasks/get", mcp_tasks_get, ERA_STATELESS},
    {"tasks/update", mcp_tasks_update, ERA_STATELESS},
    {"tasks/cancel", mcp_tasks_cancel, ERA_STATELESS},
};

static const struct method *find_method(const char *name, bool stateless)
{
    for (size_t i = 0; name && i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i].name, name) == 0)
            return methods[i].eras & (stateless ? ERA_STATELESS : ERA_SESSION) ? &methods[i] : NULL;
    return NULL;
}

bool mcp_dispatch_stateless_method(const char *method)
{
    return find_method(method, true) != NULL;
}

/* MAX_CALLS (this process) and MAX_CALLS_PER_SESSION (calls of the session waiting here): a
 * call that waits holds timers, its request and a stream for as long as it runs. */
static bool too_many_calls(struct mcp_ctx *ctx, const struct mcp_session *sess)
{
    bool over = ctx->calls_in_flight >= mcp_limit_calls(ctx);
    const char *which = "MAX_CALLS";
    /* A stateless request has no session whose calls could be counted. */
    struct mcp_live *l = over || sess->stateless ? NULL : mcp_live_acquire(ctx, sess->id, false);
    if (l && mcp_live_call_count(l) >= mcp_limit_calls_per_session(ctx)) {
        over = true;
        which = "MAX_CALLS_PER_SESSION";
    }
    mcp_live_release(l);
    if (over)
        log_write(ctx->log, LOG_WARNING, "request refused: too many concurrent requests",
                  json_pack("{s:s}", "limit", which));
    return over;
}

void mcp_dispatch_request(struct mcp_ctx *ctx, const struct mcp_session *sess,
                          const json_t *request, struct mcp_sink *sink)
{
    if (too_many_calls(ctx, sess)) {
        sink->emit(sink,
                   jsonrpc_error(json_object_get(request, "id"), JSONRPC_SERVER_ERROR,
                                 "Too many concurrent requests", NULL),
                   true);
        return;
    }
    struct mcp_call *c = mcp_call_new(ctx, sess, request, sink);
    if (!c) {
        sink->emit(sink,
                   jsonrpc_error(json_object_get(request, "id"), JSONRPC_INTERNAL_ERROR,
                                 "Internal error", NULL),
                   true);
        return;
    }
    mcp_call_enter(c);
    const struct method *m = find_method(c->method, sess->stateless);
    if (m)
        m->fn(c);
    else
        mcp_call_error(c, JSONRPC_METHOD_NOT_FOUND, "Method not found", NULL);
    mcp_call_leave(c);
}

void mcp_dispatch_notification(struct mcp_ctx *ctx, const struct mcp_session *sess,
                               const json_t *notification)
{
    const char *method = json_get_string(notification, "method");
    if (!method || strcmp(method, "notifications/cancelled") != 0)
        return; /* initialized, roots/list_changed, progress: nothing to do */
    const json_t *request_id =
        json_object_get(json_object_get(notification, "params"), "requestId");
    if (json_is_string(request_id) || json_is_integer(request_id))
        mcp_live_route_cancel(ctx, sess->id, request_id);
}

/* The size of a request id or progress token as JSON text (strings quoted; escapes not counted,
 * which only makes the bound a little more lenient). */
static size_t id_bytes(const json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v) + 2;
    return json_is_integer(v) ? 20 : json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

int mcp_dispatch_check_request(const struct mcp_ctx *ctx, const json_t *msg, const char **why)
{
    size_t max = mcp_limit_id_bytes(ctx);
    const json_t *id = json_object_get(msg, "id");
    if (id && id_bytes(id) > max) {
        *why = "Invalid Request: id longer than the server allows (MAX_ID_BYTES)";
        return JSONRPC_INVALID_REQUEST;
    }
    const json_t *meta = json_object_get(json_object_get(msg, "params"), "_meta");
    const json_t *token = json_object_get(meta, "progressToken");
    if (token && id_bytes(token) > max) {
        *why = "Invalid params: progressToken longer than the server allows (MAX_ID_BYTES)";
        return JSONRPC_INVALID_PARAMS;
    }
    return 0;
}

bool mcp_dispatch_capabilities_fit(const struct mcp_ctx *ctx, const json_t *caps)
{
    return !caps || json_dumpb(caps, NULL, 0, JSON_COMPACT) <= mcp_limit_capabilities_bytes(ctx);
}
