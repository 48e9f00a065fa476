/*
 * http_client: libcurl multi in socket-action mode on libuv (the pattern of curl's
 * docs/examples/multi-uv.c). curl owns the connections and the protocol; we own the waiting:
 * CURLMOPT_SOCKETFUNCTION maps each curl socket to a uv_poll, CURLMOPT_TIMERFUNCTION drives one
 * uv_timer, and both call curl_multi_socket_action, after which finished transfers are collected
 * with curl_multi_info_read. Easy handles live for one request; the connection pool lives in the
 * multi handle, so consecutive requests to the same host reuse a kept-alive connection.
 */
#include "http/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/buf.h"
#include "lib/log.h"

/* Pooled connections kept open in total; more concurrent requests queue inside curl. */
#define HC_MAX_CONNECTIONS 64

struct hc_request {
    struct http_client *c;
    CURL *easy;
    struct curl_slist *headers;
    struct buf body;     /* response body, limit = max_response_bytes */
    bool too_big;        /* the write callback refused bytes past the limit */
    bool addr_refused;   /* public_only: the open-socket callback refused an address */
    char *cache_control; /* caller's buffer for the Cache-Control value, or NULL */
    size_t cache_control_size;
    http_client_fn cb;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    struct hc_request *prev, *next; /* the client's in-flight list */
};

/* One watched curl socket. Lives from curl's first interest in the socket until
 * CURL_POLL_REMOVE (or close), then until its uv_close callback. */
struct hc_socket {
    uv_poll_t poll;
    curl_socket_t fd;
    struct http_client *c;
    struct hc_socket *prev, *next; /* the client's socket list */
};

struct http_client {
    uv_loop_t *loop;
    struct logger *log;
    CURLM *multi;
    uv_timer_t timer;
    struct hc_request *requests; /* in flight */
    size_t in_flight;
    struct hc_socket *sockets; /* watched, not yet closing */
    unsigned open_handles;     /* timer + polls not yet through their close callback */
    bool closing;
    void (*done)(void *);
    void *done_arg;
};

static void list_unlink_request(struct http_client *c, struct hc_request *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void request_free(struct hc_request *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    buf_free(&r->body);
    free(r);
}

/* ------------------------------------------------------------------ completion --- */

static int map_error(const struct hc_request *r, CURLcode rc)
{
    if (r->too_big || rc == CURLE_FILESIZE_EXCEEDED)
        return HTTP_CLIENT_ERR_TOO_BIG;
    if (r->addr_refused)
        return HTTP_CLIENT_ERR_ADDRESS;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return HTTP_CLIENT_ERR_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return HTTP_CLIENT_ERR_CONNECT;
    default:
        return HTTP_CLIENT_ERR;
    }
}

static const char *error_text(int status, const struct hc_request *r, CURLcode rc)
{
    switch (status) {
    case HTTP_CLIENT_ERR_TOO_BIG:
        return "response too large";
    case HTTP_CLIENT_ERR_CANCELED:
        return "request canceled";
    case HTTP_CLIENT_ERR_ADDRESS:
        return "the host resolves to a non-public address";
    default:
        return r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
    }
}

/* r is off the client's list: detach it from the multi handle, run its callback once, free
 * it. */
static void request_deliver(struct hc_request *r, int status, CURLcode rc)
{
    struct http_client *c = r->c;
    c->in_flight--;
    if (c->multi)
        curl_multi_remove_handle(c->multi, r->easy);
    const char *body = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    const char *err = NULL;
    if (status < 0) {
        err = error_text(status, r, rc);
        body = "";
        len = 0;
        log_msgf(c->log, LOG_DEBUG, "http_client: request failed: %s", err);
    }
    r->cb(r->arg, status, body, len, err);
    request_free(r);
}

static void copy_cache_control(struct hc_request *r)
{
    struct curl_header *h = NULL;
    if (!r->cache_control || !r->cache_control_size)
        return;
    r->cache_control[0] = '\0';
    if (curl_easy_header(r->easy, "Cache-Control", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
        snprintf(r->cache_control, r->cache_control_size, "%s", h->value);
}

static void request_finished(struct hc_request *r, CURLcode rc)
{
    long code = 0;
    if (rc == CURLE_OK && !r->too_big) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        copy_cache_control(r);
    }
    int status = code >= 100 ? (int)code : map_error(r, rc == CURLE_OK ? CURLE_RECV_ERROR : rc);
    list_unlink_request(r->c, r);
    request_deliver(r, status, rc);
}

/* Collect finished transfers. A callback may close the client; then the multi handle is gone
 * and the loop stops. */
static void collect_done(struct http_client *c)
{
    CURLMsg *msg;
    int left;
    while (!c->closing && (msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct hc_request *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode rc = msg->data.result; /* msg is invalid once the handle is removed */
        request_finished(r, rc);
    }
}

/* ---------------------------------------------------------- loop <-> curl glue --- */

static void maybe_finish_close(struct http_client *c)
{
    if (!c->closing || c->open_handles > 0)
        return;
    void (*done)(void *) = c->done;
    void *arg = c->done_arg;
    free(c);
    /* Balances the curl_global_init of http_client_new; libcurl counts the calls. */
    curl_global_cleanup();
    if (done)
        done(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct http_client *c;
    if (h->type == UV_POLL) {
        struct hc_socket *s = h->data;
        c = s->c;
        free(s);
    } else {
        c = h->data;
    }
    c->open_handles--;
    maybe_finish_close(c);
}

static void socket_release(struct hc_socket *s)
{
    struct http_client *c = s->c;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->sockets = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct hc_socket *s = h->data;
    struct http_client *c = s->c;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    /* s may be released by the socket callback inside this call: use only c afterwards. */
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    collect_done(c);
}

static struct hc_socket *socket_watch(struct http_client *c, curl_socket_t fd)
{
    struct hc_socket *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->fd = fd;
    s->c = c;
    s->poll.data = s;
    s->next = c->sockets;
    if (c->sockets)
        c->sockets->prev = s;
    c->sockets = s;
    c->open_handles++;
    curl_multi_assign(c->multi, fd, s);
    return s;
}

/* CURLMOPT_SOCKETFUNCTION: curl says which events it wants on a socket, or that it is done. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct http_client *c = userp;
    struct hc_socket *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (!c->closing) /* during curl_multi_cleanup the socket hash is being torn down */
                curl_multi_assign(c->multi, fd, NULL);
            socket_release(s);
        }
        return 0;
    }
    if (!s && !(s = socket_watch(c, fd)))
        return -1; /* curl fails the transfer */
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timer(uv_timer_t *t)
{
    struct http_client *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(c);
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle; -1 means none is needed. A
 * zero timeout still goes through the loop, because curl forbids calling socket_action from
 * inside this callback. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_client *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ------------------------------------------------------------------ public API --- */

struct http_client *http_client_new(uv_loop_t *loop, struct logger *log)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    struct http_client *c = calloc(1, sizeof *c);
    if (!c || !(c->multi = curl_multi_init())) {
        free(c);
        curl_global_cleanup();
        return NULL;
    }
    c->loop = loop;
    c->log = log;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)HC_MAX_CONNECTIONS);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)HC_MAX_CONNECTIONS);
    return c;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct hc_request *r = userp;
    size_t n = size * nmemb;
    if (buf_append(&r->body, data, n) != BUF_OK) {
        r->too_big = true; /* a short count makes curl abort with CURLE_WRITE_ERROR */
        return 0;
    }
    return n;
}

static int request_headers(struct hc_request *r, const struct http_client_req *req)
{
    /* "Expect:" stops curl from waiting for 100-continue before sending larger bodies. */
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    for (const char *const *h = req->headers; l && h && *h; h++) {
        struct curl_slist *n = curl_slist_append(l, *h);
        if (!n) {
            curl_slist_free_all(l);
            return -1;
        }
        l = n;
    }
    r->headers = l;
    return l ? 0 : -1;
}

static void request_method(CURL *e, const struct http_client_req *req)
{
    const char *m = req->method ? req->method : "GET";
    if (req->body || strcmp(m, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
        if (strcmp(m, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    } else if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    }
}

/* ------------------------------------------------------------- address policy --- */

static bool v4_public(uint32_t a) /* host byte order */
{
    static const struct {
        uint32_t net, mask;
    } blocked[] = {
        {0x00000000, 0xff000000}, /* 0/8 "this network" */
        {0x0a000000, 0xff000000}, /* 10/8 */
        {0x64400000, 0xffc00000}, /* 100.64/10 carrier-grade NAT */
        {0x7f000000, 0xff000000}, /* 127/8 loopback */
        {0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local (cloud metadata) */
        {0xac100000, 0xfff00000}, /* 172.16/12 */
        {0xc0000000, 0xffffff00}, /* 192.0.0/24 protocol assignments */
        {0xc0000200, 0xffffff00}, /* 192.0.2/24 documentation */
        {0xc0a80000, 0xffff0000}, /* 192.168/16 */
        {0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
        {0xc6336400, 0xffffff00}, /* 198.51.100/24 documentation */
        {0xcb007100, 0xffffff00}, /* 203.0.113/24 documentation */
        {0xe0000000, 0xe0000000}, /* 224/3: multicast, reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++) {
        if ((a & blocked[i].mask) == blocked[i].net)
            return false;
    }
    return true;
}

static uint32_t v4_at(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool v6_public(const uint8_t *b)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_public(v4_at(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) /* 2002::/16 6to4 carries an IPv4 address */
        return v4_public(v4_at(b + 2));
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* 2001:db8::/32 */
        return false;
    /* Global unicast is 2000::/3; everything else (::, ::1, fc00::/7, fe80::/10, ff00::/8,
     * 100::/64, the IPv4-compatible ::/96) is not for us to fetch from. */
    return (b[0] & 0xe0) == 0x20;
}

bool http_client_addr_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return v4_public(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return v6_public(in6->sin6_addr.s6_addr);
    }
    return false;
}

/* CURLOPT_OPENSOCKETFUNCTION: called with each resolved address before connecting, so a name
 * that resolves to an internal address (or re-resolves to one: DNS rebinding) is never
 * reached. */
static curl_socket_t open_socket(void *userp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct hc_request *r = userp;
    if (purpose != CURLSOCKTYPE_IPCXN || !http_client_addr_public(&a->addr)) {
        r->addr_refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static void request_policy(struct hc_request *r, const struct http_client_req *req)
{
    CURL *e = r->easy;
    if (req->https_only) {
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    }
    if (req->public_only) {
        curl_easy_setopt(e, CURLOPT_PROXY, ""); /* a proxy would hide the real address */
        /* A pooled connection was checked (or not) for another request: never reuse one. */
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r);
    }
    if (req->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
    r->cache_control = req->cache_control;
    r->cache_control_size = req->cache_control_size;
}

static int request_setup(struct hc_request *r, const struct http_client_req *req)
{
    CURL *e = r->easy;
    uint64_t timeout = req->timeout_ms ? req->timeout_ms : HTTP_CLIENT_DEFAULT_TIMEOUT_MS;
    size_t max = req->max_response_bytes ? req->max_response_bytes : HTTP_CLIENT_DEFAULT_MAX_BYTES;
    buf_init(&r->body, max);
    if (request_headers(r, req) != 0)
        return -1;
    /* Only plain HTTP(S), also after redirects (which are not followed anyway): a URL from
     * configuration or metadata must not turn into file:// or gopher:// (SSRF hardening). */
    if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return -1;
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    request_method(e, req);
    request_policy(r, req);
    return 0;
}

int http_client_request(struct http_client *c, const struct http_client_req *req, http_client_fn cb,
                        void *arg)
{
    if (!c || c->closing || !req || !req->url || !cb || c->in_flight >= HTTP_CLIENT_MAX_IN_FLIGHT)
        return -1;
    if ((strncmp(req->url, "http://", 7) != 0 || req->https_only) &&
        strncmp(req->url, "https://", 8) != 0)
        return -1;
    struct hc_request *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    if (!(r->easy = curl_easy_init()) || request_setup(r, req) != 0 ||
        curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
        request_free(r);
        return -1;
    }
    r->next = c->requests;
    if (c->requests)
        c->requests->prev = r;
    c->requests = r;
    c->in_flight++;
    return 0;
}

size_t http_client_in_flight(const struct http_client *c)
{
    return c ? c->in_flight : 0;
}

void http_client_close(struct http_client *c, void (*done)(void *arg), void *arg)
{
    if (!c || c->closing)
        return;
    /* Cancel first, while the multi handle is intact: callbacks may still look at the client
     * (and are refused if they try to start requests, since closing is set). */
    c->closing = true;
    c->done = done;
    c->done_arg = arg;
    struct hc_request *r;
    while ((r = c->requests) != NULL) {
        c->requests = r->next; /* pop here, so each pass sees the new head */
        if (r->next)
            r->next->prev = NULL;
        r->next = NULL;
        request_deliver(r, HTTP_CLIENT_ERR_CANCELED, CURLE_ABORTED_BY_CALLBACK);
    }
    /* Closes the pooled connections; curl may report their sockets removed on the way. */
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->sockets)
        socket_release(c->sockets);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}
