/*
 * cimd: Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, the
 * registration MCP 2026-07-28 prefers to DCR). A client_id that is an https URL names a JSON
 * document the client hosts; the authorization server fetches it, checks it names itself and
 * treats it as the client's registration: a public client (token_endpoint_auth_method none) with
 * the redirect URIs, grant types and name it lists.
 *
 * The URL is the client's choice, so fetching it is server-side request forgery waiting to
 * happen: only https, no redirects followed, every resolved address must be public (loopback,
 * private, link-local, ... are refused after resolution, http_client's public_only), a time and
 * a size limit, and a bound on fetches in flight. A validated document is cached in the store as
 * `auth:cimd:{sha256 of the URL}` (the record, as JSON) for the response's max-age, bounded by
 * cache_max_s, or cache_s without one; no-store, no-cache and max-age=0 are not cached. Failures
 * are never cached. Knows nothing of HTTP requests to the authorization server itself.
 */
#ifndef MCPD_AUTH_CIMD_H
#define MCPD_AUTH_CIMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct store;
struct logger;
struct oauth_client;

#define OAUTH_CIMD_PREFIX        "auth:cimd:" /* + hex SHA-256 of the URL */
#define OAUTH_CIMD_MAX_IN_FLIGHT 32           /* fetches at once; more get CIMD_BUSY */
#define OAUTH_CIMD_URL_MAX       512          /* = OAUTH_CLIENT_ID_MAX */

struct cimd_config {
    uint64_t timeout_ms;
    size_t max_bytes;
    uint64_t cache_s;     /* without a max-age */
    uint64_t cache_max_s; /* at most */
    const char *ca_file;  /* NULL: the system's */
    bool allow_private;   /* UNSAFE, tests: internal addresses may be fetched */
};

/* The client_id is a URL (http: or https:, any case): it is a metadata document client, never a
 * registered one, and is judged by cimd_load. */
bool oauth_cimd_is_url(const char *client_id);
/* NULL when url may name a metadata document (draft §3: https, a host, a path other than "/",
 * no userinfo, fragment or dot segments, at most OAUTH_CIMD_URL_MAX bytes), else why not. */
const char *oauth_cimd_url_problem(const char *url);
/* Validate a fetched document for url and return the client record it stands for (new
 * reference), or NULL with why written: not a JSON object, client_id not exactly url,
 * client_name or redirect_uris missing, a client secret in it, an authentication method other
 * than none, or anything /register would refuse. */
json_t *oauth_cimd_validate(const char *url, const char *body, size_t len, char *why,
                            size_t why_size);
/* Seconds to cache a document whose response said cache_control ("" when absent); 0: not. */
uint64_t oauth_cimd_cache_ttl(const char *cache_control, const struct cimd_config *cfg);

#define CIMD_BUSY 1 /* cimd_cb status: OAUTH_CIMD_MAX_IN_FLIGHT fetches already running */

/* status 0: client is the metadata client, or NULL with refusal (a description for an
 * invalid_client error, safe to log and to show); CIMD_BUSY; or a STORE_ERR_* from the cache.
 * The callback owns client (oauth_client_free). It may run before cimd_load returns. */
typedef void (*cimd_cb)(void *arg, int status, struct oauth_client *client, const char *refusal);

struct cimd;
/* New fetcher with its own HTTP client; store and log are borrowed, cfg is copied (ca_file must
 * outlive it). NULL when out of memory. */
struct cimd *cimd_new(uv_loop_t *loop, struct store *store, struct logger *log,
                      const struct cimd_config *cfg);
/* Load the metadata client named by url: from the cache, else fetched and validated. */
void cimd_load(struct cimd *c, const char *url, cimd_cb cb, void *arg);
/* Cancel fetches in flight (their callbacks run with a refusal), then call done from the loop
 * once every handle is closed; c is freed. */
void cimd_close(struct cimd *c, void (*done)(void *arg), void *arg);

#endif
