/* config: flags > environment > defaults, from one table per program. */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CLUSTER_VERSION
#define CLUSTER_VERSION "unknown" /* CMake defines it */
#endif

static void flag_name(const char *env, char *out, size_t n)
{
    size_t i = 0;
    out[i++] = '-';
    out[i++] = '-';
    for (const char *p = env; *p && i + 1 < n; p++)
        out[i++] = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
    out[i] = '\0';
}

void config_usage(const cfg_opt_t *opts, int nopts, const char *prog, const char *about)
{
    printf("%s\n\nusage: %s [options]\n\nEvery option is a flag or an environment variable; "
           "flags win over the environment.\n\n",
           about, prog);
    for (int i = 0; i < nopts; i++) {
        char f[64];
        flag_name(opts[i].env, f, sizeof f);
        if (strstr(opts[i].help, "(default")) /* the help says what the default means */
            printf("  %-26s %-22s %s\n", f, opts[i].env, opts[i].help);
        else
            printf("  %-26s %-22s %s (default: %s)\n", f, opts[i].env, opts[i].help,
                   opts[i].def && *opts[i].def ? opts[i].def : "none");
    }
    printf("  %-26s %-22s %s\n", "--help", "", "print this help and exit");
    printf("  %-26s %-22s %s\n", "--version", "", "print the version and exit");
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

int config_load(config_t *cfg, const cfg_opt_t *opts, int nopts, int argc, char **argv,
                const char *about)
{
    if (nopts > CFG_OPTS_MAX)
        abort();
    memset(cfg, 0, sizeof *cfg);
    cfg->opts = opts;
    cfg->nopts = nopts;
    for (int i = 0; i < nopts; i++) {
        const char *e = getenv(opts[i].env);
        cfg->values[i] = e ? e : opts[i].def;
        cfg->source[i] = e ? "env" : "default";
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_usage(opts, nopts, argv[0], about);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            const char *slash = strrchr(argv[0], '/');
            printf("%s %s\n", slash ? slash + 1 : argv[0], CLUSTER_VERSION);
            return 2;
        }
        int found = -1;
        const char *val = NULL;
        for (int i = 0; i < nopts && found < 0; i++) {
            char f[64];
            flag_name(opts[i].env, f, sizeof f);
            size_t fl = strlen(f);
            if (strncmp(arg, f, fl) == 0 && (arg[fl] == '\0' || arg[fl] == '=')) {
                found = i;
                if (arg[fl] == '=')
                    val = arg + fl + 1;
                else if (a + 1 < argc)
                    val = argv[++a];
            }
        }
        if (found < 0) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", argv[0], arg);
            return -1;
        }
        if (!val) {
            fprintf(stderr, "%s: option '%s' needs a value\n", argv[0], arg);
            return -1;
        }
        cfg->values[found] = val;
        cfg->source[found] = "flag";
    }
    for (int i = 0; i < nopts; i++) {
        if (opts[i].type != CFG_INT)
            continue;
        int64_t v;
        if (!cfg->values[i] || parse_int(cfg->values[i], &v) < 0 || v < opts[i].min ||
            v > opts[i].max) {
            fprintf(stderr, "%s: %s must be an integer in [%" PRId64 ", %" PRId64 "], got '%s'\n",
                    argv[0], opts[i].env, opts[i].min, opts[i].max,
                    cfg->values[i] ? cfg->values[i] : "");
            return -1;
        }
    }
    return 0;
}

static int find(const config_t *cfg, const char *env)
{
    for (int i = 0; i < cfg->nopts; i++)
        if (strcmp(cfg->opts[i].env, env) == 0)
            return i;
    fprintf(stderr, "bug: config option %s is not in the table\n", env);
    abort();
}

const char *config_str(const config_t *cfg, const char *env)
{
    const char *v = cfg->values[find(cfg, env)];
    return v ? v : "";
}

int64_t config_int(const config_t *cfg, const char *env)
{
    int64_t v = 0;
    (void)parse_int(cfg->values[find(cfg, env)], &v);
    return v;
}

void config_apply(const config_t *cfg, void *dst)
{
    for (int i = 0; i < cfg->nopts; i++) {
        const cfg_opt_t *o = &cfg->opts[i];
        if (!o->at)
            continue;
        char *f = (char *)dst + (o->at - 1);
        if (o->type == CFG_STR) {
            assert(o->size == sizeof(const char *));
            const char *v = cfg->values[i];
            memcpy(f, &v, sizeof v);
            continue;
        }
        int64_t v = 0;
        (void)parse_int(cfg->values[i], &v);
        switch (o->size) {
        case 1: { uint8_t x = (uint8_t)v; memcpy(f, &x, 1); break; }
        case 2: { uint16_t x = (uint16_t)v; memcpy(f, &x, 2); break; }
        case 4: { uint32_t x = (uint32_t)v; memcpy(f, &x, 4); break; }
        case 8: memcpy(f, &v, 8); break;
        default: assert(!"an integer option's field is 1, 2, 4 or 8 bytes");
        }
    }
}
