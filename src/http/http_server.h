/*
 * http_server: an HTTP/1.1 server on libuv + llhttp. It owns listeners, connections, request
 * parsing and framing checks, the limits and timeouts of config.h, keep-alive, and the rule that
 * pipelined requests are answered in order (a connection parses its next request only after the
 * current one's response is complete). It hands each request to one application handler as an
 * exchange and knows nothing of routes' meaning, MCP or OAuth. Responses are written through
 * http_response.h.
 *
 * Exchange lifetime: the handler receives the exchange and must finish it exactly once, by
 * writing a complete response (http_respond*, or http_stream_end after http_stream_begin) or by
 * calling http_exchange_finish(). It may do so later, from any callback on the same loop. If the
 * client goes away first, the abort callback (if set) runs; the application must still finish
 * the exchange, and every write on it is then a no-op returning HTTP_ERR_CLOSED. Nothing on an
 * exchange may be touched after it is finished.
 *
 * Head hook (optional, http_server_set_head_hook): for a request that has a body (a
 * Content-Length above 0, or chunked), the server stops after the header section and hands the
 * exchange to the head hook instead of the handler, so the application can refuse it (say, a
 * missing bearer token) before a byte of the body is buffered. The request is complete but for
 * its body: body is "" and body_len 0. While the decision is pending the server reads at most
 * max_header_bytes + 64 KiB of further input and parses none of it; 100 Continue is not sent.
 * The hook, now or later from any callback on the loop, does exactly one of:
 *  - http_exchange_continue(): the body is read (100 Continue is sent now if the client asked),
 *    then the handler runs with this same exchange and the body filled in, and owns it as above.
 *    If the body never completes (client gone, request timeout, too large) the server answers
 *    or closes and frees the exchange itself: neither the handler nor the abort callback runs.
 *  - writes a complete response or calls http_exchange_finish(): that finishes the exchange;
 *    the body is never read, the response carries Connection: close, and the connection
 *    closes after it (input is drained and dropped for a moment so the client can read it).
 * A client that goes away while the decision is pending (or the request deadline passing, which
 * answers 408) makes the exchange closed and runs its abort callback, if set; the application
 * must still finish it (respond, http_exchange_finish, or http_exchange_continue, which then
 * only finishes it). Requests without a body, and every request when no hook is set, go straight
 * to the handler.
 */
#ifndef MCPD_HTTP_HTTP_SERVER_H
#define MCPD_HTTP_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct logger;

#define HTTP_OK         0
#define HTTP_ERR        (-1)
#define HTTP_ERR_CLOSED (-2) /* the connection is gone */
#define HTTP_ERR_OVERFLOW                                                                          \
    (-3)                    /* a stream's queued bytes passed the cap; the connection is closed */
#define HTTP_ERR_STATE (-4) /* call not allowed in the exchange's current state */

struct http_limits {
    size_t max_header_bytes;  /* request line + all header lines */
    size_t max_headers;       /* number of header fields */
    size_t max_body_bytes;    /* decoded body (Content-Length or chunked) */
    unsigned max_connections; /* accepted connections beyond this are closed at once */
    /* Open connections from one client (IPv4 address, IPv6 /56, see lib/netaddr.h); more from
     * it are closed at once, so one client cannot take every slot of max_connections. */
    unsigned max_connections_per_client;
    uint64_t header_timeout_ms;     /* first byte of a request until its headers are complete */
    uint64_t request_timeout_ms;    /* first byte of a request until its body is complete */
    uint64_t idle_timeout_ms;       /* keep-alive: a connection with no request in progress */
    size_t stream_max_queued_bytes; /* unsent bytes a streaming response may queue */
};

/* Defaults used when a limit is 0. */
#define HTTP_DEFAULT_MAX_HEADER_BYTES    (16 * 1024)
#define HTTP_DEFAULT_MAX_HEADERS         100
#define HTTP_DEFAULT_MAX_BODY_BYTES      (4 * 1024 * 1024)
#define HTTP_DEFAULT_MAX_CONNECTIONS     16384
#define HTTP_DEFAULT_MAX_CONN_PER_CLIENT 256
#define HTTP_DEFAULT_HEADER_TIMEOUT_MS   10000
#define HTTP_DEFAULT_REQUEST_TIMEOUT_MS  30000
#define HTTP_DEFAULT_IDLE_TIMEOUT_MS     60000
#define HTTP_DEFAULT_STREAM_MAX_QUEUED   (1024 * 1024)

struct http_header {
    const char *name;  /* NUL-terminated, as received */
    const char *value; /* NUL-terminated, surrounding whitespace trimmed */
};

struct http_request {
    const char *method; /* "GET", "POST", ... */
    const char *target; /* the request-target as received */
    const char *path;   /* target up to '?', not decoded */
    const char *query;  /* after '?', not decoded; NULL when absent */
    const struct http_header *headers;
    size_t header_count;
    const char *body; /* NUL-terminated (NUL not counted); "" when there is none */
    size_t body_len;
    const char *remote_addr; /* peer IP address as text */
    int http_minor;          /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    uint64_t received_ms;    /* loop time when the request was complete */
};

struct http_server;
struct http_exchange;

typedef void (*http_handler_fn)(struct http_exchange *ex, void *arg);
typedef void (*http_abort_fn)(struct http_exchange *ex, void *arg);
typedef void (*http_head_fn)(struct http_exchange *ex, void *arg);

/* Create a server on the loop. Limits of 0 take the defaults above. The logger may be NULL. */
struct http_server *http_server_new(uv_loop_t *loop, const struct http_limits *limits,
                                    struct logger *log, http_handler_fn handler, void *arg);
/* Status hook (optional): runs once for every response head written, with the exchange's
 * request (NULL for input refused before it became a request: framing errors, limits,
 * timeouts) and the status. For counters; it must not touch the exchange. */
typedef void (*http_status_fn)(void *arg, const struct http_request *req, int status);
void http_server_set_status_hook(struct http_server *s, http_status_fn fn, void *arg);

/* Set the head hook (see the top of this file); fn NULL removes it. Applies to connections
 * accepted afterwards: set it before listening. */
void http_server_set_head_hook(struct http_server *s, http_head_fn fn, void *arg);
/* Listen on host:port (IPv4 or IPv6 literal, or "localhost"). Returns 0 or a negative libuv
 * error. May be called more than once for several addresses. port 0 picks a free port; see
 * http_server_port. */
int http_server_listen(struct http_server *s, const char *host, int port);
int http_server_port(const struct http_server *s); /* the first listener's port */
/* Listen on host:port, and when host is 127.0.0.1 with a fixed port also on [::1]:port, since
 * "localhost" (the default BASE_URI host) may resolve to ::1 first. The second bind may fail
 * (no IPv6) without failing the call. */
int http_server_listen_host(struct http_server *s, const char *host, int port);
/* A header added to every response of this server (security headers). Copied. */
void http_server_add_default_header(struct http_server *s, const char *name, const char *value);
/* Graceful close: stop accepting, close idle connections, let in-flight exchanges finish (or
 * drop them after grace_ms), then call done. The server is freed after done returns. */
void http_server_shutdown(struct http_server *s, uint64_t grace_ms, void (*done)(void *arg),
                          void *arg);
/* Open connections right now (for /health and the benchmarks). */
unsigned http_server_connection_count(const struct http_server *s);

const struct http_request *http_exchange_request(const struct http_exchange *ex);
/* Case-insensitive lookup of the first header with this name; NULL if absent. */
const char *http_request_header(const struct http_request *req, const char *name);
/* Whether Content-Type names this media type (RFC 9110 §8.3.1: type/subtype, any case, then
 * optional whitespace and parameters): "application/json; charset=utf-8" is application/json,
 * "application/jsonx" and "text/plain, application/json" are not. */
bool http_request_media_type_is(const struct http_request *req, const char *type);
/* The reason phrase of a status code ("Not Found"); "Unknown" for one mcpd never sends. */
const char *http_status_reason(int status);
/* Number of header fields with this name (to refuse duplicates where it matters). */
size_t http_request_header_count(const struct http_request *req, const char *name);
/* Copy the percent-decoded ('+' as space) value of a query parameter into out. Returns the
 * number of occurrences of the parameter (0 when absent), or -1 if the value does not fit or is
 * badly encoded. */
int http_request_query_param(const struct http_request *req, const char *name, char *out,
                             size_t out_size);

void http_exchange_set_abort(struct http_exchange *ex, http_abort_fn fn, void *arg);
/* An EOF from the client before the answer is complete aborts the exchange (its abort callback
 * runs), instead of being taken for a half-close whose request is still answered: for a protocol
 * in which a client that goes away cancels its request. */
void http_exchange_abort_on_eof(struct http_exchange *ex);
/* Finish without (further) output: closes the connection if a response was started and not
 * ended, or if nothing was sent at all. */
void http_exchange_finish(struct http_exchange *ex);
bool http_exchange_closed(const struct http_exchange *ex);
/* From the head hook's decision: read the body, allowing at most max_body bytes (0: the
 * server's max_body_bytes; a larger value is capped by it), then run the handler. A body past
 * max_body is refused with 413 and the exchange is freed by the server. On an exchange that is
 * closed this only finishes it. No-op when the body is not pending. */
void http_exchange_continue(struct http_exchange *ex, size_t max_body);
/* True while the head hook holds the exchange (its body not read yet). */
bool http_exchange_body_pending(const struct http_exchange *ex);
/* Application data for this exchange (one pointer), freed with free_fn (may be NULL) when the
 * exchange is freed, whoever frees it. Carries a head-stage decision over to the handler. */
void http_exchange_set_data(struct http_exchange *ex, void *data, void (*free_fn)(void *data));
void *http_exchange_data(const struct http_exchange *ex);
/* An id unique within the process, for logs. */
uint64_t http_exchange_id(const struct http_exchange *ex);
uv_loop_t *http_exchange_loop(const struct http_exchange *ex);

#endif
