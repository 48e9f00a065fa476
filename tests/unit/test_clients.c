/* auth/clients and auth/uri without the store: RFC 7591 metadata validation, redirect URI
 * rules, credential parsing (RFC 6749 §2.3.1) and client authentication. */
#include "testutil.h"

#include <stdio.h>

#include "auth/clients.h"
#include "auth/uri.h"
#include "lib/json.h"

static json_t *validate(const char *text, const char **error)
{
    char desc[256];
    json_t *req = json_parse(text, strlen(text), NULL, 0);
    json_t *out = oauth_client_validate(req, error, desc, sizeof desc);
    json_decref(req);
    return out;
}

static void test_validate_fills_defaults_and_drops_unknown_fields(void **state)
{
    const char *error = NULL;
    json_t *m = validate("{\"client_name\":\"c\",\"redirect_uris\":[\"https://a.example/cb\"],"
                         "\"evil\":1}",
                         &error);
    assert_non_null(m);
    assert_string_equal(json_get_string(m, "token_endpoint_auth_method"), "client_secret_post");
    assert_string_equal(json_get_string(m, "scope"), "mcp");
    assert_int_equal(json_array_size(json_get_array(m, "grant_types")), 2);
    assert_null(json_object_get(m, "evil"));
    /* The peer's order: redirect_uris first. */
    assert_string_equal(json_object_iter_key(json_object_iter(m)), "redirect_uris");
    json_decref(m);
}

static void test_validate_refuses_with_rfc7591_codes(void **state)
{
    static const char *const cases[][2] = {
        {"{}", "invalid_client_metadata"},
        {"{\"redirect_uris\":\"https://a.example/cb\"}", "invalid_redirect_uri"},
        {"{\"redirect_uris\":[\"data:text/html,hi\"]}", "invalid_redirect_uri"},
        {"{\"redirect_uris\":[\"https://a.example/cb\"],\"scope\":\"a  b\"}",
         "invalid_client_metadata"},
        {"{\"redirect_uris\":[\"https://a.example/cb\"],\"grant_types\":[\"refresh_token\"]}",
         "invalid_client_metadata"},
        {"{\"redirect_uris\":[\"https://a.example/cb\"],\"jwks\":{},\"jwks_uri\":"
         "\"https://a.example/j\"}",
         "invalid_client_metadata"},
        {"{\"redirect_uris\":[\"https://a.example/cb\"],\"logo_uri\":\"javascript:x\"}",
         "invalid_client_metadata"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *error = NULL;
        json_t *m = validate(cases[i][0], &error);
        assert_null(m);
        assert_string_equal(error, cases[i][1]);
    }
}

static void test_redirect_uri_rules(void **state)
{
    const char *why;
    const char *good[] = {"https://app.example/cb",          "http://localhost:3000/callback",
                          "http://127.0.0.1:5555/cb",        "http://[::1]:8080/cb",
                          "com.example.app:/oauth2redirect", "https://app.example/cb?x=1"};
    const char *bad[] = {"javascript:alert(1)",
                         "JavaScript:alert(1)",
                         "data:text/html,x",
                         "vbscript:msgbox",
                         "http://evil.example/cb",
                         "https://app.example/#f",
                         "http://localhost@evil.example/cb",
                         "myapp://cb",
                         "/relative",
                         "https:///nohost",
                         "http://localhost:99999/cb",
                         "https://a b.example/"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(oauth_redirect_uri_valid(good[i], &why));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(oauth_redirect_uri_valid(bad[i], &why));
        assert_non_null(why);
    }
    assert_true(oauth_resource_valid("http://localhost:3232/mcp"));
    assert_false(oauth_resource_valid("http://localhost:3232/mcp#x"));
    assert_false(oauth_resource_valid("urn:example"));
}

static void test_credentials_basic_is_url_decoded(void **state)
{
    struct oauth_credentials c;
    const char *why = NULL;
    /* base64("id%3Ax:s%2Bcret") -> id "id:x", secret "s+cret" */
    assert_int_equal(oauth_credentials_parse("Basic aWQlM0F4OnMlMkJjcmV0", NULL, NULL, &c, &why),
                     0);
    assert_string_equal(c.id, "id:x");
    assert_string_equal(c.secret, "s+cret");
    assert_true(c.basic);
    assert_int_equal(oauth_credentials_parse("Basic !!!", NULL, NULL, &c, &why), -1);
    /* RFC 6749 §2.3: one method only. */
    assert_int_equal(
        oauth_credentials_parse("Basic aWQlM0F4OnMlMkJjcmV0", NULL, "s+cret", &c, &why), -1);
    assert_int_equal(oauth_credentials_parse(NULL, "abc", "def", &c, &why), 0);
    assert_false(c.basic);
    assert_string_equal(c.secret, "def");
    assert_int_equal(oauth_credentials_parse(NULL, NULL, "def", &c, &why), -1);
    assert_string_equal(why, "client_id is required");
}

static void test_authenticate_secret_hash_and_expiry(void **state)
{
    struct oauth_client cl = {0};
    struct oauth_credentials cr = {0};
    cl.confidential = true;
    crypto_sha256_hex("right", 5, cl.secret_hash);
    cl.secret_expires_at = 2000;
    assert_string_equal(oauth_client_authenticate(&cl, &cr, 1000), "Client secret is required");
    strcpy(cr.secret, "wrong");
    cr.has_secret = true;
    assert_string_equal(oauth_client_authenticate(&cl, &cr, 1000), "Invalid client_secret");
    strcpy(cr.secret, "right");
    assert_null(oauth_client_authenticate(&cl, &cr, 1000));
    assert_string_equal(oauth_client_authenticate(&cl, &cr, 3000), "Client secret has expired");
    cl.confidential = false; /* public clients present no secret */
    cr.has_secret = false;
    assert_null(oauth_client_authenticate(&cl, &cr, 3000));
}

static void test_scope_subset(void **state)
{
    assert_true(oauth_scope_subset("mcp", "mcp"));
    assert_true(oauth_scope_subset("b", "a b c"));
    assert_false(oauth_scope_subset("mc", "mcp"));
    assert_false(oauth_scope_subset("mcp admin", "mcp"));
    assert_false(oauth_scope_subset("", "mcp"));
    assert_false(oauth_scope_subset("mcp", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_fills_defaults_and_drops_unknown_fields),
        cmocka_unit_test(test_validate_refuses_with_rfc7591_codes),
        cmocka_unit_test(test_redirect_uri_rules),
        cmocka_unit_test(test_credentials_basic_is_url_decoded),
        cmocka_unit_test(test_authenticate_secret_hash_and_expiry),
        cmocka_unit_test(test_scope_subset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
