#include "testutil.h"

#include <math.h>
#include <stdio.h>

#include "lib/json.h"

static void assert_number_prints(double d, const char *expected)
{
    char out[32];
    size_t n = json_format_number(d, out, sizeof out);
    assert_string_equal(out, expected);
    assert_int_equal(n, strlen(expected));
}

/* Parse text, serialize it and compare with expected (what JSON.stringify(JSON.parse(text))
 * gives in node). */
static void assert_reserializes(const char *text, const char *expected)
{
    char err[128];
    json_t *v = json_parse(text, strlen(text), err, sizeof err);
    assert_non_null(v);
    size_t len = 0;
    char *s = json_serialize(v, &len);
    assert_non_null(s);
    assert_string_equal(s, expected);
    assert_int_equal(len, strlen(expected));
    free(s);
    json_decref(v);
}

static void test_number_sum_prints_like_javascript(void **state)
{
    assert_number_prints(0.1 + 0.2, "0.30000000000000004");
}

static void test_number_integral_values_print_without_fraction(void **state)
{
    assert_number_prints(3, "3");
    assert_number_prints(1.0, "1");
    assert_number_prints(100, "100");
    assert_number_prints(123456789012345680000.0, "123456789012345680000");
    assert_number_prints(-0.0, "0");
    assert_number_prints(0.0, "0");
}

static void test_number_fractions_print_shortest_form(void **state)
{
    assert_number_prints(0.7, "0.7");
    assert_number_prints(95.5, "95.5");
    assert_number_prints(3.14, "3.14");
    assert_number_prints(-1.5, "-1.5");
    assert_number_prints(0.000001, "0.000001");
    assert_number_prints(1.5e-6, "0.0000015");
    assert_number_prints(1.0 / 3, "0.3333333333333333");
}

static void test_number_exponent_form_outside_decimal_range(void **state)
{
    assert_number_prints(1e21, "1e+21");
    assert_number_prints(1.5e21, "1.5e+21");
    assert_number_prints(1e-7, "1e-7");
    assert_number_prints(-2.5e-8, "-2.5e-8");
    assert_number_prints(5e-324, "5e-324");
    assert_number_prints(1.7976931348623157e308, "1.7976931348623157e+308");
    assert_number_prints(1e20, "100000000000000000000");
}

/* Next to a power of two the closest k-digit decimal may not read back while a neighbour does;
 * V8 prints the shorter neighbour. Checked against node. */
static void test_number_power_of_two_uses_shortest_neighbour(void **state)
{
    assert_number_prints(ldexp(1, -1017), "7.120236347223045e-307");
    assert_number_prints(ldexp(1, 1023), "8.98846567431158e+307");
}

static void test_number_nan_and_infinity_print_null(void **state)
{
    assert_number_prints(NAN, "null");
    assert_number_prints(INFINITY, "null");
    assert_number_prints(-INFINITY, "null");
}

static void test_number_output_is_truncated_to_buffer(void **state)
{
    char out[4];
    size_t n = json_format_number(0.30000000000000004, out, sizeof out);
    assert_int_equal(n, 3);
    assert_string_equal(out, "0.3");
}

static void test_serialize_keeps_insertion_order(void **state)
{
    json_t *o = json_object();
    json_object_set_new(o, "result", json_object());
    json_object_set_new(o, "jsonrpc", json_string("2.0"));
    json_object_set_new(o, "id", json_integer(1));
    json_object_set_new(o, "b", json_true());
    json_object_set_new(o, "a", json_null());
    char *s = json_serialize(o, NULL);
    assert_string_equal(s, "{\"result\":{},\"jsonrpc\":\"2.0\",\"id\":1,\"b\":true,\"a\":null}");
    free(s);
    json_decref(o);
}

static void test_serialize_escapes_like_json_stringify(void **state)
{
    static const char raw[] = "q\" b\\ \b\f\n\r\t \x01\x1f\x7f / \xc3\xa9 \xf0\x9f\x98\x80 \0z";
    json_t *v = json_stringn(raw, sizeof raw - 1);
    assert_non_null(v);
    char *s = json_serialize(v, NULL);
    assert_string_equal(s, "\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\x7f / \xc3\xa9 "
                           "\xf0\x9f\x98\x80 \\u0000z\"");
    free(s);
    json_decref(v);
}

static void test_serialize_prints_reals_like_javascript(void **state)
{
    assert_reserializes("[1.0,0.5,1e2,-0.0,1E21,0.0000001,12.50]", "[1,0.5,100,0,1e+21,1e-7,12.5]");
    assert_reserializes("{\"priority\":1.0,\"n\":-7}", "{\"priority\":1,\"n\":-7}");
}

static void test_serialize_is_compact(void **state)
{
    assert_reserializes(" { \"a\" : [ 1 , 2 , { } , [ ] ] , \"b\" : \"x\" } ",
                        "{\"a\":[1,2,{},[]],\"b\":\"x\"}");
}

static void test_serialize_appends_to_existing_buffer(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "data: ");
    json_t *v = json_pack("{s:i}", "x", 1);
    assert_int_equal(json_serialize_buf(v, &b), BUF_OK);
    assert_string_equal(b.data, "data: {\"x\":1}");
    json_decref(v);
    buf_free(&b);
}

static void test_serialize_over_limit_leaves_buffer_unchanged(void **state)
{
    struct buf b;
    buf_init(&b, 10);
    buf_append_str(&b, "ab");
    json_t *v = json_pack("{s:s}", "key", "a long value");
    assert_int_equal(json_serialize_buf(v, &b), BUF_ERR_LIMIT);
    assert_string_equal(b.data, "ab");
    assert_int_equal(b.len, 2);
    json_decref(v);
    buf_free(&b);
}

static void test_serialize_refuses_cyclic_tree(void **state)
{
    json_t *a = json_array();
    json_t *b = json_array();
    json_array_append(a, b);
    json_array_append(
        b, a); /* jansson allows building a cycle; printing it must not recurse forever */
    assert_null(json_serialize(a, NULL));
    json_array_clear(b);
    json_decref(b);
    json_decref(a);
}

static void test_parse_refuses_duplicate_keys(void **state)
{
    char err[128] = "";
    const char *text = "{\"a\":1,\"a\":2}";
    assert_null(json_parse(text, strlen(text), err, sizeof err));
    assert_non_null(strstr(err, "duplicate"));
}

static void test_parse_reports_position_of_error(void **state)
{
    char err[128] = "";
    const char *text = "{\"a\":}";
    assert_null(json_parse(text, strlen(text), err, sizeof err));
    assert_non_null(strstr(err, "line 1 column"));
}

static void test_parse_refuses_trailing_garbage_and_empty_input(void **state)
{
    char err[128];
    assert_null(json_parse("{} x", 4, err, sizeof err));
    assert_null(json_parse("", 0, err, sizeof err));
    assert_null(json_parse("{", 1, NULL, 0));
}

static void test_parse_accepts_scalar_top_level(void **state)
{
    json_t *v = json_parse("42", 2, NULL, 0);
    assert_true(json_is_integer(v));
    json_decref(v);
    v = json_parse("\"s\"", 3, NULL, 0);
    assert_string_equal(json_string_value(v), "s");
    json_decref(v);
}

static char *nested_arrays(int depth)
{
    char *s = malloc((size_t)depth * 2 + 1);
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[depth * 2] = '\0';
    return s;
}

static void test_parse_accepts_depth_limit(void **state)
{
    char *s = nested_arrays(JSON_MAX_DEPTH);
    json_t *v = json_parse(s, strlen(s), NULL, 0);
    assert_non_null(v);
    json_decref(v);
    free(s);
}

static void test_parse_refuses_nesting_past_depth_limit(void **state)
{
    char err[128] = "";
    char *s = nested_arrays(JSON_MAX_DEPTH + 1);
    assert_null(json_parse(s, strlen(s), err, sizeof err));
    assert_non_null(strstr(err, "deeper"));
    free(s);
}

/* Objects and arrays alternating, the innermost empty: n levels in all. */
static char *nested_mixed(int n)
{
    char *s = malloc((size_t)n * 6 + 1), *o = s;
    for (int i = 0; i < n; i++)
        o += sprintf(o, i % 2 ? "[" : i < n - 1 ? "{\"k\":" : "{");
    for (int i = n - 1; i >= 0; i--)
        *o++ = i % 2 ? ']' : '}';
    *o = '\0';
    return s;
}

static void test_parse_depth_limit_counts_objects_and_arrays(void **state)
{
    char err[128] = "";
    for (int n = JSON_MAX_DEPTH - 1; n <= JSON_MAX_DEPTH + 2; n++) {
        char *s = nested_mixed(n);
        json_t *v = json_parse(s, strlen(s), err, sizeof err);
        if (n <= JSON_MAX_DEPTH)
            assert_non_null(v);
        else
            assert_true(!v && strstr(err, "deeper"));
        json_decref(v);
        free(s);
    }
}

static void test_parse_ignores_brackets_inside_strings_for_depth(void **state)
{
    char text[256];
    int n = snprintf(text, sizeof text, "{\"k\":\"%s\\\"[[[\"}",
                     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    json_t *v = json_parse(text, (size_t)n, NULL, 0);
    assert_non_null(v);
    json_decref(v);
}

static void test_parse_refuses_nul_in_strings(void **state)
{
    const char *text = "[\"a\\u0000b\"]";
    assert_null(json_parse(text, strlen(text), NULL, 0));
}

static void test_parse_reads_huge_integers_as_javascript_does(void **state)
{
    /* int64 overflows; JavaScript reads a double, and so do we, without losing the small ints.
     * Whole doubles from 2^63 to 1e21 print in exponent form, so they read back as doubles. */
    assert_reserializes("{\"id\":7,\"n\":100000000000000000000,\"m\":-123456789012345678901}",
                        "{\"id\":7,\"n\":1e+20,\"m\":-1.2345678901234568e+20}");
    json_t *v = json_parse("[7,1e400]", 9, NULL, 0);
    assert_null(v); /* out of double range: jansson refuses, where JS would make Infinity */
    v = json_parse("[7,99999999999999999999]", 24, NULL, 0);
    assert_true(json_is_integer(json_array_get(v, 0)));
    json_decref(v);
}

static void test_serialize_keeps_integers_beyond_2_pow_53_exact(void **state)
{
    assert_reserializes("[9007199254740991,-9007199254740991,9007199254740993,9223372036854775807,"
                        "-9223372036854775808]",
                        "[9007199254740991,-9007199254740991,9007199254740993,9223372036854775807,"
                        "-9223372036854775808]");
    /* found by fuzz_json: the same integer must print alike whether or not another number in the
     * document forced jansson to read numbers as doubles */
    assert_reserializes("[89012345678902131,34567890123458152631.0]",
                        "[89012345678902131,3.4567890123458154e+19]");
    assert_reserializes("[89012345678902131,3.4567890123458154e+19]",
                        "[89012345678902131,3.4567890123458154e+19]");
    /* a number beyond int64 in the input reads the document as doubles: JavaScript's rounding */
    assert_reserializes("[89012345678902131,34567890123458154000]",
                        "[89012345678902130,3.4567890123458154e+19]");
    assert_reserializes("[-9223372036854775808.0,1e20,123e18,1e21]",
                        "[-9.223372036854776e+18,1e+20,1.23e+20,1e+21]");
}

static void test_getters_return_null_for_missing_or_mistyped(void **state)
{
    json_t *o = json_literal("{\"s\":\"x\",\"o\":{},\"a\":[],\"i\":3,\"r\":2.5}");
    double d = 0;
    assert_string_equal(json_get_string(o, "s"), "x");
    assert_null(json_get_string(o, "o"));
    assert_null(json_get_string(o, "missing"));
    assert_non_null(json_get_object(o, "o"));
    assert_null(json_get_object(o, "a"));
    assert_non_null(json_get_array(o, "a"));
    assert_null(json_get_array(o, "o"));
    assert_true(json_get_number(o, "i", &d));
    assert_true(d == 3.0);
    assert_true(json_get_number(o, "r", &d));
    assert_true(d == 2.5);
    assert_false(json_get_number(o, "s", &d));
    assert_null(json_get_string(NULL, "s"));
    assert_null(json_get_object(json_array_get(json_get_array(o, "a"), 0), "x"));
    json_decref(o);
}

/* json_parse reads most input with its own reader and falls back to jansson; either way the
 * result must be exactly jansson's: the same tree (types, values, key order) or the same error. */
static void assert_parses_as_jansson(const char *text, size_t len)
{
    char err[256] = "";
    json_error_t je;
    json_t *ours = json_parse(text, len, err, sizeof err);
    json_t *theirs = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!theirs && strstr(je.text, "too big")) { /* json_parse reads these as JavaScript does */
        json_decref(ours);
        return;
    }
    if (!theirs) {
        char expected[256];
        snprintf(expected, sizeof expected, "%s at line %d column %d", je.text, je.line, je.column);
        if (ours || strcmp(err, expected) != 0)
            fail_msg("input %.*s: jansson refuses it (%s), json_parse gave %s", (int)len, text,
                     expected, ours ? "a value" : err);
        return;
    }
    if (!ours || !json_equal(ours, theirs))
        fail_msg("input %.*s: json_parse %s", (int)len, text, ours ? "differs" : err);
    char *a = json_serialize(ours, NULL), *b = json_serialize(theirs, NULL);
    assert_string_equal(a, b); /* json_equal ignores key order; the serialization does not */
    free(a);
    free(b);
    json_decref(ours);
    json_decref(theirs);
}

static const char *const parse_cases[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
    "\"arguments\":{\"message\":\"m7\"},\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":"
    "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}",
    " [1, -0, 0.5, -1.5e3, 1E+2, 2e-2, 123456789012345678, -123456789012345678] ",
    "[1234567890123456789, 9223372036854775807, 9223372036854775808, -9223372036854775809]",
    "1e400",
    "-1e400",
    "1e-400",
    "0.1e1",
    "00",
    "01",
    "-",
    "1.",
    ".5",
    "1e",
    "1e+",
    "+1",
    "0x10",
    "-01",
    "1.5e",
    "1.5x",
    "[0.1e1x]",
    "[true, false, null]",
    "tru",
    "nul",
    "falsey",
    "truex",
    "[true1]",
    "nulll",
    "{\"a\":1,\"a\":2}",
    "{\"a\":1,\"\\u0061\":2}",
    "{\"\":[],\"x\":{},\"y\":[{}],\"z\":\"\"}",
    "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u20AC \\ud83d\\ude00 \\uD83D\\uDE00\"",
    "\"\\ud83d\"",
    "\"\\ude00\"",
    "\"\\ud83d\\u0041\"",
    "\"\\u0000\"",
    "\"\\x\"",
    "\"\\u12\"",
    "\"\\u12G4\"",
    "\"\\\"",
    "\"\\",
    "\"abc",
    "{\"a\\u0000b\":1}",
    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
    "\"\xc0\xaf\"",
    "\"\xed\xa0\x80\"",
    "\"\xf4\x90\x80\x80\"",
    "\"\xe2\x82\"",
    "\"\xff\"",
    "\"\x80\"",
    "\"\xe0\x9f\xbf\"",
    "\"\xf0\x8f\xbf\xbf\"",
    "\"\xef\xbf\xbf\"",
    "\"\xf4\x8f\xbf\xbf\"",
    "\"a\tb\"",
    "\"\x7f\"",
    "{\"a\" : 1 , \"b\" :\n[ 1 ,2 ]\r\n}",
    "{\"a\":1,}",
    "[1,]",
    "[1 2]",
    "{\"a\" 1}",
    "{1:2}",
    "{\"a\":}",
    "[",
    "{",
    "{\"a\"",
    "{} x",
    "",
    "   ",
    "\xef\xbb\xbf{}",
    "[[[[[[[[]]]]]]]]",
    "[}",
    "{]",
};

static void test_parse_matches_jansson_on_tricky_input(void **state)
{
    for (size_t i = 0; i < sizeof parse_cases / sizeof *parse_cases; i++)
        assert_parses_as_jansson(parse_cases[i], strlen(parse_cases[i]));
    assert_parses_as_jansson("[\"a\0b\"]", 7);
    assert_parses_as_jansson("[1]\0", 4);
}

/* Random edits of the cases above (fixed seed): one to three bytes replaced, inserted or
 * removed, or the text cut short, from an alphabet of the bytes JSON reading turns on. */
static void test_parse_matches_jansson_on_mutations(void **state)
{
    static const char alphabet[] =
        "\"\\{}[],:0123456789.eE+-tfnu a\t\x01\x7f\xc3\xa9\xed\xa0\xf4\x90";
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char text[512];
    for (int n = 0; n < 40000; n++) {
        const char *seed = parse_cases[n % (sizeof parse_cases / sizeof *parse_cases)];
        size_t len = strlen(seed);
        memcpy(text, seed, len);
        int edits = 1 + n % 3;
        for (int e = 0; e < edits; e++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = len ? (size_t)(x >> 8) % (len + 1) : 0;
            char ch = alphabet[(x >> 40) % (sizeof alphabet - 1)];
            switch (x % 4) {
            case 0:
                if (at < len)
                    text[at] = ch;
                break;
            case 1:
                memmove(text + at + 1, text + at, len - at);
                text[at] = ch;
                len++;
                break;
            case 2:
                if (at < len)
                    memmove(text + at, text + at + 1, len - at - 1), len--;
                break;
            default:
                len = at;
            }
        }
        assert_parses_as_jansson(text, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_sum_prints_like_javascript),
        cmocka_unit_test(test_number_integral_values_print_without_fraction),
        cmocka_unit_test(test_number_fractions_print_shortest_form),
        cmocka_unit_test(test_number_exponent_form_outside_decimal_range),
        cmocka_unit_test(test_number_power_of_two_uses_shortest_neighbour),
        cmocka_unit_test(test_number_nan_and_infinity_print_null),
        cmocka_unit_test(test_number_output_is_truncated_to_buffer),
        cmocka_unit_test(test_serialize_keeps_insertion_order),
        cmocka_unit_test(test_serialize_escapes_like_json_stringify),
        cmocka_unit_test(test_serialize_prints_reals_like_javascript),
        cmocka_unit_test(test_serialize_is_compact),
        cmocka_unit_test(test_serialize_appends_to_existing_buffer),
        cmocka_unit_test(test_serialize_over_limit_leaves_buffer_unchanged),
        cmocka_unit_test(test_serialize_refuses_cyclic_tree),
        cmocka_unit_test(test_parse_refuses_duplicate_keys),
        cmocka_unit_test(test_parse_reports_position_of_error),
        cmocka_unit_test(test_parse_refuses_trailing_garbage_and_empty_input),
        cmocka_unit_test(test_parse_accepts_scalar_top_level),
        cmocka_unit_test(test_parse_accepts_depth_limit),
        cmocka_unit_test(test_parse_refuses_nesting_past_depth_limit),
        cmocka_unit_test(test_parse_ignores_brackets_inside_strings_for_depth),
        cmocka_unit_test(test_parse_depth_limit_counts_objects_and_arrays),
        cmocka_unit_test(test_parse_refuses_nul_in_strings),
        cmocka_unit_test(test_parse_reads_huge_integers_as_javascript_does),
        cmocka_unit_test(test_serialize_keeps_integers_beyond_2_pow_53_exact),
        cmocka_unit_test(test_getters_return_null_for_missing_or_mistyped),
        cmocka_unit_test(test_parse_matches_jansson_on_tricky_input),
        cmocka_unit_test(test_parse_matches_jansson_on_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
