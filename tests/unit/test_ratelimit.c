/* ratelimit: counting and grouping against the memory store with an explicit clock, and the
 * headers and 429 through a real HTTP exchange on 127.0.0.1. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>

#include "testhttp.h"

#include "http/http_response.h"
#include "app/ratelimit.h"
#include "app/ratelimit_internal.h"
#include "store/store.h"

/* ------------------------------------------------------------ direct checks on the store --- */

struct seen {
    int calls;
    struct ratelimit_result r;
};

static void on_result(void *arg, const struct ratelimit_result *r)
{
    struct seen *s = arg;
    s->calls++;
    s->r = *r;
}

struct direct {
    uv_loop_t loop;
    struct store *s;
};

static void direct_open(struct direct *d)
{
    assert_int_equal(uv_loop_init(&d->loop), 0);
    d->s = store_memory_new(&d->loop, NULL);
    assert_non_null(d->s);
}

static void direct_close(struct direct *d)
{
    store_close(d->s, NULL, NULL);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&d->loop), 0);
}

/* One counted request from addr at now_ms; runs the loop until the answer arrives. */
static struct ratelimit_result check(struct direct *d, const struct ratelimit *rl, const char *addr,
                                     uint64_t now_ms)
{
    struct seen s = {0};
    ratelimit_check_at(d->s, rl, addr, now_ms, on_result, &s);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    assert_int_equal(s.calls, 1);
    return s.r;
}

static void test_client_id_groups_ipv6_by_56_and_ipv4_by_address(void **state)
{
    char id[RATELIMIT_CLIENT_MAX];
    ratelimit_client_id("2001:db8:aa:bbcc:1:2:3:4", id, sizeof id);
    assert_string_equal(id, "2001:db8:aa:bb00::/56");
    ratelimit_client_id("2001:db8:aa:bbff::9", id, sizeof id);
    assert_string_equal(id, "2001:db8:aa:bb00::/56");
    ratelimit_client_id("::1", id, sizeof id);
    assert_string_equal(id, "::/56");
    ratelimit_client_id("192.0.2.7", id, sizeof id);
    assert_string_equal(id, "192.0.2.7");
    ratelimit_client_id("::ffff:192.0.2.7", id, sizeof id);
    assert_string_equal(id, "192.0.2.7");
    ratelimit_client_id("", id, sizeof id);
    assert_string_equal(id, "unknown");
}

static void test_under_limit_remaining_decreases_then_rejects(void **state)
{
    struct direct d;
    direct_open(&d);
    const struct ratelimit rl = {"t", 3, 60000, "x"};
    const uint64_t now = 1700000000000; /* 20 s into a minute window */
    for (unsigned i = 1; i <= 3; i++) {
        struct ratelimit_result r = check(&d, &rl, "192.0.2.1", now + i);
        assert_true(r.allowed);
        assert_int_equal(r.limit, 3);
        assert_int_equal(r.remaining, 3 - i);
        assert_int_equal(r.reset_s, 40);
    }
    struct ratelimit_result r = check(&d, &rl, "192.0.2.1", now + 10);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.limit, 3);
    /* Another client has its own counter. */
    assert_true(check(&d, &rl, "192.0.2.2", now + 11).allowed);
    direct_close(&d);
}

static void test_window_rollover_starts_a_new_count(void **state)
{
    struct direct d;
    direct_open(&d);
    const struct ratelimit rl = {"t", 1, 50, "x"};
    assert_true(check(&d, &rl, "192.0.2.1", 1000).allowed); /* window 20 */
    struct ratelimit_result r = check(&d, &rl, "192.0.2.1", 1049);
    assert_false(r.allowed);
    assert_int_equal(r.reset_s, 1);        /* 1 ms left rounds up, never to 0 */
    r = check(&d, &rl, "192.0.2.1", 1050); /* window 21 */
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);
    direct_close(&d);
}

static void test_ipv6_clients_in_one_56_share_a_counter(void **state)
{
    struct direct d;
    direct_open(&d);
    const struct ratelimit rl = {"t", 2, 60000, "x"};
    const uint64_t now = 1700000000000;
    assert_true(check(&d, &rl, "2001:db8:0:ab01::1", now).allowed);
    assert_true(check(&d, &rl, "2001:db8:0:abff:ffff::2", now).allowed);
    assert_false(check(&d, &rl, "2001:db8:0:ab00::3", now).allowed);
    /* The next /56 is another client. */
    struct ratelimit_result r = check(&d, &rl, "2001:db8:0:ac00::1", now);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 1);
    direct_close(&d);
}

static void test_limiters_with_different_names_count_separately(void **state)
{
    struct direct d;
    direct_open(&d);
    const struct ratelimit a = {"a", 1, 60000, "x"}, b = {"b", 1, 60000, "x"};
    assert_true(check(&d, &a, "192.0.2.1", 5000).allowed);
    assert_true(check(&d, &b, "192.0.2.1", 5000).allowed);
    assert_false(check(&d, &a, "192.0.2.1", 5000).allowed);
    direct_close(&d);
}

static void test_limit_zero_answers_synchronously_without_counting(void **state)
{
    struct direct d;
    direct_open(&d);
    const struct ratelimit rl = {"t", 0, 60000, "x"};
    struct seen s = {0};
    ratelimit_check_at(d.s, &rl, "192.0.2.1", 5000, on_result, &s);
    assert_int_equal(s.calls, 1); /* before the loop ran */
    assert_true(s.r.allowed);
    assert_int_equal(s.r.limit, 0);
    direct_close(&d);
}

/* A store whose INCR either cannot be issued or completes with an error. */
static int failing_incr(struct store *s, const char *key, long long by, uint64_t ttl_ms,
                        store_int_cb cb, void *arg)
{
    if (strcmp(s->ops->name, "refuses") == 0)
        return STORE_ERR_UNAVAILABLE;
    cb(arg, STORE_ERR_UNAVAILABLE, 0);
    return STORE_OK;
}

static void test_store_failure_fails_open(void **state)
{
    const char *names[] = {"refuses", "errors"};
    for (size_t i = 0; i < 2; i++) {
        struct store_ops ops = {.name = names[i], .incr = failing_incr};
        struct store s = {.ops = &ops};
        const struct ratelimit rl = {"t", 1, 60000, "x"};
        struct seen seen = {0};
        ratelimit_check_at(&s, &rl, "192.0.2.1", 5000, on_result, &seen);
        assert_int_equal(seen.calls, 1);
        assert_true(seen.r.allowed);
        assert_int_equal(seen.r.limit, 0);
    }
}

/* ------------------------------------------------------------ through a real exchange ------ */

struct srv {
    struct th_server ts;
    struct store *store;
    struct ratelimit rl;
};

struct pending_ex {
    struct srv *srv;
    struct http_exchange *ex;
};

/* The way the routes use the module: headers on every counted answer, 429 when over. */
static void on_route_result(void *arg, const struct ratelimit_result *r)
{
    struct pending_ex *p = arg;
    http_rate_limit_headers(p->ex, r->limit, r->remaining, r->reset_s);
    if (!r->allowed)
        http_respond_rate_limited(p->ex, r->reset_s, p->srv->rl.description);
    else
        http_respond(p->ex, 200, "text/plain", "ok", 2);
    free(p);
}

static void limited_handler(struct http_exchange *ex, void *arg)
{
    struct pending_ex *p = malloc(sizeof *p);
    assert_non_null(p);
    p->srv = arg;
    p->ex = ex;
    ratelimit_check(p->srv->store, &p->srv->rl, http_exchange_request(ex)->remote_addr,
                    on_route_result, p);
}

static void srv_start(struct srv *s, unsigned limit, uint64_t window_ms)
{
    th_start(&s->ts, limited_handler, s);
    s->store = store_memory_new(&s->ts.loop, NULL);
    assert_non_null(s->store);
    s->rl = (struct ratelimit){"static", limit, window_ms, "Static file rate limit exceeded"};
}

static void srv_stop(struct srv *s)
{
    store_close(s->store, NULL, NULL);
    th_stop(&s->ts);
}

#define GET_CLOSE "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"

static long header_num(const char *resp, const char *name)
{
    char v[64];
    assert_true(th_header(resp, name, v, sizeof v));
    return atol(v);
}

static void test_http_headers_count_down_and_429_has_retry_after_and_body(void **state)
{
    struct srv s;
    /* A day-long window: the test cannot straddle a boundary except at midnight UTC. */
    srv_start(&s, 2, 86400000);
    for (long i = 1; i <= 2; i++) {
        char *resp = th_request(&s.ts, GET_CLOSE, NULL);
        assert_int_equal(th_status(resp), 200);
        assert_int_equal(header_num(resp, "RateLimit-Limit"), 2);
        assert_int_equal(header_num(resp, "RateLimit-Remaining"), 2 - i);
        assert_int_equal(header_num(resp, "X-RateLimit-Limit"), 2);
        assert_int_equal(header_num(resp, "X-RateLimit-Remaining"), 2 - i);
        long reset = header_num(resp, "RateLimit-Reset");
        assert_true(reset >= 1 && reset <= 86400);
        long unix_reset = header_num(resp, "X-RateLimit-Reset");
        assert_true(labs(unix_reset - (long)time(NULL) - reset) <= 2);
        free(resp);
    }
    size_t len;
    char *resp = th_request(&s.ts, GET_CLOSE, &len);
    assert_int_equal(th_status(resp), 429);
    long retry = header_num(resp, "Retry-After");
    assert_true(retry >= 1 && retry <= 86400);
    assert_int_equal(header_num(resp, "RateLimit-Remaining"), 0);
    char ctype[64];
    assert_true(th_header(resp, "Content-Type", ctype, sizeof ctype));
    assert_string_equal(ctype, "application/json");
    size_t blen;
    const char *body = th_body(resp, len, &blen);
    json_t *j = json_loadb(body, blen, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "too_many_requests");
    assert_string_equal(json_string_value(json_object_get(j, "error_description")),
                        "Static file rate limit exceeded");
    json_decref(j);
    free(resp);
    srv_stop(&s);
}

static void test_http_short_window_rolls_over(void **state)
{
    struct srv s;
    srv_start(&s, 1, 50);
    /* The first request may land at the end of a window; within a few the limit is hit. */
    int status = 0;
    for (int i = 0; i < 10 && status != 429; i++) {
        char *resp = th_request(&s.ts, GET_CLOSE, NULL);
        status = th_status(resp);
        if (status == 429)
            assert_int_equal(header_num(resp, "Retry-After"), 1);
        free(resp);
    }
    assert_int_equal(status, 429);
    struct timespec pause = {0, 60 * 1000000L};
    nanosleep(&pause, NULL);
    char *resp = th_request(&s.ts, GET_CLOSE, NULL);
    assert_int_equal(th_status(resp), 200);
    free(resp);
    srv_stop(&s);
}

static void test_http_limit_zero_sends_no_headers(void **state)
{
    struct srv s;
    srv_start(&s, 0, 60000);
    for (int i = 0; i < 3; i++) {
        char *resp = th_request(&s.ts, GET_CLOSE, NULL);
        char v[64];
        assert_int_equal(th_status(resp), 200);
        assert_false(th_header(resp, "RateLimit-Limit", v, sizeof v));
        assert_false(th_header(resp, "X-RateLimit-Limit", v, sizeof v));
        free(resp);
    }
    srv_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_id_groups_ipv6_by_56_and_ipv4_by_address),
        cmocka_unit_test(test_under_limit_remaining_decreases_then_rejects),
        cmocka_unit_test(test_window_rollover_starts_a_new_count),
        cmocka_unit_test(test_ipv6_clients_in_one_56_share_a_counter),
        cmocka_unit_test(test_limiters_with_different_names_count_separately),
        cmocka_unit_test(test_limit_zero_answers_synchronously_without_counting),
        cmocka_unit_test(test_store_failure_fails_open),
        cmocka_unit_test(test_http_headers_count_down_and_429_has_retry_after_and_body),
        cmocka_unit_test(test_http_short_window_rolls_over),
        cmocka_unit_test(test_http_limit_zero_sends_no_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
