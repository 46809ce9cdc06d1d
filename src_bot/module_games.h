/* module_games: how the bot plays the shipped example game modules (modules/arena_lua.lua,
 * modules/tag.lua) over MATCH_DATA: it reads their broadcasts (the op layouts documented at
 * the top of each module and in docs/modules.md), keeps what it needs of the match, and picks
 * its next MATCH_DATA_SEND. Pure: no I/O, no clock reads (times are passed in). A mode
 * without a player here is played passively (the bot sends nothing and waits for GAME_OVER),
 * so a studio can still load-test the plumbing of its own module. */
#ifndef CLUSTER_BOT_MODULE_GAMES_H
#define CLUSTER_BOT_MODULE_GAMES_H

#include <stddef.h>
#include <stdint.h>

/* Something on the field the bot keeps the position of: a monster, another player. */
typedef struct mg_spot {
    uint64_t id; /* a monster's id, a player's user id */
    float x, y;
} mg_spot_t;

typedef struct mg_spots {
    mg_spot_t *v;
    uint32_t n, cap;
} mg_spots_t;

/* The spots of one kind, by id (a zeroed mg_spots_t is empty; mg_spots_free frees). find:
 * the spot of id, or NULL. set: its position, the spot added when new. del: removed (the
 * last spot takes its place). nearest: the spot nearest (x, y), NULL when there is none,
 * with *dist its distance; among equals the first found, or with ties_by_id the least id. */
mg_spot_t *mg_spots_find(mg_spots_t *s, uint64_t id);
void mg_spots_set(mg_spots_t *s, uint64_t id, float x, float y);
void mg_spots_del(mg_spots_t *s, uint64_t id);
const mg_spot_t *mg_spots_nearest(const mg_spots_t *s, float x, float y, int ties_by_id,
                                  double *dist);
void mg_spots_free(mg_spots_t *s);

/* What one bot knows of its match. A plain value; mg_reset starts a match, mg_free frees. */
typedef struct mg {
    uint64_t self;
    /* rules, from the module's RULES op (defaults until it comes) */
    float speed, it_speed, range, field_w, field_h;
    uint32_t cooldown_ms, freeze_ms;
    int have_rules;
    /* self */
    float x, y;
    int have_pos, alive;
    int32_t hp;
    uint32_t potions, score;
    uint64_t next_attack_ns, it_since_ns;
    /* arena_lua: live monsters; tag: the other players and who is it */
    mg_spots_t mons;
    mg_spots_t peers;
    uint64_t it;
} mg_t;

/* What one MATCH_DATA told the bot about itself. */
typedef struct mg_news {
    int moved;       /* a record of its own accepted move (the echo of its MOVE) */
    int clamped;     /* ... and the module clamped it */
    int refused;     /* a REFUSED of one of its ops: refused_op, refused_code */
    uint32_t refused_op;
    int32_t refused_code;
    int died, killed; /* it died; it killed a monster */
    int tagged;       /* tag: it became "it" */
    int tagged_by_player; /* ... touched by another player (not the draw at the start) */
} mg_news_t;

/* An op to send. */
typedef struct mg_action {
    uint32_t op;
    uint8_t data[16];
    size_t len;
    int is_move;
} mg_action_t;

typedef struct mg_game mg_game_t;

/* The player of a mode, or NULL (played passively). */
const mg_game_t *mg_game_find(const char *mode);

/* Starts a match for user `self`: forgets the last one, keeps the memory. */
void mg_reset(mg_t *g, uint64_t self);
void mg_free(mg_t *g);

/* Takes one MATCH_DATA (op, data) of the module at time now_ns. Returns 0, or -1 when the
 * payload does not fit the op's documented layout (or the op is unknown). *news says what
 * concerned the bot itself. */
int mg_on_data(const mg_game_t *game, mg_t *g, uint32_t op, const uint8_t *data, size_t len,
               uint64_t now_ns, mg_news_t *news) __attribute__((warn_unused_result));

/* The bot's next op at now_ns, stepping at most speed x interval_ns (the module accepts up
 * to 1.5x that): returns 1 with *out set, or 0 when there is nothing worth sending. */
int mg_next(const mg_game_t *game, mg_t *g, uint64_t now_ns, uint64_t interval_ns,
            mg_action_t *out);

/* Refusal codes of the examples that an honest bot meets in a healthy match (a monster that
 * moved or died since the last update, a cooldown seen late, a move after its death). */
int mg_refusal_expected(int32_t code);

#endif
