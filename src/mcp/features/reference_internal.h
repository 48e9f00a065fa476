/*
 * reference_internal: what the files of the "reference" pack share, and nothing else includes.
 * The pack re-implements the MCP feature reference server (docs/reference-server.md)
 * byte for byte: clients written against that server look things up by exact name and
 * compare exact texts. Besides the pack's tables it holds the helpers that reproduce JavaScript
 * behaviour the reference server's texts depend on: Number-to-string, parseInt, JSON.stringify(v,
 * null, 2) and zod's validation issue lists. It knows nothing of transports or the store.
 */
#ifndef MCPD_MCP_FEATURES_REFERENCE_INTERNAL_H
#define MCPD_MCP_FEATURES_REFERENCE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mcp/feature.h"
#include "mcp/jsonrpc.h" /* the error codes */

/* The reference server turns every handler exception, validation failures included, into
 * JSONRPC_INTERNAL_ERROR (-32603); the pack does the same. */

#define REF_RESOURCE_PREFIX "test://static/resource/"
#define REF_RESOURCE_COUNT  100

/* The 4033-byte PNG the reference server returns, as unbroken base64 (5380 characters). */
extern const char REF_TINY_IMAGE[];

/* ---- JavaScript text conventions (reference_js.c) ---- */

/* String(d) as JavaScript prints it (NaN, Infinity included) into out (>= 32 bytes). */
const char *ref_js_number(double d, char *out, size_t out_size);
/* parseInt(s, 10): leading whitespace, an optional sign, then digits. False for NaN. Values
 * beyond +-1e15 saturate, which is far outside every range the pack compares against. */
bool ref_js_parse_int(const char *s, long long *out);
/* JSON.stringify(v, null, 2) as a new string the caller frees; NULL on allocation failure. */
char *ref_json_pretty(const json_t *v);
/* Answer the call with result (stolen), or -32603 if building it failed (result NULL). */
void ref_answer(struct mcp_call *c, json_t *result);
/* Answer a tool call with {"content":[{"type":"text","text":text}]}. */
void ref_answer_text(struct mcp_call *c, const char *text);
/* Complete the call with the error the reference server's SDK gives for a failed server->client
 * request: the client's (or the timeout's) code, message "MCP error {code}: {message}". */
void ref_answer_request_error(struct mcp_call *c, const json_t *error);

/* ---- zod-like argument validation (reference_zod.c) ---- */

enum ref_arg_type {
    REF_ARG_STRING,
    REF_ARG_NUMBER,
    REF_ARG_BOOLEAN,
    REF_ARG_OBJECT,
};

/* Collects zod issues for one parse; all fields are checked so that every issue is reported,
 * in schema order, as zod does. */
struct ref_zod {
    const json_t *args; /* borrowed; NULL when the request had no arguments */
    json_t *issues;     /* array of issue objects */
};

/* Start a parse of args. Returns false (and records the object-level issue) when args is
 * missing: zod then stops, so the caller should go straight to ref_zod_finish. */
bool ref_zod_begin(struct ref_zod *z, const json_t *args);
/* args[key] checked against type. Returns the value (borrowed) or NULL when it is absent
 * (an issue "Required" if required) or mistyped (an issue). */
const json_t *ref_zod_field(struct ref_zod *z, const char *key, enum ref_arg_type type,
                            bool required);
/* args[key], a required string from options (count entries). Returns the index or -1. */
int ref_zod_enum(struct ref_zod *z, const char *key, const char *const *options, size_t count);
/* z.number().min(min).max(max) on a value already read as a number; false if out of range. */
bool ref_zod_range(struct ref_zod *z, const char *key, double v, double min, double max);
/* zod's ZodParsedType name of a JSON value ("undefined" for NULL). */
const char *ref_zod_type_name(const json_t *v);
/* Record an issue (stolen) whose path the caller built. */
void ref_zod_add(struct ref_zod *z, json_t *issue);
/* If issues were recorded, answer the call with -32603 and the issue list as zod prints it
 * (JSON.stringify(issues, null, 2)) and return true. Frees the issue list either way. */
bool ref_zod_finish(struct ref_zod *z, struct mcp_call *c);

/* ---- resources (reference_resources.c) ---- */

/* The full resource object n (1..100) of the reference server, with text or blob. New reference. */
json_t *ref_resource_object(long long n);
size_t ref_resource_count(void);
json_t *ref_resource_entry(size_t i);
bool ref_resource_read(struct mcp_call *c, const char *uri);
bool ref_resource_subscribe(struct mcp_call *c, const char *uri, bool subscribe);
extern const char REF_RESOURCE_TEMPLATES[];

/* ---- tools (reference_tools.c, reference_tools_client.c) ---- */

/* Sizes are declared so the pack table can use sizeof; a definition with another number of
 * entries does not compile. */
#define REF_TOOL_COUNT 9
extern const struct mcp_tool REF_TOOLS[REF_TOOL_COUNT];

void ref_tool_long_running(struct mcp_call *c, const json_t *args);
void ref_tool_sample_llm(struct mcp_call *c, const json_t *args);
void ref_tool_elicit_inputs(struct mcp_call *c, const json_t *args);
/* sampling/createMessage params exactly as the reference server's requestSampling builds them. */
json_t *ref_sampling_params(const char *uri, const char *context, double max_tokens);

/* ---- MCP Apps (reference_apps.c) ---- */

#define REF_APP_URI  "ui://hello-world/app.html"
#define REF_APP_MIME "text/html;profile=mcp-app"
/* The tool's _meta: the extension's ui.resourceUri, and the flat "ui/resourceUri" key of its
 * earlier drafts, which the reference server sends and hosts built on them still look for. */
#define REF_APP_META                                                                               \
    "{\"ui\":{\"resourceUri\":\"" REF_APP_URI "\"},\"ui/resourceUri\":\"" REF_APP_URI "\"}"

/* True if the client declared the MCP Apps extension with REF_APP_MIME among its mimeTypes. */
bool ref_apps_offered(const struct mcp_call *c);
void ref_tool_apps_hello_world(struct mcp_call *c, const json_t *args);
/* Answers a read of REF_APP_URI and returns true; false for any other URI. */
bool ref_apps_resource_read(struct mcp_call *c, const char *uri);
/* The view's HTML document (for tests). */
const char *ref_apps_html(void);

/* ---- prompts and completions (reference_prompts.c) ---- */

#define REF_PROMPT_COUNT 3
extern const struct mcp_prompt REF_PROMPTS[REF_PROMPT_COUNT];
bool ref_complete(struct mcp_call *c, const json_t *ref, const json_t *argument,
                  const json_t *context);

/* ---- timers (reference_timers.c) ---- */

#define REF_TIMER_COUNT 3
extern const struct mcp_pack_timer REF_TIMERS[REF_TIMER_COUNT];

struct ref_log_message {
    const char *level;
    const char *data;
};
#define REF_LOG_MESSAGE_COUNT 8
extern const struct ref_log_message REF_LOG_MESSAGES[REF_LOG_MESSAGE_COUNT];

/* The random log's pick from one random byte: uniform, since 256 is a multiple of 8. */
const struct ref_log_message *ref_log_pick(uint8_t random_byte);
/* t as the reference server's toLocaleTimeString([], 2-digit h/m/s) in en-US: "03:29:42 AM", local
 * time, ASCII space. out needs 12 bytes. Returns out. */
const char *ref_clock_text(time_t t, char *out, size_t out_size);

#endif
