/*
 * http_client: outbound HTTP(S) requests on the libuv loop, for introspection and metadata
 * fetches. It runs libcurl's multi interface in "socket action" mode: curl tells us which
 * sockets to watch (one uv_poll each) and when to wake it (one uv_timer), so requests never
 * block the loop and idle connections stay in the multi handle's pool for reuse. Each request
 * has a whole-request timeout and a cap on the response body, because the far end is a network
 * peer and nothing it sends may grow memory without bound. Knows nothing of OAuth or MCP.
 *
 * Lifetime: the client is a handle (libuv's word): http_client_close cancels what is in flight
 * and calls done once every libuv handle it owns is closed; the client is freed after done
 * returns. Each accepted request is a request: its callback runs exactly once, from the loop,
 * never from inside http_client_request. libcurl's global state is initialised by
 * http_client_new (curl_global_init, reference-counted by libcurl since 7.84 and thread-safe
 * there) and released when the client is freed, so no caller needs to know about it.
 */
#ifndef MCPD_HTTP_HTTP_CLIENT_H
#define MCPD_HTTP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct logger;
struct http_client;

/* Negative statuses handed to the callback instead of an HTTP status. */
#define HTTP_CLIENT_ERR          (-1) /* any other transport or protocol failure */
#define HTTP_CLIENT_ERR_TIMEOUT  (-2) /* timeout_ms passed before the response was complete */
#define HTTP_CLIENT_ERR_CONNECT  (-3) /* name resolution or TCP/TLS connection failed */
#define HTTP_CLIENT_ERR_TOO_BIG  (-4) /* the body passed max_response_bytes */
#define HTTP_CLIENT_ERR_CANCELED (-5) /* http_client_close ran first */
#define HTTP_CLIENT_ERR_ADDRESS  (-6) /* public_only: the host resolved to a non-public address */

#define HTTP_CLIENT_DEFAULT_TIMEOUT_MS 10000
#define HTTP_CLIENT_DEFAULT_MAX_BYTES  (1024 * 1024)
#define HTTP_CLIENT_MAX_IN_FLIGHT      4096 /* requests beyond this are refused */

struct http_client_req {
    const char *method;         /* "GET", "POST", ...; NULL means GET */
    const char *url;            /* http:// or https:// only; other schemes are refused */
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const char *body;           /* request body, or NULL */
    size_t body_len;            /* bytes of body */
    uint64_t timeout_ms;        /* whole request, connect included; 0: the default */
    size_t max_response_bytes;  /* body cap; 0: the default */
    /* For URLs a client hands us (SSRF hardening); all off by default. */
    bool https_only;     /* refuse http:// (the URL and any connection) */
    bool public_only;    /* connect only to public addresses (http_client_addr_public), checked
                          * on each address the name resolved to, and never through a proxy */
    const char *ca_file; /* PEM CA bundle to verify the server with; NULL: the system's */
    /* When set, the response's Cache-Control value (or "" if none) is written here, truncated to
     * cache_control_size, before the callback runs; the buffer must outlive the request. */
    char *cache_control;
    size_t cache_control_size;
};

struct sockaddr;
/* A globally routable unicast address: not loopback, private (RFC 1918, unique-local fc00::/7),
 * link-local, carrier-grade NAT, unspecified, multicast, broadcast, documentation or benchmark
 * ranges, nor an IPv4-mapped / NAT64 IPv6 form of one of those. */
bool http_client_addr_public(const struct sockaddr *sa);

/* status: the HTTP status (>= 100, any class: 4xx and 5xx are responses, not errors), or an
 * HTTP_CLIENT_ERR_*. body/len: the response body (NUL-terminated, "" when empty or on error),
 * borrowed for the duration of the callback. error: a short human text when status < 0 (safe to
 * log: it never contains request headers), NULL otherwise. */
typedef void (*http_client_fn)(void *arg, int status, const char *body, size_t len,
                               const char *error);

/* New client on the loop. The logger (may be NULL) must outlive the client. NULL on failure. */
struct http_client *http_client_new(uv_loop_t *loop, struct logger *log);
/* Start a request. Everything in req is copied before this returns. Returns 0 and later calls
 * cb exactly once; or returns -1 (bad arguments, a non-HTTP URL, too many requests in flight, out
 * of memory, client closing) and never calls cb. */
int http_client_request(struct http_client *c, const struct http_client_req *req, http_client_fn cb,
                        void *arg);
/* Requests started and not yet completed. */
size_t http_client_in_flight(const struct http_client *c);
/* Cancel every request in flight (each callback runs with HTTP_CLIENT_ERR_CANCELED before this
 * returns; new requests made from those callbacks are refused), close the pooled connections,
 * then call done(arg) from the loop once the libuv handles are closed. done may be NULL. */
void http_client_close(struct http_client *c, void (*done)(void *arg), void *arg);

#endif
