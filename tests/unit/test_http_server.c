/* http_server + http_response against a real listener on 127.0.0.1, driven by raw sockets
 * from a client thread while the test runs the libuv loop. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "http/http_policy.h"
#include "http/http_response.h"
#include "http/http_server.h"
#include "http/http_server_internal.h"

#define CLIENT_BUF (256 * 1024)

/* ----------------------------------------------------------------- raw socket client --- */

struct client {
    int port;
    const char *req;
    size_t req_len;
    int second_delay_ms; /* >0: send req2 after this delay */
    const char *req2;
    int want;              /* stop after this many complete responses (0: read until EOF) */
    int max_ms;            /* give up reading after this long */
    int linger_ms;         /* after `want` responses, keep the socket open this long */
    int close_after_bytes; /* >0: close as soon as this many bytes arrived */
    int no_read_ms;        /* >0: never read; hold the socket this long, then close */
    const char *src_addr;  /* bind to this local address first (127.0.0.x: another client) */
    /* results */
    char *data;
    size_t len;
    bool eof;
    bool connect_failed;
    atomic_bool got_want; /* `want` responses arrived (set before lingering) */
    atomic_bool done;
    pthread_t thread;
};

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Complete responses in data: Content-Length, chunked (ends with 0 CRLF CRLF) or to EOF. */
static int count_responses(const char *data, size_t len, bool eof)
{
    int n = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *end = memmem(data + pos, len - pos, "\r\n\r\n", 4);
        if (!end)
            break;
        size_t body = (size_t)(end - data) + 4;
        const char *head = data + pos;
        size_t hlen = body - pos;
        int status = atoi(head + 9);
        const char *cl = memmem(head, hlen, "Content-Length: ", 16);
        if (status >= 100 && status < 200) {
            pos = body;
            continue;
        }
        if (memmem(head, hlen, "Transfer-Encoding: chunked", 26)) {
            const char *last = memmem(data + body, len - body, "0\r\n\r\n", 5);
            while (last && last != data + body && last[-1] != '\n')
                last = memmem(last + 1, (size_t)(data + len - last - 1), "0\r\n\r\n", 5);
            if (!last)
                break;
            pos = (size_t)(last - data) + 5;
        } else if (cl) {
            size_t blen = strtoul(cl + 16, NULL, 10);
            if (body + blen > len)
                break;
            pos = body + blen;
        } else if (status == 204 || status == 304) {
            pos = body;
        } else {
            if (!eof)
                break;
            pos = len;
        }
        n++;
    }
    return n;
}

static int client_connect(int port, const char *src_addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (src_addr) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        inet_pton(AF_INET, src_addr, &src.sin_addr);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void client_read(struct client *c, int fd)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (c->len < CLIENT_BUF) {
        long left = c->max_ms - elapsed_ms(&t0);
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t r = recv(fd, c->data + c->len, CLIENT_BUF - c->len, 0);
        if (r <= 0) {
            c->eof = true;
            break;
        }
        c->len += (size_t)r;
        if (c->close_after_bytes && c->len >= (size_t)c->close_after_bytes)
            break;
        if (c->want && count_responses(c->data, c->len, false) >= c->want) {
            atomic_store(&c->got_want, true);
            if (!c->linger_ms)
                break;
            c->max_ms = c->linger_ms;
            c->want = 0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
        }
    }
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    int fd = client_connect(c->port, c->src_addr);
    if (fd < 0) {
        c->connect_failed = true;
        atomic_store(&c->done, true);
        return NULL;
    }
    send_all(fd, c->req, c->req_len);
    if (c->req2) {
        sleep_ms(c->second_delay_ms);
        send_all(fd, c->req2, strlen(c->req2));
    }
    if (c->no_read_ms)
        sleep_ms(c->no_read_ms);
    else
        client_read(c, fd);
    close(fd);
    atomic_store(&c->done, true);
    return NULL;
}

static void client_start(struct client *c, int port, const char *req, size_t len)
{
    c->port = port;
    c->req = req;
    c->req_len = len;
    if (!c->max_ms)
        c->max_ms = 3000;
    c->data = calloc(1, CLIENT_BUF + 1);
    pthread_create(&c->thread, NULL, client_main, c);
}

static void client_join(struct client *c)
{
    pthread_join(c->thread, NULL);
}

static void client_free(struct client *c)
{
    free(c->data);
}

/* ----------------------------------------------------------------- server fixture ------ */

struct fx {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) returning so the test can poll client state */
    struct http_server *srv;
    int port;
    int handled;
    int head_calls;
    bool aborted;
    int overflow_rc;
    size_t flood_bytes;
    bool shutdown_done;
    char last_path[128];
    struct http_policy policy;
};

static void on_tick(uv_timer_t *t)
{
}

static void test_handler(struct http_exchange *ex, void *arg);

/* A server whose public URL is https (https) or http: the security headers differ. */
static struct fx *fx_new_scheme(const struct http_limits *lim, bool https)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, 5, 5);
    f->srv = http_server_new(&f->loop, lim, NULL, test_handler, f);
    assert_non_null(f->srv);
    http_policy_add_security_headers(f->srv, https);
    assert_int_equal(http_policy_init(&f->policy, "127.0.0.1", "http://localhost:3232", NULL), 0);
    assert_int_equal(http_server_listen(f->srv, "127.0.0.1", 0), 0);
    f->port = http_server_port(f->srv);
    assert_true(f->port > 0);
    return f;
}

static struct fx *fx_new(const struct http_limits *lim)
{
    return fx_new_scheme(lim, true);
}

static void run_until(struct fx *f, atomic_bool *flag, int max_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load(flag) && elapsed_ms(&t0) < max_ms)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void run_client(struct fx *f, struct client *c, const char *req, size_t len)
{
    client_start(c, f->port, req, len);
    run_until(f, &c->done, 10000);
    assert_true(atomic_load(&c->done));
    client_join(c);
}

static void on_shutdown_done(void *arg)
{
    ((struct fx *)arg)->shutdown_done = true;
}

static void on_tick_closed(uv_handle_t *h)
{
}

static void fx_free(struct fx *f)
{
    if (f->srv)
        http_server_shutdown(f->srv, 500, on_shutdown_done, f);
    for (int i = 0; i < 2000 && !f->shutdown_done; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->shutdown_done);
    uv_close((uv_handle_t *)&f->tick, on_tick_closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle was closed */
    http_policy_free(&f->policy);
    free(f);
}

/* ----------------------------------------------------------------- handlers ------------ */

struct deferred {
    uv_timer_t timer;
    struct http_exchange *ex;
    struct fx *f;
};

static void on_deferred_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_deferred(uv_timer_t *t)
{
    struct deferred *d = t->data;
    http_respond(d->ex, 200, "text/plain", "async", 5);
    uv_close((uv_handle_t *)t, on_deferred_closed);
}

static void defer_response(struct fx *f, struct http_exchange *ex, uint64_t ms)
{
    struct deferred *d = calloc(1, sizeof *d);
    d->ex = ex;
    d->f = f;
    uv_timer_init(http_exchange_loop(ex), &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_deferred, ms, 0);
}

static void on_flood(uv_timer_t *t)
{
    struct deferred *d = t->data;
    static const char block[16384];
    for (int i = 0; i < 16; i++) {
        int rc = http_stream_write(d->ex, block, sizeof block);
        d->f->flood_bytes += sizeof block;
        if (rc != HTTP_OK || d->f->flood_bytes > 256u * 1024 * 1024) {
            d->f->overflow_rc = rc;
            http_stream_end(d->ex); /* on a cut connection this only finishes the exchange */
            uv_close((uv_handle_t *)t, on_deferred_closed);
            return;
        }
    }
}

static void on_abort(struct http_exchange *ex, void *arg)
{
    struct fx *f = arg;
    f->aborted = true;
    assert_true(http_exchange_closed(ex));
    assert_int_equal(http_sse_comment(ex, "late"), HTTP_ERR_CLOSED);
    http_exchange_finish(ex);
}

static void send_sse(struct http_exchange *ex)
{
    http_sse_begin(ex, 200);
    http_sse_event(ex, "7", "message", "first line\nsecond line\r\nthird", 29);
    http_sse_event(ex, NULL, NULL, "{\"a\":1}", 7);
    http_sse_retry(ex, 1500);
    http_sse_comment(ex, "heartbeat");
    http_stream_end(ex);
}

static void test_handler(struct http_exchange *ex, void *arg)
{
    struct fx *f = arg;
    const struct http_request *r = http_exchange_request(ex);
    f->handled++;
    snprintf(f->last_path, sizeof f->last_path, "%s", r->path);
    if (strcmp(r->path, "/async") == 0 || strcmp(r->path, "/slow") == 0) {
        defer_response(f, ex, strcmp(r->path, "/slow") == 0 ? 150 : 80);
    } else if (strcmp(r->path, "/echo") == 0) {
        http_respond(ex, 200, "application/octet-stream", r->body, r->body_len);
    } else if (strcmp(r->path, "/later") == 0) { /* continued by the head hook, with a tag */
        const char *tag = http_exchange_data(ex);
        char out[256];
        int n = snprintf(out, sizeof out, "%s:%.*s", tag ? tag : "none", (int)r->body_len, r->body);
        http_respond(ex, 200, "text/plain", out, (size_t)n);
    } else if (strcmp(r->path, "/chunked") == 0) {
        http_stream_begin(ex, 200, "text/plain");
        http_stream_write(ex, "hello ", 6);
        http_stream_write(ex, "chunked world", 13);
        http_stream_end(ex);
    } else if (strcmp(r->path, "/sse") == 0) {
        send_sse(ex);
    } else if (strcmp(r->path, "/hold") == 0) {
        http_exchange_set_abort(ex, on_abort, f);
        http_sse_begin(ex, 200);
        http_sse_comment(ex, "open");
    } else if (strcmp(r->path, "/flood") == 0) {
        http_sse_begin(ex, 200);
        struct deferred *d = calloc(1, sizeof *d);
        d->ex = ex;
        d->f = f;
        uv_timer_init(http_exchange_loop(ex), &d->timer);
        d->timer.data = d;
        uv_timer_start(&d->timer, on_flood, 1, 1);
    } else if (strcmp(r->path, "/query") == 0) {
        char v[64];
        int n = http_request_query_param(r, "q", v, sizeof v);
        char out[128];
        snprintf(out, sizeof out, "%d:%s", n, n > 0 ? v : "");
        http_respond(ex, 200, "text/plain", out, strlen(out));
    } else if (strcmp(r->path, "/cors") == 0 && strcmp(r->method, "OPTIONS") == 0) {
        http_policy_preflight(ex, &f->policy);
    } else if (strcmp(r->path, "/cors") == 0) {
        http_policy_cors(ex, &f->policy);
        http_respond(ex, 200, "text/plain", "cors", 4);
    } else if (strcmp(r->path, "/last") == 0) { /* the answer and the shutdown in one callback */
        http_respond(ex, 200, "text/plain", "last", 4);
        http_server_shutdown(f->srv, 2000, on_shutdown_done, f);
        f->srv = NULL;
    } else if (strcmp(r->path, "/burst") == 0) { /* more events than a connection holds */
        http_sse_begin(ex, 200);
        for (int i = 0; i < 50; i++) {
            char ev[16];
            int n = snprintf(ev, sizeof ev, "e%d", i);
            http_sse_event(ex, NULL, NULL, ev, (size_t)n);
        }
        http_stream_end(ex);
    } else if (strcmp(r->path, "/json") == 0) {
        http_respond_json(ex, 201, json_pack("{s:i}", "n", 3));
    } else {
        http_response_header(ex, "X-Test", "yes");
        http_respond(ex, 200, "text/plain", "hello", 5);
    }
}

static void on_head_abort(struct http_exchange *ex, void *arg)
{
    struct fx *f = arg;
    f->aborted = true;
    assert_true(http_exchange_closed(ex));
    assert_true(http_exchange_body_pending(ex));
    http_exchange_continue(ex, 0); /* on a closed exchange this only finishes it */
}

static void on_continue_later(uv_timer_t *t)
{
    struct deferred *d = t->data;
    http_exchange_continue(d->ex, 0);
    uv_close((uv_handle_t *)t, on_deferred_closed);
}

/* Head hook: /deny refuses at once, /later continues 80 ms later (asynchronously) with a tag
 * for the handler, /wait never decides (until the client leaves), /small allows 4 bytes; the
 * rest continue synchronously. */
static void test_head_hook(struct http_exchange *ex, void *arg)
{
    struct fx *f = arg;
    const struct http_request *r = http_exchange_request(ex);
    f->head_calls++;
    assert_true(http_exchange_body_pending(ex));
    assert_int_equal(r->body_len, 0);
    assert_string_equal(r->body, "");
    if (strcmp(r->path, "/deny") == 0) {
        http_respond_json(ex, 401, json_pack("{s:s}", "error", "invalid_token"));
    } else if (strcmp(r->path, "/later") == 0) {
        http_exchange_set_data(ex, strdup("tag"), free);
        struct deferred *d = calloc(1, sizeof *d);
        d->ex = ex;
        d->f = f;
        uv_timer_init(http_exchange_loop(ex), &d->timer);
        d->timer.data = d;
        uv_timer_start(&d->timer, on_continue_later, 80, 0);
    } else if (strcmp(r->path, "/wait") == 0) {
        http_exchange_set_abort(ex, on_head_abort, f);
    } else if (strcmp(r->path, "/small") == 0) {
        http_exchange_set_data(ex, strdup("freed by the server"), free);
        http_exchange_continue(ex, 4);
    } else {
        http_exchange_continue(ex, 0);
    }
}

static struct fx *fx_new_hooked(const struct http_limits *lim)
{
    struct fx *f = fx_new(lim);
    http_server_set_head_hook(f->srv, test_head_hook, f);
    return f;
}

/* ----------------------------------------------------------------- tests --------------- */

#define GET(path) "GET " path " HTTP/1.1\r\nHost: localhost\r\n\r\n"

static void assert_contains(const struct client *c, const char *needle)
{
    if (!c->data || !strstr(c->data, needle))
        fail_msg("expected %s in response:\n%s", needle, c->data ? c->data : "(none)");
}

static void test_simple_get_returns_200(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1};
    run_client(f, &c, GET("/hello"), strlen(GET("/hello")));
    assert_int_equal(count_responses(c.data, c.len, c.eof), 1);
    assert_memory_equal(c.data, "HTTP/1.1 200 OK\r\n", 17);
    assert_contains(&c, "Content-Length: 5\r\n");
    assert_contains(&c, "X-Test: yes\r\n");
    assert_contains(&c, "\r\n\r\nhello");
    assert_null(strstr(c.data, "Connection: close"));
    client_free(&c);
    fx_free(f);
}

static void test_default_headers_are_sent_on_every_response(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {0};
    const char *req = "GET /json HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n"
                      "Transfer-Encoding: gzip\r\n\r\n";
    run_client(f, &c, req, strlen(req));
    /* both the application's response and the server's own 400 carry the default header */
    char *second = strstr(c.data + 1, "HTTP/1.1 400");
    assert_non_null(second);
    assert_non_null(strstr(c.data, "X-Content-Type-Options: nosniff\r\n"));
    assert_non_null(strstr(second, "X-Content-Type-Options: nosniff\r\n"));
    assert_contains(&c, "HTTP/1.1 201 Created\r\n");
    assert_contains(&c, "Content-Type: application/json\r\n");
    assert_contains(&c, "{\"n\":3}");
    client_free(&c);
    fx_free(f);
}

static void assert_lacks(const struct client *c, const char *needle)
{
    if (c->data && strstr(c->data, needle))
        fail_msg("unexpected %s in response:\n%s", needle, c->data);
}

/* Over https: the reference server's values, HSTS and the upgrade directives included. */
static void test_security_headers_have_the_peer_values(void **state)
{
    struct fx *f = fx_new_scheme(NULL, true);
    struct client c = {.want = 1};
    run_client(f, &c, GET("/hello"), strlen(GET("/hello")));
    assert_contains(&c, "\r\nX-Content-Type-Options: nosniff\r\n");
    assert_contains(&c, "\r\nX-Frame-Options: SAMEORIGIN\r\n");
    assert_contains(&c, "\r\nStrict-Transport-Security: max-age=31536000; includeSubDomains\r\n");
    assert_contains(&c, "\r\nContent-Security-Policy: default-src 'self'; object-src 'none'; "
                        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; "
                        "upgrade-insecure-requests; block-all-mixed-content\r\n");
    client_free(&c);
    fx_free(f);
}

/* Over http: no HSTS and no upgrade directives (they would send the page's own stylesheet and
 * logo to https, which nothing serves), the other headers unchanged. */
static void test_security_headers_over_http_do_not_upgrade(void **state)
{
    struct fx *f = fx_new_scheme(NULL, false);
    struct client c = {.want = 1};
    run_client(f, &c, GET("/hello"), strlen(GET("/hello")));
    assert_contains(&c, "\r\nX-Content-Type-Options: nosniff\r\n");
    assert_contains(&c, "\r\nX-Frame-Options: SAMEORIGIN\r\n");
    assert_contains(&c, "\r\nContent-Security-Policy: default-src 'self'; object-src 'none'; "
                        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'\r\n");
    assert_lacks(&c, "Strict-Transport-Security");
    assert_lacks(&c, "upgrade-insecure-requests");
    assert_lacks(&c, "block-all-mixed-content");
    client_free(&c);
    fx_free(f);
}

static void test_cors_reflects_allowed_origin_only(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 2};
    const char *req =
        "GET /cors HTTP/1.1\r\nHost: localhost:3232\r\nOrigin: http://localhost:6274\r\n\r\n"
        "GET /cors HTTP/1.1\r\nHost: localhost:3232\r\nOrigin: http://evil.example\r\n\r\n";
    run_client(f, &c, req, strlen(req));
    char *second = strstr(c.data + 1, "HTTP/1.1 200");
    assert_non_null(second);
    second[-1] = '\0';
    assert_contains(&c, "\r\nAccess-Control-Allow-Origin: http://localhost:6274\r\n");
    assert_contains(&c, "\r\nVary: Origin\r\n");
    assert_contains(&c, "\r\nAccess-Control-Allow-Credentials: true\r\n");
    assert_contains(&c, "\r\nAccess-Control-Expose-Headers: WWW-Authenticate\r\n");
    assert_null(strstr(second, "Access-Control-Allow-Origin"));
    assert_non_null(strstr(second, "Vary: Origin"));
    client_free(&c);
    fx_free(f);
}

static void test_cors_preflight_answers_204(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1};
    const char *req =
        "OPTIONS /cors HTTP/1.1\r\nHost: localhost\r\nOrigin: http://127.0.0.1:5173\r\n"
        "Access-Control-Request-Method: POST\r\n\r\n";
    run_client(f, &c, req, strlen(req));
    assert_memory_equal(c.data, "HTTP/1.1 204 No Content\r\n", 25);
    assert_null(strstr(c.data, "Content-Length"));
    assert_contains(&c, "\r\nAccess-Control-Allow-Origin: http://127.0.0.1:5173\r\n");
    assert_contains(&c, "\r\nAccess-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n");
    assert_contains(&c, "\r\nAccess-Control-Allow-Headers: Content-Type, Authorization, "
                        "Last-Event-ID, Accept\r\n");
    assert_contains(&c, "\r\nAccess-Control-Max-Age: 86400\r\n");
    client_free(&c);
    fx_free(f);
}

/* The HTTP layer knows no protocol headers: the role that owns the listener names them. */
static void test_cors_header_lists_come_from_the_role(void **state)
{
    struct fx *f = fx_new(NULL);
    f->policy.cors_expose_headers = "X-Role-Id, WWW-Authenticate";
    f->policy.cors_allow_headers = "Content-Type, X-Role-Id";
    struct client c = {.want = 1};
    const char *req =
        "OPTIONS /cors HTTP/1.1\r\nHost: localhost\r\nOrigin: http://127.0.0.1:5173\r\n"
        "Access-Control-Request-Method: POST\r\n\r\n";
    run_client(f, &c, req, strlen(req));
    assert_contains(&c, "\r\nAccess-Control-Expose-Headers: X-Role-Id, WWW-Authenticate\r\n");
    assert_contains(&c, "\r\nAccess-Control-Allow-Headers: Content-Type, X-Role-Id\r\n");
    client_free(&c);
    fx_free(f);
}

static void test_keep_alive_serves_two_requests_on_one_connection(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 2, .second_delay_ms = 100, .req2 = GET("/second")};
    run_client(f, &c, GET("/first"), strlen(GET("/first")));
    assert_int_equal(count_responses(c.data, c.len, false), 2);
    assert_false(c.eof);
    assert_int_equal(f->handled, 2);
    assert_string_equal(f->last_path, "/second");
    client_free(&c);
    fx_free(f);
}

static void test_pipelined_requests_answered_in_order(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 3};
    const char *req = GET("/async") GET("/hello") GET("/async");
    run_client(f, &c, req, strlen(req));
    assert_int_equal(count_responses(c.data, c.len, false), 3);
    char *a1 = strstr(c.data, "\r\n\r\nasync");
    char *h = strstr(c.data, "\r\n\r\nhello");
    assert_non_null(a1);
    assert_non_null(h);
    assert_true(a1 < h); /* the slow first answer still comes first */
    assert_non_null(strstr(h, "\r\n\r\nasync"));
    client_free(&c);
    fx_free(f);
}

static void test_http10_request_closes_by_default(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {0};
    const char *req = "GET /hello HTTP/1.0\r\n\r\n";
    run_client(f, &c, req, strlen(req));
    assert_true(c.eof);
    assert_contains(&c, "Connection: close\r\n");
    assert_contains(&c, "\r\n\r\nhello");
    client_free(&c);
    fx_free(f);
}

static void test_http10_keep_alive_is_honoured(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1, .linger_ms = 150};
    const char *req = "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    run_client(f, &c, req, strlen(req));
    assert_contains(&c, "Connection: keep-alive\r\n");
    assert_false(c.eof);
    client_free(&c);
    fx_free(f);
}

static void test_connection_close_request_closes_after_response(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {0};
    const char *req = "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" GET("/no");
    run_client(f, &c, req, strlen(req));
    assert_true(c.eof);
    assert_int_equal(count_responses(c.data, c.len, true), 1);
    assert_int_equal(f->handled, 1);
    client_free(&c);
    fx_free(f);
}

/* A refused request: the status, a JSON body, Connection: close, the connection closed, and
 * the application never saw it. */
static void expect_refused(const char *req, size_t len, int status, const struct http_limits *lim)
{
    struct fx *f = fx_new(lim);
    struct client c = {.max_ms = 3000};
    run_client(f, &c, req, len);
    char line[32];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    if (c.len < strlen(line) || memcmp(c.data, line, strlen(line)) != 0)
        fail_msg("expected %d, got:\n%s", status, c.data);
    assert_contains(&c, "Connection: close\r\n");
    assert_contains(&c, "Content-Type: application/json\r\n");
    assert_contains(&c, "{\"error\":\"");
    assert_contains(&c, "\"error_description\":\"");
    assert_true(c.eof);
    assert_int_equal(count_responses(c.data, c.len, true), 1);
    assert_int_equal(f->handled, 0);
    client_free(&c);
    fx_free(f);
}

#define REFUSE(req, status) expect_refused(req, sizeof(req) - 1, status, NULL)
#define POST_HEAD           "POST /echo HTTP/1.1\r\nHost: a\r\n"

static void test_content_length_with_transfer_encoding_is_refused(void **state)
{
    REFUSE(POST_HEAD
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
           400);
    REFUSE(POST_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400);
}

static void test_duplicate_content_length_is_refused(void **state)
{
    REFUSE(POST_HEAD "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400);
}

static void test_differing_content_lengths_are_refused(void **state)
{
    REFUSE(POST_HEAD "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400);
    REFUSE(POST_HEAD "Content-Length: 3, 4\r\n\r\nabcd", 400);
}

static void test_content_length_with_sign_is_refused(void **state)
{
    REFUSE(POST_HEAD "Content-Length: +3\r\n\r\nabc", 400);
    REFUSE(POST_HEAD "Content-Length: -1\r\n\r\nabc", 400);
}

static void test_unknown_transfer_encoding_is_refused(void **state)
{
    REFUSE(POST_HEAD "Transfer-Encoding: xchunked\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
           400);
    REFUSE(POST_HEAD "Transfer-Encoding: gzip\r\n\r\n", 400);
}

static void test_chunked_with_other_codings_is_refused(void **state)
{
    REFUSE(POST_HEAD "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400);
    REFUSE(POST_HEAD "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400);
    REFUSE(POST_HEAD "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

static void test_space_before_colon_is_refused(void **state)
{
    REFUSE(POST_HEAD "Content-Length : 3\r\n\r\nabc", 400);
    REFUSE("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\nX-Any\t: 1\r\n\r\n", 400);
}

/* "Content Length: 5" must not pass as some unknown header while a front proxy reads a length. */
static void test_invalid_header_name_characters_are_refused(void **state)
{
    REFUSE(POST_HEAD "Content Length: 5\r\n\r\nhello", 400);
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n", 400);
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", 400);
}

static void test_obs_fold_is_refused(void **state)
{
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  folded\r\n\r\n", 400);
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\n\tfolded\r\n\r\n", 400);
}

/* The fold check looks at the byte before a value span, which may sit in the previous read. */
static void test_obs_fold_is_refused_when_fed_byte_by_byte(void **state)
{
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\n\t folded\r\n\r\n",
    };
    static const char ok[] = "GET / HTTP/1.1\r\nHost: a\r\nX-A:  1 \t 2\r\n\r\n";
    struct http_parser p;
    size_t used = 0;
    for (size_t r = 0; r < sizeof bad / sizeof bad[0]; r++) {
        enum http_parse_status st = HTTP_PARSE_MORE;
        assert_int_equal(http_parser_init(&p, 8192, 64, 1024), 0);
        for (size_t i = 0; bad[r][i] && st == HTTP_PARSE_MORE; i++)
            st = http_parser_feed(&p, bad[r] + i, 1, &used);
        assert_int_equal(st, HTTP_PARSE_ERROR);
        assert_int_equal(p.error_status, 400);
        http_parser_free(&p);
    }
    enum http_parse_status st = HTTP_PARSE_MORE;
    assert_int_equal(http_parser_init(&p, 8192, 64, 1024), 0);
    for (size_t i = 0; i < sizeof ok - 1 && st == HTTP_PARSE_MORE; i++)
        st = http_parser_feed(&p, ok + i, 1, &used);
    assert_int_equal(st, HTTP_PARSE_DONE);
    http_parser_free(&p);
}

/* llhttp 8.1 reads "cdef" after a 2-byte chunk as the next chunk's size; RFC 9112 §7.1 wants
 * the CRLF there, and a front proxy that frames strictly would see another body end. */
static void test_chunk_data_without_crlf_is_refused(void **state)
{
    REFUSE(POST_HEAD "Transfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n", 400);
    REFUSE(POST_HEAD "Transfer-Encoding: chunked\r\n\r\n2\r\nab\rX0\r\n\r\n", 400);
}

/* The CRLF after a chunk's data may arrive in a later read than the data. */
static void test_chunked_body_fed_byte_by_byte_is_accepted(void **state)
{
    static const char req[] = "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
    struct http_parser p;
    size_t used = 0;
    enum http_parse_status st = HTTP_PARSE_MORE;
    assert_int_equal(http_parser_init(&p, 8192, 64, 1024), 0);
    for (size_t i = 0; i < sizeof req - 1 && st == HTTP_PARSE_MORE; i++)
        st = http_parser_feed(&p, req + i, 1, &used);
    assert_int_equal(st, HTTP_PARSE_DONE);
    assert_int_equal(p.body.len, 5);
    assert_memory_equal(p.body.data, "abcde", 5);
    http_parser_free(&p);
}

/* RFC 9110 §5.5: an empty field value is legal (curl -H 'X;' sends one). */
static void test_empty_header_value_is_accepted(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1};
    const char *req = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Blank: \r\n"
                      "Connection: close\r\n\r\n";
    run_client(f, &c, req, strlen(req));
    assert_memory_equal(c.data, "HTTP/1.1 200 ", 13);
    client_free(&c);
    fx_free(f);
}

static void test_overlong_target_gets_414(void **state)
{
    size_t n = HTTP_MAX_TARGET_BYTES + 64;
    char *req = malloc(n + 64);
    assert_non_null(req);
    memcpy(req, "GET /", 5);
    memset(req + 5, 'a', n);
    int len = 5 + (int)n;
    len += snprintf(req + len, 64, " HTTP/1.1\r\nHost: a\r\n\r\n");
    struct http_limits lim = {.max_header_bytes = 65536};
    expect_refused(req, (size_t)len, 414, &lim);
    free(req);
}

static void test_bare_lf_is_refused(void **state)
{
    REFUSE("GET / HTTP/1.1\nHost: a\n\n", 400);
    REFUSE("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400);
}

static void test_nul_in_header_value_is_refused(void **state)
{
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n", 400);
}

static void test_control_char_in_header_value_is_refused(void **state)
{
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01z\r\n\r\n", 400);
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7fz\r\n\r\n", 400);
}

static void test_chunk_size_overflow_is_refused(void **state)
{
    REFUSE(POST_HEAD "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nabc\r\n", 400);
}

static void test_http11_without_host_is_refused(void **state)
{
    REFUSE("GET / HTTP/1.1\r\nX: y\r\n\r\n", 400);
}

static void test_duplicate_host_is_refused(void **state)
{
    REFUSE("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
}

static void test_transfer_encoding_in_http10_is_refused(void **state)
{
    REFUSE("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

static void test_unsupported_http_version_is_refused(void **state)
{
    REFUSE("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
}

static void test_oversized_header_section_gets_431(void **state)
{
    struct http_limits lim = {.max_header_bytes = 1024};
    char req[4096];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: %01500d\r\n\r\n", 0);
    expect_refused(req, (size_t)n, 431, &lim);
    /* a long request line counts too */
    n = snprintf(req, sizeof req, "GET /%01500d HTTP/1.1\r\nHost: a\r\n\r\n", 0);
    expect_refused(req, (size_t)n, 431, &lim);
}

static void test_too_many_headers_gets_431(void **state)
{
    struct http_limits lim = {.max_headers = 5};
    const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
    expect_refused(req, sizeof req - 1, 431, &lim);
}

static void test_oversized_body_gets_413(void **state)
{
    struct http_limits lim = {.max_body_bytes = 100};
    char req[1024];
    int n = snprintf(req, sizeof req, POST_HEAD "Content-Length: 200\r\n\r\n%0200d", 0);
    expect_refused(req, (size_t)n, 413, &lim);
}

static void test_oversized_chunked_body_gets_413(void **state)
{
    struct http_limits lim = {.max_body_bytes = 100};
    char req[1024];
    int n = snprintf(req, sizeof req,
                     POST_HEAD
                     "Transfer-Encoding: chunked\r\n\r\n50\r\n%080d\r\n50\r\n%080d\r\n0\r\n\r\n",
                     0, 0);
    expect_refused(req, (size_t)n, 413, &lim);
}

static void test_header_timeout_sends_408_and_closes(void **state)
{
    struct http_limits lim = {.header_timeout_ms = 150};
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\n", 25, 408, &lim);
}

static void test_request_timeout_sends_408_while_body_is_missing(void **state)
{
    struct http_limits lim = {.header_timeout_ms = 100, .request_timeout_ms = 300};
    const char req[] = POST_HEAD "Content-Length: 10\r\n\r\nabc";
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_refused(req, sizeof req - 1, 408, &lim);
    assert_true(elapsed_ms(&t0) >= 250); /* the header deadline no longer applied */
}

static void test_idle_keep_alive_connection_is_closed_silently(void **state)
{
    struct http_limits lim = {.idle_timeout_ms = 150};
    struct fx *f = fx_new(&lim);
    struct client c = {0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_client(f, &c, GET("/hello"), strlen(GET("/hello")));
    assert_true(c.eof);
    assert_true(elapsed_ms(&t0) < 2500);
    assert_int_equal(count_responses(c.data, c.len, true), 1); /* no 408 after the reply */
    assert_null(strstr(c.data, "408"));
    client_free(&c);
    fx_free(f);
}

static void test_chunked_request_body_is_decoded(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1};
    const char req[] = POST_HEAD "Transfer-Encoding: chunked\r\n\r\n"
                                 "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n";
    run_client(f, &c, req, sizeof req - 1);
    assert_contains(&c, "Content-Length: 12\r\n");
    assert_contains(&c, "\r\n\r\nhello, world");
    client_free(&c);
    fx_free(f);
}

static void test_expect_continue_gets_100_before_body(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1, .second_delay_ms = 150, .req2 = "abc"};
    const char req[] = POST_HEAD "Content-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    run_client(f, &c, req, sizeof req - 1);
    assert_memory_equal(c.data, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42);
    assert_contains(&c, "\r\n\r\nabc");
    client_free(&c);
    fx_free(f);
}

static void test_chunked_response_is_framed(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1};
    run_client(f, &c, GET("/chunked"), strlen(GET("/chunked")));
    assert_contains(&c, "Transfer-Encoding: chunked\r\n");
    assert_null(strstr(c.data, "Content-Length"));
    assert_contains(&c, "\r\n\r\n6\r\nhello \r\nd\r\nchunked world\r\n0\r\n\r\n");
    client_free(&c);
    fx_free(f);
}

static void test_sse_events_split_multiline_data(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1};
    run_client(f, &c, GET("/sse"), strlen(GET("/sse")));
    assert_contains(&c, "Content-Type: text/event-stream\r\n");
    assert_contains(&c, "Cache-Control: no-cache\r\n");
    /* each event is exactly one chunk */
    assert_contains(&c, "\r\n\r\n45\r\nid: 7\nevent: message\ndata: first line\n"
                        "data: second line\ndata: third\n\n\r\n");
    assert_contains(&c, "\r\nf\r\ndata: {\"a\":1}\n\n\r\n");
    assert_contains(&c, "retry: 1500\n\n");
    assert_contains(&c, ": heartbeat\n\n\r\n0\r\n\r\n");
    client_free(&c);
    fx_free(f);
}

static void test_stream_overflow_cuts_slow_client(void **state)
{
    struct http_limits lim = {.stream_max_queued_bytes = 64 * 1024};
    struct fx *f = fx_new(&lim);
    struct client c = {.no_read_ms = 1500};
    client_start(&c, f->port, GET("/flood"), strlen(GET("/flood")));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (f->overflow_rc == 0 && elapsed_ms(&t0) < 5000)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->overflow_rc, HTTP_ERR_OVERFLOW);
    assert_true(f->flood_bytes < 64u * 1024 * 1024);
    run_until(f, &c.done, 5000);
    client_join(&c);
    assert_int_equal(http_server_connection_count(f->srv), 0);
    client_free(&c);
    fx_free(f);
}

static void test_abort_callback_runs_when_client_disconnects_during_stream(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.close_after_bytes = 1};
    run_client(f, &c, GET("/hold"), strlen(GET("/hold")));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!f->aborted && elapsed_ms(&t0) < 3000)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->aborted);
    assert_int_equal(http_server_connection_count(f->srv), 0);
    client_free(&c);
    fx_free(f);
}

static void test_query_param_is_percent_decoded(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1};
    const char *req = GET("/query?x=1&q=a%20b+c%2Fd&q=second");
    run_client(f, &c, req, strlen(req));
    assert_contains(&c, "\r\n\r\n2:a b c/d");
    client_free(&c);
    fx_free(f);
}

static void test_query_param_refuses_bad_encoding(void **state)
{
    char out[8];
    struct http_request r = {.query = "a=%zz&b=%41%42&c=%00&d=toolongvalue&e"};
    assert_int_equal(http_request_query_param(&r, "a", out, sizeof out), -1);
    assert_int_equal(http_request_query_param(&r, "b", out, sizeof out), 1);
    assert_string_equal(out, "AB");
    assert_int_equal(http_request_query_param(&r, "c", out, sizeof out), -1);
    assert_int_equal(http_request_query_param(&r, "d", out, sizeof out), -1);
    assert_int_equal(http_request_query_param(&r, "e", out, sizeof out), 1);
    assert_string_equal(out, "");
    assert_int_equal(http_request_query_param(&r, "zz", out, sizeof out), 0);
    r.query = NULL;
    assert_int_equal(http_request_query_param(&r, "a", out, sizeof out), 0);
}

static void test_max_connections_closes_extra_connection(void **state)
{
    struct http_limits lim = {.max_connections = 1};
    struct fx *f = fx_new(&lim);
    struct client a = {.want = 1, .linger_ms = 400};
    client_start(&a, f->port, GET("/hello"), strlen(GET("/hello")));
    run_until(f, &a.got_want, 3000);
    assert_true(atomic_load(&a.got_want));
    struct client b = {0};
    run_client(f, &b, GET("/hello"), strlen(GET("/hello")));
    assert_true(b.eof);
    assert_int_equal(b.len, 0);
    run_until(f, &a.done, 3000);
    client_join(&a);
    assert_false(a.eof); /* the first connection was left alone */
    assert_int_equal(f->handled, 1);
    client_free(&a);
    client_free(&b);
    fx_free(f);
}

static void test_graceful_shutdown_finishes_inflight_exchange(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client idle = {.want = 1, .linger_ms = 2000};
    client_start(&idle, f->port, GET("/hello"), strlen(GET("/hello")));
    run_until(f, &idle.got_want, 3000);
    struct client busy = {0};
    client_start(&busy, f->port, GET("/slow"), strlen(GET("/slow")));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (f->handled < 2 && elapsed_ms(&t0) < 3000)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->handled, 2);
    http_server_shutdown(f->srv, 2000, on_shutdown_done, f);
    struct http_server *srv = f->srv;
    f->srv = NULL;
    (void)srv;
    run_until(f, &busy.done, 3000);
    run_until(f, &idle.done, 3000);
    client_join(&busy);
    client_join(&idle);
    assert_true(busy.eof);
    assert_contains(&busy, "Connection: close\r\n");
    assert_contains(&busy, "\r\n\r\nasync");
    assert_true(idle.eof); /* closed at shutdown, well before its 2 s linger */
    for (int i = 0; i < 200 && !f->shutdown_done; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->shutdown_done);
    struct client late = {0};
    client_start(&late, f->port, GET("/hello"), strlen(GET("/hello")));
    client_join(&late);
    assert_true(late.connect_failed);
    client_free(&late);
    client_free(&busy);
    client_free(&idle);
    fx_free(f);
}

/* Answers leave at the end of the loop iteration: one written just before a shutdown that
 * closes idle connections at once must still go out first. */
static void test_answer_written_with_the_shutdown_still_arrives(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1, .linger_ms = 2000};
    run_client(f, &c, GET("/last"), strlen(GET("/last")));
    assert_contains(&c, "HTTP/1.1 200 OK\r\n");
    assert_contains(&c, "\r\n\r\nlast");
    assert_true(c.eof); /* closed right after, not at the end of a linger */
    for (int i = 0; i < 200 && !f->shutdown_done; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->shutdown_done);
    client_free(&c);
    fx_free(f);
}

/* Fifty events written in one callback, more than a connection holds until the end of the
 * iteration: all arrive, in order, then the end of the stream. */
static void test_burst_of_events_arrives_whole_and_in_order(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1};
    run_client(f, &c, GET("/burst"), strlen(GET("/burst")));
    const char *at = c.data;
    for (int i = 0; i < 50; i++) {
        char ev[32];
        snprintf(ev, sizeof ev, "data: e%d\n\n", i);
        const char *next = at ? strstr(at, ev) : NULL;
        if (!next)
            fail_msg("event %d missing or out of order in:\n%s", i, c.data ? c.data : "");
        at = next + strlen(ev);
    }
    assert_non_null(strstr(at, "\r\n0\r\n\r\n"));
    client_free(&c);
    fx_free(f);
}

static void test_head_request_gets_no_body(void **state)
{
    struct fx *f = fx_new(NULL);
    struct client c = {.want = 1, .linger_ms = 100};
    const char *req = "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    run_client(f, &c, req, strlen(req));
    assert_contains(&c, "Content-Length: 5\r\n");
    assert_null(strstr(c.data, "hello"));
    client_free(&c);
    fx_free(f);
}

/* ------------------------------------------------------------- head hook and per client --- */

static void test_head_hook_refusal_leaves_the_body_unread(void **state)
{
    struct fx *f = fx_new_hooked(NULL);
    /* A 4 MB body is announced; only 1 KB of it is ever sent. */
    static char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 4000000\r\n\r\n%01000d", 0);
    struct client c = {.want = 1};
    run_client(f, &c, req, (size_t)n);
    assert_contains(&c, "HTTP/1.1 401 ");
    assert_contains(&c, "Connection: close\r\n");
    assert_contains(&c, "invalid_token");
    assert_int_equal(f->head_calls, 1);
    assert_int_equal(f->handled, 0); /* the handler never saw it */
    client_free(&c);
    fx_free(f);
}

static void test_head_hook_refusal_sends_no_100_continue(void **state)
{
    struct fx *f = fx_new_hooked(NULL);
    const char req[] =
        "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    struct client c = {.want = 1};
    run_client(f, &c, req, sizeof req - 1);
    assert_memory_equal(c.data, "HTTP/1.1 401 ", 13);
    assert_null(strstr(c.data, "100 Continue"));
    client_free(&c);
    fx_free(f);
}

static void test_head_hook_async_continue_sends_100_then_reads_the_body(void **state)
{
    struct fx *f = fx_new_hooked(NULL);
    /* The body follows 300 ms after the head, well after the 80 ms decision. */
    struct client c = {.want = 1, .second_delay_ms = 300, .req2 = "abc"};
    const char req[] =
        "POST /later HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    run_client(f, &c, req, sizeof req - 1);
    assert_memory_equal(c.data, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42);
    assert_contains(&c, "\r\n\r\ntag:abc");
    assert_int_equal(f->head_calls, 1);
    assert_int_equal(f->handled, 1);
    client_free(&c);
    fx_free(f);
}

static void test_head_hook_keeps_pipelined_bodies_in_order(void **state)
{
    struct fx *f = fx_new_hooked(NULL);
    const char req[] = "POST /later HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\none"
                       "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
                       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\ntwo\r\n0\r\n\r\n";
    struct client c = {.want = 3};
    run_client(f, &c, req, sizeof req - 1);
    assert_int_equal(count_responses(c.data, c.len, false), 3);
    char *one = strstr(c.data, "tag:one"), *hello = strstr(c.data, "hello"),
         *two = strstr(c.data, "\r\n\r\ntwo");
    assert_non_null(one);
    assert_non_null(hello);
    assert_non_null(two);
    assert_true(one < hello && hello < two);
    assert_int_equal(f->head_calls, 2); /* the GET has no body: straight to the handler */
    assert_int_equal(f->handled, 3);
    client_free(&c);
    fx_free(f);
}

static void test_head_hook_body_past_the_continue_bound_gets_413(void **state)
{
    struct fx *f = fx_new_hooked(NULL);
    const char req[] = "POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde";
    const char chunked[] = "POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
    struct client c = {0}, d = {0};
    run_client(f, &c, req, sizeof req - 1);
    run_client(f, &d, chunked, sizeof chunked - 1);
    assert_contains(&c, "HTTP/1.1 413 ");
    assert_contains(&d, "HTTP/1.1 413 ");
    assert_int_equal(f->handled, 0);
    client_free(&c);
    client_free(&d);
    fx_free(f);
}

static void test_head_hook_client_leaving_runs_abort(void **state)
{
    struct fx *f = fx_new_hooked(NULL);
    const char req[] = "POST /wait HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    struct client c = {.max_ms = 200};
    run_client(f, &c, req, sizeof req - 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!f->aborted && elapsed_ms(&t0) < 3000)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->aborted); /* on_abort finished the exchange */
    assert_int_equal(f->handled, 0);
    assert_int_equal(http_server_connection_count(f->srv), 0);
    client_free(&c);
    fx_free(f);
}

static void test_per_client_connection_bound_spares_other_clients(void **state)
{
    struct http_limits lim = {.max_connections_per_client = 2};
    struct fx *f = fx_new(&lim);
    struct client a = {.want = 1, .linger_ms = 1500}, b = {.want = 1, .linger_ms = 1500};
    client_start(&a, f->port, GET("/hello"), strlen(GET("/hello")));
    run_until(f, &a.got_want, 3000);
    client_start(&b, f->port, GET("/hello"), strlen(GET("/hello")));
    run_until(f, &b.got_want, 3000);
    assert_true(atomic_load(&a.got_want) && atomic_load(&b.got_want));
    struct client third = {0}, other = {.want = 1, .src_addr = "127.0.0.2"};
    run_client(f, &third, GET("/hello"), strlen(GET("/hello")));
    assert_true(third.eof);
    assert_int_equal(third.len, 0); /* closed without a byte */
    run_client(f, &other, GET("/hello"), strlen(GET("/hello")));
    assert_false(other.connect_failed);
    assert_contains(&other, "HTTP/1.1 200 OK");
    run_until(f, &a.done, 3000);
    run_until(f, &b.done, 3000);
    client_join(&a);
    client_join(&b);
    assert_int_equal(f->handled, 3);
    /* Once the first two are gone, the client gets in again. */
    for (int i = 0; i < 100 && http_server_connection_count(f->srv) > 0; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    struct client again = {.want = 1};
    run_client(f, &again, GET("/hello"), strlen(GET("/hello")));
    assert_contains(&again, "HTTP/1.1 200 OK");
    client_free(&a);
    client_free(&b);
    client_free(&third);
    client_free(&other);
    client_free(&again);
    fx_free(f);
}

int main(void)
{
    /* A client that disconnects mid-stream makes the server write to a closed socket: as in
     * mcpd itself, that is an error to handle, not a signal that ends the process. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get_returns_200),
        cmocka_unit_test(test_answer_written_with_the_shutdown_still_arrives),
        cmocka_unit_test(test_burst_of_events_arrives_whole_and_in_order),
        cmocka_unit_test(test_default_headers_are_sent_on_every_response),
        cmocka_unit_test(test_security_headers_have_the_peer_values),
        cmocka_unit_test(test_security_headers_over_http_do_not_upgrade),
        cmocka_unit_test(test_cors_reflects_allowed_origin_only),
        cmocka_unit_test(test_cors_preflight_answers_204),
        cmocka_unit_test(test_cors_header_lists_come_from_the_role),
        cmocka_unit_test(test_keep_alive_serves_two_requests_on_one_connection),
        cmocka_unit_test(test_pipelined_requests_answered_in_order),
        cmocka_unit_test(test_http10_request_closes_by_default),
        cmocka_unit_test(test_http10_keep_alive_is_honoured),
        cmocka_unit_test(test_connection_close_request_closes_after_response),
        cmocka_unit_test(test_content_length_with_transfer_encoding_is_refused),
        cmocka_unit_test(test_duplicate_content_length_is_refused),
        cmocka_unit_test(test_differing_content_lengths_are_refused),
        cmocka_unit_test(test_content_length_with_sign_is_refused),
        cmocka_unit_test(test_unknown_transfer_encoding_is_refused),
        cmocka_unit_test(test_chunked_with_other_codings_is_refused),
        cmocka_unit_test(test_space_before_colon_is_refused),
        cmocka_unit_test(test_invalid_header_name_characters_are_refused),
        cmocka_unit_test(test_obs_fold_is_refused),
        cmocka_unit_test(test_obs_fold_is_refused_when_fed_byte_by_byte),
        cmocka_unit_test(test_overlong_target_gets_414),
        cmocka_unit_test(test_empty_header_value_is_accepted),
        cmocka_unit_test(test_chunk_data_without_crlf_is_refused),
        cmocka_unit_test(test_chunked_body_fed_byte_by_byte_is_accepted),
        cmocka_unit_test(test_bare_lf_is_refused),
        cmocka_unit_test(test_nul_in_header_value_is_refused),
        cmocka_unit_test(test_control_char_in_header_value_is_refused),
        cmocka_unit_test(test_chunk_size_overflow_is_refused),
        cmocka_unit_test(test_http11_without_host_is_refused),
        cmocka_unit_test(test_duplicate_host_is_refused),
        cmocka_unit_test(test_transfer_encoding_in_http10_is_refused),
        cmocka_unit_test(test_unsupported_http_version_is_refused),
        cmocka_unit_test(test_oversized_header_section_gets_431),
        cmocka_unit_test(test_too_many_headers_gets_431),
        cmocka_unit_test(test_oversized_body_gets_413),
        cmocka_unit_test(test_oversized_chunked_body_gets_413),
        cmocka_unit_test(test_header_timeout_sends_408_and_closes),
        cmocka_unit_test(test_request_timeout_sends_408_while_body_is_missing),
        cmocka_unit_test(test_idle_keep_alive_connection_is_closed_silently),
        cmocka_unit_test(test_chunked_request_body_is_decoded),
        cmocka_unit_test(test_expect_continue_gets_100_before_body),
        cmocka_unit_test(test_chunked_response_is_framed),
        cmocka_unit_test(test_sse_events_split_multiline_data),
        cmocka_unit_test(test_stream_overflow_cuts_slow_client),
        cmocka_unit_test(test_abort_callback_runs_when_client_disconnects_during_stream),
        cmocka_unit_test(test_query_param_is_percent_decoded),
        cmocka_unit_test(test_query_param_refuses_bad_encoding),
        cmocka_unit_test(test_max_connections_closes_extra_connection),
        cmocka_unit_test(test_graceful_shutdown_finishes_inflight_exchange),
        cmocka_unit_test(test_head_request_gets_no_body),
        cmocka_unit_test(test_head_hook_refusal_leaves_the_body_unread),
        cmocka_unit_test(test_head_hook_refusal_sends_no_100_continue),
        cmocka_unit_test(test_head_hook_async_continue_sends_100_then_reads_the_body),
        cmocka_unit_test(test_head_hook_keeps_pipelined_bodies_in_order),
        cmocka_unit_test(test_head_hook_body_past_the_continue_bound_gets_413),
        cmocka_unit_test(test_head_hook_client_leaving_runs_abort),
        cmocka_unit_test(test_per_client_connection_bound_spares_other_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
