/* gamed: runs matches as a server-authoritative simulation at a fixed tick; validates every
 * client action; records each match in PostgreSQL; returns the players to their room. */
#include <string.h>

#include "alloc.h"
#include "backend_main.h"
#include "game.h"
#include "link.h"
#include "log.h"

/* The game daemon's dispatch table: packet type -> message -> handler. */
static const backend_route_t ROUTES[] = {
    {PACKET_TYPE__ECHO_REQUEST, &echo_request__descriptor, backend_echo},
    {PACKET_TYPE__GAME_SNAPSHOT_REQUEST, &game_snapshot_request__descriptor, game_match_request},
    {PACKET_TYPE__PLAYER_POSITION_UPDATE, &player_position_update__descriptor, game_match_request},
    {PACKET_TYPE__PLAYER_ATTACK_MONSTER, &player_attack_monster__descriptor, game_match_request},
    {PACKET_TYPE__PLAYER_USE_ITEM, &player_use_item__descriptor, game_match_request},
    {PACKET_TYPE__MATCH_DATA_SEND, &match_data_send__descriptor, game_match_request},
};

static const cfg_opt_t OPTS[] = {
    {"DATABASE_URL", CFG_STR, "host=127.0.0.1 port=5432 user=postgres dbname=cluster",
     "PostgreSQL conninfo or URI, for match records", 0, 0, CFG_AT(game_cfg_t, database_url)},
    {"PG_POOL_SIZE", CFG_INT, "2", "PostgreSQL connections", 1, 64, CFG_AT(game_cfg_t, pg_pool_size)},
    {"TICK_MS", CFG_INT, "50", "simulation step (50 ms = 20 Hz)", 5, 1000, CFG_AT(game_cfg_t, sim.tick_ms)},
    {"MATCH_TIME_LIMIT_MS", CFG_INT, "180000", "a match still running then ends in TIMEOUT", 1000, 3600000, CFG_AT(game_cfg_t, sim.time_limit_ms)},
    {"MATCH_WAVES", CFG_INT, "5", "monster waves to clear to win", 1, 100, CFG_AT(game_cfg_t, sim.waves)},
    {"WAVE_BASE_MONSTERS", CFG_INT, "3", "monsters per player in the first wave", 1, 100, CFG_AT(game_cfg_t, sim.wave_base_monsters)},
    {"WAVE_GROWTH", CFG_INT, "2", "more monsters per player each wave", 0, 100, CFG_AT(game_cfg_t, sim.wave_growth)},
    {"WAVE_GAP_MS", CFG_INT, "3000", "pause before each wave", 0, 600000, CFG_AT(game_cfg_t, sim.wave_gap_ms)},
    {"MONSTER_DAMAGE", CFG_INT, "8", "damage of one monster attack", 0, 1000, CFG_AT(game_cfg_t, sim.monster_damage)},
    {"MONSTER_HP", CFG_INT, "50", "hit points of a monster", 1, 100000, CFG_AT(game_cfg_t, sim.monster_hp)},
    {"GAME_MODULES_DIR", CFG_STR, "", "folder of the game modules (<mode>.lua); empty: the repository's modules/ found from the binary", 0, 0, CFG_AT(game_cfg_t, modules_dir)},
    {"MODULE_INSTRUCTION_BUDGET", CFG_INT, "1000000", "Lua instructions one module callback may run", 1000, 1000000000, CFG_AT(game_cfg_t, modules.instruction_budget)},
    {"MODULE_MEMORY_MAX", CFG_INT, "8388608", "bytes of Lua memory one module match may hold", 65536, 1073741824, CFG_AT(game_cfg_t, modules.memory_max)},
    {"MODULE_MATCHES_PER_STATE", CFG_INT, "64", "module matches sharing one Lua state (the module's code compiled once); 1: a state per match", 1, 100000, CFG_AT(game_cfg_t, modules.matches_per_state)},
    {"MATCH_DATA_MAX", CFG_INT, "4096", "bytes of data in one MATCH_DATA_SEND", 0, 60000, CFG_AT(game_cfg_t, match_data_max)},
    {"TICK_LOG_MS", CFG_INT, "10000", "how often the tick time percentiles are logged (event=tick_stats)", 100, 3600000, CFG_AT(game_cfg_t, tick_log_ms)},
    {"CONGESTED_TICK_PCT", CFG_INT, "80", "congested (registry status 2) when a second's tick p99 reaches this % of TICK_MS", 1, 1000, CFG_AT(game_cfg_t, congested_tick_pct)},
    {"SMOOTH_TICK_PCT", CFG_INT, "50", "smooth again after SMOOTH_AFTER_S seconds in a row with the tick p99 below this % of TICK_MS", 1, 1000, CFG_AT(game_cfg_t, smooth_tick_pct)},
    {"SMOOTH_AFTER_S", CFG_INT, "5", "calm seconds in a row before a congested daemon is smooth again", 1, 3600, CFG_AT(game_cfg_t, smooth_after_s)},
};

static void *game_init(backend_t *be, uv_loop_t *loop, const config_t *cfg)
{
    game_cfg_t c;
    memset(&c, 0, sizeof c);
    sim_config_default(&c.sim); /* what no option sets keeps the arena's defaults */
    config_apply(cfg, &c);
    game_t *g = xcalloc(1, sizeof *g);
    g->be = be;
    g->loop = loop;
    g->sim_base = c.sim;
    g->tick_log_ms = c.tick_log_ms;
    congestion_init(&g->congestion, (double)c.congested_tick_pct, (double)c.smooth_tick_pct, (int)c.smooth_after_s);
    if (sim_config_check(&g->sim_base) != 0) {
        log_error("bad_config", "reason=\"simulation settings out of range\"%s", "");
        xfree(g);
        return NULL;
    }
    g->match_data_max = c.match_data_max;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", c.modules_dir);
    if (!dir[0])
        game_default_modules_dir(dir, sizeof dir);
    g->modules = modules_new(dir, &c.modules);
    log_info("modules_dir", "dir=\"%s\" failed=%d", dir, game_modules_load(g));
    g->pg = pg_daemon_pool(loop, c.database_url, (int)c.pg_pool_size, backend_metrics(be));
    if (!g->pg) {
        modules_free(g->modules);
        xfree(g);
        return NULL;
    }
    backend_set_ready(be, pg_ready_hook, g->pg);
    game_start(g);
    return g;
}

static void game_on_stop(void *ud) { game_stop(ud); }

static void game_free(void *ud)
{
    game_t *g = ud;
    xfree(g->pack_buf);
    modules_free(g->modules);
    xfree(g);
}

static int game_is_busy(void *ud) { return game_busy(ud); }

static void game_drain_timeout(void *ud) { game_abort_all(ud, "the game server is shutting down"); }

static const backend_app_t APP = {
    .peer_type = PEER_GAME,
    .daemon = "game",
    .about = "gamed: the game daemon of the game server cluster",
    .routes = ROUTES,
    .nroutes = (int)(sizeof ROUTES / sizeof ROUTES[0]),
    .opts = OPTS,
    .nopts = (int)(sizeof OPTS / sizeof OPTS[0]),
    .init = game_init,
    .on_stop = game_on_stop,
    .free = game_free,
    .busy = game_is_busy,
    .on_drain_timeout = game_drain_timeout,
};

int main(int argc, char **argv) { return backend_main(argc, argv, &APP); }
