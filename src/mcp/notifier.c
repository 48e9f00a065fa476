#include "mcp/notifier.h"

#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "lib/json.h"
#include "mcp/dispatch.h"
#include "mcp/feature.h"
#include "mcp/jsonrpc.h"
#include "mcp/session.h"
#include "store/store.h"

#define MAX_TIMERS 16

struct pack_timer {
    uv_timer_t handle;
    struct mcp_notifier *owner;
    const struct mcp_pack_timer *def;
};

/* Freed when stopped and every pending store read and timer handle has come back. */
struct mcp_notifier {
    struct mcp_ctx *ctx;
    char sid[MCP_SESSION_ID_MAX + 1];
    mcp_notifier_write_fn write;
    mcp_notifier_send_fn send; /* a listen stream's, instead of write */
    const char *const *uris;   /* a listen stream's subscriptions */
    size_t uri_count;
    void *arg;
    bool stopped;
    unsigned refs;
    struct pack_timer *timers[MAX_TIMERS];
    size_t timer_count;
};

static void notifier_unref(struct mcp_notifier *n)
{
    if (--n->refs == 0)
        free(n);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct pack_timer *t = h->data;
    struct mcp_notifier *n = t->owner;
    free(t);
    notifier_unref(n);
}

static void on_tick(uv_timer_t *h)
{
    struct pack_timer *t = h->data;
    if (!t->owner->stopped)
        t->def->fire(t->owner);
}

static uint64_t scaled(const struct mcp_ctx *ctx, uint64_t period)
{
    unsigned pct = ctx->cfg && ctx->cfg->timer_scale_percent ? ctx->cfg->timer_scale_percent : 100;
    uint64_t ms = period * pct / 100;
    return ms ? ms : 1;
}

static struct mcp_notifier *notifier_start(struct mcp_notifier *n, struct mcp_ctx *ctx)
{
    n->ctx = ctx;
    n->refs = 1;
    for (size_t p = 0; p < mcp_dispatch_pack_count(ctx->dispatch); p++) {
        const struct mcp_feature_pack *pack = mcp_dispatch_pack(ctx->dispatch, p);
        for (size_t i = 0; i < pack->timer_count && n->timer_count < MAX_TIMERS; i++) {
            struct pack_timer *t = calloc(1, sizeof *t);
            if (!t)
                continue;
            t->owner = n;
            t->def = &pack->timers[i];
            uv_timer_init(ctx->loop, &t->handle);
            t->handle.data = t;
            uint64_t period = scaled(ctx, t->def->period_ms);
            /* The first fire comes one period after the stream opens, as the reference server's. */
            uv_timer_start(&t->handle, on_tick, period, period);
            n->timers[n->timer_count++] = t;
            n->refs++;
        }
    }
    if (n->timer_count == 0) {
        free(n);
        return NULL;
    }
    return n;
}

struct mcp_notifier *mcp_notifier_start(struct mcp_ctx *ctx, const char *sid,
                                        mcp_notifier_write_fn write, void *arg)
{
    struct mcp_notifier *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    snprintf(n->sid, sizeof n->sid, "%s", sid);
    n->write = write;
    n->arg = arg;
    return notifier_start(n, ctx);
}

struct mcp_notifier *mcp_notifier_start_listen(struct mcp_ctx *ctx, mcp_notifier_send_fn send,
                                               const char *const *uris, size_t count, void *arg)
{
    struct mcp_notifier *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->send = send;
    n->uris = uris;
    n->uri_count = count;
    n->arg = arg;
    return notifier_start(n, ctx);
}

void mcp_notifier_stop(struct mcp_notifier *n)
{
    if (!n || n->stopped)
        return;
    n->stopped = true;
    for (size_t i = 0; i < n->timer_count; i++) {
        uv_timer_stop(&n->timers[i]->handle);
        uv_close((uv_handle_t *)&n->timers[i]->handle, on_timer_closed);
    }
    notifier_unref(n);
}

const char *mcp_notifier_session_id(const struct mcp_notifier *n)
{
    return n->sid;
}

void mcp_notifier_send(struct mcp_notifier *n, const char *method, json_t *params)
{
    if (n->stopped) {
        json_decref(params);
        return;
    }
    if (n->send) {
        n->send(n->arg, method, params);
        return;
    }
    json_t *msg = jsonrpc_notification(method, params);
    size_t len = 0;
    char *text = json_serialize(msg, &len);
    if (text)
        n->write(n->arg, text, len);
    free(text);
    json_decref(msg);
}

struct pending_log {
    struct mcp_notifier *n;
    int level;
    char *logger;
    json_t *data;
};

static void on_level(void *arg, int status, const char *value, size_t len)
{
    struct pending_log *pl = arg;
    struct mcp_notifier *n = pl->n;
    char name[16] = "";
    if (value && len < sizeof name)
        memcpy(name, value, len);
    int session_level = status == STORE_OK ? mcp_log_level_index(name) : -1;
    if (!n->stopped && (session_level < 0 || pl->level >= session_level)) {
        json_t *params = json_object();
        json_object_set_new(params, "level", json_string(mcp_log_levels[pl->level]));
        if (pl->logger)
            json_object_set_new(params, "logger", json_string(pl->logger));
        json_object_set(params, "data", pl->data);
        mcp_notifier_send(n, "notifications/message", params);
    }
    json_decref(pl->data);
    free(pl->logger);
    free(pl);
    notifier_unref(n);
}

void mcp_notifier_log(struct mcp_notifier *n, const char *level, const char *logger, json_t *data)
{
    int idx = mcp_log_level_index(level);
    struct pending_log *pl = idx >= 0 && !n->stopped && !n->send ? calloc(1, sizeof *pl) : NULL;
    if (!pl) {
        json_decref(data);
        return;
    }
    pl->n = n;
    pl->level = idx;
    pl->logger = logger ? strdup(logger) : NULL;
    pl->data = data ? data : json_null();
    n->refs++;
    if (store_hget(n->ctx->store, mcp_key_record(n->sid).s, "level", on_level, pl) != STORE_OK) {
        n->refs--;
        json_decref(pl->data);
        free(pl->logger);
        free(pl);
    }
}

struct pending_subs {
    struct mcp_notifier *n;
    mcp_subscriptions_fn fn;
    void *arg;
};

static void on_members(void *arg, int status, const struct store_str *items, size_t count)
{
    struct pending_subs *ps = arg;
    struct mcp_notifier *n = ps->n;
    if (!n->stopped && status == STORE_OK) {
        const char **uris = calloc(count + 1, sizeof *uris);
        char **copies = calloc(count + 1, sizeof *copies);
        size_t k = 0;
        for (size_t i = 0; uris && copies && i < count; i++)
            if ((copies[k] = strndup(items[i].ptr, items[i].len)) != NULL) {
                uris[k] = copies[k];
                k++;
            }
        if (uris && copies)
            ps->fn(n, uris, k, ps->arg);
        for (size_t i = 0; copies && i < k; i++)
            free(copies[i]);
        free(copies);
        free(uris);
    }
    free(ps);
    notifier_unref(n);
}

int mcp_notifier_subscriptions(struct mcp_notifier *n, mcp_subscriptions_fn fn, void *arg)
{
    if (n->send && !n->stopped) {
        fn(n, n->uris, n->uri_count, arg);
        return 0;
    }
    struct pending_subs *ps = n->stopped ? NULL : calloc(1, sizeof *ps);
    if (!ps)
        return -1;
    ps->n = n;
    ps->fn = fn;
    ps->arg = arg;
    n->refs++;
    if (store_smembers(n->ctx->store, mcp_key_subscriptions(n->sid).s, on_members, ps) !=
        STORE_OK) {
        n->refs--;
        free(ps);
        return -1;
    }
    return 0;
}
