/*
 * The Streamable HTTP transport (/mcp) through its one entry point, mcp_http_handle, behind a
 * real http_server on a loopback port with the memory store and the conformance pack: the
 * header refusals with their exact bodies, initialize and the session header, JSON and SSE
 * answers, notifications and responses (202), batches, the standalone GET stream, DELETE.
 */
#include "testutil.h"

#include "lib/json.h"
#include "mcp/jsonrpc.h"
#include "testmcp.h"

#define V_NEW "2025-11-25"
#define V_OLD "2025-06-18"

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

/* POST on a session with the given revision header (NULL: none); the whole response. */
static void post(struct tm_fixture *f, const char *sid, const char *version, const char *body,
                 struct tm_resp *r)
{
    char headers[512];
    int n = snprintf(headers, sizeof headers, TM_JSON_POST "Mcp-Session-Id: %s\r\n", sid);
    if (version)
        snprintf(headers + n, sizeof headers - (size_t)n, "MCP-Protocol-Version: %s\r\n", version);
    tm_exchange(f, "POST", "/mcp", headers, body, r);
}

static void assert_body(const struct tm_resp *r, const char *want)
{
    assert_string_equal(r->body, want);
}

static void assert_header(const struct tm_resp *r, const char *name, const char *want)
{
    char v[256];
    assert_true(tm_header(r, name, v, sizeof v));
    assert_string_equal(v, want);
}

static void test_initialize_creates_session_and_answers_json(void **state)
{
    struct tm_fixture *f = *state;
    struct tm_resp r;
    tm_exchange(f, "POST", "/mcp", TM_JSON_POST "MCP-Protocol-Version: " V_OLD "\r\n",
                "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"" V_OLD "\",\"capabilities\":{}}}",
                &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "application/json");
    char sid[128];
    assert_true(tm_header(&r, "Mcp-Session-Id", sid, sizeof sid));
    assert_int_equal(strlen(sid), 36); /* a UUID */
    json_t *id = json_integer(7);
    json_t *want = jsonrpc_result(id, mcp_dispatch_initialize_result(f->ctx.dispatch, V_OLD));
    json_t *got = json_loads(r.body, 0, NULL);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    json_decref(id);
    tm_resp_free(&r);

    /* The session exists: a ping on it is answered. */
    post(f, sid, V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Mcp-Session-Id", sid);
    assert_body(&r, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1}");
    tm_resp_free(&r);
}

/* Without MCP-Protocol-Version (scripts, the reference server's clients) the answer is one SSE
 * event without an id: nothing to resume. */
static void test_initialize_without_version_header_answers_one_sse_event(void **state)
{
    struct tm_fixture *f = *state;
    struct tm_resp r;
    tm_exchange(f, "POST", "/mcp", TM_JSON_POST,
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"2024-11-05\"}}",
                &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/event-stream");
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].id, "");
    assert_string_equal(ev[0].event, "message");
    json_t *got = json_loads(ev[0].data, 0, NULL);
    json_t *id = json_integer(1);
    json_t *want =
        jsonrpc_result(id, mcp_dispatch_initialize_result(f->ctx.dispatch, "2024-11-05"));
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    json_decref(id);
    free(ev);
    tm_resp_free(&r);
}

static void test_initialize_without_protocol_version_is_invalid_params(void **state)
{
    struct tm_fixture *f = *state;
    struct tm_resp r;
    tm_exchange(f, "POST", "/mcp", TM_JSON_POST,
                "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{}}", &r);
    assert_int_equal(r.status, 400);
    assert_body(&r,
                "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,\"message\":\"Invalid "
                "params: protocolVersion must be a string and capabilities an "
                "object\"}}");
    tm_resp_free(&r);
}

static void test_header_refusals_have_exact_status_and_body(void **state)
{
    struct tm_fixture *f = *state;
    struct tm_resp r;
    const char *ping = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";

    tm_exchange(f, "POST", "/mcp", "Accept: application/json\r\nContent-Type: application/json\r\n",
                ping, &r);
    assert_int_equal(r.status, 406);
    assert_body(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Not "
                    "Acceptable: Client must accept both application/json and "
                    "text/event-stream\"}}");
    tm_resp_free(&r);

    tm_exchange(f, "POST", "/mcp", TM_ACCEPT_BOTH "Content-Type: text/plain\r\n", ping, &r);
    assert_int_equal(r.status, 415);
    assert_body(
        &r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Unsupported "
            "Media Type: Content-Type must be application/json\"}}");
    tm_resp_free(&r);

    tm_exchange(f, "GET", "/mcp", "Accept: application/json\r\nMcp-Session-Id: x\r\n", NULL, &r);
    assert_int_equal(r.status, 406);
    assert_body(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Not "
                    "Acceptable: Client must accept text/event-stream\"}}");
    tm_resp_free(&r);

    tm_exchange(f, "PUT", "/mcp", TM_JSON_POST, ping, &r);
    assert_int_equal(r.status, 405);
    assert_header(&r, "Allow", "GET, POST, DELETE");
    assert_body(
        &r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Method not "
            "allowed\"}}");
    tm_resp_free(&r);
}

static void test_bad_requests_are_400_with_exact_body(void **state)
{
    struct tm_fixture *f = *state;
    struct tm_resp r;
    tm_exchange(f, "POST", "/mcp", TM_JSON_POST,
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
    assert_int_equal(r.status, 400);
    assert_body(
        &r,
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Bad Request: "
        "Mcp-Session-Id header is required\"}}");
    tm_resp_free(&r);

    char sid[128];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    post(f, sid, "1999-01-01", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
    assert_int_equal(r.status, 400);
    assert_body(
        &r,
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Bad Request: "
        "Unsupported protocol version (supported versions: 2025-11-25, 2025-06-18, "
        "2025-03-26, 2024-11-05)\"}}");
    tm_resp_free(&r);

    post(f, sid, V_OLD, "{\"jsonrpc\":", &r);
    assert_int_equal(r.status, 400);
    json_t *body = json_loads(r.body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "error"), "code")),
                     JSONRPC_PARSE_ERROR);
    assert_true(json_is_null(json_object_get(body, "id")));
    json_decref(body);
    tm_resp_free(&r);

    post(f, sid, V_OLD,
         "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":2,"
         "\"method\":\"ping\"}]",
         &r);
    assert_int_equal(r.status, 400);
    assert_body(&r,
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid "
                "Request: batches are only allowed in protocol version 2025-03-26\"}}");
    tm_resp_free(&r);

    post(f, sid, V_OLD,
         "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"initialize\",\"params\":{"
         "\"protocolVersion\":\"" V_OLD "\"}}",
         &r);
    assert_int_equal(r.status, 400);
    assert_body(&r,
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid "
                "Request: Server already initialized\"}}");
    tm_resp_free(&r);
}

#define NOT_FOUND                                                                                  \
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,\"message\":\"Session not "       \
    "found\"}}"

/* An unknown id, and another user's session on every method: the same 404, so nothing tells
 * which sessions exist. */
static void test_unknown_or_foreign_session_is_404(void **state)
{
    struct tm_fixture *f = *state;
    struct tm_resp r;
    post(f, "no-such-session", V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
    assert_int_equal(r.status, 404);
    assert_body(&r, NOT_FOUND);
    tm_resp_free(&r);

    char sid[128], headers[512];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    snprintf(headers, sizeof headers,
             TM_JSON_POST "X-Test-User: bob\r\nMcp-Session-Id: %s\r\nMCP-Protocol-Version: " V_OLD
                          "\r\n",
             sid);
    const char *methods[] = {"POST", "GET", "DELETE"};
    for (size_t i = 0; i < 3; i++) {
        tm_exchange(f, methods[i], "/mcp", headers,
                    i == 0 ? "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}" : NULL, &r);
        assert_int_equal(r.status, 404);
        assert_body(&r, NOT_FOUND);
        tm_resp_free(&r);
    }
    /* Still alice's: bob's DELETE did not end it. */
    post(f, sid, V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", &r);
    assert_int_equal(r.status, 200);
    tm_resp_free(&r);
}

static void test_notification_and_response_alone_get_202(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    struct tm_resp r;
    post(f, sid, V_OLD, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r);
    assert_int_equal(r.status, 202);
    assert_int_equal(r.body_len, 0);
    tm_resp_free(&r);
    /* A response nobody awaits is still accepted. */
    post(f, sid, V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{}}", &r);
    assert_int_equal(r.status, 202);
    assert_int_equal(r.body_len, 0);
    tm_resp_free(&r);
}

static void test_batch_in_2025_03_26_answers_array_in_order(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    tm_initialize(f, "2025-03-26", sid, sizeof sid);
    struct tm_resp r;
    post(f, sid, "2025-03-26",
         "[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"method\":"
         "\"notifications/initialized\"},{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"nope\"}]",
         &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "[{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":\"a\"},{\"jsonrpc\":\"2.0\","
                    "\"id\":\"b\",\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}]");
    tm_resp_free(&r);

    post(f, sid, "2025-03-26", "[]", &r);
    assert_int_equal(r.status, 400);
    assert_body(&r,
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"Invalid "
                "Request: empty batch\"}}");
    tm_resp_free(&r);
}

static const char *PROGRESS_CALL =
    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":"
    "\"test_tool_with_progress\",\"_meta\":{\"progressToken\":\"tok\"}}}";

static void assert_progress_events(const struct tm_event *ev, const char *stream, uint64_t first)
{
    const char *want[] = {
        "{\"method\":\"notifications/progress\",\"params\":{\"progress\":0,"
        "\"total\":100,\"message\":\"Completed step 0 of "
        "100\",\"progressToken\":\"tok\"},\"jsonrpc\":\"2.0\"}",
        "{\"method\":\"notifications/progress\",\"params\":{\"progress\":50,"
        "\"total\":100,\"message\":\"Completed step 50 of "
        "100\",\"progressToken\":\"tok\"},\"jsonrpc\":\"2.0\"}",
        "{\"method\":\"notifications/progress\",\"params\":{\"progress\":100,"
        "\"total\":100,\"message\":\"Completed step 100 of "
        "100\",\"progressToken\":\"tok\"},\"jsonrpc\":\"2.0\"}",
        "{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"tok\"}]},\"jsonrpc\":\"2.0\","
        "\"id\":5}",
    };
    for (size_t i = 0; i < 4; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s:%llu", stream, (unsigned long long)(first + i));
        assert_string_equal(ev[i].id, id);
        assert_string_equal(ev[i].event, "message");
        assert_string_equal(ev[i].data, want[i]);
    }
}

/* A call that sends progress first switches the POST to SSE; a 2025-11-25 client gets the
 * priming event (seq 0, retry hint, empty data) before it. */
static void test_streaming_call_answers_sse_with_priming_event(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    tm_initialize(f, V_NEW, sid, sizeof sid);
    struct tm_resp r;
    post(f, sid, V_NEW, PROGRESS_CALL, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/event-stream");
    assert_header(&r, "Mcp-Session-Id", sid);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 5);
    char stream[32];
    assert_int_equal(sscanf(ev[0].id, "%31[^:]:", stream), 1);
    assert_int_equal(strlen(stream), 17);
    assert_int_equal(stream[0], 'p');
    char prime_id[64];
    snprintf(prime_id, sizeof prime_id, "%s:0", stream);
    assert_string_equal(ev[0].id, prime_id);
    assert_int_equal(ev[0].retry, 1000);
    assert_string_equal(ev[0].data, "");
    assert_progress_events(ev + 1, stream, 1);
    free(ev);
    tm_resp_free(&r);
}

static void test_streaming_call_for_older_client_has_no_priming_event(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    struct tm_resp r;
    post(f, sid, V_OLD, PROGRESS_CALL, &r);
    assert_int_equal(r.status, 200);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 4);
    char stream[32];
    assert_int_equal(sscanf(ev[0].id, "%31[^:]:", stream), 1);
    assert_progress_events(ev, stream, 1);
    free(ev);
    tm_resp_free(&r);
}

/* A JSON-framed call cancelled by the client: its POST still gets an answer, the -32603
 * "Request cancelled" error with its id (an empty body or a 202 answers no request). */
static void test_cancelled_json_call_gets_cancelled_error(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128], headers[512];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    snprintf(headers, sizeof headers,
             TM_JSON_POST "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: " V_OLD "\r\n", sid);
    /* Without a progress token the tool waits silently, so the answer is still undecided. */
    struct tm_conn *call = tm_send(f, "POST", "/mcp", headers,
                                   "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"tools/call\","
                                   "\"params\":{\"name\":\"test_tool_with_progress\"}}");
    tm_run_for(f, 20);
    assert_int_equal(call->len, 0);
    struct tm_resp r;
    post(f, sid, V_OLD,
         "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":"
         "77}}",
         &r);
    assert_int_equal(r.status, 202);
    tm_resp_free(&r);
    tm_wait(f, call, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "application/json");
    assert_body(&r, "{\"jsonrpc\":\"2.0\",\"id\":77,\"error\":{\"code\":-32603,"
                    "\"message\":\"Request cancelled: notifications/cancelled\"}}");
    tm_resp_free(&r);
}

/* The standalone stream: priming event, then what the session publishes for it
 * (logging/setLevel's announcement). */
static void test_get_stream_receives_session_notifications(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128], headers[512];
    tm_initialize(f, V_NEW, sid, sizeof sid);
    snprintf(headers, sizeof headers,
             "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\nMCP-Protocol-Version: " V_NEW
             "\r\n",
             sid);
    struct tm_conn *get = tm_send(f, "GET", "/mcp", headers, NULL);
    assert_true(tm_wait_for(f, get, "retry: 1000", 1, TM_WAIT_MS));
    struct tm_resp r;
    post(f, sid, V_NEW,
         "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"logging/setLevel\",\"params\":{\"level\":"
         "\"error\"}}",
         &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":3}");
    tm_resp_free(&r);
    assert_true(tm_wait_for(f, get, "Logging level set to", 1, TM_WAIT_MS));
    tm_parse(get, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/event-stream");
    assert_header(&r, "Mcp-Session-Id", sid);
    assert_false(r.complete);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 2);
    char stream[32], want_id[64];
    assert_int_equal(sscanf(ev[0].id, "%31[^:]:", stream), 1);
    assert_int_equal(stream[0], 'g');
    snprintf(want_id, sizeof want_id, "%s:0", stream);
    assert_string_equal(ev[0].id, want_id);
    assert_string_equal(ev[0].data, "");
    snprintf(want_id, sizeof want_id, "%s:1", stream);
    assert_string_equal(ev[1].id, want_id);
    assert_string_equal(ev[1].data,
                        "{\"method\":\"notifications/message\",\"params\":{"
                        "\"level\":\"debug\",\"logger\":\"test-server\",\"data\":\"Logging level "
                        "set to: error\"},\"jsonrpc\":\"2.0\"}");
    free(ev);
    tm_resp_free(&r);
}

/* DELETE ends the session on every front: the GET stream ends cleanly, a waiting call is
 * answered with an error naming why, and the id is then unknown. */
static void test_delete_ends_streams_calls_and_session(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128], headers[512];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    snprintf(headers, sizeof headers,
             TM_JSON_POST "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: " V_OLD "\r\n", sid);
    struct tm_conn *get = tm_send(f, "GET", "/mcp", headers, NULL);
    assert_true(tm_wait_for(f, get, "\r\n\r\n", 1, TM_WAIT_MS));
    struct tm_conn *call = tm_send(f, "POST", "/mcp", headers,
                                   "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\","
                                   "\"params\":{\"name\":\"test_tool_with_progress\"}}");
    tm_run_for(f, 20);
    struct tm_resp r;
    tm_exchange(f, "DELETE", "/mcp", headers, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    tm_resp_free(&r);

    tm_wait(f, get, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0); /* no event before the end */
    tm_resp_free(&r);
    tm_wait(f, call, &r);
    assert_int_equal(r.status, 200);
    assert_body(&r,
                "{\"jsonrpc\":\"2.0\",\"id\":8,\"error\":{\"code\":-32603,\"message\":\"Request "
                "cancelled: session deleted\"}}");
    tm_resp_free(&r);

    post(f, sid, V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
    assert_int_equal(r.status, 404);
    assert_body(&r, NOT_FOUND);
    tm_resp_free(&r);
    tm_exchange(f, "DELETE", "/mcp", headers, NULL, &r);
    assert_int_equal(r.status, 404);
    tm_resp_free(&r);
}

/* A server->client request goes out on the POST's stream; the client's reply, POSTed on its
 * own, gets 202 and completes the call on the first stream. */
static void test_sampling_request_and_reply_over_two_posts(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128], headers[512];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    snprintf(headers, sizeof headers,
             TM_JSON_POST "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: " V_OLD "\r\n", sid);
    struct tm_conn *call = tm_send(f, "POST", "/mcp", headers,
                                   "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\","
                                   "\"params\":{\"name\":\"test_sampling\",\"arguments\":{"
                                   "\"prompt\":\"hi\"}}}");
    assert_true(tm_wait_for(f, call, "sampling/createMessage", 1, TM_WAIT_MS));
    struct tm_resp r;
    post(f, sid, V_OLD,
         "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"role\":\"assistant\",\"content\":{\"type\":"
         "\"text\",\"text\":\"sampled\"},\"model\":\"m\"}}",
         &r);
    assert_int_equal(r.status, 202);
    tm_resp_free(&r);
    tm_wait(f, call, &r);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 2);
    json_t *req = json_loads(ev[0].data, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(req, "method")),
                        "sampling/createMessage");
    assert_int_equal(json_integer_value(json_object_get(req, "id")), 0);
    json_decref(req);
    assert_string_equal(ev[1].data, "{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"LLM "
                                    "response: sampled\"}]},\"jsonrpc\":\"2.0\",\"id\":11}");
    free(ev);
    tm_resp_free(&r);
}

static void test_response_mode_sse_streams_even_a_ping(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.response_mode = "sse";
    char sid[128];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    struct tm_resp r;
    post(f, sid, V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Content-Type", "text/event-stream");
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].data, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1}");
    free(ev);
    tm_resp_free(&r);
}

/* Resumption on GET: Last-Event-ID of the standalone stream replays what followed it, then
 * the same stream continues live with the next seq. */
static void test_get_with_last_event_id_replays_then_follows(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128], headers[512];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    snprintf(headers, sizeof headers,
             "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\nMCP-Protocol-Version: " V_OLD
             "\r\n",
             sid);
    const char *set_level = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\","
                            "\"params\":{\"level\":\"%s\"}}";
    char body[256];
    struct tm_resp r;
    struct tm_conn *get = tm_send(f, "GET", "/mcp", headers, NULL);
    assert_true(tm_wait_for(f, get, "\r\n\r\n", 1, TM_WAIT_MS));
    const char *levels[] = {"error", "info", "notice"};
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof body, set_level, levels[i]);
        post(f, sid, V_OLD, body, &r);
        tm_resp_free(&r);
    }
    assert_true(tm_wait_for(f, get, "Logging level set to: info", 1, TM_WAIT_MS));
    tm_parse(get, &r);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 2);
    char stream[32];
    assert_int_equal(sscanf(ev[0].id, "%31[^:]:", stream), 1);
    free(ev);
    tm_resp_free(&r);
    tm_close(f, get);

    char resume_headers[640];
    snprintf(resume_headers, sizeof resume_headers, "%sLast-Event-ID: %s:1\r\n", headers, stream);
    get = tm_send(f, "GET", "/mcp", resume_headers, NULL);
    assert_true(tm_wait_for(f, get, "Logging level set to: info", 1, TM_WAIT_MS));
    snprintf(body, sizeof body, set_level, levels[2]);
    post(f, sid, V_OLD, body, &r);
    tm_resp_free(&r);
    assert_true(tm_wait_for(f, get, "Logging level set to: notice", 1, TM_WAIT_MS));
    tm_parse(get, &r);
    ev = tm_events(r.body, &n);
    assert_int_equal(n, 2);
    /* Event 2 replayed as first sent; the live one goes on under a new stream id, from seq 1. */
    char id[64];
    snprintf(id, sizeof id, "%s:2", stream);
    assert_string_equal(ev[0].id, id);
    assert_non_null(strstr(ev[0].data, "Logging level set to: info"));
    assert_int_equal(strncmp(ev[1].id, stream, strlen(stream)) != 0, 1);
    assert_int_equal(ev[1].id[0], 'g');
    assert_non_null(strstr(ev[1].id, ":1"));
    assert_non_null(strstr(ev[1].data, "Logging level set to: notice"));
    free(ev);
    tm_resp_free(&r);
}

/* SSE polling (a 2025-11-25 client): the call ends its POST response early with a retry hint;
 * the client resumes on GET with the last id and gets the result, after which that GET ends. */
static void test_closed_post_stream_resumes_on_get_until_the_result(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128], headers[512];
    tm_initialize(f, V_NEW, sid, sizeof sid);
    struct tm_resp r;
    post(f, sid, V_NEW,
         "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"test_reconnection\"}}",
         &r);
    assert_int_equal(r.status, 200);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 2);
    char stream[32], want[64];
    assert_int_equal(sscanf(ev[0].id, "%31[^:]:", stream), 1);
    assert_int_equal(stream[0], 'p');
    snprintf(want, sizeof want, "%s:0", stream);
    assert_string_equal(ev[0].id, want);
    assert_string_equal(ev[1].id, "");
    assert_int_equal(ev[1].retry, 500);
    free(ev);
    tm_resp_free(&r);

    snprintf(headers, sizeof headers,
             "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\nMCP-Protocol-Version: " V_NEW
             "\r\nLast-Event-ID: %s:0\r\n",
             sid, stream);
    struct tm_conn *get = tm_send(f, "GET", "/mcp", headers, NULL);
    tm_wait(f, get, &r);
    assert_int_equal(r.status, 200);
    ev = tm_events(r.body, &n);
    assert_int_equal(n, 1);
    snprintf(want, sizeof want, "%s:1", stream);
    assert_string_equal(ev[0].id, want);
    assert_string_equal(ev[0].data,
                        "{\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"Reconnection "
                        "test completed successfully. If you received this, the client properly "
                        "reconnected after stream closure.\"}]},\"jsonrpc\":\"2.0\",\"id\":21}");
    free(ev);
    tm_resp_free(&r);
}

/* Once shutdown has begun no session is created and no standalone stream opened (503), while
 * requests on existing sessions are still served. */
static void test_shutting_down_refuses_new_sessions_and_streams(void **state)
{
    struct tm_fixture *f = *state;
    char sid[128], headers[512];
    tm_initialize(f, V_OLD, sid, sizeof sid);
    f->ctx.shutting_down = 1;
    struct tm_resp r;
    tm_exchange(f, "POST", "/mcp", TM_JSON_POST,
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                "\"protocolVersion\":\"" V_OLD "\"}}",
                &r);
    assert_int_equal(r.status, 503);
    assert_body(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":"
                    "\"Server is shutting down\"}}");
    tm_resp_free(&r);
    snprintf(headers, sizeof headers,
             TM_JSON_POST "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: " V_OLD "\r\n", sid);
    tm_exchange(f, "GET", "/mcp", headers, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_body(&r, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":"
                    "\"Server is shutting down\"}}");
    tm_resp_free(&r);
    post(f, sid, V_OLD, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", &r);
    assert_int_equal(r.status, 200);
    assert_body(&r, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":2}");
    tm_resp_free(&r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_initialize_creates_session_and_answers_json),
        T(test_initialize_without_version_header_answers_one_sse_event),
        T(test_initialize_without_protocol_version_is_invalid_params),
        T(test_header_refusals_have_exact_status_and_body),
        T(test_bad_requests_are_400_with_exact_body),
        T(test_unknown_or_foreign_session_is_404),
        T(test_notification_and_response_alone_get_202),
        T(test_batch_in_2025_03_26_answers_array_in_order),
        T(test_streaming_call_answers_sse_with_priming_event),
        T(test_streaming_call_for_older_client_has_no_priming_event),
        T(test_cancelled_json_call_gets_cancelled_error),
        T(test_get_stream_receives_session_notifications),
        T(test_delete_ends_streams_calls_and_session),
        T(test_sampling_request_and_reply_over_two_posts),
        T(test_response_mode_sse_streams_even_a_ping),
        T(test_get_with_last_event_id_replays_then_follows),
        T(test_closed_post_stream_resumes_on_get_until_the_result),
        T(test_shutting_down_refuses_new_sessions_and_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
