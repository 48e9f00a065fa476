/*
 * http_response: writing responses on an exchange (see http_server.h for the lifetime rules).
 * Complete responses with a body, chunked streams, and the SSE writer on top of them. Status
 * lines, Content-Length, chunk framing, Connection: close and the server's default headers are
 * handled here; the application only names status, headers and body. Errors that mcpd answers
 * with a JSON body are built with http_respond_json so that every error body is JSON.
 */
#ifndef MCPD_HTTP_HTTP_RESPONSE_H
#define MCPD_HTTP_HTTP_RESPONSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_server.h"

/* Add a response header; only before the response starts. Name and value are copied. */
int http_response_header(struct http_exchange *ex, const char *name, const char *value);
/* Ask for the connection to be closed after this response. */
void http_response_close_after(struct http_exchange *ex);

/* Complete responses. These finish the exchange. The body is copied. content_type may be NULL
 * (no Content-Type header). */
int http_respond(struct http_exchange *ex, int status, const char *content_type, const char *body,
                 size_t len);
/* Serialize with json_serialize (JavaScript number formatting). Steals the reference to body. */
int http_respond_json(struct http_exchange *ex, int status, json_t *body);
/* No body (Content-Length: 0, or none for 204/304). */
int http_respond_empty(struct http_exchange *ex, int status);
/* RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset (seconds to the window's end) and their
 * X-RateLimit-* twins; nothing when limit is 0 (no limiter counted the request). */
void http_rate_limit_headers(struct http_exchange *ex, unsigned limit, unsigned remaining,
                             uint64_t reset_s);
/* 429 with Retry-After and {"error":"too_many_requests","error_description":description}. */
int http_respond_rate_limited(struct http_exchange *ex, uint64_t reset_s, const char *description);

/* Chunked streaming responses. begin sends the head at once; write sends one chunk; end sends
 * the last chunk and finishes the exchange. write returns HTTP_ERR_OVERFLOW (and closes the
 * connection) when the unsent bytes queued on this connection pass the stream cap: a slow
 * reader is cut off rather than allowed to grow memory. */
int http_stream_begin(struct http_exchange *ex, int status, const char *content_type);
int http_stream_write(struct http_exchange *ex, const char *data, size_t len);
int http_stream_end(struct http_exchange *ex);
size_t http_stream_queued_bytes(const struct http_exchange *ex);

/* Server-Sent Events on a chunked stream. sse_begin adds Content-Type: text/event-stream and
 * Cache-Control: no-cache (unless the exchange already has a Cache-Control) and begins the
 * stream. Each event is written as one chunk:
 * "id: <id>\nevent: <event>\ndata: <line>\n...\n\n"; id and event are omitted when NULL, data
 * containing newlines is split over several data: lines. */
int http_sse_begin(struct http_exchange *ex, int status);
int http_sse_event(struct http_exchange *ex, const char *id, const char *event, const char *data,
                   size_t len);
int http_sse_retry(struct http_exchange *ex, uint64_t retry_ms);  /* "retry: N\n\n" */
int http_sse_comment(struct http_exchange *ex, const char *text); /* ": text\n\n" (heartbeat) */

#endif
