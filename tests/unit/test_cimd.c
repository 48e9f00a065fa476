/* auth/cimd without the network: which client_id URLs may name a metadata document, how a
 * fetched document is judged, how long it is cached, and the issuer's metadata URL (uri.c). The
 * fetch itself runs against a real HTTPS server in tests/integration/oauth-cimd.test.mjs. */
#include "testutil.h"

#include <stdio.h>

#include "auth/cimd.h"
#include "auth/uri.h"
#include "lib/json.h"

#define URL "https://app.example.com/oauth/client.json"

static void test_url_rules(void **state)
{
    (void)state;
    assert_null(oauth_cimd_url_problem(URL));
    assert_null(oauth_cimd_url_problem("https://app.example.com:8443/c?v=1"));
    assert_null(oauth_cimd_url_problem("https://app.example.com/..x/c.json")); /* not a segment */
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://app.example.com/c.json", "client_id URL must use https"},
        {"https://app.example.com", "client_id URL must have a path"},
        {"https://app.example.com/", "client_id URL must have a path"},
        {"https://u:p@app.example.com/c",
         "client_id URL must not contain user information or a fragment"},
        {"https://app.example.com/c#f",
         "client_id URL must not contain user information or a fragment"},
        {"https://app.example.com/a/./c", "client_id URL must not contain dot segments"},
        {"https://app.example.com/a/../c", "client_id URL must not contain dot segments"},
        {"https://app.example.com/a/..", "client_id URL must not contain dot segments"},
        {"https:///c.json", "client_id URL is not an absolute URL with a host"},
        {"https://app.example.com/a b", "client_id URL is not an absolute URL with a host"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = oauth_cimd_url_problem(bad[i].url);
        if (!why || strcmp(why, bad[i].why) != 0)
            fail_msg("%s: got %s", bad[i].url, why ? why : "(accepted)");
    }
    char long_url[600];
    snprintf(long_url, sizeof long_url, "https://a.example/%0550d", 0);
    assert_string_equal(oauth_cimd_url_problem(long_url), "client_id URL is too long");
    assert_true(oauth_cimd_is_url(URL));
    assert_true(oauth_cimd_is_url("HTTP://x/y"));
    assert_false(oauth_cimd_is_url("0b8e2a4c-1111-4222-8333-944455556666"));
}

static json_t *judge(const char *doc, char *why)
{
    return oauth_cimd_validate(URL, doc, strlen(doc), why, 256);
}

static void test_document_is_validated(void **state)
{
    (void)state;
    char why[256] = "";
    json_t *rec = judge("{\"client_id\":\"" URL "\",\"client_name\":\"App\",\"redirect_uris\":"
                        "[\"http://127.0.0.1:3000/cb\"],\"grant_types\":[\"authorization_code\"],"
                        "\"extra\":1}",
                        why);
    assert_non_null(rec);
    assert_string_equal(json_get_string(rec, "client_id"), URL);
    assert_string_equal(json_get_string(rec, "token_endpoint_auth_method"), "none");
    assert_null(json_object_get(rec, "extra"));
    assert_null(json_object_get(rec, "client_secret_sha256"));
    json_decref(rec);
    static const struct {
        const char *doc, *why;
    } bad[] = {
        {"[1]", "the client metadata document is not a JSON object"},
        {"{\"client_name\":\"A\",\"redirect_uris\":[\"https://a/cb\"]}",
         "the client metadata document has no client_id"},
        {"{\"client_id\":\"" URL "/\",\"client_name\":\"A\"}",
         "the client_id in the client metadata document does not match its URL"},
        {"{\"client_id\":\"" URL "\",\"redirect_uris\":[\"https://a/cb\"]}",
         "the client metadata document has no client_name"},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"client_secret\":\"s\"}",
         "a client metadata document must not contain a client secret"},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"token_endpoint_auth_method\":"
         "\"client_secret_basic\"}",
         "token_endpoint_auth_method must be none for a metadata document client "
         "(private_key_jwt and secrets are not supported)"},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\"}",
         "the client metadata document is invalid: redirect_uris: Required"},
        {"{\"client_id\":\"" URL "\",\"client_name\":\"A\",\"application_type\":\"web\","
         "\"redirect_uris\":[\"http://127.0.0.1:1/cb\"]}",
         "the client metadata document is invalid: redirect_uris: application_type web needs "
         "https redirect URIs on a host that is not loopback; register loopback or private-use "
         "scheme URIs as native"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *r = judge(bad[i].doc, why);
        if (r || strcmp(why, bad[i].why) != 0)
            fail_msg("%s: got %s", bad[i].doc, r ? "(accepted)" : why);
    }
}

static void test_cache_lifetime_follows_cache_control_within_bounds(void **state)
{
    (void)state;
    struct cimd_config c = {.cache_s = 300, .cache_max_s = 3600};
    assert_int_equal(oauth_cimd_cache_ttl("", &c), 300);
    assert_int_equal(oauth_cimd_cache_ttl(NULL, &c), 300);
    assert_int_equal(oauth_cimd_cache_ttl("public, max-age=60", &c), 60);
    assert_int_equal(oauth_cimd_cache_ttl("max-age=\"90\"", &c), 90);
    assert_int_equal(oauth_cimd_cache_ttl("max-age=999999999999", &c), 3600);
    assert_int_equal(oauth_cimd_cache_ttl("max-age=0", &c), 0);
    assert_int_equal(oauth_cimd_cache_ttl("no-store", &c), 0);
    assert_int_equal(oauth_cimd_cache_ttl("private, no-cache", &c), 0);
    assert_int_equal(oauth_cimd_cache_ttl("s-max-age=5", &c), 300); /* not max-age */
    assert_int_equal(oauth_cimd_cache_ttl("max-age=abc", &c), 300);
    c.cache_max_s = 0;
    assert_int_equal(oauth_cimd_cache_ttl("max-age=60", &c), 0);
}

static void test_issuer_metadata_url_inserts_the_well_known_segment(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"http://localhost:3001", "http://localhost:3001/.well-known/oauth-authorization-server"},
        {"https://as.example/tenant1",
         "https://as.example/.well-known/oauth-authorization-server/tenant1"},
        {"https://as.example/", "https://as.example/.well-known/oauth-authorization-server"},
    };
    for (size_t i = 0; i < 3; i++) {
        char *u = oauth_issuer_metadata_url(cases[i][0]);
        assert_string_equal(u, cases[i][1]);
        free(u);
    }
    assert_null(oauth_issuer_metadata_url("not a url"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_rules),
        cmocka_unit_test(test_document_is_validated),
        cmocka_unit_test(test_cache_lifetime_follows_cache_control_within_bounds),
        cmocka_unit_test(test_issuer_metadata_url_inserts_the_well_known_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
