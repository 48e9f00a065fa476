/*
 * conformance_tasks: the tasks-* scenarios' fixture tools (conformance_tasks.h). They are
 * ordinary handlers: whether a call runs as a task is the dispatcher's decision (tasks.h).
 */
#include "mcp/features/conformance_tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "mcp/jsonrpc.h"
#include "mcp/tasks.h"

bool conf_task_tools_offered(const struct mcp_call *c)
{
    const char *pv = mcp_call_protocol_version(c);
    return pv && strcmp(pv, "2026-07-28") >= 0;
}

static void text_result(struct mcp_call *c, const char *text)
{
    mcp_call_result(c, json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text));
}

void conf_tool_greet(struct mcp_call *c, const json_t *args)
{
    const char *name = json_get_string(args, "name");
    char text[300];
    snprintf(text, sizeof text, "Hello, %.256s!", name ? name : "World");
    text_result(c, text);
}

static void slow_compute_done(struct mcp_call *c, void *arg)
{
    (void)arg;
    const json_t *args = json_object_get(mcp_call_params(c), "arguments");
    const char *label = json_get_string(args, "label");
    char text[300];
    snprintf(text, sizeof text, "Computed %.256s", label ? label : "result");
    text_result(c, text);
}

void conf_tool_slow_compute(struct mcp_call *c, const json_t *args)
{
    const json_t *s = json_object_get(args, "seconds");
    double seconds = json_is_number(s) ? json_number_value(s) : 0;
    uint64_t max = mcp_call_max_duration_ms(c);
    if (seconds < 0 || seconds * 1000 > (double)max) {
        mcp_call_tool_error(c, "seconds must be between 0 and MAX_CALL_DURATION_MS");
        return;
    }
    if (seconds == 0) {
        slow_compute_done(c, NULL);
        return;
    }
    if (mcp_call_after(c, (uint64_t)(seconds * 1000), slow_compute_done, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
}

static void failing_job_done(struct mcp_call *c, void *arg)
{
    (void)arg;
    mcp_call_tool_error(c, "Job failed: the fixture always fails");
}

void conf_tool_failing_job(struct mcp_call *c, const json_t *args)
{
    if (mcp_call_after(c, 1000, failing_job_done, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
}

static void protocol_error_done(struct mcp_call *c, void *arg)
{
    (void)arg;
    mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: the job crashed", NULL);
}

void conf_tool_protocol_error_job(struct mcp_call *c, const json_t *args)
{
    if (mcp_call_after(c, 100, protocol_error_done, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
}

static json_t *confirm_params(const char *message)
{
    return json_pack("{s:s,s:s,s:{s:s,s:{s:{s:s}},s:[s]}}", "mode", "form", "message", message,
                     "requestedSchema", "type", "object", "properties", "confirm", "type",
                     "boolean", "required", "confirm");
}

static bool accepted(const json_t *result)
{
    const char *action = json_get_string(result, "action");
    return action && strcmp(action, "accept") == 0;
}

static void confirm_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    (void)arg;
    if (error) {
        mcp_call_tool_error(c, "No confirmation received");
        return;
    }
    const char *file =
        json_get_string(json_object_get(mcp_call_params(c), "arguments"), "filename");
    char text[320];
    snprintf(text, sizeof text, "%s %.256s", accepted(result) ? "Deleted" : "Kept",
             file ? file : "(no file)");
    text_result(c, text);
}

void conf_tool_confirm_delete(struct mcp_call *c, const json_t *args)
{
    const char *file = json_get_string(args, "filename");
    char message[320];
    snprintf(message, sizeof message, "Delete %.256s?", file ? file : "the file");
    if (mcp_call_request(c, "elicitation/create", confirm_params(message), 0, confirm_reply,
                         NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
}

/* Two questions outstanding at once; the answer comes when both are in. */
struct multi {
    unsigned answered, accepted;
};

static void multi_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    (void)arg;
    struct multi *m = mcp_call_state(c);
    m->answered++;
    m->accepted += !error && accepted(result);
    if (m->answered < 2)
        return;
    char text[64];
    snprintf(text, sizeof text, "Both answered (%u accepted)", m->accepted);
    text_result(c, text);
}

void conf_tool_multi_input(struct mcp_call *c, const json_t *args)
{
    struct multi *m = calloc(1, sizeof *m);
    if (!m) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    mcp_call_set_state(c, m, free);
    if (mcp_call_request(c, "elicitation/create", confirm_params("First question"), 0, multi_reply,
                         NULL) != 0 ||
        mcp_call_request(c, "elicitation/create", confirm_params("Second question"), 0, multi_reply,
                         NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
}

/* Multi round-trip first, then a task: the name is asked for synchronously (on 2026-07-28 an
 * input_required result and the client's retry), and only then does the call continue as a task,
 * whose result carries the name. */
static void with_task_finish(struct mcp_call *c, void *arg)
{
    char text[320];
    snprintf(text, sizeof text, "Hello, %.256s! (answered by a task)", (const char *)arg);
    text_result(c, text);
}

static void with_task_reply(struct mcp_call *c, const json_t *result, const json_t *error,
                            void *arg)
{
    (void)arg;
    const char *name = json_get_string(json_object_get(result, "content"), "name");
    if (error || !accepted(result) || !name) {
        mcp_call_tool_error(c, "No name was given");
        return;
    }
    char *copy = strdup(name);
    if (!copy) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    mcp_tasks_escalate(c, with_task_finish, copy, free);
}

void conf_tool_with_task(struct mcp_call *c, const json_t *args)
{
    json_t *params = json_pack("{s:s,s:s,s:{s:s,s:{s:{s:s}},s:[s]}}", "mode", "form", "message",
                               "What is your name?", "requestedSchema", "type", "object",
                               "properties", "name", "type", "string", "required", "name");
    if (mcp_call_request(c, "elicitation/create", params, 0, with_task_reply, NULL) != 0)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
}
