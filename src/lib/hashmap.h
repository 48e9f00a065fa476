/*
 * hashmap: a string-keyed hash table with a keyed hash (SipHash-style keyed with CSPRNG bytes at
 * creation, so client-chosen keys cannot force collisions). Values are opaque pointers the
 * caller owns. Used by the memory store and by in-process registries. Not thread-safe.
 */
#ifndef MCPD_LIB_HASHMAP_H
#define MCPD_LIB_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>

struct hashmap;

struct hashmap *hashmap_new(void);
/* Frees the table and its key copies; values are the caller's. */
void hashmap_free(struct hashmap *m);
size_t hashmap_count(const struct hashmap *m);

void *hashmap_get(const struct hashmap *m, const char *key, size_t key_len);
/* Insert or replace. The key is copied. Returns the previous value (NULL if none) via *old
 * (old may be NULL). Returns 0, or -1 on allocation failure. */
int hashmap_put(struct hashmap *m, const char *key, size_t key_len, void *value, void **old);
/* Remove and return the value (NULL if absent). */
void *hashmap_remove(struct hashmap *m, const char *key, size_t key_len);

/* Iteration: start with it = 0; returns false at the end. Removing the entry just returned is
 * allowed during iteration; other modifications are not. */
struct hashmap_iter {
    size_t bucket;
    void *entry;
    void *next;
};
void hashmap_iter_init(struct hashmap_iter *it);
bool hashmap_next(const struct hashmap *m, struct hashmap_iter *it, const char **key,
                  size_t *key_len, void **value);

#endif
