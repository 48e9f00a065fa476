/*
 * conformance_mrtr: the input-required-result-* fixtures (conformance_mrtr.h). Each handler
 * asks, then answers from its callbacks; a handler asking several things keeps what has arrived
 * in its call state and answers once everything is in. Round trips, keys, requestState and
 * capability checks are the call machinery's (call_mrtr.c), not theirs.
 */
#include "mcp/features/conformance_mrtr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "mcp/jsonrpc.h"

#define NAME_SCHEMA                                                                                \
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},\"required\":[\"name\"]" \
    "}"
#define CONFIRM_SCHEMA                                                                             \
    "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]}"
#define COLOR_SCHEMA                                                                               \
    "{\"type\":\"object\",\"properties\":{\"color\":{\"type\":\"string\"}},"                       \
    "\"required\":[\"color\"]}"
#define CONTEXT_SCHEMA                                                                             \
    "{\"type\":\"object\",\"properties\":{\"context\":{\"type\":\"string\"}},"                     \
    "\"required\":[\"context\"]}"

bool conf_mrtr_offered(const struct mcp_call *c)
{
    const char *v = mcp_call_protocol_version(c);
    return v && strcmp(v, "2026-07-28") >= 0;
}

static void answer_text(struct mcp_call *c, const char *text)
{
    mcp_call_result(c, json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text));
}

/* A reply that is an error (older sessions: the client refused or timed out). */
static bool reply_failed(struct mcp_call *c, const json_t *error)
{
    if (!error)
        return false;
    const char *msg = json_string_value(json_object_get(error, "message"));
    char text[300];
    snprintf(text, sizeof text, "Request failed: %s", msg ? msg : "unknown error");
    mcp_call_tool_error(c, text);
    return true;
}

static json_t *elicit_params(const char *message, const char *schema)
{
    return json_pack("{s:s,s:o}", "message", message, "requestedSchema", json_literal(schema));
}

static json_t *sampling_params(const char *question, int max_tokens)
{
    return json_pack("{s:[{s:s,s:{s:s,s:s}}],s:i}", "messages", "role", "user", "content", "type",
                     "text", "text", question, "maxTokens", max_tokens);
}

static void ask(struct mcp_call *c, const char *key, const char *method, json_t *params,
                mcp_reply_fn fn)
{
    if (!params || mcp_call_request_as(c, key, method, params, 0, fn, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: cannot ask the client", NULL);
}

/* The accepted form's field, or "" (declined, cancelled, missing). */
static const char *form_field(const json_t *result, const char *field)
{
    const char *v = json_string_value(json_object_get(json_object_get(result, "content"), field));
    return v ? v : "";
}

static const char *sampled_text(const json_t *result)
{
    const json_t *content = json_object_get(result, "content");
    if (json_is_array(content))
        content = json_array_get(content, 0);
    const char *t = json_string_value(json_object_get(content, "text"));
    return t ? t : "";
}

/* "uri, uri, ..." of a ListRootsResult into out. */
static void roots_text(const json_t *result, char *out, size_t size)
{
    const json_t *roots = json_object_get(result, "roots");
    size_t i, used = 0;
    json_t *root;
    out[0] = '\0';
    json_array_foreach(roots, i, root)
    {
        const char *uri = json_string_value(json_object_get(root, "uri"));
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", uri ? uri : "?");
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

/* ---- one question each ---- */

static void elicitation_reply(struct mcp_call *c, const json_t *result, const json_t *error,
                              void *arg)
{
    if (reply_failed(c, error))
        return;
    char text[300];
    snprintf(text, sizeof text, "Hello, %s!", form_field(result, "name"));
    answer_text(c, text);
}

void conf_mrtr_elicitation(struct mcp_call *c, const json_t *args)
{
    ask(c, "user_name", "elicitation/create", elicit_params("What is your name?", NAME_SCHEMA),
        elicitation_reply);
}

static void sampling_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    if (reply_failed(c, error))
        return;
    char text[1024];
    snprintf(text, sizeof text, "Sampling response: %s", sampled_text(result));
    answer_text(c, text);
}

void conf_mrtr_sampling(struct mcp_call *c, const json_t *args)
{
    ask(c, "capital_question", "sampling/createMessage",
        sampling_params("What is the capital of France?", 100), sampling_reply);
}

static void roots_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    if (reply_failed(c, error))
        return;
    char roots[512], text[600];
    roots_text(result, roots, sizeof roots);
    snprintf(text, sizeof text, "Client roots: %s", roots);
    answer_text(c, text);
}

void conf_mrtr_list_roots(struct mcp_call *c, const json_t *args)
{
    ask(c, "client_roots", "roots/list", json_object(), roots_reply);
}

/* Reached on a retry only once the call machinery verified the echoed requestState (a
 * tampered one ends the call before this runs). */
static void confirm_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    if (reply_failed(c, error))
        return;
    bool echoed = json_is_string(json_object_get(mcp_call_params(c), "requestState"));
    bool ok = json_is_true(json_object_get(json_object_get(result, "content"), "ok"));
    char text[100];
    snprintf(text, sizeof text, "%s: confirmed=%s", echoed ? "state-ok" : "no-state",
             ok ? "true" : "false");
    answer_text(c, text);
}

void conf_mrtr_request_state(struct mcp_call *c, const json_t *args)
{
    ask(c, "confirm", "elicitation/create", elicit_params("Please confirm", CONFIRM_SCHEMA),
        confirm_reply);
}

/* ---- several questions in one round ---- */

struct gathered {
    unsigned asked, answered;
    char name[128], sampled[256], roots[256];
};

static void gathered_done(struct mcp_call *c, struct gathered *g)
{
    if (++g->answered < g->asked)
        return;
    char text[800];
    snprintf(text, sizeof text, "name=%s; sampled=%s; roots=%s", g->name, g->sampled, g->roots);
    answer_text(c, text);
}

static void gather_name(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    struct gathered *g = mcp_call_state(c);
    if (reply_failed(c, error))
        return;
    snprintf(g->name, sizeof g->name, "%s", form_field(result, "name"));
    gathered_done(c, g);
}

static void gather_sample(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    struct gathered *g = mcp_call_state(c);
    if (reply_failed(c, error))
        return;
    snprintf(g->sampled, sizeof g->sampled, "%s", sampled_text(result));
    gathered_done(c, g);
}

static void gather_roots(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    struct gathered *g = mcp_call_state(c);
    if (reply_failed(c, error))
        return;
    roots_text(result, g->roots, sizeof g->roots);
    gathered_done(c, g);
}

static struct gathered *gathered_new(struct mcp_call *c)
{
    struct gathered *g = calloc(1, sizeof *g);
    if (!g)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    else
        mcp_call_set_state(c, g, free);
    return g;
}

void conf_mrtr_multiple_inputs(struct mcp_call *c, const json_t *args)
{
    struct gathered *g = gathered_new(c);
    if (!g)
        return;
    g->asked = 3;
    ask(c, "user_name", "elicitation/create", elicit_params("What is your name?", NAME_SCHEMA),
        gather_name);
    ask(c, "greeting", "sampling/createMessage", sampling_params("Generate a greeting", 50),
        gather_sample);
    ask(c, "client_roots", "roots/list", json_object(), gather_roots);
}

/* Only what the request's client capabilities allow: asking anything else would be refused
 * with -32021. */
void conf_mrtr_capabilities(struct mcp_call *c, const json_t *args)
{
    bool e = mcp_call_client_supports(c, "elicitation");
    bool s = mcp_call_client_supports(c, "sampling");
    bool r = mcp_call_client_supports(c, "roots");
    if (!e && !s && !r) {
        answer_text(c, "The client declared no capability to ask with");
        return;
    }
    struct gathered *g = gathered_new(c);
    if (!g)
        return;
    g->asked = (unsigned)e + (unsigned)s + (unsigned)r;
    if (e)
        ask(c, "user_name", "elicitation/create", elicit_params("What is your name?", NAME_SCHEMA),
            gather_name);
    if (s)
        ask(c, "capital_question", "sampling/createMessage",
            sampling_params("What is the capital of France?", 100), gather_sample);
    if (r)
        ask(c, "client_roots", "roots/list", json_object(), gather_roots);
}

/* ---- one round after the other ---- */

static void step2_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    struct gathered *g = mcp_call_state(c);
    if (reply_failed(c, error))
        return;
    char text[300];
    snprintf(text, sizeof text, "name=%s, color=%s", g->name, form_field(result, "color"));
    answer_text(c, text);
}

static void step1_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    struct gathered *g = mcp_call_state(c);
    if (reply_failed(c, error))
        return;
    snprintf(g->name, sizeof g->name, "%s", form_field(result, "name"));
    ask(c, "step2", "elicitation/create",
        elicit_params("Step 2: What is your favorite color?", COLOR_SCHEMA), step2_reply);
}

void conf_mrtr_multi_round(struct mcp_call *c, const json_t *args)
{
    const struct gathered *g = gathered_new(c);
    if (!g)
        return;
    ask(c, "step1", "elicitation/create", elicit_params("Step 1: What is your name?", NAME_SCHEMA),
        step1_reply);
}

/* ---- a prompt ---- */

static void prompt_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    if (error) {
        const char *msg = json_string_value(json_object_get(error, "message"));
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, msg ? msg : "Request failed", NULL);
        return;
    }
    mcp_call_result(c, json_pack("{s:s,s:[{s:s,s:{s:s,s:o}}]}", "description",
                                 "A prompt built from the user's context", "messages", "role",
                                 "user", "content", "type", "text", "text",
                                 json_sprintf("Context: %s", form_field(result, "context"))));
}

void conf_mrtr_prompt(struct mcp_call *c, const json_t *args)
{
    ask(c, "user_context", "elicitation/create",
        elicit_params("What context should the prompt use?", CONTEXT_SCHEMA), prompt_reply);
}
