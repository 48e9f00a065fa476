/*
 * feature: the contract between the MCP dispatcher and feature packs (the tools, resources,
 * prompts and completions a server offers). A pack is a table of static descriptions plus
 * handler functions; the dispatcher owns listing, pagination, sessions, transports and JSON-RPC
 * framing, so a handler only sees one call (struct mcp_call) and answers it. Adding a tool is one
 * function and one table row. Handlers never touch libuv, HTTP or the store backend directly.
 *
 * A call is answered exactly once, with mcp_call_result or mcp_call_error, possibly later (after
 * mcp_call_after timers or a server->client request). If the call is cancelled (client
 * notifications/cancelled, session deleted, server shutdown) before it is answered, its pending
 * timers and requests are dropped, its state is freed and no handler callback runs again.
 */
#ifndef MCPD_MCP_FEATURE_H
#define MCPD_MCP_FEATURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mcp_call;
struct store;

/* ---- answering ---- */

/* Complete the call with a result object (reference stolen). */
void mcp_call_result(struct mcp_call *c, json_t *result);
/* Complete the call with a JSON-RPC error; data (stolen) may be NULL. */
void mcp_call_error(struct mcp_call *c, int code, const char *message, json_t *data);
/* Complete a tools/call with {"content":[{"type":"text","text":text}],"isError":true}. */
void mcp_call_tool_error(struct mcp_call *c, const char *text);

/* ---- request-scoped messages, written on the stream of the request that caused them ---- */

/* notifications/progress for the request's _meta.progressToken; does nothing without a token.
 * total < 0 and message NULL are omitted. */
void mcp_call_progress(struct mcp_call *c, double progress, double total, const char *message);
/* notifications/message at level ("debug" ... "emergency"), filtered by the session's
 * logging/setLevel; logger may be NULL; data is stolen. */
void mcp_call_log(struct mcp_call *c, const char *level, const char *logger, json_t *data);
/* Any notification; params stolen (may be NULL). */
void mcp_call_notify(struct mcp_call *c, const char *method, json_t *params);

/* A server->client request (sampling/createMessage, elicitation/create, roots/list) sent on this
 * call's stream. Exactly one of result/error is non-NULL (both borrowed). On timeout the error is
 * {"code":-32001,"message":"Request timed out"}. */
typedef void (*mcp_reply_fn)(struct mcp_call *c, const json_t *result, const json_t *error,
                             void *arg);
/* params stolen; timeout_ms 0 takes the configured default. Returns 0, or -1 (the callback will
 * not run).
 *
 * For a 2026-07-28 request (stateless, MRTR) nothing is sent: the handler is expected to run
 * again from the start on the client's retry and ask the same things in the same order. A request
 * whose answer the retry carries (its inputResponses, or the verified requestState for answers of
 * earlier rounds) gets its callback on a later loop turn; the others are collected, and once the
 * handler has nothing left to run the call ends with one InputRequiredResult asking for all of
 * them. Only tools/call, prompts/get and resources/read may ask (-1 elsewhere); a request whose
 * client capability (sampling, elicitation, roots) the request did not declare ends the call
 * with -32021, and a bad requestState or inputResponses with -32602 (both return -1). timeout_ms
 * does not apply. */
int mcp_call_request(struct mcp_call *c, const char *method, json_t *params, uint64_t timeout_ms,
                     mcp_reply_fn fn, void *arg);
/* The same, naming the request's key in inputRequests / inputResponses (at most 64 characters,
 * unique in the call); mcp_call_request numbers them ("elicitation-1", "sampling-2", ...). The
 * key is not used for older revisions. */
int mcp_call_request_as(struct mcp_call *c, const char *key, const char *method, json_t *params,
                        uint64_t timeout_ms, mcp_reply_fn fn, void *arg);

/* End the HTTP response carrying this call's stream now, without ending the call (SSE polling,
 * SEP-1699): the client receives a priming event and a retry hint, reconnects with GET and
 * Last-Event-ID, and gets the rest of the stream replayed, including the result. */
void mcp_call_close_stream(struct mcp_call *c, uint64_t retry_ms);

/* ---- waiting and state ---- */

typedef void (*mcp_timer_fn)(struct mcp_call *c, void *arg);
/* Run fn after ms milliseconds. Returns 0 or -1. */
int mcp_call_after(struct mcp_call *c, uint64_t ms, mcp_timer_fn fn, void *arg);
/* Per-call state for multi-step handlers; free_fn runs when the call ends either way. */
void mcp_call_set_state(struct mcp_call *c, void *state, void (*free_fn)(void *));
void *mcp_call_state(const struct mcp_call *c);

/* ---- what the handler may read ---- */

const json_t *mcp_call_params(const struct mcp_call *c); /* borrowed; never NULL ({} if absent) */
const char *mcp_call_method(const struct mcp_call *c);
const char *mcp_call_session_id(const struct mcp_call *c);
const char *mcp_call_user(const struct mcp_call *c); /* owner id ("anonymous" without auth) */
const char *mcp_call_protocol_version(const struct mcp_call *c);
/* The client's declared capabilities from initialize (borrowed, {} if none). */
const json_t *mcp_call_client_capabilities(const struct mcp_call *c);
/* True if the client declared capability path, e.g. "sampling", "elicitation",
 * "elicitation.form", "roots". */
bool mcp_call_client_supports(const struct mcp_call *c, const char *path);
struct store *mcp_call_store(const struct mcp_call *c);
/* MAX_CALL_DURATION_MS and MAX_TOOL_STEPS, for tools whose arguments say how long they run and
 * how much they send, so that they refuse what the server would end anyway. */
uint64_t mcp_call_max_duration_ms(const struct mcp_call *c);
unsigned mcp_call_max_tool_steps(const struct mcp_call *c);

/* ---- the pack tables ---- */

/* args is params.arguments (borrowed), NULL when the request had none. */
typedef void (*mcp_tool_fn)(struct mcp_call *c, const json_t *args);
/* args is params.arguments (borrowed), NULL when absent. */
typedef void (*mcp_prompt_fn)(struct mcp_call *c, const json_t *args);

struct mcp_tool {
    const char *name;
    const char *title; /* NULL: omitted */
    const char *description;
    const char *input_schema;  /* JSON text */
    const char *output_schema; /* JSON text or NULL */
    const char *annotations;   /* JSON text or NULL */
    mcp_tool_fn call;
    /* Listed (and callable) only for clients that declared this capability path, e.g.
     * "elicitation"; NULL for every client. */
    const char *requires_capability;
    /* A further gate for what a capability path cannot say, e.g. an extension's settings (its
     * identifier contains dots): listed and callable only when this returns true. NULL: none. */
    bool (*offered)(const struct mcp_call *c);
    /* The tool definition's _meta (JSON object text), e.g. the MCP Apps UI resource; NULL:
     * omitted. */
    const char *meta;
    /* The tasks extension (tasks.h): MCP_TASK_OPTIONAL runs the call as a task for clients that
     * declared the extension and synchronously for others; MCP_TASK_REQUIRED refuses the others
     * with -32021. The handler is the same either way: a task is a call whose sink is the task
     * record. MCP_TASK_HANDLER: the handler itself decides when to continue as a task
     * (mcp_tasks_escalate, tasks.h); refused -32021 like MCP_TASK_REQUIRED. */
    int task_support;
};

enum { MCP_TASK_NONE = 0, MCP_TASK_OPTIONAL = 1, MCP_TASK_REQUIRED = 2, MCP_TASK_HANDLER = 3 };

struct mcp_prompt {
    const char *name;
    const char *title; /* NULL: omitted */
    const char *description;
    const char *arguments; /* JSON array text, or NULL: omitted */
    mcp_prompt_fn get;
};

/* ---- session notifications outside any request (periodic timers) ----
 *
 * A notifier is a session's standalone stream: the GET /mcp stream, or the legacy /sse stream.
 * The instance holding it runs the packs' timers for that session and stops them
 * when the stream or the session ends. No stream, no timer work. */
struct mcp_notifier;

const char *mcp_notifier_session_id(const struct mcp_notifier *n);
/* Send a notification on the stream; params stolen (may be NULL). */
void mcp_notifier_send(struct mcp_notifier *n, const char *method, json_t *params);
/* notifications/message at level, filtered by the session's current logging/setLevel (read
 * from the store); logger may be NULL; data stolen. */
void mcp_notifier_log(struct mcp_notifier *n, const char *level, const char *logger, json_t *data);
/* The session's resource subscriptions (resources/subscribe), asynchronously; for a
 * subscriptions/listen stream its resourceSubscriptions, at once. uris is borrowed
 * for the callback; the callback does not run if the stream ended meanwhile. */
typedef void (*mcp_subscriptions_fn)(struct mcp_notifier *n, const char *const *uris, size_t count,
                                     void *arg);
int mcp_notifier_subscriptions(struct mcp_notifier *n, mcp_subscriptions_fn fn, void *arg);

struct mcp_pack_timer {
    const char *name;   /* for logs */
    uint64_t period_ms; /* the reference server's period; TIMER_SCALE_PERCENT scales it for tests */
    void (*fire)(struct mcp_notifier *n);
};

struct mcp_feature_pack {
    const char *name; /* "conformance", "reference" */
    /* serverInfo for initialize (the first pack enabled wins) */
    const char *server_name;
    const char *server_version;
    const char *instructions; /* NULL: omitted */
    /* capabilities object (JSON text); the dispatcher merges the packs' objects key by key */
    const char *capabilities;

    const struct mcp_tool *tools;
    size_t tool_count;

    /* Resources are enumerated, so a pack can generate them (the reference has 100). entry
     * returns a new reference to the resources/list entry for index i < count. */
    size_t (*resource_count)(void);
    json_t *(*resource_entry)(size_t i);
    /* resources/read: answer the call and return true if uri belongs to this pack, else return
     * false without touching the call. */
    bool (*resource_read)(struct mcp_call *c, const char *uri);
    /* resources/templates/list entries: a JSON array text, or NULL. */
    const char *resource_templates;
    /* resources/subscribe and unsubscribe: after the dispatcher has recorded the subscription,
     * the pack may answer the call itself (return true) or let the dispatcher answer {}. May be
     * NULL. */
    bool (*resource_subscribe)(struct mcp_call *c, const char *uri, bool subscribe);

    const struct mcp_prompt *prompts;
    size_t prompt_count;

    /* completion/complete: answer and return true if ref belongs to this pack. May be NULL. */
    bool (*complete)(struct mcp_call *c, const json_t *ref, const json_t *argument,
                     const json_t *context);

    /* Periodic notifications per session, run where the session's standalone stream is. */
    const struct mcp_pack_timer *timers;
    size_t timer_count;
};

/* The packs compiled into mcpd; names are looked up by --features. */
extern const struct mcp_feature_pack mcp_pack_conformance;
extern const struct mcp_feature_pack mcp_pack_reference;

#endif
