/*
 * store_backend: what backends share and callers must not see: the queue of callbacks deferred
 * to the loop, and the subscription list. A
 * channel holds its local subscriptions in subscribe order; a subscription starts with the store
 * it belongs to, so store_unsubscribe finds the backend's vtable from the subscription alone.
 * Deliveries and readiness notices queued for later hold a subscription (pending), so
 * unsubscribing from inside any callback only marks it dead and the last holder frees it.
 * Included only by the store_*.c backends. store_unsubscribe (store.h) is implemented here.
 */
#ifndef MCPD_STORE_STORE_BACKEND_H
#define MCPD_STORE_STORE_BACKEND_H

#include "lib/hashmap.h"
#include "store/store.h"

/* Deferred callbacks, oldest first. A backend's queued entry starts with its node. */
struct store_fifo_node {
    struct store_fifo_node *next;
};

struct store_fifo {
    struct store_fifo_node *head;
    struct store_fifo_node *tail;
};

void store_fifo_push(struct store_fifo *q, struct store_fifo_node *n);
/* Pop and run (run frees) the entries queued before this call, oldest first; entries they queue
 * wait for the next call, so callbacks that keep issuing commands cannot starve the loop.
 * Returns whether entries remain. */
bool store_fifo_run(struct store_fifo *q, void (*run)(void *ctx, struct store_fifo_node *n),
                    void *ctx);

struct store_channel;

struct store_sub {
    struct store *store;
    struct store_channel *ch; /* NULL once unsubscribed */
    struct store_sub *prev;
    struct store_sub *next;
    store_message_fn fn;
    store_ready_fn ready; /* NULL once its notice is queued (or for store_subscribe) */
    void *arg;
    size_t pending; /* queued deliveries and notices that point here */
    bool dead;      /* unsubscribed: never call fn or ready again */
};

struct store_channel {
    struct store_sub *head;
    struct store_sub *tail;
    size_t nsubs;
    bool unsubscribing; /* Redis: UNSUBSCRIBE sent, its reply not seen yet */
    bool confirmed;     /* Redis: the server confirmed SUBSCRIBE on the current connection */
    size_t name_len;
    char name[];
};

/* The channel called name in channels (name -> struct store_channel *), created when missing;
 * *fresh tells which. NULL when out of memory. */
struct store_channel *store_channel_get(struct hashmap *channels, const char *name, bool *fresh);
void store_channel_free(struct hashmap *channels, struct store_channel *ch);
/* Append a subscription to ch; NULL when out of memory. */
struct store_sub *store_sub_add(struct store *s, struct store_channel *ch, store_message_fn fn,
                                store_ready_fn ready, void *arg);
/* Mark sub dead and unlink it (freed now unless held). Returns the channel it left, or NULL if
 * it was already dead; the caller drops the channel when that left it empty. */
struct store_channel *store_sub_unlink(struct store_sub *sub);
void store_sub_hold(struct store_sub *sub);
/* Drop a hold; a dead subscription goes with its last one. */
void store_sub_release(struct store_sub *sub);
/* Free every channel and the subscriptions still on them (nothing may hold them), and the map. */
void store_channels_free(struct hashmap *channels);

#endif
