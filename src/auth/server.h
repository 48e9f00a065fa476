/*
 * server: the authorization server role (`mcpd auth`): one HTTP listener with the reference
 * server's routes
 * (/health, RFC 8414 and RFC 9728 metadata, /register, /authorize, /token, /revoke, /introspect
 * and the mock upstream IdP), their CORS rules and rate limits, in front of clients.c (client
 * records) and grants.c (codes and tokens). It owns its HTTP server and grants; the store and
 * the logger are lent by main. Knows nothing of MCP.
 */
#ifndef MCPD_AUTH_SERVER_H
#define MCPD_AUTH_SERVER_H

#include <stddef.h>
#include <uv.h>

struct config;
struct store;
struct logger;
struct auth_server;

/* NULL with a message in err when the configuration cannot be served (for instance an
 * AUTH_SERVER_URL that is not https on a non-loopback host: RFC 8414 §2). cfg must outlive the
 * server. */
struct auth_server *auth_server_new(uv_loop_t *loop, const struct config *cfg, struct store *store,
                                    struct logger *log, char *err, size_t err_size);
/* Bind cfg->host:cfg->auth_port. 0, or a negative libuv error. */
int auth_server_listen(struct auth_server *s);
int auth_server_port(const struct auth_server *s);
/* Stop accepting, let in-flight requests finish within the grace period, free the server, then
 * call done. */
void auth_server_shutdown(struct auth_server *s, void (*done)(void *arg), void *arg);

#endif
