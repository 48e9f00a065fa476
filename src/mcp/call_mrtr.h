/*
 * call_mrtr: the stateless (2026-07-28) side of mcp_call_request, shared by call.c only. A call
 * of a stateless session sends nothing to the client: each request its handler makes is looked
 * up by key in the retried request's inputResponses and in the answers carried forward inside
 * its verified requestState; a found answer is delivered to the handler's callback on a later
 * loop turn, as a reply would be. When the handler has nothing left to run and some requests
 * found no answer, the call ends with an InputRequiredResult asking for all of them at once,
 * with a new requestState carrying every answer used so far (request_state.h).
 */
#ifndef MCPD_MCP_CALL_MRTR_H
#define MCPD_MCP_CALL_MRTR_H

#include <jansson.h>

#include "mcp/feature.h"

struct mcp_mrtr;

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
