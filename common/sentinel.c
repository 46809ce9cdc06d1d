/* sentinel: the REDIS_SENTINELS list and Sentinel's +switch-master messages. */
#include "sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int sentinel_list_parse(const char *list, sentinel_addr_t *out, int max)
{
    int n = 0;
    const char *p = list;
    for (;;) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        char item[300];
        if (len == 0 || len >= sizeof item || n >= max)
            return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        if (item[0] == ':' || addr_split(item, out[n].host, sizeof out[n].host, &out[n].port) < 0 || out[n].port <= 0)
            return -1;
        n++;
        if (!end)
            return n;
        p = end + 1;
    }
}

int sentinel_switch_parse(const char *msg, const char *name, char *host, size_t hostlen, int *port)
{
    char nm[256], oldh[256], newh[256];
    int oldp, newp;
    char extra;
    if (sscanf(msg, "%255s %255s %d %255s %d %c", nm, oldh, &oldp, newh, &newp, &extra) != 5)
        return -1;
    if (newp <= 0 || newp > 65535 || strlen(newh) >= hostlen)
        return -1;
    if (strcmp(nm, name) != 0)
        return 1;
    snprintf(host, hostlen, "%s", newh);
    *port = newp;
    return 0;
}
