/*
 * The legacy HTTP+SSE transport (GET /sse, POST /message) through mcp_sse_open and
 * mcp_sse_message behind a real http_server on a loopback port with the memory store and the
 * conformance pack: the endpoint event, answers arriving on the stream in order, the refusals
 * of /message with exact bodies, sessions that are not this transport's, server->client
 * requests, keep-alives that keep the session, and the stream's end ending the session.
 */
#include "testutil.h"

#include "lib/json.h"
#include "mcp/jsonrpc.h"
#include "testmcp.h"

static int setup(void **state)
{
    struct tm_fixture *f = tm_new("conformance");
    tm_listen(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    tm_free(*state);
    return 0;
}

#define ENDPOINT_PREFIX "event: endpoint\ndata: /message?sessionId="

/* Open /sse, wait for the endpoint event and copy the session id. */
static struct tm_conn *open_sse(struct tm_fixture *f, char *sid, size_t size)
{
    struct tm_conn *c = tm_send(f, "GET", "/sse", "Accept: text/event-stream\r\n", NULL);
    assert_true(tm_wait_for(f, c, ENDPOINT_PREFIX, 1, TM_WAIT_MS));
    assert_true(tm_wait_for(f, c, "\n\n", 1, TM_WAIT_MS));
    struct tm_resp r;
    tm_parse(c, &r);
    const char *p = strstr(r.body, ENDPOINT_PREFIX);
    assert_non_null(p);
    p += strlen(ENDPOINT_PREFIX);
    snprintf(sid, size, "%.*s", (int)strcspn(p, "\n"), p);
    tm_resp_free(&r);
    return c;
}

/* POST /message for sid (as user, NULL: the default); the status, the body into r. */
static int message(struct tm_fixture *f, const char *sid, const char *user, const char *body,
                   struct tm_resp *r)
{
    char target[160], headers[256];
    snprintf(target, sizeof target, "/message?sessionId=%s", sid);
    snprintf(headers, sizeof headers, "Content-Type: application/json\r\n%s%s%s",
             user ? "X-Test-User: " : "", user ? user : "", user ? "\r\n" : "");
    tm_exchange(f, "POST", target, headers, body, r);
    return r->status;
}

static int message_status(struct tm_fixture *f, const char *sid, const char *body)
{
    struct tm_resp r;
    int status = message(f, sid, NULL, body, &r);
    tm_resp_free(&r);
    return status;
}

/* Wait until the stream has n events after the endpoint event; return them (caller frees). */
static struct tm_event *stream_events(struct tm_fixture *f, struct tm_conn *c, int n, size_t *count)
{
    assert_true(tm_wait_for(f, c, "event: message\n", n, TM_WAIT_MS));
    struct tm_resp r;
    tm_parse(c, &r);
    struct tm_event *ev = tm_events(r.body, count);
    tm_resp_free(&r);
    assert_true(*count >= 1);
    assert_string_equal(ev[0].event, "endpoint");
    return ev;
}

static void test_open_sends_endpoint_event_first(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    assert_int_equal(strlen(sid), 36);
    struct tm_resp r;
    tm_parse(c, &r);
    assert_int_equal(r.status, 200);
    char v[128];
    assert_true(tm_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/event-stream");
    assert_true(tm_header(&r, "Cache-Control", v, sizeof v));
    assert_string_equal(v, "no-cache, no-transform");
    /* one Cache-Control only: the transport's, not a second one from the SSE layer */
    const char *first = strcasestr(r.head, "\r\nCache-Control:");
    assert_non_null(first);
    assert_null(strcasestr(first + 2, "\r\nCache-Control:"));
    assert_false(r.complete);
    char want[256];
    snprintf(want, sizeof want, ENDPOINT_PREFIX "%s\n\n", sid);
    assert_string_equal(r.body, want);
    tm_resp_free(&r);
}

/* Every answer comes on the stream, as "message" events without ids, in the order posted;
 * each POST itself is 202. */
static void test_answers_arrive_on_the_stream_in_order(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    struct tm_resp r;
    assert_int_equal(message(f, sid, NULL,
                             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                             "\"protocolVersion\":\"2024-11-05\",\"capabilities\":{}}}",
                             &r),
                     202);
    char v[64];
    assert_true(tm_header(&r, "Cache-Control", v, sizeof v));
    assert_string_equal(v, "no-store, max-age=0");
    assert_int_equal(r.body_len, 0);
    tm_resp_free(&r);
    assert_int_equal(message_status(f, sid,
                                    "{\"jsonrpc\":\"2.0\",\"method\":"
                                    "\"notifications/initialized\"}"),
                     202);
    assert_int_equal(message_status(f, sid, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"),
                     202);
    assert_int_equal(
        message_status(f, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"no/such\"}"), 202);
    size_t n;
    struct tm_event *ev = stream_events(f, c, 3, &n);
    assert_int_equal(n, 4);
    json_t *id = json_integer(0);
    json_t *want =
        jsonrpc_result(id, mcp_dispatch_initialize_result(f->ctx.dispatch, "2024-11-05"));
    json_t *got = json_loads(ev[1].data, 0, NULL);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    json_decref(id);
    for (size_t i = 1; i < 4; i++) {
        assert_string_equal(ev[i].event, "message");
        assert_string_equal(ev[i].id, "");
    }
    assert_string_equal(ev[2].data, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1}");
    assert_string_equal(ev[3].data, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,"
                                    "\"message\":\"Method not found\"}}");
    free(ev);
}

static void test_batch_answers_each_request_on_the_stream(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    assert_int_equal(
        message_status(f, sid,
                       "[{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"ping\"},"
                       "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
                       "{\"jsonrpc\":\"2.0\",\"id\":\"y\",\"method\":\"ping\"}]"),
        202);
    size_t n;
    struct tm_event *ev = stream_events(f, c, 2, &n);
    assert_int_equal(n, 3);
    assert_string_equal(ev[1].data, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":\"x\"}");
    assert_string_equal(ev[2].data, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":\"y\"}");
    free(ev);
}

/* Not a JSON-RPC message: the error goes on the stream (the POST was accepted). */
static void test_invalid_message_is_answered_on_the_stream(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    assert_int_equal(message_status(f, sid, "{\"jsonrpc\":\"2.0\",\"foo\":1}"), 202);
    size_t n;
    struct tm_event *ev = stream_events(f, c, 1, &n);
    assert_int_equal(n, 2);
    json_t *m = json_loads(ev[1].data, 0, NULL);
    assert_true(json_is_null(json_object_get(m, "id")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "error"), "code")),
                     JSONRPC_INVALID_REQUEST);
    json_decref(m);
    free(ev);
}

#define NOT_FOUND                                                                                  \
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,\"message\":\"Session not "       \
    "found\"}}"

static void test_message_refusals_have_exact_status_and_body(void **state)
{
    struct tm_fixture *f = *state;
    struct tm_resp r;
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    tm_exchange(f, "POST", "/message", "Content-Type: application/json\r\n", ping, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"Bad request\",\"error_description\":\"exactly one "
                                "sessionId query parameter is required\"}");
    tm_resp_free(&r);
    tm_exchange(f, "POST", "/message?sessionId=a&sessionId=b", "Content-Type: application/json\r\n",
                ping, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"Bad request\",\"error_description\":\"exactly one "
                                "sessionId query parameter is required\"}");
    tm_resp_free(&r);
    tm_exchange(f, "POST", "/message?sessionId=a", "Content-Type: text/plain\r\n", ping, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":\"Bad request\",\"error_description\":\"Content-Type "
                                "must be application/json\"}");
    tm_resp_free(&r);
    assert_int_equal(message(f, "a", NULL, "{oops", &r), 400);
    json_t *m = json_loads(r.body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "error"), "code")),
                     JSONRPC_PARSE_ERROR);
    json_decref(m);
    tm_resp_free(&r);
    assert_int_equal(message(f, "no-such-session", NULL, ping, &r), 404);
    assert_string_equal(r.body, NOT_FOUND);
    tm_resp_free(&r);
}

/* Another user's /sse session, and a /mcp session, are not found on /message; an /sse session
 * is not found on /mcp. */
static void test_sessions_of_other_users_and_transports_are_404(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128], mcp_sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    struct tm_resp r;
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    assert_int_equal(message(f, sid, "bob", ping, &r), 404);
    assert_string_equal(r.body, NOT_FOUND);
    tm_resp_free(&r);

    tm_initialize(f, "2025-06-18", mcp_sid, sizeof mcp_sid);
    assert_int_equal(message(f, mcp_sid, NULL, ping, &r), 404);
    assert_string_equal(r.body, NOT_FOUND);
    tm_resp_free(&r);

    char headers[512];
    snprintf(headers, sizeof headers,
             TM_JSON_POST "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-06-18\r\n", sid);
    tm_exchange(f, "POST", "/mcp", headers, ping, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, NOT_FOUND);
    tm_resp_free(&r);

    /* None of these reached the stream. */
    tm_run_for(f, 20);
    assert_null(strstr(c->raw, "event: message"));
}

/* A call's progress and result come on the stream, in order. */
static void test_streaming_call_progress_then_result(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    assert_int_equal(message_status(f, sid,
                                    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
                                    "\"params\":{\"name\":\"test_tool_with_progress\",\"_meta\":{"
                                    "\"progressToken\":9}}}"),
                     202);
    size_t n;
    struct tm_event *ev = stream_events(f, c, 4, &n);
    assert_int_equal(n, 5);
    for (int i = 0; i < 3; i++) {
        char want[256];
        snprintf(want, sizeof want,
                 "{\"method\":\"notifications/progress\",\"params\":{\"progress\":%d,\"total\":"
                 "100,\"message\":\"Completed step %d of 100\",\"progressToken\":9},\"jsonrpc\":"
                 "\"2.0\"}",
                 i * 50, i * 50);
        assert_string_equal(ev[1 + i].data, want);
    }
    assert_string_equal(ev[4].data, "{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"9\"}]"
                                    "},\"jsonrpc\":\"2.0\",\"id\":5}");
    free(ev);
}

/* Sampling: the request goes out on the stream; the client's response, POSTed to /message,
 * completes the call. */
static void test_sampling_request_answered_through_message(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    assert_int_equal(message_status(f, sid,
                                    "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
                                    "\"params\":{\"protocolVersion\":\"2024-11-05\","
                                    "\"capabilities\":{\"sampling\":{}}}}"),
                     202);
    assert_int_equal(message_status(f, sid,
                                    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\","
                                    "\"params\":{\"name\":\"test_sampling\",\"arguments\":{"
                                    "\"prompt\":\"q\"}}}"),
                     202);
    assert_true(tm_wait_for(f, c, "sampling/createMessage", 1, TM_WAIT_MS));
    assert_int_equal(message_status(f, sid,
                                    "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"role\":"
                                    "\"assistant\",\"content\":{\"type\":\"text\",\"text\":"
                                    "\"A\"},\"model\":\"m\"}}"),
                     202);
    size_t n;
    struct tm_event *ev = stream_events(f, c, 3, &n);
    assert_int_equal(n, 4);
    json_t *req = json_loads(ev[2].data, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(req, "method")),
                        "sampling/createMessage");
    assert_int_equal(json_integer_value(json_object_get(req, "id")), 0);
    json_decref(req);
    assert_string_equal(ev[3].data, "{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"LLM "
                                    "response: A\"}]},\"jsonrpc\":\"2.0\",\"id\":6}");
    free(ev);
}

/* The session's standalone channel (logging/setLevel's announcement) reaches the stream. */
static void test_session_notifications_reach_the_stream(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    assert_int_equal(message_status(f, sid,
                                    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\","
                                    "\"params\":{\"level\":\"info\"}}"),
                     202);
    size_t n;
    struct tm_event *ev = stream_events(f, c, 2, &n);
    assert_int_equal(n, 3);
    /* The announcement is published before the result is emitted; both arrive. */
    int announcement = strstr(ev[1].data, "Logging level set to: info") ? 1 : 2;
    assert_string_equal(ev[announcement].data,
                        "{\"method\":\"notifications/message\",\"params\":{\"level\":\"debug\","
                        "\"logger\":\"test-server\",\"data\":\"Logging level set to: info\"},"
                        "\"jsonrpc\":\"2.0\"}");
    assert_string_equal(ev[3 - announcement].data, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":3}");
    free(ev);
}

/* The stream is the session: when the client closes it, /message no longer finds it and
 * nothing stays live. */
static void test_closing_the_stream_ends_the_session(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    assert_int_equal(hashmap_count(f->ctx.live), 1);
    tm_close(f, c);
    assert_true(tm_run_until(f, tm_no_connections, f, TM_WAIT_MS));
    tm_run_for(f, 10);
    assert_int_equal(hashmap_count(f->ctx.live), 0);
    struct tm_resp r;
    assert_int_equal(
        message(f, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r), 404);
    assert_string_equal(r.body, NOT_FOUND);
    tm_resp_free(&r);
}

/* Ending the session elsewhere (DELETE's control message) ends the stream cleanly. */
static void test_session_destroyed_ends_the_stream(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    mcp_session_destroy(&f->ctx, sid, NULL, NULL, NULL);
    struct tm_resp r;
    tm_wait(f, c, &r);
    assert_int_equal(r.status, 200);
    char want[256];
    snprintf(want, sizeof want, ENDPOINT_PREFIX "%s\n\n", sid);
    assert_string_equal(r.body, want);
    tm_resp_free(&r);
}

/* An open stream keeps its session alive past the TTL with keep-alives (half the TTL apart),
 * even when the client sends nothing. */
static void test_open_stream_keeps_session_alive(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.session_ttl_ms = 150;
    char sid[128];
    struct tm_conn *c = open_sse(f, sid, sizeof sid);
    assert_true(tm_wait_for(f, c, ": keepalive\n\n", 4, TM_WAIT_MS));
    tm_run_for(f, 200); /* more than a TTL since the session was created */
    assert_int_equal(message_status(f, sid, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"),
                     202);
    size_t n;
    struct tm_event *ev = stream_events(f, c, 1, &n);
    assert_int_equal(n, 2);
    assert_string_equal(ev[1].data, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1}");
    free(ev);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_sends_endpoint_event_first),
        T(test_answers_arrive_on_the_stream_in_order),
        T(test_batch_answers_each_request_on_the_stream),
        T(test_invalid_message_is_answered_on_the_stream),
        T(test_message_refusals_have_exact_status_and_body),
        T(test_sessions_of_other_users_and_transports_are_404),
        T(test_streaming_call_progress_then_result),
        T(test_sampling_request_answered_through_message),
        T(test_session_notifications_reach_the_stream),
        T(test_closing_the_stream_ends_the_session),
        T(test_session_destroyed_ends_the_stream),
        T(test_open_stream_keeps_session_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
