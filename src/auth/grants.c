/* Codes, PKCE, tokens, rotation, revocation and introspection over the store (see grants.h). */
#include "auth/grants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/clients.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "store/store.h"

#define HEX64_SIZE  (OAUTH_TOKEN_HEX_LEN + 1)
#define KEY_SIZE    (sizeof OAUTH_INSTALLATION_PREFIX + HEX64_SIZE)
#define FAMILY_SIZE 33 /* 16 random bytes as hex */

struct oauth_grants {
    struct store *store;
    struct logger *log;
    uint64_t code_ttl_s;
    uint64_t access_ttl_s;
    uint64_t refresh_ttl_s;
    char *default_audience;
    char *issuer;
};

static const struct oauth_error err_server = {500, "server_error", "Internal Server Error"};
static const struct oauth_error err_bad_code = {400, "invalid_grant",
                                                "Invalid or expired authorization code"};
static const struct oauth_error err_code_client = {
    400, "invalid_grant", "Authorization code was issued to another client"};
static const struct oauth_error err_code_redirect = {
    400, "invalid_grant", "redirect_uri does not match the authorization request"};
static const struct oauth_error err_pkce = {400, "invalid_grant",
                                            "code_verifier does not match the challenge"};
static const struct oauth_error err_verifier = {400, "invalid_request",
                                                "code_verifier is missing or malformed"};
static const struct oauth_error err_code_replay = {400, "invalid_grant",
                                                   "Authorization code already used"};
static const struct oauth_error err_target = {400, "invalid_target",
                                              "resource does not match the authorized resource"};
static const struct oauth_error err_bad_refresh = {400, "invalid_grant",
                                                   "Invalid or expired refresh token"};
static const struct oauth_error err_refresh_reuse = {400, "invalid_grant",
                                                     "Refresh token already used"};
static const struct oauth_error err_scope = {400, "invalid_scope",
                                             "scope exceeds the scope originally granted"};
static const struct oauth_error err_unknown_request = {400, "invalid_request",
                                                       "Unknown or expired authorization request"};
static const struct oauth_error err_already_approved = {400, "invalid_request",
                                                        "Authorization request already completed"};

/* One asynchronous operation: the caller's callback, copies of the request's strings, the
 * record read from the store and the secrets being issued. */
struct grant_op {
    struct oauth_grants *g;
    union {
        oauth_code_cb code;
        oauth_approve_cb approve;
        oauth_token_cb token;
        oauth_done_cb done;
        oauth_introspect_cb introspect;
    } cb;
    void *arg;
    json_t *req; /* the request's strings, copied */
    json_t *rec; /* the record read from the store */
    char hash[HEX64_SIZE];
    char secret[HEX64_SIZE];
    char access[HEX64_SIZE];
    char refresh[HEX64_SIZE];
    int step;   /* revoke: which key is being looked up */
    int writes; /* mint: store writes in flight */
    int status; /* mint: the first failure */
};

/* ------------------------------------------------------------------------------ helpers --- */

struct oauth_grants *oauth_grants_new(struct store *s, struct logger *log,
                                      const struct oauth_grants_config *cfg)
{
    struct oauth_grants *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->store = s;
    g->log = log;
    g->code_ttl_s = cfg->code_ttl_s ? cfg->code_ttl_s : 600;
    g->access_ttl_s = cfg->access_ttl_s ? cfg->access_ttl_s : 3600;
    g->refresh_ttl_s = cfg->refresh_ttl_s ? cfg->refresh_ttl_s : 604800;
    g->default_audience = strdup(cfg->default_audience ? cfg->default_audience : "");
    g->issuer = strdup(cfg->issuer ? cfg->issuer : "");
    if (!g->default_audience || !g->issuer) {
        oauth_grants_free(g);
        return NULL;
    }
    return g;
}

void oauth_grants_free(struct oauth_grants *g)
{
    if (!g)
        return;
    free(g->default_audience);
    free(g->issuer);
    free(g);
}

static struct grant_op *op_new(struct oauth_grants *g, void *arg)
{
    struct grant_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->g = g;
    op->arg = arg;
    op->req = json_object();
    if (!op->req) {
        free(op);
        return NULL;
    }
    return op;
}

static void op_free(struct grant_op *op)
{
    json_decref(op->req);
    json_decref(op->rec);
    free(op);
}

static void req_set(struct grant_op *op, const char *name, const char *value)
{
    if (value)
        json_object_set_new(op->req, name, json_string(value));
}

static const char *req_get(const struct grant_op *op, const char *name)
{
    return json_get_string(op->req, name);
}

static const char *rec_get(const struct grant_op *op, const char *name)
{
    const char *v = json_get_string(op->rec, name);
    return v ? v : "";
}

static long long rec_int(const json_t *rec, const char *name)
{
    double d = 0;
    return json_get_number(rec, name, &d) ? (long long)d : 0;
}

/* prefix + a hash computed once per operation (op->hash) and used for several keys. */
static void hashed_key(char *out, size_t size, const char *prefix, const char *hash)
{
    snprintf(out, size, "%s%s", prefix, hash);
}

/* prefix + sha256hex(secret): the reference server's key scheme. */
static void secret_key(char *out, size_t size, const char *prefix, const char *secret)
{
    char hash[HEX64_SIZE];
    crypto_sha256_hex(secret, strlen(secret), hash);
    hashed_key(out, size, prefix, hash);
}

static void family_key(char *out, size_t size, const char *family)
{
    snprintf(out, size, "%s%s", OAUTH_FAMILY_PREFIX, family);
}

/* The family hash outlives every token in it: tokens are minted with at most these TTLs, and
 * the family's TTL is renewed whenever one is minted. */
static uint64_t family_ttl_ms(const struct oauth_grants *g)
{
    uint64_t s = g->access_ttl_s > g->refresh_ttl_s ? g->access_ttl_s : g->refresh_ttl_s;
    return s * 1000;
}

static int set_json(struct oauth_grants *g, const char *key, const json_t *v, uint64_t ttl_ms,
                    unsigned flags, store_int_cb cb, void *arg)
{
    size_t len = 0;
    char *text = json_serialize(v, &len);
    if (!text)
        return STORE_ERR;
    int rc = store_set(g->store, key, text, len, ttl_ms, flags, cb, arg);
    free(text);
    return rc;
}

/* Parse a store value into op->rec; false when absent or unreadable. */
static bool load_rec(struct grant_op *op, const char *value, size_t len)
{
    json_decref(op->rec);
    op->rec = value ? json_parse(value, len, NULL, 0) : NULL;
    return json_is_object(op->rec);
}

static const char *pair_value(const struct store_str *items, size_t n, const char *field)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (items[i].len == strlen(field) && memcmp(items[i].ptr, field, items[i].len) == 0)
            return items[i + 1].ptr;
    }
    return NULL;
}

/* A family hash read with HGETALL: false when it is gone or has been revoked. */
static bool family_live(const struct store_str *items, size_t n)
{
    const char *st = pair_value(items, n, "status");
    return n > 0 && !(st && !strcmp(st, "revoked"));
}

/* Mark every token descended from the family's code dead (RFC 6749 §4.1.2 replay, RFC 9700
 * §4.14.2 refresh reuse, RFC 7009 §2.1 refresh revocation). Fire and forget: the store applies
 * commands in order, so whatever is issued after this sees the family revoked. */
static void revoke_family(struct oauth_grants *g, const char *family, const char *why)
{
    char key[KEY_SIZE];
    family_key(key, sizeof key, family);
    struct store_str pairs[2] = {{"status", 6}, {"revoked", 7}};
    store_hset(g->store, key, pairs, 2, family_ttl_ms(g), NULL, NULL);
    log_write(g->log, LOG_WARNING, "token family revoked",
              json_pack("{s:s,s:s}", "family", family, "reason", why));
}

bool oauth_token_shaped(const char *s)
{
    if (!s || strlen(s) != OAUTH_TOKEN_HEX_LEN)
        return false;
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------------- PKCE --- */

static bool pkce_chars_ok(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '~';
        if (!ok)
            return false;
    }
    return true;
}

bool oauth_pkce_verifier_valid(const char *verifier)
{
    return verifier && pkce_chars_ok(verifier, 32, 128);
}

bool oauth_pkce_challenge_valid(const char *challenge)
{
    /* S256 challenges are 43 base64url characters; '.' and '~' are not in that alphabet. */
    return challenge && pkce_chars_ok(challenge, 43, 43) && !strpbrk(challenge, ".~");
}

bool oauth_pkce_s256_matches(const char *verifier, const char *challenge)
{
    uint8_t digest[CRYPTO_SHA256_SIZE];
    char expected[64];
    if (!oauth_pkce_verifier_valid(verifier) || !challenge)
        return false;
    crypto_sha256(verifier, strlen(verifier), digest);
    long n = crypto_base64url_encode(digest, sizeof digest, expected, sizeof expected);
    return n > 0 && crypto_equal(expected, (size_t)n, challenge, strlen(challenge));
}

/* ------------------------------------------------------------------------- /authorize --- */

static void on_pending_stored(void *arg, int status, long long written)
{
    struct grant_op *op = arg;
    op->cb.code(op->arg, status == STORE_OK ? NULL : &err_server,
                status == STORE_OK ? op->secret : NULL);
    op_free(op);
}

void oauth_grants_authorize(struct oauth_grants *g, const struct oauth_authorization *a,
                            oauth_code_cb cb, void *arg)
{
    struct grant_op *op = op_new(g, arg);
    char key[KEY_SIZE];
    if (!op || crypto_random_hex(op->secret, 32) != 0) {
        if (op)
            op_free(op);
        cb(arg, &err_server, NULL);
        return;
    }
    op->cb.code = cb;
    /* The code is the record's only handle: the store sees its hash, never the code. */
    op->rec =
        json_pack("{s:s,s:s,s:s,s:s}", "client_id", a->client_id, "redirect_uri", a->redirect_uri,
                  "code_challenge", a->code_challenge, "scope", a->scope ? a->scope : "");
    if (op->rec && a->resource)
        json_object_set_new(op->rec, "resource", json_string(a->resource));
    if (op->rec && a->state)
        json_object_set_new(op->rec, "state", json_string(a->state));
    secret_key(key, sizeof key, OAUTH_PENDING_PREFIX, op->secret);
    if (!op->rec ||
        set_json(g, key, op->rec, g->code_ttl_s * 1000, 0, on_pending_stored, op) != STORE_OK) {
        op_free(op);
        cb(arg, &err_server, NULL);
    }
}

/* ----------------------------------------------------------------- IdP approval (callback) --- */

static void on_exch_stored(void *arg, int status, long long written)
{
    struct grant_op *op = arg;
    if (status != STORE_OK) {
        op->cb.approve(op->arg, &err_server, NULL, NULL);
    } else if (written != 1) {
        /* The reference server overwrote the exchange record here, making a used code usable again.
         */
        op->cb.approve(op->arg, &err_already_approved, NULL, NULL);
    } else {
        char key[KEY_SIZE];
        secret_key(key, sizeof key, OAUTH_PENDING_PREFIX, req_get(op, "code"));
        store_del(op->g->store, key, NULL, NULL); /* approved once; the request is spent */
        op->cb.approve(op->arg, NULL, rec_get(op, "redirect_uri"),
                       json_get_string(op->rec, "state"));
    }
    op_free(op);
}

static void on_pending_read(void *arg, int status, const char *value, size_t len)
{
    struct grant_op *op = arg;
    char key[KEY_SIZE], family[FAMILY_SIZE];
    if (status != STORE_OK || !load_rec(op, value, len)) {
        op->cb.approve(op->arg, status != STORE_OK ? &err_server : &err_unknown_request, NULL,
                       NULL);
        op_free(op);
        return;
    }
    if (crypto_random_hex(family, 16) != 0) {
        op->cb.approve(op->arg, &err_server, NULL, NULL);
        op_free(op);
        return;
    }
    /* A denial takes the exchange key with a marker /token refuses, so the request can be
     * completed once, either way. */
    json_t *stored = req_get(op, "denied") ? json_pack("{s:b}", "denied", 1) : op->rec;
    if (stored == op->rec) {
        json_object_set_new(op->rec, "sub", json_string(req_get(op, "sub")));
        json_object_set_new(op->rec, "family", json_string(family));
        json_object_set_new(op->rec, "approved_at", json_integer((json_int_t)time(NULL)));
    }
    secret_key(key, sizeof key, OAUTH_EXCH_PREFIX, req_get(op, "code"));
    /* NX: a request is approved once, even when two callbacks race. */
    int rc = stored ? set_json(op->g, key, stored, op->g->code_ttl_s * 1000, STORE_SET_NX,
                               on_exch_stored, op)
                    : STORE_ERR;
    if (stored != op->rec)
        json_decref(stored);
    if (rc != STORE_OK) {
        op->cb.approve(op->arg, &err_server, NULL, NULL);
        op_free(op);
    }
}

static void decide(struct oauth_grants *g, const char *code, const char *sub, oauth_approve_cb cb,
                   void *arg)
{
    char key[KEY_SIZE];
    if (!oauth_token_shaped(code)) {
        cb(arg, &err_unknown_request, NULL, NULL);
        return;
    }
    struct grant_op *op = op_new(g, arg);
    if (!op) {
        cb(arg, &err_server, NULL, NULL);
        return;
    }
    op->cb.approve = cb;
    req_set(op, "code", code);
    req_set(op, sub ? "sub" : "denied", sub ? sub : "1");
    secret_key(key, sizeof key, OAUTH_PENDING_PREFIX, code);
    if (store_get(g->store, key, on_pending_read, op) != STORE_OK) {
        op_free(op);
        cb(arg, &err_server, NULL, NULL);
    }
}

void oauth_grants_approve(struct oauth_grants *g, const char *code, const char *sub,
                          oauth_approve_cb cb, void *arg)
{
    decide(g, code, sub, cb, arg);
}

void oauth_grants_deny(struct oauth_grants *g, const char *code, oauth_approve_cb cb, void *arg)
{
    decide(g, code, NULL, cb, arg);
}

/* ------------------------------------------------------------------------------ minting --- */

static void finish_tokens(struct grant_op *op, const struct oauth_error *err)
{
    if (err) {
        op->cb.token(op->arg, err, NULL);
    } else {
        struct oauth_token_response t = {op->access, op->refresh[0] ? op->refresh : NULL,
                                         op->g->access_ttl_s, rec_get(op, "scope")};
        log_write(op->g->log, LOG_INFO, "tokens issued",
                  json_pack("{s:s,s:s,s:s}", "client_id", rec_get(op, "client_id"), "family",
                            rec_get(op, "family"), "grant", req_get(op, "grant")));
        op->cb.token(op->arg, NULL, &t);
    }
    op_free(op);
}

static void on_minted(void *arg, int status, long long written)
{
    struct grant_op *op = arg;
    if (status != STORE_OK && op->status == STORE_OK)
        op->status = status;
    if (--op->writes == 0)
        finish_tokens(op, op->status == STORE_OK ? NULL : &err_server);
}

/* Store one minted token's record under prefix + sha256(secret); the answer waits for it. */
static void store_minted(struct grant_op *op, const char *prefix, const char *secret,
                         const json_t *rec, uint64_t ttl_s)
{
    char key[KEY_SIZE];
    secret_key(key, sizeof key, prefix, secret);
    if (!rec || set_json(op->g, key, rec, ttl_s * 1000, 0, on_minted, op) != STORE_OK)
        op->status = STORE_ERR;
    else
        op->writes++;
}

/* The refresh token's record: the access token's claims, plus what rotation and reuse
 * detection need, and the refresh token's own expiry. */
static json_t *refresh_record(const json_t *inst, long long gen, const char *access_hash,
                              long long exp)
{
    json_t *refr = json_deep_copy(inst);
    if (refr) {
        json_object_set_new(refr, "gen", json_integer(gen));
        json_object_set_new(refr, "access", json_string(access_hash));
        json_object_set_new(refr, "state", json_string("active"));
        json_object_set_new(refr, "exp", json_integer(exp));
    }
    return refr;
}

/* Issue an access token (and a refresh token when allowed) for op->rec's client, subject,
 * scope, audience and family; the refresh token carries generation gen. */
static void mint(struct grant_op *op, long long gen)
{
    struct oauth_grants *g = op->g;
    char key[KEY_SIZE], access_hash[HEX64_SIZE];
    long long now = (long long)time(NULL);
    bool with_refresh = json_is_true(json_object_get(op->req, "issue_refresh"));
    if (crypto_random_hex(op->access, 32) != 0 ||
        (with_refresh && crypto_random_hex(op->refresh, 32) != 0)) {
        finish_tokens(op, &err_server);
        return;
    }
    crypto_sha256_hex(op->access, OAUTH_TOKEN_HEX_LEN, access_hash);
    json_t *inst = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "client_id", rec_get(op, "client_id"),
                             "sub", rec_get(op, "sub"), "scope", rec_get(op, "scope"), "aud",
                             rec_get(op, "aud"), "iat", now, "exp",
                             now + (long long)g->access_ttl_s, "family", rec_get(op, "family"));
    json_t *refr = refresh_record(inst, gen, access_hash, now + (long long)g->refresh_ttl_s);
    op->writes = 1; /* held until both writes are issued, so no callback finishes op early */
    store_minted(op, OAUTH_INSTALLATION_PREFIX, op->access, inst, g->access_ttl_s);
    if (with_refresh)
        store_minted(op, OAUTH_REFRESH_PREFIX, op->refresh, refr, g->refresh_ttl_s);
    family_key(key, sizeof key, rec_get(op, "family"));
    store_expire(g->store, key, family_ttl_ms(g), NULL, NULL);
    json_decref(inst);
    json_decref(refr);
    on_minted(op, STORE_OK, 1); /* release the hold */
}

/* ------------------------------------------------- steps both token grants go through --- */

/* A token request's operation: the grant's name and the request's strings, copied. */
static struct grant_op *token_op(struct oauth_grants *g, const struct oauth_token_request *r,
                                 const char *grant, oauth_token_cb cb, void *arg)
{
    struct grant_op *op = op_new(g, arg);
    if (!op)
        return NULL;
    op->cb.token = cb;
    req_set(op, "grant", grant);
    req_set(op, "client_id", r->client_id);
    req_set(op, "code_verifier", r->code_verifier);
    req_set(op, "redirect_uri", r->redirect_uri);
    req_set(op, "scope", r->scope);
    req_set(op, "resource", r->resource);
    json_object_set_new(op->req, "issue_refresh", json_boolean(r->issue_refresh));
    return op;
}

/* Start a grant: read the record stored under prefix + sha256(secret), the hash kept in
 * op->hash for later writes to the same key. */
static void read_grant(struct oauth_grants *g, const struct oauth_token_request *r,
                       const char *grant, const char *prefix, const char *secret,
                       store_str_cb on_read, oauth_token_cb cb, void *arg)
{
    char key[KEY_SIZE];
    struct grant_op *op = token_op(g, r, grant, cb, arg);
    if (!op) {
        cb(arg, &err_server, NULL);
        return;
    }
    crypto_sha256_hex(secret, OAUTH_TOKEN_HEX_LEN, op->hash);
    hashed_key(key, sizeof key, prefix, op->hash);
    if (store_get(g->store, key, on_read, op) != STORE_OK)
        finish_tokens(op, &err_server);
}

/* The grant's record read: load it into op->rec and run the grant's checks on it. False when
 * the request has been answered (missing for an absent record). */
static bool load_checked(struct grant_op *op, int status, const char *value, size_t len,
                         const struct oauth_error *missing,
                         const struct oauth_error *(*check)(struct grant_op *op))
{
    if (status != STORE_OK || !load_rec(op, value, len)) {
        finish_tokens(op, status != STORE_OK ? &err_server : missing);
        return false;
    }
    const struct oauth_error *err = check(op);
    if (err) {
        finish_tokens(op, err);
        return false;
    }
    return true;
}

/* Count one more use of the grant in its family's hash (field "code" or "gen"). HINCRBY is the
 * atomic test: two concurrent requests cannot both see the count they expect. */
static void count_family_use(struct grant_op *op, const char *field, store_int_cb on_counted)
{
    char key[KEY_SIZE];
    family_key(key, sizeof key, rec_get(op, "family"));
    if (store_hincrby(op->g->store, key, field, 1, on_counted, op) != STORE_OK)
        finish_tokens(op, &err_server);
}

/* The count is back: renew the family's TTL and, when count is not the expected one (the
 * grant was used by someone else first), revoke the family and answer reused. True when this
 * request may have its tokens. */
static bool family_use_first(struct grant_op *op, int status, long long count, long long expected,
                             const char *why, const struct oauth_error *reused)
{
    char key[KEY_SIZE];
    if (status != STORE_OK) {
        finish_tokens(op, &err_server);
        return false;
    }
    family_key(key, sizeof key, rec_get(op, "family"));
    store_expire(op->g->store, key, family_ttl_ms(op->g), NULL, NULL);
    if (count != expected) {
        revoke_family(op->g, rec_get(op, "family"), why);
        finish_tokens(op, reused);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ authorization_code --- */

/* The checks of RFC 6749 §4.1.3 and RFC 7636 §4.6 against the approved request in op->rec;
 * NULL when the request may have its tokens. */
static const struct oauth_error *check_exchange(struct grant_op *op)
{
    const char *redirect = req_get(op, "redirect_uri");
    const char *resource = req_get(op, "resource");
    const char *authorized = json_get_string(op->rec, "resource");
    if (json_is_true(json_object_get(op->rec, "denied")))
        return &err_bad_code; /* the user denied the request: no token */
    if (strcmp(rec_get(op, "client_id"), req_get(op, "client_id")) != 0)
        return &err_code_client;
    /* OAuth 2.1 leaves redirect_uri out of the token request; when sent it must match. */
    if (redirect && strcmp(redirect, rec_get(op, "redirect_uri")) != 0)
        return &err_code_redirect;
    if (!oauth_pkce_s256_matches(req_get(op, "code_verifier"), rec_get(op, "code_challenge")))
        return &err_pkce;
    /* RFC 8707 §2.2: the token's audience is what was authorized; no resource at /authorize
     * means the reference server's audience, BASE_URI. */
    if (!authorized)
        authorized = op->g->default_audience;
    if (resource && strcmp(resource, authorized) != 0)
        return &err_target;
    json_object_set_new(op->rec, "aud", json_string(authorized));
    return NULL;
}

static void on_code_counted(void *arg, int status, long long uses)
{
    struct grant_op *op = arg;
    /* RFC 6749 §4.1.2: a code used twice is refused and what it issued is revoked. */
    if (family_use_first(op, status, uses, 1, "authorization code replayed", &err_code_replay))
        mint(op, 0);
}

static void on_exch_read(void *arg, int status, const char *value, size_t len)
{
    struct grant_op *op = arg;
    if (load_checked(op, status, value, len, &err_bad_code, check_exchange))
        count_family_use(op, "code", on_code_counted);
}

void oauth_grants_exchange_code(struct oauth_grants *g, const struct oauth_token_request *r,
                                oauth_token_cb cb, void *arg)
{
    if (!oauth_token_shaped(r->code)) {
        cb(arg, &err_bad_code, NULL);
        return;
    }
    if (!oauth_pkce_verifier_valid(r->code_verifier)) {
        cb(arg, &err_verifier, NULL);
        return;
    }
    read_grant(g, r, "authorization_code", OAUTH_EXCH_PREFIX, r->code, on_exch_read, cb, arg);
}

/* ------------------------------------------------------------------------ refresh_token --- */

/* Keep the spent token's record, marked, until it would have expired, so a later presentation
 * is recognised as reuse (RFC 9700 §4.14.2). */
static void retire_refresh(struct grant_op *op)
{
    char key[KEY_SIZE];
    long long left = rec_int(op->rec, "exp") - (long long)time(NULL);
    json_object_set_new(op->rec, "state", json_string("rotated"));
    hashed_key(key, sizeof key, OAUTH_REFRESH_PREFIX, op->hash);
    set_json(op->g, key, op->rec, (uint64_t)(left > 1 ? left : 1) * 1000, STORE_SET_XX, NULL, NULL);
}

static void on_gen_counted(void *arg, int status, long long gen)
{
    struct grant_op *op = arg;
    /* Another request rotated this token first: a copy is in two hands. */
    if (!family_use_first(op, status, gen, rec_int(op->rec, "gen") + 1, "refresh token reused",
                          &err_refresh_reuse))
        return;
    retire_refresh(op);
    json_object_set_new(op->rec, "scope", json_string(req_get(op, "granted_scope")));
    mint(op, gen);
}

static void on_refresh_family(void *arg, int status, const struct store_str *items, size_t n)
{
    struct grant_op *op = arg;
    if (status != STORE_OK || !family_live(items, n)) {
        finish_tokens(op, status != STORE_OK ? &err_server : &err_bad_refresh);
        return;
    }
    count_family_use(op, "gen", on_gen_counted);
}

static const struct oauth_error *check_refresh(struct grant_op *op)
{
    const char *scope = req_get(op, "scope");
    const char *resource = req_get(op, "resource");
    if (strcmp(rec_get(op, "client_id"), req_get(op, "client_id")) != 0)
        return &err_bad_refresh; /* RFC 6749 §6: bound to the client it was issued to */
    if (strcmp(rec_get(op, "state"), "active") != 0) {
        revoke_family(op->g, rec_get(op, "family"), "refresh token reused");
        return &err_refresh_reuse;
    }
    /* RFC 6749 §6: a narrower scope may be asked for, never a wider one. */
    if (scope && !oauth_scope_subset(scope, rec_get(op, "scope")))
        return &err_scope;
    if (resource && strcmp(resource, rec_get(op, "aud")) != 0)
        return &err_target;
    req_set(op, "granted_scope", scope ? scope : rec_get(op, "scope"));
    return NULL;
}

static void on_refresh_read(void *arg, int status, const char *value, size_t len)
{
    struct grant_op *op = arg;
    char key[KEY_SIZE];
    if (!load_checked(op, status, value, len, &err_bad_refresh, check_refresh))
        return;
    /* A revoked family kills the token even though its own record still says active. */
    family_key(key, sizeof key, rec_get(op, "family"));
    if (store_hgetall(op->g->store, key, on_refresh_family, op) != STORE_OK)
        finish_tokens(op, &err_server);
}

void oauth_grants_refresh(struct oauth_grants *g, const struct oauth_token_request *r,
                          oauth_token_cb cb, void *arg)
{
    if (!oauth_token_shaped(r->refresh_token)) {
        cb(arg, &err_bad_refresh, NULL);
        return;
    }
    read_grant(g, r, "refresh_token", OAUTH_REFRESH_PREFIX, r->refresh_token, on_refresh_read, cb,
               arg);
}

/* ------------------------------------------------------------------------------- revoke --- */

static const char *const revoke_prefixes[2] = {OAUTH_INSTALLATION_PREFIX, OAUTH_REFRESH_PREFIX};

static void revoke_finish(void *arg, int status, long long removed)
{
    struct grant_op *op = arg;
    op->cb.done(op->arg, status);
    op_free(op);
}

static void revoke_lookup(struct grant_op *op);

static void on_revoke_read(void *arg, int status, const char *value, size_t len)
{
    struct grant_op *op = arg;
    char key[KEY_SIZE];
    int which = op->step ^ json_is_true(json_object_get(op->req, "refresh_first"));
    if (status != STORE_OK || !load_rec(op, value, len)) {
        if (status == STORE_OK && ++op->step < 2) {
            revoke_lookup(op);
            return;
        }
        revoke_finish(op, status, 0);
        return;
    }
    /* §2.1: only the client the token was issued to may revoke it; for anyone else the
     * request is a no-op with the same answer, so it reveals nothing. */
    if (strcmp(rec_get(op, "client_id"), req_get(op, "client_id")) != 0) {
        revoke_finish(op, STORE_OK, 0);
        return;
    }
    if (which == 1) /* §2.1: revoking a refresh token revokes the grant's access tokens too */
        revoke_family(op->g, rec_get(op, "family"), "refresh token revoked");
    hashed_key(key, sizeof key, revoke_prefixes[which], op->hash);
    if (store_del(op->g->store, key, revoke_finish, op) != STORE_OK)
        revoke_finish(op, STORE_ERR, 0);
}

static void revoke_lookup(struct grant_op *op)
{
    char key[KEY_SIZE];
    int which = op->step ^ json_is_true(json_object_get(op->req, "refresh_first"));
    hashed_key(key, sizeof key, revoke_prefixes[which], op->hash);
    if (store_get(op->g->store, key, on_revoke_read, op) != STORE_OK)
        revoke_finish(op, STORE_ERR, 0);
}

void oauth_grants_revoke(struct oauth_grants *g, const char *client_id, const char *token,
                         const char *hint, oauth_done_cb cb, void *arg)
{
    if (!oauth_token_shaped(token)) {
        cb(arg, STORE_OK); /* §2.2: an invalid token is not an error */
        return;
    }
    struct grant_op *op = op_new(g, arg);
    if (!op) {
        cb(arg, STORE_ERR);
        return;
    }
    op->cb.done = cb;
    req_set(op, "client_id", client_id);
    /* §2.1: the hint only orders the lookups; both kinds are always tried. */
    json_object_set_new(op->req, "refresh_first",
                        json_boolean(hint && !strcmp(hint, "refresh_token")));
    crypto_sha256_hex(token, OAUTH_TOKEN_HEX_LEN, op->hash);
    revoke_lookup(op);
}

/* --------------------------------------------------------------------------- introspect --- */

static json_t *inactive(void)
{
    return json_pack("{s:b}", "active", 0);
}

static void introspect_finish(struct grant_op *op, json_t *result)
{
    op->cb.introspect(op->arg, result ? result : inactive());
    op_free(op);
}

static void on_introspect_family(void *arg, int status, const struct store_str *items, size_t n)
{
    struct grant_op *op = arg;
    if (status != STORE_OK || !family_live(items, n)) {
        introspect_finish(op, NULL);
        return;
    }
    /* RFC 7662 §2.2 members; userId is the reference server's extra. */
    introspect_finish(op, json_pack("{s:b,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s}", "active", 1,
                                    "client_id", rec_get(op, "client_id"), "scope",
                                    rec_get(op, "scope"), "sub", rec_get(op, "sub"), "aud",
                                    rec_get(op, "aud"), "iss", op->g->issuer, "exp",
                                    (json_int_t)rec_int(op->rec, "exp"), "iat",
                                    (json_int_t)rec_int(op->rec, "iat"), "token_type", "Bearer",
                                    "userId", rec_get(op, "sub")));
}

static void on_installation_read(void *arg, int status, const char *value, size_t len)
{
    struct grant_op *op = arg;
    char key[KEY_SIZE];
    if (status != STORE_OK || !load_rec(op, value, len) ||
        rec_int(op->rec, "exp") <= (long long)time(NULL)) {
        introspect_finish(op, NULL);
        return;
    }
    family_key(key, sizeof key, rec_get(op, "family"));
    if (store_hgetall(op->g->store, key, on_introspect_family, op) != STORE_OK)
        introspect_finish(op, NULL);
}

void oauth_grants_introspect(struct oauth_grants *g, const char *token, oauth_introspect_cb cb,
                             void *arg)
{
    char key[KEY_SIZE];
    struct grant_op *op = oauth_token_shaped(token) ? op_new(g, arg) : NULL;
    if (!op) {
        cb(arg, inactive());
        return;
    }
    op->cb.introspect = cb;
    secret_key(key, sizeof key, OAUTH_INSTALLATION_PREFIX, token);
    if (store_get(g->store, key, on_installation_read, op) != STORE_OK)
        introspect_finish(op, NULL);
}
