#include "testutil.h"

#include "lib/buf.h"

static void test_buf_append_keeps_nul_terminated(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(buf_append_str(&b, "abc"), BUF_OK);
    assert_int_equal(buf_printf(&b, "-%d", 42), BUF_OK);
    assert_string_equal(b.data, "abc-42");
    assert_int_equal(b.len, 6);
    buf_free(&b);
}

static void test_buf_refuses_growth_past_limit(void **state)
{
    struct buf b;
    buf_init(&b, 4);
    assert_int_equal(buf_append_str(&b, "abcd"), BUF_OK);
    assert_int_equal(buf_append_char(&b, 'e'), BUF_ERR_LIMIT);
    assert_string_equal(b.data, "abcd");
    buf_free(&b);
}

static void test_buf_consume_moves_rest_to_front(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "hello world");
    buf_consume(&b, 6);
    assert_string_equal(b.data, "world");
    buf_consume(&b, 99);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_buf_steal_leaves_empty_buffer(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "x");
    size_t len = 0;
    char *p = buf_steal(&b, &len);
    assert_string_equal(p, "x");
    assert_int_equal(len, 1);
    assert_null(b.data);
    free(p);
}

static void test_buf_steal_of_empty_buffer_is_empty_string(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    size_t len = 99;
    char *p = buf_steal(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_keeps_nul_terminated),
        cmocka_unit_test(test_buf_refuses_growth_past_limit),
        cmocka_unit_test(test_buf_consume_moves_rest_to_front),
        cmocka_unit_test(test_buf_steal_leaves_empty_buffer),
        cmocka_unit_test(test_buf_steal_of_empty_buffer_is_empty_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
