/* auth/server through real HTTP: the role object listens on 127.0.0.1 port 0 with the memory
 * store, its loop runs in a background thread, and the test drives it with libcurl from the
 * main thread (so cmocka's assertions stay on the test's thread). */
#include "testutil.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>
#include <uv.h>

#include "auth/server.h"
#include "app/config.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "store/store.h"

#define REDIRECT  "http://localhost:3000/callback"
#define VERIFIER  "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define SECRET    "introspection-secret"

struct fx {
    uv_loop_t loop;
    uv_async_t stop;
    struct store *store;
    struct auth_server *as;
    struct config cfg;
    pthread_t thread;
    int port;
};

struct resp {
    long status;
    char body[64 * 1024];
    size_t len;
    char headers[16 * 1024];
    size_t hlen;
    json_t *json; /* body parsed when it is JSON */
};

/* ------------------------------------------------------------------------------ fixture --- */

static void on_store_closed(void *arg)
{
    (void)arg;
}

static void on_auth_closed(void *arg)
{
    struct fx *f = arg;
    store_close(f->store, on_store_closed, NULL);
}

static void on_stop(uv_async_t *a)
{
    struct fx *f = a->data;
    auth_server_shutdown(f->as, on_auth_closed, f);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
    struct fx *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->auth_port = 0;
    c->auth_server_url = "http://localhost:3001";
    c->base_uri = "http://localhost:3232";
    c->introspection_secret = SECRET;
    c->access_token_ttl_s = 3600;
    c->refresh_token_ttl_s = 604800;
    c->code_ttl_s = 600;
    c->client_ttl_s = 2592000;
    c->shutdown_grace_ms = 200;
}

static struct fx *start(const struct config *cfg)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    f->cfg = *cfg;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->store = store_memory_new(&f->loop, NULL);
    f->as = auth_server_new(&f->loop, &f->cfg, f->store, NULL, err, sizeof err);
    assert_non_null(f->as);
    assert_int_equal(auth_server_listen(f->as), 0);
    f->port = auth_server_port(f->as);
    assert_true(f->port > 0);
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    assert_int_equal(pthread_create(&f->thread, NULL, loop_main, f), 0);
    return f;
}

static int setup(void **state)
{
    struct config c;
    config_defaults(&c);
    *state = start(&c);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    uv_async_send(&f->stop);
    pthread_join(f->thread, NULL);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* --------------------------------------------------------------------------- HTTP client --- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    size_t room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, len < room ? len : room);
    r->len += len < room ? len : room;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    size_t room = sizeof r->headers - 1 - r->hlen;
    memcpy(r->headers + r->hlen, p, len < room ? len : room);
    r->hlen += len < room ? len : room;
    r->headers[r->hlen] = '\0';
    return len;
}

/* One request; headers is a "\n"-separated list (may be NULL). The caller frees with done(). */
static struct resp *http(struct fx *f, const char *method, const char *path, const char *ctype,
                         const char *body, const char *headers)
{
    struct resp *r = calloc(1, sizeof *r);
    char url[2048], line[1024];
    struct curl_slist *list = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", f->port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        list = curl_slist_append(list, line);
    }
    for (const char *h = headers; h && *h;) {
        size_t n = strcspn(h, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, h);
        list = curl_slist_append(list, line);
        h += n + (h[n] == '\n');
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    r->json = json_parse(r->body, r->len, NULL, 0);
    return r;
}

static void done(struct resp *r)
{
    json_decref(r->json);
    free(r);
}

/* The value of a response header (case-insensitive name) into out; false when absent. */
static bool header(const struct resp *r, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; *p;) {
        size_t len = strcspn(p, "\r\n");
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(len - (size_t)(v - p)), v);
            return true;
        }
        p += len;
        while (*p == '\r' || *p == '\n')
            p++;
    }
    return false;
}

static const char *jstr(const struct resp *r, const char *key)
{
    const char *v = json_get_string(r->json, key);
    return v ? v : "";
}

/* ------------------------------------------------------------------------- flow helpers --- */

struct client {
    char id[64];
    char secret[80];
};

static struct client register_client(struct fx *f, const char *extra)
{
    char body[1024];
    struct client c = {0};
    snprintf(body, sizeof body,
             "{\"client_name\":\"e2e-test-client\",\"redirect_uris\":[\"" REDIRECT "\"]%s}",
             extra ? extra : "");
    struct resp *r = http(f, "POST", "/register", "application/json", body, NULL);
    assert_int_equal(r->status, 201);
    snprintf(c.id, sizeof c.id, "%s", jstr(r, "client_id"));
    snprintf(c.secret, sizeof c.secret, "%s", jstr(r, "client_secret"));
    done(r);
    return c;
}

/* GET /authorize and take the code as the e2e script does: the first "state=" in the page,
 * up to '"' or '&'. */
static void authorize_code(struct fx *f, const struct client *c, const char *extra, char *code)
{
    char path[1024];
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=%s&redirect_uri=" REDIRECT
             "&code_challenge=" CHALLENGE "&code_challenge_method=S256&state=e2e-state%s",
             c->id, extra ? extra : "");
    struct resp *r = http(f, "GET", path, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    const char *s = strstr(r->body, "state=");
    assert_non_null(s);
    s += 6;
    size_t n = strcspn(s, "\"&");
    assert_int_equal(n, 64);
    snprintf(code, 65, "%.*s", (int)n, s);
    done(r);
}

static void idp_callback(struct fx *f, const char *code, const char *user)
{
    char path[512], loc[1024];
    snprintf(path, sizeof path, "/mock-upstream-idp/callback?state=%s&code=mock-auth-code%s%s",
             code, user ? "&userId=" : "", user ? user : "");
    struct resp *r = http(f, "GET", path, NULL, NULL, NULL);
    assert_int_equal(r->status, 302);
    assert_true(header(r, "Location", loc, sizeof loc));
    assert_non_null(strstr(loc, "state=e2e-state&iss=http%3A%2F%2Flocalhost%3A3001"));
    assert_non_null(strstr(loc, code));
    assert_int_equal(strncmp(loc, REDIRECT "?code=", strlen(REDIRECT "?code=")), 0);
    done(r);
}

struct tokens {
    char access[80];
    char refresh[80];
};

static struct tokens token_from(struct resp *r)
{
    struct tokens t = {0};
    assert_int_equal(r->status, 200);
    snprintf(t.access, sizeof t.access, "%s", jstr(r, "access_token"));
    snprintf(t.refresh, sizeof t.refresh, "%s", jstr(r, "refresh_token"));
    assert_int_equal(strlen(t.access), 64);
    return t;
}

static struct resp *token_request(struct fx *f, const struct client *c, const char *params)
{
    char body[2048];
    snprintf(body, sizeof body, "client_id=%s&client_secret=%s&%s", c->id, c->secret, params);
    return http(f, "POST", "/token", "application/x-www-form-urlencoded", body, NULL);
}

static struct tokens login(struct fx *f, const struct client *c)
{
    char code[80], params[512];
    authorize_code(f, c, NULL, code);
    idp_callback(f, code, "e2e-user");
    snprintf(params, sizeof params,
             "grant_type=authorization_code&code=%s&redirect_uri=" REDIRECT
             "&code_verifier=" VERIFIER,
             code);
    struct resp *r = token_request(f, c, params);
    struct tokens t = token_from(r);
    done(r);
    return t;
}

static struct resp *introspect(struct fx *f, const char *token)
{
    char body[256];
    snprintf(body, sizeof body, "token=%s", token);
    return http(f, "POST", "/introspect", "application/x-www-form-urlencoded", body,
                "Authorization: Bearer " SECRET);
}

static bool active(struct fx *f, const char *token)
{
    struct resp *r = introspect(f, token);
    assert_int_equal(r->status, 200);
    bool a = json_is_true(json_object_get(r->json, "active"));
    done(r);
    return a;
}

/* -------------------------------------------------------------------------------- tests --- */

static void test_metadata_document_follows_rfc8414(void **state)
{
    struct fx *f = *state;
    struct resp *r = http(f, "GET", "/.well-known/oauth-authorization-server", NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "issuer"), "http://localhost:3001");
    assert_true(
        json_is_true(json_object_get(r->json, "authorization_response_iss_parameter_supported")));
    assert_string_equal(jstr(r, "token_endpoint"), "http://localhost:3001/token");
    assert_string_equal(jstr(r, "introspection_endpoint"), "http://localhost:3001/introspect");
    json_t *pkce = json_object_get(r->json, "code_challenge_methods_supported");
    assert_int_equal(json_array_size(pkce), 1);
    assert_string_equal(json_string_value(json_array_get(pkce, 0)), "S256");
    assert_int_equal(
        json_array_size(json_object_get(r->json, "token_endpoint_auth_methods_supported")), 3);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(r->json, "scopes_supported"), 0)), "mcp");
    done(r);
    char allow[64];
    r = http(f, "POST", "/.well-known/oauth-authorization-server", NULL, "", NULL);
    assert_int_equal(r->status, 405);
    assert_true(header(r, "Allow", allow, sizeof allow));
    assert_string_equal(allow, "GET");
    assert_string_equal(jstr(r, "error"), "method_not_allowed");
    done(r);
}

static void test_health_and_protected_resource(void **state)
{
    struct fx *f = *state;
    struct resp *r = http(f, "GET", "/health", NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(jstr(r, "status"), "healthy");
    assert_string_equal(jstr(r, "mode"), "authorization-server");
    assert_string_equal(json_get_string(json_get_object(r->json, "endpoints"), "introspect"),
                        "http://localhost:3001/introspect");
    done(r);
    r = http(f, "GET", "/.well-known/oauth-protected-resource", NULL, NULL, NULL);
    assert_string_equal(jstr(r, "resource"), "http://localhost:3001");
    done(r);
    r = http(f, "GET", "/nowhere", NULL, NULL, NULL);
    assert_int_equal(r->status, 404);
    done(r);
    char ct[64];
    r = http(f, "GET", "/mcp-logo.png", NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "image/png");
    done(r);
    r = http(f, "GET", "/token", NULL, NULL, NULL);
    assert_int_equal(r->status, 405);
    done(r);
}

static void test_register_returns_201_with_credentials(void **state)
{
    struct fx *f = *state;
    struct resp *r = http(f, "POST", "/register", "application/json",
                          "{\"client_name\":\"c\",\"redirect_uris\":[\"" REDIRECT "\"]}", NULL);
    char cc[64];
    assert_int_equal(r->status, 201);
    assert_true(header(r, "Cache-Control", cc, sizeof cc));
    assert_string_equal(cc, "no-store");
    assert_int_equal(strlen(jstr(r, "client_id")), 36);
    assert_int_equal(strlen(jstr(r, "client_secret")), 64);
    assert_true(json_is_integer(json_object_get(r->json, "client_secret_expires_at")));
    assert_true(json_is_integer(json_object_get(r->json, "client_id_issued_at")));
    assert_string_equal(jstr(r, "scope"), "mcp");
    assert_string_equal(jstr(r, "token_endpoint_auth_method"), "client_secret_post");
    done(r);
    r = http(f, "POST", "/register", "application/json",
             "{\"redirect_uris\":[\"http://127.0.0.1:5555/cb\"],"
             "\"token_endpoint_auth_method\":\"none\"}",
             NULL);
    assert_int_equal(r->status, 201);
    assert_null(json_object_get(r->json, "client_secret"));
    assert_null(json_object_get(r->json, "client_secret_expires_at"));
    done(r);
}

static void test_register_refuses_bad_metadata(void **state)
{
    struct fx *f = *state;
    static const char *const bad[][2] = {
        {"{\"client_name\":\"x\"}", "invalid_client_metadata"},
        {"{\"redirect_uris\":[]}", "invalid_redirect_uri"},
        {"{\"redirect_uris\":[\"javascript:alert(1)\"]}", "invalid_redirect_uri"},
        {"{\"redirect_uris\":[\"http://evil.example/cb\"]}", "invalid_redirect_uri"},
        {"{\"redirect_uris\":[\"https://app.example/cb#frag\"]}", "invalid_redirect_uri"},
        {"{\"redirect_uris\":[\"/relative\"]}", "invalid_redirect_uri"},
        {"{\"redirect_uris\":[\"" REDIRECT "\"],\"grant_types\":[\"password\"]}",
         "invalid_client_metadata"},
        {"{\"redirect_uris\":[\"" REDIRECT "\"],\"response_types\":[\"token\"]}",
         "invalid_client_metadata"},
        {"{\"redirect_uris\":[\"" REDIRECT
         "\"],\"token_endpoint_auth_method\":\"private_key_jwt\"}",
         "invalid_client_metadata"},
        {"[1,2]", "invalid_client_metadata"},
        {"{not json", "invalid_client_metadata"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct resp *r = http(f, "POST", "/register", "application/json", bad[i][0], NULL);
        assert_int_equal(r->status, 400);
        assert_string_equal(jstr(r, "error"), bad[i][1]);
        done(r);
    }
}

static void test_full_flow_register_to_revoke(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, NULL);
    struct tokens t = login(f, &c);
    struct resp *r = introspect(f, t.access);
    assert_true(json_is_true(json_object_get(r->json, "active")));
    assert_string_equal(jstr(r, "sub"), "e2e-user");
    assert_string_equal(jstr(r, "client_id"), c.id);
    assert_string_equal(jstr(r, "aud"), "http://localhost:3232");
    assert_true(json_is_integer(json_object_get(r->json, "exp")));
    done(r);
    char params[256];
    snprintf(params, sizeof params, "grant_type=refresh_token&refresh_token=%s", t.refresh);
    r = token_request(f, &c, params);
    struct tokens t2 = token_from(r);
    done(r);
    assert_string_not_equal(t2.refresh, t.refresh);
    r = token_request(f, &c, params); /* the old refresh token again */
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "invalid_grant");
    done(r);
    assert_false(active(f, t2.access)); /* reuse revoked the family */

    struct tokens t3 = login(f, &c);
    assert_true(active(f, t3.access));
    char body[256];
    snprintf(body, sizeof body, "client_id=%s&client_secret=%s&token=%s", c.id, c.secret,
             t3.access);
    r = http(f, "POST", "/revoke", "application/x-www-form-urlencoded", body, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "{}");
    done(r);
    assert_false(active(f, t3.access));
}

static void test_token_replayed_code_is_invalid_grant(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, NULL);
    char code[80], params[512];
    authorize_code(f, &c, NULL, code);
    idp_callback(f, code, NULL);
    snprintf(params, sizeof params, "grant_type=authorization_code&code=%s&code_verifier=" VERIFIER,
             code);
    struct resp *r = token_request(f, &c, params);
    struct tokens t = token_from(r);
    char cc[64];
    assert_true(header(r, "Cache-Control", cc, sizeof cc));
    assert_string_equal(cc, "no-store");
    assert_string_equal(jstr(r, "token_type"), "Bearer");
    assert_string_equal(jstr(r, "scope"), "mcp");
    done(r);
    struct resp *i = introspect(f, t.access);
    assert_string_equal(jstr(i, "sub"), "anonymous-user");
    done(i);
    r = token_request(f, &c, params);
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "invalid_grant");
    done(r);
    assert_false(active(f, t.access));
}

static void test_bad_idp_state_is_400_and_server_survives(void **state)
{
    struct fx *f = *state;
    const char *paths[] = {"/mock-upstream-idp/callback?state=bogus", "/mock-upstream-idp/callback",
                           "/mock-upstream-idp/callback?state=0000000000000000000000000000000000"
                           "000000000000000000000000000000",
                           "/mock-upstream-idp/callback?state=a&state=b"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct resp *r = http(f, "GET", paths[i], NULL, NULL, NULL);
        assert_int_equal(r->status, 400);
        assert_string_equal(jstr(r, "error"), "invalid_request");
        done(r);
    }
    struct resp *r = http(f, "GET", "/health", NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    done(r);
}

static void test_idp_page_escapes_reflected_values(void **state)
{
    struct fx *f = *state;
    struct resp *r = http(f, "GET",
                          "/mock-upstream-idp/authorize?redirect_uri=/mock-upstream-idp/callback"
                          "&state=%3C/script%3E%3Cscript%3Ealert(1)%3C/script%3E%27%22",
                          NULL, NULL, NULL);
    char csp[512];
    assert_int_equal(r->status, 200);
    assert_null(strstr(r->body, "</script><script>alert"));
    assert_null(strstr(r->body, "<script")); /* the page runs no script at all */
    assert_non_null(strstr(r->body, "value=\"&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
                                    "&#39;&quot;\""));
    assert_true(header(r, "Content-Security-Policy", csp, sizeof csp));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    done(r);
    r = http(f, "GET", "/mock-upstream-idp/authorize?redirect_uri=https://evil.example&state=x",
             NULL, NULL, NULL);
    assert_int_equal(r->status, 400);
    done(r);
    r = http(f, "GET", "/mock-upstream-idp/authorize?redirect_uri=//evil.example&state=x", NULL,
             NULL, NULL);
    assert_int_equal(r->status, 400);
    done(r);
}

static void test_authorize_unregistered_redirect_is_not_redirected(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, NULL);
    char path[512];
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=%s&redirect_uri=http://localhost:3000/"
             "other&code_challenge=" CHALLENGE "&code_challenge_method=S256",
             c.id);
    struct resp *r = http(f, "GET", path, NULL, NULL, NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "invalid_request");
    assert_string_equal(jstr(r, "error_description"), "Unregistered redirect_uri");
    done(r);
    r = http(f, "GET",
             "/authorize?response_type=code&client_id=00000000-0000-4000-8000-000000000000", NULL,
             NULL, NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "invalid_client");
    done(r);
}

static void test_authorize_post_form_renders_escaped_consent_page(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, NULL);
    struct resp *r =
        http(f, "POST", "/register", "application/json",
             "{\"client_name\":\"<b>state=evil\\\"\",\"redirect_uris\":[\"" REDIRECT "\"]}", NULL);
    assert_int_equal(r->status, 201);
    snprintf(c.id, sizeof c.id, "%s", jstr(r, "client_id"));
    done(r);
    char body[512], csp[512];
    snprintf(body, sizeof body,
             "response_type=code&client_id=%s&code_challenge=" CHALLENGE
             "&code_challenge_method=S256&state=s1",
             c.id);
    r = http(f, "POST", "/authorize", "application/x-www-form-urlencoded", body, NULL);
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Security-Policy", csp, sizeof csp));
    assert_non_null(strstr(csp, "img-src 'self' data:"));
    assert_null(strstr(r->body, "<b>"));
    const char *first = strstr(r->body, "state=");
    assert_non_null(first);
    assert_true(first > strstr(r->body, "/mock-upstream-idp/authorize?redirect_uri="));
    assert_int_equal(strspn(first + 6, "0123456789abcdef"), 64);
    assert_true(first[70] == '"' || first[70] == '&');
    done(r);
}

static void test_authorize_plain_or_missing_method_redirects_invalid_request(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, NULL);
    const char *methods[] = {"&code_challenge_method=plain", ""};
    for (size_t i = 0; i < 2; i++) {
        char path[512], loc[1024];
        snprintf(path, sizeof path,
                 "/authorize?response_type=code&client_id=%s&code_challenge=" CHALLENGE
                 "%s&state=xyz",
                 c.id, methods[i]);
        struct resp *r = http(f, "GET", path, NULL, NULL, NULL);
        assert_int_equal(r->status, 302);
        assert_true(header(r, "Location", loc, sizeof loc));
        assert_int_equal(strncmp(loc, REDIRECT "?error=invalid_request&", 38), 0);
        assert_non_null(strstr(loc, "&state=xyz&iss=http%3A%2F%2Flocalhost%3A3001"));
        done(r);
    }
}

static void test_authorize_scope_and_resource_checks(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, NULL);
    char path[512], loc[1024];
    snprintf(path, sizeof path,
             "/authorize?response_type=code&client_id=%s&code_challenge=" CHALLENGE
             "&code_challenge_method=S256&scope=admin",
             c.id);
    struct resp *r = http(f, "GET", path, NULL, NULL, NULL);
    assert_int_equal(r->status, 302);
    assert_true(header(r, "Location", loc, sizeof loc));
    assert_non_null(strstr(loc, "error=invalid_scope"));
    assert_non_null(strstr(loc, "&iss=http%3A%2F%2Flocalhost%3A3001")); /* RFC 9207, no state */
    done(r);
    /* RFC 8707 through HTTP: the resource becomes the audience. */
    char code[80], params[512];
    authorize_code(f, &c, "&scope=mcp&resource=http%3A%2F%2Flocalhost%3A3232%2Fmcp", code);
    idp_callback(f, code, "u1");
    snprintf(params, sizeof params,
             "grant_type=authorization_code&code=%s&code_verifier=" VERIFIER
             "&resource=http://localhost:3232/mcp",
             code);
    r = token_request(f, &c, params);
    struct tokens t = token_from(r);
    done(r);
    r = introspect(f, t.access);
    assert_string_equal(jstr(r, "aud"), "http://localhost:3232/mcp");
    done(r);
}

static void test_token_client_authentication(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, NULL);
    char body[512], basic_in[256], basic[512], hdr[600];
    snprintf(body, sizeof body, "grant_type=refresh_token&refresh_token=x&client_id=%s", c.id);
    struct resp *r = http(f, "POST", "/token", "application/x-www-form-urlencoded", body, NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "invalid_client");
    assert_string_equal(jstr(r, "error_description"), "Client secret is required");
    done(r);
    /* Basic with a wrong secret: 401 and a Basic challenge (RFC 6749 §5.2). */
    snprintf(basic_in, sizeof basic_in, "%s:wrong", c.id);
    crypto_base64_encode(basic_in, strlen(basic_in), basic, sizeof basic);
    snprintf(hdr, sizeof hdr, "Authorization: Basic %s", basic);
    r = http(f, "POST", "/token", "application/x-www-form-urlencoded",
             "grant_type=refresh_token&refresh_token=x", hdr);
    assert_int_equal(r->status, 401);
    assert_string_equal(jstr(r, "error"), "invalid_client");
    assert_true(header(r, "WWW-Authenticate", basic_in, sizeof basic_in));
    done(r);
    /* Basic with the right secret gets past authentication to the grant. */
    snprintf(basic_in, sizeof basic_in, "%s:%s", c.id, c.secret);
    crypto_base64_encode(basic_in, strlen(basic_in), basic, sizeof basic);
    snprintf(hdr, sizeof hdr, "Authorization: Basic %s", basic);
    r = http(f, "POST", "/token", "application/x-www-form-urlencoded",
             "grant_type=refresh_token&refresh_token=x", hdr);
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "invalid_grant");
    done(r);
    r = http(f, "POST", "/token", "application/x-www-form-urlencoded",
             "grant_type=password&client_id=00000000-0000-4000-8000-000000000000", NULL);
    assert_string_equal(jstr(r, "error"), "invalid_client");
    done(r);
}

static void test_token_grant_type_and_duplicates(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, NULL);
    struct resp *r = token_request(f, &c, "grant_type=password");
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "unsupported_grant_type");
    done(r);
    r = token_request(f, &c, "code=a&code=b&grant_type=authorization_code");
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "invalid_request");
    done(r);
    r = token_request(f, &c, "scope=mcp");
    assert_string_equal(jstr(r, "error"), "invalid_request");
    done(r);
}

/* RFC 6749 §3.2: the token endpoint takes form-encoded parameters; a JSON body is refused
 * (400 invalid_request) and the same parameters as a form are served. */
static void test_public_client_token_body_is_a_form(void **state)
{
    struct fx *f = *state;
    struct client c = register_client(f, ",\"token_endpoint_auth_method\":\"none\"");
    char code[80], body[512];
    assert_string_equal(c.secret, "");
    authorize_code(f, &c, NULL, code);
    idp_callback(f, code, "pub");
    snprintf(body, sizeof body,
             "{\"grant_type\":\"authorization_code\",\"client_id\":\"%s\",\"code\":\"%s\","
             "\"code_verifier\":\"" VERIFIER "\",\"redirect_uri\":\"" REDIRECT "\"}",
             c.id, code);
    struct resp *r = http(f, "POST", "/token", "application/json", body, NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error"), "invalid_request");
    assert_string_equal(jstr(r, "error_description"),
                        "Content-Type must be application/x-www-form-urlencoded");
    done(r);
    snprintf(body, sizeof body,
             "grant_type=authorization_code&client_id=%s&code=%s&code_verifier=" VERIFIER
             "&redirect_uri=" REDIRECT,
             c.id, code);
    r = http(f, "POST", "/token", "application/x-www-form-urlencoded", body, NULL);
    struct tokens t = token_from(r);
    done(r);
    assert_true(active(f, t.access));
}

static void test_introspect_requires_the_shared_secret(void **state)
{
    struct fx *f = *state;
    struct resp *r =
        http(f, "POST", "/introspect", "application/x-www-form-urlencoded", "token=abc", NULL);
    assert_int_equal(r->status, 401);
    assert_string_equal(jstr(r, "error"), "invalid_client");
    done(r);
    r = http(f, "POST", "/introspect", "application/x-www-form-urlencoded", "token=abc",
             "Authorization: Bearer wrong");
    assert_int_equal(r->status, 401);
    done(r);
    r = http(f, "POST", "/introspect", "application/x-www-form-urlencoded", "",
             "Authorization: Bearer " SECRET);
    assert_int_equal(r->status, 400);
    assert_string_equal(jstr(r, "error_description"), "Missing token parameter");
    done(r);
    r = introspect(f, "abc");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "{\"active\":false}");
    done(r);
}

static void test_cors_preflight_and_reflection(void **state)
{
    struct fx *f = *state;
    char v[256];
    struct resp *r = http(f, "OPTIONS", "/token", NULL, NULL,
                          "Origin: https://app.example\nAccess-Control-Request-Method: POST\n"
                          "Access-Control-Request-Headers: content-type");
    assert_int_equal(r->status, 204);
    assert_true(header(r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "https://app.example");
    assert_true(header(r, "Access-Control-Allow-Headers", v, sizeof v));
    assert_string_equal(v, "content-type");
    done(r);
    r = http(f, "GET", "/health", NULL, NULL, "Origin: https://app.example");
    assert_true(header(r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "https://app.example");
    assert_true(header(r, "Access-Control-Allow-Credentials", v, sizeof v));
    done(r);
    r = http(f, "GET", "/.well-known/oauth-authorization-server", NULL, NULL,
             "Origin: https://app.example");
    assert_true(header(r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "*");
    done(r);
}

static void test_register_rate_limited(void **state)
{
    struct config c;
    config_defaults(&c);
    c.rate_limit_register = 2;
    c.rate_limit_token = 1;
    struct fx *f = start(&c);
    /* The resource server that proves the introspection secret is not throttled. */
    for (int i = 0; i < 3; i++) {
        struct resp *ir = introspect(f, "abc");
        assert_int_equal(ir->status, 200);
        done(ir);
    }
    const char *body = "{\"redirect_uris\":[\"" REDIRECT "\"]}";
    for (int i = 0; i < 2; i++) {
        struct resp *r = http(f, "POST", "/register", "application/json", body, NULL);
        assert_int_equal(r->status, 201);
        done(r);
    }
    struct resp *r = http(f, "POST", "/register", "application/json", body, NULL);
    assert_int_equal(r->status, 429);
    assert_string_equal(jstr(r, "error"), "too_many_requests");
    done(r);
    void *fp = f;
    teardown(&fp);
}

static void test_issuer_must_be_https_off_loopback(void **state)
{
    struct config c;
    char err[256] = "";
    uv_loop_t loop;
    config_defaults(&c);
    c.auth_server_url = "http://auth.example.com";
    uv_loop_init(&loop);
    struct store *s = store_memory_new(&loop, NULL);
    assert_null(auth_server_new(&loop, &c, s, NULL, err, sizeof err));
    assert_non_null(strstr(err, "HTTPS"));
    store_close(s, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* GET / (a 404 at the reference server): a browser, whose Accept puts text/html first, gets a
 * page in the splash page's look that links the metadata; anything else gets JSON naming it. */
static void test_root_answers_html_to_browsers_and_json_otherwise(void **state)
{
    struct fx *f = *state;
    const char *browser = "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
                          "*/*;q=0.8";
    struct resp *r = http(f, "GET", "/", NULL, NULL, browser);
    char v[512];
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/html; charset=utf-8");
    assert_true(header(r, "Content-Security-Policy", v, sizeof v));
    assert_null(strstr(v, "upgrade-insecure-requests")); /* AUTH_SERVER_URL is http */
    assert_null(strstr(v, "unsafe-inline"));
    assert_non_null(strstr(r->body, "OAuth 2.1"));
    assert_non_null(strstr(r->body, "<link rel=\"stylesheet\" href=\"/styles.css\">"));
    assert_non_null(strstr(r->body, "href=\"http://localhost:3001/.well-known/"
                                    "oauth-authorization-server\""));
    assert_null(r->json);
    done(r);
    const char *json_accepts[] = {NULL,
                                  "Accept: */*",
                                  "Accept: application/json",
                                  "Accept: text/html;q=0.5, application/json",
                                  "Accept: text/*;q=0.1, application/*",
                                  "Accept: text/html;q=0"};
    for (size_t i = 0; i < sizeof json_accepts / sizeof json_accepts[0]; i++) {
        r = http(f, "GET", "/", NULL, NULL, json_accepts[i]);
        assert_int_equal(r->status, 200);
        assert_non_null(r->json);
        assert_string_equal(jstr(r, "issuer"), "http://localhost:3001");
        assert_string_equal(jstr(r, "authorization_server_metadata"),
                            "http://localhost:3001/.well-known/oauth-authorization-server");
        done(r);
    }
    /* The page's stylesheet and icon are served here too. */
    r = http(f, "GET", "/styles.css", NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/css");
    done(r);
    r = http(f, "GET", "/favicon.svg", NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "image/svg+xml");
    done(r);
    r = http(f, "POST", "/", "application/json", "{}", NULL);
    assert_int_equal(r->status, 405);
    done(r);
    r = http(f, "GET", "/", NULL, NULL, NULL);
    assert_false(header(r, "Strict-Transport-Security", v, sizeof v)); /* http: no HSTS */
    done(r);
}

/* With an https AUTH_SERVER_URL, HSTS on every answer and the upgrade directives on the page. */
static void test_https_issuer_gets_hsts_and_upgrading_csp(void **state)
{
    struct config c;
    config_defaults(&c);
    c.auth_server_url = "https://auth.example.com";
    struct fx *f = start(&c);
    char v[512];
    struct resp *r = http(f, "GET", "/health", NULL, NULL, "Host: auth.example.com");
    assert_true(header(r, "Strict-Transport-Security", v, sizeof v));
    assert_string_equal(v, "max-age=31536000; includeSubDomains");
    done(r);
    r = http(f, "GET", "/", NULL, NULL, "Accept: text/html\nHost: auth.example.com");
    assert_int_equal(r->status, 200);
    assert_true(header(r, "Content-Security-Policy", v, sizeof v));
    assert_non_null(strstr(v, "upgrade-insecure-requests; block-all-mixed-content"));
    done(r);
    *state = f;
    teardown(state);
}

/* An issuer with a path, written with a trailing slash and normalised as config.c does: the
 * metadata answers at its RFC 8414 §3.1 path (and the root one), naming that issuer. */
static void test_issuer_with_path_serves_inserted_metadata_path(void **state)
{
    struct config c;
    config_defaults(&c);
    c.auth_server_url = "https://auth.example.com/tenant1";
    struct fx *f = start(&c);
    const char *paths[] = {"/.well-known/oauth-authorization-server/tenant1",
                           "/.well-known/oauth-authorization-server"};
    for (size_t i = 0; i < 2; i++) {
        struct resp *r = http(f, "GET", paths[i], NULL, NULL, "Host: auth.example.com");
        assert_int_equal(r->status, 200);
        assert_string_equal(jstr(r, "issuer"), "https://auth.example.com/tenant1");
        assert_string_equal(jstr(r, "token_endpoint"), "https://auth.example.com/token");
        done(r);
    }
    *state = f;
    teardown(state);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        T(test_metadata_document_follows_rfc8414),
        T(test_health_and_protected_resource),
        T(test_register_returns_201_with_credentials),
        T(test_register_refuses_bad_metadata),
        T(test_full_flow_register_to_revoke),
        T(test_token_replayed_code_is_invalid_grant),
        T(test_bad_idp_state_is_400_and_server_survives),
        T(test_idp_page_escapes_reflected_values),
        T(test_authorize_unregistered_redirect_is_not_redirected),
        T(test_authorize_post_form_renders_escaped_consent_page),
        T(test_authorize_plain_or_missing_method_redirects_invalid_request),
        T(test_authorize_scope_and_resource_checks),
        T(test_token_client_authentication),
        T(test_token_grant_type_and_duplicates),
        T(test_public_client_token_body_is_a_form),
        T(test_introspect_requires_the_shared_secret),
        T(test_cors_preflight_and_reflection),
        T(test_root_answers_html_to_browsers_and_json_otherwise),
        cmocka_unit_test(test_https_issuer_gets_hsts_and_upgrading_csp),
        cmocka_unit_test(test_issuer_with_path_serves_inserted_metadata_path),
        cmocka_unit_test(test_register_rate_limited),
        cmocka_unit_test(test_issuer_must_be_https_off_loopback),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
