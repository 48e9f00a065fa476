/*
 * mock_idp: the mock upstream identity provider the reference server ships: a
 * page where the user picks an id (kept in localStorage) and a callback that records the
 * approval of the pending authorization for that id and sends the browser back to the client
 * with the code. It stands in for a real IdP (Google, GitHub, ...) in development and tests; it
 * authenticates nobody. Unlike the reference server it never crashes on a bad state, never reflects
 * a value unescaped, sends the browser only to paths on this server, and issues no tokens itself
 * (they are minted at /token). The route handlers are declared in server_internal.h.
 */
#ifndef MCPD_AUTH_MOCK_IDP_H
#define MCPD_AUTH_MOCK_IDP_H

#include <stdbool.h>

#include "lib/buf.h"

#define MOCK_IDP_CALLBACK_PATH "/mock-upstream-idp/callback"
#define MOCK_IDP_ANONYMOUS     "anonymous-user" /* sub without a userId (the reference server's) */

/* The page's redirect_uri must be a path on this server ("/...", not "//host"), so the page can
 * only hand the code to our own callback. */
bool mock_idp_redirect_ok(const char *redirect_uri);
/* A user id becomes the token's sub and the MCP session owner: printable, bounded. */
bool mock_idp_user_id_ok(const char *user_id);
/* {redirect_uri}?code={code}&state={state}&iss={iss} into b, with '&' when redirect_uri already
 * has a query, values percent-encoded, state and iss (RFC 9207 §2) omitted when NULL. BUF_OK or
 * BUF_ERR_*. */
int mock_idp_location(struct buf *b, const char *redirect_uri, const char *code, const char *state,
                      const char *iss);

#endif
