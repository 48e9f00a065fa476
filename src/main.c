/*
 * mcpd entry point: reads the configuration, builds the roles it names (`mcp`, `auth`, or `all`
 * for both in one process; see docs/architecture.md) on one libuv loop and one store, and shuts
 * down gracefully on SIGINT/SIGTERM: stop accepting, end sessions' streams, let in-flight requests
 * finish within SHUTDOWN_GRACE_MS (calls still running then are answered with a JSON-RPC error),
 * close the store, exit 0. A second signal exits at once, with status 1.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "auth/server.h"
#include "app/config.h"
#include "lib/crypto.h"
#include "http/http_policy.h"
#include "lib/log.h"
#include "mcp/server.h"
#include "store/store.h"

struct app {
    uv_loop_t *loop;
    struct config cfg;
    struct logger log;
    struct store *store;
    struct mcp_server *mcp;   /* NULL unless the role serves MCP */
    struct auth_server *auth; /* NULL unless the role serves OAuth */
    uv_signal_t sigint, sigterm;
    int stopping;
};

static bool serves_mcp(const struct config *c)
{
    return c->role == ROLE_MCP || c->role == ROLE_ALL;
}

static bool serves_auth(const struct config *c)
{
    return c->role == ROLE_AUTH || c->role == ROLE_ALL;
}

static void on_store_closed(void *arg)
{
    struct app *a = arg;
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
}

/* Each role's shutdown ends here; the store closes once both are gone. */
static void on_role_closed(void *arg)
{
    struct app *a = arg;
    if (a->mcp) {
        struct mcp_server *m = a->mcp;
        a->mcp = NULL;
        mcp_server_shutdown(m, on_role_closed, a);
        return;
    }
    if (a->auth) {
        struct auth_server *s = a->auth;
        a->auth = NULL;
        auth_server_shutdown(s, on_role_closed, a);
        return;
    }
    log_write(&a->log, LOG_INFO, "stopped", NULL);
    store_close(a->store, on_store_closed, a);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct app *a = h->data;
    if (a->stopping++) {
        log_write(&a->log, LOG_WARNING, "second signal: exiting now", NULL);
        exit(1);
    }
    log_write(&a->log, LOG_INFO, "shutting down",
              json_pack("{s:s}", "signal", signum == SIGINT ? "SIGINT" : "SIGTERM"));
    on_role_closed(a);
}

static int check_config(const struct config *c)
{
    if (serves_mcp(c) && c->no_auth && !http_host_is_loopback(c->host)) {
        fprintf(stderr,
                "mcpd: --no-auth serves MCP without authorization and is refused on "
                "the non-loopback address '%s'; bind 127.0.0.1 or ::1\n",
                c->host);
        return -1;
    }
    if (c->redis_url && strncmp(c->redis_url, "rediss://", 9) == 0) {
        fprintf(stderr,
                "mcpd: REDIS_URL '%s': TLS to Redis (rediss://) is not supported by this "
                "build; reach Redis over a private network or loopback, or terminate TLS "
                "in a local tunnel (stunnel, spiped) and give its redis:// address\n",
                c->redis_url);
        return -1;
    }
    if (c->request_state_secret && strlen(c->request_state_secret) < REQUEST_STATE_SECRET_MIN) {
        fprintf(stderr, "mcpd: REQUEST_STATE_SECRET must be at least %d characters\n",
                REQUEST_STATE_SECRET_MIN);
        return -1;
    }
    return 0;
}

/* The key of 2026-07-28 requestState tokens: made up for a lone process; instances sharing a
 * store (and so, likely, a balancer) must share it, or a retry reaching another instance is
 * refused. */
static void ensure_request_state_secret(struct config *c)
{
    if (!serves_mcp(c) || (c->request_state_secret && *c->request_state_secret))
        return;
    if (c->redis_url)
        fprintf(stderr, "mcpd: warning: REDIS_URL is set but REQUEST_STATE_SECRET is not; "
                        "input_required retries only verify on this instance\n");
    char hex[65];
    if (crypto_random_hex(hex, 32) != 0)
        return;
    free(c->request_state_secret);
    c->request_state_secret = strdup(hex);
}

/* In `mcpd all` both roles share one configuration, so a secret for /introspect can be made up
 * here; separate processes must be given the same INTROSPECTION_SECRET. */
static void ensure_introspection_secret(struct config *c)
{
    if (c->role != ROLE_ALL || c->no_auth || (c->introspection_secret && *c->introspection_secret))
        return;
    char hex[65];
    if (crypto_random_hex(hex, 32) != 0)
        return;
    free(c->introspection_secret);
    c->introspection_secret = strdup(hex);
}

/* URLs are printed from BASE_URI and AUTH_SERVER_URL: OAuth clients check that the protected
 * resource's origin is the one they were given, so users must type the configured form. */
static void print_banner(const struct app *a)
{
    const struct config *c = &a->cfg;
    fprintf(stderr, "mcpd %s (%s store, listening on %s)\n", MCPD_VERSION,
            store_backend_name(a->store), c->host);
    if (a->mcp)
        fprintf(stderr,
                "  MCP endpoint (Streamable HTTP): %s/mcp\n"
                "  legacy HTTP+SSE:                %s/sse\n"
                "  splash page and health:         %s/  %s/health\n"
                "  authorization: %s; features: %s\n",
                c->base_uri, c->base_uri, c->base_uri, c->base_uri,
                c->no_auth ? "OFF (--no-auth)" : c->auth_server_url, c->features);
    if (a->auth)
        fprintf(stderr,
                "  OAuth 2.1 authorization server: %s/\n"
                "  its metadata:                   %s/.well-known/oauth-authorization-server\n",
                c->auth_server_url, c->auth_server_url);
    /* The MCP Inspector v2 flow, as README.md tells it: its UI starts at an empty server list,
     * and the OAuth flow shows our two pages in the browser. */
    if (a->mcp && !c->no_auth)
        fprintf(stderr,
                "  connect: in a second terminal, npx @modelcontextprotocol/inspector@2.12.0\n"
                "    (from a checkout: see README.md); in its page, Add Servers, + Add manually,\n"
                "    transport streamable-http, URL %s/mcp, Add, then switch it on. The browser\n"
                "    shows mcpd's consent page (Allow), then the mock identity provider's\n"
                "    page (Sign in, as \"demo user\" or any name)\n",
                c->base_uri);
    fprintf(stderr, "  logs: JSON lines on stdout; Ctrl-C stops\n");
}

static int start_roles(struct app *a)
{
    char err[256] = "";
    if (serves_auth(&a->cfg)) {
        a->auth = auth_server_new(a->loop, &a->cfg, a->store, &a->log, err, sizeof err);
        int rc = a->auth ? auth_server_listen(a->auth) : -1;
        if (rc != 0) {
            fprintf(stderr, "mcpd: authorization server: %s\n", a->auth ? uv_strerror(rc) : err);
            return -1;
        }
    }
    if (serves_mcp(&a->cfg)) {
        a->mcp = mcp_server_new(a->loop, &a->cfg, a->store, &a->log, err, sizeof err);
        int rc = a->mcp ? mcp_server_listen(a->mcp) : -1;
        if (rc != 0) {
            fprintf(stderr, "mcpd: MCP server: %s\n", a->mcp ? uv_strerror(rc) : err);
            return -1;
        }
    }
    return 0;
}

static int run(struct app *a)
{
    a->loop = uv_default_loop();
    int level = log_level_parse(a->cfg.log_level ? a->cfg.log_level : "info");
    log_init(&a->log, stdout, level < 0 ? LOG_INFO : (enum log_level)level);
    signal(SIGPIPE, SIG_IGN);
    if (a->cfg.redis_url && *a->cfg.redis_url) {
        a->store = store_redis_new(a->loop, &a->log, a->cfg.redis_url, a->cfg.redis_password);
        if (!a->store) {
            fprintf(stderr,
                    "mcpd: REDIS_URL '%s' is not usable: expected "
                    "redis://[[user]:password@]host[:port][/db]\n",
                    a->cfg.redis_url);
            return 1;
        }
    } else {
        a->store = store_memory_new(a->loop, &a->log);
    }
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    if (start_roles(a) != 0) {
        a->stopping = 1;
        on_role_closed(a); /* release whatever started, then the loop drains */
        uv_run(a->loop, UV_RUN_DEFAULT);
        uv_loop_close(a->loop);
        return 1;
    }
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    print_banner(a);
    log_write(&a->log, LOG_INFO, "listening",
              json_pack("{s:s,s:i,s:i,s:s}", "host", a->cfg.host, "mcpPort",
                        a->mcp ? mcp_server_port(a->mcp) : 0, "authPort",
                        a->auth ? auth_server_port(a->auth) : 0, "store",
                        store_backend_name(a->store)));
    uv_run(a->loop, UV_RUN_DEFAULT);
    uv_loop_close(a->loop);
    return 0;
}

int main(int argc, char **argv)
{
    struct app a;
    memset(&a, 0, sizeof a);
    char err[256] = "";
    if (config_load(&a.cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "mcpd: %s\n", err);
        config_free(&a.cfg);
        return 2;
    }
    if (a.cfg.show_help || a.cfg.show_version) {
        if (a.cfg.show_help)
            config_usage(stdout, "mcpd");
        else
            printf("mcpd %s\n", MCPD_VERSION);
        config_free(&a.cfg);
        return 0;
    }
    ensure_introspection_secret(&a.cfg);
    int rc = check_config(&a.cfg);
    if (rc == 0)
        ensure_request_state_secret(&a.cfg);
    rc = rc == 0 ? run(&a) : 2;
    config_free(&a.cfg);
    return rc;
}
