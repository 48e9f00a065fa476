/*
 * The reference pack (features "reference", and "reference,conformance") driven through the
 * real dispatcher, call machinery, memory store and loop: every tool, resource, prompt and
 * completion answer compared byte for byte with the peer's texts (shared/spec/reference-spec.md
 * §8, §14.2), the server->client requests it sends, and its periodic notifications.
 */
#include "testutil.h"
#include "testdispatch.h"

#include <time.h>

#include "app/config.h"
#include "lib/crypto.h"
#include "lib/hashmap.h"
#include "lib/json.h"
#include "mcp/context.h"
#include "mcp/dispatch.h"
#include "mcp/features/reference_internal.h"
#include "mcp/jsonrpc.h"
#include "mcp/notifier.h"
#include "mcp/session.h"
#include "store/store.h"

static int setup_with(void **state, const char *features, json_t *caps)
{
    struct td_fixture *f = td_new(features);
    assert_non_null(f->ctx.dispatch);
    f->cfg.timer_scale_percent = 1; /* 10 s, 20 s, 30 s become 100, 200, 300 ms */
    snprintf(f->sess.id, sizeof f->sess.id, "sid-ref");
    f->sess.protocol_version = strdup("2025-06-18");
    f->sess.client_capabilities = caps;
    f->written = json_array();
    *state = f;
    return 0;
}

/* A client like the peer's e2e script: no capabilities. */
static int setup_plain(void **state)
{
    return setup_with(state, "reference", json_object());
}

/* An SDK client that can answer sampling and elicitation. */
static int setup_capable(void **state)
{
    return setup_with(state, "reference", json_pack("{s:{},s:{}}", "sampling", "elicitation"));
}

static int setup_both(void **state)
{
    return setup_with(state, "reference,conformance",
                      json_pack("{s:{},s:{}}", "sampling", "elicitation"));
}

#define APPS_EXTENSION "io.modelcontextprotocol/ui"

/* An MCP Apps host (it declares the extension with the HTML profile) that also answers
 * sampling and elicitation. */
static int setup_apps(void **state)
{
    return setup_with(state, "reference",
                      json_pack("{s:{},s:{},s:{s:{s:[s]}}}", "sampling", "elicitation",
                                "extensions", APPS_EXTENSION, "mimeTypes",
                                "text/html;profile=mcp-app"));
}

/* Declares the extension, but not the MIME type its settings require. */
static int setup_apps_without_html(void **state)
{
    return setup_with(
        state, "reference",
        json_pack("{s:{s:{s:[s]}}}", "extensions", APPS_EXTENSION, "mimeTypes", "text/html"));
}

static int teardown(void **state)
{
    td_close(*state);
    free(*state);
    return 0;
}

static void request(struct td_fixture *f, const char *text)
{
    json_t *req = json_parse(text, strlen(text), NULL, 0);
    assert_non_null(req);
    mcp_dispatch_request(&f->ctx, &f->sess, req, &f->rec.sink);
    json_decref(req);
}

static void requestf(struct td_fixture *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void requestf(struct td_fixture *f, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    assert_true(vasprintf(&text, fmt, ap) >= 0);
    va_end(ap);
    request(f, text);
    free(text);
}

/* tools/call name with arguments (JSON text, or NULL for none). */
static void call_tool(struct td_fixture *f, const char *name, const char *args)
{
    if (args)
        requestf(f,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"%s\",\"arguments\":%s}}",
                 name, args);
    else
        requestf(f,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"%s\"}}",
                 name);
}

static void run_until_finals(struct td_fixture *f, int n)
{
    for (int i = 0; i < 5000 && f->rec.finals < n; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->rec.finals, n);
}

/* Run until the call has emitted n messages (e.g. its server->client request). */
static void run_until_messages(struct td_fixture *f, size_t n)
{
    for (int i = 0; i < 5000 && json_array_size(f->rec.messages) < n; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(json_array_size(f->rec.messages), n);
}

static json_t *message_at(struct td_fixture *f, size_t i)
{
    return json_array_get(f->rec.messages, i);
}

static json_t *last(struct td_fixture *f)
{
    return message_at(f, json_array_size(f->rec.messages) - 1);
}

static void assert_json(const json_t *v, const char *expected)
{
    char *s = json_serialize(v, NULL);
    assert_non_null(s);
    assert_string_equal(s, expected);
    free(s);
}

/* The last message's result, serialized, equals expected. */
static void assert_result(struct td_fixture *f, const char *expected)
{
    json_t *result = json_object_get(last(f), "result");
    if (!result)
        assert_json(last(f), "(a result)");
    assert_json(result, expected);
}

static void assert_error(struct td_fixture *f, int code, const char *message)
{
    json_t *err = json_object_get(last(f), "error");
    assert_non_null(err);
    assert_int_equal(json_integer_value(json_object_get(err, "code")), code);
    assert_string_equal(json_string_value(json_object_get(err, "message")), message);
}

/* The first content item's text of the last tools/call result. */
static const char *result_text(struct td_fixture *f)
{
    json_t *content = json_object_get(json_object_get(last(f), "result"), "content");
    return json_string_value(json_object_get(json_array_get(content, 0), "text"));
}

/* Answer the server->client request msg with the JSON text reply ("result":… or "error":…). */
static void reply_to(struct td_fixture *f, const json_t *msg, const char *member)
{
    char *text = NULL;
    assert_true(asprintf(&text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,%s}",
                         (long long)json_integer_value(json_object_get(msg, "id")), member) >= 0);
    json_t *reply = json_parse(text, strlen(text), NULL, 0);
    assert_non_null(reply);
    mcp_live_route_reply(&f->ctx, f->sess.id, reply);
    json_decref(reply);
    free(text);
}

/* ---- tools/list ---- */

#define DRAFT07                                                                                    \
    ",\"additionalProperties\":false,\"$schema\":\"http://json-schema.org/draft-07/schema#\"}"

static const char PEER_TOOLS[] =
    "{\"tools\":["
    "{\"name\":\"echo\",\"description\":\"Echoes back the input\",\"inputSchema\":{\"type\":"
    "\"object\",\"properties\":{\"message\":{\"type\":\"string\",\"description\":\"Message to "
    "echo\"}},\"required\":[\"message\"]" DRAFT07 "},"
    "{\"name\":\"add\",\"description\":\"Adds two numbers\",\"inputSchema\":{\"type\":\"object\","
    "\"properties\":{\"a\":{\"type\":\"number\",\"description\":\"First number\"},\"b\":{\"type\":"
    "\"number\",\"description\":\"Second number\"}},\"required\":[\"a\",\"b\"]" DRAFT07 "},"
    "{\"name\":\"longRunningOperation\",\"description\":\"Demonstrates a long running operation "
    "with progress updates\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"duration\":{"
    "\"type\":\"number\",\"default\":10,\"description\":\"Duration of the operation in "
    "seconds\"},\"steps\":{\"type\":\"number\",\"default\":5,\"description\":\"Number of steps in "
    "the operation\"}}" DRAFT07 "},"
    "{\"name\":\"sampleLLM\",\"description\":\"Samples from an LLM using MCP's sampling "
    "feature\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"prompt\":{\"type\":"
    "\"string\",\"description\":\"The prompt to send to the LLM\"},\"maxTokens\":{\"type\":"
    "\"number\",\"default\":100,\"description\":\"Maximum number of tokens to generate\"}},"
    "\"required\":[\"prompt\"]" DRAFT07 "},"
    "{\"name\":\"getTinyImage\",\"description\":\"Returns the MCP_TINY_IMAGE\",\"inputSchema\":{"
    "\"type\":\"object\",\"properties\":{}" DRAFT07 "},"
    "{\"name\":\"annotatedMessage\",\"description\":\"Demonstrates how annotations can be used to "
    "provide metadata about content\",\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "\"messageType\":{\"type\":\"string\",\"enum\":[\"error\",\"success\",\"debug\"],"
    "\"description\":\"Type of message to demonstrate different annotation patterns\"},"
    "\"includeImage\":{\"type\":\"boolean\",\"default\":false,\"description\":\"Whether to include "
    "an example image\"}},\"required\":[\"messageType\"]" DRAFT07 "},"
    "{\"name\":\"getResourceReference\",\"description\":\"Returns a resource reference that can be "
    "used by MCP clients\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"resourceId\":{"
    "\"type\":\"number\",\"minimum\":1,\"maximum\":100,\"description\":\"ID of the resource to "
    "reference (1-100)\"}},\"required\":[\"resourceId\"]" DRAFT07 "}";

static const char ELICIT_TOOL[] =
    ",{\"name\":\"elicitInputs\",\"description\":\"Elicitation test tool that demonstrates how to "
    "request user input with various field types\",\"inputSchema\":{\"type\":\"object\","
    "\"properties\":{}}}";

static void test_tools_list_is_the_peers_seven_for_a_client_without_elicitation(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    char expected[sizeof PEER_TOOLS + 8];
    snprintf(expected, sizeof expected, "%s]}", PEER_TOOLS);
    assert_result(f, expected);
}

static void test_tools_list_adds_elicit_inputs_for_an_elicitation_client(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    char expected[sizeof PEER_TOOLS + sizeof ELICIT_TOOL + 8];
    snprintf(expected, sizeof expected, "%s%s]}", PEER_TOOLS, ELICIT_TOOL);
    assert_result(f, expected);
}

static void test_elicit_inputs_is_not_callable_without_elicitation(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "elicitInputs", "{}");
    assert_int_equal(json_array_size(f->rec.messages), 1);
    assert_non_null(json_object_get(last(f), "error"));
}

static void test_initialize_names_the_feature_reference_server(void **state)
{
    struct td_fixture *f = *state;
    json_t *r = mcp_dispatch_initialize_result(f->ctx.dispatch, "2025-06-18");
    assert_json(r, "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"prompts\":{},"
                   "\"resources\":{\"subscribe\":true},\"tools\":{},\"logging\":{},"
                   "\"completions\":{}},\"serverInfo\":{\"name\":\"example-servers/"
                   "feature-reference\",\"version\":\"1.0.0\"}}");
    json_decref(r);
}

/* ---- simple tools ---- */

static void test_echo_prefixes_the_message(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "echo", "{\"message\":\"hello\",\"extra\":1}");
    assert_result(f, "{\"content\":[{\"type\":\"text\",\"text\":\"Echo: hello\"}]}");
}

static void test_add_prints_numbers_as_javascript(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "add", "{\"a\":0.1,\"b\":0.2}");
    assert_string_equal(result_text(f), "The sum of 0.1 and 0.2 is 0.30000000000000004.");
    call_tool(f, "add", "{\"a\":1e21,\"b\":0}");
    assert_string_equal(result_text(f), "The sum of 1e+21 and 0 is 1e+21.");
    call_tool(f, "add", "{\"a\":2,\"b\":3.0}");
    assert_string_equal(result_text(f), "The sum of 2 and 3 is 5.");
    call_tool(f, "add", "{\"a\":1.5e300,\"b\":1.5e308}");
    assert_string_equal(result_text(f),
                        "The sum of 1.5e+300 and 1.5e+308 is 1.5000000150000001e+308.");
    call_tool(f, "add", "{\"a\":1e308,\"b\":1e308}");
    assert_string_equal(result_text(f), "The sum of 1e+308 and 1e+308 is Infinity.");
    call_tool(f, "add", "{\"a\":0.000001,\"b\":-1e-7}");
    assert_string_equal(result_text(f), "The sum of 0.000001 and -1e-7 is 9e-7.");
}

static const char ZOD_MISSING_ARGUMENTS[] = "[\n"
                                            "  {\n"
                                            "    \"code\": \"invalid_type\",\n"
                                            "    \"expected\": \"object\",\n"
                                            "    \"received\": \"undefined\",\n"
                                            "    \"path\": [],\n"
                                            "    \"message\": \"Required\"\n"
                                            "  }\n"
                                            "]";

static void test_missing_arguments_fail_validation_even_for_get_tiny_image(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "getTinyImage", NULL);
    assert_error(f, -32603, ZOD_MISSING_ARGUMENTS);
    call_tool(f, "echo", NULL);
    assert_error(f, -32603, ZOD_MISSING_ARGUMENTS);
}

static void test_wrong_argument_types_list_every_issue_like_zod(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "add", "{\"a\":\"1\"}");
    assert_error(f, -32603,
                 "[\n  {\n    \"code\": \"invalid_type\",\n    \"expected\": \"number\",\n"
                 "    \"received\": \"string\",\n    \"path\": [\n      \"a\"\n    ],\n"
                 "    \"message\": \"Expected number, received string\"\n  },\n  {\n"
                 "    \"code\": \"invalid_type\",\n    \"expected\": \"number\",\n"
                 "    \"received\": \"undefined\",\n    \"path\": [\n      \"b\"\n    ],\n"
                 "    \"message\": \"Required\"\n  }\n]");
    call_tool(f, "echo", "{\"message\":null}");
    assert_error(f, -32603,
                 "[\n  {\n    \"code\": \"invalid_type\",\n    \"expected\": \"string\",\n"
                 "    \"received\": \"null\",\n    \"path\": [\n      \"message\"\n    ],\n"
                 "    \"message\": \"Expected string, received null\"\n  }\n]");
}

static void test_get_tiny_image_returns_the_peers_three_items(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "getTinyImage", "{}");
    char expected[8192];
    snprintf(expected, sizeof expected,
             "{\"content\":[{\"type\":\"text\",\"text\":\"This is a tiny image:\"},{\"type\":"
             "\"image\",\"data\":\"%s\",\"mimeType\":\"image/png\"},{\"type\":\"text\",\"text\":"
             "\"The image above is the MCP tiny image.\"}]}",
             REF_TINY_IMAGE);
    assert_result(f, expected);
}

static void test_tiny_image_is_the_peers_exact_png(void **state)
{
    assert_int_equal(strlen(REF_TINY_IMAGE), 5380);
    uint8_t png[4096];
    long n = crypto_base64_decode(REF_TINY_IMAGE, strlen(REF_TINY_IMAGE), png, sizeof png);
    assert_int_equal(n, 4033);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    char hex[65];
    crypto_sha256_hex(png, (size_t)n, hex);
    assert_string_equal(hex, "4466be3b7a0e51778f8634f5e984197ec35c748caf4c3b32763f89c577d29614");
}

static void test_annotated_message_annotates_each_type(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "annotatedMessage", "{\"messageType\":\"error\"}");
    assert_result(f, "{\"content\":[{\"type\":\"text\",\"text\":\"Error: Operation failed\","
                     "\"annotations\":{\"priority\":1,\"audience\":[\"user\",\"assistant\"]}}]}");
    call_tool(f, "annotatedMessage", "{\"messageType\":\"success\",\"includeImage\":false}");
    assert_result(f,
                  "{\"content\":[{\"type\":\"text\",\"text\":\"Operation completed "
                  "successfully\",\"annotations\":{\"priority\":0.7,\"audience\":[\"user\"]}}]}");
    call_tool(f, "annotatedMessage", "{\"messageType\":\"debug\"}");
    assert_result(f, "{\"content\":[{\"type\":\"text\",\"text\":\"Debug: Cache hit ratio 0.95, "
                     "latency 150ms\",\"annotations\":{\"priority\":0.3,\"audience\":"
                     "[\"assistant\"]}}]}");
}

static void test_annotated_message_appends_an_annotated_image(void **state)
{
    struct td_fixture *f = *state;
    const char *types[] = {"error", "success", "debug"};
    for (size_t i = 0; i < 3; i++) {
        char args[96];
        snprintf(args, sizeof args, "{\"messageType\":\"%s\",\"includeImage\":true}", types[i]);
        call_tool(f, "annotatedMessage", args);
        json_t *content = json_object_get(json_object_get(last(f), "result"), "content");
        assert_int_equal(json_array_size(content), 2);
        char expected[8192];
        snprintf(expected, sizeof expected,
                 "{\"type\":\"image\",\"data\":\"%s\",\"mimeType\":\"image/png\","
                 "\"annotations\":{\"priority\":0.5,\"audience\":[\"user\"]}}",
                 REF_TINY_IMAGE);
        assert_json(json_array_get(content, 1), expected);
    }
}

static void test_annotated_message_rejects_an_unknown_type(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "annotatedMessage", "{\"messageType\":\"loud\"}");
    assert_error(f, -32603,
                 "[\n  {\n    \"received\": \"loud\",\n    \"code\": \"invalid_enum_value\",\n"
                 "    \"options\": [\n      \"error\",\n      \"success\",\n      \"debug\"\n"
                 "    ],\n    \"path\": [\n      \"messageType\"\n    ],\n"
                 "    \"message\": \"Invalid enum value. Expected 'error' | 'success' | 'debug', "
                 "received 'loud'\"\n  }\n]");
}

static void test_get_resource_reference_embeds_the_full_resource(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "getResourceReference", "{\"resourceId\":1}");
    assert_result(f, "{\"content\":[{\"type\":\"text\",\"text\":\"Returning resource reference for "
                     "Resource 1:\"},{\"type\":\"resource\",\"resource\":{\"uri\":\"test://static/"
                     "resource/1\",\"name\":\"Resource 1\",\"mimeType\":\"text/plain\",\"text\":"
                     "\"Resource 1: This is a plaintext resource\"}},{\"type\":\"text\",\"text\":"
                     "\"You can access this resource using the URI: test://static/resource/1\"}]}");
    call_tool(f, "getResourceReference", "{\"resourceId\":2.0}");
    assert_result(f,
                  "{\"content\":[{\"type\":\"text\",\"text\":\"Returning resource reference for "
                  "Resource 2:\"},{\"type\":\"resource\",\"resource\":{\"uri\":\"test://static/"
                  "resource/2\",\"name\":\"Resource 2\",\"mimeType\":\"application/octet-stream\","
                  "\"blob\":\"UmVzb3VyY2UgMjogVGhpcyBpcyBhIGJhc2U2NCBibG9i\"}},{\"type\":"
                  "\"text\",\"text\":\"You can access this resource using the URI: "
                  "test://static/resource/2\"}]}");
    call_tool(f, "getResourceReference", "{\"resourceId\":100}");
    assert_string_equal(result_text(f), "Returning resource reference for Resource 100:");
}

static void test_get_resource_reference_rejects_ids_out_of_range(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "getResourceReference", "{\"resourceId\":0}");
    assert_error(f, -32603,
                 "[\n  {\n    \"code\": \"too_small\",\n    \"minimum\": 1,\n"
                 "    \"type\": \"number\",\n    \"inclusive\": true,\n    \"exact\": false,\n"
                 "    \"message\": \"Number must be greater than or equal to 1\",\n"
                 "    \"path\": [\n      \"resourceId\"\n    ]\n  }\n]");
    call_tool(f, "getResourceReference", "{\"resourceId\":101}");
    assert_error(f, -32603,
                 "[\n  {\n    \"code\": \"too_big\",\n    \"maximum\": 100,\n"
                 "    \"type\": \"number\",\n    \"inclusive\": true,\n    \"exact\": false,\n"
                 "    \"message\": \"Number must be less than or equal to 100\",\n"
                 "    \"path\": [\n      \"resourceId\"\n    ]\n  }\n]");
}

static void test_get_resource_reference_rejects_a_fractional_id_clearly(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "getResourceReference", "{\"resourceId\":1.5}");
    assert_error(f, -32603,
                 "[\n  {\n    \"code\": \"invalid_type\",\n    \"expected\": \"integer\",\n"
                 "    \"received\": \"float\",\n    \"message\": \"Expected integer, received "
                 "float\",\n    \"path\": [\n      \"resourceId\"\n    ]\n  }\n]");
}

/* ---- longRunningOperation ---- */

static void test_long_running_operation_reports_each_step_then_completes(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"longRunningOperation\",\"arguments\":{\"duration\":0.05,\"steps\":3},"
               "\"_meta\":{\"progressToken\":\"tok\"}}}");
    assert_int_equal(f->rec.finals, 0);
    run_until_finals(f, 1);
    assert_int_equal(json_array_size(f->rec.messages), 4);
    for (int i = 0; i < 3; i++) {
        json_t *params = json_object_get(message_at(f, (size_t)i), "params");
        assert_string_equal(json_string_value(json_object_get(message_at(f, (size_t)i), "method")),
                            "notifications/progress");
        assert_int_equal((int)json_number_value(json_object_get(params, "progress")), i + 1);
        assert_int_equal((int)json_number_value(json_object_get(params, "total")), 3);
        assert_string_equal(json_string_value(json_object_get(params, "progressToken")), "tok");
    }
    assert_string_equal(result_text(f),
                        "Long running operation completed. Duration: 0.05 seconds, Steps: 3.");
}

static void test_long_running_operation_without_token_sends_no_progress(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "longRunningOperation", "{\"duration\":0.02,\"steps\":2.5}");
    run_until_finals(f, 1);
    assert_int_equal(json_array_size(f->rec.messages), 1);
    assert_string_equal(result_text(f),
                        "Long running operation completed. Duration: 0.02 seconds, Steps: 2.5.");
}

static void test_long_running_operation_steps_zero_answers_at_once(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "longRunningOperation", "{\"steps\":0}");
    assert_int_equal(f->rec.finals, 1);
    assert_string_equal(result_text(f),
                        "Long running operation completed. Duration: 10 seconds, Steps: 0.");
    call_tool(f, "longRunningOperation", "{\"steps\":-2,\"duration\":1.5}");
    assert_int_equal(f->rec.finals, 2);
    assert_string_equal(result_text(f),
                        "Long running operation completed. Duration: 1.5 seconds, Steps: -2.");
}

static void test_long_running_operation_fractional_steps_run_ceil_steps(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"longRunningOperation\",\"arguments\":{\"duration\":0.01,\"steps\":1.5},"
               "\"_meta\":{\"progressToken\":3}}}");
    run_until_finals(f, 1);
    assert_int_equal(json_array_size(f->rec.messages), 3);
    json_t *params = json_object_get(message_at(f, 1), "params");
    assert_int_equal((int)json_number_value(json_object_get(params, "progress")), 2);
    assert_true(json_number_value(json_object_get(params, "total")) == 1.5);
    assert_int_equal(json_integer_value(json_object_get(params, "progressToken")), 3);
}

/* ---- sampleLLM ---- */

static const char SAMPLE_REQUEST[] =
    "{\"method\":\"sampling/createMessage\",\"params\":{\"messages\":[{\"role\":\"user\","
    "\"content\":{\"type\":\"text\",\"text\":\"Resource sampleLLM context: Say hi\"}}],"
    "\"systemPrompt\":\"You are a helpful test server.\",\"maxTokens\":%s,\"temperature\":0.7,"
    "\"includeContext\":\"thisServer\"},\"jsonrpc\":\"2.0\",\"id\":0}";

static void test_sample_llm_sends_the_peers_request_and_prints_the_reply(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "sampleLLM", "{\"prompt\":\"Say hi\"}");
    run_until_messages(f, 1);
    char expected[1024];
    snprintf(expected, sizeof expected, SAMPLE_REQUEST, "100");
    assert_json(message_at(f, 0), expected);
    reply_to(f, message_at(f, 0),
             "\"result\":{\"model\":\"m\",\"role\":\"assistant\",\"content\":{\"type\":\"text\","
             "\"text\":\"hi there\"}}");
    run_until_finals(f, 1);
    assert_result(f, "{\"content\":[{\"type\":\"text\",\"text\":\"LLM sampling result: hi "
                     "there\"}]}");
}

static void test_sample_llm_passes_max_tokens_and_takes_array_content(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "sampleLLM", "{\"prompt\":\"Say hi\",\"maxTokens\":7}");
    run_until_messages(f, 1);
    char expected[1024];
    snprintf(expected, sizeof expected, SAMPLE_REQUEST, "7");
    assert_json(message_at(f, 0), expected);
    reply_to(f, message_at(f, 0),
             "\"result\":{\"model\":\"m\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
             "\"text\":\"first\"},{\"type\":\"text\",\"text\":\"second\"}]}");
    run_until_finals(f, 1);
    assert_string_equal(result_text(f), "LLM sampling result: first");
}

static void test_sample_llm_non_text_content_prints_undefined(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "sampleLLM", "{\"prompt\":\"Say hi\"}");
    run_until_messages(f, 1);
    reply_to(f, message_at(f, 0),
             "\"result\":{\"model\":\"m\",\"role\":\"assistant\",\"content\":{\"type\":\"image\","
             "\"data\":\"AA==\",\"mimeType\":\"image/png\"}}");
    run_until_finals(f, 1);
    assert_string_equal(result_text(f), "LLM sampling result: undefined");
}

static void test_sample_llm_keeps_the_clients_error_code(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "sampleLLM", "{\"prompt\":\"Say hi\"}");
    run_until_messages(f, 1);
    reply_to(f, message_at(f, 0), "\"error\":{\"code\":-1,\"message\":\"User rejected\"}");
    run_until_finals(f, 1);
    assert_error(f, -1, "MCP error -1: User rejected");
}

static void test_sample_llm_unanswered_times_out(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "sampleLLM", "{\"prompt\":\"Say hi\"}");
    run_until_finals(f, 1); /* request_timeout_ms is 100 */
    assert_error(f, -32001, "MCP error -32001: Request timed out");
}

static void test_sample_llm_rejects_a_malformed_reply(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "sampleLLM", "{\"prompt\":\"Say hi\"}");
    run_until_messages(f, 1);
    reply_to(f, message_at(f, 0), "\"result\":{\"role\":\"assistant\",\"content\":{}}");
    run_until_finals(f, 1);
    json_t *err = json_object_get(last(f), "error");
    assert_int_equal(json_integer_value(json_object_get(err, "code")), -32603);
    assert_non_null(strstr(json_string_value(json_object_get(err, "message")), "\"model\""));
}

/* ---- elicitInputs ---- */

static void test_elicit_inputs_requests_the_form_and_prints_the_reply_pretty(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "elicitInputs", "{}");
    run_until_messages(f, 1);
    json_t *req = message_at(f, 0);
    assert_string_equal(json_string_value(json_object_get(req, "method")), "elicitation/create");
    assert_json(
        json_object_get(req, "params"),
        "{\"message\":\"Please provide inputs for the following fields:\",\"requestedSchema\":{"
        "\"type\":\"object\",\"properties\":{\"name\":{\"title\":\"Full Name\",\"type\":\"string\","
        "\"description\":\"Your full, legal name\"},\"check\":{\"title\":\"Agree to terms\","
        "\"type\":\"boolean\",\"description\":\"A boolean check\"},\"color\":{\"title\":\"Favorite "
        "Color\",\"type\":\"string\",\"description\":\"Favorite color (open text)\",\"default\":"
        "\"blue\"},\"email\":{\"title\":\"Email Address\",\"type\":\"string\",\"format\":\"email\","
        "\"description\":\"Your email address (will be verified, and never shared with anyone "
        "else)\"},\"homepage\":{\"type\":\"string\",\"format\":\"uri\",\"description\":\"Homepage "
        "/ "
        "personal site\"},\"birthdate\":{\"title\":\"Birthdate\",\"type\":\"string\",\"format\":"
        "\"date\",\"description\":\"Your date of birth (will never be shared with anyone "
        "else)\"},\"integer\":{\"title\":\"Favorite Integer\",\"type\":\"integer\",\"description\":"
        "\"Your favorite integer (do not give us your phone number, pin, or other sensitive "
        "info)\",\"minimum\":1,\"maximum\":100,\"default\":42},\"number\":{\"title\":\"Favorite "
        "Number\",\"type\":\"number\",\"description\":\"Favorite number (there are no wrong "
        "answers)\",\"minimum\":0,\"maximum\":1000,\"default\":3.14},\"petType\":{\"title\":\"Pet "
        "type\",\"type\":\"string\",\"enum\":[\"cats\",\"dogs\",\"birds\",\"fish\",\"reptiles\"],"
        "\"enumNames\":[\"Cats\",\"Dogs\",\"Birds\",\"Fish\",\"Reptiles\"],\"default\":\"dogs\","
        "\"description\":\"Your favorite pet type\"}},\"required\":[\"name\"]}}");
    reply_to(f, req,
             "\"result\":{\"content\":{\"name\":\"Ada \\\"L\\\"\",\"check\":true,\"number\":3.14,"
             "\"tags\":[],\"extra\":{}},\"action\":\"accept\"}");
    run_until_finals(f, 1);
    assert_string_equal(result_text(f), "Elicitation result: {\n"
                                        "  \"action\": \"accept\",\n"
                                        "  \"content\": {\n"
                                        "    \"name\": \"Ada \\\"L\\\"\",\n"
                                        "    \"check\": true,\n"
                                        "    \"number\": 3.14,\n"
                                        "    \"tags\": [],\n"
                                        "    \"extra\": {}\n"
                                        "  }\n"
                                        "}");
}

static void test_elicit_inputs_decline_prints_the_action_only(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "elicitInputs", "{}");
    run_until_messages(f, 1);
    reply_to(f, message_at(f, 0), "\"result\":{\"action\":\"decline\"}");
    run_until_finals(f, 1);
    assert_string_equal(result_text(f), "Elicitation result: {\n  \"action\": \"decline\"\n}");
}

static void test_elicit_inputs_waits_ten_minutes_not_the_default(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "elicitInputs", "{}");
    run_until_messages(f, 1);
    /* The default request timeout is 100 ms here; after 300 ms the call must still wait. */
    uint64_t until = uv_now(&f->loop) + 300;
    while (uv_now(&f->loop) < until) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        uv_sleep(5);
        uv_update_time(&f->loop);
    }
    assert_int_equal(f->rec.finals, 0);
    reply_to(f, message_at(f, 0), "\"error\":{\"code\":-32601,\"message\":\"Method not found\"}");
    run_until_finals(f, 1);
    assert_error(f, -32601, "MCP error -32601: Method not found");
}

/* ---- resources ---- */

static void test_resources_list_walks_ten_pages_of_ten(void **state)
{
    struct td_fixture *f = *state;
    static const char *const cursors[] = {
        "MTA=", "MjA=", "MzA=", "NDA=", "NTA=", "NjA=", "NzA=", "ODA=", "OTA="};
    int seen = 0;
    for (int page = 0; page < 10; page++) {
        if (page == 0)
            request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}");
        else
            requestf(f,
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\",\"params\":{"
                     "\"cursor\":\"%s\"}}",
                     cursors[page - 1]);
        json_t *result = json_object_get(last(f), "result");
        json_t *list = json_object_get(result, "resources");
        assert_int_equal(json_array_size(list), 10);
        for (size_t i = 0; i < 10; i++) {
            int n = ++seen;
            char expected[160];
            snprintf(expected, sizeof expected,
                     "{\"uri\":\"test://static/resource/%d\",\"name\":\"Resource %d\","
                     "\"mimeType\":\"%s\"}",
                     n, n, n % 2 ? "text/plain" : "application/octet-stream");
            assert_json(json_array_get(list, i), expected);
        }
        json_t *next = json_object_get(result, "nextCursor");
        if (page < 9)
            assert_string_equal(json_string_value(next), cursors[page]);
        else
            assert_null(next);
    }
    assert_int_equal(seen, 100);
}

static void read_uri(struct td_fixture *f, const char *uri)
{
    requestf(f,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":"
             "\"%s\"}}",
             uri);
}

static void test_resources_read_returns_text_for_odd_and_blob_for_even(void **state)
{
    struct td_fixture *f = *state;
    read_uri(f, "test://static/resource/3");
    assert_result(f, "{\"contents\":[{\"uri\":\"test://static/resource/3\",\"name\":\"Resource "
                     "3\",\"mimeType\":\"text/plain\",\"text\":\"Resource 3: This is a plaintext "
                     "resource\"}]}");
    read_uri(f, "test://static/resource/2");
    assert_result(f, "{\"contents\":[{\"uri\":\"test://static/resource/2\",\"name\":\"Resource "
                     "2\",\"mimeType\":\"application/octet-stream\",\"blob\":"
                     "\"UmVzb3VyY2UgMjogVGhpcyBpcyBhIGJhc2U2NCBibG9i\"}]}");
    read_uri(f, "test://static/resource/100");
    json_t *c0 = json_array_get(json_object_get(json_object_get(last(f), "result"), "contents"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "uri")),
                        "test://static/resource/100");
}

static void test_resources_read_parses_the_id_like_parse_int(void **state)
{
    struct td_fixture *f = *state;
    const char *uris[] = {"test://static/resource/1.5", "test://static/resource/01",
                          "test://static/resource/1abc"};
    for (size_t i = 0; i < 3; i++) {
        read_uri(f, uris[i]);
        json_t *c0 =
            json_array_get(json_object_get(json_object_get(last(f), "result"), "contents"), 0);
        assert_string_equal(json_string_value(json_object_get(c0, "uri")),
                            "test://static/resource/1");
    }
}

static void test_resources_read_out_of_range_is_the_peers_unknown_resource(void **state)
{
    struct td_fixture *f = *state;
    read_uri(f, "test://static/resource/0");
    assert_error(f, -32603, "Unknown resource: test://static/resource/0");
    read_uri(f, "test://static/resource/101");
    assert_error(f, -32603, "Unknown resource: test://static/resource/101");
    read_uri(f, "test://static/resource/");
    assert_error(f, -32603, "Unknown resource: test://static/resource/");
    read_uri(f, "test://elsewhere/1");
    json_t *err = json_object_get(last(f), "error");
    assert_int_equal(json_integer_value(json_object_get(err, "code")),
                     MCP_ERROR_RESOURCE_NOT_FOUND);
}

static void test_resource_templates_are_the_peers(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/templates/list\"}");
    assert_result(f, "{\"resourceTemplates\":[{\"uriTemplate\":\"test://static/resource/{id}\","
                     "\"name\":\"Static Resource\",\"description\":\"A static resource with a "
                     "numeric ID\"}]}");
}

static void test_subscribe_asks_a_sampling_client_then_answers_empty(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{"
               "\"uri\":\"test://static/resource/1\"}}");
    run_until_messages(f, 1);
    assert_int_equal(f->rec.finals, 0);
    assert_json(message_at(f, 0),
                "{\"method\":\"sampling/createMessage\",\"params\":{\"messages\":[{\"role\":"
                "\"user\",\"content\":{\"type\":\"text\",\"text\":\"Resource test://static/"
                "resource/1 context: A new subscription was started\"}}],\"systemPrompt\":\"You "
                "are a helpful test server.\",\"maxTokens\":100,\"temperature\":0.7,"
                "\"includeContext\":\"thisServer\"},\"jsonrpc\":\"2.0\",\"id\":0}");
    reply_to(f, message_at(f, 0), "\"error\":{\"code\":-1,\"message\":\"no\"}");
    run_until_finals(f, 1);
    assert_result(f, "{}");
}

static void test_subscribe_without_sampling_answers_at_once(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{"
               "\"uri\":\"test://static/resource/1\"}}");
    run_until_finals(f, 1);
    assert_int_equal(json_array_size(f->rec.messages), 1);
    assert_result(f, "{}");
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/unsubscribe\",\"params\":{"
               "\"uri\":\"test://static/resource/1\"}}");
    run_until_finals(f, 2);
    assert_result(f, "{}");
}

static void test_unsubscribe_answers_at_once_even_for_a_sampling_client(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/unsubscribe\",\"params\":{"
               "\"uri\":\"test://static/resource/1\"}}");
    run_until_finals(f, 1);
    assert_int_equal(json_array_size(f->rec.messages), 1);
    assert_result(f, "{}");
}

/* ---- prompts ---- */

static void test_prompts_list_is_the_peers(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/list\"}");
    assert_result(
        f, "{\"prompts\":[{\"name\":\"simple_prompt\",\"description\":\"A prompt without "
           "arguments\"},{\"name\":\"complex_prompt\",\"description\":\"A prompt with arguments\","
           "\"arguments\":[{\"name\":\"temperature\",\"description\":\"Temperature setting\","
           "\"required\":true},{\"name\":\"style\",\"description\":\"Output style\",\"required\":"
           "false}]},{\"name\":\"resource_prompt\",\"description\":\"A prompt that includes an "
           "embedded resource reference\",\"arguments\":[{\"name\":\"resourceId\",\"description\":"
           "\"Resource ID to include (1-100)\",\"required\":true}]}]}");
}

static void get_prompt(struct td_fixture *f, const char *name, const char *args)
{
    requestf(f,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{\"name\":"
             "\"%s\"%s%s}}",
             name, args ? ",\"arguments\":" : "", args ? args : "");
}

static void test_simple_prompt_is_one_user_message(void **state)
{
    struct td_fixture *f = *state;
    get_prompt(f, "simple_prompt", NULL);
    assert_result(f, "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":"
                     "\"This is a simple prompt without arguments.\"}}]}");
}

static void test_complex_prompt_renders_missing_arguments_as_undefined(void **state)
{
    struct td_fixture *f = *state;
    get_prompt(f, "complex_prompt", "{\"temperature\":\"0.7\"}");
    char expected[8192];
    snprintf(expected, sizeof expected,
             "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"This is "
             "a complex prompt with arguments: temperature=0.7, style=undefined\"}},{\"role\":"
             "\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"I understand. You've "
             "provided a complex prompt with temperature and style arguments. How would you like "
             "me to proceed?\"}},{\"role\":\"user\",\"content\":{\"type\":\"image\",\"data\":"
             "\"%s\",\"mimeType\":\"image/png\"}}]}",
             REF_TINY_IMAGE);
    assert_result(f, expected);
    get_prompt(f, "complex_prompt", NULL);
    json_t *m0 = json_array_get(json_object_get(json_object_get(last(f), "result"), "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m0, "content"), "text")),
                        "This is a complex prompt with arguments: temperature=undefined, "
                        "style=undefined");
}

static void test_resource_prompt_embeds_the_resource(void **state)
{
    struct td_fixture *f = *state;
    get_prompt(f, "resource_prompt", "{\"resourceId\":\"5x\"}");
    assert_result(f, "{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":"
                     "\"This prompt includes Resource 5. Please analyze the following "
                     "resource:\"}},{\"role\":\"user\",\"content\":{\"type\":\"resource\","
                     "\"resource\":{\"uri\":\"test://static/resource/5\",\"name\":\"Resource 5\","
                     "\"mimeType\":\"text/plain\",\"text\":\"Resource 5: This is a plaintext "
                     "resource\"}}}]}");
}

static void test_resource_prompt_rejects_a_bad_id_with_the_peers_text(void **state)
{
    struct td_fixture *f = *state;
    get_prompt(f, "resource_prompt", "{\"resourceId\":\"abc\"}");
    assert_error(f, -32603, "Invalid resourceId: abc. Must be a number between 1 and 100.");
    get_prompt(f, "resource_prompt", "{\"resourceId\":\"101\"}");
    assert_error(f, -32603, "Invalid resourceId: 101. Must be a number between 1 and 100.");
    get_prompt(f, "resource_prompt", "{}");
    assert_error(f, -32603, "Invalid resourceId: undefined. Must be a number between 1 and 100.");
}

static void test_prompt_arguments_must_be_strings(void **state)
{
    struct td_fixture *f = *state;
    get_prompt(f, "resource_prompt", "{\"resourceId\":5}");
    assert_error(f, -32603,
                 "[\n  {\n    \"code\": \"invalid_type\",\n    \"expected\": \"string\",\n"
                 "    \"received\": \"number\",\n    \"path\": [\n      \"params\",\n"
                 "      \"arguments\",\n      \"resourceId\"\n    ],\n"
                 "    \"message\": \"Expected string, received number\"\n  }\n]");
}

/* ---- completions ---- */

static void complete(struct td_fixture *f, const char *ref, const char *name, const char *value)
{
    requestf(f,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"completion/complete\",\"params\":{"
             "\"ref\":%s,\"argument\":{\"name\":\"%s\",\"value\":\"%s\"}}}",
             ref, name, value);
}

#define PROMPT_REF   "{\"type\":\"ref/prompt\",\"name\":\"complex_prompt\"}"
#define TEMPLATE_REF "{\"type\":\"ref/resource\",\"uri\":\"test://static/resource/{id}\"}"

static void test_completion_of_prompt_arguments_filters_by_prefix(void **state)
{
    struct td_fixture *f = *state;
    complete(f, PROMPT_REF, "style", "f");
    assert_result(f, "{\"completion\":{\"values\":[\"formal\",\"friendly\"],\"hasMore\":false,"
                     "\"total\":2}}");
    complete(f, PROMPT_REF, "temperature", "");
    assert_result(f, "{\"completion\":{\"values\":[\"0\",\"0.5\",\"0.7\",\"1.0\"],\"hasMore\":"
                     "false,\"total\":4}}");
    complete(f, "{\"type\":\"ref/prompt\",\"name\":\"resource_prompt\"}", "resourceId", "3");
    assert_result(f, "{\"completion\":{\"values\":[\"3\"],\"hasMore\":false,\"total\":1}}");
    complete(f, PROMPT_REF, "style", "z");
    assert_result(f, "{\"completion\":{\"values\":[],\"hasMore\":false,\"total\":0}}");
}

static void test_completion_of_an_unknown_argument_is_bare_empty(void **state)
{
    struct td_fixture *f = *state;
    complete(f, PROMPT_REF, "mood", "");
    assert_result(f, "{\"completion\":{\"values\":[]}}");
}

static void test_completion_of_the_resource_template_completes_ids(void **state)
{
    struct td_fixture *f = *state;
    complete(f, TEMPLATE_REF, "id", "");
    assert_result(f, "{\"completion\":{\"values\":[\"1\",\"2\",\"3\",\"4\",\"5\"],\"hasMore\":"
                     "false,\"total\":5}}");
    complete(f, TEMPLATE_REF, "anything", "4");
    assert_result(f, "{\"completion\":{\"values\":[\"4\"],\"hasMore\":false,\"total\":1}}");
    complete(f, "{\"type\":\"ref/resource\",\"uri\":\"test://static/resource/\"}", "id", "");
    assert_result(f, "{\"completion\":{\"values\":[]}}");
}

static void test_both_packs_complete_their_own_refs(void **state)
{
    struct td_fixture *f = *state;
    complete(f, PROMPT_REF, "style", "c");
    assert_result(f, "{\"completion\":{\"values\":[\"casual\"],\"hasMore\":false,\"total\":1}}");
    complete(f, "{\"type\":\"ref/prompt\",\"name\":\"test_prompt_with_arguments\"}", "arg1", "");
    assert_result(f, "{\"completion\":{\"values\":[],\"total\":0,\"hasMore\":false}}");
    complete(f, "{\"type\":\"ref/resource\",\"uri\":\"test://template/{id}/data\"}", "id", "");
    assert_result(f, "{\"completion\":{\"values\":[],\"total\":0,\"hasMore\":false}}");
}

static void test_both_packs_serve_their_own_tools_and_resources(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    json_t *tools = json_object_get(json_object_get(last(f), "result"), "tools");
    assert_int_equal(json_array_size(tools), 8 + 14);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                        "echo");
    call_tool(f, "test_simple_text", "{}");
    assert_string_equal(result_text(f), "This is a simple text response for testing.");
    read_uri(f, "test://static-text");
    assert_non_null(json_object_get(last(f), "result"));
    read_uri(f, "test://static/resource/7");
    assert_non_null(json_object_get(last(f), "result"));
    json_t *r = mcp_dispatch_initialize_result(f->ctx.dispatch, "2025-06-18");
    assert_json(json_object_get(r, "serverInfo"),
                "{\"name\":\"example-servers/feature-reference\",\"version\":\"1.0.0\"}");
    json_decref(r);
}

/* ---- timers ---- */

static void test_clock_text_is_en_us_twelve_hour_time(void **state)
{
    setenv("TZ", "UTC", 1);
    tzset();
    char out[32];
    assert_string_equal(ref_clock_text(5 * 60 + 9, out, sizeof out), "12:05:09 AM");
    assert_string_equal(ref_clock_text(3 * 3600 + 29 * 60 + 42, out, sizeof out), "03:29:42 AM");
    assert_string_equal(ref_clock_text(12 * 3600, out, sizeof out), "12:00:00 PM");
    assert_string_equal(ref_clock_text(23 * 3600 + 59 * 60 + 59, out, sizeof out), "11:59:59 PM");
}

static void test_random_log_pick_is_uniform_over_the_eight_messages(void **state)
{
    int counts[REF_LOG_MESSAGE_COUNT] = {0};
    for (int b = 0; b < 256; b++)
        counts[ref_log_pick((uint8_t)b) - REF_LOG_MESSAGES]++;
    for (int i = 0; i < REF_LOG_MESSAGE_COUNT; i++)
        assert_int_equal(counts[i], 256 / REF_LOG_MESSAGE_COUNT);
    assert_string_equal(ref_log_pick(6)->data, "Alert level-message");
    assert_string_equal(ref_log_pick(7)->level, "emergency");
}

static void record_write(void *arg, const char *json, size_t len)
{
    struct td_fixture *f = arg;
    json_t *msg = json_parse(json, len, NULL, 0);
    assert_non_null(msg);
    json_array_append_new(f->written, msg);
}

static bool written_has(struct td_fixture *f, const char *method)
{
    size_t i;
    json_t *m;
    json_array_foreach(f->written, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "method")), method) == 0)
            return true;
    }
    return false;
}

static void test_timers_send_updates_logs_and_stderr(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\",\"params\":{"
               "\"uri\":\"test://static/resource/4\"}}");
    run_until_finals(f, 1);
    struct mcp_notifier *n = mcp_notifier_start(&f->ctx, f->sess.id, record_write, f);
    assert_non_null(n);
    for (int i = 0; i < 5000 && !(written_has(f, "notifications/stderr") &&
                                  written_has(f, "notifications/message"));
         i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    mcp_notifier_stop(n);
    size_t i;
    json_t *m;
    json_array_foreach(f->written, i, m)
    {
        const char *method = json_string_value(json_object_get(m, "method"));
        json_t *params = json_object_get(m, "params");
        if (strcmp(method, "notifications/resources/updated") == 0) {
            assert_json(m, "{\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":"
                           "\"test://static/resource/4\"},\"jsonrpc\":\"2.0\"}");
        } else if (strcmp(method, "notifications/message") == 0) {
            assert_int_equal(json_object_size(params), 2);
            assert_non_null(json_string_value(json_object_get(params, "level")));
            assert_non_null(strstr(json_string_value(json_object_get(params, "data")), "message"));
        } else {
            assert_string_equal(method, "notifications/stderr");
            const char *content = json_string_value(json_object_get(params, "content"));
            assert_int_equal(strlen(content), strlen("03:29:42 AM: A stderr message"));
            assert_string_equal(content + 11, ": A stderr message");
        }
    }
    assert_true(written_has(f, "notifications/resources/updated"));
}

/* ---- MCP Apps: mcp_apps_hello_world and ui://hello-world/app.html ---- */

static const char APPS_TOOL[] =
    ",{\"name\":\"mcp_apps_hello_world\",\"description\":\"Demonstrates MCP Apps - returns an "
    "interactive UI that runs in the client\",\"inputSchema\":{\"type\":\"object\","
    "\"properties\":{}},\"_meta\":{\"ui\":{\"resourceUri\":\"ui://hello-world/app.html\"},"
    "\"ui/resourceUri\":\"ui://hello-world/app.html\"}}";

static void test_tools_list_adds_the_app_tool_last_for_an_apps_host(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    char expected[sizeof PEER_TOOLS + sizeof ELICIT_TOOL + sizeof APPS_TOOL + 8];
    snprintf(expected, sizeof expected, "%s%s%s]}", PEER_TOOLS, ELICIT_TOOL, APPS_TOOL);
    assert_result(f, expected);
}

/* Hidden from hosts that did not declare the extension with text/html;profile=mcp-app (the
 * capable and plain fixtures' lists, asserted exactly above, do not have it either). */
static void test_app_tool_is_hidden_and_uncallable_without_the_html_profile(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    char expected[sizeof PEER_TOOLS + 8];
    snprintf(expected, sizeof expected, "%s]}", PEER_TOOLS);
    assert_result(f, expected);
    call_tool(f, "mcp_apps_hello_world", "{}");
    assert_error(f, JSONRPC_INVALID_PARAMS, "Unknown tool: mcp_apps_hello_world");
}

static void test_app_tool_result_is_text_with_the_ui_resource(void **state)
{
    struct td_fixture *f = *state;
    call_tool(f, "mcp_apps_hello_world", "{}");
    assert_result(f, "{\"content\":[{\"type\":\"text\",\"text\":\"Hello World MCP App "
                     "loaded!\"}],\"_meta\":{\"ui\":{\"resourceUri\":\"ui://hello-world/"
                     "app.html\"},\"ui/resourceUri\":\"ui://hello-world/app.html\"}}");
}

static void test_app_resource_is_the_html_view_with_the_app_profile(void **state)
{
    struct td_fixture *f = *state;
    read_uri(f, "ui://hello-world/app.html");
    json_t *contents = json_object_get(json_object_get(last(f), "result"), "contents");
    assert_int_equal(json_array_size(contents), 1);
    json_t *c0 = json_array_get(contents, 0);
    assert_int_equal(json_object_size(c0), 3);
    assert_string_equal(json_string_value(json_object_get(c0, "uri")), "ui://hello-world/app.html");
    assert_string_equal(json_string_value(json_object_get(c0, "mimeType")),
                        "text/html;profile=mcp-app");
    const char *html = json_string_value(json_object_get(c0, "text"));
    assert_non_null(html);
    assert_string_equal(html, ref_apps_html());
    assert_int_equal(strncmp(html, "<!DOCTYPE html>\n<html", 21), 0);
    /* The handshake: ui/initialize with the view's protocol version, info and capabilities,
     * then ui/notifications/initialized; then what the host pushes and the echo call. */
    static const char *const needles[] = {
        "request(\"ui/initialize\"",
        "protocolVersion: \"2026-01-26\"",
        "appInfo:",
        "appCapabilities:",
        "notify(\"ui/notifications/initialized\"",
        "\"tool-input\"",
        "\"tool-result\"",
        "request(\"tools/call\", { name: \"echo\"",
        "postMessage(",
        "event.source !== host",
        "</html>\n",
    };
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        if (!strstr(html, needles[i]))
            fail_msg("the view lacks %s", needles[i]);
    /* Self-contained: the host's default CSP allows no other origin, and tool data is never
     * parsed as markup. */
    assert_null(strstr(html, "://"));
    assert_null(strstr(html, "innerHTML"));
}

/* Any client may read the view by URI, as any other resource. */
static void test_app_resource_reads_without_the_extension(void **state)
{
    struct td_fixture *f = *state;
    read_uri(f, "ui://hello-world/app.html");
    json_t *c0 = json_array_get(json_object_get(json_object_get(last(f), "result"), "contents"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "mimeType")),
                        "text/html;profile=mcp-app");
    read_uri(f, "ui://hello-world/other.html");
    assert_error(f, MCP_ERROR_RESOURCE_NOT_FOUND,
                 "Resource not found: ui://hello-world/other.html");
}

#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_tools_list_is_the_peers_seven_for_a_client_without_elicitation, setup_plain),
        T(test_tools_list_adds_elicit_inputs_for_an_elicitation_client, setup_capable),
        T(test_elicit_inputs_is_not_callable_without_elicitation, setup_plain),
        T(test_tools_list_adds_the_app_tool_last_for_an_apps_host, setup_apps),
        T(test_app_tool_is_hidden_and_uncallable_without_the_html_profile, setup_apps_without_html),
        T(test_app_tool_result_is_text_with_the_ui_resource, setup_apps),
        T(test_app_resource_is_the_html_view_with_the_app_profile, setup_apps),
        T(test_app_resource_reads_without_the_extension, setup_plain),
        T(test_resources_list_walks_ten_pages_of_ten, setup_apps),
        T(test_initialize_names_the_feature_reference_server, setup_plain),
        T(test_echo_prefixes_the_message, setup_plain),
        T(test_add_prints_numbers_as_javascript, setup_plain),
        T(test_missing_arguments_fail_validation_even_for_get_tiny_image, setup_plain),
        T(test_wrong_argument_types_list_every_issue_like_zod, setup_plain),
        T(test_get_tiny_image_returns_the_peers_three_items, setup_plain),
        cmocka_unit_test(test_tiny_image_is_the_peers_exact_png),
        T(test_annotated_message_annotates_each_type, setup_plain),
        T(test_annotated_message_appends_an_annotated_image, setup_plain),
        T(test_annotated_message_rejects_an_unknown_type, setup_plain),
        T(test_get_resource_reference_embeds_the_full_resource, setup_plain),
        T(test_get_resource_reference_rejects_ids_out_of_range, setup_plain),
        T(test_get_resource_reference_rejects_a_fractional_id_clearly, setup_plain),
        T(test_long_running_operation_reports_each_step_then_completes, setup_plain),
        T(test_long_running_operation_without_token_sends_no_progress, setup_plain),
        T(test_long_running_operation_steps_zero_answers_at_once, setup_plain),
        T(test_long_running_operation_fractional_steps_run_ceil_steps, setup_plain),
        T(test_sample_llm_sends_the_peers_request_and_prints_the_reply, setup_plain),
        T(test_sample_llm_passes_max_tokens_and_takes_array_content, setup_capable),
        T(test_sample_llm_non_text_content_prints_undefined, setup_capable),
        T(test_sample_llm_keeps_the_clients_error_code, setup_capable),
        T(test_sample_llm_unanswered_times_out, setup_capable),
        T(test_sample_llm_rejects_a_malformed_reply, setup_capable),
        T(test_elicit_inputs_requests_the_form_and_prints_the_reply_pretty, setup_capable),
        T(test_elicit_inputs_decline_prints_the_action_only, setup_capable),
        T(test_elicit_inputs_waits_ten_minutes_not_the_default, setup_capable),
        T(test_resources_list_walks_ten_pages_of_ten, setup_plain),
        T(test_resources_read_returns_text_for_odd_and_blob_for_even, setup_plain),
        T(test_resources_read_parses_the_id_like_parse_int, setup_plain),
        T(test_resources_read_out_of_range_is_the_peers_unknown_resource, setup_plain),
        T(test_resource_templates_are_the_peers, setup_plain),
        T(test_subscribe_asks_a_sampling_client_then_answers_empty, setup_capable),
        T(test_subscribe_without_sampling_answers_at_once, setup_plain),
        T(test_unsubscribe_answers_at_once_even_for_a_sampling_client, setup_capable),
        T(test_prompts_list_is_the_peers, setup_plain),
        T(test_simple_prompt_is_one_user_message, setup_plain),
        T(test_complex_prompt_renders_missing_arguments_as_undefined, setup_plain),
        T(test_resource_prompt_embeds_the_resource, setup_plain),
        T(test_resource_prompt_rejects_a_bad_id_with_the_peers_text, setup_plain),
        T(test_prompt_arguments_must_be_strings, setup_plain),
        T(test_completion_of_prompt_arguments_filters_by_prefix, setup_plain),
        T(test_completion_of_an_unknown_argument_is_bare_empty, setup_plain),
        T(test_completion_of_the_resource_template_completes_ids, setup_plain),
        T(test_both_packs_complete_their_own_refs, setup_both),
        T(test_both_packs_serve_their_own_tools_and_resources, setup_both),
        cmocka_unit_test(test_clock_text_is_en_us_twelve_hour_time),
        cmocka_unit_test(test_random_log_pick_is_uniform_over_the_eight_messages),
        T(test_timers_send_updates_logs_and_stderr, setup_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
