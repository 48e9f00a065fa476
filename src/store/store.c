/*
 * store: the backend-independent entry points. Each forwards to the backend's vtable after the
 * argument checks both backends would otherwise have to repeat (and that Redis would answer with
 * a syntax error), so a bad call fails the same way, synchronously, on either backend.
 */
#include "store/store.h"

#include <stdint.h>

#define STORE_CHECK(s, key)                                                                        \
    do {                                                                                           \
        if (!(s) || !(s)->ops || !(key))                                                           \
            return STORE_ERR;                                                                      \
    } while (0)

int store_get(struct store *s, const char *key, store_str_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    return s->ops->get(s, key, cb, arg);
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
    return s->ops->set(s, key, val, len, ttl_ms, flags, cb, arg);
}

int store_del(struct store *s, const char *key, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    return s->ops->del(s, key, cb, arg);
}

int store_expire(struct store *s, const char *key, uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    return s->ops->expire(s, key, ttl_ms, cb, arg);
}

int store_incr(struct store *s, const char *key, long long by, uint64_t ttl_ms, store_int_cb cb,
               void *arg)
{
    STORE_CHECK(s, key);
    return s->ops->incr(s, key, by, ttl_ms, cb, arg);
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
    return s->ops->hset(s, key, pairs, npairs, ttl_ms, cb, arg);
}

int store_hget(struct store *s, const char *key, const char *field, store_str_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    if (!field)
        return STORE_ERR;
    return s->ops->hget(s, key, field, cb, arg);
}

int store_hgetall(struct store *s, const char *key, store_strs_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    return s->ops->hgetall(s, key, cb, arg);
}

int store_hincrby(struct store *s, const char *key, const char *field, long long by,
                  store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    if (!field)
        return STORE_ERR;
    return s->ops->hincrby(s, key, field, by, cb, arg);
}

int store_hdel(struct store *s, const char *key, const char *field, store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    if (!field)
        return STORE_ERR;
    return s->ops->hdel(s, key, field, cb, arg);
}

int store_sadd(struct store *s, const char *key, const char *member, size_t len, uint64_t ttl_ms,
               store_int_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    if (!member && len)
        return STORE_ERR;
    return s->ops->sadd(s, key, member, len, ttl_ms, cb, arg);
}

int store_srem(struct store *s, const char *key, const char *member, size_t len, store_int_cb cb,
               void *arg)
{
    STORE_CHECK(s, key);
    if (!member && len)
        return STORE_ERR;
    return s->ops->srem(s, key, member, len, cb, arg);
}

int store_smembers(struct store *s, const char *key, store_strs_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    return s->ops->smembers(s, key, cb, arg);
}

int store_publish(struct store *s, const char *channel, const char *msg, size_t len,
                  store_int_cb cb, void *arg)
{
    STORE_CHECK(s, channel);
    if (!msg && len)
        return STORE_ERR;
    return s->ops->publish(s, channel, msg, len, cb, arg);
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
    return s->ops->log_append(s, key, data, len, max_entries, ttl_ms, cb, arg);
}

int store_log_read(struct store *s, const char *key, uint64_t after_seq, size_t max,
                   store_log_cb cb, void *arg)
{
    STORE_CHECK(s, key);
    return s->ops->log_read(s, key, after_seq, max, cb, arg);
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
