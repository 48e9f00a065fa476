#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "app/config.h"

/* Every variable mcpd reads; each test starts with all of them unset, in an empty directory. */
static const char *const env_names[] = {
    "HOST",
    "PORT",
    "AUTH_SERVER_PORT",
    "BASE_URI",
    "AUTH_SERVER_URL",
    "REDIS_URL",
    "REDIS_PASSWORD",
    "AUTH_MODE",
    "MCP_FEATURES",
    "ALLOWED_ORIGINS",
    "LOG_LEVEL",
    "SESSION_TTL_MS",
    "EVENT_LOG_MAX",
    "SSE_RETRY_MS",
    "SHUTDOWN_GRACE_MS",
    "REQUEST_TIMEOUT_MS",
    "MAX_HEADER_BYTES",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "HEADER_TIMEOUT_MS",
    "HTTP_REQUEST_TIMEOUT_MS",
    "IDLE_TIMEOUT_MS",
    "SSE_MAX_QUEUED_BYTES",
};
#define ENV_COUNT (sizeof env_names / sizeof env_names[0])

struct fixture {
    char *saved[ENV_COUNT]; /* the caller's environment, put back afterwards */
    char old_cwd[PATH_MAX];
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    for (size_t i = 0; i < ENV_COUNT; i++) {
        const char *v = getenv(env_names[i]);
        f->saved[i] = v ? strdup(v) : NULL;
        unsetenv(env_names[i]);
    }
    if (!getcwd(f->old_cwd, sizeof f->old_cwd))
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/mcpd-test-config-XXXXXX");
    if (!mkdtemp(f->dir) || chdir(f->dir) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(".env");
    if (chdir(f->old_cwd) != 0)
        return -1;
    rmdir(f->dir);
    for (size_t i = 0; i < ENV_COUNT; i++) {
        if (f->saved[i])
            setenv(env_names[i], f->saved[i], 1);
        else
            unsetenv(env_names[i]);
        free(f->saved[i]);
    }
    free(f);
    return 0;
}

static void write_dotenv(const char *text)
{
    FILE *fp = fopen(".env", "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* config_load with a NULL-terminated argument list after the program name. */
#define LOAD(c, err, ...) load_args((c), (err), (const char *[]){"mcpd", __VA_ARGS__, NULL})

static int load_args(struct config *c, char *err, const char **args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    err[0] = '\0';
    return config_load(c, argc, (char **)args, err, 256);
}

static void test_defaults_match_the_peer(void **state)
{
    struct config c;
    char err[256] = "";
    assert_int_equal(config_load(&c, 1, (char *[]){"mcpd", NULL}, err, sizeof err), 0);
    assert_int_equal(c.role, ROLE_MCP);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 3232);
    assert_int_equal(c.auth_port, 3001);
    assert_string_equal(c.base_uri, "http://localhost:3232");
    assert_string_equal(c.auth_server_url, "http://localhost:3001");
    assert_null(c.redis_url);
    assert_null(c.redis_password);
    assert_false(c.no_auth);
    assert_string_equal(c.features, "reference");
    assert_null(c.allowed_origins);
    assert_string_equal(c.log_level, "info");
    assert_int_equal(c.session_ttl_ms, 300000);
    assert_int_equal(c.event_log_max, 256);
    assert_int_equal(c.sse_retry_ms, 1000);
    assert_int_equal(c.shutdown_grace_ms, 5000);
    assert_int_equal(c.request_timeout_ms, 60000);
    assert_int_equal(c.limits.max_header_bytes, HTTP_DEFAULT_MAX_HEADER_BYTES);
    assert_int_equal(c.limits.max_headers, HTTP_DEFAULT_MAX_HEADERS);
    assert_int_equal(c.limits.max_body_bytes, HTTP_DEFAULT_MAX_BODY_BYTES);
    assert_int_equal(c.limits.max_connections, HTTP_DEFAULT_MAX_CONNECTIONS);
    assert_int_equal(c.limits.header_timeout_ms, HTTP_DEFAULT_HEADER_TIMEOUT_MS);
    assert_int_equal(c.limits.request_timeout_ms, HTTP_DEFAULT_REQUEST_TIMEOUT_MS);
    assert_int_equal(c.limits.idle_timeout_ms, HTTP_DEFAULT_IDLE_TIMEOUT_MS);
    assert_int_equal(c.limits.stream_max_queued_bytes, HTTP_DEFAULT_STREAM_MAX_QUEUED);
    assert_false(c.show_help);
    config_free(&c);
}

static void test_default_urls_follow_ports(void **state)
{
    struct config c;
    char err[256];
    setenv("PORT", "4000", 1);
    assert_int_equal(LOAD(&c, err, "all", "--auth-port", "4001"), 0);
    assert_string_equal(c.base_uri, "http://localhost:4000");
    assert_string_equal(c.auth_server_url, "http://localhost:4001");
    config_free(&c);
}

/* One issuer string: AUTH_SERVER_URL loses its trailing slashes at load, from every source. */
static void test_auth_server_url_loses_trailing_slashes(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "auth", "--auth-server-url", "http://localhost:4001/"), 0);
    assert_string_equal(c.auth_server_url, "http://localhost:4001");
    config_free(&c);
    setenv("AUTH_SERVER_URL", "https://as.example/tenant//", 1);
    assert_int_equal(LOAD(&c, err, "auth"), 0);
    assert_string_equal(c.auth_server_url, "https://as.example/tenant");
    config_free(&c);
    setenv("AUTH_SERVER_URL", "https://as.example", 1);
    assert_int_equal(LOAD(&c, err, "auth"), 0);
    assert_string_equal(c.auth_server_url, "https://as.example");
    config_free(&c);
    setenv("AUTH_SERVER_URL", "http:///",
           1); /* nothing but the scheme: left for the role to refuse */
    assert_int_equal(LOAD(&c, err, "auth"), 0);
    assert_string_equal(c.auth_server_url, "http:///");
    config_free(&c);
}

static void test_dotenv_file_is_loaded(void **state)
{
    write_dotenv("# comment line\n"
                 "\n"
                 "PORT=4100\n"
                 "export BASE_URI=\"https://mcp.example.com\"\n"
                 "  REDIS_URL = 'redis://cache:6379' \n"
                 "REDIS_PASSWORD=s3cret # trailing comment\n"
                 "LOG_LEVEL=\"debug\"\r\n"
                 "AUTH_MODE=none\n"
                 "UNRELATED_TOOL_SETTING=whatever\n"
                 "not an assignment\n");
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "mcp"), 0);
    assert_int_equal(c.port, 4100);
    assert_string_equal(c.base_uri, "https://mcp.example.com");
    assert_string_equal(c.redis_url, "redis://cache:6379");
    assert_string_equal(c.redis_password, "s3cret");
    assert_string_equal(c.log_level, "debug");
    assert_true(c.no_auth);
    config_free(&c);
}

static void test_environment_overrides_dotenv(void **state)
{
    write_dotenv("PORT=4100\nHOST=0.0.0.0\n");
    setenv("PORT", "4200", 1);
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "mcp"), 0);
    assert_int_equal(c.port, 4200);
    assert_string_equal(c.host, "0.0.0.0");
    config_free(&c);
}

static void test_empty_environment_variable_means_default(void **state)
{
    write_dotenv("PORT=4100\n");
    setenv("PORT", "", 1); /* set, so .env does not apply, and empty, so the default does */
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "mcp"), 0);
    assert_int_equal(c.port, 3232);
    config_free(&c);
}

static void test_flags_override_environment(void **state)
{
    write_dotenv("HOST=10.0.0.1\n");
    setenv("PORT", "4200", 1);
    setenv("MAX_BODY_BYTES", "1000", 1);
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "mcp", "--port", "4300", "--host", "::1", "--max-body-bytes",
                          "2000", "--no-auth"),
                     0);
    assert_int_equal(c.port, 4300);
    assert_string_equal(c.host, "::1");
    assert_int_equal(c.limits.max_body_bytes, 2000);
    assert_true(c.no_auth);
    config_free(&c);
}

static void test_flag_equals_form_is_accepted(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "--port=4400", "--features=conformance,extra",
                          "--allowed-origins=https://a.example", "--session-ttl-ms=1500",
                          "--http-request-timeout-ms=700", "--sse-max-queued-bytes=4096"),
                     0);
    assert_int_equal(c.role, ROLE_MCP);
    assert_int_equal(c.port, 4400);
    assert_string_equal(c.features, "conformance,extra");
    assert_string_equal(c.allowed_origins, "https://a.example");
    assert_int_equal(c.session_ttl_ms, 1500);
    assert_int_equal(c.limits.request_timeout_ms, 700);
    assert_int_equal(c.limits.stream_max_queued_bytes, 4096);
    config_free(&c);
}

static void test_environment_sets_limits_and_timeouts(void **state)
{
    setenv("REQUEST_TIMEOUT_MS", "1234", 1);
    setenv("HTTP_REQUEST_TIMEOUT_MS", "5678", 1);
    setenv("MAX_CONNECTIONS", "10", 1);
    setenv("EVENT_LOG_MAX", "0", 1);
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "auth"), 0);
    assert_int_equal(c.request_timeout_ms, 1234);
    assert_int_equal(c.limits.request_timeout_ms, 5678);
    assert_int_equal(c.limits.max_connections, 10);
    assert_int_equal(c.event_log_max, 0);
    config_free(&c);
}

static void test_role_words_select_role(void **state)
{
    static const struct {
        const char *word;
        enum config_role role;
    } cases[] = {{"mcp", ROLE_MCP}, {"auth", ROLE_AUTH}, {"all", ROLE_ALL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config c;
        char err[256];
        assert_int_equal(LOAD(&c, err, cases[i].word), 0);
        assert_int_equal(c.role, cases[i].role);
        config_free(&c);
    }
}

static void test_unknown_role_is_an_error(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "proxy"), -1);
    assert_non_null(strstr(err, "unknown role 'proxy'"));
}

static void test_role_after_flags_is_an_error(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "--port", "1", "auth"), -1);
    assert_non_null(strstr(err, "'auth'"));
}

static void test_bad_port_is_an_error(void **state)
{
    static const char *const bad[] = {"65536", "-1",   "80x", "",
                                      " 80",   "0x50", "+80", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct config c;
        char err[256];
        assert_int_equal(LOAD(&c, err, "--port", bad[i]), -1);
        assert_non_null(strstr(err, "--port"));
    }
}

static void test_bad_environment_value_names_the_variable(void **state)
{
    setenv("AUTH_SERVER_PORT", "abc", 1);
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "auth"), -1);
    assert_non_null(strstr(err, "AUTH_SERVER_PORT"));
    assert_non_null(strstr(err, "0 to 65535"));
}

static void test_bad_dotenv_value_names_the_line(void **state)
{
    write_dotenv("HOST=x\nSESSION_TTL_MS=soon\n");
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "mcp"), -1);
    assert_non_null(strstr(err, "SESSION_TTL_MS (.env line 2)"));
}

static void test_port_zero_and_max_are_accepted(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "--port", "0", "--auth-port=65535"), 0);
    assert_int_equal(c.port, 0);
    assert_int_equal(c.auth_port, 65535);
    config_free(&c);
}

static void test_unknown_flag_is_an_error(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "mcp", "--foo"), -1);
    assert_string_equal(err, "unknown option --foo; see mcpd --help");
    assert_int_equal(LOAD(&c, err, "--foo=bar"), -1);
    assert_string_equal(err, "unknown option --foo; see mcpd --help");
    assert_int_equal(LOAD(&c, err, "-x"), -1);
    assert_non_null(strstr(err, "unknown option -x"));
}

static void test_flag_without_value_is_an_error(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "--host"), -1);
    assert_non_null(strstr(err, "--host needs a value"));
    assert_int_equal(LOAD(&c, err, "--host", "--port", "1"), -1);
    assert_non_null(strstr(err, "--host needs a value"));
    assert_int_equal(LOAD(&c, err, "--no-auth=yes"), -1);
    assert_non_null(strstr(err, "takes no value"));
}

static void test_redis_password_has_no_flag(void **state)
{
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "--redis-password", "x"), -1);
    assert_non_null(strstr(err, "unknown option --redis-password"));
}

static void test_help_and_version_win_over_bad_settings(void **state)
{
    setenv("PORT", "not-a-port", 1);
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, "mcp", "--bogus", "--help"), 0);
    assert_true(c.show_help);
    assert_int_equal(c.role, ROLE_NONE);
    config_free(&c);
    assert_int_equal(LOAD(&c, err, "-V"), 0);
    assert_true(c.show_version);
    assert_int_equal(c.role, ROLE_NONE);
    config_free(&c);
}

static void test_help_mentions_every_variable_and_flag(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    config_usage(out, "mcpd");
    fclose(out);
    assert_non_null(strstr(text, "Usage: mcpd [mcp|auth|all]"));
    for (size_t i = 0; i < ENV_COUNT; i++) {
        if (!strstr(text, env_names[i]))
            fail_msg("--help does not mention %s", env_names[i]);
    }
    static const char *const flags[] = {
        "--host",
        "--port",
        "--auth-port",
        "--base-uri",
        "--auth-server-url",
        "--redis-url",
        "--no-auth",
        "--features",
        "--allowed-origins",
        "--log-level",
        "--session-ttl-ms",
        "--event-log-max",
        "--sse-retry-ms",
        "--shutdown-grace-ms",
        "--request-timeout-ms",
        "--max-header-bytes",
        "--max-body-bytes",
        "--max-connections",
        "--header-timeout-ms",
        "--idle-timeout-ms",
        "--sse-max-queued-bytes",
        "--help",
        "--version",
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!strstr(text, flags[i]))
            fail_msg("--help does not mention %s", flags[i]);
    }
    assert_non_null(strstr(text, "default: 3232"));
    assert_non_null(strstr(text, "default: 127.0.0.1"));
    free(text);
}

#define TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_defaults_match_the_peer),
        TEST(test_default_urls_follow_ports),
        TEST(test_auth_server_url_loses_trailing_slashes),
        TEST(test_dotenv_file_is_loaded),
        TEST(test_environment_overrides_dotenv),
        TEST(test_empty_environment_variable_means_default),
        TEST(test_flags_override_environment),
        TEST(test_flag_equals_form_is_accepted),
        TEST(test_environment_sets_limits_and_timeouts),
        TEST(test_role_words_select_role),
        TEST(test_unknown_role_is_an_error),
        TEST(test_role_after_flags_is_an_error),
        TEST(test_bad_port_is_an_error),
        TEST(test_bad_environment_value_names_the_variable),
        TEST(test_bad_dotenv_value_names_the_line),
        TEST(test_port_zero_and_max_are_accepted),
        TEST(test_unknown_flag_is_an_error),
        TEST(test_flag_without_value_is_an_error),
        TEST(test_redis_password_has_no_flag),
        TEST(test_help_and_version_win_over_bad_settings),
        TEST(test_help_mentions_every_variable_and_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
