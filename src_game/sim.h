/* sim: the pure co-op arena simulation of one match: no I/O, no clock reads, no
 * global state, a seeded RNG, so the same config and the same inputs give the same events.
 *
 * Time is counted in ticks: sim_now_ms() == ticks * tick_ms. The caller (the game daemon's
 * loop, or a test) applies the inputs it received with sim_move/sim_attack/sim_use_item
 * between ticks, at the current time, then calls sim_tick() once per tick_ms. Every change
 * is appended to an event buffer; the caller reads it with sim_events() (e.g. to build one
 * batched update per player) and empties it with sim_events_clear(), normally once per
 * tick. The buffer grows as needed up to SIM_MAX_EVENTS; past that, events are counted in
 * sim_events_dropped() and not stored, so a caller that never clears still has bounded
 * memory. Live monsters are capped by sim_config_t.max_monsters (allocated once, in
 * sim_new). A sim_t is not thread-safe; one match belongs to one thread. */
#ifndef CLUSTER_SIM_H
#define CLUSTER_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_PLAYERS 64u          /* sim_new refuses more (a match has 1-4 in practice) */
#define SIM_MAX_MONSTERS_LIMIT 65536u /* the largest max_monsters sim_new accepts */
#define SIM_MAX_EVENTS (1u << 20)     /* events held between two sim_events_clear() calls */

/* Results of an input. SIM_OK and SIM_CLAMPED were applied; every negative code is a
 * refusal that changed nothing but the player's refused_actions counter. */
enum {
    SIM_CLAMPED = 1,        /* moved, but not where asked: too fast or outside the arena */
    SIM_OK = 0,
    SIM_DEAD = -1,          /* the player is dead: dead players can't act */
    SIM_OVER = -2,          /* the match has ended (not counted: the results are final) */
    SIM_BAD_PLAYER = -3,    /* no such player index (not counted: there is nobody to count) */
    SIM_BAD_VALUE = -4,     /* a coordinate is NaN or infinite */
    SIM_OUT_OF_RANGE = -5,  /* the target is farther than attack_range */
    SIM_COOLDOWN = -6,      /* attacked again before attack_cooldown_ms had passed */
    SIM_NO_TARGET = -7,     /* no live monster has that id */
    SIM_NO_ITEM = -8,       /* none of that item left, or no such item */
};

typedef enum sim_outcome {
    SIM_RUNNING = 0,
    SIM_WIN,     /* every wave was cleared */
    SIM_LOSS,    /* every player is dead */
    SIM_TIMEOUT, /* time_limit_ms was reached first */
} sim_outcome_t;

/* Items a player can use. */
enum { SIM_ITEM_POTION = 1 };

/* Event kinds, with what each field of sim_event_t holds. Players are named by their index
 * (0..nplayers-1), monsters by their id (1, 2, ...: unique in the match, never reused). */
typedef enum sim_event_kind {
    SIM_EV_MONSTER_SPAWN = 1, /* id monster, other wave, x/y where, hp its hp */
    SIM_EV_MONSTER_MOVE,      /* id monster, other the player it chases, x/y new position,
                               * hp its hp; only for a monster that actually moved */
    SIM_EV_MONSTER_ATTACK,    /* id monster, other player, x/y monster, amount damage
                               * (0 if monster_damage is 0: then no PLAYER_DAMAGED) */
    SIM_EV_PLAYER_DAMAGED,    /* id player, other monster, x/y player, amount hp lost,
                               * hp left */
    SIM_EV_MONSTER_DAMAGED,   /* id monster, other player who hit it, x/y monster, amount
                               * hp lost, hp left */
    SIM_EV_MONSTER_DIED,      /* id monster, other the killer (a player), x/y monster */
    SIM_EV_PLAYER_DIED,       /* id player, other the monster that killed it, x/y player */
    SIM_EV_PLAYER_MOVED,      /* id player, x/y accepted position, amount 1 if clamped,
                               * hp its hp */
    SIM_EV_ITEM_USED,         /* id player, other item, amount hp healed, hp after */
    SIM_EV_WAVE_STARTED,      /* id wave (1-based), amount monsters in the wave */
    SIM_EV_WAVE_CLEARED,      /* id wave, amount score bonus given to each living player */
    SIM_EV_GAME_OVER,         /* amount the sim_outcome_t, id waves cleared; exactly once */
} sim_event_kind_t;

/* One change. A plain value with no padding, so events can be copied and compared bytewise. */
typedef struct sim_event {
    uint32_t kind; /* sim_event_kind_t */
    uint32_t id;
    uint32_t other;
    float x, y;
    int32_t amount;
    int32_t hp;
} sim_event_t;

typedef struct sim_config {
    uint32_t tick_ms;            /* 50 (20 Hz) */
    uint32_t time_limit_ms;      /* 180000: TIMEOUT when reached */
    uint32_t waves;              /* 5 */
    uint32_t wave_base_monsters; /* monsters per player in wave 1 (3) */
    uint32_t wave_growth;        /* more monsters per player in each later wave (2) */
    uint32_t wave_gap_ms;        /* pause before wave 1 and after each cleared wave (3000) */
    uint32_t spawn_per_tick;     /* a wave's monsters enter at most this many per tick (2) */
    uint32_t max_monsters;       /* live monsters at once (512); the rest of a wave waits */
    float arena_w, arena_h;      /* 100 x 100; positions are clamped to [0,w] x [0,h] */
    float player_speed;          /* units per second (8) */
    float speed_tolerance;       /* 1.5: see sim_move */
    float move_slack;            /* 0.05 units allowed on top of every move (rounding) */
    uint32_t move_window_ms;     /* 500: the most elapsed time one move can claim */
    float attack_range;          /* 3 */
    uint32_t attack_cooldown_ms; /* 500 */
    int32_t attack_damage;       /* 25 */
    int32_t player_hp;           /* 100 */
    uint32_t potions;            /* 3 per player */
    int32_t potion_heal;         /* 40, capped at player_hp */
    float monster_speed;         /* 4 units per second: half a player's, so kiting works */
    int32_t monster_hp;          /* 50 (two hits) */
    int32_t monster_damage;      /* 8 */
    float monster_range;         /* 1.5 */
    uint32_t monster_cooldown_ms;/* 1000 */
    uint32_t score_kill;         /* 100 to the killer */
    uint32_t score_wave;         /* 250 to each living player when a wave is cleared */
    uint64_t seed;               /* the only source of randomness (spawn positions) */
} sim_config_t;

/* A player, as snapshots and match records need it. */
typedef struct sim_player {
    float x, y;
    int32_t hp, max_hp;
    bool alive;
    uint32_t potions;
    uint32_t kills;
    uint32_t damage_dealt;     /* hp actually removed from monsters (no overkill) */
    uint32_t damage_taken;     /* hp actually lost */
    uint32_t deaths;           /* 0 or 1: there is no respawn */
    uint32_t score;
    uint32_t speed_violations; /* moves clamped for speed */
    uint32_t bounds_violations;/* moves clamped to the arena */
    uint32_t refused_actions;  /* inputs refused with a negative code, except OVER/BAD_PLAYER */
} sim_player_t;

/* A live monster. */
typedef struct sim_monster {
    uint32_t id;
    float x, y;
    int32_t hp, max_hp;
    uint32_t target; /* the player it chased on the last tick (UINT32_MAX: none yet) */
    uint32_t wave;
} sim_monster_t;

typedef struct sim sim_t;

/* Fills *c with the defaults noted above (seed 0: set your own). */
void sim_config_default(sim_config_t *c);

/* Returns 0 if c can run a match, else -1 (zero tick, non-finite or non-positive sizes and
 * speeds, a tolerance below 1, no waves, max_monsters outside 1..SIM_MAX_MONSTERS_LIMIT...). */
int sim_config_check(const sim_config_t *c) __attribute__((warn_unused_result));

/* Creates a match of nplayers (1..SIM_MAX_PLAYERS) at time 0, players 0..n-1 standing at
 * fixed spots around the arena's centre, the config copied. Returns NULL if the config fails
 * sim_config_check or nplayers is out of range. Free it with sim_free. */
sim_t *sim_new(const sim_config_t *c, uint32_t nplayers);

/* Frees s and all it holds (events included). NULL is fine. */
void sim_free(sim_t *s);

/* Moves a player toward (x, y), at the current time. The target is first clamped to the
 * arena (counted in bounds_violations). The move is then measured from the player's
 * reference point: where it stood at the end of the last earlier tick in which it moved (its
 * spawn at first). It may cover speed * elapsed * speed_tolerance + move_slack, elapsed
 * being the time since that reference, at most move_window_ms (so standing still does not
 * bank a teleport). A longer move stops exactly at that distance along the direction asked
 * (counted in speed_violations). Every move within one tick is measured from the same
 * reference, so many small moves per tick gain nothing, while a late packet bunched with the
 * next one in the same tick still fits. Emits PLAYER_MOVED.
 * Returns SIM_OK, SIM_CLAMPED (moved, not where asked), or refuses: SIM_BAD_PLAYER,
 * SIM_OVER, SIM_BAD_VALUE (NaN/infinity), SIM_DEAD. */
int sim_move(sim_t *s, uint32_t player, float x, float y);

/* The player hits monster_id for attack_damage. Checked in this order: SIM_BAD_PLAYER,
 * SIM_OVER, SIM_DEAD, SIM_NO_TARGET (no live monster with that id), SIM_OUT_OF_RANGE
 * (centre to centre farther than attack_range), SIM_COOLDOWN (less than attack_cooldown_ms
 * since this player's last accepted attack). A refused attack does not start the cooldown.
 * On SIM_OK: MONSTER_DAMAGED; at 0 hp MONSTER_DIED, the monster leaves the list at once, the
 * player gets the kill and score_kill. */
int sim_attack(sim_t *s, uint32_t player, uint32_t monster_id);

/* The player uses one item. SIM_ITEM_POTION heals potion_heal, capped at max hp (a potion at
 * full hp is spent and heals 0), and emits ITEM_USED. Refusals: SIM_BAD_PLAYER, SIM_OVER,
 * SIM_DEAD, SIM_NO_ITEM (none left or an unknown item: the count never goes below 0). */
int sim_use_item(sim_t *s, uint32_t player, uint32_t item);

/* Advances one tick: time += tick_ms; the next wave starts when due (WAVE_STARTED) and its
 * monsters enter at the arena's edges (MONSTER_SPAWN), at most spawn_per_tick per tick and
 * max_monsters alive; each monster chases the nearest living player (ties: lowest index) and,
 * in monster_range and off cooldown, attacks it (MONSTER_ATTACK, PLAYER_DAMAGED,
 * PLAYER_DIED); a cleared wave gives score_wave to each living player (WAVE_CLEARED). Then
 * the end is decided, in this order: WIN (last wave cleared), LOSS (nobody alive), TIMEOUT
 * (now >= time_limit_ms), with one GAME_OVER. After the end, sim_tick does nothing. */
void sim_tick(sim_t *s);

/* The events since the last sim_events_clear, oldest first: sets *ev (valid until the next
 * call that changes s) and returns their number. */
size_t sim_events(const sim_t *s, const sim_event_t **ev);

/* Forgets the events (keeps the buffer's memory for the next tick). */
void sim_events_clear(sim_t *s);

/* Events not stored because SIM_MAX_EVENTS were already held (0 if the caller clears). */
uint64_t sim_events_dropped(const sim_t *s);

/* Accessors. Pointers returned stay valid until the next call that changes s. */
const sim_config_t *sim_config(const sim_t *s);
sim_outcome_t sim_outcome(const sim_t *s);
uint64_t sim_now_ms(const sim_t *s);
uint64_t sim_ticks(const sim_t *s);
uint32_t sim_wave(const sim_t *s);            /* current wave, 1-based; 0 before the first */
uint32_t sim_waves_cleared(const sim_t *s);
uint32_t sim_player_count(const sim_t *s);
const sim_player_t *sim_player(const sim_t *s, uint32_t i); /* NULL if i is out of range */
uint32_t sim_monster_count(const sim_t *s);   /* live monsters, ordered by id */
const sim_monster_t *sim_monster(const sim_t *s, uint32_t i); /* NULL if i is out of range */
const sim_monster_t *sim_monster_find(const sim_t *s, uint32_t id); /* NULL if not alive */
uint32_t sim_monsters_pending(const sim_t *s); /* of the current wave, yet to enter */

/* Names for logs and tests: a return code, an outcome, an event kind. Never NULL. */
const char *sim_strerror(int rc);
const char *sim_outcome_name(sim_outcome_t o);
const char *sim_event_name(uint32_t kind);

#endif
