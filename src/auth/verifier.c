/*
 * verifier: bearer checks by RFC 7662 introspection, the token cache, and AS reachability.
 *
 * Availability is a small state machine driven by one timer: while unavailable, a metadata fetch
 * runs every auth_check_interval_ms until one succeeds; a network-level introspection failure
 * drops back to unavailable and starts the fetches again. HTTP errors from /introspect do not:
 * an AS that answers is reachable, it merely refused (the reference server's "Token validation
 * failed").
 *
 * The cache maps hex SHA-256(token) to the decision, so a heap dump or a log never holds a
 * token. Each entry carries an insertion sequence number, so a full map can drop its oldest
 * entries in one pass of the hashmap iterator (no list to keep in step with the map).
 * In-flight introspections are kept in a second map by the same key, so concurrent checks of
 * one token wait on one request.
 */
#include "auth/verifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/uri.h"
#include "auth/verifier_internal.h"
#include "app/config.h"
#include "lib/crypto.h"
#include "lib/hashmap.h"
#include "http/http_client.h"
#include "lib/json.h"
#include "lib/log.h"

#define KEY_LEN (CRYPTO_SHA256_SIZE * 2)

#define METADATA_MAX_BYTES   (256 * 1024)
#define INTROSPECT_MAX_BYTES (64 * 1024)
#define SWEEP_INTERVAL_MS    60000
#define IAT_SKEW_S           60  /* as the reference server: iat may be up to 60 s in the future */
#define MIN_RECHECK_MS       100 /* a 0 interval must not turn into a busy loop against the AS */

static const char MSG_MISSING[] = "Missing Authorization header";
static const char MSG_MALFORMED[] = "Invalid Authorization header format, expected 'Bearer TOKEN'";
static const char MSG_UNAVAILABLE[] = "Authentication service unavailable";
static const char MSG_UNVERIFIABLE[] = "Unable to verify token";
static const char MSG_FAILED[] = "Token validation failed";
static const char MSG_INACTIVE[] = "Token is not active";
static const char MSG_EXPIRED[] = "Token has expired";
static const char MSG_AUDIENCE[] = "Token was not issued for this resource server";
static const char MSG_NBF[] = "Token is not yet valid (nbf)";
static const char MSG_IAT[] = "Token issued in the future (iat)";
static const char MSG_NO_EXP[] = "Token has no expiration time";
static const char MSG_SCOPE[] = "Token lacks the required scope: " VERIFIER_REQUIRED_SCOPE;

/* A decision, cached or about to be. */
struct vc_entry {
    char key[KEY_LEN + 1];
    int status;        /* VERIFIER_OK, VERIFIER_INVALID or VERIFIER_FORBIDDEN */
    const char *error; /* one of the MSG_ strings when INVALID */
    char *sub, *client_id, *scope;
    double exp;          /* seconds since the epoch; 0 when refused */
    uint64_t expires_ms; /* loop time after which the entry is stale */
    uint64_t seq;        /* insertion order: eviction drops the lowest */
};

struct vc_waiter {
    verifier_fn fn;
    void *arg;
    struct vc_waiter *next;
};

/* One introspection request and the checks waiting on it. */
struct vc_flight {
    struct verifier *v;
    char key[KEY_LEN + 1];
    char token_hash[LOG_SECRET_HASH_SIZE]; /* for logs */
    struct vc_waiter *waiters;
    struct vc_waiter **tail;
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------- the cache --- */

static void entry_free(struct vc_entry *e)
{
    free(e->sub);
    free(e->client_id);
    free(e->scope);
    free(e);
}

static void cache_remove(struct verifier *v, struct vc_entry *e)
{
    hashmap_remove(v->cache, e->key, KEY_LEN);
    entry_free(e);
}

static bool entry_fresh(const struct verifier *v, const struct vc_entry *e)
{
    /* The wall-clock test keeps "never past exp" even if the clock moved since caching. */
    return uv_now(v->loop) < e->expires_ms && (e->status != VERIFIER_OK || wall_now() < e->exp);
}

/* Drop every entry that is stale, or (when oldest_kept is non-zero) older than that sequence
 * number. The hashmap allows removing the entry just returned while iterating. */
static void cache_drop(struct verifier *v, uint64_t oldest_kept)
{
    struct hashmap_iter it;
    const char *key;
    size_t key_len;
    void *value;
    hashmap_iter_init(&it);
    while (hashmap_next(v->cache, &it, &key, &key_len, &value)) {
        struct vc_entry *e = value;
        if (e->seq < oldest_kept || !entry_fresh(v, e))
            cache_remove(v, e);
    }
}

/* Make room: drop stale entries, then everything but the newest 15/16 of the cap, so a cache
 * full of fresh entries is swept once per cap/16 insertions rather than on every one. A sweep
 * of stale entries also runs once a minute, so an idle cache does not sit on dead entries. */
static void cache_make_room(struct verifier *v)
{
    uint64_t now = uv_now(v->loop);
    if (now - v->last_sweep_ms >= SWEEP_INTERVAL_MS) {
        cache_drop(v, 0);
        v->last_sweep_ms = now;
    }
    if (hashmap_count(v->cache) < v->cache_max)
        return;
    cache_drop(v, 0);
    size_t keep = v->cache_max - v->cache_max / 16;
    if (hashmap_count(v->cache) >= keep && v->seq_next > keep)
        cache_drop(v, v->seq_next - keep);
}

/* Take e into the cache for ttl_ms, or free it when it must not be cached. */
static void cache_insert(struct verifier *v, struct vc_entry *e, uint64_t ttl_ms)
{
    struct vc_entry *old = hashmap_get(v->cache, e->key, KEY_LEN);
    if (old)
        cache_remove(v, old);
    if (ttl_ms == 0 || v->cache_max == 0) {
        entry_free(e);
        return;
    }
    cache_make_room(v);
    e->expires_ms = uv_now(v->loop) + ttl_ms;
    e->seq = v->seq_next++;
    if (hashmap_put(v->cache, e->key, KEY_LEN, e, NULL) != 0)
        entry_free(e);
}

/* How long a decision may be reused: positive ones up to introspection_cache_ms and never past
 * exp; refusals briefly, so a token activated meanwhile is not refused for long. */
static uint64_t entry_ttl(const struct verifier *v, const struct vc_entry *e)
{
    uint64_t max = v->cfg->introspection_cache_ms;
    if (e->status != VERIFIER_OK)
        return max < VERIFIER_NEGATIVE_CACHE_MS ? max : VERIFIER_NEGATIVE_CACHE_MS;
    double left_ms = (e->exp - wall_now()) * 1000.0;
    if (left_ms <= 0)
        return 0;
    return left_ms < (double)max ? (uint64_t)left_ms : max;
}

/* --------------------------------------------------------------- the decision --- */

/* RFC 8707 audience: any of this server's resource URIs (BASE_URI, its /mcp and its /sse),
 * ignoring one trailing slash on either side (MCP 2025-06-18 "Canonical Server URI"), on every
 * route. The three name one resource server: the same users, sessions and tools behind one
 * dispatcher, guarded by the same AS and scope. Binding a token to the transport it was asked
 * for would protect nothing (the same user may ask the AS for the other resource at any time)
 * and would break a client that falls back from Streamable HTTP to SSE, or back, keeping the
 * token it already holds. */
static bool audience_value_ok(const struct verifier *v, const char *aud)
{
    size_t n = strlen(aud);
    if (n > 0 && aud[n - 1] == '/')
        n--;
    for (size_t i = 0; i < VERIFIER_RESOURCE_COUNT; i++)
        if (strlen(v->resource[i]) == n && memcmp(v->resource[i], aud, n) == 0)
            return true;
    return false;
}

static bool audience_ok(const struct verifier *v, const json_t *aud)
{
    if (json_is_string(aud))
        return audience_value_ok(v, json_string_value(aud));
    size_t i;
    const json_t *item;
    json_array_foreach(aud, i, item)
    {
        if (json_is_string(item) && audience_value_ok(v, json_string_value(item)))
            return true;
    }
    return false; /* a missing aud is refused: no token passthrough (MCP authorization spec) */
}

/* The reference server's token checks, in its order so the same token gets the same
 * message. Returns NULL when the token is good. */
static const char *decide(const struct verifier *v, const json_t *doc, double now)
{
    double exp = 0, nbf = 0, iat = 0;
    bool has_exp = json_get_number(doc, "exp", &exp);
    if (!json_is_true(json_object_get(doc, "active")))
        return MSG_INACTIVE;
    if (has_exp && exp < now)
        return MSG_EXPIRED;
    if (!audience_ok(v, json_object_get(doc, "aud")))
        return MSG_AUDIENCE;
    if (json_get_number(doc, "nbf", &nbf) && nbf > now)
        return MSG_NBF;
    if (json_get_number(doc, "iat", &iat) && iat > now + IAT_SKEW_S)
        return MSG_IAT;
    if (!has_exp || isnan(exp)) /* NaN cannot come from JSON, but the test costs nothing */
        return MSG_NO_EXP;
    return NULL;
}

/* Whether the space-separated list has the scope token. */
static bool scope_has(const char *list, const char *scope)
{
    size_t n = strlen(scope);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && memcmp(p, scope, n) == 0)
            return true;
        p += len;
        p += strspn(p, " ");
    }
    return false;
}

static char *dup_nonempty(const json_t *doc, const char *key)
{
    const char *s = json_get_string(doc, key);
    return s && *s ? strdup(s) : NULL;
}

/* Build the decision for an introspection response document. NULL on allocation failure. */
static struct vc_entry *entry_from_doc(const struct verifier *v, const char *key, const json_t *doc)
{
    struct vc_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    memcpy(e->key, key, KEY_LEN + 1);
    e->error = decide(v, doc, wall_now());
    e->status = e->error ? VERIFIER_INVALID : VERIFIER_OK;
    if (e->status != VERIFIER_OK)
        return e;
    json_get_number(doc, "exp", &e->exp);
    /* The reference server's extra.userId: sub || userId || "unknown" (JavaScript's ||: "" falls
     * through). */
    e->sub = dup_nonempty(doc, "sub");
    if (!e->sub)
        e->sub = dup_nonempty(doc, "userId");
    if (!e->sub)
        e->sub = strdup("unknown");
    e->client_id = dup_nonempty(doc, "client_id");
    if (!e->client_id)
        e->client_id = strdup("unknown");
    const char *scope = json_get_string(doc, "scope");
    e->scope = strdup(scope ? scope : "");
    if (!e->sub || !e->client_id || !e->scope) {
        entry_free(e);
        return NULL;
    }
    /* A good token for this resource that was not granted MCP access: RFC 6750 §3.1
     * insufficient_scope, so the client can ask for the scope rather than a new login. */
    if (!scope_has(e->scope, VERIFIER_REQUIRED_SCOPE)) {
        e->status = VERIFIER_FORBIDDEN;
        e->error = MSG_SCOPE;
    }
    return e;
}

static void deliver_entry(const struct vc_entry *e, verifier_fn fn, void *arg)
{
    struct verifier_result r = {.status = e->status, .token_present = true};
    if (e->status == VERIFIER_OK) {
        r.sub = e->sub;
        r.client_id = e->client_id;
        r.scope = e->scope;
        r.exp = e->exp;
    } else {
        r.error_description = e->error;
    }
    fn(arg, &r);
}

static void deliver_error(int status, const char *msg, bool token_present, verifier_fn fn,
                          void *arg)
{
    struct verifier_result r = {
        .status = status, .error_description = msg, .token_present = token_present};
    fn(arg, &r);
}

/* ------------------------------------------------------------- availability --- */

static void start_fetch(struct verifier *v);

static void on_recheck_timer(uv_timer_t *t)
{
    start_fetch(t->data);
}

static uint64_t recheck_interval(const struct verifier *v)
{
    uint64_t ms = v->cfg->auth_check_interval_ms;
    return ms < MIN_RECHECK_MS ? MIN_RECHECK_MS : ms;
}

static void schedule_fetch(struct verifier *v, uint64_t delay_ms)
{
    if (!v->closing)
        uv_timer_start(&v->recheck, on_recheck_timer, delay_ms, 0);
}

/* A network failure talking to the AS: degraded until a metadata fetch succeeds again. */
static void mark_unavailable(struct verifier *v, const char *why)
{
    if (!v->available)
        return;
    v->available = false;
    v->fetch_failures = 0;
    log_write(v->log, LOG_WARNING, "Authentication server unreachable, entering degraded mode",
              json_pack("{s:s,s:s}", "authServerUrl", v->cfg->auth_server_url, "error", why));
    if (!v->fetching)
        schedule_fetch(v, 0);
}

/* The protected resource metadata names AUTH_SERVER_URL as configured, before and after this
 * fetch, so its authorization_servers entry never changes with the role's state; a document whose
 * issuer differs is still served (the role works), but clients will refuse it (RFC 8414 §3.3),
 * so it is logged. */
static int metadata_accept(struct verifier *v, const char *body, size_t len)
{
    json_t *doc = json_parse(body, len, NULL, 0);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return -1;
    }
    const char *iss = json_get_string(doc, "issuer");
    if (!iss || strcmp(iss, v->issuer) != 0)
        log_write(v->log, LOG_WARNING,
                  "Authorization server metadata names another issuer than AUTH_SERVER_URL; "
                  "clients will refuse it",
                  json_pack("{s:s,s:s?}", "authServerUrl", v->issuer, "issuer", iss));
    json_decref(doc);
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, body, len);
    copy[len] = '\0';
    free(v->metadata);
    v->metadata = copy;
    v->metadata_len = len;
    return 0;
}

static void on_metadata(void *arg, int status, const char *body, size_t len, const char *error)
{
    struct verifier *v = arg;
    v->fetching = false;
    if (v->closing)
        return;
    if (status >= 200 && status < 300 && metadata_accept(v, body, len) == 0) {
        v->available = true;
        log_write(v->log, LOG_INFO, "Authentication server available",
                  json_pack("{s:s,s:i}", "authServerUrl", v->cfg->auth_server_url, "attempts",
                            v->fetch_failures + 1));
        return;
    }
    /* Warn on the first failure of an outage, then quietly keep trying: a log line every few
     * seconds for hours helps nobody. */
    v->fetch_failures++;
    char what[64];
    snprintf(what, sizeof what, "HTTP %d", status);
    log_write(v->log, v->fetch_failures == 1 ? LOG_WARNING : LOG_DEBUG,
              "Authentication server metadata fetch failed",
              json_pack("{s:s,s:s,s:i}", "authServerUrl", v->cfg->auth_server_url, "error",
                        status < 0 ? error : what, "attempt", v->fetch_failures));
    schedule_fetch(v, recheck_interval(v));
}

static void start_fetch(struct verifier *v)
{
    if (v->fetching || v->closing || v->available)
        return;
    static const char *const headers[] = {"Accept: application/json", NULL};
    struct http_client_req req = {.url = v->metadata_url,
                                  .headers = headers,
                                  .timeout_ms = VERIFIER_HTTP_TIMEOUT_MS,
                                  .max_response_bytes = METADATA_MAX_BYTES};
    if (http_client_request(v->http, &req, on_metadata, v) != 0) {
        schedule_fetch(v, recheck_interval(v));
        return;
    }
    v->fetching = true;
}

void verifier_start(struct verifier *v)
{
    start_fetch(v);
}

void verifier_cache_stats(const struct verifier *v, uint64_t *hits, uint64_t *misses)
{
    *hits = v->cache_hits;
    *misses = v->cache_misses;
}

bool verifier_available(const struct verifier *v)
{
    return v->available && !v->credential_refused && !v->closing;
}

/* ----------------------------------------------------------- introspection --- */

static void flight_finish(struct vc_flight *f, const struct vc_entry *e, int status,
                          const char *msg)
{
    struct vc_waiter *w = f->waiters;
    free(f);
    while (w) {
        struct vc_waiter *next = w->next;
        if (e)
            deliver_entry(e, w->fn, w->arg);
        else
            deliver_error(status, msg, true, w->fn, w->arg);
        free(w);
        w = next;
    }
}

/* Map an introspection response to a decision; NULL with out_status and msg set when there is none
 * (transport or HTTP failure, unparsable answer). */
static struct vc_entry *introspect_outcome(struct vc_flight *f, int status, const char *body,
                                           size_t len, const char *error, int *out_status,
                                           const char **msg)
{
    struct verifier *v = f->v;
    *out_status = VERIFIER_UNAVAILABLE;
    *msg = MSG_UNVERIFIABLE;
    if (status < 0) {
        if (!v->closing)
            mark_unavailable(v, error);
        return NULL;
    }
    if (status == 401 || status == 403) {
        /* The AS refused our own credential (INTROSPECTION_SECRET differs): no token can be
         * checked, and telling clients their tokens are bad would send them into a login
         * loop. This is the server's fault: 503, and /health degraded until an introspection
         * succeeds again (each request retries, so a fixed secret recovers at once). */
        if (!v->credential_refused)
            log_write(
                v->log, LOG_ERROR, "Introspection credential refused by the AS",
                json_pack("{s:i,s:s}", "status", status, "hint",
                          "INTROSPECTION_SECRET must be the same for mcpd auth and mcpd mcp"));
        v->credential_refused = true;
        return NULL;
    }
    if (status < 200 || status > 299) {
        /* The AS answered, so it is reachable; its refusal is the token's problem. */
        log_write(v->log, LOG_WARNING, "Token introspection refused",
                  json_pack("{s:s,s:i}", "token", f->token_hash, "status", status));
        *out_status = VERIFIER_INVALID;
        *msg = MSG_FAILED;
        return NULL;
    }
    v->credential_refused = false;
    json_t *doc = json_parse(body, len, NULL, 0);
    struct vc_entry *e = json_is_object(doc) ? entry_from_doc(v, f->key, doc) : NULL;
    json_decref(doc);
    if (!e)
        log_write(v->log, LOG_WARNING, "Token introspection answer unusable",
                  json_pack("{s:s}", "token", f->token_hash));
    return e;
}

static void on_introspect(void *arg, int status, const char *body, size_t len, const char *error)
{
    struct vc_flight *f = arg;
    struct verifier *v = f->v;
    if (hashmap_get(v->flights, f->key, KEY_LEN) == f)
        hashmap_remove(v->flights, f->key, KEY_LEN);
    int st;
    const char *msg;
    struct vc_entry *e = introspect_outcome(f, status, body, len, error, &st, &msg);
    if (e && e->status != VERIFIER_OK)
        log_write(v->log, LOG_INFO, "Bearer token refused",
                  json_pack("{s:s,s:s}", "token", f->token_hash, "reason", e->error));
    flight_finish(f, e, st, msg);
    /* Cached only after every waiter ran, so no waiter's own calls can evict it under us. */
    if (e)
        cache_insert(v, e, entry_ttl(v, e));
}

static int flight_add_waiter(struct vc_flight *f, verifier_fn fn, void *arg)
{
    struct vc_waiter *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->fn = fn;
    w->arg = arg;
    *f->tail = w;
    f->tail = &w->next;
    return 0;
}

/* RFC 7662 §2.1: application/x-www-form-urlencoded "token" parameter. Percent-encodes all but
 * RFC 3986 unreserved characters. */
static char *form_body(const char *token, size_t len, size_t *out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(6 + len * 3 + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    memcpy(out, "token=", 6);
    n = 6;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)token[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static int introspect_send(struct verifier *v, struct vc_flight *f, const char *token, size_t len)
{
    size_t body_len;
    char *body = form_body(token, len, &body_len);
    if (!body)
        return -1;
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
                             "Accept: application/json", v->secret_header, NULL};
    struct http_client_req req = {.method = "POST",
                                  .url = v->introspect_url,
                                  .headers = headers,
                                  .body = body,
                                  .body_len = body_len,
                                  .timeout_ms = VERIFIER_HTTP_TIMEOUT_MS,
                                  .max_response_bytes = INTROSPECT_MAX_BYTES};
    int rc = http_client_request(v->http, &req, on_introspect, f);
    /* The body held the token: wipe it (the client made its own copy). */
    explicit_bzero(body, body_len);
    free(body);
    return rc;
}

/* Join the introspection already running for this token, or start one. */
static void introspect(struct verifier *v, const char *key, const char *token, size_t len,
                       verifier_fn fn, void *arg)
{
    struct vc_flight *f = hashmap_get(v->flights, key, KEY_LEN);
    if (f) {
        if (flight_add_waiter(f, fn, arg) != 0)
            deliver_error(VERIFIER_UNAVAILABLE, MSG_UNVERIFIABLE, true, fn, arg);
        return;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        deliver_error(VERIFIER_UNAVAILABLE, MSG_UNVERIFIABLE, true, fn, arg);
        return;
    }
    f->v = v;
    f->tail = &f->waiters;
    memcpy(f->key, key, KEY_LEN + 1);
    log_secret_hash(token, len, f->token_hash);
    if (flight_add_waiter(f, fn, arg) != 0) {
        free(f);
        deliver_error(VERIFIER_UNAVAILABLE, MSG_UNVERIFIABLE, true, fn, arg);
        return;
    }
    if (hashmap_put(v->flights, key, KEY_LEN, f, NULL) != 0 ||
        introspect_send(v, f, token, len) != 0) {
        /* Out of memory, too many requests in flight, or closing: nothing was sent. */
        if (hashmap_get(v->flights, key, KEY_LEN) == f)
            hashmap_remove(v->flights, key, KEY_LEN);
        log_write(v->log, LOG_WARNING, "Token introspection not started",
                  json_pack("{s:s}", "token", f->token_hash));
        flight_finish(f, NULL, VERIFIER_UNAVAILABLE, MSG_UNVERIFIABLE);
    }
}

/* ------------------------------------------------------------------ checks --- */

enum auth_header { AUTH_ABSENT, AUTH_MALFORMED, AUTH_BEARER };

/* RFC 6750 §2.1 as the reference server applies it: "Bearer" in any case, exactly one
 * space, a non-empty token. Characters outside visible ASCII are refused too: no b64token has
 * them, and they have no business reaching the AS. */
static enum auth_header parse_authorization(const struct http_request *req, const char **token,
                                            size_t *len)
{
    const char *h = http_request_header(req, "Authorization");
    if (!h || !*h) /* the reference server tests !header, so an empty value counts as missing */
        return AUTH_ABSENT;
    if (http_request_header_count(req, "Authorization") != 1 || strncasecmp(h, "Bearer ", 7) != 0)
        return AUTH_MALFORMED;
    const char *t = h + 7;
    size_t n = 0;
    for (; t[n]; n++)
        if ((unsigned char)t[n] <= 0x20 || (unsigned char)t[n] >= 0x7f)
            return AUTH_MALFORMED;
    if (n == 0)
        return AUTH_MALFORMED;
    *token = t;
    *len = n;
    return AUTH_BEARER;
}

void verifier_check(struct verifier *v, const struct http_request *req, verifier_fn fn, void *arg)
{
    const char *token = NULL;
    size_t len = 0;
    enum auth_header kind = parse_authorization(req, &token, &len);
    /* Degraded mode answers 503 whatever the header says. A refused
     * introspection credential is not checked here: the next introspection is the re-check. */
    if (!v->available || v->closing) {
        deliver_error(VERIFIER_UNAVAILABLE, MSG_UNAVAILABLE, kind != AUTH_ABSENT, fn, arg);
        return;
    }
    if (kind == AUTH_ABSENT) {
        deliver_error(VERIFIER_INVALID, MSG_MISSING, false, fn, arg);
        return;
    }
    if (kind == AUTH_MALFORMED) {
        deliver_error(VERIFIER_INVALID, MSG_MALFORMED, true, fn, arg);
        return;
    }
    char key[KEY_LEN + 1];
    crypto_sha256_hex(token, len, key);
    struct vc_entry *e = hashmap_get(v->cache, key, KEY_LEN);
    if (e && entry_fresh(v, e)) {
        v->cache_hits++;
        deliver_entry(e, fn, arg);
        return;
    }
    if (e)
        cache_remove(v, e);
    v->cache_misses++;
    introspect(v, key, token, len, fn, arg);
}

/* --------------------------------------------------------------- lifecycle --- */

/* base with one trailing slash removed, then suffix. */
static char *url_join(const char *base, const char *suffix)
{
    size_t n = strlen(base);
    if (n > 0 && base[n - 1] == '/')
        n--;
    char *out = NULL;
    if (asprintf(&out, "%.*s%s", (int)n, base, suffix) < 0)
        return NULL;
    return out;
}

/* RFC 9728 §3.1: the well-known segment goes between the origin and the resource's path, so
 * BASE_URI https://h/p gives https://h/.well-known/oauth-protected-resource/p/mcp. */
static char *prm_url_for(const char *resource)
{
    const char *auth = strstr(resource, "://");
    auth = auth ? auth + 3 : resource;
    size_t origin = (size_t)(auth - resource) + strcspn(auth, "/?#");
    char *out = NULL;
    if (asprintf(&out, "%.*s/.well-known/oauth-protected-resource%s", (int)origin, resource,
                 resource + origin) < 0)
        return NULL;
    return out;
}

static int verifier_init_resources(struct verifier *v, const char *base_uri)
{
    for (size_t i = 0; i < VERIFIER_RESOURCE_COUNT; i++) {
        v->resource[i] = url_join(base_uri, verifier_resource_path((enum verifier_resource)i));
        v->prm_url[i] = v->resource[i] ? prm_url_for(v->resource[i]) : NULL;
        if (!v->prm_url[i])
            return -1;
    }
    return 0;
}

static int verifier_init_urls(struct verifier *v, const struct config *cfg)
{
    const char *secret = cfg->introspection_secret;
    v->metadata_url = oauth_issuer_metadata_url(cfg->auth_server_url);
    v->introspect_url = url_join(cfg->auth_server_url, "/introspect");
    v->issuer = strdup(cfg->auth_server_url);
    if (secret && *secret && asprintf(&v->secret_header, "Authorization: Bearer %s", secret) < 0)
        v->secret_header = NULL;
    if (!v->metadata_url || !v->introspect_url || !v->issuer ||
        (secret && *secret && !v->secret_header))
        return -1;
    return verifier_init_resources(v, cfg->base_uri);
}

static void verifier_free(struct verifier *v)
{
    if (v->cache)
        cache_drop(v, UINT64_MAX);
    hashmap_free(v->cache);
    hashmap_free(v->flights); /* empty: closing the client finished every flight */
    if (v->secret_header)
        explicit_bzero(v->secret_header, strlen(v->secret_header));
    free(v->secret_header);
    free(v->metadata_url);
    free(v->introspect_url);
    for (size_t i = 0; i < VERIFIER_RESOURCE_COUNT; i++) {
        free(v->resource[i]);
        free(v->prm_url[i]);
    }
    free(v->issuer);
    free(v->metadata);
    free(v);
}

struct verifier *verifier_new(uv_loop_t *loop, const struct config *cfg, struct logger *log)
{
    struct verifier *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->loop = loop;
    v->cfg = cfg;
    v->log = log;
    v->cache_max = VERIFIER_CACHE_MAX;
    v->cache = hashmap_new();
    v->flights = hashmap_new();
    if (!v->cache || !v->flights || verifier_init_urls(v, cfg) != 0 ||
        !(v->http = http_client_new(loop, log))) {
        verifier_free(v);
        return NULL;
    }
    uv_timer_init(loop, &v->recheck);
    v->recheck.data = v;
    v->last_sweep_ms = uv_now(loop);
    return v;
}

static void close_step(struct verifier *v)
{
    if (--v->open_handles > 0)
        return;
    void (*done)(void *) = v->done;
    void *arg = v->done_arg;
    verifier_free(v);
    if (done)
        done(arg);
}

static void on_recheck_closed(uv_handle_t *h)
{
    close_step(h->data);
}

static void on_http_closed(void *arg)
{
    close_step(arg);
}

void verifier_close(struct verifier *v, void (*done)(void *arg), void *arg)
{
    if (!v || v->closing)
        return;
    v->closing = true;
    v->done = done;
    v->done_arg = arg;
    v->open_handles = 2;
    uv_timer_stop(&v->recheck);
    uv_close((uv_handle_t *)&v->recheck, on_recheck_closed);
    /* Cancels the introspections in flight: their waiters get 503 now. */
    http_client_close(v->http, on_http_closed, v);
}
