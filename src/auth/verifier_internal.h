/*
 * verifier_internal: the verifier's state, shared by verifier.c (checks, cache, availability)
 * and verifier_respond.c (the HTTP answers of the resource-server role). Not for other modules:
 * they use verifier.h.
 */
#ifndef MCPD_AUTH_VERIFIER_INTERNAL_H
#define MCPD_AUTH_VERIFIER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth/verifier.h"

struct config;
struct logger;
struct hashmap;
struct http_client;

struct verifier {
    uv_loop_t *loop;
    const struct config *cfg; /* borrowed */
    struct logger *log;       /* borrowed */
    struct http_client *http;
    uv_timer_t recheck;      /* next metadata fetch while unavailable */
    bool available;          /* the AS metadata was fetched and no network failure since */
    bool credential_refused; /* the AS refused INTROSPECTION_SECRET on the last introspection */
    bool fetching;           /* a metadata request is in flight */
    bool closing;
    int fetch_failures;    /* consecutive failed metadata fetches in this outage */
    unsigned open_handles; /* while closing: the timer and the client not yet closed */
    void (*done)(void *);
    void *done_arg;
    uint64_t cache_hits;   /* checks answered from the cache (for /metrics) */
    uint64_t cache_misses; /* checks that needed an introspection */
    /* Derived from the configuration once. */
    char *metadata_url;   /* AUTH_SERVER_URL's RFC 8414 §3.1 metadata URL */
    char *introspect_url; /* {AUTH_SERVER_URL}/introspect */
    /* By enum verifier_resource: BASE_URI without a trailing slash, then + "/mcp" (the
     * canonical MCP server URI) and + "/sse"; and the RFC 9728 metadata URL of each. */
    char *resource[VERIFIER_RESOURCE_COUNT];
    char *prm_url[VERIFIER_RESOURCE_COUNT];
    char *secret_header; /* "Authorization: Bearer <introspection_secret>", or NULL */
    /* From the AS. */
    char *metadata;      /* raw metadata body as fetched, NUL-terminated; NULL before */
    size_t metadata_len; /* bytes */
    char *issuer;        /* AUTH_SERVER_URL: PRM authorization_servers, whatever the state */
    /* Decisions by hex SHA-256(token). */
    struct hashmap *cache;
    uint64_t seq_next;       /* insertion sequence number of the next entry */
    size_t cache_max;        /* entries */
    uint64_t last_sweep_ms;  /* loop time of the last full sweep of stale entries */
    struct hashmap *flights; /* introspections in flight, by the same key */
};

/* The path a resource adds to BASE_URI: "", "/mcp" or "/sse". */
const char *verifier_resource_path(enum verifier_resource resource);

#endif
