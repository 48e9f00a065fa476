/*
 * call: the lifetime of one client request being handled (feature.h). A call is freed once it
 * has been answered (or cancelled) and no handler of it is running; its timers and outstanding
 * server->client requests are dropped then, so a late timer or reply never reaches a freed call.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "app/metrics.h"
#include "lib/log.h"
#include "mcp/call_internal.h"
#include "mcp/jsonrpc.h"
#include "mcp/limits.h"

struct call_timer {
    uv_timer_t handle;
    struct mcp_call *call; /* NULL once the call is gone */
    mcp_timer_fn fn;
    void *arg;
    struct call_timer *next;
};

struct call_request {
    struct mcp_call *call; /* NULL once the call is gone */
    json_int_t id;         /* -1 until the session has issued one */
    char *method;
    json_t *params;
    uint64_t timeout_ms;
    mcp_reply_fn fn;
    void *arg;
    uv_timer_t timer;
    bool timer_started;
    bool awaiting; /* registered with the live session */
    struct call_request *next;
};

static void call_free(struct mcp_call *c);

static void on_live_session_end(struct mcp_live_call *lc, const char *why);
static void on_live_cancel(struct mcp_live_call *lc);

struct mcp_call *mcp_call_new(struct mcp_ctx *ctx, const struct mcp_session *sess,
                              const json_t *request, struct mcp_sink *sink)
{
    struct mcp_call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ctx = ctx;
    mcp_session_copy(&c->sess, sess);
    c->request = json_incref((json_t *)request);
    c->id = json_object_get(request, "id");
    c->method = json_string_value(json_object_get(request, "method"));
    json_t *params = json_object_get(request, "params");
    c->params = json_is_object(params) ? json_incref(params) : json_object();
    c->sink = sink;
    sink->call = c;
    c->started_ms = uv_now(ctx->loop);
    c->live_entry =
        (struct mcp_live_call){.on_session_end = on_live_session_end, .on_cancel = on_live_cancel};
    ctx->calls_in_flight++;
    return c;
}

void mcp_call_enter(struct mcp_call *c)
{
    c->running++;
}

void mcp_call_leave(struct mcp_call *c)
{
    if (c->running == 1 && c->mrtr && !c->answered && !c->cancelled)
        mcp_mrtr_idle(c);
    if (--c->running == 0 && (c->answered || c->cancelled))
        call_free(c);
}

static void timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void request_closed(uv_handle_t *h)
{
    struct call_request *r = h->data;
    free(r->method);
    json_decref(r->params);
    free(r);
}

static void request_dispose(struct call_request *r)
{
    if (r->awaiting && r->call && r->call->live)
        mcp_live_cancel_reply(r->call->live, r->id);
    r->awaiting = false;
    r->call = NULL;
    if (r->timer_started) {
        uv_timer_stop(&r->timer);
        uv_close((uv_handle_t *)&r->timer, request_closed);
    } else if (r->id >= 0) {
        free(r->method);
        json_decref(r->params);
        free(r);
    }
    /* else: the id request is still in the store; on_request_id frees r */
}

static void stateless_unlist(struct mcp_call *c)
{
    if (!c->sl_listed)
        return;
    if (c->sl_prev)
        c->sl_prev->sl_next = c->sl_next;
    else
        c->ctx->stateless_calls = c->sl_next;
    if (c->sl_next)
        c->sl_next->sl_prev = c->sl_prev;
    c->sl_listed = false;
}

static void stateless_list(struct mcp_call *c)
{
    c->sl_prev = NULL;
    c->sl_next = c->ctx->stateless_calls;
    if (c->sl_next)
        c->sl_next->sl_prev = c;
    c->ctx->stateless_calls = c;
    c->sl_listed = true;
}

void mcp_call_end_stateless(struct mcp_ctx *ctx, const char *why)
{
    while (ctx->stateless_calls) {
        struct mcp_call *c = ctx->stateless_calls;
        stateless_unlist(c); /* before answering: the answer may free it */
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, why, NULL);
    }
}

static void call_free(struct mcp_call *c)
{
    stateless_unlist(c);
    while (c->timers) {
        struct call_timer *t = c->timers;
        c->timers = t->next;
        t->call = NULL;
        uv_timer_stop(&t->handle);
        uv_close((uv_handle_t *)&t->handle, timer_closed);
    }
    while (c->requests) {
        struct call_request *r = c->requests;
        c->requests = r->next;
        request_dispose(r);
    }
    if (c->mrtr)
        mcp_mrtr_free(c->mrtr);
    if (c->state_free)
        c->state_free(c->state);
    if (c->live) {
        mcp_live_remove_call(c->live, c->id);
        mcp_live_release(c->live);
    }
    mcp_session_free(&c->sess);
    json_decref(c->params);
    json_decref(c->request);
    c->ctx->calls_in_flight--;
    free(c);
}

static struct call_timer *call_timer_start(struct mcp_call *c, uint64_t ms, mcp_timer_fn fn,
                                           void *arg);

/* MAX_CALL_DURATION_MS: whatever the call waits on (a tool's timers, a client that never
 * answers, a client that went away and never resumes), it is answered and released. */
static void on_deadline(struct mcp_call *c, void *arg)
{
    log_write(c->ctx->log, LOG_WARNING, "call ended: longer than MAX_CALL_DURATION_MS",
              json_pack("{s:s,s:I}", "method", c->method ? c->method : "", "max_call_duration_ms",
                        (json_int_t)mcp_limit_call_duration_ms(c->ctx)));
    mcp_call_error(c, JSONRPC_INTERNAL_ERROR,
                   "Request timed out: the call ran longer than the server allows "
                   "(MAX_CALL_DURATION_MS)",
                   NULL);
}

/* The call is about to wait: make it reachable for cancellation and session end, and give it
 * its deadline (counted from its start). */
static int call_go_live(struct mcp_call *c)
{
    if (c->live || c->deadline_set)
        return 0;
    uint64_t elapsed = uv_now(c->ctx->loop) - c->started_ms;
    uint64_t max = mcp_limit_call_duration_ms(c->ctx);
    c->deadline_set = true;
    if (c->sess.stateless) { /* no session to end or cancel it: the deadline and shutdown */
        stateless_list(c);
        return call_timer_start(c, elapsed < max ? max - elapsed : 0, on_deadline, NULL) ? 0 : -1;
    }
    c->live = mcp_live_acquire(c->ctx, c->sess.id, true);
    if (!c->live)
        return -1;
    if (c->id && mcp_live_add_call(c->live, c->id, &c->live_entry) != 0)
        return -1;
    if (!call_timer_start(c, elapsed < max ? max - elapsed : 0, on_deadline, NULL))
        return -1;
    return 0;
}

static void call_finish(struct mcp_call *c, json_t *msg)
{
    if (c->answered || c->cancelled) {
        json_decref(msg);
        return;
    }
    c->answered = true;
    if (c->ctx->metrics)
        metrics_count_call(c->ctx->metrics, c->method,
                           json_object_get(msg, "error") ? METRICS_CALL_ERROR : METRICS_CALL_OK);
    struct mcp_sink *sink = c->sink;
    c->sink = NULL;
    sink->call = NULL;
    c->running++;
    sink->emit(sink, msg, true);
    mcp_call_leave(c);
}

void mcp_call_result(struct mcp_call *c, json_t *result)
{
    call_finish(c, jsonrpc_result(c->id, result));
}

void mcp_call_error(struct mcp_call *c, int code, const char *message, json_t *data)
{
    call_finish(c, jsonrpc_error(c->id, code, message, data));
}

void mcp_call_tool_error(struct mcp_call *c, const char *text)
{
    json_t *result =
        json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 1);
    mcp_call_result(c, result);
}

/* No response is sent: the sink gets a final NULL, or the error its transport must answer. */
static void call_cancel(struct mcp_call *c)
{
    if (c->answered || c->cancelled)
        return;
    c->cancelled = true;
    if (c->ctx->metrics)
        metrics_count_call(c->ctx->metrics, c->method, METRICS_CALL_CANCELLED);
    struct mcp_sink *sink = c->sink;
    c->sink = NULL;
    sink->call = NULL;
    c->running++;
    sink->emit(sink,
               sink->answer_cancel
                   ? jsonrpc_error(c->id, JSONRPC_INTERNAL_ERROR, MCP_CANCELLED_MESSAGE, NULL)
                   : NULL,
               true);
    mcp_call_leave(c);
}

void mcp_call_sink_gone(struct mcp_sink *sink)
{
    if (!sink->call)
        return;
    sink->answer_cancel = false; /* nobody is left to read an answer */
    call_cancel(sink->call);
}

void mcp_call_notify(struct mcp_call *c, const char *method, json_t *params)
{
    if (c->answered || c->cancelled) {
        json_decref(params);
        return;
    }
    c->sink->emit(c->sink, jsonrpc_notification(method, params), false);
}

void mcp_call_progress(struct mcp_call *c, double progress, double total, const char *message)
{
    json_t *meta = json_object_get(c->params, "_meta");
    json_t *token = json_object_get(meta, "progressToken");
    if (!json_is_string(token) && !json_is_integer(token))
        return;
    /* Key order as the reference server's SDK emits it: progress, total, message, progressToken. */
    json_t *params = json_object();
    json_object_set_new(params, "progress", json_real(progress));
    if (total >= 0)
        json_object_set_new(params, "total", json_real(total));
    if (message)
        json_object_set_new(params, "message", json_string(message));
    json_object_set_new(params, "progressToken", json_deep_copy(token));
    mcp_call_notify(c, "notifications/progress", params);
}

void mcp_call_log(struct mcp_call *c, const char *level, const char *logger, json_t *data)
{
    int idx = mcp_log_level_index(level);
    /* 2026-07-28: no log messages unless the request asked for them (_meta logLevel). */
    bool unasked = c->sess.stateless && c->sess.log_level < 0;
    if (idx < 0 || unasked || (c->sess.log_level >= 0 && idx < c->sess.log_level)) {
        json_decref(data);
        return;
    }
    json_t *params = json_object();
    json_object_set_new(params, "level", json_string(level));
    if (logger)
        json_object_set_new(params, "logger", json_string(logger));
    json_object_set_new(params, "data", data ? data : json_null());
    mcp_call_notify(c, "notifications/message", params);
}

void mcp_call_close_stream(struct mcp_call *c, uint64_t retry_ms)
{
    if (!c->answered && !c->cancelled && c->sink->close_stream)
        c->sink->close_stream(c->sink, retry_ms);
}

static void on_timer(uv_timer_t *h)
{
    struct call_timer *t = h->data;
    struct mcp_call *c = t->call;
    for (struct call_timer **p = &c->timers; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    uv_close((uv_handle_t *)h, timer_closed);
    mcp_call_enter(c);
    t->fn(c, t->arg);
    mcp_call_leave(c);
}

static struct call_timer *call_timer_start(struct mcp_call *c, uint64_t ms, mcp_timer_fn fn,
                                           void *arg)
{
    struct call_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    uv_timer_init(c->ctx->loop, &t->handle);
    t->handle.data = t;
    t->call = c;
    t->fn = fn;
    t->arg = arg;
    t->next = c->timers;
    c->timers = t;
    uv_timer_start(&t->handle, on_timer, ms, 0);
    return t;
}

int mcp_call_after(struct mcp_call *c, uint64_t ms, mcp_timer_fn fn, void *arg)
{
    if (c->answered || c->cancelled || call_go_live(c) != 0)
        return -1;
    return call_timer_start(c, ms, fn, arg) ? 0 : -1;
}

static void unlink_request(struct mcp_call *c, struct call_request *r)
{
    for (struct call_request **p = &c->requests; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

/* The reply (or timeout, or session end) for a server->client request. */
static void request_complete(struct call_request *r, const json_t *response)
{
    struct mcp_call *c = r->call;
    unlink_request(c, r);
    r->awaiting = false;
    json_t *timeout = NULL;
    const json_t *result = NULL, *error = NULL;
    if (!response) {
        timeout = json_pack("{s:i,s:s}", "code", MCP_ERROR_REQUEST_TIMEOUT, "message",
                            "Request timed out");
        error = timeout;
    } else if (json_object_get(response, "result")) {
        result = json_object_get(response, "result");
    } else {
        error = json_object_get(response, "error");
    }
    mcp_reply_fn fn = r->fn;
    void *arg = r->arg;
    r->call = NULL;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, request_closed);
    mcp_call_enter(c);
    fn(c, result, error, arg);
    mcp_call_leave(c);
    json_decref(timeout);
}

static void on_reply(void *arg, const json_t *response)
{
    request_complete(arg, response);
}

static void on_request_timeout(uv_timer_t *h)
{
    struct call_request *r = h->data;
    if (r->awaiting)
        mcp_live_cancel_reply(r->call->live, r->id);
    r->awaiting = false;
    request_complete(r, NULL);
}

static void send_request(struct call_request *r)
{
    struct mcp_call *c = r->call;
    json_t *params = r->params;
    r->params = NULL;
    if (c && !c->answered && !c->cancelled)
        c->sink->emit(c->sink, jsonrpc_request(r->id, r->method, params), false);
    else
        json_decref(params);
}

/* The instance now hears replies POSTed anywhere: the request may go out. */
static void on_listening(void *arg)
{
    send_request(arg);
}

static void on_request_id(void *arg, int status, long long id)
{
    struct call_request *r = arg;
    struct mcp_call *c = r->call;
    r->id = id;
    if (!c) { /* the call ended while the id was being issued */
        free(r->method);
        json_decref(r->params);
        free(r);
        return;
    }
    int listening = status == 0 ? mcp_live_await_reply(c->live, id, on_reply, on_listening, r) : -1;
    if (listening < 0) {
        r->id = -1;
        uv_timer_init(c->ctx->loop, &r->timer);
        r->timer.data = r;
        r->timer_started = true;
        request_complete(r, NULL);
        return;
    }
    r->awaiting = true;
    uv_timer_init(c->ctx->loop, &r->timer);
    r->timer.data = r;
    r->timer_started = true;
    uv_timer_start(&r->timer, on_request_timeout, r->timeout_ms, 0);
    if (listening == 1)
        send_request(r);
}

int mcp_call_request(struct mcp_call *c, const char *method, json_t *params, uint64_t timeout_ms,
                     mcp_reply_fn fn, void *arg)
{
    return mcp_call_request_as(c, NULL, method, params, timeout_ms, fn, arg);
}

int mcp_call_request_as(struct mcp_call *c, const char *key, const char *method, json_t *params,
                        uint64_t timeout_ms, mcp_reply_fn fn, void *arg)
{
    if (c->sess.stateless) /* 2026-07-28: asked in an input_required result (MRTR) */
        return mcp_mrtr_ask(c, key, method, params, fn, arg);
    if (c->answered || c->cancelled || call_go_live(c) != 0) {
        json_decref(params);
        return -1;
    }
    struct call_request *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(params);
        return -1;
    }
    r->call = c;
    r->id = -1;
    r->method = strdup(method);
    r->params = params ? params : json_object();
    r->timeout_ms = timeout_ms ? timeout_ms
                               : (c->ctx->cfg && c->ctx->cfg->request_timeout_ms
                                      ? c->ctx->cfg->request_timeout_ms
                                      : 60000);
    r->fn = fn;
    r->arg = arg;
    r->next = c->requests;
    c->requests = r;
    if (mcp_session_next_request_id(c->ctx, c->sess.id, on_request_id, r) != 0) {
        unlink_request(c, r);
        free(r->method);
        json_decref(r->params);
        free(r);
        return -1;
    }
    return 0;
}

void mcp_call_set_state(struct mcp_call *c, void *state, void (*free_fn)(void *))
{
    if (c->state_free)
        c->state_free(c->state);
    c->state = state;
    c->state_free = free_fn;
}

void *mcp_call_state(const struct mcp_call *c)
{
    return c->state;
}

const json_t *mcp_call_params(const struct mcp_call *c)
{
    return c->params;
}

const char *mcp_call_method(const struct mcp_call *c)
{
    return c->method;
}

const char *mcp_call_session_id(const struct mcp_call *c)
{
    return c->sess.id;
}

const char *mcp_call_user(const struct mcp_call *c)
{
    return c->sess.owner;
}

const char *mcp_call_protocol_version(const struct mcp_call *c)
{
    return c->sess.protocol_version;
}

/* The capabilities are parsed on first use; that cache is the only thing these "const"
 * accessors change. */
const json_t *mcp_call_client_capabilities(const struct mcp_call *c)
{
    return mcp_session_capabilities((struct mcp_session *)&c->sess);
}

bool mcp_call_client_supports(const struct mcp_call *c, const char *path)
{
    const json_t *node = mcp_call_client_capabilities(c);
    char part[64];
    while (node && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof part)
            return false;
        memcpy(part, path, n);
        part[n] = '\0';
        node = json_object_get(node, part);
        path += n + (path[n] == '.');
    }
    return node != NULL;
}

struct store *mcp_call_store(const struct mcp_call *c)
{
    return c->ctx->store;
}

uint64_t mcp_call_max_duration_ms(const struct mcp_call *c)
{
    return mcp_limit_call_duration_ms(c->ctx);
}

unsigned mcp_call_max_tool_steps(const struct mcp_call *c)
{
    return mcp_limit_tool_steps(c->ctx);
}

static struct mcp_call *call_of_live_entry(struct mcp_live_call *lc)
{
    return (struct mcp_call *)((char *)lc - offsetof(struct mcp_call, live_entry));
}

static void on_live_session_end(struct mcp_live_call *lc, const char *why)
{
    mcp_call_error(call_of_live_entry(lc), JSONRPC_INTERNAL_ERROR, why, NULL);
}

static void on_live_cancel(struct mcp_live_call *lc)
{
    call_cancel(call_of_live_entry(lc));
}
