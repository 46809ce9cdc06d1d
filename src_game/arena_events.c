/* arena_events: one tick's simulation events as the GameStateUpdate's entity lists (see
 * arena_events.h). */
#include "arena_events.h"

/* One update for a tick, the same for every player of this co-op match: the arrays the
 * update points to (reused every tick: one match is encoded at a time on the loop). */
static MonsterSpawn spawns[ARENA_UPD_MAX];
static MonsterMove moves[ARENA_UPD_MAX];
static MonsterAttack attacks[ARENA_UPD_MAX];
static PlayerDamaged damaged[ARENA_UPD_MAX];
static MonsterDied deaths[ARENA_UPD_MAX];
static PlayerMoved pmoves[ARENA_UPD_MAX];
static Vec2 vecs[ARENA_UPD_MAX * 3];
static void *p_spawns[ARENA_UPD_MAX], *p_moves[ARENA_UPD_MAX], *p_attacks[ARENA_UPD_MAX],
    *p_damaged[ARENA_UPD_MAX], *p_deaths[ARENA_UPD_MAX], *p_pmoves[ARENA_UPD_MAX];

/* The next Vec2 of this update, set to the event's position; NULL when all are taken. */
static Vec2 *event_pos(size_t *nv, const sim_event_t *e)
{
    if (*nv >= ARENA_UPD_MAX * 3)
        return NULL;
    Vec2 *v = &vecs[(*nv)++];
    vec2__init(v);
    v->x = e->x;
    v->y = e->y;
    return v;
}

int arena_collect_events(const uint64_t *users, uint32_t n, const sim_event_t *ev, size_t nev,
                         GameStateUpdate *u)
{
    size_t ns = 0, nm = 0, na = 0, nd = 0, nk = 0, np = 0, nv = 0;
    int players_changed = 0;
    Vec2 *pos;
    for (size_t i = 0; i < nev; i++) {
        const sim_event_t *e = &ev[i];
        switch (e->kind) {
        case SIM_EV_MONSTER_SPAWN:
            if (ns < ARENA_UPD_MAX && (pos = event_pos(&nv, e))) {
                monster_spawn__init(&spawns[ns]);
                spawns[ns].id = e->id;
                spawns[ns].pos = pos;
                spawns[ns].hp = e->hp;
                p_spawns[ns] = &spawns[ns];
                ns++;
            }
            break;
        case SIM_EV_MONSTER_MOVE:
            if (nm < ARENA_UPD_MAX && (pos = event_pos(&nv, e))) {
                monster_move__init(&moves[nm]);
                moves[nm].id = e->id;
                moves[nm].pos = pos;
                p_moves[nm] = &moves[nm];
                nm++;
            }
            break;
        case SIM_EV_MONSTER_ATTACK:
            if (na < ARENA_UPD_MAX && e->other < n) {
                monster_attack__init(&attacks[na]);
                attacks[na].id = e->id;
                attacks[na].target_user_id = users[e->other];
                attacks[na].damage = e->amount;
                p_attacks[na] = &attacks[na];
                na++;
            }
            break;
        case SIM_EV_PLAYER_DAMAGED:
        case SIM_EV_PLAYER_DIED:
            players_changed = 1;
            if (e->kind == SIM_EV_PLAYER_DAMAGED && nd < ARENA_UPD_MAX && e->id < n) {
                player_damaged__init(&damaged[nd]);
                damaged[nd].user_id = users[e->id];
                damaged[nd].damage = e->amount;
                damaged[nd].hp = e->hp;
                damaged[nd].died = e->hp <= 0;
                p_damaged[nd] = &damaged[nd];
                nd++;
            }
            break;
        case SIM_EV_MONSTER_DIED:
            players_changed = 1;
            if (nk < ARENA_UPD_MAX) {
                monster_died__init(&deaths[nk]);
                deaths[nk].id = e->id;
                deaths[nk].killer_user_id = e->other < n ? users[e->other] : 0;
                p_deaths[nk] = &deaths[nk];
                nk++;
            }
            break;
        case SIM_EV_PLAYER_MOVED:
            if (np < ARENA_UPD_MAX && e->id < n && (pos = event_pos(&nv, e))) {
                player_moved__init(&pmoves[np]);
                pmoves[np].user_id = users[e->id];
                pmoves[np].pos = pos;
                p_pmoves[np] = &pmoves[np];
                np++;
            }
            break;
        default:
            players_changed = 1; /* items, waves, the end: scores and hp may have changed */
            break;
        }
    }
    u->n_spawns = ns;
    u->spawns = (MonsterSpawn **)p_spawns;
    u->n_moves = nm;
    u->moves = (MonsterMove **)p_moves;
    u->n_attacks = na;
    u->attacks = (MonsterAttack **)p_attacks;
    u->n_damaged = nd;
    u->damaged = (PlayerDamaged **)p_damaged;
    u->n_monster_deaths = nk;
    u->monster_deaths = (MonsterDied **)p_deaths;
    u->n_player_moves = np;
    u->player_moves = (PlayerMoved **)p_pmoves;
    return players_changed;
}

