/* util: addresses, URLs and clocks shared by every daemon. */
#ifndef CLUSTER_UTIL_H
#define CLUSTER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Wall clock, unix milliseconds (for heartbeats that other hosts read). */
uint64_t wall_ms(void);
/* Monotonic clock in nanoseconds (for latencies). */
uint64_t mono_ns(void);

/* Splits "host:port", "[v6]:port" or ":port" into host (empty -> "0.0.0.0") and port.
 * Returns 0, or -1 when the text is not of that form or the port is not 0-65535. */
int addr_split(const char *text, char *host, size_t hostlen, int *port)
    __attribute__((warn_unused_result));

/* Resolves a numeric host and port into a sockaddr (no DNS: callers resolve names with
 * uv_getaddrinfo). Returns 0 or a libuv error code. */
int addr_make(const char *host, int port, struct sockaddr_storage *out)
    __attribute__((warn_unused_result));

/* Formats a sockaddr as numeric host (no port). */
void addr_host(const struct sockaddr *sa, char *out, size_t n);
int addr_port(const struct sockaddr *sa);

/* The host's first non-internal IPv4 address, or "127.0.0.1" when it has none. */
void addr_first_ipv4(char *out, size_t n);

/* A parsed redis://[[user]:password@]host[:port][/db] URL (a bare "host:port" is accepted
 * too). An empty user (or "default") authenticates as Redis's default user (requirepass); any
 * other names an ACL user. */
typedef struct redis_url {
    char host[256];
    int port;
    char user[128];
    char password[256];
    int db;
} redis_url_t;

int redis_url_parse(const char *url, redis_url_t *out) __attribute__((warn_unused_result));

#endif
