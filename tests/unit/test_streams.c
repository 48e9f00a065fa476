/*
 * Resumable streams (streams.h) through their own interface: ids, the priming event, events
 * written to an attached exchange and logged, detached events published for a resumed
 * connection, replay after a Last-Event-ID seq, the log's bound, and the hand-over of a
 * resumed standalone stream to its follower. The exchanges are real ones on a loopback
 * http_server with the memory store; the test's handler plays the transport.
 */
#include "testutil.h"

#include <inttypes.h>

#include "mcp/streams.h"
#include "testmcp.h"

#define SID "sid-streams"

/* What the handler and the follow callback saw; one test at a time. */
static struct {
    struct tm_fixture *f;
    struct http_exchange *attached; /* the exchange of the last /attach request */
    int follows;
    char follow_stream[MCP_STREAM_ID_MAX + 1];
    char follow_next[MCP_STREAM_ID_MAX + 1];
    int resume_rc;
    struct mcp_stream *race;  /* emitted on right after mcp_stream_resume returns */
    struct mcp_stream *flood; /* FLOOD_EVENTS of 1 MiB emitted right after it returns */
} seen;

#define FLOOD_EVENTS 6

static void on_follow(struct mcp_ctx *ctx, struct http_exchange *ex, const char *sid,
                      const char *stream_id, const char *next_id)
{
    seen.follows++;
    snprintf(seen.follow_stream, sizeof seen.follow_stream, "%s", stream_id);
    snprintf(seen.follow_next, sizeof seen.follow_next, "%s", next_id);
    http_sse_event(ex, NULL, "followed", sid, strlen(sid));
    http_stream_end(ex);
}

/* GET /attach: SSE begins and the test writes on the exchange. GET /resume?stream=&after=:
 * mcp_stream_resume for session SID (which begins SSE itself once the log is read). */
static void handler(struct http_exchange *ex, void *arg)
{
    struct tm_fixture *f = arg;
    const struct http_request *req = http_exchange_request(ex);
    if (strcmp(req->path, "/attach") == 0) {
        http_sse_begin(ex, 200);
        seen.attached = ex;
        return;
    }
    char stream[64] = "", after[32] = "0";
    http_request_query_param(req, "stream", stream, sizeof stream);
    http_request_query_param(req, "after", after, sizeof after);
    seen.resume_rc =
        mcp_stream_resume(&f->ctx, ex, SID, stream, strtoull(after, NULL, 10), "gnext", on_follow);
    if (seen.resume_rc != 0) {
        http_respond_empty(ex, 503);
    } else if (seen.flood) {
        /* More than the 4 MiB a resume holds while its replay is read. */
        size_t len = 1024 * 1024;
        char *big = malloc(len + 1);
        assert_non_null(big);
        memset(big, 'a', len);
        memcpy(big, "{\"pad\":\"", 8);
        memcpy(big + len - 2, "\"}", 2);
        big[len] = '\0';
        for (int i = 0; i < FLOOD_EVENTS; i++)
            mcp_stream_emit(seen.flood, big, len, false);
        free(big);
    } else if (seen.race) {
        /* Published after the subscription, appended after the replay's read was issued. */
        mcp_stream_emit(seen.race, "{\"n\":2}", 7, false);
        mcp_stream_emit(seen.race, "{\"n\":3}", 7, true);
    }
}

static int setup(void **state)
{
    memset(&seen, 0, sizeof seen);
    struct tm_fixture *f = tm_new("conformance");
    tm_listen_with(f, handler);
    seen.f = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    tm_free(*state);
    return 0;
}

static bool attached(void *arg)
{
    return seen.attached != NULL;
}

/* Open /attach and wait until the handler holds its exchange. */
static struct tm_conn *open_attached(struct tm_fixture *f)
{
    seen.attached = NULL;
    struct tm_conn *c = tm_send(f, "GET", "/attach", NULL, NULL);
    assert_true(tm_run_until(f, attached, NULL, TM_WAIT_MS));
    return c;
}

static void emit(struct mcp_stream *s, const char *json, bool final)
{
    assert_int_equal(mcp_stream_emit(s, json, strlen(json), final), 0);
}

static struct tm_conn *resume(struct tm_fixture *f, const char *stream, uint64_t after)
{
    char target[128];
    snprintf(target, sizeof target, "/resume?stream=%s&after=%" PRIu64, stream, after);
    return tm_send(f, "GET", target, NULL, NULL);
}

static void assert_event(const struct tm_event *e, const char *stream, uint64_t seq,
                         const char *data)
{
    char id[MCP_EVENT_ID_MAX];
    snprintf(id, sizeof id, "%s:%" PRIu64, stream, seq);
    assert_string_equal(e->id, id);
    assert_string_equal(e->event, "message");
    assert_string_equal(e->data, data);
}

static void test_event_id_parse_accepts_only_our_ids(void **state)
{
    char stream[MCP_STREAM_ID_MAX + 1];
    uint64_t seq = 99;
    assert_int_equal(mcp_event_id_parse("p0123456789abcdef:42", stream, sizeof stream, &seq), 0);
    assert_string_equal(stream, "p0123456789abcdef");
    assert_int_equal(seq, 42);
    assert_int_equal(mcp_event_id_parse("g00:0", stream, sizeof stream, &seq), 0);
    assert_string_equal(stream, "g00");
    assert_int_equal(seq, 0);

    const char *bad[] = {
        "",
        "p0123",
        ":5",
        "p0123:",
        "x0123:1",
        "pzz:1",
        "p0123:3x",
        "p01:2:3",
        "P0123:1",
        "p0123:-1x",
        "g0a:1 ",
        /* Digits only: strtoull would take these (the first as 2^64 - 1). */
        "g0a:-1",
        "g0a:+5",
        "g0a: 5",
        "g0a:\t5",
        "g0a:0x5",
        "g0a:18446744073709551616",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        seq = 99;
        assert_int_equal(mcp_event_id_parse(bad[i], stream, sizeof stream, &seq), -1);
        assert_int_equal(seq, 99);
    }
    assert_int_equal(mcp_event_id_parse("g0a:18446744073709551615", stream, sizeof stream, &seq),
                     0);
    assert_true(seq == UINT64_MAX);
    /* A stream id that does not fit the caller's buffer is refused, not cut. */
    char small[4];
    assert_int_equal(mcp_event_id_parse("p0123:1", small, sizeof small, &seq), -1);
}

static void test_new_streams_get_distinct_ids_of_their_kind(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *a = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    struct mcp_stream *b = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    struct mcp_stream *g = mcp_stream_new(&f->ctx, SID, 'g', NULL, 0);
    struct mcp_stream *named = mcp_stream_new(&f->ctx, SID, 'g', "g00ff", 7);
    assert_int_equal(strlen(mcp_stream_id(a)), 17);
    assert_int_equal(mcp_stream_id(a)[0], 'p');
    assert_int_equal(mcp_stream_id(g)[0], 'g');
    assert_string_not_equal(mcp_stream_id(a), mcp_stream_id(b));
    assert_string_equal(mcp_stream_id(named), "g00ff");
    /* Its ids must come back through the parser the GET handler uses. */
    char id[MCP_EVENT_ID_MAX], stream[MCP_STREAM_ID_MAX + 1];
    uint64_t seq;
    snprintf(id, sizeof id, "%s:3", mcp_stream_id(g));
    assert_int_equal(mcp_event_id_parse(id, stream, sizeof stream, &seq), 0);
    assert_string_equal(stream, mcp_stream_id(g));
    mcp_stream_free(a);
    mcp_stream_free(b);
    mcp_stream_free(g);
    mcp_stream_free(named);
}

static void test_prime_needs_an_exchange_and_writes_id_retry_and_empty_data(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'p', "pab", 4);
    assert_int_equal(mcp_stream_prime(s, 1500), -1);
    struct tm_conn *c = open_attached(f);
    mcp_stream_attach(s, seen.attached);
    assert_int_equal(mcp_stream_prime(s, 1500), 0);
    emit(s, "{\"n\":5}", false);
    http_stream_end(seen.attached);
    struct tm_resp r;
    tm_wait(f, c, &r);
    assert_string_equal(r.body, "id: pab:4\nretry: 1500\ndata: \n\n"
                                "id: pab:5\nevent: message\ndata: {\"n\":5}\n\n");
    tm_resp_free(&r);
    mcp_stream_free(s);
}

/* Attached: events go out with consecutive ids; the same events are in the log, so a second
 * connection resuming after seq 1 gets exactly 2 and 3, and ends after the final one. */
static void test_attached_events_are_written_and_replayed_after_seq(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    const char *id = mcp_stream_id(s);
    struct tm_conn *c = open_attached(f);
    mcp_stream_attach(s, seen.attached);
    emit(s, "{\"n\":1}", false);
    emit(s, "{\"n\":2}", false);
    emit(s, "{\"n\":3}", true);
    http_stream_end(seen.attached);
    struct tm_resp r;
    tm_wait(f, c, &r);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 3);
    assert_event(&ev[0], id, 1, "{\"n\":1}");
    assert_event(&ev[1], id, 2, "{\"n\":2}");
    assert_event(&ev[2], id, 3, "{\"n\":3}");
    free(ev);
    tm_resp_free(&r);

    struct tm_conn *again = resume(f, id, 1);
    tm_wait(f, again, &r); /* completes: the final event ends a POST stream */
    assert_int_equal(seen.resume_rc, 0);
    ev = tm_events(r.body, &n);
    assert_int_equal(n, 2);
    assert_event(&ev[0], id, 2, "{\"n\":2}");
    assert_event(&ev[1], id, 3, "{\"n\":3}");
    free(ev);
    tm_resp_free(&r);
    mcp_stream_free(s);
}

/* The client left mid-call: events logged while detached are replayed, then the ones emitted
 * after the resume arrive live, in order, without duplicates, until the final one. */
static void test_detached_events_reach_a_resumed_connection_live(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    const char *id = mcp_stream_id(s);
    emit(s, "{\"n\":1}", false);
    emit(s, "{\"n\":2}", false);
    struct tm_conn *c = resume(f, id, 0);
    assert_true(tm_wait_for(f, c, "{\"n\":2}", 1, TM_WAIT_MS));
    emit(s, "{\"n\":3}", false);
    emit(s, "{\"n\":4}", true);
    struct tm_resp r;
    tm_wait(f, c, &r);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 4);
    for (uint64_t i = 0; i < 4; i++) {
        char data[32];
        snprintf(data, sizeof data, "{\"n\":%" PRIu64 "}", i + 1);
        assert_event(&ev[i], id, i + 1, data);
    }
    free(ev);
    tm_resp_free(&r);
    mcp_stream_free(s);
}

/* Events emitted while the replay's read is in the store (the handler emits right after
 * mcp_stream_resume returns) reach the connection live: each must be written once, in order. */
static void test_events_racing_the_replay_are_written_once(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    const char *id = mcp_stream_id(s);
    emit(s, "{\"n\":1}", false);
    seen.race = s;
    struct tm_conn *c = resume(f, id, 0);
    struct tm_resp r;
    tm_wait(f, c, &r);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 3);
    assert_event(&ev[0], id, 1, "{\"n\":1}");
    assert_event(&ev[1], id, 2, "{\"n\":2}");
    assert_event(&ev[2], id, 3, "{\"n\":3}");
    free(ev);
    tm_resp_free(&r);
    mcp_stream_free(s);
}

/* Live events that arrive while the replay is read are held up to a bound (4 MiB); past it the
 * resume keeps only whole entries and ends after the replay (the client resumes again from the
 * last id it got), instead of following live events with some missing. Events this large are
 * logged as skipped entries (EVENT_LOG_ENTRY_MAX_BYTES), so only the first one is replayed. */
static void test_live_events_past_the_hold_bound_end_the_resume(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    const char *id = mcp_stream_id(s);
    emit(s, "{\"n\":1}", false);
    seen.flood = s;
    struct tm_conn *c = resume(f, id, 0);
    struct tm_resp r;
    tm_wait(f, c, &r);
    assert_int_equal(r.status, 200);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 1);
    assert_event(&ev[0], id, 1, "{\"n\":1}");
    free(ev);
    tm_resp_free(&r);
    mcp_stream_free(s);
}

/* EVENT_LOG_MAX bounds what can be replayed: an older id gets only the newest events. */
static void test_replay_is_bounded_by_event_log_max(void **state)
{
    struct tm_fixture *f = *state;
    f->cfg.event_log_max = 3;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    const char *id = mcp_stream_id(s);
    for (int i = 1; i <= 6; i++) {
        char data[32];
        snprintf(data, sizeof data, "{\"n\":%d}", i);
        emit(s, data, i == 6);
    }
    struct tm_conn *c = resume(f, id, 1);
    struct tm_resp r;
    tm_wait(f, c, &r);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 3);
    assert_event(&ev[0], id, 4, "{\"n\":4}");
    assert_event(&ev[1], id, 5, "{\"n\":5}");
    assert_event(&ev[2], id, 6, "{\"n\":6}");
    free(ev);
    tm_resp_free(&r);
    mcp_stream_free(s);
}

/* A standalone stream has no final event: after the replay it is handed to the follower with
 * the id the caller chose for what follows, and the follower owns the exchange from then on. */
static void test_resumed_get_stream_is_handed_to_follower(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'g', NULL, 0);
    const char *id = mcp_stream_id(s);
    emit(s, "{\"n\":1}", false);
    emit(s, "{\"n\":2}", false);
    emit(s, "{\"n\":3}", false);
    struct tm_conn *c = resume(f, id, 1);
    struct tm_resp r;
    tm_wait(f, c, &r);
    assert_int_equal(seen.follows, 1);
    assert_string_equal(seen.follow_stream, id);
    assert_string_equal(seen.follow_next, "gnext");
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 3);
    assert_event(&ev[0], id, 2, "{\"n\":2}");
    assert_event(&ev[1], id, 3, "{\"n\":3}");
    assert_string_equal(ev[2].event, "followed");
    assert_string_equal(ev[2].data, SID);
    free(ev);
    tm_resp_free(&r);
    mcp_stream_free(s);
}

/* Another session's log is not this one's: same stream id, nothing replayed (from seq 0: a
 * primed stream with no event yet, followed; past 0 it names no stream of this session, 400). */
static void test_replay_reads_only_this_sessions_log(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *other = mcp_stream_new(&f->ctx, "another-session", 'g', "g0a0a", 0);
    emit(other, "{\"n\":1}", false);
    struct tm_resp refused;
    tm_wait(f, resume(f, "g0a0a", 1), &refused);
    assert_int_equal(refused.status, 400);
    assert_non_null(strstr(refused.body, "Last-Event-ID names no stream of this session"));
    assert_int_equal(seen.follows, 0);
    tm_resp_free(&refused);
    struct tm_conn *c = resume(f, "g0a0a", 0);
    struct tm_resp r;
    tm_wait(f, c, &r);
    assert_int_equal(seen.follows, 1);
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].event, "followed");
    free(ev);
    tm_resp_free(&r);
    mcp_stream_free(other);
}

/* The client leaving while a POST stream waits for live events must release the resume (its
 * subscription and buffers: LeakSanitizer checks) and later emits must not reach it. */
static void test_client_leaving_a_resumed_stream_releases_it(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    emit(s, "{\"n\":1}", false);
    struct tm_conn *c = resume(f, mcp_stream_id(s), 0);
    assert_true(tm_wait_for(f, c, "{\"n\":1}", 1, TM_WAIT_MS));
    tm_close(f, c);
    assert_true(tm_run_until(f, tm_no_connections, f, TM_WAIT_MS));
    emit(s, "{\"n\":2}", true);
    tm_run_for(f, 20);
    mcp_stream_free(s);
}

/* A stream whose final event is logged has nothing more to send: resuming from the final
 * event itself (or past it) ends at once, with no event. */
static void test_resume_from_the_final_event_ends_at_once(void **state)
{
    struct tm_fixture *f = *state;
    struct mcp_stream *s = mcp_stream_new(&f->ctx, SID, 'p', NULL, 0);
    emit(s, "{\"n\":1}", false);
    emit(s, "{\"n\":2}", true);
    for (uint64_t after = 2; after <= 3; after++) {
        struct tm_conn *c = resume(f, mcp_stream_id(s), after);
        struct tm_resp r;
        tm_wait(f, c, &r);
        assert_int_equal(seen.resume_rc, 0);
        size_t n;
        struct tm_event *ev = tm_events(r.body, &n);
        assert_int_equal(n, 0);
        free(ev);
        tm_resp_free(&r);
    }
    mcp_stream_free(s);
}

/* A resumed POST stream that nothing will ever write to (a made-up id, or a call lost with
 * another instance) is held by its session: it ends when the session does. */
static void test_resumed_stream_nobody_writes_ends_with_its_session(void **state)
{
    struct tm_fixture *f = *state;
    struct tm_conn *c = resume(f, "p0000000000000000", 0);
    tm_run_for(f, 100);
    assert_false(tm_conn_complete(c)); /* still waiting: the stream may yet be written */
    assert_int_equal(mcp_session_destroy(&f->ctx, SID, NULL, NULL, NULL), 0);
    struct tm_resp r;
    tm_wait(f, c, &r); /* bounded by TM_WAIT_MS */
    size_t n;
    struct tm_event *ev = tm_events(r.body, &n);
    assert_int_equal(n, 0);
    free(ev);
    tm_resp_free(&r);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_id_parse_accepts_only_our_ids),
        T(test_new_streams_get_distinct_ids_of_their_kind),
        T(test_prime_needs_an_exchange_and_writes_id_retry_and_empty_data),
        T(test_attached_events_are_written_and_replayed_after_seq),
        T(test_detached_events_reach_a_resumed_connection_live),
        T(test_events_racing_the_replay_are_written_once),
        T(test_live_events_past_the_hold_bound_end_the_resume),
        T(test_replay_is_bounded_by_event_log_max),
        T(test_resumed_get_stream_is_handed_to_follower),
        T(test_replay_reads_only_this_sessions_log),
        T(test_client_leaving_a_resumed_stream_releases_it),
        T(test_resume_from_the_final_event_ends_at_once),
        T(test_resumed_stream_nobody_writes_ends_with_its_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
