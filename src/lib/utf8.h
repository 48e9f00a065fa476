/*
 * utf8: client text quoted back in messages. A client's tool name, URI or path goes into an
 * error message cut to a bounded length; a cut through a multi-byte character, or bytes that
 * are not UTF-8 at all, would make the message invalid JSON text (jansson refuses it and the
 * error would lose its message). Pure functions, no allocation.
 */
#ifndef MCPD_LIB_UTF8_H
#define MCPD_LIB_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (1 to 4), or 0 when s does not start one
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). n is what is left. */
size_t utf8_sequence_length(const unsigned char *s, size_t n);

/* Copy src into dst (dst_size > 0, always NUL-terminated): whole characters only, as many as
 * fit in dst_size - 1 bytes, each byte that starts no valid sequence replaced by '?'. Returns
 * the bytes written, without the NUL. */
size_t utf8_copy_prefix(char *dst, size_t dst_size, const char *src);

/* Whether the len bytes at s are entirely valid UTF-8. */
bool utf8_valid(const char *s, size_t len);

#endif
