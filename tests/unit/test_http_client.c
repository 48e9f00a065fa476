/* http_client against a real local server (the project's http_server on 127.0.0.1, port 0),
 * both on one libuv loop that the test runs until the callbacks under test have fired. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "http/http_client.h"
#include "http/http_response.h"
#include "http/http_server.h"

#define MAX_HELD 8

struct fixture {
    uv_loop_t loop;
    struct http_server *server;
    struct http_client *client;
    int port;
    struct http_exchange *held[MAX_HELD]; /* /slow exchanges, finished at teardown */
    int held_count;
    unsigned conns_seen; /* server's connection count at the last /hello */
    char last_method[16];
    char last_header[128]; /* X-Test as received */
    bool server_closed;
    bool client_closed;
};

struct result {
    bool done;
    int status;
    char body[256];
    size_t len;
    char error[256];
    int calls;
};

static void on_response(void *arg, int status, const char *body, size_t len, const char *error)
{
    struct result *r = arg;
    r->done = true;
    r->calls++;
    r->status = status;
    r->len = len;
    snprintf(r->body, sizeof r->body, "%.*s", (int)(len < 255 ? len : 255), body);
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
}

static void serve_big(struct http_exchange *ex)
{
    size_t n = 100 * 1024;
    char *big = malloc(n);
    memset(big, 'x', n);
    http_respond(ex, 200, "text/plain", big, n);
    free(big);
}

static void on_server_request(struct http_exchange *ex, void *arg)
{
    struct fixture *f = arg;
    const struct http_request *req = http_exchange_request(ex);
    snprintf(f->last_method, sizeof f->last_method, "%s", req->method);
    const char *xt = http_request_header(req, "X-Test");
    snprintf(f->last_header, sizeof f->last_header, "%s", xt ? xt : "");
    if (strcmp(req->path, "/hello") == 0) {
        f->conns_seen = http_server_connection_count(f->server);
        http_respond(ex, 200, "text/plain", "hello", 5);
    } else if (strcmp(req->path, "/echo") == 0) {
        http_respond(ex, 201, "text/plain", req->body, req->body_len);
    } else if (strcmp(req->path, "/missing") == 0) {
        http_respond(ex, 404, "application/json", "{\"error\":\"nope\"}", 16);
    } else if (strcmp(req->path, "/cached") == 0) {
        http_response_header(ex, "Cache-Control", "public, max-age=120");
        http_respond(ex, 200, "application/json", "{}", 2);
    } else if (strcmp(req->path, "/big") == 0) {
        serve_big(ex);
    } else if (strcmp(req->path, "/slow") == 0 && f->held_count < MAX_HELD) {
        f->held[f->held_count++] = ex; /* never answered: the client must time out or cancel */
    } else {
        http_respond_empty(ex, 500);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->server = http_server_new(&f->loop, &(struct http_limits){0}, NULL, on_server_request, f);
    assert_non_null(f->server);
    assert_int_equal(http_server_listen(f->server, "127.0.0.1", 0), 0);
    f->port = http_server_port(f->server);
    f->client = http_client_new(&f->loop, NULL);
    assert_non_null(f->client);
    *state = f;
    return 0;
}

static void on_server_closed(void *arg)
{
    ((struct fixture *)arg)->server_closed = true;
}

static void on_client_closed(void *arg)
{
    ((struct fixture *)arg)->client_closed = true;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->client)
        http_client_close(f->client, on_client_closed, f);
    for (int i = 0; i < f->held_count; i++)
        http_exchange_finish(f->held[i]);
    http_server_shutdown(f->server, 0, on_server_closed, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(f->server_closed);
    assert_true(!f->client || f->client_closed);
    /* Every handle (polls, timers, connections) is closed, or this fails with UV_EBUSY. */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void on_watchdog(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Run the loop until *flag, failing after 5 s. */
static void run_until(struct fixture *f, const bool *flag)
{
    bool expired = false;
    uv_timer_t dog;
    uv_timer_init(&f->loop, &dog);
    dog.data = &expired;
    uv_timer_start(&dog, on_watchdog, 5000, 0);
    while (!*flag && !expired)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(expired);
}

static char *url(const struct fixture *f, const char *path)
{
    static char buf[128]; /* test-only scratch; tests run one at a time */
    snprintf(buf, sizeof buf, "http://127.0.0.1:%d%s", f->port, path);
    return buf;
}

static void test_get_returns_status_and_body(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    const char *hdrs[] = {"X-Test: one", NULL};
    struct http_client_req req = {.url = url(f, "/hello"), .headers = hdrs};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    assert_false(r.done); /* never called from inside http_client_request */
    assert_int_equal(http_client_in_flight(f->client), 1);
    run_until(f, &r.done);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_int_equal(r.len, 5);
    assert_string_equal(r.error, "");
    assert_string_equal(f->last_method, "GET");
    assert_string_equal(f->last_header, "one");
    assert_int_equal(http_client_in_flight(f->client), 0);
}

static void test_post_sends_body_and_gets_echo(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    struct http_client_req req = {.method = "POST",
                                  .url = url(f, "/echo"),
                                  .headers = hdrs,
                                  .body = "token=a%20b",
                                  .body_len = 11};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    run_until(f, &r.done);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "token=a%20b");
    assert_string_equal(f->last_method, "POST");
}

static void test_http_error_status_is_a_response_not_an_error(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    struct http_client_req req = {.url = url(f, "/missing")};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    run_until(f, &r.done);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"error\":\"nope\"}");
    assert_string_equal(r.error, "");
}

static void test_sequential_requests_reuse_the_connection(void **state)
{
    struct fixture *f = *state;
    struct result a = {0}, b = {0};
    struct http_client_req req = {.url = url(f, "/hello")};
    assert_int_equal(http_client_request(f->client, &req, on_response, &a), 0);
    run_until(f, &a.done);
    assert_int_equal(http_client_request(f->client, &req, on_response, &b), 0);
    run_until(f, &b.done);
    assert_int_equal(b.status, 200);
    assert_int_equal(f->conns_seen, 1); /* the second request came over the pooled connection */
}

static void test_timeout_reports_timeout_error(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    struct http_client_req req = {.url = url(f, "/slow"), .timeout_ms = 150};
    uint64_t t0 = uv_now(&f->loop);
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    run_until(f, &r.done);
    assert_int_equal(r.status, HTTP_CLIENT_ERR_TIMEOUT);
    assert_int_equal(r.len, 0);
    assert_true(r.error[0] != '\0');
    assert_true(uv_now(&f->loop) - t0 >= 140);
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

static void test_connection_refused_reports_connect_error(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", free_port());
    struct http_client_req req = {.url = u};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    run_until(f, &r.done);
    assert_int_equal(r.status, HTTP_CLIENT_ERR_CONNECT);
    assert_int_equal(r.calls, 1);
}

static void test_response_over_the_cap_is_refused(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    struct http_client_req req = {.url = url(f, "/big"), .max_response_bytes = 1024};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    run_until(f, &r.done);
    assert_int_equal(r.status, HTTP_CLIENT_ERR_TOO_BIG);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.error, "response too large");
}

static void test_response_at_the_cap_is_accepted(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    struct http_client_req req = {.url = url(f, "/big"), .max_response_bytes = 100 * 1024};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    run_until(f, &r.done);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 100 * 1024);
}

static void test_non_http_url_is_refused(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    struct http_client_req req = {.url = "file:///etc/passwd"};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), -1);
    req.url = "gopher://127.0.0.1/";
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), -1);
    assert_int_equal(r.calls, 0);
}

static bool addr_public(const char *text)
{
    struct sockaddr_storage ss = {0};
    if (strchr(text, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    }
    return http_client_addr_public((struct sockaddr *)&ss);
}

static void test_address_policy_refuses_internal_addresses(void **state)
{
    (void)state;
    static const char *const internal[] = {
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "192.0.2.7",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::1",
        "2001:db8::1",
        "::127.0.0.1",
    };
    static const char *const external[] = {"93.184.216.34",   "8.8.8.8",        "172.32.0.1",
                                           "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"};
    for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++) {
        if (addr_public(internal[i]))
            fail_msg("%s counted as public", internal[i]);
    }
    for (size_t i = 0; i < sizeof external / sizeof external[0]; i++) {
        if (!addr_public(external[i]))
            fail_msg("%s counted as internal", external[i]);
    }
}

static void on_idle(uv_idle_t *h)
{
    (void)h; /* an active idle handle keeps uv_run from blocking in poll */
}

/* run_until for a completion that comes from curl's timer rather than a socket (a connection
 * refused before it was made): UV_RUN_ONCE would then block in poll until the watchdog. */
static void run_spinning_until(struct fixture *f, const bool *flag)
{
    uv_idle_t idle;
    uv_idle_init(&f->loop, &idle);
    uv_idle_start(&idle, on_idle);
    run_until(f, flag);
    uv_close((uv_handle_t *)&idle, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* public_only refuses the loopback test server after resolution (the URL itself is fine), with
 * its own error; https_only refuses an http URL outright. */
static void test_public_only_and_https_only_requests(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    struct http_client_req req = {.url = url(f, "/hello"), .public_only = true};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    run_spinning_until(f, &r.done);
    assert_int_equal(r.status, HTTP_CLIENT_ERR_ADDRESS);
    assert_string_equal(r.error, "the host resolves to a non-public address");
    assert_int_equal(f->held_count, 0);
    struct http_client_req https = {.url = url(f, "/hello"), .https_only = true};
    struct result r2 = {0};
    assert_int_equal(http_client_request(f->client, &https, on_response, &r2), -1);
    assert_int_equal(r2.calls, 0);
}

static void test_cache_control_is_handed_back(void **state)
{
    struct fixture *f = *state;
    struct result r = {0};
    char cc[64] = "junk";
    struct http_client_req req = {
        .url = url(f, "/cached"), .cache_control = cc, .cache_control_size = sizeof cc};
    assert_int_equal(http_client_request(f->client, &req, on_response, &r), 0);
    run_until(f, &r.done);
    assert_int_equal(r.status, 200);
    assert_string_equal(cc, "public, max-age=120");
    struct result r2 = {0};
    req.url = url(f, "/hello");
    assert_int_equal(http_client_request(f->client, &req, on_response, &r2), 0);
    run_until(f, &r2.done);
    assert_string_equal(cc, "");
}

struct close_ctx {
    struct fixture *f;
    struct result r[2];
    int refused; /* requests started from a cancel callback and refused */
};

static void on_canceled_then_retry(void *arg, int status, const char *body, size_t len,
                                   const char *error)
{
    struct close_ctx *cc = arg;
    on_response(&cc->r[cc->r[0].done ? 1 : 0], status, body, len, error);
    struct http_client_req req = {.url = url(cc->f, "/hello")};
    if (http_client_request(cc->f->client, &req, on_response, &cc->r[0]) != 0)
        cc->refused++;
}

static void test_close_cancels_requests_in_flight(void **state)
{
    struct fixture *f = *state;
    struct close_ctx cc = {.f = f};
    struct http_client_req req = {.url = url(f, "/slow"), .timeout_ms = 5000};
    assert_int_equal(http_client_request(f->client, &req, on_canceled_then_retry, &cc), 0);
    assert_int_equal(http_client_request(f->client, &req, on_canceled_then_retry, &cc), 0);
    /* Let both requests reach the server, so real connections are open when we close. */
    while (f->held_count < 2)
        uv_run(&f->loop, UV_RUN_ONCE);
    http_client_close(f->client, on_client_closed, f);
    assert_true(cc.r[0].done && cc.r[1].done); /* before close returns */
    assert_int_equal(cc.r[0].status, HTTP_CLIENT_ERR_CANCELED);
    assert_int_equal(cc.r[1].status, HTTP_CLIENT_ERR_CANCELED);
    assert_int_equal(cc.refused, 2);
    assert_false(f->client_closed); /* done comes from the loop */
    run_until(f, &f->client_closed);
    f->client = NULL;
}

static void test_close_with_nothing_in_flight_calls_done(void **state)
{
    struct fixture *f = *state;
    http_client_close(f->client, on_client_closed, f);
    run_until(f, &f->client_closed);
    f->client = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_returns_status_and_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_sends_body_and_gets_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_error_status_is_a_response_not_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sequential_requests_reuse_the_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeout_reports_timeout_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused_reports_connect_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_response_over_the_cap_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_at_the_cap_is_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_http_url_is_refused, setup, teardown),
        cmocka_unit_test(test_address_policy_refuses_internal_addresses),
        cmocka_unit_test_setup_teardown(test_public_only_and_https_only_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_control_is_handed_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_requests_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_nothing_in_flight_calls_done, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
