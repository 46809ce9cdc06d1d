/* sentinel: Redis Sentinel settings shared by the daemons (rconn.c asks asynchronously) and
 * clusterctl (asks synchronously): the REDIS_SENTINELS list and the parsing of Sentinel's
 * answers. */
#ifndef CLUSTER_SENTINEL_H
#define CLUSTER_SENTINEL_H

#include <stddef.h>

#define SENTINEL_MAX 8

typedef struct sentinel_addr {
    char host[256];
    int port;
} sentinel_addr_t;

/* Parses "host:port[,host:port...]" (IPv6 as [addr]:port; spaces around commas allowed; at
 * most SENTINEL_MAX). Returns the number of entries (>= 1), or -1 when the list is empty or an
 * entry is malformed. */
int sentinel_list_parse(const char *list, sentinel_addr_t *out, int max)
    __attribute__((warn_unused_result));

/* Parses the payload of a "+switch-master" message, "<name> <old ip> <old port> <new ip>
 * <new port>". Returns 0 and the new address when the message is about `name`, 1 when it is
 * about another master, -1 when it is malformed. */
int sentinel_switch_parse(const char *msg, const char *name, char *host, size_t hostlen, int *port)
    __attribute__((warn_unused_result));

#endif
