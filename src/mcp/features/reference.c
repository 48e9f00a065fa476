/*
 * reference: the pack that re-implements the MCP feature reference server
 * (`mcpd mcp --features reference`; see docs/reference-server.md). Scripts and
 * clients written against that server compare names, texts, schemas and bytes exactly, so every
 * one of them below and in the reference_*.c files mirrors the reference server. Deliberate
 * differences are those listed in docs/reference-server.md (list entries carry no contents;
 * sampling and subscribe work over /mcp).
 */
#include "mcp/features/reference_internal.h"

/* The reference server's capabilities, in this order, no listChanged. */
#define REF_CAPABILITIES                                                                           \
    "{\"prompts\":{},\"resources\":{\"subscribe\":true},\"tools\":{},\"logging\":{},"              \
    "\"completions\":{}}"

const struct mcp_feature_pack mcp_pack_reference = {
    .name = "reference",
    .server_name = "example-servers/feature-reference",
    .server_version = "1.0.0",
    .instructions = NULL,
    .capabilities = REF_CAPABILITIES,
    .tools = REF_TOOLS,
    .tool_count = REF_TOOL_COUNT,
    .resource_count = ref_resource_count,
    .resource_entry = ref_resource_entry,
    .resource_read = ref_resource_read,
    .resource_templates = REF_RESOURCE_TEMPLATES,
    .resource_subscribe = ref_resource_subscribe,
    .prompts = REF_PROMPTS,
    .prompt_count = REF_PROMPT_COUNT,
    .complete = ref_complete,
    .timers = REF_TIMERS,
    .timer_count = REF_TIMER_COUNT,
};
