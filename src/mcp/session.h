/*
 * session: MCP sessions, in two halves. The stored half is the record every instance can read
 * (`session:{<sid>}`: owner, protocol version, client capabilities, log level) and
 * `session:{<sid>}:owner`, both with the session TTL refreshed on every request. The live half
 * (struct mcp_live) is what one instance holds for a session while it has work for it: calls in
 * progress, server->client requests awaiting replies, open SSE streams, and the subscriptions
 * (control channel for DELETE, toserver channel for replies) that reach them. A live entry
 * exists only while something holds a reference. Owns every key and channel name of a session.
 */
#ifndef MCPD_MCP_SESSION_H
#define MCPD_MCP_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcp/context.h"

#define MCP_SESSION_ID_MAX  64
#define MCP_LOG_LEVEL_COUNT 8

/* Every store key and channel of a session is named here and nowhere else (docs/architecture.md,
 * "Sessions and streams"), so one place says what a session keeps and where. Stream ids are at
 * most MCP_STREAM_ID_MAX (streams.h) characters, which fits. */
struct mcp_state_name {
    char s[MCP_SESSION_ID_MAX + 64];
};
/* Below, <sid> is the session id; keys wrap it in braces, a Redis hash tag (docs/redis-keys.md).
 * session:{<sid>}: the record (hash: owner, pv, caps, level, next_id). */
struct mcp_state_name mcp_key_record(const char *sid);
/* session:{<sid>}:owner: the owner alone (the reference server's key). */
struct mcp_state_name mcp_key_owner(const char *sid);
/* session:{<sid>}:subs: the set of subscribed resource URIs. */
struct mcp_state_name mcp_key_subscriptions(const char *sid);
/* session:{<sid>}:events:<stream>: one SSE stream's bounded event log. */
struct mcp_state_name mcp_key_event_log(const char *sid, const char *stream_id);
/* owner:{<sha256 of the owner>}:sessions: the user's sessions (hash: sid -> expiry, wall-clock
 * ms), the count behind MAX_SESSIONS_PER_USER; expired entries are pruned when it is checked. */
struct mcp_state_name mcp_key_user_sessions(const char *owner);
/* mcp:control:<sid>: DELETE tells every instance to end the session. */
struct mcp_state_name mcp_channel_control(const char *sid);
/* mcp:shttp:toserver:<sid>: the client's replies to server->client requests. */
struct mcp_state_name mcp_channel_replies(const char *sid);
/* mcp:shttp:toclient:<sid>:__GET_stream: messages for the session's standalone stream. */
struct mcp_state_name mcp_channel_standalone(const char *sid);
/* mcp:stream:<sid>:<stream>: live events of a detached stream, for a resume elsewhere. */
struct mcp_state_name mcp_channel_stream(const char *sid, const char *stream_id);
/* mcp:<sid>: legacy /message POSTs for the instance holding the /sse stream. */
struct mcp_state_name mcp_channel_legacy_inbox(const char *sid);

/* A snapshot of the stored record, loaded per request. */
struct mcp_session {
    char id[MCP_SESSION_ID_MAX + 1];
    char *owner;
    char *protocol_version;
    json_t *client_capabilities; /* parsed, or NULL until mcp_session_capabilities() */
    char *capabilities_json;     /* as stored (parsed only when needed), or NULL */
    int log_level;               /* index into mcp_log_levels, -1 when never set */
    bool legacy_sse;             /* opened by GET /sse (HTTP+SSE, 2024-11-05 transport) */
    /* A 2026-07-28 request: nothing is stored, id is empty, and protocol_version,
     * client_capabilities and log_level come from the request's own _meta. Calls of such a
     * "session" answer server->client needs with input_required results (MRTR) instead of
     * sending requests, and their results carry resultType. */
    bool stateless;
};

extern const char *const mcp_log_levels[MCP_LOG_LEVEL_COUNT];
int mcp_log_level_index(const char *name); /* -1 when unknown */

void mcp_session_free(struct mcp_session *s); /* the members, not s */
/* The client's capabilities from initialize (borrowed; {} when none). Parsed on first use:
 * most requests never look at them, and parsing on every load showed in profiles. */
const json_t *mcp_session_capabilities(struct mcp_session *s);
/* Deep copy into dst. */
void mcp_session_copy(struct mcp_session *dst, const struct mcp_session *src);
/* True if id is a well-formed session id (visible ASCII, bounded). */
bool mcp_session_id_valid(const char *id);

typedef void (*mcp_session_done_fn)(void *arg, int status);
/* status 0 and s filled (borrowed for the callback) when found; 1 when absent; < 0 on error. */
typedef void (*mcp_session_load_fn)(void *arg, int status, const struct mcp_session *s);

/* mcp_session_create's status when the owner already holds MAX_SESSIONS_PER_USER sessions. */
#define MCP_SESSION_LIMIT 1

/* Store a new session, once the owner's index has room for it (status MCP_SESSION_LIMIT when
 * not; without fn, no check). */
int mcp_session_create(struct mcp_ctx *ctx, const struct mcp_session *s, mcp_session_done_fn fn,
                       void *arg);
/* Rewrite an existing session's record (the legacy transport's initialize). */
int mcp_session_update(struct mcp_ctx *ctx, const struct mcp_session *s, mcp_session_done_fn fn,
                       void *arg);
int mcp_session_load(struct mcp_ctx *ctx, const char *sid, mcp_session_load_fn fn, void *arg);
/* SESSION_TTL_MS: how long a session lives after its last request. */
uint64_t mcp_session_ttl_ms(const struct mcp_ctx *ctx);
/* The keep-alive period of a session's SSE streams: 15 s, or half the TTL if shorter, so a
 * stream notices an expired session (GET /mcp) or refreshes it in time (/sse). */
uint64_t mcp_session_heartbeat_ms(const struct mcp_ctx *ctx);
/* Refresh the session's TTL and its slot in the owner's index (at most once a second per session
 * on this instance). */
void mcp_session_touch(struct mcp_ctx *ctx, const char *sid, const char *owner);
/* Free the touch cache (server shutdown). */
void mcp_session_forget_touches(struct mcp_ctx *ctx);
int mcp_session_set_log_level(struct mcp_ctx *ctx, const char *sid, int level);
/* Delete the stored record and tell every instance (control channel) to close its streams. */
int mcp_session_destroy(struct mcp_ctx *ctx, const char *sid, const char *owner,
                        mcp_session_done_fn fn, void *arg);
/* A notification for the session's standalone stream (GET /mcp or legacy /sse), wherever it is
 * open: published on mcp_channel_standalone(sid). Dropped when none is open, as the
 * reference server does. msg is borrowed. */
void mcp_session_notify(struct mcp_ctx *ctx, const char *sid, const json_t *msg);

/* The next id for a server->client request in this session (0, 1, 2, ...). */
typedef void (*mcp_session_id_fn)(void *arg, int status, long long id);
int mcp_session_next_request_id(struct mcp_ctx *ctx, const char *sid, mcp_session_id_fn fn,
                                void *arg);

/* ---- live half ---- */

struct mcp_live;

/* Something held for the session on this instance: an SSE stream, which must end when the
 * session ends (on_session_end; NULL for a POST stream, which its calls' answers end), or a
 * resumable POST stream's connection, which a resume elsewhere takes over (on_takeover, may be
 * NULL): stream_id is the stream resumed, by the token of the resume taking it over. */
struct mcp_live_member {
    void (*on_session_end)(struct mcp_live_member *m);
    void (*on_takeover)(struct mcp_live_member *m, const char *stream_id, const char *by);
    struct mcp_live_member *prev, *next;
};

/* Find (and with create, make) the live entry; the caller gets a reference. NULL if absent. */
struct mcp_live *mcp_live_acquire(struct mcp_ctx *ctx, const char *sid, bool create);
void mcp_live_release(struct mcp_live *l);
const char *mcp_live_sid(const struct mcp_live *l);
struct mcp_ctx *mcp_live_ctx(const struct mcp_live *l);

void mcp_live_add_member(struct mcp_live *l, struct mcp_live_member *m);
void mcp_live_remove_member(struct mcp_live *l, struct mcp_live_member *m);

/* A call in progress that waits (on a timer or on the client), registered by its client request
 * id. The session knows only these two ways to end it; the call module embeds one per call, so
 * the session never calls up into the call machinery. */
struct mcp_live_call {
    /* The session ended on every instance: answer the request with an error carrying why. */
    void (*on_session_end)(struct mcp_live_call *lc, const char *why);
    /* notifications/cancelled named the call: end it with no response. */
    void (*on_cancel)(struct mcp_live_call *lc);
};

int mcp_live_add_call(struct mcp_live *l, const json_t *request_id, struct mcp_live_call *lc);
void mcp_live_remove_call(struct mcp_live *l, const json_t *request_id);
/* Calls of the session waiting on this instance (MAX_CALLS_PER_SESSION counts these). */
size_t mcp_live_call_count(const struct mcp_live *l);
/* Cancel the call with that request id if it runs on this instance; false if there is none. */
bool mcp_live_cancel_call(struct mcp_live *l, const json_t *request_id);

/* Server->client requests awaiting a reply, by their id. fn gets the client's response message
 * (borrowed) or NULL on session end. The reply may be POSTed to another instance, which
 * publishes it on the session's replies channel: the request must not reach the client before
 * this instance listens there. Returns 1 when it already does (send the request now), 0 when
 * ready(arg) will run once it does (or cannot: send anyway, the request's timeout ends the wait),
 * -1 on failure. Neither callback runs after mcp_live_cancel_reply. */
typedef void (*mcp_live_reply_fn)(void *arg, const json_t *response);
typedef void (*mcp_live_ready_fn)(void *arg);
int mcp_live_await_reply(struct mcp_live *l, json_int_t id, mcp_live_reply_fn fn,
                         mcp_live_ready_fn ready, void *arg);
void mcp_live_cancel_reply(struct mcp_live *l, json_int_t id);

/* A response or error from the client for session sid: delivered here if this instance awaits
 * it, else published on the session's toserver channel for the instance that does. */
void mcp_live_route_reply(struct mcp_ctx *ctx, const char *sid, const json_t *response);
/* notifications/cancelled for session sid: the call is cancelled here if this instance runs it,
 * else the request id is published on the session's control channel for the instance that does.
 * A request id that names no call in progress anywhere is ignored. */
void mcp_live_route_cancel(struct mcp_ctx *ctx, const char *sid, const json_t *request_id);
/* A resume (token by) of POST stream stream_id takes it over: the connections that still carry
 * it, on this instance (at once) and on every other (the control channel), are ended, so each
 * event goes only to the connection the client now reads. */
void mcp_live_route_takeover(struct mcp_ctx *ctx, const char *sid, const char *stream_id,
                             const char *by);
/* If the stored session is gone (expired, or deleted where no control message reached us), end
 * what this instance still holds for it: its streams close and its calls are answered with a
 * -32603 error ("Request cancelled: session expired"), as DELETE's are ("... session deleted"). */
void mcp_session_check_alive(struct mcp_ctx *ctx, const char *sid);
/* Close every live session's streams (GET /mcp and /sse), leaving its calls running (the first
 * step of a graceful shutdown). */
void mcp_live_end_streams(struct mcp_ctx *ctx);
/* End every live session: streams close, calls still running are answered with a -32603
 * "Server shutting down" error (the end of the shutdown grace period). */
void mcp_live_end_all(struct mcp_ctx *ctx);

#endif
