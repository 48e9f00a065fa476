/*
 * http_server_internal: private interface of the HTTP core, shared by http_server.c,
 * http_response.c and the fuzz target, never by the layers above. It holds the request parser
 * (llhttp plus mcpd's own framing checks, bounded storage, one request at a time, so the fuzz
 * target can run the exact code the server runs without sockets) and the exchange internals
 * that http_response.c needs to write on a connection. Nothing here knows about routes.
 */
#ifndef MCPD_HTTP_HTTP_SERVER_INTERNAL_H
#define MCPD_HTTP_HTTP_SERVER_INTERNAL_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "http/http_server.h"

enum http_parse_status {
    HTTP_PARSE_MORE = 0,  /* all input consumed, the request is not complete yet */
    HTTP_PARSE_DONE = 1,  /* one request is complete; bytes after it were not consumed */
    HTTP_PARSE_ERROR = 2, /* refuse with error_status and close the connection */
    /* The header section is complete and a body follows; nothing of the body was consumed.
     * Only with pause_for_head; http_parser_resume_body lets the body be parsed. */
    HTTP_PARSE_HEAD = 3,
};

/* Longest request target accepted (414 past it); the longest URL mcpd itself sends a client
 * to (an /authorize redirect with every parameter) is far shorter. */
#define HTTP_MAX_TARGET_BYTES 8192

struct http_parser {
    llhttp_t ll;
    llhttp_settings_t settings;
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_body_bytes;
    struct buf head;    /* "target\0name\0value\0name\0value\0..." of the current request */
    struct buf body;    /* decoded body, limited to max_body_bytes */
    size_t *offsets;    /* per header field: offset of its name, then of its value, in head */
    size_t field_count; /* header fields stored so far */
    size_t req_bytes;   /* bytes of the current request consumed, including framing */
    size_t trailer_bytes;
    size_t target_bytes; /* of the request target so far */
    /* Where the chunk llhttp is parsing starts, and the last byte before it that is not a
     * space or tab (from earlier chunks), so a callback can see what precedes its span: a
     * header value span after a line feed and blanks is an obs-fold continuation line. */
    const char *chunk_start;
    const char *chunk_end; /* end of the bytes llhttp is parsing */
    char last_nonblank;
    unsigned chunk_crlf_owed; /* bytes of the CRLF that must follow a chunk's data, unchecked */
    bool started;             /* the first byte of the current request has been seen */
    bool headers_done;        /* the header section is complete */
    bool in_field;            /* a header name is being received */
    bool value_open;          /* a header value is being received */
    bool keep_alive;          /* the connection may carry another request after this one */
    bool upgrade;             /* Upgrade/CONNECT: answered, then the connection is closed */
    bool expect_continue;
    bool pause_for_head; /* stop after the headers of a request with a body (head hook) */
    bool head_paused;    /* stopped there; the body waits for http_parser_resume_body */
    unsigned content_length_count;
    unsigned transfer_encoding_count;
    unsigned host_count;
    int error_status;       /* 400, 413, 414, 431 or 505 after HTTP_PARSE_ERROR */
    const char *error_desc; /* static text for the error body */
};

/* The request handed over by the parser; the caller owns head, body and headers (free()). */
struct http_parsed {
    char *head;
    char *body;
    size_t body_len;
    struct http_header *headers;
    size_t header_count;
    const char *method; /* static string */
    const char *target; /* into head */
    int http_minor;
    bool keep_alive;
    bool upgrade;
};

int http_parser_init(struct http_parser *p, size_t max_header_bytes, size_t max_headers,
                     size_t max_body_bytes);
void http_parser_free(struct http_parser *p);
/* Feed bytes; *consumed gets how many were used. Stops right after a complete request (DONE);
 * call http_parser_take and then http_parser_next before feeding the rest. */
enum http_parse_status http_parser_feed(struct http_parser *p, const char *data, size_t len,
                                        size_t *consumed);
/* Move the complete request out of the parser (after HTTP_PARSE_HEAD: the request without its
 * body, which is ""). Returns 0, or -1 when out of memory. */
int http_parser_take(struct http_parser *p, struct http_parsed *out);
/* After HTTP_PARSE_HEAD: parse the body next, allowing at most max_body bytes (0 or more than
 * the parser's limit: the parser's limit). A Content-Length past it fails the request (413). */
void http_parser_resume_body(struct http_parser *p, size_t max_body);
/* After HTTP_PARSE_DONE of a request taken at HTTP_PARSE_HEAD: move its body out
 * (NUL-terminated; the caller frees it). Returns 0, or -1 when out of memory. */
int http_parser_take_body(struct http_parser *p, char **body, size_t *len);
/* Forget the current request and get ready for the next one on the same connection. */
void http_parser_next(struct http_parser *p);
void http_parsed_free(struct http_parsed *r);

/* --- exchange internals used by http_response.c --------------------------------------------- */

enum http_ex_state {
    HTTP_EX_FRESH = 0, /* nothing sent yet */
    HTTP_EX_STREAM,    /* head sent; chunks (or raw bytes for HTTP/1.0) follow */
    HTTP_EX_DONE,      /* the complete response is queued */
};

struct http_conn;

struct http_resp_header {
    char *name;
    char *value;
};

struct http_exchange {
    struct http_conn *conn;     /* NULL once the connection is gone */
    struct http_server *server; /* NULL once the connection is gone */
    uv_loop_t *loop;
    struct http_request req;
    struct http_parsed parsed; /* owns the request's storage */
    char remote_addr[48];
    uint64_t id;
    http_abort_fn abort_fn;
    void *abort_arg;
    enum http_ex_state state;
    bool finished;     /* the application is done with it */
    bool closed;       /* writes are no-ops */
    bool close_after;  /* close the connection after this response */
    bool raw_stream;   /* HTTP/1.0 streaming: no chunk framing, close at the end */
    bool head_request; /* HEAD: no body bytes are sent */
    bool eof_aborts;   /* the client's EOF before the answer is it leaving, not a half-close */
    /* The head hook holds the exchange: the body is not read yet, and a response written now
     * closes the connection (the unread body cannot be skipped reliably). */
    bool body_pending;
    /* Between http_exchange_continue and the handler: the server owns the exchange and frees it
     * itself if the body never completes. */
    bool server_owned;
    void *data; /* the application's, see http_exchange_set_data */
    void (*data_free)(void *data);
    struct http_resp_header *resp_headers;
    size_t resp_header_count;
    size_t resp_header_cap;
};

/* Append the server's default header lines ("Name: value\r\n") not overridden by the app. */
/* One log line for a response with status >= 400 (method, path without query, client IP). */
void http_exchange_log_refusal(const struct http_exchange *ex, int status);
/* Tell the status hook (http_server_set_status_hook) about a response head being written. */
void http_exchange_note_status(const struct http_exchange *ex, int status);
/* Append "name: value\r\n" to out. 0, or -1 when out cannot grow. */
int http_append_header(struct buf *out, const char *name, const char *value);
int http_exchange_default_headers(const struct http_exchange *ex, struct buf *out);
/* Whether the connection must close after this response (decided when the head is built). */
bool http_exchange_must_close(struct http_exchange *ex);
/* Queue bytes on the connection. Takes ownership of a and b (either may be NULL); they are
 * freed with free() once written or if the write fails. Returns HTTP_OK or HTTP_ERR_CLOSED. */
int http_exchange_write(struct http_exchange *ex, char *a, size_t alen, char *b, size_t blen);
/* Unsent bytes queued on the connection. */
size_t http_exchange_queued(const struct http_exchange *ex);
/* The configured stream cap. */
size_t http_exchange_stream_cap(const struct http_exchange *ex);
/* Close the connection at once (stream overflow); the exchange stays with the app. */
void http_exchange_cut(struct http_exchange *ex);

#endif
