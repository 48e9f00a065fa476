#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>

#include "store/store.h"

/* Long enough that a loaded machine (and the sanitizer build) never lets a key expire between
 * writing it and the read that must still see it; the wait past it is half as long again. */
#define SHORT_TTL_MS      300
#define PAST_SHORT_TTL_MS 450

/* Each test gets its own loop and store; teardown closes the store and checks that every
 * handle is gone (uv_loop_close fails otherwise) and, under ASan, that nothing leaked. */
struct fx {
    uv_loop_t loop;
    struct store *s;
};

#define MAX_ITEMS 16

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

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->s = store_memory_new(&f->loop, NULL);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int closed = 0;
    if (f->s) {
        store_close(f->s, on_closed, &closed);
        assert_int_equal(closed, 0); /* done runs from the loop, not inside store_close */
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_int_equal(closed, 1);
    }
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

static void run(struct fx *f)
{
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void on_sleep_timer(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
}

/* Let loop time pass (and the loop run) for ms milliseconds. */
static void sleep_ms(struct fx *f, uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    uv_timer_start(&t, on_sleep_timer, ms, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

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

/* ---- strings ---- */

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
    store_set(f->s, "k", "4", 1, 0, STORE_SET_XX, int_cb, &xx_present);
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
    struct rec a = {0}, b = {0}, get = {0}, again = {0};
    store_incr(f->s, "n", 5, SHORT_TTL_MS, int_cb, &a);
    store_incr(f->s, "n", -2, SHORT_TTL_MS, int_cb, &b);
    store_get(f->s, "n", str_cb, &get);
    run(f);
    assert_int_equal(a.ival, 5);
    assert_int_equal(b.ival, 3);
    assert_string_equal(get.str, "3");
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

static void test_sweep_frees_expired_keys_nobody_reads(void **state)
{
    struct fx *f = *state;
    struct rec live = {0}, dead = {0};
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "gone%d", i);
        store_set(f->s, key, "v", 1, 10, 0, NULL, NULL);
    }
    store_set(f->s, "stays", "v", 1, 60000, 0, NULL, NULL);
    sleep_ms(f, 1100); /* one sweep period: the sweep, not a read, frees the 50 keys */
    store_get(f->s, "stays", str_cb, &live);
    store_get(f->s, "gone7", str_cb, &dead);
    run(f);
    assert_false(live.null);
    assert_true(dead.null);
}

/* ---- hashes ---- */

static void test_hash_set_get_getall_and_incrby(void **state)
{
    struct fx *f = *state;
    struct rec hset = {0}, update = {0}, hget = {0}, nofield = {0}, all = {0}, incr = {0};
    struct store_str pairs[] = {{"a", 1}, {"1", 1}, {"b", 1}, {"2", 1}};
    struct store_str upd[] = {{"a", 1}, {"x", 1}, {"c", 1}, {"10", 2}};
    store_hset(f->s, "h", pairs, 4, 0, int_cb, &hset);
    store_hset(f->s, "h", upd, 4, 0, int_cb, &update);
    store_hget(f->s, "h", "a", str_cb, &hget);
    store_hget(f->s, "h", "zz", str_cb, &nofield);
    store_hincrby(f->s, "h", "c", 5, int_cb, &incr);
    store_hgetall(f->s, "h", pairs_cb, &all);
    run(f);
    assert_int_equal(hset.ival, 2);
    assert_int_equal(update.ival, 1); /* only "c" is new */
    assert_string_equal(hget.str, "x");
    assert_true(nofield.null);
    assert_int_equal(incr.ival, 15);
    assert_int_equal(all.n, 3);
    assert_string_equal(all.items[0], "a=x");
    assert_string_equal(all.items[1], "b=2");
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
    struct rec mem = {0};
    store_sadd(f->s, "s", "x", 1, 0, NULL, NULL);
    store_sadd(f->s, "s", "x", 1, SHORT_TTL_MS, NULL, NULL);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_smembers(f->s, "s", strs_cb, &mem);
    run(f);
    assert_int_equal(mem.n, 0);
}

/* ---- types ---- */

static void test_wrong_type_is_reported_and_nothing_changes(void **state)
{
    struct fx *f = *state;
    struct rec get = {0}, hset = {0}, hget = {0}, sadd = {0}, incr = {0}, smem = {0};
    struct rec hall = {0}, app = {0}, rd = {0}, hinc = {0}, still = {0};
    struct store_str pairs[] = {{"f", 1}, {"v", 1}};
    store_hset(f->s, "hash", pairs, 2, 0, NULL, NULL);
    store_set(f->s, "str", "1", 1, 0, 0, NULL, NULL);
    store_get(f->s, "hash", str_cb, &get);
    store_hset(f->s, "str", pairs, 2, 0, int_cb, &hset);
    store_hget(f->s, "str", "f", str_cb, &hget);
    store_hincrby(f->s, "str", "f", 1, int_cb, &hinc);
    store_sadd(f->s, "hash", "m", 1, 0, int_cb, &sadd);
    store_incr(f->s, "hash", 1, 0, int_cb, &incr);
    store_smembers(f->s, "hash", strs_cb, &smem);
    store_hgetall(f->s, "str", pairs_cb, &hall);
    store_log_append(f->s, "str", "e", 1, 10, 0, int_cb, &app);
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
    /* A command issued from a callback takes effect at once and replies later. */
    assert_int_equal(store_get(c->s, "k", str_cb, &c->inner), STORE_OK);
    assert_int_equal(c->inner.calls, 0);
    c->inner_issued = true;
}

static void test_callback_can_issue_commands(void **state)
{
    struct fx *f = *state;
    struct chain c = {.s = f->s};
    store_set(f->s, "k", "v", 1, 0, 0, chain_cb, &c);
    run(f);
    assert_true(c.inner_issued);
    assert_int_equal(c.inner.calls, 1);
    assert_string_equal(c.inner.str, "v");
}

/* ---- pub/sub ---- */

struct inbox {
    int count;
    char last[64];
    char channel[64];
    struct store_sub *self;  /* to unsubscribe from inside the callback */
    struct store_sub *other; /* to unsubscribe someone else */
    struct store *s;
    struct rec pub;
};

static void inbox_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    in->count++;
    snprintf(in->last, sizeof(in->last), "%.*s", (int)len, msg);
    snprintf(in->channel, sizeof(in->channel), "%s", channel);
}

static void test_publish_reaches_every_subscriber_and_counts_them(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0}, b = {0}, other = {0};
    struct rec pub = {0};
    struct store_sub *sa = store_subscribe(f->s, "ch", inbox_fn, &a);
    struct store_sub *sb = store_subscribe(f->s, "ch", inbox_fn, &b);
    struct store_sub *so = store_subscribe(f->s, "other", inbox_fn, &other);
    assert_non_null(sa);
    assert_non_null(sb);
    assert_int_equal(store_publish(f->s, "ch", "hi\0x", 4, int_cb, &pub), STORE_OK);
    assert_int_equal(a.count, 0); /* delivery is asynchronous */
    run(f);
    assert_int_equal(pub.ival, 2);
    assert_int_equal(a.count, 1);
    assert_int_equal(b.count, 1);
    assert_string_equal(a.last, "hi");
    assert_string_equal(a.channel, "ch");
    assert_int_equal(other.count, 0);
    store_unsubscribe(sa);
    store_unsubscribe(sb);
    store_unsubscribe(so);
}

static void test_publish_without_subscribers_reaches_nobody(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0};
    struct rec before = {0}, after = {0};
    store_publish(f->s, "ch", "m", 1, int_cb, &before);
    store_unsubscribe(store_subscribe(f->s, "ch", inbox_fn, &a));
    store_publish(f->s, "ch", "m", 1, int_cb, &after);
    run(f);
    assert_int_equal(before.ival, 0);
    assert_int_equal(after.ival, 0);
    assert_int_equal(a.count, 0);
}

static void test_subscriber_added_after_publish_misses_the_message(void **state)
{
    struct fx *f = *state;
    struct inbox late = {0};
    store_publish(f->s, "ch", "m", 1, NULL, NULL);
    struct store_sub *sub = store_subscribe(f->s, "ch", inbox_fn, &late);
    run(f);
    assert_int_equal(late.count, 0);
    store_unsubscribe(sub);
}

static void test_unsubscribe_drops_queued_messages(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0}, b = {0};
    struct rec pub = {0};
    struct store_sub *sa = store_subscribe(f->s, "ch", inbox_fn, &a);
    struct store_sub *sb = store_subscribe(f->s, "ch", inbox_fn, &b);
    store_publish(f->s, "ch", "1", 1, int_cb, &pub);
    store_publish(f->s, "ch", "2", 1, NULL, NULL);
    store_unsubscribe(sa); /* both messages are queued for a */
    run(f);
    assert_int_equal(pub.ival, 2);
    assert_int_equal(a.count, 0);
    assert_int_equal(b.count, 2);
    store_unsubscribe(sb);
}

static void unsubscribe_self_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    inbox_fn(arg, channel, msg, len);
    store_unsubscribe(in->self);
}

static void test_unsubscribe_from_inside_own_callback(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0};
    a.self = store_subscribe(f->s, "ch", unsubscribe_self_fn, &a);
    store_publish(f->s, "ch", "1", 1, NULL, NULL);
    store_publish(f->s, "ch", "2", 1, NULL, NULL);
    store_publish(f->s, "ch", "3", 1, NULL, NULL);
    run(f);
    assert_int_equal(a.count, 1);
    assert_string_equal(a.last, "1");
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

static void test_callback_can_unsubscribe_another_subscriber(void **state)
{
    struct fx *f = *state;
    struct inbox first = {0}, second = {0};
    struct store_sub *s1 = store_subscribe(f->s, "ch", unsubscribe_other_fn, &first);
    first.other = store_subscribe(f->s, "ch", inbox_fn, &second);
    store_publish(f->s, "ch", "m", 1, NULL, NULL);
    run(f);
    assert_int_equal(first.count, 1);
    assert_int_equal(second.count, 0); /* its delivery was queued behind first's */
    store_unsubscribe(s1);
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
    struct store_sub *sub = store_subscribe(f->s, "ch", republish_fn, &in);
    store_publish(f->s, "ch", "first", 5, NULL, NULL);
    run(f);
    assert_int_equal(in.pub.ival, 2);
    assert_int_equal(in.count, 3);
    assert_string_equal(in.last, "again");
    store_unsubscribe(sub);
    store_unsubscribe(in.other);
}

struct readiness {
    int calls;
    int status;
    const bool *returned;
    bool reentrant;
    bool got;
};

static void ready_fn(void *arg, int status)
{
    struct readiness *r = arg;
    if (r->returned && !*r->returned)
        r->reentrant = true;
    r->calls++;
    r->status = status;
    r->got = true;
}

struct confirmed {
    struct inbox in;
    struct readiness ready;
};

static void confirmed_msg_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    inbox_fn(&((struct confirmed *)arg)->in, channel, msg, len);
}

static void confirmed_ready_fn(void *arg, int status)
{
    ready_fn(&((struct confirmed *)arg)->ready, status);
}

static void test_confirmed_subscription_is_ready_from_the_loop_then_receives(void **state)
{
    struct fx *f = *state;
    bool returned = false;
    struct confirmed c = {.ready.returned = &returned};
    struct store_sub *sub =
        store_subscribe_confirmed(f->s, "ch", confirmed_msg_fn, confirmed_ready_fn, &c);
    returned = true;
    assert_non_null(sub);
    assert_int_equal(c.ready.calls, 0);
    run(f);
    assert_int_equal(c.ready.calls, 1);
    assert_int_equal(c.ready.status, STORE_OK);
    assert_false(c.ready.reentrant);
    store_publish(f->s, "ch", "after", 5, NULL, NULL);
    run(f);
    assert_int_equal(c.in.count, 1);
    assert_string_equal(c.in.last, "after");
    assert_int_equal(c.ready.calls, 1);
    store_unsubscribe(sub);
}

static void test_confirmed_subscription_unsubscribed_early_never_reports(void **state)
{
    struct fx *f = *state;
    struct confirmed c = {0};
    store_unsubscribe(
        store_subscribe_confirmed(f->s, "ch", confirmed_msg_fn, confirmed_ready_fn, &c));
    assert_null(store_subscribe_confirmed(f->s, "ch", confirmed_msg_fn, NULL, &c));
    run(f);
    assert_int_equal(c.ready.calls, 0);
}

/* ---- event log ---- */

static void test_log_numbers_events_from_one(void **state)
{
    struct fx *f = *state;
    struct rec e1 = {0}, e2 = {0}, o1 = {0}, all = {0};
    store_log_append(f->s, "log", "a", 1, 10, 0, int_cb, &e1);
    store_log_append(f->s, "log", "b", 1, 10, 0, int_cb, &e2);
    store_log_append(f->s, "other", "x", 1, 10, 0, int_cb, &o1);
    store_log_read(f->s, "log", 0, 10, log_cb, &all);
    run(f);
    assert_int_equal(e1.ival, 1);
    assert_int_equal(e2.ival, 2);
    assert_int_equal(o1.ival, 1);
    assert_int_equal(all.n, 2);
    assert_int_equal(all.seqs[0], 1);
    assert_string_equal(all.items[0], "a");
    assert_int_equal(all.seqs[1], 2);
    assert_string_equal(all.items[1], "b");
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
    store_subscribe(f->s, "ch", inbox_fn, &in); /* never unsubscribed: close frees it */
    store_set(f->s, "k", "v", 1, 0, 0, int_cb, &set);
    store_publish(f->s, "ch", "m", 1, NULL, NULL);
    store_close(f->s, on_closed, &closed);
    assert_false(store_healthy(f->s));
    assert_int_equal(store_get(f->s, "k", str_cb, &late), STORE_ERR_UNAVAILABLE);
    assert_null(store_subscribe(f->s, "ch", inbox_fn, &in));
    assert_int_equal(closed, 0);
    run(f);
    assert_int_equal(closed, 1);
    assert_int_equal(set.calls, 1); /* the command had taken effect: its reply still comes */
    assert_int_equal(in.count, 0);  /* subscriptions were dropped */
    assert_int_equal(late.calls, 0);
    f->s = NULL;
}

static void test_store_reports_backend_name_and_health(void **state)
{
    struct fx *f = *state;
    assert_string_equal(store_backend_name(f->s), "memory");
    assert_true(store_healthy(f->s));
}

static void test_idle_store_does_not_keep_the_loop_alive(void **state)
{
    struct fx *f = *state;
    store_set(f->s, "k", "v", 1, 60000, 0, NULL, NULL);
    /* Returns 0 when no handle is active: the sweep timer is unref'd, the drain stopped. */
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_set_then_get_returns_the_value),
        T(test_set_nx_writes_only_missing_keys_and_xx_only_existing),
        T(test_set_refuses_nx_and_xx_together),
        T(test_key_expires_after_its_ttl),
        T(test_set_without_ttl_clears_the_previous_ttl),
        T(test_del_reports_whether_the_key_existed),
        T(test_pexpire_sets_ttl_on_existing_keys_only),
        T(test_pexpire_zero_deletes_the_key),
        T(test_incr_counts_from_zero_and_sets_ttl),
        T(test_incr_refuses_non_integers_and_overflow),
        T(test_reply_reflects_the_state_when_the_command_was_issued),
        T(test_many_keys_with_mixed_ttls_expire_independently),
        T(test_sweep_frees_expired_keys_nobody_reads),
        T(test_hash_set_get_getall_and_incrby),
        T(test_hset_counts_strings_and_refuses_a_field_without_value),
        T(test_hincrby_creates_missing_hash_and_field),
        T(test_hash_key_is_removed_with_its_last_field),
        T(test_hset_ttl_expires_the_whole_hash),
        T(test_missing_keys_read_as_empty_collections),
        T(test_set_members_add_remove_and_empty_set_vanishes),
        T(test_sadd_ttl_applies_even_when_member_exists),
        T(test_wrong_type_is_reported_and_nothing_changes),
        T(test_set_and_del_work_on_any_type),
        T(test_callbacks_never_run_inside_the_call),
        T(test_callbacks_complete_in_issue_order),
        T(test_callback_can_issue_commands),
        T(test_publish_reaches_every_subscriber_and_counts_them),
        T(test_publish_without_subscribers_reaches_nobody),
        T(test_subscriber_added_after_publish_misses_the_message),
        T(test_unsubscribe_drops_queued_messages),
        T(test_unsubscribe_from_inside_own_callback),
        T(test_callback_can_unsubscribe_another_subscriber),
        T(test_subscriber_callback_can_subscribe_and_publish),
        T(test_confirmed_subscription_is_ready_from_the_loop_then_receives),
        T(test_confirmed_subscription_unsubscribed_early_never_reports),
        T(test_log_numbers_events_from_one),
        T(test_log_keeps_only_the_newest_max_entries),
        T(test_log_read_returns_events_after_seq_up_to_max),
        T(test_log_expires_with_its_ttl_and_restarts_at_one),
        T(test_log_refuses_zero_max_entries),
        T(test_close_delivers_queued_replies_and_frees_everything),
        T(test_store_reports_backend_name_and_health),
        T(test_idle_store_does_not_keep_the_loop_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
