/* Client ID Metadata Documents: URL rules, document validation, cache and fetch (see cimd.h). */
#include "auth/cimd.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/clients.h"
#include "auth/uri.h"
#include "http/http_client.h"
#include "lib/crypto.h"
#include "lib/json.h"
#include "lib/log.h"
#include "store/store.h"

struct cimd {
    struct store *store;
    struct logger *log;
    struct http_client *http;
    struct cimd_config cfg;
    unsigned in_flight;
    void (*done)(void *);
    void *done_arg;
};

/* ---------------------------------------------------------------------- pure rules --- */

bool oauth_cimd_is_url(const char *client_id)
{
    return strncasecmp(client_id, "https:", 6) == 0 || strncasecmp(client_id, "http:", 5) == 0;
}

static bool has_dot_segment(const char *path, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (path[i] != '/' || i + 1 >= len || path[i + 1] != '.')
            continue;
        size_t k = i + 2 < len && path[i + 2] == '.' ? i + 3 : i + 2;
        if (k >= len || path[k] == '/')
            return true;
    }
    return false;
}

const char *oauth_cimd_url_problem(const char *url)
{
    struct oauth_uri u;
    if (strlen(url) > OAUTH_CIMD_URL_MAX)
        return "client_id URL is too long";
    if (!oauth_uri_parse(url, &u) || !u.has_authority || !u.host[0])
        return "client_id URL is not an absolute URL with a host";
    if (strcmp(u.scheme, "https") != 0)
        return "client_id URL must use https";
    if (u.has_userinfo || u.has_fragment)
        return "client_id URL must not contain user information or a fragment";
    if (u.path_len <= 1)
        return "client_id URL must have a path";
    if (has_dot_segment(url + u.path_off, u.path_len))
        return "client_id URL must not contain dot segments";
    return NULL;
}

/* The document's own claims, before the registration rules. */
static const char *document_problem(const char *url, const json_t *doc)
{
    const char *id = json_get_string(doc, "client_id");
    const char *method = json_get_string(doc, "token_endpoint_auth_method");
    if (!json_is_object(doc))
        return "the client metadata document is not a JSON object";
    if (!id)
        return "the client metadata document has no client_id";
    if (strcmp(id, url) != 0)
        return "the client_id in the client metadata document does not match its URL";
    if (!json_get_string(doc, "client_name"))
        return "the client metadata document has no client_name";
    if (json_object_get(doc, "client_secret") || json_object_get(doc, "client_secret_expires_at"))
        return "a client metadata document must not contain a client secret";
    if (method && strcmp(method, "none") != 0)
        return "token_endpoint_auth_method must be none for a metadata document client "
               "(private_key_jwt and secrets are not supported)";
    return NULL;
}

json_t *oauth_cimd_validate(const char *url, const char *body, size_t len, char *why,
                            size_t why_size)
{
    json_t *doc = json_parse(body, len, NULL, 0);
    const char *problem = document_problem(url, doc);
    if (problem) {
        snprintf(why, why_size, "%s", problem);
        json_decref(doc);
        return NULL;
    }
    json_t *req = json_deep_copy(doc);
    json_decref(doc);
    json_object_set_new(req, "token_endpoint_auth_method", json_string("none"));
    const char *error = NULL;
    char desc[200];
    json_t *rec = oauth_client_validate(req, &error, desc, sizeof desc);
    json_decref(req);
    if (!rec) {
        snprintf(why, why_size, "the client metadata document is invalid: %s", desc);
        return NULL;
    }
    json_object_set_new(rec, "client_id", json_string(url));
    return rec;
}

/* The value of a Cache-Control directive ("max-age=60" -> 60), -1 when absent. */
static long long directive(const char *cc, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = cc; (p = strcasestr(p, name)) != NULL; p += n) {
        bool starts = p == cc || p[-1] == ',' || p[-1] == ' ' || p[-1] == '\t';
        if (!starts)
            continue;
        if (p[n] != '=')
            return p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == ';' ? 0 : -1;
        const char *v = p + n + 1 + (p[n + 1] == '"');
        if (!isdigit((unsigned char)*v))
            return -1;
        long long x = 0;
        while (isdigit((unsigned char)*v) && x < 100000000)
            x = x * 10 + (*v++ - '0');
        return x;
    }
    return -1;
}

uint64_t oauth_cimd_cache_ttl(const char *cache_control, const struct cimd_config *cfg)
{
    const char *cc = cache_control ? cache_control : "";
    if (directive(cc, "no-store") >= 0 || directive(cc, "no-cache") >= 0)
        return 0;
    long long max_age = directive(cc, "max-age");
    uint64_t ttl = max_age >= 0 ? (uint64_t)max_age : cfg->cache_s;
    return ttl < cfg->cache_max_s ? ttl : cfg->cache_max_s;
}

/* ----------------------------------------------------------------------- loading --- */

struct cimd_op {
    struct cimd *c;
    cimd_cb cb;
    void *arg;
    char url[OAUTH_CIMD_URL_MAX + 1];
    char key[sizeof OAUTH_CIMD_PREFIX + 2 * CRYPTO_SHA256_SIZE];
    char cache_control[256];
};

static void op_finish(struct cimd_op *op, int status, json_t *rec, const char *refusal)
{
    struct oauth_client *client = NULL;
    if (rec && !(client = oauth_client_from_json(op->url, rec)))
        status = STORE_ERR;
    if (refusal)
        log_write(op->c->log, LOG_NOTICE, "client metadata document refused",
                  json_pack("{s:s,s:s}", "client_id", op->url, "reason", refusal));
    op->cb(op->arg, status, client, client ? NULL : refusal);
    free(op);
}

static void refusal_for(int status, const struct cimd_op *op, const char *error, char *out,
                        size_t size)
{
    switch (status) {
    case HTTP_CLIENT_ERR_TIMEOUT:
        snprintf(out, size, "fetching the client metadata document timed out after %llu ms",
                 (unsigned long long)op->c->cfg.timeout_ms);
        break;
    case HTTP_CLIENT_ERR_TOO_BIG:
        snprintf(out, size, "the client metadata document is larger than %zu bytes",
                 op->c->cfg.max_bytes);
        break;
    case HTTP_CLIENT_ERR_ADDRESS:
        snprintf(out, size, "the client_id URL's host resolves to a non-public address");
        break;
    default:
        if (status >= 0)
            snprintf(out, size, "fetching the client metadata document answered HTTP %d", status);
        else
            snprintf(out, size, "fetching the client metadata document failed: %.120s",
                     error ? error : "error");
    }
}

static void cache_record(struct cimd_op *op, const json_t *rec)
{
    uint64_t ttl = oauth_cimd_cache_ttl(op->cache_control, &op->c->cfg);
    size_t len = 0;
    char *text = ttl ? json_serialize(rec, &len) : NULL;
    if (text) /* fire and forget: a failed write only means the next use fetches again */
        store_set(op->c->store, op->key, text, len, ttl * 1000, 0, NULL, NULL);
    free(text);
}

static void on_fetched(void *arg, int status, const char *body, size_t len, const char *error)
{
    struct cimd_op *op = arg;
    char why[256];
    op->c->in_flight--;
    if (status != 200) {
        refusal_for(status, op, error, why, sizeof why);
        op_finish(op, 0, NULL, why);
        return;
    }
    json_t *rec = oauth_cimd_validate(op->url, body, len, why, sizeof why);
    if (!rec) {
        op_finish(op, 0, NULL, why);
        return;
    }
    cache_record(op, rec);
    op_finish(op, 0, rec, NULL);
}

static void fetch(struct cimd_op *op)
{
    struct cimd *c = op->c;
    static const char *const headers[] = {"Accept: application/json", NULL};
    struct http_client_req req = {.url = op->url,
                                  .headers = headers,
                                  .timeout_ms = c->cfg.timeout_ms,
                                  .max_response_bytes = c->cfg.max_bytes,
                                  .https_only = true,
                                  .public_only = !c->cfg.allow_private,
                                  .ca_file = c->cfg.ca_file,
                                  .cache_control = op->cache_control,
                                  .cache_control_size = sizeof op->cache_control};
    if (c->in_flight >= OAUTH_CIMD_MAX_IN_FLIGHT) {
        log_msgf(c->log, LOG_WARNING, "client metadata document fetches at their bound (%d)",
                 OAUTH_CIMD_MAX_IN_FLIGHT);
        op_finish(op, CIMD_BUSY, NULL, NULL);
        return;
    }
    if (http_client_request(c->http, &req, on_fetched, op) != 0) {
        op_finish(op, 0, NULL, "the client metadata document cannot be fetched");
        return;
    }
    c->in_flight++;
}

static void on_cached(void *arg, int status, const char *value, size_t len)
{
    struct cimd_op *op = arg;
    if (status != STORE_OK) {
        op_finish(op, status, NULL, NULL);
        return;
    }
    if (!value) {
        fetch(op);
        return;
    }
    json_t *rec = json_parse(value, len, NULL, 0);
    if (!rec) { /* not ours to trust: fetch it again */
        fetch(op);
        return;
    }
    op_finish(op, 0, rec, NULL);
}

void cimd_load(struct cimd *c, const char *url, cimd_cb cb, void *arg)
{
    const char *problem = oauth_cimd_url_problem(url);
    struct cimd_op *op = problem ? NULL : calloc(1, sizeof *op);
    if (!op) {
        if (problem)
            log_write(
                c->log, LOG_NOTICE, "client metadata document refused",
                json_pack("{s:s%,s:s}", "client_id", url, strnlen(url, 200), "reason", problem));
        cb(arg, problem ? 0 : STORE_ERR, NULL, problem);
        return;
    }
    op->c = c;
    op->cb = cb;
    op->arg = arg;
    snprintf(op->url, sizeof op->url, "%s", url);
    char hash[2 * CRYPTO_SHA256_SIZE + 1];
    crypto_sha256_hex(url, strlen(url), hash);
    snprintf(op->key, sizeof op->key, "%s%s", OAUTH_CIMD_PREFIX, hash);
    int rc = store_get(c->store, op->key, on_cached, op);
    if (rc != STORE_OK)
        op_finish(op, rc, NULL, NULL);
}

/* ---------------------------------------------------------------------- lifetime --- */

struct cimd *cimd_new(uv_loop_t *loop, struct store *store, struct logger *log,
                      const struct cimd_config *cfg)
{
    struct cimd *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->store = store;
    c->log = log;
    c->cfg = *cfg;
    if (!(c->http = http_client_new(loop, log))) {
        free(c);
        return NULL;
    }
    return c;
}

static void on_http_closed(void *arg)
{
    struct cimd *c = arg;
    void (*done)(void *) = c->done;
    void *done_arg = c->done_arg;
    free(c);
    if (done)
        done(done_arg);
}

void cimd_close(struct cimd *c, void (*done)(void *arg), void *arg)
{
    c->done = done;
    c->done_arg = arg;
    http_client_close(c->http, on_http_closed, c);
}
