/* libFuzzer target: arbitrary bytes through the server's request parser (llhttp plus mcpd's
 * framing checks and limits), split into reads the way a socket might deliver them, with
 * pipelined requests taken one at a time exactly as http_server.c does. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/http_server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const struct http_parsed *r)
{
    /* Touch everything a handler may read, so ASan sees any bad pointer. */
    volatile size_t sum = strlen(r->method) + strlen(r->target) + strlen(r->body);
    for (size_t i = 0; i < r->header_count; i++)
        sum += strlen(r->headers[i].name) + strlen(r->headers[i].value);
    if (r->body[r->body_len] != '\0')
        __builtin_trap();
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* The first byte picks the read size, so request boundaries fall anywhere in a read. */
    size_t step = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    struct http_parser p;
    if (http_parser_init(&p, 512, 16, 1024) != 0)
        return 0;
    const char *in = (const char *)data;
    size_t off = 0;
    int requests = 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        size_t used = 0;
        enum http_parse_status st = http_parser_feed(&p, in + off, n, &used);
        if (used > n)
            __builtin_trap();
        off += used;
        if (st == HTTP_PARSE_ERROR) {
            if (p.error_status < 400 || !p.error_desc)
                __builtin_trap();
            break;
        }
        if (st == HTTP_PARSE_DONE) {
            struct http_parsed r;
            if (http_parser_take(&p, &r) == 0) {
                check_request(&r);
                bool last = !r.keep_alive || r.upgrade;
                http_parsed_free(&r);
                requests++;
                if (last)
                    break;
            }
            http_parser_next(&p);
        }
    }
    http_parser_free(&p);
    return 0;
}
