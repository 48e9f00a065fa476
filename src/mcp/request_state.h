/*
 * request_state: the opaque requestState of a 2026-07-28 InputRequiredResult (MRTR), sealed and
 * opened. The token carries what a stateless retry needs and cannot be trusted to keep itself:
 * the answers the client gave in earlier rounds, and what it is bound to (the request's method,
 * its target (tool or prompt name, resource URI), a digest of its arguments, the authenticated
 * user, an issue time and an expiry). It is integrity-protected with HMAC-SHA256 under
 * REQUEST_STATE_SECRET, so any instance sharing the secret can open it and nothing the client
 * changes survives. Not encrypted: it holds nothing the client did not send. No state; the
 * caller gives the clock.
 *
 * Wire form: "v1." base64url(payload JSON) "." base64url(HMAC over everything before it).
 */
#ifndef MCPD_MCP_REQUEST_STATE_H
#define MCPD_MCP_REQUEST_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The longest requestState accepted or issued (characters). */
#define REQUEST_STATE_MAX_BYTES (256u * 1024)
/* The base64url SHA-256 a digest is written as, with its NUL. */
#define REQUEST_STATE_DIGEST_SIZE 44

/* What a state is bound to; strings borrowed, none NULL. */
struct request_state_bind {
    const char *method; /* "tools/call", "prompts/get", "resources/read" */
    const char *target; /* tool or prompt name, resource URI */
    const char *digest; /* request_state_digest of the arguments */
    const char *user;   /* authenticated principal ("anonymous" without auth) */
};

enum request_state_status {
    REQUEST_STATE_OK = 0,
    REQUEST_STATE_MALFORMED, /* not a token this server issues, or too long */
    REQUEST_STATE_TAMPERED,  /* the MAC does not verify */
    REQUEST_STATE_EXPIRED,   /* past its expiry (or issued in the future) */
    REQUEST_STATE_FOREIGN,   /* sealed for another request or user */
};

/* Canonical digest of a JSON value (keys sorted, compact; NULL counts as JSON null) into
 * out[REQUEST_STATE_DIGEST_SIZE]. */
void request_state_digest(const json_t *value, char out[REQUEST_STATE_DIGEST_SIZE]);

/* A new token binding answers (an object of earlier rounds' responses, borrowed; NULL for none)
 * to b, issued at now (Unix seconds) and valid for ttl_s. Caller frees. NULL when it would be
 * longer than REQUEST_STATE_MAX_BYTES or on allocation failure. */
char *request_state_seal(const void *key, size_t key_len, const struct request_state_bind *b,
                         const json_t *answers, int64_t now, uint64_t ttl_s);

/* Verify token (len characters) for b at now; on REQUEST_STATE_OK *answers is a new reference
 * to the carried answers object (possibly empty). */
enum request_state_status request_state_open(const void *key, size_t key_len, const char *token,
                                             size_t len, const struct request_state_bind *b,
                                             int64_t now, json_t **answers);

/* A short word for logs and error data: "ok", "malformed", "tampered", "expired", "foreign". */
const char *request_state_status_name(enum request_state_status s);

#endif
