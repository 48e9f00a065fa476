/*
 * store_redis: the Redis backend (REDIS_URL), over hiredis 0.14's async API on the libuv loop.
 *
 * Two connections: one for commands (so replies come back in issue order, which is the store's
 * ordering guarantee) and one for SUBSCRIBE, because a subscribed connection accepts no other
 * commands. hiredis 0.14 has no reconnect and no connect timeout, so both are done here: a
 * connection that drops, or does not finish its handshake (AUTH, SELECT, PING) within
 * RDS_CONNECT_TIMEOUT_MS, is freed and retried with exponential backoff; the subscription
 * connection re-subscribes every live channel each time it comes back. The backoff ceiling
 * (RDS_BACKOFF_MAX_MS) plus the connect timeout bound how long the store stays down after the
 * server is back: about 1.5 s at worst.
 *
 * At startup commands are buffered behind the first connection's handshake (bounded by the
 * connect timeout); once an attempt has failed, and until a connection is up again, they fail at
 * once with STORE_ERR_UNAVAILABLE, so callers never wait on an outage. Such failures are queued to
 * a uv_idle handle, never delivered inside the store_* call, because callers rely on callbacks
 * never being re-entrant.
 *
 * Operations that pair a write with PEXPIRE (INCRBY, HSET, SADD, the event log) are Lua scripts
 * (EVAL), so the TTL is set atomically with the write and, unlike MULTI/EXEC, not at all when
 * the write fails (WRONGTYPE leaves a foreign key untouched, as in the memory backend).
 *
 * Event log: key is a list of "<seq>:<data>" entries and key:seq the counter. Appending is one
 * script: a missing list restarts the counter (so a log that expired starts again at 1 even if
 * the counter outlived it by a millisecond), INCR, RPUSH, LTRIM to the newest max entries and
 * PEXPIRE both keys. Reading is LRANGE key 0 -1 (the list is bounded by max_entries) filtered
 * here on seq > after_seq, at most max. A side effect the memory backend does not have: the
 * counter key <key>:seq is visible to GET.
 *
 * Pub/sub differs from the memory backend in two ways callers may see: PUBLISH counts receiving
 * connections (all of this store's subscriptions share one), and SUBSCRIBE takes a round trip,
 * so a message published before the server has confirmed it can be missed;
 * store_subscribe_confirmed says when it has.
 *
 * Every command is built with redisAsyncCommandArgv (explicit lengths, binary-safe); user data
 * never goes through a format string. Host names are resolved with a blocking getaddrinfo by
 * hiredis; use an address in REDIS_URL where that matters. No TLS (hiredis 0.14 has none).
 */
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "lib/hashmap.h"
#include "lib/log.h"
#include "store/store_backend.h"

#define RDS_DEFAULT_PORT       6379
#define RDS_BACKOFF_MIN_MS     100u
#define RDS_BACKOFF_MAX_MS     1000u /* ceiling: recovery within ~1 s of the server returning */
#define RDS_CONNECT_TIMEOUT_MS 500u  /* handshake budget; hiredis 0.14 has no connect timeout */
#define RDS_NUM_LEN            24    /* digits of a 64-bit integer, sign and NUL */
#define RDS_MAX_ARGS           8     /* fixed-size commands; HSET allocates its own */

/* INCRBY then PEXPIRE in one step. Returns the value as a string: a Lua number is a double and
 * would round counters above 2^53. */
static const char SCRIPT_INCR[] =
    "redis.call('INCRBY', KEYS[1], ARGV[1]) "
    "if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return redis.call('GET', KEYS[1])";
static const char SCRIPT_HSET[] =
    "local n = redis.call('HSET', KEYS[1], unpack(ARGV, 2)) "
    "if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
    "return n";
static const char SCRIPT_SADD[] =
    "local n = redis.call('SADD', KEYS[1], ARGV[2]) "
    "if tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
    "return n";
/* KEYS: list, counter. ARGV: data, max entries, ttl ms. Returns the new entry's seq. */
static const char SCRIPT_LOG_APPEND[] =
    "local t = redis.call('TYPE', KEYS[1]).ok "
    "if t ~= 'list' then "
    "  if t ~= 'none' then "
    "    return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of "
    "value') "
    "  end "
    "  redis.call('DEL', KEYS[2]) "
    "end "
    "local seq = redis.call('INCR', KEYS[2]) "
    "redis.call('RPUSH', KEYS[1], string.format('%d:', seq) .. ARGV[1]) "
    "redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1) "
    "if tonumber(ARGV[3]) > 0 then "
    "  redis.call('PEXPIRE', KEYS[1], ARGV[3]) redis.call('PEXPIRE', KEYS[2], ARGV[3]) "
    "end "
    "return seq";

enum rds_kind { K_INT, K_STR, K_STRS, K_LOG, K_READY };
enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_UP };

struct rds_store;

/* One pending callback: sent to Redis as privdata, or queued for the idle handle when it
 * fails without reaching Redis, or a subscription's readiness notice (K_READY, always queued). */
struct rds_cmd {
    struct store_fifo_node node; /* first: the deferred queue holds it by its node */
    enum rds_kind kind;
    int status; /* deferred failures only */
    union {
        store_int_cb i;
        store_str_cb s;
        store_strs_cb strs;
        store_log_cb log;
        store_ready_fn ready;
    } cb;
    void *arg;
    uint64_t after_seq;    /* K_LOG */
    size_t max;            /* K_LOG */
    struct store_sub *sub; /* K_READY: held until the notice has run */
};

struct rds_conn {
    struct rds_store *rs;
    redisAsyncContext *ac; /* NULL while waiting to retry, and once closed */
    enum conn_state state;
    bool is_sub;
    bool finished;    /* closing: the context is gone for good */
    uv_timer_t timer; /* retry backoff, or the handshake timeout while connecting */
    unsigned backoff_ms;
};

struct rds_store {
    struct store base; /* first: the vtable functions receive &base */
    struct rds_conn cmd;
    struct rds_conn sub;
    struct hashmap *channels;   /* name -> struct store_channel *, subscribed or becoming so */
    struct store_fifo deferred; /* failures and readiness notices for the loop */
    uv_idle_t drain;
    char *host;
    int port;
    int db;
    char *user; /* NULL: AUTH with the password alone */
    char *password;
    bool closing;
    int handles_open;
    void (*done)(void *);
    void *done_arg;
};

static struct rds_store *rds(struct store *s)
{
    return (struct rds_store *)s;
}

/* ---- replies ---- */

static void cmd_fail(struct rds_cmd *c, int status)
{
    switch (c->kind) {
    case K_INT:
        c->cb.i(c->arg, status, 0);
        break;
    case K_STR:
        c->cb.s(c->arg, status, NULL, 0);
        break;
    case K_STRS:
        c->cb.strs(c->arg, status, NULL, 0);
        break;
    case K_LOG:
        c->cb.log(c->arg, status, NULL, 0);
        break;
    case K_READY:
        /* A closing store has dropped its subscriptions, confirmed or not. */
        if (!c->sub->dead)
            c->cb.ready(c->sub->arg, rds(c->sub->store)->closing ? STORE_ERR_UNAVAILABLE : status);
        store_sub_release(c->sub);
        break;
    }
}

/* NULL means the connection went away before the reply came. */
static int reply_status(const redisReply *r)
{
    if (!r)
        return STORE_ERR_UNAVAILABLE;
    if (r->type != REDIS_REPLY_ERROR)
        return STORE_OK;
    /* Scripts relay the callee's error text, so the code may follow a prefix. */
    return strstr(r->str, "WRONGTYPE") ? STORE_ERR_WRONGTYPE : STORE_ERR;
}

static bool parse_ll(const char *p, size_t len, long long *out)
{
    char buf[RDS_NUM_LEN];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return errno == 0 && *end == '\0';
}

/* SET answers +OK or nil, counters and scripts an integer, SCRIPT_INCR a bulk string. */
static void deliver_int(struct rds_cmd *c, const redisReply *r)
{
    long long v = 0;
    int status = STORE_OK;
    if (r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r->type == REDIS_REPLY_STATUS)
        v = 1;
    else if (r->type == REDIS_REPLY_STRING)
        status = parse_ll(r->str, r->len, &v) ? STORE_OK : STORE_ERR;
    else if (r->type != REDIS_REPLY_NIL)
        status = STORE_ERR;
    c->cb.i(c->arg, status, status == STORE_OK ? v : 0);
}

static void deliver_strs(struct rds_cmd *c, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY) {
        cmd_fail(c, r->type == REDIS_REPLY_NIL ? STORE_OK : STORE_ERR);
        return;
    }
    struct store_str *items = NULL;
    if (r->elements && !(items = calloc(r->elements, sizeof(*items)))) {
        cmd_fail(c, STORE_ERR);
        return;
    }
    for (size_t i = 0; i < r->elements; i++)
        items[i] = (struct store_str){r->element[i]->str, r->element[i]->len};
    c->cb.strs(c->arg, STORE_OK, items, r->elements);
    free(items);
}

/* "<seq>:<data>" -> seq and the data after the colon; false for anything else. */
static bool parse_entry(const redisReply *el, struct store_log_entry *e)
{
    if (el->type != REDIS_REPLY_STRING)
        return false;
    uint64_t seq = 0;
    size_t i = 0;
    for (; i < el->len && el->str[i] >= '0' && el->str[i] <= '9'; i++)
        if (__builtin_mul_overflow(seq, 10, &seq) ||
            __builtin_add_overflow(seq, (uint64_t)(el->str[i] - '0'), &seq))
            return false;
    if (i == 0 || i >= el->len || el->str[i] != ':')
        return false;
    *e = (struct store_log_entry){seq, el->str + i + 1, el->len - i - 1};
    return true;
}

static void deliver_log(struct rds_cmd *c, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY) {
        cmd_fail(c, STORE_ERR);
        return;
    }
    struct store_log_entry *entries = NULL;
    if (r->elements && !(entries = calloc(r->elements, sizeof(*entries)))) {
        cmd_fail(c, STORE_ERR);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < r->elements && n < c->max; i++)
        if (parse_entry(r->element[i], &entries[n]) && entries[n].seq > c->after_seq)
            n++;
    c->cb.log(c->arg, STORE_OK, entries, n);
    free(entries);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rds_cmd *c = privdata;
    const redisReply *r = reply;
    int status = reply_status(r);
    if (status != STORE_OK) {
        cmd_fail(c, status);
    } else if (c->kind == K_INT) {
        deliver_int(c, r);
    } else if (c->kind == K_STR) {
        if (r->type == REDIS_REPLY_STRING)
            c->cb.s(c->arg, STORE_OK, r->str, r->len);
        else
            cmd_fail(c, r->type == REDIS_REPLY_NIL ? STORE_OK : STORE_ERR);
    } else if (c->kind == K_STRS) {
        deliver_strs(c, r);
    } else {
        deliver_log(c, r);
    }
    free(c);
}

/* ---- issuing commands ---- */

static void on_drain(uv_idle_t *h);

static void defer(struct rds_store *rs, struct rds_cmd *c, int status)
{
    c->status = status;
    store_fifo_push(&rs->deferred, &c->node);
    uv_idle_start(&rs->drain, on_drain);
}

/* Whether a command may wait on c: once it is up, or behind the handshake of the attempts made
 * at startup (before any failure). Attempts during an outage do not qualify:
 * an attempt to a server that is down may only end with its handshake timeout (a connect to a
 * vanished host is not refused), and a command behind it would wait that long instead of
 * failing at once. */
static bool conn_usable(const struct rds_conn *c)
{
    return c->ac && (c->state == CONN_UP ||
                     (c->state == CONN_CONNECTING && c->backoff_ms == RDS_BACKOFF_MIN_MS));
}

/* c may be NULL (no callback). Returns what the store_* call returns. */
static int send_argv(struct rds_store *rs, struct rds_cmd *c, int argc, const char **argv,
                     const size_t *lens)
{
    if (rs->closing) {
        free(c);
        return STORE_ERR_UNAVAILABLE;
    }
    redisAsyncContext *ac = conn_usable(&rs->cmd) ? rs->cmd.ac : NULL;
    if (ac && redisAsyncCommandArgv(ac, c ? on_reply : NULL, c, argc, argv, lens) == REDIS_OK)
        return STORE_OK;
    /* Not connected, or the context is being torn down: fail from the loop. */
    if (c)
        defer(rs, c, STORE_ERR_UNAVAILABLE);
    return STORE_OK;
}

static struct rds_cmd *cmd_new(enum rds_kind kind, void *cb, void *arg, int *rc)
{
    *rc = STORE_OK;
    if (!cb)
        return NULL;
    struct rds_cmd *c = calloc(1, sizeof(*c));
    if (!c) {
        *rc = STORE_ERR;
        return NULL;
    }
    c->kind = kind;
    c->arg = arg;
    switch (kind) {
    case K_INT:
        c->cb.i = (store_int_cb)cb;
        break;
    case K_STR:
        c->cb.s = (store_str_cb)cb;
        break;
    case K_STRS:
        c->cb.strs = (store_strs_cb)cb;
        break;
    case K_LOG:
        c->cb.log = (store_log_cb)cb;
        break;
    case K_READY:
        c->cb.ready = (store_ready_fn)cb;
        break;
    }
    return c;
}

/* A command of up to RDS_MAX_ARGS arguments; NULL-terminated C strings except where a length
 * is given in lens (SIZE_MAX = use strlen). */
static int send_simple(struct store *s, enum rds_kind kind, void *cb, void *arg, int argc,
                       const char **argv, size_t *lens)
{
    int rc;
    struct rds_cmd *c = cmd_new(kind, cb, arg, &rc);
    if (rc != STORE_OK)
        return rc;
    for (int i = 0; i < argc; i++)
        if (lens[i] == SIZE_MAX)
            lens[i] = strlen(argv[i]);
    return send_argv(rds(s), c, argc, argv, lens);
}

#define L_STR SIZE_MAX

static int rds_get(struct store *s, const char *key, store_str_cb cb, void *arg)
{
    const char *argv[] = {"GET", key};
    size_t lens[] = {L_STR, L_STR};
    return send_simple(s, K_STR, (void *)cb, arg, 2, argv, lens);
}

static int rds_set(struct store *s, const char *key, const char *val, size_t len, uint64_t ttl_ms,
                   unsigned flags, store_int_cb cb, void *arg)
{
    char ttl[RDS_NUM_LEN];
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)ttl_ms);
    const char *argv[RDS_MAX_ARGS] = {"SET", key, val ? val : ""};
    size_t lens[RDS_MAX_ARGS] = {L_STR, L_STR, len};
    int argc = 3;
    if (ttl_ms > 0) { /* no PX: SET without a TTL persists the key */
        argv[argc] = "PX";
        lens[argc++] = L_STR;
        argv[argc] = ttl;
        lens[argc++] = L_STR;
    }
    if (flags & (STORE_SET_NX | STORE_SET_XX)) {
        argv[argc] = (flags & STORE_SET_NX) ? "NX" : "XX";
        lens[argc++] = L_STR;
    }
    return send_simple(s, K_INT, (void *)cb, arg, argc, argv, lens);
}

static int rds_del(struct store *s, const char *key, store_int_cb cb, void *arg)
{
    const char *argv[] = {"DEL", key};
    size_t lens[] = {L_STR, L_STR};
    return send_simple(s, K_INT, (void *)cb, arg, 2, argv, lens);
}

static int rds_expire(struct store *s, const char *key, uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    char ttl[RDS_NUM_LEN];
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)ttl_ms);
    const char *argv[] = {"PEXPIRE", key, ttl};
    size_t lens[] = {L_STR, L_STR, L_STR};
    return send_simple(s, K_INT, (void *)cb, arg, 3, argv, lens);
}

static int rds_incr(struct store *s, const char *key, long long by, uint64_t ttl_ms,
                    store_int_cb cb, void *arg)
{
    char n[RDS_NUM_LEN], ttl[RDS_NUM_LEN];
    snprintf(n, sizeof(n), "%lld", by);
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)ttl_ms);
    const char *argv[] = {"EVAL", SCRIPT_INCR, "1", key, n, ttl};
    size_t lens[] = {L_STR, L_STR, L_STR, L_STR, L_STR, L_STR};
    return send_simple(s, K_INT, (void *)cb, arg, 6, argv, lens);
}

static int rds_hset(struct store *s, const char *key, const struct store_str *pairs, size_t npairs,
                    uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    enum { FIXED = 5 }; /* EVAL script 1 key ttl */
    if (npairs > (size_t)INT_MAX - FIXED)
        return STORE_ERR;
    char ttl[RDS_NUM_LEN];
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)ttl_ms);
    const char **argv = calloc(npairs + FIXED, sizeof(*argv));
    size_t *lens = calloc(npairs + FIXED, sizeof(*lens));
    int rc = STORE_ERR;
    if (argv && lens) {
        const char *head[FIXED] = {"EVAL", SCRIPT_HSET, "1", key, ttl};
        for (size_t i = 0; i < FIXED; i++) {
            argv[i] = head[i];
            lens[i] = strlen(head[i]);
        }
        for (size_t i = 0; i < npairs; i++) {
            argv[FIXED + i] = pairs[i].ptr ? pairs[i].ptr : "";
            lens[FIXED + i] = pairs[i].len;
        }
        struct rds_cmd *c = cmd_new(K_INT, (void *)cb, arg, &rc);
        if (rc == STORE_OK)
            rc = send_argv(rds(s), c, (int)(npairs + FIXED), argv, lens);
    }
    free(argv);
    free(lens);
    return rc;
}

static int rds_hget(struct store *s, const char *key, const char *field, store_str_cb cb, void *arg)
{
    const char *argv[] = {"HGET", key, field};
    size_t lens[] = {L_STR, L_STR, L_STR};
    return send_simple(s, K_STR, (void *)cb, arg, 3, argv, lens);
}

static int rds_hgetall(struct store *s, const char *key, store_strs_cb cb, void *arg)
{
    const char *argv[] = {"HGETALL", key};
    size_t lens[] = {L_STR, L_STR};
    return send_simple(s, K_STRS, (void *)cb, arg, 2, argv, lens);
}

static int rds_hincrby(struct store *s, const char *key, const char *field, long long by,
                       store_int_cb cb, void *arg)
{
    char n[RDS_NUM_LEN];
    snprintf(n, sizeof(n), "%lld", by);
    const char *argv[] = {"HINCRBY", key, field, n};
    size_t lens[] = {L_STR, L_STR, L_STR, L_STR};
    return send_simple(s, K_INT, (void *)cb, arg, 4, argv, lens);
}

static int rds_hdel(struct store *s, const char *key, const char *field, store_int_cb cb, void *arg)
{
    const char *argv[] = {"HDEL", key, field};
    size_t lens[] = {L_STR, L_STR, L_STR};
    return send_simple(s, K_INT, (void *)cb, arg, 3, argv, lens);
}

static int rds_sadd(struct store *s, const char *key, const char *member, size_t len,
                    uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    char ttl[RDS_NUM_LEN];
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)ttl_ms);
    const char *argv[] = {"EVAL", SCRIPT_SADD, "1", key, ttl, member ? member : ""};
    size_t lens[] = {L_STR, L_STR, L_STR, L_STR, L_STR, len};
    return send_simple(s, K_INT, (void *)cb, arg, 6, argv, lens);
}

static int rds_srem(struct store *s, const char *key, const char *member, size_t len,
                    store_int_cb cb, void *arg)
{
    const char *argv[] = {"SREM", key, member ? member : ""};
    size_t lens[] = {L_STR, L_STR, len};
    return send_simple(s, K_INT, (void *)cb, arg, 3, argv, lens);
}

static int rds_smembers(struct store *s, const char *key, store_strs_cb cb, void *arg)
{
    const char *argv[] = {"SMEMBERS", key};
    size_t lens[] = {L_STR, L_STR};
    return send_simple(s, K_STRS, (void *)cb, arg, 2, argv, lens);
}

static int rds_publish(struct store *s, const char *channel, const char *msg, size_t len,
                       store_int_cb cb, void *arg)
{
    const char *argv[] = {"PUBLISH", channel, msg ? msg : ""};
    size_t lens[] = {L_STR, L_STR, len};
    return send_simple(s, K_INT, (void *)cb, arg, 3, argv, lens);
}

static int rds_log_append(struct store *s, const char *key, const char *data, size_t len,
                          size_t max_entries, uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    if (max_entries == 0)
        return STORE_ERR;
    size_t klen = strlen(key);
    char *seq_key = NULL;
    if (asprintf(&seq_key, "%s:seq", key) < 0) /* a key name, not a command */
        return STORE_ERR;
    char max[RDS_NUM_LEN], ttl[RDS_NUM_LEN];
    snprintf(max, sizeof(max), "%zu", max_entries);
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)ttl_ms);
    const char *argv[] = {"EVAL", SCRIPT_LOG_APPEND, "2", key, seq_key, data ? data : "", max, ttl};
    size_t lens[] = {L_STR, L_STR, L_STR, klen, klen + 4, len, L_STR, L_STR};
    int rc = send_simple(s, K_INT, (void *)cb, arg, 8, argv, lens);
    free(seq_key);
    return rc;
}

static int rds_log_read(struct store *s, const char *key, uint64_t after_seq, size_t max,
                        store_log_cb cb, void *arg)
{
    if (!cb) /* a read nobody hears has no effect */
        return rds(s)->closing ? STORE_ERR_UNAVAILABLE : STORE_OK;
    int rc;
    struct rds_cmd *c = cmd_new(K_LOG, (void *)cb, arg, &rc);
    if (rc != STORE_OK)
        return rc;
    c->after_seq = after_seq;
    c->max = max;
    const char *argv[] = {"LRANGE", key, "0", "-1"};
    size_t lens[] = {6, strlen(key), 1, 2};
    return send_argv(rds(s), c, 4, argv, lens);
}

/* ---- pub/sub ---- */

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* SUBSCRIBE or UNSUBSCRIBE one channel; false when the connection cannot take it (it is down
 * or going down, and a reconnect re-subscribes from the channel table anyway). */
static bool sub_send(struct rds_store *rs, const char *verb, struct store_channel *ch)
{
    redisAsyncContext *ac = rs->sub.ac;
    const char *argv[] = {verb, ch->name};
    size_t lens[] = {strlen(verb), ch->name_len};
    ch->confirmed = false;
    return ac && redisAsyncCommandArgv(ac, on_sub_reply, NULL, 2, argv, lens) == REDIS_OK;
}

/* Queue sub's readiness notice: it runs from the loop, and not at all once sub is dead. */
static void ready_notify(struct rds_store *rs, struct store_sub *sub, int status)
{
    int rc;
    struct rds_cmd *c = cmd_new(K_READY, (void *)sub->ready, NULL, &rc);
    if (!c) {
        log_msgf(rs->base.log, LOG_WARNING, "store: out of memory confirming a subscription");
        return;
    }
    sub->ready = NULL;
    c->sub = sub;
    store_sub_hold(sub);
    defer(rs, c, status);
}

/* Notify every subscription on ch still waiting for its confirmation. */
static void channel_notify(struct rds_store *rs, struct store_channel *ch, int status)
{
    for (struct store_sub *sub = ch->head; sub; sub = sub->next)
        if (sub->ready)
            ready_notify(rs, sub, status);
}

/* Fan one message out to the channel's subscribers as of now. Each is pinned while the loop
 * runs, because a callback may unsubscribe itself or others (and the channel may go). */
static void deliver_message(struct rds_store *rs, struct store_channel *ch, const char *channel,
                            const redisReply *msg)
{
    size_t n = ch->nsubs, i = 0;
    if (n == 0)
        return;
    struct store_sub **snap = calloc(n, sizeof(*snap));
    if (!snap) {
        log_msgf(rs->base.log, LOG_WARNING, "store: out of memory delivering on %s", channel);
        return;
    }
    for (struct store_sub *sub = ch->head; sub && i < n; sub = sub->next) {
        snap[i++] = sub;
        store_sub_hold(sub);
    }
    n = i; /* equal unless the list and its count disagree */
    for (i = 0; i < n; i++) {
        struct store_sub *sub = snap[i];
        if (!sub->dead && !rs->closing)
            sub->fn(sub->arg, channel, msg->str, msg->len);
        store_sub_release(sub);
    }
    free(snap);
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rds_conn *c = ac->data;
    struct rds_store *rs = c->rs;
    const redisReply *r = reply;
    /* NULL: the context is being freed; the channel table survives it. */
    if (!r || c->ac != ac || r->type != REDIS_REPLY_ARRAY || r->elements < 3)
        return;
    const redisReply *kind = r->element[0], *name = r->element[1];
    if (kind->type != REDIS_REPLY_STRING || name->type != REDIS_REPLY_STRING)
        return;
    struct store_channel *ch = hashmap_get(rs->channels, name->str, name->len);
    if (!ch)
        return;
    if (strcmp(kind->str, "message") == 0 && r->element[2]->type == REDIS_REPLY_STRING) {
        deliver_message(rs, ch, name->str, r->element[2]);
    } else if (strcmp(kind->str, "subscribe") == 0 && !ch->unsubscribing) {
        /* From here on the server delivers to this connection everything published. */
        ch->confirmed = true;
        channel_notify(rs, ch, STORE_OK);
    } else if (strcmp(kind->str, "unsubscribe") == 0 && ch->unsubscribing) {
        /* hiredis forgets the channel's callback on this reply, so a subscription made while
         * the UNSUBSCRIBE was in flight must SUBSCRIBE again only now. */
        ch->unsubscribing = false;
        if (ch->nsubs == 0)
            store_channel_free(rs->channels, ch);
        else if (!sub_send(rs, "SUBSCRIBE", ch)) /* if down, the reconnect subscribes it */
            channel_notify(rs, ch, STORE_ERR_UNAVAILABLE);
    }
}

static struct store_sub *rds_subscribe(struct store *s, const char *channel, store_message_fn fn,
                                       store_ready_fn ready, void *arg)
{
    struct rds_store *rs = rds(s);
    if (rs->closing)
        return NULL;
    bool fresh;
    struct store_channel *ch = store_channel_get(rs->channels, channel, &fresh);
    struct store_sub *sub = ch ? store_sub_add(s, ch, fn, ready, arg) : NULL;
    if (!sub) {
        if (ch && fresh)
            store_channel_free(rs->channels, ch);
        return NULL;
    }
    /* A channel still unsubscribing re-subscribes when that completes (on_sub_reply); when
     * the connection is down, the reconnect subscribes every channel in the table. */
    bool sent = !fresh || sub_send(rs, "SUBSCRIBE", ch);
    if (ready && ch->confirmed)
        ready_notify(rs, sub, STORE_OK);
    else if (ready && (!sent || !conn_usable(&rs->sub)))
        ready_notify(rs, sub, STORE_ERR_UNAVAILABLE);
    return sub;
}

/* Unlinked at once; a delivery in progress holds the memory and sees dead. Safe from inside
 * any callback. */
static void rds_unsubscribe(struct store_sub *sub)
{
    struct rds_store *rs = rds(sub->store); /* read first: unlinking may free sub */
    struct store_channel *ch = store_sub_unlink(sub);
    if (!ch || ch->nsubs > 0 || ch->unsubscribing)
        return;
    if (!rs->closing && sub_send(rs, "UNSUBSCRIBE", ch))
        ch->unsubscribing = true;
    else
        store_channel_free(rs->channels, ch);
}

/* The subscription connection is gone: nothing is in flight any more, and subscriptions still
 * waiting for their confirmation will not get it from this connection. */
static void channels_reset(struct rds_store *rs)
{
    struct hashmap_iter it;
    const char *name;
    size_t len;
    void *item;
    hashmap_iter_init(&it);
    while (hashmap_next(rs->channels, &it, &name, &len, &item)) {
        struct store_channel *ch = item;
        ch->unsubscribing = false;
        ch->confirmed = false;
        if (ch->nsubs == 0) {
            hashmap_remove(rs->channels, name, len); /* allowed: the entry just returned */
            free(ch);
        } else {
            channel_notify(rs, ch, STORE_ERR_UNAVAILABLE);
        }
    }
}

static void channels_resubscribe(struct rds_store *rs)
{
    struct hashmap_iter it;
    void *item;
    hashmap_iter_init(&it);
    while (hashmap_next(rs->channels, &it, NULL, NULL, &item))
        sub_send(rs, "SUBSCRIBE", item);
}

/* ---- connections ---- */

static void conn_start(struct rds_conn *c);

static void on_retry(uv_timer_t *t)
{
    conn_start(t->data);
}

static void conn_retry_later(struct rds_conn *c)
{
    c->state = CONN_DOWN;
    uv_timer_start(&c->timer, on_retry, c->backoff_ms, 0);
    c->backoff_ms = c->backoff_ms * 2 > RDS_BACKOFF_MAX_MS ? RDS_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static const char *conn_name(const struct rds_conn *c)
{
    return c->is_sub ? "subscription" : "command";
}

/* The context is gone or going (hiredis frees it): forget it, then retry or finish closing. */
static void conn_lost(struct rds_conn *c, const char *why)
{
    struct rds_store *rs = c->rs;
    bool was_up = c->state == CONN_UP;
    c->ac = NULL;
    c->state = CONN_DOWN;
    if (c->is_sub)
        channels_reset(rs);
    if (rs->closing) {
        uv_timer_stop(&c->timer);
        c->finished = true;
        uv_idle_start(&rs->drain, on_drain); /* finishes the close from the loop */
        return;
    }
    /* Log the loss and the first failed attempt, not every retry of a long outage. */
    if (was_up || c->backoff_ms == RDS_BACKOFF_MIN_MS)
        log_msgf(rs->base.log, LOG_WARNING, "store: redis %s connection to %s:%d lost (%s)",
                 conn_name(c), rs->host, rs->port, why ? why : "closed");
    conn_retry_later(c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rds_conn *c = ac->data;
    if (status != REDIS_OK && c->ac == ac)
        conn_lost(c, ac->errstr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rds_conn *c = ac->data;
    if (c->ac == ac)
        conn_lost(c, ac->err ? ac->errstr : NULL);
}

/* AUTH / SELECT: a refusal is a configuration error; drop the connection and keep retrying
 * (slowly), so the store reports unhealthy rather than running unauthenticated. */
static void on_setup_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rds_conn *c = ac->data;
    const redisReply *r = reply;
    if (!r || c->ac != ac || r->type != REDIS_REPLY_ERROR)
        return;
    log_msgf(c->rs->base.log, LOG_ERROR, "store: redis %s refused: %s", (const char *)privdata,
             r->str);
    redisAsyncDisconnect(ac);
}

static void on_ready(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rds_conn *c = ac->data;
    const redisReply *r = reply;
    if (!r || c->ac != ac || r->type == REDIS_REPLY_ERROR || (ac->c.flags & REDIS_DISCONNECTING))
        return;
    if (c->backoff_ms != RDS_BACKOFF_MIN_MS)
        log_msgf(c->rs->base.log, LOG_INFO, "store: redis %s connection restored", conn_name(c));
    c->state = CONN_UP;
    c->backoff_ms = RDS_BACKOFF_MIN_MS;
    uv_timer_stop(&c->timer);
}

/* Sent before anything else on a new context, so hiredis buffers commands behind them. */
static void conn_handshake(struct rds_conn *c)
{
    struct rds_store *rs = c->rs;
    if (rs->password) {
        const char *argv[] = {"AUTH", rs->user ? rs->user : rs->password, rs->password};
        size_t lens[] = {4, strlen(argv[1]), strlen(rs->password)};
        redisAsyncCommandArgv(c->ac, on_setup_reply, "AUTH", rs->user ? 3 : 2, argv, lens);
    }
    if (!c->is_sub && rs->db != 0) { /* pub/sub ignores the database */
        char db[RDS_NUM_LEN];
        snprintf(db, sizeof(db), "%d", rs->db);
        const char *argv[] = {"SELECT", db};
        size_t lens[] = {6, strlen(db)};
        redisAsyncCommandArgv(c->ac, on_setup_reply, "SELECT", 2, argv, lens);
    }
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    redisAsyncCommandArgv(c->ac, on_ready, NULL, 1, argv, lens);
    if (c->is_sub)
        channels_resubscribe(rs);
}

/* The handshake did not finish in time (hiredis has no connect timeout of its own). Freeing
 * fails the commands buffered behind it with a NULL reply, from this timer, not a store call. */
static void on_connect_timeout(uv_timer_t *t)
{
    struct rds_conn *c = t->data;
    redisAsyncContext *ac = c->ac;
    if (c->state != CONN_CONNECTING || !ac)
        return;
    conn_lost(c, "connect timeout");
    redisAsyncFree(ac);
}

/* ---- hiredis on the libuv loop ----
 * hiredis' own adapters/libuv.h is not used: its poll callback returns on any error status,
 * and after a POLLERR (a connection reset, a refused connect) libuv has stopped the handle, so
 * the context never learns that its connection is gone and its pending commands wait forever.
 * Here an error status lets hiredis read or write, which then sees the error and disconnects
 * (failing every pending command) or reports the failed connect. */
struct rds_events {
    redisAsyncContext *ac; /* NULL once hiredis has cleaned up */
    uv_poll_t poll;
    int events; /* UV_READABLE | UV_WRITABLE wanted by hiredis */
};

static void events_on_poll(uv_poll_t *h, int status, int events)
{
    struct rds_events *e = h->data;
    if (status < 0) /* report the error through whatever hiredis is waiting for */
        events = e->events ? e->events : UV_READABLE;
    if (e->ac && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
    if (e->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
}

static void events_update(struct rds_events *e)
{
    if (e->events)
        uv_poll_start(&e->poll, e->events, events_on_poll);
    else
        uv_poll_stop(&e->poll);
}

static void events_add_read(void *data)
{
    struct rds_events *e = data;
    e->events |= UV_READABLE;
    events_update(e);
}

static void events_del_read(void *data)
{
    struct rds_events *e = data;
    e->events &= ~UV_READABLE;
    events_update(e);
}

static void events_add_write(void *data)
{
    struct rds_events *e = data;
    e->events |= UV_WRITABLE;
    events_update(e);
}

static void events_del_write(void *data)
{
    struct rds_events *e = data;
    e->events &= ~UV_WRITABLE;
    events_update(e);
}

static void events_closed(uv_handle_t *h)
{
    free(h->data);
}

/* hiredis frees the context: the handle goes once libuv lets it. */
static void events_cleanup(void *data)
{
    struct rds_events *e = data;
    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, events_closed);
}

static int events_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    struct rds_events *e = calloc(1, sizeof *e);
    if (!e || uv_poll_init_socket(loop, &e->poll, ac->c.fd) != 0) {
        free(e);
        return REDIS_ERR;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.data = e;
    ac->ev.addRead = events_add_read;
    ac->ev.delRead = events_del_read;
    ac->ev.addWrite = events_add_write;
    ac->ev.delWrite = events_del_write;
    ac->ev.cleanup = events_cleanup;
    return REDIS_OK;
}

static void conn_start(struct rds_conn *c)
{
    struct rds_store *rs = c->rs;
    redisAsyncContext *ac = redisAsyncConnect(rs->host, rs->port);
    if (ac && !ac->err && events_attach(ac, rs->base.loop) == REDIS_OK) {
        ac->data = c;
        redisAsyncSetConnectCallback(ac, on_connect);
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
        redisEnableKeepAlive(&ac->c); /* notice a peer that vanished without a FIN */
        c->ac = ac;
        c->state = CONN_CONNECTING;
        conn_handshake(c);
        uv_timer_start(&c->timer, on_connect_timeout, RDS_CONNECT_TIMEOUT_MS, 0);
        return;
    }
    c->state = CONN_CONNECTING; /* so conn_lost logs it like any failed attempt */
    conn_lost(c, ac && ac->err ? ac->errstr : "cannot create context");
    if (ac)
        redisAsyncFree(ac);
}

/* ---- lifecycle ---- */

static void rds_free_all(struct rds_store *rs)
{
    store_channels_free(rs->channels);
    free(rs->host);
    free(rs->user);
    free(rs->password);
    free(rs);
}

static void handle_closed(struct rds_store *rs)
{
    if (--rs->handles_open > 0)
        return;
    void (*done)(void *) = rs->done;
    void *arg = rs->done_arg;
    rds_free_all(rs);
    if (done)
        done(arg);
}

static void on_drain_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(((struct rds_conn *)h->data)->rs);
}

static void run_deferred(void *ctx, struct store_fifo_node *n)
{
    struct rds_cmd *c = (struct rds_cmd *)n;
    cmd_fail(c, c->status);
    free(c);
}

/* Also where a close finishes, so done never runs inside store_close. */
static void on_drain(uv_idle_t *h)
{
    struct rds_store *rs = h->data;
    if (store_fifo_run(&rs->deferred, run_deferred, NULL))
        return;
    if (rs->closing && rs->cmd.finished && rs->sub.finished && rs->handles_open == 0) {
        rs->handles_open = 3;
        uv_close((uv_handle_t *)&rs->drain, on_drain_closed);
        uv_close((uv_handle_t *)&rs->cmd.timer, on_timer_closed);
        uv_close((uv_handle_t *)&rs->sub.timer, on_timer_closed);
    } else {
        uv_idle_stop(h);
    }
}

/* Pending replies still arrive (redisAsyncDisconnect waits for them); a context still
 * connecting keeps its timeout, so close cannot hang on an unreachable server. */
static void conn_shutdown(struct rds_conn *c)
{
    if (!c->ac) {
        uv_timer_stop(&c->timer);
        c->finished = true;
        return;
    }
    if (c->state != CONN_CONNECTING)
        uv_timer_stop(&c->timer);
    redisAsyncDisconnect(c->ac);
}

static void rds_close(struct store *s, void (*done)(void *), void *arg)
{
    struct rds_store *rs = rds(s);
    if (rs->closing)
        return;
    rs->closing = true;
    rs->done = done;
    rs->done_arg = arg;
    struct hashmap_iter it;
    void *item;
    hashmap_iter_init(&it);
    while (hashmap_next(rs->channels, &it, NULL, NULL, &item))
        channel_notify(rs, item, STORE_ERR_UNAVAILABLE);
    conn_shutdown(&rs->cmd);
    conn_shutdown(&rs->sub);
    uv_idle_start(&rs->drain, on_drain);
}

static bool rds_healthy(struct store *s)
{
    struct rds_store *rs = rds(s);
    return !rs->closing && rs->cmd.state == CONN_UP && rs->sub.state == CONN_UP;
}

static const struct store_ops rds_ops = {
    .name = "redis",
    .get = rds_get,
    .set = rds_set,
    .del = rds_del,
    .expire = rds_expire,
    .incr = rds_incr,
    .hset = rds_hset,
    .hget = rds_hget,
    .hgetall = rds_hgetall,
    .hincrby = rds_hincrby,
    .hdel = rds_hdel,
    .sadd = rds_sadd,
    .srem = rds_srem,
    .smembers = rds_smembers,
    .publish = rds_publish,
    .subscribe = rds_subscribe,
    .unsubscribe = rds_unsubscribe,
    .log_append = rds_log_append,
    .log_read = rds_log_read,
    .healthy = rds_healthy,
    .close = rds_close,
};

/* ---- configuration ---- */

static bool parse_uint(const char *p, size_t len, long max, long *out)
{
    char buf[RDS_NUM_LEN];
    if (len == 0 || len >= sizeof(buf) || p[0] < '0' || p[0] > '9')
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* userinfo "[user]:password" (or a bare password); an empty user means the default one. */
static bool parse_userinfo(struct rds_store *rs, const char *p, size_t len)
{
    const char *colon = memchr(p, ':', len);
    const char *pw = colon ? colon + 1 : p;
    size_t pwlen = len - (size_t)(pw - p);
    if (colon && colon > p && !(rs->user = strndup(p, (size_t)(colon - p))))
        return false;
    return pwlen == 0 || (rs->password = strndup(pw, pwlen)) != NULL;
}

/* redis://[[user]:password@]host[:port][/db]; host may be a bracketed IPv6 address. */
static bool parse_url(struct rds_store *rs, const char *url)
{
    static const char scheme[] = "redis://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return false;
    const char *p = url + sizeof(scheme) - 1;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (at) {
        if (!parse_userinfo(rs, p, (size_t)(at - p)))
            return false;
        p = at + 1;
    }
    const char *host = p, *host_end;
    if (*p == '[') {
        host = p + 1;
        if (!(host_end = memchr(host, ']', (size_t)(end - host))))
            return false;
        p = host_end + 1;
    } else {
        host_end = memchr(p, ':', (size_t)(end - p));
        host_end = host_end ? host_end : end;
        p = host_end;
    }
    long port = RDS_DEFAULT_PORT, db = 0;
    if (host_end == host || (p < end && *p != ':'))
        return false;
    if (p < end && (!parse_uint(p + 1, (size_t)(end - p - 1), 65535, &port) || port == 0))
        return false;
    if (slash && slash[1] && !parse_uint(slash + 1, strlen(slash + 1), INT_MAX, &db))
        return false;
    rs->port = (int)port;
    rs->db = (int)db;
    return (rs->host = strndup(host, (size_t)(host_end - host))) != NULL;
}

static void conn_init(struct rds_store *rs, struct rds_conn *c, bool is_sub)
{
    c->rs = rs;
    c->is_sub = is_sub;
    c->backoff_ms = RDS_BACKOFF_MIN_MS;
    uv_timer_init(rs->base.loop, &c->timer);
    c->timer.data = c;
}

struct store *store_redis_new(uv_loop_t *loop, struct logger *log, const char *url,
                              const char *password)
{
    struct rds_store *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return NULL;
    rs->channels = hashmap_new();
    bool ok = rs->channels && url && parse_url(rs, url);
    if (ok && password && *password) { /* the explicit password wins over the URL's */
        free(rs->password);
        ok = (rs->password = strdup(password)) != NULL;
    }
    if (!ok) {
        log_msgf(log, LOG_ERROR,
                 "store: invalid redis URL (expected "
                 "redis://[[user]:password@]host[:port][/db])");
        if (rs->channels)
            hashmap_free(rs->channels);
        free(rs->host);
        free(rs->user);
        free(rs->password);
        free(rs);
        return NULL;
    }
    rs->base.ops = &rds_ops;
    rs->base.loop = loop;
    rs->base.log = log;
    uv_idle_init(loop, &rs->drain);
    rs->drain.data = rs;
    conn_init(rs, &rs->cmd, false);
    conn_init(rs, &rs->sub, true);
    conn_start(&rs->cmd);
    conn_start(&rs->sub);
    return &rs->base;
}
