/* Response writing on an exchange: heads, complete bodies, chunked streams and SSE. */
#include "http/http_response.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "http/http_server_internal.h"
#include "lib/json.h"

/* RFC 9110 token characters, so an application cannot produce a malformed header name. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return false;
    }
    return true;
}

/* No CR, LF or other control characters: they would split the response (header injection). */
static bool is_field_value(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

int http_response_header(struct http_exchange *ex, const char *name, const char *value)
{
    if (ex->state != HTTP_EX_FRESH)
        return HTTP_ERR_STATE;
    if (ex->closed)
        return HTTP_ERR_CLOSED;
    if (!is_token(name) || !is_field_value(value))
        return HTTP_ERR;
    if (ex->resp_header_count == ex->resp_header_cap) {
        size_t cap = ex->resp_header_cap ? ex->resp_header_cap * 2 : 8;
        struct http_resp_header *h = realloc(ex->resp_headers, cap * sizeof *h);
        if (!h)
            return HTTP_ERR;
        ex->resp_headers = h;
        ex->resp_header_cap = cap;
    }
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return HTTP_ERR;
    }
    ex->resp_headers[ex->resp_header_count].name = n;
    ex->resp_headers[ex->resp_header_count].value = v;
    ex->resp_header_count++;
    return HTTP_OK;
}

void http_response_close_after(struct http_exchange *ex)
{
    ex->close_after = true;
}

enum body_framing {
    FRAME_LENGTH,  /* Content-Length */
    FRAME_CHUNKED, /* Transfer-Encoding: chunked */
    FRAME_RAW,     /* HTTP/1.0 stream: the body ends when the connection closes */
};

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* Status line, default headers, the application's headers, framing and Connection. */
/* Decimal digits of v into out (>= 21 bytes, not NUL-terminated); returns the length. */
static size_t format_decimal(char *out, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static int build_head(struct http_exchange *ex, struct buf *out, int status,
                      const char *content_type, enum body_framing framing, size_t len)
{
    if (status >= 400)
        http_exchange_log_refusal(ex, status);
    http_exchange_note_status(ex, status);
    char num[24];
    int rc = buf_append_str(out, "HTTP/1.1 ");
    if (rc == BUF_OK)
        rc = buf_append(out, num, format_decimal(num, (size_t)status));
    if (rc == BUF_OK)
        rc = buf_append_char(out, ' ');
    if (rc == BUF_OK)
        rc = buf_append_str(out, http_status_reason(status));
    if (rc == BUF_OK)
        rc = buf_append(out, "\r\n", 2);
    if (rc == BUF_OK && http_exchange_default_headers(ex, out) != 0)
        rc = BUF_ERR_NOMEM;
    for (size_t i = 0; rc == BUF_OK && i < ex->resp_header_count; i++)
        if (http_append_header(out, ex->resp_headers[i].name, ex->resp_headers[i].value) != 0)
            rc = BUF_ERR_NOMEM;
    if (rc == BUF_OK && content_type && is_field_value(content_type) &&
        http_append_header(out, "Content-Type", content_type) != 0)
        rc = BUF_ERR_NOMEM;
    if (rc == BUF_OK && framing == FRAME_LENGTH && status_has_body(status)) {
        size_t n = format_decimal(num, len);
        num[n] = '\0';
        if (http_append_header(out, "Content-Length", num) != 0)
            rc = BUF_ERR_NOMEM;
    } else if (rc == BUF_OK && framing == FRAME_CHUNKED)
        rc = buf_append_str(out, "Transfer-Encoding: chunked\r\n");
    if (framing == FRAME_RAW)
        ex->close_after = true;
    bool close = http_exchange_must_close(ex);
    if (rc == BUF_OK && close)
        rc = buf_append_str(out, "Connection: close\r\n");
    else if (rc == BUF_OK && ex->req.http_minor == 0)
        rc = buf_append_str(out, "Connection: keep-alive\r\n");
    if (rc == BUF_OK)
        rc = buf_append_str(out, "\r\n");
    return rc == BUF_OK ? HTTP_OK : HTTP_ERR;
}

/* A write on a connection that is gone still finishes the exchange, so the application's one
 * respond call is always its one finish. */
static int respond_closed(struct http_exchange *ex)
{
    ex->state = HTTP_EX_DONE;
    http_exchange_finish(ex);
    return HTTP_ERR_CLOSED;
}

/* Send head + body (owned, may be NULL) as one write and finish the exchange. */
static int respond_owned(struct http_exchange *ex, int status, const char *content_type, char *body,
                         size_t len)
{
    struct buf head;
    buf_init(&head, 0);
    if (build_head(ex, &head, status, content_type, FRAME_LENGTH, len) != HTTP_OK) {
        buf_free(&head);
        free(body);
        http_exchange_finish(ex); /* nothing sent: the connection is closed */
        return HTTP_ERR;
    }
    if (ex->head_request || !status_has_body(status)) {
        free(body);
        body = NULL;
        len = 0;
    }
    size_t hlen = 0;
    char *h = buf_steal(&head, &hlen);
    int rc = http_exchange_write(ex, h, hlen, body, len);
    ex->state = HTTP_EX_DONE;
    http_exchange_finish(ex);
    return rc;
}

int http_respond(struct http_exchange *ex, int status, const char *content_type, const char *body,
                 size_t len)
{
    if (ex->state != HTTP_EX_FRESH)
        return HTTP_ERR_STATE;
    if (ex->closed)
        return respond_closed(ex);
    char *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy) {
            http_exchange_finish(ex);
            return HTTP_ERR;
        }
        memcpy(copy, body, len);
    }
    return respond_owned(ex, status, content_type, copy, len);
}

int http_respond_json(struct http_exchange *ex, int status, json_t *body)
{
    if (ex->state != HTTP_EX_FRESH) {
        json_decref(body);
        return HTTP_ERR_STATE;
    }
    if (ex->closed) {
        json_decref(body);
        return respond_closed(ex);
    }
    size_t len = 0;
    char *text = body ? json_serialize(body, &len) : NULL;
    json_decref(body);
    if (!text) {
        static const char fallback[] = "{\"error\":\"server_error\"}";
        return http_respond(ex, 500, "application/json", fallback, sizeof fallback - 1);
    }
    /* The serialized text is handed to the write as is: no copy of a big body. */
    return respond_owned(ex, status, "application/json", text, len);
}

int http_respond_empty(struct http_exchange *ex, int status)
{
    return http_respond(ex, status, NULL, NULL, 0);
}

int http_stream_begin(struct http_exchange *ex, int status, const char *content_type)
{
    if (ex->state != HTTP_EX_FRESH)
        return HTTP_ERR_STATE;
    if (ex->closed)
        return HTTP_ERR_CLOSED;
    /* HTTP/1.0 has no chunked coding: the body runs until the connection closes. */
    ex->raw_stream = ex->req.http_minor == 0;
    struct buf head;
    buf_init(&head, 0);
    if (build_head(ex, &head, status, content_type, ex->raw_stream ? FRAME_RAW : FRAME_CHUNKED,
                   0) != HTTP_OK) {
        buf_free(&head);
        return HTTP_ERR;
    }
    size_t hlen = 0;
    char *h = buf_steal(&head, &hlen);
    ex->state = HTTP_EX_STREAM;
    return http_exchange_write(ex, h, hlen, NULL, 0);
}

int http_stream_write(struct http_exchange *ex, const char *data, size_t len)
{
    if (ex->state != HTTP_EX_STREAM)
        return HTTP_ERR_STATE;
    if (ex->closed)
        return HTTP_ERR_CLOSED;
    if (len == 0 || ex->head_request)
        return HTTP_OK; /* an empty chunk would end the stream */
    if (http_exchange_queued(ex) + len > http_exchange_stream_cap(ex)) {
        http_exchange_cut(ex);
        return HTTP_ERR_OVERFLOW;
    }
    char prefix[24];
    int plen = ex->raw_stream ? 0 : snprintf(prefix, sizeof prefix, "%zx\r\n", len);
    size_t total = (size_t)plen + len + (ex->raw_stream ? 0 : 2);
    char *chunk = malloc(total);
    if (!chunk) {
        http_exchange_cut(ex);
        return HTTP_ERR;
    }
    memcpy(chunk, prefix, (size_t)plen);
    memcpy(chunk + plen, data, len);
    if (!ex->raw_stream) {
        chunk[(size_t)plen + len] = '\r';
        chunk[(size_t)plen + len + 1] = '\n';
    }
    return http_exchange_write(ex, chunk, total, NULL, 0);
}

int http_stream_end(struct http_exchange *ex)
{
    if (ex->state != HTTP_EX_STREAM)
        return HTTP_ERR_STATE;
    if (ex->closed)
        return respond_closed(ex);
    int rc = HTTP_OK;
    if (!ex->raw_stream && !ex->head_request) {
        char *last = strdup("0\r\n\r\n");
        rc = last ? http_exchange_write(ex, last, 5, NULL, 0) : HTTP_ERR;
    }
    ex->state = rc == HTTP_OK ? HTTP_EX_DONE : ex->state;
    http_exchange_finish(ex);
    return rc;
}

size_t http_stream_queued_bytes(const struct http_exchange *ex)
{
    return http_exchange_queued(ex);
}

int http_sse_begin(struct http_exchange *ex, int status)
{
    if (ex->state != HTTP_EX_FRESH)
        return HTTP_ERR_STATE;
    if (ex->closed)
        return HTTP_ERR_CLOSED;
    /* The application's own Cache-Control wins; a second one would contradict it. */
    bool has_cache_control = false;
    for (size_t i = 0; i < ex->resp_header_count; i++)
        has_cache_control |= strcasecmp(ex->resp_headers[i].name, "Cache-Control") == 0;
    int rc = has_cache_control ? HTTP_OK : http_response_header(ex, "Cache-Control", "no-cache");
    if (rc != HTTP_OK)
        return rc;
    return http_stream_begin(ex, status, "text/event-stream");
}

static bool has_newline(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

/* One data: line per line of data; SSE ends a line at CR, LF or CRLF (WHATWG §9.2.5). */
static int sse_append_data(struct buf *b, const char *data, size_t len)
{
    size_t i = 0;
    do {
        size_t start = i;
        while (i < len && data[i] != '\n' && data[i] != '\r')
            i++;
        if (buf_append_str(b, "data: ") != BUF_OK || buf_append(b, data + start, i - start) ||
            buf_append_char(b, '\n') != BUF_OK)
            return HTTP_ERR;
        if (i < len && data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
            i++;
        if (i < len)
            i++;
        else
            break;
    } while (true);
    return HTTP_OK;
}

int http_sse_event(struct http_exchange *ex, const char *id, const char *event, const char *data,
                   size_t len)
{
    if (has_newline(id) || has_newline(event))
        return HTTP_ERR; /* would forge fields of the event */
    struct buf b;
    buf_init(&b, 0);
    int rc = HTTP_OK;
    if (id && buf_printf(&b, "id: %s\n", id) != BUF_OK)
        rc = HTTP_ERR;
    if (rc == HTTP_OK && event && buf_printf(&b, "event: %s\n", event) != BUF_OK)
        rc = HTTP_ERR;
    if (rc == HTTP_OK)
        rc = sse_append_data(&b, data ? data : "", data ? len : 0);
    if (rc == HTTP_OK && buf_append_char(&b, '\n') != BUF_OK)
        rc = HTTP_ERR;
    if (rc == HTTP_OK)
        rc = http_stream_write(ex, b.data, b.len);
    buf_free(&b);
    return rc;
}

int http_sse_retry(struct http_exchange *ex, uint64_t retry_ms)
{
    char line[48];
    int n = snprintf(line, sizeof line, "retry: %llu\n\n", (unsigned long long)retry_ms);
    return http_stream_write(ex, line, (size_t)n);
}

int http_sse_comment(struct http_exchange *ex, const char *text)
{
    if (has_newline(text))
        return HTTP_ERR;
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_printf(&b, ": %s\n\n", text ? text : "") == BUF_OK ? HTTP_OK : HTTP_ERR;
    if (rc == HTTP_OK)
        rc = http_stream_write(ex, b.data, b.len);
    buf_free(&b);
    return rc;
}

static void add_number_header(struct http_exchange *ex, const char *name, uint64_t value)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, value);
    http_response_header(ex, name, text);
}

void http_rate_limit_headers(struct http_exchange *ex, unsigned limit, unsigned remaining,
                             uint64_t reset_s)
{
    if (limit == 0)
        return;
    /* IETF draft names (what the SDK limiters send) and the X- twins of express-rate-limit's
     * legacy headers, whose Reset is the window's end in Unix seconds rather than a delta. */
    add_number_header(ex, "RateLimit-Limit", limit);
    add_number_header(ex, "RateLimit-Remaining", remaining);
    add_number_header(ex, "RateLimit-Reset", reset_s);
    add_number_header(ex, "X-RateLimit-Limit", limit);
    add_number_header(ex, "X-RateLimit-Remaining", remaining);
    add_number_header(ex, "X-RateLimit-Reset", (uint64_t)time(NULL) + reset_s);
}

int http_respond_rate_limited(struct http_exchange *ex, uint64_t reset_s, const char *description)
{
    /* Retry-After of 0 would invite an immediate retry into the same window. */
    add_number_header(ex, "Retry-After", reset_s ? reset_s : 1);
    return http_respond_json(ex, 429,
                             json_pack("{s:s, s:s}", "error", "too_many_requests",
                                       "error_description",
                                       description ? description : "Too many requests"));
}
