/*
 * tasks: the task records, the detached call behind each task, and the tasks methods (tasks.h).
 */
#include "mcp/tasks.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "mcp/call_internal.h"
#include "mcp/jsonrpc.h"
#include "mcp/limits.h"
#include "store/store.h"

#define POLL_INTERVAL_MS 500
/* The instance running a task renews the task's lease every LEASE_RENEW_MS; a task whose lease
 * is LEASE_MS old has lost its instance (it stopped or crashed) and reads as failed. */
#define LEASE_MS       30000
#define LEASE_RENEW_MS 10000
#ifndef MCP_ERROR_MISSING_CAPABILITY
#define MCP_ERROR_MISSING_CAPABILITY (-32021) /* 2026-07-28: Missing Required Client Capability */
#endif
#define TASK_SID_PREFIX 't'
#define MAX_FIELDS      64 /* fields of a record read back; more pending inputs are not shown */

static struct mcp_state_name task_name(const char *fmt, const char *a)
{
    struct mcp_state_name n;
    snprintf(n.s, sizeof n.s, fmt, a);
    return n;
}

struct mcp_state_name mcp_key_task(const char *task_id)
{
    return task_name("task:{%s}", task_id);
}

struct mcp_state_name mcp_channel_task(const char *task_id)
{
    return task_name("mcp:task:%s", task_id);
}

struct mcp_state_name mcp_key_user_tasks(const char *owner)
{
    char sha[65];
    crypto_sha256_hex(owner, strlen(owner), sha);
    return task_name("owner:{%s}:tasks", sha);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ISO 8601 UTC with milliseconds. */
static json_t *iso_time(uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[40];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03uZ", (unsigned)(ms % 1000));
    return json_string(buf);
}

/* ---- negotiation ---- */

static bool declares(const json_t *caps)
{
    return json_is_object(
        json_object_get(json_object_get(caps, "extensions"), MCP_TASKS_EXTENSION));
}

bool mcp_tasks_declared_in(const json_t *caps)
{
    return declares(caps);
}

bool mcp_tasks_declared(const struct mcp_call *c)
{
    /* The extension does not exist before 2026-07-28 (a session's initialize names an older
     * revision): such a client is treated as not declaring it. */
    const char *pv = c->sess.protocol_version;
    if (!c->sess.stateless && (!pv || strcmp(pv, "2026-07-28") < 0))
        return false;
    const json_t *meta = json_object_get(c->params, "_meta");
    if (declares(json_object_get(meta, "io.modelcontextprotocol/clientCapabilities")))
        return true;
    return declares(mcp_call_client_capabilities(c));
}

static void missing_capability(struct mcp_call *c)
{
    mcp_call_error(
        c, MCP_ERROR_MISSING_CAPABILITY, "Missing required client capability",
        json_pack("{s:{s:{s:{}}}}", "requiredCapabilities", "extensions", MCP_TASKS_EXTENSION));
}

/* ---- the record ---- */

/* A task as tasks/get shows it, from the record's fields (flattened pairs). */
struct task_view {
    const char *owner, *status, *msg, *sid, *callid, *result, *error;
    uint64_t created, updated, ttl, lease;
    json_t *inputs; /* pending input requests, or NULL */
};

static char *dup_str(const struct store_str *s)
{
    return strndup(s->ptr, s->len);
}

static bool field_is(const struct store_str *f, const char *name)
{
    return f->len == strlen(name) && memcmp(f->ptr, name, f->len) == 0;
}

/* Fills v with strings owned by *keep (an array the caller frees with free_kept). */
static void view_fill(struct task_view *v, const struct store_str *items, size_t n, char **keep)
{
    memset(v, 0, sizeof *v);
    const char **slots[] = {&v->owner,  &v->status, &v->msg,  &v->sid,
                            &v->callid, &v->result, &v->error};
    const char *names[] = {"owner", "status", "msg", "sid", "callid", "result", "error"};
    size_t kept = 0;
    for (size_t i = 0; i + 1 < n && kept < MAX_FIELDS; i += 2) {
        const struct store_str *f = &items[i], *val = &items[i + 1];
        char *s = dup_str(val);
        if (!s)
            continue;
        keep[kept++] = s;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (field_is(f, names[k]))
                *slots[k] = s;
        if (field_is(f, "created"))
            v->created = strtoull(s, NULL, 10);
        else if (field_is(f, "updated"))
            v->updated = strtoull(s, NULL, 10);
        else if (field_is(f, "ttl"))
            v->ttl = strtoull(s, NULL, 10);
        else if (field_is(f, "lease"))
            v->lease = strtoull(s, NULL, 10);
        else if (f->len > 3 && memcmp(f->ptr, "in:", 3) == 0) {
            json_t *req = json_loads(s, 0, NULL);
            if (!v->inputs)
                v->inputs = json_object();
            if (req)
                json_object_setn_new(v->inputs, f->ptr + 3, f->len - 3, req);
        }
    }
}

static void free_kept(char **keep)
{
    for (size_t i = 0; i < MAX_FIELDS && keep[i]; i++)
        free(keep[i]);
}

static bool terminal(const char *status)
{
    return status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
                      strcmp(status, "cancelled") == 0);
}

/* The Task fields every shape carries (CreateTaskResult, tasks/get). */
static json_t *task_json(const char *id, const struct task_view *v)
{
    json_t *t = json_object();
    json_object_set_new(t, "taskId", json_string(id));
    bool input = !terminal(v->status) && v->inputs && json_object_size(v->inputs) > 0;
    json_object_set_new(t, "status", json_string(input ? "input_required" : v->status));
    if (v->msg)
        json_object_set_new(t, "statusMessage", json_string(v->msg));
    json_object_set_new(t, "createdAt", iso_time(v->created));
    json_object_set_new(t, "lastUpdatedAt", iso_time(v->updated ? v->updated : v->created));
    json_object_set_new(t, "ttlMs", json_integer((json_int_t)v->ttl));
    json_object_set_new(t, "pollIntervalMs", json_integer(POLL_INTERVAL_MS));
    if (input)
        json_object_set(t, "inputRequests", v->inputs);
    else if (v->status && strcmp(v->status, "completed") == 0 && v->result)
        json_object_set_new(t, "result", json_loads(v->result, 0, NULL));
    else if (v->status && strcmp(v->status, "failed") == 0 && v->error)
        json_object_set_new(t, "error", json_loads(v->error, 0, NULL));
    return t;
}

/* What is left of the task's TTL (the record keeps its creation-time expiry). */
static uint64_t ttl_left(uint64_t created, uint64_t ttl)
{
    uint64_t now = wall_ms(), end = created + ttl;
    return end > now + 1000 ? end - now : 1000;
}

/* ---- status notifications ---- */

struct task_find {
    char id[MCP_TASK_ID_LEN + 1];
    char *owner; /* NULL: publish on the task's channel instead */
    struct store *store;
    mcp_task_found_fn fn;
    void *arg;
};

static void on_find_loaded(void *arg, int status, const struct store_str *items, size_t n)
{
    struct task_find *f = arg;
    char *keep[MAX_FIELDS] = {0};
    struct task_view v;
    view_fill(&v, items, status == STORE_OK ? n : 0, keep);
    json_t *task = NULL;
    if (status == STORE_OK && n > 0 && v.owner && v.status &&
        (!f->owner || strcmp(v.owner, f->owner) == 0))
        task = task_json(f->id, &v);
    if (f->fn) {
        f->fn(f->arg, f->id, task);
    } else if (task) {
        size_t len = 0;
        char *text = json_serialize(task, &len);
        if (text)
            store_publish(f->store, mcp_channel_task(f->id).s, text, len, NULL, NULL);
        free(text);
        json_decref(task);
    }
    json_decref(v.inputs);
    free_kept(keep);
    free(f->owner);
    free(f);
}

static int find_start(struct mcp_ctx *ctx, const char *owner, const char *task_id,
                      mcp_task_found_fn fn, void *arg)
{
    if (strlen(task_id) != MCP_TASK_ID_LEN ||
        strspn(task_id, "0123456789abcdef") != MCP_TASK_ID_LEN)
        return -1;
    struct task_find *f = calloc(1, sizeof *f);
    if (!f || (owner && !(f->owner = strdup(owner)))) {
        free(f);
        return -1;
    }
    memcpy(f->id, task_id, sizeof f->id);
    f->store = ctx->store;
    f->fn = fn;
    f->arg = arg;
    /* Read after the writes this instance queued before it: the store keeps their order. */
    if (store_hgetall(ctx->store, mcp_key_task(task_id).s, on_find_loaded, f) != STORE_OK) {
        free(f->owner);
        free(f);
        return -1;
    }
    return 0;
}

int mcp_tasks_find(struct mcp_ctx *ctx, const char *owner, const char *task_id,
                   mcp_task_found_fn fn, void *arg)
{
    return owner && fn ? find_start(ctx, owner, task_id, fn, arg) : -1;
}

/* The task's status changed: its DetailedTask, read back as tasks/get would, goes to whoever
 * follows its channel (subscriptions/listen streams on any instance). */
static void publish_status(struct mcp_ctx *ctx, const char *task_id)
{
    find_start(ctx, NULL, task_id, NULL, NULL);
}

/* ---- the running task: a detached call whose sink is the record ---- */

struct task_run {
    struct mcp_sink sink;
    struct mcp_ctx *ctx;
    char id[MCP_TASK_ID_LEN + 1];
    struct mcp_session sess;     /* the task's execution context ("t<id>") */
    const struct mcp_tool *tool; /* the tool to run, or NULL: the handler's continuation */
    mcp_timer_fn cont;
    void *cont_arg;
    void (*cont_free)(void *);
    struct mcp_call *origin; /* the tools/call answered with CreateTaskResult */
    json_t *request;
    uint64_t created, ttl;
    unsigned pending; /* store writes the creation waits for */
    bool failed;
    uv_timer_t lease_timer; /* renews the lease while the call runs */
    bool lease_on;
};

static void run_freed(uv_handle_t *h)
{
    struct task_run *r = h->data;
    mcp_session_free(&r->sess);
    json_decref(r->request);
    free(r);
}

static void run_free(struct task_run *r)
{
    if (r->cont_free)
        r->cont_free(r->cont_arg);
    r->cont_free = NULL;
    if (r->lease_on) {
        uv_timer_stop(&r->lease_timer);
        uv_close((uv_handle_t *)&r->lease_timer, run_freed);
        return;
    }
    r->lease_timer.data = r;
    run_freed((uv_handle_t *)&r->lease_timer);
}

static int record_write(struct task_run *r, const struct store_str *pairs, size_t n)
{
    return store_hset(r->ctx->store, mcp_key_task(r->id).s, pairs, n, ttl_left(r->created, r->ttl),
                      NULL, NULL);
}

#define SS(lit)                                                                                    \
    {                                                                                              \
        lit, sizeof lit - 1                                                                        \
    }
#define SV(ptr_, n)                                                                                \
    {                                                                                              \
        ptr_, n                                                                                    \
    }

/* The call's end: its response becomes the task's result (completed) or error (failed); no
 * response means it was cancelled. The execution context goes with it. */
static void run_finish(struct task_run *r, json_t *msg)
{
    char now[24];
    snprintf(now, sizeof now, "%" PRIu64, wall_ms());
    const json_t *result = json_object_get(msg, "result"), *error = json_object_get(msg, "error");
    size_t len = 0;
    char *text = result ? json_serialize(result, &len) : error ? json_serialize(error, &len) : NULL;
    const char *status = !msg ? "cancelled" : result ? "completed" : "failed";
    const char *field = result ? "result" : "error";
    if (result && text && len > mcp_limit_task_result_bytes(r->ctx)) {
        free(text);
        json_t *too_big = json_pack("{s:i,s:s}", "code", JSONRPC_INTERNAL_ERROR, "message",
                                    "Task result larger than the server keeps "
                                    "(MAX_TASK_RESULT_BYTES)");
        text = json_serialize(too_big, &len);
        json_decref(too_big);
        status = "failed";
        field = "error";
    }
    /* A failed task's statusMessage is its error's message. */
    const char *why = NULL;
    if (text && strcmp(field, "error") == 0)
        why =
            result ? "Task result larger than the server keeps" : json_get_string(error, "message");
    struct store_str pairs[8] = {SS("status"), SV(status, strlen(status)), SS("updated"),
                                 SV(now, strlen(now))};
    size_t n = 4;
    if (text) {
        pairs[n++] = (struct store_str)SV(field, strlen(field));
        pairs[n++] = (struct store_str)SV(text, len);
    }
    if (why) {
        pairs[n++] = (struct store_str)SS("msg");
        pairs[n++] = (struct store_str)SV(why, strlen(why));
    }
    record_write(r, pairs, n);
    free(text);
    publish_status(r->ctx, r->id);
    store_del(r->ctx->store, mcp_key_record(r->sess.id).s, NULL, NULL);
    store_del(r->ctx->store, mcp_key_owner(r->sess.id).s, NULL, NULL);
    log_write(r->ctx->log, LOG_INFO, "task ended",
              json_pack("{s:s,s:s}", "task", r->id, "status", status));
}

/* A server->client request of the task becomes a pending input request on the record, under
 * its request id (unique for the task's lifetime: the context's counter issued it). The reply
 * waiter is in place already (call.c sends a request only once it listens for the reply). */
static void run_input_request(struct task_run *r, json_t *msg)
{
    char key[32], now[24];
    snprintf(key, sizeof key, "in:%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(msg, "id")));
    snprintf(now, sizeof now, "%" PRIu64, wall_ms());
    json_t *req = json_pack("{s:O,s:O}", "method", json_object_get(msg, "method"), "params",
                            json_object_get(msg, "params"));
    size_t len = 0;
    char *text = req ? json_serialize(req, &len) : NULL;
    json_decref(req);
    if (!text)
        return;
    struct store_str pairs[] = {SV(key, strlen(key)), SV(text, len), SS("updated"),
                                SV(now, strlen(now))};
    record_write(r, pairs, 4);
    free(text);
    publish_status(r->ctx, r->id);
}

static void run_emit(struct mcp_sink *sink, json_t *msg, bool final)
{
    struct task_run *r = (struct task_run *)sink;
    if (final) {
        run_finish(r, msg);
        json_decref(msg);
        run_free(r);
        return;
    }
    /* Progress and log notifications are not carried by tasks (the extension leaves them out). */
    if (json_is_integer(json_object_get(msg, "id")) && json_object_get(msg, "method"))
        run_input_request(r, msg);
    json_decref(msg);
}

static void on_lease(uv_timer_t *t)
{
    struct task_run *r = t->data;
    char lease[24];
    snprintf(lease, sizeof lease, "%" PRIu64, wall_ms() + LEASE_MS);
    struct store_str pairs[] = {SS("lease"), SV(lease, strlen(lease))};
    record_write(r, pairs, 2);
}

/* The record is stored (tasks/get resolves): answer the tools/call, then run the tool in the
 * task's context. */
static void run_start(struct task_run *r)
{
    struct task_view v = {.status = "working", .created = r->created, .ttl = r->ttl};
    json_t *created = task_json(r->id, &v);
    json_object_set_new(created, "resultType", json_string("task"));
    mcp_call_result(r->origin, created);
    r->origin = NULL;
    uv_timer_init(r->ctx->loop, &r->lease_timer);
    r->lease_timer.data = r;
    r->lease_on = true;
    uv_timer_start(&r->lease_timer, on_lease, LEASE_RENEW_MS, LEASE_RENEW_MS);
    struct mcp_call *c = mcp_call_new(r->ctx, &r->sess, r->request, &r->sink);
    if (!c) {
        r->sink.emit(&r->sink, jsonrpc_error(NULL, JSONRPC_INTERNAL_ERROR, "Internal error", NULL),
                     true);
        return;
    }
    mcp_call_enter(c);
    if (r->tool) {
        const json_t *args = json_object_get(c->params, "arguments");
        r->tool->call(c, json_is_object(args) ? args : NULL);
    } else {
        mcp_call_set_state(c, r->cont_arg, r->cont_free); /* the new call owns it now */
        r->cont_free = NULL;
        r->cont(c, r->cont_arg);
    }
    mcp_call_leave(c);
}

static void on_created(void *arg, int status, long long value)
{
    (void)value;
    struct task_run *r = arg;
    r->failed |= status != STORE_OK;
    if (--r->pending > 0)
        return;
    if (r->failed) {
        mcp_call_error(r->origin, JSONRPC_INTERNAL_ERROR, "Internal error: task not created", NULL);
        run_free(r);
        return;
    }
    run_start(r);
}

/* MAX_TASKS_PER_USER, from the owner's index (expired entries pruned as it is read). The new
 * task's entry is written before the count, as the session index does: two instances racing may
 * both refuse, never both accept past the bound. */
static void on_user_tasks(void *arg, int status, const struct store_str *items, size_t n)
{
    struct task_run *r = arg;
    struct store *st = r->ctx->store;
    const char *owner = r->sess.owner;
    uint64_t now = wall_ms();
    size_t live = 0;
    for (size_t i = 0; status == STORE_OK && i + 1 < n; i += 2) {
        char buf[24];
        snprintf(buf, sizeof buf, "%.*s", (int)items[i + 1].len, items[i + 1].ptr);
        if (strtoull(buf, NULL, 10) > now) {
            live++;
        } else {
            char *field = dup_str(&items[i]);
            if (field)
                store_hdel(st, mcp_key_user_tasks(owner).s, field, NULL, NULL);
            free(field);
        }
    }
    if (status != STORE_OK || live > mcp_limit_tasks_per_user(r->ctx)) {
        store_hdel(st, mcp_key_user_tasks(owner).s, r->id, NULL, NULL);
        if (status == STORE_OK)
            log_write(r->ctx->log, LOG_WARNING, "task refused: MAX_TASKS_PER_USER", NULL);
        mcp_call_error(r->origin,
                       status == STORE_OK ? JSONRPC_SERVER_ERROR : JSONRPC_INTERNAL_ERROR,
                       status == STORE_OK ? "Too many tasks (MAX_TASKS_PER_USER)"
                                          : "Internal error: task not created",
                       NULL);
        run_free(r);
        return;
    }
    char created[24], ttl[24], lease[24];
    snprintf(created, sizeof created, "%" PRIu64, r->created);
    snprintf(lease, sizeof lease, "%" PRIu64, r->created + LEASE_MS);
    snprintf(ttl, sizeof ttl, "%" PRIu64, r->ttl);
    /* The execution context: a session record with the task's TTL. */
    mcp_session_create(r->ctx, &r->sess, NULL, NULL);
    store_expire(st, mcp_key_record(r->sess.id).s, r->ttl, NULL, NULL);
    store_expire(st, mcp_key_owner(r->sess.id).s, r->ttl, NULL, NULL);
    size_t idlen = 0;
    char *callid = json_serialize(r->origin->id ? r->origin->id : json_null(), &idlen);
    struct store_str pairs[] = {
        SS("owner"),   SV(owner, strlen(owner)),
        SS("status"),  SS("working"),
        SS("created"), SV(created, strlen(created)),
        SS("updated"), SV(created, strlen(created)),
        SS("ttl"),     SV(ttl, strlen(ttl)),
        SS("sid"),     SV(r->sess.id, strlen(r->sess.id)),
        SS("callid"),  SV(callid ? callid : "null", callid ? idlen : 4),
        SS("lease"),   SV(lease, strlen(lease)),
    };
    r->pending = 1;
    if (store_hset(st, mcp_key_task(r->id).s, pairs, sizeof pairs / sizeof pairs[0], r->ttl,
                   on_created, r) != STORE_OK) {
        r->pending = 0;
        mcp_call_error(r->origin, JSONRPC_INTERNAL_ERROR, "Internal error: task not created", NULL);
        run_free(r);
    }
    free(callid);
}

static struct task_run *run_new(struct mcp_call *c)
{
    struct task_run *r = calloc(1, sizeof *r);
    char hex[MCP_TASK_ID_LEN + 1];
    if (!r || crypto_random_hex(hex, MCP_TASK_ID_LEN / 2) != 0) {
        free(r);
        return NULL;
    }
    memcpy(r->id, hex, sizeof r->id);
    r->sink.emit = run_emit;
    r->ctx = c->ctx;
    r->origin = c;
    r->request = json_incref(c->request);
    r->created = wall_ms();
    r->ttl = mcp_limit_task_ttl_ms(c->ctx);
    mcp_session_copy(&r->sess, &c->sess);
    snprintf(r->sess.id, sizeof r->sess.id, "%c%s", TASK_SID_PREFIX, r->id);
    r->sess.stateless = false; /* the task's requests wait for tasks/update, not a retry */
    free(r->sess.owner);
    r->sess.owner = strdup(mcp_call_user(c));
    return r;
}

/* Count the task (then on_user_tasks stores it and starts it). */
static void task_create(struct task_run *r)
{
    struct mcp_call *c = r->origin;
    char expiry[24];
    snprintf(expiry, sizeof expiry, "%" PRIu64, r->created + r->ttl);
    struct store_str idx[] = {SV(r->id, strlen(r->id)), SV(expiry, strlen(expiry))};
    if (!r->sess.owner ||
        store_hset(c->ctx->store, mcp_key_user_tasks(r->sess.owner).s, idx, 2, r->ttl, NULL,
                   NULL) != STORE_OK ||
        store_hgetall(c->ctx->store, mcp_key_user_tasks(r->sess.owner).s, on_user_tasks, r) !=
            STORE_OK) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        run_free(r);
    }
}

bool mcp_tasks_take_call(struct mcp_call *c, const struct mcp_tool *t)
{
    if (t->task_support == MCP_TASK_NONE)
        return false;
    bool declared = mcp_tasks_declared(c);
    if (declared && t->task_support != MCP_TASK_HANDLER) {
        struct task_run *r = run_new(c);
        if (!r) {
            mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
            return true;
        }
        r->tool = t;
        task_create(r);
        return true;
    }
    if (declared || t->task_support == MCP_TASK_OPTIONAL)
        return false;
    missing_capability(c);
    return true;
}

void mcp_tasks_escalate(struct mcp_call *c, mcp_timer_fn fn, void *arg, void (*free_fn)(void *))
{
    struct task_run *r = mcp_tasks_declared(c) ? run_new(c) : NULL;
    if (!r) {
        if (free_fn)
            free_fn(arg);
        if (mcp_tasks_declared(c))
            mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        else
            missing_capability(c);
        return;
    }
    r->cont = fn;
    r->cont_arg = arg;
    r->cont_free = free_fn;
    task_create(r);
}

/* ---- tasks/get, tasks/update, tasks/cancel ---- */

typedef void (*task_then_fn)(struct mcp_call *c, const char *id, const struct task_view *v);

struct task_op {
    struct mcp_call *c;
    char id[MCP_TASK_ID_LEN + 1];
    task_then_fn then;
};

static void not_found(struct mcp_call *c)
{
    mcp_call_error(c, JSONRPC_INVALID_PARAMS, "Failed to retrieve task: Task not found", NULL);
}

static void ack(struct mcp_call *c)
{
    mcp_call_result(c, json_pack("{s:s}", "resultType", "complete"));
}

static void on_task_loaded(void *arg, int status, const struct store_str *items, size_t n)
{
    struct task_op *op = arg;
    struct mcp_call *c = op->c;
    char *keep[MAX_FIELDS] = {0};
    struct task_view v;
    view_fill(&v, items, status == STORE_OK ? n : 0, keep);
    if (status != STORE_OK)
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    else if (n == 0 || !v.owner || strcmp(v.owner, mcp_call_user(c)) != 0 || !v.status)
        not_found(c); /* another user's task is not theirs to see */
    else
        op->then(c, op->id, &v);
    json_decref(v.inputs);
    free_kept(keep);
    free(op);
}

/* Every tasks method: the extension declared, a well-formed taskId that names a task of this
 * user; then op's continuation runs with the record. */
static void task_load(struct mcp_call *c, task_then_fn then)
{
    if (!mcp_tasks_declared(c)) {
        missing_capability(c);
        return;
    }
    const char *id = json_get_string(c->params, "taskId");
    if (!id) {
        mcp_call_error(c, JSONRPC_INVALID_PARAMS, "Invalid params: taskId must be a string", NULL);
        return;
    }
    if (strlen(id) != MCP_TASK_ID_LEN || strspn(id, "0123456789abcdef") != MCP_TASK_ID_LEN) {
        not_found(c);
        return;
    }
    struct task_op *op = calloc(1, sizeof *op);
    if (!op) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    op->c = c;
    op->then = then;
    memcpy(op->id, id, sizeof op->id);
    if (store_hgetall(c->ctx->store, mcp_key_task(id).s, on_task_loaded, op) != STORE_OK) {
        free(op);
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    }
}

#define LOST_ERROR   "{\"code\":-32603,\"message\":\"Task lost: the instance running it stopped\"}"
#define LOST_MESSAGE "The instance running the task stopped"

/* A task whose lease ran out lost its instance: it is failed, and recorded so. */
static bool lost(struct mcp_call *c, const char *id, struct task_view *v)
{
    if (terminal(v->status) || !v->lease || v->lease >= wall_ms())
        return false;
    char now[24];
    snprintf(now, sizeof now, "%" PRIu64, wall_ms());
    struct store_str pairs[] = {SS("status"),   SS("failed"),        SS("error"),
                                SS(LOST_ERROR), SS("msg"),           SS(LOST_MESSAGE),
                                SS("updated"),  SV(now, strlen(now))};
    store_hset(c->ctx->store, mcp_key_task(id).s, pairs, 8, ttl_left(v->created, v->ttl), NULL,
               NULL);
    log_write(c->ctx->log, LOG_WARNING, "task lost: its lease expired",
              json_pack("{s:s}", "task", id));
    publish_status(c->ctx, id);
    v->status = "failed";
    v->error = LOST_ERROR;
    v->msg = LOST_MESSAGE;
    return true;
}

static void get_then(struct mcp_call *c, const char *id, const struct task_view *v)
{
    struct task_view seen = *v;
    lost(c, id, &seen);
    json_t *t = task_json(id, &seen);
    json_object_set_new(t, "resultType", json_string("complete"));
    mcp_call_result(c, t);
}

void mcp_tasks_get(struct mcp_call *c)
{
    task_load(c, get_then);
}

/* Each answer to a pending input request goes to the call waiting for it, wherever it runs
 * (the execution context's replies channel), and the request stops being pending. Keys not
 * pending (never issued, answered already) are ignored, as the extension asks. */
static void update_then(struct mcp_call *c, const char *id, const struct task_view *v)
{
    const json_t *responses = json_object_get(c->params, "inputResponses");
    const char *key;
    json_t *answer;
    bool delivered = false;
    json_object_foreach((json_t *)responses, key, answer)
    {
        char *end;
        long long rid = strtoll(key, &end, 10);
        if (!v->sid || terminal(v->status) || !json_object_get(v->inputs, key) || *end ||
            !json_is_object(answer))
            continue;
        char field[40];
        snprintf(field, sizeof field, "in:%s", key);
        store_hdel(c->ctx->store, mcp_key_task(id).s, field, NULL, NULL);
        json_t *reply =
            json_pack("{s:s,s:I,s:O}", "jsonrpc", "2.0", "id", (json_int_t)rid, "result", answer);
        mcp_live_route_reply(c->ctx, v->sid, reply);
        json_decref(reply);
        delivered = true;
    }
    if (delivered) /* back to working once nothing is pending */
        publish_status(c->ctx, id);
    ack(c);
}

void mcp_tasks_update(struct mcp_call *c)
{
    if (!json_is_object(json_object_get(c->params, "inputResponses")) && mcp_tasks_declared(c)) {
        mcp_call_error(c, JSONRPC_INVALID_PARAMS,
                       "Invalid params: inputResponses must be an object", NULL);
        return;
    }
    task_load(c, update_then);
}

/* Cooperative: the running call is cancelled where it runs (its context's control channel),
 * and its end records "cancelled". A terminal task is left as it is; the ack is the same. */
static void cancel_then(struct mcp_call *c, const char *id, const struct task_view *v)
{
    (void)id;
    if (!terminal(v->status) && v->sid && v->callid) {
        json_t *rid = json_loads(v->callid, JSON_DECODE_ANY, NULL);
        if (json_is_string(rid) || json_is_integer(rid))
            mcp_live_route_cancel(c->ctx, v->sid, rid);
        json_decref(rid);
    }
    ack(c);
}

void mcp_tasks_cancel(struct mcp_call *c)
{
    task_load(c, cancel_then);
}
