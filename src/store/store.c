/*
 * store: the backend-independent entry points. Each forwards to the backend's vtable after the
 * argument checks both backends would otherwise have to repeat (and that Redis would answer with
 * a syntax error), so a bad call fails the same way, synchronously, on either backend.
 */
#include "store/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- operation counters: every command goes through a timer that wraps its callback ---- */

static const uint64_t latency_bounds_us[STORE_LATENCY_BUCKETS] = STORE_LATENCY_BOUNDS_US;

union store_any_cb {
    store_str_cb str;
    store_int_cb num;
    store_strs_cb strs;
    store_log_cb log;
};

struct op_timer {
    struct store_stats *stats;
    enum store_op_kind kind;
    uint64_t start_ns;
    union store_any_cb cb;
    void *arg;
};

static void stats_record(struct store_stats *st, enum store_op_kind kind, uint64_t us, int status)
{
    size_t b = 0;
    while (b < STORE_LATENCY_BUCKETS && us > latency_bounds_us[b])
        b++;
    st->ops[kind]++;
    st->latency[kind][b]++;
    st->latency_sum_us[kind] += us;
    if (status != STORE_OK)
        st->errors[kind]++;
}

/* NULL when out of memory (the operation is then counted as an error and not issued). */
static struct op_timer *timer_start(struct store *s, enum store_op_kind kind, void *arg)
{
    struct op_timer *t = malloc(sizeof *t);
    if (!t) {
        stats_record(&s->stats, kind, 0, STORE_ERR);
        return NULL;
    }
    t->stats = &s->stats;
    t->kind = kind;
    t->start_ns = uv_hrtime();
    t->arg = arg;
    return t;
}

static void timer_end(struct op_timer *t, int status)
{
    stats_record(t->stats, t->kind, (uv_hrtime() - t->start_ns) / 1000, status);
    free(t);
}

/* The backend's return: a command it could not issue ends now (its callback never runs). */
static int timer_issued(struct op_timer *t, int rc)
{
    if (rc < 0)
        timer_end(t, rc);
    return rc;
}

static void timed_str(void *arg, int status, const char *value, size_t len)
{
    struct op_timer *t = arg;
    store_str_cb cb = t->cb.str;
    void *a = t->arg;
    timer_end(t, status);
    if (cb)
        cb(a, status, value, len);
}

static void timed_int(void *arg, int status, long long value)
{
    struct op_timer *t = arg;
    store_int_cb cb = t->cb.num;
    void *a = t->arg;
    timer_end(t, status);
    if (cb)
        cb(a, status, value);
}

static void timed_strs(void *arg, int status, const struct store_str *items, size_t n)
{
    struct op_timer *t = arg;
    store_strs_cb cb = t->cb.strs;
    void *a = t->arg;
    timer_end(t, status);
    if (cb)
        cb(a, status, items, n);
}

static void timed_log(void *arg, int status, const struct store_log_entry *entries, size_t n)
{
    struct op_timer *t = arg;
    store_log_cb cb = t->cb.log;
    void *a = t->arg;
    timer_end(t, status);
    if (cb)
        cb(a, status, entries, n);
}

/* Declares t for an operation of kind whose callback (of member m) is cb, or returns. */
#define TIMER(s, kind, m, cb, arg)                                                                 \
    struct op_timer *t = timer_start((s), (kind), (arg));                                          \
    if (!t)                                                                                        \
        return STORE_ERR;                                                                          \
    t->cb.m = (cb)

void store_stats_read(const struct store *s, struct store_stats *out)
{
    if (s)
        *out = s->stats;
    else
        memset(out, 0, sizeof *out);
}

uint64_t store_latency_bound_us(size_t i)
{
    return i < STORE_LATENCY_BUCKETS ? latency_bounds_us[i] : UINT64_MAX;
}

/* ---- the entry points ---- */

#define STORE_CHECK(s, key)                                                                        \
    do {                                                                                           \
        if (!(s) || !(s)->ops || !(key))                                                           \
            return STORE_ERR;                                                                      \
    } while (0)

int store_get(struct store *s, const char *key, store_str_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    TIMER(s, STORE_OP_READ, str, cb, arg);
    return timer_issued(t, s->ops->get(s, key, timed_str, t));
}

int store_set(struct store *s, const char *key, const char *val, size_t len, uint64_t ttl_ms,
              unsigned flags, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    /* NX and XX together is a syntax error in Redis; unknown bits are a caller bug. */
    if ((flags & ~(STORE_SET_NX | STORE_SET_XX)) ||
        (flags & (STORE_SET_NX | STORE_SET_XX)) == (STORE_SET_NX | STORE_SET_XX))
        return STORE_ERR;
    if (!val && len)
        return STORE_ERR;
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->set(s, key, val, len, ttl_ms, flags, timed_int, t));
}

int store_del(struct store *s, const char *key, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->del(s, key, timed_int, t));
}

int store_expire(struct store *s, const char *key, uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->expire(s, key, ttl_ms, timed_int, t));
}

int store_incr(struct store *s, const char *key, long long by, uint64_t ttl_ms, store_int_cb cb,
               void *arg)
{
    STORE_CHECK(s, key);
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->incr(s, key, by, ttl_ms, timed_int, t));
}

int store_hset(struct store *s, const char *key, const struct store_str *pairs, size_t npairs,
               uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    /* HSET needs at least one field and a value for each; npairs counts strings. */
    if (!pairs || npairs == 0 || npairs % 2 != 0)
        return STORE_ERR;
    for (size_t i = 0; i < npairs; i++)
        if (!pairs[i].ptr && pairs[i].len)
            return STORE_ERR;
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->hset(s, key, pairs, npairs, ttl_ms, timed_int, t));
}

int store_hget(struct store *s, const char *key, const char *field, store_str_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    if (!field)
        return STORE_ERR;
    TIMER(s, STORE_OP_READ, str, cb, arg);
    return timer_issued(t, s->ops->hget(s, key, field, timed_str, t));
}

int store_hgetall(struct store *s, const char *key, store_strs_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    TIMER(s, STORE_OP_READ, strs, cb, arg);
    return timer_issued(t, s->ops->hgetall(s, key, timed_strs, t));
}

int store_hincrby(struct store *s, const char *key, const char *field, long long by,
                  store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    if (!field)
        return STORE_ERR;
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->hincrby(s, key, field, by, timed_int, t));
}

int store_hdel(struct store *s, const char *key, const char *field, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    if (!field)
        return STORE_ERR;
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->hdel(s, key, field, timed_int, t));
}

int store_sadd(struct store *s, const char *key, const char *member, size_t len, uint64_t ttl_ms,
               store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    if (!member && len)
        return STORE_ERR;
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->sadd(s, key, member, len, ttl_ms, timed_int, t));
}

int store_srem(struct store *s, const char *key, const char *member, size_t len, store_int_cb cb,
               void *arg)
{
    STORE_CHECK(s, key);
    if (!member && len)
        return STORE_ERR;
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t, s->ops->srem(s, key, member, len, timed_int, t));
}

int store_smembers(struct store *s, const char *key, store_strs_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    TIMER(s, STORE_OP_READ, strs, cb, arg);
    return timer_issued(t, s->ops->smembers(s, key, timed_strs, t));
}

int store_publish(struct store *s, const char *channel, const char *msg, size_t len,
                  store_int_cb cb, void *arg)
{
    STORE_CHECK(s, channel);
    if (!msg && len)
        return STORE_ERR;
    TIMER(s, STORE_OP_PUBLISH, num, cb, arg);
    return timer_issued(t, s->ops->publish(s, channel, msg, len, timed_int, t));
}

struct store_sub *store_subscribe(struct store *s, const char *channel, store_message_fn fn,
                                  void *arg)
{
    if (!s || !s->ops || !channel || !fn)
        return NULL;
    return s->ops->subscribe(s, channel, fn, NULL, arg);
}

struct store_sub *store_subscribe_confirmed(struct store *s, const char *channel,
                                            store_message_fn fn, store_ready_fn ready, void *arg)
{
    if (!s || !s->ops || !channel || !fn || !ready)
        return NULL;
    return s->ops->subscribe(s, channel, fn, ready, arg);
}

int store_log_append(struct store *s, const char *key, const char *data, size_t len,
                     size_t max_entries, uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    /* A log that keeps nothing is a caller bug, and unbounded logs are not offered. */
    if (max_entries == 0 || (!data && len))
        return STORE_ERR;
    TIMER(s, STORE_OP_WRITE, num, cb, arg);
    return timer_issued(t,
                        s->ops->log_append(s, key, data, len, max_entries, ttl_ms, timed_int, t));
}

int store_log_read(struct store *s, const char *key, uint64_t after_seq, size_t max,
                   store_log_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    TIMER(s, STORE_OP_READ, log, cb, arg);
    return timer_issued(t, s->ops->log_read(s, key, after_seq, max, timed_log, t));
}

bool store_healthy(struct store *s)
{
    return s && s->ops && s->ops->healthy(s);
}

const char *store_backend_name(const struct store *s)
{
    return s && s->ops ? s->ops->name : "none";
}

void store_close(struct store *s, void (*done)(void *arg), void *arg)
{
    if (s && s->ops)
        s->ops->close(s, done, arg);
}
