/* verifier against a fake authorization server: the project's http_server on 127.0.0.1 serving
 * canned metadata and /introspect answers (chosen by the token's value) and counting calls. It
 * stands in for the remote AS; the real one is exercised by the integration tests. A second
 * http_server plays the MCP role, so the exact 401/503/metadata responses are read off the wire
 * by a small raw TCP client on the same loop. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "auth/verifier.h"
#include "auth/verifier_internal.h" /* cache_max, to test the bound with a small cache */
#include "lib/buf.h"
#include "app/config.h"
#include "lib/hashmap.h"
#include "http/http_response.h"
#include "http/http_server.h"
#include "lib/log.h"

#define BASE     "http://localhost:3232"
#define PRM      BASE "/.well-known/oauth-protected-resource/mcp"
#define PRM_SSE  BASE "/.well-known/oauth-protected-resource/sse"
#define PRM_ROOT BASE "/.well-known/oauth-protected-resource"

#define MAX_HELD 8

struct fake_as {
    struct http_server *srv;
    int port;
    bool up;
    int metadata_calls;
    int introspect_calls;
    double started;      /* wall clock at as_start: "exp1s" expires 1 s later */
    char last_auth[256]; /* Authorization header of the last /introspect */
    char last_body[256]; /* body of the last /introspect */
    char metadata[512];  /* served as is */
    struct http_exchange *held[MAX_HELD];
    int held_count;
};

struct fixture {
    uv_loop_t loop;
    struct config cfg;
    char auth_url[64];
    struct logger log;
    char *log_text;
    size_t log_len;
    struct fake_as as;
    struct verifier *v;
    struct http_server *mcp; /* the MCP role's listener, answering through the verifier */
    int mcp_port;
    bool closed;
    int pending_closes;
};

struct outcome {
    bool done;
    int calls;
    int status;
    bool token_present;
    char error[128];
    char sub[64];
    char client_id[64];
    char scope[64];
    double exp;
};

/* --------------------------------------------------------------- fake AS --- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The canned answer for a token: status, and a JSON body with exp relative to now (or, for
 * "exp1s", to the AS start, so that token really expires). */
static int canned_answer(const struct fake_as *as, const char *token, char *out, size_t size)
{
    double now = now_s();
    const char *aud = "\"" BASE "/mcp\"";
    if (!strcmp(token, "aud-base"))
        aud = "\"" BASE "\"";
    else if (!strcmp(token, "aud-slash"))
        aud = "\"" BASE "/mcp/\"";
    else if (!strcmp(token, "aud-array"))
        aud = "[\"https://other.example\",\"" BASE "\"]";
    else if (!strcmp(token, "aud-wrong"))
        aud = "\"http://localhost:9999/mcp\"";
    else if (!strcmp(token, "aud-prefix"))
        aud = "\"" BASE "/mcpx\"";
    else if (!strcmp(token, "aud-sse"))
        aud = "\"" BASE "/sse\"";
    else if (!strcmp(token, "aud-sse-slash"))
        aud = "\"" BASE "/sse/\"";
    else if (!strcmp(token, "aud-sse-array"))
        aud = "[\"http://localhost:9999/sse\",\"" BASE "/sse\"]";
    else if (!strcmp(token, "aud-sse-wrong"))
        aud = "\"http://localhost:9999/sse\"";
    else if (!strcmp(token, "aud-sse-prefix"))
        aud = "\"" BASE "/ssex\"";
    else if (!strcmp(token, "aud-sse-below"))
        aud = "\"" BASE "/sse/message\"";
    if (!strcmp(token, "http500"))
        return snprintf(out, size, "{\"error\":\"server_error\"}"), 500;
    if (!strcmp(token, "garbage"))
        return snprintf(out, size, "not json"), 200;
    if (!strcmp(token, "refuse-credential"))
        return snprintf(out, size, "{\"error\":\"invalid_client\"}"), 401;
    if (!strcmp(token, "aud-missing"))
        return snprintf(out, size, "{\"active\":true,\"sub\":\"u\",\"exp\":%.3f}", now + 3600), 200;
    if (!strcmp(token, "noexp"))
        return snprintf(out, size, "{\"active\":true,\"sub\":\"u\",\"aud\":%s}", aud), 200;
    if (!strcmp(token, "userid"))
        return snprintf(out, size,
                        "{\"active\":true,\"userId\":\"u2\",\"scope\":\"openid mcp\","
                        "\"exp\":%.3f,\"aud\":%s}",
                        now + 3600, aud),
               200;
    if (!strcmp(token, "anon"))
        return snprintf(out, size,
                        "{\"active\":true,\"sub\":\"\",\"scope\":\"mcp\",\"exp\":%.3f,\"aud\":%s}",
                        now + 3600, aud),
               200;
    if (!strcmp(token, "noscope") || !strcmp(token, "otherscope"))
        return snprintf(out, size, "{\"active\":true,\"sub\":\"u\",%s\"exp\":%.3f,\"aud\":%s}",
                        token[0] == 'o' ? "\"scope\":\"mcpx admin\"," : "", now + 3600, aud),
               200;
    double exp = !strcmp(token, "expired") ? now - 10
                 : !strcmp(token, "exp1s") ? as->started + 1
                                           : now + 3600;
    double nbf = !strcmp(token, "nbf") ? now + 100 : now - 1;
    double iat = !strcmp(token, "iat") ? now + 600 : now - 1;
    bool active = !strncmp(token, "good", 4) || !strncmp(token, "aud-", 4) ||
                  !strcmp(token, "expired") || !strcmp(token, "exp1s") || !strcmp(token, "nbf") ||
                  !strcmp(token, "iat");
    if (!active)
        return snprintf(out, size, "{\"active\":false}"), 200;
    return snprintf(out, size,
                    "{\"active\":true,\"client_id\":\"c1\",\"scope\":\"mcp\",\"exp\":%.3f,"
                    "\"sub\":\"user-1\",\"userId\":\"user-1\",\"aud\":%s,\"nbf\":%.3f,"
                    "\"iat\":%.3f,\"token_type\":\"Bearer\"}",
                    exp, aud, nbf, iat),
           200;
}

static void as_introspect(struct fake_as *as, struct http_exchange *ex,
                          const struct http_request *req)
{
    as->introspect_calls++;
    const char *auth = http_request_header(req, "Authorization");
    snprintf(as->last_auth, sizeof as->last_auth, "%s", auth ? auth : "");
    snprintf(as->last_body, sizeof as->last_body, "%s", req->body);
    const char *token = strncmp(req->body, "token=", 6) == 0 ? req->body + 6 : "";
    if (!strcmp(token, "hang") && as->held_count < MAX_HELD) {
        as->held[as->held_count++] = ex;
        return;
    }
    char body[512];
    int status = canned_answer(as, token, body, sizeof body);
    http_respond(ex, status, "application/json", body, strlen(body));
}

static void on_as_request(struct http_exchange *ex, void *arg)
{
    struct fake_as *as = arg;
    const struct http_request *req = http_exchange_request(ex);
    if (!strcmp(req->path, "/.well-known/oauth-authorization-server")) {
        as->metadata_calls++;
        http_respond(ex, 200, "application/json", as->metadata, strlen(as->metadata));
    } else if (!strcmp(req->path, "/introspect") && !strcmp(req->method, "POST")) {
        as_introspect(as, ex, req);
    } else {
        http_respond_empty(ex, 404);
    }
}

static void as_start(struct fixture *f)
{
    f->as.srv = http_server_new(&f->loop, &(struct http_limits){0}, NULL, on_as_request, &f->as);
    assert_non_null(f->as.srv);
    assert_int_equal(http_server_listen(f->as.srv, "127.0.0.1", f->as.port), 0);
    f->as.port = http_server_port(f->as.srv);
    f->as.up = true;
    f->as.started = now_s();
}

static void on_closed(void *arg)
{
    ((struct fixture *)arg)->pending_closes--;
}

static void as_stop(struct fixture *f)
{
    for (int i = 0; i < f->as.held_count; i++)
        http_exchange_finish(f->as.held[i]);
    f->as.held_count = 0;
    f->pending_closes++;
    http_server_shutdown(f->as.srv, 0, on_closed, f);
    f->as.srv = NULL;
    f->as.up = false;
    while (f->pending_closes > 0)
        uv_run(&f->loop, UV_RUN_ONCE);
}

/* A port nothing listens on: bind port 0, read the port, close the socket. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ------------------------------------------------------------- MCP side --- */

static void on_mcp_checked(void *arg, const struct verifier_result *res);

struct mcp_ctx {
    struct fixture *f;
    struct http_exchange *ex;
};

static void on_mcp_request(struct http_exchange *ex, void *arg)
{
    struct fixture *f = arg;
    const struct http_request *req = http_exchange_request(ex);
    enum verifier_resource prm;
    if (verifier_prm_path(req->path, &prm))
        verifier_serve_prm(f->v, ex, prm);
    else if (!strcmp(req->path, "/.well-known/oauth-authorization-server"))
        verifier_serve_as_metadata(f->v, ex);
    else
        verifier_check(f->v, req, on_mcp_checked, ex);
}

static void on_mcp_checked(void *arg, const struct verifier_result *res)
{
    struct http_exchange *ex = arg;
    if (res->status != VERIFIER_OK) {
        /* The lead's server would reject through the verifier it holds; so do we. */
        struct fixture *f = uv_loop_get_data(http_exchange_loop(ex));
        bool sse = !strcmp(http_exchange_request(ex)->path, "/sse");
        verifier_reject(f->v, ex, res, sse ? VERIFIER_RESOURCE_SSE : VERIFIER_RESOURCE_MCP);
        return;
    }
    char body[128];
    snprintf(body, sizeof body, "{\"sub\":\"%s\"}", res->sub);
    http_respond(ex, 200, "application/json", body, strlen(body));
}

/* A raw HTTP client on the loop: one request with Connection: close, read to EOF. */
struct raw {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    char req[1024];
    struct buf resp;
    bool done;
};

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    static char chunk[65536]; /* test-only: one client at a time, data copied at once */
    *b = uv_buf_init(chunk, sizeof chunk);
}

static void raw_closed(uv_handle_t *h)
{
    ((struct raw *)h->data)->done = true;
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct raw *r = s->data;
    if (n > 0)
        buf_append(&r->resp, b->base, (size_t)n);
    else if (n < 0)
        uv_close((uv_handle_t *)s, raw_closed);
}

static void raw_written(uv_write_t *w, int status)
{
    struct raw *r = w->data;
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static void raw_connected(uv_connect_t *c, int status)
{
    struct raw *r = c->data;
    assert_int_equal(status, 0);
    uv_buf_t b = uv_buf_init(r->req, (unsigned)strlen(r->req));
    r->wr.data = r;
    uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1, raw_written);
}

static void on_watchdog(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Run the loop until *flag, failing after ms. */
static void run_until(struct fixture *f, const bool *flag, uint64_t ms)
{
    bool expired = false;
    uv_timer_t dog;
    uv_timer_init(&f->loop, &dog);
    dog.data = &expired;
    uv_timer_start(&dog, on_watchdog, ms, 0);
    while (!*flag && !expired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(expired);
}

static void run_for(struct fixture *f, uint64_t ms)
{
    bool expired = false;
    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_watchdog, ms, 0);
    while (!expired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* GET path on the MCP listener with an optional Authorization value; returns the raw response
 * (caller frees). */
static char *mcp_get(struct fixture *f, const char *path, const char *authorization)
{
    struct raw r = {0};
    buf_init(&r.resp, 1 << 20);
    char auth[512] = "";
    if (authorization)
        snprintf(auth, sizeof auth, "Authorization: %s\r\n", authorization);
    snprintf(r.req, sizeof r.req,
             "GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n", path, auth);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", f->mcp_port, &a);
    uv_tcp_init(&f->loop, &r.tcp);
    r.tcp.data = &r;
    r.conn.data = &r;
    assert_int_equal(uv_tcp_connect(&r.conn, &r.tcp, (struct sockaddr *)&a, raw_connected), 0);
    run_until(f, &r.done, 5000);
    char *out = r.resp.data ? r.resp.data : strdup("");
    return out;
}

/* The value of a response header (copied into out), or "" when absent. */
static const char *header_of(const char *resp, const char *name, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *p = strcasestr(resp, key);
    out[0] = '\0';
    if (p) {
        p += strlen(key);
        snprintf(out, size, "%.*s", (int)strcspn(p, "\r"), p);
    }
    return out;
}

static const char *body_of(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");
    return p ? p + 4 : "";
}

/* ------------------------------------------------------------ fixture --- */

static void fixture_config(struct fixture *f, uint64_t cache_ms, uint64_t interval_ms)
{
    snprintf(f->auth_url, sizeof f->auth_url, "http://127.0.0.1:%d", f->as.port);
    f->cfg.base_uri = BASE;
    f->cfg.auth_server_url = f->auth_url;
    f->cfg.introspection_secret = "s3cret";
    f->cfg.introspection_cache_ms = cache_ms;
    f->cfg.auth_check_interval_ms = interval_ms;
    snprintf(f->as.metadata, sizeof f->as.metadata,
             "{\"issuer\": \"%s\",  \"introspection_endpoint\":\"%s/introspect\","
             "\"code_challenge_methods_supported\":[\"S256\"]}",
             f->auth_url, f->auth_url);
}

static struct fixture *fixture_new(bool as_up, uint64_t cache_ms, uint64_t interval_ms)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_loop_set_data(&f->loop, f);
    log_init(&f->log, open_memstream(&f->log_text, &f->log_len), LOG_DEBUG);
    f->as.port = free_port();
    if (as_up)
        as_start(f);
    fixture_config(f, cache_ms, interval_ms);
    f->v = verifier_new(&f->loop, &f->cfg, &f->log);
    assert_non_null(f->v);
    f->mcp = http_server_new(&f->loop, &(struct http_limits){0}, NULL, on_mcp_request, f);
    assert_int_equal(http_server_listen(f->mcp, "127.0.0.1", 0), 0);
    f->mcp_port = http_server_port(f->mcp);
    verifier_start(f->v);
    return f;
}

static void wait_available(struct fixture *f, uint64_t ms)
{
    uint64_t t0 = uv_now(&f->loop);
    while (!verifier_available(f->v)) {
        uv_run(&f->loop, UV_RUN_ONCE);
        assert_true(uv_now(&f->loop) - t0 < ms);
    }
}

static int setup(void **state)
{
    struct fixture *f = fixture_new(true, 60000, 100);
    wait_available(f, 5000);
    *state = f;
    return 0;
}

static void on_verifier_closed(void *arg)
{
    struct fixture *f = arg;
    f->closed = true;
    f->pending_closes--;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->v) {
        f->pending_closes++;
        verifier_close(f->v, on_verifier_closed, f);
    }
    if (f->as.srv)
        as_stop(f);
    f->pending_closes++;
    http_server_shutdown(f->mcp, 0, on_closed, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->pending_closes, 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    fclose(f->log.out);
    free(f->log_text);
    free(f);
    return 0;
}

/* ------------------------------------------------------------- checking --- */

static void on_outcome(void *arg, const struct verifier_result *res)
{
    struct outcome *o = arg;
    o->done = true;
    o->calls++;
    o->status = res->status;
    o->token_present = res->token_present;
    snprintf(o->error, sizeof o->error, "%s", res->error_description ? res->error_description : "");
    snprintf(o->sub, sizeof o->sub, "%s", res->sub ? res->sub : "");
    snprintf(o->client_id, sizeof o->client_id, "%s", res->client_id ? res->client_id : "");
    snprintf(o->scope, sizeof o->scope, "%s", res->scope ? res->scope : "");
    o->exp = res->exp;
}

static void start_check(struct fixture *f, const char *authorization, struct outcome *o)
{
    struct http_header h = {"Authorization", authorization};
    struct http_request req = {.method = "POST",
                               .target = "/mcp",
                               .path = "/mcp",
                               .headers = &h,
                               .header_count = authorization ? 1 : 0,
                               .body = "",
                               .remote_addr = "127.0.0.1",
                               .http_minor = 1};
    memset(o, 0, sizeof *o);
    verifier_check(f->v, &req, on_outcome, o);
}

static struct outcome check(struct fixture *f, const char *authorization)
{
    struct outcome o;
    start_check(f, authorization, &o);
    run_until(f, &o.done, 5000);
    assert_int_equal(o.calls, 1);
    return o;
}

static void assert_refused(struct fixture *f, const char *authorization, const char *msg)
{
    struct outcome o = check(f, authorization);
    assert_int_equal(o.status, VERIFIER_INVALID);
    assert_string_equal(o.error, msg);
    assert_true(o.token_present);
    assert_string_equal(o.sub, "");
}

/* ---------------------------------------------------------------- tests --- */

static void test_absent_header_gets_401_without_error_param(void **state)
{
    struct fixture *f = *state;
    struct outcome o = check(f, NULL);
    assert_int_equal(o.status, VERIFIER_INVALID);
    assert_false(o.token_present);
    assert_string_equal(o.error, "Missing Authorization header");
    char *resp = mcp_get(f, "/mcp", NULL);
    char h[512];
    assert_true(strncmp(resp, "HTTP/1.1 401 ", 13) == 0);
    assert_string_equal(header_of(resp, "WWW-Authenticate", h, sizeof h),
                        "Bearer resource_metadata=\"" PRM "\", scope=\"mcp\"");
    assert_string_equal(body_of(resp), "{\"error\":\"invalid_token\",\"error_description\":"
                                       "\"Missing Authorization header\"}");
    free(resp);
    assert_int_equal(f->as.introspect_calls, 0);
}

static void test_malformed_headers_are_refused_without_introspection(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"Basic dXNlcjpwYXNz", "Bearer",      "Bearer ",      "Bearer  good",
                         "Bearer good extra",  "Bearertoken", "Bearer go\tod"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_refused(f, bad[i], "Invalid Authorization header format, expected 'Bearer TOKEN'");
    assert_int_equal(f->as.introspect_calls, 0);
}

static void test_malformed_header_challenge_carries_invalid_token(void **state)
{
    struct fixture *f = *state;
    char *resp = mcp_get(f, "/mcp", "Basic abc");
    char h[512];
    assert_string_equal(header_of(resp, "WWW-Authenticate", h, sizeof h),
                        "Bearer error=\"invalid_token\", error_description=\"Invalid Authorization "
                        "header format, expected 'Bearer TOKEN'\", resource_metadata=\"" PRM
                        "\", scope=\"mcp\"");
    free(resp);
}

static void test_active_token_is_accepted_with_identity(void **state)
{
    struct fixture *f = *state;
    double before = now_s();
    struct outcome o = check(f, "Bearer good");
    assert_int_equal(o.status, VERIFIER_OK);
    assert_true(o.token_present);
    assert_string_equal(o.error, "");
    assert_string_equal(o.sub, "user-1");
    assert_string_equal(o.client_id, "c1");
    assert_string_equal(o.scope, "mcp");
    assert_true(o.exp > before + 3590 && o.exp < before + 3610);
    assert_int_equal(f->as.introspect_calls, 1);
}

static void test_scheme_is_case_insensitive(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(check(f, "bearer good").status, VERIFIER_OK);
    assert_int_equal(check(f, "BEARER good2").status, VERIFIER_OK);
}

static void test_user_id_falls_back_to_userid_then_unknown(void **state)
{
    struct fixture *f = *state;
    struct outcome o = check(f, "Bearer userid");
    assert_int_equal(o.status, VERIFIER_OK);
    assert_string_equal(o.sub, "u2");
    assert_string_equal(o.client_id, "unknown");
    assert_string_equal(o.scope, "openid mcp");
    o = check(f, "Bearer anon");
    assert_int_equal(o.status, VERIFIER_OK);
    assert_string_equal(o.sub, "unknown");
}

/* RFC 6750 §3.1: a good token without the mcp scope is 403 insufficient_scope, not 401. */
static void test_token_without_the_mcp_scope_is_forbidden(void **state)
{
    struct fixture *f = *state;
    static const char *const tokens[] = {"Bearer noscope", "Bearer otherscope"};
    for (size_t i = 0; i < 2; i++) {
        struct outcome o = check(f, tokens[i]);
        assert_int_equal(o.status, VERIFIER_FORBIDDEN);
        char *resp = mcp_get(f, "/mcp", tokens[i]);
        char h[512];
        assert_true(strncmp(resp, "HTTP/1.1 403 ", 13) == 0);
        assert_string_equal(header_of(resp, "WWW-Authenticate", h, sizeof h),
                            "Bearer error=\"insufficient_scope\", error_description=\"Token lacks "
                            "the required scope: mcp\", resource_metadata=\"" PRM
                            "\", scope=\"mcp\"");
        assert_string_equal(body_of(resp),
                            "{\"error\":\"insufficient_scope\",\"error_description\":"
                            "\"Token lacks the required scope: mcp\"}");
        free(resp);
    }
}

static void test_inactive_token_is_not_active(void **state)
{
    struct fixture *f = *state;
    assert_refused(f, "Bearer inactive", "Token is not active");
    char *resp = mcp_get(f, "/mcp", "Bearer inactive2");
    char h[512];
    assert_true(strncmp(resp, "HTTP/1.1 401 ", 13) == 0);
    assert_string_equal(
        header_of(resp, "WWW-Authenticate", h, sizeof h),
        "Bearer error=\"invalid_token\", error_description=\"Token is not active\", "
        "resource_metadata=\"" PRM "\", scope=\"mcp\"");
    assert_string_equal(
        body_of(resp),
        "{\"error\":\"invalid_token\",\"error_description\":\"Token is not active\"}");
    free(resp);
}

static void test_time_claims_are_checked(void **state)
{
    struct fixture *f = *state;
    assert_refused(f, "Bearer expired", "Token has expired");
    assert_refused(f, "Bearer noexp", "Token has no expiration time");
    assert_refused(f, "Bearer nbf", "Token is not yet valid (nbf)");
    assert_refused(f, "Bearer iat", "Token issued in the future (iat)");
}

static void test_foreign_or_missing_audience_is_refused(void **state)
{
    struct fixture *f = *state;
    assert_refused(f, "Bearer aud-wrong", "Token was not issued for this resource server");
    assert_refused(f, "Bearer aud-prefix", "Token was not issued for this resource server");
    assert_refused(f, "Bearer aud-missing", "Token was not issued for this resource server");
    assert_refused(f, "Bearer aud-sse-wrong", "Token was not issued for this resource server");
    assert_refused(f, "Bearer aud-sse-prefix", "Token was not issued for this resource server");
    assert_refused(f, "Bearer aud-sse-below", "Token was not issued for this resource server");
}

static void test_every_resource_audience_is_accepted(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(check(f, "Bearer good").status, VERIFIER_OK); /* BASE/mcp */
    assert_int_equal(check(f, "Bearer aud-base").status, VERIFIER_OK);
    assert_int_equal(check(f, "Bearer aud-slash").status, VERIFIER_OK);
    assert_int_equal(check(f, "Bearer aud-array").status, VERIFIER_OK);
    assert_int_equal(check(f, "Bearer aud-sse").status, VERIFIER_OK);
    assert_int_equal(check(f, "Bearer aud-sse-slash").status, VERIFIER_OK);
    assert_int_equal(check(f, "Bearer aud-sse-array").status, VERIFIER_OK);
}

/* The verifier knows no routes: the check of a /sse request is the check of a /mcp one (the
 * fixture's requests say /mcp). What differs is the metadata the challenge names. */
static void test_sse_challenge_names_the_sse_metadata(void **state)
{
    struct fixture *f = *state;
    char h[512];
    char *resp = mcp_get(f, "/sse", NULL);
    assert_true(strncmp(resp, "HTTP/1.1 401 ", 13) == 0);
    assert_string_equal(header_of(resp, "WWW-Authenticate", h, sizeof h),
                        "Bearer resource_metadata=\"" PRM_SSE "\", scope=\"mcp\"");
    assert_string_equal(body_of(resp), "{\"error\":\"invalid_token\",\"error_description\":"
                                       "\"Missing Authorization header\"}");
    free(resp);
    resp = mcp_get(f, "/sse", "Bearer inactive");
    assert_true(strncmp(resp, "HTTP/1.1 401 ", 13) == 0);
    assert_string_equal(header_of(resp, "WWW-Authenticate", h, sizeof h),
                        "Bearer error=\"invalid_token\", error_description=\"Token is not "
                        "active\", resource_metadata=\"" PRM_SSE "\", scope=\"mcp\"");
    free(resp);
    resp = mcp_get(f, "/sse", "Bearer aud-sse");
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    assert_string_equal(body_of(resp), "{\"sub\":\"user-1\"}");
    free(resp);
}

static void test_introspection_sends_secret_and_form_encoded_token(void **state)
{
    struct fixture *f = *state;
    check(f, "Bearer a+b/c=~x");
    assert_string_equal(f->as.last_auth, "Bearer s3cret");
    assert_string_equal(f->as.last_body, "token=a%2Bb%2Fc%3D~x");
}

static void test_cache_hit_makes_no_second_introspection(void **state)
{
    struct fixture *f = *state;
    struct outcome o;
    start_check(f, "Bearer good", &o);
    run_until(f, &o.done, 5000);
    start_check(f, "Bearer good", &o);
    assert_true(o.done); /* answered before verifier_check returned */
    assert_int_equal(o.status, VERIFIER_OK);
    assert_string_equal(o.sub, "user-1");
    assert_int_equal(f->as.introspect_calls, 1);
}

static void test_refusal_is_cached_briefly(void **state)
{
    struct fixture *f = *state;
    assert_refused(f, "Bearer inactive", "Token is not active");
    assert_refused(f, "Bearer inactive", "Token is not active");
    assert_int_equal(f->as.introspect_calls, 1);
}

static void test_http_error_is_token_validation_failed_and_not_cached(void **state)
{
    struct fixture *f = *state;
    assert_refused(f, "Bearer http500", "Token validation failed");
    assert_refused(f, "Bearer http500", "Token validation failed");
    assert_int_equal(f->as.introspect_calls, 2);
    assert_true(verifier_available(f->v)); /* the AS answered: it is reachable */
}

static void test_unparsable_answer_is_unavailable_not_unauthorized(void **state)
{
    struct fixture *f = *state;
    struct outcome o = check(f, "Bearer garbage");
    assert_int_equal(o.status, VERIFIER_UNAVAILABLE);
    assert_string_equal(o.error, "Unable to verify token");
}

static void test_refused_introspection_credential_is_unavailable_until_it_works(void **state)
{
    struct fixture *f = *state;
    /* A wrong INTROSPECTION_SECRET is the server's fault: 503, never "your token is bad". */
    struct outcome o = check(f, "Bearer refuse-credential");
    assert_int_equal(o.status, VERIFIER_UNAVAILABLE);
    assert_false(verifier_available(f->v));
    /* The next introspection is the re-check: once the AS accepts it, all is well again. */
    o = check(f, "Bearer good-after");
    assert_int_equal(o.status, VERIFIER_OK);
    assert_true(verifier_available(f->v));
}

static void test_concurrent_checks_share_one_introspection(void **state)
{
    struct fixture *f = *state;
    struct outcome o[3];
    for (int i = 0; i < 3; i++)
        start_check(f, "Bearer good", &o[i]);
    run_until(f, &o[2].done, 5000);
    for (int i = 0; i < 3; i++) {
        assert_true(o[i].done);
        assert_int_equal(o[i].status, VERIFIER_OK);
    }
    assert_int_equal(f->as.introspect_calls, 1);
}

static void test_cache_never_outlives_exp(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(check(f, "Bearer exp1s").status, VERIFIER_OK);
    assert_int_equal(check(f, "Bearer exp1s").status, VERIFIER_OK);
    assert_int_equal(f->as.introspect_calls, 1);
    run_for(f, 1100);
    /* Re-asked: the AS now says expired (a 60 s cache would still have said yes). */
    assert_refused(f, "Bearer exp1s", "Token has expired");
    assert_int_equal(f->as.introspect_calls, 2);
}

static void test_cache_expires_after_introspection_cache_ms(void **state)
{
    struct fixture *f = *state;
    f->cfg.introspection_cache_ms = 100;
    assert_int_equal(check(f, "Bearer good").status, VERIFIER_OK);
    assert_int_equal(check(f, "Bearer good").status, VERIFIER_OK);
    assert_int_equal(f->as.introspect_calls, 1);
    run_for(f, 150);
    assert_int_equal(check(f, "Bearer good").status, VERIFIER_OK);
    assert_int_equal(f->as.introspect_calls, 2);
}

static void test_full_cache_drops_its_oldest_entries(void **state)
{
    struct fixture *f = *state;
    f->v->cache_max = 32;
    char auth[32];
    for (int i = 0; i < 40; i++) {
        snprintf(auth, sizeof auth, "Bearer good-%d", i);
        assert_int_equal(check(f, auth).status, VERIFIER_OK);
        assert_true(hashmap_count(f->v->cache) <= 32);
    }
    assert_int_equal(f->as.introspect_calls, 40);
    assert_int_equal(check(f, "Bearer good-39").status, VERIFIER_OK); /* newest: still cached */
    assert_int_equal(f->as.introspect_calls, 40);
    assert_int_equal(check(f, "Bearer good-0").status, VERIFIER_OK); /* oldest: evicted */
    assert_int_equal(f->as.introspect_calls, 41);
}

static void test_prm_documents_are_exact(void **state)
{
    struct fixture *f = *state;
    char *resp = mcp_get(f, "/.well-known/oauth-protected-resource/mcp", NULL);
    char expect[512];
    snprintf(expect, sizeof expect,
             "{\"resource\":\"" BASE "/mcp\",\"authorization_servers\":[\"%s\"],"
             "\"scopes_supported\":[\"mcp\"],\"bearer_methods_supported\":[\"header\"],"
             "\"resource_name\":\"mcpd\"}",
             f->auth_url);
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    assert_string_equal(body_of(resp), expect);
    free(resp);
    resp = mcp_get(f, "/.well-known/oauth-protected-resource", NULL);
    snprintf(expect, sizeof expect,
             "{\"resource\":\"" BASE "\",\"authorization_servers\":[\"%s\"],"
             "\"scopes_supported\":[\"mcp\"],\"bearer_methods_supported\":[\"header\"],"
             "\"resource_name\":\"mcpd\"}",
             f->auth_url);
    assert_string_equal(body_of(resp), expect);
    free(resp);
    resp = mcp_get(f, "/.well-known/oauth-protected-resource/sse", NULL);
    snprintf(expect, sizeof expect,
             "{\"resource\":\"" BASE "/sse\",\"authorization_servers\":[\"%s\"],"
             "\"scopes_supported\":[\"mcp\"],\"bearer_methods_supported\":[\"header\"],"
             "\"resource_name\":\"mcpd\"}",
             f->auth_url);
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    assert_string_equal(body_of(resp), expect);
    free(resp);
    assert_string_equal(verifier_prm_url(f->v, VERIFIER_RESOURCE_MCP), PRM);
    assert_string_equal(verifier_prm_url(f->v, VERIFIER_RESOURCE_SSE), PRM_SSE);
    assert_string_equal(verifier_prm_url(f->v, VERIFIER_RESOURCE_ROOT), PRM_ROOT);
}

static void test_prm_paths_map_to_resources(void **state)
{
    (void)state;
    enum verifier_resource r = VERIFIER_RESOURCE_COUNT;
    assert_true(verifier_prm_path("/.well-known/oauth-protected-resource", &r));
    assert_int_equal(r, VERIFIER_RESOURCE_ROOT);
    assert_true(verifier_prm_path("/.well-known/oauth-protected-resource/mcp", &r));
    assert_int_equal(r, VERIFIER_RESOURCE_MCP);
    assert_true(verifier_prm_path("/.well-known/oauth-protected-resource/sse", &r));
    assert_int_equal(r, VERIFIER_RESOURCE_SSE);
    const char *no[] = {"/.well-known/oauth-protected-resource/",
                        "/.well-known/oauth-protected-resource/message",
                        "/.well-known/oauth-protected-resource/sse/",
                        "/.well-known/oauth-protected-resource/ssex",
                        "/.well-known/oauth-protected-resourcex",
                        "/.well-known/oauth-protected-resource/mcp/sse",
                        "/.well-known/oauth-protected-resourc",
                        "/sse",
                        ""};
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        r = VERIFIER_RESOURCE_COUNT;
        assert_false(verifier_prm_path(no[i], &r));
        assert_int_equal(r, VERIFIER_RESOURCE_COUNT); /* untouched */
    }
}

static void on_plain_closed(void *arg)
{
    *(bool *)arg = true;
}

/* RFC 9728 §3.1 with a BASE_URI that has a path: the well-known segment goes after the origin,
 * for every resource. No server is needed to derive the URLs. */
static void test_prm_urls_keep_the_base_path(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct config cfg = {.base_uri = "https://h.example/p/",
                         .auth_server_url = "https://as.example",
                         .introspection_secret = "s3cret",
                         .introspection_cache_ms = 1000,
                         .auth_check_interval_ms = 1000};
    struct verifier *v = verifier_new(&loop, &cfg, NULL);
    assert_non_null(v);
    assert_string_equal(verifier_prm_url(v, VERIFIER_RESOURCE_ROOT),
                        "https://h.example/.well-known/oauth-protected-resource/p");
    assert_string_equal(verifier_prm_url(v, VERIFIER_RESOURCE_MCP),
                        "https://h.example/.well-known/oauth-protected-resource/p/mcp");
    assert_string_equal(verifier_prm_url(v, VERIFIER_RESOURCE_SSE),
                        "https://h.example/.well-known/oauth-protected-resource/p/sse");
    bool closed = false;
    verifier_close(v, on_plain_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_as_metadata_is_served_exactly_as_fetched(void **state)
{
    struct fixture *f = *state;
    char *resp = mcp_get(f, "/.well-known/oauth-authorization-server", NULL);
    char h[128];
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    assert_string_equal(header_of(resp, "Content-Type", h, sizeof h), "application/json");
    assert_string_equal(body_of(resp), f->as.metadata);
    free(resp);
}

static const char BODY_503[] =
    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":\"Authentication service "
    "unavailable\",\"data\":{\"authServerUrl\":\"%s\",\"hint\":\"The authentication server is "
    "not responding. Please ensure it is running and try again.\"}},\"id\":null}";

static void assert_degraded_responses(struct fixture *f)
{
    char expect[512];
    snprintf(expect, sizeof expect, BODY_503, f->auth_url);
    const char *auths[] = {NULL, "Bearer good"};
    for (int i = 0; i < 2; i++) {
        char *resp = mcp_get(f, "/mcp", auths[i]);
        assert_true(strncmp(resp, "HTTP/1.1 503 ", 13) == 0);
        assert_string_equal(body_of(resp), expect);
        free(resp);
    }
    char *resp = mcp_get(f, "/.well-known/oauth-authorization-server", NULL);
    assert_true(strncmp(resp, "HTTP/1.1 503 ", 13) == 0);
    assert_string_equal(body_of(resp),
                        "{\"error\":\"service_unavailable\",\"error_description\":\"Authentication "
                        "server is currently unavailable. Please try again later.\"}");
    free(resp);
}

static void test_as_down_at_start_then_up_recovers(void **state)
{
    struct fixture *f = fixture_new(false, 60000, 100);
    *state = f;
    run_for(f, 250); /* a few failed fetches */
    assert_false(verifier_available(f->v));
    assert_degraded_responses(f);
    /* PRM does not depend on the AS being up, and names AUTH_SERVER_URL byte for byte before
     * and after: an AS answering another issuer (here with a trailing '/') changes nothing but
     * a warning in the log. */
    char *resp = mcp_get(f, "/.well-known/oauth-protected-resource/mcp", NULL);
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    char before[512];
    snprintf(before, sizeof before, "%s", body_of(resp));
    free(resp);
    char needle[128];
    snprintf(needle, sizeof needle, "\"authorization_servers\":[\"%s\"]", f->auth_url);
    assert_non_null(strstr(before, needle));
    snprintf(f->as.metadata, sizeof f->as.metadata, "{\"issuer\":\"%s/\"}", f->auth_url);
    as_start(f);
    /* Recovery comes from the periodic re-check (no request triggers it here): the AS sees one
     * metadata fetch. The ceiling is generous so a loaded machine cannot fail it. */
    wait_available(f, 10000);
    assert_int_equal(f->as.metadata_calls, 1);
    assert_int_equal(check(f, "Bearer good").status, VERIFIER_OK);
    resp = mcp_get(f, "/.well-known/oauth-protected-resource/mcp", NULL);
    assert_string_equal(body_of(resp), before);
    free(resp);
    fflush(f->log.out);
    assert_non_null(strstr(f->log_text, "names another issuer than AUTH_SERVER_URL"));
}

static void test_as_lost_after_start_degrades_then_recovers(void **state)
{
    struct fixture *f = *state;
    as_stop(f);
    struct outcome o = check(f, "Bearer good");
    assert_int_equal(o.status, VERIFIER_UNAVAILABLE);
    assert_string_equal(o.error, "Unable to verify token");
    assert_false(verifier_available(f->v));
    o = check(f, NULL); /* degraded mode: 503 whatever the header */
    assert_int_equal(o.status, VERIFIER_UNAVAILABLE);
    assert_degraded_responses(f);
    as_start(f);
    wait_available(f, 1000);
    assert_int_equal(check(f, "Bearer good").status, VERIFIER_OK);
}

static void test_close_answers_waiting_checks(void **state)
{
    struct fixture *f = *state;
    struct outcome o;
    start_check(f, "Bearer hang", &o);
    while (f->as.held_count == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_false(o.done);
    f->pending_closes++;
    verifier_close(f->v, on_verifier_closed, f);
    assert_true(o.done);
    assert_int_equal(o.status, VERIFIER_UNAVAILABLE);
    run_until(f, &f->closed, 5000);
    f->v = NULL;
}

static void test_tokens_never_reach_the_log(void **state)
{
    struct fixture *f = *state;
    const char *tokens[] = {"Bearer goodSECRETTOKEN1", "Bearer inactiveSECRETTOKEN2",
                            "Bearer http500"};
    for (int i = 0; i < 3; i++)
        check(f, tokens[i]);
    as_stop(f);
    check(f, "Bearer goodSECRETTOKEN3");
    fflush(f->log.out);
    assert_non_null(f->log_text);
    assert_null(strstr(f->log_text, "SECRETTOKEN"));
    assert_null(strstr(f->log_text, "s3cret"));
    assert_non_null(strstr(f->log_text, "sha256:")); /* tokens are identified by hash */
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_absent_header_gets_401_without_error_param),
        T(test_malformed_headers_are_refused_without_introspection),
        T(test_malformed_header_challenge_carries_invalid_token),
        T(test_active_token_is_accepted_with_identity),
        T(test_scheme_is_case_insensitive),
        T(test_user_id_falls_back_to_userid_then_unknown),
        T(test_token_without_the_mcp_scope_is_forbidden),
        T(test_inactive_token_is_not_active),
        T(test_time_claims_are_checked),
        T(test_foreign_or_missing_audience_is_refused),
        T(test_every_resource_audience_is_accepted),
        T(test_sse_challenge_names_the_sse_metadata),
        T(test_introspection_sends_secret_and_form_encoded_token),
        T(test_cache_hit_makes_no_second_introspection),
        T(test_refusal_is_cached_briefly),
        T(test_http_error_is_token_validation_failed_and_not_cached),
        T(test_unparsable_answer_is_unavailable_not_unauthorized),
        T(test_refused_introspection_credential_is_unavailable_until_it_works),
        T(test_concurrent_checks_share_one_introspection),
        T(test_cache_never_outlives_exp),
        T(test_cache_expires_after_introspection_cache_ms),
        T(test_full_cache_drops_its_oldest_entries),
        T(test_prm_documents_are_exact),
        cmocka_unit_test(test_prm_paths_map_to_resources),
        cmocka_unit_test(test_prm_urls_keep_the_base_path),
        T(test_as_metadata_is_served_exactly_as_fetched),
        cmocka_unit_test_teardown(test_as_down_at_start_then_up_recovers, teardown),
        T(test_as_lost_after_start_degrades_then_recovers),
        T(test_close_answers_waiting_checks),
        T(test_tokens_never_reach_the_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
