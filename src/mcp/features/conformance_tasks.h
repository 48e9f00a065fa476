/*
 * conformance_tasks: the fixture tools the conformance suite's tasks-* scenarios call (the tasks
 * extension, tasks.h): greet (never a task), slow_compute, failing_job (a task is required),
 * protocol_error_job, confirm_delete and multi_input (input requests inside a task), and
 * test_tool_with_task (input gathered first, then a task: mcp_tasks_escalate). The
 * conformance pack lists them through CONF_TASK_TOOLS in its table.
 */
#ifndef MCPD_MCP_FEATURES_CONFORMANCE_TASKS_H
#define MCPD_MCP_FEATURES_CONFORMANCE_TASKS_H

#include "mcp/feature.h"

void conf_tool_greet(struct mcp_call *c, const json_t *args);
void conf_tool_slow_compute(struct mcp_call *c, const json_t *args);
void conf_tool_failing_job(struct mcp_call *c, const json_t *args);
void conf_tool_protocol_error_job(struct mcp_call *c, const json_t *args);
void conf_tool_confirm_delete(struct mcp_call *c, const json_t *args);
void conf_tool_multi_input(struct mcp_call *c, const json_t *args);
void conf_tool_with_task(struct mcp_call *c, const json_t *args);
/* Listed only to 2026-07-28 requests: the extension does not exist in earlier revisions, and
 * the session-era suites expect the fixture's tool list as it was. */
bool conf_task_tools_offered(const struct mcp_call *c);

#define CONF_TASK_TOOL(name_, desc_, schema_, fn_, support_)                                       \
    {                                                                                              \
        .name = name_, .description = desc_, .input_schema = schema_, .call = fn_,                 \
        .offered = conf_task_tools_offered, .task_support = support_                               \
    }

#define CONF_TASK_TOOLS                                                                            \
    CONF_TASK_TOOL("greet", "Returns a greeting at once (never a task)",                           \
                   "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}",        \
                   conf_tool_greet, MCP_TASK_NONE),                                                \
        CONF_TASK_TOOL("slow_compute", "Waits `seconds` seconds, then answers (may be a task)",    \
                       "{\"type\":\"object\",\"properties\":{\"seconds\":{\"type\":\"number\"},"   \
                       "\"label\":{\"type\":\"string\"}}}",                                        \
                       conf_tool_slow_compute, MCP_TASK_OPTIONAL),                                 \
        CONF_TASK_TOOL("failing_job", "Reports a tool error after a second (a task is required)",  \
                       "{\"type\":\"object\",\"properties\":{}}", conf_tool_failing_job,           \
                       MCP_TASK_REQUIRED),                                                         \
        CONF_TASK_TOOL("protocol_error_job", "Fails with a JSON-RPC error (may be a task)",        \
                       "{\"type\":\"object\",\"properties\":{}}", conf_tool_protocol_error_job,    \
                       MCP_TASK_OPTIONAL),                                                         \
        CONF_TASK_TOOL(                                                                            \
            "confirm_delete", "Asks the user to confirm, then answers (may be a task)",            \
            "{\"type\":\"object\",\"properties\":{\"filename\":{\"type\":\"string\"}}}",           \
            conf_tool_confirm_delete, MCP_TASK_OPTIONAL),                                          \
        CONF_TASK_TOOL("multi_input", "Asks two questions at once (may be a task)",                \
                       "{\"type\":\"object\",\"properties\":{}}", conf_tool_multi_input,           \
                       MCP_TASK_OPTIONAL),                                                         \
        CONF_TASK_TOOL("test_tool_with_task", "Asks for a name, then continues as a task",         \
                       "{\"type\":\"object\",\"properties\":{}}", conf_tool_with_task,             \
                       MCP_TASK_HANDLER)

#endif
