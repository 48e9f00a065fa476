/*
 * JavaScript text conventions the reference pack's outputs depend on: the reference server builds
 * its texts with template literals (Number to string), parseInt and JSON.stringify(v, null, 2), so
 * mcpd reproduces exactly those.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/json.h"
#include "mcp/features/reference_internal.h"

/* Bound on pretty-printed text; the largest thing printed is a client's elicitation result. */
#define PRETTY_MAX (1024 * 1024)
/* parseInt saturation point, see ref_js_parse_int. */
#define PARSE_INT_MAX 1000000000000000LL

const char *ref_js_number(double d, char *out, size_t out_size)
{
    if (isnan(d))
        snprintf(out, out_size, "NaN");
    else if (isinf(d))
        snprintf(out, out_size, "%s", d < 0 ? "-Infinity" : "Infinity");
    else
        json_format_number(d, out, out_size);
    return out;
}

/* ECMAScript StrWhiteSpaceChar, ASCII part: the reference server trims these before parsing. */
static bool js_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

bool ref_js_parse_int(const char *s, long long *out)
{
    if (!s)
        return false;
    while (js_space(*s))
        s++;
    bool negative = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    long long v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        if (v < PARSE_INT_MAX)
            v = v * 10 + (*s - '0');
    *out = negative ? -v : v;
    return true;
}

static int pretty_write(const json_t *v, struct buf *out, int depth);

static int pretty_newline(struct buf *out, int depth)
{
    int rc = buf_append_char(out, '\n');
    for (int i = 0; rc == BUF_OK && i < depth; i++)
        rc = buf_append(out, "  ", 2);
    return rc;
}

static int pretty_object(const json_t *v, struct buf *out, int depth)
{
    if (json_object_size(v) == 0)
        return buf_append(out, "{}", 2);
    int rc = buf_append_char(out, '{');
    bool first = true;
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        if (rc == BUF_OK && !first)
            rc = buf_append_char(out, ',');
        first = false;
        json_t *k = json_string(key);
        if (rc == BUF_OK)
            rc = pretty_newline(out, depth + 1);
        if (rc == BUF_OK)
            rc = k ? json_serialize_buf(k, out) : BUF_ERR_NOMEM;
        json_decref(k);
        if (rc == BUF_OK)
            rc = buf_append(out, ": ", 2);
        if (rc == BUF_OK)
            rc = pretty_write(value, out, depth + 1);
    }
    if (rc == BUF_OK)
        rc = pretty_newline(out, depth);
    return rc == BUF_OK ? buf_append_char(out, '}') : rc;
}

static int pretty_array(const json_t *v, struct buf *out, int depth)
{
    if (json_array_size(v) == 0)
        return buf_append(out, "[]", 2);
    int rc = buf_append_char(out, '[');
    size_t i;
    const json_t *value;
    json_array_foreach(v, i, value)
    {
        if (rc == BUF_OK && i > 0)
            rc = buf_append_char(out, ',');
        if (rc == BUF_OK)
            rc = pretty_newline(out, depth + 1);
        if (rc == BUF_OK)
            rc = pretty_write(value, out, depth + 1);
    }
    if (rc == BUF_OK)
        rc = pretty_newline(out, depth);
    return rc == BUF_OK ? buf_append_char(out, ']') : rc;
}

/* Scalars print as in compact JSON (JavaScript numbers, JSON.stringify escapes). */
static int pretty_write(const json_t *v, struct buf *out, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return BUF_ERR_LIMIT;
    if (json_is_object(v))
        return pretty_object(v, out, depth);
    if (json_is_array(v))
        return pretty_array(v, out, depth);
    return json_serialize_buf(v, out);
}

char *ref_json_pretty(const json_t *v)
{
    struct buf out;
    buf_init(&out, PRETTY_MAX);
    if (pretty_write(v, &out, 0) != BUF_OK) {
        buf_free(&out);
        return NULL;
    }
    if (!out.data)
        return strdup("");
    return buf_steal(&out, NULL);
}

void ref_answer(struct mcp_call *c, json_t *result)
{
    if (!result) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    mcp_call_result(c, result);
}

void ref_answer_text(struct mcp_call *c, const char *text)
{
    ref_answer(c, json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text));
}

void ref_answer_request_error(struct mcp_call *c, const json_t *error)
{
    const json_t *code = json_object_get(error, "code");
    const char *message = json_string_value(json_object_get(error, "message"));
    int n = json_is_integer(code) ? (int)json_integer_value(code) : JSONRPC_INTERNAL_ERROR;
    char *text = NULL;
    if (asprintf(&text, "MCP error %d: %s", n, message ? message : "undefined") < 0) {
        mcp_call_error(c, JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
        return;
    }
    mcp_call_error(c, n, text, NULL);
    free(text);
}
