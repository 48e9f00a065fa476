/* mcpbench: options, the phase machine, the per-connection work loop and the JSON report.
 * See mcpbench.h for the overall design and `mcpbench --help` for usage. */
#include "mcpbench.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_ERRORS_PRINTED 10
#define TICK_MS            100

static const char *const MODE_NAMES[] = {"call", "list", "idle", "streams", "open", "health"};
static const char *const KIND_NAMES[] = {"initialize", "notifications/initialized",
                                         "tools/call", "resources/list",
                                         "ping",       "DELETE session",
                                         "GET health", "GET stream"};
static const char *const ERR_NAMES[] = {"status", "body", "transport", "timeout"};

static const char USAGE[] =
    "Usage: mcpbench [options]\n"
    "Closed-loop load generator for an MCP server over Streamable HTTP, loopback only.\n"
    "Every response is checked; a wrong answer counts as an error. One JSON line goes to stdout.\n"
    "\n"
    "  --url URL               MCP endpoint (default http://127.0.0.1:3232/mcp); for --mode\n"
    "                          health the URL to GET (default http://127.0.0.1:3232/health)\n"
    "  --mode MODE             call     tools/call in a closed loop over --sessions sessions\n"
    "                          list     resources/list cursor walks (each page one request)\n"
    "                          idle     open --sessions sessions, close every socket, hold them\n"
    "                                   for --duration, then ping --verify of them\n"
    "                          streams  open --sessions sessions, each with a GET SSE stream\n"
    "                                   (one socket each), hold them for --duration\n"
    "                          open     open sessions (initialize + notifications/initialized)\n"
    "                                   as fast as possible; reports sessions_per_s\n"
    "                          health   GET --url, expect 200 (bare HTTP ceiling)\n"
    "  --tool echo|add         tool for --mode call (default echo)\n"
    "  --connections C         keep-alive connections, one request at a time each (default 64)\n"
    "  --sessions N            sessions to open: call/list default C, idle/streams default\n"
    "                          1000; for open an upper bound (default 0: none)\n"
    "  --duration S            measured seconds (call/list/open/health) or seconds to hold\n"
    "                          (idle/streams); default 10\n"
    "  --warmup S              unmeasured seconds before measuring (default 1)\n"
    "  --requests N            stop after N measured requests (default 0: no bound)\n"
    "  --token T               send Authorization: Bearer T\n"
    "  --protocol-version V    protocolVersion offered in initialize (default 2025-11-25); the\n"
    "                          version the server negotiates is sent as MCP-Protocol-Version.\n"
    "                          2026-07-28 (call and list only): no session, every request\n"
    "                          carries its _meta and the Mcp-Method/Mcp-Name headers\n"
    "  --pid P                 server PID: report its VmRSS (/proc/P/status); idle/streams also\n"
    "                          report the RSS growth per session over a baseline taken first\n"
    "  --verify N              idle/streams: ping N sessions after the hold (default 100)\n"
    "  --delete                DELETE every opened session at the end\n"
    "  --request-timeout S     an answer later than S seconds is an error (default 10)\n"
    "  --timeout S             hard limit on the whole run (default warmup + duration + 120)\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit status: 0 no errors, 1 errors (or timeout/interrupt), 2 bad usage or setup failure.\n"
    "RLIMIT_NOFILE is raised to its hard limit. Streams mode needs sessions + connections\n"
    "sockets here and as many in the server: 15,000 streams need the server's limit raised too\n"
    "(e.g. ulimit -n 20000 in the shell that starts it).\n";

/* ------------------------------------------------------------------ options and target ---- */

static int parse_num(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "mcpbench: %s must be a number in [%g, %g], not '%s'\n", name, lo, hi, v);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_choice(const char *name, const char *v, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    fprintf(stderr, "mcpbench: unknown %s '%s'\n", name, v);
    return -1;
}

/* Numeric options: name, bounds and where the value goes (as a double or a long/int). */
static int set_number(struct options *o, int id, const char *v)
{
    static const struct {
        int id;
        const char *name;
        double lo, hi;
    } specs[] = {{'c', "--connections", 1, 10000}, {'s', "--sessions", 0, 1e7},
                 {'d', "--duration", 0.01, 3600},  {'w', "--warmup", 0, 600},
                 {'r', "--requests", 0, 1e12},     {'p', "--pid", 1, 1 << 30},
                 {'v', "--verify", 0, 1e6},        {'R', "--request-timeout", 0.001, 3600},
                 {'O', "--timeout", 0.1, 86400}};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        double d;
        if (specs[i].id != id)
            continue;
        if (parse_num(specs[i].name, v, specs[i].lo, specs[i].hi, &d) < 0)
            return -1;
        switch (id) {
        case 'c':
            o->connections = (int)d;
            break;
        case 's':
            o->sessions = (long)d, o->sessions_set = true;
            break;
        case 'd':
            o->duration = d;
            break;
        case 'w':
            o->warmup = d;
            break;
        case 'r':
            o->requests = (long)d;
            break;
        case 'p':
            o->pid = (int)d;
            break;
        case 'v':
            o->verify = (int)d;
            break;
        case 'R':
            o->request_timeout = d;
            break;
        default:
            o->timeout = d;
            break;
        }
        return 0;
    }
    return -1;
}

static int set_option(struct options *o, int id, const char *v)
{
    static const char *const tools[] = {"echo", "add"};
    int i;
    switch (id) {
    case 'u':
        o->url = v;
        o->url_set = true;
        return 0;
    case 'T':
        o->token = v;
        return 0;
    case 'P':
        o->protocol_version = v;
        return 0;
    case 'D':
        o->delete_sessions = true;
        return 0;
    case 'm':
        if ((i = parse_choice("mode", v, MODE_NAMES, 6)) < 0)
            return -1;
        o->mode = (enum mode)i;
        return 0;
    case 't':
        if ((i = parse_choice("tool", v, tools, 2)) < 0)
            return -1;
        o->tool = (enum tool)i;
        return 0;
    default:
        return set_number(o, id, v);
    }
}

/* Returns 0 to run, 1 when --help was printed, -1 on bad usage. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {{"url", 1, 0, 'u'},
                                          {"mode", 1, 0, 'm'},
                                          {"tool", 1, 0, 't'},
                                          {"connections", 1, 0, 'c'},
                                          {"sessions", 1, 0, 's'},
                                          {"duration", 1, 0, 'd'},
                                          {"warmup", 1, 0, 'w'},
                                          {"requests", 1, 0, 'r'},
                                          {"token", 1, 0, 'T'},
                                          {"protocol-version", 1, 0, 'P'},
                                          {"pid", 1, 0, 'p'},
                                          {"verify", 1, 0, 'v'},
                                          {"delete", 0, 0, 'D'},
                                          {"request-timeout", 1, 0, 'R'},
                                          {"timeout", 1, 0, 'O'},
                                          {"help", 0, 0, 'h'},
                                          {0, 0, 0, 0}};
    *o = (struct options){.url = "http://127.0.0.1:3232/mcp",
                          .connections = 64,
                          .duration = 10,
                          .warmup = 1,
                          .protocol_version = "2025-11-25",
                          .verify = 100,
                          .request_timeout = 10};
    int id;
    while ((id = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (id == 'h') {
            fputs(USAGE, stdout);
            return 1;
        }
        if (id == '?' || set_option(o, id, optarg) < 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "mcpbench: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    if (!o->sessions_set)
        o->sessions = (o->mode == MODE_CALL || o->mode == MODE_LIST)      ? o->connections
                      : (o->mode == MODE_IDLE || o->mode == MODE_STREAMS) ? 1000
                                                                          : 0;
    o->stateless = strcmp(o->protocol_version, "2026-07-28") == 0;
    if (o->stateless && o->mode != MODE_CALL && o->mode != MODE_LIST) {
        fprintf(stderr, "mcpbench: --protocol-version 2026-07-28 has no sessions to open, idle "
                        "or stream: use --mode call or list\n");
        return -1;
    }
    if (o->timeout == 0)
        o->timeout = o->warmup + o->duration + 120;
    if (o->mode == MODE_HEALTH && !o->url_set)
        o->url = "http://127.0.0.1:3232/health";
    return 0;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

static int resolve(struct target *t, const char *port)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "mcpbench: cannot resolve %s: %s\n", t->host, gai_strerror(rc));
        return -1;
    }
    bool ok = is_loopback(res->ai_addr);
    if (ok)
        memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (!ok)
        fprintf(stderr,
                "mcpbench: %s is not a loopback address; mcpbench only loads servers "
                "on this machine\n",
                t->host);
    return ok ? 0 : -1;
}

/* http://host[:port][/path][?query]; https is not supported (loopback needs no TLS). */
static int parse_url(const char *url, struct target *t)
{
    if (strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "mcpbench: the URL must start with http://\n");
        return -1;
    }
    const char *p = url + 7, *h = p, *after;
    size_t hlen;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close)
            return fprintf(stderr, "mcpbench: bad IPv6 literal in URL\n"), -1;
        h = p + 1;
        hlen = (size_t)(close - h);
        after = close + 1;
    } else {
        hlen = strcspn(p, ":/?#");
        after = p + hlen;
    }
    char port[8] = "80";
    if (*after == ':') {
        size_t n = strspn(after + 1, "0123456789");
        if (n == 0 || n >= sizeof port)
            return fprintf(stderr, "mcpbench: bad port in URL\n"), -1;
        memcpy(port, after + 1, n);
        port[n] = '\0';
        after += 1 + n;
    }
    size_t plen = strcspn(after, "#");
    if (hlen == 0 || hlen >= sizeof t->host || (size_t)(after - p) >= sizeof t->hostport ||
        plen + 2 >= sizeof t->path)
        return fprintf(stderr, "mcpbench: URL too long or without a host\n"), -1;
    memcpy(t->host, h, hlen);
    t->host[hlen] = '\0';
    memcpy(t->hostport, p, (size_t)(after - p));
    t->hostport[after - p] = '\0';
    snprintf(t->path, sizeof t->path, "%s%.*s", *after == '/' ? "" : "/", (int)plen, after);
    return resolve(t, port);
}

static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long)rl.rlim_cur;
}

/* VmRSS / VmHWM of the server in KiB, or -1. */
static long proc_status_kib(int pid, const char *key)
{
    char path[64], line[256];
    long v = -1;
    size_t klen = strlen(key);
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Reads up to n unsigned numbers separated by spaces from p; returns how many were read. */
static int read_numbers(const char *p, unsigned long long *v, int n)
{
    int i = 0;
    while (i < n) {
        char *end;
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            break;
        p = end;
        i++;
    }
    return i;
}

/* utime + stime (fields 14 and 15) of /proc/P/stat; the command name may hold spaces, so
 * counting starts after its closing parenthesis, past the one-letter state (field 3). */
static uint64_t proc_cpu_ticks(int pid)
{
    char path[64], buf[1024];
    unsigned long long v[12];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p || strlen(p) < 4 || read_numbers(p + 4, v, 12) != 12)
        return 0;
    return v[10] + v[11]; /* v[k] is field 4 + k: utime is field 14, stime 15 */
}

static void cpu_sample(const struct bench *b, struct cpu_sample *s)
{
    unsigned long long v[8] = {0};
    char line[512] = "";
    struct rusage ru;
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    s->valid = strncmp(line, "cpu ", 4) == 0 && read_numbers(line + 4, v, 8) == 8;
    s->machine_total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    s->machine_busy = s->machine_total - v[3] - v[4]; /* all but idle and iowait */
    s->server_ticks = b->opt.pid ? proc_cpu_ticks(b->opt.pid) : 0;
    getrusage(RUSAGE_SELF, &ru);
    s->self_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long server_rss(const struct bench *b)
{
    return b->opt.pid ? proc_status_kib(b->opt.pid, "VmRSS") : -1;
}

/* ------------------------------------------------------------------------ bookkeeping ---- */

static bool hold_mode(const struct bench *b)
{
    return b->opt.mode == MODE_IDLE || b->opt.mode == MODE_STREAMS;
}

void bench_error(struct bench *b, enum err_kind k, const struct conn *c, const char *what)
{
    b->errors++;
    b->err_by_kind[k]++;
    if (b->errors_printed >= MAX_ERRORS_PRINTED)
        return;
    b->errors_printed++;
    bool http = (k == ERR_STATUS || k == ERR_BODY) && c;
    bool show_body = http && !c->is_stream && c->body.p;
    fprintf(stderr, "mcpbench: %s error on %s: %s", ERR_NAMES[k], c ? KIND_NAMES[c->kind] : "-",
            what);
    if (http)
        fprintf(stderr, " (HTTP %d, Content-Type '%s')", c->status, c->ctype);
    fprintf(stderr, "%s%.300s\n", show_body ? "; body: " : "", show_body ? c->body.p : "");
    if (b->errors_printed == MAX_ERRORS_PRINTED)
        fprintf(stderr, "mcpbench: (further errors are only counted)\n");
}

static void phase_advance(struct bench *b);

/* Latency counts in the measured window; idle and streams have none, so there the session
 * opening requests themselves are what gets measured. */
void bench_latency(struct bench *b, const struct conn *c)
{
    uint64_t us = (uv_hrtime() - c->t_start) / 1000;
    b->requests++;
    if (b->phase == PH_MEASURE) {
        b->measured_requests++;
        hist_record(&b->hist, us);
        if (b->opt.requests > 0 && b->measured_requests >= (uint64_t)b->opt.requests)
            phase_advance(b);
    } else if (b->phase == PH_SETUP) {
        b->setup_requests++;
        if (hold_mode(b))
            hist_record(&b->hist, us);
    }
}

long bench_new_session(struct bench *b)
{
    if (b->nsessions == b->cap_sessions) {
        long cap = b->cap_sessions ? b->cap_sessions * 2 : 1024;
        struct session *s = realloc(b->sessions, (size_t)cap * sizeof *s);
        long *r = realloc(b->ready, (size_t)cap * sizeof *r);
        if (!s || !r) {
            fprintf(stderr, "mcpbench: out of memory\n");
            abort();
        }
        b->sessions = s;
        b->ready = r;
        b->cap_sessions = cap;
    }
    b->sessions[b->nsessions] = (struct session){0};
    return b->nsessions++;
}

void bench_session_ready(struct bench *b, struct conn *c)
{
    long idx = c->opening;
    b->sessions[idx].ready = true;
    b->ready[b->nready++] = idx;
    if (b->opt.mode == MODE_OPEN && b->phase == PH_MEASURE &&
        ++b->sessions_opened_measure == (uint64_t)b->opt.sessions)
        phase_advance(b);
    if (b->opt.mode == MODE_STREAMS && b->phase == PH_SETUP)
        c->open_step = OPEN_STREAM;
    else
        c->opening = -1;
}

bool bench_wants_pool(const struct bench *b)
{
    return !b->finishing &&
           (b->phase == PH_SETUP || b->phase == PH_WARMUP || b->phase == PH_MEASURE ||
            b->phase == PH_VERIFY || b->phase == PH_CLEANUP);
}

/* ---------------------------------------------------------------- per-connection work ---- */

static void start_open(struct conn *c)
{
    c->opening = bench_new_session(c->b);
    c->open_step = OPEN_INIT;
    c->session = -1;
    mcp_send(c, RQ_INIT);
}

/* The steps after initialize run on the connection that sent it, whatever the phase. */
static bool continue_open(struct conn *c)
{
    if (c->open_step == OPEN_INITIALIZED) {
        c->session = c->opening;
        mcp_send(c, RQ_INITIALIZED);
        return true;
    }
    if (c->open_step == OPEN_STREAM && c->b->phase == PH_SETUP &&
        stream_open(c->b, c, c->opening) == 0)
        return true;
    c->opening = -1;
    return false;
}

static bool setup_step(struct conn *c)
{
    struct bench *b = c->b;
    if (b->next_slot >= b->target_sessions)
        return false;
    if (b->opt.stateless) { /* nothing to open: every "session" is ready at once */
        while (b->next_slot < b->target_sessions) {
            b->next_slot++;
            long i = bench_new_session(b);
            b->sessions[i].proto = strdup(b->opt.protocol_version);
            b->sessions[i].ready = true;
            b->ready[b->nready++] = i;
        }
        return false;
    }
    b->next_slot++;
    start_open(c);
    return true;
}

static bool work_step(struct conn *c)
{
    struct bench *b = c->b;
    if (b->phase == PH_MEASURE && b->opt.requests > 0 && b->issued_measure >= b->opt.requests)
        return false;
    /* open: --sessions bounds the sessions started in the measured window (one issue each) */
    if (b->opt.mode == MODE_OPEN && b->phase == PH_MEASURE && b->opt.sessions > 0 &&
        b->issued_measure >= b->opt.sessions)
        return false;
    if (b->phase == PH_MEASURE)
        b->issued_measure++;
    switch (b->opt.mode) {
    case MODE_CALL:
        c->session = b->ready[b->rr++ % (uint64_t)b->nready];
        mcp_send(c, RQ_CALL);
        break;
    case MODE_LIST:
        if (!c->cursor) /* a walk stays on one session */
            c->session = b->ready[b->rr++ % (uint64_t)b->nready];
        mcp_send(c, RQ_LIST);
        break;
    case MODE_OPEN:
        start_open(c);
        break;
    default:
        mcp_send(c, RQ_HEALTH);
        break;
    }
    return true;
}

static long verify_count(const struct bench *b)
{
    return b->opt.verify < b->nready ? b->opt.verify : b->nready;
}

/* Pings spread evenly over the ready sessions, so old and new sessions are both looked at. */
static bool verify_step(struct conn *c)
{
    struct bench *b = c->b;
    long k = verify_count(b);
    if (b->next_slot >= k)
        return false;
    c->session = b->ready[(long)((double)b->next_slot * (double)b->nready / (double)k)];
    b->next_slot++;
    b->verify_done++;
    mcp_send(c, RQ_PING);
    return true;
}

static bool cleanup_step(struct conn *c)
{
    struct bench *b = c->b;
    if (b->opt.stateless || b->next_slot >= b->nready)
        return false;
    c->session = b->ready[b->next_slot++];
    mcp_send(c, RQ_DELETE);
    return true;
}

void bench_next(struct conn *c)
{
    struct bench *b = c->b;
    if (b->finishing || c->state != CS_OPEN || c->inflight || c->await_stream)
        return;
    if (c->writing) {
        c->next_pending = true;
        return;
    }
    if (c->opening >= 0 && continue_open(c))
        return;
    bool sent = false;
    switch (b->phase) {
    case PH_SETUP:
        sent = setup_step(c);
        break;
    case PH_WARMUP:
    case PH_MEASURE:
        sent = work_step(c);
        break;
    case PH_VERIFY:
        sent = verify_step(c);
        break;
    case PH_CLEANUP:
        sent = cleanup_step(c);
        break;
    default:
        break;
    }
    if (!sent)
        bench_maybe_advance(b);
}

/* ------------------------------------------------------------------------------ phases ---- */

static bool work_left(const struct bench *b)
{
    switch (b->phase) {
    case PH_SETUP:
        return b->next_slot < b->target_sessions;
    case PH_VERIFY:
        return b->next_slot < verify_count(b);
    case PH_CLEANUP:
        return !b->opt.stateless && b->next_slot < b->nready; /* no session to delete */
    default:
        return false;
    }
}

void bench_maybe_advance(struct bench *b)
{
    if (b->finishing || (b->phase != PH_SETUP && b->phase != PH_VERIFY && b->phase != PH_CLEANUP &&
                         b->phase != PH_DRAIN))
        return;
    if (work_left(b))
        return;
    for (int i = 0; i < b->npool; i++) {
        const struct conn *c = &b->pool[i];
        if (c->inflight || c->await_stream || (c->opening >= 0 && b->phase == PH_SETUP))
            return;
    }
    phase_advance(b);
}

static enum phase phase_after(const struct bench *b, enum phase p)
{
    for (;;) {
        p = (enum phase)(p + 1);
        switch (p) {
        case PH_WARMUP:
            if (!hold_mode(b) && b->opt.warmup > 0)
                return p;
            break;
        case PH_MEASURE:
        case PH_DRAIN:
            if (!hold_mode(b))
                return p;
            break;
        case PH_HOLD:
            if (hold_mode(b))
                return p;
            break;
        case PH_VERIFY:
            if (hold_mode(b) && b->opt.verify > 0)
                return p;
            break;
        case PH_CLEANUP:
            if (b->opt.delete_sessions && b->nready > 0)
                return p;
            break;
        default:
            return PH_DONE;
        }
    }
}

static void kick(struct bench *b)
{
    for (int i = 0; i < b->npool && !b->finishing; i++) {
        struct conn *c = &b->pool[i];
        if (c->state == CS_OPEN && !c->inflight && !c->await_stream)
            bench_next(c);
    }
}

/* Closed connections reconnect (and then ask for work); open ones are asked right away. */
static void open_pool(struct bench *b)
{
    for (int i = 0; i < b->npool && !b->finishing; i++) {
        struct conn *c = &b->pool[i];
        if (c->state == CS_CLOSED)
            conn_schedule_open(c, 0);
    }
    kick(b);
}

static void close_pool(struct bench *b)
{
    for (int i = 0; i < b->npool; i++) {
        uv_timer_stop(&b->pool[i].retry);
        conn_close(&b->pool[i]);
    }
}

static void close_streams(struct bench *b)
{
    for (long i = 0; b->streams && i < b->opt.sessions; i++) {
        struct conn *s = &b->streams[i];
        if (s->established) {
            s->established = false;
            b->nstreams_open--;
        }
        conn_close(s);
    }
}

static void on_phase_timer(uv_timer_t *t)
{
    phase_advance(t->data);
}

static void start_phase_timer(struct bench *b, double seconds)
{
    uv_timer_start(&b->phase_timer, on_phase_timer, (uint64_t)(seconds * 1000.0 + 0.5), 0);
}

static void phase_leave(struct bench *b)
{
    uint64_t now = uv_hrtime();
    uv_timer_stop(&b->phase_timer);
    switch (b->phase) {
    case PH_SETUP:
        b->t_setup_end = now;
        if (hold_mode(b))
            cpu_sample(b, &b->cpu1);
        if (b->nready == 0 && b->target_sessions > 0) {
            fprintf(stderr, "mcpbench: no session could be opened\n");
            b->fatal = true;
        }
        break;
    case PH_MEASURE:
        b->t_measure_end = now;
        cpu_sample(b, &b->cpu1);
        break;
    case PH_HOLD:
        b->t_hold_end = now;
        b->rss_after_kib = server_rss(b);
        b->streams_at_sample = b->nstreams_open;
        close_streams(b);
        break;
    default:
        break;
    }
}

static void phase_enter(struct bench *b, enum phase p)
{
    b->phase = p;
    b->next_slot = 0;
    uint64_t now = uv_hrtime();
    switch (p) {
    case PH_SETUP:
        b->t_setup_start = now;
        b->target_sessions = b->opt.sessions;
        cpu_sample(b, &b->cpu0);
        kick(b);
        break;
    case PH_WARMUP:
        start_phase_timer(b, b->opt.warmup), kick(b);
        break;
    case PH_MEASURE:
        b->t_measure_start = now;
        b->issued_measure = 0;
        cpu_sample(b, &b->cpu0);
        start_phase_timer(b, b->opt.duration);
        kick(b);
        break;
    case PH_DRAIN:
        bench_maybe_advance(b);
        break;
    case PH_HOLD:
        close_pool(b); /* idle sessions hold no socket */
        b->t_hold_start = now;
        start_phase_timer(b, b->opt.duration);
        break;
    case PH_VERIFY:
    case PH_CLEANUP:
        open_pool(b);
        break;
    default:
        b->rss_end_kib = server_rss(b);
        bench_finish(b);
        break;
    }
}

static void phase_advance(struct bench *b)
{
    if (b->finishing)
        return;
    phase_leave(b);
    phase_enter(b, b->fatal ? PH_DONE : phase_after(b, b->phase));
}

static void on_hard_timer(uv_timer_t *t)
{
    struct bench *b = t->data;
    fprintf(stderr, "mcpbench: hard timeout (%.0f s) reached in phase %d\n", b->opt.timeout,
            (int)b->phase);
    b->timed_out = true;
    bench_finish(b);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct bench *b = s->data;
    b->interrupted = true;
    bench_finish(b);
}

/* Requests (and stream opens) without an answer in time fail, so a stuck server cannot stall a
 * closed loop forever. */
static void on_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t now = uv_hrtime();
    uint64_t limit = (uint64_t)(b->opt.request_timeout * 1e9);
    for (int i = 0; i < b->npool; i++) {
        struct conn *c = &b->pool[i];
        if (c->inflight && now - c->t_start > limit)
            conn_fail(c, ERR_TIMEOUT, "no answer within --request-timeout");
    }
    for (long i = 0; b->streams && i < b->opt.sessions; i++) {
        struct conn *s = &b->streams[i];
        if (s->inflight && s->state != CS_CLOSED && now - s->t_start > limit)
            conn_fail(s, ERR_TIMEOUT, "GET stream not answered within --request-timeout");
    }
}

void bench_finish(struct bench *b)
{
    if (b->finishing)
        return;
    uint64_t now = uv_hrtime();
    if (b->phase == PH_SETUP && !b->t_setup_end)
        b->t_setup_end = now;
    if (b->phase == PH_MEASURE)
        b->t_measure_end = now;
    if (b->phase == PH_MEASURE || (b->phase == PH_SETUP && hold_mode(b)))
        cpu_sample(b, &b->cpu1);
    if (b->phase == PH_HOLD) {
        b->t_hold_end = now;
        b->rss_after_kib = server_rss(b);
        b->streams_at_sample = b->nstreams_open;
    }
    if (b->phase != PH_DONE)
        b->rss_end_kib = server_rss(b);
    b->finishing = true;
    uv_close((uv_handle_t *)&b->phase_timer, NULL);
    uv_close((uv_handle_t *)&b->hard_timer, NULL);
    uv_close((uv_handle_t *)&b->tick_timer, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    uv_close((uv_handle_t *)&b->sigterm, NULL);
    for (int i = 0; i < b->npool; i++) {
        conn_close(&b->pool[i]);
        uv_close((uv_handle_t *)&b->pool[i].retry, NULL);
    }
    close_streams(b);
}

/* ------------------------------------------------------------------------------ report ---- */

static double secs(uint64_t from, uint64_t to)
{
    return to > from ? (double)(to - from) / 1e9 : 0.0;
}

static json_t *real(double v, double scale)
{
    return json_real(round(v * scale) / scale);
}

static json_t *kib_or_null(long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

static json_t *latency_json(const struct hist *h)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:I}", "p50", real(hist_percentile_ms(h, 0.50), 1e3),
                     "p90", real(hist_percentile_ms(h, 0.90), 1e3), "p99",
                     real(hist_percentile_ms(h, 0.99), 1e3), "max",
                     real((double)h->max_us / 1000.0, 1e3), "mean",
                     real(h->total ? (double)h->sum_us / (double)h->total / 1000.0 : 0, 1e3),
                     "samples", (json_int_t)h->total);
}

static json_t *errors_json(const struct bench *b)
{
    json_t *o = json_object();
    for (int k = 0; k < ERR_KINDS; k++)
        json_object_set_new(o, ERR_NAMES[k], json_integer((json_int_t)b->err_by_kind[k]));
    return o;
}

static json_t *rss_per_session(const struct bench *b)
{
    long per = b->opt.mode == MODE_STREAMS ? b->streams_at_sample : b->nready;
    if (!hold_mode(b) || b->rss_baseline_kib < 0 || b->rss_after_kib < 0 || per <= 0)
        return json_null();
    return real((double)(b->rss_after_kib - b->rss_baseline_kib) / (double)per, 1e2);
}

/* Fields that only some modes have: walk counts, stream counts, hold and verification. */
static void report_mode_fields(const struct bench *b, json_t *o)
{
    if (b->opt.mode == MODE_CALL)
        json_object_set_new(o, "tool", json_string(b->opt.tool == TOOL_ECHO ? "echo" : "add"));
    if (b->opt.mode == MODE_LIST) {
        json_object_set_new(o, "walks", json_integer((json_int_t)b->walks));
        json_object_set_new(o, "resources_per_walk", json_integer((json_int_t)b->walk_total));
    }
    if (b->opt.mode == MODE_STREAMS) {
        uint64_t ev = 0;
        for (long i = 0; i < b->opt.sessions; i++)
            ev += b->streams[i].stream_events;
        json_object_set_new(o, "streams_open", json_integer(b->streams_at_sample));
        json_object_set_new(o, "streams_closed_early", json_integer(b->streams_closed_early));
        json_object_set_new(o, "stream_events", json_integer((json_int_t)ev));
    }
    if (hold_mode(b))
        json_object_set_new(o, "verified", json_integer(b->verify_done));
}

/* CPU over the measured window (idle/streams: setup) in percent of one core: the server, this
 * load generator, and everything else on the machine (which should be near 0 for a clean run). */
static json_t *cpu_json(const struct bench *b, double win)
{
    const struct cpu_sample *a = &b->cpu0, *z = &b->cpu1;
    if (!a->valid || !z->valid || win <= 0 || z->machine_total <= a->machine_total)
        return json_null();
    double hz = (double)sysconf(_SC_CLK_TCK);
    double ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
    double machine = (double)(z->machine_busy - a->machine_busy) /
                     (double)(z->machine_total - a->machine_total) * ncpu * 100.0;
    double self = (z->self_s - a->self_s) / win * 100.0;
    json_t *o = json_object();
    double server = b->opt.pid ? (double)(z->server_ticks - a->server_ticks) / hz / win * 100.0 : 0;
    json_object_set_new(o, "server", b->opt.pid ? real(server, 1) : json_null());
    json_object_set_new(o, "mcpbench", real(self, 1));
    json_object_set_new(o, "other",
                        b->opt.pid ? real(fmax(0, machine - server - self), 1) : json_null());
    return o;
}

/* The brief's fields first, in its order; then the detail. Rates: requests completed in the
 * measured window (idle/streams: in setup) over that window's length. */
static void report(const struct bench *b)
{
    double setup_s = secs(b->t_setup_start, b->t_setup_end);
    double meas_s = secs(b->t_measure_start, b->t_measure_end);
    bool hold = hold_mode(b);
    double win = hold ? setup_s : meas_s;
    uint64_t reqs = hold ? b->setup_requests : b->measured_requests;
    double opened = b->opt.mode == MODE_OPEN ? (double)b->sessions_opened_measure : b->nready;
    double open_win = b->opt.mode == MODE_OPEN ? meas_s : setup_s;
    long rss = hold ? b->rss_after_kib : b->rss_end_kib;
    json_t *o = json_object();
    json_object_set_new(o, "mode", json_string(MODE_NAMES[b->opt.mode]));
    json_object_set_new(o, "url", json_string(b->opt.url));
    json_object_set_new(o, "connections", json_integer(b->opt.connections));
    json_object_set_new(o, "sessions", json_integer(b->nready));
    json_object_set_new(o, "duration_s",
                        real(hold ? secs(b->t_hold_start, b->t_hold_end) : meas_s, 1e3));
    json_object_set_new(o, "requests", json_integer((json_int_t)reqs));
    json_object_set_new(o, "errors", json_integer((json_int_t)b->errors));
    json_object_set_new(o, "rps", real(win > 0 ? (double)reqs / win : 0, 10));
    json_object_set_new(o, "latency_ms", latency_json(&b->hist));
    json_object_set_new(o, "server_rss_kib", kib_or_null(b->opt.pid ? rss : -1));
    json_object_set_new(o, "rss_per_session_kib", rss_per_session(b));
    json_object_set_new(o, "sessions_per_s", real(open_win > 0 ? opened / open_win : 0, 10));
    report_mode_fields(b, o);
    json_object_set_new(o, "cpu_pct", cpu_json(b, win));
    json_object_set_new(o, "setup_s", real(setup_s, 1e3));
    json_object_set_new(o, "warmup_s", real(hold ? 0 : b->opt.warmup, 1e3));
    json_object_set_new(o, "server_rss_baseline_kib", kib_or_null(b->rss_baseline_kib));
    json_object_set_new(o, "server_hwm_kib", kib_or_null(b->hwm_kib));
    json_object_set_new(o, "errors_by_kind", errors_json(b));
    json_object_set_new(o, "total_requests", json_integer((json_int_t)b->requests));
    json_object_set_new(o, "protocol_version", json_string(b->opt.protocol_version));
    json_object_set_new(o, "timed_out", json_boolean(b->timed_out || b->interrupted));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (s)
        puts(s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

/* ------------------------------------------------------------------------------- main ---- */

static int init_handles(struct bench *b)
{
    uv_timer_init(b->loop, &b->phase_timer);
    uv_timer_init(b->loop, &b->hard_timer);
    uv_timer_init(b->loop, &b->tick_timer);
    uv_signal_init(b->loop, &b->sigint);
    uv_signal_init(b->loop, &b->sigterm);
    b->phase_timer.data = b->hard_timer.data = b->tick_timer.data = b;
    b->sigint.data = b->sigterm.data = b;
    uv_timer_start(&b->hard_timer, on_hard_timer, (uint64_t)(b->opt.timeout * 1000), 0);
    uv_timer_start(&b->tick_timer, on_tick, TICK_MS, TICK_MS);
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);
    b->npool = b->opt.connections;
    b->pool = calloc((size_t)b->npool, sizeof *b->pool);
    if (b->opt.mode == MODE_STREAMS && b->opt.sessions > 0)
        b->streams = calloc((size_t)b->opt.sessions, sizeof *b->streams);
    if (!b->pool || (b->opt.mode == MODE_STREAMS && b->opt.sessions > 0 && !b->streams))
        return -1;
    for (int i = 0; i < b->npool; i++)
        conn_init_pool(b, &b->pool[i]);
    return 0;
}

static int setup(struct bench *b, int argc, char **argv)
{
    int rc = parse_options(argc, argv, &b->opt);
    if (rc != 0)
        return rc > 0 ? 1 : -1;
    signal(SIGPIPE, SIG_IGN);
    long nofile = raise_nofile();
    if (parse_url(b->opt.url, &b->tgt) < 0)
        return -1;
    long need = b->opt.connections + (b->opt.mode == MODE_STREAMS ? b->opt.sessions : 0) + 32;
    if (nofile > 0 && need > nofile) {
        fprintf(stderr, "mcpbench: needs %ld file descriptors, RLIMIT_NOFILE allows %ld\n", need,
                nofile);
        return -1;
    }
    if (b->opt.pid && server_rss(b) < 0) {
        fprintf(stderr, "mcpbench: cannot read /proc/%d/status\n", b->opt.pid);
        return -1;
    }
    b->rss_baseline_kib = server_rss(b);
    b->rss_after_kib = b->rss_end_kib = b->hwm_kib = -1;
    b->loop = &b->loop_mem;
    if (uv_loop_init(b->loop) != 0)
        return -1;
    conn_setup_http(b);
    return init_handles(b) < 0 ? -1 : 0;
}

static void free_all(struct bench *b)
{
    for (int i = 0; b->pool && i < b->npool; i++) {
        sbuf_free(&b->pool[i].hval);
        sbuf_free(&b->pool[i].body);
        sbuf_free(&b->pool[i].wbuf);
        free(b->pool[i].cursor);
        free(b->pool[i].resp_sid);
    }
    for (long i = 0; b->streams && i < b->opt.sessions; i++) {
        sbuf_free(&b->streams[i].hval);
        sbuf_free(&b->streams[i].wbuf);
        free(b->streams[i].resp_sid);
    }
    for (long i = 0; i < b->nsessions; i++) {
        free(b->sessions[i].sid);
        free(b->sessions[i].proto);
    }
    free(b->sessions);
    free(b->ready);
    mcp_free(b);
    free(b->pool);
    free(b->streams);
}

int main(int argc, char **argv)
{
    struct bench *b = calloc(1, sizeof *b);
    if (!b)
        return 2;
    int rc = setup(b, argc, argv);
    if (rc != 0) {
        free(b);
        return rc > 0 ? 0 : 2;
    }
    b->t_begin = uv_hrtime();
    phase_enter(b, hold_mode(b) || b->opt.mode == MODE_CALL || b->opt.mode == MODE_LIST
                       ? PH_SETUP
                       : phase_after(b, PH_SETUP));
    for (int i = 0; i < b->npool; i++)
        conn_schedule_open(&b->pool[i], 0);
    uv_run(b->loop, UV_RUN_DEFAULT);
    if (b->opt.pid)
        b->hwm_kib = proc_status_kib(b->opt.pid, "VmHWM");
    report(b);
    uv_loop_close(b->loop);
    rc = b->fatal ? 2 : (b->errors > 0 || b->timed_out || b->interrupted) ? 1 : 0;
    free_all(b);
    free(b);
    return rc;
}
