/*
 * call_internal: the struct behind feature.h's opaque mcp_call, shared by call.c (its lifetime,
 * timers, server->client requests, request-scoped messages) and dispatch.c (method handlers).
 * Nothing outside those two files and tasks.c (which runs a call detached from its request)
 * includes this.
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
    uint64_t started_ms; /* loop time at creation: MAX_CALL_DURATION_MS counts from here */
    unsigned running;    /* > 0 while a handler function of this call is on the stack */
    bool answered;
    bool cancelled;
};

struct mcp_call *mcp_call_new(struct mcp_ctx *ctx, const struct mcp_session *sess,
                              const json_t *request, struct mcp_sink *sink);
/* Handler invocations are bracketed so that a call answered inside its handler is freed only
 * once the handler has returned. */
void mcp_call_enter(struct mcp_call *c);
void mcp_call_leave(struct mcp_call *c);

#endif
