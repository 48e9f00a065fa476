/* Client identity of a peer address (see netaddr.h). */
#include "lib/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Bytes of an IPv6 address that name the client: a /56 (express-rate-limit, which the reference
 * server uses, groups the same way). */
#define NETADDR_IPV6_PREFIX_BYTES 7

void netaddr_client_id(const char *addr, char *out, size_t out_size)
{
    struct in6_addr a6;
    struct in_addr a4;
    char text[INET6_ADDRSTRLEN];

    if (!addr || !addr[0]) {
        snprintf(out, out_size, "unknown");
    } else if (inet_pton(AF_INET, addr, &a4) == 1) {
        snprintf(out, out_size, "%s", addr);
    } else if (inet_pton(AF_INET6, addr, &a6) != 1) {
        snprintf(out, out_size, "%s", addr);
    } else if (IN6_IS_ADDR_V4MAPPED(&a6)) {
        /* A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d: count them as IPv4. */
        memcpy(&a4, &a6.s6_addr[12], sizeof a4);
        inet_ntop(AF_INET, &a4, text, sizeof text);
        snprintf(out, out_size, "%s", text);
    } else {
        memset(&a6.s6_addr[NETADDR_IPV6_PREFIX_BYTES], 0,
               sizeof a6.s6_addr - NETADDR_IPV6_PREFIX_BYTES);
        inet_ntop(AF_INET6, &a6, text, sizeof text);
        snprintf(out, out_size, "%s/56", text);
    }
}
