/*
 * mcpd entry point: reads the configuration, builds the server context for the chosen role
 * (mcp today; auth and all arrive with the OAuth work), runs the libuv loop, and shuts down
 * gracefully on SIGINT/SIGTERM: stop accepting, end sessions' streams, let in-flight requests
 * finish within SHUTDOWN_GRACE_MS, close the store, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/config.h"
#include "core/http_policy.h"
#include "core/log.h"
#include "mcp/server.h"
#include "store/store.h"

struct app {
    uv_loop_t *loop;
    struct config cfg;
    struct logger log;
    struct store *store;
    struct mcp_server *mcp;
    uv_signal_t sigint, sigterm;
    int stopping;
};

static void on_store_closed(void *arg)
{
    struct app *a = arg;
    uv_close((uv_handle_t *)&a->sigint, NULL);
    uv_close((uv_handle_t *)&a->sigterm, NULL);
}

static void on_mcp_closed(void *arg)
{
    struct app *a = arg;
    a->mcp = NULL;
    log_write(&a->log, LOG_INFO, "MCP server stopped", NULL);
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
    if (a->mcp)
        mcp_server_shutdown(a->mcp, on_mcp_closed, a);
    else
        on_mcp_closed(a);
}

static int check_role(const struct config *c)
{
    if (c->role == ROLE_AUTH || c->role == ROLE_ALL) {
        fprintf(stderr,
                "mcpd: the '%s' role (OAuth authorization server) is not available in "
                "this build yet; run 'mcpd mcp --no-auth'\n",
                c->role == ROLE_AUTH ? "auth" : "all");
        return -1;
    }
    if (!c->no_auth) {
        fprintf(stderr, "mcpd: bearer-token authorization is not available in this build yet; "
                        "run with --no-auth (AUTH_MODE=none) on a loopback address\n");
        return -1;
    }
    if (c->no_auth && !http_host_is_loopback(c->host)) {
        fprintf(stderr,
                "mcpd: --no-auth serves MCP without authorization and is refused on "
                "the non-loopback address '%s'; bind 127.0.0.1 or ::1\n",
                c->host);
        return -1;
    }
    if (c->redis_url && *c->redis_url) {
        fprintf(stderr, "mcpd: REDIS_URL is set, but the Redis store is not available in this "
                        "build yet; unset it to use the embedded store\n");
        return -1;
    }
    return 0;
}

static void print_banner(const struct app *a)
{
    int port = mcp_server_port(a->mcp);
    const char *h = strchr(a->cfg.host, ':') ? "[%s]" : "%s";
    char host[80];
    snprintf(host, sizeof host, h, a->cfg.host);
    fprintf(stderr,
            "mcpd %s: MCP server on the %s store, authorization %s\n"
            "  MCP endpoint (Streamable HTTP): http://%s:%d/mcp\n"
            "  health:                         http://%s:%d/health\n"
            "  features: %s; logs: JSON lines on stdout; Ctrl-C stops\n",
            MCPD_VERSION, store_backend_name(a->store), a->cfg.no_auth ? "OFF" : "on", host, port,
            host, port, a->cfg.features);
}

static int run(struct app *a)
{
    char err[256] = "";
    a->loop = uv_default_loop();
    int level = log_level_parse(a->cfg.log_level ? a->cfg.log_level : "info");
    log_init(&a->log, stdout, level < 0 ? LOG_INFO : (enum log_level)level);
    signal(SIGPIPE, SIG_IGN);
    a->store = store_memory_new(a->loop, &a->log);
    a->mcp = mcp_server_new(a->loop, &a->cfg, a->store, &a->log, err, sizeof err);
    if (!a->mcp) {
        fprintf(stderr, "mcpd: %s\n", err);
        return 1;
    }
    int rc = mcp_server_listen(a->mcp);
    if (rc != 0) {
        fprintf(stderr, "mcpd: cannot listen on %s:%d: %s\n", a->cfg.host, a->cfg.port,
                uv_strerror(rc));
        return 1;
    }
    uv_signal_init(a->loop, &a->sigint);
    uv_signal_init(a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    print_banner(a);
    log_write(&a->log, LOG_INFO, "MCP server listening",
              json_pack("{s:s,s:i,s:s}", "host", a->cfg.host, "port", mcp_server_port(a->mcp),
                        "store", store_backend_name(a->store)));
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
    if (a.cfg.show_help) {
        config_usage(stdout, "mcpd");
        config_free(&a.cfg);
        return 0;
    }
    if (a.cfg.show_version) {
        printf("mcpd %s\n", MCPD_VERSION);
        config_free(&a.cfg);
        return 0;
    }
    int rc = check_role(&a.cfg) == 0 ? run(&a) : 2;
    config_free(&a.cfg);
    return rc;
}
