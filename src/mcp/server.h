/*
 * server: the MCP role (`mcpd mcp`): one HTTP listener with its route table (/mcp, /sse,
 * /message, /health, the OAuth metadata, the splash page; each route's methods, rate limiter and
 * authentication), CORS preflight, the Host/Origin policy in front of them, the dispatcher built
 * from the enabled feature packs, and graceful shutdown. It owns the MCP context; the store and
 * logger are lent by main.
 */
#ifndef MCPD_MCP_SERVER_H
#define MCPD_MCP_SERVER_H

#include <stddef.h>
#include <uv.h>

struct config;
struct store;
struct logger;
struct mcp_server;

/* NULL with a message in err when the configuration cannot be served. */
struct mcp_server *mcp_server_new(uv_loop_t *loop, const struct config *cfg, struct store *store,
                                  struct logger *log, char *err, size_t err_size);
/* Bind cfg->host:cfg->port. 0, or a negative libuv error. */
int mcp_server_listen(struct mcp_server *s);
int mcp_server_port(const struct mcp_server *s);
/* Stop accepting, end the sessions' standalone streams at once, let calls in flight finish
 * within SHUTDOWN_GRACE_MS and answer those still running then with a JSON-RPC error, then free
 * the server and call done. */
void mcp_server_shutdown(struct mcp_server *s, void (*done)(void *arg), void *arg);

#endif
