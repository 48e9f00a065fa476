/*
 * clients: OAuth client records. RFC 7591 dynamic registration (metadata validation, client id
 * and secret generation, the `auth:client:{client_id}` record with a TTL), loading a client for
 * the other endpoints, and client authentication at /token and /revoke (RFC 6749 §2.3.1:
 * client_secret_post, client_secret_basic, or none for public clients). The store keeps only
 * the SHA-256 of a secret; the raw secret exists once, in the 201 response. Knows nothing of
 * HTTP beyond the text of an Authorization header.
 *
 * It also bounds registrations: a record lives unused_ttl_s until its client's first token
 * exchange (oauth_client_mark_used), then ttl_s from registration; and at most max_clients
 * are live. The count is kept in the store, so every instance shares it:
 * `auth:clients:live` is a hash of expiry bucket -> registrations expiring in it (buckets of
 * OAUTH_CLIENT_BUCKETS-th of the shorter lifetime); its fields for past buckets are dropped as
 * they are seen. A registration is counted until the end of its bucket, so at most one bucket
 * width after it expired; concurrent registrations may pass the bound by the number in flight.
 * `auth:client:{id}:used` marks a client whose first exchange moved it to the long lifetime.
 */
#ifndef MCPD_AUTH_CLIENTS_H
#define MCPD_AUTH_CLIENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/crypto.h"

struct store;

#define OAUTH_CLIENT_PREFIX "auth:client:"
#define OAUTH_DEFAULT_SCOPE "mcp" /* what the SDK asks for (from the resource metadata) */
/* Every scope this authorization server grants (space-separated): what scopes_supported
 * publishes, and the bound on what a token can carry whatever a client registered. */
#define OAUTH_SUPPORTED_SCOPES   "mcp"
#define OAUTH_SECRET_MAX         256 /* longest client secret accepted from a request */
#define OAUTH_CLIENT_ID_MAX      512 /* ours are UUIDs; a metadata document URL (cimd.h) is longer */
#define OAUTH_MAX_REDIRECTS      16
#define OAUTH_MAX_STRING         1024  /* client_name, scope, software_id, ... */
#define OAUTH_MAX_LARGE_FIELD    16384 /* jwks, software_statement */
#define OAUTH_CLIENTS_LIVE_KEY   "auth:clients:live"
#define OAUTH_CLIENT_USED_SUFFIX ":used"
#define OAUTH_CLIENT_BUCKETS     8 /* count buckets per unused lifetime */
/* oauth_register_cb status when max_clients registrations are live. */
#define OAUTH_REGISTER_FULL 1

struct oauth_client_limits {
    uint64_t ttl_s;        /* a used registration's lifetime, from registration */
    uint64_t unused_ttl_s; /* until the first token exchange; 0 or >= ttl_s: ttl_s */
    unsigned max_clients;  /* live registrations; 0: no bound */
};

enum oauth_auth_method {
    OAUTH_AUTH_NONE = 0, /* public client (RFC 7591 "none") */
    OAUTH_AUTH_POST,     /* client_secret_post: credentials in the body */
    OAUTH_AUTH_BASIC,    /* client_secret_basic: HTTP Basic (RFC 6749 §2.3.1) */
};

struct oauth_client {
    char id[OAUTH_CLIENT_ID_MAX + 1];
    json_t *record;                               /* the stored registration; owned */
    enum oauth_auth_method method;                /* registered token_endpoint_auth_method */
    bool confidential;                            /* has a secret */
    char secret_hash[2 * CRYPTO_SHA256_SIZE + 1]; /* hex SHA-256 of the secret */
    long long secret_expires_at;                  /* Unix seconds; 0 = never */
    const char *scope;    /* registered scope string; borrowed from record */
    bool refresh_allowed; /* "refresh_token" is among the registered grant_types */
};

/* Validate a registration request (RFC 7591 §2) and return the registered metadata: the
 * accepted fields in the reference server's order with defaults filled in
 * (token_endpoint_auth_method client_secret_post, grant_types [authorization_code, refresh_token],
 * response_types [code], scope "mcp"); unknown fields are dropped. NULL on refusal, with *error set
 * to "invalid_redirect_uri" or "invalid_client_metadata" (RFC 7591 §3.2.2) and a description in
 * desc. New reference. */
json_t *oauth_client_validate(const json_t *request, const char **error, char *desc,
                              size_t desc_size);

/* status is 0, OAUTH_REGISTER_FULL or a STORE_ERR_*; response (the 201 body, raw secret
 * included) is a new reference the callback owns, NULL on failure. */
typedef void (*oauth_register_cb)(void *arg, int status, json_t *response);
/* Unless max_clients registrations are live: create the client id (UUID v4) and, unless the
 * method is "none", a 32-byte hex secret that expires after ttl_s; store the record (hash of the
 * secret only) for the unused lifetime and count it. Steals metadata. The callback may run
 * before the call returns when the store refuses. */
void oauth_client_register(struct store *s, json_t *metadata, const struct oauth_client_limits *l,
                           oauth_register_cb cb, void *arg);
/* The client completed a token exchange: on the first one, extend its record to ttl_s from
 * registration and move it in the count. Fire and forget; store failures leave the short
 * lifetime (the client registers again). */
void oauth_client_mark_used(struct store *s, const struct oauth_client *c,
                            const struct oauth_client_limits *l);
/* The count bucket of a registration expiring at exp_s (Unix seconds), and the bucket width. */
uint64_t oauth_client_bucket_width(const struct oauth_client_limits *l);

/* client is NULL when unknown (status 0) or on a store failure (status < 0); the callback owns
 * it (oauth_client_free). */
typedef void (*oauth_client_cb)(void *arg, int status, struct oauth_client *client);
void oauth_client_load(struct store *s, const char *client_id, oauth_client_cb cb, void *arg);
void oauth_client_free(struct oauth_client *c);
/* A client from a record shaped as the stored registrations are (oauth_client_validate's fields,
 * client_secret_sha256 for a confidential one). Steals rec (also on failure); NULL when rec is
 * NULL, id is too long or out of memory. */
struct oauth_client *oauth_client_from_json(const char *id, json_t *rec);

/* Registered redirect URIs, compared as exact strings (OAuth 2.1 §2.3.1). */
size_t oauth_client_redirect_count(const struct oauth_client *c);
const char *oauth_client_redirect_at(const struct oauth_client *c, size_t i);
bool oauth_client_redirect_registered(const struct oauth_client *c, const char *uri);
/* requested is well-formed (RFC 6749 §3.3) and each of its space-separated scopes is in granted. */
bool oauth_scope_subset(const char *requested, const char *granted);
/* Every space-separated scope in requested is in the client's registered scope. */
bool oauth_client_scope_allowed(const struct oauth_client *c, const char *requested);
/* A client_id shaped as we issue them (so junk never becomes a store key). */
bool oauth_client_id_plausible(const char *id);

/* Credentials presented with a request. */
struct oauth_credentials {
    char id[OAUTH_CLIENT_ID_MAX + 1];
    char secret[OAUTH_SECRET_MAX + 1];
    bool has_secret;
    bool basic; /* came in an Authorization: Basic header (errors are then 401) */
};

/* Collect the credentials from an Authorization header (may be NULL) and the body's client_id
 * and client_secret (may be NULL). Basic credentials are base64 of "id:secret" with both parts
 * form-urlencoded (RFC 6749 §2.3.1). Using two methods at once is refused (RFC 6749 §2.3). -1
 * with *why set when malformed; a missing client_id is reported the same way. */
int oauth_credentials_parse(const char *authorization, const char *body_id, const char *body_secret,
                            struct oauth_credentials *out, const char **why);
/* Authenticate: NULL on success, else the error_description of an invalid_client error.
 * Confidential clients must present their unexpired secret (compared as SHA-256 digests in
 * constant time); public clients present none. now is Unix seconds. */
const char *oauth_client_authenticate(const struct oauth_client *c,
                                      const struct oauth_credentials *cr, long long now);

#endif
