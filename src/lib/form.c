/* application/x-www-form-urlencoded parsing and percent-encoding (see form.h). */
#include "lib/form.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long form_decode_bounded(const char *in, size_t len, char *out, size_t out_size)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            /* WHATWG passes a malformed escape through literally; OAuth parameters are
             * machine-generated, so a malformed one is more likely an attack than a typo. */
            if (len - i < 3)
                return -1;
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return -1; /* values are handed out as C strings: an embedded NUL would truncate */
        if (o + 1 >= out_size)
            return -1;
        out[o++] = c;
    }
    if (out_size == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}

long form_decode(const char *in, size_t len, char *out)
{
    return form_decode_bounded(in, len, out, len + 1);
}

static int grow(struct form *f)
{
    if (f->count < f->cap)
        return FORM_OK;
    size_t cap = f->cap ? f->cap * 2 : 8;
    struct form_param *p = realloc(f->params, cap * sizeof *p);
    if (!p)
        return FORM_ERR_NOMEM;
    f->params = p;
    f->cap = cap;
    return FORM_OK;
}

/* Decode one "name[=value]" segment of seg_len bytes at src into dst (the storage block, which
 * has room for the segment plus two NULs) and record it. Returns bytes of dst used or < 0. */
static long add_segment(struct form *f, const char *src, size_t seg_len, char *dst)
{
    const char *eq = memchr(src, '=', seg_len);
    size_t name_len = eq ? (size_t)(eq - src) : seg_len;
    size_t value_len = eq ? seg_len - name_len - 1 : 0;
    long n = form_decode(src, name_len, dst);
    if (n < 0)
        return FORM_ERR_ENCODING;
    char *value = dst + n + 1;
    long v = form_decode(eq ? eq + 1 : "", value_len, value);
    if (v < 0)
        return FORM_ERR_ENCODING;
    if (grow(f) != FORM_OK)
        return FORM_ERR_NOMEM;
    f->params[f->count++] = (struct form_param){dst, value, (size_t)v, NULL};
    return n + 1 + v + 1;
}

int form_parse(struct form *f, const char *data, size_t len, size_t max_params, size_t max_bytes)
{
    memset(f, 0, sizeof *f);
    max_params = max_params ? max_params : FORM_DEFAULT_MAX_PARAMS;
    max_bytes = max_bytes ? max_bytes : FORM_DEFAULT_MAX_BYTES;
    if (len > max_bytes)
        return FORM_ERR_LIMIT;
    /* Decoding never lengthens a segment; each segment needs at most two extra NULs. */
    f->storage = malloc(2 * len + 2);
    if (!f->storage)
        return FORM_ERR_NOMEM;
    char *dst = f->storage;
    size_t pos = 0;
    while (pos < len) {
        const char *amp = memchr(data + pos, '&', len - pos);
        size_t seg_len = amp ? (size_t)(amp - (data + pos)) : len - pos;
        if (seg_len > 0) {
            long used =
                f->count >= max_params ? FORM_ERR_LIMIT : add_segment(f, data + pos, seg_len, dst);
            if (used < 0) {
                form_free(f);
                return (int)used;
            }
            dst += used;
        }
        pos += seg_len + 1;
    }
    return FORM_OK;
}

int form_add(struct form *f, const char *name, const char *value, size_t value_len)
{
    size_t name_len = strlen(name);
    if (memchr(value, '\0', value_len))
        return FORM_ERR_ENCODING;
    char *block = malloc(name_len + value_len + 2);
    if (!block || grow(f) != FORM_OK) {
        free(block);
        return FORM_ERR_NOMEM;
    }
    memcpy(block, name, name_len + 1);
    memcpy(block + name_len + 1, value, value_len);
    block[name_len + 1 + value_len] = '\0';
    struct form_param *p = &f->params[f->count++];
    p->owned = block; /* freed by form_free */
    p->name = block;
    p->value = block + name_len + 1;
    p->value_len = value_len;
    return FORM_OK;
}

void form_free(struct form *f)
{
    for (size_t i = 0; i < f->count; i++)
        free(f->params[i].owned);
    free(f->params);
    free(f->storage);
    memset(f, 0, sizeof *f);
}

const char *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++) {
        if (strcmp(f->params[i].name, name) == 0)
            return f->params[i].value;
    }
    return NULL;
}

size_t form_count(const struct form *f, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < f->count; i++)
        n += strcmp(f->params[i].name, name) == 0;
    return n;
}

/* Quadratic, but count is bounded by max_params (64 by default). */
const char *form_first_duplicate(const struct form *f)
{
    for (size_t i = 0; i < f->count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(f->params[i].name, f->params[j].name) == 0)
                return f->params[i].name;
        }
    }
    return NULL;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

long form_encode(const char *s, char *out, size_t out_size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        size_t need = is_unreserved(*p) ? 1 : 3;
        if (o + need >= out_size)
            return -1;
        if (need == 1) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= out_size)
        return -1;
    out[o] = '\0';
    return (long)o;
}
