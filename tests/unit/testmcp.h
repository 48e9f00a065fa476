/* An MCP context (memory store, conformance pack) behind a real http_server on 127.0.0.1 port 0,
 * routing /mcp, /sse and /message to the transports as the MCP role does (without its auth and
 * Host/Origin policy: the user is "alice", or the X-Test-User header). Clients are libuv TCP
 * handles on the same loop, so a test can hold a stream open, send other requests, and watch
 * what arrives on each, with every wait bounded by a deadline. */
#ifndef MCPD_TESTMCP_H
#define MCPD_TESTMCP_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <uv.h>

#include "app/config.h"
#include "http/http_response.h"
#include "http/http_server.h"
#include "lib/hashmap.h"
#include "mcp/context.h"
#include "mcp/dispatch.h"
#include "mcp/session.h"
#include "mcp/transport_http.h"
#include "mcp/transport_sse.h"
#include "store/store.h"

#define TM_RAW_MAX  (256 * 1024)
#define TM_WAIT_MS  3000
#define TM_MAX_CONN 16

struct tm_conn;

struct tm_fixture {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) returning so deadlines are checked */
    struct config cfg;
    struct mcp_ctx ctx;
    struct http_server *srv;
    int port;
    struct tm_conn *conns[TM_MAX_CONN];
    bool shutdown_done;
    bool store_closed;
};

struct tm_conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_buf_t wbuf;
    char *req;
    char *raw; /* everything received, NUL-terminated */
    size_t len;
    bool eof;
    bool closing;
};

static inline void tm_on_tick(uv_timer_t *t)
{
    (void)t;
}

static inline void tm_handler(struct http_exchange *ex, void *arg)
{
    struct tm_fixture *f = arg;
    const struct http_request *req = http_exchange_request(ex);
    const char *user = http_request_header(req, "x-test-user");
    if (!user)
        user = "alice";
    if (strcmp(req->path, "/mcp") == 0)
        mcp_http_handle(&f->ctx, ex, user);
    else if (strcmp(req->path, "/sse") == 0 && strcmp(req->method, "GET") == 0)
        mcp_sse_open(&f->ctx, ex, user);
    else if (strcmp(req->path, "/message") == 0 && strcmp(req->method, "POST") == 0)
        mcp_sse_message(&f->ctx, ex, user);
    else
        http_respond_empty(ex, 404);
}

/* The context as the MCP role builds it; the caller may change cfg before tm_listen. */
static inline struct tm_fixture *tm_new(const char *features)
{
    /* As mcpd's main does: a write to a connection the client has closed is an error (EPIPE), not
     * the end of the process. */
    signal(SIGPIPE, SIG_IGN);
    struct tm_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, tm_on_tick, 1, 1);
    f->cfg.session_ttl_ms = 60000;
    f->cfg.event_log_max = 16;
    f->cfg.sse_retry_ms = 1000;
    f->cfg.request_timeout_ms = 2000;
    f->ctx.loop = &f->loop;
    f->ctx.cfg = &f->cfg;
    f->ctx.store = store_memory_new(&f->loop, NULL);
    f->ctx.live = hashmap_new();
    char err[128] = "";
    f->ctx.dispatch = mcp_dispatch_new(features, err, sizeof err);
    assert_non_null(f->ctx.dispatch);
    return f;
}

/* Listen with another handler (a test driving a module below the transports); arg is f. */
static inline void tm_listen_with(struct tm_fixture *f, http_handler_fn handler)
{
    f->srv = http_server_new(&f->loop, NULL, NULL, handler, f);
    assert_non_null(f->srv);
    assert_int_equal(http_server_listen(f->srv, "127.0.0.1", 0), 0);
    f->port = http_server_port(f->srv);
    assert_true(f->port > 0);
}

static inline void tm_listen(struct tm_fixture *f)
{
    tm_listen_with(f, tm_handler);
}

static inline long tm_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Run the loop until pred(arg) holds or max_ms passed; returns pred's last value. */
static inline bool tm_run_until(struct tm_fixture *f, bool (*pred)(void *), void *arg, int max_ms)
{
    long deadline = tm_now_ms() + max_ms;
    while (!pred(arg)) {
        if (tm_now_ms() > deadline)
            return false;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    return true;
}

static inline bool tm_never(void *arg)
{
    (void)arg;
    return false;
}

/* Let the loop run for ms (to show that something does not happen). */
static inline void tm_run_for(struct tm_fixture *f, int ms)
{
    tm_run_until(f, tm_never, NULL, ms);
}

/* ---- clients ---- */

static inline void tm_conn_closed(uv_handle_t *h)
{
    struct tm_conn *c = h->data;
    free(c->req);
    free(c->raw);
    free(c);
}

static inline void tm_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct tm_conn *c = h->data;
    (void)hint;
    buf->base = c->raw + c->len;
    buf->len = TM_RAW_MAX - c->len;
}

static inline void tm_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct tm_conn *c = s->data;
    (void)buf;
    if (n > 0) {
        c->len += (size_t)n;
        c->raw[c->len] = '\0';
    } else if (n < 0) {
        c->eof = true;
        uv_read_stop(s);
    }
}

static inline void tm_on_write(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}

static inline void tm_on_connect(uv_connect_t *req, int status)
{
    struct tm_conn *c = req->data;
    if (status != 0 || c->closing) {
        c->eof = true;
        return;
    }
    c->wbuf = uv_buf_init(c->req, (unsigned)strlen(c->req));
    uv_write(&c->write, (uv_stream_t *)&c->tcp, &c->wbuf, 1, tm_on_write);
    uv_read_start((uv_stream_t *)&c->tcp, tm_alloc, tm_on_read);
}

/* Send a raw request on a new connection; the response accumulates as the loop runs. */
static inline struct tm_conn *tm_send_raw(struct tm_fixture *f, const char *request)
{
    struct tm_conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->req = strdup(request);
    c->raw = calloc(1, TM_RAW_MAX + 1);
    uv_tcp_init(&f->loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", f->port, &a);
    assert_int_equal(uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&a, tm_on_connect), 0);
    for (int i = 0; i < TM_MAX_CONN; i++)
        if (!f->conns[i]) {
            f->conns[i] = c;
            return c;
        }
    fail_msg("more than %d client connections in one test", TM_MAX_CONN);
    return NULL;
}

/* A request with Host, Content-Length and the extra header lines (each ending in \r\n). */
static inline struct tm_conn *tm_send(struct tm_fixture *f, const char *method, const char *target,
                                      const char *headers, const char *body)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = 512 + strlen(target) + (headers ? strlen(headers) : 0) + blen;
    char *req = malloc(cap);
    snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n%s",
             method, target, headers ? headers : "", blen, body ? body : "");
    struct tm_conn *c = tm_send_raw(f, req);
    free(req);
    return c;
}

static inline void tm_close(struct tm_fixture *f, struct tm_conn *c)
{
    for (int i = 0; i < TM_MAX_CONN; i++)
        if (f->conns[i] == c)
            f->conns[i] = NULL;
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, tm_conn_closed);
}

/* ---- reading one response ---- */

struct tm_resp {
    int status;
    char *head; /* status line and headers */
    char *body; /* decoded (chunks joined) */
    size_t body_len;
    bool complete; /* the whole body arrived */
};

static inline void tm_resp_free(struct tm_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Decode what c has received so far. */
static inline void tm_parse(const struct tm_conn *c, struct tm_resp *r)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    const char *end = strstr(c->raw, "\r\n\r\n");
    if (!end)
        return;
    size_t hlen = (size_t)(end - c->raw);
    r->head = strndup(c->raw, hlen);
    r->status = strncmp(c->raw, "HTTP/1.1 ", 9) == 0 ? atoi(c->raw + 9) : -1;
    const char *p = end + 4;
    size_t avail = c->len - (size_t)(p - c->raw);
    r->body = calloc(1, avail + 1);
    if (strcasestr(r->head, "\r\nTransfer-Encoding: chunked")) {
        for (;;) {
            const char *crlf = strstr(p, "\r\n");
            if (!crlf)
                break;
            size_t n = strtoul(p, NULL, 16);
            if (n == 0) {
                r->complete = strstr(crlf + 2, "\r\n") == crlf + 2;
                break;
            }
            if ((size_t)(c->raw + c->len - (crlf + 2)) < n + 2)
                break;
            memcpy(r->body + r->body_len, crlf + 2, n);
            r->body_len += n;
            p = crlf + 2 + n + 2;
        }
        return;
    }
    const char *cl = strcasestr(r->head, "\r\nContent-Length:");
    size_t want = cl ? strtoul(cl + 17, NULL, 10) : avail;
    r->body_len = avail < want ? avail : want;
    memcpy(r->body, p, r->body_len);
    r->complete = cl ? avail >= want : c->eof;
}

static inline bool tm_header(const struct tm_resp *r, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':') {
            const char *v = h + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn(v, "\r");
            snprintf(out, size, "%.*s", (int)vlen, v);
            return true;
        }
    }
    return false;
}

static inline bool tm_conn_complete(void *arg)
{
    const struct tm_conn *c = arg;
    struct tm_resp r;
    tm_parse(c, &r);
    bool done = r.complete || c->eof;
    tm_resp_free(&r);
    return done;
}

/* Wait for c's whole response (bounded) and decode it. */
static inline void tm_wait(struct tm_fixture *f, struct tm_conn *c, struct tm_resp *r)
{
    assert_true(tm_run_until(f, tm_conn_complete, c, TM_WAIT_MS));
    tm_parse(c, r);
    assert_true(r->complete);
}

struct tm_contains {
    const struct tm_conn *c;
    const char *needle;
    int count;
};

static inline bool tm_has_count(void *arg)
{
    const struct tm_contains *w = arg;
    int n = 0;
    for (const char *p = strstr(w->c->raw, w->needle); p; p = strstr(p + 1, w->needle))
        n++;
    return n >= w->count;
}

/* Wait (bounded) until the raw bytes received on c contain needle count times. */
static inline bool tm_wait_for(struct tm_fixture *f, struct tm_conn *c, const char *needle,
                               int count, int max_ms)
{
    struct tm_contains w = {c, needle, count};
    return tm_run_until(f, tm_has_count, &w, max_ms);
}

/* One request, its whole response. */
static inline void tm_exchange(struct tm_fixture *f, const char *method, const char *target,
                               const char *headers, const char *body, struct tm_resp *r)
{
    struct tm_conn *c = tm_send(f, method, target, headers, body);
    tm_wait(f, c, r);
    tm_close(f, c);
}

/* ---- SSE bodies ---- */

struct tm_event {
    char id[64];
    char event[32];
    char data[8192];
    long retry; /* -1 when absent */
};

/* The events of an SSE body, comment-only blocks (keep-alives) skipped. Caller frees. */
static inline struct tm_event *tm_events(const char *body, size_t *count)
{
    size_t cap = 64;
    struct tm_event *ev = calloc(cap, sizeof *ev);
    *count = 0;
    const char *p = body;
    while (*p && *count < cap) {
        const char *end = strstr(p, "\n\n");
        size_t blen = end ? (size_t)(end - p) : strlen(p);
        struct tm_event *e = &ev[*count];
        e->retry = -1;
        bool any = false;
        for (const char *line = p; line < p + blen;) {
            size_t llen = strcspn(line, "\n");
            if (llen > (size_t)(p + blen - line))
                llen = (size_t)(p + blen - line);
            if (strncmp(line, "id: ", 4) == 0) {
                snprintf(e->id, sizeof e->id, "%.*s", (int)llen - 4, line + 4);
                any = true;
            } else if (strncmp(line, "event: ", 7) == 0) {
                snprintf(e->event, sizeof e->event, "%.*s", (int)llen - 7, line + 7);
                any = true;
            } else if (strncmp(line, "data: ", 6) == 0 || strncmp(line, "data:", 5) == 0) {
                size_t off = line[5] == ' ' ? 6 : 5;
                size_t have = strlen(e->data);
                snprintf(e->data + have, sizeof e->data - have, "%s%.*s", have ? "\n" : "",
                         (int)(llen - off), line + off);
                any = true;
            } else if (strncmp(line, "retry: ", 7) == 0) {
                e->retry = atol(line + 7);
                any = true;
            }
            line += llen + 1;
        }
        if (any)
            (*count)++;
        if (!end)
            break;
        p = end + 2;
    }
    return ev;
}

/* ---- sessions ---- */

#define TM_ACCEPT_BOTH "Accept: application/json, text/event-stream\r\n"
#define TM_JSON_POST   TM_ACCEPT_BOTH "Content-Type: application/json\r\n"

/* initialize over POST /mcp (JSON answer: the request names its revision); the new session id
 * into sid. */
static inline void tm_initialize(struct tm_fixture *f, const char *version, char *sid, size_t size)
{
    char body[512], headers[512];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"%s\",\"capabilities\":{\"sampling\":{},\"elicitation\":{}},"
             "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
             version);
    snprintf(headers, sizeof headers, TM_JSON_POST "MCP-Protocol-Version: %s\r\n", version);
    struct tm_resp r;
    tm_exchange(f, "POST", "/mcp", headers, body, &r);
    assert_int_equal(r.status, 200);
    assert_true(tm_header(&r, "Mcp-Session-Id", sid, size));
    tm_resp_free(&r);
}

static inline void tm_on_shutdown(void *arg)
{
    ((struct tm_fixture *)arg)->shutdown_done = true;
}

static inline void tm_on_store_closed(void *arg)
{
    ((struct tm_fixture *)arg)->store_closed = true;
}

static inline bool tm_flag(void *arg)
{
    return *(bool *)arg;
}

static inline bool tm_no_connections(void *arg)
{
    return http_server_connection_count(((struct tm_fixture *)arg)->srv) == 0;
}

/* Close the clients, end what is live (a request whose client closed after sending it is still
 * answered, as to a half-closed client: ending the calls answers them), let the server see the
 * connections go, stop the server and the store, and fail if any handle or live session was
 * left behind. */
static inline void tm_free(struct tm_fixture *f)
{
    for (int i = 0; i < TM_MAX_CONN; i++)
        if (f->conns[i])
            tm_close(f, f->conns[i]);
    if (f->srv) {
        mcp_live_end_all(&f->ctx);
        assert_true(tm_run_until(f, tm_no_connections, f, TM_WAIT_MS));
        http_server_shutdown(f->srv, 200, tm_on_shutdown, f);
        assert_true(tm_run_until(f, tm_flag, &f->shutdown_done, TM_WAIT_MS));
    } else {
        mcp_live_end_all(&f->ctx);
    }
    store_close(f->ctx.store, tm_on_store_closed, f);
    assert_true(tm_run_until(f, tm_flag, &f->store_closed, TM_WAIT_MS));
    uv_close((uv_handle_t *)&f->tick, NULL);
    for (int i = 0; i < 100 && uv_loop_alive(&f->loop); i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_false(uv_loop_alive(&f->loop));
    assert_int_equal(uv_loop_close(&f->loop), 0);
    mcp_dispatch_free(f->ctx.dispatch);
    assert_int_equal(hashmap_count(f->ctx.live), 0);
    hashmap_free(f->ctx.live);
    mcp_session_forget_touches(&f->ctx);
    free(f);
}

#endif
