/*
 * Argument validation with zod's wording. The reference server parses every tool's arguments with a
 * zod schema and a failure becomes a -32603 error whose message is ZodError.message, that is
 * JSON.stringify(issues, null, 2). Key order inside each issue follows zod v3's makeIssue
 * (issue data first, then path and message; checks that carry a message slot keep it before
 * path), so the texts read like the reference server's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/features/reference_internal.h"

const char *ref_zod_type_name(const json_t *v)
{
    if (!v)
        return "undefined";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static const char *type_name(enum ref_arg_type type)
{
    switch (type) {
    case REF_ARG_STRING:
        return "string";
    case REF_ARG_NUMBER:
        return "number";
    case REF_ARG_BOOLEAN:
        return "boolean";
    default:
        return "object";
    }
}

static bool type_matches(const json_t *v, enum ref_arg_type type)
{
    switch (type) {
    case REF_ARG_STRING:
        return json_is_string(v);
    case REF_ARG_NUMBER:
        return json_is_number(v);
    case REF_ARG_BOOLEAN:
        return json_is_boolean(v);
    default:
        return json_is_object(v);
    }
}

/* An issue's path: [] for the arguments object itself, else [key]. */
static json_t *issue_path(const char *key)
{
    return key ? json_pack("[s]", key) : json_array();
}

/* invalid_type with zod's message: "Required" for a missing value. */
static json_t *invalid_type(const char *key, const char *expected, const json_t *value)
{
    const char *received = ref_zod_type_name(value);
    json_t *message = value ? json_sprintf("Expected %s, received %s", expected, received)
                            : json_string("Required");
    return json_pack("{s:s,s:s,s:s,s:o,s:o}", "code", "invalid_type", "expected", expected,
                     "received", received, "path", issue_path(key), "message", message);
}

void ref_zod_add(struct ref_zod *z, json_t *issue)
{
    if (issue)
        json_array_append_new(z->issues, issue);
}

bool ref_zod_begin(struct ref_zod *z, const json_t *args)
{
    z->args = args;
    z->issues = json_array();
    if (json_is_object(args))
        return true;
    ref_zod_add(z, invalid_type(NULL, "object", args));
    return false;
}

const json_t *ref_zod_field(struct ref_zod *z, const char *key, enum ref_arg_type type,
                            bool required)
{
    const json_t *v = json_object_get(z->args, key);
    if (!v && !required)
        return NULL;
    if (v && type_matches(v, type))
        return v;
    ref_zod_add(z, invalid_type(key, type_name(type), v));
    return NULL;
}

/* "'a' | 'b' | 'c'", zod's joinValues for string options. */
static json_t *joined_options(const char *const *options, size_t count)
{
    char text[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < count && len < sizeof text; i++)
        len +=
            (size_t)snprintf(text + len, sizeof text - len, "%s'%s'", i ? " | " : "", options[i]);
    return json_string(text);
}

int ref_zod_enum(struct ref_zod *z, const char *key, const char *const *options, size_t count)
{
    const json_t *v = json_object_get(z->args, key);
    json_t *expected = joined_options(options, count);
    if (!json_is_string(v)) {
        /* ZodEnum reports a non-string with the joined options as "expected". */
        json_t *message = v ? json_sprintf("Expected %s, received %s", json_string_value(expected),
                                           ref_zod_type_name(v))
                            : json_string("Required");
        ref_zod_add(z, json_pack("{s:o,s:s,s:s,s:o,s:o}", "expected", expected, "received",
                                 ref_zod_type_name(v), "code", "invalid_type", "path",
                                 issue_path(key), "message", message));
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        if (strcmp(json_string_value(v), options[i]) == 0) {
            json_decref(expected);
            return (int)i;
        }
    json_t *values = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(values, json_string(options[i]));
    json_t *message = json_sprintf("Invalid enum value. Expected %s, received '%s'",
                                   json_string_value(expected), json_string_value(v));
    json_decref(expected);
    ref_zod_add(z, json_pack("{s:O,s:s,s:o,s:o,s:o}", "received", v, "code", "invalid_enum_value",
                             "options", values, "path", issue_path(key), "message", message));
    return -1;
}

/* too_small / too_big for an inclusive number bound; message before path, as zod orders it. */
static json_t *bound_issue(const char *key, bool small, double bound)
{
    char num[32];
    ref_js_number(bound, num, sizeof num);
    json_t *message =
        json_sprintf("Number must be %s than or equal to %s", small ? "greater" : "less", num);
    return json_pack("{s:s,s:f,s:s,s:b,s:b,s:o,s:o}", "code", small ? "too_small" : "too_big",
                     small ? "minimum" : "maximum", bound, "type", "number", "inclusive", 1,
                     "exact", 0, "message", message, "path", issue_path(key));
}

bool ref_zod_range(struct ref_zod *z, const char *key, double v, double min, double max)
{
    bool ok = true;
    if (v < min) {
        ref_zod_add(z, bound_issue(key, true, min));
        ok = false;
    }
    if (v > max) {
        ref_zod_add(z, bound_issue(key, false, max));
        ok = false;
    }
    return ok;
}

bool ref_zod_finish(struct ref_zod *z, struct mcp_call *c)
{
    json_t *issues = z->issues;
    z->issues = NULL;
    if (json_array_size(issues) == 0) {
        json_decref(issues);
        return false;
    }
    char *text = ref_json_pretty(issues);
    json_decref(issues);
    /* The reference server's -32603 for the revisions it speaks; from 2026-07-28 on, invalid
     * arguments are the tool's own error (isError), which the model can read and correct. */
    const char *v = mcp_call_protocol_version(c);
    if (v && strcmp(v, MCP_STATELESS_PROTOCOL_VERSION) == 0)
        mcp_call_tool_error(c, text ? text : "Invalid arguments");
    else
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, text ? text : "Invalid arguments", NULL);
    free(text);
    return true;
}
