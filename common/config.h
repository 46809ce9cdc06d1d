/* config: options from flags, then environment variables, then defaults; --help from the same table. */
#ifndef CLUSTER_CONFIG_H
#define CLUSTER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CFG_STR, CFG_INT } cfg_type_t;

/* One option. `env` is the environment variable (LISTEN_ADDR); its flag is derived from it
 * (--listen-addr). Integer options are range-checked against [min, max] at load. An option
 * may name the field of the daemon's settings struct it goes into (CFG_AT, as nginx's
 * ngx_command_t does), for config_apply: then a main reads no option by name. */
typedef struct cfg_opt {
    const char *env;
    cfg_type_t type;
    const char *def;
    const char *help;
    int64_t min, max;
    size_t at;   /* offsetof + 1 of the field (0: none) */
    size_t size; /* the field's size: an integer of 1, 2, 4 or 8 bytes; a const char * */
} cfg_opt_t;

/* The field an option goes into: {"TICK_MS", CFG_INT, "50", "...", 5, 1000, CFG_AT(game_cfg_t,
 * tick_ms)}. An integer field is unsigned or signed as its range says (min >= 0: unsigned). */
#define CFG_AT(type, member) offsetof(type, member) + 1, sizeof(((type *)0)->member)

#define CFG_OPTS_MAX 64

typedef struct config {
    const cfg_opt_t *opts;
    int nopts;
    const char *values[CFG_OPTS_MAX];
    const char *source[CFG_OPTS_MAX]; /* "flag", "env" or "default" */
} config_t;

/* Fills cfg from argv (flags win), the environment, then defaults. Returns 0 on success,
 * 1 when --help was asked for (usage printed to stdout), 2 for --version (printed to stdout), -1 on a bad flag or value (message
 * printed to stderr). `about` is the first line of --help. */
int config_load(config_t *cfg, const cfg_opt_t *opts, int nopts, int argc, char **argv,
                const char *about) __attribute__((warn_unused_result));

/* Value of an option by env name. Asking for a name not in the table is a bug: aborts. */
const char *config_str(const config_t *cfg, const char *env);
int64_t config_int(const config_t *cfg, const char *env);

/* Writes every option with a field (CFG_AT) into the struct at dst: integers converted to the
 * field's size (their range was checked at load), strings as pointers into cfg (valid while
 * cfg is). */
void config_apply(const config_t *cfg, void *dst);

/* Prints the usage table (flag, env, default, help) to stdout. */
void config_usage(const cfg_opt_t *opts, int nopts, const char *prog, const char *about);

#endif
