/* srcaddr: a client's source address as the gateway passes it to backends (16 bytes, IPv6;
 * IPv4 mapped as ::ffff:a.b.c.d), and the key under which login throttling counts it. */
#ifndef CLUSTER_SRCADDR_H
#define CLUSTER_SRCADDR_H

#include <stddef.h>
#include <stdint.h>

#define SRCADDR_LEN 16
#define SRCADDR_KEY_MAX 48

/* Parses a peer name "ip:port" (as conn_peer_name writes it; IPv6 without brackets, or
 * "[ip]:port") or a bare "[ip]" into out. Returns 0, or -1 when it is not an address. */
int srcaddr_from_peer(const char *peer, uint8_t out[SRCADDR_LEN]) __attribute__((warn_unused_result));

/* The throttling key of an address: "a.b.c.d" for IPv4, the /64 for IPv6
 * ("2001:db8:1:2::/64": one subscriber usually holds a whole /64), "unknown" for all zeros
 * (a request that carried no address). out holds at least SRCADDR_KEY_MAX bytes. */
void srcaddr_key(const uint8_t a[SRCADDR_LEN], char *out, size_t n);

#endif
