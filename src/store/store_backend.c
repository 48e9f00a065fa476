/*
 * store_backend: the deferred-callback queue and the per-channel subscription list both backends
 * use (see store_backend.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"

void store_fifo_push(struct store_fifo *q, struct store_fifo_node *n)
{
    n->next = NULL;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
}

bool store_fifo_run(struct store_fifo *q, void (*run)(void *ctx, struct store_fifo_node *n),
                    void *ctx)
{
    struct store_fifo_node *stop = q->tail;
    while (q->head) {
        struct store_fifo_node *n = q->head;
        q->head = n->next;
        if (!q->head)
            q->tail = NULL;
        bool last = n == stop; /* run frees n */
        run(ctx, n);
        if (last)
            break;
    }
    return q->head != NULL;
}

struct store_channel *store_channel_get(struct hashmap *channels, const char *name, bool *fresh)
{
    size_t len = strlen(name);
    struct store_channel *ch = hashmap_get(channels, name, len);
    *fresh = ch == NULL;
    if (ch)
        return ch;
    if (len > SIZE_MAX - sizeof(*ch) - 1 || !(ch = calloc(1, sizeof(*ch) + len + 1)))
        return NULL;
    memcpy(ch->name, name, len + 1);
    ch->name_len = len;
    if (hashmap_put(channels, ch->name, len, ch, NULL) != 0) {
        free(ch);
        return NULL;
    }
    return ch;
}

void store_channel_free(struct hashmap *channels, struct store_channel *ch)
{
    hashmap_remove(channels, ch->name, ch->name_len);
    free(ch);
}

struct store_sub *store_sub_add(struct store *s, struct store_channel *ch, store_message_fn fn,
                                store_ready_fn ready, void *arg)
{
    struct store_sub *sub = calloc(1, sizeof(*sub));
    if (!sub)
        return NULL;
    *sub = (struct store_sub){
        .store = s, .ch = ch, .prev = ch->tail, .fn = fn, .ready = ready, .arg = arg};
    if (ch->tail)
        ch->tail->next = sub;
    else
        ch->head = sub;
    ch->tail = sub;
    ch->nsubs++;
    return sub;
}

struct store_channel *store_sub_unlink(struct store_sub *sub)
{
    struct store_channel *ch = sub->ch;
    if (sub->dead)
        return NULL;
    sub->dead = true;
    sub->ch = NULL;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        ch->head = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    else
        ch->tail = sub->prev;
    ch->nsubs--;
    if (sub->pending == 0)
        free(sub);
    return ch;
}

void store_sub_hold(struct store_sub *sub)
{
    sub->pending++;
}

void store_sub_release(struct store_sub *sub)
{
    if (--sub->pending == 0 && sub->dead)
        free(sub);
}

void store_channels_free(struct hashmap *channels)
{
    struct hashmap_iter it;
    void *item;
    hashmap_iter_init(&it);
    while (hashmap_next(channels, &it, NULL, NULL, &item)) {
        struct store_channel *ch = item;
        for (struct store_sub *sub = ch->head, *next; sub; sub = next) {
            next = sub->next;
            free(sub);
        }
        free(ch);
    }
    hashmap_free(channels);
}

/* store_unsubscribe (store.h) lives here, beside the subscription it reads its backend from, so
 * that store.c needs nothing of the backends' shared internals. */
void store_unsubscribe(struct store_sub *sub)
{
    if (sub)
        sub->store->ops->unsubscribe(sub);
}
