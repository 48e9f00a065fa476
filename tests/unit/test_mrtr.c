/*
 * Multi round-trip requests (2026-07-28): the conformance pack's input_required fixtures driven
 * through mcp_dispatch_request with a stateless session on the real loop and memory store, each
 * retry a new request carrying inputResponses and the requestState of the previous answer, as a
 * client would send it.
 */
#include "testutil.h"
#include "testdispatch.h"

#include <time.h>

#include "app/config.h"
#include "lib/hashmap.h"
#include "lib/json.h"
#include "mcp/context.h"
#include "mcp/dispatch.h"
#include "mcp/jsonrpc.h"
#include "mcp/request_state.h"
#include "mcp/session.h"
#include "store/store.h"

#define SECRET "test-request-state-secret-0123456789"

static int setup(void **state)
{
    struct td_fixture *f = td_new("conformance");
    f->cfg.request_state_secret = SECRET;
    f->cfg.request_state_ttl_s = 300;
    f->sess.protocol_version = strdup("2026-07-28");
    f->sess.client_capabilities =
        json_pack("{s:{},s:{},s:{s:b}}", "sampling", "elicitation", "roots", "listChanged", 1);
    f->sess.stateless = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct td_fixture *f = *state;
    td_close(f);
    assert_int_equal(f->ctx.calls_in_flight, 0);
    free(f);
    return 0;
}

/* Send method with params (stolen) and run the loop until its answer; returns the response
 * (borrowed from the recorder). Exactly one message, the final one, is expected. */
static json_t *call(struct td_fixture *f, const char *method, json_t *params)
{
    json_t *req = json_pack("{s:s,s:i,s:s,s:o}", "jsonrpc", "2.0", "id", ++f->next_id, "method",
                            method, "params", params);
    int before = f->rec.finals;
    size_t seen = json_array_size(f->rec.messages);
    mcp_dispatch_request(&f->ctx, &f->sess, req, &f->rec.sink);
    json_decref(req);
    for (int i = 0; i < 1000 && f->rec.finals == before; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->rec.finals, before + 1);
    assert_int_equal(json_array_size(f->rec.messages), seen + 1);
    return json_array_get(f->rec.messages, seen);
}

static json_t *tool(struct td_fixture *f, const char *name, json_t *responses, const char *state)
{
    json_t *params = json_pack("{s:s,s:{}}", "name", name, "arguments");
    if (responses)
        json_object_set_new(params, "inputResponses", responses);
    if (state)
        json_object_set_new(params, "requestState", json_string(state));
    return call(f, "tools/call", params);
}

static json_t *accepted(json_t *content)
{
    return json_pack("{s:s,s:o}", "action", "accept", "content", content);
}

static json_t *sampled(const char *text)
{
    return json_pack("{s:s,s:{s:s,s:s},s:s,s:s}", "role", "assistant", "content", "type", "text",
                     "text", text, "model", "test-model", "stopReason", "endTurn");
}

static json_t *result_of(json_t *response)
{
    json_t *r = json_object_get(response, "result");
    assert_non_null(r);
    return r;
}

static const char *text_of(json_t *response)
{
    json_t *content = json_object_get(result_of(response), "content");
    return json_string_value(json_object_get(json_array_get(content, 0), "text"));
}

static json_t *input_required(json_t *response)
{
    json_t *r = result_of(response);
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "input_required");
    assert_true(json_is_string(json_object_get(r, "requestState")));
    return json_object_get(r, "inputRequests");
}

/* Copy of the response's requestState (the recorder keeps the response). */
static char *state_of(json_t *response)
{
    return strdup(json_string_value(json_object_get(result_of(response), "requestState")));
}

static int error_code(json_t *response)
{
    json_t *e = json_object_get(response, "error");
    assert_non_null(e);
    return (int)json_integer_value(json_object_get(e, "code"));
}

static void test_one_round_asks_then_completes(void **state)
{
    struct td_fixture *f = *state;
    json_t *r1 = tool(f, "test_input_required_result_elicitation", NULL, NULL);
    json_t *reqs = input_required(r1);
    assert_int_equal(json_object_size(reqs), 1);
    json_t *ask = json_object_get(reqs, "user_name");
    assert_string_equal(json_string_value(json_object_get(ask, "method")), "elicitation/create");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ask, "params"), "message")),
        "What is your name?");
    char *s = state_of(r1);
    json_t *r2 =
        tool(f, "test_input_required_result_elicitation",
             json_pack("{s:o}", "user_name", accepted(json_pack("{s:s}", "name", "Alice"))), s);
    assert_string_equal(text_of(r2), "Hello, Alice!");
    assert_null(json_object_get(result_of(r2), "requestState"));
    free(s);
}

static void test_multi_round_carries_earlier_answers_in_the_state(void **state)
{
    struct td_fixture *f = *state;
    const char *name = "test_input_required_result_multi_round";
    json_t *r1 = tool(f, name, NULL, NULL);
    assert_non_null(json_object_get(input_required(r1), "step1"));
    char *s1 = state_of(r1);
    json_t *r2 =
        tool(f, name, json_pack("{s:o}", "step1", accepted(json_pack("{s:s}", "name", "Al"))), s1);
    json_t *reqs = input_required(r2);
    assert_int_equal(json_object_size(reqs), 1);
    assert_non_null(json_object_get(reqs, "step2"));
    char *s2 = state_of(r2);
    assert_string_not_equal(s1, s2);
    /* round 3 answers only step2: step1 comes back from the state */
    json_t *r3 = tool(
        f, name, json_pack("{s:o}", "step2", accepted(json_pack("{s:s}", "color", "blue"))), s2);
    assert_string_equal(text_of(r3), "name=Al, color=blue");
    /* without the state, step1 is asked again */
    json_t *r4 = tool(
        f, name, json_pack("{s:o}", "step2", accepted(json_pack("{s:s}", "color", "blue"))), NULL);
    assert_non_null(json_object_get(input_required(r4), "step1"));
    free(s1);
    free(s2);
}

static json_t *three_answers(void)
{
    return json_pack("{s:o,s:o,s:{s:[{s:s,s:s}]}}", "user_name",
                     accepted(json_pack("{s:s}", "name", "Bo")), "greeting", sampled("Hi!"),
                     "client_roots", "roots", "uri", "file:///r", "name", "R");
}

static void test_several_requests_in_one_round(void **state)
{
    struct td_fixture *f = *state;
    const char *name = "test_input_required_result_multiple_inputs";
    json_t *r1 = tool(f, name, NULL, NULL);
    json_t *reqs = input_required(r1);
    assert_int_equal(json_object_size(reqs), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(reqs, "user_name"), "method")),
        "elicitation/create");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(reqs, "greeting"), "method")),
        "sampling/createMessage");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(reqs, "client_roots"), "method")),
        "roots/list");
    char *s = state_of(r1);
    json_t *r2 = tool(f, name, three_answers(), s);
    assert_string_equal(text_of(r2), "name=Bo; sampled=Hi!; roots=file:///r");
    free(s);
}

static void test_missing_response_is_asked_again_alone(void **state)
{
    struct td_fixture *f = *state;
    const char *name = "test_input_required_result_multiple_inputs";
    json_t *answers = three_answers();
    json_object_del(answers, "greeting");
    json_object_set_new(answers, "wrong_key", accepted(json_object()));
    json_t *r1 = tool(f, name, answers, NULL);
    json_t *reqs = input_required(r1);
    assert_int_equal(json_object_size(reqs), 1);
    assert_non_null(json_object_get(reqs, "greeting"));
    char *s = state_of(r1);
    json_t *r2 = tool(f, name, json_pack("{s:o}", "greeting", sampled("Yo")), s);
    assert_string_equal(text_of(r2), "name=Bo; sampled=Yo; roots=file:///r");
    free(s);
}

static void test_tampered_state_is_refused(void **state)
{
    struct td_fixture *f = *state;
    const char *name = "test_input_required_result_tampered_state";
    json_t *r1 = tool(f, name, NULL, NULL);
    char *s = state_of(r1);
    char *tampered = malloc(strlen(s) + 10);
    sprintf(tampered, "%s-TAMPERED", s);
    json_t *r2 = tool(f, name, json_pack("{s:o}", "confirm", accepted(json_pack("{s:b}", "ok", 1))),
                      tampered);
    assert_int_equal(error_code(r2), JSONRPC_INVALID_PARAMS);
    s[10] = s[10] == 'A' ? 'B' : 'A';
    json_t *r3 =
        tool(f, name, json_pack("{s:o}", "confirm", accepted(json_pack("{s:b}", "ok", 1))), s);
    assert_int_equal(error_code(r3), JSONRPC_INVALID_PARAMS);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(r3, "error"), "data"), "reason")),
                        "tampered");
    free(tampered);
    free(s);
}

static void test_verified_state_completes_with_state_ok(void **state)
{
    struct td_fixture *f = *state;
    const char *name = "test_input_required_result_request_state";
    char *s = state_of(tool(f, name, NULL, NULL));
    json_t *r =
        tool(f, name, json_pack("{s:o}", "confirm", accepted(json_pack("{s:b}", "ok", 1))), s);
    assert_string_equal(text_of(r), "state-ok: confirmed=true");
    free(s);
}

static const char *reason_of(json_t *response)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(response, "error"), "data"), "reason"));
}

static void test_expired_state_is_refused(void **state)
{
    struct td_fixture *f = *state;
    char d[REQUEST_STATE_DIGEST_SIZE];
    json_t *args = json_object();
    request_state_digest(args, d);
    json_decref(args);
    struct request_state_bind b = {.method = "tools/call",
                                   .target = "test_input_required_result_request_state",
                                   .digest = d,
                                   .user = "alice"};
    char *old =
        request_state_seal(SECRET, strlen(SECRET), &b, NULL, (int64_t)time(NULL) - 1000, 300);
    json_t *r = tool(f, "test_input_required_result_request_state",
                     json_pack("{s:o}", "confirm", accepted(json_pack("{s:b}", "ok", 1))), old);
    assert_int_equal(error_code(r), JSONRPC_INVALID_PARAMS);
    assert_string_equal(reason_of(r), "expired");
    /* the same, fresh, is accepted: the binding above is the real one */
    free(old);
    old = request_state_seal(SECRET, strlen(SECRET), &b, NULL, (int64_t)time(NULL), 300);
    r = tool(f, "test_input_required_result_request_state",
             json_pack("{s:o}", "confirm", accepted(json_pack("{s:b}", "ok", 1))), old);
    assert_string_equal(text_of(r), "state-ok: confirmed=true");
    free(old);
}

static void test_foreign_state_is_refused(void **state)
{
    struct td_fixture *f = *state;
    json_t *confirm = accepted(json_pack("{s:b}", "ok", 1));
    char *s = state_of(tool(f, "test_input_required_result_request_state", NULL, NULL));
    /* another tool */
    json_t *r = tool(f, "test_input_required_result_tampered_state",
                     json_pack("{s:O}", "confirm", confirm), s);
    assert_string_equal(reason_of(r), "foreign");
    /* other arguments */
    json_t *params =
        json_pack("{s:s,s:{s:i},s:{s:O},s:s}", "name", "test_input_required_result_request_state",
                  "arguments", "x", 1, "inputResponses", "confirm", confirm, "requestState", s);
    assert_string_equal(reason_of(call(f, "tools/call", params)), "foreign");
    /* another user */
    free(f->sess.owner);
    f->sess.owner = strdup("mallory");
    r = tool(f, "test_input_required_result_request_state", json_pack("{s:O}", "confirm", confirm),
             s);
    assert_string_equal(reason_of(r), "foreign");
    json_decref(confirm);
    free(s);
}

static void test_missing_capability_is_32021(void **state)
{
    struct td_fixture *f = *state;
    json_decref(f->sess.client_capabilities);
    f->sess.client_capabilities = json_pack("{s:{}}", "sampling");
    json_t *r = tool(f, "test_input_required_result_elicitation", NULL, NULL);
    assert_int_equal(error_code(r), -32021);
    json_t *data = json_object_get(json_object_get(r, "error"), "data");
    assert_true(json_is_object(
        json_object_get(json_object_get(data, "requiredCapabilities"), "elicitation")));
    /* a handler that asks only what was declared */
    json_t *reqs = input_required(tool(f, "test_input_required_result_capabilities", NULL, NULL));
    assert_int_equal(json_object_size(reqs), 1);
    assert_non_null(json_object_get(reqs, "capital_question"));
}

static void test_malformed_input_responses_are_invalid_params(void **state)
{
    struct td_fixture *f = *state;
    const char *name = "test_input_required_result_elicitation";
    assert_int_equal(error_code(tool(f, name, json_pack("{s:i}", "user_name", 12345), NULL)),
                     JSONRPC_INVALID_PARAMS);
    assert_int_equal(error_code(tool(f, name, json_null(), NULL)), JSONRPC_INVALID_PARAMS);
    assert_int_equal(error_code(tool(f, name, json_string("x"), NULL)), JSONRPC_INVALID_PARAMS);
    json_t *many = json_object();
    for (int i = 0; i < 65; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        json_object_set_new(many, k, json_object());
    }
    assert_int_equal(error_code(tool(f, name, many, NULL)), JSONRPC_INVALID_PARAMS);
    assert_int_equal(error_code(tool(f, name, NULL, "not-a-state")), JSONRPC_INVALID_PARAMS);
}

static void test_extra_responses_are_ignored(void **state)
{
    struct td_fixture *f = *state;
    json_t *r = tool(f, "test_input_required_result_elicitation",
                     json_pack("{s:o,s:o}", "user_name", accepted(json_pack("{s:s}", "name", "Al")),
                               "unknown_extra_key", accepted(json_object())),
                     NULL);
    assert_string_equal(text_of(r), "Hello, Al!");
}

static void test_prompt_asks_too(void **state)
{
    struct td_fixture *f = *state;
    json_t *r1 =
        call(f, "prompts/get", json_pack("{s:s}", "name", "test_input_required_result_prompt"));
    assert_non_null(json_object_get(input_required(r1), "user_context"));
    char *s = state_of(r1);
    json_t *r2 = call(f, "prompts/get",
                      json_pack("{s:s,s:{s:o},s:s}", "name", "test_input_required_result_prompt",
                                "inputResponses", "user_context",
                                accepted(json_pack("{s:s}", "context", "ctx")), "requestState", s));
    json_t *msg = json_array_get(json_object_get(result_of(r2), "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(msg, "content"), "text")),
                        "Context: ctx");
    free(s);
}

static void test_without_secret_the_call_fails_cleanly(void **state)
{
    struct td_fixture *f = *state;
    f->cfg.request_state_secret = NULL;
    json_t *r = tool(f, "test_input_required_result_elicitation", NULL, NULL);
    assert_int_equal(error_code(r), JSONRPC_INTERNAL_ERROR);
}

/* The reference pack's sampleLLM, written for sessions, asks with mcp_call_request: its request
 * is numbered by the order of asking. */
static void test_reference_tool_asks_under_a_numbered_key(void **state)
{
    struct td_fixture *f = *state;
    char err[128];
    mcp_dispatch_free(f->ctx.dispatch);
    f->ctx.dispatch = mcp_dispatch_new("reference", err, sizeof err);
    assert_non_null(f->ctx.dispatch);
    json_t *params = json_pack("{s:s,s:{s:s}}", "name", "sampleLLM", "arguments", "prompt", "hi");
    json_t *r1 = call(f, "tools/call", json_deep_copy(params));
    json_t *ask = json_object_get(input_required(r1), "sampling-1");
    assert_string_equal(json_string_value(json_object_get(ask, "method")),
                        "sampling/createMessage");
    char *s = state_of(r1);
    json_object_set_new(params, "inputResponses", json_pack("{s:o}", "sampling-1", sampled("ok")));
    json_object_set_new(params, "requestState", json_string(s));
    assert_string_equal(text_of(call(f, "tools/call", params)), "LLM sampling result: ok");
    json_decref(f->sess.client_capabilities);
    f->sess.client_capabilities = json_pack("{s:{}}", "elicitation");
    json_t *r3 = call(f, "tools/call",
                      json_pack("{s:s,s:{s:s}}", "name", "sampleLLM", "arguments", "prompt", "hi"));
    assert_int_equal(error_code(r3), -32021);
    free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_one_round_asks_then_completes),
        T(test_multi_round_carries_earlier_answers_in_the_state),
        T(test_several_requests_in_one_round),
        T(test_missing_response_is_asked_again_alone),
        T(test_tampered_state_is_refused),
        T(test_verified_state_completes_with_state_ok),
        T(test_expired_state_is_refused),
        T(test_foreign_state_is_refused),
        T(test_missing_capability_is_32021),
        T(test_malformed_input_responses_are_invalid_params),
        T(test_extra_responses_are_ignored),
        T(test_prompt_asks_too),
        T(test_without_secret_the_call_fails_cleanly),
        T(test_reference_tool_asks_under_a_numbered_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
