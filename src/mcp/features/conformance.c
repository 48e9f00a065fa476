/*
 * conformance: the fixture pack the official MCP conformance suite tests against
 * (`mcpd mcp --features conformance`). The suite looks up tools, resources and prompts by exact
 * name and checks exact texts, so every name, text and schema below mirrors the suite's
 * reference fixture; change one and a scenario fails. The pack
 * keeps no state between calls: multi-step tools carry their step number in the timer argument.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "mcp/feature.h"
#include "mcp/features/conformance_mrtr.h"
#include "mcp/features/conformance_tasks.h"
#include "mcp/jsonrpc.h"
#include "mcp/listen.h"

/* 1x1 truecolour PNG, one red pixel: IHDR(1,1,8,2), IDAT = zlib(filter 0, ff 00 00), IEND.
 * Generated for mcpd (not copied from the fixture); the suite only checks that it is base64. */
#define RED_PIXEL_PNG_BASE64                                                                       \
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC"
/* RIFF/WAVE, PCM mono 8000 Hz 16-bit, 8 samples of silence (60 bytes). */
#define SILENT_WAV_BASE64                                                                          \
    "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YRAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* Spacing of the logging and progress steps; the scenarios expect ~50 ms. */
#define STEP_MS 50
/* test_reconnection closes its POST stream at once and answers after this delay, so the result
 * exists only after the client has lost the stream and must come back by a Last-Event-ID GET
 * (SEP-1699 polling). */
#define RECONNECTION_DELAY_MS 200
/* The retry hint sent as the stream closes. Short, because the suite and our tests reconnect
 * right away and a polite client would otherwise wait (the fixture's 5 s) for nothing. */
#define RECONNECTION_RETRY_MS 500

#define TEMPLATE_PREFIX "test://template/"
#define TEMPLATE_SUFFIX "/data"
#define TEMPLATE_URI    TEMPLATE_PREFIX "{id}" TEMPLATE_SUFFIX

/* ---- small answering helpers ---- */

/* Answer with result (stolen); a NULL result means json_pack or an allocation failed. */
static void answer(struct mcp_call *c, json_t *result)
{
    if (!result) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    mcp_call_result(c, result);
}

static json_t *text_content(const char *text)
{
    return json_pack("{s:s,s:s}", "type", "text", "text", text);
}

static json_t *image_content(void)
{
    return json_pack("{s:s,s:s,s:s}", "type", "image", "data", RED_PIXEL_PNG_BASE64, "mimeType",
                     "image/png");
}

static void answer_text(struct mcp_call *c, const char *text)
{
    answer(c, json_pack("{s:[o]}", "content", text_content(text)));
}

static void answer_textf(struct mcp_call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void answer_textf(struct mcp_call *c, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    answer_text(c, text);
    free(text);
}

/* The string argument name, or NULL after answering -32602. The reference fixture validates
 * arguments with zod and so rejects a missing one before the handler runs; we do the same. */
static const char *require_string(struct mcp_call *c, const json_t *args, const char *name)
{
    const char *v = json_string_value(json_object_get(args, name));
    if (!v) {
        char msg[160];
        snprintf(msg, sizeof msg, "Invalid params: missing required string argument '%s'", name);
        mcp_call_error(c, JSONRPC_INVALID_PARAMS, msg, NULL);
    }
    return v;
}

/* JSON.stringify of v, or of {} when v is NULL, as the fixture prints it. Caller frees. */
static char *stringify_or_empty(const json_t *v)
{
    if (v)
        return json_serialize(v, NULL);
    json_t *empty = json_object();
    char *s = empty ? json_serialize(empty, NULL) : NULL;
    json_decref(empty);
    return s;
}

static void after_or_fail(struct mcp_call *c, uint64_t ms, mcp_timer_fn fn, uintptr_t step)
{
    if (mcp_call_after(c, ms, fn, (void *)step) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: cannot schedule timer", NULL);
}

/* ---- tools: plain content ---- */

static void tool_simple_text(struct mcp_call *c, const json_t *args)
{
    answer_text(c, "This is a simple text response for testing.");
}

static void tool_image_content(struct mcp_call *c, const json_t *args)
{
    answer(c, json_pack("{s:[o]}", "content", image_content()));
}

static void tool_audio_content(struct mcp_call *c, const json_t *args)
{
    answer(c, json_pack("{s:[{s:s,s:s,s:s}]}", "content", "type", "audio", "data",
                        SILENT_WAV_BASE64, "mimeType", "audio/wav"));
}

static void tool_embedded_resource(struct mcp_call *c, const json_t *args)
{
    answer(c, json_pack("{s:[{s:s,s:{s:s,s:s,s:s}}]}", "content", "type", "resource", "resource",
                        "uri", "test://embedded-resource", "mimeType", "text/plain", "text",
                        "This is an embedded resource content."));
}

static void tool_multiple_content_types(struct mcp_call *c, const json_t *args)
{
    answer(c, json_pack("{s:[o,o,{s:s,s:{s:s,s:s,s:s}}]}", "content",
                        text_content("Multiple content types test:"), image_content(), "type",
                        "resource", "resource", "uri", "test://mixed-content-resource", "mimeType",
                        "application/json", "text", "{\"test\":\"data\",\"value\":123}"));
}

static void tool_error_handling(struct mcp_call *c, const json_t *args)
{
    /* A tool error (isError:true), not a JSON-RPC error: that is what tools-call-error checks. */
    mcp_call_tool_error(c, "This tool intentionally returns an error for testing");
}

static void json_schema_tool(struct mcp_call *c, const json_t *args)
{
    char *json = stringify_or_empty(args);
    if (!json) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    answer_textf(c, "JSON Schema 2020-12 tool called with: %s", json);
    free(json);
}

static void reconnection_done(struct mcp_call *c, void *arg)
{
    answer_text(c, "Reconnection test completed successfully. If you received this, the client "
                   "properly reconnected after stream closure.");
}

static void tool_reconnection(struct mcp_call *c, const json_t *args)
{
    mcp_call_close_stream(c, RECONNECTION_RETRY_MS);
    after_or_fail(c, RECONNECTION_DELAY_MS, reconnection_done, 0);
}

/* ---- tools: timed steps (logging, progress) ---- */

static const char *const LOG_STEPS[] = {"Tool execution started", "Tool processing data",
                                        "Tool execution completed"};
#define LOG_STEP_COUNT (sizeof LOG_STEPS / sizeof LOG_STEPS[0])

static void logging_step(struct mcp_call *c, void *arg)
{
    uintptr_t step = (uintptr_t)arg;
    mcp_call_log(c, "info", NULL, json_string(LOG_STEPS[step]));
    if (step + 1 < LOG_STEP_COUNT) {
        after_or_fail(c, STEP_MS, logging_step, step + 1);
        return;
    }
    answer_text(c, "Tool with logging executed successfully");
}

static void tool_with_logging(struct mcp_call *c, const json_t *args)
{
    logging_step(c, (void *)(uintptr_t)0);
}

#define PROGRESS_TOTAL 100
#define PROGRESS_STEPS 3 /* 0, 50, 100 */

/* The fixture answers String(progressToken); a numeric token prints as JSON does. */
static void progress_finish(struct mcp_call *c)
{
    const json_t *meta = json_object_get(mcp_call_params(c), "_meta");
    const json_t *token = json_object_get(meta, "progressToken");
    if (json_is_string(token)) {
        answer_text(c, json_string_value(token));
        return;
    }
    char *text = token ? json_serialize(token, NULL) : NULL;
    answer_text(c, text ? text : "0");
    free(text);
}

static void progress_step(struct mcp_call *c, void *arg)
{
    uintptr_t step = (uintptr_t)arg;
    int done = (int)step * (PROGRESS_TOTAL / (PROGRESS_STEPS - 1));
    char msg[64];
    snprintf(msg, sizeof msg, "Completed step %d of %d", done, PROGRESS_TOTAL);
    mcp_call_progress(c, done, PROGRESS_TOTAL, msg);
    if (step + 1 < PROGRESS_STEPS) {
        after_or_fail(c, STEP_MS, progress_step, step + 1);
        return;
    }
    progress_finish(c);
}

static void tool_with_progress(struct mcp_call *c, const json_t *args)
{
    progress_step(c, (void *)(uintptr_t)0);
}

/* ---- tools: server->client requests (sampling, elicitation) ---- */

static void sampling_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    if (error) {
        const char *msg = json_string_value(json_object_get(error, "message"));
        answer_textf(c, "Sampling not supported or error: %s", msg ? msg : "unknown error");
        return;
    }
    /* 2025-11-25 allows content to be an array (sampling with tools); take the first block. */
    const json_t *content = json_object_get(result, "content");
    if (json_is_array(content))
        content = json_array_get(content, 0);
    const char *text = json_string_value(json_object_get(content, "text"));
    answer_textf(c, "LLM response: %s", text ? text : "No response");
}

static void tool_sampling(struct mcp_call *c, const json_t *args)
{
    const char *prompt = require_string(c, args, "prompt");
    if (!prompt)
        return;
    if (!mcp_call_client_supports(c, "sampling")) {
        mcp_call_tool_error(c, "Sampling not supported or error: the client did not declare the "
                               "sampling capability");
        return;
    }
    json_t *params = json_pack("{s:[{s:s,s:{s:s,s:s}}],s:i}", "messages", "role", "user", "content",
                               "type", "text", "text", prompt, "maxTokens", 100);
    if (!params ||
        mcp_call_request(c, "sampling/createMessage", params, 0, sampling_reply, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: cannot send sampling request",
                       NULL);
}

static const char ELICIT_RESPONSE_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"response\":{\"type\":\"string\","
    "\"description\":\"User's response\"}},\"required\":[\"response\"]}";

static const char ELICIT_DEFAULTS_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"type\":\"string\",\"description\":\"User name\",\"default\":\"John Doe\"},"
    "\"age\":{\"type\":\"integer\",\"description\":\"User age\",\"default\":30},"
    "\"score\":{\"type\":\"number\",\"description\":\"User score\",\"default\":95.5},"
    "\"status\":{\"type\":\"string\",\"description\":\"User status\","
    "\"enum\":[\"active\",\"inactive\",\"pending\"],\"default\":\"active\"},"
    "\"verified\":{\"type\":\"boolean\",\"description\":\"Verification status\","
    "\"default\":true}},\"required\":[]}";

static const char ELICIT_ENUMS_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"untitledSingle\":{\"type\":\"string\",\"description\":\"Select one option\","
    "\"enum\":[\"option1\",\"option2\",\"option3\"]},"
    "\"titledSingle\":{\"type\":\"string\",\"description\":\"Select one option with titles\","
    "\"oneOf\":[{\"const\":\"value1\",\"title\":\"First Option\"},"
    "{\"const\":\"value2\",\"title\":\"Second Option\"},"
    "{\"const\":\"value3\",\"title\":\"Third Option\"}]},"
    "\"legacyEnum\":{\"type\":\"string\",\"description\":\"Select one option (legacy)\","
    "\"enum\":[\"opt1\",\"opt2\",\"opt3\"],"
    "\"enumNames\":[\"Option One\",\"Option Two\",\"Option Three\"]},"
    "\"untitledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options\","
    "\"minItems\":1,\"maxItems\":3,"
    "\"items\":{\"type\":\"string\",\"enum\":[\"option1\",\"option2\",\"option3\"]}},"
    "\"titledMulti\":{\"type\":\"array\",\"description\":\"Select multiple options with titles\","
    "\"minItems\":1,\"maxItems\":3,\"items\":{\"anyOf\":["
    "{\"const\":\"value1\",\"title\":\"First Choice\"},"
    "{\"const\":\"value2\",\"title\":\"Second Choice\"},"
    "{\"const\":\"value3\",\"title\":\"Third Choice\"}]}}},\"required\":[]}";

/* Both reply texts share a shape; only the prefix differs between the tools. */
static void elicitation_answer(struct mcp_call *c, const char *prefix, const json_t *result,
                               const json_t *error)
{
    if (error) {
        const char *msg = json_string_value(json_object_get(error, "message"));
        answer_textf(c, "Elicitation not supported or error: %s", msg ? msg : "unknown error");
        return;
    }
    const char *action = json_string_value(json_object_get(result, "action"));
    char *content = stringify_or_empty(json_object_get(result, "content"));
    if (!content) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    answer_textf(c, "%s: action=%s, content=%s", prefix, action ? action : "undefined", content);
    free(content);
}

static void elicit_user_reply(struct mcp_call *c, const json_t *result, const json_t *error,
                              void *arg)
{
    elicitation_answer(c, "User response", result, error);
}

static void elicit_completed_reply(struct mcp_call *c, const json_t *result, const json_t *error,
                                   void *arg)
{
    elicitation_answer(c, "Elicitation completed", result, error);
}

/* Send elicitation/create (form mode). `mode` exists only from 2025-11-25 on (SEP-1036), so
 * it is left out for older sessions, whose schema has no such field. */
static void elicit(struct mcp_call *c, const char *message, const char *schema, mcp_reply_fn fn)
{
    if (!mcp_call_client_supports(c, "elicitation")) {
        mcp_call_tool_error(c, "Elicitation not supported or error: the client did not declare "
                               "the elicitation capability");
        return;
    }
    json_t *params =
        json_pack("{s:s,s:o}", "message", message, "requestedSchema", json_literal(schema));
    const char *pv = mcp_call_protocol_version(c);
    if (params && pv && strcmp(pv, "2025-11-25") >= 0)
        json_object_set_new(params, "mode", json_string("form"));
    if (!params || mcp_call_request(c, "elicitation/create", params, 0, fn, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: cannot send elicitation request",
                       NULL);
}

static void tool_elicitation(struct mcp_call *c, const json_t *args)
{
    const char *message = require_string(c, args, "message");
    if (message)
        elicit(c, message, ELICIT_RESPONSE_SCHEMA, elicit_user_reply);
}

static void tool_elicitation_defaults(struct mcp_call *c, const json_t *args)
{
    elicit(c, "Please review and update the form fields with defaults", ELICIT_DEFAULTS_SCHEMA,
           elicit_completed_reply);
}

static void tool_elicitation_enums(struct mcp_call *c, const json_t *args)
{
    elicit(c, "Please select options from the enum fields", ELICIT_ENUMS_SCHEMA,
           elicit_completed_reply);
}

/* ---- tool table ---- */

static const char NO_ARGS_SCHEMA[] = "{\"type\":\"object\",\"properties\":{}}";

static const char SAMPLING_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
    "\"description\":\"The prompt to send to the LLM\"}},\"required\":[\"prompt\"]}";

static const char ELICITATION_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
    "\"description\":\"The message to show the user\"}},\"required\":[\"message\"]}";

/* json-schema-2020-12 checks that these keywords survive tools/list verbatim (SEP-1613). */
static const char JSON_SCHEMA_2020_12[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
    "\"$defs\":{\"address\":{\"$anchor\":\"addressDef\",\"type\":\"object\",\"properties\":{"
    "\"street\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}},"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"address\":{\"$ref\":\"#/$defs/address\"},"
    "\"contactMethod\":{\"type\":\"string\",\"enum\":[\"phone\",\"email\"]},"
    "\"phone\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"}},"
    "\"allOf\":[{\"anyOf\":[{\"required\":[\"phone\"]},{\"required\":[\"email\"]}]}],"
    "\"if\":{\"properties\":{\"contactMethod\":{\"const\":\"phone\"}},"
    "\"required\":[\"contactMethod\"]},\"then\":{\"required\":[\"phone\"]},"
    "\"else\":{\"required\":[\"email\"]},\"additionalProperties\":false}";

/* ---- 2026-07-28 (stateless) fixtures: listed only to requests of that revision ---- */

static bool stateless_only(const struct mcp_call *c)
{
    const char *v = mcp_call_protocol_version(c);
    return v && strcmp(v, MCP_STATELESS_PROTOCOL_VERSION) == 0;
}

/* Needs the client's sampling capability, which this revision's request must declare. */
static void tool_missing_capability(struct mcp_call *c, const json_t *args)
{
    if (!mcp_call_client_supports(c, "sampling")) {
        mcp_call_error(c, MCP_ERROR_MISSING_CAPABILITY,
                       "Missing required client capability: sampling",
                       json_pack("{s:{s:{}}}", "requiredCapabilities", "sampling"));
        return;
    }
    answer_text(c, "The client declared sampling");
}

/* Asks for input the 2026-07-28 way, in its result, never as a request on the stream. */
static void tool_streaming_elicitation(struct mcp_call *c, const json_t *args)
{
    mcp_call_result(c, json_pack("{s:s,s:{s:{s:s,s:{s:s,s:s,s:{s:s,s:{s:{s:s}}}}}}}", "resultType",
                                 "input_required", "inputRequests", "confirm", "method",
                                 "elicitation/create", "params", "mode", "form", "message",
                                 "Please confirm", "requestedSchema", "type", "object",
                                 "properties", "ok", "type", "boolean"));
}

/* region is mirrored into the Mcp-Param-Region header (x-mcp-header). */
static const char CUSTOM_HEADER_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"region\":{\"type\":\"string\","
    "\"x-mcp-header\":\"Region\"},\"query\":{\"type\":\"string\"}},\"required\":[\"region\"]}";

static void tool_custom_header(struct mcp_call *c, const json_t *args)
{
    answer_textf(c, "region=%s",
                 json_get_string(args, "region") ? json_get_string(args, "region") : "");
}

/* subscriptions/listen fixtures: announce a change to every listen stream, on any instance. */
static void announce(struct mcp_call *c, int rc, const char *what)
{
    if (rc != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: not published", NULL);
    else
        answer_textf(c, "Announced: %s", what);
}

static void tool_trigger_tool_change(struct mcp_call *c, const json_t *args)
{
    announce(c, mcp_listen_publish_list_changed(mcp_call_store(c), "tools"), "tools list changed");
}

static void tool_trigger_prompt_change(struct mcp_call *c, const json_t *args)
{
    announce(c, mcp_listen_publish_list_changed(mcp_call_store(c), "prompts"),
             "prompts list changed");
}

static void tool_trigger_resource_change(struct mcp_call *c, const json_t *args)
{
    announce(c, mcp_listen_publish_list_changed(mcp_call_store(c), "resources"),
             "resources list changed");
}

static const char URI_SCHEMA[] = "{\"type\":\"object\",\"properties\":{\"uri\":{\"type\":"
                                 "\"string\"}},\"required\":[\"uri\"]}";

static void tool_trigger_resource_update(struct mcp_call *c, const json_t *args)
{
    const char *uri = json_get_string(args, "uri");
    if (!uri || !*uri) {
        mcp_call_error(c, JSONRPC_INVALID_PARAMS, "Invalid params: uri must be a string", NULL);
        return;
    }
    announce(c, mcp_listen_publish_resource_updated(mcp_call_store(c), uri), "resource updated");
}

#define TOOL(name_, desc_, schema_, fn_)                                                           \
    {                                                                                              \
        .name = name_, .title = NULL, .description = desc_, .input_schema = schema_,               \
        .output_schema = NULL, .annotations = NULL, .call = fn_                                    \
    }

#define STATELESS_TOOL(name_, desc_, schema_, fn_)                                                 \
    {                                                                                              \
        .name = name_, .description = desc_, .input_schema = schema_, .call = fn_,                 \
        .offered = stateless_only                                                                  \
    }

static const struct mcp_tool TOOLS[] = {
    TOOL("test_simple_text", "Tests simple text content response", NO_ARGS_SCHEMA,
         tool_simple_text),
    TOOL("test_image_content", "Tests image content response", NO_ARGS_SCHEMA, tool_image_content),
    TOOL("test_audio_content", "Tests audio content response", NO_ARGS_SCHEMA, tool_audio_content),
    TOOL("test_embedded_resource", "Tests embedded resource content response", NO_ARGS_SCHEMA,
         tool_embedded_resource),
    TOOL("test_multiple_content_types",
         "Tests response with multiple content types (text, image, resource)", NO_ARGS_SCHEMA,
         tool_multiple_content_types),
    TOOL("test_tool_with_logging", "Tests tool that emits log messages during execution",
         NO_ARGS_SCHEMA, tool_with_logging),
    TOOL("test_error_handling", "Tests error response handling", NO_ARGS_SCHEMA,
         tool_error_handling),
    TOOL("test_tool_with_progress", "Tests tool that reports progress notifications",
         NO_ARGS_SCHEMA, tool_with_progress),
    TOOL("test_sampling", "Tests server-initiated sampling (LLM completion request)",
         SAMPLING_SCHEMA, tool_sampling),
    TOOL("test_elicitation", "Tests server-initiated elicitation (user input request)",
         ELICITATION_SCHEMA, tool_elicitation),
    TOOL("test_elicitation_sep1034_defaults", "Tests elicitation with default values per SEP-1034",
         NO_ARGS_SCHEMA, tool_elicitation_defaults),
    TOOL("test_elicitation_sep1330_enums",
         "Tests elicitation with enum schema improvements per SEP-1330", NO_ARGS_SCHEMA,
         tool_elicitation_enums),
    TOOL("json_schema_2020_12_tool",
         "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
         JSON_SCHEMA_2020_12, json_schema_tool),
    TOOL("test_reconnection",
         "Tests SSE stream disconnection and client reconnection (SEP-1699). The server closes "
         "the stream mid-call and sends the result after the client reconnects.",
         NO_ARGS_SCHEMA, tool_reconnection),
    STATELESS_TOOL("test_logging_tool", "Emits log messages when the request asks for them",
                   NO_ARGS_SCHEMA, tool_with_logging),
    STATELESS_TOOL("test_missing_capability", "Needs the client's sampling capability",
                   NO_ARGS_SCHEMA, tool_missing_capability),
    STATELESS_TOOL("test_streaming_elicitation", "Asks for input in an input_required result",
                   NO_ARGS_SCHEMA, tool_streaming_elicitation),
    STATELESS_TOOL("test_custom_header", "Mirrors its region argument into Mcp-Param-Region",
                   CUSTOM_HEADER_SCHEMA, tool_custom_header),
    STATELESS_TOOL("test_trigger_tool_change",
                   "Announces a tools list change on subscriptions/listen streams", NO_ARGS_SCHEMA,
                   tool_trigger_tool_change),
    STATELESS_TOOL("test_trigger_prompt_change",
                   "Announces a prompts list change on subscriptions/listen streams",
                   NO_ARGS_SCHEMA, tool_trigger_prompt_change),
    STATELESS_TOOL("test_trigger_resource_change",
                   "Announces a resources list change on subscriptions/listen streams",
                   NO_ARGS_SCHEMA, tool_trigger_resource_change),
    STATELESS_TOOL("test_trigger_resource_update",
                   "Announces an update of the resource uri on subscriptions/listen streams",
                   URI_SCHEMA, tool_trigger_resource_update),
    CONF_MRTR_TOOLS,
    CONF_TASK_TOOLS,
};

/* ---- resources ---- */

struct conf_resource {
    const char *uri;
    const char *name;
    const char *title;
    const char *description;
    const char *mime_type;
};

static const struct conf_resource RESOURCES[] = {
    {"test://static-text", "static-text", "Static Text Resource",
     "A static text resource for testing", "text/plain"},
    {"test://static-binary", "static-binary", "Static Binary Resource",
     "A static binary resource (image) for testing", "image/png"},
    {"test://watched-resource", "watched-resource", "Watched Resource",
     "A resource clients can subscribe to for update notifications", "text/plain"},
};
#define RESOURCE_COUNT (sizeof RESOURCES / sizeof RESOURCES[0])

static size_t conf_resource_count(void)
{
    return RESOURCE_COUNT;
}

static json_t *conf_resource_entry(size_t i)
{
    if (i >= RESOURCE_COUNT)
        return NULL;
    const struct conf_resource *r = &RESOURCES[i];
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "uri", r->uri, "name", r->name, "title", r->title,
                     "description", r->description, "mimeType", r->mime_type);
}

static json_t *text_contents(const char *uri, const char *mime_type, const char *text)
{
    return json_pack("{s:[{s:s,s:s,s:s}]}", "contents", "uri", uri, "mimeType", mime_type, "text",
                     text);
}

/* The {id} of test://template/{id}/data as a new string (caller frees), or NULL if uri does
 * not have that shape. Any non-empty id without '/' is accepted: the fixture serves every id. */
static char *template_id(const char *uri)
{
    size_t len = strlen(uri), pre = strlen(TEMPLATE_PREFIX), suf = strlen(TEMPLATE_SUFFIX);
    if (len <= pre + suf || strncmp(uri, TEMPLATE_PREFIX, pre) != 0 ||
        strcmp(uri + len - suf, TEMPLATE_SUFFIX) != 0)
        return NULL;
    size_t id_len = len - pre - suf;
    if (memchr(uri + pre, '/', id_len))
        return NULL;
    return strndup(uri + pre, id_len);
}

static json_t *template_contents(const char *uri, const char *id)
{
    json_t *doc = json_pack("{s:s,s:b,s:o}", "id", id, "templateTest", 1, "data",
                            json_sprintf("Data for ID: %s", id));
    char *text = doc ? json_serialize(doc, NULL) : NULL;
    json_decref(doc);
    json_t *result = text ? text_contents(uri, "application/json", text) : NULL;
    free(text);
    return result;
}

static bool conf_resource_read(struct mcp_call *c, const char *uri)
{
    if (strcmp(uri, "test://static-text") == 0) {
        answer(c, text_contents(uri, "text/plain",
                                "This is the content of the static text resource."));
    } else if (strcmp(uri, "test://static-binary") == 0) {
        answer(c, json_pack("{s:[{s:s,s:s,s:s}]}", "contents", "uri", uri, "mimeType", "image/png",
                            "blob", RED_PIXEL_PNG_BASE64));
    } else if (strcmp(uri, "test://watched-resource") == 0) {
        answer(c, text_contents(uri, "text/plain", "Watched resource content"));
    } else {
        char *id = template_id(uri);
        if (!id)
            return false;
        answer(c, template_contents(uri, id));
        free(id);
    }
    return true;
}

static const char RESOURCE_TEMPLATES[] =
    "[{\"uriTemplate\":\"" TEMPLATE_URI "\",\"name\":\"template\","
    "\"title\":\"Resource Template\","
    "\"description\":\"A resource template with parameter substitution\","
    "\"mimeType\":\"application/json\"}]";

/* ---- prompts ---- */

static json_t *user_message(json_t *content)
{
    return json_pack("{s:s,s:o}", "role", "user", "content", content);
}

static void prompt_simple(struct mcp_call *c, const json_t *args)
{
    answer(c, json_pack("{s:[o]}", "messages",
                        user_message(text_content("This is a simple prompt for testing."))));
}

static void prompt_with_arguments(struct mcp_call *c, const json_t *args)
{
    const char *arg1 = require_string(c, args, "arg1");
    if (!arg1)
        return;
    const char *arg2 = require_string(c, args, "arg2");
    if (!arg2)
        return;
    answer(c, json_pack("{s:[o]}", "messages",
                        user_message(json_pack("{s:s,s:o}", "type", "text", "text",
                                               json_sprintf("Prompt with arguments: arg1='%s', "
                                                            "arg2='%s'",
                                                            arg1, arg2)))));
}

static void prompt_with_embedded_resource(struct mcp_call *c, const json_t *args)
{
    const char *uri = require_string(c, args, "resourceUri");
    if (!uri)
        return;
    json_t *resource =
        json_pack("{s:s,s:{s:s,s:s,s:s}}", "type", "resource", "resource", "uri", uri, "mimeType",
                  "text/plain", "text", "Embedded resource content for testing.");
    answer(c, json_pack("{s:[o,o]}", "messages", user_message(resource),
                        user_message(text_content("Please process the embedded resource above."))));
}

static void prompt_with_image(struct mcp_call *c, const json_t *args)
{
    answer(c, json_pack("{s:[o,o]}", "messages", user_message(image_content()),
                        user_message(text_content("Please analyze the image above."))));
}

static const struct mcp_prompt PROMPTS[] = {
    {"test_simple_prompt", "Simple Test Prompt", "A simple prompt without arguments", NULL,
     prompt_simple},
    {"test_prompt_with_arguments", "Prompt With Arguments", "A prompt with required arguments",
     "[{\"name\":\"arg1\",\"description\":\"First test argument\",\"required\":true},"
     "{\"name\":\"arg2\",\"description\":\"Second test argument\",\"required\":true}]",
     prompt_with_arguments},
    {"test_prompt_with_embedded_resource", "Prompt With Embedded Resource",
     "A prompt that includes an embedded resource",
     "[{\"name\":\"resourceUri\",\"description\":\"URI of the resource to embed\","
     "\"required\":true}]",
     prompt_with_embedded_resource},
    {"test_prompt_with_image", "Prompt With Image", "A prompt that includes image content", NULL,
     prompt_with_image},
    CONF_MRTR_PROMPTS,
};
#define PROMPT_COUNT (sizeof PROMPTS / sizeof PROMPTS[0])

/* ---- completion ---- */

static bool is_pack_ref(const json_t *ref)
{
    const char *type = json_string_value(json_object_get(ref, "type"));
    if (!type)
        return false;
    if (strcmp(type, "ref/resource") == 0) {
        const char *uri = json_string_value(json_object_get(ref, "uri"));
        return uri && strcmp(uri, TEMPLATE_URI) == 0;
    }
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (strcmp(type, "ref/prompt") != 0 || !name)
        return false;
    for (size_t i = 0; i < PROMPT_COUNT; i++)
        if (strcmp(PROMPTS[i].name, name) == 0)
            return true;
    return false;
}

/* The fixture has nothing to suggest and completion-complete only checks the shape, so every
 * argument of the pack's prompts and template completes to an empty list. */
static bool conf_complete(struct mcp_call *c, const json_t *ref, const json_t *argument,
                          const json_t *context)
{
    if (!is_pack_ref(ref))
        return false;
    answer(c, json_pack("{s:{s:[],s:i,s:b}}", "completion", "values", "total", 0, "hasMore", 0));
    return true;
}

/* ---- the pack ---- */

const struct mcp_feature_pack mcp_pack_conformance = {
    .name = "conformance",
    .server_name = "mcp-conformance-test-server",
    .server_version = "1.0.0",
    .instructions = NULL,
    .capabilities = "{\"tools\":{\"listChanged\":true},"
                    "\"resources\":{\"subscribe\":true,\"listChanged\":true},"
                    "\"prompts\":{\"listChanged\":true},\"logging\":{},\"completions\":{}}",
    .tools = TOOLS,
    .tool_count = sizeof TOOLS / sizeof TOOLS[0],
    .resource_count = conf_resource_count,
    .resource_entry = conf_resource_entry,
    .resource_read = conf_resource_read,
    .resource_templates = RESOURCE_TEMPLATES,
    .resource_subscribe = NULL,
    .prompts = PROMPTS,
    .prompt_count = PROMPT_COUNT,
    .complete = conf_complete,
};
