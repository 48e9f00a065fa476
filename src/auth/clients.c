/* RFC 7591 client registration, client records and client authentication (see clients.h). */
#include "auth/clients.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/uri.h"
#include "lib/form.h"
#include "lib/json.h"
#include "store/store.h"

enum field_kind {
    F_REDIRECTS,
    F_AUTH_METHOD,
    F_GRANTS,
    F_RESPONSES,
    F_STRING,
    F_URL,
    F_SCOPE,
    F_CONTACTS,
    F_JWKS,
    F_LARGE_STRING,
    F_APP_TYPE,
};

/* The accepted metadata in the order the reference server echoes it. */
static const struct {
    const char *name;
    enum field_kind kind;
} fields[] = {
    {"redirect_uris", F_REDIRECTS},
    {"token_endpoint_auth_method", F_AUTH_METHOD},
    {"grant_types", F_GRANTS},
    {"response_types", F_RESPONSES},
    {"client_name", F_STRING},
    {"client_uri", F_URL},
    {"logo_uri", F_URL},
    {"scope", F_SCOPE},
    {"contacts", F_CONTACTS},
    {"tos_uri", F_URL},
    {"policy_uri", F_URL},
    {"jwks_uri", F_URL},
    {"jwks", F_JWKS},
    {"software_id", F_STRING},
    {"software_version", F_STRING},
    {"software_statement", F_LARGE_STRING},
    {"application_type", F_APP_TYPE},
};

struct verdict {
    const char *error; /* "invalid_client_metadata" or "invalid_redirect_uri" */
    char *desc;
    size_t desc_size;
};

static bool refuse(struct verdict *v, const char *error, const char *field, const char *why)
{
    v->error = error;
    snprintf(v->desc, v->desc_size, "%s: %s", field, why);
    return false;
}

static bool string_ok(const json_t *x, size_t max)
{
    return json_is_string(x) && json_string_length(x) > 0 && json_string_length(x) <= max &&
           strlen(json_string_value(x)) == json_string_length(x); /* no embedded NUL */
}

/* RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */
static bool scope_syntax_ok(const char *s)
{
    if (!*s || *s == ' ')
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' ? (p[1] == ' ' || p[1] == '\0')
                     : (c < 0x21 || c > 0x7e || c == '"' || c == '\\'))
            return false;
    }
    return true;
}

static bool check_redirects(const json_t *x, struct verdict *v)
{
    const char *f = "redirect_uris";
    if (!json_is_array(x) || json_array_size(x) == 0)
        return refuse(v, "invalid_redirect_uri", f, "must be a non-empty array of URIs");
    if (json_array_size(x) > OAUTH_MAX_REDIRECTS)
        return refuse(v, "invalid_redirect_uri", f, "too many redirect URIs");
    size_t i;
    const json_t *u;
    json_array_foreach(x, i, u)
    {
        const char *why = NULL;
        if (!string_ok(u, OAUTH_URI_MAX))
            return refuse(v, "invalid_redirect_uri", f, "each entry must be a URI string");
        if (!oauth_redirect_uri_valid(json_string_value(u), &why))
            return refuse(v, "invalid_redirect_uri", f, why);
    }
    return true;
}

/* Every element is a string from allowed; the array is not empty. */
static bool check_enum_array(const json_t *x, const char *const *allowed, size_t n)
{
    if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > 8)
        return false;
    size_t i;
    const json_t *e;
    json_array_foreach(x, i, e)
    {
        bool found = false;
        for (size_t k = 0; k < n && json_is_string(e); k++)
            found = found || strcmp(json_string_value(e), allowed[k]) == 0;
        if (!found)
            return false;
    }
    return true;
}

static bool array_has(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), s) == 0)
            return true;
    }
    return false;
}

static bool check_field(const char *name, enum field_kind kind, const json_t *x, struct verdict *v)
{
    static const char *const methods[] = {"client_secret_post", "client_secret_basic", "none"};
    static const char *const grants[] = {"authorization_code", "refresh_token"};
    static const char *const responses[] = {"code"};
    const char *bad = "invalid_client_metadata";
    switch (kind) {
    case F_REDIRECTS:
        return check_redirects(x, v);
    case F_AUTH_METHOD:
        for (size_t k = 0; k < 3; k++) {
            if (json_is_string(x) && strcmp(json_string_value(x), methods[k]) == 0)
                return true;
        }
        return refuse(v, bad, name, "must be client_secret_post, client_secret_basic or none");
    case F_GRANTS:
        /* RFC 7591 §2.1: response_types [code] goes with the authorization_code grant. */
        if (!check_enum_array(x, grants, 2) || !array_has(x, "authorization_code"))
            return refuse(v, bad, name, "must include authorization_code, and refresh_token only");
        return true;
    case F_RESPONSES:
        return check_enum_array(x, responses, 1) ? true
                                                 : refuse(v, bad, name, "must be [\"code\"]");
    case F_STRING:
        return string_ok(x, OAUTH_MAX_STRING) ? true : refuse(v, bad, name, "must be a string");
    case F_LARGE_STRING:
        return string_ok(x, OAUTH_MAX_LARGE_FIELD) ? true : refuse(v, bad, name, "bad string");
    case F_URL:
        return string_ok(x, OAUTH_URI_MAX) && oauth_http_url_valid(json_string_value(x))
                   ? true
                   : refuse(v, bad, name, "must be an http(s) URL");
    case F_SCOPE:
        return string_ok(x, OAUTH_MAX_STRING) && scope_syntax_ok(json_string_value(x))
                   ? true
                   : refuse(v, bad, name, "must be space-separated scope tokens");
    case F_CONTACTS: {
        size_t i;
        const json_t *e;
        if (!json_is_array(x) || json_array_size(x) > OAUTH_MAX_REDIRECTS)
            return refuse(v, bad, name, "must be an array of strings");
        json_array_foreach(x, i, e)
        {
            if (!string_ok(e, OAUTH_MAX_STRING))
                return refuse(v, bad, name, "must be an array of strings");
        }
        return true;
    }
    case F_JWKS:
        return json_is_object(x) ? true : refuse(v, bad, name, "must be a JWK Set object");
    case F_APP_TYPE:
        return json_is_string(x) && (!strcmp(json_string_value(x), "web") ||
                                     !strcmp(json_string_value(x), "native"))
                   ? true
                   : refuse(v, bad, name, "must be web or native");
    }
    return false;
}

/* A redirect URI only an app on the user's device can receive: loopback http or a private-use
 * scheme (RFC 8252 §7.1, §7.3). */
static bool redirect_is_native(const char *uri)
{
    struct oauth_uri u;
    return oauth_uri_parse(uri, &u) &&
           ((!strcmp(u.scheme, "http") && oauth_uri_host_loopback(&u)) ||
            (strcmp(u.scheme, "http") != 0 && strcmp(u.scheme, "https") != 0));
}

/* Without application_type, what the redirect URIs say: native if one of them is loopback http or
 * a private-use scheme, else web. Clients before MCP 2026-07-28 send none, and mcpd is not an
 * OpenID provider, so the OIDC default "web" (which would refuse their loopback URIs) is not
 * imposed. */
static const char *inferred_application_type(const json_t *out)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(out, "redirect_uris"), i, e)
    {
        if (redirect_is_native(json_string_value(e)))
            return "native";
    }
    return "web";
}

/* OpenID Connect Registration §2 (MCP 2026-07-28): a web client's redirect URIs are https on a
 * host that is not loopback; a native one may use loopback http, private-use schemes and claimed
 * https URIs (RFC 8252 §7), which is every URI check_redirects accepts. */
static bool check_application_type(const json_t *out, struct verdict *v)
{
    size_t i;
    const json_t *e;
    if (strcmp(json_get_string(out, "application_type"), "web") != 0)
        return true;
    json_array_foreach(json_object_get(out, "redirect_uris"), i, e)
    {
        struct oauth_uri u;
        if (!oauth_uri_parse(json_string_value(e), &u) || strcmp(u.scheme, "https") != 0 ||
            oauth_uri_host_loopback(&u))
            return refuse(v, "invalid_redirect_uri", "redirect_uris",
                          "application_type web needs https redirect URIs on a host that is "
                          "not loopback; register loopback or private-use scheme URIs as native");
    }
    return true;
}

/* Defaults (RFC 7591 §2), except grant_types: the reference server lets every client refresh, and
 * the SDK expects to, so both grants are the default rather than authorization_code alone. */
static void apply_default(json_t *out, const char *name)
{
    if (!strcmp(name, "application_type"))
        json_object_set_new(out, name, json_string(inferred_application_type(out)));
    else if (!strcmp(name, "token_endpoint_auth_method"))
        json_object_set_new(out, name, json_string("client_secret_post"));
    else if (!strcmp(name, "grant_types"))
        json_object_set_new(out, name, json_pack("[ss]", "authorization_code", "refresh_token"));
    else if (!strcmp(name, "response_types"))
        json_object_set_new(out, name, json_pack("[s]", "code"));
    else if (!strcmp(name, "scope"))
        json_object_set_new(out, name, json_string(OAUTH_DEFAULT_SCOPE));
}

json_t *oauth_client_validate(const json_t *request, const char **error, char *desc,
                              size_t desc_size)
{
    struct verdict v = {"invalid_client_metadata", desc, desc_size};
    snprintf(desc, desc_size, "invalid client metadata");
    if (!json_is_object(request)) {
        *error = "invalid_client_metadata";
        snprintf(desc, desc_size, "the registration request must be a JSON object");
        return NULL;
    }
    json_t *out = json_object();
    for (size_t i = 0; out && i < sizeof fields / sizeof fields[0]; i++) {
        const json_t *x = json_object_get(request, fields[i].name);
        if (!x || json_is_null(x)) {
            if (fields[i].kind == F_REDIRECTS) {
                refuse(&v, "invalid_client_metadata", fields[i].name, "Required");
                json_decref(out);
                out = NULL;
                break;
            }
            apply_default(out, fields[i].name);
            continue;
        }
        if (!check_field(fields[i].name, fields[i].kind, x, &v)) {
            json_decref(out);
            out = NULL;
            break;
        }
        json_object_set_new(out, fields[i].name, json_deep_copy(x));
    }
    /* RFC 7591 §2: jwks_uri and jwks MUST NOT both be present. */
    if (out && json_object_get(out, "jwks") && json_object_get(out, "jwks_uri")) {
        refuse(&v, "invalid_client_metadata", "jwks", "jwks and jwks_uri are exclusive");
        json_decref(out);
        out = NULL;
    }
    if (out && !check_application_type(out, &v)) {
        json_decref(out);
        out = NULL;
    }
    *error = v.error;
    return out;
}

/* ------------------------------------------------------------------------ registration --- */

struct register_op {
    oauth_register_cb cb;
    void *arg;
    json_t *response;
    struct store *store;
    struct oauth_client_limits lim;
    long long now;
};

/* The lifetime of a registration until its first token exchange. */
static uint64_t unused_ttl(const struct oauth_client_limits *l)
{
    return l->unused_ttl_s && l->unused_ttl_s < l->ttl_s ? l->unused_ttl_s : l->ttl_s;
}

uint64_t oauth_client_bucket_width(const struct oauth_client_limits *l)
{
    uint64_t w = unused_ttl(l) / OAUTH_CLIENT_BUCKETS;
    /* A long lifetime next to a very short unused one would make the hash huge: cap it. */
    if (w < l->ttl_s / 4096)
        w = l->ttl_s / 4096;
    return w ? w : 1;
}

/* Count by registrations expiring at exp_s, in the bucket that ends at or after exp_s. */
static void count_add(struct store *s, const struct oauth_client_limits *l, long long exp_s,
                      long long by)
{
    uint64_t w = oauth_client_bucket_width(l);
    char field[32];
    snprintf(field, sizeof field, "%llu", (unsigned long long)((uint64_t)exp_s + w - 1) / w);
    store_hincrby(s, OAUTH_CLIENTS_LIVE_KEY, field, by, NULL, NULL);
    /* The hash outlives every registration it counts; each update pushes its end. */
    store_expire(s, OAUTH_CLIENTS_LIVE_KEY, (l->ttl_s + 2 * w) * 1000, NULL, NULL);
}

/* Registrations counted in buckets that end after now; fields of past buckets are deleted (a
 * few per call, which is enough: at most one bucket ends per bucket width). */
static long long count_live(struct store *s, const struct oauth_client_limits *l,
                            const struct store_str *items, size_t n, long long now)
{
    uint64_t w = oauth_client_bucket_width(l);
    long long live = 0;
    unsigned dropped = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        char field[32], value[32];
        snprintf(field, sizeof field, "%.*s", (int)items[i].len, items[i].ptr);
        snprintf(value, sizeof value, "%.*s", (int)items[i + 1].len, items[i + 1].ptr);
        unsigned long long bucket = strtoull(field, NULL, 10);
        if (bucket * w > (unsigned long long)now)
            live += strtoll(value, NULL, 10);
        else if (dropped++ < 16)
            store_hdel(s, OAUTH_CLIENTS_LIVE_KEY, field, NULL, NULL);
    }
    return live > 0 ? live : 0;
}

static void register_done(struct register_op *op, int status)
{
    if (status != STORE_OK) {
        json_decref(op->response);
        op->response = NULL;
    }
    op->cb(op->arg, status, op->response);
    free(op);
}

static void on_register_stored(void *arg, int status, long long written)
{
    struct register_op *op = arg;
    if (status == STORE_OK && written != 1)
        status = STORE_ERR; /* a UUID v4 collision: astronomically unlikely, never overwrite */
    if (status == STORE_OK && op->lim.max_clients)
        count_add(op->store, &op->lim, op->now + (long long)unused_ttl(&op->lim), 1);
    register_done(op, status);
}

/* The stored record is the registration minus the raw secret, plus its hash. */
static char *record_text(const json_t *response, const char *secret)
{
    json_t *rec = json_deep_copy(response);
    if (!rec)
        return NULL;
    json_object_del(rec, "client_secret");
    if (secret) {
        char hash[2 * CRYPTO_SHA256_SIZE + 1];
        crypto_sha256_hex(secret, strlen(secret), hash);
        json_object_set_new(rec, "client_secret_sha256", json_string(hash));
    }
    char *text = json_serialize(rec, NULL);
    json_decref(rec);
    return text;
}

/* Add the generated credentials to the registered metadata (RFC 7591 §3.2.1); the secret
 * expires with a used record (the reference server's 30 days). */
static void add_credentials(json_t *resp, const char *id, const char *secret, long long now,
                            uint64_t ttl_s)
{
    if (secret) {
        json_object_set_new(resp, "client_secret", json_string(secret));
        json_object_set_new(resp, "client_secret_expires_at", json_integer(now + (long long)ttl_s));
    }
    json_object_set_new(resp, "client_id", json_string(id));
    json_object_set_new(resp, "client_id_issued_at", json_integer(now));
}

static void register_store(struct register_op *op)
{
    char id[CRYPTO_UUID_SIZE], secret[2 * 32 + 1], key[sizeof OAUTH_CLIENT_PREFIX + 64];
    json_t *metadata = op->response;
    const char *method = json_get_string(metadata, "token_endpoint_auth_method");
    bool public_client = method && !strcmp(method, "none");
    if (crypto_uuid4(id) != 0 || crypto_random_hex(secret, 32) != 0) {
        register_done(op, STORE_ERR);
        return;
    }
    add_credentials(metadata, id, public_client ? NULL : secret, op->now, op->lim.ttl_s);
    char *text = record_text(metadata, public_client ? NULL : secret);
    snprintf(key, sizeof key, "%s%s", OAUTH_CLIENT_PREFIX, id);
    if (!text || store_set(op->store, key, text, strlen(text), unused_ttl(&op->lim) * 1000,
                           STORE_SET_NX, on_register_stored, op) != STORE_OK)
        register_done(op, STORE_ERR);
    free(text);
}

static void on_counted(void *arg, int status, const struct store_str *items, size_t n)
{
    struct register_op *op = arg;
    if (status != STORE_OK) {
        register_done(op, status);
        return;
    }
    if (count_live(op->store, &op->lim, items, n, op->now) >= (long long)op->lim.max_clients) {
        register_done(op, OAUTH_REGISTER_FULL);
        return;
    }
    register_store(op);
}

void oauth_client_register(struct store *s, json_t *metadata, const struct oauth_client_limits *l,
                           oauth_register_cb cb, void *arg)
{
    struct register_op *op = calloc(1, sizeof *op);
    if (!op) {
        json_decref(metadata);
        cb(arg, STORE_ERR, NULL);
        return;
    }
    *op = (struct register_op){cb, arg, metadata, s, *l, (long long)time(NULL)};
    if (!l->max_clients)
        register_store(op);
    else if (store_hgetall(s, OAUTH_CLIENTS_LIVE_KEY, on_counted, op) != STORE_OK)
        register_done(op, STORE_ERR);
}

struct used_op {
    struct store *store;
    struct oauth_client_limits lim;
    long long issued_at;
    long long left_s; /* of the used lifetime */
    char key[sizeof OAUTH_CLIENT_PREFIX + OAUTH_CLIENT_ID_MAX];
};

static void on_marked_used(void *arg, int status, long long written)
{
    struct used_op *op = arg;
    if (status == STORE_OK && written == 1) { /* the first exchange: promote the record */
        store_expire(op->store, op->key, (uint64_t)op->left_s * 1000, NULL, NULL);
        if (op->lim.max_clients) {
            count_add(op->store, &op->lim, op->issued_at + (long long)unused_ttl(&op->lim), -1);
            count_add(op->store, &op->lim, op->issued_at + (long long)op->lim.ttl_s, 1);
        }
    }
    free(op);
}

void oauth_client_mark_used(struct store *s, const struct oauth_client *c,
                            const struct oauth_client_limits *l)
{
    double issued = 0;
    if (unused_ttl(l) >= l->ttl_s || !json_get_number(c->record, "client_id_issued_at", &issued))
        return;
    long long left = (long long)issued + (long long)l->ttl_s - (long long)time(NULL);
    struct used_op *op = left > 0 ? calloc(1, sizeof *op) : NULL;
    if (!op)
        return;
    *op = (struct used_op){s, *l, (long long)issued, left, ""};
    snprintf(op->key, sizeof op->key, "%s%s", OAUTH_CLIENT_PREFIX, c->id);
    char marker[sizeof op->key + sizeof OAUTH_CLIENT_USED_SUFFIX];
    snprintf(marker, sizeof marker, "%s%s", op->key, OAUTH_CLIENT_USED_SUFFIX);
    if (store_set(s, marker, "1", 1, (uint64_t)left * 1000, STORE_SET_NX, on_marked_used, op) !=
        STORE_OK)
        free(op);
}

/* ----------------------------------------------------------------------------- loading --- */

bool oauth_client_id_plausible(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > OAUTH_CLIENT_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)id[i]) && id[i] != '-')
            return false;
    }
    return true;
}

static enum oauth_auth_method method_from(const char *m)
{
    if (m && !strcmp(m, "none"))
        return OAUTH_AUTH_NONE;
    return m && !strcmp(m, "client_secret_basic") ? OAUTH_AUTH_BASIC : OAUTH_AUTH_POST;
}

static struct oauth_client *client_from_record(const char *id, const char *text, size_t len)
{
    return oauth_client_from_json(id, json_parse(text, len, NULL, 0));
}

struct oauth_client *oauth_client_from_json(const char *id, json_t *rec)
{
    struct oauth_client *c = rec && strlen(id) <= OAUTH_CLIENT_ID_MAX ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        json_decref(rec);
        return NULL;
    }
    snprintf(c->id, sizeof c->id, "%s", id);
    c->record = rec;
    c->method = method_from(json_get_string(rec, "token_endpoint_auth_method"));
    const char *hash = json_get_string(rec, "client_secret_sha256");
    c->confidential = hash != NULL;
    snprintf(c->secret_hash, sizeof c->secret_hash, "%s", hash ? hash : "");
    double exp = 0;
    c->secret_expires_at =
        json_get_number(rec, "client_secret_expires_at", &exp) ? (long long)exp : 0;
    c->scope = json_get_string(rec, "scope");
    json_t *grants = json_get_array(rec, "grant_types");
    c->refresh_allowed = !grants || array_has(grants, "refresh_token");
    return c;
}

struct load_op {
    oauth_client_cb cb;
    void *arg;
    char id[OAUTH_CLIENT_ID_MAX + 1];
};

static void on_client_loaded(void *arg, int status, const char *value, size_t len)
{
    struct load_op *op = arg;
    struct oauth_client *c = NULL;
    if (status == STORE_OK && value) {
        c = client_from_record(op->id, value, len);
        if (!c)
            status = STORE_ERR;
    }
    op->cb(op->arg, status, c);
    free(op);
}

void oauth_client_load(struct store *s, const char *client_id, oauth_client_cb cb, void *arg)
{
    if (!oauth_client_id_plausible(client_id)) {
        cb(arg, STORE_OK, NULL); /* never issued by us: unknown without a lookup */
        return;
    }
    struct load_op *op = calloc(1, sizeof *op);
    char key[sizeof OAUTH_CLIENT_PREFIX + OAUTH_CLIENT_ID_MAX];
    snprintf(key, sizeof key, "%s%s", OAUTH_CLIENT_PREFIX, client_id);
    if (op) {
        op->cb = cb;
        op->arg = arg;
        snprintf(op->id, sizeof op->id, "%s", client_id);
    }
    if (!op || store_get(s, key, on_client_loaded, op) != STORE_OK) {
        free(op);
        cb(arg, STORE_ERR, NULL);
    }
}

void oauth_client_free(struct oauth_client *c)
{
    if (!c)
        return;
    json_decref(c->record);
    free(c);
}

size_t oauth_client_redirect_count(const struct oauth_client *c)
{
    return json_array_size(json_get_array(c->record, "redirect_uris"));
}

const char *oauth_client_redirect_at(const struct oauth_client *c, size_t i)
{
    return json_string_value(json_array_get(json_get_array(c->record, "redirect_uris"), i));
}

bool oauth_client_redirect_registered(const struct oauth_client *c, const char *uri)
{
    size_t n = oauth_client_redirect_count(c);
    for (size_t i = 0; i < n; i++) {
        const char *r = oauth_client_redirect_at(c, i);
        if (r && strcmp(r, uri) == 0) /* exact string match, OAuth 2.1 §2.3.1 */
            return true;
    }
    return false;
}

static bool scope_has(const char *list, const char *tok, size_t tok_len)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n == tok_len && memcmp(p, tok, n) == 0)
            return true;
        p += n;
        while (*p == ' ')
            p++;
    }
    return false;
}

bool oauth_scope_subset(const char *requested, const char *granted)
{
    const char *registered = granted ? granted : "";
    if (!scope_syntax_ok(requested))
        return false;
    for (const char *p = requested; *p;) {
        size_t n = strcspn(p, " ");
        if (!scope_has(registered, p, n))
            return false;
        p += n;
        while (*p == ' ')
            p++;
    }
    return true;
}

bool oauth_client_scope_allowed(const struct oauth_client *c, const char *requested)
{
    return oauth_scope_subset(requested, c->scope);
}

/* ---------------------------------------------------------------------- authentication --- */

/* "Basic base64(urlencode(id) ":" urlencode(secret))" (RFC 6749 §2.3.1, RFC 7617). */
static int parse_basic(const char *value, struct oauth_credentials *out, const char **why)
{
    uint8_t raw[2 * (OAUTH_CLIENT_ID_MAX + OAUTH_SECRET_MAX) + 8];
    char part[sizeof raw + 1];
    while (*value == ' ')
        value++;
    long n = crypto_base64_decode(value, strlen(value), raw, sizeof raw - 1);
    const char *colon = n > 0 ? memchr(raw, ':', (size_t)n) : NULL;
    *why = "Malformed Basic credentials";
    if (!colon)
        return -1;
    size_t id_len = (size_t)((const uint8_t *)colon - raw);
    size_t secret_len = (size_t)n - id_len - 1;
    long idn = form_decode((const char *)raw, id_len, part);
    if (idn <= 0 || (size_t)idn > OAUTH_CLIENT_ID_MAX)
        return -1;
    memcpy(out->id, part, (size_t)idn + 1);
    long sn = form_decode((const char *)colon + 1, secret_len, part);
    if (sn < 0 || (size_t)sn > OAUTH_SECRET_MAX)
        return -1;
    memcpy(out->secret, part, (size_t)sn + 1);
    out->has_secret = true;
    out->basic = true;
    return 0;
}

int oauth_credentials_parse(const char *authorization, const char *body_id, const char *body_secret,
                            struct oauth_credentials *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (authorization && strncasecmp(authorization, "Basic ", 6) == 0) {
        if (parse_basic(authorization + 6, out, why) != 0)
            return -1;
        /* RFC 6749 §2.3: a client MUST NOT use more than one authentication method. */
        if (body_secret || (body_id && strcmp(body_id, out->id) != 0)) {
            *why = "Client credentials must be sent by one method only";
            return -1;
        }
        return 0;
    }
    if (!body_id || !*body_id) {
        *why = "client_id is required";
        return -1;
    }
    if (strlen(body_id) > OAUTH_CLIENT_ID_MAX ||
        (body_secret && strlen(body_secret) > OAUTH_SECRET_MAX)) {
        *why = "client credentials are too long";
        return -1;
    }
    snprintf(out->id, sizeof out->id, "%s", body_id);
    if (body_secret) {
        snprintf(out->secret, sizeof out->secret, "%s", body_secret);
        out->has_secret = true;
    }
    return 0;
}

const char *oauth_client_authenticate(const struct oauth_client *c,
                                      const struct oauth_credentials *cr, long long now)
{
    if (!c->confidential)
        return NULL; /* public client: PKCE stands in for the secret (OAuth 2.1 §2.1) */
    if (!cr->has_secret || !cr->secret[0])
        return "Client secret is required";
    char hash[2 * CRYPTO_SHA256_SIZE + 1];
    crypto_sha256_hex(cr->secret, strlen(cr->secret), hash);
    /* Comparing digests keeps the compare constant-time and independent of the secret's length. */
    if (!crypto_equal(hash, strlen(hash), c->secret_hash, strlen(c->secret_hash)))
        return "Invalid client_secret";
    if (c->secret_expires_at != 0 && c->secret_expires_at < now)
        return "Client secret has expired";
    return NULL;
}
