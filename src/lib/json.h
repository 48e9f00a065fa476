/*
 * json: mcpd's JSON conventions on top of jansson. Parsing with the limits mcpd needs (duplicate
 * keys refused, depth bounded) and serialization that prints numbers exactly as JavaScript does
 * (3 not 3.0, 0.30000000000000004, 1e+21), keeps insertion order and escapes like
 * JSON.stringify, so mcpd's bytes match the TypeScript reference server. Knows nothing of JSON-RPC.
 * Reference conventions follow jansson: "steals" means the callee takes the caller's reference,
 * "borrowed" means the caller must not decref.
 */
#ifndef MCPD_LIB_JSON_H
#define MCPD_LIB_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

#define JSON_MAX_DEPTH 64

/* Parse len bytes. On error returns NULL and writes a short diagnostic into err (may be NULL).
 * New reference. */
json_t *json_parse(const char *data, size_t len, char *err, size_t err_size);

/* Append the compact serialization of v to out. Returns BUF_OK or a BUF_ERR_*. Integers print
 * exactly (also beyond 2^53, unlike JavaScript), reals as JavaScript prints numbers. */
int json_serialize_buf(const json_t *v, struct buf *out);
/* Serialize to a new NUL-terminated string the caller frees; *len (may be NULL) gets its
 * length. NULL on allocation failure. */
char *json_serialize(const json_t *v, size_t *len);
/* Format a double as JavaScript's Number.prototype.toString does into out (>= 32 bytes).
 * NaN and infinities print as "null", as JSON.stringify does. Returns the length. */
size_t json_format_number(double d, char *out, size_t out_size);

/* Borrowed-reference getters that return NULL/default when the key is absent or mistyped. */
const char *json_get_string(const json_t *obj, const char *key);
json_t *json_get_object(const json_t *obj, const char *key);
json_t *json_get_array(const json_t *obj, const char *key);
bool json_get_number(const json_t *obj, const char *key, double *out);

/* Parse a compile-time JSON literal (tables of schemas); aborts on a malformed literal, since
 * that is a programming error. New reference. */
json_t *json_literal(const char *text);

#endif
