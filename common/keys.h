/* keys: every Redis key name the C code builds, one builder each, so a name is written once
 * (docs/redis-keys.md lists them with their types; the Lua scripts, lobby.lua and gamed's, build
 * theirs from the same prefix). A builder returns the key by value: use `.s` within the
 * expression, or keep the rkey_t. Names longer than RKEY_MAX - 1 are cut (prefixes are short). */
#ifndef CLUSTER_KEYS_H
#define CLUSTER_KEYS_H

#include <stdint.h>

#define RKEY_MAX 256

typedef struct rkey {
    char s[RKEY_MAX];
} rkey_t;

/* registry (fixed names, DESIGN.md) */
rkey_t key_server_list(const char *prefix, const char *type);          /* Server:<Type> */
rkey_t key_server(const char *prefix, const char *type, uint32_t id);  /* Server:<Type>:<id> */
rkey_t key_server_seq(const char *prefix, const char *type);           /* Server:<Type>:seq */
/* A server id as Server:<Type> lists it and Server:<Type>:<id> ends: decimal, 1 to 2^32-1.
 * Returns 0 with *id set, or -1 (anything else, an empty string included). */
int server_id_parse(const char *text, uint32_t *id);
/* the cluster */
rkey_t key_epoch(const char *prefix);                                  /* cluster:epoch */
/* accounts and presence */
rkey_t key_user(const char *prefix, uint64_t uid);                     /* user:<uid> */
rkey_t key_username(const char *prefix, const char *lower);            /* username:<name> */
rkey_t key_token(const char *prefix, const char *hash16);              /* token:<hash16> */
rkey_t key_throttle_pair(const char *prefix, const char *source, const char *lower);
rkey_t key_throttle_source(const char *prefix, const char *source);
/* rooms and matches */
rkey_t key_room(const char *prefix, uint64_t room);                    /* room:<id> */
rkey_t key_match(const char *prefix, uint64_t match);                  /* match:<id> */
rkey_t key_match_seq(const char *prefix);                              /* match:seq */
rkey_t key_matches_ended(const char *prefix);                          /* matches:ended */
rkey_t key_game_matches(const char *prefix, uint32_t game);            /* game:<id>:matches */
rkey_t key_game_inbox(const char *prefix, uint32_t game);              /* game:<id>:inbox */
rkey_t key_game_moved(const char *prefix, uint32_t game);              /* game:<id>:moved */
rkey_t key_records_pending(const char *prefix);                        /* records:pending */
rkey_t key_records_unreadable(const char *prefix);                     /* records:unreadable */

#endif
