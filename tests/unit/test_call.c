/*
 * The call lifetime (feature.h's mcp_call_*, call_internal.h's constructor and handler
 * bracket, dispatch.h's cancel) with the test as the handler and a recording sink, on the real
 * loop and memory store: a call is answered once, cancelling sends no response, timers and
 * server->client requests die with the call, replies and timeouts reach the handler, and the
 * session's end answers a waiting call with an error.
 */
#include "testutil.h"

#include "lib/json.h"
#include "mcp/call_internal.h"
#include "mcp/jsonrpc.h"
#include "testmcp.h"

#define SID "sid-call"

struct recorder {
    struct mcp_sink sink; /* first */
    json_t *messages;     /* every message emitted, serialized, in order */
    int finals;
    bool last_final_null;
    int closes;
    uint64_t close_retry;
};

static void record_emit(struct mcp_sink *sink, json_t *msg, bool final)
{
    struct recorder *r = (struct recorder *)sink;
    if (msg) {
        char *text = json_serialize(msg, NULL);
        json_array_append_new(r->messages, json_string(text));
        free(text);
        json_decref(msg);
    }
    if (final) {
        r->finals++;
        r->last_final_null = msg == NULL;
    }
}

static void record_close(struct mcp_sink *sink, uint64_t retry_ms)
{
    struct recorder *r = (struct recorder *)sink;
    r->closes++;
    r->close_retry = retry_ms;
}

struct fixture {
    struct tm_fixture *tm;
    struct mcp_session sess;
    struct recorder rec;
    int timer_runs;
    int state_frees;
    int replies;
    char reply[512]; /* "result <json>" or "error <json>" */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->tm = tm_new("conformance");
    snprintf(f->sess.id, sizeof f->sess.id, SID);
    f->sess.owner = "alice";
    f->sess.protocol_version = "2025-06-18";
    f->sess.capabilities_json = "{\"sampling\":{},\"elicitation\":{\"form\":{}}}";
    f->sess.log_level = -1;
    f->rec.sink.emit = record_emit;
    f->rec.sink.close_stream = record_close;
    f->rec.messages = json_array();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tm_free(f->tm);
    json_decref(f->rec.messages);
    free(f);
    return 0;
}

static struct mcp_call *new_call(struct fixture *f, const char *request)
{
    json_t *req = json_loads(request, 0, NULL);
    assert_non_null(req);
    struct mcp_call *c = mcp_call_new(&f->tm->ctx, &f->sess, req, &f->rec.sink);
    json_decref(req); /* the call holds its own reference */
    assert_non_null(c);
    return c;
}

static const char *message(const struct fixture *f, size_t i)
{
    return json_string_value(json_array_get(f->rec.messages, i));
}

static size_t count(const struct fixture *f)
{
    return json_array_size(f->rec.messages);
}

struct finals_wait {
    struct fixture *f;
    int n;
};

static bool finals_reached(void *arg)
{
    struct finals_wait *w = arg;
    return w->f->rec.finals >= w->n;
}

static void run_until_finals(struct fixture *f, int n)
{
    struct finals_wait w = {f, n};
    assert_true(tm_run_until(f->tm, finals_reached, &w, TM_WAIT_MS));
    assert_int_equal(f->rec.finals, n);
}

static void state_free(void *p)
{
    struct fixture *f = p;
    f->state_frees++;
}

static void on_timer(struct mcp_call *c, void *arg)
{
    struct fixture *f = arg;
    f->timer_runs++;
    mcp_call_result(c, json_pack("{s:i}", "runs", f->timer_runs));
}

static void on_reply(struct mcp_call *c, const json_t *result, const json_t *error, void *arg)
{
    struct fixture *f = arg;
    f->replies++;
    char *text = json_serialize(result ? result : error, NULL);
    snprintf(f->reply, sizeof f->reply, "%s %s", result ? "result" : "error", text);
    free(text);
    mcp_call_result(c, json_object());
}

/* Inside a handler the call survives its answer until the handler returns: a second answer,
 * or anything sent after the first, is dropped. */
static void test_call_is_answered_once(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}");
    mcp_call_enter(c);
    mcp_call_result(c, json_pack("{s:s}", "a", "b"));
    mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "second", NULL);
    mcp_call_result(c, json_object());
    mcp_call_notify(c, "notifications/late", NULL);
    mcp_call_close_stream(c, 5);
    assert_int_equal(mcp_call_after(c, 1, on_timer, f), -1);
    mcp_call_leave(c);
    assert_int_equal(f->rec.finals, 1);
    assert_int_equal(f->rec.closes, 0);
    assert_int_equal(count(f), 1);
    assert_string_equal(message(f, 0), "{\"result\":{\"a\":\"b\"},\"jsonrpc\":\"2.0\",\"id\":1}");
}

static void test_error_and_tool_error_have_exact_shape(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"x\"}");
    mcp_call_error(c, JSONRPC_INVALID_PARAMS, "Bad thing", json_pack("{s:i}", "k", 1));
    c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\"}");
    mcp_call_tool_error(c, "it broke");
    assert_int_equal(f->rec.finals, 2);
    assert_string_equal(message(f, 0), "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"error\":{\"code\":"
                                       "-32602,\"message\":\"Bad thing\",\"data\":{\"k\":1}}}");
    assert_string_equal(message(f, 1), "{\"result\":{\"content\":[{\"type\":\"text\",\"text\":"
                                       "\"it broke\"}],\"isError\":true},\"jsonrpc\":\"2.0\","
                                       "\"id\":2}");
}

static void test_progress_needs_a_token_and_omits_what_is_absent(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}");
    mcp_call_progress(c, 1, 2, "ignored: no token");
    assert_int_equal(count(f), 0);
    mcp_call_result(c, json_object());

    c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\",\"params\":{\"_meta\":{"
                    "\"progressToken\":7}}}");
    mcp_call_progress(c, 1, -1, NULL);
    mcp_call_progress(c, 2.5, 10, "half");
    mcp_call_result(c, json_object());
    assert_int_equal(count(f), 4);
    assert_string_equal(message(f, 1), "{\"method\":\"notifications/progress\",\"params\":{"
                                       "\"progress\":1,\"progressToken\":7},\"jsonrpc\":\"2.0\"}");
    assert_string_equal(message(f, 2),
                        "{\"method\":\"notifications/progress\",\"params\":{\"progress\":2.5,"
                        "\"total\":10,\"message\":\"half\",\"progressToken\":7},\"jsonrpc\":"
                        "\"2.0\"}");
}

static void test_log_is_filtered_by_the_sessions_level(void **state)
{
    struct fixture *f = *state;
    f->sess.log_level = mcp_log_level_index("warning");
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}");
    mcp_call_log(c, "info", "lg", json_string("dropped"));
    mcp_call_log(c, "loud", NULL, json_string("unknown level: dropped"));
    mcp_call_log(c, "warning", NULL, NULL);
    mcp_call_log(c, "error", "lg", json_pack("{s:i}", "n", 1));
    mcp_call_result(c, json_object());
    assert_int_equal(count(f), 3);
    assert_string_equal(message(f, 0), "{\"method\":\"notifications/message\",\"params\":{"
                                       "\"level\":\"warning\",\"data\":null},\"jsonrpc\":\"2.0\"}");
    assert_string_equal(message(f, 1),
                        "{\"method\":\"notifications/message\",\"params\":{\"level\":\"error\","
                        "\"logger\":\"lg\",\"data\":{\"n\":1}},\"jsonrpc\":\"2.0\"}");
}

static void test_accessors_read_the_request_and_session(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_string_equal(mcp_call_method(c), "tools/list");
    assert_true(json_is_object(mcp_call_params(c)));
    assert_int_equal(json_object_size(mcp_call_params(c)), 0);
    assert_string_equal(mcp_call_session_id(c), SID);
    assert_string_equal(mcp_call_user(c), "alice");
    assert_string_equal(mcp_call_protocol_version(c), "2025-06-18");
    assert_true(mcp_call_client_supports(c, "sampling"));
    assert_true(mcp_call_client_supports(c, "elicitation.form"));
    assert_false(mcp_call_client_supports(c, "elicitation.url"));
    assert_false(mcp_call_client_supports(c, "roots"));
    assert_int_equal(json_object_size(mcp_call_client_capabilities(c)), 2);
    assert_ptr_equal(mcp_call_store(c), f->tm->ctx.store);
    mcp_call_result(c, json_object());
}

/* A timer runs its function once, later, with its argument; the call is live (findable by
 * its request id) while it waits, and gone from the live session after its answer. */
static void test_timer_runs_later_and_call_is_live_while_waiting(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":\"x\"}");
    assert_int_equal(mcp_call_after(c, 10, on_timer, f), 0);
    assert_int_equal(f->timer_runs, 0);
    struct mcp_live *l = mcp_live_acquire(&f->tm->ctx, SID, false);
    assert_non_null(l);
    json_t *id = json_integer(31);
    json_t *other = json_integer(32);
    assert_false(mcp_live_cancel_call(l, other)); /* no call with that id: nothing happens */
    json_decref(other);
    mcp_live_release(l);
    run_until_finals(f, 1);
    assert_int_equal(f->timer_runs, 1);
    assert_string_equal(message(f, 0), "{\"result\":{\"runs\":1},\"jsonrpc\":\"2.0\",\"id\":31}");
    assert_null(mcp_live_acquire(&f->tm->ctx, SID, false));
    json_decref(id);
}

/* Answering clears the call's other timers: they never run (and nothing leaks). */
static void test_answer_clears_pending_timers(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}");
    assert_int_equal(mcp_call_after(c, 5, on_timer, f), 0);
    assert_int_equal(mcp_call_after(c, 30, on_timer, f), 0);
    assert_int_equal(mcp_call_after(c, 60, on_timer, f), 0);
    run_until_finals(f, 1);
    tm_run_for(f->tm, 100);
    assert_int_equal(f->timer_runs, 1);
    assert_int_equal(f->rec.finals, 1);
}

/* Cancel through the live session by request id (as notifications/cancelled does): a final NULL
 * (no response), the state freed once, no timer runs afterwards. */
static void test_cancel_sends_no_response_and_frees_state(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}");
    mcp_call_set_state(c, f, state_free);
    mcp_call_set_state(c, f, state_free); /* replacing frees the old state */
    assert_int_equal(f->state_frees, 1);
    assert_ptr_equal(mcp_call_state(c), f);
    assert_int_equal(mcp_call_after(c, 5, on_timer, f), 0);
    struct mcp_live *l = mcp_live_acquire(&f->tm->ctx, SID, false);
    assert_non_null(l);
    json_t *id = json_integer(1);
    assert_true(mcp_live_cancel_call(l, id));
    json_decref(id);
    mcp_live_release(l);
    assert_int_equal(f->rec.finals, 1);
    assert_true(f->rec.last_final_null);
    assert_int_equal(count(f), 0);
    assert_int_equal(f->state_frees, 2);
    tm_run_for(f->tm, 50);
    assert_int_equal(f->timer_runs, 0);
    assert_int_equal(f->rec.finals, 1);
}

static void test_close_stream_reaches_the_sink_only_while_unanswered(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}");
    mcp_call_close_stream(c, 750);
    assert_int_equal(f->rec.closes, 1);
    assert_int_equal(f->rec.close_retry, 750);
    mcp_call_result(c, json_object());
    /* A sink without close_stream: nothing to do, nothing breaks. */
    f->rec.sink.close_stream = NULL;
    c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\"}");
    mcp_call_close_stream(c, 1);
    mcp_call_result(c, json_object());
    assert_int_equal(f->rec.closes, 1);
    assert_int_equal(f->rec.finals, 2);
}

static bool emitted_one(void *arg)
{
    return count(arg) >= 1;
}

/* Start a sampling request on a new call and wait until it was sent. */
static struct mcp_call *start_request(struct fixture *f, int call_id, uint64_t timeout_ms)
{
    char req[128];
    snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\"}", call_id);
    struct mcp_call *c = new_call(f, req);
    assert_int_equal(mcp_call_request(c, "sampling/createMessage",
                                      json_pack("{s:i}", "maxTokens", 5), timeout_ms, on_reply, f),
                     0);
    assert_true(tm_run_until(f->tm, emitted_one, f, TM_WAIT_MS));
    return c;
}

static void route(struct fixture *f, const char *response)
{
    json_t *m = json_loads(response, 0, NULL);
    mcp_live_route_reply(&f->tm->ctx, SID, m);
    json_decref(m);
}

/* The request goes out on the call's sink with the session's next id (0, then 1); the
 * client's reply reaches the handler's callback. */
static void test_request_is_sent_and_reply_delivered(void **state)
{
    struct fixture *f = *state;
    start_request(f, 40, 0);
    assert_string_equal(message(f, 0), "{\"method\":\"sampling/createMessage\",\"params\":{"
                                       "\"maxTokens\":5},\"jsonrpc\":\"2.0\",\"id\":0}");
    route(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"text\":\"hi\"}}");
    run_until_finals(f, 1);
    assert_int_equal(f->replies, 1);
    assert_string_equal(f->reply, "result {\"text\":\"hi\"}");

    json_array_clear(f->rec.messages);
    start_request(f, 41, 0);
    json_t *sent = json_loads(message(f, 0), 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(sent, "id")), 1);
    json_decref(sent);
    route(f,
          "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,\"message\":\"User rejected\"}}");
    run_until_finals(f, 2);
    assert_string_equal(f->reply, "error {\"code\":-1,\"message\":\"User rejected\"}");
}

static void test_unanswered_request_times_out_with_exact_error(void **state)
{
    struct fixture *f = *state;
    start_request(f, 50, 30);
    run_until_finals(f, 1);
    assert_int_equal(f->replies, 1);
    assert_string_equal(f->reply, "error {\"code\":-32001,\"message\":\"Request timed out\"}");
    /* A reply after the timeout finds nobody waiting. */
    route(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}");
    tm_run_for(f->tm, 20);
    assert_int_equal(f->replies, 1);
}

/* A call answered while its request is outstanding drops it: the late reply and the timeout
 * never reach the handler. */
static void test_answered_call_drops_its_outstanding_request(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = start_request(f, 60, 40);
    mcp_call_result(c, json_pack("{s:b}", "early", 1));
    assert_int_equal(f->rec.finals, 1);
    route(f, "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}");
    tm_run_for(f->tm, 80);
    assert_int_equal(f->replies, 0);
    assert_int_equal(f->rec.finals, 1);
    assert_null(mcp_live_acquire(&f->tm->ctx, SID, false));
}

/* Answered while the session is still issuing the request's id: the request is never sent
 * and its callback never runs (the id's arrival must find the call gone). */
static void test_call_answered_before_its_request_id_sends_nothing(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":65,\"method\":\"x\"}");
    assert_int_equal(mcp_call_request(c, "roots/list", NULL, 30, on_reply, f), 0);
    mcp_call_result(c, json_object());
    tm_run_for(f->tm, 60);
    assert_int_equal(count(f), 1);
    assert_string_equal(message(f, 0), "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":65}");
    assert_int_equal(f->replies, 0);
    assert_null(mcp_live_acquire(&f->tm->ctx, SID, false));
}

/* DELETE of the session (control channel) answers a waiting call with an error carrying its
 * id, and its timers never run. */
static void test_session_end_answers_waiting_call_with_error(void **state)
{
    struct fixture *f = *state;
    struct mcp_call *c = new_call(f, "{\"jsonrpc\":\"2.0\",\"id\":70,\"method\":\"x\"}");
    assert_int_equal(mcp_call_after(c, 200, on_timer, f), 0);
    mcp_session_destroy(&f->tm->ctx, SID, NULL, NULL, NULL);
    run_until_finals(f, 1);
    assert_string_equal(message(f, 0), "{\"jsonrpc\":\"2.0\",\"id\":70,\"error\":{\"code\":-32603,"
                                       "\"message\":\"Request cancelled: session deleted\"}}");
    tm_run_for(f->tm, 250);
    assert_int_equal(f->timer_runs, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_call_is_answered_once),
        T(test_error_and_tool_error_have_exact_shape),
        T(test_progress_needs_a_token_and_omits_what_is_absent),
        T(test_log_is_filtered_by_the_sessions_level),
        T(test_accessors_read_the_request_and_session),
        T(test_timer_runs_later_and_call_is_live_while_waiting),
        T(test_answer_clears_pending_timers),
        T(test_cancel_sends_no_response_and_frees_state),
        T(test_close_stream_reaches_the_sink_only_while_unanswered),
        T(test_request_is_sent_and_reply_delivered),
        T(test_unanswered_request_times_out_with_exact_error),
        T(test_answered_call_drops_its_outstanding_request),
        T(test_call_answered_before_its_request_id_sends_nothing),
        T(test_session_end_answers_waiting_call_with_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
