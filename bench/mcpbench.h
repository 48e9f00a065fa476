/* mcpbench: a closed-loop load generator for MCP servers over Streamable HTTP (loopback only).
 * One libuv loop on one thread: on a 2-core box the server needs the other core. Per request it
 * makes one write and one read system call; most of its CPU time is the kernel's loopback TCP
 * path, not its own code. All state lives in struct bench; the files split by concern:
 * mcpbench.c (options, phases, report), conn.c (sockets and HTTP), mcp.c (request bodies and
 * response checks), hist.c (latency histogram). */
#ifndef MCPBENCH_H
#define MCPBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <llhttp.h>
#include <uv.h>

enum mode { MODE_CALL, MODE_LIST, MODE_IDLE, MODE_STREAMS, MODE_OPEN, MODE_HEALTH };
enum tool { TOOL_ECHO, TOOL_ADD };

/* Phases run in order; each mode skips the ones it does not use (see phase_after in mcpbench.c).
 * SETUP/VERIFY/CLEANUP are work lists that end when the list is empty and nothing is in flight;
 * WARMUP/MEASURE/HOLD end on a timer; DRAIN waits for in-flight requests after MEASURE. */
enum phase { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_HOLD, PH_VERIFY, PH_CLEANUP, PH_DONE };

enum req_kind { RQ_INIT, RQ_INITIALIZED, RQ_CALL, RQ_LIST, RQ_PING, RQ_DELETE, RQ_HEALTH, RQ_GET };
enum err_kind { ERR_STATUS, ERR_BODY, ERR_TRANSPORT, ERR_TIMEOUT, ERR_KINDS };
enum conn_state { CS_CLOSED, CS_CONNECTING, CS_OPEN, CS_CLOSING };
enum open_step { OPEN_INIT, OPEN_INITIALIZED, OPEN_STREAM };

/* A growable byte buffer; len never counts the terminating NUL that sbuf_add keeps. */
struct sbuf {
    char *p;
    size_t len, cap;
};

/* Log-linear latency histogram in microseconds: exact below 256 us, then 128 sub-buckets per
 * power of two, so any reported value is within 0.8% (about 40 us at 5 ms). */
#define HIST_SUB_BITS 7
#define HIST_BUCKETS  (40 << HIST_SUB_BITS)
struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total, max_us, sum_us;
};

struct options {
    const char *url;
    bool url_set;
    enum mode mode;
    enum tool tool;
    int connections;
    long sessions;
    bool sessions_set;
    double duration, warmup, timeout, request_timeout;
    long requests;
    const char *token;
    const char *protocol_version;
    int pid;
    bool delete_sessions;
    int verify;
    bool stateless; /* --protocol-version 2026-07-28: no initialize, _meta on every request */
};

struct target {
    char host[256];     /* as written in the URL, for the Host header */
    char hostport[300]; /* host[:port] for the Host header */
    char path[1024];
    struct sockaddr_storage addr;
};

struct session {
    char *sid;   /* NULL when the server is stateless (no Mcp-Session-Id) */
    char *proto; /* negotiated protocolVersion, sent as MCP-Protocol-Version */
    bool ready;  /* initialize and notifications/initialized both succeeded */
};

/* CPU counters at the start of the measured window, to tell how busy each side was. */
struct cpu_sample {
    uint64_t server_ticks;                /* utime + stime of --pid, clock ticks */
    uint64_t machine_busy, machine_total; /* /proc/stat "cpu" line, clock ticks */
    double self_s;                        /* this process, user + system seconds */
    bool valid;
};

/* The bytes of a tools/call answer that passed every check, split around the two values that
 * change from request to request: the tool's text (a JSON string) and the JSON-RPC id. An answer
 * equal to it with this request's values in place is the same answer, checked by a compare
 * instead of a parse (the parse cost more client CPU than the server spent on the request, which
 * on two shared cores held the server back). Anything else takes the full check. */
struct answer_shape {
    bool known;
    bool id_first;        /* the id comes before the text in the body */
    struct sbuf parts[3]; /* before the first value, between the two, after the second */
};

struct bench;

struct conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t retry; /* pool connections only: reconnect back-off */
    llhttp_t parser;
    struct bench *b;
    enum conn_state state;
    bool is_stream;
    bool inflight;     /* a request is on the wire, its response not complete */
    bool await_stream; /* setup: waiting for the GET stream this connection started */
    bool writing;      /* uv_write still owns wbuf */
    bool next_pending; /* a response completed while writing: continue in write_cb */
    bool msg_done;
    bool failed;       /* GET stream: its error is already counted */
    unsigned retry_ms; /* pool: delay before reconnecting after a close */
    int open_step;     /* enum open_step: what the session being opened needs next */
    enum req_kind kind;
    long session;   /* index into bench.sessions, or -1 */
    long opening;   /* setup/open: the session this connection is opening, or -1 */
    int64_t rpc_id; /* JSON-RPC id of the request in flight */
    uint64_t t_start;
    uint64_t add_a, add_b; /* tools/call add operands (as two's complement) */
    /* resources/list walk */
    char *cursor;
    long page, walk_items;
    /* response being parsed */
    int status;
    char hname[40];
    size_t hname_len;
    struct sbuf hval, body, wbuf;
    char *resp_sid;
    char ctype[64];
    /* GET stream bookkeeping */
    struct conn *owner; /* the pool connection that opened this stream */
    bool established;
    uint64_t stream_bytes, stream_events;
    char prev_char;
};

struct bench {
    struct options opt;
    struct target tgt;
    uv_loop_t *loop;
    uv_loop_t loop_mem;
    llhttp_settings_t http;
    enum phase phase;
    bool finishing, timed_out, interrupted, fatal;
    uv_timer_t phase_timer, hard_timer, tick_timer;
    uv_signal_t sigint, sigterm;
    char rbuf[65536]; /* read buffer shared by all sockets: libuv fills and drains it in one go */

    struct conn *pool;
    int npool;
    int busy; /* pool connections that are inflight or await_stream */
    int consecutive_connect_failures;
    struct conn *streams;
    long nstreams_open, streams_closed_early;

    struct session *sessions;
    long nsessions, cap_sessions; /* slots handed out so far */
    long *ready;                  /* indexes of ready sessions, for round-robin */
    long nready, cap_ready;
    long target_sessions; /* setup: how many to open */
    long next_slot;       /* setup/verify/cleanup cursor */
    long verify_done, delete_next;

    int64_t next_id;
    uint64_t rr; /* round-robin counter over ready sessions */
    long issued_measure;
    uint64_t requests, measured_requests, setup_requests;
    uint64_t errors, err_by_kind[ERR_KINDS];
    int errors_printed;
    uint64_t sessions_opened_measure;
    uint64_t walks, walk_total;
    bool walk_total_known;
    struct answer_shape call_shape;

    uint64_t t_begin, t_setup_start, t_setup_end, t_measure_start, t_measure_end;
    uint64_t t_hold_start, t_hold_end;
    long rss_baseline_kib, rss_after_kib, rss_end_kib, hwm_kib;
    long streams_at_sample;
    struct cpu_sample cpu0, cpu1;
    struct hist hist;
};

/* hist.c */
void hist_record(struct hist *h, uint64_t us);
double hist_percentile_ms(const struct hist *h, double q);

/* sbuf (mcp.c) */
int sbuf_add(struct sbuf *s, const char *p, size_t n);
void sbuf_free(struct sbuf *s);

/* conn.c */
void conn_setup_http(struct bench *b);
void conn_init_pool(struct bench *b, struct conn *c);
int conn_open(struct bench *b, struct conn *c);
void conn_schedule_open(struct conn *c, unsigned ms);
void conn_close(struct conn *c);
void conn_fail(struct conn *c, enum err_kind k, const char *what);
int conn_send(struct conn *c, enum req_kind kind, const char *method, const char *body,
              size_t body_len);
void conn_resume_owner(struct conn *stream);
int stream_open(struct bench *b, struct conn *owner, long session);

/* mcp.c */
int mcp_send(struct conn *c, enum req_kind kind);
void mcp_response(struct conn *c);
void mcp_free(struct bench *b);

/* mcpbench.c: callbacks the lower layers drive */
void bench_next(struct conn *c);
void bench_error(struct bench *b, enum err_kind k, const struct conn *c, const char *what);
void bench_latency(struct bench *b, const struct conn *c);
void bench_maybe_advance(struct bench *b);
bool bench_wants_pool(const struct bench *b);
long bench_new_session(struct bench *b);
void bench_session_ready(struct bench *b, struct conn *c);
void bench_finish(struct bench *b);

#endif
