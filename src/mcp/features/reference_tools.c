/*
 * The reference pack's tools: the table in the reference server's order, with the exact
 * JSON Schema texts zod-to-json-schema produced for it, and the tools that answer at once. The
 * tools that wait (on timers or on the client) are in reference_tools_async.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "mcp/features/reference_internal.h"

#define DRAFT07                                                                                    \
    "\"additionalProperties\":false,\"$schema\":\"http://json-schema.org/draft-07/schema#\""

static void tool_echo(struct mcp_call *c, const json_t *args)
{
    struct ref_zod z;
    const json_t *message = NULL;
    if (ref_zod_begin(&z, args))
        message = ref_zod_field(&z, "message", REF_ARG_STRING, true);
    if (ref_zod_finish(&z, c))
        return;
    ref_answer(c, json_pack("{s:[{s:s,s:o}]}", "content", "type", "text", "text",
                            json_sprintf("Echo: %s", json_string_value(message))));
}

static void tool_add(struct mcp_call *c, const json_t *args)
{
    struct ref_zod z;
    const json_t *a = NULL, *b = NULL;
    if (ref_zod_begin(&z, args)) {
        a = ref_zod_field(&z, "a", REF_ARG_NUMBER, true);
        b = ref_zod_field(&z, "b", REF_ARG_NUMBER, true);
    }
    if (ref_zod_finish(&z, c))
        return;
    double x = json_number_value(a), y = json_number_value(b);
    char sx[32], sy[32], sum[32];
    ref_answer(
        c, json_pack("{s:[{s:s,s:o}]}", "content", "type", "text", "text",
                     json_sprintf("The sum of %s and %s is %s.", ref_js_number(x, sx, sizeof sx),
                                  ref_js_number(y, sy, sizeof sy),
                                  ref_js_number(x + y, sum, sizeof sum))));
}

static json_t *tiny_image(void)
{
    return json_pack("{s:s,s:s,s:s}", "type", "image", "data", REF_TINY_IMAGE, "mimeType",
                     "image/png");
}

static void tool_get_tiny_image(struct mcp_call *c, const json_t *args)
{
    /* z.object({}): the arguments must still be an object, extra keys are stripped. */
    struct ref_zod z;
    ref_zod_begin(&z, args);
    if (ref_zod_finish(&z, c))
        return;
    ref_answer(c, json_pack("{s:[{s:s,s:s},o,{s:s,s:s}]}", "content", "type", "text", "text",
                            "This is a tiny image:", tiny_image(), "type", "text", "text",
                            "The image above is the MCP tiny image."));
}

static const char *const MESSAGE_TYPES[] = {"error", "success", "debug"};

/* The first content item per messageType, priorities as the reference server writes them (1.0
 * prints 1). */
static json_t *annotated_text(int type)
{
    static const struct {
        const char *text;
        double priority;
        const char *audience;
    } items[] = {
        {"Error: Operation failed", 1.0, "[\"user\",\"assistant\"]"},
        {"Operation completed successfully", 0.7, "[\"user\"]"},
        {"Debug: Cache hit ratio 0.95, latency 150ms", 0.3, "[\"assistant\"]"},
    };
    return json_pack("{s:s,s:s,s:{s:f,s:o}}", "type", "text", "text", items[type].text,
                     "annotations", "priority", items[type].priority, "audience",
                     json_literal(items[type].audience));
}

static void tool_annotated_message(struct mcp_call *c, const json_t *args)
{
    struct ref_zod z;
    int type = -1;
    const json_t *include_image = NULL;
    if (ref_zod_begin(&z, args)) {
        type = ref_zod_enum(&z, "messageType", MESSAGE_TYPES, 3);
        include_image = ref_zod_field(&z, "includeImage", REF_ARG_BOOLEAN, false);
    }
    if (ref_zod_finish(&z, c))
        return;
    json_t *content = json_pack("[o]", annotated_text(type));
    if (content && json_is_true(include_image)) {
        json_t *image = tiny_image();
        json_object_set_new(image, "annotations",
                            json_pack("{s:f,s:[s]}", "priority", 0.5, "audience", "user"));
        json_array_append_new(content, image);
    }
    ref_answer(c, content ? json_pack("{s:o}", "content", content) : NULL);
}

static void tool_get_resource_reference(struct mcp_call *c, const json_t *args)
{
    struct ref_zod z;
    const json_t *id = NULL;
    if (ref_zod_begin(&z, args))
        id = ref_zod_field(&z, "resourceId", REF_ARG_NUMBER, true);
    double n = id ? json_number_value(id) : 0;
    bool in_range = id && ref_zod_range(&z, "resourceId", n, 1, REF_RESOURCE_COUNT);
    /* The reference server indexes its array with a fractional id and crashes ("Cannot read
     * properties of undefined"); we report it as zod's .int() would. */
    if (in_range && n != floor(n))
        ref_zod_add(&z, json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "code", "invalid_type", "expected",
                                  "integer", "received", "float", "message",
                                  "Expected integer, received float", "path", "resourceId"));
    if (ref_zod_finish(&z, c))
        return;
    long long k = (long long)n;
    json_t *result = json_pack(
        "{s:[{s:s,s:o},{s:s,s:o},{s:s,s:o}]}", "content", "type", "text", "text",
        json_sprintf("Returning resource reference for Resource %lld:", k), "type", "resource",
        "resource", ref_resource_object(k), "type", "text", "text",
        json_sprintf("You can access this resource using the URI: " REF_RESOURCE_PREFIX "%lld", k));
    ref_answer(c, result);
}

/* ---- the table ---- */

static const char ECHO_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
    "\"description\":\"Message to echo\"}},\"required\":[\"message\"]," DRAFT07 "}";

static const char ADD_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\","
    "\"description\":\"First number\"},\"b\":{\"type\":\"number\","
    "\"description\":\"Second number\"}},\"required\":[\"a\",\"b\"]," DRAFT07 "}";

static const char LONG_RUNNING_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"duration\":{\"type\":\"number\",\"default\":10,"
    "\"description\":\"Duration of the operation in seconds\"},\"steps\":{\"type\":\"number\","
    "\"default\":5,\"description\":\"Number of steps in the operation\"}}," DRAFT07 "}";

static const char SAMPLE_LLM_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":\"string\","
    "\"description\":\"The prompt to send to the LLM\"},\"maxTokens\":{\"type\":\"number\","
    "\"default\":100,\"description\":\"Maximum number of tokens to generate\"}},"
    "\"required\":[\"prompt\"]," DRAFT07 "}";

static const char TINY_IMAGE_SCHEMA[] = "{\"type\":\"object\",\"properties\":{}," DRAFT07 "}";

static const char ANNOTATED_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"messageType\":{\"type\":\"string\","
    "\"enum\":[\"error\",\"success\",\"debug\"],"
    "\"description\":\"Type of message to demonstrate different annotation patterns\"},"
    "\"includeImage\":{\"type\":\"boolean\",\"default\":false,"
    "\"description\":\"Whether to include an example image\"}},"
    "\"required\":[\"messageType\"]," DRAFT07 "}";

static const char RESOURCE_REFERENCE_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"resourceId\":{\"type\":\"number\",\"minimum\":1,"
    "\"maximum\":100,\"description\":\"ID of the resource to reference (1-100)\"}},"
    "\"required\":[\"resourceId\"]," DRAFT07 "}";

/* elicitInputs and mcp_apps_hello_world were added to the reference server after the snapshot the
 * rest follows, with a plain schema. */
static const char PLAIN_SCHEMA[] = "{\"type\":\"object\",\"properties\":{}}";

#define TOOL(name_, desc_, schema_, fn_, cap_)                                                     \
    {                                                                                              \
        .name = name_, .title = NULL, .description = desc_, .input_schema = schema_,               \
        .output_schema = NULL, .annotations = NULL, .call = fn_, .requires_capability = cap_       \
    }

const struct mcp_tool REF_TOOLS[] = {
    TOOL("echo", "Echoes back the input", ECHO_SCHEMA, tool_echo, NULL),
    TOOL("add", "Adds two numbers", ADD_SCHEMA, tool_add, NULL),
    /* A task for 2026-07-28 clients that declared the tasks extension (tasks.h). */
    {.name = "longRunningOperation",
     .description = "Demonstrates a long running operation with progress updates",
     .input_schema = LONG_RUNNING_SCHEMA,
     .call = ref_tool_long_running,
     .task_support = MCP_TASK_OPTIONAL},
    TOOL("sampleLLM", "Samples from an LLM using MCP's sampling feature", SAMPLE_LLM_SCHEMA,
         ref_tool_sample_llm, NULL),
    TOOL("getTinyImage", "Returns the MCP_TINY_IMAGE", TINY_IMAGE_SCHEMA, tool_get_tiny_image,
         NULL),
    TOOL("annotatedMessage",
         "Demonstrates how annotations can be used to provide metadata about content",
         ANNOTATED_SCHEMA, tool_annotated_message, NULL),
    TOOL("getResourceReference", "Returns a resource reference that can be used by MCP clients",
         RESOURCE_REFERENCE_SCHEMA, tool_get_resource_reference, NULL),
    /* Only for clients that can answer elicitation/create, so the reference server's own e2e script
     * (no elicitation capability) still sees exactly the 7 tools of the snapshot. */
    TOOL("elicitInputs",
         "Elicitation test tool that demonstrates how to request user input with various field "
         "types",
         PLAIN_SCHEMA, ref_tool_elicit_inputs, "elicitation"),
    /* Only for hosts that declared the MCP Apps extension (reference_apps.c); the reference
     * server lists it to every client. */
    {
        .name = "mcp_apps_hello_world",
        .description = "Demonstrates MCP Apps - returns an interactive UI that runs in the client",
        .input_schema = PLAIN_SCHEMA,
        .call = ref_tool_apps_hello_world,
        .offered = ref_apps_offered,
        .meta = REF_APP_META,
    },
};
