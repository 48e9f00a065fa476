#include "mcp/session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/config.h"
#include "lib/crypto.h"
#include "lib/hashmap.h"
#include "lib/json.h"
#include "lib/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/limits.h"
#include "store/store.h"

const char *const mcp_log_levels[MCP_LOG_LEVEL_COUNT] = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};

int mcp_log_level_index(const char *name)
{
    for (int i = 0; name && i < MCP_LOG_LEVEL_COUNT; i++)
        if (strcmp(name, mcp_log_levels[i]) == 0)
            return i;
    return -1;
}

void mcp_session_free(struct mcp_session *s)
{
    free(s->owner);
    free(s->protocol_version);
    json_decref(s->client_capabilities);
    free(s->capabilities_json);
    s->owner = s->protocol_version = s->capabilities_json = NULL;
    s->client_capabilities = NULL;
}

void mcp_session_copy(struct mcp_session *dst, const struct mcp_session *src)
{
    memcpy(dst->id, src->id, sizeof dst->id);
    dst->owner = src->owner ? strdup(src->owner) : NULL;
    dst->protocol_version = src->protocol_version ? strdup(src->protocol_version) : NULL;
    dst->client_capabilities =
        src->client_capabilities ? json_incref(src->client_capabilities) : NULL;
    dst->capabilities_json = src->capabilities_json ? strdup(src->capabilities_json) : NULL;
    dst->log_level = src->log_level;
    dst->legacy_sse = src->legacy_sse;
    dst->stateless = src->stateless;
}

const json_t *mcp_session_capabilities(struct mcp_session *s)
{
    if (!s->client_capabilities) {
        json_t *caps = s->capabilities_json
                           ? json_parse(s->capabilities_json, strlen(s->capabilities_json), NULL, 0)
                           : NULL;
        if (!json_is_object(caps)) {
            json_decref(caps);
            caps = json_object();
        }
        s->client_capabilities = caps;
    }
    return s->client_capabilities;
}

bool mcp_session_id_valid(const char *id)
{
    size_t n = 0;
    for (; id && id[n]; n++)
        if ((unsigned char)id[n] < 0x21 || (unsigned char)id[n] > 0x7e || n >= MCP_SESSION_ID_MAX)
            return false;
    return n > 0;
}

/* The reference server's five minutes, for contexts built without a configuration (unit tests). */
#define SESSION_TTL_DEFAULT_MS 300000
#define HEARTBEAT_MAX_MS       15000

uint64_t mcp_session_ttl_ms(const struct mcp_ctx *ctx)
{
    return ctx->cfg && ctx->cfg->session_ttl_ms ? ctx->cfg->session_ttl_ms : SESSION_TTL_DEFAULT_MS;
}

uint64_t mcp_session_heartbeat_ms(const struct mcp_ctx *ctx)
{
    uint64_t half = mcp_session_ttl_ms(ctx) / 2;
    return half < HEARTBEAT_MAX_MS ? (half ? half : 1) : HEARTBEAT_MAX_MS;
}

/* Keys carry the session id as a Redis hash tag ("{sid}"), so all keys of one session live in
 * one slot of a Redis Cluster and a script may touch several of them. Channels need no tag:
 * PUBLISH reaches every node. */
static struct mcp_state_name state_name(const char *fmt, const char *sid, const char *stream_id)
{
    struct mcp_state_name n;
    snprintf(n.s, sizeof n.s, fmt, sid, stream_id ? stream_id : "");
    return n;
}

struct mcp_state_name mcp_key_record(const char *sid)
{
    return state_name("session:{%s}%s", sid, NULL);
}

struct mcp_state_name mcp_key_owner(const char *sid)
{
    return state_name("session:{%s}:owner%s", sid, NULL);
}

struct mcp_state_name mcp_key_subscriptions(const char *sid)
{
    return state_name("session:{%s}:subs%s", sid, NULL);
}

struct mcp_state_name mcp_key_event_log(const char *sid, const char *stream_id)
{
    return state_name("session:{%s}:events:%s", sid, stream_id);
}

struct mcp_state_name mcp_key_user_sessions(const char *owner)
{
    /* The subject is hashed: it may be long or hold any byte, and a key name should not. */
    char sha[65];
    crypto_sha256_hex(owner, strlen(owner), sha);
    return state_name("owner:{%s}:sessions%s", sha, NULL);
}

struct mcp_state_name mcp_channel_control(const char *sid)
{
    return state_name("mcp:control:%s%s", sid, NULL);
}

struct mcp_state_name mcp_channel_replies(const char *sid)
{
    return state_name("mcp:shttp:toserver:%s%s", sid, NULL);
}

struct mcp_state_name mcp_channel_standalone(const char *sid)
{
    return state_name("mcp:shttp:toclient:%s:__GET_stream%s", sid, NULL);
}

struct mcp_state_name mcp_channel_stream(const char *sid, const char *stream_id)
{
    return state_name("mcp:stream:%s:%s", sid, stream_id);
}

struct mcp_state_name mcp_channel_legacy_inbox(const char *sid)
{
    return state_name("mcp:%s%s", sid, NULL);
}

struct op {
    void *fn;
    void *arg;
    char sid[MCP_SESSION_ID_MAX + 1];
};

static struct op *op_new(void *fn, void *arg, const char *sid)
{
    struct op *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->fn = fn;
    o->arg = arg;
    snprintf(o->sid, sizeof o->sid, "%s", sid);
    return o;
}

static void op_done_int(void *arg, int status, long long value)
{
    struct op *o = arg;
    if (o->fn)
        ((mcp_session_done_fn)o->fn)(o->arg, status);
    free(o);
}

/* Wall-clock milliseconds: expiry times in the per-user index are compared by every instance. */
static uint64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* HSET owner:{..}:sessions <sid> <expiry>: the session's slot, valid until its TTL would end. */
static int user_index_put(struct mcp_ctx *ctx, const char *owner, const char *sid, store_int_cb cb,
                          void *arg)
{
    char expiry[24];
    int n = snprintf(expiry, sizeof expiry, "%" PRIu64, wall_ms() + mcp_session_ttl_ms(ctx));
    struct store_str pairs[] = {{sid, strlen(sid)}, {expiry, (size_t)n}};
    return store_hset(ctx->store, mcp_key_user_sessions(owner).s, pairs, 2, mcp_session_ttl_ms(ctx),
                      cb, arg);
}

/* The record and the owner key, in that order; fn runs once both are written. */
static int session_write(struct mcp_ctx *ctx, const struct mcp_session *s, mcp_session_done_fn fn,
                         void *arg)
{
    char *caps = s->client_capabilities
                     ? json_serialize(s->client_capabilities, NULL)
                     : strdup(s->capabilities_json ? s->capabilities_json : "{}");
    if (!caps)
        return -1;
    const char *kind = s->legacy_sse ? "sse" : "shttp";
    struct store_str pairs[] = {
        {"owner", 5}, {s->owner, strlen(s->owner)},
        {"pv", 2},    {s->protocol_version, strlen(s->protocol_version)},
        {"caps", 4},  {caps, strlen(caps)},
        {"kind", 4},  {kind, strlen(kind)},
    };
    int rc = store_hset(ctx->store, mcp_key_record(s->id).s, pairs, sizeof pairs / sizeof pairs[0],
                        mcp_session_ttl_ms(ctx), NULL, NULL);
    free(caps);
    if (rc != STORE_OK)
        return -1;
    struct op *o = op_new((void *)fn, arg, s->id);
    if (!o)
        return -1;
    /* Commands complete in order, so this callback also means the hash is written. */
    rc = store_set(ctx->store, mcp_key_owner(s->id).s, s->owner, strlen(s->owner),
                   mcp_session_ttl_ms(ctx), 0, op_done_int, o);
    if (rc != STORE_OK)
        free(o);
    return rc == STORE_OK ? 0 : -1;
}

int mcp_session_update(struct mcp_ctx *ctx, const struct mcp_session *s, mcp_session_done_fn fn,
                       void *arg)
{
    return session_write(ctx, s, fn, arg);
}

/* A session being created while its slot in the per-user index is checked. */
struct create_op {
    struct mcp_ctx *ctx;
    struct mcp_session s; /* a copy: the caller's is borrowed for the call only */
    mcp_session_done_fn fn;
    void *arg;
};

static void create_op_free(struct create_op *co)
{
    mcp_session_free(&co->s);
    free(co);
}

/* Live slots in the index (expiry still ahead); the expired ones are removed on the way. */
static size_t count_live_slots(struct create_op *co, const struct store_str *items, size_t n)
{
    const struct mcp_state_name key = mcp_key_user_sessions(co->s.owner);
    uint64_t now = wall_ms();
    size_t live = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        char num[24], field[MCP_SESSION_ID_MAX + 1];
        snprintf(num, sizeof num, "%.*s", (int)(items[i + 1].len < 23 ? items[i + 1].len : 23),
                 items[i + 1].ptr);
        if (strtoull(num, NULL, 10) > now) {
            live++;
        } else if (items[i].len <= MCP_SESSION_ID_MAX) {
            snprintf(field, sizeof field, "%.*s", (int)items[i].len, items[i].ptr);
            store_hdel(co->ctx->store, key.s, field, NULL, NULL);
        }
    }
    return live;
}

/* The slot was written before the index was read, so two instances creating at once both count
 * both: the user never holds more than the bound (at worst both are refused and retry). */
static void on_user_sessions(void *arg, int status, const struct store_str *items, size_t n)
{
    struct create_op *co = arg;
    if (status != STORE_OK) {
        co->fn(co->arg, -1);
    } else if (count_live_slots(co, items, n) > mcp_limit_sessions_per_user(co->ctx)) {
        store_hdel(co->ctx->store, mcp_key_user_sessions(co->s.owner).s, co->s.id, NULL, NULL);
        log_write(co->ctx->log, LOG_WARNING, "session refused: too many sessions for this user",
                  json_pack("{s:i}", "limit", (int)mcp_limit_sessions_per_user(co->ctx)));
        co->fn(co->arg, MCP_SESSION_LIMIT);
    } else if (session_write(co->ctx, &co->s, co->fn, co->arg) != 0) {
        co->fn(co->arg, -1);
    }
    create_op_free(co);
}

int mcp_session_create(struct mcp_ctx *ctx, const struct mcp_session *s, mcp_session_done_fn fn,
                       void *arg)
{
    if (mcp_limit_sessions_per_user(ctx) == 0 || !fn)
        return session_write(ctx, s, fn, arg);
    struct create_op *co = calloc(1, sizeof *co);
    if (!co)
        return -1;
    co->ctx = ctx;
    co->fn = fn;
    co->arg = arg;
    mcp_session_copy(&co->s, s);
    if (user_index_put(ctx, s->owner, s->id, NULL, NULL) != STORE_OK ||
        store_hgetall(ctx->store, mcp_key_user_sessions(s->owner).s, on_user_sessions, co) !=
            STORE_OK) {
        create_op_free(co);
        return -1;
    }
    return 0;
}

static void fill_field(struct mcp_session *s, const struct store_str *f, const struct store_str *v)
{
    char *val = strndup(v->ptr, v->len);
    if (!val)
        return;
    if (f->len == 5 && memcmp(f->ptr, "owner", 5) == 0) {
        free(s->owner);
        s->owner = val;
        return;
    }
    if (f->len == 2 && memcmp(f->ptr, "pv", 2) == 0) {
        free(s->protocol_version);
        s->protocol_version = val;
        return;
    }
    if (f->len == 4 && memcmp(f->ptr, "caps", 4) == 0) {
        free(s->capabilities_json);
        s->capabilities_json = val;
        return;
    } else if (f->len == 5 && memcmp(f->ptr, "level", 5) == 0) {
        s->log_level = mcp_log_level_index(val);
    } else if (f->len == 4 && memcmp(f->ptr, "kind", 4) == 0) {
        s->legacy_sse = strcmp(val, "sse") == 0;
    }
    free(val);
}

static void on_loaded(void *arg, int status, const struct store_str *items, size_t n)
{
    struct op *o = arg;
    mcp_session_load_fn fn = (mcp_session_load_fn)o->fn;
    if (status != STORE_OK) {
        fn(o->arg, status, NULL);
        free(o);
        return;
    }
    struct mcp_session s = {.log_level = -1};
    snprintf(s.id, sizeof s.id, "%s", o->sid);
    for (size_t i = 0; i + 1 < n; i += 2)
        fill_field(&s, &items[i], &items[i + 1]);
    if (!s.owner || !s.protocol_version)
        fn(o->arg, 1, NULL);
    else
        fn(o->arg, 0, &s);
    mcp_session_free(&s);
    free(o);
}

int mcp_session_load(struct mcp_ctx *ctx, const char *sid, mcp_session_load_fn fn, void *arg)
{
    struct op *o = op_new((void *)fn, arg, sid);
    if (!o)
        return -1;
    if (store_hgetall(ctx->store, mcp_key_record(sid).s, on_loaded, o) != STORE_OK) {
        free(o);
        return -1;
    }
    return 0;
}

/* A direct-mapped cache of recently refreshed sessions: refreshing the TTL (three PEXPIREs, three
 * round trips with Redis) on every request of a busy session buys nothing when it was refreshed
 * a moment ago. Bounded by construction; a collision only costs an extra refresh. */
#define TOUCH_SLOTS       4096
#define TOUCH_INTERVAL_MS 1000

struct touch_slot {
    uint64_t at_ms;
    char sid[MCP_SESSION_ID_MAX + 1];
};

struct mcp_touch_cache {
    struct touch_slot slots[TOUCH_SLOTS];
};

static bool recently_touched(struct mcp_ctx *ctx, const char *sid)
{
    if (!ctx->touched && !(ctx->touched = calloc(1, sizeof *ctx->touched)))
        return false;
    uint32_t h = 2166136261u; /* FNV-1a: session ids are random, any spread will do */
    for (const char *p = sid; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    struct touch_slot *slot = &ctx->touched->slots[h % TOUCH_SLOTS];
    uint64_t now = uv_now(ctx->loop);
    /* Skipping may shorten the session's life by the interval: keep that a small part of it. */
    uint64_t quarter = mcp_session_ttl_ms(ctx) / 4;
    uint64_t interval = quarter < TOUCH_INTERVAL_MS ? quarter : TOUCH_INTERVAL_MS;
    if (now - slot->at_ms < interval && strcmp(slot->sid, sid) == 0)
        return true;
    slot->at_ms = now;
    snprintf(slot->sid, sizeof slot->sid, "%s", sid);
    return false;
}

void mcp_session_forget_touches(struct mcp_ctx *ctx)
{
    free(ctx->touched);
    ctx->touched = NULL;
}

void mcp_session_touch(struct mcp_ctx *ctx, const char *sid, const char *owner)
{
    if (recently_touched(ctx, sid))
        return;
    uint64_t ttl = mcp_session_ttl_ms(ctx);
    store_expire(ctx->store, mcp_key_record(sid).s, ttl, NULL, NULL);
    store_expire(ctx->store, mcp_key_owner(sid).s, ttl, NULL, NULL);
    store_expire(ctx->store, mcp_key_subscriptions(sid).s, ttl, NULL, NULL);
    /* The slot in the per-user index lives exactly as long as the session. */
    if (owner && mcp_limit_sessions_per_user(ctx) > 0)
        user_index_put(ctx, owner, sid, NULL, NULL);
}

int mcp_session_set_log_level(struct mcp_ctx *ctx, const char *sid, int level)
{
    const char *name = mcp_log_levels[level];
    struct store_str pairs[] = {{"level", 5}, {name, strlen(name)}};
    return store_hset(ctx->store, mcp_key_record(sid).s, pairs, 2, mcp_session_ttl_ms(ctx), NULL,
                      NULL) == STORE_OK
               ? 0
               : -1;
}

int mcp_session_destroy(struct mcp_ctx *ctx, const char *sid, const char *owner,
                        mcp_session_done_fn fn, void *arg)
{
    if (owner) /* frees the session's slot at once; expiry frees it by its time */
        store_hdel(ctx->store, mcp_key_user_sessions(owner).s, sid, NULL, NULL);
    store_del(ctx->store, mcp_key_owner(sid).s, NULL, NULL);
    store_del(ctx->store, mcp_key_subscriptions(sid).s, NULL, NULL);
    struct op *o = op_new((void *)fn, arg, sid);
    if (!o || store_del(ctx->store, mcp_key_record(sid).s, op_done_int, o) != STORE_OK) {
        free(o);
        return -1;
    }
    static const char shutdown[] = "{\"type\":\"control\",\"action\":\"SHUTDOWN\"}";
    store_publish(ctx->store, mcp_channel_control(sid).s, shutdown, sizeof shutdown - 1, NULL,
                  NULL);
    return 0;
}

void mcp_session_notify(struct mcp_ctx *ctx, const char *sid, const json_t *msg)
{
    size_t len = 0;
    char *text = json_serialize(msg, &len);
    if (text)
        store_publish(ctx->store, mcp_channel_standalone(sid).s, text, len, NULL, NULL);
    free(text);
}

static void on_next_id(void *arg, int status, long long value)
{
    struct op *o = arg;
    ((mcp_session_id_fn)o->fn)(o->arg, status, value - 1);
    free(o);
}

int mcp_session_next_request_id(struct mcp_ctx *ctx, const char *sid, mcp_session_id_fn fn,
                                void *arg)
{
    struct op *o = op_new((void *)fn, arg, sid);
    if (!o ||
        store_hincrby(ctx->store, mcp_key_record(sid).s, "next_id", 1, on_next_id, o) != STORE_OK) {
        free(o);
        return -1;
    }
    return 0;
}

/* ---- live half ---- */

struct pending_reply {
    mcp_live_reply_fn fn;
    mcp_live_ready_fn ready; /* NULL once run, or when the channel was already listened to */
    void *arg;
};

struct mcp_live {
    char sid[MCP_SESSION_ID_MAX + 1];
    struct mcp_ctx *ctx;
    unsigned refs;
    bool ending;
    bool registered; /* found in ctx->live under sid */
    struct store_sub *control_sub;
    struct store_sub *toserver_sub;
    bool toserver_ready;            /* toserver_sub is in effect (or could not be confirmed) */
    struct hashmap *calls;          /* request id key -> struct mcp_live_call */
    struct hashmap *pending;        /* server request id (decimal) -> struct pending_reply */
    struct mcp_live_member members; /* list head */
    uv_timer_t *alive_timer;        /* while calls wait: notices the session's expiry */
};

/* Request ids are bounded by MAX_ID_BYTES (at most 4096, config.c); their map keys fit here. */
#define CALL_KEY_MAX 4200

static void live_end(struct mcp_live *l, const char *why);

/* Each member's callback may end it (and so remove it) but no other member. */
static void live_takeover(struct mcp_live *l, const char *stream_id, const char *by)
{
    if (!stream_id || !by)
        return;
    struct mcp_live_member *m = l->members.next;
    while (m != &l->members) {
        struct mcp_live_member *next = m->next;
        if (m->on_takeover)
            m->on_takeover(m, stream_id, by);
        m = next;
    }
}

static void on_control(void *arg, const char *channel, const char *msg, size_t len)
{
    struct mcp_live *l = arg;
    /* Parsed, not searched: a CANCEL carries the client's request id, which may be any text. */
    json_t *m = json_parse(msg, len, NULL, 0);
    const char *action = json_get_string(m, "action");
    l->refs++;
    if (action && strcmp(action, "SHUTDOWN") == 0) {
        live_end(l, "Request cancelled: session deleted");
    } else if (action && strcmp(action, "CANCEL") == 0) {
        mcp_live_cancel_call(l, json_object_get(m, "requestId"));
    } else if (action && strcmp(action, "TAKEOVER") == 0) {
        live_takeover(l, json_get_string(m, "stream"), json_get_string(m, "by"));
    }
    mcp_live_release(l);
    json_decref(m);
}

static void deliver_reply(struct mcp_live *l, const json_t *response)
{
    const json_t *id = json_object_get(response, "id");
    if (!json_is_integer(id))
        return;
    char key[32];
    snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    struct pending_reply *p = hashmap_remove(l->pending, key, strlen(key));
    if (!p)
        return;
    mcp_live_reply_fn fn = p->fn;
    void *parg = p->arg;
    free(p);
    fn(parg, response);
}

static void on_toserver(void *arg, const char *channel, const char *msg, size_t len)
{
    struct mcp_live *l = arg;
    json_t *m = json_parse(msg, len, NULL, 0);
    enum jsonrpc_kind kind = jsonrpc_classify(m, NULL);
    if (kind == JSONRPC_RESPONSE || kind == JSONRPC_ERROR) {
        l->refs++;
        deliver_reply(l, m);
        mcp_live_release(l);
    }
    json_decref(m);
}

/* A DELETE elsewhere between the subscribe and its taking effect went unheard: look again once
 * it is in effect. The embedded store delivers whatever is published after store_subscribe
 * returns, so there is no such gap to cover there. Never runs after the live entry is freed
 * (that unsubscribes). */
static void on_listening(void *arg, int status)
{
    struct mcp_live *l = arg;
    if (status == STORE_OK && strcmp(store_backend_name(l->ctx->store), "memory") != 0)
        mcp_session_check_alive(l->ctx, l->sid);
}

struct mcp_live *mcp_live_acquire(struct mcp_ctx *ctx, const char *sid, bool create)
{
    struct mcp_live *l = hashmap_get(ctx->live, sid, strlen(sid));
    if (l) {
        l->refs++;
        return l;
    }
    if (!create)
        return NULL;
    l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    snprintf(l->sid, sizeof l->sid, "%s", sid);
    l->ctx = ctx;
    l->refs = 1;
    l->calls = hashmap_new();
    l->pending = hashmap_new();
    l->members.next = l->members.prev = &l->members;
    l->control_sub = store_subscribe_confirmed(ctx->store, mcp_channel_control(sid).s, on_control,
                                               on_listening, l);
    if (!l->calls || !l->pending || hashmap_put(ctx->live, sid, strlen(sid), l, NULL) != 0) {
        if (l->control_sub)
            store_unsubscribe(l->control_sub);
        hashmap_free(l->calls);
        hashmap_free(l->pending);
        free(l);
        return NULL;
    }
    l->registered = true;
    return l;
}

static void alive_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void alive_timer_stop(struct mcp_live *l)
{
    if (!l->alive_timer)
        return;
    uv_timer_stop(l->alive_timer);
    uv_close((uv_handle_t *)l->alive_timer, alive_timer_closed);
    l->alive_timer = NULL;
}

/* Nothing else looks at a session whose calls run with no stream open, and a call does not keep
 * its session alive: without this, a call would outlive its expired session. */
static void on_alive_timer(uv_timer_t *t)
{
    struct mcp_live *l = t->data;
    mcp_session_check_alive(l->ctx, l->sid);
}

static void alive_timer_start(struct mcp_live *l)
{
    if (l->alive_timer || !(l->alive_timer = malloc(sizeof *l->alive_timer)))
        return;
    uv_timer_init(l->ctx->loop, l->alive_timer);
    l->alive_timer->data = l;
    uint64_t period = mcp_session_heartbeat_ms(l->ctx);
    uv_timer_start(l->alive_timer, on_alive_timer, period, period);
}

void mcp_live_release(struct mcp_live *l)
{
    if (!l || --l->refs > 0)
        return;
    alive_timer_stop(l);
    if (l->registered)
        hashmap_remove(l->ctx->live, l->sid, strlen(l->sid));
    if (l->control_sub)
        store_unsubscribe(l->control_sub);
    if (l->toserver_sub)
        store_unsubscribe(l->toserver_sub);
    struct hashmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    hashmap_iter_init(&it);
    while (hashmap_next(l->pending, &it, &k, &kl, &v))
        free(v);
    hashmap_free(l->pending);
    hashmap_free(l->calls);
    free(l);
}

const char *mcp_live_sid(const struct mcp_live *l)
{
    return l->sid;
}

struct mcp_ctx *mcp_live_ctx(const struct mcp_live *l)
{
    return l->ctx;
}

void mcp_live_add_member(struct mcp_live *l, struct mcp_live_member *m)
{
    m->next = l->members.next;
    m->prev = &l->members;
    l->members.next->prev = m;
    l->members.next = m;
}

void mcp_live_remove_member(struct mcp_live *l, struct mcp_live_member *m)
{
    if (!m->next)
        return;
    m->prev->next = m->next;
    m->next->prev = m->prev;
    m->next = m->prev = NULL;
}

int mcp_live_add_call(struct mcp_live *l, const json_t *request_id, struct mcp_live_call *lc)
{
    char key[CALL_KEY_MAX];
    jsonrpc_id_key(request_id, key, sizeof key);
    if (hashmap_put(l->calls, key, strlen(key), lc, NULL) != 0)
        return -1;
    alive_timer_start(l);
    return 0;
}

void mcp_live_remove_call(struct mcp_live *l, const json_t *request_id)
{
    char key[CALL_KEY_MAX];
    jsonrpc_id_key(request_id, key, sizeof key);
    hashmap_remove(l->calls, key, strlen(key));
    if (hashmap_count(l->calls) == 0)
        alive_timer_stop(l);
}

size_t mcp_live_call_count(const struct mcp_live *l)
{
    return hashmap_count(l->calls);
}

bool mcp_live_cancel_call(struct mcp_live *l, const json_t *request_id)
{
    char key[CALL_KEY_MAX];
    jsonrpc_id_key(request_id, key, sizeof key);
    struct mcp_live_call *lc = hashmap_get(l->calls, key, strlen(key));
    if (!lc)
        return false;
    lc->on_cancel(lc);
    return true;
}

/* The replies channel is listened to: send the requests that waited for it. Each callback may
 * change the map, so iteration restarts after every one. */
static void on_toserver_ready(void *arg, int status)
{
    struct mcp_live *l = arg;
    l->toserver_ready = true;
    l->refs++;
    struct hashmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    for (hashmap_iter_init(&it); hashmap_next(l->pending, &it, &k, &kl, &v);) {
        struct pending_reply *p = v;
        if (!p->ready)
            continue;
        mcp_live_ready_fn ready = p->ready;
        p->ready = NULL;
        ready(p->arg);
        hashmap_iter_init(&it);
    }
    mcp_live_release(l);
}

int mcp_live_await_reply(struct mcp_live *l, json_int_t id, mcp_live_reply_fn fn,
                         mcp_live_ready_fn ready, void *arg)
{
    if (!l->toserver_sub) {
        l->toserver_sub = store_subscribe_confirmed(l->ctx->store, mcp_channel_replies(l->sid).s,
                                                    on_toserver, on_toserver_ready, l);
        if (!l->toserver_sub)
            return -1;
    }
    struct pending_reply *p = malloc(sizeof *p);
    char key[32];
    snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, id);
    if (!p)
        return -1;
    p->fn = fn;
    p->ready = l->toserver_ready ? NULL : ready;
    p->arg = arg;
    void *old = NULL;
    if (hashmap_put(l->pending, key, strlen(key), p, &old) != 0) {
        free(p);
        return -1;
    }
    free(old);
    return l->toserver_ready ? 1 : 0;
}

void mcp_live_cancel_reply(struct mcp_live *l, json_int_t id)
{
    char key[32];
    snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, id);
    free(hashmap_remove(l->pending, key, strlen(key)));
}

void mcp_live_route_reply(struct mcp_ctx *ctx, const char *sid, const json_t *response)
{
    struct mcp_live *l = mcp_live_acquire(ctx, sid, false);
    if (l) {
        const json_t *id = json_object_get(response, "id");
        char key[32];
        snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        if (json_is_integer(id) && hashmap_get(l->pending, key, strlen(key))) {
            deliver_reply(l, response);
            mcp_live_release(l);
            return;
        }
        mcp_live_release(l);
    }
    size_t len = 0;
    char *text = json_serialize(response, &len);
    if (text)
        store_publish(ctx->store, mcp_channel_replies(sid).s, text, len, NULL, NULL);
    free(text);
}

/* Publish msg (stolen) on the session's control channel. */
static void control_publish(struct mcp_ctx *ctx, const char *sid, json_t *msg)
{
    size_t len = 0;
    char *text = msg ? json_serialize(msg, &len) : NULL;
    if (text)
        store_publish(ctx->store, mcp_channel_control(sid).s, text, len, NULL, NULL);
    free(text);
    json_decref(msg);
}

void mcp_live_route_cancel(struct mcp_ctx *ctx, const char *sid, const json_t *request_id)
{
    struct mcp_live *l = mcp_live_acquire(ctx, sid, false);
    if (l && mcp_live_cancel_call(l, request_id)) {
        mcp_live_release(l);
        return;
    }
    mcp_live_release(l);
    /* The call may be running on another instance: every instance holding the session hears
     * the control channel. */
    control_publish(ctx, sid,
                    json_pack("{s:s,s:s,s:O}", "type", "control", "action", "CANCEL", "requestId",
                              (json_t *)request_id));
}

void mcp_live_route_takeover(struct mcp_ctx *ctx, const char *sid, const char *stream_id,
                             const char *by)
{
    struct mcp_live *l = mcp_live_acquire(ctx, sid, false);
    if (l) /* here at once: the resume reads the log only after this */
        live_takeover(l, stream_id, by);
    mcp_live_release(l);
    control_publish(ctx, sid,
                    json_pack("{s:s,s:s,s:s,s:s}", "type", "control", "action", "TAKEOVER",
                              "stream", stream_id, "by", by));
}

/* Members without on_session_end (POST streams) stay: their calls' answers end them. Each
 * callback may change the list, so the walk restarts after every one. */
static void live_end_members(struct mcp_live *l)
{
    struct mcp_live_member *m = l->members.next;
    while (m != &l->members) {
        if (!m->on_session_end) {
            m = m->next;
            continue;
        }
        mcp_live_remove_member(l, m);
        m->on_session_end(m);
        m = l->members.next;
    }
}

/* The session is over on every instance: close its streams, end its calls, fail its pending
 * server->client requests. A call still has an open request (a POST, or a stream a client may
 * resume), so it is answered with an error naming why rather than left without a response.
 * Each of those drops its own reference; the caller holds one more, so l outlives this. */
static void live_end(struct mcp_live *l, const char *why)
{
    if (l->ending)
        return;
    l->ending = true;
    live_end_members(l);
    /* Each callback below may change the maps, so iteration restarts after every one. */
    struct hashmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    for (hashmap_iter_init(&it); hashmap_next(l->calls, &it, &k, &kl, &v); hashmap_iter_init(&it)) {
        struct mcp_live_call *lc = v;
        hashmap_remove(l->calls, k, kl);
        lc->on_session_end(lc, why);
    }
    for (hashmap_iter_init(&it); hashmap_next(l->pending, &it, &k, &kl, &v);
         hashmap_iter_init(&it)) {
        struct pending_reply *p = v;
        hashmap_remove(l->pending, k, kl);
        p->fn(p->arg, NULL);
        free(p);
    }
    l->ending = false;
}

struct alive_check {
    struct mcp_ctx *ctx;
    char sid[MCP_SESSION_ID_MAX + 1];
};

static void on_alive_checked(void *arg, int status, const struct mcp_session *s)
{
    struct alive_check *ac = arg;
    /* Only a definite "absent" ends the session; a store error proves nothing. */
    struct mcp_live *l = status == 1 ? mcp_live_acquire(ac->ctx, ac->sid, false) : NULL;
    if (l) {
        live_end(l, "Request cancelled: session expired");
        mcp_live_release(l);
    }
    free(ac);
}

void mcp_session_check_alive(struct mcp_ctx *ctx, const char *sid)
{
    struct alive_check *ac = malloc(sizeof *ac);
    if (!ac)
        return;
    ac->ctx = ctx;
    snprintf(ac->sid, sizeof ac->sid, "%s", sid);
    if (mcp_session_load(ctx, sid, on_alive_checked, ac) != 0)
        free(ac);
}

/* Every live entry of this instance, each with a reference taken; *count of them. */
static struct mcp_live **live_collect(struct mcp_ctx *ctx, size_t *count)
{
    size_t n = hashmap_count(ctx->live);
    *count = 0;
    struct mcp_live **all = n ? calloc(n, sizeof *all) : NULL;
    if (!all)
        return NULL;
    struct hashmap_iter it;
    const char *k;
    size_t kl;
    void *v;
    hashmap_iter_init(&it);
    while (*count < n && hashmap_next(ctx->live, &it, &k, &kl, &v)) {
        struct mcp_live *l = v;
        l->refs++;
        all[(*count)++] = l;
    }
    return all;
}

void mcp_live_end_streams(struct mcp_ctx *ctx)
{
    size_t count;
    struct mcp_live **all = live_collect(ctx, &count);
    for (size_t i = 0; i < count; i++) {
        live_end_members(all[i]);
        mcp_live_release(all[i]);
    }
    free(all);
}

void mcp_live_end_all(struct mcp_ctx *ctx)
{
    size_t count;
    struct mcp_live **all = live_collect(ctx, &count);
    /* Detach them all first: whatever still holds one after it ended is waiting on the loop
     * and must not be found again, and the registry must empty for the loop to finish. */
    for (size_t i = 0; i < count; i++) {
        hashmap_remove(ctx->live, all[i]->sid, strlen(all[i]->sid));
        all[i]->registered = false;
    }
    for (size_t i = 0; i < count; i++) {
        live_end(all[i], "Server shutting down");
        mcp_live_release(all[i]);
    }
    free(all);
}
