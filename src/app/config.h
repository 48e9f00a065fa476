/*
 * config: every setting mcpd has, where it comes from and its limits. Sources, weakest first:
 * built-in defaults, a .env file in the working directory, the environment (the reference server's
 * variable names: PORT, BASE_URI, AUTH_SERVER_URL, AUTH_SERVER_PORT, REDIS_URL, REDIS_PASSWORD,
 * ...), then command-line flags. `mcpd --help` is generated from the same table, so it cannot
 * drift. Knows nothing of what the settings do.
 */
#ifndef MCPD_APP_CONFIG_H
#define MCPD_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http/http_server.h"

enum config_role {
    ROLE_NONE = 0, /* --help / --version */
    ROLE_MCP,      /* mcpd mcp */
    ROLE_AUTH,     /* mcpd auth */
    ROLE_ALL,      /* mcpd all */
};

/* REQUEST_STATE_SECRET's minimum length (characters). */
#define REQUEST_STATE_SECRET_MIN 32

struct config {
    enum config_role role;
    char *host;                 /* HOST / --host: bind address (default 127.0.0.1) */
    int port;                   /* PORT / --port: MCP listener (default 3232) */
    int auth_port;              /* AUTH_SERVER_PORT / --auth-port (default 3001) */
    char *base_uri;             /* BASE_URI / --base-uri (default http://localhost:{port}) */
    char *auth_server_url;      /* AUTH_SERVER_URL / --auth-server-url (default
                                   http://localhost:{auth_port}) */
    char *redis_url;            /* REDIS_URL / --redis-url; NULL means the embedded memory store */
    char *redis_password;       /* REDIS_PASSWORD */
    bool no_auth;               /* AUTH_MODE=none / --no-auth */
    char *features;             /* MCP_FEATURES / --features: comma list of feature packs */
    char *allowed_origins;      /* ALLOWED_ORIGINS / --allowed-origins: extra comma list */
    char *log_level;            /* LOG_LEVEL / --log-level (default info) */
    uint64_t session_ttl_ms;    /* SESSION_TTL_MS (default 300000: the reference server's 5 min) */
    size_t event_log_max;       /* EVENT_LOG_MAX: events kept per stream for replay (default 256) */
    uint64_t sse_retry_ms;      /* SSE_RETRY_MS: retry hint in priming events (default 1000) */
    uint64_t shutdown_grace_ms; /* SHUTDOWN_GRACE_MS (default 5000) */
    uint64_t request_timeout_ms;  /* server->client request timeout (default 60000) */
    unsigned timer_scale_percent; /* TIMER_SCALE_PERCENT: feature timers' periods, % (100) */
    char *response_mode;          /* RESPONSE_MODE: auto, json or sse (see transport_http.h) */
    char *introspection_secret;   /* INTROSPECTION_SECRET: shared by the AS and the MCP role */
    char *request_state_secret;   /* REQUEST_STATE_SECRET: MRTR requestState HMAC key */
    uint64_t request_state_ttl_s; /* REQUEST_STATE_TTL_S: requestState lifetime (300) */
    char *metrics_token; /* METRICS_TOKEN: bearer token for /metrics; unset: loopback only */
    uint64_t access_token_ttl_s;     /* ACCESS_TOKEN_TTL_S (3600) */
    uint64_t refresh_token_ttl_s;    /* REFRESH_TOKEN_TTL_S (604800) */
    uint64_t code_ttl_s;             /* AUTH_CODE_TTL_S (600) */
    uint64_t client_ttl_s;           /* CLIENT_TTL_S: registrations and their secrets (2592000) */
    uint64_t unused_client_ttl_s;    /* UNUSED_CLIENT_TTL_S: until the first /token (86400) */
    unsigned max_clients;            /* MAX_CLIENTS: live registrations (10000) */
    size_t max_registration_bytes;   /* MAX_REGISTRATION_BYTES: a /register body (16384) */
    uint64_t introspection_cache_ms; /* INTROSPECTION_CACHE_MS (60000; never past exp) */
    uint64_t auth_check_interval_ms; /* AUTH_CHECK_INTERVAL_MS: AS reachability re-check (3000) */
    unsigned cimd_enabled;           /* CIMD: fetch Client ID Metadata Documents (1) */
    uint64_t cimd_timeout_ms;        /* CIMD_TIMEOUT_MS: one document fetch (5000) */
    size_t cimd_max_bytes;           /* CIMD_MAX_BYTES: one document (5120) */
    uint64_t cimd_cache_s;           /* CIMD_CACHE_S: cached without a max-age (300) */
    uint64_t cimd_cache_max_s;       /* CIMD_CACHE_MAX_S: the most any document is cached (3600) */
    char *cimd_ca_file;              /* CIMD_CA_FILE: CA bundle for document servers (system) */
    unsigned cimd_allow_private;     /* CIMD_ALLOW_PRIVATE: UNSAFE, tests: internal addresses (0) */
    /* MCP-level bounds (docs/reliability.md, "Limits"); 0 in a context built without a
     * configuration means the built-in default (src/mcp/limits.h). */
    unsigned max_sessions_per_user;   /* MAX_SESSIONS_PER_USER: live sessions per subject (100) */
    unsigned max_calls_per_session;   /* MAX_CALLS_PER_SESSION: waiting calls, this instance (16) */
    unsigned max_calls;               /* MAX_CALLS: calls in flight in this process (1000) */
    uint64_t max_call_duration_ms;    /* MAX_CALL_DURATION_MS: a call is ended past it (900000) */
    unsigned max_tool_steps;          /* MAX_TOOL_STEPS: longRunningOperation steps (10000) */
    uint64_t task_ttl_ms;             /* TASK_TTL_MS: a task record's lifetime (3600000) */
    unsigned max_tasks_per_user;      /* MAX_TASKS_PER_USER: unexpired tasks per subject (100) */
    size_t max_task_result_bytes;     /* MAX_TASK_RESULT_BYTES: a stored task result (1 MiB) */
    size_t max_id_bytes;              /* MAX_ID_BYTES: request id, progressToken (256) */
    size_t max_capabilities_bytes;    /* MAX_CAPABILITIES_BYTES: initialize capabilities (65536) */
    unsigned max_subscriptions;       /* MAX_SUBSCRIPTIONS: resource subscriptions/session (100) */
    size_t max_uri_bytes;             /* MAX_URI_BYTES: a subscribed URI (2048) */
    unsigned max_listen_streams;      /* MAX_LISTEN_STREAMS: subscriptions/listen per user (16) */
    unsigned max_batch_entries;       /* MAX_BATCH_ENTRIES: messages in one batch (100) */
    size_t max_batch_response_bytes;  /* MAX_BATCH_RESPONSE_BYTES: one batch's answers (4 MiB) */
    size_t event_log_entry_max_bytes; /* EVENT_LOG_ENTRY_MAX_BYTES: event kept in full (65536) */
    unsigned rate_limit_mcp;       /* RATE_LIMIT_MCP: requests/min per IP on MCP routes (0: off) */
    unsigned rate_limit_static;    /* RATE_LIMIT_STATIC: splash and assets (500) */
    unsigned rate_limit_authorize; /* RATE_LIMIT_AUTHORIZE: /authorize + mock IdP (200) */
    unsigned rate_limit_token;     /* RATE_LIMIT_TOKEN: /token, /revoke, /introspect (1200) */
    unsigned rate_limit_register;  /* RATE_LIMIT_REGISTER: /register (60) */
    struct http_limits limits;     /* MAX_HEADER_BYTES, MAX_BODY_BYTES, MAX_CONNECTIONS,
                                      MAX_CONNECTIONS_PER_CLIENT,
                                      HEADER_TIMEOUT_MS, REQUEST_TIMEOUT_MS, IDLE_TIMEOUT_MS,
                                      SSE_MAX_QUEUED_BYTES */
    bool show_help;
    bool show_version;
};

/* Fill c from defaults, ./.env (if present), the environment and argv (argv[1] may be the role:
 * mcp, auth or all). On error returns -1 with a message in err. Free with config_free. */
int config_load(struct config *c, int argc, char **argv, char *err, size_t err_size);
void config_free(struct config *c);
void config_usage(FILE *out, const char *prog);

#endif
