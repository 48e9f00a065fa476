#include "mcp/transport_sse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/config.h"
#include "app/metrics.h"
#include "lib/crypto.h"
#include "http/http_response.h"
#include "lib/json.h"
#include "mcp/dispatch.h"
#include "lib/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/limits.h"
#include "mcp/notifier.h"
#include "mcp/session.h"
#include "mcp/transport_common.h"
#include "store/store.h"

/* One open /sse stream. Freed when the connection is gone and no call still writes to it. */
struct sse_stream {
    struct mcp_live_member member; /* first: the member pointer is the stream */
    struct mcp_sink sink;          /* shared by every call of the session */
    struct mcp_ctx *ctx;
    struct http_exchange *ex; /* NULL once closed */
    char sid[CRYPTO_UUID_SIZE];
    char *user;
    struct mcp_live *live;
    struct store_sub *inbox;  /* mcp:{sid}: the client's messages */
    struct store_sub *notify; /* the session's standalone-stream channel */
    struct mcp_notifier *notifier;
    uv_timer_t heartbeat;
    unsigned refs; /* the connection, each call in flight, each session load in flight */
};

static void sse_unref(struct sse_stream *s);

static void heartbeat_closed(uv_handle_t *h)
{
    sse_unref(h->data);
}

static void sse_unref(struct sse_stream *s)
{
    if (--s->refs > 0)
        return;
    free(s->user);
    free(s);
}

static void sse_write(struct sse_stream *s, const char *json, size_t len)
{
    if (s->ex)
        http_sse_event(s->ex, NULL, "message", json, len);
}

/* Tear down the stream side. end_response: the session ended (DELETE-like shutdown), so the
 * response is ended cleanly; otherwise the client left. */
static void sse_close(struct sse_stream *s, bool end_response)
{
    if (!s->ex)
        return;
    struct http_exchange *ex = s->ex;
    s->ex = NULL;
    if (s->ctx->metrics)
        metrics_stream_closed(s->ctx->metrics);
    store_unsubscribe(s->inbox);
    if (s->notify)
        store_unsubscribe(s->notify);
    s->inbox = s->notify = NULL;
    mcp_notifier_stop(s->notifier);
    s->notifier = NULL;
    mcp_live_remove_member(s->live, &s->member);
    http_exchange_set_abort(ex, NULL, NULL);
    if (end_response)
        http_stream_end(ex);
    else
        http_exchange_finish(ex);
    uv_timer_stop(&s->heartbeat);
    uv_close((uv_handle_t *)&s->heartbeat, heartbeat_closed);
    /* The stream was the session: end it everywhere (calls in flight are cancelled). */
    mcp_session_destroy(s->ctx, s->sid, s->user, NULL, NULL);
    mcp_live_release(s->live);
    sse_unref(s); /* the connection's reference */
}

static void on_abort(struct http_exchange *ex, void *arg)
{
    sse_close(arg, false);
}

static void on_session_end(struct mcp_live_member *m)
{
    sse_close((struct sse_stream *)m, true);
}

static void sink_emit(struct mcp_sink *sink, json_t *msg, bool final)
{
    struct sse_stream *s = (struct sse_stream *)((char *)sink - offsetof(struct sse_stream, sink));
    if (msg) {
        size_t len = 0;
        char *text = json_serialize(msg, &len);
        if (text)
            sse_write(s, text, len);
        free(text);
        json_decref(msg);
    }
    if (final)
        sse_unref(s);
}

static void on_heartbeat(uv_timer_t *t)
{
    struct sse_stream *s = t->data;
    if (!s->ex)
        return;
    http_sse_comment(s->ex, "keepalive");
    /* An open stream keeps its session alive, whatever the session TTL. */
    mcp_session_touch(s->ctx, s->sid, s->user);
}

static void on_notify(void *arg, const char *channel, const char *msg, size_t len)
{
    if (len > 0 && msg[0] != '{')
        return; /* a control message of the /mcp GET streams (a takeover), not for the client */
    sse_write(arg, msg, len);
}

static void notifier_write(void *arg, const char *json, size_t len)
{
    sse_write(arg, json, len);
}

/* ---- messages from the client, arriving through the session's channel ---- */

struct inbound {
    struct sse_stream *s;
    json_t *msg;
};

static void sse_initialize(struct sse_stream *s, const struct mcp_session *sess, json_t *m)
{
    json_t *params = json_object_get(m, "params");
    const char *requested = json_get_string(params, "protocolVersion");
    json_t *caps = json_object_get(params, "capabilities");
    json_t *reply;
    if (!requested || (caps && !json_is_object(caps))) {
        reply = jsonrpc_error(json_object_get(m, "id"), JSONRPC_INVALID_PARAMS,
                              "Invalid params: protocolVersion must be a string and "
                              "capabilities an object",
                              NULL);
    } else if (!mcp_dispatch_capabilities_fit(s->ctx, caps)) {
        log_write(s->ctx->log, LOG_WARNING, "initialize refused: capabilities too large", NULL);
        reply = jsonrpc_error(json_object_get(m, "id"), JSONRPC_INVALID_PARAMS,
                              "Invalid params: capabilities larger than the server allows "
                              "(MAX_CAPABILITIES_BYTES)",
                              NULL);
    } else {
        const char *version = mcp_protocol_negotiate(requested);
        struct mcp_session updated = *sess;
        updated.protocol_version = (char *)version;
        updated.client_capabilities = caps;
        /* Later messages load the session after this write (commands complete in order). */
        mcp_session_update(s->ctx, &updated, NULL, NULL);
        reply = jsonrpc_result(json_object_get(m, "id"),
                               mcp_dispatch_initialize_result(s->ctx->dispatch, version));
    }
    if (s->ctx->metrics) /* answered here, not as a call (as on /mcp) */
        metrics_count_call(s->ctx->metrics, "initialize",
                           json_object_get(reply, "error") ? METRICS_CALL_ERROR : METRICS_CALL_OK);
    s->refs++;
    sink_emit(&s->sink, reply, true);
}

static void sse_handle(struct sse_stream *s, const struct mcp_session *sess, json_t *m)
{
    const char *why = NULL;
    enum jsonrpc_kind kind = jsonrpc_classify(m, &why);
    int code = kind == JSONRPC_REQUEST ? mcp_dispatch_check_request(s->ctx, m, &why) : 0;
    if (code != 0) {
        log_write(s->ctx->log, LOG_WARNING, "request refused", json_pack("{s:s}", "why", why));
        s->refs++;
        const json_t *id = code == JSONRPC_INVALID_REQUEST ? NULL : json_object_get(m, "id");
        sink_emit(&s->sink, jsonrpc_error(id, code, why, NULL), true);
        return;
    }
    switch (kind) {
    case JSONRPC_REQUEST:
        if (strcmp(json_string_value(json_object_get(m, "method")), "initialize") == 0) {
            sse_initialize(s, sess, m);
        } else {
            s->refs++; /* released by the call's final emit */
            mcp_dispatch_request(s->ctx, sess, m, &s->sink);
        }
        break;
    case JSONRPC_NOTIFICATION:
        mcp_dispatch_notification(s->ctx, sess, m);
        break;
    case JSONRPC_RESPONSE:
    case JSONRPC_ERROR:
        mcp_live_route_reply(s->ctx, sess->id, m);
        break;
    default:
        s->refs++;
        sink_emit(&s->sink, jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST, why, NULL), true);
        break;
    }
}

static void on_inbound_session(void *arg, int status, const struct mcp_session *sess)
{
    struct inbound *in = arg;
    struct sse_stream *s = in->s;
    /* in holds a reference to s (taken in on_inbox), so the calls below, which may drop their
     * own references, never free s before the sse_unref at the end. The analyzer cannot count
     * references, hence the NOLINTs. */
    if (s->ex && status == 0) {
        mcp_session_touch(s->ctx, s->sid, s->user);
        if (json_is_array(in->msg) && json_array_size(in->msg) > mcp_limit_batch_entries(s->ctx)) {
            log_write(s->ctx->log, LOG_WARNING, "batch refused: more than MAX_BATCH_ENTRIES", NULL);
            s->refs++;
            sink_emit(&s->sink,
                      jsonrpc_error(NULL, JSONRPC_INVALID_REQUEST,
                                    "Invalid Request: batch has more entries than the server "
                                    "allows (MAX_BATCH_ENTRIES)",
                                    NULL),
                      true);
        } else if (json_is_array(in->msg)) {
            size_t i;
            json_t *m;
            json_array_foreach(in->msg, i, m)
            {
                sse_handle(s, sess, m); // NOLINT(clang-analyzer-unix.Malloc)
            }
        } else {
            sse_handle(s, sess, in->msg);
        }
    }
    json_decref(in->msg);
    free(in);
    sse_unref(s); // NOLINT(clang-analyzer-unix.Malloc)
}

static void on_inbox(void *arg, const char *channel, const char *msg, size_t len)
{
    struct sse_stream *s = arg;
    json_t *m = json_parse(msg, len, NULL, 0);
    struct inbound *in = m ? malloc(sizeof *in) : NULL;
    if (!in) {
        json_decref(m);
        return;
    }
    in->s = s;
    in->msg = m;
    s->refs++;
    /* Load per message, as /mcp does: the log level and capabilities may have changed. */
    if (mcp_session_load(s->ctx, s->sid, on_inbound_session, in) != 0) {
        json_decref(m);
        free(in);
        sse_unref(s);
    }
}

/* ---- GET /sse ---- */

/* The client POSTs to /message as soon as it has the endpoint, maybe to another instance, which
 * publishes the message and answers 404 when nobody hears it: so the endpoint is sent only once
 * the inbox subscription is in effect (or could not be confirmed: then nothing would help). Never
 * runs after sse_close, which unsubscribes. */
static void on_inbox_ready(void *arg, int status)
{
    struct sse_stream *s = arg;
    char endpoint[64 + CRYPTO_UUID_SIZE];
    snprintf(endpoint, sizeof endpoint, "/message?sessionId=%s", s->sid);
    http_sse_event(s->ex, NULL, "endpoint", endpoint, strlen(endpoint));
}

static void sse_start(struct sse_stream *s)
{
    s->live = mcp_live_acquire(s->ctx, s->sid, true);
    s->inbox = store_subscribe_confirmed(s->ctx->store, mcp_channel_legacy_inbox(s->sid).s,
                                         on_inbox, on_inbox_ready, s);
    s->notify = store_subscribe(s->ctx->store, mcp_channel_standalone(s->sid).s, on_notify, s);
    if (!s->live || !s->inbox) {
        if (s->inbox)
            store_unsubscribe(s->inbox);
        if (s->notify)
            store_unsubscribe(s->notify);
        mcp_live_release(s->live);
        mcp_http_store_unavailable(s->ex, NULL);
        s->ex = NULL;
        sse_unref(s);
        return;
    }
    s->member.on_session_end = on_session_end;
    mcp_live_add_member(s->live, &s->member);
    http_response_header(s->ex, "Cache-Control", "no-cache, no-transform");
    http_sse_begin(s->ex, 200);
    if (s->ctx->metrics) /* closed in sse_close, the only way a started stream ends */
        metrics_stream_opened(s->ctx->metrics);
    s->notifier = mcp_notifier_start(s->ctx, s->sid, notifier_write, s);
    uv_timer_init(s->ctx->loop, &s->heartbeat);
    s->heartbeat.data = s;
    s->refs++; /* the heartbeat handle, released in its close callback */
    /* Half the TTL at most: the stream is the session and must refresh it in time. */
    uint64_t period = mcp_session_heartbeat_ms(s->ctx);
    uv_timer_start(&s->heartbeat, on_heartbeat, period, period);
    http_exchange_set_abort(s->ex, on_abort, s);
}

static void on_created(void *arg, int status)
{
    struct sse_stream *s = arg;
    if (http_exchange_closed(s->ex)) {
        http_exchange_finish(s->ex);
        mcp_session_destroy(s->ctx, s->sid, s->user, NULL, NULL);
        s->ex = NULL;
        sse_unref(s);
    } else if (status == MCP_SESSION_LIMIT) {
        mcp_http_error(s->ex, 429, JSONRPC_SERVER_ERROR,
                       "Too many sessions for this user (MAX_SESSIONS_PER_USER)");
        s->ex = NULL;
        sse_unref(s);
    } else if (status != 0) {
        mcp_http_store_unavailable(s->ex, NULL);
        s->ex = NULL;
        sse_unref(s);
    } else if (s->ctx->shutting_down) {
        /* Shutdown began while the session was stored: its streams have already been ended. */
        mcp_session_destroy(s->ctx, s->sid, s->user, NULL, NULL);
        mcp_http_error(s->ex, 503, JSONRPC_SERVER_ERROR, "Server is shutting down");
        s->ex = NULL;
        sse_unref(s);
    } else {
        sse_start(s);
    }
}

void mcp_sse_open(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user)
{
    struct sse_stream *s = ctx->shutting_down ? NULL : calloc(1, sizeof *s);
    if (!s || crypto_uuid4(s->sid) != 0) {
        free(s);
        mcp_http_error(ex, 503, JSONRPC_SERVER_ERROR, "Server is shutting down");
        return;
    }
    s->ctx = ctx;
    s->ex = ex;
    s->user = strdup(user);
    s->refs = 1; /* the connection, released by sse_close */
    s->sink.emit = sink_emit;
    json_t *caps = json_object();
    struct mcp_session sess = {.owner = s->user,
                               .protocol_version = "2024-11-05",
                               .client_capabilities = caps,
                               .log_level = -1,
                               .legacy_sse = true};
    snprintf(sess.id, sizeof sess.id, "%s", s->sid);
    if (mcp_session_create(ctx, &sess, on_created, s) != 0) {
        mcp_http_store_unavailable(ex, NULL);
        free(s->user);
        free(s);
    }
    json_decref(caps);
}

/* ---- POST /message ---- */

struct post_message {
    struct mcp_ctx *ctx;
    struct http_exchange *ex;
    char *user;
    char *body;
    size_t len;
    char sid[MCP_SESSION_ID_MAX + 1];
};

static void post_message_free(struct post_message *pm)
{
    free(pm->user);
    free(pm->body);
    free(pm);
}

static int bad_request(struct http_exchange *ex, const char *why)
{
    return http_respond_json(
        ex, 400, json_pack("{s:s,s:s}", "error", "Bad request", "error_description", why));
}

static void on_published(void *arg, int status, long long receivers)
{
    struct post_message *pm = arg;
    if (http_exchange_closed(pm->ex))
        http_exchange_finish(pm->ex);
    else if (status != STORE_OK)
        mcp_http_store_unavailable(pm->ex, NULL);
    else if (receivers == 0) /* the stream is gone: so is the session */
        mcp_http_error(pm->ex, 404, MCP_ERROR_SESSION_NOT_FOUND, "Session not found");
    else {
        http_response_header(pm->ex, "Cache-Control", "no-store, max-age=0");
        http_respond_empty(pm->ex, 202);
    }
    post_message_free(pm);
}

static void on_message_session(void *arg, int status, const struct mcp_session *sess)
{
    struct post_message *pm = arg;
    if (http_exchange_closed(pm->ex)) {
        http_exchange_finish(pm->ex);
    } else if (status < 0) {
        mcp_http_store_unavailable(pm->ex, NULL);
    } else if (status > 0 || !sess->legacy_sse || strcmp(sess->owner, pm->user) != 0) {
        /* Unknown, a /mcp session, or another user's: not found (the reference server did not
         * check). */
        mcp_http_error(pm->ex, 404, MCP_ERROR_SESSION_NOT_FOUND, "Session not found");
    } else {
        if (store_publish(pm->ctx->store, mcp_channel_legacy_inbox(pm->sid).s, pm->body, pm->len,
                          on_published, pm) == STORE_OK)
            return;
        mcp_http_store_unavailable(pm->ex, NULL);
    }
    post_message_free(pm);
}

void mcp_sse_message(struct mcp_ctx *ctx, struct http_exchange *ex, const char *user)
{
    const struct http_request *req = http_exchange_request(ex);
    char sid[MCP_SESSION_ID_MAX + 1];
    int n = http_request_query_param(req, "sessionId", sid, sizeof sid);
    if (n != 1) {
        bad_request(ex, "exactly one sessionId query parameter is required");
        return;
    }
    if (!http_request_media_type_is(req, "application/json")) {
        bad_request(ex, "Content-Type must be application/json");
        return;
    }
    json_t *body = mcp_http_parse_body(ex);
    if (!body)
        return;
    json_decref(body);
    if (!mcp_session_id_valid(sid)) {
        mcp_http_error(ex, 404, MCP_ERROR_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    struct post_message *pm = calloc(1, sizeof *pm);
    pm->ctx = ctx;
    pm->ex = ex;
    pm->user = strdup(user);
    pm->body = malloc(req->body_len);
    memcpy(pm->body, req->body, req->body_len);
    pm->len = req->body_len;
    snprintf(pm->sid, sizeof pm->sid, "%s", sid);
    if (mcp_session_load(ctx, sid, on_message_session, pm) != 0) {
        mcp_http_store_unavailable(ex, NULL);
        post_message_free(pm);
    }
}
