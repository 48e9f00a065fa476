/* auth/grants over the memory store, without HTTP: PKCE, the code lifecycle, refresh rotation
 * and reuse detection, revocation, introspection and hashes-only storage. */
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "auth/grants.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "store/store.h"

#define CLIENT    "11111111-2222-4333-8444-555555555555"
#define OTHER     "99999999-2222-4333-8444-555555555555"
#define REDIRECT  "http://localhost:3000/callback"
#define VERIFIER  "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" /* RFC 7636 Appendix B */
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define AUDIENCE  "http://localhost:3232"
#define ISSUER    "http://localhost:3001"

struct fx {
    uv_loop_t loop;
    struct store *s;
    struct oauth_grants *g;
};

/* What one operation's callback saw, copied out (callback arguments are borrowed). */
struct result {
    bool done;
    const struct oauth_error *err;
    char code[80];
    char access[80];
    char refresh[80];
    char scope[64];
    char redirect[256];
    char state[128];
    bool has_state;
    int status;
    json_t *json;
    char value[2048];
    bool found;
};

static struct oauth_grants *grants_with(struct fx *f, uint64_t code_ttl, uint64_t access_ttl)
{
    struct oauth_grants_config cfg = {code_ttl, access_ttl, 604800, AUDIENCE, ISSUER};
    return oauth_grants_new(f->s, NULL, &cfg);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->s = store_memory_new(&f->loop, NULL);
    f->g = grants_with(f, 600, 3600);
    assert_non_null(f->g);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    oauth_grants_free(f->g);
    store_close(f->s, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void run_until(struct fx *f, const struct result *r)
{
    while (!r->done)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void on_sleep(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
}

static void sleep_loop(struct fx *f, uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    uv_timer_start(&t, on_sleep, ms, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* ------------------------------------------------------------------- synchronous wrappers --- */

static void on_code(void *arg, const struct oauth_error *err, const char *code)
{
    struct result *r = arg;
    r->err = err;
    snprintf(r->code, sizeof r->code, "%s", code ? code : "");
    r->done = true;
}

static void authorize_ex(struct fx *f, const char *resource, const char *state, char *code)
{
    struct result r = {0};
    struct oauth_authorization a = {CLIENT, REDIRECT, CHALLENGE, "mcp", resource, state};
    oauth_grants_authorize(f->g, &a, on_code, &r);
    run_until(f, &r);
    assert_null(r.err);
    assert_true(oauth_token_shaped(r.code));
    strcpy(code, r.code);
}

static void on_approve(void *arg, const struct oauth_error *err, const char *redirect,
                       const char *state)
{
    struct result *r = arg;
    r->err = err;
    snprintf(r->redirect, sizeof r->redirect, "%s", redirect ? redirect : "");
    snprintf(r->state, sizeof r->state, "%s", state ? state : "");
    r->has_state = state != NULL;
    r->done = true;
}

static struct result approve(struct fx *f, const char *code, const char *sub)
{
    struct result r = {0};
    oauth_grants_approve(f->g, code, sub, on_approve, &r);
    run_until(f, &r);
    return r;
}

/* authorize + approve: a code ready for /token. */
static void approved_code(struct fx *f, const char *resource, char *code)
{
    authorize_ex(f, resource, "st", code);
    struct result r = approve(f, code, "alice");
    assert_null(r.err);
}

static void on_tokens(void *arg, const struct oauth_error *err,
                      const struct oauth_token_response *t)
{
    struct result *r = arg;
    r->err = err;
    if (t) {
        snprintf(r->access, sizeof r->access, "%s", t->access_token);
        snprintf(r->refresh, sizeof r->refresh, "%s", t->refresh_token ? t->refresh_token : "");
        snprintf(r->scope, sizeof r->scope, "%s", t->scope);
    }
    r->done = true;
}

static struct result exchange(struct fx *f, const char *client, const char *code,
                              const char *verifier, const char *redirect, const char *resource)
{
    struct result r = {0};
    struct oauth_token_request t = {client, code, verifier, redirect, NULL, NULL, resource, true};
    oauth_grants_exchange_code(f->g, &t, on_tokens, &r);
    run_until(f, &r);
    return r;
}

static struct result refresh(struct fx *f, const char *client, const char *token, const char *scope,
                             const char *resource)
{
    struct result r = {0};
    struct oauth_token_request t = {client, NULL, NULL, NULL, token, scope, resource, true};
    oauth_grants_refresh(f->g, &t, on_tokens, &r);
    run_until(f, &r);
    return r;
}

static void on_done(void *arg, int status)
{
    struct result *r = arg;
    r->status = status;
    r->done = true;
}

static void do_revoke(struct fx *f, const char *client, const char *token, const char *hint)
{
    struct result r = {0};
    oauth_grants_revoke(f->g, client, token, hint, on_done, &r);
    run_until(f, &r);
    assert_int_equal(r.status, STORE_OK);
}

static void on_introspect(void *arg, json_t *result)
{
    struct result *r = arg;
    r->json = result;
    r->done = true;
}

static json_t *introspect(struct fx *f, const char *token)
{
    struct result r = {0};
    oauth_grants_introspect(f->g, token, on_introspect, &r);
    run_until(f, &r);
    assert_non_null(r.json);
    return r.json;
}

static bool active(struct fx *f, const char *token)
{
    json_t *j = introspect(f, token);
    bool a = json_is_true(json_object_get(j, "active"));
    json_decref(j);
    return a;
}

/* A full code flow: tokens for CLIENT, sub alice. */
static struct result login(struct fx *f, const char *resource)
{
    char code[80];
    approved_code(f, resource, code);
    struct result t = exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL);
    assert_null(t.err);
    return t;
}

static void on_get(void *arg, int status, const char *value, size_t len)
{
    struct result *r = arg;
    r->found = value != NULL;
    snprintf(r->value, sizeof r->value, "%.*s", (int)len, value ? value : "");
    r->done = true;
}

static struct result store_value(struct fx *f, const char *prefix, const char *secret, bool hash)
{
    char key[160], h[65];
    crypto_sha256_hex(secret, strlen(secret), h);
    snprintf(key, sizeof key, "%s%s", prefix, hash ? h : secret);
    struct result r = {0};
    assert_int_equal(store_get(f->s, key, on_get, &r), STORE_OK);
    run_until(f, &r);
    return r;
}

#define assert_error(res, code_)                                                                   \
    do {                                                                                           \
        assert_non_null((res).err);                                                                \
        assert_string_equal((res).err->error, code_);                                              \
        assert_int_equal((res).err->status, 400);                                                  \
    } while (0)

/* ---------------------------------------------------------------------------------- PKCE --- */

static void test_pkce_s256_matches_rfc7636_example(void **state)
{
    assert_true(oauth_pkce_s256_matches(VERIFIER, CHALLENGE));
    assert_false(oauth_pkce_s256_matches(VERIFIER "x", CHALLENGE));
    assert_true(oauth_pkce_challenge_valid(CHALLENGE));
}

static void test_pkce_plain_style_challenge_does_not_match(void **state)
{
    /* A client using "plain" sends the verifier itself as the challenge: S256 never matches. */
    assert_false(oauth_pkce_s256_matches(VERIFIER, VERIFIER));
}

static void test_pkce_verifier_charset_and_length(void **state)
{
    char long_v[200];
    memset(long_v, 'a', 129);
    long_v[129] = '\0';
    assert_false(oauth_pkce_verifier_valid("short"));
    assert_false(oauth_pkce_verifier_valid(long_v));
    assert_false(oauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz0123456789+/ABCDEFG"));
    assert_true(oauth_pkce_verifier_valid("abcdefghijklmnopqrstuvwxyz0123456789-._~ABCDE"));
    long_v[128] = '\0';
    assert_true(oauth_pkce_verifier_valid(long_v));
    assert_false(oauth_pkce_challenge_valid("tooshort"));
}

static void test_token_wrong_verifier_refused_then_right_one_works(void **state)
{
    struct fx *f = *state;
    char code[80];
    approved_code(f, NULL, code);
    struct result bad =
        exchange(f, CLIENT, code, "wrongwrongwrongwrongwrongwrongwrongwrongwro", REDIRECT, NULL);
    assert_error(bad, "invalid_grant");
    struct result malformed = exchange(f, CLIENT, code, "bad verifier!", REDIRECT, NULL);
    assert_error(malformed, "invalid_request");
    struct result ok = exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL);
    assert_null(ok.err);
}

/* ------------------------------------------------------------------------ code lifecycle --- */

static void test_code_flow_issues_tokens_that_introspect(void **state)
{
    struct fx *f = *state;
    char code[80];
    authorize_ex(f, NULL, "client-state", code);
    struct result a = approve(f, code, "alice");
    assert_null(a.err);
    assert_string_equal(a.redirect, REDIRECT);
    assert_string_equal(a.state, "client-state");
    struct result t = exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL);
    assert_null(t.err);
    assert_true(oauth_token_shaped(t.access));
    assert_true(oauth_token_shaped(t.refresh));
    assert_string_equal(t.scope, "mcp");
    json_t *j = introspect(f, t.access);
    assert_true(json_is_true(json_object_get(j, "active")));
    assert_string_equal(json_get_string(j, "client_id"), CLIENT);
    assert_string_equal(json_get_string(j, "sub"), "alice");
    assert_string_equal(json_get_string(j, "userId"), "alice");
    assert_string_equal(json_get_string(j, "aud"), AUDIENCE); /* no resource: BASE_URI */
    assert_string_equal(json_get_string(j, "iss"), ISSUER);
    assert_string_equal(json_get_string(j, "scope"), "mcp");
    assert_string_equal(json_get_string(j, "token_type"), "Bearer");
    assert_true(json_is_integer(json_object_get(j, "exp")));
    assert_int_equal(json_integer_value(json_object_get(j, "exp")) -
                         json_integer_value(json_object_get(j, "iat")),
                     3600);
    json_decref(j);
    assert_false(active(f, t.refresh)); /* a refresh token is not an access token */
}

static void test_code_without_state_approves_without_state(void **state)
{
    struct fx *f = *state;
    char code[80];
    authorize_ex(f, NULL, NULL, code);
    struct result a = approve(f, code, "bob");
    assert_null(a.err);
    assert_false(a.has_state);
}

static void test_token_replayed_code_revokes_tokens(void **state)
{
    struct fx *f = *state;
    char code[80];
    approved_code(f, NULL, code);
    struct result first = exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL);
    assert_null(first.err);
    assert_true(active(f, first.access));
    struct result again = exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL);
    assert_error(again, "invalid_grant");
    assert_false(active(f, first.access));
    struct result r = refresh(f, CLIENT, first.refresh, NULL, NULL);
    assert_error(r, "invalid_grant");
    struct result third = exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL);
    assert_error(third, "invalid_grant");
}

static void test_code_unapproved_or_unknown_refused(void **state)
{
    struct fx *f = *state;
    char code[80];
    authorize_ex(f, NULL, "s", code); /* the IdP never called back */
    assert_error(exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL), "invalid_grant");
    assert_error(exchange(f, CLIENT, "deadbeef", VERIFIER, REDIRECT, NULL), "invalid_grant");
    char unknown[65];
    crypto_random_hex(unknown, 32);
    assert_error(exchange(f, CLIENT, unknown, VERIFIER, REDIRECT, NULL), "invalid_grant");
}

static void test_code_expires(void **state)
{
    struct fx *f = *state;
    oauth_grants_free(f->g);
    f->g = grants_with(f, 1, 3600);
    char code[80];
    approved_code(f, NULL, code);
    sleep_loop(f, 1100);
    assert_error(exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL), "invalid_grant");
}

static void test_code_presented_by_other_client_refused(void **state)
{
    struct fx *f = *state;
    char code[80];
    approved_code(f, NULL, code);
    assert_error(exchange(f, OTHER, code, VERIFIER, REDIRECT, NULL), "invalid_grant");
    /* The attempt does not burn the code for its owner. */
    assert_null(exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL).err);
}

static void test_code_redirect_uri_must_match_exactly(void **state)
{
    struct fx *f = *state;
    char code[80];
    approved_code(f, NULL, code);
    assert_error(exchange(f, CLIENT, code, VERIFIER, REDIRECT "/", NULL), "invalid_grant");
    assert_error(exchange(f, CLIENT, code, VERIFIER, "http://LOCALHOST:3000/callback", NULL),
                 "invalid_grant");
    assert_null(exchange(f, CLIENT, code, VERIFIER, NULL, NULL).err); /* omitted: PKCE binds */
}

static void test_approval_is_once_and_needs_a_pending_request(void **state)
{
    struct fx *f = *state;
    char code[80];
    authorize_ex(f, NULL, "s", code);
    assert_null(approve(f, code, "alice").err);
    struct result again = approve(f, code, "mallory");
    assert_non_null(again.err);
    assert_int_equal(again.err->status, 400);
    assert_non_null(approve(f, "bogus", "x").err);
    char unknown[65];
    crypto_random_hex(unknown, 32);
    assert_non_null(approve(f, unknown, "x").err);
}

/* ------------------------------------------------------------------------------ RFC 8707 --- */

static void test_resource_becomes_audience_and_is_enforced(void **state)
{
    struct fx *f = *state;
    char code[80];
    approved_code(f, "http://localhost:3232/mcp", code);
    assert_error(exchange(f, CLIENT, code, VERIFIER, REDIRECT, "https://evil.example/mcp"),
                 "invalid_target");
    struct result t = exchange(f, CLIENT, code, VERIFIER, REDIRECT, "http://localhost:3232/mcp");
    assert_null(t.err);
    json_t *j = introspect(f, t.access);
    assert_string_equal(json_get_string(j, "aud"), "http://localhost:3232/mcp");
    json_decref(j);
    assert_error(refresh(f, CLIENT, t.refresh, NULL, "https://evil.example/mcp"), "invalid_target");
}

static void test_token_resource_must_equal_default_when_none_authorized(void **state)
{
    struct fx *f = *state;
    char code[80];
    approved_code(f, NULL, code);
    assert_error(exchange(f, CLIENT, code, VERIFIER, REDIRECT, "https://other.example"),
                 "invalid_target");
    assert_null(exchange(f, CLIENT, code, VERIFIER, REDIRECT, AUDIENCE).err);
}

/* --------------------------------------------------------------------------- refresh --- */

static void test_refresh_rotates_and_old_token_stops_working(void **state)
{
    struct fx *f = *state;
    struct result t = login(f, NULL);
    struct result r1 = refresh(f, CLIENT, t.refresh, NULL, NULL);
    assert_null(r1.err);
    assert_string_not_equal(r1.access, t.access);
    assert_string_not_equal(r1.refresh, t.refresh);
    assert_true(active(f, r1.access));
    struct result r2 = refresh(f, CLIENT, r1.refresh, NULL, NULL);
    assert_null(r2.err);
    assert_true(active(f, r2.access));
}

static void test_refresh_reuse_revokes_the_family(void **state)
{
    struct fx *f = *state;
    struct result t = login(f, NULL);
    struct result r1 = refresh(f, CLIENT, t.refresh, NULL, NULL);
    assert_null(r1.err);
    struct result reuse = refresh(f, CLIENT, t.refresh, NULL, NULL);
    assert_error(reuse, "invalid_grant");
    /* Every token descended from the code is dead, the newest included. */
    assert_false(active(f, t.access));
    assert_false(active(f, r1.access));
    assert_error(refresh(f, CLIENT, r1.refresh, NULL, NULL), "invalid_grant");
}

static void test_refresh_other_client_and_unknown_refused(void **state)
{
    struct fx *f = *state;
    struct result t = login(f, NULL);
    assert_error(refresh(f, OTHER, t.refresh, NULL, NULL), "invalid_grant");
    assert_error(refresh(f, CLIENT, "nothex", NULL, NULL), "invalid_grant");
    assert_error(refresh(f, CLIENT, t.access, NULL, NULL), "invalid_grant");
    assert_null(refresh(f, CLIENT, t.refresh, NULL, NULL).err); /* still the owner's */
}

static void test_refresh_scope_may_narrow_never_widen(void **state)
{
    struct fx *f = *state;
    struct result t = login(f, NULL);
    assert_error(refresh(f, CLIENT, t.refresh, "mcp admin", NULL), "invalid_scope");
    struct result ok = refresh(f, CLIENT, t.refresh, "mcp", NULL);
    assert_null(ok.err);
    assert_string_equal(ok.scope, "mcp");
}

/* ------------------------------------------------------------------------ revocation --- */

static void test_revoke_access_token_only_kills_it(void **state)
{
    struct fx *f = *state;
    struct result t = login(f, NULL);
    do_revoke(f, CLIENT, t.access, NULL);
    assert_false(active(f, t.access));
    struct result r = refresh(f, CLIENT, t.refresh, NULL, NULL);
    assert_null(r.err);
    assert_true(active(f, r.access));
}

static void test_revoke_refresh_token_kills_the_family(void **state)
{
    struct fx *f = *state;
    struct result t = login(f, NULL);
    do_revoke(f, CLIENT, t.refresh, "refresh_token");
    assert_false(active(f, t.access));
    assert_error(refresh(f, CLIENT, t.refresh, NULL, NULL), "invalid_grant");
}

static void test_revoke_by_other_client_or_unknown_is_a_no_op(void **state)
{
    struct fx *f = *state;
    struct result t = login(f, NULL);
    do_revoke(f, OTHER, t.access, NULL);
    do_revoke(f, OTHER, t.refresh, NULL);
    do_revoke(f, CLIENT, "garbage", NULL);
    assert_true(active(f, t.access));
    assert_null(refresh(f, CLIENT, t.refresh, NULL, NULL).err);
}

/* ------------------------------------------------------------------------ introspection --- */

static void test_introspect_unknown_and_expired_are_inactive(void **state)
{
    struct fx *f = *state;
    json_t *j = introspect(f, "not-a-token");
    assert_true(json_is_false(json_object_get(j, "active")));
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);
    oauth_grants_free(f->g);
    f->g = grants_with(f, 600, 1);
    struct result t = login(f, NULL);
    assert_true(active(f, t.access));
    sleep_loop(f, 1100);
    assert_false(active(f, t.access));
    assert_null(refresh(f, CLIENT, t.refresh, NULL, NULL).err); /* refresh outlives access */
}

/* ------------------------------------------------------------------ hashes-only storage --- */

static void assert_secret_free(const struct result *v, const char *const *secrets, size_t n)
{
    assert_true(v->found);
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(v->value, secrets[i]));
}

static void test_store_holds_hashes_only(void **state)
{
    struct fx *f = *state;
    char code[80];
    approved_code(f, NULL, code);
    struct result t = exchange(f, CLIENT, code, VERIFIER, REDIRECT, NULL);
    assert_null(t.err);
    struct result r = refresh(f, CLIENT, t.refresh, NULL, NULL);
    assert_null(r.err);
    const char *secrets[] = {code, t.access, t.refresh, r.access, r.refresh, VERIFIER};
    const size_t n = sizeof secrets / sizeof secrets[0];
    assert_secret_free((struct result[]){store_value(f, OAUTH_EXCH_PREFIX, code, true)}, secrets,
                       n);
    assert_false(store_value(f, OAUTH_PENDING_PREFIX, code, true).found); /* spent */
    const char *tokens[][2] = {{OAUTH_INSTALLATION_PREFIX, t.access},
                               {OAUTH_INSTALLATION_PREFIX, r.access},
                               {OAUTH_REFRESH_PREFIX, t.refresh},
                               {OAUTH_REFRESH_PREFIX, r.refresh}};
    for (size_t i = 0; i < 4; i++) {
        struct result v = store_value(f, tokens[i][0], tokens[i][1], true);
        assert_secret_free(&v, secrets, n);
        assert_false(store_value(f, tokens[i][0], tokens[i][1], false).found); /* not raw */
    }
    assert_false(store_value(f, OAUTH_EXCH_PREFIX, code, false).found);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pkce_s256_matches_rfc7636_example),
        T(test_pkce_plain_style_challenge_does_not_match),
        T(test_pkce_verifier_charset_and_length),
        T(test_token_wrong_verifier_refused_then_right_one_works),
        T(test_code_flow_issues_tokens_that_introspect),
        T(test_code_without_state_approves_without_state),
        T(test_token_replayed_code_revokes_tokens),
        T(test_code_unapproved_or_unknown_refused),
        T(test_code_expires),
        T(test_code_presented_by_other_client_refused),
        T(test_code_redirect_uri_must_match_exactly),
        T(test_approval_is_once_and_needs_a_pending_request),
        T(test_resource_becomes_audience_and_is_enforced),
        T(test_token_resource_must_equal_default_when_none_authorized),
        T(test_refresh_rotates_and_old_token_stops_working),
        T(test_refresh_reuse_revokes_the_family),
        T(test_refresh_other_client_and_unknown_refused),
        T(test_refresh_scope_may_narrow_never_widen),
        T(test_revoke_access_token_only_kills_it),
        T(test_revoke_refresh_token_kills_the_family),
        T(test_revoke_by_other_client_or_unknown_is_a_no_op),
        T(test_introspect_unknown_and_expired_are_inactive),
        T(test_store_holds_hashes_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
