#include "lib/json.h"

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

json_t *json_parse(const char *data, size_t len, char *err, size_t err_size)
{
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
    if (json_serialize_buf(v, &b) != BUF_OK) {
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
