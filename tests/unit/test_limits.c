/*
 * The MCP-level bounds of docs/reliability.md ("Limits"), each through the real transports on a
 * loopback http_server with the memory store and the reference and conformance packs: sessions
 * per user, concurrent calls per session and per process, the call deadline and the session's
 * expiry ending waiting calls, longRunningOperation's argument ranges, id, progressToken and
 * capabilities sizes, subscriptions, batches, and the event-log entry bound with its replay.
 * Every refusal is checked with its exact status and body; every wait is bounded.
 */
#include "testutil.h"

#include "lib/json.h"
#include "mcp/jsonrpc.h"
#include "testmcp.h"

#define V_OLD "2025-06-18"

static int setup(void **state)
{
    *state = tm_new("reference,conformance");
    return 0;
}

static int teardown(void **state)
{
    tm_free(*state);
    return 0;
}

static void headers_for(char *out, size_t size, const char *sid, const char *version)
{
    int n = snprintf(out, size, TM_JSON_POST "Mcp-Session-Id: %s\r\n", sid);
    if (version)
        snprintf(out + n, size - (size_t)n, "MCP-Protocol-Version: %s\r\n", version);
}

static void post(struct tm_fixture *f, const char *sid, const char *version, const char *body,
                 struct tm_resp *r)
{
    char headers[512];
    headers_for(headers, sizeof headers, sid, version);
    tm_exchange(f, "POST", "/mcp", headers, body, r);
}

/* POST without waiting for the answer (a call that waits). */
static struct tm_conn *post_async(struct tm_fixture *f, const char *sid, const char *body)
{
    char headers[512];
    headers_for(headers, sizeof headers, sid, V_OLD);
    return tm_send(f, "POST", "/mcp", headers, body);
}

static void initialize_as(struct tm_fixture *f, const char *user, struct tm_resp *r)
{
    char headers[256];
    snprintf(headers, sizeof headers,
             TM_JSON_POST "MCP-Protocol-Version: " V_OLD "\r\nX-Test-User: %s\r\n", user);
    tm_exchange(f, "POST", "/mcp", headers,
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"" V_OLD "\",\"capabilities\":{}}}",
                r);
}

#define TOO_MANY_SESSIONS                                                                          \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"Too many sessions "    \
    "for "                                                                                         \
    "this user (MAX_SESSIONS_PER_USER)\"}}"

static bool session_refused(struct tm_fixture *f, const char *user)
{
    struct tm_resp r;
    initialize_as(f, user, &r);
    bool refused = r.status == 429;
    if (refused)
        assert_string_equal(r.body, TOO_MANY_SESSIONS);
    else
        assert_int_equal(r.status, 200);
    tm_resp_free(&r);
    return refused;
}

/* MAX_SESSIONS_PER_USER counts one user's sessions; DELETE frees a slot at once, another user
 * has slots of their own. */
static void test_sessions_per_user_bounded_and_freed_by_delete(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_sessions_per_user = 2;
    tm_listen(f);
    char sid[128], headers[512];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    assert_false(session_refused(f, "alice"));
    assert_true(session_refused(f, "alice"));
    assert_false(session_refused(f, "bob"));

    headers_for(headers, sizeof headers, sid, V_OLD);
    struct tm_resp r;
    tm_exchange(f, "DELETE", "/mcp", headers, NULL, &r);
    assert_int_equal(r.status, 200);
    tm_resp_free(&r);
    assert_false(session_refused(f, "alice"));
    assert_true(session_refused(f, "alice"));
}

/* An expired session frees its slot by itself: the index is pruned when it is checked. */
static void test_expired_session_frees_its_slot(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_sessions_per_user = 1;
    f->cfg.session_ttl_ms = 300;
    tm_listen(f);
    assert_false(session_refused(f, "carol"));
    assert_true(session_refused(f, "carol"));
    tm_run_for(f, 450);
    assert_false(session_refused(f, "carol"));
}

#define LONG_CALL(id)                                                                              \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\",\"params\":{\"name\":"          \
    "\"longRunningOperation\",\"arguments\":{\"duration\":30,\"steps\":1}}}"

#define TOO_MANY_CALLS(id)                                                                         \
    "{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"error\":{\"code\":-32000,\"message\":\"Too many "       \
    "concurrent requests\"}}"

static bool calls_waiting(void *arg)
{
    struct tm_fixture *f = arg;
    return f->ctx.calls_in_flight == 2;
}

/* MAX_CALLS_PER_SESSION: two calls wait, the third is refused; a call that does not wait (ping)
 * still fits beside them, and another session has its own count. */
static void test_calls_per_session_bounded(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_calls_per_session = 2;
    tm_listen(f);
    char sid[128], other[128];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    tm_initialize(f, V_OLD, other, sizeof other);
    post_async(f, sid, LONG_CALL(1));
    post_async(f, sid, LONG_CALL(2));
    assert_true(tm_run_until(f, calls_waiting, f, TM_WAIT_MS));
    struct tm_resp r;
    post(f, sid, V_OLD, LONG_CALL(3), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, TOO_MANY_CALLS(3));
    tm_resp_free(&r);
    post(f, other, V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}", &r);
    assert_string_equal(r.body, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":4}");
    tm_resp_free(&r);
}

/* MAX_CALLS: the process-wide count refuses a call of any session. */
static void test_calls_per_process_bounded(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_calls = 2;
    tm_listen(f);
    char a[128], b[128];
    tm_initialize(f, V_OLD, a, sizeof a);
    tm_initialize(f, V_OLD, b, sizeof b);
    post_async(f, a, LONG_CALL(1));
    post_async(f, b, LONG_CALL(2));
    assert_true(tm_run_until(f, calls_waiting, f, TM_WAIT_MS));
    struct tm_resp r;
    post(f, b, V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}", &r);
    assert_string_equal(r.body, TOO_MANY_CALLS(9));
    tm_resp_free(&r);
}

static bool no_calls(void *arg)
{
    struct tm_fixture *f = arg;
    return f->ctx.calls_in_flight == 0 && hashmap_count(f->ctx.live) == 0;
}

/* MAX_CALL_DURATION_MS: a call waiting on a client that never answers is answered -32603 and
 * released (nothing live is left). */
static void test_call_deadline_answers_and_releases(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_call_duration_ms = 300;
    f->cfg.request_timeout_ms = 60000;
    tm_listen(f);
    char sid[128];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    struct tm_conn *c = post_async(f, sid,
                                   "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
                                   "\"params\":{\"name\":\"sampleLLM\",\"arguments\":{"
                                   "\"prompt\":\"x\"}}}");
    assert_true(tm_wait_for(f, c, "sampling/createMessage", 1, TM_WAIT_MS));
    struct tm_resp r;
    tm_wait(f, c, &r);
    assert_non_null(strstr(r.body, "data: {\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32603,"
                                   "\"message\":\"Request timed out: the call ran longer than "
                                   "the server allows (MAX_CALL_DURATION_MS)\"}}"));
    tm_resp_free(&r);
    assert_true(tm_run_until(f, no_calls, f, TM_WAIT_MS));
}

/* A call does not keep its session alive: once the session expires, a call waiting with no
 * stream open is answered and released (before, it ran on for as long as it asked). */
static void test_session_expiry_ends_waiting_call(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.session_ttl_ms = 300;
    tm_listen(f);
    char sid[128];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    struct tm_conn *c = post_async(f, sid, LONG_CALL(6));
    struct tm_resp r;
    tm_wait(f, c, &r);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":6,\"error\":{\"code\":-32603,"
                                "\"message\":\"Request cancelled: session expired\"}}");
    tm_resp_free(&r);
    assert_true(tm_run_until(f, no_calls, f, TM_WAIT_MS));
}

/* longRunningOperation refuses a duration past MAX_CALL_DURATION_MS and steps past
 * MAX_TOOL_STEPS (the reference server accepts any). */
static void test_long_running_arguments_bounded(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_call_duration_ms = 60000;
    f->cfg.max_tool_steps = 50;
    tm_listen(f);
    char sid[128];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    struct tm_resp r;
    post(f, sid, V_OLD,
         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"longRunningOperation\",\"arguments\":{\"duration\":1e9,\"steps\":1}}}",
         &r);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,"
                                "\"message\":\"Invalid params: duration must be at most 60 "
                                "seconds (MAX_CALL_DURATION_MS)\"}}");
    tm_resp_free(&r);
    post(f, sid, V_OLD,
         "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"longRunningOperation\",\"arguments\":{\"duration\":1,\"steps\":51}}}",
         &r);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,"
                                "\"message\":\"Invalid params: steps must be at most 50 "
                                "(MAX_TOOL_STEPS)\"}}");
    tm_resp_free(&r);
    assert_int_equal(f->ctx.calls_in_flight, 0);
}

/* A body with a string of n 'x' at %s. */
static char *with_long_string(const char *fmt, size_t n)
{
    char *x = malloc(n + 1);
    memset(x, 'x', n);
    x[n] = '\0';
    size_t cap = strlen(fmt) + n + 1;
    char *body = malloc(cap);
    snprintf(body, cap, fmt, x);
    free(x);
    return body;
}

/* MAX_ID_BYTES for request ids (-32600) and progress tokens (-32602), a batch included; the
 * oversized id is not echoed. */
static void test_id_and_progress_token_sizes(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_id_bytes = 64;
    tm_listen(f);
    char sid[128];
    tm_initialize(f, "2025-03-26", sid, sizeof sid);
    struct tm_resp r;
    char *body = with_long_string("{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"ping\"}", 63);
    post(f, sid, "2025-03-26", body, &r);
    free(body);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
                                "\"message\":\"Invalid Request: id longer than the server "
                                "allows (MAX_ID_BYTES)\"}}");
    tm_resp_free(&r);
    body = with_long_string("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":"
                            "\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
                            "\"echo\",\"_meta\":{\"progressToken\":\"%s\"}}}]",
                            63);
    post(f, sid, "2025-03-26", body, &r);
    free(body);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32602,"
                                "\"message\":\"Invalid params: progressToken longer than the "
                                "server allows (MAX_ID_BYTES)\"}}");
    tm_resp_free(&r);
    /* At the bound it is served. */
    body = with_long_string("{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"ping\"}", 62);
    post(f, sid, "2025-03-26", body, &r);
    free(body);
    assert_int_equal(r.status, 200);
    tm_resp_free(&r);
}

/* MAX_CAPABILITIES_BYTES at initialize: 400 -32602 with the request's id, no session made. */
static void test_capabilities_size(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_capabilities_bytes = 100;
    tm_listen(f);
    struct tm_resp r;
    char *body = with_long_string("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"initialize\","
                                  "\"params\":{\"protocolVersion\":\"" V_OLD "\","
                                  "\"capabilities\":{\"experimental\":{\"x\":\"%s\"}}}}",
                                  100);
    tm_exchange(f, "POST", "/mcp", TM_JSON_POST "MCP-Protocol-Version: " V_OLD "\r\n", body, &r);
    free(body);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32602,"
                                "\"message\":\"Invalid params: capabilities larger than the "
                                "server allows (MAX_CAPABILITIES_BYTES)\"}}");
    char v[64];
    assert_false(tm_header(&r, "Mcp-Session-Id", v, sizeof v));
    tm_resp_free(&r);
}

static void subscribe(struct tm_fixture *f, const char *sid, const char *uri, struct tm_resp *r)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/subscribe\",\"params\":{"
             "\"uri\":\"%s\"}}",
             uri);
    post(f, sid, V_OLD, body, r);
}

/* MAX_SUBSCRIPTIONS per session (a URI already subscribed costs nothing; unsubscribing frees a
 * place) and MAX_URI_BYTES. */
static void test_subscriptions_bounded(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_subscriptions = 2;
    f->cfg.max_uri_bytes = 40;
    tm_listen(f);
    char sid[128];
    struct tm_resp r;
    /* No sampling capability: the reference pack's subscribe sends no sampling request. */
    initialize_as(f, "alice", &r);
    assert_true(tm_header(&r, "Mcp-Session-Id", sid, sizeof sid));
    tm_resp_free(&r);
    const char *ok = "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":3}";
    const char *uris[] = {"test://static/resource/1", "test://static/resource/2",
                          "test://static/resource/1"};
    for (size_t i = 0; i < 3; i++) {
        subscribe(f, sid, uris[i], &r);
        assert_string_equal(r.body, ok);
        tm_resp_free(&r);
    }
    subscribe(f, sid, "test://static/resource/3", &r);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32000,"
                                "\"message\":\"Too many subscriptions (MAX_SUBSCRIPTIONS)\"}}");
    tm_resp_free(&r);
    post(f, sid, V_OLD,
         "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/unsubscribe\",\"params\":{"
         "\"uri\":\"test://static/resource/2\"}}",
         &r);
    tm_resp_free(&r);
    subscribe(f, sid, "test://static/resource/3", &r);
    assert_string_equal(r.body, ok);
    tm_resp_free(&r);
    subscribe(f, sid, "test://static/resource/0123456789012345678", &r);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,"
                                "\"message\":\"Invalid params: uri longer than the server allows "
                                "(MAX_URI_BYTES)\"}}");
    tm_resp_free(&r);
}

/* MAX_BATCH_ENTRIES refuses the batch; MAX_BATCH_RESPONSE_BYTES replaces the answers past it
 * with errors carrying their ids, so every request is still answered. */
static void test_batch_entries_and_answer_bytes(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.max_batch_entries = 3;
    f->cfg.max_batch_response_bytes = 80; /* two ping answers (38 bytes each) */
    tm_listen(f);
    char sid[128];
    tm_initialize(f, "2025-03-26", sid, sizeof sid);
    struct tm_resp r;
    post(f, sid, "2025-03-26",
         "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":2,"
         "\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"},{\"jsonrpc\":"
         "\"2.0\",\"id\":4,\"method\":\"ping\"}]",
         &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
                                "\"message\":\"Invalid Request: batch has more entries than the "
                                "server allows (MAX_BATCH_ENTRIES)\"}}");
    tm_resp_free(&r);
    post(f, sid, "2025-03-26",
         "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":2,"
         "\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}]",
         &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body,
                        "[{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1},{\"result\":{},"
                        "\"jsonrpc\":\"2.0\",\"id\":2},{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{"
                        "\"code\":-32603,\"message\":\"Internal error: batch response larger "
                        "than the server allows (MAX_BATCH_RESPONSE_BYTES)\"}}]");
    tm_resp_free(&r);
}

/* EVENT_LOG_ENTRY_MAX_BYTES: a large response goes to the client whole, but the log keeps only
 * an error with its id, which is what a resume replays; the stream still ends after it. */
static void test_large_event_replayed_as_error(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.event_log_entry_max_bytes = 300;
    tm_listen(f);
    char sid[128], headers[512];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    struct tm_resp r;
    /* No MCP-Protocol-Version: answered as SSE with event ids. */
    char *body = with_long_string("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\","
                                  "\"params\":{\"name\":\"echo\",\"arguments\":{\"message\":"
                                  "\"%s\"}}}",
                                  1000);
    post(f, sid, NULL, body, &r);
    free(body);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 1);
    assert_true(strlen(ev[0].data) > 1000);
    char stream[32];
    assert_int_equal(sscanf(ev[0].id, "%31[^:]:", stream), 1);
    free(ev);
    tm_resp_free(&r);

    snprintf(headers, sizeof headers,
             "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\nLast-Event-ID: %s:0\r\n", sid,
             stream);
    struct tm_conn *get = tm_send(f, "GET", "/mcp", headers, NULL);
    assert_true(tm_wait_for(f, get, "Response too large to replay", 1, TM_WAIT_MS));
    tm_parse(get, &r);
    assert_int_equal(r.status, 200);
    ev = tm_events(r.body, &n);
    assert_int_equal(n, 1);
    char id[64];
    snprintf(id, sizeof id, "%s:1", stream);
    assert_string_equal(ev[0].id, id);
    assert_string_equal(ev[0].data, "{\"jsonrpc\":\"2.0\",\"id\":8,\"error\":{\"code\":-32603,"
                                    "\"message\":\"Response too large to replay "
                                    "(EVENT_LOG_ENTRY_MAX_BYTES)\"}}");
    free(ev);
    tm_resp_free(&r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_sessions_per_user_bounded_and_freed_by_delete),
        T(test_expired_session_frees_its_slot),
        T(test_calls_per_session_bounded),
        T(test_calls_per_process_bounded),
        T(test_call_deadline_answers_and_releases),
        T(test_session_expiry_ends_waiting_call),
        T(test_long_running_arguments_bounded),
        T(test_id_and_progress_token_sizes),
        T(test_capabilities_size),
        T(test_subscriptions_bounded),
        T(test_batch_entries_and_answer_bytes),
        T(test_large_event_replayed_as_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
