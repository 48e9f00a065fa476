/*
 * crypto: the few primitives mcpd needs, on OpenSSL 3: random bytes from the OS CSPRNG, ids and
 * tokens, SHA-256 and HMAC-SHA256, base64 and base64url (RFC 4648), and constant-time comparison.
 * No state.
 */
#ifndef MCPD_LIB_CRYPTO_H
#define MCPD_LIB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_SIZE 32
#define CRYPTO_UUID_SIZE   37 /* 36 characters + NUL */

int crypto_random(void *out, size_t len); /* 0, or -1 if the CSPRNG failed */
/* Random UUID v4, lower-case, into out[CRYPTO_UUID_SIZE]. */
int crypto_uuid4(char *out);
/* len random bytes as lower-case hex into out (2*len+1 bytes). */
int crypto_random_hex(char *out, size_t len);
/* len random bytes as unpadded base64url into out (crypto_base64_len(len)+1 bytes suffices). */
int crypto_random_b64url(char *out, size_t out_size, size_t len);

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_SIZE]);
/* HMAC-SHA256 of data under key; 0, or -1 on failure. */
int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[CRYPTO_SHA256_SIZE]);
/* Lower-case hex SHA-256 into out[65]. */
void crypto_sha256_hex(const void *data, size_t len, char *out);

void crypto_hex(const uint8_t *data, size_t len, char *out); /* out: 2*len+1 bytes */

/* Encoded size without NUL: padded base64 of len bytes. */
size_t crypto_base64_len(size_t len);
/* Encoders write a NUL-terminated string and return its length, or -1 if out is too small. */
long crypto_base64_encode(const void *data, size_t len, char *out, size_t out_size);
long crypto_base64url_encode(const void *data, size_t len, char *out,
                             size_t out_size); /* no padding */
/* Decoders accept padded or unpadded input and refuse characters outside the alphabet. Return
 * the decoded length, or -1 for invalid input or a too-small out. */
long crypto_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size);
long crypto_base64url_decode(const char *in, size_t len, uint8_t *out, size_t out_size);

/* Constant-time equality (length leaks, content does not). */
bool crypto_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
