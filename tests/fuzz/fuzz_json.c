/* libFuzzer target for lib/json: whatever json_parse accepts must serialize to text that parses
 * again and serializes to the same bytes, so mcpd's output is always readable by mcpd (and by the
 * TypeScript peer, whose formatting the serializer copies). json_parse reads with its own reader
 * first: it must agree with jansson's own reading of the same bytes (the same tree, or both
 * refusing), apart from what json_parse adds (huge integers read as JavaScript does, the depth
 * bound). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *v = json_parse((const char *)data, size, err, sizeof err);
    json_error_t je;
    json_t *jv =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    bool jansson_only = jv && !v && strstr(err, "deeper") != NULL;
    bool ours_only = v && !jv && strstr(je.text, "too big") != NULL;
    if (!jansson_only && !ours_only && ((v != NULL) != (jv != NULL) || (v && !json_equal(v, jv)))) {
        fprintf(stderr, "json_parse and jansson disagree (%s / %s)\n", v ? "value" : err,
                jv ? "value" : je.text);
        abort();
    }
    json_decref(jv);
    if (!v)
        return 0;
    size_t len1 = 0, len2 = 0;
    char *s1 = json_serialize(v, &len1);
    if (!s1)
        abort(); /* no limit applies here, so only a serializer bug can fail */
    json_t *again = json_parse(s1, len1, err, sizeof err);
    if (!again) {
        fprintf(stderr, "serialization does not parse (%s): %s\n", err, s1);
        abort();
    }
    char *s2 = json_serialize(again, &len2);
    if (!s2 || len1 != len2 || memcmp(s1, s2, len1) != 0) {
        fprintf(stderr, "not a fixed point:\n%s\n%s\n", s1, s2 ? s2 : "(null)");
        abort();
    }
    free(s1);
    free(s2);
    json_decref(again);
    json_decref(v);
    return 0;
}
