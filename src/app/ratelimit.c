/* Fixed-window rate limiting on the shared store (see ratelimit.h). */
#include "app/ratelimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/ratelimit_internal.h"
#include "lib/netaddr.h"
#include "store/store.h"

/* One counter request in flight: what the store callback needs to build the result. */
struct rl_pending {
    ratelimit_fn fn;
    void *arg;
    unsigned limit;
    uint64_t reset_ms; /* from the check to the end of its window */
};

void ratelimit_client_id(const char *addr, char *out, size_t out_size)
{
    netaddr_client_id(addr, out, out_size);
}

static void call_fail_open(ratelimit_fn fn, void *arg)
{
    struct ratelimit_result r = {.allowed = true};
    fn(arg, &r);
}

static void on_incr(void *arg, int status, long long count)
{
    struct rl_pending *p = arg;
    ratelimit_fn fn = p->fn;
    void *fn_arg = p->arg;
    struct ratelimit_result r = {.allowed = true};

    if (status == STORE_OK) {
        if (count < 1) /* only if something else wrote the key; count this request once */
            count = 1;
        r.limit = p->limit;
        r.allowed = count <= (long long)p->limit;
        r.remaining = r.allowed ? p->limit - (unsigned)count : 0;
        r.reset_s = (p->reset_ms + 999) / 1000;
    }
    free(p);
    fn(fn_arg, &r);
}

void ratelimit_check_at(struct store *s, const struct ratelimit *rl, const char *addr,
                        uint64_t now_ms, ratelimit_fn fn, void *arg)
{
    /* A zero window is a configuration mistake; treat it like limit 0 rather than divide. */
    if (rl->limit == 0 || rl->window_ms == 0) {
        call_fail_open(fn, arg);
        return;
    }
    /* Windows are aligned to the epoch, not started at a client's first hit (the reference server's
     * in-memory way): every instance then derives the same key for the same moment, and one
     * INCR with a TTL is the whole protocol. */
    uint64_t window = now_ms / rl->window_ms;
    char client[RATELIMIT_CLIENT_MAX];
    char key[256];
    ratelimit_client_id(addr, client, sizeof client);
    snprintf(key, sizeof key, "rl:%s:%s:%" PRIu64, rl->name ? rl->name : "default", client, window);

    struct rl_pending *p = malloc(sizeof *p);
    if (!p) {
        call_fail_open(fn, arg);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->limit = rl->limit;
    p->reset_ms = (window + 1) * rl->window_ms - now_ms;
    if (store_incr(s, key, 1, rl->window_ms, on_incr, p) != STORE_OK) {
        free(p);
        call_fail_open(fn, arg); /* the store could not take the command: fail open */
    }
}

static uint64_t wall_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ratelimit_check(struct store *s, const struct ratelimit *rl, const char *client_addr,
                     ratelimit_fn fn, void *arg)
{
    /* The wall clock, not the loop clock: instances sharing the store must agree on windows. */
    ratelimit_check_at(s, rl, client_addr, wall_clock_ms(), fn, arg);
}
