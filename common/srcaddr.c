/* srcaddr: client source addresses for backends and their throttling keys. */
#include "srcaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

/* 1 when s is a port: 1-5 digits. */
static int port_ok(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n >= 1 && n <= 5 && s[n] == '\0';
}

int srcaddr_from_peer(const char *peer, uint8_t out[SRCADDR_LEN])
{
    char ip[64];
    size_t n = strlen(peer);
    if (n == 0 || n >= sizeof ip)
        return -1;
    if (peer[0] == '[') {
        const char *end = strchr(peer, ']');
        if (!end || end - peer - 1 <= 0 || (size_t)(end - peer - 1) >= sizeof ip)
            return -1;
        if (end[1] != '\0' && (end[1] != ':' || !port_ok(end + 2)))
            return -1;
        memcpy(ip, peer + 1, (size_t)(end - peer - 1));
        ip[end - peer - 1] = '\0';
    } else {
        const char *colon = strrchr(peer, ':');
        if (!colon || !port_ok(colon + 1))
            return -1;
        memcpy(ip, peer, (size_t)(colon - peer));
        ip[colon - peer] = '\0';
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        memcpy(out, V4_MAPPED, sizeof V4_MAPPED);
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &a6) == 1) {
        memcpy(out, &a6, SRCADDR_LEN);
        return 0;
    }
    return -1;
}

void srcaddr_key(const uint8_t a[SRCADDR_LEN], char *out, size_t n)
{
    static const uint8_t zero[SRCADDR_LEN];
    if (memcmp(a, zero, SRCADDR_LEN) == 0) {
        snprintf(out, n, "unknown");
    } else if (memcmp(a, V4_MAPPED, sizeof V4_MAPPED) == 0) {
        snprintf(out, n, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
    } else {
        snprintf(out, n, "%x:%x:%x:%x::/64", (unsigned)(a[0] << 8 | a[1]), (unsigned)(a[2] << 8 | a[3]),
                 (unsigned)(a[4] << 8 | a[5]), (unsigned)(a[6] << 8 | a[7]));
    }
}
