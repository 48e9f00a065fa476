/* A real HTTP exchange for unit tests of request handlers: an http_server on 127.0.0.1 port 0
 * with the test's handler, and a blocking client in a thread that sends one request and reads
 * the response to EOF while the test runs the loop. Requests should carry Connection: close. */
#ifndef MCPD_TESTHTTP_H
#define MCPD_TESTHTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "http/http_server.h"

#define TH_RESPONSE_MAX (512 * 1024)

struct th_server {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) returning so the test can poll the client */
    struct http_server *srv;
    int port;
    bool shutdown_done;
};

struct th_client {
    int port;
    const char *req;
    char *data; /* the response, NUL-terminated */
    size_t len;
    atomic_bool done;
};

static inline void th_on_tick(uv_timer_t *t)
{
    (void)t;
}

static inline void th_start(struct th_server *ts, http_handler_fn handler, void *arg)
{
    memset(ts, 0, sizeof *ts);
    assert_int_equal(uv_loop_init(&ts->loop), 0);
    uv_timer_init(&ts->loop, &ts->tick);
    uv_timer_start(&ts->tick, th_on_tick, 2, 2);
    ts->srv = http_server_new(&ts->loop, NULL, NULL, handler, arg);
    assert_non_null(ts->srv);
    assert_int_equal(http_server_listen(ts->srv, "127.0.0.1", 0), 0);
    ts->port = http_server_port(ts->srv);
    assert_true(ts->port > 0);
}

static inline void th_on_shutdown(void *arg)
{
    ((struct th_server *)arg)->shutdown_done = true;
}

/* Run the loop until flag is set (or max_ms passed). */
static inline void th_run_until(struct th_server *ts, const atomic_bool *flag, int max_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (atomic_load(flag))
            return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > max_ms)
            return;
        uv_run(&ts->loop, UV_RUN_ONCE);
    }
}

/* Shut the server down and close the loop; fails the test if a handle was left open. */
static inline void th_stop(struct th_server *ts)
{
    http_server_shutdown(ts->srv, 200, th_on_shutdown, ts);
    for (int i = 0; i < 2000 && !ts->shutdown_done; i++)
        uv_run(&ts->loop, UV_RUN_ONCE);
    assert_true(ts->shutdown_done);
    uv_close((uv_handle_t *)&ts->tick, NULL);
    uv_run(&ts->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&ts->loop), 0);
}

static inline void *th_client_main(void *arg)
{
    struct th_client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        size_t n = strlen(c->req);
        for (size_t off = 0; off < n;) {
            ssize_t w = send(fd, c->req + off, n - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        while (c->len < TH_RESPONSE_MAX && poll(&pfd, 1, 5000) > 0) {
            ssize_t r = recv(fd, c->data + c->len, TH_RESPONSE_MAX - c->len, 0);
            if (r <= 0)
                break;
            c->len += (size_t)r;
        }
    }
    if (fd >= 0)
        close(fd);
    atomic_store(&c->done, true);
    return NULL;
}

/* Send req and return the whole response (malloc'd, NUL-terminated; the caller frees). */
static inline char *th_request(struct th_server *ts, const char *req, size_t *len)
{
    struct th_client c = {.port = ts->port, .req = req};
    c.data = calloc(1, TH_RESPONSE_MAX + 1);
    assert_non_null(c.data);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, th_client_main, &c), 0);
    th_run_until(ts, &c.done, 10000);
    pthread_join(thread, NULL);
    if (len)
        *len = c.len;
    return c.data;
}

static inline int th_status(const char *resp)
{
    return strncmp(resp, "HTTP/1.1 ", 9) == 0 ? atoi(resp + 9) : -1;
}

/* Copy the value of the first response header with this name into out; false if absent. */
static inline bool th_header(const char *resp, const char *name, char *out, size_t out_size)
{
    const char *end = strstr(resp, "\r\n\r\n");
    size_t nlen = strlen(name);
    for (const char *line = strstr(resp, "\r\n"); line && line < end;
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':') {
            const char *v = h + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = (size_t)(strstr(v, "\r\n") - v);
            snprintf(out, out_size, "%.*s", (int)vlen, v);
            return true;
        }
    }
    return false;
}

/* The body: everything after the head (responses here are never chunked). */
static inline const char *th_body(const char *resp, size_t len, size_t *body_len)
{
    const char *end = strstr(resp, "\r\n\r\n");
    assert_non_null(end);
    *body_len = len - (size_t)(end + 4 - resp);
    return end + 4;
}

#endif
