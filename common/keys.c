/* keys: the Redis key builders (see keys.h). */
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define KEY(...)                                 \
    do {                                         \
        rkey_t k;                                \
        snprintf(k.s, sizeof k.s, __VA_ARGS__);  \
        return k;                                \
    } while (0)

rkey_t key_server_list(const char *prefix, const char *type) { KEY("%sServer:%s", prefix, type); }
rkey_t key_server(const char *prefix, const char *type, uint32_t id) { KEY("%sServer:%s:%u", prefix, type, id); }
rkey_t key_server_seq(const char *prefix, const char *type) { KEY("%sServer:%s:seq", prefix, type); }
rkey_t key_epoch(const char *prefix) { KEY("%scluster:epoch", prefix); }
rkey_t key_user(const char *prefix, uint64_t uid) { KEY("%suser:%llu", prefix, (unsigned long long)uid); }
rkey_t key_username(const char *prefix, const char *lower) { KEY("%susername:%s", prefix, lower); }
rkey_t key_token(const char *prefix, const char *hash16) { KEY("%stoken:%s", prefix, hash16); }
rkey_t key_throttle_pair(const char *prefix, const char *source, const char *lower)
{
    KEY("%sloginthrottle:pair:%s:%s", prefix, source, lower);
}
rkey_t key_throttle_source(const char *prefix, const char *source) { KEY("%sloginthrottle:src:%s", prefix, source); }
rkey_t key_room(const char *prefix, uint64_t room) { KEY("%sroom:%llu", prefix, (unsigned long long)room); }
rkey_t key_match(const char *prefix, uint64_t match) { KEY("%smatch:%llu", prefix, (unsigned long long)match); }
rkey_t key_match_seq(const char *prefix) { KEY("%smatch:seq", prefix); }
rkey_t key_matches_ended(const char *prefix) { KEY("%smatches:ended", prefix); }
rkey_t key_game_matches(const char *prefix, uint32_t game) { KEY("%sgame:%u:matches", prefix, game); }
rkey_t key_game_inbox(const char *prefix, uint32_t game) { KEY("%sgame:%u:inbox", prefix, game); }
rkey_t key_game_moved(const char *prefix, uint32_t game) { KEY("%sgame:%u:moved", prefix, game); }
rkey_t key_records_pending(const char *prefix) { KEY("%srecords:pending", prefix); }
rkey_t key_records_unreadable(const char *prefix) { KEY("%srecords:unreadable", prefix); }

int server_id_parse(const char *text, uint32_t *id)
{
    if (!*text)
        return -1;
    for (const char *c = text; *c; c++)
        if (*c < '0' || *c > '9')
            return -1; /* strtoul would take leading space and a sign */
    errno = 0;
    unsigned long v = strtoul(text, NULL, 10);
    if (errno || v == 0 || v > UINT32_MAX)
        return -1;
    *id = (uint32_t)v;
    return 0;
}
