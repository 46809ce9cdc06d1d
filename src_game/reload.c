/* reload: the game daemon's module catalogue in service: where GAME_MODULES_DIR is, the
 * first load, the registry fields (modes, mode_limits) and `clusterctl reload-modules`
 * through the admin endpoint (the files are read and compiled on the admin's HTTP thread,
 * never on the loop; the catalogue changes on the loop). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "game.h"
#include "log.h"

void game_publish_modes(game_t *g)
{
    char modes[2048], limits[2048];
    modules_fields(g->modules, modes, sizeof modes, limits, sizeof limits);
    (void)backend_set_field(g->be, "modes", modes);
    (void)backend_set_field(g->be, "mode_limits", limits);
}

static void *reload_work(void *ud)
{
    game_t *g = ud;
    return modules_scan(g->modules);
}

static int reload_apply(void *ud, void *prepared, char *msg, size_t n)
{
    game_t *g = ud;
    int failed = modules_apply(g->modules, prepared, msg, n);
    game_publish_modes(g);
    log_info("modules_reloaded", "failed=%d", failed);
    return failed ? 422 : 200;
}

int game_modules_load(game_t *g)
{
    char report[4096];
    int failed = modules_apply(g->modules, modules_scan(g->modules), report, sizeof report);
    if (backend_add_reload(g->be, "/reload-modules", reload_work, reload_apply, g) != 0)
        return -1;
    return failed;
}

/* GAME_MODULES_DIR when unset: the repository's modules/ beside the build (build/src_game/gamed
 * -> modules/), else modules/ next to or above the binary, else /usr/local/share/cluster/modules. */
void game_default_modules_dir(char *out, size_t n)
{
    char exe[1024];
    size_t len = sizeof exe;
    static const char *const rel[] = {"/../../modules", "/../modules", "/modules",
                                      "/../share/cluster/modules"};
    if (uv_exepath(exe, &len) == 0) {
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            struct stat st;
            snprintf(out, n, "%s%s", exe, rel[i]);
            if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
                return;
        }
    }
    snprintf(out, n, "/usr/local/share/cluster/modules");
}
