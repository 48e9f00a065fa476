/*
 * The memory backend: the store contract (store_contract.h), then what only this backend has:
 * the expiry sweep, an idle store that lets the loop end, and pub/sub counting subscriptions
 * and taking effect at once.
 */
#include "store_contract.h"

static struct store *open_memory(struct fx *f)
{
    return store_memory_new(&f->loop, NULL);
}

static struct store_harness memory_harness = {
    .backend = "memory",
    .publish_counts_connections = false,
    .open = open_memory,
};

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

/* Subscriptions take effect at once, so a subscribe-then-unsubscribe in between leaves no
 * trace in the count. */
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

static void test_idle_store_does_not_keep_the_loop_alive(void **state)
{
    struct fx *f = *state;
    store_set(f->s, "k", "v", 1, 60000, 0, NULL, NULL);
    /* Returns 0 when no handle is active: the sweep timer is unref'd, the drain stopped. */
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_CONTRACT_TESTS(&memory_harness),
        STORE_CONTRACT_TEST(test_sweep_frees_expired_keys_nobody_reads, &memory_harness),
        STORE_CONTRACT_TEST(test_publish_without_subscribers_reaches_nobody, &memory_harness),
        STORE_CONTRACT_TEST(test_subscriber_added_after_publish_misses_the_message,
                            &memory_harness),
        STORE_CONTRACT_TEST(test_idle_store_does_not_keep_the_loop_alive, &memory_harness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
