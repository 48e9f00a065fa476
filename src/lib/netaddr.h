/*
 * netaddr: how a peer address becomes the identity of one client for per-client bounds (rate
 * limit keys, connections per client). IPv4 counts per address; IPv6 per /56, the block one
 * subscriber is typically delegated, so that a client cannot rotate through 2^72 addresses to
 * escape a bound. Pure text in, text out; knows nothing of sockets or stores.
 */
#ifndef MCPD_LIB_NETADDR_H
#define MCPD_LIB_NETADDR_H

#include <stddef.h>

/* Enough for the longest IPv6 text form plus "/56". */
#define NETADDR_CLIENT_MAX 64

/* IPv4 (also IPv4-mapped IPv6) as the address, IPv6 as its /56 prefix ("2001:db8:0:ab00::/56"),
 * an empty or NULL address as "unknown", anything else unparsable as given (truncated to fit). */
void netaddr_client_id(const char *addr, char *out, size_t out_size);

#endif
