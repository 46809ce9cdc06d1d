/* lobbyd: accounts, sessions, rooms, chat, quick match and match placement. Stateless: any
 * lobby daemon can answer any request (rooms, sessions and the queue live in Redis, accounts
 * in PostgreSQL). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "backend_main.h"
#include "link.h"
#include "lobby.h"
#include "log.h"

/* The lobby's dispatch table: packet type -> message -> handler. */
static const backend_route_t ROUTES[] = {
    {PACKET_TYPE__ECHO_REQUEST, &echo_request__descriptor, backend_echo},
    {PACKET_TYPE__REGISTER_REQUEST, &register_request__descriptor, lobby_register},
    {PACKET_TYPE__LOGIN_REQUEST, &login_request__descriptor, lobby_login},
    {PACKET_TYPE__RESUME_REQUEST, &resume_request__descriptor, lobby_resume},
    {PACKET_TYPE__LOGOUT_REQUEST, &logout_request__descriptor, lobby_logout},
    {PACKET_TYPE__CREATE_ROOM_REQUEST, &create_room_request__descriptor, lobby_create_room},
    {PACKET_TYPE__GET_ROOM_LIST_REQUEST, &get_room_list_request__descriptor, lobby_room_list},
    {PACKET_TYPE__JOIN_ROOM_REQUEST, &join_room_request__descriptor, lobby_join_room},
    {PACKET_TYPE__LEAVE_ROOM_REQUEST, &leave_room_request__descriptor, lobby_leave_room},
    {PACKET_TYPE__PREPARE_GAME_REQUEST, &prepare_game_request__descriptor, lobby_prepare},
    {PACKET_TYPE__START_GAME_REQUEST, &start_game_request__descriptor, lobby_start_game},
    {PACKET_TYPE__ROOM_CHAT_REQUEST, &room_chat_request__descriptor, lobby_room_chat},
    {PACKET_TYPE__QUICK_MATCH_REQUEST, &quick_match_request__descriptor, lobby_quick_match},
    {PACKET_TYPE__QUICK_MATCH_CANCEL_REQUEST, &quick_match_cancel_request__descriptor, lobby_quick_cancel},
    {PACKET_TYPE__GET_MATCH_HISTORY_REQUEST, &get_match_history_request__descriptor, lobby_match_history},
};


static const cfg_opt_t OPTS[] = {
    {"DATABASE_URL", CFG_STR, "host=127.0.0.1 port=5432 user=postgres dbname=cluster",
     "PostgreSQL conninfo or URI (numeric host: the loop never waits on DNS)", 0, 0, CFG_AT(lobby_t, boot.database_url)},
    {"PG_POOL_SIZE", CFG_INT, "4", "PostgreSQL connections", 1, 64, CFG_AT(lobby_t, boot.pg_pool_size)},
    {"SESSION_TTL_S", CFG_INT, "86400", "lifetime of a session token", 10, 31536000, CFG_AT(lobby_t, session_ttl_s)},
    {"RESUME_GRACE_MS", CFG_INT, "30000", "a dropped player keeps its room this long", 0, 3600000, CFG_AT(lobby_t, resume_grace_ms)},
    {"LOGIN_FAIL_LIMIT", CFG_INT, "5", "failed logins per source address and username before backoff", 1, 1000, CFG_AT(lobby_t, login_fail_limit)},
    {"LOGIN_SOURCE_FAIL_LIMIT", CFG_INT, "50", "failed logins per source address (any username) before backoff", 1, 100000, CFG_AT(lobby_t, login_source_fail_limit)},
    {"LOGIN_BACKOFF_MS", CFG_INT, "1000", "first backoff past a limit; doubles with each further failure", 1, 3600000, CFG_AT(lobby_t, login_backoff_ms)},
    {"LOGIN_BACKOFF_MAX_MS", CFG_INT, "300000", "longest backoff", 1, 86400000, CFG_AT(lobby_t, login_backoff_max_ms)},
    {"LOGIN_FAIL_WINDOW_S", CFG_INT, "900", "failure counts are forgotten this long after the last attempt", 1, 86400, CFG_AT(lobby_t, login_fail_window_s)},
    {"QUICK_MATCH_SIZE", CFG_INT, "2", "players a quick match puts in one room (clamped into the mode's limits)", 1, 64, CFG_AT(lobby_t, quick_match_size)},
    {"PLACEMENT_STALE_MS", CFG_INT, "3000", "a game daemon whose heartbeat is older is not placed on", 500, 60000, CFG_AT(lobby_t, placement_stale_ms)},
    {"PLACEMENT_CONFIRM_MS", CFG_INT, "2000", "a placed match its game daemon has not picked up within this is placed again elsewhere (the daemon sits out 5x this)", 200, 60000, CFG_AT(lobby_t, placement_confirm_ms)},
    {"PLACEMENT_RETRIES", CFG_INT, "2", "times a match is placed again before it is ended with MATCH_ABORTED", 0, 10, CFG_AT(lobby_t, placement_retries)},
    {"SMOOTH_AFTER_S", CFG_INT, "5", "a lobby congested by a full password-hashing queue is smooth again after this many seconds in a row at most half full", 1, 3600, CFG_AT(lobby_t, boot.smooth_after_s)},
    {"CHAT_RATE", CFG_INT, "5", "chat lines per second per player", 1, 1000, CFG_AT(lobby_t, chat_rate)},
    {"HASH_INFLIGHT", CFG_INT, "0", "password hashes queued or running; past it logins and registrations get BUSY (0: 8 per hashing thread)", 0, 4096, CFG_AT(lobby_t, boot.hash_inflight)},
    {"HASH_THREADS", CFG_INT, "0", "threads of the lobby's own password-hashing pool (0: one per core this process may use, but one: the event loop keeps a core)", 0, 256, CFG_AT(lobby_t, boot.hash_threads)},
    {"HASH_NICE", CFG_INT, "10", "niceness of the hashing threads: the event loop (nice 0) gets a core before them", 0, 19, CFG_AT(lobby_t, boot.hash_nice)},
    {"HASH_OPSLIMIT", CFG_INT, "0", "argon2id opslimit (0: libsodium's interactive limit)", 0, 100, CFG_AT(lobby_t, boot.hash_opslimit)},
    {"HASH_MEMLIMIT_KIB", CFG_INT, "0", "argon2id memlimit in KiB (0: interactive, 64 MiB)", 0, 4194304, CFG_AT(lobby_t, boot.hash_memlimit_kib)},
};

/* Every tick the hashing queue's length is sampled; once a second its peak against
 * HASH_INFLIGHT sets smooth / congested (a full queue answers BUSY: gateways then send the
 * lobby's requests to smooth lobbies first). */
static void check_congestion(lobby_t *lb)
{
    int n = pwhash_inflight(lb->pwhash);
    if (n > lb->hash_peak)
        lb->hash_peak = n;
    if (lb->ticks % 10 != 0)
        return;
    double load = 100.0 * lb->hash_peak / (lb->hash_inflight_max > 0 ? lb->hash_inflight_max : 1);
    if (congestion_feed(&lb->congestion, load)) {
        char why[96];
        snprintf(why, sizeof why, "password hashes queued or running: peak %d of HASH_INFLIGHT %d", lb->hash_peak,
                 lb->hash_inflight_max);
        backend_set_congested(lb->be, lb->congestion.congested, why);
    }
    lb->hash_peak = 0;
}

static void on_tick(uv_timer_t *t)
{
    lobby_t *lb = t->data;
    lobby_matches_tick(lb);
    check_congestion(lb);
    if (++lb->ticks % 5 == 0)
        lobby_expire_tick(lb);
    if (lb->ticks % 5 == 2)
        lobby_placement_tick(lb);
    if (lb->ticks % 10 == 0)
        lobby_games_sweep(lb);
    if (lb->ticks % 10 == 5)
        lobby_gateways_sweep(lb);
}

static void lobby_collect(metrics_t *m, void *ud)
{
    lobby_t *lb = ud;
    metrics_set_gauge(m, "cluster_lobby_pwhash_inflight", "password hashes queued or running (HASH_INFLIGHT bounds it)",
                      NULL, pwhash_inflight(lb->pwhash));
}

static void *lobby_init(backend_t *be, uv_loop_t *loop, const config_t *cfg)
{
    lobby_t *lb = xcalloc(1, sizeof *lb);
    lb->be = be;
    lb->loop = loop;
    config_apply(cfg, lb); /* every option lands in its field (CFG_AT) */
    unsigned long long ops = (unsigned long long)lb->boot.hash_opslimit;
    size_t mem = (size_t)lb->boot.hash_memlimit_kib * 1024u;
    if (!ops)
        ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    if (!mem)
        mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    /* Before the loop runs: the one hash computed on the main thread. */
    char pw[32];
    randombytes_buf(pw, sizeof pw - 1);
    pw[sizeof pw - 1] = '\0';
    if (crypto_pwhash_str(lb->dummy_hash, pw, sizeof pw - 1, ops, mem) != 0) {
        xfree(lb);
        return NULL;
    }
    pwhash_opts_t ho = {
        .threads = lb->boot.hash_threads,
        .nice = lb->boot.hash_nice,
        .opslimit = ops,
        .memlimit = mem,
    };
    if (ho.threads == 0) { /* cores - 1: a login storm leaves the loop a core (bench/login.sh) */
        ho.threads = (int)uv_available_parallelism() - 1;
        if (ho.threads < 1)
            ho.threads = 1;
    }
    ho.max_inflight = lb->boot.hash_inflight;
    if (ho.max_inflight == 0)
        ho.max_inflight = 8 * ho.threads;
    lb->hash_inflight_max = ho.max_inflight;
    congestion_init(&lb->congestion, 100, 50, lb->boot.smooth_after_s);
    lb->pwhash = pwhash_new(loop, &ho);
    log_info("pwhash_pool", "threads=%d nice=%d max_inflight=%d", pwhash_threads(lb->pwhash), ho.nice,
             ho.max_inflight);
    lb->pg = pg_daemon_pool(loop, lb->boot.database_url, lb->boot.pg_pool_size, backend_metrics(be));
    if (!lb->pg) {
        pwhash_close(lb->pwhash);
        xfree(lb);
        return NULL;
    }
    metrics_on_collect(backend_metrics(be), lobby_collect, lb);
    backend_set_ready(be, pg_ready_hook, lb->pg);
    uv_timer_init(loop, &lb->timer);
    lb->timer.data = lb;
    uv_timer_start(&lb->timer, on_tick, 100, 100);
    return lb;
}

static void lobby_stop(void *ud)
{
    lobby_t *lb = ud;
    uv_close((uv_handle_t *)&lb->timer, NULL);
    pg_pool_close(lb->pg);
    pwhash_close(lb->pwhash);
}

static void lobby_free(void *ud)
{
    lobby_t *lb = ud;
    sodium_memzero(lb->dummy_hash, sizeof lb->dummy_hash);
    xfree(lb);
}

static int lobby_busy(void *ud)
{
    lobby_t *lb = ud;
    return pwhash_inflight(lb->pwhash) > 0;
}

static const backend_app_t APP = {
    .peer_type = PEER_LOBBY,
    .daemon = "lobby",
    .about = "lobbyd: accounts, sessions, rooms and placement of the game server cluster",
    .routes = ROUTES,
    .nroutes = (int)(sizeof ROUTES / sizeof ROUTES[0]),
    .opts = OPTS,
    .nopts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .init = lobby_init,
    .on_stop = lobby_stop,
    .free = lobby_free,
    .busy = lobby_busy,
    .on_session_closed = lobby_session_closed,
    .on_game_lost = lobby_game_lost,
    .on_redis_up = lobby_redis_up,
};

int main(int argc, char **argv) { return backend_main(argc, argv, &APP); }
