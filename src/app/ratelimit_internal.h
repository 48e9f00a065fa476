/*
 * ratelimit internals, exposed for the unit tests: how a client address becomes the client part
 * of a counter key (IPv6 grouped by /56, IPv4 by address), and the check with the address and
 * the clock given explicitly, so grouping and window arithmetic are tested without a socket per
 * address or waiting on the wall clock. Application code uses ratelimit.h only.
 */
#ifndef MCPD_APP_RATELIMIT_INTERNAL_H
#define MCPD_APP_RATELIMIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "app/ratelimit.h"
#include "lib/netaddr.h"

#define RATELIMIT_CLIENT_MAX NETADDR_CLIENT_MAX

/* The client part of the key: IPv4 (also IPv4-mapped IPv6) as the address, IPv6 as its /56
 * prefix ("2001:db8:0:ab00::/56"), an empty address as "unknown", anything else unparsable as
 * given (truncated to fit): netaddr_client_id, the grouping the HTTP layer
 * also uses for its connections-per-client bound. */
void ratelimit_client_id(const char *addr, char *out, size_t out_size);

/* ratelimit_check for the client at addr, with now_ms the wall clock in ms since the epoch. */
void ratelimit_check_at(struct store *s, const struct ratelimit *rl, const char *addr,
                        uint64_t now_ms, ratelimit_fn fn, void *arg);

#endif
