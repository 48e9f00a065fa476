/*
 * The notifier (notifier.h and feature.h's mcp_notifier_*) on the real loop and memory store:
 * what it writes, to which writer, when its timers fire, the session's log level and
 * subscriptions as read from the store at the time, and silence after stop. The reference pack
 * provides the timers (resource updates, random log, stderr), scaled down with
 * TIMER_SCALE_PERCENT; tests calling the mcp_notifier_* functions directly scale them up so
 * that no timer fires meanwhile.
 */
#include "testutil.h"

#include "lib/json.h"
#include "mcp/feature.h"
#include "mcp/notifier.h"
#include "testmcp.h"

#define SLOW 100000 /* percent: the reference timers' first fire in 1000 s and more */

struct writer {
    json_t *lines; /* every message written, in order, as text */
};

static void on_write(void *arg, const char *json, size_t len)
{
    struct writer *w = arg;
    json_array_append_new(w->lines, json_stringn(json, len));
}

struct fixture {
    struct tm_fixture *tm;
    struct writer a, b;
    int subs_calls;
    json_t *subs; /* the URIs of the last subscriptions callback, sorted */
};

static struct fixture *fixture_new(const char *features, unsigned scale)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->tm = tm_new(features);
    f->tm->cfg.timer_scale_percent = scale;
    f->a.lines = json_array();
    f->b.lines = json_array();
    f->subs = json_array();
    return f;
}

static int setup_slow(void **state)
{
    *state = fixture_new("reference", SLOW);
    return 0;
}

static int setup_fast(void **state)
{
    *state = fixture_new("reference", 1); /* 100, 200 and 300 ms */
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tm_free(f->tm);
    json_decref(f->a.lines);
    json_decref(f->b.lines);
    json_decref(f->subs);
    free(f);
    return 0;
}

static const char *line(const struct writer *w, size_t i)
{
    return json_string_value(json_array_get(w->lines, i));
}

struct lines_wait {
    const struct writer *w;
    size_t n;
};

static bool has_lines(void *arg)
{
    const struct lines_wait *lw = arg;
    return json_array_size(lw->w->lines) >= lw->n;
}

static void wait_lines(struct fixture *f, const struct writer *w, size_t n)
{
    struct lines_wait lw = {w, n};
    assert_true(tm_run_until(f->tm, has_lines, &lw, TM_WAIT_MS));
}

static void set_level(struct fixture *f, const char *sid, const char *level)
{
    mcp_session_set_log_level(&f->tm->ctx, sid, mcp_log_level_index(level));
}

/* The conformance pack has no timers: nothing to run, and stopping nothing is allowed. */
static void test_no_timers_means_no_notifier(void **state)
{
    struct fixture *f = fixture_new("conformance", 1);
    assert_null(mcp_notifier_start(&f->tm->ctx, "s1", on_write, &f->a));
    mcp_notifier_stop(NULL);
    tm_run_for(f->tm, 20);
    assert_int_equal(json_array_size(f->a.lines), 0);
    *state = f;
}

static void test_send_writes_one_notification_to_its_writer(void **state)
{
    struct fixture *f = *state;
    struct mcp_notifier *n = mcp_notifier_start(&f->tm->ctx, "s1", on_write, &f->a);
    assert_non_null(n);
    assert_string_equal(mcp_notifier_session_id(n), "s1");
    mcp_notifier_send(n, "notifications/x", json_pack("{s:i}", "k", 1));
    mcp_notifier_send(n, "notifications/y", NULL);
    assert_int_equal(json_array_size(f->a.lines), 2);
    assert_string_equal(
        line(&f->a, 0),
        "{\"method\":\"notifications/x\",\"params\":{\"k\":1},\"jsonrpc\":\"2.0\"}");
    assert_string_equal(line(&f->a, 1), "{\"method\":\"notifications/y\",\"jsonrpc\":\"2.0\"}");
    mcp_notifier_stop(n);
}

/* The level is read from the store when the log is written, per session: a level set after
 * the notifier started applies, and another session's level does not. */
static void test_log_is_filtered_by_each_sessions_stored_level(void **state)
{
    struct fixture *f = *state;
    struct mcp_notifier *na = mcp_notifier_start(&f->tm->ctx, "sa", on_write, &f->a);
    struct mcp_notifier *nb = mcp_notifier_start(&f->tm->ctx, "sb", on_write, &f->b);
    set_level(f, "sa", "error");
    mcp_notifier_log(na, "warning", NULL, json_string("a-warning"));
    mcp_notifier_log(na, "critical", "lg", json_string("a-critical"));
    mcp_notifier_log(na, "nonsense", NULL, json_string("dropped"));
    mcp_notifier_log(nb, "debug", NULL, json_string("b-debug"));
    wait_lines(f, &f->b, 1);
    wait_lines(f, &f->a, 1);
    tm_run_for(f->tm, 20);
    assert_int_equal(json_array_size(f->a.lines), 1);
    assert_string_equal(line(&f->a, 0), "{\"method\":\"notifications/message\",\"params\":{"
                                        "\"level\":\"critical\",\"logger\":\"lg\",\"data\":\"a-"
                                        "critical\"},\"jsonrpc\":\"2.0\"}");
    assert_int_equal(json_array_size(f->b.lines), 1);
    assert_string_equal(line(&f->b, 0), "{\"method\":\"notifications/message\",\"params\":{"
                                        "\"level\":\"debug\",\"data\":\"b-debug\"},\"jsonrpc\":"
                                        "\"2.0\"}");
    mcp_notifier_stop(na);
    mcp_notifier_stop(nb);
}

static void on_subs(struct mcp_notifier *n, const char *const *uris, size_t count, void *arg)
{
    struct fixture *f = arg;
    f->subs_calls++;
    json_array_clear(f->subs);
    for (size_t i = 0; i < count; i++)
        json_array_append_new(f->subs, json_string(uris[i]));
}

static bool subs_called(void *arg)
{
    return ((struct fixture *)arg)->subs_calls > 0;
}

static void subscribe(struct fixture *f, const char *sid, const char *uri)
{
    store_sadd(f->tm->ctx.store, mcp_key_subscriptions(sid).s, uri, strlen(uri), 60000, NULL, NULL);
}

static bool has_uri(const json_t *subs, const char *uri)
{
    size_t i;
    json_t *v;
    json_array_foreach(subs, i, v) if (strcmp(json_string_value(v), uri) == 0) return true;
    return false;
}

static void test_subscriptions_are_the_sessions_set(void **state)
{
    struct fixture *f = *state;
    subscribe(f, "s1", "test://a");
    subscribe(f, "s1", "test://b");
    subscribe(f, "s2", "test://other");
    struct mcp_notifier *n = mcp_notifier_start(&f->tm->ctx, "s1", on_write, &f->a);
    assert_int_equal(mcp_notifier_subscriptions(n, on_subs, f), 0);
    assert_true(tm_run_until(f->tm, subs_called, f, TM_WAIT_MS));
    assert_int_equal(f->subs_calls, 1);
    assert_int_equal(json_array_size(f->subs), 2);
    assert_true(has_uri(f->subs, "test://a"));
    assert_true(has_uri(f->subs, "test://b"));
    mcp_notifier_stop(n);
}

/* Stopped with a log level read and a subscriptions read in the store: neither writes nor
 * calls back afterwards (and nothing leaks). */
static void test_nothing_happens_after_stop(void **state)
{
    struct fixture *f = *state;
    subscribe(f, "s1", "test://a");
    struct mcp_notifier *n = mcp_notifier_start(&f->tm->ctx, "s1", on_write, &f->a);
    mcp_notifier_log(n, "emergency", NULL, json_string("late"));
    assert_int_equal(mcp_notifier_subscriptions(n, on_subs, f), 0);
    mcp_notifier_stop(n);
    mcp_notifier_stop(NULL);
    tm_run_for(f->tm, 30);
    assert_int_equal(json_array_size(f->a.lines), 0);
    assert_int_equal(f->subs_calls, 0);
}

static size_t count_method(const struct writer *w, const char *method)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(w->lines, i, v)
    {
        json_t *m = json_loads(json_string_value(v), 0, NULL);
        n += strcmp(json_string_value(json_object_get(m, "method")), method) == 0;
        json_decref(m);
    }
    return n;
}

struct method_wait {
    const struct writer *w;
    const char *method;
    size_t n;
};

static bool has_method(void *arg)
{
    const struct method_wait *mw = arg;
    return count_method(mw->w, mw->method) >= mw->n;
}

static void wait_method(struct fixture *f, const struct writer *w, const char *method, size_t n)
{
    struct method_wait mw = {w, method, n};
    assert_true(tm_run_until(f->tm, has_method, &mw, TM_WAIT_MS));
}

/* The pack's timers: nothing before the first period; then stderr lines, random logs, and
 * one resources/updated per subscribed URI, all to the session's own writer. */
static void test_pack_timers_fire_for_their_session(void **state)
{
    struct fixture *f = *state;
    subscribe(f, "s1", "test://static/resource/1");
    struct mcp_notifier *na = mcp_notifier_start(&f->tm->ctx, "s1", on_write, &f->a);
    struct mcp_notifier *nb = mcp_notifier_start(&f->tm->ctx, "s2", on_write, &f->b);
    tm_run_for(f->tm, 40);
    assert_int_equal(json_array_size(f->a.lines), 0); /* the first fire is a period away */
    wait_method(f, &f->a, "notifications/stderr", 1);
    wait_method(f, &f->a, "notifications/message", 1);
    wait_method(f, &f->a, "notifications/resources/updated", 2);
    wait_method(f, &f->b, "notifications/stderr", 1);
    assert_int_equal(count_method(&f->b, "notifications/resources/updated"), 0);
    size_t i;
    json_t *v;
    json_array_foreach(f->a.lines, i, v)
    {
        json_t *m = json_loads(json_string_value(v), 0, NULL);
        const char *method = json_string_value(json_object_get(m, "method"));
        json_t *params = json_object_get(m, "params");
        if (strcmp(method, "notifications/resources/updated") == 0) {
            char *text = json_serialize(params, NULL);
            assert_string_equal(text, "{\"uri\":\"test://static/resource/1\"}");
            free(text);
        } else if (strcmp(method, "notifications/stderr") == 0) {
            const char *content = json_string_value(json_object_get(params, "content"));
            assert_non_null(strstr(content, ": A stderr message"));
        } else {
            assert_string_equal(method, "notifications/message");
            assert_int_equal(json_object_size(params), 2); /* level and data, no logger */
            assert_true(mcp_log_level_index(json_string_value(json_object_get(params, "level"))) >=
                        0);
        }
        json_decref(m);
    }
    mcp_notifier_stop(na);
    mcp_notifier_stop(nb);
    size_t before = json_array_size(f->a.lines);
    tm_run_for(f->tm, 350);
    assert_int_equal(json_array_size(f->a.lines), before);
}

/* A level changed while the notifier runs applies to the next log: the store is read each
 * time, not once at start. */
static void test_level_change_applies_to_the_next_log(void **state)
{
    struct fixture *f = *state;
    struct mcp_notifier *n = mcp_notifier_start(&f->tm->ctx, "s1", on_write, &f->a);
    set_level(f, "s1", "error");
    mcp_notifier_log(n, "warning", NULL, json_string("first"));
    tm_run_for(f->tm, 20);
    assert_int_equal(json_array_size(f->a.lines), 0);
    set_level(f, "s1", "debug");
    mcp_notifier_log(n, "warning", NULL, json_string("second"));
    wait_lines(f, &f->a, 1);
    assert_string_equal(line(&f->a, 0), "{\"method\":\"notifications/message\",\"params\":{"
                                        "\"level\":\"warning\",\"data\":\"second\"},"
                                        "\"jsonrpc\":\"2.0\"}");
    mcp_notifier_stop(n);
}

static struct mcp_notifier *self_stopping;

static void write_then_stop(void *arg, const char *json, size_t len)
{
    on_write(arg, json, len);
    mcp_notifier_stop(self_stopping); /* the stream closed while writing (client gone) */
}

/* A writer may stop its notifier from inside the write (a stream that failed and closed):
 * that write is the last, whatever timers were due. */
static void test_writer_may_stop_the_notifier_while_writing(void **state)
{
    struct fixture *f = *state;
    subscribe(f, "s1", "test://x");
    subscribe(f, "s1", "test://y");
    self_stopping = mcp_notifier_start(&f->tm->ctx, "s1", write_then_stop, &f->a);
    assert_non_null(self_stopping);
    wait_lines(f, &f->a, 1);
    tm_run_for(f->tm, 400);
    assert_int_equal(json_array_size(f->a.lines), 1);
}

#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_no_timers_means_no_notifier, teardown),
        T(test_send_writes_one_notification_to_its_writer, setup_slow),
        T(test_log_is_filtered_by_each_sessions_stored_level, setup_slow),
        T(test_subscriptions_are_the_sessions_set, setup_slow),
        T(test_nothing_happens_after_stop, setup_slow),
        T(test_pack_timers_fire_for_their_session, setup_fast),
        T(test_level_change_applies_to_the_next_log, setup_slow),
        T(test_writer_may_stop_the_notifier_while_writing, setup_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
