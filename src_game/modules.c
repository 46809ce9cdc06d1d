/* modules: the catalogue of Lua game modules (see modules.h). */
#include "modules.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"

#define MODULES_MAX 64
#define MODULE_FILE_MAX (1024 * 1024)

struct modules {
    char *dir;
    modrt_limits_t lim;
    module_version_t *cur[MODULES_MAX];
    int n;
};

typedef struct scanned {
    char mode[32];
    char *source;
    size_t len;
    int ok;
    uint32_t min_players, max_players;
    char err[1200];
} scanned_t;

struct modules_scan {
    scanned_t f[MODULES_MAX];
    int n;
    char dir_err[256];
};

modules_t *modules_new(const char *dir, const modrt_limits_t *lim)
{
    modules_t *ms = xcalloc(1, sizeof *ms);
    ms->dir = xstrdup(dir);
    ms->lim = *lim;
    return ms;
}

void module_version_unref(module_version_t *v)
{
    if (v && --v->refs == 0) {
        xfree(v->source);
        xfree(v);
    }
}

void modules_free(modules_t *ms)
{
    for (int i = 0; i < ms->n; i++)
        module_version_unref(ms->cur[i]);
    xfree(ms->dir);
    xfree(ms);
}

const char *modules_dir(const modules_t *ms) { return ms->dir; }
const modrt_limits_t *modules_limits(const modules_t *ms) { return &ms->lim; }

/* A mode name: [a-z0-9_], 1-31 characters, and not the built-in arena. */
static int mode_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 31 || (n == 5 && memcmp(s, "arena", 5) == 0))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static void read_one(const char *dir, scanned_t *f, const modrt_limits_t *lim)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.lua", dir, f->mode);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(f->err, sizeof f->err, "cannot open %s", path);
        return;
    }
    f->source = xmalloc(MODULE_FILE_MAX + 1);
    f->len = fread(f->source, 1, MODULE_FILE_MAX + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || f->len > MODULE_FILE_MAX) {
        snprintf(f->err, sizeof f->err, bad ? "cannot read %s" : "%s is over 1 MiB", path);
        return;
    }
    int rc = modrt_check(f->source, f->len, f->mode, lim, &f->min_players, &f->max_players, f->err,
                         sizeof f->err);
    f->ok = rc == MODRT_OK;
}

static int cmp_scanned(const void *a, const void *b)
{
    return strcmp(((const scanned_t *)a)->mode, ((const scanned_t *)b)->mode);
}

modules_scan_t *modules_scan(const modules_t *ms)
{
    modules_scan_t *sc = xcalloc(1, sizeof *sc);
    DIR *d = opendir(ms->dir);
    if (!d) {
        snprintf(sc->dir_err, sizeof sc->dir_err, "cannot open GAME_MODULES_DIR %s", ms->dir);
        return sc;
    }
    struct dirent *e;
    while ((e = readdir(d)) && sc->n < MODULES_MAX) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".lua") != 0 || !mode_name_ok(e->d_name, l - 4))
            continue;
        scanned_t *f = &sc->f[sc->n++];
        memcpy(f->mode, e->d_name, l - 4);
        f->mode[l - 4] = '\0';
    }
    closedir(d);
    qsort(sc->f, (size_t)sc->n, sizeof sc->f[0], cmp_scanned);
    for (int i = 0; i < sc->n; i++)
        read_one(ms->dir, &sc->f[i], &ms->lim);
    return sc;
}

void modules_scan_free(modules_scan_t *sc)
{
    for (int i = 0; sc && i < sc->n; i++)
        xfree(sc->f[i].source);
    xfree(sc);
}

static int find(const modules_t *ms, const char *mode)
{
    for (int i = 0; i < ms->n; i++)
        if (strcmp(ms->cur[i]->mode, mode) == 0)
            return i;
    return -1;
}

#define OUT(...)                                                                               \
    do {                                                                                       \
        size_t _l = strlen(out);                                                               \
        if (_l < n)                                                                            \
            snprintf(out + _l, n - _l, __VA_ARGS__);                                           \
    } while (0)

int modules_apply(modules_t *ms, modules_scan_t *sc, char *out, size_t n)
{
    int failed = 0;
    out[0] = '\0';
    if (sc->dir_err[0]) {
        /* the folder is unreadable: keep everything as it is */
        OUT("%s; every module keeps serving\n", sc->dir_err);
        log_error("modules_dir_unreadable", "dir=\"%s\"", ms->dir);
        modules_scan_free(sc);
        return 1;
    }
    /* removed: in the catalogue, not in the folder */
    for (int i = 0; i < ms->n;) {
        int seen = 0;
        for (int k = 0; k < sc->n; k++)
            seen |= strcmp(sc->f[k].mode, ms->cur[i]->mode) == 0;
        if (seen) {
            i++;
            continue;
        }
        OUT("%s: removed (running matches finish on v%u)\n", ms->cur[i]->mode, ms->cur[i]->version);
        log_info("module_removed", "mode=%s version=%u", ms->cur[i]->mode, ms->cur[i]->version);
        module_version_unref(ms->cur[i]);
        ms->cur[i] = ms->cur[--ms->n];
    }
    for (int k = 0; k < sc->n; k++) {
        scanned_t *f = &sc->f[k];
        int i = find(ms, f->mode);
        if (!f->ok) {
            failed++;
            if (i >= 0)
                OUT("%s: error: %s; v%u keeps serving\n", f->mode, f->err, ms->cur[i]->version);
            else
                OUT("%s: error: %s; not served\n", f->mode, f->err);
            log_error("module_load_failed", "mode=%s error=\"%s\" serving=%u", f->mode, f->err,
                      i >= 0 ? ms->cur[i]->version : 0);
            continue;
        }
        if (i >= 0 && ms->cur[i]->len == f->len && memcmp(ms->cur[i]->source, f->source, f->len) == 0) {
            OUT("%s: unchanged v%u\n", f->mode, ms->cur[i]->version);
            continue;
        }
        module_version_t *v = xcalloc(1, sizeof *v);
        snprintf(v->mode, sizeof v->mode, "%s", f->mode);
        v->source = f->source;
        v->len = f->len;
        f->source = NULL;
        v->min_players = f->min_players;
        v->max_players = f->max_players;
        v->refs = 1;
        if (i >= 0) {
            v->version = ms->cur[i]->version + 1;
            module_version_unref(ms->cur[i]);
            ms->cur[i] = v;
        } else if (ms->n < MODULES_MAX) {
            v->version = 1;
            ms->cur[ms->n++] = v;
        } else {
            module_version_unref(v);
            continue;
        }
        OUT("%s: loaded v%u (players %u-%u)\n", v->mode, v->version, v->min_players, v->max_players);
        log_info("module_loaded", "mode=%s version=%u min_players=%u max_players=%u bytes=%zu", v->mode,
                 v->version, v->min_players, v->max_players, v->len);
    }
    modules_scan_free(sc);
    return failed;
}

module_version_t *modules_get(modules_t *ms, const char *mode)
{
    int i = find(ms, mode);
    if (i < 0)
        return NULL;
    ms->cur[i]->refs++;
    return ms->cur[i];
}

static int cmp_version(const void *a, const void *b)
{
    return strcmp((*(module_version_t *const *)a)->mode, (*(module_version_t *const *)b)->mode);
}

void modules_fields(const modules_t *ms, char *modes, size_t nm, char *limits, size_t nl)
{
    module_version_t *v[MODULES_MAX];
    memcpy(v, ms->cur, (size_t)ms->n * sizeof v[0]);
    qsort(v, (size_t)ms->n, sizeof v[0], cmp_version);
    int a = snprintf(modes, nm, "arena"), b = snprintf(limits, nl, "arena:1-4");
    for (int i = 0; i < ms->n; i++) {
        if (a >= 0 && (size_t)a < nm)
            a += snprintf(modes + a, nm - (size_t)a, ",%s", v[i]->mode);
        if (b >= 0 && (size_t)b < nl)
            b += snprintf(limits + b, nl - (size_t)b, ",%s:%u-%u", v[i]->mode, v[i]->min_players,
                          v[i]->max_players);
    }
}
