/*
 * The dispatcher, the call machinery and the live session, driven with the conformance pack on
 * the real memory store and loop: what a call emits, in which order, and what happens when the
 * client answers, cancels, or the session ends.
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
#include "store/store.h"

static int setup(void **state)
{
    struct td_fixture *f = td_new("conformance");
    snprintf(f->sess.id, sizeof f->sess.id, "sid-test");
    f->sess.protocol_version = strdup("2025-11-25");
    f->sess.client_capabilities = json_pack("{s:{},s:{}}", "sampling", "elicitation");
    *state = f;
    return 0;
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

/* Run the loop until n final messages were emitted (bounded). */
static void run_until_finals(struct td_fixture *f, int n)
{
    for (int i = 0; i < 2000 && f->rec.finals < n; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->rec.finals, n);
}

static json_t *last(struct td_fixture *f)
{
    return json_array_get(f->rec.messages, json_array_size(f->rec.messages) - 1);
}

static void test_ping_answers_empty_result_at_once(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(f->rec.finals, 1);
    char *s = json_serialize(last(f), NULL);
    assert_string_equal(s, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1}");
    free(s);
}

static void test_unknown_method_is_method_not_found(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"nope/nothing\"}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(last(f), "error"), "code")),
                     JSONRPC_METHOD_NOT_FOUND);
}

static void test_unknown_tool_is_invalid_params(void **state)
{
    struct td_fixture *f = *state;
    request(
        f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"zz\"}}");
    json_t *err = json_object_get(last(f), "error");
    assert_int_equal(json_integer_value(json_object_get(err, "code")), JSONRPC_INVALID_PARAMS);
    assert_string_equal(json_string_value(json_object_get(err, "message")), "Unknown tool: zz");
}

static void test_tools_list_names_every_fixture_tool(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}");
    json_t *tools = json_object_get(json_object_get(last(f), "result"), "tools");
    assert_int_equal(json_array_size(tools), 14);
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        assert_non_null(json_string_value(json_object_get(t, "name")));
        assert_true(json_is_object(json_object_get(t, "inputSchema")));
    }
}

static void test_progress_tool_emits_progress_before_result(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"test_tool_with_progress\",\"_meta\":{\"progressToken\":\"progress-test-1\"}}}");
    run_until_finals(f, 1);
    size_t n = json_array_size(f->rec.messages);
    assert_int_equal(n, 4);
    double prev = -1;
    for (size_t i = 0; i < 3; i++) {
        json_t *m = json_array_get(f->rec.messages, i);
        assert_string_equal(json_string_value(json_object_get(m, "method")),
                            "notifications/progress");
        json_t *params = json_object_get(m, "params");
        assert_string_equal(json_string_value(json_object_get(params, "progressToken")),
                            "progress-test-1");
        double p = json_number_value(json_object_get(params, "progress"));
        assert_true(p >= prev);
        prev = p;
    }
    assert_non_null(json_object_get(last(f), "result"));
}

static void test_sampling_request_is_answered_by_routed_reply(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"test_sampling\",\"arguments\":{\"prompt\":\"hi\"}}}");
    for (int i = 0; i < 100 && json_array_size(f->rec.messages) == 0; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    json_t *req = json_array_get(f->rec.messages, 0);
    assert_string_equal(json_string_value(json_object_get(req, "method")),
                        "sampling/createMessage");
    assert_int_equal(json_integer_value(json_object_get(req, "id")), 0);
    json_t *reply =
        json_pack("{s:s,s:i,s:{s:s,s:{s:s,s:s},s:s}}", "jsonrpc", "2.0", "id", 0, "result", "role",
                  "assistant", "content", "type", "text", "text", "sampled!", "model", "m");
    mcp_live_route_reply(&f->ctx, f->sess.id, reply);
    json_decref(reply);
    run_until_finals(f, 1);
    json_t *content = json_object_get(json_object_get(last(f), "result"), "content");
    assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "text")),
                        "LLM response: sampled!");
}

static void test_unanswered_sampling_times_out(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"test_sampling\",\"arguments\":{\"prompt\":\"hi\"}}}");
    run_until_finals(f, 1); /* request_timeout_ms is 100 */
    json_t *content = json_object_get(json_object_get(last(f), "result"), "content");
    const char *text = json_string_value(json_object_get(json_array_get(content, 0), "text"));
    assert_non_null(strstr(text, "Request timed out"));
}

static void test_cancelled_call_gets_no_response(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"test_tool_with_progress\"}}");
    json_t *cancel = json_pack("{s:s,s:s,s:{s:i}}", "jsonrpc", "2.0", "method",
                               "notifications/cancelled", "params", "requestId", 7);
    mcp_dispatch_notification(&f->ctx, &f->sess, cancel);
    json_decref(cancel);
    assert_int_equal(f->rec.finals, 1);
    assert_true(f->rec.last_final_null);
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->rec.finals, 1);
}

static void assert_last_is_error(struct td_fixture *f, int id, const char *message)
{
    json_t *want = json_pack("{s:s,s:i,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id, "error", "code",
                             JSONRPC_INTERNAL_ERROR, "message", message);
    assert_false(f->rec.last_final_null);
    assert_true(json_equal(last(f), want));
    json_decref(want);
}

/* The call's request is still open (a POST, or a stream the client may resume): it gets an
 * error response, not silence. */
static void test_deleted_session_answers_its_calls_with_an_error(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"test_tool_with_logging\"}}");
    mcp_session_destroy(&f->ctx, f->sess.id, NULL, NULL, NULL);
    run_until_finals(f, 1);
    assert_last_is_error(f, 8, "Request cancelled: session deleted");
}

struct member_probe {
    struct mcp_live_member member; /* first */
    int ended;
};

static void probe_end(struct mcp_live_member *m)
{
    ((struct member_probe *)m)->ended++;
}

/* Shutdown's first step: streams end, calls keep running to their real result. */
static void test_end_streams_leaves_calls_running(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"test_tool_with_logging\"}}");
    struct member_probe probe = {.member.on_session_end = probe_end};
    struct mcp_live *l = mcp_live_acquire(&f->ctx, f->sess.id, false);
    assert_non_null(l); /* the call is waiting, so the session is live */
    mcp_live_add_member(l, &probe.member);
    mcp_live_end_streams(&f->ctx);
    assert_int_equal(probe.ended, 1);
    assert_int_equal(f->rec.finals, 0);
    mcp_live_release(l);
    run_until_finals(f, 1);
    assert_non_null(json_object_get(last(f), "result"));
}

/* The end of the grace period: what still runs is answered, with the request's id. */
static void test_end_all_answers_calls_shutting_down(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"test_tool_with_logging\"}}");
    assert_int_equal(f->rec.finals, 0);
    mcp_live_end_all(&f->ctx);
    assert_int_equal(f->rec.finals, 1);
    assert_last_is_error(f, 14, "Server shutting down");
}

static void test_log_level_filters_call_logs(void **state)
{
    struct td_fixture *f = *state;
    f->sess.log_level = mcp_log_level_index("error");
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":"
               "\"test_tool_with_logging\"}}");
    run_until_finals(f, 1);
    assert_int_equal(json_array_size(f->rec.messages), 1); /* info logs filtered out */
}

static void test_malformed_cursor_is_invalid_params(void **state)
{
    struct td_fixture *f = *state;
    request(f,
            "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"resources/list\",\"params\":{\"cursor\":"
            "\"!!\"}}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(last(f), "error"), "code")),
                     JSONRPC_INVALID_PARAMS);
}

static void test_resources_list_has_no_cursor_on_last_page(void **state)
{
    struct td_fixture *f = *state;
    request(f, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"resources/list\"}");
    json_t *result = json_object_get(last(f), "result");
    assert_true(json_array_size(json_object_get(result, "resources")) >= 3);
    assert_null(json_object_get(result, "nextCursor"));
}

static void test_set_level_refuses_unknown_level(void **state)
{
    struct td_fixture *f = *state;
    request(f,
            "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"logging/setLevel\",\"params\":{\"level\":"
            "\"loud\"}}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(last(f), "error"), "code")),
                     JSONRPC_INVALID_PARAMS);
}

static void test_initialize_result_merges_capabilities(void **state)
{
    struct td_fixture *f = *state;
    json_t *r = mcp_dispatch_initialize_result(f->ctx.dispatch, "2025-06-18");
    assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), "2025-06-18");
    json_t *caps = json_object_get(r, "capabilities");
    assert_non_null(json_object_get(caps, "tools"));
    assert_non_null(json_object_get(caps, "logging"));
    assert_non_null(json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")));
    json_decref(r);
}

static void test_unknown_feature_pack_is_refused(void **state)
{
    char err[128] = "";
    assert_null(mcp_dispatch_new("conformance,bogus", err, sizeof err));
    assert_non_null(strstr(err, "bogus"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_ping_answers_empty_result_at_once),
        T(test_unknown_method_is_method_not_found),
        T(test_unknown_tool_is_invalid_params),
        T(test_tools_list_names_every_fixture_tool),
        T(test_progress_tool_emits_progress_before_result),
        T(test_sampling_request_is_answered_by_routed_reply),
        T(test_unanswered_sampling_times_out),
        T(test_cancelled_call_gets_no_response),
        T(test_deleted_session_answers_its_calls_with_an_error),
        T(test_end_streams_leaves_calls_running),
        T(test_end_all_answers_calls_shutting_down),
        T(test_log_level_filters_call_logs),
        T(test_malformed_cursor_is_invalid_params),
        T(test_resources_list_has_no_cursor_on_last_page),
        T(test_set_level_refuses_unknown_level),
        T(test_initialize_result_merges_capabilities),
        cmocka_unit_test(test_unknown_feature_pack_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
