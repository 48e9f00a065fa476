/*
 * tasks: the tasks extension (io.modelcontextprotocol/tasks) for 2026-07-28 clients. A
 * tools/call of a task-supporting tool (struct mcp_tool.task_support) from a client that declared
 * the extension is answered at once with a CreateTaskResult, once the task record is stored; the
 * tool then runs as a detached call whose sink writes to that record instead of an HTTP response,
 * so any instance answers tasks/get, tasks/update and tasks/cancel from the store.
 *
 * The detached call runs in a task's own execution context: a stored session record named
 * "t<task id>" (session.h names its keys), with the task's TTL, owned by the caller. That is what
 * lets the existing call machinery serve a task unchanged: its server->client requests get ids
 * from that record and wait for replies on its replies channel (tasks/update delivers them there
 * from whichever instance the client reaches), tasks/cancel cancels it through its control
 * channel, and MAX_CALL_DURATION_MS ends it like any other call.
 *
 * Owns the task keys (docs/redis-keys.md): task:{<id>} (hash: owner, status, msg, created,
 * updated, ttl, sid, callid, result or error, and one in:<key> field per pending input request)
 * and owner:{<sha256 of the owner>}:tasks (hash: task id -> expiry, the count behind
 * MAX_TASKS_PER_USER). Both expire with the task TTL (TASK_TTL_MS). Every status change
 * (working, input_required, completed, failed, cancelled) is published, as the DetailedTask
 * tasks/get would answer, on the task's channel mcp:task:<id>, where subscriptions/listen streams
 * (listen.h) that asked for the task follow it.
 */
#ifndef MCPD_MCP_TASKS_H
#define MCPD_MCP_TASKS_H

#include <stdbool.h>

#include "mcp/feature.h"
#include "mcp/session.h"

#define MCP_TASKS_EXTENSION "io.modelcontextprotocol/tasks"
#define MCP_TASK_ID_LEN     32 /* hex characters: 128 random bits */

/* task:{<id>}: the task record. */
struct mcp_state_name mcp_key_task(const char *task_id);
/* owner:{<sha256 of the owner>}:tasks: the owner's tasks and their expiry (wall-clock ms). */
struct mcp_state_name mcp_key_user_tasks(const char *owner);

/* mcp:task:<id>: the task's status changes (the DetailedTask as JSON). */
struct mcp_state_name mcp_channel_task(const char *task_id);

/* Whether capabilities (a request's clientCapabilities) declare the extension. */
bool mcp_tasks_declared_in(const json_t *caps);

/* The task as tasks/get would show it to owner: fn(arg, task_id, task) with a new reference to
 * the DetailedTask, or NULL when there is no such task of that owner (or the store failed). Returns
 * 0, or -1 (fn will not run). */
typedef void (*mcp_task_found_fn)(void *arg, const char *task_id, json_t *task);
int mcp_tasks_find(struct mcp_ctx *ctx, const char *owner, const char *task_id,
                   mcp_task_found_fn fn, void *arg);

/* Whether this request's client declared the extension (in the request's _meta or its
 * session's capabilities) on a revision that has it (2026-07-28 and later). */
bool mcp_tasks_declared(const struct mcp_call *c);

/* tools/call of tool t: returns true when the call was taken here (it becomes a task, or is
 * refused -32021 because t requires one and the client did not declare the extension); false
 * when it should run as an ordinary call. */
bool mcp_tasks_take_call(struct mcp_call *c, const struct mcp_tool *t);

/* From a handler of a MCP_TASK_HANDLER tool (after gathering input synchronously, e.g. with
 * multi round-trip requests): continue as a task. The call is answered with the CreateTaskResult
 * once the task is stored; fn(task_call, arg) then runs on the task's own call, which owns arg
 * as its state (mcp_call_state; free_fn frees it). A client that did not declare the extension
 * gets -32021. arg is freed however it ends. */
void mcp_tasks_escalate(struct mcp_call *c, mcp_timer_fn fn, void *arg, void (*free_fn)(void *));

/* The methods: tasks/get, tasks/update, tasks/cancel. */
void mcp_tasks_get(struct mcp_call *c);
void mcp_tasks_update(struct mcp_call *c);
void mcp_tasks_cancel(struct mcp_call *c);

#endif
