/*
 * form: application/x-www-form-urlencoded parsing (WHATWG URL "application/x-www-form-urlencoded
 * parser"), used for query strings and OAuth request bodies. Percent-escapes are decoded, '+' is
 * a space, malformed escapes and encoded NUL bytes are refused (values are handed out as C
 * strings), and the number of parameters and the input size are bounded. Every occurrence of a
 * name is kept in order, so callers can refuse repeated parameters as OAuth requires (RFC 6749
 * §3.1, §3.2). Knows nothing of HTTP or OAuth.
 */
#ifndef MCPD_LIB_FORM_H
#define MCPD_LIB_FORM_H

#include <stddef.h>

#define FORM_OK           0
#define FORM_ERR_ENCODING (-1) /* a bad %XX escape or an encoded NUL byte */
#define FORM_ERR_LIMIT    (-2) /* too many parameters or too many bytes */
#define FORM_ERR_NOMEM    (-3)

#define FORM_DEFAULT_MAX_PARAMS 64
#define FORM_DEFAULT_MAX_BYTES  (64 * 1024)

struct form_param {
    const char *name;  /* decoded, NUL-terminated */
    const char *value; /* decoded, NUL-terminated; "" for "name" or "name=" */
    size_t value_len;
    char *owned; /* the block name and value live in when added by form_add; else NULL */
};

struct form {
    struct form_param *params; /* in input order, duplicates included */
    size_t count;
    size_t cap;
    char *storage; /* one block holding every name and value form_parse decoded */
};

/* Parse len bytes of data (which need not be NUL-terminated) into f. Empty segments ("a=1&&b=2")
 * are skipped. max_params and max_bytes of 0 take the defaults above. On error f is left empty
 * (form_free is still safe). */
int form_parse(struct form *f, const char *data, size_t len, size_t max_params, size_t max_bytes);
/* Build a form by hand (JSON bodies converted to parameters); name and value are copied. */
int form_add(struct form *f, const char *name, const char *value, size_t value_len);
void form_free(struct form *f);

/* The first value of name, or NULL when absent. Borrowed from f. */
const char *form_get(const struct form *f, const char *name);
/* How many times name occurs. */
size_t form_count(const struct form *f, const char *name);
/* The name of the first parameter that occurs more than once, or NULL. */
const char *form_first_duplicate(const struct form *f);

/* Percent-decode (with '+' as space) len bytes into out (at least len + 1 bytes). Returns the
 * decoded length, or -1 for a malformed escape or an encoded NUL. */
long form_decode(const char *in, size_t len, char *out);
/* form_decode into a buffer of out_size bytes that may be shorter than the input (query
 * parameters copied into callers' fixed buffers): -1 also when the decoded text and its NUL do
 * not fit. */
long form_decode_bounded(const char *in, size_t len, char *out, size_t out_size);
/* Append the percent-encoding of s (unreserved characters of RFC 3986 §2.3 kept, everything
 * else %XX) to out (out_size bytes, NUL-terminated). Returns the new length, or -1 if it does
 * not fit. */
long form_encode(const char *s, char *out, size_t out_size);

#endif
