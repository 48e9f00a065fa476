/* MCP messages for mcpbench: the JSON-RPC bodies it sends and the checks every answer must pass.
 * A POST may be answered with application/json or with a text/event-stream whose events carry
 * the response (and possibly notifications first); both are accepted, and the answer is the
 * JSON-RPC response whose id is the request's. A wrong answer counts as an error. */
#include "mcpbench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST_PAGES 100000L /* a cursor walk longer than this is taken for a loop */

/* The _meta member a 2026-07-28 request carries, with its leading comma; "" otherwise. */
static const char *meta_member(const struct bench *b)
{
    return b->opt.stateless
               ? ",\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                 "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"mcpbench\",\"version\":"
                 "\"1.0\"},\"io.modelcontextprotocol/clientCapabilities\":{}}"
               : "";
}

int sbuf_add(struct sbuf *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *np = realloc(s->p, cap);
        if (!np)
            return -1;
        s->p = np;
        s->cap = cap;
    }
    if (n)
        memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = '\0';
    return 0;
}

void sbuf_free(struct sbuf *s)
{
    free(s->p);
    s->p = NULL;
    s->len = s->cap = 0;
}

/* Operands for tools/call add, derived from the request id so every request differs: one
 * negative, magnitudes up to 1e12 (the sum stays an exact double, which JS prints in plain
 * decimal notation). */
static void add_operands(int64_t id, int64_t *a, int64_t *b)
{
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    *a = (int64_t)(x % 2000000000001ull) - 1000000000000ll;
    *b = (int64_t)((x >> 20) % 1000003ull) * ((id & 1) ? -1 : 1);
}

/* A JSON string body for a cursor: cursors are opaque, so escape what JSON requires. */
static int json_quote(struct sbuf *s, const char *v)
{
    char esc[8];
    if (sbuf_add(s, "\"", 1) < 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        int rc;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            rc = sbuf_add(s, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            rc = sbuf_add(s, esc, 6);
        } else {
            rc = sbuf_add(s, (const char *)p, 1);
        }
        if (rc < 0)
            return -1;
    }
    return sbuf_add(s, "\"", 1);
}

static int list_body(struct conn *c, char *buf, size_t cap, int64_t id)
{
    if (!c->cursor)
        return snprintf(buf, cap,
                        "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64
                        ",\"method\":\"resources/list\",\"params\":{%s}}",
                        id, c->b->opt.stateless ? meta_member(c->b) + 1 : ""); /* no comma */
    struct sbuf s = {0};
    int n = -1;
    if (json_quote(&s, c->cursor) == 0)
        n = snprintf(buf, cap,
                     "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64
                     ",\"method\":\"resources/list\",\"params\":{\"cursor\":%s%s}}",
                     id, s.p, meta_member(c->b));
    sbuf_free(&s);
    return n;
}

static int call_body(struct conn *c, char *buf, size_t cap, int64_t id)
{
    if (c->b->opt.tool == TOOL_ECHO)
        return snprintf(buf, cap,
                        "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64
                        ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":"
                        "{\"message\":\"m%" PRId64 "\"}%s}}",
                        id, id, meta_member(c->b));
    int64_t a, b;
    add_operands(id, &a, &b);
    return snprintf(buf, cap,
                    "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64
                    ",\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":"
                    "{\"a\":%" PRId64 ",\"b\":%" PRId64 "}%s}}",
                    id, a, b, meta_member(c->b));
}

int mcp_send(struct conn *c, enum req_kind kind)
{
    struct bench *b = c->b;
    char body[4096];
    int n = 0;
    int64_t id = ++b->next_id;
    c->rpc_id = id;
    switch (kind) {
    case RQ_INIT:
        n = snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64
                     ",\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\","
                     "\"capabilities\":{},\"clientInfo\":{\"name\":\"mcpbench\",\"version\":"
                     "\"1.0\"}}}",
                     id, b->opt.protocol_version);
        break;
    case RQ_INITIALIZED:
        n = snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
        break;
    case RQ_CALL:
        n = call_body(c, body, sizeof body, id);
        break;
    case RQ_LIST:
        n = list_body(c, body, sizeof body, id);
        break;
    case RQ_PING:
        n = snprintf(body, sizeof body,
                     "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64 ",\"method\":\"ping\"}", id);
        break;
    case RQ_DELETE:
        return conn_send(c, kind, "DELETE", NULL, 0);
    case RQ_HEALTH:
    case RQ_GET:
        return conn_send(c, kind, "GET", NULL, 0);
    }
    if (n < 0 || (size_t)n >= sizeof body) {
        fprintf(stderr, "mcpbench: request body too long (cursor over 4 KiB?)\n");
        abort();
    }
    return conn_send(c, kind, "POST", body, (size_t)n);
}

/* Is this parsed message the response to request id? (Notifications and server requests that
 * share an SSE answer stream are skipped.) */
static bool is_response_to(const json_t *m, int64_t id)
{
    const json_t *jid = json_object_get(m, "id");
    return json_is_object(m) && json_is_integer(jid) && json_integer_value(jid) == id &&
           (json_object_get(m, "result") || json_object_get(m, "error"));
}

static json_t *sse_dispatch(struct sbuf *data, int64_t id)
{
    json_t *found = NULL;
    if (data->len > 0) {
        data->len--; /* every data line appended a LF; the event's data drops the last one */
        json_t *m = json_loadb(data->p, data->len, 0, NULL);
        if (m && is_response_to(m, id))
            found = m;
        else
            json_decref(m);
    }
    data->len = 0;
    return found;
}

/* The SSE framing of the HTML Living Standard: lines end in CRLF, LF or CR; "data" fields of one
 * event are joined with LF; a blank line ends the event; ':' starts a comment. An event cut off
 * by the end of the body is still looked at, which is lenient but harmless here. */
static json_t *sse_find(const char *p, size_t n, int64_t id)
{
    struct sbuf data = {0};
    json_t *found = NULL;
    size_t i = 0;
    while (!found && i < n) {
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r')
            j++;
        size_t len = j - i;
        const char *line = p + i;
        if (len == 0) {
            found = sse_dispatch(&data, id);
        } else if (len >= 4 && memcmp(line, "data", 4) == 0 && (len == 4 || line[4] == ':')) {
            size_t off = len == 4 ? 4 : 5;
            if (off < len && line[off] == ' ')
                off++;
            if (sbuf_add(&data, line + off, len - off) < 0 || sbuf_add(&data, "\n", 1) < 0)
                break;
        }
        i = (j < n && p[j] == '\r' && j + 1 < n && p[j + 1] == '\n') ? j + 2 : j + 1;
    }
    if (!found)
        found = sse_dispatch(&data, id);
    sbuf_free(&data);
    return found;
}

/* The JSON-RPC result object of the answer, or NULL with *why set. *root owns the parse. */
static json_t *rpc_result(struct conn *c, json_t **root, const char **why)
{
    const char *body = c->body.p ? c->body.p : "";
    *root = NULL;
    if (c->status != 200) {
        *why = "HTTP status is not 200";
        return NULL;
    }
    if (strncmp(c->ctype, "application/json", 16) == 0) {
        *root = json_loadb(body, c->body.len, 0, NULL);
        if (*root && !is_response_to(*root, c->rpc_id)) {
            *why = "JSON body is not the response to this request";
            return NULL;
        }
    } else if (strncmp(c->ctype, "text/event-stream", 17) == 0) {
        *root = sse_find(body, c->body.len, c->rpc_id);
    } else {
        *why = "Content-Type is neither application/json nor text/event-stream";
        return NULL;
    }
    if (!*root) {
        *why = "no JSON-RPC response with this id in the body";
        return NULL;
    }
    json_t *r = json_object_get(*root, "result");
    if (!json_is_object(r))
        *why = "JSON-RPC error instead of a result";
    return json_is_object(r) ? r : NULL;
}

/* The text the tool must answer for this request. */
static void tool_text(const struct conn *c, char *want, size_t cap)
{
    if (c->b->opt.tool == TOOL_ECHO) {
        snprintf(want, cap, "Echo: m%" PRId64, c->rpc_id);
    } else {
        int64_t a, b;
        add_operands(c->rpc_id, &a, &b);
        snprintf(want, cap, "The sum of %" PRId64 " and %" PRId64 " is %" PRId64 ".", a, b, a + b);
    }
}

static const char *check_tool_text(struct conn *c, json_t *result)
{
    char want[160];
    tool_text(c, want, sizeof want);
    json_t *item = json_array_get(json_object_get(result, "content"), 0);
    const char *text = json_string_value(json_object_get(item, "text"));
    if (json_is_true(json_object_get(result, "isError")))
        return "tool result has isError: true";
    const char *type = json_string_value(json_object_get(item, "type"));
    if (!text || !type || strcmp(type, "text") != 0)
        return "tool result has no text content";
    return strcmp(text, want) == 0 ? NULL : "tool result text is not the expected one";
}

/* ---- the learned answer (struct answer_shape) ---- */

/* The two values of this request as they appear in an answer: the quoted text (which needs no
 * escape: digits, letters, spaces and "-:.") and the id after its member name. */
struct call_values {
    char text[168], id[32];
    size_t text_len, id_len;
};

static void call_values(const struct conn *c, struct call_values *v)
{
    char want[160];
    tool_text(c, want, sizeof want);
    v->text_len = (size_t)snprintf(v->text, sizeof v->text, "\"%s\"", want);
    v->id_len = (size_t)snprintf(v->id, sizeof v->id, "\"id\":%" PRId64, c->rpc_id);
}

/* The only occurrence of needle in [p, p + n), or NULL when none or several. */
static const char *find_once(const char *p, size_t n, const char *needle, size_t len)
{
    const char *at = memmem(p, n, needle, len);
    if (!at || memmem(at + 1, n - (size_t)(at + 1 - p), needle, len))
        return NULL;
    return at;
}

/* After an answer passed the full check: remember its shape, if both values are found once
 * (the id as a whole number: followed by ',', '}' or white space). */
static void learn_shape(struct bench *b, const struct conn *c)
{
    struct answer_shape *sh = &b->call_shape;
    struct call_values v;
    if (sh->known || strncmp(c->ctype, "application/json", 16) != 0)
        return;
    call_values(c, &v);
    const char *p = c->body.p, *end = p + c->body.len;
    const char *t = find_once(p, c->body.len, v.text, v.text_len);
    const char *i = find_once(p, c->body.len, v.id, v.id_len);
    if (!t || !i || i + v.id_len >= end || !strchr(",} \t\r\n", i[v.id_len]))
        return;
    bool id_first = i < t;
    const char *first = id_first ? i : t, *second = id_first ? t : i;
    size_t first_len = id_first ? v.id_len : v.text_len;
    if (first + first_len > second)
        return;
    size_t second_len = id_first ? v.text_len : v.id_len;
    if (sbuf_add(&sh->parts[0], p, (size_t)(first - p)) < 0 ||
        sbuf_add(&sh->parts[1], first + first_len, (size_t)(second - first - first_len)) < 0 ||
        sbuf_add(&sh->parts[2], second + second_len, (size_t)(end - second - second_len)) < 0) {
        mcp_free(b);
        return;
    }
    sh->id_first = id_first;
    sh->known = true;
}

static bool piece_at(const char **p, const char *piece, size_t len)
{
    if (len && memcmp(*p, piece, len) != 0)
        return false;
    *p += len;
    return true;
}

/* Is this answer the learned one with this request's values? */
static bool matches_shape(const struct bench *b, const struct conn *c)
{
    const struct answer_shape *sh = &b->call_shape;
    if (!sh->known || c->status != 200 || strncmp(c->ctype, "application/json", 16) != 0)
        return false;
    struct call_values v;
    call_values(c, &v);
    const char *vals[2] = {sh->id_first ? v.id : v.text, sh->id_first ? v.text : v.id};
    size_t lens[2] = {sh->id_first ? v.id_len : v.text_len, sh->id_first ? v.text_len : v.id_len};
    if (c->body.len != sh->parts[0].len + sh->parts[1].len + sh->parts[2].len + lens[0] + lens[1])
        return false;
    const char *p = c->body.p;
    return piece_at(&p, sh->parts[0].p, sh->parts[0].len) && piece_at(&p, vals[0], lens[0]) &&
           piece_at(&p, sh->parts[1].p, sh->parts[1].len) && piece_at(&p, vals[1], lens[1]) &&
           piece_at(&p, sh->parts[2].p, sh->parts[2].len);
}

void mcp_free(struct bench *b)
{
    for (int i = 0; i < 3; i++)
        sbuf_free(&b->call_shape.parts[i]);
    b->call_shape.known = false;
}

/* One page of a resources/list walk; the walk ends without nextCursor, and every finished walk
 * must see as many resources as the first one did. */
static const char *check_list_page(struct conn *c, json_t *result)
{
    struct bench *b = c->b;
    json_t *res = json_object_get(result, "resources");
    if (!json_is_array(res))
        return "resources/list result has no resources array";
    c->walk_items += (long)json_array_size(res);
    json_t *next = json_object_get(result, "nextCursor");
    if (next && (!json_is_string(next) || json_string_length(next) == 0))
        return "nextCursor is present but not a non-empty string";
    const char *nc = json_string_value(next);
    if (nc && c->cursor && strcmp(nc, c->cursor) == 0)
        return "nextCursor repeats the cursor just sent";
    if (nc && ++c->page >= MAX_LIST_PAGES)
        return "resources/list walk does not end";
    free(c->cursor);
    c->cursor = nc ? strdup(nc) : NULL;
    if (nc)
        return NULL;
    long items = c->walk_items;
    c->page = 0;
    c->walk_items = 0;
    b->walks++;
    if (!b->walk_total_known) {
        b->walk_total_known = true;
        b->walk_total = (uint64_t)items;
    } else if ((uint64_t)items != b->walk_total) {
        return "a resources/list walk saw a different number of resources than the first";
    }
    return NULL;
}

static const char *check_init(struct conn *c, json_t *result)
{
    struct bench *b = c->b;
    const char *pv = json_string_value(json_object_get(result, "protocolVersion"));
    if (!pv)
        return "initialize result has no protocolVersion";
    struct session *s = &b->sessions[c->opening];
    s->sid = c->resp_sid; /* may be NULL: a stateless server sends none */
    c->resp_sid = NULL;
    s->proto = strdup(pv);
    c->open_step = OPEN_INITIALIZED;
    return NULL;
}

/* Answers that carry no JSON-RPC response: status (and for a stream, type) is the check. */
static void check_plain(struct conn *c)
{
    struct bench *b = c->b;
    const char *what = "expected HTTP 200";
    bool ok;
    switch (c->kind) {
    case RQ_INITIALIZED:
        what = "expected HTTP 202 Accepted";
        ok = c->status == 202;
        if (ok)
            bench_session_ready(b, c);
        else
            c->opening = -1;
        break;
    case RQ_DELETE: /* 405: the server does not let clients end sessions, which is allowed */
        what = "expected HTTP 2xx or 405";
        ok = (c->status >= 200 && c->status < 300) || c->status == 405;
        break;
    default:
        ok = c->status == 200;
        break;
    }
    if (!ok)
        bench_error(b, ERR_STATUS, c, what);
}

void mcp_response(struct conn *c)
{
    if (c->kind == RQ_INITIALIZED || c->kind == RQ_DELETE || c->kind == RQ_HEALTH) {
        check_plain(c);
        return;
    }
    if (c->kind == RQ_CALL && matches_shape(c->b, c))
        return;
    json_t *root;
    const char *why = NULL;
    json_t *result = rpc_result(c, &root, &why);
    if (result) {
        switch (c->kind) {
        case RQ_INIT:
            why = check_init(c, result);
            break;
        case RQ_CALL:
            why = check_tool_text(c, result);
            break;
        case RQ_LIST:
            why = check_list_page(c, result);
            break;
        default:
            break;
        }
    }
    json_decref(root);
    if (!why && c->kind == RQ_CALL)
        learn_shape(c->b, c);
    if (!why)
        return;
    bench_error(c->b, result || c->status == 200 ? ERR_BODY : ERR_STATUS, c, why);
    if (c->kind == RQ_INIT)
        c->opening = -1;
    if (c->kind == RQ_LIST) {
        free(c->cursor);
        c->cursor = NULL;
        c->page = 0;
        c->walk_items = 0;
    }
}
