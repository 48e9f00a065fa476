/*
 * store_contract: the behaviour every store backend promises (src/store/store.h), written once
 * and run once per backend. A backend's test binary (test_store_<backend>.c) fills a
 * store_harness that opens a fresh, empty, healthy store, includes this file, and lists
 * STORE_CONTRACT_TESTS(&harness) in its cmocka group next to the tests only that backend has.
 *
 * The tests only assume what both backends guarantee: replies come from the loop in issue
 * order (so a GET issued last is a barrier for everything before it), and a subscription made
 * with store_subscribe_confirmed hears every message published after its ready notice. Where
 * the contract lets the backends differ (PUBLISH counts subscriptions in memory, receiving
 * connections in Redis) the harness says which applies.
 */
#ifndef MCPD_TESTS_STORE_CONTRACT_H
#define MCPD_TESTS_STORE_CONTRACT_H

#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>

#include "store/store.h"

/* Long enough that a loaded machine (and the sanitizer build) never lets a key expire between
 * writing it and the read that must still see it; the wait past it is half as long again. */
#define SHORT_TTL_MS      300
#define PAST_SHORT_TTL_MS 450

#define WAIT_MS   5000u /* upper bound for anything the tests wait for */
#define MAX_ITEMS 16

struct fx;

struct store_harness {
    const char *backend;             /* what store_backend_name answers */
    bool publish_counts_connections; /* PUBLISH reports receiving connections, not subscribers */
    /* A fresh, empty store on f->loop, healthy when it returns; may set f->ext. */
    struct store *(*open)(struct fx *f);
    /* After the store and the loop are closed: release f->ext. May be NULL. */
    void (*release)(struct fx *f);
    void *ctx; /* the backend's own (the Redis test's server) */
};

/* Each test gets its own loop and store; teardown closes the store and checks that every
 * handle is gone (uv_loop_close fails otherwise) and, under ASan, that nothing leaked. */
struct fx {
    uv_loop_t loop;
    struct store *s;
    struct store_harness *h;
    void *ext; /* backend-specific state from h->open */
};

/* ---- loop helpers ---- */

static void on_tick(uv_timer_t *t)
{
}

/* Run the loop until *flag (NULL: never) or ms pass; the tick wakes the loop so the deadline is
 * checked even when nothing else happens. */
static bool spin_until(struct fx *f, const bool *flag, uint64_t ms)
{
    uv_timer_t tick;
    uv_timer_init(&f->loop, &tick);
    uv_timer_start(&tick, on_tick, 2, 2);
    uint64_t deadline = uv_now(&f->loop) + ms;
    while (!(flag && *flag) && uv_now(&f->loop) < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return flag && *flag;
}

/* Let loop time pass (and the loop run) for ms milliseconds. */
static void sleep_ms(struct fx *f, uint64_t ms)
{
    spin_until(f, NULL, ms);
}

static bool wait_count(struct fx *f, const int *count, int want)
{
    uint64_t deadline = uv_now(&f->loop) + WAIT_MS;
    while (*count < want && uv_now(&f->loop) < deadline)
        sleep_ms(f, 2);
    return *count == want;
}

static bool wait_healthy(struct fx *f, struct store *s, bool want)
{
    uint64_t deadline = uv_now(&f->loop) + WAIT_MS;
    while (store_healthy(s) != want && uv_now(&f->loop) < deadline)
        sleep_ms(f, 5);
    return store_healthy(s) == want;
}

static void barrier_cb(void *arg, int status, const char *v, size_t len)
{
    *(bool *)arg = true;
}

/* Commands complete in issue order, so once this GET answers, everything before it has. */
static void run(struct fx *f)
{
    bool done = false;
    assert_int_equal(store_get(f->s, "__barrier__", barrier_cb, &done), STORE_OK);
    assert_true(spin_until(f, &done, WAIT_MS));
}

static int contract_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->h = *state;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->s = f->h->open(f);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static int contract_teardown(void **state)
{
    struct fx *f = *state;
    int closed = 0;
    if (f->s) {
        store_close(f->s, on_closed, &closed);
        assert_int_equal(closed, 0);      /* done runs from the loop, not inside store_close */
        uv_run(&f->loop, UV_RUN_DEFAULT); /* returns only once every handle is closed */
        assert_int_equal(closed, 1);
    }
    assert_int_equal(uv_loop_close(&f->loop), 0);
    if (f->h->release)
        f->h->release(f);
    *state = f->h;
    free(f);
    return 0;
}

/* ---- recording callbacks ---- */

/* What one callback saw, copied out since callback arguments are borrowed. */
struct rec {
    int calls;
    int status;
    long long ival;
    bool null;
    char str[128];
    size_t len;
    size_t n;
    char items[MAX_ITEMS][64]; /* sorted, "field=value" for hashes */
    uint64_t seqs[MAX_ITEMS];
    const bool *returned; /* when set: the issuing call must have returned before this runs */
    bool reentrant;
};

static void check_order(struct rec *r)
{
    if (r->returned && !*r->returned)
        r->reentrant = true;
}

static void int_cb(void *arg, int status, long long value)
{
    struct rec *r = arg;
    check_order(r);
    r->calls++;
    r->status = status;
    r->ival = value;
}

static void str_cb(void *arg, int status, const char *value, size_t len)
{
    struct rec *r = arg;
    check_order(r);
    r->calls++;
    r->status = status;
    r->null = value == NULL;
    r->len = len;
    if (value) {
        assert_true(len < sizeof(r->str));
        memcpy(r->str, value, len);
        r->str[len] = '\0';
    }
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void strs_cb(void *arg, int status, const struct store_str *items, size_t n)
{
    struct rec *r = arg;
    r->calls++;
    r->status = status;
    r->n = n;
    assert_true(n <= MAX_ITEMS);
    for (size_t i = 0; i < n; i++)
        snprintf(r->items[i], sizeof(r->items[i]), "%.*s", (int)items[i].len, items[i].ptr);
    qsort(r->items, n, sizeof(r->items[0]), cmp_item);
}

/* HGETALL: join each field with its value before sorting. */
static void pairs_cb(void *arg, int status, const struct store_str *items, size_t n)
{
    struct rec *r = arg;
    r->calls++;
    r->status = status;
    r->n = n / 2;
    assert_int_equal(n % 2, 0);
    assert_true(n / 2 <= MAX_ITEMS);
    for (size_t i = 0; i < n; i += 2)
        snprintf(r->items[i / 2], sizeof(r->items[0]), "%.*s=%.*s", (int)items[i].len, items[i].ptr,
                 (int)items[i + 1].len, items[i + 1].ptr);
    qsort(r->items, n / 2, sizeof(r->items[0]), cmp_item);
}

static void log_cb(void *arg, int status, const struct store_log_entry *e, size_t n)
{
    struct rec *r = arg;
    r->calls++;
    r->status = status;
    r->n = n;
    assert_true(n <= MAX_ITEMS);
    for (size_t i = 0; i < n; i++) {
        r->seqs[i] = e[i].seq;
        snprintf(r->items[i], sizeof(r->items[i]), "%.*s", (int)e[i].len, e[i].data);
    }
}

/* One subscriber: its messages and its readiness notice. */
struct inbox {
    int count;
    char last[64];
    char channel[64];
    struct store_sub *self;  /* to unsubscribe from inside the callback */
    struct store_sub *other; /* to unsubscribe someone else */
    struct store *s;
    struct rec pub;
    bool got;
    int ready_calls;
    int ready_status;
    bool ready;
    const bool *returned; /* when set: the subscribing call must have returned before ready */
    bool reentrant;
};

static void inbox_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    in->count++;
    in->got = true;
    snprintf(in->last, sizeof(in->last), "%.*s", (int)len, msg);
    snprintf(in->channel, sizeof(in->channel), "%s", channel);
}

static void inbox_ready(void *arg, int status)
{
    struct inbox *in = arg;
    if (in->returned && !*in->returned)
        in->reentrant = true;
    in->ready_calls++;
    in->ready_status = status;
    in->ready = true;
}

/* Subscribe and wait until the subscription is in effect. */
static struct store_sub *subscribe_ready(struct fx *f, const char *channel, store_message_fn fn,
                                         struct inbox *in)
{
    struct store_sub *sub = store_subscribe_confirmed(f->s, channel, fn, inbox_ready, in);
    assert_non_null(sub);
    assert_true(spin_until(f, &in->ready, WAIT_MS));
    assert_int_equal(in->ready_status, STORE_OK);
    return sub;
}

/* ---- strings and keys ---- */

static void test_set_then_get_returns_the_value(void **state)
{
    struct fx *f = *state;
    struct rec set = {0}, get = {0}, bin = {0}, missing = {0};
    assert_int_equal(store_set(f->s, "k", "hello", 5, 0, 0, int_cb, &set), STORE_OK);
    assert_int_equal(store_get(f->s, "k", str_cb, &get), STORE_OK);
    assert_int_equal(store_set(f->s, "b", "a\0b", 3, 0, 0, NULL, NULL), STORE_OK);
    assert_int_equal(store_get(f->s, "b", str_cb, &bin), STORE_OK);
    assert_int_equal(store_get(f->s, "nope", str_cb, &missing), STORE_OK);
    run(f);
    assert_int_equal(set.calls, 1);
    assert_int_equal(set.ival, 1);
    assert_int_equal(get.status, STORE_OK);
    assert_string_equal(get.str, "hello");
    assert_int_equal(get.len, 5);
    assert_int_equal(bin.len, 3);
    assert_memory_equal(bin.str, "a\0b", 3);
    assert_int_equal(missing.calls, 1);
    assert_int_equal(missing.status, STORE_OK);
    assert_true(missing.null);
}

static void test_set_nx_writes_only_missing_keys_and_xx_only_existing(void **state)
{
    struct fx *f = *state;
    struct rec xx_missing = {0}, nx_missing = {0}, nx_present = {0}, xx_present = {0};
    struct rec get = {0};
    store_set(f->s, "k", "1", 1, 0, STORE_SET_XX, int_cb, &xx_missing);
    store_set(f->s, "k", "2", 1, 0, STORE_SET_NX, int_cb, &nx_missing);
    store_set(f->s, "k", "3", 1, 0, STORE_SET_NX, int_cb, &nx_present);
    store_set(f->s, "k", "4", 1, 60000, STORE_SET_XX, int_cb, &xx_present);
    store_get(f->s, "k", str_cb, &get);
    run(f);
    assert_int_equal(xx_missing.ival, 0);
    assert_int_equal(nx_missing.ival, 1);
    assert_int_equal(nx_present.ival, 0);
    assert_int_equal(xx_present.ival, 1);
    assert_string_equal(get.str, "4");
}

static void test_set_refuses_nx_and_xx_together(void **state)
{
    struct fx *f = *state;
    struct rec r = {0};
    assert_int_equal(store_set(f->s, "k", "v", 1, 0, STORE_SET_NX | STORE_SET_XX, int_cb, &r),
                     STORE_ERR);
    run(f);
    assert_int_equal(r.calls, 0); /* not issued: no callback */
}

static void test_key_expires_after_its_ttl(void **state)
{
    struct fx *f = *state;
    struct rec before = {0}, after = {0}, kept = {0};
    store_set(f->s, "short", "v", 1, SHORT_TTL_MS, 0, NULL, NULL);
    store_set(f->s, "forever", "v", 1, 0, 0, NULL, NULL);
    store_get(f->s, "short", str_cb, &before);
    run(f);
    assert_false(before.null);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_get(f->s, "short", str_cb, &after);
    store_get(f->s, "forever", str_cb, &kept);
    run(f);
    assert_true(after.null);
    assert_false(kept.null);
}

static void test_set_without_ttl_clears_the_previous_ttl(void **state)
{
    struct fx *f = *state;
    struct rec get = {0};
    store_set(f->s, "k", "a", 1, SHORT_TTL_MS, 0, NULL, NULL);
    store_set(f->s, "k", "b", 1, 0, 0, NULL, NULL);
    run(f);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_get(f->s, "k", str_cb, &get);
    run(f);
    assert_string_equal(get.str, "b");
}

static void test_del_reports_whether_the_key_existed(void **state)
{
    struct fx *f = *state;
    struct rec first = {0}, second = {0}, get = {0};
    store_set(f->s, "k", "v", 1, 0, 0, NULL, NULL);
    store_del(f->s, "k", int_cb, &first);
    store_del(f->s, "k", int_cb, &second);
    store_get(f->s, "k", str_cb, &get);
    run(f);
    assert_int_equal(first.ival, 1);
    assert_int_equal(second.ival, 0);
    assert_true(get.null);
}

static void test_pexpire_sets_ttl_on_existing_keys_only(void **state)
{
    struct fx *f = *state;
    struct rec missing = {0}, present = {0}, before = {0}, after = {0};
    store_expire(f->s, "nope", SHORT_TTL_MS, int_cb, &missing);
    store_set(f->s, "k", "v", 1, 0, 0, NULL, NULL);
    store_expire(f->s, "k", SHORT_TTL_MS, int_cb, &present);
    store_get(f->s, "k", str_cb, &before);
    run(f);
    assert_int_equal(missing.ival, 0);
    assert_int_equal(present.ival, 1);
    assert_false(before.null);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_get(f->s, "k", str_cb, &after);
    run(f);
    assert_true(after.null);
}

static void test_pexpire_zero_deletes_the_key(void **state)
{
    struct fx *f = *state;
    struct rec exp = {0}, get = {0};
    store_set(f->s, "k", "v", 1, 0, 0, NULL, NULL);
    store_expire(f->s, "k", 0, int_cb, &exp);
    store_get(f->s, "k", str_cb, &get);
    run(f);
    assert_int_equal(exp.ival, 1);
    assert_true(get.null);
}

static void test_incr_counts_from_zero_and_sets_ttl(void **state)
{
    struct fx *f = *state;
    struct rec a = {0}, b = {0}, get = {0}, big = {0}, again = {0};
    store_incr(f->s, "n", 5, SHORT_TTL_MS, int_cb, &a);
    store_incr(f->s, "n", -2, SHORT_TTL_MS, int_cb, &b);
    store_get(f->s, "n", str_cb, &get);
    store_incr(f->s, "big", 9007199254740993LL, 0, int_cb, &big); /* 2^53 + 1: no rounding */
    run(f);
    assert_int_equal(a.ival, 5);
    assert_int_equal(b.ival, 3);
    assert_string_equal(get.str, "3");
    assert_true(big.ival == 9007199254740993LL);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_incr(f->s, "n", 1, SHORT_TTL_MS, int_cb, &again);
    run(f);
    assert_int_equal(again.ival, 1); /* the counter expired and starts over */
}

static void test_incr_refuses_non_integers_and_overflow(void **state)
{
    struct fx *f = *state;
    struct rec text = {0}, padded = {0}, over = {0}, get = {0};
    store_set(f->s, "s", "abc", 3, 0, 0, NULL, NULL);
    store_incr(f->s, "s", 1, 0, int_cb, &text);
    store_set(f->s, "p", "007", 3, 0, 0, NULL, NULL);
    store_incr(f->s, "p", 1, 0, int_cb, &padded);
    store_set(f->s, "max", "9223372036854775807", 19, 0, 0, NULL, NULL);
    store_incr(f->s, "max", 1, 0, int_cb, &over);
    store_get(f->s, "max", str_cb, &get);
    run(f);
    assert_int_equal(text.status, STORE_ERR);
    assert_int_equal(padded.status, STORE_ERR);
    assert_int_equal(over.status, STORE_ERR);
    assert_string_equal(get.str, "9223372036854775807");
}

static void test_reply_reflects_the_state_when_the_command_was_issued(void **state)
{
    struct fx *f = *state;
    struct rec first = {0}, second = {0};
    store_set(f->s, "k", "old", 3, 0, 0, NULL, NULL);
    store_get(f->s, "k", str_cb, &first);
    store_set(f->s, "k", "new", 3, 0, 0, NULL, NULL);
    store_del(f->s, "k", NULL, NULL);
    store_get(f->s, "k", str_cb, &second);
    run(f);
    assert_string_equal(first.str, "old");
    assert_true(second.null);
}

static void test_many_keys_with_mixed_ttls_expire_independently(void **state)
{
    enum { N = 300 };
    struct fx *f = *state;
    struct rec got[N];
    char key[16];
    memset(got, 0, sizeof(got));
    /* i % 3: 0 = short TTL, 1 = long TTL, 2 = short TTL later removed by SET without PX.
     * Every tenth short key is re-armed with a long TTL by PEXPIRE. */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        store_set(f->s, key, "v", 1, i % 3 == 1 ? 60000 : 20, 0, NULL, NULL);
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        if (i % 3 == 2)
            store_set(f->s, key, "v", 1, 0, 0, NULL, NULL);
        else if (i % 3 == 0 && i % 10 == 0)
            store_expire(f->s, key, 60000, NULL, NULL);
    }
    run(f);
    sleep_ms(f, 50);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        store_get(f->s, key, str_cb, &got[i]);
    }
    run(f);
    for (int i = 0; i < N; i++) {
        bool gone = i % 3 == 0 && i % 10 != 0;
        assert_int_equal(got[i].calls, 1);
        assert_int_equal(got[i].null, gone);
    }
}

/* ---- hashes ---- */

static void test_hash_set_get_getall_and_incrby(void **state)
{
    struct fx *f = *state;
    struct rec hset = {0}, update = {0}, hget = {0}, bin = {0}, nofield = {0}, all = {0};
    struct rec incr = {0};
    struct store_str pairs[] = {{"a", 1}, {"1", 1}, {"b", 1}, {"x\0y", 3}};
    struct store_str upd[] = {{"a", 1}, {"x", 1}, {"c", 1}, {"10", 2}};
    store_hset(f->s, "h", pairs, 4, 0, int_cb, &hset);
    store_hset(f->s, "h", upd, 4, 0, int_cb, &update);
    store_hget(f->s, "h", "a", str_cb, &hget);
    store_hget(f->s, "h", "b", str_cb, &bin);
    store_hget(f->s, "h", "zz", str_cb, &nofield);
    store_hincrby(f->s, "h", "c", 5, int_cb, &incr);
    store_hgetall(f->s, "h", pairs_cb, &all);
    run(f);
    assert_int_equal(hset.ival, 2);
    assert_int_equal(update.ival, 1); /* only "c" is new */
    assert_string_equal(hget.str, "x");
    assert_int_equal(bin.len, 3);
    assert_memory_equal(bin.str, "x\0y", 3);
    assert_true(nofield.null);
    assert_int_equal(incr.ival, 15);
    assert_int_equal(all.n, 3);
    assert_string_equal(all.items[0], "a=x");
    assert_string_equal(all.items[1], "b=x"); /* "x\0y", printed up to the NUL */
    assert_string_equal(all.items[2], "c=15");
}

static void test_hset_counts_strings_and_refuses_a_field_without_value(void **state)
{
    struct fx *f = *state;
    struct rec odd = {0}, all = {0};
    struct store_str pairs[] = {{"a", 1}, {"1", 1}, {"b", 1}};
    assert_int_equal(store_hset(f->s, "h", pairs, 3, 0, int_cb, &odd), STORE_ERR);
    assert_int_equal(store_hset(f->s, "h", pairs, 0, 0, int_cb, &odd), STORE_ERR);
    assert_int_equal(store_hset(f->s, "h", pairs, 2, 0, NULL, NULL), STORE_OK);
    store_hgetall(f->s, "h", pairs_cb, &all);
    run(f);
    assert_int_equal(odd.calls, 0);
    assert_int_equal(all.n, 1);
    assert_string_equal(all.items[0], "a=1");
}

static void test_hincrby_creates_missing_hash_and_field(void **state)
{
    struct fx *f = *state;
    struct rec incr = {0}, bad = {0}, get = {0};
    struct store_str pairs[] = {{"t", 1}, {"text", 4}};
    store_hincrby(f->s, "h", "n", -3, int_cb, &incr);
    store_hset(f->s, "h", pairs, 2, 0, NULL, NULL);
    store_hincrby(f->s, "h", "t", 1, int_cb, &bad);
    store_hget(f->s, "h", "n", str_cb, &get);
    run(f);
    assert_int_equal(incr.ival, -3);
    assert_int_equal(bad.status, STORE_ERR);
    assert_string_equal(get.str, "-3");
}

static void test_hash_key_is_removed_with_its_last_field(void **state)
{
    struct fx *f = *state;
    struct rec d1 = {0}, d2 = {0}, d3 = {0}, all = {0}, get = {0};
    struct store_str pairs[] = {{"a", 1}, {"1", 1}, {"b", 1}, {"2", 1}};
    store_hset(f->s, "h", pairs, 4, 0, NULL, NULL);
    store_hdel(f->s, "h", "a", int_cb, &d1);
    store_hdel(f->s, "h", "a", int_cb, &d2);
    store_hdel(f->s, "h", "b", int_cb, &d3);
    store_hgetall(f->s, "h", pairs_cb, &all);
    store_get(f->s, "h", str_cb, &get); /* WRONGTYPE if the empty hash were still there */
    run(f);
    assert_int_equal(d1.ival, 1);
    assert_int_equal(d2.ival, 0);
    assert_int_equal(d3.ival, 1);
    assert_int_equal(all.status, STORE_OK);
    assert_int_equal(all.n, 0);
    assert_int_equal(get.status, STORE_OK);
    assert_true(get.null);
}

static void test_hset_ttl_expires_the_whole_hash(void **state)
{
    struct fx *f = *state;
    struct rec all = {0};
    struct store_str pairs[] = {{"a", 1}, {"1", 1}};
    store_hset(f->s, "h", pairs, 2, SHORT_TTL_MS, NULL, NULL);
    run(f);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_hgetall(f->s, "h", pairs_cb, &all);
    run(f);
    assert_int_equal(all.calls, 1);
    assert_int_equal(all.n, 0);
}

static void test_missing_keys_read_as_empty_collections(void **state)
{
    struct fx *f = *state;
    struct rec hall = {0}, smem = {0}, hget = {0}, hdel = {0}, srem = {0}, log = {0};
    store_hgetall(f->s, "none", pairs_cb, &hall);
    store_smembers(f->s, "none", strs_cb, &smem);
    store_hget(f->s, "none", "f", str_cb, &hget);
    store_hdel(f->s, "none", "f", int_cb, &hdel);
    store_srem(f->s, "none", "m", 1, int_cb, &srem);
    store_log_read(f->s, "none", 0, 10, log_cb, &log);
    run(f);
    assert_int_equal(hall.calls + smem.calls + hget.calls + hdel.calls + srem.calls + log.calls, 6);
    assert_int_equal(hall.n + smem.n + log.n, 0);
    assert_int_equal(hall.status | smem.status | hget.status | log.status, STORE_OK);
    assert_true(hget.null);
    assert_int_equal(hdel.ival + srem.ival, 0);
}

/* ---- sets ---- */

static void test_set_members_add_remove_and_empty_set_vanishes(void **state)
{
    struct fx *f = *state;
    struct rec a1 = {0}, a2 = {0}, dup = {0}, mem = {0}, r1 = {0}, r2 = {0}, r3 = {0};
    struct rec get = {0};
    store_sadd(f->s, "s", "x", 1, 0, int_cb, &a1);
    store_sadd(f->s, "s", "y\0z", 3, 0, int_cb, &a2);
    store_sadd(f->s, "s", "x", 1, 0, int_cb, &dup);
    store_smembers(f->s, "s", strs_cb, &mem);
    store_srem(f->s, "s", "x", 1, int_cb, &r1);
    store_srem(f->s, "s", "x", 1, int_cb, &r2);
    store_srem(f->s, "s", "y\0z", 3, int_cb, &r3);
    store_get(f->s, "s", str_cb, &get);
    run(f);
    assert_int_equal(a1.ival, 1);
    assert_int_equal(a2.ival, 1);
    assert_int_equal(dup.ival, 0);
    assert_int_equal(mem.n, 2);
    assert_string_equal(mem.items[0], "x");
    assert_string_equal(mem.items[1], "y"); /* "y\0z", printed up to the NUL */
    assert_int_equal(r1.ival, 1);
    assert_int_equal(r2.ival, 0);
    assert_int_equal(r3.ival, 1);
    assert_int_equal(get.status, STORE_OK);
    assert_true(get.null);
}

static void test_sadd_ttl_applies_even_when_member_exists(void **state)
{
    struct fx *f = *state;
    struct rec again = {0}, mem = {0};
    store_sadd(f->s, "s", "x", 1, 0, NULL, NULL);
    store_sadd(f->s, "s", "x", 1, SHORT_TTL_MS, int_cb, &again);
    run(f);
    assert_int_equal(again.ival, 0);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_smembers(f->s, "s", strs_cb, &mem);
    run(f);
    assert_int_equal(mem.calls, 1);
    assert_int_equal(mem.n, 0);
}

/* ---- types ---- */

/* The failed writes carry a TTL: a backend may not apply it to a key it refused to change. */
static void test_wrong_type_is_reported_and_nothing_changes(void **state)
{
    struct fx *f = *state;
    struct rec get = {0}, hset = {0}, hget = {0}, sadd = {0}, incr = {0}, smem = {0};
    struct rec hall = {0}, app = {0}, rd = {0}, hinc = {0}, still = {0};
    struct store_str pairs[] = {{"f", 1}, {"v", 1}};
    store_hset(f->s, "hash", pairs, 2, 0, NULL, NULL);
    store_set(f->s, "str", "1", 1, 0, 0, NULL, NULL);
    store_get(f->s, "hash", str_cb, &get);
    store_hset(f->s, "str", pairs, 2, 60000, int_cb, &hset);
    store_hget(f->s, "str", "f", str_cb, &hget);
    store_hincrby(f->s, "str", "f", 1, int_cb, &hinc);
    store_sadd(f->s, "hash", "m", 1, 60000, int_cb, &sadd);
    store_incr(f->s, "hash", 1, 60000, int_cb, &incr);
    store_smembers(f->s, "hash", strs_cb, &smem);
    store_hgetall(f->s, "str", pairs_cb, &hall);
    store_log_append(f->s, "str", "e", 1, 10, 60000, int_cb, &app);
    store_log_read(f->s, "hash", 0, 10, log_cb, &rd);
    store_get(f->s, "str", str_cb, &still);
    run(f);
    int all[] = {get.status,  hset.status, hget.status, hinc.status, sadd.status,
                 incr.status, smem.status, hall.status, app.status,  rd.status};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        assert_int_equal(all[i], STORE_ERR_WRONGTYPE);
    assert_string_equal(still.str, "1");
}

static void test_set_and_del_work_on_any_type(void **state)
{
    struct fx *f = *state;
    struct rec set = {0}, get = {0}, del = {0};
    struct store_str pairs[] = {{"f", 1}, {"v", 1}};
    store_hset(f->s, "h", pairs, 2, 0, NULL, NULL);
    store_set(f->s, "h", "now a string", 12, 0, 0, int_cb, &set);
    store_get(f->s, "h", str_cb, &get);
    store_sadd(f->s, "s", "m", 1, 0, NULL, NULL);
    store_del(f->s, "s", int_cb, &del);
    run(f);
    assert_int_equal(set.ival, 1);
    assert_string_equal(get.str, "now a string");
    assert_int_equal(del.ival, 1);
}

/* ---- callback discipline ---- */

static void test_callbacks_never_run_inside_the_call(void **state)
{
    struct fx *f = *state;
    bool returned = false;
    struct rec set = {.returned = &returned}, get = {.returned = &returned};
    store_set(f->s, "k", "v", 1, 0, 0, int_cb, &set);
    store_get(f->s, "k", str_cb, &get);
    assert_int_equal(set.calls + get.calls, 0);
    returned = true;
    run(f);
    assert_int_equal(set.calls, 1);
    assert_int_equal(get.calls, 1);
    assert_false(set.reentrant);
    assert_false(get.reentrant);
}

struct order {
    int seen[16];
    int n;
};

struct order_arg {
    struct order *o;
    int id;
};

static void order_int_cb(void *arg, int status, long long v)
{
    struct order_arg *a = arg;
    a->o->seen[a->o->n++] = a->id;
}

static void order_str_cb(void *arg, int status, const char *v, size_t len)
{
    order_int_cb(arg, status, 0);
}

static void order_strs_cb(void *arg, int status, const struct store_str *items, size_t n)
{
    order_int_cb(arg, status, 0);
}

static void order_log_cb(void *arg, int status, const struct store_log_entry *e, size_t n)
{
    order_int_cb(arg, status, 0);
}

static void test_callbacks_complete_in_issue_order(void **state)
{
    struct fx *f = *state;
    struct order o = {0};
    struct order_arg a[8];
    for (int i = 0; i < 8; i++)
        a[i] = (struct order_arg){&o, i};
    struct store_str pairs[] = {{"f", 1}, {"v", 1}};
    store_get(f->s, "k", order_str_cb, &a[0]);
    store_set(f->s, "k", "v", 1, 0, 0, order_int_cb, &a[1]);
    store_hgetall(f->s, "h", order_strs_cb, &a[2]);
    store_hset(f->s, "h", pairs, 2, 0, order_int_cb, &a[3]);
    store_log_read(f->s, "l", 0, 1, order_log_cb, &a[4]);
    store_publish(f->s, "c", "m", 1, order_int_cb, &a[5]);
    store_incr(f->s, "n", 1, 0, order_int_cb, &a[6]);
    store_del(f->s, "k", order_int_cb, &a[7]);
    run(f);
    assert_int_equal(o.n, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(o.seen[i], i);
}

struct chain {
    struct store *s;
    struct rec inner;
    bool inner_issued;
};

static void chain_cb(void *arg, int status, long long v)
{
    struct chain *c = arg;
    /* A command issued from a callback is queued and replies later, never inside it. */
    assert_int_equal(store_get(c->s, "k", str_cb, &c->inner), STORE_OK);
    assert_int_equal(c->inner.calls, 0);
    c->inner_issued = true;
}

static void test_callback_can_issue_commands(void **state)
{
    struct fx *f = *state;
    struct chain c = {.s = f->s};
    store_set(f->s, "k", "v", 1, 0, 0, chain_cb, &c);
    run(f); /* the barrier GET was issued before chain_cb's */
    run(f);
    assert_true(c.inner_issued);
    assert_int_equal(c.inner.calls, 1);
    assert_string_equal(c.inner.str, "v");
}

/* ---- pub/sub ---- */

static void test_publish_reaches_every_subscriber_and_counts_them(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0}, b = {0}, other = {0};
    struct rec pub = {0}, none = {0};
    struct store_sub *sa = subscribe_ready(f, "ch", inbox_fn, &a);
    struct store_sub *sb = subscribe_ready(f, "ch", inbox_fn, &b);
    struct store_sub *so = subscribe_ready(f, "other", inbox_fn, &other);
    store_publish(f->s, "nobody", "m", 1, int_cb, &none);
    assert_int_equal(store_publish(f->s, "ch", "hi\0x", 4, int_cb, &pub), STORE_OK);
    assert_int_equal(a.count, 0); /* delivery is asynchronous */
    run(f);
    assert_int_equal(pub.ival, f->h->publish_counts_connections ? 1 : 2);
    assert_int_equal(none.ival, 0);
    assert_true(spin_until(f, &b.got, WAIT_MS));
    assert_int_equal(a.count, 1);
    assert_int_equal(b.count, 1);
    assert_string_equal(a.last, "hi");
    assert_string_equal(a.channel, "ch");
    assert_int_equal(other.count, 0);
    store_unsubscribe(sa);
    store_unsubscribe(sb);
    store_unsubscribe(so);
}

static void test_unsubscribe_drops_queued_messages(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0}, b = {0};
    struct store_sub *sa = subscribe_ready(f, "ch", inbox_fn, &a);
    struct store_sub *sb = subscribe_ready(f, "ch", inbox_fn, &b);
    store_publish(f->s, "ch", "1", 1, NULL, NULL);
    store_publish(f->s, "ch", "2", 1, NULL, NULL);
    store_unsubscribe(sa); /* both messages are on their way to a */
    assert_true(wait_count(f, &b.count, 2));
    assert_int_equal(a.count, 0);
    store_unsubscribe(sb);
}

static void unsubscribe_self_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    inbox_fn(arg, channel, msg, len);
    store_unsubscribe(in->self);
}

static void unsubscribe_other_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    inbox_fn(arg, channel, msg, len);
    if (in->other) {
        store_unsubscribe(in->other);
        in->other = NULL;
    }
}

/* A witness subscribed last sees every message, so once it has, the others' deliveries (queued
 * before its own) have run too. */
static void test_unsubscribe_from_callbacks(void **state)
{
    struct fx *f = *state;
    struct inbox self = {0}, first = {0}, second = {0}, witness = {0};
    self.self = subscribe_ready(f, "ch", unsubscribe_self_fn, &self);
    struct store_sub *s1 = subscribe_ready(f, "ch", unsubscribe_other_fn, &first);
    first.other = subscribe_ready(f, "ch", inbox_fn, &second);
    struct store_sub *sw = subscribe_ready(f, "ch", inbox_fn, &witness);
    for (int i = 0; i < 3; i++)
        store_publish(f->s, "ch", "m", 1, NULL, NULL);
    assert_true(wait_count(f, &witness.count, 3));
    assert_int_equal(self.count, 1);
    assert_string_equal(self.last, "m");
    assert_int_equal(first.count, 3);
    assert_int_equal(second.count, 0); /* its delivery was queued behind first's */
    store_unsubscribe(s1);
    store_unsubscribe(sw);
}

static void republish_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    inbox_fn(arg, channel, msg, len);
    if (in->count == 1) {
        /* subscribe again, then publish: both subscriptions see the second message */
        in->other = store_subscribe(in->s, "ch", inbox_fn, in);
        assert_non_null(in->other);
        assert_int_equal(store_publish(in->s, "ch", "again", 5, int_cb, &in->pub), STORE_OK);
    }
}

static void test_subscriber_callback_can_subscribe_and_publish(void **state)
{
    struct fx *f = *state;
    struct inbox in = {.s = f->s};
    struct store_sub *sub = subscribe_ready(f, "ch", republish_fn, &in);
    store_publish(f->s, "ch", "first", 5, NULL, NULL);
    assert_true(wait_count(f, &in.count, 3));
    run(f);
    assert_int_equal(in.pub.ival, f->h->publish_counts_connections ? 1 : 2);
    assert_string_equal(in.last, "again");
    store_unsubscribe(sub);
    store_unsubscribe(in.other);
}

/* Redis: hiredis drops a channel's callback when an UNSUBSCRIBE reply arrives, so a
 * subscription made while that is in flight must still end up subscribed. */
static void test_resubscribe_while_unsubscribing(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0}, b = {0};
    store_unsubscribe(store_subscribe(f->s, "ch", inbox_fn, &a));
    struct store_sub *sb = subscribe_ready(f, "ch", inbox_fn, &b);
    store_publish(f->s, "ch", "m", 1, NULL, NULL);
    assert_true(spin_until(f, &b.got, WAIT_MS));
    assert_int_equal(a.count, 0);
    store_unsubscribe(sb);
}

static void test_confirmed_subscription_is_ready_from_the_loop_then_receives(void **state)
{
    struct fx *f = *state;
    bool returned = false;
    struct inbox in = {.returned = &returned}, again = {0};
    struct store_sub *sub = store_subscribe_confirmed(f->s, "ch", inbox_fn, inbox_ready, &in);
    returned = true;
    assert_non_null(sub);
    assert_int_equal(in.ready_calls, 0);
    assert_true(spin_until(f, &in.ready, WAIT_MS));
    assert_int_equal(in.ready_status, STORE_OK);
    assert_false(in.reentrant);
    store_publish(f->s, "ch", "after", 5, NULL, NULL);
    assert_true(spin_until(f, &in.got, WAIT_MS));
    assert_string_equal(in.last, "after");
    /* A second subscription to a channel already in effect hears the next message too. */
    struct store_sub *sub2 = subscribe_ready(f, "ch", inbox_fn, &again);
    store_publish(f->s, "ch", "two", 3, NULL, NULL);
    assert_true(spin_until(f, &again.got, WAIT_MS));
    assert_string_equal(again.last, "two");
    run(f);
    assert_int_equal(in.ready_calls, 1);
    assert_int_equal(again.ready_calls, 1);
    store_unsubscribe(sub);
    store_unsubscribe(sub2);
}

static void test_confirmed_subscription_unsubscribed_early_never_reports(void **state)
{
    struct fx *f = *state;
    struct inbox in = {0}, witness = {0};
    store_unsubscribe(store_subscribe_confirmed(f->s, "ch", inbox_fn, inbox_ready, &in));
    assert_null(store_subscribe_confirmed(f->s, "ch", inbox_fn, NULL, &in));
    /* Once a later subscription to the channel is ready, the first one's notice would be due. */
    store_unsubscribe(subscribe_ready(f, "ch", inbox_fn, &witness));
    run(f);
    assert_int_equal(in.ready_calls, 0);
}

static void test_close_fails_confirmations_still_pending(void **state)
{
    struct fx *f = *state;
    struct inbox in = {0};
    int closed = 0;
    assert_non_null(store_subscribe_confirmed(f->s, "ch", inbox_fn, inbox_ready, &in));
    store_close(f->s, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(in.ready_calls, 1);
    assert_int_equal(in.ready_status, STORE_ERR_UNAVAILABLE);
    f->s = NULL;
}

/* ---- event log ---- */

static void test_log_numbers_events_from_one(void **state)
{
    struct fx *f = *state;
    struct rec e1 = {0}, e2 = {0}, o1 = {0}, all = {0}, bin = {0};
    store_log_append(f->s, "log", "a", 1, 10, 0, int_cb, &e1);
    store_log_append(f->s, "log", "b", 1, 10, 0, int_cb, &e2);
    store_log_append(f->s, "other", "a:b\0c", 5, 10, 0, int_cb, &o1);
    store_log_read(f->s, "log", 0, 10, log_cb, &all);
    store_log_read(f->s, "other", 0, 10, log_cb, &bin);
    run(f);
    assert_int_equal(e1.ival, 1);
    assert_int_equal(e2.ival, 2);
    assert_int_equal(o1.ival, 1);
    assert_int_equal(all.n, 2);
    assert_int_equal(all.seqs[0], 1);
    assert_string_equal(all.items[0], "a");
    assert_int_equal(all.seqs[1], 2);
    assert_string_equal(all.items[1], "b");
    assert_int_equal(bin.n, 1);
    assert_string_equal(bin.items[0], "a:b"); /* binary data survives; %.*s stops at NUL */
}

static void test_log_keeps_only_the_newest_max_entries(void **state)
{
    struct fx *f = *state;
    struct rec all = {0}, last = {0};
    char data[8];
    for (int i = 1; i <= 20; i++) {
        int n = snprintf(data, sizeof(data), "e%d", i);
        store_log_append(f->s, "log", data, (size_t)n, 5, 0, int_cb, &last);
    }
    store_log_read(f->s, "log", 0, 100, log_cb, &all);
    run(f);
    assert_int_equal(last.ival, 20);
    assert_int_equal(all.n, 5);
    for (size_t i = 0; i < 5; i++) {
        snprintf(data, sizeof(data), "e%zu", 16 + i);
        assert_int_equal(all.seqs[i], 16 + i);
        assert_string_equal(all.items[i], data);
    }
}

static void test_log_read_returns_events_after_seq_up_to_max(void **state)
{
    struct fx *f = *state;
    struct rec mid = {0}, capped = {0}, end = {0}, past = {0}, trimmed = {0};
    char data[8];
    for (int i = 1; i <= 8; i++) {
        int n = snprintf(data, sizeof(data), "e%d", i);
        store_log_append(f->s, "log", data, (size_t)n, 6, 0, NULL, NULL);
    }
    /* Entries 3..8 remain. */
    store_log_read(f->s, "log", 5, 10, log_cb, &mid);
    store_log_read(f->s, "log", 4, 2, log_cb, &capped);
    store_log_read(f->s, "log", 8, 10, log_cb, &end);
    store_log_read(f->s, "log", 99, 10, log_cb, &past);
    store_log_read(f->s, "log", 1, 1, log_cb, &trimmed);
    run(f);
    assert_int_equal(mid.n, 3);
    assert_int_equal(mid.seqs[0], 6);
    assert_int_equal(mid.seqs[2], 8);
    assert_string_equal(mid.items[2], "e8");
    assert_int_equal(capped.n, 2);
    assert_int_equal(capped.seqs[0], 5);
    assert_int_equal(capped.seqs[1], 6);
    assert_int_equal(end.n, 0);
    assert_int_equal(past.n, 0);
    assert_int_equal(trimmed.n, 1);
    assert_int_equal(trimmed.seqs[0], 3); /* the oldest still held */
}

static void test_log_expires_with_its_ttl_and_restarts_at_one(void **state)
{
    struct fx *f = *state;
    struct rec rd = {0}, again = {0};
    store_log_append(f->s, "log", "a", 1, 10, SHORT_TTL_MS, NULL, NULL);
    store_log_append(f->s, "log", "b", 1, 10, SHORT_TTL_MS, NULL, NULL);
    run(f);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_log_read(f->s, "log", 0, 10, log_cb, &rd);
    store_log_append(f->s, "log", "c", 1, 10, SHORT_TTL_MS, int_cb, &again);
    run(f);
    assert_int_equal(rd.n, 0);
    assert_int_equal(again.ival, 1);
}

static void test_log_refuses_zero_max_entries(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_log_append(f->s, "log", "a", 1, 0, 0, NULL, NULL), STORE_ERR);
}

/* ---- lifecycle ---- */

static void test_close_delivers_queued_replies_and_frees_everything(void **state)
{
    struct fx *f = *state;
    struct rec set = {0}, late = {0};
    struct inbox in = {0};
    struct store_str pairs[] = {{"f", 1}, {"v", 1}};
    int closed = 0;
    store_hset(f->s, "h", pairs, 2, 60000, NULL, NULL);
    store_sadd(f->s, "s", "m", 1, 60000, NULL, NULL);
    store_log_append(f->s, "l", "e", 1, 4, 60000, NULL, NULL);
    subscribe_ready(f, "ch", inbox_fn, &in); /* never unsubscribed: close frees it */
    store_set(f->s, "k", "v", 1, 0, 0, int_cb, &set);
    store_publish(f->s, "ch", "m", 1, NULL, NULL);
    store_close(f->s, on_closed, &closed);
    assert_false(store_healthy(f->s));
    assert_int_equal(store_get(f->s, "k", str_cb, &late), STORE_ERR_UNAVAILABLE);
    assert_null(store_subscribe(f->s, "ch", inbox_fn, &in));
    assert_int_equal(closed, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(set.calls, 1); /* the command had taken effect: its reply still comes */
    assert_int_equal(set.status, STORE_OK);
    assert_int_equal(in.count, 0); /* subscriptions were dropped */
    assert_int_equal(late.calls, 0);
    f->s = NULL;
}

static void test_store_reports_backend_name_and_health(void **state)
{
    struct fx *f = *state;
    assert_string_equal(store_backend_name(f->s), f->h->backend);
    assert_true(wait_healthy(f, f->s, true));
}

/* The operation counters /metrics reads: each command issued counts once by kind when it ends,
 * in one latency bucket, and as an error when its status is not STORE_OK. */
static void test_operations_are_counted_by_kind_with_errors_and_latency(void **state)
{
    struct fx *f = *state;
    struct store_stats before, after;
    struct store_str pairs[] = {{"f", 1}, {"v", 1}};
    struct rec wrong = {0};
    store_stats_read(f->s, &before);
    store_set(f->s, "str", "1", 1, 60000, 0, NULL, NULL);
    store_hset(f->s, "hash", pairs, 2, 60000, NULL, NULL);
    store_get(f->s, "str", NULL, NULL);
    store_get(f->s, "hash", str_cb, &wrong); /* WRONGTYPE: a read error */
    store_publish(f->s, "chan", "m", 1, NULL, NULL);
    run(f);
    assert_int_equal(wrong.status, STORE_ERR_WRONGTYPE);
    store_stats_read(f->s, &after);
    assert_int_equal(after.ops[STORE_OP_WRITE] - before.ops[STORE_OP_WRITE], 2);
    assert_int_equal(after.ops[STORE_OP_READ] - before.ops[STORE_OP_READ], 3); /* + run's */
    assert_int_equal(after.ops[STORE_OP_PUBLISH] - before.ops[STORE_OP_PUBLISH], 1);
    assert_int_equal(after.errors[STORE_OP_READ] - before.errors[STORE_OP_READ], 1);
    assert_int_equal(after.errors[STORE_OP_WRITE] - before.errors[STORE_OP_WRITE], 0);
    for (int k = 0; k < STORE_OP_KINDS; k++) {
        uint64_t in_buckets = 0;
        for (size_t b = 0; b <= STORE_LATENCY_BUCKETS; b++)
            in_buckets += after.latency[k][b] - before.latency[k][b];
        assert_int_equal(in_buckets, after.ops[k] - before.ops[k]);
    }
    assert_true(store_latency_bound_us(0) < store_latency_bound_us(STORE_LATENCY_BUCKETS - 1));
    store_stats_read(NULL, &after);
    assert_int_equal(after.ops[STORE_OP_READ], 0);
}

#define STORE_CONTRACT_TEST(name, harness)                                                         \
    cmocka_unit_test_prestate_setup_teardown(name, contract_setup, contract_teardown, (harness))

/* Every contract test, for one cmocka group; harness is a struct store_harness *. */
#define STORE_CONTRACT_TESTS(h)                                                                    \
    STORE_CONTRACT_TEST(test_set_then_get_returns_the_value, h),                                   \
        STORE_CONTRACT_TEST(test_set_nx_writes_only_missing_keys_and_xx_only_existing, h),         \
        STORE_CONTRACT_TEST(test_set_refuses_nx_and_xx_together, h),                               \
        STORE_CONTRACT_TEST(test_key_expires_after_its_ttl, h),                                    \
        STORE_CONTRACT_TEST(test_set_without_ttl_clears_the_previous_ttl, h),                      \
        STORE_CONTRACT_TEST(test_del_reports_whether_the_key_existed, h),                          \
        STORE_CONTRACT_TEST(test_pexpire_sets_ttl_on_existing_keys_only, h),                       \
        STORE_CONTRACT_TEST(test_pexpire_zero_deletes_the_key, h),                                 \
        STORE_CONTRACT_TEST(test_incr_counts_from_zero_and_sets_ttl, h),                           \
        STORE_CONTRACT_TEST(test_incr_refuses_non_integers_and_overflow, h),                       \
        STORE_CONTRACT_TEST(test_reply_reflects_the_state_when_the_command_was_issued, h),         \
        STORE_CONTRACT_TEST(test_many_keys_with_mixed_ttls_expire_independently, h),               \
        STORE_CONTRACT_TEST(test_hash_set_get_getall_and_incrby, h),                               \
        STORE_CONTRACT_TEST(test_hset_counts_strings_and_refuses_a_field_without_value, h),        \
        STORE_CONTRACT_TEST(test_hincrby_creates_missing_hash_and_field, h),                       \
        STORE_CONTRACT_TEST(test_hash_key_is_removed_with_its_last_field, h),                      \
        STORE_CONTRACT_TEST(test_hset_ttl_expires_the_whole_hash, h),                              \
        STORE_CONTRACT_TEST(test_missing_keys_read_as_empty_collections, h),                       \
        STORE_CONTRACT_TEST(test_set_members_add_remove_and_empty_set_vanishes, h),                \
        STORE_CONTRACT_TEST(test_sadd_ttl_applies_even_when_member_exists, h),                     \
        STORE_CONTRACT_TEST(test_wrong_type_is_reported_and_nothing_changes, h),                   \
        STORE_CONTRACT_TEST(test_set_and_del_work_on_any_type, h),                                 \
        STORE_CONTRACT_TEST(test_callbacks_never_run_inside_the_call, h),                          \
        STORE_CONTRACT_TEST(test_callbacks_complete_in_issue_order, h),                            \
        STORE_CONTRACT_TEST(test_callback_can_issue_commands, h),                                  \
        STORE_CONTRACT_TEST(test_publish_reaches_every_subscriber_and_counts_them, h),             \
        STORE_CONTRACT_TEST(test_unsubscribe_drops_queued_messages, h),                            \
        STORE_CONTRACT_TEST(test_unsubscribe_from_callbacks, h),                                   \
        STORE_CONTRACT_TEST(test_subscriber_callback_can_subscribe_and_publish, h),                \
        STORE_CONTRACT_TEST(test_resubscribe_while_unsubscribing, h),                              \
        STORE_CONTRACT_TEST(test_confirmed_subscription_is_ready_from_the_loop_then_receives, h),  \
        STORE_CONTRACT_TEST(test_confirmed_subscription_unsubscribed_early_never_reports, h),      \
        STORE_CONTRACT_TEST(test_close_fails_confirmations_still_pending, h),                      \
        STORE_CONTRACT_TEST(test_log_numbers_events_from_one, h),                                  \
        STORE_CONTRACT_TEST(test_log_keeps_only_the_newest_max_entries, h),                        \
        STORE_CONTRACT_TEST(test_log_read_returns_events_after_seq_up_to_max, h),                  \
        STORE_CONTRACT_TEST(test_log_expires_with_its_ttl_and_restarts_at_one, h),                 \
        STORE_CONTRACT_TEST(test_log_refuses_zero_max_entries, h),                                 \
        STORE_CONTRACT_TEST(test_close_delivers_queued_replies_and_frees_everything, h),           \
        STORE_CONTRACT_TEST(test_store_reports_backend_name_and_health, h),                        \
        STORE_CONTRACT_TEST(test_operations_are_counted_by_kind_with_errors_and_latency, h)

#endif
