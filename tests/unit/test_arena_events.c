/* test_arena_events: the arena's simulation events of one tick as a GameStateUpdate's entity
 * lists (src_game/arena_events.c): each kind lands in its list with its fields and the user id
 * of the player index; events naming a player index the match does not have are left out (an
 * unknown killer is user 0); the lists stop at ARENA_UPD_MAX; whether player states changed;
 * and the update packs and unpacks with protobuf-c (the bytes every player gets). */
#include "arena_events.h"
#include "check.h"

static const uint64_t USERS[3] = {1001, 1002, 1003};

static sim_event_t ev(uint32_t kind, uint32_t id, uint32_t other, float x, float y, int32_t amount, int32_t hp)
{
    return (sim_event_t){.kind = kind, .id = id, .other = other, .x = x, .y = y, .amount = amount, .hp = hp};
}

static void test_kinds(void)
{
    sim_event_t e[] = {
        ev(SIM_EV_MONSTER_SPAWN, 7, 1, 10.5f, 0.0f, 0, 50),
        ev(SIM_EV_MONSTER_MOVE, 7, 2, 11.0f, 1.0f, 0, 0),
        ev(SIM_EV_MONSTER_ATTACK, 7, 2, 11.0f, 1.0f, 8, 0),
        ev(SIM_EV_MONSTER_ATTACK, 7, 3, 11.0f, 1.0f, 8, 0), /* player index 3: not in this match */
        ev(SIM_EV_PLAYER_MOVED, 0, 0, 50.0f, 49.0f, 1, 0),
        ev(SIM_EV_PLAYER_MOVED, 9, 0, 1.0f, 1.0f, 0, 0),    /* not a player */
        ev(SIM_EV_MONSTER_DIED, 7, 1, 11.0f, 1.0f, 0, 0),
        ev(SIM_EV_MONSTER_DIED, 8, 99, 0.0f, 0.0f, 0, 0),   /* unknown killer */
    };
    GameStateUpdate u = GAME_STATE_UPDATE__INIT;
    int changed = arena_collect_events(USERS, 3, e, sizeof e / sizeof e[0], &u);
    CHECK_EQ(changed, 1); /* a monster died: scores */
    CHECK_EQ(u.n_spawns, 1);
    CHECK_EQ(u.spawns[0]->id, 7);
    CHECK(u.spawns[0]->pos->x == 10.5f && u.spawns[0]->pos->y == 0.0f);
    CHECK_EQ(u.spawns[0]->hp, 50);
    CHECK_EQ(u.n_moves, 1);
    CHECK(u.moves[0]->pos->x == 11.0f && u.moves[0]->pos->y == 1.0f);
    CHECK_EQ(u.n_attacks, 1);
    CHECK_EQ(u.attacks[0]->target_user_id, 1003);
    CHECK_EQ(u.attacks[0]->damage, 8);
    CHECK_EQ(u.n_player_moves, 1);
    CHECK_EQ(u.player_moves[0]->user_id, 1001);
    CHECK(u.player_moves[0]->pos->x == 50.0f && u.player_moves[0]->pos->y == 49.0f);
    CHECK_EQ(u.n_monster_deaths, 2);
    CHECK_EQ(u.monster_deaths[0]->killer_user_id, 1002);
    CHECK_EQ(u.monster_deaths[1]->killer_user_id, 0);
    CHECK_EQ(u.n_damaged, 0);
    /* the update packs and unpacks as every player gets it */
    u.tick = 12;
    u.wave = 1;
    uint8_t buf[4096];
    size_t len = game_state_update__pack(&u, buf);
    CHECK(len == game_state_update__get_packed_size(&u));
    GameStateUpdate *back = game_state_update__unpack(NULL, len, buf);
    CHECK(back != NULL);
    CHECK_EQ(back->n_spawns, 1);
    CHECK_EQ(back->n_monster_deaths, 2);
    CHECK_EQ(back->attacks[0]->target_user_id, 1003);
    CHECK(back->player_moves[0]->pos->y == 49.0f);
    game_state_update__free_unpacked(back, NULL);
    printf("kinds: spawn, move, attack, player move, deaths in their lists; index >= n left out\n");
}

static void test_changed(void)
{
    GameStateUpdate u = GAME_STATE_UPDATE__INIT;
    sim_event_t quiet[] = {ev(SIM_EV_MONSTER_MOVE, 1, 0, 2.0f, 2.0f, 0, 0),
                           ev(SIM_EV_PLAYER_MOVED, 1, 0, 3.0f, 3.0f, 0, 0),
                           ev(SIM_EV_MONSTER_SPAWN, 2, 1, 0.0f, 5.0f, 0, 50),
                           ev(SIM_EV_MONSTER_ATTACK, 1, 0, 2.0f, 2.0f, 0, 0)};
    CHECK_EQ(arena_collect_events(USERS, 3, quiet, 4, &u), 0);
    sim_event_t dmg = ev(SIM_EV_PLAYER_DAMAGED, 2, 1, 0, 0, 8, 0);
    CHECK_EQ(arena_collect_events(USERS, 3, &dmg, 1, &u), 1);
    CHECK_EQ(u.n_damaged, 1);
    CHECK_EQ(u.damaged[0]->user_id, 1003);
    CHECK_EQ(u.damaged[0]->hp, 0);
    CHECK(u.damaged[0]->died);
    /* each call starts its lists again */
    CHECK_EQ(u.n_moves, 0);
    CHECK_EQ(u.n_spawns, 0);
    static const uint32_t others[] = {SIM_EV_PLAYER_DIED, SIM_EV_ITEM_USED, SIM_EV_WAVE_STARTED,
                                      SIM_EV_WAVE_CLEARED, SIM_EV_GAME_OVER, SIM_EV_MONSTER_DAMAGED};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        sim_event_t e = ev(others[i], 0, 0, 0, 0, 0, 0);
        CHECK_EQ(arena_collect_events(USERS, 3, &e, 1, &u), 1);
        CHECK_EQ(u.n_damaged, 0);
    }
    printf("changed: moves, spawns, attacks leave player states alone; damage, deaths, items, waves, the end mark them\n");
}

static void test_caps(void)
{
    enum { N = ARENA_UPD_MAX * 2 };
    static sim_event_t e[N * 2];
    for (uint32_t i = 0; i < N; i++) {
        e[i] = ev(SIM_EV_MONSTER_SPAWN, i + 1, 1, (float)i, 0.0f, 0, 50);
        e[N + i] = ev(SIM_EV_MONSTER_MOVE, i + 1, 0, (float)i, 1.0f, 0, 0);
    }
    GameStateUpdate u = GAME_STATE_UPDATE__INIT;
    arena_collect_events(USERS, 3, e, N * 2, &u);
    CHECK_EQ(u.n_spawns, ARENA_UPD_MAX);
    CHECK_EQ(u.n_moves, ARENA_UPD_MAX);
    CHECK_EQ(u.spawns[ARENA_UPD_MAX - 1]->id, ARENA_UPD_MAX);
    /* each list entry points at its own position */
    CHECK(u.spawns[3]->pos != u.moves[3]->pos);
    CHECK(u.moves[ARENA_UPD_MAX - 1]->pos->x == (float)(ARENA_UPD_MAX - 1));
    printf("caps: %u spawns and %u moves kept of %d each\n", (unsigned)u.n_spawns, (unsigned)u.n_moves, N);
}

int main(void)
{
    test_kinds();
    test_changed();
    test_caps();
    printf("arena_events: all passed\n");
    return 0;
}
