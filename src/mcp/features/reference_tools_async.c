/*
 * The reference tools that wait: longRunningOperation (a timer per step, progress after each),
 * sampleLLM and elicitInputs (a request to the client, answered when its reply comes back).
 * Their state lives in the call (mcp_call_set_state) or in the timer argument, so nothing
 * outlives a cancelled call.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "mcp/features/reference_internal.h"

/* Node clamps setTimeout delays outside [1, 2^31-1] ms to 1 ms; the reference server sleeps with
 * it. */
#define NODE_TIMEOUT_MAX 2147483647.0
/* The reference server waits 10 minutes for an elicitation answer. */
#define ELICIT_TIMEOUT_MS (10 * 60 * 1000)

/* ---- longRunningOperation ---- */

struct long_running {
    double duration; /* seconds, as given */
    double steps;    /* as given; may be fractional or <= 0 */
    double step;     /* the loop's i, 1-based */
    uint64_t delay_ms;
};

static void long_running_done(struct mcp_call *c, const struct long_running *lr)
{
    char d[32], s[32];
    ref_answer(c, json_pack("{s:[{s:s,s:o}]}", "content", "type", "text", "text",
                            json_sprintf("Long running operation completed. Duration: %s "
                                         "seconds, Steps: %s.",
                                         ref_js_number(lr->duration, d, sizeof d),
                                         ref_js_number(lr->steps, s, sizeof s))));
}

static void long_running_step(struct mcp_call *c, void *arg);

/* Answer once the last step is done, else sleep until the next one. steps may be fractional or
 * <= 0, so the test is the loop's own (step starts at 1), not a count. */
static void long_running_next(struct mcp_call *c, const struct long_running *lr)
{
    if (!(lr->step < lr->steps + 1)) {
        long_running_done(c, lr);
        return;
    }
    if (mcp_call_after(c, lr->delay_ms, long_running_step, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: cannot schedule timer", NULL);
}

static void long_running_step(struct mcp_call *c, void *arg)
{
    struct long_running *lr = mcp_call_state(c);
    /* The reference server sends progress after each sleep, only when the request carried a token;
     * mcp_call_progress does nothing without one. */
    mcp_call_progress(c, lr->step, lr->steps, NULL);
    lr->step += 1;
    long_running_next(c, lr);
}

/* The reference server accepts any duration and steps; a call that would outlast
 * MAX_CALL_DURATION_MS, or send more than MAX_TOOL_STEPS progress notifications (each one logged
 * for replay), is refused up front rather than ended half-way (docs/reference-server.md). */
static bool long_running_in_bounds(struct mcp_call *c, const json_t *duration, const json_t *steps)
{
    double d = duration ? json_number_value(duration) : 10;
    double n = steps ? json_number_value(steps) : 5;
    char msg[200];
    if (!(d * 1000 <= (double)mcp_call_max_duration_ms(c))) {
        snprintf(msg, sizeof msg,
                 "Invalid params: duration must be at most %.0f seconds (MAX_CALL_DURATION_MS)",
                 floor((double)mcp_call_max_duration_ms(c) / 1000));
    } else if (!(n <= (double)mcp_call_max_tool_steps(c))) {
        snprintf(msg, sizeof msg, "Invalid params: steps must be at most %u (MAX_TOOL_STEPS)",
                 mcp_call_max_tool_steps(c));
    } else {
        return true;
    }
    mcp_call_error(c, JSONRPC_INVALID_PARAMS, msg, NULL);
    return false;
}

void ref_tool_long_running(struct mcp_call *c, const json_t *args)
{
    struct ref_zod z;
    const json_t *duration = NULL, *steps = NULL;
    if (ref_zod_begin(&z, args)) {
        duration = ref_zod_field(&z, "duration", REF_ARG_NUMBER, false);
        steps = ref_zod_field(&z, "steps", REF_ARG_NUMBER, false);
    }
    if (ref_zod_finish(&z, c) || !long_running_in_bounds(c, duration, steps))
        return;
    struct long_running *lr = calloc(1, sizeof *lr);
    if (!lr) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    lr->duration = duration ? json_number_value(duration) : 10;
    lr->steps = steps ? json_number_value(steps) : 5;
    lr->step = 1;
    double ms = lr->duration / lr->steps * 1000;
    lr->delay_ms = ms >= 1 && ms <= NODE_TIMEOUT_MAX ? (uint64_t)ceil(ms) : 1;
    mcp_call_set_state(c, lr, free);
    long_running_next(c, lr);
}

/* ---- sampleLLM ---- */

json_t *ref_sampling_params(const char *uri, const char *context, double max_tokens)
{
    return json_pack("{s:[{s:s,s:{s:s,s:o}}],s:s,s:f,s:f,s:s}", "messages", "role", "user",
                     "content", "type", "text", "text",
                     json_sprintf("Resource %s context: %s", uri, context), "systemPrompt",
                     "You are a helpful test server.", "maxTokens", max_tokens, "temperature", 0.7,
                     "includeContext", "thisServer");
}

/* The text of a CreateMessageResult's content: the object's text (the snapshot prints
 * "undefined" for image or audio), or for the array form (HEAD) the first item's text, else
 * that item as JSON. Caller frees. */
static char *sampled_text(const json_t *content)
{
    const json_t *item = json_is_array(content) ? json_array_get(content, 0) : content;
    const char *text = json_string_value(json_object_get(item, "text"));
    if (text)
        return strdup(text);
    if (json_is_array(content) && item) {
        char *json = json_serialize(item, NULL);
        if (json)
            return json;
    }
    return strdup("undefined");
}

static void sample_llm_reply(struct mcp_call *c, const json_t *result, const json_t *error,
                             void *arg)
{
    if (error) {
        ref_answer_request_error(c, error);
        return;
    }
    /* The reference server parses the reply with CreateMessageResultSchema before using it. */
    struct ref_zod z;
    if (ref_zod_begin(&z, result)) {
        ref_zod_field(&z, "model", REF_ARG_STRING, true);
        ref_zod_field(&z, "role", REF_ARG_STRING, true);
        /* HEAD accepts an array of content blocks as well as a single block. */
        if (!json_is_array(json_object_get(result, "content")))
            ref_zod_field(&z, "content", REF_ARG_OBJECT, true);
    }
    if (ref_zod_finish(&z, c))
        return;
    char *text = sampled_text(json_object_get(result, "content"));
    ref_answer(c, text ? json_pack("{s:[{s:s,s:o}]}", "content", "type", "text", "text",
                                   json_sprintf("LLM sampling result: %s", text))
                       : NULL);
    free(text);
}

void ref_tool_sample_llm(struct mcp_call *c, const json_t *args)
{
    struct ref_zod z;
    const json_t *prompt = NULL, *max_tokens = NULL;
    if (ref_zod_begin(&z, args)) {
        prompt = ref_zod_field(&z, "prompt", REF_ARG_STRING, true);
        max_tokens = ref_zod_field(&z, "maxTokens", REF_ARG_NUMBER, false);
    }
    if (ref_zod_finish(&z, c))
        return;
    /* No capability check: the reference server asks every client. */
    json_t *params = ref_sampling_params("sampleLLM", json_string_value(prompt),
                                         max_tokens ? json_number_value(max_tokens) : 100);
    if (!params ||
        mcp_call_request(c, "sampling/createMessage", params, 0, sample_llm_reply, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: cannot send sampling request",
                       NULL);
}

/* ---- elicitInputs ---- */

static const char ELICIT_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"name\":{\"title\":\"Full Name\",\"type\":\"string\","
    "\"description\":\"Your full, legal name\"},"
    "\"check\":{\"title\":\"Agree to terms\",\"type\":\"boolean\","
    "\"description\":\"A boolean check\"},"
    "\"color\":{\"title\":\"Favorite Color\",\"type\":\"string\","
    "\"description\":\"Favorite color (open text)\",\"default\":\"blue\"},"
    "\"email\":{\"title\":\"Email Address\",\"type\":\"string\",\"format\":\"email\","
    "\"description\":\"Your email address (will be verified, and never shared with anyone "
    "else)\"},"
    "\"homepage\":{\"type\":\"string\",\"format\":\"uri\","
    "\"description\":\"Homepage / personal site\"},"
    "\"birthdate\":{\"title\":\"Birthdate\",\"type\":\"string\",\"format\":\"date\","
    "\"description\":\"Your date of birth (will never be shared with anyone else)\"},"
    "\"integer\":{\"title\":\"Favorite Integer\",\"type\":\"integer\","
    "\"description\":\"Your favorite integer (do not give us your phone number, pin, or other "
    "sensitive info)\",\"minimum\":1,\"maximum\":100,\"default\":42},"
    "\"number\":{\"title\":\"Favorite Number\",\"type\":\"number\","
    "\"description\":\"Favorite number (there are no wrong answers)\",\"minimum\":0,"
    "\"maximum\":1000,\"default\":3.14},"
    "\"petType\":{\"title\":\"Pet type\",\"type\":\"string\","
    "\"enum\":[\"cats\",\"dogs\",\"birds\",\"fish\",\"reptiles\"],"
    "\"enumNames\":[\"Cats\",\"Dogs\",\"Birds\",\"Fish\",\"Reptiles\"],\"default\":\"dogs\","
    "\"description\":\"Your favorite pet type\"}},"
    "\"required\":[\"name\"]}";

static const char *const ELICIT_ACTIONS[] = {"accept", "decline", "cancel"};

/* The reply as the SDK's ElicitResultSchema parse returns it: the schema's keys first (_meta,
 * action, content, when present), then the other keys the client sent (passthrough). */
static json_t *elicit_result_view(const json_t *result)
{
    static const char *const known[] = {"_meta", "action", "content"};
    json_t *view = json_object();
    for (size_t i = 0; view && i < sizeof known / sizeof known[0]; i++) {
        json_t *v = json_object_get(result, known[i]);
        if (v)
            json_object_set(view, known[i], v);
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)result, key, value)
    {
        if (view && !json_object_get(view, key))
            json_object_set(view, key, value);
    }
    return view;
}

static void elicit_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    if (error) {
        ref_answer_request_error(c, error);
        return;
    }
    struct ref_zod z;
    if (ref_zod_begin(&z, result))
        ref_zod_enum(&z, "action", ELICIT_ACTIONS, 3);
    if (ref_zod_finish(&z, c))
        return;
    json_t *view = elicit_result_view(result);
    char *pretty = view ? ref_json_pretty(view) : NULL;
    json_decref(view);
    ref_answer(c, pretty ? json_pack("{s:[{s:s,s:o}]}", "content", "type", "text", "text",
                                     json_sprintf("Elicitation result: %s", pretty))
                         : NULL);
    free(pretty);
}

void ref_tool_elicit_inputs(struct mcp_call *c, const json_t *args)
{
    /* The dispatcher offers this tool only to elicitation clients; the SDK's own check
     * (assertCapabilityForMethod) stays as a guard. */
    if (!mcp_call_client_supports(c, "elicitation")) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR,
                       "Client does not support elicitation (required for elicitation/create)",
                       NULL);
        return;
    }
    json_t *params = json_pack("{s:s,s:o}", "message",
                               "Please provide inputs for the following fields:", "requestedSchema",
                               json_literal(ELICIT_SCHEMA));
    if (!params || mcp_call_request(c, "elicitation/create", params, ELICIT_TIMEOUT_MS,
                                    elicit_reply, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: cannot send elicitation request",
                       NULL);
}
