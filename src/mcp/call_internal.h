/*
 * call_internal: the struct behind feature.h's opaque mcp_call, shared by call.c (its lifetime,
 * timers, server->client requests, request-scoped messages), call_mrtr.c (the same requests for
 * stateless calls), dispatch.c (method handlers) and tasks.c (which runs a call detached from its
 * request). Nothing outside those files includes this.
 */
#ifndef MCPD_MCP_CALL_INTERNAL_H
#define MCPD_MCP_CALL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mcp/call.h"
#include "mcp/context.h"
#include "mcp/feature.h"
#include "mcp/session.h"

struct call_timer;
struct call_request;
struct mcp_mrtr;

struct mcp_call {
    struct mcp_ctx *ctx;
    struct mcp_session sess; /* copy of the session as loaded for this request */
    json_t *id;              /* the client's request id */
    const char *method;      /* borrowed from request */
    json_t *request;         /* the whole request (reference held) */
    json_t *params;          /* borrowed from request, or an owned {} */
    struct mcp_sink *sink;
    struct mcp_live *live;           /* acquired when the call first waits on something */
    struct mcp_live_call live_entry; /* how the session ends or cancels it while it waits */
    void *state;
    void (*state_free)(void *);
    struct call_timer *timers;
    struct call_request *requests;
    struct mcp_mrtr *mrtr; /* a stateless call's answers and open questions (call_mrtr.h) */
    uint64_t started_ms;   /* loop time at creation: MAX_CALL_DURATION_MS counts from here */
    unsigned running;      /* > 0 while a handler function of this call is on the stack */
    bool answered;
    bool deadline_set; /* MAX_CALL_DURATION_MS timer started (a stateless call has no live) */
    /* A stateless call that waits is listed in ctx->stateless_calls, so shutdown can end it. */
    struct mcp_call *sl_prev, *sl_next;
    bool sl_listed;
    bool cancelled;
};

struct mcp_call *mcp_call_new(struct mcp_ctx *ctx, const struct mcp_session *sess,
                              const json_t *request, struct mcp_sink *sink);
/* Handler invocations are bracketed so that a call answered inside its handler is freed only
 * once the handler has returned. */
void mcp_call_enter(struct mcp_call *c);
void mcp_call_leave(struct mcp_call *c);

/* ---- call_mrtr.c: the stateless (2026-07-28) side of mcp_call_request ----
 *
 * A call of a stateless session sends nothing to the client: each request its handler makes is
 * looked up by key in the retried request's inputResponses and in the answers carried forward
 * inside its verified requestState; a found answer is delivered to the handler's callback on a
 * later loop turn, as a reply would be. When the handler has nothing left to run and some
 * requests found no answer, the call ends with an InputRequiredResult asking for all of them at
 * once, with a new requestState carrying every answer used so far (request_state.h). */

/* mcp_call_request for a stateless call: params stolen; key NULL numbers the request by its
 * order in the call. Returns 0, or -1 (the callback will not run; the call may have been answered
 * with an error: bad requestState or inputResponses, a capability the client lacks). */
int mcp_mrtr_ask(struct mcp_call *c, const char *key, const char *method, json_t *params,
                 mcp_reply_fn fn, void *arg);
/* From mcp_call_leave, when the last handler frame of an unanswered call returns: ends the round
 * with an InputRequiredResult if requests are waiting for answers and no answer is queued. */
void mcp_mrtr_idle(struct mcp_call *c);
/* From call_free. */
void mcp_mrtr_free(struct mcp_mrtr *m);

#endif
