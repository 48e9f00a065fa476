#include "testutil.h"

#include "lib/crypto.h"

static void test_sha256_hex_matches_known_vector(void **state)
{
    char hex[65];
    crypto_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_base64_round_trips_every_length(void **state)
{
    uint8_t data[40], back[40];
    char enc[80];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof data; len++) {
        long n = crypto_base64_encode(data, len, enc, sizeof enc);
        assert_int_equal(n, (long)crypto_base64_len(len));
        assert_int_equal(crypto_base64_decode(enc, (size_t)n, back, sizeof back), (long)len);
        assert_memory_equal(data, back, len);
        n = crypto_base64url_encode(data, len, enc, sizeof enc);
        assert_null(strchr(enc, '='));
        assert_int_equal(crypto_base64url_decode(enc, (size_t)n, back, sizeof back), (long)len);
        assert_memory_equal(data, back, len);
    }
}

static void test_base64_encodes_peer_cursor(void **state)
{
    char enc[16];
    crypto_base64_encode("10", 2, enc, sizeof enc);
    assert_string_equal(enc, "MTA=");
}

static void test_base64_decode_refuses_foreign_characters(void **state)
{
    uint8_t out[16];
    assert_int_equal(crypto_base64_decode("MT!=", 4, out, sizeof out), -1);
    assert_int_equal(crypto_base64url_decode("ab+c", 4, out, sizeof out), -1);
    assert_int_equal(crypto_base64_decode("A", 1, out, sizeof out), -1);
}

static void test_base64_decode_refuses_small_output(void **state)
{
    uint8_t out[2];
    assert_int_equal(crypto_base64_decode("YWJj", 4, out, sizeof out), -1);
}

static void test_base64url_uses_url_alphabet(void **state)
{
    const uint8_t data[] = {0xfb, 0xff};
    char enc[8];
    crypto_base64url_encode(data, sizeof data, enc, sizeof enc);
    assert_string_equal(enc, "-_8");
}

static void test_uuid4_has_version_and_variant(void **state)
{
    char a[CRYPTO_UUID_SIZE], b[CRYPTO_UUID_SIZE];
    assert_int_equal(crypto_uuid4(a), 0);
    assert_int_equal(crypto_uuid4(b), 0);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    assert_string_not_equal(a, b);
}

static void test_equal_compares_content_and_length(void **state)
{
    assert_true(crypto_equal("abc", 3, "abc", 3));
    assert_false(crypto_equal("abc", 3, "abd", 3));
    assert_false(crypto_equal("abc", 3, "abcd", 4));
}

static void test_random_hex_is_lowercase_and_sized(void **state)
{
    char hex[65];
    assert_int_equal(crypto_random_hex(hex, 32), 0);
    assert_int_equal(strlen(hex), 64);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_hex_matches_known_vector),
        cmocka_unit_test(test_base64_round_trips_every_length),
        cmocka_unit_test(test_base64_encodes_peer_cursor),
        cmocka_unit_test(test_base64_decode_refuses_foreign_characters),
        cmocka_unit_test(test_base64_decode_refuses_small_output),
        cmocka_unit_test(test_base64url_uses_url_alphabet),
        cmocka_unit_test(test_uuid4_has_version_and_variant),
        cmocka_unit_test(test_equal_compares_content_and_length),
        cmocka_unit_test(test_random_hex_is_lowercase_and_sized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
