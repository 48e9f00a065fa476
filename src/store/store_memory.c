/*
 * store_memory: the embedded backend, used when no REDIS_URL is configured. It mirrors the
 * Redis commands the Redis backend will send (GET/SET PX NX XX, DEL, PEXPIRE, INCRBY, HSET,
 * HGET, HGETALL, HINCRBY, HDEL, SADD, SREM, SMEMBERS, PUBLISH/SUBSCRIBE and a trimmed list with
 * a seq counter for the event log), so callers cannot tell the two apart.
 *
 * Commands take effect immediately, in issue order; their replies are copied into a FIFO that a
 * uv_idle handle drains on the next loop iteration, because a Redis reply can never arrive
 * inside the call that sent the command and callers are written for that. Pub/sub deliveries go
 * through the same FIFO.
 *
 * Expiry is lazy (checked on every access, as Redis does) plus a periodic, bounded sweep driven
 * by a min-heap of expiry times, so keys nobody reads again are still freed.
 */
#include "store/store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hashmap.h"
#include "lib/log.h"
#include "store/store_backend.h"

#define MEM_SWEEP_INTERVAL_MS 1000u /* how often expired keys nobody touches are freed */
#define MEM_SWEEP_RETRY_MS    10u   /* next pass when a pass ran out of budget */
#define MEM_SWEEP_BUDGET      1024u /* keys freed per pass, so a pass never stalls the loop */
#define MEM_LOG_MIN_CAP       8u    /* first ring allocation of an event log */
#define MEM_HEAP_MIN_CAP      64u
#define HEAP_NONE             SIZE_MAX

enum mem_type { MEM_STRING, MEM_HASH, MEM_SET, MEM_LOG };

/* A byte string with its length; data is NUL-terminated for convenience. */
struct mem_blob {
    size_t len;
    char data[];
};

/* Event log: a ring of the newest entries. Sequence numbers are contiguous, so the entry at
 * ring position i (from head) has seq last_seq - count + 1 + i. */
struct mem_log {
    struct mem_blob **ring;
    size_t cap;        /* slots allocated */
    size_t head;       /* slot of the oldest entry */
    size_t count;      /* entries held */
    uint64_t last_seq; /* seq of the newest entry; 0 before the first append */
};

struct mem_value {
    enum mem_type type;
    uint64_t expire_at; /* absolute loop time in ms (uv_now); 0 = never */
    size_t heap_idx;    /* slot in the expiry heap, HEAP_NONE when not in it */
    union {
        struct mem_blob *str; /* MEM_STRING */
        struct hashmap *hash; /* MEM_HASH: field -> struct mem_blob * */
        struct hashmap *set;  /* MEM_SET: member -> the owning mem_value (a non-NULL marker) */
        struct mem_log log;   /* MEM_LOG */
    } u;
    size_t key_len;
    char key[]; /* so the sweep can remove the key from the keyspace */
};

/* One published message, shared by its deliveries. */
struct mem_msg {
    size_t refs;
    size_t len;
    const char *channel; /* points into data, after the message */
    char data[];         /* message + NUL + channel + NUL */
};

enum mem_kind { R_INT, R_STR, R_STRS, R_LOG, R_MSG, R_READY };

/* A queued callback with its reply copied in (the store may change before it runs). Variable
 * payloads live in the same allocation, right after the struct. */
struct mem_reply {
    struct mem_reply *next;
    enum mem_kind kind;
    int status;
    void *arg;
    union {
        store_int_cb i;
        store_str_cb s;
        store_strs_cb strs;
        store_log_cb log;
        store_ready_fn ready;
    } cb;
    long long ival;        /* R_INT */
    const void *items;     /* R_STR: bytes or NULL; R_STRS: store_str[]; R_LOG: entries */
    size_t n;              /* R_STR: length; R_STRS, R_LOG: count */
    struct store_sub *sub; /* R_MSG, R_READY */
    struct mem_msg *msg;   /* R_MSG */
};

struct mem_store {
    struct store base; /* first: the vtable functions receive &base */
    struct hashmap *keys;
    struct hashmap *channels; /* name -> struct store_channel * */
    struct mem_value **heap;  /* min-heap on expire_at of the keys that have one */
    size_t heap_len;
    size_t heap_cap;
    struct mem_reply *q_head; /* callbacks waiting for the loop, oldest first */
    struct mem_reply *q_tail;
    uv_idle_t drain;  /* active while q_head != NULL */
    uv_timer_t sweep; /* unref'd; never keeps the loop alive */
    bool closing;
    int handles_open; /* counts down in close callbacks */
    void (*done)(void *);
    void *done_arg;
};

static struct mem_store *mem(struct store *s)
{
    return (struct mem_store *)s;
}

static bool size_add(size_t *acc, size_t n)
{
    return !__builtin_add_overflow(*acc, n, acc);
}

static struct mem_blob *blob_new(const char *p, size_t len)
{
    if (len > SIZE_MAX - sizeof(struct mem_blob) - 1)
        return NULL;
    struct mem_blob *b = malloc(sizeof(*b) + len + 1);
    if (!b)
        return NULL;
    if (len)
        memcpy(b->data, p, len);
    b->data[len] = '\0';
    b->len = len;
    return b;
}

/* ---- expiry heap ---- */

static void heap_place(struct mem_store *m, size_t i, struct mem_value *v)
{
    m->heap[i] = v;
    v->heap_idx = i;
}

static void heap_sift_up(struct mem_store *m, size_t i)
{
    struct mem_value *v = m->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (m->heap[parent]->expire_at <= v->expire_at)
            break;
        heap_place(m, i, m->heap[parent]);
        i = parent;
    }
    heap_place(m, i, v);
}

static void heap_sift_down(struct mem_store *m, size_t i)
{
    struct mem_value *v = m->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m->heap_len)
            break;
        if (c + 1 < m->heap_len && m->heap[c + 1]->expire_at < m->heap[c]->expire_at)
            c++;
        if (m->heap[c]->expire_at >= v->expire_at)
            break;
        heap_place(m, i, m->heap[c]);
        i = c;
    }
    heap_place(m, i, v);
}

/* Take the value in slot i out of the heap and return it. */
static struct mem_value *heap_remove_at(struct mem_store *m, size_t i)
{
    struct mem_value *v = m->heap[i];
    v->heap_idx = HEAP_NONE;
    struct mem_value *last = m->heap[--m->heap_len];
    if (i < m->heap_len) {
        heap_place(m, i, last);
        heap_sift_up(m, i);
        heap_sift_down(m, last->heap_idx);
    }
    return v;
}

static void heap_remove(struct mem_store *m, struct mem_value *v)
{
    if (v->heap_idx != HEAP_NONE)
        heap_remove_at(m, v->heap_idx);
}

/* Insert or reposition v after its expire_at changed. If the heap cannot grow the key stays
 * out of it: lazy expiry still hides it, only the sweep will not free it early. */
static void heap_update(struct mem_store *m, struct mem_value *v)
{
    if (v->heap_idx != HEAP_NONE) {
        heap_sift_up(m, v->heap_idx);
        heap_sift_down(m, v->heap_idx);
        return;
    }
    if (m->heap_len == m->heap_cap) {
        size_t cap = m->heap_cap ? m->heap_cap * 2 : MEM_HEAP_MIN_CAP;
        struct mem_value **h = NULL;
        if (cap <= SIZE_MAX / sizeof(*h))
            h = realloc(m->heap, cap * sizeof(*h));
        if (!h) {
            log_msgf(m->base.log, LOG_WARNING, "store: out of memory growing the expiry heap");
            return;
        }
        m->heap = h;
        m->heap_cap = cap;
    }
    heap_place(m, m->heap_len++, v);
    heap_sift_up(m, v->heap_idx);
}

/* ---- keyspace ---- */

static void value_clear(struct mem_value *v)
{
    struct hashmap_iter it;
    void *item;
    switch (v->type) {
    case MEM_STRING:
        free(v->u.str);
        break;
    case MEM_HASH:
        hashmap_iter_init(&it);
        while (hashmap_next(v->u.hash, &it, NULL, NULL, &item))
            free(item);
        hashmap_free(v->u.hash);
        break;
    case MEM_SET:
        hashmap_free(v->u.set);
        break;
    case MEM_LOG:
        for (size_t i = 0; i < v->u.log.count; i++)
            free(v->u.log.ring[(v->u.log.head + i) % v->u.log.cap]);
        free(v->u.log.ring);
        break;
    }
    memset(&v->u, 0, sizeof(v->u));
}

static void value_free(struct mem_store *m, struct mem_value *v)
{
    heap_remove(m, v);
    value_clear(v);
    free(v);
}

static void key_delete(struct mem_store *m, struct mem_value *v)
{
    hashmap_remove(m->keys, v->key, v->key_len);
    value_free(m, v);
}

static bool value_expired(struct mem_store *m, const struct mem_value *v)
{
    /* Redis treats a key as expired once now is past its expiry time. */
    return v->expire_at != 0 && uv_now(m->base.loop) > v->expire_at;
}

/* The live value at key, or NULL; an expired key is deleted on the way (lazy expiry). */
static struct mem_value *lookup(struct mem_store *m, const char *key)
{
    struct mem_value *v = hashmap_get(m->keys, key, strlen(key));
    if (v && value_expired(m, v)) {
        key_delete(m, v);
        return NULL;
    }
    return v;
}

/* ttl_ms 0 removes the expiry (SET without PX persists the key in Redis too). */
static void value_set_ttl(struct mem_store *m, struct mem_value *v, uint64_t ttl_ms)
{
    if (ttl_ms == 0) {
        v->expire_at = 0;
        heap_remove(m, v);
        return;
    }
    uint64_t now = uv_now(m->base.loop);
    v->expire_at = ttl_ms > UINT64_MAX - now ? UINT64_MAX : now + ttl_ms;
    heap_update(m, v);
}

/* A new, empty value of type at key (which must not exist). */
static struct mem_value *key_create(struct mem_store *m, const char *key, enum mem_type type)
{
    size_t len = strlen(key);
    if (len > SIZE_MAX - sizeof(struct mem_value) - 1)
        return NULL;
    struct mem_value *v = calloc(1, sizeof(*v) + len + 1);
    if (!v)
        return NULL;
    memcpy(v->key, key, len + 1);
    v->key_len = len;
    v->type = type;
    v->heap_idx = HEAP_NONE;
    if (type == MEM_HASH || type == MEM_SET) {
        v->u.hash = hashmap_new(); /* u.set aliases u.hash */
        if (!v->u.hash) {
            free(v);
            return NULL;
        }
    }
    if (hashmap_put(m->keys, v->key, len, v, NULL) != 0) {
        value_free(m, v);
        return NULL;
    }
    return v;
}

/* The value at key if it has type (or NULL when missing); WRONGTYPE otherwise. */
static int lookup_typed(struct mem_store *m, const char *key, enum mem_type type,
                        struct mem_value **out)
{
    struct mem_value *v = lookup(m, key);
    *out = NULL;
    if (v && v->type != type)
        return STORE_ERR_WRONGTYPE;
    *out = v;
    return STORE_OK;
}

/* Redis' string2ll: the canonical decimal form only (no spaces, '+', or leading zeros). */
static int parse_ll(const char *p, size_t len, long long *out)
{
    if (len == 0 || len > 20)
        return -1;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return 0;
    }
    bool neg = p[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i >= len || p[i] < '1' || p[i] > '9')
        return -1;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (!neg) {
        if (v > (unsigned long long)LLONG_MAX)
            return -1;
        *out = (long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return -1;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    }
    return 0;
}

/* cur + by as a new blob in *out; STORE_ERR for a non-integer or an overflow (Redis answers
 * those with an error reply). */
static int incr_blob(const struct mem_blob *cur, long long by, long long *result,
                     struct mem_blob **out)
{
    long long v = 0;
    *out = NULL;
    if (cur && parse_ll(cur->data, cur->len, &v) != 0)
        return STORE_ERR;
    if (__builtin_add_overflow(v, by, result))
        return STORE_ERR;
    char num[24];
    int n = snprintf(num, sizeof(num), "%lld", *result);
    *out = blob_new(num, (size_t)n);
    return *out ? STORE_OK : STORE_ERR;
}

/* ---- reply queue ---- */

static void on_drain(uv_idle_t *h);

static struct mem_reply *reply_new(enum mem_kind kind, size_t extra)
{
    if (extra > SIZE_MAX - sizeof(struct mem_reply))
        return NULL;
    struct mem_reply *r = calloc(1, sizeof(*r) + extra);
    if (r)
        r->kind = kind;
    return r;
}

static void reply_push(struct mem_store *m, struct mem_reply *r)
{
    r->next = NULL;
    if (m->q_tail)
        m->q_tail->next = r;
    else
        m->q_head = r;
    m->q_tail = r;
    uv_idle_start(&m->drain, on_drain);
}

/* Start a command with an integer reply: the reply is allocated before the command runs, so a
 * command never takes effect without its callback being able to run. *out is NULL if cb is. */
static int int_begin(struct mem_store *m, store_int_cb cb, void *arg, struct mem_reply **out)
{
    *out = NULL;
    if (m->closing)
        return STORE_ERR_UNAVAILABLE;
    if (!cb)
        return STORE_OK;
    struct mem_reply *r = reply_new(R_INT, 0);
    if (!r)
        return STORE_ERR;
    r->cb.i = cb;
    r->arg = arg;
    *out = r;
    return STORE_OK;
}

/* Queue the reply; always STORE_OK, since the command was issued. */
static int int_finish(struct mem_store *m, struct mem_reply *r, int status, long long value)
{
    if (r) {
        r->status = status;
        r->ival = value;
        reply_push(m, r);
    }
    return STORE_OK;
}

/* Give up before any visible effect: the callback will not run. */
static int int_abort(struct mem_reply *r, int rc)
{
    free(r);
    return rc;
}

static int str_reply(struct mem_store *m, store_str_cb cb, void *arg, int status,
                     const struct mem_blob *b)
{
    if (!cb)
        return STORE_OK;
    struct mem_reply *r = reply_new(R_STR, b ? b->len + 1 : 0); /* a blob's len + 1 fits */
    if (!r)
        return STORE_ERR;
    r->cb.s = cb;
    r->arg = arg;
    r->status = status;
    if (b) {
        char *copy = (char *)(r + 1);
        memcpy(copy, b->data, b->len + 1);
        r->items = copy;
        r->n = b->len;
    }
    reply_push(m, r);
    return STORE_OK;
}

/* HGETALL (with_values: field, value, field, value, ...) or SMEMBERS of h (NULL: none). */
static int strs_reply(struct mem_store *m, store_strs_cb cb, void *arg, int status,
                      const struct hashmap *h, bool with_values)
{
    if (!cb)
        return STORE_OK;
    size_t per = with_values ? 2 : 1;
    size_t n = hashmap_count(h) * per; /* cannot overflow: each entry is an allocation */
    size_t extra = 0;
    struct hashmap_iter it;
    const char *k;
    size_t klen;
    void *val;
    bool ok = !__builtin_mul_overflow(n, sizeof(struct store_str), &extra);
    hashmap_iter_init(&it);
    while (ok && hashmap_next(h, &it, &k, &klen, &val))
        ok = size_add(&extra, klen + 1) &&
             (!with_values || size_add(&extra, ((struct mem_blob *)val)->len + 1));
    struct mem_reply *r = ok ? reply_new(R_STRS, extra) : NULL;
    if (!r)
        return STORE_ERR;
    struct store_str *items = (struct store_str *)(r + 1);
    char *bytes = (char *)(items + n);
    size_t i = 0;
    hashmap_iter_init(&it);
    while (hashmap_next(h, &it, &k, &klen, &val)) {
        items[i++] = (struct store_str){memcpy(bytes, k, klen + 1), klen};
        bytes += klen + 1;
        if (with_values) {
            const struct mem_blob *b = val;
            items[i++] = (struct store_str){memcpy(bytes, b->data, b->len + 1), b->len};
            bytes += b->len + 1;
        }
    }
    r->cb.strs = cb;
    r->arg = arg;
    r->status = status;
    r->items = items;
    r->n = n;
    reply_push(m, r);
    return STORE_OK;
}

static void msg_unref(struct mem_msg *msg)
{
    if (--msg->refs == 0)
        free(msg);
}

static void reply_run(struct mem_store *m, struct mem_reply *r)
{
    switch (r->kind) {
    case R_INT:
        r->cb.i(r->arg, r->status, r->ival);
        break;
    case R_STR:
        r->cb.s(r->arg, r->status, r->items, r->n);
        break;
    case R_STRS:
        r->cb.strs(r->arg, r->status, r->items, r->n);
        break;
    case R_LOG:
        r->cb.log(r->arg, r->status, r->items, r->n);
        break;
    case R_MSG:
        /* Checked here, not at publish time: the subscriber may have left since. A closing
         * store has dropped its subscriptions. */
        if (!r->sub->dead && !m->closing)
            r->sub->fn(r->sub->arg, r->msg->channel, r->msg->data, r->msg->len);
        store_sub_release(r->sub);
        msg_unref(r->msg);
        break;
    case R_READY:
        if (!r->sub->dead)
            r->cb.ready(r->sub->arg, m->closing ? STORE_ERR_UNAVAILABLE : STORE_OK);
        store_sub_release(r->sub);
        break;
    }
}

static void close_handles(struct mem_store *m);

/* Runs the callbacks queued before this pass; ones they queue wait for the next pass, so a
 * callback that keeps issuing commands cannot starve the loop. */
static void on_drain(uv_idle_t *h)
{
    struct mem_store *m = h->data;
    struct mem_reply *stop = m->q_tail;
    while (m->q_head) {
        struct mem_reply *r = m->q_head;
        m->q_head = r->next;
        if (!m->q_head)
            m->q_tail = NULL;
        bool last = r == stop;
        reply_run(m, r);
        free(r);
        if (last)
            break;
    }
    if (m->q_head)
        return;
    if (m->closing)
        close_handles(m);
    else
        uv_idle_stop(&m->drain);
}

/* ---- strings and keys ---- */

static int mem_get(struct store *s, const char *key, store_str_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    if (m->closing)
        return STORE_ERR_UNAVAILABLE;
    struct mem_value *v;
    int status = lookup_typed(m, key, MEM_STRING, &v);
    return str_reply(m, cb, arg, status, v ? v->u.str : NULL);
}

static int mem_set(struct store *s, const char *key, const char *val, size_t len, uint64_t ttl_ms,
                   unsigned flags, store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v = lookup(m, key);
    if (((flags & STORE_SET_NX) && v) || ((flags & STORE_SET_XX) && !v))
        return int_finish(m, r, STORE_OK, 0);
    struct mem_blob *b = blob_new(val, len);
    if (!b)
        return int_abort(r, STORE_ERR);
    if (!v) {
        v = key_create(m, key, MEM_STRING);
        if (!v) {
            free(b);
            return int_abort(r, STORE_ERR);
        }
    } else {
        value_clear(v); /* SET replaces a value of any type, as in Redis */
        v->type = MEM_STRING;
    }
    v->u.str = b;
    value_set_ttl(m, v, ttl_ms);
    return int_finish(m, r, STORE_OK, 1);
}

static int mem_del(struct store *s, const char *key, store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v = lookup(m, key);
    if (!v)
        return int_finish(m, r, STORE_OK, 0);
    key_delete(m, v);
    return int_finish(m, r, STORE_OK, 1);
}

static int mem_expire(struct store *s, const char *key, uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v = lookup(m, key);
    if (!v)
        return int_finish(m, r, STORE_OK, 0);
    if (ttl_ms == 0)
        key_delete(m, v); /* PEXPIRE key 0 deletes the key in Redis */
    else
        value_set_ttl(m, v, ttl_ms);
    return int_finish(m, r, STORE_OK, 1);
}

static int mem_incr(struct store *s, const char *key, long long by, uint64_t ttl_ms,
                    store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v;
    rc = lookup_typed(m, key, MEM_STRING, &v);
    if (rc != STORE_OK)
        return int_finish(m, r, rc, 0);
    long long result;
    struct mem_blob *b;
    rc = incr_blob(v ? v->u.str : NULL, by, &result, &b);
    if (rc != STORE_OK)
        return int_finish(m, r, rc, 0);
    if (!v && !(v = key_create(m, key, MEM_STRING))) {
        free(b);
        return int_abort(r, STORE_ERR);
    }
    free(v->u.str); /* INCRBY keeps the key's TTL; only ttl_ms > 0 changes it */
    v->u.str = b;
    if (ttl_ms > 0)
        value_set_ttl(m, v, ttl_ms);
    return int_finish(m, r, STORE_OK, result);
}

/* ---- hashes ---- */

static int mem_hset(struct store *s, const char *key, const struct store_str *pairs, size_t npairs,
                    uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v;
    rc = lookup_typed(m, key, MEM_HASH, &v);
    if (rc != STORE_OK)
        return int_finish(m, r, rc, 0);
    if (!v && !(v = key_create(m, key, MEM_HASH)))
        return int_abort(r, STORE_ERR);
    long long added = 0;
    int status = STORE_OK;
    for (size_t i = 0; i + 1 < npairs && status == STORE_OK; i += 2) {
        const struct store_str *f = &pairs[i], *val = &pairs[i + 1];
        struct mem_blob *b = blob_new(val->ptr, val->len);
        void *old = NULL;
        if (!b || hashmap_put(v->u.hash, f->ptr, f->len, b, &old) != 0) {
            free(b);
            status = STORE_ERR;
            break;
        }
        if (old)
            free(old);
        else
            added++;
    }
    if (hashmap_count(v->u.hash) == 0) {
        key_delete(m, v); /* Redis never holds an empty hash */
        return int_abort(r, STORE_ERR);
    }
    if (ttl_ms > 0)
        value_set_ttl(m, v, ttl_ms);
    return int_finish(m, r, status, added);
}

static int mem_hget(struct store *s, const char *key, const char *field, store_str_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    if (m->closing)
        return STORE_ERR_UNAVAILABLE;
    struct mem_value *v;
    int status = lookup_typed(m, key, MEM_HASH, &v);
    const struct mem_blob *b = v ? hashmap_get(v->u.hash, field, strlen(field)) : NULL;
    return str_reply(m, cb, arg, status, b);
}

static int mem_hgetall(struct store *s, const char *key, store_strs_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    if (m->closing)
        return STORE_ERR_UNAVAILABLE;
    struct mem_value *v;
    int status = lookup_typed(m, key, MEM_HASH, &v);
    return strs_reply(m, cb, arg, status, v ? v->u.hash : NULL, true);
}

static int mem_hincrby(struct store *s, const char *key, const char *field, long long by,
                       store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v;
    rc = lookup_typed(m, key, MEM_HASH, &v);
    if (rc != STORE_OK)
        return int_finish(m, r, rc, 0);
    size_t flen = strlen(field);
    long long result;
    struct mem_blob *b;
    rc = incr_blob(v ? hashmap_get(v->u.hash, field, flen) : NULL, by, &result, &b);
    if (rc != STORE_OK)
        return int_finish(m, r, rc, 0);
    if (!v && !(v = key_create(m, key, MEM_HASH))) {
        free(b);
        return int_abort(r, STORE_ERR);
    }
    void *old = NULL;
    if (hashmap_put(v->u.hash, field, flen, b, &old) != 0) {
        free(b);
        if (hashmap_count(v->u.hash) == 0)
            key_delete(m, v);
        return int_abort(r, STORE_ERR);
    }
    free(old);
    return int_finish(m, r, STORE_OK, result);
}

/* HDEL / SREM: remove one field or member; the key goes when its collection is empty. */
static int collection_remove(struct store *s, enum mem_type type, const char *key, const char *item,
                             size_t len, store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v;
    rc = lookup_typed(m, key, type, &v);
    if (rc != STORE_OK || !v)
        return int_finish(m, r, rc, 0);
    void *old = hashmap_remove(v->u.hash, item, len);
    bool removed = old != NULL;
    if (type == MEM_HASH)
        free(old); /* set members map to a marker, not to memory of their own */
    if (hashmap_count(v->u.hash) == 0)
        key_delete(m, v);
    return int_finish(m, r, STORE_OK, removed);
}

static int mem_hdel(struct store *s, const char *key, const char *field, store_int_cb cb, void *arg)
{
    return collection_remove(s, MEM_HASH, key, field, strlen(field), cb, arg);
}

/* ---- sets ---- */

static int mem_sadd(struct store *s, const char *key, const char *member, size_t len,
                    uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v;
    rc = lookup_typed(m, key, MEM_SET, &v);
    if (rc != STORE_OK)
        return int_finish(m, r, rc, 0);
    if (!v && !(v = key_create(m, key, MEM_SET)))
        return int_abort(r, STORE_ERR);
    long long added = 0;
    if (!hashmap_get(v->u.set, member, len)) {
        if (hashmap_put(v->u.set, member, len, v, NULL) != 0) {
            if (hashmap_count(v->u.set) == 0)
                key_delete(m, v);
            return int_abort(r, STORE_ERR);
        }
        added = 1;
    }
    if (ttl_ms > 0)
        value_set_ttl(m, v, ttl_ms);
    return int_finish(m, r, STORE_OK, added);
}

static int mem_srem(struct store *s, const char *key, const char *member, size_t len,
                    store_int_cb cb, void *arg)
{
    return collection_remove(s, MEM_SET, key, member, len, cb, arg);
}

static int mem_smembers(struct store *s, const char *key, store_strs_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    if (m->closing)
        return STORE_ERR_UNAVAILABLE;
    struct mem_value *v;
    int status = lookup_typed(m, key, MEM_SET, &v);
    return strs_reply(m, cb, arg, status, v ? v->u.set : NULL, false);
}

/* ---- pub/sub ---- */

static struct mem_msg *msg_new(const char *channel, const char *data, size_t len)
{
    size_t clen = strlen(channel), size = sizeof(struct mem_msg);
    if (!size_add(&size, len) || !size_add(&size, clen) || !size_add(&size, 2))
        return NULL;
    struct mem_msg *msg = malloc(size);
    if (!msg)
        return NULL;
    if (len)
        memcpy(msg->data, data, len);
    msg->data[len] = '\0';
    memcpy(msg->data + len + 1, channel, clen + 1);
    msg->channel = msg->data + len + 1;
    msg->len = len;
    msg->refs = 1;
    return msg;
}

static int mem_publish(struct store *s, const char *channel, const char *data, size_t len,
                       store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct store_channel *ch = hashmap_get(m->channels, channel, strlen(channel));
    if (!ch)
        return int_finish(m, r, STORE_OK, 0);
    struct mem_msg *msg = msg_new(channel, data, len);
    if (!msg)
        return int_abort(r, STORE_ERR);
    /* Subscribers are counted now; ones that subscribe before delivery get nothing, as in
     * Redis, where the message is fanned out when PUBLISH runs. */
    int_finish(m, r, STORE_OK, (long long)ch->nsubs);
    for (struct store_sub *sub = ch->head; sub; sub = sub->next) {
        struct mem_reply *d = reply_new(R_MSG, 0);
        if (!d) {
            log_msgf(m->base.log, LOG_WARNING, "store: out of memory publishing on %s", channel);
            break;
        }
        d->sub = sub;
        d->msg = msg;
        store_sub_hold(sub);
        msg->refs++;
        reply_push(m, d);
    }
    msg_unref(msg);
    return STORE_OK;
}

/* Every subscription is in effect at once; a confirmed one learns so on the next loop turn,
 * through the reply queue like everything else. */
static struct store_sub *mem_subscribe(struct store *s, const char *channel, store_message_fn fn,
                                       store_ready_fn ready, void *arg)
{
    struct mem_store *m = mem(s);
    if (m->closing)
        return NULL;
    struct mem_reply *notice = NULL;
    if (ready && !(notice = reply_new(R_READY, 0)))
        return NULL;
    bool fresh;
    struct store_channel *ch = store_channel_get(m->channels, channel, &fresh);
    struct store_sub *sub = ch ? store_sub_add(s, ch, fn, NULL, arg) : NULL;
    if (!sub) {
        if (ch && fresh)
            store_channel_free(m->channels, ch);
        free(notice);
        return NULL;
    }
    if (notice) {
        notice->cb.ready = ready;
        notice->sub = sub;
        store_sub_hold(sub);
        reply_push(m, notice);
    }
    return sub;
}

/* Unlinks at once so later publishes skip it; the memory waits for queued deliveries, which
 * see dead and drop the message. Safe from inside any callback, including the sub's own. */
static void mem_unsubscribe(struct store_sub *sub)
{
    struct mem_store *m = mem(sub->store); /* read first: unlinking may free sub */
    struct store_channel *ch = store_sub_unlink(sub);
    if (ch && ch->nsubs == 0)
        store_channel_free(m->channels, ch);
}

/* ---- event log ---- */

/* Make room for one more entry in a log that keeps at most max_entries (> 0): drop the oldest
 * entries so the newest max_entries, the new one included, remain, or else grow a full ring.
 * Fails, changing nothing, only when the ring cannot grow. */
static int log_make_room(struct mem_log *lg, size_t max_entries)
{
    while (lg->count >= max_entries) {
        free(lg->ring[lg->head]);
        lg->head = (lg->head + 1) % lg->cap;
        lg->count--;
    }
    if (lg->count < lg->cap)
        return 0;
    /* The ring is full (count == cap), so copying cap entries copies them all. */
    size_t cap = lg->cap ? lg->cap * 2 : MEM_LOG_MIN_CAP;
    if (cap < lg->cap || cap > max_entries)
        cap = max_entries;
    if (cap > SIZE_MAX / sizeof(*lg->ring))
        return -1;
    struct mem_blob **ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return -1;
    for (size_t i = 0; i < lg->cap; i++)
        ring[i] = lg->ring[(lg->head + i) % lg->cap];
    free(lg->ring);
    lg->ring = ring;
    lg->cap = cap;
    lg->head = 0;
    return 0;
}

static int mem_log_append(struct store *s, const char *key, const char *data, size_t len,
                          size_t max_entries, uint64_t ttl_ms, store_int_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    if (max_entries == 0)
        return STORE_ERR; /* store_log_append already refuses it; the ring needs a slot */
    struct mem_reply *r;
    int rc = int_begin(m, cb, arg, &r);
    if (rc != STORE_OK)
        return rc;
    struct mem_value *v;
    rc = lookup_typed(m, key, MEM_LOG, &v);
    if (rc != STORE_OK)
        return int_finish(m, r, rc, 0);
    struct mem_blob *b = blob_new(data, len);
    if (!b)
        return int_abort(r, STORE_ERR);
    if (!v && !(v = key_create(m, key, MEM_LOG))) {
        free(b);
        return int_abort(r, STORE_ERR);
    }
    struct mem_log *lg = &v->u.log;
    if (log_make_room(lg, max_entries) != 0) {
        free(b);
        if (lg->count == 0)
            key_delete(m, v);
        return int_abort(r, STORE_ERR);
    }
    lg->ring[(lg->head + lg->count) % lg->cap] = b;
    lg->count++;
    lg->last_seq++;
    if (ttl_ms > 0)
        value_set_ttl(m, v, ttl_ms);
    return int_finish(m, r, STORE_OK, (long long)lg->last_seq);
}

static int log_reply(struct mem_store *m, store_log_cb cb, void *arg, int status,
                     const struct mem_log *lg, uint64_t after_seq, size_t max)
{
    size_t start = 0, n = 0;
    if (lg && lg->count > 0 && after_seq < lg->last_seq) {
        uint64_t first = lg->last_seq - lg->count + 1;
        start = after_seq < first ? 0 : (size_t)(after_seq - first + 1);
        n = lg->count - start < max ? lg->count - start : max;
    }
    size_t extra = n * sizeof(struct store_log_entry); /* n <= count: no overflow */
    for (size_t i = 0; i < n; i++)
        if (!size_add(&extra, lg->ring[(lg->head + start + i) % lg->cap]->len + 1))
            return STORE_ERR;
    struct mem_reply *r = reply_new(R_LOG, extra);
    if (!r)
        return STORE_ERR;
    struct store_log_entry *entries = (struct store_log_entry *)(r + 1);
    char *bytes = (char *)(entries + n);
    for (size_t i = 0; i < n; i++) {
        const struct mem_blob *b = lg->ring[(lg->head + start + i) % lg->cap];
        uint64_t seq = lg->last_seq - lg->count + 1 + start + i;
        entries[i] = (struct store_log_entry){seq, memcpy(bytes, b->data, b->len + 1), b->len};
        bytes += b->len + 1;
    }
    r->cb.log = cb;
    r->arg = arg;
    r->status = status;
    r->items = entries;
    r->n = n;
    reply_push(m, r);
    return STORE_OK;
}

static int mem_log_read(struct store *s, const char *key, uint64_t after_seq, size_t max,
                        store_log_cb cb, void *arg)
{
    struct mem_store *m = mem(s);
    if (m->closing)
        return STORE_ERR_UNAVAILABLE;
    struct mem_value *v;
    int status = lookup_typed(m, key, MEM_LOG, &v);
    if (!cb)
        return STORE_OK;
    return log_reply(m, cb, arg, status, v ? &v->u.log : NULL, after_seq, max);
}

/* ---- lifecycle ---- */

static void on_sweep(uv_timer_t *t)
{
    struct mem_store *m = t->data;
    uint64_t now = uv_now(m->base.loop);
    unsigned freed = 0;
    while (m->heap_len > 0 && now > m->heap[0]->expire_at && freed < MEM_SWEEP_BUDGET) {
        key_delete(m, heap_remove_at(m, 0)); /* out of the heap first: the next top is live */
        freed++;
    }
    if (freed == MEM_SWEEP_BUDGET)
        uv_timer_start(t, on_sweep, MEM_SWEEP_RETRY_MS, MEM_SWEEP_INTERVAL_MS);
}

static bool mem_healthy(struct store *s)
{
    return !mem(s)->closing;
}

static void mem_free_all(struct mem_store *m)
{
    struct hashmap_iter it;
    void *item;
    hashmap_iter_init(&it);
    while (hashmap_next(m->keys, &it, NULL, NULL, &item))
        value_free(m, item);
    hashmap_free(m->keys);
    /* Subscriptions still linked were never unsubscribed; the queue is empty, so nothing
     * points at them any more. */
    store_channels_free(m->channels);
    free(m->heap);
    free(m);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct mem_store *m = h->data;
    if (--m->handles_open > 0)
        return;
    void (*done)(void *) = m->done;
    void *arg = m->done_arg;
    mem_free_all(m);
    if (done)
        done(arg);
}

static void close_handles(struct mem_store *m)
{
    m->handles_open = 2;
    uv_close((uv_handle_t *)&m->drain, on_handle_closed);
    uv_close((uv_handle_t *)&m->sweep, on_handle_closed);
}

/* Replies already queued are still delivered (their commands took effect); messages are not.
 * The drain handle does the rest from the loop, so done never runs inside this call. */
static void mem_close(struct store *s, void (*done)(void *), void *arg)
{
    struct mem_store *m = mem(s);
    if (m->closing)
        return;
    m->closing = true;
    m->done = done;
    m->done_arg = arg;
    uv_timer_stop(&m->sweep);
    uv_idle_start(&m->drain, on_drain);
}

static const struct store_ops mem_ops = {
    .name = "memory",
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
    .expire = mem_expire,
    .incr = mem_incr,
    .hset = mem_hset,
    .hget = mem_hget,
    .hgetall = mem_hgetall,
    .hincrby = mem_hincrby,
    .hdel = mem_hdel,
    .sadd = mem_sadd,
    .srem = mem_srem,
    .smembers = mem_smembers,
    .publish = mem_publish,
    .subscribe = mem_subscribe,
    .unsubscribe = mem_unsubscribe,
    .log_append = mem_log_append,
    .log_read = mem_log_read,
    .healthy = mem_healthy,
    .close = mem_close,
};

struct store *store_memory_new(uv_loop_t *loop, struct logger *log)
{
    struct mem_store *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->keys = hashmap_new();
    m->channels = hashmap_new();
    if (!m->keys || !m->channels) {
        hashmap_free(m->keys);
        hashmap_free(m->channels);
        free(m);
        return NULL;
    }
    m->base.ops = &mem_ops;
    m->base.loop = loop;
    m->base.log = log;
    uv_idle_init(loop, &m->drain);
    m->drain.data = m;
    uv_timer_init(loop, &m->sweep);
    m->sweep.data = m;
    uv_timer_start(&m->sweep, on_sweep, MEM_SWEEP_INTERVAL_MS, MEM_SWEEP_INTERVAL_MS);
    uv_unref((uv_handle_t *)&m->sweep);
    return &m->base;
}
