/* app/metrics: counting by route, status class, method and outcome; bounded labels; the page's
 * format; who may read it. */
#include "testutil.h"

#include <stdio.h>

#include "app/metrics.h"
#include "http/http_server.h"

static const char *const routes[] = {"/a", "/token"};

static char *render(const struct metrics *m, const struct metrics_gauges *g)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(metrics_render(m, g, &b), BUF_OK);
    return buf_steal(&b, NULL);
}

static void test_metrics_counts_routes_and_classes(void **state)
{
    struct metrics m;
    metrics_init(&m, "auth", routes, 2, "/token");
    metrics_count_response(&m, "/a", 200);
    metrics_count_response(&m, "/a", 204);
    metrics_count_response(&m, "/unknown/<script>", 404); /* other: no client text in labels */
    metrics_count_response(&m, NULL, 400);
    metrics_count_response(&m, "/token", 200);
    metrics_count_response(&m, "/token", 400);
    metrics_count_response(&m, "/token", 429);
    metrics_count_response(&m, "/a", 401);
    metrics_count_response(&m, "/a", 999); /* ignored */
    struct metrics_gauges g = {
        .live_sessions = -1, .calls_in_flight = -1, .store_up = 1, .auth_up = -1};
    char *page = render(&m, &g);
    assert_non_null(
        strstr(page, "mcpd_http_requests_total{role=\"auth\",route=\"/a\",code=\"2xx\"} 2\n"));
    assert_non_null(
        strstr(page, "mcpd_http_requests_total{role=\"auth\",route=\"other\",code=\"4xx\"} 2\n"));
    assert_non_null(
        strstr(page, "mcpd_http_requests_total{role=\"auth\",route=\"/token\",code=\"4xx\"} 2\n"));
    assert_non_null(strstr(page, "mcpd_rate_limited_total{role=\"auth\"} 1\n"));
    assert_non_null(strstr(page, "mcpd_unauthorized_total{role=\"auth\"} 1\n"));
    assert_non_null(strstr(page, "mcpd_auth_tokens_total{role=\"auth\",result=\"issued\"} 1\n"));
    assert_non_null(strstr(page, "mcpd_auth_tokens_total{role=\"auth\",result=\"refused\"} 2\n"));
    assert_non_null(strstr(page, "mcpd_store_up{role=\"auth\"} 1\n"));
    assert_null(strstr(page, "<script>"));
    assert_null(strstr(page, "mcpd_mcp_calls_total")); /* no calls on this role */
    assert_null(strstr(page, "mcpd_sessions_live"));
    free(page);
}

static void test_metrics_counts_calls_and_streams(void **state)
{
    struct metrics m;
    metrics_init(&m, "mcp", routes, 1, NULL);
    metrics_count_call(&m, "tools/call", METRICS_CALL_OK);
    metrics_count_call(&m, "tools/call", METRICS_CALL_ERROR);
    metrics_count_call(&m, "x/made-up", METRICS_CALL_ERROR);
    metrics_count_call(&m, NULL, METRICS_CALL_CANCELLED);
    metrics_stream_opened(&m);
    metrics_stream_opened(&m);
    metrics_stream_closed(&m);
    metrics_stream_closed(&m);
    metrics_stream_closed(&m); /* never below 0 */
    metrics_stream_opened(&m);
    struct metrics_gauges g = {
        .live_sessions = 3, .calls_in_flight = 2, .store_up = 0, .auth_up = 1};
    char *page = render(&m, &g);
    assert_non_null(strstr(
        page, "mcpd_mcp_calls_total{role=\"mcp\",method=\"tools/call\",outcome=\"ok\"} 1\n"));
    assert_non_null(strstr(
        page, "mcpd_mcp_calls_total{role=\"mcp\",method=\"tools/call\",outcome=\"error\"} 1\n"));
    assert_non_null(
        strstr(page, "mcpd_mcp_calls_total{role=\"mcp\",method=\"other\",outcome=\"error\"} 1\n"));
    assert_non_null(strstr(
        page, "mcpd_mcp_calls_total{role=\"mcp\",method=\"other\",outcome=\"cancelled\"} 1\n"));
    assert_null(strstr(page, "x/made-up"));
    assert_non_null(strstr(page, "mcpd_sse_streams_opened_total{role=\"mcp\"} 3\n"));
    assert_non_null(strstr(page, "mcpd_sse_streams_open{role=\"mcp\"} 1\n"));
    assert_non_null(
        strstr(page, "# TYPE mcpd_sessions_live gauge\nmcpd_sessions_live{role=\"mcp\"} 3\n"));
    assert_non_null(strstr(page, "mcpd_calls_in_flight{role=\"mcp\"} 2\n"));
    assert_non_null(strstr(page, "mcpd_store_up{role=\"mcp\"} 0\n"));
    assert_non_null(strstr(page, "mcpd_auth_server_up{role=\"mcp\"} 1\n"));
    assert_null(strstr(page, "mcpd_auth_tokens_total")); /* no token route */
    /* Every line is HELP, TYPE or a sample; the page ends with a newline. */
    assert_int_equal(page[strlen(page) - 1], '\n');
    for (char *line = page; *line; line = strchr(line, '\n') + 1)
        assert_true(strncmp(line, "# HELP mcpd_", 12) == 0 ||
                    strncmp(line, "# TYPE mcpd_", 12) == 0 || strncmp(line, "mcpd_", 5) == 0);
    free(page);
}

/* Latency histograms: cumulative buckets with bounds in seconds, +Inf, _sum and _count; the
 * store's counters and the token cache, shown only when the role has them. */
static void test_metrics_histograms(void **state)
{
    struct metrics m;
    metrics_init(&m, "mcp", routes, 1, NULL);
    metrics_observe_latency(&m, "/a", 0);
    metrics_observe_latency(&m, "/a", 5);     /* at a bound: that bucket */
    metrics_observe_latency(&m, "/a", 6);     /* just above: the next */
    metrics_observe_latency(&m, "/a", 60000); /* past the last bound: +Inf only */
    metrics_observe_latency(&m, "/elsewhere", 30);
    struct store_stats st = {0};
    st.ops[STORE_OP_WRITE] = 3;
    st.errors[STORE_OP_WRITE] = 2;
    st.latency[STORE_OP_WRITE][0] = 1;
    st.latency[STORE_OP_WRITE][STORE_LATENCY_BUCKETS] = 2;
    st.latency_sum_us[STORE_OP_WRITE] = 2500000;
    struct metrics_introspection in = {.hits = 7, .misses = 2};
    struct metrics_gauges g = {.live_sessions = 0,
                               .calls_in_flight = 0,
                               .store_up = 1,
                               .auth_up = 1,
                               .store = &st,
                               .introspection = &in};
    char *page = render(&m, &g);
    const char *const want[] = {
        "# TYPE mcpd_http_request_duration_seconds histogram\n",
        "mcpd_http_request_duration_seconds_bucket{role=\"mcp\",route=\"/a\",le=\"0.005\"} 2\n",
        "mcpd_http_request_duration_seconds_bucket{role=\"mcp\",route=\"/a\",le=\"0.01\"} 3\n",
        "mcpd_http_request_duration_seconds_bucket{role=\"mcp\",route=\"/a\",le=\"10\"} 3\n",
        "mcpd_http_request_duration_seconds_bucket{role=\"mcp\",route=\"/a\",le=\"+Inf\"} 4\n",
        "mcpd_http_request_duration_seconds_sum{role=\"mcp\",route=\"/a\"} 60.011000\n",
        "mcpd_http_request_duration_seconds_count{role=\"mcp\",route=\"/a\"} 4\n",
        "mcpd_http_request_duration_seconds_bucket{role=\"mcp\",route=\"other\",le=\"0.025\"} 0\n",
        "mcpd_http_request_duration_seconds_bucket{role=\"mcp\",route=\"other\",le=\"0.05\"} 1\n",
        "mcpd_store_errors_total{role=\"mcp\",op=\"write\"} 2\n",
        "mcpd_store_errors_total{role=\"mcp\",op=\"read\"} 0\n",
        "mcpd_store_operation_duration_seconds_bucket{role=\"mcp\",op=\"write\",le=\"0.0001\"} "
        "1\n",
        "mcpd_store_operation_duration_seconds_bucket{role=\"mcp\",op=\"write\",le=\"1\"} 1\n",
        "mcpd_store_operation_duration_seconds_bucket{role=\"mcp\",op=\"write\",le=\"+Inf\"} 3\n",
        "mcpd_store_operation_duration_seconds_sum{role=\"mcp\",op=\"write\"} 2.500000\n",
        "mcpd_store_operation_duration_seconds_count{role=\"mcp\",op=\"publish\"} 0\n",
        "mcpd_introspection_cache_total{role=\"mcp\",result=\"hit\"} 7\n",
        "mcpd_introspection_cache_total{role=\"mcp\",result=\"miss\"} 2\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(page, want[i]))
            fail_msg("missing: %s", want[i]);
    free(page);
    g.store = NULL;
    g.introspection = NULL;
    page = render(&m, &g);
    assert_null(strstr(page, "mcpd_store_errors_total"));
    assert_null(strstr(page, "mcpd_introspection_cache_total"));
    free(page);
}

static struct http_request request(const char *addr, const struct http_header *h, size_t n)
{
    return (struct http_request){
        .method = "GET", .path = "/metrics", .headers = h, .header_count = n, .remote_addr = addr};
}

static void test_metrics_access(void **state)
{
    struct http_header good = {"Authorization", "Bearer s3cret"};
    struct http_header bad = {"Authorization", "Bearer s3cre"};
    struct http_request loop4 = request("127.0.0.1", NULL, 0), loop6 = request("::1", NULL, 0);
    struct http_request remote = request("192.0.2.7", NULL, 0);
    struct http_request remote_good = request("192.0.2.7", &good, 1);
    struct http_request loop_bad = request("127.0.0.1", &bad, 1);
    assert_true(metrics_request_allowed(&loop4, NULL));
    assert_true(metrics_request_allowed(&loop6, ""));
    assert_false(metrics_request_allowed(&remote, NULL));
    assert_true(metrics_request_allowed(&remote_good, "s3cret"));
    assert_false(
        metrics_request_allowed(&loop4, "s3cret")); /* a token set: loopback needs it too */
    assert_false(metrics_request_allowed(&loop_bad, "s3cret"));
    json_t *j = metrics_refusal(NULL);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "forbidden");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_counts_routes_and_classes),
        cmocka_unit_test(test_metrics_counts_calls_and_streams),
        cmocka_unit_test(test_metrics_histograms),
        cmocka_unit_test(test_metrics_access),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
