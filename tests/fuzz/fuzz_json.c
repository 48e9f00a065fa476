/* libFuzzer target for lib/json: whatever json_parse accepts must serialize to text that parses
 * again and serializes to the same bytes, so mcpd's output is always readable by mcpd (and by the
 * TypeScript peer, whose formatting the serializer copies). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[160];
    json_t *v = json_parse((const char *)data, size, err, sizeof err);
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
