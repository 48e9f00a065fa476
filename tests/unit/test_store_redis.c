/*
 * The Redis backend against a real redis-server this binary starts on a free port (and kills at
 * the end): the store contract (store_contract.h), then what only this backend has: TTLs as the
 * server reports them (PTTL), URL parsing and database selection, AUTH, and outages (the server
 * killed and restarted under the store). The test's own synchronous hiredis connection looks
 * at the server directly.
 */
#include "store_contract.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* How soon the store must be back once redis-server accepts connections again. */
#define RECOVERY_MS 2000u

struct server {
    pid_t pid;
    int port;
};

/* ---- the redis-server child ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *sync_connect(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static bool server_start(struct server *srv)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", srv->port);
    srv->pid = fork();
    if (srv->pid == 0) {
        freopen("/dev/null", "w", stdout);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisContext *c = sync_connect(srv->port);
        if (c) {
            redisFree(c);
            return true;
        }
        usleep(25000);
    }
    return false;
}

static void server_stop(struct server *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, NULL, 0);
        srv->pid = 0;
    }
}

/* ---- fixture ---- */

static redisContext *sync_of(struct fx *f)
{
    assert_non_null(f->ext);
    return f->ext;
}

static void sync_ok(struct fx *f, const char *cmd)
{
    redisReply *r = redisCommand(sync_of(f), cmd);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

static long long pttl(struct fx *f, const char *key)
{
    redisReply *r = redisCommand(sync_of(f), "PTTL %s", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static long long numsub(struct fx *f, const char *channel)
{
    redisReply *r = redisCommand(sync_of(f), "PUBSUB NUMSUB %s", channel);
    assert_non_null(r);
    long long n = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer : -1;
    freeReplyObject(r);
    return n;
}

static void sync_drop(struct fx *f)
{
    if (f->ext)
        redisFree(f->ext);
    f->ext = NULL;
}

static struct server *server_of(struct fx *f)
{
    return f->h->ctx;
}

static struct store *open_redis(struct fx *f)
{
    struct server *srv = server_of(f);
    char url[64];
    assert_non_null(f->ext = sync_connect(srv->port));
    sync_ok(f, "FLUSHALL");
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", srv->port);
    struct store *s = store_redis_new(&f->loop, NULL, url, NULL);
    assert_non_null(s);
    assert_true(wait_healthy(f, s, true));
    return s;
}

static struct store_harness redis_harness = {
    .backend = "redis",
    .publish_counts_connections = true, /* one connection carries every local subscription */
    .open = open_redis,
    .release = sync_drop,
};

/* ---- TTLs as the server sees them ---- */

static void test_incr_sets_the_ttl_with_the_write(void **state)
{
    struct fx *f = *state;
    struct rec a = {0};
    store_incr(f->s, "n", 5, 60000, int_cb, &a);
    store_incr(f->s, "plain", 1, 0, NULL, NULL);
    run(f);
    assert_int_equal(a.ival, 5);
    long long t = pttl(f, "n");
    assert_true(t > 0 && t <= 60000);
    assert_int_equal(pttl(f, "plain"), -1);
}

/* Scripts pair each write with PEXPIRE; a write Redis refused must not set a TTL either. */
static void test_refused_writes_set_no_ttl(void **state)
{
    struct fx *f = *state;
    struct rec over = {0}, wrong = {0};
    store_set(f->s, "max", "9223372036854775807", 19, 0, 0, NULL, NULL);
    store_incr(f->s, "max", 1, 60000, int_cb, &over);
    store_set(f->s, "str", "1", 1, 0, 0, NULL, NULL);
    store_sadd(f->s, "str", "m", 1, 60000, int_cb, &wrong);
    run(f);
    assert_int_equal(over.status, STORE_ERR);
    assert_int_equal(wrong.status, STORE_ERR_WRONGTYPE);
    assert_int_equal(pttl(f, "max"), -1);
    assert_int_equal(pttl(f, "str"), -1);
}

/* ---- configuration ---- */

static void test_url_parsing_and_db_selection(void **state)
{
    struct fx *f = *state;
    const char *bad[] = {"http://x",     "redis://",    "redis://h:0", "redis://h:99999",
                         "redis://h:1x", "redis://h/x", "redis://[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(store_redis_new(&f->loop, NULL, bad[i], NULL));
    store_close(f->s, NULL, NULL);
    char url[96];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", server_of(f)->port);
    f->s = store_redis_new(&f->loop, NULL, url, NULL);
    assert_true(wait_healthy(f, f->s, true));
    store_set(f->s, "indb3", "yes", 3, 60000, 0, NULL, NULL);
    run(f);
    sync_ok(f, "SELECT 3");
    redisReply *r = redisCommand(sync_of(f), "GET indb3");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "yes");
    freeReplyObject(r);
    sync_ok(f, "FLUSHDB");
    sync_ok(f, "SELECT 0");
}

static void test_password_is_sent_and_a_wrong_one_keeps_it_unhealthy(void **state)
{
    struct fx *f = *state;
    char url[96];
    sync_ok(f, "CONFIG SET requirepass s3cret");
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", server_of(f)->port);
    struct store *wrong = store_redis_new(&f->loop, NULL, url, NULL);
    struct store *right = store_redis_new(&f->loop, NULL, url, "s3cret"); /* overrides */
    assert_non_null(wrong);
    assert_true(wait_healthy(f, right, true));
    struct rec get = {0};
    store_get(right, "k", str_cb, &get);
    assert_true(wait_count(f, &get.calls, 1));
    assert_int_equal(get.status, STORE_OK);
    assert_false(store_healthy(wrong));
    store_close(wrong, NULL, NULL);
    store_close(right, NULL, NULL);
    redisReply *r = redisCommand(sync_of(f), "AUTH s3cret");
    freeReplyObject(r);
    r = redisCommand(sync_of(f), "CONFIG SET requirepass %s", "");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

/* ---- outages ---- */

/* Kill the server for long enough that the reconnect backoff reaches its ceiling: every command
 * fails promptly with STORE_ERR_UNAVAILABLE, from the loop, and the store reports unhealthy. Bring
 * it back: within RECOVERY_MS the store is healthy again by itself and its subscription is
 * re-established (a message published then is received). */
static void test_outage_fails_fast_and_recovers_by_itself(void **state)
{
    struct fx *f = *state;
    struct inbox in = {0}, probe = {0};
    struct store_sub *sub = subscribe_ready(f, "ch", inbox_fn, &in);
    sync_drop(f);
    server_stop(server_of(f));
    assert_true(wait_healthy(f, f->s, false));
    for (int i = 0; i < 6; i++) { /* 6 x ~500 ms: past 100 + 200 + 400 + 800 ms of backoff */
        bool returned = false;
        struct rec down = {.returned = &returned};
        assert_int_equal(store_get(f->s, "k", str_cb, &down), STORE_OK);
        returned = true;
        uint64_t t0 = uv_now(&f->loop);
        assert_true(wait_count(f, &down.calls, 1));
        assert_true(uv_now(&f->loop) - t0 < 1000); /* answered promptly, never left hanging */
        assert_int_equal(down.status, STORE_ERR_UNAVAILABLE);
        assert_false(down.reentrant);
        assert_false(store_healthy(f->s));
        sleep_ms(f, 500);
    }
    assert_true(server_start(server_of(f)));
    uv_update_time(&f->loop);
    uint64_t back = uv_now(&f->loop);
    assert_true(wait_healthy(f, f->s, true));
    /* A second subscription on the channel is confirmed once the channel is subscribed again. */
    struct store_sub *probe_sub = subscribe_ready(f, "ch", inbox_fn, &probe);
    assert_true(uv_now(&f->loop) - back <= RECOVERY_MS);
    assert_non_null(f->ext = sync_connect(server_of(f)->port));
    assert_int_equal(numsub(f, "ch"), 1);
    struct rec up = {0};
    store_publish(f->s, "ch", "back", 4, int_cb, &up);
    assert_true(spin_until(f, &in.got, WAIT_MS));
    assert_int_equal(up.ival, 1);
    assert_string_equal(in.last, "back");
    store_unsubscribe(sub);
    store_unsubscribe(probe_sub);
}

static void test_confirmed_subscription_fails_while_redis_is_down(void **state)
{
    struct fx *f = *state;
    struct inbox in = {0};
    sync_drop(f);
    server_stop(server_of(f));
    assert_true(wait_healthy(f, f->s, false));
    struct store_sub *sub = store_subscribe_confirmed(f->s, "ch", inbox_fn, inbox_ready, &in);
    assert_non_null(sub);
    assert_true(spin_until(f, &in.ready, WAIT_MS));
    assert_int_equal(in.ready_status, STORE_ERR_UNAVAILABLE);
    store_unsubscribe(sub);
    assert_true(server_start(server_of(f)));
    assert_true(wait_healthy(f, f->s, true));
    run(f);
    assert_int_equal(in.ready_calls, 1);
}

static bool have_redis_server(void)
{
    return system("command -v redis-server >/dev/null 2>&1") == 0;
}

int main(void)
{
    if (!have_redis_server()) {
        fprintf(stderr, "test_store_redis: redis-server is not installed (scripts/deps.sh "
                        "installs it); the Redis backend cannot be tested\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct server srv = {.port = free_port()};
    if (!server_start(&srv)) {
        fprintf(stderr, "test_store_redis: redis-server did not start on port %d\n", srv.port);
        server_stop(&srv);
        return 1;
    }
    redis_harness.ctx = &srv;
    struct store_harness *h = &redis_harness;
    const struct CMUnitTest tests[] = {
        STORE_CONTRACT_TESTS(h),
        STORE_CONTRACT_TEST(test_incr_sets_the_ttl_with_the_write, h),
        STORE_CONTRACT_TEST(test_refused_writes_set_no_ttl, h),
        STORE_CONTRACT_TEST(test_url_parsing_and_db_selection, h),
        STORE_CONTRACT_TEST(test_password_is_sent_and_a_wrong_one_keeps_it_unhealthy, h),
        STORE_CONTRACT_TEST(test_outage_fails_fast_and_recovers_by_itself, h),
        STORE_CONTRACT_TEST(test_confirmed_subscription_fails_while_redis_is_down, h),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    server_stop(&srv);
    return failed;
}
