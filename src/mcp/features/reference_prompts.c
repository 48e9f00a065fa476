/*
 * The reference pack's three prompts and its argument completions. The
 * reference server's completion handler ignores the prompt name; mcpd claims only refs that name
 * one of these prompts or the static-resource template, so another enabled pack (conformance) still
 * completes its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/features/reference_internal.h"
#include "lib/utf8.h"

/* The reference server's GetPromptRequestSchema types arguments as a map of strings; anything else
 * fails validation (-32603) before a prompt runs. */
static bool check_string_arguments(struct mcp_call *c, const json_t *args)
{
    struct ref_zod z = {.args = args, .issues = json_array()};
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)args, key, value)
    {
        if (json_is_string(value))
            continue;
        const char *type = ref_zod_type_name(value);
        json_t *issue = json_pack("{s:s,s:s,s:s,s:[s,s,s],s:o}", "code", "invalid_type", "expected",
                                  "string", "received", type, "path", "params", "arguments", key,
                                  "message", json_sprintf("Expected string, received %s", type));
        ref_zod_add(&z, issue);
    }
    return !ref_zod_finish(&z, c);
}

/* String(args?.name): the value, or "undefined" when absent. */
static const char *arg_text(const json_t *args, const char *name)
{
    const char *v = json_string_value(json_object_get(args, name));
    return v ? v : "undefined";
}

static json_t *message(const char *role, json_t *content)
{
    return json_pack("{s:s,s:o}", "role", role, "content", content);
}

static json_t *text_content(json_t *text)
{
    return json_pack("{s:s,s:o}", "type", "text", "text", text);
}

static void prompt_simple(struct mcp_call *c, const json_t *args)
{
    if (!check_string_arguments(c, args))
        return;
    ref_answer(c, json_pack("{s:[o]}", "messages",
                            message("user", text_content(json_string(
                                                "This is a simple prompt without arguments.")))));
}

static void prompt_complex(struct mcp_call *c, const json_t *args)
{
    if (!check_string_arguments(c, args))
        return;
    json_t *first = text_content(
        json_sprintf("This is a complex prompt with arguments: temperature=%s, style=%s",
                     arg_text(args, "temperature"), arg_text(args, "style")));
    json_t *second = text_content(json_string(
        "I understand. You've provided a complex prompt with temperature and style arguments. "
        "How would you like me to proceed?"));
    json_t *image = json_pack("{s:s,s:s,s:s}", "type", "image", "data", REF_TINY_IMAGE, "mimeType",
                              "image/png");
    ref_answer(c, json_pack("{s:[o,o,o]}", "messages", message("user", first),
                            message("assistant", second), message("user", image)));
}

static void prompt_resource(struct mcp_call *c, const json_t *args)
{
    if (!check_string_arguments(c, args))
        return;
    const char *raw = arg_text(args, "resourceId");
    long long n;
    if (!ref_js_parse_int(json_string_value(json_object_get(args, "resourceId")), &n) || n < 1 ||
        n > REF_RESOURCE_COUNT) {
        char msg[300], quoted[201];
        utf8_copy_prefix(quoted, sizeof quoted, raw);
        snprintf(msg, sizeof msg, "Invalid resourceId: %s. Must be a number between 1 and 100.",
                 quoted);
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, msg, NULL);
        return;
    }
    json_t *intro = text_content(json_sprintf(
        "This prompt includes Resource %lld. Please analyze the following resource:", n));
    json_t *resource =
        json_pack("{s:s,s:o}", "type", "resource", "resource", ref_resource_object(n));
    ref_answer(
        c, json_pack("{s:[o,o]}", "messages", message("user", intro), message("user", resource)));
}

const struct mcp_prompt REF_PROMPTS[] = {
    {"simple_prompt", NULL, "A prompt without arguments", NULL, prompt_simple},
    {"complex_prompt", NULL, "A prompt with arguments",
     "[{\"name\":\"temperature\",\"description\":\"Temperature setting\",\"required\":true},"
     "{\"name\":\"style\",\"description\":\"Output style\",\"required\":false}]",
     prompt_complex},
    {"resource_prompt", NULL, "A prompt that includes an embedded resource reference",
     "[{\"name\":\"resourceId\",\"description\":\"Resource ID to include (1-100)\","
     "\"required\":true}]",
     prompt_resource},
};

/* ---- completion/complete ---- */

struct completion_list {
    const char *argument;
    const char *values[5];
    size_t count;
};

static const struct completion_list COMPLETIONS[] = {
    {"style", {"casual", "formal", "technical", "friendly"}, 4},
    {"temperature", {"0", "0.5", "0.7", "1.0"}, 4},
    {"resourceId", {"1", "2", "3", "4", "5"}, 5},
};

static const struct completion_list *completion_list(const char *argument)
{
    for (size_t i = 0; i < sizeof COMPLETIONS / sizeof COMPLETIONS[0]; i++)
        if (strcmp(COMPLETIONS[i].argument, argument) == 0)
            return &COMPLETIONS[i];
    return NULL;
}

/* The values of list starting with prefix: {"values":[…],"hasMore":false,"total":N}. */
static json_t *matching(const struct completion_list *list, const char *prefix)
{
    json_t *values = json_array();
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < list->count; i++)
        if (strncmp(list->values[i], prefix, plen) == 0)
            json_array_append_new(values, json_string(list->values[i]));
    return json_pack("{s:{s:o,s:b,s:I}}", "completion", "values", values, "hasMore", 0, "total",
                     (json_int_t)json_array_size(values));
}

static json_t *no_values(void)
{
    return json_pack("{s:{s:[]}}", "completion", "values");
}

bool ref_complete(struct mcp_call *c, const json_t *ref, const json_t *argument,
                  const json_t *context)
{
    const char *type = json_string_value(json_object_get(ref, "type"));
    const char *name = json_string_value(json_object_get(argument, "name"));
    const char *value = json_string_value(json_object_get(argument, "value"));
    if (!type || !name || !value)
        return false;
    if (strcmp(type, "ref/resource") == 0) {
        const char *uri = json_string_value(json_object_get(ref, "uri"));
        if (!uri || strncmp(uri, REF_RESOURCE_PREFIX, strlen(REF_RESOURCE_PREFIX)) != 0)
            return false;
        /* The reference server completes resource ids whatever the argument is called, unless the
         * URI's last segment is empty. */
        const char *last = strrchr(uri, '/') + 1;
        ref_answer(c, *last ? matching(completion_list("resourceId"), value) : no_values());
        return true;
    }
    /* The reference server ignores the prompt name. The dispatcher asks the pack that
     * owns a named prompt first, so with several packs each keeps its own prompts' answers. */
    if (strcmp(type, "ref/prompt") != 0)
        return false;
    const struct completion_list *list = completion_list(name);
    ref_answer(c, list ? matching(list, value) : no_values());
    return true;
}
