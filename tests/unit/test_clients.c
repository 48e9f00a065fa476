/* auth/clients and auth/uri: RFC 7591 metadata validation, redirect URI rules, credential
 * parsing (RFC 6749 §2.3.1) and client authentication without the store; the registration
 * bounds (MAX_CLIENTS, UNUSED_CLIENT_TTL_S) on the memory store. */
#include "testutil.h"

#include <stdio.h>
#include <uv.h>

#include "auth/clients.h"
#include "auth/uri.h"
#include "lib/json.h"
#include "store/store.h"

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

/* application_type (OIDC Registration §2, MCP 2026-07-28): web needs https off loopback, native
 * takes loopback http, private-use schemes and claimed https; without one, the redirect URIs
 * decide, and the value is stored and echoed. */
static void test_application_type(void **state)
{
    static const char *const ok[][2] = {
        {"{\"redirect_uris\":[\"http://127.0.0.1:3000/cb\"]}", "native"},
        {"{\"redirect_uris\":[\"https://app.example/cb\",\"com.example.app:/cb\"]}", "native"},
        {"{\"redirect_uris\":[\"https://app.example/cb\"]}", "web"},
        {"{\"redirect_uris\":[\"https://app.example/cb\"],\"application_type\":\"web\"}", "web"},
        {"{\"redirect_uris\":[\"http://localhost:1/cb\",\"com.example.app:/cb\",\"https://"
         "a.example/"
         "cb\"],\"application_type\":\"native\"}",
         "native"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *error = NULL;
        json_t *m = validate(ok[i][0], &error);
        assert_non_null(m);
        assert_string_equal(json_get_string(m, "application_type"), ok[i][1]);
        json_decref(m);
    }
    static const char *const bad[][3] = {
        {"{\"redirect_uris\":[\"http://127.0.0.1:3000/cb\"],\"application_type\":\"web\"}",
         "invalid_redirect_uri",
         "redirect_uris: application_type web needs https redirect URIs on a host that is not "
         "loopback; register loopback or private-use scheme URIs as native"},
        {"{\"redirect_uris\":[\"https://localhost/cb\"],\"application_type\":\"web\"}",
         "invalid_redirect_uri", NULL},
        {"{\"redirect_uris\":[\"https://a.example/cb\",\"com.example.app:/cb\"],"
         "\"application_type\":\"web\"}",
         "invalid_redirect_uri", NULL},
        {"{\"redirect_uris\":[\"https://a.example/cb\"],\"application_type\":\"desktop\"}",
         "invalid_client_metadata", "application_type: must be web or native"},
        {"{\"redirect_uris\":[\"https://a.example/cb\"],\"application_type\":1}",
         "invalid_client_metadata", "application_type: must be web or native"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *error = NULL;
        char desc[256];
        json_t *req = json_parse(bad[i][0], strlen(bad[i][0]), NULL, 0);
        json_t *m = oauth_client_validate(req, &error, desc, sizeof desc);
        json_decref(req);
        assert_null(m);
        assert_string_equal(error, bad[i][1]);
        if (bad[i][2])
            assert_string_equal(desc, bad[i][2]);
    }
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

/* ------------------------------------------------------------ registration bounds (store) --- */

struct reg_fx {
    uv_loop_t loop;
    struct store *store;
    int status;
    bool done;
    char id[OAUTH_CLIENT_ID_MAX + 1];
    struct oauth_client *loaded;
};

static void on_reg(void *arg, int status, json_t *response)
{
    struct reg_fx *f = arg;
    f->status = status;
    f->done = true;
    f->id[0] = '\0';
    if (response)
        snprintf(f->id, sizeof f->id, "%s", json_get_string(response, "client_id"));
    json_decref(response);
}

static void on_loaded(void *arg, int status, struct oauth_client *c)
{
    struct reg_fx *f = arg;
    f->status = status;
    f->done = true;
    f->loaded = c;
}

static void run_until_done(struct reg_fx *f)
{
    for (int i = 0; i < 1000 && !f->done; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->done);
    f->done = false;
}

/* Register one public client; its status, and its id in f->id. */
static int reg(struct reg_fx *f, const struct oauth_client_limits *l)
{
    json_t *meta = json_pack("{s:[s],s:s}", "redirect_uris", "http://localhost:1/cb",
                             "token_endpoint_auth_method", "none");
    oauth_client_register(f->store, meta, l, on_reg, f);
    run_until_done(f);
    return f->status;
}

static bool client_exists(struct reg_fx *f, const char *id)
{
    oauth_client_load(f->store, id, on_loaded, f);
    run_until_done(f);
    bool found = f->loaded != NULL;
    oauth_client_free(f->loaded);
    f->loaded = NULL;
    return found;
}

static void on_wait(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void wait_ms(struct reg_fx *f, uint64_t ms)
{
    uv_timer_t t;
    bool fired = false;
    uv_timer_init(&f->loop, &t);
    t.data = &fired;
    uv_timer_start(&t, on_wait, ms, 0);
    while (!fired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void on_store_closed(void *arg)
{
}

static void test_registration_bound_counts_live_clients_only(void **state)
{
    struct reg_fx f = {0};
    assert_int_equal(uv_loop_init(&f.loop), 0);
    f.store = store_memory_new(&f.loop, NULL);
    /* Unused registrations live 1 s, used ones 100 s; two may be live. */
    struct oauth_client_limits l = {.ttl_s = 100, .unused_ttl_s = 1, .max_clients = 2};
    char used[OAUTH_CLIENT_ID_MAX + 1], unused[OAUTH_CLIENT_ID_MAX + 1];
    assert_int_equal(reg(&f, &l), STORE_OK);
    snprintf(used, sizeof used, "%s", f.id);
    assert_int_equal(reg(&f, &l), STORE_OK);
    snprintf(unused, sizeof unused, "%s", f.id);
    assert_int_equal(reg(&f, &l), OAUTH_REGISTER_FULL);
    assert_string_equal(f.id, "");

    /* The first client completes a token exchange: it keeps its registration. */
    oauth_client_load(f.store, used, on_loaded, &f);
    run_until_done(&f);
    assert_non_null(f.loaded);
    oauth_client_mark_used(f.store, f.loaded, &l);
    oauth_client_free(f.loaded);
    f.loaded = NULL;

    wait_ms(&f, 2200); /* past the unused lifetime and its count bucket */
    assert_true(client_exists(&f, used));
    assert_false(client_exists(&f, unused));
    /* The expired one no longer counts, the used one still does. */
    assert_int_equal(reg(&f, &l), STORE_OK);
    assert_int_equal(reg(&f, &l), OAUTH_REGISTER_FULL);

    store_close(f.store, on_store_closed, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f.loop), 0);
}

static void test_registration_without_bound_uses_the_long_lifetime(void **state)
{
    struct reg_fx f = {0};
    assert_int_equal(uv_loop_init(&f.loop), 0);
    f.store = store_memory_new(&f.loop, NULL);
    /* No bound and no shorter unused lifetime: registrations as before. */
    struct oauth_client_limits l = {.ttl_s = 100};
    for (int i = 0; i < 5; i++)
        assert_int_equal(reg(&f, &l), STORE_OK);
    assert_true(client_exists(&f, f.id));
    assert_int_equal(oauth_client_bucket_width(&l), 100 / OAUTH_CLIENT_BUCKETS);
    struct oauth_client_limits wide = {.ttl_s = 315360000, .unused_ttl_s = 1};
    assert_int_equal(oauth_client_bucket_width(&wide), 315360000 / 4096);
    store_close(f.store, on_store_closed, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_fills_defaults_and_drops_unknown_fields),
        cmocka_unit_test(test_validate_refuses_with_rfc7591_codes),
        cmocka_unit_test(test_application_type),
        cmocka_unit_test(test_redirect_uri_rules),
        cmocka_unit_test(test_credentials_basic_is_url_decoded),
        cmocka_unit_test(test_authenticate_secret_hash_and_expiry),
        cmocka_unit_test(test_scope_subset),
        cmocka_unit_test(test_registration_bound_counts_live_clients_only),
        cmocka_unit_test(test_registration_without_bound_uses_the_long_lifetime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
