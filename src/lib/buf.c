#include "lib/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t buf_limit(const struct buf *b)
{
    return b->limit ? b->limit : (size_t)-1 / 2;
}

void buf_init(struct buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (extra > buf_limit(b) - b->len)
        return BUF_ERR_LIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return BUF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return BUF_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0'; /* the first allocation must honour the NUL promise too */
    return BUF_OK;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);
    if (rc != BUF_OK)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return BUF_OK;
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_append_char(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return BUF_ERR_NOMEM;
    int rc = buf_reserve(b, (size_t)n);
    if (rc != BUF_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BUF_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *buf_steal(struct buf *b, size_t *len)
{
    if (!b->data && buf_reserve(b, 0) != BUF_OK)
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    buf_init(b, b->limit);
    return p;
}
