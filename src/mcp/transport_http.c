#include "mcp/transport_http.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/metrics.h"
#include "app/config.h"
#include "lib/crypto.h"
#include "http/http_response.h"
#include "lib/json.h"
#include "lib/log.h"
#include "mcp/dispatch.h"
#include "mcp/jsonrpc.h"
#include "mcp/limits.h"
#include "mcp/notifier.h"
#include "mcp/session.h"
#include "mcp/stateless.h"
#include "mcp/streams.h"
#include "mcp/transport_common.h"
#include "store/store.h"

static bool header_has(const struct http_request *req, const char *name, const char *token)
{
    const char *v = http_request_header(req, name);
    return v && strcasestr(v, token);
}

/* RESPONSE_MODE: "json" answers with one JSON body unless a call streams; "sse" always
 * streams; "auto" streams for requests without MCP-Protocol-Version, as the reference server always
 * does, so scripts written against it (grep '^data: ') keep working, and gives clients that name
 * their revision the cheaper JSON answer. */
static bool wants_sse(const struct mcp_ctx *ctx, const struct http_request *req)
{
    const char *mode = ctx->cfg && ctx->cfg->response_mode ? ctx->cfg->response_mode : "auto";
    if (strcmp(mode, "sse") == 0)
        return true;
    if (strcmp(mode, "json") == 0)
        return false;
    return http_request_header(req, "mcp-protocol-version") == NULL;
}

static const char *effective_version(const struct http_request *req, const struct mcp_session *s)
{
    const char *v = http_request_header(req, "mcp-protocol-version");
    return v ? v : s->protocol_version;
}

/* ---- one POST with requests: the sink its calls write to ---- */

enum post_mode { MODE_UNDECIDED, MODE_JSON, MODE_SSE };

struct post {
    struct mcp_sink sink;
    struct mcp_ctx *ctx;
    struct http_exchange *ex; /* NULL once the client is gone or the stream was closed */
    char sid[MCP_SESSION_ID_MAX + 1];
    bool prime; /* the client speaks >= 2025-11-25: priming events and resumption */
    bool batch;
    bool dispatching;     /* requests are still being started */
    unsigned outstanding; /* calls not yet answered */
    enum post_mode mode;
    json_t *responses; /* answers collected while not streaming */
    struct mcp_stream *stream;
    size_t answer_bytes; /* a batch's answers so far, as JSON (MAX_BATCH_RESPONSE_BYTES) */
    /* While the stream's connection is open and a call waits: a resume of the stream elsewhere
     * takes it over (post_taken_over). */
    struct mcp_live_member member;
    struct mcp_live *live;
};

static void post_free(struct post *p)
{
    if (p->live) {
        mcp_live_remove_member(p->live, &p->member);
        mcp_live_release(p->live);
    }
    json_decref(p->responses);
    mcp_stream_free(p->stream);
    free(p);
}

/* A GET with Last-Event-ID resumed this POST's stream while its connection is still open: the
 * client reads the resumed connection now, so this one ends (a complete response) and the events
 * that follow reach the client only there (mcp_stream_emit publishes them for the resume). */
static void post_taken_over(struct mcp_live_member *m, const char *stream_id, const char *by)
{
    struct post *p = (struct post *)((char *)m - offsetof(struct post, member));
    (void)by;
    if (!p->ex || !p->stream || strcmp(mcp_stream_id(p->stream), stream_id) != 0)
        return;
    log_write(p->ctx->log, LOG_INFO, "POST stream taken over by a resume",
              json_pack("{s:s}", "stream", stream_id));
    http_exchange_set_abort(p->ex, NULL, NULL);
    http_stream_end(p->ex);
    p->ex = NULL;
    mcp_stream_attach(p->stream, NULL);
}

/* A resumable stream whose calls wait (they hold the session's live entry, so this subscribes to
 * nothing new) can be taken over. Looked for once the requests are started and on each event
 * before the answer (until found). */
static void post_join_live(struct post *p)
{
    if (p->live || !p->ex || !p->stream || !p->prime || p->outstanding == 0)
        return;
    p->live = mcp_live_acquire(p->ctx, p->sid, false);
    if (!p->live)
        return;
    p->member.on_takeover = post_taken_over;
    mcp_live_add_member(p->live, &p->member);
}

static void post_abort(struct http_exchange *ex, void *arg)
{
    struct post *p = arg;
    http_exchange_finish(ex);
    p->ex = NULL;
    if (p->stream)
        mcp_stream_attach(p->stream, NULL);
}

static void post_begin_stream(struct post *p)
{
    p->mode = MODE_SSE;
    p->stream = mcp_stream_new(p->ctx, p->sid, 'p', NULL, 0);
    if (p->ex) {
        http_response_header(p->ex, "Mcp-Session-Id", p->sid);
        http_sse_begin(p->ex, 200);
        mcp_stream_attach(p->stream, p->ex);
        if (p->prime)
            mcp_stream_prime(p->stream, p->ctx->cfg->sse_retry_ms);
    }
    /* Answers collected before the switch go first, in order. */
    size_t i;
    json_t *m;
    json_array_foreach(p->responses, i, m)
    {
        size_t len;
        char *text = json_serialize(m, &len);
        if (text)
            mcp_stream_emit(p->stream, text, len, false);
        free(text);
    }
    json_array_clear(p->responses);
}

static void post_complete(struct post *p)
{
    if (p->mode == MODE_SSE) {
        if (p->ex) {
            http_exchange_set_abort(p->ex, NULL, NULL);
            http_stream_end(p->ex);
        }
    } else if (p->ex) {
        http_exchange_set_abort(p->ex, NULL, NULL);
        /* Every request has its answer here: a call cancelled by notifications/cancelled too
         * (answer_cancel), since an empty body or a 202 is no answer to a POST of requests. */
        json_t *body =
            p->batch ? json_incref(p->responses) : json_incref(json_array_get(p->responses, 0));
        http_response_header(p->ex, "Mcp-Session-Id", p->sid);
        if (body)
            http_respond_json(p->ex, 200, body);
        else
            mcp_http_error(p->ex, 500, JSONRPC_INTERNAL_ERROR, "Internal error");
    }
    post_free(p);
}

/* MAX_BATCH_RESPONSE_BYTES: a batch of cheap requests with large answers (tools/list, reads)
 * would make one answer many times the request's size. Answers past the bound are replaced by
 * an error carrying their id, so every request of the batch is still answered. */
static json_t *batch_bound(struct post *p, json_t *msg)
{
    size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
    size_t max = mcp_limit_batch_response_bytes(p->ctx);
    if (p->answer_bytes + n <= max) {
        p->answer_bytes += n;
        return msg;
    }
    if (p->answer_bytes <= max) {
        log_write(p->ctx->log, LOG_WARNING,
                  "batch answer cut: larger than MAX_BATCH_RESPONSE_BYTES",
                  json_pack("{s:I}", "limit", (json_int_t)max));
        p->answer_bytes = max + 1; /* logged once per batch */
    }
    json_t *err = jsonrpc_error(json_object_get(msg, "id"), JSONRPC_INTERNAL_ERROR,
                                "Internal error: batch response larger than the server allows "
                                "(MAX_BATCH_RESPONSE_BYTES)",
                                NULL);
    json_decref(msg);
    return err;
}

static void post_emit(struct mcp_sink *sink, json_t *msg, bool final)
{
    struct post *p = (struct post *)sink;
    if (final)
        p->outstanding--;
    if (final && msg && p->batch)
        msg = batch_bound(p, msg);
    if (msg) {
        if (p->mode != MODE_SSE && !final)
            post_begin_stream(p);
        if (!final)
            post_join_live(p);
        if (p->mode == MODE_SSE) {
            size_t len;
            char *text = json_serialize(msg, &len);
            bool last = final && p->outstanding == 0 && !p->dispatching;
            if (text)
                mcp_stream_emit(p->stream, text, len, last);
            free(text);
            json_decref(msg);
        } else {
            json_array_append_new(p->responses, msg);
        }
    }
    if (p->outstanding == 0 && !p->dispatching)
        post_complete(p);
}

static void post_close_stream(struct mcp_sink *sink, uint64_t retry_ms)
{
    struct post *p = (struct post *)sink;
    if (!p->prime)
        return; /* an older client cannot resume, so the stream must stay open */
    if (p->mode != MODE_SSE)
        post_begin_stream(p);
    if (!p->ex)
        return;
    if (retry_ms)
        http_sse_retry(p->ex, retry_ms);
    http_exchange_set_abort(p->ex, NULL, NULL);
    http_stream_end(p->ex);
    p->ex = NULL;
    mcp_stream_attach(p->stream, NULL);
}

static void run_requests(struct mcp_ctx *ctx, struct http_exchange *ex, const struct mcp_session *s,
                         json_t *body, unsigned request_count)
{
    struct post *p = calloc(1, sizeof *p);
    if (!p) {
        mcp_http_error(ex, 500, JSONRPC_INTERNAL_ERROR, "Internal error");
        return;
    }
    p->sink.emit = post_emit;
    p->sink.close_stream = post_close_stream;
    p->sink.answer_cancel = true; /* never an empty answer to a POST (post_complete) */
    p->ctx = ctx;
    p->ex = ex;
    snprintf(p->sid, sizeof p->sid, "%s", s->id);
    const char *version = effective_version(http_exchange_request(ex), s);
    p->prime = mcp_protocol_cmp(version, "2025-11-25") >= 0;
    p->batch = json_is_array(body);
    p->responses = json_array();
    p->outstanding = request_count;
    p->dispatching = true;
    http_exchange_set_abort(ex, post_abort, p);
    if (wants_sse(ctx, http_exchange_request(ex)))
        post_begin_stream(p);
    if (p->batch) {
        size_t i;
        json_t *m;
        json_array_foreach(body, i, m) if (jsonrpc_classify(m, NULL) == JSONRPC_REQUEST)
            mcp_dispatch_request(ctx, s, m, &p->sink);
    } else {
        mcp_dispatch_request(ctx, s, body, &p->sink);
    }
    p->dispatching = false;
    if (p->outstanding == 0)
        post_complete(p);
    else
        post_join_live(p);
}

/* ---- POST ---- */

struct post_load {
    struct mcp_ctx *ctx;
    struct http_exchange *ex;
    json_t *body;
    char *user;
};

/* Another user's session, or one of the legacy transport, is "not found" here: never reveal
 * which. */
static bool owner_matches(const struct mcp_session *s, const char *user)
{
    return s->owner && user && strcmp(s->owner, user) == 0 && !s->legacy_sse;
}

/* -1 (invalid request), or the code of a bound the POST breaks (its why set), or 0. */
static int count_messages(const struct mcp_ctx *ctx, json_t *body, const struct mcp_session *s,
                          unsigned *requests, const char **why)
{
    json_t *one[1] = {body};
    json_t **items = one;
    size_t n = 1;
    if (json_is_array(body)) {
        if (strcmp(s->protocol_version, "2025-03-26") != 0) {
            *why = "Invalid Request: batches are only allowed in protocol version 2025-03-26";
            return -1;
        }
        n = json_array_size(body);
        if (n == 0) {
            *why = "Invalid Request: empty batch";
            return -1;
        }
        if (n > mcp_limit_batch_entries(ctx)) {
            *why = "Invalid Request: batch has more entries than the server allows "
                   "(MAX_BATCH_ENTRIES)";
            return -1;
        }
    }
    *requests = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_is_array(body) ? json_array_get(body, i) : items[i];
        enum jsonrpc_kind kind = jsonrpc_classify(m, why);
        if (kind == JSONRPC_INVALID)
            return -1;
        if (kind == JSONRPC_REQUEST &&
            strcmp(json_string_value(json_object_get(m, "method")), "initialize") == 0) {
            *why = "Invalid Request: Server already initialized";
            return -1;
        }
        int code = kind == JSONRPC_REQUEST ? mcp_dispatch_check_request(ctx, m, why) : 0;
        if (code != 0)
            return code;
        *requests += kind == JSONRPC_REQUEST;
    }
    return 0;
}

static void deliver_non_requests(struct mcp_ctx *ctx, const struct mcp_session *s, json_t *m)
{
    switch (jsonrpc_classify(m, NULL)) {
    case JSONRPC_RESPONSE:
    case JSONRPC_ERROR:
        mcp_live_route_reply(ctx, s->id, m);
        break;
    case JSONRPC_NOTIFICATION:
        mcp_dispatch_notification(ctx, s, m);
        break;
    default:
        break;
    }
}

static void post_with_session(struct post_load *pl, const struct mcp_session *s)
{
    const char *why = "Invalid Request";
    unsigned requests = 0;
    int code = count_messages(pl->ctx, pl->body, s, &requests, &why);
    if (code != 0) {
        if (code != -1) /* a bound, not a malformed message: worth an operator's attention */
            log_write(pl->ctx->log, LOG_WARNING, "request refused", json_pack("{s:s}", "why", why));
        mcp_http_error(pl->ex, 400, code == -1 ? JSONRPC_INVALID_REQUEST : code, why);
        return;
    }
    mcp_session_touch(pl->ctx, s->id, s->owner);
    if (json_is_array(pl->body)) {
        size_t i;
        json_t *m;
        json_array_foreach(pl->body, i, m) deliver_non_requests(pl->ctx, s, m);
    } else {
        deliver_non_requests(pl->ctx, s, pl->body);
    }
    if (requests == 0)
        http_respond_empty(pl->ex, 202);
    else
        run_requests(pl->ctx, pl->ex, s, pl->body, requests);
}

static void post_load_free(struct post_load *pl)
{
    json_decref(pl->body);
    free(pl->user);
    free(pl);
}

static void on_post_session(void *arg, int status, const struct mcp_session *s)
{
    struct post_load *pl = arg;
    if (http_exchange_closed(pl->ex))
        http_exchange_finish(pl->ex);
    else if (status < 0) /* a batch has no one id to echo */
        mcp_http_store_unavailable(pl->ex, json_object_get(pl->body, "id"));
    else if (status > 0 || !owner_matches(s, pl->user))
        mcp_http_error(pl->ex, 404, MCP_ERROR_SESSION_NOT_FOUND, "Session not found");
    else
        post_with_session(pl, s);
    post_load_free(pl);
}

/* ---- initialize ---- */

struct init {
    struct mcp_ctx *ctx;
    struct http_exchange *ex;
    json_t *id;
    char sid[CRYPTO_UUID_SIZE];
    const char *version;
};

static void on_session_created(void *arg, int status)
{
    struct init *in = arg;
    if (in->ctx->metrics) /* initialize is answered here, not as a call */
        metrics_count_call(in->ctx->metrics, "initialize",
                           status == 0 ? METRICS_CALL_OK : METRICS_CALL_ERROR);
    if (http_exchange_closed(in->ex)) {
        http_exchange_finish(in->ex);
    } else if (status == MCP_SESSION_LIMIT) {
        http_respond_json(in->ex, 429,
                          jsonrpc_error(in->id, JSONRPC_SERVER_ERROR,
                                        "Too many sessions for this user (MAX_SESSIONS_PER_USER)",
                                        NULL));
    } else if (status != 0) {
        mcp_http_store_unavailable(in->ex, in->id);
    } else {
        json_t *result = mcp_dispatch_initialize_result(in->ctx->dispatch, in->version);
        json_t *msg = jsonrpc_result(in->id, result);
        http_response_header(in->ex, "Mcp-Session-Id", in->sid);
        if (wants_sse(in->ctx, http_exchange_request(in->ex))) {
            /* One event, nothing to resume: the reference server's framing without an event id. */
            size_t len = 0;
            char *text = json_serialize(msg, &len);
            http_sse_begin(in->ex, 200);
            if (text)
                http_sse_event(in->ex, NULL, "message", text, len);
            http_stream_end(in->ex);
            free(text);
            json_decref(msg);
        } else {
            http_respond_json(in->ex, 200, msg);
        }
    }
    json_decref(in->id);
    free(in);
}

static void handle_initialize(struct mcp_ctx *ctx, struct http_exchange *ex, json_t *msg,
                              const char *user)
{
    json_t *params = json_object_get(msg, "params");
    const char *requested = json_get_string(params, "protocolVersion");
    json_t *caps = json_object_get(params, "capabilities");
    if (!requested || (caps && !json_is_object(caps))) {
        http_respond_json(ex, 400,
                          jsonrpc_error(json_object_get(msg, "id"), JSONRPC_INVALID_PARAMS,
                                        "Invalid params: protocolVersion must be a string and "
                                        "capabilities an object",
                                        NULL));
        return;
    }
    const char *why = NULL;
    int code = mcp_dispatch_check_request(ctx, msg, &why);
    if (code == 0 && !mcp_dispatch_capabilities_fit(ctx, caps)) {
        code = JSONRPC_INVALID_PARAMS;
        why = "Invalid params: capabilities larger than the server allows "
              "(MAX_CAPABILITIES_BYTES)";
    }
    if (code != 0) {
        log_write(ctx->log, LOG_WARNING, "initialize refused", json_pack("{s:s}", "why", why));
        /* An id past the bound is not echoed: that is what the bound is for. */
        const json_t *id = code == JSONRPC_INVALID_REQUEST ? NULL : json_object_get(msg, "id");
        http_respond_json(ex, 400, jsonrpc_error(id, code, why, NULL));
        return;
    }
    struct init *in = calloc(1, sizeof *in);
    if (!in || crypto_uuid4(in->sid) != 0) {
        free(in);
        mcp_http_error(ex, 500, JSONRPC_INTERNAL_ERROR, "Internal error");
        return;
    }
    in->ctx = ctx;
    in->ex = ex;
    in->id = json_incref(json_object_get(msg, "id"));
    in->version = mcp_protocol_negotiate(requested);
    struct mcp_session s = {.owner = (char *)user,
                            .protocol_version = (char *)in->version,
                            .client_capabilities = caps,
                            .log_level = -1};
    snprintf(s.id, sizeof s.id, "%s", in->sid);
    if (mcp_session_create(ctx, &s, on_session_created, in) != 0) {
        mcp_http_store_unavailable(ex, in->id);
        json_decref(in->id);
        free(in);
    }
}

static bool is_initialize(const json_t *body)
{
    return jsonrpc_classify(body, NULL) == JSONRPC_REQUEST &&
           strcmp(json_string_value(json_object_get(body, "method")), "initialize") == 0;
}

static void handle_post(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user)
{
    const struct http_request *req = http_exchange_request(ex);
    if (!header_has(req, "accept", "application/json") ||
        !header_has(req, "accept", "text/event-stream")) {
        mcp_http_error(ex, 406, JSONRPC_SERVER_ERROR,
                       "Not Acceptable: Client must accept both application/json and "
                       "text/event-stream");
        return;
    }
    if (!http_request_media_type_is(req, "application/json")) {
        mcp_http_error(ex, 415, JSONRPC_SERVER_ERROR,
                       "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    json_t *body = mcp_http_parse_body(ex);
    if (!body)
        return;
    if (mcp_stateless_detect(req, body)) { /* 2026-07-28: no session, whatever the headers */
        mcp_stateless_post(ctx, ex, user, body);
        return;
    }
    const char *sid = http_request_header(req, "mcp-session-id");
    if (!sid) {
        if (is_initialize(body) && !ctx->shutting_down)
            handle_initialize(ctx, ex, body, user);
        else if (ctx->shutting_down)
            mcp_http_error(ex, 503, JSONRPC_SERVER_ERROR, "Server is shutting down");
        else
            mcp_http_error(ex, 400, JSONRPC_SERVER_ERROR,
                           "Bad Request: Mcp-Session-Id header is required");
        json_decref(body);
        return;
    }
    const char *version = http_request_header(req, "mcp-protocol-version");
    if (version && !mcp_protocol_supported(version)) {
        json_decref(body);
        mcp_http_error(ex, 400, JSONRPC_SERVER_ERROR,
                       "Bad Request: Unsupported protocol version (supported versions: "
                       "2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)");
        return;
    }
    if (!mcp_session_id_valid(sid)) {
        json_decref(body);
        mcp_http_error(ex, 404, MCP_ERROR_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    struct post_load *pl = calloc(1, sizeof *pl);
    pl->ctx = ctx;
    pl->ex = ex;
    pl->body = body;
    pl->user = strdup(user);
    if (mcp_session_load(ctx, sid, on_post_session, pl) != 0) {
        mcp_http_store_unavailable(ex, json_object_get(body, "id"));
        post_load_free(pl);
    }
}

/* ---- GET: the standalone stream ---- */

struct get_stream {
    struct mcp_live_member member; /* first: the member pointer is the stream */
    struct mcp_ctx *ctx;
    struct http_exchange *ex;
    struct mcp_stream *stream;
    struct mcp_live *live;
    struct store_sub *sub;
    struct mcp_notifier *notifier; /* the packs' periodic notifications, while open */
    uv_timer_t heartbeat;
    char from[MCP_STREAM_ID_MAX + 1]; /* the stream this one continues after a resume, or "" */
};

/* A resume of a GET stream takes it over: the connection still serving it (on any instance, or
 * one that continues it after an earlier resume) is ended, so no two connections carry the
 * session's notifications as that stream. Sent on the standalone channel, which every GET stream
 * of the session follows, as TAKEOVER_MARK + "<stream id> <id of the stream taking over>" (a
 * JSON message never starts so); the new stream ignores its own, which can reach it when its
 * instance already follows the channel. */
#define TAKEOVER_MARK "\x1ftakeover "

static void get_stream_takeover(struct mcp_ctx *ctx, const char *sid, const char *stream_id,
                                const char *by)
{
    char msg[sizeof TAKEOVER_MARK + 2 * MCP_STREAM_ID_MAX + 1];
    int n = snprintf(msg, sizeof msg, TAKEOVER_MARK "%s %s", stream_id, by);
    store_publish(ctx->store, mcp_channel_standalone(sid).s, msg, (size_t)n, NULL, NULL);
}

static bool is_takeover_of(const struct get_stream *g, const char *msg, size_t len)
{
    size_t mark = sizeof TAKEOVER_MARK - 1;
    if (len <= mark || memcmp(msg, TAKEOVER_MARK, mark) != 0)
        return false;
    const char *id = msg + mark;
    const char *sp = memchr(id, ' ', len - mark);
    if (!sp)
        return false;
    size_t n = (size_t)(sp - id), by_len = len - mark - n - 1;
    const char *own = mcp_stream_id(g->stream);
    if (strlen(own) == by_len && memcmp(own, sp + 1, by_len) == 0)
        return false; /* our own */
    return (strlen(own) == n && memcmp(own, id, n) == 0) ||
           (strlen(g->from) == n && memcmp(g->from, id, n) == 0);
}

static void get_stream_closed(uv_handle_t *h)
{
    free(h->data);
}

/* end_response: true to end the HTTP response (session over), false when the client left. */
static void get_stream_close(struct get_stream *g, bool end_response)
{
    if (g->sub)
        store_unsubscribe(g->sub);
    g->sub = NULL;
    mcp_notifier_stop(g->notifier);
    g->notifier = NULL;
    mcp_live_remove_member(g->live, &g->member);
    http_exchange_set_abort(g->ex, NULL, NULL);
    if (end_response)
        http_stream_end(g->ex);
    else
        http_exchange_finish(g->ex);
    mcp_stream_free(g->stream);
    uv_timer_stop(&g->heartbeat);
    uv_close((uv_handle_t *)&g->heartbeat, get_stream_closed);
    mcp_live_release(g->live);
}

static void get_stream_abort(struct http_exchange *ex, void *arg)
{
    get_stream_close(arg, false);
}

static void get_stream_session_end(struct mcp_live_member *m)
{
    struct get_stream *g = (struct get_stream *)m;
    /* Ended by a shutdown, not by the session: say when to come back (to another instance). */
    if (g->ctx->shutting_down)
        http_sse_retry(g->ex, g->ctx->cfg->sse_retry_ms);
    get_stream_close(g, true);
}

static void get_stream_message(void *arg, const char *channel, const char *msg, size_t len)
{
    struct get_stream *g = arg;
    if (len > 0 && msg[0] == TAKEOVER_MARK[0]) {
        if (is_takeover_of(g, msg, len)) {
            log_write(g->ctx->log, LOG_INFO, "GET stream taken over by a resume",
                      json_pack("{s:s}", "stream", mcp_stream_id(g->stream)));
            get_stream_close(g, true);
        }
        return;
    }
    if (mcp_stream_emit(g->stream, msg, len, false) == HTTP_ERR_OVERFLOW)
        return; /* the connection is being closed; the abort callback cleans up */
}

static void get_stream_write(void *arg, const char *json, size_t len)
{
    struct get_stream *g = arg;
    mcp_stream_emit(g->stream, json, len, false);
}

static void get_stream_heartbeat(uv_timer_t *t)
{
    struct get_stream *g = t->data;
    http_sse_comment(g->ex, "keepalive");
    /* Open GET streams do not keep a session alive (the reference server's rule: only messages do);
     * when it expires, end the stream and its timers instead of serving a dead session. */
    mcp_session_check_alive(g->ctx, mcp_live_sid(g->live));
}

/* Start (or, after a resume, continue) the standalone stream on ex, SSE already begun. */
static void get_stream_start(struct mcp_ctx *ctx, struct http_exchange *ex, const char *sid,
                             const char *from, const char *id, bool prime)
{
    /* Shutdown has already ended the standalone streams; one resumed since would hold the
     * exit until the grace period ends. */
    struct get_stream *g = ctx->shutting_down ? NULL : calloc(1, sizeof *g);
    if (!g) {
        http_stream_end(ex);
        return;
    }
    g->ctx = ctx;
    g->ex = ex;
    g->live = mcp_live_acquire(ctx, sid, true);
    g->stream = mcp_stream_new(ctx, sid, 'g', id, 0);
    snprintf(g->from, sizeof g->from, "%s", from ? from : "");
    if (!g->live || !g->stream) {
        mcp_live_release(g->live);
        mcp_stream_free(g->stream);
        free(g);
        http_stream_end(ex);
        return;
    }
    mcp_stream_attach(g->stream, ex);
    if (prime)
        mcp_stream_prime(g->stream, ctx->cfg->sse_retry_ms);
    g->sub = store_subscribe(ctx->store, mcp_channel_standalone(sid).s, get_stream_message, g);
    g->notifier = mcp_notifier_start(ctx, sid, get_stream_write, g);
    g->member.on_session_end = get_stream_session_end;
    mcp_live_add_member(g->live, &g->member);
    uv_timer_init(ctx->loop, &g->heartbeat);
    g->heartbeat.data = g;
    uint64_t period = mcp_session_heartbeat_ms(ctx);
    uv_timer_start(&g->heartbeat, get_stream_heartbeat, period, period);
    http_exchange_set_abort(ex, get_stream_abort, g);
}

/* After the replay a resumed GET stream goes on live under a new id: its old connection may
 * still be writing (until the takeover reaches it, possibly on another instance), and two
 * connections must never number events of one stream. */
static void get_follow(struct mcp_ctx *ctx, struct http_exchange *ex, const char *sid,
                       const char *stream_id, const char *next_id)
{
    get_stream_start(ctx, ex, sid, stream_id, next_id, false);
}

/* GET with a non-empty Last-Event-ID (an empty one, as in the SSE standard, is no id). */
static void get_resume(struct mcp_ctx *ctx, struct http_exchange *ex, const char *sid,
                       const char *last)
{
    char stream_id[MCP_STREAM_ID_MAX + 1];
    uint64_t seq = 0;
    if (mcp_event_id_parse(last, stream_id, sizeof stream_id, &seq) != 0) {
        mcp_http_error(ex, 400, JSONRPC_SERVER_ERROR,
                       "Bad Request: Last-Event-ID is not an event id of this server");
        return;
    }
    char next_id[MCP_STREAM_ID_MAX + 1] = "g";
    crypto_random_hex(next_id + 1, 8);
    if (stream_id[0] != 'g') /* next_id, unused by a POST stream, names this resume */
        mcp_live_route_takeover(ctx, sid, stream_id, next_id);
    if (mcp_stream_resume(ctx, ex, sid, stream_id, seq, next_id, get_follow) != 0) {
        mcp_http_store_unavailable(ex, NULL);
        return;
    }
    /* A GET stream's takeover goes out once the resume holds the session's channel. */
    if (stream_id[0] == 'g')
        get_stream_takeover(ctx, sid, stream_id, next_id);
}

struct sid_load {
    struct mcp_ctx *ctx;
    struct http_exchange *ex;
    char *user;
};

static void on_get_session(void *arg, int status, const struct mcp_session *s)
{
    struct sid_load *sl = arg;
    struct http_exchange *ex = sl->ex;
    if (http_exchange_closed(ex)) {
        http_exchange_finish(ex);
    } else if (status < 0) {
        mcp_http_store_unavailable(ex, NULL);
    } else if (status > 0 || !owner_matches(s, sl->user)) {
        mcp_http_error(ex, 404, MCP_ERROR_SESSION_NOT_FOUND, "Session not found");
    } else if (sl->ctx->shutting_down) {
        mcp_http_error(ex, 503, JSONRPC_SERVER_ERROR, "Server is shutting down");
    } else {
        const struct http_request *req = http_exchange_request(ex);
        const char *last = http_request_header(req, "last-event-id");
        mcp_session_touch(sl->ctx, s->id, s->owner);
        http_response_header(ex, "Mcp-Session-Id", s->id);
        if (last && *last) {
            get_resume(sl->ctx, ex, s->id, last);
        } else {
            bool prime = mcp_protocol_cmp(effective_version(req, s), "2025-11-25") >= 0;
            http_sse_begin(ex, 200);
            get_stream_start(sl->ctx, ex, s->id, NULL, NULL, prime);
        }
    }
    free(sl->user);
    free(sl);
}

/* ---- DELETE ---- */

static void on_deleted(void *arg, int status)
{
    struct http_exchange *ex = arg;
    if (http_exchange_closed(ex))
        http_exchange_finish(ex);
    else if (status != 0)
        mcp_http_store_unavailable(ex, NULL);
    else
        http_respond_empty(ex, 200);
}

static void on_delete_session(void *arg, int status, const struct mcp_session *s)
{
    struct sid_load *sl = arg;
    struct http_exchange *ex = sl->ex;
    if (http_exchange_closed(ex))
        http_exchange_finish(ex);
    else if (status < 0)
        mcp_http_store_unavailable(ex, NULL);
    else if (status > 0 || !owner_matches(s, sl->user))
        mcp_http_error(ex, 404, MCP_ERROR_SESSION_NOT_FOUND, "Session not found");
    else if (mcp_session_destroy(sl->ctx, s->id, s->owner, on_deleted, ex) != 0)
        mcp_http_store_unavailable(ex, NULL);
    free(sl->user);
    free(sl);
}

/* ---- entry ---- */

static void with_session(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user,
                         mcp_session_load_fn fn)
{
    const struct http_request *req = http_exchange_request(ex);
    const char *sid = http_request_header(req, "mcp-session-id");
    const char *version = http_request_header(req, "mcp-protocol-version");
    if (!sid) {
        mcp_http_error(ex, 400, JSONRPC_SERVER_ERROR,
                       "Bad Request: Mcp-Session-Id header is required");
        return;
    }
    if (version && !mcp_protocol_supported(version)) {
        mcp_http_error(ex, 400, JSONRPC_SERVER_ERROR,
                       "Bad Request: Unsupported protocol version (supported versions: "
                       "2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)");
        return;
    }
    if (!mcp_session_id_valid(sid)) {
        mcp_http_error(ex, 404, MCP_ERROR_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    struct sid_load *sl = calloc(1, sizeof *sl);
    sl->ctx = ctx;
    sl->ex = ex;
    sl->user = strdup(user);
    if (mcp_session_load(ctx, sid, fn, sl) != 0) {
        free(sl->user);
        free(sl);
        mcp_http_store_unavailable(ex, NULL);
    }
}

void mcp_http_handle(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user)
{
    const struct http_request *req = http_exchange_request(ex);
    if (strcmp(req->method, "POST") == 0) {
        handle_post(ctx, ex, user);
    } else if ((strcmp(req->method, "GET") == 0 || strcmp(req->method, "DELETE") == 0) &&
               mcp_stateless_refuses(req)) {
        mcp_stateless_method_not_allowed(ex);
    } else if (strcmp(req->method, "GET") == 0) {
        if (!header_has(req, "accept", "text/event-stream"))
            mcp_http_error(ex, 406, JSONRPC_SERVER_ERROR,
                           "Not Acceptable: Client must accept text/event-stream");
        else
            with_session(ctx, ex, user, on_get_session);
    } else if (strcmp(req->method, "DELETE") == 0) {
        with_session(ctx, ex, user, on_delete_session);
    } else {
        http_response_header(ex, "Allow", "GET, POST, DELETE");
        mcp_http_error(ex, 405, JSONRPC_SERVER_ERROR, "Method not allowed");
    }
}
