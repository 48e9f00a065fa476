/* lib/utf8: validation per RFC 3629 and truncation that never cuts a character. */
#include "testutil.h"

#include <string.h>

#include "lib/utf8.h"

static void test_valid_sequences_have_their_length(void **state)
{
    assert_int_equal(utf8_sequence_length((const unsigned char *)"a", 1), 1);
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xC3\xA9", 2), 2);     /* é */
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xE2\x82\xAC", 3), 3); /* € */
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xF0\x9F\x98\x80", 4), 4); /* 😀 */
    assert_int_equal(utf8_sequence_length((const unsigned char *)"\xF4\x8F\xBF\xBF", 4), 4);
}

static void test_invalid_sequences_are_refused(void **state)
{
    static const char *const bad[] = {
        "\x80",             /* lone continuation */
        "\xC0\xAF",         /* overlong '/' */
        "\xC1\xBF",         /* overlong */
        "\xE0\x80\xAF",     /* overlong */
        "\xED\xA0\x80",     /* surrogate U+D800 */
        "\xF0\x80\x80\xAF", /* overlong */
        "\xF4\x90\x80\x80", /* above U+10FFFF */
        "\xF5\x80\x80\x80", /* never a lead byte */
        "\xFF",
        "\xC3",     /* cut */
        "\xE2\x82", /* cut */
        "\xC3\x28", /* bad continuation */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(utf8_sequence_length((const unsigned char *)bad[i], strlen(bad[i])), 0);
        assert_false(utf8_valid(bad[i], strlen(bad[i])));
    }
    assert_true(utf8_valid("caf\xC3\xA9 \xE2\x82\xAC", 9));
    assert_true(utf8_valid("", 0));
}

static void test_copy_prefix_never_cuts_a_character(void **state)
{
    char out[6];
    /* "abcé€": 'é' would need bytes 4 and 5 of the 5 available; only "abc" plus 'é' fits. */
    assert_int_equal(utf8_copy_prefix(out, sizeof out, "abc\xC3\xA9\xE2\x82\xAC"), 5);
    assert_string_equal(out, "abc\xC3\xA9");
    assert_int_equal(utf8_copy_prefix(out, sizeof out, "abcd\xC3\xA9"), 4);
    assert_string_equal(out, "abcd");
    assert_int_equal(utf8_copy_prefix(out, sizeof out, "\xF0\x9F\x98\x80\xF0\x9F\x98\x80"), 4);
    assert_string_equal(out, "\xF0\x9F\x98\x80");
    char one[1];
    assert_int_equal(utf8_copy_prefix(one, sizeof one, "abc"), 0);
    assert_string_equal(one, "");
}

static void test_copy_prefix_replaces_invalid_bytes(void **state)
{
    char out[32];
    /* FF, a lead byte before '(', and a surrogate's three bytes each become one '?' */
    assert_int_equal(utf8_copy_prefix(out, sizeof out,
                                      "a\xFF"
                                      "b\xC3(\xED\xA0\x80"
                                      "c"),
                     9);
    assert_string_equal(out, "a?b?(???c");
    assert_true(utf8_valid(out, strlen(out)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_sequences_have_their_length),
        cmocka_unit_test(test_invalid_sequences_are_refused),
        cmocka_unit_test(test_copy_prefix_never_cuts_a_character),
        cmocka_unit_test(test_copy_prefix_replaces_invalid_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
