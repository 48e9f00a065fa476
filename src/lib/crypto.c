#include "lib/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

int crypto_random(void *out, size_t len)
{
    /* RAND_bytes draws from OpenSSL's DRBG, seeded from the OS CSPRNG. */
    return RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

int crypto_uuid4(char *out)
{
    uint8_t b[16];
    if (crypto_random(b, sizeof b) != 0)
        return -1;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char hex[33];
    crypto_hex(b, sizeof b, hex);
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
    return 0;
}

int crypto_random_hex(char *out, size_t len)
{
    uint8_t tmp[64];
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < sizeof tmp ? len - done : sizeof tmp;
        if (crypto_random(tmp, n) != 0)
            return -1;
        crypto_hex(tmp, n, out + 2 * done);
        done += n;
    }
    out[2 * len] = '\0';
    return 0;
}

int crypto_random_b64url(char *out, size_t out_size, size_t len)
{
    uint8_t tmp[128];
    if (len > sizeof tmp || crypto_random(tmp, len) != 0)
        return -1;
    return crypto_base64url_encode(tmp, len, out, out_size) < 0 ? -1 : 0;
}

void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_SIZE])
{
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[CRYPTO_SHA256_SIZE])
{
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) || n != CRYPTO_SHA256_SIZE)
        return -1;
    return 0;
}

void crypto_sha256_hex(const void *data, size_t len, char *out)
{
    uint8_t d[CRYPTO_SHA256_SIZE];
    crypto_sha256(data, len, d);
    crypto_hex(d, sizeof d, out);
}

void crypto_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

size_t crypto_base64_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static long b64_encode(const uint8_t *in, size_t len, char *out, size_t out_size,
                       const char *alphabet, int pad)
{
    size_t full = len / 3, rest = len % 3;
    size_t need = full * 4 + (rest ? (pad ? 4 : rest + 1) : 0);
    if (need + 1 > out_size)
        return -1;
    char *o = out;
    for (size_t i = 0; i < full; i++, in += 3) {
        uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (rest) {
        uint32_t v = (uint32_t)in[0] << 16 | (rest == 2 ? (uint32_t)in[1] << 8 : 0);
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[(v >> 12) & 63];
        if (rest == 2)
            *o++ = alphabet[(v >> 6) & 63];
        else if (pad)
            *o++ = '=';
        if (pad)
            *o++ = '=';
    }
    *o = '\0';
    return (long)(o - out);
}

long crypto_base64_encode(const void *data, size_t len, char *out, size_t out_size)
{
    return b64_encode(data, len, out, out_size, b64_std, 1);
}

long crypto_base64url_encode(const void *data, size_t len, char *out, size_t out_size)
{
    return b64_encode(data, len, out, out_size, b64_url, 0);
}

static int b64_value(char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static long b64_decode(const char *in, size_t len, uint8_t *out, size_t out_size, int url)
{
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > out_size)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i], url);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)n;
}

long crypto_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_size)
{
    return b64_decode(in, len, out, out_size, 0);
}

long crypto_base64url_decode(const char *in, size_t len, uint8_t *out, size_t out_size)
{
    return b64_decode(in, len, out, out_size, 1);
}

bool crypto_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}
