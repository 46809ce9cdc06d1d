/* test_modules_resume: a player's connection drops mid-way through a module match (tag) and it
 * RESUMEs on the other gateway within the grace period: RESUME_RESPONSE
 * shows the room in game with the match; MATCH_DATA reaches the new connection; its MOVE is
 * accepted by the module (a POSITIONS record of its own); the module never saw it leave (its
 * SCORES never flag it gone), and GAME_OVER reaches it on the new connection with the same
 * results as the other player's. */
#include "modules_util.h"

static char RUN[8];

static const char *const GAME_ENV[] = {MU_MODULES_DIR, "MATCH_TIME_LIMIT_MS=8000",
                                       "DRAIN_TIMEOUT_MS=500", NULL};

typedef struct watch {
    uint64_t self;
    float x, y;
    int own_positions; /* POSITIONS records of self */
    int left_flags;    /* SCORES records flagging self as gone */
} watch_t;

static void on_data(player_t *p, const MatchData *d)
{
    watch_t *w = p->md_ud;
    const uint8_t *b = d->data.data;
    if (d->op_code == 101)
        for (size_t off = 0; off + 17 <= d->data.len; off += 17)
            if (mu_rd64(b + off) == w->self) {
                w->x = mu_rdf(b + off + 8);
                w->y = mu_rdf(b + off + 12);
                w->own_positions++;
            }
    if (d->op_code == 103)
        for (size_t off = 0; off + 13 <= d->data.len; off += 13)
            if (mu_rd64(b + off) == w->self && (b[off + 12] & 2))
                w->left_flags++;
}

static const sc_spec_t SCENE = {"resume", NULL, GAME_ENV, 1, 2, "res", 2, 0};

static void scenario_resume(void)
{
    scene_t *s = scene_up(&SCENE, RUN);
    watch_t w[2];
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].self = s->pl[i].uid;
        s->pl[i].on_match_data = on_data;
        s->pl[i].md_ud = &w[i];
    }
    sc_match_t mt = mu_match(s, s->ps, 2, "tag", 2, NULL);
    for (int k = 0; k < 100 && w[0].own_positions == 0; k++)
        p_pump(s->ps[0], 10);
    CHECK(w[0].own_positions > 0); /* tick 1 places everyone */

    /* ps[0] (gateway 0) drops, ps[1] plays on */
    csync_close(s->ps[0]->c);
    s->ps[0]->c = NULL;
    uint64_t t_drop = h_now_ms();
    while (h_now_ms() - t_drop < 700)
        p_pump(s->ps[1], 10);

    /* RESUME on gateway 1 */
    s->ps[0]->port = s->cl.port[1];
    p_connect(s->ps[0]);
    ResumeRequest rq = RESUME_REQUEST__INIT;
    rq.token = s->ps[0]->token;
    ResumeResponse *rr = OK_CALL(s->ps[0], RESUME_REQUEST, &rq.base, RESUME_RESPONSE,
                                 resume_response__descriptor);
    if (!rr->room || rr->room->status != ROOM_STATUS__IN_GAME || rr->room->match_id != mt.id ||
        strcmp(rr->room->mode, "tag") != 0)
        DIE("RESUME_RESPONSE room: %s", rr->room ? "not the tag match in game" : "none");
    resume_response__free_unpacked(rr, NULL);
    uint64_t resumed_after = h_now_ms() - t_drop;

    /* MATCH_DATA reaches the new connection; a move is accepted by the module */
    int before = s->ps[0]->n_match_data, pos_before = w[0].own_positions;
    uint64_t t0 = h_now_ms();
    while (s->ps[0]->n_match_data == before && h_now_ms() - t0 < 3000)
        p_pump(s->ps[0], 10);
    if (s->ps[0]->n_match_data == before)
        DIE("no MATCH_DATA on the resumed connection within 3 s");
    uint8_t mv[8];
    float tx = w[0].x > 20.0f ? w[0].x - 0.3f : w[0].x + 0.3f, ty = w[0].y;
    memcpy(mv, &tx, 4);
    memcpy(mv + 4, &ty, 4);
    mu_send_data(s->ps[0], 1, mv, sizeof mv, 900);
    t0 = h_now_ms();
    while (w[0].own_positions == pos_before && h_now_ms() - t0 < 3000) {
        p_pump(s->ps[0], 10);
        p_pump(s->ps[1], 1);
    }
    if (w[0].own_positions == pos_before)
        DIE("the module never showed the resumed player's move");
    CHECK(fabsf(w[0].x - tx) < 0.01f);
    uint64_t t_move = h_now_ms() - t0;

    mu_wait_over(s->ps, 2, 15000);
    for (int i = 0; i < 2; i++)
        if (s->pl[i].aborted)
            DIE("%s: MATCH_ABORTED (%s)", s->pl[i].name, s->pl[i].aborted->reason);
    CHECK_EQ(w[0].left_flags, 0);
    CHECK_EQ(w[1].left_flags, 0);
    const GameOver *a = s->pl[0].over, *b = s->pl[1].over;
    CHECK(a->match_id == mt.id && b->match_id == mt.id && strcmp(a->summary, b->summary) == 0);
    CHECK(a->n_results == 2 && b->n_results == 2);
    mu_check_record(a, mt.game, "tag");
    printf("resume: %s dropped a tag match and RESUMEd on the other gateway %llu ms later: MATCH_DATA "
           "followed, its move was shown by the module %llu ms after it was sent, the module never "
           "saw it leave, GAME_OVER \"%s\" reached it and was recorded\n",
           s->pl[0].name, (unsigned long long)resumed_after, (unsigned long long)t_move,
           a->summary);
    scene_down(s);
}

int main(int argc, char **argv)
{
    static const lu_scenario_t sc[] = {{"resume", scenario_resume}};
    return lu_main(argc, argv, "modules_resume", RUN, sizeof RUN, sc, 1);
}
