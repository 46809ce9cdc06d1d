/* The bot as a load-testing tool: a small run of each scenario (echo over two
 * gateways, login against a lobby with cheap argon2id settings, idle, a mix of all five) checked
 * by exit status and by its JSON (fields present, counts consistent: ok <= sent, the per-type
 * counts add up to the totals, latency percentiles ordered); --count; --help against the
 * option tables in src_bot/options.c; the live status line once a second (plain lines when
 * stderr is not a terminal, one rewritten line on a terminal); --source-addrs (the gateway
 * sees connections from 127.0.0.2 and 127.0.0.3); --transport: a mix of all five scenarios over
 * TLS (the certificate verified against its CA file), WebSocket and WebSocket over TLS
 * (--insecure) on a gateway that listens on all four, a TLS run with the wrong server name
 * refused by certificate verification, and --ws-path (another path: 404; a path that would
 * break the request line: refused). */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scene.h"

/* ------------------------------------------------------------------------------------------ */
/* a minimal JSON reader (the bot's own output: objects, arrays, numbers, strings, literals) */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;

typedef struct jv {
    jtype_t t;
    double num;
    int b;
    char *str;          /* J_STR */
    struct jv **items;  /* J_ARR values, J_OBJ values */
    char **keys;        /* J_OBJ */
    int n;
} jv_t;

static const char *jp;

static void j_ws(void)
{
    while (*jp && isspace((unsigned char)*jp))
        jp++;
}

static jv_t *j_new(jtype_t t)
{
    jv_t *v = calloc(1, sizeof *v);
    CHECK(v != NULL);
    v->t = t;
    return v;
}

static char *j_string(void)
{
    CHECK(*jp == '"');
    jp++;
    size_t cap = 64, n = 0;
    char *s = malloc(cap);
    while (*jp && *jp != '"') {
        char c = *jp++;
        if (c == '\\') {
            c = *jp++;
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c == 'u') { /* not produced by the bot for its own fields */
                jp += 4;
                c = '?';
            }
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = c;
    }
    CHECK(*jp == '"');
    jp++;
    s[n] = '\0';
    return s;
}

static jv_t *j_value(void)
{
    j_ws();
    jv_t *v;
    if (*jp == '{' || *jp == '[') {
        int obj = *jp == '{';
        char close = obj ? '}' : ']';
        v = j_new(obj ? J_OBJ : J_ARR);
        jp++;
        j_ws();
        while (*jp && *jp != close) {
            v->items = realloc(v->items, (size_t)(v->n + 1) * sizeof *v->items);
            if (obj) {
                v->keys = realloc(v->keys, (size_t)(v->n + 1) * sizeof *v->keys);
                j_ws();
                v->keys[v->n] = j_string();
                j_ws();
                CHECK(*jp == ':');
                jp++;
            }
            v->items[v->n++] = j_value();
            j_ws();
            if (*jp == ',')
                jp++;
            j_ws();
        }
        CHECK(*jp == close);
        jp++;
    } else if (*jp == '"') {
        v = j_new(J_STR);
        v->str = j_string();
    } else if (strncmp(jp, "true", 4) == 0 || strncmp(jp, "false", 5) == 0) {
        v = j_new(J_BOOL);
        v->b = *jp == 't';
        jp += v->b ? 4 : 5;
    } else if (strncmp(jp, "null", 4) == 0) {
        v = j_new(J_NULL);
        jp += 4;
    } else {
        char *end;
        v = j_new(J_NUM);
        v->num = strtod(jp, &end);
        CHECK(end != jp);
        jp = end;
    }
    return v;
}

static jv_t *j_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        h_fail();
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    jp = buf;
    jv_t *v = j_value();
    j_ws();
    CHECK(*jp == '\0'); /* nothing after the object: the file is one well-formed value */
    CHECK(v->t == J_OBJ);
    return v;
}

static void j_free(jv_t *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        j_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static jv_t *j_get(const jv_t *o, const char *key)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->items[i];
    return NULL;
}

/* A field that must be there: dies naming it otherwise. */
static jv_t *j_must(const jv_t *o, const char *key, jtype_t t)
{
    jv_t *v = j_get(o, key);
    if (!v || v->t != t)
        DIE("JSON field \"%s\" %s", key, v ? "has the wrong type" : "is missing");
    return v;
}

static double j_num(const jv_t *o, const char *key) { return j_must(o, key, J_NUM)->num; }

/* ------------------------------------------------------------------------------------------ */
/* running the bot */

typedef struct bot_run {
    char name[32];
    char json[512], out[512], err[512];
    int rc;
    jv_t *j;
} bot_run_t;

/* Starts the bot with args (NULL-terminated, "--json FILE" added), stdout and stderr to files
 * in the test folder. Returns the pid. */
static pid_t bot_spawn(bot_run_t *r, const char *name, const char *const *args)
{
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->json, sizeof r->json, "%s/bot-%s.json", h_dir(), name);
    snprintf(r->out, sizeof r->out, "%s/bot-%s.out", h_dir(), name);
    snprintf(r->err, sizeof r->err, "%s/bot-%s.err", h_dir(), name);
    unlink(r->json);
    const char *argv[64];
    sc_bot_argv(argv, 64, args, r->json);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int o = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=99", 1);
        execv(BOT_PATH, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int bot_wait(pid_t pid)
{
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void show_file(const char *path, int tail_lines)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -n %d '%s' >&2", tail_lines, path);
    if (system(cmd) != 0)
        fprintf(stderr, "(cannot show %s)\n", path);
}

/* Runs the bot to its end; dies with its output when the exit status is not want. */
static void bot_run(bot_run_t *r, const char *name, const char *const *args, int want)
{
    uint64_t t0 = h_now_ms();
    r->rc = bot_wait(bot_spawn(r, name, args));
    printf("bot %s: exit %d in %llu ms\n", name, r->rc, (unsigned long long)(h_now_ms() - t0));
    if (r->rc != want) {
        fprintf(stderr, "--- bot %s stdout\n", name);
        show_file(r->out, 80);
        fprintf(stderr, "--- bot %s stderr\n", name);
        show_file(r->err, 40);
        DIE("bot %s exited %d, expected %d", name, r->rc, want);
    }
    r->j = want == 0 && access(r->json, F_OK) == 0 ? j_load(r->json) : NULL; /* not --help */
}

static void bot_done(bot_run_t *r)
{
    j_free(r->j);
    r->j = NULL;
}

/* Does the file hold needle? */
static int file_has(const char *path, const char *needle);

static char *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    size_t k;
    while ((k = fread(s + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (cap - n < 4096)
            s = realloc(s, cap *= 2);
    }
    fclose(f);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

static int file_has(const char *path, const char *needle)
{
    char *s = file_read(path, NULL);
    int has = strstr(s, needle) != NULL;
    free(s);
    return has;
}

/* ------------------------------------------------------------------------------------------ */
/* checks of a report */

static void check_latency(const char *what, const jv_t *lat)
{
    double p50 = j_num(lat, "p50"), p90 = j_num(lat, "p90"), p99 = j_num(lat, "p99"),
           p999 = j_num(lat, "p99_9"), max = j_num(lat, "max"), samples = j_num(lat, "samples");
    (void)j_num(lat, "mean");
    if (!(p50 >= 0 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max))
        DIE("%s: percentiles out of order: p50=%.3f p90=%.3f p99=%.3f p99.9=%.3f max=%.3f", what,
            p50, p90, p99, p999, max);
    if (samples > 0 && max <= 0)
        DIE("%s: %g samples but max %.3f", what, samples, max);
}

/* What every report must hold; returns the run's JSON for scenario checks. */
static const jv_t *check_report(const bot_run_t *r, const char *scenario, int bots)
{
    const jv_t *j = r->j;
    if (!j)
        DIE("bot %s wrote no JSON", r->name);
    static const char *const NUMS[] = {
        "bots",          "connected",      "connect_failures", "connect_attempts",
        "requests_sent", "responses_ok",   "mismatches",       "errors",
        "timeouts",      "lost",           "unanswered",       "send_failures",
        "disconnects",   "pushes",         "duration_s",       "throughput_rps",
        "expected_errors", "late_responses", "ramp_per_s",     "seed",
        "count_limit",   "duration_limit_s"};
    for (size_t i = 0; i < sizeof NUMS / sizeof NUMS[0]; i++)
        (void)j_num(j, NUMS[i]);
    (void)j_must(j, "errors_by_code", J_OBJ);
    (void)j_must(j, "expected_errors_by_code", J_OBJ);
    (void)j_must(j, "pushes_by_type", J_OBJ);
    (void)j_must(j, "echo_targets", J_ARR);
    (void)j_must(j, "gateway", J_STR);
    (void)j_must(j, "count_reached", J_BOOL);
    CHECK(strcmp(j_must(j, "scenario", J_STR)->str, scenario) == 0);
    CHECK(j_must(j, "pass", J_BOOL)->b);
    CHECK_EQ(j_num(j, "bots"), bots);
    CHECK_EQ(j_num(j, "connected"), bots);
    CHECK_EQ(j_num(j, "connect_attempts"), bots);
    CHECK_EQ(j_num(j, "connect_failures"), 0);
    CHECK_EQ(j_num(j, "disconnects"), 0);
    CHECK_EQ(j_num(j, "errors"), 0);
    CHECK_EQ(j_num(j, "mismatches"), 0);
    CHECK_EQ(j_num(j, "timeouts"), 0);
    double sent = j_num(j, "requests_sent"), ok = j_num(j, "responses_ok");
    CHECK(ok <= sent);
    check_latency("latency_ms", j_must(j, "latency_ms", J_OBJ));
    CHECK_EQ(j_num(j_must(j, "latency_ms", J_OBJ), "samples"), ok);

    /* the per-type counts add up to the totals */
    const jv_t *pt = j_must(j, "per_type", J_OBJ);
    double sum_sent = 0, sum_ok = 0, sum_exp = 0, sum_unexp = 0;
    for (int i = 0; i < pt->n; i++) {
        const jv_t *t = pt->items[i];
        double ts = j_num(t, "sent"), tok = j_num(t, "ok"), te = j_num(t, "expected_errors"),
               tu = j_num(t, "unexpected_errors"), tt = j_num(t, "timeouts"),
               tm = j_num(t, "mismatches");
        (void)j_num(t, "throughput_rps");
        (void)j_must(t, "expected_by_code", J_OBJ);
        (void)j_must(t, "unexpected_by_code", J_OBJ);
        if (tok + te + tu + tt + tm > ts)
            DIE("%s: %s answered %g times for %g sent", r->name, pt->keys[i],
                tok + te + tu + tt + tm, ts);
        char what[96];
        snprintf(what, sizeof what, "per_type.%s.latency_ms", pt->keys[i]);
        const jv_t *lat = j_must(t, "latency_ms", J_OBJ);
        check_latency(what, lat);
        CHECK_EQ(j_num(lat, "samples"), tok);
        sum_sent += ts;
        sum_ok += tok;
        sum_exp += te;
        sum_unexp += tu;
    }
    if (sum_sent != sent || sum_ok != ok)
        DIE("%s: per-type sent %g ok %g, totals %g and %g", r->name, sum_sent, sum_ok, sent, ok);
    CHECK_EQ(sum_exp, j_num(j, "expected_errors"));
    CHECK_EQ(sum_unexp, j_num(j, "errors"));

    /* the bots per gateway add up, and each gateway got its round-robin share */
    const jv_t *gws = j_must(j, "gateways", J_ARR);
    CHECK(gws->n >= 1);
    double gb = 0, gc = 0;
    for (int i = 0; i < gws->n; i++) {
        (void)j_must(gws->items[i], "address", J_STR);
        double b = j_num(gws->items[i], "bots");
        CHECK(b >= bots / gws->n && b <= bots / gws->n + 1);
        gb += b;
        gc += j_num(gws->items[i], "connected");
        (void)j_num(gws->items[i], "connect_failures");
        (void)j_num(gws->items[i], "disconnects");
    }
    CHECK_EQ(gb, bots);
    CHECK_EQ(gc, bots);

    /* the bots per scenario add up */
    const jv_t *sc = j_must(j, "scenarios", J_OBJ);
    double sb = 0;
    for (int i = 0; i < sc->n; i++) {
        (void)j_num(sc->items[i], "weight");
        sb += j_num(sc->items[i], "bots");
    }
    CHECK_EQ(sb, bots);

    /* one timeline entry per second of the run */
    const jv_t *tl = j_must(j, "timeline", J_ARR);
    double dur = j_num(j, "duration_limit_s");
    if (!j_must(j, "count_reached", J_BOOL)->b && (tl->n < dur - 1 || tl->n > dur + 12))
        DIE("%s: %d timeline entries for a %g s run", r->name, tl->n, dur);
    for (int i = 0; i < tl->n; i++) {
        const jv_t *e = tl->items[i];
        CHECK(j_num(e, "t_s") > i + 0.5 && j_num(e, "t_s") < i + 1.5);
        CHECK(j_num(e, "connected") <= bots);
        (void)j_num(e, "ok");
        (void)j_num(e, "rps");
        (void)j_num(e, "p99_ms");
        (void)j_num(e, "errors");
    }
    printf("  %s: %d bots, sent %.0f, ok %.0f, %.0f req/s, p50 %.3f ms, p99 %.3f ms, %d types\n",
           r->name, bots, sent, ok, j_num(j, "throughput_rps"),
           j_num(j_must(j, "latency_ms", J_OBJ), "p50"),
           j_num(j_must(j, "latency_ms", J_OBJ), "p99"), pt->n);
    return j;
}

static const jv_t *per_type(const jv_t *j, const char *type)
{
    return j_get(j_must(j, "per_type", J_OBJ), type);
}

/* ------------------------------------------------------------------------------------------ */
/* --help against the option tables */

static void check_help(void)
{
    bot_run_t r;
    static const char *const args[] = {"--help", NULL};
    bot_run(&r, "help", args, 0);
    size_t len;
    char *help = file_read(r.out, &len);
    char src_path[600];
    snprintf(src_path, sizeof src_path, "%s/src_bot/options.c", REPO_DIR);
    char *src = file_read(src_path, NULL);
    /* the OPTS table: {"ENV", CFG_...; the ALIASES and SWITCHES tables: {"--flag", "..."} */
    int opts = 0, aliases = 0;
    const char *p = strstr(src, "OPTS[] = {");
    CHECK(p != NULL);
    const char *end = strstr(p, "};");
    for (const char *q = strstr(p, "{\""); q && q < end; q = strstr(q + 1, "{\"")) {
        char env[64];
        if (sscanf(q, "{\"%63[A-Z_]\", CFG_", env) != 1)
            continue;
        char flag[80] = "--";
        for (size_t i = 0; env[i]; i++)
            flag[2 + i] = env[i] == '_' ? '-' : (char)tolower((unsigned char)env[i]);
        if (!strstr(help, flag) || !strstr(help, env))
            DIE("--help does not list %s (%s)", flag, env);
        opts++;
    }
    for (const char *tab = src; (tab = strstr(tab, "[] = {\n    {\"--")) != NULL; tab++) {
        const char *tend = strstr(tab, "};");
        for (const char *q = strstr(tab, "{\"--"); q && q < tend; q = strstr(q + 1, "{\"--")) {
            char flag[64];
            if (sscanf(q, "{\"%63[-a-z]\"", flag) != 1)
                continue;
            /* the flag as a word of its own in the short-flag list */
            char word[80];
            snprintf(word, sizeof word, "  %s ", flag);
            if (!strstr(help, word))
                DIE("--help does not list the short flag %s", flag);
            aliases++;
        }
    }
    static const char *const SCENARIOS[] = {"echo", "login", "lobby", "match", "idle", "mix"};
    for (size_t i = 0; i < sizeof SCENARIOS / sizeof SCENARIOS[0]; i++) {
        char word[32];
        snprintf(word, sizeof word, "\n  %s ", SCENARIOS[i]);
        if (!strstr(help, word))
            DIE("--help does not describe the scenario %s", SCENARIOS[i]);
    }
    /* the options the benchmarks and the docs name */
    static const char *const NAMED[] = {"--bots", "--ramp", "--connect-rate", "--duration",
                                        "--count", "--rate", "--gateway", "--source-addrs",
                                        "--seed", "--quiet", "--mix", "--ping-ms", "--json",
                                        "--pipeline", "--target", "--payload"};
    for (size_t i = 0; i < sizeof NAMED / sizeof NAMED[0]; i++)
        if (!strstr(help, NAMED[i]))
            DIE("--help does not mention %s", NAMED[i]);
    CHECK(opts >= 25);
    CHECK(aliases >= 25);
    printf("  help: %d table options and %d short flags listed\n", opts, aliases);
    free(help);
    free(src);
    bot_done(&r);
}

/* ------------------------------------------------------------------------------------------ */
/* the live status line on a terminal: stderr on a pseudo-terminal */

static void check_status_tty(const char *gw)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(master >= 0);
    CHECK(grantpt(master) == 0 && unlockpt(master) == 0);
    char *slave_name = ptsname(master);
    CHECK(slave_name != NULL);
    char out[512];
    snprintf(out, sizeof out, "%s/bot-tty.out", h_dir());
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int s = open(slave_name, O_RDWR);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (s < 0 || o < 0)
            _exit(126);
        dup2(o, 1);
        dup2(s, 2);
        execl(BOT_PATH, "bot", "--scenario", "echo", "--gateway", gw, "--bots", "4",
              "--duration", "2", "--rate", "50", (char *)NULL);
        _exit(127);
    }
    char buf[16384];
    size_t n = 0;
    for (;;) {
        ssize_t k = read(master, buf + n, sizeof buf - 1 - n);
        if (k <= 0)
            break; /* EIO once the bot is gone */
        n += (size_t)k;
        if (n >= sizeof buf - 1)
            break;
    }
    buf[n] = '\0';
    close(master);
    int rc = bot_wait(pid);
    CHECK_EQ(rc, 0);
    int rewrites = 0;
    for (const char *q = buf; (q = strstr(q, "\rbot [")) != NULL; q++)
        rewrites++;
    if (rewrites < 2 || !strstr(buf, "\033[K"))
        DIE("on a terminal the status line should be rewritten in place (\\r ... ESC[K), got "
            "%d rewrites in: %.300s",
            rewrites, buf);
    printf("  status on a terminal: %d rewrites of one line\n", rewrites);
}

/* ------------------------------------------------------------------------------------------ */

/* Local addresses of established connections to 127.0.0.1:port (from ss). */
static int ss_count_from(int port, const char *src_ip)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "ss -tnH state established '( dport = :%d )' 2>/dev/null", port);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    char line[512], want[64];
    snprintf(want, sizeof want, " %s:", src_ip);
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, want) != NULL;
    pclose(f);
    return n;
}

/* A self-signed certificate for "localhost" (openssl CLI) in the test folder. */
static void make_cert(char *cert, char *key, size_t n)
{
    snprintf(cert, n, "%s/cert.pem", h_dir());
    snprintf(key, n, "%s/key.pem", h_dir());
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout '%s' -out '%s' "
             ">/dev/null 2>&1",
             key, cert);
    CHECK(system(cmd) == 0);
}

/* The second gateway listens on all four transports: TCP (the runs above use it) and
 * port[0..2] for tls, ws and wss, with a self-signed certificate for localhost in cert. */
static void add_gateway_all_transports(cluster_t *cl, int port[3], char *cert, size_t n)
{
    char key[512];
    make_cert(cert, key, n < sizeof key ? n : sizeof key);
    static const char *const VARS[3] = {"TLS_LISTEN_ADDR", "WS_LISTEN_ADDR", "WSS_LISTEN_ADDR"};
    char listen[3][64], certv[600], keyv[600];
    for (int i = 0; i < 3; i++) {
        port[i] = h_free_port();
        snprintf(listen[i], sizeof listen[i], "%s=127.0.0.1:%d", VARS[i], port[i]);
    }
    snprintf(certv, sizeof certv, "TLS_CERT_FILE=%s", cert);
    snprintf(keyv, sizeof keyv, "TLS_KEY_FILE=%s", key);
    const char *env[] = {listen[0], listen[1], listen[2], certv, keyv, LU_GW_ENV[0],
                         LU_GW_ENV[1], NULL};
    int g = cl->ngw++;
    cl->gw[g] = h_spawn_gateway(&cl->port[g], env);
    cl->gw_id[g] = lu_server_id(cl->gw[g]);
}

/* Every scenario over tls, ws and wss: a mix of the five through each transport of the
 * second gateway. tls verifies the certificate (its CA file, the name localhost); wss runs
 * with --insecure. */
static void check_transports(const int port[3], const char *cert, const char *prefix)
{
    static const char *const NAMES[3] = {"tls", "ws", "wss"};
    for (int i = 0; i < 3; i++) {
        bot_run_t r;
        char gw[64], pfx[40], name[16];
        snprintf(gw, sizeof gw, "127.0.0.1:%d", port[i]);
        snprintf(pfx, sizeof pfx, "%s%s", prefix, NAMES[i]);
        snprintf(name, sizeof name, "mix-%s", NAMES[i]);
        const char *args[24] = {"--scenario", "mix", "--mix", "echo=4,login=2,lobby=2,match=2,idle=2",
                                "--gateway", gw, "--transport", NAMES[i], "--bots", "24",
                                "--duration", "4", "--ping-ms", "500", "--user-prefix", pfx};
        int na = 16;
        if (i == 0) {
            args[na++] = "--ca-file";
            args[na++] = cert;
            args[na++] = "--server-name";
            args[na++] = "localhost";
        } else if (i == 1) {
            args[na++] = "--ws-path"; /* the default, given: the path reaches the request */
            args[na++] = "/";
        } else if (i == 2) {
            args[na++] = "--insecure";
        }
        args[na] = NULL;
        bot_run(&r, name, args, 0);
        const jv_t *j = check_report(&r, "mix", 24);
        CHECK(strcmp(j_must(j, "transport", J_STR)->str, NAMES[i]) == 0);
        CHECK_EQ(j_must(j, "scenarios", J_OBJ)->n, 5);
        CHECK_EQ(j_num(j_must(j, "totals", J_OBJ), "bots_logged_in"), 12);
        CHECK(j_num(j_must(j, "matches", J_OBJ), "completed") >= 1);
        CHECK(per_type(j, "ECHO") != NULL && per_type(j, "PING") != NULL &&
              per_type(j, "QUICK_MATCH") != NULL && per_type(j, "CREATE_ROOM") != NULL);
        char line[64];
        snprintf(line, sizeof line, "transport %s: 24 handshakes\n", NAMES[i]);
        CHECK(file_has(r.out, line));
        printf("  %s: %.0f responses ok, %.0f matches completed\n", NAMES[i],
               j_num(j, "responses_ok"), j_num(j_must(j, "matches", J_OBJ), "completed"));
        bot_done(&r);
    }
    /* verification is real: the certificate is for localhost, not for this name */
    bot_run_t r;
    char gw[64];
    snprintf(gw, sizeof gw, "127.0.0.1:%d", port[0]);
    const char *bad[] = {"--gateway", gw, "--transport", "tls", "--ca-file", cert,
                         "--server-name", "wrong.example", "--bots", "2", "--duration", "1",
                         "--quiet", NULL};
    bot_run(&r, "tls-wrong-name", bad, 1);
    CHECK(file_has(r.out, "transport tls: 0 handshakes, 2 failed (tls_other)"));
    /* --ws-path is the upgrade's request target: the gateway serves / only (404 otherwise),
     * and a path that would break the request line is refused before any connection */
    snprintf(gw, sizeof gw, "127.0.0.1:%d", port[1]);
    const char *path[] = {"--gateway", gw, "--transport", "ws", "--ws-path", "/game",
                          "--bots", "2", "--duration", "1", "--quiet", NULL};
    bot_run(&r, "ws-path", path, 1);
    CHECK(file_has(r.out, "transport ws: 0 handshakes, 2 failed (ws_response)"));
    const char *inject[] = {"--gateway", gw, "--transport", "ws", "--ws-path", "/a b\r\nX: 1",
                            "--bots", "1", "--duration", "1", NULL};
    bot_run(&r, "ws-path-bad", inject, 1);
    CHECK(file_has(r.err, "--ws-path must be"));
}

int main(void)
{
    h_init("bot");
    uint64_t t_start = h_now_ms();
    h_pg_start();
    cluster_t cl;
    lu_cluster_init(&cl, "bot");
    static const char *const GAME_ENV[] = {"MATCH_TIME_LIMIT_MS=1500", NULL};
    /* HASH_OPSLIMIT=1 HASH_MEMLIMIT_KIB=8192; room for every bot's login in the hashing queue:
     * at the default (8 per hashing thread, one thread on 2 cores) a bot that met BUSY and backed
     * off could find the queue full again for the whole run while the others kept it busy */
    static const char *const lobby_env[] = {"HASH_INFLIGHT=32", NULL};
    lu_add_lobby(&cl, lobby_env);
    lu_add_game(&cl, GAME_ENV);
    lu_add_game(&cl, GAME_ENV);
    lu_add_gateway(&cl);
    int xport_port[3];
    char cert[512];
    add_gateway_all_transports(&cl, xport_port, cert, sizeof cert);
    lu_wait_links(&cl);
    char gw1[64], gw2[64], both[140];
    snprintf(gw1, sizeof gw1, "127.0.0.1:%d", cl.port[0]);
    snprintf(gw2, sizeof gw2, "127.0.0.1:%d", cl.port[1]);
    snprintf(both, sizeof both, "%s,%s", gw1, gw2);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "b%d_", (int)(getpid() % 100000));
    printf("cluster up in %llu ms\n", (unsigned long long)(h_now_ms() - t_start));

    check_help();

    /* echo: 20 bots for 2 s, spread over both gateways (given as a repeated flag) */
    {
        int closed0 = h_log_count(cl.gw[0], "event=client_closed");
        int closed1 = h_log_count(cl.gw[1], "event=client_closed");
        bot_run_t r;
        const char *args[] = {"--scenario", "echo", "--gateway", gw1, "--gateway", gw2, "--bots",
                              "20", "--duration", "2", "--pipeline", "2", "--payload", "64",
                              NULL};
        bot_run(&r, "echo", args, 0);
        const jv_t *j = check_report(&r, "echo", 20);
        CHECK(strcmp(j_must(j, "gateway", J_STR)->str, both) == 0);
        const jv_t *gws = j_must(j, "gateways", J_ARR);
        CHECK_EQ(gws->n, 2);
        for (int i = 0; i < 2; i++) {
            CHECK_EQ(j_num(gws->items[i], "bots"), 10);
            CHECK_EQ(j_num(gws->items[i], "connected"), 10);
        }
        const jv_t *echo = per_type(j, "ECHO");
        CHECK(echo != NULL);
        CHECK(j_num(echo, "ok") > 1000);
        CHECK_EQ(j_num(echo, "sent"), j_num(j, "requests_sent"));
        CHECK(j_must(j, "echo_targets", J_ARR)->n == 2); /* both game daemons answered */
        /* each gateway saw its 10 clients (their closes, in its debug log) */
        h_sleep_ms(200);
        int c0 = h_log_count(cl.gw[0], "event=client_closed") - closed0;
        int c1 = h_log_count(cl.gw[1], "event=client_closed") - closed1;
        printf("  gateway logs: %d and %d client connections closed\n", c0, c1);
        CHECK_EQ(c0, 10);
        CHECK_EQ(c1, 10);
        /* the status line: stderr is a file here, so one plain line per second */
        int lines = h_file_count(r.err, "bot [", NULL);
        size_t len;
        char *err = file_read(r.err, &len);
        CHECK(strchr(err, '\r') == NULL);
        double last = 0;
        int seen = 0;
        for (const char *q = err; (q = strstr(q, "bot [")) != NULL; q++) {
            double t = strtod(q + 5, NULL);
            CHECK(strstr(q, "connected ") != NULL && strstr(q, "req/s") != NULL &&
                  strstr(q, "p99 ") != NULL && strstr(q, "errors ") != NULL);
            if (seen && (t - last < 0.8 || t - last > 1.3))
                DIE("status lines %.1f s apart", t - last);
            last = t;
            seen++;
        }
        free(err);
        printf("  status lines (not a terminal): %d\n", lines);
        CHECK(lines >= 2 && lines <= 4);
        bot_done(&r);
    }

    check_status_tty(gw1);

    /* --count: stops after that many requests, well before --duration */
    {
        bot_run_t r;
        const char *args[] = {"--scenario", "echo", "--gateway", gw1, "--bots", "5",
                              "--count", "300", "--duration", "30", "--quiet", NULL};
        uint64_t t0 = h_now_ms();
        bot_run(&r, "count", args, 0);
        CHECK(h_now_ms() - t0 < 10000);
        const jv_t *j = check_report(&r, "echo", 5);
        CHECK_EQ(j_num(j, "requests_sent"), 300);
        CHECK_EQ(j_num(j, "responses_ok"), 300);
        CHECK(j_must(j, "count_reached", J_BOOL)->b);
        CHECK(h_file_count(r.err, "bot [", NULL) == 0); /* --quiet */
        bot_done(&r);
    }

    /* login: 10 bots register, then LOGIN / LOGOUT over and over for 6 s (3 s was too short on
     * a loaded 2-core machine: the last bot still got BUSY at the end, 2 runs in 3) */
    {
        bot_run_t r;
        char pfx[40];
        snprintf(pfx, sizeof pfx, "%sl", prefix);
        const char *args[] = {"--scenario", "login", "--gateway", gw1, "--bots", "10",
                              "--duration", "6", "--user-prefix", pfx, NULL};
        bot_run(&r, "login", args, 0);
        const jv_t *j = check_report(&r, "login", 10);
        const jv_t *tot = j_must(j, "totals", J_OBJ);
        CHECK_EQ(j_num(tot, "bots_logged_in"), 10);
        CHECK_EQ(j_num(tot, "registrations"), 10);
        double logins = j_num(tot, "logins"), logouts = j_num(tot, "logouts");
        CHECK(logins >= 20); /* every bot logged in more than once */
        CHECK(logouts >= logins - 10 && logouts <= logins);
        CHECK(j_num(tot, "login_rate") > 0);
        const jv_t *lg = per_type(j, "LOGIN"), *lo = per_type(j, "LOGOUT");
        CHECK(lg != NULL && lo != NULL && per_type(j, "REGISTER") != NULL);
        CHECK_EQ(j_num(lg, "ok"), logins);
        /* only BUSY may be refused (expected), nothing else */
        const jv_t *by = j_must(j, "expected_errors_by_code", J_OBJ);
        for (int i = 0; i < by->n; i++)
            if (strcmp(by->keys[i], "BUSY") != 0 && strcmp(by->keys[i], "USERNAME_TAKEN") != 0)
                DIE("login: unexpected expected-error code %s", by->keys[i]);
        printf("  login: %.0f logins (%.1f/s), LOGIN p50 %.3f ms p99 %.3f ms, BUSY %.0f\n",
               logins, j_num(tot, "login_rate"), j_num(j_must(lg, "latency_ms", J_OBJ), "p50"),
               j_num(j_must(lg, "latency_ms", J_OBJ), "p99"), j_num(j, "expected_errors"));
        bot_done(&r);
    }

    /* idle: 50 connections for 2 s, PING every 300 ms and nothing else */
    {
        bot_run_t r;
        const char *args[] = {"--scenario", "idle", "--gateway", both, "--bots", "50",
                              "--duration", "2", "--ping-ms", "300", NULL};
        bot_run(&r, "idle", args, 0);
        const jv_t *j = check_report(&r, "idle", 50);
        const jv_t *pt = j_must(j, "per_type", J_OBJ);
        CHECK_EQ(pt->n, 1); /* PING only */
        const jv_t *ping = per_type(j, "PING");
        CHECK(ping != NULL);
        /* ~50 bots x 2 s / 0.3 s */
        CHECK(j_num(ping, "ok") >= 200 && j_num(ping, "ok") <= 450);
        const jv_t *idle = j_must(j, "idle", J_OBJ);
        CHECK_EQ(j_num(idle, "ping_ms"), 300);
        CHECK_EQ(j_num(idle, "pings_ok"), j_num(ping, "ok"));
        check_latency("idle.ping_latency_ms", j_must(idle, "ping_latency_ms", J_OBJ));
        const jv_t *tl = j_must(j, "timeline", J_ARR);
        for (int i = 0; i < tl->n; i++)
            CHECK_EQ(j_num(tl->items[i], "connected"), 50);
        CHECK(file_has(r.out, "connected over time"));
        bot_done(&r);
    }

    /* mix: every scenario at once, 24 bots split 4:2:2:2:2 */
    {
        bot_run_t r;
        char pfx[40];
        snprintf(pfx, sizeof pfx, "%sm", prefix);
        const char *args[] = {"--scenario", "mix", "--mix", "echo=4,login=2,lobby=2,match=2,idle=2",
                              "--gateway", both, "--bots", "24", "--duration", "4",
                              "--ping-ms", "500", "--user-prefix", pfx, "--seed", "7", NULL};
        bot_run(&r, "mix", args, 0);
        const jv_t *j = check_report(&r, "mix", 24);
        const jv_t *sc = j_must(j, "scenarios", J_OBJ);
        CHECK_EQ(sc->n, 5);
        CHECK_EQ(j_num(j_must(sc, "echo", J_OBJ), "bots"), 8);
        static const char *const FOUR[] = {"login", "lobby", "match", "idle"};
        for (int i = 0; i < 4; i++)
            CHECK_EQ(j_num(j_must(sc, FOUR[i], J_OBJ), "bots"), 4);
        static const char *const TYPES[] = {"ECHO", "REGISTER", "LOGIN", "LOGOUT", "PING",
                                            "QUICK_MATCH", "CREATE_ROOM"};
        for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
            if (!per_type(j, TYPES[i]))
                DIE("mix: no %s requests", TYPES[i]);
        const jv_t *tot = j_must(j, "totals", J_OBJ);
        CHECK_EQ(j_num(tot, "bots_logged_in"), 12); /* login + lobby + match bots */
        CHECK(j_num(j_must(j, "matches", J_OBJ), "completed") >= 1);
        CHECK(file_has(r.out, "bots per scenario"));
        bot_done(&r);
    }

    check_transports(xport_port, cert, prefix);

    /* --source-addrs: a bad range is refused; good ones spread the connections' sources */
    {
        bot_run_t r;
        const char *bad[] = {"--gateway", gw1, "--source-addrs", "127.0.0.9-127.0.0.2", NULL};
        bot_run(&r, "source-bad", bad, 1);
        CHECK(h_file_count(r.err, "--source-addrs", NULL) >= 1);
        const char *args[] = {"--scenario", "idle", "--gateway", gw1, "--bots", "8",
                              "--duration", "3", "--source-addrs", "127.0.0.2,127.0.0.3", NULL};
        pid_t pid = bot_spawn(&r, "source", args);
        h_sleep_ms(1500);
        int from2 = ss_count_from(cl.port[0], "127.0.0.2");
        int from3 = ss_count_from(cl.port[0], "127.0.0.3");
        int rc = bot_wait(pid);
        CHECK_EQ(rc, 0);
        printf("  source-addrs: the gateway sees %d connections from 127.0.0.2 and %d from "
               "127.0.0.3\n",
               from2, from3);
        CHECK_EQ(from2, 4);
        CHECK_EQ(from3, 4);
    }

    lu_cluster_down(&cl);
    h_pg_stop();
    printf("bot: passed in %llu ms\n", (unsigned long long)(h_now_ms() - t_start));
    return 0;
}
