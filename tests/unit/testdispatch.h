/* A dispatcher and its context (memory store, real loop) with one session, without a transport:
 * a test hands requests to mcp_dispatch_request and reads what each call emitted from a recorder
 * sink. Shared by the dispatch, MRTR, tasks and reference-pack tests; each sets the session's
 * revision and capabilities, and any setting of its own, after td_new. */
#ifndef MCPD_TESTDISPATCH_H
#define MCPD_TESTDISPATCH_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "app/config.h"
#include "lib/hashmap.h"
#include "mcp/call.h"
#include "mcp/context.h"
#include "mcp/dispatch.h"
#include "mcp/session.h"
#include "store/store.h"

struct td_recorder {
    struct mcp_sink sink;
    json_t *messages; /* everything emitted, in order */
    int finals;
    bool last_final_null;
};

static inline void td_record_emit(struct mcp_sink *sink, json_t *msg, bool final)
{
    struct td_recorder *r = (struct td_recorder *)sink;
    if (msg)
        json_array_append_new(r->messages, msg);
    if (final) {
        r->finals++;
        r->last_final_null = msg == NULL;
    }
}

struct td_fixture {
    uv_loop_t loop;
    struct config cfg;
    struct mcp_ctx ctx;
    struct mcp_session sess;
    struct td_recorder rec;
    int next_id;     /* for tests that number their requests */
    json_t *written; /* a notifier's output, for tests that install one (td_close frees it) */
};

/* The features' dispatcher on a fresh loop and memory store; the session belongs to "alice",
 * sends no logs, and has no revision or capabilities yet. Settings: a 60 s session TTL, a
 * 100 ms request timeout, 16 logged events per stream. */
static inline struct td_fixture *td_new(const char *features)
{
    struct td_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    uv_loop_init(&f->loop);
    f->cfg.session_ttl_ms = 60000;
    f->cfg.request_timeout_ms = 100;
    f->cfg.event_log_max = 16;
    f->ctx.loop = &f->loop;
    f->ctx.cfg = &f->cfg;
    f->ctx.store = store_memory_new(&f->loop, NULL);
    f->ctx.live = hashmap_new();
    char err[128];
    f->ctx.dispatch = mcp_dispatch_new(features, err, sizeof err);
    f->sess.owner = strdup("alice");
    f->sess.log_level = -1;
    f->rec.sink.emit = td_record_emit;
    f->rec.messages = json_array();
    return f;
}

static inline void td_on_closed(void *arg)
{
    *(int *)arg = 1;
}

/* End the session's calls, close the store, run the loop dry and free what td_new made, checking
 * that nothing is left on the loop or in the live sessions; f itself stays for the caller. */
static inline void td_close(struct td_fixture *f)
{
    mcp_live_end_all(&f->ctx);
    int closed = 0;
    store_close(f->ctx.store, td_on_closed, &closed);
    while (!closed)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    mcp_dispatch_free(f->ctx.dispatch);
    assert_int_equal(hashmap_count(f->ctx.live), 0);
    hashmap_free(f->ctx.live);
    mcp_session_forget_touches(&f->ctx);
    mcp_session_free(&f->sess);
    json_decref(f->rec.messages);
    json_decref(f->written);
}

#endif
