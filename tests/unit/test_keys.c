/* test_keys: the Redis key builders (common/keys.c): each gives its name under the prefix
 * (empty prefix too), and docs/redis-keys.md lists every one of them, so the page and the code
 * name the same keys; server_id_parse takes exactly the ids the registry writes. */
#include "check.h"
#include "keys.h"
#include "read_file.h"

typedef struct row {
    rkey_t key;
    const char *want;    /* with prefix "t1:" */
    const char *in_docs; /* how docs/redis-keys.md writes it */
} row_t;

int main(void)
{
    const char *p = "t1:";
    const row_t rows[] = {
        {key_server_list(p, "Game"), "t1:Server:Game", "`Server:Gateway`, `Server:Lobby`, `Server:Game`"},
        {key_server(p, "Lobby", 7), "t1:Server:Lobby:7", "`Server:<Type>:<id>`"},
        {key_server_seq(p, "Gateway"), "t1:Server:Gateway:seq", "`Server:<Type>:seq`"},
        {key_epoch(p), "t1:cluster:epoch", "`cluster:epoch`"},
        {key_user(p, 18446744073709551615ull), "t1:user:18446744073709551615", "`user:<uid>`"},
        {key_username(p, "ann"), "t1:username:ann", "`username:<lower username>`"},
        {key_token(p, "00ff"), "t1:token:00ff", "`token:<hash16>`"},
        {key_throttle_pair(p, "127.0.0.1", "ann"), "t1:loginthrottle:pair:127.0.0.1:ann",
         "`loginthrottle:pair:<source>:<lower username>`"},
        {key_throttle_source(p, "::1"), "t1:loginthrottle:src:::1", "`loginthrottle:src:<source>`"},
        {key_room(p, 12), "t1:room:12", "`room:<id>`"},
        {key_match(p, 1700000000000001ull), "t1:match:1700000000000001", "`match:<id>`"},
        {key_match_seq(p), "t1:match:seq", "`match:seq`"},
        {key_matches_ended(p), "t1:matches:ended", "`matches:ended`"},
        {key_game_matches(p, 3), "t1:game:3:matches", "`game:<gid>:matches`"},
        {key_game_inbox(p, 3), "t1:game:3:inbox", "`game:<gid>:inbox`"},
        {key_game_moved(p, 3), "t1:game:3:moved", "`game:<gid>:moved`"},
        {key_records_pending(p), "t1:records:pending", "`records:pending`"},
        {key_records_unreadable(p), "t1:records:unreadable", "`records:unreadable`"},
    };
    char *doc = read_file(REDIS_KEYS_MD);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECK_STR(rows[i].key.s, rows[i].want);
        if (!strstr(doc, rows[i].in_docs))
            fprintf(stderr, "docs/redis-keys.md does not list %s\n", rows[i].in_docs), exit(1);
    }
    free(doc);
    CHECK_STR(key_user("", 5).s, "user:5");
    /* a prefix too long for a key: cut, never overrun */
    char longp[400];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    rkey_t k = key_user(longp, 1);
    CHECK_EQ(strlen(k.s), RKEY_MAX - 1);
    /* server ids as the registry lists them: decimal 1 to 2^32-1, nothing else */
    uint32_t id = 0;
    CHECK_EQ(server_id_parse("7", &id), 0);
    CHECK_EQ(id, 7);
    CHECK_EQ(server_id_parse("4294967295", &id), 0);
    CHECK_EQ(id, 4294967295u);
    static const char *const bad[] = {"",   "0",  "4294967296", "99999999999999999999999",
                                      "-1", "+3", " 3",         "\t3", "\n3", "\t+3", "3 ", "3a",
                                      "a3", "0x10", ":"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        id = 99;
        CHECK_EQ(server_id_parse(bad[i], &id), -1);
        CHECK_EQ(id, 99);
    }
    printf("keys: %zu builders give their names and are listed in docs/redis-keys.md\n", sizeof rows / sizeof rows[0]);
    return 0;
}
