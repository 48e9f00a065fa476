/* UTF-8 validation and character-safe truncation (see utf8.h). */
#include "lib/utf8.h"

#include <string.h>

/* Whether b is a continuation byte (10xxxxxx). */
static bool continuation(unsigned char b)
{
    return (b & 0xC0) == 0x80;
}

size_t utf8_sequence_length(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    /* The second byte's range is what rules out overlong forms, surrogates and > U+10FFFF. */
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (!continuation(s[i]))
            return 0;
    return len;
}

size_t utf8_copy_prefix(char *dst, size_t dst_size, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t n = strlen(src), in = 0, out = 0;
    while (in < n) {
        size_t len = utf8_sequence_length(s + in, n - in);
        size_t put = len ? len : 1;
        if (out + put > dst_size - 1)
            break;
        if (len)
            memcpy(dst + out, s + in, len);
        else
            dst[out] = '?';
        out += put;
        in += put;
    }
    dst[out] = '\0';
    return out;
}

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence_length(u + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}
