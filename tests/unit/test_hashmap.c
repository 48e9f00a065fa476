#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>

#include "lib/hashmap.h"

static void test_hashmap_put_get_replace_remove(void **state)
{
    struct hashmap *m = hashmap_new();
    assert_non_null(m);
    int a = 1, b = 2;
    void *old = &a;
    assert_int_equal(hashmap_put(m, "k", 1, &a, &old), 0);
    assert_null(old);
    assert_ptr_equal(hashmap_get(m, "k", 1), &a);
    assert_int_equal(hashmap_put(m, "k", 1, &b, &old), 0);
    assert_ptr_equal(old, &a);
    assert_ptr_equal(hashmap_get(m, "k", 1), &b);
    assert_int_equal(hashmap_count(m), 1);
    assert_ptr_equal(hashmap_remove(m, "k", 1), &b);
    assert_null(hashmap_get(m, "k", 1));
    assert_null(hashmap_remove(m, "k", 1));
    assert_int_equal(hashmap_count(m), 0);
    hashmap_free(m);
}

static void test_hashmap_missing_key_and_prefix_are_distinct(void **state)
{
    struct hashmap *m = hashmap_new();
    int a = 1;
    assert_int_equal(hashmap_put(m, "abc", 3, &a, NULL), 0);
    assert_null(hashmap_get(m, "ab", 2));
    assert_null(hashmap_get(m, "abcd", 4));
    assert_null(hashmap_get(m, "abd", 3));
    assert_ptr_equal(hashmap_get(m, "abcd", 3), &a); /* only key_len bytes count */
    hashmap_free(m);
}

static void test_hashmap_empty_key_is_a_key(void **state)
{
    struct hashmap *m = hashmap_new();
    int a = 1;
    assert_int_equal(hashmap_put(m, "", 0, &a, NULL), 0);
    assert_ptr_equal(hashmap_get(m, NULL, 0), &a);
    assert_ptr_equal(hashmap_remove(m, "", 0), &a);
    hashmap_free(m);
}

static void test_hashmap_binary_keys_with_nul_bytes(void **state)
{
    struct hashmap *m = hashmap_new();
    int a = 1, b = 2;
    assert_int_equal(hashmap_put(m, "a\0b", 3, &a, NULL), 0);
    assert_int_equal(hashmap_put(m, "a\0c", 3, &b, NULL), 0);
    assert_ptr_equal(hashmap_get(m, "a\0b", 3), &a);
    assert_ptr_equal(hashmap_get(m, "a\0c", 3), &b);
    assert_null(hashmap_get(m, "a", 1));
    assert_int_equal(hashmap_count(m), 2);

    struct hashmap_iter it;
    hashmap_iter_init(&it);
    const char *k;
    size_t klen;
    void *v;
    int seen = 0;
    while (hashmap_next(m, &it, &k, &klen, &v)) {
        assert_int_equal(klen, 3);
        assert_memory_equal(k, v == &a ? "a\0b" : "a\0c", 3);
        assert_int_equal(k[3], '\0'); /* key copies are NUL-terminated */
        seen++;
    }
    assert_int_equal(seen, 2);
    hashmap_free(m);
}

static void test_hashmap_holds_100k_keys_across_growth(void **state)
{
    enum { N = 100000 };
    struct hashmap *m = hashmap_new();
    char key[32];
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key:%zu", i);
        assert_int_equal(hashmap_put(m, key, (size_t)n, (void *)(i + 1), NULL), 0);
    }
    assert_int_equal(hashmap_count(m), N);
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key:%zu", i);
        assert_ptr_equal(hashmap_get(m, key, (size_t)n), (void *)(i + 1));
    }
    for (size_t i = 0; i < N; i += 2) {
        int n = snprintf(key, sizeof(key), "key:%zu", i);
        assert_ptr_equal(hashmap_remove(m, key, (size_t)n), (void *)(i + 1));
    }
    assert_int_equal(hashmap_count(m), N / 2);
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key:%zu", i);
        void *want = (i % 2) ? (void *)(i + 1) : NULL;
        assert_ptr_equal(hashmap_get(m, key, (size_t)n), want);
    }
    hashmap_free(m);
}

static void test_hashmap_iteration_visits_each_entry_once(void **state)
{
    enum { N = 1000 };
    struct hashmap *m = hashmap_new();
    bool *seen = calloc(N, sizeof(*seen));
    assert_non_null(seen);
    char key[16];
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "%zu", i);
        hashmap_put(m, key, (size_t)n, (void *)(i + 1), NULL);
    }
    struct hashmap_iter it;
    hashmap_iter_init(&it);
    void *v;
    size_t count = 0;
    while (hashmap_next(m, &it, NULL, NULL, &v)) {
        size_t i = (size_t)v - 1;
        assert_false(seen[i]);
        seen[i] = true;
        count++;
    }
    assert_int_equal(count, N);
    assert_false(hashmap_next(m, &it, NULL, NULL, &v)); /* stays at the end */
    free(seen);
    hashmap_free(m);
}

static void test_hashmap_iteration_allows_removing_current_entry(void **state)
{
    enum { N = 5000 };
    struct hashmap *m = hashmap_new();
    char key[16];
    for (size_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "%zu", i);
        hashmap_put(m, key, (size_t)n, (void *)(i + 1), NULL);
    }
    struct hashmap_iter it;
    hashmap_iter_init(&it);
    const char *k;
    size_t klen;
    void *v;
    size_t visited = 0;
    while (hashmap_next(m, &it, &k, &klen, &v)) {
        visited++;
        /* Remove the odd values; copy the key first since removal frees it. */
        if (((size_t)v - 1) % 2 == 1) {
            char copy[16];
            memcpy(copy, k, klen);
            assert_ptr_equal(hashmap_remove(m, copy, klen), v);
        }
    }
    assert_int_equal(visited, N);
    assert_int_equal(hashmap_count(m), N / 2);

    hashmap_iter_init(&it);
    while (hashmap_next(m, &it, &k, &klen, &v)) {
        char copy[16];
        memcpy(copy, k, klen);
        assert_int_equal(((size_t)v - 1) % 2, 0);
        hashmap_remove(m, copy, klen);
    }
    assert_int_equal(hashmap_count(m), 0);
    hashmap_free(m);
}

static void test_hashmap_null_map_is_empty(void **state)
{
    assert_null(hashmap_get(NULL, "k", 1));
    assert_int_equal(hashmap_count(NULL), 0);
    assert_int_equal(hashmap_put(NULL, "k", 1, NULL, NULL), -1);
    hashmap_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashmap_put_get_replace_remove),
        cmocka_unit_test(test_hashmap_missing_key_and_prefix_are_distinct),
        cmocka_unit_test(test_hashmap_empty_key_is_a_key),
        cmocka_unit_test(test_hashmap_binary_keys_with_nul_bytes),
        cmocka_unit_test(test_hashmap_holds_100k_keys_across_growth),
        cmocka_unit_test(test_hashmap_iteration_visits_each_entry_once),
        cmocka_unit_test(test_hashmap_iteration_allows_removing_current_entry),
        cmocka_unit_test(test_hashmap_null_map_is_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
