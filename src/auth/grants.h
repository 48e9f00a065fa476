/*
 * grants: the authorization server's decisions, over the store and without HTTP: pending
 * authorizations (/authorize), their approval by the upstream IdP, PKCE S256 (RFC 7636), one-time
 * codes, access and refresh tokens, refresh rotation with reuse detection (OAuth 2.1 §4.3.1,
 * RFC 9700 §4.14.2), RFC 8707 audience binding, revocation (RFC 7009) and introspection
 * (RFC 7662). Codes and tokens are 32 random bytes as 64 hex; the store holds only their SHA-256
 * as key suffixes under the reference server's prefixes, and no value ever contains a raw secret:
 *
 *   auth:pending:{sha256(code)}       the authorization request             code TTL
 *   auth:exch:{sha256(code)}          the request + the approving subject   code TTL
 *                                     (or {"denied":true}: the user denied it)
 *   auth:installation:{sha256(access)} {client_id,sub,scope,aud,iat,exp,family}  access TTL
 *   auth:refresh:{sha256(refresh)}    {client_id,sub,scope,aud,family,gen,access,state,...}
 *   auth:family:{family id}           hash: code (exchanges), gen (rotations), status
 *
 * A family is every token descended from one code. Its hash makes the one-time and rotate-once
 * rules atomic (HINCRBY), and marking it revoked kills every access and refresh token of the
 * family at once, without tracking them one by one. Every key has a TTL; the family's outlives
 * its tokens. Callbacks run on the loop; one may run before the call returns when the store
 * refuses a command, so callers issue these calls last.
 */
#ifndef MCPD_AUTH_GRANTS_H
#define MCPD_AUTH_GRANTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct store;
struct logger;

#define OAUTH_PENDING_PREFIX      "auth:pending:"
#define OAUTH_EXCH_PREFIX         "auth:exch:"
#define OAUTH_INSTALLATION_PREFIX "auth:installation:"
#define OAUTH_REFRESH_PREFIX      "auth:refresh:"
#define OAUTH_FAMILY_PREFIX       "auth:family:"
#define OAUTH_TOKEN_HEX_LEN       64 /* codes, access and refresh tokens */
#define OAUTH_SUB_MAX             256
#define OAUTH_STATE_MAX           2048

/* An OAuth error to send: status, the RFC 6749 §5.2 / §4.1.2.1 code and a description. All
 * strings are static. */
struct oauth_error {
    int status;
    const char *error;
    const char *description;
};

struct oauth_grants_config {
    uint64_t code_ttl_s;
    uint64_t access_ttl_s;
    uint64_t refresh_ttl_s;
    const char *default_audience; /* BASE_URI: aud when no resource was requested */
    const char *issuer;           /* iss in introspection answers */
};

struct oauth_grants;

/* Strings in cfg are copied. NULL on allocation failure. */
struct oauth_grants *oauth_grants_new(struct store *s, struct logger *log,
                                      const struct oauth_grants_config *cfg);
void oauth_grants_free(struct oauth_grants *g);

/* PKCE (RFC 7636 §4.1, §4.2, §4.6). A verifier is 43-128 characters of [A-Za-z0-9-._~]; we
 * accept 32-128 because the reference server's e2e script strips '+' '/' from 43 base64 characters
 * (still >= 190 bits). A challenge is BASE64URL(SHA-256(verifier)), 43 characters. */
bool oauth_pkce_verifier_valid(const char *verifier);
bool oauth_pkce_challenge_valid(const char *challenge);
bool oauth_pkce_s256_matches(const char *verifier, const char *challenge);
/* 64 lower-case hex digits: the shape of every code and token we issue. */
bool oauth_token_shaped(const char *s);

/* A validated authorization request (client known, redirect URI registered, method S256). */
struct oauth_authorization {
    const char *client_id;
    const char *redirect_uri;
    const char *code_challenge;
    const char *scope;
    const char *resource; /* may be NULL: the token's aud is then the default audience */
    const char *state;    /* may be NULL */
};

/* err NULL and code (64 hex, valid during the callback) on success. */
typedef void (*oauth_code_cb)(void *arg, const struct oauth_error *err, const char *code);
void oauth_grants_authorize(struct oauth_grants *g, const struct oauth_authorization *a,
                            oauth_code_cb cb, void *arg);

/* The upstream IdP approved the request of `code` for `sub`: turn the pending authorization into
 * an exchangeable one (once). redirect_uri and state (NULL when the client sent none) are valid
 * during the callback. */
typedef void (*oauth_approve_cb)(void *arg, const struct oauth_error *err, const char *redirect_uri,
                                 const char *state);
void oauth_grants_approve(struct oauth_grants *g, const char *code, const char *sub,
                          oauth_approve_cb cb, void *arg);
/* The user denied the request of `code` on the consent page: it can no longer be approved or
 * exchanged (an exchange gets invalid_grant). The callback is approve's: redirect_uri and state
 * to send the client access_denied with. */
void oauth_grants_deny(struct oauth_grants *g, const char *code, oauth_approve_cb cb, void *arg);

/* A /token request from an authenticated client. */
struct oauth_token_request {
    const char *client_id;
    const char *code;          /* authorization_code */
    const char *code_verifier; /* authorization_code */
    const char *redirect_uri;  /* authorization_code, optional: must match when present */
    const char *refresh_token; /* refresh_token */
    const char *scope;         /* refresh_token, optional: a subset of the original */
    const char *resource;      /* optional: must equal the authorized audience (RFC 8707) */
    bool issue_refresh;        /* the client may use the refresh_token grant */
};

struct oauth_token_response {
    const char *access_token;
    const char *refresh_token; /* NULL when the client may not refresh */
    uint64_t expires_in;
    const char *scope;
};

typedef void (*oauth_token_cb)(void *arg, const struct oauth_error *err,
                               const struct oauth_token_response *tokens);
void oauth_grants_exchange_code(struct oauth_grants *g, const struct oauth_token_request *r,
                                oauth_token_cb cb, void *arg);
void oauth_grants_refresh(struct oauth_grants *g, const struct oauth_token_request *r,
                          oauth_token_cb cb, void *arg);

/* RFC 7009: revoke an access token (that token only) or a refresh token (its whole family),
 * issued to client_id. Unknown tokens and other clients' tokens are ignored (§2.2: the answer is
 * the same). status is 0 or a STORE_ERR_*. hint may be NULL. */
typedef void (*oauth_done_cb)(void *arg, int status);
void oauth_grants_revoke(struct oauth_grants *g, const char *client_id, const char *token,
                         const char *hint, oauth_done_cb cb, void *arg);

/* RFC 7662 §2.2: {"active":false}, or the active token's claims. result is a new reference the
 * callback owns. */
typedef void (*oauth_introspect_cb)(void *arg, json_t *result);
void oauth_grants_introspect(struct oauth_grants *g, const char *token, oauth_introspect_cb cb,
                             void *arg);

#endif
