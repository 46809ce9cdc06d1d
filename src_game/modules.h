/* modules: the catalogue of Lua game modules a game daemon serves: one `<mode>.lua` per mode
 * in GAME_MODULES_DIR. Each mode has a current version (its source, checked by compiling and
 * running it in a sandbox, and its player limits); a match holds a reference to the version
 * it started with, so a reload never changes a running match. */
#ifndef GAME_MODULES_H
#define GAME_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "modrt.h"

typedef struct module_version {
    char mode[32];
    char *source;
    size_t len;
    uint32_t min_players, max_players;
    unsigned version; /* 1, 2, ... per mode, counted by loads that changed the source */
    int refs;
    modrt_t *rt; /* the state new matches of this version join (mode_lua.c); NULL: none yet */
} module_version_t;

typedef struct modules modules_t;

/* What a scan of the folder found (built off the loop: modules_scan may block on the disk). */
typedef struct modules_scan modules_scan_t;

modules_t *modules_new(const char *dir, const modrt_limits_t *lim);
void modules_free(modules_t *ms);
const char *modules_dir(const modules_t *ms);
const modrt_limits_t *modules_limits(const modules_t *ms);

/* Reads and checks every *.lua in the folder (blocking file reads and compiles: call off the
 * loop, or before it runs). Thread-safe: uses only the folder name and limits. */
modules_scan_t *modules_scan(const modules_t *ms);
/* Makes the scan current, on the loop: a mode whose file loaded gets the new version (if the
 * source changed); a file that failed keeps the previous version serving; a mode whose file
 * is gone is dropped (its running matches keep their version). Writes a report, one line per
 * mode ("name: loaded v2", "name: unchanged v1", "name: error ...; v1 keeps serving",
 * "name: removed") into out. Returns the number of files that failed. Frees the scan. */
int modules_apply(modules_t *ms, modules_scan_t *scan, char *out, size_t n);
void modules_scan_free(modules_scan_t *scan);

/* The current version of mode, with a reference taken, or NULL when no module serves it. */
module_version_t *modules_get(modules_t *ms, const char *mode);
void module_version_unref(module_version_t *v);

/* Registry fields: "arena,<mode>,..." and "arena:1-4,<mode>:<min>-<max>,...". */
void modules_fields(const modules_t *ms, char *modes, size_t nm, char *limits, size_t nl);

#endif
