/* room_view: lobby.lua's flat room replies decoded (see room_view.h). */
#include "room_view.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

uint64_t reply_el_u64(const redisReply *r, size_t i)
{
    if (i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return (uint64_t)e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoull(e->str, NULL, 10);
    return 0;
}

char *reply_el_str(const redisReply *r, size_t i)
{
    if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING)
        return (char *)"";
    return r->element[i]->str;
}

int room_view_parse(room_view_t *v, const redisReply *r, size_t at)
{
    memset(v, 0, sizeof *v);
    room_state__init(&v->state);
    if (r->type != REDIS_REPLY_ARRAY || at + 9 > r->elements)
        return -1;
    v->state.room_id = reply_el_u64(r, at);
    v->state.name = reply_el_str(r, at + 1);
    v->state.owner_id = reply_el_u64(r, at + 2);
    v->state.max_players = (uint32_t)reply_el_u64(r, at + 3);
    v->state.status = reply_el_u64(r, at + 4) == 2 ? ROOM_STATUS__IN_GAME : ROOM_STATUS__WAITING;
    v->state.match_id = reply_el_u64(r, at + 5);
    v->state.game_server_id = (uint32_t)reply_el_u64(r, at + 6);
    v->state.mode = reply_el_str(r, at + 7);
    size_t n = (size_t)reply_el_u64(r, at + 8);
    size_t i = at + 9;
    if (n > ROOM_MAX_PLAYERS || i + n * 6 > r->elements)
        return -1;
    v->members = xcalloc(n ? n : 1, sizeof *v->members);
    v->member_ptrs = xcalloc(n ? n : 1, sizeof *v->member_ptrs);
    v->gw = xcalloc(n ? n : 1, sizeof *v->gw);
    v->sid = xcalloc(n ? n : 1, sizeof *v->sid);
    for (size_t k = 0; k < n; k++, i += 6) {
        RoomMember *m = &v->members[k];
        room_member__init(m);
        m->user_id = reply_el_u64(r, i);
        m->username = reply_el_str(r, i + 1);
        m->ready = reply_el_u64(r, i + 2) == 1;
        m->online = reply_el_u64(r, i + 3) == 1;
        v->gw[k] = (uint32_t)reply_el_u64(r, i + 4);
        v->sid[k] = reply_el_u64(r, i + 5);
        v->member_ptrs[k] = m;
    }
    v->state.n_members = n;
    v->state.members = v->member_ptrs;
    return (int)i;
}

void room_view_free(room_view_t *v)
{
    xfree(v->members);
    xfree(v->member_ptrs);
    xfree(v->gw);
    xfree(v->sid);
    memset(v, 0, sizeof *v);
}

