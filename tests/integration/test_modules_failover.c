/* test_modules_failover: a module match through the real lobby (a room with mode `beat`, a
 * module of the test's own that broadcasts every tick and echoes), on 2 gateways: a player
 * whose connection drops RESUMEs on the other gateway and the module's pushes reach the new
 * connection without it sending anything, then its MATCH_DATA_SEND reaches the module; then
 * kill -9 of the game daemon mid-match: both players get MATCH_ABORTED, as in an arena match. */
#include <sys/stat.h>

#include "frame.h"
#include "modules_util.h"

static const char BEAT_LUA[] =
    "local M = {min_players = 2, max_players = 4}\n"
    "function M.init(ctx, params) return {}, 20 end\n"
    "function M.join(ctx, state, player) return state end\n"
    "function M.leave(ctx, state, player, reason) return state end\n"
    "function M.loop(ctx, state, tick, messages)\n"
    "  ctx.broadcast(100, tostring(tick))\n"
    "  for _, m in ipairs(messages) do ctx.broadcast(1, m.sender .. ':' .. m.data) end\n"
    "  return state\n"
    "end\n"
    "return M\n";

typedef struct seen {
    int ticks, echoes;
    char last_echo[64];
} seen_t;

static void on_data(player_t *p, const MatchData *d)
{
    seen_t *s = p->md_ud;
    if (d->op_code == 100)
        s->ticks++;
    else if (d->op_code == 1) {
        s->echoes++;
        snprintf(s->last_echo, sizeof s->last_echo, "%.*s", (int)d->data.len, (const char *)d->data.data);
    }
}

static void send_one_way(player_t *p, uint32_t op, const char *data)
{
    MatchDataSend s = MATCH_DATA_SEND__INIT;
    s.op_code = op;
    s.data.data = (uint8_t *)data;
    s.data.len = strlen(data);
    uint8_t buf[256];
    size_t n = match_data_send__get_packed_size(&s);
    frame_hdr_write(buf, (uint32_t)n, PACKET_TYPE__MATCH_DATA_SEND, 4242);
    match_data_send__pack(&s, buf + FRAME_HDR_LEN);
    CHECK_EQ(csync_send_bytes(p->c, buf, FRAME_HDR_LEN + n), 0);
}

static int wait_seen(player_t *p, const int *counter, int above, int timeout_ms)
{
    uint64_t t0 = h_now_ms();
    while (*counter <= above) {
        if (h_now_ms() - t0 > (uint64_t)timeout_ms)
            return -1;
        p_pump(p, 2);
    }
    return (int)(h_now_ms() - t0);
}

int main(void)
{
    h_init("modules_failover");
    h_pg_start();
    char run[8], dir[600], path[700], dir_env[700];
    snprintf(run, sizeof run, "%04x", (unsigned)(h_now_ms() & 0xffff));
    snprintf(dir, sizeof dir, "%s/modules", h_dir());
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/beat.lua", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(BEAT_LUA, f);
    fclose(f);
    snprintf(dir_env, sizeof dir_env, "GAME_MODULES_DIR=%s", dir);
    const char *game_env[] = {dir_env, "MATCH_TIME_LIMIT_MS=60000", NULL};
    const sc_spec_t spec = {"mfail", NULL, game_env, 1, 2, "mfo", 2, 0};
    scene_t *s = scene_up(&spec, run); /* ps[0] on gateway 0, ps[1] on gateway 1 */
    seen_t seen[2];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 2; i++) {
        s->ps[i]->on_match_data = on_data;
        s->ps[i]->md_ud = &seen[i];
    }
    sc_match_t mt = mu_match(s, s->ps, 2, "beat", 2, NULL);
    CHECK(wait_seen(s->ps[0], &seen[0].ticks, 3, 3000) >= 0);

    /* RESUME into the module match on the other gateway */
    player_t *r = s->ps[0];
    csync_close(r->c);
    r->c = NULL;
    h_sleep_ms(200);
    r->port = s->cl.port[1];
    p_connect(r);
    ResumeRequest rq = RESUME_REQUEST__INIT;
    rq.token = r->token;
    ResumeResponse *o = OK_CALL(r, RESUME_REQUEST, &rq.base, RESUME_RESPONSE, resume_response__descriptor);
    CHECK(o->room != NULL && o->room->match_id == mt.id && o->room->game_server_id == mt.game);
    resume_response__free_unpacked(o, NULL);
    int before = seen[0].ticks;
    int ms = wait_seen(r, &seen[0].ticks, before + 2, 3000);
    if (ms < 0)
        DIE("no module broadcast reached the resumed connection in 3 s");
    printf("resume: the module's broadcasts reach the resumed connection (gateway %u) %d ms after RESUME, "
           "before it sent anything\n", s->cl.gw_id[1], ms);
    send_one_way(r, 1, "back");
    char want[64];
    snprintf(want, sizeof want, "%llu:back", (unsigned long long)r->uid);
    for (int i = 0; i < 2; i++) {
        if (wait_seen(s->ps[i], &seen[i].echoes, 0, 3000) < 0)
            DIE("%s: no echo of the resumed player's MATCH_DATA_SEND", s->ps[i]->name);
        CHECK(strcmp(seen[i].last_echo, want) == 0);
    }
    printf("resume: the resumed player's MATCH_DATA_SEND reached the module and both players\n");

    /* kill -9 of the game daemon mid-match */
    uint64_t t0 = h_now_ms();
    h_kill(s->cl.game[0], SIGKILL);
    for (int i = 0; i < 2; i++) {
        while (!s->ps[i]->aborted) {
            if (h_now_ms() - t0 > 5000)
                DIE("%s: no MATCH_ABORTED after kill -9 of the game daemon", s->ps[i]->name);
            p_pump(s->ps[i], 2);
        }
        CHECK_EQ(s->ps[i]->aborted->match_id, mt.id);
    }
    printf("kill -9: both players got MATCH_ABORTED (\"%s\") %llu ms after the kill\n",
           s->ps[0]->aborted->reason,
           (unsigned long long)(s->ps[1]->aborted_ms > s->ps[0]->aborted_ms ? s->ps[1]->aborted_ms - t0
                                                                            : s->ps[0]->aborted_ms - t0));
    h_wait_exit(s->cl.game[0], 2000);
    scene_down(s);
    printf("modules_failover: all passed\n");
    return 0;
}
