#include "mcp/listen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/metrics.h"
#include "http/http_response.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "mcp/dispatch.h"
#include "mcp/jsonrpc.h"
#include "mcp/limits.h"
#include "mcp/notifier.h"
#include "mcp/session.h"
#include "mcp/tasks.h"
#include "mcp/transport_common.h"

#define META_SUBSCRIPTION "io.modelcontextprotocol/subscriptionId"
#define META_SERVER       "io.modelcontextprotocol/serverInfo"
/* Messages that arrive between the subscriptions taking effect and the acknowledgment wait for
 * it; past this many the rest are dropped (logged). */
#define EARLY_MAX   64
#define CHANNEL_MAX 160

/* ---- channels ---- */

struct listen_channel {
    char s[CHANNEL_MAX];
};

static struct listen_channel list_channel(const char *which)
{
    struct listen_channel c;
    snprintf(c.s, sizeof c.s, "mcp:listen:%s", which);
    return c;
}

static struct listen_channel resource_channel(const char *uri)
{
    char sha[65];
    crypto_sha256_hex(uri, strlen(uri), sha);
    struct listen_channel c;
    snprintf(c.s, sizeof c.s, "mcp:listen:resource:%s", sha);
    return c;
}

static int publish_json(struct store *store, const char *channel, json_t *params)
{
    size_t len = 0;
    char *text = params ? json_serialize(params, &len) : NULL;
    json_decref(params);
    int rc = text ? store_publish(store, channel, text, len, NULL, NULL) : -1;
    free(text);
    return rc == STORE_OK ? 0 : -1;
}

int mcp_listen_publish_list_changed(struct store *store, const char *which)
{
    return publish_json(store, list_channel(which).s, json_object());
}

int mcp_listen_publish_resource_updated(struct store *store, const char *uri)
{
    return publish_json(store, resource_channel(uri).s, json_pack("{s:s}", "uri", uri));
}

/* ---- one stream ---- */

/* One channel a stream follows, and the notification its messages become. */
struct listen_sub {
    struct mcp_listen *ls;
    const char *method;
    const char *uri;                   /* a resource's channel (borrowed from ls->agreed) */
    char task_id[MCP_TASK_ID_LEN + 1]; /* a task's channel */
    bool agreed;                       /* a task's: false until it is found to be the caller's */
    bool looking;                      /* a task's lookup is in flight: its messages are held */
    json_t *held;                      /* those messages, delivered once the task is agreed */
    struct store_sub *sub;
};

struct mcp_listen {
    struct mcp_listen *next, *prev; /* ctx->listens */
    struct mcp_ctx *ctx;
    struct http_exchange *ex; /* NULL once the client left */
    json_t *id;               /* the request's id: the subscription id */
    char *user;
    json_t *agreed;    /* the acknowledged filter */
    json_t *snapshots; /* the found tasks as they were, sent after the acknowledgment */
    json_t *early;     /* [method, params] pairs waiting for the acknowledgment */
    const char **uris; /* the acknowledged resourceSubscriptions, for the packs' timers */
    size_t uri_count;
    struct listen_sub *subs;
    size_t sub_count;
    unsigned waiting; /* confirmations, then task lookups, before the acknowledgment */
    unsigned refs;
    bool failed, acked, ended;
    struct mcp_notifier *notifier;
    uv_timer_t heartbeat;
    bool heartbeat_on;
};

static void listen_unref(struct mcp_listen *ls)
{
    if (--ls->refs > 0)
        return;
    json_decref(ls->id);
    json_decref(ls->agreed);
    json_decref(ls->snapshots);
    json_decref(ls->early);
    for (size_t i = 0; i < ls->sub_count; i++)
        json_decref(ls->subs[i].held);
    free(ls->uris);
    free(ls->subs);
    free(ls->user);
    free(ls);
}

static void on_heartbeat_closed(uv_handle_t *h)
{
    listen_unref(h->data);
}

/* Release everything the stream holds; the exchange is the caller's to end. */
static void listen_end(struct mcp_listen *ls)
{
    if (ls->ended)
        return;
    ls->ended = true;
    if (ls->acked && ls->ctx->metrics)
        metrics_stream_closed(ls->ctx->metrics);
    if (ls->prev)
        ls->prev->next = ls->next;
    else
        ls->ctx->listens = ls->next;
    if (ls->next)
        ls->next->prev = ls->prev;
    for (size_t i = 0; i < ls->sub_count; i++) {
        if (ls->subs[i].sub)
            store_unsubscribe(ls->subs[i].sub);
        ls->subs[i].sub = NULL;
    }
    mcp_notifier_stop(ls->notifier);
    ls->notifier = NULL;
    if (ls->ex)
        http_exchange_set_abort(ls->ex, NULL, NULL);
    ls->ex = NULL;
    if (ls->heartbeat_on) {
        uv_timer_stop(&ls->heartbeat);
        uv_close((uv_handle_t *)&ls->heartbeat, on_heartbeat_closed);
        return; /* the close callback drops the stream's reference */
    }
    listen_unref(ls);
}

static void on_abort(struct http_exchange *ex, void *arg)
{
    struct mcp_listen *ls = arg;
    http_exchange_finish(ex);
    ls->ex = NULL;
    log_write(ls->ctx->log, LOG_DEBUG, "listen stream closed by the client", NULL);
    listen_end(ls);
}

/* Before the acknowledgment: answer an error instead of the stream. */
static void listen_fail(struct mcp_listen *ls, bool store)
{
    if (ls->ex) {
        struct http_exchange *ex = ls->ex;
        http_exchange_set_abort(ex, NULL, NULL);
        ls->ex = NULL;
        if (store)
            mcp_http_store_unavailable(ex, ls->id);
        else
            http_respond_json(ex, 503,
                              jsonrpc_error(ls->id, JSONRPC_INTERNAL_ERROR,
                                            "Service unavailable: server shutting down", NULL));
    }
    listen_end(ls);
}

static void write_message(struct mcp_listen *ls, json_t *msg)
{
    size_t len = 0;
    char *text = json_serialize(msg, &len);
    if (text && ls->ex)
        http_sse_event(ls->ex, NULL, "message", text, len);
    free(text);
    json_decref(msg);
}

/* Every message of the stream names its subscription in _meta. */
static void send_note(struct mcp_listen *ls, const char *method, json_t *params)
{
    if (!json_is_object(params)) {
        json_decref(params);
        params = json_object();
    }
    json_t *meta = json_object_get(params, "_meta");
    meta = json_is_object(meta) ? json_copy(meta) : json_object();
    json_object_set(meta, META_SUBSCRIPTION, ls->id);
    json_object_set_new(params, "_meta", meta);
    write_message(ls, jsonrpc_notification(method, params));
}

static void deliver(struct mcp_listen *ls, const char *method, json_t *params)
{
    if (ls->ended) {
        json_decref(params);
    } else if (ls->acked) {
        send_note(ls, method, params);
    } else if (json_array_size(ls->early) < 2 * EARLY_MAX) {
        json_array_append_new(ls->early, json_string(method));
        json_array_append_new(ls->early, params ? params : json_object());
    } else {
        json_decref(params);
        log_write(ls->ctx->log, LOG_WARNING, "listen stream: notification dropped before ack",
                  json_pack("{s:s}", "method", method));
    }
}

static void on_message(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)channel;
    struct listen_sub *s = arg;
    if (!s->agreed && !s->looking)
        return; /* not the caller's task */
    json_t *params = json_loadb(msg, len, 0, NULL);
    if (!json_is_object(params)) {
        json_decref(params);
    } else if (s->agreed) {
        deliver(s->ls, s->method, params);
    } else if (json_array_size(s->held) < EARLY_MAX) {
        /* A change the lookup's read may have missed: kept until the owner is known (it may
         * then repeat the snapshot's status, never lose one). */
        if (!s->held)
            s->held = json_array();
        json_array_append_new(s->held, params);
    } else {
        json_decref(params);
    }
}

/* The packs' timers (the reference pack's resource updates): only what the filter asked for. */
static void on_timer_note(void *arg, const char *method, json_t *params)
{
    struct mcp_listen *ls = arg;
    if (strcmp(method, "notifications/resources/updated") != 0) {
        json_decref(params);
        return;
    }
    const char *uri = json_get_string(params, "uri");
    for (size_t i = 0; uri && i < ls->uri_count; i++)
        if (strcmp(ls->uris[i], uri) == 0) {
            deliver(ls, method, params);
            return;
        }
    json_decref(params);
}

static void on_heartbeat(uv_timer_t *t)
{
    struct mcp_listen *ls = t->data;
    if (ls->ex)
        http_sse_comment(ls->ex, "keepalive");
}

/* Everything is in place: the acknowledgment, the found tasks as they are, anything that came
 * meanwhile; then the packs' timers and the heartbeat. */
static void listen_ack(struct mcp_listen *ls)
{
    http_response_header(ls->ex, "X-Accel-Buffering", "no");
    http_sse_begin(ls->ex, 200);
    ls->acked = true;
    if (ls->ctx->metrics)
        metrics_stream_opened(ls->ctx->metrics);
    send_note(ls, "notifications/subscriptions/acknowledged",
              json_pack("{s:O}", "notifications", ls->agreed));
    size_t i;
    json_t *task;
    json_array_foreach(ls->snapshots, i, task)
        send_note(ls, "notifications/tasks", json_copy(task));
    for (i = 0; i + 1 < json_array_size(ls->early); i += 2)
        send_note(ls, json_string_value(json_array_get(ls->early, i)),
                  json_incref(json_array_get(ls->early, i + 1)));
    json_array_clear(ls->early);
    if (ls->uri_count > 0)
        ls->notifier =
            mcp_notifier_start_listen(ls->ctx, on_timer_note, ls->uris, ls->uri_count, ls);
    uv_timer_init(ls->ctx->loop, &ls->heartbeat);
    ls->heartbeat.data = ls;
    ls->heartbeat_on = true;
    uint64_t period = mcp_session_heartbeat_ms(ls->ctx);
    uv_timer_start(&ls->heartbeat, on_heartbeat, period, period);
    log_write(ls->ctx->log, LOG_DEBUG, "listen stream open",
              json_pack("{s:O}", "notifications", ls->agreed));
}

/* ---- opening: task lookups, subscriptions, acknowledgment ---- */

static void waited(struct mcp_listen *ls)
{
    if (--ls->waiting > 0 || ls->ended)
        return;
    if (ls->failed)
        listen_fail(ls, true);
    else
        listen_ack(ls);
}

static void on_task_found(void *arg, const char *task_id, json_t *task)
{
    struct listen_sub *s = arg;
    struct mcp_listen *ls = s->ls;
    s->looking = false;
    if (task && !ls->ended) {
        s->agreed = true;
        json_array_append_new(json_object_get(ls->agreed, "taskIds"), json_string(task_id));
        json_array_append_new(ls->snapshots, task);
        size_t i;
        json_t *held;
        json_array_foreach(s->held, i, held) deliver(ls, s->method, json_incref(held));
    } else {
        json_decref(task);
        if (s->sub && !ls->ended) /* not the caller's: nothing to follow */
            store_unsubscribe(s->sub);
        s->sub = NULL;
    }
    waited(ls);
    listen_unref(ls);
}

/* The subscriptions are in effect: now the tasks are looked up, so a status change after the
 * snapshot is not missed. */
static void lookup_tasks(struct mcp_listen *ls)
{
    ls->waiting = 1; /* this function's own hold */
    for (size_t i = 0; i < ls->sub_count; i++) {
        struct listen_sub *s = &ls->subs[i];
        if (!s->task_id[0])
            continue;
        ls->waiting++;
        ls->refs++;
        s->looking = true;
        if (mcp_tasks_find(ls->ctx, ls->user, s->task_id, on_task_found, s) != 0) {
            s->looking = false;
            ls->refs--;
            ls->failed = true;
            ls->waiting--;
        }
    }
    waited(ls);
}

static void on_ready(void *arg, int status)
{
    struct listen_sub *s = arg;
    struct mcp_listen *ls = s->ls;
    if (status != STORE_OK)
        ls->failed = true;
    if (--ls->waiting > 0 || ls->ended)
        return;
    if (ls->failed)
        listen_fail(ls, true);
    else
        lookup_tasks(ls);
}

static void add_sub(struct mcp_listen *ls, const char *method, const char *uri, const char *task_id)
{
    struct listen_sub *s = &ls->subs[ls->sub_count++];
    s->ls = ls;
    s->method = method;
    s->uri = uri;
    s->agreed = task_id == NULL;
    if (task_id)
        snprintf(s->task_id, sizeof s->task_id, "%s", task_id);
}

static struct listen_channel sub_channel(const struct listen_sub *s)
{
    struct listen_channel c;
    if (s->task_id[0])
        snprintf(c.s, sizeof c.s, "%s", mcp_channel_task(s->task_id).s);
    else if (s->uri)
        c = resource_channel(s->uri);
    else if (strcmp(s->method, "notifications/tools/list_changed") == 0)
        c = list_channel("tools");
    else if (strcmp(s->method, "notifications/prompts/list_changed") == 0)
        c = list_channel("prompts");
    else
        c = list_channel("resources");
    return c;
}

/* Follow every channel; once all are in effect, the tasks are looked up. */
static void subscribe_all(struct mcp_listen *ls)
{
    ls->waiting = 1; /* this function's own hold: ready never runs inside the subscribe call */
    for (size_t i = 0; i < ls->sub_count; i++) {
        struct listen_sub *s = &ls->subs[i];
        s->sub =
            store_subscribe_confirmed(ls->ctx->store, sub_channel(s).s, on_message, on_ready, s);
        if (s->sub)
            ls->waiting++;
        else
            ls->failed = true;
    }
    if (--ls->waiting > 0)
        return;
    if (ls->failed)
        listen_fail(ls, true);
    else
        lookup_tasks(ls);
}

/* ---- the filter ---- */

#define TASK_ID_MAX_BYTES 128

/* A list of strings within bounds: NULL when it is, else why not. */
static const char *check_strings(const json_t *list, const char *name, size_t max_items,
                                 size_t max_bytes, char *why, size_t why_size)
{
    if (!list)
        return NULL;
    if (!json_is_array(list))
        snprintf(why, why_size, "Invalid params: notifications.%s must be an array of strings",
                 name);
    else if (json_array_size(list) > max_items)
        snprintf(why, why_size,
                 "Invalid params: notifications.%s has more than %zu entries "
                 "(MAX_SUBSCRIPTIONS)",
                 name, max_items);
    else {
        size_t i;
        const json_t *v;
        json_array_foreach(list, i, v) if (!json_is_string(v) || json_string_length(v) == 0 ||
                                           json_string_length(v) > max_bytes)
        {
            snprintf(why, why_size,
                     "Invalid params: notifications.%s entries must be non-empty "
                     "strings of at most %zu bytes",
                     name, max_bytes);
            return why;
        }
        return NULL;
    }
    return why;
}

static const char *const LIST_FIELDS[] = {"toolsListChanged", "promptsListChanged",
                                          "resourcesListChanged"};
static const char *const LIST_CAPS[] = {"tools", "prompts", "resources"};
static const char *const LIST_METHODS[] = {"notifications/tools/list_changed",
                                           "notifications/prompts/list_changed",
                                           "notifications/resources/list_changed"};

static const char *check_filter(const struct mcp_ctx *ctx, const json_t *f, char *why,
                                size_t why_size)
{
    if (!json_is_object(f))
        return "Invalid params: notifications must be an object";
    for (size_t i = 0; i < 3; i++) {
        const json_t *v = json_object_get(f, LIST_FIELDS[i]);
        if (v && !json_is_boolean(v)) {
            snprintf(why, why_size, "Invalid params: notifications.%s must be a boolean",
                     LIST_FIELDS[i]);
            return why;
        }
    }
    size_t max = mcp_limit_subscriptions(ctx);
    const char *bad =
        check_strings(json_object_get(f, "resourceSubscriptions"), "resourceSubscriptions", max,
                      mcp_limit_uri_bytes(ctx), why, why_size);
    return bad ? bad
               : check_strings(json_object_get(f, "taskIds"), "taskIds", max, TASK_ID_MAX_BYTES,
                               why, why_size);
}

static bool listed(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* The part of filter f the server honours (tasks are added once found), and a subscription for
 * each channel it needs. */
static int agree(struct mcp_listen *ls, const json_t *f)
{
    const json_t *caps = mcp_dispatch_capabilities(ls->ctx->dispatch);
    const json_t *uris = json_object_get(f, "resourceSubscriptions");
    const json_t *tasks = json_object_get(f, "taskIds");
    ls->agreed = json_object();
    ls->snapshots = json_array();
    ls->early = json_array();
    ls->subs = calloc(3 + json_array_size(uris) + json_array_size(tasks), sizeof *ls->subs);
    ls->uris = calloc(json_array_size(uris) + 1, sizeof *ls->uris);
    if (!ls->agreed || !ls->snapshots || !ls->early || !ls->subs || !ls->uris)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (json_is_true(json_object_get(f, LIST_FIELDS[i])) &&
            json_is_true(json_object_get(json_object_get(caps, LIST_CAPS[i]), "listChanged"))) {
            json_object_set_new(ls->agreed, LIST_FIELDS[i], json_true());
            add_sub(ls, LIST_METHODS[i], NULL, NULL);
        }
    size_t i;
    const json_t *v;
    if (uris && json_is_true(json_object_get(json_object_get(caps, "resources"), "subscribe"))) {
        json_t *agreed = json_array();
        json_object_set_new(ls->agreed, "resourceSubscriptions", agreed);
        json_array_foreach(uris, i, v) if (!listed(agreed, json_string_value(v)))
        {
            json_array_append(agreed, (json_t *)v);
            ls->uris[ls->uri_count++] = json_string_value(v);
            add_sub(ls, "notifications/resources/updated", json_string_value(v), NULL);
        }
    }
    if (tasks) {
        json_object_set_new(ls->agreed, "taskIds", json_array());
        json_array_foreach(tasks, i, v)
        {
            const char *id = json_string_value(v);
            bool dup = false;
            for (size_t k = 0; k < ls->sub_count; k++)
                dup |= strcmp(ls->subs[k].task_id, id) == 0;
            if (!dup && strlen(id) == MCP_TASK_ID_LEN &&
                strspn(id, "0123456789abcdef") == MCP_TASK_ID_LEN)
                add_sub(ls, "notifications/tasks", NULL, id);
        }
    }
    return 0;
}

/* ---- the entry points ---- */

static unsigned user_streams(const struct mcp_ctx *ctx, const char *user)
{
    unsigned n = 0;
    for (const struct mcp_listen *ls = ctx->listens; ls; ls = ls->next)
        n += strcmp(ls->user, user) == 0;
    return n;
}

/* The request's own errors, answered before anything is held: true when answered. */
static bool refused(struct mcp_ctx *ctx, struct http_exchange *ex, const struct mcp_session *sess,
                    const json_t *request)
{
    const json_t *id = json_object_get(request, "id");
    const json_t *f = json_object_get(json_object_get(request, "params"), "notifications");
    char buf[200];
    const char *why = check_filter(ctx, f, buf, sizeof buf);
    if (why) {
        http_respond_json(ex, 200, jsonrpc_error(id, JSONRPC_INVALID_PARAMS, why, NULL));
    } else if (json_object_get(f, "taskIds") && !mcp_tasks_declared_in(sess->client_capabilities)) {
        http_respond_json(ex, 400,
                          jsonrpc_error(id, MCP_ERROR_MISSING_CAPABILITY,
                                        "Missing required client capability",
                                        json_pack("{s:{s:{s:{}}}}", "requiredCapabilities",
                                                  "extensions", MCP_TASKS_EXTENSION)));
    } else if (ctx->shutting_down) {
        http_respond_json(ex, 503,
                          jsonrpc_error(id, JSONRPC_INTERNAL_ERROR,
                                        "Service unavailable: server shutting down", NULL));
    } else if (user_streams(ctx, sess->owner) >= mcp_limit_listen_streams(ctx)) {
        http_respond_json(ex, 429,
                          jsonrpc_error(id, JSONRPC_SERVER_ERROR,
                                        "Too many listen streams for this user "
                                        "(MAX_LISTEN_STREAMS)",
                                        NULL));
    } else {
        return false;
    }
    log_write(ctx->log, LOG_WARNING, "subscriptions/listen refused",
              json_pack("{s:s}", "why", why ? why : "capability, shutdown or limit"));
    return true;
}

void mcp_listen_open(struct mcp_ctx *ctx, struct http_exchange *ex, const struct mcp_session *sess,
                     const json_t *request)
{
    if (refused(ctx, ex, sess, request))
        return;
    const json_t *id = json_object_get(request, "id");
    struct mcp_listen *ls = calloc(1, sizeof *ls);
    if (ls) {
        ls->ctx = ctx;
        ls->refs = 1;
        ls->id = json_incref((json_t *)id);
        ls->user = strdup(sess->owner);
    }
    if (!ls || !ls->user ||
        agree(ls, json_object_get(json_object_get(request, "params"), "notifications")) != 0) {
        if (ls)
            listen_unref(ls);
        http_respond_json(ex, 500,
                          jsonrpc_error(id, JSONRPC_INTERNAL_ERROR, "Internal error", NULL));
        return;
    }
    ls->ex = ex;
    ls->next = ctx->listens;
    if (ctx->listens)
        ctx->listens->prev = ls;
    ctx->listens = ls;
    http_exchange_set_abort(ex, on_abort, ls);
    subscribe_all(ls);
}

void mcp_listen_end_all(struct mcp_ctx *ctx)
{
    struct mcp_listen *next;
    for (struct mcp_listen *ls = ctx->listens; ls; ls = next) {
        next = ls->next;
        if (!ls->acked || !ls->ex) {
            listen_fail(ls, false);
            continue;
        }
        /* The graceful closure: the response to the listen request, then the end. */
        json_t *meta = json_pack("{s:O,s:O}", META_SUBSCRIPTION, ls->id, META_SERVER,
                                 mcp_dispatch_server_info(ctx->dispatch));
        write_message(ls, jsonrpc_result(ls->id, json_pack("{s:s,s:o}", "resultType", "complete",
                                                           "_meta", meta)));
        struct http_exchange *ex = ls->ex;
        listen_end(ls);
        http_stream_end(ex);
    }
}

unsigned mcp_listen_count(const struct mcp_ctx *ctx)
{
    unsigned n = 0;
    for (const struct mcp_listen *ls = ctx->listens; ls; ls = ls->next)
        n++;
    return n;
}
