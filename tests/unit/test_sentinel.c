/* test_sentinel: the REDIS_SENTINELS list and Sentinel's +switch-master messages. */
#include <string.h>

#include "check.h"
#include "sentinel.h"

int main(void)
{
    sentinel_addr_t s[SENTINEL_MAX];
    CHECK_EQ(sentinel_list_parse("127.0.0.1:26379", s, SENTINEL_MAX), 1);
    CHECK_STR(s[0].host, "127.0.0.1");
    CHECK_EQ(s[0].port, 26379);
    CHECK_EQ(sentinel_list_parse("sentinel1:26379, sentinel2:26380 ,[::1]:26381", s, SENTINEL_MAX), 3);
    CHECK_STR(s[0].host, "sentinel1");
    CHECK_STR(s[1].host, "sentinel2");
    CHECK_EQ(s[1].port, 26380);
    CHECK_STR(s[2].host, "::1");
    CHECK_EQ(s[2].port, 26381);
    /* bad lists: refused */
    static const char *bad[] = {"", ",", "a:1,", ",a:1", "a:1,,b:2", "host", "host:", ":26379",
                                "a:0", "a:70000", "a:1x", "::1:26379", "[::1]26379"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sentinel_list_parse(bad[i], s, SENTINEL_MAX) != -1)
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
        CHECK_EQ(sentinel_list_parse(bad[i], s, SENTINEL_MAX), -1);
    }
    /* more than max */
    CHECK_EQ(sentinel_list_parse("a:1,b:2,c:3", s, 2), -1);

    char host[64];
    int port = 0;
    CHECK_EQ(sentinel_switch_parse("cluster 127.0.0.1 6379 127.0.0.1 6380", "cluster", host, sizeof host, &port), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ(port, 6380);
    CHECK_EQ(sentinel_switch_parse("other 127.0.0.1 6379 10.0.0.2 6380", "cluster", host, sizeof host, &port), 1);
    CHECK_EQ(sentinel_switch_parse("cluster 127.0.0.1 6379 10.0.0.2", "cluster", host, sizeof host, &port), -1);
    CHECK_EQ(sentinel_switch_parse("cluster 127.0.0.1 6379 10.0.0.2 0", "cluster", host, sizeof host, &port), -1);
    CHECK_EQ(sentinel_switch_parse("cluster a 1 b 2 extra", "cluster", host, sizeof host, &port), -1);
    CHECK_EQ(sentinel_switch_parse("", "cluster", host, sizeof host, &port), -1);
    char tiny[4];
    CHECK_EQ(sentinel_switch_parse("cluster a 1 10.0.0.2 2", "cluster", tiny, sizeof tiny, &port), -1);
    printf("test_sentinel: ok\n");
    return 0;
}
