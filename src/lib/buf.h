/*
 * buf: a growable byte buffer with a hard size limit. Every string mcpd assembles from network
 * data goes through one, so every such string is bounded. The buffer is always NUL-terminated
 * (the NUL is not counted in len), so its contents can be handed to C string functions.
 * Knows nothing of HTTP, JSON or MCP.
 */
#ifndef MCPD_LIB_BUF_H
#define MCPD_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;   /* NUL-terminated; NULL until the first append */
    size_t len;   /* bytes used, excluding the NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* maximum len; 0 means SIZE_MAX / 2 */
};

#define BUF_OK        0
#define BUF_ERR_LIMIT (-1) /* the append would pass limit; the buffer is unchanged */
#define BUF_ERR_NOMEM (-2)

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the allocation */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drop the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
/* Hand the bytes to the caller, who frees them with free(); the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
