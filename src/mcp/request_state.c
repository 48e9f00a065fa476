/*
 * request_state: sealing and opening MRTR requestState tokens (request_state.h).
 */
#include "mcp/request_state.h"

#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/json.h"

#define PREFIX     "v1."
#define PREFIX_LEN (sizeof PREFIX - 1)
/* A state issued this far in the future is refused (clock skew between instances allowed). */
#define SKEW_S 60

/* base64url without padding of a SHA-256 is 43 characters. */
#define MAC_B64_LEN 43

void request_state_digest(const json_t *value, char out[REQUEST_STATE_DIGEST_SIZE])
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    uint8_t d[CRYPTO_SHA256_SIZE];
    const char *in = text ? text : "null";
    crypto_sha256(in, strlen(in), d);
    free(text);
    crypto_base64url_encode(d, sizeof d, out, REQUEST_STATE_DIGEST_SIZE);
}

static json_t *payload_new(const struct request_state_bind *b, const json_t *answers, int64_t now,
                           uint64_t ttl_s)
{
    json_int_t iat = now, exp = iat + (json_int_t)ttl_s;
    json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "m", b->method, "t", b->target, "d",
                          b->digest, "u", b->user, "iat", iat, "exp", exp);
    if (p)
        json_object_set_new(p, "r", answers ? json_deep_copy(answers) : json_object());
    return p;
}

char *request_state_seal(const void *key, size_t key_len, const struct request_state_bind *b,
                         const json_t *answers, int64_t now, uint64_t ttl_s)
{
    json_t *p = payload_new(b, answers, now, ttl_s);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!text)
        return NULL;
    size_t tlen = strlen(text);
    size_t body_max = PREFIX_LEN + crypto_base64_len(tlen) + 1;
    size_t total_max = body_max + 1 + MAC_B64_LEN + 1;
    char *out = total_max <= REQUEST_STATE_MAX_BYTES + 1 ? malloc(total_max) : NULL;
    if (!out) {
        free(text);
        return NULL;
    }
    memcpy(out, PREFIX, PREFIX_LEN);
    long n = crypto_base64url_encode(text, tlen, out + PREFIX_LEN, total_max - PREFIX_LEN);
    free(text);
    uint8_t mac[CRYPTO_SHA256_SIZE];
    size_t body = PREFIX_LEN + (size_t)(n < 0 ? 0 : n);
    if (n < 0 || crypto_hmac_sha256(key, key_len, out, body, mac) != 0) {
        free(out);
        return NULL;
    }
    out[body] = '.';
    crypto_base64url_encode(mac, sizeof mac, out + body + 1, total_max - body - 1);
    if (strlen(out) > REQUEST_STATE_MAX_BYTES) {
        free(out);
        return NULL;
    }
    return out;
}

/* The payload, once the MAC over token[0, body) has been checked. */
static json_t *payload_decode(const char *token, size_t body)
{
    size_t enc = body - PREFIX_LEN;
    uint8_t *raw = malloc(enc + 1);
    if (!raw)
        return NULL;
    long n = crypto_base64url_decode(token + PREFIX_LEN, enc, raw, enc + 1);
    json_t *p = n > 0 ? json_parse((const char *)raw, (size_t)n, NULL, 0) : NULL;
    free(raw);
    if (p && !json_is_object(p)) {
        json_decref(p);
        p = NULL;
    }
    return p;
}

static bool field_is(const json_t *p, const char *name, const char *want)
{
    const char *v = json_string_value(json_object_get(p, name));
    return v && strcmp(v, want) == 0;
}

static enum request_state_status payload_check(const json_t *p, const struct request_state_bind *b,
                                               int64_t now)
{
    const json_t *iat = json_object_get(p, "iat"), *exp = json_object_get(p, "exp");
    if (!json_is_integer(iat) || !json_is_integer(exp) || !json_is_object(json_object_get(p, "r")))
        return REQUEST_STATE_MALFORMED;
    if (json_integer_value(exp) < now || json_integer_value(iat) > now + SKEW_S)
        return REQUEST_STATE_EXPIRED;
    if (!field_is(p, "m", b->method) || !field_is(p, "t", b->target) ||
        !field_is(p, "d", b->digest) || !field_is(p, "u", b->user))
        return REQUEST_STATE_FOREIGN;
    return REQUEST_STATE_OK;
}

enum request_state_status request_state_open(const void *key, size_t key_len, const char *token,
                                             size_t len, const struct request_state_bind *b,
                                             int64_t now, json_t **answers)
{
    *answers = NULL;
    if (!token || len > REQUEST_STATE_MAX_BYTES || len < PREFIX_LEN + 2 + MAC_B64_LEN ||
        memcmp(token, PREFIX, PREFIX_LEN) != 0 || memchr(token, '\0', len))
        return REQUEST_STATE_MALFORMED;
    size_t body = len - MAC_B64_LEN - 1;
    if (token[body] != '.')
        return REQUEST_STATE_MALFORMED;
    /* The MAC is compared as its encoding, so no second spelling of it (base64url's spare low
     * bits) verifies. */
    uint8_t mac[CRYPTO_SHA256_SIZE];
    char want[MAC_B64_LEN + 1];
    if (crypto_hmac_sha256(key, key_len, token, body, mac) != 0 ||
        crypto_base64url_encode(mac, sizeof mac, want, sizeof want) != MAC_B64_LEN ||
        !crypto_equal(want, MAC_B64_LEN, token + body + 1, MAC_B64_LEN))
        return REQUEST_STATE_TAMPERED;
    json_t *p = payload_decode(token, body);
    if (!p)
        return REQUEST_STATE_MALFORMED;
    enum request_state_status s = payload_check(p, b, now);
    if (s == REQUEST_STATE_OK)
        *answers = json_incref(json_object_get(p, "r"));
    json_decref(p);
    return s;
}

const char *request_state_status_name(enum request_state_status s)
{
    switch (s) {
    case REQUEST_STATE_OK:
        return "ok";
    case REQUEST_STATE_MALFORMED:
        return "malformed";
    case REQUEST_STATE_TAMPERED:
        return "tampered";
    case REQUEST_STATE_EXPIRED:
        return "expired";
    case REQUEST_STATE_FOREIGN:
        return "foreign";
    }
    return "malformed";
}
