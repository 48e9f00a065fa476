/* lib/form: x-www-form-urlencoded decoding, limits, duplicates and percent-encoding. */
#include "testutil.h"

#include <stdio.h>

#include "lib/form.h"

static int parse(struct form *f, const char *s)
{
    return form_parse(f, s, strlen(s), 0, 0);
}

static void test_form_decodes_percent_and_plus(void **state)
{
    struct form f;
    assert_int_equal(parse(&f, "a=hello+world&b=%41%2f%3D&c=caf%C3%A9"), FORM_OK);
    assert_int_equal(f.count, 3);
    assert_string_equal(form_get(&f, "a"), "hello world");
    assert_string_equal(form_get(&f, "b"), "A/=");
    assert_string_equal(form_get(&f, "c"), "caf\xc3\xa9");
    assert_null(form_get(&f, "missing"));
    form_free(&f);
}

static void test_form_names_without_values_and_empty_segments(void **state)
{
    struct form f;
    assert_int_equal(parse(&f, "&&flag&x=&y=1&"), FORM_OK);
    assert_int_equal(f.count, 3);
    assert_string_equal(form_get(&f, "flag"), "");
    assert_string_equal(form_get(&f, "x"), "");
    assert_int_equal(f.params[2].value_len, 1);
    form_free(&f);
    assert_int_equal(parse(&f, ""), FORM_OK);
    assert_int_equal(f.count, 0);
    form_free(&f);
}

static void test_form_decodes_encoded_names(void **state)
{
    struct form f;
    assert_int_equal(parse(&f, "client%5Fid=abc"), FORM_OK);
    assert_string_equal(form_get(&f, "client_id"), "abc");
    form_free(&f);
}

static void test_form_refuses_bad_escapes_and_nul(void **state)
{
    const char *bad[] = {"a=%", "a=%4", "a=%zz", "a=%4g", "a=x%00y", "%00=1", "a=1&b=%G1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct form f;
        assert_int_equal(parse(&f, bad[i]), FORM_ERR_ENCODING);
        assert_int_equal(f.count, 0);
        form_free(&f);
    }
}

static void test_form_duplicates_are_detectable(void **state)
{
    struct form f;
    assert_int_equal(parse(&f, "code=1&state=x&code=2"), FORM_OK);
    assert_int_equal(form_count(&f, "code"), 2);
    assert_int_equal(form_count(&f, "state"), 1);
    assert_string_equal(form_get(&f, "code"), "1"); /* the first wins for readers */
    assert_string_equal(form_first_duplicate(&f), "code");
    form_free(&f);
    assert_int_equal(parse(&f, "a=1&b=2"), FORM_OK);
    assert_null(form_first_duplicate(&f));
    form_free(&f);
}

static void test_form_bounds_params_and_bytes(void **state)
{
    struct form f;
    char big[400] = "";
    for (int i = 0; i < 40; i++)
        snprintf(big + strlen(big), sizeof big - strlen(big), "p%d=v&", i);
    assert_int_equal(form_parse(&f, big, strlen(big), 10, 0), FORM_ERR_LIMIT);
    form_free(&f);
    assert_int_equal(form_parse(&f, big, strlen(big), 40, 0), FORM_OK);
    assert_int_equal(f.count, 40);
    form_free(&f);
    assert_int_equal(form_parse(&f, big, strlen(big), 0, 16), FORM_ERR_LIMIT);
    form_free(&f);
}

static void test_form_does_not_need_a_terminator(void **state)
{
    struct form f;
    const char data[] = {'a', '=', '1', '&', 'b', '=', '2'}; /* no NUL */
    assert_int_equal(form_parse(&f, data, sizeof data, 0, 0), FORM_OK);
    assert_string_equal(form_get(&f, "b"), "2");
    form_free(&f);
}

static void test_form_add_builds_params(void **state)
{
    struct form f = {0};
    assert_int_equal(form_add(&f, "token", "abc", 3), FORM_OK);
    assert_int_equal(form_add(&f, "token", "def", 3), FORM_OK);
    assert_int_equal(form_add(&f, "bad", "a\0b", 3), FORM_ERR_ENCODING);
    assert_string_equal(form_get(&f, "token"), "abc");
    assert_string_equal(form_first_duplicate(&f), "token");
    form_free(&f);
}

static void test_form_encode_round_trips(void **state)
{
    char enc[128], dec[128];
    const char *s = "a b&c=d/é~._-";
    long n = form_encode(s, enc, sizeof enc);
    assert_true(n > 0);
    assert_string_equal(enc, "a%20b%26c%3Dd%2F%C3%A9~._-");
    assert_int_equal(form_decode(enc, (size_t)n, dec), (long)strlen(s));
    assert_string_equal(dec, s);
    assert_int_equal(form_encode("abcdef", enc, 6), -1); /* no room for the NUL */
    assert_int_equal(form_encode("&", enc, 3), -1);
}

/* The one percent-decoder: OAuth bodies (form_parse, form_decode) and query strings
 * (http_request_query_param, through form_decode_bounded) decode alike. */
static void test_form_decode_plus_is_space_and_escapes_are_strict(void **state)
{
    char out[32];
    assert_int_equal(form_decode_bounded("a+b%2B%20c", 10, out, sizeof out), 6);
    assert_string_equal(out, "a b+ c");
    assert_int_equal(form_decode_bounded("%41%6a%6A", 9, out, sizeof out), 3);
    assert_string_equal(out, "Ajj");
    const char *bad[] = {"%", "%4", "x%", "%zz", "%4g", "%g4", "%00", "a%00b", "%+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(form_decode_bounded(bad[i], strlen(bad[i]), out, sizeof out), -1);
        assert_int_equal(form_decode(bad[i], strlen(bad[i]), out), -1);
    }
    /* A raw NUL inside the counted bytes is refused like an encoded one. */
    assert_int_equal(form_decode("a\0b", 3, out), -1);
    /* Only the counted bytes are read: a cut-off escape is malformed even if more follows. */
    assert_int_equal(form_decode_bounded("%41", 2, out, sizeof out), -1);
}

static void test_form_decode_bounded_needs_room_for_the_nul(void **state)
{
    char out[4];
    assert_int_equal(form_decode_bounded("abc", 3, out, sizeof out), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(form_decode_bounded("abcd", 4, out, sizeof out), -1);
    /* Escapes count once decoded: nine input bytes, three output bytes. */
    assert_int_equal(form_decode_bounded("%41%42%43", 9, out, sizeof out), 3);
    assert_string_equal(out, "ABC");
    assert_int_equal(form_decode_bounded("", 0, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(form_decode_bounded("", 0, out, 0), -1);
    assert_int_equal(form_decode_bounded("a", 1, out, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_decodes_percent_and_plus),
        cmocka_unit_test(test_form_names_without_values_and_empty_segments),
        cmocka_unit_test(test_form_decodes_encoded_names),
        cmocka_unit_test(test_form_refuses_bad_escapes_and_nul),
        cmocka_unit_test(test_form_duplicates_are_detectable),
        cmocka_unit_test(test_form_bounds_params_and_bytes),
        cmocka_unit_test(test_form_does_not_need_a_terminator),
        cmocka_unit_test(test_form_add_builds_params),
        cmocka_unit_test(test_form_encode_round_trips),
        cmocka_unit_test(test_form_decode_plus_is_space_and_escapes_are_strict),
        cmocka_unit_test(test_form_decode_bounded_needs_room_for_the_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
