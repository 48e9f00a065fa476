/*
 * The tasks extension (src/mcp/tasks.c) driven through mcp_dispatch_request with the conformance
 * pack's task fixtures, on the real memory store and loop, as a 2026-07-28 request arrives: task
 * creation and its shape, tasks/get through every status, input requests answered with
 * tasks/update, tasks/cancel, the capability gate, ownership and the bounds.
 */
#include "testutil.h"
#include "testdispatch.h"

#include "app/config.h"
#include "lib/hashmap.h"
#include "lib/json.h"
#include "mcp/context.h"
#include "mcp/dispatch.h"
#include "mcp/jsonrpc.h"
#include "mcp/session.h"
#include "mcp/tasks.h"
#include "store/store.h"

static int setup(void **state)
{
    struct td_fixture *f = td_new("conformance,reference");
    f->cfg.request_timeout_ms = 5000;
    f->sess.protocol_version = strdup("2026-07-28");
    f->sess.client_capabilities =
        json_pack("{s:{},s:{s:{}}}", "elicitation", "extensions", MCP_TASKS_EXTENSION);
    f->sess.stateless = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    td_close(*state);
    free(*state);
    return 0;
}

/* Send a request (params stolen) and run the loop until it is answered; the response. */
static json_t *call(struct td_fixture *f, const char *method, json_t *params)
{
    static int next_id = 1;
    json_t *req = json_pack("{s:s,s:i,s:s,s:o}", "jsonrpc", "2.0", "id", next_id++, "method",
                            method, "params", params);
    int before = f->rec.finals;
    mcp_dispatch_request(&f->ctx, &f->sess, req, &f->rec.sink);
    json_decref(req);
    for (int i = 0; i < 1000 && f->rec.finals == before; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->rec.finals, before + 1);
    return json_array_get(f->rec.messages, json_array_size(f->rec.messages) - 1);
}

static json_t *result_of(json_t *msg)
{
    json_t *r = json_object_get(msg, "result");
    if (!r) {
        char *s = json_serialize(msg, NULL);
        fail_msg("expected a result, got %s", s);
    }
    return r;
}

static int error_code(json_t *msg)
{
    return (int)json_integer_value(json_object_get(json_object_get(msg, "error"), "code"));
}

static json_t *tool(struct td_fixture *f, const char *name, json_t *args)
{
    return call(f, "tools/call", json_pack("{s:s,s:o}", "name", name, "arguments", args));
}

static json_t *task_call(struct td_fixture *f, const char *method, const char *id)
{
    return call(f, method, json_pack("{s:s}", "taskId", id));
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Let the loop run for about ms milliseconds. */
static void run_for(struct td_fixture *f, uint64_t ms)
{
    uint64_t end = uv_now(&f->loop) + ms;
    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    uv_timer_start(&t, on_tick, ms, 0);
    while (uv_now(&f->loop) < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* Poll tasks/get until the status is want (or a terminal one); the last tasks/get result. */
static json_t *poll_until(struct td_fixture *f, const char *id, const char *want)
{
    json_t *r = NULL;
    for (int i = 0; i < 100; i++) {
        r = result_of(task_call(f, "tasks/get", id));
        const char *st = json_get_string(r, "status");
        if (strcmp(st, want) == 0 || strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "cancelled") == 0)
            return r;
        run_for(f, 50);
    }
    return r;
}

static const char *created_task(json_t *msg)
{
    json_t *r = result_of(msg);
    assert_string_equal(json_get_string(r, "resultType"), "task");
    const char *id = json_get_string(r, "taskId");
    assert_non_null(id);
    assert_int_equal(strlen(id), MCP_TASK_ID_LEN);
    return id;
}

static void test_sync_tool_is_no_task(void **state)
{
    struct td_fixture *f = *state;
    json_t *r = result_of(tool(f, "greet", json_pack("{s:s}", "name", "World")));
    assert_null(json_object_get(r, "taskId"));
    assert_string_equal(json_get_string(json_array_get(json_object_get(r, "content"), 0), "text"),
                        "Hello, World!");
}

static void test_create_result_shape_and_completion(void **state)
{
    struct td_fixture *f = *state;
    json_t *r =
        result_of(tool(f, "slow_compute", json_pack("{s:f,s:s}", "seconds", 0.2, "label", "x")));
    assert_string_equal(json_get_string(r, "resultType"), "task");
    assert_string_equal(json_get_string(r, "status"), "working");
    assert_true(json_is_integer(json_object_get(r, "ttlMs")));
    assert_int_equal(json_integer_value(json_object_get(r, "ttlMs")), 3600000);
    assert_true(json_integer_value(json_object_get(r, "pollIntervalMs")) > 0);
    const char *created = json_get_string(r, "createdAt");
    assert_non_null(created);
    assert_int_equal(strlen(created), 24); /* 2026-12-03T02:50:59.123Z */
    assert_int_equal(created[10], 'T');
    assert_non_null(json_get_string(r, "lastUpdatedAt"));
    const char *bad[] = {"task",         "result", "error",       "inputRequests",
                         "requestState", "ttl",    "pollInterval"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(json_object_get(r, bad[i]));
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", json_get_string(r, "taskId"));
    /* Durable before the answer: an immediate tasks/get resolves. */
    json_t *g = result_of(task_call(f, "tasks/get", id));
    assert_string_equal(json_get_string(g, "taskId"), id);
    assert_string_equal(json_get_string(g, "status"), "working");
    assert_string_equal(json_get_string(g, "resultType"), "complete");
    assert_null(json_object_get(g, "result"));
    g = poll_until(f, id, "completed");
    assert_string_equal(json_get_string(g, "status"), "completed");
    json_t *content = json_object_get(json_object_get(g, "result"), "content");
    assert_string_equal(json_get_string(json_array_get(content, 0), "text"), "Computed x");
    assert_null(json_object_get(json_object_get(g, "result"), "_meta"));
}

static void test_tool_error_completes_protocol_error_fails(void **state)
{
    struct td_fixture *f = *state;
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", created_task(tool(f, "failing_job", json_object())));
    json_t *g = poll_until(f, id, "completed");
    assert_string_equal(json_get_string(g, "status"), "completed");
    assert_true(json_is_true(json_object_get(json_object_get(g, "result"), "isError")));
    snprintf(id, sizeof id, "%s", created_task(tool(f, "protocol_error_job", json_object())));
    g = poll_until(f, id, "failed");
    assert_string_equal(json_get_string(g, "status"), "failed");
    assert_null(json_object_get(g, "result"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(g, "error"), "code")),
                     JSONRPC_INTERNAL_ERROR);
    assert_non_null(json_get_string(json_object_get(g, "error"), "message"));
    assert_string_equal(json_get_string(g, "statusMessage"), "Internal error: the job crashed");
}

static void test_cancel_acks_and_settles_cancelled(void **state)
{
    struct td_fixture *f = *state;
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s",
             created_task(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 60))));
    json_t *ack = result_of(task_call(f, "tasks/cancel", id));
    assert_int_equal(json_object_size(ack), 1);
    assert_string_equal(json_get_string(ack, "resultType"), "complete");
    json_t *g = poll_until(f, id, "cancelled");
    assert_string_equal(json_get_string(g, "status"), "cancelled");
    /* A terminal task: the same ack, the status unchanged. */
    ack = result_of(task_call(f, "tasks/cancel", id));
    assert_int_equal(json_object_size(ack), 1);
    assert_string_equal(json_get_string(result_of(task_call(f, "tasks/get", id)), "status"),
                        "cancelled");
}

static void test_input_request_answered_by_update(void **state)
{
    struct td_fixture *f = *state;
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s",
             created_task(tool(f, "confirm_delete", json_pack("{s:s}", "filename", "a.txt"))));
    json_t *g = poll_until(f, id, "input_required");
    assert_string_equal(json_get_string(g, "status"), "input_required");
    json_t *inputs = json_object_get(g, "inputRequests");
    assert_int_equal(json_object_size(inputs), 1);
    const char *key = json_object_iter_key(json_object_iter(inputs));
    json_t *req = json_object_get(inputs, key);
    assert_string_equal(json_get_string(req, "method"), "elicitation/create");
    json_t *answers = json_pack("{s:{s:s,s:{s:b}}, s:{}}", key, "action", "accept", "content",
                                "confirm", 1, "no-such-key");
    json_t *ack = result_of(
        call(f, "tasks/update", json_pack("{s:s,s:o}", "taskId", id, "inputResponses", answers)));
    assert_int_equal(json_object_size(ack), 1);
    assert_string_equal(json_get_string(ack, "resultType"), "complete");
    g = poll_until(f, id, "completed");
    assert_string_equal(json_get_string(g, "status"), "completed");
    json_t *content = json_object_get(json_object_get(g, "result"), "content");
    assert_string_equal(json_get_string(json_array_get(content, 0), "text"), "Deleted a.txt");
}

static void test_partial_update_keeps_other_input_pending(void **state)
{
    struct td_fixture *f = *state;
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", created_task(tool(f, "multi_input", json_object())));
    json_t *g = NULL;
    for (int i = 0; i < 50; i++) {
        g = result_of(task_call(f, "tasks/get", id));
        if (json_object_size(json_object_get(g, "inputRequests")) == 2)
            break;
        run_for(f, 20);
    }
    json_t *inputs = json_object_get(g, "inputRequests");
    assert_int_equal(json_object_size(inputs), 2);
    void *it = json_object_iter(inputs);
    char first[32], second[32];
    snprintf(first, sizeof first, "%s", json_object_iter_key(it));
    snprintf(second, sizeof second, "%s", json_object_iter_key(json_object_iter_next(inputs, it)));
    json_t *answer = json_pack("{s:s}", "action", "accept");
    result_of(call(f, "tasks/update",
                   json_pack("{s:s,s:{s:O}}", "taskId", id, "inputResponses", first, answer)));
    g = result_of(task_call(f, "tasks/get", id));
    assert_string_equal(json_get_string(g, "status"), "input_required");
    inputs = json_object_get(g, "inputRequests");
    assert_int_equal(json_object_size(inputs), 1);
    assert_non_null(json_object_get(inputs, second));
    result_of(call(f, "tasks/update",
                   json_pack("{s:s,s:{s:O}}", "taskId", id, "inputResponses", second, answer)));
    json_decref(answer);
    g = poll_until(f, id, "completed");
    assert_string_equal(json_get_string(g, "status"), "completed");
}

static void test_without_extension(void **state)
{
    struct td_fixture *f = *state;
    json_decref(f->sess.client_capabilities);
    f->sess.client_capabilities = json_object();
    /* An optional task runs synchronously; a required one is refused; tasks methods too. */
    json_t *r = result_of(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 0)));
    assert_null(json_object_get(r, "taskId"));
    assert_non_null(json_object_get(r, "content"));
    json_t *m = tool(f, "failing_job", json_object());
    assert_int_equal(error_code(m), -32021);
    json_t *data = json_object_get(json_object_get(m, "error"), "data");
    assert_non_null(json_object_get(
        json_object_get(json_object_get(data, "requiredCapabilities"), "extensions"),
        MCP_TASKS_EXTENSION));
    const char *methods[] = {"tasks/get", "tasks/update", "tasks/cancel"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(error_code(task_call(f, methods[i], "gate-test")), -32021);
    /* The extension declared in this request's _meta alone is enough. */
    json_t *meta = json_pack("{s:{s:{s:{}}}}", "io.modelcontextprotocol/clientCapabilities",
                             "extensions", MCP_TASKS_EXTENSION);
    m = call(f, "tools/call",
             json_pack("{s:s,s:{s:i},s:o}", "name", "slow_compute", "arguments", "seconds", 0,
                       "_meta", meta));
    created_task(m);
}

static void test_session_revision_gets_no_task(void **state)
{
    struct td_fixture *f = *state;
    f->sess.stateless = false;
    free(f->sess.protocol_version);
    f->sess.protocol_version = strdup("2025-11-25");
    snprintf(f->sess.id, sizeof f->sess.id, "sid-old");
    json_t *args = json_pack("{s:i,s:i}", "duration", 0, "steps", 1);
    json_t *r = result_of(tool(f, "longRunningOperation", json_incref(args)));
    assert_null(json_object_get(r, "taskId"));
    assert_non_null(json_object_get(r, "content"));
    /* The same call on 2026-07-28 becomes a task (its progress is not carried). */
    f->sess.stateless = true;
    free(f->sess.protocol_version);
    f->sess.protocol_version = strdup("2026-07-28");
    f->sess.id[0] = '\0';
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", created_task(tool(f, "longRunningOperation", args)));
    json_t *g = poll_until(f, id, "completed");
    assert_string_equal(json_get_string(g, "status"), "completed");
    assert_non_null(json_object_get(json_object_get(g, "result"), "content"));
}

static void test_unknown_and_foreign_task_not_found(void **state)
{
    struct td_fixture *f = *state;
    assert_int_equal(error_code(task_call(f, "tasks/get", "tasks-conformance-nonexistent-12345")),
                     JSONRPC_INVALID_PARAMS);
    assert_int_equal(error_code(task_call(f, "tasks/get", "0123456789abcdef0123456789abcdef")),
                     JSONRPC_INVALID_PARAMS);
    assert_int_equal(error_code(call(f, "tasks/get", json_object())), JSONRPC_INVALID_PARAMS);
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s",
             created_task(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 60))));
    free(f->sess.owner);
    f->sess.owner = strdup("mallory");
    const char *methods[] = {"tasks/get", "tasks/cancel"};
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(error_code(task_call(f, methods[i], id)), JSONRPC_INVALID_PARAMS);
    free(f->sess.owner);
    f->sess.owner = strdup("alice");
    assert_string_equal(json_get_string(result_of(task_call(f, "tasks/get", id)), "status"),
                        "working");
    result_of(task_call(f, "tasks/cancel", id));
    poll_until(f, id, "cancelled");
}

static void test_removed_methods_not_found(void **state)
{
    struct td_fixture *f = *state;
    assert_int_equal(error_code(task_call(f, "tasks/result", "x")), JSONRPC_METHOD_NOT_FOUND);
    assert_int_equal(error_code(call(f, "tasks/list", json_object())), JSONRPC_METHOD_NOT_FOUND);
}

static void test_tasks_per_user_bound(void **state)
{
    struct td_fixture *f = *state;
    f->cfg.max_tasks_per_user = 2;
    created_task(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 0)));
    created_task(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 0)));
    assert_int_equal(error_code(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 0))),
                     JSONRPC_SERVER_ERROR);
    /* Another user has their own count. */
    free(f->sess.owner);
    f->sess.owner = strdup("bob");
    created_task(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 0)));
    run_for(f, 20);
}

static void test_result_size_bound(void **state)
{
    struct td_fixture *f = *state;
    f->cfg.max_task_result_bytes = 20;
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s",
             created_task(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 0))));
    json_t *g = poll_until(f, id, "failed");
    assert_string_equal(json_get_string(g, "status"), "failed");
    assert_non_null(
        strstr(json_get_string(json_object_get(g, "error"), "message"), "MAX_TASK_RESULT_BYTES"));
}

/* Input first, then a task: on a 2026-07-28 session the question goes out as a server->client
 * request (on a stateless request it would be an input_required result), and its answer makes
 * the call continue as a task whose result carries it. */
static void test_escalate_after_input(void **state)
{
    struct td_fixture *f = *state;
    f->sess.stateless = false;
    snprintf(f->sess.id, sizeof f->sess.id, "sid-esc");
    json_t *req = json_pack("{s:s,s:i,s:s,s:{s:s,s:{}}}", "jsonrpc", "2.0", "id", 900, "method",
                            "tools/call", "params", "name", "test_tool_with_task", "arguments");
    mcp_dispatch_request(&f->ctx, &f->sess, req, &f->rec.sink);
    json_decref(req);
    json_t *ask = NULL;
    for (int i = 0; i < 200 && !ask; i++) {
        uv_run(&f->loop, UV_RUN_ONCE);
        json_t *m = json_array_get(f->rec.messages, json_array_size(f->rec.messages) - 1);
        if (json_get_string(m, "method"))
            ask = m;
    }
    assert_non_null(ask);
    assert_string_equal(json_get_string(ask, "method"), "elicitation/create");
    assert_int_equal(f->rec.finals, 0);
    json_t *reply =
        json_pack("{s:s,s:O,s:{s:s,s:{s:s}}}", "jsonrpc", "2.0", "id", json_object_get(ask, "id"),
                  "result", "action", "accept", "content", "name", "Alice");
    mcp_live_route_reply(&f->ctx, "sid-esc", reply);
    json_decref(reply);
    for (int i = 0; i < 200 && f->rec.finals == 0; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    json_t *created = json_array_get(f->rec.messages, json_array_size(f->rec.messages) - 1);
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", created_task(created));
    assert_null(json_object_get(result_of(created), "requestState"));
    /* The tasks methods are 2026-07-28 (stateless) requests. */
    f->sess.stateless = true;
    f->sess.id[0] = '\0';
    json_t *g = poll_until(f, id, "completed");
    assert_string_equal(json_get_string(g, "status"), "completed");
    const char *text = json_get_string(
        json_array_get(json_object_get(json_object_get(g, "result"), "content"), 0), "text");
    assert_non_null(strstr(text, "Alice"));
    /* Without the extension the tool is refused before it asks anything. */
    json_decref(f->sess.client_capabilities);
    f->sess.client_capabilities = json_object();
    assert_int_equal(error_code(tool(f, "test_tool_with_task", json_object())), -32021);
}

/* An instance that stops stops renewing its tasks' leases: once a lease is past, any instance
 * reports (and records) the task failed. Simulated by writing an old lease. */
static void test_expired_lease_reads_failed(void **state)
{
    struct td_fixture *f = *state;
    char id[MCP_TASK_ID_LEN + 1];
    snprintf(id, sizeof id, "%s",
             created_task(tool(f, "slow_compute", json_pack("{s:i}", "seconds", 60))));
    assert_string_equal(json_get_string(result_of(task_call(f, "tasks/get", id)), "status"),
                        "working");
    struct store_str pairs[] = {{"lease", 5}, {"1", 1}};
    assert_int_equal(store_hset(f->ctx.store, mcp_key_task(id).s, pairs, 2, 60000, NULL, NULL), 0);
    json_t *g = result_of(task_call(f, "tasks/get", id));
    assert_string_equal(json_get_string(g, "status"), "failed");
    json_t *err = json_object_get(g, "error");
    assert_int_equal(json_integer_value(json_object_get(err, "code")), JSONRPC_INTERNAL_ERROR);
    assert_non_null(strstr(json_get_string(err, "message"), "Task lost"));
    assert_null(json_object_get(g, "result"));
    g = result_of(task_call(f, "tasks/get", id));
    assert_string_equal(json_get_string(g, "status"), "failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_tool_is_no_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_result_shape_and_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tool_error_completes_protocol_error_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_acks_and_settles_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_request_answered_by_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_update_keeps_other_input_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_without_extension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_revision_gets_no_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_and_foreign_task_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_methods_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks_per_user_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_size_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escalate_after_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_lease_reads_failed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
