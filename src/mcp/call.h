/*
 * call: what a transport sees of a call. A call's messages (request-scoped notifications,
 * server->client requests, the final response) go to the sink the transport gives
 * mcp_dispatch_request; the call's own machinery (lifetime, timers, server->client requests,
 * cancellation, the session's end) lives in call.c behind call_internal.h and feature.h.
 */
#ifndef MCPD_MCP_CALL_H
#define MCPD_MCP_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Where a call's messages go. emit takes the message (stolen). final marks the call's response
 * (msg NULL when the call was cancelled and gets no response); after a final emit the call is
 * gone. close_stream implements mcp_call_close_stream; it may be NULL. answer_cancel: a call
 * cancelled by notifications/cancelled ends with the error MCP_CANCELLED_MESSAGE as its final
 * message instead of NULL (a POST on /mcp, whose HTTP request must get an answer). */
struct mcp_call;

struct mcp_sink {
    void (*emit)(struct mcp_sink *sink, json_t *msg, bool final);
    void (*close_stream)(struct mcp_sink *sink, uint64_t retry_ms);
    bool answer_cancel;
    struct mcp_call *call; /* the call it serves, until that call's final emit (call.c sets it) */
};

/* The client the sink answers has gone (its connection closed before the answer): the call is
 * cancelled, as the 2026-07-28 revision reads a disconnect, and the sink gets its final emit
 * (NULL) before this returns. Nothing happens when the call has already ended. Only for a sink
 * that serves one call (a 2026-07-28 POST): in a sink shared by several calls (a batch, a legacy
 * /sse session) `call` names whichever began last. */
void mcp_call_sink_gone(struct mcp_sink *sink);

/* -32603 with this message answers a cancelled call of a sink with answer_cancel. */
#define MCP_CANCELLED_MESSAGE "Request cancelled: notifications/cancelled"

struct mcp_ctx;
/* Answer every waiting call of a 2026-07-28 request with a -32603 error carrying why (the end
 * of the shutdown grace period; session calls end through their live entries). */
void mcp_call_end_stateless(struct mcp_ctx *ctx, const char *why);

#endif
