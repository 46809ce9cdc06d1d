/* config: options from flags, then environment variables, then defaults; --help from the same table. */
#ifndef CLUSTER_CONFIG_H
#define CLUSTER_CONFIG_H

#include <stdint.h>

typedef enum { CFG_STR, CFG_INT } cfg_type_t;

/* One option. `env` is the environment variable (LISTEN_ADDR); its flag is derived from it
 * (--listen-addr). Integer options are range-checked against [min, max] at load. */
typedef struct cfg_opt {
    const char *env;
    cfg_type_t type;
    const char *def;
    const char *help;
    int64_t min, max;
} cfg_opt_t;

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

/* Prints the usage table (flag, env, default, help) to stdout. */
void config_usage(const cfg_opt_t *opts, int nopts, const char *prog, const char *about);

#endif
