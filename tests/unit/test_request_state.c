/*
 * request_state: MRTR requestState tokens round-trip, and every change to one (payload, MAC,
 * key, binding, clock) is refused with the right status.
 */
#include "testutil.h"

#include "lib/crypto.h"
#include "lib/json.h"
#include "mcp/request_state.h"

static const char KEY[] = "0123456789abcdef0123456789abcdef";
#define NOW 1800000000

static struct request_state_bind bind_for(const char *digest)
{
    return (struct request_state_bind){
        .method = "tools/call", .target = "greet", .digest = digest, .user = "alice"};
}

static char *seal_sample(const char *digest, int64_t now, uint64_t ttl)
{
    struct request_state_bind b = bind_for(digest);
    json_t *answers =
        json_pack("{s:{s:s,s:{s:s}}}", "user_name", "action", "accept", "content", "name", "Alice");
    char *t = request_state_seal(KEY, strlen(KEY), &b, answers, now, ttl);
    json_decref(answers);
    assert_non_null(t);
    return t;
}

static enum request_state_status open_with(const char *token, const struct request_state_bind *b,
                                           int64_t now, json_t **answers)
{
    return request_state_open(KEY, strlen(KEY), token, strlen(token), b, now, answers);
}

static void test_round_trip_carries_answers(void **state)
{
    char d[REQUEST_STATE_DIGEST_SIZE];
    request_state_digest(NULL, d);
    char *t = seal_sample(d, NOW, 300);
    assert_int_equal(strncmp(t, "v1.", 3), 0);
    struct request_state_bind b = bind_for(d);
    json_t *answers = NULL;
    assert_int_equal(open_with(t, &b, NOW + 299, &answers), REQUEST_STATE_OK);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(answers, "user_name"), "content"), "name")),
        "Alice");
    json_decref(answers);
    free(t);
}

static void test_any_changed_character_is_refused(void **state)
{
    char d[REQUEST_STATE_DIGEST_SIZE];
    request_state_digest(NULL, d);
    char *t = seal_sample(d, NOW, 300);
    struct request_state_bind b = bind_for(d);
    size_t len = strlen(t);
    for (size_t i = 0; i < len; i++) {
        char saved = t[i];
        t[i] = saved == 'A' ? 'B' : 'A';
        json_t *answers = NULL;
        enum request_state_status s = open_with(t, &b, NOW, &answers);
        assert_int_not_equal(s, REQUEST_STATE_OK);
        assert_null(answers);
        t[i] = saved;
    }
    /* base64url's 43rd character has two spare bits: no other spelling of the MAC verifies */
    static const char ALPHABET[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char last = t[len - 1];
    for (const char *a = ALPHABET; *a; a++) {
        json_t *answers = NULL;
        t[len - 1] = *a;
        assert_int_equal(open_with(t, &b, NOW, &answers) == REQUEST_STATE_OK, *a == last);
        json_decref(answers);
    }
    free(t);
}

static void test_appended_or_truncated_is_refused(void **state)
{
    char d[REQUEST_STATE_DIGEST_SIZE];
    request_state_digest(NULL, d);
    char *t = seal_sample(d, NOW, 300);
    struct request_state_bind b = bind_for(d);
    json_t *answers = NULL;
    char *longer = malloc(strlen(t) + 10);
    sprintf(longer, "%s-TAMPERED", t);
    assert_int_not_equal(open_with(longer, &b, NOW, &answers), REQUEST_STATE_OK);
    t[strlen(t) - 1] = '\0';
    assert_int_not_equal(open_with(t, &b, NOW, &answers), REQUEST_STATE_OK);
    assert_int_equal(open_with("", &b, NOW, &answers), REQUEST_STATE_MALFORMED);
    assert_int_equal(open_with("v1.e30.", &b, NOW, &answers), REQUEST_STATE_MALFORMED);
    free(longer);
    free(t);
}

static void test_other_key_is_tampered(void **state)
{
    char d[REQUEST_STATE_DIGEST_SIZE];
    request_state_digest(NULL, d);
    char *t = seal_sample(d, NOW, 300);
    struct request_state_bind b = bind_for(d);
    json_t *answers = NULL;
    const char other[] = "another-key-another-key-another-k";
    assert_int_equal(request_state_open(other, strlen(other), t, strlen(t), &b, NOW, &answers),
                     REQUEST_STATE_TAMPERED);
    free(t);
}

static void test_expired_and_future_states_are_refused(void **state)
{
    char d[REQUEST_STATE_DIGEST_SIZE];
    request_state_digest(NULL, d);
    char *t = seal_sample(d, NOW, 300);
    struct request_state_bind b = bind_for(d);
    json_t *answers = NULL;
    assert_int_equal(open_with(t, &b, NOW + 301, &answers), REQUEST_STATE_EXPIRED);
    assert_int_equal(open_with(t, &b, NOW - 3600, &answers), REQUEST_STATE_EXPIRED);
    free(t);
}

static void test_state_of_another_request_or_user_is_foreign(void **state)
{
    char d[REQUEST_STATE_DIGEST_SIZE], other_args[REQUEST_STATE_DIGEST_SIZE];
    request_state_digest(NULL, d);
    json_t *args = json_pack("{s:i}", "x", 1);
    request_state_digest(args, other_args);
    json_decref(args);
    char *t = seal_sample(d, NOW, 300);
    json_t *answers = NULL;
    struct request_state_bind b = bind_for(d);
    b.user = "mallory";
    assert_int_equal(open_with(t, &b, NOW, &answers), REQUEST_STATE_FOREIGN);
    b = bind_for(d);
    b.target = "other_tool";
    assert_int_equal(open_with(t, &b, NOW, &answers), REQUEST_STATE_FOREIGN);
    b = bind_for(d);
    b.method = "prompts/get";
    assert_int_equal(open_with(t, &b, NOW, &answers), REQUEST_STATE_FOREIGN);
    b = bind_for(other_args);
    assert_int_equal(open_with(t, &b, NOW, &answers), REQUEST_STATE_FOREIGN);
    assert_null(answers);
    free(t);
}

static void test_digest_ignores_key_order_not_values(void **state)
{
    char a[REQUEST_STATE_DIGEST_SIZE], b[REQUEST_STATE_DIGEST_SIZE], c[REQUEST_STATE_DIGEST_SIZE];
    json_t *x = json_pack("{s:i,s:s}", "a", 1, "b", "two");
    json_t *y = json_pack("{s:s,s:i}", "b", "two", "a", 1);
    json_t *z = json_pack("{s:i,s:s}", "a", 2, "b", "two");
    request_state_digest(x, a);
    request_state_digest(y, b);
    request_state_digest(z, c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), REQUEST_STATE_DIGEST_SIZE - 1);
    json_decref(x);
    json_decref(y);
    json_decref(z);
}

static void test_oversized_answers_are_not_sealed(void **state)
{
    char d[REQUEST_STATE_DIGEST_SIZE];
    request_state_digest(NULL, d);
    struct request_state_bind b = bind_for(d);
    size_t n = REQUEST_STATE_MAX_BYTES;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    json_t *answers = json_pack("{s:{s:s}}", "k", "text", big);
    assert_null(request_state_seal(KEY, strlen(KEY), &b, answers, NOW, 300));
    json_decref(answers);
    /* and an over-long token is refused before any work */
    json_t *out = NULL;
    memcpy(big, "v1.", 3);
    assert_int_equal(request_state_open(KEY, strlen(KEY), big, n + 1, &b, NOW, &out),
                     REQUEST_STATE_MALFORMED);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_carries_answers),
        cmocka_unit_test(test_any_changed_character_is_refused),
        cmocka_unit_test(test_appended_or_truncated_is_refused),
        cmocka_unit_test(test_other_key_is_tampered),
        cmocka_unit_test(test_expired_and_future_states_are_refused),
        cmocka_unit_test(test_state_of_another_request_or_user_is_foreign),
        cmocka_unit_test(test_digest_ignores_key_order_not_values),
        cmocka_unit_test(test_oversized_answers_are_not_sealed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
