/* test_srcaddr: parsing the gateway's peer names into source addresses, and their
 * throttling keys (IPv4 whole, IPv6 by /64). */
#include <string.h>

#include "check.h"
#include "srcaddr.h"

static const char *key_of(const char *peer)
{
    static char k[SRCADDR_KEY_MAX];
    uint8_t a[SRCADDR_LEN];
    memset(a, 0xEE, sizeof a);
    if (srcaddr_from_peer(peer, a) != 0)
        return "(refused)";
    srcaddr_key(a, k, sizeof k);
    return k;
}

int main(void)
{
    uint8_t a[SRCADDR_LEN];
    CHECK_EQ(srcaddr_from_peer("127.0.0.2:5555", a), 0);
    static const uint8_t want[SRCADDR_LEN] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 127, 0, 0, 2};
    CHECK_MEM(a, want, SRCADDR_LEN);
    CHECK_STR(key_of("127.0.0.2:5555"), "127.0.0.2");
    CHECK_STR(key_of("10.1.2.3:1"), "10.1.2.3");
    /* IPv6 as conn_peer_name writes it (no brackets) and bracketed: the /64 */
    CHECK_STR(key_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd:443"), "2001:db8:1:2::/64");
    CHECK_STR(key_of("[2001:db8:1:2::7]:443"), "2001:db8:1:2::/64");
    CHECK_STR(key_of("[2001:db8:1:3::7]"), "2001:db8:1:3::/64");
    CHECK_STR(key_of("::1:40000"), "0:0:0:0::/64");
    /* an IPv4-mapped IPv6 peer counts as its IPv4 address */
    CHECK_STR(key_of("::ffff:192.0.2.9:80"), "192.0.2.9");
    /* no address at all (a REQUEST without one) */
    uint8_t zero[SRCADDR_LEN] = {0};
    char k[SRCADDR_KEY_MAX];
    srcaddr_key(zero, k, sizeof k);
    CHECK_STR(k, "unknown");
    /* the longest key fits */
    memset(a, 0xFF, sizeof a);
    srcaddr_key(a, k, sizeof k);
    CHECK_STR(k, "ffff:ffff:ffff:ffff::/64");
    /* bad input: refused, nothing else */
    static const char *bad[] = {"", "?", "127.0.0.1", "300.0.0.1:1", "[::1", "[]:1", "[::1]x",
                                "hostname:80", "1.2.3.4.5:6", "[1.2.3.4]:5:6",
                                "0123456789012345678901234567890123456789012345678901234567890123:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STR(key_of(bad[i]), "(refused)");
    printf("test_srcaddr: ok\n");
    return 0;
}
