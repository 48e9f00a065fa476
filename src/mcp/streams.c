#include "mcp/streams.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "app/config.h"
#include "app/metrics.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "http/http_response.h"
#include "mcp/jsonrpc.h"
#include "mcp/limits.h"
#include "mcp/session.h"
#include "mcp/transport_common.h"
#include "store/store.h"

#define MARK_EVENT 'E'
#define MARK_FINAL 'F'
/* An event larger than EVENT_LOG_ENTRY_MAX_BYTES that is not a response: its seq is logged (the
 * log's numbering must follow the stream's) but not its data, so a replay skips it. */
#define MARK_SKIPPED       'S'
#define MARK_SKIPPED_FINAL 'Z'
/* Live events a resume holds while its replay is read (docs/reliability.md, "Limits"). */
#define RESUME_HELD_MAX (4u * 1024 * 1024)

struct mcp_stream {
    struct mcp_ctx *ctx;
    char sid[MCP_SESSION_ID_MAX + 1];
    char id[MCP_STREAM_ID_MAX + 1];
    struct http_exchange *ex;
    uint64_t seq; /* last seq assigned */
};

static size_t log_max(const struct mcp_ctx *ctx)
{
    return ctx->cfg && ctx->cfg->event_log_max ? ctx->cfg->event_log_max : 256;
}

struct mcp_stream *mcp_stream_new(struct mcp_ctx *ctx, const char *sid, char kind,
                                  const char *stream_id, uint64_t first_seq)
{
    struct mcp_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = ctx;
    snprintf(s->sid, sizeof s->sid, "%s", sid);
    if (stream_id) {
        snprintf(s->id, sizeof s->id, "%s", stream_id);
    } else {
        s->id[0] = kind;
        crypto_random_hex(s->id + 1, 8);
    }
    s->seq = first_seq;
    if (ctx->metrics)
        metrics_stream_opened(ctx->metrics);
    return s;
}

void mcp_stream_free(struct mcp_stream *s)
{
    if (s && s->ctx->metrics)
        metrics_stream_closed(s->ctx->metrics);
    free(s);
}

const char *mcp_stream_id(const struct mcp_stream *s)
{
    return s->id;
}

void mcp_stream_attach(struct mcp_stream *s, struct http_exchange *ex)
{
    s->ex = ex;
}

static void event_id(char *out, const char *stream_id, uint64_t seq)
{
    snprintf(out, MCP_EVENT_ID_MAX, "%s:%" PRIu64, stream_id, seq);
}

int mcp_stream_prime(struct mcp_stream *s, uint64_t retry_ms)
{
    if (!s->ex)
        return -1;
    /* One event: the id to resume from, the reconnection delay, and empty data (SEP-1699). */
    char event[MCP_EVENT_ID_MAX + 64];
    int n = snprintf(event, sizeof event, "id: %s:%" PRIu64 "\nretry: %" PRIu64 "\ndata: \n\n",
                     s->id, s->seq, retry_ms);
    return http_stream_write(s->ex, event, (size_t)n);
}

/* What the log keeps of an event larger than EVENT_LOG_ENTRY_MAX_BYTES. Kept whole, such events
 * times EVENT_LOG_MAX would be held per stream for the session's life (a 1 MB progressToken once
 * made every progress event 1 MB). A response is replayed as an error with its id, so a client
 * that resumes still gets an answer to its request; a notification or request is skipped. */
static void append_placeholder(struct mcp_stream *s, struct buf *entry, const char *json,
                               size_t len, bool final)
{
    json_t *m = json_loadb(json, len, 0, NULL);
    const json_t *id = json_object_get(m, "id");
    bool response = id && (json_object_get(m, "result") || json_object_get(m, "error"));
    char *text = NULL;
    size_t n = 0;
    if (response) {
        json_t *err =
            jsonrpc_error(id, JSONRPC_INTERNAL_ERROR,
                          "Response too large to replay (EVENT_LOG_ENTRY_MAX_BYTES)", NULL);
        text = json_serialize(err, &n);
        json_decref(err);
    }
    if (text) {
        buf_append_char(entry, final ? MARK_FINAL : MARK_EVENT);
        buf_append(entry, text, n);
    } else {
        buf_append_char(entry, final ? MARK_SKIPPED_FINAL : MARK_SKIPPED);
    }
    free(text);
    json_decref(m);
    log_write(s->ctx->log, LOG_INFO, "event not kept in full for replay",
              json_pack("{s:I,s:I}", "bytes", (json_int_t)len, "limit",
                        (json_int_t)mcp_limit_event_bytes(s->ctx)));
}

int mcp_stream_emit(struct mcp_stream *s, const char *json, size_t len, bool final)
{
    uint64_t seq = ++s->seq;
    struct buf entry;
    buf_init(&entry, 0);
    buf_append_char(&entry, final ? MARK_FINAL : MARK_EVENT);
    buf_append(&entry, json, len);
    if (len <= mcp_limit_event_bytes(s->ctx)) {
        store_log_append(s->ctx->store, mcp_key_event_log(s->sid, s->id).s, entry.data, entry.len,
                         log_max(s->ctx), mcp_session_ttl_ms(s->ctx), NULL, NULL);
    } else {
        struct buf kept;
        buf_init(&kept, 0);
        append_placeholder(s, &kept, json, len, final);
        store_log_append(s->ctx->store, mcp_key_event_log(s->sid, s->id).s, kept.data, kept.len,
                         log_max(s->ctx), mcp_session_ttl_ms(s->ctx), NULL, NULL);
        buf_free(&kept);
    }
    int rc = 0;
    if (s->ex) {
        char id[MCP_EVENT_ID_MAX];
        event_id(id, s->id, seq);
        rc = http_sse_event(s->ex, id, "message", json, len);
    }
    /* A POST stream's events also go on its channel while its connection is still attached: a
     * client whose connection broke may resume on another instance before this one has noticed,
     * and an event written only to the dead connection after that instance read the log would be
     * lost. Appended first, published second on one connection: a resume subscribed before
     * reading the log (mcp_stream_resume) gets every event from one or the other. */
    if (s->id[0] == 'p') {
        struct buf msg;
        buf_init(&msg, 0);
        buf_printf(&msg, "%" PRIu64 " ", seq);
        buf_append(&msg, entry.data, entry.len);
        store_publish(s->ctx->store, mcp_channel_stream(s->sid, s->id).s, msg.data, msg.len, NULL,
                      NULL);
        buf_free(&msg);
    }
    buf_free(&entry);
    return rc;
}

int mcp_event_id_parse(const char *event_id, char *stream_id, size_t size, uint64_t *seq)
{
    const char *colon = strrchr(event_id, ':');
    if (!colon || colon == event_id || (size_t)(colon - event_id) >= size || !colon[1])
        return -1;
    if (event_id[0] != 'p' && event_id[0] != 'g')
        return -1;
    /* Digits only, as we write them: strtoull alone would take "-1" (as 2^64-1), "+5" and " 5". */
    uint64_t v = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    memcpy(stream_id, event_id, (size_t)(colon - event_id));
    stream_id[colon - event_id] = '\0';
    for (const char *p = stream_id + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return -1;
    *seq = v;
    return 0;
}

/* ---- resumption ---- */

enum resume_phase {
    RESUME_SUBSCRIBING, /* waiting for the live channel's subscription to be in effect */
    RESUME_READING,     /* the log read is in the store */
    RESUME_LIVE,        /* replay written; live events go straight to the client */
};

struct resume {
    struct mcp_live_member member; /* first: the session's end ends a followed POST stream */
    struct mcp_ctx *ctx;
    struct http_exchange *ex;
    char sid[MCP_SESSION_ID_MAX + 1];
    char stream_id[MCP_STREAM_ID_MAX + 1];
    uint64_t last_seq;
    enum resume_phase phase;
    bool aborted;     /* the client left while the replay read was in the store */
    bool unconfirmed; /* the subscription could not be confirmed: live events may be missed */
    bool begun;       /* the 200 and its event-stream headers are out */
    bool held_lost;   /* held passed its bound: live events were dropped */
    struct buf held;  /* live events that arrived before the replay was written: "len:msg"... */
    struct store_sub *sub;
    mcp_resume_follow_fn follow;
    char next_id[MCP_STREAM_ID_MAX + 1]; /* handed to follow */
    struct mcp_live *live; /* while following live events: the session, which can end us */
    uv_timer_t *heartbeat; /* while following: keep-alive and the session's liveness check */
};

static void heartbeat_closed(uv_handle_t *h)
{
    free(h);
}

static void resume_free(struct resume *r)
{
    if (r->sub)
        store_unsubscribe(r->sub);
    if (r->live) {
        mcp_live_remove_member(r->live, &r->member);
        mcp_live_release(r->live);
    }
    if (r->heartbeat) {
        uv_timer_stop(r->heartbeat);
        uv_close((uv_handle_t *)r->heartbeat, heartbeat_closed);
    }
    buf_free(&r->held);
    free(r);
}

/* Write one event unless already seen; returns true when the stream has ended. */
static bool resume_write(struct resume *r, uint64_t seq, const char *entry, size_t len)
{
    if (seq <= r->last_seq || len < 1)
        return false;
    r->last_seq = seq;
    if (entry[0] == MARK_SKIPPED || entry[0] == MARK_SKIPPED_FINAL)
        return entry[0] == MARK_SKIPPED_FINAL;
    char id[MCP_EVENT_ID_MAX];
    event_id(id, r->stream_id, seq);
    http_sse_event(r->ex, id, "message", entry + 1, len - 1);
    return entry[0] == MARK_FINAL;
}

static void resume_end(struct resume *r)
{
    http_exchange_set_abort(r->ex, NULL, NULL);
    if (r->begun)
        http_stream_end(r->ex);
    else /* the log could not be read */
        mcp_http_store_unavailable(r->ex, NULL);
    resume_free(r);
}

/* Before anything is sent: a Last-Event-ID past the first event of a stream that has no log in
 * this session names a stream we never gave this session (or one long expired). Refused at once
 * rather than followed: there is nothing to replay and nothing will ever come. */
static bool resume_refuse_unknown(struct resume *r, int status, size_t n)
{
    if (status != STORE_OK || n > 0 || r->last_seq == 0)
        return false;
    http_exchange_set_abort(r->ex, NULL, NULL);
    mcp_http_error(r->ex, 400, JSONRPC_SERVER_ERROR,
                   "Bad Request: Last-Event-ID names no stream of this session");
    log_write(r->ctx->log, LOG_WARNING, "resume of an unknown stream refused",
              json_pack("{s:s}", "stream", r->stream_id));
    resume_free(r);
    return true;
}

static void resume_abort(struct http_exchange *ex, void *arg)
{
    struct resume *r = arg;
    http_exchange_finish(ex);
    if (r->phase == RESUME_READING)
        r->aborted = true; /* on_replay frees r */
    else
        resume_free(r); /* unsubscribing also drops a pending ready */
}

static bool parse_live(const char *msg, size_t len, uint64_t *seq, const char **entry,
                       size_t *entry_len)
{
    const char *sp = memchr(msg, ' ', len);
    if (!sp)
        return false;
    *seq = strtoull(msg, NULL, 10);
    *entry = sp + 1;
    *entry_len = len - (size_t)(sp + 1 - msg);
    return true;
}

static void on_live(void *arg, const char *channel, const char *msg, size_t len)
{
    struct resume *r = arg;
    if (r->phase != RESUME_LIVE) { /* keep order: hold until the replay is written */
        size_t mark = r->held.len;
        if (r->held_lost)
            return;
        if (buf_printf(&r->held, "%zu:", len) != BUF_OK ||
            buf_append(&r->held, msg, len) != BUF_OK) {
            /* Past RESUME_HELD_MAX: keep only whole entries; the stream ends after the replay
             * and what was dropped is resumed from the log (on_replay). */
            r->held.len = mark;
            if (r->held.data)
                r->held.data[mark] = '\0';
            r->held_lost = true;
            log_write(r->ctx->log, LOG_WARNING, "resume: live events past the hold bound dropped",
                      json_pack("{s:s}", "stream", r->stream_id));
        }
        return;
    }
    uint64_t seq;
    const char *entry;
    size_t entry_len;
    if (parse_live(msg, len, &seq, &entry, &entry_len) && resume_write(r, seq, entry, entry_len))
        resume_end(r);
}

/* Held events are also in the log when they were published before the read; resume_write
 * skips what the replay already wrote. */
static bool flush_held(struct resume *r)
{
    size_t off = 0;
    while (off < r->held.len) {
        char *end;
        size_t n = strtoull(r->held.data + off, &end, 10);
        const char *msg = end + 1;
        off = (size_t)(msg - r->held.data) + n;
        uint64_t seq;
        const char *entry;
        size_t entry_len;
        if (parse_live(msg, n, &seq, &entry, &entry_len) && resume_write(r, seq, entry, entry_len))
            return true;
    }
    buf_reset(&r->held);
    return false;
}

static void on_session_end(struct mcp_live_member *m)
{
    struct resume *r = (struct resume *)m;
    if (r->ctx->shutting_down) /* the session goes on elsewhere: when to resume there */
        http_sse_retry(r->ex, r->ctx->cfg->sse_retry_ms);
    resume_end(r);
}

/* A later resume of the same POST stream (another token) takes over from this one. */
static void on_takeover(struct mcp_live_member *m, const char *stream_id, const char *by)
{
    struct resume *r = (struct resume *)m;
    if (strcmp(r->stream_id, stream_id) != 0 || strcmp(r->next_id, by) == 0)
        return;
    log_write(r->ctx->log, LOG_INFO, "resumed POST stream taken over by a later resume",
              json_pack("{s:s}", "stream", r->stream_id));
    resume_end(r);
}

static void on_heartbeat(uv_timer_t *t)
{
    struct resume *r = t->data;
    http_sse_comment(r->ex, "keepalive");
    mcp_session_check_alive(r->ctx, r->sid); /* an expired session ends us (on_session_end) */
}

/* A POST stream that has not ended waits for live events, for as long as its session lives:
 * nothing else ends it when the call it follows was lost with another instance. */
static void follow_live(struct resume *r)
{
    r->live = mcp_live_acquire(r->ctx, r->sid, true);
    r->heartbeat = malloc(sizeof *r->heartbeat);
    if (!r->live || !r->heartbeat) {
        free(r->heartbeat);
        r->heartbeat = NULL;
        resume_end(r);
        return;
    }
    r->member.on_session_end = on_session_end;
    r->member.on_takeover = on_takeover;
    mcp_live_add_member(r->live, &r->member);
    uv_timer_init(r->ctx->loop, r->heartbeat);
    r->heartbeat->data = r;
    uint64_t period = mcp_session_heartbeat_ms(r->ctx);
    uv_timer_start(r->heartbeat, on_heartbeat, period, period);
}

/* Whether the log holds the stream's final event (at any seq: a client may resume from it). */
static bool log_has_final(const struct store_log_entry *entries, size_t n)
{
    for (size_t i = n; i > 0; i--)
        if (entries[i - 1].len > 0 &&
            (entries[i - 1].data[0] == MARK_FINAL || entries[i - 1].data[0] == MARK_SKIPPED_FINAL))
            return true;
    return false;
}

static void on_replay(void *arg, int status, const struct store_log_entry *entries, size_t n)
{
    struct resume *r = arg;
    r->phase = RESUME_LIVE;
    if (r->aborted) {
        resume_free(r);
        return;
    }
    if (status != STORE_OK) {
        resume_end(r);
        return;
    }
    if (resume_refuse_unknown(r, status, n))
        return;
    http_sse_begin(r->ex, 200);
    r->begun = true;
    bool ended = false;
    for (size_t i = 0; i < n && !ended; i++)
        ended = resume_write(r, entries[i].seq, entries[i].data, entries[i].len);
    /* Without a confirmed subscription, or with live events dropped past the hold bound, a live
     * event may be missing: end here, and the client resumes again from the last id it got
     * rather than wait for what may never come (the log has it). A
     * stream whose final event is logged has nothing more to send, however far it resumes. */
    if (ended || log_has_final(entries, n) || flush_held(r) || r->unconfirmed || r->held_lost) {
        resume_end(r);
        return;
    }
    if (r->stream_id[0] == 'p') {
        follow_live(r);
        return;
    }
    if (r->stream_id[0] == 'g' && r->follow) {
        /* A standalone stream continues as a live GET stream from here. */
        struct http_exchange *ex = r->ex;
        http_exchange_set_abort(ex, NULL, NULL);
        r->follow(r->ctx, ex, r->sid, r->stream_id, r->next_id);
        resume_free(r);
    }
}

/* The whole retained log (it is bounded): resume_write skips what the client has, and a final
 * event at or before the client's seq still says the stream is over. */
static int resume_read(struct resume *r)
{
    r->phase = RESUME_READING;
    return store_log_read(r->ctx->store, mcp_key_event_log(r->sid, r->stream_id).s, 0,
                          log_max(r->ctx), on_replay, r);
}

/* The log is read only once the live channel's subscription is in effect: an event published
 * before that is in the log by then (appended before it was published), one published after
 * arrives live, so none falls between the two. */
static void on_subscribed(void *arg, int status)
{
    struct resume *r = arg;
    r->unconfirmed = status != STORE_OK;
    if (resume_read(r) != STORE_OK)
        resume_end(r);
}

/* The replay covers what the taken-over connection got; the follower hears the rest itself. */
static void hold_channel(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)arg, (void)channel, (void)msg, (void)len;
}

int mcp_stream_resume(struct mcp_ctx *ctx, struct http_exchange *ex, const char *sid,
                      const char *stream_id, uint64_t after_seq, const char *next_id,
                      mcp_resume_follow_fn follow)
{
    struct resume *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->ctx = ctx;
    r->ex = ex;
    snprintf(r->sid, sizeof r->sid, "%s", sid);
    snprintf(r->stream_id, sizeof r->stream_id, "%s", stream_id);
    r->last_seq = after_seq;
    r->follow = follow;
    snprintf(r->next_id, sizeof r->next_id, "%s", next_id ? next_id : "");
    buf_init(&r->held, RESUME_HELD_MAX);
    if (stream_id[0] == 'p') { /* only POST streams have a live channel to follow */
        r->phase = RESUME_SUBSCRIBING;
        r->sub = store_subscribe_confirmed(ctx->store, mcp_channel_stream(sid, stream_id).s,
                                           on_live, on_subscribed, r);
        if (!r->sub) {
            resume_free(r);
            return -1;
        }
    } else {
        /* A standalone stream taken over by this resume keeps its session's notification channel
         * subscribed here until the continuing GET stream follows it: the takeover ends the old
         * connection's subscription, and on Redis a channel left for a moment is subscribed
         * again only a round trip later, losing what is published meanwhile. */
        if (follow)
            r->sub = store_subscribe(ctx->store, mcp_channel_standalone(sid).s, hold_channel, r);
        if (resume_read(r) != STORE_OK) {
            resume_free(r);
            return -1;
        }
    }
    http_exchange_set_abort(ex, resume_abort, r);
    return 0;
}
