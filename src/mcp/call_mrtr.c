/*
 * call_mrtr: multi round-trip requests for stateless calls (call_internal.h). Handlers are written
 * once for both eras: the same mcp_call_request that sends a request on a session's stream
 * becomes, for a 2026-07-28 call, a lookup in the answers the retried request brought along.
 * Keys are deterministic (the handler's own, or "<kind>-<n>" by order of asking), so a handler
 * that runs again from the start on the retry asks the same things under the same keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/config.h"
#include "lib/log.h"
#include "mcp/call_internal.h"
#include "mcp/jsonrpc.h"
#include "mcp/request_state.h"

#ifndef MCP_ERROR_MISSING_CAPABILITY
#define MCP_ERROR_MISSING_CAPABILITY (-32021)
#endif

/* Requests one call may make in all its rounds, and inputResponses entries one retry may carry
 * (bounding the state that carries the answers forward; the body size bounds each answer). */
#define MRTR_MAX_ASKS      32
#define MRTR_MAX_RESPONSES 64
#define MRTR_KEY_MAX       64
#define MRTR_DEFAULT_TTL_S 300

struct mrtr_delivery {
    struct mrtr_delivery *next;
    mcp_reply_fn fn;
    void *arg;
    json_t *result;
};

struct mcp_mrtr {
    struct mcp_call *call; /* NULL once the call is gone */
    json_t *responses;     /* the retry's inputResponses ({} when absent) */
    json_t *carried;       /* answers carried in the verified requestState ({} when none) */
    json_t *used;          /* key -> answer given to the handler in this run */
    json_t *pending;       /* key -> {method, params}: the next InputRequiredResult */
    unsigned asked;        /* requests made in this run */
    struct mrtr_delivery *head, **tail;
    uv_timer_t timer; /* delivers the head of the queue on a later loop turn */
    bool timer_init;
    struct request_state_bind bind;
    char digest[REQUEST_STATE_DIGEST_SIZE];
};

/* The methods whose results may be an InputRequiredResult, and the request kinds a handler may
 * ask with the client capability each needs. */
static const char *const MRTR_METHODS[] = {"tools/call", "prompts/get", "resources/read"};

static const struct {
    const char *method, *capability, *prefix;
} ASK_KINDS[] = {
    {"sampling/createMessage", "sampling", "sampling"},
    {"elicitation/create", "elicitation", "elicitation"},
    {"roots/list", "roots", "roots"},
};

static int ask_kind(const char *method)
{
    for (size_t i = 0; i < sizeof ASK_KINDS / sizeof ASK_KINDS[0]; i++)
        if (strcmp(ASK_KINDS[i].method, method) == 0)
            return (int)i;
    return -1;
}

static bool mrtr_method(const char *method)
{
    for (size_t i = 0; method && i < sizeof MRTR_METHODS / sizeof MRTR_METHODS[0]; i++)
        if (strcmp(MRTR_METHODS[i], method) == 0)
            return true;
    return false;
}

static const char *state_secret(const struct mcp_call *c, size_t *len)
{
    const char *s = c->ctx->cfg ? c->ctx->cfg->request_state_secret : NULL;
    *len = s ? strlen(s) : 0;
    return *len ? s : NULL;
}

static uint64_t state_ttl_s(const struct mcp_call *c)
{
    return c->ctx->cfg && c->ctx->cfg->request_state_ttl_s ? c->ctx->cfg->request_state_ttl_s
                                                           : MRTR_DEFAULT_TTL_S;
}

static void refuse(struct mcp_call *c, const char *reason, const char *message)
{
    log_write(c->ctx->log, LOG_WARNING, "input_required retry refused",
              json_pack("{s:s,s:s}", "method", c->method ? c->method : "", "reason", reason));
    mcp_call_error(c, JSONRPC_INVALID_PARAMS, message, json_pack("{s:s}", "reason", reason));
}

static void mrtr_bind(struct mcp_mrtr *m, const struct mcp_call *c)
{
    bool resource = strcmp(c->method, "resources/read") == 0;
    const char *target = json_string_value(json_object_get(c->params, resource ? "uri" : "name"));
    request_state_digest(resource ? NULL : json_object_get(c->params, "arguments"), m->digest);
    m->bind = (struct request_state_bind){.method = c->method,
                                          .target = target ? target : "",
                                          .digest = m->digest,
                                          .user = c->sess.owner ? c->sess.owner : ""};
}

/* inputResponses: absent, or an object of at most MRTR_MAX_RESPONSES entries. */
static bool load_responses(struct mcp_mrtr *m, struct mcp_call *c)
{
    json_t *r = json_object_get(c->params, "inputResponses");
    if (r && !json_is_object(r)) {
        refuse(c, "malformed", "Invalid params: inputResponses must be an object");
        return false;
    }
    if (r && json_object_size(r) > MRTR_MAX_RESPONSES) {
        refuse(c, "too_many", "Invalid params: too many inputResponses");
        return false;
    }
    m->responses = r ? json_incref(r) : json_object();
    return true;
}

/* requestState: absent, or a token this server sealed for this request and user, unexpired. */
static bool load_state(struct mcp_mrtr *m, struct mcp_call *c)
{
    json_t *s = json_object_get(c->params, "requestState");
    if (!s) {
        m->carried = json_object();
        return true;
    }
    size_t key_len;
    const char *key = state_secret(c, &key_len);
    enum request_state_status st = REQUEST_STATE_MALFORMED;
    if (json_is_string(s) && key)
        st = request_state_open(key, key_len, json_string_value(s), json_string_length(s), &m->bind,
                                (int64_t)time(NULL), &m->carried);
    if (st == REQUEST_STATE_OK)
        return true;
    char msg[128];
    snprintf(msg, sizeof msg, "Invalid params: requestState failed verification (%s)",
             request_state_status_name(st));
    refuse(c, request_state_status_name(st), msg);
    return false;
}

/* The call's MRTR state, made on its first request; NULL when the call was answered with an
 * error instead (the retry's inputResponses or requestState is refused). */
static struct mcp_mrtr *mrtr_get(struct mcp_call *c)
{
    if (c->mrtr)
        return c->mrtr;
    struct mcp_mrtr *m = calloc(1, sizeof *m);
    if (!m) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return NULL;
    }
    m->call = c;
    m->tail = &m->head;
    m->used = json_object();
    m->pending = json_object();
    c->mrtr = m;
    mrtr_bind(m, c);
    if (!load_responses(m, c) || !load_state(m, c))
        return NULL;
    return m;
}

static void missing_capability(struct mcp_call *c, const char *capability)
{
    char msg[128];
    snprintf(msg, sizeof msg, "Server requires the %s capability for this request", capability);
    mcp_call_error(c, MCP_ERROR_MISSING_CAPABILITY, msg,
                   json_pack("{s:{s:{}}}", "requiredCapabilities", capability));
}

static void on_deliver(uv_timer_t *h);

static int queue_answer(struct mcp_mrtr *m, json_t *answer, mcp_reply_fn fn, void *arg)
{
    struct mrtr_delivery *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    if (!m->timer_init) {
        uv_timer_init(m->call->ctx->loop, &m->timer);
        m->timer.data = m;
        m->timer_init = true;
    }
    d->fn = fn;
    d->arg = arg;
    d->result = json_incref(answer);
    bool idle = !m->head;
    *m->tail = d;
    m->tail = &d->next;
    if (idle)
        uv_timer_start(&m->timer, on_deliver, 0, 0);
    return 0;
}

static void on_deliver(uv_timer_t *h)
{
    struct mcp_mrtr *m = h->data;
    struct mcp_call *c = m->call;
    struct mrtr_delivery *d = m->head;
    if (!c || !d)
        return;
    m->head = d->next;
    if (!m->head)
        m->tail = &m->head;
    else
        uv_timer_start(&m->timer, on_deliver, 0, 0);
    mcp_call_enter(c);
    d->fn(c, d->result, NULL, d->arg);
    json_decref(d->result);
    free(d);
    mcp_call_leave(c);
}

/* The answer under key: carried from an earlier round, else in this retry's inputResponses. */
static json_t *find_answer(struct mcp_mrtr *m, const char *key)
{
    json_t *a = json_object_get(m->carried, key);
    return a ? a : json_object_get(m->responses, key);
}

static bool key_ok(struct mcp_call *c, struct mcp_mrtr *m, char *key, size_t size,
                   const char *given, int kind)
{
    if (given && (!*given || strlen(given) > MRTR_KEY_MAX))
        return false;
    if (given)
        snprintf(key, size, "%s", given);
    else
        snprintf(key, size, "%s-%u", ASK_KINDS[kind].prefix, m->asked + 1);
    if (++m->asked > MRTR_MAX_ASKS) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: too many input requests", NULL);
        return false;
    }
    /* A key is asked once per call: a handler repeating one is a bug, refused. */
    return !json_object_get(m->used, key) && !json_object_get(m->pending, key);
}

int mcp_mrtr_ask(struct mcp_call *c, const char *key, const char *method, json_t *params,
                 mcp_reply_fn fn, void *arg)
{
    int kind = ask_kind(method);
    struct mcp_mrtr *m = NULL;
    char k[MRTR_KEY_MAX + 1];
    if (c->answered || c->cancelled || kind < 0 || !mrtr_method(c->method) || !(m = mrtr_get(c)))
        goto fail;
    if (!mcp_call_client_supports(c, ASK_KINDS[kind].capability)) {
        missing_capability(c, ASK_KINDS[kind].capability);
        goto fail;
    }
    if (!key_ok(c, m, k, sizeof k, key, kind))
        goto fail;
    json_t *answer = find_answer(m, k);
    if (answer && !json_is_object(answer)) {
        char msg[MRTR_KEY_MAX + 64];
        snprintf(msg, sizeof msg, "Invalid params: inputResponses.%s must be an object", k);
        refuse(c, "malformed", msg);
        goto fail;
    }
    if (answer) {
        json_object_set(m->used, k, answer);
        json_decref(params);
        return queue_answer(m, answer, fn, arg);
    }
    json_object_set_new(
        m->pending, k,
        json_pack("{s:s,s:o}", "method", method, "params", params ? params : json_object()));
    return 0;
fail:
    json_decref(params);
    return -1;
}

void mcp_mrtr_idle(struct mcp_call *c)
{
    struct mcp_mrtr *m = c->mrtr;
    if (!m || m->head || json_object_size(m->pending) == 0)
        return;
    size_t key_len;
    const char *key = state_secret(c, &key_len);
    char *state = key ? request_state_seal(key, key_len, &m->bind, m->used, (int64_t)time(NULL),
                                           state_ttl_s(c))
                      : NULL;
    if (!state) {
        log_write(c->ctx->log, LOG_ERROR, "input_required: cannot seal requestState",
                  json_pack("{s:b}", "secret_set", key != NULL));
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error: cannot build requestState",
                       NULL);
        return;
    }
    json_t *result = json_pack("{s:s,s:O,s:s}", "resultType", "input_required", "inputRequests",
                               m->pending, "requestState", state);
    free(state);
    mcp_call_result(c, result);
}

static void mrtr_closed(uv_handle_t *h)
{
    free(h->data);
}

void mcp_mrtr_free(struct mcp_mrtr *m)
{
    while (m->head) {
        struct mrtr_delivery *d = m->head;
        m->head = d->next;
        json_decref(d->result);
        free(d);
    }
    json_decref(m->responses);
    json_decref(m->carried);
    json_decref(m->used);
    json_decref(m->pending);
    m->call = NULL;
    if (m->timer_init) {
        uv_timer_stop(&m->timer);
        uv_close((uv_handle_t *)&m->timer, mrtr_closed);
    } else {
        free(m);
    }
}
