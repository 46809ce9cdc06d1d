/* util: address and URL parsing, clocks. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mono_ns(void) { return uv_hrtime(); }

static int parse_port(const char *s, int *port)
{
    if (*s < '0' || *s > '9')
        return -1; /* no sign, no space, not empty */
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int addr_split(const char *text, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = text;
    size_t hl;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return -1;
        h = text + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - text);
        if (memchr(text, ':', hl))
            return -1; /* bare IPv6 without brackets */
    }
    if (hl >= hostlen)
        return -1;
    if (hl == 0)
        snprintf(host, hostlen, "0.0.0.0");
    else {
        memcpy(host, h, hl);
        host[hl] = '\0';
    }
    return parse_port(colon + 1, port);
}

int addr_make(const char *host, int port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0)
        return 0;
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)out);
}

void addr_host(const struct sockaddr *sa, char *out, size_t n)
{
    if (sa->sa_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)sa, out, n);
    else
        uv_ip4_name((const struct sockaddr_in *)sa, out, n);
}

int addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

void addr_first_ipv4(char *out, size_t n)
{
    uv_interface_address_t *ifs;
    int count;
    snprintf(out, n, "127.0.0.1");
    if (uv_interface_addresses(&ifs, &count) != 0)
        return;
    for (int i = 0; i < count; i++) {
        if (!ifs[i].is_internal && ifs[i].address.address4.sin_family == AF_INET) {
            uv_ip4_name(&ifs[i].address.address4, out, n);
            break;
        }
    }
    uv_free_interface_addresses(ifs, count);
}

int redis_url_parse(const char *url, redis_url_t *out)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    const char *p = url;
    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    else if (strstr(p, "://"))
        return -1;
    /* credentials end at the last '@' before the path ('/' in a password must be %2F) */
    const char *path = strchr(p, '/');
    const char *at = NULL;
    for (const char *q = p; *q && (!path || q < path); q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *cred = p;
        const char *colon = memchr(cred, ':', (size_t)(at - cred));
        const char *pw = colon ? colon + 1 : cred; /* redis://:pw@ or redis://user:pw@ */
        size_t pl = (size_t)(at - pw);
        if (pl >= sizeof out->password)
            return -1;
        size_t ul = colon ? (size_t)(colon - cred) : 0;
        if (ul >= sizeof out->user)
            return -1;
        memcpy(out->user, cred, ul);
        if (strcmp(out->user, "default") == 0)
            out->user[0] = '\0';
        memcpy(out->password, pw, pl);
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    char hostport[300];
    if (hl == 0 || hl >= sizeof hostport)
        return -1;
    memcpy(hostport, p, hl);
    hostport[hl] = '\0';
    if (hostport[0] == ':' || strncmp(hostport, "[]", 2) == 0)
        return -1; /* an empty host is not "any address" here */
    if (strchr(hostport, ':') && hostport[0] != '[' && strchr(hostport, ':') != strrchr(hostport, ':'))
        return -1;
    if (strrchr(hostport, ':') && (hostport[0] != '[' || strstr(hostport, "]:"))) {
        if (addr_split(hostport, out->host, sizeof out->host, &out->port) < 0 || out->port == 0)
            return -1;
    } else {
        const char *h = hostport;
        size_t l = strlen(h);
        if (h[0] == '[') {
            if (h[l - 1] != ']')
                return -1;
            h++;
            l -= 2;
        }
        if (l == 0 || l >= sizeof out->host)
            return -1;
        memcpy(out->host, h, l);
        out->host[l] = '\0';
    }
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end || db < 0 || db > 1000)
            return -1;
        out->db = (int)db;
    }
    return 0;
}
