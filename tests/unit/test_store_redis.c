/*
 * The Redis backend against a real redis-server this binary starts on a free port (and kills at
 * the end). It ports the memory backend's contract tests, adapted where Redis is asynchronous
 * in ways the memory backend is not: the loop never runs dry (the connections keep it alive),
 * so "run until done" is a barrier command, and subscriptions are confirmed by the server (the
 * tests wait for PUBSUB NUMSUB through a plain synchronous hiredis connection).
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

/* Long enough that a loaded machine (and the sanitizer build) never lets a key expire between
 * writing it and the read that must still see it; the wait past it is half as long again. */
#define SHORT_TTL_MS      300
#define PAST_SHORT_TTL_MS 450

#define WAIT_MS   5000u /* upper bound for anything the tests wait for */
#define MAX_ITEMS 16

struct server {
    pid_t pid;
    int port;
};

struct fx {
    uv_loop_t loop;
    struct store *s;
    struct server *srv;
    redisContext *sync; /* the test's own view of the server */
    char url[64];
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

/* ---- loop helpers ---- */

static void on_tick(uv_timer_t *t)
{
}

/* Run the loop until *flag or WAIT_MS; the tick wakes the loop so the deadline is checked. */
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

static void sleep_ms(struct fx *f, uint64_t ms)
{
    spin_until(f, NULL, ms);
}

static bool healthy_flag(struct fx *f, bool want)
{
    uint64_t deadline = uv_now(&f->loop) + WAIT_MS;
    while (store_healthy(f->s) != want && uv_now(&f->loop) < deadline)
        sleep_ms(f, 5);
    return store_healthy(f->s) == want;
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

static long long numsub(struct fx *f, const char *channel)
{
    redisReply *r = redisCommand(f->sync, "PUBSUB NUMSUB %s", channel);
    assert_non_null(r);
    long long n = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[1]->integer : -1;
    freeReplyObject(r);
    return n;
}

static void wait_numsub(struct fx *f, const char *channel, long long want)
{
    uint64_t deadline = uv_now(&f->loop) + WAIT_MS;
    while (numsub(f, channel) != want && uv_now(&f->loop) < deadline)
        sleep_ms(f, 5);
    assert_int_equal(numsub(f, channel), want);
}

static void sync_ok(struct fx *f, const char *cmd)
{
    redisReply *r = redisCommand(f->sync, cmd);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->srv = *state;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_non_null(f->sync = sync_connect(f->srv->port));
    sync_ok(f, "FLUSHALL");
    snprintf(f->url, sizeof(f->url), "redis://127.0.0.1:%d", f->srv->port);
    f->s = store_redis_new(&f->loop, NULL, f->url, NULL);
    assert_non_null(f->s);
    assert_true(healthy_flag(f, true));
    *state = f;
    return 0;
}

static void on_closed(void *arg)
{
    *(bool *)arg = true;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    bool closed = false;
    if (f->s) {
        store_close(f->s, on_closed, &closed);
        assert_false(closed); /* done runs from the loop, not inside store_close */
        assert_true(spin_until(f, &closed, WAIT_MS));
    }
    uv_run(&f->loop, UV_RUN_DEFAULT); /* returns only once every handle is closed */
    assert_int_equal(uv_loop_close(&f->loop), 0);
    if (f->sync)
        redisFree(f->sync);
    *state = f->srv;
    free(f);
    return 0;
}

/* ---- recording callbacks ---- */

struct rec {
    int calls;
    int status;
    long long ival;
    bool null;
    char str[128];
    size_t len;
    size_t n;
    char items[MAX_ITEMS][64];
    uint64_t seqs[MAX_ITEMS];
    const bool *returned;
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

static void pairs_cb(void *arg, int status, const struct store_str *items, size_t n)
{
    struct rec *r = arg;
    r->calls++;
    r->status = status;
    r->n = n / 2;
    assert_int_equal(n % 2, 0);
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

/* ---- strings and keys ---- */

static void test_set_then_get_returns_the_value(void **state)
{
    struct fx *f = *state;
    struct rec set = {0}, get = {0}, bin = {0}, missing = {0};
    assert_int_equal(store_set(f->s, "k", "hello", 5, 0, 0, int_cb, &set), STORE_OK);
    assert_int_equal(store_get(f->s, "k", str_cb, &get), STORE_OK);
    store_set(f->s, "b", "a\0b", 3, 0, 0, NULL, NULL);
    store_get(f->s, "b", str_cb, &bin);
    store_get(f->s, "nope", str_cb, &missing);
    run(f);
    assert_int_equal(set.ival, 1);
    assert_string_equal(get.str, "hello");
    assert_int_equal(bin.len, 3);
    assert_memory_equal(bin.str, "a\0b", 3);
    assert_int_equal(missing.status, STORE_OK);
    assert_true(missing.null);
}

static void test_set_nx_and_xx(void **state)
{
    struct fx *f = *state;
    struct rec xx_missing = {0}, nx_missing = {0}, nx_present = {0}, xx_present = {0}, get = {0};
    store_set(f->s, "k", "1", 1, 0, STORE_SET_XX, int_cb, &xx_missing);
    store_set(f->s, "k", "2", 1, 0, STORE_SET_NX, int_cb, &nx_missing);
    store_set(f->s, "k", "3", 1, 0, STORE_SET_NX, int_cb, &nx_present);
    store_set(f->s, "k", "4", 1, 60000, STORE_SET_XX, int_cb, &xx_present);
    store_get(f->s, "k", str_cb, &get);
    assert_int_equal(store_set(f->s, "k", "v", 1, 0, STORE_SET_NX | STORE_SET_XX, NULL, NULL),
                     STORE_ERR);
    run(f);
    assert_int_equal(xx_missing.ival, 0);
    assert_int_equal(nx_missing.ival, 1);
    assert_int_equal(nx_present.ival, 0);
    assert_int_equal(xx_present.ival, 1);
    assert_string_equal(get.str, "4");
}

static void test_ttl_expiry_and_set_without_ttl_persists(void **state)
{
    struct fx *f = *state;
    struct rec before = {0}, after = {0}, kept = {0};
    store_set(f->s, "short", "v", 1, SHORT_TTL_MS, 0, NULL, NULL);
    store_set(f->s, "p", "a", 1, SHORT_TTL_MS, 0, NULL, NULL);
    store_set(f->s, "p", "b", 1, 0, 0, NULL, NULL);
    store_get(f->s, "short", str_cb, &before);
    run(f);
    assert_false(before.null);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_get(f->s, "short", str_cb, &after);
    store_get(f->s, "p", str_cb, &kept);
    run(f);
    assert_true(after.null);
    assert_string_equal(kept.str, "b");
}

static void test_del_and_pexpire(void **state)
{
    struct fx *f = *state;
    struct rec d1 = {0}, d2 = {0}, missing = {0}, present = {0}, zero = {0}, gone = {0};
    struct rec after = {0};
    store_set(f->s, "k", "v", 1, 0, 0, NULL, NULL);
    store_del(f->s, "k", int_cb, &d1);
    store_del(f->s, "k", int_cb, &d2);
    store_expire(f->s, "nope", SHORT_TTL_MS, int_cb, &missing);
    store_set(f->s, "e", "v", 1, 0, 0, NULL, NULL);
    store_expire(f->s, "e", SHORT_TTL_MS, int_cb, &present);
    store_set(f->s, "z", "v", 1, 0, 0, NULL, NULL);
    store_expire(f->s, "z", 0, int_cb, &zero);
    store_get(f->s, "z", str_cb, &gone);
    run(f);
    assert_int_equal(d1.ival, 1);
    assert_int_equal(d2.ival, 0);
    assert_int_equal(missing.ival, 0);
    assert_int_equal(present.ival, 1);
    assert_int_equal(zero.ival, 1);
    assert_true(gone.null);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_get(f->s, "e", str_cb, &after);
    run(f);
    assert_true(after.null);
}

static void test_incr_counts_and_sets_ttl_atomically(void **state)
{
    struct fx *f = *state;
    struct rec a = {0}, b = {0}, big = {0}, again = {0};
    store_incr(f->s, "n", 5, SHORT_TTL_MS, int_cb, &a);
    store_incr(f->s, "n", -2, SHORT_TTL_MS, int_cb, &b);
    store_incr(f->s, "big", 9007199254740993LL, 0, int_cb, &big); /* 2^53 + 1: no rounding */
    run(f);
    assert_int_equal(a.ival, 5);
    assert_int_equal(b.ival, 3);
    assert_true(big.ival == 9007199254740993LL);
    redisReply *r = redisCommand(f->sync, "PTTL n");
    assert_true(r->integer > 0 && r->integer <= SHORT_TTL_MS);
    freeReplyObject(r);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_incr(f->s, "n", 1, SHORT_TTL_MS, int_cb, &again);
    run(f);
    assert_int_equal(again.ival, 1);
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
    store_incr(f->s, "max", 1, 60000, int_cb, &over);
    store_get(f->s, "max", str_cb, &get);
    run(f);
    assert_int_equal(text.status, STORE_ERR);
    assert_int_equal(padded.status, STORE_ERR);
    assert_int_equal(over.status, STORE_ERR);
    assert_string_equal(get.str, "9223372036854775807");
    redisReply *r = redisCommand(f->sync, "PTTL max");
    assert_int_equal(r->integer, -1); /* the failed INCRBY did not set a TTL either */
    freeReplyObject(r);
}

/* ---- hashes and sets ---- */

static void test_hash_ops(void **state)
{
    struct fx *f = *state;
    struct rec hs = {0}, hs2 = {0}, hg = {0}, hm = {0}, all = {0}, inc = {0}, inc2 = {0};
    struct rec del = {0}, del2 = {0}, gone = {0};
    struct store_str pairs[] = {{"a", 1}, {"1", 1}, {"b", 1}, {"x\0y", 3}};
    struct store_str more[] = {{"a", 1}, {"2", 1}, {"c", 1}, {"3", 1}};
    store_hset(f->s, "h", pairs, 4, 60000, int_cb, &hs);
    store_hset(f->s, "h", more, 4, 0, int_cb, &hs2);
    store_hget(f->s, "h", "b", str_cb, &hg);
    store_hget(f->s, "h", "zz", str_cb, &hm);
    store_hincrby(f->s, "h", "c", 4, int_cb, &inc);
    store_hincrby(f->s, "new", "f", -1, int_cb, &inc2);
    store_hgetall(f->s, "h", pairs_cb, &all);
    store_hdel(f->s, "new", "f", int_cb, &del);
    store_hdel(f->s, "new", "f", int_cb, &del2);
    store_hgetall(f->s, "new", pairs_cb, &gone);
    run(f);
    assert_int_equal(hs.ival, 2);
    assert_int_equal(hs2.ival, 1);
    assert_int_equal(hg.len, 3);
    assert_memory_equal(hg.str, "x\0y", 3);
    assert_true(hm.null);
    assert_int_equal(inc.ival, 7);
    assert_int_equal(inc2.ival, -1);
    assert_int_equal(all.n, 3);
    assert_string_equal(all.items[0], "a=2");
    assert_string_equal(all.items[2], "c=7");
    assert_int_equal(del.ival, 1);
    assert_int_equal(del2.ival, 0);
    assert_int_equal(gone.n, 0);
    assert_int_equal(gone.status, STORE_OK);
}

static void test_hset_ttl_expires_the_whole_hash(void **state)
{
    struct fx *f = *state;
    struct rec all = {0};
    struct store_str pairs[] = {{"f", 1}, {"v", 1}};
    store_hset(f->s, "h", pairs, 2, SHORT_TTL_MS, NULL, NULL);
    run(f);
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_hgetall(f->s, "h", pairs_cb, &all);
    run(f);
    assert_int_equal(all.calls, 1);
    assert_int_equal(all.n, 0);
}

static void test_set_members_and_ttl(void **state)
{
    struct fx *f = *state;
    struct rec a1 = {0}, a2 = {0}, again = {0}, r1 = {0}, r2 = {0}, mem = {0}, empty = {0};
    store_sadd(f->s, "s", "m1", 2, 0, int_cb, &a1);
    store_sadd(f->s, "s", "m2", 2, 0, int_cb, &a2);
    store_sadd(f->s, "s", "m1", 2, SHORT_TTL_MS, int_cb, &again); /* the TTL applies all the same */
    store_srem(f->s, "s", "m2", 2, int_cb, &r1);
    store_srem(f->s, "s", "m2", 2, int_cb, &r2);
    store_smembers(f->s, "s", strs_cb, &mem);
    run(f);
    assert_int_equal(a1.ival, 1);
    assert_int_equal(a2.ival, 1);
    assert_int_equal(again.ival, 0);
    assert_int_equal(r1.ival, 1);
    assert_int_equal(r2.ival, 0);
    assert_int_equal(mem.n, 1);
    assert_string_equal(mem.items[0], "m1");
    sleep_ms(f, PAST_SHORT_TTL_MS);
    store_smembers(f->s, "s", strs_cb, &empty);
    run(f);
    assert_int_equal(empty.calls, 1);
    assert_int_equal(empty.n, 0);
}

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
    redisReply *r = redisCommand(f->sync, "PTTL hash");
    assert_int_equal(r->integer, -1);
    freeReplyObject(r);
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
    assert_false(set.reentrant || get.reentrant);
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
};

static void chain_cb(void *arg, int status, long long v)
{
    struct chain *c = arg;
    assert_int_equal(store_get(c->s, "k", str_cb, &c->inner), STORE_OK);
    assert_int_equal(c->inner.calls, 0);
}

static void test_callback_can_issue_commands(void **state)
{
    struct fx *f = *state;
    struct chain c = {.s = f->s};
    store_set(f->s, "k", "v", 1, 0, 0, chain_cb, &c);
    run(f); /* the barrier GET was issued before chain_cb's */
    run(f);
    assert_int_equal(c.inner.calls, 1);
    assert_string_equal(c.inner.str, "v");
}

/* ---- pub/sub ---- */

struct inbox {
    int count;
    char last[64];
    char channel[64];
    struct store_sub *self;
    struct store_sub *other;
    bool got;
};

static void inbox_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    in->count++;
    in->got = true;
    snprintf(in->last, sizeof(in->last), "%.*s", (int)len, msg);
    snprintf(in->channel, sizeof(in->channel), "%s", channel);
}

static void test_publish_reaches_every_subscriber(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0}, b = {0}, other = {0};
    struct rec pub = {0}, none = {0};
    struct store_sub *sa = store_subscribe(f->s, "ch", inbox_fn, &a);
    struct store_sub *sb = store_subscribe(f->s, "ch", inbox_fn, &b);
    struct store_sub *so = store_subscribe(f->s, "other", inbox_fn, &other);
    assert_non_null(sa);
    assert_non_null(sb);
    wait_numsub(f, "ch", 1); /* one connection carries every local subscription */
    wait_numsub(f, "other", 1);
    store_publish(f->s, "nobody", "m", 1, int_cb, &none);
    assert_int_equal(store_publish(f->s, "ch", "hi\0x", 4, int_cb, &pub), STORE_OK);
    assert_int_equal(a.count, 0);
    run(f);
    assert_int_equal(pub.ival, 1); /* Redis counts receiving connections */
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
    wait_numsub(f, "ch", 0);
}

static void test_unsubscribe_drops_in_flight_messages(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0}, b = {0};
    struct store_sub *sa = store_subscribe(f->s, "ch", inbox_fn, &a);
    struct store_sub *sb = store_subscribe(f->s, "ch", inbox_fn, &b);
    wait_numsub(f, "ch", 1);
    store_publish(f->s, "ch", "1", 1, NULL, NULL);
    store_publish(f->s, "ch", "2", 1, NULL, NULL);
    store_unsubscribe(sa); /* both messages are on their way to a */
    run(f);
    while (b.count < 2 && spin_until(f, &b.got, WAIT_MS))
        b.got = false;
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

static void unsubscribe_other_fn(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    inbox_fn(arg, channel, msg, len);
    if (in->other) {
        store_unsubscribe(in->other);
        in->other = NULL;
    }
}

static void test_unsubscribe_from_callbacks(void **state)
{
    struct fx *f = *state;
    struct inbox self = {0}, first = {0}, second = {0}, witness = {0};
    self.self = store_subscribe(f->s, "ch", unsubscribe_self_fn, &self);
    struct store_sub *s1 = store_subscribe(f->s, "ch", unsubscribe_other_fn, &first);
    first.other = store_subscribe(f->s, "ch", inbox_fn, &second);
    struct store_sub *sw = store_subscribe(f->s, "ch", inbox_fn, &witness);
    wait_numsub(f, "ch", 1);
    for (int i = 0; i < 3; i++)
        store_publish(f->s, "ch", "m", 1, NULL, NULL);
    while (witness.count < 3 && spin_until(f, &witness.got, WAIT_MS))
        witness.got = false;
    assert_int_equal(witness.count, 3);
    assert_int_equal(self.count, 1);
    assert_int_equal(first.count, 3);
    assert_int_equal(second.count, 0); /* unsubscribed before its first delivery */
    store_unsubscribe(s1);
    store_unsubscribe(sw);
}

/* hiredis drops a channel's callback when an UNSUBSCRIBE reply arrives, so a subscription made
 * while that is in flight must still end up subscribed. */
static void test_resubscribe_while_unsubscribing(void **state)
{
    struct fx *f = *state;
    struct inbox a = {0}, b = {0};
    store_unsubscribe(store_subscribe(f->s, "ch", inbox_fn, &a));
    struct store_sub *sb = store_subscribe(f->s, "ch", inbox_fn, &b);
    sleep_ms(f, 50);
    wait_numsub(f, "ch", 1);
    store_publish(f->s, "ch", "m", 1, NULL, NULL);
    assert_true(spin_until(f, &b.got, WAIT_MS));
    assert_int_equal(a.count, 0);
    store_unsubscribe(sb);
    wait_numsub(f, "ch", 0);
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

/* No PUBSUB NUMSUB polling: the readiness notice alone says when a publish will be heard. */
static void test_confirmed_subscription_is_ready_from_the_loop_then_receives(void **state)
{
    struct fx *f = *state;
    bool returned = false;
    struct confirmed c = {.ready.returned = &returned}, again = {0};
    struct store_sub *sub =
        store_subscribe_confirmed(f->s, "ch", confirmed_msg_fn, confirmed_ready_fn, &c);
    returned = true;
    assert_non_null(sub);
    assert_int_equal(c.ready.calls, 0);
    assert_true(spin_until(f, &c.ready.got, WAIT_MS));
    assert_int_equal(c.ready.status, STORE_OK);
    assert_false(c.ready.reentrant);
    store_publish(f->s, "ch", "after", 5, NULL, NULL);
    assert_true(spin_until(f, &c.in.got, WAIT_MS));
    assert_string_equal(c.in.last, "after");
    /* Already subscribed on this connection: ready on the next turn, and it hears too. */
    struct store_sub *sub2 =
        store_subscribe_confirmed(f->s, "ch", confirmed_msg_fn, confirmed_ready_fn, &again);
    assert_true(spin_until(f, &again.ready.got, WAIT_MS));
    assert_int_equal(again.ready.status, STORE_OK);
    store_publish(f->s, "ch", "two", 3, NULL, NULL);
    assert_true(spin_until(f, &again.in.got, WAIT_MS));
    assert_int_equal(c.ready.calls, 1);
    assert_int_equal(again.ready.calls, 1);
    store_unsubscribe(sub);
    store_unsubscribe(sub2);
}

static void test_confirmed_subscription_unsubscribed_early_never_reports(void **state)
{
    struct fx *f = *state;
    struct confirmed c = {0};
    store_unsubscribe(
        store_subscribe_confirmed(f->s, "ch", confirmed_msg_fn, confirmed_ready_fn, &c));
    assert_null(store_subscribe_confirmed(f->s, "ch", confirmed_msg_fn, NULL, &c));
    wait_numsub(f, "ch", 0);
    run(f);
    assert_int_equal(c.ready.calls, 0);
}

static void test_confirmed_subscription_fails_while_redis_is_down(void **state)
{
    struct fx *f = *state;
    struct confirmed c = {0};
    redisFree(f->sync);
    f->sync = NULL;
    server_stop(f->srv);
    assert_true(healthy_flag(f, false));
    struct store_sub *sub =
        store_subscribe_confirmed(f->s, "ch", confirmed_msg_fn, confirmed_ready_fn, &c);
    assert_non_null(sub);
    assert_true(spin_until(f, &c.ready.got, WAIT_MS));
    assert_int_equal(c.ready.status, STORE_ERR_UNAVAILABLE);
    store_unsubscribe(sub);
    assert_true(server_start(f->srv));
    assert_true(healthy_flag(f, true));
    assert_non_null(f->sync = sync_connect(f->srv->port));
    assert_int_equal(c.ready.calls, 1);
}

/* ---- event log ---- */

static void test_log_numbers_trims_and_reads_after_seq(void **state)
{
    struct fx *f = *state;
    struct rec last = {0}, all = {0}, mid = {0}, capped = {0}, end = {0}, other = {0};
    char data[8];
    for (int i = 1; i <= 8; i++) {
        int n = snprintf(data, sizeof(data), "e%d", i);
        store_log_append(f->s, "log", data, (size_t)n, 6, 60000, int_cb, &last);
    }
    store_log_append(f->s, "other", "a:b\0c", 5, 6, 60000, int_cb, &other);
    store_log_read(f->s, "log", 0, 100, log_cb, &all);
    store_log_read(f->s, "log", 5, 10, log_cb, &mid);
    store_log_read(f->s, "log", 4, 2, log_cb, &capped);
    store_log_read(f->s, "log", 8, 10, log_cb, &end);
    assert_int_equal(store_log_append(f->s, "log", "a", 1, 0, 0, NULL, NULL), STORE_ERR);
    run(f);
    assert_int_equal(last.ival, 8);
    assert_int_equal(other.ival, 1);
    assert_int_equal(all.n, 6);
    assert_int_equal(all.seqs[0], 3);
    assert_string_equal(all.items[0], "e3");
    assert_int_equal(all.seqs[5], 8);
    assert_int_equal(mid.n, 3);
    assert_int_equal(mid.seqs[0], 6);
    assert_string_equal(mid.items[2], "e8");
    assert_int_equal(capped.n, 2);
    assert_int_equal(capped.seqs[0], 5);
    assert_int_equal(end.n, 0);
    struct rec bin = {0};
    store_log_read(f->s, "other", 0, 10, log_cb, &bin);
    run(f);
    assert_int_equal(bin.n, 1);
    assert_int_equal(bin.seqs[0], 1);
    assert_string_equal(bin.items[0], "a:b"); /* binary data survives; %.*s stops at NUL */
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

/* ---- lifecycle ---- */

static void test_close_delivers_pending_replies(void **state)
{
    struct fx *f = *state;
    struct rec set = {0}, late = {0};
    struct inbox in = {0};
    bool closed = false;
    store_subscribe(f->s, "ch", inbox_fn, &in); /* never unsubscribed: close frees it */
    store_set(f->s, "k", "v", 1, 0, 0, int_cb, &set);
    store_close(f->s, on_closed, &closed);
    assert_false(store_healthy(f->s));
    assert_int_equal(store_get(f->s, "k", str_cb, &late), STORE_ERR_UNAVAILABLE);
    assert_null(store_subscribe(f->s, "ch", inbox_fn, &in));
    assert_false(closed);
    assert_true(spin_until(f, &closed, WAIT_MS));
    assert_int_equal(set.calls, 1);
    assert_int_equal(set.status, STORE_OK);
    assert_int_equal(late.calls, 0);
    f->s = NULL;
}

static void test_name_url_parsing_and_db_selection(void **state)
{
    struct fx *f = *state;
    assert_string_equal(store_backend_name(f->s), "redis");
    const char *bad[] = {"http://x",     "redis://",    "redis://h:0", "redis://h:99999",
                         "redis://h:1x", "redis://h/x", "redis://[::1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(store_redis_new(&f->loop, NULL, bad[i], NULL));
    store_close(f->s, NULL, NULL);
    char url[96];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", f->srv->port);
    f->s = store_redis_new(&f->loop, NULL, url, NULL);
    assert_true(healthy_flag(f, true));
    store_set(f->s, "indb3", "yes", 3, 60000, 0, NULL, NULL);
    run(f);
    sync_ok(f, "SELECT 3");
    redisReply *r = redisCommand(f->sync, "GET indb3");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "yes");
    freeReplyObject(r);
    sync_ok(f, "SELECT 0");
}

static void test_password_is_sent_and_a_wrong_one_keeps_it_unhealthy(void **state)
{
    struct fx *f = *state;
    char url[96];
    sync_ok(f, "CONFIG SET requirepass s3cret");
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d", f->srv->port);
    struct store *wrong = store_redis_new(&f->loop, NULL, url, NULL);
    struct store *right = store_redis_new(&f->loop, NULL, url, "s3cret"); /* overrides */
    assert_non_null(wrong);
    struct store *old = f->s;
    f->s = right;
    assert_true(healthy_flag(f, true));
    struct rec get = {0};
    store_get(right, "k", str_cb, &get);
    run(f);
    assert_int_equal(get.status, STORE_OK);
    assert_false(store_healthy(wrong));
    f->s = old;
    store_close(wrong, NULL, NULL);
    store_close(right, NULL, NULL);
    redisReply *r = redisCommand(f->sync, "AUTH s3cret");
    freeReplyObject(r);
    r = redisCommand(f->sync, "CONFIG SET requirepass %s", "");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

/* Kill the server: the store turns unhealthy and fails commands through their callbacks; bring
 * it back: the store reconnects by itself and re-subscribes. */
static void test_reconnects_and_resubscribes(void **state)
{
    struct fx *f = *state;
    struct inbox in = {0};
    struct rec down = {0}, up = {0};
    bool returned = false;
    struct store_sub *sub = store_subscribe(f->s, "ch", inbox_fn, &in);
    wait_numsub(f, "ch", 1);
    redisFree(f->sync);
    f->sync = NULL;
    server_stop(f->srv);
    assert_true(healthy_flag(f, false));
    down.returned = &returned;
    assert_int_equal(store_get(f->s, "k", str_cb, &down), STORE_OK);
    returned = true;
    assert_int_equal(down.calls, 0);
    sleep_ms(f, 200);
    assert_int_equal(down.calls, 1);
    assert_int_equal(down.status, STORE_ERR_UNAVAILABLE);
    assert_false(down.reentrant);
    assert_true(server_start(f->srv));
    assert_true(healthy_flag(f, true));
    assert_non_null(f->sync = sync_connect(f->srv->port));
    wait_numsub(f, "ch", 1);
    store_publish(f->s, "ch", "back", 4, int_cb, &up);
    assert_true(spin_until(f, &in.got, WAIT_MS));
    assert_int_equal(up.ival, 1);
    assert_string_equal(in.last, "back");
    store_unsubscribe(sub);
}

#define T(name, srv) cmocka_unit_test_prestate_setup_teardown(name, setup, teardown, srv)

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
    const struct CMUnitTest tests[] = {
        T(test_set_then_get_returns_the_value, &srv),
        T(test_set_nx_and_xx, &srv),
        T(test_ttl_expiry_and_set_without_ttl_persists, &srv),
        T(test_del_and_pexpire, &srv),
        T(test_incr_counts_and_sets_ttl_atomically, &srv),
        T(test_incr_refuses_non_integers_and_overflow, &srv),
        T(test_hash_ops, &srv),
        T(test_hset_ttl_expires_the_whole_hash, &srv),
        T(test_set_members_and_ttl, &srv),
        T(test_wrong_type_is_reported_and_nothing_changes, &srv),
        T(test_callbacks_never_run_inside_the_call, &srv),
        T(test_callbacks_complete_in_issue_order, &srv),
        T(test_callback_can_issue_commands, &srv),
        T(test_publish_reaches_every_subscriber, &srv),
        T(test_unsubscribe_drops_in_flight_messages, &srv),
        T(test_unsubscribe_from_callbacks, &srv),
        T(test_resubscribe_while_unsubscribing, &srv),
        T(test_confirmed_subscription_is_ready_from_the_loop_then_receives, &srv),
        T(test_confirmed_subscription_unsubscribed_early_never_reports, &srv),
        T(test_confirmed_subscription_fails_while_redis_is_down, &srv),
        T(test_log_numbers_trims_and_reads_after_seq, &srv),
        T(test_log_expires_with_its_ttl_and_restarts_at_one, &srv),
        T(test_close_delivers_pending_replies, &srv),
        T(test_name_url_parsing_and_db_selection, &srv),
        T(test_password_is_sent_and_a_wrong_one_keeps_it_unhealthy, &srv),
        T(test_reconnects_and_resubscribes, &srv),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    server_stop(&srv);
    return failed;
}
