/* lu_play: the match tests' arena players (lobby_util.h): snapshots, MOVE / ATTACK / USE_ITEM
 * with their raw results, the nearest monster, an honest step toward a point, one bot step,
 * and a match of bots played until a condition holds. */
#include "lobby_util.h"

GameSnapshotResponse *p_snapshot(player_t *p)
{
    GameSnapshotRequest rq = GAME_SNAPSHOT_REQUEST__INIT;
    return OK_CALL(p, GAME_SNAPSHOT_REQUEST, &rq.base, GAME_SNAPSHOT_RESPONSE,
                   game_snapshot_response__descriptor);
}

const PlayerState *snap_player(const GameSnapshotResponse *s, uint64_t uid)
{
    for (size_t i = 0; i < s->n_players; i++)
        if (s->players[i]->user_id == uid)
            return s->players[i];
    return NULL;
}

const MonsterState *snap_monster(const GameSnapshotResponse *s, uint32_t id)
{
    for (size_t i = 0; i < s->n_monsters; i++)
        if (s->monsters[i]->id == id)
            return s->monsters[i];
    return NULL;
}

/* The answer r decoded as d (the caller frees it) if it is a response of type want, else NULL. */
static void *decode_answer(const player_t *p, res_t r, uint16_t want, const ProtobufCMessageDescriptor *d)
{
    if (r.rc != 0 || r.type != want)
        return NULL;
    void *m = protobuf_c_message_unpack(d, NULL, r.len, r.p);
    if (!m)
        DIE("%s: bad %s", p->name, d->name);
    return m;
}

res_t p_move_raw(player_t *p, float x, float y, int *clamped, float *ox, float *oy)
{
    PlayerPositionUpdate rq = PLAYER_POSITION_UPDATE__INIT;
    Vec2 v = VEC2__INIT;
    v.x = x;
    v.y = y;
    rq.pos = &v;
    res_t r = p_call(p, PACKET_TYPE__PLAYER_POSITION_UPDATE, &rq.base);
    PlayerPositionResponse *o =
        decode_answer(p, r, PACKET_TYPE__PLAYER_POSITION_RESPONSE, &player_position_response__descriptor);
    if (o) {
        if (!o->pos)
            DIE("%s: bad PLAYER_POSITION_RESPONSE", p->name);
        p->x = o->pos->x;
        p->y = o->pos->y;
        p->pos_ms = h_now_ms();
        if (clamped)
            *clamped = o->clamped;
        if (ox)
            *ox = o->pos->x;
        if (oy)
            *oy = o->pos->y;
        player_position_response__free_unpacked(o, NULL);
    }
    return r;
}

res_t p_attack_raw(player_t *p, uint32_t id, PlayerAttackResponse **out)
{
    PlayerAttackMonster rq = PLAYER_ATTACK_MONSTER__INIT;
    rq.monster_id = id;
    res_t r = p_call(p, PACKET_TYPE__PLAYER_ATTACK_MONSTER, &rq.base);
    if (out)
        *out = decode_answer(p, r, PACKET_TYPE__PLAYER_ATTACK_RESPONSE, &player_attack_response__descriptor);
    return r;
}

res_t p_item_raw(player_t *p, uint32_t item, PlayerUseItemResponse **out)
{
    PlayerUseItem rq = PLAYER_USE_ITEM__INIT;
    rq.item = item;
    res_t r = p_call(p, PACKET_TYPE__PLAYER_USE_ITEM, &rq.base);
    if (out)
        *out = decode_answer(p, r, PACKET_TYPE__PLAYER_USE_ITEM_RESPONSE,
                             &player_use_item_response__descriptor);
    return r;
}

lu_mon_t *p_nearest(player_t *p, float *dist)
{
    lu_mon_t *best = NULL;
    float bd = 0;
    for (int i = 0; i < p->nmons; i++) {
        float dx = p->mons[i].x - p->x, dy = p->mons[i].y - p->y;
        float d = sqrtf(dx * dx + dy * dy);
        if (!best || d < bd) {
            best = &p->mons[i];
            bd = d;
        }
    }
    if (dist)
        *dist = bd;
    return best;
}

float p_honest_step(const player_t *p)
{
    uint64_t el = h_now_ms() - p->pos_ms;
    if (el > 250)
        el = 250;
    return LU_SPEED * 0.75f * (float)el / 1000.0f;
}

int p_step_toward(player_t *p, float tx, float ty, float stop, int flee, float aw, float ah)
{
    uint64_t now = h_now_ms();
    if (now < p->next_move_ms || now - p->pos_ms < 50)
        return 0;
    float dx = tx - p->x, dy = ty - p->y;
    float d = sqrtf(dx * dx + dy * dy);
    if (d < 1e-3f)
        return 0;
    float step = p_honest_step(p);
    float nx, ny;
    if (flee) {
        nx = p->x - dx / d * step;
        ny = p->y - dy / d * step;
        /* slide along a wall rather than press into it */
        if (nx < 1)
            nx = 1;
        if (ny < 1)
            ny = 1;
        if (nx > aw - 1)
            nx = aw - 1;
        if (ny > ah - 1)
            ny = ah - 1;
    } else {
        float go = d - stop;
        if (go <= 0.05f)
            return 0;
        if (go > step)
            go = step;
        nx = p->x + dx / d * go;
        ny = p->y + dy / d * go;
    }
    int clamped = 0;
    res_t r = p_move_raw(p, nx, ny, &clamped, NULL, NULL);
    p->next_move_ms = now + 50;
    if (r.rc != 0)
        DIE("%s: move got no response (%s)", p->name, client_strerror(r.rc));
    if (r.type == PACKET_TYPE__PLAYER_POSITION_RESPONSE) {
        p->moves++;
        p->clamped += clamped;
    } else if (r.type == PACKET_TYPE__ERROR_RESPONSE && r.err < 64) {
        p->refused[r.err]++;
    }
    res_free(&r);
    return 1;
}

void p_bot_step(player_t *p)
{
    if (!p->start || p->over || p->aborted || !p->alive || !p->c)
        return;
    uint64_t now = h_now_ms();
    if (!p->potion_used && (p->hp < 100 || now - p->start_ms > 2000)) {
        PlayerUseItemResponse *o = NULL;
        res_t r = p_item_raw(p, 1, &o);
        if (r.rc != 0)
            DIE("%s: USE_ITEM got no response", p->name);
        if (o) {
            if (o->remaining != 2 || o->hp <= 0 || o->hp > 100)
                DIE("%s: first potion: remaining=%u hp=%d (expected 2 left, hp in 1..100)", p->name,
                    o->remaining, o->hp);
            p->hp = o->hp;
            p->potions = o->remaining;
            player_use_item_response__free_unpacked(o, NULL);
        } else if (r.type == PACKET_TYPE__ERROR_RESPONSE && r.err < 64) {
            p->refused[r.err]++;
        }
        p->potion_used = 1;
        res_free(&r);
        return;
    }
    float d;
    lu_mon_t *m = p_nearest(p, &d);
    if (!m)
        return;
    if (d <= LU_RANGE - 0.8f) {
        if (now < p->next_attack_ms)
            return;
        uint32_t id = m->id;
        PlayerAttackResponse *o = NULL;
        res_t r = p_attack_raw(p, id, &o);
        if (r.rc != 0)
            DIE("%s: ATTACK got no response", p->name);
        if (o) {
            p->attacks_ok++;
            if (o->monster_id != id || o->damage <= 0)
                DIE("%s: attack response monster=%u damage=%d", p->name, o->monster_id, o->damage);
            if (o->killed) {
                p->kills++;
                for (int k = 0; k < p->nmons; k++)
                    if (p->mons[k].id == id) {
                        p->mons[k] = p->mons[--p->nmons];
                        break;
                    }
            } else {
                lu_mon_t *mm = p_mon(p, id);
                if (mm)
                    mm->hp = o->monster_hp;
            }
            player_attack_response__free_unpacked(o, NULL);
            p->next_attack_ms = now + LU_COOLDOWN_MS + 120;
        } else if (r.type == PACKET_TYPE__ERROR_RESPONSE) {
            if (r.err < 64)
                p->refused[r.err]++;
            if (r.err == ERROR_CODE__NO_TARGET) /* died meanwhile: forget it */
                for (int k = 0; k < p->nmons; k++)
                    if (p->mons[k].id == id) {
                        p->mons[k] = p->mons[--p->nmons];
                        break;
                    }
            p->next_attack_ms = now + 60;
        }
        res_free(&r);
        return;
    }
    p_step_toward(p, m->x, m->y, 1.6f, 0, p->start->arena_w, p->start->arena_h);
}

void ps_play(player_t **ps, int n, int ms, p_cond_fn stop, const void *arg)
{
    uint64_t t0 = h_now_ms();
    while (h_now_ms() - t0 < (uint64_t)ms) {
        int all = stop != NULL;
        for (int i = 0; i < n; i++) {
            p_pump(ps[i], 1);
            p_bot_step(ps[i]);
            if (stop && !stop(ps[i], arg))
                all = 0;
        }
        if (all)
            return;
    }
}
