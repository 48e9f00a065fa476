/*
 * store: the one interface through which mcpd keeps state that must outlive a request or be
 * seen by other instances: keys with TTL, hashes, sets, pub/sub and a bounded per-stream event
 * log. It is asynchronous: every operation completes through a callback on the
 * loop, never re-entrantly from inside the call, so the embedded memory backend and a Redis
 * backend are interchangeable without touching callers. Commands issued on one store complete
 * in the order they were issued (as on one Redis connection). Callbacks may be NULL.
 *
 * Strings are byte strings with explicit lengths; values handed to a callback are borrowed and
 * valid only during the callback. Every key is created with a TTL (ttl_ms > 0) by the callers;
 * nothing leaks.
 */
#ifndef MCPD_STORE_STORE_H
#define MCPD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct logger;

#define STORE_OK              0
#define STORE_ERR             (-1) /* generic failure */
#define STORE_ERR_WRONGTYPE   (-2) /* the key holds another kind of value */
#define STORE_ERR_UNAVAILABLE (-3) /* the backend is down (Redis unreachable) */

#define STORE_SET_NX 1u /* only set if the key does not exist */
#define STORE_SET_XX 2u /* only set if the key exists */

struct store_str {
    const char *ptr;
    size_t len;
};

struct store_log_entry {
    uint64_t seq; /* 1, 2, 3, ... per log key */
    const char *data;
    size_t len;
};

/* value is NULL when the key or field does not exist. */
typedef void (*store_str_cb)(void *arg, int status, const char *value, size_t len);
typedef void (*store_int_cb)(void *arg, int status, long long value);
/* Sets: n members. Hashes: n/2 field/value pairs, flattened. */
typedef void (*store_strs_cb)(void *arg, int status, const struct store_str *items, size_t n);
typedef void (*store_log_cb)(void *arg, int status, const struct store_log_entry *entries,
                             size_t n);
typedef void (*store_message_fn)(void *arg, const char *channel, const char *msg, size_t len);
/* status is STORE_OK once a subscription is in effect, else a STORE_ERR_*. */
typedef void (*store_ready_fn)(void *arg, int status);

struct store;
struct store_sub;

/* The backend vtable. Backends fill one; callers use the store_* wrappers below. */
struct store_ops {
    const char *name; /* "memory", "redis" */
    int (*get)(struct store *, const char *key, store_str_cb, void *);
    int (*set)(struct store *, const char *key, const char *val, size_t len, uint64_t ttl_ms,
               unsigned flags, store_int_cb, void *);
    int (*del)(struct store *, const char *key, store_int_cb, void *);
    int (*expire)(struct store *, const char *key, uint64_t ttl_ms, store_int_cb, void *);
    int (*incr)(struct store *, const char *key, long long by, uint64_t ttl_ms, store_int_cb,
                void *);
    int (*hset)(struct store *, const char *key, const struct store_str *pairs, size_t npairs,
                uint64_t ttl_ms, store_int_cb, void *);
    int (*hget)(struct store *, const char *key, const char *field, store_str_cb, void *);
    int (*hgetall)(struct store *, const char *key, store_strs_cb, void *);
    int (*hincrby)(struct store *, const char *key, const char *field, long long by, store_int_cb,
                   void *);
    int (*hdel)(struct store *, const char *key, const char *field, store_int_cb, void *);
    int (*sadd)(struct store *, const char *key, const char *member, size_t len, uint64_t ttl_ms,
                store_int_cb, void *);
    int (*srem)(struct store *, const char *key, const char *member, size_t len, store_int_cb,
                void *);
    int (*smembers)(struct store *, const char *key, store_strs_cb, void *);
    int (*publish)(struct store *, const char *channel, const char *msg, size_t len, store_int_cb,
                   void *);
    /* ready is NULL for store_subscribe. */
    struct store_sub *(*subscribe)(struct store *, const char *channel, store_message_fn,
                                   store_ready_fn ready, void *);
    void (*unsubscribe)(struct store_sub *);
    int (*log_append)(struct store *, const char *key, const char *data, size_t len,
                      size_t max_entries, uint64_t ttl_ms, store_int_cb, void *);
    int (*log_read)(struct store *, const char *key, uint64_t after_seq, size_t max, store_log_cb,
                    void *);
    bool (*healthy)(struct store *);
    void (*close)(struct store *, void (*done)(void *), void *);
};

/* What the store counts of its own operations, for /metrics (read with store_stats_read). Every
 * command issued through the store_* wrappers below is one operation of a kind; it ends when its
 * callback runs (or when it could not be issued) and is an error when its status is not
 * STORE_OK. Subscriptions are not counted. */
enum store_op_kind {
    STORE_OP_READ,    /* get, hget, hgetall, smembers, log_read */
    STORE_OP_WRITE,   /* set, del, expire, incr, hset, hincrby, hdel, sadd, srem, log_append */
    STORE_OP_PUBLISH, /* publish */
    STORE_OP_KINDS
};

/* Upper bounds of the latency buckets, in microseconds; a last bucket takes the rest. */
#define STORE_LATENCY_BOUNDS_US                                                                    \
    {                                                                                              \
        100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000                             \
    }
#define STORE_LATENCY_BUCKETS 10

struct store_stats {
    uint64_t ops[STORE_OP_KINDS];    /* operations ended */
    uint64_t errors[STORE_OP_KINDS]; /* of those, ended with an error */
    /* Operations by latency: bucket i holds those at most bound i (and above bound i-1);
     * bucket STORE_LATENCY_BUCKETS those above the last bound. Not cumulative. */
    uint64_t latency[STORE_OP_KINDS][STORE_LATENCY_BUCKETS + 1];
    uint64_t latency_sum_us[STORE_OP_KINDS];
};

struct store {
    const struct store_ops *ops;
    uv_loop_t *loop;
    struct logger *log;
    struct store_stats stats; /* zero when the backend allocates the store; store.c owns it */
};

/* The embedded in-memory backend (no REDIS_URL). */
struct store *store_memory_new(uv_loop_t *loop, struct logger *log);
/* The Redis backend: url is redis://[[user]:password@]host[:port][/db] (port 6379, db 0 by
 * default); a non-empty password overrides the URL's. Returns at once and connects in the
 * background: store_healthy is false until both connections are ready. NULL on a bad URL. */
struct store *store_redis_new(uv_loop_t *loop, struct logger *log, const char *url,
                              const char *password);

/* Each returns 0 when the command was queued (its callback will run), or a negative STORE_ERR_*
 * when it could not be issued (the callback will not run). */

/* GET. */
int store_get(struct store *s, const char *key, store_str_cb cb, void *arg);
/* SET key val PX ttl_ms [NX|XX]; the callback gets 1 if written, 0 if NX/XX prevented it. */
int store_set(struct store *s, const char *key, const char *val, size_t len, uint64_t ttl_ms,
              unsigned flags, store_int_cb cb, void *arg);
/* DEL; the callback gets the number of keys removed (0 or 1). */
int store_del(struct store *s, const char *key, store_int_cb cb, void *arg);
/* PEXPIRE; the callback gets 1 if the key exists, else 0. */
int store_expire(struct store *s, const char *key, uint64_t ttl_ms, store_int_cb cb, void *arg);
/* INCRBY, then PEXPIRE when ttl_ms > 0 (atomic in both backends); new value. */
int store_incr(struct store *s, const char *key, long long by, uint64_t ttl_ms, store_int_cb cb,
               void *arg);
/* HSET key f1 v1 f2 v2 ..., then PEXPIRE when ttl_ms > 0; number of new fields. npairs counts
 * the strings in pairs (field, value, field, value, ...), like n in store_strs_cb: it is even
 * and > 0, else STORE_ERR. */
int store_hset(struct store *s, const char *key, const struct store_str *pairs, size_t npairs,
               uint64_t ttl_ms, store_int_cb cb, void *arg);
int store_hget(struct store *s, const char *key, const char *field, store_str_cb cb, void *arg);
/* n == 0 when the key does not exist. */
int store_hgetall(struct store *s, const char *key, store_strs_cb cb, void *arg);
int store_hincrby(struct store *s, const char *key, const char *field, long long by,
                  store_int_cb cb, void *arg);
int store_hdel(struct store *s, const char *key, const char *field, store_int_cb cb, void *arg);
/* SADD, then PEXPIRE when ttl_ms > 0; 1 if added. */
int store_sadd(struct store *s, const char *key, const char *member, size_t len, uint64_t ttl_ms,
               store_int_cb cb, void *arg);
int store_srem(struct store *s, const char *key, const char *member, size_t len, store_int_cb cb,
               void *arg);
int store_smembers(struct store *s, const char *key, store_strs_cb cb, void *arg);

/* PUBLISH; the callback gets the number of subscribers reached (in this process for memory,
 * across the cluster for Redis). Delivery to subscribers is asynchronous. */
int store_publish(struct store *s, const char *channel, const char *msg, size_t len,
                  store_int_cb cb, void *arg);
/* Subscribe to one channel (exact name). Messages published after this call returns are
 * delivered to fn. NULL on failure. */
struct store_sub *store_subscribe(struct store *s, const char *channel, store_message_fn fn,
                                  void *arg);
/* store_subscribe, and ready(arg, status) runs exactly once, from the loop (never inside this
 * call): STORE_OK once the subscription is in effect, so that a message published from then on
 * is delivered (Redis: the server confirmed SUBSCRIBE, or this process was already subscribed to
 * the channel; memory: the next loop turn), or STORE_ERR_UNAVAILABLE when it cannot be confirmed
 * now (Redis unreachable, store closing). After an error the subscription still exists (a
 * reconnect re-establishes it, unconfirmed) and must still be unsubscribed. ready never runs
 * after store_unsubscribe(sub). NULL on failure, and then ready never runs. */
struct store_sub *store_subscribe_confirmed(struct store *s, const char *channel,
                                            store_message_fn fn, store_ready_fn ready, void *arg);
/* After this returns, fn (and a pending ready) is never called again for this subscription. */
void store_unsubscribe(struct store_sub *sub);

/* Append an event to the log at key, keep only the newest max_entries, and (re)set its TTL.
 * The callback gets the event's sequence number (1 for the first event of a log). */
int store_log_append(struct store *s, const char *key, const char *data, size_t len,
                     size_t max_entries, uint64_t ttl_ms, store_int_cb cb, void *arg);
/* Entries with seq > after_seq, oldest first, at most max. */
int store_log_read(struct store *s, const char *key, uint64_t after_seq, size_t max,
                   store_log_cb cb, void *arg);

bool store_healthy(struct store *s);
/* A copy of the store's operation counters so far (all zero for NULL). */
void store_stats_read(const struct store *s, struct store_stats *out);
/* Bound i of STORE_LATENCY_BOUNDS_US, i < STORE_LATENCY_BUCKETS. */
uint64_t store_latency_bound_us(size_t i);
const char *store_backend_name(const struct store *s);
/* Flush queued callbacks, drop subscriptions, free the store; done runs when it is gone. */
void store_close(struct store *s, void (*done)(void *arg), void *arg);

#endif
