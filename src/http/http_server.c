/* HTTP/1.1 server: request parser with framing checks, connections, timeouts, exchanges. */
#include "http/http_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/form.h"
#include "lib/hashmap.h"
#include "http/http_server_internal.h"
#include "lib/log.h"
#include "lib/netaddr.h"

/* ============================== request parser ============================================ */

static struct http_parser *parser_of(llhttp_t *ll)
{
    return (struct http_parser *)ll->data;
}

static int parse_fail(struct http_parser *p, int status, const char *desc)
{
    if (!p->error_status) {
        p->error_status = status;
        p->error_desc = desc;
    }
    return HPE_USER;
}

/* Append to one of the request's bounded buffers; past its bound the request fails with
 * limit_status (431 for the head, 413 for the body). */
static int bounded_append(struct http_parser *p, struct buf *b, const char *at, size_t len,
                          int limit_status, const char *limit_desc)
{
    int rc = buf_append(b, at, len);
    if (rc == BUF_ERR_LIMIT)
        return parse_fail(p, limit_status, limit_desc);
    if (rc != BUF_OK)
        return parse_fail(p, 503, "out of memory");
    return 0;
}

static int head_append(struct http_parser *p, const char *at, size_t len)
{
    return bounded_append(p, &p->head, at, len, 431, "request header section too large");
}

static int on_message_begin(llhttp_t *ll)
{
    parser_of(ll)->started = true;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    p->target_bytes += len;
    if (p->target_bytes > HTTP_MAX_TARGET_BYTES)
        return parse_fail(p, 414, "request target too long");
    return head_append(p, at, len);
}

/* RFC 9110 §5.6.2 token characters: what a field name may contain. */
static bool is_token_char(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int on_url_complete(llhttp_t *ll)
{
    return head_append(parser_of(ll), "", 1);
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    if (p->headers_done) {
        /* Trailer fields are not kept, only counted against the header limit. */
        p->trailer_bytes += len;
        return p->trailer_bytes > p->max_header_bytes
                   ? parse_fail(p, 431, "request trailer section too large")
                   : 0;
    }
    if (!p->in_field) {
        if (p->field_count >= p->max_headers)
            return parse_fail(p, 431, "too many header fields");
        p->offsets[2 * p->field_count] = p->head.len;
        p->in_field = true;
    }
    return head_append(p, at, len);
}

static int on_header_field_complete(llhttp_t *ll)
{
    struct http_parser *p = parser_of(ll);
    if (p->headers_done)
        return 0;
    p->in_field = false;
    int rc = head_append(p, "", 1);
    p->offsets[2 * p->field_count + 1] = p->head.len;
    p->value_open = true;
    return rc;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    if (p->headers_done) {
        p->trailer_bytes += len;
        return p->trailer_bytes > p->max_header_bytes
                   ? parse_fail(p, 431, "request trailer section too large")
                   : 0;
    }
    /* llhttp 8.1 accepts obs-fold (RFC 9112 §5.2: a server must reject it or replace it with a
     * space); it hands the continuation line over as a new span, so a span whose preceding
     * blanks follow a line feed is one. */
    /* An empty value comes as an empty span, which may sit at the next line: not a fold. */
    const char *b = at;
    while (len > 0 && b > p->chunk_start && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
    char before = b > p->chunk_start ? b[-1] : p->last_nonblank;
    if (len > 0 && before == '\n')
        return parse_fail(p, 400, "obsolete line folding in a header field");
    return head_append(p, at, len);
}

/* The framing headers are checked here, field by field, because llhttp 8.1 accepts some
 * request-smuggling shapes (a coding before chunked, a repeated identical Content-Length in
 * some builds) and does not require Host. */
static int check_field(struct http_parser *p, const char *name, const char *value)
{
    /* llhttp 8.1 lets spaces into a name ("Content Length", or "Host " before the colon),
     * which RFC 9112 §5.1 forbids: another parser may read such a line differently. */
    if (!*name)
        return parse_fail(p, 400, "empty header field name");
    for (const unsigned char *n = (const unsigned char *)name; *n; n++) {
        if (!is_token_char(*n))
            return parse_fail(p, 400, "invalid character in a header field name");
    }
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        if ((*v < 0x20 && *v != '\t') || *v == 0x7f)
            return parse_fail(p, 400, "control character in a header value");
    }
    if (strcasecmp(name, "content-length") == 0) {
        if (++p->content_length_count > 1)
            return parse_fail(p, 400, "more than one Content-Length");
        if (!*value || strspn(value, "0123456789") != strlen(value))
            return parse_fail(p, 400, "invalid Content-Length");
    } else if (strcasecmp(name, "transfer-encoding") == 0) {
        /* Only a lone "chunked" is supported: other codings cannot be decoded, and a list
         * could hide a different framing from an intermediary. */
        if (++p->transfer_encoding_count > 1 || strcasecmp(value, "chunked") != 0)
            return parse_fail(p, 400, "unsupported Transfer-Encoding");
    } else if (strcasecmp(name, "host") == 0) {
        if (++p->host_count > 1)
            return parse_fail(p, 400, "more than one Host");
    } else if (strcasecmp(name, "expect") == 0) {
        p->expect_continue = strcasecmp(value, "100-continue") == 0;
    }
    return 0;
}

static int finish_value(struct http_parser *p)
{
    size_t start = p->offsets[2 * p->field_count + 1];
    /* llhttp strips leading whitespace only; the value is stored trimmed on both sides. */
    while (p->head.len > start &&
           (p->head.data[p->head.len - 1] == ' ' || p->head.data[p->head.len - 1] == '\t'))
        p->head.len--;
    int rc = head_append(p, "", 1);
    if (rc)
        return rc;
    p->value_open = false;
    const char *name = p->head.data + p->offsets[2 * p->field_count];
    const char *value = p->head.data + start;
    p->field_count++;
    return check_field(p, name, value);
}

static int on_header_value_complete(llhttp_t *ll)
{
    struct http_parser *p = parser_of(ll);
    if (p->headers_done || !p->value_open)
        return 0;
    return finish_value(p);
}

static int check_request_framing(struct http_parser *p)
{
    int major = llhttp_get_http_major(&p->ll);
    int minor = llhttp_get_http_minor(&p->ll);
    if (major != 1 || minor > 1)
        return parse_fail(p, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (minor == 1 && p->host_count == 0)
        return parse_fail(p, 400, "HTTP/1.1 request without Host");
    /* RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing. */
    if (minor == 0 && p->transfer_encoding_count)
        return parse_fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (p->transfer_encoding_count && p->content_length_count)
        return parse_fail(p, 400, "Content-Length with Transfer-Encoding");
    if (p->content_length_count && p->ll.content_length > p->max_body_bytes)
        return parse_fail(p, 413, "request body too large");
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    struct http_parser *p = parser_of(ll);
    if (p->value_open && finish_value(p))
        return -1;
    if (check_request_framing(p))
        return -1;
    p->headers_done = true;
    p->keep_alive = llhttp_should_keep_alive(ll) != 0;
    p->upgrade = ll->upgrade || llhttp_get_method(ll) == HTTP_CONNECT;
    bool has_body = (ll->flags & F_CHUNKED) || (p->content_length_count && ll->content_length > 0);
    if (p->pause_for_head && has_body && !p->upgrade) {
        /* Let the application look at the head before a byte of the body is buffered. */
        p->head_paused = true;
        return HPE_PAUSED;
    }
    return 0;
}

/* Check the bytes in [pos, end) against the CRLF still owed after a chunk's data. */
static int check_chunk_crlf(struct http_parser *p, const char *pos, const char *end)
{
    for (; p->chunk_crlf_owed > 0 && pos < end; pos++, p->chunk_crlf_owed--) {
        if (*pos != (p->chunk_crlf_owed == 2 ? '\r' : '\n'))
            return parse_fail(p, 400, "chunk data not followed by CRLF");
    }
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct http_parser *p = parser_of(ll);
    int rc = bounded_append(p, &p->body, at, len, 413, "request body too large");
    /* llhttp 8.1 does not require the CRLF after a chunk's data: "2\r\nabcdef" reads "cdef" as
     * the next chunk's size, so two parsers could disagree on where the body ends. When this
     * span completes the chunk (no bytes of it left), the next two bytes must be CRLF; they may
     * arrive in the next read, hence the count kept in the parser. */
    if (rc == 0 && (ll->flags & F_CHUNKED) && ll->content_length == 0) {
        p->chunk_crlf_owed = 2;
        rc = check_chunk_crlf(p, at + len, p->chunk_end);
    }
    return rc;
}

static int on_message_complete(llhttp_t *ll)
{
    /* Stop right after this request: the next one is parsed when this exchange is over. */
    return HPE_PAUSED;
}

int http_parser_init(struct http_parser *p, size_t max_header_bytes, size_t max_headers,
                     size_t max_body_bytes)
{
    memset(p, 0, sizeof *p);
    p->max_header_bytes = max_header_bytes;
    p->max_headers = max_headers;
    p->max_body_bytes = max_body_bytes;
    p->offsets = calloc(2 * (max_headers + 1), sizeof *p->offsets);
    if (!p->offsets)
        return -1;
    buf_init(&p->head, max_header_bytes);
    buf_init(&p->body, max_body_bytes);
    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_url_complete = on_url_complete;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_field_complete = on_header_field_complete;
    p->settings.on_header_value = on_header_value;
    p->settings.on_header_value_complete = on_header_value_complete;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    /* All lenient flags stay off (the llhttp default): they are the smuggling switches. */
    llhttp_init(&p->ll, HTTP_REQUEST, &p->settings);
    p->ll.data = p;
    return 0;
}

void http_parser_free(struct http_parser *p)
{
    buf_free(&p->head);
    buf_free(&p->body);
    free(p->offsets);
    p->offsets = NULL;
}

static void parser_reset_request(struct http_parser *p)
{
    buf_reset(&p->head);
    buf_reset(&p->body);
    p->field_count = 0;
    p->req_bytes = 0;
    p->trailer_bytes = 0;
    p->target_bytes = 0;
    p->chunk_crlf_owed = 0;
    p->started = p->headers_done = p->in_field = p->value_open = false;
    p->keep_alive = p->upgrade = p->expect_continue = p->head_paused = false;
    p->body.limit = p->max_body_bytes;
    p->content_length_count = p->transfer_encoding_count = p->host_count = 0;
}

void http_parser_next(struct http_parser *p)
{
    parser_reset_request(p);
    if (llhttp_get_errno(&p->ll) == HPE_PAUSED)
        llhttp_resume(&p->ll);
}

static enum http_parse_status parse_error(struct http_parser *p, llhttp_errno_t err)
{
    if (!p->error_status) {
        p->error_status = 400;
        /* llhttp's reasons are static strings. */
        const char *reason = llhttp_get_error_reason(&p->ll);
        p->error_desc = reason ? reason : llhttp_errno_name(err);
    }
    return HTTP_PARSE_ERROR;
}

enum http_parse_status http_parser_feed(struct http_parser *p, const char *data, size_t len,
                                        size_t *consumed)
{
    size_t total = 0;
    *consumed = 0;
    if (p->error_status)
        return HTTP_PARSE_ERROR;
    while (total < len) {
        size_t n = len - total;
        if (!p->headers_done) {
            /* Never let llhttp see more header bytes than the limit (+ the final CRLF), so a
             * header section that is too large is caught however llhttp splits its spans. */
            size_t budget = p->max_header_bytes + 2 - p->req_bytes;
            if (budget == 0)
                return parse_fail(p, 431, "request header section too large"), HTTP_PARSE_ERROR;
            if (n > budget)
                n = budget;
        }
        bool headers_before = p->headers_done;
        p->chunk_start = data + total;
        p->chunk_end = data + total + n;
        if (check_chunk_crlf(p, data + total, data + total + n) != 0)
            return HTTP_PARSE_ERROR;
        llhttp_errno_t err = llhttp_execute(&p->ll, data + total, n);
        size_t used = n;
        if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
            used = (size_t)(llhttp_get_error_pos(&p->ll) - (data + total));
        } else if (err != HPE_OK) {
            *consumed = total;
            return parse_error(p, err);
        }
        for (size_t i = used; i > 0; i--) {
            char ch = data[total + i - 1];
            if (ch != ' ' && ch != '\t') {
                p->last_nonblank = ch;
                break;
            }
        }
        total += used;
        *consumed = total;
        if (!headers_before && !p->headers_done)
            p->req_bytes += used;
        if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE)
            return p->head_paused ? HTTP_PARSE_HEAD : HTTP_PARSE_DONE;
    }
    if (!p->headers_done && p->req_bytes > p->max_header_bytes + 1)
        return parse_fail(p, 431, "request header section too large"), HTTP_PARSE_ERROR;
    return HTTP_PARSE_MORE;
}

int http_parser_take(struct http_parser *p, struct http_parsed *out)
{
    memset(out, 0, sizeof *out);
    out->headers = calloc(p->field_count + 1, sizeof *out->headers);
    if (!out->headers)
        return -1;
    /* An empty append allocates and NUL-terminates a buffer that never received data
     * (buf_steal alone leaves a fresh allocation unterminated). */
    if (buf_append(&p->head, "", 0) != BUF_OK || buf_append(&p->body, "", 0) != BUF_OK) {
        free(out->headers);
        out->headers = NULL;
        return -1;
    }
    /* The head buffer is handed over whole, so the offsets stay valid. */
    out->head = buf_steal(&p->head, NULL);
    out->body = buf_steal(&p->body, &out->body_len);
    if (!out->head || !out->body) {
        http_parsed_free(out);
        return -1;
    }
    for (size_t i = 0; i < p->field_count; i++) {
        out->headers[i].name = out->head + p->offsets[2 * i];
        out->headers[i].value = out->head + p->offsets[2 * i + 1];
    }
    out->header_count = p->field_count;
    out->method = llhttp_method_name((llhttp_method_t)llhttp_get_method(&p->ll));
    out->target = out->head;
    out->http_minor = llhttp_get_http_minor(&p->ll);
    out->keep_alive = p->keep_alive;
    out->upgrade = p->upgrade;
    return 0;
}

void http_parser_resume_body(struct http_parser *p, size_t max_body)
{
    if (!p->head_paused)
        return;
    p->head_paused = false;
    if (max_body && max_body < p->max_body_bytes)
        p->body.limit = max_body;
    if (p->content_length_count && p->ll.content_length > p->body.limit)
        parse_fail(p, 413, "request body too large");
    llhttp_resume(&p->ll);
}

int http_parser_take_body(struct http_parser *p, char **body, size_t *len)
{
    if (buf_append(&p->body, "", 0) != BUF_OK)
        return -1;
    *body = buf_steal(&p->body, len);
    return *body ? 0 : -1;
}

void http_parsed_free(struct http_parsed *r)
{
    free(r->head);
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

/* ============================== server and connections ==================================== */

#define READ_CHUNK (64 * 1024)
/* How long a closing connection drains input, so that the client gets to read the reply. */
#define LINGER_MS 2000
/* EOF during a stream: how long after the probe the peer must still be reading (half-closed). */
#define PROBE_MS 200
/* Refused connections come in floods: one log line, then at most one per interval. */
#define REFUSAL_LOG_INTERVAL_MS 10000
/* Pieces (heads, bodies, events) one connection may hold before the end of the iteration; one
 * more is written at once, with what is held, so a burst of events costs no more memory. */
#define FLUSH_PIECES 8

struct http_listener {
    uv_tcp_t tcp;
    struct http_server *server;
    struct http_listener *next;
};

struct http_server {
    uv_loop_t *loop;
    struct http_limits lim;
    struct logger *log;
    http_handler_fn handler;
    void *arg;
    http_head_fn head_fn;
    void *head_arg;
    http_status_fn status_fn; /* sees the status of every response head written */
    void *status_arg;
    struct http_listener *listeners;
    struct http_conn *conns;           /* doubly linked list of open connections */
    unsigned conn_count;               /* connections not yet freed */
    unsigned handles_closing;          /* listeners and refused sockets still closing */
    struct http_resp_header *defaults; /* headers added to every response */
    size_t default_count;
    uint64_t next_id;
    struct hashmap *per_client; /* client id (netaddr) -> open connections, as uintptr_t */
    uint64_t refusal_log_ms;    /* loop time of the last refusal log line */
    unsigned refused_unlogged;  /* connections refused since that line */
    bool refusal_logged;
    bool shutting_down;
    bool done_called;
    uv_timer_t grace_timer;
    /* Writes of one loop iteration leave together at its end (the check phase, right after the
     * poll that brought the requests): a client waiting on many connections is then woken once
     * per batch rather than once per answer, and on a machine where a wake-up is costly (a
     * virtual CPU) that was a fifth of the server's time. The idle handle keeps the poll from
     * sleeping while writes held by a timer or idle callback wait. */
    uv_check_t flush_check;
    uv_idle_t flush_idle;
    struct http_conn *flush_head; /* connections holding pieces, linked by flush_next */
    int final_handles;            /* handles closed at the end; the last one frees the server */
    void (*done)(void *arg);
    void *done_arg;
    char read_buf[READ_CHUNK]; /* shared: libuv calls alloc_cb and read_cb back to back */
};

enum conn_phase {
    CONN_IDLE,    /* between requests (keep-alive) */
    CONN_REQUEST, /* a request is being received */
    CONN_HEAD,    /* the head hook decides; the body waits */
    CONN_ACTIVE,  /* the application holds the exchange */
    CONN_LINGER,  /* reply sent, write side shut down, draining input until EOF */
    CONN_CLOSING, /* handles are closing */
};

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* the one timer: idle, header, request or linger deadline */
    uv_shutdown_t shutdown_req;
    struct http_server *server;
    struct http_conn *prev, *next;
    struct http_parser parser;
    struct buf in; /* received, not yet parsed (pipelined) bytes */
    struct http_exchange *ex;
    char remote_addr[48];
    char client_id[NETADDR_CLIENT_MAX]; /* what max_connections_per_client counts */
    bool client_counted;
    enum conn_phase phase;
    uint64_t req_start_ms; /* loop time when the current request's first byte was parsed */
    int open_handles;
    bool reading;
    bool processing; /* inside conn_process: a synchronous finish must not recurse */
    bool resume;     /* the timer was armed at 0 ms to parse buffered input */
    bool eof;
    bool probing; /* EOF during a stream: the probe is out, the timer checks the peer */
    bool continue_sent;
    /* Bytes written in this iteration, not yet handed to the socket (owned). */
    uv_buf_t held[FLUSH_PIECES];
    unsigned nheld;
    size_t held_bytes;
    struct http_conn *flush_prev, *flush_next;
    bool flush_queued;
};

/* What a uv_write still owns once the socket took only part of the bytes. */
struct http_write_req {
    uv_write_t req;
    struct http_conn *conn;
    char *owned[FLUSH_PIECES];
    unsigned nowned;
};

static void conn_process(struct http_conn *c);
static void conn_close(struct http_conn *c);
static void conn_drop_held(struct http_conn *c);
static void conn_flush(struct http_conn *c);
static void server_check_done(struct http_server *s);

static size_t conn_in_limit(const struct http_conn *c)
{
    return c->server->lim.max_header_bytes + READ_CHUNK;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    struct http_conn *c = h->data;
    out->base = c->server->read_buf;
    out->len = sizeof c->server->read_buf;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

/* Keep reading while input is small, so EOF is seen even during a long stream; stop when a
 * client pipelines more than the limits allow while its previous request is being served. */
static void conn_update_reading(struct http_conn *c)
{
    if (c->phase == CONN_CLOSING)
        return;
    bool want = !c->eof && (c->phase == CONN_LINGER || c->in.len < conn_in_limit(c));
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void on_conn_timer(uv_timer_t *t);
static bool conn_peer_reading(struct http_conn *c);

static void conn_arm_timer(struct http_conn *c)
{
    const struct http_limits *lim = &c->server->lim;
    uint64_t now = uv_now(c->server->loop), timeout = 0;
    switch (c->phase) {
    case CONN_IDLE:
        timeout = c->resume ? 0 : lim->idle_timeout_ms;
        break;
    case CONN_HEAD:
    case CONN_REQUEST: {
        if (c->resume) {
            timeout = 0;
            break;
        }
        uint64_t limit = c->parser.headers_done ? lim->request_timeout_ms : lim->header_timeout_ms;
        uint64_t deadline = c->req_start_ms + limit;
        timeout = deadline > now ? deadline - now : 0;
        break;
    }
    case CONN_LINGER:
        timeout = LINGER_MS;
        break;
    default:
        uv_timer_stop(&c->timer);
        return;
    }
    uv_timer_start(&c->timer, on_conn_timer, timeout, 0);
}

static void exchange_free(struct http_exchange *ex)
{
    if (ex->data_free)
        ex->data_free(ex->data);
    http_parsed_free(&ex->parsed);
    for (size_t i = 0; i < ex->resp_header_count; i++) {
        free(ex->resp_headers[i].name);
        free(ex->resp_headers[i].value);
    }
    free(ex->resp_headers);
    free(ex);
}

static void conn_free(struct http_conn *c)
{
    struct http_server *s = c->server;
    struct http_exchange *ex = c->ex;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    http_parser_free(&c->parser);
    buf_free(&c->in);
    if (c->client_counted) {
        uintptr_t n = (uintptr_t)hashmap_get(s->per_client, c->client_id, strlen(c->client_id));
        if (n <= 1)
            hashmap_remove(s->per_client, c->client_id, strlen(c->client_id));
        else
            hashmap_put(s->per_client, c->client_id, strlen(c->client_id), (void *)(n - 1), NULL);
    }
    free(c);
    s->conn_count--;
    if (ex && ex->server_owned) {
        exchange_free(ex); /* continued, body never completed: the application let go of it */
    } else if (ex) {
        ex->conn = NULL;
        ex->server = NULL;
        ex->closed = true;
        if (ex->finished) {
            exchange_free(ex);
        } else if (ex->abort_fn) {
            /* The last thing touching ex here: the abort callback may finish (free) it. */
            ex->abort_fn(ex, ex->abort_arg);
        }
    }
    server_check_done(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->open_handles == 0)
        conn_free(c);
}

/* Close at once: pending writes are cancelled, the exchange's writes become no-ops, and the
 * abort callback runs from the close callback (never from inside an application call). */
static void conn_close(struct http_conn *c)
{
    if (c->phase == CONN_CLOSING)
        return;
    c->phase = CONN_CLOSING;
    if (c->ex)
        c->ex->closed = true;
    conn_drop_held(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_conn *c = req->data;
    if (c->phase == CONN_CLOSING)
        return;
    if (status < 0 || c->eof)
        conn_close(c);
}

/* Close after the queued bytes are sent. Input is drained (and dropped) for a while, because
 * closing with unread input makes the kernel send RST, which can destroy the reply. */
static void conn_close_graceful(struct http_conn *c)
{
    if (c->phase == CONN_CLOSING || c->phase == CONN_LINGER)
        return;
    conn_flush(c); /* the held bytes go before the FIN */
    if (c->phase == CONN_CLOSING)
        return;
    c->phase = CONN_LINGER;
    buf_free(&c->in);
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
        return;
    }
    conn_arm_timer(c);
    conn_update_reading(c);
}

static void on_write_done(uv_write_t *req, int status)
{
    struct http_write_req *w = (struct http_write_req *)req;
    struct http_conn *c = w->conn;
    for (unsigned i = 0; i < w->nowned; i++)
        free(w->owned[i]);
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        conn_close(c);
}

/* Write synchronously when nothing is queued: a response that fits in the socket buffer then
 * costs one writev and no write request. (libuv 1.44 re-arms the epoll watcher after every
 * completed uv_write, one epoll_ctl per response; this path avoids it.) Returns 0 when all was
 * written, 1 when bufs[0..*n) (advanced past what was written) still need a uv_write, -1 on a
 * socket error. */
static int conn_try_write(struct http_conn *c, uv_buf_t *bufs, unsigned *n)
{
    uv_stream_t *st = (uv_stream_t *)&c->tcp;
    if (uv_stream_get_write_queue_size(st) > 0)
        return 1; /* keep the order: queue behind what is pending */
    int r = uv_try_write(st, bufs, *n);
    if (r == UV_EAGAIN)
        return 1;
    if (r < 0)
        return -1;
    size_t written = (size_t)r;
    unsigned k = 0;
    for (unsigned i = 0; i < *n; i++) {
        if (written >= bufs[i].len) {
            written -= bufs[i].len;
            continue;
        }
        bufs[k] = uv_buf_init(bufs[i].base + written, (unsigned)(bufs[i].len - written));
        written = 0;
        k++;
    }
    *n = k;
    return k == 0 ? 0 : 1;
}

static void conn_unqueue_flush(struct http_conn *c)
{
    struct http_server *s = c->server;
    if (!c->flush_queued)
        return;
    if (c->flush_prev)
        c->flush_prev->flush_next = c->flush_next;
    else
        s->flush_head = c->flush_next;
    if (c->flush_next)
        c->flush_next->flush_prev = c->flush_prev;
    c->flush_prev = c->flush_next = NULL;
    c->flush_queued = false;
}

static void conn_drop_held(struct http_conn *c)
{
    conn_unqueue_flush(c);
    for (unsigned i = 0; i < c->nheld; i++)
        free(c->held[i].base);
    c->nheld = 0;
    c->held_bytes = 0;
}

/* Hand the held pieces to the socket: written at once when it takes them, else by a uv_write
 * that owns them. A socket error closes the connection. */
static void conn_flush(struct http_conn *c)
{
    conn_unqueue_flush(c);
    if (c->nheld == 0)
        return;
    char *owned[FLUSH_PIECES];
    uv_buf_t bufs[FLUSH_PIECES];
    const unsigned nowned = c->nheld;
    unsigned n = nowned;
    for (unsigned i = 0; i < n; i++) {
        owned[i] = c->held[i].base;
        bufs[i] = c->held[i];
    }
    c->nheld = 0;
    c->held_bytes = 0;
    int rc = conn_try_write(c, bufs, &n);
    struct http_write_req *w = rc == 1 ? malloc(sizeof *w) : NULL;
    if (w) {
        w->conn = c;
        memcpy(w->owned, owned, nowned * sizeof *owned);
        w->nowned = nowned;
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, on_write_done) == 0)
            return;
        free(w);
        rc = -1;
    }
    for (unsigned i = 0; i < nowned; i++)
        free(owned[i]);
    if (rc != 0)
        conn_close(c);
}

static void on_flush_check(uv_check_t *h)
{
    struct http_server *s = h->data;
    while (s->flush_head)
        conn_flush(s->flush_head);
    uv_check_stop(&s->flush_check);
    uv_idle_stop(&s->flush_idle);
}

static void on_flush_idle(uv_idle_t *h)
{
    (void)h; /* only keeps the poll from blocking until on_flush_check */
}

/* Put c on the list the end of the iteration flushes (once), arming that end when the list was
 * empty. */
static void conn_queue_flush(struct http_conn *c)
{
    struct http_server *s = c->server;
    if (c->flush_queued)
        return;
    if (!s->flush_head) {
        uv_check_start(&s->flush_check, on_flush_check);
        uv_idle_start(&s->flush_idle, on_flush_idle);
    }
    c->flush_next = s->flush_head;
    if (s->flush_head)
        s->flush_head->flush_prev = c;
    s->flush_head = c;
    c->flush_queued = true;
}

static void conn_hold(struct http_conn *c, char *p, size_t len)
{
    if (!p || !len) {
        free(p);
        return;
    }
    uv_buf_t *slot = &c->held[c->nheld++];
    slot->base = p;
    slot->len = len;
    c->held_bytes += len;
}

/* Takes a and b (either may be NULL). They leave at the end of this loop iteration. */
static int conn_write(struct http_conn *c, char *a, size_t alen, char *b, size_t blen)
{
    if (!c || c->phase == CONN_CLOSING || c->phase == CONN_LINGER) {
        free(a);
        free(b);
        return HTTP_ERR_CLOSED;
    }
    if (c->nheld + 2 > FLUSH_PIECES) {
        conn_flush(c);
        if (c->phase == CONN_CLOSING) {
            free(a);
            free(b);
            return HTTP_ERR_CLOSED;
        }
    }
    conn_hold(c, a, alen);
    conn_hold(c, b, blen);
    if (c->nheld)
        conn_queue_flush(c);
    return HTTP_OK;
}

static void append_json_string(struct buf *b, const char *s)
{
    buf_append_char(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            buf_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            buf_printf(b, "\\u%04x", ch);
        else
            buf_append_char(b, (char)ch);
    }
    buf_append_char(b, '"');
}

static const char *error_code_for(int status)
{
    switch (status) {
    case 408:
        return "request_timeout";
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 431:
        return "request_header_fields_too_large";
    case 503:
        return "service_unavailable";
    case 505:
        return "http_version_not_supported";
    default:
        return "bad_request";
    }
}

/* Refuse the current request without an exchange (framing error, limit, timeout): a JSON
 * error body, Connection: close, then a graceful close. */
static void conn_fail(struct http_conn *c, int status, const char *desc)
{
    struct http_server *s = c->server;
    struct http_exchange *ex = c->ex;
    if (ex && ex->server_owned) {
        c->ex = NULL;
        exchange_free(ex);
    } else if (ex) {
        ex->closed = true; /* the head hook still holds it; conn_free runs its abort callback */
    }
    struct buf body, head;
    buf_init(&body, 0);
    buf_init(&head, 0);
    buf_printf(&body, "{\"error\":\"%s\",\"error_description\":", error_code_for(status));
    append_json_string(&body, desc ? desc : "");
    buf_append_char(&body, '}');
    buf_printf(&head, "HTTP/1.1 %d %s\r\n", status, http_status_reason(status));
    for (size_t i = 0; i < s->default_count; i++)
        buf_printf(&head, "%s: %s\r\n", s->defaults[i].name, s->defaults[i].value);
    buf_printf(&head,
               "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
               body.len);
    size_t hlen = 0, blen = 0;
    char *h = buf_steal(&head, &hlen);
    char *b = buf_steal(&body, &blen);
    log_msgf(s->log, LOG_INFO, "http: refused request from %s: %d %s", c->remote_addr, status,
             desc ? desc : "");
    if (s->status_fn)
        s->status_fn(s->status_arg, NULL, status);
    conn_write(c, h, hlen, b, blen);
    conn_close_graceful(c);
}

/* An exchange for the parsed request (without its body after HTTP_PARSE_HEAD), attached to
 * the connection; NULL after answering 503. */
static struct http_exchange *exchange_new(struct http_conn *c)
{
    struct http_server *s = c->server;
    const char *target = (const char *)c->parser.head.data;
    size_t tlen = target ? strlen(target) : 0;
    /* The exchange and its NUL-terminated path share one allocation. */
    struct http_exchange *ex = calloc(1, sizeof *ex + tlen + 1);
    if (!ex || http_parser_take(&c->parser, &ex->parsed) != 0) {
        free(ex);
        conn_fail(c, 503, "out of memory");
        return NULL;
    }
    struct http_request *r = &ex->req;
    r->method = ex->parsed.method;
    r->target = ex->parsed.target;
    const char *q = strchr(r->target, '?');
    char *path = (char *)(ex + 1);
    size_t plen = q ? (size_t)(q - r->target) : strlen(r->target);
    memcpy(path, r->target, plen);
    path[plen] = '\0';
    r->path = path;
    r->query = q ? q + 1 : NULL;
    r->headers = ex->parsed.headers;
    r->header_count = ex->parsed.header_count;
    r->body = ex->parsed.body;
    r->body_len = ex->parsed.body_len;
    snprintf(ex->remote_addr, sizeof ex->remote_addr, "%s", c->remote_addr);
    r->remote_addr = ex->remote_addr;
    r->http_minor = ex->parsed.http_minor;
    r->received_ms = uv_now(s->loop);
    ex->id = ++s->next_id;
    ex->conn = c;
    ex->server = s;
    ex->loop = s->loop;
    ex->head_request = strcmp(r->method, "HEAD") == 0;
    ex->close_after = ex->parsed.upgrade; /* no protocol switch: answer, then close */
    c->ex = ex;
    return ex;
}

static void conn_dispatch(struct http_conn *c)
{
    struct http_exchange *ex = exchange_new(c);
    if (!ex)
        return;
    c->phase = CONN_ACTIVE;
    conn_arm_timer(c);
    c->server->handler(ex, c->server->arg);
}

/* The head of a request with a body is complete: the head hook decides. */
static void conn_dispatch_head(struct http_conn *c)
{
    struct http_exchange *ex = exchange_new(c);
    if (!ex)
        return;
    ex->body_pending = true;
    c->phase = CONN_HEAD;
    conn_arm_timer(c); /* the request deadline keeps running while the application decides */
    c->server->head_fn(ex, c->server->head_arg);
}

/* The body of a continued exchange is complete: the handler gets it. */
static void conn_dispatch_body(struct http_conn *c)
{
    struct http_exchange *ex = c->ex;
    char *body = NULL;
    size_t len = 0;
    if (http_parser_take_body(&c->parser, &body, &len) != 0) {
        conn_fail(c, 503, "out of memory");
        return;
    }
    free(ex->parsed.body);
    ex->parsed.body = body;
    ex->parsed.body_len = len;
    ex->req.body = body;
    ex->req.body_len = len;
    ex->req.received_ms = uv_now(c->server->loop);
    ex->server_owned = false;
    c->phase = CONN_ACTIVE;
    conn_arm_timer(c);
    c->server->handler(ex, c->server->arg);
}

static void conn_maybe_continue(struct http_conn *c)
{
    struct http_parser *p = &c->parser;
    if (!p->headers_done || !p->expect_continue || c->continue_sent ||
        llhttp_get_http_minor(&p->ll) != 1)
        return;
    c->continue_sent = true;
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *copy = malloc(sizeof msg);
    if (copy) {
        memcpy(copy, msg, sizeof msg);
        conn_write(c, copy, sizeof msg - 1, NULL, 0);
    }
}

/* Parse buffered input while no exchange is in progress; dispatch each complete request. A
 * handler that finishes synchronously returns here and the loop takes the next request. */
static void conn_process(struct http_conn *c)
{
    if (c->processing)
        return;
    c->processing = true;
    while ((c->phase == CONN_IDLE || c->phase == CONN_REQUEST) && c->in.len > 0) {
        size_t used = 0;
        enum http_parse_status st = http_parser_feed(&c->parser, c->in.data, c->in.len, &used);
        buf_consume(&c->in, used);
        if (c->parser.started && c->phase == CONN_IDLE) {
            c->phase = CONN_REQUEST;
            c->resume = false;
            c->req_start_ms = uv_now(c->server->loop);
        }
        if (st == HTTP_PARSE_ERROR) {
            conn_fail(c, c->parser.error_status, c->parser.error_desc);
            break;
        }
        if (st == HTTP_PARSE_MORE) {
            conn_maybe_continue(c);
            conn_arm_timer(c);
            break;
        }
        if (st == HTTP_PARSE_HEAD)
            conn_dispatch_head(c);
        else if (c->ex)
            conn_dispatch_body(c);
        else
            conn_dispatch(c);
    }
    c->processing = false;
    /* A handler finished synchronously (the connection is idle now), or a head hook continued
     * synchronously with no body bytes buffered yet (the request deadline applies again). */
    if (c->phase == CONN_IDLE || c->phase == CONN_REQUEST)
        conn_arm_timer(c);
    conn_update_reading(c);
}

/* The exchange is over and the connection stays open: get ready for the next request. */
static void conn_after_exchange(struct http_conn *c)
{
    http_parser_next(&c->parser);
    c->phase = CONN_IDLE;
    c->continue_sent = false;
    if (c->processing)
        return;
    /* Pipelined input is parsed from the timer, not from inside the application's call. */
    c->resume = c->in.len > 0;
    conn_arm_timer(c);
    conn_update_reading(c);
}

static void on_conn_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    switch (c->phase) {
    case CONN_IDLE:
        if (c->resume) {
            c->resume = false;
            conn_process(c);
            if (c->phase == CONN_IDLE && c->in.len == 0)
                conn_arm_timer(c);
        } else {
            conn_close_graceful(c);
        }
        break;
    case CONN_REQUEST:
        if (c->resume) { /* http_exchange_continue: parse the buffered body from here */
            c->resume = false;
            conn_maybe_continue(c);
            conn_process(c);
            break;
        }
        /* fall through */
    case CONN_HEAD:
        conn_fail(c, 408,
                  c->parser.headers_done ? "request not received in time"
                                         : "request headers not received in time");
        break;
    case CONN_LINGER:
        conn_close(c);
        break;
    case CONN_ACTIVE:
        if (c->probing && !conn_peer_reading(c))
            conn_close(c); /* the peer is gone, not half-closed: abort the exchange */
        c->probing = false;
        break;
    default:
        break;
    }
}

/* EOF after a whole request and before any of its answer: the client may have only shut its
 * sending side (a half-close, as `curl --data … | nc -N` or a socket end() does), so the request
 * is still answered and the connection closed after it (the eof flag makes it close). A client
 * that is wholly gone is found when writing to it fails. EOF in the middle of a request, or once
 * a stream has begun (a client dropping an SSE stream), is the client leaving: the exchange is
 * aborted at once. */
static bool conn_half_closed_request(const struct http_conn *c)
{
    return c->phase == CONN_ACTIVE && c->ex && !c->ex->body_pending && !c->ex->eof_aborts;
}

/* A stream already under way when the EOF came: a peer that has wholly closed answers the next
 * bytes with a reset, so send some now (an SSE comment, invisible to the client: every stream
 * mcpd sends is an event stream) and look at the connection a moment later (on_conn_timer). */
static void conn_probe_peer(struct http_conn *c)
{
    static const char chunked[] = "4\r\n: \n\n\r\n", raw[] = ": \n\n";
    const char *probe = c->ex->raw_stream ? raw : chunked;
    size_t n = c->ex->raw_stream ? sizeof raw - 1 : sizeof chunked - 1;
    char *copy = malloc(n);
    if (!copy) {
        conn_close(c);
        return;
    }
    memcpy(copy, probe, n);
    c->probing = true;
    if (http_exchange_write(c->ex, copy, n, NULL, 0) != HTTP_OK)
        return;
    uv_timer_start(&c->timer, on_conn_timer, PROBE_MS, 0);
}

/* After the probe: still CLOSE_WAIT means the peer only shut its sending side and reads on. */
static bool conn_peer_reading(struct http_conn *c)
{
    uv_os_fd_t fd;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0 ||
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return false;
    return ti.tcpi_state == TCP_CLOSE_WAIT;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = st->data;
    if (nread == 0 || c->phase == CONN_CLOSING)
        return;
    if (nread < 0) {
        c->eof = true;
        /* Client gone (or half-closed) while idle: flush what is queued, then close. */
        if (nread == UV_EOF && c->phase == CONN_IDLE)
            conn_close_graceful(c);
        else if (nread == UV_EOF && conn_half_closed_request(c)) {
            c->reading = false; /* libuv stopped reading at EOF; the answer still goes out */
            if (c->ex->state == HTTP_EX_STREAM)
                conn_probe_peer(c);
        } else
            conn_close(c);
        return;
    }
    if (c->phase == CONN_LINGER)
        return; /* draining */
    if (buf_append(&c->in, b->base, (size_t)nread) != BUF_OK) {
        conn_close(c);
        return;
    }
    if (c->phase != CONN_ACTIVE && !c->resume)
        conn_process(c);
    conn_update_reading(c);
}

static void on_refused_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    free(h);
    s->handles_closing--;
    server_check_done(s);
}

/* Refusals are counted and logged once, then at most once per interval with the count since,
 * so that a flood of connections does not become a flood of log lines. */
static void log_refusal(struct http_server *s, const char *why, const char *client)
{
    s->refused_unlogged++;
    uint64_t now = uv_now(s->loop);
    if (s->refusal_logged && now - s->refusal_log_ms < REFUSAL_LOG_INTERVAL_MS)
        return;
    log_msgf(s->log, LOG_WARNING,
             "http: refused %u connection(s) since the last report: %s (latest from %s); next "
             "report in 10 s at the earliest",
             s->refused_unlogged, why, client && *client ? client : "unknown");
    s->refused_unlogged = 0;
    s->refusal_log_ms = now;
    s->refusal_logged = true;
}

static void refuse_connection(struct http_server *s, uv_stream_t *listener)
{
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t)
        return;
    uv_tcp_init(s->loop, t);
    t->data = s;
    s->handles_closing++;
    uv_accept(listener, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_refused_closed);
    if (!s->shutting_down)
        log_refusal(s, "max_connections reached", NULL);
}

/* Count c against its client's bound; false (nothing counted) when the client is at it. */
static bool conn_admit_client(struct http_conn *c)
{
    struct http_server *s = c->server;
    netaddr_client_id(c->remote_addr, c->client_id, sizeof c->client_id);
    size_t klen = strlen(c->client_id);
    uintptr_t n = (uintptr_t)hashmap_get(s->per_client, c->client_id, klen);
    if (n >= s->lim.max_connections_per_client) {
        log_refusal(s, "max_connections_per_client reached", c->client_id);
        return false;
    }
    if (hashmap_put(s->per_client, c->client_id, klen, (void *)(n + 1), NULL) != 0)
        return false;
    c->client_counted = true;
    return true;
}

static void conn_peer_name(struct http_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    c->remote_addr[0] = '\0';
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->remote_addr, sizeof c->remote_addr);
    else if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, c->remote_addr, sizeof c->remote_addr);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct http_listener *l = listener->data;
    struct http_server *s = l->server;
    if (status < 0) {
        log_msgf(s->log, LOG_WARNING, "http: accept failed: %s", uv_strerror(status));
        return;
    }
    if (s->shutting_down || s->conn_count >= s->lim.max_connections) {
        refuse_connection(s, listener);
        return;
    }
    struct http_conn *c = calloc(1, sizeof *c);
    if (!c || http_parser_init(&c->parser, s->lim.max_header_bytes, s->lim.max_headers,
                               s->lim.max_body_bytes) != 0) {
        free(c);
        refuse_connection(s, listener);
        return;
    }
    c->server = s;
    buf_init(&c->in, 0);
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->conn_count++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1); /* responses and SSE events go out as soon as written */
    conn_peer_name(c);
    if (!conn_admit_client(c)) {
        conn_close(c); /* nothing read, nothing written: a plain close */
        return;
    }
    c->parser.pause_for_head = s->head_fn != NULL;
    c->phase = CONN_IDLE;
    conn_arm_timer(c);
    conn_update_reading(c);
}

/* ============================== public server API ========================================= */

struct http_server *http_server_new(uv_loop_t *loop, const struct http_limits *limits,
                                    struct logger *log, http_handler_fn handler, void *arg)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    if (limits)
        s->lim = *limits;
    struct http_limits *l = &s->lim;
    l->max_header_bytes = l->max_header_bytes ? l->max_header_bytes : HTTP_DEFAULT_MAX_HEADER_BYTES;
    l->max_headers = l->max_headers ? l->max_headers : HTTP_DEFAULT_MAX_HEADERS;
    l->max_body_bytes = l->max_body_bytes ? l->max_body_bytes : HTTP_DEFAULT_MAX_BODY_BYTES;
    l->max_connections = l->max_connections ? l->max_connections : HTTP_DEFAULT_MAX_CONNECTIONS;
    l->max_connections_per_client = l->max_connections_per_client
                                        ? l->max_connections_per_client
                                        : HTTP_DEFAULT_MAX_CONN_PER_CLIENT;
    l->header_timeout_ms =
        l->header_timeout_ms ? l->header_timeout_ms : HTTP_DEFAULT_HEADER_TIMEOUT_MS;
    l->request_timeout_ms =
        l->request_timeout_ms ? l->request_timeout_ms : HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
    l->idle_timeout_ms = l->idle_timeout_ms ? l->idle_timeout_ms : HTTP_DEFAULT_IDLE_TIMEOUT_MS;
    l->stream_max_queued_bytes =
        l->stream_max_queued_bytes ? l->stream_max_queued_bytes : HTTP_DEFAULT_STREAM_MAX_QUEUED;
    s->log = log;
    s->handler = handler;
    s->arg = arg;
    s->per_client = hashmap_new();
    if (!s->per_client) {
        free(s);
        return NULL;
    }
    uv_timer_init(loop, &s->grace_timer);
    uv_check_init(loop, &s->flush_check);
    uv_idle_init(loop, &s->flush_idle);
    s->grace_timer.data = s->flush_check.data = s->flush_idle.data = s;
    return s;
}

static int parse_listen_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    char tmp[64];
    if (!host || !*host || strcasecmp(host, "localhost") == 0)
        host = "127.0.0.1";
    size_t n = strlen(host);
    if (host[0] == '[' && n > 2 && host[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct http_listener *l = h->data;
    struct http_server *s = l->server;
    free(l);
    s->handles_closing--;
    server_check_done(s);
}

int http_server_listen(struct http_server *s, const char *host, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = parse_listen_addr(host, port, &ss);
    if (rc != 0)
        return rc;
    struct http_listener *l = calloc(1, sizeof *l);
    if (!l)
        return UV_ENOMEM;
    l->server = s;
    uv_tcp_init(s->loop, &l->tcp);
    l->tcp.data = l;
    /* libuv sets SO_REUSEADDR on bind, so a restart does not wait for TIME_WAIT. */
    rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection);
    if (rc != 0) {
        s->handles_closing++;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return rc;
    }
    /* Append, so the first listener stays first for http_server_port. */
    struct http_listener **tail = &s->listeners;
    while (*tail)
        tail = &(*tail)->next;
    *tail = l;
    return 0;
}

int http_server_port(const struct http_server *s)
{
    if (!s->listeners)
        return -1;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&s->listeners->tcp, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void http_server_add_default_header(struct http_server *s, const char *name, const char *value)
{
    struct http_resp_header *d = realloc(s->defaults, (s->default_count + 1) * sizeof *d);
    if (!d)
        return;
    s->defaults = d;
    d[s->default_count].name = strdup(name);
    d[s->default_count].value = strdup(value);
    if (!d[s->default_count].name || !d[s->default_count].value) {
        free(d[s->default_count].name);
        free(d[s->default_count].value);
        return;
    }
    s->default_count++;
}

static void on_final_handle_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    if (--s->final_handles > 0)
        return;
    if (s->done)
        s->done(s->done_arg);
    hashmap_free(s->per_client);
    for (size_t i = 0; i < s->default_count; i++) {
        free(s->defaults[i].name);
        free(s->defaults[i].value);
    }
    free(s->defaults);
    free(s);
}

static void server_check_done(struct http_server *s)
{
    if (!s->shutting_down || s->done_called || s->conn_count || s->handles_closing)
        return;
    s->done_called = true;
    s->final_handles = 3;
    uv_close((uv_handle_t *)&s->grace_timer, on_final_handle_closed);
    uv_close((uv_handle_t *)&s->flush_check, on_final_handle_closed);
    uv_close((uv_handle_t *)&s->flush_idle, on_final_handle_closed);
}

static void on_grace_expired(uv_timer_t *t)
{
    struct http_server *s = t->data;
    for (struct http_conn *c = s->conns; c; c = c->next)
        conn_close(c);
}

void http_server_shutdown(struct http_server *s, uint64_t grace_ms, void (*done)(void *arg),
                          void *arg)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    s->done = done;
    s->done_arg = arg;
    while (s->listeners) {
        struct http_listener *l = s->listeners;
        s->listeners = l->next;
        s->handles_closing++;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    }
    for (struct http_conn *c = s->conns; c; c = c->next) {
        /* An idle keep-alive connection has nothing to flush or read: close it now rather
         * than lingering (a pooled client never closes its side, and would hold the exit). */
        if (c->phase == CONN_IDLE && c->in.len == 0 && c->nheld == 0)
            conn_close(c);
        else if (c->phase == CONN_IDLE || c->phase == CONN_REQUEST)
            conn_close_graceful(c);
        else if ((c->phase == CONN_ACTIVE || c->phase == CONN_HEAD) && c->ex)
            c->ex->close_after = true;
    }
    uv_timer_start(&s->grace_timer, on_grace_expired, grace_ms, 0);
    server_check_done(s);
}

int http_server_listen_host(struct http_server *s, const char *host, int port)
{
    int rc = http_server_listen(s, host, port);
    if (rc == 0 && port != 0 && strcmp(host, "127.0.0.1") == 0)
        (void)http_server_listen(s, "::1", port);
    return rc;
}

unsigned http_server_connection_count(const struct http_server *s)
{
    return s->conn_count;
}

/* ============================== exchanges ================================================= */

const struct http_request *http_exchange_request(const struct http_exchange *ex)
{
    return &ex->req;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    }
    return NULL;
}

bool http_request_media_type_is(const struct http_request *req, const char *type)
{
    const char *ct = http_request_header(req, "content-type");
    size_t n = strlen(type);
    if (!ct || strncasecmp(ct, type, n) != 0)
        return false;
    const char *p = ct + n;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' || *p == ';';
}

size_t http_request_header_count(const struct http_request *req, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, name) == 0)
            n++;
    }
    return n;
}

int http_request_query_param(const struct http_request *req, const char *name, char *out,
                             size_t out_size)
{
    const char *q = req->query;
    int count = 0, rc = 0;
    char key[256];
    while (q && *q) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        if (form_decode_bounded(q, klen, key, sizeof key) >= 0 && strcmp(key, name) == 0) {
            if (count++ == 0) {
                const char *v = eq ? eq + 1 : q + len;
                size_t vlen = eq ? len - klen - 1 : 0;
                rc = form_decode_bounded(v, vlen, out, out_size) < 0 ? -1 : 0;
            }
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return rc < 0 ? -1 : count;
}

void http_exchange_set_abort(struct http_exchange *ex, http_abort_fn fn, void *arg)
{
    ex->abort_fn = fn;
    ex->abort_arg = arg;
}

void http_exchange_abort_on_eof(struct http_exchange *ex)
{
    ex->eof_aborts = true;
}

bool http_exchange_closed(const struct http_exchange *ex)
{
    return ex->closed;
}

void http_server_set_head_hook(struct http_server *s, http_head_fn fn, void *arg)
{
    s->head_fn = fn;
    s->head_arg = arg;
}

void http_server_set_status_hook(struct http_server *s, http_status_fn fn, void *arg)
{
    s->status_fn = fn;
    s->status_arg = arg;
}

void http_exchange_note_status(const struct http_exchange *ex, int status)
{
    const struct http_server *s = ex->server;
    if (s && s->status_fn)
        s->status_fn(s->status_arg, &ex->req, status);
}

void http_exchange_continue(struct http_exchange *ex, size_t max_body)
{
    if (ex->finished || !ex->body_pending)
        return;
    struct http_conn *c = ex->conn;
    if (ex->closed || !c || c->phase != CONN_HEAD) {
        http_exchange_finish(ex);
        return;
    }
    ex->body_pending = false;
    ex->server_owned = true;
    c->phase = CONN_REQUEST;
    http_parser_resume_body(&c->parser, max_body);
    if (c->parser.error_status) {
        conn_fail(c, c->parser.error_status, c->parser.error_desc);
        return;
    }
    conn_maybe_continue(c); /* only now: the client may send the body */
    /* Parse what is buffered from the loop, not from inside the application's call (unless
     * this is the hook's own synchronous call, which conn_process is already running). */
    if (!c->processing)
        c->resume = true;
    conn_arm_timer(c);
    conn_update_reading(c);
}

bool http_exchange_body_pending(const struct http_exchange *ex)
{
    return ex->body_pending;
}

void http_exchange_set_data(struct http_exchange *ex, void *data, void (*free_fn)(void *data))
{
    if (ex->data_free && ex->data != data)
        ex->data_free(ex->data);
    ex->data = data;
    ex->data_free = free_fn;
}

void *http_exchange_data(const struct http_exchange *ex)
{
    return ex->data;
}

uint64_t http_exchange_id(const struct http_exchange *ex)
{
    return ex->id;
}

uv_loop_t *http_exchange_loop(const struct http_exchange *ex)
{
    return ex->loop;
}

void http_exchange_finish(struct http_exchange *ex)
{
    if (ex->finished)
        return;
    ex->finished = true;
    struct http_conn *c = ex->conn;
    if (!c) {
        exchange_free(ex);
        return;
    }
    if (c->phase == CONN_CLOSING)
        return; /* conn_free releases it */
    bool close = ex->state != HTTP_EX_DONE || ex->close_after || c->server->shutting_down || c->eof;
    c->ex = NULL;
    exchange_free(ex);
    if (close)
        conn_close_graceful(c);
    else
        conn_after_exchange(c);
}

int http_append_header(struct buf *out, const char *name, const char *value)
{
    /* Every response builds several lines: plain copies, not printf (it showed in profiles). */
    size_t nl = strlen(name), vl = strlen(value);
    if (buf_reserve(out, nl + vl + 4) != BUF_OK)
        return -1;
    buf_append(out, name, nl);
    buf_append(out, ": ", 2);
    buf_append(out, value, vl);
    buf_append(out, "\r\n", 2);
    return 0;
}

void http_exchange_log_refusal(const struct http_exchange *ex, int status)
{
    const struct http_server *s = ex->server;
    if (!s || !s->log || LOG_INFO < s->log->min)
        return;
    /* Every refused request leaves one line (bad input is logged, DEVELOPERS standards); the
     * target is logged without its query, which may carry codes or state. */
    log_write(s->log, status >= 500 ? LOG_WARNING : LOG_INFO, "Request refused",
              json_pack("{s:i,s:s,s:s,s:s}", "status", status, "method", ex->req.method, "path",
                        ex->req.path, "ip", ex->remote_addr));
}

int http_exchange_default_headers(const struct http_exchange *ex, struct buf *out)
{
    const struct http_server *s = ex->server;
    if (!s)
        return 0;
    for (size_t i = 0; i < s->default_count; i++) {
        bool overridden = false;
        for (size_t j = 0; j < ex->resp_header_count && !overridden; j++)
            overridden = strcasecmp(ex->resp_headers[j].name, s->defaults[i].name) == 0;
        if (!overridden && http_append_header(out, s->defaults[i].name, s->defaults[i].value) != 0)
            return -1;
    }
    return 0;
}

bool http_exchange_must_close(struct http_exchange *ex)
{
    struct http_conn *c = ex->conn;
    if (!c || !ex->parsed.keep_alive || c->server->shutting_down || c->eof || ex->body_pending)
        ex->close_after = true;
    return ex->close_after;
}

int http_exchange_write(struct http_exchange *ex, char *a, size_t alen, char *b, size_t blen)
{
    if (ex->closed) {
        free(a);
        free(b);
        return HTTP_ERR_CLOSED;
    }
    return conn_write(ex->conn, a, alen, b, blen);
}

size_t http_exchange_queued(const struct http_exchange *ex)
{
    if (ex->closed || !ex->conn)
        return 0;
    return ex->conn->held_bytes +
           uv_stream_get_write_queue_size((const uv_stream_t *)&ex->conn->tcp);
}

size_t http_exchange_stream_cap(const struct http_exchange *ex)
{
    return ex->server ? ex->server->lim.stream_max_queued_bytes : 0;
}

void http_exchange_cut(struct http_exchange *ex)
{
    if (ex->conn)
        conn_close(ex->conn);
    ex->closed = true;
}

struct status_reason {
    int status;
    const char *reason;
};

static const struct status_reason status_reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *http_status_reason(int status)
{
    for (size_t i = 0; i < sizeof status_reasons / sizeof status_reasons[0]; i++) {
        if (status_reasons[i].status == status)
            return status_reasons[i].reason;
    }
    return "Unknown";
}
