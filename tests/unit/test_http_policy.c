/* http_policy: Host and Origin checks (DNS-rebinding protection) and loopback detection. */
#include "testutil.h"

#include <stdbool.h>

#include "http/http_policy.h"

/* A request carrying just the given headers (name, value pairs, NULL-terminated). */
struct fake_req {
    struct http_header h[4];
    struct http_request r;
};

static const struct http_request *req_with(struct fake_req *f, const char *host, const char *origin)
{
    memset(f, 0, sizeof *f);
    size_t n = 0;
    if (host)
        f->h[n++] = (struct http_header){"Host", host};
    if (origin)
        f->h[n++] = (struct http_header){"Origin", origin};
    f->r.headers = f->h;
    f->r.header_count = n;
    f->r.method = "GET";
    f->r.path = "/";
    f->r.body = "";
    return &f->r;
}

static bool host_ok(const struct http_policy *p, const char *host)
{
    struct fake_req f;
    return http_policy_host_allowed(p, req_with(&f, host, NULL));
}

static bool origin_ok(const struct http_policy *p, const char *origin)
{
    struct fake_req f;
    return http_policy_origin_allowed(p, req_with(&f, "localhost:3232", origin));
}

static void test_loopback_addresses_are_recognised(void **state)
{
    assert_true(http_host_is_loopback("127.0.0.1"));
    assert_true(http_host_is_loopback("127.1.2.3"));
    assert_true(http_host_is_loopback("::1"));
    assert_true(http_host_is_loopback("[::1]"));
    assert_true(http_host_is_loopback("localhost"));
    assert_true(http_host_is_loopback("LocalHost"));
    assert_true(http_host_is_loopback("::ffff:127.0.0.1"));
    assert_false(http_host_is_loopback("0.0.0.0"));
    assert_false(http_host_is_loopback("::"));
    assert_false(http_host_is_loopback("128.0.0.1"));
    assert_false(http_host_is_loopback("localhost.evil.example"));
    assert_false(http_host_is_loopback("10.0.0.1"));
    assert_false(http_host_is_loopback(""));
    assert_false(http_host_is_loopback(NULL));
}

static void test_loopback_bind_accepts_loopback_hosts_on_any_port(void **state)
{
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "127.0.0.1", "http://localhost:3232", NULL), 0);
    assert_true(host_ok(&p, "localhost"));
    assert_true(host_ok(&p, "localhost:3232"));
    assert_true(host_ok(&p, "LOCALHOST:9999"));
    assert_true(host_ok(&p, "127.0.0.1:3232"));
    assert_true(host_ok(&p, "[::1]:3232"));
    assert_true(host_ok(&p, "[::1]"));
    http_policy_free(&p);
}

static void test_loopback_bind_refuses_rebound_hosts(void **state)
{
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "::1", NULL, NULL), 0);
    assert_false(host_ok(&p, "evil.example"));
    assert_false(host_ok(&p, "evil.example:3232"));
    assert_false(host_ok(&p, "localhost.evil.example"));
    assert_false(host_ok(&p, "127.0.0.2")); /* only the listed names */
    assert_false(host_ok(&p, "localhost:abc"));
    assert_false(host_ok(&p, "localhost:"));
    assert_false(host_ok(&p, "[::1"));
    assert_false(host_ok(&p, NULL));
    http_policy_free(&p);
}

static void test_base_uri_host_is_allowed_on_loopback_bind(void **state)
{
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "localhost", "https://MCP.Example.com/mcp", NULL), 0);
    assert_true(host_ok(&p, "mcp.example.com"));
    assert_true(host_ok(&p, "mcp.example.com:443"));
    assert_false(host_ok(&p, "other.example.com"));
    http_policy_free(&p);
}

static void test_public_bind_accepts_any_host(void **state)
{
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "0.0.0.0", "https://mcp.example.com", NULL), 0);
    assert_int_equal(p.allowed_host_count, 0);
    assert_true(host_ok(&p, "anything.example"));
    http_policy_free(&p);
}

static void test_missing_origin_is_accepted(void **state)
{
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "127.0.0.1", NULL, NULL), 0);
    assert_true(origin_ok(&p, NULL));
    http_policy_free(&p);
}

static void test_origin_of_allowed_host_is_accepted(void **state)
{
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "127.0.0.1", "http://localhost:3232", NULL), 0);
    assert_true(origin_ok(&p, "http://localhost:3232"));
    assert_true(origin_ok(&p, "http://localhost:6274")); /* inspector on another port */
    assert_true(origin_ok(&p, "http://127.0.0.1:5173"));
    assert_true(origin_ok(&p, "http://[::1]:8080"));
    http_policy_free(&p);
}

static void test_foreign_and_null_origins_are_refused(void **state)
{
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "127.0.0.1", "http://localhost:3232", NULL), 0);
    assert_false(origin_ok(&p, "null"));
    assert_false(origin_ok(&p, "http://evil.example"));
    assert_false(origin_ok(&p, "http://localhost.evil.example"));
    assert_false(origin_ok(&p, "http://user@localhost:3232"));
    assert_false(origin_ok(&p, "localhost:3232"));
    assert_false(origin_ok(&p, "http://localhost:3232/path"));
    assert_false(origin_ok(&p, ""));
    http_policy_free(&p);
}

static void test_extra_origins_are_accepted_case_insensitively(void **state)
{
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "0.0.0.0", "https://mcp.example.com/",
                                      " https://App.Example.org , http://x.test:8080/"),
                     0);
    assert_true(origin_ok(&p, "https://mcp.example.com"));
    assert_true(origin_ok(&p, "https://app.example.org"));
    assert_true(origin_ok(&p, "http://x.test:8080"));
    assert_false(origin_ok(&p, "http://app.example.org")); /* scheme differs */
    assert_false(origin_ok(&p, "https://x.test:8080"));
    assert_false(origin_ok(&p, "https://evil.example"));
    http_policy_free(&p);
}

static void test_too_many_origins_fail_init(void **state)
{
    char list[2048] = "";
    for (int i = 0; i < HTTP_POLICY_MAX_HOSTS + 2; i++) {
        char one[64];
        snprintf(one, sizeof one, "%shttps://o%d.example", i ? "," : "", i);
        strcat(list, one);
    }
    struct http_policy p;
    assert_int_equal(http_policy_init(&p, "0.0.0.0", NULL, list), -1);
}

/* The scheme of the role's public URL decides HSTS and the CSP's upgrade directives. */
static void test_https_is_read_from_the_public_url(void **state)
{
    assert_true(http_policy_url_is_https("https://mcp.example.com"));
    assert_true(http_policy_url_is_https("HTTPS://mcp.example.com/base"));
    assert_false(http_policy_url_is_https("http://localhost:3232"));
    assert_false(http_policy_url_is_https("http://https.example"));
    assert_false(http_policy_url_is_https("https:/x"));
    assert_false(http_policy_url_is_https(NULL));
}

static void test_csp_upgrades_only_over_https(void **state)
{
    const char *https = http_policy_csp(true);
    const char *http = http_policy_csp(false);
    assert_non_null(strstr(https, "upgrade-insecure-requests"));
    assert_non_null(strstr(https, "block-all-mixed-content"));
    assert_null(strstr(http, "upgrade-insecure-requests"));
    assert_null(strstr(http, "block-all-mixed-content"));
    /* The rest of the policy is the same either way. */
    assert_string_equal(http, "default-src 'self'; object-src 'none'; frame-ancestors 'none'; "
                              "form-action 'self'; base-uri 'self'");
    assert_memory_equal(https, http, strlen(http));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_addresses_are_recognised),
        cmocka_unit_test(test_loopback_bind_accepts_loopback_hosts_on_any_port),
        cmocka_unit_test(test_loopback_bind_refuses_rebound_hosts),
        cmocka_unit_test(test_base_uri_host_is_allowed_on_loopback_bind),
        cmocka_unit_test(test_public_bind_accepts_any_host),
        cmocka_unit_test(test_missing_origin_is_accepted),
        cmocka_unit_test(test_origin_of_allowed_host_is_accepted),
        cmocka_unit_test(test_foreign_and_null_origins_are_refused),
        cmocka_unit_test(test_extra_origins_are_accepted_case_insensitively),
        cmocka_unit_test(test_too_many_origins_fail_init),
        cmocka_unit_test(test_https_is_read_from_the_public_url),
        cmocka_unit_test(test_csp_upgrades_only_over_https),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
