/* libFuzzer target for lib/form: whatever form_parse accepts re-encodes (form_encode on each
 * name and value) to text that parses back to the same parameters, in the same order, and the
 * parser never reads outside the input (it is given no NUL terminator). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void append_encoded(struct buf *b, const char *s)
{
    size_t cap = 3 * strlen(s) + 1;
    char *enc = malloc(cap);
    if (!enc || form_encode(s, enc, cap) < 0)
        abort(); /* 3 bytes per input byte always fits */
    buf_append_str(b, enc);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan catches any read past the end. */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct form f, again;
    int rc = form_parse(&f, copy, size, 256, 0);
    free(copy);
    if (rc != FORM_OK) {
        form_free(&f);
        return 0;
    }
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < f.count; i++) {
        if (i)
            buf_append_char(&b, '&');
        append_encoded(&b, f.params[i].name);
        buf_append_char(&b, '=');
        append_encoded(&b, f.params[i].value);
        if (strlen(f.params[i].value) != f.params[i].value_len)
            abort(); /* no NUL may hide inside a value */
    }
    /* Empty names re-encode to "=v", which is kept; a parameter is never lost or invented. */
    if (form_parse(&again, b.data ? b.data : "", b.len, 256, b.len + 1) != FORM_OK ||
        again.count != f.count)
        abort();
    for (size_t i = 0; i < f.count; i++) {
        if (strcmp(f.params[i].name, again.params[i].name) != 0 ||
            strcmp(f.params[i].value, again.params[i].value) != 0)
            abort();
    }
    form_free(&again);
    form_free(&f);
    buf_free(&b);
    return 0;
}
