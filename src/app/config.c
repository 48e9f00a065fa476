#include "app/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MS_MAX (31ULL * 24 * 3600 * 1000) /* a month: longer than any sane timer */
#define MIB    (1024ULL * 1024)

enum option_type {
    OPT_STRING,    /* char *, malloc'd; an empty value means "use the default" */
    OPT_PORT,      /* int, 0-65535 */
    OPT_U64,       /* uint64_t */
    OPT_SIZE,      /* size_t */
    OPT_UINT,      /* unsigned */
    OPT_AUTH_MODE, /* bool no_auth: the flag takes no value; AUTH_MODE=none sets it */
};

struct option_def {
    const char *flag;    /* "--port"; NULL: environment only (secrets stay out of argv) */
    const char *env;     /* "PORT" */
    const char *metavar; /* how the help names the value */
    enum option_type type;
    size_t offset;        /* field in struct config */
    uint64_t min, max;    /* numeric range, inclusive */
    uint64_t def_num;     /* numeric default */
    const char *def_str;  /* string default; NULL: unset, or computed (def_text says how) */
    const char *def_text; /* default as --help prints it, when not def_num / def_str */
    const char *help;
};

#define FIELD(f) offsetof(struct config, f)

/* Every setting, in --help order. Reading, validation and the help text all walk this table. */
static const struct option_def options[] = {
    {.flag = "--host",
     .env = "HOST",
     .metavar = "<addr>",
     .type = OPT_STRING,
     .offset = FIELD(host),
     .def_str = "127.0.0.1",
     .help = "address to listen on"},
    {.flag = "--port",
     .env = "PORT",
     .metavar = "<port>",
     .type = OPT_PORT,
     .offset = FIELD(port),
     .min = 0,
     .max = 65535,
     .def_num = 3232,
     .help = "port of the MCP listener (0 picks a free port)"},
    {.flag = "--auth-port",
     .env = "AUTH_SERVER_PORT",
     .metavar = "<port>",
     .type = OPT_PORT,
     .offset = FIELD(auth_port),
     .min = 0,
     .max = 65535,
     .def_num = 3001,
     .help = "port of the authorization server listener"},
    {.flag = "--base-uri",
     .env = "BASE_URI",
     .metavar = "<url>",
     .type = OPT_STRING,
     .offset = FIELD(base_uri),
     .def_text = "http://localhost:{PORT}",
     .help = "public URL of the MCP server (the token audience)"},
    {.flag = "--auth-server-url",
     .env = "AUTH_SERVER_URL",
     .metavar = "<url>",
     .type = OPT_STRING,
     .offset = FIELD(auth_server_url),
     .def_text = "http://localhost:{AUTH_SERVER_PORT}",
     .help = "public URL of the authorization server: its issuer identifier (trailing '/' "
             "removed) and where the MCP role introspects"},
    {.flag = "--redis-url",
     .env = "REDIS_URL",
     .metavar = "<url>",
     .type = OPT_STRING,
     .offset = FIELD(redis_url),
     .def_text = "embedded memory store",
     .help = "redis://[[user]:password@]host[:port][/db]: share sessions, tokens and limits with "
             "other instances (unset: embedded store)"},
    {.env = "REDIS_PASSWORD",
     .metavar = "<secret>",
     .type = OPT_STRING,
     .offset = FIELD(redis_password),
     .def_text = "none",
     .help = "Redis password (environment or .env only, so it stays out of ps)"},
    {.env = "INTROSPECTION_SECRET",
     .metavar = "<secret>",
     .type = OPT_STRING,
     .offset = FIELD(introspection_secret),
     .def_text = "none",
     .help = "shared secret the MCP role sends to the authorization server's /introspect "
             "(environment only; mcpd all makes one up)"},
    {.env = "METRICS_TOKEN",
     .metavar = "<secret>",
     .type = OPT_STRING,
     .offset = FIELD(metrics_token),
     .def_text = "none",
     .help = "bearer token that lets any client read GET /metrics (environment only; unset: "
             "only loopback clients may)"},
    {.env = "REQUEST_STATE_SECRET",
     .metavar = "<secret>",
     .type = OPT_STRING,
     .offset = FIELD(request_state_secret),
     .def_text = "random per process",
     .help = "key (at least 32 characters) that signs the requestState of 2026-07-28 "
             "input_required results; instances behind one balancer must share it (environment "
             "only)"},
    {.flag = "--request-state-ttl-s",
     .env = "REQUEST_STATE_TTL_S",
     .metavar = "<s>",
     .type = OPT_U64,
     .offset = FIELD(request_state_ttl_s),
     .min = 1,
     .max = 86400,
     .def_num = 300,
     .help = "how long a client may take to answer an input_required result and retry"},
    {.flag = "--no-auth",
     .env = "AUTH_MODE",
     .metavar = "none",
     .type = OPT_AUTH_MODE,
     .offset = FIELD(no_auth),
     .def_text = "authorization required",
     .help = "serve /mcp without bearer tokens"},
    {.flag = "--features",
     .env = "MCP_FEATURES",
     .metavar = "<list>",
     .type = OPT_STRING,
     .offset = FIELD(features),
     .def_str = "reference",
     .help = "comma-separated feature packs to serve"},
    {.flag = "--allowed-origins",
     .env = "ALLOWED_ORIGINS",
     .metavar = "<list>",
     .type = OPT_STRING,
     .offset = FIELD(allowed_origins),
     .def_text = "none",
     .help = "extra comma-separated origins accepted besides the server's own"},
    {.flag = "--log-level",
     .env = "LOG_LEVEL",
     .metavar = "<level>",
     .type = OPT_STRING,
     .offset = FIELD(log_level),
     .def_str = "info",
     .help = "least severe level logged: debug, info, warn or error"},
    {.flag = "--session-ttl-ms",
     .env = "SESSION_TTL_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(session_ttl_ms),
     .min = 1,
     .max = MS_MAX,
     .def_num = 300000,
     .help = "idle time after which a session ends"},
    {.flag = "--event-log-max",
     .env = "EVENT_LOG_MAX",
     .metavar = "<n>",
     .type = OPT_SIZE,
     .offset = FIELD(event_log_max),
     .min = 0,
     .max = 1000000,
     .def_num = 256,
     .help = "events kept per stream for resumption"},
    {.flag = "--sse-retry-ms",
     .env = "SSE_RETRY_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(sse_retry_ms),
     .min = 0,
     .max = MS_MAX,
     .def_num = 1000,
     .help = "reconnection delay suggested to SSE clients"},
    {.flag = "--shutdown-grace-ms",
     .env = "SHUTDOWN_GRACE_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(shutdown_grace_ms),
     .min = 0,
     .max = MS_MAX,
     .def_num = 5000,
     .help = "time in-flight requests get to finish on shutdown"},
    {.flag = "--request-timeout-ms",
     .env = "REQUEST_TIMEOUT_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(request_timeout_ms),
     .min = 1,
     .max = MS_MAX,
     .def_num = 60000,
     .help = "how long a server-to-client request waits for its answer"},
    {.flag = "--timer-scale-percent",
     .env = "TIMER_SCALE_PERCENT",
     .metavar = "<pct>",
     .type = OPT_UINT,
     .offset = FIELD(timer_scale_percent),
     .min = 1,
     .max = 100000,
     .def_num = 100,
     .help = "periods of the features' periodic notifications, in percent (tests shorten them)"},
    {.flag = "--response-mode",
     .env = "RESPONSE_MODE",
     .metavar = "<mode>",
     .type = OPT_STRING,
     .offset = FIELD(response_mode),
     .def_str = "auto",
     .help = "POST answers: json, sse, or auto (SSE for clients that send no MCP-Protocol-Version, "
             "as the reference server does)"},
    {.flag = "--access-token-ttl-s",
     .env = "ACCESS_TOKEN_TTL_S",
     .metavar = "<s>",
     .type = OPT_U64,
     .offset = FIELD(access_token_ttl_s),
     .min = 1,
     .max = 31536000,
     .def_num = 3600,
     .help = "lifetime of access tokens"},
    {.flag = "--refresh-token-ttl-s",
     .env = "REFRESH_TOKEN_TTL_S",
     .metavar = "<s>",
     .type = OPT_U64,
     .offset = FIELD(refresh_token_ttl_s),
     .min = 1,
     .max = 31536000,
     .def_num = 604800,
     .help = "lifetime of refresh tokens"},
    {.flag = "--auth-code-ttl-s",
     .env = "AUTH_CODE_TTL_S",
     .metavar = "<s>",
     .type = OPT_U64,
     .offset = FIELD(code_ttl_s),
     .min = 1,
     .max = 86400,
     .def_num = 600,
     .help = "lifetime of authorization codes"},
    {.flag = "--client-ttl-s",
     .env = "CLIENT_TTL_S",
     .metavar = "<s>",
     .type = OPT_U64,
     .offset = FIELD(client_ttl_s),
     .min = 1,
     .max = 315360000,
     .def_num = 2592000,
     .help = "lifetime of dynamic client registrations and their secrets"},
    {.flag = "--unused-client-ttl-s",
     .env = "UNUSED_CLIENT_TTL_S",
     .metavar = "<s>",
     .type = OPT_U64,
     .offset = FIELD(unused_client_ttl_s),
     .min = 1,
     .max = 315360000,
     .def_num = 86400,
     .help = "lifetime of a registration until its first token exchange (then CLIENT_TTL_S from "
             "registration; capped by it)"},
    {.flag = "--max-clients",
     .env = "MAX_CLIENTS",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_clients),
     .min = 1,
     .max = 100000000,
     .def_num = 10000,
     .help = "live client registrations (shared through the store); more are refused with 503 "
             "temporarily_unavailable"},
    {.flag = "--max-registration-bytes",
     .env = "MAX_REGISTRATION_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(max_registration_bytes),
     .min = 256,
     .max = 1 * MIB,
     .def_num = 16384,
     .help = "body of one /register request; larger ones get 413 invalid_client_metadata"},
    {.flag = "--introspection-cache-ms",
     .env = "INTROSPECTION_CACHE_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(introspection_cache_ms),
     .min = 0,
     .max = 3600000,
     .def_num = 60000,
     .help = "how long the MCP role caches an introspection result (never past the token's exp)"},
    {.flag = "--auth-check-interval-ms",
     .env = "AUTH_CHECK_INTERVAL_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(auth_check_interval_ms),
     .min = 100,
     .max = MS_MAX,
     .def_num = 3000,
     .help = "how often the MCP role re-checks an unreachable authorization server"},
    /* Client ID Metadata Documents: HTTPS client_id URLs the authorization server fetches. */
    {.flag = "--cimd",
     .env = "CIMD",
     .metavar = "<0|1>",
     .type = OPT_UINT,
     .offset = FIELD(cimd_enabled),
     .min = 0,
     .max = 1,
     .def_num = 1,
     .help = "accept https client_id URLs naming a Client ID Metadata Document, fetched by the "
             "authorization server (0: only registered clients)"},
    {.flag = "--cimd-timeout-ms",
     .env = "CIMD_TIMEOUT_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(cimd_timeout_ms),
     .min = 100,
     .max = 60000,
     .def_num = 5000,
     .help = "time allowed to fetch a client metadata document, connection included"},
    {.flag = "--cimd-max-bytes",
     .env = "CIMD_MAX_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(cimd_max_bytes),
     .min = 256,
     .max = 65536,
     .def_num = 5120,
     .help = "largest client metadata document accepted"},
    {.flag = "--cimd-cache-s",
     .env = "CIMD_CACHE_S",
     .metavar = "<s>",
     .type = OPT_U64,
     .offset = FIELD(cimd_cache_s),
     .min = 0,
     .max = 86400,
     .def_num = 300,
     .help = "how long a client metadata document is cached when its response has no "
             "Cache-Control max-age (no-store, no-cache and max-age=0 are not cached)"},
    {.flag = "--cimd-cache-max-s",
     .env = "CIMD_CACHE_MAX_S",
     .metavar = "<s>",
     .type = OPT_U64,
     .offset = FIELD(cimd_cache_max_s),
     .min = 0,
     .max = 604800,
     .def_num = 3600,
     .help = "longest a client metadata document is cached, whatever its max-age says"},
    {.flag = "--cimd-ca-file",
     .env = "CIMD_CA_FILE",
     .metavar = "<file>",
     .type = OPT_STRING,
     .offset = FIELD(cimd_ca_file),
     .def_text = "the system's CA certificates",
     .help = "PEM CA certificates that client metadata document servers are verified with"},
    {.flag = "--cimd-allow-private",
     .env = "CIMD_ALLOW_PRIVATE",
     .metavar = "<0|1>",
     .type = OPT_UINT,
     .offset = FIELD(cimd_allow_private),
     .min = 0,
     .max = 1,
     .def_num = 0,
     .help = "UNSAFE, for tests only: let client metadata documents be fetched from loopback, "
             "private and link-local addresses (server-side request forgery)"},
    /* MCP-level bounds: what one user, session or request may make the server hold. */
    {.flag = "--max-sessions-per-user",
     .env = "MAX_SESSIONS_PER_USER",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_sessions_per_user),
     .min = 0,
     .max = 1000000,
     .def_num = 100,
     .help = "live sessions one user (token subject) may hold across all instances; initialize "
             "past it is 429 (0: no limit)"},
    {.flag = "--max-calls-per-session",
     .env = "MAX_CALLS_PER_SESSION",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_calls_per_session),
     .min = 1,
     .max = 100000,
     .def_num = 16,
     .help = "requests of one session waiting (timers, the client) on this instance; more are "
             "refused with -32000"},
    {.flag = "--max-calls",
     .env = "MAX_CALLS",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_calls),
     .min = 1,
     .max = 10000000,
     .def_num = 1000,
     .help = "requests in flight in this process; more are refused with -32000"},
    {.flag = "--max-call-duration-ms",
     .env = "MAX_CALL_DURATION_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(max_call_duration_ms),
     .min = 1,
     .max = MS_MAX,
     .def_num = 900000,
     .help = "a request still running after this is answered -32603 and released"},
    {.flag = "--max-tool-steps",
     .env = "MAX_TOOL_STEPS",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_tool_steps),
     .min = 1,
     .max = 10000000,
     .def_num = 10000,
     .help = "largest steps argument of longRunningOperation (its duration is bounded by "
             "MAX_CALL_DURATION_MS)"},
    {.flag = "--task-ttl-ms",
     .env = "TASK_TTL_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(task_ttl_ms),
     .min = 1000,
     .max = MS_MAX,
     .def_num = 3600000,
     .help = "how long a task (tasks extension) and its result stay readable with tasks/get; a "
             "task still running then is ended"},
    {.flag = "--max-tasks-per-user",
     .env = "MAX_TASKS_PER_USER",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_tasks_per_user),
     .min = 1,
     .max = 1000000,
     .def_num = 100,
     .help = "unexpired tasks one user may hold across all instances; a tools/call that would "
             "create another is refused with -32000"},
    {.flag = "--max-task-result-bytes",
     .env = "MAX_TASK_RESULT_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(max_task_result_bytes),
     .min = 1024,
     .max = 64 * 1024 * 1024,
     .def_num = 1048576,
     .help = "largest result a task stores; a larger one fails the task with -32603"},
    {.flag = "--max-id-bytes",
     .env = "MAX_ID_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(max_id_bytes),
     .min = 16,
     .max = 4096,
     .def_num = 256,
     .help = "largest request id or progressToken, as JSON; past it the message is refused (400)"},
    {.flag = "--max-capabilities-bytes",
     .env = "MAX_CAPABILITIES_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(max_capabilities_bytes),
     .min = 64,
     .max = 64 * MIB,
     .def_num = 65536,
     .help = "largest client capabilities object at initialize, as JSON; past it 400 -32602"},
    {.flag = "--max-subscriptions",
     .env = "MAX_SUBSCRIPTIONS",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_subscriptions),
     .min = 1,
     .max = 1000000,
     .def_num = 100,
     .help = "resource subscriptions per session; more are refused with -32000"},
    {.flag = "--max-listen-streams",
     .env = "MAX_LISTEN_STREAMS",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_listen_streams),
     .min = 1,
     .max = 100000,
     .def_num = 16,
     .help = "subscriptions/listen streams one user may hold open on this instance (2026-07-28); "
             "more are 429 -32000"},
    {.flag = "--max-uri-bytes",
     .env = "MAX_URI_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(max_uri_bytes),
     .min = 16,
     .max = MIB,
     .def_num = 2048,
     .help = "longest resource URI a session may subscribe to; longer is -32602"},
    {.flag = "--max-batch-entries",
     .env = "MAX_BATCH_ENTRIES",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(max_batch_entries),
     .min = 1,
     .max = 1000000,
     .def_num = 100,
     .help = "messages in one JSON-RPC batch; more is 400 -32600"},
    {.flag = "--max-batch-response-bytes",
     .env = "MAX_BATCH_RESPONSE_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(max_batch_response_bytes),
     .min = 1024,
     .max = 1024 * MIB,
     .def_num = 4 * MIB,
     .help = "answers of one batch, as JSON; answers past it are replaced by a -32603 error"},
    {.flag = "--event-log-entry-max-bytes",
     .env = "EVENT_LOG_ENTRY_MAX_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(event_log_entry_max_bytes),
     .min = 256,
     .max = 64 * MIB,
     .def_num = 65536,
     .help = "largest SSE event kept in full for resumption; a larger response is replayed as a "
             "-32603 error, a larger notification not at all"},
    {.flag = "--rate-limit-mcp",
     .env = "RATE_LIMIT_MCP",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(rate_limit_mcp),
     .min = 0,
     .max = 100000000,
     .def_num = 0,
     .help = "requests per minute per client IP on /mcp, /sse, /message (0: no limit)"},
    {.flag = "--rate-limit-static",
     .env = "RATE_LIMIT_STATIC",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(rate_limit_static),
     .min = 0,
     .max = 100000000,
     .def_num = 500,
     .help = "requests per minute per client IP for the splash page and its assets (0: no limit)"},
    {.flag = "--rate-limit-authorize",
     .env = "RATE_LIMIT_AUTHORIZE",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(rate_limit_authorize),
     .min = 0,
     .max = 100000000,
     .def_num = 200,
     .help =
         "requests per minute per client IP on /authorize and the mock IdP pages (0: no limit)"},
    {.flag = "--rate-limit-token",
     .env = "RATE_LIMIT_TOKEN",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(rate_limit_token),
     .min = 0,
     .max = 100000000,
     .def_num = 1200,
     .help = "requests per minute per client IP on /token, /revoke and /introspect (0: no limit)"},
    {.flag = "--rate-limit-register",
     .env = "RATE_LIMIT_REGISTER",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(rate_limit_register),
     .min = 0,
     .max = 100000000,
     .def_num = 60,
     .help = "client registrations per minute per client IP (0: no limit)"},
    {.flag = "--max-header-bytes",
     .env = "MAX_HEADER_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(limits.max_header_bytes),
     .min = 1,
     .max = 64 * MIB,
     .def_num = HTTP_DEFAULT_MAX_HEADER_BYTES,
     .help = "request line and headers of one HTTP request"},
    {.flag = "--max-headers",
     .env = "MAX_HEADERS",
     .metavar = "<n>",
     .type = OPT_SIZE,
     .offset = FIELD(limits.max_headers),
     .min = 1,
     .max = 10000,
     .def_num = HTTP_DEFAULT_MAX_HEADERS,
     .help = "header fields in one HTTP request"},
    {.flag = "--max-body-bytes",
     .env = "MAX_BODY_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(limits.max_body_bytes),
     .min = 1,
     .max = 1024 * MIB,
     .def_num = HTTP_DEFAULT_MAX_BODY_BYTES,
     .help = "body of one HTTP request"},
    {.flag = "--max-connections",
     .env = "MAX_CONNECTIONS",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(limits.max_connections),
     .min = 1,
     .max = 1000000,
     .def_num = HTTP_DEFAULT_MAX_CONNECTIONS,
     .help = "open connections; more are closed at once"},
    {.flag = "--max-connections-per-client",
     .env = "MAX_CONNECTIONS_PER_CLIENT",
     .metavar = "<n>",
     .type = OPT_UINT,
     .offset = FIELD(limits.max_connections_per_client),
     .min = 1,
     .max = 1000000,
     .def_num = HTTP_DEFAULT_MAX_CONN_PER_CLIENT,
     .help = "open connections from one client address (IPv6: per /56); more are closed at once"},
    {.flag = "--header-timeout-ms",
     .env = "HEADER_TIMEOUT_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(limits.header_timeout_ms),
     .min = 1,
     .max = MS_MAX,
     .def_num = HTTP_DEFAULT_HEADER_TIMEOUT_MS,
     .help = "time a client gets to send a request's headers"},
    {.flag = "--http-request-timeout-ms",
     .env = "HTTP_REQUEST_TIMEOUT_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(limits.request_timeout_ms),
     .min = 1,
     .max = MS_MAX,
     .def_num = HTTP_DEFAULT_REQUEST_TIMEOUT_MS,
     .help = "time a client gets to send a whole request"},
    {.flag = "--idle-timeout-ms",
     .env = "IDLE_TIMEOUT_MS",
     .metavar = "<ms>",
     .type = OPT_U64,
     .offset = FIELD(limits.idle_timeout_ms),
     .min = 1,
     .max = MS_MAX,
     .def_num = HTTP_DEFAULT_IDLE_TIMEOUT_MS,
     .help = "keep-alive connection without a request"},
    {.flag = "--sse-max-queued-bytes",
     .env = "SSE_MAX_QUEUED_BYTES",
     .metavar = "<bytes>",
     .type = OPT_SIZE,
     .offset = FIELD(limits.stream_max_queued_bytes),
     .min = 1,
     .max = 1024 * MIB,
     .def_num = HTTP_DEFAULT_STREAM_MAX_QUEUED,
     .help = "unsent bytes a slow stream may queue before it is cut"},
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

static const struct {
    const char *word;
    enum config_role role;
    const char *help;
} roles[] = {
    {"mcp", ROLE_MCP,
     "MCP resource server (the default): on /mcp (Streamable HTTP) the MCP revisions "
     "2024-11-05, 2025-03-26, 2025-06-18 and 2025-11-25 with sessions (initialize) and "
     "2026-07-28 stateless; the legacy HTTP+SSE transport on /sse and /message; /health, "
     "/metrics"},
    {"auth", ROLE_AUTH, "OAuth 2.1 authorization server and mock upstream identity provider"},
    {"all", ROLE_ALL, "both listeners in one process"},
};

__attribute__((format(printf, 3, 4))) static void config_error(char *err, size_t err_size,
                                                               const char *fmt, ...)
{
    if (!err || !err_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

static void *option_field(struct config *c, const struct option_def *o)
{
    return (char *)c + o->offset;
}

static int option_set_string(struct config *c, const struct option_def *o, const char *value)
{
    char **field = option_field(c, o);
    const char *v = *value ? value : o->def_str;
    char *copy = NULL;
    if (v && !(copy = strdup(v)))
        return -1;
    free(*field);
    *field = copy;
    return 0;
}

/* Plain decimal only: no sign, no spaces, no hex, no trailing junk, as the reference server's
 * parseInt would silently accept. */
static bool parse_decimal(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned digit = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

static void option_store_number(struct config *c, const struct option_def *o, uint64_t v)
{
    void *field = option_field(c, o);
    switch (o->type) {
    case OPT_PORT:
        *(int *)field = (int)v;
        break;
    case OPT_U64:
        *(uint64_t *)field = v;
        break;
    case OPT_SIZE:
        *(size_t *)field = (size_t)v;
        break;
    case OPT_UINT:
        *(unsigned *)field = (unsigned)v;
        break;
    case OPT_STRING:
    case OPT_AUTH_MODE:
        break;
    }
}

/* Apply one value from a source; where names the source for the error message. */
static int option_set(struct config *c, const struct option_def *o, const char *value,
                      const char *where, char *err, size_t err_size)
{
    uint64_t v = 0;
    switch (o->type) {
    case OPT_STRING:
        if (option_set_string(c, o, value) < 0) {
            config_error(err, err_size, "out of memory");
            return -1;
        }
        return 0;
    case OPT_AUTH_MODE:
        /* The reference server's AUTH_MODE also names auth flavours; only "none" turns checking
         * off. */
        *(bool *)option_field(c, o) = strcmp(value, "none") == 0;
        return 0;
    default:
        if (!parse_decimal(value, &v) || v < o->min || v > o->max) {
            config_error(err, err_size,
                         "invalid value '%.40s' for %s: expected a whole number from %llu to %llu",
                         value, where, (unsigned long long)o->min, (unsigned long long)o->max);
            return -1;
        }
        option_store_number(c, o, v);
        return 0;
    }
}

static void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->role = ROLE_MCP;
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].type != OPT_STRING && options[i].type != OPT_AUTH_MODE)
            option_store_number(c, &options[i], options[i].def_num);
}

static int config_default_strings(struct config *c)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].type == OPT_STRING && options[i].def_str &&
            option_set_string(c, &options[i], "") < 0)
            return -1;
    return 0;
}

static const struct option_def *option_by_env(const char *name)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].env && strcmp(options[i].env, name) == 0)
            return &options[i];
    return NULL;
}

static const struct option_def *option_by_flag(const char *flag, size_t len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].flag && strlen(options[i].flag) == len &&
            strncmp(options[i].flag, flag, len) == 0)
            return &options[i];
    return NULL;
}

/* Strip dotenv-style quotes from value in place. Double quotes expand \n, as dotenv does; an
 * unquoted value ends at '#' (a comment) and loses surrounding blanks. */
static char *dotenv_value(char *p)
{
    char q = *p;
    if (q == '"' || q == '\'' || q == '`') {
        char *close = p + 1;
        while (*close && !(*close == q && close[-1] != '\\'))
            close++;
        if (*close) {
            *close = '\0';
            char *w = ++p;
            for (const char *r = p; *r; r++) {
                if (q == '"' && r[0] == '\\' && r[1] == 'n') {
                    *w++ = '\n';
                    r++;
                } else {
                    *w++ = *r;
                }
            }
            *w = '\0';
            return p;
        }
    }
    p[strcspn(p, "#")] = '\0';
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        p[--n] = '\0';
    return p;
}

/* Split a .env line into key and value in place. false: blank, comment, or not an assignment
 * (dotenv skips those silently, so we do too). */
static bool dotenv_line(char *line, char **key, char **value)
{
    line[strcspn(line, "\r\n")] = '\0';
    char *p = line + strspn(line, " \t");
    if (*p == '#' || !*p)
        return false;
    if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
        p += 6 + strspn(p + 6, " \t");
    *key = p;
    p += strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
    if (p == *key)
        return false;
    char *end = p;
    p += strspn(p, " \t");
    if (*p != '=')
        return false;
    *end = '\0';
    p++;
    *value = dotenv_value(p + strspn(p, " \t"));
    return true;
}

/* ./.env, as dotenv loads it: a variable already in the environment wins, names mcpd does not
 * use are ignored (the file is shared with other tools), and a missing file is fine. */
static int config_load_dotenv(struct config *c, char *err, size_t err_size)
{
    FILE *f = fopen(".env", "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        config_error(err, err_size, "cannot read .env: %s", strerror(errno));
        return -1;
    }
    char *line = NULL, *key, *value;
    size_t cap = 0;
    int rc = 0;
    for (unsigned lineno = 1; rc == 0 && getline(&line, &cap, f) >= 0; lineno++) {
        if (!dotenv_line(line, &key, &value))
            continue;
        const struct option_def *o = option_by_env(key);
        if (!o || !*value || getenv(key))
            continue;
        char where[80];
        snprintf(where, sizeof where, "%s (.env line %u)", o->env, lineno);
        rc = option_set(c, o, value, where, err, err_size);
    }
    free(line);
    fclose(f);
    return rc;
}

/* An empty variable counts as unset, matching the reference server's `process.env.X || default`. */
static int config_load_env(struct config *c, char *err, size_t err_size)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *v = options[i].env ? getenv(options[i].env) : NULL;
        if (v && *v && option_set(c, &options[i], v, options[i].env, err, err_size) < 0)
            return -1;
    }
    return 0;
}

static int config_parse_role(struct config *c, const char *word, char *err, size_t err_size)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(roles[i].word, word) == 0) {
            c->role = roles[i].role;
            return 0;
        }
    }
    config_error(err, err_size, "unknown role '%.40s' (expected mcp, auth or all); see mcpd --help",
                 word);
    return -1;
}

static int config_parse_flag(struct config *c, int argc, char **argv, int *i, char *err,
                             size_t err_size)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    const struct option_def *o = option_by_flag(arg, name_len);
    if (!o) {
        config_error(err, err_size, "unknown option %.*s; see mcpd --help", (int)name_len, arg);
        return -1;
    }
    if (o->type == OPT_AUTH_MODE) {
        if (eq) {
            config_error(err, err_size, "option %s takes no value", o->flag);
            return -1;
        }
        *(bool *)option_field(c, o) = true;
        return 0;
    }
    const char *value = eq ? eq + 1 : NULL;
    /* "--port --host x" is a forgotten value, not a port named "--host". */
    if (!eq && *i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
        value = argv[++*i];
    if (!value) {
        config_error(err, err_size, "option %s needs a value; see mcpd --help", o->flag);
        return -1;
    }
    return option_set(c, o, value, o->flag, err, err_size);
}

static int config_load_args(struct config *c, int argc, char **argv, char *err, size_t err_size)
{
    int i = 1;
    if (argc > 1 && argv[1][0] != '-') {
        if (config_parse_role(c, argv[1], err, err_size) < 0)
            return -1;
        i = 2;
    }
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) == 0 && arg[2]) {
            if (config_parse_flag(c, argc, argv, &i, err, err_size) < 0)
                return -1;
        } else if (arg[0] == '-') {
            config_error(err, err_size, "unknown option %.40s; see mcpd --help", arg);
            return -1;
        } else {
            config_error(err, err_size,
                         "unexpected argument '%.40s' (a role must come first); see mcpd --help",
                         arg);
            return -1;
        }
    }
    return 0;
}

/* --help and --version answer whatever else is on the command line or in the environment, so a
 * bad setting never hides the help that would explain it. */
static bool config_wants_info(struct config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            c->show_help = true;
        else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
            c->show_version = true;
    }
    if (c->show_help || c->show_version)
        c->role = ROLE_NONE;
    return c->role == ROLE_NONE;
}

/* The issuer identifier is AUTH_SERVER_URL byte for byte in every document that names it (RFC
 * 8414 §3.3, RFC 9207 §2.4: clients compare it as a plain string). RFC 8414 §3.1 removes a
 * terminating '/' before building the metadata URL, so the canonical form has none: trailing
 * slashes are dropped here, once, whatever the operator wrote ("http://h:1/" is "http://h:1"). */
static void config_strip_trailing_slashes(char *url)
{
    const char *auth = strstr(url, "://");
    size_t min = auth ? (size_t)(auth - url) + 4 : 1; /* keep "x://" and one more byte */
    size_t n = strlen(url);
    while (n > min && url[n - 1] == '/')
        url[--n] = '\0';
}

/* URLs that default to the listeners' own addresses, filled once the ports are final. */
static int config_derived_defaults(struct config *c)
{
    char url[64];
    if (!c->base_uri) {
        snprintf(url, sizeof url, "http://localhost:%d", c->port);
        if (!(c->base_uri = strdup(url)))
            return -1;
    }
    if (!c->auth_server_url) {
        snprintf(url, sizeof url, "http://localhost:%d", c->auth_port);
        if (!(c->auth_server_url = strdup(url)))
            return -1;
    }
    config_strip_trailing_slashes(c->auth_server_url);
    return 0;
}

int config_load(struct config *c, int argc, char **argv, char *err, size_t err_size)
{
    config_defaults(c);
    if (config_default_strings(c) < 0)
        goto oom;
    if (config_wants_info(c, argc, argv))
        return config_derived_defaults(c) < 0 ? (config_free(c), -1) : 0;
    if (config_load_dotenv(c, err, err_size) < 0 || config_load_env(c, err, err_size) < 0 ||
        config_load_args(c, argc, argv, err, err_size) < 0)
        goto fail;
    if (config_derived_defaults(c) < 0)
        goto oom;
    return 0;
oom:
    config_error(err, err_size, "out of memory");
fail:
    config_free(c);
    return -1;
}

void config_free(struct config *c)
{
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (options[i].type == OPT_STRING) {
            char **field = option_field(c, &options[i]);
            free(*field);
            *field = NULL;
        }
    }
}

static void usage_option(FILE *out, const struct option_def *o)
{
    char head[48], dflt[48];
    if (o->flag && o->type == OPT_AUTH_MODE)
        snprintf(head, sizeof head, "%s", o->flag);
    else if (o->flag)
        snprintf(head, sizeof head, "%s %s", o->flag, o->metavar);
    else
        snprintf(head, sizeof head, "%s=%s", o->env, o->metavar);
    if (o->def_text)
        snprintf(dflt, sizeof dflt, "%s", o->def_text);
    else if (o->def_str)
        snprintf(dflt, sizeof dflt, "%s", o->def_str);
    else
        snprintf(dflt, sizeof dflt, "%llu", (unsigned long long)o->def_num);
    fprintf(out, "  %-31s %s\n", head, o->help);
    if (o->type == OPT_AUTH_MODE)
        fprintf(out, "  %-31s env %s=%s; default: %s\n", "", o->env, o->metavar, dflt);
    else if (o->flag)
        fprintf(out, "  %-31s env %s; default: %s\n", "", o->env, dflt);
    else
        fprintf(out, "  %-31s no flag; default: %s\n", "", dflt);
}

void config_usage(FILE *out, const char *prog)
{
    fprintf(out, "Usage: %s [mcp|auth|all] [options]\n\nRoles:\n", prog ? prog : "mcpd");
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        fprintf(out, "  %-6s %s\n", roles[i].word, roles[i].help);
    fprintf(out, "\nOptions. Each is read, weakest first, from its default, ./.env, the "
                 "environment\nvariable named below, then the flag.\n");
    for (size_t i = 0; i < OPTION_COUNT; i++)
        usage_option(out, &options[i]);
    fprintf(out, "  %-31s %s\n", "-h, --help", "print this help and exit");
    fprintf(out, "  %-31s %s\n", "-V, --version", "print the version and exit");
}
