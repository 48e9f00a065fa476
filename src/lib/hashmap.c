/*
 * hashmap: separate chaining over a power-of-two bucket array. Chaining (rather than open
 * addressing) is what makes "remove the entry just returned" safe during iteration: the
 * iterator holds the next entry of the chain, which unlinking the current one does not move.
 * The table only grows; it never shrinks on remove, so a removal never rehashes under an
 * iterator.
 */
#include "lib/hashmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define HM_INITIAL_CAP 16u

struct hm_entry {
    struct hm_entry *next; /* chain */
    uint64_t hash;         /* cached so growing never rehashes keys */
    void *value;           /* caller-owned */
    size_t key_len;        /* bytes, excluding the NUL we append */
    char key[];            /* key_len bytes + NUL, so keys can be handed out as C strings */
};

struct hashmap {
    struct hm_entry **buckets;
    size_t cap;   /* number of buckets, a power of two */
    size_t count; /* entries */
    uint64_t k0;  /* SipHash key, from the OS CSPRNG */
    uint64_t k1;
};

/* ---- SipHash-2-4 (Aumasson & Bernstein), 64-bit output ---- */

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = rotl64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = rotl64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = rotl64(v2, 32);                                                                       \
    } while (0)

static uint64_t siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    size_t full = len - (len % 8);

    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(p + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)p[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- table ---- */

static int random_key(uint64_t out[2])
{
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    out[0] = load_le64(raw);
    out[1] = load_le64(raw + 8);
    return 0;
}

struct hashmap *hashmap_new(void)
{
    uint64_t key[2];
    if (random_key(key) != 0)
        return NULL;
    struct hashmap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->buckets = calloc(HM_INITIAL_CAP, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    m->cap = HM_INITIAL_CAP;
    m->k0 = key[0];
    m->k1 = key[1];
    return m;
}

void hashmap_free(struct hashmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        struct hm_entry *e = m->buckets[i];
        while (e) {
            struct hm_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

size_t hashmap_count(const struct hashmap *m)
{
    return m ? m->count : 0;
}

static uint64_t hm_hash(const struct hashmap *m, const char *key, size_t key_len)
{
    /* A NULL key with length 0 is the empty key; never pass NULL on to the byte loop. */
    return siphash24(m->k0, m->k1, key_len ? key : "", key_len);
}

/* The link that points at the entry for key (or the chain's terminating NULL link). */
static struct hm_entry **hm_find(const struct hashmap *m, uint64_t hash, const char *key,
                                 size_t key_len)
{
    struct hm_entry **link = &m->buckets[hash & (m->cap - 1)];
    while (*link) {
        struct hm_entry *e = *link;
        if (e->hash == hash && e->key_len == key_len &&
            (key_len == 0 || memcmp(e->key, key, key_len) == 0))
            return link;
        link = &e->next;
    }
    return link;
}

void *hashmap_get(const struct hashmap *m, const char *key, size_t key_len)
{
    if (!m)
        return NULL;
    struct hm_entry *e = *hm_find(m, hm_hash(m, key, key_len), key, key_len);
    return e ? e->value : NULL;
}

static int hm_grow(struct hashmap *m)
{
    if (m->cap > SIZE_MAX / 2 / sizeof(*m->buckets))
        return -1;
    size_t cap = m->cap * 2;
    struct hm_entry **nb = calloc(cap, sizeof(*nb));
    if (!nb)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        struct hm_entry *e = m->buckets[i];
        while (e) {
            struct hm_entry *next = e->next;
            size_t j = e->hash & (cap - 1);
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->cap = cap;
    return 0;
}

int hashmap_put(struct hashmap *m, const char *key, size_t key_len, void *value, void **old)
{
    if (old)
        *old = NULL;
    if (!m || key_len > SIZE_MAX - sizeof(struct hm_entry) - 1)
        return -1;
    uint64_t hash = hm_hash(m, key, key_len);
    struct hm_entry *e = *hm_find(m, hash, key, key_len);
    if (e) {
        if (old)
            *old = e->value;
        e->value = value;
        return 0;
    }
    /* Load factor 0.75. A failed grow is not fatal: the table still works, only with longer
     * chains, so the insert goes ahead. */
    if (m->count + 1 > m->cap / 4 * 3)
        (void)hm_grow(m);
    e = malloc(sizeof(*e) + key_len + 1);
    if (!e)
        return -1;
    if (key_len)
        memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    e->key_len = key_len;
    e->hash = hash;
    e->value = value;
    size_t i = hash & (m->cap - 1);
    e->next = m->buckets[i];
    m->buckets[i] = e;
    m->count++;
    return 0;
}

void *hashmap_remove(struct hashmap *m, const char *key, size_t key_len)
{
    if (!m)
        return NULL;
    struct hm_entry **link = hm_find(m, hm_hash(m, key, key_len), key, key_len);
    struct hm_entry *e = *link;
    if (!e)
        return NULL;
    void *value = e->value;
    *link = e->next;
    free(e);
    m->count--;
    return value;
}

void hashmap_iter_init(struct hashmap_iter *it)
{
    it->bucket = 0;
    it->entry = NULL;
    it->next = NULL;
}

/* it->next is the entry after the one last returned, captured before the caller could remove
 * that one; it->bucket is the first bucket not yet visited. */
bool hashmap_next(const struct hashmap *m, struct hashmap_iter *it, const char **key,
                  size_t *key_len, void **value)
{
    struct hm_entry *e = it->next;
    while (!e && m && it->bucket < m->cap)
        e = m->buckets[it->bucket++];
    it->entry = e;
    if (!e) {
        it->next = NULL;
        return false;
    }
    it->next = e->next;
    if (key)
        *key = e->key;
    if (key_len)
        *key_len = e->key_len;
    if (value)
        *value = e->value;
    return true;
}
