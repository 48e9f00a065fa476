/* Sockets and HTTP/1.1 for mcpbench: keep-alive pool connections that carry one request at a time
 * (no pipelining), and long-lived GET connections that hold an SSE stream open. Responses are
 * parsed with llhttp, so Content-Length, chunked and read-until-close bodies are all handled the
 * way a real client would. */
#include "mcpbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BODY_BYTES   (16u << 20)
#define MAX_HEADER_VALUE 16384u
#define MAX_CONNECT_FAIL 50 /* in a row: the server is gone, stop instead of spinning */

static int on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;
    c->status = 0;
    c->hname_len = 0;
    c->hval.len = 0;
    c->body.len = 0;
    c->ctype[0] = '\0';
    free(c->resp_sid);
    c->resp_sid = NULL;
    return 0;
}

/* Header names arrive in pieces; only short names matter here, so longer ones are cut (and then
 * cannot match, because the comparison includes the length). */
static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    size_t room = sizeof c->hname - 1 - c->hname_len;
    if (n > room)
        n = room;
    memcpy(c->hname + c->hname_len, at, n);
    c->hname_len += n;
    c->hname[c->hname_len] = '\0';
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (c->hval.len + n > MAX_HEADER_VALUE)
        return -1;
    return sbuf_add(&c->hval, at, n);
}

static int on_header_value_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    const char *v = c->hval.p ? c->hval.p : "";
    if (c->hname_len == 14 && strcasecmp(c->hname, "mcp-session-id") == 0) {
        free(c->resp_sid);
        c->resp_sid = strdup(v);
    } else if (c->hname_len == 12 && strcasecmp(c->hname, "content-type") == 0) {
        size_t i = 0;
        for (; i < sizeof c->ctype - 1 && v[i]; i++)
            c->ctype[i] = (char)((v[i] >= 'A' && v[i] <= 'Z') ? v[i] + 32 : v[i]);
        c->ctype[i] = '\0';
    }
    c->hname_len = 0;
    c->hval.len = 0;
    return 0;
}

/* A GET stream counts as open once the server has answered 200 with text/event-stream; the
 * connection that opened it may then go on with the next session. */
static int stream_headers(struct conn *c)
{
    struct bench *b = c->b;
    c->inflight = false;
    if (c->status != 200 || strncmp(c->ctype, "text/event-stream", 17) != 0) {
        char what[128];
        snprintf(what, sizeof what, "GET stream: HTTP %d, Content-Type '%s'", c->status, c->ctype);
        bench_error(b, ERR_STATUS, c, what);
        c->failed = true;
        conn_resume_owner(c);
        return -1;
    }
    bench_latency(b, c);
    c->established = true;
    b->nstreams_open++;
    conn_resume_owner(c);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    c->status = p->status_code;
    return c->is_stream ? stream_headers(c) : 0;
}

/* Streams only count bytes and events (an event ends at a blank line; CR is ignored so CRLF
 * and LF framings count alike). POST bodies are kept whole for validation. */
static int on_body(llhttp_t *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (!c->is_stream) {
        if (c->body.len + n > MAX_BODY_BYTES)
            return -1;
        return sbuf_add(&c->body, at, n);
    }
    c->stream_bytes += n;
    for (size_t i = 0; i < n; i++) {
        if (at[i] == '\r')
            continue;
        if (at[i] == '\n' && c->prev_char == '\n')
            c->stream_events++;
        c->prev_char = at[i];
    }
    return 0;
}

/* Pausing here returns control to feed(), which can then tell a clean end of the message from
 * stray bytes after it (a server must not send anything we did not ask for). */
static int on_message_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    c->msg_done = true;
    return HPE_PAUSED;
}

void conn_setup_http(struct bench *b)
{
    llhttp_settings_init(&b->http);
    b->http.on_message_begin = on_message_begin;
    b->http.on_header_field = on_header_field;
    b->http.on_header_value = on_header_value;
    b->http.on_header_value_complete = on_header_value_complete;
    b->http.on_headers_complete = on_headers_complete;
    b->http.on_body = on_body;
    b->http.on_message_complete = on_message_complete;
}

/* An established stream that goes away while streams are supposed to be held is an error; one
 * that never got established is counted once, when it fails. */
static void stream_lost(struct conn *c, enum err_kind k, const char *what)
{
    struct bench *b = c->b;
    if (c->established) {
        c->established = false;
        b->nstreams_open--;
        if (b->phase <= PH_HOLD && !b->finishing) {
            char msg[160];
            snprintf(msg, sizeof msg, "stream closed early: %s", what);
            b->streams_closed_early++;
            bench_error(b, ERR_TRANSPORT, c, msg);
        }
    } else if (!c->failed) {
        c->failed = true;
        bench_error(b, k, c, what);
    }
    c->inflight = false;
    conn_resume_owner(c);
}

void conn_resume_owner(struct conn *stream)
{
    struct conn *o = stream->owner;
    stream->owner = NULL;
    if (!o || !o->await_stream)
        return;
    o->await_stream = false;
    o->opening = -1;
    if (o->state == CS_OPEN && !o->inflight)
        bench_next(o);
    else
        bench_maybe_advance(o->b);
}

void conn_fail(struct conn *c, enum err_kind k, const char *what)
{
    if (c->is_stream) {
        stream_lost(c, k, what);
    } else if (c->inflight) {
        c->inflight = false;
        bench_error(c->b, k, c, what);
        c->opening = -1; /* a half-opened session is abandoned */
        free(c->cursor); /* and so is a half-walked resources/list */
        c->cursor = NULL;
        c->page = 0;
    }
    conn_close(c);
}

static void message_done(struct conn *c)
{
    struct bench *b = c->b;
    if (c->is_stream) {
        stream_lost(c, ERR_TRANSPORT, "the server ended the GET stream");
        conn_close(c);
        return;
    }
    if (!c->inflight) {
        bench_error(b, ERR_TRANSPORT, c, "a response nobody asked for");
        conn_close(c);
        return;
    }
    c->inflight = false;
    bench_latency(b, c);
    mcp_response(c);
    if (!llhttp_should_keep_alive(&c->parser)) {
        c->retry_ms = 0;
        conn_close(c);
    } else if (c->writing) {
        c->next_pending = true;
    } else {
        bench_next(c);
    }
}

static void feed(struct conn *c, const char *p, size_t n)
{
    llhttp_errno_t e = llhttp_execute(&c->parser, p, n);
    if (e == HPE_OK)
        return;
    if (e == HPE_PAUSED && c->msg_done) {
        const char *pos = llhttp_get_error_pos(&c->parser);
        llhttp_resume(&c->parser);
        c->msg_done = false;
        if (pos && pos < p + n) {
            conn_fail(c, ERR_TRANSPORT, "bytes after the response (no pipelining was asked for)");
            return;
        }
        message_done(c);
        return;
    }
    char what[160];
    snprintf(what, sizeof what, "HTTP parse error: %s (%s)", llhttp_errno_name(e),
             llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser) : "");
    conn_fail(c, ERR_TRANSPORT, what);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    *buf = uv_buf_init(c->b->rbuf, sizeof c->b->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    if (n > 0) {
        feed(c, buf->base, (size_t)n);
        return;
    }
    if (n == 0)
        return;
    if (n == UV_EOF && c->inflight && !c->is_stream) {
        /* A body delimited by the end of the connection is complete only now. */
        llhttp_finish(&c->parser);
        if (c->msg_done) {
            c->msg_done = false;
            message_done(c);
            conn_close(c);
            return;
        }
    }
    if (c->inflight || c->is_stream)
        conn_fail(c, ERR_TRANSPORT, n == UV_EOF ? "server closed the connection" : uv_strerror(n));
    else
        conn_close(c); /* an idle keep-alive connection closed by the server: reconnect */
}

/* Reconnect a pool connection after a close; a socket that cannot even be created (EMFILE) is
 * tried again later rather than given up. */
static void on_retry(uv_timer_t *t)
{
    struct conn *c = t->data;
    struct bench *b = c->b;
    if (b->finishing || c->state != CS_CLOSED)
        return;
    if (!bench_wants_pool(b)) {
        bench_maybe_advance(b);
        return;
    }
    int rc = conn_open(b, c);
    if (rc < 0 && c->state == CS_CLOSED)
        uv_timer_start(&c->retry, on_retry, 100, 0);
}

void conn_schedule_open(struct conn *c, unsigned ms)
{
    uv_timer_start(&c->retry, on_retry, ms, 0);
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct bench *b = c->b;
    c->state = CS_CLOSED;
    c->writing = false;
    c->next_pending = false;
    if (b->finishing || c->is_stream)
        return;
    if (bench_wants_pool(b))
        uv_timer_start(&c->retry, on_retry, c->retry_ms, 0);
    else
        bench_maybe_advance(b);
}

void conn_close(struct conn *c)
{
    if (c->state != CS_OPEN && c->state != CS_CONNECTING)
        return;
    c->state = CS_CLOSING;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = false;
    if (status == UV_ECANCELED)
        return;
    if (status < 0) {
        conn_fail(c, ERR_TRANSPORT, uv_strerror(status));
        return;
    }
    if (c->next_pending) {
        c->next_pending = false;
        bench_next(c);
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    struct bench *b = c->b;
    if (status == UV_ECANCELED || c->state != CS_CONNECTING)
        return;
    if (status < 0) {
        char what[128];
        snprintf(what, sizeof what, "connect: %s", uv_strerror(status));
        if (c->is_stream) {
            conn_fail(c, ERR_TRANSPORT, what);
            return;
        }
        bench_error(b, ERR_TRANSPORT, c, what);
        c->retry_ms = 100;
        conn_close(c);
        if (++b->consecutive_connect_failures >= MAX_CONNECT_FAIL) {
            fprintf(stderr, "mcpbench: %d connection attempts in a row failed; giving up\n",
                    b->consecutive_connect_failures);
            b->fatal = true;
            bench_finish(b);
        }
        return;
    }
    b->consecutive_connect_failures = 0;
    c->state = CS_OPEN;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (c->is_stream)
        conn_send(c, RQ_GET, "GET", NULL, 0);
    else if (!c->await_stream)
        bench_next(c);
}

void conn_init_pool(struct bench *b, struct conn *c)
{
    c->b = b;
    c->session = -1;
    c->opening = -1;
    uv_timer_init(b->loop, &c->retry);
    c->retry.data = c;
}

int conn_open(struct bench *b, struct conn *c)
{
    int rc = uv_tcp_init(b->loop, &c->tcp);
    if (rc < 0)
        return rc;
    c->tcp.data = c;
    c->connect_req.data = c;
    c->write_req.data = c;
    c->state = CS_CONNECTING;
    c->msg_done = false;
    llhttp_init(&c->parser, HTTP_RESPONSE, &b->http);
    c->parser.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    rc =
        uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&b->tgt.addr, on_connect);
    if (rc < 0) {
        c->retry_ms = 100;
        conn_close(c);
    }
    return rc;
}

int stream_open(struct bench *b, struct conn *owner, long session)
{
    struct conn *s = &b->streams[session];
    s->b = b;
    s->is_stream = true;
    s->session = session;
    s->owner = owner;
    s->failed = false;
    s->established = false;
    owner->await_stream = true;
    int rc = conn_open(b, s);
    if (rc < 0) {
        char what[128];
        snprintf(what, sizeof what, "GET stream socket: %s", uv_strerror(rc));
        s->owner = NULL;
        owner->await_stream = false;
        s->failed = true;
        bench_error(b, ERR_TRANSPORT, s, what);
    }
    return rc;
}

/* Request head: the session's id and negotiated protocol version once initialize is done, the
 * bearer token when given. A fresh head per request keeps it simple; it costs well under 1 us. */
static int build_head(struct conn *c, enum req_kind kind, const char *method, size_t body_len)
{
    struct bench *b = c->b;
    const struct session *s = c->session >= 0 ? &b->sessions[c->session] : NULL;
    const char *accept = kind == RQ_GET      ? "text/event-stream"
                         : kind == RQ_HEALTH ? "application/json, */*"
                                             : "application/json, text/event-stream";
    char head[1024];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n", method,
                     b->tgt.path, b->tgt.hostport, accept);
    c->wbuf.len = 0;
    if (n < 0 || sbuf_add(&c->wbuf, head, (size_t)n) < 0)
        return -1;
    if (s && s->sid && kind != RQ_INIT)
        n = snprintf(head, sizeof head, "Mcp-Session-Id: %s\r\n", s->sid);
    else
        n = 0;
    if (n > 0 && sbuf_add(&c->wbuf, head, (size_t)n) < 0)
        return -1;
    if (s && s->proto && kind != RQ_INIT && kind != RQ_HEALTH) {
        n = snprintf(head, sizeof head, "MCP-Protocol-Version: %s\r\n", s->proto);
        if (sbuf_add(&c->wbuf, head, (size_t)n) < 0)
            return -1;
    }
    if (b->opt.stateless && (kind == RQ_CALL || kind == RQ_LIST)) { /* the standard headers */
        n = kind == RQ_LIST
                ? snprintf(head, sizeof head, "Mcp-Method: resources/list\r\n")
                : snprintf(head, sizeof head, "Mcp-Method: tools/call\r\nMcp-Name: %s\r\n",
                           b->opt.tool == TOOL_ECHO ? "echo" : "add");
        if (sbuf_add(&c->wbuf, head, (size_t)n) < 0)
            return -1;
    }
    if (b->opt.token && kind != RQ_HEALTH) {
        if (sbuf_add(&c->wbuf, "Authorization: Bearer ", 22) < 0 ||
            sbuf_add(&c->wbuf, b->opt.token, strlen(b->opt.token)) < 0 ||
            sbuf_add(&c->wbuf, "\r\n", 2) < 0)
            return -1;
    }
    if (body_len > 0 || strcmp(method, "POST") == 0)
        n = snprintf(head, sizeof head,
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body_len);
    else
        n = snprintf(head, sizeof head, "\r\n");
    return sbuf_add(&c->wbuf, head, (size_t)n);
}

/* Most requests fit the socket buffer at once, so uv_try_write avoids a write request and its
 * callback; only a short write falls back to uv_write (and then wbuf stays untouched until
 * on_write). */
int conn_send(struct conn *c, enum req_kind kind, const char *method, const char *body,
              size_t body_len)
{
    if (build_head(c, kind, method, body_len) < 0 ||
        (body_len > 0 && sbuf_add(&c->wbuf, body, body_len) < 0)) {
        fprintf(stderr, "mcpbench: out of memory\n");
        abort();
    }
    c->kind = kind;
    c->inflight = true;
    c->t_start = uv_hrtime();
    uv_buf_t buf = uv_buf_init(c->wbuf.p, (unsigned)c->wbuf.len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n == (int)c->wbuf.len)
        return 0;
    if (n < 0 && n != UV_EAGAIN) {
        conn_fail(c, ERR_TRANSPORT, uv_strerror(n));
        return -1;
    }
    if (n < 0)
        n = 0;
    buf = uv_buf_init(c->wbuf.p + n, (unsigned)(c->wbuf.len - (size_t)n));
    c->writing = true;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
    if (rc < 0) {
        c->writing = false;
        conn_fail(c, ERR_TRANSPORT, uv_strerror(rc));
        return -1;
    }
    return 0;
}
