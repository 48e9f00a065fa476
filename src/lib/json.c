#include "lib/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Serializing recursion bound. Parsed documents are at most JSON_MAX_DEPTH deep, but the server
 * wraps them in envelopes, so this is looser; it exists to stop a cyclic or absurd tree built in
 * code from exhausting the stack. */
#define JSON_SERIALIZE_MAX_DEPTH 1024

/* Doubles whose integral values are all exactly representable: the range in which a number read
 * as a real can safely become a json_integer again. */
#define JSON_SAFE_INTEGER 9007199254740991.0

/* jansson 2.14 fixes its nesting limit at compile time (2048), far above what a request needs, so
 * depth is checked before jansson builds anything. Only brackets outside strings count; for valid
 * JSON that is exactly the nesting depth, and invalid JSON is refused by jansson anyway. */
static bool json_depth_ok(const char *data, size_t len, size_t *where)
{
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = data[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > JSON_MAX_DEPTH) {
                *where = i;
                return false;
            }
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

/* After a parse with JSON_DECODE_INT_AS_REAL, give back integer type to the values JavaScript
 * could not tell from integers anyway, so callers that check json_is_integer (ids) still work. */
static json_t *json_restore_integers(json_t *v)
{
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) <= JSON_SAFE_INTEGER) {
            json_t *i = json_integer((json_int_t)d);
            if (i) {
                json_decref(v);
                return i;
            }
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *item = json_array_get(v, i);
            json_t *fixed = json_restore_integers(json_incref(item));
            json_array_set_new(v, i, fixed);
        }
    } else if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
            json_t *fixed = json_restore_integers(json_incref(json_object_iter_value(it)));
            json_object_iter_set_new(v, it, fixed);
        }
    }
    return v;
}

/* ---- the fast reader ----
 * jansson's reader costs about 150 instructions per byte of a request (a byte-at-a-time stream
 * with a look-ahead buffer), more than everything else a small tools/call does. This reader
 * builds the same jansson tree directly from the buffer. It accepts only what jansson accepts and
 * gives up (NULL) on anything else, and on the rare forms it does not handle (integers of 19 or
 * more digits, long real literals); json_parse then asks jansson, whose answer, and error text,
 * stand. */

struct reader {
    const unsigned char *p, *end;
};

/* A string as read: the bytes in the input when it has no escapes, else decoded into owned. */
struct rstr {
    const char *s;
    size_t len;
    char *owned;
};

static void skip_ws(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* The length of the well-formed UTF-8 sequence at p (p[0] >= 0x80), 0 when it is not one: no
 * overlong forms, no surrogates, nothing above U+10FFFF (what jansson accepts). */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], cp, min;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* Four hex digits at p (at least four bytes before end); -1 when not. */
static long hex4(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int d = is_digit(c)                              ? c - '0'
                : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                         : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The code point of the \u escape at p (just after "\u"), a surrogate pair joined; *next is
 * after it. -1 for what jansson refuses: a lone surrogate, \u0000. */
static long unicode_escape(const unsigned char *p, const unsigned char *end,
                           const unsigned char **next)
{
    long cp = hex4(p, end);
    *next = p + 4;
    if (cp <= 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return -1;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - *next < 6 || (*next)[0] != '\\' || (*next)[1] != 'u')
            return -1;
        long low = hex4(*next + 2, end);
        if (low < 0xDC00 || low > 0xDFFF)
            return -1;
        *next += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    return cp;
}

static size_t utf8_encode(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode the escapes of the string body [p, stop) (its UTF-8 already checked) into a new
 * buffer: never longer than the escaped form. false for an escape jansson refuses. */
static bool unescape(const unsigned char *p, const unsigned char *stop, struct rstr *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char *o = malloc((size_t)(stop - p) + 1);
    if (!o)
        return false;
    out->s = out->owned = o;
    while (p < stop) {
        if (*p != '\\') {
            *o++ = (char)*p++;
            continue;
        }
        const char *simple = p[1] ? strchr(from, p[1]) : NULL;
        if (simple) {
            *o++ = to[simple - from];
            p += 2;
            continue;
        }
        long cp = p[1] == 'u' ? unicode_escape(p + 2, stop, &p) : -1;
        if (cp < 0) {
            free(out->owned);
            out->owned = NULL;
            return false;
        }
        o += utf8_encode((unsigned long)cp, o);
    }
    out->len = (size_t)(o - out->s);
    return true;
}

/* A string at r->p (on its opening quote). */
/* The bytes a string's body cannot hold as they are, or that need a closer look: the controls,
 * the quote, the backslash and every byte of a multi-byte UTF-8 sequence. */
static const unsigned char string_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

static bool read_string(struct reader *r, struct rstr *out)
{
    const unsigned char *start = r->p + 1, *p = start, *end = r->end;
    bool escaped = false;
    while (p < end) {
        while (p < end && !string_special[*p]) /* one table load and test per plain byte */
            p++;
        if (p >= end || *p == '"') {
            break;
        } else if (*p == '\\') {
            if (end - p < 2)
                return false;
            escaped = true;
            p += 2;
        } else if (*p < 0x20) {
            return false;
        } else {
            size_t n = utf8_sequence(p, end);
            if (!n)
                return false;
            p += n;
        }
    }
    if (p >= end)
        return false;
    r->p = p + 1;
    out->owned = NULL;
    if (!escaped) {
        out->s = (const char *)start;
        out->len = (size_t)(p - start);
        return true;
    }
    return unescape(start, p, out);
}

/* The digits of [p, end) (at most 18, so no overflow) as an integer. */
static json_int_t small_integer(const unsigned char *p, const unsigned char *end)
{
    bool negative = *p == '-';
    json_int_t v = 0;
    for (p += negative; p < end; p++)
        v = v * 10 + (*p - '0');
    return negative ? -v : v;
}

static json_t *read_number(struct reader *r)
{
    const unsigned char *s = r->p, *q = s, *end = r->end;
    bool real = false;
    q += q < end && *q == '-';
    if (q < end && *q == '0')
        q++;
    else if (q < end && *q >= '1' && *q <= '9')
        while (q < end && is_digit(*q))
            q++;
    else
        return NULL;
    if (q < end && *q == '.') {
        real = true;
        if (++q >= end || !is_digit(*q))
            return NULL;
        while (q < end && is_digit(*q))
            q++;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        real = true;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (q >= end || !is_digit(*q))
            return NULL;
        while (q < end && is_digit(*q))
            q++;
    }
    size_t n = (size_t)(q - s);
    char text[40];
    if (n >= sizeof text || (!real && n - (*s == '-') > 18))
        return NULL; /* jansson decides: it knows the range and "too big" */
    r->p = q;
    if (!real)
        return json_integer(small_integer(s, q));
    memcpy(text, s, n);
    text[n] = '\0';
    errno = 0;
    double d = strtod(text, NULL); /* mcpd never calls setlocale: '.' is the decimal point */
    if (errno == ERANGE && isinf(d))
        return NULL;
    return json_real(d);
}

static json_t *read_value(struct reader *r, int depth);

/* depth: the object's own nesting level, 1 at the top; past JSON_MAX_DEPTH json_parse gives the
 * depth error (json_depth_ok counts exactly this for any text this reader accepts). */
static json_t *read_object(struct reader *r, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return NULL;
    json_t *obj = json_object();
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return obj;
    }
    while (obj) {
        struct rstr key;
        if (r->p >= r->end || *r->p != '"' || !read_string(r, &key))
            break;
        skip_ws(r);
        json_t *v = NULL;
        if (r->p < r->end && *r->p == ':') {
            r->p++;
            v = read_value(r, depth);
        }
        size_t before = json_object_size(obj);
        int rc = v ? json_object_setn_new_nocheck(obj, key.s, key.len, v) : -1;
        if (rc == 0 && json_object_size(obj) == before)
            rc = -1; /* a duplicate key replaced a value: jansson refuses the text */
        free(key.owned);
        if (rc != 0 || r->p >= r->end)
            break;
        if (*r->p == '}') {
            r->p++;
            return obj;
        }
        if (*r->p != ',')
            break;
        r->p++;
        skip_ws(r);
    }
    json_decref(obj);
    return NULL;
}

static json_t *read_array(struct reader *r, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return NULL;
    json_t *arr = json_array();
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return arr;
    }
    while (arr) {
        json_t *v = read_value(r, depth);
        if (!v || json_array_append_new(arr, v) != 0 || r->p >= r->end)
            break;
        if (*r->p == ']') {
            r->p++;
            return arr;
        }
        if (*r->p != ',')
            break;
        r->p++;
    }
    json_decref(arr);
    return NULL;
}

static json_t *read_literal(struct reader *r, const char *word, json_t *value)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return NULL;
    r->p += n;
    return value;
}

/* One value with the white space around it. */
static json_t *read_value(struct reader *r, int depth)
{
    skip_ws(r);
    if (r->p >= r->end)
        return NULL;
    json_t *v = NULL;
    struct rstr s;
    switch (*r->p) {
    case '{':
        v = read_object(r, depth + 1);
        break;
    case '[':
        v = read_array(r, depth + 1);
        break;
    case '"':
        if (read_string(r, &s)) {
            v = json_stringn_nocheck(s.s, s.len);
            free(s.owned);
        }
        break;
    case 't':
        v = read_literal(r, "true", json_true());
        break;
    case 'f':
        v = read_literal(r, "false", json_false());
        break;
    case 'n':
        v = read_literal(r, "null", json_null());
        break;
    default:
        v = read_number(r);
    }
    skip_ws(r);
    return v;
}

/* The whole of [data, data + len) as one value, or NULL (jansson then decides). */
static json_t *json_read_fast(const char *data, size_t len)
{
    struct reader r = {(const unsigned char *)data, (const unsigned char *)data + len};
    json_t *v = read_value(&r, 0);
    if (v && r.p != r.end) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *json_parse(const char *data, size_t len, char *err, size_t err_size)
{
    /* Most text is read here; what this reader refuses is measured and read by jansson. */
    json_t *fast = json_read_fast(data, len);
    if (fast)
        return fast;
    size_t where = 0;
    if (!json_depth_ok(data, len, &where)) {
        if (err && err_size)
            snprintf(err, err_size, "JSON nested deeper than %d levels at position %zu",
                     JSON_MAX_DEPTH, where);
        return NULL;
    }
    /* Any value is accepted at the top level; whether it must be an object or array is the
     * caller's (JSON-RPC's) decision, and it wants a different error for that. NUL in strings
     * stays refused: C callers treat strings as NUL-terminated. */
    const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY;
    json_error_t je;
    json_t *v = json_loadb(data, len, flags, &je);
    if (!v && strstr(je.text, "too big") != NULL) {
        /* jansson refuses integers outside int64; JavaScript reads them as doubles, and mcpd
         * itself prints large doubles such as 1e20 in integer form, so read them as JS would. */
        v = json_loadb(data, len, flags | JSON_DECODE_INT_AS_REAL, &je);
        if (v)
            v = json_restore_integers(v);
    }
    if (!v && err && err_size)
        snprintf(err, err_size, "%s at line %d column %d", je.text, je.line, je.column);
    return v;
}

/* Escapes exactly as JSON.stringify does: the two-character forms it uses, \u00xx (lowercase hex)
 * for the other control characters, and everything else, '/' and non-ASCII included, raw. */
static int json_write_string(struct buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_append_char(out, '"');
    size_t run = 0; /* start of the pending unescaped bytes */
    for (size_t i = 0; rc == BUF_OK && i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        rc = buf_append(out, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        size_t n = 2;
        switch (ch) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 0xf];
            n = 6;
        }
        if (rc == BUF_OK)
            rc = buf_append(out, esc, n);
    }
    if (rc == BUF_OK)
        rc = buf_append(out, s + run, len - run);
    if (rc == BUF_OK)
        rc = buf_append_char(out, '"');
    return rc;
}

static int json_write(const json_t *v, struct buf *out, int depth);

/* An integer prints exactly, even past 2^53 where JavaScript would print the nearest double:
 * a JSON-RPC id or progress token must come back as the client sent it (9007199254740993, not
 * ...992). A document with a number beyond int64 is read as doubles throughout (json_parse), so
 * its integers print the JavaScript way; either way printing is stable under a second parse. */
static int json_write_integer(json_int_t i, struct buf *out)
{
    return buf_printf(out, "%" JSON_INTEGER_FORMAT, i);
}

/* A whole real at or beyond 2^63 printed as JavaScript does ("34567890123458154000") would read
 * back as an integer too large for int64, forcing the whole document to doubles and rounding the
 * exact integers elsewhere in it. Below 1e21 (where JavaScript itself switches), such a number
 * prints in exponent form ("3.4567890123458154e+19"), which reads back as the same real. */
static int json_write_real(double d, struct buf *out)
{
    char num[32];
    size_t n = json_format_number(d, num, sizeof num);
    if (!(d == floor(d) && fabs(d) >= 9223372036854775808.0 && fabs(d) < 1e21))
        return buf_append(out, num, n);
    const char *digits = num[0] == '-' ? num + 1 : num;
    size_t len = strlen(digits), last = len;
    while (last > 1 && digits[last - 1] == '0')
        last--;
    int rc = d < 0 ? buf_append_char(out, '-') : BUF_OK;
    if (rc == BUF_OK)
        rc = buf_append_char(out, digits[0]);
    if (rc == BUF_OK && last > 1)
        rc = buf_printf(out, ".%.*s", (int)(last - 1), digits + 1);
    return rc == BUF_OK ? buf_printf(out, "e+%zu", len - 1) : rc;
}

static int json_write_object(const json_t *v, struct buf *out, int depth)
{
    /* jansson keeps object members in insertion order (2.8 and later), which is the order
     * JavaScript prints them in; the iterator walks that order. */
    json_t *obj = (json_t *)v; /* the iterator API is not const-correct; nothing is modified */
    int rc = buf_append_char(out, '{');
    bool first = true;
    for (void *it = json_object_iter(obj); it && rc == BUF_OK;
         it = json_object_iter_next(obj, it)) {
        if (!first)
            rc = buf_append_char(out, ',');
        first = false;
        if (rc == BUF_OK)
            rc = json_write_string(out, json_object_iter_key(it), json_object_iter_key_len(it));
        if (rc == BUF_OK)
            rc = buf_append_char(out, ':');
        if (rc == BUF_OK)
            rc = json_write(json_object_iter_value(it), out, depth + 1);
    }
    if (rc == BUF_OK)
        rc = buf_append_char(out, '}');
    return rc;
}

static int json_write_array(const json_t *v, struct buf *out, int depth)
{
    int rc = buf_append_char(out, '[');
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n && rc == BUF_OK; i++) {
        if (i > 0)
            rc = buf_append_char(out, ',');
        if (rc == BUF_OK)
            rc = json_write(json_array_get(v, i), out, depth + 1);
    }
    if (rc == BUF_OK)
        rc = buf_append_char(out, ']');
    return rc;
}

static int json_write(const json_t *v, struct buf *out, int depth)
{
    if (depth > JSON_SERIALIZE_MAX_DEPTH)
        return BUF_ERR_LIMIT;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return json_write_object(v, out, depth);
    case JSON_ARRAY:
        return json_write_array(v, out, depth);
    case JSON_STRING:
        return json_write_string(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return json_write_integer(json_integer_value(v), out);
    case JSON_REAL:
        return json_write_real(json_real_value(v), out);
    case JSON_TRUE:
        return buf_append(out, "true", 4);
    case JSON_FALSE:
        return buf_append(out, "false", 5);
    case JSON_NULL:
        return buf_append(out, "null", 4);
    }
    return BUF_ERR_LIMIT;
}

int json_serialize_buf(const json_t *v, struct buf *out)
{
    size_t mark = out->len;
    int rc = v ? json_write(v, out, 0) : BUF_ERR_LIMIT;
    if (rc != BUF_OK && out->data) {
        /* Leave the buffer as it was rather than holding half a document. */
        out->len = mark;
        out->data[mark] = '\0';
    }
    return rc;
}

char *json_serialize(const json_t *v, size_t *len)
{
    struct buf b;
    buf_init(&b, 0);
    /* Most messages fit: one allocation instead of doubling from 64 bytes. */
    if (buf_reserve(&b, 512) != BUF_OK || json_serialize_buf(v, &b) != BUF_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, len);
}

/* A decimal approximation of a double: digits (no leading or trailing zeros unless the value is
 * 0) times 10^(exp - ndigits + 1), i.e. exp is the exponent of the first digit as %e prints it. */
struct decimal {
    char digits[24];
    int ndigits;
    int exp;
};

/* The value rounded correctly to prec significant digits (glibc's printf rounds exactly). */
static void decimal_from_double(double d, int prec, struct decimal *dec)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    int n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            dec->digits[n++] = *p;
    dec->ndigits = n;
    dec->exp = (int)strtol(p + 1, NULL, 10); /* d is finite: %e always printed "e[+-]DD" */
}

static bool decimal_reads_back_as(const struct decimal *dec, double d)
{
    /* "DDDDe-N": strtod needs no decimal point, and this is cheaper than snprintf */
    char tmp[48];
    memcpy(tmp, dec->digits, (size_t)dec->ndigits);
    snprintf(tmp + dec->ndigits, sizeof tmp - (size_t)dec->ndigits, "e%d",
             dec->exp - dec->ndigits + 1);
    return strtod(tmp, NULL) == d;
}

/* Move the last digit one step up (+1) or down (-1), carrying or borrowing; the result keeps
 * ndigits digits, its exponent adjusted, so it can be printed as a candidate. */
static bool decimal_step(struct decimal *dec, int dir)
{
    int i = dec->ndigits - 1;
    char lo = dir > 0 ? '9' : '0';
    while (i >= 0 && dec->digits[i] == lo)
        dec->digits[i--] = dir > 0 ? '0' : '9';
    if (i < 0) {
        if (dir < 0)
            return false; /* 000..0 - 1: not a candidate */
        memmove(dec->digits + 1, dec->digits, (size_t)dec->ndigits - 1);
        dec->digits[0] = '1';
        dec->exp++;
        return true;
    }
    dec->digits[i] = (char)(dec->digits[i] + dir);
    if (dec->digits[0] == '0') {
        memmove(dec->digits, dec->digits + 1, (size_t)dec->ndigits - 1);
        dec->digits[dec->ndigits - 1] = '9';
        dec->exp--;
    }
    return true;
}

/* The k-digit candidate for d, if one reads back: correct rounding to k digits gives the closest
 * k-digit decimal, but at a power of two the rounding interval is lopsided (the next double down
 * is half as far as the next one up) and only a neighbour of it may read back, so those are tried
 * too. */
static bool decimal_try_precision(double d, int k, struct decimal *dec)
{
    decimal_from_double(d, k, dec);
    if (decimal_reads_back_as(dec, d))
        return true;
    int exp2;
    if (frexp(d, &exp2) != 0.5)
        return false; /* the interval is symmetric: if the closest fails, every other does too */
    for (int dir = -1; dir <= 1; dir += 2) {
        struct decimal alt = *dec;
        if (decimal_step(&alt, dir) && decimal_reads_back_as(&alt, d)) {
            *dec = alt;
            return true;
        }
    }
    return false;
}

/* The shortest digit string that reads back as d; ECMAScript requires k to be minimal, and 17
 * significant digits always suffice. "Some k-digit decimal reads back" is monotone in k (if c
 * works with k digits, the closest (k+1)-digit decimal or its neighbour towards c lies between
 * d and c), so a binary search finds the least k in about four probes instead of up to 17. */
static void decimal_shortest(double d, struct decimal *dec)
{
    int lo = 1, hi = 17;
    bool have_hi = false;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        struct decimal probe;
        if (decimal_try_precision(d, mid, &probe)) {
            *dec = probe;
            hi = mid;
            have_hi = true;
        } else {
            lo = mid + 1;
        }
    }
    if (!have_hi)
        decimal_from_double(d, 17, dec);
    while (dec->ndigits > 1 && dec->digits[dec->ndigits - 1] == '0')
        dec->ndigits--;
}

/* A bounded writer for the pieces of a formatted number; out always stays NUL-terminated. */
struct numout {
    char *p;
    size_t len, size;
};

static void numout_put(struct numout *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->len + 1 < o->size; i++)
        o->p[o->len++] = s[i];
    o->p[o->len] = '\0';
}

static void numout_zeros(struct numout *o, int n)
{
    for (int i = 0; i < n; i++)
        numout_put(o, "0", 1);
}

/* Number::toString(10), ECMAScript 2023 §6.1.6.1.20 steps 5-12, with k digits s and n = exp + 1
 * (the value is s × 10^(n-k)). */
static size_t decimal_format(const struct decimal *dec, bool negative, char *out, size_t size)
{
    struct numout o = {out, 0, size};
    int k = dec->ndigits, n = dec->exp + 1;
    const char *s = dec->digits;
    if (negative)
        numout_put(&o, "-", 1);
    if (k <= n && n <= 21) {
        numout_put(&o, s, (size_t)k);
        numout_zeros(&o, n - k);
    } else if (0 < n && n <= 21) {
        numout_put(&o, s, (size_t)n);
        numout_put(&o, ".", 1);
        numout_put(&o, s + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        numout_put(&o, "0.", 2);
        numout_zeros(&o, -n);
        numout_put(&o, s, (size_t)k);
    } else {
        char exp[8];
        int e = n - 1;
        numout_put(&o, s, 1);
        if (k > 1) {
            numout_put(&o, ".", 1);
            numout_put(&o, s + 1, (size_t)(k - 1));
        }
        int elen = snprintf(exp, sizeof exp, "e%c%d", e < 0 ? '-' : '+', abs(e));
        numout_put(&o, exp, (size_t)elen);
    }
    return o.len;
}

size_t json_format_number(double d, char *out, size_t out_size)
{
    if (!out_size)
        return 0;
    if (isnan(d) || isinf(d)) {
        snprintf(out, out_size, "null");
        return strlen(out);
    }
    if (d == 0) { /* +0 and -0 both print "0" */
        snprintf(out, out_size, "0");
        return strlen(out);
    }
    if (d == floor(d) && fabs(d) <= JSON_SAFE_INTEGER) {
        /* Whole numbers below 2^53 are the common case (1.0, 100.0) and print as integers. */
        int n = snprintf(out, out_size, "%" PRId64, (int64_t)d);
        return n < 0 ? 0 : (size_t)n < out_size ? (size_t)n : out_size - 1;
    }
    struct decimal dec;
    decimal_shortest(fabs(d), &dec);
    return decimal_format(&dec, d < 0, out, out_size);
}

const char *json_get_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

json_t *json_get_object(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

json_t *json_get_array(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_array(v) ? v : NULL;
}

bool json_get_number(const json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return false;
    if (out)
        *out = json_number_value(v);
    return true;
}

json_t *json_literal(const char *text)
{
    char err[160];
    json_t *v = json_parse(text, strlen(text), err, sizeof err);
    if (!v) {
        /* A literal compiled into the binary is wrong: no caller could recover meaningfully. */
        fprintf(stderr, "mcpd: malformed JSON literal (%s): %.80s\n", err, text);
        abort();
    }
    return v;
}
