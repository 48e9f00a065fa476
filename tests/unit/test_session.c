/*
 * The stored half of a session on the memory store: create, load, touch, destroy, the owner key
 * the peer's operators expect, and server->client request ids.
 */
#include "testutil.h"

#include "app/config.h"
#include "lib/hashmap.h"
#include "lib/json.h"
#include "mcp/session.h"
#include "store/store.h"

struct fixture {
    uv_loop_t loop;
    struct config cfg;
    struct mcp_ctx ctx;
    int done;
    int status;
    struct mcp_session loaded;
    long long id;
    char value[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    f->cfg.session_ttl_ms = 50;
    f->ctx.loop = &f->loop;
    f->ctx.cfg = &f->cfg;
    f->ctx.store = store_memory_new(&f->loop, NULL);
    f->ctx.live = hashmap_new();
    *state = f;
    return 0;
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int closed = 0;
    store_close(f->ctx.store, on_closed, &closed);
    while (!closed)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    hashmap_free(f->ctx.live);
    mcp_session_forget_touches(&f->ctx);
    mcp_session_free(&f->loaded);
    free(f);
    return 0;
}

static void wait_done(struct fixture *f)
{
    for (int i = 0; i < 1000 && !f->done; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->done);
    f->done = 0;
}

static void on_done(void *arg, int status)
{
    struct fixture *f = arg;
    f->status = status;
    f->done = 1;
}

static void on_load(void *arg, int status, const struct mcp_session *s)
{
    struct fixture *f = arg;
    f->status = status;
    if (s)
        mcp_session_copy(&f->loaded, s);
    f->done = 1;
}

static void on_get(void *arg, int status, const char *value, size_t len)
{
    struct fixture *f = arg;
    snprintf(f->value, sizeof f->value, "%.*s", value ? (int)len : 0, value ? value : "");
    f->done = 1;
}

static void on_id(void *arg, int status, long long id)
{
    struct fixture *f = arg;
    f->id = id;
    f->done = 1;
}

static void create(struct fixture *f, const char *sid)
{
    json_t *caps = json_pack("{s:{}}", "sampling");
    struct mcp_session s = {.owner = "alice",
                            .protocol_version = "2025-06-18",
                            .client_capabilities = caps,
                            .log_level = -1};
    snprintf(s.id, sizeof s.id, "%s", sid);
    assert_int_equal(mcp_session_create(&f->ctx, &s, on_done, f), 0);
    wait_done(f);
    assert_int_equal(f->status, 0);
    json_decref(caps);
}

static void test_created_session_loads_with_owner_version_and_capabilities(void **state)
{
    struct fixture *f = *state;
    create(f, "s1");
    mcp_session_load(&f->ctx, "s1", on_load, f);
    wait_done(f);
    assert_int_equal(f->status, 0);
    assert_string_equal(f->loaded.owner, "alice");
    assert_string_equal(f->loaded.protocol_version, "2025-06-18");
    assert_non_null(json_object_get(mcp_session_capabilities(&f->loaded), "sampling"));
    assert_int_equal(f->loaded.log_level, -1);
}

static void test_owner_key_has_peer_name(void **state)
{
    struct fixture *f = *state;
    create(f, "s2");
    store_get(f->ctx.store, "session:{s2}:owner", on_get, f);
    wait_done(f);
    assert_string_equal(f->value, "alice");
}

static void test_unknown_session_loads_as_absent(void **state)
{
    struct fixture *f = *state;
    mcp_session_load(&f->ctx, "nope", on_load, f);
    wait_done(f);
    assert_int_equal(f->status, 1);
}

static void test_session_expires_without_touch(void **state)
{
    struct fixture *f = *state;
    create(f, "s3"); /* TTL 50 ms */
    uv_sleep(80);
    uv_update_time(&f->loop);
    mcp_session_load(&f->ctx, "s3", on_load, f);
    wait_done(f);
    assert_int_equal(f->status, 1);
}

static void test_destroyed_session_is_gone(void **state)
{
    struct fixture *f = *state;
    create(f, "s4");
    mcp_session_destroy(&f->ctx, "s4", NULL, on_done, f);
    wait_done(f);
    mcp_session_load(&f->ctx, "s4", on_load, f);
    wait_done(f);
    assert_int_equal(f->status, 1);
}

static void test_log_level_is_stored(void **state)
{
    struct fixture *f = *state;
    create(f, "s5");
    mcp_session_set_log_level(&f->ctx, "s5", mcp_log_level_index("warning"));
    mcp_session_load(&f->ctx, "s5", on_load, f);
    wait_done(f);
    assert_int_equal(f->loaded.log_level, mcp_log_level_index("warning"));
}

static void test_request_ids_count_from_zero(void **state)
{
    struct fixture *f = *state;
    create(f, "s6");
    for (long long want = 0; want < 3; want++) {
        mcp_session_next_request_id(&f->ctx, "s6", on_id, f);
        wait_done(f);
        assert_int_equal(f->id, want);
    }
}

static void test_session_ids_must_be_visible_ascii(void **state)
{
    assert_true(mcp_session_id_valid("1da2c021-83f9-45e0-a55e-b0fb36a07de0"));
    assert_false(mcp_session_id_valid(""));
    assert_false(mcp_session_id_valid("has space"));
    assert_false(mcp_session_id_valid("tab\there"));
    char longid[80];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_false(mcp_session_id_valid(longid));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_created_session_loads_with_owner_version_and_capabilities),
        T(test_owner_key_has_peer_name),
        T(test_unknown_session_loads_as_absent),
        T(test_session_expires_without_touch),
        T(test_destroyed_session_is_gone),
        T(test_log_level_is_stored),
        T(test_request_ids_count_from_zero),
        cmocka_unit_test(test_session_ids_must_be_visible_ascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
