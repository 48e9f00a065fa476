/*
 * conformance_mrtr: the conformance pack's multi round-trip (input_required) fixtures, the tools
 * and prompt the alpha suite's input-required-result-* scenarios call. They ask through
 * mcp_call_request_as under the keys the scenarios name, so the same handlers send real
 * server->client requests to older sessions. Shared by conformance.c (its tables) only.
 */
#ifndef MCPD_MCP_FEATURES_CONFORMANCE_MRTR_H
#define MCPD_MCP_FEATURES_CONFORMANCE_MRTR_H

#include <jansson.h>
#include <stdbool.h>

#include "mcp/feature.h"

/* Listed only to 2026-07-28 (stateless) requests. */
bool conf_mrtr_offered(const struct mcp_call *c);

void conf_mrtr_elicitation(struct mcp_call *c, const json_t *args);
void conf_mrtr_sampling(struct mcp_call *c, const json_t *args);
void conf_mrtr_list_roots(struct mcp_call *c, const json_t *args);
void conf_mrtr_request_state(struct mcp_call *c, const json_t *args);
void conf_mrtr_multiple_inputs(struct mcp_call *c, const json_t *args);
void conf_mrtr_multi_round(struct mcp_call *c, const json_t *args);
void conf_mrtr_capabilities(struct mcp_call *c, const json_t *args);
void conf_mrtr_prompt(struct mcp_call *c, const json_t *args);

#define CONF_MRTR_TOOL(name_, desc_, fn_)                                                          \
    {                                                                                              \
        .name = name_, .description = desc_,                                                       \
        .input_schema = "{\"type\":\"object\",\"properties\":{}}", .call = fn_,                    \
        .offered = conf_mrtr_offered                                                               \
    }

/* The rows of the pack's tools table. */
#define CONF_MRTR_TOOLS                                                                            \
    CONF_MRTR_TOOL("test_input_required_result_elicitation",                                       \
                   "Asks for the user's name (elicitation, key user_name)",                        \
                   conf_mrtr_elicitation),                                                         \
        CONF_MRTR_TOOL("test_input_required_result_sampling",                                      \
                       "Asks the client's LLM a question (sampling, key capital_question)",        \
                       conf_mrtr_sampling),                                                        \
        CONF_MRTR_TOOL("test_input_required_result_list_roots",                                    \
                       "Asks for the client's roots (roots/list, key client_roots)",               \
                       conf_mrtr_list_roots),                                                      \
        CONF_MRTR_TOOL("test_input_required_result_request_state",                                 \
                       "Asks for a confirmation and checks the echoed requestState",               \
                       conf_mrtr_request_state),                                                   \
        CONF_MRTR_TOOL("test_input_required_result_tampered_state",                                \
                       "Asks for a confirmation; a tampered requestState is refused",              \
                       conf_mrtr_request_state),                                                   \
        CONF_MRTR_TOOL("test_input_required_result_multiple_inputs",                               \
                       "Asks elicitation, sampling and roots/list in one round",                   \
                       conf_mrtr_multiple_inputs),                                                 \
        CONF_MRTR_TOOL("test_input_required_result_multi_round",                                   \
                       "Asks twice, one round after the other (step1, step2)",                     \
                       conf_mrtr_multi_round),                                                     \
        CONF_MRTR_TOOL("test_input_required_result_capabilities",                                  \
                       "Asks only what the request's client capabilities allow",                   \
                       conf_mrtr_capabilities)

#define CONF_MRTR_PROMPTS                                                                          \
    {                                                                                              \
        "test_input_required_result_prompt", "Prompt Needing Input",                               \
            "A prompt that asks the user for context (elicitation, key user_context)", NULL,       \
            conf_mrtr_prompt                                                                       \
    }

#endif
