#include "testutil.h"

#include "lib/json.h"
#include "mcp/jsonrpc.h"

static enum jsonrpc_kind classify(const char *text)
{
    json_t *v = json_parse(text, strlen(text), NULL, 0);
    enum jsonrpc_kind k = jsonrpc_classify(v, NULL);
    json_decref(v);
    return k;
}

static void test_classify_request_notification_response_error(void **state)
{
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"),
                     JSONRPC_REQUEST);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"x\",\"params\":{}}"),
                     JSONRPC_REQUEST);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"),
                     JSONRPC_NOTIFICATION);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}"), JSONRPC_RESPONSE);
    assert_int_equal(
        classify("{\"jsonrpc\":\"2.0\",\"id\":0,\"error\":{\"code\":-1,\"message\":\"m\"}}"),
        JSONRPC_ERROR);
}

static void test_classify_refuses_malformed_messages(void **state)
{
    assert_int_equal(classify("{\"id\":1,\"method\":\"ping\"}"), JSONRPC_INVALID);
    assert_int_equal(classify("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"),
                     JSONRPC_INVALID);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}"),
                     JSONRPC_INVALID);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}"),
                     JSONRPC_INVALID);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}"), JSONRPC_INVALID);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}"),
                     JSONRPC_INVALID);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}"),
                     JSONRPC_INVALID);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":1}"), JSONRPC_INVALID);
    assert_int_equal(classify("[1]"), JSONRPC_INVALID);
}

static void test_envelopes_use_peer_key_order(void **state)
{
    json_t *id = json_integer(7);
    json_t *m = jsonrpc_result(id, json_object());
    char *s = json_serialize(m, NULL);
    assert_string_equal(s, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":7}");
    free(s);
    json_decref(m);
    m = jsonrpc_error(id, -32601, "Method not found", NULL);
    s = json_serialize(m, NULL);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32601,\"message\":"
                           "\"Method not found\"}}");
    free(s);
    json_decref(m);
    m = jsonrpc_request(0, "sampling/createMessage", json_object());
    s = json_serialize(m, NULL);
    assert_string_equal(
        s, "{\"method\":\"sampling/createMessage\",\"params\":{},\"jsonrpc\":\"2.0\",\"id\":0}");
    free(s);
    json_decref(m);
    json_decref(id);
}

static void test_error_without_id_has_null_id(void **state)
{
    json_t *m = jsonrpc_error(NULL, -32700, "Parse error", NULL);
    assert_true(json_is_null(json_object_get(m, "id")));
    json_decref(m);
}

static void test_version_negotiation_echoes_supported_and_falls_back(void **state)
{
    assert_string_equal(mcp_protocol_negotiate("2024-11-05"), "2024-11-05");
    assert_string_equal(mcp_protocol_negotiate("2025-03-26"), "2025-03-26");
    assert_string_equal(mcp_protocol_negotiate("2025-06-18"), "2025-06-18");
    assert_string_equal(mcp_protocol_negotiate("2025-11-25"), "2025-11-25");
    assert_string_equal(mcp_protocol_negotiate("1999-01-01"), "2025-11-25");
    assert_string_equal(mcp_protocol_negotiate(NULL), "2025-11-25");
    assert_false(mcp_protocol_supported("2026-07-28"));
}

static void test_id_keys_distinguish_strings_from_numbers(void **state)
{
    char a[64], b[64];
    json_t *n = json_integer(5), *s = json_string("5");
    jsonrpc_id_key(n, a, sizeof a);
    jsonrpc_id_key(s, b, sizeof b);
    assert_string_not_equal(a, b);
    json_decref(n);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_request_notification_response_error),
        cmocka_unit_test(test_classify_refuses_malformed_messages),
        cmocka_unit_test(test_envelopes_use_peer_key_order),
        cmocka_unit_test(test_error_without_id_has_null_id),
        cmocka_unit_test(test_version_negotiation_echoes_supported_and_falls_back),
        cmocka_unit_test(test_id_keys_distinguish_strings_from_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
