/* faults_util: a small cluster and blocking client calls for the fault cases. */
#include "faults_util.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

static const char *const GW_ENV[] = {"RATE_LIMIT=100000", "RATE_BURST=100000", NULL};

/* out = a, then b, then c (each NULL-terminated or NULL), at most 23 entries. */
static void env_cat(const char **out, const char *const *a, const char *const *b,
                    const char *const *c)
{
    int n = 0;
    const char *const *parts[] = {a, b, c};
    for (int k = 0; k < 3; k++)
        for (int i = 0; parts[k] && parts[k][i] && n < 23; i++)
            out[n++] = parts[k][i];
    out[n] = NULL;
}

void fres_parse(fres_t *r)
{
    if (r->type != PACKET_TYPE__ERROR_RESPONSE)
        return;
    ErrorResponse *e = error_response__unpack(NULL, r->len, r->payload);
    if (e) {
        r->code = e->code;
        r->retry_ms = e->retry_after_ms;
        error_response__free_unpacked(e, NULL);
    }
}

fres_t fc_call(csync_t *s, uint16_t type, const ProtobufCMessage *m, int timeout_ms)
{
    fres_t r = {0};
    if (csync_request(s, type, m, &r.type, &r.payload, &r.len, timeout_ms) != 0) {
        r.type = 0;
        r.code = -1;
        r.payload = NULL;
        return r;
    }
    fres_parse(&r);
    return r;
}

void fres_free(fres_t *r)
{
    xfree(r->payload);
    r->payload = NULL;
}

void fc_register(csync_t *s, const char *user, const char *pass)
{
    RegisterRequest rq = REGISTER_REQUEST__INIT;
    rq.username = (char *)user;
    rq.password = (char *)pass;
    fres_t r = fc_call(s, PACKET_TYPE__REGISTER_REQUEST, &rq.base, 10000);
    if (r.type != PACKET_TYPE__REGISTER_RESPONSE)
        fprintf(stderr, "register %s: type %u code %d\n", user, r.type, r.code);
    CHECK_EQ(r.type, PACKET_TYPE__REGISTER_RESPONSE);
    fres_free(&r);
}

fres_t fc_login(csync_t *s, const char *user, const char *pass)
{
    LoginRequest rq = LOGIN_REQUEST__INIT;
    rq.username = (char *)user;
    rq.password = (char *)pass;
    return fc_call(s, PACKET_TYPE__LOGIN_REQUEST, &rq.base, 10000);
}

void fc_wait_lobby(const fcluster_t *c, int g, int timeout_ms)
{
    h_wait_echo_ids(c->port[g], ECHO_TARGET__LOBBY, NULL, 0, timeout_ms, "a lobby link");
}

void fc_up(fcluster_t *c, const char *tag, int ngw, int nlobby, int ngame,
           const char *const *lobby_extra, const char *const *game_extra,
           const char *const *all_extra)
{
    memset(c, 0, sizeof *c);
    h_new_prefix(tag);
    snprintf(c->db_env, sizeof c->db_env, "DATABASE_URL=%s", h_pg_conninfo());
    const char *lobby_own[] = {c->db_env, "HASH_OPSLIMIT=1", "HASH_MEMLIMIT_KIB=8192", NULL};
    const char *game_own[] = {c->db_env, NULL};
    env_cat(c->lobby_env, lobby_extra, all_extra, lobby_own);
    env_cat(c->game_env, game_extra, all_extra, game_own);
    env_cat(c->gw_env, all_extra, GW_ENV, NULL);
    char name[32];
    for (int i = 0; i < nlobby; i++) {
        snprintf(name, sizeof name, "lobbyd%d", i + 1);
        c->lobby[c->nlobby++] = h_spawn(LOBBYD_PATH, name, c->lobby_env);
    }
    CHECK(h_wait_registered("Lobby", nlobby, 20000) >= 0);
    for (int i = 0; i < ngame; i++) {
        snprintf(name, sizeof name, "gamed%d", i + 1);
        c->game[c->ngame++] = h_spawn(GAMED_PATH, name, c->game_env);
    }
    CHECK(h_wait_registered("Game", ngame, 20000) >= 0);
    for (int i = 0; i < ngw; i++) {
        c->gw[c->ngw] = h_spawn_gateway(&c->port[c->ngw], c->gw_env);
        c->ngw++;
    }
    for (int i = 0; i < ngw && nlobby; i++)
        fc_wait_lobby(c, i, 20000);
}

void fc_up_bots(fcluster_t *c, const char *tag, int nlobby, const char *const *all_extra)
{
    static const char *const game[] = {"MATCH_WAVES=1", "MATCH_TIME_LIMIT_MS=6000", NULL};
    fc_up(c, tag, 2, nlobby, 2, NULL, game, all_extra);
    CHECK(h_wait_registered("Gateway", 2, 20000) >= 0);
}

csync_t *fc_connect(const fcluster_t *c, int g)
{
    csync_t *s = csync_connect("127.0.0.1", c->port[g], 3000);
    CHECK(s != NULL);
    return s;
}

void fc_down(fcluster_t *c)
{
    h_stop_running(c->gw, c->ngw, 20000);
    h_stop_running(c->lobby, c->nlobby, 20000);
    h_stop_running(c->game, c->ngame, 20000);
}
